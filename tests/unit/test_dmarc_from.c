/* The RFC5322.From domain extractor (tern_dmarc_from_domains): a table of
 * odd but legal From values (RFC 5322 3.4, 4.4 obsolete forms, RFC 6854
 * groups, RFC 6532 UTF-8, folding) and of bad ones. The expected domains
 * were worked out by hand from the grammar, and the legal values were
 * cross-checked with Python's email.headerregistry (which also finds these
 * addr-specs); tests/interop/test_dmarc.py runs that comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tern/dmarc.h"

struct from_case {
	const char *value;
	int status;
	const char *domains;   /* space-separated expected domains */
};

static const struct from_case CASES[] = {
	/* plain forms */
	{"a@example.com", 0, "example.com"},
	{"<a@example.com>", 0, "example.com"},
	{"Alice <a@example.com>", 0, "example.com"},
	{"\"Alice Example\" <a@example.com>", 0, "example.com"},
	{"  a@Example.COM  ", 0, "example.com"},
	{"a@example.com.", 0, "example.com"},
	{"Alice <a@example.com.>", 0, "example.com"},
	{"a@example.com\r\n", 0, "example.com"},
	/* display names that look like addresses */
	{"\"b@evil.example\" <a@example.com>", 0, "example.com"},
	{"b@evil.example <a@example.com>", TERN_DMARC_FROM_SYNTAX, NULL},
	{"\"<b@evil.example>\" <a@example.com>", 0, "example.com"},
	{"(b@evil.example) a@example.com", 0, "example.com"},
	{"a@example.com (b@evil.example)", 0, "example.com"},
	{"Alice (comment <x@evil.example>) <a@example.com>", 0, "example.com"},
	/* comments: nested, escaped, everywhere CFWS may be */
	{"(a (nested (deep) comment)) a@example.com", 0, "example.com"},
	{"(esc \\) paren) a@example.com", 0, "example.com"},
	{"a(c)@(c)example(c).(c)com(c)", 0, "example.com"},
	{"Alice <(c)a@example.com(c)>", 0, "example.com"},
	/* quoted local parts */
	{"\"a b\"@example.com", 0, "example.com"},
	{"\"a@b\"@example.com", 0, "example.com"},
	{"\"a\\\"b\"@example.com", 0, "example.com"},
	{"\"\"@example.com", 0, "example.com"},
	{"Alice <\"odd@local\"@example.com>", 0, "example.com"},
	/* folding */
	{"Alice\r\n <a@example.com>", 0, "example.com"},
	{"\"Alice\r\n Example\"\r\n\t<a@example.com>", 0, "example.com"},
	/* obsolete forms (RFC 5322 4.4) */
	{"Alice <@relay.example:a@example.com>", 0, "example.com"},
	{"Alice <@r1.example,@r2.example:a@example.com>", 0, "example.com"},
	{"A. B. Alice <a@example.com>", 0, "example.com"},
	{"a . b @ example . com", 0, "example.com"},
	{"a.b@example.com", 0, "example.com"},
	{"\"a\".b.\"c d\"@example.com", 0, "example.com"},
	{"a..b@docomo.example", 0, "docomo.example"},   /* obs: tolerated, in use */
	{"a.@docomo.example", 0, "docomo.example"},
	{", a@example.com ,", 0, "example.com"},
	/* several mailboxes */
	{"a@example.com, b@example.com", 0, "example.com"},
	{"a@example.com, B@EXAMPLE.com.", 0, "example.com"},
	{"a@example.com, b@example.org", TERN_DMARC_FROM_MULTIPLE_DOMAINS, "example.com example.org"},
	{"Alice <a@one.example>, \"Bob\" <b@two.example>, c@one.example",
	 TERN_DMARC_FROM_MULTIPLE_DOMAINS, "one.example two.example"},
	/* groups (RFC 6854) */
	{"Team: a@example.com, b@example.com;", 0, "example.com"},
	{"Team: a@example.com;, c@example.org", TERN_DMARC_FROM_MULTIPLE_DOMAINS,
	 "example.com example.org"},
	{"undisclosed-recipients:;", TERN_DMARC_FROM_NO_DOMAIN, NULL},
	{"Team: ;", TERN_DMARC_FROM_NO_DOMAIN, NULL},
	{"Team: a@example.com", TERN_DMARC_FROM_SYNTAX, NULL},
	{"Outer: Inner: a@example.com;;", TERN_DMARC_FROM_SYNTAX, NULL},
	/* IDN: U-labels become A-labels, upper case maps (UTS #46) */
	{"a@b\xc3\xbc" "cher.example", 0, "xn--bcher-kva.example"},
	{"a@B\xc3\x9c" "CHER.example", 0, "xn--bcher-kva.example"},
	{"\xe7\x94\xb0\xe4\xb8\xad <\xe7\x94\xb0\xe4\xb8\xad@\xe4\xbe\x8b\xe3\x81\x88.jp>", 0,
	 "xn--r8jz45g.jp"},
	{"a@xn--bcher-kva.example", 0, "xn--bcher-kva.example"},
	{"a@XN--BCHER-KVA.Example", 0, "xn--bcher-kva.example"},
	/* bad values */
	{"", TERN_DMARC_FROM_SYNTAX, NULL},
	{"   ", TERN_DMARC_FROM_SYNTAX, NULL},
	{"(only a comment)", TERN_DMARC_FROM_SYNTAX, NULL},
	{"alice", TERN_DMARC_FROM_SYNTAX, NULL},
	{"alice@", TERN_DMARC_FROM_SYNTAX, NULL},
	{"@example.com", TERN_DMARC_FROM_SYNTAX, NULL},
	{"Alice <a@example.com", TERN_DMARC_FROM_SYNTAX, NULL},
	{"Alice a@example.com>", TERN_DMARC_FROM_SYNTAX, NULL},
	{"<a@example.com> <b@example.org>", TERN_DMARC_FROM_SYNTAX, NULL},
	{"a@example.com b@example.org", TERN_DMARC_FROM_SYNTAX, NULL},
	{"Alice a@example.com", TERN_DMARC_FROM_SYNTAX, NULL},
	{"a b@example.com", TERN_DMARC_FROM_SYNTAX, NULL},
	{"\"a\" \"b\"@example.com", TERN_DMARC_FROM_SYNTAX, NULL},
	{"\"unterminated <a@example.com>", TERN_DMARC_FROM_SYNTAX, NULL},
	{"(unterminated a@example.com", TERN_DMARC_FROM_SYNTAX, NULL},
	{"a@example..com", TERN_DMARC_FROM_SYNTAX, NULL},
	{"a@.example.com", TERN_DMARC_FROM_SYNTAX, NULL},
	{"a@example.com;", TERN_DMARC_FROM_SYNTAX, NULL},
	{"a@ex ample.com", TERN_DMARC_FROM_SYNTAX, NULL},
	{"<@relay.example a@example.com>", TERN_DMARC_FROM_SYNTAX, NULL},
	{"a@[192.0.2.1]", TERN_DMARC_FROM_BAD_DOMAIN, NULL},
	{"a@localhost", TERN_DMARC_FROM_BAD_DOMAIN, NULL},
	{"a@exa_mple.com", TERN_DMARC_FROM_BAD_DOMAIN, NULL},
	{"a@-example.com", TERN_DMARC_FROM_BAD_DOMAIN, NULL},
	{"a@example.com, b@[192.0.2.1]", TERN_DMARC_FROM_BAD_DOMAIN, NULL},
	{"a@\xff\xfe.example", TERN_DMARC_FROM_BAD_DOMAIN, NULL},
	{"a@exa\x01mple.com", TERN_DMARC_FROM_SYNTAX, NULL},
};

