/* Administration of the queue (`ternd queue`): hold, release, flush,
 * delete, and the mailq-like listing. Every operation is one transaction
 * on the index; a single message costs index lookups, ALL costs one pass. */
#include "queue_int.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* One operation: SQL for one message (?1 = id) and for all; ?2 = now. */
struct q_op {
	const char *msg_one, *msg_all;
	const char *rcpt_one, *rcpt_all;
};

static int apply_one(q_store *q, const struct q_op *op, const char *id, int64_t now,
		     unsigned *count)
{
	int n = 0;
	const char *rcpt_sql = id != NULL ? op->rcpt_one : op->rcpt_all;
	const char *msg_sql = id != NULL ? op->msg_one : op->msg_all;
	int err = q_db_run(q,
			   id != NULL ? "SELECT count(*) FROM msg WHERE id=?1 AND removing=0"
				      : "SELECT count(*) FROM msg WHERE removing=0",
			   id, now, &n);
	if (err == 0 && n > 0 && rcpt_sql != NULL)
		err = q_db_run(q, rcpt_sql, id, now, NULL);
	if (err == 0 && n > 0 && msg_sql != NULL)
		err = q_db_run(q, msg_sql, id, now, NULL);
	*count += (unsigned)n;
	return err;
}

static int apply(q_store *q, const struct q_op *op, const char *const *ids, unsigned n,
		 int64_t now, unsigned *count_r)
{
	unsigned count = 0;
	int err = q_db_begin(q);
	if (err != 0)
		return err;
	if (ids == NULL || n == 0)
		err = apply_one(q, op, NULL, now, &count);
	for (unsigned i = 0; ids != NULL && i < n && err == 0; i++) {
		if (q_id_valid(ids[i]))
			err = apply_one(q, op, ids[i], now, &count);
	}
	if (err == 0)
		err = q_db_commit(q);
	else
		q_db_rollback(q);
	if (count_r != NULL)
		*count_r = err == 0 ? count : 0;
	return err;
}

int q_hold(q_store *q, const char *const *ids, unsigned n, unsigned *count_r)
{
	static const struct q_op op = {
		"UPDATE msg SET hold=1 WHERE id=?1",
		"UPDATE msg SET hold=1 WHERE hold=0",
		"UPDATE rcpt SET hold=1 WHERE msg=?1",
		"UPDATE rcpt SET hold=1 WHERE hold=0",
	};
	return apply(q, &op, ids, n, 0, count_r);
}

int q_release(q_store *q, const char *const *ids, unsigned n, int64_t now, unsigned *count_r)
{
	/* Released recipients are due at once, as after `postsuper -H`
	 * followed by a flush. */
	static const struct q_op op = {
		"UPDATE msg SET hold=0 WHERE id=?1",
		"UPDATE msg SET hold=0 WHERE hold=1",
		"UPDATE rcpt SET hold=0, next_at=CASE WHEN state<=1 AND next_at>?2 THEN ?2 "
		"ELSE next_at END WHERE msg=?1",
		"UPDATE rcpt SET hold=0, next_at=CASE WHEN state<=1 AND next_at>?2 THEN ?2 "
		"ELSE next_at END WHERE hold=1",
	};
	return apply(q, &op, ids, n, now, count_r);
}

int q_flush(q_store *q, const char *const *ids, unsigned n, int64_t now, unsigned *count_r)
{
	static const struct q_op op = {
		NULL,
		NULL,
		"UPDATE rcpt SET next_at=?2 WHERE msg=?1 AND state<=1 AND next_at>?2",
		"UPDATE rcpt SET next_at=?2 WHERE state<=1 AND next_at>?2",
	};
	return apply(q, &op, ids, n, now, count_r);
}

