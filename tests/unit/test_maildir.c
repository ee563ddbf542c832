/* Tests of ternd's Maildir writer (cmd/ternd/maildir.c) against a
 * temporary directory: mailbox name mapping and path traversal, delivery,
 * file names, failure and abort cleanup, stale tmp/ cleanup. The writer is
 * compiled into this test directly: it is part of ternd, not of libtern. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../cmd/ternd/maildir.c"

#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>

/* ---- helpers ---------------------------------------------------------- */

struct fixture {
	char base[64];   /* mkdtemp directory; the root is base/mail */
	char root[96];
	maildir *md;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		chmod(path, 0700);
	return remove(path);
}

static void rm_rf(const char *path)
{
	/* Restore permissions first so a chmod test cannot leave debris. */
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->base, sizeof(f->base), "/tmp/ternd-maildir-XXXXXX");
	assert_non_null(mkdtemp(f->base));
	snprintf(f->root, sizeof(f->root), "%s/mail", f->base);
	assert_int_equal(maildir_open(&f->md, f->root, "test.host"), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	maildir_close(&f->md);
	rm_rf(f->base);
	free(f);
	return 0;
}

/* Number of entries (not . or ..) in dir; the last name seen goes to name. */
static int count_entries(const char *dir, char *name, size_t namesize)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if (name != NULL)
			snprintf(name, namesize, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

static int count_in(const struct fixture *f, const char *mbox, const char *sub)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s/%s", f->root, mbox, sub);
	return count_entries(path, NULL, 0);
}

static char *read_file(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	long len = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	char *buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	buf[len] = '\0';
	fclose(fp);
	*len_r = (size_t)len;
	return buf;
}

/* Reads the only file in <root>/<mbox>/new. */
static char *read_delivered(const struct fixture *f, const char *mbox, size_t *len_r,
			    char *name, size_t namesize)
{
	char dir[1024], path[2048];
	snprintf(dir, sizeof(dir), "%s/%s/new", f->root, mbox);
	assert_int_equal(count_entries(dir, name, namesize), 1);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *data = read_file(path, len_r);
	assert_non_null(data);
	return data;
}

static void deliver(struct fixture *f, const char *sender, const char *const *rcpts, unsigned n,
		    const char *body, bool all_or_nothing, int expect)
{
	maildir_msg *msg;
	assert_int_equal(maildir_msg_begin(f->md, sender, rcpts, n, &msg), 0);
	assert_int_equal(maildir_msg_write(msg, body, strlen(body)), 0);
	assert_int_equal(maildir_msg_commit(msg, all_or_nothing), expect);
	maildir_msg_free(&msg);
	assert_null(msg);
}

/* ---- mailbox names ---------------------------------------------------- */

struct name_case {
	const char *in;
	int rc;
	const char *out;
};

static const struct name_case name_cases[] = {
	{"user@example.com", 0, "user@example.com"},
	{"User.Name@Example.COM", 0, "User.Name@example.com"},   /* local part keeps case */
	{"a+tag@x.y", 0, "a+tag@x.y"},
	{"postmaster", 0, "postmaster"},
	{"PostMaster", 0, "postmaster"},                         /* RFC 5321 4.5.1 */
	{"../../etc@x", 0, "%2E.%2F..%2Fetc@x"},
	{"..@x", 0, "%2E.@x"},
	{".", 0, "%2E"},
	{"..", 0, "%2E."},
	{"a/b@x", 0, "a%2Fb@x"},
	{"a%2Fb@x", 0, "a%252Fb@x"},                             /* '%' itself is escaped */
	{"\"john doe\"@x", 0, "%22john%20doe%22@x"},
	{"\"a@b\"@X.Y", 0, "%22a@b%22@x.y"},                     /* domain after the last '@' */
	{"\"a\\\"b\"@x", 0, "%22a%5C%22b%22@x"},
	{"j\xc3\xb6rg@\xe4\xbe\x8b.jp", 0, "j%C3%B6rg@%E4%BE%8B.jp"},
	{"a@[192.168.0.1]", 0, "a@%5B192.168.0.1%5D"},
	{"a@[IPv6:::1]", 0, "a@%5Bipv6%3A%3A%3A1%5D"},
	{"", EINVAL, NULL},
};

