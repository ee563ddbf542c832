/* Table tests for the ESMTP parameter splitter (RFC 5321 4.1.2). The
 * input lives in an exact-size heap block so ASan and valgrind see any
 * over-read (Exim CVE-2020-28022 was one in this very job). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/esmtp_param.h"

#define MAXP 8

/* Expected parameters written as "KEY" or "KEY=VALUE", NULL-terminated;
 * "KEY=" can't occur in a valid result, so "=" marks the value. */
struct param_case {
	const char *in;
	size_t len; /* 0: strlen */
	bool utf8;
	int rc;
	const char *want[MAXP + 1];
};

#define BIN(s) s, sizeof(s) - 1

static const struct param_case cases[] = {
	{ "", 0, false, TERN__PARAM_OK, { NULL } },
	{ " ", 0, false, TERN__PARAM_OK, { NULL } },
	{ "   ", 0, false, TERN__PARAM_OK, { NULL } },
	{ "SIZE=1000", 0, false, TERN__PARAM_OK, { "SIZE=1000", NULL } },
	{ " SIZE=1000", 0, false, TERN__PARAM_OK, { "SIZE=1000", NULL } },
	{ "SIZE=1000 ", 0, false, TERN__PARAM_OK, { "SIZE=1000", NULL } },
	{ "SMTPUTF8", 0, false, TERN__PARAM_OK, { "SMTPUTF8", NULL } },
	{ "BODY=8BITMIME SMTPUTF8", 0, false, TERN__PARAM_OK, { "BODY=8BITMIME", "SMTPUTF8", NULL } },
	{ "SIZE=1  BODY=7BIT   REQUIRETLS", 0, false, TERN__PARAM_OK,
	  { "SIZE=1", "BODY=7BIT", "REQUIRETLS", NULL } },
	{ "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@c.d", 0, false, TERN__PARAM_OK,
	  { "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;a+2Bb@c.d", NULL } },
	{ "RET=HDRS ENVID=QQ314159", 0, false, TERN__PARAM_OK, { "RET=HDRS", "ENVID=QQ314159", NULL } },
	{ "AUTH=<>", 0, false, TERN__PARAM_OK, { "AUTH=<>", NULL } },
	{ "AUTH=e+3Dmc2@example.com", 0, false, TERN__PARAM_OK, { "AUTH=e+3Dmc2@example.com", NULL } },
	{ "X-FOO", 0, false, TERN__PARAM_OK, { "X-FOO", NULL } },
	{ "X-FOO-=bar", 0, false, TERN__PARAM_OK, { "X-FOO-=bar", NULL } },
	{ "1X=y", 0, false, TERN__PARAM_OK, { "1X=y", NULL } },
	{ "size=10", 0, false, TERN__PARAM_OK, { "size=10", NULL } },
	{ "A=!\"#$%&'()*+,-./0:;<>?@[\\]^_`{|}~", 0, false, TERN__PARAM_OK,
	  { "A=!\"#$%&'()*+,-./0:;<>?@[\\]^_`{|}~", NULL } },
	{ "A B C D E F G H", 0, false, TERN__PARAM_OK, { "A", "B", "C", "D", "E", "F", "G", "H", NULL } },
	/* UTF-8 values only with SMTPUTF8 (RFC 6531 3.3), and well-formed. */
	{ "ENVID=\xc3\xa9t\xc3\xa9", 0, true, TERN__PARAM_OK, { "ENVID=\xc3\xa9t\xc3\xa9", NULL } },
	{ "ENVID=\xc3\xa9t\xc3\xa9", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "ENVID=\xc3", 0, true, TERN__PARAM_ESYNTAX, { NULL } },
	{ "ENVID=\xc0\xbd", 0, true, TERN__PARAM_ESYNTAX, { NULL } },  /* overlong '=' */
	{ "ENVID=\xed\xa0\x80", 0, true, TERN__PARAM_ESYNTAX, { NULL } },
	{ "ENVID=a\xc2\x85", 0, true, TERN__PARAM_ESYNTAX, { NULL } }, /* C1 NEL */
	{ "\xc3\xa9=1", 0, true, TERN__PARAM_ESYNTAX, { NULL } },      /* keyword stays ASCII */
	/* Bad keywords. */
	{ "-X=1", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "=1", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "SIZE =1", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "SI_ZE=1", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "SIZE.X=1", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "<a@b>", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "SIZE=1 :X", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	/* Bad values. */
	{ "SIZE=", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "SIZE= 1", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "SIZE=1 BODY=", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "SIZE==1", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "A=b=c", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "A=b\x7f", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "A=\x80", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "A=\"b c\"", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	/* Control characters: smuggling and spool injection (CVE-2020-28021). */
	{ "SIZE=1\r\nRCPT", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "SIZE=1\n", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "SIZE=1\r", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "SIZE=1\tBODY=7BIT", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "\tSIZE=1", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
	{ BIN("SIZE=1\0"), false, TERN__PARAM_ESYNTAX, { NULL } },
	{ BIN("SIZE=1\0 BODY=7BIT"), false, TERN__PARAM_ESYNTAX, { NULL } },
	{ BIN("AUTH=a\0b"), true, TERN__PARAM_ESYNTAX, { NULL } },
	{ BIN("X\0=1"), false, TERN__PARAM_ESYNTAX, { NULL } },
	{ "ORCPT=rfc822;a\rb", 0, true, TERN__PARAM_ESYNTAX, { NULL } },
	/* Too many for MAXP (8). */
	{ "A B C D E F G H I", 0, false, TERN__PARAM_ETOOMANY, { NULL } },
	{ "A B C D E F G H I=", 0, false, TERN__PARAM_ESYNTAX, { NULL } },
};

static void check_param(const struct tern__esmtp_param *p, const char *want)
{
	const char *eq = strchr(want, '=');
	size_t klen = eq != NULL ? (size_t)(eq - want) : strlen(want);

	assert_int_equal(p->key_len, klen);
	assert_memory_equal(p->key, want, klen);
	if (eq == NULL) {
		assert_null(p->value);
		assert_int_equal(p->value_len, 0);
	} else {
		assert_non_null(p->value);
		assert_int_equal(p->value_len, strlen(eq + 1));
		assert_memory_equal(p->value, eq + 1, p->value_len);
	}
}

static void test_split_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct param_case *c = &cases[i];
		size_t len = c->len != 0 ? c->len : strlen(c->in);
		char *in = malloc(len > 0 ? len : 1);
		struct tern__esmtp_param params[MAXP];
		size_t n = 999;
		int rc;

		assert_non_null(in);
		memcpy(in, c->in, len);
		rc = tern__esmtp_params_split(in, len, c->utf8, params, MAXP, &n);
		if (rc != c->rc)
			print_error("case %zu \"%s\": rc %d, want %d\n", i, c->in, rc, c->rc);
		assert_int_equal(rc, c->rc);
		assert_true(n <= MAXP);
		if (rc == TERN__PARAM_OK) {
			size_t want_n = 0;

			while (c->want[want_n] != NULL)
				want_n++;
			assert_int_equal(n, want_n);
			for (size_t k = 0; k < n; k++) {
				check_param(&params[k], c->want[k]);
				/* The result points into the input. */
				assert_true(params[k].key >= in && params[k].key < in + len);
			}
		}
		free(in);
	}
}

static void test_split_max(void **state)
{
	struct tern__esmtp_param params[2];
	size_t n;

	(void)state;
	assert_int_equal(tern__esmtp_params_split("A B", 3, false, params, 2, &n), TERN__PARAM_OK);
	assert_int_equal(n, 2);
	assert_int_equal(tern__esmtp_params_split("A B C", 5, false, params, 2, &n),
			 TERN__PARAM_ETOOMANY);
	assert_int_equal(tern__esmtp_params_split("A", 1, false, params, 0, &n),
			 TERN__PARAM_ETOOMANY);
	assert_int_equal(tern__esmtp_params_split("  ", 2, false, NULL, 0, &n), TERN__PARAM_OK);
	assert_int_equal(n, 0);
	/* len bounds the input. */
	assert_int_equal(tern__esmtp_params_split("SIZE=12 X", 6, false, params, 2, &n),
			 TERN__PARAM_OK);
	assert_int_equal(n, 1);
	assert_int_equal(params[0].value_len, 1);
}

static void test_param_is(void **state)
{
	struct tern__esmtp_param p = { "Size", 4, "1", 1 };
	struct tern__esmtp_param q = { "SIZEX", 4, NULL, 0 };
	struct tern__esmtp_param e = { "", 0, NULL, 0 };

	(void)state;
	assert_true(tern__esmtp_param_is(&p, "SIZE"));
	assert_true(tern__esmtp_param_is(&p, "size"));
	assert_false(tern__esmtp_param_is(&p, "SIZ"));
	assert_false(tern__esmtp_param_is(&p, "SIZES"));
	assert_false(tern__esmtp_param_is(&p, "BODY"));
	assert_false(tern__esmtp_param_is(&p, ""));
	assert_true(tern__esmtp_param_is(&q, "SIZE"));
	assert_true(tern__esmtp_param_is(&e, ""));
	assert_false(tern__esmtp_param_is(&e, "SIZE"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_table),
		cmocka_unit_test(test_split_max),
		cmocka_unit_test(test_param_is),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
