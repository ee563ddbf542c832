/* Tests of ternd's configuration parsing (cmd/ternd/config.c): defaults,
 * every flag, the config file and command-line overrides, and errors. The
 * parser is compiled into this test directly: it is part of ternd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../cmd/ternd/config.c"
#include "../../cmd/ternd/config_outbound.c"
#include "../../cmd/ternd/config_checks.c"
#include "../../cmd/ternd/config_domain.c"

#include <unistd.h>

#define MAX_ARGS 96

/* Parses a NULL-terminated list of arguments (argv[0] is added). */
static int parse_args(struct ternd_config *cfg, char *err, size_t errlen, ...)
{
	char *argv[MAX_ARGS + 1] = {"ternd"};
	int argc = 1;
	va_list ap;
	va_start(ap, errlen);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL) {
		assert_true(argc < MAX_ARGS);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	argv[argc] = NULL;
	ternd_config_init(cfg);
	return ternd_config_parse(cfg, argc, argv, err, errlen);
}

#define PARSE(cfg, ...) parse_args(cfg, err, sizeof(err), __VA_ARGS__, (const char *)NULL)

static void test_defaults(void **state)
{
	(void)state;
	struct ternd_config cfg;
	char err[256];
	char *argv[] = {"ternd", NULL};
	ternd_config_init(&cfg);
	assert_int_equal(ternd_config_parse(&cfg, 1, argv, err, sizeof(err)), TERND_EX_OK);
	assert_int_equal(cfg.listen_count, 1);
	assert_string_equal(cfg.listen[0], "127.0.0.1:2525");
	assert_string_equal(cfg.maildir, "./mail");
	assert_null(cfg.hostname);
	assert_null(cfg.banner);
	assert_null(cfg.config_file);
	assert_false(cfg.max_size_set);
	assert_int_equal(cfg.max_recipients, 0);
	assert_int_equal(cfg.max_clients, 0);
	assert_int_equal(cfg.idle_timeout, 0);
	assert_int_equal(cfg.workers, TERND_WORKERS_AUTO);
	assert_true(ternd_config_workers(&cfg) >= 1);
	assert_int_equal(cfg.log_level, TERN_LOG_INFO);
	assert_int_equal(cfg.bare_newline, TERN_SMTP_BARE_NEWLINE_NORMALIZE);
	assert_false(cfg.lmtp);
	assert_false(cfg.discard);
	assert_false(cfg.no_received_header);
	assert_false(cfg.help);
	assert_false(cfg.version);
	assert_false(cfg.check_config);
	assert_int_equal(cfg.tls_cert_count, 0);
	assert_int_equal(cfg.tls_key_count, 0);
	assert_int_equal(cfg.tls_listen_count, 0);
	assert_int_equal(cfg.submission_count, 0);
	assert_int_equal(cfg.tls_min_version, TERND_TLS_1_2);
	assert_null(cfg.tls_ciphers);
	assert_null(cfg.tls_ciphersuites);
	assert_string_equal(cfg.state_dir, "./ternd-state");
	assert_null(cfg.users_file);
	assert_int_equal(cfg.auth_methods, TERND_AUTH_PLAIN | TERND_AUTH_LOGIN |
						   TERND_AUTH_SCRAM_SHA_256 |
						   TERND_AUTH_SCRAM_SHA_256_PLUS);
	assert_false(cfg.allow_insecure_auth);
	assert_false(cfg.require_auth);
	assert_false(cfg.require_tls);
	assert_int_equal(cfg.max_auth_failures, 3);
	assert_int_equal(cfg.hash_threads, 2);
	ternd_config_free(&cfg);
}

static void test_tls_and_auth_flags(void **state)
{
	(void)state;
	struct ternd_config cfg;
	char err[256];
	assert_int_equal(PARSE(&cfg, "--tls-cert", "/etc/a.crt", "--tls-key", "/etc/a.key",
			       "--tls-cert=/etc/b.crt", "--tls-key=/etc/b.key", "--tls-listen",
			       "0.0.0.0:465", "--tls-listen", "[::]:465", "--submission", ":587",
			       "--users", "/etc/ternd/users", "--auth-methods",
			       "plain, Login,SCRAM-SHA-256-PLUS ,cram-md5", "--allow-insecure-auth",
			       "--require-auth", "--require-tls", "--tls-min-version", "1.3",
			       "--tls-ciphers", "ECDHE+AESGCM:!aNULL", "--tls-ciphersuites",
			       "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256", "--state-dir",
			       "/var/lib/ternd", "--max-auth-failures", "5", "--hash-threads", "8"),
			 TERND_EX_OK);
	assert_int_equal(cfg.tls_cert_count, 2);
	assert_int_equal(cfg.tls_key_count, 2);
	assert_string_equal(cfg.tls_cert[0], "/etc/a.crt");
	assert_string_equal(cfg.tls_key[0], "/etc/a.key");
	assert_string_equal(cfg.tls_cert[1], "/etc/b.crt");
	assert_string_equal(cfg.tls_key[1], "/etc/b.key");
	assert_int_equal(cfg.tls_listen_count, 2);
	assert_string_equal(cfg.tls_listen[0], "0.0.0.0:465");
	assert_string_equal(cfg.tls_listen[1], "[::]:465");
	assert_int_equal(cfg.submission_count, 1);
	assert_string_equal(cfg.submission[0], ":587");
	/* Only TLS and submission listeners named: no default plain one. */
	assert_int_equal(cfg.listen_count, 0);
	assert_string_equal(cfg.users_file, "/etc/ternd/users");
	assert_int_equal(cfg.auth_methods, TERND_AUTH_PLAIN | TERND_AUTH_LOGIN |
						   TERND_AUTH_SCRAM_SHA_256_PLUS | TERND_AUTH_CRAM_MD5);
	assert_true(cfg.allow_insecure_auth);
	assert_true(cfg.require_auth);
	assert_true(cfg.require_tls);
	assert_int_equal(cfg.tls_min_version, TERND_TLS_1_3);
	assert_string_equal(cfg.tls_ciphers, "ECDHE+AESGCM:!aNULL");
	assert_string_equal(cfg.tls_ciphersuites,
			    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
	assert_string_equal(cfg.state_dir, "/var/lib/ternd");
	assert_int_equal(cfg.max_auth_failures, 5);
	assert_int_equal(cfg.hash_threads, 8);
	ternd_config_free(&cfg);

	/* Every method, by name, in any case. */
	static const struct {
		const char *name;
		unsigned bit;
	} methods[] = {
		{"PLAIN", TERND_AUTH_PLAIN},
		{"login", TERND_AUTH_LOGIN},
		{"Cram-Md5", TERND_AUTH_CRAM_MD5},
		{"scram-sha-256", TERND_AUTH_SCRAM_SHA_256},
		{"SCRAM-SHA-256-PLUS", TERND_AUTH_SCRAM_SHA_256_PLUS},
		{"xoauth2", TERND_AUTH_XOAUTH2},
		{"OAUTHBEARER", TERND_AUTH_OAUTHBEARER},
		{"external", TERND_AUTH_EXTERNAL},
	};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--auth-methods", methods[i].name), TERND_EX_OK);
		assert_int_equal(cfg.auth_methods, methods[i].bit);
		assert_non_null(ternd_auth_method_name(methods[i].bit));
		assert_int_equal(strcasecmp(ternd_auth_method_name(methods[i].bit), methods[i].name),
				 0);
		ternd_config_free(&cfg);
	}
	assert_null(ternd_auth_method_name(0));
	assert_null(ternd_auth_method_name(3));

	/* A plain listener given with the others stays; without any listener
	 * at all the default one comes back. */
	assert_int_equal(PARSE(&cfg, "--submission", ":587", "--listen", ":25"), TERND_EX_OK);
	assert_int_equal(cfg.listen_count, 1);
	assert_string_equal(cfg.listen[0], ":25");
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--users", "u"), TERND_EX_OK);
	assert_int_equal(cfg.listen_count, 1);
	assert_string_equal(cfg.listen[0], "127.0.0.1:2525");
	ternd_config_free(&cfg);

	/* Booleans take =no, and 1.2 is accepted. */
	assert_int_equal(PARSE(&cfg, "--require-auth=no", "--require-tls=off",
			       "--allow-insecure-auth=0", "--tls-min-version=1.2"),
			 TERND_EX_OK);
	assert_false(cfg.require_auth);
	assert_false(cfg.require_tls);
	assert_false(cfg.allow_insecure_auth);
	assert_int_equal(cfg.tls_min_version, TERND_TLS_1_2);
	ternd_config_free(&cfg);
}

