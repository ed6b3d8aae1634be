#include "anomaly.h"

#include <string.h>

struct anomaly_info {
	const char *name;
	const char *desc;
	enum sl_action action;
};

static const struct anomaly_info anomalies[SL_ANOM_MAX] = {
#define SL_ANOMALY(id, nm, act, ds) [SL_ANOM_##id] = { nm, ds, SL_ACTION_##act },
#include "anomaly_decode.def"
#include "anomaly_stream.def"
#include "anomaly_mail.def"
#include "anomaly_mime.def"
#include "anomaly_inspect.def"
#undef SL_ANOMALY
};

const char *sl_anomaly_name(enum sl_anomaly a)
{
	return a < SL_ANOM_MAX ? anomalies[a].name : "unknown";
}

const char *sl_anomaly_desc(enum sl_anomaly a)
{
	return a < SL_ANOM_MAX ? anomalies[a].desc : "unknown anomaly";
}

const char *sl_anomaly_layer(enum sl_anomaly a, char *buf, unsigned size)
{
	const char *n = sl_anomaly_name(a);
	const char *dot = strchr(n, '.');
	unsigned len = dot ? (unsigned)(dot - n) : (unsigned)strlen(n);

	if (size == 0)
		return "";
	if (len >= size)
		len = size - 1;
	memcpy(buf, n, len);
	buf[len] = '\0';
	return buf;
}

enum sl_action sl_anomaly_default_action(enum sl_anomaly a)
{
	return a < SL_ANOM_MAX ? anomalies[a].action : SL_ACTION_PASS;
}

enum sl_anomaly sl_anomaly_by_name(const char *name)
{
	for (unsigned i = 0; i < SL_ANOM_MAX; i++)
		if (strcmp(anomalies[i].name, name) == 0)
			return (enum sl_anomaly)i;
	return SL_ANOM_MAX;
}
