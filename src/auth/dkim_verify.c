/* The DKIM verifier (RFC 6376 6): signatures parsed when the header block
 * ends, key queries handed to the caller, the body hashed once per distinct
 * (canonicalization, l=) while it streams, verdicts when everything is in.
 *
 * Each signature is decided as early as it can be: a malformed or expired
 * one at the end of the header block (no DNS query is asked for it), the
 * others in tern_dkim_verifier_results() from the key answer and the
 * hashes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dkim_int.h"
#include "auth/dkim_keyq.h"
#include "auth/tag_list.h"
#include "util/base64.h"

struct sigstate {
	struct tern__dkim_sig sig;
	bool parsed;             /* sig is valid */
	bool decided;            /* res.status is final */
	size_t bodyhash, query;
	unsigned char hdigest[TERN__DKIM_DIGEST_LEN];
	unsigned char bh[TERN__DKIM_DIGEST_LEN];
	unsigned char b[TERN__DKIM_SIG_MAX];
	size_t b_len;
	char *strings;           /* the result's strings, one block */
	char reason[128];
	tern_dkim_result res;
};

struct tern_dkim_verifier {
	tern_dkim_verify_options opts;
	struct tern__headers hdr;
	struct sigstate *sigs;
	size_t nsigs;
	struct tern__dkim_bodies bodies;
	struct tern__dkim_keyqs queries;
	tern_dkim_result *results;
	bool finished, reported;
	int err;                 /* sticky TERN_ENOMEM / TERN_EIO */
};

void tern_dkim_verify_options_init(tern_dkim_verify_options *opts)
{
	memset(opts, 0, sizeof *opts);
	opts->struct_size = sizeof *opts;
	opts->max_signatures = 10;
	opts->min_rsa_bits = TERN__DKIM_RSA_MIN_BITS;
	opts->max_clock_skew = 300;
}

const char *tern_dkim_result_name(enum tern_dkim_status status)
{
	switch (status) {
	case TERN_DKIM_NONE: return "none";
	case TERN_DKIM_PASS: return "pass";
	case TERN_DKIM_FAIL: return "fail";
	case TERN_DKIM_NEUTRAL: return "neutral";
	case TERN_DKIM_POLICY: return "policy";
	case TERN_DKIM_TEMPERROR: return "temperror";
	case TERN_DKIM_PERMERROR: return "permerror";
	}
	return "unknown";
}

int tern_dkim_verifier_new(const tern_dkim_verify_options *in, tern_dkim_verifier **verifier_r)
{
	tern_dkim_verifier *v;

	if (in == NULL || verifier_r == NULL || in->struct_size == 0 || in->now <= 0)
		return TERN_EINVAL;
	v = calloc(1, sizeof *v);
	if (v == NULL)
		return TERN_ENOMEM;
	tern_dkim_verify_options_init(&v->opts);
	memcpy(&v->opts, in, in->struct_size < sizeof v->opts ? in->struct_size : sizeof v->opts);
	v->opts.struct_size = sizeof v->opts;
	if (v->opts.max_signatures == 0)
		v->opts.max_signatures = 10;
	if (v->opts.min_rsa_bits < TERN__DKIM_RSA_MIN_BITS)
		v->opts.min_rsa_bits = TERN__DKIM_RSA_MIN_BITS;
	tern__headers_init(&v->hdr, v->opts.max_header_bytes);
	*verifier_r = v;
	return 0;
}

static void decide(struct sigstate *s, enum tern_dkim_status status, const char *reason)
{
	s->decided = true;
	s->res.status = status;
	s->res.reason = reason;
}

/* The result's strings, copied from the signature (which points into the
 * header buffer) into one block owned by the signature's state. */
static int result_strings(struct sigstate *s)
{
	const struct tern__dkim_sig *g = &s->sig;
	size_t need = g->d_len + g->s_len + g->a_len + g->b_len + 6 +
		      (g->i ? g->i_len : g->d_len + 1);
	char *p;

	p = s->strings = malloc(need);
	if (p == NULL)
		return TERN_ENOMEM;
#define PUT(field, src, len)                                                               \
	do {                                                                               \
		s->res.field = p;                                                          \
		memcpy(p, src, len);                                                       \
		p += len;                                                                  \
		*p++ = '\0';                                                               \
	} while (0)
	PUT(domain, g->d, g->d_len);
	PUT(selector, g->s, g->s_len);
	PUT(algorithm, g->a, g->a_len);
	s->res.b = p;
	p += tern__tag_strip_fws(g->b, g->b_len, p) + 1;
	if (g->i) {
		PUT(identity, g->i, g->i_len);
	} else {
		/* RFC 6376 3.5 i=: the default is "@" followed by d=. */
		s->res.identity = p;
		*p++ = '@';
		memcpy(p, g->d, g->d_len);
		p[g->d_len] = '\0';
	}
#undef PUT
	return 0;
}