/* Certificates and keys are pairs: the counts must match, wherever they come
 * from, and a command-line --tls-cert or --tls-key replaces the file's pairs. */
static void test_tls_pairs(void **state)
{
	(void)state;
	struct ternd_config cfg;
	char err[256];
	assert_int_equal(PARSE(&cfg, "--tls-cert", "a.crt"), TERND_EX_USAGE);
	assert_non_null(strstr(err, "--tls-cert and --tls-key go in pairs: 1 certificate but 0 keys"));
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--tls-key", "a.key"), TERND_EX_USAGE);
	assert_non_null(strstr(err, "0 certificates but 1 key"));
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--tls-cert", "a.crt", "--tls-key", "a.key", "--tls-cert",
			       "b.crt"),
			 TERND_EX_USAGE);
	assert_non_null(strstr(err, "2 certificates but 1 key"));
	ternd_config_free(&cfg);
	/* Order between the two flags does not matter, only the positions. */
	assert_int_equal(PARSE(&cfg, "--tls-key", "a.key", "--tls-key", "b.key", "--tls-cert",
			       "a.crt", "--tls-cert", "b.crt"),
			 TERND_EX_OK);
	assert_string_equal(cfg.tls_key[1], "b.key");
	assert_string_equal(cfg.tls_cert[1], "b.crt");
	ternd_config_free(&cfg);

	char path[] = "/tmp/ternd-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("tls-cert = file.crt\ntls-key = file.key\ntls-listen = :465\n"
	      "submission = :587\nsubmission = :2587\n",
	      f);
	fclose(f);
	assert_int_equal(PARSE(&cfg, "--config", path), TERND_EX_OK);
	assert_int_equal(cfg.tls_cert_count, 1);
	assert_string_equal(cfg.tls_key[0], "file.key");
	assert_int_equal(cfg.submission_count, 2);
	assert_int_equal(cfg.listen_count, 0);
	ternd_config_free(&cfg);
	/* A key alone on the command line replaces both of the file's lists,
	 * so it is a pair mismatch, not a key for the file's certificate. */
	assert_int_equal(PARSE(&cfg, "--config", path, "--tls-key", "cli.key"), TERND_EX_USAGE);
	assert_non_null(strstr(err, "0 certificates but 1 key"));
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--config", path, "--tls-key", "cli.key", "--tls-cert",
			       "cli.crt", "--submission", ":10587"),
			 TERND_EX_OK);
	assert_int_equal(cfg.tls_cert_count, 1);
	assert_string_equal(cfg.tls_cert[0], "cli.crt");
	assert_string_equal(cfg.tls_key[0], "cli.key");
	assert_int_equal(cfg.submission_count, 1);
	assert_string_equal(cfg.submission[0], ":10587");
	assert_int_equal(cfg.tls_listen_count, 1);
	ternd_config_free(&cfg);
	unlink(path);
}

static void test_each_flag(void **state)
{
	(void)state;
	struct ternd_config cfg;
	char err[256];
	assert_int_equal(PARSE(&cfg, "--listen", "127.0.0.1:25", "--listen", "[::1]:2525",
			       "--listen=:2526", "--maildir", "/var/mail/tern", "--hostname",
			       "mx.example.org", "--max-size", "1048576", "--max-recipients", "50",
			       "--lmtp", "--idle-timeout", "60", "--max-clients", "500", "--workers",
			       "4", "--discard", "--log-level", "debug", "--max-line-length", "4096",
			       "--bare-newline", "reject", "--no-received-header", "--banner",
			       "Tern here", "--check-config"),
			 TERND_EX_OK);
	assert_int_equal(cfg.listen_count, 3);
	assert_string_equal(cfg.listen[0], "127.0.0.1:25");
	assert_string_equal(cfg.listen[1], "[::1]:2525");
	assert_string_equal(cfg.listen[2], ":2526");
	assert_string_equal(cfg.maildir, "/var/mail/tern");
	assert_string_equal(cfg.hostname, "mx.example.org");
	assert_true(cfg.max_size_set);
	assert_int_equal(cfg.max_size, 1048576);
	assert_int_equal(cfg.max_recipients, 50);
	assert_true(cfg.lmtp);
	assert_int_equal(cfg.idle_timeout, 60);
	assert_int_equal(cfg.max_clients, 500);
	assert_int_equal(cfg.workers, 4);
	assert_true(cfg.discard);
	assert_int_equal(cfg.log_level, TERN_LOG_DEBUG);
	assert_int_equal(cfg.max_line_length, 4096);
	assert_int_equal(cfg.bare_newline, TERN_SMTP_BARE_NEWLINE_REJECT);
	assert_true(cfg.no_received_header);
	assert_string_equal(cfg.banner, "Tern here");
	assert_true(cfg.check_config);
	ternd_config_free(&cfg);

	assert_int_equal(PARSE(&cfg, "--max-data-line-length=2000", "--max-bad-commands=3",
			       "--data-timeout=120", "--close-timeout", "5", "--log-level=WARNING",
			       "--bare-newline=normalize", "--lmtp=no", "--discard=yes"),
			 TERND_EX_OK);
	assert_int_equal(cfg.max_data_line_length, 2000);
	assert_int_equal(cfg.max_bad_commands, 3);
	assert_int_equal(cfg.data_timeout, 120);
	assert_int_equal(cfg.close_timeout, 5);
	assert_int_equal(cfg.log_level, TERN_LOG_WARNING);
	assert_int_equal(cfg.bare_newline, TERN_SMTP_BARE_NEWLINE_NORMALIZE);
	assert_false(cfg.lmtp);
	assert_true(cfg.discard);
	ternd_config_free(&cfg);

	/* The last of a single-valued flag wins. */
	assert_int_equal(PARSE(&cfg, "--workers", "2", "--workers", "3"), TERND_EX_OK);
	assert_int_equal(cfg.workers, 3);
	ternd_config_free(&cfg);
}

static void test_sizes_and_levels(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		uint64_t out;
	} sizes[] = {
		{"0", 0}, {"1", 1}, {"10K", 10240}, {"10k", 10240}, {"25M", 25u << 20},
		{"2G", 2ull << 30}, {"18446744073709551615", UINT64_MAX},
	};
	struct ternd_config cfg;
	char err[256];
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--max-size", sizes[i].in), TERND_EX_OK);
		assert_true(cfg.max_size_set);
		assert_true(cfg.max_size == sizes[i].out);
		ternd_config_free(&cfg);
	}
	static const char *const levels[] = {"error", "warning", "info", "debug"};
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(PARSE(&cfg, "--log-level", levels[i]), TERND_EX_OK);
		assert_int_equal(cfg.log_level, i);
		assert_string_equal(ternd_log_level_name(cfg.log_level), levels[i]);
		ternd_config_free(&cfg);
	}
}

static void test_actions(void **state)
{
	(void)state;
	struct ternd_config cfg;
	char err[256];
	assert_int_equal(PARSE(&cfg, "--help"), TERND_EX_OK);
	assert_true(cfg.help);
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "-h"), TERND_EX_OK);
	assert_true(cfg.help);
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--version"), TERND_EX_OK);
	assert_true(cfg.version);
	ternd_config_free(&cfg);
	/* --help wins even over a bad value and a missing config file. */
	assert_int_equal(PARSE(&cfg, "--config", "/nonexistent/x", "--help"), TERND_EX_OK);
	assert_true(cfg.help);
	ternd_config_free(&cfg);
}

struct bad_case {
	const char *args[4];
	int rc;
	const char *msg; /* substring of the message */
};

