/* Opening and closing a user's store, its lock, UIDVALIDITY, folders,
 * STATUS, quota and the change counter. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fsutil.h"

static const struct {
	const char *name, *special;
} defaults[] = {
	{"INBOX", NULL},        {"Drafts", "\\Drafts"}, {"Sent", "\\Sent"},
	{"Junk", "\\Junk"},     {"Trash", "\\Trash"},   {"Archive", "\\Archive"},
};

static bool user_ok(const char *user)
{
	return user[0] != '\0' && user[0] != '.' && strchr(user, '@') != NULL &&
	       strchr(user, '/') == NULL && strlen(user) <= 255;
}

int st_lock(store *s, int op)
{
	while (flock(s->lockfd, op) != 0) {
		if (errno != EINTR)
			return errno;
	}
	return 0;
}

int st_uidvalidity_take(store *s, int64_t now, uint32_t *v_r)
{
	char buf[32] = "";
	int fd = openat(s->userfd, "ternd-uidvalidity", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, buf, sizeof(buf) - 1);
		buf[r > 0 ? r : 0] = '\0';
		close(fd);
	}
	uint64_t last = strtoull(buf, NULL, 10);
	uint64_t v = (uint64_t)(now > 0 ? now : 1);
	if (v <= last)
		v = last + 1;
	if (v >= UINT32_MAX)
		return ERANGE;
	/* Durable before any folder uses it: a rebuilt index must never hand
	 * out a value a client has seen. */
	int len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", v);
	fd = openat(s->userfd, "ternd-uidvalidity.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return errno;
	int err = fs_write_all(fd, buf, (size_t)len);
	if (err == 0 && fsync(fd) != 0)
		err = errno;
	close(fd);
	if (err == 0 && renameat(s->userfd, "ternd-uidvalidity.tmp", s->userfd,
				 "ternd-uidvalidity") != 0)
		err = errno;
	if (err == 0 && fsync(s->userfd) != 0)
		err = errno;
	*v_r = (uint32_t)v;
	return err;
}

/* Creates the folder's row and directories; caller holds the shared lock
 * and no transaction. */
static int folder_create(store *s, const char *name, const char *special, int64_t now)
{
	char dir[ST_NAME_MAX + 2];
	struct si_folder f;
	int err = si_folder_get(s, name, &f);
	if (err == 0)
		return EEXIST;
	if (err != ENOENT)
		return err;
	uint32_t uv;
	st_folder_dir(name, dir, sizeof(dir));
	/* Directories first: a crash leaves a directory without a row, which
	 * recovery indexes; never a row without its directory. */
	err = sf_make_folder(s, dir);
	if (err == 0)
		err = st_uidvalidity_take(s, now, &uv);
	if (err == 0)
		err = si_begin(s);
	if (err != 0)
		return err;
	err = si_folder_insert(s, name, special, uv);
	if (err == 0)
		err = si_meta_add(s, "change", 1);
	return err == 0 ? si_commit(s) : (si_rollback(s), err);
}

static void store_free(store *s)
{
	if (s->db != NULL)
		si_close(s);
	if (s->userfd >= 0)
		close(s->userfd);
	if (s->lockfd >= 0)
		close(s->lockfd);
	free(s->path);
	free(s);
}

static int open_dirs(store *s, const char *root, const char *user)
{
	size_t len = strlen(root) + strlen(user) + 2;
	if ((s->path = malloc(len)) == NULL)
		return ENOMEM;
	snprintf(s->path, len, "%s/%s", root, user);
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return errno;
	int err = fs_ensure_dir_at(rootfd, user, NULL);
	if (err == 0)
		err = fs_ensure_dir_at(rootfd, "tmp", NULL);
	if (err == 0 && (s->userfd = openat(rootfd, user, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						     O_CLOEXEC)) < 0)
		err = errno;
	close(rootfd);
	if (err == 0 &&
	    (s->lockfd = openat(s->userfd, "ternd-store.lock", O_RDWR | O_CREAT | O_CLOEXEC,
				0600)) < 0)
		err = errno;
	return err;
}

