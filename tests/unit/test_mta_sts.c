/* MTA-STS (src/client/mta_sts.c): the policy parser on RFC 8461 3.2's
 * example and variations (CRLF and LF, field order, unknown fields, bad
 * versions and modes, mx missing in enforce, max_age bounds, junk), each
 * policy parsed whole and then cut at every octet (a prefix must never
 * crash, and is valid only when the cut falls after the last field); the
 * TXT record (RFC 8461 3.1); MX patterns, where "*." matches exactly one
 * label (4.1); and the cache: same id, changed id, expiry, the store hook,
 * the bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/mta_sts.h"
#include "tern/tern.h"

/* RFC 8461 3.2's example, as published (CRLF). */
static const char rfc_example[] = "version: STSv1\r\n"
				  "mode: enforce\r\n"
				  "mx: mail.example.com\r\n"
				  "mx: *.example.net\r\n"
				  "mx: backupmx.example.com\r\n"
				  "max_age: 604800\r\n";

static int parse(struct tern__sts_policy *p, const char *text, const char **why)
{
	return tern__sts_policy_parse(p, text, strlen(text), why);
}

static void test_rfc_example(void **state)
{
	struct tern__sts_policy p;
	char lf[sizeof(rfc_example)];
	size_t o = 0;

	(void)state;
	assert_int_equal(parse(&p, rfc_example, NULL), 0);
	assert_int_equal(p.mode, TERN__STS_ENFORCE);
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.n_mx, 3);
	assert_string_equal(p.mx[0], "mail.example.com");
	assert_string_equal(p.mx[1], "*.example.net");
	assert_string_equal(p.mx[2], "backupmx.example.com");
	assert_int_equal(p.n_lines, 6);
	assert_string_equal(p.lines[0], "version: STSv1");
	assert_string_equal(p.lines[5], "max_age: 604800");
	tern__sts_policy_clear(&p);

	/* LF only, and no final line end. */
	for (size_t i = 0; rfc_example[i]; i++)
		if (rfc_example[i] != '\r')
			lf[o++] = rfc_example[i];
	lf[o - 1] = '\0';
	assert_int_equal(parse(&p, lf, NULL), 0);
	assert_int_equal(p.n_mx, 3);
	assert_int_equal(p.max_age, 604800);
	tern__sts_policy_clear(&p);
}

/* Every prefix of the example parses without harm (ASan watches); only
 * those holding all of it but line ends are valid. */
static void test_prefixes(void **state)
{
	size_t len = strlen(rfc_example), full = len - 2; /* before the last CRLF... */

	(void)state;
	/* "max_age: 6" is a valid (if short) max_age: the cut is valid from
	 * the first digit on. */
	full = (size_t)(strstr(rfc_example, "max_age: ") - rfc_example) + 10;
	for (size_t n = 0; n <= len; n++) {
		struct tern__sts_policy p;
		int r = tern__sts_policy_parse(&p, rfc_example, n, NULL);

		if ((r == 0) != (n >= full))
			fail_msg("prefix of %zu octets: %d", n, r);
		tern__sts_policy_clear(&p);
	}
}