static const struct bad_case bad_cases[] = {
	{{"--frobnicate"}, TERND_EX_USAGE, "unknown flag '--frobnicate'"},
	{{"--max_size", "1"}, TERND_EX_USAGE, "unknown flag"},
	{{"-x"}, TERND_EX_USAGE, "unexpected argument"},
	{{"stray"}, TERND_EX_USAGE, "unexpected argument 'stray'"},
	{{"--"}, TERND_EX_USAGE, "unexpected argument"},
	{{"--listen"}, TERND_EX_USAGE, "needs a value"},
	{{"--listen", "localhost"}, TERND_EX_USAGE, "not ADDR:PORT"},
	{{"--listen", "[::1]"}, TERND_EX_USAGE, "IPv6"},
	{{"--listen", "1.2.3.4:99999"}, TERND_EX_USAGE, "bad port"},
	{{"--listen", "1.2.3.4:"}, TERND_EX_USAGE, "bad port"},
	{{"--maildir", ""}, TERND_EX_USAGE, "empty"},
	{{"--hostname", "a b"}, TERND_EX_USAGE, "blank"},
	{{"--hostname", ""}, TERND_EX_USAGE, "1..255"},
	{{"--banner", "a\rb"}, TERND_EX_USAGE, "control"},
	{{"--max-size", "ten"}, TERND_EX_USAGE, "not a size"},
	{{"--max-size", "-1"}, TERND_EX_USAGE, "not a size"},
	{{"--max-size", "5T"}, TERND_EX_USAGE, "not a size"},
	{{"--max-size", "18446744073709551616"}, TERND_EX_USAGE, "too big"},
	{{"--max-size", "17179869184G"}, TERND_EX_USAGE, "too big"},
	{{"--max-size", ""}, TERND_EX_USAGE, "not a size"},
	{{"--max-recipients", "0"}, TERND_EX_USAGE, "out of range"},
	{{"--max-recipients", "1e3"}, TERND_EX_USAGE, "not a number"},
	{{"--max-clients", "-5"}, TERND_EX_USAGE, "not a number"},
	{{"--workers", "0"}, TERND_EX_USAGE, "out of range"},
	{{"--workers", "5000"}, TERND_EX_USAGE, "out of range"},
	{{"--workers", " 2"}, TERND_EX_USAGE, "not a number"},
	{{"--idle-timeout", "0"}, TERND_EX_USAGE, "out of range"},
	{{"--idle-timeout", "99999999999"}, TERND_EX_USAGE, "out of range"},
	{{"--max-line-length", "100"}, TERND_EX_USAGE, "out of range"},
	{{"--max-data-line-length", "999"}, TERND_EX_USAGE, "out of range"},
	{{"--log-level", "verbose"}, TERND_EX_USAGE, "not error, warning, info or debug"},
	{{"--bare-newline", "keep"}, TERND_EX_USAGE, "not normalize or reject"},
	{{"--lmtp=maybe"}, TERND_EX_USAGE, "takes no value"},
	{{"--help=yes"}, TERND_EX_USAGE, "takes no value"},
	{{"--tls-cert", ""}, TERND_EX_USAGE, "--tls-cert: empty path"},
	{{"--tls-key", ""}, TERND_EX_USAGE, "--tls-key: empty path"},
	{{"--tls-cert"}, TERND_EX_USAGE, "--tls-cert needs a value"},
	{{"--tls-listen", "465"}, TERND_EX_USAGE, "--tls-listen: '465' is not ADDR:PORT"},
	{{"--tls-listen", "[::1]"}, TERND_EX_USAGE, "IPv6"},
	{{"--submission", "1.2.3.4:587x"}, TERND_EX_USAGE, "--submission: '1.2.3.4:587x': bad port"},
	{{"--submission", ""}, TERND_EX_USAGE, "--submission"},
	{{"--users", ""}, TERND_EX_USAGE, "--users: empty path"},
	{{"--users"}, TERND_EX_USAGE, "--users needs a value"},
	{{"--state-dir", ""}, TERND_EX_USAGE, "--state-dir: empty path"},
	{{"--auth-methods", "PLAIN,DIGEST-MD5"}, TERND_EX_USAGE,
	 "--auth-methods: unknown method 'DIGEST-MD5'"},
	{{"--auth-methods", ""}, TERND_EX_USAGE, "--auth-methods: '': empty method name"},
	{{"--auth-methods", "PLAIN,,LOGIN"}, TERND_EX_USAGE, "empty method name"},
	{{"--auth-methods", "PLAIN,"}, TERND_EX_USAGE, "empty method name"},
	{{"--auth-methods", "PLAIN,plain"}, TERND_EX_USAGE, "'PLAIN' is listed twice"},
	{{"--auth-methods", "SCRAM-SHA-256-"}, TERND_EX_USAGE, "unknown method"},
	{{"--auth-methods", "SCRAM"}, TERND_EX_USAGE, "unknown method 'SCRAM'"},
	{{"--tls-min-version", "1.1"}, TERND_EX_USAGE, "--tls-min-version: '1.1' is not 1.2 or 1.3"},
	{{"--tls-min-version", "TLSv1.2"}, TERND_EX_USAGE, "not 1.2 or 1.3"},
	{{"--tls-ciphers", ""}, TERND_EX_USAGE, "--tls-ciphers: empty list"},
	{{"--tls-ciphers", "A B"}, TERND_EX_USAGE, "blank or control"},
	{{"--tls-ciphersuites", "X\tY"}, TERND_EX_USAGE, "--tls-ciphersuites"},
	{{"--max-auth-failures", "0"}, TERND_EX_USAGE, "--max-auth-failures: '0' is out of range"},
	{{"--max-auth-failures", "x"}, TERND_EX_USAGE, "not a number"},
	{{"--hash-threads", "0"}, TERND_EX_USAGE, "--hash-threads: '0' is out of range (1..64)"},
	{{"--hash-threads", "65"}, TERND_EX_USAGE, "out of range"},
	{{"--require-auth=perhaps"}, TERND_EX_USAGE, "takes no value"},
	{{"--config", "/nonexistent/ternd.conf"}, TERND_EX_NOINPUT, "cannot read"},
	{{"--config"}, TERND_EX_USAGE, "needs a value"},
};

static void test_bad_flags(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		char *argv[6] = {"ternd"};
		int argc = 1;
		for (int k = 0; k < 4 && c->args[k] != NULL; k++)
			argv[argc++] = (char *)c->args[k];
		struct ternd_config cfg;
		char err[256] = "";
		ternd_config_init(&cfg);
		int rc = ternd_config_parse(&cfg, argc, argv, err, sizeof(err));
		if (rc != c->rc || strstr(err, c->msg) == NULL)
			fail_msg("case %zu (%s): rc %d '%s', want %d '%s'", i, c->args[0], rc, err,
				 c->rc, c->msg);
		ternd_config_free(&cfg);
	}
}

/* ---- config file ------------------------------------------------------ */

static void test_file_text(void **state)
{
	(void)state;
	struct ternd_config cfg;
	char err[256];
	const char *text = "# ternd.conf\n"
			   "\n"
			   "listen = 127.0.0.1:2525\n"
			   "  listen=[::1]:2525   # loopback v6\n"
			   "maildir = /srv/mail # where\n"
			   "hostname\t=\tmx.example.org\r\n"
			   "banner = \"Tern # mail  \"  # quoted keeps '#' and blanks\n"
			   "max-size = 10M\n"
			   "max_recipients = 20\n"
			   "lmtp = yes\n"
			   "discard = off\n"
			   "no-received-header = TRUE\n"
			   "idle-timeout = 30\n"
			   "max-clients = 7\n"
			   "workers = 2\n"
			   "log-level = warning\n"
			   "bare-newline = reject\n"
			   "max-line-length = 1024\n"
			   "tls_cert = /etc/ssl/mx.pem\n"
			   "tls-key = /etc/ssl/mx.key\n"
			   "auth-methods = \"PLAIN, SCRAM-SHA-256\"\n"
			   "require-auth = yes\n"
			   "state-dir = /var/lib/ternd # generated certificate\n"
			   "maildir = /srv/mail2"; /* no final newline; later wins */
	ternd_config_init(&cfg);
	assert_int_equal(ternd_config_parse_text(&cfg, text, "t.conf", err, sizeof(err)),
			 TERND_EX_OK);
	assert_int_equal(cfg.listen_count, 2);
	assert_string_equal(cfg.listen[0], "127.0.0.1:2525");
	assert_string_equal(cfg.listen[1], "[::1]:2525");
	assert_string_equal(cfg.maildir, "/srv/mail2");
	assert_string_equal(cfg.hostname, "mx.example.org");
	assert_string_equal(cfg.banner, "Tern # mail  ");
	assert_int_equal(cfg.max_size, 10u << 20);
	assert_int_equal(cfg.max_recipients, 20);
	assert_true(cfg.lmtp);
	assert_false(cfg.discard);
	assert_true(cfg.no_received_header);
	assert_int_equal(cfg.idle_timeout, 30);
	assert_int_equal(cfg.max_clients, 7);
	assert_int_equal(cfg.workers, 2);
	assert_int_equal(cfg.log_level, TERN_LOG_WARNING);
	assert_int_equal(cfg.bare_newline, TERN_SMTP_BARE_NEWLINE_REJECT);
	assert_int_equal(cfg.max_line_length, 1024);
	assert_int_equal(cfg.tls_cert_count, 1);
	assert_string_equal(cfg.tls_cert[0], "/etc/ssl/mx.pem");
	assert_string_equal(cfg.tls_key[0], "/etc/ssl/mx.key");
	assert_int_equal(cfg.auth_methods, TERND_AUTH_PLAIN | TERND_AUTH_SCRAM_SHA_256);
	assert_true(cfg.require_auth);
	assert_string_equal(cfg.state_dir, "/var/lib/ternd");
	ternd_config_free(&cfg);
}

