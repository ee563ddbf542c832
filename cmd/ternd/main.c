/* ternd: receive mail over SMTP or LMTP into one Maildir per recipient.
 *
 * A thin program over the public libtern API: parse the configuration,
 * open the Maildir root, create the server, and run it until SIGTERM or
 * SIGINT asks for a graceful drain. See docs/ternd.md and ternd(8). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include "tern/smtp.h"

#include "auth.h"
#include "check.h"
#include "config.h"
#include "delivery.h"
#include "domain.h"
#include "inbound_auth.h"
#include "signing.h"
#include "log.h"
#include "metrics.h"
#include "mta_sts_serve.h"
#include "maildir.h"
#include "outbound.h"
#include "routing.h"
#include "passwd.h"
#include "queue/queue_cmd.h"
#include "privs.h"
#include "selfsigned.h"
#include "sendmail.h"

/* --listen's greeting delay when none is given (ms). */
#define DEFAULT_PORT25_DELAY_MS 1000

/* The signal thread reaches the server through this, under the lock, so a
 * late signal can never touch a server that main() is destroying. */
struct signal_state {
	pthread_mutex_t lock;
	tern_smtp_server *server;
	struct ternd_auth *auth; /* NULL without --users */
	sigset_t set;
	/* SIGHUP parses the command line and --config file again with these,
	 * and compares with cfg: the configuration running now (main's at
	 * first, then `applied`, owned here, after a reload). */
	const struct ternd_config *cfg;
	struct ternd_config applied;
	bool have_applied;
	int argc;
	char *const *argv;
	/* What a new tern_smtp_options needs besides the configuration: the
	 * running options (their TLS files, fixed) and the callbacks'
	 * owners. */
	const tern_smtp_options *opts;
	struct ternd_delivery *delivery;
};

/* Signals are taken synchronously with sigwait() on a thread of their own:
 * tern_smtp_server_close() is thread-safe but not async-signal-safe, so it
 * must not run inside a handler. */
static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGTERM: return "SIGTERM";
	case SIGINT: return "SIGINT";
	case SIGHUP: return "SIGHUP";
	default: return "signal";
	}
}

