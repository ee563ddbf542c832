/* deliver: send one message with libtern's delivery agent (tern/delivery.h)
 * and print what happened to each recipient. An example for embedders, and
 * the tool the interop tests drive delivery with.
 *
 *   deliver --from a@example.org --to b@example.net [--to ...] < message
 *
 * Options: --relayhost HOST[:PORT] | [HOST]:PORT, --port N (MX delivery),
 * --dns-server ADDR[@PORT], --tls may|none|encrypt|verify, --ca FILE,
 * --helo NAME, --auth USER:PASSWORD, --lmtp, --requiretls, --smtputf8,
 * --body 7bit|8bitmime|binarymime, --notify-success, --timeout MS,
 * --ret full|hdrs, --envid ID, --repeat N (the same message N times at
 * once: connection reuse and concurrency), --max-per-dest N,
 * --dns-trust-anchor FILE, --dane, --mta-sts, --mta-sts-port N,
 * --sts-cache DIR (MTA-STS policies kept across runs, one file per domain:
 * the id, the fetch time and the body; the tern_delivery_sts_store hooks).
 *
 * Output: one line per recipient and message:
 *   RCPT CLASS CODE ENHANCED RELAY TLS=yes|no DSN=relayed|- TEXT
 * (DSN=relayed: NOTIFY=SUCCESS was asked and the next hop lacks DSN, so a
 * "relayed" DSN is due, RFC 3461 4.2.)
 * And on stderr, one line per TLS outcome (docs/dane-mta-sts.md):
 *   tls-outcome: DOMAIN POLICY MX IP RESULT|success [DETAIL]
 * Exit: 0 all delivered, 75 some temporary failure, 69 otherwise. */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/delivery.h"

#define MAX_RCPTS 64

struct run {
	int pending;
	int temp, perm;
};

static void done(const tern_delivery_result *r, size_t n, void *arg)
{
	struct run *run = arg;
	static const char *cls[] = {"sent", "deferred", "bounced"};

	for (size_t i = 0; i < n; i++) {
		printf("%s %s %d %s %s TLS=%s DSN=%s %s\n", r[i].address, cls[r[i].cls], r[i].code,
		       r[i].enhanced[0] ? r[i].enhanced : "-", r[i].relay,
		       r[i].tls[0] ? "yes" : "no", r[i].relayed_without_dsn ? "relayed" : "-",
		       r[i].text);
		run->temp += r[i].cls == TERN_SMTP_CLIENT_TEMPFAIL;
		run->perm += r[i].cls == TERN_SMTP_CLIENT_PERMFAIL;
	}
	fflush(stdout);
	run->pending--;
}

static void on_log(enum tern_smtp_log_level level, const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "deliver: %s%s\n", level == TERN_LOG_ERROR ? "error: " : "", line);
}

static void on_tls_outcome(const tern_delivery_tls_outcome *t, void *arg)
{
	static const char *const policy[] = {"no-policy-found", "tlsa", "sts"};

	(void)arg;
	fprintf(stderr, "tls-outcome: %s %s%s %s %s %s%s%s%s\n", t->domain, policy[t->policy],
		t->sts_testing ? "/testing" : "", t->mx_host[0] ? t->mx_host : "-",
		t->ip[0] ? t->ip : "-", t->result ? t->result : "success",
		t->delivered_anyway ? " delivered-anyway" : "", t->detail[0] ? " " : "", t->detail);
	for (size_t i = 0; i < t->n_policy_strings; i++)
		fprintf(stderr, "tls-outcome-policy: %s\n", t->policy_strings[i]);
	fflush(stderr);
}

static char *read_all(FILE *f, size_t *len_r);

static const char *sts_dir;

/* DIR/DOMAIN: "id\nfetched\n" and the policy body. */
static bool sts_load(const char *domain, char **text, char **id, int64_t *fetched, void *arg)
{
	char path[4096], idbuf[64];
	long long when;
	size_t len;
	FILE *f;

	(void)arg;
	snprintf(path, sizeof(path), "%s/%s", sts_dir, domain);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	if (fscanf(f, "%63s %lld", idbuf, &when) != 2 || fgetc(f) != '\n') {
		fclose(f);
		return false;
	}
	*text = read_all(f, &len);
	fclose(f);
	if (*text == NULL)
		return false;
	(*text)[len] = '\0';
	*id = strdup(idbuf);
	*fetched = (int64_t)when;
	return *id != NULL;
}

static void sts_save(const char *domain, const char *text, const char *id, int64_t fetched,
		     void *arg)
{
	char path[4096];
	FILE *f;

	(void)arg;
	snprintf(path, sizeof(path), "%s/%s", sts_dir, domain);
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fprintf(f, "%s %" PRId64 "\n%s", id, fetched, text);
	fclose(f);
}

static char *read_all(FILE *f, size_t *len_r)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);

	while (buf != NULL) {
		size_t n = fread(buf + len, 1, cap - len, f);

		len += n;
		if (n == 0)
			break;
		if (len + 1 >= cap) {
			char *b = realloc(buf, cap *= 2);

			if (b == NULL) {
				free(buf);
				return NULL;
			}
			buf = b;
		}
	}
	*len_r = len;
	return buf;
}

