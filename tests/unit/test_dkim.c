/* DKIM signing and verification (tern/dkim.h). The fixed points are
 * outside our code: RFC 8463 appendix A (its Ed25519 key, message and
 * signature: we must verify it, and produce the very same signature since
 * Ed25519 is deterministic), and dkimpy/Mail::DKIM/mailauth in
 * tests/interop/test_dkim.py. Here: round trips over every algorithm and
 * canonicalization fed whole, byte by byte and in 3-octet slices (the
 * signature must not change: RSA PKCS#1 v1.5 is deterministic too), and
 * every rejection RFC 6376 6.1 asks for, each with its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth/dkim_int.h"
#include "tern/dkim.h"
#include "util/base64.h"

#define NOW 1764003600

/* RFC 8463 A.1, A.2, A.3 */
static const char RFC_SEED[] = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
static const char RFC_PUB[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char RFC_HEADERS[] =
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n";
static const char RFC_BODY[] = "\r\nHi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";
static const char RFC_SIG_ED[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n";
static const char RFC_SIG_RSA[] =
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
	" date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n";

static const char MSG[] = "From: Alice <alice@example.org>\r\n"
			  "To: bob@example.net\r\n"
			  "Subject: lunch   at\r\n\tnoon \r\n"
			  "Date: Mon, 24 Nov 2025 17:00:00 +0000\r\n"
			  "Message-ID: <m1@example.org>\r\n"
			  "\r\n"
			  "Hi Bob,  \r\n"
			  "see you.\r\n"
			  "\r\n\r\n";

static tern_dkim_key *rsa_key, *ed_key;
static char *rsa_txt, *ed_txt;

static int setup(void **state)
{
	assert_int_equal(tern_dkim_key_generate(TERN_DKIM_RSA_SHA256, 1024, &rsa_key), 0);
	assert_int_equal(tern_dkim_key_generate(TERN_DKIM_ED25519_SHA256, 0, &ed_key), 0);
	assert_int_equal(tern_dkim_key_dns_record(rsa_key, &rsa_txt), 0);
	assert_int_equal(tern_dkim_key_dns_record(ed_key, &ed_txt), 0);
	return 0;
}

static int teardown(void **state)
{
	tern_dkim_key_free(&rsa_key);
	tern_dkim_key_free(&ed_key);
	free(rsa_txt);
	free(ed_txt);
	return 0;
}

/* ---- helpers ---- */

static char *concat(const char *a, const char *b)
{
	char *s = malloc(strlen(a) + strlen(b) + 1);

	assert_non_null(s);
	strcpy(s, a);
	strcat(s, b);
	return s;
}

/* Replaces the first from with to in s (which it frees). */
static char *replace(char *s, const char *from, const char *to)
{
	char *at = strstr(s, from), *r;

	if (at == NULL)
		fail_msg("\"%s\" not found", from);
	r = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
	assert_non_null(r);
	sprintf(r, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	free(s);
	return r;
}

static char *sign_with(const tern_dkim_sign_options *o, const char *msg, size_t slice)
{
	tern_dkim_signer *s;
	char *field;
	size_t n = strlen(msg), len;

	assert_int_equal(tern_dkim_signer_new(o, &s), 0);
	for (size_t off = 0; off < n; off += slice)
		assert_int_equal(tern_dkim_signer_feed(s, msg + off, n - off < slice ? n - off : slice), 0);
	assert_int_equal(tern_dkim_signer_finish(s, &field, &len), 0);
	assert_int_equal(strlen(field), len);
	assert_int_equal(tern_dkim_signer_finish(s, &field, &len), TERN_ESTATE);
	tern_dkim_signer_free(&s);
	assert_null(s);
	return field;
}

static void sign_opts(tern_dkim_sign_options *o, tern_dkim_key *key, const char *sel)
{
	tern_dkim_sign_options_init(o);
	o->key = key;
	o->domain = "example.org";
	o->selector = sel;
	o->now = NOW;
}

/* The signed message: the field, then msg. */
static char *sign_msg(tern_dkim_key *key, const char *sel, const char *msg)
{
	tern_dkim_sign_options o;
	char *f, *m;

	sign_opts(&o, key, sel);
	f = sign_with(&o, msg, SIZE_MAX);
	m = concat(f, msg);
	free(f);
	return m;
}

/* A DNS answer for a name: a TXT record, or a status. */
struct rec {
	const char *name;
	enum tern_dns_status status;
	const char *txt;
};

struct verdict {
	size_t n;
	enum tern_dkim_status status[12];
	char reason[12][128];
	bool testing[12], unsigned_content[12];
	unsigned bits[12];
	char b[12][20];
};

static void answer(tern_dkim_verifier *v, const char *name, const struct rec *recs)
{
	struct tern_dns_answer a = {.status = TERN_DNS_NXDOMAIN};
	struct tern_dns_rr rr;

	for (; recs && recs->name; recs++)
		if (strcmp(recs->name, name) == 0) {
			if (recs->status == (enum tern_dns_status)-1)
				return; /* never answered */
			a.status = recs->status;
			if (recs->txt) {
				rr.data = (const unsigned char *)recs->txt;
				rr.len = strlen(recs->txt);
				a.rrs = &rr;
				a.count = 1;
			}
			break;
		}
	assert_int_equal(tern_dkim_verifier_key_answer(v, name, &a), 0);
	/* answered once only */
	assert_int_equal(tern_dkim_verifier_key_answer(v, name, &a), TERN_EINVAL);
}

/* Verifies msg fed in slices; answers key queries as soon as they appear
 * (early: while the body streams) or only after finish (late). */
static void verify_opts(const tern_dkim_verify_options *o, const char *msg, size_t slice,
			bool late, const struct rec *recs, struct verdict *out)
{
	tern_dkim_verifier *v;
	const tern_dkim_result *r;
	const char *name;
	size_t n = strlen(msg);

	memset(out, 0, sizeof *out);
	assert_int_equal(tern_dkim_verifier_new(o, &v), 0);
	for (size_t off = 0; off < n; off += slice) {
		assert_int_equal(tern_dkim_verifier_feed(v, msg + off, n - off < slice ? n - off : slice), 0);
		while (!late && tern_dkim_verifier_next_query(v, &name) == 1)
			answer(v, name, recs);
	}
	assert_int_equal(tern_dkim_verifier_results(v, &r, &out->n), TERN_ESTATE);
	assert_int_equal(tern_dkim_verifier_finish(v), 0);
	assert_int_equal(tern_dkim_verifier_finish(v), TERN_ESTATE);
	assert_int_equal(tern_dkim_verifier_feed(v, "x", 1), TERN_ESTATE);
	while (tern_dkim_verifier_next_query(v, &name) == 1)
		answer(v, name, recs);
	assert_int_equal(tern_dkim_verifier_results(v, &r, &out->n), 0);
	assert_true(out->n <= 12);
	for (size_t i = 0; i < out->n; i++) {
		out->status[i] = r[i].status;
		snprintf(out->reason[i], sizeof out->reason[i], "%s", r[i].reason);
		out->testing[i] = r[i].testing;
		out->unsigned_content[i] = r[i].unsigned_content;
		out->bits[i] = r[i].key_bits;
		snprintf(out->b[i], sizeof out->b[i], "%s", r[i].b ? r[i].b : "");
	}
	tern_dkim_verifier_free(&v);
	assert_null(v);
}

static void verify_at(time_t now, const char *msg, const struct rec *recs, struct verdict *out)
{
	tern_dkim_verify_options o;
	struct verdict again;
	static const size_t slices[] = {1, 3};

	tern_dkim_verify_options_init(&o);
	o.now = now;
	verify_opts(&o, msg, SIZE_MAX, false, recs, out);
	/* fed byte by byte and in slices, answered early or late: the same */
	for (size_t k = 0; k < 2; k++) {
		verify_opts(&o, msg, slices[k], k == 1, recs, &again);
		assert_int_equal(again.n, out->n);
		for (size_t i = 0; i < out->n; i++) {
			assert_int_equal(again.status[i], out->status[i]);
			assert_string_equal(again.reason[i], out->reason[i]);
		}
	}
}

static void verify(const char *msg, const struct rec *recs, struct verdict *out)
{
	verify_at(NOW + 60, msg, recs, out);
}

static struct rec *keys(void)
{
	static struct rec r[3];

	r[0] = (struct rec){"rsa._domainkey.example.org", TERN_DNS_FOUND, rsa_txt};
	r[1] = (struct rec){"ed._domainkey.example.org", TERN_DNS_FOUND, ed_txt};
	r[2] = (struct rec){NULL, 0, NULL};
	return r;
}

static void expect(const struct verdict *v, size_t i, enum tern_dkim_status st, const char *reason)
{
	assert_true(i < v->n);
	if (v->status[i] != st || strstr(v->reason[i], reason) == NULL)
		fail_msg("signature %zu: %s (%s), expected %s (%s)", i,
			 tern_dkim_result_name(v->status[i]), v->reason[i], tern_dkim_result_name(st),
			 reason);
}

/* ---- RFC 8463 appendix A ---- */

static EVP_PKEY *rfc_private_key(void)
{
	unsigned char seed[32];

	assert_int_equal(tern__base64_decode(RFC_SEED, strlen(RFC_SEED), seed, sizeof seed), 32);
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
}

static void test_rfc8463_verify(void **state)
{
	char *m1 = concat(RFC_SIG_ED, RFC_SIG_RSA), *msg, *m2;
	struct rec recs[] = {
		{"brisbane._domainkey.football.example.com", TERN_DNS_FOUND, RFC_PUB},
		{"test._domainkey.football.example.com", TERN_DNS_NXDOMAIN, NULL},
		{NULL, 0, NULL},
	};
	struct verdict v;

	m2 = concat(m1, RFC_HEADERS);
	msg = concat(m2, RFC_BODY);
	verify_at(1528637909, msg, recs, &v);
	assert_int_equal(v.n, 2);
	expect(&v, 0, TERN_DKIM_PASS, "good signature");
	assert_string_equal(v.b[0], "/gCrinpcQOoIfuHNQIb");
	assert_int_equal(v.bits[0], 256);
	expect(&v, 1, TERN_DKIM_PERMERROR, "no key for signature");
	/* with bare LF line ends, as a local mailbox might store it */
	for (char *p = msg, *q = msg;; p++) {
		if (*p == '\r')
			continue;
		*q++ = *p;
		if (*p == '\0')
			break;
	}
	verify_at(1528637909, msg, recs, &v);
	expect(&v, 0, TERN_DKIM_PASS, "good signature");
	free(m1);
	free(m2);
	free(msg);
}

static void test_rfc8463_sign(void **state)
{
	/* Our header hash and Ed25519-over-SHA-256 must give RFC 8463's b=
	 * exactly: the signer's own layout differs from the RFC's, so the
	 * RFC's signature field (b= empty) is hashed through the same function
	 * the signer uses. */
	const char *blank_sig =
		"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
		" d=football.example.com; i=@football.example.com;\r\n"
		" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
		" subject : date : message-id : from : subject : date;\r\n"
		" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
		" b=\r\n";
	const char *h = "from : to : subject : date : message-id : from : subject : date";
	struct tern__headers hdr;
	struct tern__canon_body body;
	unsigned char digest[32], sig[64], bh[32];
	char b64[100];
	size_t sig_len = sizeof sig;
	unsigned int len;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY *pkey = rfc_private_key();

	tern__headers_init(&hdr, 0);
	assert_int_equal(tern__headers_feed(&hdr, RFC_HEADERS, strlen(RFC_HEADERS)),
			 (long)strlen(RFC_HEADERS));
	assert_int_equal(tern__headers_feed(&hdr, "\r\n", 2), 2);
	assert_int_equal(tern__dkim_header_digest(&hdr, TERN__CANON_RELAXED, h, strlen(h), blank_sig,
						  strlen(blank_sig), digest),
			 0);
	assert_int_equal(tern__dkim_sign_digest(pkey, TERN_DKIM_ED25519_SHA256, digest, sig, &sig_len), 0);
	tern__base64_encode(sig, sig_len, b64, sizeof b64);
	assert_string_equal(b64, "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==");

	/* and the body hash */
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	tern__canon_body_init(&body, TERN__CANON_RELAXED, UINT64_MAX, md);
	tern__canon_body_feed(&body, RFC_BODY + 2, strlen(RFC_BODY) - 2);
	assert_int_equal(tern__canon_body_end(&body), 0);
	EVP_DigestFinal_ex(md, bh, &len);
	tern__base64_encode(bh, 32, b64, sizeof b64);
	assert_string_equal(b64, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");

	/* and the public API from a PEM of the same key signs what verifies */
	{
		BIO *bio = BIO_new(BIO_s_mem());
		char *pem, *msg, *m, *f;
		long n;
		tern_dkim_key *key;
		tern_dkim_sign_options o;
		struct rec recs[] = {
			{"brisbane._domainkey.football.example.com", TERN_DNS_FOUND, RFC_PUB},
			{NULL, 0, NULL},
		};
		struct verdict v;

		PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
		n = BIO_get_mem_data(bio, &pem);
		assert_int_equal(tern_dkim_key_from_pem(pem, (size_t)n, &key), 0);
		BIO_free(bio);
		assert_int_equal(tern_dkim_key_algorithm(key), TERN_DKIM_ED25519_SHA256);
		tern_dkim_sign_options_init(&o);
		o.key = key;
		o.domain = "football.example.com";
		o.selector = "brisbane";
		o.now = 1528637909;
		m = concat(RFC_HEADERS, RFC_BODY);
		f = sign_with(&o, m, SIZE_MAX);
		tern_dkim_key_free(&key);
		msg = concat(f, m);
		free(f);
		verify_at(1528637909, msg, recs, &v);
		expect(&v, 0, TERN_DKIM_PASS, "good signature");
		free(m);
		free(msg);
	}
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	tern__headers_free(&hdr);
}

/* ---- round trips ---- */

static void test_round_trip(void **state)
{
	tern_dkim_key *ks[] = {rsa_key, ed_key};
	const char *sels[] = {"rsa", "ed"};

	for (int k = 0; k < 2; k++)
		for (int hc = 0; hc < 2; hc++)
			for (int bc = 0; bc < 2; bc++) {
				tern_dkim_sign_options o;
				char *f1, *f3, *fb, *msg;
				struct verdict v;

				sign_opts(&o, ks[k], sels[k]);
				o.header_canon = (enum tern_dkim_canon)hc;
				o.body_canon = (enum tern_dkim_canon)bc;
				f1 = sign_with(&o, MSG, SIZE_MAX);
				fb = sign_with(&o, MSG, 1);
				f3 = sign_with(&o, MSG, 3);
				assert_string_equal(f1, fb);
				assert_string_equal(f1, f3);
				/* folded at 78 columns, CRLF only */
				for (char *line = f1; *line;) {
					char *eol = strstr(line, "\r\n");

					assert_non_null(eol);
					assert_true(eol - line <= 78);
					line = eol + 2;
				}
				/* From, To, Cc, Subject, Date over-signed */
				assert_non_null(strstr(f1, "from:from"));
				msg = concat(f1, MSG);
				verify(msg, keys(), &v);
				assert_int_equal(v.n, 1);
				expect(&v, 0, TERN_DKIM_PASS, "good signature");
				free(msg);
				/* bare LF everywhere still verifies */
				{
					char *lf = concat(f1, MSG);

					for (char *p = lf, *q = lf;; p++) {
						if (*p == '\r')
							continue;
						*q++ = *p;
						if (*p == '\0')
							break;
					}
					verify(lf, keys(), &v);
					expect(&v, 0, TERN_DKIM_PASS, "good signature");
					free(lf);
				}
				free(f1);
				free(fb);
				free(f3);
			}
}

static void test_two_signers(void **state)
{
	char *m1 = sign_msg(ed_key, "ed", MSG), *m2 = sign_msg(rsa_key, "rsa", m1);
	struct verdict v;

	verify(m2, keys(), &v);
	assert_int_equal(v.n, 2);
	expect(&v, 0, TERN_DKIM_PASS, "good signature");
	expect(&v, 1, TERN_DKIM_PASS, "good signature");
	free(m1);
	free(m2);
}

static void test_sign_options(void **state)
{
	tern_dkim_sign_options o;
	tern_dkim_signer *s;
	const char *hs[] = {"Subject", "subject", "X-Custom", NULL};
	char *f, *msg;
	struct verdict v;

	sign_opts(&o, rsa_key, "rsa");
	o.identity = "alice@mail.example.org";
	o.expire = 3600;
	o.body_length = true;
	o.headers = hs;
	o.oversign = false;
	f = sign_with(&o, MSG, SIZE_MAX);
	assert_non_null(strstr(f, "i=alice@mail.example.org;"));
	assert_non_null(strstr(f, "x=1764007200;"));
	assert_non_null(strstr(f, "l=19;"));
	/* the listed names once each (duplicates dropped), From added */
	assert_non_null(strstr(f, "h=Subject:from;"));
	msg = concat(f, MSG);
	verify(msg, keys(), &v);
	expect(&v, 0, TERN_DKIM_PASS, "good signature");
	free(msg);
	free(f);

	/* bad options */
	sign_opts(&o, rsa_key, "rsa");
	o.domain = "bad domain";
	assert_int_equal(tern_dkim_signer_new(&o, &s), TERN_EINVAL);
	sign_opts(&o, rsa_key, "a;b");
	assert_int_equal(tern_dkim_signer_new(&o, &s), TERN_EINVAL);
	sign_opts(&o, rsa_key, "rsa");
	o.identity = "alice@example.com";
	assert_int_equal(tern_dkim_signer_new(&o, &s), TERN_EINVAL);
	sign_opts(&o, rsa_key, "rsa");
	o.now = 0;
	o.expire = 10;
	assert_int_equal(tern_dkim_signer_new(&o, &s), TERN_EINVAL);
	sign_opts(&o, NULL, "rsa");
	assert_int_equal(tern_dkim_signer_new(&o, &s), TERN_EINVAL);
	sign_opts(&o, rsa_key, "rsa");
	o.max_header_bytes = 10;
	assert_int_equal(tern_dkim_signer_new(&o, &s), 0);
	assert_int_equal(tern_dkim_signer_feed(s, MSG, strlen(MSG)), 0);
	assert_int_equal(tern_dkim_signer_finish(s, &f, NULL), TERN_ELIMIT);
	tern_dkim_signer_free(&s);
}

static void test_keys(void **state)
{
	tern_dkim_key *k;
	char *pem;
	EVP_PKEY *small = EVP_RSA_gen(512);
	BIO *bio = BIO_new(BIO_s_mem());
	long n;

	/* PEM round trip, traditional RSA too */
	assert_int_equal(tern_dkim_key_to_pem(rsa_key, &pem), 0);
	assert_int_equal(tern_dkim_key_from_pem(pem, strlen(pem), &k), 0);
	assert_int_equal(tern_dkim_key_bits(k), 1024);
	tern_dkim_key_free(&k);
	assert_null(k);
	free(pem);
	PEM_write_bio_PrivateKey_traditional(bio, rsa_key->pkey, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &pem);
	assert_non_null(strstr(pem, "BEGIN RSA PRIVATE KEY"));
	assert_int_equal(tern_dkim_key_from_pem(pem, (size_t)n, &k), 0);
	tern_dkim_key_free(&k);
	BIO_free(bio);
	/* RFC 8301: no signing with RSA under 1024 bits */
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, small, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &pem);
	assert_int_equal(tern_dkim_key_from_pem(pem, (size_t)n, &k), TERN_EINVAL);
	BIO_free(bio);
	EVP_PKEY_free(small);
	assert_int_equal(tern_dkim_key_from_pem("nonsense", 8, &k), TERN_EINVAL);
	assert_int_equal(tern_dkim_key_generate(TERN_DKIM_RSA_SHA256, 512, &k), TERN_EINVAL);
	assert_non_null(strstr(rsa_txt, "v=DKIM1; k=rsa; p=MI"));
	assert_int_equal(strlen(ed_txt), strlen("v=DKIM1; k=ed25519; p=") + 44);
}

/* ---- rejections ---- */

/* Signs MSG with the RSA key, applies one edit, verifies. */
static void edited(const char *from, const char *to, const struct rec *recs,
		   enum tern_dkim_status st, const char *reason)
{
	char *m = sign_msg(rsa_key, "rsa", MSG);
	struct verdict v;

	if (from)
		m = replace(m, from, to);
	verify(m, recs ? recs : keys(), &v);
	assert_int_equal(v.n, 1);
	expect(&v, 0, st, reason);
	free(m);
}

static void test_reject_signature(void **state)
{
	edited("see you.", "see you!", NULL, TERN_DKIM_FAIL, "body hash did not verify");
	edited("Subject: lunch", "Subject: Lunch", NULL, TERN_DKIM_FAIL, "signature did not verify");
	edited("\r\n\r\nHi Bob", "\r\nFrom: mallory@example.com\r\n\r\nHi Bob", NULL, TERN_DKIM_FAIL,
	       "signature did not verify");
	edited("\r\n\r\nHi Bob", "\r\nCc: mallory@example.com\r\n\r\nHi Bob", NULL, TERN_DKIM_FAIL,
	       "signature did not verify");
	/* a field nobody signed may be added */
	edited("\r\n\r\nHi Bob", "\r\nX-Spam: no\r\n\r\nHi Bob", NULL, TERN_DKIM_PASS, "good");
	/* canonicalization mismatch: relaxed signature claimed simple */
	edited("c=relaxed/relaxed", "c=simple/simple", NULL, TERN_DKIM_FAIL, "did not verify");
	edited("v=1;", "v=2;", NULL, TERN_DKIM_PERMERROR, "version");
	edited("v=1;", "", NULL, TERN_DKIM_PERMERROR, "missing a required tag");
	edited("bh=", "xh=", NULL, TERN_DKIM_PERMERROR, "missing a required tag");
	edited("a=rsa-sha256", "a=rsa-sha1", NULL, TERN_DKIM_PERMERROR, "rsa-sha1");
	edited("a=rsa-sha256", "a=rsa-md5", NULL, TERN_DKIM_PERMERROR, "unknown signature algorithm");
	edited("c=relaxed/relaxed", "c=relaxed/loose", NULL, TERN_DKIM_PERMERROR, "canonicalization");
	edited("d=example.org", "d=example.org; d=example.org", NULL, TERN_DKIM_PERMERROR, "twice");
	edited("h=from:from", "h=to:to", NULL, TERN_DKIM_PERMERROR, "From is not signed");
	edited("h=from:", "h=:from:", NULL, TERN_DKIM_PERMERROR, "empty entry");
	edited("d=example.org;", "d=example.org; i=a@example.com;", NULL, TERN_DKIM_PERMERROR,
	       "i= is not in d=");
	edited("d=example.org;", "d=example.org; i=example.org;", NULL, TERN_DKIM_PERMERROR,
	       "no @");
	edited("d=example.org;", "d=example.org; q=http;", NULL, TERN_DKIM_PERMERROR, "query method");
	edited("d=example.org;", "d=example.org; l=x;", NULL, TERN_DKIM_PERMERROR, "l=");
	edited("d=example.org;", "d=exa mple.org;", NULL, TERN_DKIM_PERMERROR, "d= is not");
	edited("d=example.org;", "d=example.org; =x;", NULL, TERN_DKIM_PERMERROR, "syntax");
	edited("d=example.org;", "d=example..org;", NULL, TERN_DKIM_PERMERROR, "d= is not");
	edited("s=rsa;", "s=r/sa;", NULL, TERN_DKIM_PERMERROR, "s= is not");
	edited("b=", "b=!!", NULL, TERN_DKIM_PERMERROR, "b= is not base64");
	edited("bh=", "bh=AAAA", NULL, TERN_DKIM_PERMERROR, "bh= is not");
	edited("t=1764003600;", "t=1764003600; x=1764003000;", NULL, TERN_DKIM_PERMERROR,
	       "x= is not after t=");
	edited("t=1764003600;", "t=1764003600; x=1764003610;", NULL, TERN_DKIM_FAIL, "expired");
	edited("t=1764003600;", "t=1764013600;", NULL, TERN_DKIM_PERMERROR, "in the future");
	edited("t=1764003600;", "t=99999999999999;", NULL, TERN_DKIM_PERMERROR, "t= is not");
}

static void test_reject_key(void **state)
{
	struct rec r[2] = {{"rsa._domainkey.example.org", TERN_DNS_FOUND, NULL}, {NULL, 0, NULL}};
	char *revoked = strdup(rsa_txt), *bad;

	r[0].status = TERN_DNS_NXDOMAIN;
	edited(NULL, NULL, r, TERN_DKIM_PERMERROR, "no key for signature");
	r[0].status = TERN_DNS_NODATA;
	edited(NULL, NULL, r, TERN_DKIM_PERMERROR, "no key for signature");
	r[0].status = TERN_DNS_TEMPFAIL;
	edited(NULL, NULL, r, TERN_DKIM_TEMPERROR, "DNS");
	r[0].status = (enum tern_dns_status)-1;
	edited(NULL, NULL, r, TERN_DKIM_TEMPERROR, "no answer");
	r[0].status = TERN_DNS_FOUND;
	r[0].txt = ed_txt; /* a key of another type */
	edited(NULL, NULL, r, TERN_DKIM_PERMERROR, "key type does not match");
	r[0].txt = "v=DKIM1; p=";
	edited(NULL, NULL, r, TERN_DKIM_PERMERROR, "key revoked");
	r[0].txt = "v=DKIM1; k=rsa; p=!!!!";
	edited(NULL, NULL, r, TERN_DKIM_PERMERROR, "not base64");
	r[0].txt = "v=DKIM1; k=rsa; p=AAAA";
	edited(NULL, NULL, r, TERN_DKIM_PERMERROR, "not a public key");
	r[0].txt = "v=DKIM1; k=dsa; p=AAAA";
	edited(NULL, NULL, r, TERN_DKIM_PERMERROR, "unknown key type");
	r[0].txt = "v=spf1 -all";
	edited(NULL, NULL, r, TERN_DKIM_PERMERROR, "DKIM1");
	r[0].txt = "v=DKIM1; k=rsa; p";
	edited(NULL, NULL, r, TERN_DKIM_PERMERROR, "syntax");
	(void)revoked;
	free(revoked);
	/* key record tags */
	bad = replace(strdup(rsa_txt), "v=DKIM1", "v=DKIM2");
	r[0].txt = bad;
	edited(NULL, NULL, r, TERN_DKIM_PERMERROR, "DKIM1");
	free(bad);
	bad = replace(strdup(rsa_txt), "k=rsa;", "k=rsa; h=sha1;");
	r[0].txt = bad;
	edited(NULL, NULL, r, TERN_DKIM_PERMERROR, "sha256");
	free(bad);
	bad = replace(strdup(rsa_txt), "k=rsa;", "k=rsa; h=sha1:sha256; s=email;");
	r[0].txt = bad;
	edited(NULL, NULL, r, TERN_DKIM_PASS, "good");
	free(bad);
	bad = replace(strdup(rsa_txt), "k=rsa;", "k=rsa; s=tlsrpt;");
	r[0].txt = bad;
	edited(NULL, NULL, r, TERN_DKIM_PERMERROR, "not for email");
	free(bad);
	bad = replace(strdup(rsa_txt), "k=rsa;", "k=rsa; t=y;");
	r[0].txt = bad;
	{
		char *m = sign_msg(rsa_key, "rsa", MSG);
		struct verdict v;

		verify(m, r, &v);
		expect(&v, 0, TERN_DKIM_PASS, "testing");
		assert_true(v.testing[0]);
		free(m);
	}
	free(bad);
	/* t=s: i= must be d= itself */
	bad = replace(strdup(rsa_txt), "k=rsa;", "k=rsa; t=s;");
	r[0].txt = bad;
	{
		tern_dkim_sign_options o;
		char *f, *m;
		struct verdict v;

		sign_opts(&o, rsa_key, "rsa");
		o.identity = "@sub.example.org";
		f = sign_with(&o, MSG, SIZE_MAX);
		m = concat(f, MSG);
		verify(m, r, &v);
		expect(&v, 0, TERN_DKIM_PERMERROR, "strict");
		free(f);
		free(m);
		edited(NULL, NULL, r, TERN_DKIM_PASS, "good");
	}
	free(bad);
}

static void test_weak_key(void **state)
{
	/* A 512-bit RSA signature, made by hand since the signer refuses
	 * such keys: the verifier must refuse it (RFC 8301 3.2). */
	struct tern_dkim_key small = {.alg = TERN_DKIM_RSA_SHA256, .bits = 512};
	tern_dkim_key *sk = &small;
	tern_dkim_sign_options o;
	tern_dkim_verify_options vo;
	struct rec r[2] = {{"rsa._domainkey.example.org", TERN_DNS_FOUND, NULL}, {NULL, 0, NULL}};
	char *txt, *f, *m;
	struct verdict v;

	small.pkey = EVP_RSA_gen(512);
	assert_non_null(small.pkey);
	assert_int_equal(tern_dkim_key_dns_record(sk, &txt), 0);
	r[0].txt = txt;
	sign_opts(&o, sk, "rsa");
	f = sign_with(&o, MSG, SIZE_MAX);
	m = concat(f, MSG);
	verify(m, r, &v);
	expect(&v, 0, TERN_DKIM_PERMERROR, "512 bits is too short");
	free(m);
	free(f);
	free(txt);
	EVP_PKEY_free(small.pkey);

	/* a 1024-bit key under a caller's 2048 minimum: policy */
	m = sign_msg(rsa_key, "rsa", MSG);
	tern_dkim_verify_options_init(&vo);
	vo.now = NOW;
	vo.min_rsa_bits = 2048;
	verify_opts(&vo, m, SIZE_MAX, false, keys(), &v);
	expect(&v, 0, TERN_DKIM_POLICY, "1024 bits");
	free(m);
}

static void test_limits_and_l(void **state)
{
	tern_dkim_sign_options o;
	tern_dkim_verify_options vo;
	char *msg = strdup(MSG), *f, *m;
	struct verdict v;

	/* no signature: none */
	verify(MSG, keys(), &v);
	assert_int_equal(v.n, 0);
	assert_string_equal(tern_dkim_result_name(TERN_DKIM_NONE), "none");

	/* 12 signatures, 10 checked */
	for (int i = 0; i < 12; i++) {
		char *next = sign_msg(ed_key, "ed", msg);

		free(msg);
		msg = next;
	}
	verify(msg, keys(), &v);
	assert_int_equal(v.n, 12);
	for (int i = 0; i < 10; i++)
		expect(&v, (size_t)i, TERN_DKIM_PASS, "good");
	expect(&v, 10, TERN_DKIM_POLICY, "too many");
	expect(&v, 11, TERN_DKIM_POLICY, "too many");
	free(msg);

	/* l=: appended content is reported, the signature holds */
	sign_opts(&o, ed_key, "ed");
	o.body_length = true;
	f = sign_with(&o, MSG, SIZE_MAX);
	m = concat(f, MSG);
	free(f);
	f = concat(m, "Click here!\r\n");
	verify(f, keys(), &v);
	expect(&v, 0, TERN_DKIM_PASS, "good");
	assert_true(v.unsigned_content[0]);
	verify(m, keys(), &v);
	assert_false(v.unsigned_content[0]);
	free(f);

	/* a header block over the limit */
	tern_dkim_verify_options_init(&vo);
	vo.now = NOW;
	vo.max_header_bytes = 100;
	verify_opts(&vo, m, 7, false, keys(), &v);
	expect(&v, 0, TERN_DKIM_PERMERROR, "too large");
	free(m);

	/* bad verifier options, unknown answers */
	{
		tern_dkim_verifier *ver;
		struct tern_dns_answer a = {.status = TERN_DNS_NXDOMAIN};

		vo.now = 0;
		assert_int_equal(tern_dkim_verifier_new(&vo, &ver), TERN_EINVAL);
		vo.now = NOW;
		assert_int_equal(tern_dkim_verifier_new(&vo, &ver), 0);
		assert_int_equal(tern_dkim_verifier_key_answer(ver, "x._domainkey.example.org", &a),
				 TERN_EINVAL);
		assert_int_equal(tern_dkim_verifier_pending(ver), 0);
		tern_dkim_verifier_free(&ver);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8463_verify),
		cmocka_unit_test(test_rfc8463_sign),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_two_signers),
		cmocka_unit_test(test_sign_options),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_reject_signature),
		cmocka_unit_test(test_reject_key),
		cmocka_unit_test(test_weak_key),
		cmocka_unit_test(test_limits_and_l),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