/* The lines of ternd_config_print's output, for comparing two configurations. */
static char *config_text(const struct ternd_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (out == NULL)
		return NULL;
	ternd_config_print(cfg, out);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Logs each line of a that is not a line of b. */
static unsigned log_missing_lines(const char *a, const char *b, const char *what)
{
	unsigned n = 0;

	for (const char *p = a; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		bool found = false;

		for (const char *q = b; *q != '\0' && !found;) {
			size_t qlen = strcspn(q, "\n");
			found = qlen == len && memcmp(p, q, len) == 0;
			q += qlen + (q[qlen] == '\n');
		}
		if (!found && p[0] != '#') {
			ternd_log(TERN_LOG_WARNING, NULL, "SIGHUP: %s %.*s", what, (int)len, p);
			n++;
		}
		p += len + (p[len] == '\n');
	}
	return n;
}

/* The options a configuration gives, with the callbacks ternd installs and
 * the running server's TLS files (fixed; their contents are reloaded). */
static void reload_options(const struct signal_state *st, const struct ternd_config *cfg,
			   tern_smtp_options *o)
{
	tern_smtp_options_init(o);
	ternd_config_to_options(cfg, o);
	ternd_delivery_install(st->delivery, o);
	if (st->auth != NULL)
		ternd_auth_install(st->auth, cfg, o);
	o->tls_cert_files = st->opts->tls_cert_files;
	o->tls_key_files = st->opts->tls_key_files;
	o->tls_min_version = st->opts->tls_min_version;
	o->tls_ciphers = st->opts->tls_ciphers;
	o->tls_ciphersuites = st->opts->tls_ciphersuites;
	o->tls_client_ca_file = st->opts->tls_client_ca_file;
}

/* SIGHUP re-reads the --config file with the same command line over it,
 * and applies what can change on a running server through
 * tern_smtp_server_reconfigure(): limits, timeouts, names, trusted
 * networks (--proxy-from, --xclient-from, --xforward-from,
 * --abuse-exempt), reverse DNS on or off, the log level. New connections
 * get them; open sessions finish with the settings they began with, so
 * nobody is dropped. What needs a restart (listeners, paths, TLS and AUTH
 * policy, workers, --user, ...) is named and keeps its running value. A
 * file with mistakes is reported whole and changes nothing. */
static void reread_config(struct signal_state *st)
{
	struct ternd_config next;
	char err[1024];

	if (st->cfg->config_file == NULL)
		return;
	ternd_config_init(&next);
	next.collect_problems = true;
	int rc = ternd_config_parse(&next, st->argc, st->argv, err, sizeof(err));
	if (rc != TERND_EX_OK) {
		for (unsigned i = 0; i < next.problem_count; i++)
			ternd_log(TERN_LOG_ERROR, NULL, "SIGHUP: %s",
				  next.problems != NULL && next.problems[i] != NULL ? next.problems[i]
										    : "out of memory");
		if (next.problem_count == 0)
			ternd_log(TERN_LOG_ERROR, NULL, "SIGHUP: %s", err);
		ternd_log(TERN_LOG_ERROR, NULL,
			  "SIGHUP: %s not applied; ternd goes on with the configuration it has",
			  st->cfg->config_file);
		ternd_config_free(&next);
		return;
	}
	/* wanted: what the file says; next: that, with the running values of
	 * what needs a restart. */
	char *wanted = config_text(&next);
	if (ternd_config_keep_fixed(&next, st->cfg) != 0) {
		ternd_log(TERN_LOG_ERROR, NULL, "SIGHUP: out of memory; nothing changed");
		free(wanted);
		ternd_config_free(&next);
		return;
	}
	char *was = config_text(st->cfg), *now = config_text(&next);
	if (was == NULL || now == NULL || wanted == NULL) {
		ternd_log(TERN_LOG_ERROR, NULL, "SIGHUP: out of memory; nothing changed");
		goto out;
	}
	unsigned restart = log_missing_lines(wanted, now, "changed, needs a restart:");
	unsigned live = log_missing_lines(now, was, "applying:");
	if (live > 0) {
		tern_smtp_options o;

		reload_options(st, &next, &o);
		pthread_mutex_lock(&st->lock);
		rc = st->server != NULL ? tern_smtp_server_reconfigure(st->server, &o) : TERN_ECLOSED;
		pthread_mutex_unlock(&st->lock);
		if (rc != 0) {
			/* The library said why through the log. */
			ternd_log(TERN_LOG_ERROR, NULL, "SIGHUP: %s not applied (%s)",
				  st->cfg->config_file, tern_strerror(rc));
			goto out;
		}
		ternd_log_set_level(next.log_level);
		if (st->have_applied)
			ternd_config_free(&st->applied);
		st->applied = next;
		st->have_applied = true;
		st->cfg = &st->applied;
		memset(&next, 0, sizeof(next));
	}
	if (restart == 0 && live == 0)
		ternd_log(TERN_LOG_INFO, NULL, "SIGHUP: %s re-read, no setting changed",
			  st->cfg->config_file);
	else
		ternd_log(TERN_LOG_INFO, NULL,
			  "SIGHUP: %s re-read: %u setting(s) applied to new connections%s",
			  st->cfg->config_file, live,
			  restart > 0 ? ", the others when ternd restarts" : "");
out:
	free(wanted);
	free(was);
	free(now);
	ternd_config_free(&next);
}

/* SIGHUP: the DKIM keys again (a `ternd domain add` since). Messages being
 * signed keep the keys they started with. */
static void reload_signing(struct signal_state *st)
{
	struct ternd_signing *keys;
	unsigned ndom, nkeys;
	char err[512];

	if (ternd_signing_reload(st->delivery->signing, st->cfg->state_dir, err, sizeof(err)) != 0) {
		ternd_log(TERN_LOG_ERROR, NULL, "SIGHUP: DKIM keys not reloaded (%s); the old stay",
			  err);
		return;
	}
	keys = ternd_signing_get(st->delivery->signing);
	ternd_signing_counts(keys, &ndom, &nkeys);
	ternd_signing_put(&keys);
	ternd_log(TERN_LOG_INFO, NULL, "SIGHUP: DKIM signing for %u domain%s with %u key%s", ndom,
		  ndom == 1 ? "" : "s", nkeys, nkeys == 1 ? "" : "s");
}

static void *signal_thread(void *arg)
{
	struct signal_state *st = arg;
	unsigned stops = 0;
	for (;;) {
		int sig;
		if (sigwait(&st->set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reread_config(st);
			/* Certificates renewed on disk (certbot and friends)
			 * take effect for new connections; live ones keep
			 * theirs, so nothing is dropped. */
			pthread_mutex_lock(&st->lock);
			int rc = st->server ? tern_smtp_server_reload_tls(st->server) : 0;
			if (st->server && st->auth)
				ternd_auth_reload(st->auth);
			if (st->server && st->delivery->signing != NULL)
				reload_signing(st);
			pthread_mutex_unlock(&st->lock);
			if (rc == TERN_ESTATE)
				ternd_log(TERN_LOG_INFO, NULL, "SIGHUP: no TLS to reload");
			else if (rc != 0)
				ternd_log(TERN_LOG_ERROR, NULL,
					  "SIGHUP: TLS reload failed (%s); the old certificates stay",
					  tern_strerror(rc));
			continue;
		}
		/* Repeated stop signals (service managers and scripts send
		 * them) change nothing: the drain is already bounded by
		 * --close-timeout, and SIGKILL is there for "now" (acknowledged
		 * mail is durable either way). */
		if (++stops > 1) {
			ternd_log(TERN_LOG_INFO, NULL, "%s: already closing", signal_name(sig));
			continue;
		}
		ternd_log(TERN_LOG_INFO, NULL, "%s: closing, draining open sessions",
			  signal_name(sig));
		pthread_mutex_lock(&st->lock);
		if (st->server != NULL)
			tern_smtp_server_close(st->server);
		pthread_mutex_unlock(&st->lock);
	}
	return NULL;
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "ternd: %s\nTry 'ternd --help' for more information.\n", msg);
	return TERND_EX_USAGE;
}

/* Creates the server and adds every listen address; shared by the real run
 * and --check-config (which validates through the library itself). */
static int make_server(const struct ternd_config *cfg, const tern_smtp_options *opts,
		       tern_smtp_server **server_r)
{
	int rc = tern_smtp_server_new(server_r, opts);
	if (rc != 0) {
		fprintf(stderr, "ternd: cannot create the server: %s\n", tern_strerror(rc));
		return rc == TERN_EINVAL ? TERND_EX_USAGE : TERND_EX_SOFTWARE;
	}
	/* Three kinds of listener (docs/ternd.md): --listen (port 25 style:
	 * STARTTLS offered when there is a certificate), --submission (587:
	 * TLS before mail, RFC 3207), --tls-listen (465: implicit TLS, RFC
	 * 8314). */
	/* AUTH (with --users): required on the submission listeners,
	 * optional on --listen unless --require-auth. */
	bool users = cfg->users_file != NULL;
	enum tern_smtp_auth_mode plain_auth = !users ? TERN_SMTP_AUTH_OFF
				   : cfg->require_auth ? TERN_SMTP_AUTH_REQUIRED
						       : TERN_SMTP_AUTH_OPTIONAL;
	enum tern_smtp_auth_mode sub_auth = users ? TERN_SMTP_AUTH_REQUIRED : TERN_SMTP_AUTH_OFF;
	struct {
		const char *flag;
		char *const *addrs;
		unsigned n;
		bool secure, require_tls;
		enum tern_smtp_auth_mode auth;
	} kinds[] = {
		{"--listen", cfg->listen, cfg->listen_count, false, cfg->require_tls, plain_auth},
		{"--submission", cfg->submission, cfg->submission_count, false, true, sub_auth},
		{"--tls-listen", cfg->tls_listen, cfg->tls_listen_count, true, false, sub_auth},
	};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (unsigned i = 0; i < kinds[k].n; i++) {
			tern_smtp_listen_options lo;

			tern_smtp_listen_options_init(&lo);
			lo.secure = kinds[k].secure;
			lo.require_tls = kinds[k].require_tls;
			/* postscreen's pregreet test where strangers connect
			 * (port 25): a real MTA waits for the greeting; spam
			 * engines often talk first. Submission clients and LMTP
			 * peers are known: no delay unless asked. */
			if (cfg->greeting_delay_set)
				lo.greeting_delay = cfg->greeting_delay;
			else
				lo.greeting_delay = k == 0 && !cfg->lmtp ? DEFAULT_PORT25_DELAY_MS : 0;
			lo.auth = kinds[k].auth;
			lo.allow_insecure_auth = cfg->allow_insecure_auth;
			rc = tern_smtp_server_listen_ex(*server_r, kinds[k].addrs[i], &lo);
			if (rc != 0) {
				fprintf(stderr, "ternd: %s %s: %s\n", kinds[k].flag, kinds[k].addrs[i],
					rc == TERN_EINVAL ? "needs a TLS certificate"
							  : tern_strerror(rc));
				tern_smtp_server_close(*server_r);
				tern_smtp_server_destroy(server_r);
				return rc == TERN_EADDR || rc == TERN_EINVAL ? TERND_EX_USAGE
									     : TERND_EX_SOFTWARE;
			}
		}
	}
	return TERND_EX_OK;
}

