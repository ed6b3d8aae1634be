#include "eve.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sl_eve {
	FILE *f;
	bool own;
	bool line_flush;		/* each line reaches the file at once */
	const char *source;
	pthread_mutex_t lock;		/* one whole line at a time (several workers) */
	uint64_t count;
};

static struct sl_eve *open_mode(const char *path, const char *mode)
{
	struct sl_eve *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	pthread_mutex_init(&e->lock, NULL);
	if (strcmp(path, "-") == 0) {
		e->f = stdout;
	} else {
		e->f = fopen(path, mode);
		e->own = true;
		if (!e->f) {
			int err = errno;
			free(e);
			errno = err;
			return NULL;
		}
	}
	return e;
}

struct sl_eve *sl_eve_open(const char *path)
{
	return open_mode(path, "w");
}

struct sl_eve *sl_eve_open_append(const char *path)
{
	return open_mode(path, "a");
}

struct sl_eve *sl_eve_open_stream(FILE *f)
{
	struct sl_eve *e = calloc(1, sizeof(*e));

	if (e) {
		pthread_mutex_init(&e->lock, NULL);
		e->f = f;
	}
	return e;
}

void sl_eve_close(struct sl_eve *e)
{
	if (!e)
		return;
	fflush(e->f);
	if (e->own)
		fclose(e->f);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

void sl_eve_set_line_flush(struct sl_eve *e, bool on)
{
	e->line_flush = on;
}

void sl_eve_set_source(struct sl_eve *e, const char *name)
{
	e->source = name;
}

uint64_t sl_eve_count(struct sl_eve *e)
{
	pthread_mutex_lock(&e->lock);
	uint64_t n = e->count;
	pthread_mutex_unlock(&e->lock);
	return n;
}

void sl_eve_format_ts(uint64_t ts_us, char *buf, size_t size)
{
	time_t s = (time_t)(ts_us / 1000000);
	struct tm tm;
	char base[32];

	gmtime_r(&s, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%06u+0000", base, (unsigned)(ts_us % 1000000));
}

json_t *sl_eve_str(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	/* Not UTF-8: rebuild it with U+FFFD for every byte that does not
	 * start a valid sequence.  Header values come from hostile peers. */
	size_t n = strlen(s);
	char *out = malloc(n * 3 + 1);
	size_t o = 0;
	if (!out)
		return json_string("");
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		if (len && i + len <= n) {
			json_t *t = json_stringn(s + i, len);
			if (t) {
				json_decref(t);
				memcpy(out + o, s + i, len);
				o += len;
				i += len;
				continue;
			}
		}
		memcpy(out + o, "\xef\xbf\xbd", 3);
		o += 3;
		i++;
	}
	json_t *r = json_stringn(out, o);
	free(out);
	return r ? r : json_string("");
}

json_t *sl_eve_anomaly_list(const struct sl_anomaly_set *s)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < SL_ANOM_MAX; i++)
		if (sl_anomaly_set_has(s, (enum sl_anomaly)i))
			json_array_append_new(a, json_string(sl_anomaly_name((enum sl_anomaly)i)));
	return a;
}

json_t *sl_eve_begin(struct sl_eve *e, const char *type, uint64_t ts_us,
		     const struct sl_flow *f, enum sl_dir dir, uint64_t packet)
{
	json_t *ev = json_object();
	char ts[48];

	sl_eve_format_ts(ts_us, ts, sizeof(ts));
	json_object_set_new(ev, "timestamp", json_string(ts));
	json_object_set_new(ev, "event_type", json_string(type));
	if (e->source)
		json_object_set_new(ev, "pcap_file", json_string(e->source));
	if (packet)
		json_object_set_new(ev, "packet", json_integer((json_int_t)packet));
	if (f) {
		const struct sl_addr *src, *dst;
		uint16_t sport, dport;
		char a[64];

		sl_flow_endpoint(f, dir, &src, &sport, &dst, &dport);
		json_object_set_new(ev, "flow_id", json_integer((json_int_t)f->id));
		json_object_set_new(ev, "src_ip", json_string(sl_addr_str(src, a, sizeof(a))));
		json_object_set_new(ev, "src_port", json_integer(sport));
		json_object_set_new(ev, "dest_ip", json_string(sl_addr_str(dst, a, sizeof(a))));
		json_object_set_new(ev, "dest_port", json_integer(dport));
		json_object_set_new(ev, "proto", json_string(f->key.proto == 6 ? "TCP" :
			f->key.proto == 17 ? "UDP" : "IP"));
		if (f->key.vlan)
			json_object_set_new(ev, "vlan", json_integer(f->key.vlan));
	}
	return ev;
}

void sl_eve_emit(struct sl_eve *e, json_t *ev)
{
	/* Compact, one line; key order kept as inserted for readability.
	 * Rendered outside the lock, written whole under it: lines from
	 * several worker threads never interleave. */
	char *line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(ev);
	pthread_mutex_lock(&e->lock);
	if (line) {
		fputs(line, e->f);
		fputc('\n', e->f);
		if (e->line_flush)
			fflush(e->f);
	}
	e->count++;
	pthread_mutex_unlock(&e->lock);
	free(line);
}
