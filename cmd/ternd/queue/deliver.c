/* Delivering from the queue: claiming due recipients (D1), opening bodies,
 * recording outcomes (D2), DSN bookkeeping and removal (R1); see queue.h. */
#include "queue_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- removal (R1) ------------------------------------------------------ */

/* Deletes id's rows and takes it off the counters (inside a transaction). */
static int delete_rows(q_store *q, const char *id)
{
	static const char *const sql[] = {
		"UPDATE meta SET v=v-CASE k WHEN 'count' THEN 1 ELSE "
		"(SELECT size FROM msg WHERE id=?1) END "
		"WHERE k IN ('count','bytes') AND EXISTS(SELECT 1 FROM msg WHERE id=?1)",
		"DELETE FROM rcpt WHERE msg=?1",
		"DELETE FROM msg WHERE id=?1",
	};
	int err = 0;
	for (size_t i = 0; err == 0 && i < sizeof(sql) / sizeof(sql[0]); i++)
		err = q_db_run(q, sql[i], id, 0, NULL);
	return err;
}

static int delete_rows_txn(q_store *q, const char *id)
{
	int err = q_db_begin(q);
	if (err != 0)
		return err;
	if ((err = delete_rows(q, id)) != 0) {
		q_db_rollback(q);
		return err;
	}
	return q_db_commit(q);
}

/* R1 after the flag is committed: file first, then rows. */
static int remove_flagged(q_store *q, const char *id)
{
	int err = q_file_unlink(q, id);
	if (err != 0 && err != ENOENT)
		return err;
	q_point(q, "remove.unlinked");
	err = delete_rows_txn(q, id);
	if (err == 0)
		q_point(q, "remove.deleted");
	return err;
}

static int flag_removing(q_store *q, const char *id)
{
	return q_db_run(q, "UPDATE msg SET removing=1 WHERE id=?1", id, 0, NULL);
}

/* Up to 256 flagged ids into ids; their number, or -errno. */
static int flagged(q_store *q, char (*ids)[Q_ID_SIZE])
{
	sqlite3_stmt *st;
	int err = q_db_prepare(q, "SELECT id FROM msg WHERE removing=1 LIMIT 256", &st);
	if (err != 0)
		return -err;
	int n = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		if (id != NULL && strlen(id) == Q_ID_LEN)
			memcpy(ids[n++], id, Q_ID_SIZE);
	}
	q_db_done(q, st);
	return rc == SQLITE_DONE ? n : -q_db_err(rc);
}

int q_finish_removals(q_store *q)
{
	if (!q->owner)
		return 0;
	char (*ids)[Q_ID_SIZE] = malloc(256 * sizeof(*ids));
	if (ids == NULL)
		return ENOMEM;
	int err = 0, n;
	/* In batches of 256: a `delete ALL` flags the whole queue. */
	do {
		n = flagged(q, ids);
		if (n < 0)
			err = -n;
		for (int i = 0; i < n && err == 0; i++)
			err = remove_flagged(q, ids[i]);
	} while (err == 0 && n == 256);
	free(ids);
	return err;
}

/* ---- due recipients (D1) ------------------------------------------------ */

static int job_cmp(const void *a, const void *b)
{
	const struct q_job *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);
	if (c == 0)
		c = strcmp(x->id, y->id);
	return c != 0 ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

void q_batch_free(struct q_batch *b)
{
	for (unsigned i = 0; b->jobs != NULL && i < b->n; i++) {
		free(b->jobs[i].rcpt);
		free(b->jobs[i].domain);
	}
	free(b->jobs);
	b->jobs = NULL;
	b->n = 0;
}

