/* The application layer of one flow: finds out which mail protocol it
 * carries (by port, then by the server's greeting) and runs that protocol's
 * parser over both directions' slices.
 *
 * The worker creates an sl_app for a TCP flow when it first carries payload
 * and hands it every slice from reassembly.  The app reports everything it
 * learns through the sl_mail_ops hooks (engine/core/mail.h). */
#ifndef SL_APP_H
#define SL_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "counters.h"
#include "mail.h"
#include "slice.h"

#define SL_APP_MAX_PORTS 16

struct sl_app_config {
	uint16_t smtp_ports[SL_APP_MAX_PORTS];	/* 0-terminated; default 25, 587, 2525 */
	uint16_t imap_ports[SL_APP_MAX_PORTS];	/* default 143 */
	uint16_t pop3_ports[SL_APP_MAX_PORTS];	/* default 110 */
	uint16_t tls_ports[SL_APP_MAX_PORTS];	/* implicit TLS: 465, 993, 995 */
	bool detect_by_content;		/* probe other ports' greetings (default true) */
	uint32_t max_line;		/* command/reply line bound (default 4096) */
	uint64_t max_message;		/* bytes of one message inspected (default 64 MiB);
					   beyond: the rest is framed but not inspected, and
					   the message is flagged */
};

void sl_app_config_default(struct sl_app_config *c);

/* Which port-based guess a flow gets; server_port is the port of the side the
 * flow table calls the server. */
enum sl_proto sl_app_port_proto(const struct sl_app_config *c, uint16_t server_port,
				bool *implicit_tls);

struct sl_app;
struct sl_app *sl_app_new(const struct sl_app_config *cfg, const struct sl_mail_ops *ops,
			  void *flow, struct sl_counters *ctr, uint16_t server_port);
void sl_app_free(struct sl_app *app);
/* The stream consumer (sl_stream_fn shape, with the app as 'u'). */
struct sl_consume sl_app_consume(void *app, const struct sl_slice *s);
enum sl_proto sl_app_proto(const struct sl_app *app);

#endif
