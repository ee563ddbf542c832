/* ARC fields read (RFC 8617 4.1): which set each belongs to, whether the
 * sets have the shape RFC 8617 4.2.1 and 5.2 demand, and the tag-lists of
 * ARC-Message-Signature and ARC-Seal. Nothing here fetches keys: what is
 * wrong here fails the chain before any DNS query. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/arc_int.h"
#include "auth/tag_list.h"

#define SIG_MAX_TAGS 64

static const struct {
	const char *name;
	size_t len;
} kinds[3] = {
	[TERN__ARC_AAR] = {"ARC-Authentication-Results", 26},
	[TERN__ARC_AMS] = {"ARC-Message-Signature", 21},
	[TERN__ARC_AS] = {"ARC-Seal", 8},
};

int tern__arc_field_kind(const struct tern__headers *h, const struct tern__hfield *f)
{
	for (int k = 0; k < 3; k++)
		if (tern__hfield_is(h, f, kinds[k].name, kinds[k].len))
			return k;
	return -1;
}

/* RFC 8617 4.2.1: instance values are 1 to 50; "i=01" is not written by
 * anyone and is refused, so one field cannot carry two spellings. */
static unsigned instance_value(const char *s, size_t len)
{
	unsigned v = 0;

	if (len == 0 || len > 2 || s[0] == '0')
		return 0;
	for (size_t k = 0; k < len; k++) {
		if (s[k] < '0' || s[k] > '9')
			return 0;
		v = v * 10 + (unsigned)(s[k] - '0');
	}
	return v <= TERN_ARC_MAX_INSTANCE ? v : 0;
}

unsigned tern__arc_instance(const char *field, size_t len, enum tern__arc_kind kind)
{
	const char *colon = memchr(field, ':', len);
	const char *p, *end = field + len;
	struct tern__tag tags[SIG_MAX_TAGS];
	const struct tern__tag *t;
	int n;

	if (colon == NULL)
		return 0;
	p = colon + 1;
	if (kind != TERN__ARC_AAR) {
		n = tern__tag_parse(p, (size_t)(end - p), tags, SIG_MAX_TAGS);
		if (n < 0 || (t = tern__tag_find(tags, (size_t)n, "i")) == NULL)
			return 0;
		return instance_value(t->value, t->value_len);
	}
	/* RFC 8617 4.1.1: arc-authres-header = "ARC-Authentication-Results:"
	 * [CFWS] arc-info, arc-info = instance [CFWS] ";" authres-payload,
	 * instance = "i" [FWS] "=" [FWS] 1*2DIGIT. Comments before i= are
	 * allowed by the grammar and written by nobody; they are refused. */
	while (p < end && tern__tag_is_fws(*p))
		p++;
	if (p == end || *p++ != 'i')
		return 0;
	while (p < end && tern__tag_is_fws(*p))
		p++;
	if (p == end || *p++ != '=')
		return 0;
	while (p < end && tern__tag_is_fws(*p))
		p++;
	{
		const char *d = p;

		while (p < end && *p >= '0' && *p <= '9')
			p++;
		n = (int)instance_value(d, (size_t)(p - d));
	}
	while (p < end && tern__tag_is_fws(*p))
		p++;
	return p < end && *p == ';' ? (unsigned)n : 0;
}

void tern__arc_chain_collect(const struct tern__headers *h, struct tern__arc_chain *c)
{
	static const char *const what[3] = {"ARC-Authentication-Results", "ARC-Message-Signature",
					    "ARC-Seal"};

	memset(c, 0, sizeof *c);
	for (size_t k = 0; k < h->count; k++) {
		const struct tern__hfield *f = &h->fields[k];
		int kind = tern__arc_field_kind(h, f);
		unsigned i;

		if (kind < 0)
			continue;
		c->any = true;
		i = tern__arc_instance(tern__hfield_text(h, f), f->len, (enum tern__arc_kind)kind);
		if (i == 0) {
			/* RFC 8617 4.2.1: an i= outside 1..50 or unreadable
			 * makes the chain invalid. */
			if (c->error == NULL) {
				snprintf(c->why, sizeof c->why, "%s with no usable i= (1 to 50)",
					 what[kind]);
				c->error = c->why;
			}
			continue;
		}
		if (i > c->n)
			c->n = i;
		if (c->set[i][kind] != NULL) {
			/* RFC 8617 5.2 step 2: more than one field of a kind in
			 * a set is a structural failure. */
			if (c->error == NULL) {
				snprintf(c->why, sizeof c->why, "instance %u has two %s fields", i,
					 what[kind]);
				c->error = c->why;
			}
			continue;
		}
		c->set[i][kind] = f;
	}
	if (c->error != NULL)
		return;
	/* RFC 8617 4.2.1: sets are numbered 1..N without gaps, each complete. */
	for (unsigned i = 1; i <= c->n; i++)
		for (int kind = 0; kind < 3; kind++)
			if (c->set[i][kind] == NULL) {
				snprintf(c->why, sizeof c->why, "instance %u has no %s", i,
					 what[kind]);
				c->error = c->why;
				return;
			}
}

