/* ternd's queue runner and the queue's writers; see outbound.h. */
#include "outbound.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tern/delivery.h"

#include "bounce.h"
#include "log.h"

/* Messages in delivery at once (each holds an open file). */
#define MAX_IN_FLIGHT 256
#define TICK_MS 1000
/* Threads fsyncing accepted messages: several at once, so that a
 * journaling file system commits their fsyncs together. */
#define COMMITTERS 4

/* A loop that waits for commits: finished ones are handed back through
 * its pipe, as the hash pool does (libevent's threading stays off). */
struct notifier {
	struct notifier *next;
	struct ternd_outbound *ob;
	struct event_base *base;
	int fds[2];
	struct event ev;
	struct ternd_commit *head, *tail; /* finished, not yet handed back */
};

struct ternd_commit {
	struct ternd_commit *next;
	struct notifier *nt;
	q_writer *w;
	ternd_commit_done_fn *done;
	void *arg;
	enum { CJ_QUEUED, CJ_WORKING, CJ_FINISHED } state;
	bool cancelled;
	int err;
	char id[Q_ID_SIZE];
};

struct ternd_outbound {
	pthread_mutex_t lock; /* every q_* call */
	q_store *q;
	const struct ternd_config *cfg;
	const struct ternd_routing *routing;
	maildir *md;
	uint64_t max_queue_size;

	pthread_t thread;
	bool thread_started;
	struct event_base *base;
	struct event *tick, *wake;
	int wake_fd[2];
	atomic_bool stopping;
	tern_delivery *remote; /* MX or --relayhost */
	tern_delivery *lmtp;   /* --lmtp-to, for local recipients */
	unsigned in_flight;
	struct call *calls;    /* delivery calls out, for close */
	/* Group commit (ternd_outbound_commit_async): jlock guards the
	 * lists, the notifiers and the jobs' states. */
	pthread_mutex_t jlock;
	pthread_cond_t jcond;
	struct ternd_commit *queued, *queued_tail; /* waiting for a committer */
	struct ternd_commit *synced;               /* fsynced, waiting for the batch */
	bool committing, jstop;
	struct notifier *notifiers;
	pthread_t committers[COMMITTERS];
	unsigned n_committers;
	struct ternd_bounce bounce;
	char hostname[256];
	char relay_user[256], relay_password[256];
};

/* One message being delivered: its file and envelope, and how many
 * delivery calls are still out. */
struct out_msg {
	struct ternd_outbound *ob;
	char id[Q_ID_SIZE];
	int fd;
	off_t body_off;
	uint64_t body_len;
	struct q_envelope env;
	unsigned pending;
	/* The recipients handed out (indices into env.rcpts) and their
	 * domain, per delivery call. */
	unsigned *idx;
	unsigned n;
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- the writers -------------------------------------------------------- */

bool ternd_outbound_full(struct ternd_outbound *ob, uint64_t add_bytes)
{
	bool full;

	if (ob->max_queue_size == 0)
		return false;
	pthread_mutex_lock(&ob->lock);
	full = q_store_full(ob->q, ob->max_queue_size, add_bytes);
	pthread_mutex_unlock(&ob->lock);
	return full;
}

int ternd_outbound_writer_open(struct ternd_outbound *ob, const struct q_envelope *env,
			       q_writer **w_r)
{
	int r;

	pthread_mutex_lock(&ob->lock);
	r = q_writer_open(ob->q, env, w_r);
	pthread_mutex_unlock(&ob->lock);
	return r;
}

int ternd_outbound_write(struct ternd_outbound *ob, q_writer *w, const void *buf, size_t len)
{
	(void)ob;
	/* A writer only touches its own file: no store lock (which the
	 * runner may hold through a batch of DSNs). */
	return q_writer_write(w, buf, len);
}

static void wake_runner(struct ternd_outbound *ob)
{
	ssize_t r = write(ob->wake_fd[1], "w", 1);

	(void)r; /* EAGAIN: a wakeup is pending already */
}

int ternd_outbound_commit(struct ternd_outbound *ob, q_writer **w, char id_r[Q_ID_SIZE])
{
	int r;

	pthread_mutex_lock(&ob->lock);
	r = q_writer_commit(w, id_r);
	pthread_mutex_unlock(&ob->lock);
	if (r == 0)
		wake_runner(ob);
	return r;
}

void ternd_outbound_abort(struct ternd_outbound *ob, q_writer **w)
{
	pthread_mutex_lock(&ob->lock);
	q_writer_abort(w);
	pthread_mutex_unlock(&ob->lock);
}

/* ---- group commit ---------------------------------------------------------- */

static void on_committed(evutil_socket_t fd, short what, void *arg)
{
	struct notifier *nt = arg;
	struct ternd_outbound *ob = nt->ob;
	struct ternd_commit *list;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&ob->jlock);
	list = nt->head;
	nt->head = nt->tail = NULL;
	pthread_mutex_unlock(&ob->jlock);
	while (list != NULL) {
		struct ternd_commit *j = list;

		list = j->next;
		j->done(j->err, j->err == 0 ? j->id : NULL, j->arg);
		free(j);
	}
}

