/* The client's reply parser (RFC 5321 4.2, RFC 2034/3463) and EHLO
 * capability parser, as tables; every reply case is fed whole and one byte
 * at a time. */
#include "test_smtp_client.h"

#include "sasl/sasl.h"

struct reply_case {
	const char *in;
	int rc;              /* 1: a reply; <0: the error */
	int code;
	const char *enhanced;
	const char *text;
	size_t used;         /* octets used when rc == 1 (0: all) */
};

static const struct reply_case reply_cases[] = {
	{ "250 OK\r\n", 1, 250, "", "OK", 0 },
	{ "250\r\n", 1, 250, "", "", 0 },
	{ "250 \r\n", 1, 250, "", "", 0 },
	{ "250 2.1.0 Sender OK\r\n", 1, 250, "2.1.0", "Sender OK", 0 },
	{ "250 2.1.0\r\n", 1, 250, "2.1.0", "", 0 },
	{ "550 5.1.1 No such user\r\n", 1, 550, "5.1.1", "No such user", 0 },
	{ "451 4.7.30 x\r\n", 1, 451, "4.7.30", "x", 0 },
	{ "550 5.7.30 x\r\n", 1, 550, "5.7.30", "x", 0 },
	{ "550 5.123.456 x\r\n", 1, 550, "5.123.456", "x", 0 },
	/* Not enhanced codes: wrong class, 4 digits, no space after. */
	{ "550 4.1.1 x\r\n", 1, 550, "", "4.1.1 x", 0 },
	{ "550 5.1234.1 x\r\n", 1, 550, "", "5.1234.1 x", 0 },
	{ "550 5.1.1x\r\n", 1, 550, "", "5.1.1x", 0 },
	{ "550 5.01.1 x\r\n", 1, 550, "", "5.01.1 x", 0 },
	{ "250 1.2.3 x\r\n", 1, 250, "", "1.2.3 x", 0 },
	/* Multi-line, the enhanced code repeated on each line. */
	{ "250-2.0.0 one\r\n250-2.0.0 two\r\n250 2.0.0 three\r\n", 1, 250, "2.0.0",
	  "one\ntwo\nthree", 0 },
	{ "550-5.1.1 a\r\n550 b\r\n", 1, 550, "5.1.1", "a\nb", 0 },
	{ "250-\r\n250 x\r\n", 1, 250, "", "\nx", 0 },
	/* Bare LF ends a line too. */
	{ "250-a\n250 b\n", 1, 250, "", "a\nb", 0 },
	/* Controls in text become spaces. */
	{ "250 a\tb\x01" "c\r\n", 1, 250, "", "a b c", 0 },
	{ "250 a\rb\r\n", 1, 250, "", "a b", 0 },
	/* UTF-8 text is kept. */
	{ "250 caf\xc3\xa9\r\n", 1, 250, "", "caf\xc3\xa9", 0 },
	/* A second reply after the first is left for the next call. */
	{ "250 a\r\n354 go\r\n", 1, 250, "", "a", 7 },
	/* Malformed. */
	{ "25\r\n", TERN__SMTPC_RE_CODE, 0, NULL, NULL, 0 },
	{ "\r\n", TERN__SMTPC_RE_CODE, 0, NULL, NULL, 0 },
	{ "2500 x\r\n", TERN__SMTPC_RE_CODE, 0, NULL, NULL, 0 },
	{ "250x\r\n", TERN__SMTPC_RE_CODE, 0, NULL, NULL, 0 },
	{ "abc def\r\n", TERN__SMTPC_RE_CODE, 0, NULL, NULL, 0 },
	{ "150 x\r\n", TERN__SMTPC_RE_CODE, 0, NULL, NULL, 0 },
	{ "650 x\r\n", TERN__SMTPC_RE_CODE, 0, NULL, NULL, 0 },
	{ "260 x\r\n", TERN__SMTPC_RE_CODE, 0, NULL, NULL, 0 },
	{ " 250 x\r\n", TERN__SMTPC_RE_CODE, 0, NULL, NULL, 0 },
	{ "250-a\r\n251 b\r\n", TERN__SMTPC_RE_MIXED, 0, NULL, NULL, 0 },
	{ "250-a\r\n550 b\r\n", TERN__SMTPC_RE_MIXED, 0, NULL, NULL, 0 },
	{ "250-a\r\nxyz\r\n", TERN__SMTPC_RE_CODE, 0, NULL, NULL, 0 },
	/* Incomplete: more needed. */
	{ "250-a\r\n", 0, 0, NULL, NULL, 0 },
	{ "250 a", 0, 0, NULL, NULL, 0 },
	{ "250 a\r", 0, 0, NULL, NULL, 0 },
};

