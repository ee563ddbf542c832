/* `ternd domain check NAME`: looks up every record `add` printed and says,
 * one line each, whether it is there and right. Blocking lookups through
 * cmd/common/tool_dns (the library's resolver on a private loop): a
 * command-line tool does one thing at a time. See domain.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/tool_dns.h"
#include "auth/dkim_int.h"
#include "auth/spf_int.h"
#include "auth/tag_list.h"
#include "client/mta_sts.h"
#include "domain.h"
#include "tern/dmarc.h"
#include "tern/spf.h"

#define CHECK_EX_USAGE 64
#define CHECK_EX_NOINPUT 66
#define CHECK_EX_SOFTWARE 70

/* The addresses of this host SPF is tried with, when not given. */
#define MAX_IPS 16

struct check {
	FILE *out;
	const char *state_dir;
	struct tool_dns *dns;
	const struct ternd_domain_records *r;
	unsigned bad;
};

enum verdict { OK, MISSING, WRONG };

__attribute__((format(printf, 4, 5))) static void say(struct check *c, enum verdict v,
						      const char *what, const char *fmt, ...)
{
	static const char *const words[] = {"ok     ", "missing", "wrong  "};
	va_list ap;

	fprintf(c->out, "%s %s: ", words[v], what);
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->out);
	if (v != OK)
		c->bad++;
}

static const char *lookup_problem(const struct tern_dns_answer *a)
{
	switch (a->status) {
	case TERN_DNS_NXDOMAIN: return "no such name";
	case TERN_DNS_NODATA: return "no record of this type";
	case TERN_DNS_TEMPFAIL: return "the lookup failed (SERVFAIL or timeout)";
	default: return "found";
	}
}

/* The one TXT record at name that starts with prefix (case-insensitive,
 * then ';', a space or the end), as a malloc'd copy with its length in
 * *len_r. None, several, or a failed lookup: says so on the line of what
 * (several: "N records" and the consequence the RFC gives, in several)
 * and returns NULL. */
static char *one_txt(struct check *c, const char *name, const char *prefix, const char *what,
		     const char *several, size_t *len_r)
{
	struct tern_dns_answer a;
	size_t pl = strlen(prefix);
	char *txt = NULL;
	int n = 0;

	*len_r = 0;
	tool_dns_lookup(c->dns, name, TERN_DNS_TYPE_TXT, &a);
	if (a.status != TERN_DNS_FOUND) {
		say(c, a.status == TERN_DNS_TEMPFAIL ? WRONG : MISSING, what, "%s",
		    lookup_problem(&a));
		return NULL;
	}
	for (size_t i = 0; i < a.count; i++) {
		const char *t = (const char *)a.rrs[i].data;
		size_t len = a.rrs[i].len;

		if (len < pl || strncasecmp(t, prefix, pl) != 0 ||
		    (len > pl && t[pl] != ';' && t[pl] != ' ' && t[pl] != '\t'))
			continue;
		if (n++ == 0) {
			txt = strndup(t, len);
			*len_r = len;
		}
	}
	if (n == 0)
		say(c, MISSING, what, "no %s record among the TXT records", prefix);
	else if (n > 1)
		say(c, WRONG, what, "%d records (%s)", n, several);
	else if (txt == NULL)
		say(c, WRONG, what, "out of memory");
	if (n == 1)
		return txt;
	free(txt);
	return NULL;
}

/* ---- each record ----------------------------------------------------------- */