int store_open(store **s_r, const char *root, const char *user, unsigned flags, int64_t now)
{
	if (!user_ok(user))
		return EINVAL;
	store *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ENOMEM;
	s->userfd = s->lockfd = -1;
	sf_host(s->host);
	bool created = false;
	int err = open_dirs(s, root, user);
	/* Exclusive only to rebuild or recover: an ordinary open must not wait
	 * for another session's append in progress. */
	struct stat sb;
	bool exclusive = (flags & STORE_OPEN_RECOVER) ||
			 (err == 0 && fstatat(s->userfd, "index.db", &sb, 0) != 0);
	if (err == 0)
		err = st_lock(s, exclusive ? LOCK_EX : LOCK_SH);
	if (err == 0)
		err = si_open(s, &created);
	/* The default folders come with a new index only: one the user
	 * deleted stays deleted. */
	for (size_t i = 0; err == 0 && created && i < sizeof(defaults) / sizeof(defaults[0]);
	     i++) {
		err = folder_create(s, defaults[i].name, defaults[i].special, now);
		if (err == EEXIST)
			err = 0;
	}
	/* A new index beside existing files: they are indexed now, with new
	 * UIDVALIDITY values (the old UIDs are lost with the old index). */
	if (err == 0 && exclusive && (created || (flags & STORE_OPEN_RECOVER)))
		err = st_reconcile(s, now, created, NULL);
	if (s->lockfd >= 0)
		st_lock(s, LOCK_UN);
	if (err != 0) {
		store_free(s);
		return err;
	}
	*s_r = s;
	return 0;
}

void store_close(store **sp)
{
	if (*sp != NULL)
		store_free(*sp);
	*sp = NULL;
}

void store_set_notify(store *s, store_notify_fn *fn, void *arg)
{
	s->notify = fn;
	s->notify_arg = arg;
}

void store_set_hook(store *s, store_hook_fn *fn, void *arg)
{
	s->hook = fn;
	s->hook_arg = arg;
}

int store_recover(store *s, int64_t now, struct store_recovery *stats)
{
	int err = st_lock(s, LOCK_EX);
	if (err != 0)
		return err;
	err = st_reconcile(s, now, false, stats);
	st_lock(s, LOCK_UN);
	return err;
}

int store_change_counter(store *s, uint64_t *counter_r)
{
	int64_t v = 0;
	int err = si_meta_get(s, "change", &v);
	*counter_r = (uint64_t)v;
	return err;
}

int store_folders(store *s, struct store_folder **list_r, size_t *n_r)
{
	struct si_folder *fl;
	size_t n;
	*list_r = NULL;
	*n_r = 0;
	int err = si_folder_list(s, &fl, &n);
	if (err != 0)
		return err;
	struct store_folder *out = calloc(n ? n : 1, sizeof(*out));
	if (out == NULL)
		err = ENOMEM;
	for (size_t i = 0; err == 0 && i < n; i++) {
		if ((out[i].name = strdup(fl[i].name)) == NULL) {
			err = ENOMEM;
			break;
		}
		memcpy(out[i].special, fl[i].special, sizeof(out[i].special));
		out[i].subscribed = fl[i].subscribed;
		out[i].uidvalidity = fl[i].uidvalidity;
		out[i].uidnext = fl[i].uidnext;
		out[i].highestmodseq = fl[i].highestmodseq;
	}
	free(fl);
	if (err != 0) {
		store_folders_free(out, n);
		return err;
	}
	*list_r = out;
	*n_r = n;
	return 0;
}

void store_folders_free(struct store_folder *list, size_t n)
{
	for (size_t i = 0; list != NULL && i < n; i++)
		free(list[i].name);
	free(list);
}

static bool special_ok(const char *special)
{
	static const char *const ok[] = {"\\Drafts", "\\Sent",  "\\Junk",   "\\Trash",
					 "\\Archive", "\\All", "\\Flagged"};
	if (special == NULL)
		return true;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (strcmp(special, ok[i]) == 0)
			return true;
	}
	return false;
}

int store_folder_create(store *s, const char *name, const char *special, int64_t now)
{
	if (st_name_check(name) != 0 || strcasecmp(name, "INBOX") == 0 || !special_ok(special))
		return strcasecmp(name, "INBOX") == 0 ? EEXIST : EINVAL;
	int err = st_lock(s, LOCK_SH);
	if (err != 0)
		return err;
	err = folder_create(s, name, special, now);
	st_lock(s, LOCK_UN);
	if (err == 0)
		st_notify(s, STORE_EV_FOLDERS, name, 0);
	return err;
}

