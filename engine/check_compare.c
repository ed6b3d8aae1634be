#include "check_compare.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
	char *buf;
	size_t len;
	FILE *f;
	unsigned n;
};

static void miss(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void miss(struct out *o, const char *fmt, ...)
{
	va_list ap;

	fputs("  ", o->f);
	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
	fputc('\n', o->f);
	o->n++;
}

/* The value at a dotted path ("verdict.action"), NULL where it ends. */
static json_t *at(json_t *o, const char *path)
{
	char key[64];
	const char *dot;

	while (o && (dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	return o ? json_object_get(o, path) : NULL;
}

static const char *str_of(json_t *o, const char *path)
{
	return json_string_value(at(o, path));
}

/* A short rendering of a JSON value for messages. */
static char *show(json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("(none)");

	if (s && strlen(s) > 160)
		strcpy(s + 150, "...");
	return s;
}

static int cmp_msg_id(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "message_id"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "message_id"));

	return x < y ? -1 : x > y;
}

static size_t collect(json_t *events, const char *type, json_t ***out)
{
	size_t i, n = 0;
	json_t *e;

	*out = calloc(json_array_size(events) + 1, sizeof(**out));
	json_array_foreach(events, i, e) {
		const char *t = json_string_value(json_object_get(e, "event_type"));
		if (t && strcmp(t, type) == 0)
			(*out)[n++] = e;
	}
	if (strcmp(type, "message") == 0)
		qsort(*out, n, sizeof(**out), cmp_msg_id);
	return n;
}

static bool reason_matches(json_t *reasons, const char *glob)
{
	size_t i;
	json_t *r;
	char ki[256];

	json_array_foreach(reasons, i, r) {
		snprintf(ki, sizeof(ki), "%s:%s", str_of(r, "kind") ? str_of(r, "kind") : "",
			 str_of(r, "id") ? str_of(r, "id") : "");
		if (fnmatch(glob, ki, 0) == 0)
			return true;
	}
	return false;
}

static bool has_string(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* Anomaly names in expectations are globs ("*bad_c*sum"). */
static bool has_match(json_t *arr, const char *glob)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && fnmatch(glob, json_string_value(v), 0) == 0)
			return true;
	return false;
}

static bool part_matches(json_t *want, json_t *parts)
{
	size_t i;
	json_t *p;

	json_array_foreach(parts, i, p) {
		const char *k;
		json_t *v;
		bool all = true;
		json_object_foreach(want, k, v) {
			if (!json_equal(v, json_object_get(p, k))) {
				all = false;
				break;
			}
		}
		if (all)
			return true;
	}
	return false;
}

/* Field name in the expectation -> where it is in the event. */
static const struct {
	const char *key, *path;
} scalar_fields[] = {
	{ "proto", "app_proto" },
	{ "direction", "direction" },
	{ "verdict", "verdict.action" },
	{ "sha256", "email.sha256" },
	{ "subject", "email.subject" },
	{ "from", "email.from" },
	{ "mail_from", "smtp.mail_from" },
	{ "auth_user", "smtp.auth_user" },
	{ "helo", "smtp.helo" },
	{ "abort_reason", "abort_reason" },
};

/* Every key an expectation may hold (docs/check.md), top level and per
 * message; NULL-terminated.  "source" and "description" are for people. */
static const char *const top_keys[] = {
	"description", "source", "args", "exit", "error", "messages", "messages_exact",
	"alerts", "anomalies", "absent_anomalies", "flows", NULL,
};
static const char *const message_keys[] = {
	"proto", "direction", "verdict", "sha256", "subject", "from", "mail_from", "auth_user",
	"helo", "abort_reason", "size", "complete", "final_packet", "command", "rcpt_to",
	"reasons", "no_reasons", "anomalies", "attachments", "source", NULL,
};