static void test_name_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		const struct name_case *c = &name_cases[i];
		char out[MAILDIR_NAME_MAX + 1];
		int rc = maildir_mailbox_name(c->in, out, sizeof(out));
		if (rc != c->rc)
			fail_msg("case %zu '%s': rc %d, want %d", i, c->in, rc, c->rc);
		if (c->out != NULL && strcmp(out, c->out) != 0)
			fail_msg("case %zu '%s': '%s', want '%s'", i, c->in, out, c->out);
	}
}

/* Every byte as a one-byte local part: the name is safe, and no two bytes
 * give the same name. */
static void test_name_every_byte(void **state)
{
	(void)state;
	static char names[256][16];
	for (unsigned b = 1; b < 256; b++) {
		char addr[8] = {(char)b, '@', 'x', '\0'};
		assert_int_equal(maildir_mailbox_name(addr, names[b], sizeof(names[b])), 0);
		assert_null(strchr(names[b], '/'));
		assert_true(names[b][0] != '.');
		for (const char *p = names[b]; *p != '\0'; p++)
			assert_true(*p > ' ' && *p < 0x7f);
		for (unsigned a = 1; a < b; a++) {
			/* 'A' and 'a' differ in the local part (case-sensitive). */
			assert_string_not_equal(names[a], names[b]);
		}
	}
}

