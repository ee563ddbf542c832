/* libtern SPF: the Sender Policy Framework check of RFC 7208.
 *
 * A check is sans-I/O: it never resolves a name itself. The caller creates
 * one with what the SMTP session knows (client address, HELO name, MAIL
 * FROM, its own name, the time), then drives a loop:
 *
 *   tern_spf *spf;
 *   const char *name;
 *   enum tern_dns_type type;
 *   int rc = tern_spf_new(&spf, &params);
 *   while (rc == 0 && tern_spf_next(spf, &name, &type) == TERN_SPF_QUERY) {
 *           struct tern_dns_answer a = lookup(name, type);   // may take a while
 *           rc = tern_spf_answer(spf, &a);
 *   }
 *   const struct tern_spf_outcome *o = tern_spf_outcome(spf, TERN_SPF_MAILFROM);
 *   ...
 *   tern_spf_destroy(&spf);
 *
 * At most one query is outstanding at a time, so an event loop can start
 * the lookup tern_spf_next() names, return to its other work, and call
 * tern_spf_answer() and tern_spf_next() again from the lookup's callback.
 * The number of queries is bounded by the RFC's limits (at most 10
 * DNS-querying terms, 10 MX or PTR names per term, 2 void lookups, plus
 * the record, explanation and %{p} lookups): a check never asks more than
 * TERN_SPF_MAX_QUERIES questions. A timeout is the caller's: answer
 * TERN_DNS_TEMPFAIL when a lookup takes too long.
 *
 * What a receiver checks (RFC 7208 2.3, 2.4): the "HELO" identity
 * (postmaster@HELO-name) and the "MAIL FROM" identity (the reverse-path,
 * or postmaster@HELO-name when it is null). params.checks says which; with
 * both, HELO is checked first, and a null reverse-path makes the MAIL FROM
 * result the HELO result (the same check_host() call; it is not repeated).
 *
 * Threads: a tern_spf is used by one thread at a time; distinct objects
 * are independent (the library has no global state). */
#ifndef TERN_SPF_H
#define TERN_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <tern/auth.h>
#include <tern/tern.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_spf tern_spf;

/* RFC 7208 2.6. */
enum tern_spf_result {
	TERN_SPF_RESULT_NONE = 0,   /* no record, or no usable domain to check */
	TERN_SPF_RESULT_NEUTRAL,    /* the domain makes no assertion ("?" or no match) */
	TERN_SPF_RESULT_PASS,       /* the client is authorized */
	TERN_SPF_RESULT_FAIL,       /* the client is explicitly not authorized */
	TERN_SPF_RESULT_SOFTFAIL,   /* probably not authorized ("~") */
	TERN_SPF_RESULT_TEMPERROR,  /* a DNS failure: try again later */
	TERN_SPF_RESULT_PERMERROR,  /* the domain's records are broken */
};

/* The identities (RFC 7208 2.3, 2.4), also used as bits in params.checks. */
enum tern_spf_identity {
	TERN_SPF_HELO = 1,
	TERN_SPF_MAILFROM = 2,
};

/* tern_spf_next()'s positive answers. */
enum tern_spf_step {
	TERN_SPF_DONE = 0,   /* every check asked for has a result */
	TERN_SPF_QUERY = 1,  /* look up *name_r / *type_r and call tern_spf_answer() */
};

/* The hard ceiling on questions one tern_spf asks, whatever the records
 * say (both identities, includes, MX and PTR names, %{p}, explanations). */
#define TERN_SPF_MAX_QUERIES 300

/* What a check is made from. Call tern_spf_params_init() first, then set
 * fields; the library reads it during tern_spf_new() only and keeps copies
 * of the strings. ABI: versioned by size like tern_dsn_options; new fields
 * are only ever appended. */
typedef struct tern_spf_params {
	size_t struct_size;        /* set by tern_spf_params_init(); never by hand */
	/* The SMTP client's address in numeric text: "192.0.2.1",
	 * "2001:db8::1"; an IPv4-mapped IPv6 address ("::ffff:192.0.2.1") is
	 * checked as the IPv4 address it carries (ip4 mechanisms match it,
	 * A records are asked). Required. */
	const char *client_ip;
	/* The HELO/EHLO argument as the client sent it ("" or NULL: none). */
	const char *helo;
	/* The MAIL FROM reverse-path without angle brackets ("user@example.com");
	 * NULL or "" is the null reverse-path <>. A sender with no "@" is
	 * taken as a domain with local-part "postmaster". */
	const char *mail_from;
	/* This host's name for the explanation's %{r}; NULL: "unknown". */
	const char *receiver;
	/* The time for the explanation's %{t} (seconds since the epoch). */
	time_t now;
	/* TERN_SPF_HELO and/or TERN_SPF_MAILFROM; 0 means TERN_SPF_MAILFROM. */
	unsigned checks;
	/* The explanation of a fail when the domain gives none (no exp=, or
	 * an exp= that cannot be used): a macro string (RFC 7208 7) expanded
	 * like an exp= text. NULL: "%{c} is not one of %{d}'s designated mail
	 * servers." */
	const char *default_explanation;
	/* Limits (RFC 7208 4.6.4); 0 takes the RFC's value, which is also
	 * the most allowed (a larger value is taken as the RFC's: the bound
	 * on questions rests on them). A check that goes over one ends in
	 * permerror. */
	unsigned max_dns_terms;    /* include a mx ptr exists redirect: 10 */
	unsigned max_void_lookups; /* answers with no record: 2 */
	unsigned max_names;        /* MX names per mx, PTR names per ptr: 10 */
} tern_spf_params;