/* Decodes a base64 tag value that may be folded. Returns the length, or -1. */
static ssize_t decode_b64(const char *value, size_t len, unsigned char *out, size_t out_size)
{
	char tmp[TERN__BASE64_ENCODED_LEN(TERN__DKIM_SIG_MAX) + 1];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = value[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (n == sizeof tmp - 1)
			return -1;
		tmp[n++] = c;
	}
	n = (size_t)tern__base64_decode(tmp, n, out, out_size);
	return (ssize_t)n;
}

/* Everything about one signature that the header block alone decides. */
static int check_signature(tern_dkim_verifier *v, struct sigstate *s, const char *field,
			   size_t len)
{
	struct tern__dkim_sig *g = &s->sig;
	const char *reason;
	ssize_t n;
	char *blank;
	int rc;

	if (tern__dkim_sig_parse(field, len, g, &reason) < 0) {
		decide(s, TERN_DKIM_PERMERROR, reason);
		return 0;
	}
	s->parsed = true;
	if ((rc = result_strings(s)) < 0)
		return rc;
	s->res.timestamp = g->t;
	s->res.expiration = g->x;
	s->res.body_length_limited = g->has_l;
	s->res.body_length = g->l;
	n = decode_b64(g->b, g->b_len, s->b, sizeof s->b);
	if (n <= 0) {
		decide(s, TERN_DKIM_PERMERROR, "b= is not base64");
		return 0;
	}
	s->b_len = (size_t)n;
	n = decode_b64(g->bh, g->bh_len, s->bh, sizeof s->bh);
	if (n != TERN__DKIM_DIGEST_LEN) {
		decide(s, TERN_DKIM_PERMERROR, "bh= is not a base64 SHA-256 digest");
		return 0;
	}
	/* RFC 6376 6.1.1: "Verifiers MAY ignore the DKIM-Signature header field
	 * and return PERMFAIL (signature expired)" when x= has passed; Tern
	 * calls that fail, as the brief of RFC 8601's "fail" fits a signature
	 * that no longer holds. */
	if (g->x && g->x < v->opts.now) {
		decide(s, TERN_DKIM_FAIL, "signature expired (x=)");
		return 0;
	}
	if (g->t && g->t > v->opts.now + (time_t)v->opts.max_clock_skew) {
		decide(s, TERN_DKIM_PERMERROR, "signature timestamp (t=) is in the future");
		return 0;
	}
	/* RFC 6376 3.7: the signature field is hashed with b= emptied. */
	blank = malloc(len);
	if (blank == NULL)
		return TERN_ENOMEM;
	memcpy(blank, field, g->b_value_start);
	memcpy(blank + g->b_value_start, field + g->b_value_end, len - g->b_value_end);
	rc = tern__dkim_header_digest(&v->hdr, g->header_canon, g->h, g->h_len, blank,
				      len - (g->b_value_end - g->b_value_start), s->hdigest);
	free(blank);
	if (rc < 0)
		return rc;
	if ((rc = tern__dkim_bodies_find(&v->bodies, g->body_canon, g->has_l ? g->l : UINT64_MAX,
					 &s->bodyhash)) < 0)
		return rc;
	return tern__dkim_keyqs_add(&v->queries, g->s, g->s_len, g->d, g->d_len, &s->query);
}

/* The header block has ended: find and check the signatures. */
static int headers_ended(tern_dkim_verifier *v)
{
	struct tern__headers *h = &v->hdr;
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < h->count; i++)
		n += tern__hfield_is(h, &h->fields[i], "DKIM-Signature", 14);
	if (n == 0)
		return 0;
	v->sigs = calloc(n, sizeof *v->sigs);
	if (v->sigs == NULL)
		return TERN_ENOMEM;
	for (size_t i = 0; i < h->count; i++) {
		struct tern__hfield *f = &h->fields[i];
		struct sigstate *s;

		if (!tern__hfield_is(h, f, "DKIM-Signature", 14))
			continue;
		s = &v->sigs[v->nsigs++];
		if (h->over_limit) {
			decide(s, TERN_DKIM_PERMERROR, "header block too large to verify");
			continue;
		}
		if (v->nsigs > v->opts.max_signatures) {
			decide(s, TERN_DKIM_POLICY, "not checked: too many signatures");
			continue;
		}
		if ((rc = check_signature(v, s, tern__hfield_text(h, f), f->len)) < 0)
			return rc;
	}
	return 0;
}

int tern_dkim_verifier_feed(tern_dkim_verifier *v, const void *data, size_t len)
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
	if (len > 0)
		tern__dkim_bodies_feed(&v->bodies, p, len);
	return 0;
}

int tern_dkim_verifier_next_query(tern_dkim_verifier *v, const char **name_r)
{
	return tern__dkim_keyqs_next(&v->queries, name_r);
}

int tern_dkim_verifier_key_answer(tern_dkim_verifier *v, const char *name,
				  const struct tern_dns_answer *a)
{
	if (v->reported)
		return TERN_ESTATE;
	if (name == NULL || a == NULL)
		return TERN_EINVAL;
	return tern__dkim_keyqs_answer(&v->queries, name, a);
}

