/* Tests of ternd's outbound queue (cmd/ternd/queue/): ids, the retry
 * schedule with a driven clock, adding, due queries, outcomes, DSN
 * bookkeeping, removal, administration, listing, pickup, rebuild and size
 * accounting. Crash tests are in test_queue_crash.c. */
#include "queue_fixture.h"

#include <sys/wait.h>

#define T0 1700000000 /* Tue Nov 14 22:13:20 2023 UTC */

static void test_ids(void **state)
{
	(void)state;
	struct q_idgen g = {0};
	char prev[Q_ID_SIZE] = "", id[Q_ID_SIZE];
	for (int i = 0; i < 20000; i++) {
		/* The clock stands still, then goes back: ids still increase. */
		q_id_make(&g, i < 10000 ? T0 : T0 - 5, 123456, id);
		assert_true(q_id_valid(id));
		assert_true(strcmp(prev, id) < 0);
		memcpy(prev, id, sizeof(id));
	}
	struct q_idgen g2 = {0};
	char a[Q_ID_SIZE], b[Q_ID_SIZE];
	q_id_make(&g2, T0, 0, a);
	q_id_make(&g2, T0 + 1, 0, b);
	assert_true(strcmp(a, b) < 0);
	assert_memory_equal(a, "1rcF2c", 6 - 6); /* only the shape is fixed */
	assert_false(q_id_valid("short"));
	assert_false(q_id_valid("0123456789abcd/"));
	char d[3];
	q_id_dir(a, d);
	assert_int_equal(strlen(d), 2);
}

static void test_backoff(void **state)
{
	(void)state;
	struct q_options o;
	q_options_init(&o);
	static const unsigned want[] = {300, 600, 1200, 2400, 4000, 4000, 4000};
	for (unsigned i = 0; i < 7; i++)
		assert_int_equal(q_backoff(&o, i + 1), want[i]);
	assert_int_equal(q_backoff(&o, 1000), 4000);
	assert_false(q_expired(&o, T0, false, T0 + 5 * 86400 - 1));
	assert_true(q_expired(&o, T0, false, T0 + 5 * 86400));
	o.bounce_lifetime = 3600;
	assert_true(q_expired(&o, T0, true, T0 + 3600));
	assert_false(q_delay_due(&o, T0, 0, false, T0 + 4 * 3600 - 1));
	assert_true(q_delay_due(&o, T0, 0, false, T0 + 4 * 3600));
	assert_false(q_delay_due(&o, T0, Q_NOTIFY_FAILURE, false, T0 + 5 * 3600));
	assert_false(q_delay_due(&o, T0, 0, true, T0 + 5 * 3600));
	assert_int_equal(q_notify_effective(0), Q_NOTIFY_FAILURE | Q_NOTIFY_DELAY);
}

static void test_header_roundtrip(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	struct q_rcpt r[2] = {
		{.addr = "\"a b\"@Example.ORG", .orcpt = "rfc822;a+b=c@x", .notify = 6},
		{.addr = "j\xc3\xb6rg@b\xc3\xbc.example", .notify = Q_NOTIFY_NEVER},
	};
	struct q_envelope env = {.arrival = T0, .sender = "", .envid = "E=1+2", .ret = Q_RET_HDRS,
				 .body = Q_BODY_8BITMIME, .smtputf8 = true, .requiretls = true,
				 .auth_user = "alice", .client = "h [192.0.2.1]", .rcpts = r,
				 .nrcpt = 2};
	q_writer *w;
	char id[Q_ID_SIZE];
	assert_int_equal(q_writer_open(f->q, &env, &w), 0);
	assert_int_equal(q_writer_write(w, "Subject: x\r\n\r\nbody\r\n", 20), 0);
	assert_int_equal(q_writer_commit(&w, id), 0);
	assert_null(w);
	int fd;
	struct q_envelope got;
	assert_int_equal(q_body_open(f->q, id, &fd, &got), 0);
	char buf[64] = {0};
	assert_int_equal(read(fd, buf, sizeof(buf)), 20);
	close(fd);
	assert_string_equal(buf, "Subject: x\r\n\r\nbody\r\n");
	assert_string_equal(got.sender, "");
	assert_string_equal(got.envid, "E=1+2");
	assert_int_equal(got.ret, Q_RET_HDRS);
	assert_int_equal(got.body, Q_BODY_8BITMIME);
	assert_true(got.smtputf8 && got.requiretls);
	assert_string_equal(got.auth_user, "alice");
	assert_string_equal(got.client, "h [192.0.2.1]");
	assert_int_equal(got.nrcpt, 2);
	assert_string_equal(got.rcpts[0].addr, "\"a b\"@Example.ORG");
	assert_string_equal(got.rcpts[0].orcpt, "rfc822;a+b=c@x");
	assert_int_equal(got.rcpts[0].notify, 6);
	assert_string_equal(got.rcpts[1].addr, "j\xc3\xb6rg@b\xc3\xbc.example");
	assert_null(got.rcpts[1].orcpt);
	q_envelope_free(&got);
	assert_int_equal(qfix_int(f->q, "SELECT domain='example.org' FROM rcpt WHERE idx=0", NULL),
			 1);
	/* Not a valid envelope. */
	env.nrcpt = 0;
	assert_int_equal(q_writer_open(f->q, &env, &w), EINVAL);
	qfix_free(f);
}