typedef char st_dirname[ST_NAME_MAX + 16];

/* Directory names of name and its children, from the index; ENOENT when
 * name is not a folder. */
static int tree_dirs(store *s, const char *name, st_dirname **dirs_r, size_t *n_r)
{
	struct si_folder *fl, f;
	size_t n, k = 0, len = strlen(name);
	int err = si_folder_get(s, name, &f);
	if (err == 0)
		err = si_folder_list(s, &fl, &n);
	if (err != 0)
		return err;
	st_dirname *dirs = calloc(n ? n : 1, sizeof(*dirs));
	if (dirs == NULL) {
		free(fl);
		return ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (strncmp(fl[i].name, name, len) == 0 &&
		    (fl[i].name[len] == '\0' || fl[i].name[len] == '.'))
			st_folder_dir(fl[i].name, dirs[k++], sizeof(dirs[0]));
	}
	free(fl);
	*dirs_r = dirs;
	*n_r = k;
	return 0;
}

/* Renames each from[i] to to[i] (a missing one is skipped), then fsyncs
 * the user's directory; after a failure the ones done are renamed back,
 * so the folders stay as the index says. */
static int move_dirs(store *s, st_dirname *from, st_dirname *to, size_t n)
{
	size_t i;
	int err = 0;
	for (i = 0; err == 0 && i < n; i++) {
		err = fs_rename_noreplace(s->userfd, from[i], s->userfd, to[i]);
		if (err == ENOENT)
			err = 0;
	}
	if (err == 0)
		return fsync(s->userfd) == 0 ? 0 : errno;
	for (i--; i-- > 0;)
		(void)renameat(s->userfd, to[i], s->userfd, from[i]);
	return err;
}

int store_folder_delete(store *s, const char *name)
{
	if (strcasecmp(name, "INBOX") == 0)
		return EPERM;
	if (st_name_check(name) != 0)
		return EINVAL;
	st_dirname *dirs = NULL, *to = NULL;
	size_t n = 0;
	int err = st_lock(s, LOCK_SH);
	if (err == 0)
		err = tree_dirs(s, name, &dirs, &n);
	if (err == 0 && (to = calloc(n ? n : 1, sizeof(*to))) == NULL)
		err = ENOMEM;
	/* Each directory moves aside to "..DELETED.X" first (atomic, hidden
	 * from Maildir++ readers), then the rows go, then the files: a crash
	 * leaves rows without directories (dropped by recovery) or leftovers
	 * that recovery removes, never a half-deleted folder that comes back. */
	for (size_t i = 0; err == 0 && i < n; i++)
		snprintf(to[i], sizeof(to[i]), "..DELETED%s", dirs[i]);
	if (err == 0)
		err = move_dirs(s, dirs, to, n);
	if (err == 0)
		st_point(s, "delete.aside");
	if (err == 0 && (err = si_begin(s)) == 0) {
		err = si_folder_delete_tree(s, name);
		if (err == 0)
			err = si_meta_add(s, "change", 1);
		err = err == 0 ? si_commit(s) : (si_rollback(s), err);
		if (err != 0)
			(void)move_dirs(s, to, dirs, n);
	}
	if (err == 0)
		st_point(s, "delete.committed");
	for (size_t i = 0; err == 0 && i < n; i++) {
		int e = sf_remove_tree(s->userfd, to[i]);
		if (e != 0 && e != ENOENT)
			err = e;
	}
	free(dirs);
	free(to);
	st_lock(s, LOCK_UN);
	if (err == 0)
		st_notify(s, STORE_EV_FOLDERS, name, 0);
	return err;
}