/* With jlock held: a job's outcome is known (its writer is gone). */
static void finish_job(struct ternd_commit *j)
{
	struct notifier *nt = j->nt;
	bool was_empty = nt->head == NULL;

	j->state = CJ_FINISHED;
	j->next = NULL;
	if (j->cancelled) {
		free(j);
		return;
	}
	if (nt->tail != NULL)
		nt->tail->next = j;
	else
		nt->head = j;
	nt->tail = j;
	if (was_empty) {
		ssize_t r = write(nt->fds[1], "c", 1);

		(void)r; /* full: a wakeup is pending already */
	}
}

/* With jlock held, by one committer at a time: every synced job in one
 * q_writers_commit (renames, one directory fsync, one index transaction). */
static void commit_batches(struct ternd_outbound *ob)
{
	while (ob->synced != NULL) {
		struct ternd_commit *batch = ob->synced, *j;
		unsigned n = 0, i = 0;

		ob->synced = NULL;
		for (j = batch; j != NULL; j = j->next)
			n++;
		q_writer **ws = calloc(n, sizeof(*ws));
		char (*ids)[Q_ID_SIZE] = calloc(n, Q_ID_SIZE);
		int *errs = calloc(n, sizeof(int));

		pthread_mutex_unlock(&ob->jlock);
		if (ws != NULL && ids != NULL && errs != NULL) {
			for (j = batch; j != NULL; j = j->next)
				ws[i++] = j->w;
			pthread_mutex_lock(&ob->lock);
			q_writers_commit(ws, n, ids, errs);
			pthread_mutex_unlock(&ob->lock);
			wake_runner(ob);
		} else {
			for (j = batch; j != NULL; j = j->next)
				ternd_outbound_abort(ob, &j->w);
		}
		pthread_mutex_lock(&ob->jlock);
		i = 0;
		for (j = batch; j != NULL;) {
			struct ternd_commit *next = j->next;

			j->w = NULL;
			j->err = ws != NULL && ids != NULL && errs != NULL ? errs[i] : ENOMEM;
			if (j->err == 0)
				memcpy(j->id, ids[i], Q_ID_SIZE);
			i++;
			finish_job(j);
			j = next;
		}
		free(ws);
		free(ids);
		free(errs);
	}
}

static void *committer(void *arg)
{
	struct ternd_outbound *ob = arg;

	pthread_mutex_lock(&ob->jlock);
	for (;;) {
		struct ternd_commit *j;

		while (!ob->jstop && ob->queued == NULL)
			pthread_cond_wait(&ob->jcond, &ob->jlock);
		if (ob->queued == NULL)
			break; /* stopping, nothing left */
		j = ob->queued;
		ob->queued = j->next;
		if (ob->queued == NULL)
			ob->queued_tail = NULL;
		j->state = CJ_WORKING;
		pthread_mutex_unlock(&ob->jlock);
		/* The slow part, outside every lock, beside the other
		 * committers' fsyncs. An error is kept in the writer. */
		(void)q_writer_sync(j->w);
		pthread_mutex_lock(&ob->jlock);
		j->next = ob->synced;
		ob->synced = j;
		if (!ob->committing) {
			ob->committing = true;
			commit_batches(ob);
			ob->committing = false;
		}
	}
	pthread_mutex_unlock(&ob->jlock);
	return NULL;
}

int ternd_outbound_commit_async(struct ternd_outbound *ob, q_writer **w,
				struct event_base *base, ternd_commit_done_fn *done, void *arg,
				struct ternd_commit **job_r)
{
	struct ternd_commit *j = calloc(1, sizeof(*j));
	struct notifier *nt;

