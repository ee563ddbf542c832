/* A delivery group's TLS policy: see client/tls_policy.h. */
#include "client/tls_policy.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "client/https_get.h"
#include "client/mta_sts.h"
#include "net/dns.h"
#include "tern/tern.h"

#define STS_PATH "/.well-known/mta-sts.txt"
#define DEFAULT_STS_PORT 443
#define DEFAULT_STS_TIMEOUT_MS 10000

/* "3 1 2 " and a SHA-512 in hex; a full certificate is cut (the log and a
 * report need to recognise the record, not to rebuild it). */
#define TLSA_TEXT 200

struct tern__tls_policy;

struct host_state {
	struct tern__tls_policy *p;
	size_t i;
	char name[TERN__DNS_NAME_SIZE];
	struct tern__dns_query *q;   /* the TLSA lookup running */
	struct tern__dane_host dane;
	char (*texts)[TLSA_TEXT];    /* the records, for reports */
	const char **strings;        /* pointers into texts */
	size_t n_strings;
};

struct tern__tls_policy {
	const struct tern__tls_policy_env *env;
	char domain[TERN__DNS_NAME_SIZE];
	struct host_state hosts[TERN__MX_MAX_HOSTS];
	size_t n_hosts;
	size_t pending;              /* lookups running */
	bool planned, ready_done;
	/* MTA-STS: the TXT lookup, then maybe the fetch. */
	bool sts_pending;
	struct tern__dns_query *sts_q;
	struct tern__https_get *sts_get;
	char sts_id[TERN__STS_ID_SIZE];
	struct tern__sts_policy sts;  /* mode NONE: no policy applies */
	bool sts_active;              /* testing or enforce */
	void (*ready)(void *arg);
	void *ready_arg;
	struct event ready_ev;
};

static void plog(struct tern__tls_policy *p, enum tern_smtp_log_level level, const char *fmt,
		 ...) __attribute__((format(printf, 3, 4)));

