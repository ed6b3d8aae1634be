#include "msg.h"

#include <stdlib.h>
#include <string.h>

const char *sl_proto_name(enum sl_proto p)
{
	switch (p) {
	case SL_PROTO_SMTP: return "smtp";
	case SL_PROTO_IMAP: return "imap";
	case SL_PROTO_POP3: return "pop3";
	default: return "unknown";
	}
}

void sl_msg_init(struct sl_msg *m, uint64_t id, enum sl_proto proto, enum sl_dir dir)
{
	memset(m, 0, sizeof(*m));
	m->id = id;
	m->proto = proto;
	m->dir = dir;
	m->refs = 1;
	sl_verdict_init(&m->verdict);
	sl_arena_init(&m->arena, SL_MSG_ARENA_CAP);
}

void sl_msg_release(struct sl_msg *m)
{
	free(m->parts);
	free(m->rcpt);
	free(m->hdr_to);
	m->parts = NULL;
	m->rcpt = m->hdr_to = NULL;
	sl_arena_free(&m->arena);
}

const char *sl_msg_strdup(struct sl_msg *m, const char *s, size_t n)
{
	const char *p = sl_arena_strndup(&m->arena, s, n);

	if (!p)
		m->record_truncated++;
	return p;
}

/* Grows a bounded array of string pointers one at a time in powers of two. */
static void add_str(struct sl_msg *m, const char ***arr, uint16_t *n, const char *s,
		    size_t len)
{
	if (*n >= SL_MSG_MAX_RCPT) {
		m->record_truncated++;
		return;
	}
	if ((*n & (*n - 1)) == 0) {
		unsigned cap = *n ? *n * 2u : 4u;
		const char **na = realloc(*arr, cap * sizeof(*na));
		if (!na) {
			m->record_truncated++;
			return;
		}
		*arr = na;
	}
	const char *p = sl_msg_strdup(m, s, len);
	if (p)
		(*arr)[(*n)++] = p;
}

void sl_msg_add_rcpt(struct sl_msg *m, const char *s, size_t n)
{
	add_str(m, &m->rcpt, &m->n_rcpt, s, n);
}

void sl_msg_add_hdr_to(struct sl_msg *m, const char *s, size_t n)
{
	add_str(m, &m->hdr_to, &m->n_hdr_to, s, n);
}

void sl_msg_add_reply(struct sl_msg *m, const char *cmd, unsigned code)
{
	if (m->n_replies >= SL_MSG_MAX_REPLIES) {
		/* Keep the last reply: for SMTP it is the end-of-data verdict. */
		memmove(&m->replies[0], &m->replies[1],
			sizeof(m->replies[0]) * (SL_MSG_MAX_REPLIES - 1));
		m->n_replies--;
	}
	struct sl_msg_reply *r = &m->replies[m->n_replies++];
	size_t l = strlen(cmd);
	if (l >= sizeof(r->cmd))
		l = sizeof(r->cmd) - 1;
	memcpy(r->cmd, cmd, l);
	r->cmd[l] = '\0';
	r->code = (uint16_t)(code > 999 ? 0 : code);
}

struct sl_msg_part *sl_msg_add_part(struct sl_msg *m)
{
	if (m->n_parts >= SL_MSG_MAX_PARTS) {
		m->parts_dropped++;
		return NULL;
	}
	if ((m->n_parts & (m->n_parts - 1)) == 0) {
		unsigned cap = m->n_parts ? m->n_parts * 2u : 4u;
		struct sl_msg_part *np = realloc(m->parts, cap * sizeof(*np));
		if (!np) {
			m->parts_dropped++;
			return NULL;
		}
		m->parts = np;
	}
	struct sl_msg_part *p = &m->parts[m->n_parts++];
	memset(p, 0, sizeof(*p));
	return p;
}

void sl_msg_ref(struct sl_msg *m)
{
	m->refs++;
}

void sl_msg_unref(struct sl_msg *m)
{
	if (--m->refs == 0 && m->hooks && m->hooks->destroy)
		m->hooks->destroy(m, m->hooks_arg);
}

void sl_msg_pend(struct sl_msg *m)
{
	m->pending++;
	m->refs++;
}

static void maybe_settle(struct sl_msg *m)
{
	if (m->ended && m->pending == 0 && !m->settled_called) {
		m->settled_called = true;	/* exactly once */
		if (m->hooks && m->hooks->settled)
			m->hooks->settled(m, m->hooks_arg);
	}
}

void sl_msg_unpend(struct sl_msg *m)
{
	if (m->pending)
		m->pending--;
	maybe_settle(m);
	sl_msg_unref(m);
}

void sl_msg_mark_ended(struct sl_msg *m)
{
	m->ended = true;
	maybe_settle(m);
}

void sl_msg_anomaly(struct sl_msg *m, enum sl_anomaly a, enum sl_action action,
		    const char *detail)
{
	sl_anomaly_set_add(&m->anomalies, a);
	/* Anomalies that only inform stay in the anomaly list; the verdict
	 * lists what made it worse than pass. */
	if (action > SL_ACTION_PASS)
		sl_verdict_add(&m->verdict, SL_REASON_ANOMALY, action, sl_anomaly_name(a),
			       detail ? detail : sl_anomaly_desc(a), 0);
}
