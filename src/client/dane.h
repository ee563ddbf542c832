/* DANE for SMTP (RFC 7672): which MX hosts get a TLSA lookup, what the
 * answer means for the connection, and the TLSA records kept for OpenSSL's
 * DANE verification (net/tls_client.h).
 *
 * Pure decisions, fed answers (tests feed made-up ones; client/tls_policy.c
 * feeds libunbound's):
 *   1. TLSA is asked for only when the MX RRset was DNSSEC-secure (for an
 *      implicit MX: the secure NODATA answer) and the host's address
 *      records were secure too (RFC 7672 2.2.1, 2.2.2): anything the
 *      attacker could have forged cannot be the anchor of a policy;
 *   2. a secure answer with usable records (DANE-TA(2) or DANE-EE(3), a
 *      known selector and matching type, a digest of the right length)
 *      makes STARTTLS mandatory and authenticated by those records;
 *   3. a secure answer whose records are all unusable (PKIX-TA(0) and
 *      PKIX-EE(1) are unusable for SMTP, RFC 7672 3.1.3) still makes TLS
 *      mandatory, without authentication (RFC 7672 2.2, Postfix's
 *      "encrypt" level for that case);
 *   4. a secure denial (NXDOMAIN, NODATA) or an insecure answer: not DANE,
 *      the ordinary TLS policy applies;
 *   5. a bogus answer, a failed or timed-out lookup: the host must not be
 *      used now (RFC 7672 2.2: no downgrade to plaintext); the next MX is
 *      tried, and when none is left the recipients fail temporarily. */
#ifndef TERN_CLIENT_DANE_H
#define TERN_CLIENT_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/dns.h"
#include "net/tls_client.h"

/* TLSA records kept per host: a real RRset has one to four; a bound keeps
 * a hostile zone from making us hold thousands. */
#define TERN__DANE_MAX_TLSA 16
/* Full certificates (matching type 0) longer than this are not kept. */
#define TERN__DANE_MAX_DATA 4096

/* RFC 6698 2.1 fields; RFC 7218 names. */
enum {
	TERN__TLSA_PKIX_TA = 0,
	TERN__TLSA_PKIX_EE = 1,
	TERN__TLSA_DANE_TA = 2,
	TERN__TLSA_DANE_EE = 3,
	TERN__TLSA_SEL_CERT = 0,
	TERN__TLSA_SEL_SPKI = 1,
	TERN__TLSA_MT_FULL = 0,
	TERN__TLSA_MT_SHA256 = 1,
	TERN__TLSA_MT_SHA512 = 2,
};

enum tern__dane_state {
	TERN__DANE_NONE = 0,   /* not DANE: the ordinary policy (rules 1 and 4) */
	TERN__DANE_VERIFY,     /* usable records: STARTTLS, authenticated by them */
	TERN__DANE_ENCRYPT,    /* only unusable records: STARTTLS, unauthenticated */
	TERN__DANE_FAILED,     /* the host is unusable for now (rule 5) */
};

/* A host's DANE decision. */
struct tern__dane_host {
	enum tern__dane_state state;
	struct tern__tlsa tlsa[TERN__DANE_MAX_TLSA]; /* VERIFY: the usable ones */
	size_t n_tlsa;
	size_t n_unusable;     /* records skipped as unusable or malformed */
	/* FAILED: the RFC 8460 4.3 result type ("dnssec-invalid",
	 * "tlsa-invalid") and a line for the log and a DSN. */
	const char *rpt_type;
	char why[160];
};

/* Whether a TLSA lookup is due for a host: rule 1. */
bool tern__dane_lookup_due(bool mx_secure, bool host_addresses_secure);

/* The owner name of a host's TLSA records for a port (RFC 7672 2.2.3:
 * "_25._tcp.mx.example"). Returns 0, or TERN_EINVAL when it would be
 * longer than a domain name. */
int tern__dane_tlsa_name(char *buf, size_t size, unsigned port, const char *host);

/* Parses one TLSA RDATA: false when shorter than the three octets and one
 * of data. t->data points into rdata (not owned). */
bool tern__dane_tlsa_parse(const unsigned char *rdata, size_t len, struct tern__tlsa *t);

/* Whether a parsed record is usable for SMTP (rule 2). */
bool tern__dane_tlsa_usable(const struct tern__tlsa *t);

/* Decides from the TLSA answer (rules 2 to 5); h is cleared first. Returns
 * 0 or TERN_ENOMEM (h then holds nothing). */
int tern__dane_host_decide(struct tern__dane_host *h, const struct tern__dns_answer *tlsa);

/* A lookup that never happened because the whole lookup's time ran out:
 * rule 5. */
void tern__dane_host_fail(struct tern__dane_host *h, const char *rpt_type, const char *why);

/* Frees the kept records; h is then TERN__DANE_NONE. */
void tern__dane_host_clear(struct tern__dane_host *h);

/* "3 1 1 0a1b..." (RFC 6698 2.2 presentation form) of a record, cut at
 * size; for logs and TLS-RPT's policy-string. */
void tern__dane_tlsa_format(const struct tern__tlsa *t, char *buf, size_t size);

#endif
