/* SMTP path and domain syntax (RFC 5321 4.1.2, 4.1.3; RFC 6531 for UTF-8).
 *
 * The path is checked in two passes. The first finds where the path ends
 * (the first '>' outside a quoted string) and classifies the bytes of that
 * span: control characters and bad 8-bit data are reported as such whatever
 * else is wrong, because those are the bytes that smuggle commands or inject
 * headers further down. The second pass is a strict walk of the grammar. */
#include "util/address.h"
#include "util/utf8.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

/* RFC 5321 4.5.3.1.1 and 4.5.3.1.2. */
#define LOCAL_PART_MAX 64
#define DOMAIN_MAX 255
/* RFC 1035 2.3.4. */
#define LABEL_MAX 63

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_let_dig(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

static bool is_c0_or_del(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* RFC 5322 3.2.3 atext, as used by RFC 5321 4.1.2 Atom. */
static bool is_atext(unsigned char c)
{
	if (is_let_dig(c))
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}


static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = tern__utf8_seq_len(s + i, len - i);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

bool tern__has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (is_c0_or_del((unsigned char)s[i]))
			return true;
	}
	return false;
}

static bool ascii_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/* RFC 5321 4.1.3:
 *   IPv4-address-literal    = Snum 3("."  Snum)
 *   IPv6-address-literal    = "IPv6:" IPv6-addr
 *   General-address-literal = Standardized-tag ":" 1*dcontent
 *   Standardized-tag        = Ldh-str
 *   dcontent                = %d33-90 / %d94-126
 * s points inside the brackets. inet_pton does the IP grammars: glibc's
 * IPv4 parser takes exactly four decimal parts of 0..255 without leading
 * zeros, which is Snum. */
static bool address_literal_valid(const char *s, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char addr[sizeof(struct in6_addr)];
	size_t tag_len;

	if (len == 0)
		return false;
	if (len >= 5 && ascii_ieq(s, "IPv6:", 5)) {
		if (len - 5 >= sizeof(buf))
			return false;
		/* inet_pton stops at a NUL: check the characters first so
		 * that "IPv6:::1\0junk" cannot pass. */
		for (size_t i = 5; i < len; i++) {
			unsigned char c = (unsigned char)s[i];

			if (!is_digit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') &&
			    c != ':' && c != '.')
				return false;
		}
		memcpy(buf, s + 5, len - 5);
		buf[len - 5] = '\0';
		return inet_pton(AF_INET6, buf, addr) == 1;
	}
	if (is_digit((unsigned char)s[0])) {
		bool all_ipv4 = true;

		for (size_t i = 0; i < len; i++) {
			if (!is_digit((unsigned char)s[i]) && s[i] != '.')
				all_ipv4 = false;
		}
		if (all_ipv4) {
			if (len >= sizeof(buf))
				return false;
			memcpy(buf, s, len);
			buf[len] = '\0';
			return inet_pton(AF_INET, buf, addr) == 1;
		}
	}
	/* General-address-literal. */
	for (tag_len = 0; tag_len < len && s[tag_len] != ':'; tag_len++) {
		unsigned char c = (unsigned char)s[tag_len];

		if (!is_let_dig(c) && c != '-')
			return false;
	}
	if (tag_len == 0 || tag_len == len || s[tag_len - 1] == '-')
		return false;
	if (tag_len + 1 == len)
		return false; /* 1*dcontent */
	for (size_t i = tag_len + 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return false;
	}
	return true;
}

/* RFC 5321 4.1.2:
 *   sub-domain = Let-dig [Ldh-str]
 *   Ldh-str    = *( ALPHA / DIGIT / "-" ) Let-dig
 * RFC 6531 3.3: sub-domain =/ U-label. A U-label is taken here as any
 * well-formed UTF-8 without ASCII punctuation other than '-'; we do not
 * run IDNA2008 tables (deliberate compromise: the punycode check is the
 * job of whoever converts the name to an A-label). Label lengths are
 * counted in octets even for U-labels, which is stricter than needed. */
static bool label_valid(const unsigned char *s, size_t len, bool utf8)
{
	if (len == 0 || len > LABEL_MAX)
		return false;
	if (s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];

		if (c >= 0x80) {
			size_t n;

			if (!utf8)
				return false;
			n = tern__utf8_seq_len(s + i, len - i);
			if (n == 0 || tern__utf8_is_c1(s + i, n))
				return false;
			i += n;
			continue;
		}
		if (!is_let_dig(c) && c != '-')
			return false;
		i++;
	}
	return true;
}

