/* The TLS policy of one delivery group (a recipient domain's MX delivery):
 * DANE (client/dane.h) per MX host and MTA-STS (client/mta_sts.h) per
 * domain, decided before the first connection, and every attempt's TLS
 * outcome reported in RFC 8460 terms (tern_delivery_tls_outcome).
 *
 * client/delivery.c asks it four things, in this order:
 *   1. tern__tls_policy_new() when the group starts: the MTA-STS lookup
 *      starts then, beside the MX lookup;
 *   2. tern__tls_policy_plan() with the MX plan: the TLSA lookups of the
 *      hosts that qualify; ready() runs (from the loop, never inside a
 *      call) once every lookup is over;
 *   3. tern__tls_policy_host() before connecting to a host: skip it, or
 *      what its connection must require;
 *   4. tern__tls_policy_session() / tern__tls_policy_failed() after: the
 *      outcome is reported.
 * It owns no connection and no timer of its own beyond its DNS queries,
 * the policy fetch and one event for ready(). */
#ifndef TERN_CLIENT_TLS_POLICY_H
#define TERN_CLIENT_TLS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "client/dane.h"
#include "client/outbound.h"
#include "net/dns_mx.h"
#include "tern/delivery.h"

struct event_base;
struct tern__tls_client;
struct tern__sts_cache;
struct tern__tls_policy;

/* What the delivery agent shares with every group's policy. */
struct tern__tls_policy_env {
	struct event_base *base;
	struct tern__dns *dns;
	struct tern__tls_client *tls;  /* the policy fetch's PKIX verification */
	bool dane, mta_sts;
	unsigned port;                 /* the MX port: _PORT._tcp.HOST */
	unsigned dns_timeout_ms;
	unsigned sts_port;             /* 443 */
	unsigned sts_timeout_ms;
	struct tern__sts_cache *cache; /* NULL without mta_sts */
	const tern_delivery_options *o; /* on_log, on_tls_outcome, user_data */
};

/* What a host's connection must do. */
struct tern__host_tls {
	bool skip;                     /* do not connect to this host now */
	char why[640];                 /* skip: for the log and a DSN */
	bool require_tls;              /* no plaintext, no fallback without TLS */
	bool verify;                   /* PKIX (MTA-STS enforce) */
	const struct tern__tlsa *tlsa; /* DANE: valid while the policy lives */
	size_t n_tlsa;
};

/* Starts the policy for domain (an A-label, no trailing dot). Returns 0 or
 * TERN_ENOMEM. */
int tern__tls_policy_new(struct tern__tls_policy **p_r, const struct tern__tls_policy_env *env,
			 const char *domain);

/* The MX plan is in (status TERN__MX_OK; copied): starts the TLSA lookups.
 * ready(arg) runs once from the loop when the policy is complete. Returns
 * 0 or TERN_ENOMEM (no callback then). */
int tern__tls_policy_plan(struct tern__tls_policy *p, const struct tern__mx_plan *plan,
			  void (*ready)(void *arg), void *arg);

/* The decision for the plan's host i; a skipped host's outcome is
 * reported here. */
void tern__tls_policy_host(struct tern__tls_policy *p, size_t i, struct tern__host_tls *h_r);

/* A session on host i (at ip) got past EHLO (and STARTTLS if any): its
 * outcome is reported. */
void tern__tls_policy_session(struct tern__tls_policy *p, size_t i, const char *ip,
			      const struct tern__outbound *o);

/* A connection to host i never got a session because of TLS (end of
 * client/outbound.h): reported when it was TLS that failed. */
void tern__tls_policy_failed(struct tern__tls_policy *p, size_t i, const char *ip,
			     const struct tern__outbound_end *end);

/* Whether any host of the plan is under DANE or the domain under an
 * enforced MTA-STS policy (a connection opened without one must not be
 * reused for it). False for NULL. */
bool tern__tls_policy_strict(const struct tern__tls_policy *p);

/* Cancels every lookup; no callback afterwards. Sets *p to NULL. */
void tern__tls_policy_free(struct tern__tls_policy **p);

#endif
