/* The DKIM signer (RFC 6376 5): header block kept, body canonicalized and
 * hashed as it streams, and at the end one DKIM-Signature field. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "auth/dkim_int.h"
#include "auth/fold.h"
#include "util/base64.h"
#include "util/buf.h"

/* RFC 6376 5.4.1 lists what SHOULD be signed; these are that list, the
 * List-* fields of RFC 2369/2919/8058 (a list's unsubscribe link is worth
 * protecting), and Feedback-ID. Lowercase: the names go into h= as they
 * are, and h= is compared case-insensitively. */
static const char *const default_headers[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "in-reply-to", "references",
	"message-id", "mime-version", "content-type", "content-transfer-encoding",
	"content-id", "content-description", "resent-date", "resent-from", "resent-sender",
	"resent-to", "resent-cc", "resent-message-id", "sender", "list-id", "list-help",
	"list-unsubscribe", "list-unsubscribe-post", "list-subscribe", "list-post",
	"list-owner", "list-archive", "auto-submitted", "feedback-id", NULL,
};

/* Signed once more than they occur (RFC 6376 8.15): a field of these names
 * added later would be shown to the reader while unsigned. */
static const char *const oversigned[] = {"from", "to", "cc", "subject", "date", NULL};

struct tern_dkim_signer {
	EVP_PKEY *pkey;
	enum tern_dkim_algorithm alg;
	char *domain, *selector, *identity;
	char **headers;           /* NULL: default_headers */
	enum tern__canon header_canon, body_canon;
	bool oversign, body_length;
	time_t now;
	uint32_t expire;
	struct tern__headers hdr;
	EVP_MD_CTX *body_md;
	struct tern__canon_body body;
	bool finished;
};

void tern_dkim_sign_options_init(tern_dkim_sign_options *opts)
{
	memset(opts, 0, sizeof *opts);
	opts->struct_size = sizeof *opts;
	opts->header_canon = TERN_DKIM_RELAXED;
	opts->body_canon = TERN_DKIM_RELAXED;
	opts->oversign = true;
}

static bool valid_identity(const char *i, const char *d)
{
	const char *at = strrchr(i, '@');

	return at != NULL && tern__dkim_domain_within(at + 1, strlen(at + 1), d, strlen(d));
}

bool tern__dkim_valid_field_name(const char *s)
{
	/* RFC 5322 2.2: printable US-ASCII except ":" */
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == ':')
			return false;
	return true;
}

