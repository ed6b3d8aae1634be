#include "message.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "base64.h"
#include "hex.h"
#include "mailaddr.h"
#include "qp.h"
#include "packet.h"

/* Leaf parts decoding at the same time: nesting depth x readings.  MIME
 * closes a part before the next sibling starts, so this only grows with
 * readings of one part; beyond it a part is still decoded but neither hashed
 * nor streamed to sinks - which would be a silent pass, so the message gets
 * mime.too_many_active and the raw object still carries every byte. */
#define MAX_ACTIVE 32

struct obj {
	struct sl_object o;
	uint32_t active;		/* bit i: sink i accepted begin() */
};

struct part_obj {
	bool used;
	struct sl_msg_part rec;		/* the part's record but for size and sha256;
					   strings are message-arena copies */
	struct obj obj;
	EVP_MD_CTX *sha;
	FILE *ext;			/* extraction temp file */
	char *ext_path;
};

/* An IMAP fetch of one body part (BODY[2], BODY[1.TEXT]...) carries the
 * part's body without its headers, so its transfer encoding is unknown:
 * every plausible reading is inspected - as is, base64-decoded and
 * quoted-printable-decoded (a reading that does not apply yields little
 * or nothing).  BINARY[n] is already decoded: one reading. */
enum { SEC_RAW, SEC_B64, SEC_QP, SEC_READINGS };

struct section {
	unsigned readings;
	struct sl_b64 b64;
	struct sl_qp qp;
	uint8_t buf[4096];
};

struct sl_mail_txn {
	struct sl_msg msg;		/* first: sl_txn_of() */
	struct sl_txn_env *env;
	struct sl_mime *mime;
	struct section *sec;		/* body-part section mode, else NULL */
	EVP_MD_CTX *raw_sha;
	struct obj raw;
	struct part_obj parts[MAX_ACTIVE];
	FILE *spool;
	char *spool_path;
	void *owner;
	bool finished;			/* end or abort done */
	struct sl_anomaly_set reported;	/* anomalies already passed to on_anomaly */
};

_Static_assert(offsetof(struct sl_mail_txn, msg) == 0, "msg must be first");

struct sl_msg *sl_txn_msg(struct sl_mail_txn *t) { return &t->msg; }
struct sl_mail_txn *sl_txn_of(struct sl_msg *m) { return (struct sl_mail_txn *)m; }
const char *sl_txn_spool_path(const struct sl_mail_txn *t) { return t->spool_path; }
void sl_txn_set_owner(struct sl_mail_txn *t, void *owner) { t->owner = owner; }
void *sl_txn_owner(const struct sl_mail_txn *t) { return t->owner; }

/* ---- objects: one begin/data/end fan-out to every interested sink ---- */

static void obj_init(struct sl_mail_txn *t, struct obj *ob, enum sl_scope scope)
{
	memset(ob, 0, sizeof(*ob));
	ob->o.scope = scope;
	ob->o.msg = &t->msg;
}

static void obj_begin(struct sl_mail_txn *t, struct obj *ob)
{
	const struct sl_txn_env *env = t->env;

	ob->active = 0;
	for (unsigned i = 0; i < env->n_sinks && i < SL_SINK_MAX; i++) {
		const struct sl_sink *s = &env->sinks[i];
		if (!(s->ops->scopes & (1u << ob->o.scope)))
			continue;
		ob->o.state[i] = NULL;
		if (s->ops->begin(s->self, &ob->o, &ob->o.state[i]) == 0)
			ob->active |= 1u << i;
	}
}

static void obj_data(struct sl_mail_txn *t, struct obj *ob, const uint8_t *p, size_t n)
{
	const struct sl_txn_env *env = t->env;

	ob->o.size += n;
	for (uint32_t a = ob->active; a; a &= a - 1) {
		unsigned i = (unsigned)__builtin_ctz(a);
		env->sinks[i].ops->data(env->sinks[i].self, &ob->o, ob->o.state[i], p, n);
	}
}

