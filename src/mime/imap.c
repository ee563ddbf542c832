/* ENVELOPE, BODY and BODYSTRUCTURE as an IMAP server sends them (RFC 9051
 * 7.5.2), built from a parsed structure. Field values are written as they
 * are in the header (RFC 2047 words left encoded), as RFC 9051 asks. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mime/mime.h"
#include "tern/tern.h"

#define APPEND(out, lit) tern__buf_append(out, lit, sizeof(lit) - 1)

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

static int field(struct tern__buf *out, const struct tern__mime_part *p, int f)
{
	return tern__mime_imap_nstring(out, p->field[f], p->field_len[f]);
}

static int addresses(struct tern__buf *out, const struct tern__mime_part *p, int f)
{
	if (!p->field[f])
		return APPEND(out, "NIL");
	return tern__mime_imap_addresses(out, p->field[f], p->field_len[f]);
}

int tern__mime_imap_envelope(const struct tern__mime *m, uint32_t part, struct tern__buf *out)
{
	const struct tern__mime_part *p = &m->parts[part];
	int rc = APPEND(out, "(");
	if (rc == 0)
		rc = field(out, p, TERN__MIME_F_DATE);
	if (rc == 0)
		rc = APPEND(out, " ");
	if (rc == 0)
		rc = field(out, p, TERN__MIME_F_SUBJECT);
	static const int addr_fields[] = { TERN__MIME_F_FROM, TERN__MIME_F_SENDER,
					   TERN__MIME_F_REPLY_TO, TERN__MIME_F_TO,
					   TERN__MIME_F_CC, TERN__MIME_F_BCC };
	for (size_t i = 0; i < sizeof(addr_fields) / sizeof(addr_fields[0]) && rc == 0; i++) {
		int f = addr_fields[i];
		/* RFC 3501 7.4.2: absent Sender and Reply-To take From's value. */
		if ((f == TERN__MIME_F_SENDER || f == TERN__MIME_F_REPLY_TO) && !p->field[f])
			f = TERN__MIME_F_FROM;
		rc = APPEND(out, " ");
		if (rc == 0)
			rc = addresses(out, p, f);
	}
	if (rc == 0)
		rc = APPEND(out, " ");
	if (rc == 0)
		rc = field(out, p, TERN__MIME_F_IN_REPLY_TO);
	if (rc == 0)
		rc = APPEND(out, " ");
	if (rc == 0)
		rc = field(out, p, TERN__MIME_F_MESSAGE_ID);
	return rc < 0 ? rc : APPEND(out, ")");
}

static int params(struct tern__buf *out, const struct tern__mime_params *ps,
		  const char *skip, int add_charset)
{
	int n = 0, rc = 0;
	for (size_t i = 0; i < ps->n && rc == 0; i++) {
		if (skip && strcasecmp(ps->v[i].name, skip) == 0)
			continue;
		rc = n++ ? APPEND(out, " ") : APPEND(out, "(");
		if (rc == 0)
			rc = nstring(out, ps->v[i].name, strlen(ps->v[i].name), 1);
		if (rc == 0)
			rc = APPEND(out, " ");
		if (rc == 0)
			rc = nstring(out, ps->v[i].value, strlen(ps->v[i].value), 1);
	}
	if (rc == 0 && n == 0 && add_charset) {
		rc = APPEND(out, "(\"charset\" \"us-ascii\"");
		n = 1;
	}
	if (rc < 0)
		return rc;
	return n ? APPEND(out, ")") : APPEND(out, "NIL");
}

/* Extension data shared by single and multipart: disposition, language,
 * location (RFC 9051 7.5.2). */
static int ext_tail(struct tern__buf *out, const struct tern__mime_part *p)
{
	char dtype[128];
	struct tern__mime_params dps = { 0 };
	int rc = APPEND(out, " ");
	int v = p->field[TERN__MIME_F_CONTENT_DISPOSITION]
			? tern__mime_parse_ctype(p->field[TERN__MIME_F_CONTENT_DISPOSITION],
						 p->field_len[TERN__MIME_F_CONTENT_DISPOSITION], 0,
						 dtype, sizeof(dtype), NULL, 0, &dps)
			: 0;
	if (v < 0)
		rc = v;
	else if (rc == 0 && v == 1) {
		rc = APPEND(out, "(");
		if (rc == 0)
			rc = tern__mime_imap_nstring(out, dtype, strlen(dtype));
		if (rc == 0)
			rc = APPEND(out, " ");
		if (rc == 0)
			rc = params(out, &dps, NULL, 0);
		if (rc == 0)
			rc = APPEND(out, ")");
	} else if (rc == 0) {
		rc = APPEND(out, "NIL");
	}
	tern__mime_params_free(&dps);
	if (rc == 0)
		rc = APPEND(out, " ");
	/* Content-Language: a list of tags separated by commas (RFC 3282). */
	const char *lang = p->field[TERN__MIME_F_CONTENT_LANGUAGE];
	if (rc == 0 && lang) {
		int n = 0;
		size_t len = p->field_len[TERN__MIME_F_CONTENT_LANGUAGE], i = 0;
		while (i < len && rc == 0) {
			while (i < len && strchr(" \t\r\n,", lang[i]))
				i++;
			size_t s = i;
			while (i < len && !strchr(" \t\r\n,", lang[i]))
				i++;
			if (i > s) {
				rc = n++ ? APPEND(out, " ") : APPEND(out, "(");
				if (rc == 0)
					rc = tern__mime_imap_nstring(out, lang + s, i - s);
			}
		}
		if (rc == 0)
			rc = n ? APPEND(out, ")") : APPEND(out, "NIL");
	} else if (rc == 0) {
		rc = APPEND(out, "NIL");
	}
	if (rc == 0)
		rc = APPEND(out, " ");
	if (rc == 0)
		rc = field(out, p, TERN__MIME_F_CONTENT_LOCATION);
	return rc;
}

