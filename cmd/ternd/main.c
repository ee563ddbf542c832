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

#include "tern/smtp.h"

#include "config.h"
#include "delivery.h"
#include "log.h"
#include "maildir.h"

/* The signal thread reaches the server through this, under the lock, so a
 * late signal can never touch a server that main() is destroying. */
struct signal_state {
	pthread_mutex_t lock;
	tern_smtp_server *server;
	sigset_t set;
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

static void *signal_thread(void *arg)
{
	struct signal_state *st = arg;
	unsigned stops = 0;
	for (;;) {
		int sig;
		if (sigwait(&st->set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			ternd_log(TERN_LOG_WARNING, NULL, "SIGHUP ignored: reloading is not supported yet");
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
	for (unsigned i = 0; i < cfg->listen_count; i++) {
		rc = tern_smtp_server_listen(*server_r, cfg->listen[i]);
		if (rc != 0) {
			fprintf(stderr, "ternd: --listen %s: %s\n", cfg->listen[i], tern_strerror(rc));
			tern_smtp_server_close(*server_r);
			tern_smtp_server_destroy(server_r);
			return rc == TERN_EADDR ? TERND_EX_USAGE : TERND_EX_SOFTWARE;
		}
	}
	return TERND_EX_OK;
}

static void startup_line(const struct ternd_config *cfg)
{
	char line[4096];
	size_t n = (size_t)snprintf(line, sizeof(line), "ternd: listening on ");
	for (unsigned i = 0; i < cfg->listen_count && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", i > 0 ? ", " : "",
				      cfg->listen[i]);
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

static int run(struct ternd_config *cfg)
{
	ternd_log_set_level(cfg->log_level);

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
	int rc;
	if (cfg->check_config) {
		rc = make_server(cfg, &opts, &server);
		if (rc != TERND_EX_OK)
			return rc;
		tern_smtp_server_close(server);
		tern_smtp_server_destroy(&server);
		ternd_config_print(cfg, stdout);
		return TERND_EX_OK;
	}

	if (!cfg->discard) {
		int err = maildir_open(&delivery.md, cfg->maildir, cfg->hostname);
		if (err != 0) {
			fprintf(stderr, "ternd: --maildir %s: %s\n", cfg->maildir, strerror(err));
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

	rc = make_server(cfg, &opts, &server);
	if (rc != TERND_EX_OK) {
		maildir_close(&delivery.md);
		return rc;
	}

	st.server = server;
	pthread_t sig_tid;
	int perr = pthread_create(&sig_tid, NULL, signal_thread, &st);
	if (perr != 0) {
		fprintf(stderr, "ternd: cannot start the signal thread: %s\n", strerror(perr));
		tern_smtp_server_close(server);
		tern_smtp_server_destroy(&server);
		maildir_close(&delivery.md);
		return TERND_EX_OSERR;
	}

	/* Bind first, so "listening" is only said once it is true. */
	rc = tern_smtp_server_open(server, cfg->workers);
	if (rc == 0) {
		startup_line(cfg);
		rc = tern_smtp_server_run(server, cfg->workers);
	}
	int saved_errno = errno;

	pthread_mutex_lock(&st.lock);
	st.server = NULL;
	pthread_mutex_unlock(&st.lock);
	pthread_cancel(sig_tid);
	pthread_join(sig_tid, NULL);

	int status = TERND_EX_OK;
	if (rc != 0) {
		if (rc == TERN_EIO)
			fprintf(stderr, "ternd: cannot listen: %s\n", strerror(saved_errno));
		else
			fprintf(stderr, "ternd: %s\n", tern_strerror(rc));
		status = rc == TERN_EIO ? TERND_EX_OSERR : TERND_EX_SOFTWARE;
	} else {
		ternd_log(TERN_LOG_INFO, NULL, "all sessions closed, exiting");
	}
	tern_smtp_server_close(server);
	tern_smtp_server_destroy(&server);
	maildir_close(&delivery.md);
	return status;
}

int main(int argc, char **argv)
{
	struct ternd_config cfg;
	char err[1024];
	ternd_config_init(&cfg);
	int rc = ternd_config_parse(&cfg, argc, argv, err, sizeof(err));
	if (rc == TERND_EX_USAGE) {
		rc = usage_error(err);
	} else if (rc != TERND_EX_OK) {
		fprintf(stderr, "ternd: %s\n", err);
	} else if (cfg.help) {
		ternd_config_usage(stdout);
	} else if (cfg.version) {
		printf("ternd %s (libtern %s)\n", TERN_VERSION_STRING, tern_version());
	} else {
		rc = run(&cfg);
	}
	ternd_config_free(&cfg);
	return rc;
}
