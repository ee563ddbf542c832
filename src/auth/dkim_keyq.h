/* What a DKIM verifier and an ARC verifier keep while a message streams
 * (dkim_keyq.c): the key queries handed to the caller with their answers,
 * and the body hashes, one per distinct (canonicalization, l=).
 *
 * Shared because RFC 8617 4.1.2 and 5.2 make an ARC-Message-Signature and
 * an ARC-Seal DKIM signatures in all but name: the same key records at the
 * same <s>._domainkey.<d> names (RFC 6376 3.6.2.1), asked and answered
 * through the same next_query/key_answer/pending contract, and the same
 * body hash (RFC 6376 3.7). One table keeps both engines answering a key
 * the same way. */
#ifndef TERN_AUTH_DKIM_KEYQ_H
#define TERN_AUTH_DKIM_KEYQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/dkim_int.h"
#include "tern/auth.h"

#define TERN__DKIM_KEYQ_MAX_TXT 4    /* key records tried at one name */
#define TERN__DKIM_KEYQ_TXT_MAX 8192 /* longer key records are not DKIM keys */

struct tern__dkim_keyq {
	char *name;              /* "<s>._domainkey.<d>" */
	bool given, answered;
	enum tern_dns_status status;
	char *txt[TERN__DKIM_KEYQ_MAX_TXT];
	size_t txt_len[TERN__DKIM_KEYQ_MAX_TXT];
	size_t count;
};

/* The key queries of one verifier; zeroed is empty. */
struct tern__dkim_keyqs {
	struct tern__dkim_keyq *q;
	size_t n;
};

/* The index of the query for selector s in domain d, added when no query
 * of that name (ASCII case-insensitive) is there yet. Returns 0 or
 * TERN_ENOMEM. */
int tern__dkim_keyqs_add(struct tern__dkim_keyqs *t, const char *s, size_t s_len, const char *d,
			 size_t d_len, size_t *idx_r);

/* The next query not given yet: sets *name_r (valid until the table is
 * freed), marks it given and returns 1; 0 when none is left. */
int tern__dkim_keyqs_next(struct tern__dkim_keyqs *t, const char **name_r);

/* Stores the answer for name (a final dot is ignored): the status and at
 * most TERN__DKIM_KEYQ_MAX_TXT records, each cut at
 * TERN__DKIM_KEYQ_TXT_MAX octets; the library keeps copies. Returns 0,
 * TERN_EINVAL for a name never given or already answered, TERN_ENOMEM
 * (the query stays unanswered, so the caller may retry). */
int tern__dkim_keyqs_answer(struct tern__dkim_keyqs *t, const char *name,
			    const struct tern_dns_answer *a);

/* How many queries were given and not answered yet. */
size_t tern__dkim_keyqs_pending(const struct tern__dkim_keyqs *t);

/* The key for a signature of algorithm alg from query q's answer: the
 * first record that parses (RFC 6376 6.1.2). Returns 0 with *rec filled
 * (the caller frees it with tern__dkim_keyrec_free()), 1 when the failure
 * is temporary (no answer, DNS failure), -1 when it is permanent (no
 * record, none usable); *reason (static) says why in both. */
int tern__dkim_keyq_key(const struct tern__dkim_keyq *q, enum tern_dkim_algorithm alg,
			struct tern__dkim_keyrec *rec, const char **reason);

void tern__dkim_keyqs_free(struct tern__dkim_keyqs *t);

/* One body hash being computed. */
struct tern__dkim_bodyhash {
	enum tern__canon canon;
	uint64_t limit;          /* UINT64_MAX: the whole body */
	EVP_MD_CTX *md;
	struct tern__canon_body cb;
	unsigned char digest[TERN__DKIM_DIGEST_LEN]; /* after tern__dkim_bodies_end() */
};

/* The body hashes of one verifier; zeroed is empty. */
struct tern__dkim_bodies {
	struct tern__dkim_bodyhash *b;
	size_t n;
};

/* The index of the body hash for (canon, limit), added when there is none
 * yet. Returns 0 or TERN_ENOMEM. */
int tern__dkim_bodies_find(struct tern__dkim_bodies *t, enum tern__canon canon, uint64_t limit,
			   size_t *idx_r);

/* Feeds body octets to every body hash. */
void tern__dkim_bodies_feed(struct tern__dkim_bodies *t, const char *p, size_t len);

/* The body has ended: every digest is final. Returns 0 or TERN_EIO. */
int tern__dkim_bodies_end(struct tern__dkim_bodies *t);

void tern__dkim_bodies_free(struct tern__dkim_bodies *t);

#endif
