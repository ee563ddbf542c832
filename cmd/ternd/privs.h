/* ternd's switch from root to an unprivileged user (--user).
 *
 * The order, as Postfix's master does it: everything that needs root
 * happens first (reading the users file and certificates, making the
 * state directory and the Maildir root, binding port 25), then the process
 * takes the user's supplementary groups, gid and uid, and proves it cannot
 * take root back; only then do sessions start. What ternd made itself
 * while still root is given to the user, so that it can write mail and
 * SIGHUP can re-read the generated certificate. */
#ifndef TERND_PRIVS_H
#define TERND_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

struct ternd_user {
	const char *name; /* the caller's string */
	uid_t uid;
	gid_t gid;
};

/* Looks NAME up in the user database. Returns 0, or -1 with a message
 * ("no such user", uid 0, ...) in err. Does not copy name: u->name points
 * to it. */
int ternd_user_lookup(struct ternd_user *u, const char *name, char *err, size_t errlen);

/* The topmost component of path that does not exist yet (a malloc'd
 * prefix of path), or NULL when path exists (or on error). Call before
 * something creates path with its parents. */
char *ternd_missing_prefix(const char *path);

/* Gives to u every directory from created (a result of
 * ternd_missing_prefix) down to path. Returns 0 or an errno value. */
int ternd_chown_created(const char *created, const char *path, const struct ternd_user *u);

/* initgroups, setgid, setuid, then checks that the ids are u's and that
 * setuid(0) fails. Returns 0, or -1 with a message in err. */
int ternd_drop_privileges(const struct ternd_user *u, char *err, size_t errlen);

#endif
