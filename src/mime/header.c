/* Header sections: splitting into fields, and the RFC 2045 Content-Type /
 * RFC 2183 Content-Disposition grammar with RFC 2231 continuations. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime.h"
#include "tern/tern.h"

static const char *const field_names[TERN__MIME_F_COUNT] = {
	"Content-Type", "Content-Transfer-Encoding", "Content-ID", "Content-Description",
	"Content-Disposition", "Content-Language", "Content-Location", "Content-MD5",
	"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
	"In-Reply-To", "Message-ID",
};

/* Keeps a field body as written, folds included (IMAP output unfolds it,
 * see imap.c), without the leading whitespace and the final line end;
 * trailing whitespace stays, as in Dovecot. */
static int keep(struct tern__mime_part *part, int f, const char *v, size_t n)
{
	while (n > 0 && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\n' || v[n - 1] == '\r'))
		n--;
	char *out = malloc(n + 1);
	if (!out)
		return TERN_ENOMEM;
	memcpy(out, v, n);
	out[n] = '\0';
	free(part->field[f]);
	part->field[f] = out;
	part->field_len[f] = (uint32_t)n;
	return 0;
}

/* A second To (From, Cc...): its addresses join the first field's list. */
static int append_list(struct tern__mime_part *part, int f, const char *v, size_t n)
{
	char *old = part->field[f];
	uint32_t olen = part->field_len[f];
	part->field[f] = NULL;
	int rc = keep(part, f, v, n);
	if (rc < 0) {
		part->field[f] = old;
		return rc;
	}
	char *joined = malloc((size_t)olen + 1 + part->field_len[f] + 1);
	if (!joined) {
		free(part->field[f]);
		part->field[f] = old;
		part->field_len[f] = olen;
		return TERN_ENOMEM;
	}
	memcpy(joined, old, olen);
	joined[olen] = ',';
	memcpy(joined + olen + 1, part->field[f], part->field_len[f] + 1);
	part->field_len[f] += olen + 1;
	free(part->field[f]);
	free(old);
	part->field[f] = joined;
	return 0;
}

int tern__mime_header_scan(struct tern__mime_part *part, const char *hdr, size_t len,
			   int keep_envelope)
{
	size_t i = 0;
	while (i < len) {
		/* One field: up to an LF not followed by WSP. */
		size_t start = i, end = i;
		for (;;) {
			const char *lf = memchr(hdr + end, '\n', len - end);
			if (!lf) {
				end = len;
				break;
			}
			end = (size_t)(lf - hdr) + 1;
			if (end >= len || (hdr[end] != ' ' && hdr[end] != '\t'))
				break;
		}
		i = end;
		const char *colon = memchr(hdr + start, ':', end - start);
		if (!colon)
			continue; /* the blank line, or junk without a name */
		size_t nlen = (size_t)(colon - (hdr + start));
		while (nlen > 0 && (hdr[start + nlen - 1] == ' ' || hdr[start + nlen - 1] == '\t'))
			nlen--; /* obs-optional: "Subject :" (RFC 5322 4.5) */
		int nf = keep_envelope ? TERN__MIME_F_COUNT : TERN__MIME_F_FIRST_ENVELOPE;
		for (int f = 0; f < nf; f++) {
			if (strlen(field_names[f]) != nlen ||
			    strncasecmp(field_names[f], hdr + start, nlen) != 0)
				continue;
			/* As in Dovecot: the first Content-* field counts, the last
			 * envelope string, and address fields add up. */
			if (part->field[f] && f < TERN__MIME_F_FIRST_ENVELOPE)
				break;
			const char *v = colon + 1;
			int rc;
			if (part->field[f] && f >= TERN__MIME_F_FROM && f <= TERN__MIME_F_BCC)
				rc = append_list(part, f, v, (size_t)(hdr + end - v));
			else
				rc = keep(part, f, v, (size_t)(hdr + end - v));
			if (rc < 0)
				return rc;
			break;
		}
	}
	return 0;
}

/* RFC 2045 5.1 token characters. */
static int is_tspecial(int c)
{
	return c <= ' ' || c >= 127 || strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* Skips whitespace and RFC 5322 comments. */
static size_t skip_cfws(const char *s, size_t len, size_t i)
{
	while (i < len) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++;
		} else if (s[i] == '(') {
			int depth = 0;
			while (i < len) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')' && --depth == 0) {
					i++;
					break;
				}
				i++;
			}
		} else {
			break;
		}
	}
	return i;
}

static size_t token(const char *s, size_t len, size_t i)
{
	while (i < len && !is_tspecial((unsigned char)s[i]))
		i++;
	return i;
}

void tern__mime_params_free(struct tern__mime_params *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->v[i].name);
		free(ps->v[i].value);
	}
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

const char *tern__mime_params_get(const struct tern__mime_params *ps, const char *name)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcasecmp(ps->v[i].name, name) == 0)
			return ps->v[i].value;
	return NULL;
}

