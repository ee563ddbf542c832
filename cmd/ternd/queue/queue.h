/* ternd's durable outbound queue: message files plus a SQLite index.
 *
 * THREADING. Blocking API (file I/O, fsync, SQLite). It is meant to run on one
 * dedicated thread of ternd, which owns the q_store; the event loops hand it
 * work (later). A q_store and its writers belong to one thread at a time. At
 * most one process is the queue's owner (an flock on queue/lock; ternd waits
 * for it at start if `ternd queue` holds it); `ternd queue` commands open it
 * as readers/editors of the index alongside the running ternd, and SQLite's
 * locking (busy timeout 10 s) serialises their transactions.
 *
 * LAYOUT (docs/queue.md). Below STATE/queue/:
 *   lock          flock'ed by the owner (the running ternd)
 *   queue.db      the index (SQLite, WAL): messages, recipients, counters
 *   tmp/ID        a message being written (not yet accepted)
 *   incoming/ID   accepted (fsynced, renamed, directory fsynced), maybe not
 *                 yet indexed or not yet moved home; always small
 *   msg/XX/ID     home of an indexed message; XX = q_id_dir(ID), 256
 *                 directories, so none grows huge
 *   pickup/NAME   files dropped by `sendmail` (qfile.h format; the dropper
 *                 writes a dot-file, fsyncs, renames)
 *   corrupt/      files that are not valid queue files, set aside
 *
 * WHY NOT synchronous=FULL EVERYWHERE. A message's acceptance is made durable
 * by its file (fsync, rename into incoming/, fsync incoming/), not by the
 * index: the index is committed with synchronous=NORMAL, which survives a
 * process crash (kill -9) but may lose the last commits on power loss. The one
 * step that needs a durable index is a file leaving incoming/ (recovery only
 * scans incoming/), so moving files home is preceded by one synchronous=FULL
 * commit (the "barrier") for a whole batch. Power loss can therefore only
 * roll recipient states back, which means a repeated delivery (allowed:
 * at least once), never a lost one.
 *
 * INVARIANTS, step by step (what is on disk; what recovery does):
 *  W1 q_writer_open .. write: tmp/ID only. Not accepted. Recovery (owner
 *     open) empties tmp/.
 *  W2 commit: fsync(tmp/ID); rename to incoming/ID; fsync(incoming/). Only
 *     after this does commit return 0, and only then may ternd say 250. A
 *     crash before the directory fsync may lose the file: it was not
 *     acknowledged. Or keep it (kill -9 after the rename): delivered although
 *     the client saw no 250 and may send it again, SMTP's own duplicate
 *     window (RFC 1047).
 *  W3 index insert (NORMAL): rows for the message and its recipients, counts.
 *     Recovery: every file in incoming/ without rows is parsed and indexed
 *     (invalid ones go to corrupt/).
 *  W4 settle (every settle_batch commits, at open, at close): barrier (FULL
 *     commit), then incoming/ID -> msg/XX/ID. A message has rows before it
 *     leaves incoming/, and those rows are durable. The move is not fsynced:
 *     power loss may undo it, and recovery moves the file again. Lookups try
 *     msg/XX then incoming/, so both places are valid homes.
 *  D1 q_due claims recipients (state ACTIVE, NORMAL commit) and hands them
 *     out. Recovery returns every ACTIVE recipient to its queued state, due
 *     now: a crash during a delivery repeats it (at least once).
 *  D2 q_record commits each outcome (NORMAL). Once it returns, a kill -9
 *     cannot make a delivered recipient pending again; power loss can (one
 *     more delivery). The status byte of a recipient that is final and owes
 *     no DSN is overwritten in its file (no fsync) for rebuilds.
 *  R1 a message whose recipients are all final and owe no DSN is removed:
 *     flag removing=1 (commit), unlink the file, delete the rows (commit).
 *     Recovery finishes every flagged removal. Rows whose file is missing
 *     (power loss lost the flag) are dropped when their body is opened. The
 *     file goes first: the reverse order, after a crash, would let recovery
 *     re-index the file and deliver it again.
 *  P1 pickup: the file is parsed, then renamed pickup/NAME -> incoming/ID
 *     (same file system), incoming/ and pickup/ fsynced, then W3. One
 *     rename: a crash leaves it in exactly one of the two, so pickup is
 *     exactly once.
 *  X1 queue.db missing or not a database: it is set aside and rebuilt from
 *     incoming/ and msg/XX/ (the only full scan, and only then): recipients
 *     whose status byte is D or F stay final, the others are due now.
 *  Power loss can also leave a removed message's file behind without rows
 *     (the unlink is not fsynced): disk space, never a delivery; a rebuild
 *     would deliver it again (at least once).
 *
 * Errors are positive errno values (0 = success), like maildir.c, so callers
 * map them to SMTP replies the same way (maildir_error_reply). */
