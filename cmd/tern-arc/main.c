/* tern-arc: ARC (RFC 8617) chain verification and sealing from the command
 * line, over libtern's engines (include/tern/arc.h).
 *
 *   tern-arc verify [--dns ADDR@PORT] [--record NAME=TXT]... [--records FILE]
 *                   [--now T] [--oldest-pass] < message
 *   tern-arc seal -d DOMAIN -s SELECTOR -k KEY.pem --authserv-id ID
 *                 [--ar "spf=pass ...; dkim=pass ..."] [--now T]
 *                 [--dns ADDR@PORT] [--record NAME=TXT]... < message > sealed
 *
 * verify prints "arc=RESULT i=N [oldest-pass=K] cv=CV (reason)" and exits 0
 * on pass, 1 on fail or none, 2 on a usage or system error. seal verifies
 * the incoming chain first (its keys through the same DNS options) to get
 * cv=, then writes the new ARC set and the message; it exits 1 when RFC
 * 8617 forbids a new set (50 sets, or a chain already ended by cv=fail). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tern/arc.h"
#include "tool_dns.h"

static _Noreturn void usage(void)
{
	fputs("usage: tern-arc verify [--dns ADDR@PORT] [--record NAME=TXT]... [--records FILE]\n"
	      "                       [--now T] [--oldest-pass] < msg\n"
	      "       tern-arc seal -d DOMAIN -s SELECTOR -k KEY.pem --authserv-id ID\n"
	      "                     [--ar RESULTS] [--now T] [--dns ADDR@PORT]\n"
	      "                     [--record NAME=TXT]... [--records FILE] < msg > sealed\n",
	      stderr);
	exit(2);
}

static _Noreturn void die(const char *what, const char *why)
{
	fprintf(stderr, "tern-arc: %s: %s\n", what, why);
	exit(2);
}

static char *slurp(int fd, size_t *len_r)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);

	if (buf == NULL)
		die("read", "out of memory");
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *p = realloc(buf, cap *= 2);

			if (p == NULL)
				die("read", "out of memory");
			buf = p;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*len_r = len;
	return buf;
}

static time_t parse_time(const char *s)
{
	char *end;
	long long t = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0' || t <= 0)
		die("--now", "not a number of seconds since the epoch");
	return (time_t)t;
}

/* The options both commands share. */
struct common {
	const char *server, *records[64], *files[8];
	size_t nrec, nfiles;
	time_t now;
};

static void dns_option(struct common *c, int opt, const char *arg)
{
	switch (opt) {
	case 'D': c->server = arg; break;
	case 'R':
		if (c->nrec == 64)
			die("--record", "too many");
		c->records[c->nrec++] = arg;
		break;
	case 'F':
		if (c->nfiles == 8)
			die("--records", "too many");
		c->files[c->nfiles++] = arg;
		break;
	case 'N': c->now = parse_time(arg); break;
	default: usage();
	}
}

static struct tool_dns *open_dns(const struct common *c)
{
	struct tool_dns *dns;
	char err[256];

	if ((dns = tool_dns_new(c->server, 0, err, sizeof err)) == NULL)
		die("dns", err);
	for (size_t i = 0; i < c->nrec; i++) {
		const char *eq = strchr(c->records[i], '=');
		char name[300];

		if (eq == NULL || (size_t)(eq - c->records[i]) >= sizeof name)
			die("--record", "expected NAME=TXT");
		snprintf(name, sizeof name, "%.*s", (int)(eq - c->records[i]), c->records[i]);
		if (tool_dns_add(dns, name, "TXT", eq + 1, err, sizeof err) < 0)
			die("--record", err);
	}
	for (size_t i = 0; i < c->nfiles; i++)
		if (tool_dns_load(dns, c->files[i], err, sizeof err) < 0)
			die("--records", err);
	return dns;
}

static void ask(tern_arc_verifier *v, struct tool_dns *dns)
{
	const char *name;

	while (tern_arc_verifier_next_query(v, &name) == 1) {
		struct tern_dns_answer a;

		tool_dns_lookup(dns, name, TERN_DNS_TYPE_TXT, &a);
		if (tern_arc_verifier_key_answer(v, name, &a) < 0)
			die("verify", "out of memory");
	}
}

/* Verifies msg[0..len) (or stdin when msg is NULL, streamed). */
static tern_arc_verifier *verify(const struct common *c, bool oldest_pass, const char *msg,
				 size_t len, const tern_arc_result **res)
{
	tern_arc_verify_options o;
	tern_arc_verifier *v;
	struct tool_dns *dns = open_dns(c);
	char buf[65536];
	int rc;

	tern_arc_verify_options_init(&o);
	o.now = c->now;
	o.oldest_pass = oldest_pass;
	if ((rc = tern_arc_verifier_new(&o, &v)) < 0)
		die("verify", tern_strerror(rc));
	if (msg != NULL) {
		if ((rc = tern_arc_verifier_feed(v, msg, len)) < 0)
			die("verify", tern_strerror(rc));
	} else {
		/* The lookups start as soon as the header block has ended, as
		 * an embedder on an event loop would do them. */
		for (;;) {
			ssize_t r = read(0, buf, sizeof buf);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				die("read", strerror(errno));
			if (r == 0)
				break;
			if ((rc = tern_arc_verifier_feed(v, buf, (size_t)r)) < 0)
				die("verify", tern_strerror(rc));
			ask(v, dns);
		}
	}
	if ((rc = tern_arc_verifier_finish(v)) < 0)
		die("verify", tern_strerror(rc));
	ask(v, dns);
	if ((rc = tern_arc_verifier_result(v, res)) < 0)
		die("verify", tern_strerror(rc));
	tool_dns_free(dns);
	return v;
}