/* Certificates: the --tls-cert/--tls-key pairs, or else a self-signed one
 * for our host name in the state directory (not for --check-config, which
 * writes nothing). Fills the NULL-terminated lists opts points to. Returns
 * TERND_EX_OK, or an exit status after saying why. */
struct tls_files {
	const char *certs[TERND_MAX_TLS_CERTS + 1];
	const char *keys[TERND_MAX_TLS_CERTS + 1];
	char *made_cert, *made_key;
};

static int setup_tls(const struct ternd_config *cfg, struct tls_files *tf, tern_smtp_options *opts)
{
	memset(tf, 0, sizeof(*tf));
	for (unsigned i = 0; i < cfg->tls_cert_count; i++) {
		tf->certs[i] = cfg->tls_cert[i];
		tf->keys[i] = cfg->tls_key[i];
	}
	if (cfg->tls_cert_count == 0 && !cfg->check_config) {
		char host[256] = "localhost", err[512];
		bool made = false;

		if (cfg->hostname)
			snprintf(host, sizeof(host), "%s", cfg->hostname);
		else if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
			snprintf(host, sizeof(host), "localhost");
		int rc = ternd_selfsigned_ensure(cfg->state_dir, host, &tf->made_cert,
						 &tf->made_key, &made, err, sizeof(err));
		if (rc != 0) {
			bool needed = cfg->submission_count || cfg->tls_listen_count ||
				      cfg->require_tls;

			ternd_log(needed ? TERN_LOG_ERROR : TERN_LOG_WARNING, NULL,
				  "no --tls-cert, and no self-signed certificate: %s%s", err,
				  needed ? "" : "; STARTTLS is not offered");
			if (needed)
				return TERND_EX_CANTCREAT;
		} else {
			ternd_log(TERN_LOG_WARNING, NULL,
				  "no --tls-cert: %s self-signed certificate for %s (%s); mail "
				  "clients that check certificates will refuse it",
				  made ? "made a" : "using the", host, tf->made_cert);
			tf->certs[0] = tf->made_cert;
			tf->keys[0] = tf->made_key;
		}
	}
	if (tf->certs[0] != NULL) {
		opts->tls_cert_files = tf->certs;
		opts->tls_key_files = tf->keys;
	}
	opts->tls_min_version = cfg->tls_min_version == TERND_TLS_1_3 ? TERN_TLS_1_3 : TERN_TLS_1_2;
	opts->tls_ciphers = cfg->tls_ciphers;
	opts->tls_ciphersuites = cfg->tls_ciphersuites;
	opts->tls_client_ca_file = cfg->tls_client_ca;
	return TERND_EX_OK;
}

