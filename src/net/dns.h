/* DNS through libunbound on the connection's own event loop.
 *
 * One resolver per event loop (tern__dns_new on the worker's base): queries
 * never block the loop (ub_resolve_event), and every answer is delivered by
 * that loop. What this module promises its callers:
 *   1. a callback never runs inside the call that started its query: an
 *      answer libunbound has at once (cache, local data) waits for the next
 *      pass of the loop;
 *   2. every query ends in exactly one callback (answer, NXDOMAIN, no data,
 *      temporary failure or timeout) unless it was cancelled first;
 *   3. after tern__dns_cancel() (or tern__dns_free()) no callback of that
 *      query runs, ever;
 *   4. the timeout is ours (an event timer): libunbound's own retries can
 *      take much longer than a client should wait;
 *   5. inside a callback the query is already over: do not cancel it there.
 *
 * Answers come parsed into small structs for PTR, A, AAAA and MX, and as raw
 * rdata for TXT and TLSA (SPF, DKIM, DMARC and DANE parse their own), each
 * with the DNSSEC status libunbound reports.
 *
 * The pure parts (reverse names, answer parsing, name checks, the FCrDNS
 * decisions) are separate functions so that unit tests feed them made-up
 * answers; no test needs a DNS server for them. */
#ifndef TERN_NET_DNS_H
#define TERN_NET_DNS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct tern__dns;
struct tern__dns_query;
struct tern__dns_fcrdns_lookup;

/* The client's lookup when the options say nothing (dns_timeout). */
#define TERN__DNS_DEFAULT_TIMEOUT_MS 5000
/* FCrDNS follows at most this many PTR names (Postfix's reverse lookup
 * takes one; a name with several PTRs gets a bounded number of tries). */
#define TERN__DNS_FCRDNS_MAX_NAMES 10
/* A domain name in text, without the trailing dot, with its NUL. */
#define TERN__DNS_NAME_SIZE 254
/* "f.e.d....ip6.arpa" with its NUL. */
#define TERN__DNS_PTR_NAME_SIZE 73

/* RR types asked for (RFC 1035 3.2.2, RFC 3596, RFC 6698). */
enum tern__dns_type {
	TERN__DNS_A = 1,
	TERN__DNS_PTR = 12,
	TERN__DNS_MX = 15,
	TERN__DNS_TXT = 16,
	TERN__DNS_AAAA = 28,
	TERN__DNS_TLSA = 52,
};

enum tern__dns_status {
	TERN__DNS_ANSWER = 0, /* at least one record of the type asked */
	TERN__DNS_NXDOMAIN,   /* RCODE 3: the name does not exist */
	TERN__DNS_NODATA,     /* the name exists, no record of that type */
	TERN__DNS_TEMPFAIL,   /* SERVFAIL, REFUSED, a malformed answer, no server */
	TERN__DNS_TIMEOUT,    /* no answer within the query's time */
};

/* libunbound's sec value of ub_resolve_event's callback. Without a trust
 * anchor everything is insecure. */
enum tern__dns_security {
	TERN__DNS_INSECURE = 0,
	TERN__DNS_BOGUS = 1,
	TERN__DNS_SECURE = 2,
};

struct tern__dns_addr {
	int family;                /* AF_INET or AF_INET6 */
	unsigned char bytes[16];   /* 4 used for AF_INET */
};

struct tern__dns_mx {
	unsigned preference;
	char *exchange;            /* no trailing dot; "" for the null MX (RFC 7505) */
};

struct tern__dns_rdata {
	unsigned char *data;       /* the record's RDATA as received */
	size_t len;
};

/* One answer. Exactly one of the arrays is set (by type) when status is
 * TERN__DNS_ANSWER; n counts its entries. Valid until the callback returns. */
struct tern__dns_answer {
	enum tern__dns_status status;
	enum tern__dns_security security;
	int type;
	unsigned ttl;                  /* smallest TTL of the records */
	size_t n;
	char **names;                  /* PTR: no trailing dot, as received */
	struct tern__dns_addr *addrs;  /* A, AAAA */
	struct tern__dns_mx *mx;       /* MX, in the order received */
	struct tern__dns_rdata *raw;   /* TXT (character-strings), TLSA, other types */
};

/* ---- resolver --------------------------------------------------------- */