/* A valid header cut at every length, and with every byte replaced by
 * bytes that break it: EBADMSG (never a crash or a partial envelope). */
/* Room kept for fields known only at the end (DKIM-Signature): used, the
 * fields are the first octets of the message readers see; unused, the
 * message is unchanged; too long, refused with nothing changed. The file
 * is still a valid header for the index rebuild. */
static void test_prefix_room(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	struct q_rcpt r = {.addr = "a@b.example"};
	struct q_envelope env = {.arrival = T0, .sender = "s@x", .rcpts = &r, .nrcpt = 1,
				 .prefix_room = 64};
	const char *msg = "Subject: x\r\n\r\nbody\r\n";
	const char *sig = "DKIM-Signature: v=1; a=x;\r\n b=abc\r\n";
	char big[80];
	memset(big, 'x', sizeof(big));
	for (int round = 0; round < 3; round++) {
		q_writer *w;
		char id[Q_ID_SIZE], want[256], buf[256] = {0};
		int fd;
		struct q_envelope got;

		assert_int_equal(q_writer_open(f->q, &env, &w), 0);
		assert_int_equal(q_writer_write(w, msg, strlen(msg)), 0);
		if (round == 0)
			assert_int_equal(q_writer_set_prefix(w, sig, strlen(sig)), 0);
		if (round == 1)
			assert_int_equal(q_writer_set_prefix(w, big, sizeof(big)), E2BIG);
		if (round == 0)   /* once only */
			assert_int_equal(q_writer_set_prefix(w, sig, strlen(sig)), EINVAL);
		assert_int_equal(q_writer_commit(&w, id), 0);
		snprintf(want, sizeof(want), "%s%s", round == 0 ? sig : "", msg);
		assert_int_equal(q_body_open(f->q, id, &fd, &got), 0);
		assert_int_equal(read(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(want));
		close(fd);
		assert_string_equal(buf, want);
		assert_string_equal(got.rcpts[0].addr, "a@b.example");
		q_envelope_free(&got);
	}
	/* The exact fit. */
	{
		q_writer *w;
		char id[Q_ID_SIZE];
		assert_int_equal(q_writer_open(f->q, &env, &w), 0);
		assert_int_equal(q_writer_set_prefix(w, big, 64), 0);
		assert_int_equal(q_writer_commit(&w, id), 0);
	}
	/* No room kept: nothing to fill. */
	env.prefix_room = 0;
	{
		q_writer *w;
		assert_int_equal(q_writer_open(f->q, &env, &w), 0);
		assert_int_equal(q_writer_set_prefix(w, sig, strlen(sig)), EINVAL);
		q_writer_abort(&w);
	}
	qfix_check_consistent(f);
	qfix_free(f);
}

static void test_header_malformed(void **state)
{
	(void)state;
	struct q_rcpt r[2] = {{.addr = "a@b.example", .orcpt = "rfc822;a@b.example", .notify = 14},
			      {.addr = "c d@e"}};
	struct q_envelope env = {.arrival = T0, .sender = "s@x", .envid = "id1", .rcpts = r,
				 .nrcpt = 2};
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	assert_int_equal(q_header_write(out, &env, NULL), 0);
	fclose(out);
	for (size_t cut = 0; cut <= len; cut++) {
		FILE *in = fmemopen(text, cut, "r");
		struct q_envelope got;
		uint64_t off = 0;
		int err = cut == 0 ? EBADMSG : q_header_read(in, &got, &off);
		if (in != NULL)
			fclose(in);
		if (cut < len) {
			assert_int_equal(err, EBADMSG);
		} else {
			assert_int_equal(err, 0);
			assert_int_equal(off, len);
			q_envelope_free(&got);
		}
	}
	static const char bad[] = {'\0', '\n', ' ', '+', 'x', '9'};
	for (size_t i = 0; i < len; i++) {
		for (size_t b = 0; b < sizeof(bad); b++) {
			char *copy = malloc(len);
			assert_non_null(copy);
			memcpy(copy, text, len);
			copy[i] = bad[b];
			FILE *in = fmemopen(copy, len, "r");
			assert_non_null(in);
			struct q_envelope got;
			int err = q_header_read(in, &got, NULL);
			fclose(in);
			assert_true(err == 0 || err == EBADMSG);
			if (err == 0)
				q_envelope_free(&got);
			free(copy);
		}
	}
	free(text);
}

/* Group commit: several writers synced (any thread) then committed at
 * once: every one durable in incoming/ and indexed; a failed one (a write
 * error) is not accepted and leaves nothing behind. */
static void test_group_commit(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	struct q_rcpt r = {.addr = "r@dom.example"};
	struct q_envelope env = {.arrival = T0, .sender = "s@x", .rcpts = &r, .nrcpt = 1};
	q_writer *ws[3];
	for (int i = 0; i < 3; i++) {
		assert_int_equal(q_writer_open(f->q, &env, &ws[i]), 0);
		assert_int_equal(q_writer_write(ws[i], "m\r\n", 3), 0);
		assert_int_equal(q_writer_sync(ws[i]), 0);
		assert_int_equal(q_writer_sync(ws[i]), 0); /* twice is fine */
	}
	char ids[3][Q_ID_SIZE];
	int errs[3] = {-1, -1, -1};
	assert_int_equal(q_writers_commit(ws, 3, ids, errs), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(errs[i], 0);
		assert_true(q_id_valid(ids[i]));
		assert_int_equal(qfix_int(f->q, "SELECT count(*) FROM msg WHERE id=?1", ids[i]), 1);
	}
	assert_int_equal(qfix_count(f->dir, "incoming") + qfix_count(f->dir, "tmp"), 3);
	struct q_batch b;
	assert_int_equal(q_due(f->q, T0, 10, &b), 0);
	assert_int_equal(b.n, 3);
	q_batch_free(&b);
	assert_int_equal(q_writers_commit(ws, 0, ids, errs), EINVAL);
	qfix_free(f);
}

static void test_add_abort(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	char id[Q_ID_SIZE];
	assert_int_equal(qfix_add(f->q, "s@x", 2, 2, "hello\r\n", T0, id), 0);
	assert_true(q_id_valid(id));
	/* Accepted and indexed; in incoming/ until settled. */
	assert_int_equal(qfix_count(f->dir, "incoming"), 1);
	assert_int_equal(q_store_settle(f->q), 0);
	assert_int_equal(qfix_count(f->dir, "incoming"), 0);
	char home[64], sub[3];
	q_id_dir(id, sub);
	snprintf(home, sizeof(home), "msg/%s", sub);
	assert_int_equal(qfix_count(f->dir, home), 1);
	uint64_t n, bytes;
	assert_int_equal(q_store_stats(f->q, &n, &bytes), 0);
	assert_int_equal(n, 1);
	assert_int_equal(bytes, 7);

	struct q_rcpt r = {.addr = "a@b"};
	struct q_envelope env = {.arrival = T0, .sender = "s@x", .rcpts = &r, .nrcpt = 1};
	q_writer *w;
	assert_int_equal(q_writer_open(f->q, &env, &w), 0);
	assert_int_equal(q_writer_write(w, "x", 1), 0);
	assert_int_equal(qfix_count(f->dir, "tmp"), 1);
	q_writer_abort(&w);
	assert_null(w);
	assert_int_equal(qfix_count(f->dir, "tmp"), 0);
	q_writer_abort(&w);
	assert_int_equal(q_store_stats(f->q, &n, &bytes), 0);
	assert_int_equal(n, 1);
	qfix_check_consistent(f);

	/* Settling in batches: the 32nd commit settles. */
	for (int i = 0; i < 32; i++)
		assert_int_equal(qfix_add(f->q, "s@x", 1, 1, "m\r\n", T0, id), 0);
	assert_int_equal(qfix_count(f->dir, "incoming"), 0);
	qfix_check_consistent(f);
	qfix_free(f);
}

static void test_due_record(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	char id[3][Q_ID_SIZE];
	for (int i = 0; i < 3; i++)
		assert_int_equal(qfix_add(f->q, "s@x", 2, 2, "m\r\n", T0, id[i]), 0);
	struct q_batch b;
	assert_int_equal(q_due(f->q, T0, 100, &b), 0);
	assert_int_equal(b.n, 6);
	/* Grouped by domain, then id, then index. */
	for (unsigned i = 0; i < 6; i++) {
		assert_string_equal(b.jobs[i].domain, i < 3 ? "dom0.example" : "dom1.example");
		assert_string_equal(b.jobs[i].id, id[i % 3]);
		assert_int_equal(b.jobs[i].idx, i < 3 ? 0 : 1);
	}
	q_batch_free(&b);
	/* Claimed: not handed out again, until the claim times out. */
	assert_int_equal(q_due(f->q, T0 + 10, 100, &b), 0);
	assert_int_equal(b.n, 0);
	q_batch_free(&b);

	struct q_result res[2] = {
		{.idx = 0, .outcome = Q_DELIVERED, .code = 250, .status = "2.0.0", .text = "ok"},
		{.idx = 1, .outcome = Q_TEMPFAIL, .code = 451, .status = "4.7.1", .text = "later",
		 .host = "mx.dom1.example[192.0.2.1]"},
	};
	struct q_record_summary sum;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(q_record(f->q, id[i], res, 2, T0, &sum), 0);
		assert_false(sum.removed);
	}
	assert_int_equal(qfix_int(f->q, "SELECT count(*) FROM rcpt WHERE state=1 AND next_at=?1",
				  NULL),
			 0);
	assert_int_equal(q_due(f->q, T0 + 299, 100, &b), 0);
	assert_int_equal(b.n, 0);
	q_batch_free(&b);
	assert_int_equal(q_due(f->q, T0 + 300, 2, &b), 0);
	assert_int_equal(b.n, 2); /* the limit */
	assert_int_equal(b.jobs[0].attempts, 1);
	q_batch_free(&b);
	/* Second failure: 600 s. */
	assert_int_equal(q_record(f->q, id[0], &res[1], 1, T0 + 300, &sum), 0);
	assert_int_equal(qfix_int(f->q, "SELECT next_at FROM rcpt WHERE msg=?1 AND idx=1", id[0]),
			 T0 + 900);
	/* Delivered: complete, removed, file gone. */
	struct q_result ok = {.idx = 1, .outcome = Q_DELIVERED, .code = 250};
	assert_int_equal(q_record(f->q, id[1], &ok, 1, T0 + 301, &sum), 0);
	assert_true(sum.removed);
	int fd;
	assert_int_equal(q_body_open(f->q, id[1], &fd, NULL), ENOENT);
	/* A result for a message that is gone is ignored. */
	assert_int_equal(q_record(f->q, id[1], &ok, 1, T0 + 302, &sum), 0);
	assert_false(sum.removed);
	uint64_t n, bytes;
	assert_int_equal(q_store_stats(f->q, &n, &bytes), 0);
	assert_int_equal(n, 2);
	qfix_check_consistent(f);
	qfix_free(f);
}