static void check_case(const struct from_case *c, const char *value, size_t len)
{
	struct tern_dmarc_from from;
	const char *values[1] = {value};
	size_t lens[1] = {len};
	int rc = tern_dmarc_from_domains(values, lens, 1, &from);

	if (rc != c->status)
		fail_msg("From: %s -> %d (%s), expected %d", c->value, rc, tern_dmarc_from_strstatus(rc),
			 c->status);
	if (c->domains == NULL) {
		assert_int_equal(from.count, 0);
	} else {
		char got[512] = "";

		for (size_t i = 0; i < from.count; i++) {
			if (i > 0)
				strcat(got, " ");
			strcat(got, from.domains[i]);
		}
		if (strcmp(got, c->domains) != 0)
			fail_msg("From: %s -> \"%s\", expected \"%s\"", c->value, got, c->domains);
	}
	tern_dmarc_from_clear(&from);
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++)
		check_case(&CASES[i], CASES[i].value, strlen(CASES[i].value));
}

/* The same values in exactly-sized heap buffers: ASan sees any read past
 * the end that a NUL terminator would otherwise hide. */
static void test_table_exact_buffers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
		size_t n = strlen(CASES[i].value);
		char *copy = malloc(n ? n : 1);

		assert_non_null(copy);
		memcpy(copy, CASES[i].value, n);
		check_case(&CASES[i], copy, n);
		free(copy);
	}
}

