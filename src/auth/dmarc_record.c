/* The DMARC record (RFC 7489 6.3, 6.4): "v=DMARC1" then tag=value pairs
 * separated by ";".
 *
 *   dmarc-record = dmarc-version dmarc-sep [dmarc-request] [dmarc-sep ...]
 *   dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43 %x31
 *   dmarc-sep = *WSP %x3b *WSP
 *
 * 6.3: unknown tags are ignored, and "syntax errors in the remainder of
 * the record SHOULD be discarded in favor of default values (if any) or
 * ignored outright": so a bad adkim=, pct=, ri=, fo=, rf= or one bad rua=
 * URI costs only that value (noted in bad_tags). p= and sp= are the
 * exception 6.6.3 spells out: without a good p= (or with a bad sp=) the
 * record is used as p=none if rua= has a good URI, and not at all
 * otherwise. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tern/dmarc.h"

struct span {
	const char *p;
	size_t n;
};

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static struct span trim(const char *p, size_t n)
{
	while (n > 0 && is_wsp(*p)) {
		p++;
		n--;
	}
	while (n > 0 && is_wsp(p[n - 1]))
		n--;
	return (struct span){p, n};
}

static bool span_is(struct span s, const char *word)
{
	return s.n == strlen(word) && strncasecmp(s.p, word, s.n) == 0;
}

static enum tern_dmarc_policy parse_policy(struct span v)
{
	if (span_is(v, "none"))
		return TERN_DMARC_POLICY_NONE;
	if (span_is(v, "quarantine"))
		return TERN_DMARC_POLICY_QUARANTINE;
	if (span_is(v, "reject"))
		return TERN_DMARC_POLICY_REJECT;
	return TERN_DMARC_POLICY_UNSET;
}

/* 1*n DIGIT up to max; false on anything else. */
static bool parse_number(struct span v, size_t max_digits, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (v.n == 0 || v.n > max_digits)
		return false;
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(v.p[i] - '0');
	}
	if (x > max)
		return false;
	*out = x;
	return true;
}

/* Calls fn on each element of a list separated by sep, trimmed. */
static bool each(struct span v, char sep, bool (*fn)(struct span, void *), void *arg)
{
	size_t i = 0;

	for (;;) {
		size_t j = i;

		while (j < v.n && v.p[j] != sep)
			j++;
		if (!fn(trim(v.p + i, j - i), arg))
			return false;
		if (j >= v.n)
			return true;
		i = j + 1;
	}
}

static bool fo_option(struct span o, void *arg)
{
	unsigned *fo = arg;

	if (span_is(o, "0"))
		*fo |= TERN_DMARC_FO_0;
	else if (span_is(o, "1"))
		*fo |= TERN_DMARC_FO_1;
	else if (span_is(o, "d"))
		*fo |= TERN_DMARC_FO_D;
	else if (span_is(o, "s"))
		*fo |= TERN_DMARC_FO_S;
	else
		return false;
	return true;
}

/* rf=: Keyword *(":" Keyword); "afrf" is the only one registered. */
static bool rf_format(struct span o, void *arg)
{
	bool *afrf = arg;

	if (o.n == 0)
		return false;
	for (size_t i = 0; i < o.n; i++) {
		char c = o.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	if (span_is(o, "afrf"))
		*afrf = true;
	return true;
}

struct uri_list {
	struct tern_dmarc_uri *uris;
	size_t count;
	bool bad;
	bool nomem;
};

/* dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] (RFC 7489
 * 6.4). The URI is checked only as far as "scheme:" and no characters a
 * URI cannot hold unencoded: whether a mailto: is one we can send to is
 * the report writer's business. */
static bool add_uri(struct span u, void *arg)
{
	struct uri_list *l = arg;
	uint64_t size = 0;
	size_t bang = u.n;
	size_t i = 0;

	/* RFC 7489 6.4: a "!" inside the URI itself must be %-encoded, so
	 * the first one starts the size. */
	for (size_t k = u.n; k > 0; k--)
		if (u.p[k - 1] == '!')
			bang = k - 1;
	if (bang < u.n) {
		struct span num = {u.p + bang + 1, u.n - bang - 1};
		uint64_t unit = 1;

		if (num.n > 0) {
			switch (num.p[num.n - 1] | 0x20) {
			case 'k': unit = 1ULL << 10; num.n--; break;
			case 'm': unit = 1ULL << 20; num.n--; break;
			case 'g': unit = 1ULL << 30; num.n--; break;
			case 't': unit = 1ULL << 40; num.n--; break;
			default: break;
			}
		}
		if (!parse_number(num, 12, UINT64_MAX >> 41, &size)) {
			l->bad = true;
			return true;
		}
		size *= unit;
	}
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 3.1) */
	if (bang == 0 || !((u.p[0] | 0x20) >= 'a' && (u.p[0] | 0x20) <= 'z')) {
		l->bad = true;
		return true;
	}
	while (i < bang && u.p[i] != ':') {
		char c = u.p[i] | 0x20;

		if (!((c >= 'a' && c <= 'z') || (u.p[i] >= '0' && u.p[i] <= '9') || u.p[i] == '+' ||
		      u.p[i] == '-' || u.p[i] == '.')) {
			l->bad = true;
			return true;
		}
		i++;
	}
	if (i >= bang - 1) {   /* no ":" or nothing after it */
		l->bad = true;
		return true;
	}
	for (size_t k = 0; k < bang; k++) {
		unsigned char c = (unsigned char)u.p[k];

		if (c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\') {
			l->bad = true;
			return true;
		}
	}
	struct tern_dmarc_uri *grown = realloc(l->uris, (l->count + 1) * sizeof(*grown));
	char *copy = grown != NULL ? strndup(u.p, bang) : NULL;

	if (grown != NULL)
		l->uris = grown;
	if (copy == NULL) {
		l->nomem = true;
		return false;
	}
	l->uris[l->count].uri = copy;
	l->uris[l->count].max_size = size;
	l->count++;
	return true;
}

