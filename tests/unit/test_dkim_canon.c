/* The helpers DKIM and ARC share: tag-lists (RFC 6376 3.2), the header
 * collector, header and body canonicalization (RFC 6376 3.4, with the
 * example of 3.4.6). Canonical output is checked through its SHA-256: the
 * expected text, written out by hand from the RFC's rules, is hashed here
 * and compared with what the canonicalizer fed its digest. Every body case
 * runs whole, one octet at a time and in 3-octet slices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/canon.h"
#include "auth/dkim_int.h"
#include "auth/tag_list.h"

static void sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int len;

	assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
}

/* ---- tag-lists ---- */

struct tcase {
	const char *in;
	int rc;
	const char *name2, *value2; /* the second tag, when rc >= 2 */
};

static const struct tcase tcases[] = {
	{"", 0, NULL, NULL},
	{"  \r\n ", 0, NULL, NULL},
	{"v=1; a=rsa-sha256; d=example.net; s=brisbane;", 4, "a", "rsa-sha256"},
	{"v=1;a=b c ;", 2, "a", "b c"},
	{"v = 1 ;\r\n\ta =\r\n x\r\n y ", 2, "a", "x\r\n y"},
	{"k=rsa; p=", 2, "p", ""},
	{"k=rsa; p= ;", 2, "p", ""},
	{"a_1=x; b=\xc3\xa9", 2, "b", "\xc3\xa9"},
	{"v=1;;", TERN__TAG_ESYNTAX, NULL, NULL},
	{";", TERN__TAG_ESYNTAX, NULL, NULL},
	{"=x", TERN__TAG_ESYNTAX, NULL, NULL},
	{"a", TERN__TAG_ESYNTAX, NULL, NULL},
	{"1a=b", TERN__TAG_ESYNTAX, NULL, NULL},
	{"_a=b", TERN__TAG_ESYNTAX, NULL, NULL},
	{"a-b=c", TERN__TAG_ESYNTAX, NULL, NULL},
	{"a=b\x01", TERN__TAG_ESYNTAX, NULL, NULL},
	{"a=b; a=c", TERN__TAG_EDUPLICATE, NULL, NULL},
	{"A=b; a=c", 2, "a", "c"}, /* names are case-sensitive */
};

static void test_tag_list(void **state)
{
	for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
		const struct tcase *c = &tcases[i];
		struct tern__tag tags[8];
		int rc = tern__tag_parse(c->in, strlen(c->in), tags, 8);

		if (rc != c->rc)
			fail_msg("case %zu \"%s\": %d, expected %d", i, c->in, rc, c->rc);
		if (rc >= 2) {
			assert_int_equal(tags[1].name_len, strlen(c->name2));
			assert_memory_equal(tags[1].name, c->name2, tags[1].name_len);
			assert_int_equal(tags[1].value_len, strlen(c->value2));
			assert_memory_equal(tags[1].value, c->value2, tags[1].value_len);
		}
	}
}

static void test_tag_list_limits(void **state)
{
	struct tern__tag tags[2];
	char out[32];
	const char *s = "a=1; bh=AB CD\r\n\tEF=; c=x";
	int rc = tern__tag_parse(s, strlen(s), tags, 2);

	assert_int_equal(rc, TERN__TAG_ETOOMANY);
	assert_int_equal(tern__tag_parse(s, strlen(s), tags, 1), TERN__TAG_ETOOMANY);
	assert_int_equal(tern__tag_parse(s, 13, tags, 2), 2);
	/* eq_end is just after "=", where b= blanking begins */
	assert_int_equal(tags[1].eq_end, 8);
	rc = tern__tag_parse(s, strlen(s) - 5, tags, 2);
	assert_int_equal(rc, 2);
	assert_int_equal(tern__tag_strip_fws(tags[1].value, tags[1].value_len, out), 7);
	assert_string_equal(out, "ABCDEF=");
	assert_non_null(tern__tag_find(tags, 2, "bh"));
	assert_null(tern__tag_find(tags, 2, "b"));
}

