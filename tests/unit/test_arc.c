/* ARC (tern/arc.h). The independent oracles (dkimpy, mailauth) are in
 * tests/interop/test_arc.py; here: chains sealed and verified fed whole,
 * byte by byte and in 3-octet slices (same verdicts, same seals: RSA
 * PKCS#1 v1.5 is deterministic), the seal's signature checked against a
 * relaxed canonicalization written here from RFC 6376 3.4.2 and the field
 * order of RFC 8617 5.1.1 (not the library's), every structural failure of
 * RFC 8617 5.2 with its reason and without a DNS query, oldest-pass, DNS
 * failures, and the sealer's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "auth/dkim_int.h"
#include "tern/arc.h"
#include "util/base64.h"

#define NOW 1764003600
#define STARTS(p, lit) (strncmp((p), (lit), strlen(lit)) == 0)

static const char MSG[] = "From: Alice <alice@example.org>\r\n"
			  "To: list@lists.example.net\r\n"
			  "Subject: lunch   at\r\n\tnoon \r\n"
			  "Date: Mon, 24 Nov 2025 17:00:00 +0000\r\n"
			  "Message-ID: <m1@example.org>\r\n"
			  "\r\n"
			  "Hello,  \r\n\r\nsee you\tthere.\r\n\r\n";

static tern_dkim_key *key1, *key2, *edkey;
static char *rec1, *rec2;

static int setup(void **state)
{
	(void)state;
	if (tern_dkim_key_generate(TERN_DKIM_RSA_SHA256, 1024, &key1) < 0 ||
	    tern_dkim_key_generate(TERN_DKIM_RSA_SHA256, 1024, &key2) < 0 ||
	    tern_dkim_key_generate(TERN_DKIM_ED25519_SHA256, 0, &edkey) < 0 ||
	    tern_dkim_key_dns_record(key1, &rec1) < 0 || tern_dkim_key_dns_record(key2, &rec2) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tern_dkim_key_free(&key1);
	tern_dkim_key_free(&key2);
	tern_dkim_key_free(&edkey);
	free(rec1);
	free(rec2);
	return 0;
}

static char *concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	assert_non_null(s);
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

/* s with the first occurrence of from replaced by to (s is freed). */
static char *replace(char *s, const char *from, const char *to)
{
	char *at = strstr(s, from), *r;
	size_t lf = strlen(from), lt = strlen(to), ls = strlen(s);

	assert_non_null(at);
	r = malloc(ls - lf + lt + 1);
	assert_non_null(r);
	memcpy(r, s, (size_t)(at - s));
	memcpy(r + (at - s), to, lt);
	memcpy(r + (at - s) + lt, at + lf, ls - (size_t)(at - s) - lf + 1);
	free(s);
	return r;
}

/* ---- Verification helper ---- */

struct verdict {
	enum tern_arc_status status, cv;
	char reason[200];
	unsigned instance, oldest_pass;
	bool sealable, temporary;
	unsigned queries;
};

enum answer_mode { ANSWER_KEYS, ANSWER_TEMPFAIL, ANSWER_NXDOMAIN, ANSWER_NONE };

static void answer(tern_arc_verifier *v, const char *name, enum answer_mode mode)
{
	struct tern_dns_rr rr;
	struct tern_dns_answer a = {.status = TERN_DNS_FOUND, .rrs = &rr, .count = 1};
	const char *txt = strncmp(name, "s1.", 3) == 0 ? rec1 : rec2;

	if (mode == ANSWER_NONE)
		return;
	rr.data = (const unsigned char *)txt;
	rr.len = strlen(txt);
	if (mode == ANSWER_TEMPFAIL)
		a = (struct tern_dns_answer){.status = TERN_DNS_TEMPFAIL};
	if (mode == ANSWER_NXDOMAIN)
		a = (struct tern_dns_answer){.status = TERN_DNS_NXDOMAIN};
	assert_int_equal(tern_arc_verifier_key_answer(v, name, &a), 0);
	assert_int_equal(tern_arc_verifier_key_answer(v, name, &a), TERN_EINVAL);
}

