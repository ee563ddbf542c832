/* RFC 5322 3.4 address lists (with the obsolete forms of 4.4) turned into
 * IMAP address structures (RFC 9051 7.5.2 ENVELOPE), reading broken input
 * the way Dovecot's message-address.c does: a display name is the words of
 * the phrase joined by one space with quotes removed, a lone comment after
 * an addr-spec becomes the name, a missing local part or domain is filled
 * with MISSING_MAILBOX / MISSING_DOMAIN, and groups become the RFC 9051
 * start (NIL NIL "name" NIL) and end (NIL NIL NIL NIL) markers. */
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"
#include "tern/tern.h"

struct lex {
	const char *s;
	size_t len, i;
	struct tern__buf comment; /* the last comment skipped */
	int have_comment;
	int unterminated; /* a quoted string ran to the end */
};

struct addr {
	struct tern__buf name, route, mailbox, domain;
	int has_name, has_route;
};

static int is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1; /* 8-bit: taken as atext (RFC 6532, and Dovecot) */
	if (c <= ' ' || c == 127)
		return 0;
	return strchr("()<>[]:;@\\,.\"", c) == NULL;
}

static int skip(struct lex *x)
{
	while (x->i < x->len) {
		char c = x->s[x->i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			x->i++;
			continue;
		}
		if (c != '(')
			break;
		tern__buf_clear(&x->comment);
		int depth = 0;
		size_t start = x->i + 1;
		while (x->i < x->len) {
			c = x->s[x->i];
			if (c == '\\' && x->i + 1 < x->len) {
				x->i += 2;
				continue;
			}
			if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				break;
			x->i++;
		}
		size_t end = x->i;
		if (x->i < x->len)
			x->i++;
		for (size_t k = start; k < end; k++) {
			if (x->s[k] == '\\' && k + 1 < end)
				k++;
			if (x->s[k] == '\r' || x->s[k] == '\n')
				continue;
			if (tern__buf_append(&x->comment, x->s + k, 1) == TERN_ENOMEM)
				return TERN_ENOMEM;
		}
		x->have_comment = 1;
	}
	return 0;
}

/* A quoted string, unquoted into out. */
static int quoted(struct lex *x, struct tern__buf *out)
{
	x->i++;
	while (x->i < x->len && x->s[x->i] != '"') {
		char c = x->s[x->i];
		if (c == '\\' && x->i + 1 < x->len)
			c = x->s[++x->i];
		if (c != '\r' && c != '\n' && tern__buf_append(out, &c, 1) == TERN_ENOMEM)
			return TERN_ENOMEM;
		x->i++;
	}
	if (x->i < x->len)
		x->i++;
	else
		x->unterminated = 1;
	return 0;
}

/* phrase = 1*word, obs-phrase allows '.': words joined with one space.
 * Returns the number of words, or TERN_ENOMEM. */
static int phrase(struct lex *x, struct tern__buf *out)
{
	int words = 0;
	for (;;) {
		if (skip(x) < 0)
			return TERN_ENOMEM;
		if (x->i >= x->len)
			break;
		unsigned char c = (unsigned char)x->s[x->i];
		if (c != '"' && !is_atext(c) && !(c == '.' && words > 0))
			break;
		if (words > 0 && tern__buf_append(out, " ", 1) < 0)
			return TERN_ENOMEM;
		if (c == '"') {
			if (quoted(x, out) < 0)
				return TERN_ENOMEM;
		} else {
			size_t s = x->i;
			while (x->i < x->len && (is_atext((unsigned char)x->s[x->i]) || x->s[x->i] == '.'))
				x->i++;
			if (tern__buf_append(out, x->s + s, x->i - s) < 0)
				return TERN_ENOMEM;
		}
		words++;
	}
	return words;
}

/* dot-atom or quoted string, obs forms with CFWS around dots. */
static int dot_words(struct lex *x, struct tern__buf *out, int allow_quoted)
{
	int n = 0;
	for (;;) {
		if (skip(x) < 0)
			return TERN_ENOMEM;
		if (x->i >= x->len)
			break;
		char c = x->s[x->i];
		if (c == '"' && allow_quoted) {
			if (quoted(x, out) < 0)
				return TERN_ENOMEM;
		} else if (is_atext((unsigned char)c)) {
			size_t s = x->i;
			while (x->i < x->len && is_atext((unsigned char)x->s[x->i]))
				x->i++;
			if (tern__buf_append(out, x->s + s, x->i - s) < 0)
				return TERN_ENOMEM;
		} else {
			break;
		}
		n++;
		if (skip(x) < 0)
			return TERN_ENOMEM;
		if (x->i < x->len && x->s[x->i] == '.') {
			x->i++;
			if (tern__buf_append(out, ".", 1) < 0)
				return TERN_ENOMEM;
			continue;
		}
		break;
	}
	return n;
}