static void check_mx(struct check *c, const char *hostname)
{
	const struct ternd_domain_records *r = c->r;
	struct tern_dns_answer a;
	char what[TERND_DOMAIN_MAX + 8];

	snprintf(what, sizeof(what), "MX %.253s", r->domain);
	tool_dns_lookup(c->dns, r->domain, TERN_DNS_TYPE_MX, &a);
	if (a.status != TERN_DNS_FOUND) {
		say(c, a.status == TERN_DNS_TEMPFAIL ? WRONG : MISSING, what, "%s",
		    lookup_problem(&a));
		return;
	}
	/* Right when one exchange is this host or an MX host `add` was told. */
	for (size_t i = 0; i < a.count; i++) {
		const char *x = (const char *)a.rrs[i].data;
		bool ours = hostname != NULL && strcasecmp(x, hostname) == 0;

		for (unsigned k = 0; k < r->mx_count && !ours; k++)
			ours = strcasecmp(x, r->mx[k]) == 0;
		if (ours) {
			say(c, OK, what, "%u %s", a.rrs[i].preference, x);
			return;
		}
	}
	say(c, WRONG, what, "%s is not among the exchanges (%s%s)",
	    r->mx_count > 0 ? r->mx[0] : hostname, a.count > 0 ? (const char *)a.rrs[0].data : "",
	    a.count > 1 ? ", ..." : "");
}

/* One SPF evaluation for ip, the queries answered from DNS. */
static enum tern_spf_result spf_for(struct check *c, const char *ip, const char *helo,
				    const char **why_r)
{
	tern_spf_params p;
	tern_spf *spf = NULL;
	char sender[TERND_DOMAIN_MAX + 16];
	static char why[256];

	snprintf(sender, sizeof(sender), "postmaster@%s", c->r->domain);
	tern_spf_params_init(&p);
	p.client_ip = ip;
	p.mail_from = sender;
	p.helo = helo;
	p.now = time(NULL);
	*why_r = NULL;
	if (tern_spf_new(&spf, &p) != 0) {
		*why_r = "cannot start the check";
		return TERN_SPF_RESULT_TEMPERROR;
	}
	const char *name;
	enum tern_dns_type type;
	while (tern_spf_next(spf, &name, &type) == TERN_SPF_QUERY) {
		struct tern_dns_answer a;

		tool_dns_lookup(c->dns, name, type, &a);
		if (tern_spf_answer(spf, &a) != 0)
			break;
	}
	const struct tern_spf_outcome *o = tern_spf_outcome(spf, TERN_SPF_MAILFROM);
	enum tern_spf_result res = o != NULL ? o->result : TERN_SPF_RESULT_TEMPERROR;
	if (o != NULL && (o->problem != NULL || o->mechanism != NULL)) {
		snprintf(why, sizeof(why), "%s", o->problem != NULL ? o->problem : o->mechanism);
		*why_r = why;
	}
	tern_spf_destroy(&spf);
	return res;
}

/* This host's addresses: A and AAAA of its name. */
static unsigned host_ips(struct check *c, const char *host, char ips[][INET6_ADDRSTRLEN])
{
	static const enum tern_dns_type types[] = {TERN_DNS_TYPE_A, TERN_DNS_TYPE_AAAA};
	unsigned n = 0;

	for (size_t t = 0; t < 2; t++) {
		struct tern_dns_answer a;

		tool_dns_lookup(c->dns, host, types[t], &a);
		for (size_t i = 0; a.status == TERN_DNS_FOUND && i < a.count && n < MAX_IPS; i++)
			if (inet_ntop(t == 0 ? AF_INET : AF_INET6, a.rrs[i].data, ips[n],
				      INET6_ADDRSTRLEN) != NULL)
				n++;
	}
	return n;
}

