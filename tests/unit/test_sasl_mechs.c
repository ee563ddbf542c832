/* PLAIN, LOGIN, CRAM-MD5, EXTERNAL, XOAUTH2 and OAUTHBEARER, server and
 * client, with exact bytes; then our client against our server for every
 * mechanism. Table cases are fed from exact-size heap copies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sasl/sasl.h"

#define S(x) x, sizeof(x) - 1

static int feed(struct tern__sasl_server *s, const char *in, size_t len, const void **out,
		size_t *out_len)
{
	char *p = malloc(len ? len : 1);
	int rc;

	assert_non_null(p);
	memcpy(p, in, len);
	rc = tern__sasl_server_step(s, p, len, true, out, out_len);
	free(p);
	return rc;
}

static void expect_out(const void *out, size_t len, const char *want, size_t want_len)
{
	if (len != want_len || memcmp(out, want, len) != 0)
		fail_msg("output \"%.*s\" (%zu), want \"%.*s\"", (int)len, (const char *)out, len,
			 (int)want_len, want);
}

static struct tern__sasl_server *srv(enum tern__sasl_mech m, const struct tern__sasl_server_params *p)
{
	struct tern__sasl_server *s;
	static const struct tern__sasl_server_params none = {0};

	assert_int_equal(tern__sasl_server_new(&s, m, p ? p : &none), 0);
	return s;
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(tern__sasl_mech_lookup(S("plain")), TERN__SASL_PLAIN);
	assert_int_equal(tern__sasl_mech_lookup(S("Scram-Sha-256-Plus")),
			 TERN__SASL_SCRAM_SHA_256_PLUS);
	assert_int_equal(tern__sasl_mech_lookup(S("SCRAM-SHA-256")), TERN__SASL_SCRAM_SHA_256);
	assert_int_equal(tern__sasl_mech_lookup(S("SCRAM-SHA-25")), -1);
	assert_int_equal(tern__sasl_mech_lookup(S("PLAINX")), -1);
	assert_int_equal(tern__sasl_mech_lookup("PLAIN", 4), -1);
	assert_int_equal(tern__sasl_mech_lookup(S("")), -1);
	assert_string_equal(tern__sasl_mech_name(TERN__SASL_CRAM_MD5), "CRAM-MD5");
	assert_null(tern__sasl_mech_name(TERN__SASL_MECH_COUNT));
	for (int i = 0; i < TERN__SASL_MECH_COUNT; i++) {
		const char *n = tern__sasl_mech_name(i);
		assert_int_equal(tern__sasl_mech_lookup(n, strlen(n)), i);
	}
	assert_false(tern__sasl_mech_client_first(TERN__SASL_CRAM_MD5));
	assert_true(tern__sasl_mech_client_first(TERN__SASL_LOGIN));
}

struct pcase {
	const char *in;
	size_t len;
	int rc;
	const char *authzid, *authcid, *password;
};

#define P(x) x, sizeof(x) - 1
static const struct pcase plain_cases[] = {
	{P("\0tim\0tanstaaftanstaaf"), TERN__SASL_CHECK, NULL, "tim", "tanstaaftanstaaf"},
	{P("admin\0tim\0pw"), TERN__SASL_CHECK, "admin", "tim", "pw"},
	{P("\0t\xc3\xa9\0p\xc3\xa9"), TERN__SASL_CHECK, NULL, "t\xc3\xa9", "p\xc3\xa9"},
	{P("\0tim\0pass word"), TERN__SASL_CHECK, NULL, "tim", "pass word"},
	{P(""), TERN__SASL_MALFORMED, NULL, NULL, NULL},
	{P("tim"), TERN__SASL_MALFORMED, NULL, NULL, NULL},
	{P("\0tim"), TERN__SASL_MALFORMED, NULL, NULL, NULL},
	{P("\0tim\0"), TERN__SASL_MALFORMED, NULL, NULL, NULL},
	{P("\0\0pw"), TERN__SASL_MALFORMED, NULL, NULL, NULL},
	{P("\0tim\0pw\0"), TERN__SASL_MALFORMED, NULL, NULL, NULL},
	{P("\0tim\0p\0w"), TERN__SASL_MALFORMED, NULL, NULL, NULL},
	{P("\0t\xff\0pw"), TERN__SASL_MALFORMED, NULL, NULL, NULL},
	{P("\0tim\0p\xc3"), TERN__SASL_MALFORMED, NULL, NULL, NULL},
	{P("\xc0\x80\0tim\0pw"), TERN__SASL_MALFORMED, NULL, NULL, NULL},
	{P("\0tim\0p\tw"), TERN__SASL_MALFORMED, NULL, NULL, NULL},
	{P("\0ti\x7fm\0pw"), TERN__SASL_MALFORMED, NULL, NULL, NULL},
	{P("\0tim\0p\xc2\x85"), TERN__SASL_MALFORMED, NULL, NULL, NULL},
};

static void test_plain_server(void **state)
{
	const void *out;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++) {
		const struct pcase *c = &plain_cases[i];
		struct tern__sasl_server *s = srv(TERN__SASL_PLAIN, NULL);
		int rc = feed(s, c->in, c->len, &out, &n);

		if (rc != c->rc)
			fail_msg("case %zu: %d want %d", i, rc, c->rc);
		if (rc == TERN__SASL_CHECK) {
			const struct tern__sasl_credentials *cr = tern__sasl_server_credentials(s);
			assert_int_equal(cr->mech, TERN__SASL_PLAIN);
			if (c->authzid)
				assert_string_equal(cr->authzid, c->authzid);
			else
				assert_null(cr->authzid);
			assert_string_equal(cr->authcid, c->authcid);
			assert_string_equal(cr->password, c->password);
			assert_null(cr->token);
			assert_int_equal(tern__sasl_server_checked(s, i % 2 == 0, &out, &n),
					 i % 2 == 0 ? TERN__SASL_SUCCESS : TERN__SASL_FAILURE);
			assert_int_equal(n, 0);
		} else {
			assert_null(tern__sasl_server_credentials(s));
		}
		assert_int_equal(tern__sasl_server_checked(s, true, &out, &n), TERN_ESTATE);
		tern__sasl_server_free(&s);
	}
	/* No initial response: an empty challenge, then the message. */
	struct tern__sasl_server *s = srv(TERN__SASL_PLAIN, NULL);
	assert_int_equal(tern__sasl_server_step(s, NULL, 0, false, &out, &n), TERN__SASL_CHALLENGE);
	assert_int_equal(n, 0);
	assert_int_equal(feed(s, S("\0a\0b"), &out, &n), TERN__SASL_CHECK);
	tern__sasl_server_free(&s);
	/* Over the limit: malformed, whatever it holds. */
	struct tern__sasl_server_params p = {.max_message = 8};
	s = srv(TERN__SASL_PLAIN, &p);
	assert_int_equal(feed(s, S("\0abc\0defg"), &out, &n), TERN__SASL_MALFORMED);
	tern__sasl_server_free(&s);
	s = srv(TERN__SASL_PLAIN, &p);
	assert_int_equal(feed(s, S("\0abc\0def"), &out, &n), TERN__SASL_CHECK);
	tern__sasl_server_free(&s);
	/* The default limit. */
	char *big = calloc(1, TERN__SASL_MAX_MESSAGE + 1);
	memcpy(big, "\0u\0", 3);
	memset(big + 3, 'x', TERN__SASL_MAX_MESSAGE - 2);
	s = srv(TERN__SASL_PLAIN, NULL);
	assert_int_equal(feed(s, big, TERN__SASL_MAX_MESSAGE + 1, &out, &n), TERN__SASL_MALFORMED);
	tern__sasl_server_free(&s);
	s = srv(TERN__SASL_PLAIN, NULL);
	assert_int_equal(feed(s, big, TERN__SASL_MAX_MESSAGE, &out, &n), TERN__SASL_CHECK);
	tern__sasl_server_free(&s);
	free(big);
}

