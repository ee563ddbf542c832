/* ternd --user: see privs.h. */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ternd_user_lookup(struct ternd_user *u, const char *name, char *err, size_t errlen)
{
	struct passwd pw, *found = NULL;
	long size = sysconf(_SC_GETPW_R_SIZE_MAX);
	char *buf;
	int e;

	memset(u, 0, sizeof(*u));
	if (size < 16384)
		size = 16384;
	buf = malloc((size_t)size);
	if (buf == NULL) {
		snprintf(err, errlen, "--user %s: out of memory", name);
		return -1;
	}
	e = getpwnam_r(name, &pw, buf, (size_t)size, &found);
	if (found == NULL) {
		if (e == 0 || e == ENOENT || e == ESRCH)
			snprintf(err, errlen, "--user %s: no such user", name);
		else
			snprintf(err, errlen, "--user %s: cannot look it up: %s", name, strerror(e));
		free(buf);
		return -1;
	}
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	free(buf);
	if (u->uid == 0) {
		snprintf(err, errlen, "--user %s: has uid 0; name an unprivileged user", name);
		return -1;
	}
	u->name = name;
	return 0;
}

char *ternd_missing_prefix(const char *path)
{
	struct stat st;
	char *buf = strdup(path);

	if (buf == NULL || stat(path, &st) == 0) {
		free(buf);
		return NULL;
	}
	/* Walk down from the top; the first component that is missing is
	 * where creating path starts. */
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (stat(buf, &st) != 0 && errno == ENOENT)
			return buf;
		if (c == '\0')
			break;
		*p = c;
	}
	free(buf);
	return NULL;
}

int ternd_chown_created(const char *created, const char *path, const struct ternd_user *u)
{
	size_t len = strlen(created);
	char *buf;

	if (strncmp(path, created, len) != 0)
		return EINVAL;
	buf = strdup(path);
	if (buf == NULL)
		return ENOMEM;
	/* created, then each deeper component, then path itself. */
	for (size_t i = len;; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (buf[0] != '\0' && chown(buf, u->uid, u->gid) != 0) {
			int e = errno;
			free(buf);
			return e;
		}
		if (c == '\0')
			break;
		buf[i] = c;
	}
	free(buf);
	return 0;
}

int ternd_drop_privileges(const struct ternd_user *u, char *err, size_t errlen)
{
	/* Groups first: after setuid() there is no right to change them. */
	if (initgroups(u->name, u->gid) != 0) {
		snprintf(err, errlen, "--user %s: initgroups: %s", u->name, strerror(errno));
		return -1;
	}
	if (setgid(u->gid) != 0) {
		snprintf(err, errlen, "--user %s: setgid(%u): %s", u->name, (unsigned)u->gid,
			 strerror(errno));
		return -1;
	}
	/* As root, setuid() sets the real, effective and saved uid alike (and
	 * glibc applies it to every thread, the hashing threads included). */
	if (setuid(u->uid) != 0) {
		snprintf(err, errlen, "--user %s: setuid(%u): %s", u->name, (unsigned)u->uid,
			 strerror(errno));
		return -1;
	}
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0 ||
	    ruid != u->uid || euid != u->uid || suid != u->uid || rgid != u->gid ||
	    egid != u->gid || sgid != u->gid) {
		snprintf(err, errlen, "--user %s: the ids did not all change", u->name);
		return -1;
	}
	/* The proof OpenSSH and Postfix ask for: root must be out of reach. */
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "--user %s: root could be regained after setuid", u->name);
		return -1;
	}
	return 0;
}