static bool key_known(const char *const *keys, const char *k)
{
	for (unsigned i = 0; keys[i]; i++)
		if (!strcmp(keys[i], k))
			return true;
	return false;
}

/* "FILE: unknown key "k" [where] (valid: a, b, ...)" into err. */
static void unknown_key(char *err, size_t errlen, const char *file, const char *k,
			const char *where, const char *const *keys)
{
	int n = snprintf(err, errlen, "%s: unknown key \"%s\"%s (valid: ", file, k, where);

	for (unsigned i = 0; keys[i] && n >= 0 && (size_t)n < errlen; i++)
		n += snprintf(err + n, errlen - (size_t)n, "%s%s", i ? ", " : "", keys[i]);
	if (n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, ")");
}

int sl_check_keys(json_t *ex, const char *file, char *err, size_t errlen)
{
	const char *k;
	json_t *v, *m;
	size_t i;

	if (!json_is_object(ex)) {
		snprintf(err, errlen, "%s: an expectation is one JSON object", file);
		return -1;
	}
	json_object_foreach(ex, k, v) {
		if (!key_known(top_keys, k)) {
			unknown_key(err, errlen, file, k, "", top_keys);
			return -1;
		}
	}
	json_array_foreach(json_object_get(ex, "messages"), i, m) {
		char where[48];

		snprintf(where, sizeof(where), " in message %zu", i + 1);
		if (!json_is_object(m)) {
			snprintf(err, errlen, "%s: message %zu is not an object", file, i + 1);
			return -1;
		}
		json_object_foreach(m, k, v) {
			if (!key_known(message_keys, k)) {
				unknown_key(err, errlen, file, k, where, message_keys);
				return -1;
			}
		}
	}
	return 0;
}

static void miss_value(struct out *o, unsigned idx, const char *key, json_t *want, json_t *got)
{
	char *ws = show(want), *gs = show(got);

	miss(o, "message %u: %s: expected %s, got %s", idx, key, ws, gs);
	free(ws);
	free(gs);
}

static void compare_message(struct out *o, unsigned idx, json_t *want, json_t *got)
{
	for (size_t i = 0; i < sizeof(scalar_fields) / sizeof(scalar_fields[0]); i++) {
		json_t *w = json_object_get(want, scalar_fields[i].key);
		if (!w)
			continue;
		json_t *g = at(got, scalar_fields[i].path);
		/* A list means "any of these" (e.g. "verdict": ["pass", "alert"]). */
		bool any = false;
		if (json_is_array(w)) {
			size_t j;
			json_t *alt;
			json_array_foreach(w, j, alt)
				any = any || json_equal(alt, g);
		}
		if (!any && !json_equal(w, g))
			miss_value(o, idx, scalar_fields[i].key, w, g);
	}
	json_t *w;
	if ((w = json_object_get(want, "size")) &&
	    json_integer_value(w) != json_integer_value(at(got, "email.size")))
		miss(o, "message %u: size: expected %lld, got %lld", idx,
		     (long long)json_integer_value(w), (long long)json_integer_value(at(got, "email.size")));
	if ((w = json_object_get(want, "complete")) && json_is_true(w) != json_is_true(at(got, "complete")))
		miss(o, "message %u: complete: expected %s", idx, json_is_true(w) ? "true" : "false");
	if ((w = json_object_get(want, "final_packet")) && !json_equal(w, at(got, "final_packet"))) {
		char *gs = show(at(got, "final_packet"));
		miss(o, "message %u: final_packet: expected %lld, got %s", idx,
		     (long long)json_integer_value(w), gs);
		free(gs);
	}
	if ((w = json_object_get(want, "command"))) {
		json_t *g = at(got, "imap.command") ? at(got, "imap.command") : at(got, "pop3.command");
		if (!json_equal(w, g))
			miss_value(o, idx, "command", w, g);
	}
	if ((w = json_object_get(want, "rcpt_to")) && !json_equal(w, at(got, "smtp.rcpt_to")))
		miss_value(o, idx, "rcpt_to", w, at(got, "smtp.rcpt_to"));
	size_t i;
	json_t *v;
	json_t *reasons = at(got, "verdict.reasons");
	json_array_foreach(json_object_get(want, "reasons"), i, v) {
		if (!reason_matches(reasons, json_string_value(v))) {
			char *gs = show(reasons);
			miss(o, "message %u: no reason matches \"%s\"; reasons: %s", idx,
			     json_string_value(v), gs);
			free(gs);
		}
	}
	json_array_foreach(json_object_get(want, "no_reasons"), i, v) {
		if (reason_matches(reasons, json_string_value(v)))
			miss(o, "message %u: a reason matches \"%s\", which must not happen", idx,
			     json_string_value(v));
	}
	json_array_foreach(json_object_get(want, "anomalies"), i, v) {
		if (!has_match(at(got, "anomalies"), json_string_value(v)))
			miss(o, "message %u: anomaly %s expected, not raised", idx, json_string_value(v));
	}
	json_array_foreach(json_object_get(want, "attachments"), i, v) {
		if (!part_matches(v, at(got, "parts"))) {
			char *ws = show(v);
			miss(o, "message %u: no part matches %s", idx, ws);
			free(ws);
		}
	}
}

