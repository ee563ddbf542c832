/* SCRAM-SHA-256 and -PLUS, both sides: the RFC 7677 section 3 exchange
 * byte for byte, channel binding with both types, the "y" downgrade, the
 * unknown user, wrong proofs and a malformed-message table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sasl/sasl.h"
#include "util/base64.h"

#define S(x) x, sizeof(x) - 1

static const char c_first[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
static const char s_first[] = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			      "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
static const char c_final[] = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
static const char s_final[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
static const char s_nonce[] = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
static const unsigned char salt[] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
				     0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};

static struct tern__sasl_scram_keys pencil_keys(void)
{
	struct tern__sasl_scram_keys k = {salt, sizeof(salt), 4096, {0}, {0}};

	assert_int_equal(tern_scram_sha256_keys("pencil", 6, salt, sizeof(salt), 4096,
						k.stored_key, k.server_key),
			 0);
	return k;
}

/* Feeds a heap copy of exactly len octets, so an over-read shows. */
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

static void expect_out(const void *out, size_t len, const char *want)
{
	if (len != strlen(want) || memcmp(out, want, len) != 0)
		fail_msg("output \"%.*s\", want \"%s\"", (int)len, (const char *)out, want);
}

static void test_rfc7677_server(void **state)
{
	struct tern__sasl_server_params p = {.test_nonce = s_nonce};
	struct tern__sasl_server *s;
	struct tern__sasl_scram_keys k = pencil_keys();
	const struct tern__sasl_credentials *cr;
	const void *out;
	size_t n;

	(void)state;
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256, &p), 0);
	assert_int_equal(feed(s, S(c_first), &out, &n), TERN__SASL_CHECK);
	cr = tern__sasl_server_credentials(s);
	assert_non_null(cr);
	assert_string_equal(cr->authcid, "user");
	assert_null(cr->authzid);
	assert_int_equal(cr->cb_flag, 'n');
	assert_int_equal(tern__sasl_server_set_scram_keys(s, &k, &out, &n), TERN__SASL_CHALLENGE);
	expect_out(out, n, s_first);
	assert_int_equal(feed(s, S(c_final), &out, &n), TERN__SASL_SUCCESS);
	expect_out(out, n, s_final);
	assert_non_null(tern__sasl_server_credentials(s));
	assert_int_equal(feed(s, S(""), &out, &n), TERN_ESTATE);
	tern__sasl_server_free(&s);
	assert_null(s);
}

static void test_rfc7677_client(void **state)
{
	struct tern__sasl_client_params p = {
		.authcid = "user", .password = "pencil", .test_nonce = "rOprNGfwEbeRWgbNEkqO"};
	struct tern__sasl_client *c;
	const void *out;
	size_t n;

	(void)state;
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_SCRAM_SHA_256, &p), 0);
	assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 1);
	expect_out(out, n, c_first);
	assert_int_equal(tern__sasl_client_step(c, S(s_first), &out, &n),
			 TERN__SASL_CLIENT_RESPONSE);
	expect_out(out, n, c_final);
	assert_false(tern__sasl_client_complete(c));
	assert_int_equal(tern__sasl_client_step(c, S(s_final), &out, &n),
			 TERN__SASL_CLIENT_RESPONSE);
	assert_int_equal(n, 0);
	assert_true(tern__sasl_client_complete(c));
	tern__sasl_client_free(&c);
	assert_null(c);
}