static void obj_end(struct sl_mail_txn *t, struct obj *ob)
{
	const struct sl_txn_env *env = t->env;

	for (uint32_t a = ob->active; a; a &= a - 1) {
		unsigned i = (unsigned)__builtin_ctz(a);
		/* A sink that answers PENDING has taken its own pending count. */
		(void)env->sinks[i].ops->end(env->sinks[i].self, &ob->o, ob->o.state[i]);
	}
	ob->active = 0;
}

/* A small object delivered at once: header value, filename, address. */
static void obj_abort(struct sl_mail_txn *t, struct obj *ob)
{
	const struct sl_txn_env *env = t->env;

	for (uint32_t a = ob->active; a; a &= a - 1) {
		unsigned i = (unsigned)__builtin_ctz(a);
		if (env->sinks[i].ops->abort)
			env->sinks[i].ops->abort(env->sinks[i].self, &ob->o, ob->o.state[i]);
	}
	ob->active = 0;
}

static void obj_small(struct sl_mail_txn *t, enum sl_scope scope, const char *name,
		      const char *v, size_t n, uint32_t part)
{
	struct obj ob;

	obj_init(t, &ob, scope);
	ob.o.name = name;
	ob.o.part = part;
	obj_begin(t, &ob);
	if (ob.active) {
		obj_data(t, &ob, (const uint8_t *)v, n);
		obj_end(t, &ob);
	}
}

/* ---- anomalies ---- */

/* The policy's action for a, or the table's default without a policy. */
static enum sl_action anomaly_action(const struct sl_txn_env *env, enum sl_anomaly a)
{
	return env->anomaly_action ? env->anomaly_action[a] : sl_anomaly_default_action(a);
}

void sl_txn_anomaly(struct sl_mail_txn *t, enum sl_anomaly a, const char *detail)
{
	const struct sl_txn_env *env = t->env;

	sl_msg_anomaly(&t->msg, a, anomaly_action(env, a), detail);
	if (!sl_anomaly_set_has(&t->reported, a)) {
		sl_anomaly_set_add(&t->reported, a);
		if (env->on_anomaly)
			env->on_anomaly(env->on_anomaly_u, t, a, detail);
	}
}

/* ---- spool and extraction files ---- */

static FILE *open_temp(const char *dir, uint64_t id, const char *what, char **path)
{
	char buf[PATH_MAX], tag[13];
	unsigned char rnd[6];

	/* Unique without global state: pid + message id + random tag. */
	if (getentropy(rnd, sizeof(rnd)) != 0)
		memset(rnd, 0, sizeof(rnd));
	sl_hex(rnd, sizeof(rnd), tag);
	snprintf(buf, sizeof(buf), "%s/.tmp-%d-%llu-%s-%s", dir, (int)getpid(),
		 (unsigned long long)id, what, tag);
	FILE *f = fopen(buf, "wx");
	if (!f) {
		sl_log(SL_LOG_WARN, "cannot create %s: %s (extraction of message %llu skipped)",
		       buf, strerror(errno), (unsigned long long)id);
		return NULL;
	}
	*path = strdup(buf);
	if (!*path) {
		fclose(f);
		unlink(buf);
		return NULL;
	}
	return f;
}

/* A file's content name in dir: its sha256 in hex, then ext. */
static void content_name(char name[PATH_MAX], const char *dir, const uint8_t sha[32],
			 const char *ext)
{
	char hx[65];

	snprintf(name, PATH_MAX, "%s/%s%s", dir, sl_hex(sha, 32, hx), ext);
}

/* Gives a finished temp file its content name; identical content is kept
 * once. */
static void settle_file(const char *dir, char **tmp, const uint8_t sha[32], const char *ext)
{
	char name[PATH_MAX];

	content_name(name, dir, sha, ext);
	if (access(name, F_OK) == 0 || rename(*tmp, name) != 0)
		unlink(*tmp);
	free(*tmp);
	*tmp = NULL;
}

