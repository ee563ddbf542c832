/* Decoding helpers of src/mime (decode.h) on the examples the RFCs give
 * (RFC 2047 section 8, RFC 2231 section 4, RFC 4648 section 10) and on
 * broken input; streaming decoders and the search are fed whole and one
 * byte at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mime/decode.h"
#include "tern/tern.h"

static void expect_buf(struct tern__buf *b, const char *want, size_t wlen, const char *what)
{
	if (b->len != wlen || memcmp(tern__buf_ptr(b), want, wlen) != 0)
		fail_msg("%s: got \"%.*s\" want \"%.*s\"", what, (int)b->len, tern__buf_ptr(b), (int)wlen,
			 want);
}

static void test_rfc2047(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} t[] = {
		/* RFC 2047 section 8. */
		{ "(=?ISO-8859-1?Q?a?=)", "(a)" },
		{ "(=?ISO-8859-1?Q?a?= b)", "(a b)" },
		{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)" },
		{ "(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)" },
		{ "(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)" },
		{ "(=?ISO-8859-1?Q?a_b?=)", "(a b)" },
		{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)" },
		{ "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=", "Keld J\xc3\xb8rn Simonsen" },
		{ "=?US-ASCII?Q?Keith_Moore?=", "Keith Moore" },
		{ "=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard" },
		{ "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=",
		  "If you can read this yo" },
		/* RFC 2231 section 5: a language after the charset. */
		{ "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore" },
		{ "=?UTF-8?B?8J+Ygg==?=", "\xf0\x9f\x98\x82" },
		{ "Gr=?UTF-8?Q?=C3=BC?=", "Gr\xc3\xbc" },
		/* Broken words stay as they are. */
		{ "=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=" },
		{ "=?no-such-charset?Q?abc?=", "=?no-such-charset?Q?abc?=" },
		{ "=?UTF-8?Q?a b?=", "=?UTF-8?Q?a b?=" },
		{ "=?UTF-8?Q?unterminated", "=?UTF-8?Q?unterminated" },
		{ "plain\r\n folded", "plain folded" },
		{ "=?UTF-8?Q?=FF?=", "\xef\xbf\xbd" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct tern__buf b;
		tern__buf_init(&b, 0);
		assert_int_equal(tern__mime_decode_words(t[i].in, strlen(t[i].in), &b), 0);
		expect_buf(&b, t[i].want, strlen(t[i].want), t[i].in);
		tern__buf_free(&b);
	}
}

static void test_rfc2231_and_charsets(void **state)
{
	(void)state;
	struct tern__buf b;
	tern__buf_init(&b, 0);
	/* RFC 2231 section 4. */
	assert_int_equal(tern__mime_decode_param("us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", &b), 0);
	expect_buf(&b, "This is ***fun***", 17, "2231");
	tern__buf_clear(&b);
	assert_int_equal(tern__mime_decode_param("utf-8''r%C3%A9sum%C3%A9.pdf", &b), 0);
	expect_buf(&b, "r\xc3\xa9sum\xc3\xa9.pdf", 12, "2231 utf-8");
	tern__buf_clear(&b);
	assert_int_equal(tern__mime_decode_param("no quotes", &b), TERN_EINVAL);
	assert_int_equal(tern__mime_decode_param("bogus-cs''x", &b), TERN_EINVAL);
	assert_int_equal(b.len, 0);

	assert_int_equal(tern__mime_charset_to_utf8("ISO-8859-1", "caf\xe9", 4, &b), 0);
	expect_buf(&b, "caf\xc3\xa9", 5, "latin1");
	tern__buf_clear(&b);
	assert_int_equal(tern__mime_charset_to_utf8("windows-1252", "\x80", 1, &b), 0);
	expect_buf(&b, "\xe2\x82\xac", 3, "cp1252 euro");
	tern__buf_clear(&b);
	assert_int_equal(tern__mime_charset_to_utf8("Shift_JIS", "\x93\xfa\x96\x7b", 4, &b), 0);
	expect_buf(&b, "\xe6\x97\xa5\xe6\x9c\xac", 6, "sjis");
	tern__buf_clear(&b);
	assert_int_equal(tern__mime_charset_to_utf8("ISO-2022-JP", "\x1b$BF|K\\\x1b(B", 10, &b), 0);
	expect_buf(&b, "\xe6\x97\xa5\xe6\x9c\xac", 6, "iso-2022-jp");
	tern__buf_clear(&b);
	/* Bad UTF-8 repaired octet by octet; a truncated tail too. */
	assert_int_equal(tern__mime_charset_to_utf8("UTF-8", "a\xff" "b\xc3", 4, &b), 0);
	expect_buf(&b, "a\xef\xbf\xbd" "b\xef\xbf\xbd", 8, "bad utf-8");
	tern__buf_clear(&b);
	assert_int_equal(tern__mime_charset_to_utf8("x-unknown-7", "abc", 3, &b), TERN_EINVAL);
	tern__buf_free(&b);
}

