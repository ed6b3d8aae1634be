#include "detect.h"

#include <string.h>

static bool port_in(const uint16_t *ports, uint16_t port)
{
	for (unsigned i = 0; i < SL_APP_MAX_PORTS && ports[i]; i++)
		if (ports[i] == port)
			return true;
	return false;
}

const struct sl_proto_ops *sl_detect_port(const struct sl_proto_ops *const *reg, size_t n,
					  const struct sl_app_config *c, uint16_t port)
{
	for (size_t i = 0; i < n; i++) {
		const uint16_t *ports = (const uint16_t *)((const char *)c + reg[i]->ports_off);
		if (port && port_in(ports, port))
			return reg[i];
	}
	return NULL;
}

bool sl_detect_tls_port(const struct sl_app_config *c, uint16_t port, enum sl_proto *proto)
{
	if (!port || !port_in(c->tls_ports, port))
		return false;
	switch (port) {
	case 465: *proto = SL_PROTO_SMTP; break;
	case 993: *proto = SL_PROTO_IMAP; break;
	case 995: *proto = SL_PROTO_POP3; break;
	default: *proto = SL_PROTO_UNKNOWN; break;
	}
	return true;
}

enum sl_probe sl_probe_prefix(const uint8_t *p, size_t n, const char *pat)
{
	size_t m = strlen(pat);

	if (n < m)
		return memcmp(p, pat, n) == 0 ? SL_PROBE_MORE : SL_PROBE_NO;
	return memcmp(p, pat, m) == 0 ? SL_PROBE_YES : SL_PROBE_NO;
}

enum sl_probe sl_probe_any(const uint8_t *p, size_t n, const char *const *pats)
{
	enum sl_probe best = SL_PROBE_NO;

	for (; *pats; pats++) {
		enum sl_probe r = sl_probe_prefix(p, n, *pats);
		if (r == SL_PROBE_YES)
			return r;
		if (r == SL_PROBE_MORE)
			best = r;
	}
	return best;
}

enum sl_probe sl_detect_greeting(const struct sl_proto_ops *const *reg, size_t n_reg,
				 const uint8_t *p, size_t n, const struct sl_proto_ops **out)
{
	enum sl_probe best = SL_PROBE_NO;

	for (size_t i = 0; i < n_reg; i++) {
		enum sl_probe r = reg[i]->probe(p, n);
		if (r == SL_PROBE_YES) {
			*out = reg[i];
			return SL_PROBE_YES;
		}
		if (r == SL_PROBE_MORE)
			best = SL_PROBE_MORE;
	}
	return best;
}