/* Creates a resolver whose queries run on base (not owned; it must outlive
 * the resolver). server: "ADDR" or "ADDR@PORT" to forward every query to
 * (tests, split horizon; the reverse zones and test. that libunbound would
 * answer itself are then asked of it too); NULL: the servers of
 * /etc/resolv.conf and the names of /etc/hosts. Nothing is sent yet.
 * Returns 0, TERN_ENOMEM, or TERN_EINVAL (server unparsable; err, when not
 * NULL, gets libunbound's reason). */
int tern__dns_new(struct tern__dns **dns_r, struct event_base *base, const char *server,
		  char *err, size_t err_size);

/* Makes the resolver validate DNSSEC from the trust anchors in file (DS or
 * DNSKEY records in zone-file form, as /usr/share/dns/root.key; libunbound's
 * ub_ctx_add_ta_file); may be called for several files. Without one every
 * answer is TERN__DNS_INSECURE. With a forwarding server, the zones it is
 * asked about in place of the real tree (test., the loopback reverse zones)
 * count as unsigned unless file anchors a zone inside them. Only before
 * the first query. Returns 0, TERN_ENOMEM, or TERN_EINVAL (after a query,
 * or a file libunbound cannot read: err, when not NULL, says why). */
int tern__dns_add_trust_anchor(struct tern__dns *dns, const char *file, char *err,
			       size_t err_size);

/* True when server is "ADDR" or "ADDR@PORT" (a numeric IPv4 or IPv6
 * address, a port 1..65535), what tern__dns_new() accepts. */
bool tern__dns_server_valid(const char *server);

/* Cancels every query still running (no callback runs) and frees the
 * resolver. Sets *dns to NULL. Not from inside one of its callbacks; FCrDNS
 * lookups on it must have been cancelled or ended first. */
void tern__dns_free(struct tern__dns **dns);

/* The loop the resolver's queries run on. */
struct event_base *tern__dns_base(const struct tern__dns *dns);

/* Called once with the outcome. answer is valid until it returns. */
typedef void tern__dns_cb(const struct tern__dns_answer *answer, void *arg);

/* Asks for name's records of type (enum tern__dns_type or any other RR
 * type; unknown types come back raw). timeout_ms 0 means
 * TERN__DNS_DEFAULT_TIMEOUT_MS. *q_r (may be NULL when the caller never
 * cancels) is valid until the callback runs or tern__dns_cancel(). Returns
 * 0, TERN_EINVAL (a name that is no domain name, or over 253 octets),
 * TERN_ENOMEM or TERN_EIO (libunbound refused it); no callback then. */
int tern__dns_query(struct tern__dns *dns, const char *name, int type, unsigned timeout_ms,
		    tern__dns_cb *cb, void *arg, struct tern__dns_query **q_r);

/* PTR of a numeric IPv4 or IPv6 address ("192.0.2.1", "2001:db8::1"); as
 * tern__dns_query(), TERN_EINVAL also for something that is no address. */
int tern__dns_query_ptr(struct tern__dns *dns, const char *address, unsigned timeout_ms,
			tern__dns_cb *cb, void *arg, struct tern__dns_query **q_r);

/* Stops a query: its callback never runs. Sets *q to NULL; no effect on
 * NULL. Only before the callback ran (rule 5). */
void tern__dns_cancel(struct tern__dns_query **q);

/* ---- pure helpers ----------------------------------------------------- */

/* The reverse name (RFC 1035 3.5, RFC 3596 2.5) of a numeric address:
 * "1.2.0.192.in-addr.arpa", nibbles under "ip6.arpa" for IPv6; an
 * IPv4-mapped IPv6 address takes its IPv4 name. Returns 0 or TERN_EINVAL
 * (no address, or size too small: TERN__DNS_PTR_NAME_SIZE always does). */
int tern__dns_ptr_name(const char *address, char *buf, size_t size);

/* Parses a numeric address; an IPv4-mapped IPv6 one becomes AF_INET.
 * Returns 0 or TERN_EINVAL. */
int tern__dns_addr_parse(const char *text, struct tern__dns_addr *addr_r);

/* A name fit to stand for a client in a reply or a Received: header: LDH
 * labels of 1..63 octets (RFC 1123 2.1), no hyphen at either end of a
 * label, at most 253 octets, a final label that is not all digits (no
 * look-alike of an address). No trailing dot. */
bool tern__dns_hostname_valid(const char *name, size_t len);

/* Parses a DNS message (wire format) answering type: fills *answer (its
 * status, records and security = sec). rcode is libunbound's (non-zero:
 * the query failed). Answer-section records count when their owner is the
 * name asked or the end of its CNAME chain. A malformed message, and any
 * answer whose sec is bogus (DNSSEC validation failed), is
 * TERN__DNS_TEMPFAIL. Returns 0 or TERN_ENOMEM; clear *answer afterwards
 * either way. */
