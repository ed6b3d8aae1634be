/* gen_traffic: writes a pcap of realistic TCP traffic for the benchmarks.
 *
 *   gen_traffic OUT.pcap [--proto bulk|smtp|imap|mixed] [--size 1G]
 *               [--concurrency 1000] [--reorder 0.01] [--retrans 0.001]
 *               [--seed 1] [--messages N] [--msgs-per-session 3]
 *               [--att-min 50K] [--att-max 5M] [--att-dist loguniform|uniform|fixed]
 *               [--attachments 0-2] [--text-att 0.25]
 *   gen_traffic OUT.pcap --idle N
 *
 * What is on the wire (Ethernet, IPv4, correct IP and TCP checksums):
 *  - `concurrency` sessions at once, served round-robin with jitter (each
 *    turn a session sends 0..4 segments); a finished session is replaced by
 *    a new one until the size (or message) budget is planned;
 *  - every session opens with a 3-way handshake (MSS, SACK-permitted,
 *    timestamps, window scale 7) and closes with FIN both ways; every later
 *    segment carries the timestamp option, so a full segment holds 1448
 *    bytes (MSS 1460 - 12);
 *  - commands and responses go as one small segment each; bulk data is cut
 *    into application writes of 4..64 KiB, each sent as MSS segments and a
 *    smaller last one;
 *  - the receiver ACKs every second segment, immediately on a hole or a
 *    duplicate, each ACK arriving 4..24 segments later (the round trip seen
 *    from a tap next to the sender); the advertised window grows with the
 *    ACKs (window updates);
 *  - `reorder` of the data segments arrive after their successor (swapped
 *    neighbours), and `retrans` of them are sent again a few segments later
 *    (identical bytes);
 *  - bulk: the client uploads pseudo-random bytes to port 8080; smtp: EHLO,
 *    MAIL, RCPT, DATA (dot-stuffed message), QUIT with the server's replies;
 *    imap: LOGIN, SELECT, FETCH n BODY[] answered with a literal, LOGOUT;
 *    mixed: 45% smtp, 45% imap, 10% bulk sessions;
 *  - messages: multipart/mixed with a text/plain + text/html alternative
 *    (quoted-printable, some UTF-8, a line starting with '.' now and then)
 *    and 0..2 attachments of att-min..att-max bytes (log-uniform by
 *    default): base64 pseudo-random bytes, or, for `text-att` of them,
 *    dictionary text (base64 or 7bit) for keyword rules to look at.
 *  - --idle N: N handshakes (SYN, SYN/ACK, ACK) on distinct 4-tuples to port
 *    25, nothing else.
 *
 * Everything is deterministic for a seed.  Sizes take K, M, G suffixes
 * (powers of 1024); --size counts planned TCP payload and frame overhead, so
 * the file is within a few percent of it.  Do not commit the output. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "bytes.h"
#include "checksum.h"

#define MSS		1448u
#define HDRS		(14u + 20u + 32u)	/* Ethernet + IPv4 + TCP with timestamps */
#define FRAME_MAX	(HDRS + MSS)
#define ACKQ		48u			/* pure ACKs in flight per receiver */
#define MAX_MSGS	16u
#define MAX_ATT		8u
#define STAGE		(16u * 1024)
#define WSCALE		7u

enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10 };
enum proto { P_BULK, P_SMTP, P_IMAP, P_MIXED };
enum dist { D_LOGUNIFORM, D_UNIFORM, D_FIXED };

/* ---- PRNG: xoshiro256**, seeded through splitmix64 ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

static inline double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1p-53;
}

static void rng_bytes(struct rng *r, uint8_t *p, size_t n)
{
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t v = rng_next(r);
		memcpy(p, &v, 8);
	}
	if (n) {
		uint64_t v = rng_next(r);
		memcpy(p, &v, n);
	}
}

/* ---- options ---- */

struct opts {
	enum proto proto;
	uint64_t size, messages, idle, seed;
	uint32_t concurrency, msgs_max, att_lo, att_hi;
	double reorder, retrans, text_att;
	uint64_t att_min, att_max;
	enum dist att_dist;
};

/* ---- words ---- */

static const char *const WORDS[] = {
	"the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with",
	"be", "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which",
	"but", "have", "an", "had", "they", "you", "were", "their", "one", "all", "we",
	"can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who",
	"so", "no", "about", "meeting", "report", "please", "attached", "review", "budget",
	"quarter", "team", "customer", "contract", "invoice", "schedule", "update", "project",
	"deadline", "thanks", "regards", "proposal", "draft", "version", "final", "numbers",
	"forecast", "revenue", "sales", "marketing", "engineering", "release", "plan",
	"timeline", "tomorrow", "Monday", "Friday", "office", "call", "notes", "agenda",
	"confidential", "internal", "shipment", "order", "delivery", "warehouse", "supplier",
	"pricing", "discount", "renewal", "license", "support", "ticket", "issue", "fixed",
	"server", "database", "backup", "migration", "network", "security", "audit",
	"compliance", "policy", "approval", "signature", "legal", "finance", "payroll",
	"travel", "expenses", "receipt", "account", "payment", "transfer", "balance",
	"statement", "summary", "details", "question", "answer", "feedback", "design",
	"prototype", "testing", "results", "analysis", "data", "chart", "slides",
	"presentation", "workshop", "training", "onboarding", "hiring", "candidate",
	"interview", "offer", "salary", "review", "performance", "goals", "objectives",
	/* tools/gen_bench_rules.py builds its keywords from these */
	"amber", "arctic", "azure", "bold", "bright", "calm", "cedar", "coral", "crimson",
	"crystal", "golden", "granite", "green", "hidden", "iron", "jade", "lunar", "marble",
	"midnight", "silver", "steel", "storm", "swift", "thunder", "velvet", "winter",
	"anchor", "arrow", "badger", "beacon", "bluebird", "bridge", "canyon", "comet",
	"condor", "dragon", "eagle", "falcon", "fox", "glacier", "griffin", "harbor", "hawk",
	"heron", "horizon", "island", "lantern", "lynx", "maple", "meadow", "nebula",
	"orchid", "osprey", "phoenix", "raven", "river", "summit", "tiger", "titan", "valley",
	"willow", "wolf", "James", "Mary", "Robert", "Linda", "David", "Susan", "Smith",
	"Johnson", "Brown", "Garcia", "Miller", "Wilson", "Taylor", "Moore", "Martin",
	"Project", "Operation", "source", "code", "trade", "secret", "Amber", "Falcon",
	"Silver", "Heron",
};

/* UTF-8 words for the quoted-printable text parts. */
static const char *const WORDS_UTF8[] = {
	"caf\xc3\xa9", "na\xc3\xafve", "Gr\xc3\xbc\xc3\x9f" "e", "M\xc3\xbcnchen",
	"r\xc3\xa9sum\xc3\xa9", "\xe2\x82\xac" "120", "fa\xc3\xa7" "ade", "Z\xc3\xbcrich",
	"\xc3\xa5r", "se\xc3\xb1or",
};

static const char *const FIRST[] = { "alice", "bob", "carol", "dave", "erin", "frank",
	"grace", "heidi", "ivan", "judy", "mallory", "oscar", "peggy", "trent", "victor" };
