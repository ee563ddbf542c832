/* MTA-STS records, policies, patterns and cache: see client/mta_sts.h. */
#include "client/mta_sts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tern/tern.h"

/* Lines kept for reports; a policy has four or five. */
#define MAX_LINES 64

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- TXT record (RFC 8461 3.1) ------------------------------------------ */

bool tern__sts_txt_parse(const char *text, size_t len, char id[TERN__STS_ID_SIZE])
{
	size_t i = 0;
	bool have_id = false;

	/* sts-text-record = sts-version 1*(sts-sep sts-field) [sts-sep];
	 * sts-version = %s"v=" %s"STSv1" (case-sensitive). */
	if (len < 7 || memcmp(text, "v=STSv1", 7) != 0)
		return false;
	i = 7;
	while (i < len) {
		size_t k0, k1, v0, v1;

		/* sts-sep = *WSP %x3B *WSP */
		while (i < len && is_wsp(text[i]))
			i++;
		if (i == len)
			break;
		if (text[i] != ';')
			return false;
		i++;
		while (i < len && is_wsp(text[i]))
			i++;
		if (i == len)
			break; /* a trailing separator */
		k0 = i;
		while (i < len && (isalnum((unsigned char)text[i]) || text[i] == '_' ||
				   text[i] == '-' || text[i] == '.'))
			i++;
		k1 = i;
		if (k1 == k0 || i == len || text[i] != '=')
			return false;
		v0 = ++i;
		/* sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E) */
		while (i < len && text[i] > 0x20 && text[i] < 0x7f && text[i] != ';' && text[i] != '=')
			i++;
		v1 = i;
		if (v1 == v0)
			return false;
		if (k1 - k0 == 2 && memcmp(text + k0, "id", 2) == 0) {
			if (have_id)
				continue; /* the first id counts */
			if (v1 - v0 > TERN__STS_ID_SIZE - 1)
				return false;
			for (size_t k = v0; k < v1; k++)
				if (!isalnum((unsigned char)text[k]))
					return false;
			memcpy(id, text + v0, v1 - v0);
			id[v1 - v0] = '\0';
			have_id = true;
		}
	}
	return have_id;
}

/* The character-strings of one TXT RDATA joined; false when malformed. */
static bool txt_join(const struct tern__dns_rdata *r, char *out, size_t size, size_t *len_r)
{
	size_t at = 0, o = 0;

	while (at < r->len) {
		size_t n = r->data[at++];

		if (at + n > r->len || o + n >= size)
			return false;
		memcpy(out + o, r->data + at, n);
		o += n;
		at += n;
	}
	out[o] = '\0';
	*len_r = o;
	return true;
}

bool tern__sts_txt_id(const struct tern__dns_answer *txt, char id[TERN__STS_ID_SIZE])
{
	char text[1024], got[TERN__STS_ID_SIZE];
	size_t found = 0, len;
	bool valid = false;

	if (txt->status != TERN__DNS_ANSWER)
		return false;
	for (size_t i = 0; i < txt->n; i++) {
		if (!txt_join(&txt->raw[i], text, sizeof(text), &len))
			continue;
		/* RFC 8461 3.1: records not starting with "v=STSv1" are
		 * discarded; more than one that does is no policy. */
		if (len < 7 || memcmp(text, "v=STSv1", 7) != 0)
			continue;
		found++;
		valid = tern__sts_txt_parse(text, len, got);
	}
	if (found != 1 || !valid)
		return false;
	memcpy(id, got, sizeof(got));
	return true;
}

/* ---- policy (RFC 8461 3.2) ---------------------------------------------- */

void tern__sts_policy_clear(struct tern__sts_policy *p)
{
	for (size_t i = 0; i < p->n_mx; i++)
		free(p->mx[i]);
	for (size_t i = 0; i < p->n_lines; i++)
		free(p->lines[i]);
	free(p->lines);
	memset(p, 0, sizeof(*p));
}

