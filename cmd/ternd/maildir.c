/* ternd's Maildir writer; see maildir.h for the contract and docs/ternd.md
 * for the layout. Everything here works on paths relative to one open root
 * directory descriptor, so a recipient address can never reach outside the
 * root: the only path components built from it are the mailbox name, which
 * maildir_mailbox_name() guarantees holds no '/' and is not "." or "..". */
#include "maildir.h"

#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* Bytes buffered before a write(2): bounds memory per message in progress. */
#define MAILDIR_BUF_SIZE (64 * 1024)
/* Longest host name part of a file name (after maildir(5) escaping). */
#define MAILDIR_HOST_MAX 64

struct maildir {
	char *root;
	int rootfd;
	char host[MAILDIR_HOST_MAX + 1];
};

struct rcpt_state {
	char *address;
	char mbox[MAILDIR_NAME_MAX + 1];
	int dup_of;       /* index of an earlier recipient with the same mailbox, or -1 */
	int err;          /* 0 or errno */
	bool tmp_exists;  /* <mbox>/tmp/<base> is ours and must go on failure */
	bool in_new;      /* renamed into new/ (path holds the name) */
	bool copied;      /* the spool's recipient, rewritten for late headers */
	char *path;       /* "<mbox>/new/<base>,S=<size>" once delivered */
	uint64_t size;
};

struct maildir_msg {
	maildir *md;
	char *sender;
	unsigned n;
	struct rcpt_state *r;
	int spool;            /* recipient whose tmp file receives the stream */
	int fd;               /* the spool file, -1 when closed */
	uint64_t spool_hdr;   /* header bytes before the body in the spool */
	uint64_t body_len;    /* bytes passed to maildir_msg_write() */
	const char *folder;   /* NULL: the inbox; else a Maildir++ folder (".Junk") */
	const char *extra;    /* commit's late headers, copied into every file */
	size_t extra_len;
	unsigned char *buf;
	size_t buf_len;
	int write_err;
	bool committed;
	char base[128];
};

/* Unique names within this process; pid, time and host make them unique
 * across processes and machines (maildir(5)). The one piece of shared
 * mutable state, hence atomic. */
static atomic_ulong delivery_counter;

/* ---- small helpers ---------------------------------------------------- */

__attribute__((format(printf, 1, 2))) static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		return NULL;
	char *p = malloc((size_t)len + 1);
	if (p == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)len + 1, fmt, ap);
	va_end(ap);
	return p;
}

/* mbox (a mailbox, or parent/folder with parent given) and its tmp, new
 * and cur, each made durable when created. */
static int ensure_maildir(maildir *md, const char *mbox, const char *parent)
{
	static const char *const subdirs[] = {"tmp", "new", "cur"};
	char path[MAILDIR_NAME_MAX + 64];
	int err = fs_ensure_dir_at(md->rootfd, mbox, parent);
	for (size_t i = 0; err == 0 && i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", mbox, subdirs[i]);
		err = fs_ensure_dir_at(md->rootfd, path, mbox);
	}
	return err;
}

static int ensure_mailbox(maildir *md, const char *mbox)
{
	return ensure_maildir(md, mbox, NULL);
}

/* maildir(5): a host name in a file name has '/' as \057 and ':' as \072.
 * Anything else that is not a plain printable byte is escaped the same way,
 * and the result is cut at MAILDIR_HOST_MAX so names stay well under
 * NAME_MAX. */
static void sanitize_host(const char *host, char *out, size_t outsize)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)host; *p != '\0'; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_';
		size_t need = plain ? 1 : 4;
		if (o + need >= outsize)
			break;
		if (plain)
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, outsize - o, "\\%03o", *p);
	}
	if (o == 0 && outsize > 1) {
		memcpy(out, "localhost", outsize > 10 ? 10 : outsize - 1);
		o = outsize > 10 ? 9 : outsize - 1;
	}
	out[o] = '\0';
}

/* ---- the root --------------------------------------------------------- */