/* ---- MIME callbacks ---- */

static bool hname_is(const char *name, const char *want)
{
	return strcasecmp(name, want) == 0;
}

static void mime_header(void *u, const struct sl_mime_part *p, const char *name,
			const char *value, size_t vlen)
{
	struct sl_mail_txn *t = u;
	struct sl_msg *m = &t->msg;

	obj_small(t, SL_SCOPE_HEADER, name, value, vlen, p->id);
	if (hname_is(name, "subject"))
		obj_small(t, SL_SCOPE_SUBJECT, NULL, value, vlen, p->id);
	if (p->depth != 0)
		return;
	/* The message's own headers; first occurrence wins for the record,
	 * every occurrence was inspected above. */
	if (hname_is(name, "subject") && !m->subject)
		m->subject = sl_msg_strdup(m, value, vlen);
	else if (hname_is(name, "from") && !m->hdr_from)
		m->hdr_from = sl_msg_strdup(m, value, vlen);
	else if (hname_is(name, "message-id") && !m->message_id)
		m->message_id = sl_msg_strdup(m, value, vlen);
	else if (hname_is(name, "date") && !m->date)
		m->date = sl_msg_strdup(m, value, vlen);
	else if (hname_is(name, "to") || hname_is(name, "cc")) {
		/* The address parser wants a C string; header values are
		 * bounded by the MIME limits. */
		char *v = strndup(value, vlen), out[SL_ADDR_MAX];
		const char *cur = v;
		while (v && sl_addr_next(&cur, out, sizeof(out)))
			sl_msg_add_hdr_to(m, out, strlen(out));
		free(v);
	}
}

static struct part_obj *find_part(struct sl_mail_txn *t, const struct sl_mime_part *p)
{
	for (int i = 0; i < MAX_ACTIVE; i++)
		if (t->parts[i].used && t->parts[i].rec.id == p->id &&
		    t->parts[i].rec.reading == p->reading)
			return &t->parts[i];
	return NULL;
}

static struct part_obj *part_open(struct sl_mail_txn *t, const struct sl_mime_part *p)
{
	struct part_obj *po = NULL;

	for (int i = 0; i < MAX_ACTIVE; i++) {
		if (!t->parts[i].used) {
			po = &t->parts[i];
			break;
		}
	}
	if (!po) {
		sl_txn_anomaly(t, SL_ANOM_MIME_GAVE_UP, "too many parts decoding at once");
		return NULL;
	}
	memset(po, 0, sizeof(*po));
	po->used = true;
	po->rec.id = p->id;
	po->rec.reading = p->reading;
	po->rec.depth = p->depth;
	po->rec.kind = p->kind;
	po->rec.attachment = !p->is_text;
	po->rec.raw_fallback = p->raw_fallback;
	po->rec.content_type = p->content_type ?
		sl_msg_strdup(&t->msg, p->content_type, strlen(p->content_type)) : NULL;
	po->rec.filename = p->filename ?
		sl_msg_strdup(&t->msg, p->filename, strlen(p->filename)) : NULL;
	po->rec.encoding = p->encoding ?
		sl_msg_strdup(&t->msg, p->encoding, strlen(p->encoding)) : NULL;

	po->sha = EVP_MD_CTX_new();
	if (po->sha)
		EVP_DigestInit_ex(po->sha, EVP_sha256(), NULL);

	/* Both names clients might show are judged: the decoder reports the
	 * one it keeps and, on conflict, the other. */
	if (p->filename)
		obj_small(t, SL_SCOPE_FILENAME, NULL, p->filename, strlen(p->filename), p->id);
	if (p->alt_filename)
		obj_small(t, SL_SCOPE_FILENAME, NULL, p->alt_filename, strlen(p->alt_filename),
			  p->id);

