/* The stream -> application contract.
 *
 * Reassembly hands each direction's in-order bytes to a consumer as a slice.
 * The consumer says how much it consumed; what it leaves stays in the stream
 * buffer and is offered again, followed by newer bytes, on the next call.
 * So parsers keep no private copy of a partial line: they look again.
 *
 * Every slice names the packet that made its bytes available: for an
 * in-order segment, that segment; when a segment fills a hole and releases
 * queued bytes behind it, the filling segment.  That is the packet a later
 * layer may hold (inline) because it completes a message.
 *
 *   stream offset:  0 ........ base ............. base+len
 *                              |<--- slice.data --->|
 *                              ^ slice.offset                          */
#ifndef SL_SLICE_H
#define SL_SLICE_H

#include <stddef.h>
#include <stdint.h>

struct sl_packet;

enum sl_dir {
	SL_TO_SERVER = 0,		/* client -> server */
	SL_TO_CLIENT = 1,
};

static inline const char *sl_dir_name(enum sl_dir d)
{
	return d == SL_TO_SERVER ? "to_server" : "to_client";
}

enum sl_slice_flag {
	SL_SLICE_GAP = 1u << 0,		/* gap_len bytes are missing before data[0] */
	SL_SLICE_EOF = 1u << 1,		/* no more bytes will come in this direction */
	SL_SLICE_MIDSTREAM = 1u << 2,	/* the flow was picked up without its handshake:
					   offset 0 is the first byte seen, not the first
					   byte sent, so parsers must resynchronise */
};

struct sl_slice {
	const uint8_t *data;
	size_t len;
	uint64_t offset;		/* absolute stream offset of data[0] (0 = first byte after SYN) */
	uint64_t gap_len;		/* with SL_SLICE_GAP */
	enum sl_dir dir;
	uint32_t flags;			/* enum sl_slice_flag */
	const struct sl_packet *pkt;	/* packet that made these bytes available; NULL at flush */
};

enum sl_consume_status {
	SL_CONSUME_OK = 0,		/* consumed bytes are gone; rest (if any) kept */
	SL_CONSUME_STOP,		/* do not deliver this direction again (not mail, TLS, error) */
};

struct sl_consume {
	enum sl_consume_status status;
	size_t consumed;		/* 0 <= consumed <= slice.len */
};

/* The consumer.  'u' is the flow's application context. */
typedef struct sl_consume (*sl_stream_fn)(void *u, const struct sl_slice *s);

#endif
