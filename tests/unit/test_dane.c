/* DANE decisions (src/client/dane.c) fed made-up answers: which TLSA
 * records are usable for SMTP (RFC 7672 3.1.3, RFC 6698 2.1), the TLSA
 * owner name, the presentation form, and RFC 7672 2.2's decision table run
 * through the MX planner (src/net/dns_mx.c) as delivery runs it: the MX
 * answer's, the address answers' and the TLSA answer's DNSSEC status. Each
 * answer is given as the resolver hands it over (net/dns.c turns a bogus
 * answer into TERN__DNS_TEMPFAIL with security TERN__DNS_BOGUS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/dane.h"
#include "net/dns_mx.h"
#include "tern/tern.h"


static struct tern__dns_rdata rdata(unsigned char *buf, uint8_t u, uint8_t s, uint8_t m,
				    size_t len)
{
	buf[0] = u;
	buf[1] = s;
	buf[2] = m;
	for (size_t i = 0; i < len; i++)
		buf[3 + i] = (unsigned char)(0xa0 + i);
	return (struct tern__dns_rdata){buf, 3 + len};
}

static void test_usable(void **state)
{
	static const struct {
		uint8_t u, s, m;
		size_t len;
		bool usable;
	} cases[] = {
		{3, 1, 1, 32, true},   /* the common DANE-EE(3) SPKI(1) SHA2-256(1) */
		{3, 0, 1, 32, true},   /* the whole certificate's digest */
		{2, 0, 1, 32, true},   /* DANE-TA(2) */
		{2, 1, 2, 64, true},   /* SHA2-512 */
		{3, 1, 0, 91, true},   /* the full key itself */
		{0, 0, 1, 32, false},  /* PKIX-TA: unusable for SMTP, RFC 7672 3.1.3 */
		{1, 1, 1, 32, false},  /* PKIX-EE: likewise */
		{4, 1, 1, 32, false},  /* an unknown usage */
		{3, 2, 1, 32, false},  /* an unknown selector */
		{3, 1, 3, 32, false},  /* an unknown matching type */
		{3, 1, 255, 32, false}, /* PrivMatch */
		{3, 1, 1, 31, false},  /* a SHA-256 one octet short */
		{3, 1, 1, 33, false},  /* one too long */
		{3, 1, 2, 32, false},  /* a SHA-256 called SHA-512 */
		{3, 1, 0, 0, false},   /* empty: parse refuses it */
	};
	unsigned char buf[3 + TERN__DANE_MAX_DATA + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tern__dns_rdata r = rdata(buf, cases[i].u, cases[i].s, cases[i].m,
						 cases[i].len);
		struct tern__tlsa t;
		bool ok = tern__dane_tlsa_parse(r.data, r.len, &t) && tern__dane_tlsa_usable(&t);

		if (ok != cases[i].usable)
			fail_msg("case %zu: %u %u %u len %zu", i, cases[i].u, cases[i].s, cases[i].m,
				 cases[i].len);
	}
	/* A full certificate past the bound is not kept. */
	{
		struct tern__dns_rdata r = rdata(buf, 3, 0, 0, TERN__DANE_MAX_DATA + 1);
		struct tern__tlsa t;

		assert_true(tern__dane_tlsa_parse(r.data, r.len, &t));
		assert_false(tern__dane_tlsa_usable(&t));
	}
	/* Malformed RDATA. */
	{
		struct tern__tlsa t;

		assert_false(tern__dane_tlsa_parse(NULL, 0, &t));
		assert_false(tern__dane_tlsa_parse(buf, 3, &t));
	}
}

static void test_name_and_format(void **state)
{
	char name[TERN__DNS_NAME_SIZE], text[200], longhost[260];
	unsigned char buf[40];
	struct tern__dns_rdata r = rdata(buf, 3, 1, 1, 32);
	struct tern__tlsa t;

	(void)state;
	assert_int_equal(tern__dane_tlsa_name(name, sizeof(name), 25, "mx.example.org"), 0);
	assert_string_equal(name, "_25._tcp.mx.example.org");
	assert_int_equal(tern__dane_tlsa_name(name, sizeof(name), 2525, "mx.test"), 0);
	assert_string_equal(name, "_2525._tcp.mx.test");
	memset(longhost, 'a', 250);
	longhost[250] = '\0';
	assert_int_equal(tern__dane_tlsa_name(name, sizeof(name), 25, longhost), TERN_EINVAL);

	assert_true(tern__dane_tlsa_parse(r.data, r.len, &t));
	tern__dane_tlsa_format(&t, text, sizeof(text));
	assert_string_equal(text, "3 1 1 a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babb"
				  "bcbdbebf");
	tern__dane_tlsa_format(&t, text, 12);
	assert_string_equal(text, "3 1 1 a0a1");
}

