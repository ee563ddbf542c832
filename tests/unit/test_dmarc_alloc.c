/* DMARC and Authentication-Results under a failing allocator (alloc_fail.h;
 * this binary is linked with --wrap for the allocator, see the end of
 * CMakeLists.txt). Each operation runs once to count its allocations N,
 * then again for every k in 1..N with allocation k failing, and:
 *   - it returns TERN_ENOMEM, never success with half a result and never
 *     another error;
 *   - an evaluation whose feed failed can be fed the same answer again and
 *     ends with the outcome it would have had;
 *   - nothing allocated while armed is left once the objects are freed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "tern/authres.h"
#include "tern/dmarc.h"

static const char RECORD[] = "v=DMARC1; p=reject; sp=quarantine; rua=mailto:a@example.com!10m,"
			     "mailto:b@example.net; ruf=mailto:f@example.com";

static int op_from(void)
{
	static const char v[] = "Alice <a@b\xc3\xbc" "cher.example>, b@two.example, Team: c@three.example;";
	const char *values[1] = {v};
	size_t lens[1] = {sizeof(v) - 1};
	struct tern_dmarc_from from;
	int rc = tern_dmarc_from_domains(values, lens, 1, &from);

	if (rc == TERN_DMARC_FROM_MULTIPLE_DOMAINS) {
		assert_int_equal(from.count, 3);
		rc = 0;
	}
	tern_dmarc_from_clear(&from);
	return rc;
}

static int op_record(void)
{
	struct tern_dmarc_record r;
	int rc = tern_dmarc_record_parse(RECORD, sizeof(RECORD) - 1, &r);

	if (rc == 0)
		assert_int_equal(r.rua_count + r.ruf_count, 3);
	tern_dmarc_record_clear(&r);
	return rc;
}

/* A whole evaluation: From subdomain, NXDOMAIN there, the org's record. */
static int op_eval(void)
{
	struct tern_dmarc_dkim dkim[2] = {{"mail.example.com", "s1", "pass"}, {"other.example", NULL, "fail"}};
	struct tern_dmarc_params p = {.from_domain = "sub.example.com", .spf_domain = "example.com",
				      .spf_result = "softfail", .dkim = dkim, .dkim_count = 2,
				      .source_ip = "192.0.2.1"};
	struct tern_dns_rr rr = {(const unsigned char *)RECORD, sizeof(RECORD) - 1, 0};
	struct tern_dmarc *d;
	int rc = tern_dmarc_new(&p, &d);

	if (rc != 0)
		return rc;
	while (tern_dmarc_query(d) != NULL) {
		bool org = strcmp(tern_dmarc_query(d), "_dmarc.example.com") == 0;
		struct tern_dns_answer a = {org ? TERN_DNS_FOUND : TERN_DNS_NXDOMAIN, false, org ? &rr : NULL,
					    org ? 1 : 0};

		rc = tern_dmarc_feed(d, &a);
		if (rc == TERN_ENOMEM) {
			/* The contract: the same answer can be fed again. */
			af_disarm();
			rc = tern_dmarc_feed(d, &a);
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, 0);
		}
	}
	const struct tern_dmarc_outcome *o = tern_dmarc_outcome(d);

	assert_int_equal(o->result, TERN_DMARC_RESULT_PASS);
	assert_int_equal(o->record.rua_count, 2);
	tern_dmarc_free(&d);
	return rc;
}

/* Two DMARC records in one answer (none): the first is parsed and kept
 * while the second is parsed. */
static int op_eval_two_records(void)
{
	struct tern_dmarc_params p = {.from_domain = "example.com"};
	struct tern_dns_rr rrs[2] = {{(const unsigned char *)RECORD, sizeof(RECORD) - 1, 0},
				     {(const unsigned char *)RECORD, sizeof(RECORD) - 1, 0}};
	struct tern_dns_answer a = {TERN_DNS_FOUND, false, rrs, 2};
	struct tern_dmarc *d;
	int rc = tern_dmarc_new(&p, &d);

	if (rc != 0)
		return rc;
	rc = tern_dmarc_feed(d, &a);
	if (rc == 0) {
		assert_null(tern_dmarc_query(d));
		assert_int_equal(tern_dmarc_outcome(d)->result, TERN_DMARC_RESULT_NONE);
	} else {
		assert_non_null(tern_dmarc_query(d));   /* still waiting: can be fed again */
	}
	tern_dmarc_free(&d);
	return rc;
}

static int op_build(void)
{
	const struct tern_authres_prop props[] = {{"smtp", "mailfrom", "a b@example.com"},
						  {"header", "b", "AbC/dEf+"}};
	const struct tern_authres_result r[] = {{"spf", 0, "pass", "x (y)", "why", props, 2},
						{"dkim", 1, "fail", NULL, NULL, props + 1, 1}};
	char *out = NULL;
	int rc = tern_authres_build(NULL, "mx.example.org", r, 2, &out, NULL);

	if (rc == 0)
		assert_non_null(out);
	else
		assert_null(out);
	free(out);
	return rc;
}

static int op_parse(void)
{
	static const char v[] = " mx.example; spf=pass smtp.mailfrom=a@b.example; dkim=pass header.d=x.example "
				"header.s=s header.b=abc; dmarc=fail (p=reject) header.from=b.example; "
				"arc=none; iprev=pass policy.iprev=192.0.2.1; auth=pass smtp.auth=u";
	struct tern_authres_parsed p;
	int rc = tern_authres_parse(v, sizeof(v) - 1, false, &p);

	if (rc == 0)
		assert_int_equal(p.count, 6);
	tern_authres_parsed_clear(&p);
	return rc;
}

static void under_failures(int (*op)(void), const char *name)
{
	af_arm(0);
	assert_int_equal(op(), 0);
	unsigned n = af_disarm();

	assert_true(n > 0);
	for (unsigned k = 1; k <= n; k++) {
		af_arm(k);
		int rc = op();

		af_disarm();
		/* op_eval turns a failed feed into a success by feeding again */
		if (rc != TERN_ENOMEM && !(rc == 0 && op == op_eval)) {
			af_report(name);
			fail_msg("%s: allocation %u of %u failed, returned %d", name, k, n, rc);
		}
		if (af_live() != 0) {
			af_report(name);
			fail_msg("%s: allocation %u of %u failed, %zu left", name, k, n, af_live());
		}
	}
}

static void test_from(void **state)
{
	(void)state;
	under_failures(op_from, "from");
}

static void test_record(void **state)
{
	(void)state;
	under_failures(op_record, "record");
}

static void test_eval(void **state)
{
	(void)state;
	under_failures(op_eval, "eval");
}

static void test_eval_two_records(void **state)
{
	(void)state;
	under_failures(op_eval_two_records, "eval two records");
}

static void test_build(void **state)
{
	(void)state;
	under_failures(op_build, "build");
}

static void test_parse(void **state)
{
	(void)state;
	under_failures(op_parse, "parse");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_eval),
		cmocka_unit_test(test_eval_two_records),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
