/* The MIME structure engine (src/mime): BODYSTRUCTURE, ENVELOPE and
 * section ranges for a table of messages, each fed whole, one byte at a
 * time and in 3-byte slices (the same result every time); serialization
 * round trips; every limit; damaged caches refused.
 *
 * The expected BODYSTRUCTURE and ENVELOPE strings of the structure table
 * are Dovecot 2.3's answers for the same messages (doveadm fetch
 * imap.bodystructure / imap.envelope, as tests/interop/test_mime_dovecot.py
 * compares on the whole corpus), not our own output copied back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mime/mime.h"
#include "tern/tern.h"

struct mcase {
	const char *name;
	const char *msg;
	const char *bodystructure; /* NULL: not checked */
	const char *envelope;      /* NULL: not checked */
};

#define NL "\r\n"

static const struct mcase cases[] = {
	{ "plain",
	  "From: Alice <alice@example.com>" NL "To: Bob <bob@example.org>" NL "Subject: Plain text" NL
	  "Date: Mon, 1 Jan 2024 10:00:00 +0000" NL "Message-ID: <1@example.com>" NL NL
	  "Hello Bob," NL "this is a plain message." NL,
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 38 2 NIL NIL NIL NIL)",
	  "(\"Mon, 1 Jan 2024 10:00:00 +0000\" \"Plain text\" ((\"Alice\" NIL \"alice\" \"example.com\")) "
	  "((\"Alice\" NIL \"alice\" \"example.com\")) ((\"Alice\" NIL \"alice\" \"example.com\")) "
	  "((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<1@example.com>\")" },
	{ "missing final boundary",
	  "From: a@example.com" NL "Content-Type: multipart/mixed; boundary=b1" NL NL "--b1" NL
	  "Content-Type: text/plain" NL NL "one" NL "--b1" NL "Content-Type: text/plain" NL NL
	  "two, and no end" NL,
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL)"
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 17 1 NIL NIL NIL NIL) "
	  "\"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)",
	  NULL },
	{ "outer boundary closes the inner multipart",
	  "From: a@example.com" NL "Content-Type: multipart/mixed; boundary=A" NL NL "--A" NL
	  "Content-Type: multipart/alternative; boundary=B" NL NL "--B" NL
	  "Content-Type: text/plain" NL NL "b1" NL "--B" NL "Content-Type: text/plain" NL NL "b2" NL
	  "--A" NL "Content-Type: text/plain" NL NL "a2" NL "--A--" NL,
	  "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL)"
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL) "
	  "\"alternative\" (\"boundary\" \"B\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"A\") NIL NIL NIL)",
	  NULL },
	{ "bare LF counted as CRLF",
	  "From: a@example.com\nTo: b@example.com\nSubject: lf\nContent-Type: multipart/mixed; "
	  "boundary=q\n\n--q\nContent-Type: text/plain\n\nline1\nline2\n--q--\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL) "
	  "\"mixed\" (\"boundary\" \"q\") NIL NIL NIL)",
	  NULL },
	{ "multipart without boundary",
	  "From: a@example.com" NL "Content-Type: multipart/mixed" NL NL "text" NL,
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	  "\"mixed\" NIL NIL NIL NIL)",
	  NULL },
	{ "empty parts",
	  "From: a@example.com" NL "Content-Type: multipart/mixed; boundary=E" NL NL "--E" NL "--E" NL
	  NL "--E" NL "Content-Type: text/plain" NL NL "--E--" NL,
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	  "\"mixed\" (\"boundary\" \"E\") NIL NIL NIL)",
	  NULL },
	{ "digest defaults to message/rfc822",
	  "From: a@example.com" NL "Subject: digest" NL "Content-Type: multipart/digest; boundary=D" NL
	  NL "--D" NL NL "From: m1@example.com" NL "Subject: m1" NL NL "one" NL "--D" NL NL
	  "From: m2@example.com" NL "Subject: m2" NL NL "two" NL "--D--" NL,
	  "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 40 (NIL \"m1\" ((NIL NIL \"m1\" \"example.com\")) "
	  "((NIL NIL \"m1\" \"example.com\")) ((NIL NIL \"m1\" \"example.com\")) NIL NIL NIL NIL NIL) "
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL) 3 NIL NIL "
	  "NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 40 (NIL \"m2\" ((NIL NIL \"m2\" "
	  "\"example.com\")) ((NIL NIL \"m2\" \"example.com\")) ((NIL NIL \"m2\" \"example.com\")) NIL "
	  "NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL "
	  "NIL NIL) 3 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"D\") NIL NIL NIL)",
	  NULL },
	{ "groups, folded subject, last Subject wins",
	  "From: a@example.com" NL "To: Friends: one@example.com, \"Two\" <two@example.com>;, "
	  "solo@example.com" NL "Cc: undisclosed-recipients:;" NL "Subject: first" NL
	  "Subject: a folded" NL "  subject line" NL NL "b" NL,
	  NULL,
	  "(NIL {21}\r\na folded subject line ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" "
	  "\"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"Friends\" NIL)(NIL NIL \"one\" "
	  "\"example.com\")(\"Two\" NIL \"two\" \"example.com\")(NIL NIL NIL NIL)(NIL NIL \"solo\" "
	  "\"example.com\")) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)" },
	{ "comments, routes, missing parts",
	  "From: a@example.com (Alice Example)" NL "Sender: <@relay.example:s@example.com>" NL
	  "To: justlocal, @nolocal.example" NL NL,
	  NULL, NULL },
	{ "8-bit header and NUL in body",
	  "From: J\xc3\xbcrgen <j@example.de>" NL "Subject: K\xc3\xb6ln" NL NL "a\0b" NL,
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 1 NIL NIL NIL NIL)",
	  "(NIL {5}\r\nK\xc3\xb6ln (({7}\r\nJ\xc3\xbcrgen NIL \"j\" \"example.de\")) (({7}\r\nJ\xc3\xbcrgen "
	  "NIL \"j\" \"example.de\")) (({7}\r\nJ\xc3\xbcrgen NIL \"j\" \"example.de\")) NIL NIL NIL NIL NIL)" },
	{ "mixed line ends: the delimiter takes the previous line's own end",
	  "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n\r\npart\n"
	  "--m\r\nContent-Type: text/plain\n\nlf part\r\n--m--\r\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL)"
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 0 NIL NIL NIL NIL) "
	  "\"mixed\" (\"boundary\" \"m\") NIL NIL NIL)",
	  NULL },
	{ "delimiter right where a message/rfc822 body starts",
	  "From: a@example.com" NL "Content-Type: multipart/mixed; boundary=R" NL NL "--R" NL
	  "Content-Type: message/rfc822" NL NL "--R" NL "Content-Type: text/plain" NL NL "after" NL
	  "--R--" NL,
	  "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 0 NIL "
	  "NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL "
	  "NIL) \"mixed\" (\"boundary\" \"R\") NIL NIL NIL)",
	  NULL },
	{ "address oddities: empty elements, \"\" names, unterminated quote, groups",
	  "From: \"Last, First\" <lf@example.com>, Plain Name <pn@example.com>, <angle@example.com>, \"\" <empty@example.com>\r\nTo: a@b, , c@d,\r\nCc: \"unterminated <x@example.com>\r\nBcc: Group: a@example.com, b@example.com\r\n\r\nx\r\n",
	  NULL,
	  "(NIL NIL ((\"Last, First\" NIL \"lf\" \"example.com\")(\"Plain Name\" NIL \"pn\" \"example.com\")(NIL NIL \"angle\" \"example.com\")(NIL NIL \"empty\" \"example.com\")) ((\"Last, First\" NIL \"lf\" \"example.com\")(\"Plain Name\" NIL \"pn\" \"example.com\")(NIL NIL \"angle\" \"example.com\")(NIL NIL \"empty\" \"example.com\")) ((\"Last, First\" NIL \"lf\" \"example.com\")(\"Plain Name\" NIL \"pn\" \"example.com\")(NIL NIL \"angle\" \"example.com\")(NIL NIL \"empty\" \"example.com\")) ((NIL NIL \"a\" \"b\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"c\" \"d\")) ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((NIL NIL \"Group\" NIL)(NIL NIL \"a\" \"example.com\")(NIL NIL \"b\" \"example.com\")(NIL NIL NIL NIL)) NIL NIL)" },
	{ "a second To adds up, the first Content-Type counts",
	  "From: a@example.com\r\nTo: first@example.com\r\nTo: second@example.com\r\nContent-Type: text/html\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nx\r\n",
	  NULL,
	  "(NIL NIL ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"first\" \"example.com\")(NIL NIL \"second\" \"example.com\")) NIL NIL NIL NIL)" },
	{ "header only", "From: a@example.com" NL "Subject: no blank line",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)", NULL },
};