static void test_field_count(void **state)
{
	struct tern_dmarc_from from;
	const char *values[2] = {"a@example.com", "b@example.com"};
	size_t lens[2] = {13, 13};

	(void)state;
	assert_int_equal(tern_dmarc_from_domains(NULL, NULL, 0, &from), TERN_DMARC_FROM_NONE);
	assert_int_equal(from.count, 0);
	/* RFC 7489 6.6.1: several From fields, even with the same address. */
	assert_int_equal(tern_dmarc_from_domains(values, lens, 2, &from), TERN_DMARC_FROM_SEVERAL_FIELDS);
	assert_int_equal(from.count, 0);
	assert_int_equal(tern_dmarc_from_domains(values, lens, 1, &from), 0);
	assert_string_equal(from.domains[0], "example.com");
	tern_dmarc_from_clear(&from);
	assert_int_equal(tern_dmarc_from_domains(values, lens, 1, NULL), TERN_EINVAL);
	assert_int_equal(tern_dmarc_from_domains(NULL, lens, 1, &from), TERN_EINVAL);
}

/* A NUL inside the value is data, not the end. */
static void test_embedded_nul(void **state)
{
	struct tern_dmarc_from from;
	const char v[] = "a@example.com\0, b@evil.example";
	const char *values[1] = {v};
	size_t lens[1] = {sizeof(v) - 1};

	(void)state;
	assert_int_equal(tern_dmarc_from_domains(values, lens, 1, &from), TERN_DMARC_FROM_SYNTAX);
	tern_dmarc_from_clear(&from);
}

/* Long inputs end in linear time and a bounded stack: deep comments, many
 * mailboxes, a domain past 253 octets. */
static void test_limits(void **state)
{
	struct tern_dmarc_from from;
	size_t n = 200000;
	char *v = malloc(n + 32);
	const char *values[1] = {v};
	size_t lens[1];

	(void)state;
	assert_non_null(v);
	memset(v, '(', n / 2);
	memset(v + n / 2, ')', n / 2);
	memcpy(v + n, "a@example.com", 13);
	lens[0] = n + 13;
	assert_int_equal(tern_dmarc_from_domains(values, lens, 1, &from), 0);
	tern_dmarc_from_clear(&from);

	size_t k = 0;

	for (size_t i = 0; i < 5000; i++)
		k += (size_t)sprintf(v + k, "a@d%zu.example,", i % 3);
	lens[0] = k;
	assert_int_equal(tern_dmarc_from_domains(values, lens, 1, &from), TERN_DMARC_FROM_MULTIPLE_DOMAINS);
	assert_int_equal(from.count, 3);
	tern_dmarc_from_clear(&from);

	k = (size_t)sprintf(v, "a@");
	for (size_t i = 0; i < 60; i++)
		k += (size_t)sprintf(v + k, "abcd.");
	k += (size_t)sprintf(v + k, "com");
	lens[0] = k;
	assert_int_equal(tern_dmarc_from_domains(values, lens, 1, &from), TERN_DMARC_FROM_BAD_DOMAIN);
	tern_dmarc_from_clear(&from);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_exact_buffers),
		cmocka_unit_test(test_field_count),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
