/* Writing an Authentication-Results field (RFC 8601 2.2):
 *
 *   authres-header-field = "Authentication-Results:" authres-payload
 *   authres-payload = [CFWS] authserv-id [ CFWS authres-version ]
 *                     ( no-result / 1*resinfo ) [CFWS] CRLF
 *   resinfo = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
 *
 * Words are laid out on lines of at most 78 octets (RFC 5322 2.1.1), each
 * method starting a line of its own; a break is CRLF TAB, which unfolds to
 * the single blank that separated the words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/authres.h"
#include "util/buf.h"

#define LINE_MAX_COLS 78

/* RFC 2045 5.1 tspecials. */
static bool is_tspecial(unsigned char c)
{
	return c != 0 && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || is_tspecial(*p))
			return false;
	return true;
}

static bool is_atext_ascii(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 8601 2.3 pvalue's "[ [ local-part ] "@" ] domain-name", with a
 * dot-atom local part and an LDH domain: header.i=@example.com and
 * smtp.mailfrom=user@example.com stay unquoted, as everybody writes them. */
static bool is_mailbox_form(const char *s)
{
	const char *at = strrchr(s, '@');

	if (at == NULL)
		return false;
	for (const char *p = s; p < at; p++)
		if (!is_atext_ascii((unsigned char)*p) && !(*p == '.' && p > s && p[-1] != '.' && p + 1 < at))
			return false;
	const char *d = at + 1;

	if (*d == '\0' || *d == '.' || *d == '-')
		return false;
	for (const char *p = d; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || (c == '.' && p[1] != '.' && p[1] != '\0')))
			return false;
	}
	return true;
}

/* RFC 5321 4.1.2 Keyword = Let-dig [Ldh-str]; "_" allowed too, since
 * registered names such as "dkim-adsp" have "-" and extensions use "_". */
static bool is_keyword(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      ((c == '-' || c == '_') && p > s)))
			return false;
	}
	return true;
}

/* No C0 control or DEL: a CR or LF would end the field early (header
 * injection), the rest have no business in it. */
static bool clean(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; s != NULL && *p != '\0'; p++)
		if (*p < ' ' || *p == 0x7f)
			return false;
	return true;
}

struct out {
	struct tern__buf buf;
	struct tern__buf word;
	size_t col;
	bool newline;   /* the word being assembled starts a line */
	int err;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->err == 0)
		o->err = tern__buf_append(&o->buf, s, n);
	o->col += n;
}

/* Lays out the word assembled in o->word: after a blank on the current
 * line when it fits, else on a new folded line (a line that holds nothing
 * yet takes a longer word whole: there is no legal break inside it). A
 * word is laid out only when the next one begins, so that a ";" can still
 * join the last word of a method. */
static void flush(struct out *o)
{
	size_t n = o->word.len;

	if (n == 0)
		return;
	if (o->newline || (o->col > 1 && o->col + 1 + n > LINE_MAX_COLS)) {
		put(o, "\r\n\t", 3);
		o->col = 1;
	} else {
		put(o, " ", 1);
	}
	put(o, tern__buf_ptr(&o->word), n);
	tern__buf_clear(&o->word);
}

/* Starts a new word; newline: on a line of its own. */
static void begin(struct out *o, bool newline)
{
	flush(o);
	o->newline = newline;
}

static void word_add(struct out *o, const char *s, size_t n)
{
	if (o->err == 0)
		o->err = tern__buf_append(&o->word, s, n);
}

static void word_str(struct out *o, const char *s)
{
	word_add(o, s, strlen(s));
}

/* A value as a token, or as a quoted-string with '"' and '\\' escaped. */
static void word_value(struct out *o, const char *v, bool mailbox_ok)
{
	if (is_token(v) || (mailbox_ok && is_mailbox_form(v))) {
		word_str(o, v);
		return;
	}
	word_add(o, "\"", 1);
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			word_add(o, "\\", 1);
		word_add(o, p, 1);
	}
	word_add(o, "\"", 1);
}