	obj_init(t, &po->obj, p->is_text ? SL_SCOPE_TEXT : SL_SCOPE_ATTACHMENT);
	po->obj.o.part = p->id;
	po->obj.o.reading = p->reading;
	po->obj.o.content_type = po->rec.content_type;
	po->obj.o.filename = po->rec.filename;
	po->obj.o.flags = (p->raw_fallback ? SL_OBJ_RAW_FALLBACK : 0) |
			  (p->reading ? SL_OBJ_READING_ALT : 0);
	obj_begin(t, &po->obj);

	if (t->env->extract_dir)
		po->ext = open_temp(t->env->extract_dir, t->msg.id, "part", &po->ext_path);
	return po;
}

static void mime_part_begin(void *u, const struct sl_mime_part *p)
{
	part_open(u, p);
}

static void mime_part_data(void *u, const struct sl_mime_part *p, const uint8_t *d, size_t n)
{
	struct sl_mail_txn *t = u;
	struct part_obj *po = find_part(t, p);

	if (!po || n == 0)
		return;
	if (po->sha)
		EVP_DigestUpdate(po->sha, d, n);
	obj_data(t, &po->obj, d, n);
	if (po->ext && fwrite(d, 1, n, po->ext) != n) {
		fclose(po->ext);
		po->ext = NULL;
		unlink(po->ext_path);
	}
}

static void part_close(struct sl_mail_txn *t, struct part_obj *po)
{
	uint8_t sha[32];
	unsigned len = 0;

	if (po->sha) {
		EVP_DigestFinal_ex(po->sha, sha, &len);
		EVP_MD_CTX_free(po->sha);
		po->sha = NULL;
	}
	if (len != 32)
		memset(sha, 0, sizeof(sha));
	po->obj.o.sha256 = len == 32 ? sha : NULL;
	obj_end(t, &po->obj);
	po->obj.o.sha256 = NULL;

	struct sl_msg_part *r = sl_msg_add_part(&t->msg);
	if (r) {
		*r = po->rec;
		r->size = po->obj.o.size;
		memcpy(r->sha256, sha, 32);
	}
	if (po->ext) {
		bool ok = fclose(po->ext) == 0;
		po->ext = NULL;
		if (ok)
			settle_file(t->env->extract_dir, &po->ext_path, sha, "");
		else
			unlink(po->ext_path);
	}
	free(po->ext_path);
	po->ext_path = NULL;
	po->used = false;
}

static void mime_part_end(void *u, const struct sl_mime_part *p)
{
	struct sl_mail_txn *t = u;
	struct part_obj *po = find_part(t, p);

	if (po)
		part_close(t, po);
}

static void mime_anomaly(void *u, enum sl_anomaly a, const char *detail)
{
	sl_txn_anomaly(u, a, detail);
}

static bool mime_mem_take(void *u, size_t n)
{
	struct sl_mail_txn *t = u;

	return !t->env->mem_take || t->env->mem_take(t->env->mem_u, t, n);
}

static void mime_mem_give(void *u, size_t n)
{
	struct sl_mail_txn *t = u;

	if (t->env->mem_give)
		t->env->mem_give(t->env->mem_u, n);
}

static const struct sl_mime_cb mime_cb = {
	.header = mime_header,
	.part_begin = mime_part_begin,
	.part_data = mime_part_data,
	.part_end = mime_part_end,
	.anomaly = mime_anomaly,
	.mem_take = mime_mem_take,
	.mem_give = mime_mem_give,
};

/* ---- IMAP body-part sections ---- */

/* "BODY[2]", "BODY[1.3]", "BODY[2.TEXT]", "BINARY[2]": a part's body with
 * no headers of its own.  "BODY[]", "RFC822", "BODY[HEADER]", "BODY[2.MIME]"
 * carry headers: the MIME decoder reads those. */