/* ---- colon lists and domains ---- */

static void test_lists_and_domains(void **state)
{
	const char *l = " from : To:\r\n subject", *item;
	size_t pos = 0, n, count = 0;

	while (tern__dkim_list_next(l, strlen(l), &pos, &item, &n))
		count++;
	assert_int_equal(count, 3);
	pos = 0;
	assert_true(tern__dkim_list_next("a:", 2, &pos, &item, &n));
	assert_true(tern__dkim_list_next("a:", 2, &pos, &item, &n));
	assert_int_equal(n, 0); /* "a:" ends with an empty item */
	assert_false(tern__dkim_list_next("a:", 2, &pos, &item, &n));

	assert_true(tern__dkim_valid_domain("example.com", 11));
	assert_true(tern__dkim_valid_domain("s_1.sub", 7));
	assert_false(tern__dkim_valid_domain("", 0));
	assert_false(tern__dkim_valid_domain("a..b", 4));
	assert_false(tern__dkim_valid_domain("a.", 2));
	assert_false(tern__dkim_valid_domain("-a.b", 4));
	assert_false(tern__dkim_valid_domain("a b", 3));
	assert_false(tern__dkim_valid_domain("a/b", 3));
	assert_true(tern__dkim_domain_within("mail.Example.com", 16, "example.COM", 11));
	assert_true(tern__dkim_domain_within("example.com", 11, "example.com", 11));
	assert_false(tern__dkim_domain_within("badexample.com", 14, "example.com", 11));
	assert_false(tern__dkim_domain_within("com", 3, "example.com", 11));
}

/* ---- header collection ---- */

static void collect(struct tern__headers *h, const char *msg, size_t len, size_t slice,
		    size_t *body_off)
{
	size_t off = 0;

	tern__headers_init(h, 0);
	*body_off = len;
	while (off < len && !tern__headers_done(h)) {
		size_t n = len - off < slice ? len - off : slice;
		long used = tern__headers_feed(h, msg + off, n);

		assert_true(used >= 0);
		off += (size_t)used;
		if (tern__headers_done(h))
			*body_off = off;
	}
	assert_int_equal(tern__headers_end(h), 0);
}

static void test_headers(void **state)
{
	static const struct {
		const char *msg;
		size_t fields, body;
		const char *last; /* the last field, as kept */
	} cases[] = {
		{"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\nbody\r\n", 2, 22, "B : Y\t\r\n\tZ  \r\n"},
		{"A: X\nB : Y\t\n\tZ  \n\nbody\n", 2, 18, "B : Y\t\r\n\tZ  \r\n"},
		{"A: X\r\n", 1, 6, "A: X\r\n"},
		{"A: X", 1, 4, "A: X\r\n"},
		{"A: X\rY\r\n\r\n", 1, 10, "A: X\rY\r\n"},
		{"\r\nbody", 0, 2, NULL},
		{"A: 1\r\n\n", 1, 7, "A: 1\r\n"},
		{" lead\r\nA: 1\r\n\r\n", 2, 15, "A: 1\r\n"},
	};
	static const size_t slices[] = {SIZE_MAX, 1, 3};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		for (size_t k = 0; k < 3; k++) {
			struct tern__headers h;
			size_t body;

			collect(&h, cases[i].msg, strlen(cases[i].msg), slices[k], &body);
			if (h.count != cases[i].fields || body != cases[i].body)
				fail_msg("case %zu slice %zu: %zu fields, body at %zu", i, slices[k],
					 h.count, body);
			if (cases[i].last) {
				struct tern__hfield *f = &h.fields[h.count - 1];

				assert_int_equal(f->len, strlen(cases[i].last));
				assert_memory_equal(tern__hfield_text(&h, f), cases[i].last, f->len);
			}
			tern__headers_free(&h);
		}
}