/* Parses rua= or ruf=; bad URIs are dropped, noted in *bad_tags. */
static int parse_uris(struct span v, struct tern_dmarc_uri **uris_r, size_t *count_r, unsigned *bad_tags,
		      unsigned bad_bit)
{
	struct uri_list l = {*uris_r, *count_r, false, false};

	each(v, ',', add_uri, &l);
	*uris_r = l.uris;
	*count_r = l.count;
	if (l.nomem)
		return TERN_ENOMEM;
	if (l.bad)
		*bad_tags |= bad_bit;
	return 0;
}

/* The tags, a bit each to catch repeats. */
enum seen {
	SEEN_P = 1 << 0, SEEN_SP = 1 << 1, SEEN_NP = 1 << 2, SEEN_ADKIM = 1 << 3, SEEN_ASPF = 1 << 4,
	SEEN_PCT = 1 << 5, SEEN_RI = 1 << 6, SEEN_FO = 1 << 7, SEEN_RF = 1 << 8, SEEN_RUA = 1 << 9,
	SEEN_RUF = 1 << 10,
};

static int apply_tag(struct tern_dmarc_record *rec, struct span name, struct span v, unsigned *seen)
{
	static const struct {
		const char *name;
		unsigned bit;
	} tags[] = {
		{"p", SEEN_P}, {"sp", SEEN_SP}, {"np", SEEN_NP}, {"adkim", SEEN_ADKIM},
		{"aspf", SEEN_ASPF}, {"pct", SEEN_PCT}, {"ri", SEEN_RI}, {"fo", SEEN_FO},
		{"rf", SEEN_RF}, {"rua", SEEN_RUA}, {"ruf", SEEN_RUF},
	};
	unsigned bit = 0;
	uint64_t num;

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (span_is(name, tags[i].name))
			bit = tags[i].bit;
	if (bit == 0)
		return 0;   /* RFC 7489 6.3: unknown tags MUST be ignored */
	if (*seen & bit) {
		/* A repeated tag: the first one stands (what RFC 6376 3.2
		 * calls invalid for DKIM; DMARC's "discard syntax errors"
		 * keeps the record). */
		rec->bad_tags |= TERN_DMARC_TAG_SYNTAX;
		return 0;
	}
	*seen |= bit;
	switch (bit) {
	case SEEN_P:
		rec->p = parse_policy(v);
		if (rec->p == TERN_DMARC_POLICY_UNSET)
			rec->bad_tags |= TERN_DMARC_TAG_P;
		break;
	case SEEN_SP:
		rec->sp = parse_policy(v);
		if (rec->sp == TERN_DMARC_POLICY_UNSET)
			rec->bad_tags |= TERN_DMARC_TAG_SP;
		break;
	case SEEN_NP:
		rec->np = parse_policy(v);
		if (rec->np == TERN_DMARC_POLICY_UNSET)
			rec->bad_tags |= TERN_DMARC_TAG_NP;
		break;
	case SEEN_ADKIM:
	case SEEN_ASPF: {
		enum tern_dmarc_alignment *a = bit == SEEN_ADKIM ? &rec->adkim : &rec->aspf;

		if (span_is(v, "s"))
			*a = TERN_DMARC_STRICT;
		else if (!span_is(v, "r"))
			rec->bad_tags |= bit == SEEN_ADKIM ? TERN_DMARC_TAG_ADKIM : TERN_DMARC_TAG_ASPF;
		break;
	}
	case SEEN_PCT:
		if (parse_number(v, 3, 100, &num))
			rec->pct = (unsigned)num;
		else
			rec->bad_tags |= TERN_DMARC_TAG_PCT;
		break;
	case SEEN_RI:
		if (parse_number(v, 10, UINT32_MAX, &num))
			rec->ri = (uint32_t)num;
		else
			rec->bad_tags |= TERN_DMARC_TAG_RI;
		break;
	case SEEN_FO: {
		unsigned fo = 0;

		if (each(v, ':', fo_option, &fo))
			rec->fo = fo;
		else
			rec->bad_tags |= TERN_DMARC_TAG_FO;
		break;
	}
	case SEEN_RF: {
		bool afrf = false;

		if (each(v, ':', rf_format, &afrf))
			rec->rf_afrf = afrf;
		else
			rec->bad_tags |= TERN_DMARC_TAG_RF;
		break;
	}
	case SEEN_RUA:
		return parse_uris(v, &rec->rua, &rec->rua_count, &rec->bad_tags, TERN_DMARC_TAG_RUA);
	case SEEN_RUF:
		return parse_uris(v, &rec->ruf, &rec->ruf_count, &rec->bad_tags, TERN_DMARC_TAG_RUF);
	default:
		break;
	}
	return 0;
}

