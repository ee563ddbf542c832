/* SPF, DKIM and DMARC of inbound messages, driven on an event loop: see
 * include/tern/mailauth.h.
 *
 * Every lookup of every engine goes through one path (start_query ->
 * on_answer -> handle_answer), so a timeout or a failure to even send a
 * query is the same thing for all three: the engine is handed a TEMPFAIL
 * answer and decides what that means (temperror, for all three). */
#include "tern/mailauth.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "tern/arc.h"
#include "tern/authres.h"
#include "mail/header_filter.h"
#include "net/dns.h"
#include "net/dns_auth.h"

/* From fields looked at: one is legal (RFC 5322 3.6); a few more are
 * enough to say "several" and still read them. */
#define MAX_FROM_FIELDS 4
/* Author domains evaluated (mailboxes of one From with differing
 * domains): the stricter outcome wins (tern_dmarc_stricter). */
#define MAX_FROM_DOMAINS 4
#define DEFAULT_FINISH_TIMEOUT_MS 20000

struct tern_mailauth_ctx {
	struct event_base *base;
	struct tern__dns *dns;
	tern_mailauth_options o;
	char *authserv_id;
};

enum query_kind { Q_SPF, Q_DKIM, Q_ARC, Q_DMARC };

struct pending_query {
	struct pending_query *next, *prev;
	tern_mailauth *ma;
	enum query_kind kind;
	unsigned dmarc_index;
	struct tern__dns_query *q;
	char name[];
};

struct tern_mailauth {
	tern_mailauth_ctx *ctx;
	char *client_ip, *helo, *mail_from, *receiver;
	uint32_t random;
	time_t now;

	tern_spf *spf;
	bool spf_done;

	tern_dkim_verifier *dkim;
	bool dkim_broken;           /* out of memory while feeding: no DKIM verdicts */
	const tern_dkim_result *dkim_results;
	size_t dkim_count;

	tern_arc_verifier *arc;
	bool arc_broken;            /* out of memory: arc=temperror-like "fail" not claimed */
	const tern_arc_result *arc_result;

	struct tern__hdr_filter headers;
	char *from[MAX_FROM_FIELDS];
	size_t from_len[MAX_FROM_FIELDS];
	size_t from_fields;         /* how many From fields were seen, even past the array */
	bool from_too_long;

	struct tern_dmarc *dmarc[MAX_FROM_DOMAINS];
	size_t dmarc_count;
	bool dmarc_started, dmarc_done;
	const struct tern_dmarc_outcome *dmarc_outcome;
	struct tern_dmarc_outcome dmarc_local;  /* when no evaluation could start */
	char dmarc_reason[96];

	struct pending_query *queries;
	bool timed_out;
	bool finished, ready;
	tern_mailauth_cb *cb;
	void *cb_arg;
	struct event *timer;        /* finish_timeout_ms after finish */
	struct event *deliver;      /* runs cb on the next turn of the loop */
	char *field;
	size_t field_len;
};

static void maybe_progress(tern_mailauth *ma);
static void spf_step(tern_mailauth *ma);
static void dmarc_step(tern_mailauth *ma, unsigned i);

void tern_mailauth_options_init(tern_mailauth_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->struct_size = sizeof(*opts);
}

/* ---- context ---------------------------------------------------------- */

