/* check_host() of RFC 7208 4 as a state machine fed with DNS answers.
 *
 * The evaluation is a stack of frames, one per record being evaluated:
 * the checked domain at the bottom, one more for each "include" being
 * followed (a "redirect" replaces its frame: the target's result is the
 * result). Each frame is in one phase; a phase that needs DNS calls ask(),
 * which either hands back the answer to the question it asked before or
 * posts the question and makes run() return TERN_SPF_QUERY. When the
 * answer comes, run() re-enters the same phase, which asks the same
 * question again and this time gets the answer. So every phase is written
 * as straight-line code and no phase holds a half-consumed answer.
 *
 * Bounds: the stack is at most max_dns_terms + 2 deep (every include and
 * redirect is a DNS-querying term); each term asks at most 1 + max_names
 * questions; %{p} at most 1 + max_names once per tern_spf; the explanation
 * one; TERN_SPF_MAX_QUERIES is the backstop. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/spf_int.h"
#include "tern/tern.h"

#define DEPTH_MAX (TERN__SPF_DNS_TERMS + 2)
#define DEFAULT_EXPLANATION "%{c} is not one of %{d}'s designated mail servers."

enum phase {
	PH_FETCH,      /* the domain's TXT records */
	PH_TERMS,      /* the next term */
	PH_A,          /* a: the target's addresses */
	PH_MX,         /* mx: the target's MX names */
	PH_MX_HOSTS,   /* mx: each name's addresses */
	PH_PTR,        /* ptr: the client's PTR names */
	PH_PTR_HOSTS,  /* ptr: each candidate name's addresses */
	PH_EXISTS,     /* exists: the target's A records */
	PH_INCLUDE,    /* include: waiting for the frame above to end */
	PH_EXP,        /* the top frame failed: its exp= TXT */
};

struct frame {
	char *domain;                   /* <domain> of this check_host() */
	struct tern__spf_record rec;
	bool parsed;
	bool redirected;                /* reached through redirect=: none is permerror */
	bool counted;                   /* the current term counted toward the DNS limit */
	enum { EXP_TARGET, EXP_TEXT, EXP_EXPAND } exp_state;
	enum phase phase;
	size_t term;                    /* the term being evaluated */
	struct tern__buf target;        /* its expanded domain, NUL-terminated */
	char **names;                   /* MX or PTR names */
	size_t n_names, i_name;
};

/* A copy of the last answer, kept until the phase that asked takes it. */
struct answer {
	enum tern_dns_status status;
	size_t count;
	struct tern_dns_rr *rrs;        /* data copied into one block after the array */
};

struct ident {
	bool wanted, done;
	struct tern_spf_outcome out;
	char *domain, *sender, *local;
	struct tern__buf explanation, mechanism, problem;
};

struct tern_spf {
	int family;
	uint8_t ip[16];
	char ip_text[INET6_ADDRSTRLEN];
	char *helo, *receiver, *default_exp;
	time_t now;
	unsigned max_terms, max_voids, max_names;

	struct ident idents[2];          /* [0] HELO, [1] MAIL FROM */
	int cur;                         /* the identity being checked, -1 before */

	struct frame frames[DEPTH_MAX];
	size_t depth;
	unsigned terms, voids;

	/* %{p}: the client's validated names, found once per tern_spf. */
	enum { P_UNKNOWN, P_PTR, P_VALIDATE, P_DONE } p_state;
	char **p_names;
	size_t p_n, p_i;
	bool p_ok[TERN__SPF_NAMES * 4];

	struct tern__buf q_name;
	enum tern_dns_type q_type;
	bool q_pending, have_answer, cancelled;
	unsigned queries;
	struct answer ans;
};

/* What a phase function tells run(). */
enum step { STEP_AGAIN, STEP_WAIT };

/* ---- small helpers ---- */

static char *dup_str(const char *s)
{
	size_t n = strlen(s);
	char *p = malloc(n + 1);

	if (p != NULL)
		memcpy(p, s, n + 1);
	return p;
}

static void free_names(char ***names, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
	*n = 0;
}

static void frame_clear(struct frame *f)
{
	free(f->domain);
	tern__spf_record_free(&f->rec);
	tern__buf_free(&f->target);
	free_names(&f->names, &f->n_names);
	memset(f, 0, sizeof(*f));
}

static int buf_set(struct tern__buf *b, const char *s, size_t len)
{
	tern__buf_clear(b);
	int rc = tern__buf_append(b, s, len);
	if (rc == 0)
		rc = tern__buf_append(b, "", 1);
	if (rc == 0)
		b->len--;   /* keep the NUL out of len, but there */
	return rc;
}

static void clear_answer(struct tern_spf *spf)
{
	free(spf->ans.rrs);
	memset(&spf->ans, 0, sizeof(spf->ans));
	spf->have_answer = false;
}

/* ---- ending things ---- */

/* Ends the identity being checked with result (and, for errors, problem
 * with an optional domain). Strings are copied; a copy that fails leaves
 * the field NULL (the result itself never depends on memory). */
static void finish(struct tern_spf *spf, enum tern_spf_result result, const char *problem,
		   const char *about)
{
	struct ident *id = &spf->idents[spf->cur];

	id->out.result = result;
	if (problem != NULL) {
		tern__buf_clear(&id->problem);
		int rc = about ? tern__buf_printf(&id->problem, "%s (%s)", problem, about)
			       : tern__buf_printf(&id->problem, "%s", problem);
		id->out.problem = rc == 0 ? tern__buf_ptr(&id->problem) : problem;
	}
	id->done = true;
	while (spf->depth > 0)
		frame_clear(&spf->frames[--spf->depth]);
	spf->terms = spf->voids = 0;
	spf->cur = -1;
}