/* The Content-Transfer-Encoding token, default 7bit. */
static int encoding(struct tern__buf *out, const struct tern__mime_part *p)
{
	const char *e = p->field[TERN__MIME_F_CONTENT_TRANSFER_ENCODING];
	if (!e)
		return APPEND(out, "\"7bit\"");
	size_t n = 0;
	while (n < p->field_len[TERN__MIME_F_CONTENT_TRANSFER_ENCODING] &&
	       !strchr(" \t\r\n(;", e[n]))
		n++;
	if (n == 0)
		return APPEND(out, "\"7bit\"");
	return tern__mime_imap_nstring(out, e, n);
}

static int body(const struct tern__mime *m, uint32_t pi, int ext, struct tern__buf *out);

static int empty_text(struct tern__buf *out, int ext)
{
	return ext ? APPEND(out, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)")
		   : APPEND(out, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)");
}

static int body(const struct tern__mime *m, uint32_t pi, int ext, struct tern__buf *out)
{
	const struct tern__mime_part *p = &m->parts[pi];
	char type[32] = "text", sub[64] = "plain";
	struct tern__mime_params ps = { 0 };
	int valid = tern__mime_parse_ctype(p->field[TERN__MIME_F_CONTENT_TYPE],
					   p->field_len[TERN__MIME_F_CONTENT_TYPE], 1, type,
					   sizeof(type), sub, sizeof(sub), &ps);
	if (valid < 0)
		return valid;
	if (valid == 0) {
		tern__mime_params_free(&ps);
		if (p->kind == TERN__MIME_KIND_MESSAGE) {
			strcpy(type, "message");
			strcpy(sub, "rfc822");
		} else {
			strcpy(type, "text");
			strcpy(sub, "plain");
		}
	}
	int rc = APPEND(out, "(");
	if (rc == 0 && p->kind == TERN__MIME_KIND_MULTIPART) {
		uint32_t c = p->first_child;
		if (c == TERN__MIME_NONE)
			rc = empty_text(out, ext);
		for (; c != TERN__MIME_NONE && rc == 0; c = m->parts[c].next_sibling)
			rc = body(m, c, ext, out);
		if (rc == 0)
			rc = APPEND(out, " ");
		if (rc == 0)
			rc = tern__mime_imap_nstring(out, sub, strlen(sub));
		if (rc == 0 && ext) {
			rc = APPEND(out, " ");
			if (rc == 0)
				rc = params(out, &ps, NULL, 0);
			if (rc == 0)
				rc = ext_tail(out, p);
		}
	} else if (rc == 0) {
		rc = tern__mime_imap_nstring(out, type, strlen(type));
		if (rc == 0)
			rc = APPEND(out, " ");
		if (rc == 0)
			rc = tern__mime_imap_nstring(out, sub, strlen(sub));
		if (rc == 0)
			rc = APPEND(out, " ");
		if (rc == 0)
			rc = params(out, &ps, NULL, strcasecmp(type, "text") == 0);
		if (rc == 0)
			rc = APPEND(out, " ");
		if (rc == 0)
			rc = field(out, p, TERN__MIME_F_CONTENT_ID);
		if (rc == 0)
			rc = APPEND(out, " ");
		if (rc == 0)
			rc = field(out, p, TERN__MIME_F_CONTENT_DESCRIPTION);
		if (rc == 0)
			rc = APPEND(out, " ");
		if (rc == 0)
			rc = encoding(out, p);
		if (rc == 0)
			rc = tern__buf_printf(out, " %llu", (unsigned long long)p->body.vsize);
		if (rc == 0 && p->kind == TERN__MIME_KIND_MESSAGE && p->first_child != TERN__MIME_NONE) {
			rc = APPEND(out, " ");
			if (rc == 0)
				rc = tern__mime_imap_envelope(m, p->first_child, out);
			if (rc == 0)
				rc = APPEND(out, " ");
			if (rc == 0)
				rc = body(m, p->first_child, ext, out);
			if (rc == 0)
				rc = tern__buf_printf(out, " %llu", (unsigned long long)p->body.lines);
		} else if (rc == 0 && (p->flags & TERN__MIME_P_TEXT)) {
			rc = tern__buf_printf(out, " %llu", (unsigned long long)p->body.lines);
		}
		if (rc == 0 && ext) {
			rc = APPEND(out, " ");
			if (rc == 0)
				rc = field(out, p, TERN__MIME_F_CONTENT_MD5);
			if (rc == 0)
				rc = ext_tail(out, p);
		}
	}
	tern__mime_params_free(&ps);
	return rc < 0 ? rc : APPEND(out, ")");
}

int tern__mime_imap_bodystructure(const struct tern__mime *m, uint32_t part, int extended,
				  struct tern__buf *out)
{
	/* A message's structure is its root part's (RFC 9051 7.5.2). */
	size_t start = out->len;
	int rc = body(m, part, extended, out);
	(void)start;
	return rc;
}