int tern_mailauth_ctx_new(tern_mailauth_ctx **ctx_r, struct event_base *base,
			  const tern_mailauth_options *opts, char *err, size_t err_size)
{
	tern_mailauth_ctx *ctx;
	int rc;

	*ctx_r = NULL;
	if (base == NULL || opts == NULL || opts->struct_size != sizeof(*opts) ||
	    opts->authserv_id == NULL || opts->authserv_id[0] == '\0') {
		if (err != NULL && err_size > 0)
			snprintf(err, err_size, "an authserv-id is required");
		return TERN_EINVAL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return TERN_ENOMEM;
	ctx->base = base;
	ctx->o = *opts;
	ctx->authserv_id = strdup(opts->authserv_id);
	ctx->o.authserv_id = ctx->authserv_id;
	ctx->o.dns_server = NULL;   /* only used here */
	if (ctx->authserv_id == NULL) {
		free(ctx);
		return TERN_ENOMEM;
	}
	if (ctx->o.finish_timeout_ms == 0)
		ctx->o.finish_timeout_ms = DEFAULT_FINISH_TIMEOUT_MS;
	rc = tern__dns_new(&ctx->dns, base, opts->dns_server, err, err_size);
	if (rc != 0) {
		free(ctx->authserv_id);
		free(ctx);
		return rc;
	}
	*ctx_r = ctx;
	return 0;
}

void tern_mailauth_ctx_free(tern_mailauth_ctx **ctx)
{
	if (ctx == NULL || *ctx == NULL)
		return;
	tern__dns_free(&(*ctx)->dns);
	free((*ctx)->authserv_id);
	free(*ctx);
	*ctx = NULL;
}

bool tern_mailauth_claims_us(const tern_mailauth_ctx *ctx, const char *value, size_t len)
{
	int err = 0;
	bool ours = tern_authres_is_ours(value, len, false, ctx->authserv_id, &err);

	/* Unreadable: keeping a field that might carry our id would let a
	 * sender forge our verdicts, dropping a stranger's costs little. */
	return ours || err != 0;
}

/* ---- lookups ---------------------------------------------------------- */

static void unlink_query(tern_mailauth *ma, struct pending_query *pq)
{
	if (pq->prev != NULL)
		pq->prev->next = pq->next;
	else
		ma->queries = pq->next;
	if (pq->next != NULL)
		pq->next->prev = pq->prev;
}

/* An answer goes to the engine that asked. name: the name asked (DKIM
 * matches answers to signatures by it). */
static void deliver_answer(tern_mailauth *ma, enum query_kind kind, unsigned i, const char *name,
			   const struct tern_dns_answer *answer)
{
	switch (kind) {
	case Q_SPF:
		if (ma->spf != NULL && tern_spf_answer(ma->spf, answer) != 0)
			tern_spf_cancel(ma->spf);
		spf_step(ma);
		break;
	case Q_DKIM:
		if (ma->dkim != NULL)
			(void)tern_dkim_verifier_key_answer(ma->dkim, name, answer);
		maybe_progress(ma);
		break;
	case Q_ARC:
		if (ma->arc != NULL)
			(void)tern_arc_verifier_key_answer(ma->arc, name, answer);
		maybe_progress(ma);
		break;
	case Q_DMARC:
		if (tern_dmarc_feed(ma->dmarc[i], answer) != 0) {
			struct tern_dns_answer fail = {.status = TERN_DNS_TEMPFAIL};

			(void)tern_dmarc_feed(ma->dmarc[i], &fail);
		}
		dmarc_step(ma, i);
		break;
	}
}

/* pq's answer: pq is unlinked and freed before its engine moves on (which
 * may ask the next question at once). */
static void handle_answer(struct pending_query *pq, const struct tern_dns_answer *answer)
{
	tern_mailauth *ma = pq->ma;

	unlink_query(ma, pq);
	deliver_answer(ma, pq->kind, pq->dmarc_index, pq->name, answer);
	free(pq);
}

static void on_answer(const struct tern__dns_answer *answer, void *arg)
{
	struct pending_query *pq = arg;
	struct tern__dns_auth converted;

	pq->q = NULL;
	(void)tern__dns_auth_from(&converted, answer);
	handle_answer(pq, &converted.answer);
	tern__dns_auth_clear(&converted);
}

/* Asks name/type for an engine. A query that cannot be sent is answered
 * at once: NXDOMAIN for a name that is no domain name (no such name can
 * exist), TEMPFAIL otherwise and after the finish timeout. */
static void start_query(tern_mailauth *ma, enum query_kind kind, unsigned dmarc_index,
			const char *name, enum tern_dns_type type)
{
	size_t len = strlen(name);
	struct pending_query *pq = calloc(1, sizeof(*pq) + len + 1);
	struct tern_dns_answer failed = {.status = TERN_DNS_TEMPFAIL};
	int rc;

	if (pq == NULL) {
		deliver_answer(ma, kind, dmarc_index, name, &failed);
		return;
	}
	pq->ma = ma;
	pq->kind = kind;
	pq->dmarc_index = dmarc_index;
	memcpy(pq->name, name, len + 1);
	pq->next = ma->queries;
	if (pq->next != NULL)
		pq->next->prev = pq;
	ma->queries = pq;
	if (ma->timed_out) {
		handle_answer(pq, &failed);
		return;
	}
	rc = tern__dns_query(ma->ctx->dns, name, (int)type, ma->ctx->o.dns_timeout_ms, on_answer,
			     pq, &pq->q);
	if (rc != 0) {
		if (rc == TERN_EINVAL)
			failed.status = TERN_DNS_NXDOMAIN;
		handle_answer(pq, &failed);
	}
}

/* ---- the engines ------------------------------------------------------ */

static void spf_step(tern_mailauth *ma)
{
	const char *name;
	enum tern_dns_type type;
	int r;

	if (ma->spf == NULL || ma->spf_done)
		return;
	r = tern_spf_next(ma->spf, &name, &type);
	if (r == TERN_SPF_QUERY) {
		start_query(ma, Q_SPF, 0, name, type);
		return;
	}
	if (r < 0)
		tern_spf_cancel(ma->spf);
	ma->spf_done = true;
	maybe_progress(ma);
}

static void key_queries(tern_mailauth *ma)
{
	const char *name;

	while (ma->dkim != NULL && tern_dkim_verifier_next_query(ma->dkim, &name) == 1)
		start_query(ma, Q_DKIM, 0, name, TERN_DNS_TYPE_TXT);
	while (ma->arc != NULL && tern_arc_verifier_next_query(ma->arc, &name) == 1)
		start_query(ma, Q_ARC, 0, name, TERN_DNS_TYPE_TXT);
}

static bool on_from_field(const char *field, size_t len, size_t name_len, bool truncated,
			  void *arg)
{
	tern_mailauth *ma = arg;
	size_t i = ma->from_fields++;

	if (truncated)
		ma->from_too_long = true;
	if (i < MAX_FROM_FIELDS && !truncated) {
		const char *value = field + name_len + 1;
		size_t vlen = len - name_len - 1;

		ma->from[i] = malloc(vlen + 1);
		if (ma->from[i] != NULL) {
			memcpy(ma->from[i], value, vlen);
			ma->from[i][vlen] = '\0';
			ma->from_len[i] = vlen;
		}
	}
	return true;
}

static int discard_output(const void *data, size_t len, void *arg)
{
	return 0;
}

/* RFC 7489 6.6.1: a message without exactly one From (or whose From has no
 * usable domain) cannot be evaluated; it is reported as permerror with
 * the reason, and the policy is the receiver's. */
static void dmarc_unusable(tern_mailauth *ma, const char *why)
{
	memset(&ma->dmarc_local, 0, sizeof(ma->dmarc_local));
	ma->dmarc_local.result = TERN_DMARC_RESULT_PERMERROR;
	ma->dmarc_local.disposition = TERN_DMARC_POLICY_UNSET;
	snprintf(ma->dmarc_reason, sizeof(ma->dmarc_reason), "%s", why);
	ma->dmarc_local.reason = ma->dmarc_reason;
	ma->dmarc_outcome = &ma->dmarc_local;
	ma->dmarc_done = true;
}

static void start_dmarc(tern_mailauth *ma)
{
	const struct tern_spf_outcome *spf = NULL;
	struct tern_dmarc_dkim dkim[16];
	struct tern_dmarc_params p;
	struct tern_dmarc_from from = {0};
	const char *values[MAX_FROM_FIELDS];
	size_t n = ma->from_fields < MAX_FROM_FIELDS ? ma->from_fields : MAX_FROM_FIELDS;
	bool mail_from_null = ma->mail_from[0] == '\0';
	size_t ndkim = 0;
	int rc;

	ma->dmarc_started = true;
	for (size_t i = 0; i < n; i++) {
		if (ma->from[i] == NULL) {
			dmarc_unusable(ma, ma->from_too_long ? "From field too long"
							      : "out of memory reading From");
			return;
		}
		values[i] = ma->from[i];
	}
	/* More fields than kept still count as several (any n > 1 does). */
	rc = tern_dmarc_from_domains(values, ma->from_len, n, &from);
	if (rc != 0 && rc != TERN_DMARC_FROM_MULTIPLE_DOMAINS) {
		dmarc_unusable(ma, rc > 0 ? tern_dmarc_from_strstatus(rc) : "out of memory");
		tern_dmarc_from_clear(&from);
		return;
	}
	if (ma->spf != NULL)
		spf = tern_spf_outcome(ma->spf, mail_from_null ? TERN_SPF_HELO : TERN_SPF_MAILFROM);
	for (size_t i = 0; i < ma->dkim_count && ndkim < sizeof(dkim) / sizeof(dkim[0]); i++) {
		dkim[ndkim].domain = ma->dkim_results[i].domain;
		dkim[ndkim].selector = ma->dkim_results[i].selector;
		dkim[ndkim].result = tern_dkim_result_name(ma->dkim_results[i].status);
		if (dkim[ndkim].domain != NULL)
			ndkim++;
	}
	memset(&p, 0, sizeof(p));
	p.spf_domain = spf != NULL ? spf->domain : NULL;
	p.spf_result = spf != NULL ? tern_spf_result_name(spf->result) : NULL;
	p.spf_is_helo = mail_from_null;
	p.dkim = ndkim ? dkim : NULL;
	p.dkim_count = ndkim;
	p.source_ip = ma->client_ip;
	p.random = ma->random;
	for (size_t i = 0; i < from.count && ma->dmarc_count < MAX_FROM_DOMAINS; i++) {
		p.from_domain = from.domains[i];
		if (tern_dmarc_new(&p, &ma->dmarc[ma->dmarc_count]) != 0)
			continue;
		ma->dmarc_count++;
	}
	tern_dmarc_from_clear(&from);
	if (ma->dmarc_count == 0) {
		dmarc_unusable(ma, "out of memory");
		return;
	}
	for (unsigned i = 0; i < ma->dmarc_count && !ma->dmarc_done; i++)
		dmarc_step(ma, i);
}

static void dmarc_step(tern_mailauth *ma, unsigned i)
{
	const char *name = tern_dmarc_query(ma->dmarc[i]);
	const struct tern_dmarc_outcome *best = NULL;

	if (name != NULL) {
		start_query(ma, Q_DMARC, i, name, TERN_DNS_TYPE_TXT);
		return;
	}
	for (unsigned j = 0; j < ma->dmarc_count; j++) {
		if (tern_dmarc_query(ma->dmarc[j]) != NULL)
			return;   /* another author domain still looks */
	}
	for (unsigned j = 0; j < ma->dmarc_count; j++) {
		const struct tern_dmarc_outcome *o = tern_dmarc_outcome(ma->dmarc[j]);

		best = best == NULL ? o : tern_dmarc_stricter(best, o);
	}
	if (ma->dmarc_done)
		return;
	ma->dmarc_outcome = best;
	ma->dmarc_done = true;
	maybe_progress(ma);
}

/* ---- the header field ------------------------------------------------- */

#define MAX_METHODS 20
#define MAX_PROPS 64

static int build_field(tern_mailauth *ma)
{
	struct tern_authres_result r[MAX_METHODS];
	struct tern_authres_prop props[MAX_PROPS];
	char bprefix[MAX_METHODS][16];
	char dmarc_comment[96], arc_comment[32];
	size_t n = 0, np = 0;
	bool mail_from_null = ma->mail_from[0] == '\0';
	const struct tern_spf_outcome *spf = NULL;

	memset(r, 0, sizeof(r));
	if (ma->spf != NULL)
		spf = tern_spf_outcome(ma->spf, mail_from_null ? TERN_SPF_HELO : TERN_SPF_MAILFROM);
	if (spf != NULL) {
		r[n].method = "spf";
		r[n].result = tern_spf_result_name(spf->result);
		r[n].reason = spf->problem;
		r[n].props = &props[np];
		props[np].ptype = "smtp";
		props[np].property = mail_from_null ? "helo" : "mailfrom";
		props[np].value = mail_from_null ? ma->helo : spf->sender;
		if (props[np].value != NULL && props[np].value[0] != '\0') {
			np++;
			r[n].prop_count = 1;
		}
		n++;
	}
	if (ma->dkim != NULL || ma->dkim_broken) {
		if (ma->dkim_broken) {
			r[n].method = "dkim";
			r[n].result = "temperror";
			r[n].reason = "out of memory";
			n++;
		} else if (ma->dkim_count == 0) {
			r[n].method = "dkim";
			r[n].result = "none";
			n++;
		}
		for (size_t i = 0; i < ma->dkim_count && n < MAX_METHODS - 1 && np + 4 <= MAX_PROPS;
		     i++) {
			const tern_dkim_result *d = &ma->dkim_results[i];

			r[n].method = "dkim";
			r[n].result = tern_dkim_result_name(d->status);
			r[n].reason = d->status == TERN_DKIM_PASS ? NULL : d->reason;
			r[n].props = &props[np];
			if (d->domain != NULL)
				props[np++] = (struct tern_authres_prop){"header", "d", d->domain};
			if (d->selector != NULL)
				props[np++] = (struct tern_authres_prop){"header", "s", d->selector};
			if (d->identity != NULL && d->identity[0] != '@')
				props[np++] = (struct tern_authres_prop){"header", "i", d->identity};
			if (d->b != NULL && d->b[0] != '\0') {
				/* RFC 6008: enough of b= to tell signatures apart. */
				snprintf(bprefix[n], sizeof(bprefix[n]), "%.12s", d->b);
				props[np++] = (struct tern_authres_prop){"header", "b", bprefix[n]};
			}
			r[n].prop_count = (size_t)(&props[np] - r[n].props);
			n++;
		}
	}
	if (ma->arc_result != NULL) {
		const tern_arc_result *a = ma->arc_result;

		r[n].method = "arc";
		r[n].result = tern_arc_status_name(a->status);
		if (a->status != TERN_ARC_NONE) {
			snprintf(arc_comment, sizeof(arc_comment), "i=%u", a->instance);
			r[n].comment = arc_comment;
		}
		r[n].reason = a->status == TERN_ARC_FAIL ? a->reason : NULL;
		n++;
	}
	if (ma->dmarc_outcome != NULL) {
		const struct tern_dmarc_outcome *o = ma->dmarc_outcome;

		r[n].method = "dmarc";
		r[n].result = tern_dmarc_result_name(o->result);
		if (o->have_record) {
			snprintf(dmarc_comment, sizeof(dmarc_comment), "p=%s dis=%s",
				 tern_dmarc_policy_name(o->requested),
				 tern_dmarc_policy_name(o->disposition));
			r[n].comment = dmarc_comment;
		}
		r[n].reason = o->result == TERN_DMARC_RESULT_PASS ? NULL : o->reason;
		if (o->from_domain != NULL) {
			r[n].props = &props[np];
			props[np++] = (struct tern_authres_prop){"header", "from", o->from_domain};
			r[n].prop_count = 1;
		}
		n++;
	}
	return tern_authres_build("Authentication-Results", ma->ctx->authserv_id, r, n, &ma->field,
				  &ma->field_len);
}

/* ---- the message ------------------------------------------------------ */

static void deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	tern_mailauth *ma = arg;

	if (ma->cb != NULL)
		ma->cb(ma, ma->cb_arg);
}