static void verify_mode(const char *msg, size_t slice, bool oldest, enum answer_mode mode,
			struct verdict *out)
{
	tern_arc_verify_options o;
	tern_arc_verifier *v;
	const tern_arc_result *r;
	const char *name;
	size_t len = strlen(msg);

	tern_arc_verify_options_init(&o);
	o.now = NOW + 60;
	o.oldest_pass = oldest;
	assert_int_equal(tern_arc_verifier_new(&o, &v), 0);
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < len; i += slice) {
		assert_int_equal(tern_arc_verifier_feed(v, msg + i, len - i < slice ? len - i : slice),
				 0);
		/* Keys are asked for as soon as the header block ends. */
		while (tern_arc_verifier_next_query(v, &name) == 1) {
			out->queries++;
			answer(v, name, mode);
		}
	}
	assert_int_equal(tern_arc_verifier_result(v, &r), TERN_ESTATE);
	assert_int_equal(tern_arc_verifier_finish(v), 0);
	assert_int_equal(tern_arc_verifier_finish(v), TERN_ESTATE);
	while (tern_arc_verifier_next_query(v, &name) == 1) {
		out->queries++;
		answer(v, name, mode);
	}
	assert_int_equal(tern_arc_verifier_pending(v), mode == ANSWER_NONE ? out->queries : 0);
	assert_int_equal(tern_arc_verifier_result(v, &r), 0);
	out->status = r->status;
	out->cv = r->cv;
	snprintf(out->reason, sizeof out->reason, "%s", r->reason);
	out->instance = r->instance;
	out->oldest_pass = r->oldest_pass;
	out->sealable = r->sealable;
	out->temporary = r->temporary;
	if (r->status == TERN_ARC_PASS) {
		assert_non_null(r->ams_domain);
		assert_non_null(r->as_selector);
	}
	tern_arc_verifier_free(&v);
	assert_null(v);
}

/* Verified whole, byte by byte and in 3-octet slices: the same verdict. */
static void verify(const char *msg, bool oldest, struct verdict *out)
{
	static const size_t slices[] = {1, 3};
	struct verdict other;

	verify_mode(msg, strlen(msg) + 1, oldest, ANSWER_KEYS, out);
	for (size_t k = 0; k < 2; k++) {
		verify_mode(msg, slices[k], oldest, ANSWER_KEYS, &other);
		assert_int_equal(other.status, out->status);
		assert_string_equal(other.reason, out->reason);
		assert_int_equal(other.instance, out->instance);
		assert_int_equal(other.oldest_pass, out->oldest_pass);
		assert_int_equal(other.queries, out->queries);
	}
}

static void expect_fail(const char *msg, const char *reason, bool asked)
{
	struct verdict v;

	verify(msg, true, &v);
	assert_int_equal(v.status, TERN_ARC_FAIL);
	assert_int_equal(v.cv, TERN_ARC_FAIL);
	if (strstr(v.reason, reason) == NULL)
		fail_msg("reason \"%s\" does not hold \"%s\"", v.reason, reason);
	if (!asked)
		assert_int_equal(v.queries, 0);
}

/* ---- Sealing helper ---- */

static int seal_opts(const char *msg, tern_dkim_key *key, const char *sel,
		     enum tern_arc_status cv, size_t slice, char **out)
{
	tern_arc_seal_options o;
	tern_arc_sealer *s;
	size_t len = strlen(msg), flen;
	char *fields;
	int rc;

	tern_arc_seal_options_init(&o);
	o.key = key;
	o.domain = sel[1] == '1' ? "example.org" : "lists.example.net";
	o.selector = sel;
	o.authserv_id = "mx.example.net";
	o.results = "spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org";
	o.cv = cv;
	o.now = NOW;
	if ((rc = tern_arc_sealer_new(&o, &s)) < 0)
		return rc;
	for (size_t i = 0; i < len; i += slice)
		assert_int_equal(tern_arc_sealer_feed(s, msg + i, len - i < slice ? len - i : slice),
				 0);
	rc = tern_arc_sealer_finish(s, &fields, &flen);
	assert_int_equal(tern_arc_sealer_finish(s, &fields, &flen), TERN_ESTATE);
	tern_arc_sealer_free(&s);
	if (rc < 0)
		return rc;
	assert_int_equal(strlen(fields), flen);
	*out = concat(fields, msg);
	free(fields);
	return 0;
}