static void free_tls(struct tls_files *tf)
{
	free(tf->made_cert);
	free(tf->made_key);
}

static void startup_line(const struct ternd_config *cfg)
{
	char line[4096];
	size_t n = (size_t)snprintf(line, sizeof(line), "ternd: listening on ");
	unsigned shown = 0;
	for (unsigned i = 0; i < cfg->listen_count && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", shown++ ? ", " : "",
				      cfg->listen[i]);
	for (unsigned i = 0; i < cfg->submission_count && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s (submission)",
				      shown++ ? ", " : "", cfg->submission[i]);
	for (unsigned i = 0; i < cfg->tls_listen_count && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s (TLS)", shown++ ? ", " : "",
				      cfg->tls_listen[i]);
	if (n < sizeof(line) && cfg->lmtp)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " (LMTP)");
	if (n < sizeof(line)) {
		if (cfg->discard)
			snprintf(line + n, sizeof(line) - n, ", discarding messages");
		else
			snprintf(line + n, sizeof(line) - n, ", maildir %s", cfg->maildir);
	}
	fprintf(stderr, "%s\n", line);
}

/* After the switch to --user: the Maildir root must be writable, or no
 * mail could ever be stored; files that SIGHUP re-reads should be
 * readable, or the next reload fails (said now, not at the reload). */