static void test_name_too_long(void **state)
{
	(void)state;
	char addr[400], out[MAILDIR_NAME_MAX + 1];
	/* 85 escaped bytes: 255 characters, the longest allowed name. */
	memset(addr, '/', 85);
	addr[85] = '\0';
	assert_int_equal(maildir_mailbox_name(addr, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 255);
	memset(addr, '/', 86);
	addr[86] = '\0';
	assert_int_equal(maildir_mailbox_name(addr, out, sizeof(out)), ENAMETOOLONG);
	/* A small output buffer is reported, not overrun. */
	char small[4];
	assert_int_equal(maildir_mailbox_name("abcd@x", small, sizeof(small)), ENAMETOOLONG);
	assert_int_equal(maildir_mailbox_name("ab", small, sizeof(small)), 0);
	assert_string_equal(small, "ab");
}

/* ---- delivery --------------------------------------------------------- */

static void test_store_one(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = {"you@Localhost"};
	const char *body = "Subject: hi\r\n\r\nHello\r\n";
	deliver(f, "me@example.org", rcpts, 1, body, true, 0);

	char name[512];
	size_t len;
	char *data = read_delivered(f, "you@localhost", &len, name, sizeof(name));
	const char *want = "Return-Path: <me@example.org>\r\n"
			   "Delivered-To: you@Localhost\r\n"
			   "Subject: hi\r\n\r\nHello\r\n";
	assert_string_equal(data, want);
	/* maildir(5) name: time.M<usec>P<pid>Q<n>.<host>,S=<size> */
	long long sec;
	long usec, pid;
	unsigned long q;
	char host[64];
	unsigned long long size;
	assert_int_equal(sscanf(name, "%lld.M%6ldP%ldQ%lu.%63[^,],S=%llu", &sec, &usec, &pid, &q,
				host, &size),
			 6);
	assert_int_equal(pid, (long)getpid());
	assert_string_equal(host, "test.host");
	assert_int_equal(size, len);
	assert_int_equal(count_in(f, "you@localhost", "tmp"), 0);
	assert_int_equal(count_in(f, "you@localhost", "cur"), 0);
	free(data);
}

static void test_null_sender(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = {"a@b"};
	deliver(f, "", rcpts, 1, "x\r\n", true, 0);
	char name[512];
	size_t len;
	char *data = read_delivered(f, "a@b", &len, name, sizeof(name));
	assert_memory_equal(data, "Return-Path: <>\r\n", 17);
	free(data);
}

/* Several mailboxes, a body bigger than the write buffer (written in odd
 * pieces), and a second spelling of the first mailbox that must not give it
 * a second copy. */
static void test_store_many(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = {"a@x.org", "b@x.org", "a@X.ORG", "c@y.org"};
	size_t body_len = 3 * MAILDIR_BUF_SIZE + 12345;
	char *body = malloc(body_len);
	assert_non_null(body);
	for (size_t i = 0; i < body_len; i++)
		body[i] = (char)('a' + i % 26);

	maildir_msg *msg;
	assert_int_equal(maildir_msg_begin(f->md, "s@z", rcpts, 4, &msg), 0);
	for (size_t off = 0, step = 1; off < body_len; off += step, step = step * 3 + 1) {
		size_t n = off + step > body_len ? body_len - off : step;
		assert_int_equal(maildir_msg_write(msg, body + off, n), 0);
	}
	assert_int_equal(maildir_msg_commit(msg, true), 0);
	for (unsigned i = 0; i < 4; i++) {
		/* Initialised: cmocka's failing assert leaves by longjmp, which
		 * the optimiser cannot see, so at -O3 gcc reads on past it. */
		const char *path = NULL;
		uint64_t size = 0;
		assert_int_equal(maildir_msg_result(msg, i, &path, &size), 0);
		assert_non_null(path);
		assert_non_null(strstr(path, "/new/"));
	}
	const char *p0 = NULL, *p2 = NULL;
	assert_int_equal(maildir_msg_result(msg, 0, &p0, NULL), 0);
	assert_int_equal(maildir_msg_result(msg, 2, &p2, NULL), 0);
	assert_string_equal(p0, p2);
	maildir_msg_free(&msg);

	const char *mboxes[] = {"a@x.org", "b@x.org", "c@y.org"};
	for (unsigned i = 0; i < 3; i++) {
		char name[512], hdr[256];
		size_t len;
		char *data = read_delivered(f, mboxes[i], &len, name, sizeof(name));
		int h = snprintf(hdr, sizeof(hdr), "Return-Path: <s@z>\r\nDelivered-To: %s\r\n",
				 mboxes[i]);
		assert_int_equal(len, (size_t)h + body_len);
		assert_memory_equal(data, hdr, (size_t)h);
		assert_memory_equal(data + h, body, body_len);
		assert_int_equal(count_in(f, mboxes[i], "tmp"), 0);
		free(data);
	}
	free(body);
}

/* Headers known only at commit (Authentication-Results) land after each
 * copy's Return-Path:/Delivered-To: and before the message, whether the
 * message still sat in the write buffer or was already partly on disk. */
static void late_headers(struct fixture *f, size_t body_len)
{
	const char *rcpts[] = {"a@x.org", "b@x.org", "a@x.org"};
	const char *late = "Authentication-Results: mx.test; spf=pass smtp.mailfrom=z\r\n";
	char *body = malloc(body_len);
	assert_non_null(body);
	for (size_t i = 0; i < body_len; i++)
		body[i] = (char)('A' + i % 26);

	maildir_msg *msg;
	assert_int_equal(maildir_msg_begin(f->md, "s@z", rcpts, 3, &msg), 0);
	for (size_t off = 0, step = 7; off < body_len; off += step, step = step * 5 + 3) {
		size_t n = off + step > body_len ? body_len - off : step;
		assert_int_equal(maildir_msg_write(msg, body + off, n), 0);
	}
	assert_int_equal(maildir_msg_commit_headers(msg, true, late, strlen(late)), 0);
	uint64_t sizes[3] = {0, 0, 0};
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(maildir_msg_result(msg, i, NULL, &sizes[i]), 0);
	maildir_msg_free(&msg);

	const char *mboxes[] = {"a@x.org", "b@x.org"};
	for (unsigned i = 0; i < 2; i++) {
		char name[512], hdr[256], size_tag[64];
		size_t len;
		char *data = read_delivered(f, mboxes[i], &len, name, sizeof(name));
		int h = snprintf(hdr, sizeof(hdr), "Return-Path: <s@z>\r\nDelivered-To: %s\r\n%s",
				 mboxes[i], late);
		assert_int_equal(len, (size_t)h + body_len);
		assert_int_equal(sizes[i], len);
		snprintf(size_tag, sizeof(size_tag), ",S=%zu", len);
		assert_non_null(strstr(name, size_tag));
		assert_memory_equal(data, hdr, (size_t)h);
		assert_memory_equal(data + h, body, body_len);
		assert_int_equal(count_in(f, mboxes[i], "tmp"), 0);
		free(data);
	}
	assert_int_equal(sizes[2], sizes[0]);
	free(body);
}

static void test_late_headers_buffered(void **state)
{
	late_headers(*state, 1000);
}

static void test_late_headers_on_disk(void **state)
{
	late_headers(*state, 2 * MAILDIR_BUF_SIZE + 777);
}

static void test_unique_names(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = {"u@x"};
	for (int i = 0; i < 20; i++)
		deliver(f, "s@x", rcpts, 1, "m\r\n", true, 0);
	assert_int_equal(count_in(f, "u@x", "new"), 20);

	maildir_msg *m1, *m2;
	assert_int_equal(maildir_msg_begin(f->md, "s@x", rcpts, 1, &m1), 0);
	assert_int_equal(maildir_msg_begin(f->md, "s@x", rcpts, 1, &m2), 0);
	assert_string_not_equal(maildir_msg_basename(m1), maildir_msg_basename(m2));
	maildir_msg_free(&m1);
	maildir_msg_free(&m2);
}

/* Traversal attempts stay inside the root: nothing appears next to it. */
static void test_traversal(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = {"../../etc@x", "..", "../new", "a/../../b@x"};
	deliver(f, "s@x", rcpts, 4, "evil\r\n", true, 0);
	/* base holds only the root. */
	char name[256];
	assert_int_equal(count_entries(f->base, name, sizeof(name)), 1);
	assert_string_equal(name, "mail");
	assert_int_equal(count_in(f, "%2E.%2F..%2Fetc@x", "new"), 1);
	assert_int_equal(count_in(f, "%2E.", "new"), 1);
	assert_int_equal(count_in(f, "%2E.%2Fnew", "new"), 1);
	assert_int_equal(count_in(f, "a%2F..%2F..%2Fb@x", "new"), 1);
	assert_int_equal(count_entries(f->root, NULL, 0), 4);
}

/* A symlink planted as a mailbox is not followed. */
static void test_symlink_mailbox(void **state)
{
	struct fixture *f = *state;
	char link[256], target[256];
	snprintf(target, sizeof(target), "%s/elsewhere", f->base);
	assert_int_equal(mkdir(target, 0700), 0);
	snprintf(link, sizeof(link), "%s/victim@x", f->root);
	assert_int_equal(symlink(target, link), 0);
	const char *rcpts[] = {"victim@x"};
	maildir_msg *msg;
	int err = maildir_msg_begin(f->md, "s@x", rcpts, 1, &msg);
	assert_true(err == ELOOP || err == ENOTDIR);
	assert_null(msg);
	assert_int_equal(count_entries(target, NULL, 0), 0);
}

/* ---- failures --------------------------------------------------------- */

/* Makes <root>/<mbox>/new a regular file, so rename into it fails even
 * when the tests run as root. */
static void break_new(const struct fixture *f, const char *mbox)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s/new", f->root, mbox);
	rmdir(path);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
}