/* Verifies msg to get cv=, then seals it whole, byte by byte and in
 * 3-octet slices: the same fields each time. */
static char *seal(const char *msg, tern_dkim_key *key, const char *sel)
{
	struct verdict v;
	char *a, *b;

	verify_mode(msg, strlen(msg) + 1, false, ANSWER_KEYS, &v);
	assert_true(v.sealable);
	assert_int_equal(seal_opts(msg, key, sel, v.cv, strlen(msg) + 1, &a), 0);
	assert_int_equal(seal_opts(msg, key, sel, v.cv, 1, &b), 0);
	assert_string_equal(a, b);
	free(b);
	assert_int_equal(seal_opts(msg, key, sel, v.cv, 3, &b), 0);
	assert_string_equal(a, b);
	free(b);
	return a;
}

static char *chain(unsigned hops)
{
	char *m = concat(MSG, "");

	for (unsigned i = 0; i < hops; i++) {
		char *n = seal(m, i % 2 ? key2 : key1, i % 2 ? "s2" : "s1");

		free(m);
		m = n;
	}
	return m;
}

/* ---- Tests ---- */

static void test_none(void **state)
{
	struct verdict v;

	(void)state;
	verify(MSG, true, &v);
	assert_int_equal(v.status, TERN_ARC_NONE);
	assert_int_equal(v.cv, TERN_ARC_NONE);
	assert_int_equal(v.instance, 0);
	assert_int_equal(v.queries, 0);
	assert_true(v.sealable);
	assert_string_equal(tern_arc_status_name(TERN_ARC_PASS), "pass");
	assert_string_equal(tern_arc_status_name((enum tern_arc_status)9), "unknown");
}

static void test_chain_round_trip(void **state)
{
	struct verdict v;

	(void)state;
	for (unsigned hops = 1; hops <= 4; hops++) {
		char *m = chain(hops);

		verify(m, true, &v);
		assert_int_equal(v.status, TERN_ARC_PASS);
		assert_string_equal(v.reason, "chain verified");
		assert_int_equal(v.instance, hops);
		assert_int_equal(v.oldest_pass, 0);
		assert_int_equal(v.cv, TERN_ARC_PASS);
		/* Two keys, each asked for once however many sets use it. */
		assert_int_equal(v.queries, hops == 1 ? 1 : 2);
		free(m);
	}
}

/* RFC 6376 3.4.2 relaxed header canonicalization, written again here so
 * that the seal is checked against something other than canon.c. */
static void relaxed(const char *f, size_t len, bool crlf, char *out, size_t *n)
{
	size_t i = 0;
	bool space = false, started = false;

	while (f[i] != ':') {
		if (f[i] != ' ' && f[i] != '\t')
			out[(*n)++] = (char)((f[i] >= 'A' && f[i] <= 'Z') ? f[i] + 32 : f[i]);
		i++;
	}
	out[(*n)++] = ':';
	for (i++; i < len; i++) {
		char c = f[i];

		if (c == '\r' || c == '\n')
			continue;
		if (c == ' ' || c == '\t') {
			space = started;
			continue;
		}
		if (space)
			out[(*n)++] = ' ';
		space = false;
		started = true;
		out[(*n)++] = c;
	}
	if (crlf) {
		out[(*n)++] = '\r';
		out[(*n)++] = '\n';
	}
}

/* The end of the field starting at p (after its last CRLF). */
static const char *field_end(const char *p)
{
	for (;;) {
		p = strstr(p, "\r\n") + 2;
		if (*p != ' ' && *p != '\t')
			return p;
	}
}