static int section_kind(const char *sec)
{
	const char *lb = strchr(sec, '['), *rb = lb ? strchr(lb, ']') : NULL;

	if (!lb || !rb || rb == lb + 1)
		return 0;
	size_t n = (size_t)(rb - lb - 1);
	const char *in = lb + 1;
	bool binary = strncasecmp(sec, "BINARY", 6) == 0;
	if (n >= 4 && (strncasecmp(rb - 4, "MIME", 4) == 0 || (n >= 6 && strncasecmp(rb - 6, "HEADER", 6) == 0)))
		return 0;
	if (strncasecmp(in, "HEADER", 6) == 0)
		return 0;
	if (!(in[0] >= '0' && in[0] <= '9') && strncasecmp(in, "TEXT", 4) != 0)
		return 0;
	return binary ? 2 : 1;
}

static void section_start(struct sl_mail_txn *t, const char *sec)
{
	int k = section_kind(sec);

	if (!k || t->sec)
		return;
	t->sec = calloc(1, sizeof(*t->sec));
	if (!t->sec)
		return;
	t->sec->readings = k == 2 ? 1 : SEC_READINGS;
	sl_b64_init(&t->sec->b64, SL_B64_CONTINUE);
	sl_qp_init(&t->sec->qp);
	static const char *const enc[] = { "identity", "base64", "quoted-printable" };
	for (unsigned r = 0; r < t->sec->readings; r++) {
		struct sl_mime_part p = {
			.id = 1, .reading = (uint8_t)r, .is_attachment = true,
			.content_type = "application/octet-stream",
			.encoding = k == 2 ? "binary" : enc[r],
		};
		part_open(t, &p);
	}
}

static void section_data(struct sl_mail_txn *t, const uint8_t *p, size_t n)
{
	struct section *sc = t->sec;
	struct sl_mime_part mp = { .id = 1 };

	mime_part_data(t, &mp, p, n);
	if (sc->readings == 1)
		return;
	/* Decode in slices that fit the buffer. */
	while (n) {
		size_t chunk = n < sizeof(sc->buf) / 2 ? n : sizeof(sc->buf) / 2, used = chunk, o;
		o = sl_b64_decode(&sc->b64, p, chunk, sc->buf, &used);
		mp.reading = SEC_B64;
		mime_part_data(t, &mp, sc->buf, o);
		o = sl_qp_decode(&sc->qp, p, chunk, sc->buf);
		mp.reading = SEC_QP;
		mime_part_data(t, &mp, sc->buf, o);
		p += chunk;
		n -= chunk;
	}
}

static void section_finish(struct sl_mail_txn *t)
{
	struct section *sc = t->sec;
	struct sl_mime_part mp = { .id = 1 };
	size_t o;

	if (sc->readings > 1) {
		o = sl_b64_finish(&sc->b64, sc->buf);
		mp.reading = SEC_B64;
		mime_part_data(t, &mp, sc->buf, o);
		o = sl_qp_finish(&sc->qp, sc->buf);
		mp.reading = SEC_QP;
		mime_part_data(t, &mp, sc->buf, o);
	}
	for (unsigned r = 0; r < sc->readings; r++) {
		mp.reading = (uint8_t)r;
		mime_part_end(t, &mp);
	}
}

/* ---- the transaction ---- */

/* An EVP_MD_CTX with its SHA-256 state; OpenSSL keeps the type opaque. */
#define SHA_CTX_SIZE 256

size_t sl_txn_state_size(const struct sl_txn_env *env)
{
	return sizeof(struct sl_mail_txn) + SHA_CTX_SIZE + sl_mime_state_size(&env->mime);
}