static void plog(struct tern__tls_policy *p, enum tern_smtp_log_level level, const char *fmt, ...)
{
	const tern_delivery_options *o = p->env->o;
	char line[768];
	va_list ap;

	if (o->on_log == NULL || level > o->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->on_log(level, line, o->user_data);
}

/* One outcome to the embedder and the log. i: a host of the plan, or
 * SIZE_MAX for the domain's policy itself. */
static void report(struct tern__tls_policy *p, size_t i, const char *ip, const char *result,
		   const char *detail, bool delivered_anyway, bool sts)
{
	const tern_delivery_options *o = p->env->o;
	const struct host_state *h = i < p->n_hosts ? &p->hosts[i] : NULL;
	tern_delivery_tls_outcome out = {
		.domain = p->domain,
		.policy = TERN_DELIVERY_POLICY_NONE,
		.mx_host = h != NULL ? h->name : "",
		.ip = ip != NULL ? ip : "",
		.result = result,
		.detail = detail != NULL ? detail : "",
		.delivered_anyway = delivered_anyway,
	};
	static const char *const names[] = {"no-policy-found", "tlsa", "sts"};

	if (h != NULL && h->dane.state != TERN__DANE_NONE) {
		out.policy = TERN_DELIVERY_POLICY_TLSA;
		out.policy_strings = h->strings;
		out.n_policy_strings = h->n_strings;
	} else if (p->sts_active || sts) {
		out.policy = TERN_DELIVERY_POLICY_STS;
		out.policy_strings = (const char *const *)p->sts.lines;
		out.n_policy_strings = p->sts.n_lines;
		out.sts_testing = p->sts.mode == TERN__STS_TESTING;
	}
	plog(p, result != NULL ? TERN_LOG_INFO : TERN_LOG_DEBUG,
	     "TLS outcome: domain=%s policy=%s mx=%s ip=%s result=%s%s%s%s", out.domain,
	     names[out.policy], out.mx_host[0] ? out.mx_host : "-", out.ip[0] ? out.ip : "-",
	     result != NULL ? result : "success", out.detail[0] ? " (" : "", out.detail,
	     out.detail[0] ? ")" : "");
	if (o->on_tls_outcome != NULL)
		o->on_tls_outcome(&out, o->user_data);
}

/* ---- policy lifetime ---------------------------------------------------- */

static void on_ready_event(evutil_socket_t fd, short what, void *arg)
{
	struct tern__tls_policy *p = arg;

	(void)fd;
	(void)what;
	p->ready(p->ready_arg);
}

/* Every lookup is over: ready() from the loop. */
static void maybe_ready(struct tern__tls_policy *p)
{
	if (!p->planned || p->pending > 0 || p->sts_pending || p->ready_done)
		return;
	p->ready_done = true;
	event_active(&p->ready_ev, EV_TIMEOUT, 0);
}

/* ---- MTA-STS (RFC 8461 3, 5.1) ----------------------------------------- */

/* The policy to apply is known (or that there is none). */
static void sts_done(struct tern__tls_policy *p)
{
	p->sts_pending = false;
	p->sts_active = p->sts.mode != TERN__STS_NONE;
	if (p->sts_active)
		plog(p, TERN_LOG_DEBUG, "%s: MTA-STS policy id %s, mode %s, %zu mx pattern(s)",
		     p->domain, p->sts_id, p->sts.mode == TERN__STS_ENFORCE ? "enforce" : "testing",
		     p->sts.n_mx);
	maybe_ready(p);
}

/* An unexpired cached policy (rule 3 of client/mta_sts.h); false when
 * there is none. */
static bool sts_use_cached(struct tern__tls_policy *p)
{
	const char *id, *text;
	size_t len;

	if (!tern__sts_cache_get(p->env->cache, p->domain, (int64_t)time(NULL), &id, &text, &len))
		return false;
	tern__sts_policy_clear(&p->sts);
	if (tern__sts_policy_parse(&p->sts, text, len, NULL) != 0)
		return false;
	snprintf(p->sts_id, sizeof(p->sts_id), "%s", id);
	return true;
}

static void on_sts_body(enum tern__https_result result, const char *body, size_t len,
			const char *why, void *arg)
{
	struct tern__tls_policy *p = arg;
	const char *type = NULL, *bad = NULL;
	int r;

	p->sts_get = NULL;
	if (result == TERN__HTTPS_OK) {
		tern__sts_policy_clear(&p->sts);
		r = tern__sts_policy_parse(&p->sts, body, len, &bad);
		if (r == 0) {
			(void)tern__sts_cache_put(p->env->cache, p->domain, p->sts_id, body, len,
						  (int64_t)time(NULL));
			sts_done(p);
			return;
		}
		type = "sts-policy-invalid";
		why = bad != NULL ? bad : "out of memory";
	} else {
		type = result == TERN__HTTPS_WEBPKI ? "sts-webpki-invalid" : "sts-policy-fetch-error";
	}
	/* RFC 8461 5.1: a failed fetch leaves a cached, unexpired policy in
	 * force. */
	if (!sts_use_cached(p))
		tern__sts_policy_clear(&p->sts);
	plog(p, TERN_LOG_INFO, "%s: MTA-STS policy fetch failed: %s%s", p->domain, why,
	     p->sts.mode != TERN__STS_NONE ? "; the cached policy applies" : "");
	report(p, SIZE_MAX, NULL, type, why, false, true);
	sts_done(p);
}

static void on_sts_txt(const struct tern__dns_answer *a, void *arg)
{
	struct tern__tls_policy *p = arg;
	const char *cached_id, *text;
	size_t len;
	char id[TERN__STS_ID_SIZE], host[TERN__DNS_NAME_SIZE + 16];
	int r;

	p->sts_q = NULL;
	if (!tern__sts_txt_id(a, id)) {
		/* No policy announced (or the lookup failed): a cached one
		 * still holds until it expires (RFC 8461 5.1). */
		(void)sts_use_cached(p);
		sts_done(p);
		return;
	}
	/* RFC 8461 3.3: the same id as the cached policy: no fetch. */
	if (tern__sts_cache_get(p->env->cache, p->domain, (int64_t)time(NULL), &cached_id, &text,
				&len) &&
	    strcmp(cached_id, id) == 0 && sts_use_cached(p)) {
		sts_done(p);
		return;
	}
	snprintf(p->sts_id, sizeof(p->sts_id), "%s", id);
	snprintf(host, sizeof(host), "mta-sts.%s", p->domain);
	plog(p, TERN_LOG_DEBUG, "%s: fetching the MTA-STS policy (id %s) from https://%s%s",
	     p->domain, id, host, STS_PATH);
	r = tern__https_get(p->env->base, p->env->dns, p->env->tls, host,
			    p->env->sts_port ? p->env->sts_port : DEFAULT_STS_PORT, STS_PATH,
			    TERN__STS_MAX_BODY,
			    p->env->sts_timeout_ms ? p->env->sts_timeout_ms : DEFAULT_STS_TIMEOUT_MS,
			    on_sts_body, p, &p->sts_get);
	if (r != 0)
		on_sts_body(TERN__HTTPS_FETCH, NULL, 0, "cannot start the fetch", p);
}

static int sts_start(struct tern__tls_policy *p)
{
	char name[TERN__DNS_NAME_SIZE + 16];
	int r;

	if (snprintf(name, sizeof(name), "_mta-sts.%s", p->domain) >= TERN__DNS_NAME_SIZE)
		return 0; /* no such name can exist: no policy */
	r = tern__dns_query(p->env->dns, name, TERN__DNS_TXT, p->env->dns_timeout_ms, on_sts_txt, p,
			    &p->sts_q);
	p->sts_pending = r == 0;
	return r == TERN_ENOMEM ? r : 0;
}

int tern__tls_policy_new(struct tern__tls_policy **p_r, const struct tern__tls_policy_env *env,
			 const char *domain)
{
	struct tern__tls_policy *p;

	*p_r = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return TERN_ENOMEM;
	p->env = env;
	snprintf(p->domain, sizeof(p->domain), "%s", domain);
	event_assign(&p->ready_ev, env->base, -1, 0, on_ready_event, p);
	if (env->mta_sts && sts_start(p) == TERN_ENOMEM) {
		free(p);
		return TERN_ENOMEM;
	}
	*p_r = p;
	return 0;
}

static void host_clear(struct host_state *h)
{
	tern__dns_cancel(&h->q);
	tern__dane_host_clear(&h->dane);
	free(h->texts);
	free(h->strings);
	h->texts = NULL;
	h->strings = NULL;
	h->n_strings = 0;
}

void tern__tls_policy_free(struct tern__tls_policy **pp)
{
	struct tern__tls_policy *p;

	if (pp == NULL || *pp == NULL)
		return;
	p = *pp;
	for (size_t i = 0; i < p->n_hosts; i++)
		host_clear(&p->hosts[i]);
	tern__dns_cancel(&p->sts_q);
	tern__https_get_cancel(&p->sts_get);
	tern__sts_policy_clear(&p->sts);
	event_del(&p->ready_ev);
	free(p);
	*pp = NULL;
}

/* ---- DANE --------------------------------------------------------------- */

/* The records in presentation form, for reports (best effort: without
 * memory the report names no record). */
static void keep_strings(struct host_state *h)
{
	size_t n = h->dane.n_tlsa;

	if (n == 0)
		return;
	h->texts = calloc(n, sizeof(*h->texts));
	h->strings = calloc(n, sizeof(*h->strings));
	if (h->texts == NULL || h->strings == NULL) {
		free(h->texts);
		free(h->strings);
		h->texts = NULL;
		h->strings = NULL;
		return;
	}
	for (size_t k = 0; k < n; k++) {
		tern__dane_tlsa_format(&h->dane.tlsa[k], h->texts[k], TLSA_TEXT);
		h->strings[k] = h->texts[k];
	}
	h->n_strings = n;
}

static void on_tlsa(const struct tern__dns_answer *a, void *arg)
{
	struct host_state *h = arg;
	struct tern__tls_policy *p = h->p;

	h->q = NULL;
	p->pending--;
	if (tern__dane_host_decide(&h->dane, a) != 0)
		tern__dane_host_fail(&h->dane, "validation-failure", "out of memory");
	keep_strings(h);
	switch (h->dane.state) {
	case TERN__DANE_VERIFY:
		plog(p, TERN_LOG_DEBUG, "%s: DANE, %zu usable TLSA record(s)", h->name,
		     h->dane.n_tlsa);
		break;
	case TERN__DANE_ENCRYPT:
		plog(p, TERN_LOG_INFO, "%s: DANE, but none of %zu TLSA record(s) is usable: TLS "
		     "required, unauthenticated", h->name, h->dane.n_unusable);
		break;
	case TERN__DANE_FAILED:
		plog(p, TERN_LOG_INFO, "%s: %s: host not used", h->name, h->dane.why);
		break;
	case TERN__DANE_NONE:
		break;
	}
	maybe_ready(p);
}

int tern__tls_policy_plan(struct tern__tls_policy *p, const struct tern__mx_plan *plan,
			  void (*ready)(void *arg), void *arg)
{
	const struct tern__tls_policy_env *env = p->env;

	p->ready = ready;
	p->ready_arg = arg;
	p->n_hosts = plan->n_hosts;
	for (size_t i = 0; i < plan->n_hosts; i++) {
		struct host_state *h = &p->hosts[i];
		char name[TERN__DNS_NAME_SIZE + 16];
		int r;

		h->p = p;
		h->i = i;
		snprintf(h->name, sizeof(h->name), "%s", plan->hosts[i].name);
		if (!env->dane || !tern__dane_lookup_due(plan->mx_secure, plan->hosts[i].secure))
			continue;
		if (tern__dane_tlsa_name(name, sizeof(name), env->port, h->name) != 0) {
			tern__dane_host_fail(&h->dane, "tlsa-invalid", "TLSA name too long");
			continue;
		}
		r = tern__dns_query(env->dns, name, TERN__DNS_TLSA, env->dns_timeout_ms, on_tlsa, h,
				    &h->q);
		if (r == TERN_ENOMEM)
			return r;
		if (r != 0) {
			tern__dane_host_fail(&h->dane, "dnssec-invalid", "TLSA lookup refused");
			continue;
		}
		p->pending++;
	}
	p->planned = true;
	maybe_ready(p);
	return 0;
}

/* ---- decisions and outcomes ------------------------------------------- */

void tern__tls_policy_host(struct tern__tls_policy *p, size_t i, struct tern__host_tls *h_r)
{
	memset(h_r, 0, sizeof(*h_r));
	if (p == NULL || i >= p->n_hosts)
		return;
	const struct host_state *h = &p->hosts[i];

	switch (h->dane.state) {
	case TERN__DANE_FAILED:
		/* RFC 7672 2.2: no DANE answer, no delivery to this host. */
		h_r->skip = true;
		snprintf(h_r->why, sizeof(h_r->why), "MX host %s: %s", h->name, h->dane.why);
		report(p, i, NULL, h->dane.rpt_type, h->dane.why, false, false);
		return;
	case TERN__DANE_VERIFY:
		h_r->require_tls = true;
		h_r->tlsa = h->dane.tlsa;
		h_r->n_tlsa = h->dane.n_tlsa;
		return;
	case TERN__DANE_ENCRYPT:
		h_r->require_tls = true;
		return;
	case TERN__DANE_NONE:
		break;
	}
	/* RFC 8461 2: DANE wins where it applies; MTA-STS for the rest. */
	if (!p->sts_active)
		return;
	if (!tern__sts_mx_match(&p->sts, h->name)) {
		char why[sizeof(h_r->why)];

		snprintf(why, sizeof(why), "MX host %s is not in the MTA-STS policy of %s", h->name,
			 p->domain);
		/* RFC 8461 5: enforce skips it; testing reports and goes on. */
		report(p, i, NULL, "validation-failure", why, p->sts.mode == TERN__STS_TESTING,
		       true);
		if (p->sts.mode == TERN__STS_ENFORCE) {
			h_r->skip = true;
			snprintf(h_r->why, sizeof(h_r->why), "%s", why);
		}
		return;
	}
	if (p->sts.mode == TERN__STS_ENFORCE) {
		/* RFC 8461 4.2: STARTTLS, a certificate valid for the MX
		 * host name (PKIX), or no delivery to this host. */
		h_r->require_tls = true;
		h_r->verify = true;
	}
}

bool tern__tls_policy_strict(const struct tern__tls_policy *p)
{
	if (p == NULL)
		return false;
	if (p->sts_active && p->sts.mode == TERN__STS_ENFORCE)
		return true;
	for (size_t i = 0; i < p->n_hosts; i++)
		if (p->hosts[i].dane.state == TERN__DANE_VERIFY ||
		    p->hosts[i].dane.state == TERN__DANE_ENCRYPT)
			return true;
	return false;
}

void tern__tls_policy_session(struct tern__tls_policy *p, size_t i, const char *ip,
			      const struct tern__outbound *o)
{
	const struct host_state *h;

	if (p == NULL || i >= p->n_hosts)
		return;
	h = &p->hosts[i];
	if (h->dane.state == TERN__DANE_ENCRYPT) {
		/* Delivered over TLS, but no record could authenticate. */
		report(p, i, ip, "tlsa-invalid", "no usable TLSA record", true, false);
		return;
	}
	if (!tern__outbound_tls_active(o)) {
		report(p, i, ip, "starttls-not-supported", "", true, false);
		return;
	}
	/* Under MTA-STS (testing mode gets here unverified) or DANE the
	 * certificate counts; without a policy any TLS is a success. */
	if ((p->sts_active || h->dane.state == TERN__DANE_VERIFY) &&
	    tern__outbound_tls_rpt_type(o) != NULL) {
		report(p, i, ip, tern__outbound_tls_rpt_type(o), tern__outbound_tls_summary(o), true,
		       false);
		return;
	}
	report(p, i, ip, NULL, tern__outbound_tls_summary(o), false, false);
}

void tern__tls_policy_failed(struct tern__tls_policy *p, size_t i, const char *ip,
			     const struct tern__outbound_end *end)
{
	const char *type = end->rpt_type;

	if (p == NULL || i >= p->n_hosts)
		return;
	if (type == NULL && end->failure != NULL && end->failure->reason == TERN_SMTP_CLIENT_R_TLS)
		type = "starttls-not-supported";
	if (type == NULL)
		return; /* not a TLS failure: nothing for TLS-RPT */
	report(p, i, ip, type, end->why, false, false);
}
