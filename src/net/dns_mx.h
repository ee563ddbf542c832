/* Where mail for a domain goes: the MX hosts and their addresses, in the
 * order to try them (RFC 5321 5.1, RFC 7505 null MX), for outbound delivery.
 *
 * Two parts, as FCrDNS in net/dns.h: a plan (pure decisions, fed answers by
 * tests or by the driver) and a driver that runs the lookups on a resolver
 * (net/dns.h), bounded by one deadline for the whole lookup.
 *
 * The decisions:
 *   - MX records sorted by preference; hosts of equal preference shuffled
 *     (RFC 5321 5.1: "randomize them to spread the load"), the shuffle
 *     drawn from a seed the caller gives (tests pass a fixed one);
 *   - no MX record (NODATA): the domain itself, with preference 0 (the
 *     "implicit MX", RFC 5321 5.1); NXDOMAIN: the domain does not exist,
 *     a permanent failure (5.1.2);
 *   - a null MX (RFC 7505: a single MX of preference 0 and exchange ".")
 *     is a permanent failure (5.1.10); a "." among other MX records is
 *     skipped (RFC 7505 says a domain must not publish both);
 *   - one of our own names among the MX hosts: that host and every host of
 *     the same or a higher preference value are dropped (RFC 5321 5.1); if
 *     that leaves none, mail would loop back to us (5.4.6, as Postfix's
 *     "mail for ... loops back to myself");
 *   - at most TERN__MX_MAX_HOSTS hosts are kept, and their A and AAAA
 *     records asked for together (both families; the caller orders them);
 *   - a failure is temporary (4.4.3) when any lookup that mattered failed
 *     temporarily (SERVFAIL, timeout) and no address came of the others;
 *     permanent (5.4.4) when every host is known to have no address
 *     (NXDOMAIN or NODATA for both families): an MX pointing nowhere.
 * CNAMEs are followed by libunbound; an MX naming a CNAME (RFC 2181 10.3
 * forbids it) is followed too, as every MTA does. */
#ifndef TERN_NET_DNS_MX_H
#define TERN_NET_DNS_MX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/dns.h"

/* Hosts tried per domain: enough for every real set-up (large providers
 * publish 2..5), bounded so that one domain cannot make us ask for
 * hundreds of names. */
#define TERN__MX_MAX_HOSTS 10
/* Addresses kept per host and family. */
#define TERN__MX_MAX_ADDRS 8

enum tern__mx_status {
	TERN__MX_OK = 0,     /* at least one host has an address */
	TERN__MX_NULL,       /* RFC 7505 null MX: the domain takes no mail (5.1.10) */
	TERN__MX_NO_DOMAIN,  /* NXDOMAIN for the domain (5.1.2) */
	TERN__MX_NO_ADDRESS, /* no host has an address, and none may get one (5.4.4) */
	TERN__MX_LOOP,       /* the best MX host is us (5.4.6) */
	TERN__MX_TEMPFAIL,   /* a lookup failed for now, no address came (4.4.3) */
	TERN__MX_TIMEOUT,    /* the whole lookup took longer than allowed (4.4.3) */
};

struct tern__mx_host {
	char name[TERN__DNS_NAME_SIZE]; /* no trailing dot, as published */
	unsigned preference;
	/* Addresses of each family (A, AAAA), as answered; n 0: none. */
	struct tern__dns_addr v4[TERN__MX_MAX_ADDRS], v6[TERN__MX_MAX_ADDRS];
	size_t n_v4, n_v6;
	/* The address lookups: pending until answered. */
	bool v4_done, v6_done;
	enum tern__dns_status v4_status, v6_status;
	/* Both address answers validated by DNSSEC (for DANE, RFC 7672 2.2). */
	bool secure;
	bool insecure; /* an answer that was not */
};

struct tern__mx_plan {
	char domain[TERN__DNS_NAME_SIZE];
	bool implicit;            /* no MX record: hosts[0] is the domain itself */
	bool mx_secure;           /* the MX answer was DNSSEC-validated */
	struct tern__mx_host hosts[TERN__MX_MAX_HOSTS];
	size_t n_hosts;
	bool done;
	enum tern__mx_status status;
	/* Why, for a DSN's Diagnostic-Code and the log ("MX host x.test has
	 * no address", "SERVFAIL looking up MX for y.test", ...). */
	char detail[640];
};

/* Starts a plan for domain (no trailing dot; an A-label domain: the caller
 * converts IDNs). Returns 0 or TERN_EINVAL (no domain name). */
int tern__mx_plan_init(struct tern__mx_plan *p, const char *domain);

/* The MX answer. self: our own host names (NULL-terminated, may be NULL),
 * compared without case. seed shuffles equal preferences. Decides at once
 * (done) for a null MX, NXDOMAIN, a failure or a loop; else the hosts wait
 * for their addresses. */
void tern__mx_plan_mx(struct tern__mx_plan *p, const struct tern__dns_answer *mx,
		      const char *const *self, uint64_t seed);

/* The A (type TERN__DNS_A) or AAAA answer for hosts[i]. Decides once every
 * address answer is in. */
void tern__mx_plan_addr(struct tern__mx_plan *p, size_t i, int type,
			const struct tern__dns_answer *answer);

/* Ends a plan whose time is over: the answers in so far decide (a host with
 * an address is enough), else TERN__MX_TIMEOUT. */
void tern__mx_plan_timeout(struct tern__mx_plan *p);

/* Enhanced status code (RFC 3463) for a plan's failure: "5.1.10", "4.4.3",
 * ...; NULL for TERN__MX_OK. */
const char *tern__mx_status_code(enum tern__mx_status status);
bool tern__mx_status_permanent(enum tern__mx_status status);

/* ---- driver ---------------------------------------------------------- */

struct tern__mx_lookup;

/* Called once with the decided plan (valid until it returns). */
typedef void tern__mx_cb(const struct tern__mx_plan *plan, void *arg);

/* Looks up domain's MX hosts and their addresses on dns, within timeout_ms
 * for the whole lookup (0: TERN__DNS_DEFAULT_TIMEOUT_MS). self and seed as
 * tern__mx_plan_mx() (self is copied). The callback runs exactly once, never
 * inside this call, unless tern__mx_cancel() comes first. Returns 0,
 * TERN_EINVAL (no domain name, no dns) or TERN_ENOMEM; no callback then. */
int tern__mx_lookup_start(struct tern__dns *dns, const char *domain, const char *const *self,
			  uint64_t seed, unsigned timeout_ms, tern__mx_cb *cb, void *arg,
			  struct tern__mx_lookup **l_r);

/* The same for one host and no MX (a relay host named in brackets, as
 * Postfix's "[host]"): the plan holds host alone, with its addresses. */
int tern__mx_host_lookup_start(struct tern__dns *dns, const char *host, unsigned timeout_ms,
			       tern__mx_cb *cb, void *arg, struct tern__mx_lookup **l_r);

/* Stops the lookup; its callback never runs. Sets *l to NULL; no effect on
 * NULL. Not from inside its own callback. */
void tern__mx_cancel(struct tern__mx_lookup **l);

#endif