static void check_spf(struct check *c, const char *hostname, const char *const *given)
{
	const char *d = c->r->domain, *why;
	char what[TERND_DOMAIN_MAX + 16];
	size_t len;
	char ips[MAX_IPS][INET6_ADDRSTRLEN];
	unsigned n = 0;

	snprintf(what, sizeof(what), "SPF %s", d);
	char *txt = one_txt(c, d, "v=spf1", what, "RFC 7208 4.5: permerror; publish one", &len);
	if (txt == NULL)
		return;
	free(txt);
	if (given != NULL) {
		for (; given[n] != NULL && n < MAX_IPS; n++)
			snprintf(ips[n], sizeof(ips[n]), "%s", given[n]);
	} else if (hostname != NULL) {
		n = host_ips(c, hostname, ips);
	}
	if (n == 0) {
		say(c, WRONG, what, "cannot try it: %s has no A or AAAA record (or give --ip)",
		    hostname != NULL ? hostname : "this host");
		return;
	}
	/* RFC 7208 2.6.3: pass is the one result that says "this host may
	 * send for the domain"; every address it sends from must get it. */
	for (unsigned i = 0; i < n; i++) {
		enum tern_spf_result res = spf_for(c, ips[i], hostname, &why);

		if (res != TERN_SPF_RESULT_PASS) {
			say(c, WRONG, what, "%s for %s%s%s%s", tern_spf_result_name(res), ips[i],
			    why != NULL ? " (" : "", why != NULL ? why : "",
			    why != NULL ? ")" : "");
			return;
		}
	}
	say(c, OK, what, "pass for %s%s", ips[0], n > 1 ? " and this host's other addresses" : "");
}

/* The p= of a key record, without folding whitespace, malloc'd. */
static char *p_value(const char *txt, size_t len)
{
	struct tern__tag tags[32];
	int n = tern__tag_parse(txt, len, tags, 32);
	const struct tern__tag *p = n > 0 ? tern__tag_find(tags, (size_t)n, "p") : NULL;
	char *out;

	if (p == NULL || (out = malloc(p->value_len + 1)) == NULL)
		return NULL;
	tern__tag_strip_fws(p->value, p->value_len, out);
	return out;
}

static void check_dkim(struct check *c, const struct ternd_dkim_rec *k)
{
	char name[TERND_DOMAIN_MAX + TERND_SELECTOR_MAX + 16], what[sizeof(name) + 8];
	struct tern_dns_answer a;
	char *want = p_value(k->txt, strlen(k->txt));
	const char *reason = "no TXT record carries this key's p=";

	snprintf(name, sizeof(name), "%s._domainkey.%s", k->selector, c->r->domain);
	snprintf(what, sizeof(what), "DKIM %s", name);
	tool_dns_lookup(c->dns, name, TERN_DNS_TYPE_TXT, &a);
	if (a.status != TERN_DNS_FOUND) {
		say(c, a.status == TERN_DNS_TEMPFAIL ? WRONG : MISSING, what, "%s",
		    lookup_problem(&a));
		free(want);
		return;
	}
	enum tern_dkim_algorithm alg =
	    strstr(k->txt, "k=ed25519") != NULL ? TERN_DKIM_ED25519_SHA256 : TERN_DKIM_RSA_SHA256;
	for (size_t i = 0; i < a.count && want != NULL; i++) {
		const char *t = (const char *)a.rrs[i].data;
		char *got = p_value(t, a.rrs[i].len);
		bool same = got != NULL && strcmp(got, want) == 0;

		free(got);
		if (!same)
			continue;
		/* The verifier's own parser must take it too (v=, k=, h=, s=). */
		struct tern__dkim_keyrec rec;
		const char *why = NULL;
		int rc = tern__dkim_keyrec_parse(t, a.rrs[i].len, alg, &rec, &why);
		tern__dkim_keyrec_free(&rec);
		if (rc == 0) {
			say(c, OK, what, "carries the key of dkim/%s.pem", k->selector);
			free(want);
			return;
		}
		reason = why != NULL ? why : "a verifier refuses the record";
	}
	free(want);
	say(c, WRONG, what, "%s", reason);
}

