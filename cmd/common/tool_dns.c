/* Blocking lookups for the command-line tools: see tool_dns.h. */
#include "tool_dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "net/dns.h"
#include "net/dns_auth.h"

enum fixed_kind { FIXED_RECORD, FIXED_NXDOMAIN, FIXED_TEMPFAIL };

struct fixed {
	char *name;
	enum fixed_kind kind;
	enum tern_dns_type type;
	unsigned char *data;
	size_t len;
	unsigned preference;
};

struct tool_dns {
	struct event_base *base;
	struct tern__dns *dns;
	unsigned timeout_ms;
	unsigned lookups;
	struct fixed *fixed;
	size_t n_fixed;
	/* the last answer */
	struct tern__dns_auth converted;
	struct tern_dns_rr *fixed_rrs;
	bool done;
};

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

struct tool_dns *tool_dns_new(const char *server, unsigned timeout_ms, char *err, size_t err_size)
{
	struct tool_dns *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		set_err(err, err_size, "out of memory");
		return NULL;
	}
	d->timeout_ms = timeout_ms;
	d->base = event_base_new();
	if (d->base == NULL || tern__dns_new(&d->dns, d->base, server, err, err_size) != 0) {
		tool_dns_free(d);
		return NULL;
	}
	return d;
}

static bool name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static int parse_type(const char *type, enum fixed_kind *kind, enum tern_dns_type *t)
{
	static const struct { const char *name; enum tern_dns_type type; } types[] = {
		{ "A", TERN_DNS_TYPE_A }, { "AAAA", TERN_DNS_TYPE_AAAA }, { "MX", TERN_DNS_TYPE_MX },
		{ "TXT", TERN_DNS_TYPE_TXT }, { "PTR", TERN_DNS_TYPE_PTR },
	};

	*kind = FIXED_RECORD;
	if (strcasecmp(type, "NXDOMAIN") == 0) {
		*kind = FIXED_NXDOMAIN;
		return 0;
	}
	if (strcasecmp(type, "TEMPFAIL") == 0) {
		*kind = FIXED_TEMPFAIL;
		return 0;
	}
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcasecmp(type, types[i].name) == 0) {
			*t = types[i].type;
			return 0;
		}
	}
	return -1;
}

int tool_dns_add(struct tool_dns *dns, const char *name, const char *type, const char *value,
		 char *err, size_t err_size)
{
	struct fixed f = { .preference = 0 };
	struct fixed *grown;
	const char *text = value ? value : "";

	if (parse_type(type, &f.kind, &f.type) != 0) {
		set_err(err, err_size, "%s: unknown record type %s", name, type);
		return -1;
	}
	if (f.kind == FIXED_RECORD && (f.type == TERN_DNS_TYPE_A || f.type == TERN_DNS_TYPE_AAAA)) {
		f.len = f.type == TERN_DNS_TYPE_A ? 4 : 16;
		f.data = malloc(16);
		if (f.data == NULL ||
		    inet_pton(f.type == TERN_DNS_TYPE_A ? AF_INET : AF_INET6, text, f.data) != 1) {
			free(f.data);
			set_err(err, err_size, "%s: not an address: %s", name, text);
			return -1;
		}
	} else {
		if (f.kind == FIXED_RECORD && f.type == TERN_DNS_TYPE_MX) {
			char *end;
			unsigned long pref = strtoul(text, &end, 10);

			if (end == text || !isspace((unsigned char)*end) || pref > 65535) {
				set_err(err, err_size, "%s: MX value is not \"PREFERENCE NAME\": %s", name,
					text);
				return -1;
			}
			f.preference = (unsigned)pref;
			for (text = end; isspace((unsigned char)*text); text++)
				;
		}
		f.len = strlen(text);
		if (f.kind == FIXED_RECORD && f.type != TERN_DNS_TYPE_TXT && f.len > 0 &&
		    text[f.len - 1] == '.')
			f.len--;   /* names are kept without the trailing dot */
		f.data = malloc(f.len + 1);
		if (f.data == NULL) {
			set_err(err, err_size, "out of memory");
			return -1;
		}
		memcpy(f.data, text, f.len);
		f.data[f.len] = '\0';
	}
	f.name = strdup(name);
	grown = realloc(dns->fixed, (dns->n_fixed + 1) * sizeof(*grown));
	if (f.name == NULL || grown == NULL) {
		free(f.name);
		free(f.data);
		set_err(err, err_size, "out of memory");
		return -1;
	}
	dns->fixed = grown;
	dns->fixed[dns->n_fixed++] = f;
	return 0;
}

