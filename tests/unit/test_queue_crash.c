/* Crash tests of ternd's outbound queue: a child process adds, claims and
 * records messages and is killed (SIGKILL) at the k-th step of the
 * invariants in queue.h, for every k; the parent then recovers the queue
 * and checks that no acknowledged message was lost, that nothing recorded
 * as delivered is due again, that the pickup message is there exactly once
 * (or delivered), and that the index and the files agree. The power-loss
 * cases (NORMAL commits rolled back) are argued in queue.h, not tested. */
#include "queue_fixture.h"

#include <signal.h>
#include <sys/wait.h>

#define T0 1700000000
#define NMSG 6

struct child {
	unsigned stop_at;
	unsigned seen;
	int log;
};

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs the step ("K name") and dies there when it is the k-th. */
static void kill_hook(void *arg, const char *point)
{
	struct child *c = arg;
	say(c->log, "K %s\n", point);
	if (++c->seen == c->stop_at)
		raise(SIGKILL);
}

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

/* Whether id is one of the messages whose second recipient is deferred:
 * every other one added (ids[0..n) in the order added); the pickup message
 * is not one of them. */
static bool deferred_one(const char ids[][Q_ID_SIZE], unsigned n, const char *id)
{
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(ids[i], id) == 0)
			return (i & 1) != 0;
	}
	return false;
}

/* The child's work. Logs "A ID" once a message is acknowledged (commit
 * returned: 250), "R ID" before recording, "D ID IDX" once a delivery is
 * recorded, "P" once the pickup file is durable. Exits 0 when the hook
 * never fired. */
static void child_run(const char *dir, unsigned stop_at, int log)
{
	struct child c = {.stop_at = stop_at, .log = log};
	struct q_options o;
	q_options_init(&o);
	o.settle_batch = 3;
	q_store *q = NULL;
	/* The pickup drop first (storeless, so no steps of its own). */
	struct q_rcpt pr = {.addr = "p@pickup.example"};
	struct q_envelope penv = {.arrival = T0, .sender = "pickup@x", .rcpts = &pr, .nrcpt = 1};
	q_writer *w;
	char id[Q_ID_SIZE];
	if (q_pickup_writer_open(dir, &penv, &w) != 0 || q_writer_write(w, "p\r\n", 3) != 0 ||
	    q_writer_commit(&w, id) != 0)
		_exit(5);
	say(log, "P\n");
	if (q_store_open(&q, dir, &o, Q_OPEN_OWNER, T0) != 0)
		_exit(6);
	q_store_set_hook(q, kill_hook, &c);
	char ids[NMSG][Q_ID_SIZE];
	for (int i = 0; i < NMSG; i++) {
		if (qfix_add(q, "s@x", 2, 2, "body\r\n", T0, ids[i]) != 0)
			_exit(7);
		say(log, "A %s\n", ids[i]);
	}
	if (q_pickup_ingest(q, T0, NULL) != 0)
		_exit(8);
	struct q_batch b;
	if (q_due(q, T0, 100, &b) != 0)
		_exit(9);
	/* Per message: rcpt 0 delivered; rcpt 1 delivered for every other
	 * message, deferred for the rest. Jobs are grouped by domain, so
	 * record each job alone. */
	for (unsigned j = 0; j < b.n; j++) {
		struct q_job *jb = &b.jobs[j];
		bool deferred = jb->idx == 1 && deferred_one(ids, NMSG, jb->id);
		struct q_result r = {.idx = jb->idx, .code = 250};
		r.outcome = deferred ? Q_TEMPFAIL : Q_DELIVERED;
		say(log, "R %s\n", jb->id);
		if (q_record(q, jb->id, &r, 1, T0 + 1, NULL) != 0)
			_exit(10);
		if (r.outcome == Q_DELIVERED)
			say(log, "D %s %u\n", jb->id, jb->idx);
	}
	q_batch_free(&b);
	q_store_close(&q);
	_exit(0);
}

struct logged {
	char acked[NMSG][Q_ID_SIZE];
	unsigned nacked;
	char recorded[64][Q_ID_SIZE];
	unsigned nrecorded;
	char delivered[64][Q_ID_SIZE];
	unsigned delivered_idx[64];
	unsigned ndelivered;
	bool pickup;
	char killed_at[32]; /* the last step seen */
};

static void read_log(FILE *in, struct logged *l)
{
	char line[128];
	memset(l, 0, sizeof(*l));
	while (fgets(line, sizeof(line), in) != NULL) {
		char id[Q_ID_SIZE];
		unsigned idx;
		if (line[0] == 'P') {
			l->pickup = true;
		} else if (line[0] == 'K') {
			snprintf(l->killed_at, sizeof(l->killed_at), "%.30s", line + 2);
			l->killed_at[strcspn(l->killed_at, "\n")] = '\0';
		} else if (sscanf(line, "A %15s", id) == 1 && l->nacked < NMSG) {
			memcpy(l->acked[l->nacked++], id, Q_ID_SIZE);
		} else if (sscanf(line, "R %15s", id) == 1 && l->nrecorded < 64) {
			memcpy(l->recorded[l->nrecorded++], id, Q_ID_SIZE);
		} else if (sscanf(line, "D %15s %u", id, &idx) == 2 && l->ndelivered < 64) {
			l->delivered_idx[l->ndelivered] = idx;
			memcpy(l->delivered[l->ndelivered++], id, Q_ID_SIZE);
		}
	}
}

static bool was_recorded(const struct logged *l, const char *id)
{
	for (unsigned i = 0; i < l->nrecorded; i++) {
		if (strcmp(l->recorded[i], id) == 0)
			return true;
	}
	return false;
}