int q_delete(q_store *q, const char *const *ids, unsigned n, unsigned *count_r)
{
	static const struct q_op op = {
		"UPDATE msg SET removing=1 WHERE id=?1",
		"UPDATE msg SET removing=1 WHERE removing=0",
		NULL,
		NULL,
	};
	int err = apply(q, &op, ids, n, 0, count_r);
	q_point(q, "remove.flagged");
	/* R1: the owner finishes now; otherwise the running ternd does at its
	 * next q_due. */
	return err == 0 ? q_finish_removals(q) : err;
}

/* ---- listing ----------------------------------------------------------- */

/* Prints s with control bytes as '?': a reply text is remote input. */
static void put_safe(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

static void put_reason(FILE *out, sqlite3_stmt *st)
{
	int code = sqlite3_column_int(st, 7);
	const char *status = (const char *)sqlite3_column_text(st, 8);
	const char *text = (const char *)sqlite3_column_text(st, 9);
	const char *host = (const char *)sqlite3_column_text(st, 10);
	if (code == 0 && text == NULL)
		return;
	fputc('(', out);
	if (host != NULL) {
		fputs("host ", out);
		put_safe(out, host);
		fputs(" said: ", out);
	}
	if (code != 0)
		fprintf(out, "%d ", code);
	if (status != NULL) {
		put_safe(out, status);
		fputc(' ', out);
	}
	if (text != NULL)
		put_safe(out, text);
	fputs(")\n", out);
}

int q_list(q_store *q, FILE *out)
{
	sqlite3_stmt *st;
	int err = q_db_prepare(
		q,
		"SELECT m.id, m.size, m.arrival, m.sender, m.hold,"
		" EXISTS(SELECT 1 FROM rcpt a WHERE a.msg=m.id AND a.state=2),"
		" r.addr, r.code, r.status, r.text, r.host "
		"FROM msg m JOIN rcpt r ON r.msg=m.id "
		"WHERE m.removing=0 AND (r.state<=2 OR r.dsn<>0) ORDER BY m.id, r.idx",
		&st);
	if (err != 0)
		return err;
	char last[Q_ID_SIZE] = "";
	bool any = false;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		if (id == NULL)
			continue;
		if (strcmp(id, last) != 0) {
			if (!any)
				fprintf(out, "%-16s %8s %-20s %s\n", "-Queue ID-", "--Size--",
					"----Arrival Time----", "-Sender/Recipient-------");
			else
				fputc('\n', out);
			any = true;
			snprintf(last, sizeof(last), "%s", id);
			time_t t = (time_t)sqlite3_column_int64(st, 2);
			struct tm tm;
			char when[32] = "?";
			if (localtime_r(&t, &tm) != NULL)
				strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
			/* Postfix's marks: '!' held, '*' being delivered. */
			char mark = sqlite3_column_int(st, 4)   ? '!'
				    : sqlite3_column_int(st, 5) ? '*'
								: ' ';
			const char *sender = (const char *)sqlite3_column_text(st, 3);
			fprintf(out, "%-15s%c %8lld %-20s ", id, mark,
				(long long)sqlite3_column_int64(st, 1), when);
			if (sender == NULL || sender[0] == '\0')
				sender = "MAILER-DAEMON";
			put_safe(out, sender);
			fputc('\n', out);
		}
		put_reason(out, st);
		fprintf(out, "%47s", "");
		put_safe(out, (const char *)sqlite3_column_text(st, 6));
		fputc('\n', out);
	}
	q_db_done(q, st);
	if ((err = q_db_err(rc)) != 0)
		return err;
	uint64_t count = 0, bytes = 0;
	if (!any) {
		fputs("Mail queue is empty\n", out);
	} else if ((err = q_store_stats(q, &count, &bytes)) == 0) {
		fprintf(out, "\n-- %llu Kbytes in %llu Request%s.\n",
			(unsigned long long)((bytes + 1023) / 1024), (unsigned long long)count,
			count == 1 ? "" : "s");
	}
	return ferror(out) ? EIO : err;
}