static struct tern__mime *parse_sliced(const char *msg, size_t len, size_t step,
				       const struct tern__mime_limits *lim)
{
	struct tern__mime_parser *p;
	struct tern__mime *m;
	assert_int_equal(tern__mime_parser_new(&p, lim), 0);
	for (size_t i = 0; i < len; i += step)
		assert_int_equal(tern__mime_parser_feed(p, msg + i, len - i < step ? len - i : step), 0);
	assert_int_equal(tern__mime_parser_finish(p, &m), 0);
	assert_int_equal(tern__mime_parser_finish(p, &m), TERN_ESTATE);
	tern__mime_parser_free(&p);
	assert_null(p);
	return m;
}

static char *render(const struct tern__mime *m, int what)
{
	struct tern__buf b;
	tern__buf_init(&b, 0);
	int rc = what == 0 ? tern__mime_imap_bodystructure(m, 0, 1, &b)
		 : what == 1 ? tern__mime_imap_envelope(m, 0, &b)
			     : tern__mime_save(m, &b);
	assert_int_equal(rc, 0);
	assert_int_equal(tern__buf_append(&b, "", 1), 0);
	char *s = malloc(b.len);
	assert_non_null(s);
	memcpy(s, tern__buf_ptr(&b), b.len);
	tern__buf_free(&b);
	return s;
}