/* A server signature that is off by one bit, or an e=, is refused. */
static void test_client_rejects_bad_server(void **state)
{
	static const char *const finals[] = {
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=",
		"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		"e=invalid-proof",
		"",
		"v=",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",
	};
	static const char *const firsts[] = {
		"r=XXprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", /* not our nonce */
		"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",    /* no server part */
		"r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096",
		"r=rOprNGfwEbeRWgbNEkqOx,s=W22Z aJ0SNY7soEsUEjb6gQ==,i=4096",
		"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
		"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
		"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=2000000",
		"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==",
		"m=x,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"e=other-error",
	};
	struct tern__sasl_client_params p = {
		.authcid = "user", .password = "pencil", .test_nonce = "rOprNGfwEbeRWgbNEkqO"};
	struct tern__sasl_client *c;
	const void *out;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
		assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_SCRAM_SHA_256, &p), 0);
		assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 1);
		assert_int_equal(tern__sasl_client_step(c, S(s_first), &out, &n),
				 TERN__SASL_CLIENT_RESPONSE);
		assert_int_equal(tern__sasl_client_step(c, finals[i], strlen(finals[i]), &out, &n),
				 TERN__SASL_CLIENT_ERROR);
		assert_false(tern__sasl_client_complete(c));
		assert_int_equal(tern__sasl_client_step(c, S(s_final), &out, &n), TERN_ESTATE);
		tern__sasl_client_free(&c);
	}
	for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++) {
		assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_SCRAM_SHA_256, &p), 0);
		assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 1);
		if (tern__sasl_client_step(c, firsts[i], strlen(firsts[i]), &out, &n) !=
		    TERN__SASL_CLIENT_ERROR)
			fail_msg("server-first %zu accepted: %s", i, firsts[i]);
		tern__sasl_client_free(&c);
	}
}

static struct tern__sasl_server *server_at_final(const struct tern__sasl_server_params *p,
						 enum tern__sasl_mech mech, const char *first)
{
	struct tern__sasl_server *s;
	struct tern__sasl_scram_keys k = pencil_keys();
	const void *out;
	size_t n;

	assert_int_equal(tern__sasl_server_new(&s, mech, p), 0);
	assert_int_equal(feed(s, first, strlen(first), &out, &n), TERN__SASL_CHECK);
	assert_int_equal(tern__sasl_server_set_scram_keys(s, &k, &out, &n), TERN__SASL_CHALLENGE);
	return s;
}

static void test_wrong_proof(void **state)
{
	struct tern__sasl_server_params p = {.test_nonce = s_nonce};
	struct tern__sasl_server *s;
	const void *out;
	size_t n;
	char bad[sizeof(c_final)];

	(void)state;
	/* Every octet of the proof's base64 changed in turn. */
	size_t proof_at = strlen(c_final) - 44;
	for (size_t i = proof_at; i < strlen(c_final) - 2; i++) {
		memcpy(bad, c_final, sizeof(c_final));
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		s = server_at_final(&p, TERN__SASL_SCRAM_SHA_256, c_first);
		int rc = feed(s, bad, strlen(bad), &out, &n);
		/* A change in the last character before "=" may break the
		 * trailing bits (malformed); anything else is a wrong proof. */
		if (rc == TERN__SASL_FAILURE)
			expect_out(out, n, "e=invalid-proof");
		else
			assert_int_equal(rc, TERN__SASL_MALFORMED);
		assert_null(tern__sasl_server_credentials(s));
		tern__sasl_server_free(&s);
	}
	/* Nonce changed, cbind changed. */
	s = server_at_final(&p, TERN__SASL_SCRAM_SHA_256, c_first);
	memcpy(bad, c_final, sizeof(c_final));
	bad[12] = 'X';
	assert_int_equal(feed(s, bad, strlen(bad), &out, &n), TERN__SASL_FAILURE);
	expect_out(out, n, "e=other-error");
	tern__sasl_server_free(&s);
	s = server_at_final(&p, TERN__SASL_SCRAM_SHA_256, c_first);
	memcpy(bad, c_final, sizeof(c_final));
	memcpy(bad, "c=eSws", 6); /* "y,," */
	assert_int_equal(feed(s, bad, strlen(bad), &out, &n), TERN__SASL_FAILURE);
	expect_out(out, n, "e=channel-bindings-dont-match");
	tern__sasl_server_free(&s);
}

/* The unknown user: a well-formed server-first, a salt that is the same
 * for the same name under one server key (and differs between names), and
 * a failure at the proof, even for the proof a real "pencil" would give. */
