/* limits.app_memcap and policy.app_memcap (engine/flow_app.c): lab
 * captures replayed with caps too small for the parser, or for a message,
 * under both policies.  A refusal never lets the flow through inspected by
 * nobody silently: block drops the flow's packets from then on, pass
 * bypasses it and counts it; both count the refusal and name it
 * (flow.app_memcap).  Charges come back: messages in sequence on one flow
 * fit a cap that holds only one at a time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "app.h"
#include "config.h"
#include "replay.h"
#include "worker_priv.h"

#define LAB SL_TEST_PCAPS "/lab/"

struct run {
	uint64_t ctr[SL_CTR_MAX];
	unsigned messages, anomalies;		/* anomalies: flow.app_memcap events */
	bool flow_lists_it;			/* the flow event names flow.app_memcap */
};

static void replay(const char *pcap, uint64_t cap, enum sl_action policy, struct run *out)
{
	struct sl_config conf;
	char err[512], *buf = NULL;
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	sl_config_default(&conf);
	conf.inspect.clamav = false;
	conf.worker.app_memcap = cap;
	conf.worker.on_app_memcap = policy;
	struct sl_inspect *in = sl_inspect_new(&conf.inspect, err, sizeof(err));
	assert_non_null(in);
	FILE *mem = open_memstream(&buf, &len);
	struct sl_eve *eve = sl_eve_open_stream(mem);
	struct sl_replay *r = sl_replay_new(&conf, in, eve, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(sl_replay_file(r, pcap, false, err, sizeof(err)), 0);
	memcpy(out->ctr, sl_worker_counters(sl_replay_worker(r))->v, sizeof(out->ctr));
	/* The file's flows ended: every charge is back. */
	assert_int_equal(sl_memcap_used(&sl_replay_worker(r)->app_mc), 0);
	sl_replay_free(r);
	sl_eve_close(eve);
	fclose(mem);
	sl_inspect_free(in);
	sl_config_free(&conf);

	for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		json_t *ev = json_loads(line, 0, NULL);
		assert_non_null(ev);
		const char *type = json_string_value(json_object_get(ev, "event_type"));
		if (strcmp(type, "message") == 0)
			out->messages++;
		if (strcmp(type, "flow") == 0) {
			size_t i;
			json_t *a;
			json_array_foreach(json_object_get(ev, "anomalies"), i, a)
				out->flow_lists_it |= strcmp(json_string_value(a), "flow.app_memcap") == 0;
		}
		json_t *anomaly = json_object_get(ev, "anomaly");
		const char *an = json_string_value(json_object_get(anomaly, "name"));
		if (an && strcmp(an, "flow.app_memcap") == 0)
			out->anomalies++;
		json_decref(ev);
	}
	free(buf);
}

/* What the parser and one message cost (flow_app.c charges these). */
static size_t parser_cost(void)
{
	return sizeof(struct sl_flow_app) + sl_app_state_size();
}

static size_t message_cost(void)
{
	struct sl_txn_env env = { 0 };

	sl_mime_limits_default(&env.mime);
	return sizeof(struct wtxn) + sl_txn_state_size(&env);
}

static void control_no_refusal(void **state)
{
	struct run r;

	replay(LAB "smtp-multi-rset.pcap", 1ull << 30, SL_ACTION_BLOCK, &r);
	assert_int_equal(r.messages, 3);
	assert_int_equal(r.ctr[SL_CTR_APP_MEMCAP], 0);
	assert_int_equal(r.anomalies, 0);
	/* The real sizes, not a guess: a message with its MIME decoder is
	 * tens of KiB, a parser a few. */
	assert_true(parser_cost() > 3000 && parser_cost() < 16384);
	assert_true(message_cost() > 20000);
}

