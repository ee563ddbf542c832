/* SPF under a failing allocator (alloc_fail.h; this binary is linked with
 * --wrap for the allocator, see the end of CMakeLists.txt). A check that
 * touches every allocating path (record parsing, include, mx names, %{p},
 * exp= and both identities) runs once to count its allocations N, then
 * again for every k in 1..N with allocation k failing, and:
 *   - tern_spf_new() fails with TERN_ENOMEM and nothing else, or
 *   - the check still ends (tern_spf_next() says done, no question is
 *     asked past the bound) and every identity has an outcome: the one it
 *     would have had, or temperror with problem "out of memory";
 *   - the header-field writers return the length or TERN_ENOMEM;
 *   - nothing allocated while armed is left once the check is destroyed. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "tern/spf.h"

struct rec {
	const char *name;
	enum tern_dns_type type;
	const char *value;
};

static const struct rec ZONE[] = {
	{ "example.com", TERN_DNS_TYPE_TXT, "v=spf1 include:_spf.example.com mx ptr:other.%{d2} -all exp=e.%{d}" },
	{ "_spf.example.com", TERN_DNS_TYPE_TXT, "v=spf1 a:out.example.com ip6:2001:db8::/32 ?all" },
	{ "example.com", TERN_DNS_TYPE_MX, "mx1.example.com" },
	{ "example.com", TERN_DNS_TYPE_MX, "mx2.example.com" },
	{ "mx1.example.com", TERN_DNS_TYPE_A, "198.51.100.1" },
	{ "mx2.example.com", TERN_DNS_TYPE_A, "198.51.100.2" },
	{ "out.example.com", TERN_DNS_TYPE_A, "198.51.100.3" },
	{ "9.113.0.203.in-addr.arpa", TERN_DNS_TYPE_PTR, "host.example.com" },
	{ "host.example.com", TERN_DNS_TYPE_A, "203.0.113.9" },
	{ "e.example.com", TERN_DNS_TYPE_TXT, "%{i} (%{p}) may not send as %{s}" },
	{ "mail.example.org", TERN_DNS_TYPE_TXT, "v=spf1 a -all" },
	{ "mail.example.org", TERN_DNS_TYPE_A, "203.0.113.9" },
	{ NULL, 0, NULL },
};

static void answer_from(const char *name, enum tern_dns_type type, struct tern_dns_answer *a,
			struct tern_dns_rr *rrs, uint8_t (*bin)[4])
{
	bool known = false;

	memset(a, 0, sizeof(*a));
	a->rrs = rrs;
	for (const struct rec *r = ZONE; r->name; r++) {
		if (strcasecmp(r->name, name) != 0)
			continue;
		known = true;
		if (r->type != type)
			continue;
		if (type == TERN_DNS_TYPE_A) {
			inet_pton(AF_INET, r->value, bin[a->count]);
			rrs[a->count].data = bin[a->count];
			rrs[a->count].len = 4;
		} else {
			rrs[a->count].data = (const unsigned char *)r->value;
			rrs[a->count].len = strlen(r->value);
		}
		a->count++;
	}
	a->status = a->count ? TERN_DNS_FOUND : known ? TERN_DNS_NODATA : TERN_DNS_NXDOMAIN;
}

/* Runs the check; fills want[] on the counting run, compares after. */
static int op_check(enum tern_spf_result want[2], bool counting)
{
	tern_spf_params p;
	tern_spf *spf = NULL;
	const char *name;
	enum tern_dns_type type;
	unsigned asked = 0;
	char buf[1024];

	tern_spf_params_init(&p);
	p.client_ip = "203.0.113.9";
	p.helo = "mail.example.org";
	p.mail_from = "user@example.com";
	p.receiver = "mx.example.net";
	p.checks = TERN_SPF_HELO | TERN_SPF_MAILFROM;
	int rc = tern_spf_new(&spf, &p);
	if (rc != 0) {
		assert_int_equal(rc, TERN_ENOMEM);
		assert_null(spf);
		return rc;
	}
	while (tern_spf_next(spf, &name, &type) == TERN_SPF_QUERY) {
		struct tern_dns_answer a;
		struct tern_dns_rr rrs[8];
		uint8_t bin[8][4];

		assert_true(++asked <= TERN_SPF_MAX_QUERIES);
		answer_from(name, type, &a, rrs, bin);
		assert_int_equal(tern_spf_answer(spf, &a), 0);
	}
	rc = 0;
	for (int i = 0; i < 2; i++) {
		enum tern_spf_identity id = i == 0 ? TERN_SPF_HELO : TERN_SPF_MAILFROM;
		const struct tern_spf_outcome *o = tern_spf_outcome(spf, id);
		assert_non_null(o);
		if (counting) {
			want[i] = o->result;
		} else if (o->result != want[i]) {
			assert_int_equal(o->result, TERN_SPF_RESULT_TEMPERROR);
			assert_non_null(o->problem);
			assert_string_equal(o->problem, "out of memory");
			rc = TERN_ENOMEM;
		}
		int n = tern_spf_received_spf(spf, id, buf, sizeof(buf));
		assert_true(n > 0 || n == TERN_ENOMEM);
		n = tern_spf_auth_results(spf, id, buf, sizeof(buf));
		assert_true(n > 0 || n == TERN_ENOMEM);
	}
	tern_spf_destroy(&spf);
	return rc;
}

static void test_check_alloc(void **state)
{
	enum tern_spf_result want[2];
	unsigned n;

	(void)state;
	af_arm(0);
	assert_int_equal(op_check(want, true), 0);
	n = af_disarm();
	/* the counting run ends in fail for MAIL FROM (with exp= and %{p})
	 * and pass for HELO: every path was taken */
	assert_int_equal(want[0], TERN_SPF_RESULT_PASS);
	assert_int_equal(want[1], TERN_SPF_RESULT_FAIL);
	assert_true(n > 20);
	unsigned failed = 0;
	for (unsigned k = 1; k <= n; k++) {
		af_arm(k);
		failed += op_check(want, false) == TERN_ENOMEM;
		af_disarm();
		if (af_live() != 0) {
			af_report("spf check");
			fail_msg("allocation %u of %u failing leaves %zu allocations", k, n, af_live());
		}
	}
	/* most failures show (some only shorten a text that is not kept) */
	print_message("%u allocations, %u failures seen\n", n, failed);
	assert_true(failed > n / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_alloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
