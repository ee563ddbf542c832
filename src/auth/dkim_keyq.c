/* The key queries and body hashes a verifier keeps (dkim_keyq.h), for the
 * DKIM verifier (dkim_verify.c) and the ARC verifier (arc_verify.c): ARC's
 * signatures are DKIM's (RFC 8617 4.1.2) and find their keys and hash the
 * body the same way, so both engines share this one copy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "auth/dkim_keyq.h"

int tern__dkim_keyqs_add(struct tern__dkim_keyqs *t, const char *s, size_t s_len, const char *d,
			 size_t d_len, size_t *idx_r)
{
	size_t len = s_len + 12 + d_len;
	struct tern__dkim_keyq *q;
	char *name = malloc(len + 1);

	if (name == NULL)
		return TERN_ENOMEM;
	/* RFC 6376 3.6.2.1: the key is at <selector>._domainkey.<domain>. */
	snprintf(name, len + 1, "%.*s._domainkey.%.*s", (int)s_len, s, (int)d_len, d);
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->q[i].name) == len && tern__ascii_ieq(t->q[i].name, name, len)) {
			free(name);
			*idx_r = i;
			return 0;
		}
	q = realloc(t->q, (t->n + 1) * sizeof *q);
	if (q == NULL) {
		free(name);
		return TERN_ENOMEM;
	}
	t->q = q;
	memset(&q[t->n], 0, sizeof *q);
	q[t->n].name = name;
	*idx_r = t->n++;
	return 0;
}

int tern__dkim_keyqs_next(struct tern__dkim_keyqs *t, const char **name_r)
{
	for (size_t i = 0; i < t->n; i++)
		if (!t->q[i].given) {
			t->q[i].given = true;
			*name_r = t->q[i].name;
			return 1;
		}
	return 0;
}

int tern__dkim_keyqs_answer(struct tern__dkim_keyqs *t, const char *name,
			    const struct tern_dns_answer *a)
{
	struct tern__dkim_keyq *q = NULL;
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	for (size_t i = 0; i < t->n && q == NULL; i++)
		if (strlen(t->q[i].name) == len && tern__ascii_ieq(t->q[i].name, name, len))
			q = &t->q[i];
	if (q == NULL || !q->given || q->answered)
		return TERN_EINVAL;
	q->status = a->status;
	if (a->status == TERN_DNS_FOUND)
		for (size_t i = 0; i < a->count && q->count < TERN__DKIM_KEYQ_MAX_TXT; i++) {
			size_t n = a->rrs[i].len < TERN__DKIM_KEYQ_TXT_MAX ? a->rrs[i].len
									   : TERN__DKIM_KEYQ_TXT_MAX;
			char *txt = malloc(n + 1);

			if (txt == NULL)
				return TERN_ENOMEM; /* not answered: the caller may retry */
			memcpy(txt, a->rrs[i].data, n);
			txt[n] = '\0';
			q->txt[q->count] = txt;
			q->txt_len[q->count++] = n;
		}
	q->answered = true;
	return 0;
}

size_t tern__dkim_keyqs_pending(const struct tern__dkim_keyqs *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += t->q[i].given && !t->q[i].answered;
	return n;
}

int tern__dkim_keyq_key(const struct tern__dkim_keyq *q, enum tern_dkim_algorithm alg,
			struct tern__dkim_keyrec *rec, const char **reason)
{
	const char *first = NULL, *why = NULL;

	if (!q->answered) {
		*reason = "no answer to the key query";
		return 1;
	}
	switch (q->status) {
	case TERN_DNS_FOUND:
		break;
	case TERN_DNS_TEMPFAIL:
		*reason = "key query failed (DNS)";
		return 1;
	default:
		/* RFC 6376 6.1.2: "If the query for the public key fails because
		 * the corresponding key record does not exist, the Verifier MUST
		 * immediately return PERMFAIL (no key for signature)." */
		*reason = "no key for signature";
		return -1;
	}
	for (size_t i = 0; i < q->count; i++) {
		if (tern__dkim_keyrec_parse(q->txt[i], q->txt_len[i], alg, rec, &why) == 0)
			return 0;
		if (first == NULL)
			first = why;
	}
	*reason = first ? first : "no key for signature";
	return -1;
}

void tern__dkim_keyqs_free(struct tern__dkim_keyqs *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->q[i].name);
		for (size_t k = 0; k < t->q[i].count; k++)
			free(t->q[i].txt[k]);
	}
	free(t->q);
	t->q = NULL;
	t->n = 0;
}

int tern__dkim_bodies_find(struct tern__dkim_bodies *t, enum tern__canon canon, uint64_t limit,
			   size_t *idx_r)
{
	struct tern__dkim_bodyhash *b;

	for (size_t i = 0; i < t->n; i++)
		if (t->b[i].canon == canon && t->b[i].limit == limit) {
			*idx_r = i;
			return 0;
		}
	b = realloc(t->b, (t->n + 1) * sizeof *b);
	if (b == NULL)
		return TERN_ENOMEM;
	t->b = b;
	b = &t->b[t->n];
	memset(b, 0, sizeof *b);
	b->md = EVP_MD_CTX_new();
	if (b->md == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(b->md);
		ERR_clear_error();
		return TERN_ENOMEM;
	}
	b->canon = canon;
	b->limit = limit;
	tern__canon_body_init(&b->cb, canon, limit, b->md);
	*idx_r = t->n++;
	return 0;
}

void tern__dkim_bodies_feed(struct tern__dkim_bodies *t, const char *p, size_t len)
{
	for (size_t i = 0; i < t->n; i++)
		tern__canon_body_feed(&t->b[i].cb, p, len);
}

int tern__dkim_bodies_end(struct tern__dkim_bodies *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tern__dkim_bodyhash *b = &t->b[i];
		unsigned int dlen;

		if (tern__canon_body_end(&b->cb) < 0 ||
		    EVP_DigestFinal_ex(b->md, b->digest, &dlen) != 1) {
			ERR_clear_error();
			return TERN_EIO;
		}
	}
	return 0;
}

void tern__dkim_bodies_free(struct tern__dkim_bodies *t)
{
	for (size_t i = 0; i < t->n; i++)
		EVP_MD_CTX_free(t->b[i].md);
	free(t->b);
	t->b = NULL;
	t->n = 0;
}
