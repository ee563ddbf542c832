/* ENVELOPE, BODY and BODYSTRUCTURE as an IMAP server sends them (RFC 9051
 * 7.5.2), built from a parsed structure. Field values are written as they
 * are in the header (RFC 2047 words left encoded), as RFC 9051 asks. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mime/mime.h"
#include "tern/tern.h"

#define APPEND(out, s) tern__buf_append(out, s, sizeof(s) - 1)

/* escape: quotes and backslashes are escaped in a quoted string (Dovecot's
 * form for parameters) rather than sent as a literal (its envelope form). */
static int nstring(struct tern__buf *out, const char *s, size_t len, int escape)
{
	if (!s)
		return APPEND(out, "NIL");
	int literal = 0, folded = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		/* RFC 9051 4.3: a quoted string holds no CR, LF or NUL, and 8-bit
		 * text only in a literal (RFC 3501 without UTF8=ACCEPT). Like
		 * Dovecot, quotes and backslashes also go in a literal. */
		if (c == 0 || c >= 0x80 || ((c == '"' || c == '\\') && !escape))
			literal = 1;
		if (c == '\r' || c == '\n')
			folded = literal = 1;
	}
	if (!literal) {
		int rc = APPEND(out, "\"");
		for (size_t i = 0; i < len && rc == 0; i++) {
			if (s[i] == '"' || s[i] == '\\')
				rc = APPEND(out, "\\");
			if (rc == 0)
				rc = tern__buf_append(out, s + i, 1);
		}
		return rc < 0 ? rc : APPEND(out, "\"");
	}
	if (!folded) {
		int rc = tern__buf_printf(out, "{%zu}\r\n", len);
		return rc < 0 ? rc : tern__buf_append(out, s, len);
	}
	/* A folded field body: unfold (RFC 5322 2.2.3) by dropping each line
	 * break and the first whitespace after it, as Dovecot does. */
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		if ((s[i] == ' ' || s[i] == '\t') && i > 0 && s[i - 1] == '\n')
			continue;
		n++;
	}
	int rc = tern__buf_printf(out, "{%zu}\r\n", n);
	for (size_t i = 0; i < len && rc == 0; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		if ((s[i] == ' ' || s[i] == '\t') && i > 0 && s[i - 1] == '\n')
			continue;
		rc = tern__buf_append(out, s + i, 1);
	}
	return rc;
}

int tern__mime_imap_nstring(struct tern__buf *out, const char *s, size_t len)
{
	return nstring(out, s, len, 0);
}

/* A writer whose first error sticks: every later write is skipped, and the
 * caller reads the error once at the end, instead of an "if (rc == 0)"
 * before every piece. */
struct w {
	struct tern__buf *out;
	int rc;
};

static void lit(struct w *w, const char *s)
{
	if (w->rc == 0)
		w->rc = tern__buf_append(w->out, s, strlen(s));
}

static void str(struct w *w, const char *s, size_t len, int escape)
{
	if (w->rc == 0)
		w->rc = nstring(w->out, s, len, escape);
}

static void num(struct w *w, uint64_t v)
{
	if (w->rc == 0)
		w->rc = tern__buf_printf(w->out, " %llu", (unsigned long long)v);
}

/* " " and the field's value as an nstring. */
static void field(struct w *w, const struct tern__mime_part *p, int f)
{
	lit(w, " ");
	str(w, p->field[f], p->field_len[f], 0);
}

static void addresses(struct w *w, const struct tern__mime_part *p, int f)
{
	lit(w, " ");
	if (!p->field[f])
		lit(w, "NIL");
	else if (w->rc == 0)
		w->rc = tern__mime_imap_addresses(w->out, p->field[f], p->field_len[f]);
}

static void envelope(struct w *w, const struct tern__mime_part *p)
{
	lit(w, "(");
	str(w, p->field[TERN__MIME_F_DATE], p->field_len[TERN__MIME_F_DATE], 0);
	field(w, p, TERN__MIME_F_SUBJECT);
	addresses(w, p, TERN__MIME_F_FROM);
	/* RFC 3501 7.4.2: absent Sender and Reply-To take From's value. */
	addresses(w, p, p->field[TERN__MIME_F_SENDER] ? TERN__MIME_F_SENDER : TERN__MIME_F_FROM);
	addresses(w, p, p->field[TERN__MIME_F_REPLY_TO] ? TERN__MIME_F_REPLY_TO : TERN__MIME_F_FROM);
	addresses(w, p, TERN__MIME_F_TO);
	addresses(w, p, TERN__MIME_F_CC);
	addresses(w, p, TERN__MIME_F_BCC);
	field(w, p, TERN__MIME_F_IN_REPLY_TO);
	field(w, p, TERN__MIME_F_MESSAGE_ID);
	lit(w, ")");
}

int tern__mime_imap_envelope(const struct tern__mime *m, uint32_t part, struct tern__buf *out)
{
	struct w w = { out, 0 };
	envelope(&w, &m->parts[part]);
	return w.rc;
}

/* " " and a parameter list, NIL when empty; text parts without parameters
 * get charset us-ascii (RFC 2045 5.2), as Dovecot writes them. */
