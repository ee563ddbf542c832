/* The ARC chain verifier (RFC 8617 5.2): the chain's shape checked when the
 * header block ends (a broken chain fails there and asks no DNS query),
 * the seals' and AMS header hashes computed then, the newest AMS's body
 * hashed while it streams, and the signatures checked once the keys are
 * in. The steps follow RFC 8617 5.2's numbering. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/arc_int.h"
#include "auth/dkim_keyq.h"
#include "auth/tag_list.h"
#include "util/base64.h"

/* One signature to check: an AMS or an AS. */
struct check {
	struct tern__arc_sig sig;
	bool ready;              /* parsed, hashed, its key asked */
	size_t query, bodyhash;
	unsigned char hdigest[TERN__DKIM_DIGEST_LEN];
	unsigned char bh[TERN__DKIM_DIGEST_LEN];
	unsigned char b[TERN__DKIM_SIG_MAX];
	size_t b_len;
};

struct tern_arc_verifier {
	tern_arc_verify_options opts;
	struct tern__headers hdr;
	struct tern__arc_chain chain;
	struct check *ams, *as;  /* [1..n] */
	struct tern__dkim_bodies bodies;
	struct tern__dkim_keyqs queries;
	tern_arc_result res;
	bool decided, finished, reported, temporary;
	int err;
	char reason[192];
	char ams_d[254], ams_s[254], as_d[254], as_s[254];
};

void tern_arc_verify_options_init(tern_arc_verify_options *opts)
{
	memset(opts, 0, sizeof *opts);
	opts->struct_size = sizeof *opts;
	opts->min_rsa_bits = TERN__DKIM_RSA_MIN_BITS;
	opts->max_clock_skew = 300;
}

const char *tern_arc_status_name(enum tern_arc_status status)
{
	switch (status) {
	case TERN_ARC_NONE: return "none";
	case TERN_ARC_PASS: return "pass";
	case TERN_ARC_FAIL: return "fail";
	}
	return "unknown";
}

int tern_arc_verifier_new(const tern_arc_verify_options *in, tern_arc_verifier **verifier_r)
{
	tern_arc_verifier *v;

	if (in == NULL || verifier_r == NULL || in->struct_size == 0 || in->now <= 0)
		return TERN_EINVAL;
	v = calloc(1, sizeof *v);
	if (v == NULL)
		return TERN_ENOMEM;
	tern_arc_verify_options_init(&v->opts);
	memcpy(&v->opts, in, in->struct_size < sizeof v->opts ? in->struct_size : sizeof v->opts);
	v->opts.struct_size = sizeof v->opts;
	if (v->opts.min_rsa_bits < TERN__DKIM_RSA_MIN_BITS)
		v->opts.min_rsa_bits = TERN__DKIM_RSA_MIN_BITS;
	tern__headers_init(&v->hdr, v->opts.max_header_bytes);
	*verifier_r = v;
	return 0;
}

static void decide(tern_arc_verifier *v, enum tern_arc_status status, const char *reason)
{
	v->decided = true;
	v->res.status = status;
	v->res.reason = reason;
}

/* A base64 tag value, folding removed, decoded. Returns the length or -1. */
static long decode_b64(const char *value, size_t len, unsigned char *out, size_t out_size)
{
	char tmp[TERN__BASE64_ENCODED_LEN(TERN__DKIM_SIG_MAX) + 1];
	ssize_t n;

	if (len >= sizeof tmp)
		return -1;
	n = tern__base64_decode(tmp, tern__tag_strip_fws(value, len, tmp), out, out_size);
	return n > 0 ? (long)n : -1;
}

static const struct tern__hfield *field(const tern_arc_verifier *v, unsigned i,
					enum tern__arc_kind k)
{
	return v->chain.set[i][k];
}

/* Parses one AMS or AS and computes what the header block decides: its
 * header hash, its body hash slot (AMS), its key query. Returns 0 (c->ready
 * says whether it can be checked; else *why), or an error. */