static void ensure(const struct fixture *f, const char *mbox)
{
	char name[MAILDIR_NAME_MAX + 1];
	assert_int_equal(maildir_mailbox_name(mbox, name, sizeof(name)), 0);
	assert_int_equal(ensure_mailbox(f->md, name), 0);
}

/* SMTP: one failure fails the message for everyone, and what was already
 * moved into new/ is taken back out. */
static void test_failure_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	ensure(f, "bad@x");
	break_new(f, "bad@x");
	const char *rcpts[] = {"good@x", "bad@x", "good2@x"};
	maildir_msg *msg;
	assert_int_equal(maildir_msg_begin(f->md, "s@x", rcpts, 3, &msg), 0);
	assert_int_equal(maildir_msg_write(msg, "body\r\n", 6), 0);
	assert_int_equal(maildir_msg_commit(msg, true), ENOTDIR);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(maildir_msg_result(msg, i, NULL, NULL), ENOTDIR);
	maildir_msg_free(&msg);
	assert_int_equal(count_in(f, "good@x", "new"), 0);
	assert_int_equal(count_in(f, "good@x", "tmp"), 0);
	assert_int_equal(count_in(f, "good2@x", "new"), 0);
	assert_int_equal(count_in(f, "good2@x", "tmp"), 0);
	assert_int_equal(count_in(f, "bad@x", "tmp"), 0);
}