static void test_unknown_user(void **state)
{
	static const unsigned char key[] = "per-server secret";
	struct tern__sasl_server_params p = {.test_nonce = s_nonce,
					     .scram_fake_key = key,
					     .scram_fake_key_len = sizeof(key) - 1,
					     .scram_fake_iterations = 8192};
	struct tern__sasl_server *s;
	const void *out;
	size_t n;
	char first1[256], first2[256];

	(void)state;
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256, &p), 0);
	assert_int_equal(feed(s, S(c_first), &out, &n), TERN__SASL_CHECK);
	assert_int_equal(tern__sasl_server_unknown_user(s, &out, &n), TERN__SASL_CHALLENGE);
	assert_true(n < sizeof(first1));
	memcpy(first1, out, n);
	first1[n] = '\0';
	/* r=<nonce>,s=<24 base64 chars of 16 octets>,i=8192 */
	assert_memory_equal(first1, s_first, strlen("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s="));
	assert_int_equal(n, strlen(s_first) - strlen("4096") + strlen("8192"));
	assert_string_equal(first1 + n - 7, ",i=8192");
	assert_int_equal(feed(s, S(c_final), &out, &n), TERN__SASL_FAILURE);
	expect_out(out, n, "e=invalid-proof");
	tern__sasl_server_free(&s);

	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256, &p), 0);
	assert_int_equal(feed(s, S(c_first), &out, &n), TERN__SASL_CHECK);
	assert_int_equal(tern__sasl_server_unknown_user(s, &out, &n), TERN__SASL_CHALLENGE);
	memcpy(first2, out, n);
	first2[n] = '\0';
	assert_string_equal(first1, first2);
	tern__sasl_server_free(&s);

	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256, &p), 0);
	assert_int_equal(feed(s, S("n,,n=other,r=rOprNGfwEbeRWgbNEkqO"), &out, &n),
			 TERN__SASL_CHECK);
	assert_int_equal(tern__sasl_server_unknown_user(s, &out, &n), TERN__SASL_CHALLENGE);
	assert_true(n == strlen(first1) && memcmp(out, first1, n) != 0);
	tern__sasl_server_free(&s);
}

/* Username and authzid escaping, both directions. */
static void test_escaping(void **state)
{
	struct tern__sasl_server_params sp = {.test_nonce = s_nonce};
	struct tern__sasl_client_params cp = {.authcid = "a,b=c", .authzid = "x=y,z",
					      .password = "pencil", .test_nonce = "abc"};
	struct tern__sasl_server *s;
	struct tern__sasl_client *c;
	const void *out;
	size_t n;

	(void)state;
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_SCRAM_SHA_256, &cp), 0);
	assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 1);
	expect_out(out, n, "n,a=x=3Dy=2Cz,n=a=2Cb=3Dc,r=abc");
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256, &sp), 0);
	assert_int_equal(feed(s, out, n, &out, &n), TERN__SASL_CHECK);
	assert_string_equal(tern__sasl_server_credentials(s)->authcid, "a,b=c");
	assert_string_equal(tern__sasl_server_credentials(s)->authzid, "x=y,z");
	tern__sasl_server_free(&s);
	tern__sasl_client_free(&c);
}

struct mcase {
	const char *in;
	int rc;
	const char *out; /* for FAILURE */
};

static const struct mcase first_cases[] = {
	{"", TERN__SASL_MALFORMED, NULL},
	{"n", TERN__SASL_MALFORMED, NULL},
	{"n,", TERN__SASL_MALFORMED, NULL},
	{"n,,", TERN__SASL_MALFORMED, NULL},
	{"x,,n=user,r=abc", TERN__SASL_MALFORMED, NULL},
	{"n,,r=abc,n=user", TERN__SASL_MALFORMED, NULL},
	{"n,,n=user", TERN__SASL_MALFORMED, NULL},
	{"n,,n=user,r=", TERN__SASL_MALFORMED, NULL},
	{"n,,n=,r=abc", TERN__SASL_MALFORMED, NULL},
	{"n,,n=us=er,r=abc", TERN__SASL_MALFORMED, NULL},
	{"n,,n=us=2c,r=abc", TERN__SASL_MALFORMED, NULL},
	{"n,,n=us=2,r=abc", TERN__SASL_MALFORMED, NULL},
	{"n,,n=user,r=a c", TERN__SASL_MALFORMED, NULL},
	{"n,,n=user,r=abc,", TERN__SASL_MALFORMED, NULL},
	{"n,,n=user,r=abc,1=x", TERN__SASL_MALFORMED, NULL},
	{"n,,n=user,r=abc,x=", TERN__SASL_MALFORMED, NULL},
	{"n,,n=u\xc3(,r=abc", TERN__SASL_MALFORMED, NULL},
	{"n,,n=u\x01,r=abc", TERN__SASL_MALFORMED, NULL},
	{"n,a=,n=user,r=abc", TERN__SASL_MALFORMED, NULL},
	{"n,b=x,n=user,r=abc", TERN__SASL_MALFORMED, NULL},
	{"p,,n=user,r=abc", TERN__SASL_MALFORMED, NULL},
	{"p=,,n=user,r=abc", TERN__SASL_MALFORMED, NULL},
	{"n,,m=x,n=user,r=abc", TERN__SASL_FAILURE, "e=extensions-not-supported"},
	{"p=tls-exporter,,n=user,r=abc", TERN__SASL_FAILURE, "e=channel-binding-not-supported"},
	{"n,,n=user,r=abc,x=1", TERN__SASL_CHECK, NULL},
	{"y,,n=user,r=abc", TERN__SASL_CHECK, NULL},
};