	*job_r = NULL;
	if (j == NULL || base == NULL || ob->n_committers == 0) {
		free(j);
		ternd_outbound_abort(ob, w);
		return j == NULL ? ENOMEM : EINVAL;
	}
	pthread_mutex_lock(&ob->jlock);
	for (nt = ob->notifiers; nt != NULL && nt->base != base; nt = nt->next)
		;
	if (nt == NULL && (nt = calloc(1, sizeof(*nt))) != NULL) {
		/* On base's own thread: the caller runs it. */
		nt->ob = ob;
		nt->base = base;
		if (pipe2(nt->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
			free(nt);
			nt = NULL;
		} else {
			event_assign(&nt->ev, base, nt->fds[0], EV_READ | EV_PERSIST, on_committed,
				     nt);
			event_add(&nt->ev, NULL);
			nt->next = ob->notifiers;
			ob->notifiers = nt;
		}
	}
	if (nt == NULL) {
		pthread_mutex_unlock(&ob->jlock);
		free(j);
		ternd_outbound_abort(ob, w);
		return ENOMEM;
	}
	j->nt = nt;
	j->w = *w;
	*w = NULL;
	j->done = done;
	j->arg = arg;
	j->state = CJ_QUEUED;
	if (ob->queued_tail != NULL)
		ob->queued_tail->next = j;
	else
		ob->queued = j;
	ob->queued_tail = j;
	pthread_cond_signal(&ob->jcond);
	pthread_mutex_unlock(&ob->jlock);
	*job_r = j;
	return 0;
}

void ternd_outbound_commit_cancel(struct ternd_outbound *ob, struct ternd_commit **jp)
{
	struct ternd_commit *j = jp != NULL ? *jp : NULL;
	q_writer *w = NULL;

	if (j == NULL)
		return;
	*jp = NULL;
	pthread_mutex_lock(&ob->jlock);
	if (j->state == CJ_QUEUED) {
		struct ternd_commit **pp = &ob->queued, *prev = NULL;

		while (*pp != NULL && *pp != j) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		*pp = j->next;
		if (ob->queued_tail == j)
			ob->queued_tail = prev;
		w = j->w;
		free(j);
	} else if (j->state == CJ_FINISHED) {
		struct notifier *nt = j->nt;
		struct ternd_commit **pp = &nt->head, *prev = NULL;

		while (*pp != NULL && *pp != j) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (*pp == j) {
			*pp = j->next;
			if (nt->tail == j)
				nt->tail = prev;
		}
		free(j);
	} else {
		j->cancelled = true; /* the committer frees it */
	}
	pthread_mutex_unlock(&ob->jlock);
	if (w != NULL)
		ternd_outbound_abort(ob, &w);
}

/* ---- recording outcomes ------------------------------------------------- */

static void msg_free(struct out_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	q_envelope_free(&m->env);
	free(m->idx);
	m->ob->in_flight--;
	free(m);
}

static void msg_release(struct out_msg *m)
{
	if (--m->pending == 0)
		msg_free(m);
}

/* Postfix's line, so that its log tools read ours: one per recipient and
 * attempt. */
static void log_outcome(const struct out_msg *m, const char *rcpt, const char *relay, int code,
			const char *enhanced, const char *text, enum q_outcome o)
{
	static const char *const status[] = {"sent", "deferred", "bounced"};
	int64_t delay = now_s() - m->env.arrival;

	ternd_log(o == Q_DELIVERED ? TERN_LOG_INFO : TERN_LOG_WARNING, NULL,
		  "%s: to=<%s>, relay=%s, delay=%" PRId64 ", dsn=%s, status=%s (%d %s)", m->id, rcpt,
		  relay, delay < 0 ? 0 : delay, enhanced && enhanced[0] ? enhanced : "-",
		  status[o], code, text ? text : "");
}

static void record(struct out_msg *m, const struct q_result *res, unsigned n)
{
	struct ternd_outbound *ob = m->ob;
	struct q_record_summary sum = {0};
	int r;

	pthread_mutex_lock(&ob->lock);
	r = q_record(ob->q, m->id, res, n, now_s(), &sum);
	/* Reports owed now go out at once (the tick finds any left). */
	if (r == 0 && (sum.failure_dsn || sum.delay_dsn || sum.success_dsn))
		ternd_bounce_run(&ob->bounce, ob->q);
	pthread_mutex_unlock(&ob->lock);
	if (r != 0)
		ternd_log(TERN_LOG_ERROR, NULL, "%s: cannot record %u outcome(s): %s", m->id, n,
			  strerror(r));
	else if (sum.removed)
		ternd_log(TERN_LOG_INFO, NULL, "%s: removed", m->id);
}

/* Recipients claimed by q_due that cannot be tried now (out of memory, the
 * file unreadable, a call that did not start): recorded as a temporary
 * failure, so the usual backoff applies instead of the claim sitting
 * until its timeout. */
static void defer_claimed(struct ternd_outbound *ob, const char *id, const unsigned *idx,
			  unsigned n, const char *why)
{
	struct q_result *res = calloc(n ? n : 1, sizeof(*res));
	int r = ENOMEM;

	ternd_log(TERN_LOG_WARNING, NULL, "%s: %u recipient(s) deferred: %s", id, n, why);
	if (res != NULL) {
		for (unsigned i = 0; i < n; i++)
			res[i] = (struct q_result){.idx = idx[i], .outcome = Q_TEMPFAIL, .code = 451,
						   .status = "4.3.0", .text = why, .host = "none"};
		pthread_mutex_lock(&ob->lock);
		r = q_record(ob->q, id, res, n, now_s(), NULL);
		pthread_mutex_unlock(&ob->lock);
	}
	if (r != 0)
		ternd_log(TERN_LOG_ERROR, NULL, "%s: cannot record the deferral (%s); its claim "
						"expires in an hour",
			  id, strerror(r));
	free(res);
}

static enum q_outcome outcome_of(enum tern_smtp_client_class c)
{
	return c == TERN_SMTP_CLIENT_SUCCESS ? Q_DELIVERED
	       : c == TERN_SMTP_CLIENT_PERMFAIL ? Q_PERMFAIL
					       : Q_TEMPFAIL;
}

/* A delivery call's results; arg is a struct call. */
struct call {
	struct call *prev, *next; /* in ob->calls */
	struct out_msg *m;
	unsigned *idx; /* the recipients of this call */
	unsigned n;
};

static void call_free(struct call *c)
{
	struct ternd_outbound *ob = c->m->ob;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ob->calls = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	msg_release(c->m);
	free(c->idx);
	free(c);
}

static void delivered(const tern_delivery_result *r, size_t n, void *arg)
{
	struct call *c = arg;
	struct q_result *res = calloc(c->n ? c->n : 1, sizeof(*res));

	for (size_t i = 0; res != NULL && i < n && i < c->n; i++) {
		res[i] = (struct q_result){
			.idx = c->idx[i],
			.outcome = outcome_of(r[i].cls),
			.code = r[i].code,
			.status = r[i].enhanced,
			.text = r[i].text,
			.host = r[i].relay,
			/* A next hop that had DSN got NOTIFY: its reports now. */
			.passed_on = !r[i].relayed_without_dsn &&
				     !ternd_routing_is_local(c->m->ob->routing, r[i].address),
		};
		log_outcome(c->m, r[i].address, r[i].relay, r[i].code, r[i].enhanced, r[i].text,
			    res[i].outcome);
	}
	if (res != NULL)
		record(c->m, res, c->n);
	else
		ternd_log(TERN_LOG_ERROR, NULL, "%s: out of memory recording outcomes", c->m->id);
	free(res);
	call_free(c);
}

/* ---- delivering one message ---------------------------------------------- */

/* "rfc822;a@b" into type and address (pointers into a copy). */
static void split_orcpt(char *orcpt, const char **type_r, const char **addr_r)
{
	char *semi = orcpt != NULL ? strchr(orcpt, ';') : NULL;

	*type_r = *addr_r = NULL;
	if (semi == NULL)
		return;
	*semi = '\0';
	*type_r = orcpt;
	*addr_r = semi + 1;
}

static enum tern_smtp_body body_of(enum q_body b)
{
	return b == Q_BODY_8BITMIME    ? TERN_SMTP_BODY_8BITMIME
	       : b == Q_BODY_BINARYMIME ? TERN_SMTP_BODY_BINARYMIME
					: TERN_SMTP_BODY_7BIT;
}

/* Sends recipients idx[0..n) of m through d. Returns 0, or an errno (the
 * call did not start: the recipients are recorded as temporary). */
static int send_call(struct out_msg *m, tern_delivery *d, unsigned *idx, unsigned n)
{
	tern_smtp_client_rcpt *rc = calloc(n, sizeof(*rc));
	char **orcpt = calloc(n, sizeof(char *));
	struct call *c = calloc(1, sizeof(*c));
	tern_smtp_client_message msg = {
		.from = m->env.sender,
		.size = m->body_len,
		.body = body_of(m->env.body),
		.smtputf8 = m->env.smtputf8,
		.requiretls = m->env.requiretls,
		.ret = m->env.ret == Q_RET_FULL   ? TERN_SMTP_RET_FULL
		       : m->env.ret == Q_RET_HDRS ? TERN_SMTP_RET_HDRS
						  : TERN_SMTP_RET_UNSET,
		.envid = m->env.envid,
	};
	tern_delivery_body body = {.fd = m->fd, .offset = m->body_off, .len = m->body_len};
	int r = ENOMEM;

	if (rc == NULL || orcpt == NULL || c == NULL)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		const struct q_rcpt *q = &m->env.rcpts[idx[i]];

		rc[i].address = q->addr;
		/* Q_NOTIFY_* bits are RFC 3461's, as tern_smtp_notify's. */
		rc[i].notify = q->notify;
		if (q->orcpt != NULL) {
			orcpt[i] = strdup(q->orcpt);
			split_orcpt(orcpt[i], &rc[i].orcpt_type, &rc[i].orcpt);
		}
	}
	msg.rcpts = rc;
	msg.n_rcpts = n;
	c->m = m;
	c->idx = idx;
	c->n = n;
	r = tern_delivery_send(d, &msg, &body, delivered, c, NULL);
	if (r != 0) {
		r = r == TERN_ENOMEM ? ENOMEM : EINVAL;
	} else {
		m->pending++;
		c->next = m->ob->calls;
		if (c->next != NULL)
			c->next->prev = c;
		m->ob->calls = c;
	}
out:
	for (unsigned i = 0; orcpt != NULL && i < n; i++)
		free(orcpt[i]);
	free(orcpt);
	free(rc);
	if (r != 0)
		free(c); /* idx stays the caller's */
	return r;
}