#ifndef TERND_QUEUE_QUEUE_H
#define TERND_QUEUE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "qfile.h"

typedef struct q_store q_store;
typedef struct q_writer q_writer;

/* The retry schedule and limits; q_options_init sets Postfix's defaults. */
struct q_options {
	unsigned minimal_backoff;  /* s, first retry delay (Postfix 300) */
	unsigned maximal_backoff;  /* s, longest retry delay (Postfix 4000) */
	unsigned max_lifetime;     /* s, give up then (Postfix 5 days) */
	unsigned bounce_lifetime;  /* s, the same for <> senders (5 days) */
	unsigned delay_warning;    /* s, delay DSN after (4 hours; 0 = never) */
	unsigned settle_batch;     /* commits between barriers (default 32) */
	unsigned claim_timeout;    /* s, an ACTIVE recipient is handed out
				    * again after this (default 3600) */
};
void q_options_init(struct q_options *o);

/* ---- scheduler (pure functions) ----------------------------------------- */

/* Delay before attempt number attempts + 1, after attempts (>= 1) failed:
 * minimal_backoff doubled per failure, capped at maximal_backoff (Postfix:
 * 300, 600, 1200, 2400, 4000, 4000, ... s). */
unsigned q_backoff(const struct q_options *o, unsigned attempts);
/* True when a message that arrived at arrival has outlived its lifetime at
 * now (bounce_lifetime for the null sender). */
bool q_expired(const struct q_options *o, int64_t arrival, bool null_sender, int64_t now);
/* True when a still-deferred recipient is owed a delay DSN at now. */
bool q_delay_due(const struct q_options *o, int64_t arrival, unsigned notify, bool null_sender,
		 int64_t now);
/* What a notify field asks for: Q_NOTIFY_DEFAULT means FAILURE|DELAY. */
unsigned q_notify_effective(unsigned notify);

/* ---- store ------------------------------------------------------------- */

enum q_open_flags {
	/* Take the owner lock (waiting for it) and run recovery: what ternd
	 * does. Without it: open the index only (`ternd queue`). */
	Q_OPEN_OWNER = 1,
	/* The owner lock if it is free (ternd not running), else open the
	 * index only. */
	Q_OPEN_TRY_OWNER = 2,
};

/* Opens the queue in dir (e.g. STATE/queue); Q_OPEN_OWNER creates it (mode
 * 0700) when missing, the other modes fail with ENOENT. opts may be NULL
 * (defaults); the store keeps a copy. now is the caller's clock (Unix
 * seconds). Returns 0, ENOMEM, an errno of the file system, EBUSY (the
 * index stayed locked), or EIO (another SQLite error). The owner's open runs
 * recovery (queue.h's invariants) and may take a while after a crash. */
int q_store_open(q_store **q_r, const char *dir, const struct q_options *opts, unsigned flags,
		 int64_t now);
/* Settles (W4) and frees; *q set to NULL. Writers must be finished. */
void q_store_close(q_store **q);

/* Messages and message bytes in the queue (kept in the index: O(1)). */
int q_store_stats(q_store *q, uint64_t *count_r, uint64_t *bytes_r);
/* For --max-queue-size: true when adding add_bytes would pass max_bytes
 * (0 = no limit); ternd then answers 452 4.3.1. */
bool q_store_full(q_store *q, uint64_t max_bytes, uint64_t add_bytes);

/* W4 now: index what incoming/ holds, barrier, move home. */
int q_store_settle(q_store *q);

/* ---- adding ------------------------------------------------------------ */

/* Starts a message with envelope env (copied; env->arrival is the arrival
 * time) and writes its header to tmp/. Returns 0, EINVAL (bad envelope),
 * ENOMEM or an errno of the file system. */