static int check_as_user(const struct ternd_config *cfg, const struct tls_files *tf)
{
	if (!cfg->discard && access(cfg->maildir, W_OK | X_OK) != 0) {
		fprintf(stderr,
			"ternd: --maildir %s: user %s cannot write there (%s); give it to the user "
			"(chown -R %s) or use a directory ternd creates\n",
			cfg->maildir, cfg->user, strerror(errno), cfg->user);
		return TERND_EX_CANTCREAT;
	}
	const char *files[2 * TERND_MAX_TLS_CERTS + 3];
	size_t n = 0;
	for (size_t i = 0; tf->certs[i] != NULL; i++) {
		files[n++] = tf->certs[i];
		files[n++] = tf->keys[i];
	}
	files[n++] = cfg->users_file;
	files[n++] = cfg->config_file;
	for (size_t i = 0; i < n; i++) {
		if (files[i] != NULL && access(files[i], R_OK) != 0)
			ternd_log(TERN_LOG_WARNING, NULL,
				  "user %s cannot read %s (%s): a SIGHUP will not reload it",
				  cfg->user, files[i], strerror(errno));
	}
	return TERND_EX_OK;
}

/* What ternd created while root (directories from the first missing one
 * down) goes to the --user, which has to write or re-read it later. */
static void give_to_user(char *created, const char *path, const struct ternd_user *u,
			 const char *flag)
{
	if (created == NULL)
		return;
	int err = ternd_chown_created(created, path, u);
	if (err != 0)
		ternd_log(TERN_LOG_WARNING, NULL, "%s %s: cannot give it to %s: %s", flag, path,
			  u->name, strerror(err));
	free(created);
}

