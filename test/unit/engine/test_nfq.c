/* engine/nfq.c without a kernel: the verdict batching decision and the
 * /proc/net/netfilter/nfnetlink_queue reader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "nfq.h"

static void test_batch_ranges(void **state)
{
	struct sl_vbatch b = { 0 };
	uint32_t max;

	(void)state;
	assert_false(sl_vbatch_close(&b, &max));
	/* Accepts with nothing held join one range. */
	for (uint32_t id = 1; id <= 10; id++)
		assert_int_equal(sl_vbatch_accept(&b, id), SL_VB_EXTEND);
	assert_true(sl_vbatch_close(&b, &max));
	assert_int_equal(max, 10);
	assert_false(sl_vbatch_close(&b, &max));

	/* A held packet (id 12): ids up to 11 may still go as a range... */
	assert_int_equal(sl_vbatch_accept(&b, 11), SL_VB_EXTEND);
	assert_true(sl_vbatch_close(&b, &max));
	assert_int_equal(max, 11);
	b.held++;
	/* ...but nothing above it: a range would release it. */
	assert_int_equal(sl_vbatch_accept(&b, 13), SL_VB_SINGLE);
	assert_int_equal(sl_vbatch_accept(&b, 14), SL_VB_SINGLE);
	assert_false(sl_vbatch_close(&b, &max));
	/* Its verdict sent: ranges again. */
	b.held--;
	assert_int_equal(sl_vbatch_accept(&b, 15), SL_VB_EXTEND);
	assert_int_equal(sl_vbatch_accept(&b, 16), SL_VB_EXTEND);
	assert_true(sl_vbatch_close(&b, &max));
	assert_int_equal(max, 16);
	/* Ids wrap: the range's end is simply the last id given. */
	assert_int_equal(sl_vbatch_accept(&b, 0xffffffffu), SL_VB_EXTEND);
	assert_int_equal(sl_vbatch_accept(&b, 0), SL_VB_EXTEND);
	assert_true(sl_vbatch_close(&b, &max));
	assert_int_equal(max, 0);
}

static void test_proc(void **state)
{
	char path[] = "/tmp/sluice-nfq-proc-XXXXXX";
	int fd = mkstemp(path);
	struct sl_nfq_proc p;

	(void)state;
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("    0  12345     3 2 65535     7     9  1000042  1\n"
	      "    4 999999     0 2 65535     0     0       10  1\n", f);
	fclose(f);
	FILE *pf = sl_nfq_proc_open(path);
	assert_non_null(pf);
	assert_int_equal(sl_nfq_proc_read(pf, 4, &p), 0);
	assert_int_equal(p.queue, 4);
	assert_int_equal(p.portid, 999999);
	assert_int_equal(p.id_sequence, 10);
	assert_int_equal(sl_nfq_proc_read(pf, 0, &p), 0);
	assert_int_equal(p.queue_total, 3);
	assert_int_equal(p.queue_dropped, 7);
	assert_int_equal(p.user_dropped, 9);
	assert_int_equal(p.id_sequence, 1000042);
	assert_int_equal(sl_nfq_proc_read(pf, 1, &p), -1);
	/* Read again from the start (the kernel's seq_file, here a file). */
	assert_int_equal(sl_nfq_proc_read(pf, 4, &p), 0);
	fclose(pf);
	unlink(path);
	assert_null(sl_nfq_proc_open(path));
	assert_int_equal(sl_nfq_proc_read(NULL, 0, &p), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_ranges),
		cmocka_unit_test(test_proc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