/* mkdir -p for the root itself, which comes from the administrator. */
static int mkdir_parents(const char *root)
{
	char *path = strdup(root);
	if (path == NULL)
		return ENOMEM;
	int err = 0;
	for (char *p = path + 1; err == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			err = errno;
		*p = c;
		if (c == '\0')
			break;
	}
	free(path);
	return err;
}

int maildir_open(maildir **md_r, const char *root, const char *hostname)
{
	*md_r = NULL;
	if (root == NULL || root[0] == '\0')
		return EINVAL;
	maildir *md = calloc(1, sizeof(*md));
	if (md == NULL)
		return ENOMEM;
	md->rootfd = -1;
	md->root = strdup(root);
	if (md->root == NULL) {
		free(md);
		return ENOMEM;
	}
	char hostbuf[256];
	if (hostname == NULL) {
		if (gethostname(hostbuf, sizeof(hostbuf)) < 0)
			strcpy(hostbuf, "localhost");
		hostbuf[sizeof(hostbuf) - 1] = '\0';
		hostname = hostbuf;
	}
	sanitize_host(hostname, md->host, sizeof(md->host));

	int err = mkdir_parents(root);
	if (err == 0) {
		md->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (md->rootfd < 0)
			err = errno;
	}
	if (err != 0) {
		maildir_close(&md);
		return err;
	}
	*md_r = md;
	return 0;
}

void maildir_close(maildir **mdp)
{
	maildir *md = *mdp;
	if (md == NULL)
		return;
	if (md->rootfd >= 0)
		close(md->rootfd);
	free(md->root);
	free(md);
	*mdp = NULL;
}

const char *maildir_root(const maildir *md)
{
	return md->root;
}

/* ---- mailbox names ---------------------------------------------------- */

static bool keep_byte(unsigned char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	if (c == '.')
		return !first; /* never ".", "..", or a hidden ".name" */
	return c == '+' || c == '-' || c == '_' || c == '=' || c == '@';
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int maildir_mailbox_name(const char *address, char *out, size_t outsize)
{
	static const char hex[] = "0123456789ABCDEF";
	if (address == NULL || address[0] == '\0')
		return EINVAL;
	if (outsize == 0)
		return ENAMETOOLONG;
	/* RFC 5321 2.4: the local part is case-sensitive, domains are not; the
	 * domain starts after the last '@' (a quoted local part may hold '@').
	 * Without '@' this is <postmaster>, which RFC 5321 4.5.1 says is
	 * case-insensitive. */
	const char *at = strrchr(address, '@');
	const char *lower_from = at != NULL ? at : address;
	size_t limit = outsize - 1 < MAILDIR_NAME_MAX ? outsize - 1 : MAILDIR_NAME_MAX;
	size_t o = 0;
	for (const char *p = address; *p != '\0'; p++) {
		char c = p >= lower_from ? ascii_lower(*p) : *p;
		unsigned char u = (unsigned char)c;
		if (keep_byte(u, o == 0)) {
			if (o + 1 > limit)
				return ENAMETOOLONG;
			out[o++] = c;
		} else {
			if (o + 3 > limit)
				return ENAMETOOLONG;
			out[o++] = '%';
			out[o++] = hex[u >> 4];
			out[o++] = hex[u & 0xf];
		}
	}
	out[o] = '\0';
	return 0;
}

/* ---- stale tmp files -------------------------------------------------- */

static unsigned clean_one_tmp(int rootfd, const char *mbox, time_t cutoff)
{
	char path[MAILDIR_NAME_MAX + 8];
	if ((size_t)snprintf(path, sizeof(path), "%s/tmp", mbox) >= sizeof(path))
		return 0;
	int fd = openat(rootfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	DIR *dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return 0;
	}
	unsigned removed = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		/* maildir(5) speaks of access time; with noatime mounts the
		 * modification time is the better signal, so both must be old. */
		time_t last = st.st_atime > st.st_mtime ? st.st_atime : st.st_mtime;
		if (last < cutoff && unlinkat(dirfd(dir), de->d_name, 0) == 0)
			removed++;
	}
	closedir(dir);
	return removed;
}