static void test_headers_pick_and_limit(void **state)
{
	const char *msg = "From: a\r\nTo: x\r\nfrom: b\r\nFROM : c\r\n\r\n";
	struct tern__headers h;
	struct tern__hfield *f;
	size_t body;

	collect(&h, msg, strlen(msg), SIZE_MAX, &body);
	assert_int_equal(tern__headers_count(&h, "from", 4), 3);
	/* RFC 6376 5.4.2: the last instance first */
	f = tern__headers_pick(&h, "From", 4);
	assert_memory_equal(tern__hfield_text(&h, f), "FROM : c", 8);
	f = tern__headers_pick(&h, "from", 4);
	assert_memory_equal(tern__hfield_text(&h, f), "from: b", 7);
	f = tern__headers_pick(&h, "from", 4);
	assert_memory_equal(tern__hfield_text(&h, f), "From: a", 7);
	assert_null(tern__headers_pick(&h, "from", 4));
	tern__headers_unpick(&h);
	assert_non_null(tern__headers_pick(&h, "from", 4));
	tern__headers_free(&h);

	tern__headers_init(&h, 16);
	assert_int_equal(tern__headers_feed(&h, msg, strlen(msg)), (long)strlen(msg));
	assert_true(h.over_limit);
	assert_true(tern__headers_done(&h));
	tern__headers_free(&h);
}

/* ---- header canonicalization ---- */

static void check_header(enum tern__canon c, const char *field, bool no_crlf, const char *want)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct tern__hash_out out;
	unsigned char got[32], exp[32];
	unsigned int len;

	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	tern__hash_out_init(&out, md);
	assert_int_equal(tern__canon_header(c, field, strlen(field), no_crlf, &out), 0);
	assert_int_equal(tern__hash_out_flush(&out), 0);
	EVP_DigestFinal_ex(md, got, &len);
	EVP_MD_CTX_free(md);
	sha256(want, strlen(want), exp);
	if (memcmp(got, exp, 32) != 0)
		fail_msg("\"%s\" did not canonicalize to \"%s\"", field, want);
}

static void test_header_canon(void **state)
{
	/* RFC 6376 3.4.6 */
	check_header(TERN__CANON_RELAXED, "A: X\r\n", false, "a:X\r\n");
	check_header(TERN__CANON_RELAXED, "B : Y\t\r\n\tZ  \r\n", false, "b:Y Z\r\n");
	check_header(TERN__CANON_SIMPLE, "B : Y\t\r\n\tZ  \r\n", false, "B : Y\t\r\n\tZ  \r\n");
	/* edge cases */
	check_header(TERN__CANON_RELAXED, "SUBJECT:   \t  hi   there \r\n", false,
		     "subject:hi there\r\n");
	check_header(TERN__CANON_RELAXED, "X-Empty:\r\n", false, "x-empty:\r\n");
	check_header(TERN__CANON_RELAXED, "X-Empty:  \r\n \r\n", false, "x-empty:\r\n");
	check_header(TERN__CANON_RELAXED, "X: a\rb\r\n", false, "x:a\rb\r\n");
	check_header(TERN__CANON_RELAXED, "DKIM-Signature: v=1;\r\n b=\r\n", true,
		     "dkim-signature:v=1; b=");
	check_header(TERN__CANON_SIMPLE, "DKIM-Signature: v=1;\r\n b=\r\n", true,
		     "DKIM-Signature: v=1;\r\n b=");
	check_header(TERN__CANON_SIMPLE, "DKIM-Signature: v=1; b=", true,
		     "DKIM-Signature: v=1; b=");
}

/* ---- body canonicalization ---- */

struct bcase {
	enum tern__canon c;
	const char *in;
	const char *want;
};