static int param_add(struct tern__mime_params *ps, const char *n, size_t nl, const char *v,
		     size_t vl)
{
	struct tern__mime_param *nv = realloc(ps->v, (ps->n + 1) * sizeof(*nv));
	if (!nv)
		return TERN_ENOMEM;
	ps->v = nv;
	char *name = strndup(n, nl), *value = strndup(v, vl);
	if (!name || !value) {
		free(name);
		free(value);
		return TERN_ENOMEM;
	}
	ps->v[ps->n].name = name;
	ps->v[ps->n].value = value;
	ps->n++;
	return 0;
}

/* RFC 2231 3: name*0, name*1* ... are one parameter. Joins them in order
 * (stopping at the first missing number, as Dovecot does) under "name" or,
 * when the first piece is extended, "name*". */
static int join_continuations(struct tern__mime_params *ps)
{
	struct tern__mime_params out = { 0 };
	int rc = 0;
	for (size_t i = 0; i < ps->n && rc == 0; i++) {
		const char *nm = ps->v[i].name, *star = strchr(nm, '*');
		if (!star || !isdigit((unsigned char)star[1])) {
			rc = param_add(&out, nm, strlen(nm), ps->v[i].value, strlen(ps->v[i].value));
			continue;
		}
		size_t base = (size_t)(star - nm);
		if (strtoul(star + 1, NULL, 10) != 0)
			continue; /* joined when its *0 is met */
		int ext0 = star[strlen(star) - 1] == '*';
		char *joined = NULL;
		size_t jl = 0;
		for (unsigned long k = 0;; k++) {
			size_t j;
			for (j = 0; j < ps->n; j++) {
				const char *n2 = ps->v[j].name;
				char *end;
				if (strncasecmp(n2, nm, base) != 0 || n2[base] != '*' ||
				    !isdigit((unsigned char)n2[base + 1]))
					continue;
				if (strtoul(n2 + base + 1, &end, 10) == k && (*end == '\0' || strcmp(end, "*") == 0))
					break;
			}
			if (j == ps->n)
				break;
			size_t vl = strlen(ps->v[j].value);
			char *nj = realloc(joined, jl + vl + 1);
			if (!nj) {
				rc = TERN_ENOMEM;
				break;
			}
			joined = nj;
			memcpy(joined + jl, ps->v[j].value, vl);
			jl += vl;
			joined[jl] = '\0';
		}
		if (rc == 0) {
			char name[256];
			int nl = snprintf(name, sizeof(name), "%.*s%s", (int)(base > 200 ? 200 : base), nm,
					  ext0 ? "*" : "");
			rc = param_add(&out, name, (size_t)nl, joined ? joined : "", jl);
		}
		free(joined);
	}
	tern__mime_params_free(ps);
	*ps = out;
	return rc;
}

int tern__mime_parse_ctype(const char *s, size_t len, int ct, char *type, size_t type_cap,
			   char *subtype, size_t subtype_cap, struct tern__mime_params *ps)
{
	if (!s)
		return 0;
	size_t i = skip_cfws(s, len, 0), e = token(s, len, i);
	if (e == i || e - i >= type_cap)
		return 0;
	memcpy(type, s + i, e - i);
	type[e - i] = '\0';
	i = skip_cfws(s, len, e);
	if (ct) {
		if (i >= len || s[i] != '/')
			return 0;
		i = skip_cfws(s, len, i + 1);
		e = token(s, len, i);
		if (e == i || e - i >= subtype_cap)
			return 0;
		memcpy(subtype, s + i, e - i);
		subtype[e - i] = '\0';
		i = skip_cfws(s, len, e);
	}
	/* Parameters: broken ones are skipped up to the next ';'. */
	while (i < len) {
		if (s[i] != ';') {
			const char *semi = memchr(s + i, ';', len - i);
			if (!semi)
				break;
			i = (size_t)(semi - s);
		}
		i = skip_cfws(s, len, i + 1);
		size_t ns = i, ne = token(s, len, i);
		i = skip_cfws(s, len, ne);
		if (ne == ns || i >= len || s[i] != '=')
			continue;
		i = skip_cfws(s, len, i + 1);
		char *val = NULL;
		size_t vl = 0;
		if (i < len && s[i] == '"') {
			val = malloc(len - i);
			if (!val)
				return TERN_ENOMEM;
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				val[vl++] = s[i];
			}
			if (i < len)
				i++;
		} else {
			size_t vs = i;
			/* Lenient like Dovecot: 8-bit and other non-token octets up to ';'
			 * or whitespace are taken. */
			while (i < len && s[i] != ';' && s[i] != ' ' && s[i] != '\t' && s[i] != '"')
				i++;
			val = strndup(s + vs, i - vs);
			if (!val)
				return TERN_ENOMEM;
			vl = i - vs;
		}
		int rc = param_add(ps, s + ns, ne - ns, val, vl);
		free(val);
		if (rc < 0)
			return rc;
		i = skip_cfws(s, len, i);
	}
	if (join_continuations(ps) < 0)
		return TERN_ENOMEM;
	return 1;
}
