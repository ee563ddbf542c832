/* Authentication-Results (tern/authres.h): the builder byte for byte
 * (quoting, folding at 78 columns, "none", bad input refused), the reader
 * on the builder's output and on fields other implementations wrote
 * (Gmail, Microsoft 365, OpenDMARC/OpenDKIM, RFC 8601's own examples),
 * with comments, quoted strings, versions and ARC instances. Python's
 * authres module reads the same fields in tests/interop/test_dmarc.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tern/authres.h"

static char *build(const char *id, const struct tern_authres_result *r, size_t n)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(tern_authres_build(NULL, id, r, n, &out, &len), 0);
	assert_int_equal(strlen(out), len);
	/* CRLF only, no line past 78 unless one word is longer. */
	for (const char *p = out, *eol; *p != '\0'; p = eol + 2) {
		eol = strstr(p, "\r\n");
		assert_non_null(eol);
		assert_null(memchr(p, '\n', (size_t)(eol - p)));
		if (eol - p > 78 && memchr(p + 1, ' ', (size_t)(eol - p - 1)) != NULL)
			fail_msg("line over 78 with a break possible: %.*s", (int)(eol - p), p);
	}
	return out;
}

static void test_build_none(void **state)
{
	char *s = build("mx.example.org", NULL, 0);

	(void)state;
	assert_string_equal(s, "Authentication-Results: mx.example.org; none\r\n");
	free(s);
}

static void test_build_typical(void **state)
{
	const struct tern_authres_prop spf_props[] = {{"smtp", "mailfrom", "sender@example.com"}};
	const struct tern_authres_prop dkim_props[] = {
		{"header", "d", "example.com"}, {"header", "i", "@example.com"},
		{"header", "s", "sel2024"}, {"header", "b", "AbC+dE/f"}};
	const struct tern_authres_prop dmarc_props[] = {{"header", "from", "example.com"},
							{"policy", "dmarc", "reject"}};
	const struct tern_authres_result r[] = {
		{"spf", 0, "pass", NULL, NULL, spf_props, 1},
		{"dkim", 0, "pass", "2048-bit key", NULL, dkim_props, 4},
		{"dmarc", 0, "pass", "p=reject dis=none", NULL, dmarc_props, 2},
	};
	char *s = build("mx.example.org", r, 3);

	(void)state;
	assert_string_equal(s, "Authentication-Results: mx.example.org;\r\n"
			       "\tspf=pass smtp.mailfrom=sender@example.com;\r\n"
			       "\tdkim=pass (2048-bit key) header.d=example.com header.i=@example.com\r\n"
			       "\theader.s=sel2024 header.b=\"AbC+dE/f\";\r\n"
			       "\tdmarc=pass (p=reject dis=none) header.from=example.com policy.dmarc=reject\r\n");
	free(s);
}

static void test_build_quoting(void **state)
{
	const struct tern_authres_prop props[] = {
		{"smtp", "mailfrom", "\"odd local\"@example.com"},
		{"smtp", "helo", "[192.0.2.1]"},
		{"header", "from", "a\\b\"c"},
		{"smtp", "auth", "user@example.com"},
		{"x-utf8", "v", "caf\xc3\xa9"},
	};
	const struct tern_authres_result r[] = {
		{"auth", 1, "pass", "a (nested) \\ comment", "user logged in", props, 5},
		{"iprev", 0, "fail", NULL, "no-ptr", NULL, 0},
	};
	char *s = build("mx example", r, 2);

	(void)state;
	assert_string_equal(s, "Authentication-Results: \"mx example\";\r\n"
			       "\tauth/1=pass (a \\(nested\\) \\\\ comment) reason=\"user logged in\"\r\n"
			       "\tsmtp.mailfrom=\"\\\"odd local\\\"@example.com\" smtp.helo=\"[192.0.2.1]\"\r\n"
			       "\theader.from=\"a\\\\b\\\"c\" smtp.auth=user@example.com x-utf8.v=\"caf\xc3\xa9\";\r\n"
			       "\tiprev=fail reason=no-ptr\r\n");
	free(s);
}

/* A word longer than a line stays whole on a line of its own. */
static void test_build_long_words(void **state)
{
	char b[200];
	const struct tern_authres_prop props[] = {{"header", "b", b}, {"header", "d", "example.com"}};
	const struct tern_authres_result r[] = {{"dkim", 0, "pass", NULL, NULL, props, 2}};

	(void)state;
	memset(b, 'A', 120);
	b[120] = '\0';
	char *s = build("mx.example.org", r, 1);

	char expect[300];

	snprintf(expect, sizeof(expect),
		 "Authentication-Results: mx.example.org;\r\n\tdkim=pass\r\n\theader.b=%s\r\n"
		 "\theader.d=example.com\r\n", b);
	assert_string_equal(s, expect);
	free(s);
}