int maildir_clean_tmp(maildir *md, time_t now, unsigned max_age, unsigned *removed_r)
{
	if (removed_r != NULL)
		*removed_r = 0;
	int fd = openat(md->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	DIR *dir = fdopendir(fd);
	if (dir == NULL) {
		int err = errno;
		close(fd);
		return err;
	}
	unsigned removed = 0;
	time_t cutoff = now - (time_t)max_age;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) > MAILDIR_NAME_MAX)
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		removed += clean_one_tmp(md->rootfd, de->d_name, cutoff);
	}
	closedir(dir);
	if (removed_r != NULL)
		*removed_r = removed;
	return 0;
}

/* ---- one message ------------------------------------------------------ */

static char *tmp_path(const maildir_msg *msg, unsigned i)
{
	return xasprintf("%s/tmp/%s", msg->r[i].mbox, msg->base);
}

/* RFC 5321 4.4: "When the delivery SMTP server makes the final delivery of
 * a message, it inserts a return-path line at the beginning of the mail
 * data"; Delivered-To: names the recipient this copy was delivered to (and
 * lets later hops detect loops). CRLF like the rest of the stored message. */
static char *delivery_headers(const maildir_msg *msg, unsigned i)
{
	return xasprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n", msg->sender,
			 msg->r[i].address);
}

/* Creates recipient i's tmp file with its headers; returns the fd or -1
 * with the errno in *err_r. */
