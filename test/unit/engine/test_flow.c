/* engine/flow.c: one entry per bidirectional 5-tuple, orientation, timeouts
 * per class, eviction order, caps, and the idle-flow memory budget. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "flow.h"

struct rec {
	int released;
	enum sl_flow_end last_why;
	uint64_t last_id;
};

static void on_release(void *u, struct sl_flow *f, enum sl_flow_end why)
{
	struct rec *r = u;

	r->released++;
	r->last_why = why;
	r->last_id = f->id;
}

static void v4(struct sl_addr *a, uint32_t ip)
{
	memset(a, 0, sizeof(*a));
	a->b[10] = a->b[11] = 0xff;
	a->b[12] = ip >> 24;
	a->b[13] = ip >> 16;
	a->b[14] = ip >> 8;
	a->b[15] = ip;
}

static struct sl_packet pkt(uint32_t s, uint16_t sp, uint32_t d, uint16_t dp, uint8_t flags)
{
	struct sl_packet p;

	memset(&p, 0, sizeof(p));
	v4(&p.src, s);
	v4(&p.dst, d);
	p.sport = sp;
	p.dport = dp;
	p.ip_proto = 6;
	p.tcp_flags = flags;
	p.index = 1;
	return p;
}

static const uint16_t mail_ports[] = { 25, 143, 110, 0 };

static struct sl_flow_table *table(struct rec *r, uint32_t max)
{
	struct sl_flow_config c;

	sl_flow_config_default(&c);
	c.max_flows = max;
	c.server_ports = mail_ports;
	return sl_flow_table_new(&c, NULL, on_release, r);
}

static void both_directions_share_one_flow(void **st)
{
	struct rec r = { 0 };
	struct sl_flow_table *t = table(&r, 100);
	enum sl_dir d1, d2;
	struct sl_packet a = pkt(0x0a000001, 40000, 0x0a000002, 25, SL_TH_SYN);
	struct sl_packet b = pkt(0x0a000002, 25, 0x0a000001, 40000, SL_TH_SYN | SL_TH_ACK);

	struct sl_flow *f1 = sl_flow_get(t, &a, 1, &d1);
	struct sl_flow *f2 = sl_flow_get(t, &b, 2, &d2);
	assert_ptr_equal(f1, f2);
	assert_int_equal(d1, SL_TO_SERVER);
	assert_int_equal(d2, SL_TO_CLIENT);
	assert_int_equal(sl_flow_count(t), 1);

	const struct sl_addr *src, *dst;
	uint16_t sp, dp;
	sl_flow_endpoint(f1, SL_TO_SERVER, &src, &sp, &dst, &dp);
	assert_int_equal(sp, 40000);
	assert_int_equal(dp, 25);
	sl_flow_table_free(t);
	assert_int_equal(r.released, 1);
	assert_int_equal(r.last_why, SL_FLOW_END_CAPTURE);
}

static void orientation_rules(void **st)
{
	struct rec r = { 0 };
	struct sl_flow_table *t = table(&r, 100);
	enum sl_dir d;

	/* SYN/ACK seen first: its sender is the server. */
	struct sl_packet sa = pkt(0x0a000002, 5555, 0x0a000001, 6666, SL_TH_SYN | SL_TH_ACK);
	sl_flow_get(t, &sa, 1, &d);
	assert_int_equal(d, SL_TO_CLIENT);
	/* Midstream toward a mail port: the sender is the client. */
	struct sl_packet m = pkt(0x0a000003, 1000, 0x0a000004, 143, SL_TH_ACK);
	struct sl_flow *f = sl_flow_get(t, &m, 1, &d);
	assert_int_equal(d, SL_TO_SERVER);
	assert_true(f->flags & SL_FLOWF_MIDSTREAM);
	/* Midstream from a mail port, even if that port is higher. */
	struct sl_packet m2 = pkt(0x0a000005, 25, 0x0a000006, 20, SL_TH_ACK);
	sl_flow_get(t, &m2, 1, &d);
	assert_int_equal(d, SL_TO_CLIENT);
	/* Unknown ports: the higher (ephemeral) port is the client. */
	struct sl_packet m3 = pkt(0x0a000007, 80, 0x0a000008, 50000, SL_TH_ACK);
	sl_flow_get(t, &m3, 1, &d);
	assert_int_equal(d, SL_TO_CLIENT);
	sl_flow_table_free(t);
}

static void vlan_and_proto_separate_flows(void **st)
{
	struct rec r = { 0 };
	struct sl_flow_table *t = table(&r, 100);
	enum sl_dir d;
	struct sl_packet a = pkt(1, 1000, 2, 25, 0);
	struct sl_packet b = a;

	b.vlan_count = 1;
	b.vlan[0] = 7;
	assert_ptr_not_equal(sl_flow_get(t, &a, 1, &d), sl_flow_get(t, &b, 1, &d));
	b = a;
	b.ip_proto = 17;
	sl_flow_get(t, &b, 1, &d);
	assert_int_equal(sl_flow_count(t), 3);
	sl_flow_table_free(t);
}