static void set_mechanism(struct tern_spf *spf, const char *text, size_t len)
{
	struct ident *id = &spf->idents[spf->cur];

	id->out.mechanism = buf_set(&id->mechanism, text, len) == 0 ? tern__buf_ptr(&id->mechanism)
								      : NULL;
}

/* Every identity not done yet ends in temperror (out of memory, cancel). */
static void abandon(struct tern_spf *spf, const char *problem)
{
	for (int i = 0; i < 2; i++) {
		if (!spf->idents[i].wanted || spf->idents[i].done)
			continue;
		spf->cur = i;
		finish(spf, TERN_SPF_RESULT_TEMPERROR, problem, NULL);
	}
	spf->q_pending = false;
	clear_answer(spf);
}

/* ---- DNS ---- */

enum asked { ASKED, ANSWERED, ASK_FAILED };

/* Either the answer to name/type is here (ANSWERED: spf->ans), or the
 * question is posted (ASKED), or the query budget is spent (ASK_FAILED,
 * the identity has ended). */
static enum asked ask(struct tern_spf *spf, const char *name, enum tern_dns_type type)
{
	if (spf->have_answer) {
		spf->have_answer = false;
		return ANSWERED;
	}
	if (spf->queries >= TERN_SPF_MAX_QUERIES) {
		finish(spf, TERN_SPF_RESULT_PERMERROR, "too many DNS queries", NULL);
		return ASK_FAILED;
	}
	if (buf_set(&spf->q_name, name, strlen(name)) != 0) {
		abandon(spf, "out of memory");
		return ASK_FAILED;
	}
	spf->q_type = type;
	spf->q_pending = true;
	spf->queries++;
	return ASKED;
}

static enum tern_dns_type addr_type(const struct tern_spf *spf)
{
	return spf->family == AF_INET ? TERN_DNS_TYPE_A : TERN_DNS_TYPE_AAAA;
}

static bool answer_empty(const struct tern_spf *spf)
{
	return spf->ans.status == TERN_DNS_NXDOMAIN || spf->ans.status == TERN_DNS_NODATA ||
	       (spf->ans.status == TERN_DNS_FOUND && spf->ans.count == 0);
}

/* RFC 7208 4.6.4: a lookup with no answer counts toward the void limit;
 * past it the check is a permerror. Returns false when it ended the
 * check. Like pyspf, every lookup a mechanism makes counts (the TXT of
 * the record and of exp= do not). */
static bool count_void(struct tern_spf *spf, bool empty)
{
	if (!empty)
		return true;
	if (++spf->voids <= spf->max_voids)
		return true;
	finish(spf, TERN_SPF_RESULT_PERMERROR, "too many void DNS lookups", NULL);
	return false;
}

/* The answer holds an address within prefix bits of the client's. */
static bool answer_has_ip(const struct tern_spf *spf, unsigned prefix)
{
	size_t want = spf->family == AF_INET ? 4 : 16;

	if (spf->ans.status != TERN_DNS_FOUND)
		return false;
	for (size_t i = 0; i < spf->ans.count; i++)
		if (spf->ans.rrs[i].len == want &&
		    tern__spf_prefix_match(spf->ans.rrs[i].data, spf->ip, prefix))
			return true;
	return false;
}

/* Copies the answer's names (MX exchanges or PTR targets), at most max
 * of them; RFC 7505's null MX ("") is left out. */
static int copy_names(const struct tern_spf *spf, size_t max, char ***names_r, size_t *n_r)
{
	size_t n = spf->ans.count < max ? spf->ans.count : max;
	char **names = calloc(n ? n : 1, sizeof(*names));
	size_t k = 0;

	if (names == NULL)
		return TERN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct tern_dns_rr *rr = &spf->ans.rrs[i];
		if (rr->len == 0)
			continue;
		names[k] = malloc(rr->len + 1);
		if (names[k] == NULL) {
			free_names(&names, &k);
			return TERN_ENOMEM;
		}
		memcpy(names[k], rr->data, rr->len);
		names[k][rr->len] = '\0';
		k++;
	}
	*names_r = names;
	*n_r = k;
	return 0;
}

/* name is domain or a subdomain of it, ignoring case and a final dot. */
static bool within(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (d > 0 && domain[d - 1] == '.')
		d--;
	if (n < d || strncasecmp(name + n - d, domain, d) != 0)
		return false;
	return n == d || name[n - d - 1] == '.';
}

/* ask() for the client's PTR records (RFC 7208 5.5, 7.3 "p"). */
static enum asked ask_ptr(struct tern_spf *spf)
{
	struct tern__buf rev;
	enum asked a;

	tern__buf_init(&rev, 0);
	if (tern__spf_reverse_name(spf->family, spf->ip, &rev) != 0 ||
	    tern__buf_append(&rev, "", 1) != 0) {
		tern__buf_free(&rev);
		abandon(spf, "out of memory");
		return ASK_FAILED;
	}
	a = ask(spf, tern__buf_ptr(&rev), TERN_DNS_TYPE_PTR);
	tern__buf_free(&rev);
	return a;
}

/* ---- macros ---- */

/* RFC 7208 7.3's choice of "p": the domain itself, else a subdomain of
 * it, else any validated name; NULL ("unknown") when there is none. */
static const char *pick_validated(const struct tern_spf *spf, const char *domain)
{
	const char *sub = NULL, *any = NULL;

	for (size_t i = 0; i < spf->p_n; i++) {
		if (!spf->p_ok[i])
			continue;
		if (within(spf->p_names[i], domain)) {
			if (strlen(spf->p_names[i]) == strlen(domain))
				return spf->p_names[i];
			if (sub == NULL)
				sub = spf->p_names[i];
		}
		if (any == NULL)
			any = spf->p_names[i];
	}
	return sub ? sub : any;
}