/* Local recipients of a queued message into the Maildir, here on the
 * runner's thread (a Maildir delivery is a few writes and fsyncs). */
static void deliver_maildir(struct out_msg *m, const unsigned *idx, unsigned n)
{
	const char **rcpts = calloc(n, sizeof(*rcpts));
	struct q_result *res = calloc(n, sizeof(*res));
	maildir_msg *mm = NULL;
	unsigned char buf[65536];
	uint64_t done = 0;
	int err = ENOMEM;

	if (rcpts == NULL || res == NULL) {
		defer_claimed(m->ob, m->id, idx, n, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < n; i++)
		rcpts[i] = m->env.rcpts[idx[i]].addr;
	err = maildir_msg_begin(m->ob->md, m->env.sender, rcpts, n, &mm);
	while (err == 0 && done < m->body_len) {
		size_t want = m->body_len - done < sizeof(buf) ? (size_t)(m->body_len - done)
							       : sizeof(buf);
		ssize_t got = pread(m->fd, buf, want, m->body_off + (off_t)done);

		if (got <= 0) {
			err = got < 0 ? errno : EIO;
			break;
		}
		err = maildir_msg_write(mm, buf, (size_t)got);
		done += (uint64_t)got;
	}
	if (err == 0)
		maildir_msg_commit(mm, false);
	for (unsigned i = 0; i < n; i++) {
		int e = err != 0 ? err : maildir_msg_result(mm, i, NULL, NULL);
		int code;
		const char *enh, *text;

		if (e == 0) {
			code = 250;
			enh = "2.0.0";
			text = "delivered to the Maildir";
		} else {
			maildir_error_reply(e, &code, &enh, &text);
		}
		res[i] = (struct q_result){.idx = idx[i],
					   .outcome = e == 0 ? Q_DELIVERED
						      : code >= 500 ? Q_PERMFAIL
								    : Q_TEMPFAIL,
					   .code = code,
					   .status = enh,
					   .text = text,
					   .host = "maildir"};
		log_outcome(m, rcpts[i], "local", code, enh, text, res[i].outcome);
	}
	record(m, res, n);
	maildir_msg_free(&mm);
	free(rcpts);
	free(res);
	return;
fail:
	free(rcpts);
	free(res);
}

/* Starts delivering the recipients of one message claimed by q_due. */
static void start_message(struct ternd_outbound *ob, const char *id, const unsigned *idx,
			  unsigned n)
{
	struct out_msg *m = calloc(1, sizeof(*m));
	unsigned *local = calloc(n, sizeof(unsigned)), *remote = calloc(n, sizeof(unsigned));
	unsigned n_local = 0, n_remote = 0;
	struct stat st;
	int r;

	if (m == NULL || local == NULL || remote == NULL) {
		free(m);
		free(local);
		free(remote);
		defer_claimed(ob, id, idx, n, "out of memory starting the delivery");
		return;
	}
	m->ob = ob;
	m->fd = -1;
	snprintf(m->id, sizeof(m->id), "%s", id);
	ob->in_flight++;
	m->pending = 1; /* ours, until every call is started */
	pthread_mutex_lock(&ob->lock);
	r = q_body_open(ob->q, id, &m->fd, &m->env);
	pthread_mutex_unlock(&ob->lock);
	if (r != 0) {
		ternd_log(r == ENOENT ? TERN_LOG_WARNING : TERN_LOG_ERROR, NULL,
			  "%s: cannot open the queued message: %s", id, strerror(r));
		/* ENOENT: the queue dropped the rows with the missing file. */
		if (r != ENOENT)
			defer_claimed(ob, id, idx, n, "cannot open the queued message");
		free(local);
		free(remote);
		m->fd = -1;
		msg_release(m);
		return;
	}
	m->body_off = lseek(m->fd, 0, SEEK_CUR);
	m->body_len = fstat(m->fd, &st) == 0 && st.st_size > m->body_off
			      ? (uint64_t)(st.st_size - m->body_off)
			      : 0;
	for (unsigned i = 0; i < n; i++) {
		if (idx[i] >= m->env.nrcpt)
			continue;
		if (ternd_routing_is_local(ob->routing, m->env.rcpts[idx[i]].addr))
			local[n_local++] = idx[i];
		else
			remote[n_remote++] = idx[i];
	}
	if (n_local > 0 && ob->lmtp == NULL) {
		deliver_maildir(m, local, n_local);
		free(local);
	} else if (n_local > 0 && send_call(m, ob->lmtp, local, n_local) != 0) {
		defer_claimed(ob, id, local, n_local, "the delivery did not start");
		free(local);
	}
	if (n_local == 0)
		free(local);
	if (n_remote > 0 && send_call(m, ob->remote, remote, n_remote) != 0) {
		defer_claimed(ob, id, remote, n_remote, "the delivery did not start");
		free(remote);
	} else if (n_remote == 0) {
		free(remote);
	}
	msg_release(m);
}

/* One pass: pickup files, then what is due, grouped by message. */
static void run_queue(struct ternd_outbound *ob)
{
	struct q_batch b = {0};
	unsigned room = MAX_IN_FLIGHT > ob->in_flight ? MAX_IN_FLIGHT - ob->in_flight : 0;
	unsigned picked = 0;
	int r;

	if (room == 0 || atomic_load(&ob->stopping))
		return;
	pthread_mutex_lock(&ob->lock);
	ternd_bounce_run(&ob->bounce, ob->q);
	r = q_pickup_ingest(ob->q, now_s(), &picked);
	if (r == 0)
		/* At most room recipients: never more messages started (each
		 * holding a file) than MAX_IN_FLIGHT; a message with more
		 * recipients gets the rest at the next pass. */
		r = q_due(ob->q, now_s(), room < Q_DUE_MAX ? room : Q_DUE_MAX, &b);
	pthread_mutex_unlock(&ob->lock);
	if (picked > 0)
		ternd_log(TERN_LOG_INFO, NULL, "queued %u message(s) from the pickup directory",
			  picked);
	if (r != 0) {
		ternd_log(TERN_LOG_ERROR, NULL, "queue: %s", strerror(r));
		return;
	}
	/* The batch is sorted by domain, then id: gather each id's
	 * recipients (a message may have several domains). */
	bool *used = calloc(b.n ? b.n : 1, sizeof(bool));
	unsigned *idx = calloc(b.n ? b.n : 1, sizeof(unsigned));

	for (unsigned i = 0; used != NULL && idx != NULL && i < b.n; i++) {
		unsigned n = 0;

		if (used[i])
			continue;
		for (unsigned k = i; k < b.n; k++) {
			if (!used[k] && strcmp(b.jobs[k].id, b.jobs[i].id) == 0) {
				used[k] = true;
				idx[n++] = b.jobs[k].idx;
			}
		}
		start_message(ob, b.jobs[i].id, idx, n);
	}
	free(used);
	free(idx);
	q_batch_free(&b);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_queue(arg);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct ternd_outbound *ob = arg;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (atomic_load(&ob->stopping)) {
		event_base_loopbreak(ob->base);
		return;
	}
	run_queue(ob);
}

static void *runner(void *arg)
{
	struct ternd_outbound *ob = arg;

	run_queue(ob);
	event_base_dispatch(ob->base);
	return NULL;
}

/* ---- start and stop ------------------------------------------------------- */

static void on_delivery_log(enum tern_smtp_log_level level, const char *line, void *arg)
{
	(void)arg;
	ternd_log(level, NULL, "delivery: %s", line);
}

/* Each attempt's TLS outcome, one line in TLS-RPT's terms (RFC 8460), for
 * the daily reports to be built from later. */
static void on_tls_outcome(const tern_delivery_tls_outcome *t, void *arg)
{
	static const char *const policy[] = {"no-policy-found", "tlsa", "sts"};

	(void)arg;
	ternd_log(t->result != NULL ? TERN_LOG_INFO : TERN_LOG_DEBUG, NULL,
		  "tls-rpt: domain=%s policy=%s%s mx=%s ip=%s result=%s%s%s%s", t->domain,
		  policy[t->policy], t->sts_testing ? "/testing" : "",
		  t->mx_host[0] ? t->mx_host : "-", t->ip[0] ? t->ip : "-",
		  t->result != NULL ? t->result : "success",
		  t->delivered_anyway ? " (delivered anyway)" : "", t->detail[0] ? ": " : "",
		  t->detail);
}

/* --relayhost-auth: one line, USER:PASSWORD. */
static int read_auth(struct ternd_outbound *ob, const char *path)
{
	char line[600];
	FILE *f = fopen(path, "re");
	char *colon;
	struct stat st;

	if (f == NULL) {
		fprintf(stderr, "ternd: --relayhost-auth %s: %s\n", path, strerror(errno));
		return TERND_EX_NOINPUT;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
		ternd_log(TERN_LOG_WARNING, NULL,
			  "--relayhost-auth %s can be read by others than its owner (chmod 600)", path);
	if (fgets(line, sizeof(line), f) == NULL || (colon = strchr(line, ':')) == NULL) {
		fclose(f);
		fprintf(stderr, "ternd: --relayhost-auth %s: not one USER:PASSWORD line\n", path);
		return TERND_EX_USAGE;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	*colon = '\0';
	if (strlen(line) >= sizeof(ob->relay_user) || strlen(colon + 1) >= sizeof(ob->relay_password)) {
		explicit_bzero(line, sizeof(line));
		fprintf(stderr, "ternd: --relayhost-auth %s: user or password too long\n", path);
		return TERND_EX_USAGE;
	}
	memcpy(ob->relay_user, line, strlen(line) + 1);
	memcpy(ob->relay_password, colon + 1, strlen(colon + 1) + 1);
	explicit_bzero(line, sizeof(line));
	return TERND_EX_OK;
}

static int make_agents(struct ternd_outbound *ob, const struct ternd_config *cfg)
{
	tern_delivery_options o;
	const char *helo = ob->hostname;
	char lmtp_target[600];

	tern_delivery_options_init(&o);
	o.helo_name = helo;
	o.on_log = on_delivery_log;
	o.log_level = cfg->log_level;
	o.dns_server = cfg->dns_server;
	o.max_per_dest = cfg->dest_concurrency;
	o.dest_rate = cfg->dest_rate;
	o.port = cfg->smtp_port;
	/* DANE and MTA-STS (docs/dane-mta-sts.md). Validation only with an
	 * anchor the administrator names: libunbound forwards to the
	 * servers of resolv.conf, and one that drops DNSSEC records (many
	 * stub forwarders do) would make every answer bogus, which is a
	 * temporary failure of every lookup: all outbound mail would stop.
	 * MTA-STS policies are cached in memory only for now (no sts_store). */
	o.dane = !cfg->no_dane;
	o.mta_sts = !cfg->no_mta_sts;
	o.on_tls_outcome = on_tls_outcome;
	o.dns_trust_anchor = cfg->dns_trust_anchor;
	/* Our names, for RFC 5321 5.1's loop rule: the host name and the
	 * local domains (an MX pointing at us is a loop, not a relay). */
	const char *self[TERND_MAX_DOMAINS + 2];
	unsigned n_self = 0;

	self[n_self++] = helo;
	for (unsigned i = 0; i < cfg->domain_count; i++)
		self[n_self++] = cfg->domains[i];
	self[n_self] = NULL;
	o.self_names = self;
	if (cfg->relayhost != NULL) {
		o.relayhost = cfg->relayhost;
		o.tls = cfg->relayhost_tls_require ? TERN_DELIVERY_TLS_VERIFY : TERN_DELIVERY_TLS_MAY;
		o.tls_ca_file = cfg->relayhost_ca;
		if (ob->relay_user[0] != '\0') {
			o.auth_user = ob->relay_user;
			o.auth_password = ob->relay_password;
		}
	} else {
		o.tls = cfg->smtp_tls == TERND_SMTP_TLS_NONE     ? TERN_DELIVERY_TLS_NONE
			: cfg->smtp_tls == TERND_SMTP_TLS_VERIFY ? TERN_DELIVERY_TLS_VERIFY
								 : TERN_DELIVERY_TLS_MAY;
		o.tls_ca_file = cfg->smtp_ca;
	}
	if (tern_delivery_new(&ob->remote, ob->base, &o) != 0) {
		fprintf(stderr, "ternd: cannot start outbound delivery (check --relayhost, "
				"--dns-server, the CA files)\n");
		return TERND_EX_USAGE;
	}
	if (cfg->lmtp_to == NULL)
		return TERND_EX_OK;
	tern_delivery_options_init(&o);
	o.helo_name = helo;
	o.on_log = on_delivery_log;
	o.log_level = cfg->log_level;
	o.lmtp = true;
	o.tls = TERN_DELIVERY_TLS_NONE; /* a local hop */
	if (cfg->lmtp_to[0] == '/' || cfg->lmtp_to[0] == '[')
		snprintf(lmtp_target, sizeof(lmtp_target), "%s", cfg->lmtp_to);
	else
		snprintf(lmtp_target, sizeof(lmtp_target), "[%.*s]%s",
			 (int)(strrchr(cfg->lmtp_to, ':') - cfg->lmtp_to), cfg->lmtp_to,
			 strrchr(cfg->lmtp_to, ':'));
	o.relayhost = lmtp_target;
	if (tern_delivery_new(&ob->lmtp, ob->base, &o) != 0) {
		fprintf(stderr, "ternd: --lmtp-to %s: cannot use it\n", cfg->lmtp_to);
		return TERND_EX_USAGE;
	}
	return TERND_EX_OK;
}

int ternd_outbound_open(struct ternd_outbound **ob_r, const struct ternd_config *cfg,
			const struct ternd_routing *routing, maildir *md)
{
	struct ternd_outbound *ob = calloc(1, sizeof(*ob));
	struct q_options qo;
	char dir[4096];
	int r;

	*ob_r = NULL;
	if (ob == NULL)
		return TERND_EX_SOFTWARE;
	pthread_mutex_init(&ob->lock, NULL);
	pthread_mutex_init(&ob->jlock, NULL);
	pthread_cond_init(&ob->jcond, NULL);
	ob->wake_fd[0] = ob->wake_fd[1] = -1;
	ob->cfg = cfg;
	ob->routing = routing;
	ob->md = md;
	ob->max_queue_size = cfg->max_queue_size;
	if (cfg->hostname != NULL)
		snprintf(ob->hostname, sizeof(ob->hostname), "%s", cfg->hostname);
	else if (gethostname(ob->hostname, sizeof(ob->hostname) - 1) != 0 ||
		 ob->hostname[0] == '\0')
		snprintf(ob->hostname, sizeof(ob->hostname), "localhost");
	q_options_init(&qo);
	if (cfg->queue_lifetime)
		qo.max_lifetime = qo.bounce_lifetime = cfg->queue_lifetime;
	if (cfg->delay_warning_set)
		qo.delay_warning = cfg->delay_warning;
	if (cfg->min_backoff)
		qo.minimal_backoff = cfg->min_backoff;
	if (cfg->max_backoff)
		qo.maximal_backoff = cfg->max_backoff;
	ob->bounce = (struct ternd_bounce){
		.hostname = ob->hostname, .routing = routing, .lifetime = qo.max_lifetime};
	snprintf(dir, sizeof(dir), "%s/queue",
		 cfg->state_dir != NULL ? cfg->state_dir : TERND_DEFAULT_STATE_DIR);
	r = q_store_open(&ob->q, dir, &qo, Q_OPEN_OWNER, now_s());
	if (r != 0) {
		fprintf(stderr, "ternd: the queue in %s: %s\n", dir, strerror(r));
		ternd_outbound_close(&ob);
		return TERND_EX_CANTCREAT;
	}
	if (cfg->relayhost_auth != NULL && (r = read_auth(ob, cfg->relayhost_auth)) != TERND_EX_OK) {
		ternd_outbound_close(&ob);
		return r;
	}
	ob->base = event_base_new();
	if (ob->base == NULL || pipe2(ob->wake_fd, O_NONBLOCK | O_CLOEXEC) != 0) {
		ternd_outbound_close(&ob);
		return TERND_EX_SOFTWARE;
	}
	ob->tick = event_new(ob->base, -1, EV_PERSIST, on_tick, ob);
	ob->wake = event_new(ob->base, ob->wake_fd[0], EV_READ | EV_PERSIST, on_wake, ob);
	struct timeval tv = {TICK_MS / 1000, (TICK_MS % 1000) * 1000};
	if (ob->tick == NULL || ob->wake == NULL || event_add(ob->tick, &tv) != 0 ||
	    event_add(ob->wake, NULL) != 0) {
		ternd_outbound_close(&ob);
		return TERND_EX_SOFTWARE;
	}
	r = make_agents(ob, cfg);
	if (r != TERND_EX_OK) {
		ternd_outbound_close(&ob);
		return r;
	}
	if (pthread_create(&ob->thread, NULL, runner, ob) != 0) {
		ternd_outbound_close(&ob);
		return TERND_EX_OSERR;
	}
	ob->thread_started = true;
	for (unsigned i = 0; i < COMMITTERS; i++) {
		if (pthread_create(&ob->committers[i], NULL, committer, ob) != 0)
			break;
		ob->n_committers++;
	}
	*ob_r = ob;
	return TERND_EX_OK;
}

void ternd_outbound_close(struct ternd_outbound **obp)
{
	struct ternd_outbound *ob = obp != NULL ? *obp : NULL;

	if (ob == NULL)
		return;
	/* The committers finish what they hold (the sessions are gone:
	 * their jobs were cancelled, or their loops no longer run). */
	pthread_mutex_lock(&ob->jlock);
	ob->jstop = true;
	pthread_cond_broadcast(&ob->jcond);
	pthread_mutex_unlock(&ob->jlock);
	for (unsigned i = 0; i < ob->n_committers; i++)
		pthread_join(ob->committers[i], NULL);
	/* Results no loop took any more, and the notifiers: their bases are
	 * gone already (the server's loops end first), so no event_del. */
	while (ob->notifiers != NULL) {
		struct notifier *nt = ob->notifiers;

		while (nt->head != NULL) {
			struct ternd_commit *j = nt->head;

			nt->head = j->next;
			free(j);
		}
		close(nt->fds[0]);
		close(nt->fds[1]);
		ob->notifiers = nt->next;
		free(nt);
	}
	if (ob->thread_started) {
		atomic_store(&ob->stopping, true);
		wake_runner(ob);
		pthread_join(ob->thread, NULL);
	}
	/* No callback runs after this: messages in flight stay claimed in
	 * the queue and come due at the next start (at least once). Their
	 * files are closed below by hand. */
	tern_delivery_free(&ob->remote);
	tern_delivery_free(&ob->lmtp);
	while (ob->calls != NULL)
		call_free(ob->calls);
	if (ob->tick != NULL)
		event_free(ob->tick);
	if (ob->wake != NULL)
		event_free(ob->wake);
	if (ob->base != NULL)
		event_base_free(ob->base);
	for (int i = 0; i < 2; i++)
		if (ob->wake_fd[i] >= 0)
			close(ob->wake_fd[i]);
	if (ob->q != NULL) {
		pthread_mutex_lock(&ob->lock);
		q_store_close(&ob->q);
		pthread_mutex_unlock(&ob->lock);
	}
	explicit_bzero(ob->relay_password, sizeof(ob->relay_password));
	pthread_mutex_destroy(&ob->lock);
	pthread_mutex_destroy(&ob->jlock);
	pthread_cond_destroy(&ob->jcond);
	free(ob);
	*obp = NULL;
}