static const struct {
	const char *text;
	const char *msg;
} bad_files[] = {
	{"listen 127.0.0.1:25\n", "t.conf:1: expected 'key = value'"},
	{"\n\nfoo = bar\n", "t.conf:3: unknown key 'foo'"},
	{"workers = many\n", "t.conf:1: --workers: 'many' is not a number"},
	{"lmtp = maybe\n", "t.conf:1: lmtp: 'maybe' is not yes or no"},
	{"lmtp =\n", "not yes or no"},
	{"config = other.conf\n", "command-line flag only"},
	{"help = yes\n", "command-line flag only"},
	{"check-config = yes\n", "command-line flag only"},
	{"banner = \"open\n", "unterminated quote"},
	{"banner = \"a\" b\n", "text after the closing quote"},
	{"maildir =\n", "empty path"},
	{"log-level = loud\n", "t.conf:1: --log-level"},
	{"auth-methods = PLAIN\nauth-methods = NTLM\n", "t.conf:2: --auth-methods: unknown method"},
	{"require-tls = sometimes\n", "t.conf:1: require-tls: 'sometimes' is not yes or no"},
	{"hash-threads = 100\n", "t.conf:1: --hash-threads"},
	{"tls-listen = nowhere\n", "t.conf:1: --tls-listen"},
};

static void test_file_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		struct ternd_config cfg;
		char err[256] = "";
		ternd_config_init(&cfg);
		int rc = ternd_config_parse_text(&cfg, bad_files[i].text, "t.conf", err, sizeof(err));
		if (rc != TERND_EX_USAGE || strstr(err, bad_files[i].msg) == NULL)
			fail_msg("case %zu: rc %d '%s', want '%s'", i, rc, err, bad_files[i].msg);
		ternd_config_free(&cfg);
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The file is read first whatever the flag order; flags override it; a
 * --listen on the command line replaces the file's list. */
static void test_file_and_override(void **state)
{
	(void)state;
	char path[] = "/tmp/ternd-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "listen = 10.0.0.1:25\nlisten = 10.0.0.2:25\nworkers = 8\n"
			 "maildir = /from/file\nlmtp = yes\nmax-size = 1K\n");

	struct ternd_config cfg;
	char err[256];
	assert_int_equal(PARSE(&cfg, "--workers", "2", "--config", path), TERND_EX_OK);
	assert_string_equal(cfg.config_file, path);
	assert_int_equal(cfg.workers, 2);
	assert_string_equal(cfg.maildir, "/from/file");
	assert_true(cfg.lmtp);
	assert_int_equal(cfg.max_size, 1024);
	assert_int_equal(cfg.listen_count, 2);
	assert_string_equal(cfg.listen[1], "10.0.0.2:25");
	ternd_config_free(&cfg);

	assert_int_equal(PARSE(&cfg, "--config", path, "--listen", "[::1]:25", "--maildir", "/cli",
			       "--lmtp=no", "--max-size", "0"),
			 TERND_EX_OK);
	assert_int_equal(cfg.listen_count, 1);
	assert_string_equal(cfg.listen[0], "[::1]:25");
	assert_string_equal(cfg.maildir, "/cli");
	assert_false(cfg.lmtp);
	assert_true(cfg.max_size_set);
	assert_int_equal(cfg.max_size, 0);
	assert_int_equal(cfg.workers, 8);
	ternd_config_free(&cfg);

	/* An error in the file names the file and line and stops. */
	write_file(path, "workers = 1\nworkers = 0\n");
	assert_int_equal(PARSE(&cfg, "--config", path), TERND_EX_USAGE);
	assert_non_null(strstr(err, ":2: --workers"));
	ternd_config_free(&cfg);

	/* Not a text file. */
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fwrite("workers = 1\n\0\n", 1, 14, f);
	fclose(f);
	assert_int_equal(PARSE(&cfg, "--config", path), TERND_EX_USAGE);
	assert_non_null(strstr(err, "NUL"));
	ternd_config_free(&cfg);
	unlink(path);
}

/* --check-config prints a file that parses back to the same settings. */
static void test_print_round_trip(void **state)
{
	(void)state;
	struct ternd_config cfg, back;
	char err[256];
	assert_int_equal(PARSE(&cfg, "--listen", "127.0.0.1:25", "--listen", "[::1]:2525",
			       "--maildir", "/m", "--hostname", "h.example", "--banner", "hi # there",
			       "--max-size", "5M", "--max-recipients", "9", "--lmtp",
			       "--idle-timeout", "11", "--data-timeout", "12", "--close-timeout", "13",
			       "--max-clients", "14", "--workers", "3", "--discard", "--log-level",
			       "error", "--max-line-length", "600", "--max-data-line-length", "1200",
			       "--max-bad-commands", "4", "--bare-newline", "reject",
			       "--no-received-header", "--tls-cert", "a.crt", "--tls-key", "a.key",
			       "--tls-cert", "b.crt", "--tls-key", "b.key", "--tls-listen", ":465",
			       "--submission", ":587", "--users", "/u", "--auth-methods",
			       "EXTERNAL,plain", "--require-auth", "--require-tls",
			       "--allow-insecure-auth", "--tls-min-version", "1.3", "--tls-ciphers",
			       "HIGH:!aNULL", "--tls-ciphersuites", "TLS_AES_128_GCM_SHA256",
			       "--state-dir", "/st", "--max-auth-failures", "7", "--hash-threads", "4"),
			 TERND_EX_OK);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	ternd_config_print(&cfg, out);
	fclose(out);
	assert_non_null(strstr(text, "listen = 127.0.0.1:25\nlisten = [::1]:2525\n"));

	ternd_config_init(&back);
	assert_int_equal(ternd_config_parse_text(&back, text, "printed", err, sizeof(err)),
			 TERND_EX_OK);
	assert_int_equal(back.listen_count, 2);
	assert_string_equal(back.listen[1], cfg.listen[1]);
	assert_string_equal(back.maildir, cfg.maildir);
	assert_string_equal(back.hostname, cfg.hostname);
	assert_string_equal(back.banner, cfg.banner);
	assert_true(back.max_size == cfg.max_size);
	assert_int_equal(back.max_recipients, cfg.max_recipients);
	assert_int_equal(back.lmtp, cfg.lmtp);
	assert_int_equal(back.idle_timeout, cfg.idle_timeout);
	assert_int_equal(back.data_timeout, cfg.data_timeout);
	assert_int_equal(back.close_timeout, cfg.close_timeout);
	assert_int_equal(back.max_clients, cfg.max_clients);
	assert_int_equal(back.workers, cfg.workers);
	assert_int_equal(back.discard, cfg.discard);
	assert_int_equal(back.log_level, cfg.log_level);
	assert_int_equal(back.max_line_length, cfg.max_line_length);
	assert_int_equal(back.max_data_line_length, cfg.max_data_line_length);
	assert_int_equal(back.max_bad_commands, cfg.max_bad_commands);
	assert_int_equal(back.bare_newline, cfg.bare_newline);
	assert_int_equal(back.no_received_header, cfg.no_received_header);
	assert_int_equal(back.tls_cert_count, 2);
	assert_int_equal(back.tls_key_count, 2);
	assert_string_equal(back.tls_cert[1], "b.crt");
	assert_string_equal(back.tls_key[1], "b.key");
	assert_int_equal(back.tls_listen_count, 1);
	assert_string_equal(back.tls_listen[0], ":465");
	assert_int_equal(back.submission_count, 1);
	assert_string_equal(back.submission[0], ":587");
	assert_string_equal(back.users_file, "/u");
	assert_int_equal(back.auth_methods, TERND_AUTH_EXTERNAL | TERND_AUTH_PLAIN);
	assert_true(back.require_auth);
	assert_true(back.require_tls);
	assert_true(back.allow_insecure_auth);
	assert_int_equal(back.tls_min_version, TERND_TLS_1_3);
	assert_string_equal(back.tls_ciphers, "HIGH:!aNULL");
	assert_string_equal(back.tls_ciphersuites, "TLS_AES_128_GCM_SHA256");
	assert_string_equal(back.state_dir, "/st");
	assert_int_equal(back.max_auth_failures, 7);
	assert_int_equal(back.hash_threads, 4);
	free(text);
	ternd_config_free(&back);
	ternd_config_free(&cfg);

	/* Defaults print too, and parse back. */
	assert_int_equal(PARSE(&cfg, "--workers", "1"), TERND_EX_OK);
	out = open_memstream(&text, &len);
	ternd_config_print(&cfg, out);
	fclose(out);
	ternd_config_init(&back);
	assert_int_equal(ternd_config_parse_text(&back, text, "printed", err, sizeof(err)),
			 TERND_EX_OK);
	assert_false(back.max_size_set);
	assert_int_equal(back.auth_methods, TERND_AUTH_DEFAULT);
	assert_int_equal(back.hash_threads, 2);
	assert_int_equal(back.max_auth_failures, 3);
	assert_string_equal(back.state_dir, TERND_DEFAULT_STATE_DIR);
	assert_null(back.users_file);
	free(text);
	ternd_config_free(&back);
	ternd_config_free(&cfg);
}

