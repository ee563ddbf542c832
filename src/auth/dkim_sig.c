/* A DKIM-Signature field parsed and checked as RFC 6376 3.5 and 6.1.1 say,
 * before any key is fetched: what is wrong here is a permerror and costs no
 * DNS query. */
#include <string.h>

#include "auth/dkim_int.h"
#include "auth/tag_list.h"

#define SIG_MAX_TAGS 64

bool tern__dkim_valid_domain(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		if ((label == 0 && c == '-') || ++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

bool tern__dkim_domain_within(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen == blen)
		return tern__ascii_ieq(a, b, alen);
	return alen > blen && a[alen - blen - 1] == '.' && tern__ascii_ieq(a + alen - blen, b, blen);
}

bool tern__dkim_list_next(const char *list, size_t list_len, size_t *pos, const char **item,
			  size_t *len)
{
	size_t i = *pos, start, end;

	/* Every item ends at a ":" or at the end; "a:" has an empty second
	 * item, which callers reject where the grammar does not allow it. */
	if (i > list_len)
		return false;
	while (i < list_len && tern__tag_is_fws(list[i]))
		i++;
	start = i;
	while (i < list_len && list[i] != ':')
		i++;
	end = i;
	while (end > start && tern__tag_is_fws(list[end - 1]))
		end--;
	*item = list + start;
	*len = end - start;
	*pos = i + 1;
	return true;
}

bool tern__dkim_parse_uint(const char *s, size_t len, size_t max_digits, uint64_t *v)
{
	uint64_t n = 0;

	if (len == 0 || len > max_digits)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	*v = n;
	return true;
}

static bool parse_canon(const char *s, size_t len, enum tern__canon *c)
{
	if (len == 6 && memcmp(s, "simple", 6) == 0)
		*c = TERN__CANON_SIMPLE;
	else if (len == 7 && memcmp(s, "relaxed", 7) == 0)
		*c = TERN__CANON_RELAXED;
	else
		return false;
	return true;
}

bool tern__dkim_parse_c(const char *s, size_t len, enum tern__canon *header,
			enum tern__canon *body)
{
	const char *slash = memchr(s, '/', len);

	*body = TERN__CANON_SIMPLE;
	if (slash == NULL)
		return parse_canon(s, len, header);
	return parse_canon(s, (size_t)(slash - s), header) &&
	       parse_canon(slash + 1, len - (size_t)(slash - s) - 1, body);
}

static bool list_has(const char *list, size_t len, const char *want, bool ci)
{
	size_t pos = 0, n, wlen = strlen(want);
	const char *item;

	while (tern__dkim_list_next(list, len, &pos, &item, &n))
		if (n == wlen && (ci ? tern__ascii_ieq(item, want, n) : memcmp(item, want, n) == 0))
			return true;
	return false;
}

#define FAIL(why)                                                                          \
	do {                                                                               \
		*reason = (why);                                                           \
		return -1;                                                                 \
	} while (0)

int tern__dkim_sig_parse(const char *field, size_t len, struct tern__dkim_sig *sig,
			 const char **reason)
{
	struct tern__tag tags[SIG_MAX_TAGS];
	const struct tern__tag *t;
	const char *colon = memchr(field, ':', len);
	size_t voff, pos = 0, n;
	const char *item;
	uint64_t v;
	int count;

	memset(sig, 0, sizeof *sig);
	if (colon == NULL)
		FAIL("not a header field");
	voff = (size_t)(colon - field) + 1;
	count = tern__tag_parse(field + voff, len - voff, tags, SIG_MAX_TAGS);
	if (count < 0)
		FAIL(count == TERN__TAG_EDUPLICATE ? "signature has a tag twice"
						   : "signature tag-list syntax error");
#define GET(name, dst)                                                                     \
	do {                                                                               \
		if ((t = tern__tag_find(tags, (size_t)count, name)) != NULL) {             \
			sig->dst = t->value;                                               \
			sig->dst##_len = t->value_len;                                     \
		}                                                                          \
	} while (0)
	GET("a", a);
	GET("b", b);
	GET("bh", bh);
	GET("d", d);
	GET("h", h);
	GET("i", i);
	GET("s", s);
#undef GET
	/* RFC 6376 6.1.1: "If the DKIM-Signature header field does not contain
	 * ... v=, a=, b=, bh=, d=, h=, s=, the Verifier MUST ... return
	 * PERMFAIL (signature missing required tag)". */
	t = tern__tag_find(tags, (size_t)count, "v");
	if (t == NULL || !sig->a || !sig->b || !sig->bh || !sig->d || !sig->h || !sig->s)
		FAIL("signature missing a required tag");
	if (!tern__tag_value_is(t, "1"))
		FAIL("signature version is not 1");
	t = tern__tag_find(tags, (size_t)count, "b");
	sig->b_value_start = voff + t->eq_end;
	sig->b_value_end = (size_t)(t->value + t->value_len - field);
	if (sig->a_len == 10 && memcmp(sig->a, "rsa-sha256", 10) == 0)
		sig->alg = TERN_DKIM_RSA_SHA256;
	else if (sig->a_len == 14 && memcmp(sig->a, "ed25519-sha256", 14) == 0)
		sig->alg = TERN_DKIM_ED25519_SHA256;
	else if (sig->a_len == 8 && memcmp(sig->a, "rsa-sha1", 8) == 0)
		/* RFC 8301 3.1: "Verifiers MUST NOT consider signatures using
		 * rsa-sha1 valid" */
		FAIL("rsa-sha1 is no longer accepted (RFC 8301)");
	else
		FAIL("unknown signature algorithm");
	sig->header_canon = sig->body_canon = TERN__CANON_SIMPLE;
	if ((t = tern__tag_find(tags, (size_t)count, "c")) != NULL &&
	    !tern__dkim_parse_c(t->value, t->value_len, &sig->header_canon, &sig->body_canon))
		FAIL("unknown canonicalization");
	if ((t = tern__tag_find(tags, (size_t)count, "q")) != NULL &&
	    !list_has(t->value, t->value_len, "dns/txt", false))
		FAIL("no query method we know (q= without dns/txt)");
	if (!tern__dkim_valid_domain(sig->d, sig->d_len))
		FAIL("d= is not a domain name");
	if (!tern__dkim_valid_domain(sig->s, sig->s_len))
		FAIL("s= is not a valid selector");
	/* RFC 6376 3.5 h=: "The field MUST contain the complete list of header
	 * fields in the order presented to the signing algorithm"; 5.4: From
	 * MUST be signed. An empty entry is a syntax error. */
	while (tern__dkim_list_next(sig->h, sig->h_len, &pos, &item, &n))
		if (n == 0)
			FAIL("h= has an empty entry");
	if (!list_has(sig->h, sig->h_len, "from", true))
		FAIL("From is not signed");
	if (sig->i) {
		/* RFC 6376 3.5 i=: "The domain part of the address MUST be the
		 * same as, or a subdomain of, the value of the d= tag." */
		const char *at = NULL;

		for (size_t k = 0; k < sig->i_len; k++)
			if (sig->i[k] == '@')
				at = sig->i + k;
		if (at == NULL)
			FAIL("i= has no @");
		n = sig->i_len - (size_t)(at + 1 - sig->i);
		if (!tern__dkim_domain_within(at + 1, n, sig->d, sig->d_len))
			FAIL("i= is not in d= or a subdomain of it");
	}
	if ((t = tern__tag_find(tags, (size_t)count, "l")) != NULL) {
		if (!tern__dkim_parse_uint(t->value, t->value_len, TERN__DKIM_L_MAX_DIGITS, &sig->l))
			FAIL("l= is not a number we can use");
		sig->has_l = true;
	}
	if ((t = tern__tag_find(tags, (size_t)count, "t")) != NULL) {
		if (!tern__dkim_parse_uint(t->value, t->value_len, TERN__DKIM_TIME_MAX_DIGITS, &v))
			FAIL("t= is not a timestamp");
		sig->t = (time_t)v;
	}
	if ((t = tern__tag_find(tags, (size_t)count, "x")) != NULL) {
		if (!tern__dkim_parse_uint(t->value, t->value_len, TERN__DKIM_TIME_MAX_DIGITS, &v))
			FAIL("x= is not a timestamp");
		sig->x = (time_t)v;
		/* RFC 6376 3.5 x=: "the value of the "x=" tag MUST be greater
		 * than the value of the "t=" tag if both are present" */
		if (sig->t && sig->x <= sig->t)
			FAIL("x= is not after t=");
	}
	*reason = NULL;
	return 0;
}