static int claim(q_store *q, int64_t now, unsigned limit, struct q_batch *b)
{
	sqlite3_stmt *sel = NULL, *upd = NULL;
	int err = q_db_prepare(q,
			       "SELECT msg, idx, addr, domain, attempts FROM rcpt "
			       "WHERE state<=2 AND hold=0 AND next_at<=?1 "
			       "ORDER BY next_at LIMIT ?2",
			       &sel);
	if (err == 0)
		err = q_db_prepare(q, "UPDATE rcpt SET state=2, next_at=?1 WHERE msg=?2 AND idx=?3",
				   &upd);
	if (err != 0)
		goto out;
	sqlite3_bind_int64(sel, 1, now);
	sqlite3_bind_int64(sel, 2, limit);
	int rc;
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		struct q_job *j = &b->jobs[b->n];
		const char *id = (const char *)sqlite3_column_text(sel, 0);
		if (id == NULL || strlen(id) != Q_ID_LEN)
			continue;
		memcpy(j->id, id, Q_ID_SIZE);
		j->idx = (unsigned)sqlite3_column_int(sel, 1);
		j->rcpt = strdup((const char *)sqlite3_column_text(sel, 2));
		j->domain = strdup((const char *)sqlite3_column_text(sel, 3));
		j->attempts = (unsigned)sqlite3_column_int(sel, 4);
		b->n++;
		if (j->rcpt == NULL || j->domain == NULL) {
			err = ENOMEM;
			goto out;
		}
	}
	if ((err = q_db_err(rc)) != 0)
		goto out;
	for (unsigned i = 0; i < b->n && err == 0; i++) {
		sqlite3_reset(upd);
		sqlite3_bind_int64(upd, 1, now + (int64_t)q->opts.claim_timeout);
		q_db_bind_text(upd, 2, b->jobs[i].id);
		sqlite3_bind_int(upd, 3, (int)b->jobs[i].idx);
		err = q_db_err(sqlite3_step(upd));
	}
out:
	q_db_done(q, sel);
	q_db_done(q, upd);
	return err;
}

int q_due(q_store *q, int64_t now, unsigned limit, struct q_batch *b)
{
	b->jobs = NULL;
	b->n = 0;
	/* Best effort: a removal that fails now (a file that cannot be
	 * unlinked) stays flagged and must not stop deliveries. */
	(void)q_finish_removals(q);
	if (limit == 0)
		return 0;
	int err;
	if (limit > Q_DUE_MAX)
		limit = Q_DUE_MAX;
	if ((b->jobs = calloc(limit, sizeof(*b->jobs))) == NULL)
		return ENOMEM;
	if ((err = q_db_begin(q)) == 0) {
		err = claim(q, now, limit, b);
		if (err == 0)
			err = q_db_commit(q);
		else
			q_db_rollback(q);
	}
	if (err != 0) {
		q_batch_free(b);
		return err;
	}
	q_point(q, "due.claimed");
	qsort(b->jobs, b->n, sizeof(*b->jobs), job_cmp);
	return 0;
}

int q_body_open(q_store *q, const char *id, int *fd_r, struct q_envelope *env_r)
{
	*fd_r = -1;
	int fd = q_file_open(q, id, O_RDONLY);
	if (fd < 0) {
		int err = errno;
		/* R1: rows without a file, from a removal cut short. */
		if (err == ENOENT && q->owner && q_db_has_msg(q, id) == 1)
			(void)delete_rows_txn(q, id);
		return err;
	}
	struct q_envelope env;
	uint64_t off = 0;
	int err = q_file_envelope(fd, &env, &off, NULL);
	if (err == 0 && lseek(fd, (off_t)off, SEEK_SET) < 0) {
		err = errno;
		q_envelope_free(&env);
	}
	if (err != 0) {
		close(fd);
		return err;
	}
	if (env_r != NULL)
		*env_r = env;
	else
		q_envelope_free(&env);
	*fd_r = fd;
	return 0;
}

/* ---- outcomes (D2) ------------------------------------------------------ */

/* The status bytes of final recipients that owe nothing (for rebuilds; no
 * fsync, see qfile.h). */
static void write_status_bytes(q_store *q, const char *id)
{
	sqlite3_stmt *st;
	if (q_db_prepare_id(q, "SELECT state, st_off FROM rcpt WHERE msg=?1 AND state>=3 AND dsn=0",
			    id, 0, &st) != 0)
		return;
	int fd = -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (fd < 0 && (fd = q_file_open(q, id, O_WRONLY)) < 0)
			break;
		char c = sqlite3_column_int(st, 0) == Q_ST_DELIVERED ? 'D' : 'F';
		(void)pwrite(fd, &c, 1, (off_t)sqlite3_column_int64(st, 1));
	}
	q_db_done(q, st);
	if (fd >= 0)
		close(fd);
}

