/* Shared by test_queue.c and test_queue_crash.c: the queue's sources
 * (compiled in directly: they are part of ternd, not of libtern), a
 * temporary queue directory and small builders. */
#ifndef TEST_QUEUE_FIXTURE_H
#define TEST_QUEUE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../cmd/ternd/queue/qfile.c"
#include "../../cmd/ternd/queue/sched.c"
#include "../../cmd/ternd/queue/store.c"
#include "../../cmd/ternd/queue/writer.c"
#include "../../cmd/ternd/queue/deliver.c"
#include "../../cmd/ternd/queue/admin.c"
#include "../../cmd/ternd/queue/pickup.c"
#include "../../cmd/ternd/queue/queue_cmd.c"

#include <ftw.h>
#include <stdio.h>

struct qfix {
	char base[64]; /* mkdtemp; the queue is base/queue */
	char dir[96];
	q_store *q;
	struct q_options opts;
};

static int qfix_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void qfix_rm_rf(const char *path)
{
	nftw(path, qfix_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static struct qfix *qfix_new(void)
{
	struct qfix *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->base, sizeof(f->base), "/tmp/ternd-queue-XXXXXX");
	assert_non_null(mkdtemp(f->base));
	snprintf(f->dir, sizeof(f->dir), "%s/queue", f->base);
	q_options_init(&f->opts);
	return f;
}

static void qfix_open(struct qfix *f, int64_t now)
{
	assert_int_equal(q_store_open(&f->q, f->dir, &f->opts, Q_OPEN_OWNER, now), 0);
}

static void qfix_free(struct qfix *f)
{
	q_store_close(&f->q);
	qfix_rm_rf(f->base);
	free(f);
}

/* Adds a message from sender to n recipients "rI@domI" (domains cycle
 * through ndom), with body; the id goes to id. */
static int qfix_add(q_store *q, const char *sender, unsigned n, unsigned ndom, const char *body,
		    int64_t arrival, char id[Q_ID_SIZE])
{
	struct q_rcpt r[16];
	char addrs[16][64];
	memset(r, 0, sizeof(r));
	for (unsigned i = 0; i < n && i < 16; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "r%u@Dom%u.example", i, i % (ndom ? ndom : 1));
		r[i].addr = addrs[i];
	}
	struct q_envelope env = {.arrival = arrival, .sender = (char *)sender,
				 .rcpts = r, .nrcpt = n};
	q_writer *w = NULL;
	int err = q_writer_open(q, &env, &w);
	if (err != 0)
		return err;
	err = q_writer_write(w, body, strlen(body));
	if (err != 0) {
		q_writer_abort(&w);
		return err;
	}
	return q_writer_commit(&w, id);
}

/* Number of entries (not dot files) in dir/sub. */
static int qfix_count(const char *dir, const char *sub)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Message files below msg/ and incoming/. */
static int qfix_files(const char *dir)
{
	int n = qfix_count(dir, "incoming");
	for (unsigned i = 0; i < 256; i++) {
		char sub[8];
		snprintf(sub, sizeof(sub), "msg/%02x", i);
		int c = qfix_count(dir, sub);
		n += c > 0 ? c : 0;
	}
	return n;
}

/* One integer from the index. */
static long long qfix_int(q_store *q, const char *sql, const char *id)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(q->db, sql, -1, &st, NULL), SQLITE_OK);
	if (id != NULL)
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	return v;
}

/* The index and the files agree: every row has a file, every file a row,
 * tmp/ is empty, the counters are right. */
static void qfix_check_consistent(struct qfix *f)
{
	q_store *q = f->q;
	long long msgs = qfix_int(q, "SELECT count(*) FROM msg", NULL);
	assert_int_equal(qfix_files(f->dir), msgs);
	assert_int_equal(qfix_count(f->dir, "tmp"), 0);
	assert_int_equal(qfix_int(q, "SELECT v FROM meta WHERE k='count'", NULL), msgs);
	assert_int_equal(qfix_int(q, "SELECT v FROM meta WHERE k='bytes'", NULL),
			 qfix_int(q, "SELECT coalesce(sum(size),0) FROM msg", NULL));
	assert_int_equal(qfix_int(q, "SELECT count(*) FROM msg WHERE removing=1", NULL), 0);
	assert_int_equal(qfix_int(q, "SELECT count(*) FROM rcpt WHERE state=2", NULL), 0);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(q->db, "SELECT id FROM msg", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int fd = q_file_open(q, (const char *)sqlite3_column_text(st, 0), O_RDONLY);
		assert_true(fd >= 0);
		close(fd);
	}
	sqlite3_finalize(st);
}

#endif
