#include "app.h"

#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "imap.h"
#include "mailctx.h"
#include "pop3.h"
#include "smtp.h"

/* The protocol plug-ins.  Nothing outside this table names a protocol. */
static const struct sl_proto_ops *const registry[] = {
	&sl_smtp_ops,
	&sl_imap_ops,
	&sl_pop3_ops,
};
#define N_REG (sizeof(registry) / sizeof(registry[0]))

enum app_state {
	APP_DETECT,			/* waiting for the server's greeting */
	APP_RUN,
	APP_STOP,			/* TLS or not mail: every slice gets STOP */
};

struct sl_app {
	struct sl_mail_ctx ctx;
	const struct sl_proto_ops *port_guess;	/* NULL: not a mail port */
	const struct sl_proto_ops *proto;	/* the running plug-in */
	void *st;
	uint8_t state;			/* enum app_state */
	bool by_content;		/* detect_by_content */
	bool implicit_tls;
	bool client_waited;		/* client bytes came before the greeting */
	bool parsed[2];			/* the parser has seen this direction */
	enum sl_proto tls_proto;
};

void sl_app_config_default(struct sl_app_config *c)
{
	static const uint16_t smtp[] = { 25, 587, 2525 }, tls[] = { 465, 993, 995 };

	memset(c, 0, sizeof(*c));
	memcpy(c->smtp_ports, smtp, sizeof(smtp));
	c->imap_ports[0] = 143;
	c->pop3_ports[0] = 110;
	memcpy(c->tls_ports, tls, sizeof(tls));
	c->detect_by_content = true;
	c->max_line = 4096;
	c->max_message = 64ull << 20;
}

enum sl_proto sl_app_port_proto(const struct sl_app_config *c, uint16_t server_port,
				bool *implicit_tls)
{
	enum sl_proto p = SL_PROTO_UNKNOWN;

	*implicit_tls = sl_detect_tls_port(c, server_port, &p);
	if (*implicit_tls)
		return p;
	const struct sl_proto_ops *o = sl_detect_port(registry, N_REG, c, server_port);
	return o ? o->id : SL_PROTO_UNKNOWN;
}

struct sl_app *sl_app_new(const struct sl_app_config *cfg, const struct sl_mail_ops *ops,
			  void *flow, struct sl_counters *ctr, uint16_t server_port)
{
	struct sl_app *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->ctx.ops = ops;
	a->ctx.flow = flow;
	a->ctx.ctr = ctr;
	/* A line bound below the RFC 5321 command length would reject legal
	 * traffic; 0 means the default. */
	a->ctx.max_line = cfg->max_line ? (cfg->max_line < 512 ? 512 : cfg->max_line) : 4096;
	a->ctx.max_message = cfg->max_message;
	a->by_content = cfg->detect_by_content;
	a->implicit_tls = sl_detect_tls_port(cfg, server_port, &a->tls_proto);
	if (!a->implicit_tls)
		a->port_guess = sl_detect_port(registry, N_REG, cfg, server_port);
	return a;
}

size_t sl_app_state_size(void)
{
	size_t max = 0;

	for (size_t i = 0; i < N_REG; i++)
		if (registry[i]->state_size > max)
			max = registry[i]->state_size;
	return sizeof(struct sl_app) + max;
}

void sl_app_free(struct sl_app *app)
{
	if (!app)
		return;
	if (app->st)
		app->proto->destroy(app->st);
	free(app);
}

enum sl_proto sl_app_proto(const struct sl_app *app)
{
	return app->ctx.proto;
}

static struct sl_consume stop(void)
{
	return (struct sl_consume){ SL_CONSUME_STOP, 0 };
}

static struct sl_consume not_mail(struct sl_app *a, const struct sl_slice *s)
{
	if (a->port_guess)
		a->ctx.ops->anomaly(a->ctx.flow, NULL, SL_ANOM_MAIL_NOT_MAIL, s->pkt,
				    a->port_guess->name);
	sl_ctr_inc(a->ctx.ctr, SL_CTR_MAIL_NOT_MAIL);
	a->ctx.proto = SL_PROTO_UNKNOWN;
	sl_mctx_note(&a->ctx, SL_NOTE_NOT_MAIL, s->pkt);
	a->state = APP_STOP;
	return stop();
}

/* Hands a slice to the parser.  A direction whose first byte it sees is
 * not the stream's first (picked up mid-stream) starts with a gap, so the
 * parser resyncs at the next line. */
static struct sl_consume parse(struct sl_app *a, const struct sl_slice *s)
{
	if (a->parsed[s->dir] || (s->offset == 0 && !(s->flags & SL_SLICE_MIDSTREAM)) ||
	    (s->flags & SL_SLICE_GAP)) {
		a->parsed[s->dir] = true;
		return a->proto->parse(a->st, s);
	}
	struct sl_slice g = *s;