/* 1 when every recipient of id is final and owes no DSN, 0 when not. */
static int complete(q_store *q, const char *id)
{
	int n = 0;
	int err = q_db_run(q, "SELECT count(*) FROM rcpt WHERE msg=?1 AND (state<3 OR dsn<>0)",
			   id, 0, &n);
	return err != 0 ? -err : n == 0;
}

struct msg_info {
	int64_t arrival;
	bool null_sender;
};

static int msg_info(q_store *q, const char *id, struct msg_info *mi)
{
	sqlite3_stmt *st;
	int err = q_db_prepare_id(q, "SELECT arrival, sender FROM msg WHERE id=?1 AND removing=0",
				  id, 0, &st);
	if (err != 0)
		return err;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		mi->arrival = sqlite3_column_int64(st, 0);
		const char *s = (const char *)sqlite3_column_text(st, 1);
		mi->null_sender = s == NULL || s[0] == '\0';
	}
	q_db_done(q, st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? ENOENT : q_db_err(rc);
}

/* One recipient's outcome; *final_r tells whether it became final. */
static int record_one(q_store *q, const char *id, const struct msg_info *mi,
		      const struct q_result *r, int64_t now, struct q_record_summary *sum,
		      bool *final_r)
{
	sqlite3_stmt *st;
	int err = q_db_prepare_id(q,
				  "SELECT state, attempts, notify, delay_sent FROM rcpt "
				  "WHERE msg=?1 AND idx=?2",
				  id, r->idx, &st);
	if (err != 0)
		return err;
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW || sqlite3_column_int(st, 0) >= Q_ST_DELIVERED) {
		q_db_done(q, st);
		return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : q_db_err(rc);
	}
	unsigned attempts = (unsigned)sqlite3_column_int(st, 1) + 1;
	unsigned notify = q_notify_effective((unsigned)sqlite3_column_int(st, 2));
	bool delay_sent = sqlite3_column_int(st, 3) != 0;
	q_db_done(q, st);

	int state;
	int64_t next_at = now;
	unsigned dsn = 0;
	bool notify_ok = !mi->null_sender && (notify & Q_NOTIFY_NEVER) == 0;
	if (r->outcome == Q_DELIVERED) {
		state = Q_ST_DELIVERED;
		if (notify_ok && (notify & Q_NOTIFY_SUCCESS) != 0 && !r->passed_on)
			dsn = Q_DSN_SUCCESS;
	} else if (r->outcome == Q_PERMFAIL ||
		   q_expired(&q->opts, mi->arrival, mi->null_sender, now)) {
		/* A temporary failure past the lifetime is final: the DSN
		 * builder tells "expired" by the 4xx code kept with it. */
		state = Q_ST_FAILED;
		/* A failed bounce (the null sender) owes its report to
		 * postmaster instead (bounce.c: the "double bounce"). */
		if ((notify_ok && (notify & Q_NOTIFY_FAILURE) != 0) || mi->null_sender)
			dsn = Q_DSN_FAILURE;
	} else {
		state = Q_ST_DEFERRED;
		next_at = now + (int64_t)q_backoff(&q->opts, attempts);
		if (!delay_sent &&
		    q_delay_due(&q->opts, mi->arrival, notify, mi->null_sender, now)) {
			dsn = Q_DSN_DELAY;
			delay_sent = true;
		}
	}
	err = q_db_prepare(q,
			   "UPDATE rcpt SET state=?3, next_at=?4, attempts=?5, last_at=?6, code=?7,"
			   " status=?8, text=?9, host=?10, dsn=dsn|?11, delay_sent=?12 "
			   "WHERE msg=?1 AND idx=?2",
			   &st);
	if (err != 0)
		return err;
	q_db_bind_text(st, 1, id);
	sqlite3_bind_int(st, 2, (int)r->idx);
	sqlite3_bind_int(st, 3, state);
	sqlite3_bind_int64(st, 4, next_at);
	sqlite3_bind_int(st, 5, (int)attempts);
	sqlite3_bind_int64(st, 6, now);
	if (r->code > 0)
		sqlite3_bind_int(st, 7, r->code);
	q_db_bind_text(st, 8, r->status);
	q_db_bind_text(st, 9, r->text);
	q_db_bind_text(st, 10, r->host);
	sqlite3_bind_int(st, 11, (int)dsn);
	sqlite3_bind_int(st, 12, delay_sent);
	err = q_db_err(sqlite3_step(st));
	q_db_done(q, st);
	if (err != 0)
		return err;
	sum->failure_dsn += dsn == Q_DSN_FAILURE;
	sum->delay_dsn += dsn == Q_DSN_DELAY;
	sum->success_dsn += dsn == Q_DSN_SUCCESS;
	*final_r |= state >= Q_ST_DELIVERED;
	return 0;
}