/* Finds the client's validated names for %{p}: PTR, then the addresses of
 * the first max_names names. STEP_AGAIN when done (p_state P_DONE), or
 * when the identity ended (limits). A DNS error just leaves fewer names
 * (RFC 7208 7.3: "unknown" then). */
static enum step resolve_p(struct tern_spf *spf)
{
	enum asked a;

	if (spf->p_state == P_UNKNOWN)
		spf->p_state = P_PTR;
	if (spf->p_state == P_PTR) {
		a = ask_ptr(spf);
		if (a != ANSWERED)
			return a == ASKED ? STEP_WAIT : STEP_AGAIN;
		if (!count_void(spf, answer_empty(spf)))
			return STEP_AGAIN;
		if (spf->ans.status == TERN_DNS_FOUND &&
		    copy_names(spf, spf->max_names, &spf->p_names, &spf->p_n) != 0) {
			abandon(spf, "out of memory");
			return STEP_AGAIN;
		}
		spf->p_i = 0;
		spf->p_state = P_VALIDATE;
	}
	while (spf->p_i < spf->p_n) {
		a = ask(spf, spf->p_names[spf->p_i], addr_type(spf));
		if (a != ANSWERED)
			return a == ASKED ? STEP_WAIT : STEP_AGAIN;
		if (!count_void(spf, answer_empty(spf)))
			return STEP_AGAIN;
		spf->p_ok[spf->p_i] = answer_has_ip(spf, spf->family == AF_INET ? 32 : 128);
		spf->p_i++;
	}
	spf->p_state = P_DONE;
	return STEP_AGAIN;
}

static void macro_ctx(const struct tern_spf *spf, const char *domain,
		      struct tern__spf_macro_ctx *ctx)
{
	const struct ident *id = &spf->idents[spf->cur];

	memset(ctx, 0, sizeof(*ctx));
	ctx->sender = id->sender;
	ctx->local = id->local;
	ctx->sender_domain = id->domain;
	ctx->domain = domain;
	ctx->family = spf->family;
	ctx->ip = spf->ip;
	ctx->helo = spf->helo;
	ctx->validated = spf->p_state == P_DONE ? pick_validated(spf, domain) : NULL;
	ctx->receiver = spf->receiver;
	ctx->now = spf->now;
}

/* Makes sure %{p} can be expanded in s: STEP_WAIT while its lookups run;
 * false in *ok_r when they ended the identity (a limit, out of memory). */
static enum step need_p(struct tern_spf *spf, const char *s, size_t len, bool *ok_r)
{
	int cur = spf->cur;

	*ok_r = true;
	if (spf->p_state == P_DONE || !tern__spf_macro_uses_p(s, len))
		return STEP_AGAIN;
	if (resolve_p(spf) == STEP_WAIT)
		return STEP_WAIT;
	*ok_r = spf->cur == cur;
	return STEP_AGAIN;
}

/* Expands a domain-spec into f->target, truncated to 253 octets (RFC 7208
 * 7.3). STEP_WAIT when %{p} needs DNS first. *rc_r: 0, TERN_EINVAL or
 * TERN_ELIMIT (the caller decides), or TERN_ECLOSED when the identity
 * ended (out of memory, a limit during %{p}). */
static enum step expand_target(struct tern_spf *spf, struct frame *f, const char *spec,
			       size_t len, int *rc_r)
{
	struct tern__spf_macro_ctx ctx;
	bool ok;
	int rc;

	*rc_r = TERN_ECLOSED;
	if (need_p(spf, spec, len, &ok) == STEP_WAIT)
		return STEP_WAIT;
	if (!ok)
		return STEP_AGAIN;
	tern__buf_clear(&f->target);
	macro_ctx(spf, f->domain, &ctx);
	rc = tern__spf_macro_expand(&ctx, spec, len, false, &f->target);
	if (rc == 0) {
		tern__spf_truncate_name(&f->target);
		rc = tern__buf_append(&f->target, "", 1);
		if (rc == 0)
			f->target.len--;
	}
	if (rc == TERN_ENOMEM) {
		abandon(spf, "out of memory");
		rc = TERN_ECLOSED;
	}
	*rc_r = rc;
	return STEP_AGAIN;
}

/* A name we may send to DNS: labels of 1..63 octets, at most 253 in all.
 * One that is not is a lookup with no answer (as pyspf treats it). */
