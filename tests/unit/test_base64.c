/* Table tests for the strict base64 codec (RFC 4648 4). Inputs live in
 * exact-size heap blocks so ASan and valgrind see any over-read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/base64.h"

struct dcase {
	const char *in;
	ssize_t rc;       /* decoded length or a TERN__BASE64_E* value */
	const char *out;  /* rc octets, may hold NUL */
};

static const struct dcase dcases[] = {
	/* RFC 4648 10 test vectors. */
	{"", 0, ""},
	{"Zg==", 1, "f"},
	{"Zm8=", 2, "fo"},
	{"Zm9v", 3, "foo"},
	{"Zm9vYg==", 4, "foob"},
	{"Zm9vYmE=", 5, "fooba"},
	{"Zm9vYmFy", 6, "foobar"},
	{"AGFiYwBkZWY=", 8, "\0abc\0def"},
	{"+/+/", 3, "\xfb\xff\xbf"},
	{"AA==", 1, "\0"},
	/* Alphabet. */
	{"Zm9v YmFy", TERN__BASE64_EALPHABET, NULL},
	{"Zm9v\r\nYmFy", TERN__BASE64_EALPHABET, NULL},
	{"Zm9vYmFy\n", TERN__BASE64_EALPHABET, NULL},
	{" Zm9v", TERN__BASE64_EALPHABET, NULL},
	{"Zm9v\tYmFy", TERN__BASE64_EALPHABET, NULL},
	{"Zm-_", TERN__BASE64_EALPHABET, NULL}, /* base64url is not base64 */
	{"Zm9*", TERN__BASE64_EALPHABET, NULL},
	{"Zm9\x80", TERN__BASE64_EALPHABET, NULL},
	{"*", TERN__BASE64_EALPHABET, NULL},
	/* Length. */
	{"Zg", TERN__BASE64_ELENGTH, NULL},
	{"Zg=", TERN__BASE64_ELENGTH, NULL},
	{"Zm9vY", TERN__BASE64_ELENGTH, NULL},
	{"Zg===", TERN__BASE64_ELENGTH, NULL},
	{"=", TERN__BASE64_ELENGTH, NULL},
	/* Padding. */
	{"====", TERN__BASE64_EPADDING, NULL},
	{"Z===", TERN__BASE64_EPADDING, NULL},
	{"Zg==Zm9v", TERN__BASE64_EPADDING, NULL},
	{"Zm8=Zm8=", TERN__BASE64_EPADDING, NULL},
	{"Zg=v", TERN__BASE64_EPADDING, NULL},
	{"=Zm9", TERN__BASE64_EPADDING, NULL},
	/* Non-zero trailing bits. */
	{"Zh==", TERN__BASE64_ETRAILING, NULL},
	{"Zm9=", TERN__BASE64_ETRAILING, NULL},
	{"Zm/=", TERN__BASE64_ETRAILING, NULL},
	{"AB==", TERN__BASE64_ETRAILING, NULL},
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
	for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		const struct dcase *c = &dcases[i];
		size_t len = strlen(c->in);
		char *in = heap_copy(c->in, len);
		size_t cap = TERN__BASE64_DECODED_MAX(len);
		unsigned char *out = malloc(cap > 0 ? cap : 1);

		assert_non_null(out);
		ssize_t rc = tern__base64_decode(in, len, out, cap);
		if (rc != c->rc)
			fail_msg("case %zu \"%s\": got %zd want %zd", i, c->in, rc, c->rc);
		if (rc > 0)
			assert_memory_equal(out, c->out, (size_t)rc);
		free(in);
		free(out);
	}
}

static void test_decode_space(void **state)
{
	unsigned char out[8];

	(void)state;
	assert_int_equal(tern__base64_decode("Zm9vYmFy", 8, out, 5), TERN__BASE64_ESPACE);
	assert_int_equal(tern__base64_decode("Zm9vYmE=", 8, out, 5), 5);
	assert_memory_equal(out, "fooba", 5);
	assert_int_equal(tern__base64_decode("Zm9vYmE=", 8, out, 4), TERN__BASE64_ESPACE);
}

static void test_encode(void **state)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					  "Zm9vYmFy"};
	char out[16];

	(void)state;
	for (size_t i = 0; i < 7; i++) {
		size_t n = strlen(plain[i]);
		ssize_t rc = tern__base64_encode(plain[i], n, out, TERN__BASE64_ENCODED_LEN(n) + 1);

		assert_int_equal(rc, (ssize_t)strlen(enc[i]));
		assert_string_equal(out, enc[i]);
		if (n > 0)
			assert_int_equal(tern__base64_encode(plain[i], n, out,
							     TERN__BASE64_ENCODED_LEN(n)),
					 TERN__BASE64_ESPACE);
	}
	assert_int_equal(tern__base64_encode("\0\xff", 2, out, sizeof(out)), 4);
	assert_string_equal(out, "AP8=");
}

/* Every 0..2-octet value round-trips, and every encoding the decoder
 * accepts re-encodes to itself (one spelling per message). */
static void test_roundtrip(void **state)
{
	unsigned char buf[3], back[3];
	char enc[8];

	(void)state;
	for (unsigned v = 0; v < 65536; v++) {
		buf[0] = (unsigned char)(v >> 8);
		buf[1] = (unsigned char)v;
		buf[2] = (unsigned char)(v * 31);
		for (size_t n = 1; n <= 3; n++) {
			ssize_t e = tern__base64_encode(buf, n, enc, sizeof(enc));
			assert_int_equal(e, 4);
			assert_int_equal(tern__base64_decode(enc, 4, back, sizeof(back)), (ssize_t)n);
			assert_memory_equal(back, buf, n);
		}
	}
	/* Exhaustive over 2 base64 characters + "==": exactly 256 of 4096
	 * are accepted, each one canonical. */
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned accepted = 0;
	for (int i = 0; i < 64; i++) {
		for (int j = 0; j < 64; j++) {
			char in[4] = {a[i], a[j], '=', '='};
			if (tern__base64_decode(in, 4, back, sizeof(back)) == 1) {
				accepted++;
				assert_int_equal(tern__base64_encode(back, 1, enc, sizeof(enc)), 4);
				assert_memory_equal(enc, in, 4);
			}
		}
	}
	assert_int_equal(accepted, 256);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(tern__base64_strerror(TERN__BASE64_EPADDING), "misplaced base64 padding");
	assert_string_equal(tern__base64_strerror(1), "unknown base64 error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_decode_space),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