static void check_dmarc(struct check *c)
{
	char name[TERND_DOMAIN_MAX + 16], what[sizeof(name) + 8], *txt;
	size_t len;

	snprintf(name, sizeof(name), "_dmarc.%s", c->r->domain);
	snprintf(what, sizeof(what), "DMARC %s", name);
	/* RFC 7489 6.6.3: several records, no policy at all. */
	if ((txt = one_txt(c, name, "v=DMARC1", what, "receivers then apply none", &len)) == NULL)
		return;
	struct tern_dmarc_record rec;
	int rc = tern_dmarc_record_parse(txt, len, &rec);
	if (rc == 0 && !rec.p_from_rua)
		say(c, OK, what, "p=%s%s%s", tern_dmarc_policy_name(rec.p),
		    rec.rua_count > 0 ? ", reports to " : "",
		    rec.rua_count > 0 ? rec.rua[0].uri : "");
	else if (rc == 0 || rc == TERN_DMARC_RECORD_INVALID)
		say(c, WRONG, what, "p= is missing or bad (RFC 7489 6.3)");
	else
		say(c, WRONG, what, "%s", rc == TERN_ENOMEM ? "out of memory" : "does not parse");
	tern_dmarc_record_clear(&rec);
	free(txt);
}

/* The policy file against the MX hosts DNS names now: a sender in enforce
 * mode refuses every MX its patterns do not match (RFC 8461 4.1). */
static void check_policy(struct check *c)
{
	char path[4400], what[TERND_DOMAIN_MAX + 32], *body = NULL;
	const char *why = NULL;
	struct tern__sts_policy p;
	struct tern_dns_answer a;
	size_t len = 0;
	FILE *f;

	snprintf(what, sizeof(what), "MTA-STS policy of %s", c->r->domain);
	snprintf(path, sizeof(path), "%s/domains/%s/mta-sts.txt", c->state_dir, c->r->domain);
	if ((f = fopen(path, "re")) != NULL) {
		body = malloc(TERN__STS_MAX_BODY + 1);
		if (body != NULL)
			len = fread(body, 1, TERN__STS_MAX_BODY + 1, f);
		fclose(f);
	}
	if (body == NULL) {
		say(c, MISSING, what, "%s cannot be read", path);
		return;
	}
	memset(&p, 0, sizeof(p));
	int rc = tern__sts_policy_parse(&p, body, len, &why);
	free(body);
	if (rc != 0) {
		say(c, WRONG, what, "%s does not parse: %s", path,
		    why != NULL ? why : tern_strerror(rc));
		return;
	}
	tool_dns_lookup(c->dns, c->r->domain, TERN_DNS_TYPE_MX, &a);
	for (size_t i = 0; a.status == TERN_DNS_FOUND && i < a.count; i++) {
		const char *x = (const char *)a.rrs[i].data;

		if (!tern__sts_mx_match(&p, x)) {
			say(c, WRONG, what, "the MX %s matches no mx: line, so %s would refuse it",
			    x, p.mode == TERN__STS_ENFORCE ? "senders" : "senders in enforce mode");
			tern__sts_policy_clear(&p);
			return;
		}
	}
	say(c, OK, what, "mode %s, %zu mx pattern%s%s",
	    p.mode == TERN__STS_ENFORCE   ? "enforce"
	    : p.mode == TERN__STS_TESTING ? "testing"
					  : "none",
	    p.n_mx, p.n_mx == 1 ? "" : "s",
	    a.status == TERN_DNS_FOUND ? ", every MX in DNS matches" : "");
	tern__sts_policy_clear(&p);
}

