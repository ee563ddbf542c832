/* tern-spf: one SPF check (RFC 7208) from the command line, with the
 * library's engine (<tern/spf.h>) and blocking lookups (cmd/common).
 *
 *   tern-spf --ip IP --helo NAME [--from ADDR] [--identity mailfrom|helo|both]
 *            [--receiver NAME] [--now T] [--default-exp TEXT]
 *            [--dns ADDR@PORT] [--record "NAME TYPE VALUE"]... [--records FILE]
 *            [--offline]
 *   tern-spf --batch [--default-exp TEXT] [--receiver NAME] [--now T]
 *
 * Prints the result, the explanation, the deciding mechanism, the problem
 * and a Received-SPF field. Exit status: 0 pass, 1 fail, 2 softfail,
 * 3 neutral, 4 none, 5 temperror, 6 permerror, 64 bad usage.
 *
 * --offline answers only from the fixed records: a name without any is
 * NXDOMAIN (no DNS is ever asked). --batch reads tab-separated lines from
 * standard input and is always offline; it is how the RFC 7208 test suite
 * runs (tests/interop/test_spf_suite.py), one process for all of it:
 *   zone                         forget every record
 *   rr NAME TYPE VALUE           a record; TYPE as for --record, plus
 *                                NODATA (the name exists with no records)
 *                                TIMEOUT (a type it has no records of
 *                                fails as a timeout) and TXTHEX (a TXT
 *                                record in hex: any octet, NUL included)
 *   check IP HELO FROM           prints "RESULT<TAB>EXPLANATION<TAB>
 *                                MECHANISM<TAB>PROBLEM" (FROM may be empty)
 * Only check lines print (one line each, "error<TAB>..." when the check
 * could not run); bad lines are reported on standard error.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tern/spf.h"
#include "tool_dns.h"

#define EXIT_USAGE 64

struct names {
	char **v;
	size_t n;
};

/* A TXT record given in hex (--batch's TXTHEX): any octet, NUL included,
 * which a C string through tool_dns_add() cannot carry. */
struct raw_txt {
	char *name;
	unsigned char *data;
	size_t len;
};

struct tool {
	struct tool_dns *dns;
	const char *server;
	bool offline;
	struct names known;     /* offline: names with fixed records */
	struct names fixed;     /* names given to tool_dns_add() */
	struct names timeouts;  /* names whose missing types time out */
	struct raw_txt *raw;
	size_t n_raw;
	struct tern_dns_rr raw_rrs[16];
	tern_spf_params params;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: tern-spf --ip IP --helo NAME [--from ADDR] [--identity mailfrom|helo|both]\n"
		"                [--receiver NAME] [--now T] [--default-exp TEXT] [--dns ADDR@PORT]\n"
		"                [--record \"NAME TYPE VALUE\"]... [--records FILE] [--offline]\n"
		"       tern-spf --batch [--default-exp TEXT] [--receiver NAME] [--now T]\n");
	exit(EXIT_USAGE);
}

static int names_add(struct names *s, const char *name, size_t len)
{
	char **grown = realloc(s->v, (s->n + 1) * sizeof(*grown));

	if (grown == NULL)
		return -1;
	s->v = grown;
	while (len > 0 && name[len - 1] == '.')
		len--;
	s->v[s->n] = strndup(name, len);
	return s->v[s->n] ? (int)(++s->n, 0) : -1;
}

static bool names_has(const struct names *s, const char *name)
{
	size_t len = strlen(name);

	while (len > 0 && name[len - 1] == '.')
		len--;
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->v[i]) == len && strncasecmp(s->v[i], name, len) == 0)
			return true;
	return false;
}

static void names_free(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "tern-spf: %s: %s\n", what, err);
	exit(EXIT_USAGE);
}

static void open_dns(struct tool *t)
{
	char err[256];

	t->dns = tool_dns_new(t->server, 0, err, sizeof(err));
	if (t->dns == NULL)
		die("DNS", err);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int add_raw(struct tool *t, const char *name, const char *hex, char *err, size_t err_size)
{
	size_t n = strlen(hex) / 2;
	struct raw_txt *grown = realloc(t->raw, (t->n_raw + 1) * sizeof(*grown));
	struct raw_txt *r;

	if (grown == NULL) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	t->raw = grown;
	r = &t->raw[t->n_raw];
	r->name = strdup(name);
	r->data = malloc(n ? n : 1);
	r->len = n;
	if (r->name == NULL || r->data == NULL) {
		free(r->name);
		free(r->data);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	t->n_raw++;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0 || strlen(hex) % 2 != 0) {
			snprintf(err, err_size, "bad hex");
			return -1;
		}
		r->data[i] = (unsigned char)(hi * 16 + lo);
	}
	return 0;
}

static void raw_free(struct tool *t)
{
	for (size_t i = 0; i < t->n_raw; i++) {
		free(t->raw[i].name);
		free(t->raw[i].data);
	}
	free(t->raw);
	t->raw = NULL;
	t->n_raw = 0;
}