/* ---- RFC 7672 2.2 decision table -------------------------------------- */

enum outcome {
	NO_DANE,     /* the ordinary policy */
	VERIFY,      /* TLS required, authenticated by TLSA */
	ENCRYPT,     /* TLS required, unauthenticated (only unusable records) */
	HOST_FAILED, /* this host not used now */
	MX_FAILED,   /* the MX lookup itself failed: temporary failure */
};

enum tlsa_kind { T_NONE, T_GOOD, T_UNUSABLE, T_MIXED, T_NODATA, T_NXDOMAIN, T_SERVFAIL,
		 T_TIMEOUT };

struct row {
	const char *what;
	enum tern__dns_security mx, addr; /* BOGUS: as the resolver delivers it */
	bool implicit;
	enum tlsa_kind tlsa;
	enum tern__dns_security tlsa_sec;
	enum outcome want;
	size_t usable;
};

static const struct row rows[] = {
	{"all secure, usable TLSA", TERN__DNS_SECURE, TERN__DNS_SECURE, false, T_GOOD,
	 TERN__DNS_SECURE, VERIFY, 1},
	{"secure implicit MX", TERN__DNS_SECURE, TERN__DNS_SECURE, true, T_GOOD, TERN__DNS_SECURE,
	 VERIFY, 1},
	{"usable beside unusable", TERN__DNS_SECURE, TERN__DNS_SECURE, false, T_MIXED,
	 TERN__DNS_SECURE, VERIFY, 1},
	{"only unusable records", TERN__DNS_SECURE, TERN__DNS_SECURE, false, T_UNUSABLE,
	 TERN__DNS_SECURE, ENCRYPT, 0},
	{"secure NODATA", TERN__DNS_SECURE, TERN__DNS_SECURE, false, T_NODATA, TERN__DNS_SECURE,
	 NO_DANE, 0},
	{"secure NXDOMAIN", TERN__DNS_SECURE, TERN__DNS_SECURE, false, T_NXDOMAIN,
	 TERN__DNS_SECURE, NO_DANE, 0},
	{"insecure TLSA answer", TERN__DNS_SECURE, TERN__DNS_SECURE, false, T_GOOD,
	 TERN__DNS_INSECURE, NO_DANE, 0},
	{"bogus TLSA answer", TERN__DNS_SECURE, TERN__DNS_SECURE, false, T_SERVFAIL,
	 TERN__DNS_BOGUS, HOST_FAILED, 0},
	{"TLSA SERVFAIL", TERN__DNS_SECURE, TERN__DNS_SECURE, false, T_SERVFAIL,
	 TERN__DNS_INSECURE, HOST_FAILED, 0},
	{"TLSA timeout", TERN__DNS_SECURE, TERN__DNS_SECURE, false, T_TIMEOUT, TERN__DNS_INSECURE,
	 HOST_FAILED, 0},
	/* No TLSA lookup at all: */
	{"insecure MX", TERN__DNS_INSECURE, TERN__DNS_SECURE, false, T_GOOD, TERN__DNS_SECURE,
	 NO_DANE, 0},
	{"insecure implicit MX", TERN__DNS_INSECURE, TERN__DNS_SECURE, true, T_GOOD,
	 TERN__DNS_SECURE, NO_DANE, 0},
	{"insecure addresses", TERN__DNS_SECURE, TERN__DNS_INSECURE, false, T_GOOD,
	 TERN__DNS_SECURE, NO_DANE, 0},
	{"bogus MX", TERN__DNS_BOGUS, TERN__DNS_SECURE, false, T_GOOD, TERN__DNS_SECURE, MX_FAILED,
	 0},
};