static void parser_refused_block(void **state)
{
	struct run r;

	/* The capture's SMTP session, then the ends of an IMAP and a POP3
	 * flow: each needs a parser, each is refused. */
	replay(LAB "smtp-plain-text.pcap", parser_cost() - 1, SL_ACTION_BLOCK, &r);
	assert_int_equal(r.ctr[SL_CTR_APP_MEMCAP], 3);
	assert_int_equal(r.ctr[SL_CTR_APP_MEMCAP_BYPASS], 0);
	/* The refused packet (the greeting) and every later one of the flow. */
	assert_true(r.ctr[SL_CTR_APP_MEMCAP_DROPS] >= 10);
	assert_int_equal(r.ctr[SL_CTR_MAIL_FLOWS], 0);
	assert_int_equal(r.messages, 0);
	assert_int_equal(r.anomalies, 3);
	assert_true(r.flow_lists_it);
}

static void parser_refused_pass(void **state)
{
	struct run r;

	replay(LAB "smtp-plain-text.pcap", parser_cost() - 1, SL_ACTION_PASS, &r);
	assert_int_equal(r.ctr[SL_CTR_APP_MEMCAP], 3);
	assert_int_equal(r.ctr[SL_CTR_APP_MEMCAP_BYPASS], 3);
	assert_int_equal(r.ctr[SL_CTR_APP_MEMCAP_DROPS], 0);
	assert_int_equal(r.messages, 0);
	assert_int_equal(r.anomalies, 3);
}

static void message_refused_block(void **state)
{
	struct run r;

	replay(LAB "smtp-plain-text.pcap", parser_cost() + message_cost() - 1, SL_ACTION_BLOCK,
	       &r);
	assert_int_equal(r.ctr[SL_CTR_APP_MEMCAP], 1);
	assert_true(r.ctr[SL_CTR_APP_MEMCAP_DROPS] > 0);
	/* No message record: the transaction was never built (its bytes
	 * never reached the server inline). */
	assert_int_equal(r.messages, 0);
	assert_int_equal(r.anomalies, 1);
	assert_true(r.flow_lists_it);
	/* Detected and parsed up to the refusal (and the POP3 flow after). */
	assert_int_equal(r.ctr[SL_CTR_MAIL_FLOWS], 2);
}

static void message_refused_pass(void **state)
{
	struct run r;

	replay(LAB "smtp-plain-text.pcap", parser_cost() + message_cost() - 1, SL_ACTION_ALERT,
	       &r);
	assert_int_equal(r.ctr[SL_CTR_APP_MEMCAP], 1);
	assert_int_equal(r.ctr[SL_CTR_APP_MEMCAP_BYPASS], 1);
	assert_int_equal(r.ctr[SL_CTR_APP_MEMCAP_DROPS], 0);
	assert_int_equal(r.messages, 0);
}

/* Room for the parser and one message: three messages one after the other
 * on one flow all fit, because each gives its charge back. */
static void charges_come_back(void **state)
{
	struct run r;

	replay(LAB "smtp-multi-rset.pcap", parser_cost() + message_cost() + message_cost() / 2,
	       SL_ACTION_BLOCK, &r);
	assert_int_equal(r.ctr[SL_CTR_APP_MEMCAP], 0);
	assert_int_equal(r.messages, 3);
}

/* The MIME decoder's growth (a long header field's buffers, the decoder of
 * an encoded message/rfc822) goes through the worker's app memcap
 * (sl_worker_mime_take): charged while the decoder holds it, given back
 * when the message ends; refused, it degrades to raw parts with the anomaly
 * mime.memcap and the counter flow.app_memcap, never a lost part. */
static struct sl_msg *mime_growth(struct sl_worker *w, size_t cap, size_t *peak)
{
	static char msg[40000];
	size_t k = (size_t)snprintf(msg, sizeof(msg),
		"Subject: %0*d\r\nContent-Type: multipart/mixed; boundary=out\r\n\r\n"
		"--out\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
		"--out\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
		"U3ViamVjdDogaW5uZXINCg0KUHJvamVjdCBCbHVlYmlyZA0K\r\n"	/* Project Bluebird */
		"--out--\r\n", 20000, 1);
	struct sl_txn_env env = w->txn_env;