static void test_plain_client(void **state)
{
	struct tern__sasl_client_params p = {.authcid = "tim", .authzid = "adm", .password = "pw"};
	struct tern__sasl_client *c;
	const void *out;
	size_t n;

	(void)state;
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_PLAIN, &p), 0);
	assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 1);
	expect_out(out, n, S("adm\0tim\0pw"));
	assert_true(tern__sasl_client_complete(c));
	assert_int_equal(tern__sasl_client_step(c, S(""), &out, &n), TERN__SASL_CLIENT_ERROR);
	tern__sasl_client_free(&c);
	p.authzid = NULL;
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_PLAIN, &p), 0);
	assert_int_equal(tern__sasl_client_step(c, S(""), &out, &n), TERN__SASL_CLIENT_RESPONSE);
	expect_out(out, n, S("\0tim\0pw"));
	tern__sasl_client_free(&c);
	p.password = NULL;
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_PLAIN, &p), TERN_EINVAL);
}

static void test_login(void **state)
{
	struct tern__sasl_server *s;
	const void *out;
	size_t n;

	(void)state;
	s = srv(TERN__SASL_LOGIN, NULL);
	assert_int_equal(tern__sasl_server_step(s, NULL, 0, false, &out, &n), TERN__SASL_CHALLENGE);
	expect_out(out, n, S("Username:"));
	assert_int_equal(feed(s, S("tim"), &out, &n), TERN__SASL_CHALLENGE);
	expect_out(out, n, S("Password:"));
	assert_int_equal(feed(s, S("secret"), &out, &n), TERN__SASL_CHECK);
	assert_string_equal(tern__sasl_server_credentials(s)->authcid, "tim");
	assert_string_equal(tern__sasl_server_credentials(s)->password, "secret");
	assert_int_equal(tern__sasl_server_checked(s, false, &out, &n), TERN__SASL_FAILURE);
	tern__sasl_server_free(&s);
	/* Initial response carries the user name (common practice). */
	s = srv(TERN__SASL_LOGIN, NULL);
	assert_int_equal(feed(s, S("tim"), &out, &n), TERN__SASL_CHALLENGE);
	expect_out(out, n, S("Password:"));
	assert_int_equal(feed(s, S("secret"), &out, &n), TERN__SASL_CHECK);
	assert_int_equal(tern__sasl_server_checked(s, true, &out, &n), TERN__SASL_SUCCESS);
	tern__sasl_server_free(&s);
	/* Empty user name: malformed; empty password: failure; NUL. */
	s = srv(TERN__SASL_LOGIN, NULL);
	assert_int_equal(tern__sasl_server_step(s, NULL, 0, false, &out, &n), TERN__SASL_CHALLENGE);
	assert_int_equal(feed(s, S(""), &out, &n), TERN__SASL_MALFORMED);
	tern__sasl_server_free(&s);
	s = srv(TERN__SASL_LOGIN, NULL);
	assert_int_equal(feed(s, S("tim"), &out, &n), TERN__SASL_CHALLENGE);
	assert_int_equal(feed(s, S(""), &out, &n), TERN__SASL_FAILURE);
	assert_null(tern__sasl_server_credentials(s));
	tern__sasl_server_free(&s);
	s = srv(TERN__SASL_LOGIN, NULL);
	assert_int_equal(feed(s, S("t\0m"), &out, &n), TERN__SASL_MALFORMED);
	tern__sasl_server_free(&s);
	s = srv(TERN__SASL_LOGIN, NULL);
	assert_int_equal(feed(s, S("tim"), &out, &n), TERN__SASL_CHALLENGE);
	assert_int_equal(feed(s, S("pw\r\n"), &out, &n), TERN__SASL_MALFORMED);
	tern__sasl_server_free(&s);

	struct tern__sasl_client_params p = {.authcid = "tim", .password = "secret"};
	struct tern__sasl_client *c;
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_LOGIN, &p), 0);
	assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 0);
	assert_int_equal(tern__sasl_client_step(c, S("Username:"), &out, &n),
			 TERN__SASL_CLIENT_RESPONSE);
	expect_out(out, n, S("tim"));
	assert_false(tern__sasl_client_complete(c));
	assert_int_equal(tern__sasl_client_step(c, S("Password:"), &out, &n),
			 TERN__SASL_CLIENT_RESPONSE);
	expect_out(out, n, S("secret"));
	assert_true(tern__sasl_client_complete(c));
	assert_int_equal(tern__sasl_client_step(c, S("More:"), &out, &n), TERN__SASL_CLIENT_ERROR);
	tern__sasl_client_free(&c);
}