/* LMTP: each recipient on its own. */
static void test_failure_per_recipient(void **state)
{
	struct fixture *f = *state;
	ensure(f, "bad@x");
	break_new(f, "bad@x");
	const char *rcpts[] = {"bad@x", "good@x"};
	maildir_msg *msg;
	/* The failing mailbox is the first: it holds the spool file. */
	assert_int_equal(maildir_msg_begin(f->md, "s@x", rcpts, 2, &msg), 0);
	assert_int_equal(maildir_msg_write(msg, "body\r\n", 6), 0);
	assert_int_equal(maildir_msg_commit(msg, false), ENOTDIR);
	assert_int_equal(maildir_msg_result(msg, 0, NULL, NULL), ENOTDIR);
	assert_int_equal(maildir_msg_result(msg, 1, NULL, NULL), 0);
	maildir_msg_free(&msg);
	assert_int_equal(count_in(f, "good@x", "new"), 1);
	assert_int_equal(count_in(f, "bad@x", "tmp"), 0);
	assert_int_equal(count_in(f, "good@x", "tmp"), 0);
}

/* A mailbox that cannot even be created fails at begin for its recipient
 * only; begin fails as a whole when no recipient is left. */
static void test_failure_at_begin(void **state)
{
	struct fixture *f = *state;
	char path[512];
	snprintf(path, sizeof(path), "%s/file@x", f->root);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);

	const char *one[] = {"file@x"};
	maildir_msg *msg;
	assert_int_equal(maildir_msg_begin(f->md, "s@x", one, 1, &msg), ENOTDIR);
	assert_null(msg);

	const char *two[] = {"file@x", "ok@x"};
	assert_int_equal(maildir_msg_begin(f->md, "s@x", two, 2, &msg), 0);
	assert_int_equal(maildir_msg_write(msg, "b\r\n", 3), 0);
	assert_int_equal(maildir_msg_commit(msg, false), ENOTDIR);
	assert_int_equal(maildir_msg_result(msg, 0, NULL, NULL), ENOTDIR);
	assert_int_equal(maildir_msg_result(msg, 1, NULL, NULL), 0);
	maildir_msg_free(&msg);
	assert_int_equal(count_in(f, "ok@x", "new"), 1);

	assert_int_equal(maildir_msg_begin(f->md, "s@x", two, 2, &msg), 0);
	assert_int_equal(maildir_msg_commit(msg, true), ENOTDIR);
	maildir_msg_free(&msg);
	assert_int_equal(count_in(f, "ok@x", "new"), 1);
	assert_int_equal(count_in(f, "ok@x", "tmp"), 0);
}

/* Permissions only bind when not root. */
static void test_failure_unwritable_new(void **state)
{
	struct fixture *f = *state;
	if (geteuid() == 0)
		skip();
	ensure(f, "ro@x");
	char path[512];
	snprintf(path, sizeof(path), "%s/ro@x/new", f->root);
	assert_int_equal(chmod(path, 0500), 0);
	const char *rcpts[] = {"ro@x"};
	maildir_msg *msg;
	assert_int_equal(maildir_msg_begin(f->md, "s@x", rcpts, 1, &msg), 0);
	assert_int_equal(maildir_msg_write(msg, "b\r\n", 3), 0);
	assert_int_equal(maildir_msg_commit(msg, true), EACCES);
	maildir_msg_free(&msg);
	chmod(path, 0700);
	assert_int_equal(count_in(f, "ro@x", "new"), 0);
	assert_int_equal(count_in(f, "ro@x", "tmp"), 0);
}