static bool target_usable(const struct frame *f)
{
	const char *t = tern__buf_ptr(&f->target);
	size_t label = 0;

	if (f->target.len == 0)
		return false;
	for (size_t i = 0; i <= f->target.len; i++) {
		if (i == f->target.len || t[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			label = 0;
		} else {
			label++;
		}
	}
	return true;
}

/* ---- frames ---- */

static int push_frame(struct tern_spf *spf, const char *domain, bool redirected)
{
	struct frame *f;

	if (spf->depth == DEPTH_MAX) {
		finish(spf, TERN_SPF_RESULT_PERMERROR, "include or redirect nested too deep", domain);
		return TERN_ELIMIT;
	}
	f = &spf->frames[spf->depth];
	memset(f, 0, sizeof(*f));
	f->domain = dup_str(domain);
	if (f->domain == NULL) {
		abandon(spf, "out of memory");
		return TERN_ENOMEM;
	}
	tern__buf_init(&f->target, TERN__SPF_EXPAND_MAX);
	f->redirected = redirected;
	f->phase = PH_FETCH;
	spf->depth++;
	return 0;
}

static void next_term(struct frame *f)
{
	f->term++;
	f->counted = false;
	f->phase = PH_TERMS;
	tern__buf_clear(&f->target);
	free_names(&f->names, &f->n_names);
}

/* The top frame ended with result: hand it to the frame below (include
 * mapping, RFC 7208 5.2) or, at the bottom, end the identity (after
 * exp= for a fail). term is the deciding term or NULL for the default. */
static void frame_result(struct tern_spf *spf, enum tern_spf_result result,
			 const struct tern__spf_term *term, const char *problem)
{
	struct frame *f = &spf->frames[spf->depth - 1];

	if (result == TERN_SPF_RESULT_NONE && f->redirected) {
		/* RFC 7208 6.1: a redirect to a domain with no record. */
		result = TERN_SPF_RESULT_PERMERROR;
		problem = "redirect= to a domain without an SPF record";
	}
	if (spf->depth == 1) {
		if (term != NULL)
			set_mechanism(spf, term->text, term->text_len);
		else if (f->parsed && result == TERN_SPF_RESULT_NEUTRAL)
			set_mechanism(spf, "default", 7);
		if (result == TERN_SPF_RESULT_FAIL) {
			/* Stay on this frame to find the explanation. */
			f->phase = PH_EXP;
			return;
		}
		finish(spf, result, problem, problem ? f->domain : NULL);
		return;
	}
	char *domain = f->domain;
	f->domain = NULL;
	frame_clear(f);
	spf->depth--;
	f = &spf->frames[spf->depth - 1];
	const struct tern__spf_term *inc = &f->rec.terms[f->term];
	switch (result) {
	case TERN_SPF_RESULT_PASS:
		set_mechanism(spf, inc->text, inc->text_len);
		frame_result(spf, inc->qualifier, inc, NULL);
		break;
	case TERN_SPF_RESULT_FAIL:
	case TERN_SPF_RESULT_SOFTFAIL:
	case TERN_SPF_RESULT_NEUTRAL:
		next_term(f);
		break;
	case TERN_SPF_RESULT_TEMPERROR:
		finish(spf, result, problem ? problem : "DNS failure", domain);
		break;
	case TERN_SPF_RESULT_NONE:
		finish(spf, TERN_SPF_RESULT_PERMERROR, "include: of a domain without an SPF record",
		       domain);
		break;
	default:
		finish(spf, TERN_SPF_RESULT_PERMERROR, problem ? problem : "permerror", domain);
		break;
	}
	free(domain);
}

/* RFC 7208 4.4 and 4.5: the domain's TXT records; exactly one "v=spf1". */
static enum step phase_fetch(struct tern_spf *spf, struct frame *f)
{
	const struct tern_dns_rr *found = NULL;
	const char *problem = NULL;
	size_t n = 0;
	enum asked a;

	a = ask(spf, f->domain, TERN_DNS_TYPE_TXT);
	if (a != ANSWERED)
		return a == ASKED ? STEP_WAIT : STEP_AGAIN;
	if (spf->ans.status == TERN_DNS_TEMPFAIL) {
		frame_result(spf, TERN_SPF_RESULT_TEMPERROR, NULL, "DNS failure for the record");
		return STEP_AGAIN;
	}
	for (size_t i = 0; spf->ans.status == TERN_DNS_FOUND && i < spf->ans.count; i++)
		if (tern__spf_is_record(spf->ans.rrs[i].data, spf->ans.rrs[i].len)) {
			found = &spf->ans.rrs[i];
			n++;
		}
	if (n == 0) {
		frame_result(spf, TERN_SPF_RESULT_NONE, NULL, NULL);
		return STEP_AGAIN;
	}
	if (n > 1) {
		frame_result(spf, TERN_SPF_RESULT_PERMERROR, NULL, "more than one SPF record");
		return STEP_AGAIN;
	}
	int rc = tern__spf_record_parse(&f->rec, found->data, found->len, &problem);
	if (rc == TERN_ENOMEM) {
		abandon(spf, "out of memory");
		return STEP_AGAIN;
	}
	if (rc != 0) {
		frame_result(spf, TERN_SPF_RESULT_PERMERROR, NULL, problem);
		return STEP_AGAIN;
	}
	f->parsed = true;
	f->phase = PH_TERMS;
	f->term = 0;
	return STEP_AGAIN;
}

/* The current term matched: its qualifier is the frame's result. */
static void matched(struct tern_spf *spf, struct frame *f)
{
	const struct tern__spf_term *t = &f->rec.terms[f->term];

	frame_result(spf, t->qualifier, t, NULL);
}

/* Expands term t's target (the current domain when it has none); false
 * when the check ended (a bad macro is a permerror, RFC 7208 7.1). */
static enum step term_target(struct tern_spf *spf, struct frame *f, const struct tern__spf_term *t,
			     bool *ok_r)
{
	int rc;

	*ok_r = false;
	if (t->spec == NULL) {
		if (buf_set(&f->target, f->domain, strlen(f->domain)) != 0) {
			abandon(spf, "out of memory");
			return STEP_AGAIN;
		}
		*ok_r = true;
		return STEP_AGAIN;
	}
	if (expand_target(spf, f, t->spec, t->spec_len, &rc) == STEP_WAIT)
		return STEP_WAIT;
	if (rc == TERN_ECLOSED)
		return STEP_AGAIN;
	if (rc != 0) {
		finish(spf, TERN_SPF_RESULT_PERMERROR, "bad macro", f->domain);
		return STEP_AGAIN;
	}
	*ok_r = true;
	return STEP_AGAIN;
}

/* RFC 7208 4.6.4: the DNS-querying terms, counted over the whole check,
 * once per term even when it waits for %{p}. */
static bool count_term(struct tern_spf *spf, struct frame *f)
{
	if (f->counted)
		return true;
	f->counted = true;
	if (++spf->terms <= spf->max_terms)
		return true;
	finish(spf, TERN_SPF_RESULT_PERMERROR, "too many DNS-querying terms", NULL);
	return false;
}

/* RFC 7208 6.1: the target's result is this check's result; this
 * record's exp= no longer applies, so the frame is replaced. */
static enum step do_redirect(struct tern_spf *spf, struct frame *f)
{
	const struct tern__spf_term *r = f->rec.redirect;
	bool ok, usable;
	char *target;

	if (!count_term(spf, f))
		return STEP_AGAIN;
	if (term_target(spf, f, r, &ok) == STEP_WAIT)
		return STEP_WAIT;
	if (!ok)
		return STEP_AGAIN;
	target = dup_str(tern__buf_ptr(&f->target));
	if (target == NULL) {
		abandon(spf, "out of memory");
		return STEP_AGAIN;
	}
	usable = target_usable(f);
	frame_clear(f);
	spf->depth--;
	if (push_frame(spf, target, true) == 0 && !usable)
		frame_result(spf, TERN_SPF_RESULT_NONE, NULL, NULL);
	free(target);
	return STEP_AGAIN;
}

static enum step phase_terms(struct tern_spf *spf, struct frame *f)
{
	const struct tern__spf_term *t;
	uint8_t net[16];
	bool ok;

	if (f->term >= f->rec.n) {
		if (f->rec.redirect != NULL)
			return do_redirect(spf, f);
		/* RFC 7208 4.7: no match and no redirect: neutral. */
		frame_result(spf, TERN_SPF_RESULT_NEUTRAL, NULL, NULL);
		return STEP_AGAIN;
	}
	t = &f->rec.terms[f->term];
	switch (t->kind) {
	case SPF_ALL:
		matched(spf, f);
		return STEP_AGAIN;
	case SPF_IP4:
	case SPF_IP6:
		/* An IPv4-mapped client was made IPv4 in tern_spf_new(). */
		if ((t->kind == SPF_IP4) == (spf->family == AF_INET)) {
			memset(net, 0, sizeof(net));
			memcpy(net, t->ip, sizeof(t->ip));
			if (tern__spf_prefix_match(net, spf->ip,
						   t->kind == SPF_IP4 ? t->cidr4 : t->cidr6)) {
				matched(spf, f);
				return STEP_AGAIN;
			}
		}
		next_term(f);
		return STEP_AGAIN;
	case SPF_REDIRECT:
	case SPF_EXP:
	case SPF_UNKNOWN_MOD:
		next_term(f);
		return STEP_AGAIN;
	default:
		break;
	}
	/* include a mx ptr exists */
	if (!count_term(spf, f))
		return STEP_AGAIN;
	if (term_target(spf, f, t, &ok) == STEP_WAIT)
		return STEP_WAIT;
	if (!ok)
		return STEP_AGAIN;
	if (!target_usable(f) && t->kind != SPF_PTR) {
		/* Not a name DNS could answer: a void lookup, no match. */
		if (!count_void(spf, true))
			return STEP_AGAIN;
		if (t->kind == SPF_INCLUDE) {
			finish(spf, TERN_SPF_RESULT_PERMERROR,
			       "include: of a domain without an SPF record", tern__buf_ptr(&f->target));
			return STEP_AGAIN;
		}
		next_term(f);
		return STEP_AGAIN;
	}
	switch (t->kind) {
	case SPF_A: f->phase = PH_A; break;
	case SPF_MX: f->phase = PH_MX; break;
	case SPF_PTR: f->phase = PH_PTR; break;
	case SPF_EXISTS: f->phase = PH_EXISTS; break;
	default:
		f->phase = PH_INCLUDE;
		push_frame(spf, tern__buf_ptr(&f->target), false);
		break;
	}
	return STEP_AGAIN;
}

/* RFC 7208 5: a DNS error in a mechanism's lookup is a temperror. */
static bool dns_error(struct tern_spf *spf, const struct frame *f)
{
	if (spf->ans.status != TERN_DNS_TEMPFAIL)
		return false;
	finish(spf, TERN_SPF_RESULT_TEMPERROR, "DNS failure", tern__buf_ptr(&f->target));
	return true;
}

/* The addresses of the frame's next MX or PTR name: one within prefix
 * matches the term; after the last name, the term did not match. A DNS
 * error is a temperror for mx (RFC 7208 5) but skips the name for ptr
 * (5.5: skip_errors). */
static enum step name_addresses(struct tern_spf *spf, struct frame *f, unsigned prefix,
				bool skip_errors)
{
	enum asked a;

	if (f->i_name >= f->n_names) {
		next_term(f);
		return STEP_AGAIN;
	}
	a = ask(spf, f->names[f->i_name], addr_type(spf));
	if (a != ANSWERED)
		return a == ASKED ? STEP_WAIT : STEP_AGAIN;
	if (!(skip_errors && spf->ans.status == TERN_DNS_TEMPFAIL) &&
	    (dns_error(spf, f) || !count_void(spf, answer_empty(spf))))
		return STEP_AGAIN;
	if (answer_has_ip(spf, prefix))
		matched(spf, f);
	else
		f->i_name++;
	return STEP_AGAIN;
}

static enum step phase_lookup(struct tern_spf *spf, struct frame *f)
{
	const struct tern__spf_term *t = &f->rec.terms[f->term];
	unsigned prefix = spf->family == AF_INET ? t->cidr4 : t->cidr6;
	enum asked a;

	switch (f->phase) {
	case PH_A:
	case PH_EXISTS:
		/* RFC 7208 5.7: exists always asks A, whatever the client. */
		a = ask(spf, tern__buf_ptr(&f->target),
			f->phase == PH_EXISTS ? TERN_DNS_TYPE_A : addr_type(spf));
		if (a != ANSWERED)
			return a == ASKED ? STEP_WAIT : STEP_AGAIN;
		if (dns_error(spf, f) || !count_void(spf, answer_empty(spf)))
			return STEP_AGAIN;
		if (f->phase == PH_EXISTS ? spf->ans.status == TERN_DNS_FOUND && spf->ans.count > 0
					  : answer_has_ip(spf, prefix))
			matched(spf, f);
		else
			next_term(f);
		return STEP_AGAIN;
	case PH_MX:
		a = ask(spf, tern__buf_ptr(&f->target), TERN_DNS_TYPE_MX);
		if (a != ANSWERED)
			return a == ASKED ? STEP_WAIT : STEP_AGAIN;
		if (dns_error(spf, f) || !count_void(spf, answer_empty(spf)))
			return STEP_AGAIN;
		if (answer_empty(spf)) {
			next_term(f);
			return STEP_AGAIN;
		}
		/* RFC 7208 4.6.4: more than 10 MX names is a permerror. */
		if (spf->ans.count > spf->max_names) {
			finish(spf, TERN_SPF_RESULT_PERMERROR, "more than 10 MX names",
			       tern__buf_ptr(&f->target));
			return STEP_AGAIN;
		}
		if (copy_names(spf, spf->max_names, &f->names, &f->n_names) != 0) {
			abandon(spf, "out of memory");
			return STEP_AGAIN;
		}
		f->i_name = 0;
		f->phase = PH_MX_HOSTS;
		return STEP_AGAIN;
	case PH_MX_HOSTS:
		return name_addresses(spf, f, prefix, false);
	case PH_PTR:
		a = ask_ptr(spf);
		if (a != ANSWERED)
			return a == ASKED ? STEP_WAIT : STEP_AGAIN;
		/* RFC 7208 5.5: a DNS error in the PTR lookup is no match. */
		if (spf->ans.status == TERN_DNS_TEMPFAIL) {
			next_term(f);
			return STEP_AGAIN;
		}
		if (!count_void(spf, answer_empty(spf)))
			return STEP_AGAIN;
		if (answer_empty(spf)) {
			next_term(f);
			return STEP_AGAIN;
		}
		/* RFC 7208 4.6.4: names past the first 10 are ignored. Only
		 * names within the target can match, so only those are
		 * validated (a deliberate saving; the result is the same). */
		if (copy_names(spf, spf->max_names, &f->names, &f->n_names) != 0) {
			abandon(spf, "out of memory");
			return STEP_AGAIN;
		}
		{
			size_t k = 0;
			for (size_t i = 0; i < f->n_names; i++) {
				if (within(f->names[i], tern__buf_ptr(&f->target)))
					f->names[k++] = f->names[i];
				else
					free(f->names[i]);
			}
			f->n_names = k;
		}
		f->i_name = 0;
		f->phase = PH_PTR_HOSTS;
		return STEP_AGAIN;
	case PH_PTR_HOSTS:
		return name_addresses(spf, f, spf->family == AF_INET ? 32 : 128, true);
	default:
		return STEP_AGAIN;
	}
}

/* RFC 7208 6.2: the explanation of a fail: exp='s TXT expanded, or the
 * default when there is no exp=, its lookup fails or gives anything but
 * exactly one string, or the string is no valid explain-string. The raw
 * text waits in the identity's explanation buffer while %{p} resolves. */
static enum step phase_exp(struct tern_spf *spf, struct frame *f)
{
	struct ident *id = &spf->idents[spf->cur];
	const struct tern__spf_term *e = f->rec.exp;
	struct tern__spf_macro_ctx ctx;
	struct tern__buf out;
	bool ok;
	int rc;

	if (f->exp_state == EXP_TARGET) {
		tern__buf_clear(&id->explanation);
		if (e != NULL) {
			if (expand_target(spf, f, e->spec, e->spec_len, &rc) == STEP_WAIT)
				return STEP_WAIT;
			if (rc == TERN_ECLOSED)
				return STEP_AGAIN;
			if (rc != 0 || !target_usable(f))
				e = NULL;
		}
		f->exp_state = e != NULL ? EXP_TEXT : EXP_EXPAND;
	}
	if (f->exp_state == EXP_TEXT) {
		enum asked a = ask(spf, tern__buf_ptr(&f->target), TERN_DNS_TYPE_TXT);
		if (a != ANSWERED)
			return a == ASKED ? STEP_WAIT : STEP_AGAIN;
		if (spf->ans.status == TERN_DNS_FOUND && spf->ans.count == 1 &&
		    buf_set(&id->explanation, (const char *)spf->ans.rrs[0].data,
			    spf->ans.rrs[0].len) != 0) {
			abandon(spf, "out of memory");
			return STEP_AGAIN;
		}
		f->exp_state = EXP_EXPAND;
	}
	/* A text that is no valid explain-string gives the default. */
	if (id->explanation.len > 0 &&
	    !tern__spf_macro_valid(tern__buf_ptr(&id->explanation), id->explanation.len, true))
		tern__buf_clear(&id->explanation);
	if (id->explanation.len == 0 &&
	    buf_set(&id->explanation, spf->default_exp, strlen(spf->default_exp)) != 0) {
		abandon(spf, "out of memory");
		return STEP_AGAIN;
	}
	if (need_p(spf, tern__buf_ptr(&id->explanation), id->explanation.len, &ok) == STEP_WAIT)
		return STEP_WAIT;
	if (!ok)
		return STEP_AGAIN;
	macro_ctx(spf, f->domain, &ctx);
	tern__buf_init(&out, TERN__SPF_EXPAND_MAX);
	rc = tern__spf_macro_expand(&ctx, tern__buf_ptr(&id->explanation), id->explanation.len,
				    true, &out);
	/* %{p} and %{s} bring in text from DNS and the client: keep the
	 * explanation printable ASCII, as the header promises. */
	for (size_t i = 0; rc == 0 && i < out.len; i++)
		if ((unsigned char)out.data[out.off + i] < 0x20 ||
		    (unsigned char)out.data[out.off + i] > 0x7e)
			out.data[out.off + i] = '?';
	if (rc == 0)
		rc = buf_set(&id->explanation, tern__buf_ptr(&out), out.len);
	tern__buf_free(&out);
	id->out.explanation = rc == 0 ? tern__buf_ptr(&id->explanation) : NULL;
	finish(spf, TERN_SPF_RESULT_FAIL, NULL, NULL);
	return STEP_AGAIN;
}

/* ---- identities ---- */

/* Starts check_host() for identity i (RFC 7208 4.1-4.3). */
static void start_ident(struct tern_spf *spf, int i)
{
	struct ident *id = &spf->idents[i];

	spf->cur = i;
	spf->terms = spf->voids = 0;
	/* RFC 7208 2.4: a null reverse-path is checked as postmaster@HELO,
	 * which is the HELO check itself when that ran too. */
	if (i == 1 && spf->idents[0].wanted && spf->idents[0].done &&
	    strcmp(id->domain, spf->idents[0].domain) == 0 &&
	    strcmp(id->sender, spf->idents[0].sender) == 0) {
		const struct ident *h = &spf->idents[0];
		int rc = 0;
		id->out.result = h->out.result;
		if (h->out.explanation)
			rc |= buf_set(&id->explanation, h->out.explanation,
				      strlen(h->out.explanation));
		if (h->out.mechanism)
			rc |= buf_set(&id->mechanism, h->out.mechanism, strlen(h->out.mechanism));
		if (h->out.problem)
			rc |= buf_set(&id->problem, h->out.problem, strlen(h->out.problem));
		id->out.explanation = h->out.explanation ? tern__buf_ptr(&id->explanation) : NULL;
		id->out.mechanism = h->out.mechanism ? tern__buf_ptr(&id->mechanism) : NULL;
		id->out.problem = h->out.problem ? tern__buf_ptr(&id->problem) : NULL;
		if (rc != 0)
			id->out.explanation = id->out.mechanism = id->out.problem = NULL;
		id->done = true;
		spf->cur = -1;
		return;
	}
	/* RFC 7208 4.3: a domain that is not a usable FQDN is "none". */
	if (!tern__spf_domain_ok(id->domain)) {
		finish(spf, TERN_SPF_RESULT_NONE, "no valid domain to check",
		       id->domain[0] ? id->domain : NULL);
		return;
	}
	push_frame(spf, id->domain, false);
}

/* Runs until a question is needed or every identity is done. */
static int run(struct tern_spf *spf)
{
	while (!spf->q_pending) {
		if (spf->cur < 0) {
			int next = -1;
			for (int i = 0; i < 2 && next < 0; i++)
				if (spf->idents[i].wanted && !spf->idents[i].done)
					next = i;
			if (next < 0)
				return TERN_SPF_DONE;
			start_ident(spf, next);
			continue;
		}
		struct frame *f = &spf->frames[spf->depth - 1];
		enum step s;
		switch (f->phase) {
		case PH_FETCH: s = phase_fetch(spf, f); break;
		case PH_TERMS: s = phase_terms(spf, f); break;
		case PH_EXP: s = phase_exp(spf, f); break;
		case PH_INCLUDE: s = STEP_AGAIN; break;   /* never on top */
		default: s = phase_lookup(spf, f); break;
		}
		if (s == STEP_WAIT)
			break;
	}
	return TERN_SPF_QUERY;
}

/* ---- the public API ---- */

void tern_spf_params_init(tern_spf_params *p)
{
	memset(p, 0, sizeof(*p));
	p->struct_size = sizeof(*p);
}

/* Splits a sender into local-part and domain (RFC 7208 4.3: no
 * local-part means "postmaster"; no "@" at all: the whole is the domain). */
static int set_sender(struct ident *id, const char *sender_or_null, const char *helo)
{
	const char *at;
	size_t dlen;

	if (sender_or_null == NULL || *sender_or_null == '\0') {
		id->domain = dup_str(helo);
		id->local = dup_str("postmaster");
	} else {
		at = strrchr(sender_or_null, '@');
		if (at == NULL) {
			id->domain = dup_str(sender_or_null);
			id->local = dup_str("postmaster");
		} else {
			id->domain = dup_str(at + 1);
			id->local = at == sender_or_null
					    ? dup_str("postmaster")
					    : strndup(sender_or_null, (size_t)(at - sender_or_null));
		}
	}
	if (id->domain == NULL || id->local == NULL)
		return TERN_ENOMEM;
	/* A final dot is no part of the domain ("user@example.com."). */
	dlen = strlen(id->domain);
	if (dlen > 1 && id->domain[dlen - 1] == '.')
		id->domain[dlen - 1] = '\0';
	size_t n = strlen(id->local) + 1 + strlen(id->domain) + 1;
	id->sender = malloc(n);
	if (id->sender == NULL)
		return TERN_ENOMEM;
	snprintf(id->sender, n, "%s@%s", id->local, id->domain);
	id->out.domain = id->domain;
	id->out.sender = id->sender;
	return 0;
}

int tern_spf_new(tern_spf **spf_r, const tern_spf_params *p)
{
	struct tern_spf *spf;
	unsigned checks;
	int rc = TERN_ENOMEM;

	if (spf_r == NULL)
		return TERN_EINVAL;
	*spf_r = NULL;
	if (p == NULL || p->struct_size < sizeof(*p) || p->client_ip == NULL)
		return TERN_EINVAL;
	checks = p->checks ? p->checks : TERN_SPF_MAILFROM;
	if (checks & ~(unsigned)(TERN_SPF_HELO | TERN_SPF_MAILFROM))
		return TERN_EINVAL;
	spf = calloc(1, sizeof(*spf));
	if (spf == NULL)
		return TERN_ENOMEM;
	spf->cur = -1;
	tern__buf_init(&spf->q_name, 0);
	for (int i = 0; i < 2; i++) {
		tern__buf_init(&spf->idents[i].explanation, 0);
		tern__buf_init(&spf->idents[i].mechanism, 0);
		tern__buf_init(&spf->idents[i].problem, 0);
	}
	if (inet_pton(AF_INET, p->client_ip, spf->ip) == 1) {
		spf->family = AF_INET;
	} else if (inet_pton(AF_INET6, p->client_ip, spf->ip) == 1) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		spf->family = AF_INET6;
		/* An IPv4 client seen through an IPv6 socket is an IPv4 client. */
		if (memcmp(spf->ip, mapped, 12) == 0) {
			memmove(spf->ip, spf->ip + 12, 4);
			memset(spf->ip + 4, 0, 12);
			spf->family = AF_INET;
		}
	} else {
		free(spf);
		return TERN_EINVAL;
	}
	inet_ntop(spf->family, spf->ip, spf->ip_text, sizeof(spf->ip_text));
	spf->helo = dup_str(p->helo ? p->helo : "");
	spf->receiver = dup_str(p->receiver ? p->receiver : "unknown");
	spf->default_exp = dup_str(p->default_explanation ? p->default_explanation
							  : DEFAULT_EXPLANATION);
	spf->now = p->now;
	spf->max_terms = p->max_dns_terms ? p->max_dns_terms : TERN__SPF_DNS_TERMS;
	spf->max_voids = p->max_void_lookups ? p->max_void_lookups : TERN__SPF_VOID_LOOKUPS;
	spf->max_names = p->max_names ? p->max_names : TERN__SPF_NAMES;
	/* The limits are also what bounds the depth and the queries: never
	 * above the RFC's values by more than the structures allow. */
	if (spf->max_terms > TERN__SPF_DNS_TERMS)
		spf->max_terms = TERN__SPF_DNS_TERMS;
	if (spf->max_names > TERN__SPF_NAMES)
		spf->max_names = TERN__SPF_NAMES;
	if (spf->helo == NULL || spf->receiver == NULL || spf->default_exp == NULL)
		goto fail;
	spf->idents[0].wanted = (checks & TERN_SPF_HELO) != 0;
	spf->idents[1].wanted = (checks & TERN_SPF_MAILFROM) != 0;
	if (set_sender(&spf->idents[0], NULL, spf->helo) != 0 ||
	    set_sender(&spf->idents[1], p->mail_from, spf->helo) != 0)
		goto fail;
	*spf_r = spf;
	return 0;
fail:
	tern_spf_destroy(&spf);
	return rc;
}