static void test_cram_md5(void **state)
{
	static const char ch[] = "<1896.697170952@postoffice.reston.mci.net>";
	struct tern__sasl_server_params p = {.hostname = "postoffice.reston.mci.net",
					     .test_nonce = "1896.697170952"};
	struct tern__sasl_server *s;
	unsigned char secret[TERN_CRAM_MD5_SECRET_LEN];
	const struct tern__sasl_credentials *cr;
	const void *out;
	size_t n;

	(void)state;
	assert_int_equal(tern_cram_md5_secret(S("tanstaaftanstaaf"), secret), 0);
	s = srv(TERN__SASL_CRAM_MD5, &p);
	assert_int_equal(tern__sasl_server_step(s, NULL, 0, false, &out, &n), TERN__SASL_CHALLENGE);
	expect_out(out, n, S("<1896.697170952@postoffice.reston.mci.net>"));
	assert_int_equal(feed(s, S("tim b913a602c7eda7a495b4e6e7334d3890"), &out, &n),
			 TERN__SASL_CHECK);
	cr = tern__sasl_server_credentials(s);
	assert_string_equal(cr->authcid, "tim");
	assert_string_equal(cr->challenge, ch);
	assert_string_equal(cr->digest, "b913a602c7eda7a495b4e6e7334d3890");
	assert_int_equal(tern_cram_md5_verify(secret, cr->challenge, strlen(cr->challenge),
					      cr->digest, strlen(cr->digest)),
			 1);
	assert_int_equal(tern__sasl_server_checked(s, true, &out, &n), TERN__SASL_SUCCESS);
	tern__sasl_server_free(&s);

	/* Initial response: 501 (RFC 4954 4). */
	s = srv(TERN__SASL_CRAM_MD5, &p);
	assert_int_equal(feed(s, S("tim b913a602c7eda7a495b4e6e7334d3890"), &out, &n),
			 TERN__SASL_MALFORMED);
	tern__sasl_server_free(&s);
	static const char *const bad[] = {
		"", "tim", "b913a602c7eda7a495b4e6e7334d3890", " b913a602c7eda7a495b4e6e7334d3890",
		"tim b913a602c7eda7a495b4e6e7334d389", "tim b913a602c7eda7a495b4e6e7334d38900",
		"tim  913a602c7eda7a495b4e6e7334d3890", "tim b913a602c7eda7a495b4e6e7334d389g",
		"tim\tb913a602c7eda7a495b4e6e7334d3890", "t\x01m b913a602c7eda7a495b4e6e7334d3890",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = srv(TERN__SASL_CRAM_MD5, &p);
		assert_int_equal(tern__sasl_server_step(s, NULL, 0, false, &out, &n),
				 TERN__SASL_CHALLENGE);
		if (feed(s, bad[i], strlen(bad[i]), &out, &n) != TERN__SASL_MALFORMED)
			fail_msg("case %zu accepted", i);
		tern__sasl_server_free(&s);
	}
	/* A user name with a space; a wrong digest reaches the embedder, who
	 * says no. */
	s = srv(TERN__SASL_CRAM_MD5, &p);
	assert_int_equal(tern__sasl_server_step(s, NULL, 0, false, &out, &n), TERN__SASL_CHALLENGE);
	assert_int_equal(feed(s, S("t m B913A602C7EDA7A495B4E6E7334D3891"), &out, &n),
			 TERN__SASL_CHECK);
	cr = tern__sasl_server_credentials(s);
	assert_string_equal(cr->authcid, "t m");
	assert_int_equal(tern_cram_md5_verify(secret, cr->challenge, strlen(cr->challenge),
					      cr->digest, 32),
			 0);
	assert_int_equal(tern__sasl_server_checked(s, false, &out, &n), TERN__SASL_FAILURE);
	tern__sasl_server_free(&s);
	/* A random challenge is a msg-id of the configured host. */
	struct tern__sasl_server_params q = {.hostname = "mx.example"};
	s = srv(TERN__SASL_CRAM_MD5, &q);
	assert_int_equal(tern__sasl_server_step(s, NULL, 0, false, &out, &n), TERN__SASL_CHALLENGE);
	assert_int_equal(n, 1 + 32 + 1 + 10 + 1);
	assert_memory_equal((const char *)out + 33, "@mx.example>", 12);
	tern__sasl_server_free(&s);

	/* Client: the RFC 2195 response. */
	struct tern__sasl_client_params cp = {.authcid = "tim", .password = "tanstaaftanstaaf"};
	struct tern__sasl_client *c;
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_CRAM_MD5, &cp), 0);
	assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 0);
	assert_int_equal(tern__sasl_client_step(c, S(ch), &out, &n), TERN__SASL_CLIENT_RESPONSE);
	expect_out(out, n, S("tim b913a602c7eda7a495b4e6e7334d3890"));
	tern__sasl_client_free(&c);
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_CRAM_MD5, &cp), 0);
	assert_int_equal(tern__sasl_client_step(c, S("no brackets"), &out, &n),
			 TERN__SASL_CLIENT_ERROR);
	tern__sasl_client_free(&c);
	/* Bad params. */
	struct tern__sasl_server_params bp = {.hostname = "a>b"};
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_CRAM_MD5, &bp), TERN_EINVAL);
	assert_null(s);
}

