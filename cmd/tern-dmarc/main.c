/* tern-dmarc: a DMARC evaluation (RFC 7489) from the command line, over
 * libtern's sans-I/O engine (tern/dmarc.h) and blocking lookups
 * (cmd/common/tool_dns.h).
 *
 *   tern-dmarc (--from-domain D | --message FILE)
 *              [--spf RESULT:DOMAIN] [--helo]
 *              [--dkim RESULT:DOMAIN[:SELECTOR]]...
 *              [--dns ADDR[@PORT]] [--record "NAME TYPE VALUE"]... [--records FILE]
 *              [--random N] [--ip ADDR] [--nonexistent] [--psl FILE]
 *              [--authserv-id ID]
 *   tern-dmarc --read-authres "FIELD"
 *
 * Prints "key: value" lines (dmarc, disposition, requested, policy-tag,
 * from-domain, org-domain, policy-domain, spf, dkim, lookups) and the
 * Authentication-Results field the result deserves. --read-authres reads
 * an Authentication-Results or ARC-Authentication-Results field (name
 * included) and prints what tern_authres_parse() found, a line per method.
 * Exit status: 0 after an evaluation or a read, 2 on a usage error, 1 when
 * something else failed (a field whose authserv-id cannot be read). */
#include <errno.h>
#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tern/authres.h"
#include "tern/dmarc.h"
#include "tool_dns.h"

#define MAX_DKIM 16

struct opts {
	const char *from_domain;
	const char *message;
	const char *spf;
	bool helo;
	const char *dkim[MAX_DKIM];
	size_t dkim_count;
	const char *dns;
	const char *records[64];
	size_t record_count;
	const char *records_file;
	uint32_t random;
	const char *ip;
	bool nonexistent;
	const char *psl;
	const char *authserv_id;
	const char *read_authres;
};

static int usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "tern-dmarc: %s\n", why);
	fprintf(stderr,
		"usage: tern-dmarc (--from-domain D | --message FILE) [--spf RESULT:DOMAIN] [--helo]\n"
		"                  [--dkim RESULT:DOMAIN[:SELECTOR]]... [--dns ADDR[@PORT]]\n"
		"                  [--record \"NAME TYPE VALUE\"]... [--records FILE] [--random N]\n"
		"                  [--ip ADDR] [--nonexistent] [--psl FILE] [--authserv-id ID]\n"
		"       tern-dmarc --read-authres \"FIELD\"\n");
	return 2;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->authserv_id = "localhost";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;

		if (strcmp(a, "--helo") == 0) {
			o->helo = true;
			takes = false;
		} else if (strcmp(a, "--nonexistent") == 0) {
			o->nonexistent = true;
			takes = false;
		} else if (v == NULL) {
			return usage("an option is missing its value, or is unknown");
		} else if (strcmp(a, "--from-domain") == 0) {
			o->from_domain = v;
		} else if (strcmp(a, "--message") == 0) {
			o->message = v;
		} else if (strcmp(a, "--spf") == 0) {
			o->spf = v;
		} else if (strcmp(a, "--dkim") == 0) {
			if (o->dkim_count == MAX_DKIM)
				return usage("too many --dkim");
			o->dkim[o->dkim_count++] = v;
		} else if (strcmp(a, "--dns") == 0) {
			o->dns = v;
		} else if (strcmp(a, "--record") == 0) {
			if (o->record_count == sizeof(o->records) / sizeof(o->records[0]))
				return usage("too many --record");
			o->records[o->record_count++] = v;
		} else if (strcmp(a, "--records") == 0) {
			o->records_file = v;
		} else if (strcmp(a, "--random") == 0) {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(v, &end, 10);
			if (errno != 0 || *end != '\0' || end == v || n > UINT32_MAX)
				return usage("--random wants a number 0..4294967295");
			o->random = (uint32_t)n;
		} else if (strcmp(a, "--ip") == 0) {
			o->ip = v;
		} else if (strcmp(a, "--psl") == 0) {
			o->psl = v;
		} else if (strcmp(a, "--read-authres") == 0) {
			o->read_authres = v;
		} else if (strcmp(a, "--authserv-id") == 0) {
			o->authserv_id = v;
		} else {
			return usage("unknown option");
		}
		if (takes)
			i++;
	}
	if (o->read_authres != NULL)
		return 0;
	if ((o->from_domain == NULL) == (o->message == NULL))
		return usage("give one of --from-domain and --message");
	return 0;
}

/* The values of the From fields of a message's header section, unfolded
 * only as far as joining continuation lines (the extractor reads CFWS). */