static void test_usage_lists_every_flag(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	ternd_config_usage(out);
	fclose(out);
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		char flag[64];
		snprintf(flag, sizeof(flag), "--%s", options[i].name);
		assert_non_null(strstr(text, flag));
	}
	free(text);
}

/* --proxy-from: repeatable, comma lists, checked item by item; the command
 * line replaces the file's list; the options get a NULL-terminated list. */
/* The outbound flags (config_outbound.c): lists, values, their errors,
 * defaults in --check-config's output, and SIGHUP keeping them. */
static void test_outbound_flags(void **state)
{
	(void)state;
	struct ternd_config cfg, next;
	char err[256];

	assert_int_equal(PARSE(&cfg, "--domain", "Example.ORG, example.net.", "--domain",
			       "b\xc3\xbc" "cher.test", "--relay-from", "10.0.0.0/8,::1", "--relayhost",
			       "[127.0.0.1]:2525", "--relayhost-tls", "require", "--dest-rate", "30/min",
			       "--dest-concurrency", "5", "--queue-lifetime", "2d", "--delay-warning", "0",
			       "--min-backoff", "1m", "--max-backoff", "1h", "--max-queue-size", "10M",
			       "--smtp-port", "2526", "--smtp-tls", "verify", "--lmtp-to",
			       "/run/dovecot/lmtp"),
			 TERND_EX_OK);
	assert_int_equal(cfg.domain_count, 3);
	assert_string_equal(cfg.domains[0], "example.org");
	assert_string_equal(cfg.domains[1], "example.net");
	assert_string_equal(cfg.domains[2], "b\xc3\xbc" "cher.test");
	assert_int_equal(cfg.relay_from_count, 1);
	assert_true(cfg.relayhost_tls_require);
	assert_int_equal(cfg.dest_rate, 30);
	assert_int_equal(cfg.dest_concurrency, 5);
	assert_int_equal(cfg.queue_lifetime, 2 * 86400);
	assert_true(cfg.delay_warning_set);
	assert_int_equal(cfg.delay_warning, 0);
	assert_int_equal(cfg.min_backoff, 60);
	assert_int_equal(cfg.max_backoff, 3600);
	assert_int_equal(cfg.max_queue_size, 10u * 1024 * 1024);
	assert_int_equal(cfg.smtp_port, 2526);
	assert_int_equal(cfg.smtp_tls, TERND_SMTP_TLS_VERIFY);
	assert_string_equal(cfg.lmtp_to, "/run/dovecot/lmtp");

	/* SIGHUP: every outbound setting keeps its running value. */
	assert_int_equal(PARSE(&next, "--domain", "other.test", "--dest-rate", "1"), TERND_EX_OK);
	assert_int_equal(ternd_config_keep_fixed(&next, &cfg), 0);
	assert_int_equal(next.domain_count, 3);
	assert_string_equal(next.domains[0], "example.org");
	assert_int_equal(next.dest_rate, 30);
	assert_string_equal(next.relayhost, "[127.0.0.1]:2525");
	ternd_config_free(&next);
	ternd_config_free(&cfg);

	static const char *const bad[][2] = {
		{"--domain", "bad domain"}, {"--domain", ""},      {"--domain", "a,,b"},
		{"--relay-from", "nope"},   {"--relayhost", ""},   {"--relayhost", "[x"},
		{"--relayhost-tls", "yes"}, {"--dest-rate", "5/h"}, {"--dest-concurrency", "0"},
		{"--queue-lifetime", "0"},  {"--queue-lifetime", "5y"}, {"--min-backoff", "x"},
		{"--smtp-port", "0"},       {"--smtp-tls", "maybe"},  {"--lmtp-to", "nowhere"},
		{"--max-queue-size", "lots"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(PARSE(&cfg, bad[i][0], bad[i][1]), TERND_EX_USAGE);
		assert_non_null(strstr(err, bad[i][0]));
		ternd_config_free(&cfg);
	}

	/* Defaults, as --check-config prints them. */
	assert_int_equal(PARSE(&cfg, "--workers", "1"), TERND_EX_OK);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	ternd_config_print(&cfg, out);
	fclose(out);
	assert_non_null(strstr(text, "# domain = (none: every recipient is local, nothing is relayed)"));
	assert_non_null(strstr(text, "dest-concurrency = 20\n"));
	assert_non_null(strstr(text, "queue-lifetime = 432000s\n"));
	assert_non_null(strstr(text, "delay-warning = 14400s\n"));
	free(text);
	ternd_config_free(&cfg);
}

static void test_proxy_from(void **state)
{
	(void)state;
	struct ternd_config cfg;
	char err[256];

	assert_int_equal(PARSE(&cfg, "--proxy-from", "127.0.0.1,::1", "--proxy-from=10.0.0.0/8"),
			 TERND_EX_OK);
	assert_int_equal(cfg.proxy_from_count, 2);
	assert_string_equal(cfg.proxy_from[0], "127.0.0.1,::1");
	assert_string_equal(cfg.proxy_from[1], "10.0.0.0/8");
	assert_null(cfg.proxy_from[2]);
	tern_smtp_options opts;
	tern_smtp_options_init(&opts);
	ternd_config_to_options(&cfg, &opts);
	assert_ptr_equal(opts.proxy_from, cfg.proxy_from);
	ternd_config_free(&cfg);

	static const char *const bad[] = {"", "10.0.0.1/8", "10.0.0.0/33", "example.com",
					  "127.0.0.1,,::1", "127.0.0.1, nope"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--proxy-from", bad[i]), TERND_EX_USAGE);
		assert_non_null(strstr(err, "--proxy-from"));
		ternd_config_free(&cfg);
	}
	assert_int_equal(PARSE(&cfg, "--proxy-from", "127.0.0.1,10.0.0.0/33"), TERND_EX_USAGE);
	assert_non_null(strstr(err, "'10.0.0.0/33'"));
	ternd_config_free(&cfg);

	/* Without it: no list at all. */
	assert_int_equal(PARSE(&cfg, "--workers", "1"), TERND_EX_OK);
	tern_smtp_options_init(&opts);
	ternd_config_to_options(&cfg, &opts);
	assert_null(opts.proxy_from);
	ternd_config_free(&cfg);

	char path[] = "/tmp/ternd-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "proxy-from = 192.0.2.0/24\nproxy_from = \"2001:db8::/32, ::1\"\n");
	assert_int_equal(PARSE(&cfg, "--config", path), TERND_EX_OK);
	assert_int_equal(cfg.proxy_from_count, 2);
	assert_string_equal(cfg.proxy_from[1], "2001:db8::/32, ::1");
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--config", path, "--proxy-from", "127.0.0.1"), TERND_EX_OK);
	assert_int_equal(cfg.proxy_from_count, 1);
	assert_string_equal(cfg.proxy_from[0], "127.0.0.1");
	ternd_config_free(&cfg);
	unlink(path);
}