static const struct option dns_longopts[] = {
	{"dns", required_argument, NULL, 'D'},
	{"record", required_argument, NULL, 'R'},
	{"records", required_argument, NULL, 'F'},
	{"now", required_argument, NULL, 'N'},
	{"oldest-pass", no_argument, NULL, 'O'},
	{"authserv-id", required_argument, NULL, 'A'},
	{"ar", required_argument, NULL, 'r'},
	{NULL, 0, NULL, 0},
};

static int cmd_verify(int argc, char **argv)
{
	struct common c = {.now = time(NULL)};
	const tern_arc_result *r;
	tern_arc_verifier *v;
	bool oldest = false;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", dns_longopts, NULL)) != -1) {
		if (opt == 'O')
			oldest = true;
		else if (opt == 'A' || opt == 'r')
			usage();
		else
			dns_option(&c, opt, optarg);
	}
	if (optind != argc)
		usage();
	v = verify(&c, oldest, NULL, 0, &r);
	printf("arc=%s i=%u", tern_arc_status_name(r->status), r->instance);
	if (oldest && r->status == TERN_ARC_PASS)
		printf(" oldest-pass=%u", r->oldest_pass);
	printf(" cv=%s%s (%s)\n", tern_arc_status_name(r->cv), r->sealable ? "" : " [sealing refused]",
	       r->reason);
	rc = r->status == TERN_ARC_PASS ? 0 : 1;
	tern_arc_verifier_free(&v);
	return rc;
}

static int cmd_seal(int argc, char **argv)
{
	struct common c = {.now = time(NULL)};
	const char *keyfile = NULL;
	const tern_arc_result *r;
	tern_arc_seal_options o;
	tern_arc_verifier *v;
	tern_arc_sealer *s;
	tern_dkim_key *key;
	char *pem, *msg, *fields;
	size_t pem_len, msg_len, fields_len;
	int opt, fd, rc;

	tern_arc_seal_options_init(&o);
	while ((opt = getopt_long(argc, argv, "d:s:k:", dns_longopts, NULL)) != -1) {
		switch (opt) {
		case 'd': o.domain = optarg; break;
		case 's': o.selector = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'A': o.authserv_id = optarg; break;
		case 'r': o.results = optarg; break;
		case 'O': usage();
		default: dns_option(&c, opt, optarg);
		}
	}
	if (!o.domain || !o.selector || !keyfile || !o.authserv_id || optind != argc)
		usage();
	fd = open(keyfile, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(keyfile, strerror(errno));
	pem = slurp(fd, &pem_len);
	close(fd);
	if ((rc = tern_dkim_key_from_pem(pem, pem_len, &key)) < 0)
		die(keyfile, rc == TERN_EINVAL ? "not an RSA private key of 1024 bits or more"
					       : tern_strerror(rc));
	free(pem);
	msg = slurp(0, &msg_len);
	v = verify(&c, false, msg, msg_len, &r);
	if (!r->sealable) {
		fprintf(stderr, "tern-arc: seal: refused: %s (arc=%s, i=%u)\n",
			r->instance >= TERN_ARC_MAX_INSTANCE ? "the chain has 50 sets already"
							     : "the chain has ended with cv=fail",
			tern_arc_status_name(r->status), r->instance);
		return 1;
	}
	o.key = key;
	o.cv = r->cv;
	o.now = c.now;
	if ((rc = tern_arc_sealer_new(&o, &s)) < 0)
		die("seal", rc == TERN_EINVAL ? "bad domain, selector, authserv-id or results, or "
						"not an RSA key (ARC seals are rsa-sha256)"
					      : tern_strerror(rc));
	tern_dkim_key_free(&key);
	if ((rc = tern_arc_sealer_feed(s, msg, msg_len)) < 0 ||
	    (rc = tern_arc_sealer_finish(s, &fields, &fields_len)) < 0)
		die("seal", tern_strerror(rc));
	if (fwrite(fields, 1, fields_len, stdout) != fields_len ||
	    fwrite(msg, 1, msg_len, stdout) != msg_len || fflush(stdout) != 0)
		die("write", strerror(errno));
	fprintf(stderr, "tern-arc: sealed i=%u cv=%s\n", r->instance + 1,
		tern_arc_status_name(r->cv));
	free(fields);
	free(msg);
	tern_arc_sealer_free(&s);
	tern_arc_verifier_free(&v);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "seal") == 0)
		return cmd_seal(argc - 1, argv + 1);
	usage();
	return 2;
}
