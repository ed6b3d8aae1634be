/* EVE: newline-delimited JSON events, one object per line, field names in
 * the spirit of Suricata's EVE (event_type, src_ip, dest_port, flow_id ...)
 * so existing tooling reads them.  The schema is docs/events.md.
 *
 * The writer owns its FILE and a jansson object per event; nothing here
 * escapes strings by hand. */
#ifndef SL_EVE_H
#define SL_EVE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "flow.h"
#include "msg.h"

struct sl_eve;

/* path "-" means stdout.  NULL on error (errno set).  sl_eve_open()
 * truncates the file (one replay, one file); sl_eve_open_append() appends
 * (a daemon's log survives restarts and copy-truncate rotation). */
struct sl_eve *sl_eve_open(const char *path);
struct sl_eve *sl_eve_open_append(const char *path);
/* Writes to an open stream the caller keeps (and closes after sl_eve_close). */
struct sl_eve *sl_eve_open_stream(FILE *f);
void sl_eve_close(struct sl_eve *e);
/* Every event from now on carries "pcap_file": name (NULL: none). */
void sl_eve_set_source(struct sl_eve *e, const char *name);

/* Starts an event: timestamp, event_type, and (with a flow) flow_id and the
 * 5-tuple oriented in direction dir.  packet is the 1-based packet index the
 * event applies to (0 = none).  The caller adds fields, then sl_eve_emit(). */
json_t *sl_eve_begin(struct sl_eve *e, const char *type, uint64_t ts_us,
		     const struct sl_flow *f, enum sl_dir dir, uint64_t packet);
/* Writes and frees the event.  Thread-safe: one whole line at a time. */
void sl_eve_emit(struct sl_eve *e, json_t *ev);
uint64_t sl_eve_count(struct sl_eve *e);
/* Flush after every line (live output read by other programs). */
void sl_eve_set_line_flush(struct sl_eve *e, bool on);

/* Helpers for common shapes. */
json_t *sl_eve_anomaly_list(const struct sl_anomaly_set *s);
/* A JSON string from bytes that may not be UTF-8 (invalid bytes become U+FFFD). */
json_t *sl_eve_str(const char *s);
void sl_eve_format_ts(uint64_t ts_us, char *buf, size_t size);

#endif
