/* SPF's pure parts (src/auth/spf_macro.c, spf_record.c): macro expansion
 * with RFC 7208 7.4's examples verbatim, record parsing (good and bad
 * records, each with why), CIDR matching, name checks and the 253-octet
 * truncation. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/spf_int.h"
#include "tern/tern.h"

static void expand_with(int family, const char *ip, const char *macro, bool exp,
			const char *want)
{
	uint8_t addr[16];
	struct tern__spf_macro_ctx ctx = {
		.sender = "strong-bad@email.example.com",
		.local = "strong-bad",
		.sender_domain = "email.example.com",
		.domain = "email.example.com",
		.family = family,
		.ip = addr,
		.helo = "mx.example.org",
		.validated = NULL,
		.receiver = "mx.example.net",
		.now = 1700000000,
	};
	struct tern__buf out;

	assert_int_equal(inet_pton(family, ip, addr), 1);
	tern__buf_init(&out, 0);
	int rc = tern__spf_macro_expand(&ctx, macro, strlen(macro), exp, &out);
	if (rc != 0 || out.len != strlen(want) || memcmp(tern__buf_ptr(&out), want, out.len) != 0)
		fail_msg("%s: got rc %d \"%.*s\", want \"%s\"", macro, rc, (int)out.len,
			 tern__buf_ptr(&out), want);
	tern__buf_free(&out);
}

/* RFC 7208 7.4, every example, verbatim. */
static void test_rfc_examples(void **state)
{
	static const struct {
		const char *macro, *want;
	} v4[] = {
		{ "%{s}", "strong-bad@email.example.com" },
		{ "%{o}", "email.example.com" },
		{ "%{d}", "email.example.com" },
		{ "%{d4}", "email.example.com" },
		{ "%{d3}", "email.example.com" },
		{ "%{d2}", "example.com" },
		{ "%{d1}", "com" },
		{ "%{dr}", "com.example.email" },
		{ "%{d2r}", "example.email" },
		{ "%{l}", "strong-bad" },
		{ "%{l-}", "strong.bad" },
		{ "%{lr}", "strong-bad" },
		{ "%{lr-}", "bad.strong" },
		{ "%{l1r-}", "strong" },
		{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
		{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
		{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
		{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com" },
		{ "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
		expand_with(AF_INET, "192.0.2.3", v4[i].macro, false, v4[i].want);
	expand_with(AF_INET6, "2001:db8::cb01", "%{ir}.%{v}._spf.%{d2}",
		    false, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

static void test_other_macros(void **state)
{
	(void)state;
	/* the escapes, the exp-only letters, URL escaping of upper case */
	expand_with(AF_INET, "192.0.2.3", "a%%b%_c%-d", false, "a%b c%20d");
	expand_with(AF_INET, "192.0.2.3", "%{h} %{c} %{r} %{t} %{p}", true,
		    "mx.example.org 192.0.2.3 mx.example.net 1700000000 unknown");
	expand_with(AF_INET6, "2001:db8::cb01", "%{c}", true, "2001:db8::cb01");
	expand_with(AF_INET, "192.0.2.3", "%{S}", false, "strong-bad%40email.example.com");
	expand_with(AF_INET, "192.0.2.3", "%{L}", false, "strong-bad");
	expand_with(AF_INET, "192.0.2.3", "%{d200}", false, "email.example.com");
	expand_with(AF_INET, "192.0.2.3", "%{l-=}", false, "strong.bad");
	expand_with(AF_INET, "192.0.2.3", "%{i1}", false, "3");
}

static void test_bad_macros(void **state)
{
	static const char *const bad[] = {
		"%", "%{", "%{s", "%{x}", "%{d0}", "%{s2x}", "%a", "a b", "%{c}", "%{r}", "%{t}",
		"%{}", "%{d2r2}", "\x01", "caf\xc3\xa9",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tern__spf_macro_valid(bad[i], strlen(bad[i]), false))
			fail_msg("accepted: %s", bad[i]);
	/* c, r, t and spaces are fine in an explanation */
	assert_true(tern__spf_macro_valid("%{c} %{r} %{t}", 14, true));
	assert_true(tern__spf_macro_uses_p("x.%{p2}.y", 9));
	assert_true(tern__spf_macro_uses_p("%{P}", 4));
	assert_false(tern__spf_macro_uses_p("%%{p}", 5));
}

static void test_domain_spec(void **state)
{
	static const struct {
		const char *spec;
		bool ok;
	} cases[] = {
		{ "example.com", true },   { "example.com.", true },   { "%{d}", true },
		{ "_spf.%{d2}", true },    { "foo.123-x", true },       { "x.%%", true },
		{ "1.2.3.4", false },      { "example", false },        { "example.-com", false },
		{ "example.com-", false }, { "example..", false },       { "ex ample.com", false },
		{ "a.%-", true },          { "foo.bar%", false },       { "", false },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (tern__spf_domain_spec_valid(cases[i].spec, strlen(cases[i].spec)) != cases[i].ok)
			fail_msg("%s: want %d", cases[i].spec, cases[i].ok);
}

static void test_records(void **state)
{
	static const struct {
		const char *record;
		bool ok;
	} cases[] = {
		{ "v=spf1", true },
		{ "v=spf1 -all", true },
		{ "V=SPF1   +A  -ALL ", true },
		{ "v=spf1 a/24//64 mx:%{d}/0 ip4:192.0.2.1/24 ip6:2001:db8::/32 ptr ptr:x.org -all", true },
		{ "v=spf1 include:_spf.example.com exists:%{i}.x.example.org ~all", true },
		{ "v=spf1 redirect=_spf.example.com", true },
		{ "v=spf1 foo=bar x-y.z=%{d} -all", true },
		{ "v=spf1 exp=explain.%{d} -all", true },
		{ "v=spf1 -all:foo", false },            /* all takes nothing */
		{ "v=spf1 ip4:192.0.2.1/33", false },
		{ "v=spf1 ip4:192.0.2.1/024", false },   /* no leading zero */
		{ "v=spf1 ip4:1.2.03.4", false },
		{ "v=spf1 ip4:", false },
		{ "v=spf1 ip6:2001:db8::/129", false },
		{ "v=spf1 ip6:192.0.2.1", false },
		{ "v=spf1 a:", false },
		{ "v=spf1 a:1.2.3.4", false },           /* a numeric top label */
		{ "v=spf1 a/33", false },
		{ "v=spf1 a//129", false },
		{ "v=spf1 include", false },
		{ "v=spf1 exists", false },
		{ "v=spf1 foo", false },                 /* unknown mechanism */
		{ "v=spf1 redirect=a.example redirect=b.example", false },
		{ "v=spf1 exp=a.example exp=b.example -all", false },
		{ "v=spf1 -redirect=x.example", false },
		{ "v=spf1 1x=y", false },                /* a name starts with a letter */
		{ "v=spf1 foo=%{x}", false },
		{ "v=spf1 a:foo.example.com\r-all", false },
		{ "v=spf1 a:caf\xc3\xa9.example", false },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tern__spf_record rec;
		const char *problem = NULL;
		int rc = tern__spf_record_parse(&rec, (const unsigned char *)cases[i].record,
						strlen(cases[i].record), &problem);
		if ((rc == 0) != cases[i].ok)
			fail_msg("%s: rc %d (%s)", cases[i].record, rc, problem ? problem : "");
		if (rc == 0)
			tern__spf_record_free(&rec);
		else
			assert_non_null(problem);
	}
}

static void test_record_terms(void **state)
{
	const char *r = "v=spf1 ?a:mail.%{d}/24//64 -ip4:192.0.2.0/25 ~mx redirect=r.example exp=e.example";
	struct tern__spf_record rec;
	const char *problem = NULL;

	(void)state;
	assert_int_equal(tern__spf_record_parse(&rec, (const unsigned char *)r, strlen(r), &problem), 0);
	assert_int_equal(rec.n, 5);
	assert_int_equal(rec.terms[0].kind, SPF_A);
	assert_int_equal(rec.terms[0].qualifier, TERN_SPF_RESULT_NEUTRAL);
	assert_int_equal(rec.terms[0].spec_len, 9);
	assert_memory_equal(rec.terms[0].spec, "mail.%{d}", 9);
	assert_int_equal(rec.terms[0].cidr4, 24);
	assert_int_equal(rec.terms[0].cidr6, 64);
	assert_int_equal(rec.terms[1].kind, SPF_IP4);
	assert_int_equal(rec.terms[1].qualifier, TERN_SPF_RESULT_FAIL);
	assert_int_equal(rec.terms[1].cidr4, 25);
	assert_int_equal(rec.terms[2].kind, SPF_MX);
	assert_null(rec.terms[2].spec);
	assert_int_equal(rec.terms[2].qualifier, TERN_SPF_RESULT_SOFTFAIL);
	assert_ptr_equal(rec.redirect, &rec.terms[3]);
	assert_ptr_equal(rec.exp, &rec.terms[4]);
	tern__spf_record_free(&rec);

	/* RFC 7208 6.1: redirect is ignored when the record has "all". */
	r = "v=spf1 redirect=r.example -all";
	assert_int_equal(tern__spf_record_parse(&rec, (const unsigned char *)r, strlen(r), &problem), 0);
	assert_null(rec.redirect);
	tern__spf_record_free(&rec);
}

static void test_is_record(void **state)
{
	(void)state;
	assert_true(tern__spf_is_record((const unsigned char *)"v=spf1", 6));
	assert_true(tern__spf_is_record((const unsigned char *)"V=Spf1 -all", 11));
	assert_false(tern__spf_is_record((const unsigned char *)"v=spf10", 7));
	assert_false(tern__spf_is_record((const unsigned char *)"v=spf1\t-all", 11));
	assert_false(tern__spf_is_record((const unsigned char *)" v=spf1", 7));
	assert_false(tern__spf_is_record((const unsigned char *)"v=spf", 5));
}

static void test_cidr(void **state)
{
	uint8_t a[16], b[16];

	(void)state;
	inet_pton(AF_INET, "192.0.2.130", a);
	inet_pton(AF_INET, "192.0.2.0", b);
	assert_true(tern__spf_prefix_match(a, b, 23));
	assert_true(tern__spf_prefix_match(a, b, 24));
	assert_false(tern__spf_prefix_match(a, b, 25));
	assert_true(tern__spf_prefix_match(a, b, 0));
	assert_false(tern__spf_prefix_match(a, b, 32));
	inet_pton(AF_INET6, "2001:db8:1:2::1", a);
	inet_pton(AF_INET6, "2001:db8:1:3::1", b);
	assert_true(tern__spf_prefix_match(a, b, 47));
	assert_false(tern__spf_prefix_match(a, b, 64));
	assert_true(tern__spf_prefix_match(a, b, 63));
	assert_false(tern__spf_prefix_match(a, b, 128));
}

static void test_names(void **state)
{
	char label63[64], long_name[400];
	struct tern__buf b;

	(void)state;
	memset(label63, 'a', 63);
	label63[63] = '\0';
	assert_true(tern__spf_domain_ok("example.com"));
	assert_true(tern__spf_domain_ok("example.com."));
	assert_false(tern__spf_domain_ok("localhost"));
	assert_false(tern__spf_domain_ok("a..example.com"));
	assert_false(tern__spf_domain_ok("[192.0.2.1]"));
	assert_false(tern__spf_domain_ok(""));
	snprintf(long_name, sizeof(long_name), "%s.example.com", label63);
	assert_true(tern__spf_domain_ok(long_name));
	snprintf(long_name, sizeof(long_name), "x%s.example.com", label63);
	assert_false(tern__spf_domain_ok(long_name));

	/* RFC 7208 7.3: labels go from the left until 253 octets remain. */
	tern__buf_init(&b, 0);
	for (int i = 0; i < 5; i++)
		tern__buf_printf(&b, "%s.", label63);
	tern__buf_printf(&b, "example.com.");
	tern__spf_truncate_name(&b);
	assert_true(b.len <= 253);
	assert_int_equal(b.len, 3 * 64 + 11);
	assert_memory_equal(tern__buf_ptr(&b) + b.len - 11, "example.com", 11);
	tern__buf_free(&b);
}

static void test_reverse(void **state)
{
	uint8_t a[16];
	struct tern__buf b;

	(void)state;
	tern__buf_init(&b, 0);
	inet_pton(AF_INET, "192.0.2.3", a);
	tern__spf_reverse_name(AF_INET, a, &b);
	assert_int_equal(b.len, strlen("3.2.0.192.in-addr.arpa"));
	assert_memory_equal(tern__buf_ptr(&b), "3.2.0.192.in-addr.arpa", b.len);
	tern__buf_clear(&b);
	inet_pton(AF_INET6, "2001:db8::cb01", a);
	tern__spf_reverse_name(AF_INET6, a, &b);
	const char *want = "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(tern__buf_ptr(&b), want, b.len);
	tern__buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_examples), cmocka_unit_test(test_other_macros),
		cmocka_unit_test(test_bad_macros),   cmocka_unit_test(test_domain_spec),
		cmocka_unit_test(test_records),      cmocka_unit_test(test_record_terms),
		cmocka_unit_test(test_is_record),    cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_names),        cmocka_unit_test(test_reverse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