/* A comment, broken into words at its blanks so that it can fold. */
static void comment(struct out *o, const char *c)
{
	word_add(o, "(", 1);
	for (const char *p = c; *p != '\0'; p++) {
		if (*p == ' ') {
			begin(o, false);
			continue;
		}
		if (*p == '(' || *p == ')' || *p == '\\')
			word_add(o, "\\", 1);
		word_add(o, p, 1);
	}
	word_add(o, ")", 1);
}

static int check(const char *authserv_id, const struct tern_authres_result *results, size_t count)
{
	if (authserv_id == NULL || *authserv_id == '\0' || !clean(authserv_id) ||
	    (count > 0 && results == NULL))
		return TERN_EINVAL;
	for (size_t i = 0; i < count; i++) {
		const struct tern_authres_result *r = &results[i];

		if (!is_keyword(r->method) || !is_keyword(r->result) || !clean(r->comment) ||
		    !clean(r->reason) || (r->prop_count > 0 && r->props == NULL))
			return TERN_EINVAL;
		for (size_t k = 0; k < r->prop_count; k++) {
			const struct tern_authres_prop *p = &r->props[k];

			if (!is_keyword(p->ptype) || !is_keyword(p->property) || p->value == NULL ||
			    !clean(p->value))
				return TERN_EINVAL;
		}
	}
	return 0;
}

int tern_authres_build(const char *field_name, const char *authserv_id,
		       const struct tern_authres_result *results, size_t count, char **out_r,
		       size_t *len_r)
{
	struct out o;

	if (out_r == NULL)
		return TERN_EINVAL;
	*out_r = NULL;
	if (field_name == NULL)
		field_name = "Authentication-Results";
	if (!is_keyword(field_name))
		return TERN_EINVAL;
	int rc = check(authserv_id, results, count);

	if (rc != 0)
		return rc;
	memset(&o, 0, sizeof(o));
	tern__buf_init(&o.buf, 0);
	tern__buf_init(&o.word, 0);
	put(&o, field_name, strlen(field_name));
	put(&o, ":", 1);
	begin(&o, false);
	word_value(&o, authserv_id, false);
	word_add(&o, ";", 1);
	if (count == 0)
		/* RFC 8601 2.2: no-result = [CFWS] ";" [CFWS] "none" */
		word_str(&o, " none");

	for (size_t i = 0; i < count; i++) {
		const struct tern_authres_result *r = &results[i];
		char ver[24];

		begin(&o, true);
		word_str(&o, r->method);
		if (r->version > 0) {
			snprintf(ver, sizeof(ver), "/%u", r->version);
			word_str(&o, ver);
		}
		word_add(&o, "=", 1);
		word_str(&o, r->result);
		if (r->comment != NULL && *r->comment != '\0') {
			begin(&o, false);
			comment(&o, r->comment);
		}
		if (r->reason != NULL) {
			begin(&o, false);
			word_str(&o, "reason=");
			word_value(&o, r->reason, false);
		}
		for (size_t k = 0; k < r->prop_count; k++) {
			const struct tern_authres_prop *p = &r->props[k];

			begin(&o, false);
			word_str(&o, p->ptype);
			word_add(&o, ".", 1);
			word_str(&o, p->property);
			word_add(&o, "=", 1);
			word_value(&o, p->value, true);
		}
		if (i + 1 < count)
			word_add(&o, ";", 1);
	}
	flush(&o);
	put(&o, "\r\n", 3);   /* with the NUL */
	tern__buf_free(&o.word);
	if (o.err != 0) {
		tern__buf_free(&o.buf);
		return o.err == TERN_ELIMIT ? TERN_ENOMEM : o.err;
	}
	if (len_r != NULL)
		*len_r = o.buf.len - 1;
	*out_r = o.buf.data;
	return 0;
}
