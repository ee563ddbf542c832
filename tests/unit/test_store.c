/* Tests of ternd's mail store (cmd/ternd/store/): opening and the default
 * folders, folder names, create/rename/delete with children, appends
 * (streamed byte by byte), the maildir(5) file names, UIDs and MODSEQs,
 * flags and keywords, copy/move with COPYUID, expunge, quota, delivery to
 * several users, recovery, index rebuild, two threads and two processes
 * at once. Crash points are in test_store_crash.c. */
#include "test_store_fixture.h"

#include <pthread.h>
#include <sys/wait.h>

static void test_open_defaults(void **state)
{
	(void)state;
	struct sfix *f = sfix_new();
	store *s = sfix_open(f, 0);
	struct store_folder *fl;
	size_t n;
	assert_int_equal(store_folders(s, &fl, &n), 0);
	assert_int_equal(n, 6);
	static const char *const want[][2] = {
		{"Archive", "\\Archive"}, {"Drafts", "\\Drafts"}, {"INBOX", ""},
		{"Junk", "\\Junk"},       {"Sent", "\\Sent"},     {"Trash", "\\Trash"},
	};
	uint32_t uv_inbox = 0;
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(fl[i].name, want[i][0]);
		assert_string_equal(fl[i].special, want[i][1]);
		assert_true(fl[i].subscribed);
		assert_int_equal(fl[i].uidnext, 1);
		assert_true(fl[i].uidvalidity >= T0);
		if (strcmp(fl[i].name, "INBOX") == 0)
			uv_inbox = fl[i].uidvalidity;
		for (size_t j = 0; j < i; j++) /* each folder its own */
			assert_int_not_equal(fl[i].uidvalidity, fl[j].uidvalidity);
	}
	store_folders_free(fl, n);
	/* Maildir++ on disk. */
	char path[400];
	struct stat sb;
	static const char *const paths[] = {"cur", "new", "tmp", ".Sent/cur", ".Sent/maildirfolder",
					    ".Trash/tmp", "index.db"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->udir, paths[i]);
		assert_int_equal(stat(path, &sb), 0);
	}
	store_close(&s);
	assert_null(s);
	/* Reopening keeps everything. */
	s = sfix_open(f, STORE_OPEN_RECOVER);
	struct store_status st;
	assert_int_equal(store_status(s, "inbox", &st), 0);
	assert_int_equal(st.uidvalidity, uv_inbox);
	store_close(&s);
	/* Bad users. */
	static const char *const bad[] = {"", "nobody", ".x@y", "a/b@c", "../x@y"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(store_open(&s, f->root, bad[i], 0, T0), EINVAL);
	assert_int_equal(store_open(&s, "/nonexistent/root", USER, 0, T0), ENOENT);
	sfix_free(f);
}