static void timeouts_follow_class(void **st)
{
	struct rec r = { 0 };
	struct sl_flow_table *t = table(&r, 100);
	enum sl_dir d;
	struct sl_packet a = pkt(1, 1000, 2, 25, 0), b = pkt(3, 1000, 2, 25, 0);
	uint64_t s = 1000000;

	struct sl_flow *fa = sl_flow_get(t, &a, 0, &d);
	struct sl_flow *fb = sl_flow_get(t, &b, 0, &d);
	sl_flow_set_class(t, fa, SL_FLOW_ESTABLISHED);
	sl_flow_set_class(t, fb, SL_FLOW_CLOSED);
	uint64_t ida = fa->id, idb = fb->id;
	sl_flow_expire(t, 11 * s);	/* closed: 10 s */
	assert_int_equal(r.released, 1);
	assert_int_equal(r.last_id, idb);
	assert_int_equal(r.last_why, SL_FLOW_END_TIMEOUT);
	sl_flow_expire(t, 599 * s);
	assert_int_equal(r.released, 1);
	/* Activity moves a flow to the back of its list. */
	sl_flow_get(t, &a, 599 * s, &d);
	sl_flow_expire(t, 1000 * s);
	assert_int_equal(r.released, 1);
	sl_flow_expire(t, 1200 * s);
	assert_int_equal(r.released, 2);
	assert_int_equal(r.last_id, ida);
	sl_flow_table_free(t);
}

static void full_table_evicts_least_valuable(void **st)
{
	struct rec r = { 0 };
	struct sl_counters ctr = { 0 };
	struct sl_flow_config c;
	enum sl_dir d;

	sl_flow_config_default(&c);
	c.max_flows = 3;
	struct sl_flow_table *t = sl_flow_table_new(&c, &ctr, on_release, &r);
	struct sl_packet p1 = pkt(1, 1, 9, 25, 0), p2 = pkt(2, 1, 9, 25, 0),
			 p3 = pkt(3, 1, 9, 25, 0), p4 = pkt(4, 1, 9, 25, 0);
	struct sl_flow *f1 = sl_flow_get(t, &p1, 1, &d);
	struct sl_flow *f2 = sl_flow_get(t, &p2, 2, &d);
	struct sl_flow *f3 = sl_flow_get(t, &p3, 3, &d);
	sl_flow_set_class(t, f1, SL_FLOW_ESTABLISHED);
	sl_flow_set_class(t, f2, SL_FLOW_EMBRYONIC);
	sl_flow_set_class(t, f3, SL_FLOW_ESTABLISHED);
	uint64_t id2 = f2->id;
	assert_non_null(sl_flow_get(t, &p4, 4, &d));
	assert_int_equal(r.released, 1);
	assert_int_equal(r.last_id, id2);	/* embryonic goes before established */
	assert_int_equal(r.last_why, SL_FLOW_END_EVICTED);
	assert_int_equal(ctr.v[SL_CTR_FLOWS_EVICTED], 1);
	assert_int_equal(sl_flow_count(t), 3);
	sl_flow_table_free(t);
}

static void memcap_refuses_growth(void **st)
{
	struct rec r = { 0 };
	struct sl_counters ctr = { 0 };
	struct sl_flow_config c;
	enum sl_dir d;

	sl_flow_config_default(&c);
	c.max_flows = 100000;
	c.memcap = 1;		/* not even one slab fits */
	struct sl_flow_table *t = sl_flow_table_new(&c, &ctr, on_release, &r);
	struct sl_packet p = pkt(1, 1, 2, 25, 0);
	assert_null(sl_flow_get(t, &p, 1, &d));
	assert_int_equal(ctr.v[SL_CTR_FLOWS_REFUSED], 1);
	assert_int_equal(ctr.v[SL_CTR_FLOWS_MEMCAP], 1);
	sl_flow_table_free(t);
}

static void idle_flow_budget(void **st)
{
	/* The budget: <= 512 bytes per idle TCP flow, table included. */
	size_t per_flow = sizeof(struct sl_flow) + sizeof(void *);
	printf("sizeof(struct sl_flow) = %zu, per idle flow with bucket = %zu\n",
	       sizeof(struct sl_flow), per_flow);
	assert_true(per_flow <= 512);
}

static void many_flows_stay_findable(void **st)
{
	struct rec r = { 0 };
	struct sl_flow_table *t = table(&r, 200000);
	enum sl_dir d;

	for (uint32_t i = 0; i < 100000; i++) {
		struct sl_packet p = pkt(0x0a000000 + i, (uint16_t)(1024 + i % 60000), 0x0b000001,
					 25, SL_TH_SYN);
		assert_non_null(sl_flow_get(t, &p, 1, &d));
	}
	assert_int_equal(sl_flow_count(t), 100000);
	for (uint32_t i = 0; i < 100000; i += 997) {
		struct sl_packet p = pkt(0x0b000001, 25, 0x0a000000 + i, (uint16_t)(1024 + i % 60000),
					 SL_TH_ACK);
		sl_flow_get(t, &p, 2, &d);
		assert_int_equal(d, SL_TO_CLIENT);
	}
	assert_int_equal(sl_flow_count(t), 100000);
	sl_flow_table_free(t);
	assert_int_equal(r.released, 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(both_directions_share_one_flow),
		cmocka_unit_test(orientation_rules),
		cmocka_unit_test(vlan_and_proto_separate_flows),
		cmocka_unit_test(timeouts_follow_class),
		cmocka_unit_test(full_table_evicts_least_valuable),
		cmocka_unit_test(memcap_refuses_growth),
		cmocka_unit_test(idle_flow_budget),
		cmocka_unit_test(many_flows_stay_findable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
