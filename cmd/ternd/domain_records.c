/* The text of a domain's DNS records and of its MTA-STS policy: domain
 * names checked and turned into A-labels, zone-file lines written and read
 * back, the _mta-sts and _smtp._tls records checked. Pure functions: no
 * files, no DNS (domain.c and domain_check.c do those). See domain.h. */
#include <ctype.h>
#include <errno.h>
#include <idn2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "auth/tag_list.h"
#include "domain.h"

int ternd_domain_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

void ternd_domain_records_clear(struct ternd_domain_records *r)
{
	for (unsigned i = 0; i < r->mx_count; i++)
		free(r->mx[i]);
	for (unsigned i = 0; i < r->dkim_count; i++)
		free(r->dkim[i].txt);
	free(r->spf);
	free(r->dmarc);
	free(r->sts_id);
	free(r->tlsrpt);
	free(r->sts_host);
	char domain[TERND_DOMAIN_MAX];
	memcpy(domain, r->domain, sizeof(domain));
	memset(r, 0, sizeof(*r));
	memcpy(r->domain, domain, sizeof(domain));
}

/* ---- names ---------------------------------------------------------------- */

static bool ldh_label(const char *s, size_t len)
{
	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

int ternd_domain_name(const char *in, char out[TERND_DOMAIN_MAX], char *err, size_t errlen)
{
	size_t len = strlen(in);
	bool ascii = true;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0)
		return ternd_domain_fail(err, errlen, EINVAL, "'%s' is not a domain name", in);
	if (len >= TERND_DOMAIN_MAX * 4)
		return ternd_domain_fail(err, errlen, EINVAL,
					 "a domain name has at most 253 octets ('%.40s...')", in);
	for (size_t i = 0; i < len; i++)
		ascii = ascii && (unsigned char)in[i] < 0x80;
	if (ascii) {
		if (len >= TERND_DOMAIN_MAX)
			return ternd_domain_fail(err, errlen, EINVAL,
						 "a domain name has at most 253 octets "
						 "('%.40s...')",
						 in);
		for (size_t i = 0; i < len; i++)
			out[i] = (char)tolower((unsigned char)in[i]);
		out[len] = '\0';
	} else {
		/* An IDN: DNS holds its A-labels, and so do the file names
		 * and the d= of the signatures (RFC 8616 4.2). */
		char copy[TERND_DOMAIN_MAX * 4], *ace = NULL;

		memcpy(copy, in, len);
		copy[len] = '\0';
		int rc = idn2_to_ascii_8z(copy, &ace, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		if (rc != IDN2_OK)
			return ternd_domain_fail(err, errlen, EINVAL,
						 "'%s' is not a domain name (%s)", in,
						 idn2_strerror(rc));
		size_t alen = strlen(ace);
		if (alen >= TERND_DOMAIN_MAX) {
			idn2_free(ace);
			return ternd_domain_fail(err, errlen, EINVAL,
						 "a domain name has at most 253 octets "
						 "('%.40s...')",
						 in);
		}
		for (size_t i = 0; i <= alen; i++)
			out[i] = (char)tolower((unsigned char)ace[i]);
		idn2_free(ace);
		len = alen;
	}
	unsigned labels = 0;
	bool digits_only = true;
	for (const char *p = out;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);

		if (!ldh_label(p, l))
			return ternd_domain_fail(err, errlen, EINVAL,
						 "'%s' is not a domain name (label '%.*s')", in,
						 (int)l, p);
		labels++;
		if (dot == NULL) {
			for (size_t i = 0; i < l; i++)
				digits_only = digits_only && isdigit((unsigned char)p[i]);
			break;
		}
		p = dot + 1;
	}
	if (labels < 2)
		return ternd_domain_fail(
		    err, errlen, EINVAL,
		    "'%s' is not a domain name (one label: a mail domain has a "
		    "parent)",
		    in);
	if (digits_only)
		return ternd_domain_fail(err, errlen, EINVAL,
					 "'%s' is an address, not a domain name", in);
	return 0;
}