/* An mx pattern: "*." and a host name, or a host name; lower-cased, the
 * trailing dot dropped. NULL when invalid (errno-free: the caller knows). */
static bool pattern_valid(char *v, size_t len)
{
	const char *name = v;
	size_t n = len;

	if (n > 0 && v[n - 1] == '.')
		v[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		v[i] = (char)tolower((unsigned char)v[i]);
	if (n >= 2 && v[0] == '*' && v[1] == '.') {
		name += 2;
		n -= 2;
	}
	/* A wildcard must leave at least two labels ("*.com" would match
	 * every host of a TLD: no policy needs that). */
	if (name != v && memchr(name, '.', n) == NULL)
		return false;
	return n > 0 && tern__dns_hostname_valid(name, n);
}

static int keep_line(struct tern__sts_policy *p, const char *k, size_t kl, const char *v,
		     size_t vl)
{
	char *line;

	if (p->n_lines >= MAX_LINES)
		return 0;
	if (p->lines == NULL && (p->lines = calloc(MAX_LINES, sizeof(char *))) == NULL)
		return TERN_ENOMEM;
	line = malloc(kl + vl + 3);
	if (line == NULL)
		return TERN_ENOMEM;
	memcpy(line, k, kl);
	memcpy(line + kl, ": ", 2);
	memcpy(line + kl + 2, v, vl);
	line[kl + 2 + vl] = '\0';
	p->lines[p->n_lines++] = line;
	return 0;
}

#define FAIL(reason)                                                                         \
	do {                                                                                 \
		if (why != NULL)                                                             \
			*why = (reason);                                                     \
		r = TERN_EINVAL;                                                             \
		goto out;                                                                    \
	} while (0)

int tern__sts_policy_parse(struct tern__sts_policy *p, const char *body, size_t len,
			   const char **why)
{
	bool have_version = false, have_mode = false, have_age = false;
	size_t at = 0;
	int r = 0;

	memset(p, 0, sizeof(*p));
	if (why != NULL)
		*why = NULL;
	if (len > TERN__STS_MAX_BODY)
		FAIL("policy larger than 64 KiB");
	if (len > 0 && memchr(body, '\0', len) != NULL)
		FAIL("NUL in the policy");
	while (at < len) {
		const char *line = body + at, *nl = memchr(line, '\n', len - at);
		size_t ll = nl != NULL ? (size_t)(nl - line) : len - at;
		size_t kl = 0, v0, vl;
		char value[512];

		at += ll + (nl != NULL);
		/* sts-policy-term-delim = CRLF / LF */
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			continue; /* blank lines, as at the end */
		/* sts-policy-field-name = ALPHA *(ALPHA / DIGIT / "_" / "-" / ".") */
		while (kl < ll && (isalnum((unsigned char)line[kl]) || line[kl] == '_' ||
				   line[kl] == '-' || line[kl] == '.'))
			kl++;
		if (kl == 0 || !isalpha((unsigned char)line[0]) || kl == ll || line[kl] != ':')
			FAIL("a line that is not \"key: value\"");
		v0 = kl + 1;
		while (v0 < ll && is_wsp(line[v0]))
			v0++;
		vl = ll - v0;
		while (vl > 0 && is_wsp(line[v0 + vl - 1]))
			vl--;
		for (size_t i = 0; i < vl; i++)
			if ((unsigned char)line[v0 + i] < 0x20 && line[v0 + i] != '\t')
				FAIL("a control character in a value");
		/* RFC 8461 3.2: unknown fields are ignored, whatever their
		 * length. */
		if (!(kl == 7 && memcmp(line, "version", 7) == 0) &&
		    !(kl == 4 && memcmp(line, "mode", 4) == 0) &&
		    !(kl == 7 && memcmp(line, "max_age", 7) == 0) &&
		    !(kl == 2 && memcmp(line, "mx", 2) == 0))
			continue;
		if (vl >= sizeof(value))
			FAIL("a value too long");
		memcpy(value, line + v0, vl);
		value[vl] = '\0';
		if (kl == 7 && memcmp(line, "version", 7) == 0) {
			if (have_version)
				continue;
			/* %s"STSv1": case-sensitive */
			if (strcmp(value, "STSv1") != 0)
				FAIL("version is not STSv1");
			have_version = true;
		} else if (kl == 4 && memcmp(line, "mode", 4) == 0) {
			if (have_mode)
				continue;
			if (strcasecmp(value, "enforce") == 0)
				p->mode = TERN__STS_ENFORCE;
			else if (strcasecmp(value, "testing") == 0)
				p->mode = TERN__STS_TESTING;
			else if (strcasecmp(value, "none") == 0)
				p->mode = TERN__STS_NONE;
			else
				FAIL("mode is not enforce, testing or none");
			have_mode = true;
		} else if (kl == 7 && memcmp(line, "max_age", 7) == 0) {
			unsigned long long age = 0;

			if (have_age)
				continue;
			/* sts-policy-max-age-value = 1*10(DIGIT) */
			if (vl == 0 || vl > 10)
				FAIL("max_age is not 1 to 10 digits");
			for (size_t i = 0; i < vl; i++) {
				if (!isdigit((unsigned char)value[i]))
					FAIL("max_age is not a number");
				age = age * 10 + (unsigned)(value[i] - '0');
			}
			p->max_age = age > TERN__STS_MAX_AGE ? TERN__STS_MAX_AGE : (uint32_t)age;
			have_age = true;
		} else if (kl == 2 && memcmp(line, "mx", 2) == 0) {
			if (!pattern_valid(value, vl))
				FAIL("an mx pattern that is no host name");
			vl = strlen(value);
			if (p->n_mx < TERN__STS_MAX_MX) {
				p->mx[p->n_mx] = strdup(value);
				if (p->mx[p->n_mx] == NULL) {
					r = TERN_ENOMEM;
					goto out;
				}
				p->n_mx++;
			}
		}
		if ((r = keep_line(p, line, kl, value, vl)) != 0)
			goto out;
	}
	if (!have_version)
		FAIL("no version");
	if (!have_mode)
		FAIL("no mode");
	if (!have_age)
		FAIL("no max_age");
	/* RFC 8461 3.2: mx is required unless the mode is none. */
	if (p->mode != TERN__STS_NONE && p->n_mx == 0)
		FAIL("no mx");
out:
	if (r != 0)
		tern__sts_policy_clear(p);
	return r;
}

bool tern__sts_pattern_match(const char *pattern, const char *host)
{
	size_t hl = strlen(host);

	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(host, '.', hl);
		size_t rest;

		/* RFC 8461 4.1: "*" is exactly one label, never none. */
		if (dot == NULL || dot == host)
			return false;
		rest = hl - (size_t)(dot + 1 - host);
		return strlen(pattern + 2) == rest && strncasecmp(dot + 1, pattern + 2, rest) == 0;
	}
	return strlen(pattern) == hl && strncasecmp(pattern, host, hl) == 0;
}

