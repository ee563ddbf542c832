/* BODY[section] addressing (RFC 9051 6.4.5): from a section spec to a byte
 * range of the original message, or to a header range to filter. Ranges are
 * physical (as stored); a server that stores bare LF converts on output. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime.h"
#include "tern/tern.h"

void tern__mime_section_clear(struct tern__mime_section *sec)
{
	for (size_t i = 0; i < sec->nfields; i++)
		free(sec->fields[i]);
	free(sec->fields);
	memset(sec, 0, sizeof(*sec));
}

/* The n-th subpart of cur (1-based), as RFC 9051 6.4.5 numbers them: the
 * children of a multipart, the parts of the message inside a message/rfc822
 * part, and part 1 of a single-part message being its body. */
static uint32_t step(const struct tern__mime *m, uint32_t cur, int first, unsigned long n)
{
	const struct tern__mime_part *p = &m->parts[cur];
	if (!first && p->kind == TERN__MIME_KIND_MESSAGE) {
		if (p->first_child == TERN__MIME_NONE)
			return TERN__MIME_NONE;
		cur = p->first_child;
		p = &m->parts[cur];
		first = 1;
	}
	if (p->kind == TERN__MIME_KIND_MULTIPART) {
		uint32_t c = p->first_child;
		for (unsigned long k = 1; c != TERN__MIME_NONE && k < n; k++)
			c = m->parts[c].next_sibling;
		return c;
	}
	return first && n == 1 ? cur : TERN__MIME_NONE;
}

static int set_range(struct tern__mime_section *sec, const struct tern__mime_range *r)
{
	sec->kind = TERN__MIME_SEC_RANGE;
	sec->off = r->off;
	sec->size = r->size;
	return 0;
}

/* "(" field-name *(SP field-name) ")" */
static int field_list(struct tern__mime_section *sec, const char *s)
{
	while (*s == ' ')
		s++;
	if (*s++ != '(')
		return TERN_EINVAL;
	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == ')')
			break;
		const char *b = s;
		size_t n;
		if (*s == '"') {
			b = ++s;
			while (*s && *s != '"')
				s++;
			n = (size_t)(s - b);
			if (*s)
				s++;
		} else {
			while (*s && *s != ' ' && *s != ')')
				s++;
			n = (size_t)(s - b);
		}
		if (n == 0)
			return TERN_EINVAL;
		char **nf = realloc(sec->fields, (sec->nfields + 2) * sizeof(*nf));
		if (!nf)
			return TERN_ENOMEM;
		sec->fields = nf;
		if (!(nf[sec->nfields] = strndup(b, n)))
			return TERN_ENOMEM;
		nf[++sec->nfields] = NULL;
	}
	return sec->nfields ? 0 : TERN_EINVAL;
}

int tern__mime_section_resolve(const struct tern__mime *m, const char *spec,
			       struct tern__mime_section *sec)
{
	memset(sec, 0, sizeof(*sec));
	uint32_t cur = 0;
	int numbered = 0;
	const char *s = spec;
	while (isdigit((unsigned char)*s)) {
		char *end;
		unsigned long n = strtoul(s, &end, 10);
		if (n == 0 || *s == '0')
			return TERN_EINVAL;
		if (cur != TERN__MIME_NONE)
			cur = step(m, cur, !numbered, n);
		numbered = 1;
		s = end;
		if (*s == '.' && s[1] != '\0' && s[1] != '.')
			s++;
		else if (*s)
			return TERN_EINVAL;
	}
	if (cur == TERN__MIME_NONE) {
		sec->kind = TERN__MIME_SEC_EMPTY;
		return 0;
	}
	const struct tern__mime_part *p = &m->parts[cur];
	if (*s == '\0') {
		if (!numbered) {
			sec->kind = TERN__MIME_SEC_RANGE;
			sec->size = m->size;
			return 0;
		}
		return set_range(sec, &p->body);
	}
	if (strcasecmp(s, "MIME") == 0) {
		if (!numbered)
			return TERN_EINVAL; /* RFC 9051 6.4.5: MIME needs a part number */
		return set_range(sec, &p->header);
	}
	/* HEADER and TEXT address a message: the top level, or the message in
	 * a message/rfc822 part. */
	int is_fields = strncasecmp(s, "HEADER.FIELDS", 13) == 0 &&
			(s[13] == ' ' || s[13] == '(' || strncasecmp(s + 13, ".NOT", 4) == 0);
	if (strcasecmp(s, "HEADER") != 0 && strcasecmp(s, "TEXT") != 0 && !is_fields)
		return TERN_EINVAL;
	const struct tern__mime_part *msg = p;
	if (numbered) {
		if (p->kind != TERN__MIME_KIND_MESSAGE || p->first_child == TERN__MIME_NONE) {
			sec->kind = TERN__MIME_SEC_EMPTY;
			return 0;
		}
		msg = &m->parts[p->first_child];
	}
	if (strcasecmp(s, "HEADER") == 0)
		return set_range(sec, &msg->header);
	if (strcasecmp(s, "TEXT") == 0)
		return set_range(sec, &msg->body);
	int rc;
	if (strncasecmp(s, "HEADER.FIELDS.NOT", 17) == 0 && (s[17] == ' ' || s[17] == '(')) {
		sec->not = 1;
		rc = field_list(sec, s + 17);
	} else if (strncasecmp(s, "HEADER.FIELDS", 13) == 0 && (s[13] == ' ' || s[13] == '(')) {
		rc = field_list(sec, s + 13);
	} else {
		return TERN_EINVAL;
	}
	if (rc < 0) {
		tern__mime_section_clear(sec);
		return rc;
	}
	sec->kind = TERN__MIME_SEC_HEADER_FIELDS;
	sec->off = msg->header.off;
	sec->size = msg->header.size;
	return 0;
}

int tern__mime_header_fields(const struct tern__mime_section *sec, const char *hdr, size_t len,
			     struct tern__buf *out)
{
	size_t i = 0;
	while (i < len) {
		size_t start = i, end = i;
		for (;;) {
			const char *lf = memchr(hdr + end, '\n', len - end);
			end = lf ? (size_t)(lf - hdr) + 1 : len;
			if (!lf || end >= len || (hdr[end] != ' ' && hdr[end] != '\t'))
				break;
		}
		i = end;
		const char *colon = memchr(hdr + start, ':', end - start);
		if (!colon)
			continue;
		size_t nl = (size_t)(colon - (hdr + start));
		while (nl > 0 && (hdr[start + nl - 1] == ' ' || hdr[start + nl - 1] == '\t'))
			nl--;
		int listed = 0;
		for (size_t k = 0; k < sec->nfields && !listed; k++)
			listed = strlen(sec->fields[k]) == nl &&
				 strncasecmp(sec->fields[k], hdr + start, nl) == 0;
		if (listed == sec->not)
			continue;
		int rc = tern__buf_append(out, hdr + start, end - start);
		if (rc == 0 && (end == start || hdr[end - 1] != '\n'))
			rc = tern__buf_append(out, "\r\n", 2);
		if (rc < 0)
			return rc;
	}
	/* RFC 9051 6.4.5: the subset ends with the blank line. */
	return tern__buf_append(out, "\r\n", 2);
}
