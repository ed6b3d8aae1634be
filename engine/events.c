/* The shapes of the events a worker writes (schema: docs/events.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hex.h"
#include "worker_priv.h"

static json_t *str_or_null(const char *s)
{
	return s ? sl_eve_str(s) : json_null();
}

static void set_opt(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, sl_eve_str(v));
}

static json_t *ts_string(uint64_t us)
{
	char b[48];

	sl_eve_format_ts(us, b, sizeof(b));
	return json_string(b);
}

static const char *tcp_state_name(const struct sl_flow *f)
{
	if (f->key.proto != 6)
		return "none";
	switch (f->tcp.state) {
	case SL_TCP_SYN_SENT: return "syn_sent";
	case SL_TCP_SYN_RECV: return "syn_recv";
	case SL_TCP_ESTABLISHED: return "established";
	case SL_TCP_FIN_WAIT: return "fin_wait";
	case SL_TCP_CLOSED: return "closed";
	default: return "new";
	}
}

void sl_event_flow(struct sl_worker *w, const struct sl_flow *f)
{
	struct sl_flow_app_info ai;
	json_t *ev = sl_eve_begin(w->eve, "flow", f->last_us, f, SL_TO_SERVER, f->last_pkt);
	json_t *fl = json_object();

	sl_flow_app_info(f, &ai);
	if (ai.proto != SL_PROTO_UNKNOWN)
		json_object_set_new(ev, "app_proto", json_string(sl_proto_name(ai.proto)));
	json_object_set_new(fl, "pkts_toserver", json_integer((json_int_t)f->pkts[SL_TO_SERVER]));
	json_object_set_new(fl, "pkts_toclient", json_integer((json_int_t)f->pkts[SL_TO_CLIENT]));
	json_object_set_new(fl, "bytes_toserver", json_integer((json_int_t)f->bytes[SL_TO_SERVER]));
	json_object_set_new(fl, "bytes_toclient", json_integer((json_int_t)f->bytes[SL_TO_CLIENT]));
	json_object_set_new(fl, "start", ts_string(f->first_us));
	json_object_set_new(fl, "end", ts_string(f->last_us));
	json_object_set_new(fl, "first_packet", json_integer((json_int_t)f->first_pkt));
	json_object_set_new(fl, "last_packet", json_integer((json_int_t)f->last_pkt));
	json_object_set_new(fl, "reason", json_string(sl_flow_end_name((enum sl_flow_end)f->end)));
	json_object_set_new(fl, "state", json_string(tcp_state_name(f)));
	json_object_set_new(fl, "midstream", json_boolean(f->flags & SL_FLOWF_MIDSTREAM));
	if (ai.tls)
		json_object_set_new(fl, "tls", json_true());
	if (ai.compress)
		json_object_set_new(fl, "compress", json_true());
	if (f->flags & SL_FLOWF_BYPASS)
		json_object_set_new(fl, "bypassed", json_string(ai.tls ? "tls" : "not_mail"));
	json_object_set_new(ev, "flow", fl);
	json_object_set_new(ev, "anomalies", sl_eve_anomaly_list(&f->anomalies));
	sl_eve_emit(w->eve, ev);
}

void sl_event_anomaly(struct sl_worker *w, const struct sl_flow *f, enum sl_dir dir,
		      enum sl_anomaly a, uint64_t packet, uint64_t ts_us, const char *detail,
		      uint64_t msg_id)
{
	char layer[16];
	json_t *ev = sl_eve_begin(w->eve, "anomaly", ts_us, f, dir, packet);
	json_t *an = json_object();

	json_object_set_new(an, "layer", json_string(sl_anomaly_layer(a, layer, sizeof(layer))));
	json_object_set_new(an, "name", json_string(sl_anomaly_name(a)));
	json_object_set_new(an, "description", json_string(sl_anomaly_desc(a)));
	if (detail)
		json_object_set_new(an, "detail", sl_eve_str(detail));
	json_object_set_new(ev, "anomaly", an);
	if (msg_id)
		json_object_set_new(ev, "message_id", json_integer((json_int_t)msg_id));
	sl_eve_emit(w->eve, ev);
}

static json_t *sha_hex(const uint8_t h[32])
{
	char b[65];

	return json_string(sl_hex(h, 32, b));
}

static json_t *str_array(const char *const *v, unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, sl_eve_str(v[i]));
	return a;
}

static json_t *part_json(const struct sl_msg_part *p)
{
	json_t *o = json_object();

	json_object_set_new(o, "part", json_integer(p->id));
	static const char *const kinds[] = { "body", "preamble", "epilogue", "uuencode" };
	if (p->reading)
		json_object_set_new(o, "reading", json_integer(p->reading));
	if (p->kind && p->kind < 4)
		json_object_set_new(o, "kind", json_string(kinds[p->kind]));
	json_object_set_new(o, "filename", str_or_null(p->filename));
	json_object_set_new(o, "content_type", str_or_null(p->content_type));
	set_opt(o, "encoding", p->encoding);
	json_object_set_new(o, "size", json_integer((json_int_t)p->size));
	json_object_set_new(o, "sha256", sha_hex(p->sha256));
	if (p->raw_fallback)
		json_object_set_new(o, "raw_fallback", json_true());
	return o;
}

static json_t *verdict_json(const struct sl_verdict *v)
{
	json_t *o = json_object(), *rs = json_array();

	json_object_set_new(o, "action", json_string(sl_action_name(v->action)));
	for (unsigned i = 0; i < v->n; i++) {
		const struct sl_reason *r = &v->r[i];
		json_t *j = json_object();
		json_object_set_new(j, "kind", json_string(sl_reason_kind_name(r->kind)));
		json_object_set_new(j, "id", sl_eve_str(r->id));
		json_object_set_new(j, "action", json_string(sl_action_name(r->action)));
		if (r->text[0])
			json_object_set_new(j, "text", sl_eve_str(r->text));
		if (r->object)
			json_object_set_new(j, "part", json_integer(r->object));
		json_array_append_new(rs, j);
	}
	json_object_set_new(o, "reasons", rs);
	if (v->dropped)
		json_object_set_new(o, "reasons_dropped", json_integer(v->dropped));
	return o;
}

/* The message event, built but not written (the quarantine keeps a copy). */
static json_t *message_json(struct sl_worker *w, const struct sl_msg_origin *o,
			    const struct sl_msg *m)
{
	uint64_t pkt = m->final_packet ? m->final_packet : m->first_packet;
	json_t *ev = sl_eve_begin(w->eve, "message", o->ts_us, &o->flow, SL_TO_SERVER, pkt);
	json_t *x;

	json_object_set_new(ev, "app_proto", json_string(sl_proto_name(m->proto)));
	json_object_set_new(ev, "direction", json_string(sl_dir_name(m->dir)));
	json_object_set_new(ev, "message_id", json_integer((json_int_t)m->id));
	json_object_set_new(ev, "complete", json_boolean(m->complete));
	if (m->abort_reason)
		json_object_set_new(ev, "abort_reason", sl_eve_str(m->abort_reason));
	json_object_set_new(ev, "first_packet", json_integer((json_int_t)m->first_packet));
	json_object_set_new(ev, "final_packet", m->final_packet ?
			    json_integer((json_int_t)m->final_packet) : json_null());

	switch (m->proto) {
	case SL_PROTO_SMTP:
		x = json_object();
		json_object_set_new(x, "helo", str_or_null(m->helo));
		json_object_set_new(x, "mail_from", str_or_null(m->mail_from));
		set_opt(x, "mail_params", m->mail_params);
		json_object_set_new(x, "rcpt_to", str_array(m->rcpt, m->n_rcpt));
		json_object_set_new(x, "auth_user", str_or_null(m->auth_user));
		json_t *rep = json_array();
		for (unsigned i = 0; i < m->n_replies; i++) {
			json_t *r = json_object();
			json_object_set_new(r, "command", json_string(m->replies[i].cmd));
			json_object_set_new(r, "code", json_integer(m->replies[i].code));
			json_array_append_new(rep, r);
		}
		json_object_set_new(x, "replies", rep);
		json_object_set_new(ev, "smtp", x);
		break;
	case SL_PROTO_IMAP:
		x = json_object();
		json_object_set_new(x, "command", str_or_null(m->imap_command));
		json_object_set_new(x, "uid", str_or_null(m->imap_uid));
		json_object_set_new(x, "mailbox", str_or_null(m->imap_mailbox));
		set_opt(x, "section", m->imap_section);
		json_object_set_new(ev, "imap", x);
		break;
	case SL_PROTO_POP3:
		x = json_object();
		json_object_set_new(x, "command", str_or_null(m->pop3_command));
		json_object_set_new(ev, "pop3", x);
		break;
	default:
		break;
	}

	x = json_object();
	json_object_set_new(x, "from", str_or_null(m->hdr_from));
	json_object_set_new(x, "to", str_array(m->hdr_to, m->n_hdr_to));
	json_object_set_new(x, "subject", str_or_null(m->subject));
	json_object_set_new(x, "message_id", str_or_null(m->message_id));
	set_opt(x, "date", m->date);
	json_object_set_new(x, "size", json_integer((json_int_t)m->raw_size));
	json_object_set_new(x, "sha256", sha_hex(m->raw_sha256));
	json_object_set_new(ev, "email", x);

	json_t *att = json_array(), *parts = json_array();
	for (unsigned i = 0; i < m->n_parts; i++) {
		/* An attachment's object is built once and listed in both. */
		json_t *pj = part_json(&m->parts[i]);
		if (m->parts[i].attachment)
			json_array_append(att, pj);
		json_array_append_new(parts, pj);
	}
	json_object_set_new(ev, "attachments", att);
	json_object_set_new(ev, "parts", parts);
	if (m->parts_dropped)
		json_object_set_new(ev, "parts_dropped", json_integer(m->parts_dropped));
	json_object_set_new(ev, "anomalies", sl_eve_anomaly_list(&m->anomalies));
	json_object_set_new(ev, "verdict", verdict_json(&m->verdict));
	if (m->record_truncated)
		json_object_set_new(ev, "record_truncated", json_integer(m->record_truncated));
	return ev;
}