static void params(struct w *w, const struct tern__mime_params *ps, int add_charset)
{
	lit(w, " ");
	if (ps->n == 0) {
		lit(w, add_charset ? "(\"charset\" \"us-ascii\")" : "NIL");
		return;
	}
	for (size_t i = 0; i < ps->n; i++) {
		lit(w, i ? " " : "(");
		str(w, ps->v[i].name, strlen(ps->v[i].name), 1);
		lit(w, " ");
		str(w, ps->v[i].value, strlen(ps->v[i].value), 1);
	}
	lit(w, ")");
}

/* " " and Content-Disposition as (type params), or NIL. */
static void disposition(struct w *w, const struct tern__mime_part *p)
{
	char dtype[128];
	struct tern__mime_params dps = { 0 };
	int f = TERN__MIME_F_CONTENT_DISPOSITION;
	int v = tern__mime_parse_ctype(p->field[f], p->field_len[f], 0, dtype, sizeof(dtype), NULL,
				       0, &dps);
	lit(w, " ");
	if (v < 0 && w->rc == 0)
		w->rc = v;
	if (v == 1) {
		lit(w, "(");
		str(w, dtype, strlen(dtype), 0);
		params(w, &dps, 0);
		lit(w, ")");
	} else {
		lit(w, "NIL");
	}
	tern__mime_params_free(&dps);
}

/* " " and Content-Language as a list of tags (RFC 3282), or NIL. */
static void language(struct w *w, const struct tern__mime_part *p)
{
	const char *lang = p->field[TERN__MIME_F_CONTENT_LANGUAGE];
	size_t len = lang ? p->field_len[TERN__MIME_F_CONTENT_LANGUAGE] : 0, i = 0;
	int n = 0;
	lit(w, " ");
	while (i < len) {
		while (i < len && strchr(" \t\r\n,", lang[i]))
			i++;
		size_t s = i;
		while (i < len && !strchr(" \t\r\n,", lang[i]))
			i++;
		if (i > s) {
			lit(w, n++ ? " " : "(");
			str(w, lang + s, i - s, 0);
		}
	}
	lit(w, n ? ")" : "NIL");
}

/* " " and the Content-Transfer-Encoding token, default 7bit. */
static void encoding(struct w *w, const struct tern__mime_part *p)
{
	const char *e = p->field[TERN__MIME_F_CONTENT_TRANSFER_ENCODING];
	size_t n = 0;
	while (e && n < p->field_len[TERN__MIME_F_CONTENT_TRANSFER_ENCODING] &&
	       !strchr(" \t\r\n(;", e[n]))
		n++;
	lit(w, " ");
	if (n == 0)
		lit(w, "\"7bit\"");
	else
		str(w, e, n, 0);
}

static void body(struct w *w, const struct tern__mime *m, uint32_t pi, int ext)
{
	const struct tern__mime_part *p = &m->parts[pi];
	char type[32], sub[64];
	struct tern__mime_params ps = { 0 };
	int f = TERN__MIME_F_CONTENT_TYPE;
	int valid = tern__mime_parse_ctype(p->field[f], p->field_len[f], 1, type, sizeof(type), sub,
					   sizeof(sub), &ps);
	if (valid < 0 && w->rc == 0)
		w->rc = valid;
	if (valid != 1) {
		/* RFC 2045 5.2 (and 2046 5.1.5 in a digest): the parser's default. */
		tern__mime_params_free(&ps);
		int msg = p->kind == TERN__MIME_KIND_MESSAGE;
		strcpy(type, msg ? "message" : "text");
		strcpy(sub, msg ? "rfc822" : "plain");
	}
	lit(w, "(");
	if (p->kind == TERN__MIME_KIND_MULTIPART) {
		/* A multipart without parts shows one empty text/plain part. */
		if (p->first_child == TERN__MIME_NONE)
			lit(w, ext ? "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 "
				     "NIL NIL NIL NIL)"
				   : "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)");
		for (uint32_t c = p->first_child; c != TERN__MIME_NONE; c = m->parts[c].next_sibling)
			body(w, m, c, ext);
		lit(w, " ");
		str(w, sub, strlen(sub), 0);
		if (ext) {
			params(w, &ps, 0);
			disposition(w, p);
			language(w, p);
			field(w, p, TERN__MIME_F_CONTENT_LOCATION);
		}
	} else {
		str(w, type, strlen(type), 0);
		lit(w, " ");
		str(w, sub, strlen(sub), 0);
		params(w, &ps, strcasecmp(type, "text") == 0);
		field(w, p, TERN__MIME_F_CONTENT_ID);
		field(w, p, TERN__MIME_F_CONTENT_DESCRIPTION);
		encoding(w, p);
		num(w, p->body.vsize);
		if (p->kind == TERN__MIME_KIND_MESSAGE && p->first_child != TERN__MIME_NONE) {
			lit(w, " ");
			envelope(w, &m->parts[p->first_child]);
			lit(w, " ");
			body(w, m, p->first_child, ext);
			num(w, p->body.lines);
		} else if (p->flags & TERN__MIME_P_TEXT) {
			num(w, p->body.lines);
		}
		if (ext) {
			field(w, p, TERN__MIME_F_CONTENT_MD5);
			disposition(w, p);
			language(w, p);
			field(w, p, TERN__MIME_F_CONTENT_LOCATION);
		}
	}
	lit(w, ")");
	tern__mime_params_free(&ps);
}

int tern__mime_imap_bodystructure(const struct tern__mime *m, uint32_t part, int extended,
				  struct tern__buf *out)
{
	struct w w = { out, 0 };
	body(&w, m, part, extended);
	return w.rc;
}