/* Reverse DNS: --no-reverse-dns, --dns-server ADDR[@PORT], --dns-timeout MS,
 * on the command line and in the file, and what reaches the options. */
static void test_dns_flags(void **state)
{
	(void)state;
	struct ternd_config cfg;
	tern_smtp_options opts;
	char err[256];

	assert_int_equal(PARSE(&cfg, "--workers", "1"), TERND_EX_OK);
	tern_smtp_options_init(&opts);
	ternd_config_to_options(&cfg, &opts);
	assert_false(opts.no_reverse_dns);
	assert_null(opts.dns_server);
	assert_int_equal(opts.dns_timeout, 0);
	ternd_config_free(&cfg);

	assert_int_equal(PARSE(&cfg, "--no-reverse-dns", "--dns-server", "127.0.0.1@5353",
			       "--dns-timeout", "700"),
			 TERND_EX_OK);
	assert_true(cfg.no_reverse_dns);
	assert_string_equal(cfg.dns_server, "127.0.0.1@5353");
	assert_int_equal(cfg.dns_timeout, 700);
	tern_smtp_options_init(&opts);
	ternd_config_to_options(&cfg, &opts);
	assert_true(opts.no_reverse_dns);
	assert_string_equal(opts.dns_server, "127.0.0.1@5353");
	assert_int_equal(opts.dns_timeout, 700);
	ternd_config_free(&cfg);

	static const char *const good[] = {"192.0.2.53", "::1", "2001:db8::53@53",
					   "127.0.0.1@65535"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--dns-server", good[i]), TERND_EX_OK);
		assert_string_equal(cfg.dns_server, good[i]);
		ternd_config_free(&cfg);
	}
	static const char *const bad[] = {"", "dns.example", "127.0.0.1@", "127.0.0.1@0",
					  "127.0.0.1@65536", "127.0.0.1:53", "[::1]@53",
					  "@53", "127.0.0.1@53x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--dns-server", bad[i]), TERND_EX_USAGE);
		assert_non_null(strstr(err, "--dns-server"));
		ternd_config_free(&cfg);
	}
	assert_int_equal(PARSE(&cfg, "--dns-timeout", "0"), TERND_EX_USAGE);
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--dns-timeout", "600001"), TERND_EX_USAGE);
	ternd_config_free(&cfg);

	char path[] = "/tmp/ternd-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "no-reverse-dns = yes\ndns-server = ::1@5353\ndns-timeout = 250\n");
	assert_int_equal(PARSE(&cfg, "--config", path), TERND_EX_OK);
	assert_true(cfg.no_reverse_dns);
	assert_string_equal(cfg.dns_server, "::1@5353");
	assert_int_equal(cfg.dns_timeout, 250);
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--config", path, "--dns-server", "127.0.0.1"), TERND_EX_OK);
	assert_string_equal(cfg.dns_server, "127.0.0.1");
	ternd_config_free(&cfg);
	unlink(path);
}

/* Abuse limits: the library's defaults unless given, flags and keys, 0 =
 * none, ranges, what reaches the options, printed back. */
static void test_abuse_flags(void **state)
{
	(void)state;
	struct ternd_config cfg;
	tern_smtp_options opts;
	char err[256];

	/* --abuse-exempt: repeatable networks, checked, passed on, printed. */
	assert_int_equal(PARSE(&cfg, "--abuse-exempt", "127.0.0.0/8,::1", "--abuse-exempt",
			       "192.0.2.0/24"),
			 TERND_EX_OK);
	tern_smtp_options_init(&opts);
	ternd_config_to_options(&cfg, &opts);
	assert_non_null(opts.abuse_exempt);
	assert_string_equal(opts.abuse_exempt[0], "127.0.0.0/8,::1");
	assert_string_equal(opts.abuse_exempt[1], "192.0.2.0/24");
	assert_null(opts.abuse_exempt[2]);
	{
		char *t = NULL;
		size_t l = 0;
		FILE *o = open_memstream(&t, &l);
		assert_non_null(o);
		ternd_config_print(&cfg, o);
		fclose(o);
		assert_non_null(strstr(t, "abuse-exempt = 192.0.2.0/24\n"));
		free(t);
	}
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--abuse-exempt", "192.0.2.1/24"), TERND_EX_USAGE);
	ternd_config_free(&cfg);

	assert_int_equal(PARSE(&cfg, "--workers", "1"), TERND_EX_OK);
	tern_smtp_options_init(&opts);
	ternd_config_to_options(&cfg, &opts);
	assert_int_equal(opts.max_per_ip, 100);
	assert_int_equal(opts.max_conn_rate, 0);
	assert_int_equal(opts.max_messages_per_conn, 1000);
	assert_int_equal(opts.max_rcpts_per_conn, 10000);
	assert_int_equal(opts.max_auth_failures_per_ip, 10);
	assert_int_equal(opts.ban_seconds, 600);
	ternd_config_free(&cfg);

	assert_int_equal(PARSE(&cfg, "--max-per-ip", "3", "--max-conn-rate", "0",
			       "--max-messages-per-conn", "5", "--max-rcpts-per-conn", "7",
			       "--max-auth-failures-per-ip", "2", "--ban-seconds", "30"),
			 TERND_EX_OK);
	tern_smtp_options_init(&opts);
	ternd_config_to_options(&cfg, &opts);
	assert_int_equal(opts.max_per_ip, 3);
	assert_int_equal(opts.max_conn_rate, 0);
	assert_int_equal(opts.max_messages_per_conn, 5);
	assert_int_equal(opts.max_rcpts_per_conn, 7);
	assert_int_equal(opts.max_auth_failures_per_ip, 2);
	assert_int_equal(opts.ban_seconds, 30);

	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	ternd_config_print(&cfg, out);
	fclose(out);
	assert_non_null(strstr(text, "max-per-ip = 3\n"));
	assert_non_null(strstr(text, "max-conn-rate = 0\n"));
	assert_non_null(strstr(text, "ban-seconds = 30\n"));
	free(text);
	ternd_config_free(&cfg);

	assert_int_equal(PARSE(&cfg, "--ban-seconds", "0"), TERND_EX_USAGE);
	assert_non_null(strstr(err, "--ban-seconds"));
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--ban-seconds", "31622401"), TERND_EX_USAGE);
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--max-per-ip", "-1"), TERND_EX_USAGE);
	assert_non_null(strstr(err, "--max-per-ip"));
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--max-rcpts-per-conn", "x"), TERND_EX_USAGE);
	ternd_config_free(&cfg);

	char path[] = "/tmp/ternd-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "max-per-ip = 9\nmax_conn_rate = 60\nmax-auth-failures-per-ip = 0\n"
			 "ban-seconds = 3600\n");
	assert_int_equal(PARSE(&cfg, "--config", path, "--max-per-ip", "4"), TERND_EX_OK);
	assert_int_equal(cfg.max_per_ip, 4); /* the command line wins */
	assert_int_equal(cfg.max_conn_rate, 60);
	assert_int_equal(cfg.max_auth_failures_per_ip, 0);
	assert_int_equal(cfg.ban_seconds, 3600);
	assert_int_equal(cfg.max_messages_per_conn, 1000);
	ternd_config_free(&cfg);
	unlink(path);
}