static void run_row(const struct row *row)
{
	struct tern__dns_mx mx[] = {{10, "mx.dane.test"}};
	struct tern__dns_addr addr;
	struct tern__dns_answer a;
	struct tern__mx_plan p;
	struct tern__dane_host h;
	unsigned char b1[40], b2[40];
	struct tern__dns_rdata rr[2];
	enum outcome got;

	memset(&h, 0, sizeof(h));
	assert_int_equal(tern__dns_addr_parse("192.0.2.25", &addr), 0);
	assert_int_equal(tern__mx_plan_init(&p, "dane.test"), 0);
	if (row->mx == TERN__DNS_BOGUS)
		a = (struct tern__dns_answer){.status = TERN__DNS_TEMPFAIL, .security = row->mx};
	else if (row->implicit)
		a = (struct tern__dns_answer){.status = TERN__DNS_NODATA, .security = row->mx};
	else
		a = (struct tern__dns_answer){.status = TERN__DNS_ANSWER, .security = row->mx,
					      .type = TERN__DNS_MX, .n = 1, .mx = mx};
	tern__mx_plan_mx(&p, &a, NULL, 1);
	if (p.done) {
		got = MX_FAILED;
		goto check;
	}
	a = (struct tern__dns_answer){.status = TERN__DNS_ANSWER, .security = row->addr,
				      .type = TERN__DNS_A, .n = 1, .addrs = &addr};
	tern__mx_plan_addr(&p, 0, TERN__DNS_A, &a);
	a = (struct tern__dns_answer){.status = TERN__DNS_NODATA, .security = row->addr};
	tern__mx_plan_addr(&p, 0, TERN__DNS_AAAA, &a);
	assert_true(p.done);
	assert_int_equal(p.status, TERN__MX_OK);
	if (!tern__dane_lookup_due(p.mx_secure, p.hosts[0].secure)) {
		got = NO_DANE;
		goto check;
	}
	a = (struct tern__dns_answer){.security = row->tlsa_sec, .type = TERN__DNS_TLSA};
	switch (row->tlsa) {
	case T_GOOD:
		rr[0] = rdata(b1, 3, 1, 1, 32);
		a.status = TERN__DNS_ANSWER, a.n = 1, a.raw = rr;
		break;
	case T_UNUSABLE:
		rr[0] = rdata(b1, 1, 1, 1, 32);
		rr[1] = rdata(b2, 0, 0, 1, 32);
		a.status = TERN__DNS_ANSWER, a.n = 2, a.raw = rr;
		break;
	case T_MIXED:
		rr[0] = rdata(b1, 1, 1, 1, 32);
		rr[1] = rdata(b2, 2, 0, 1, 32);
		a.status = TERN__DNS_ANSWER, a.n = 2, a.raw = rr;
		break;
	case T_NODATA:
		a.status = TERN__DNS_NODATA;
		break;
	case T_NXDOMAIN:
		a.status = TERN__DNS_NXDOMAIN;
		break;
	case T_SERVFAIL:
	case T_NONE:
		a.status = TERN__DNS_TEMPFAIL;
		break;
	case T_TIMEOUT:
		a.status = TERN__DNS_TIMEOUT;
		break;
	}
	assert_int_equal(tern__dane_host_decide(&h, &a), 0);
	got = h.state == TERN__DANE_VERIFY    ? VERIFY
	      : h.state == TERN__DANE_ENCRYPT ? ENCRYPT
	      : h.state == TERN__DANE_FAILED  ? HOST_FAILED
					      : NO_DANE;
	if (got == HOST_FAILED) {
		assert_non_null(h.rpt_type);
		assert_string_equal(h.rpt_type, "dnssec-invalid");
		assert_true(h.why[0] != '\0');
	}
	if (got == VERIFY) {
		assert_int_equal(h.n_tlsa, row->usable);
		assert_true(h.tlsa[0].usage >= 2);
		/* The kept copy is the record's data, not a pointer into it. */
		assert_ptr_not_equal(h.tlsa[0].data, b1 + 3);
		assert_ptr_not_equal(h.tlsa[0].data, b2 + 3);
	}
check:
	if (got != row->want)
		fail_msg("%s: got %d, want %d", row->what, got, row->want);
	tern__dane_host_clear(&h);
	assert_int_equal(h.state, TERN__DANE_NONE);
}

static void test_decision_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&rows[i]);
}

static void test_many_records_bounded(void **state)
{
	unsigned char bufs[TERN__DANE_MAX_TLSA + 4][40];
	struct tern__dns_rdata rr[TERN__DANE_MAX_TLSA + 4];
	struct tern__dns_answer a = {.status = TERN__DNS_ANSWER, .security = TERN__DNS_SECURE,
				     .type = TERN__DNS_TLSA, .n = TERN__DANE_MAX_TLSA + 4,
				     .raw = rr};
	struct tern__dane_host h;

	(void)state;
	memset(&h, 0, sizeof(h));
	for (size_t i = 0; i < a.n; i++)
		rr[i] = rdata(bufs[i], 3, 1, 1, 32);
	assert_int_equal(tern__dane_host_decide(&h, &a), 0);
	assert_int_equal(h.state, TERN__DANE_VERIFY);
	assert_int_equal(h.n_tlsa, TERN__DANE_MAX_TLSA);
	assert_int_equal(h.n_unusable, 4);
	/* Deciding again replaces the records (no leak under ASan). */
	a.n = 1;
	assert_int_equal(tern__dane_host_decide(&h, &a), 0);
	assert_int_equal(h.n_tlsa, 1);
	tern__dane_host_fail(&h, "dnssec-invalid", "why");
	assert_int_equal(h.state, TERN__DANE_FAILED);
	assert_int_equal(h.n_tlsa, 0);
	tern__dane_host_clear(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usable),
		cmocka_unit_test(test_name_and_format),
		cmocka_unit_test(test_decision_table),
		cmocka_unit_test(test_many_records_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
