/* The application layer of one flow: finds out which mail protocol it
 * carries (by port, then by the server's greeting) and runs that protocol's
 * parser over both directions' slices.
 *
 * The worker creates an sl_app for a TCP flow when it first carries payload
 * and hands it every slice from reassembly.  The app reports everything it
 * learns through the sl_mail_ops hooks (engine/core/mail.h).
 *
 * Detection: implicit-TLS ports note SL_NOTE_TLS at the first slice and
 * stop.  Otherwise the server's first line decides (SMTP "220", IMAP
 * "* OK" / "* PREAUTH" / "* BYE", POP3 "+OK"); it wins over the port when
 * they disagree.  A mail port whose server says something else is not mail
 * (mail.not_mail); other ports are probed only with detect_by_content.
 * Client bytes before the greeting wait for it (up to 64 KiB; then the
 * port's protocol is assumed, or the flow is not mail).  A flow picked up
 * mid-stream (first server byte at offset > 0) gets its port's protocol.
 *
 * What the worker must do - the two directions depend on each other:
 *
 *  1. Re-offer.  A parser may consume 0 bytes of a direction because it
 *     needs the other one first (client DATA body before the server's 354,
 *     an IMAP synchronizing literal before "+", a reply whose command has
 *     not been parsed yet).  So after delivering to direction d, if that
 *     delivery consumed bytes and direction !d holds unconsumed bytes,
 *     offer !d again (same bytes, newest packet); keep alternating while
 *     a delivery consumes something (sl_tcp_reoffer() in reassembly/tcp.h;
 *     the worker's loop after sl_tcp_segment()).  Waits are
 *     bounded: a direction never holds more than 64 KiB for this reason
 *     (past it the parser decides alone, mail.wait_bound).
 *  2. EOF is final, as reassembly/tcp.h says: the slice with SL_SLICE_EOF
 *     is a direction's last call, so parsers decide every wait of that
 *     direction there (a client's FIN before the server's 354 still gets
 *     its body inspected).  pkt may be NULL at the flow-end flush.
 *  3. sl_app_free() ends every transaction still open (abort or done).
 *  4. STOP from a direction is final for that direction; after TLS or
 *     not-mail both directions answer STOP. */
#ifndef SL_APP_H
#define SL_APP_H

#include <stdbool.h>
#include <stddef.h>
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
/* cfg is copied (it need not outlive the app).  NULL on allocation failure. */
struct sl_app *sl_app_new(const struct sl_app_config *cfg, const struct sl_mail_ops *ops,
			  void *flow, struct sl_counters *ctr, uint16_t server_port);
/* Ends (abort or done) every transaction still open, then frees. */
void sl_app_free(struct sl_app *app);
/* What one app allocates at most, whichever protocol it finds: the app and
 * the largest parser's state (for the worker's memory accounting).  Not
 * included: buffers that grow with the traffic (an SMTP envelope record,
 * IMAP COMPRESS's zlib state and window). */
size_t sl_app_state_size(void);
/* The stream consumer (sl_stream_fn shape, with the app as 'u'); s->dir
 * says which direction.  See the worker's duties above. */
struct sl_consume sl_app_consume(void *app, const struct sl_slice *s);
enum sl_proto sl_app_proto(const struct sl_app *app);

#endif