	env.hooks = NULL;	/* the test frees the transaction itself */
	w->app_mc.cap = cap;
	struct sl_mail_txn *t = sl_txn_new(&env, SL_PROTO_SMTP, SL_TO_SERVER, NULL);

	assert_non_null(t);
	sl_txn_data(t, (const uint8_t *)msg, k / 2);
	sl_txn_data(t, (const uint8_t *)msg + k / 2, k - k / 2);
	*peak = sl_memcap_used(&w->app_mc);
	sl_txn_end(t, NULL, NULL);
	/* the decoder is gone with the message's end: so is its charge */
	assert_int_equal(sl_memcap_used(&w->app_mc), 0);
	return sl_txn_msg(t);
}

static const struct sl_msg_part *msg_part(const struct sl_msg *m, uint8_t reading,
					  const char *ct)
{
	for (unsigned i = 0; i < m->n_parts; i++)
		if (m->parts[i].reading == reading && !strcmp(m->parts[i].content_type, ct))
			return &m->parts[i];
	return NULL;
}

static void mime_growth_charged(void **state)
{
	struct sl_config conf;
	char err[512];
	size_t peak;

	sl_config_default(&conf);
	conf.inspect.clamav = false;
	struct sl_inspect *in = sl_inspect_new(&conf.inspect, err, sizeof(err));
	assert_non_null(in);
	FILE *mem = fopen("/dev/null", "w");
	struct sl_eve *eve = sl_eve_open_stream(mem);
	struct sl_replay *r = sl_replay_new(&conf, in, eve, err, sizeof(err));
	assert_non_null(r);
	struct sl_worker *w = sl_replay_worker(r);

	/* unlimited: charged while decoding (the child decoder and the
	 * Subject's buffers), both readings of the rfc822 there */
	struct sl_msg *m = mime_growth(w, 0, &peak);

	assert_true(peak >= sl_mime_state_size(&w->txn_env.mime) + 4 * 20000);
	assert_false(sl_anomaly_set_has(&m->anomalies, SL_ANOM_MIME_MEMCAP));
	assert_non_null(msg_part(m, 16, "text/plain"));
	assert_int_equal(sl_worker_counters(w)->v[SL_CTR_APP_MEMCAP], 0);
	sl_txn_put(sl_txn_of(m));
	sl_txn_free(sl_txn_of(m));

	/* a cap with no room: the headers give up at Subject, the whole
	 * message is one raw part, counted and named */
	m = mime_growth(w, 1, &peak);
	assert_int_equal(peak, 0);
	assert_true(sl_anomaly_set_has(&m->anomalies, SL_ANOM_MIME_MEMCAP));
	assert_int_equal(sl_worker_counters(w)->v[SL_CTR_APP_MEMCAP], 1);
	assert_int_equal(m->n_parts, 1);
	assert_true(m->parts[0].raw_fallback);
	assert_true(m->parts[0].size > 20000);
	assert_null(msg_part(m, 16, "text/plain"));
	assert_true(m->verdict.action >= SL_ACTION_ALERT);
	sl_txn_put(sl_txn_of(m));
	sl_txn_free(sl_txn_of(m));
	assert_int_equal(sl_memcap_used(&w->app_mc), 0);

	sl_replay_free(r);
	sl_eve_close(eve);
	fclose(mem);
	sl_inspect_free(in);
	sl_config_free(&conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(control_no_refusal),
		cmocka_unit_test(parser_refused_block),
		cmocka_unit_test(parser_refused_pass),
		cmocka_unit_test(message_refused_block),
		cmocka_unit_test(message_refused_pass),
		cmocka_unit_test(charges_come_back),
		cmocka_unit_test(mime_growth_charged),
	};
	sl_log_setup(SL_LOG_ERR, stderr);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
