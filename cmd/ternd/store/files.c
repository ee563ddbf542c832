/* The store's Maildir files: folder directories, unique names, the
 * ":2,FLAGS" suffix and the link/rename/unlink steps, each made durable
 * with an fsync of the directory it changed (fsutil.h). No SQL here. */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fsutil.h"

int sf_make_folder(store *s, const char *dir)
{
	char path[ST_PATH_MAX];
	int err = 0;
	if (strcmp(dir, ".") != 0)
		err = fs_ensure_dir_at(s->userfd, dir, NULL);
	static const char *const subs[] = {"tmp", "new", "cur"};
	for (size_t i = 0; err == 0 && i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		err = fs_ensure_dir_at(s->userfd, path, dir);
	}
	if (err == 0 && strcmp(dir, ".") != 0) {
		/* Maildir++: marks a folder (Courier's maildrop and Dovecot's
		 * LDA look for it). */
		snprintf(path, sizeof(path), "%s/maildirfolder", dir);
		int fd = openat(s->userfd, path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return errno;
		close(fd);
	}
	return err;
}

void sf_host(char host[64])
{
	if (gethostname(host, 63) != 0)
		snprintf(host, 64, "localhost");
	host[63] = '\0';
	for (char *p = host; *p != '\0'; p++) {
		if (*p == '/' || *p == ':' || *p == ',')
			*p = '_';
	}
}

int sf_unique(const char *host, int64_t now, char *out, size_t size)
{
	uint64_t r;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return errno != 0 ? errno : EIO;
	/* maildir(5) style: time, a random part, the pid, the host. */
	snprintf(out, size, "%" PRId64 ".R%016" PRIx64 "P%ld.%s", now, r, (long)getpid(), host);
	return 0;
}

void sf_name(const char *base, unsigned flags, char *out, size_t size)
{
	char letters[8];
	st_flag_letters(flags, letters);
	snprintf(out, size, "%s:2,%s", base, letters);
}

DIR *sf_opendir(store *s, const char *dir, const char *sub)
{
	char path[ST_PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	int fd = openat(s->userfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (d == NULL)
		close(fd);
	return d;
}

/* Finds the name in dir/cur of base (whatever its flags) into name. */
static int find_name(store *s, const char *dir, const char *base, char *name, size_t size)
{
	DIR *d = sf_opendir(s, dir, "cur");
	if (d == NULL)
		return errno;
	size_t bl = strlen(base);
	int err = ENOENT;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, bl) == 0 &&
		    (de->d_name[bl] == '\0' || de->d_name[bl] == ':')) {
			snprintf(name, size, "%s", de->d_name);
			err = 0;
			break;
		}
	}
	closedir(d);
	return err;
}

/* The current path of base's file in dir/cur, trying the name its flags
 * give first. */