/* Whether the field starting at p holds needle (unfolded). */
static bool field_has(const char *p, const char *needle)
{
	const char *e = field_end(p);
	char buf[4096];
	size_t n = 0;

	char prev = '\0';

	for (; p < e && n < sizeof buf - 1; prev = *p++)
		if (*p != '\r' && *p != '\n' && !(prev == '\n' && *p == ' '))
			buf[n++] = *p;
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static const char *find_field(const char *msg, const char *prefix)
{
	const char *p = strstr(msg, prefix);

	assert_non_null(p);
	return p;
}

static void test_seal_fields(void **state)
{
	char *m = chain(2), *canon = malloc(65536), b64[1024];
	const char *as2 = m, *ams2, *aar2, *as1, *ams1, *aar1, *bv, *end;
	unsigned char sig[512], pub[512];
	size_t n = 0, k = 0;
	EVP_PKEY *pkey;
	EVP_MD_CTX *md;
	const unsigned char *pp = pub;
	ssize_t publen, siglen;

	(void)state;
	/* Order: AS, AMS, AAR of the new set, in front of the old ones. */
	assert_true(STARTS(m, "ARC-Seal: i=2; a=rsa-sha256; t=1764003600; cv=pass; "
			       "d=lists.example.net;"));
	assert_true(strstr(m, " s=s2;") < strstr(m, "ARC-Message-Signature"));
	ams2 = field_end(as2);
	assert_true(STARTS(ams2, "ARC-Message-Signature: i=2; a=rsa-sha256; c=relaxed/relaxed;"));
	aar2 = field_end(ams2);
	assert_true(STARTS(aar2, "ARC-Authentication-Results: i=2; mx.example.net;\r\n"
				  "\tspf=pass smtp.mailfrom=example.org;\r\n"
				  "\tdkim=pass header.d=example.org;\r\n"
				  "\tarc=pass\r\nARC-Seal: i=1;"));
	as1 = field_end(aar2);
	ams1 = field_end(as1);
	aar1 = field_end(ams1);
	assert_non_null(strstr(as1, "cv=none;"));
	assert_true(STARTS(aar1, "ARC-Authentication-Results: i=1; mx.example.net;"));
	/* The AMS signs the DKIM list with over-signing, never an ARC field. */
	assert_true(field_has(ams2, "h=from:from:subject:subject:date:date:to:to:cc:"));
	assert_true(field_has(ams2, ":message-id"));
	assert_false(field_has(ams2, "arc-"));
	assert_false(field_has(as2, "h="));

	/* RFC 8617 5.1.1: set 1 (AAR, AMS, AS), then set 2's AAR, AMS and its
	 * AS with b= empty and no CRLF, relaxed. */
	relaxed(aar1, (size_t)(field_end(aar1) - aar1), true, canon, &n);
	relaxed(ams1, (size_t)(field_end(ams1) - ams1), true, canon, &n);
	relaxed(as1, (size_t)(field_end(as1) - as1), true, canon, &n);
	relaxed(aar2, (size_t)(field_end(aar2) - aar2), true, canon, &n);
	relaxed(ams2, (size_t)(field_end(ams2) - ams2), true, canon, &n);
	bv = strstr(as2, " b=") + 3;
	relaxed(as2, (size_t)(bv - as2), false, canon, &n);
	for (end = bv; end < ams2; end++)
		if (*end != '\r' && *end != '\n' && *end != ' ')
			b64[k++] = *end;
	siglen = tern__base64_decode(b64, k, sig, sizeof sig);
	assert_true(siglen == 128);
	publen = tern__base64_decode(strstr(rec2, "p=") + 2, strlen(strstr(rec2, "p=") + 2), pub,
				     sizeof pub);
	assert_true(publen > 0);
	pkey = d2i_PUBKEY(NULL, &pp, publen);
	assert_non_null(pkey);
	md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey), 1);
	assert_int_equal(EVP_DigestVerify(md, sig, (size_t)siglen, (unsigned char *)canon, n), 1);
	/* One octet more and it does not verify: the check means something. */
	canon[n++] = ' ';
	EVP_MD_CTX_free(md);
	md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey), 1);
	assert_int_not_equal(EVP_DigestVerify(md, sig, (size_t)siglen, (unsigned char *)canon, n), 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	free(canon);
	free(m);
}