struct dsn_seen {
	unsigned n;
	unsigned idx;
	int code;
};

static void dsn_cb(void *arg, unsigned idx, const char *rcpt, int code, const char *status,
		   const char *text)
{
	struct dsn_seen *s = arg;
	(void)rcpt;
	(void)status;
	(void)text;
	s->n++;
	s->idx = idx;
	s->code = code;
}

struct pending_seen {
	unsigned n;
	char id[Q_ID_SIZE];
	unsigned kinds;
};

static void pending_cb(void *arg, const char *id, unsigned kinds)
{
	struct pending_seen *p = arg;
	p->n++;
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->kinds = kinds;
}

static void test_dsn(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	char id[Q_ID_SIZE], nul[Q_ID_SIZE], never[Q_ID_SIZE], succ[Q_ID_SIZE];
	assert_int_equal(qfix_add(f->q, "s@x", 2, 1, "m\r\n", T0, id), 0);
	assert_int_equal(qfix_add(f->q, "", 1, 1, "m\r\n", T0, nul), 0);
	struct q_rcpt r = {.addr = "a@b", .notify = Q_NOTIFY_NEVER};
	struct q_envelope env = {.arrival = T0, .sender = "s@x", .rcpts = &r, .nrcpt = 1};
	q_writer *w;
	assert_int_equal(q_writer_open(f->q, &env, &w), 0);
	assert_int_equal(q_writer_commit(&w, never), 0);
	r.notify = Q_NOTIFY_SUCCESS;
	assert_int_equal(q_writer_open(f->q, &env, &w), 0);
	assert_int_equal(q_writer_commit(&w, succ), 0);

	struct q_result perm = {.idx = 0, .outcome = Q_PERMFAIL, .code = 550, .status = "5.1.1",
				.text = "no such user"};
	struct q_record_summary sum;
	assert_int_equal(q_record(f->q, id, &perm, 1, T0, &sum), 0);
	assert_int_equal(sum.failure_dsn, 1);
	struct q_result del = {.idx = 1, .outcome = Q_DELIVERED, .code = 250};
	assert_int_equal(q_record(f->q, id, &del, 1, T0, &sum), 0);
	assert_false(sum.removed); /* the failure DSN is still owed */
	/* The debt survives a restart (the summary does not). */
	q_store_close(&f->q);
	qfix_open(f, T0 + 1);
	struct pending_seen ps = {0};
	assert_int_equal(q_dsn_pending(f->q, 10, pending_cb, &ps), 0);
	assert_int_equal(ps.n, 1);
	assert_string_equal(ps.id, id);
	assert_int_equal(ps.kinds, Q_DSN_FAILURE);
	struct dsn_seen seen = {0};
	assert_int_equal(q_dsn_list(f->q, id, Q_DSN_FAILURE, dsn_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.idx, 0);
	assert_int_equal(seen.code, 550);
	assert_int_equal(q_dsn_done(f->q, id, Q_DSN_FAILURE), 0);
	assert_int_equal(qfix_int(f->q, "SELECT count(*) FROM msg WHERE id=?1", id), 0);
	ps.n = 0;
	assert_int_equal(q_dsn_pending(f->q, 10, pending_cb, &ps), 0);
	assert_int_equal(ps.n, 0);

	/* A failed bounce owes its report to postmaster (ternd's bounce.c
	 * sends it there, never back to <>); NOTIFY=NEVER owes nothing. */
	assert_int_equal(q_record(f->q, nul, &perm, 1, T0, &sum), 0);
	assert_int_equal(sum.failure_dsn, 1);
	assert_false(sum.removed);
	assert_int_equal(q_dsn_done(f->q, nul, Q_DSN_FAILURE), 0);
	assert_int_equal(qfix_int(f->q, "SELECT count(*) FROM msg WHERE id=?1", nul), 0);
	assert_int_equal(q_record(f->q, never, &perm, 1, T0, &sum), 0);
	assert_int_equal(sum.failure_dsn, 0);
	assert_true(sum.removed);
	/* NOTIFY=SUCCESS. */
	del.idx = 0;
	assert_int_equal(q_record(f->q, succ, &del, 1, T0, &sum), 0);
	assert_int_equal(sum.success_dsn, 1);
	assert_false(sum.removed);
	assert_int_equal(q_dsn_done(f->q, succ, Q_DSN_SUCCESS), 0);
	assert_int_equal(qfix_int(f->q, "SELECT count(*) FROM msg", NULL), 0);
	qfix_check_consistent(f);
	qfix_free(f);
}

static void test_delay_expire(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	char id[Q_ID_SIZE];
	assert_int_equal(qfix_add(f->q, "s@x", 1, 1, "m\r\n", T0, id), 0);
	struct q_result tmp = {.idx = 0, .outcome = Q_TEMPFAIL, .code = 421, .text = "busy"};
	struct q_record_summary sum;
	assert_int_equal(q_record(f->q, id, &tmp, 1, T0 + 60, &sum), 0);
	assert_int_equal(sum.delay_dsn, 0);
	assert_int_equal(q_record(f->q, id, &tmp, 1, T0 + 4 * 3600, &sum), 0);
	assert_int_equal(sum.delay_dsn, 1); /* once */
	struct pending_seen ps = {0};
	assert_int_equal(q_dsn_pending(f->q, 10, pending_cb, &ps), 0);
	assert_int_equal(ps.n, 1);
	assert_int_equal(ps.kinds, Q_DSN_DELAY);
	assert_int_equal(q_dsn_done(f->q, id, Q_DSN_DELAY), 0);
	assert_int_equal(q_record(f->q, id, &tmp, 1, T0 + 5 * 3600, &sum), 0);
	assert_int_equal(sum.delay_dsn, 0);
	/* Past the lifetime a temporary failure is final. */
	assert_int_equal(q_record(f->q, id, &tmp, 1, T0 + 5 * 86400, &sum), 0);
	assert_int_equal(sum.failure_dsn, 1);
	assert_int_equal(qfix_int(f->q, "SELECT state FROM rcpt WHERE msg=?1", id), Q_ST_FAILED);
	assert_int_equal(qfix_int(f->q, "SELECT attempts FROM rcpt WHERE msg=?1", id), 4);
	qfix_free(f);
}

static void test_admin(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	char id[3][Q_ID_SIZE];
	for (int i = 0; i < 3; i++)
		assert_int_equal(qfix_add(f->q, "s@x", 1, 1, "m\r\n", T0, id[i]), 0);
	const char *one = id[0];
	unsigned c;
	assert_int_equal(q_hold(f->q, &one, 1, &c), 0);
	assert_int_equal(c, 1);
	struct q_batch b;
	assert_int_equal(q_due(f->q, T0, 10, &b), 0);
	assert_int_equal(b.n, 2);
	q_batch_free(&b);
	const char *bogus = "000000000000000";
	assert_int_equal(q_hold(f->q, &bogus, 1, &c), 0);
	assert_int_equal(c, 0);
	/* Defer the two, then flush: due now. */
	struct q_result tmp = {.idx = 0, .outcome = Q_TEMPFAIL, .code = 451};
	assert_int_equal(q_record(f->q, id[1], &tmp, 1, T0, NULL), 0);
	assert_int_equal(q_record(f->q, id[2], &tmp, 1, T0, NULL), 0);
	assert_int_equal(q_due(f->q, T0 + 1, 10, &b), 0);
	assert_int_equal(b.n, 0);
	q_batch_free(&b);
	assert_int_equal(q_flush(f->q, NULL, 0, T0 + 1, &c), 0);
	assert_int_equal(c, 3);
	assert_int_equal(q_due(f->q, T0 + 1, 10, &b), 0);
	assert_int_equal(b.n, 2);
	q_batch_free(&b);
	/* Release: due now. */
	assert_int_equal(q_release(f->q, NULL, 0, T0 + 2, &c), 0);
	assert_int_equal(q_due(f->q, T0 + 2, 10, &b), 0);
	assert_int_equal(b.n, 1);
	assert_string_equal(b.jobs[0].id, id[0]);
	q_batch_free(&b);
	/* Delete one, then ALL. */
	const char *two = id[1];
	assert_int_equal(q_delete(f->q, &two, 1, &c), 0);
	assert_int_equal(c, 1);
	assert_int_equal(qfix_int(f->q, "SELECT count(*) FROM msg", NULL), 2);
	assert_int_equal(q_delete(f->q, NULL, 0, &c), 0);
	assert_int_equal(c, 2);
	qfix_check_consistent(f);
	assert_int_equal(qfix_files(f->dir), 0);
	qfix_free(f);
}

/* delete ALL removes in batches of 256. */
static void test_delete_many(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	f->opts.settle_batch = 1000;
	qfix_open(f, T0);
	char id[Q_ID_SIZE];
	for (int i = 0; i < 600; i++)
		assert_int_equal(qfix_add(f->q, "s@x", 1, 1, "m\r\n", T0, id), 0);
	unsigned c;
	assert_int_equal(q_delete(f->q, NULL, 0, &c), 0);
	assert_int_equal(c, 600);
	assert_int_equal(qfix_files(f->dir), 0);
	qfix_check_consistent(f);
	qfix_free(f);
}

/* Runs q_list into a string. */
static char *list_text(q_store *q)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	assert_int_equal(q_list(q, out), 0);
	fclose(out);
	return text;
}