static const char *const LAST[] = { "Smith", "Johnson", "Williams", "Brown", "Jones",
	"Garcia", "Miller", "Davis", "Martinez", "Wilson", "Anderson", "Taylor" };
static const char *const DOMAINS[] = { "example.org", "example.com", "example.net",
	"corp.example", "mail.example", "partner.example" };

static const char *word(struct rng *r)
{
	return WORDS[rng_below(r, SL_ARRAY_SIZE(WORDS))];
}

/* Appends a word or, now and then, a number (some shaped like IDs). */
static void put_token(struct buf *b, struct rng *r, bool utf8)
{
	char num[32];
	uint32_t k = rng_below(r, 100);

	if (k < 3) {
		snprintf(num, sizeof(num), "%u", rng_below(r, 1000000));
		puts_(b, num);
	} else if (k == 3) {
		snprintf(num, sizeof(num), "%s-%06u", rng_below(r, 2) ? "INV" : "ORD",
			 rng_below(r, 1000000));
		puts_(b, num);
	} else if (utf8 && k < 6) {
		puts_(b, WORDS_UTF8[rng_below(r, SL_ARRAY_SIZE(WORDS_UTF8))]);
	} else {
		puts_(b, word(r));
	}
}

/* A paragraph of n tokens ending in '.', no line breaks. */
static void put_para(struct buf *b, struct rng *r, unsigned n, bool utf8)
{
	size_t start = b->n;

	for (unsigned i = 0; i < n; i++) {
		if (i)
			put(b, i % 13 == 12 ? ", " : " ", i % 13 == 12 ? 2 : 1);
		put_token(b, r, utf8);
	}
	if (b->n > start && b->p[start] >= 'a' && b->p[start] <= 'z')
		b->p[start] -= 32;
	put(b, ".", 1);
}

/* ---- quoted-printable ---- */

static const char HEX[] = "0123456789ABCDEF";

/* Encodes p[0..n) as one hard line (soft breaks keep lines <= 76), CRLF. */
static void qp_line(struct buf *b, const uint8_t *p, size_t n)
{
	unsigned col = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		char e[3];
		unsigned el = 1;

		if (c == '=' || c > 126 || (c < 32 && c != '\t') ||
		    ((c == ' ' || c == '\t') && i + 1 == n)) {
			e[0] = '=';
			e[1] = HEX[c >> 4];
			e[2] = HEX[c & 15];
			el = 3;
		} else {
			e[0] = (char)c;
		}
		if (col + el > 75) {
			puts_(b, "=\r\n");
			col = 0;
		}
		put(b, e, el);
		col += el;
	}
	puts_(b, "\r\n");
}

/* ---- dictionary text of an exact size ---- */

struct textgen {
	struct rng r;
	uint64_t left;			/* bytes still to produce */
	char line[128];
	unsigned pos, len;
};

/* Fills line with exactly k bytes (k >= 1): words, padded, CRLF. */
static void tg_exact(struct textgen *t, unsigned k)
{
	unsigned n = 0, body = k >= 2 ? k - 2 : 0;

	while (n < body) {
		const char *w = word(&t->r);
		size_t wl = strlen(w);

		if (n) {
			t->line[n++] = ' ';
			if (n == body)
				t->line[n - 1] = 'x';	/* no trailing space */
		}
		for (size_t i = 0; i < wl && n < body; i++)
			t->line[n++] = w[i];
	}
	if (k >= 2) {
		t->line[n++] = '\r';
		t->line[n++] = '\n';
	} else {
		t->line[n++] = '\n';
	}
	t->len = n;
	t->pos = 0;
}

static void tg_line(struct textgen *t)
{
	if (t->left <= 74) {
		tg_exact(t, (unsigned)t->left);
	} else if (t->left <= 150) {
		tg_exact(t, (unsigned)t->left / 2);
	} else {
		unsigned target = 40 + rng_below(&t->r, 32), n = 0;

		for (;;) {
			const char *w = word(&t->r);
			size_t wl = strlen(w);
			if (n && n + 1 + wl > target)
				break;
			if (n)
				t->line[n++] = ' ';
			memcpy(t->line + n, w, wl);
			n += (unsigned)wl;
		}
		t->line[n++] = '\r';
		t->line[n++] = '\n';
		t->len = n;
		t->pos = 0;
	}
	t->left -= t->len;
}

static void tg_init(struct textgen *t, uint64_t seed, uint64_t size)
{
	rng_seed(&t->r, seed);
	t->left = size;
	t->pos = t->len = 0;
}

/* Writes up to n bytes; fewer only at the end. */
static size_t tg_fill(struct textgen *t, uint8_t *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		if (t->pos == t->len) {
			if (!t->left)
				break;
			tg_line(t);
		}
		size_t k = SL_MIN(n - done, (size_t)(t->len - t->pos));
		memcpy(p + done, t->line + t->pos, k);
		t->pos += (unsigned)k;
		done += k;
	}
	return done;
}

/* ---- base64 ---- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* One line: up to 57 raw bytes -> 76 characters + CRLF.  Returns its size. */
static size_t b64_line(uint8_t *o, const uint8_t *p, size_t n)
{
	uint8_t *s = o;
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		o[0] = (uint8_t)B64[v >> 18];
		o[1] = (uint8_t)B64[(v >> 12) & 63];
		o[2] = (uint8_t)B64[(v >> 6) & 63];
		o[3] = (uint8_t)B64[v & 63];
		o += 4;
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		o[0] = (uint8_t)B64[v >> 18];
		o[1] = (uint8_t)B64[(v >> 12) & 63];
		o[2] = i + 1 < n ? (uint8_t)B64[(v >> 6) & 63] : '=';
		o[3] = '=';
		o += 4;
	}
	*o++ = '\r';
	*o++ = '\n';
	return (size_t)(o - s);
}

static uint64_t b64_size(uint64_t raw)
{
	uint64_t rem = raw % 57;

	return raw / 57 * 78 + (rem ? (rem + 2) / 3 * 4 + 2 : 0);
}

/* Copies what fits of src[*off..len) to dst[*done..max), advancing both. */
static void take(uint8_t *dst, size_t *done, size_t max, const void *src, size_t *off,
		 size_t len)
{
	size_t k = SL_MIN(max - *done, len - *off);

	memcpy(dst + *done, (const uint8_t *)src + *off, k);
	*done += k;
	*off += k;
}

/* ---- messages ---- */

enum pkind { PK_MEM, PK_B64RAND, PK_B64TEXT, PK_TEXT };

struct piece {
	uint8_t kind;
	uint64_t len;			/* PK_MEM: bytes at mem; others: raw bytes */
	uint64_t seed;
	size_t mem_off;			/* PK_MEM: offset in the message's blob */
};

struct att_plan {
	uint32_t size;
	uint8_t kind;			/* PK_B64RAND, PK_B64TEXT, PK_TEXT */
};

struct msg_plan {
	uint64_t seed;
	uint8_t n_att;
	struct att_plan att[MAX_ATT];
};

/* A message as a byte source: memory pieces (headers, text parts, part
 * headers) and generated attachment bodies, produced on demand so a
 * session never holds an attachment. */