int q_writer_open(q_store *q, const struct q_envelope *env, q_writer **w_r);
/* Appends message bytes, bounded memory (64 KiB buffer). 0 or an errno;
 * after an error only abort is left. */
int q_writer_write(q_writer *w, const void *buf, size_t len);
/* Puts prefix[0..len) (complete header fields, CRLF line ends: the
 * DKIM-Signature fields of a message signed as it was written) in front of
 * the message, in the room the envelope's prefix_room kept in the file
 * header: the Z line shrinks by len + 1 octets and the fields follow the
 * empty line, so readers see them as the first octets of the message.
 * Before the sync or commit. Returns 0, EINVAL (no room was kept, or it was
 * used already), E2BIG (len does not fit: nothing changed; the message
 * goes without them) or the errno of the write. */
int q_writer_set_prefix(q_writer *w, const void *prefix, size_t len);
/* W2 then W3: returns 0 once the message is durable in incoming/ (then, and
 * only then, reply 250); id_r gets its queue id. An index error after that
 * still returns 0: recovery or the next settle indexes the file. *w is freed
 * and set to NULL either way; on error nothing was accepted. */
int q_writer_commit(q_writer **w, char id_r[Q_ID_SIZE]);
/* The first half of commit's W2, for group commit: flushes and fsyncs the
 * file. Touches nothing of the store: any thread may run it without the
 * store's lock, several at once (a journaling file system then groups the
 * fsyncs). Returns 0 or an errno (then only commit's error or abort). */
int q_writer_sync(q_writer *w);
/* Commits n writers of one store at once: each file (synced already or
 * now) renamed into incoming/, incoming/ fsynced ONCE for them all (W2),
 * then all indexed in one transaction (W3). errs[i] is writer i's result:
 * 0 means durable and accepted (ids[i] its queue id: say 250), else an
 * errno and nothing of it was accepted. Every writer is freed; ws[i] are
 * left dangling (the caller forgets them). Returns 0, or EINVAL (n 0, or a
 * pickup writer). */
int q_writers_commit(q_writer **ws, unsigned n, char (*ids)[Q_ID_SIZE], int *errs);
/* Drops the message (unlinks tmp/ID). NULL and *w == NULL are fine. */
void q_writer_abort(q_writer **w);

/* ---- delivering -------------------------------------------------------- */

enum q_state {
	Q_ST_PENDING = 0,   /* never tried */
	Q_ST_DEFERRED = 1,  /* tried, temporary failure, next_at set */
	Q_ST_ACTIVE = 2,    /* handed out by q_due, result not yet recorded */
	Q_ST_DELIVERED = 3,
	Q_ST_FAILED = 4,
};

struct q_job {
	char id[Q_ID_SIZE];
	unsigned idx;      /* recipient index in the message */
	char *rcpt;
	char *domain;      /* lower-case, for grouping and connection reuse */
	unsigned attempts; /* before this one */
};
struct q_batch {
	struct q_job *jobs;
	unsigned n;
};
/* Most recipients one q_due hands out. */
#define Q_DUE_MAX 10000
/* Claims (D1) up to limit (at most Q_DUE_MAX) recipients due at now (not held), sorted by
 * domain, then queue id, then index, so that a caller can deliver one
 * domain's recipients over one connection. An index range scan: the cost
 * does not depend on the queue's size. b is the caller's; free with
 * q_batch_free. Also finishes removals requested by `ternd queue delete`. */
int q_due(q_store *q, int64_t now, unsigned limit, struct q_batch *b);
void q_batch_free(struct q_batch *b);

/* Opens message id for reading: *fd_r at its first message byte (the caller
 * closes it), env_r (may be NULL) gets the envelope (q_envelope_free). ENOENT
 * when the message has rows but no file: the rows are dropped (R1). */
int q_body_open(q_store *q, const char *id, int *fd_r, struct q_envelope *env_r);