static void test_build_refuses(void **state)
{
	const struct tern_authres_prop crlf[] = {{"smtp", "mailfrom", "a@b.example\r\nX-Evil: 1"}};
	const struct tern_authres_prop dotty[] = {{"smtp.x", "mailfrom", "a"}};
	const struct tern_authres_result bad[][1] = {
		{{"spf", 0, "pass", NULL, NULL, crlf, 1}},
		{{"spf", 0, "pass", NULL, NULL, dotty, 1}},
		{{"spf", 0, "pa ss", NULL, NULL, NULL, 0}},
		{{"", 0, "pass", NULL, NULL, NULL, 0}},
		{{NULL, 0, "pass", NULL, NULL, NULL, 0}},
		{{"spf", 0, NULL, NULL, NULL, NULL, 0}},
		{{"spf", 0, "pass", "a\nb", NULL, NULL, 0}},
		{{"spf", 0, "pass", NULL, "x\ry", NULL, 0}},
		{{"spf", 0, "pass", NULL, NULL, NULL, 2}},
	};
	char *out = (char *)1;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tern_authres_build(NULL, "mx", bad[i], 1, &out, NULL), TERN_EINVAL);
		assert_null(out);
	}
	assert_int_equal(tern_authres_build(NULL, "", NULL, 0, &out, NULL), TERN_EINVAL);
	assert_int_equal(tern_authres_build(NULL, NULL, NULL, 0, &out, NULL), TERN_EINVAL);
	assert_int_equal(tern_authres_build(NULL, "mx\r\n", NULL, 0, &out, NULL), TERN_EINVAL);
	assert_int_equal(tern_authres_build("Bad Name", "mx", NULL, 0, &out, NULL), TERN_EINVAL);
	assert_int_equal(tern_authres_build(NULL, "mx", NULL, 1, &out, NULL), TERN_EINVAL);
	assert_int_equal(tern_authres_build(NULL, "mx", NULL, 0, NULL, NULL), TERN_EINVAL);
	assert_int_equal(tern_authres_build("X-Test-AR", "mx", NULL, 0, &out, NULL), 0);
	assert_string_equal(out, "X-Test-AR: mx; none\r\n");
	free(out);
}

/* ---- reading ---- */

/* Renders a parse as one line: "id|v|i|none|partial;method/ver=result
 * (comment) reason=r ptype.prop=value ...;..." */
static void render(const struct tern_authres_parsed *p, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(buf, size, "%s|%u|%d|%d|%d", p->authserv_id, p->version, p->instance,
				    p->none, p->partial);

	for (size_t i = 0; i < p->count; i++) {
		const struct tern_authres_result *r = &p->results[i];

		n += (size_t)snprintf(buf + n, size - n, ";%s", r->method);
		if (r->version)
			n += (size_t)snprintf(buf + n, size - n, "/%u", r->version);
		n += (size_t)snprintf(buf + n, size - n, "=%s", r->result);
		if (r->comment)
			n += (size_t)snprintf(buf + n, size - n, " (%s)", r->comment);
		if (r->reason)
			n += (size_t)snprintf(buf + n, size - n, " reason=%s", r->reason);
		for (size_t k = 0; k < r->prop_count; k++)
			n += (size_t)snprintf(buf + n, size - n, " %s.%s=%s", r->props[k].ptype,
					      r->props[k].property, r->props[k].value);
	}
}