int tern__dns_parse(struct tern__dns_answer *answer, int type, const void *packet, size_t len,
		    int rcode, int sec);

/* Frees what tern__dns_parse() put in *answer and zeroes it. */
void tern__dns_answer_clear(struct tern__dns_answer *answer);

/* ---- forward-confirmed reverse DNS (the client's name) --------------- */

enum tern__dns_fcrdns_result {
	TERN__FCRDNS_CONFIRMED = 0, /* a PTR name whose addresses include the client's */
	TERN__FCRDNS_NO_NAME,       /* NXDOMAIN, no PTR, or no usable host name in it */
	TERN__FCRDNS_MISMATCH,      /* no PTR name resolves back to the address */
	TERN__FCRDNS_TEMPFAIL,      /* a lookup failed (SERVFAIL, ...) and none confirmed */
	TERN__FCRDNS_TIMEOUT,       /* the whole lookup took longer than allowed */
};

/* The decisions, without I/O: tests feed them made-up answers, the driver
 * below feeds them libunbound's. */
struct tern__dns_fcrdns {
	struct tern__dns_addr client;
	char *names[TERN__DNS_FCRDNS_MAX_NAMES];
	size_t n_names;
	size_t next;               /* the name whose addresses are asked next */
	bool done;
	bool tempfail;             /* some forward lookup failed temporarily */
	enum tern__dns_fcrdns_result result;
	const char *hostname;      /* CONFIRMED: one of names[] */
};

/* Starts a decision for a numeric address. Returns 0 or TERN_EINVAL. */
int tern__dns_fcrdns_init(struct tern__dns_fcrdns *f, const char *address);
/* The PTR answer: keeps up to TERN__DNS_FCRDNS_MAX_NAMES valid, distinct
 * host names (others are skipped), or decides. Returns 0 or TERN_ENOMEM. */
int tern__dns_fcrdns_ptr(struct tern__dns_fcrdns *f, const struct tern__dns_answer *answer);
/* The next forward lookup to make (name and A or AAAA by the client's
 * family), or NULL once decided (f->done). */
const char *tern__dns_fcrdns_next(const struct tern__dns_fcrdns *f, int *type_r);
/* The answer to the lookup tern__dns_fcrdns_next() named. */
void tern__dns_fcrdns_forward(struct tern__dns_fcrdns *f, const struct tern__dns_answer *answer);
void tern__dns_fcrdns_clear(struct tern__dns_fcrdns *f);

/* Lookups and their outcomes, shared by a server's workers. */
struct tern__dns_fcrdns_counters {
	atomic_uint_fast64_t lookups;
	atomic_uint_fast64_t confirmed;
	atomic_uint_fast64_t no_name;
	atomic_uint_fast64_t mismatch;
	atomic_uint_fast64_t tempfail;
	atomic_uint_fast64_t timeout;
	atomic_uint_fast64_t cancelled;
};

/* hostname: the confirmed name (valid until the callback returns), or NULL
 * when the result is not TERN__FCRDNS_CONFIRMED. */
typedef void tern__dns_fcrdns_cb(enum tern__dns_fcrdns_result result, const char *hostname,
				 void *arg);

/* Runs the whole FCrDNS lookup for address on dns, bounded by timeout_ms
 * (0: TERN__DNS_DEFAULT_TIMEOUT_MS) with a timer of its own. counters may
 * be NULL. The callback runs exactly once, never inside this call, unless
 * tern__dns_fcrdns_cancel() comes first. Returns 0, TERN_EINVAL (no
 * address) or TERN_ENOMEM. */
int tern__dns_fcrdns_start(struct tern__dns *dns, const char *address, unsigned timeout_ms,
			   struct tern__dns_fcrdns_counters *counters, tern__dns_fcrdns_cb *cb,
			   void *arg, struct tern__dns_fcrdns_lookup **l_r);
/* Stops the lookup (its queries are cancelled, no callback runs). Sets *l
 * to NULL; no effect on NULL. Not from inside its own callback. */
void tern__dns_fcrdns_cancel(struct tern__dns_fcrdns_lookup **l);

const char *tern__dns_fcrdns_result_name(enum tern__dns_fcrdns_result result);
const char *tern__dns_status_name(enum tern__dns_status status);

#endif