static void complete(tern_mailauth *ma)
{
	if (ma->ready)
		return;
	ma->ready = true;
	if (ma->timer != NULL)
		evtimer_del(ma->timer);
	if (build_field(ma) != 0) {
		free(ma->field);
		ma->field = NULL;
		ma->field_len = 0;
	}
	event_active(ma->deliver, EV_TIMEOUT, 0);
}

static void maybe_progress(tern_mailauth *ma)
{
	if (!ma->finished || ma->ready)
		return;
	if (ma->spf != NULL && !ma->spf_done)
		return;
	if (ma->dkim != NULL && tern_dkim_verifier_pending(ma->dkim) > 0 && !ma->timed_out)
		return;
	if (ma->arc != NULL && tern_arc_verifier_pending(ma->arc) > 0 && !ma->timed_out)
		return;
	if (ma->arc != NULL && ma->arc_result == NULL &&
	    tern_arc_verifier_result(ma->arc, &ma->arc_result) != 0)
		ma->arc_result = NULL;
	if (ma->dkim != NULL && ma->dkim_results == NULL &&
	    tern_dkim_verifier_results(ma->dkim, &ma->dkim_results, &ma->dkim_count) != 0)
		ma->dkim_count = 0;
	if (ma->ctx->o.no_dmarc) {
		complete(ma);
		return;
	}
	if (!ma->dmarc_started)
		start_dmarc(ma);
	if (ma->dmarc_done)
		complete(ma);
}