/* TXT records given in hex for name into answer; false when none. */
static bool lookup_raw(struct tool *t, const char *name, struct tern_dns_answer *answer)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_raw && n < 16; i++) {
		if (strcasecmp(t->raw[i].name, name) != 0)
			continue;
		t->raw_rrs[n].data = t->raw[i].data;
		t->raw_rrs[n].len = t->raw[i].len;
		t->raw_rrs[n].preference = 0;
		n++;
	}
	if (n == 0)
		return false;
	memset(answer, 0, sizeof(*answer));
	answer->status = TERN_DNS_FOUND;
	answer->rrs = t->raw_rrs;
	answer->count = n;
	return true;
}

/* One record: TYPE as tool_dns_add() takes it, or this tool's NODATA and
 * TIMEOUT. Returns 0 or -1 with err set. */
static int add_record(struct tool *t, const char *name, const char *type, const char *value,
		      char *err, size_t err_size)
{
	if (names_add(&t->known, name, strlen(name)) != 0) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	if (strcasecmp(type, "NODATA") == 0)
		return 0;
	if (strcasecmp(type, "TIMEOUT") == 0)
		return names_add(&t->timeouts, name, strlen(name));
	if (strcasecmp(type, "TXTHEX") == 0)
		return add_raw(t, name, value, err, err_size);
	if (names_add(&t->fixed, name, strlen(name)) != 0) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	return tool_dns_add(t->dns, name, type, value, err, err_size);
}

/* --records FILE: the names the file gives records for (its first
 * words), so that with --offline the others can be NXDOMAIN. */
static void note_file_names(struct tool *t, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096];

	if (f == NULL)
		return;   /* tool_dns_load() says why */
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (names_add(&t->known, p, strcspn(p, " \t\r\n")) != 0 ||
		    names_add(&t->fixed, p, strcspn(p, " \t\r\n")) != 0)
			die(path, "out of memory");
	}
	fclose(f);
}

static void lookup(struct tool *t, const char *name, enum tern_dns_type type,
		   struct tern_dns_answer *answer)
{
	if (t->offline && !names_has(&t->known, name)) {
		memset(answer, 0, sizeof(*answer));
		answer->status = TERN_DNS_NXDOMAIN;
		return;
	}
	if (type == TERN_DNS_TYPE_TXT && lookup_raw(t, name, answer))
		return;
	if (t->offline && !names_has(&t->fixed, name)) {
		memset(answer, 0, sizeof(*answer));
		answer->status = TERN_DNS_NODATA;
	} else {
		tool_dns_lookup(t->dns, name, type, answer);
	}
	if (answer->status == TERN_DNS_NODATA && names_has(&t->timeouts, name))
		answer->status = TERN_DNS_TEMPFAIL;
}

