/* ternd's outbound side: the durable queue (queue/queue.h) and the thread
 * that delivers from it (docs/queue.md, docs/routing.md).
 *
 * Threads. The SMTP loops write accepted messages into the queue through
 * ternd_outbound_writer_*(); one runner thread, with an event loop of its
 * own, claims due recipients, delivers them (libtern's tern_delivery for
 * relayed mail and LMTP, the Maildir for local recipients that came
 * through the queue), and records every outcome. Every call into the
 * queue store happens under one mutex, so the store is used by one thread
 * at a time as it requires. A commit wakes the runner at once; otherwise it
 * looks every second (pickup files, retries that came due). */
#ifndef TERND_OUTBOUND_H
#define TERND_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct event_base;
#include "maildir.h"
#include "queue/queue.h"
#include "routing.h"

struct ternd_outbound;

/* Opens STATE/queue (creating it, running recovery) and starts the runner.
 * md: the Maildir for local recipients of queued messages (NULL with
 * --lmtp-to or --discard). Returns TERND_EX_OK or an exit status after
 * printing why. */
int ternd_outbound_open(struct ternd_outbound **ob_r, const struct ternd_config *cfg,
			const struct ternd_routing *routing, maildir *md);

/* Stops the runner (deliveries in flight are abandoned: their recipients
 * are claimed in the queue and come due again at the next start, which is
 * at least once) and closes the queue. */
void ternd_outbound_close(struct ternd_outbound **ob);

/* For --max-queue-size: true when add_bytes more would pass it. */
bool ternd_outbound_full(struct ternd_outbound *ob, uint64_t add_bytes);

/* The queue writer, from any thread: as q_writer_*, under the store's lock.
 * commit returns 0 only once the message is durable (then, and only then,
 * 250) and wakes the runner. */
int ternd_outbound_writer_open(struct ternd_outbound *ob, const struct q_envelope *env,
			       q_writer **w_r);
int ternd_outbound_write(struct ternd_outbound *ob, q_writer *w, const void *buf, size_t len);
int ternd_outbound_commit(struct ternd_outbound *ob, q_writer **w, char id_r[Q_ID_SIZE]);
void ternd_outbound_abort(struct ternd_outbound *ob, q_writer **w);

/* Group commit off the session's loop: the writer (taken over, *w set to
 * NULL) is made durable by the committer threads with others finished
 * meanwhile (their fsyncs in parallel, one directory fsync for the batch,
 * one index transaction), and done(err, id, arg) then runs on base's
 * thread (base: the loop the caller runs on; its first use registers a
 * notification event there, from that thread). err 0: durable, say 250.
 * *job_r is valid until done runs or ternd_outbound_commit_cancel().
 * Returns 0, or an errno (nothing started: the writer is aborted). */
struct ternd_commit;
typedef void ternd_commit_done_fn(int err, const char *id, void *arg);
int ternd_outbound_commit_async(struct ternd_outbound *ob, q_writer **w,
				struct event_base *base, ternd_commit_done_fn *done, void *arg,
				struct ternd_commit **job_r);
/* From base's thread: done will never run. The message may still become
 * durable and be delivered (the client, not told 250, may send it again:
 * SMTP's usual duplicate, never a loss). Sets *job to NULL. */
void ternd_outbound_commit_cancel(struct ternd_outbound *ob, struct ternd_commit **job);

#endif