static int read_from_fields(const char *path, char **values, size_t *lens, size_t max, size_t *count)
{
	FILE *f = fopen(path, "rb");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int current = -1;   /* index of the From field being continued */

	*count = 0;
	if (f == NULL) {
		fprintf(stderr, "tern-dmarc: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[0] == '\r' || line[0] == '\n')
			break;   /* the end of the header section */
		if (line[0] == ' ' || line[0] == '\t') {
			if (current >= 0) {
				char *grown = realloc(values[current], lens[current] + (size_t)n + 1);

				if (grown == NULL)
					break;
				memcpy(grown + lens[current], line, (size_t)n + 1);
				values[current] = grown;
				lens[current] += (size_t)n;
			}
			continue;
		}
		current = -1;
		char *colon = memchr(line, ':', (size_t)n);
		size_t name_len = colon != NULL ? (size_t)(colon - line) : 0;

		while (name_len > 0 && (line[name_len - 1] == ' ' || line[name_len - 1] == '\t'))
			name_len--;
		if (colon == NULL || name_len != 4 || strncasecmp(line, "From", 4) != 0)
			continue;
		if (*count == max)
			continue;
		size_t vlen = (size_t)n - (size_t)(colon + 1 - line);

		values[*count] = malloc(vlen + 1);
		if (values[*count] == NULL)
			break;
		memcpy(values[*count], colon + 1, vlen + 1);
		lens[*count] = vlen;
		current = (int)(*count)++;
	}
	free(line);
	fclose(f);
	return 0;
}

/* "RESULT:DOMAIN[:SELECTOR]" split in place. */
static bool split_auth(char *s, char **result, char **domain, char **selector)
{
	char *c = strchr(s, ':');

	if (c == NULL || c == s || c[1] == '\0')
		return false;
	*c = '\0';
	*result = s;
	*domain = c + 1;
	c = strchr(*domain, ':');
	if (selector != NULL)
		*selector = NULL;
	if (c != NULL) {
		*c = '\0';
		if (selector != NULL)
			*selector = c + 1;
	}
	return true;
}

/* Runs one evaluation to its end. */
static struct tern_dmarc *evaluate(struct tern_dmarc_params *p, struct tool_dns *dns)
{
	struct tern_dmarc *d;

	if (tern_dmarc_new(p, &d) != 0)
		return NULL;
	for (const char *q; (q = tern_dmarc_query(d)) != NULL;) {
		struct tern_dns_answer a;

		tool_dns_lookup(dns, q, TERN_DNS_TYPE_TXT, &a);
		if (tern_dmarc_feed(d, &a) != 0) {
			tern_dmarc_free(&d);
			return NULL;
		}
	}
	return d;
}

static const char *tag_name(enum tern_dmarc_policy_tag t)
{
	return t == TERN_DMARC_FROM_TAG_P ? "p" : t == TERN_DMARC_FROM_TAG_SP ? "sp"
					: t == TERN_DMARC_FROM_TAG_NP ? "np" : "-";
}

static const char *or_dash(const char *s)
{
	return s != NULL && *s != '\0' ? s : "-";
}

/* The Authentication-Results field: spf, each dkim, dmarc. */
static int print_authres(const char *id, const struct tern_dmarc_outcome *o, const char *from_status)
{
	struct tern_authres_result r[2 + MAX_DKIM];
	struct tern_authres_prop props[2 + MAX_DKIM][2];
	size_t n = 0;
	char comment[128];
	char *field;

	if (o != NULL && o->spf_domain != NULL) {
		props[n][0] = (struct tern_authres_prop){"smtp", o->spf_is_helo ? "helo" : "mailfrom",
							o->spf_domain};
		r[n] = (struct tern_authres_result){"spf", 0, o->spf_result, NULL, NULL, props[n], 1};
		n++;
	}
	for (size_t i = 0; o != NULL && i < o->dkim_count && n < 1 + MAX_DKIM; i++) {
		props[n][0] = (struct tern_authres_prop){"header", "d", o->dkim[i].domain};
		props[n][1] = (struct tern_authres_prop){"header", "s", or_dash(o->dkim[i].selector)};
		r[n] = (struct tern_authres_result){"dkim", 0, o->dkim[i].result, NULL, NULL, props[n],
						    o->dkim[i].selector != NULL ? 2 : 1};
		n++;
	}
	if (o != NULL) {
		/* OpenDMARC's comment: the policy published and applied. */
		if (o->have_record)
			snprintf(comment, sizeof(comment), "p=%s sp=%s dis=%s",
				 tern_dmarc_policy_name(o->record.p),
				 tern_dmarc_policy_name(o->record.sp != TERN_DMARC_POLICY_UNSET ? o->record.sp
												: o->record.p),
				 o->disposition != TERN_DMARC_POLICY_UNSET ? tern_dmarc_policy_name(o->disposition)
									   : "none");
		else
			snprintf(comment, sizeof(comment), "%s", o->reason);
		props[n][0] = (struct tern_authres_prop){"header", "from", o->from_domain};
		r[n] = (struct tern_authres_result){"dmarc", 0, tern_dmarc_result_name(o->result), comment, NULL,
						    props[n], 1};
		n++;
	} else {
		r[n++] = (struct tern_authres_result){"dmarc", 0, "permerror", from_status, NULL, NULL, 0};
	}
	int rc = tern_authres_build(NULL, id, r, n, &field, NULL);

	if (rc != 0) {
		fprintf(stderr, "tern-dmarc: Authentication-Results: %s\n", tern_strerror(rc));
		return 1;
	}
	fputs(field, stdout);
	free(field);
	return 0;
}

static void print_outcome(const struct tern_dmarc_outcome *o)
{
	printf("dmarc: %s\n", tern_dmarc_result_name(o->result));
	printf("disposition: %s\n", or_dash(tern_dmarc_policy_name(o->disposition)));
	printf("requested: %s\n", or_dash(tern_dmarc_policy_name(o->requested)));
	printf("policy-tag: %s\n", tag_name(o->policy_tag));
	printf("sampled-out: %s\n", o->sampled_out ? "yes" : "no");
	printf("reason: %s\n", o->reason);
	printf("from-domain: %s\n", o->from_domain);
	printf("org-domain: %s\n", o->org_domain);
	printf("policy-domain: %s\n", or_dash(o->policy_domain));
	if (o->have_record)
		printf("record: p=%s sp=%s np=%s adkim=%s aspf=%s pct=%u rua=%zu ruf=%zu bad-tags=%#x\n",
		       or_dash(tern_dmarc_policy_name(o->record.p)),
		       or_dash(tern_dmarc_policy_name(o->record.sp)),
		       or_dash(tern_dmarc_policy_name(o->record.np)),
		       o->record.adkim == TERN_DMARC_STRICT ? "s" : "r",
		       o->record.aspf == TERN_DMARC_STRICT ? "s" : "r", o->record.pct, o->record.rua_count,
		       o->record.ruf_count, o->record.bad_tags);
	if (o->spf_domain != NULL)
		printf("spf: %s %s%s %s\n", o->spf_result, o->spf_domain, o->spf_is_helo ? " (helo)" : "",
		       o->spf_aligned ? "aligned" : "unaligned");
	for (size_t i = 0; i < o->dkim_count; i++)
		printf("dkim: %s %s %s\n", o->dkim[i].result, o->dkim[i].domain,
		       o->dkim[i].aligned ? "aligned" : "unaligned");
}

/* --read-authres: "authserv-id: ID", "version", "instance", "none",
 * "partial", then per method "result: METHOD[/V]=RESULT", "reason: R" and
 * a "prop: PTYPE.PROP=VALUE" line per property (values may hold blanks). */
static int read_authres(const char *field)
{
	const char *colon = strchr(field, ':');
	bool arc = colon != NULL && strncasecmp(field, "ARC-", 4) == 0;
	struct tern_authres_parsed p;

	if (colon == NULL)
		return usage("--read-authres wants a whole field, name included");
	int rc = tern_authres_parse(colon + 1, strlen(colon + 1), arc, &p);

	if (rc != 0) {
		fprintf(stderr, "tern-dmarc: %s\n", rc == TERN_EINVAL ? "no authserv-id" : tern_strerror(rc));
		return 1;
	}
	printf("authserv-id: %s\nversion: %u\ninstance: %d\nnone: %s\npartial: %s\n", p.authserv_id,
	       p.version, p.instance, p.none ? "yes" : "no", p.partial ? "yes" : "no");
	for (size_t i = 0; i < p.count; i++) {
		const struct tern_authres_result *r = &p.results[i];

		printf("result: %s", r->method);
		if (r->version > 0)
			printf("/%u", r->version);
		printf("=%s\n", r->result);
		if (r->reason != NULL)
			printf("reason: %s\n", r->reason);
		for (size_t k = 0; k < r->prop_count; k++)
			printf("prop: %s%s%s=%s\n", r->props[k].ptype, *r->props[k].ptype ? "." : "",
			       r->props[k].property, r->props[k].value);
	}
	tern_authres_parsed_clear(&p);
	return 0;
}

static int run(struct opts *o, struct tool_dns *dns, const struct psl_ctx_st *psl)
{
	char *from_values[8] = {0};
	size_t from_lens[8] = {0};
	size_t from_count = 0;
	struct tern_dmarc_from from = {0};
	int status = 0;
	int ret = 1;
	struct tern_dmarc *evals[16] = {0};
	size_t n_evals = 0;

	if (o->message != NULL) {
		if (read_from_fields(o->message, from_values, from_lens, 8, &from_count) != 0)
			return 1;
		status = tern_dmarc_from_domains((const char *const *)from_values, from_lens, from_count, &from);
		printf("from-status: %s\n", tern_dmarc_from_strstatus(status));
		if (status < 0)
			goto out;
		if (status != 0 && status != TERN_DMARC_FROM_MULTIPLE_DOMAINS) {
			/* RFC 7489 6.6.1: no usable author domain. The tool
			 * reports permerror; a receiver may reject instead. */
			printf("dmarc: permerror\ndisposition: -\n");
			ret = print_authres(o->authserv_id, NULL, tern_dmarc_from_strstatus(status));
			goto out;
		}
	}

	char spf_buf[512];
	char dkim_buf[MAX_DKIM][512];
	struct tern_dmarc_dkim dkim[MAX_DKIM];
	struct tern_dmarc_params p;

	memset(&p, 0, sizeof(p));
	if (o->spf != NULL) {
		char *result, *domain;

		snprintf(spf_buf, sizeof(spf_buf), "%s", o->spf);
		if (!split_auth(spf_buf, &result, &domain, NULL)) {
			ret = usage("--spf wants RESULT:DOMAIN");
			goto out;
		}
		p.spf_result = result;
		p.spf_domain = domain;
	}
	for (size_t i = 0; i < o->dkim_count; i++) {
		char *result, *domain, *sel;

		snprintf(dkim_buf[i], sizeof(dkim_buf[i]), "%s", o->dkim[i]);
		if (!split_auth(dkim_buf[i], &result, &domain, &sel)) {
			ret = usage("--dkim wants RESULT:DOMAIN[:SELECTOR]");
			goto out;
		}
		dkim[i] = (struct tern_dmarc_dkim){domain, sel, result};
	}
	p.spf_is_helo = o->helo;
	p.dkim = dkim;
	p.dkim_count = o->dkim_count;
	p.source_ip = o->ip;
	p.random = o->random;
	p.from_exists = o->nonexistent ? TERN_DMARC_EXISTS_NO : TERN_DMARC_EXISTS_UNKNOWN;
	p.psl = psl;

	/* RFC 7489 6.6.1: with several author domains, each is evaluated and
	 * the strictest outcome applies. A tool's bound: the first 16. */
	size_t n_domains = o->message != NULL ? from.count : 1;
	const struct tern_dmarc_outcome *chosen = NULL;

	for (size_t i = 0; i < n_domains && i < 16; i++) {
		p.from_domain = o->message != NULL ? from.domains[i] : o->from_domain;
		evals[i] = evaluate(&p, dns);
		if (evals[i] == NULL) {
			fprintf(stderr, "tern-dmarc: out of memory\n");
			goto out;
		}
		n_evals++;
		chosen = tern_dmarc_stricter(chosen, tern_dmarc_outcome(evals[i]));
	}
	if (n_domains > 1) {
		printf("from-domains:");
		for (size_t i = 0; i < from.count; i++)
			printf(" %s", from.domains[i]);
		printf("\n");
	}
	print_outcome(chosen);
	printf("lookups: %u\n", tool_dns_lookups(dns));
	ret = print_authres(o->authserv_id, chosen, NULL);
out:
	for (size_t i = 0; i < n_evals; i++)
		tern_dmarc_free(&evals[i]);
	tern_dmarc_from_clear(&from);
	for (size_t i = 0; i < from_count; i++)
		free(from_values[i]);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o;
	char err[256];
	int rc = parse_args(argc, argv, &o);

	if (rc != 0)
		return rc;
	if (o.read_authres != NULL)
		return read_authres(o.read_authres);

	struct tool_dns *dns = tool_dns_new(o.dns, 0, err, sizeof(err));

	if (dns == NULL) {
		fprintf(stderr, "tern-dmarc: %s\n", err);
		return 1;
	}
	for (size_t i = 0; i < o.record_count; i++) {
		char buf[2048];
		char *name, *type, *value;

		snprintf(buf, sizeof(buf), "%s", o.records[i]);
		name = strtok(buf, " ");
		type = name != NULL ? strtok(NULL, " ") : NULL;
		value = type != NULL ? strtok(NULL, "") : NULL;
		if (type == NULL || tool_dns_add(dns, name, type, value != NULL ? value : "", err, sizeof(err)) != 0) {
			fprintf(stderr, "tern-dmarc: --record %s: %s\n", o.records[i], type ? err : "NAME TYPE VALUE");
			tool_dns_free(dns);
			return 2;
		}
	}
	if (o.records_file != NULL && tool_dns_load(dns, o.records_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "tern-dmarc: %s\n", err);
		tool_dns_free(dns);
		return 2;
	}

	psl_ctx_t *psl = NULL;

	if (o.psl != NULL && (psl = psl_load_file(o.psl)) == NULL) {
		fprintf(stderr, "tern-dmarc: cannot load the public suffix list %s\n", o.psl);
		tool_dns_free(dns);
		return 2;
	}
	rc = run(&o, dns, psl);
	psl_free(psl);
	tool_dns_free(dns);
	return rc;
}
