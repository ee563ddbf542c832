/* A DMARC evaluation (RFC 7489 6.6): policy discovery over at most two
 * TXT lookups the caller makes, identifier alignment, the policy to apply.
 *
 * States: ASK_FROM (wants _dmarc.<from>), ASK_ORG (wants _dmarc.<org>),
 * DONE. Each answer either settles the outcome or moves on. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tern/dmarc.h"
#include "util/address.h"

enum state {
	ASK_FROM,
	ASK_ORG,
	DONE,
};

struct tern_dmarc {
	enum state state;
	const struct psl_ctx_st *psl;
	uint32_t random;
	enum tern_dmarc_existence from_exists;
	char *query;   /* "_dmarc." + the domain asked now */
	struct tern_dmarc_outcome out;
	/* What the outcome's const pointers point to. */
	char *from_domain;
	char *org_domain;
	char *spf_domain;
	char *spf_result;
	char *source_ip;
};

const char *tern_dmarc_result_name(enum tern_dmarc_result result)
{
	switch (result) {
	case TERN_DMARC_RESULT_PASS:
		return "pass";
	case TERN_DMARC_RESULT_FAIL:
		return "fail";
	case TERN_DMARC_RESULT_TEMPERROR:
		return "temperror";
	case TERN_DMARC_RESULT_PERMERROR:
		return "permerror";
	default:
		return "none";
	}
}

/* A copy in lowercase without a trailing dot: DNS names compare without
 * case (RFC 4343) and "example.com." is "example.com". */
static char *dup_domain(const char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '.')
		n--;
	char *d = strndup(s, n);

	for (size_t i = 0; d != NULL && i < n; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] - 'A' + 'a');
	return d;
}

static bool dup_opt(const char *s, char **out, bool domain)
{
	if (s == NULL) {
		*out = NULL;
		return true;
	}
	*out = domain ? dup_domain(s) : strdup(s);
	return *out != NULL;
}

static void finish(struct tern_dmarc *d, enum tern_dmarc_result result, const char *reason)
{
	d->state = DONE;
	d->out.result = result;
	d->out.reason = reason;
	free(d->query);
	d->query = NULL;
}

static int ask(struct tern_dmarc *d, const char *domain)
{
	size_t n = strlen(domain);
	char *q = malloc(n + 8);

	if (q == NULL)
		return TERN_ENOMEM;
	memcpy(q, "_dmarc.", 7);
	memcpy(q + 7, domain, n + 1);
	free(d->query);
	d->query = q;
	return 0;
}

/* RFC 7489 6.6.4 and the pct tag of 6.3: a message outside the sample
 * gets the next weaker policy, reject -> quarantine -> none. */
static enum tern_dmarc_policy weaker(enum tern_dmarc_policy p)
{
	return p == TERN_DMARC_POLICY_REJECT ? TERN_DMARC_POLICY_QUARANTINE : TERN_DMARC_POLICY_NONE;
}

/* tern_dmarc_aligned() with the From side's organizational domain
 * already known: one PSL lookup per identifier instead of two. */
static bool aligned_with_from(const struct tern_dmarc *d, const char *domain, enum tern_dmarc_alignment mode)
{
	if (strcmp(domain, d->from_domain) == 0)
		return true;
	return mode == TERN_DMARC_RELAXED && strcmp(tern_dmarc_org_domain(d->psl, domain), d->org_domain) == 0;
}

/* The record is known: alignment, result and disposition. */
static void evaluate(struct tern_dmarc *d, bool at_org)
{
	struct tern_dmarc_outcome *o = &d->out;
	const struct tern_dmarc_record *r = &o->record;

	o->have_record = true;
	/* RFC 7489 3.1.2: SPF counts when it passed for a domain aligned
	 * with the From domain, in the mode aspf= asks. */
	o->spf_aligned = o->spf_domain != NULL && o->spf_result != NULL &&
			 strcasecmp(o->spf_result, "pass") == 0 &&
			 aligned_with_from(d, o->spf_domain, r->aspf);
	/* 3.1.1: any passing signature whose d= aligns (adkim=). */
	bool dkim_aligned = false;

	for (size_t i = 0; i < o->dkim_count; i++) {
		struct tern_dmarc_dkim_eval *k = &o->dkim[i];

		k->aligned = strcasecmp(k->result, "pass") == 0 &&
			     aligned_with_from(d, k->domain, r->adkim);
		dkim_aligned = dkim_aligned || k->aligned;
	}

	/* The policy: p= for the domain that published it; for a From domain
	 * below the organizational domain whose record was found there, sp=
	 * (6.3), or np= when the From domain does not exist (RFC 9091 4.1),
	 * each falling back to the one before. */
	o->requested = r->p;
	o->policy_tag = TERN_DMARC_FROM_TAG_P;
	if (at_org) {
		if (r->sp != TERN_DMARC_POLICY_UNSET) {
			o->requested = r->sp;
			o->policy_tag = TERN_DMARC_FROM_TAG_SP;
		}
		if (d->from_exists == TERN_DMARC_EXISTS_NO && r->np != TERN_DMARC_POLICY_UNSET) {
			o->requested = r->np;
			o->policy_tag = TERN_DMARC_FROM_TAG_NP;
		}
	}

	if (o->spf_aligned || dkim_aligned) {
		o->disposition = TERN_DMARC_POLICY_NONE;
		finish(d, TERN_DMARC_RESULT_PASS, o->spf_aligned ? (dkim_aligned ? "spf and dkim aligned"
										 : "spf aligned")
								 : "dkim aligned");
		return;
	}
	o->disposition = o->requested;
	/* 6.6.4: pct= picks the messages the policy applies to; random %
	 * 100 is uniform enough (2^32 mod 100 = 96: a bias of 2e-8). */
	if (d->random % 100 >= r->pct && o->requested != TERN_DMARC_POLICY_NONE) {
		o->disposition = weaker(o->requested);
		o->sampled_out = true;
	}
	finish(d, TERN_DMARC_RESULT_FAIL, "no aligned pass");
}

