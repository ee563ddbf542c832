/* MTA-STS (RFC 8461): the TXT record, the policy file, MX patterns, and the
 * per-agent policy cache. Pure parts, no I/O: client/tls_policy.c feeds
 * them the DNS answer and the HTTPS body (client/https_get.h), tests and
 * the fuzzer feed them bytes.
 *
 * What the cache promises (RFC 8461 5.1, 3.3):
 *   1. a policy is kept with the TXT id it was fetched under and the time
 *      it was fetched; it expires max_age seconds later;
 *   2. a TXT id different from the cached one means fetch again; the
 *      same id and an unexpired policy means no fetch;
 *   3. when the fetch fails (or the TXT record is gone or unreadable), an
 *      unexpired cached policy is still used;
 *   4. at most TERN__STS_CACHE_MAX domains; the least recently fetched
 *      goes first.
 * The embedder may mirror it through tern_delivery_sts_store. */
#ifndef TERN_CLIENT_MTA_STS_H
#define TERN_CLIENT_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/dns.h"
#include "tern/delivery.h"

/* RFC 8461 3.3: a policy body larger than this is refused (64 KiB, as
 * the RFC suggests). */
#define TERN__STS_MAX_BODY 65536
/* RFC 8461 3.2: max_age at most 31557600 s (one year); larger is cut. */
#define TERN__STS_MAX_AGE 31557600
/* mx patterns kept per policy; a bound on what a hostile file makes us hold. */
#define TERN__STS_MAX_MX 32
/* RFC 8461 3.1: id is 1*32 alphanumerics. */
#define TERN__STS_ID_SIZE 33
#define TERN__STS_CACHE_MAX 10000

enum tern__sts_mode {
	TERN__STS_NONE = 0,
	TERN__STS_TESTING,
	TERN__STS_ENFORCE,
};

struct tern__sts_policy {
	enum tern__sts_mode mode;
	uint32_t max_age;            /* seconds, capped at TERN__STS_MAX_AGE */
	char *mx[TERN__STS_MAX_MX];  /* lower case, no trailing dot; "*.x" wildcards */
	size_t n_mx;
	/* The policy's lines as "key: value", for TLS-RPT policy-strings. */
	char **lines;
	size_t n_lines;
};

/* The TXT answer for _mta-sts.DOMAIN: true and the id when exactly one
 * record starts with "v=STSv1" and it is valid (RFC 8461 3.1: "v=STSv1;
 * id=...;" with optional spaces, unknown fields ignored); false otherwise
 * (no policy announced). raw TXT RDATA (character-strings). */
bool tern__sts_txt_id(const struct tern__dns_answer *txt, char id[TERN__STS_ID_SIZE]);

/* The same for one record's text (the character-strings joined). */
bool tern__sts_txt_parse(const char *text, size_t len, char id[TERN__STS_ID_SIZE]);

/* Parses a policy body (RFC 8461 3.2: "key: value" lines ended by CRLF or
 * LF). Returns 0; TERN_EINVAL when it is no valid policy (no or a wrong
 * version, no or a bad mode or max_age, no mx in enforce or testing mode,
 * a bad mx pattern, a NUL, a line without ':', a body over
 * TERN__STS_MAX_BODY; why, when not NULL, says which); TERN_ENOMEM. *p
 * is cleared first and holds nothing on error. Unknown keys are ignored;
 * of a repeated key other than mx the first counts. */
int tern__sts_policy_parse(struct tern__sts_policy *p, const char *body, size_t len,
			   const char **why);

void tern__sts_policy_clear(struct tern__sts_policy *p);

/* Whether host (no trailing dot; any case) matches the policy's mx
 * patterns: equal, or "*.rest" where host is one label followed by
 * ".rest" (RFC 8461 4.1: the wildcard matches exactly one label). */
bool tern__sts_mx_match(const struct tern__sts_policy *p, const char *host);

/* One pattern against one host, as above. */
bool tern__sts_pattern_match(const char *pattern, const char *host);

/* ---- cache ------------------------------------------------------------- */

struct tern__sts_cache;

/* Returns 0 or TERN_ENOMEM. store (may be NULL) is copied. */
int tern__sts_cache_new(struct tern__sts_cache **c_r, const tern_delivery_sts_store *store,
			void *user_data);
void tern__sts_cache_free(struct tern__sts_cache **c);

/* Whether domain has a cached, unexpired policy at time now (seconds since
 * the epoch): its TXT id and its body (valid until the next call that
 * changes the cache; the caller parses its own copy with
 * tern__sts_policy_parse()). Asks the store's load() once for a domain it
 * does not hold. */
bool tern__sts_cache_get(struct tern__sts_cache *c, const char *domain, int64_t now,
			 const char **id_r, const char **text_r, size_t *len_r);

/* Keeps a fetched policy body (parsed again here) under id, fetched at
 * now, and tells the store. Returns 0, TERN_EINVAL (not a policy: nothing
 * changes) or TERN_ENOMEM. */
int tern__sts_cache_put(struct tern__sts_cache *c, const char *domain, const char *id,
			const char *body, size_t len, int64_t now);

#endif