static void test_list(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	char *text = list_text(f->q);
	assert_string_equal(text, "Mail queue is empty\n");
	free(text);
	char a[Q_ID_SIZE], b[Q_ID_SIZE], c[Q_ID_SIZE];
	assert_int_equal(qfix_add(f->q, "s@x", 2, 2, "0123456789", T0, a), 0);
	assert_int_equal(qfix_add(f->q, "", 1, 1, "x", T0 + 60, b), 0);
	assert_int_equal(qfix_add(f->q, "s@x", 1, 1, "y", T0 + 120, c), 0);
	/* Final, but listed while its failure DSN is owed. */
	struct q_result perm = {.idx = 0, .outcome = Q_PERMFAIL, .code = 550, .status = "5.1.1",
				.text = "no such user"};
	assert_int_equal(q_record(f->q, c, &perm, 1, T0, NULL), 0);
	struct q_result res[2] = {
		{.idx = 0, .outcome = Q_DELIVERED, .code = 250},
		{.idx = 1, .outcome = Q_TEMPFAIL, .code = 451, .status = "4.7.1",
		 .text = "try\r\nlater", .host = "mx.dom1.example[192.0.2.1]"},
	};
	assert_int_equal(q_record(f->q, a, res, 2, T0, NULL), 0);
	const char *held = b;
	assert_int_equal(q_hold(f->q, &held, 1, NULL), 0);
	text = list_text(f->q);
	char want[1024];
	snprintf(want, sizeof(want),
		 "-Queue ID-       --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
		 "%s        10 Tue Nov 14 22:13:20  s@x\n"
		 "(host mx.dom1.example[192.0.2.1] said: 451 4.7.1 try??later)\n"
		 "                                               r1@Dom1.example\n"
		 "\n"
		 "%s!        1 Tue Nov 14 22:14:20  MAILER-DAEMON\n"
		 "                                               r0@Dom0.example\n"
		 "\n"
		 "%s         1 Tue Nov 14 22:15:20  s@x\n"
		 "(550 5.1.1 no such user)\n"
		 "                                               r0@Dom0.example\n"
		 "\n"
		 "-- 1 Kbytes in 3 Requests.\n",
		 a, b, c);
	assert_string_equal(text, want);
	free(text);
	qfix_free(f);
}