static size_t msg_len(const struct mcase *c)
{
	/* One case carries a NUL in its body. */
	if (strstr(c->name, "NUL"))
		return strlen(c->msg) + 1 + strlen(c->msg + strlen(c->msg) + 1);
	return strlen(c->msg);
}

static void test_structure_table(void **state)
{
	(void)state;
	static const size_t steps[] = { SIZE_MAX, 1, 3 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mcase *c = &cases[i];
		size_t len = msg_len(c);
		char *first_bs = NULL, *first_save = NULL;
		for (size_t s = 0; s < 3; s++) {
			struct tern__mime *m = parse_sliced(c->msg, len, steps[s] == SIZE_MAX ? len + 1 : steps[s], NULL);
			assert_int_equal(m->size, len);
			char *bs = render(m, 0), *env = render(m, 1), *save = render(m, 2);
			if (c->bodystructure && strcmp(bs, c->bodystructure) != 0)
				fail_msg("%s (step %zu): BODYSTRUCTURE\n got  %s\n want %s", c->name, steps[s], bs,
					 c->bodystructure);
			if (c->envelope && strcmp(env, c->envelope) != 0)
				fail_msg("%s (step %zu): ENVELOPE\n got  %s\n want %s", c->name, steps[s], env,
					 c->envelope);
			if (s == 0) {
				first_bs = bs;
				first_save = save;
			} else {
				assert_string_equal(bs, first_bs);
				/* The saved form holds every offset and field: equal
				 * bytes mean equal structures. */
				assert_string_equal(save, first_save);
				free(bs);
				free(save);
			}
			free(env);
			tern__mime_free(&m);
		}
		free(first_bs);
		free(first_save);
	}
}

static void test_addresses_broken(void **state)
{
	(void)state;
	struct tern__mime *m;
	const struct mcase *c = NULL;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strncmp(cases[i].name, "comments", 8) == 0)
			c = &cases[i];
	assert_non_null(c);
	assert_int_equal(tern__mime_parse(c->msg, strlen(c->msg), NULL, &m), 0);
	char *env = render(m, 1);
	assert_string_equal(env,
			    "(NIL NIL ((\"Alice Example\" NIL \"a\" \"example.com\")) ((NIL \"@relay.example\" "
			    "\"s\" \"example.com\")) ((\"Alice Example\" NIL \"a\" \"example.com\")) ((NIL NIL "
			    "\"justlocal\" \"MISSING_DOMAIN\")(NIL NIL \"MISSING_MAILBOX\" "
			    "\"nolocal.example\")) NIL NIL NIL NIL)");
	free(env);
	tern__mime_free(&m);
}