static int run(struct ternd_config *cfg, int argc, char **argv)
{
	ternd_log_set_level(cfg->log_level);
	ternd_log_set_output(cfg->log_kv, cfg->log_syslog);

	/* --user: root opens and binds what needs root, then becomes the
	 * user (ternd_drop_privileges) before a session starts. Running as
	 * root without it works, as it always did, but is worth a warning. */
	struct ternd_user user = {0};
	if (cfg->user != NULL && !cfg->check_config) {
		char uerr[512];

		if (geteuid() != 0) {
			fprintf(stderr, "ternd: --user %s: only root can switch users\n", cfg->user);
			return TERND_EX_USAGE;
		}
		if (ternd_user_lookup(&user, cfg->user, uerr, sizeof(uerr)) != 0) {
			fprintf(stderr, "ternd: %s\n", uerr);
			return TERND_EX_USAGE;
		}
	} else if (geteuid() == 0 && !cfg->check_config) {
		ternd_log(TERN_LOG_WARNING, NULL,
			  "running as root: --user NAME switches to NAME after binding");
	}

	/* A vanished client must be an error return, not a dead daemon; a
	 * file size limit must be EFBIG (552 5.3.4), not a killed process. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);

	struct ternd_delivery delivery = {.lmtp = cfg->lmtp, .discard = cfg->discard};
	tern_smtp_options opts;
	tern_smtp_options_init(&opts);
	ternd_config_to_options(cfg, &opts);
	ternd_delivery_install(&delivery, &opts);

	tern_smtp_server *server = NULL;
	struct ternd_auth auth;
	memset(&auth, 0, sizeof(auth));
	if ((cfg->submission_count || cfg->tls_listen_count || cfg->require_auth) &&
	    !cfg->users_file) {
		/* Submission means authenticated users; without a users file
		 * nobody could ever send there. */
		fprintf(stderr, "ternd: --submission, --tls-listen and --require-auth need --users\n");
		return TERND_EX_USAGE;
	}
	if (cfg->users_file) {
		int arc = ternd_auth_open(&auth, cfg);
		if (arc != TERND_EX_OK)
			return arc;
		delivery.auth = &auth;
		ternd_auth_install(&auth, cfg, &opts);
	}
	struct tls_files tf;
	char *state_created = user.name != NULL ? ternd_missing_prefix(cfg->state_dir) : NULL;
	int rc = setup_tls(cfg, &tf, &opts);
	if (rc != TERND_EX_OK) {
		free(state_created);
		ternd_auth_close(&auth);
		return rc;
	}
	if (state_created != NULL) {
		/* A new state directory: its certificate was made just now,
		 * and SIGHUP re-reads it as the user. */
		if (tf.made_cert != NULL) {
			give_to_user(strdup(state_created), tf.made_cert, &user, "--state-dir");
			give_to_user(strdup(state_created), tf.made_key, &user, "--state-dir");
		}
		give_to_user(state_created, cfg->state_dir, &user, "--state-dir");
	}
	if (cfg->check_config) {
		rc = make_server(cfg, &opts, &server);
		free_tls(&tf);
		ternd_auth_close(&auth);
		if (rc != TERND_EX_OK)
			return rc;
		tern_smtp_server_close(server);
		tern_smtp_server_destroy(&server);
		ternd_config_print(cfg, stdout);
		return TERND_EX_OK;
	}

	if (!cfg->discard) {
		char *created = user.name != NULL ? ternd_missing_prefix(cfg->maildir) : NULL;
		int err = maildir_open(&delivery.md, cfg->maildir, cfg->hostname);
		if (err == 0)
			give_to_user(created, cfg->maildir, &user, "--maildir");
		else
			free(created);
		if (err != 0) {
			fprintf(stderr, "ternd: --maildir %s: %s\n", cfg->maildir, strerror(err));
			free_tls(&tf);
			ternd_auth_close(&auth);
			return TERND_EX_CANTCREAT;
		}
		unsigned removed = 0;
		/* maildir(5): clean tmp/ of files left by a crash. */
		err = maildir_clean_tmp(delivery.md, time(NULL), MAILDIR_STALE_SECONDS, &removed);
		if (err != 0)
			ternd_log(TERN_LOG_WARNING, NULL, "cannot clean stale tmp files: %s",
				  strerror(err));
		else if (removed > 0)
			ternd_log(TERN_LOG_INFO, NULL, "removed %u stale tmp file%s", removed,
				  removed == 1 ? "" : "s");
	}

	/* Block the stop signals before the library can start any thread, so
	 * every worker inherits the mask and only the signal thread receives
	 * them; one arriving before that thread exists waits, pending. */
	struct signal_state st = {.lock = PTHREAD_MUTEX_INITIALIZER};
	sigemptyset(&st.set);
	sigaddset(&st.set, SIGTERM);
	sigaddset(&st.set, SIGINT);
	sigaddset(&st.set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &st.set, NULL);

	/* DKIM keys of our domains (ternd domain add), read before root is
	 * given up: they are private. */
	struct ternd_signing_slot *signing = NULL;
	if (!cfg->discard) {
		struct ternd_signing *keys = NULL;
		char serr[512];
		unsigned ndom, nkeys;

		if (ternd_signing_load(&keys, cfg->state_dir, serr, sizeof(serr)) != 0) {
			fprintf(stderr, "ternd: DKIM keys: %s\n", serr);
			maildir_close(&delivery.md);
			free_tls(&tf);
			ternd_auth_close(&auth);
			return TERND_EX_NOINPUT;
		}
		ternd_signing_counts(keys, &ndom, &nkeys);
		if (nkeys > 0)
			ternd_log(TERN_LOG_INFO, NULL, "DKIM signing for %u domain%s with %u key%s",
				  ndom, ndom == 1 ? "" : "s", nkeys, nkeys == 1 ? "" : "s");
		if (ternd_signing_slot_new(&signing, keys) != 0) {
			fprintf(stderr, "ternd: out of memory\n");
			maildir_close(&delivery.md);
			free_tls(&tf);
			ternd_auth_close(&auth);
			return TERND_EX_SOFTWARE;
		}
		delivery.signing = signing;
	}

	rc = make_server(cfg, &opts, &server);
	if (rc != TERND_EX_OK) {
		ternd_signing_slot_free(&signing);
		maildir_close(&delivery.md);
		free_tls(&tf);
		ternd_auth_close(&auth);
		return rc;
	}

	/* The MTA-STS policy host binds as root too (443), and reads its
	 * certificates' keys now; it serves once ternd runs as the user. It
	 * binds before the mail listeners, so that a client that finds the
	 * SMTP port open finds this one open too. */
	int status = TERND_EX_OK;
	struct ternd_mta_sts *mta_sts = NULL;
	if (cfg->mta_sts_listen != NULL) {
		int mrc = ternd_mta_sts_open(&mta_sts, cfg->mta_sts_listen, cfg->state_dir,
					     tf.certs, tf.keys);
		if (mrc != 0)
			status = mrc == TERN_EIO ? TERND_EX_OSERR : TERND_EX_USAGE;
	}

	/* Bind first, so "listening" is only said once it is true, and so
	 * that port 25 is ours before root is given up. */
	unsigned workers = ternd_config_workers(cfg);
	rc = tern_smtp_server_open(server, workers);
	int saved_errno = errno;
	if (rc == 0 && status == TERND_EX_OK)
		ternd_log(TERN_LOG_INFO, NULL, "%u event loop%s%s", workers, workers == 1 ? "" : "s",
			  cfg->workers == TERND_WORKERS_AUTO ? " (one per CPU)" : "");
	if (rc == 0 && status == TERND_EX_OK && user.name != NULL) {
		char uerr[512];

		if (ternd_drop_privileges(&user, uerr, sizeof(uerr)) != 0) {
			fprintf(stderr, "ternd: %s\n", uerr);
			status = TERND_EX_OSERR;
		} else {
			ternd_log(TERN_LOG_INFO, NULL, "running as %s (uid %u, gid %u)", user.name,
				  (unsigned)user.uid, (unsigned)user.gid);
			status = check_as_user(cfg, &tf);
		}
	}

	/* The metrics listener reads the open server; it is stopped before
	 * the server is destroyed. Bound as the --user too, like the rest
	 * of ternd's threads (its port is not a privileged one). */
	struct ternd_metrics *metrics = NULL;
	if (rc == 0 && status == TERND_EX_OK && cfg->metrics != NULL) {
		rc = ternd_metrics_start(&metrics, cfg->metrics, server);
		saved_errno = errno;
	}
	if (rc == 0 && status == TERND_EX_OK && mta_sts != NULL &&
	    ternd_mta_sts_start(mta_sts) != 0)
		status = TERND_EX_OSERR;

	/* Routing and the queue, after the switch too: the queue's files
	 * belong to the user ternd runs as. Not for --discard (benchmarks). */
	struct ternd_routing routing;
	struct ternd_outbound *outbound = NULL;
	bool routing_made = false;
	if (rc == 0 && status == TERND_EX_OK) {
		if (ternd_routing_init(&routing, cfg, cfg->users_file ? auth.db : NULL) != 0) {
			fprintf(stderr, "ternd: out of memory\n");
			status = TERND_EX_SOFTWARE;
		} else {
			routing_made = true;
			delivery.routing = &routing;
		}
	}
	if (rc == 0 && status == TERND_EX_OK && !cfg->discard) {
		/* Without --domain or --lmtp-to the queue only serves the
		 * pickup directory (sendmail): ternd can run without it. */
		bool needed = cfg->domain_count > 0 || cfg->lmtp_to != NULL;
		int orc = ternd_outbound_open(&outbound, cfg, &routing,
					      cfg->lmtp_to != NULL ? NULL : delivery.md);

		if (orc != TERND_EX_OK && needed)
			status = orc;
		else if (orc != TERND_EX_OK)
			ternd_log(TERN_LOG_WARNING, NULL,
				  "no outbound queue: mail dropped by sendmail into the pickup "
				  "directory waits until ternd can open it");
		delivery.ob = outbound;
		delivery.local_via_queue = cfg->lmtp_to != NULL;
	}
	/* Inbound checks: their per-loop contexts are made by the loops
	 * themselves on first use. */
	struct ternd_checks *checks = NULL;
	if (rc == 0 && status == TERND_EX_OK && !cfg->discard) {
		char host[256] = "localhost";

		if (cfg->hostname)
			snprintf(host, sizeof(host), "%s", cfg->hostname);
		else if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
			snprintf(host, sizeof(host), "localhost");
		if (ternd_checks_init(&checks, cfg, host) != 0) {
			fprintf(stderr, "ternd: out of memory\n");
			status = TERND_EX_SOFTWARE;
		}
		delivery.checks = checks;
	}

	/* The signal thread starts after the switch: no thread of ours
	 * ever runs with root's credentials next to a session. A signal sent
	 * before it exists waits, pending. */
	st.server = server;
	st.auth = cfg->users_file ? &auth : NULL;
	st.cfg = cfg;
	st.argc = argc;
	st.argv = argv;
	st.opts = &opts;
	st.delivery = &delivery;
	pthread_t sig_tid;
	bool sig_thread = false;
	if (rc == 0 && status == TERND_EX_OK) {
		int perr = pthread_create(&sig_tid, NULL, signal_thread, &st);
		if (perr != 0) {
			fprintf(stderr, "ternd: cannot start the signal thread: %s\n",
				strerror(perr));
			status = TERND_EX_OSERR;
		} else {
			sig_thread = true;
			startup_line(cfg);
			rc = tern_smtp_server_run(server, workers);
			saved_errno = errno;
		}
	}

	if (sig_thread) {
		pthread_mutex_lock(&st.lock);
		st.server = NULL;
		pthread_mutex_unlock(&st.lock);
		pthread_cancel(sig_tid);
		pthread_join(sig_tid, NULL);
		if (st.have_applied)
			ternd_config_free(&st.applied);
	}

	if (status != TERND_EX_OK) {
		/* said above */
	} else if (rc != 0) {
		if (rc == TERN_EIO)
			fprintf(stderr, "ternd: cannot listen: %s\n", strerror(saved_errno));
		else
			fprintf(stderr, "ternd: %s\n", tern_strerror(rc));
		status = rc == TERN_EIO ? TERND_EX_OSERR : TERND_EX_SOFTWARE;
	} else {
		ternd_log(TERN_LOG_INFO, NULL, "all sessions closed, exiting");
	}
	ternd_metrics_stop(&metrics);
	ternd_mta_sts_stop(&mta_sts);
	tern_smtp_server_close(server);
	/* Every session has ended; the loops the contexts' resolvers run on
	 * go with the server. */
	ternd_checks_free(&checks);
	tern_smtp_server_destroy(&server);
	/* After the sessions (they write into the queue), before the
	 * Maildir (the runner delivers into it). */
	ternd_outbound_close(&outbound);
	if (routing_made)
		ternd_routing_free(&routing);
	maildir_close(&delivery.md);
	ternd_signing_slot_free(&signing);
	free_tls(&tf);
	ternd_auth_close(&auth);
	return status;
}