static char **copy_list(const char *const *list)
{
	size_t n = 0;
	char **copy;

	while (list[n])
		n++;
	copy = calloc(n + 1, sizeof *copy);
	if (copy == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((copy[i] = strdup(list[i])) == NULL) {
			for (size_t k = 0; k < i; k++)
				free(copy[k]);
			free(copy);
			return NULL;
		}
	return copy;
}

int tern_dkim_signer_new(const tern_dkim_sign_options *in, tern_dkim_signer **signer_r)
{
	tern_dkim_sign_options o;
	tern_dkim_signer *s;

	if (in == NULL || signer_r == NULL || in->struct_size == 0)
		return TERN_EINVAL;
	tern_dkim_sign_options_init(&o);
	memcpy(&o, in, in->struct_size < sizeof o ? in->struct_size : sizeof o);
	if (o.key == NULL || o.domain == NULL || o.selector == NULL ||
	    !tern__dkim_valid_domain(o.domain, strlen(o.domain)) ||
	    !tern__dkim_valid_domain(o.selector, strlen(o.selector)) ||
	    (o.identity && !valid_identity(o.identity, o.domain)) ||
	    (o.header_canon != TERN_DKIM_SIMPLE && o.header_canon != TERN_DKIM_RELAXED) ||
	    (o.body_canon != TERN_DKIM_SIMPLE && o.body_canon != TERN_DKIM_RELAXED) ||
	    (o.expire && o.now == 0) || o.now < 0)
		return TERN_EINVAL;
	if (o.identity)
		for (const char *p = o.identity; *p; p++)
			if (*p <= ' ' || *p == ';' || *p == 0x7f)
				return TERN_EINVAL;
	if (o.headers)
		for (const char *const *h = o.headers; *h; h++)
			if (!tern__dkim_valid_field_name(*h))
				return TERN_EINVAL;
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return TERN_ENOMEM;
	s->alg = o.key->alg;
	s->header_canon = (enum tern__canon)o.header_canon;
	s->body_canon = (enum tern__canon)o.body_canon;
	s->oversign = o.oversign;
	s->body_length = o.body_length;
	s->now = o.now;
	s->expire = o.expire;
	tern__headers_init(&s->hdr, o.max_header_bytes);
	s->domain = strdup(o.domain);
	s->selector = strdup(o.selector);
	s->identity = o.identity ? strdup(o.identity) : NULL;
	s->headers = o.headers ? copy_list(o.headers) : NULL;
	s->body_md = EVP_MD_CTX_new();
	if (!s->domain || !s->selector || (o.identity && !s->identity) ||
	    (o.headers && !s->headers) || !s->body_md ||
	    EVP_DigestInit_ex(s->body_md, EVP_sha256(), NULL) != 1) {
		tern_dkim_signer_free(&s);
		ERR_clear_error();
		return TERN_ENOMEM;
	}
	tern__canon_body_init(&s->body, s->body_canon, UINT64_MAX, s->body_md);
	/* The key is shared, not copied: EVP_PKEY is reference counted and
	 * immutable once made. */
	EVP_PKEY_up_ref(o.key->pkey);
	s->pkey = o.key->pkey;
	*signer_r = s;
	return 0;
}

int tern_dkim_signer_feed(tern_dkim_signer *s, const void *data, size_t len)
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

/* h=: each name signed once per instance, the over-signed ones once more. */
static void h_tag(tern_dkim_signer *s, struct tern__fold *f, struct tern__buf *list)
{
	const char *const *names = s->headers ? (const char *const *)s->headers : default_headers;
	bool from;
	size_t n = tern__fold_h_names(f, list, &s->hdr, names, s->oversign ? oversigned : NULL,
				      &from);

	/* RFC 6376 5.4: "The From header field MUST be signed". */
	if (!from)
		tern__fold_h_name(f, list, "from", 4, n == 0);
	tern__fold_add(f, ";", 1);
}

int tern_dkim_signer_finish(tern_dkim_signer *s, char **field_r, size_t *len_r)
{
	unsigned char bh[TERN__DKIM_DIGEST_LEN], hd[TERN__DKIM_DIGEST_LEN];
	char bh64[TERN__BASE64_ENCODED_LEN(sizeof bh) + 1];
	unsigned int dlen;
	struct tern__fold f;
	struct tern__buf list;
	int rc;

	if (s->finished)
		return TERN_ESTATE;
	s->finished = true;
	if ((rc = tern__headers_end(&s->hdr)) < 0)
		return rc;
	if (s->hdr.over_limit)
		return TERN_ELIMIT;
	if (tern__canon_body_end(&s->body) < 0 || EVP_DigestFinal_ex(s->body_md, bh, &dlen) != 1) {
		ERR_clear_error();
		return TERN_EIO;
	}
	tern__base64_encode(bh, sizeof bh, bh64, sizeof bh64);

	tern__fold_init(&f);
	tern__buf_init(&list, 0);
	tern__fold_add(&f, "DKIM-Signature: v=1;", 20);
	tern__fold_tag(&f, "a=%s;",
		       s->alg == TERN_DKIM_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256");
	tern__fold_tag(&f, "c=%s/%s;", s->header_canon == TERN__CANON_RELAXED ? "relaxed" : "simple",
		       s->body_canon == TERN__CANON_RELAXED ? "relaxed" : "simple");
	tern__fold_tag(&f, "d=%s;", s->domain);
	tern__fold_tag(&f, "s=%s;", s->selector);
	if (s->identity)
		tern__fold_tag(&f, "i=%s;", s->identity);
	if (s->now)
		tern__fold_tag(&f, "t=%lld;", (long long)s->now);
	if (s->expire)
		tern__fold_tag(&f, "x=%lld;", (long long)s->now + s->expire);
	if (s->body_length)
		tern__fold_tag(&f, "l=%" PRIu64 ";", s->body.total);
	h_tag(s, &f, &list);
	tern__fold_tag(&f, "bh=%s;", bh64);
	tern__fold_piece(&f, "b=", 2);
	if ((rc = f.err) < 0)
		goto fail;
	/* RFC 6376 3.7: the field itself is hashed with b= empty, as it is now. */
	rc = tern__dkim_header_digest(&s->hdr, s->header_canon, tern__buf_ptr(&list), list.len,
				      tern__buf_ptr(&f.b), f.b.len, hd);
	if (rc < 0)
		goto fail;
	if ((rc = tern__fold_signature(&f, s->pkey, s->alg, hd)) < 0)
		goto fail;
	tern__fold_add(&f, "\r\n", 3); /* and a NUL, not counted in the length */
	if ((rc = f.err) < 0)
		goto fail;
	f.b.len--;
	tern__buf_free(&list);
	*field_r = f.b.data; /* nothing was consumed: off is 0 */
	if (len_r)
		*len_r = f.b.len;
	return 0;
fail:
	tern__buf_free(&list);
	tern__buf_free(&f.b);
	return rc;
}

void tern_dkim_signer_free(tern_dkim_signer **signer)
{
	tern_dkim_signer *s;

	if (signer == NULL || (s = *signer) == NULL)
		return;
	EVP_PKEY_free(s->pkey);
	free(s->domain);
	free(s->selector);
	free(s->identity);
	if (s->headers) {
		for (size_t i = 0; s->headers[i]; i++)
			free(s->headers[i]);
		free(s->headers);
	}
	tern__headers_free(&s->hdr);
	EVP_MD_CTX_free(s->body_md);
	free(s);
	*signer = NULL;
}