bool tern__sts_mx_match(const struct tern__sts_policy *p, const char *host)
{
	for (size_t i = 0; i < p->n_mx; i++)
		if (tern__sts_pattern_match(p->mx[i], host))
			return true;
	return false;
}

/* ---- cache --------------------------------------------------------------- */

struct entry {
	struct entry *next;
	char domain[TERN__DNS_NAME_SIZE];
	char id[TERN__STS_ID_SIZE];
	bool have;                   /* false: the store was asked and had nothing */
	int64_t fetched;
	uint32_t max_age;
	char *text;                  /* the body as fetched, NUL-terminated */
	size_t len;
};

struct tern__sts_cache {
	struct entry *head;          /* most recently put first */
	size_t n;
	tern_delivery_sts_store store;
	void *user_data;
};

int tern__sts_cache_new(struct tern__sts_cache **c_r, const tern_delivery_sts_store *store,
			void *user_data)
{
	*c_r = calloc(1, sizeof(**c_r));
	if (*c_r == NULL)
		return TERN_ENOMEM;
	if (store != NULL)
		(*c_r)->store = *store;
	(*c_r)->user_data = user_data;
	return 0;
}

static void entry_free(struct entry *e)
{
	free(e->text);
	free(e);
}

/* Sets e's policy from a body; false when it is none. */
static bool entry_set(struct entry *e, const char *id, const char *body, size_t len,
		      int64_t fetched)
{
	struct tern__sts_policy p;
	char *text;

	if (strlen(id) >= sizeof(e->id) || tern__sts_policy_parse(&p, body, len, NULL) != 0)
		return false;
	text = malloc(len + 1);
	if (text == NULL) {
		tern__sts_policy_clear(&p);
		return false;
	}
	memcpy(text, body, len);
	text[len] = '\0';
	free(e->text);
	e->text = text;
	e->len = len;
	e->max_age = p.max_age;
	tern__sts_policy_clear(&p);
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->fetched = fetched;
	e->have = true;
	return true;
}