/* Collects the DMARC records of an answer. Returns the number found (0,
 * 1 or 2 meaning "more than one"), the one record parsed into rec, or a
 * negative error. *invalid is set when the one record cannot be used. */
static int collect(const struct tern_dns_answer *a, struct tern_dmarc_record *rec, bool *invalid)
{
	int found = 0;

	*invalid = false;
	for (size_t i = 0; a->status == TERN_DNS_FOUND && i < a->count; i++) {
		struct tern_dmarc_record tmp;
		int rc = tern_dmarc_record_parse((const char *)a->rrs[i].data, a->rrs[i].len, &tmp);

		if (rc == TERN_DMARC_RECORD_NOT_DMARC) {
			tern_dmarc_record_clear(&tmp);
			continue;   /* 6.6.3 step 4: discarded */
		}
		if (rc < 0) {
			tern_dmarc_record_clear(&tmp);
			if (found == 1)
				tern_dmarc_record_clear(rec);
			return rc;
		}
		if (++found > 1) {
			tern_dmarc_record_clear(&tmp);
			break;
		}
		*rec = tmp;
		*invalid = rc == TERN_DMARC_RECORD_INVALID;
	}
	if (found > 1) {
		tern_dmarc_record_clear(rec);
		memset(rec, 0, sizeof(*rec));
	}
	return found;
}

int tern_dmarc_feed(struct tern_dmarc *d, const struct tern_dns_answer *answer)
{
	if (d == NULL || answer == NULL || (answer->count > 0 && answer->rrs == NULL))
		return TERN_EINVAL;
	if (d->state == DONE)
		return TERN_ESTATE;

	bool at_org = d->state == ASK_ORG;

	/* 6.6.3 / 11.2: a lookup that failed is a temporary error, not the
	 * absence of a policy. */
	if (answer->status == TERN_DNS_TEMPFAIL) {
		finish(d, TERN_DMARC_RESULT_TEMPERROR, "dns temporary failure");
		return 0;
	}

	struct tern_dmarc_record rec;
	bool invalid;
	int found = collect(answer, &rec, &invalid);

	if (found < 0)
		return found;
	if (found > 1) {
		/* 6.6.3 step 5: "If the remaining set contains multiple
		 * records ..., policy discovery terminates and DMARC
		 * processing is not applied". No fall-back to the org. */
		finish(d, TERN_DMARC_RESULT_NONE, "several dmarc records");
		d->out.policy_domain = at_org ? d->org_domain : d->from_domain;
		return 0;
	}
	if (found == 1) {
		d->out.policy_domain = at_org ? d->org_domain : d->from_domain;
		if (invalid) {
			/* 11.2: "permerror: ... such as encountering a
			 * syntactically incorrect DMARC record"; 6.6.3 says
			 * no DMARC processing, so no disposition either. */
			tern_dmarc_record_clear(&rec);
			finish(d, TERN_DMARC_RESULT_PERMERROR, "unusable dmarc record");
			return 0;
		}
		d->out.record = rec;
		evaluate(d, at_org);
		return 0;
	}
	/* 6.6.3 step 3: nothing at the From domain: the organizational
	 * domain's record, unless that is the same name. */
	if (!at_org && strcmp(d->org_domain, d->from_domain) != 0) {
		int rc = ask(d, d->org_domain);

		if (rc != 0)
			return rc;
		d->state = ASK_ORG;
		return 0;
	}
	finish(d, TERN_DMARC_RESULT_NONE, "no dmarc record");
	return 0;
}

