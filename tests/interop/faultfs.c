/* faultfs: an LD_PRELOAD shim that makes file-system calls fail, for the
 * durability tests (tests/interop/test_durability.py). A mail server must
 * never answer 250 when fsync, write or rename failed (RFC 5321 6.1: the 250
 * hands over responsibility), so the tests need those calls to fail on
 * demand, on the mail store only, at a chosen call.
 *
 * Build: cc -shared -fPIC -o faultfs.so tests/interop/faultfs.c -ldl
 *
 * Environment (all optional; nothing set = the shim changes nothing):
 *   FAULTFS_FSYNC=ERR    fsync(2), fdatasync(2) fail with ERR
 *   FAULTFS_WRITE=ERR    write, pwrite, writev, copy_file_range fail with ERR
 *   FAULTFS_RENAME=ERR   rename, renameat, renameat2 fail with ERR
 *       ERR is a name (EIO, ENOSPC, EDQUOT, EFBIG, EROFS) or a number, or
 *       KILL (the process SIGKILLs itself instead of making the call) or
 *       KILL_AFTER (makes the call, then SIGKILLs itself): a crash at an
 *       exact point of the delivery, without timing.
 *   FAULTFS_PATH=DIR     only calls on DIR or below it (the fd's path, read
 *                        from /proc/self/fd, or the rename's source path);
 *                        default: any regular file or directory. Sockets,
 *                        pipes and terminals are never touched.
 *   FAULTFS_ARM=FILE     inject only while FILE exists. Its content may be
 *                        "AFTER [COUNT]" (decimal): let AFTER matching calls
 *                        pass, then fail COUNT calls (default: all). The
 *                        counters restart whenever FILE is replaced (new
 *                        inode or mtime), so a test re-arms by rewriting it.
 *   FAULTFS_AFTER=N, FAULTFS_COUNT=M   the same without FAULTFS_ARM.
 *   FAULTFS_LOG=FILE     append one line per injected fault ("fsync PATH
 *                        ERR"), so a test can tell that the shim was active.
 *
 * Calls of all enabled kinds share one counter. The shim holds global state
 * (a test tool, not library code) behind one mutex.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum kind { K_FSYNC, K_WRITE, K_RENAME, K_COUNT };
static const char *const kind_env[K_COUNT] = {"FAULTFS_FSYNC", "FAULTFS_WRITE", "FAULTFS_RENAME"};
static const char *const kind_name[K_COUNT] = {"fsync", "write", "rename"};

/* Pseudo-errnos of FAULTFS_*=KILL and =KILL_AFTER. */
#define FAULT_KILL (-1)
#define FAULT_KILL_AFTER (-2)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int errs[K_COUNT];          /* errno to inject per kind, 0 = off */
static const char *prefix;         /* FAULTFS_PATH */
static size_t prefix_len;
static const char *arm_path;       /* FAULTFS_ARM */
static const char *log_path;       /* FAULTFS_LOG */
static long env_after, env_count = -1;
static long after, count;          /* current budget */
static long seen;                  /* matching calls since (re)arming */
static dev_t arm_dev;
static ino_t arm_ino;
static struct timespec arm_mtime;
static int armed_once;

static int parse_err(const char *s)
{
	static const struct { const char *name; int err; } names[] = {
		{"EIO", EIO}, {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EFBIG", EFBIG},
		{"EROFS", EROFS}, {"EPERM", EPERM}, {"EACCES", EACCES}, {"ENOMEM", ENOMEM},
	};
	if (s == NULL || *s == '\0')
		return 0;
	if (strcmp(s, "KILL") == 0)
		return FAULT_KILL;
	if (strcmp(s, "KILL_AFTER") == 0)
		return FAULT_KILL_AFTER;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].err;
	return atoi(s);
}