/* The finish timeout: every lookup still out is answered TEMPFAIL, and so
 * is every lookup an engine asks after this. */
static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	tern_mailauth *ma = arg;
	struct tern_dns_answer failed = {.status = TERN_DNS_TEMPFAIL};

	ma->timed_out = true;
	while (ma->queries != NULL && !ma->ready) {
		struct pending_query *pq = ma->queries;

		tern__dns_cancel(&pq->q);
		handle_answer(pq, &failed);
	}
	maybe_progress(ma);
}

int tern_mailauth_new(tern_mailauth **ma_r, tern_mailauth_ctx *ctx,
		      const tern_mailauth_envelope *env)
{
	static const char *const watch[] = {"From", NULL};
	tern_mailauth *ma;

	*ma_r = NULL;
	if (ctx == NULL || env == NULL || env->client_ip == NULL)
		return TERN_EINVAL;
	ma = calloc(1, sizeof(*ma));
	if (ma == NULL)
		return TERN_ENOMEM;
	ma->ctx = ctx;
	ma->now = env->now;
	ma->random = env->random;
	ma->client_ip = strdup(env->client_ip);
	ma->helo = strdup(env->helo ? env->helo : "");
	ma->mail_from = strdup(env->mail_from ? env->mail_from : "");
	ma->receiver = strdup(env->receiver ? env->receiver : ctx->authserv_id);
	ma->timer = evtimer_new(ctx->base, on_timeout, ma);
	ma->deliver = event_new(ctx->base, -1, 0, deliver_cb, ma);
	if (ma->client_ip == NULL || ma->helo == NULL || ma->mail_from == NULL ||
	    ma->receiver == NULL || ma->timer == NULL || ma->deliver == NULL) {
		tern_mailauth_free(&ma);
		return TERN_ENOMEM;
	}
	tern__hdr_filter_init(&ma->headers, watch, on_from_field, discard_output, ma);
	if (!ctx->o.no_dkim) {
		tern_dkim_verify_options o;

		tern_dkim_verify_options_init(&o);
		o.now = env->now;
		if (ctx->o.dkim_max_signatures)
			o.max_signatures = ctx->o.dkim_max_signatures;
		if (ctx->o.dkim_min_rsa_bits)
			o.min_rsa_bits = ctx->o.dkim_min_rsa_bits;
		if (tern_dkim_verifier_new(&o, &ma->dkim) != 0)
			ma->dkim_broken = true;
	}
	if (!ctx->o.no_arc) {
		tern_arc_verify_options o;

		tern_arc_verify_options_init(&o);
		o.now = env->now;
		if (tern_arc_verifier_new(&o, &ma->arc) != 0)
			ma->arc_broken = true;
	}
	if (!ctx->o.no_spf) {
		tern_spf_params p;

		tern_spf_params_init(&p);
		p.client_ip = ma->client_ip;
		p.helo = ma->helo;
		p.mail_from = ma->mail_from;
		p.receiver = ma->receiver;
		p.now = env->now;
		p.checks = TERN_SPF_HELO | TERN_SPF_MAILFROM;
		if (tern_spf_new(&ma->spf, &p) != 0)
			ma->spf = NULL;   /* not checked: no spf= in the field */
	}
	*ma_r = ma;
	spf_step(ma);
	return 0;
}