bool tern__domain_valid(const char *s, size_t len, bool utf8)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t start = 0;

	if (len == 0 || len > DOMAIN_MAX)
		return false;
	if (s[0] == '[') {
		if (len < 2 || s[len - 1] != ']')
			return false;
		return address_literal_valid(s + 1, len - 2);
	}
	/* Splitting on '.' means an empty label, hence a leading, trailing
	 * or doubled dot, fails in label_valid. */
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (!label_valid(u + start, i - start, utf8))
				return false;
			start = i + 1;
		}
	}
	return true;
}

bool tern__helo_name_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	/* RFC 5321 4.1.1.1 wants a domain or an address literal; like
	 * Postfix (smtpd_helo_restrictions aside) we only refuse what can
	 * do harm downstream: controls, spaces and broken UTF-8, which
	 * would otherwise land in the Received: header. */
	if (len == 0 || len > DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (is_c0_or_del(u[i]) || u[i] == ' ')
			return false;
	}
	return utf8_valid(u, len);
}

/* Index of the first '>' outside a quoted string, or len. A backslash in a
 * quoted string protects the next byte (RFC 5321 quoted-pairSMTP). This is
 * only the outer limit used for classifying bytes; the strict parse below
 * decides whether the quotes were where they may be. */
static size_t path_extent(const char *in, size_t len)
{
	bool quoted = false;

	for (size_t i = 1; i < len; i++) {
		char c = in[i];

		if (quoted) {
			if (c == '\\')
				i++;
			else if (c == '"')
				quoted = false;
		} else if (c == '"') {
			quoted = true;
		} else if (c == '>') {
			return i;
		}
	}
	return len;
}

static int classify_bytes(const unsigned char *s, size_t len, bool utf8)
{
	bool high = false;

	for (size_t i = 0; i < len; i++) {
		if (is_c0_or_del(s[i]))
			return TERN__PATH_ECONTROL;
		if (s[i] >= 0x80)
			high = true;
	}
	if (!high)
		return TERN__PATH_OK;
	/* RFC 6531 3.3: without SMTPUTF8 the path is ASCII only. */
	if (!utf8)
		return TERN__PATH_EUTF8;
	for (size_t i = 0; i < len;) {
		size_t n = tern__utf8_seq_len(s + i, len - i);

		if (n == 0)
			return TERN__PATH_EUTF8;
		/* C1 controls are as dangerous as C0 ones once the address
		 * is written out as Latin-1 by someone downstream. */
		if (tern__utf8_is_c1(s + i, n))
			return TERN__PATH_ECONTROL;
		i += n;
	}
	return TERN__PATH_OK;
}

/* RFC 5321 4.1.2:
 *   A-d-l     = At-domain *( "," At-domain )
 *   At-domain = "@" Domain
 * Returns the index just after the ':' ending the route, or 0. */
static size_t skip_source_route(const char *s, size_t start, size_t end, bool utf8)
{
	size_t i = start;

	for (;;) {
		size_t d;

		if (i >= end || s[i] != '@')
			return 0;
		d = ++i;
		while (i < end && s[i] != ',' && s[i] != ':')
			i++;
		if (i >= end || !tern__domain_valid(s + d, i - d, utf8))
			return 0;
		if (s[i++] == ':')
			return i;
	}
}

/* RFC 5321 4.1.2:
 *   Dot-string = Atom *("."  Atom)
 *   Atom       = 1*atext
 * RFC 6531 3.3: atext =/ UTF8-non-ascii (well-formedness was checked by
 * classify_bytes). Returns the index after the dot-string. */
static size_t scan_dot_string(const char *s, size_t i, size_t end, bool utf8)
{
	size_t atom = 0;

	for (; i < end; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (atom == 0)
				return 0; /* leading or doubled dot */
			atom = 0;
		} else if (is_atext(c) || (utf8 && c >= 0x80)) {
			atom++;
		} else {
			break;
		}
	}
	if (atom == 0)
		return 0; /* empty or trailing dot */
	return i;
}

/* RFC 5321 4.1.2:
 *   Quoted-string   = DQUOTE *QcontentSMTP DQUOTE
 *   qtextSMTP       = %d32-33 / %d35-91 / %d93-126
 *   quoted-pairSMTP = %d92 %d32-126
 * RFC 6531 3.3: qtextSMTP =/ UTF8-non-ascii. Returns the index after the
 * closing quote, or 0. */