static void decode_both_ways(enum tern__mime_cte cte, const char *in, size_t len,
			     const char *want, size_t wlen)
{
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct tern__mime_decoder d;
		struct tern__buf b;
		tern__buf_init(&b, 0);
		tern__mime_decoder_init(&d, cte);
		if (bytewise) {
			for (size_t i = 0; i < len; i++)
				assert_int_equal(tern__mime_decoder_feed(&d, in + i, 1, &b), 0);
		} else {
			assert_int_equal(tern__mime_decoder_feed(&d, in, len, &b), 0);
		}
		assert_int_equal(tern__mime_decoder_finish(&d, &b), 0);
		expect_buf(&b, want, wlen, in);
		tern__buf_free(&b);
	}
}

static void test_transfer_encodings(void **state)
{
	(void)state;
	/* RFC 4648 section 10. */
	static const char *const b64[][2] = {
		{ "", "" }, { "Zg==", "f" }, { "Zm8=", "fo" }, { "Zm9v", "foo" },
		{ "Zm9vYg==", "foob" }, { "Zm9vYmE=", "fooba" }, { "Zm9vYmFy", "foobar" },
		/* Line breaks and junk ignored; nothing after the padding. */
		{ "Zm9v\r\nYmFy\r\n", "foobar" }, { "Zm9v*YmFy", "foobar" }, { "Zg==Zm9v", "f" },
		/* Unpadded tails still decode. */
		{ "Zm9vYg", "foob" }, { "Zm9vYmE", "fooba" },
	};
	for (size_t i = 0; i < sizeof(b64) / sizeof(b64[0]); i++)
		decode_both_ways(TERN__MIME_CTE_BASE64, b64[i][0], strlen(b64[i][0]), b64[i][1],
				 strlen(b64[i][1]));
	static const char *const qp[][2] = {
		{ "Caf=C3=A9 au lait", "Caf\xc3\xa9 au lait" },
		{ "soft=\r\nbreak", "softbreak" },
		{ "soft=\nbreak LF", "softbreak LF" },
		{ "trailing   \r\nnext", "trailing\r\nnext" },
		{ "=3D=3d", "==" },
		{ "bad =ZZ escape", "bad =ZZ escape" },
		{ "end=", "end" },
		{ "a\tb", "a\tb" },
		{ "soft= \r\nspace", "softspace" },
	};
	for (size_t i = 0; i < sizeof(qp) / sizeof(qp[0]); i++)
		decode_both_ways(TERN__MIME_CTE_QP, qp[i][0], strlen(qp[i][0]), qp[i][1],
				 strlen(qp[i][1]));
	decode_both_ways(TERN__MIME_CTE_IDENTITY, "a\0b", 3, "a\0b", 3);
	assert_int_equal(tern__mime_cte_parse("Quoted-Printable", 16), TERN__MIME_CTE_QP);
	assert_int_equal(tern__mime_cte_parse(" BASE64 (c)", 11), TERN__MIME_CTE_BASE64);
	assert_int_equal(tern__mime_cte_parse("8bit", 4), TERN__MIME_CTE_IDENTITY);
	assert_int_equal(tern__mime_cte_parse(NULL, 0), TERN__MIME_CTE_IDENTITY);
}

static int search(const char *needle, const char *text, size_t step)
{
	struct tern__mime_search s;
	assert_int_equal(tern__mime_search_init(&s, needle, strlen(needle)), 0);
	int r = s.found;
	size_t len = strlen(text);
	for (size_t i = 0; i < len && !r; i += step)
		r = tern__mime_search_feed(&s, text + i, len - i < step ? len - i : step);
	tern__mime_search_free(&s);
	return r;
}

static void test_search(void **state)
{
	(void)state;
	static const struct {
		const char *needle, *text;
		int found;
	} t[] = {
		{ "hello", "Say HeLLo world", 1 },
		{ "GR\xc3\x9c\xc3\x9f" "E", "viele gr\xc3\xbc\xc3\x9f" "e", 1 },
		{ "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2", "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82!", 1 },
		{ "\xce\x91\xce\x98\xce\x97\xce\x9d\xce\x91", "\xce\xb1\xce\xb8\xce\xb7\xce\xbd\xce\xb1", 1 },
		{ "absent", "not here at all", 0 },
		{ "", "anything", 1 },
		{ "abcabd", "abcabcabd", 1 },
		{ "x", "", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		for (size_t step = 1; step <= 4; step++)
			if (search(t[i].needle, t[i].text, step == 4 ? 100000 : step) != t[i].found)
				fail_msg("search \"%s\" in \"%s\" (step %zu)", t[i].needle, t[i].text, step);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_rfc2231_and_charsets),
		cmocka_unit_test(test_transfer_encodings),
		cmocka_unit_test(test_search),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
