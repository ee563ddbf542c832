/* Appending and delivering: the message streams into a tmp/ file; at
 * commit the file is fsynced, renamed (or linked) into cur/ with its flags
 * in the name, the directory fsynced, then the index row committed. Only
 * then is the UID returned: a crash before leaves at most a file without a
 * row, which recovery indexes (docs/store.md). */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "../fsutil.h"

struct store_writer {
	store *s;          /* NULL for a delivery */
	int dirfd;         /* the directory tmp is relative to */
	int fd;
	int lockfd;        /* a shared flock held while tmp exists, or -1 */
	int err;           /* the first write error, reported at commit */
	char tmp[ST_PATH_MAX];
	char unique[ST_FILE_MAX - 32];
	char folder[ST_NAME_MAX + 1];
	unsigned flags;
	char *keywords;
	int64_t date;
	uint64_t size;
	store_hook_fn *hook; /* a delivery's, for the stores it opens */
	void *hook_arg;
};

static void writer_free(store_writer *w, bool unlink_tmp)
{
	if (w->fd >= 0)
		close(w->fd);
	if (unlink_tmp)
		unlinkat(w->dirfd, w->tmp, 0);
	if (w->lockfd >= 0)
		close(w->lockfd); /* releases the flock */
	if (w->s == NULL && w->dirfd >= 0)
		close(w->dirfd);
	free(w->keywords);
	free(w);
}

static int writer_new(int dirfd, const char *tmpdir, const char *host, int64_t date,
		      store_writer **w_r)
{
	store_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return ENOMEM;
	w->dirfd = dirfd;
	w->date = date;
	w->lockfd = -1;
	int err = sf_unique(host, date, w->unique, sizeof(w->unique));
	snprintf(w->tmp, sizeof(w->tmp), "%s/%s", tmpdir, w->unique);
	if (err == 0 && (w->fd = openat(dirfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
					 0600)) < 0)
		err = errno;
	if (err != 0) {
		w->fd = -1;
		free(w);
		return err;
	}
	*w_r = w;
	return 0;
}

int store_append_begin(store *s, const char *folder, unsigned flags, const char *keywords,
		       int64_t internaldate, store_writer **w_r)
{
	char dir[ST_NAME_MAX + 2], tmpdir[ST_NAME_MAX + 8];
	struct si_folder f;
	char *kw;
	if ((flags & ~(unsigned)STORE_FLAGS_ALL) != 0)
		return EINVAL;
	if (strcasecmp(folder, "INBOX") == 0)
		folder = "INBOX";
	int err = st_keywords_norm(keywords, &kw);
	if (err != 0)
		return err;
	err = si_folder_get(s, folder, &f);
	st_folder_dir(folder, dir, sizeof(dir));
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", dir);
	/* The tmp file must survive a recovery by another session, which
	 * empties tmp/ under the exclusive lock: hold it shared until commit
	 * or abort, on a file description of the writer's own (the handle's
	 * own lock comes and goes with each call). */
	int lockfd = -1;
	if (err == 0 && (lockfd = openat(s->userfd, "ternd-store.lock", O_RDWR | O_CLOEXEC)) < 0)
		err = errno;
	while (err == 0 && flock(lockfd, LOCK_SH) != 0)
		err = errno == EINTR ? 0 : errno;
	if (err == 0)
		err = writer_new(s->userfd, tmpdir, s->host, internaldate, w_r);
	if (err != 0) {
		if (lockfd >= 0)
			close(lockfd);
		free(kw);
		return err;
	}
	(*w_r)->lockfd = lockfd;
	(*w_r)->s = s;
	(*w_r)->flags = flags;
	(*w_r)->keywords = kw;
	snprintf((*w_r)->folder, sizeof((*w_r)->folder), "%s", folder);
	st_point(s, "append.opened");
	return 0;
}

int store_writer_write(store_writer *w, const void *buf, size_t len)
{
	if (w->err == 0)
		w->err = fs_write_all(w->fd, buf, len);
	w->size += len;
	return w->err;
}

void store_writer_abort(store_writer **wp)
{
	if (*wp != NULL)
		writer_free(*wp, true);
	*wp = NULL;
}

/* fsync and close of the tmp file. */
static int writer_finish(store_writer *w)
{
	int err = w->err;
	if (err == 0 && fsync(w->fd) != 0)
		err = errno;
	if (close(w->fd) != 0 && err == 0)
		err = errno;
	w->fd = -1;
	return err;
}

int st_index_file(store *s, const struct si_folder *f, const char *base, unsigned flags,
		  const char *keywords, int64_t internaldate, uint64_t size, uint32_t *uid_r)
{
	struct si_msg m = {.flags = flags, .internaldate = internaldate, .size = size};
	snprintf(m.base, sizeof(m.base), "%s", base);
	m.keywords = (char *)keywords;
	int err = si_folder_next_uid(s, f->id, &m.uid);
	if (err == 0)
		err = si_folder_next_modseq(s, f->id, &m.modseq);
	if (err == 0)
		err = si_msg_insert(s, f->id, &m);
	if (err == 0)
		err = si_meta_add(s, "change", 1);
	*uid_r = m.uid;
	return err;
}

