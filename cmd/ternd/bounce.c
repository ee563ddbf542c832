/* Delivery status notifications for queued mail (docs/queue.md, docs/dsn.md):
 * the queue records which recipients are owed which DSN (q_record); this
 * builds each with libtern's tern_dsn_build() (RFC 3464) and queues it as a
 * new message from the null reverse-path to the original sender, then tells
 * the queue the debt is paid (q_dsn_done), which may complete and remove
 * the original. Rules:
 *   - never a bounce for a bounce: a message from <> owes nothing (the
 *     queue knows); but when such a message fails for good, postmaster
 *     gets the report instead (Postfix's "double bounce"), unless it was
 *     for postmaster already, so nothing can loop;
 *   - a crash between queueing a DSN and q_dsn_done sends it again at the
 *     next start (at least once), never loses it: q_dsn_pending finds every
 *     debt, which the runner asks for at every tick. */
#include "bounce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tern/dsn.h"

#include "log.h"

struct owed {
	unsigned idx;
	char *rcpt;
	int code;
	char status[16];
	char *text;
};

struct owed_list {
	struct owed *v;
	unsigned n, cap;
	bool oom;
};

static void collect(void *arg, unsigned idx, const char *rcpt, int code, const char *status,
		    const char *text)
{
	struct owed_list *l = arg;

	if (l->n == l->cap) {
		unsigned cap = l->cap ? l->cap * 2 : 8;
		struct owed *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL) {
			l->oom = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	struct owed *o = &l->v[l->n];
	o->idx = idx;
	o->rcpt = strdup(rcpt != NULL ? rcpt : "");
	o->code = code;
	snprintf(o->status, sizeof(o->status), "%s", status != NULL ? status : "");
	o->text = strdup(text != NULL ? text : "");
	if (o->rcpt == NULL || o->text == NULL) {
		free(o->rcpt);
		free(o->text);
		l->oom = true;
		return;
	}
	l->n++;
}

static void owed_free(struct owed_list *l)
{
	for (unsigned i = 0; i < l->n; i++) {
		free(l->v[i].rcpt);
		free(l->v[i].text);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int write_to_queue(const void *data, size_t len, void *arg)
{
	return q_writer_write(arg, data, len) == 0 ? 0 : TERN_EIO;
}

static enum tern_dsn_action action_of(const struct ternd_bounce *b, enum q_dsn_kind kind,
				      const char *rcpt)
{
	if (kind == Q_DSN_FAILURE)
		return TERN_DSN_FAILED;
	if (kind == Q_DSN_DELAY)
		return TERN_DSN_DELAYED;
	/* Success: final delivery here, or handed to a next hop without DSN
	 * (one that had DSN took the duty over: no debt was recorded). */
	return ternd_routing_is_local(b->routing, rcpt) ? TERN_DSN_DELIVERED : TERN_DSN_RELAYED;
}

/* Queues one report about message id (whose envelope and file are env and
 * fd at body_off). to: the report's envelope recipient (the sender, or
 * "postmaster" for a double bounce: local by routing.h's rule); to_header
 * what its To: says. Returns 0, or an errno (the debt stays). Called with
 * the store's lock held. */
static int queue_report(const struct ternd_bounce *b, q_store *q, const char *id,
			const struct q_envelope *env, int fd, off_t body_off, uint64_t body_len,
			enum q_dsn_kind kind, const struct owed_list *owed, const char *to,
			const char *to_header)
{
	tern_dsn_rcpt *rc = calloc(owed->n, sizeof(*rc));
	char **orcpt = calloc(owed->n, sizeof(char *));
	tern_dsn_options o;
	tern_dsn_info info;
	q_writer *w = NULL;
	char new_id[Q_ID_SIZE];
	time_t now = time(NULL);
	int err = ENOMEM, r;

	if (rc == NULL || orcpt == NULL)
		goto out;
	for (unsigned i = 0; i < owed->n; i++) {
		const struct owed *ow = &owed->v[i];
		const struct q_rcpt *qr = ow->idx < env->nrcpt ? &env->rcpts[ow->idx] : NULL;

		rc[i].address = ow->rcpt;
		rc[i].notify = qr != NULL ? qr->notify : 0;
		if (qr != NULL && qr->orcpt != NULL && (orcpt[i] = strdup(qr->orcpt)) != NULL) {
			char *semi = strchr(orcpt[i], ';');

			if (semi != NULL) {
				*semi = '\0';
				rc[i].orcpt_type = orcpt[i];
				rc[i].orcpt = semi + 1;
			}
		}
		rc[i].action = action_of(b, kind, ow->rcpt);
		rc[i].status = ow->status;
		rc[i].diag_code = ow->code;
		rc[i].diag_text = ow->text;
		/* The queue keeps the reply, not who said it: a code is
		 * reported as the SMTP exchange's. */
		rc[i].diag_remote = ow->code >= 200;
		rc[i].last_attempt = now;
		if (kind == Q_DSN_DELAY)
			rc[i].will_retry_until = (time_t)env->arrival + (time_t)b->lifetime;
	}
	tern_dsn_options_init(&o);
	o.reporting_mta = b->hostname;
	o.sender = to_header;
	o.envid = env->envid;
	o.ret = env->ret == Q_RET_FULL ? TERN_SMTP_RET_FULL
		: env->ret == Q_RET_HDRS ? TERN_SMTP_RET_HDRS
					 : TERN_SMTP_RET_UNSET;
	/* RFC 8689 5: the report of a REQUIRETLS message carries only its
	 * headers, and goes with REQUIRETLS itself. */
	if (env->requiretls)
		o.ret = TERN_SMTP_RET_HDRS;
	o.smtputf8 = env->smtputf8;
	o.arrival_date = (time_t)env->arrival;
	o.rcpts = rc;
	o.n_rcpts = owed->n;
	o.original.fd = fd;
	o.original.offset = body_off;
	o.original.len = body_len;
	o.original.body = env->body == Q_BODY_8BITMIME     ? TERN_SMTP_BODY_8BITMIME
			  : env->body == Q_BODY_BINARYMIME ? TERN_SMTP_BODY_BINARYMIME
							   : TERN_SMTP_BODY_7BIT;
	o.message_id = NULL; /* random: a DSN sent again after a crash is another message */

	struct q_rcpt dest = {.addr = (char *)to, .notify = Q_NOTIFY_NEVER};
	struct q_envelope denv = {
		.arrival = (int64_t)now,
		.sender = "",
		.body = o.original.body == TERN_SMTP_BODY_7BIT ? Q_BODY_7BIT : Q_BODY_8BITMIME,
		.smtputf8 = env->smtputf8,
		.requiretls = env->requiretls,
		.client = "bounce",
		.rcpts = &dest,
		.nrcpt = 1,
	};
	err = q_writer_open(q, &denv, &w);
	if (err != 0)
		goto out;
	r = tern_dsn_build(&o, write_to_queue, w, &info);
	if (r == TERN_DSN_SKIP_NULL_SENDER || r == TERN_DSN_SKIP_NOT_WANTED) {
		q_writer_abort(&w);
		err = 0; /* nothing is owed after all */
		goto out;
	}
	if (r == TERN_EINVAL) {
		/* Something in the envelope the report cannot carry (an
		 * address or ENVID no DSN may hold): no retry would build it,
		 * so the debt is dropped, loudly, instead of blocking the
		 * queue's DSNs for ever. */
		q_writer_abort(&w);
		ternd_log(TERN_LOG_ERROR, NULL,
			  "%s: no DSN can be built for it (an invalid address or ENVID); "
			  "dropped",
			  id);
		err = 0;
		goto out;
	}
	if (r != 0) {
		q_writer_abort(&w);
		ternd_log(TERN_LOG_ERROR, NULL, "%s: cannot build a DSN: %s", id, tern_strerror(r));
		err = r == TERN_ENOMEM ? ENOMEM : EIO;
		goto out;
	}
	err = q_writer_commit(&w, new_id);
	if (err == 0)
		ternd_log(TERN_LOG_INFO, NULL, "%s: sender %s notification: %s (to <%s>)", id,
			  kind == Q_DSN_FAILURE ? "non-delivery"
			  : kind == Q_DSN_DELAY ? "delay"
						: "delivery",
			  new_id, to);
out:
	for (unsigned i = 0; orcpt != NULL && i < owed->n; i++)
		free(orcpt[i]);
	free(orcpt);
	free(rc);
	return err;
}

/* Pays every debt of one kind of message id. Called with the lock held. */
static void pay(const struct ternd_bounce *b, q_store *q, const char *id, enum q_dsn_kind kind)
{
	struct owed_list owed = {0};
	struct q_envelope env;
	struct stat st;
	int fd = -1, err;

	memset(&env, 0, sizeof(env));
	err = q_body_open(q, id, &fd, &env);
	if (err != 0) {
		/* ENOENT: the rows were dropped with the missing file. */
		if (err != ENOENT)
			ternd_log(TERN_LOG_ERROR, NULL, "%s: cannot open it for a DSN: %s", id,
				  strerror(err));
		return;
	}
	off_t off = lseek(fd, 0, SEEK_CUR);
	uint64_t len = fstat(fd, &st) == 0 && st.st_size > off ? (uint64_t)(st.st_size - off) : 0;

	err = q_dsn_list(q, id, kind, collect, &owed);
	if (err == 0 && owed.oom)
		err = ENOMEM;
	if (err == 0 && owed.n > 0) {
		const char *to = env.sender, *to_header = env.sender;
		char pm[300], pm_header[300];

		if (env.sender[0] == '\0') {
			/* Only failures are ever owed for <> (the queue's
			 * "double bounce"), and never about postmaster. */
			/* The first local domain's postmaster (an LMTP server
			 * may refuse a bare "postmaster"), else the bare one. */
			if (b->routing->n_domains > 0)
				snprintf(pm, sizeof(pm), "postmaster@%s", b->routing->domains[0]);
			else
				snprintf(pm, sizeof(pm), "postmaster");
			to = pm;
			snprintf(pm_header, sizeof(pm_header), "postmaster@%s",
				 b->routing->n_domains > 0 ? b->routing->domains[0] : b->hostname);
			to_header = pm_header;
			for (unsigned i = 0; i < owed.n; i++) {
				const char *at = strrchr(owed.v[i].rcpt, '@');
				size_t local = at != NULL ? (size_t)(at - owed.v[i].rcpt)
							  : strlen(owed.v[i].rcpt);

				if (local == 10 &&
				    strncasecmp(owed.v[i].rcpt, "postmaster", 10) == 0)
					to = NULL;
			}
		}
		err = to != NULL ? queue_report(b, q, id, &env, fd, off, len, kind, &owed, to,
						to_header)
				 : 0;
	}
	if (err == 0)
		err = q_dsn_done(q, id, kind);
	if (err != 0)
		ternd_log(TERN_LOG_ERROR, NULL, "%s: DSN not sent now: %s", id, strerror(err));
	owed_free(&owed);
	q_envelope_free(&env);
	close(fd);
}

struct pending {
	char id[Q_ID_SIZE];
	unsigned kinds;
};

struct pending_list {
	struct pending v[64];
	unsigned n;
};

static void found(void *arg, const char *id, unsigned kinds)
{
	struct pending_list *l = arg;

	if (l->n < sizeof(l->v) / sizeof(l->v[0])) {
		snprintf(l->v[l->n].id, sizeof(l->v[l->n].id), "%s", id);
		l->v[l->n++].kinds = kinds;
	}
}

unsigned ternd_bounce_run(const struct ternd_bounce *b, q_store *q)
{
	struct pending_list l = {.n = 0};
	static const enum q_dsn_kind kinds[] = {Q_DSN_FAILURE, Q_DSN_DELAY, Q_DSN_SUCCESS};

	if (q_dsn_pending(q, sizeof(l.v) / sizeof(l.v[0]), found, &l) != 0)
		return 0;
	for (unsigned i = 0; i < l.n; i++)
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (l.v[i].kinds & kinds[k])
				pay(b, q, l.v[i].id, kinds[k]);
	return l.n;
}