static void test_roundtrip_and_damage(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tern__mime *m, *m2;
		struct tern__buf a, b;
		tern__buf_init(&a, 0);
		tern__buf_init(&b, 0);
		assert_int_equal(tern__mime_parse(cases[i].msg, msg_len(&cases[i]), NULL, &m), 0);
		assert_int_equal(tern__mime_save(m, &a), 0);
		assert_int_equal(tern__mime_load(tern__buf_ptr(&a), a.len, &m2), 0);
		assert_int_equal(tern__mime_save(m2, &b), 0);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(tern__buf_ptr(&a), tern__buf_ptr(&b), a.len);
		char *x = render(m, 0), *y = render(m2, 0);
		assert_string_equal(x, y);
		free(x);
		free(y);
		/* Every truncation is refused, never read past. */
		for (size_t n = 0; n < a.len; n++) {
			struct tern__mime *bad = NULL;
			char *copy = malloc(n ? n : 1);
			memcpy(copy, tern__buf_ptr(&a), n);
			assert_int_equal(tern__mime_load(copy, n, &bad), TERN_EINVAL);
			assert_null(bad);
			free(copy);
		}
		tern__mime_free(&m);
		tern__mime_free(&m2);
		tern__buf_free(&a);
		tern__buf_free(&b);
	}
	struct tern__mime *m = NULL;
	assert_int_equal(tern__mime_load("XMIME1\1\0", 8, &m), TERN_EINVAL);
}

static const char nested[] =
	"Content-Type: multipart/mixed; boundary=d0" NL NL "--d0" NL
	"Content-Type: multipart/mixed; boundary=d1" NL NL "--d1" NL
	"Content-Type: multipart/mixed; boundary=d2" NL NL "--d2" NL
	"Content-Type: text/plain" NL NL "deep" NL "--d2--" NL "--d1--" NL "--d0--" NL;

static void test_limit_depth(void **state)
{
	(void)state;
	struct tern__mime_limits lim;
	tern__mime_limits_default(&lim);
	lim.max_depth = 2;
	for (size_t step = 1; step <= 2; step++) {
		struct tern__mime *m = parse_sliced(nested, strlen(nested), step == 1 ? 1 : strlen(nested), &lim);
		/* Root and its child; the child's multipart is too deep and keeps
		 * the rest as its body. */
		assert_int_equal(m->nparts, 2);
		assert_true(m->truncated);
		assert_true(m->parts[1].flags & TERN__MIME_P_TRUNCATED);
		assert_non_null(strstr(nested + m->parts[1].body.off, "deep"));
		tern__mime_free(&m);
	}
	tern__mime_limits_default(&lim);
	struct tern__mime *m = parse_sliced(nested, strlen(nested), 1, &lim);
	assert_int_equal(m->nparts, 4);
	assert_false(m->truncated);
	tern__mime_free(&m);
}

static void test_limit_parts(void **state)
{
	(void)state;
	struct tern__mime_limits lim;
	tern__mime_limits_default(&lim);
	lim.max_parts = 3;
	const char *msg = "Content-Type: multipart/mixed; boundary=x" NL NL "--x" NL NL "1" NL "--x" NL
			  NL "2" NL "--x" NL NL "3" NL "--x--" NL;
	struct tern__mime *m = parse_sliced(msg, strlen(msg), 1, &lim);
	assert_int_equal(m->nparts, 3);
	assert_true(m->truncated);
	/* The third part's delimiter and all after it stay in part 2's body. */
	assert_non_null(strstr(msg + m->parts[2].body.off, "3"));
	tern__mime_free(&m);
}

static void test_limit_header_and_boundary(void **state)
{
	(void)state;
	struct tern__mime_limits lim;
	tern__mime_limits_default(&lim);
	lim.max_header = 64;
	char msg[4096];
	snprintf(msg, sizeof(msg), "X-Long: %0300d" NL "Subject: lost" NL NL "body" NL, 0);
	struct tern__mime *m = parse_sliced(msg, strlen(msg), 1, &lim);
	assert_true(m->truncated);
	assert_null(m->parts[0].field[TERN__MIME_F_SUBJECT]);
	/* The sizes still count every octet. */
	assert_int_equal(m->parts[0].header.size + m->parts[0].body.size, strlen(msg));
	tern__mime_free(&m);

	tern__mime_limits_default(&lim);
	lim.max_boundary = 10;
	const char *mb = "Content-Type: multipart/mixed; boundary=abcdefghijklmnop" NL NL
			 "--abcdefghijklmnop" NL NL "x" NL "--abcdefghijklmnop--" NL;
	m = parse_sliced(mb, strlen(mb), 1, &lim);
	assert_int_equal(m->nparts, 1);
	assert_true(m->truncated);
	tern__mime_free(&m);
}

