/* The RFC5322.From domain (RFC 7489 6.6.1): the domains of the mailboxes of
 * a From field value.
 *
 * A recursive-descent reader of RFC 5322 3.4's mailbox-list, with the group
 * form RFC 6854 allows in From and the obsolete forms of RFC 5322 4.4
 * (obs-phrase with dots, obs-route in angle brackets, obs-mbox-list's empty
 * elements, CFWS around dots). Nothing is kept but the domains: the display
 * names and local parts are read only to find where they end. Every loop
 * advances at least one octet, and comments nest by counting, not by
 * recursion, so any input ends in linear time and bounded stack. */
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authres_lex.h"
#include "tern/dmarc.h"
#include "util/address.h"

/* RFC 1035 2.3.4: 255 octets in wire form, 253 in text without the dot. */
#define DOMAIN_MAX 253


/* RFC 5322 3.2.3 atext, plus every octet >= 0x80: RFC 6532 3.2 adds UTF-8
 * to atext (well-formedness is libidn2's to judge for the domain). */
static bool is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static void skip_atom(struct tern__auth_lex *r)
{
	while (r->pos < r->len && is_atext(r->s[r->pos]))
		r->pos++;
}

/* A run of words and dots: a display name (phrase, obs-phrase) or a local
 * part (dot-atom, quoted-string, obs-local-part); the caller tells them
 * apart by what follows. Returns the number of words, or -1 on a bad
 * quoted string or comment. */
static int skip_words(struct tern__auth_lex *r)
{
	int words = 0;
	bool bad = false;

	for (;;) {
		int c = tern__auth_peek(r, &bad);

		if (bad)
			return -1;
		if (c == '"') {
			if (!tern__auth_skip_quoted(r))
				return -1;
			words++;
		} else if (c >= 0 && is_atext((unsigned char)c)) {
			skip_atom(r);
			words++;
		} else if (c == '.') {
			r->pos++;
		} else {
			return words;
		}
	}
}

/* A local part (RFC 5322 3.4.1 dot-atom / quoted-string, 4.4
 * obs-local-part = word *("." word)): words joined by dots, CFWS allowed
 * around them. Empty words ("a..b", "a.") are tolerated: such addresses
 * are in use (some Japanese mobile carriers issued them) and cost DMARC
 * nothing. Two words with no dot between them end the local part, so the
 * caller sees no "@" and refuses "Alice a@example.com". Returns the number
 * of words, or -1 on a bad quoted string or comment. */
static int skip_local(struct tern__auth_lex *r)
{
	int words = 0;
	bool dot = true;
	bool bad = false;

	for (;;) {
		int c = tern__auth_peek(r, &bad);

		if (bad)
			return -1;
		if (c == '.') {
			r->pos++;
			dot = true;
			continue;
		}
		if (c != '"' && (c < 0 || !is_atext((unsigned char)c)))
			return words;
		if (!dot)
			return words;
		if (c == '"' && !tern__auth_skip_quoted(r))
			return -1;
		if (c != '"')
			skip_atom(r);
		words++;
		dot = false;
	}
}

/* A domain after '@': a dot-atom (with CFWS around the dots: obs-domain)
 * copied to out without comments, or a domain-literal. Returns 0,
 * TERN_DMARC_FROM_SYNTAX or TERN_DMARC_FROM_BAD_DOMAIN. */
static int read_domain(struct tern__auth_lex *r, char *out, size_t out_size)
{
	bool bad = false;
	bool overflow = false;
	size_t n = 0;
	int c = tern__auth_peek(r, &bad);

	if (c == '[') {
		/* A domain-literal is a legal address, but no DNS name to
		 * find a policy at. */
		for (r->pos++; r->pos < r->len && r->s[r->pos] != ']'; r->pos++)
			if (r->s[r->pos] == '\\')
				r->pos++;
		if (r->pos >= r->len)
			return TERN_DMARC_FROM_SYNTAX;
		r->pos++;
		return TERN_DMARC_FROM_BAD_DOMAIN;
	}
	for (;;) {
		if (c < 0 || !is_atext((unsigned char)c))
			return TERN_DMARC_FROM_SYNTAX;
		size_t start = r->pos;

		skip_atom(r);
		/* Too long for DNS: read on to the end of it, copy no more. */
		if (n + (r->pos - start) + 2 >= out_size)
			overflow = true;
		if (!overflow) {
			memcpy(out + n, r->s + start, r->pos - start);
			n += r->pos - start;
			out[n] = '\0';
		}
		c = tern__auth_peek(r, &bad);
		if (bad)
			return TERN_DMARC_FROM_SYNTAX;
		if (c != '.')
			return overflow ? TERN_DMARC_FROM_BAD_DOMAIN : 0;
		r->pos++;
		c = tern__auth_peek(r, &bad);
		if (bad)
			return TERN_DMARC_FROM_SYNTAX;
		/* A trailing dot ("example.com.") names the same domain: it
		 * is dropped, as the brief of 6.6.1 wants a plain name. */
		if (c == '.')
			return TERN_DMARC_FROM_SYNTAX;   /* an empty label */
		if (c < 0 || !is_atext((unsigned char)c))
			return overflow ? TERN_DMARC_FROM_BAD_DOMAIN : 0;
		if (!overflow)
			out[n++] = '.';
	}
}

