#include "packet.h"

#include <arpa/inet.h>

const char *sl_addr_str(const struct sl_addr *a, char *buf, unsigned size)
{
	if (sl_addr_is_v4(a))
		return inet_ntop(AF_INET, a->b + 12, buf, size);
	return inet_ntop(AF_INET6, a->b, buf, size);
}