static void test_folders(void **state)
{
	(void)state;
	struct sfix *f = sfix_new();
	store *s = sfix_open(f, 0);
	static const char *const bad[] = {
		"",       ".x",      "x.",       "a..b",     "a/b",          "INBOX.x",
		"tab\tx", "inbox.y", "\xff",     "\xc0\xaf", "\xed\xa0\x80", "a\xe6\x97",
		"\x7f",   "\xf4\x90\x80\x80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(store_folder_create(s, bad[i], NULL, T0), EINVAL);
	assert_int_equal(store_folder_create(s, "x", "\\Bogus", T0), EINVAL);
	assert_int_equal(store_folder_create(s, "Inbox", NULL, T0), EEXIST);
	assert_int_equal(store_folder_create(s, "Sent", NULL, T0), EEXIST);
	assert_int_equal(store_folder_create(s, "Work", NULL, T0), 0);
	assert_int_equal(store_folder_create(s, "Work.Old", "\\All", T0), 0);
	assert_int_equal(store_folder_create(s, "Workshop", NULL, T0), 0);
	assert_int_equal(store_folder_create(s, "Ünïcödé.日本", NULL, T0), 0);
	uint32_t uid;
	assert_int_equal(sfix_append(s, "Work.Old", "m\r\n", 0, NULL, false, &uid), 0);
	struct store_status before, after;
	assert_int_equal(store_status(s, "Work.Old", &before), 0);
	/* Rename with children; "Workshop" shares the prefix, not the tree. */
	assert_int_equal(store_folder_rename(s, "Work", "Work.Sub"), EINVAL);
	assert_int_equal(store_folder_rename(s, "Work", "Sent"), EEXIST);
	assert_int_equal(store_folder_rename(s, "INBOX", "X"), EPERM);
	assert_int_equal(store_folder_rename(s, "Nope", "X"), ENOENT);
	/* A child's new name is taken: nothing moves. */
	assert_int_equal(store_folder_create(s, "Job.Old", NULL, T0), 0);
	assert_int_equal(store_folder_rename(s, "Work", "Job"), EEXIST);
	assert_int_equal(store_status(s, "Work.Old", &after), 0);
	assert_int_equal(store_folder_delete(s, "Job.Old"), 0);
	assert_int_equal(store_folder_rename(s, "Work", "Job"), 0);
	assert_int_equal(store_status(s, "Work.Old", &after), ENOENT);
	assert_int_equal(store_status(s, "Job.Old", &after), 0);
	assert_int_equal(after.uidvalidity, before.uidvalidity);
	assert_int_equal(after.messages, 1);
	assert_int_equal(store_status(s, "Workshop", &after), 0);
	assert_int_equal(sfix_count(f, ".Job.Old/cur"), 1);
	assert_int_equal(sfix_count(f, ".Work.Old/cur"), 0);
	char buf[64];
	sfix_read(s, "Job.Old", uid, buf, sizeof(buf));
	assert_string_equal(buf, "m\r\n");
	/* Subscriptions. */
	assert_int_equal(store_folder_subscribe(s, "Job", false), 0);
	assert_int_equal(store_folder_subscribe(s, "Nope", true), ENOENT);
	struct store_folder *fl;
	size_t n;
	assert_int_equal(store_folders(s, &fl, &n), 0);
	assert_int_equal(n, 10);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(fl[i].subscribed, strcmp(fl[i].name, "Job") != 0);
		if (strcmp(fl[i].name, "Job.Old") == 0)
			assert_string_equal(fl[i].special, "\\All");
	}
	store_folders_free(fl, n);
	/* Delete with children; the quota counters follow. */
	assert_int_equal(store_folder_delete(s, "INBOX"), EPERM);
	assert_int_equal(store_folder_delete(s, "Job"), 0);
	assert_int_equal(store_status(s, "Job.Old", &after), ENOENT);
	assert_int_equal(store_status(s, "Workshop", &after), 0);
	struct store_quota q;
	assert_int_equal(store_quota_get(s, &q), 0);
	assert_int_equal(q.msgs, 0);
	assert_int_equal(q.bytes, 0);
	struct stat sb;
	char path[400];
	snprintf(path, sizeof(path), "%s/.Job.Old", f->udir);
	assert_int_not_equal(stat(path, &sb), 0);
	snprintf(path, sizeof(path), "%s/.Ünïcödé.日本/cur", f->udir);
	assert_int_equal(stat(path, &sb), 0);
	sfix_check(f);
	/* A deleted default folder stays deleted. */
	assert_int_equal(store_folder_delete(s, "Junk"), 0);
	store_close(&s);
	s = sfix_open(f, STORE_OPEN_RECOVER);
	assert_int_equal(store_status(s, "Junk", &after), ENOENT);
	store_close(&s);
	sfix_free(f);
}

static void test_append(void **state)
{
	(void)state;
	struct sfix *f = sfix_new();
	store *s = sfix_open(f, 0);
	const char *msg = "From: a@b\r\nSubject: hi\r\n\r\nbody\r\n";
	uint32_t uid;
	for (uint32_t i = 1; i <= 3; i++) {
		assert_int_equal(sfix_append(s, "INBOX", msg, i == 2 ? STORE_SEEN | STORE_FLAGGED : 0,
					     i == 3 ? "$Junk  $Forwarded $Junk" : NULL, i == 1, &uid),
				 0);
		assert_int_equal(uid, i);
	}
	struct store_msg *ml;
	size_t n;
	assert_int_equal(store_messages(s, "INBOX", NULL, &ml, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ml[1].flags, STORE_SEEN | STORE_FLAGGED);
	assert_string_equal(ml[2].keywords, "$Forwarded $Junk");
	assert_null(ml[0].keywords);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ml[i].size, strlen(msg));
		assert_int_equal(ml[i].internaldate, T0);
		assert_true(i == 0 || ml[i].modseq > ml[i - 1].modseq);
	}
	store_msgs_free(ml, n);
	/* maildir(5) name: UNIQUE,S=SIZE:2,FS. */
	DIR *d;
	char path[400];
	snprintf(path, sizeof(path), "%s/cur", f->udir);
	assert_non_null(d = opendir(path));
	struct dirent *de;
	unsigned fs = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char want[32];
		snprintf(want, sizeof(want), ",S=%zu:2,", strlen(msg));
		assert_non_null(strstr(de->d_name, want));
		fs += strcmp(strstr(de->d_name, ":2,"), ":2,FS") == 0;
		assert_int_equal(strncmp(de->d_name, "1700000000.R", 12), 0);
	}
	closedir(d);
	assert_int_equal(fs, 1);
	char buf[128];
	sfix_read(s, "inbox", 1, buf, sizeof(buf));
	assert_string_equal(buf, msg);
	struct store_status st;
	assert_int_equal(store_status(s, "INBOX", &st), 0);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.unseen, 2);
	assert_int_equal(st.uidnext, 4);
	assert_int_equal(st.size, 3 * strlen(msg));
	assert_int_equal(st.recent, 0);
	assert_int_equal(st.highestmodseq, 4); /* 1, then one per append */
	/* Bad input, and an aborted append leaves nothing. */
	store_writer *w;
	assert_int_equal(store_append_begin(s, "INBOX", 0x100, NULL, T0, &w), EINVAL);
	assert_int_equal(store_append_begin(s, "INBOX", 0, "bad\"kw", T0, &w), EINVAL);
	assert_int_equal(store_append_begin(s, "Nope", 0, NULL, T0, &w), ENOENT);
	assert_int_equal(store_append_begin(s, "INBOX", 0, NULL, T0, &w), 0);
	assert_int_equal(store_writer_write(w, "x", 1), 0);
	store_writer_abort(&w);
	assert_null(w);
	int fd;
	assert_int_equal(store_msg_open(s, "INBOX", 9, &fd, NULL), ENOENT);
	assert_int_equal(store_msg_open(s, "Nope", 1, &fd, NULL), ENOENT);
	sfix_check(f);
	store_close(&s);
	sfix_free(f);
}

