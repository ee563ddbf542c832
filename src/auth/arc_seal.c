/* The ARC sealer (RFC 8617 5.1): the header block kept and the body hashed
 * as the message streams; at the end the new set: the
 * ARC-Authentication-Results this hop writes, an ARC-Message-Signature of
 * the message (DKIM's header hash, relaxed/relaxed), and the ARC-Seal over
 * every set (RFC 8617 5.1.1) or, when the chain failed, over the new set
 * alone (5.1.2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "auth/arc_int.h"
#include "auth/fold.h"
#include "tern/authres.h"
#include "util/base64.h"
#include "util/buf.h"

/* DKIM's recommended list (RFC 6376 5.4.1) and DKIM-Signature: an AMS that
 * covers the DKIM signatures lets a later hop tell which ones were there
 * when this hop saw the message. Lowercase, as h= is written. */
static const char *const default_headers[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "in-reply-to", "references",
	"message-id", "mime-version", "content-type", "content-transfer-encoding",
	"content-id", "content-description", "resent-date", "resent-from", "resent-sender",
	"resent-to", "resent-cc", "resent-message-id", "sender", "list-id", "list-help",
	"list-unsubscribe", "list-unsubscribe-post", "list-subscribe", "list-post",
	"list-owner", "list-archive", "auto-submitted", "feedback-id", "dkim-signature", NULL,
};

/* Signed once more than they occur, as the DKIM signer does (RFC 6376 8.15). */
static const char *const oversigned[] = {"from", "to", "cc", "subject", "date", NULL};

struct tern_arc_sealer {
	EVP_PKEY *pkey;
	char *domain, *selector, *authserv_id, *results;
	char **headers;
	enum tern_arc_status cv;
	time_t now;
	struct tern__headers hdr;
	EVP_MD_CTX *body_md;
	struct tern__canon_body body;
	bool finished;
};