int tern_spf_next(tern_spf *spf, const char **name_r, enum tern_dns_type *type_r)
{
	int rc = run(spf);

	if (rc == TERN_SPF_QUERY) {
		*name_r = tern__buf_ptr(&spf->q_name);
		*type_r = spf->q_type;
	}
	return rc;
}

int tern_spf_answer(tern_spf *spf, const struct tern_dns_answer *answer)
{
	size_t total = 0, count;
	unsigned char *p;

	if (answer == NULL || (answer->status == TERN_DNS_FOUND && answer->count > 0 &&
			       answer->rrs == NULL))
		return TERN_EINVAL;
	if (!spf->q_pending)
		return TERN_ESTATE;
	clear_answer(spf);
	spf->q_pending = false;
	spf->ans.status = answer->status;
	count = answer->status == TERN_DNS_FOUND ? answer->count : 0;
	for (size_t i = 0; i < count; i++)
		total += answer->rrs[i].len + 1;
	if (count > 0) {
		spf->ans.rrs = malloc(count * sizeof(*spf->ans.rrs) + total);
		if (spf->ans.rrs == NULL) {
			abandon(spf, "out of memory");
			return 0;
		}
		p = (unsigned char *)(spf->ans.rrs + count);
		for (size_t i = 0; i < count; i++) {
			memcpy(p, answer->rrs[i].data, answer->rrs[i].len);
			p[answer->rrs[i].len] = '\0';
			spf->ans.rrs[i].data = p;
			spf->ans.rrs[i].len = answer->rrs[i].len;
			spf->ans.rrs[i].preference = answer->rrs[i].preference;
			p += answer->rrs[i].len + 1;
		}
	}
	spf->ans.count = count;
	spf->have_answer = true;
	return 0;
}