int main(int argc, char **argv)
{
	tern_delivery_options o;
	tern_smtp_client_message m = {.body = TERN_SMTP_BODY_7BIT};
	tern_smtp_client_rcpt rcpts[MAX_RCPTS];
	struct run run = {0};
	tern_delivery *d = NULL;
	char auth[512] = "";
	int repeat = 1, n = 0;
	size_t len;
	char *msg;

	memset(rcpts, 0, sizeof(rcpts));
	tern_delivery_options_init(&o);
	o.helo_name = "client.test";
	o.on_log = on_log;
	o.on_tls_outcome = on_tls_outcome;
	o.log_level = getenv("DELIVER_DEBUG") ? TERN_LOG_DEBUG : TERN_LOG_INFO;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

#define ARG(name) (strcmp(a, name) == 0 && v != NULL && ++i)
		if (ARG("--from"))
			m.from = v;
		else if (ARG("--to") && n < MAX_RCPTS)
			rcpts[n++].address = v;
		else if (ARG("--relayhost"))
			o.relayhost = v;
		else if (ARG("--port"))
			o.port = (unsigned)atoi(v);
		else if (ARG("--dns-server"))
			o.dns_server = v;
		else if (ARG("--dns-trust-anchor"))
			o.dns_trust_anchor = v;
		else if (ARG("--sts-cache"))
			sts_dir = v;
		else if (ARG("--mta-sts-port"))
			o.mta_sts_port = (unsigned)atoi(v);
		else if (strcmp(a, "--dane") == 0)
			o.dane = true;
		else if (strcmp(a, "--mta-sts") == 0)
			o.mta_sts = true;
		else if (ARG("--ca"))
			o.tls_ca_file = v;
		else if (ARG("--helo"))
			o.helo_name = v;
		else if (ARG("--timeout"))
			o.server_timeout_ms = o.connect_timeout_ms = (unsigned)atoi(v);
		else if (ARG("--repeat"))
			repeat = atoi(v);
		else if (ARG("--max-per-dest"))
			o.max_per_dest = (unsigned)atoi(v);
		else if (ARG("--envid"))
			m.envid = v;
		else if (ARG("--ret"))
			m.ret = strcmp(v, "full") == 0 ? TERN_SMTP_RET_FULL : TERN_SMTP_RET_HDRS;
		else if (ARG("--auth"))
			snprintf(auth, sizeof(auth), "%s", v);
		else if (ARG("--tls"))
			o.tls = strcmp(v, "none") == 0      ? TERN_DELIVERY_TLS_NONE
				: strcmp(v, "encrypt") == 0 ? TERN_DELIVERY_TLS_ENCRYPT
				: strcmp(v, "verify") == 0  ? TERN_DELIVERY_TLS_VERIFY
							    : TERN_DELIVERY_TLS_MAY;
		else if (ARG("--body"))
			m.body = strcmp(v, "8bitmime") == 0	 ? TERN_SMTP_BODY_8BITMIME
				 : strcmp(v, "binarymime") == 0 ? TERN_SMTP_BODY_BINARYMIME
								: TERN_SMTP_BODY_7BIT;
		else if (strcmp(a, "--lmtp") == 0)
			o.lmtp = true;
		else if (strcmp(a, "--requiretls") == 0)
			m.requiretls = true;
		else if (strcmp(a, "--smtputf8") == 0)
			m.smtputf8 = true;
		else if (strcmp(a, "--notify-success") == 0)
			for (int k = 0; k < MAX_RCPTS; k++)
				rcpts[k].notify = TERN_SMTP_NOTIFY_SUCCESS | TERN_SMTP_NOTIFY_FAILURE;
		else {
			fprintf(stderr, "deliver: bad argument '%s' (see the source's header)\n", a);
			return 64;
		}
	}
	if (m.from == NULL || n == 0) {
		fprintf(stderr, "usage: deliver --from ADDR --to ADDR [options] < message\n");
		return 64;
	}
	if (auth[0] != '\0') {
		char *colon = strchr(auth, ':');

		if (colon == NULL) {
			fprintf(stderr, "deliver: --auth USER:PASSWORD\n");
			return 64;
		}
		*colon = '\0';
		o.auth_user = auth;
		o.auth_password = colon + 1;
	}
	tern_delivery_sts_store store = {sts_load, sts_save};
	if (sts_dir != NULL)
		o.sts_store = &store;
	msg = read_all(stdin, &len);
	if (msg == NULL)
		return 71;
	m.rcpts = rcpts;
	m.n_rcpts = (size_t)n;
	m.size = len;

	struct event_base *base = event_base_new();
	if (base == NULL || tern_delivery_new(&d, base, &o) != 0) {
		fprintf(stderr, "deliver: cannot start (bad options?)\n");
		return 64;
	}
	tern_delivery_body body = {.fd = -1, .data = msg, .len = len};
	for (int k = 0; k < repeat; k++) {
		if (tern_delivery_send(d, &m, &body, done, &run, NULL) != 0) {
			fprintf(stderr, "deliver: the message cannot be sent as given\n");
			return 65;
		}
		run.pending++;
	}
	while (run.pending > 0 && event_base_loop(base, EVLOOP_ONCE) == 0)
		;
	/* Idle cached connections get their QUIT before we go. */
	while (tern_delivery_connections(d) > 0 && event_base_loop(base, EVLOOP_ONCE) == 0)
		;
	tern_delivery_free(&d);
	event_base_free(base);
	free(msg);
	return run.perm ? 69 : run.temp ? 75 : 0;
}