struct events {
	unsigned n[4];
	uint32_t last_uid;
};

static void on_event(void *arg, enum store_event ev, const char *folder, uint32_t uid)
{
	struct events *e = arg;
	(void)folder;
	e->n[ev]++;
	e->last_uid = uid;
}

static void test_flags_modseq(void **state)
{
	(void)state;
	struct sfix *f = sfix_new();
	store *s = sfix_open(f, 0);
	struct events ev = {0};
	store_set_notify(s, on_event, &ev);
	uint32_t uid;
	for (int i = 0; i < 4; i++)
		assert_int_equal(sfix_append(s, "INBOX", "x\r\n", 0, NULL, false, &uid), 0);
	assert_int_equal(ev.n[STORE_EV_NEW], 4);
	uint64_t c0, c1, ms, ms2;
	assert_int_equal(store_change_counter(s, &c0), 0);
	struct store_range r12 = {1, 2}, all = {1, UINT32_MAX};
	struct store_uidset s12 = {&r12, 1}, sall = {&all, 1};
	assert_int_equal(store_flags(s, "INBOX", &s12, STORE_FLAGS_ADD, STORE_SEEN | STORE_DELETED,
				     "work", &ms),
			 0);
	assert_int_equal(ms, 6);
	assert_int_equal(ev.n[STORE_EV_FLAGS], 2);
	assert_int_equal(store_change_counter(s, &c1), 0);
	assert_true(c1 > c0);
	/* Nothing changes: no MODSEQ, no event. */
	assert_int_equal(store_flags(s, "INBOX", &s12, STORE_FLAGS_ADD, STORE_SEEN, NULL, &ms2), 0);
	assert_int_equal(ms2, 6);
	assert_int_equal(ev.n[STORE_EV_FLAGS], 2);
	assert_int_equal(store_flags(s, "INBOX", &sall, STORE_FLAGS_REMOVE, STORE_DELETED, "work",
				     &ms2),
			 0);
	assert_int_equal(ms2, 7);
	assert_int_equal(ev.n[STORE_EV_FLAGS], 4);
	struct store_msg *ml;
	size_t n;
	assert_int_equal(store_messages(s, "INBOX", NULL, &ml, &n), 0);
	assert_int_equal(ml[0].flags, STORE_SEEN);
	assert_null(ml[0].keywords);
	assert_int_equal(ml[0].modseq, 7);
	assert_int_equal(ml[2].modseq, 4); /* untouched since its append */
	store_msgs_free(ml, n);
	assert_int_equal(store_flags(s, "INBOX", &sall, STORE_FLAGS_SET,
				     STORE_ANSWERED | STORE_DRAFT | STORE_FLAGGED, "b a", &ms2),
			 0);
	assert_int_equal(store_messages(s, "INBOX", &s12, &ml, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ml[1].keywords, "a b");
	assert_int_equal(ml[1].flags, STORE_ANSWERED | STORE_DRAFT | STORE_FLAGGED);
	store_msgs_free(ml, n);
	/* Every name says DFR now. */
	sfix_check(f);
	assert_int_equal(store_flags(s, "INBOX", &sall, STORE_FLAGS_ADD, 0x40, NULL, NULL), EINVAL);
	assert_int_equal(store_flags(s, "INBOX", &sall, STORE_FLAGS_ADD, 0, "(x", NULL), EINVAL);
	/* At most 128 keywords a message. */
	char many[128 * 6 + 8] = "";
	for (int i = 0; i < 128; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "k%d ", i);
	assert_int_equal(store_flags(s, "INBOX", &s12, STORE_FLAGS_SET, 0, many, NULL), 0);
	assert_int_equal(store_flags(s, "INBOX", &s12, STORE_FLAGS_ADD, 0, "more", NULL), EINVAL);
	strcat(many, "k999");
	assert_int_equal(store_flags(s, "INBOX", &s12, STORE_FLAGS_SET, 0, many, NULL), EINVAL);
	assert_int_equal(store_flags(s, "Nope", &sall, STORE_FLAGS_ADD, 0, NULL, NULL), ENOENT);
	store_close(&s);
	sfix_free(f);
}

static void test_copy_move_expunge(void **state)
{
	(void)state;
	struct sfix *f = sfix_new();
	store *s = sfix_open(f, 0);
	uint32_t uid;
	char body[32];
	for (int i = 1; i <= 4; i++) {
		snprintf(body, sizeof(body), "m%d\r\n", i);
		assert_int_equal(sfix_append(s, "INBOX", body, i == 1 ? STORE_SEEN : 0,
					     i == 1 ? "k" : NULL, false, &uid),
				 0);
	}
	assert_int_equal(sfix_append(s, "Archive", "a\r\n", 0, NULL, false, &uid), 0);
	struct store_range r[] = {{1, 2}, {4, 4}};
	struct store_uidset set = {r, 2};
	struct store_copyuid cu;
	assert_int_equal(store_copy(s, "INBOX", &set, "Archive", false, &cu), 0);
	assert_int_equal(cu.n, 3);
	assert_int_equal(cu.src[0], 1);
	assert_int_equal(cu.src[2], 4);
	assert_int_equal(cu.dst[0], 2);
	assert_int_equal(cu.dst[2], 4);
	struct store_status st;
	assert_int_equal(store_status(s, "Archive", &st), 0);
	assert_int_equal(cu.uidvalidity, st.uidvalidity);
	assert_int_equal(st.messages, 4);
	store_copyuid_free(&cu);
	char buf[32];
	sfix_read(s, "Archive", 2, buf, sizeof(buf));
	assert_string_equal(buf, "m1\r\n");
	struct store_msg *ml;
	size_t n;
	assert_int_equal(store_messages(s, "Archive", NULL, &ml, &n), 0);
	assert_int_equal(ml[1].flags, STORE_SEEN);
	assert_string_equal(ml[1].keywords, "k");
	store_msgs_free(ml, n);
	/* A copy is a hard link: one inode, two names. */
	int fd;
	struct stat sb;
	assert_int_equal(store_msg_open(s, "Archive", 2, &fd, NULL), 0);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(sb.st_nlink, 2);
	close(fd);
	/* Move: gone from the source, new UID in the target. */
	struct store_range r3 = {3, 3};
	struct store_uidset s3 = {&r3, 1};
	assert_int_equal(store_copy(s, "INBOX", &s3, "Trash", true, &cu), 0);
	assert_int_equal(cu.n, 1);
	assert_int_equal(cu.dst[0], 1);
	store_copyuid_free(&cu);
	assert_int_equal(store_msg_open(s, "INBOX", 3, &fd, NULL), ENOENT);
	sfix_read(s, "Trash", 1, buf, sizeof(buf));
	assert_string_equal(buf, "m3\r\n");
	assert_int_equal(store_copy(s, "INBOX", &s3, "INBOX", true, NULL), EINVAL);
	assert_int_equal(store_copy(s, "INBOX", &s3, "Nope", false, NULL), ENOENT);
	/* Expunge: only \Deleted; then a UID set regardless of flags. */
	struct store_range r14 = {1, 4};
	struct store_uidset s14 = {&r14, 1};
	uint32_t *ex;
	size_t nex;
	assert_int_equal(store_flags(s, "INBOX", &s14, STORE_FLAGS_ADD, STORE_DELETED, NULL, NULL),
			 0);
	struct store_range r1 = {1, 1};
	struct store_uidset s1 = {&r1, 1};
	assert_int_equal(store_flags(s, "INBOX", &s1, STORE_FLAGS_REMOVE, STORE_DELETED, NULL, NULL),
			 0);
	assert_int_equal(store_expunge(s, "INBOX", NULL, true, &ex, &nex), 0);
	assert_int_equal(nex, 2);
	assert_int_equal(ex[0], 2);
	assert_int_equal(ex[1], 4);
	free(ex);
	assert_int_equal(store_expunge(s, "INBOX", &s14, false, &ex, &nex), 0);
	assert_int_equal(nex, 1);
	free(ex);
	assert_int_equal(store_status(s, "INBOX", &st), 0);
	assert_int_equal(st.messages, 0);
	/* UIDs are never reused. */
	assert_int_equal(sfix_append(s, "INBOX", "new\r\n", 0, NULL, false, &uid), 0);
	assert_int_equal(uid, 5);
	/* The link survives its other name's expunge. */
	sfix_read(s, "Archive", 2, buf, sizeof(buf));
	assert_string_equal(buf, "m1\r\n");
	sfix_check(f);
	store_close(&s);
	sfix_free(f);
}

static void test_quota(void **state)
{
	(void)state;
	struct sfix *f = sfix_new();
	store *s = sfix_open(f, 0);
	uint32_t uid;
	assert_int_equal(store_quota_set(s, 10, 3), 0);
	assert_int_equal(sfix_append(s, "INBOX", "12345\r\n", 0, NULL, false, &uid), 0);
	assert_int_equal(sfix_append(s, "INBOX", "12345\r\n", 0, NULL, false, &uid), EDQUOT);
	assert_int_equal(sfix_count(f, "cur"), 1);
	assert_int_equal(sfix_count(f, "tmp"), 0);
	struct store_range all = {1, 100};
	struct store_uidset sall = {&all, 1};
	assert_int_equal(store_copy(s, "INBOX", &sall, "Archive", false, NULL), EDQUOT);
	assert_int_equal(sfix_count(f, ".Archive/cur"), 0);
	struct store_quota q;
	assert_int_equal(store_quota_get(s, &q), 0);
	assert_int_equal(q.bytes, 7);
	assert_int_equal(q.msgs, 1);
	assert_int_equal(q.limit_bytes, 10);
	assert_int_equal(q.limit_msgs, 3);
	assert_int_equal(store_quota_set(s, 0, 3), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(sfix_append(s, "INBOX", "x", 0, NULL, false, &uid), 0);
	assert_int_equal(sfix_append(s, "INBOX", "x", 0, NULL, false, &uid), EDQUOT);
	/* A move does not add. */
	assert_int_equal(store_copy(s, "INBOX", &sall, "Archive", true, NULL), 0);
	assert_int_equal(store_quota_get(s, &q), 0);
	assert_int_equal(q.msgs, 3);
	sfix_check(f);
	store_close(&s);
	sfix_free(f);
}

static void test_deliver(void **state)
{
	(void)state;
	struct sfix *f = sfix_new();
	store *s = sfix_open(f, 0);
	uint32_t uid;
	assert_int_equal(sfix_append(s, "INBOX", "first\r\n", 0, NULL, false, &uid), 0);
	store_close(&s);
	store_writer *w;
	assert_int_equal(store_deliver_begin(f->root, T0, &w), 0);
	const char *msg = "Subject: to all\r\n\r\nhello\r\n";
	for (size_t i = 0; msg[i] != '\0'; i++)
		assert_int_equal(store_writer_write(w, msg + i, 1), 0);
	const char *users[] = {USER, "bob@example.org", "bad/user", "carol@example.net"};
	struct store_delivery res[4];
	assert_int_equal(store_deliver_commit(&w, users, 4, T0, res), 0);
	assert_null(w);
	assert_int_equal(res[0].err, 0);
	assert_int_equal(res[0].uid, 2);
	assert_int_equal(res[1].err, 0);
	assert_int_equal(res[1].uid, 1);
	assert_int_equal(res[2].err, EINVAL);
	assert_int_equal(res[3].err, 0);
	char path[300];
	snprintf(path, sizeof(path), "%s/tmp", f->root);
	DIR *d = opendir(path);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		assert_true(de->d_name[0] == '.');
	closedir(d);
	char buf[64];
	assert_int_equal(store_open(&s, f->root, "carol@example.net", 0, T0), 0);
	sfix_read(s, "INBOX", 1, buf, sizeof(buf));
	assert_string_equal(buf, msg);
	/* Flagging one copy leaves the other's name alone. */
	struct store_range r1 = {1, 1};
	struct store_uidset s1 = {&r1, 1};
	assert_int_equal(store_flags(s, "INBOX", &s1, STORE_FLAGS_ADD, STORE_SEEN, NULL, NULL), 0);
	store_close(&s);
	s = sfix_open(f, 0);
	struct store_msg *ml;
	size_t n;
	assert_int_equal(store_messages(s, "INBOX", NULL, &ml, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ml[1].flags, 0);
	store_msgs_free(ml, n);
	sfix_check(f);
	store_close(&s);
	sfix_free(f);
}

/* Writes a file as another program would (procmail, ternd's maildir.c). */
static void drop_file(struct sfix *f, const char *rel, const char *text)
{
	char path[500];
	snprintf(path, sizeof(path), "%s/%s", f->udir, rel);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_recover(void **state)
{
	(void)state;
	struct sfix *f = sfix_new();
	store *s = sfix_open(f, 0);
	uint32_t uid;
	for (int i = 0; i < 3; i++)
		assert_int_equal(sfix_append(s, "INBOX", "r\r\n", STORE_SEEN, NULL, false, &uid), 0);
	/* A lost file, a file from elsewhere in new/ and in cur/, a stale
	 * name, a tmp leftover. */
	char path[500], from[500];
	int fd;
	assert_int_equal(store_msg_open(s, "INBOX", 2, &fd, NULL), 0);
	close(fd);
	DIR *d;
	snprintf(path, sizeof(path), "%s/cur", f->udir);
	assert_non_null(d = opendir(path));
	struct dirent *de;
	unsigned k = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(from, sizeof(from), "%s/cur/%s", f->udir, de->d_name);
		if (k++ == 0) {
			assert_int_equal(unlink(from), 0);
		} else if (k == 2) {
			snprintf(path, sizeof(path), "%s", from);
			*strstr(path, ":2,") = '\0';
			strcat(path, ":2,FT");
			assert_int_equal(rename(from, path), 0);
		}
	}
	closedir(d);
	drop_file(f, "new/1700000500.P1.other", "external\r\n");
	drop_file(f, ".Sent/cur/1700000600.P2.other:2,S", "sent\r\n");
	drop_file(f, "tmp/1700000700.P3.other", "partial");
	struct store_recovery rs;
	assert_int_equal(store_recover(s, T0, &rs), 0);
	assert_int_equal(rs.rows_dropped, 1);
	assert_int_equal(rs.files_added, 2);
	assert_int_equal(rs.files_renamed, 1);
	assert_int_equal(rs.tmp_removed, 1);
	sfix_check(f);
	struct store_msg *ml;
	size_t n;
	assert_int_equal(store_messages(s, "INBOX", NULL, &ml, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ml[2].uid, 4); /* new UID, never an old one */
	assert_int_equal(ml[2].size, 10);
	assert_int_equal(ml[2].flags, 0);
	store_msgs_free(ml, n);
	assert_int_equal(store_messages(s, "Sent", NULL, &ml, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ml[0].flags, STORE_SEEN);
	store_msgs_free(ml, n);
	/* A folder made by hand is found; a lost folder directory dropped. */
	snprintf(path, sizeof(path), "%s/.Hand", f->udir);
	assert_int_equal(mkdir(path, 0700), 0);
	strcat(path, "/cur");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(store_folder_create(s, "Gone", NULL, T0), 0);
	snprintf(path, sizeof(path), ".Gone");
	assert_int_equal(sf_remove_tree(s->userfd, path), 0);
	assert_int_equal(store_recover(s, T0, &rs), 0);
	assert_int_equal(rs.folders_added, 1);
	assert_int_equal(rs.folders_dropped, 1);
	struct store_status st;
	assert_int_equal(store_status(s, "Hand", &st), 0);
	assert_int_equal(store_status(s, "Gone", &st), ENOENT);
	/* Two names for one base (no program of ours makes that): one is
	 * indexed, the other left alone, and recovery still succeeds. */
	drop_file(f, ".Drafts/cur/1700000800.P4.other:2,S", "d\r\n");
	drop_file(f, ".Drafts/cur/1700000800.P4.other:2,F", "d\r\n");
	assert_int_equal(store_recover(s, T0, &rs), 0);
	assert_int_equal(store_status(s, "Drafts", &st), 0);
	assert_int_equal(st.messages, 1);
	store_close(&s);
	sfix_free(f);
}

static void test_rebuild(void **state)
{
	(void)state;
	struct sfix *f = sfix_new();
	store *s = sfix_open(f, 0);
	uint32_t uid;
	assert_int_equal(store_folder_create(s, "Lists.Tern", NULL, T0), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sfix_append(s, "INBOX", "i\r\n", i == 1 ? STORE_ANSWERED : 0, NULL,
					     false, &uid),
				 0);
	assert_int_equal(sfix_append(s, "Lists.Tern", "t\r\n", STORE_FLAGGED, NULL, false, &uid), 0);
	struct store_status old;
	assert_int_equal(store_status(s, "INBOX", &old), 0);
	store_close(&s);
	static const char *const gone[] = {"index.db", "index.db-wal", "index.db-shm"};
	for (size_t i = 0; i < 3; i++) {
		char path[300];
		snprintf(path, sizeof(path), "%s/%s", f->udir, gone[i]);
		unlink(path);
	}
	s = sfix_open(f, 0);
	struct store_status st;
	assert_int_equal(store_status(s, "INBOX", &st), 0);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.uidnext, 4);
	assert_true(st.uidvalidity > old.uidvalidity); /* RFC 9051: the UIDs are new */
	struct store_msg *ml;
	size_t n;
	assert_int_equal(store_messages(s, "INBOX", NULL, &ml, &n), 0);
	unsigned answered = 0;
	for (size_t i = 0; i < n; i++)
		answered += ml[i].flags == STORE_ANSWERED;
	assert_int_equal(answered, 1);
	store_msgs_free(ml, n);
	assert_int_equal(store_messages(s, "Lists.Tern", NULL, &ml, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ml[0].flags, STORE_FLAGGED);
	store_msgs_free(ml, n);
	struct store_quota q;
	assert_int_equal(store_quota_get(s, &q), 0);
	assert_int_equal(q.msgs, 4);
	sfix_check(f);
	store_close(&s);
	sfix_free(f);
}

/* An append in progress (its tmp file held by a shared lock) neither
 * blocks another session's open nor its appends; recovery by yet another
 * session would wait for it rather than remove its tmp file. */
static void test_open_during_append(void **state)
{
	(void)state;
	struct sfix *f = sfix_new();
	store *a = sfix_open(f, 0), *b;
	store_writer *w;
	uint32_t uid, uv;
	assert_int_equal(store_append_begin(a, "INBOX", 0, NULL, T0, &w), 0);
	assert_int_equal(store_writer_write(w, "slow\r\n", 6), 0);
	b = sfix_open(f, 0);
	assert_int_equal(sfix_append(b, "INBOX", "fast\r\n", 0, NULL, false, &uid), 0);
	assert_int_equal(uid, 1);
	/* The exclusive lock is not to be had while the writer lives. */
	int fd = openat(b->userfd, "ternd-store.lock", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(store_append_commit(&w, &uid, &uv), 0);
	assert_int_equal(uid, 2);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	close(fd);
	store_close(&b);
	store_close(&a);
	sfix_check(f);
	sfix_free(f);
}

#define NPER 40

struct worker {
	struct sfix *f;
	uint32_t uids[NPER];
	int err;
};

/* Appends NPER messages and flags each right after: its own handle. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	store *s = NULL;
	w->err = store_open(&s, w->f->root, USER, 0, T0);
	for (int i = 0; w->err == 0 && i < NPER; i++) {
		store_writer *wr;
		uint32_t uv;
		w->err = store_append_begin(s, "INBOX", 0, NULL, T0, &wr);
		if (w->err == 0)
			w->err = store_writer_write(wr, "t\r\n", 3);
		if (w->err == 0)
			w->err = store_append_commit(&wr, &w->uids[i], &uv);
		struct store_range r = {w->uids[i], w->uids[i]};
		struct store_uidset set = {&r, 1};
		if (w->err == 0)
			w->err = store_flags(s, "INBOX", &set, STORE_FLAGS_ADD, STORE_SEEN, "t", NULL);
	}
	store_close(&s);
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	struct sfix *f = sfix_new();
	store *s = sfix_open(f, 0);
	uint64_t c0;
	assert_int_equal(store_change_counter(s, &c0), 0);
	/* No SQLite connection may cross fork(): closed before, opened again
	 * after. The child frees what it holds before _exit, so valgrind's leak
	 * check in the child finds nothing. */
	store_close(&s);
	/* A second process appends at the same time as two threads. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct worker w = {.f = f};
		worker_run(&w);
		free(f);
		_exit(w.err);
	}
	s = sfix_open(f, 0);
	struct worker w[2] = {{.f = f}, {.f = f}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].err, 0);
		for (int j = 1; j < NPER; j++)
			assert_true(w[i].uids[j] > w[i].uids[j - 1]);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	struct store_msg *ml;
	size_t n;
	assert_int_equal(store_messages(s, "INBOX", NULL, &ml, &n), 0);
	assert_int_equal(n, 3 * NPER);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ml[i].uid, i + 1); /* each once, none skipped */
		assert_int_equal(ml[i].flags, STORE_SEEN);
	}
	store_msgs_free(ml, n);
	uint64_t c1;
	assert_int_equal(store_change_counter(s, &c1), 0);
	assert_true(c1 >= c0 + 6 * NPER); /* the other handles' changes show */
	sfix_check(f);
	store_close(&s);
	sfix_free(f);
}

static int chown_nobody(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(path, 65534, 65534);
}

/* Runs doveadm's command on the store; its output into out. */
static void doveadm(struct sfix *f, const char *cmd, char *out, size_t size)
{
	char line[1200];
	snprintf(line, sizeof(line), "USER='%s' HOME='%s' doveadm -c '%s/dovecot.conf' %s 2>&1", USER,
		 f->root, f->root, cmd);
	FILE *p = popen(line, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
}

/* An independent reader: Dovecot (doveadm, Maildir++ with UTF-8 names)
 * lists the folders and reads the messages with their flags and sizes.
 * Dovecot keeps UIDs of its own (dovecot-uidlist), so those are not
 * compared. Skipped when doveadm is not installed. */
static void test_dovecot_reads(void **state)
{
	(void)state;
	if (access("/usr/bin/doveadm", X_OK) != 0)
		skip();
	struct sfix *f = sfix_new();
	store *s = sfix_open(f, 0);
	uint32_t uid;
	assert_int_equal(store_folder_create(s, "Lists.Tern", NULL, T0), 0);
	assert_int_equal(store_folder_create(s, "Ünï", NULL, T0), 0);
	assert_int_equal(sfix_append(s, "INBOX", "Subject: one\r\n\r\n1\r\n", STORE_SEEN |
				     STORE_ANSWERED, NULL, false, &uid), 0);
	assert_int_equal(sfix_append(s, "INBOX", "Subject: two\r\n\r\n22\r\n", STORE_FLAGGED |
				     STORE_DELETED, NULL, false, &uid), 0);
	assert_int_equal(sfix_append(s, "Lists.Tern", "Subject: t\r\n\r\ntern body\r\n", 0,
				     NULL, false, &uid), 0);
	store_close(&s);
	char conf[200];
	snprintf(conf, sizeof(conf), "%s/dovecot.conf", f->root);
	FILE *c = fopen(conf, "w");
	assert_non_null(c);
	bool root = geteuid() == 0;
	fprintf(c, "base_dir = %s/run\nlog_path = %s/log\nssl = no\n"
		   "mail_location = maildir:%s:UTF-8\nmail_uid = %u\nmail_gid = %u\n"
		   "first_valid_uid = 1\nfirst_valid_gid = 1\n",
		f->root, f->root, f->udir, root ? 65534u : (unsigned)getuid(),
		root ? 65534u : (unsigned)getgid());
	fclose(c);
	if (root) /* Dovecot refuses to read mail as root */
		assert_int_equal(nftw(f->udir, chown_nobody, 16, FTW_PHYS), 0);
	assert_int_equal(chmod(f->root, 0755), 0);
	char out[4096];
	doveadm(f, "mailbox list", out, sizeof(out));
	static const char *const names[] = {"INBOX\n", "Drafts\n", "Sent\n", "Junk\n", "Trash\n",
					    "Archive\n", "Lists.Tern\n", "Ünï\n"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strstr(out, names[i]) == NULL)
			fail_msg("doveadm did not list %s in:\n%s", names[i], out);
	}
	doveadm(f, "fetch 'flags size.physical' mailbox INBOX all", out, sizeof(out));
	if (strstr(out, "flags: \\Answered \\Seen") == NULL ||
	    strstr(out, "flags: \\Flagged \\Deleted") == NULL ||
	    strstr(out, "size.physical: 19") == NULL || strstr(out, "size.physical: 20") == NULL)
		fail_msg("doveadm fetch INBOX:\n%s", out);
	doveadm(f, "fetch 'body' mailbox Lists.Tern all", out, sizeof(out));
	assert_non_null(strstr(out, "tern body"));
	/* And the store still opens beside Dovecot's own files. */
	s = sfix_open(f, STORE_OPEN_RECOVER);
	struct store_status st;
	assert_int_equal(store_status(s, "INBOX", &st), 0);
	assert_int_equal(st.messages, 2);
	store_close(&s);
	sfix_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_defaults),   cmocka_unit_test(test_folders),
		cmocka_unit_test(test_append),          cmocka_unit_test(test_flags_modseq),
		cmocka_unit_test(test_copy_move_expunge), cmocka_unit_test(test_quota),
		cmocka_unit_test(test_deliver),         cmocka_unit_test(test_recover),
		cmocka_unit_test(test_rebuild),         cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_dovecot_reads),   cmocka_unit_test(test_open_during_append),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