/* Puts the finished file fromfd/from into folder's cur/ (rename, or link
 * when link) and indexes it. Takes the shared lock. */
static int add_file(store *s, int fromfd, const char *from, bool link, const char *folder,
		    const char *unique, unsigned flags, const char *keywords, int64_t date,
		    uint64_t size, uint32_t *uid_r, uint32_t *uidvalidity_r)
{
	char dir[ST_NAME_MAX + 2], base[ST_FILE_MAX], name[ST_FILE_MAX + 16], to[ST_PATH_MAX];
	struct si_folder f;
	int err = st_lock(s, LOCK_SH);
	if (err != 0)
		return err;
	err = si_folder_get(s, folder, &f);
	snprintf(base, sizeof(base), "%s,S=%" PRIu64, unique, size);
	sf_name(base, flags, name, sizeof(name));
	st_folder_dir(folder, dir, sizeof(dir));
	snprintf(to, sizeof(to), "%s/cur/%s", dir, name);
	if (err == 0) {
		if (link)
			err = linkat(fromfd, from, s->userfd, to, 0) == 0 ? 0 : errno;
		else
			err = fs_rename_noreplace(fromfd, from, s->userfd, to);
	}
	if (err == 0) {
		char cur[ST_NAME_MAX + 8];
		snprintf(cur, sizeof(cur), "%s/cur", dir);
		err = fs_fsync_dir_at(s->userfd, cur);
		if (err != 0)
			unlinkat(s->userfd, to, 0);
	}
	if (err != 0) {
		st_lock(s, LOCK_UN);
		return err;
	}
	st_point(s, "append.renamed");
	err = si_begin(s);
	if (err == 0) {
		err = si_quota_check(s, size, 1);
		if (err == 0)
			err = st_index_file(s, &f, base, flags, keywords, date, size, uid_r);
		err = err == 0 ? si_commit(s) : (si_rollback(s), err);
	}
	if (err != 0) {
		/* Not acknowledged: the file goes (a crash here is what
		 * recovery's "file without a row" handles). */
		unlinkat(s->userfd, to, 0);
	} else {
		st_point(s, "append.committed");
		*uidvalidity_r = f.uidvalidity;
	}
	st_lock(s, LOCK_UN);
	if (err == 0)
		st_notify(s, STORE_EV_NEW, folder, *uid_r);
	return err;
}

int store_append_commit(store_writer **wp, uint32_t *uid_r, uint32_t *uidvalidity_r)
{
	store_writer *w = *wp;
	uint32_t uid = 0, uv = 0;
	*wp = NULL;
	int err = writer_finish(w);
	if (err == 0) {
		st_point(w->s, "append.fsynced");
		err = add_file(w->s, w->dirfd, w->tmp, false, w->folder, w->unique, w->flags,
			       w->keywords, w->date, w->size, &uid, &uv);
	}
	writer_free(w, err != 0);
	if (uid_r != NULL)
		*uid_r = uid;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = uv;
	return err;
}

int store_deliver_begin(const char *root, int64_t internaldate, store_writer **w_r)
{
	char host[64];
	sf_host(host);
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return errno;
	int err = fs_ensure_dir_at(rootfd, "tmp", NULL);
	if (err == 0)
		err = writer_new(rootfd, "tmp", host, internaldate, w_r);
	if (err != 0) {
		close(rootfd);
		return err;
	}
	size_t len = strlen(root) + 1;
	/* The root's path rides in folder: store_open needs it. */
	if (len > sizeof((*w_r)->folder)) {
		store_writer_abort(w_r);
		return ENAMETOOLONG;
	}
	memcpy((*w_r)->folder, root, len);
	return 0;
}

void store_deliver_set_hook(store_writer *w, store_hook_fn *fn, void *arg)
{
	w->hook = fn;
	w->hook_arg = arg;
}

int store_deliver_commit(store_writer **wp, const char *const *users, size_t n, int64_t now,
			 struct store_delivery *results)
{
	store_writer *w = *wp;
	*wp = NULL;
	int err = writer_finish(w);
	for (size_t i = 0; i < n; i++) {
		results[i].err = err != 0 ? err : EIO;
		results[i].uid = 0;
	}
	for (size_t i = 0; err == 0 && i < n; i++) {
		store *s = NULL;
		uint32_t uv;
		/* Each recipient gets its own name: a link shares the inode,
		 * and a later flag rename in one INBOX must not touch another. */
		char unique[sizeof(w->unique)];
		int e = store_open(&s, w->folder, users[i], 0, now);
		if (e == 0)
			store_set_hook(s, w->hook, w->hook_arg);
		if (e == 0)
			e = sf_unique(s->host, w->date, unique, sizeof(unique));
		if (e == 0)
			e = add_file(s, w->dirfd, w->tmp, true, "INBOX", unique, 0, NULL, w->date,
				     w->size, &results[i].uid, &uv);
		results[i].err = e;
		store_close(&s);
	}
	writer_free(w, true);
	return err;
}