/* The domain as DMARC looks it up: lowercase A-labels (UTS #46 mapping for
 * U-labels), checked as an LDH host name. Returns 0 or
 * TERN_DMARC_FROM_BAD_DOMAIN or TERN_ENOMEM. */
static int normalize_domain(const char *in, char **out_r)
{
	bool ascii = true;
	char *out;

	for (const char *p = in; *p != '\0'; p++)
		ascii = ascii && (unsigned char)*p < 0x80;
	if (ascii) {
		out = strdup(in);
		if (out == NULL)
			return TERN_ENOMEM;
	} else {
		char *ace = NULL;
		int rc = idn2_to_ascii_8z(in, &ace, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);

		if (rc == IDN2_MALLOC)
			return TERN_ENOMEM;
		if (rc != IDN2_OK) {
			idn2_free(ace);
			return TERN_DMARC_FROM_BAD_DOMAIN;
		}
		out = strdup(ace);
		idn2_free(ace);
		if (out == NULL)
			return TERN_ENOMEM;
	}
	for (char *p = out; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	size_t n = strlen(out);

	/* A single label is not a domain a policy can be published for
	 * (RFC 7489 6.6.3 looks up _dmarc.<domain>), and "localhost"-like
	 * names would only match our own records. */
	if (n == 0 || n > DOMAIN_MAX || strchr(out, '.') == NULL || !tern__domain_valid(out, n, false)) {
		free(out);
		return TERN_DMARC_FROM_BAD_DOMAIN;
	}
	*out_r = out;
	return 0;
}

/* The domains found so far. A domain that is not one (a literal, a bad
 * IDN) is noted and reading goes on: a syntax error later in the value
 * is the more basic fault and is reported first. */
struct collect {
	struct tern_dmarc_from *out;
	bool bad_domain;
};

static int add_domain(struct collect *c, const char *raw)
{
	struct tern_dmarc_from *from = c->out;
	char *d;
	int rc = normalize_domain(raw, &d);

	if (rc == TERN_DMARC_FROM_BAD_DOMAIN) {
		c->bad_domain = true;
		return 0;
	}
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < from->count; i++) {
		if (strcmp(from->domains[i], d) == 0) {
			free(d);
			return 0;
		}
	}
	char **grown = realloc(from->domains, (from->count + 1) * sizeof(*grown));

	if (grown == NULL) {
		free(d);
		return TERN_ENOMEM;
	}
	from->domains = grown;
	from->domains[from->count++] = d;
	return 0;
}

/* local-part "@" domain, after an optional obs-route inside "<...>".
 * Appends the domain. */
static int read_addr_spec(struct tern__auth_lex *r, struct collect *from)
{
	char domain[DOMAIN_MAX + 2];
	bool bad = false;
	int words = skip_local(r);

	if (words <= 0 || tern__auth_peek(r, &bad) != '@')
		return TERN_DMARC_FROM_SYNTAX;
	r->pos++;
	int rc = read_domain(r, domain, sizeof(domain));

	if (rc == TERN_DMARC_FROM_BAD_DOMAIN) {
		from->bad_domain = true;
		return 0;
	}
	return rc != 0 ? rc : add_domain(from, domain);
}

/* "<" [obs-route] addr-spec ">" with r at '<'. */
static int read_angle_addr(struct tern__auth_lex *r, struct collect *from)
{
	bool bad = false;
	int c;

	r->pos++;
	/* RFC 5322 4.4 obs-route: "@a.example,@b.example:" before the address;
	 * the route's domains are not authors and are skipped. */
	if (tern__auth_peek(r, &bad) == '@') {
		for (;;) {
			c = tern__auth_peek(r, &bad);
			if (c < 0 || c == '>')
				return TERN_DMARC_FROM_SYNTAX;
			r->pos++;
			if (c == ':')
				break;
			if (c == '"' || c == '[')
				return TERN_DMARC_FROM_SYNTAX;
		}
	}
	int rc = read_addr_spec(r, from);

	if (rc != 0)
		return rc;
	if (tern__auth_peek(r, &bad) != '>')
		return TERN_DMARC_FROM_SYNTAX;
	r->pos++;
	return 0;
}