static char *section(const struct tern__mime *m, const char *msg, const char *spec)
{
	struct tern__mime_section sec;
	struct tern__buf b;
	tern__buf_init(&b, 0);
	int rc = tern__mime_section_resolve(m, spec, &sec);
	if (rc < 0)
		return NULL;
	if (sec.kind == TERN__MIME_SEC_RANGE)
		assert_int_equal(tern__buf_append(&b, msg + sec.off, sec.size), 0);
	else if (sec.kind == TERN__MIME_SEC_HEADER_FIELDS)
		assert_int_equal(tern__mime_header_fields(&sec, msg + sec.off, sec.size, &b), 0);
	tern__mime_section_clear(&sec);
	assert_int_equal(tern__buf_append(&b, "", 1), 0);
	char *s = strdup(tern__buf_ptr(&b));
	tern__buf_free(&b);
	return s;
}

static void test_sections(void **state)
{
	(void)state;
	static const char msg[] =
		"From: a@example.com" NL "Subject: s" NL "Content-Type: multipart/mixed; boundary=o" NL NL
		"--o" NL "Content-Type: text/plain" NL NL "first" NL "--o" NL
		"Content-Type: message/rfc822" NL NL "From: in@example.com" NL "To: t@example.com" NL
		"Content-Type: multipart/alternative; boundary=i" NL NL "--i" NL NL "alt1" NL "--i" NL NL
		"alt2" NL "--i--" NL "--o" NL "Content-Type: message/rfc822" NL NL "Subject: single" NL NL
		"only" NL "--o--" NL;
	static const struct {
		const char *spec, *want;
	} t[] = {
		{ "1", "first" },
		{ "1.MIME", "Content-Type: text/plain" NL NL },
		{ "2.1", "alt1" },
		{ "2.2", "alt2" },
		{ "2.2.MIME", "" NL },
		{ "2.HEADER", "From: in@example.com" NL "To: t@example.com" NL
			      "Content-Type: multipart/alternative; boundary=i" NL NL },
		{ "2.HEADER.FIELDS (to)", "To: t@example.com" NL NL },
		{ "2.HEADER.FIELDS.NOT (To Content-Type)", "From: in@example.com" NL NL },
		{ "3.1", "only" },
		{ "3.TEXT", "only" },
		{ "3.HEADER", "Subject: single" NL NL },
		{ "HEADER.FIELDS (Subject)", "Subject: s" NL NL },
		{ "4", "" },
		{ "1.TEXT", "" },
		{ "9.9.9", "" },
	};
	struct tern__mime *m;
	assert_int_equal(tern__mime_parse(msg, sizeof(msg) - 1, NULL, &m), 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *got = section(m, msg, t[i].spec);
		if (!got || strcmp(got, t[i].want) != 0)
			fail_msg("BODY[%s]: got \"%s\" want \"%s\"", t[i].spec, got ? got : "(error)", t[i].want);
		free(got);
	}
	char *whole = section(m, msg, "");
	assert_string_equal(whole, msg);
	free(whole);
	static const char *const bad[] = { "0", "1.", "1.X", "01", "HEADER.FIELDS ()", "MIME",
					   "HEADER.FIELDS", "1..2" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *got = section(m, msg, bad[i]);
		if (got)
			fail_msg("BODY[%s] accepted", bad[i]);
	}
	tern__mime_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure_table),
		cmocka_unit_test(test_addresses_broken),
		cmocka_unit_test(test_roundtrip_and_damage),
		cmocka_unit_test(test_limit_depth),
		cmocka_unit_test(test_limit_parts),
		cmocka_unit_test(test_limit_header_and_boundary),
		cmocka_unit_test(test_sections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