/* A tag name (RFC 6376 3.2 tag-name = ALPHA *ALNUMPUNC). */
static bool is_tag_name(struct span s)
{
	if (s.n == 0 || !(((s.p[0] | 0x20) >= 'a') && ((s.p[0] | 0x20) <= 'z')))
		return false;
	for (size_t i = 1; i < s.n; i++) {
		char c = s.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

int tern_dmarc_record_parse(const char *txt, size_t len, struct tern_dmarc_record *rec)
{
	if (rec == NULL)
		return TERN_EINVAL;
	memset(rec, 0, sizeof(*rec));
	rec->pct = 100;
	rec->ri = 86400;
	rec->fo = TERN_DMARC_FO_0;
	rec->rf_afrf = true;
	if (txt == NULL)
		return TERN_DMARC_RECORD_NOT_DMARC;

	unsigned seen = 0;
	bool first = true;
	size_t i = 0;

	while (i <= len) {
		size_t j = i;

		while (j < len && txt[j] != ';')
			j++;
		struct span part = trim(txt + i, j - i);
		const char *eq = memchr(part.p, '=', part.n);
		struct span name = eq ? trim(part.p, (size_t)(eq - part.p)) : part;
		struct span value = eq ? trim(eq + 1, part.n - (size_t)(eq - part.p) - 1) : (struct span){"", 0};

		if (first) {
			/* RFC 7489 6.6.3 step 4: a record must start with
			 * v=DMARC1, "DMARC1" in upper case (6.4's %x hex). */
			if (eq == NULL || !span_is(name, "v") || value.n != 6 || memcmp(value.p, "DMARC1", 6) != 0)
				return TERN_DMARC_RECORD_NOT_DMARC;
			first = false;
		} else if (part.n == 0) {
			/* empty: "v=DMARC1;" or ";;" */
		} else if (eq == NULL || !is_tag_name(name)) {
			rec->bad_tags |= TERN_DMARC_TAG_SYNTAX;
		} else if (span_is(name, "v")) {
			rec->bad_tags |= TERN_DMARC_TAG_SYNTAX;
		} else {
			int rc = apply_tag(rec, name, value, &seen);

			if (rc != 0)
				return rc;
		}
		i = j + 1;
	}

	/* RFC 7489 6.6.3: "If a retrieved policy record does not contain a
	 * valid "p" tag, or contains an "sp" tag that is not valid, then: if a
	 * "rua" tag is present and contains at least one syntactically valid
	 * reporting URI, the Mail Receiver SHOULD act as if a record
	 * containing a valid "v" tag and "p" tag with a value of "none" was
	 * retrieved; otherwise, the Mail Receiver applies no DMARC
	 * processing." */
	if (rec->p == TERN_DMARC_POLICY_UNSET || (rec->bad_tags & TERN_DMARC_TAG_SP)) {
		if (rec->rua_count == 0)
			return TERN_DMARC_RECORD_INVALID;
		rec->p = TERN_DMARC_POLICY_NONE;
		rec->sp = TERN_DMARC_POLICY_UNSET;
		rec->p_from_rua = true;
	}
	return 0;
}

static void free_uris(struct tern_dmarc_uri *uris, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(uris[i].uri);
	free(uris);
}

void tern_dmarc_record_clear(struct tern_dmarc_record *rec)
{
	if (rec == NULL)
		return;
	free_uris(rec->rua, rec->rua_count);
	free_uris(rec->ruf, rec->ruf_count);
	rec->rua = rec->ruf = NULL;
	rec->rua_count = rec->ruf_count = 0;
}

const char *tern_dmarc_policy_name(enum tern_dmarc_policy policy)
{
	switch (policy) {
	case TERN_DMARC_POLICY_NONE:
		return "none";
	case TERN_DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case TERN_DMARC_POLICY_REJECT:
		return "reject";
	default:
		return "";
	}
}
