/* tern-dkim: DKIM signing, verification and key generation from the
 * command line, over libtern's engines (include/tern/dkim.h).
 *
 *   tern-dkim sign -d DOMAIN -s SELECTOR -k KEY.pem [-a ALG] [-c HDR/BODY]
 *                  [-t NOW] [-x SECONDS] [-i IDENTITY] [-H NAME:NAME...] [-l]
 *                  < message > signed
 *   tern-dkim verify [--dns ADDR@PORT] [--record NAME=TXT]... [--records FILE]
 *                    [--now T] < message
 *   tern-dkim keygen -a rsa|ed25519 [-b BITS] -o KEY.pem
 *
 * verify prints one line per signature and exits 0 when at least one
 * passed, 1 when none did (or there was none), 2 on a usage or system
 * error. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tern/dkim.h"
#include "tool_cli.h"

static _Noreturn void usage(void)
{
	fputs("usage: tern-dkim sign -d DOMAIN -s SELECTOR -k KEY.pem [-a rsa-sha256|ed25519-sha256]\n"
	      "                      [-c relaxed/relaxed] [-t NOW] [-x SECONDS] [-i IDENTITY]\n"
	      "                      [-H from:to:...] [-l] < msg > signed\n"
	      "       tern-dkim verify [--dns ADDR@PORT] [--record NAME=TXT]... [--records FILE]\n"
	      "                      [--now T] < msg\n"
	      "       tern-dkim keygen -a rsa|ed25519 [-b BITS] -o KEY.pem\n",
	      stderr);
	exit(2);
}

static int parse_canon(const char *s, tern_dkim_sign_options *o)
{
	char h[16] = "", b[16] = "simple";
	const char *slash = strchr(s, '/');

	if (slash) {
		snprintf(h, sizeof h, "%.*s", (int)(slash - s), s);
		snprintf(b, sizeof b, "%s", slash + 1);
	} else {
		snprintf(h, sizeof h, "%s", s);
	}
	if (strcmp(h, "simple") && strcmp(h, "relaxed"))
		return -1;
	if (strcmp(b, "simple") && strcmp(b, "relaxed"))
		return -1;
	o->header_canon = strcmp(h, "relaxed") == 0 ? TERN_DKIM_RELAXED : TERN_DKIM_SIMPLE;
	o->body_canon = strcmp(b, "relaxed") == 0 ? TERN_DKIM_RELAXED : TERN_DKIM_SIMPLE;
	return 0;
}

static int cmd_sign(int argc, char **argv)
{
	const char *keyfile = NULL, *alg = NULL;
	char *headers[128], *hcopy = NULL;
	tern_dkim_sign_options o;
	tern_dkim_signer *s;
	tern_dkim_key *key;
	char *pem, *msg, *field;
	size_t pem_len, msg_len, field_len;
	int c, rc;

	tern_dkim_sign_options_init(&o);
	o.now = time(NULL);
	while ((c = getopt(argc, argv, "d:s:k:a:c:t:x:i:H:l")) != -1) {
		switch (c) {
		case 'd': o.domain = optarg; break;
		case 's': o.selector = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'a': alg = optarg; break;
		case 'c':
			if (parse_canon(optarg, &o) < 0)
				tool_die("-c", "expected simple|relaxed[/simple|relaxed]");
			break;
		case 't': o.now = tool_parse_time(optarg, "time", 0); break;
		case 'x': o.expire = (uint32_t)tool_parse_time(optarg, "time", 0); break;
		case 'i': o.identity = optarg; break;
		case 'l': o.body_length = true; break;
		case 'H': {
			size_t n = 0;

			free(hcopy);
			hcopy = strdup(optarg);
			if (hcopy == NULL)
				tool_die("-H", "out of memory");
			for (char *tok = strtok(hcopy, ":"); tok && n < 127; tok = strtok(NULL, ":"))
				headers[n++] = tok;
			headers[n] = NULL;
			o.headers = (const char *const *)headers;
			break;
		}
		default: usage();
		}
	}
	if (!o.domain || !o.selector || !keyfile || optind != argc)
		usage();
	pem = tool_slurp_file(keyfile, &pem_len);
	if ((rc = tern_dkim_key_from_pem(pem, pem_len, &key)) < 0)
		tool_die(keyfile, rc == TERN_EINVAL
					  ? "not an RSA (1024 bits or more) or Ed25519 private key"
					  : tern_strerror(rc));
	free(pem);
	if (alg && strcmp(alg, tern_dkim_key_algorithm(key) == TERN_DKIM_RSA_SHA256
				       ? "rsa-sha256" : "ed25519-sha256") != 0)
		tool_die("-a", "does not match the key's type");
	o.key = key;
	if ((rc = tern_dkim_signer_new(&o, &s)) < 0)
		tool_die("sign", rc == TERN_EINVAL ? "bad domain, selector, identity or header name"
						   : tern_strerror(rc));
	tern_dkim_key_free(&key);
	msg = tool_slurp(0, &msg_len);
	if ((rc = tern_dkim_signer_feed(s, msg, msg_len)) < 0 ||
	    (rc = tern_dkim_signer_finish(s, &field, &field_len)) < 0)
		tool_die("sign", tern_strerror(rc));
	if (fwrite(field, 1, field_len, stdout) != field_len ||
	    fwrite(msg, 1, msg_len, stdout) != msg_len || fflush(stdout) != 0)
		tool_die("write", strerror(errno));
	free(field);
	free(msg);
	free(hcopy);
	tern_dkim_signer_free(&s);
	return 0;
}

static void ask(tern_dkim_verifier *v, struct tool_dns *dns)
{
	const char *name;

	while (tern_dkim_verifier_next_query(v, &name) == 1) {
		struct tern_dns_answer a;

		tool_dns_lookup(dns, name, TERN_DNS_TYPE_TXT, &a);
		if (tern_dkim_verifier_key_answer(v, name, &a) < 0)
			tool_die("verify", "out of memory");
	}
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		TOOL_DNS_LONGOPTS,
		{"now", required_argument, NULL, 'N'},
		{NULL, 0, NULL, 0},
	};
	struct tool_dns_opts dopts = {.server = NULL};
	size_t n;
	tern_dkim_verify_options o;
	tern_dkim_verifier *v;
	const tern_dkim_result *res;
	struct tool_dns *dns;
	char buf[65536];
	int c, rc, passed = 0;

	tern_dkim_verify_options_init(&o);
	o.now = time(NULL);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'N')
			o.now = tool_parse_time(optarg, "time", 0);
		else if (!tool_dns_option(&dopts, c, optarg))
			usage();
	}
	if (optind != argc)
		usage();
	dns = tool_dns_open(&dopts);
	if ((rc = tern_dkim_verifier_new(&o, &v)) < 0)
		tool_die("verify", tern_strerror(rc));
	/* The message streams through; the key lookups happen as soon as the
	 * header block has ended, as an embedder on an event loop would. */
	for (;;) {
		ssize_t r = read(0, buf, sizeof buf);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			tool_die("read", strerror(errno));
		if (r == 0)
			break;
		if ((rc = tern_dkim_verifier_feed(v, buf, (size_t)r)) < 0)
			tool_die("verify", tern_strerror(rc));
		ask(v, dns);
	}
	if ((rc = tern_dkim_verifier_finish(v)) < 0)
		tool_die("verify", tern_strerror(rc));
	ask(v, dns);
	if ((rc = tern_dkim_verifier_results(v, &res, &n)) < 0)
		tool_die("verify", tern_strerror(rc));
	if (n == 0)
		printf("none (no signature)\n");
	for (size_t i = 0; i < n; i++) {
		const tern_dkim_result *r = &res[i];

		printf("%s d=%s s=%s a=%s b=%.12s%s (%s)\n", tern_dkim_result_name(r->status),
		       r->domain ? r->domain : "-", r->selector ? r->selector : "-",
		       r->algorithm ? r->algorithm : "-", r->b ? r->b : "-",
		       r->unsigned_content ? " [content after l=]" : "", r->reason);
		passed |= r->status == TERN_DKIM_PASS;
	}
	tern_dkim_verifier_free(&v);
	tool_dns_free(dns);
	return passed ? 0 : 1;
}