static void test_valid_variants(void **state)
{
	static const struct {
		const char *text;
		enum tern__sts_mode mode;
		uint32_t max_age;
		size_t n_mx;
	} cases[] = {
		/* Field order is free; unknown fields are ignored. */
		{"mx: a.example\nmax_age: 5\nmode: testing\nversion: STSv1\n", TERN__STS_TESTING, 5, 1},
		{"version: STSv1\nfoo: bar\nmode: enforce\nmx: a.example\nmax_age: 1\nx-y_z.1: ?\n",
		 TERN__STS_ENFORCE, 1, 1},
		/* mode none needs no mx. */
		{"version: STSv1\nmode: none\nmax_age: 86400\n", TERN__STS_NONE, 86400, 0},
		/* Spaces and tabs around the value; blank lines. */
		{"version:STSv1\r\n\r\nmode:\t enforce \t\r\nmx:  MX.Example.COM.\r\nmax_age: 0\r\n\r\n",
		 TERN__STS_ENFORCE, 0, 1},
		/* ABNF literals are case-insensitive for mode. */
		{"version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 10\n", TERN__STS_ENFORCE, 10,
		 1},
		/* max_age over a year is cut to one year (RFC 8461 3.2). */
		{"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 9999999999\n",
		 TERN__STS_ENFORCE, TERN__STS_MAX_AGE, 1},
		{"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557600\n", TERN__STS_ENFORCE,
		 31557600, 1},
		{"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 0031557601\n",
		 TERN__STS_ENFORCE, TERN__STS_MAX_AGE, 1},
		/* A repeated field other than mx: the first counts. */
		{"version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 7\nmax_age: 9\n",
		 TERN__STS_TESTING, 7, 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tern__sts_policy p;
		const char *why = NULL;
		int r = parse(&p, cases[i].text, &why);

		if (r != 0)
			fail_msg("case %zu: %d (%s)", i, r, why ? why : "");
		assert_int_equal(p.mode, cases[i].mode);
		assert_int_equal(p.max_age, cases[i].max_age);
		assert_int_equal(p.n_mx, cases[i].n_mx);
		tern__sts_policy_clear(&p);
	}
	{
		struct tern__sts_policy p;

		assert_int_equal(parse(&p, cases[3].text, NULL), 0);
		assert_string_equal(p.mx[0], "mx.example.com"); /* lower case, no dot */
		tern__sts_policy_clear(&p);
	}
}

static void test_invalid(void **state)
{
	static const char *const cases[] = {
		"",
		"\r\n\r\n",
		"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
		"version: stsv1\nmode: enforce\nmx: a.example\nmax_age: 1\n", /* %s"STSv1" */
		"version: STSv1 x\nmode: enforce\nmx: a.example\nmax_age: 1\n",
		"mode: enforce\nmx: a.example\nmax_age: 1\n",                  /* no version */
		"version: STSv1\nmx: a.example\nmax_age: 1\n",                 /* no mode */
		"version: STSv1\nmode: enforce\nmx: a.example\n",              /* no max_age */
		"version: STSv1\nmode: enforce\nmax_age: 1\n",                 /* enforce, no mx */
		"version: STSv1\nmode: testing\nmax_age: 1\n",                 /* testing, no mx */
		"version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1e3\n",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: \n",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n", /* 11 digits */
		"version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmx: *.com\nmax_age: 1\n",       /* a TLD wildcard */
		"version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmx: **.example\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmx: \nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmx: a example\nmax_age: 1\n",
		"version: STSv1\nmode enforce\nmx: a.example\nmax_age: 1\n",   /* no ':' */
		": STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n",
		"<html><body>Not found</body></html>\n",
		"version: STSv1\nmode: enforce\x01\nmx: a.example\nmax_age: 1\n",
	};
	struct tern__sts_policy p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;

		if (parse(&p, cases[i], &why) != TERN_EINVAL)
			fail_msg("case %zu parsed: %s", i, cases[i]);
		assert_non_null(why);
		assert_int_equal(p.n_mx, 0);
		assert_null(p.lines);
	}
	/* An unknown field may be long; a known one may not. */
	{
		char text[2048];
		char pad[1001];

		memset(pad, 'x', 1000);
		pad[1000] = '\0';
		snprintf(text, sizeof(text), "version: STSv1\nx-note: %s\nmode: none\nmax_age: 1\n", pad);
		assert_int_equal(parse(&p, text, NULL), 0);
		tern__sts_policy_clear(&p);
		snprintf(text, sizeof(text), "version: STSv1\nmode: none\nmax_age: 1\nmx: %s\n", pad);
		assert_int_equal(parse(&p, text, NULL), TERN_EINVAL);
	}
	/* A NUL inside, and a body over 64 KiB. */
	{
		static const char nul[] = "version: STSv1\nmode: none\0\nmax_age: 1\n";
		char *big = malloc(TERN__STS_MAX_BODY + 2);

		assert_int_equal(tern__sts_policy_parse(&p, nul, sizeof(nul) - 1, NULL), TERN_EINVAL);
		assert_non_null(big);
		memset(big, '\n', TERN__STS_MAX_BODY + 1);
		memcpy(big, "version: STSv1\nmode: none\nmax_age: 1\n", 37);
		assert_int_equal(tern__sts_policy_parse(&p, big, TERN__STS_MAX_BODY, NULL), 0);
		tern__sts_policy_clear(&p);
		assert_int_equal(tern__sts_policy_parse(&p, big, TERN__STS_MAX_BODY + 1, NULL),
				 TERN_EINVAL);
		free(big);
	}
}

static void test_many_mx_bounded(void **state)
{
	char text[8192];
	size_t o;
	struct tern__sts_policy p;

	(void)state;
	o = (size_t)snprintf(text, sizeof(text), "version: STSv1\nmode: enforce\nmax_age: 1\n");
	for (int i = 0; i < TERN__STS_MAX_MX + 10; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "mx: mx%d.example\n", i);
	assert_int_equal(parse(&p, text, NULL), 0);
	assert_int_equal(p.n_mx, TERN__STS_MAX_MX);
	tern__sts_policy_clear(&p);
}