/* After recovery: the checks of the file comment. */
static void check_recovered(struct qfix *f, const struct logged *l)
{
	q_store *q = f->q;
	unsigned ingested = 0;
	assert_int_equal(q_pickup_ingest(q, T0 + 2, &ingested), 0);
	qfix_check_consistent(f);
	for (unsigned i = 0; i < l->nacked; i++) {
		const char *id = l->acked[i];
		bool odd = deferred_one(l->acked, l->nacked, id);
		long long present = qfix_int(q, "SELECT count(*) FROM msg WHERE id=?1", id);
		/* Gone only when the child recorded all of it as delivered. */
		if (present == 0) {
			assert_false(odd);
			assert_true(was_recorded(l, id));
			continue;
		}
		assert_int_equal(present, 1);
		assert_int_equal(qfix_int(q, "SELECT count(*) FROM rcpt WHERE msg=?1", id), 2);
	}
	/* Nothing recorded as delivered is due again. */
	for (unsigned i = 0; i < l->ndelivered; i++) {
		sqlite3_stmt *st;
		const char *sql = "SELECT state FROM rcpt WHERE msg=?1 AND idx=?2";
		assert_int_equal(sqlite3_prepare_v2(q->db, sql, -1, &st, NULL), SQLITE_OK);
		sqlite3_bind_text(st, 1, l->delivered[i], -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, (int)l->delivered_idx[i]);
		if (sqlite3_step(st) == SQLITE_ROW)
			assert_int_equal(sqlite3_column_int(st, 0), Q_ST_DELIVERED);
		sqlite3_finalize(st);
	}
	/* The pickup message: exactly once, unless delivered. */
	long long picked = qfix_int(q, "SELECT count(*) FROM msg WHERE sender='pickup@x'", NULL);
	assert_true(picked <= 1);
	if (l->pickup && picked == 0) {
		/* Then the child recorded a message it did not add. */
		bool delivered = false;
		for (unsigned i = 0; i < l->nrecorded; i++) {
			bool added = false;
			for (unsigned j = 0; j < l->nacked; j++)
				added |= strcmp(l->recorded[i], l->acked[j]) == 0;
			delivered |= !added;
		}
		assert_true(delivered);
	}
	/* Drains: everything left is delivered once. */
	struct q_batch b;
	assert_int_equal(q_due(q, T0 + 100000, 1000, &b), 0);
	for (unsigned j = 0; j < b.n; j++) {
		struct q_result r = {.idx = b.jobs[j].idx, .outcome = Q_DELIVERED, .code = 250};
		assert_int_equal(q_record(q, b.jobs[j].id, &r, 1, T0 + 100000, NULL), 0);
	}
	q_batch_free(&b);
	assert_int_equal(qfix_int(q, "SELECT count(*) FROM msg", NULL), 0);
	assert_int_equal(qfix_files(f->dir), 0);
	qfix_check_consistent(f);
}

/* Runs child_run(k) on a new queue in f, reads its log into l; returns
 * its wait status. */
static int fork_child(struct qfix *f, unsigned k, struct logged *l)
{
	qfix_open(f, T0); /* the directories, as ternd makes at start */
	q_store_close(&f->q);
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		child_run(f->dir, k, p[1]);
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

static void test_kill_at_every_step(void **state)
{
	(void)state;
	/* Every step of queue.h's invariants is a kill point at least once. */
	static const char *const steps[] = {
		"writer.opened",  "commit.fsynced", "commit.renamed",  "commit.durable",
		"commit.indexed", "settle.indexed", "settle.barrier",  "settle.moved",
		"pickup.renamed", "pickup.indexed", "due.claimed",     "record.committed",
		"remove.flagged", "remove.unlinked", "remove.deleted",
	};
	bool hit[sizeof(steps) / sizeof(steps[0])] = {false};
	unsigned k;
	for (k = 1; k < 1000; k++) {
		struct qfix *f = qfix_new();
		struct logged l;
		int status = fork_child(f, k, &l);
		bool finished = WIFEXITED(status);
		if (finished)
			assert_int_equal(WEXITSTATUS(status), 0);
		else
			assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		for (size_t s = 0; !finished && s < sizeof(steps) / sizeof(steps[0]); s++)
			hit[s] |= strcmp(l.killed_at, steps[s]) == 0;
		qfix_open(f, T0 + 2);
		check_recovered(f, &l);
		qfix_free(f);
		if (finished)
			break;
	}
	print_message("killed at %u steps\n", k - 1);
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		if (!hit[s])
			print_message("never killed at %s\n", steps[s]);
		assert_true(hit[s]);
	}
}

/* Recovery also works when the index is lost after a crash. */
static void test_kill_then_lose_index(void **state)
{
	(void)state;
	for (unsigned k = 5; k < 60; k += 7) {
		struct qfix *f = qfix_new();
		struct logged l;
		int status = fork_child(f, k, &l);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		char path[200];
		snprintf(path, sizeof(path), "%s/queue.db", f->dir);
		unlink(path);
		qfix_open(f, T0 + 2);
		qfix_check_consistent(f);
		/* Every acknowledged message is back (a rebuild may repeat a
		 * delivery the index had recorded: at least once). */
		for (unsigned i = 0; i < l.nacked; i++) {
			long long present = qfix_int(f->q, "SELECT count(*) FROM msg WHERE id=?1",
						     l.acked[i]);
			if (present == 0)
				assert_true(was_recorded(&l, l.acked[i]));
		}
		qfix_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_at_every_step),
		cmocka_unit_test(test_kill_then_lose_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