static const struct {
	const char *value;
	bool arc;
	const char *expect;   /* render(), or NULL for TERN_EINVAL */
} PARSE[] = {
	/* RFC 8601 Appendix B examples */
	{" example.org 1; none", false, "example.org|1|-1|1|0"},
	{" example.com; spf=pass smtp.mailfrom=example.net", false,
	 "example.com|0|-1|0|0;spf=pass smtp.mailfrom=example.net"},
	{" example.com;\r\n          auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n"
	 "          spf=pass smtp.mailfrom=example.net", false,
	 "example.com|0|-1|0|0;auth=pass (cram-md5) smtp.auth=sender@example.net;spf=pass smtp.mailfrom=example.net"},
	{" example.com;\r\n          sender-id=fail header.from=example.com;\r\n"
	 "          dkim=pass (good signature) header.d=example.com", false,
	 "example.com|0|-1|0|0;sender-id=fail header.from=example.com;dkim=pass (good signature) header.d=example.com"},
	{" mail-router.example.net;\r\n            dkim=pass (good signature) header.d=newyork.example.com\r\n"
	 "                  header.b=oINEO8hg;\r\n            dkim=fail (bad signature) header.d=newyork.example.com\r\n"
	 "                  header.b=EToRSuvU", false,
	 "mail-router.example.net|0|-1|0|0;dkim=pass (good signature) header.d=newyork.example.com header.b=oINEO8hg;"
	 "dkim=fail (bad signature) header.d=newyork.example.com header.b=EToRSuvU"},
	/* Gmail */
	{" mx.google.com;\r\n       dkim=pass header.i=@gmail.com header.s=20230601 header.b=Xp1Yq+Zr;\r\n"
	 "       arc=pass (i=1 spf=pass spfdomain=gmail.com dkim=pass dkdomain=gmail.com dmarc=pass fromdomain=gmail.com);\r\n"
	 "       spf=pass (google.com: domain of someone@gmail.com designates 209.85.220.41 as permitted sender) smtp.mailfrom=someone@gmail.com;\r\n"
	 "       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=gmail.com;\r\n"
	 "       dara=pass header.i=@gmail.com", false,
	 "mx.google.com|0|-1|0|0;dkim=pass header.i=@gmail.com header.s=20230601 header.b=Xp1Yq+Zr;"
	 "arc=pass (i=1 spf=pass spfdomain=gmail.com dkim=pass dkdomain=gmail.com dmarc=pass fromdomain=gmail.com);"
	 "spf=pass (google.com: domain of someone@gmail.com designates 209.85.220.41 as permitted sender) smtp.mailfrom=someone@gmail.com;"
	 "dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=gmail.com;dara=pass header.i=@gmail.com"},
	/* Microsoft 365: no blank after ";", bare name=value pairs */
	{" spf=pass (sender IP is 40.107.1.1) smtp.mailfrom=contoso.com; dkim=pass (signature was verified) "
	 "header.d=contoso.com;dmarc=pass action=none header.from=contoso.com;compauth=pass reason=100", false,
	 NULL},
	{" mx.microsoft.com 1; spf=pass (sender ip is 40.107.1.1) smtp.mailfrom=contoso.com; dkim=none (message not signed) "
	 "header.d=none;dmarc=none action=none header.from=contoso.com;compauth=pass reason=100", false,
	 "mx.microsoft.com|1|-1|0|0;spf=pass (sender ip is 40.107.1.1) smtp.mailfrom=contoso.com;"
	 "dkim=none (message not signed) header.d=none;dmarc=none .action=none header.from=contoso.com;"
	 "compauth=pass reason=100"},
	/* OpenDKIM / OpenDMARC */
	{" mail.example.net; dkim=pass (2048-bit key; unprotected) header.d=example.com header.i=@example.com "
	 "header.a=rsa-sha256 header.s=default header.b=k5E0m1Zq", false,
	 "mail.example.net|0|-1|0|0;dkim=pass (2048-bit key; unprotected) header.d=example.com header.i=@example.com "
	 "header.a=rsa-sha256 header.s=default header.b=k5E0m1Zq"},
	{" mail.example.net; dmarc=fail (p=reject dis=none) header.from=example.com", false,
	 "mail.example.net|0|-1|0|0;dmarc=fail (p=reject dis=none) header.from=example.com"},
	{" OpenDMARC; dmarc=pass header.from=example.com", false,
	 "OpenDMARC|0|-1|0|0;dmarc=pass header.from=example.com"},
	/* ARC-Authentication-Results */
	{" i=1; mx.google.com;\r\n       dkim=pass header.i=@example.com", true,
	 "mx.google.com|0|1|0|0;dkim=pass header.i=@example.com"},
	{" i = 12 ; mx.example ; none", true, "mx.example|0|12|1|0"},
	{" mx.example; none", true, NULL},
	/* quoted id and values, versions, comments everywhere */
	{" \"mx \\\"q\\\" example\"; spf/1=pass reason=\"spf \\\"ok\\\"\" smtp.mailfrom=\"a b\"@example.com", false,
	 "mx \"q\" example|0|-1|0|0;spf/1=pass reason=spf \"ok\" smtp.mailfrom=\"a b\"@example.com"},
	{" (c) mx.example (c) 2 (c) ; (c) dkim (c) / (c) 1 (c) = (c) pass (first) (second) header (c) . (c) d (c) = (c) x.example",
	 false, "mx.example|2|-1|0|0;dkim/1=pass (first) header.d=x.example"},
	{" mx.example; dkim=pass (nested (comment) \\) here) header.d=x.example", false,
	 "mx.example|0|-1|0|0;dkim=pass (nested (comment) \\) here) header.d=x.example"},
	{" mx.example; dkim=pass;", false, "mx.example|0|-1|0|0;dkim=pass"},
	{" MX.Example;NONE", false, "MX.Example|0|-1|1|0"},
	{" mx.example; none=pass", false, "mx.example|0|-1|0|0;none=pass"},
	{" mx.example; none; spf=pass", false, "mx.example|0|-1|1|1"},   /* found by fuzz_authres */
	{" mx.example; none;", false, "mx.example|0|-1|1|0"},
	/* not understood beyond some point: partial */
	{" mx.example; spf=pass smtp.mailfrom=a@b.example; dkim=", false,
	 "mx.example|0|-1|0|1;spf=pass smtp.mailfrom=a@b.example"},
	{" mx.example; spf=pass header.d", false, "mx.example|0|-1|0|1;spf=pass"},
	{" mx.example; spf=pass (unterminated", false, "mx.example|0|-1|0|1"},
	{" mx.example; spf=pass smtp.mailfrom=\"unterminated", false, "mx.example|0|-1|0|1;spf=pass"},
	{" mx.example extra; spf=pass", false, "mx.example|0|-1|0|1"},
	{" mx.example; =pass", false, "mx.example|0|-1|0|1"},
	/* no authserv-id: refused */
	{"", false, NULL},
	{"   \r\n ", false, NULL},
	{" ; spf=pass", false, NULL},
	{" spf=pass smtp.mailfrom=example.net", false, NULL},
	{" (only a comment)", false, NULL},
	{" (unterminated mx.example; none", false, NULL},
	{" \"unterminated; none", false, NULL},
	{" \"\"; none", false, NULL},   /* an empty id: found by fuzz_authres */
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(PARSE) / sizeof(PARSE[0]); i++) {
		struct tern_authres_parsed p;
		size_t n = strlen(PARSE[i].value);
		char *copy = malloc(n ? n : 1);   /* exact size: ASan sees overreads */
		char got[2048];

		assert_non_null(copy);
		memcpy(copy, PARSE[i].value, n);
		int rc = tern_authres_parse(copy, n, PARSE[i].arc, &p);

		if (PARSE[i].expect == NULL) {
			if (rc != TERN_EINVAL)
				fail_msg("case %zu should be refused: %s", i, PARSE[i].value);
		} else {
			assert_int_equal(rc, 0);
			render(&p, got, sizeof(got));
			if (strcmp(got, PARSE[i].expect) != 0)
				fail_msg("case %zu:\n got    %s\n expect %s", i, got, PARSE[i].expect);
		}
		tern_authres_parsed_clear(&p);
		free(copy);
	}
}

