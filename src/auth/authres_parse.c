/* Reading an Authentication-Results (RFC 8601 2.2) or
 * ARC-Authentication-Results (RFC 8617 4.1.1) field value.
 *
 *   [ "i" "=" 1*DIGIT ";" ]            (ARC only)
 *   authserv-id [ CFWS authres-version ]
 *   ( [CFWS] ";" [CFWS] "none" / 1*( [CFWS] ";" resinfo ) )
 *   resinfo = methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
 *
 * The authserv-id is read strictly: it is what RFC 8601 5's removal of
 * forged fields compares, so a value where it cannot be found is refused.
 * The results are read as far as they make sense; the first thing that
 * does not stops the reading and sets partial. Every string is copied,
 * unquoted, into one block sized from the input (an unquoted string is
 * never longer than its quoted form, plus a NUL each), so a parse makes
 * three allocations whatever the input. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/authres_lex.h"
#include "tern/authres.h"

struct parser {
	struct tern__auth_lex lx;
	char *store;   /* the block strings are copied into */
	size_t used;
	size_t cap;
	struct tern_authres_parsed *out;
	size_t results_cap;
	size_t props_count;
	size_t props_cap;
};

static bool is_tspecial(unsigned char c)
{
	return c != 0 && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_keyword_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

static const char *copy(struct parser *p, const unsigned char *s, size_t n)
{
	char *d = p->store + p->used;

	memcpy(d, s, n);
	d[n] = '\0';
	p->used += n + 1;
	return d;
}

/* A Keyword (method, result, ptype, property) at pos, or NULL. */
static const char *keyword(struct parser *p)
{
	bool bad = false;
	int c = tern__auth_peek(&p->lx, &bad);
	size_t start = p->lx.pos;

	if (c < 0)
		return NULL;
	while (p->lx.pos < p->lx.len && is_keyword_char(p->lx.s[p->lx.pos]))
		p->lx.pos++;
	return p->lx.pos > start ? copy(p, p->lx.s + start, p->lx.pos - start) : NULL;
}

/* A quoted-string, unquoted; pos at '"'. */
static const char *quoted(struct parser *p)
{
	size_t start = p->lx.pos;

	if (!tern__auth_skip_quoted(&p->lx))
		return NULL;
	char *d = p->store + p->used;
	size_t n = 0;

	for (size_t i = start + 1; i + 1 < p->lx.pos; i++) {
		unsigned char c = p->lx.s[i];

		if (c == '\\')
			c = p->lx.s[++i];
		else if (c == '\r' || c == '\n')
			continue;   /* folding: the CRLF goes, the blank after it stays */
		/* obs-qtext allows NUL, but it would cut a C string short:
		 * such a value is not read. */
		if (c == '\0')
			return NULL;
		d[n++] = (char)c;
	}
	d[n] = '\0';
	p->used += n + 1;
	return d;
}

/* A value: quoted-string, or a run of octets up to a blank, ";", "(" or
 * '"'. That run is wider than RFC 2045's token on purpose: pvalue allows
 * local-part@domain, and others write base64 header.b values and
 * addresses unquoted ("header.b=ab/cd+e=", "smtp.mailfrom=<a@b>"). With
 * token_only (authserv-id), the run is a token. */
static const char *value(struct parser *p, bool token_only)
{
	bool bad = false;
	int c = tern__auth_peek(&p->lx, &bad);
	size_t start = p->lx.pos;

	if (c < 0)
		return NULL;
	if (c == '"') {
		const char *q = quoted(p);

		/* pvalue's quoted local-part "@" domain: kept as the address
		 * it is, quotes and all. */
		if (q == NULL || token_only || p->lx.pos >= p->lx.len || p->lx.s[p->lx.pos] != '@')
			return q;
		p->used -= strlen(q) + 1;
	}
	while (p->lx.pos < p->lx.len) {
		unsigned char u = p->lx.s[p->lx.pos];

		if (u <= ' ' || u == 0x7f || u == ';' || u == '(' || u == '"' ||
		    (token_only && is_tspecial(u)))
			break;
		p->lx.pos++;
	}
	return p->lx.pos > start ? copy(p, p->lx.s + start, p->lx.pos - start) : NULL;
}

static bool digits(struct parser *p, unsigned *out)
{
	bool bad = false;
	int c = tern__auth_peek(&p->lx, &bad);
	unsigned v = 0;

	if (c < '0' || c > '9')
		return false;
	while (p->lx.pos < p->lx.len && p->lx.s[p->lx.pos] >= '0' && p->lx.s[p->lx.pos] <= '9') {
		if (v < 100000000)
			v = v * 10 + (unsigned)(p->lx.s[p->lx.pos] - '0');
		p->lx.pos++;
	}
	*out = v;
	return true;
}

static bool eat(struct parser *p, char ch)
{
	bool bad = false;

	if (tern__auth_peek(&p->lx, &bad) != (unsigned char)ch)
		return false;
	p->lx.pos++;
	return true;
}

/* arr with room for one more element (used of *cap in use), doubled
 * when full; NULL (arr untouched) when memory runs out. */
static void *grow(void *arr, size_t *cap, size_t used, size_t size)
{
	if (used < *cap)
		return arr;
	size_t n = *cap ? *cap * 2 : 4;
	void *g = realloc(arr, n * size);

	if (g != NULL)
		*cap = n;
	return g;
}

static int add_prop(struct parser *p, const char *ptype, const char *property, const char *v)
{
	struct tern_authres_parsed *o = p->out;

	struct tern_authres_prop *props = grow(o->props_, &p->props_cap, p->props_count, sizeof(*props));

	if (props == NULL)
		return TERN_ENOMEM;
	o->props_ = props;
	o->props_[p->props_count++] = (struct tern_authres_prop){ptype, property, v};
	o->results[o->count - 1].prop_count++;
	return 0;
}

/* One resinfo after its ";". Returns 1 when it was read whole, 0 when
 * reading must stop here (partial), or TERN_ENOMEM. */
static int resinfo(struct parser *p)
{
	struct tern_authres_parsed *o = p->out;
	struct tern_authres_result r = {0};
	size_t comment = 0, comment_len = 0;

	r.method = keyword(p);
	if (r.method == NULL)
		return 0;
	if (eat(p, '/') && !digits(p, &r.version))
		return 0;
	if (!eat(p, '='))
		return 0;
	r.result = keyword(p);
	if (r.result == NULL)
		return 0;
	if (!tern__auth_skip_cfws(&p->lx, &comment, &comment_len))
		return 0;
	if (comment != 0)
		r.comment = copy(p, p->lx.s + comment - 1, comment_len);
	struct tern_authres_result *results = grow(o->results, &p->results_cap, o->count, sizeof(*results));

	if (results == NULL)
		return TERN_ENOMEM;
	o->results = results;
	o->results[o->count++] = r;

	for (;;) {
		bool bad = false;
		int c = tern__auth_peek(&p->lx, &bad);

		if (bad)
			return 0;
		if (c < 0 || c == ';')
			return 1;
		const char *name = keyword(p);
		const char *property = NULL;

		if (name == NULL)
			return 0;
		if (eat(p, '.')) {
			property = keyword(p);
			if (property == NULL)
				return 0;
		}
		if (!eat(p, '='))
			return 0;
		const char *v = value(p, false);

		if (v == NULL)
			return 0;
		if (property == NULL && strcasecmp(name, "reason") == 0 && o->results[o->count - 1].reason == NULL) {
			o->results[o->count - 1].reason = v;
			continue;
		}
		/* "action=none" and the like: kept with an empty ptype. */
		int rc = add_prop(p, property != NULL ? name : "", property != NULL ? property : name, v);

		if (rc != 0)
			return rc;
	}
}

/* Points each result at its properties, now that the array is final. */
static void link_props(struct tern_authres_parsed *o)
{
	size_t k = 0;

	for (size_t i = 0; i < o->count; i++) {
		o->results[i].props = o->results[i].prop_count > 0 ? o->props_ + k : NULL;
		k += o->results[i].prop_count;
	}
}

/* At "none" followed by something other than a keyword character or
 * "=": consumes it. Nothing is copied, so the storage bound holds. */
static bool is_none(struct parser *p)
{
	size_t at = p->lx.pos;

	if (p->lx.len - at < 4 || strncasecmp((const char *)p->lx.s + at, "none", 4) != 0 ||
	    (p->lx.len - at > 4 && is_keyword_char(p->lx.s[at + 4])))
		return false;
	p->lx.pos += 4;
	if (eat(p, '=')) {
		p->lx.pos = at;
		return false;
	}
	return true;
}

static int parse_head(struct parser *p, bool arc)
{
	struct tern_authres_parsed *o = p->out;
	unsigned n;

	if (arc) {
		/* RFC 8617 4.1.1: arc-info = instance [CFWS] ";" ... */
		const char *i = keyword(p);

		if (i == NULL || strcasecmp(i, "i") != 0 || !eat(p, '=') || !digits(p, &n) || !eat(p, ';'))
			return TERN_EINVAL;
		o->instance = (int)n;
	}
	const char *id = value(p, true);
	bool bad = false;

	/* "spf=pass; ..." with no id: the "=" shows the first word was a
	 * method, and there is no authserv-id to compare. */
	if (id == NULL || *id == '\0' || tern__auth_peek(&p->lx, &bad) == '=' || bad)
		return TERN_EINVAL;
	o->authserv_id = (char *)id;
	if (digits(p, &n))
		o->version = n;
	return 0;
}

int tern_authres_parse(const char *v, size_t len, bool arc, struct tern_authres_parsed *out)
{
	struct parser p;

	if (out == NULL)
		return TERN_EINVAL;
	memset(out, 0, sizeof(*out));
	out->instance = -1;
	if (v == NULL)
		return TERN_EINVAL;
	memset(&p, 0, sizeof(p));
	p.lx = (struct tern__auth_lex){(const unsigned char *)v, len, 0};
	p.out = out;
	p.cap = 2 * len + 1;
	p.store = malloc(p.cap);
	if (p.store == NULL)
		return TERN_ENOMEM;
	out->storage_ = p.store;

	int rc = parse_head(&p, arc);

	if (rc != 0) {
		tern_authres_parsed_clear(out);
		return rc;
	}
	for (;;) {
		bool bad = false;
		int c = tern__auth_peek(&p.lx, &bad);

		if (bad || (c >= 0 && c != ';')) {
			out->partial = true;
			break;
		}
		if (c < 0)
			break;
		p.lx.pos++;
		c = tern__auth_peek(&p.lx, &bad);
		if (c < 0 && !bad)
			break;   /* a final ";": tolerated */
		/* RFC 8601 2.2 no-result: "none" with no "=" after it, and
		 * nothing else: results after it are not read. */
		if (out->none) {
			out->partial = true;
			break;
		}
		if (out->count == 0 && is_none(&p)) {
			out->none = true;
			continue;
		}
		rc = resinfo(&p);
		if (rc < 0) {
			tern_authres_parsed_clear(out);
			return rc;
		}
		if (rc == 0) {
			out->partial = true;
			break;
		}
	}
	link_props(out);
	return 0;
}

void tern_authres_parsed_clear(struct tern_authres_parsed *parsed)
{
	if (parsed == NULL)
		return;
	free(parsed->storage_);
	free(parsed->results);
	free(parsed->props_);
	memset(parsed, 0, sizeof(*parsed));
	parsed->instance = -1;
}

bool tern_authres_is_ours(const char *value_, size_t len, bool arc, const char *id, int *err_r)
{
	struct tern_authres_parsed parsed;
	int rc = tern_authres_parse(value_, len, arc, &parsed);
	bool ours = rc == 0 && id != NULL && strcasecmp(parsed.authserv_id, id) == 0;

	if (err_r != NULL)
		*err_r = rc == TERN_ENOMEM ? rc : 0;
	tern_authres_parsed_clear(&parsed);
	return ours;
}
