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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tern/arc.h"
#include "tool_cli.h"

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

/* The options both commands share. */
struct common {
	struct tool_dns_opts dns;
	time_t now;
};

/* --now: the verifier needs a time after the epoch. */
static bool common_option(struct common *c, int opt, const char *arg)
{
	if (opt == 'N') {
		c->now = tool_parse_time(arg, "--now", 1);
		return true;
	}
	return tool_dns_option(&c->dns, opt, arg);
}

static void ask(tern_arc_verifier *v, struct tool_dns *dns)
{
	const char *name;

	while (tern_arc_verifier_next_query(v, &name) == 1) {
		struct tern_dns_answer a;

		tool_dns_lookup(dns, name, TERN_DNS_TYPE_TXT, &a);
		if (tern_arc_verifier_key_answer(v, name, &a) < 0)
			tool_die("verify", "out of memory");
	}
}

/* Verifies msg[0..len) (or stdin when msg is NULL, streamed). */
static tern_arc_verifier *verify(const struct common *c, bool oldest_pass, const char *msg,
				 size_t len, const tern_arc_result **res)
{
	tern_arc_verify_options o;
	tern_arc_verifier *v;
	struct tool_dns *dns = tool_dns_open(&c->dns);
	char buf[65536];
	int rc;

	tern_arc_verify_options_init(&o);
	o.now = c->now;
	o.oldest_pass = oldest_pass;
	if ((rc = tern_arc_verifier_new(&o, &v)) < 0)
		tool_die("verify", tern_strerror(rc));
	if (msg != NULL) {
		if ((rc = tern_arc_verifier_feed(v, msg, len)) < 0)
			tool_die("verify", tern_strerror(rc));
	} else {
		/* The lookups start as soon as the header block has ended, as
		 * an embedder on an event loop would do them. */
		for (;;) {
			ssize_t r = read(0, buf, sizeof buf);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				tool_die("read", strerror(errno));
			if (r == 0)
				break;
			if ((rc = tern_arc_verifier_feed(v, buf, (size_t)r)) < 0)
				tool_die("verify", tern_strerror(rc));
			ask(v, dns);
		}
	}
	if ((rc = tern_arc_verifier_finish(v)) < 0)
		tool_die("verify", tern_strerror(rc));
	ask(v, dns);
	if ((rc = tern_arc_verifier_result(v, res)) < 0)
		tool_die("verify", tern_strerror(rc));
	tool_dns_free(dns);
	return v;
}

static const struct option dns_longopts[] = {
	TOOL_DNS_LONGOPTS,
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
		else if (opt == 'A' || opt == 'r' || !common_option(&c, opt, optarg))
			usage();
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
	int opt, rc;

	tern_arc_seal_options_init(&o);
	while ((opt = getopt_long(argc, argv, "d:s:k:", dns_longopts, NULL)) != -1) {
		switch (opt) {
		case 'd': o.domain = optarg; break;
		case 's': o.selector = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'A': o.authserv_id = optarg; break;
		case 'r': o.results = optarg; break;
		case 'O': usage();
		default:
			if (!common_option(&c, opt, optarg))
				usage();
		}
	}
	if (!o.domain || !o.selector || !keyfile || !o.authserv_id || optind != argc)
		usage();
	pem = tool_slurp_file(keyfile, &pem_len);
	if ((rc = tern_dkim_key_from_pem(pem, pem_len, &key)) < 0)
		tool_die(keyfile, rc == TERN_EINVAL ? "not an RSA private key of 1024 bits or more"
						    : tern_strerror(rc));
	free(pem);
	msg = tool_slurp(0, &msg_len);
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
		tool_die("seal", rc == TERN_EINVAL ? "bad domain, selector, authserv-id or results, "
						     "or not an RSA key (ARC seals are rsa-sha256)"
						   : tern_strerror(rc));
	tern_dkim_key_free(&key);
	if ((rc = tern_arc_sealer_feed(s, msg, msg_len)) < 0 ||
	    (rc = tern_arc_sealer_finish(s, &fields, &fields_len)) < 0)
		tool_die("seal", tern_strerror(rc));
	if (fwrite(fields, 1, fields_len, stdout) != fields_len ||
	    fwrite(msg, 1, msg_len, stdout) != msg_len || fflush(stdout) != 0)
		tool_die("write", strerror(errno));
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
	tool_name = "tern-arc";
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "seal") == 0)
		return cmd_seal(argc - 1, argv + 1);
	usage();
	return 2;
}