/* mailbox / group (RFC 5322 3.4). in_group: a group cannot nest. */
static int read_address(struct tern__auth_lex *r, struct collect *from, bool in_group);

/* Addresses separated by ",", up to close: ';' for a group (RFC 5322
 * 3.4 group = display-name ":" [group-list] ";", with r after ':'), -1
 * for the end of the whole value. Empty elements are obs-mbox-list's and
 * obs-group-list's. A group may be empty; a value may not. */
static int read_list(struct tern__auth_lex *r, struct collect *from, int close)
{
	bool bad = false;
	bool any = false;

	for (;;) {
		int c = tern__auth_peek(r, &bad);

		if (bad)
			return TERN_DMARC_FROM_SYNTAX;
		if (c == close) {
			if (close < 0)
				return any ? 0 : TERN_DMARC_FROM_SYNTAX;
			r->pos++;
			return 0;
		}
		if (c < 0)
			return TERN_DMARC_FROM_SYNTAX;
		if (c == ',') {
			r->pos++;
			continue;
		}
		int rc = read_address(r, from, close >= 0);

		if (rc != 0)
			return rc;
		any = true;
		c = tern__auth_peek(r, &bad);
		if (bad)
			return TERN_DMARC_FROM_SYNTAX;
		if (c == ',')
			r->pos++;
		else if (c != close)
			return TERN_DMARC_FROM_SYNTAX;
	}
}

static int read_address(struct tern__auth_lex *r, struct collect *from, bool in_group)
{
	bool bad = false;
	size_t start = r->pos;
	int words = skip_words(r);
	int c;

	if (words < 0)
		return TERN_DMARC_FROM_SYNTAX;
	c = tern__auth_peek(r, &bad);
	if (bad)
		return TERN_DMARC_FROM_SYNTAX;
	if (c == '<') {
		/* name-addr: the words were the display name (may be none). */
		return read_angle_addr(r, from);
	}
	if (c == '@') {
		/* addr-spec: read it again from the start as a local part. */
		r->pos = start;
		return read_addr_spec(r, from);
	}
	if (c == ':' && words > 0 && !in_group) {
		r->pos++;
		return read_list(r, from, ';');
	}
	return TERN_DMARC_FROM_SYNTAX;
}

int tern_dmarc_from_domains(const char *const *values, const size_t *lens, size_t count,
			    struct tern_dmarc_from *out)
{
	if (out == NULL)
		return TERN_EINVAL;
	memset(out, 0, sizeof(*out));
	if (count > 0 && (values == NULL || lens == NULL))
		return TERN_EINVAL;
	/* RFC 7489 6.6.1: a message without exactly one From field is not a
	 * valid RFC 5322 message; what to do is the receiver's choice, so it
	 * is reported, not decided here. */
	if (count == 0)
		return TERN_DMARC_FROM_NONE;
	if (count > 1)
		return TERN_DMARC_FROM_SEVERAL_FIELDS;
	if (values[0] == NULL)
		return TERN_EINVAL;

	struct tern__auth_lex r = {(const unsigned char *)values[0], lens[0], 0};
	struct collect c = {out, false};
	/* mailbox-list, or address-list: groups are tolerated (RFC 6854). */
	int rc = read_list(&r, &c, -1);

	if (rc == 0 && c.bad_domain)
		rc = TERN_DMARC_FROM_BAD_DOMAIN;
	if (rc == 0 && out->count == 0)
		rc = TERN_DMARC_FROM_NO_DOMAIN;
	if (rc != 0) {
		tern_dmarc_from_clear(out);
		return rc;
	}
	return out->count > 1 ? TERN_DMARC_FROM_MULTIPLE_DOMAINS : 0;
}

void tern_dmarc_from_clear(struct tern_dmarc_from *from)
{
	if (from == NULL)
		return;
	for (size_t i = 0; i < from->count; i++)
		free(from->domains[i]);
	free(from->domains);
	from->domains = NULL;
	from->count = 0;
}

const char *tern_dmarc_from_strstatus(int status)
{
	switch (status) {
	case 0:
		return "one author domain";
	case TERN_DMARC_FROM_NONE:
		return "no From field";
	case TERN_DMARC_FROM_SEVERAL_FIELDS:
		return "several From fields";
	case TERN_DMARC_FROM_SYNTAX:
		return "From field syntax error";
	case TERN_DMARC_FROM_NO_DOMAIN:
		return "no mailbox in From";
	case TERN_DMARC_FROM_BAD_DOMAIN:
		return "From domain is not a DNS domain";
	case TERN_DMARC_FROM_MULTIPLE_DOMAINS:
		return "From mailboxes in different domains";
	default:
		return tern_strerror(status);
	}
}
