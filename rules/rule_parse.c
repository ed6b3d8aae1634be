#include "rule_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailaddr.h"
#include "mail.h"
#include "sink.h"
#include "slice.h"

/* ---- lexer ------------------------------------------------------------
 *
 * Tokens never span lines.  A logical line (one rule) ends at a newline
 * that is not preceded by a continuation '\' (only blanks may follow the
 * '\').  '#' outside a string starts a comment that runs to the end of the
 * physical line.  Columns are 1-based byte offsets in the physical line. */

enum tok_type { TK_WORD, TK_STRING, TK_COMMA, TK_OP };

struct tok {
	enum tok_type t;
	const char *p;			/* strings: the bytes between the quotes, raw */
	size_t n;
	unsigned line, col;
};

struct lexer {
	const char *file;
	const char *buf;
	size_t len, pos, line_start;
	unsigned line;
	struct tok *toks;
	size_t n, cap;
	struct sl_rule_error *err;
};

static int lx_err(struct lexer *lx, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int lx_err(struct lexer *lx, size_t at, const char *fmt, ...)
{
	char m[SL_RULE_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	return sl_rule_error_set(lx->err, lx->file, lx->line, (unsigned)(at - lx->line_start + 1),
				 "%s", m);
}

static bool is_word_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != '#' && c != '<' &&
	       c != '>' && c != '=' && c != '\\';
}

static int push_tok(struct lexer *lx, enum tok_type t, size_t at, const char *p, size_t n)
{
	if (lx->n == SL_RULE_TOKENS_MAX)
		return lx_err(lx, at, "rule has more than %u tokens", SL_RULE_TOKENS_MAX);
	if (lx->n == lx->cap) {
		size_t cap = lx->cap ? lx->cap * 2 : 32;
		struct tok *v = realloc(lx->toks, cap * sizeof(*v));

		if (!v)
			return lx_err(lx, at, "out of memory");
		lx->toks = v;
		lx->cap = cap;
	}
	lx->toks[lx->n++] = (struct tok){ t, p, n, lx->line, (unsigned)(at - lx->line_start + 1) };
	return 0;
}

static void lx_newline(struct lexer *lx)
{
	lx->pos++;
	lx->line++;
	lx->line_start = lx->pos;
}

static int bad_byte(struct lexer *lx, size_t at, unsigned char c, const char *where)
{
	if (c == 0)
		return lx_err(lx, at, "NUL byte %s", where);
	if (c >= 0x80)
		return lx_err(lx, at, "non-ASCII byte 0x%02x %s (allowed only in strings)", c,
			      where);
	return lx_err(lx, at, "control character 0x%02x %s", c, where);
}

static int lex_string(struct lexer *lx)
{
	const char *b = lx->buf;
	size_t i = lx->pos, j = i + 1;

	for (; j < lx->len && b[j] != '"' && b[j] != '\n'; j++) {
		unsigned char c = (unsigned char)b[j];

		if (c == '\\' && j + 1 < lx->len && b[j + 1] != '\n')
			j++;
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			return c == '\r' && j + 1 < lx->len && b[j + 1] == '\n'
			       ? lx_err(lx, i, "unterminated string")
			       : bad_byte(lx, j, c, "in a string (write it as an escape)");
	}
	if (j >= lx->len || b[j] != '"')
		return lx_err(lx, i, "unterminated string");
	if (push_tok(lx, TK_STRING, i, b + i + 1, j - i - 1))
		return -1;
	lx->pos = j + 1;
	return 0;
}

/* Gathers the tokens of the next rule.  Returns 1 with lx->n > 0, 0 at the
 * end of the input, -1 on error. */
static int lex_rule(struct lexer *lx)
{
	const char *b = lx->buf;

	lx->n = 0;
	while (lx->pos < lx->len) {
		size_t i = lx->pos, j;
		unsigned char c = (unsigned char)b[i];

		switch (c) {
		case '\n':
			lx_newline(lx);
			if (lx->n)
				return 1;
			continue;
		case ' ': case '\t': case '\r':
			lx->pos++;
			continue;
		case '#':
			while (lx->pos < lx->len && b[lx->pos] != '\n')
				lx->pos++;
			continue;
		case '\\':
			j = i + 1;
			while (j < lx->len && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r'))
				j++;
			if (j < lx->len && b[j] != '\n')
				return lx_err(lx, i,
					      "stray '\\' (a continuation '\\' must end the line)");
			lx->pos = j;
			if (j < lx->len)
				lx_newline(lx);
			continue;
		case '"':
			if (lex_string(lx))
				return -1;
			continue;
		case ',':
			if (push_tok(lx, TK_COMMA, i, b + i, 1))
				return -1;
			lx->pos++;
			continue;
		case '<': case '>': case '=':
			j = (c != '=' && i + 1 < lx->len && b[i + 1] == '=') ? 2 : 1;
			if (push_tok(lx, TK_OP, i, b + i, j))
				return -1;
			lx->pos += j;
			continue;
		}
		if (!is_word_char(c)) {
			if (c < 0x20 || c >= 0x7f)
				return bad_byte(lx, i, c, "in a rule");
			return lx_err(lx, i, "unexpected character '%c'", c);
		}
		for (j = i; j < lx->len && is_word_char((unsigned char)b[j]); j++)
			;
		if (push_tok(lx, TK_WORD, i, b + i, j - i))
			return -1;
		lx->pos = j;
	}
	return lx->n ? 1 : 0;
}

/* ---- parser ---------------------------------------------------------- */

enum opt {
	O_KEYWORD, O_REGEX, O_LIST, O_EXT, O_NAME, O_TYPE, O_SIZE,
	O_DIR, O_PROTO, O_MSG, O_SUBADDRESS, O_NOCASE, O_AGAINST,
	O_COUNT
};

static const char *const opt_names[O_COUNT] = {
	"keyword", "regex", "list", "ext", "name", "type", "size",
	"dir", "proto", "msg", "subaddress", "nocase", "against",
};

#define OPTS_CONTENT ((1u << O_KEYWORD) | (1u << O_REGEX) | (1u << O_LIST))
#define OPTS_OBJECT ((1u << O_EXT) | (1u << O_NAME) | (1u << O_TYPE) | (1u << O_SIZE))
#define OPTS_SPOOF ((1u << O_SUBADDRESS) | (1u << O_NOCASE) | (1u << O_AGAINST))

struct parser {
	const char *file;
	const struct tok *t;
	size_t n, i;
	struct sl_rule_error *err;
	const struct tok *opt_tok[O_COUNT];	/* where each option was given */
};

static int perr_at(struct parser *ps, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int perr_at(struct parser *ps, unsigned line, unsigned col, const char *fmt, ...)
{
	char m[SL_RULE_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	return sl_rule_error_set(ps->err, ps->file, line, col, "%s", m);
}

#define perr(ps, tk, ...) perr_at((ps), (tk)->line, (tk)->col, __VA_ARGS__)

static const struct tok *peek(const struct parser *ps)
{
	return ps->i < ps->n ? &ps->t[ps->i] : NULL;
}

/* The position just past the last token, for "expected X" at the end. */
static void end_pos(const struct parser *ps, unsigned *line, unsigned *col)
{
	const struct tok *l = &ps->t[ps->n - 1];

	*line = l->line;
	*col = l->col + (unsigned)l->n + (l->t == TK_STRING ? 2 : 0);
}

static bool tok_is(const struct tok *t, const char *w)
{
	return t && t->t == TK_WORD && t->n == strlen(w) && memcmp(t->p, w, t->n) == 0;
}

/* "expected X after 'Y'", at the offending token or at the end. */
static int expected(struct parser *ps, const char *what, const char *after)
{
	const struct tok *t = peek(ps);
	unsigned line, col;

	if (!t) {
		end_pos(ps, &line, &col);
		return perr_at(ps, line, col, "expected %s after '%s'", what, after);
	}
	switch (t->t) {
	case TK_STRING:
		return perr(ps, t, "expected %s after '%s', got a string", what, after);
	case TK_COMMA:
		return perr(ps, t, "expected %s after '%s', got ','", what, after);
	default:
		return perr(ps, t, "expected %s after '%s', got '%.*s'", what, after, (int)t->n,
			    t->p);
	}
}

static char *dup_n(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static void lower_ascii(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes a string token's escapes (\\ \" \n \r \t \xHH) into a malloc'd,
 * NUL-terminated buffer; *len gets its length.  NUL bytes (\x00) only
 * where allow_nul (keywords: lengths are explicit there). */
static char *cook(struct parser *ps, const struct tok *t, size_t *len, bool allow_nul)
{
	char *out = malloc(t->n + 1);
	size_t o = 0;

	if (!out) {
		perr(ps, t, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++) {
		char c = t->p[i];
		unsigned col = t->col + 1 + (unsigned)i;

		if (c == '\\') {
			char e = t->p[++i];
			int h, l;

			switch (e) {
			case '\\': case '"': c = e; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'x':
				if (i + 2 >= t->n || (h = hexval(t->p[i + 1])) < 0 ||
				    (l = hexval(t->p[i + 2])) < 0) {
					perr_at(ps, t->line, col, "'\\x' needs two hex digits");
					goto fail;
				}
				c = (char)(h << 4 | l);
				i += 2;
				if (c == 0 && !allow_nul) {
					perr_at(ps, t->line, col,
						"NUL byte (\\x00) not allowed here");
					goto fail;
				}
				break;
			default:
				perr_at(ps, t->line, col, "unknown escape '\\%c' "
					"(valid: \\\\ \\\" \\n \\r \\t \\xHH)", e);
				goto fail;
			}
		}
		out[o++] = c;
	}
	out[o] = '\0';
	*len = o;
	return out;
fail:
	free(out);
	return NULL;
}

static int push_str(struct parser *ps, const struct tok *t, char ***v, unsigned *n, char *s)
{
	char **nv;

	if (!s || !(nv = realloc(*v, (*n + 1) * sizeof(**v)))) {
		free(s);
		return perr(ps, t, "out of memory");
	}
	nv[(*n)++] = s;
	*v = nv;
	return 0;
}

/* keyword [nocase] "s" [, "s"]...   regex [nocase|dotall|multiline|utf8]... "re" [, "re"]... */
static int parse_patterns(struct parser *ps, struct sl_rule *r, bool regex)
{
	static const struct { const char *w; uint32_t f; bool regex_only; } mods[] = {
		{ "nocase", SL_PAT_NOCASE, false },
		{ "dotall", SL_PAT_DOTALL, true },
		{ "multiline", SL_PAT_MULTILINE, true },
		{ "utf8", SL_PAT_UTF8, true },
	};
	const char *what = regex ? "regex" : "keyword";
	uint32_t flags = 0;
	const struct tok *t;

	for (;;) {
		unsigned m = 0;

		t = peek(ps);
		while (m < sizeof(mods) / sizeof(mods[0]) && !tok_is(t, mods[m].w))
			m++;
		if (m == sizeof(mods) / sizeof(mods[0]))
			break;
		if (mods[m].regex_only && !regex)
			return perr(ps, t, "'%s' applies only to regex", mods[m].w);
		if (flags & mods[m].f)
			return perr(ps, t, "'%s' given twice", mods[m].w);
		flags |= mods[m].f;
		ps->i++;
	}
	for (;;) {
		t = peek(ps);
		if (!t || t->t != TK_STRING)
			return expected(ps, regex ? "a quoted regex" : "a quoted keyword",
					r->n_pats ? "," : what);
		ps->i++;
		struct sl_rule_pattern p = { .flags = flags, .line = t->line, .column = t->col };

		if (regex) {
			p.len = t->n;
			p.text = dup_n(t->p, t->n);
			if (!p.text)
				return perr(ps, t, "out of memory");
		} else if (!(p.text = cook(ps, t, &p.len, true))) {
			return -1;
		}
		struct sl_rule_pattern *v = realloc(r->pats, (r->n_pats + 1) * sizeof(*v));

		if (!v) {
			free(p.text);
			return perr(ps, t, "out of memory");
		}
		r->pats = v;
		r->pats[r->n_pats++] = p;
		if (p.len == 0)
			return perr(ps, t, "empty %s", what);
		if (p.len > (regex ? SL_RULE_REGEX_MAX : SL_RULE_KEYWORD_MAX))
			return perr(ps, t, "%s longer than %u bytes", what,
				    regex ? SL_RULE_REGEX_MAX : SL_RULE_KEYWORD_MAX);
		t = peek(ps);
		if (!t || t->t != TK_COMMA)
			return 0;
		ps->i++;
	}
}

/* VALUE [, VALUE]... where VALUE is a word or a string.  check() validates
 * and normalises one value in place; returns NULL or an error message. */
typedef const char *(*value_check_fn)(char *s, size_t n);

static int parse_values(struct parser *ps, const char *opt, char ***v, unsigned *n,
			value_check_fn check)
{
	for (;;) {
		const struct tok *t = peek(ps);
		char *s;
		size_t len;
		const char *why;

		if (!t || (t->t != TK_WORD && t->t != TK_STRING))
			return expected(ps, "a value", *n ? "," : opt);
		ps->i++;
		if (t->t == TK_STRING)
			s = cook(ps, t, &len, false);
		else
			s = dup_n(t->p, len = t->n);
		if (!s)
			return t->t == TK_STRING ? -1 : perr(ps, t, "out of memory");
		if ((why = check(s, len))) {
			free(s);
			return perr(ps, t, "%s", why);
		}
		if (push_str(ps, t, v, n, s))
			return -1;
		t = peek(ps);
		if (!t || t->t != TK_COMMA)
			return 0;
		ps->i++;
	}
}

static const char *check_ext(char *s, size_t n)
{
	if (s[0] == '.')
		memmove(s, s + 1, n--);
	if (n == 0)
		return "empty extension";
	if (s[n - 1] == '.')
		return "an extension cannot end with '.'";
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == '\\' || s[i] == ' ' || (unsigned char)s[i] < 0x20)
			return "an extension cannot hold '/', '\\', spaces or control characters";
	lower_ascii(s);
	return NULL;
}

static const char *check_glob(char *s, size_t n)
{
	return n == 0 ? "empty pattern" : NULL;
}

static const char *check_type(char *s, size_t n)
{
	if (n == 0)
		return "empty content type";
	lower_ascii(s);
	return NULL;
}

/* A word out of a closed set, after 'after' (the option or a comma);
 * returns its index or -1 (error set). */
static int parse_choice(struct parser *ps, const char *opt, const char *after,
			const char *const *words, unsigned n, const char *expect)
{
	const struct tok *t = peek(ps);

	if (!t || t->t != TK_WORD)
		return expected(ps, expect, after);
	for (unsigned i = 0; i < n; i++) {
		if (tok_is(t, words[i])) {
			ps->i++;
			return (int)i;
		}
	}
	return perr(ps, t, "unknown value '%.*s' for '%s' (expected %s)", (int)t->n, t->p, opt,
		    expect);
}

/* A comma-separated list of words out of a closed set, as a bit mask. */
static int parse_choices(struct parser *ps, const char *opt, const char *const *words,
			 unsigned n, const char *expect, uint32_t *mask)
{
	const char *after = opt;

	for (;;) {
		int c = parse_choice(ps, opt, after, words, n, expect);

		if (c < 0)
			return -1;
		*mask |= 1u << c;
		const struct tok *t = peek(ps);

		if (!t || t->t != TK_COMMA)
			return 0;
		ps->i++;
		after = ",";
	}
}

static int parse_size(struct parser *ps, struct sl_rule *r)
{
	static const char *const ops[] = { "<", "<=", ">", ">=", "=" };
	const struct tok *t = peek(ps);
	unsigned i = 0;

	if (!t || t->t != TK_OP)
		return expected(ps, "a comparison (<, <=, >, >=, =)", "size");
	while (i < 5 && !(t->n == strlen(ops[i]) && memcmp(t->p, ops[i], t->n) == 0))
		i++;
	ps->i++;
	r->policy.size_op = (enum sl_cmp)i;
	t = peek(ps);
	if (!t || t->t != TK_WORD)
		return expected(ps, "a size (like 25M)", ops[i]);
	ps->i++;
	if (sl_size_parse(t->p, t->n, &r->policy.size))
		return perr(ps, t, "invalid size '%.*s' (a number with an optional K, M or G "
			    "suffix, powers of 1024, at most 16E)", (int)t->n, t->p);
	r->policy.has_size = true;
	return 0;
}

/* The string after option 'opt', decoded (no NUL allowed); *tp gets its
 * token.  NULL with the error set when it is not a string. */
static char *take_string(struct parser *ps, const char *what, const char *opt,
			 const struct tok **tp, size_t *n)
{
	const struct tok *t = peek(ps);

	if (!t || t->t != TK_STRING) {
		expected(ps, what, opt);
		return NULL;
	}
	ps->i++;
	*tp = t;
	return cook(ps, t, n, false);
}

static int parse_msg(struct parser *ps, struct sl_rule *r)
{
	const struct tok *t;
	size_t n;

	if (!(r->msg = take_string(ps, "a quoted message", "msg", &t, &n)))
		return -1;
	if (n == 0)
		return perr(ps, t, "empty msg");
	if (n > SL_RULE_MSG_MAX)
		return perr(ps, t, "msg longer than %u bytes", SL_RULE_MSG_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r->msg[i] < 0x20 || r->msg[i] == 0x7f)
			return perr(ps, t, "control character in msg");
	return 0;
}

/* Relative list paths are relative to the rule file's directory. */
static int parse_list(struct parser *ps, struct sl_rule *r)
{
	const struct tok *t;
	const char *slash = strrchr(ps->file, '/');
	size_t n;
	char *p;

	if (!(p = take_string(ps, "a quoted file name", "list", &t, &n)))
		return -1;
	r->list_line = t->line;
	r->list_column = t->col;
	if (n == 0) {
		free(p);
		return perr(ps, t, "empty file name");
	}
	if (p[0] == '/' || !slash) {
		r->list_path = p;
		return 0;
	}
	int dl = (int)(slash - ps->file);

	if (asprintf(&r->list_path, "%.*s/%s", dl, ps->file, p) < 0) {
		r->list_path = NULL;
		free(p);
		return perr(ps, t, "out of memory");
	}
	free(p);
	return 0;
}

static int parse_subaddress(struct parser *ps, struct sl_rule *r)
{
	const struct tok *t;
	size_t n;
	char *s;

	if (!(s = take_string(ps, "a quoted separator (like \"+\")", "subaddress", &t, &n)))
		return -1;
	bool ok = n >= 1 && n < SL_SPOOF_SEP_MAX;

	for (size_t i = 0; ok && i < n; i++)
		ok = s[i] > 0x20 && s[i] < 0x7f && s[i] != '@';
	if (ok)
		memcpy(r->spoof.subaddr, s, n + 1);
	free(s);
	if (!ok)
		return perr(ps, t, "a subaddress separator is 1 to %u printable characters other "
			    "than '@'", SL_SPOOF_SEP_MAX - 1);
	return 0;
}

static const char *const dir_words[] = { "to_server", "to_client" };
static const char *const proto_words[] = { "smtp", "imap", "pop3" };
static const char *const against_words[] = { "mail_from", "hdr_from" };

static int parse_option(struct parser *ps, struct sl_rule *r, enum opt o)
{
	uint32_t mask = 0;
	int c;

	switch (o) {
	case O_KEYWORD:
		return parse_patterns(ps, r, false);
	case O_REGEX:
		return parse_patterns(ps, r, true);
	case O_LIST:
		return parse_list(ps, r);
	case O_EXT:
		return parse_values(ps, "ext", &r->policy.exts, &r->policy.n_exts, check_ext);
	case O_NAME:
		return parse_values(ps, "name", &r->policy.names, &r->policy.n_names, check_glob);
	case O_TYPE:
		return parse_values(ps, "type", &r->policy.types, &r->policy.n_types, check_type);
	case O_SIZE:
		return parse_size(ps, r);
	case O_DIR:
		c = parse_choice(ps, "dir", "dir", dir_words, 2, "to_server or to_client");
		if (c < 0)
			return -1;
		r->dirs = (uint8_t)(1u << (c == 0 ? SL_TO_SERVER : SL_TO_CLIENT));
		return 0;
	case O_PROTO:
		if (parse_choices(ps, "proto", proto_words, 3, "smtp, imap or pop3", &mask))
			return -1;
		r->protos = (uint8_t)(((mask & 1) ? 1u << SL_PROTO_SMTP : 0) |
				      ((mask & 2) ? 1u << SL_PROTO_IMAP : 0) |
				      ((mask & 4) ? 1u << SL_PROTO_POP3 : 0));
		return 0;
	case O_MSG:
		return parse_msg(ps, r);
	case O_SUBADDRESS:
		return parse_subaddress(ps, r);
	case O_NOCASE:
		r->spoof.nocase_local = true;
		return 0;
	case O_AGAINST:
		if (parse_choices(ps, "against", against_words, 2, "mail_from or hdr_from", &mask))
			return -1;
		r->spoof.against = ((mask & 1) ? SL_ADDR_MAIL_FROM : 0) |
				   ((mask & 2) ? SL_ADDR_HDR_FROM : 0);
		return 0;
	case O_COUNT:
		break;
	}
	return -1;
}

static const char *const id_err =
	"invalid rule id '%.*s' (letters, digits, '_', '-', '.', ':'; first a letter or digit)";

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int parse_head(struct parser *ps, struct sl_rule *r)
{
	static const char *const actions[] = { "alert", "tempfail", "block" };
	static const enum sl_action acts[] = {
		SL_ACTION_ALERT, SL_ACTION_TEMPFAIL, SL_ACTION_BLOCK,
	};
	const struct tok *t = peek(ps);
	unsigned i = 0;

	r->line = t->line;
	r->column = t->col;
	if (t->t != TK_WORD)
		return perr(ps, t,
			    "expected an action (alert, tempfail or block) at the start of a rule");
	while (i < 3 && !tok_is(t, actions[i]))
		i++;
	if (i == 3)
		return perr(ps, t, "unknown action '%.*s' (expected alert, tempfail or block)",
			    (int)t->n, t->p);
	r->action = acts[i];
	ps->i++;
	t = peek(ps);
	if (!t || t->t != TK_WORD)
		return expected(ps, "a rule id", actions[i]);
	if (t->n > SL_RULE_ID_MAX)
		return perr(ps, t, "rule id longer than %u bytes", SL_RULE_ID_MAX);
	for (size_t k = 0; k < t->n; k++) {
		char c = t->p[k];

		if (!is_alnum(c) && (k == 0 || (c != '_' && c != '-' && c != '.' && c != ':')))
			return perr(ps, t, id_err, (int)t->n, t->p);
	}
	r->id_column = t->col;
	if (!(r->id = dup_n(t->p, t->n)))
		return perr(ps, t, "out of memory");
	ps->i++;
	return 0;
}

/* Targets are words separated by commas; what they mean depends on the
 * options (scopes, address fields, or 'spoof'), so they are kept as tokens
 * until the options are known.  Returns the number of targets or -1. */
static int gather_targets(struct parser *ps, const char *id, size_t *first)
{
	int n = 0;

	*first = ps->i;
	for (;;) {
		const struct tok *t = peek(ps);

		if (!t || t->t != TK_WORD)
			return n ? expected(ps, "a target", ",")
				 : expected(ps, "targets (scopes, address fields or 'spoof')", id);
		for (unsigned o = 0; n == 0 && o < O_COUNT; o++)
			if (tok_is(t, opt_names[o]))
				return perr(ps, t, "expected targets (scopes, address fields or "
					    "'spoof') after '%s', got option '%s'", id, opt_names[o]);
		ps->i++;
		n++;
		t = peek(ps);
		if (!t || t->t != TK_COMMA)
			return n;
		ps->i++;
	}
}

struct target_word {
	const char *w;
	uint32_t bits;
};

static const struct target_word addr_targets[] = {
	{ "mail_from", SL_ADDR_MAIL_FROM },
	{ "rcpt_to", SL_ADDR_RCPT_TO },
	{ "auth_user", SL_ADDR_AUTH_USER },
	{ "hdr_from", SL_ADDR_HDR_FROM },
	{ "hdr_to", SL_ADDR_HDR_TO },
	{ "sender", SL_ADDR_MAIL_FROM | SL_ADDR_HDR_FROM },
	{ "recipient", SL_ADDR_RCPT_TO | SL_ADDR_HDR_TO },
};

static int resolve_addr_targets(struct parser *ps, struct sl_rule *r, size_t first, int n)
{
	for (int k = 0; k < n; k++) {
		const struct tok *t = &ps->t[first + 2 * (size_t)k];
		unsigned i = 0;

		while (i < sizeof(addr_targets) / sizeof(addr_targets[0]) &&
		       !tok_is(t, addr_targets[i].w))
			i++;
		if (i == sizeof(addr_targets) / sizeof(addr_targets[0]))
			return perr(ps, t, "'%.*s' is not an address field (expected mail_from, "
				    "rcpt_to, auth_user, hdr_from, hdr_to, sender or recipient)",
				    (int)t->n, t->p);
		if ((r->addr_targets & addr_targets[i].bits) == addr_targets[i].bits)
			return perr(ps, t, "target '%.*s' listed twice", (int)t->n, t->p);
		r->addr_targets |= addr_targets[i].bits;
	}
	return 0;
}

static int add_header_target(struct parser *ps, struct sl_rule *r, const struct tok *t)
{
	const char *name = t->p + 7;
	size_t n = t->n - 7;
	char *s;

	if (r->scopes & (1u << SL_SCOPE_HEADER))
		return perr(ps, t, "'header' already covers every header");
	if (n == 0)
		return perr(ps, t, "empty header name after 'header:'");
	if (memchr(name, ':', n))
		return perr(ps, t, "a header name cannot hold ':'");
	if (!(s = dup_n(name, n)))
		return perr(ps, t, "out of memory");
	lower_ascii(s);
	for (unsigned i = 0; i < r->n_headers; i++) {
		if (strcmp(r->headers[i], s) == 0) {
			free(s);
			return perr(ps, t, "target '%.*s' listed twice", (int)t->n, t->p);
		}
	}
	return push_str(ps, t, &r->headers, &r->n_headers, s);
}

static int resolve_scopes(struct parser *ps, struct sl_rule *r, size_t first, int n)
{
	for (int k = 0; k < n; k++) {
		const struct tok *t = &ps->t[first + 2 * (size_t)k];
		char w[32];
		enum sl_scope s;

		if (t->n >= 7 && memcmp(t->p, "header:", 7) == 0) {
			if (add_header_target(ps, r, t))
				return -1;
			continue;
		}
		snprintf(w, sizeof(w), "%.*s", (int)t->n, t->p);
		if (t->n >= sizeof(w) || sl_scope_parse(w, &s) != 0)
			return perr(ps, t, "unknown scope '%.*s' (expected body, attachment, "
				    "header, header:NAME, subject, filename, mail_from, rcpt_to, "
				    "auth_user or raw)", (int)t->n, t->p);
		if (s == SL_SCOPE_HEADER && r->n_headers)
			return perr(ps, t, "'header' already covers every header");
		if (r->scopes & (1u << s))
			return perr(ps, t, "target '%.*s' listed twice", (int)t->n, t->p);
		r->scopes |= 1u << s;
	}
	if (r->n_headers)
		r->scopes |= 1u << SL_SCOPE_HEADER;
	return 0;
}

/* Object tests only make sense on objects that have what they test. */
static int check_object_opts(struct parser *ps, const struct sl_rule *r, uint32_t seen)
{
	const uint32_t named = (1u << SL_SCOPE_FILENAME) | (1u << SL_SCOPE_ATTACHMENT);
	/* filename objects carry the name only, not the part's type */
	const uint32_t typed = (1u << SL_SCOPE_ATTACHMENT) | (1u << SL_SCOPE_TEXT);

	if ((seen & (1u << O_EXT)) && (r->scopes & ~named))
		return perr(ps, ps->opt_tok[O_EXT], "'ext' applies only to the filename and "
			    "attachment scopes");
	if ((seen & (1u << O_NAME)) && (r->scopes & ~named))
		return perr(ps, ps->opt_tok[O_NAME], "'name' applies only to the filename and "
			    "attachment scopes");
	if ((seen & (1u << O_TYPE)) && (r->scopes & ~typed))
		return perr(ps, ps->opt_tok[O_TYPE], "'type' applies only to the body and "
			    "attachment scopes");
	return 0;
}

/* The first option of 'mask' that was given, in rule order. */
static const struct tok *first_opt(const struct parser *ps, uint32_t seen, uint32_t mask,
				   enum opt *which)
{
	const struct tok *best = NULL;

	for (unsigned o = 0; o < O_COUNT; o++) {
		if (!(seen & mask & (1u << o)))
			continue;
		if (!best || ps->opt_tok[o] < best) {
			best = ps->opt_tok[o];
			*which = (enum opt)o;
		}
	}
	return best;
}

static int resolve_kind(struct parser *ps, struct sl_rule *r, size_t first, int n, uint32_t seen)
{
	const struct tok *head = &ps->t[0];
	const struct tok *t;
	enum opt o;

	for (int k = 0; k < n && n > 1; k++) {
		t = &ps->t[first + 2 * (size_t)k];
		if (tok_is(t, "spoof"))
			return perr(ps, t, "'spoof' cannot be combined with other targets");
	}
	if (n == 1 && tok_is(&ps->t[first], "spoof")) {
		if ((t = first_opt(ps, seen, OPTS_CONTENT | OPTS_OBJECT, &o)))
			return perr(ps, t, "option '%s' cannot be used in a spoof rule",
				    opt_names[o]);
		r->kind = SL_RULE_SPOOF;
		if (!r->spoof.against)
			r->spoof.against = SL_ADDR_MAIL_FROM | SL_ADDR_HDR_FROM;
		return 0;
	}
	if ((t = first_opt(ps, seen, OPTS_SPOOF, &o))) {
		if (o == O_NOCASE)
			return perr(ps, t, "'nocase' must follow keyword or regex (or belong to a "
				    "spoof rule)");
		return perr(ps, t, "option '%s' applies only to spoof rules", opt_names[o]);
	}
	if (seen & (1u << O_LIST)) {
		if ((t = first_opt(ps, seen, (OPTS_CONTENT | OPTS_OBJECT) & ~(1u << O_LIST), &o)))
			return perr(ps, t, "option '%s' cannot be combined with 'list'",
				    opt_names[o]);
		r->kind = SL_RULE_LIST;
		return resolve_addr_targets(ps, r, first, n);
	}
	if ((seen & (1u << O_KEYWORD)) && (seen & (1u << O_REGEX))) {
		bool kw_first = ps->opt_tok[O_KEYWORD] < ps->opt_tok[O_REGEX];

		return perr(ps, ps->opt_tok[kw_first ? O_REGEX : O_KEYWORD],
			    "'%s' cannot be combined with '%s' in one rule (write two rules)",
			    kw_first ? "regex" : "keyword", kw_first ? "keyword" : "regex");
	}
	if (seen & (1u << O_KEYWORD))
		r->kind = SL_RULE_KEYWORD;
	else if (seen & (1u << O_REGEX))
		r->kind = SL_RULE_REGEX;
	else if (seen & OPTS_OBJECT)
		r->kind = SL_RULE_POLICY;
	else
		return perr(ps, head, "rule '%s' has nothing to match (add keyword, regex, list, "
			    "ext, name, type or size)", r->id);
	if (resolve_scopes(ps, r, first, n))
		return -1;
	return check_object_opts(ps, r, seen);
}

static int parse_rule(struct parser *ps, struct sl_rule *r)
{
	uint32_t seen = 0;
	size_t first;
	int n;

	memset(ps->opt_tok, 0, sizeof(ps->opt_tok));
	r->file = ps->file;
	if (parse_head(ps, r))
		return -1;
	if ((n = gather_targets(ps, r->id, &first)) < 0)
		return -1;
	while (ps->i < ps->n) {
		const struct tok *t = peek(ps);
		unsigned o = 0;

		if (t->t != TK_WORD)
			return perr(ps, t, "expected an option name, got %s",
				    t->t == TK_STRING ? "a string" :
				    t->t == TK_COMMA ? "','" : "an operator");
		while (o < O_COUNT && !tok_is(t, opt_names[o]))
			o++;
		if (o == O_COUNT)
			return perr(ps, t, "unknown option '%.*s'", (int)t->n, t->p);
		if (seen & (1u << o))
			return perr(ps, t, "option '%s' given twice", opt_names[o]);
		seen |= 1u << o;
		ps->opt_tok[o] = t;
		ps->i++;
		if (parse_option(ps, r, (enum opt)o))
			return -1;
	}
	if (resolve_kind(ps, r, first, n, seen))
		return -1;
	if (!r->msg)
		return perr(ps, &ps->t[0], "rule '%s' has no msg", r->id);
	return 0;
}

static void rule_free(struct sl_rule *r)
{
	free(r->id);
	free(r->msg);
	for (unsigned i = 0; i < r->n_headers; i++)
		free(r->headers[i]);
	free(r->headers);
	for (unsigned i = 0; i < r->n_pats; i++)
		free(r->pats[i].text);
	free(r->pats);
	sl_attach_policy_free(&r->policy);
	free(r->list_path);
}

int sl_rule_parse(const char *file, const char *buf, size_t len, struct sl_rule_vec *out,
		  struct sl_rule_error *err)
{
	struct lexer lx = { .file = file, .buf = buf, .len = len, .line = 1, .err = err };
	int rc;

	while ((rc = lex_rule(&lx)) > 0) {
		struct parser ps = { .file = file, .t = lx.toks, .n = lx.n, .err = err };
		struct sl_rule r = { 0 };

		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 64;
			struct sl_rule *v = realloc(out->v, cap * sizeof(*v));

			if (!v) {
				rc = sl_rule_error_set(err, file, lx.toks[0].line, lx.toks[0].col,
						       "out of memory");
				break;
			}
			out->v = v;
			out->cap = cap;
		}
		if (parse_rule(&ps, &r)) {
			rule_free(&r);
			rc = -1;
			break;
		}
		out->v[out->n++] = r;
	}
	free(lx.toks);
	return rc < 0 ? -1 : 0;
}

void sl_rule_vec_free(struct sl_rule_vec *v)
{
	for (size_t i = 0; i < v->n; i++)
		rule_free(&v->v[i]);
	free(v->v);
	memset(v, 0, sizeof(*v));
}

const char *sl_rule_kind_name(enum sl_rule_kind k)
{
	static const char *const names[SL_RULE_KIND_COUNT] = {
		[SL_RULE_KEYWORD] = "keyword",
		[SL_RULE_REGEX] = "regex",
		[SL_RULE_POLICY] = "policy",
		[SL_RULE_LIST] = "list",
		[SL_RULE_SPOOF] = "spoof",
	};

	return (unsigned)k < SL_RULE_KIND_COUNT ? names[k] : "unknown";
}
