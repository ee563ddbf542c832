/* Crash tests of ternd's mail store: a child process runs a fixed script
 * (appends, flags, copy, move, expunge, folder rename and delete) and is
 * killed (SIGKILL) at the k-th crash point, for every k; the parent then
 * opens the store with recovery and checks that the index and the files
 * agree, that no acknowledged append was lost, that a moved message exists
 * exactly once, that acknowledged flags stuck, and that UIDs handed out
 * before the crash are never handed out again. Then the same with the
 * index lost as well. Power loss (the page cache dropped) is argued in
 * docs/store.md, not tested. */
#include "test_store_fixture.h"

#include <signal.h>
#include <sys/wait.h>

struct child {
	unsigned stop_at, seen;
	int log;
};

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(int fd, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(fd, line, (size_t)n) != n)
		_exit(4);
}

static void kill_hook(void *arg, const char *point)
{
	struct child *c = arg;
	say(c->log, "K %s\n", point);
	if (++c->seen == c->stop_at)
		raise(SIGKILL);
}

#define NMSG 4

/* The script. Logs "A i uid" once message i ("mI") is acknowledged, then
 * one letter per finished phase: F (flags), C (copy), M (move), E
 * (expunge), W (folders made), R (rename), D (delete), V (delivery to
 * two users); a lower-case one
 * when a phase starts (e: expunge, d: delete). */
static void child_run(const char *root, unsigned stop_at, int log)
{
	struct child c = {.stop_at = stop_at, .log = log};
	store *s;
	if (store_open(&s, root, USER, 0, T0) != 0)
		_exit(6);
	store_set_hook(s, kill_hook, &c);
	for (int i = 1; i <= NMSG; i++) {
		char body[16];
		uint32_t uid;
		snprintf(body, sizeof(body), "m%d\r\n", i);
		if (sfix_append(s, "INBOX", body, 0, NULL, false, &uid) != 0)
			_exit(7);
		say(log, "A %d %u\n", i, uid);
	}
	struct store_range all = {1, UINT32_MAX}, r12 = {1, 2}, r3 = {3, 3}, r4 = {4, 4};
	struct store_uidset sall = {&all, 1}, s12 = {&r12, 1}, s3 = {&r3, 1}, s4 = {&r4, 1};
	if (store_flags(s, "INBOX", &sall, STORE_FLAGS_ADD, STORE_SEEN, "done", NULL) != 0)
		_exit(8);
	say(log, "F\n");
	if (store_copy(s, "INBOX", &s12, "Archive", false, NULL) != 0)
		_exit(9);
	say(log, "C\n");
	if (store_copy(s, "INBOX", &s3, "Trash", true, NULL) != 0)
		_exit(10);
	say(log, "M\n");
	if (store_flags(s, "INBOX", &s4, STORE_FLAGS_ADD, STORE_DELETED, NULL, NULL) != 0)
		_exit(11);
	say(log, "e\n");
	if (store_expunge(s, "INBOX", NULL, true, NULL, NULL) != 0)
		_exit(12);
	say(log, "E\n");
	uint32_t uid;
	if (store_folder_create(s, "Work", NULL, T0) != 0 ||
	    store_folder_create(s, "Work.Sub", NULL, T0) != 0 ||
	    sfix_append(s, "Work.Sub", "w\r\n", 0, NULL, false, &uid) != 0)
		_exit(13);
	say(log, "W\n");
	if (store_folder_rename(s, "Work", "Job") != 0)
		_exit(14);
	say(log, "R\n");
	say(log, "d\n");
	if (store_folder_delete(s, "Job") != 0)
		_exit(15);
	say(log, "D\n");
	store_writer *w;
	const char *users[] = {USER, "bob@example.org"};
	struct store_delivery res[2];
	if (store_deliver_begin(root, T0, &w) != 0)
		_exit(16);
	store_deliver_set_hook(w, kill_hook, &c);
	if (store_writer_write(w, "v\r\n", 3) != 0 ||
	    store_deliver_commit(&w, users, 2, T0, res) != 0 || res[0].err != 0)
		_exit(16);
	say(log, "V\n");
	store_close(&s);
	_exit(0);
}