static void test_first_table(void **state)
{
	struct tern__sasl_server_params p = {0};
	struct tern__sasl_server *s;
	const void *out;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(first_cases) / sizeof(first_cases[0]); i++) {
		const struct mcase *m = &first_cases[i];

		assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256, &p), 0);
		int rc = feed(s, m->in, strlen(m->in), &out, &n);
		if (rc != m->rc)
			fail_msg("case %zu \"%s\": %d, want %d", i, m->in, rc, m->rc);
		if (m->out)
			expect_out(out, n, m->out);
		tern__sasl_server_free(&s);
	}
	/* An embedded NUL. */
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256, &p), 0);
	assert_int_equal(feed(s, "n,,n=us\0r,r=abc", 15, &out, &n), TERN__SASL_MALFORMED);
	tern__sasl_server_free(&s);
}

static const char *const final_cases[] = {
	"",
	"c=biws",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzb",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=y",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,1=2,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9yt g9zjfMHgsqmmiz7AndVQ=",
};

static void test_final_table(void **state)
{
	struct tern__sasl_server_params p = {.test_nonce = s_nonce};
	struct tern__sasl_server *s;
	const void *out;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(final_cases) / sizeof(final_cases[0]); i++) {
		s = server_at_final(&p, TERN__SASL_SCRAM_SHA_256, c_first);
		int rc = feed(s, final_cases[i], strlen(final_cases[i]), &out, &n);
		if (rc != TERN__SASL_MALFORMED)
			fail_msg("case %zu: %d", i, rc);
		assert_int_equal(n, 0);
		tern__sasl_server_free(&s);
	}
	/* An extension before the proof is allowed (and signed). */
	s = server_at_final(&p, TERN__SASL_SCRAM_SHA_256, c_first);
	assert_int_equal(feed(s, S("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,x=1,"
				  "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
			      &out, &n),
			 TERN__SASL_FAILURE);
	expect_out(out, n, "e=invalid-proof");
	tern__sasl_server_free(&s);
}

/* RFC 5802 6: "y" while the server offers -PLUS is a downgrade. */
static void test_downgrade(void **state)
{
	static const unsigned char exp[32] = {1, 2, 3};
	struct tern__sasl_server_params p = {.cb = {exp, sizeof(exp), NULL, 0}, .plus_offered = true};
	struct tern__sasl_client_params cp = {.authcid = "user", .password = "pencil",
					      .cb = {exp, sizeof(exp), NULL, 0}};
	struct tern__sasl_server *s;
	struct tern__sasl_client *c;
	const void *out;
	size_t n;

	(void)state;
	/* Our client, having binding data but told to use plain SCRAM,
	 * sends "y". */
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_SCRAM_SHA_256, &cp), 0);
	assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 1);
	assert_memory_equal(out, "y,,n=user,r=", 12);
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256, &p), 0);
	assert_int_equal(feed(s, out, n, &out, &n), TERN__SASL_FAILURE);
	expect_out(out, n, "e=server-does-support-channel-binding");
	tern__sasl_server_free(&s);
	tern__sasl_client_free(&c);
	/* Without -PLUS offered, "y" is fine. */
	p.plus_offered = false;
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256, &p), 0);
	assert_int_equal(feed(s, S("y,,n=user,r=abc"), &out, &n), TERN__SASL_CHECK);
	assert_int_equal(tern__sasl_server_credentials(s)->cb_flag, 'y');
	tern__sasl_server_free(&s);
	/* -PLUS with "n" or "y" contradicts itself. */
	p.plus_offered = true;
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256_PLUS, &p), 0);
	assert_int_equal(feed(s, S("n,,n=user,r=abc"), &out, &n), TERN__SASL_FAILURE);
	tern__sasl_server_free(&s);
}