static int parse_all(struct tern__smtpc_parser *p, const char *in, size_t len, bool bytes,
		     size_t *used_r)
{
	size_t total = 0;
	int r = 0;
	while (total < len) {
		size_t n = bytes ? 1 : len - total, used = 0;
		char *copy = malloc(n);
		memcpy(copy, in + total, n);
		r = tern__smtpc_parser_feed(p, copy, n, &used);
		free(copy);
		total += used;
		if (r != 0)
			break;
	}
	*used_r = total;
	return r;
}

static void test_reply_table(void **state)
{
	bool bytes = *(bool *)*state;
	for (size_t i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		const struct reply_case *rc = &reply_cases[i];
		struct tern__smtpc_parser p;
		assert_int_equal(tern__smtpc_parser_init(&p, 0, 0, 0), 0);
		size_t used = 0;
		int r = parse_all(&p, rc->in, strlen(rc->in), bytes, &used);
		if (r != rc->rc) {
			print_error("case %zu \"%s\": rc %d, want %d\n", i, rc->in, r, rc->rc);
			fail();
		}
		if (rc->rc == 1) {
			assert_int_equal(p.code, rc->code);
			assert_string_equal(p.enhanced, rc->enhanced);
			assert_string_equal(tern__buf_ptr(&p.text), rc->text);
			assert_int_equal(used, rc->used ? rc->used : strlen(rc->in));
		}
		tern__smtpc_parser_free(&p);
	}
}

/* Two replies back to back; next() resets between them. */
static void test_reply_sequence(void **state)
{
	(void)state;
	struct tern__smtpc_parser p;
	assert_int_equal(tern__smtpc_parser_init(&p, 0, 0, 0), 0);
	const char in[] = "250-2.0.0 a\r\n250 2.0.0 b\r\n550 5.1.1 c\r\n";
	size_t used = 0;
	assert_int_equal(tern__smtpc_parser_feed(&p, in, sizeof(in) - 1, &used), 1);
	assert_string_equal(tern__buf_ptr(&p.text), "a\nb");
	tern__smtpc_parser_next(&p);
	size_t used2 = 0;
	assert_int_equal(tern__smtpc_parser_feed(&p, in + used, sizeof(in) - 1 - used, &used2), 1);
	assert_int_equal(p.code, 550);
	assert_string_equal(p.enhanced, "5.1.1");
	assert_string_equal(tern__buf_ptr(&p.text), "c");
	assert_int_equal(used + used2, sizeof(in) - 1);
	tern__smtpc_parser_free(&p);
}

static void test_reply_limits(void **state)
{
	bool bytes = *(bool *)*state;
	struct tern__smtpc_parser p;
	size_t used;
	/* A line of exactly max_line octets (CRLF included) fits; one more
	 * does not. */
	assert_int_equal(tern__smtpc_parser_init(&p, 16, 0, 0), 0);
	assert_int_equal(parse_all(&p, "250 0123456789\r\n", 16, bytes, &used), 1);
	tern__smtpc_parser_next(&p);
	assert_int_equal(parse_all(&p, "250 01234567890\r\n", 17, bytes, &used),
			 TERN__SMTPC_RE_LINE);
	tern__smtpc_parser_free(&p);
	/* A line without end still hits the limit. */
	assert_int_equal(tern__smtpc_parser_init(&p, 16, 0, 0), 0);
	assert_int_equal(parse_all(&p, "250 0123456789abcdefgh", 22, bytes, &used),
			 TERN__SMTPC_RE_LINE);
	tern__smtpc_parser_free(&p);
	/* Too many lines. */
	assert_int_equal(tern__smtpc_parser_init(&p, 0, 0, 3), 0);
	assert_int_equal(parse_all(&p, "250-a\r\n250-b\r\n250-c\r\n250 d\r\n", 28, bytes, &used),
			 TERN__SMTPC_RE_BIG);
	tern__smtpc_parser_free(&p);
	/* Too many octets of text. */
	assert_int_equal(tern__smtpc_parser_init(&p, 0, 8, 0), 0);
	assert_int_equal(parse_all(&p, "250-abcd\r\n250 efgh\r\n", 20, bytes, &used),
			 TERN__SMTPC_RE_BIG);
	tern__smtpc_parser_free(&p);
	/* Default limits: a 4 KiB line is refused. */
	assert_int_equal(tern__smtpc_parser_init(&p, 0, 0, 0), 0);
	char *big = malloc(5000);
	memset(big, 'x', 5000);
	memcpy(big, "250 ", 4);
	assert_int_equal(parse_all(&p, big, 5000, false, &used), TERN__SMTPC_RE_LINE);
	free(big);
	tern__smtpc_parser_free(&p);
}