void tern_arc_seal_options_init(tern_arc_seal_options *opts)
{
	memset(opts, 0, sizeof *opts);
	opts->struct_size = sizeof *opts;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

int tern_arc_sealer_new(const tern_arc_seal_options *in, tern_arc_sealer **sealer_r)
{
	tern_arc_seal_options o;
	tern_arc_sealer *s;
	size_t nh = 0;

	if (in == NULL || sealer_r == NULL || in->struct_size == 0)
		return TERN_EINVAL;
	tern_arc_seal_options_init(&o);
	memcpy(&o, in, in->struct_size < sizeof o ? in->struct_size : sizeof o);
	/* rsa-sha256 only: RFC 8617 names no other, and dkimpy's validator
	 * (ARC_HASH_ALGORITHMS) and others refuse ed25519-sha256 in ARC. */
	if (o.key == NULL || o.key->alg != TERN_DKIM_RSA_SHA256 || o.domain == NULL ||
	    o.selector == NULL || o.authserv_id == NULL || o.now <= 0 ||
	    !tern__dkim_valid_domain(o.domain, strlen(o.domain)) ||
	    !tern__dkim_valid_domain(o.selector, strlen(o.selector)) || o.authserv_id[0] == '\0' ||
	    !printable(o.authserv_id) || strpbrk(o.authserv_id, " ;()\"") != NULL ||
	    (o.results && !printable(o.results)) ||
	    (o.cv != TERN_ARC_NONE && o.cv != TERN_ARC_PASS && o.cv != TERN_ARC_FAIL))
		return TERN_EINVAL;
	if (o.headers)
		for (; o.headers[nh]; nh++)
			if (!tern__dkim_valid_field_name(o.headers[nh]) ||
			    (strlen(o.headers[nh]) == 8 && tern__ascii_ieq(o.headers[nh], "arc-seal", 8)))
				return TERN_EINVAL;
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return TERN_ENOMEM;
	tern__headers_init(&s->hdr, o.max_header_bytes);
	s->cv = o.cv;
	s->now = o.now;
	s->domain = strdup(o.domain);
	s->selector = strdup(o.selector);
	s->authserv_id = strdup(o.authserv_id);
	s->results = strdup(o.results ? o.results : "");
	s->body_md = EVP_MD_CTX_new();
	if (o.headers && (s->headers = calloc(nh + 1, sizeof *s->headers)) != NULL)
		for (size_t i = 0; i < nh; i++)
			if ((s->headers[i] = strdup(o.headers[i])) == NULL)
				break;
	if (!s->domain || !s->selector || !s->authserv_id || !s->results || !s->body_md ||
	    (o.headers && (!s->headers || (nh && !s->headers[nh - 1]))) ||
	    EVP_DigestInit_ex(s->body_md, EVP_sha256(), NULL) != 1) {
		tern_arc_sealer_free(&s);
		ERR_clear_error();
		return TERN_ENOMEM;
	}
	tern__canon_body_init(&s->body, TERN__CANON_RELAXED, UINT64_MAX, s->body_md);
	EVP_PKEY_up_ref(o.key->pkey);
	s->pkey = o.key->pkey;
	*sealer_r = s;
	return 0;
}

int tern_arc_sealer_feed(tern_arc_sealer *s, const void *data, size_t len)
{
	const char *p = data;

	if (s->finished)
		return TERN_ESTATE;
	if (!tern__headers_done(&s->hdr)) {
		long used = tern__headers_feed(&s->hdr, p, len);

		if (used < 0)
			return (int)used;
		p += used;
		len -= (size_t)used;
	}
	if (len > 0)
		tern__canon_body_feed(&s->body, p, len);
	return 0;
}

/* h=: each name once per instance present, the over-signed ones once
 * more; the same names go to list, which the header hash walks. */
static void h_tag(tern_arc_sealer *s, struct tern__fold *f, struct tern__buf *list)
{
	const char *const *names = s->headers ? (const char *const *)s->headers : default_headers;
	bool from;
	size_t n = tern__fold_h_names(f, list, &s->hdr, names, oversigned, &from);

	/* RFC 6376 5.4 (which the AMS follows): From MUST be signed.
	 * Compromise, kept as it was: unlike the DKIM signer, no new line
	 * before this From when the line is full (only reachable with a
	 * caller's header list that lacks From). */
	if (!from && n == 0) {
		tern__fold_h_name(f, list, "from", 4, true);
	} else if (!from) {
		tern__fold_add(f, ":from", 5);
		if (f->err == 0)
			f->err = tern__buf_append(list, ":from", 5);
	}
	tern__fold_add(f, ";", 1);
}

/* Signs digest and appends b= to f, then the final CRLF. */
static int sign_into(tern_arc_sealer *s, struct tern__fold *f, const unsigned char *digest)
{
	int rc;

	if ((rc = tern__fold_signature(f, s->pkey, TERN_DKIM_RSA_SHA256, digest)) < 0)
		return rc;
	tern__fold_add(f, "\r\n", 2);
	return f->err;
}

/* Whether the results already hold an "arc" method. */
static int has_arc(tern_arc_sealer *s, bool *has)
{
	struct tern_authres_parsed p;
	struct tern__buf b;
	int rc;

	*has = false;
	tern__buf_init(&b, 0);
	if ((rc = tern__buf_printf(&b, "%s; %s", s->authserv_id, s->results)) == 0) {
		rc = tern_authres_parse(tern__buf_ptr(&b), b.len, false, &p);
		if (rc == 0)
			for (size_t i = 0; i < p.count; i++)
				*has |= strcmp(p.results[i].method, "arc") == 0;
		tern_authres_parsed_clear(&p);
	}
	tern__buf_free(&b);
	return rc == TERN_ENOMEM ? rc : 0;
}

/* RFC 8617 4.1.1: "ARC-Authentication-Results: i=N; authserv-id; results",
 * each result on a line of its own. */
static int make_aar(tern_arc_sealer *s, unsigned i, struct tern__fold *f)
{
	const char *r = s->results;
	bool arc;
	int rc;

	if ((rc = has_arc(s, &arc)) < 0)
		return rc;
	if (tern__buf_printf(&f->b, "ARC-Authentication-Results: i=%u; %s", i, s->authserv_id) < 0)
		return TERN_ENOMEM;
	while (*r) {
		const char *end;
		bool quoted = false;
		int depth = 0;

		while (*r == ' ' || *r == '\t' || *r == ';')
			r++;
		if (*r == '\0')
			break;
		/* One resinfo: up to a ";" outside quotes and comments. */
		for (end = r; *end; end++) {
			if (quoted) {
				if (*end == '\\' && end[1])
					end++;
				else if (*end == '"')
					quoted = false;
			} else if (*end == '"') {
				quoted = true;
			} else if (*end == '(') {
				depth++;
			} else if (*end == ')' && depth > 0) {
				depth--;
			} else if (*end == ';' && depth == 0) {
				break;
			}
		}
		{
			size_t n = (size_t)(end - r);

			while (n > 0 && (r[n - 1] == ' ' || r[n - 1] == '\t'))
				n--;
			if (tern__buf_printf(&f->b, ";\r\n\t%.*s", (int)n, r) < 0)
				return TERN_ENOMEM;
		}
		r = end;
	}
	if (!arc && tern__buf_printf(&f->b, ";\r\n\tarc=%s", tern_arc_status_name(s->cv)) < 0)
		return TERN_ENOMEM;
	return tern__buf_append(&f->b, "\r\n", 2);
}

int tern_arc_sealer_finish(tern_arc_sealer *s, char **fields_r, size_t *len_r)
{
	unsigned char bh[TERN__DKIM_DIGEST_LEN], hd[TERN__DKIM_DIGEST_LEN];
	char bh64[TERN__BASE64_ENCODED_LEN(sizeof bh) + 1];
	struct tern__arc_chain chain;
	struct tern__fold aar, ams, as;
	struct tern__buf list;
	unsigned dlen, i;
	int rc;

	if (s->finished)
		return TERN_ESTATE;
	s->finished = true;
	if ((rc = tern__headers_end(&s->hdr)) < 0)
		return rc;
	if (s->hdr.over_limit)
		return TERN_ELIMIT;
	tern__arc_chain_collect(&s->hdr, &chain);
	/* RFC 8617 5.1: cv= is the validation status of the incoming chain;
	 * it has to fit what the message carries. */
	if (!chain.any && s->cv != TERN_ARC_NONE)
		return TERN_EINVAL;
	if (chain.any && (s->cv == TERN_ARC_NONE || (s->cv == TERN_ARC_PASS && chain.error)))
		return TERN_EINVAL;
	/* RFC 8617 4.2.1: at most 50 sets. */
	if (chain.n >= TERN_ARC_MAX_INSTANCE)
		return TERN_ELIMIT;
	if (chain.n > 0 && chain.set[chain.n][TERN__ARC_AS] != NULL) {
		const struct tern__hfield *f = chain.set[chain.n][TERN__ARC_AS];
		struct tern__arc_sig sig;
		const char *why;

		/* RFC 8617 5.1.2: once a seal says cv=fail, no set is added. */
		if (tern__arc_sig_parse(tern__hfield_text(&s->hdr, f), f->len, TERN__ARC_AS, &sig,
					&why) == 0 && sig.cv == TERN_ARC_FAIL)
			return TERN_EINVAL;
	}
	i = chain.n + 1;
	if (tern__canon_body_end(&s->body) < 0 || EVP_DigestFinal_ex(s->body_md, bh, &dlen) != 1) {
		ERR_clear_error();
		return TERN_EIO;
	}
	tern__base64_encode(bh, sizeof bh, bh64, sizeof bh64);
	tern__fold_init(&aar);
	tern__fold_init(&ams);
	tern__fold_init(&as);
	tern__buf_init(&list, 0);
	if ((rc = make_aar(s, i, &aar)) < 0)
		goto out;

	/* RFC 8617 4.1.2: the AMS is a DKIM signature with i= in place of
	 * v= and no other difference; tags in dkimpy's order. */
	tern__fold_add(&ams, "ARC-Message-Signature:", 22);
	tern__fold_tag(&ams, "i=%u;", i);
	tern__fold_tag(&ams, "a=rsa-sha256;");
	tern__fold_tag(&ams, "c=relaxed/relaxed;");
	tern__fold_tag(&ams, "d=%s;", s->domain);
	tern__fold_tag(&ams, "s=%s;", s->selector);
	tern__fold_tag(&ams, "t=%lld;", (long long)s->now);
	h_tag(s, &ams, &list);
	tern__fold_tag(&ams, "bh=%s;", bh64);
	tern__fold_piece(&ams, "b=", 2);
	if ((rc = ams.err) < 0)
		goto out;
	rc = tern__dkim_header_digest(&s->hdr, TERN__CANON_RELAXED, tern__buf_ptr(&list), list.len,
				      tern__buf_ptr(&ams.b), ams.b.len, hd);
	if (rc < 0 || (rc = sign_into(s, &ams, hd)) < 0)
		goto out;

	tern__fold_add(&as, "ARC-Seal:", 9);
	tern__fold_tag(&as, "i=%u;", i);
	tern__fold_tag(&as, "a=rsa-sha256;");
	tern__fold_tag(&as, "t=%lld;", (long long)s->now);
	tern__fold_tag(&as, "cv=%s;", tern_arc_status_name(s->cv));
	tern__fold_tag(&as, "d=%s;", s->domain);
	tern__fold_tag(&as, "s=%s;", s->selector);
	tern__fold_piece(&as, "b=", 2);
	if ((rc = as.err) < 0)
		goto out;
	/* RFC 8617 5.1.2: over a failed chain the seal covers "the ARC Set
	 * header fields created by the MTA that detected the malformed chain,
	 * as if this newest ARC Set was the only set present". */
	rc = tern__arc_seal_digest(&s->hdr, &chain, s->cv == TERN_ARC_FAIL ? i : 1, i,
				   tern__buf_ptr(&aar.b), aar.b.len, tern__buf_ptr(&ams.b),
				   ams.b.len, tern__buf_ptr(&as.b), as.b.len, hd);
	if (rc < 0 || (rc = sign_into(s, &as, hd)) < 0)
		goto out;
	if ((rc = tern__buf_append(&as.b, tern__buf_ptr(&ams.b), ams.b.len)) < 0 ||
	    (rc = tern__buf_append(&as.b, tern__buf_ptr(&aar.b), aar.b.len)) < 0 ||
	    (rc = tern__buf_append(&as.b, "", 1)) < 0)
		goto out;
	as.b.len--;
	*fields_r = as.b.data;
	if (len_r)
		*len_r = as.b.len;
	as.b.data = NULL;
	tern__buf_init(&as.b, 0);
out:
	tern__buf_free(&list);
	tern__buf_free(&aar.b);
	tern__buf_free(&ams.b);
	tern__buf_free(&as.b);
	return rc;
}

void tern_arc_sealer_free(tern_arc_sealer **sealer)
{
	tern_arc_sealer *s;

	if (sealer == NULL || (s = *sealer) == NULL)
		return;
	EVP_PKEY_free(s->pkey);
	free(s->domain);
	free(s->selector);
	free(s->authserv_id);
	free(s->results);
	if (s->headers) {
		for (size_t i = 0; s->headers[i]; i++)
			free(s->headers[i]);
		free(s->headers);
	}
	tern__headers_free(&s->hdr);
	EVP_MD_CTX_free(s->body_md);
	free(s);
	*sealer = NULL;
}
