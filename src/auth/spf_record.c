/* SPF record selection and parsing (RFC 7208 4.5, 4.6, 5, 6, 12), and the
 * checks of domain names the RFC asks for (4.3, 7.3). Pure functions: a
 * record is parsed once into terms that point into its own copy. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/spf_int.h"
#include "tern/tern.h"

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool tern__spf_is_record(const unsigned char *txt, size_t len)
{
	/* RFC 7208 4.5: "v=spf1" exactly, case-insensitive, then SP or end
	 * ("v=spf10" and "v=spf1\t" are not records). */
	return len >= 6 && strncasecmp((const char *)txt, "v=spf1", 6) == 0 &&
	       (len == 6 || txt[6] == ' ');
}

bool tern__spf_prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - bits));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

/* "/" cidr at the end of s[0..*len): RFC 7208 5.6 ip4-cidr-length =
 * "/" ("0" / %x31-39 0*1DIGIT), the same with up to 3 digits for IPv6.
 * Returns 1 and shortens *len when there is one, 0 when there is none, -1
 * when it is malformed or above max. */
static int strip_cidr(const char *s, size_t *len, unsigned max, unsigned *value)
{
	size_t end = *len, i = end;
	unsigned v = 0;

	while (i > 0 && is_digit(s[i - 1]))
		i--;
	if (i == end || i == 0 || s[i - 1] != '/')
		return 0;
	if (end - i > 3 || (s[i] == '0' && end - i > 1))
		return -1;
	for (size_t k = i; k < end; k++)
		v = v * 10 + (unsigned)(s[k] - '0');
	if (v > max)
		return -1;
	*value = v;
	*len = i - 1;
	return 1;
}

/* a and mx: [ ":" domain-spec ] [ ip4-cidr-length ] [ "//" ip6-cidr-length ]. */
static int parse_dual_cidr(struct tern__spf_term *t, const char *arg, size_t len)
{
	int rc;

	if (len >= 2) {
		size_t l = len;
		unsigned v;

		rc = strip_cidr(arg, &l, 128, &v);
		if (rc < 0)
			return -1;
		if (rc == 1 && l > 0 && arg[l - 1] == '/') {
			t->cidr6 = v;
			len = l - 1;
		}
	}
	rc = strip_cidr(arg, &len, 32, &t->cidr4);
	if (rc < 0)
		return -1;
	if (len == 0)
		return 0;
	if (arg[0] != ':' || len == 1 || !tern__spf_domain_spec_valid(arg + 1, len - 1))
		return -1;
	t->spec = arg + 1;
	t->spec_len = len - 1;
	return 0;
}

/* include, exists (required) and ptr (optional): [":" domain-spec]. */
static int parse_spec(struct tern__spf_term *t, const char *arg, size_t len, bool required)
{
	if (len == 0)
		return required ? -1 : 0;
	if (arg[0] != ':' || len == 1 || !tern__spf_domain_spec_valid(arg + 1, len - 1))
		return -1;
	t->spec = arg + 1;
	t->spec_len = len - 1;
	return 0;
}

/* ip4 and ip6: ":" address [cidr]. */
static int parse_ip(struct tern__spf_term *t, const char *arg, size_t len, int family)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned max = family == AF_INET ? 32 : 128;
	unsigned *cidr = family == AF_INET ? &t->cidr4 : &t->cidr6;

	if (len < 2 || arg[0] != ':')
		return -1;
	arg++;
	len--;
	if (strip_cidr(arg, &len, max, cidr) < 0)
		return -1;
	if (len == 0 || len >= sizeof(addr))
		return -1;
	memcpy(addr, arg, len);
	addr[len] = '\0';
	/* inet_pton refuses leading zeros in IPv4 ("1.2.03.4"), as the ABNF
	 * (dec-octet) does. */
	return inet_pton(family, addr, t->ip) == 1 ? 0 : -1;
}

static const struct {
	const char *name;
	enum spf_kind kind;
} mechanisms[] = {
	{ "all", SPF_ALL },       { "include", SPF_INCLUDE }, { "a", SPF_A },
	{ "mx", SPF_MX },         { "ptr", SPF_PTR },         { "ip4", SPF_IP4 },
	{ "ip6", SPF_IP6 },       { "exists", SPF_EXISTS },
};

static int parse_mechanism(struct tern__spf_term *t, const char *s, size_t len,
			   const char **problem_r)
{
	size_t n = 0;
	size_t i;

	switch (*s) {
	case '+': t->qualifier = TERN_SPF_RESULT_PASS; s++; len--; break;
	case '-': t->qualifier = TERN_SPF_RESULT_FAIL; s++; len--; break;
	case '~': t->qualifier = TERN_SPF_RESULT_SOFTFAIL; s++; len--; break;
	case '?': t->qualifier = TERN_SPF_RESULT_NEUTRAL; s++; len--; break;
	default: t->qualifier = TERN_SPF_RESULT_PASS; break;
	}
	while (n < len && (is_alpha(s[n]) || is_digit(s[n])))
		n++;
	for (i = 0; i < sizeof(mechanisms) / sizeof(mechanisms[0]); i++)
		if (strlen(mechanisms[i].name) == n && strncasecmp(mechanisms[i].name, s, n) == 0)
			break;
	if (i == sizeof(mechanisms) / sizeof(mechanisms[0]) || (n < len && s[n] != ':' &&
								s[n] != '/')) {
		*problem_r = "unknown mechanism";
		return -1;
	}
	t->kind = mechanisms[i].kind;
	s += n;
	len -= n;
	int rc;
	switch (t->kind) {
	case SPF_ALL: rc = len == 0 ? 0 : -1; break;
	case SPF_A:
	case SPF_MX: rc = parse_dual_cidr(t, s, len); break;
	case SPF_INCLUDE:
	case SPF_EXISTS: rc = parse_spec(t, s, len, true); break;
	case SPF_PTR: rc = parse_spec(t, s, len, false); break;
	case SPF_IP4: rc = parse_ip(t, s, len, AF_INET); break;
	case SPF_IP6: rc = parse_ip(t, s, len, AF_INET6); break;
	default: rc = -1; break;
	}
	if (rc != 0)
		*problem_r = "bad mechanism syntax";
	return rc;
}