static void test_external(void **state)
{
	struct tern__sasl_server_params p = {.external_identity = "CN=client.example"};
	struct tern__sasl_server *s;
	const void *out;
	size_t n;

	(void)state;
	s = srv(TERN__SASL_EXTERNAL, &p);
	assert_int_equal(feed(s, S(""), &out, &n), TERN__SASL_CHECK);
	assert_string_equal(tern__sasl_server_credentials(s)->identity, "CN=client.example");
	assert_null(tern__sasl_server_credentials(s)->authzid);
	assert_null(tern__sasl_server_credentials(s)->authcid);
	assert_int_equal(tern__sasl_server_checked(s, true, &out, &n), TERN__SASL_SUCCESS);
	tern__sasl_server_free(&s);
	s = srv(TERN__SASL_EXTERNAL, &p);
	assert_int_equal(tern__sasl_server_step(s, NULL, 0, false, &out, &n), TERN__SASL_CHALLENGE);
	assert_int_equal(n, 0);
	assert_int_equal(feed(s, S("postmaster"), &out, &n), TERN__SASL_CHECK);
	assert_string_equal(tern__sasl_server_credentials(s)->authzid, "postmaster");
	tern__sasl_server_free(&s);
	s = srv(TERN__SASL_EXTERNAL, &p);
	assert_int_equal(feed(s, S("a\0b"), &out, &n), TERN__SASL_MALFORMED);
	tern__sasl_server_free(&s);
	s = srv(TERN__SASL_EXTERNAL, &p);
	assert_int_equal(feed(s, S("\xfe"), &out, &n), TERN__SASL_MALFORMED);
	tern__sasl_server_free(&s);
	/* No certificate identity: failure. */
	s = srv(TERN__SASL_EXTERNAL, NULL);
	assert_int_equal(feed(s, S(""), &out, &n), TERN__SASL_FAILURE);
	tern__sasl_server_free(&s);

	struct tern__sasl_client_params cp = {.authzid = "postmaster"};
	struct tern__sasl_client *c;
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_EXTERNAL, &cp), 0);
	assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 1);
	expect_out(out, n, S("postmaster"));
	tern__sasl_client_free(&c);
}