int store_folder_rename(store *s, const char *from, const char *to)
{
	if (strcasecmp(from, "INBOX") == 0)
		return EPERM; /* RFC 9051 moves INBOX's messages: later, if wanted */
	if (st_name_check(from) != 0 || st_name_check(to) != 0 || strcasecmp(to, "INBOX") == 0)
		return EINVAL;
	size_t fl = strlen(from);
	if (strncmp(to, from, fl) == 0 && to[fl] == '.')
		return EINVAL; /* into its own child */
	struct si_folder f;
	st_dirname *dirs = NULL, *to_dirs = NULL;
	size_t n = 0;
	int err = st_lock(s, LOCK_SH);
	if (err == 0)
		err = tree_dirs(s, from, &dirs, &n);
	if (err == 0 && (to_dirs = calloc(n ? n : 1, sizeof(*to_dirs))) == NULL)
		err = ENOMEM;
	/* The target names: none may exist (a child's too). */
	for (size_t i = 0; err == 0 && i < n; i++) {
		int len = snprintf(to_dirs[i], sizeof(to_dirs[i]), ".%s%s", to, dirs[i] + 1 + fl);
		if (len > ST_NAME_MAX + 1)
			err = ENAMETOOLONG;
		else if ((err = si_folder_get(s, to_dirs[i] + 1, &f)) == 0)
			err = EEXIST;
		else if (err == ENOENT)
			err = 0;
	}
	/* Directories first (each rename atomic), then the rows in one
	 * transaction. After a crash in between, recovery drops the rows whose
	 * directory moved and indexes the moved directories as new folders:
	 * no message is lost, their UIDs change. */
	if (err == 0)
		err = move_dirs(s, dirs, to_dirs, n);
	if (err == 0)
		st_point(s, "rename.moved");
	if (err == 0 && (err = si_begin(s)) == 0) {
		err = si_folder_rename_tree(s, from, to);
		if (err == 0)
			err = si_meta_add(s, "change", 1);
		err = err == 0 ? si_commit(s) : (si_rollback(s), err);
		if (err != 0)
			(void)move_dirs(s, to_dirs, dirs, n);
	}
	free(dirs);
	free(to_dirs);
	st_lock(s, LOCK_UN);
	if (err == 0)
		st_notify(s, STORE_EV_FOLDERS, to, 0);
	return err;
}

int store_folder_subscribe(store *s, const char *name, bool on)
{
	int err = si_begin(s);
	if (err != 0)
		return err;
	err = si_folder_subscribe(s, strcasecmp(name, "INBOX") == 0 ? "INBOX" : name, on);
	if (err == 0)
		err = si_meta_add(s, "change", 1);
	return err == 0 ? si_commit(s) : (si_rollback(s), err);
}

int store_status(store *s, const char *folder, struct store_status *st)
{
	struct si_folder f;
	memset(st, 0, sizeof(*st));
	/* One read transaction: the counts and uidnext agree. */
	int err = si_err(sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL));
	if (err != 0)
		return err;
	err = si_folder_get(s, strcasecmp(folder, "INBOX") == 0 ? "INBOX" : folder, &f);
	if (err == 0)
		err = si_folder_stats(s, f.id, &st->messages, &st->unseen, &st->size);
	si_rollback(s);
	if (err != 0)
		return err;
	st->uidnext = f.uidnext;
	st->uidvalidity = f.uidvalidity;
	st->highestmodseq = f.highestmodseq;
	st->recent = 0;
	return 0;
}

int store_quota_get(store *s, struct store_quota *q)
{
	int64_t v[4] = {0};
	static const char *const keys[] = {"bytes", "msgs", "limit_bytes", "limit_msgs"};
	int err = 0;
	for (size_t i = 0; err == 0 && i < 4; i++)
		err = si_meta_get(s, keys[i], &v[i]);
	q->bytes = (uint64_t)v[0];
	q->msgs = (uint64_t)v[1];
	q->limit_bytes = (uint64_t)v[2];
	q->limit_msgs = (uint64_t)v[3];
	return err;
}

int store_quota_set(store *s, uint64_t limit_bytes, uint64_t limit_msgs)
{
	if (limit_bytes > INT64_MAX || limit_msgs > INT64_MAX)
		return EINVAL;
	int err = si_begin(s);
	if (err != 0)
		return err;
	err = si_meta_set(s, "limit_bytes", (int64_t)limit_bytes);
	if (err == 0)
		err = si_meta_set(s, "limit_msgs", (int64_t)limit_msgs);
	return err == 0 ? si_commit(s) : (si_rollback(s), err);
}