/* The end of a transaction that may have completed id: flag it (R1),
 * commit, then unlink and delete it, or write the status bytes. */
static int finish(q_store *q, const char *id, int err, bool any_final,
		  struct q_record_summary *sum)
{
	int done = err == 0 ? complete(q, id) : 0;
	if (done < 0)
		err = -done;
	if (err == 0 && done == 1)
		err = flag_removing(q, id);
	if (err != 0) {
		q_db_rollback(q);
		return err;
	}
	if ((err = q_db_commit(q)) != 0)
		return err;
	q_point(q, "record.committed");
	if (done == 1) {
		q_point(q, "remove.flagged");
		sum->removed = true;
		return q->owner ? remove_flagged(q, id) : 0;
	}
	if (any_final)
		write_status_bytes(q, id);
	return 0;
}

int q_record(q_store *q, const char *id, const struct q_result *res, unsigned n, int64_t now,
	     struct q_record_summary *summary_r)
{
	struct q_record_summary sum = {0};
	struct msg_info mi = {0};
	bool any_final = false;
	int err = q_db_begin(q);
	if (err != 0)
		return err;
	err = msg_info(q, id, &mi);
	if (err == ENOENT) {
		/* Deleted meanwhile: nothing to record. */
		q_db_rollback(q);
		if (summary_r != NULL)
			*summary_r = sum;
		return 0;
	}
	for (unsigned i = 0; i < n && err == 0; i++)
		err = record_one(q, id, &mi, &res[i], now, &sum, &any_final);
	err = finish(q, id, err, any_final, &sum);
	if (summary_r != NULL)
		*summary_r = sum;
	return err;
}

/* ---- DSN bookkeeping ---------------------------------------------------- */

int q_dsn_list(q_store *q, const char *id, enum q_dsn_kind kind, q_dsn_fn *fn, void *arg)
{
	sqlite3_stmt *st;
	int err = q_db_prepare_id(q,
				  "SELECT idx, addr, code, status, text FROM rcpt "
				  "WHERE msg=?1 AND (dsn & ?2)<>0 ORDER BY idx",
				  id, kind, &st);
	if (err != 0)
		return err;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, (unsigned)sqlite3_column_int(st, 0),
		   (const char *)sqlite3_column_text(st, 1), sqlite3_column_int(st, 2),
		   (const char *)sqlite3_column_text(st, 3),
		   (const char *)sqlite3_column_text(st, 4));
	q_db_done(q, st);
	return q_db_err(rc);
}

int q_dsn_pending(q_store *q, unsigned limit, q_dsn_msg_fn *fn, void *arg)
{
	sqlite3_stmt *st;
	int err = q_db_prepare_id(q,
				  "SELECT msg, max(dsn&1)|max(dsn&2)|max(dsn&4) FROM rcpt "
				  "WHERE dsn<>0 GROUP BY msg ORDER BY msg LIMIT ?2",
				  NULL, limit, &st);
	if (err != 0)
		return err;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(st, 0),
		   (unsigned)sqlite3_column_int(st, 1));
	q_db_done(q, st);
	return q_db_err(rc);
}

int q_dsn_done(q_store *q, const char *id, enum q_dsn_kind kind)
{
	int err = q_db_begin(q);
	if (err != 0)
		return err;
	err = q_db_run(q, "UPDATE rcpt SET dsn=dsn&~?2 WHERE msg=?1", id, (int64_t)kind, NULL);
	struct q_record_summary sum = {0};
	return finish(q, id, err, true, &sum);
}