int tool_dns_load(struct tool_dns *dns, const char *path, char *err, size_t err_size)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	if (f == NULL) {
		set_err(err, err_size, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		char *p = line, *name, *type, *value;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		name = strsep(&p, " \t");
		while (p != NULL && isspace((unsigned char)*p))
			p++;
		type = p ? strsep(&p, " \t") : NULL;
		while (p != NULL && isspace((unsigned char)*p))
			p++;
		value = p ? p : "";
		if (type == NULL || *type == '\0') {
			set_err(err, err_size, "%s: a line without a type: %s", path, name);
			rc = -1;
			break;
		}
		if (value[0] == '"' && strlen(value) >= 2 && value[strlen(value) - 1] == '"') {
			value[strlen(value) - 1] = '\0';
			value++;
		}
		rc = tool_dns_add(dns, name, type, value, err, err_size);
	}
	free(line);
	fclose(f);
	return rc;
}

static void on_answer(const struct tern__dns_answer *answer, void *arg)
{
	struct tool_dns *d = arg;

	(void)tern__dns_auth_from(&d->converted, answer);
	d->done = true;
}

/* Answers from the fixed records when the name has any; false otherwise. */
static bool lookup_fixed(struct tool_dns *d, const char *name, enum tern_dns_type type,
			 struct tern_dns_answer *answer)
{
	size_t count = 0, matching = 0;

	for (size_t i = 0; i < d->n_fixed; i++) {
		if (!name_eq(d->fixed[i].name, name))
			continue;
		count++;
		if (d->fixed[i].kind == FIXED_NXDOMAIN) {
			answer->status = TERN_DNS_NXDOMAIN;
			return true;
		}
		if (d->fixed[i].kind == FIXED_TEMPFAIL) {
			answer->status = TERN_DNS_TEMPFAIL;
			return true;
		}
		if (d->fixed[i].type == type)
			matching++;
	}
	if (count == 0)
		return false;
	answer->status = TERN_DNS_NODATA;
	if (matching == 0)
		return true;
	d->fixed_rrs = calloc(matching, sizeof(*d->fixed_rrs));
	if (d->fixed_rrs == NULL) {
		answer->status = TERN_DNS_TEMPFAIL;
		return true;
	}
	for (size_t i = 0, j = 0; i < d->n_fixed; i++) {
		if (!name_eq(d->fixed[i].name, name) || d->fixed[i].type != type)
			continue;
		d->fixed_rrs[j].data = d->fixed[i].data;
		d->fixed_rrs[j].len = d->fixed[i].len;
		d->fixed_rrs[j].preference = d->fixed[i].preference;
		j++;
	}
	answer->status = TERN_DNS_FOUND;
	answer->rrs = d->fixed_rrs;
	answer->count = matching;
	return true;
}

void tool_dns_lookup(struct tool_dns *d, const char *name, enum tern_dns_type type,
		     struct tern_dns_answer *answer)
{
	tern__dns_auth_clear(&d->converted);
	free(d->fixed_rrs);
	d->fixed_rrs = NULL;
	memset(answer, 0, sizeof(*answer));
	d->lookups++;
	if (lookup_fixed(d, name, type, answer))
		return;
	answer->status = TERN_DNS_TEMPFAIL;
	d->done = false;
	if (tern__dns_query(d->dns, name, (int)type, d->timeout_ms, on_answer, d, NULL) != 0)
		return;
	while (!d->done && event_base_loop(d->base, EVLOOP_ONCE) == 0)
		;
	if (d->done)
		*answer = d->converted.answer;
}

unsigned tool_dns_lookups(const struct tool_dns *dns)
{
	return dns->lookups;
}

void tool_dns_free(struct tool_dns *d)
{
	if (d == NULL)
		return;
	tern__dns_auth_clear(&d->converted);
	free(d->fixed_rrs);
	for (size_t i = 0; i < d->n_fixed; i++) {
		free(d->fixed[i].name);
		free(d->fixed[i].data);
	}
	free(d->fixed);
	if (d->dns != NULL)
		tern__dns_free(&d->dns);
	if (d->base != NULL)
		event_base_free(d->base);
	free(d);
}