/* modifier = name "=" macro-string; name = ALPHA *( ALPHA / DIGIT / "-" /
 * "_" / "." ). eq is the position of the "=". */
static int parse_modifier(struct tern__spf_record *rec, struct tern__spf_term *t, const char *s,
			  size_t len, size_t eq, const char **problem_r)
{
	const char *value = s + eq + 1;
	size_t vlen = len - eq - 1;

	if (eq == 0 || !is_alpha(s[0])) {
		*problem_r = "bad modifier name";
		return -1;
	}
	for (size_t i = 1; i < eq; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') {
			*problem_r = "bad modifier name";
			return -1;
		}
	t->qualifier = TERN_SPF_RESULT_NEUTRAL;
	if ((eq == 8 && strncasecmp(s, "redirect", 8) == 0) ||
	    (eq == 3 && strncasecmp(s, "exp", 3) == 0)) {
		bool redirect = eq == 8;
		const struct tern__spf_term **slot = redirect ? &rec->redirect : &rec->exp;

		/* RFC 7208 6: each of these modifiers at most once. */
		if (*slot != NULL) {
			*problem_r = redirect ? "redirect= given twice" : "exp= given twice";
			return -1;
		}
		if (!tern__spf_domain_spec_valid(value, vlen)) {
			*problem_r = redirect ? "bad redirect= domain" : "bad exp= domain";
			return -1;
		}
		t->kind = redirect ? SPF_REDIRECT : SPF_EXP;
		t->spec = value;
		t->spec_len = vlen;
		*slot = t;
		return 0;
	}
	/* RFC 7208 6: unknown modifiers are ignored, but must still be
	 * syntactically valid macro strings. */
	if (!tern__spf_macro_valid(value, vlen, false)) {
		*problem_r = "bad modifier value";
		return -1;
	}
	t->kind = SPF_UNKNOWN_MOD;
	return 0;
}

int tern__spf_record_parse(struct tern__spf_record *rec, const unsigned char *txt, size_t len,
			   const char **problem_r)
{
	size_t n_terms = 0;
	bool has_all = false;

	memset(rec, 0, sizeof(*rec));
	if (len > TERN__SPF_RECORD_MAX) {
		*problem_r = "record too long";
		return TERN_EINVAL;
	}
	/* RFC 7208 3 and 12: a record is printable US-ASCII and spaces. */
	for (size_t i = 0; i < len; i++)
		if (txt[i] < 0x20 || txt[i] > 0x7e) {
			*problem_r = "record has characters outside printable ASCII";
			return TERN_EINVAL;
		}
	rec->text = malloc(len + 1);
	if (rec->text == NULL)
		return TERN_ENOMEM;
	memcpy(rec->text, txt, len);
	rec->text[len] = '\0';
	for (size_t i = 6; i < len; i++)
		if (rec->text[i] != ' ' && (i == 6 || rec->text[i - 1] == ' '))
			n_terms++;
	rec->terms = calloc(n_terms ? n_terms : 1, sizeof(*rec->terms));
	if (rec->terms == NULL) {
		tern__spf_record_free(rec);
		return TERN_ENOMEM;
	}
	for (size_t i = 6; i < len;) {
		struct tern__spf_term *t;
		size_t start, tlen, eq;

		if (rec->text[i] == ' ') {
			i++;
			continue;
		}
		start = i;
		while (i < len && rec->text[i] != ' ')
			i++;
		tlen = i - start;
		t = &rec->terms[rec->n++];
		t->text = rec->text + start;
		t->text_len = tlen;
		t->cidr4 = 32;
		t->cidr6 = 128;
		eq = strcspn(t->text, "=:/ ");
		int rc = eq < tlen && t->text[eq] == '='
				 ? parse_modifier(rec, t, t->text, tlen, eq, problem_r)
				 : parse_mechanism(t, t->text, tlen, problem_r);
		if (rc != 0) {
			tern__spf_record_free(rec);
			return TERN_EINVAL;
		}
		if (t->kind == SPF_ALL)
			has_all = true;
	}
	/* RFC 7208 6.1: "redirect" MUST be ignored when there is an "all"
	 * mechanism anywhere in the record. */
	if (has_all)
		rec->redirect = NULL;
	return 0;
}

void tern__spf_record_free(struct tern__spf_record *rec)
{
	free(rec->terms);
	free(rec->text);
	memset(rec, 0, sizeof(*rec));
}

bool tern__spf_domain_ok(const char *name)
{
	size_t len = strlen(name), labels = 0, label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > TERN__SPF_NAME_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			labels++;
			label = 0;
		} else if ((unsigned char)name[i] <= ' ' || name[i] == '[' || name[i] == ']') {
			return false;
		} else {
			label++;
		}
	}
	return labels >= 2;
}

void tern__spf_truncate_name(struct tern__buf *name)
{
	const char *p = tern__buf_ptr(name);
	size_t len = name->len, drop = 0;

	if (len > 0 && p[len - 1] == '.')
		name->len = --len;
	while (len - drop > TERN__SPF_NAME_MAX) {
		const char *dot = memchr(p + drop, '.', len - drop);

		if (dot == NULL)
			break;
		drop = (size_t)(dot - p) + 1;
	}
	if (drop > 0)
		tern__buf_consume(name, drop);
}