static int prepare(tern_arc_verifier *v, unsigned i, enum tern__arc_kind kind, struct check *c,
		   const char **why)
{
	const struct tern__hfield *f = field(v, i, kind);
	const char *text = tern__hfield_text(&v->hdr, f);
	char *blank;
	size_t blen;
	long n;
	int rc;

	if (tern__arc_sig_parse(text, f->len, kind, &c->sig, why) < 0)
		return 0;
	n = decode_b64(c->sig.b, c->sig.b_len, c->b, sizeof c->b);
	if (n <= 0) {
		*why = "b= is not base64";
		return 0;
	}
	c->b_len = (size_t)n;
	if (c->sig.t && c->sig.t > v->opts.now + (time_t)v->opts.max_clock_skew) {
		*why = "timestamp (t=) is in the future";
		return 0;
	}
	if ((rc = tern__arc_blank_b(text, f->len, c->sig.b_value_start, c->sig.b_value_end, &blank,
				    &blen)) < 0)
		return rc;
	if (kind == TERN__ARC_AMS) {
		n = decode_b64(c->sig.bh, c->sig.bh_len, c->bh, sizeof c->bh);
		if (n != TERN__DKIM_DIGEST_LEN) {
			free(blank);
			*why = "bh= is not a base64 SHA-256 digest";
			return 0;
		}
		rc = tern__dkim_header_digest(&v->hdr, c->sig.header_canon, c->sig.h, c->sig.h_len,
					      blank, blen, c->hdigest);
		if (rc == 0)
			rc = tern__dkim_bodies_find(&v->bodies, c->sig.body_canon,
						    c->sig.has_l ? c->sig.l : UINT64_MAX,
						    &c->bodyhash);
	} else {
		const struct tern__hfield *aar = field(v, i, TERN__ARC_AAR);
		const struct tern__hfield *ams = field(v, i, TERN__ARC_AMS);

		rc = tern__arc_seal_digest(&v->hdr, &v->chain, 1, i,
					   tern__hfield_text(&v->hdr, aar), aar->len,
					   tern__hfield_text(&v->hdr, ams), ams->len, blank, blen,
					   c->hdigest);
	}
	free(blank);
	if (rc < 0)
		return rc;
	if ((rc = tern__dkim_keyqs_add(&v->queries, c->sig.s, c->sig.s_len, c->sig.d, c->sig.d_len,
				       &c->query)) < 0)
		return rc;
	c->ready = true;
	return 0;
}