int main(int argc, char **argv)
{
	/* Called as sendmail or mailq (a link to ternd), the usual commands. */
	const char *base = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 : argv[0];
	if (strcmp(base, "sendmail") == 0)
		return ternd_sendmail_main(argc, argv);
	if (strcmp(base, "mailq") == 0) {
		char *list[] = {"queue", "list", NULL};
		return ternd_queue_main(2, list, getenv("TERND_STATE_DIR") != NULL
							 ? getenv("TERND_STATE_DIR")
							 : TERND_DEFAULT_STATE_DIR);
	}
	/* Subcommands first: they have flags of their own. */
	if (argc > 1 && strcmp(argv[1], "sendmail") == 0)
		return ternd_sendmail_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "passwd") == 0)
		return ternd_passwd_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "queue") == 0)
		return ternd_queue_main(argc - 1, argv + 1, TERND_DEFAULT_STATE_DIR);
	if (argc > 1 && strcmp(argv[1], "domain") == 0)
		return ternd_domain_main(argc - 1, argv + 1, TERND_DEFAULT_STATE_DIR);
	struct ternd_config cfg;
	char err[1024];
	ternd_config_init(&cfg);
	int rc = ternd_config_parse(&cfg, argc, argv, err, sizeof(err));
	if (cfg.collect_problems && !cfg.help && !cfg.version &&
	    (rc == TERND_EX_OK || cfg.problem_count > 0)) {
		/* --check-config: every problem parsing found, then the files
		 * and the user; all of them, then 64. Clean: the library's
		 * own check (make_server) and the effective configuration. */
		ternd_check_files(&cfg);
		for (unsigned i = 0; i < cfg.problem_count; i++)
			fprintf(stderr, "ternd: %s\n",
				cfg.problems != NULL && cfg.problems[i] != NULL ? cfg.problems[i]
										: "out of memory");
		if (cfg.problem_count > 0) {
			fprintf(stderr, "ternd: %u problem%s found\n", cfg.problem_count,
				cfg.problem_count == 1 ? "" : "s");
			rc = TERND_EX_USAGE;
		} else {
			rc = run(&cfg, argc, argv);
		}
	} else if (rc == TERND_EX_USAGE) {
		rc = usage_error(err);
	} else if (rc != TERND_EX_OK) {
		fprintf(stderr, "ternd: %s\n", err);
	} else if (cfg.help) {
		ternd_config_usage(stdout);
	} else if (cfg.version) {
		printf("ternd %s (libtern %s)\n", TERN_VERSION_STRING, tern_version());
	} else {
		rc = run(&cfg, argc, argv);
	}
	ternd_config_free(&cfg);
	return rc;
}