/* Every anomaly name any event mentions. */
static bool anomaly_seen(json_t *events, const char *name)
{
	size_t i;
	json_t *e;

	json_array_foreach(events, i, e) {
		if (has_match(json_object_get(e, "anomalies"), name))
			return true;
		const char *n = str_of(e, "anomaly.name");
		if (n && fnmatch(name, n, 0) == 0)
			return true;
	}
	return false;
}

char *sl_check_compare(json_t *ex, json_t *events, int status, const char *errline)
{
	struct out o = { 0 };
	json_t **msgs, **alerts, **flows, *v;
	size_t i;

	o.f = open_memstream(&o.buf, &o.len);
	if (!o.f)
		return strdup("  out of memory\n");
	json_int_t want_exit = json_integer_value(json_object_get(ex, "exit"));
	if (want_exit != status)
		miss(&o, "exit status: expected %lld, got %d%s%s", (long long)want_exit, status,
		     *errline ? " - " : "", errline);
	const char *want_err = json_string_value(json_object_get(ex, "error"));
	if (want_err && !strstr(errline, want_err))
		miss(&o, "error: expected text containing \"%s\", got \"%s\"", want_err, errline);

	size_t nm = collect(events, "message", &msgs);
	size_t na = collect(events, "alert", &alerts);
	size_t nf = collect(events, "flow", &flows);
	json_t *want = json_object_get(ex, "messages");
	bool exact = !json_is_false(json_object_get(ex, "messages_exact"));
	if (want) {
		size_t nw = json_array_size(want);
		if (exact && nw != nm)
			miss(&o, "messages: expected %zu, got %zu", nw, nm);
		json_array_foreach(want, i, v) {
			if (exact) {
				if (i < nm)
					compare_message(&o, (unsigned)i + 1, v, msgs[i]);
				continue;
			}
			/* Not exact: each expected message must match one of them. */
			bool found = false;
			for (size_t j = 0; j < nm && !found; j++) {
				struct out t = { 0 };
				t.f = open_memstream(&t.buf, &t.len);
				compare_message(&t, (unsigned)j + 1, v, msgs[j]);
				fclose(t.f);
				found = t.n == 0;
				free(t.buf);
			}
			if (!found) {
				char *ws = show(v);
				miss(&o, "expected message %zu matches none of the %zu messages: %s", i + 1,
				     nm, ws);
				free(ws);
			}
		}
	}
	json_array_foreach(json_object_get(ex, "alerts"), i, v) {
		bool found = false;
		for (size_t j = 0; j < na && !found; j++) {
			char ki[256];
			snprintf(ki, sizeof(ki), "%s:%s", str_of(alerts[j], "alert.kind"),
				 str_of(alerts[j], "alert.id"));
			found = fnmatch(json_string_value(v), ki, 0) == 0;
		}
		if (!found)
			miss(&o, "no alert matches \"%s\" (%zu alerts)", json_string_value(v), na);
	}
	json_array_foreach(json_object_get(ex, "anomalies"), i, v)
		if (!anomaly_seen(events, json_string_value(v)))
			miss(&o, "anomaly %s expected, not raised", json_string_value(v));
	json_array_foreach(json_object_get(ex, "absent_anomalies"), i, v)
		if (anomaly_seen(events, json_string_value(v)))
			miss(&o, "anomaly %s raised, expected absent", json_string_value(v));
	if ((v = json_object_get(ex, "flows")) && (size_t)json_integer_value(v) != nf)
		miss(&o, "flows: expected %lld, got %zu", (long long)json_integer_value(v), nf);
	free(msgs);
	free(alerts);
	free(flows);
	fclose(o.f);
	if (o.n == 0) {
		free(o.buf);
		return NULL;
	}
	return o.buf;
}