	a->parsed[s->dir] = true;
	g.flags |= SL_SLICE_GAP;
	g.gap_len = s->offset ? s->offset : 1;	/* midstream: an unknown amount before */
	return a->proto->parse(a->st, &g);
}

static struct sl_consume run(struct sl_app *a, const struct sl_proto_ops *o, bool midstream,
			     const struct sl_slice *s)
{
	a->st = o->create(&a->ctx, midstream);
	if (!a->st)
		return not_mail(a, s);	/* no memory: let the flow pass uninspected */
	a->proto = o;
	a->ctx.proto = o->id;
	a->state = APP_RUN;
	sl_ctr_inc(a->ctx.ctr, SL_CTR_MAIL_FLOWS);
	sl_ctr_inc(a->ctx.ctr, o == a->port_guess ? SL_CTR_MAIL_BY_PORT : SL_CTR_MAIL_BY_CONTENT);
	sl_mctx_note(&a->ctx, SL_NOTE_DETECTED, s->pkt);
	if (a->client_waited && !midstream)
		sl_mctx_anomaly(&a->ctx, NULL, SL_ANOM_MAIL_CLIENT_FIRST, s->pkt, NULL);
	return parse(a, s);
}

/* The server's first bytes decide; the client's wait for them (bounded):
 * mail servers speak first, and a client-first protocol (HTTP...) gets its
 * answer from the server, which then is no greeting. */
static struct sl_consume detect(struct sl_app *a, const struct sl_slice *s)
{
	bool final = sl_slice_is_last(s);	/* no call follows */

	/* A flow that ends before any byte is neither mail nor not mail:
	 * nothing to report (a port scan, a refused connection). */
	if (s->len == 0 && (s->flags & SL_SLICE_EOF) && s->offset == 0 && !a->client_waited) {
		a->state = APP_STOP;
		return stop();
	}

	if (s->dir == SL_TO_SERVER) {
		if (s->len == 0)
			return (struct sl_consume){ SL_CONSUME_OK, 0 };
		/* On a port that is not a mail port, a client that speaks first
		 * is not speaking SMTP, IMAP or POP3: all three wait for the
		 * server.  Waiting for a greeting there would hold the client's
		 * bytes (inline: its packets) for a server that is itself
		 * waiting for them (HTTP, TLS, iperf3...) until the hold
		 * deadline.  On a mail port an early talker is still mail. */
		if (!a->port_guess)
			return not_mail(a, s);
		if (s->len < SL_MAIL_WAIT_BOUND && !final) {
			a->client_waited = true;
			return (struct sl_consume){ SL_CONSUME_OK, 0 };
		}
		/* No greeting for too long: trust the port. */
		a->client_waited = true;
		return run(a, a->port_guess, s->offset != 0 || (s->flags & SL_SLICE_MIDSTREAM), s);
	}
	if (s->offset != 0 || (s->flags & (SL_SLICE_GAP | SL_SLICE_MIDSTREAM))) {
		/* Picked up without the greeting. */
		if (!a->port_guess)
			return not_mail(a, s);
		return run(a, a->port_guess, true, s);
	}
	const struct sl_proto_ops *o = NULL;
	size_t look = s->len < SL_DETECT_PROBE_MAX ? s->len : SL_DETECT_PROBE_MAX;
	enum sl_probe r = sl_detect_greeting(registry, N_REG, s->data, look, &o);

	if (r == SL_PROBE_MORE && look < SL_DETECT_PROBE_MAX && !memchr(s->data, '\n', look) &&
	    !(s->flags & SL_SLICE_EOF))
		return (struct sl_consume){ SL_CONSUME_OK, 0 };
	if (r != SL_PROBE_YES || (!a->port_guess && !a->by_content))
		return not_mail(a, s);
	/* The greeting wins over the port when they disagree. */
	return run(a, o, false, s);
}

struct sl_consume sl_app_consume(void *app, const struct sl_slice *s)
{
	struct sl_app *a = app;

	switch (a->state) {
	case APP_STOP:
		return stop();
	case APP_RUN:
		return parse(a, s);
	default:
		break;
	}
	if (a->implicit_tls) {
		a->ctx.proto = a->tls_proto;
		sl_ctr_inc(a->ctx.ctr, SL_CTR_MAIL_TLS);
		sl_mctx_note(&a->ctx, SL_NOTE_TLS, s->pkt);
		a->state = APP_STOP;
		return stop();
	}
	if (!a->port_guess && !a->by_content)
		return not_mail(a, s);
	return detect(a, s);
}