int tern_dmarc_new(const struct tern_dmarc_params *p, struct tern_dmarc **dmarc_r)
{
	if (dmarc_r != NULL)
		*dmarc_r = NULL;
	if (p == NULL || p->from_domain == NULL || dmarc_r == NULL || (p->dkim_count > 0 && p->dkim == NULL))
		return TERN_EINVAL;

	struct tern_dmarc *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return TERN_ENOMEM;
	d->psl = p->psl;
	d->random = p->random;
	d->from_exists = p->from_exists;
	d->out.spf_is_helo = p->spf_is_helo;
	bool ok = dup_opt(p->from_domain, &d->from_domain, true) &&
		  dup_opt(p->spf_domain, &d->spf_domain, true) && dup_opt(p->spf_result, &d->spf_result, false) &&
		  dup_opt(p->source_ip, &d->source_ip, false);

	if (ok && p->dkim_count > 0) {
		d->out.dkim = calloc(p->dkim_count, sizeof(*d->out.dkim));
		ok = d->out.dkim != NULL;
		if (ok)
			d->out.dkim_count = p->dkim_count;
		for (size_t i = 0; ok && i < p->dkim_count; i++) {
			struct tern_dmarc_dkim_eval *k = &d->out.dkim[i];

			ok = dup_opt(p->dkim[i].domain != NULL ? p->dkim[i].domain : "", &k->domain, true) &&
			     dup_opt(p->dkim[i].selector, &k->selector, false) &&
			     dup_opt(p->dkim[i].result != NULL ? p->dkim[i].result : "none", &k->result, false);
		}
	}
	if (ok) {
		d->org_domain = strdup(tern_dmarc_org_domain(d->psl, d->from_domain));
		ok = d->org_domain != NULL;
	}
	if (!ok) {
		tern_dmarc_free(&d);
		return TERN_ENOMEM;
	}
	d->out.from_domain = d->from_domain;
	d->out.org_domain = d->org_domain;
	d->out.spf_domain = d->spf_domain;
	d->out.spf_result = d->spf_result;
	d->out.source_ip = d->source_ip;

	size_t n = strlen(d->from_domain);

	/* A name that cannot be looked up has no policy to find; the From
	 * extractor never gives one, so this is a caller's mistake made
	 * visible rather than a DNS query for garbage. */
	if (n == 0 || n > 253 || !tern__domain_valid(d->from_domain, n, false)) {
		finish(d, TERN_DMARC_RESULT_PERMERROR, "from domain is not a domain name");
	} else if (ask(d, d->from_domain) != 0) {
		tern_dmarc_free(&d);
		return TERN_ENOMEM;
	}
	*dmarc_r = d;
	return 0;
}

const char *tern_dmarc_query(const struct tern_dmarc *d)
{
	return d != NULL && d->state != DONE ? d->query : NULL;
}

const struct tern_dmarc_outcome *tern_dmarc_outcome(const struct tern_dmarc *d)
{
	return d != NULL ? &d->out : NULL;
}

static int disposition_rank(enum tern_dmarc_policy p)
{
	return (int)p;   /* UNSET < NONE < QUARANTINE < REJECT by declaration */
}

static int result_rank(enum tern_dmarc_result r)
{
	switch (r) {
	case TERN_DMARC_RESULT_FAIL: return 4;
	case TERN_DMARC_RESULT_TEMPERROR: return 3;
	case TERN_DMARC_RESULT_PERMERROR: return 2;
	case TERN_DMARC_RESULT_NONE: return 1;
	default: return 0;
	}
}

const struct tern_dmarc_outcome *tern_dmarc_stricter(const struct tern_dmarc_outcome *a,
						     const struct tern_dmarc_outcome *b)
{
	if (a == NULL || b == NULL)
		return a != NULL ? a : b;
	if (disposition_rank(b->disposition) != disposition_rank(a->disposition))
		return disposition_rank(b->disposition) > disposition_rank(a->disposition) ? b : a;
	return result_rank(b->result) > result_rank(a->result) ? b : a;
}

void tern_dmarc_free(struct tern_dmarc **dp)
{
	if (dp == NULL || *dp == NULL)
		return;
	struct tern_dmarc *d = *dp;

	for (size_t i = 0; i < d->out.dkim_count; i++) {
		free(d->out.dkim[i].domain);
		free(d->out.dkim[i].selector);
		free(d->out.dkim[i].result);
	}
	free(d->out.dkim);
	tern_dmarc_record_clear(&d->out.record);
	free(d->query);
	free(d->from_domain);
	free(d->org_domain);
	free(d->spf_domain);
	free(d->spf_result);
	free(d->source_ip);
	free(d);
	*dp = NULL;
}