static int domain(struct lex *x, struct tern__buf *out)
{
	if (skip(x) < 0)
		return TERN_ENOMEM;
	if (x->i < x->len && x->s[x->i] == '[') {
		size_t s = x->i;
		while (x->i < x->len && x->s[x->i] != ']')
			x->i++;
		if (x->i < x->len)
			x->i++;
		return tern__buf_append(out, x->s + s, x->i - s) < 0 ? TERN_ENOMEM : 1;
	}
	return dot_words(x, out, 0);
}

/* addr-spec after the local part was read into a->mailbox. */
static int addr_spec_rest(struct lex *x, struct addr *a)
{
	if (skip(x) < 0)
		return TERN_ENOMEM;
	if (x->i < x->len && x->s[x->i] == '@') {
		x->i++;
		if (domain(x, &a->domain) < 0)
			return TERN_ENOMEM;
	}
	return 0;
}

/* (name adl mailbox host), RFC 9051 7.5.2; an absent local part or
 * domain is filled in as Dovecot fills it. */
static int write_addr(struct tern__buf *out, struct addr *a)
{
	const struct tern__buf *v[4] = { &a->name, &a->route, &a->mailbox, &a->domain };
	const int present[4] = { a->has_name, a->has_route, 1, 1 };
	static const char *const missing[4] = { NULL, NULL, "MISSING_MAILBOX", "MISSING_DOMAIN" };
	int rc = tern__buf_append(out, "(", 1);
	for (int i = 0; i < 4 && rc == 0; i++) {
		if (i > 0)
			rc = tern__buf_append(out, " ", 1);
		if (rc < 0)
			break;
		if (!present[i])
			rc = tern__buf_append(out, "NIL", 3);
		else if (v[i]->len == 0 && missing[i])
			rc = tern__mime_imap_nstring(out, missing[i], strlen(missing[i]));
		else
			rc = tern__mime_imap_nstring(out, tern__buf_ptr(v[i]), v[i]->len);
	}
	return rc < 0 ? rc : tern__buf_append(out, ")", 1);
}

static void addr_reset(struct addr *a)
{
	tern__buf_clear(&a->name);
	tern__buf_clear(&a->route);
	tern__buf_clear(&a->mailbox);
	tern__buf_clear(&a->domain);
	a->has_name = a->has_route = 0;
}

/* One mailbox (name-addr or addr-spec); writes it, with MISSING_* parts
 * when there is nothing usable. Returns 1 or TERN_ENOMEM. */
static int mailbox(struct lex *x, struct addr *a, struct tern__buf *out)
{
	addr_reset(a);
	size_t start = x->i;
	x->have_comment = 0;
	int words = phrase(x, &a->name);
	if (words < 0)
		return words;
	if (skip(x) < 0)
		return TERN_ENOMEM;
	if (x->i < x->len && x->s[x->i] == '<') {
		/* name-addr: [display-name] angle-addr, obs-route allowed. */
		x->i++;
		a->has_name = words > 0 && a->name.len > 0; /* "" <a@b>: NIL, as Dovecot */
		if (skip(x) < 0)
			return TERN_ENOMEM;
		if (x->i < x->len && x->s[x->i] == '@') {
			while (x->i < x->len && x->s[x->i] != ':' && x->s[x->i] != '>') {
				if (tern__buf_append(&a->route, x->s + x->i, 1) < 0)
					return TERN_ENOMEM;
				x->i++;
			}
			a->has_route = 1;
			if (x->i < x->len && x->s[x->i] == ':')
				x->i++;
		}
		if (dot_words(x, &a->mailbox, 1) < 0 || addr_spec_rest(x, a) < 0)
			return TERN_ENOMEM;
		if (skip(x) < 0)
			return TERN_ENOMEM;
		while (x->i < x->len && x->s[x->i] != '>' && x->s[x->i] != ',')
			x->i++; /* junk inside <>: skipped */
		if (x->i < x->len && x->s[x->i] == '>')
			x->i++;
		if (skip(x) < 0)
			return TERN_ENOMEM;
	} else {
		/* addr-spec: read again as a local part. */
		x->i = start;
		tern__buf_clear(&a->name);
		x->have_comment = 0;
		int n = dot_words(x, &a->mailbox, 1);
		if (n < 0 || addr_spec_rest(x, a) < 0)
			return TERN_ENOMEM;
		if (skip(x) < 0)
			return TERN_ENOMEM;
		/* "user@host (Name)": the comment is the name. */
		if (x->have_comment) {
			if (tern__buf_append(&a->name, tern__buf_ptr(&x->comment), x->comment.len) < 0)
				return TERN_ENOMEM;
			a->has_name = 1;
		}
	}
	if (x->unterminated) {
		/* Dovecot gives up on the address: both parts missing. */
		addr_reset(a);
	}
	return write_addr(out, a) < 0 ? TERN_ENOMEM : 1;
}