void sl_event_message(struct sl_worker *w, const struct sl_msg_origin *o, const struct sl_msg *m)
{
	sl_eve_emit(w->eve, message_json(w, o, m));
}

/* Copies src to dst (the spool and the quarantine on different file
 * systems: no hard link).  0 or -1. */
static int copy_file(const char *src, const char *dst)
{
	FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wbx") : NULL;
	char buf[65536];
	size_t n;
	int rc = in && out ? 0 : -1;

	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in && ferror(in))
		rc = -1;
	if (out && fclose(out) != 0)
		rc = -1;
	if (in)
		fclose(in);
	if (rc != 0 && out)
		unlink(dst);
	return rc;
}

void sl_quarantine(struct sl_worker *w, const struct sl_msg_origin *o, const struct sl_msg *m,
		   const char *spool)
{
	char path[4096], hx[65];
	const char *dir = w->cfg.quarantine_dir;

	sl_hex(m->raw_sha256, 32, hx);
	snprintf(path, sizeof(path), "%s/%s.eml", dir, hx);
	/* The same bytes blocked twice are kept once. */
	if (spool && access(path, F_OK) != 0 && link(spool, path) != 0 &&
	    copy_file(spool, path) != 0)
		sl_log(SL_LOG_WARN, "quarantine: cannot write %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s.json", dir, hx);
	json_t *ev = message_json(w, o, m);
	if (json_dump_file(ev, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
		sl_log(SL_LOG_WARN, "quarantine: cannot write %s", path);
	json_decref(ev);
}

void sl_event_alerts(struct sl_worker *w, const struct sl_msg_origin *o, const struct sl_msg *m)
{
	for (unsigned i = 0; i < m->verdict.n; i++) {
		const struct sl_reason *r = &m->verdict.r[i];
		if (r->action < SL_ACTION_ALERT)
			continue;
		uint64_t pkt = m->final_packet ? m->final_packet : m->first_packet;
		json_t *ev = sl_eve_begin(w->eve, "alert", o->ts_us, &o->flow, SL_TO_SERVER, pkt);
		json_t *a = json_object();
		json_object_set_new(a, "action", json_string(sl_action_name(r->action)));
		json_object_set_new(a, "kind", json_string(sl_reason_kind_name(r->kind)));
		json_object_set_new(a, "id", sl_eve_str(r->id));
		if (r->text[0])
			json_object_set_new(a, "text", sl_eve_str(r->text));
		if (r->object)
			json_object_set_new(a, "part", json_integer(r->object));
		json_object_set_new(ev, "app_proto", json_string(sl_proto_name(m->proto)));
		json_object_set_new(ev, "direction", json_string(sl_dir_name(m->dir)));
		json_object_set_new(ev, "message_id", json_integer((json_int_t)m->id));
		json_object_set_new(ev, "alert", a);
		sl_eve_emit(w->eve, ev);
		w->totals.alerts++;
	}
}

void sl_extract_index(struct sl_worker *w, const struct sl_msg_origin *o, const struct sl_msg *m)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/index.jsonl", w->cfg.extract_dir);
	f = fopen(path, "a");
	if (!f)
		return;
	json_t *j = json_object(), *parts = json_array();
	char hx[65], eml[80];
	snprintf(eml, sizeof(eml), "%s.eml", sl_hex(m->raw_sha256, 32, hx));
	json_object_set_new(j, "message_id", json_integer((json_int_t)m->id));
	json_object_set_new(j, "flow_id", json_integer((json_int_t)o->flow.id));
	json_object_set_new(j, "app_proto", json_string(sl_proto_name(m->proto)));
	json_object_set_new(j, "file", json_string(eml));
	json_object_set_new(j, "subject", str_or_null(m->subject));
	json_object_set_new(j, "verdict", json_string(sl_action_name(m->verdict.action)));
	for (unsigned i = 0; i < m->n_parts; i++) {
		json_t *p = part_json(&m->parts[i]);
		json_object_set(p, "file", json_object_get(p, "sha256"));
		json_array_append_new(parts, p);
	}
	json_object_set_new(j, "parts", parts);
	json_dumpf(j, f, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	json_decref(j);
	fclose(f);
}

void sl_event_inline(struct sl_worker *w, const struct sl_flow *f, enum sl_dir dir,
		     const char *action, const char *reply, const struct sl_verdict *v,
		     uint32_t held_dropped)
{
	json_t *ev = sl_eve_begin(w->eve, "inline", w->now_us, f, SL_TO_SERVER, 0);
	json_t *o = json_object();
	char why[160];

	json_object_set_new(o, "action", json_string(action));
	json_object_set_new(o, "direction", json_string(sl_dir_name(dir)));
	sl_verdict_summary(v, why, sizeof(why));
	json_object_set_new(o, "reason", json_string(why));
	if (reply)
		json_object_set_new(o, "reply", sl_eve_str(reply));
	json_object_set_new(o, "held_dropped", json_integer(held_dropped));
	json_object_set_new(ev, "inline", o);
	json_object_set_new(ev, "verdict", verdict_json(v));
	sl_eve_emit(w->eve, ev);
}
