/* ternd --check-config's file and user checks: see check.h. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "privs.h"

/* Opened, not access()ed: the question is whether ternd can read it, and
 * a directory or a FIFO is not a file it can use. */
static void check_readable(struct ternd_config *cfg, const char *flag, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		ternd_config_problem(cfg, "%s %s: %s", flag, path, strerror(errno));
		return;
	}
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode))
		ternd_config_problem(cfg, "%s %s: not a regular file", flag, path);
	close(fd);
}

/* A directory ternd would create is fine; something else in its place is not. */
static void check_dir(struct ternd_config *cfg, const char *flag, const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			ternd_config_problem(cfg, "%s %s: not a directory", flag, path);
	} else if (errno != ENOENT) {
		ternd_config_problem(cfg, "%s %s: %s", flag, path, strerror(errno));
	}
}

void ternd_check_files(struct ternd_config *cfg)
{
	for (unsigned i = 0; i < cfg->tls_cert_count; i++)
		check_readable(cfg, "--tls-cert", cfg->tls_cert[i]);
	for (unsigned i = 0; i < cfg->tls_key_count; i++)
		check_readable(cfg, "--tls-key", cfg->tls_key[i]);
	if (cfg->tls_client_ca != NULL)
		check_readable(cfg, "--tls-client-ca", cfg->tls_client_ca);
	if (cfg->users_file != NULL)
		check_readable(cfg, "--users", cfg->users_file);
	else if (cfg->submission_count || cfg->tls_listen_count || cfg->require_auth)
		ternd_config_problem(cfg, "--submission, --tls-listen and --require-auth need --users");
	if (!cfg->discard && cfg->maildir != NULL)
		check_dir(cfg, "--maildir", cfg->maildir);
	if (cfg->state_dir != NULL)
		check_dir(cfg, "--state-dir", cfg->state_dir);
	if (cfg->user != NULL) {
		struct ternd_user u;
		char err[512];

		if (ternd_user_lookup(&u, cfg->user, err, sizeof(err)) != 0)
			ternd_config_problem(cfg, "%s", err);
		/* Not starting as root is not reported: the check may well run
		 * unprivileged, for a ternd that root will start. */
	}
}