struct logged {
	bool acked[NMSG + 1];
	uint32_t max_uid;
	char phases[16];
	char killed_at[32];
};

static void read_log(FILE *in, struct logged *l)
{
	char line[128];
	int i;
	unsigned uid;
	memset(l, 0, sizeof(*l));
	while (fgets(line, sizeof(line), in) != NULL) {
		if (line[0] == 'K') {
			snprintf(l->killed_at, sizeof(l->killed_at), "%.30s", line + 2);
			l->killed_at[strcspn(l->killed_at, "\n")] = '\0';
		} else if (sscanf(line, "A %d %u", &i, &uid) == 2 && i >= 1 && i <= NMSG) {
			l->acked[i] = true;
			if (uid > l->max_uid)
				l->max_uid = uid;
		} else {
			size_t n = strlen(l->phases);
			if (n < sizeof(l->phases) - 1) {
				l->phases[n] = line[0];
				l->phases[n + 1] = '\0';
			}
		}
	}
}

static bool did(const struct logged *l, char phase)
{
	return strchr(l->phases, phase) != NULL;
}

/* How many messages of folder have body text; *flags_r the flags of the
 * last one. */
static unsigned count_body(store *s, const char *folder, const char *text, unsigned *flags_r)
{
	struct store_msg *ml;
	size_t n;
	unsigned k = 0;
	if (store_messages(s, folder, NULL, &ml, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char buf[64];
		sfix_read(s, folder, ml[i].uid, buf, sizeof(buf));
		if (strcmp(buf, text) == 0) {
			k++;
			if (flags_r != NULL)
				*flags_r = ml[i].flags;
		}
	}
	store_msgs_free(ml, n);
	return k;
}

static void check_recovered(struct sfix *f, const struct logged *l, bool index_lost)
{
	store *s = sfix_open(f, STORE_OPEN_RECOVER);
	sfix_check(f);
	for (int i = 1; i <= NMSG; i++) {
		char body[16];
		unsigned fl = 0;
		snprintf(body, sizeof(body), "m%d\r\n", i);
		unsigned in = count_body(s, "INBOX", body, &fl);
		unsigned trash = count_body(s, "Trash", body, NULL);
		unsigned arch = count_body(s, "Archive", body, NULL);
		assert_true(in <= 1 && trash <= 1 && arch <= 1);
		if (!l->acked[i])
			continue;
		if (i == 3) {
			/* Moved: exactly once, in Trash once the move returned. */
			assert_int_equal(in + trash, 1);
			if (did(l, 'M'))
				assert_int_equal(trash, 1);
		} else if (i == 4) {
			if (!did(l, 'e'))
				assert_int_equal(in, 1);
			if (did(l, 'E'))
				assert_int_equal(in, 0);
		} else {
			assert_int_equal(in, 1);
			if (did(l, 'C'))
				assert_int_equal(arch, 1);
		}
		/* A rebuild takes flags from the names, which may lag an
		 * acknowledged change (the rename follows the commit). */
		if (in == 1 && did(l, 'F') && !index_lost)
			assert_true(fl & STORE_SEEN);
	}
	struct store_status st;
	if (did(l, 'W') && !did(l, 'R'))
		assert_int_equal(count_body(s, "Work.Sub", "w\r\n", NULL) +
					 count_body(s, "Job.Sub", "w\r\n", NULL),
				 1);
	if (did(l, 'R') && !did(l, 'd'))
		assert_int_equal(count_body(s, "Job.Sub", "w\r\n", NULL), 1);
	if (did(l, 'D')) {
		assert_int_equal(store_status(s, "Job", &st), ENOENT);
		assert_int_equal(store_status(s, "Job.Sub", &st), ENOENT);
	}
	if (did(l, 'V'))
		assert_int_equal(count_body(s, "INBOX", "v\r\n", NULL), 1);
	/* UIDs are not handed out again (with the index lost, UIDVALIDITY
	 * changed instead). */
	uint32_t uid;
	assert_int_equal(sfix_append(s, "INBOX", "after\r\n", 0, NULL, false, &uid), 0);
	if (!index_lost)
		assert_true(uid > l->max_uid);
	sfix_check(f);
	store_close(&s);
}

static int fork_child(struct sfix *f, unsigned k, struct logged *l)
{
	store *s = sfix_open(f, 0); /* the directories and default folders */
	store_close(&s);
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		child_run(f->root, k, p[1]);
	}
	close(p[1]);
	FILE *in = fdopen(p[0], "r");
	assert_non_null(in);
	read_log(in, l);
	fclose(in);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static const char *const points[] = {
	"append.opened", "append.fsynced", "append.renamed", "append.committed",
	"flags.committed", "copy.linked", "move.renamed", "expunge.unlinked",
	"rename.moved", "delete.aside", "delete.committed",
};
#define NPOINTS (sizeof(points) / sizeof(points[0]))

static void test_kill_at_every_point(void **state)
{
	(void)state;
	bool hit[NPOINTS] = {false};
	unsigned k;
	for (k = 1; k < 500; k++) {
		struct sfix *f = sfix_new();
		struct logged l;
		int status = fork_child(f, k, &l);
		bool finished = WIFEXITED(status);
		if (finished)
			assert_int_equal(WEXITSTATUS(status), 0);
		else
			assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		for (size_t p = 0; !finished && p < NPOINTS; p++)
			hit[p] |= strcmp(l.killed_at, points[p]) == 0;
		check_recovered(f, &l, false);
		sfix_free(f);
		if (finished)
			break;
	}
	print_message("killed at %u points\n", k - 1);
	for (size_t p = 0; p < NPOINTS; p++) {
		if (!hit[p])
			print_message("never killed at %s\n", points[p]);
		assert_true(hit[p]);
	}
}

/* A crash, then index.db lost too: rebuilt from the files. */
static void test_kill_then_lose_index(void **state)
{
	(void)state;
	for (unsigned k = 2; k < 28; k += 3) {
		struct sfix *f = sfix_new();
		struct logged l;
		int status = fork_child(f, k, &l);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		static const char *const gone[] = {"index.db", "index.db-wal", "index.db-shm"};
		for (size_t i = 0; i < 3; i++) {
			char path[300];
			snprintf(path, sizeof(path), "%s/%s", f->udir, gone[i]);
			unlink(path);
		}
		check_recovered(f, &l, true);
		sfix_free(f);
	}
}

/* A recovery killed at each of its own points, then recovered again:
 * recovery is idempotent, whatever it was interrupted in. */
static void test_kill_during_recovery(void **state)
{
	(void)state;
	unsigned runs = 0;
	for (unsigned k = 3; k < 28; k += 4) {
		for (unsigned j = 1; j < 100; j++) {
			struct sfix *f = sfix_new();
			struct logged l;
			int status = fork_child(f, k, &l);
			assert_true(WIFSIGNALED(status));
			pid_t pid = fork();
			assert_true(pid >= 0);
			if (pid == 0) {
				struct child c = {.stop_at = j, .log = open("/dev/null", O_WRONLY)};
				store *s;
				int rc = 5;
				if (store_open(&s, f->root, USER, 0, T0) == 0) {
					store_set_hook(s, kill_hook, &c);
					rc = store_recover(s, T0, NULL) != 0 ? 6 : 0;
					store_close(&s);
				}
				/* Freed so that valgrind's leak check in this
				 * child (run at _exit) finds nothing. */
				close(c.log);
				free(f);
				_exit(rc);
			}
			assert_int_equal(waitpid(pid, &status, 0), pid);
			bool finished = WIFEXITED(status);
			if (finished)
				assert_int_equal(WEXITSTATUS(status), 0);
			check_recovered(f, &l, false);
			sfix_free(f);
			runs++;
			if (finished)
				break;
		}
	}
	print_message("%u recoveries\n", runs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_at_every_point),
		cmocka_unit_test(test_kill_then_lose_index),
		cmocka_unit_test(test_kill_during_recovery),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