static void test_to_options(void **state)
{
	(void)state;
	struct ternd_config cfg;
	char err[256];
	tern_smtp_options opts;

	/* Nothing given: the library's defaults stay. */
	assert_int_equal(PARSE(&cfg, "--workers", "1"), TERND_EX_OK);
	memset(&opts, 0, sizeof(opts));
	opts.size = 123;
	opts.max_recipients = 100;
	opts.socket_timeout = 300000;
	ternd_config_to_options(&cfg, &opts);
	assert_null(opts.name);
	assert_int_equal(opts.size, 123);
	assert_int_equal(opts.max_recipients, 100);
	assert_int_equal(opts.socket_timeout, 300000);
	assert_false(opts.lmtp);
	ternd_config_free(&cfg);

	assert_int_equal(PARSE(&cfg, "--hostname", "mx", "--banner", "b", "--max-size", "0",
			       "--max-recipients", "7", "--lmtp", "--idle-timeout", "60",
			       "--max-clients", "9", "--max-line-length", "1000",
			       "--max-data-line-length", "2000", "--max-bad-commands", "5",
			       "--bare-newline", "reject", "--no-received-header", "--close-timeout",
			       "2"),
			 TERND_EX_OK);
	memset(&opts, 0, sizeof(opts));
	opts.size = 123;
	ternd_config_to_options(&cfg, &opts);
	assert_string_equal(opts.name, "mx");
	assert_string_equal(opts.banner, "b");
	assert_int_equal(opts.size, 0);
	assert_int_equal(opts.max_recipients, 7);
	assert_true(opts.lmtp);
	assert_int_equal(opts.socket_timeout, 60000);
	assert_int_equal(opts.data_timeout, 60000);
	assert_int_equal(opts.close_timeout, 2000);
	assert_int_equal(opts.max_clients, 9);
	assert_int_equal(opts.max_line_length, 1000);
	assert_int_equal(opts.max_data_line_length, 2000);
	assert_int_equal(opts.max_bad_commands, 5);
	assert_int_equal(opts.bare_newline, TERN_SMTP_BARE_NEWLINE_REJECT);
	assert_true(opts.disable_received_header);
	ternd_config_free(&cfg);

	/* --data-timeout overrides --idle-timeout for DATA only. */
	assert_int_equal(PARSE(&cfg, "--data-timeout", "10", "--idle-timeout", "60"), TERND_EX_OK);
	memset(&opts, 0, sizeof(opts));
	ternd_config_to_options(&cfg, &opts);
	assert_int_equal(opts.socket_timeout, 60000);
	assert_int_equal(opts.data_timeout, 10000);
	ternd_config_free(&cfg);
}

/* --xclient-from and --xforward-from: repeatable comma lists, each checked,
 * file keys too (the command line replaces the file's list), and what
 * reaches the options. */
static void test_xclient_from(void **state)
{
	(void)state;
	struct ternd_config cfg;
	tern_smtp_options opts;
	char err[256];

	assert_int_equal(PARSE(&cfg, "--xclient-from", "127.0.0.1,::1", "--xclient-from=10.0.0.0/8",
			       "--xforward-from", "192.0.2.0/24"),
			 TERND_EX_OK);
	assert_int_equal(cfg.xclient_from_count, 2);
	assert_string_equal(cfg.xclient_from[0], "127.0.0.1,::1");
	assert_string_equal(cfg.xclient_from[1], "10.0.0.0/8");
	assert_null(cfg.xclient_from[2]);
	assert_int_equal(cfg.xforward_from_count, 1);
	tern_smtp_options_init(&opts);
	ternd_config_to_options(&cfg, &opts);
	assert_ptr_equal(opts.xclient_from, cfg.xclient_from);
	assert_ptr_equal(opts.xforward_from, cfg.xforward_from);
	ternd_config_free(&cfg);

	static const char *const bad[] = {"", "10.0.0.1/8", "10.0.0.0/33", "localhost",
					  "127.0.0.1,,::1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--xclient-from", bad[i]), TERND_EX_USAGE);
		assert_non_null(strstr(err, "--xclient-from"));
		ternd_config_free(&cfg);
		assert_int_equal(PARSE(&cfg, "--xforward-from", bad[i]), TERND_EX_USAGE);
		assert_non_null(strstr(err, "--xforward-from"));
		ternd_config_free(&cfg);
	}
	assert_int_equal(PARSE(&cfg, "--xclient-from", "127.0.0.1,nope"), TERND_EX_USAGE);
	assert_non_null(strstr(err, "'nope'"));
	ternd_config_free(&cfg);

	assert_int_equal(PARSE(&cfg, "--workers", "1"), TERND_EX_OK);
	tern_smtp_options_init(&opts);
	ternd_config_to_options(&cfg, &opts);
	assert_null(opts.xclient_from);
	assert_null(opts.xforward_from);
	ternd_config_free(&cfg);

	char path[] = "/tmp/ternd-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "xclient-from = 192.0.2.0/24\nxclient_from = 2001:db8::/32\n"
			 "xforward-from = 127.0.0.1\n");
	assert_int_equal(PARSE(&cfg, "--config", path), TERND_EX_OK);
	assert_int_equal(cfg.xclient_from_count, 2);
	assert_string_equal(cfg.xclient_from[1], "2001:db8::/32");
	assert_int_equal(cfg.xforward_from_count, 1);
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--config", path, "--xclient-from", "127.0.0.1"), TERND_EX_OK);
	assert_int_equal(cfg.xclient_from_count, 1);
	assert_string_equal(cfg.xclient_from[0], "127.0.0.1");
	assert_int_equal(cfg.xforward_from_count, 1); /* the other list stays */
	ternd_config_free(&cfg);
	unlink(path);
}

/* --user: a name (checked for shape only), a config key, printed. */
static void test_user(void **state)
{
	(void)state;
	struct ternd_config cfg;
	char err[256];

	assert_int_equal(PARSE(&cfg, "--user", "nobody"), TERND_EX_OK);
	assert_string_equal(cfg.user, "nobody");
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	ternd_config_print(&cfg, out);
	fclose(out);
	assert_non_null(strstr(text, "\nuser = nobody\n"));
	free(text);
	ternd_config_free(&cfg);

	ternd_config_init(&cfg);
	assert_int_equal(ternd_config_parse_text(&cfg, "user = mail\n", "t.conf", err, sizeof(err)),
			 TERND_EX_OK);
	assert_string_equal(cfg.user, "mail");
	ternd_config_free(&cfg);

	static const char *const bad[] = {"", "a b", "x:y", "../x", "root"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--user", bad[i]), TERND_EX_USAGE);
		assert_non_null(strstr(err, "--user"));
		ternd_config_free(&cfg);
	}
	/* Not given: nobody to switch to. */
	assert_int_equal(PARSE(&cfg, "--listen", "127.0.0.1:25"), TERND_EX_OK);
	assert_null(cfg.user);
	ternd_config_free(&cfg);
}

/* --check-config collects every problem of the file and the command line,
 * with FILE:LINE; without it, parsing stops at the first. */