static void copy_name(char *dst, const char *s, size_t len)
{
	if (len > 253)
		len = 253;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

static void fail_at(tern_arc_verifier *v, const char *what, unsigned i, const char *why)
{
	snprintf(v->reason, sizeof v->reason, "%s i=%u: %s", what, i, why);
	decide(v, TERN_ARC_FAIL, v->reason);
}

/* The header block has ended: RFC 8617 5.2 steps 1 to 4. */
static int headers_ended(tern_arc_verifier *v)
{
	struct tern__arc_chain *c = &v->chain;
	const char *why = NULL;
	unsigned n;
	int rc;

	tern__arc_chain_collect(&v->hdr, c);
	n = v->res.instance = c->n;
	v->res.sealable = n < TERN_ARC_MAX_INSTANCE;
	/* Step 1: no ARC sets, none. */
	if (!c->any) {
		decide(v, TERN_ARC_NONE, "no ARC sets");
		v->res.sealable = true;
		return 0;
	}
	if (v->hdr.over_limit) {
		decide(v, TERN_ARC_FAIL, "header block too large to verify");
		return 0;
	}
	/* Step 2: a set missing, duplicated or unreadable fails the chain. */
	if (c->error) {
		decide(v, TERN_ARC_FAIL, c->error);
		/* RFC 8617 5.1.2: the newest seal's cv=fail ends the chain even
		 * when it is broken otherwise. */
		if (n > 0 && c->set[n][TERN__ARC_AS] != NULL) {
			struct tern__arc_sig s;
			const struct tern__hfield *f = c->set[n][TERN__ARC_AS];

			if (tern__arc_sig_parse(tern__hfield_text(&v->hdr, f), f->len, TERN__ARC_AS,
						&s, &why) == 0 && s.cv == TERN_ARC_FAIL)
				v->res.sealable = false;
		}
		return 0;
	}
	v->ams = calloc(n + 1, sizeof *v->ams);
	v->as = calloc(n + 1, sizeof *v->as);
	if (v->ams == NULL || v->as == NULL)
		return TERN_ENOMEM;
	/* Newest first: its cv= decides step 3 whatever the older seals hold,
	 * as the sealer reads it. */
	for (unsigned i = n; i >= 1; i--) {
		const struct tern__hfield *f = c->set[i][TERN__ARC_AS];

		if (tern__arc_sig_parse(tern__hfield_text(&v->hdr, f), f->len, TERN__ARC_AS,
					&v->as[i].sig, &why) < 0) {
			fail_at(v, "ARC-Seal", i, why);
			return 0;
		}
		if (i < n)
			continue;
		copy_name(v->as_d, v->as[n].sig.d, v->as[n].sig.d_len);
		copy_name(v->as_s, v->as[n].sig.s, v->as[n].sig.s_len);
		v->res.as_domain = v->as_d;
		v->res.as_selector = v->as_s;
		/* Step 3: "If the "cv" value of the highest-numbered AS is
		 * "fail", the Chain Validation Status is "fail"" (and no set may
		 * follow, 5.1.2). */
		if (v->as[n].sig.cv == TERN_ARC_FAIL) {
			v->res.sealable = false;
			fail_at(v, "ARC-Seal", n, "cv=fail: the chain has ended");
			return 0;
		}
	}
	/* Step 4: i=1 says cv=none, every later seal cv=pass. */
	for (unsigned i = 1; i <= n; i++) {
		enum tern_arc_status want = i == 1 ? TERN_ARC_NONE : TERN_ARC_PASS;

		if (v->as[i].sig.cv != want) {
			fail_at(v, "ARC-Seal", i,
				i == 1 ? "cv= is not none in the first set"
				       : "cv= is not pass after the first set");
			return 0;
		}
	}
	/* Step 5 needs the newest AMS; step 6 (optional) the older ones. */
	for (unsigned i = n; i >= 1; i--) {
		if (i < n && !v->opts.oldest_pass)
			break;
		if ((rc = prepare(v, i, TERN__ARC_AMS, &v->ams[i], &why)) < 0)
			return rc;
		if (i == n && !v->ams[n].ready) {
			fail_at(v, "ARC-Message-Signature", n, why);
			return 0;
		}
	}
	copy_name(v->ams_d, v->ams[n].sig.d, v->ams[n].sig.d_len);
	copy_name(v->ams_s, v->ams[n].sig.s, v->ams[n].sig.s_len);
	v->res.ams_domain = v->ams_d;
	v->res.ams_selector = v->ams_s;
	for (unsigned i = n; i >= 1; i--) {
		if ((rc = prepare(v, i, TERN__ARC_AS, &v->as[i], &why)) < 0)
			return rc;
		if (!v->as[i].ready) {
			fail_at(v, "ARC-Seal", i, why);
			return 0;
		}
	}
	return 0;
}

int tern_arc_verifier_feed(tern_arc_verifier *v, const void *data, size_t len)
{
	const char *p = data;

	if (v->finished)
		return TERN_ESTATE;
	if (v->err)
		return v->err;
	if (!tern__headers_done(&v->hdr)) {
		long used = tern__headers_feed(&v->hdr, p, len);

		if (used < 0)
			return v->err = (int)used;
		p += used;
		len -= (size_t)used;
		if (tern__headers_done(&v->hdr) && (v->err = headers_ended(v)) < 0)
			return v->err;
	}
	if (len > 0 && !v->decided)
		tern__dkim_bodies_feed(&v->bodies, p, len);
	return 0;
}

int tern_arc_verifier_next_query(tern_arc_verifier *v, const char **name_r)
{
	if (v->decided)
		return 0;
	return tern__dkim_keyqs_next(&v->queries, name_r);
}

int tern_arc_verifier_key_answer(tern_arc_verifier *v, const char *name,
				 const struct tern_dns_answer *a)
{
	if (v->reported)
		return TERN_ESTATE;
	if (name == NULL || a == NULL)
		return TERN_EINVAL;
	return tern__dkim_keyqs_answer(&v->queries, name, a);
}

size_t tern_arc_verifier_pending(const tern_arc_verifier *v)
{
	return tern__dkim_keyqs_pending(&v->queries);
}

int tern_arc_verifier_finish(tern_arc_verifier *v)
{
	int rc;

	if (v->finished)
		return TERN_ESTATE;
	v->finished = true;
	if (v->err)
		return v->err;
	if (!tern__headers_done(&v->hdr)) {
		if ((rc = tern__headers_end(&v->hdr)) < 0 || (rc = headers_ended(v)) < 0)
			return v->err = rc;
	}
	if ((rc = tern__dkim_bodies_end(&v->bodies)) < 0)
		return v->err = rc;
	return 0;
}

/* Checks one prepared signature. Returns 1 pass, 0 fail (*why set; a DNS
 * failure also sets v->temporary), or TERN_ENOMEM. */
static int check(tern_arc_verifier *v, struct check *c, bool body, const char **why)
{
	struct tern__dkim_keyrec rec;
	int ok = tern__dkim_keyq_key(&v->queries.q[c->query], c->sig.alg, &rec, why);

	if (ok != 0) {
		v->temporary |= ok > 0;
		return 0;
	}
	if (rec.alg == TERN_DKIM_RSA_SHA256 && rec.bits < v->opts.min_rsa_bits)
		*why = "RSA key too short";
	else if (body && memcmp(v->bodies.b[c->bodyhash].digest, c->bh, sizeof c->bh) != 0)
		*why = "body hash did not verify";
	else if ((ok = tern__dkim_verify_digest(rec.pkey, rec.alg, c->hdigest, c->b, c->b_len)) == 0)
		*why = "signature did not verify";
	tern__dkim_keyrec_free(&rec);
	return ok;
}

/* RFC 8617 5.2 steps 5 to 7, with every key answered or given up on. */
static int evaluate(tern_arc_verifier *v)
{
	unsigned n = v->chain.n;
	const char *why = NULL;
	int ok;

	/* Step 5: the newest AMS must verify. */
	if ((ok = check(v, &v->ams[n], true, &why)) < 0)
		return ok;
	if (ok == 0) {
		fail_at(v, "ARC-Message-Signature", n, why);
		return 0;
	}
	/* Step 6: oldest-pass, the lowest instance from which every AMS up to
	 * N verifies (0: all of them). */
	if (v->opts.oldest_pass) {
		v->res.oldest_pass = 0;
		for (unsigned i = n - 1; i >= 1; i--) {
			bool temporary = v->temporary;

			ok = v->ams[i].ready ? check(v, &v->ams[i], true, &why) : 0;
			v->temporary = temporary; /* an old AMS never decides the chain */
			if (ok < 0)
				return ok;
			if (ok == 0) {
				v->res.oldest_pass = i + 1;
				break;
			}
		}
	}
	/* Step 7: every seal, newest first. */
	for (unsigned i = n; i >= 1; i--) {
		if ((ok = check(v, &v->as[i], false, &why)) < 0)
			return ok;
		if (ok == 0) {
			v->res.oldest_pass = 0;
			fail_at(v, "ARC-Seal", i, why);
			return 0;
		}
	}
	decide(v, TERN_ARC_PASS, "chain verified");
	return 0;
}

int tern_arc_verifier_result(tern_arc_verifier *v, const tern_arc_result **result_r)
{
	int rc;

	if (!v->finished)
		return TERN_ESTATE;
	if (v->err)
		return v->err;
	if (!v->reported) {
		if (!v->decided && (rc = evaluate(v)) < 0)
			return v->err = rc;
		if (v->res.status != TERN_ARC_FAIL)
			v->temporary = false;
		v->res.temporary = v->temporary;
		v->res.cv = v->res.status;
		v->reported = true;
	}
	*result_r = &v->res;
	return 0;
}

void tern_arc_verifier_free(tern_arc_verifier **verifier)
{
	tern_arc_verifier *v;

	if (verifier == NULL || (v = *verifier) == NULL)
		return;
	free(v->ams);
	free(v->as);
	tern__dkim_bodies_free(&v->bodies);
	tern__dkim_keyqs_free(&v->queries);
	tern__headers_free(&v->hdr);
	free(v);
	*verifier = NULL;
}