int tern__mime_imap_addresses(struct tern__buf *out, const char *s, size_t len)
{
	struct lex x = { .s = s, .len = len };
	struct addr a = { 0 };
	struct tern__buf body;
	int rc = 0, count = 0;
	tern__buf_init(&x.comment, 0);
	tern__buf_init(&a.name, 0);
	tern__buf_init(&a.route, 0);
	tern__buf_init(&a.mailbox, 0);
	tern__buf_init(&a.domain, 0);
	tern__buf_init(&body, 0);
	int in_group = 0;
	while (rc >= 0 && x.i < x.len) {
		if ((rc = skip(&x)) < 0)
			break;
		if (x.i >= x.len)
			break;
		char c = x.s[x.i];
		if (c == ',') {
			/* An empty element ("a, , b" or a leading comma) is an
			 * address with nothing in it, as Dovecot lists it; a
			 * trailing comma adds nothing. */
			x.i++;
			addr_reset(&a);
			rc = write_addr(&body, &a);
			count++;
			continue;
		}
		if (c == ';' && in_group) {
			x.i++;
			in_group = 0;
			rc = tern__buf_append(&body, "(NIL NIL NIL NIL)", 17);
			count++;
			/* The comma after a group separates, it is no element. */
			if (rc == 0)
				rc = skip(&x);
			if (x.i < x.len && x.s[x.i] == ',')
				x.i++;
			continue;
		}
		/* group = display-name ":" [group-list] ";" */
		size_t save = x.i;
		struct tern__buf gname;
		tern__buf_init(&gname, 0);
		int words = phrase(&x, &gname);
		if (words >= 0 && skip(&x) == 0 && words > 0 && x.i < x.len && x.s[x.i] == ':' &&
		    !in_group) {
			x.i++;
			in_group = 1;
			addr_reset(&a);
			a.has_name = 0;
			rc = tern__buf_append(&body, "(NIL NIL ", 9);
			if (rc == 0)
				rc = tern__mime_imap_nstring(&body, tern__buf_ptr(&gname), gname.len);
			if (rc == 0)
				rc = tern__buf_append(&body, " NIL)", 5);
			count++;
			tern__buf_free(&gname);
			continue;
		}
		tern__buf_free(&gname);
		if (words < 0) {
			rc = TERN_ENOMEM;
			break;
		}
		x.i = save;
		int r = mailbox(&x, &a, &body);
		if (r < 0) {
			rc = r;
			break;
		}
		if (r > 0)
			count++;
		/* Skip junk up to the separator, and the separator. */
		while (x.i < x.len && x.s[x.i] != ',' && !(x.s[x.i] == ';' && in_group))
			x.i++;
		if (x.i < x.len && x.s[x.i] == ',')
			x.i++;
	}
	if (rc >= 0 && in_group) {
		rc = tern__buf_append(&body, "(NIL NIL NIL NIL)", 17);
		count++;
	}
	if (rc >= 0) {
		if (count == 0)
			rc = tern__buf_append(out, "NIL", 3);
		else if ((rc = tern__buf_append(out, "(", 1)) == 0 &&
			 (rc = tern__buf_append(out, tern__buf_ptr(&body), body.len)) == 0)
			rc = tern__buf_append(out, ")", 1);
	}
	tern__buf_free(&x.comment);
	tern__buf_free(&a.name);
	tern__buf_free(&a.route);
	tern__buf_free(&a.mailbox);
	tern__buf_free(&a.domain);
	tern__buf_free(&body);
	return rc < 0 ? rc : 0;
}