static void test_xoauth2(void **state)
{
	static const char msg[] = "user=someuser@example.com\001auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001";
	struct tern__sasl_server *s;
	const void *out;
	size_t n;

	(void)state;
	s = srv(TERN__SASL_XOAUTH2, NULL);
	assert_int_equal(feed(s, S(msg), &out, &n), TERN__SASL_CHECK);
	assert_string_equal(tern__sasl_server_credentials(s)->authcid, "someuser@example.com");
	assert_string_equal(tern__sasl_server_credentials(s)->token,
			    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
	assert_int_equal(tern__sasl_server_checked(s, true, &out, &n), TERN__SASL_SUCCESS);
	tern__sasl_server_free(&s);
	/* Failure: JSON challenge, empty answer, failure. */
	s = srv(TERN__SASL_XOAUTH2, NULL);
	assert_int_equal(feed(s, S(msg), &out, &n), TERN__SASL_CHECK);
	assert_int_equal(tern__sasl_server_checked(s, false, &out, &n), TERN__SASL_CHALLENGE);
	expect_out(out, n, S("{\"status\":\"401\",\"schemes\":\"bearer\"}"));
	assert_int_equal(feed(s, S(""), &out, &n), TERN__SASL_FAILURE);
	tern__sasl_server_free(&s);
	/* The embedder's own JSON. */
	struct tern__sasl_server_params p = {.oauth_error_json = "{\"status\":\"400\"}"};
	s = srv(TERN__SASL_XOAUTH2, &p);
	assert_int_equal(feed(s, S(msg), &out, &n), TERN__SASL_CHECK);
	assert_int_equal(tern__sasl_server_checked(s, false, &out, &n), TERN__SASL_CHALLENGE);
	expect_out(out, n, S("{\"status\":\"400\"}"));
	tern__sasl_server_free(&s);
	static const char *const bad[] = {
		"", "user=a\001auth=Bearer t\001", "user=a\001auth=Bearer t\001\001\001",
		"user=\001auth=Bearer t\001\001", "User=a\001auth=Bearer t\001\001",
		"user=a\001auth=Basic t\001\001", "user=a\001auth=Bearer\001\001",
		"user=a\001auth=Bearer t t\001\001", "user=a\001auth=Bearer t=x\001\001",
		"user=a\001auth=Bearert\001\001", "user=a\001\001", "user=a",
		"user=\xff\001auth=Bearer t\001\001",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = srv(TERN__SASL_XOAUTH2, NULL);
		if (feed(s, bad[i], strlen(bad[i]), &out, &n) != TERN__SASL_MALFORMED)
			fail_msg("case %zu accepted", i);
		tern__sasl_server_free(&s);
	}
	s = srv(TERN__SASL_XOAUTH2, NULL);
	assert_int_equal(feed(s, "user=a\0\001auth=Bearer t\001\001", 22, &out, &n),
			 TERN__SASL_MALFORMED);
	tern__sasl_server_free(&s);

	struct tern__sasl_client_params cp = {.authcid = "someuser@example.com",
					      .token = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"};
	struct tern__sasl_client *c;
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_XOAUTH2, &cp), 0);
	assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 1);
	expect_out(out, n, S(msg));
	assert_int_equal(tern__sasl_client_step(c, S("{\"status\":\"401\"}"), &out, &n),
			 TERN__SASL_CLIENT_RESPONSE);
	assert_int_equal(n, 0);
	assert_false(tern__sasl_client_complete(c));
	assert_int_equal(tern__sasl_client_step(c, S("{}"), &out, &n), TERN__SASL_CLIENT_ERROR);
	tern__sasl_client_free(&c);
}