struct caps_case {
	const char *text;
	unsigned ext;
	uint64_t size;
	unsigned auth;
};

#define M(x) (1u << TERN__SASL_##x)

static const struct caps_case caps_cases[] = {
	{ "mx.example", 0, 0, 0 },
	{ "mx.example\nPIPELINING\n8BITMIME\nSMTPUTF8\nCHUNKING\nBINARYMIME\nDSN\n"
	  "ENHANCEDSTATUSCODES\nSTARTTLS\nREQUIRETLS",
	  TERN_SMTP_EXT_PIPELINING | TERN_SMTP_EXT_8BITMIME | TERN_SMTP_EXT_SMTPUTF8 |
		  TERN_SMTP_EXT_CHUNKING | TERN_SMTP_EXT_BINARYMIME | TERN_SMTP_EXT_DSN |
		  TERN_SMTP_EXT_ENHANCEDSTATUSCODES | TERN_SMTP_EXT_STARTTLS |
		  TERN_SMTP_EXT_REQUIRETLS,
	  0, 0 },
	{ "mx\npipelining\nsize 1000", TERN_SMTP_EXT_PIPELINING | TERN_SMTP_EXT_SIZE, 1000, 0 },
	{ "mx\nSIZE", TERN_SMTP_EXT_SIZE, 0, 0 },
	{ "mx\nSIZE 0", TERN_SMTP_EXT_SIZE, 0, 0 },
	{ "mx\nSIZE 99999999999999999999999", TERN_SMTP_EXT_SIZE, 0, 0 },
	{ "mx\nSIZEX 10", 0, 0, 0 },
	{ "mx\nAUTH PLAIN LOGIN SCRAM-SHA-256 FOO", TERN_SMTP_EXT_AUTH, 0,
	  M(PLAIN) | M(LOGIN) | M(SCRAM_SHA_256) },
	{ "mx\nAUTH=LOGIN PLAIN", TERN_SMTP_EXT_AUTH, 0, M(PLAIN) | M(LOGIN) },
	{ "mx\nauth  cram-md5 ", TERN_SMTP_EXT_AUTH, 0, M(CRAM_MD5) },
	{ "mx\nAUTH", TERN_SMTP_EXT_AUTH, 0, 0 },
	/* The greeting line is no capability; unknown keywords ignored. */
	{ "PIPELINING\nXFOO\nPIPELININGX\nDSN=1", 0, 0, 0 },
	{ "mx\n\n\nDSN", TERN_SMTP_EXT_DSN, 0, 0 },
};

static void test_caps_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(caps_cases) / sizeof(caps_cases[0]); i++) {
		struct tern__smtpc_caps caps;
		const struct caps_case *cc = &caps_cases[i];
		tern__smtpc_caps_parse(&caps, cc->text, strlen(cc->text));
		if (caps.ext != cc->ext || caps.size_limit != cc->size || caps.auth_mechs != cc->auth) {
			print_error("caps case %zu: ext %x size %llu auth %x\n", i, caps.ext,
				    (unsigned long long)caps.size_limit, caps.auth_mechs);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TC2(test_reply_table),
		cmocka_unit_test(test_reply_sequence),
		TC2(test_reply_limits),
		cmocka_unit_test(test_caps_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
