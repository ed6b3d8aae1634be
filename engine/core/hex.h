/* Lower-case hexadecimal, for digests in names and events. */
#ifndef SL_HEX_H
#define SL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2n hex digits and a NUL to out (room for 2n + 1). */
static inline char *sl_hex(const uint8_t *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
	return out;
}

#endif