static void test_oauthbearer(void **state)
{
	/* RFC 7628 4.1 example, port 143. */
	static const char msg[] = "n,a=user@example.com,\001host=server.example.com\001port=143\001"
				  "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\001\001";
	struct tern__sasl_server *s;
	const struct tern__sasl_credentials *cr;
	const void *out;
	size_t n;

	(void)state;
	s = srv(TERN__SASL_OAUTHBEARER, NULL);
	assert_int_equal(feed(s, S(msg), &out, &n), TERN__SASL_CHECK);
	cr = tern__sasl_server_credentials(s);
	assert_string_equal(cr->authzid, "user@example.com");
	assert_null(cr->authcid);
	assert_string_equal(cr->host, "server.example.com");
	assert_string_equal(cr->port, "143");
	assert_string_equal(cr->token, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
	assert_int_equal(tern__sasl_server_checked(s, false, &out, &n), TERN__SASL_CHALLENGE);
	expect_out(out, n, S("{\"status\":\"invalid_token\"}"));
	assert_int_equal(feed(s, S("\001"), &out, &n), TERN__SASL_FAILURE);
	tern__sasl_server_free(&s);
	s = srv(TERN__SASL_OAUTHBEARER, NULL);
	assert_int_equal(feed(s, S("n,,\001auth=bearer  abc\001\001"), &out, &n), TERN__SASL_CHECK);
	assert_null(tern__sasl_server_credentials(s)->authzid);
	assert_null(tern__sasl_server_credentials(s)->host);
	assert_string_equal(tern__sasl_server_credentials(s)->token, "abc");
	assert_int_equal(tern__sasl_server_checked(s, true, &out, &n), TERN__SASL_SUCCESS);
	tern__sasl_server_free(&s);
	s = srv(TERN__SASL_OAUTHBEARER, NULL);
	assert_int_equal(feed(s, S("y,,\001xtra=1 2\001auth=Bearer abc\001\001"), &out, &n),
			 TERN__SASL_CHECK);
	tern__sasl_server_free(&s);
	static const char *const bad[] = {
		"", "\001", "n,,", "n,,\001\001", "n,,\001auth=Bearer abc\001",
		"n,,\001auth=Bearer abc\001\001x", "p=tls-exporter,,\001auth=Bearer abc\001\001",
		"n,,\001auth=Bearer abc\001auth=Bearer abc\001\001", "n,,\001port=x\001auth=Bearer a\001\001",
		"n,,\001host=\001auth=Bearer a\001\001", "n,,\001a1=b\001auth=Bearer a\001\001",
		"n,,\001=b\001auth=Bearer a\001\001", "n,,\001auth=Bearer a\x7f\001\001",
		"n,,\001auth\001\001", "n,a=x=2,\001auth=Bearer a\001\001", "n,,auth=Bearer a\001\001",
		"n,,\001host=h\x80\001auth=Bearer a\001\001",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = srv(TERN__SASL_OAUTHBEARER, NULL);
		if (feed(s, bad[i], strlen(bad[i]), &out, &n) != TERN__SASL_MALFORMED)
			fail_msg("case %zu accepted: %s", i, bad[i]);
		tern__sasl_server_free(&s);
	}

	struct tern__sasl_client_params cp = {.authzid = "user@example.com",
					      .host = "server.example.com", .port = 143,
					      .token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="};
	struct tern__sasl_client *c;
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_OAUTHBEARER, &cp), 0);
	assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 1);
	expect_out(out, n, S(msg));
	assert_int_equal(tern__sasl_client_step(c, S("{\"status\":\"invalid_token\"}"), &out, &n),
			 TERN__SASL_CLIENT_RESPONSE);
	expect_out(out, n, S("\001"));
	assert_false(tern__sasl_client_complete(c));
	tern__sasl_client_free(&c);
}