static void test_every_problem(void **state)
{
	(void)state;
	char path[] = "/tmp/tern-test-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "max-size = 5Q\n# fine\nbogus = 1\nworkers = 0\nlmtp = maybe\n"
			 "listen = 127.0.0.1:2525\ntls-cert = a.crt\n");
	struct ternd_config cfg;
	char err[256];

	assert_int_equal(PARSE(&cfg, "--config", path, "--check-config", "--max-clients", "x",
			       "--nope"),
			 TERND_EX_USAGE);
	static const char *const want[] = {
		"unknown flag '--nope'",
		":1: --max-size: '5Q' is not a size",
		":3: unknown key 'bogus'",
		":4: --workers: '0' is out of range",
		":5: lmtp: 'maybe' is not yes or no",
		"--max-clients: 'x' is not a number",
		"--tls-cert and --tls-key go in pairs",
	};
	assert_int_equal(cfg.problem_count, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (strstr(cfg.problems[i], want[i]) == NULL)
			fail_msg("problem %zu: '%s', want '%s'", i, cfg.problems[i], want[i]);
		if (i >= 1 && i <= 4 && strncmp(cfg.problems[i], path, strlen(path)) != 0)
			fail_msg("problem %zu: '%s' does not name %s", i, cfg.problems[i], path);
	}
	assert_string_equal(err, cfg.problems[0]);
	/* The good lines still apply. */
	assert_int_equal(cfg.listen_count, 1);
	ternd_config_free(&cfg);

	/* Without --check-config: the first problem only. */
	assert_int_equal(PARSE(&cfg, "--config", path, "--max-clients", "x"), TERND_EX_USAGE);
	assert_int_equal(cfg.problem_count, 0);
	assert_non_null(strstr(err, ":1: --max-size"));
	ternd_config_free(&cfg);

	/* A missing --config file is one more problem, not the end. */
	assert_int_equal(PARSE(&cfg, "--config", "/nonexistent/ternd.conf", "--check-config",
			       "--workers", "0"),
			 TERND_EX_USAGE);
	assert_int_equal(cfg.problem_count, 2);
	assert_non_null(strstr(cfg.problems[0], "cannot read /nonexistent/ternd.conf"));
	ternd_config_free(&cfg);

	/* Clean: OK and nothing recorded. */
	assert_int_equal(PARSE(&cfg, "--check-config", "--workers", "2"), TERND_EX_OK);
	assert_int_equal(cfg.problem_count, 0);
	assert_true(cfg.check_config);
	ternd_config_free(&cfg);
	unlink(path);
}

/* --mta-sts-listen ADDR:PORT (config_domain.c): any address (it serves
 * the world), printed, parsed back, kept over SIGHUP. */
static void test_mta_sts_listen(void **state)
{
	(void)state;
	struct ternd_config cfg, back;
	char err[256];

	assert_int_equal(PARSE(&cfg, "--mta-sts-listen", "0.0.0.0:443"), TERND_EX_OK);
	assert_string_equal(cfg.mta_sts_listen, "0.0.0.0:443");
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	ternd_config_print(&cfg, out);
	fclose(out);
	assert_non_null(strstr(text, "mta-sts-listen = 0.0.0.0:443\n"));
	ternd_config_init(&back);
	assert_int_equal(ternd_config_parse_text(&back, text, "printed", err, sizeof(err)),
			 TERND_EX_OK);
	assert_string_equal(back.mta_sts_listen, "0.0.0.0:443");
	free(text);
	/* A restart is needed: SIGHUP keeps the running value. */
	free(back.mta_sts_listen);
	back.mta_sts_listen = strdup("[::1]:8443");
	assert_int_equal(ternd_config_keep_fixed(&back, &cfg), 0);
	assert_string_equal(back.mta_sts_listen, "0.0.0.0:443");
	ternd_config_free(&back);
	ternd_config_free(&cfg);

	static const char *const bad[] = {"", "443", "127.0.0.1:", "host.example:443",
					  "[::1:443", "127.0.0.1:65536"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--mta-sts-listen", bad[i]), TERND_EX_USAGE);
		assert_non_null(strstr(err, "--mta-sts-listen"));
		ternd_config_free(&cfg);
	}
	assert_int_equal(PARSE(&cfg, "--workers", "1"), TERND_EX_OK);
	assert_null(cfg.mta_sts_listen);
	ternd_config_free(&cfg);
}

/* --metrics ADDR:PORT (loopback unless --metrics-allow-remote),
 * --log-format text|kv and --syslog: flags, file keys, errors, printing. */
static void test_metrics_and_log_flags(void **state)
{
	(void)state;
	struct ternd_config cfg, back;
	char err[256];

	assert_int_equal(PARSE(&cfg, "--workers", "1"), TERND_EX_OK);
	assert_null(cfg.metrics);
	assert_false(cfg.metrics_allow_remote);
	assert_false(cfg.log_kv);
	assert_false(cfg.log_syslog);
	ternd_config_free(&cfg);

	static const char *const loopback[] = {"127.0.0.1:9100", "127.1.2.3:0", "[::1]:9100",
					       "localhost:9100"};
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--metrics", loopback[i]), TERND_EX_OK);
		assert_string_equal(cfg.metrics, loopback[i]);
		ternd_config_free(&cfg);
	}
	static const char *const remote[] = {"0.0.0.0:9100", "192.0.2.1:9100", "[::]:9100",
					     "[2001:db8::1]:9100", "[::ffff:127.0.0.1]:9100"};
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--metrics", remote[i]), TERND_EX_USAGE);
		assert_non_null(strstr(err, "--metrics-allow-remote"));
		ternd_config_free(&cfg);
		/* Either order: the check runs after every flag. */
		assert_int_equal(PARSE(&cfg, "--metrics", remote[i], "--metrics-allow-remote"),
				 TERND_EX_OK);
		ternd_config_free(&cfg);
		assert_int_equal(PARSE(&cfg, "--metrics-allow-remote", "--metrics", remote[i]),
				 TERND_EX_OK);
		assert_true(cfg.metrics_allow_remote);
		ternd_config_free(&cfg);
	}
	static const char *const bad[] = {"", "9100", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x",
					  "127.0.0.1:65536", "::1:9100", "[::1:9100",
					  "host.example:9100", "[]:9100"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--metrics", bad[i]), TERND_EX_USAGE);
		assert_non_null(strstr(err, "--metrics"));
		ternd_config_free(&cfg);
	}

	assert_int_equal(PARSE(&cfg, "--log-format", "kv", "--syslog"), TERND_EX_OK);
	assert_true(cfg.log_kv);
	assert_true(cfg.log_syslog);
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--log-format", "KV", "--log-format", "text"), TERND_EX_OK);
	assert_false(cfg.log_kv);
	ternd_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--log-format", "json"), TERND_EX_USAGE);
	assert_non_null(strstr(err, "--log-format"));
	ternd_config_free(&cfg);

	/* The file keys, and the printed configuration parses back. */
	ternd_config_init(&cfg);
	assert_int_equal(ternd_config_parse_text(&cfg,
						 "metrics = [::1]:9100\nlog_format = kv\n"
						 "syslog = yes\nmetrics-allow-remote = no\n",
						 "t.conf", err, sizeof(err)),
			 TERND_EX_OK);
	assert_string_equal(cfg.metrics, "[::1]:9100");
	assert_true(cfg.log_kv);
	assert_true(cfg.log_syslog);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	ternd_config_print(&cfg, out);
	fclose(out);
	assert_non_null(strstr(text, "metrics = [::1]:9100\n"));
	assert_non_null(strstr(text, "log-format = kv\n"));
	ternd_config_init(&back);
	assert_int_equal(ternd_config_parse_text(&back, text, "printed", err, sizeof(err)),
			 TERND_EX_OK);
	assert_string_equal(back.metrics, "[::1]:9100");
	assert_true(back.log_kv);
	assert_true(back.log_syslog);
	assert_false(back.metrics_allow_remote);
	free(text);
	ternd_config_free(&back);
	ternd_config_free(&cfg);

	/* Without --metrics the printout says so, and parses back to none. */
	assert_int_equal(PARSE(&cfg, "--workers", "1"), TERND_EX_OK);
	out = open_memstream(&text, &len);
	ternd_config_print(&cfg, out);
	fclose(out);
	assert_non_null(strstr(text, "# metrics = "));
	ternd_config_init(&back);
	assert_int_equal(ternd_config_parse_text(&back, text, "printed", err, sizeof(err)),
			 TERND_EX_OK);
	assert_null(back.metrics);
	assert_false(back.log_kv);
	free(text);
	ternd_config_free(&back);
	ternd_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_every_problem),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_tls_and_auth_flags),
		cmocka_unit_test(test_tls_pairs),
		cmocka_unit_test(test_each_flag),
		cmocka_unit_test(test_sizes_and_levels),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_bad_flags),
		cmocka_unit_test(test_file_text),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_and_override),
		cmocka_unit_test(test_print_round_trip),
		cmocka_unit_test(test_usage_lists_every_flag),
		cmocka_unit_test(test_to_options),
		cmocka_unit_test(test_xclient_from),
		cmocka_unit_test(test_proxy_from),
		cmocka_unit_test(test_outbound_flags),
		cmocka_unit_test(test_dns_flags),
		cmocka_unit_test(test_metrics_and_log_flags),
		cmocka_unit_test(test_mta_sts_listen),
		cmocka_unit_test(test_abuse_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