struct sl_mail_txn *sl_txn_new(struct sl_txn_env *env, enum sl_proto proto, enum sl_dir dir,
			       const struct sl_packet *pkt)
{
	struct sl_mail_txn *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->env = env;
	env->next_id += env->id_step ? env->id_step : 1;
	sl_msg_init(&t->msg, env->next_id, proto, dir);
	t->msg.hooks = env->hooks;
	t->msg.hooks_arg = env->hooks_arg;
	t->msg.first_packet = pkt ? pkt->index : 0;
	t->mime = sl_mime_new(&env->mime, &mime_cb, t, env->ctr);
	t->raw_sha = EVP_MD_CTX_new();
	if (!t->mime || !t->raw_sha) {
		sl_mime_free(t->mime);
		EVP_MD_CTX_free(t->raw_sha);
		sl_msg_release(&t->msg);
		free(t);
		return NULL;
	}
	EVP_DigestInit_ex(t->raw_sha, EVP_sha256(), NULL);
	obj_init(t, &t->raw, SL_SCOPE_RAW);
	obj_begin(t, &t->raw);
	if (env->spool_dir)
		t->spool = open_temp(env->spool_dir, t->msg.id, "msg", &t->spool_path);
	return t;
}

void sl_txn_field(struct sl_mail_txn *t, enum sl_mail_field f, const char *v, size_t n)
{
	struct sl_msg *m = &t->msg;

	switch (f) {
	case SL_MF_HELO:
		m->helo = sl_msg_strdup(m, v, n);
		break;
	case SL_MF_MAIL_FROM:
		m->mail_from = sl_msg_strdup(m, v, n);
		obj_small(t, SL_SCOPE_MAIL_FROM, NULL, v, n, 0);
		break;
	case SL_MF_MAIL_PARAMS:
		m->mail_params = sl_msg_strdup(m, v, n);
		break;
	case SL_MF_RCPT_TO:
		sl_msg_add_rcpt(m, v, n);
		obj_small(t, SL_SCOPE_RCPT_TO, NULL, v, n, 0);
		break;
	case SL_MF_AUTH_USER:
		m->auth_user = sl_msg_strdup(m, v, n);
		obj_small(t, SL_SCOPE_AUTH_USER, NULL, v, n, 0);
		break;
	case SL_MF_IMAP_COMMAND:
		m->imap_command = sl_msg_strdup(m, v, n);
		break;
	case SL_MF_IMAP_UID:
		m->imap_uid = sl_msg_strdup(m, v, n);
		break;
	case SL_MF_IMAP_MAILBOX:
		m->imap_mailbox = sl_msg_strdup(m, v, n);
		break;
	case SL_MF_IMAP_SECTION:
		m->imap_section = sl_msg_strdup(m, v, n);
		if (m->imap_section && m->raw_size == 0)
			section_start(t, m->imap_section);
		break;
	case SL_MF_POP3_COMMAND:
		m->pop3_command = sl_msg_strdup(m, v, n);
		break;
	default:
		break;
	}
}

void sl_txn_data(struct sl_mail_txn *t, const uint8_t *p, size_t n)
{
	if (t->finished || n == 0)
		return;
	t->msg.raw_size += n;
	EVP_DigestUpdate(t->raw_sha, p, n);
	if (t->spool && fwrite(p, 1, n, t->spool) != n) {
		sl_log(SL_LOG_WARN, "spool write failed for message %llu: %s",
		       (unsigned long long)t->msg.id, strerror(errno));
		fclose(t->spool);
		t->spool = NULL;
		unlink(t->spool_path);
		free(t->spool_path);
		t->spool_path = NULL;
	}
	obj_data(t, &t->raw, p, n);
	if (t->sec)
		section_data(t, p, n);
	else
		sl_mime_feed(t->mime, p, n);
}

/* Anomalies of the flow (TCP evasion, defragmentation) taint every message
 * it carries: the bytes a receiver got may not be the bytes inspected. */
static void fold_flow_anomalies(struct sl_mail_txn *t, const struct sl_anomaly_set *fa)
{
	if (!fa)
		return;
	for (unsigned a = 0; a < SL_ANOM_MAX; a++) {
		if (sl_anomaly_set_has(fa, (enum sl_anomaly)a) &&
		    anomaly_action(t->env, (enum sl_anomaly)a) > SL_ACTION_PASS)
			sl_txn_anomaly(t, (enum sl_anomaly)a, NULL);
	}
}