static size_t scan_quoted_string(const char *s, size_t i, size_t end, bool utf8)
{
	size_t start = i;

	for (i++; i < end; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"') {
			/* Deliberate: `""@domain` is grammatical but names
			 * an empty mailbox; refuse it like an empty
			 * local part. */
			if (i == start + 1)
				return 0;
			return i + 1;
		}
		if (c == '\\') {
			if (i + 1 >= end)
				return 0;
			c = (unsigned char)s[++i];
			if (c < 32 || c > 126)
				return 0;
		} else if (c >= 0x80) {
			if (!utf8)
				return 0;
		} else if (c < 32 || c > 126) {
			return 0;
		}
	}
	return 0;
}

static int finish(int rc, size_t consumed, size_t *consumed_r)
{
	if (consumed_r != NULL)
		*consumed_r = rc == TERN__PATH_OK ? consumed : 0;
	return rc;
}

int tern__path_parse(const char *in, size_t len, unsigned flags, char *out, size_t out_size,
		     size_t *consumed_r)
{
	bool utf8 = (flags & TERN__PATH_ALLOW_UTF8) != 0;
	size_t end, i, local, at, dom;
	int rc;

	if (out != NULL && out_size > 0)
		out[0] = '\0';
	if (in == NULL || len == 0 || in[0] != '<')
		return finish(TERN__PATH_ESYNTAX, 0, consumed_r);

	end = path_extent(in, len);
	rc = classify_bytes((const unsigned char *)in, end < len ? end + 1 : len, utf8);
	if (rc != TERN__PATH_OK)
		return finish(rc, 0, consumed_r);
	if (end == len)
		return finish(TERN__PATH_ESYNTAX, 0, consumed_r);

	/* RFC 5321 4.1.1.2: Reverse-path = Path / "<>". */
	if (end == 1) {
		if (!(flags & TERN__PATH_ALLOW_NULL))
			return finish(TERN__PATH_ENULL, 0, consumed_r);
		return finish(TERN__PATH_OK, 2, consumed_r);
	}

	/* RFC 5321 4.1.1.3: RCPT TO:<Postmaster> without a domain must be
	 * accepted; the name is case-insensitive (4.5.1). */
	if ((flags & TERN__PATH_ALLOW_POSTMASTER) && end == 11 &&
	    ascii_ieq(in + 1, "postmaster", 10)) {
		if (out == NULL || out_size < 11)
			return finish(TERN__PATH_ETOOLONG, 0, consumed_r);
		memcpy(out, "postmaster", 11);
		return finish(TERN__PATH_OK, 12, consumed_r);
	}

	i = 1;
	/* RFC 5321 4.1.2: "... MUST accept, SHOULD NOT generate, and SHOULD
	 * ignore" source routes. We check their syntax and drop them. */
	if (in[i] == '@') {
		i = skip_source_route(in, i, end, utf8);
		if (i == 0)
			return finish(TERN__PATH_ESYNTAX, 0, consumed_r);
	}

	/* Local-part = Dot-string / Quoted-string */
	local = i;
	if (i < end && in[i] == '"')
		at = scan_quoted_string(in, i, end, utf8);
	else
		at = scan_dot_string(in, i, end, utf8);
	if (at == 0 || at >= end || in[at] != '@')
		return finish(TERN__PATH_ESYNTAX, 0, consumed_r);
	if (at - local > LOCAL_PART_MAX)
		return finish(TERN__PATH_ETOOLONG, 0, consumed_r);

	/* Domain / address-literal: everything up to '>'. A '[' starts an
	 * address literal, which must end right before '>'. */
	dom = at + 1;
	if (dom == end)
		return finish(TERN__PATH_ESYNTAX, 0, consumed_r);
	if (end - dom > DOMAIN_MAX)
		return finish(TERN__PATH_ETOOLONG, 0, consumed_r);
	if (!tern__domain_valid(in + dom, end - dom, utf8))
		return finish(TERN__PATH_ESYNTAX, 0, consumed_r);

	if (out == NULL || out_size <= end - local)
		return finish(TERN__PATH_ETOOLONG, 0, consumed_r);
	memcpy(out, in + local, end - local);
	out[end - local] = '\0';
	return finish(TERN__PATH_OK, end + 1, consumed_r);
}