struct msgsrc {
	struct buf blob;
	struct piece pc[2 * MAX_ATT + 2];
	unsigned n, cur;
	uint64_t total;			/* bytes on the wire */
	bool started;			/* pc[cur]'s generator is set up */
	uint64_t off;			/* PK_MEM progress / raw bytes done */
	struct rng r;
	struct textgen tg;
	uint8_t stage[STAGE];
	size_t st_pos, st_len;
};

static void blob_piece_end(struct msgsrc *m, size_t start)
{
	struct piece *p = &m->pc[m->n++];

	p->kind = PK_MEM;
	p->mem_off = start;
	p->len = m->blob.n - start;
	m->total += p->len;
}

/* Dot-stuffs the blob from `start` in place (SMTP DATA): every line that
 * starts with '.' gets one more.  Generated bodies never start a line with
 * '.', so only the blob needs it. */
static void dot_stuff(struct buf *b, size_t start)
{
	size_t dots = 0;

	for (size_t i = start; i < b->n; i++)
		if (b->p[i] == '.' && (i == start || b->p[i - 1] == '\n'))
			dots++;
	if (!dots)
		return;
	size_t old = b->n;
	if (old + dots > b->cap) {
		b->cap = old + dots;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			perror("realloc");
			exit(1);
		}
	}
	b->n = old + dots;
	/* Backwards, in place: with d dots still to insert, byte i-1 lands at
	 * i-1+d, never below a byte not yet moved. */
	size_t w = b->n;
	for (size_t i = old; i > start; i--) {
		char c = b->p[i - 1];
		bool stuff = c == '.' && (i - 1 == start || b->p[i - 2] == '\n');
		b->p[--w] = c;
		if (stuff)
			b->p[--w] = '.';
	}
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void put_subject(struct buf *b, struct rng *r)
{
	puts_(b, "Subject: ");
	if (rng_below(r, 5) == 0) {
		puts_(b, "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen:_");
		puts_(b, word(r));
		puts_(b, "?= ");
	} else if (rng_below(r, 3) == 0) {
		puts_(b, "Re: ");
	}
	unsigned n = 3 + rng_below(r, 6);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			puts_(b, " ");
		puts_(b, word(r));
	}
	puts_(b, "\r\n");
}

static void put_text_part(struct buf *b, struct rng *r, bool html)
{
	unsigned paras = 2 + rng_below(r, html ? 10 : 14);
	struct buf t = { 0 };

	putf(b, "Content-Type: text/%s; charset=\"utf-8\"\r\n"
	     "Content-Transfer-Encoding: quoted-printable\r\n\r\n", html ? "html" : "plain");
	if (html) {
		t.n = 0;
		puts_(&t, "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
		      "charset=utf-8\"></head><body style=\"font-family: Calibri, sans-serif;\">");
		qp_line(b, (uint8_t *)t.p, t.n);
	}
	puts_(b, html ? "" : "Hello,\r\n\r\n");
	for (unsigned i = 0; i < paras; i++) {
		t.n = 0;
		if (html)
			puts_(&t, rng_below(r, 4) ? "<p>" : "<p class=\"MsoNormal\"><b>");
		else if (rng_below(r, 12) == 0)
			puts_(&t, "...");	/* a line that SMTP must dot-stuff */
		put_para(&t, r, 20 + rng_below(r, 120), true);
		if (html && rng_below(r, 5) == 0)
			putf(&t, " See <a href=\"https://www.%s/doc?id=%u&amp;v=2\">the document</a>.",
			     DOMAINS[rng_below(r, SL_ARRAY_SIZE(DOMAINS))], rng_below(r, 100000));
		if (html)
			puts_(&t, "</p>");
		qp_line(b, (uint8_t *)t.p, t.n);
		if (!html)
			puts_(b, "\r\n");
	}
	if (html) {
		puts_(b, "</body></html>\r\n");
	} else {
		qp_line(b, (const uint8_t *)"-- ", 3);	/* signature separator: =20 */
		putf(b, "%s\r\n", FIRST[rng_below(r, SL_ARRAY_SIZE(FIRST))]);
	}
	free(t.p);
}

static const char *const ATT_TYPES[][2] = {
	{ "application/pdf", "pdf" }, { "application/zip", "zip" }, { "image/jpeg", "jpg" },
	{ "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx" },
	{ "application/octet-stream", "bin" }, { "image/png", "png" },
};