static void check_sts(struct check *c)
{
	char name[TERND_DOMAIN_MAX + 16], what[sizeof(name) + 16], *txt, id[TERN__STS_ID_SIZE];
	size_t len;

	snprintf(name, sizeof(name), "_mta-sts.%s", c->r->domain);
	snprintf(what, sizeof(what), "MTA-STS %s", name);
	/* RFC 8461 3.1: several records, senders assume no policy. */
	txt = one_txt(c, name, "v=STSv1", what, "senders then see no policy", &len);
	if (txt != NULL && !tern__sts_txt_parse(txt, len, id)) {
		/* The parser ternd's own delivery agent reads it with. */
		say(c, WRONG, what,
		    "not \"v=STSv1; id=ID\" with an id of 1 to 32 letters and "
		    "digits (RFC 8461 3.1)");
	} else if (txt != NULL && c->r->sts_id != NULL && strcmp(id, c->r->sts_id) != 0) {
		say(c, WRONG, what, "id=%s, but the policy's is %s: senders keep an old policy", id,
		    c->r->sts_id);
	} else if (txt != NULL) {
		say(c, OK, what, "id=%s", id);
	}
	free(txt);
	check_policy(c);

	/* The policy host (RFC 8461 3.2): any address will do here; the
	 * certificate is a matter for the HTTPS fetch. */
	struct tern_dns_answer a;
	snprintf(name, sizeof(name), "mta-sts.%s", c->r->domain);
	snprintf(what, sizeof(what), "MTA-STS host %s", name);
	tool_dns_lookup(c->dns, name, TERN_DNS_TYPE_A, &a);
	if (a.status != TERN_DNS_FOUND && a.status != TERN_DNS_TEMPFAIL)
		tool_dns_lookup(c->dns, name, TERN_DNS_TYPE_AAAA, &a);
	if (a.status == TERN_DNS_FOUND)
		say(c, OK, what, "has an address");
	else
		say(c, a.status == TERN_DNS_TEMPFAIL ? WRONG : MISSING, what,
		    "%s: no A or AAAA record (or CNAME to a host with one)", lookup_problem(&a));
}

static void check_tlsrpt(struct check *c)
{
	char name[TERND_DOMAIN_MAX + 16], what[sizeof(name) + 16], *txt;
	const char *why;
	size_t len;

	snprintf(name, sizeof(name), "_smtp._tls.%s", c->r->domain);
	snprintf(what, sizeof(what), "TLS-RPT %s", name);
	txt = one_txt(c, name, "v=TLSRPTv1", what, "RFC 8460 3: exactly one", &len);
	if (txt == NULL)
		return;
	if ((why = ternd_tlsrpt_record_problem(txt, len)) != NULL)
		say(c, WRONG, what, "%s", why);
	else
		say(c, OK, what, "%s", txt);
	free(txt);
}

int ternd_domain_check(const struct ternd_domain_check_options *o, FILE *out)
{
	struct ternd_domain_records r = {0};
	char err[1024];
	int e = ternd_domain_load(o->state_dir, o->domain, &r, err, sizeof(err));

	if (e != 0) {
		if (e == ENOENT)
			fprintf(stderr,
				"ternd domain: %s is not set up here (ternd domain add %s)\n",
				o->domain, o->domain);
		else
			fprintf(stderr, "ternd domain: %s\n", err);
		ternd_domain_records_clear(&r);
		return e == ENOENT ? CHECK_EX_NOINPUT : CHECK_EX_SOFTWARE;
	}
	struct check c = {.out = out, .r = &r, .state_dir = o->state_dir};
	c.dns = tool_dns_new(o->dns_server, o->timeout_ms, err, sizeof(err));
	if (c.dns == NULL) {
		fprintf(stderr, "ternd domain: DNS: %s\n", err);
		ternd_domain_records_clear(&r);
		return CHECK_EX_USAGE;
	}
	check_mx(&c, o->hostname);
	check_spf(&c, o->hostname, o->ips);
	if (r.dkim_count == 0)
		say(&c, WRONG, "DKIM", "no key in dkim/: ternd domain add %s --dkim rsa", r.domain);
	for (unsigned i = 0; i < r.dkim_count; i++)
		check_dkim(&c, &r.dkim[i]);
	check_dmarc(&c);
	check_sts(&c);
	check_tlsrpt(&c);
	tool_dns_free(c.dns);
	ternd_domain_records_clear(&r);
	fflush(out);
	return c.bad == 0 ? 0 : 1;
}