void tern_spf_params_init(tern_spf_params *p);

/* Creates a check. Nothing is asked yet: call tern_spf_next(). Returns 0,
 * TERN_EINVAL (params NULL or from another ABI, client_ip missing or not
 * an address, checks has unknown bits) or TERN_ENOMEM. *spf_r is NULL on
 * error. */
int tern_spf_new(tern_spf **spf_r, const tern_spf_params *params);

/* Runs the check as far as it goes without DNS. Returns TERN_SPF_QUERY
 * with *name_r (the name in text, no trailing dot; valid until the next
 * call on spf) and *type_r set: the caller looks it up and passes the
 * answer to tern_spf_answer(). Returns TERN_SPF_DONE when every result is
 * known. Calling it again without answering asks the same question again.
 * Never fails: running out of memory ends the check in temperror ("out of
 * memory" as its problem), which it reports as TERN_SPF_DONE. */
int tern_spf_next(tern_spf *spf, const char **name_r, enum tern_dns_type *type_r);

/* Hands in the answer to the question tern_spf_next() asked last. The
 * library copies what it needs: answer need only live for this call.
 * Returns 0, TERN_EINVAL (answer NULL, or FOUND with no records array) or
 * TERN_ESTATE (no question is outstanding: the check is done or was
 * cancelled; the answer is ignored). */
int tern_spf_answer(tern_spf *spf, const struct tern_dns_answer *answer);

/* Stops the check where it is: every result not yet known becomes
 * temperror with problem "cancelled", tern_spf_next() returns
 * TERN_SPF_DONE and a late tern_spf_answer() returns TERN_ESTATE. Cheap;
 * the object must still be destroyed. */
void tern_spf_cancel(tern_spf *spf);

/* The outcome of one identity's check. */
struct tern_spf_outcome {
	enum tern_spf_result result;
	/* The domain checked (the MAIL FROM domain, or the HELO name), and the
	 * sender as checked (with "postmaster@" where the RFC puts it). */
	const char *domain;
	const char *sender;
	/* For fail: the explanation (exp= or the default), expanded, printable
	 * ASCII; NULL otherwise. */
	const char *explanation;
	/* The term that decided the result as it appears in the record
	 * ("-all", "include:_spf.example.com", "default" when no term
	 * matched); NULL when no record was evaluated. */
	const char *mechanism;
	/* For permerror and temperror (and none when the domain was not
	 * usable): a short reason for logs and the Received-SPF comment, e.g.
	 * "more than 10 DNS-querying terms"; NULL otherwise. */
	const char *problem;
};

/* The outcome of identity (TERN_SPF_HELO or TERN_SPF_MAILFROM), or NULL
 * when that identity was not asked for or its check has not ended yet.
 * Valid until tern_spf_destroy(). */
const struct tern_spf_outcome *tern_spf_outcome(const tern_spf *spf, enum tern_spf_identity identity);

/* The number of questions tern_spf_next() has asked so far. */
unsigned tern_spf_queries(const tern_spf *spf);

/* Frees the check and sets *spf to NULL. NULL and *spf == NULL are fine. */
void tern_spf_destroy(tern_spf **spf);

/* "pass", "fail", ... (RFC 7208 2.6 names, lower case); "unknown" for a
 * value outside the enum. Never NULL. */
const char *tern_spf_result_name(enum tern_spf_result result);

/* Writes the Received-SPF header field (RFC 7208 9.1) for identity's
 * outcome, without the final CRLF:
 *
 *   Received-SPF: pass (mx.example.org: domain of user@example.com
 *    designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1;
 *    envelope-from="user@example.com"; helo=mail.example.com;
 *    receiver=mx.example.org; identity=mailfrom; mechanism="ip4:192.0.2.0/24"
 *
 * folded (a CRLF put before the space) where a word would take a line
 * past 78 octets; problem= and mechanism= are added when known.
 * envelope-from is the sender as checked; other values that are not
 * dot-atoms are quoted; the receiver's name is the params' receiver. Like snprintf: writes at most size octets
 * including a NUL (buf may be NULL when size is 0) and returns the length
 * the whole field needs; TERN_EINVAL if the identity has no outcome. */
int tern_spf_received_spf(const tern_spf *spf, enum tern_spf_identity identity, char *buf,
			  size_t size);

/* Writes the Authentication-Results resinfo (RFC 8601 2.7.2) for
 * identity's outcome: "spf=pass smtp.mailfrom=example.com" or
 * "spf=none smtp.helo=mail.example.com". Like snprintf (see above);
 * TERN_EINVAL if the identity has no outcome. */
int tern_spf_auth_results(const tern_spf *spf, enum tern_spf_identity identity, char *buf,
			  size_t size);

#ifdef __cplusplus
}
#endif
#endif