enum q_outcome { Q_DELIVERED, Q_TEMPFAIL, Q_PERMFAIL };
struct q_result {
	unsigned idx;
	enum q_outcome outcome;
	int code;            /* reply code, 0 when none (connection failed) */
	const char *status;  /* enhanced status "4.4.1", or NULL */
	const char *text;    /* reply text or a local reason, or NULL */
	const char *host;    /* remote host "mx.example[192.0.2.1]", or NULL */
	/* Delivered to a next hop that offered DSN and got NOTIFY passed on:
	 * reporting success is its job now (RFC 3461 4.2), so no success DSN
	 * is owed here. */
	bool passed_on;
};
/* What the DSN builder (later) has to do after q_record. */
struct q_record_summary {
	unsigned failure_dsn;  /* recipients now owed a failure DSN */
	unsigned delay_dsn;    /* recipients now owed a delay DSN (once each) */
	unsigned success_dsn;  /* recipients now owed a success DSN */
	bool removed;          /* the message left the queue */
};
/* Records outcomes for n recipients of message id in one transaction (D2):
 * delivered; temporary (deferred with backoff, or failed when expired); or
 * permanent. Removes the message when it is complete (R1). Outcomes for
 * recipients that are gone (deleted meanwhile) are ignored. summary_r may
 * be NULL. */
int q_record(q_store *q, const char *id, const struct q_result *res, unsigned n, int64_t now,
	     struct q_record_summary *summary_r);

enum q_dsn_kind { Q_DSN_FAILURE = 1, Q_DSN_DELAY = 2, Q_DSN_SUCCESS = 4 };
/* Calls fn for each recipient of id owed a DSN of kind; fn gets the
 * recipient index and its last reply (valid during the call). */
typedef void q_dsn_fn(void *arg, unsigned idx, const char *rcpt, int code, const char *status,
		      const char *text);
int q_dsn_list(q_store *q, const char *id, enum q_dsn_kind kind, q_dsn_fn *fn, void *arg);
/* Calls fn for up to limit messages that owe a DSN, in queue-id order, with
 * the kinds owed (Q_DSN_* ORed); ids valid during the call. This is how the
 * DSN builder finds its work after a restart too: a crash between q_record
 * and q_dsn_done loses the summary, never the debt (a DSN queued just before
 * such a crash is sent again: at least once). An index scan. */
typedef void q_dsn_msg_fn(void *arg, const char *id, unsigned kinds);
int q_dsn_pending(q_store *q, unsigned limit, q_dsn_msg_fn *fn, void *arg);
/* The DSN of kind for id has been queued: clear what was owed, and remove the
 * message when that completes it. */
int q_dsn_done(q_store *q, const char *id, enum q_dsn_kind kind);

/* ---- administration (ternd queue) ------------------------------------- */

/* ids NULL (or n 0) means every message. *count_r (may be NULL) gets how many
 * messages matched. hold: held recipients are never due. release: due now.
 * flush: every queued recipient due now (the running ternd sees it at its
 * next q_due). delete: removed without DSN (R1; when another process owns
 * the queue only flagged, and the owner finishes it at its next q_due). */
int q_hold(q_store *q, const char *const *ids, unsigned n, unsigned *count_r);
int q_release(q_store *q, const char *const *ids, unsigned n, int64_t now, unsigned *count_r);
int q_flush(q_store *q, const char *const *ids, unsigned n, int64_t now, unsigned *count_r);
int q_delete(q_store *q, const char *const *ids, unsigned n, unsigned *count_r);

/* Writes a mailq-like listing to out, streaming from the index (the cost per
 * message does not depend on the queue's size): each message with the
 * recipients not yet final or still owed a DSN, after their last reply.
 * Times in local time. */
int q_list(q_store *q, FILE *out);

/* ---- pickup and rebuild ------------------------------------------------- */

/* For `sendmail` when ternd cannot be reached: a writer that needs no
 * store (nor the index's permissions) and drops the message into
 * dir/pickup/ (written as .ID, fsynced, renamed to ID, directory fsynced).
 * Write and commit it as any writer; commit's id is the pickup file's name,
 * not the queue id it will get. Returns as q_writer_open. */
int q_pickup_writer_open(const char *dir, const struct q_envelope *env, q_writer **w_r);
/* P1 for every file in pickup/ not starting with '.'; *n_r (may be NULL)
 * gets how many were queued. */
int q_pickup_ingest(q_store *q, int64_t now, unsigned *n_r);
/* X1 on demand: drops the index and rebuilds it from the files. */
int q_store_rebuild(q_store *q, int64_t now);

/* Test hook: called at each named step of the invariants above so that the
 * crash tests can stop the process there. NULL by default. */
typedef void q_hook_fn(void *arg, const char *point);
void q_store_set_hook(q_store *q, q_hook_fn *fn, void *arg);

#endif