/* What the builder writes reads back as the same results. */
static void test_round_trip(void **state)
{
	const struct tern_authres_prop props[] = {
		{"smtp", "mailfrom", "\"odd local\"@example.com"}, {"header", "b", "a/b+c="},
		{"header", "from", "x;y"}};
	const struct tern_authres_result r[] = {
		{"spf", 0, "softfail", "a (b) c", "why \"not\"", props, 3},
		{"dmarc", 1, "fail", NULL, NULL, props + 2, 1},
	};
	struct tern_authres_parsed p;
	char *s = build("mx.example", r, 2);
	const char *v = strchr(s, ':') + 1;

	(void)state;
	assert_int_equal(tern_authres_parse(v, strlen(v), false, &p), 0);
	assert_string_equal(p.authserv_id, "mx.example");
	assert_false(p.partial);
	assert_int_equal(p.count, 2);
	assert_string_equal(p.results[0].method, "spf");
	assert_string_equal(p.results[0].result, "softfail");
	assert_string_equal(p.results[0].comment, "a \\(b\\) c");
	assert_string_equal(p.results[0].reason, "why \"not\"");
	assert_int_equal(p.results[0].prop_count, 3);
	assert_string_equal(p.results[0].props[0].value, "\"odd local\"@example.com");
	assert_string_equal(p.results[0].props[1].value, "a/b+c=");
	assert_string_equal(p.results[0].props[2].value, "x;y");
	assert_int_equal(p.results[1].version, 1);
	assert_string_equal(p.results[1].props[0].property, "from");
	tern_authres_parsed_clear(&p);
	free(s);
}

static void test_is_ours(void **state)
{
	int err = 1;

	(void)state;
	assert_true(tern_authres_is_ours(" MX.example.org; spf=pass", 25, false, "mx.example.org", &err));
	assert_int_equal(err, 0);
	assert_false(tern_authres_is_ours(" mx.example.org.evil; spf=pass", 30, false, "mx.example.org", &err));
	assert_true(tern_authres_is_ours(" i=2; (c) mx.example.org; none", 30, true, "mx.example.org", NULL));
	assert_false(tern_authres_is_ours(" spf=pass", 9, false, "spf", NULL));
	assert_false(tern_authres_is_ours(NULL, 0, false, "mx", NULL));
	/* A NUL inside a quoted id would cut it short: not read at all. */
	assert_false(tern_authres_is_ours(" \"mx\0.evil\"; none", 16, false, "mx", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_none),
		cmocka_unit_test(test_build_typical),
		cmocka_unit_test(test_build_quoting),
		cmocka_unit_test(test_build_long_words),
		cmocka_unit_test(test_build_refuses),
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_is_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
