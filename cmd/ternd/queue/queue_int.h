/* Internals shared by the queue's files (store.c, writer.c, deliver.c,
 * admin.c, pickup.c); nothing outside cmd/ternd/queue/ includes this. */
#ifndef TERND_QUEUE_INT_H
#define TERND_QUEUE_INT_H

#include <sqlite3.h>

#include "queue.h"

#define Q_STMT_CACHE 64

struct q_store {
	struct q_options opts;
	sqlite3 *db;
	int dirfd;      /* STATE/queue */
	int tmpfd;      /* tmp/ */
	int incfd;      /* incoming/ */
	int msgfd;      /* msg/ */
	int pickupfd;   /* pickup/ */
	int lockfd;
	bool owner;     /* holds the lock: may recover, settle, unlink */
	unsigned unsettled;
	struct q_idgen idgen;
	q_hook_fn *hook;
	void *hook_arg;
	/* Statements compiled once and reused (q_db_prepare, q_db_done):
	 * compiling each use was a quarter of ternd's CPU per relayed
	 * message. Keyed by the SQL text's address, checked by its text. */
	struct {
		const char *sql;
		sqlite3_stmt *st;
		bool busy;
	} stmts[Q_STMT_CACHE];
};

/* Calls the test hook, if any, at a named step. */
static inline void q_point(q_store *q, const char *point)
{
	if (q->hook != NULL)
		q->hook(q->hook_arg, point);
}

/* SQLite helpers (store.c). q_db_err maps a SQLite result to an errno. */
int q_db_err(int rc);
int q_db_exec(q_store *q, const char *sql);
/* A statement for sql: a cached one, reset, when it is free (the SQL
 * kept compiled), else a new one. Give it back with q_db_done, never
 * sqlite3_finalize. */
int q_db_prepare(q_store *q, const char *sql, sqlite3_stmt **st_r);
/* Done with a statement of q_db_prepare (or any other): a cached one is
 * reset for the next use, any other finalized. NULL is fine. */
void q_db_done(q_store *q, sqlite3_stmt *st);
/* Finalizes every cached statement (before the database closes). */
void q_db_cache_clear(q_store *q);
int q_db_begin(q_store *q);
int q_db_commit(q_store *q);
void q_db_rollback(q_store *q);
/* Prepares sql and binds ?1 to text1 and ?2 to int2, where it has them. */
int q_db_prepare_id(q_store *q, const char *sql, const char *text1, int64_t int2,
		    sqlite3_stmt **st_r);
/* Runs one statement to its first row: ?1 (when the statement has it) is
 * text1, ?2 is int2; count_r (may be NULL) gets the first column of a
 * result row. */
int q_db_run(q_store *q, const char *sql, const char *text1, int64_t int2, int *count_r);
/* Binds text, or NULL for a NULL pointer. */
void q_db_bind_text(sqlite3_stmt *st, int i, const char *s);
/* 1 when message id has rows, 0 when not, or -errno. */
int q_db_has_msg(q_store *q, const char *id);

/* Indexes a message (W3) inside the caller's transaction: rows for it and
 * its recipients with states from their status bytes, counters. st_off
 * (may be NULL: env->rcpts[i].st_off is used). next_at: when it is due. */
int q_index_insert(q_store *q, const char *id, const struct q_envelope *env,
		   const uint64_t *st_off, uint64_t size, int64_t next_at);
/* The same in its own transaction. */
int q_index_insert_txn(q_store *q, const char *id, const struct q_envelope *env,
		       const uint64_t *st_off, uint64_t size, int64_t next_at);

/* Opens id's file (msg/XX/ID, else incoming/ID) with flags; -1 and errno
 * when neither exists. */
int q_file_open(q_store *q, const char *id, int flags);
/* Unlinks id's file wherever it is; 0 or ENOENT. */
int q_file_unlink(q_store *q, const char *id);
/* Reads the header of the open file fd (not consumed): env and the message
 * size. */
int q_file_envelope(int fd, struct q_envelope *env, uint64_t *body_off_r, uint64_t *size_r);

/* Reads the envelope and message size of the file name in dirfd. A file
 * that is not a queue file (or a symlink) is set aside: EBADMSG. */
int q_file_read_at(q_store *q, int dirfd, const char *name, struct q_envelope *env,
		   uint64_t *size_r);
/* Moves name (in fromfd) to corrupt/: never deleted, it may be mail. */
void q_set_aside(q_store *q, int fromfd, const char *name);

/* Finishes every removal flagged removing=1 (R1). Owner only. */
int q_finish_removals(q_store *q);

#endif