static int open_tmp_with_headers(maildir_msg *msg, unsigned i, uint64_t *hdr_len_r, int *err_r)
{
	char *path = tmp_path(msg, i);
	char *hdr = delivery_headers(msg, i);
	int fd = -1;
	*err_r = 0;
	if (path == NULL || hdr == NULL) {
		*err_r = ENOMEM;
		goto out;
	}
	fd = openat(msg->md->rootfd, path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	if (fd < 0) {
		*err_r = errno;
		goto out;
	}
	msg->r[i].tmp_exists = true;
	size_t len = strlen(hdr);
	*err_r = fs_write_all(fd, hdr, len);
	if (*err_r == 0 && msg->extra_len > 0)
		*err_r = fs_write_all(fd, msg->extra, msg->extra_len);
	*hdr_len_r = len + msg->extra_len;
	if (*err_r != 0) {
		close(fd);
		fd = -1;
	}
out:
	free(path);
	free(hdr);
	return fd;
}

static void unlink_tmp(maildir_msg *msg, unsigned i)
{
	if (!msg->r[i].tmp_exists)
		return;
	char *path = tmp_path(msg, i);
	if (path != NULL)
		unlinkat(msg->md->rootfd, path, 0);
	free(path);
	msg->r[i].tmp_exists = false;
}

int maildir_msg_begin(maildir *md, const char *sender, const char *const *rcpts, unsigned n,
		      maildir_msg **msg_r)
{
	*msg_r = NULL;
	if (n == 0 || sender == NULL)
		return EINVAL;
	maildir_msg *msg = calloc(1, sizeof(*msg));
	if (msg == NULL)
		return ENOMEM;
	msg->md = md;
	msg->fd = -1;
	msg->spool = -1;
	msg->n = n;
	msg->sender = strdup(sender);
	msg->r = calloc(n, sizeof(*msg->r));
	msg->buf = malloc(MAILDIR_BUF_SIZE);
	if (msg->sender == NULL || msg->r == NULL || msg->buf == NULL) {
		maildir_msg_free(&msg);
		return ENOMEM;
	}

	struct timeval tv;
	gettimeofday(&tv, NULL);
	unsigned long q = atomic_fetch_add(&delivery_counter, 1) + 1;
	snprintf(msg->base, sizeof(msg->base), "%lld.M%06ldP%ldQ%lu.%s", (long long)tv.tv_sec,
		 (long)tv.tv_usec, (long)getpid(), q, md->host);

	int first_err = 0;
	for (unsigned i = 0; i < n; i++) {
		struct rcpt_state *r = &msg->r[i];
		r->dup_of = -1;
		r->address = strdup(rcpts[i]);
		if (r->address == NULL) {
			maildir_msg_free(&msg);
			return ENOMEM;
		}
		r->err = maildir_mailbox_name(rcpts[i], r->mbox, sizeof(r->mbox));
		for (unsigned j = 0; r->err == 0 && j < i; j++) {
			if (msg->r[j].dup_of < 0 && strcmp(msg->r[j].mbox, r->mbox) == 0) {
				r->dup_of = (int)j;
				break;
			}
		}
		if (r->err == 0 && r->dup_of < 0)
			r->err = ensure_mailbox(md, r->mbox);
		if (r->err == 0 && r->dup_of < 0 && msg->spool < 0) {
			msg->fd = open_tmp_with_headers(msg, i, &msg->spool_hdr, &r->err);
			if (msg->fd >= 0)
				msg->spool = (int)i;
			else
				unlink_tmp(msg, i);
		}
		if (r->err != 0 && first_err == 0)
			first_err = r->err;
	}
	if (msg->spool < 0) {
		maildir_msg_free(&msg);
		return first_err != 0 ? first_err : EIO;
	}
	*msg_r = msg;
	return 0;
}

static int flush_buf(maildir_msg *msg)
{
	if (msg->buf_len == 0)
		return 0;
	int err = fs_write_all(msg->fd, msg->buf, msg->buf_len);
	msg->buf_len = 0;
	return err;
}

int maildir_msg_write(maildir_msg *msg, const void *buf, size_t len)
{
	if (msg->write_err != 0)
		return msg->write_err;
	const unsigned char *p = buf;
	msg->body_len += len;
	while (len > 0) {
		if (msg->buf_len == 0 && len >= MAILDIR_BUF_SIZE) {
			/* Big pieces skip the copy. */
			msg->write_err = fs_write_all(msg->fd, p, len);
			return msg->write_err;
		}
		size_t take = MAILDIR_BUF_SIZE - msg->buf_len;
		if (take > len)
			take = len;
		memcpy(msg->buf + msg->buf_len, p, take);
		msg->buf_len += take;
		p += take;
		len -= take;
		if (msg->buf_len == MAILDIR_BUF_SIZE && (msg->write_err = flush_buf(msg)) != 0)
			return msg->write_err;
	}
	return 0;
}

/* Copies the spool's body into fd: copy_file_range lets the kernel do it
 * (or share extents on filesystems that can); plain read/write otherwise. */
static int copy_body(maildir_msg *msg, int out)
{
	loff_t off = (loff_t)msg->spool_hdr;
	uint64_t left = msg->body_len;
	bool kernel_copy = true;
	while (left > 0) {
		size_t want = left > (1u << 30) ? (1u << 30) : (size_t)left;
		ssize_t got;
		if (kernel_copy) {
			got = copy_file_range(msg->fd, &off, out, NULL, want, 0);
			if (got < 0 && (errno == ENOSYS || errno == EXDEV || errno == EINVAL ||
					errno == EOPNOTSUPP)) {
				kernel_copy = false;
				continue;
			}
		} else {
			size_t chunk = want > MAILDIR_BUF_SIZE ? MAILDIR_BUF_SIZE : want;
			got = pread(msg->fd, msg->buf, chunk, off);
			if (got > 0) {
				int err = fs_write_all(out, msg->buf, (size_t)got);
				if (err != 0)
					return err;
				off += got;
			}
		}
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (got == 0)
			return EIO; /* the spool is shorter than what we wrote */
		left -= (uint64_t)got;
	}
	return 0;
}

/* Gives recipient i (not the spool) its own durable tmp copy. */
static int make_copy(maildir_msg *msg, unsigned i)
{
	uint64_t hdr = 0;
	int err;
	int fd = open_tmp_with_headers(msg, i, &hdr, &err);
	if (fd < 0)
		return err;
	err = copy_body(msg, fd);
	if (err == 0 && fsync(fd) < 0)
		err = errno;
	if (close(fd) < 0 && err == 0)
		err = errno;
	msg->r[i].size = hdr + msg->body_len;
	return err;
}

/* The directory a recipient's copy is delivered into: <mbox>/new, or
 * <mbox>/<folder>/new for a Maildir++ folder (same file system, so the
 * rename from <mbox>/tmp stays atomic). */
static void new_dir(const maildir_msg *msg, unsigned i, char *buf, size_t size)
{
	if (msg->folder != NULL)
		snprintf(buf, size, "%s/%s/new", msg->r[i].mbox, msg->folder);
	else
		snprintf(buf, size, "%s/new", msg->r[i].mbox);
}

void maildir_msg_set_folder(maildir_msg *msg, const char *folder)
{
	msg->folder = folder;
}

static int move_to_new(maildir_msg *msg, unsigned i)
{
	struct rcpt_state *r = &msg->r[i];
	char *from = tmp_path(msg, i);
	char dir[MAILDIR_NAME_MAX + 64];

	if (msg->folder != NULL) {
		char folder[MAILDIR_NAME_MAX + 64];
		int err;

		snprintf(folder, sizeof(folder), "%s/%s", r->mbox, msg->folder);
		if ((err = ensure_maildir(msg->md, folder, r->mbox)) != 0) {
			free(from);
			return err;
		}
	}
	new_dir(msg, i, dir, sizeof(dir));
	r->path = xasprintf("%s/%s,S=%llu", dir, msg->base, (unsigned long long)r->size);
	int rootfd = msg->md->rootfd;
	int err = (from == NULL || r->path == NULL)
			  ? ENOMEM
			  : fs_rename_noreplace(rootfd, from, rootfd, r->path);
	free(from);
	if (err == 0) {
		r->tmp_exists = false;
		r->in_new = true;
	}
	return err;
}

static void unlink_new(maildir_msg *msg, unsigned i)
{
	struct rcpt_state *r = &msg->r[i];
	char dir[MAILDIR_NAME_MAX + 64];
	if (!r->in_new)
		return;
	unlinkat(msg->md->rootfd, r->path, 0);
	new_dir(msg, i, dir, sizeof(dir));
	(void)fs_fsync_dir_at(msg->md->rootfd, dir);
	r->in_new = false;
}

/* The late headers go after the spool's own delivery headers. While the
 * whole message is still in the buffer they are simply written first; once
 * part of it is on disk, the spool's recipient gets a fresh copy like every
 * other recipient, read from the old file, which is unlinked but still open. */
static int spool_late_headers(maildir_msg *msg)
{
	unsigned spool = (unsigned)msg->spool;
	int err;

	if (msg->body_len == msg->buf_len) {
		err = fs_write_all(msg->fd, msg->extra, msg->extra_len);
		if (err == 0)
			msg->spool_hdr += msg->extra_len;
		return err != 0 ? err : flush_buf(msg);
	}
	if ((err = flush_buf(msg)) != 0)
		return err;
	unlink_tmp(msg, spool);
	err = make_copy(msg, spool);
	if (err == 0)
		msg->r[spool].copied = true;
	return err;
}

int maildir_msg_commit(maildir_msg *msg, bool all_or_nothing)
{
	return maildir_msg_commit_headers(msg, all_or_nothing, NULL, 0);
}

int maildir_msg_commit_headers(maildir_msg *msg, bool all_or_nothing, const char *headers,
			       size_t len)
{
	unsigned n = msg->n;
	unsigned spool = (unsigned)msg->spool;
	char dir[MAILDIR_NAME_MAX + 64];
	int err = msg->write_err;

	msg->extra = headers;
	msg->extra_len = headers != NULL ? len : 0;
	/* 1. The whole stream into the spool file. */
	if (err == 0)
		err = msg->extra_len > 0 ? spool_late_headers(msg) : flush_buf(msg);
	if (err != 0)
		msg->r[spool].err = err;
	if (!msg->r[spool].copied)
		msg->r[spool].size = msg->spool_hdr + msg->body_len;

	/* 2. Every other mailbox gets its own copy, fsynced, while the spool is
	 * still open for reading. */
	for (unsigned i = 0; i < n && err == 0; i++) {
		struct rcpt_state *r = &msg->r[i];
		if (i == spool || r->dup_of >= 0 || r->err != 0)
			continue;
		r->err = make_copy(msg, i);
	}
	if (err == 0 && fsync(msg->fd) < 0)
		msg->r[spool].err = errno;
	if (close(msg->fd) < 0 && msg->r[spool].err == 0)
		msg->r[spool].err = errno;
	msg->fd = -1;
	if (err != 0) {
		for (unsigned i = 0; i < n; i++)
			msg->r[i].err = err;
	}

	/* 3. Into new/, then make the new directory entry itself durable. Only
	 * after both is the recipient delivered. */
	for (unsigned i = 0; i < n; i++) {
		struct rcpt_state *r = &msg->r[i];
		if (r->dup_of >= 0 || r->err != 0)
			continue;
		r->err = move_to_new(msg, i);
		if (r->err == 0) {
			new_dir(msg, i, dir, sizeof(dir));
			r->err = fs_fsync_dir_at(msg->md->rootfd, dir);
			if (r->err != 0)
				unlink_new(msg, i);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		struct rcpt_state *r = &msg->r[i];
		if (r->dup_of >= 0) {
			r->err = msg->r[r->dup_of].err;
			r->size = msg->r[r->dup_of].size;
		}
	}

	int first_err = 0;
	for (unsigned i = 0; i < n && first_err == 0; i++)
		first_err = msg->r[i].err;
	/* SMTP gives one reply for all recipients: a 4xx makes the client send
	 * the message again to every one of them, so keeping the delivered
	 * copies would duplicate them. */
	if (first_err != 0 && all_or_nothing) {
		for (unsigned i = 0; i < n; i++) {
			unlink_new(msg, i);
			msg->r[i].err = first_err;
		}
	}
	for (unsigned i = 0; i < n; i++)
		unlink_tmp(msg, i);
	msg->committed = true;
	return first_err;
}

int maildir_msg_result(const maildir_msg *msg, unsigned i, const char **path_r,
		       uint64_t *size_r)
{
	if (i >= msg->n)
		return EINVAL;
	const struct rcpt_state *r = &msg->r[i];
	const struct rcpt_state *src = r->dup_of >= 0 ? &msg->r[r->dup_of] : r;
	if (path_r != NULL)
		*path_r = (src->in_new && src->path != NULL) ? src->path : "";
	if (size_r != NULL)
		*size_r = src->size;
	if (!msg->committed)
		return r->err != 0 ? r->err : EAGAIN;
	return r->err;
}

const char *maildir_msg_basename(const maildir_msg *msg)
{
	return msg->base;
}

void maildir_msg_free(maildir_msg **msgp)
{
	maildir_msg *msg = msgp != NULL ? *msgp : NULL;
	if (msg == NULL)
		return;
	if (msg->fd >= 0)
		close(msg->fd);
	if (msg->r != NULL) {
		for (unsigned i = 0; i < msg->n; i++) {
			unlink_tmp(msg, i);
			free(msg->r[i].address);
			free(msg->r[i].path);
		}
	}
	free(msg->r);
	free(msg->sender);
	free(msg->buf);
	free(msg);
	*msgp = NULL;
}

void maildir_error_reply(int err, int *code_r, const char **enhanced_r, const char **text_r)
{
	switch (err) {
	case ENOSPC:
		*code_r = 452;
		*enhanced_r = "4.3.1";
		*text_r = "Insufficient system storage";
		break;
	case EDQUOT:
		*code_r = 452;
		*enhanced_r = "4.2.2";
		*text_r = "Mailbox full";
		break;
	case EFBIG:
		*code_r = 552;
		*enhanced_r = "5.3.4";
		*text_r = "Message too big for system";
		break;
	case ENAMETOOLONG:
		*code_r = 553;
		*enhanced_r = "5.1.3";
		*text_r = "Mailbox name not allowed";
		break;
	default:
		*code_r = 451;
		*enhanced_r = "4.3.0";
		*text_r = "Local error in processing";
		break;
	}
}
