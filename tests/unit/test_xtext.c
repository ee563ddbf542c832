/* Table tests for xtext (RFC 3461 section 4). Inputs live in exact-size
 * heap blocks so ASan and valgrind see any over-read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/xtext.h"

struct decode_case {
	const char *in;
	ssize_t rc;          /* decoded length or -1 */
	const char *out;     /* rc bytes, may hold NUL */
};

static const struct decode_case decode_cases[] = {
	{ "", 0, "" },
	{ "abc", 3, "abc" },
	{ "rfc822;user@example.com", 23, "rfc822;user@example.com" },
	{ "!\"#$%&'()*,-./:;<>?@[\\]^_`{|}~", 30, "!\"#$%&'()*,-./:;<>?@[\\]^_`{|}~" },
	{ "+2B", 1, "+" },
	{ "+3D", 1, "=" },
	{ "+20", 1, " " },
	{ "a+20b", 3, "a b" },
	{ "+41+42", 2, "AB" },            /* needless escapes are still valid */
	{ "rfc822;a+2Bb@c.d", 14, "rfc822;a+b@c.d" },
	{ "+E4+B8+AD", 3, "\xe4\xb8\xad" },
	{ "+FF", 1, "\xff" },
	/* Decoded controls are data here; callers check (Exim CVE-2020-28026). */
	{ "+0D+0A", 2, "\r\n" },
	{ "a+0D+0A.+0D+0AMAIL", 10, "a\r\n.\r\nMAIL" },
	{ "+00", 1, "\0" },
	{ "a+00b", 3, "a\0b" },
	{ "+7F", 1, "\x7f" },
	/* Invalid. */
	{ "+0d+0a", -1, NULL },          /* lower-case hex */
	{ "+0d", -1, NULL },
	{ "+aB", -1, NULL },
	{ "+Ab", -1, NULL },
	{ "+", -1, NULL },
	{ "+4", -1, NULL },
	{ "a+", -1, NULL },
	{ "a+2", -1, NULL },
	{ "+G0", -1, NULL },
	{ "+0G", -1, NULL },
	{ "++20", -1, NULL },
	{ "+ 20", -1, NULL },
	{ "+-1", -1, NULL },
	{ "a=b", -1, NULL },
	{ "=", -1, NULL },
	{ "a b", -1, NULL },
	{ " ", -1, NULL },
	{ "a\rb", -1, NULL },
	{ "a\nb", -1, NULL },
	{ "\t", -1, NULL },
	{ "\x7f", -1, NULL },
	{ "\x80", -1, NULL },
	{ "\xc3\xa9", -1, NULL },
	{ "abc\r\n", -1, NULL },
};

static char *heap_copy(const char *s, size_t len)
{
	char *p = malloc(len > 0 ? len : 1);

	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

static void test_decode_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct decode_case *c = &decode_cases[i];
		size_t len = strlen(c->in);
		char *in = heap_copy(c->in, len);
		char *out = malloc(len + 1);
		ssize_t rc;

		assert_non_null(out);
		rc = tern__xtext_decode(in, len, out, len + 1);
		if (rc != c->rc)
			print_error("decode case %zu \"%s\": %zd, want %zd\n", i, c->in, rc, c->rc);
		assert_int_equal(rc, c->rc);
		if (rc >= 0) {
			assert_memory_equal(out, c->out, (size_t)rc);
			assert_int_equal(out[rc], '\0');
		}
		free(in);
		free(out);
	}
}

static void test_decode_nul_in_input(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(tern__xtext_decode("a\0b", 3, out, sizeof(out)), -1);
	assert_int_equal(tern__xtext_decode("+2\0", 3, out, sizeof(out)), -1);
	/* len bounds the input: "+2B" cut to "+2" is truncated. */
	assert_int_equal(tern__xtext_decode("+2B", 2, out, sizeof(out)), -1);
	assert_int_equal(tern__xtext_decode("ab", 1, out, sizeof(out)), 1);
	assert_string_equal(out, "a");
}

static void test_decode_out_size(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'x', sizeof(out));
	/* Exactly decoded length + 1 is enough. */
	assert_int_equal(tern__xtext_decode("abc", 3, out, 4), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(tern__xtext_decode("+41+42", 6, out, 3), 2);
	assert_string_equal(out, "AB");
	/* One less is refused without writing past out_size. */
	memset(out, 'x', sizeof(out));
	assert_int_equal(tern__xtext_decode("abc", 3, out, 3), -1);
	assert_int_equal(out[3], 'x');
	memset(out, 'x', sizeof(out));
	assert_int_equal(tern__xtext_decode("abc", 3, out, 0), -1);
	assert_int_equal(out[0], 'x');
	assert_int_equal(tern__xtext_decode("", 0, out, 1), 0);
	assert_int_equal(out[0], '\0');
}

struct encode_case {
	const char *in;
	size_t len; /* 0: strlen */
	const char *out;
};

static const struct encode_case encode_cases[] = {
	{ "", 0, "" },
	{ "abc", 0, "abc" },
	{ "rfc822;user@example.com", 0, "rfc822;user@example.com" },
	{ "a+b", 0, "a+2Bb" },
	{ "a=b", 0, "a+3Db" },
	{ "a b", 0, "a+20b" },
	{ "\r\n", 0, "+0D+0A" },
	{ "\0", 1, "+00" },
	{ "\x7f\x80\xff", 0, "+7F+80+FF" },
	{ "\xe4\xb8\xad", 0, "+E4+B8+AD" },
	{ "!~", 0, "!~" },
};

static void test_encode_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(encode_cases) / sizeof(encode_cases[0]); i++) {
		const struct encode_case *c = &encode_cases[i];
		size_t len = c->len != 0 ? c->len : strlen(c->in);
		char *in = heap_copy(c->in, len);
		size_t size = strlen(c->out) + 1;
		char *out = malloc(size);

		assert_non_null(out);
		/* The exact size works... */
		assert_int_equal(tern__xtext_encode(in, len, out, size), (ssize_t)strlen(c->out));
		assert_string_equal(out, c->out);
		/* ...and one byte less does not. */
		assert_int_equal(tern__xtext_encode(in, len, out, size - 1), -1);
		free(in);
		free(out);
	}
}

/* encode then decode gives back every byte value. */
static void test_round_trip(void **state)
{
	unsigned char all[256];
	char enc[3 * 256 + 1], dec[3 * 256 + 1];
	ssize_t n;

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	n = tern__xtext_encode((const char *)all, sizeof(all), enc, sizeof(enc));
	assert_true(n > 0);
	assert_int_equal(tern__xtext_decode(enc, (size_t)n, dec, sizeof(dec)), 256);
	assert_memory_equal(dec, all, sizeof(all));
	/* 3 * len + 1 always suffices. */
	memset(all, 0, sizeof(all));
	assert_int_equal(tern__xtext_encode((const char *)all, sizeof(all), enc, sizeof(enc)),
			 3 * 256);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_decode_nul_in_input),
		cmocka_unit_test(test_decode_out_size),
		cmocka_unit_test(test_encode_table),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