/* Builds the message's pieces.  seq: a number for names and IDs. */
static struct msgsrc *msg_new(const struct msg_plan *pl, uint64_t seq, bool smtp,
			      const char *from, const char *to, uint64_t now_s)
{
	struct msgsrc *m = calloc(1, sizeof(*m));
	struct rng r;
	char b1[40], b2[40];
	size_t start = 0;

	if (!m) {
		perror("calloc");
		exit(1);
	}
	rng_seed(&r, pl->seed);
	snprintf(b1, sizeof(b1), "----=_Part_%llu_%08x", (unsigned long long)seq,
		 (unsigned)rng_next(&r));
	snprintf(b2, sizeof(b2), "----=_Alt_%llu_%08x", (unsigned long long)seq,
		 (unsigned)rng_next(&r));

	struct buf *b = &m->blob;
	static const char *const DAYS[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
	unsigned sec = (unsigned)(now_s % 86400);
	putf(b, "Received: from client.%s (client.%s [198.51.100.%u])\r\n"
	     "\tby mx.example.net (Postfix) with ESMTPS id %08X\r\n"
	     "\tfor <%s>; %s, 11 Jun 2024 %02u:%02u:%02u +0000\r\n",
	     DOMAINS[seq % SL_ARRAY_SIZE(DOMAINS)], DOMAINS[seq % SL_ARRAY_SIZE(DOMAINS)],
	     (unsigned)(seq % 250) + 1, (unsigned)rng_next(&r), to, DAYS[1], sec / 3600,
	     sec / 60 % 60, sec % 60);
	putf(b, "Date: Tue, 11 Jun 2024 %02u:%02u:%02u +0000\r\n", sec / 3600, sec / 60 % 60,
	     sec % 60);
	putf(b, "From: \"%c%s %s\" <%s>\r\nTo: <%s>\r\n", from[0] - 32, from + 1,
	     LAST[seq % SL_ARRAY_SIZE(LAST)], from, to);
	put_subject(b, &r);
	putf(b, "Message-ID: <%016llx.%llu@%s>\r\n", (unsigned long long)rng_next(&r),
	     (unsigned long long)seq, DOMAINS[seq % SL_ARRAY_SIZE(DOMAINS)]);
	/* Outlook and Thunderbird write a preamble, Gmail and Apple Mail none */
	unsigned ua = rng_below(&r, 3);
	static const char *const UA[] = { "Microsoft Outlook 16.0", "Apple Mail (2.3774)",
					  "Gmail" };
	const char *pre = ua ? "" : "This is a multi-part message in MIME format.\r\n";
	putf(b, "MIME-Version: 1.0\r\nX-Mailer: %s\r\n", UA[ua]);
	if (pl->n_att) {
		putf(b, "Content-Type: multipart/mixed;\r\n\tboundary=\"%s\"\r\n\r\n"
		     "%s\r\n--%s\r\n", b1, pre, b1);
	}
	putf(b, "Content-Type: multipart/alternative;\r\n\tboundary=\"%s\"\r\n\r\n", b2);
	if (!pl->n_att)
		putf(b, "%s\r\n", pre);
	putf(b, "--%s\r\n", b2);
	put_text_part(b, &r, false);
	putf(b, "\r\n--%s\r\n", b2);
	put_text_part(b, &r, true);
	putf(b, "\r\n--%s--\r\n", b2);
	for (unsigned i = 0; i < pl->n_att; i++) {
		const struct att_plan *a = &pl->att[i];
		unsigned t = rng_below(&r, SL_ARRAY_SIZE(ATT_TYPES));
		unsigned id = rng_below(&r, 100000);

		putf(b, "\r\n--%s\r\n", b1);
		if (a->kind == PK_B64RAND)
			putf(b, "Content-Type: %s;\r\n\tname=\"file-%u.%s\"\r\n"
			     "Content-Disposition: attachment;\r\n\tfilename=\"file-%u.%s\"\r\n"
			     "Content-Transfer-Encoding: base64\r\n\r\n",
			     ATT_TYPES[t][0], id, ATT_TYPES[t][1], id, ATT_TYPES[t][1]);
		else
			putf(b, "Content-Type: text/plain; charset=\"us-ascii\"; name=\"notes-%u.txt\"\r\n"
			     "Content-Disposition: attachment; filename=\"notes-%u.txt\"\r\n"
			     "Content-Transfer-Encoding: %s\r\n\r\n", id, id,
			     a->kind == PK_TEXT ? "7bit" : "base64");
		if (smtp)
			dot_stuff(b, start);
		blob_piece_end(m, start);
		start = b->n;

		struct piece *p = &m->pc[m->n++];
		p->kind = a->kind;
		p->len = a->size;
		p->seed = rng_next(&r);
		m->total += a->kind == PK_TEXT ? a->size : b64_size(a->size);
	}
	if (pl->n_att)
		putf(b, "\r\n--%s--\r\n", b1);
	if (smtp)
		dot_stuff(b, start);
	blob_piece_end(m, start);
	return m;
}

static void msg_free(struct msgsrc *m)
{
	if (m) {
		free(m->blob.p);
		free(m);
	}
}

/* Refills the stage from the current generated piece; false at its end. */
static bool msg_refill(struct msgsrc *m, struct piece *p)
{
	uint64_t left = p->len - m->off;

	if (!left)
		return false;
	m->st_pos = m->st_len = 0;
	if (p->kind == PK_TEXT) {
		size_t k = tg_fill(&m->tg, m->stage, (size_t)SL_MIN(left, (uint64_t)STAGE));
		m->st_len = k;
		m->off += k;
		return k > 0;
	}
	uint8_t raw[57];
	while (left && m->st_len + 78 <= STAGE) {
		size_t k = (size_t)SL_MIN(left, (uint64_t)57);
		if (p->kind == PK_B64RAND)
			rng_bytes(&m->r, raw, k);
		else
			tg_fill(&m->tg, raw, k);
		m->st_len += b64_line(m->stage + m->st_len, raw, k);
		left -= k;
		m->off += k;
	}
	return true;
}

static size_t msg_read(struct msgsrc *m, uint8_t *dst, size_t max)
{
	size_t done = 0;

	while (done < max && m->cur < m->n) {
		struct piece *p = &m->pc[m->cur];

		if (p->kind == PK_MEM) {
			size_t off = (size_t)m->off;
			take(dst, &done, max, m->blob.p + p->mem_off, &off, (size_t)p->len);
			m->off = off;
			if (m->off == p->len) {
				m->cur++;
				m->off = 0;
			}
			continue;
		}
		if (!m->started) {
			m->started = true;
			m->off = 0;
			m->st_pos = m->st_len = 0;
			rng_seed(&m->r, p->seed);
			tg_init(&m->tg, p->seed, p->len);
		}
		if (m->st_pos == m->st_len && !msg_refill(m, p)) {
			m->cur++;
			m->off = 0;
			m->started = false;
			continue;
		}
		take(dst, &done, max, m->stage, &m->st_pos, m->st_len);
	}
	return done;
}

static bool msg_done(const struct msgsrc *m)
{
	if (m->cur >= m->n)
		return true;
	/* the last piece generated to its end, stage drained */
	return m->cur == m->n - 1 && m->pc[m->cur].kind != PK_MEM && m->started &&
	       m->off == m->pc[m->cur].len && m->st_pos == m->st_len;
}

/* ---- the capture file ---- */

struct out {
	FILE *f;
	const char *path;
	uint8_t *buf;
	size_t n;
	uint64_t ts_ns;			/* capture clock */
	uint64_t frames, bytes;
};

#define OUTBUF (8u << 20)

static void out_flush(struct out *o)
{
	if (o->n && fwrite(o->buf, 1, o->n, o->f) != o->n) {
		fprintf(stderr, "gen_traffic: writing %s: %s\n", o->path, strerror(errno));
		exit(1);
	}
	o->n = 0;
}

static void out_frame(struct out *o, const uint8_t *fr, size_t len)
{
	if (o->n + 16 + len > OUTBUF)
		out_flush(o);
	/* a 10 Gbit/s link, plus a little gap */
	o->ts_ns += (len + 24) * 4 / 5 + 100;
	uint8_t *h = o->buf + o->n;
	uint32_t v[4] = { (uint32_t)(o->ts_ns / 1000000000u),
			  (uint32_t)(o->ts_ns / 1000 % 1000000), (uint32_t)len, (uint32_t)len };
	memcpy(h, v, 16);		/* pcap record header in host order */
	memcpy(h + 16, fr, len);
	o->n += 16 + len;
	o->frames++;
	o->bytes += len;
}

static void out_open(struct out *o, const char *path)
{
	uint32_t gh[6] = { 0xa1b2c3d4, 2 | 4u << 16, 0, 0, 65535, 1 /* Ethernet */ };

	o->path = path;
	o->f = fopen(path, "wb");
	o->buf = malloc(OUTBUF);
	if (!o->f || !o->buf) {
		fprintf(stderr, "gen_traffic: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	o->ts_ns = 1718100000ull * 1000000000ull;	/* 2024-06-11 */
	memcpy(o->buf, gh, sizeof(gh));
	o->n = sizeof(gh);
}

/* ---- TCP endpoints and frames ---- */

struct ep {
	uint8_t ip[4];
	uint16_t port;
	uint16_t ipid;
	uint32_t seq;			/* next sequence number to send */
	uint32_t rcv;			/* next expected from the peer (what we ACK) */
	uint32_t ts_off;
	uint32_t ts_recent;		/* the peer's latest TSval */
	uint16_t win;			/* advertised, scaled by WSCALE */
	uint8_t unacked;		/* in-order segments since our last ACK */
	bool has_ooo;
	uint32_t ooo_seq, ooo_len;
};

struct ackq {
	uint8_t fr[ACKQ][HDRS];
	uint64_t at[ACKQ];		/* released once the peer sent this many frames */
	unsigned head, n;
};

enum item_kind { I_NONE, I_LINE, I_MSG, I_BULK };

struct sess {
	uint8_t kind;			/* P_BULK, P_SMTP, P_IMAP */
	uint64_t id;
	struct ep ep[2];		/* 0 client, 1 server */
	struct rng r;
	unsigned phase;
	unsigned n_msgs, msg_i;
	struct msg_plan plan[MAX_MSGS];
	uint64_t bulk_size;
	char from[64], to[64];

	/* the item (one side's application output) being sent */
	uint8_t item;
	int dir;
	char pre[1024];
	size_t pre_len, pre_off;
	struct msgsrc *msg;
	uint64_t bulk_left;
	char post[256];
	size_t post_len, post_off;
	uint32_t write_left;		/* of the current application write */

	uint8_t held[FRAME_MAX];	/* a segment arriving after its successor */
	size_t held_len;
	uint8_t rtx[FRAME_MAX];		/* a segment to send again */
	size_t rtx_len;
	unsigned rtx_after;
	struct ackq aq[2];		/* by sender of the ACK */
	uint64_t sent[2];		/* data frames on the wire, by sender */
	bool done;
};

struct gen {
	struct opts o;
	struct out out;
	struct rng r;
	uint64_t planned, msgs_planned, sessions, msgs, next_id;
	uint64_t payload;
};

static uint32_t now_ms(const struct gen *g)
{
	return (uint32_t)(g->out.ts_ns / 1000000u);
}

/* Builds a frame from side `from` with n payload bytes already at f + HDRS
 * (a SYN, whose options are longer, carries none).  Returns its size. */
static size_t build(struct gen *g, struct sess *s, int from, uint8_t flags, size_t n,
		    uint8_t *f)
{
	struct ep *a = &s->ep[from], *b = &s->ep[!from];
	static const uint8_t mac_c[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t mac_s[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
	bool syn = flags & F_SYN;
	unsigned thl = syn ? 40 : 32;
	uint8_t *ip = f + 14, *th = ip + 20;

	memcpy(f, from ? mac_c : mac_s, 6);
	memcpy(f + 6, from ? mac_s : mac_c, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	ip[0] = 0x45;
	ip[1] = 0;
	sl_put_be16(ip + 2, (uint16_t)(20 + thl + n));
	sl_put_be16(ip + 4, a->ipid++);
	sl_put_be16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	ip[10] = ip[11] = 0;
	memcpy(ip + 12, a->ip, 4);
	memcpy(ip + 16, b->ip, 4);
	sl_put_be16(ip + 10, sl_csum(ip, 20));

	sl_put_be16(th, a->port);
	sl_put_be16(th + 2, b->port);
	sl_put_be32(th + 4, a->seq);
	sl_put_be32(th + 8, (flags & F_ACK) ? a->rcv : 0);
	th[12] = (uint8_t)(thl / 4) << 4;
	th[13] = flags;
	sl_put_be16(th + 14, syn ? 64240 : a->win);
	th[16] = th[17] = th[18] = th[19] = 0;
	uint8_t *o = th + 20;
	uint32_t tsval = a->ts_off + now_ms(g);
	if (syn) {
		static const uint8_t so[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0,
						0, 0, 0, 0, 1, 3, 3, WSCALE };
		memcpy(o, so, 20);
		sl_put_be32(o + 8, tsval);
		sl_put_be32(o + 12, (flags & F_ACK) ? a->ts_recent : 0);
	} else {
		o[0] = o[1] = 1;
		o[2] = 8;
		o[3] = 10;
		sl_put_be32(o + 4, tsval);
		sl_put_be32(o + 8, a->ts_recent);
	}
	b->ts_recent = tsval;
	uint32_t sum = sl_csum_pseudo_v4(a->ip, b->ip, 6, thl + (uint32_t)n) +
		       sl_csum_partial(th, thl + n, 0);
	sl_put_be16(th + 16, (uint16_t)~sl_csum_fold(sum));
	return 14 + 20 + thl + n;
}

static void ackq_release(struct gen *g, struct ackq *q, uint64_t sent, bool all)
{
	while (q->n && (all || q->at[q->head] <= sent)) {
		out_frame(&g->out, q->fr[q->head], HDRS);
		q->head = (q->head + 1) % ACKQ;
		q->n--;
	}
}

/* Receiver `d` queues a pure ACK; it reaches the tap after the peer sent a
 * few more segments. */
static void queue_ack(struct gen *g, struct sess *s, int d)
{
	struct ackq *q = &s->aq[d];
	struct ep *e = &s->ep[d];

	if (q->n == ACKQ)
		ackq_release(g, q, q->at[q->head], false);
	unsigned slot = (q->head + q->n) % ACKQ;
	/* window updates: the receiver's buffer grows as the transfer goes */
	if (e->win < 2048)
		e->win = (uint16_t)(e->win + 8 + rng_below(&s->r, 24));
	build(g, s, d, F_ACK, 0, q->fr[slot]);
	q->at[slot] = s->sent[!d] + 4 + rng_below(&s->r, 21);
	q->n++;
	e->unacked = 0;
}

/* A data frame reaches the wire: the receiver's view changes. */
static void wire(struct gen *g, struct sess *s, int d, const uint8_t *f, size_t len)
{
	struct ep *rv = &s->ep[!d];
	const uint8_t *th = f + 34;
	uint32_t seq = sl_be32(th + 4), plen = (uint32_t)(len - HDRS);

	out_frame(&g->out, f, len);
	s->sent[d]++;
	if (seq == rv->rcv) {
		rv->rcv += plen;
		if (rv->has_ooo && rv->ooo_seq == rv->rcv) {
			rv->rcv += rv->ooo_len;
			rv->has_ooo = false;
			queue_ack(g, s, !d);		/* hole filled */
		} else if (++rv->unacked >= 2) {
			queue_ack(g, s, !d);
		}
	} else if (sl_seq_gt(seq, rv->rcv)) {
		rv->has_ooo = true;
		rv->ooo_seq = seq;
		rv->ooo_len = plen;
		queue_ack(g, s, !d);			/* duplicate ACK */
	} else {
		queue_ack(g, s, !d);			/* a retransmission */
	}
	ackq_release(g, &s->aq[!d], s->sent[d], false);
}

/* Sends the frame just built from side d, reordering or retransmitting
 * now and then; `last` forbids holding it (nothing follows to swap with). */
static void send_seg(struct gen *g, struct sess *s, int d, uint8_t *f, size_t len, bool last)
{
	if (s->held_len) {
		wire(g, s, d, f, len);
		wire(g, s, d, s->held, s->held_len);
		s->held_len = 0;
	} else if (!last && rng_unit(&s->r) < g->o.reorder) {
		memcpy(s->held, f, len);
		s->held_len = len;
		return;
	} else {
		wire(g, s, d, f, len);
	}
	if (s->rtx_len && --s->rtx_after == 0) {
		wire(g, s, d, s->rtx, s->rtx_len);
		s->rtx_len = 0;
	} else if (!s->rtx_len && !last && rng_unit(&s->r) < g->o.retrans) {
		memcpy(s->rtx, f, len);
		s->rtx_len = len;
		s->rtx_after = 1 + rng_below(&s->r, 6);
	}
}

/* Control segments (handshake, FIN) go out at once, after the sender's
 * pending ACKs. */
static void send_ctl(struct gen *g, struct sess *s, int d, uint8_t flags)
{
	uint8_t f[FRAME_MAX];

	ackq_release(g, &s->aq[d], 0, true);
	size_t len = build(g, s, d, flags, 0, f);
	out_frame(&g->out, f, len);
	if (flags & (F_SYN | F_FIN)) {
		s->ep[d].seq++;
		s->ep[!d].rcv = s->ep[d].seq;
	}
}

/* ---- sessions ---- */

static uint64_t draw_size(struct gen *g, struct rng *r)
{
	double lo = (double)g->o.att_min, hi = (double)g->o.att_max;

	switch (g->o.att_dist) {
	case D_FIXED:
		return g->o.att_min;
	case D_UNIFORM:
		return (uint64_t)(lo + (hi - lo) * rng_unit(r));
	case D_LOGUNIFORM:
		break;
	}
	return (uint64_t)exp(log(lo) + (log(hi) - log(lo)) * rng_unit(r));
}

static bool can_start(const struct gen *g)
{
	if (g->o.messages)
		return g->msgs_planned < g->o.messages;
	return g->planned < g->o.size;
}

static struct sess *sess_new(struct gen *g)
{
	struct sess *s = calloc(1, sizeof(*s));
	uint64_t id = g->next_id++;

	if (!s) {
		perror("calloc");
		exit(1);
	}
	s->id = id;
	rng_seed(&s->r, g->o.seed * 0x100000001b3ull + id);
	s->kind = (uint8_t)g->o.proto;
	if (g->o.proto == P_MIXED) {
		uint32_t k = rng_below(&s->r, 100);
		s->kind = k < 45 ? P_SMTP : k < 90 ? P_IMAP : P_BULK;
	}
	/* 10.64.0.0/10 clients, one address per session; one server per kind */
	s->ep[0].ip[0] = 10;
	s->ep[0].ip[1] = (uint8_t)(64 + (id >> 16 & 63));
	s->ep[0].ip[2] = (uint8_t)(id >> 8);
	s->ep[0].ip[3] = (uint8_t)id;
	s->ep[0].port = (uint16_t)(32768 + rng_below(&s->r, 28000));
	memcpy(s->ep[1].ip, (uint8_t[4]){ 10, 0, 0, s->kind == P_SMTP ? 25 :
					  s->kind == P_IMAP ? 143 : 80 }, 4);
	s->ep[1].port = s->kind == P_SMTP ? 25 : s->kind == P_IMAP ? 143 : 8080;
	for (int d = 0; d < 2; d++) {
		s->ep[d].seq = (uint32_t)rng_next(&s->r);
		s->ep[d].ts_off = (uint32_t)rng_next(&s->r);
		s->ep[d].ipid = (uint16_t)rng_next(&s->r);
		s->ep[d].win = 502;		/* 64 KiB at scale 7 */
	}
	snprintf(s->from, sizeof(s->from), "%s.%llu@%s", FIRST[id % SL_ARRAY_SIZE(FIRST)],
		 (unsigned long long)id, DOMAINS[id % SL_ARRAY_SIZE(DOMAINS)]);
	snprintf(s->to, sizeof(s->to), "%s@example.net",
		 FIRST[(id / 7) % SL_ARRAY_SIZE(FIRST)]);

	uint64_t bytes = 2000;		/* handshake, commands, replies */
	if (s->kind == P_BULK) {
		s->bulk_size = draw_size(g, &s->r);
		bytes += s->bulk_size;
	} else {
		s->n_msgs = 1 + rng_below(&s->r, g->o.msgs_max);
		if (g->o.messages && s->n_msgs > g->o.messages - g->msgs_planned)
			s->n_msgs = (unsigned)(g->o.messages - g->msgs_planned);
		for (unsigned i = 0; i < s->n_msgs; i++) {
			struct msg_plan *p = &s->plan[i];
			p->seed = rng_next(&s->r);
			p->n_att = (uint8_t)(g->o.att_lo +
					     rng_below(&s->r, g->o.att_hi - g->o.att_lo + 1));
			bytes += 12000;	/* headers and text parts */
			for (unsigned k = 0; k < p->n_att; k++) {
				uint64_t sz = draw_size(g, &s->r);
				p->att[k].size = (uint32_t)SL_MIN(sz, (uint64_t)UINT32_MAX);
				p->att[k].kind = rng_unit(&s->r) >= g->o.text_att ? PK_B64RAND :
						 rng_below(&s->r, 2) ? PK_B64TEXT : PK_TEXT;
				bytes += p->att[k].kind == PK_TEXT ? sz : sz * 4 / 3;
			}
		}
		g->msgs_planned += s->n_msgs;
	}
	/* frame headers (66 per 1448 bytes) and ACKs (one per two segments) */
	g->planned += bytes + bytes / MSS * (82 + 41);
	g->sessions++;
	return s;
}

static void sess_free(struct sess *s)
{
	msg_free(s->msg);
	free(s);
}

static void set_line(struct sess *s, int dir, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_line(struct sess *s, int dir, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(s->pre, sizeof(s->pre), fmt, ap);
	va_end(ap);
	s->pre_len = n < 0 ? 0 : SL_MIN((size_t)n, sizeof(s->pre) - 1);
	s->pre_off = 0;
	s->item = I_LINE;
	s->dir = dir;
	s->post_len = s->post_off = 0;
	s->write_left = 0;
}

static void set_msg(struct gen *g, struct sess *s, int dir, bool smtp)
{
	s->msg = msg_new(&s->plan[s->msg_i], s->id * MAX_MSGS + s->msg_i, smtp, s->from, s->to,
			 g->out.ts_ns / 1000000000u);
	s->item = I_MSG;
	s->dir = dir;
	s->write_left = 0;
	g->msgs++;
}

enum { PH_SYN, PH_SYNACK, PH_ACK, PH_APP };

/* Sets the next item of an SMTP session; false when the application is done. */
static bool smtp_next(struct gen *g, struct sess *s, unsigned ph)
{
	static const char *const QID = "0123456789BCDFGHJKLMNPQRSTVWXYZ";
	char q[11];

	switch (ph) {
	case 0:
		set_line(s, 1, "220 mx.example.net ESMTP Postfix (Debian/GNU)\r\n");
		return true;
	case 1:
		set_line(s, 0, "EHLO client.%s\r\n", DOMAINS[s->id % SL_ARRAY_SIZE(DOMAINS)]);
		return true;
	case 2:
		set_line(s, 1, "250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 157286400\r\n"
			 "250-VRFY\r\n250-ETRN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
			 "250-DSN\r\n250 SMTPUTF8\r\n");
		return true;
	}
	/* per message: MAIL, 250, RCPT, 250, DATA, 354, message, 250 */
	unsigned k = (ph - 3) % 8, m = (ph - 3) / 8;
	if (m >= s->n_msgs) {
		if (k == 0)
			set_line(s, 0, "QUIT\r\n");
		else if (k == 1)
			set_line(s, 1, "221 2.0.0 Bye\r\n");
		return k < 2;
	}
	s->msg_i = m;
	switch (k) {
	case 0: set_line(s, 0, "MAIL FROM:<%s> SIZE=%u\r\n", s->from, 1000u); break;
	case 1: set_line(s, 1, "250 2.1.0 Ok\r\n"); break;
	case 2: set_line(s, 0, "RCPT TO:<%s>\r\n", s->to); break;
	case 3: set_line(s, 1, "250 2.1.5 Ok\r\n"); break;
	case 4: set_line(s, 0, "DATA\r\n"); break;
	case 5: set_line(s, 1, "354 End data with <CR><LF>.<CR><LF>\r\n"); break;
	case 6:
		set_msg(g, s, 0, true);
		s->pre_len = s->pre_off = 0;
		memcpy(s->post, ".\r\n", 3);
		s->post_len = 3;
		s->post_off = 0;
		break;
	case 7:
		for (int i = 0; i < 10; i++)
			q[i] = QID[rng_below(&s->r, 31)];
		q[10] = 0;
		set_line(s, 1, "250 2.0.0 Ok: queued as %s\r\n", q);
		break;
	}
	return true;
}

static bool imap_next(struct gen *g, struct sess *s, unsigned ph)
{
	static const char *const CAPS = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
					"SORT SORT=DISPLAY THREAD=REFERENCES MULTIAPPEND "
					"UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED "
					"I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH SEARCHRES WITHIN "
					"CONTEXT=SEARCH LIST-STATUS BINARY MOVE LITERAL+";

	switch (ph) {
	case 0:
		set_line(s, 1, "* OK [CAPABILITY %s AUTH=PLAIN] Dovecot (Debian) ready.\r\n", CAPS);
		return true;
	case 1:
		set_line(s, 0, "a001 LOGIN %s \"secret-%llu\"\r\n", s->from,
			 (unsigned long long)s->id);
		return true;
	case 2:
		set_line(s, 1, "a001 OK [CAPABILITY %s] Logged in\r\n", CAPS);
		return true;
	case 3:
		set_line(s, 0, "a002 SELECT INBOX\r\n");
		return true;
	case 4:
		set_line(s, 1, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
			 "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] "
			 "Flags permitted.\r\n* %u EXISTS\r\n* 0 RECENT\r\n"
			 "* OK [UIDVALIDITY 1718000000] UIDs valid\r\n* OK [UIDNEXT %u] Predicted "
			 "next UID\r\na002 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n",
			 s->n_msgs, s->n_msgs + 1);
		return true;
	}
	unsigned k = (ph - 5) % 2, m = (ph - 5) / 2;
	if (m >= s->n_msgs) {
		if (k == 0)
			set_line(s, 0, "a%03u LOGOUT\r\n", m + 3);
		else
			set_line(s, 1, "* BYE Logging out\r\na%03u OK Logout completed (0.001 + "
				 "0.000 secs).\r\n", m + 3);
		return true;
	}
	s->msg_i = m;
	if (k == 0) {
		set_line(s, 0, "a%03u FETCH %u BODY[]\r\n", m + 3, m + 1);
		return true;
	}
	set_msg(g, s, 1, false);
	int n = snprintf(s->pre, sizeof(s->pre), "* %u FETCH (FLAGS (\\Seen) BODY[] {%llu}\r\n",
			 m + 1, (unsigned long long)s->msg->total);
	s->pre_len = (size_t)n;
	s->pre_off = 0;
	n = snprintf(s->post, sizeof(s->post), ")\r\na%03u OK Fetch completed (0.002 + 0.000 + "
		     "0.001 secs).\r\n", m + 3);
	s->post_len = (size_t)n;
	s->post_off = 0;
	return true;
}

static bool app_next(struct gen *g, struct sess *s, unsigned ph)
{
	switch (s->kind) {
	case P_SMTP:
		return smtp_next(g, s, ph);
	case P_IMAP:
		/* LOGOUT and its answer come after the fetches */
		return ph < 5 + 2 * s->n_msgs + 2 && imap_next(g, s, ph);
	default:
		if (ph)
			return false;
		s->item = I_BULK;
		s->dir = 0;
		s->bulk_left = s->bulk_size;
		s->pre_len = s->post_len = s->pre_off = s->post_off = 0;
		s->write_left = 0;
		return true;
	}
}

static size_t item_read(struct sess *s, uint8_t *p, size_t max)
{
	size_t done = 0;

	take(p, &done, max, s->pre, &s->pre_off, s->pre_len);
	if (done < max && s->msg)
		done += msg_read(s->msg, p + done, max - done);
	if (done < max && s->bulk_left) {
		size_t k = (size_t)SL_MIN((uint64_t)(max - done), s->bulk_left);
		rng_bytes(&s->r, p + done, k);
		s->bulk_left -= k;
		done += k;
	}
	if (!s->msg || msg_done(s->msg))
		take(p, &done, max, s->post, &s->post_off, s->post_len);
	return done;
}

static bool item_end(const struct sess *s)
{
	return s->pre_off == s->pre_len && (!s->msg || msg_done(s->msg)) && !s->bulk_left &&
	       s->post_off == s->post_len;
}

/* One step of a session: one segment (or one control frame). */
static void sess_step(struct gen *g, struct sess *s)
{
	uint8_t f[FRAME_MAX];

	switch (s->phase) {
	case PH_SYN:
		s->ep[0].win = 502;
		send_ctl(g, s, 0, F_SYN);
		s->phase++;
		return;
	case PH_SYNACK:
		send_ctl(g, s, 1, F_SYN | F_ACK);
		s->phase++;
		return;
	case PH_ACK:
		send_ctl(g, s, 0, F_ACK);
		s->phase++;
		return;
	}
	if (s->item == I_NONE) {
		unsigned ph = s->phase - PH_APP;
		if (s->phase < 1000 && app_next(g, s, ph)) {
			s->phase++;
			/* the sender's own pending ACKs go before its data */
			ackq_release(g, &s->aq[s->dir], 0, true);
		} else {
			/* close: client FIN, server FIN, client ACK */
			unsigned c = s->phase < 1000 ? 0 : s->phase - 1000;
			ackq_release(g, &s->aq[0], 0, true);
			ackq_release(g, &s->aq[1], 0, true);
			if (c == 0)
				send_ctl(g, s, 0, F_FIN | F_ACK);
			else if (c == 1)
				send_ctl(g, s, 1, F_FIN | F_ACK);
			else
				send_ctl(g, s, 0, F_ACK);
			s->phase = 1000 + c + 1;
			s->done = c == 2;
			return;
		}
	}
	if (s->write_left == 0)
		s->write_left = s->item == I_LINE ? UINT32_MAX : 4096 + rng_below(&s->r, 61440);
	size_t max = SL_MIN((size_t)MSS, (size_t)s->write_left);
	size_t n = item_read(s, f + HDRS, max);
	bool end = item_end(s);
	if (n) {
		s->write_left -= (uint32_t)n;
		g->payload += n;
		size_t len = build(g, s, s->dir, (uint8_t)(F_ACK | (end || !s->write_left ?
								    F_PSH : 0)), n, f);
		s->ep[s->dir].seq += (uint32_t)n;
		s->ep[s->dir].unacked = 0;	/* the data carries our ACK */
		send_seg(g, s, s->dir, f, len, end);
	}
	if (end) {
		if (s->held_len) {
			wire(g, s, s->dir, s->held, s->held_len);
			s->held_len = 0;
		}
		if (s->rtx_len) {
			wire(g, s, s->dir, s->rtx, s->rtx_len);
			s->rtx_len = 0;
		}
		msg_free(s->msg);
		s->msg = NULL;
		s->item = I_NONE;
	}
}

/* ---- idle flows ---- */

static void gen_idle(struct gen *g)
{
	for (uint64_t i = 0; i < g->o.idle; i++) {
		struct sess s = { 0 };

		s.ep[0].ip[0] = 10;
		s.ep[0].ip[1] = (uint8_t)(64 + (i >> 16 & 63));
		s.ep[0].ip[2] = (uint8_t)(i >> 8);
		s.ep[0].ip[3] = (uint8_t)i;
		s.ep[0].port = (uint16_t)(32768 + i % 28000);
		memcpy(s.ep[1].ip, (uint8_t[4]){ 10, 0, 0, 25 }, 4);
		s.ep[1].port = 25;
		rng_seed(&s.r, g->o.seed + i);
		for (int d = 0; d < 2; d++) {
			s.ep[d].seq = (uint32_t)rng_next(&s.r);
			s.ep[d].ts_off = (uint32_t)rng_next(&s.r);
			s.ep[d].win = 502;
		}
		send_ctl(g, &s, 0, F_SYN);
		send_ctl(g, &s, 1, F_SYN | F_ACK);
		send_ctl(g, &s, 0, F_ACK);
		g->sessions++;
	}
}

/* ---- main ---- */

static int parse_size(const char *s, uint64_t *v)
{
	char *end;
	double x = strtod(s, &end);

	if (end == s || x < 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': x *= 1024; end++; break;
	case 'm': case 'M': x *= 1024 * 1024; end++; break;
	case 'g': case 'G': x *= 1024.0 * 1024 * 1024; end++; break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	if (*end)
		return -1;
	*v = (uint64_t)x;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: gen_traffic OUT.pcap [--proto bulk|smtp|imap|mixed] [--size 1G]\n"
		"         [--concurrency 1000] [--reorder 0.01] [--retrans 0.001] [--seed 1]\n"
		"         [--messages N] [--msgs-per-session 3] [--att-min 50K] [--att-max 5M]\n"
		"         [--att-dist loguniform|uniform|fixed] [--attachments 0-2]\n"
		"         [--text-att 0.25]\n"
		"       gen_traffic OUT.pcap --idle N\n");
}

static int parse_opts(int argc, char **argv, struct opts *o, const char **path)
{
	static const struct option lo[] = {
		{ "proto", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 's' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "reorder", required_argument, NULL, 'r' },
		{ "retrans", required_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 'S' },
		{ "messages", required_argument, NULL, 'm' },
		{ "msgs-per-session", required_argument, NULL, 'M' },
		{ "att-min", required_argument, NULL, 'a' },
		{ "att-max", required_argument, NULL, 'A' },
		{ "att-dist", required_argument, NULL, 'd' },
		{ "attachments", required_argument, NULL, 'n' },
		{ "text-att", required_argument, NULL, 't' },
		{ "idle", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	*o = (struct opts){ .proto = P_SMTP, .size = 1ull << 30, .seed = 1, .concurrency = 1000,
			    .msgs_max = 3, .att_lo = 0, .att_hi = 2, .reorder = 0.01,
			    .retrans = 0.001, .text_att = 0.25, .att_min = 50 << 10,
			    .att_max = 5 << 20, .att_dist = D_LOGUNIFORM };
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *e = NULL;
		switch (c) {
		case 'p':
			o->proto = !strcmp(optarg, "bulk") ? P_BULK : !strcmp(optarg, "smtp") ?
				   P_SMTP : !strcmp(optarg, "imap") ? P_IMAP :
				   !strcmp(optarg, "mixed") ? P_MIXED : (enum proto)-1;
			if ((int)o->proto < 0)
				return -1;
			break;
		case 's': if (parse_size(optarg, &o->size)) return -1; break;
		case 'a': if (parse_size(optarg, &o->att_min)) return -1; break;
		case 'A': if (parse_size(optarg, &o->att_max)) return -1; break;
		case 'c': o->concurrency = (uint32_t)strtoul(optarg, &e, 10); break;
		case 'r': o->reorder = strtod(optarg, &e); break;
		case 'R': o->retrans = strtod(optarg, &e); break;
		case 't': o->text_att = strtod(optarg, &e); break;
		case 'S': o->seed = strtoull(optarg, &e, 10); break;
		case 'm': o->messages = strtoull(optarg, &e, 10); break;
		case 'M': o->msgs_max = (uint32_t)strtoul(optarg, &e, 10); break;
		case 'i': o->idle = strtoull(optarg, &e, 10); break;
		case 'd':
			o->att_dist = !strcmp(optarg, "loguniform") ? D_LOGUNIFORM :
				      !strcmp(optarg, "uniform") ? D_UNIFORM :
				      !strcmp(optarg, "fixed") ? D_FIXED : (enum dist)-1;
			if ((int)o->att_dist < 0)
				return -1;
			break;
		case 'n': {
			unsigned lo_ = 0, hi_ = 0;
			int k = sscanf(optarg, "%u-%u", &lo_, &hi_);
			if (k < 1)
				return -1;
			o->att_lo = lo_;
			o->att_hi = k == 2 ? hi_ : lo_;
			break;
		}
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
		if (e && *e)
			return -1;
	}
	if (o->att_dist == D_FIXED)
		o->att_max = o->att_min;	/* --att-max does not apply */
	if (optind + 1 != argc || !o->concurrency || !o->msgs_max || o->msgs_max > MAX_MSGS ||
	    o->att_hi > MAX_ATT || o->att_lo > o->att_hi || !o->att_min ||
	    o->att_max < o->att_min || o->att_max > UINT32_MAX || o->reorder < 0 ||
	    o->reorder > 0.5 || o->retrans < 0 || o->retrans > 0.5)
		return -1;
	*path = argv[optind];
	return 0;
}

int main(int argc, char **argv)
{
	static struct gen g;
	const char *path;

	if (parse_opts(argc, argv, &g.o, &path) != 0) {
		usage(stderr);
		return 2;
	}
	double t0 = bench_now();
	rng_seed(&g.r, g.o.seed);
	out_open(&g.out, path);
	if (g.o.idle) {
		gen_idle(&g);
	} else {
		struct sess **act = calloc(g.o.concurrency, sizeof(*act));
		unsigned n = 0;

		if (!act) {
			perror("calloc");
			return 1;
		}
		while (n < g.o.concurrency && can_start(&g))
			act[n++] = sess_new(&g);
		while (n) {
			for (unsigned i = 0; i < n;) {
				struct sess *s = act[i];
				/* round-robin with jitter: 0..4 segments per turn */
				unsigned burst = rng_below(&g.r, 5);
				for (unsigned b = 0; b < burst && !s->done; b++)
					sess_step(&g, s);
				if (!s->done) {
					i++;
					continue;
				}
				sess_free(s);
				if (can_start(&g))
					act[i] = sess_new(&g);
				else
					act[i] = act[--n];
			}
		}
		free(act);
	}
	out_flush(&g.out);
	if (fclose(g.out.f) != 0) {
		fprintf(stderr, "gen_traffic: writing %s: %s\n", path, strerror(errno));
		return 1;
	}
	free(g.out.buf);
	double dt = bench_now() - t0;
	fprintf(stderr, "gen_traffic: %s: %llu sessions, %llu messages, %llu frames, %.1f MB "
		"(%.1f MB TCP payload) in %.1f s\n", path, (unsigned long long)g.sessions,
		(unsigned long long)g.msgs, (unsigned long long)g.out.frames, g.out.bytes / 1e6,
		g.payload / 1e6, dt);
	return 0;
}