/* Runs one check to its end; the caller destroys *spf_r. */
static int run_check(struct tool *t, tern_spf **spf_r)
{
	const char *name;
	enum tern_dns_type type;
	int rc = tern_spf_new(spf_r, &t->params);

	if (rc != 0)
		return rc;
	while (tern_spf_next(*spf_r, &name, &type) == TERN_SPF_QUERY) {
		struct tern_dns_answer answer;
		lookup(t, name, type, &answer);
		rc = tern_spf_answer(*spf_r, &answer);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static void strip_eol(char *s)
{
	s[strcspn(s, "\r\n")] = '\0';
}

static int batch(struct tool *t)
{
	char *line = NULL;
	size_t cap = 0;
	char err[256];

	t->offline = true;
	open_dns(t);
	while (getline(&line, &cap, stdin) >= 0) {
		char *p = line, *f[4] = { NULL, NULL, NULL, NULL };
		size_t n = 0;

		strip_eol(line);
		while (n < 4 && p != NULL)
			f[n++] = strsep(&p, "\t");
		if (strcmp(f[0], "zone") == 0) {
			tool_dns_free(t->dns);
			names_free(&t->known);
			names_free(&t->fixed);
			names_free(&t->timeouts);
			raw_free(t);
			open_dns(t);
		} else if (strcmp(f[0], "rr") == 0 && n >= 3) {
			/* The value is the rest of the line, tabs and all. */
			const char *value = p ? (p[-1] = '\t', f[3]) : or_empty(f[3]);
			if (add_record(t, f[1], f[2], value, err, sizeof(err)) != 0)
				fprintf(stderr, "tern-spf: %s: %s\n", f[1], err);
		} else if (strcmp(f[0], "check") == 0 && n == 4) {
			tern_spf *spf = NULL;
			t->params.client_ip = f[1];
			t->params.helo = f[2];
			t->params.mail_from = f[3];
			int rc = run_check(t, &spf);
			const struct tern_spf_outcome *o = tern_spf_outcome(spf, TERN_SPF_MAILFROM);
			if (rc != 0 || o == NULL)
				printf("error\t%s\t\t\n", tern_strerror(rc));
			else
				printf("%s\t%s\t%s\t%s\n", tern_spf_result_name(o->result),
				       or_empty(o->explanation), or_empty(o->mechanism),
				       or_empty(o->problem));
			tern_spf_destroy(&spf);
		} else {
			fprintf(stderr, "tern-spf: bad line: %s\n", f[0]);
		}
		fflush(stdout);
	}
	free(line);
	tool_dns_free(t->dns);
	names_free(&t->known);
	names_free(&t->fixed);
	names_free(&t->timeouts);
	raw_free(t);
	return 0;
}

static void print_outcome(const tern_spf *spf, enum tern_spf_identity id)
{
	const struct tern_spf_outcome *o = tern_spf_outcome(spf, id);
	const char *label = id == TERN_SPF_HELO ? "helo" : "mailfrom";
	int n;

	if (o == NULL)
		return;
	printf("%s: %s\n", label, tern_spf_result_name(o->result));
	printf("%s.domain: %s\n", label, o->domain);
	if (o->explanation)
		printf("%s.explanation: %s\n", label, o->explanation);
	if (o->mechanism)
		printf("%s.mechanism: %s\n", label, o->mechanism);
	if (o->problem)
		printf("%s.problem: %s\n", label, o->problem);
	n = tern_spf_received_spf(spf, id, NULL, 0);
	if (n >= 0) {
		char *buf = malloc((size_t)n + 1);
		if (buf != NULL) {
			tern_spf_received_spf(spf, id, buf, (size_t)n + 1);
			printf("%s\n", buf);
			free(buf);
		}
	}
	char ar[1024];
	if (tern_spf_auth_results(spf, id, ar, sizeof(ar)) >= 0)
		printf("Authentication-Results: %s\n", ar);
}

static int exit_status(enum tern_spf_result r)
{
	switch (r) {
	case TERN_SPF_RESULT_PASS: return 0;
	case TERN_SPF_RESULT_FAIL: return 1;
	case TERN_SPF_RESULT_SOFTFAIL: return 2;
	case TERN_SPF_RESULT_NEUTRAL: return 3;
	case TERN_SPF_RESULT_NONE: return 4;
	case TERN_SPF_RESULT_TEMPERROR: return 5;
	default: return 6;
	}
}

int main(int argc, char **argv)
{
	struct tool t;
	const char *records[64];
	const char *files[16];
	size_t n_records = 0, n_files = 0;
	bool batch_mode = false;
	char err[256];

	memset(&t, 0, sizeof(t));
	tern_spf_params_init(&t.params);
	t.params.checks = TERN_SPF_MAILFROM;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--batch") == 0) {
			batch_mode = true;
			continue;
		}
		if (strcmp(a, "--offline") == 0) {
			t.offline = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--ip") == 0)
			t.params.client_ip = v;
		else if (strcmp(a, "--helo") == 0)
			t.params.helo = v;
		else if (strcmp(a, "--from") == 0)
			t.params.mail_from = v;
		else if (strcmp(a, "--receiver") == 0)
			t.params.receiver = v;
		else if (strcmp(a, "--now") == 0)
			t.params.now = (time_t)strtoll(v, NULL, 10);
		else if (strcmp(a, "--default-exp") == 0)
			t.params.default_explanation = v;
		else if (strcmp(a, "--dns") == 0)
			t.server = v;
		else if (strcmp(a, "--record") == 0 && n_records < 64)
			records[n_records++] = v;
		else if (strcmp(a, "--records") == 0 && n_files < 16)
			files[n_files++] = v;
		else if (strcmp(a, "--identity") == 0)
			t.params.checks = strcmp(v, "helo") == 0   ? TERN_SPF_HELO
					  : strcmp(v, "both") == 0 ? TERN_SPF_HELO | TERN_SPF_MAILFROM
								   : TERN_SPF_MAILFROM;
		else
			usage();
	}
	if (batch_mode)
		return batch(&t);
	if (t.params.client_ip == NULL || t.params.helo == NULL)
		usage();
	open_dns(&t);
	for (size_t i = 0; i < n_records; i++) {
		char *copy = strdup(records[i]), *p = copy, *name, *type;
		if (copy == NULL)
			die("--record", "out of memory");
		name = strsep(&p, " ");
		type = p ? strsep(&p, " ") : NULL;
		if (type == NULL || add_record(&t, name, type, p ? p : "", err, sizeof(err)) != 0)
			die(records[i], type ? err : "expected \"NAME TYPE VALUE\"");
		free(copy);
	}
	for (size_t i = 0; i < n_files; i++) {
		if (tool_dns_load(t.dns, files[i], err, sizeof(err)) != 0)
			die(files[i], err);
		note_file_names(&t, files[i]);
	}
	tern_spf *spf = NULL;
	int rc = run_check(&t, &spf);
	if (rc != 0)
		die("check", tern_strerror(rc));
	print_outcome(spf, TERN_SPF_HELO);
	print_outcome(spf, TERN_SPF_MAILFROM);
	const struct tern_spf_outcome *o = tern_spf_outcome(spf, TERN_SPF_MAILFROM);
	if (o == NULL)
		o = tern_spf_outcome(spf, TERN_SPF_HELO);
	int status = exit_status(o->result);
	tern_spf_destroy(&spf);
	tool_dns_free(t.dns);
	names_free(&t.known);
	names_free(&t.fixed);
	names_free(&t.timeouts);
	raw_free(&t);
	return status;
}