/* The ARC fields of instance i renamed to instance j ("i=2;" in each). */
static char *renumber(char *m, unsigned i, unsigned j)
{
	char from[64], to[64];
	static const char *const names[] = {"ARC-Seal: ", "ARC-Message-Signature: ",
					    "ARC-Authentication-Results: "};

	for (int k = 0; k < 3; k++) {
		snprintf(from, sizeof from, "%si=%u;", names[k], i);
		snprintf(to, sizeof to, "%si=%u;", names[k], j);
		m = replace(m, from, to);
	}
	return m;
}

/* The field starting with prefix removed (returns a new string). */
static char *drop(char *m, const char *prefix)
{
	const char *p = find_field(m, prefix), *e = field_end(p);
	char *r = malloc(strlen(m) + 1);

	memcpy(r, m, (size_t)(p - m));
	strcpy(r + (p - m), e);
	free(m);
	return r;
}

/* The field starting with prefix written twice. */
static char *dup_field(char *m, const char *prefix)
{
	const char *p = find_field(m, prefix), *e = field_end(p);
	size_t fl = (size_t)(e - p), ml = strlen(m);
	char *r = malloc(ml + fl + 1);

	memcpy(r, p, fl);
	memcpy(r + fl, m, ml + 1);
	free(m);
	return r;
}

static void test_structure(void **state)
{
	char *m;

	(void)state;
	expect_fail((m = drop(chain(2), "ARC-Seal: i=1;")), "instance 1 has no ARC-Seal", false);
	free(m);
	expect_fail((m = drop(chain(2), "ARC-Message-Signature: i=2;")),
		    "instance 2 has no ARC-Message-Signature", false);
	free(m);
	expect_fail((m = drop(chain(2), "ARC-Authentication-Results: i=1;")),
		    "instance 1 has no ARC-Authentication-Results", false);
	free(m);
	expect_fail((m = dup_field(chain(2), "ARC-Seal: i=1;")), "instance 1 has two ARC-Seal",
		    false);
	free(m);
	expect_fail((m = dup_field(chain(2), "ARC-Authentication-Results: i=2;")),
		    "instance 2 has two ARC-Authentication-Results", false);
	free(m);
	/* A gap: sets 1 and 3. */
	expect_fail((m = renumber(chain(2), 2, 3)), "instance 2 has no", false);
	free(m);
	/* Two sets numbered 1. */
	expect_fail((m = renumber(chain(2), 2, 1)), "instance 1 has two", false);
	free(m);
	for (int k = 0; k < 5; k++) {
		static const char *const bad[] = {"i=0;", "i=51;", "i=01;", "i=x;", "i=100;"};

		m = replace(chain(1), "ARC-Seal: i=1;", "ARC-Seal: ");
		m = replace(m, "ARC-Seal: ", "ARC-Seal: ");
		{
			char *t = malloc(strlen(m) + 16);

			sprintf(t, "ARC-Seal: %s%s", bad[k], strstr(m, "ARC-Seal: ") + 10);
			free(m);
			m = t;
		}
		expect_fail(m, "ARC-Seal with no usable i= (1 to 50)", false);
		free(m);
	}
	m = replace(chain(1), "ARC-Authentication-Results: i=1;",
		    "ARC-Authentication-Results: (c) i=1;");
	expect_fail(m, "ARC-Authentication-Results with no usable i=", false);
	free(m);
	/* RFC 8617 5.2 step 4: cv= of the first set none, later ones pass. */
	expect_fail((m = replace(chain(2), "cv=none", "cv=pass")),
		    "ARC-Seal i=1: cv= is not none in the first set", false);
	free(m);
	m = replace(chain(3), "i=2; a=rsa-sha256; t=1764003600; cv=pass",
		    "i=2; a=rsa-sha256; t=1764003600; cv=none");
	expect_fail(m, "ARC-Seal i=2: cv= is not pass after the first set", false);
	free(m);
	expect_fail((m = replace(chain(1), "cv=none", "cv=maybe")),
		    "ARC-Seal i=1: ARC-Seal cv= is not none", false);
	free(m);
	expect_fail((m = replace(chain(1), "cv=none;", "cv=none; h=from;")),
		    "ARC-Seal has an h= tag", false);
	free(m);
	expect_fail((m = replace(chain(1), "c=relaxed/relaxed;", "c=relaxed/relaxed; d=x.org;")),
		    "ARC-Message-Signature with no usable i=", false);
	free(m);
	expect_fail((m = replace(chain(1), "h=from:", "h=arc-seal:from:")),
		    "ARC-Message-Signature signs ARC-Seal", false);
	free(m);
	expect_fail((m = replace(chain(1), "ARC-Seal: i=1; a=rsa-sha256", "ARC-Seal: i=1; a=rsa-sha1")),
		    "unknown ARC signature algorithm", false);
	free(m);
	expect_fail((m = replace(chain(1), "t=1764003600; h=", "t=1864003600; h=")),
		    "ARC-Message-Signature i=1: timestamp (t=) is in the future", false);
	free(m);
}