static const struct bcase bcases[] = {
	/* RFC 6376 3.4.6 */
	{TERN__CANON_RELAXED, " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n"},
	{TERN__CANON_SIMPLE, " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n"},
	/* empty bodies (RFC 6376 3.4.3, 3.4.4) */
	{TERN__CANON_SIMPLE, "", "\r\n"},
	{TERN__CANON_RELAXED, "", ""},
	{TERN__CANON_SIMPLE, "\r\n\r\n", "\r\n"},
	{TERN__CANON_RELAXED, "\r\n\r\n", ""},
	{TERN__CANON_RELAXED, " \t\r\n  \r\n", ""},
	/* no final CRLF */
	{TERN__CANON_SIMPLE, "abc", "abc\r\n"},
	{TERN__CANON_RELAXED, "abc  ", "abc\r\n"},
	{TERN__CANON_RELAXED, "abc\r\n  ", "abc\r\n"},
	/* bare LF taken as CRLF */
	{TERN__CANON_SIMPLE, "a\nb\n\n\n", "a\r\nb\r\n"},
	{TERN__CANON_RELAXED, "a \nb\t\n\n", "a\r\nb\r\n"},
	/* trailing and inner WSP, empty lines inside */
	{TERN__CANON_RELAXED, "a \t\r\n", "a\r\n"},
	{TERN__CANON_RELAXED, "  a\r\n", " a\r\n"},
	{TERN__CANON_RELAXED, "a\r\n \r\nb\r\n", "a\r\n\r\nb\r\n"},
	{TERN__CANON_SIMPLE, "a\r\n \r\nb\r\n\r\n", "a\r\n \r\nb\r\n"},
	{TERN__CANON_SIMPLE, "\r\n\r\na\r\n", "\r\n\r\na\r\n"},
	/* bare CR is content */
	{TERN__CANON_SIMPLE, "a\rb\r\n", "a\rb\r\n"},
	{TERN__CANON_SIMPLE, "a\r", "a\r\r\n"},
	{TERN__CANON_RELAXED, "a \r b\r\n", "a \r b\r\n"},
	{TERN__CANON_SIMPLE, "\r", "\r\r\n"},
};

static void check_body(enum tern__canon c, const char *in, size_t slice, uint64_t limit,
		       const char *want, uint64_t want_total)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct tern__canon_body b;
	unsigned char got[32], exp[32];
	unsigned int len;
	size_t n = strlen(in);

	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	tern__canon_body_init(&b, c, limit, md);
	for (size_t off = 0; off < n; off += slice)
		tern__canon_body_feed(&b, in + off, n - off < slice ? n - off : slice);
	assert_int_equal(tern__canon_body_end(&b), 0);
	EVP_DigestFinal_ex(md, got, &len);
	EVP_MD_CTX_free(md);
	sha256(want, strlen(want), exp);
	if (memcmp(got, exp, 32) != 0 || b.total != want_total)
		fail_msg("%s \"%s\" (slice %zu): wrong canonical body (total %llu)",
			 c == TERN__CANON_SIMPLE ? "simple" : "relaxed", in, slice,
			 (unsigned long long)b.total);
}

static void test_body_canon(void **state)
{
	static const size_t slices[] = {SIZE_MAX, 1, 3};

	for (size_t i = 0; i < sizeof bcases / sizeof bcases[0]; i++)
		for (size_t k = 0; k < 3; k++)
			check_body(bcases[i].c, bcases[i].in, slices[k], UINT64_MAX, bcases[i].want,
				   strlen(bcases[i].want));
}

static void test_body_length(void **state)
{
	/* l=: only the first l octets of the canonical body are hashed */
	check_body(TERN__CANON_SIMPLE, "abcdef\r\n", 1, 3, "abc", 8);
	check_body(TERN__CANON_RELAXED, "a  b\r\nmore\r\n", SIZE_MAX, 5, "a b\r\n", 11);
	check_body(TERN__CANON_SIMPLE, "", SIZE_MAX, 0, "", 2);
	check_body(TERN__CANON_SIMPLE, "abc\r\n", 3, 100, "abc\r\n", 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_list),
		cmocka_unit_test(test_tag_list_limits),
		cmocka_unit_test(test_lists_and_domains),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_headers_pick_and_limit),
		cmocka_unit_test(test_header_canon),
		cmocka_unit_test(test_body_canon),
		cmocka_unit_test(test_body_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