static void init(void)
{
	for (int k = 0; k < K_COUNT; k++)
		errs[k] = parse_err(getenv(kind_env[k]));
	prefix = getenv("FAULTFS_PATH");
	if (prefix != NULL && *prefix == '\0')
		prefix = NULL;
	if (prefix != NULL) {
		prefix_len = strlen(prefix);
		while (prefix_len > 1 && prefix[prefix_len - 1] == '/')
			prefix_len--;
	}
	arm_path = getenv("FAULTFS_ARM");
	log_path = getenv("FAULTFS_LOG");
	const char *a = getenv("FAULTFS_AFTER"), *c = getenv("FAULTFS_COUNT");
	env_after = a != NULL ? atol(a) : 0;
	env_count = c != NULL ? atol(c) : -1;
	after = env_after;
	count = env_count;
}

static void *real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (f == NULL) {
		fprintf(stderr, "faultfs: no %s\n", name);
		abort();
	}
	return f;
}

static int path_matches(const char *path)
{
	if (prefix == NULL)
		return path[0] == '/';
	return strncmp(path, prefix, prefix_len) == 0 &&
	       (path[prefix_len] == '\0' || path[prefix_len] == '/');
}

/* The path of fd if it is a regular file or directory, else "". */
static void fd_path(int fd, char *out, size_t size)
{
	char link[64];
	struct stat st;
	out[0] = '\0';
	if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, out, size - 1);
	out[n > 0 ? n : 0] = '\0';
}