size_t tern_dkim_verifier_pending(const tern_dkim_verifier *v)
{
	return tern__dkim_keyqs_pending(&v->queries);
}

int tern_dkim_verifier_finish(tern_dkim_verifier *v)
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

/* The key record for s: the first of the answer's records that parses. A
 * failure to get one decides s: temperror when DNS may answer later,
 * permerror when it has said there is no usable key. */
static int key_for(tern_dkim_verifier *v, struct sigstate *s, struct tern__dkim_keyrec *rec)
{
	const char *reason;
	int rc = tern__dkim_keyq_key(&v->queries.q[s->query], s->sig.alg, rec, &reason);

	if (rc != 0)
		decide(s, rc > 0 ? TERN_DKIM_TEMPERROR : TERN_DKIM_PERMERROR, reason);
	return rc == 0 ? 0 : -1;
}

static void evaluate(tern_dkim_verifier *v, struct sigstate *s)
{
	struct tern__dkim_sig *g = &s->sig;
	struct tern__dkim_bodyhash *b;
	struct tern__dkim_keyrec rec;
	int ok;

	if (s->decided)
		return;
	if (key_for(v, s, &rec) < 0)
		return;
	/* Only now: a signature decided early may have no body hash at all
	 * (v->bodies NULL), and indexing NULL is undefined even unused. */
	b = &v->bodies.b[s->bodyhash];
	s->res.testing = rec.testing;
	s->res.key_bits = rec.bits;
	s->res.unsigned_content = g->has_l && b->cb.total > g->l;
	if (rec.alg == TERN_DKIM_RSA_SHA256 && rec.bits < TERN__DKIM_RSA_MIN_BITS) {
		/* RFC 8301 3.2: "Verifiers MUST NOT consider signatures using
		 * RSA keys of less than 1024 bits as valid signatures." */
		snprintf(s->reason, sizeof s->reason,
			 "RSA key of %u bits is too short (RFC 8301: at least 1024)", rec.bits);
		decide(s, TERN_DKIM_PERMERROR, s->reason);
		goto out;
	}
	if (rec.alg == TERN_DKIM_RSA_SHA256 && rec.bits < v->opts.min_rsa_bits) {
		snprintf(s->reason, sizeof s->reason, "RSA key of %u bits is under the %u required",
			 rec.bits, v->opts.min_rsa_bits);
		decide(s, TERN_DKIM_POLICY, s->reason);
		goto out;
	}
	if (rec.strict && g->i) {
		/* RFC 6376 3.6.1 t=s: "the "i=" domain MUST NOT be a subdomain
		 * of "d="". */
		const char *at = strrchr(s->res.identity, '@');

		if (strlen(at + 1) != g->d_len || !tern__ascii_ieq(at + 1, g->d, g->d_len)) {
			decide(s, TERN_DKIM_PERMERROR, "key is strict (t=s) but i= is a subdomain");
			goto out;
		}
	}
	/* RFC 6376 6.1.3: the body hash first, then the signature. */
	if (memcmp(b->digest, s->bh, sizeof s->bh) != 0) {
		decide(s, TERN_DKIM_FAIL, "body hash did not verify");
		goto out;
	}
	ok = tern__dkim_verify_digest(rec.pkey, rec.alg, s->hdigest, s->b, s->b_len);
	if (ok < 0)
		decide(s, TERN_DKIM_TEMPERROR, "out of memory verifying");
	else if (ok == 0)
		decide(s, TERN_DKIM_FAIL, "signature did not verify");
	else
		decide(s, TERN_DKIM_PASS, rec.testing ? "good signature (key in testing mode)"
						       : "good signature");
out:
	tern__dkim_keyrec_free(&rec);
}

int tern_dkim_verifier_results(tern_dkim_verifier *v, const tern_dkim_result **results_r,
			       size_t *n_r)
{
	if (!v->finished)
		return TERN_ESTATE;
	if (v->err)
		return v->err;
	if (!v->reported) {
		for (size_t i = 0; i < v->nsigs; i++)
			evaluate(v, &v->sigs[i]);
		if (v->nsigs > 0) {
			v->results = calloc(v->nsigs, sizeof *v->results);
			if (v->results == NULL)
				return TERN_ENOMEM;
		}
		for (size_t i = 0; i < v->nsigs; i++)
			v->results[i] = v->sigs[i].res;
		v->reported = true;
	}
	*results_r = v->results;
	*n_r = v->nsigs;
	return 0;
}

void tern_dkim_verifier_free(tern_dkim_verifier **verifier)
{
	tern_dkim_verifier *v;

	if (verifier == NULL || (v = *verifier) == NULL)
		return;
	for (size_t i = 0; i < v->nsigs; i++)
		free(v->sigs[i].strings);
	free(v->sigs);
	tern__dkim_bodies_free(&v->bodies);
	tern__dkim_keyqs_free(&v->queries);
	free(v->results);
	tern__headers_free(&v->hdr);
	free(v);
	*verifier = NULL;
}