static void test_patterns(void **state)
{
	static const struct {
		const char *pattern, *host;
		bool match;
	} cases[] = {
		{"mail.example.com", "mail.example.com", true},
		{"mail.example.com", "MAIL.Example.COM", true},
		{"mail.example.com", "mail.example.com.", true},
		{"mail.example.com", "mail.example.co", false},
		{"mail.example.com", "xmail.example.com", false},
		{"mail.example.com", "a.mail.example.com", false},
		/* RFC 8461 4.1: the wildcard is exactly one label. */
		{"*.example.net", "mx1.example.net", true},
		{"*.example.net", "MX1.EXAMPLE.NET", true},
		{"*.example.net", "example.net", false},
		{"*.example.net", ".example.net", false},
		{"*.example.net", "a.b.example.net", false},
		{"*.example.net", "mx1.example.network", false},
		{"*.example.net", "mx1example.net", false},
		{"*.example.net", "mx1.xexample.net", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (tern__sts_pattern_match(cases[i].pattern, cases[i].host) != cases[i].match)
			fail_msg("%s vs %s", cases[i].pattern, cases[i].host);
	{
		struct tern__sts_policy p;

		assert_int_equal(parse(&p, rfc_example, NULL), 0);
		assert_true(tern__sts_mx_match(&p, "mail.example.com"));
		assert_true(tern__sts_mx_match(&p, "mx2.example.net"));
		assert_true(tern__sts_mx_match(&p, "backupmx.example.com"));
		assert_false(tern__sts_mx_match(&p, "evil.example.com"));
		assert_false(tern__sts_mx_match(&p, "a.b.example.net"));
		tern__sts_policy_clear(&p);
	}
}

static void test_txt(void **state)
{
	static const struct {
		const char *text;
		const char *id; /* NULL: invalid */
	} cases[] = {
		{"v=STSv1; id=20160831085700Z;", "20160831085700Z"}, /* RFC 8461 3.1 */
		{"v=STSv1; id=20160831085700Z", "20160831085700Z"},
		{"v=STSv1;id=abc", "abc"},
		{"v=STSv1 ; id=abc ; ext=1;", "abc"},
		{"v=STSv1; ext=x; id=abc", "abc"},
		{"v=STSv1; id=12345678901234567890123456789012", "12345678901234567890123456789012"},
		{"v=STSv1; id=123456789012345678901234567890123", NULL}, /* 33 */
		{"v=STSv1; id=", NULL},
		{"v=STSv1; id=a-b", NULL},
		{"v=STSv1;", NULL},
		{"v=STSv1", NULL},
		{"v=STSv2; id=1", NULL},
		{"v=stsv1; id=1", NULL},
		{" v=STSv1; id=1", NULL},
		{"id=1; v=STSv1", NULL},
		{"v=STSv1; id=1; junk", NULL},
		{"v=STSv1 id=1", NULL},
	};
	char id[TERN__STS_ID_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = tern__sts_txt_parse(cases[i].text, strlen(cases[i].text), id);

		if (ok != (cases[i].id != NULL) || (ok && strcmp(id, cases[i].id) != 0))
			fail_msg("case %zu: %s", i, cases[i].text);
	}
}

/* TXT answers: character-strings, records that do not start with
 * v=STSv1 dropped, more than one that does is no policy. */
static void test_txt_answer(void **state)
{
	unsigned char a[] = "\x1bv=STSv1; id=20160831085700Z";
	unsigned char split[] = "\x08v=STSv1;\x05 id=1";
	unsigned char spf[] = "\x0bv=spf1 -all";
	unsigned char bad[] = "\x30v=STSv1";
	struct tern__dns_rdata one[] = {{a, sizeof(a) - 1}};
	struct tern__dns_rdata with_spf[] = {{spf, sizeof(spf) - 1}, {split, sizeof(split) - 1}};
	struct tern__dns_rdata two[] = {{a, sizeof(a) - 1}, {split, sizeof(split) - 1}};
	struct tern__dns_rdata malformed[] = {{bad, sizeof(bad) - 1}};
	struct tern__dns_answer ans = {.status = TERN__DNS_ANSWER, .type = TERN__DNS_TXT};
	char id[TERN__STS_ID_SIZE];

	(void)state;
	ans.raw = one, ans.n = 1;
	assert_true(tern__sts_txt_id(&ans, id));
	assert_string_equal(id, "20160831085700Z");
	ans.raw = with_spf, ans.n = 2;
	assert_true(tern__sts_txt_id(&ans, id));
	assert_string_equal(id, "1");
	ans.raw = two, ans.n = 2;
	assert_false(tern__sts_txt_id(&ans, id));
	ans.raw = malformed, ans.n = 1;
	assert_false(tern__sts_txt_id(&ans, id));
	ans.raw = one, ans.n = 1, ans.status = TERN__DNS_TEMPFAIL;
	assert_false(tern__sts_txt_id(&ans, id));
}

/* ---- cache ---------------------------------------------------------- */

struct store_log {
	int loads, stores;
	char last_id[40];
};

static bool load_one(const char *domain, char **text, char **id, int64_t *fetched, void *arg)
{
	struct store_log *l = arg;

	l->loads++;
	if (strcmp(domain, "stored.example") != 0)
		return false;
	*text = strdup("version: STSv1\nmode: enforce\nmx: mx.stored.example\nmax_age: 100\n");
	*id = strdup("s1");
	*fetched = 1000;
	return true;
}

static void store_one(const char *domain, const char *text, const char *id, int64_t fetched,
		      void *arg)
{
	struct store_log *l = arg;

	(void)domain;
	(void)text;
	(void)fetched;
	l->stores++;
	snprintf(l->last_id, sizeof(l->last_id), "%s", id);
}

static void test_cache(void **state)
{
	struct tern__sts_cache *c;
	struct store_log log = {0};
	tern_delivery_sts_store store = {load_one, store_one};
	const char *id, *text;
	size_t len;
	const char *pol = "version: STSv1\nmode: testing\nmx: mx.example\nmax_age: 60\n";

	(void)state;
	assert_int_equal(tern__sts_cache_new(&c, &store, &log), 0);
	/* Not there: the store is asked once. */
	assert_false(tern__sts_cache_get(c, "example.org", 0, &id, &text, &len));
	assert_false(tern__sts_cache_get(c, "example.org", 0, &id, &text, &len));
	assert_int_equal(log.loads, 1);
	/* Put, then get until max_age is over (rule 1). */
	assert_int_equal(tern__sts_cache_put(c, "example.org", "id1", pol, strlen(pol), 5000), 0);
	assert_int_equal(log.stores, 1);
	assert_string_equal(log.last_id, "id1");
	assert_true(tern__sts_cache_get(c, "EXAMPLE.org", 5059, &id, &text, &len));
	assert_string_equal(id, "id1");
	assert_int_equal(len, strlen(pol));
	assert_memory_equal(text, pol, len);
	assert_false(tern__sts_cache_get(c, "example.org", 5060, &id, &text, &len));
	/* A new id replaces it. */
	assert_int_equal(tern__sts_cache_put(c, "example.org", "id2", pol, strlen(pol), 6000), 0);
	assert_true(tern__sts_cache_get(c, "example.org", 6001, &id, &text, &len));
	assert_string_equal(id, "id2");
	/* Not a policy, or an id too long: nothing changes. */
	assert_int_equal(tern__sts_cache_put(c, "example.org", "id3", "junk", 4, 6001), TERN_EINVAL);
	assert_int_equal(tern__sts_cache_put(c, "example.org",
					     "123456789012345678901234567890123", pol, strlen(pol),
					     6001),
			 TERN_EINVAL);
	assert_true(tern__sts_cache_get(c, "example.org", 6002, &id, &text, &len));
	assert_string_equal(id, "id2");
	/* From the store. */
	assert_true(tern__sts_cache_get(c, "stored.example", 1099, &id, &text, &len));
	assert_string_equal(id, "s1");
	assert_false(tern__sts_cache_get(c, "stored.example", 1100, &id, &text, &len));
	tern__sts_cache_free(&c);
	assert_null(c);
}

static void test_cache_bound(void **state)
{
	struct tern__sts_cache *c;
	const char *pol = "version: STSv1\nmode: none\nmax_age: 600\n", *id, *text;
	char name[64];
	size_t len;

	(void)state;
	assert_int_equal(tern__sts_cache_new(&c, NULL, NULL), 0);
	for (int i = 0; i < TERN__STS_CACHE_MAX + 5; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		assert_int_equal(tern__sts_cache_put(c, name, "1", pol, strlen(pol), 0), 0);
	}
	/* Rule 4: the oldest went. */
	assert_false(tern__sts_cache_get(c, "d0.example", 1, &id, &text, &len));
	assert_false(tern__sts_cache_get(c, "d4.example", 1, &id, &text, &len));
	assert_true(tern__sts_cache_get(c, "d5.example", 1, &id, &text, &len));
	snprintf(name, sizeof(name), "d%d.example", TERN__STS_CACHE_MAX + 4);
	assert_true(tern__sts_cache_get(c, name, 1, &id, &text, &len));
	tern__sts_cache_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_example), cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_valid_variants), cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_many_mx_bounded), cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_txt), cmocka_unit_test(test_txt_answer),
		cmocka_unit_test(test_cache), cmocka_unit_test(test_cache_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