/* Our client against our server, every mechanism, good and bad secret. */
static int run_pair(enum tern__sasl_mech m, bool good, bool use_initial)
{
	static const unsigned char salt[] = "NaCl-NaCl-NaCl";
	static const unsigned char exp[32] = {7, 7, 7};
	struct tern__sasl_cbinding cb = {exp, sizeof(exp), NULL, 0};
	struct tern__sasl_server_params sp = {.hostname = "mx.example", .cb = cb,
					      .plus_offered = m == TERN__SASL_SCRAM_SHA_256_PLUS,
					      .external_identity = "CN=c"};
	struct tern__sasl_client_params cp = {.authcid = "u\xc3\xa9r", .authzid = NULL,
					      .password = good ? "p\xc3\xa4ss word" : "wrong",
					      .token = good ? "tok" : "bad", .host = "mx.example",
					      .port = 587};
	struct tern__sasl_server *s;
	struct tern__sasl_client *c;
	const void *out, *cout;
	size_t n, cn;
	int rc, crc;

	if (m == TERN__SASL_SCRAM_SHA_256_PLUS)
		cp.cb = cb;
	assert_int_equal(tern__sasl_server_new(&s, m, &sp), 0);
	assert_int_equal(tern__sasl_client_new(&c, m, &cp), 0);
	crc = use_initial ? tern__sasl_client_initial_response(c, &cout, &cn) : 0;
	assert_true(crc == 0 || crc == 1);
	rc = crc == 1 ? feed(s, cout, cn, &out, &n)
		      : tern__sasl_server_step(s, NULL, 0, false, &out, &n);
	for (int guard = 0; guard < 10; guard++) {
		if (rc == TERN__SASL_CHECK) {
			const struct tern__sasl_credentials *cr = tern__sasl_server_credentials(s);
			bool ok;
			switch (m) {
			case TERN__SASL_CRAM_MD5: {
				unsigned char sec[TERN_CRAM_MD5_SECRET_LEN];
				tern_cram_md5_secret(S("p\xc3\xa4ss word"), sec);
				ok = tern_cram_md5_verify(sec, cr->challenge, strlen(cr->challenge),
							  cr->digest, 32) == 1;
				break;
			}
			case TERN__SASL_SCRAM_SHA_256:
			case TERN__SASL_SCRAM_SHA_256_PLUS: {
				struct tern__sasl_scram_keys k = {salt, sizeof(salt) - 1, 4096, {0}, {0}};
				assert_string_equal(cr->authcid, "u\xc3\xa9r");
				tern_scram_sha256_keys(S("p\xc3\xa4ss word"), salt, sizeof(salt) - 1,
						       4096, k.stored_key, k.server_key);
				rc = tern__sasl_server_set_scram_keys(s, &k, &out, &n);
				continue;
			}
			case TERN__SASL_XOAUTH2:
			case TERN__SASL_OAUTHBEARER:
				ok = strcmp(cr->token, "tok") == 0;
				break;
			case TERN__SASL_EXTERNAL:
				ok = good;
				break;
			default:
				assert_string_equal(cr->authcid, "u\xc3\xa9r");
				ok = strcmp(cr->password, "p\xc3\xa4ss word") == 0;
			}
			rc = tern__sasl_server_checked(s, ok, &out, &n);
			continue;
		}
		if (rc == TERN__SASL_SUCCESS && n > 0) {
			/* Final data: the client checks it and answers empty. */
			crc = tern__sasl_client_step(c, out, n, &cout, &cn);
			assert_int_equal(crc, TERN__SASL_CLIENT_RESPONSE);
			assert_int_equal(cn, 0);
		}
		if (rc != TERN__SASL_CHALLENGE)
			break;
		crc = tern__sasl_client_step(c, out, n, &cout, &cn);
		assert_int_equal(crc, TERN__SASL_CLIENT_RESPONSE);
		rc = feed(s, cout, cn, &out, &n);
	}
	if (rc == TERN__SASL_SUCCESS)
		assert_true(tern__sasl_client_complete(c));
	tern__sasl_client_free(&c);
	tern__sasl_server_free(&s);
	return rc;
}

static void test_client_against_server(void **state)
{
	(void)state;
	for (int m = 0; m < TERN__SASL_MECH_COUNT; m++) {
		for (int ir = 0; ir < 2; ir++) {
			int rc = run_pair(m, true, ir);
			if (rc != TERN__SASL_SUCCESS)
				fail_msg("%s (initial %d): %d", tern__sasl_mech_name(m), ir, rc);
			rc = run_pair(m, false, ir);
			if (rc != TERN__SASL_FAILURE)
				fail_msg("%s bad secret (initial %d): %d", tern__sasl_mech_name(m), ir,
					 rc);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_plain_server),
		cmocka_unit_test(test_plain_client),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_cram_md5),
		cmocka_unit_test(test_external),
		cmocka_unit_test(test_xoauth2),
		cmocka_unit_test(test_oauthbearer),
		cmocka_unit_test(test_client_against_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