int tern_mailauth_feed(tern_mailauth *ma, const void *data, size_t len)
{
	if (ma->finished)
		return TERN_ESTATE;
	if (!tern__hdr_filter_in_body(&ma->headers))
		(void)tern__hdr_filter_feed(&ma->headers, data, len);
	if (ma->arc != NULL && tern_arc_verifier_feed(ma->arc, data, len) != 0) {
		tern_arc_verifier_free(&ma->arc);
		ma->arc_broken = true;
	}
	if (ma->dkim != NULL && tern_dkim_verifier_feed(ma->dkim, data, len) != 0) {
		tern_dkim_verifier_free(&ma->dkim);
		ma->dkim_broken = true;
		return TERN_ENOMEM;
	}
	key_queries(ma);
	return 0;
}

int tern_mailauth_finish(tern_mailauth *ma, tern_mailauth_cb *cb, void *arg)
{
	unsigned ms = ma->ctx->o.finish_timeout_ms;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	if (ma->finished)
		return TERN_ESTATE;
	ma->finished = true;
	ma->cb = cb;
	ma->cb_arg = arg;
	(void)tern__hdr_filter_end(&ma->headers);
	if (ma->dkim != NULL && tern_dkim_verifier_finish(ma->dkim) != 0) {
		tern_dkim_verifier_free(&ma->dkim);
		ma->dkim_broken = true;
	}
	if (ma->arc != NULL && tern_arc_verifier_finish(ma->arc) != 0) {
		tern_arc_verifier_free(&ma->arc);
		ma->arc_broken = true;
	}
	key_queries(ma);
	if (evtimer_add(ma->timer, &tv) != 0)
		return TERN_ENOMEM;
	maybe_progress(ma);
	return 0;
}