static void test_pickup(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	struct q_rcpt r = {.addr = "a@b.example"};
	struct q_envelope env = {.arrival = T0, .sender = "local@x", .auth_user = "uid=1000",
				 .rcpts = &r, .nrcpt = 1};
	q_writer *w;
	char name[Q_ID_SIZE];
	assert_int_equal(q_pickup_writer_open(f->dir, &env, &w), 0);
	assert_int_equal(q_writer_write(w, "picked\r\n", 8), 0);
	assert_int_equal(q_writer_commit(&w, name), 0);
	assert_int_equal(qfix_count(f->dir, "pickup"), 1);
	/* A dropper still writing (a dot file) and a file that is not a queue
	 * file. */
	char path[200];
	snprintf(path, sizeof(path), "%s/pickup/.partial", f->dir);
	FILE *p = fopen(path, "w");
	assert_non_null(p);
	fclose(p);
	snprintf(path, sizeof(path), "%s/pickup/junk", f->dir);
	p = fopen(path, "w");
	assert_non_null(p);
	fputs("not a queue file\n", p);
	fclose(p);
	unsigned n;
	assert_int_equal(q_pickup_ingest(f->q, T0, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(qfix_count(f->dir, "pickup"), 0);
	assert_int_equal(qfix_count(f->dir, "corrupt"), 1);
	qfix_check_consistent(f);
	struct q_batch b;
	assert_int_equal(q_due(f->q, T0, 10, &b), 0);
	assert_int_equal(b.n, 1);
	int fd;
	struct q_envelope got;
	assert_int_equal(q_body_open(f->q, b.jobs[0].id, &fd, &got), 0);
	char buf[16] = {0};
	assert_int_equal(read(fd, buf, sizeof(buf)), 8);
	close(fd);
	assert_string_equal(buf, "picked\r\n");
	assert_string_equal(got.auth_user, "uid=1000");
	q_envelope_free(&got);
	q_batch_free(&b);
	qfix_free(f);
}

static void test_rebuild(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	char a[Q_ID_SIZE], b[Q_ID_SIZE];
	assert_int_equal(qfix_add(f->q, "s@x", 3, 3, "aaa", T0, a), 0);
	assert_int_equal(qfix_add(f->q, "s@x", 1, 1, "bb", T0, b), 0);
	struct q_result res[2] = {{.idx = 0, .outcome = Q_DELIVERED, .code = 250},
				  {.idx = 2, .outcome = Q_TEMPFAIL, .code = 451}};
	assert_int_equal(q_record(f->q, a, res, 2, T0, NULL), 0);
	const char *hb = b;
	assert_int_equal(q_delete(f->q, &hb, 1, NULL), 0);
	q_store_close(&f->q);
	/* The index is lost. */
	char path[200];
	snprintf(path, sizeof(path), "%s/queue.db", f->dir);
	assert_int_equal(unlink(path), 0);
	qfix_open(f, T0 + 100);
	assert_int_equal(qfix_int(f->q, "SELECT count(*) FROM msg", NULL), 1);
	assert_int_equal(qfix_int(f->q, "SELECT state FROM rcpt WHERE msg=?1 AND idx=0", a),
			 Q_ST_DELIVERED);
	assert_int_equal(qfix_int(f->q, "SELECT count(*) FROM rcpt WHERE msg=?1 AND state=0", a),
			 2);
	qfix_check_consistent(f);
	q_store_close(&f->q);
	/* Not a database: set aside, rebuilt. */
	FILE *p = fopen(path, "w");
	assert_non_null(p);
	fputs("garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage "
	      "garbage garbage garbage",
	      p);
	fclose(p);
	qfix_open(f, T0 + 200);
	assert_int_equal(qfix_int(f->q, "SELECT count(*) FROM msg", NULL), 1);
	qfix_check_consistent(f);
	qfix_free(f);
}

/* Writes text to dir/name. */
static void put_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *p = fopen(path, "w");
	assert_non_null(p);
	fputs(text, p);
	fclose(p);
}

/* Recovery of what a crash can leave: a file in incoming/ without rows
 * (W3 cut short), one that is not a queue file, a tmp/ file (W1), rows
 * without a file (R1 after power loss); and the claim timeout. */
static void test_recovery_files(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	char a[Q_ID_SIZE], b[Q_ID_SIZE];
	assert_int_equal(qfix_add(f->q, "s@x", 1, 1, "body-a\r\n", T0, a), 0);
	assert_int_equal(q_store_settle(f->q), 0);
	q_store_close(&f->q);
	/* b: a copy of a's file, unindexed, in incoming/. */
	struct q_idgen g = {0};
	q_id_make(&g, T0 + 5, 0, b);
	char from[200], to[200], sub[3], cmd[512];
	q_id_dir(a, sub);
	snprintf(from, sizeof(from), "%s/msg/%s/%s", f->dir, sub, a);
	snprintf(to, sizeof(to), "%s/incoming/%s", f->dir, b);
	snprintf(cmd, sizeof(cmd), "cp %s %s", from, to);
	assert_int_equal(system(cmd), 0);
	put_file(f->dir, "incoming/000000000000001", "TQ1\nnonsense\n");
	put_file(f->dir, "tmp/000000000000002", "TQ1\nT 1\n");
	assert_int_equal(unlink(from), 0);

	qfix_open(f, T0 + 10);
	assert_int_equal(qfix_count(f->dir, "tmp"), 0);
	assert_int_equal(qfix_count(f->dir, "incoming"), 0);
	assert_int_equal(qfix_count(f->dir, "corrupt"), 1);
	int fd;
	assert_int_equal(q_body_open(f->q, a, &fd, NULL), ENOENT);
	assert_int_equal(qfix_int(f->q, "SELECT count(*) FROM msg WHERE id=?1", a), 0);
	assert_int_equal(q_body_open(f->q, b, &fd, NULL), 0);
	char buf[16] = {0};
	assert_int_equal(read(fd, buf, sizeof(buf)), 8);
	close(fd);
	assert_string_equal(buf, "body-a\r\n");
	qfix_check_consistent(f);

	/* A claim not answered within claim_timeout is handed out again. */
	struct q_batch bt;
	assert_int_equal(q_due(f->q, T0 + 10, 10, &bt), 0);
	assert_int_equal(bt.n, 1);
	q_batch_free(&bt);
	assert_int_equal(q_due(f->q, T0 + 10 + 3599, 10, &bt), 0);
	assert_int_equal(bt.n, 0);
	q_batch_free(&bt);
	assert_int_equal(q_due(f->q, T0 + 10 + 3600, 10, &bt), 0);
	assert_int_equal(bt.n, 1);
	q_batch_free(&bt);
	qfix_free(f);
}

static void test_size_and_owner(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	char id[Q_ID_SIZE];
	assert_int_equal(qfix_add(f->q, "s@x", 1, 1, "12345", T0, id), 0);
	assert_false(q_store_full(f->q, 0, 1000000));
	assert_false(q_store_full(f->q, 10, 5));
	assert_true(q_store_full(f->q, 10, 6));
	/* A second process view: not the owner while the lock is held. */
	q_store *admin = NULL;
	assert_int_equal(q_store_open(&admin, f->dir, NULL, Q_OPEN_TRY_OWNER, T0), 0);
	assert_false(admin->owner);
	unsigned c;
	const char *one = id;
	assert_int_equal(q_delete(admin, &one, 1, &c), 0);
	assert_int_equal(c, 1);
	assert_int_equal(q_store_settle(admin), EPERM);
	q_store_close(&admin);
	/* Flagged only; the owner finishes it at its next q_due. */
	assert_int_equal(qfix_files(f->dir), 1);
	struct q_batch b;
	assert_int_equal(q_due(f->q, T0, 10, &b), 0);
	assert_int_equal(b.n, 0);
	q_batch_free(&b);
	assert_int_equal(qfix_files(f->dir), 0);
	uint64_t n, bytes;
	assert_int_equal(q_store_stats(f->q, &n, &bytes), 0);
	assert_int_equal(n + bytes, 0);
	qfix_free(f);
}

/* `ternd queue` beside a running ternd: a second process holds, releases
 * and flushes everything while the owner adds, claims and records; SQLite's
 * locking (busy timeout) serialises them without errors. */
static void test_concurrent_admin(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	qfix_open(f, T0);
	q_store_close(&f->q); /* no connection may cross fork() */
	char dir[sizeof(f->dir)];
	memcpy(dir, f->dir, sizeof(dir));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		free(f); /* the parent's; its directory stays */
		q_store *a = NULL;
		if (q_store_open(&a, dir, NULL, 0, T0) != 0 || a->owner)
			_exit(2);
		for (int i = 0; i < 100; i++) {
			if (q_hold(a, NULL, 0, NULL) != 0 || q_release(a, NULL, 0, T0, NULL) != 0 ||
			    q_flush(a, NULL, 0, T0, NULL) != 0)
				_exit(3);
		}
		q_store_close(&a);
		_exit(0);
	}
	qfix_open(f, T0);
	char id[Q_ID_SIZE];
	unsigned delivered = 0;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(qfix_add(f->q, "s@x", 1, 1, "m\r\n", T0, id), 0);
		struct q_batch b;
		assert_int_equal(q_due(f->q, T0, 10, &b), 0);
		for (unsigned j = 0; j < b.n; j++) {
			struct q_result r = {.idx = b.jobs[j].idx, .outcome = Q_DELIVERED};
			assert_int_equal(q_record(f->q, b.jobs[j].id, &r, 1, T0, NULL), 0);
			delivered++;
		}
		q_batch_free(&b);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Whatever was held at the end is released, then everything drains. */
	assert_int_equal(q_release(f->q, NULL, 0, T0, NULL), 0);
	struct q_batch b;
	assert_int_equal(q_due(f->q, T0, 1000, &b), 0);
	for (unsigned j = 0; j < b.n; j++) {
		struct q_result r = {.idx = b.jobs[j].idx, .outcome = Q_DELIVERED};
		assert_int_equal(q_record(f->q, b.jobs[j].id, &r, 1, T0, NULL), 0);
		delivered++;
	}
	q_batch_free(&b);
	assert_int_equal(delivered, 100);
	qfix_check_consistent(f);
	assert_int_equal(qfix_files(f->dir), 0);
	qfix_free(f);
}