static void run_plus(enum tern__sasl_cb_type type, const char *cbname)
{
	static const unsigned char exp[32] = {0xaa, 0xbb, 0xcc, 31};
	static const unsigned char sep[32] = {0x11, 0x22, 0x33, 32};
	struct tern__sasl_cbinding cb = {exp, sizeof(exp), sep, sizeof(sep)};
	struct tern__sasl_server_params p = {.cb = cb, .plus_offered = true};
	struct tern__sasl_client_params cp = {.authcid = "user", .password = "pencil", .cb = cb,
					      .cb_type = type, .test_nonce = "cn"};
	struct tern__sasl_server *s;
	struct tern__sasl_client *c;
	struct tern__sasl_scram_keys k = pencil_keys();
	const void *out;
	size_t n;
	char want[64], cbind[128];
	unsigned char raw[64];

	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_SCRAM_SHA_256_PLUS, &cp), 0);
	assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 1);
	snprintf(want, sizeof(want), "p=%s,,n=user,r=cn", cbname);
	expect_out(out, n, want);
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256_PLUS, &p), 0);
	assert_int_equal(feed(s, out, n, &out, &n), TERN__SASL_CHECK);
	assert_int_equal(tern__sasl_server_credentials(s)->cb_flag, 'p');
	assert_int_equal(tern__sasl_server_set_scram_keys(s, &k, &out, &n), TERN__SASL_CHALLENGE);
	assert_int_equal(tern__sasl_client_step(c, out, n, &out, &n), TERN__SASL_CLIENT_RESPONSE);
	/* c= carries the GS2 header and the chosen type's data, exactly. */
	size_t gl = strlen(want) - strlen("n=user,r=cn");
	memcpy(raw, want, gl);
	memcpy(raw + gl, type == TERN__SASL_CB_TLS_EXPORTER ? exp : sep, 32);
	assert_true(tern__base64_encode(raw, gl + 32, cbind + 2, sizeof(cbind) - 2) > 0);
	memcpy(cbind, "c=", 2);
	assert_memory_equal(out, cbind, strlen(cbind));
	assert_int_equal(feed(s, out, n, &out, &n), TERN__SASL_SUCCESS);
	assert_int_equal(tern__sasl_client_step(c, out, n, &out, &n), TERN__SASL_CLIENT_RESPONSE);
	assert_true(tern__sasl_client_complete(c));
	tern__sasl_server_free(&s);
	tern__sasl_client_free(&c);

	/* The same client against a server whose binding differs (a MITM
	 * terminating TLS): channel-bindings-dont-match. */
	static const unsigned char other[32] = {9};
	struct tern__sasl_server_params q = {.cb = {other, 32, other, 32}, .plus_offered = true};
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_SCRAM_SHA_256_PLUS, &cp), 0);
	assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), 1);
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256_PLUS, &q), 0);
	assert_int_equal(feed(s, out, n, &out, &n), TERN__SASL_CHECK);
	assert_int_equal(tern__sasl_server_set_scram_keys(s, &k, &out, &n), TERN__SASL_CHALLENGE);
	assert_int_equal(tern__sasl_client_step(c, out, n, &out, &n), TERN__SASL_CLIENT_RESPONSE);
	assert_int_equal(feed(s, out, n, &out, &n), TERN__SASL_FAILURE);
	expect_out(out, n, "e=channel-bindings-dont-match");
	tern__sasl_server_free(&s);
	tern__sasl_client_free(&c);
}

static void test_plus_exporter(void **state)
{
	(void)state;
	run_plus(TERN__SASL_CB_TLS_EXPORTER, "tls-exporter");
}

static void test_plus_end_point(void **state)
{
	(void)state;
	run_plus(TERN__SASL_CB_TLS_SERVER_END_POINT, "tls-server-end-point");
}