static void finish(struct sl_mail_txn *t, const struct sl_anomaly_set *fa)
{
	uint8_t sha[32];
	unsigned len = 0;

	t->finished = true;
	if (t->sec)
		section_finish(t);
	else
		sl_mime_finish(t->mime);
	/* Parts the decoder left open (it should not) still get ended. */
	for (int i = 0; i < MAX_ACTIVE; i++)
		if (t->parts[i].used)
			part_close(t, &t->parts[i]);
	sl_mime_free(t->mime);
	t->mime = NULL;

	EVP_DigestFinal_ex(t->raw_sha, sha, &len);
	EVP_MD_CTX_free(t->raw_sha);
	t->raw_sha = NULL;
	memcpy(t->msg.raw_sha256, sha, 32);

	fold_flow_anomalies(t, fa);
	/* The raw object ends last: a sink may decide on it from what the
	 * decoder said about the message (ClamAV's on-anomaly mode). */
	t->raw.o.sha256 = t->msg.raw_sha256;
	obj_end(t, &t->raw);
	t->raw.o.sha256 = NULL;
	for (unsigned i = 0; i < t->env->n_sinks; i++)
		if (t->env->sinks[i].ops->msg_end)
			t->env->sinks[i].ops->msg_end(t->env->sinks[i].self, &t->msg);

	if (t->spool) {
		bool ok = fclose(t->spool) == 0;
		t->spool = NULL;
		if (ok && t->env->extract_dir && t->spool_path) {
			char name[PATH_MAX];
			content_name(name, t->env->extract_dir, sha, ".eml");
			if (access(name, F_OK) != 0 && link(t->spool_path, name) != 0)
				sl_log(SL_LOG_WARN, "cannot write %s: %s", name, strerror(errno));
		}
	}
}

void sl_txn_end(struct sl_mail_txn *t, const struct sl_packet *pkt,
		const struct sl_anomaly_set *flow_anomalies)
{
	if (t->finished)
		return;
	t->msg.final_packet = pkt ? pkt->index : 0;
	t->msg.complete = true;
	finish(t, flow_anomalies);
	sl_msg_mark_ended(&t->msg);
}

void sl_txn_abort(struct sl_mail_txn *t, const char *why,
		  const struct sl_anomaly_set *flow_anomalies)
{
	if (t->finished)
		return;
	t->msg.abort_reason = sl_msg_strdup(&t->msg, why ? why : "aborted",
					    strlen(why ? why : "aborted"));
	finish(t, flow_anomalies);
	sl_msg_mark_ended(&t->msg);
}

void sl_txn_reply(struct sl_mail_txn *t, const char *cmd, unsigned code)
{
	sl_msg_add_reply(&t->msg, cmd, code);
}

void sl_txn_put(struct sl_mail_txn *t)
{
	sl_msg_unref(&t->msg);
}

void sl_txn_free(struct sl_mail_txn *t)
{
	/* Normally finish() has ended everything; a transaction freed without
	 * it (shutdown) must still let each sink release its state. */
	if (!t->finished)
		obj_abort(t, &t->raw);
	for (int i = 0; i < MAX_ACTIVE; i++) {
		struct part_obj *po = &t->parts[i];
		if (!po->used)
			continue;
		obj_abort(t, &po->obj);
		EVP_MD_CTX_free(po->sha);
		if (po->ext) {
			fclose(po->ext);
			unlink(po->ext_path);
		}
		free(po->ext_path);
	}
	sl_mime_free(t->mime);
	free(t->sec);
	EVP_MD_CTX_free(t->raw_sha);
	if (t->spool)
		fclose(t->spool);
	if (t->spool_path) {
		unlink(t->spool_path);
		free(t->spool_path);
	}
	sl_msg_release(&t->msg);
	free(t);
}