static bool value_is(const char *v, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(v, s, len) == 0;
}

#define FAIL(why)                                                                          \
	do {                                                                               \
		*reason = (why);                                                           \
		return -1;                                                                 \
	} while (0)

int tern__arc_sig_parse(const char *field, size_t len, enum tern__arc_kind kind,
			struct tern__arc_sig *sig, const char **reason)
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
		FAIL(count == TERN__TAG_EDUPLICATE ? "ARC signature has a tag twice"
						   : "ARC signature tag-list syntax error");
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
	GET("s", s);
#undef GET
	t = tern__tag_find(tags, (size_t)count, "i");
	if (t == NULL || !sig->a || !sig->b || !sig->d || !sig->s)
		FAIL("ARC signature missing a required tag");
	if ((sig->instance = instance_value(t->value, t->value_len)) == 0)
		FAIL("ARC signature i= is not 1 to 50");
	t = tern__tag_find(tags, (size_t)count, "b");
	sig->b_value_start = voff + t->eq_end;
	sig->b_value_end = (size_t)(t->value + t->value_len - field);
	if (value_is(sig->a, sig->a_len, "rsa-sha256"))
		sig->alg = TERN_DKIM_RSA_SHA256;
	else if (value_is(sig->a, sig->a_len, "ed25519-sha256"))
		sig->alg = TERN_DKIM_ED25519_SHA256;
	else
		FAIL("unknown ARC signature algorithm");
	if (!tern__dkim_valid_domain(sig->d, sig->d_len))
		FAIL("d= is not a domain name");
	if (!tern__dkim_valid_domain(sig->s, sig->s_len))
		FAIL("s= is not a valid selector");
	if ((t = tern__tag_find(tags, (size_t)count, "t")) != NULL) {
		if (!tern__dkim_parse_uint(t->value, t->value_len, TERN__DKIM_TIME_MAX_DIGITS, &v))
			FAIL("t= is not a timestamp");
		sig->t = (time_t)v;
	}
	if (kind == TERN__ARC_AS) {
		/* RFC 8617 4.1.3: "The AS header field does not use the "h=" tag
		 * ... its presence ... MUST result in a failure". */
		if (sig->h)
			FAIL("ARC-Seal has an h= tag");
		if ((t = tern__tag_find(tags, (size_t)count, "cv")) == NULL)
			FAIL("ARC-Seal has no cv=");
		if (value_is(t->value, t->value_len, "none"))
			sig->cv = TERN_ARC_NONE;
		else if (value_is(t->value, t->value_len, "pass"))
			sig->cv = TERN_ARC_PASS;
		else if (value_is(t->value, t->value_len, "fail"))
			sig->cv = TERN_ARC_FAIL;
		else
			FAIL("ARC-Seal cv= is not none, pass or fail");
		return 0;
	}
	if (!sig->bh || !sig->h)
		FAIL("ARC-Message-Signature missing a required tag");
	/* RFC 8617 4.1.2: relaxed is what sealers write; c= may name either
	 * canonicalization as in DKIM (RFC 6376 3.5), default simple/simple. */
	sig->header_canon = sig->body_canon = TERN__CANON_SIMPLE;
	if ((t = tern__tag_find(tags, (size_t)count, "c")) != NULL &&
	    !tern__dkim_parse_c(t->value, t->value_len, &sig->header_canon, &sig->body_canon))
		FAIL("unknown canonicalization");
	while (tern__dkim_list_next(sig->h, sig->h_len, &pos, &item, &n)) {
		if (n == 0)
			FAIL("h= has an empty entry");
		/* RFC 8617 4.1.2: "The AMS header field MUST NOT sign ARC-Seal
		 * header fields" (their own signatures cover the chain). */
		if (n == 8 && tern__ascii_ieq(item, "arc-seal", 8))
			FAIL("ARC-Message-Signature signs ARC-Seal");
	}
	if ((t = tern__tag_find(tags, (size_t)count, "l")) != NULL) {
		if (!tern__dkim_parse_uint(t->value, t->value_len, TERN__DKIM_L_MAX_DIGITS, &sig->l))
			FAIL("l= is not a number we can use");
		sig->has_l = true;
	}
	return 0;
}

int tern__arc_blank_b(const char *field, size_t len, size_t start, size_t end, char **out_r,
		      size_t *out_len_r)
{
	char *out = malloc(len - (end - start) + 1);

	if (out == NULL)
		return TERN_ENOMEM;
	memcpy(out, field, start);
	memcpy(out + start, field + end, len - end);
	*out_len_r = len - (end - start);
	out[*out_len_r] = '\0';
	*out_r = out;
	return 0;
}
