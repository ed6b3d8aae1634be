#include "spoof.h"

#include <string.h>

#include "mailaddr.h"
#include "msg.h"

/* Length of the local part once the sub-address is dropped. */
static size_t base_local(const struct sl_spoof_opts *o, const char *local, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (o->subaddr[0] && memchr(o->subaddr, local[i], strlen(o->subaddr)))
			return i;
	return n;
}

static size_t strip_dot(const char *d)
{
	size_t n = strlen(d);

	return n && d[n - 1] == '.' ? n - 1 : n;
}

bool sl_spoof_mismatch(const struct sl_spoof_opts *o, const char *auth_user, const char *addr)
{
	size_t al, bl;
	const char *ad, *bd;

	sl_addr_split(auth_user, &al, &ad);
	sl_addr_split(addr, &bl, &bd);
	al = base_local(o, auth_user, al);
	bl = base_local(o, addr, bl);
	if (o->nocase_local ? !sl_addr_ieq(auth_user, al, addr, bl)
			    : (al != bl || memcmp(auth_user, addr, al) != 0))
		return true;
	if (!ad)
		return false;	/* bare login: local part only */
	if (!bd)
		return true;
	return !sl_addr_ieq(ad, strip_dot(ad), bd, strip_dot(bd));
}

static bool report(const char *addr, char *bad, size_t size)
{
	if (bad && size) {
		size_t n = strlen(addr);

		if (n >= size)
			n = size - 1;
		memcpy(bad, addr, n);
		bad[n] = '\0';
	}
	return true;
}

bool sl_spoof_msg(const struct sl_spoof_opts *o, const struct sl_msg *m, char *bad, size_t size)
{
	char auth[SL_ADDR_MAX], addr[SL_ADDR_MAX];

	if (!m->auth_user)
		return false;
	sl_addr_bare(m->auth_user, auth, sizeof(auth));
	if (!auth[0])
		return false;
	if ((o->against & SL_ADDR_MAIL_FROM) && m->mail_from) {
		sl_addr_bare(m->mail_from, addr, sizeof(addr));
		if (addr[0] && sl_spoof_mismatch(o, auth, addr))
			return report(addr, bad, size);
	}
	if (o->against & SL_ADDR_HDR_FROM) {
		const char *cur = m->hdr_from;

		while (sl_addr_next(&cur, addr, sizeof(addr)))
			if (sl_spoof_mismatch(o, auth, addr))
				return report(addr, bad, size);
	}
	return false;
}
