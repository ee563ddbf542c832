/* Tag=value lists (RFC 6376 3.2):
 *
 *   tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
 *   tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *   tag-name  =  ALPHA *ALNUMPUNC          ALNUMPUNC = ALPHA / DIGIT / "_"
 *   tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
 *   tval      =  1*VALCHAR                 VALCHAR = %x21-3A / %x3C-7E
 *
 * One left-to-right pass; nothing is copied. FWS is taken loosely as any
 * run of SP, TAB, CR and LF: the header collector has already made every
 * line end CRLF, and a stricter reading would reject what other verifiers
 * accept without making anything safer. */
#include "auth/tag_list.h"

#include <string.h>

bool tern__tag_is_fws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_name_char(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

/* VALCHAR, plus 8-bit octets (RFC 8616 3.2). */
static bool is_valchar(unsigned char c)
{
	return (c >= 0x21 && c <= 0x7e && c != ';') || c >= 0x80;
}

int tern__tag_parse(const char *text, size_t len, struct tern__tag *tags, size_t max)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0, n = 0;

	for (;;) {
		struct tern__tag t;
		size_t end;

		while (i < len && tern__tag_is_fws(p[i]))
			i++;
		if (i == len)
			break;
		if (!is_alpha(p[i]))
			return TERN__TAG_ESYNTAX;
		t.name = text + i;
		while (i < len && is_name_char(p[i]))
			i++;
		t.name_len = (size_t)(text + i - t.name);
		while (i < len && tern__tag_is_fws(p[i]))
			i++;
		if (i == len || p[i] != '=')
			return TERN__TAG_ESYNTAX;
		i++;
		t.eq_end = i;
		while (i < len && tern__tag_is_fws(p[i]))
			i++;
		t.value = text + i;
		end = i;
		while (i < len && p[i] != ';') {
			if (is_valchar(p[i]))
				end = ++i;
			else if (tern__tag_is_fws(p[i]))
				i++;
			else
				return TERN__TAG_ESYNTAX;
		}
		t.value_len = end - (size_t)(t.value - text);
		for (size_t k = 0; k < n; k++)
			if (tags[k].name_len == t.name_len &&
			    memcmp(tags[k].name, t.name, t.name_len) == 0)
				return TERN__TAG_EDUPLICATE;
		if (n == max)
			return TERN__TAG_ETOOMANY;
		tags[n++] = t;
		if (i == len)
			break;
		i++; /* the ";" */
	}
	return (int)n;
}

const struct tern__tag *tern__tag_find(const struct tern__tag *tags, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (tags[i].name_len == len && memcmp(tags[i].name, name, len) == 0)
			return &tags[i];
	return NULL;
}

bool tern__tag_value_is(const struct tern__tag *t, const char *s)
{
	size_t len = strlen(s);

	return t->value_len == len && memcmp(t->value, s, len) == 0;
}

size_t tern__tag_strip_fws(const char *value, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++)
		if (!tern__tag_is_fws((unsigned char)value[i]))
			out[o++] = value[i];
	out[o] = '\0';
	return o;
}

const char *tern__tag_strerror(int err)
{
	switch (err) {
	case TERN__TAG_ESYNTAX: return "tag-list syntax error";
	case TERN__TAG_EDUPLICATE: return "a tag appears twice";
	case TERN__TAG_ETOOMANY: return "too many tags";
	}
	return "unknown tag-list error";
}
