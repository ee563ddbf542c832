/* Tern mail authentication: what DKIM, SPF, DMARC and ARC share.
 *
 * The engines of <tern/dkim.h>, <tern/spf.h> and <tern/dmarc.h> are sans-I/O:
 * they never resolve a name themselves. An engine says which name and type it
 * needs; the caller looks it up however it likes (libunbound on its event
 * loop, a cache, a test's fixed data) and hands back a struct tern_dns_answer.
 * The engine copies what it keeps, so the answer and everything it points to
 * need only live for the duration of the call it is passed to.
 *
 * Threads: these are plain types; nothing here has state. */
#ifndef TERN_AUTH_H
#define TERN_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <tern/tern.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The record types the engines ask for (RFC 1035 3.2.2, RFC 3596). */
enum tern_dns_type {
	TERN_DNS_TYPE_A = 1,
	TERN_DNS_TYPE_PTR = 12,
	TERN_DNS_TYPE_MX = 15,
	TERN_DNS_TYPE_TXT = 16,
	TERN_DNS_TYPE_AAAA = 28,
};

/* How a lookup ended. SPF and DKIM tell "no such name" from "no record of
 * that type" (RFC 7208 4.6.4's void lookups), and both from a failure to get
 * an answer at all (temperror). */
enum tern_dns_status {
	TERN_DNS_FOUND = 0,   /* at least one record of the type asked */
	TERN_DNS_NXDOMAIN,    /* RCODE 3: the name does not exist */
	TERN_DNS_NODATA,      /* the name exists, with no record of that type */
	TERN_DNS_TEMPFAIL,    /* SERVFAIL, REFUSED, a timeout, no server: try later */
};

/* One record of an answer, already decoded from wire form:
 *   TXT   data = the record's character-strings joined without separator
 *         (RFC 7208 3.3, RFC 6376 3.6.2.2), len its length; may hold any
 *         octet, including NUL, so always use len;
 *   A     data = 4 octets, network order;
 *   AAAA  data = 16 octets, network order;
 *   MX    data = the exchange's name in text without the trailing dot,
 *         preference = its preference; "" is the null MX (RFC 7505);
 *   PTR   data = the name in text without the trailing dot. */
struct tern_dns_rr {
	const unsigned char *data;
	size_t len;
	unsigned preference;   /* MX only */
};

/* A whole answer. rrs/count are meaningful only with TERN_DNS_FOUND. A
 * CNAME chain is the caller's resolver's business: the records given are
 * those of the type asked, at the end of the chain. */
struct tern_dns_answer {
	enum tern_dns_status status;
	bool secure;   /* DNSSEC-validated (libunbound's sec == secure) */
	const struct tern_dns_rr *rrs;
	size_t count;
};

#ifdef __cplusplus
}
#endif
#endif