static int locate(store *s, const char *dir, const char *base, unsigned flags, char *path,
		  size_t size)
{
	char name[ST_FILE_MAX + 16];
	struct stat sb;
	sf_name(base, flags, name, sizeof(name));
	snprintf(path, size, "%s/cur/%s", dir, name);
	if (fstatat(s->userfd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	int err = find_name(s, dir, base, name, sizeof(name));
	if (err == 0)
		snprintf(path, size, "%s/cur/%s", dir, name);
	return err;
}

int sf_set_flags(store *s, const char *dir, const char *base, unsigned old, unsigned flags)
{
	char from[ST_PATH_MAX], to[ST_PATH_MAX], name[ST_FILE_MAX + 16];
	int err = locate(s, dir, base, old, from, sizeof(from));
	if (err != 0)
		return err;
	sf_name(base, flags, name, sizeof(name));
	snprintf(to, sizeof(to), "%s/cur/%s", dir, name);
	if (strcmp(from, to) == 0)
		return 0;
	/* A plain rename: the target name can only be this message's. A crash
	 * before the directory reaches the disk leaves the old letters, which
	 * recovery corrects from the index. */
	return renameat(s->userfd, from, s->userfd, to) == 0 ? 0 : errno;
}

int sf_sync_cur(store *s, const char *dir)
{
	char path[ST_PATH_MAX];
	snprintf(path, sizeof(path), "%s/cur", dir);
	return fs_fsync_dir_at(s->userfd, path);
}

int sf_open(store *s, const char *dir, const char *base, unsigned flags, int *fd_r)
{
	char path[ST_PATH_MAX];
	/* Another session may rename the file between the lookup and the
	 * open: look again a few times. */
	for (int tries = 0; tries < 5; tries++) {
		int err = locate(s, dir, base, flags, path, sizeof(path));
		if (err != 0)
			return err;
		*fd_r = openat(s->userfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (*fd_r >= 0)
			return 0;
		if (errno != ENOENT)
			return errno;
	}
	return ENOENT;
}

int sf_unlink(store *s, const char *dir, const char *base, unsigned flags)
{
	char path[ST_PATH_MAX];
	int err = locate(s, dir, base, flags, path, sizeof(path));
	if (err == ENOENT)
		return 0;
	if (err != 0)
		return err;
	if (unlinkat(s->userfd, path, 0) != 0 && errno != ENOENT)
		return errno;
	snprintf(path, sizeof(path), "%s/cur", dir);
	return fs_fsync_dir_at(s->userfd, path);
}

/* Copies the bytes of fromfd/from into a new todir/tmp file then renames
 * it to to: for file systems that refuse hard links. */
static int copy_file(store *s, const char *from, const char *todir, const char *tobase,
		     const char *to)
{
	char tmp[ST_PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", todir, tobase);
	int in = openat(s->userfd, from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return errno;
	int out = openat(s->userfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		int err = errno;
		close(in);
		return err;
	}
	char buf[65536];
	ssize_t r;
	int err = 0;
	while (err == 0 && (r = read(in, buf, sizeof(buf))) != 0) {
		if (r < 0)
			err = errno == EINTR ? 0 : errno;
		else
			err = fs_write_all(out, buf, (size_t)r);
	}
	if (err == 0 && fsync(out) != 0)
		err = errno;
	close(in);
	close(out);
	if (err == 0)
		err = fs_rename_noreplace(s->userfd, tmp, s->userfd, to);
	if (err != 0)
		unlinkat(s->userfd, tmp, 0);
	return err;
}

int sf_transfer(store *s, const char *dir, const char *base, const char *todir,
		const char *tobase, unsigned flags, bool move)
{
	char from[ST_PATH_MAX], to[ST_PATH_MAX], name[ST_FILE_MAX + 16];
	int err = locate(s, dir, base, flags, from, sizeof(from));
	if (err != 0)
		return err;
	sf_name(tobase, flags, name, sizeof(name));
	snprintf(to, sizeof(to), "%s/cur/%s", todir, name);
	if (move) {
		err = fs_rename_noreplace(s->userfd, from, s->userfd, to);
	} else if (linkat(s->userfd, from, s->userfd, to, 0) != 0) {
		err = errno;
		if (err == EXDEV || err == EMLINK || err == EPERM || err == ENOTSUP)
			err = copy_file(s, from, todir, tobase, to);
	}
	if (err != 0)
		return err;
	snprintf(to, sizeof(to), "%s/cur", todir);
	err = fs_fsync_dir_at(s->userfd, to);
	if (err == 0 && move) {
		snprintf(from, sizeof(from), "%s/cur", dir);
		err = fs_fsync_dir_at(s->userfd, from);
	}
	return err;
}

static int remove_at(int dirfd, const char *name, int depth)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR || errno == ELOOP
			       ? (unlinkat(dirfd, name, 0) == 0 ? 0 : errno)
			       : errno;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return ENOMEM;
	}
	int err = 0;
	struct dirent *de;
	while (err == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		err = depth < 4 ? remove_at(fd, de->d_name, depth + 1) : ELOOP;
	}
	closedir(d);
	if (err == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) != 0)
		err = errno;
	return err;
}

int sf_remove_tree(int parentfd, const char *dir)
{
	return remove_at(parentfd, dir, 0);
}