static int cmd_keygen(int argc, char **argv)
{
	const char *alg = NULL, *out = NULL;
	unsigned bits = 0;
	tern_dkim_key *key;
	char *pem, *txt;
	int c, fd, rc;

	while ((c = getopt(argc, argv, "a:b:o:")) != -1) {
		switch (c) {
		case 'a': alg = optarg; break;
		case 'b': bits = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o': out = optarg; break;
		default: usage();
		}
	}
	if (!alg || !out || optind != argc)
		usage();
	if (strcmp(alg, "rsa") == 0 || strcmp(alg, "rsa-sha256") == 0)
		rc = tern_dkim_key_generate(TERN_DKIM_RSA_SHA256, bits, &key);
	else if (strcmp(alg, "ed25519") == 0 || strcmp(alg, "ed25519-sha256") == 0)
		rc = tern_dkim_key_generate(TERN_DKIM_ED25519_SHA256, 0, &key);
	else
		usage();
	if (rc < 0)
		tool_die("keygen",
			 rc == TERN_EINVAL ? "RSA keys are 1024 to 8192 bits" : tern_strerror(rc));
	if (tern_dkim_key_to_pem(key, &pem) < 0 || tern_dkim_key_dns_record(key, &txt) < 0)
		tool_die("keygen", "out of memory");
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		tool_die(out, strerror(errno));
	if (write(fd, pem, strlen(pem)) != (ssize_t)strlen(pem) || close(fd) != 0)
		tool_die(out, strerror(errno));
	printf("%s\n", txt);
	free(pem);
	free(txt);
	tern_dkim_key_free(&key);
	return 0;
}

int main(int argc, char **argv)
{
	tool_name = "tern-dkim";
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	usage();
	return 2;
}