void tern__sts_cache_free(struct tern__sts_cache **cp)
{
	if (cp == NULL || *cp == NULL)
		return;
	while ((*cp)->head != NULL) {
		struct entry *e = (*cp)->head;

		(*cp)->head = e->next;
		entry_free(e);
	}
	free(*cp);
	*cp = NULL;
}

static struct entry *find(struct tern__sts_cache *c, const char *domain)
{
	for (struct entry *e = c->head; e != NULL; e = e->next)
		if (strcasecmp(e->domain, domain) == 0)
			return e;
	return NULL;
}

/* e to the head (the most recently fetched is the last to go); the oldest
 * goes when the cache is full (rule 4). */
static void push(struct tern__sts_cache *c, struct entry *e)
{
	e->next = c->head;
	c->head = e;
	if (++c->n > TERN__STS_CACHE_MAX) {
		struct entry **pp = &c->head;

		while ((*pp)->next != NULL)
			pp = &(*pp)->next;
		entry_free(*pp);
		*pp = NULL;
		c->n--;
	}
}

static void unlink_entry(struct tern__sts_cache *c, struct entry *e)
{
	for (struct entry **pp = &c->head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			c->n--;
			return;
		}
	}
}

bool tern__sts_cache_get(struct tern__sts_cache *c, const char *domain, int64_t now,
			 const char **id_r, const char **text_r, size_t *len_r)
{
	struct entry *e = find(c, domain);

	if (e == NULL && c->store.load != NULL) {
		char *text = NULL, *id = NULL;
		int64_t fetched = 0;

		e = calloc(1, sizeof(*e));
		if (e == NULL)
			return false;
		snprintf(e->domain, sizeof(e->domain), "%s", domain);
		push(c, e);
		if (c->store.load(domain, &text, &id, &fetched, c->user_data) && text != NULL &&
		    id != NULL)
			(void)entry_set(e, id, text, strlen(text), fetched);
		free(text);
		free(id);
	}
	/* Rule 1: max_age from the time it was fetched. */
	if (e == NULL || !e->have || now >= e->fetched + (int64_t)e->max_age)
		return false;
	*id_r = e->id;
	*text_r = e->text;
	*len_r = e->len;
	return true;
}

int tern__sts_cache_put(struct tern__sts_cache *c, const char *domain, const char *id,
			const char *body, size_t len, int64_t now)
{
	struct entry *e = find(c, domain);
	bool fresh = e == NULL;

	if (fresh) {
		e = calloc(1, sizeof(*e));
		if (e == NULL)
			return TERN_ENOMEM;
		snprintf(e->domain, sizeof(e->domain), "%s", domain);
	}
	if (!entry_set(e, id, body, len, now)) {
		if (fresh)
			entry_free(e);
		return TERN_EINVAL;
	}
	if (!fresh)
		unlink_entry(c, e);
	push(c, e);
	if (c->store.store != NULL)
		c->store.store(domain, e->text, id, now, c->user_data);
	return 0;
}