int sl_check_write_expectation(const char *pcap, json_t *old, json_t *args, json_t *events,
			       int status, const char *errline)
{
	json_t *ex = json_object(), **msgs, *arr = json_array(), *anoms = json_array();
	size_t nm = collect(events, "message", &msgs), i;
	json_t *e;

	if (old && json_object_get(old, "description"))
		json_object_set(ex, "description", json_object_get(old, "description"));
	if (!args && old)
		args = json_object_get(old, "args");
	if (args)
		json_object_set(ex, "args", args);
	json_object_set_new(ex, "exit", json_integer(status));
	if (status && *errline) {
		/* The stable part of the error: after the file name. */
		const char *p = strstr(errline, ": ");
		json_object_set_new(ex, "error", json_string(p ? p + 2 : errline));
	}
	for (size_t k = 0; k < nm; k++) {
		json_t *m = msgs[k], *w = json_object(), *rs = json_array(), *att = json_array();
		json_object_set(w, "proto", json_object_get(m, "app_proto"));
		json_object_set(w, "direction", json_object_get(m, "direction"));
		json_object_set(w, "complete", json_object_get(m, "complete"));
		json_object_set(w, "sha256", at(m, "email.sha256"));
		json_object_set(w, "size", at(m, "email.size"));
		json_object_set(w, "verdict", at(m, "verdict.action"));
		json_array_foreach(at(m, "verdict.reasons"), i, e) {
			char ki[256];
			snprintf(ki, sizeof(ki), "%s:%s", str_of(e, "kind"), str_of(e, "id"));
			json_array_append_new(rs, json_string(ki));
		}
		json_object_set_new(w, "reasons", rs);
		json_array_foreach(at(m, "attachments"), i, e) {
			json_t *a = json_object();
			json_object_set(a, "sha256", json_object_get(e, "sha256"));
			json_object_set(a, "filename", json_object_get(e, "filename"));
			json_array_append_new(att, a);
		}
		json_object_set_new(w, "attachments", att);
		json_array_append_new(arr, w);
	}
	json_array_foreach(events, i, e) {
		const char *n = str_of(e, "anomaly.name");
		if (n && !has_string(anoms, n))
			json_array_append_new(anoms, json_string(n));
	}
	json_object_set_new(ex, "messages", arr);
	json_object_set_new(ex, "anomalies", anoms);
	free(msgs);

	const char *dot = strrchr(pcap, '.');
	size_t base = dot ? (size_t)(dot - pcap) : strlen(pcap);
	char path[4096];
	snprintf(path, sizeof(path), "%.*s.expect.json", (int)base, pcap);
	int rc = json_dump_file(ex, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : -1;
	json_decref(ex);
	return rc;
}