static void test_queue_cmd(void **state)
{
	(void)state;
	struct qfix *f = qfix_new();
	char *none[] = {"queue", "list", NULL};
	assert_int_equal(ternd_queue_main(2, none, f->base), 73); /* no queue: not made */
	assert_int_equal(qfix_count(f->base, "queue"), -1);
	qfix_open(f, T0);
	q_store_close(&f->q);
	char *bad[] = {"queue", "frobnicate", NULL};
	char *nolist[] = {"queue", "hold", NULL};
	assert_int_equal(ternd_queue_main(2, bad, f->base), 64);
	assert_int_equal(ternd_queue_main(2, nolist, f->base), 64);
	char *list[] = {"queue", "--state-dir", f->base, "list", NULL};
	assert_int_equal(ternd_queue_main(4, list, "/nonexistent"), 0);
	char *hold[] = {"queue", "hold", "000000000000000", NULL};
	assert_int_equal(ternd_queue_main(3, hold, f->base), 65);
	char *all[] = {"queue", "flush", "ALL", NULL};
	assert_int_equal(ternd_queue_main(3, all, f->base), 0);
	qfix_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_header_roundtrip),
		cmocka_unit_test(test_header_malformed),
		cmocka_unit_test(test_prefix_room),
		cmocka_unit_test(test_add_abort),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_due_record),
		cmocka_unit_test(test_dsn),
		cmocka_unit_test(test_delay_expire),
		cmocka_unit_test(test_admin),
		cmocka_unit_test(test_delete_many),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_pickup),
		cmocka_unit_test(test_rebuild),
		cmocka_unit_test(test_recovery_files),
		cmocka_unit_test(test_size_and_owner),
		cmocka_unit_test(test_concurrent_admin),
		cmocka_unit_test(test_queue_cmd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