/* A write failure (here the file size limit: EFBIG, as a full disk gives
 * ENOSPC) is reported and leaves nothing behind. */
static void test_failure_write(void **state)
{
	struct fixture *f = *state;
	struct rlimit old, small;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	small = old;
	small.rlim_cur = 1000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);

	const char *rcpts[] = {"big@x", "big2@x"};
	maildir_msg *msg;
	assert_int_equal(maildir_msg_begin(f->md, "s@x", rcpts, 2, &msg), 0);
	char chunk[4096];
	memset(chunk, 'x', sizeof(chunk));
	int err = 0;
	for (int i = 0; i < 40 && err == 0; i++)
		err = maildir_msg_write(msg, chunk, sizeof(chunk));
	if (err == 0)
		err = maildir_msg_commit(msg, true);
	assert_int_equal(err, EFBIG);
	maildir_msg_free(&msg);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(count_in(f, "big@x", "tmp"), 0);
	assert_int_equal(count_in(f, "big@x", "new"), 0);
	assert_int_equal(count_in(f, "big2@x", "tmp"), 0);
	assert_int_equal(count_in(f, "big2@x", "new"), 0);

	/* The spool fits but the second mailbox's copy (a longer Delivered-To:)
	 * does not: the copy step fails, and all_or_nothing removes the first. */
	const char *rcpts2[] = {"big@x", "big-but-longer@x"};
	small.rlim_cur = strlen("Return-Path: <s@x>\r\nDelivered-To: big@x\r\n") + 4096 + 3;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(maildir_msg_begin(f->md, "s@x", rcpts2, 2, &msg), 0);
	assert_int_equal(maildir_msg_write(msg, chunk, 4096), 0);
	assert_int_equal(maildir_msg_commit(msg, false), EFBIG);
	assert_int_equal(maildir_msg_result(msg, 0, NULL, NULL), 0);
	assert_int_equal(maildir_msg_result(msg, 1, NULL, NULL), EFBIG);
	maildir_msg_free(&msg);
	assert_int_equal(count_in(f, "big@x", "new"), 1);
	assert_int_equal(maildir_msg_begin(f->md, "s@x", rcpts2, 2, &msg), 0);
	assert_int_equal(maildir_msg_write(msg, chunk, 4096), 0);
	assert_int_equal(maildir_msg_commit(msg, true), EFBIG);
	maildir_msg_free(&msg);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(count_in(f, "big@x", "new"), 1);
	assert_int_equal(count_in(f, "big@x", "tmp"), 0);
	assert_int_equal(count_in(f, "big-but-longer@x", "new"), 0);
	assert_int_equal(count_in(f, "big-but-longer@x", "tmp"), 0);
}

static void test_abort(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = {"ab@x", "cd@x"};
	maildir_msg *msg;
	assert_int_equal(maildir_msg_begin(f->md, "s@x", rcpts, 2, &msg), 0);
	assert_int_equal(maildir_msg_write(msg, "partial", 7), 0);
	assert_int_equal(count_in(f, "ab@x", "tmp"), 1);
	maildir_msg_free(&msg);
	assert_null(msg);
	assert_int_equal(count_in(f, "ab@x", "tmp"), 0);
	assert_int_equal(count_in(f, "ab@x", "new"), 0);
	assert_int_equal(count_in(f, "cd@x", "tmp"), 0);
	assert_int_equal(count_in(f, "cd@x", "new"), 0);
	maildir_msg_free(&msg); /* NULL is fine */
	maildir_msg_free(NULL);
}

/* ---- stale tmp files -------------------------------------------------- */