static void test_plus_unsupported_type(void **state)
{
	static const unsigned char exp[32] = {1};
	struct tern__sasl_server_params p = {.cb = {exp, 32, NULL, 0}, .plus_offered = true};
	struct tern__sasl_server *s;
	const void *out;
	size_t n;

	(void)state;
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256_PLUS, &p), 0);
	assert_int_equal(feed(s, S("p=tls-server-end-point,,n=user,r=abc"), &out, &n),
			 TERN__SASL_FAILURE);
	expect_out(out, n, "e=unsupported-channel-binding-type");
	tern__sasl_server_free(&s);
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256_PLUS, &p), 0);
	assert_int_equal(feed(s, S("p=tls-unique,,n=user,r=abc"), &out, &n), TERN__SASL_FAILURE);
	tern__sasl_server_free(&s);
	/* A client cannot pick -PLUS without the binding. */
	struct tern__sasl_client *c;
	struct tern__sasl_client_params cp = {.authcid = "u", .password = "p",
					      .cb = {exp, 32, NULL, 0},
					      .cb_type = TERN__SASL_CB_TLS_SERVER_END_POINT};
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_SCRAM_SHA_256_PLUS, &cp), TERN_EINVAL);
	assert_null(c);
}

/* No initial response: an empty challenge first; over-long messages and
 * calls out of order. */
static void test_flow(void **state)
{
	struct tern__sasl_server_params p = {.test_nonce = s_nonce, .max_message = 40};
	struct tern__sasl_server *s;
	struct tern__sasl_scram_keys k = pencil_keys();
	const void *out;
	size_t n;

	(void)state;
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256, &p), 0);
	assert_int_equal(tern__sasl_server_set_scram_keys(s, &k, &out, &n), TERN_ESTATE);
	assert_int_equal(tern__sasl_server_step(s, NULL, 0, false, &out, &n), TERN__SASL_CHALLENGE);
	assert_int_equal(n, 0);
	assert_int_equal(tern__sasl_server_step(s, NULL, 0, false, &out, &n), TERN_EINVAL);
	assert_int_equal(feed(s, S(c_first), &out, &n), TERN__SASL_CHECK);
	assert_int_equal(feed(s, S(c_first), &out, &n), TERN_ESTATE);
	assert_int_equal(tern__sasl_server_set_scram_keys(s, &k, &out, &n), TERN__SASL_CHALLENGE);
	/* c_final is longer than 40 octets. */
	assert_int_equal(feed(s, S(c_final), &out, &n), TERN__SASL_MALFORMED);
	tern__sasl_server_free(&s);
	/* checked(false) at the check refuses at once. */
	assert_int_equal(tern__sasl_server_new(&s, TERN__SASL_SCRAM_SHA_256, &p), 0);
	assert_int_equal(feed(s, S(c_first), &out, &n), TERN__SASL_CHECK);
	assert_int_equal(tern__sasl_server_checked(s, false, &out, &n), TERN__SASL_FAILURE);
	expect_out(out, n, "e=other-error");
	tern__sasl_server_free(&s);
	/* The client, when the server asks with an empty challenge. */
	struct tern__sasl_client_params cp = {.authcid = "user", .password = "pencil",
					      .test_nonce = "rOprNGfwEbeRWgbNEkqO"};
	struct tern__sasl_client *c;
	assert_int_equal(tern__sasl_client_new(&c, TERN__SASL_SCRAM_SHA_256, &cp), 0);
	assert_int_equal(tern__sasl_client_step(c, "", 0, &out, &n), TERN__SASL_CLIENT_RESPONSE);
	expect_out(out, n, c_first);
	assert_int_equal(tern__sasl_client_initial_response(c, &out, &n), TERN_ESTATE);
	assert_int_equal(tern__sasl_client_step(c, S(s_first), &out, &n),
			 TERN__SASL_CLIENT_RESPONSE);
	expect_out(out, n, c_final);
	tern__sasl_client_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7677_server),
		cmocka_unit_test(test_rfc7677_client),
		cmocka_unit_test(test_client_rejects_bad_server),
		cmocka_unit_test(test_wrong_proof),
		cmocka_unit_test(test_unknown_user),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_first_table),
		cmocka_unit_test(test_final_table),
		cmocka_unit_test(test_downgrade),
		cmocka_unit_test(test_plus_exporter),
		cmocka_unit_test(test_plus_end_point),
		cmocka_unit_test(test_plus_unsupported_type),
		cmocka_unit_test(test_flow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