bool ternd_selector_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 63 || len >= TERND_SELECTOR_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

/* ---- writing -------------------------------------------------------------- */

/* RFC 1035 3.3.14: a TXT record is one or more <character-string>s of at
 * most 255 octets each; a resolver joins them back (RFC 6376 3.6.2.2, RFC
 * 7208 3.3). The cut falls on octet boundaries of the value, not of its
 * escaped form. */
void ternd_zone_txt(FILE *out, const char *owner, const char *value)
{
	size_t len = strlen(value);

	fprintf(out, "%s.\t%u\tIN\tTXT\t", owner, TERND_DOMAIN_TTL);
	for (size_t off = 0; off < len || off == 0; off += 255) {
		size_t n = len - off < 255 ? len - off : 255;

		fputs(off > 0 ? " \"" : "\"", out);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)value[off + i];

			if (c == '"' || c == '\\')
				fprintf(out, "\\%c", c);
			else if (c < 0x20 || c > 0x7e)
				fprintf(out, "\\%03u", c);
			else
				fputc(c, out);
		}
		fputc('"', out);
		if (len == 0)
			break;
	}
	fputc('\n', out);
}

void ternd_domain_zone_write(const struct ternd_domain_records *r, time_t now, FILE *out)
{
	const char *d = r->domain;
	char owner[TERND_DOMAIN_MAX + TERND_SELECTOR_MAX + 32];
	struct tm tm;
	char when[32] = "";

	if (gmtime_r(&now, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	fprintf(out, "; DNS records for %s, written by ternd domain add (%s).\n", d, when);
	fprintf(out, "; Publish them in the zone of %s; `ternd domain check %s` looks them up.\n",
		d, d);
	if (r->mx_count > 0)
		fprintf(out, "\n; Mail for %s is delivered to these hosts (RFC 5321 5.1).\n", d);
	for (unsigned i = 0; i < r->mx_count; i++)
		fprintf(out, "%s.\t%u\tIN\tMX\t%u %s.\n", d, TERND_DOMAIN_TTL, 10 * (i + 1),
			r->mx[i]);
	if (r->spf != NULL) {
		fprintf(out, "\n; SPF (RFC 7208): the hosts that may send mail from @%s.\n", d);
		ternd_zone_txt(out, d, r->spf);
	}
	if (r->dkim_count > 0)
		fprintf(out,
			"\n; DKIM (RFC 6376): the public half of each signing key in "
			"dkim/; every one must stay\n; published while mail signed with it may "
			"still be verified.\n");
	for (unsigned i = 0; i < r->dkim_count; i++) {
		snprintf(owner, sizeof(owner), "%s._domainkey.%s", r->dkim[i].selector, d);
		ternd_zone_txt(out, owner, r->dkim[i].txt);
	}
	if (r->dmarc != NULL) {
		fprintf(out,
			"\n; DMARC (RFC 7489): what receivers do with mail from @%s that "
			"fails SPF and DKIM\n; alignment, and where they send reports.\n",
			d);
		snprintf(owner, sizeof(owner), "_dmarc.%s", d);
		ternd_zone_txt(out, owner, r->dmarc);
	}
	if (r->sts_id != NULL) {
		fprintf(out, "\n; MTA-STS (RFC 8461): senders must use verified TLS to the MX "
			     "hosts; the id changes\n; whenever the policy does.\n");
		snprintf(owner, sizeof(owner), "_mta-sts.%s", d);
		char txt[64];
		snprintf(txt, sizeof(txt), "v=STSv1; id=%s", r->sts_id);
		ternd_zone_txt(out, owner, txt);
		fprintf(out,
			"; The policy is fetched from https://mta-sts.%s/.well-known/mta-sts.txt:\n"
			"; mta-sts.%s must have an A/AAAA record (or this CNAME) for the host "
			"running\n; ternd --mta-sts-listen, with a certificate for mta-sts.%s.\n",
			d, d, d);
		if (r->sts_host != NULL)
			fprintf(out, "mta-sts.%s.\t%u\tIN\tCNAME\t%s.\n", d, TERND_DOMAIN_TTL,
				r->sts_host);
	}
	if (r->tlsrpt != NULL) {
		fprintf(out, "\n; TLS-RPT (RFC 8460): where senders report TLS failures to %s.\n",
			d);
		snprintf(owner, sizeof(owner), "_smtp._tls.%s", d);
		ternd_zone_txt(out, owner, r->tlsrpt);
	}
}

/* ---- reading back ------------------------------------------------------- */

static int set_str(char **dst, const char *s, size_t len)
{
	char *copy = strndup(s, len);

	if (copy == NULL)
		return ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/* The <character-string>s of a TXT line from p on, joined (\X and \DDD
 * undone) into a malloc'd string; NULL out of memory or on a line with no
 * quoted string. */
static char *txt_join(const char *p)
{
	size_t cap = strlen(p) + 1, n = 0;
	char *s = malloc(cap);
	bool any = false;

	if (s == NULL)
		return NULL;
	while (*p != '\0') {
		if (*p != '"') {
			p++;
			continue;
		}
		any = true;
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && isdigit((unsigned char)p[1]) &&
			    isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3])) {
				s[n++] =
				    (char)((p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0'));
				p += 3;
			} else if (*p == '\\' && p[1] != '\0') {
				s[n++] = *++p;
			} else {
				s[n++] = *p;
			}
		}
		if (*p == '"')
			p++;
	}
	s[n] = '\0';
	if (!any) {
		free(s);
		return NULL;
	}
	return s;
}

/* owner is "PREFIXDOMAIN." for the domain r names. */
static bool owner_is(const char *owner, size_t len, const char *prefix, const char *domain)
{
	size_t pl = strlen(prefix), dl = strlen(domain);

	return len == pl + dl + 1 && strncasecmp(owner, prefix, pl) == 0 &&
	       strncasecmp(owner + pl, domain, dl) == 0 && owner[pl + dl] == '.';
}

/* One line, NUL-terminated and writable (strtok_r cuts it up). */
static int read_fields(char *buf, struct ternd_domain_records *r)
{
	char *f[4] = {NULL}, *save = NULL, *rest;

	/* OWNER TTL IN TYPE RDATA, as ternd_domain_zone_write() writes it. */
	f[0] = strtok_r(buf, " \t", &save);
	for (int i = 1; i < 4 && f[i - 1] != NULL; i++)
		f[i] = strtok_r(NULL, " \t", &save);
	if (f[0] == NULL || f[3] == NULL || save == NULL)
		return 0;
	rest = save;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	size_t ol = strlen(f[0]);
	const char *d = r->domain;

	if (strcasecmp(f[3], "MX") == 0 && owner_is(f[0], ol, "", d)) {
		char *host = strpbrk(rest, " \t");
		if (host == NULL || r->mx_count >= TERND_DOMAIN_MAX_MX)
			return 0;
		while (*host == ' ' || *host == '\t')
			host++;
		size_t hl = strcspn(host, " \t");
		if (hl > 0 && host[hl - 1] == '.')
			hl--;
		if (set_str(&r->mx[r->mx_count], host, hl) != 0)
			return ENOMEM;
		r->mx_count++;
		return 0;
	}
	if (strcasecmp(f[3], "CNAME") == 0 && owner_is(f[0], ol, "mta-sts.", d)) {
		size_t hl = strcspn(rest, " \t");
		if (hl > 0 && rest[hl - 1] == '.')
			hl--;
		return set_str(&r->sts_host, rest, hl);
	}
	if (strcasecmp(f[3], "TXT") != 0)
		return 0;
	char *txt = txt_join(rest), **dst = NULL;
	if (txt == NULL)
		return 0;
	if (owner_is(f[0], ol, "", d) && strncasecmp(txt, "v=spf1", 6) == 0)
		dst = &r->spf;
	else if (owner_is(f[0], ol, "_dmarc.", d))
		dst = &r->dmarc;
	else if (owner_is(f[0], ol, "_smtp._tls.", d))
		dst = &r->tlsrpt;
	else if (owner_is(f[0], ol, "_mta-sts.", d)) {
		const char *id = strstr(txt, "id=");
		if (id != NULL) {
			id += 3;
			int rc = set_str(&r->sts_id, id, strcspn(id, "; \t"));
			free(txt);
			return rc;
		}
	}
	if (dst != NULL) {
		free(*dst);
		*dst = txt;
		return 0;
	}
	free(txt);
	return 0;
}

static int read_line(const char *line, size_t len, struct ternd_domain_records *r)
{
	if (len == 0 || line[0] == ';')
		return 0;
	char *buf = strndup(line, len);
	if (buf == NULL)
		return ENOMEM;
	int rc = read_fields(buf, r);
	free(buf);
	return rc;
}

int ternd_domain_zone_read(const char *text, struct ternd_domain_records *r)
{
	for (const char *p = text; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		int rc = read_line(p, len, r);

		if (rc != 0)
			return rc;
		p += len + (p[len] == '\n');
	}
	return 0;
}

/* ---- MTA-STS and TLS-RPT ---------------------------------------------------- */

char *ternd_mta_sts_policy(enum ternd_sts_mode mode, char *const *mx, unsigned mx_count,
			   unsigned max_age)
{
	static const char *const modes[] = {"enforce", "testing", "none"};
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (out == NULL)
		return NULL;
	/* RFC 8461 3.2: "version", "mode", "max_age" and one "mx" per
	 * pattern, key: value lines. */
	fprintf(out, "version: STSv1\r\nmode: %s\r\n", modes[mode]);
	for (unsigned i = 0; i < mx_count; i++)
		fprintf(out, "mx: %s\r\n", mx[i]);
	fprintf(out, "max_age: %u\r\n", max_age);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Tags of a TLS-RPT record: "tag=value" separated by ";" (RFC 8460 3),
 * the shape DKIM's tag-list parser reads. */
#define RECORD_TAGS 16

const char *ternd_tlsrpt_record_problem(const char *txt, size_t len)
{
	struct tern__tag tags[RECORD_TAGS];
	int n = tern__tag_parse(txt, len, tags, RECORD_TAGS);

	if (n < 0)
		return "not a list of tag=value pairs";
	/* RFC 8460 3: tlsrpt-version first, then rua= with one or more
	 * URIs, comma-separated, each mailto: or https:. */
	if (n == 0 || !(tags[0].name_len == 1 && tags[0].name[0] == 'v') ||
	    !tern__tag_value_is(&tags[0], "TLSRPTv1"))
		return "does not start with v=TLSRPTv1";
	const struct tern__tag *rua = tern__tag_find(tags, (size_t)n, "rua");
	if (rua == NULL || rua->value_len == 0)
		return "no rua=";
	/* Every item between commas, the last one too (a trailing comma
	 * leaves an empty URI, which is no URI). */
	for (const char *u = rua->value, *end = rua->value + rua->value_len;;) {
		const char *comma = memchr(u, ',', (size_t)(end - u));
		const char *stop = comma != NULL ? comma : end;

		while (u < stop && (*u == ' ' || *u == '\t'))
			u++;
		size_t ul = (size_t)(stop - u);
		while (ul > 0 && (u[ul - 1] == ' ' || u[ul - 1] == '\t'))
			ul--;
		bool mailto = ul > 7 && strncasecmp(u, "mailto:", 7) == 0 && memchr(u, '@', ul);
		bool https = ul > 8 && strncasecmp(u, "https://", 8) == 0;
		if (!mailto && !https)
			return "a rua= URI is neither mailto:ADDRESS nor https://";
		if (comma == NULL)
			break;
		u = comma + 1;
	}
	return NULL;
}