static void make_tmp_file(const struct fixture *f, const char *mbox, const char *name,
			  time_t when)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s/tmp/%s", f->root, mbox, name);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	struct timespec ts[2] = {{when, 0}, {when, 0}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_clean_tmp(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	ensure(f, "a@x");
	ensure(f, "b@x");
	make_tmp_file(f, "a@x", "old1", now - MAILDIR_STALE_SECONDS - 10);
	make_tmp_file(f, "a@x", "fresh", now - 60);
	make_tmp_file(f, "b@x", "old2", now - 3 * MAILDIR_STALE_SECONDS);
	make_tmp_file(f, "b@x", "edge", now - MAILDIR_STALE_SECONDS + 100);
	/* Mail already in new/ is never touched, however old. */
	char path[512];
	snprintf(path, sizeof(path), "%s/a@x/new/1.M1P1Q1.h,S=0", f->root);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	struct timespec old[2] = {{1, 0}, {1, 0}};
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	/* A stray file in the root is not a mailbox. */
	snprintf(path, sizeof(path), "%s/stray", f->root);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);

	unsigned removed = 99;
	assert_int_equal(maildir_clean_tmp(f->md, now, MAILDIR_STALE_SECONDS, &removed), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(count_in(f, "a@x", "tmp"), 1);
	assert_int_equal(count_in(f, "b@x", "tmp"), 1);
	assert_int_equal(count_in(f, "a@x", "new"), 1);
}

/* ---- the rest --------------------------------------------------------- */

static void test_error_reply(void **state)
{
	(void)state;
	int code;
	const char *enh, *text;
	maildir_error_reply(ENOSPC, &code, &enh, &text);
	assert_int_equal(code, 452);
	assert_string_equal(enh, "4.3.1");
	maildir_error_reply(EDQUOT, &code, &enh, &text);
	assert_int_equal(code, 452);
	assert_string_equal(enh, "4.2.2");
	maildir_error_reply(EFBIG, &code, &enh, &text);
	assert_int_equal(code, 552);
	assert_string_equal(enh, "5.3.4");
	maildir_error_reply(EIO, &code, &enh, &text);
	assert_int_equal(code, 451);
	assert_string_equal(enh, "4.3.0");
	maildir_error_reply(EACCES, &code, &enh, &text);
	assert_int_equal(code, 451);
	assert_non_null(text);
}

static void test_open_creates_root(void **state)
{
	(void)state;
	char base[64], root[128];
	snprintf(base, sizeof(base), "/tmp/ternd-maildir-XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(root, sizeof(root), "%s/a/b/c", base);
	maildir *md;
	assert_int_equal(maildir_open(&md, root, NULL), 0);
	assert_string_equal(maildir_root(md), root);
	/* The system host name, escaped per maildir(5), goes into names. */
	assert_null(strchr(md->host, '/'));
	assert_null(strchr(md->host, ':'));
	maildir_close(&md);
	assert_null(md);
	struct stat st;
	assert_int_equal(stat(root, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(maildir_open(&md, "", NULL), EINVAL);
	rm_rf(base);
}

static void test_sanitize_host(void **state)
{
	(void)state;
	char out[MAILDIR_HOST_MAX + 1];
	sanitize_host("a/b:c.d", out, sizeof(out));
	assert_string_equal(out, "a\\057b\\072c.d");
	sanitize_host("", out, sizeof(out));
	assert_string_equal(out, "localhost");
	char longhost[300];
	memset(longhost, 'h', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0';
	sanitize_host(longhost, out, sizeof(out));
	assert_int_equal(strlen(out), MAILDIR_HOST_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_table),
		cmocka_unit_test(test_name_every_byte),
		cmocka_unit_test(test_name_too_long),
		cmocka_unit_test_setup_teardown(test_store_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_sender, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_headers_buffered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_headers_on_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unique_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_traversal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_mailbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_per_recipient, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_at_begin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_unwritable_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_tmp, setup, teardown),
		cmocka_unit_test(test_error_reply),
		cmocka_unit_test(test_open_creates_root),
		cmocka_unit_test(test_sanitize_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