static void test_newest_cv_fail(void **state)
{
	char *bad = replace(chain(1), "see you", "see YOU"), *m;
	struct verdict v;

	(void)state;
	verify(bad, false, &v);
	assert_int_equal(v.status, TERN_ARC_FAIL);
	assert_string_equal(v.reason, "ARC-Message-Signature i=1: body hash did not verify");
	assert_true(v.sealable);
	/* The next hop seals with cv=fail over its own set only; that ends
	 * the chain: fail, and no further set. */
	m = seal(bad, key2, "s2");
	assert_non_null(strstr(m, "cv=fail;"));
	assert_non_null(strstr(m, "\tarc=fail\r\n"));
	verify(m, false, &v);
	assert_int_equal(v.status, TERN_ARC_FAIL);
	assert_string_equal(v.reason, "ARC-Seal i=2: cv=fail: the chain has ended");
	assert_false(v.sealable);
	assert_int_equal(v.queries, 0);
	{
		char *out;

		assert_int_equal(seal_opts(m, key1, "s1", TERN_ARC_FAIL, 100, &out), TERN_EINVAL);
	}
	free(bad);
	free(m);
}

static void test_tampered(void **state)
{
	char *m;

	(void)state;
	expect_fail((m = replace(chain(2), "see you", "see You")),
		    "ARC-Message-Signature i=2: body hash did not verify", true);
	free(m);
	expect_fail((m = replace(chain(2), "Subject: lunch", "Subject: Lunch")),
		    "ARC-Message-Signature i=2: signature did not verify", true);
	free(m);
	/* An older AAR changed: the newest seal covers it. */
	m = replace(chain(2), "ARC-Authentication-Results: i=1; mx.example.net;\r\n\tspf=pass",
		    "ARC-Authentication-Results: i=1; mx.example.net;\r\n\tspf=fail");
	expect_fail(m, "ARC-Seal i=2: signature did not verify", true);
	free(m);
	/* Folding and spacing inside ARC fields do not matter (relaxed). */
	{
		struct verdict v;

		m = replace(chain(2), "ARC-Authentication-Results: i=1; mx.example.net;",
			    "ARC-Authentication-Results:   i=1;   mx.example.net;  ");
		verify(m, false, &v);
		assert_int_equal(v.status, TERN_ARC_PASS);
		free(m);
	}
}