void tern_spf_cancel(tern_spf *spf)
{
	if (spf != NULL)
		abandon(spf, "cancelled");
}

const struct tern_spf_outcome *tern_spf_outcome(const tern_spf *spf, enum tern_spf_identity identity)
{
	int i = identity == TERN_SPF_HELO ? 0 : identity == TERN_SPF_MAILFROM ? 1 : -1;

	if (spf == NULL || i < 0 || !spf->idents[i].wanted || !spf->idents[i].done)
		return NULL;
	return &spf->idents[i].out;
}

unsigned tern_spf_queries(const tern_spf *spf)
{
	return spf->queries;
}

void tern_spf_destroy(tern_spf **spfp)
{
	struct tern_spf *spf;

	if (spfp == NULL || *spfp == NULL)
		return;
	spf = *spfp;
	while (spf->depth > 0)
		frame_clear(&spf->frames[--spf->depth]);
	for (int i = 0; i < 2; i++) {
		struct ident *id = &spf->idents[i];
		free(id->domain);
		free(id->sender);
		free(id->local);
		tern__buf_free(&id->explanation);
		tern__buf_free(&id->mechanism);
		tern__buf_free(&id->problem);
	}
	free_names(&spf->p_names, &spf->p_n);
	clear_answer(spf);
	tern__buf_free(&spf->q_name);
	free(spf->helo);
	free(spf->receiver);
	free(spf->default_exp);
	free(spf);
	*spfp = NULL;
}

const char *tern__spf_client_ip(const struct tern_spf *spf)
{
	return spf->ip_text;
}

const char *tern__spf_helo(const struct tern_spf *spf)
{
	return spf->helo;
}

const char *tern__spf_receiver(const struct tern_spf *spf)
{
	return spf->receiver;
}
