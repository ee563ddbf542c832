/* The DSN builder under a failing allocator (alloc_fail.h; this binary is
 * linked with --wrap for the allocator, see the end of CMakeLists.txt).
 * Each report is built once to count its allocations N, then again for
 * every k in 1..N with allocation k failing, and:
 *   - nothing crashes (ASan, valgrind);
 *   - the build returns TERN_ENOMEM, never success with a broken report
 *     and never another error;
 *   - nothing allocated while armed is left afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "tern/dsn.h"

static const char ORIGINAL[] = "From: Alice <a@example.org>\r\nTo: b@example.net\r\n"
			       "Subject: hello\r\n X-folded\r\n\r\nHi Bob,\nbare LF\r\n";

/* The report goes to a fixed buffer: the sink allocates nothing. */
static char sink[65536];
static size_t sink_len;

static int sink_write(const void *data, size_t len, void *arg)
{
	(void)arg;
	if (len > sizeof(sink) - sink_len)
		return TERN_ELIMIT;
	memcpy(sink + sink_len, data, len);
	sink_len += len;
	return 0;
}

static int run(int variant)
{
	tern_dsn_options o;
	tern_dsn_rcpt r[3];

	memset(r, 0, sizeof(r));
	r[0].address = "b@example.net";
	r[0].action = TERN_DSN_FAILED;
	r[0].status = "5.1.1";
	r[0].remote_mta = "mx.example.net[192.0.2.1]:25";
	r[0].diag_code = 550;
	r[0].diag_remote = true;
	r[0].diag_text = "5.1.1 user unknown\nsecond line of the reply, long enough to be folded "
			 "somewhere past the seventy-eighth column of the field";
	r[0].orcpt_type = "rfc822";
	r[0].orcpt = "j\xc3\xb6rg@example.net";
	r[1].address = "c@example.net";
	r[1].action = TERN_DSN_DELAYED;
	r[1].diag_text = "connection timed out";
	r[1].will_retry_until = 1764400000;
	r[2].address = variant == 2 ? "d\xc3\xa9@example.net" : "d@example.net";
	r[2].action = TERN_DSN_RELAYED;
	r[2].notify = TERN_SMTP_NOTIFY_SUCCESS;
	tern_dsn_options_init(&o);
	o.reporting_mta = "mx.example.org";
	o.sender = "a@example.org";
	o.envid = "env\xc3\xa9";
	o.now = 1764003600;
	o.rcpts = r;
	o.n_rcpts = 3;
	o.ret = variant == 1 ? TERN_SMTP_RET_HDRS : TERN_SMTP_RET_UNSET;
	o.original.data = ORIGINAL;
	o.original.len = sizeof(ORIGINAL) - 1;
	sink_len = 0;
	return tern_dsn_build(&o, sink_write, NULL, NULL);
}

static void check_variant(int variant)
{
	unsigned n;
	bool bad = false;

	af_arm(0);
	assert_int_equal(run(variant), 0);
	n = af_disarm();
	assert_true(n > 3);
	assert_true(sink_len > 0);
	for (unsigned k = 1; k <= n; k++) {
		int rc;

		af_arm(k);
		rc = run(variant);
		af_disarm();
		if (rc != TERN_ENOMEM) {
			print_error("variant %d k=%u: %d, want TERN_ENOMEM\n", variant, k, rc);
			af_print_site();
			bad = true;
		}
		if (af_live() != 0) {
			print_error("variant %d k=%u: leak\n", variant, k);
			af_report("leak");
			bad = true;
		}
	}
	assert_false(bad);
}

static void test_full(void **state)
{
	(void)state;
	check_variant(0);
}

static void test_headers_only(void **state)
{
	(void)state;
	check_variant(1);
}

static void test_global(void **state)
{
	(void)state;
	check_variant(2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_headers_only),
		cmocka_unit_test(test_global),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
