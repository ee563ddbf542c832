/* Durable-write helpers shared by ternd's Maildir writer (maildir.c) and its
 * outbound queue (queue/): the write, fsync, rename, fsync-the-directory
 * sequence both rely on. Header-only (static inline) so the unit tests that
 * include maildir.c or the queue's .c files directly need nothing else.
 * Errors are positive errno values, 0 is success. */
#ifndef TERND_FSUTIL_H
#define TERND_FSUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* write(2) until done. A short write on a regular file means the next call
 * reports why (ENOSPC, EFBIG). */
static inline int fs_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (w == 0)
			return EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync(2) of the directory path (relative to dirfd): makes the entries
 * created, renamed or removed in it durable. */
static inline int fs_fsync_dir_at(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int err = fsync(fd) < 0 ? errno : 0;
	close(fd);
	return err;
}

/* Creates dir (relative to dirfd) when missing; on creation the parent is
 * fsynced (parent relative to dirfd, or dirfd itself when NULL) so the new
 * entry survives a crash. Refuses a symlink in its place. */
static inline int fs_ensure_dir_at(int dirfd, const char *path, const char *parent)
{
	if (mkdirat(dirfd, path, 0700) == 0)
		return parent != NULL ? fs_fsync_dir_at(dirfd, parent)
				      : (fsync(dirfd) < 0 ? errno : 0);
	if (errno != EEXIST)
		return errno;
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno; /* ENOTDIR or ELOOP: not a real directory */
	close(fd);
	return 0;
}

/* rename(2) without ever replacing an existing file: names are unique, but
 * if that assumption ever broke, renaming over another message would lose
 * it. Filesystems without RENAME_NOREPLACE get a plain rename. */
static inline int fs_rename_noreplace(int fromfd, const char *from, int tofd, const char *to)
{
#ifdef RENAME_NOREPLACE
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return errno;
#endif
	return renameat(fromfd, from, tofd, to) == 0 ? 0 : errno;
}

#endif