static void test_oldest_pass(void **state)
{
	char *m = chain(1), *m2;
	struct verdict v;

	(void)state;
	/* Hop 2 verifies the chain (pass), then changes the Subject as a list
	 * does and seals: set 1's AMS breaks, the chain still passes, and
	 * oldest-pass is 2. */
	verify(m, false, &v);
	assert_int_equal(v.cv, TERN_ARC_PASS);
	m = replace(m, "Subject: lunch", "Subject: [list] lunch");
	assert_int_equal(seal_opts(m, key2, "s2", TERN_ARC_PASS, 5, &m2), 0);
	verify(m2, true, &v);
	assert_int_equal(v.status, TERN_ARC_PASS);
	assert_int_equal(v.oldest_pass, 2);
	verify(m2, false, &v);
	assert_int_equal(v.status, TERN_ARC_PASS);
	assert_int_equal(v.oldest_pass, 0);
	free(m);
	free(m2);
}

static void test_dns(void **state)
{
	char *m = chain(2);
	struct verdict v;

	(void)state;
	verify_mode(m, 7, false, ANSWER_TEMPFAIL, &v);
	assert_int_equal(v.status, TERN_ARC_FAIL);
	assert_true(v.temporary);
	assert_string_equal(v.reason, "ARC-Message-Signature i=2: key query failed (DNS)");
	verify_mode(m, 7, false, ANSWER_NXDOMAIN, &v);
	assert_int_equal(v.status, TERN_ARC_FAIL);
	assert_false(v.temporary);
	assert_string_equal(v.reason, "ARC-Message-Signature i=2: no key for signature");
	verify_mode(m, 7, false, ANSWER_NONE, &v);
	assert_int_equal(v.status, TERN_ARC_FAIL);
	assert_true(v.temporary);
	assert_string_equal(v.reason, "ARC-Message-Signature i=2: no answer to the key query");
	{
		tern_arc_verify_options o;
		tern_arc_verifier *ver;
		struct tern_dns_answer a = {.status = TERN_DNS_NXDOMAIN};
		const tern_arc_result *r;
		const char *name;

		tern_arc_verify_options_init(&o);
		assert_int_equal(tern_arc_verifier_new(&o, &ver), TERN_EINVAL); /* now = 0 */
		o.now = NOW;
		assert_int_equal(tern_arc_verifier_new(&o, &ver), 0);
		assert_int_equal(tern_arc_verifier_feed(ver, m, strlen(m)), 0);
		assert_int_equal(tern_arc_verifier_key_answer(ver, "x._domainkey.example.org", &a),
				 TERN_EINVAL);
		assert_int_equal(tern_arc_verifier_next_query(ver, &name), 1);
		/* Case and a final dot do not matter. */
		assert_int_equal(tern_arc_verifier_key_answer(ver, "S2._DOMAINKEY.lists.example.net.",
							      &a), 0);
		assert_int_equal(tern_arc_verifier_finish(ver), 0);
		assert_int_equal(tern_arc_verifier_result(ver, &r), 0);
		assert_int_equal(tern_arc_verifier_key_answer(ver, name, &a), TERN_ESTATE);
		assert_int_equal(tern_arc_verifier_feed(ver, "x", 1), TERN_ESTATE);
		tern_arc_verifier_free(&ver);
		tern_arc_verifier_free(&ver);
	}
	free(m);
}

