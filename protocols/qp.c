/* Streaming quoted-printable decoder; see qp.h for the contract.  Runs of
 * plain bytes are found with memchr('=') and copied in one go. */
#include "qp.h"

#include <string.h>

void sl_qp_init(struct sl_qp *s)
{
	memset(s, 0, sizeof(*s));
}

size_t sl_qp_decode(struct sl_qp *s, const uint8_t *in, size_t n, uint8_t *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		uint8_t c = in[i];

		switch (s->st) {
		case 0: {
			const uint8_t *eq = memchr(in + i, '=', n - i);
			size_t run = eq ? (size_t)(eq - (in + i)) : n - i;

			memcpy(out + o, in + i, run);
			o += run;
			i += run;
			if (eq) {
				s->st = 1;
				i++;
			}
			continue;
		}
		case 1:
			if (c == '\n') {
				s->st = 0;
				i++;
			} else if (c == '\r') {
				s->st = 3;
				i++;
			} else if (c == '=') {
				/* a2b_qp: "==" is one literal '=' */
				s->flags |= SL_QP_F_INVALID;
				out[o++] = '=';
				s->st = 0;
				i++;
			} else if (sl_hex_digit(c) >= 0) {
				s->h1 = c;
				s->st = 2;
				i++;
			} else {
				s->flags |= SL_QP_F_INVALID;
				out[o++] = '=';
				s->st = 0;
			}
			continue;
		case 2: {
			int hi = sl_hex_digit(s->h1), lo = sl_hex_digit(c);

			if (lo >= 0) {
				if ((s->h1 >= 'a' && s->h1 <= 'f') || (c >= 'a' && c <= 'f'))
					s->flags |= SL_QP_F_LOWER;
				out[o++] = (uint8_t)(hi << 4 | lo);
				i++;
			} else {
				s->flags |= SL_QP_F_INVALID;
				out[o++] = '=';
				out[o++] = s->h1;
			}
			s->st = 0;
			continue;
		}
		default:	/* after '=' CR */
			if (c == '\n') {
				i++;
			} else {
				s->flags |= SL_QP_F_INVALID;
				out[o++] = '=';
				out[o++] = '\r';
			}
			s->st = 0;
			continue;
		}
	}
	return o;
}

size_t sl_qp_finish(struct sl_qp *s, uint8_t *out)
{
	size_t o = 0;

	switch (s->st) {
	case 1:		/* a2b_qp drops a final '=' */
	case 3:		/* "=" CR at the end: a soft break cut short */
		s->flags |= SL_QP_F_TRAILING;
		break;
	case 2:
		s->flags |= SL_QP_F_TRAILING | SL_QP_F_INVALID;
		out[o++] = '=';
		out[o++] = s->h1;
		break;
	}
	s->st = 0;
	return o;
}