const struct tern_spf_outcome *tern_mailauth_spf(const tern_mailauth *ma, enum tern_spf_identity id)
{
	return ma->spf != NULL && ma->ready ? tern_spf_outcome(ma->spf, id) : NULL;
}

void tern_mailauth_dkim(const tern_mailauth *ma, const tern_dkim_result **results_r, size_t *n_r)
{
	*results_r = ma->ready ? ma->dkim_results : NULL;
	*n_r = ma->ready ? ma->dkim_count : 0;
}

const tern_arc_result *tern_mailauth_arc(const tern_mailauth *ma)
{
	return ma->ready ? ma->arc_result : NULL;
}

const struct tern_dmarc_outcome *tern_mailauth_dmarc(const tern_mailauth *ma)
{
	return ma->ready ? ma->dmarc_outcome : NULL;
}

int tern_mailauth_header(tern_mailauth *ma, const char **field_r, size_t *len_r)
{
	if (!ma->ready)
		return TERN_ESTATE;
	if (ma->field == NULL)
		return TERN_ENOMEM;
	*field_r = ma->field;
	*len_r = ma->field_len;
	return 0;
}

void tern_mailauth_free(tern_mailauth **map)
{
	tern_mailauth *ma = map != NULL ? *map : NULL;

	if (ma == NULL)
		return;
	while (ma->queries != NULL) {
		struct pending_query *pq = ma->queries;

		tern__dns_cancel(&pq->q);
		unlink_query(ma, pq);
		free(pq);
	}
	if (ma->timer != NULL)
		event_free(ma->timer);
	if (ma->deliver != NULL)
		event_free(ma->deliver);
	tern_spf_destroy(&ma->spf);
	tern_dkim_verifier_free(&ma->dkim);
	tern_arc_verifier_free(&ma->arc);
	for (size_t i = 0; i < ma->dmarc_count; i++)
		tern_dmarc_free(&ma->dmarc[i]);
	for (size_t i = 0; i < MAX_FROM_FIELDS; i++)
		free(ma->from[i]);
	tern__hdr_filter_clear(&ma->headers);
	free(ma->field);
	free(ma->client_ip);
	free(ma->helo);
	free(ma->mail_from);
	free(ma->receiver);
	free(ma);
	*map = NULL;
}