static void test_seal_refusals(void **state)
{
	tern_arc_seal_options o;
	tern_arc_sealer *s;
	char *m = chain(1), *out, *big;
	size_t len;

	(void)state;
	/* cv must fit the message. */
	assert_int_equal(seal_opts(MSG, key1, "s1", TERN_ARC_PASS, 100, &out), TERN_EINVAL);
	assert_int_equal(seal_opts(m, key1, "s1", TERN_ARC_NONE, 100, &out), TERN_EINVAL);
	/* pass over a broken chain is a caller's mistake. */
	big = drop(concat(m, ""), "ARC-Seal: i=1;");
	assert_int_equal(seal_opts(big, key1, "s1", TERN_ARC_PASS, 100, &out), TERN_EINVAL);
	assert_int_equal(seal_opts(big, key1, "s1", TERN_ARC_FAIL, 100, &out), 0);
	assert_non_null(strstr(out, "ARC-Seal: i=2;"));
	free(out);
	free(big);
	/* RFC 8617 4.2.1: no 51st set. */
	big = concat("ARC-Seal: i=50; a=rsa-sha256; cv=pass; d=example.org; s=s1; b=AAAA\r\n", m);
	assert_int_equal(seal_opts(big, key1, "s1", TERN_ARC_FAIL, 100, &out), TERN_ELIMIT);
	free(big);
	/* Options. */
	assert_int_equal(seal_opts(MSG, edkey, "s1", TERN_ARC_NONE, 100, &out), TERN_EINVAL);
	tern_arc_seal_options_init(&o);
	o.key = key1;
	o.domain = "example.org";
	o.selector = "s1";
	o.now = NOW;
	assert_int_equal(tern_arc_sealer_new(&o, &s), TERN_EINVAL); /* no authserv-id */
	o.authserv_id = "mx;evil";
	assert_int_equal(tern_arc_sealer_new(&o, &s), TERN_EINVAL);
	o.authserv_id = "mx.example.net";
	o.results = "spf=pass\r\nX-Injected: 1";
	assert_int_equal(tern_arc_sealer_new(&o, &s), TERN_EINVAL);
	o.results = NULL;
	o.headers = (const char *const[]){"from", "ARC-Seal", NULL};
	assert_int_equal(tern_arc_sealer_new(&o, &s), TERN_EINVAL);
	o.headers = (const char *const[]){"subject", NULL};
	o.cv = (enum tern_arc_status)7;
	assert_int_equal(tern_arc_sealer_new(&o, &s), TERN_EINVAL);
	o.cv = TERN_ARC_NONE;
	o.domain = "bad domain";
	assert_int_equal(tern_arc_sealer_new(&o, &s), TERN_EINVAL);
	o.domain = "example.org";
	/* Own header list (From added), no results: only arc=none. */
	assert_int_equal(tern_arc_sealer_new(&o, &s), 0);
	assert_int_equal(tern_arc_sealer_feed(s, MSG, strlen(MSG)), 0);
	assert_int_equal(tern_arc_sealer_finish(s, &out, &len), 0);
	assert_int_equal(tern_arc_sealer_feed(s, MSG, 1), TERN_ESTATE);
	assert_non_null(strstr(out, " h=subject:subject:from;"));
	assert_non_null(strstr(out, "ARC-Authentication-Results: i=1; mx.example.net;\r\n\tarc=none\r\n"));
	tern_arc_sealer_free(&s);
	free(out);
	/* A caller's own arc= result is kept, not doubled. */
	o.results = "arc=none (no chain); spf=pass smtp.mailfrom=\"a;b\"@example.org";
	assert_int_equal(tern_arc_sealer_new(&o, &s), 0);
	assert_int_equal(tern_arc_sealer_feed(s, MSG, strlen(MSG)), 0);
	assert_int_equal(tern_arc_sealer_finish(s, &out, &len), 0);
	assert_non_null(strstr(out, "\tarc=none (no chain);\r\n\tspf=pass smtp.mailfrom=\"a;b\"@example.org\r\n"));
	assert_null(strstr(out, "arc=none\r\n"));
	tern_arc_sealer_free(&s);
	free(out);
	free(m);
}

static void test_header_limit(void **state)
{
	tern_arc_verify_options o;
	tern_arc_verifier *v;
	const tern_arc_result *r;
	char *m = chain(1);

	(void)state;
	tern_arc_verify_options_init(&o);
	o.now = NOW;
	o.max_header_bytes = 200;
	assert_int_equal(tern_arc_verifier_new(&o, &v), 0);
	assert_int_equal(tern_arc_verifier_feed(v, m, strlen(m)), 0);
	assert_int_equal(tern_arc_verifier_finish(v), 0);
	assert_int_equal(tern_arc_verifier_result(v, &r), 0);
	assert_int_equal(r->status, TERN_ARC_FAIL);
	assert_string_equal(r->reason, "header block too large to verify");
	tern_arc_verifier_free(&v);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_chain_round_trip),
		cmocka_unit_test(test_seal_fields),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_newest_cv_fail),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_oldest_pass),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_seal_refusals),
		cmocka_unit_test(test_header_limit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
