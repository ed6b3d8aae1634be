/* Helpers shared by the inline tests: addresses, and decoding a crafted IP
 * packet back with engine/decode.c, every checksum verified. */
#ifndef SL_TEST_DECODE_BACK_H
#define SL_TEST_DECODE_BACK_H

#include <string.h>

#include "bytes.h"
#include "decode.h"

static inline struct sl_addr test_v4(uint32_t ip)
{
	struct sl_addr a;

	memset(&a, 0, sizeof(a));
	a.b[10] = a.b[11] = 0xff;
	sl_put_be32(a.b + 12, ip);
	return a;
}

/* LINKTYPE_RAW, checksums on; p's pointers point into pkt. */
static inline enum sl_decode_result test_decode(const uint8_t *pkt, size_t len,
						struct sl_packet *p)
{
	struct sl_decode_config c;

	sl_decode_config_default(&c);
	c.csum = SL_CSUM_ON;
	struct sl_decoder *d = sl_decoder_new(&c, NULL, NULL, NULL, NULL);
	if (!d)
		return SL_DECODE_ERROR;
	memset(p, 0, sizeof(*p));
	p->frame = pkt;
	p->cap_len = p->wire_len = (uint32_t)len;
	p->linktype = 101;
	enum sl_decode_result r = sl_decode(d, p);
	sl_decoder_free(d);
	return r;
}

#endif