/* Path of `rel` relative to dirfd (AT_FDCWD or a directory fd). */
static void at_path(int dirfd, const char *rel, char *out, size_t size)
{
	char dir[PATH_MAX];
	if (rel == NULL) {
		out[0] = '\0';
		return;
	}
	if (rel[0] == '/') {
		snprintf(out, size, "%s", rel);
		return;
	}
	if (dirfd == AT_FDCWD) {
		if (getcwd(dir, sizeof(dir)) == NULL)
			dir[0] = '\0';
	} else {
		char link[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		ssize_t n = readlink(link, dir, sizeof(dir) - 1);
		dir[n > 0 ? n : 0] = '\0';
	}
	snprintf(out, size, "%s/%s", dir, rel);
}

/* Re-reads the arm file: 1 when faults are armed now. Called locked. */
static int armed(void)
{
	struct stat st;
	if (arm_path == NULL)
		return 1;
	if (stat(arm_path, &st) != 0)
		return 0;
	if (!armed_once || st.st_dev != arm_dev || st.st_ino != arm_ino ||
	    st.st_mtim.tv_sec != arm_mtime.tv_sec || st.st_mtim.tv_nsec != arm_mtime.tv_nsec) {
		armed_once = 1;
		arm_dev = st.st_dev;
		arm_ino = st.st_ino;
		arm_mtime = st.st_mtim;
		after = env_after;
		count = env_count;
		seen = 0;
		FILE *f = fopen(arm_path, "re");
		if (f != NULL) {
			long a, c;
			int got = fscanf(f, "%ld %ld", &a, &c);
			if (got >= 1)
				after = a;
			if (got >= 2)
				count = c;
			fclose(f);
		}
	}
	return 1;
}

/* A crash at this exact call: SIGKILL cannot be caught, so nothing of the
 * process's own clean-up runs, as after a real crash. */
static void die(void)
{
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

/* errno to fail this call with, or 0 to let it through. */
static int decide(enum kind k, const char *path)
{
	pthread_once(&once, init);
	if (errs[k] == 0 || path[0] == '\0' || !path_matches(path))
		return 0;
	pthread_mutex_lock(&lock);
	int err = 0;
	if (armed()) {
		long n = seen++;
		if (n >= after && (count < 0 || n < after + count))
			err = errs[k];
	}
	pthread_mutex_unlock(&lock);
	if (err != 0 && log_path != NULL) {
		FILE *f = fopen(log_path, "ae");
		if (f != NULL) {
			fprintf(f, "%s %s %d\n", kind_name[k], path, err);
			fclose(f);
		}
	}
	if (err == FAULT_KILL)
		die();
	return err;
}

static int decide_fd(enum kind k, int fd)
{
	char path[PATH_MAX];
	pthread_once(&once, init);
	if (errs[k] == 0)
		return 0;
	fd_path(fd, path, sizeof(path));
	return decide(k, path);
}

/* ---- the wrapped calls -------------------------------------------------- */

int fsync(int fd)
{
	static int (*f)(int);
	int err = decide_fd(K_FSYNC, fd);
	if (err > 0) {
		errno = err;
		return -1;
	}
	if (f == NULL)
		f = (int (*)(int))real("fsync");
	int ret = f(fd);
	if (err == FAULT_KILL_AFTER)
		die();
	return ret;
}

int fdatasync(int fd)
{
	static int (*f)(int);
	int err = decide_fd(K_FSYNC, fd);
	if (err > 0) {
		errno = err;
		return -1;
	}
	if (f == NULL)
		f = (int (*)(int))real("fdatasync");
	int ret = f(fd);
	if (err == FAULT_KILL_AFTER)
		die();
	return ret;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	static ssize_t (*f)(int, const void *, size_t);
	int err = decide_fd(K_WRITE, fd);
	if (err > 0) {
		errno = err;
		return -1;
	}
	if (f == NULL)
		f = (ssize_t (*)(int, const void *, size_t))real("write");
	ssize_t ret = f(fd, buf, len);
	if (err == FAULT_KILL_AFTER)
		die();
	return ret;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*f)(int, const void *, size_t, off_t);
	int err = decide_fd(K_WRITE, fd);
	if (err > 0) {
		errno = err;
		return -1;
	}
	if (f == NULL)
		f = (ssize_t (*)(int, const void *, size_t, off_t))real("pwrite");
	ssize_t ret = f(fd, buf, len, off);
	if (err == FAULT_KILL_AFTER)
		die();
	return ret;
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	static ssize_t (*f)(int, const struct iovec *, int);
	int err = decide_fd(K_WRITE, fd);
	if (err > 0) {
		errno = err;
		return -1;
	}
	if (f == NULL)
		f = (ssize_t (*)(int, const struct iovec *, int))real("writev");
	ssize_t ret = f(fd, iov, n);
	if (err == FAULT_KILL_AFTER)
		die();
	return ret;
}

ssize_t copy_file_range(int in, off_t *in_off, int out, off_t *out_off, size_t len,
			unsigned flags)
{
	static ssize_t (*f)(int, off_t *, int, off_t *, size_t, unsigned);
	int err = decide_fd(K_WRITE, out);
	if (err > 0) {
		errno = err;
		return -1;
	}
	if (f == NULL)
		f = (ssize_t (*)(int, off_t *, int, off_t *, size_t, unsigned))real("copy_file_range");
	ssize_t ret = f(in, in_off, out, out_off, len, flags);
	if (err == FAULT_KILL_AFTER)
		die();
	return ret;
}

static int decide_rename(int dirfd, const char *from)
{
	char path[PATH_MAX];
	pthread_once(&once, init);
	if (errs[K_RENAME] == 0)
		return 0;
	at_path(dirfd, from, path, sizeof(path));
	return decide(K_RENAME, path);
}

int rename(const char *from, const char *to)
{
	static int (*f)(const char *, const char *);
	int err = decide_rename(AT_FDCWD, from);
	if (err > 0) {
		errno = err;
		return -1;
	}
	if (f == NULL)
		f = (int (*)(const char *, const char *))real("rename");
	int ret = f(from, to);
	if (err == FAULT_KILL_AFTER)
		die();
	return ret;
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	static int (*f)(int, const char *, int, const char *);
	int err = decide_rename(fromfd, from);
	if (err > 0) {
		errno = err;
		return -1;
	}
	if (f == NULL)
		f = (int (*)(int, const char *, int, const char *))real("renameat");
	int ret = f(fromfd, from, tofd, to);
	if (err == FAULT_KILL_AFTER)
		die();
	return ret;
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned flags)
{
	static int (*f)(int, const char *, int, const char *, unsigned);
	int err = decide_rename(fromfd, from);
	if (err > 0) {
		errno = err;
		return -1;
	}
	if (f == NULL)
		f = (int (*)(int, const char *, int, const char *, unsigned))real("renameat2");
	int ret = f(fromfd, from, tofd, to, flags);
	if (err == FAULT_KILL_AFTER)
		die();
	return ret;
}
