/* Reading pcap and pcapng captures (libpcap does the parsing).
 *
 * Zero-copy: after SL_PCAP_PACKET, p->frame points into libpcap's buffer and
 * stays valid only until the next sl_pcap_next() or sl_pcap_close() on the
 * same source.  A consumer that keeps bytes longer copies them.
 *
 * p->index counts records from 1 across the file; ts_us is microseconds since
 * the epoch (nanosecond captures are rounded down by libpcap); linktype is the
 * file's (libpcap refuses pcapng files whose interfaces differ in link type).
 * A record cut by the snap length (caplen < wire length) is not a file error:
 * it gets SL_PKT_TRUNCATED and is counted.
 *
 * Every error message names the file, says what is wrong and, for damage
 * inside the file, at which packet and how far reading got:
 *   "x.pcap: truncated at packet 17: the capture ends mid-record; packets 1-16
 *    were read"
 *   "x.txt: not a pcap or pcapng file (magic 0x48656c6c)"
 *   "x.pcap: empty file (0 bytes): nothing to read" */
#ifndef SL_PCAP_SOURCE_H
#define SL_PCAP_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

struct sl_pcap_source;

enum sl_pcap_status {
	SL_PCAP_ERROR = -1,		/* sl_pcap_error() says what and where */
	SL_PCAP_EOF = 0,		/* clean end of the capture */
	SL_PCAP_PACKET = 1,		/* *p holds the next record */
};

/* Opens a file, or standard input for "-".  On failure returns NULL with a
 * message in err (always NUL-terminated when errlen > 0). */
struct sl_pcap_source *sl_pcap_open(const char *path, char *err, size_t errlen);

/* Fills p (every field reset) with the next record. */
enum sl_pcap_status sl_pcap_next(struct sl_pcap_source *s, struct sl_packet *p);

/* The message for the last SL_PCAP_ERROR ("" before any). */
const char *sl_pcap_error(const struct sl_pcap_source *s);

/* DLT_* of the capture. */
int sl_pcap_linktype(const struct sl_pcap_source *s);

struct sl_pcap_stats {
	uint64_t packets;		/* records returned */
	uint64_t bytes;			/* captured bytes returned */
	uint64_t truncated;		/* records cut by the snap length */
};

void sl_pcap_stats(const struct sl_pcap_source *s, struct sl_pcap_stats *st);

void sl_pcap_close(struct sl_pcap_source *s);

#endif
