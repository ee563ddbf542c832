/* Password checks off the event loop.
 *
 * A password hash costs tens of milliseconds of CPU on purpose; run on an
 * event loop it would stall every other session of that worker. The pool
 * runs the checks (users_verify_hash) on a few threads of its own and hands
 * each result back to the event loop that asked, as a callback on that
 * loop's thread.
 *
 * libevent's threading support is off in Tern (evthread_use_pthreads is
 * never called), so no pool thread ever calls event_* on a base. Each base
 * gets a notification pipe whose read event is registered on the base's
 * own thread, at its first submit; a pool thread only puts the finished job
 * on that base's list under the pool's mutex and writes a byte to the pipe.
 *
 * Contract with the caller:
 *  1. hashpool_submit, hashpool_cancel and every done callback happen on the
 *     thread running the base the job was submitted with.
 *  2. A job handle is valid from submit until its done callback starts or
 *     until hashpool_cancel; after either, forget it (the pool frees it).
 *  3. After hashpool_cancel the done callback never runs, whatever state
 *     the job was in (waiting, being hashed, or finished but not delivered).
 *  4. Teardown: stop the loops, then hashpool_shutdown (the bases must still
 *     exist: it frees the events it put on them), then free the bases and
 *     sessions (whose on_close may still call hashpool_cancel), then
 *     hashpool_destroy. Jobs never delivered are freed without a callback.
 *
 * Every copy of a password the pool makes is wiped (explicit_bzero) as soon
 * as the hash has been computed, and on every path that frees a job. */
#ifndef TERND_HASHPOOL_H
#define TERND_HASHPOOL_H

#include <stddef.h>

#include "users.h"

struct event_base;
struct hashpool;
struct hashpool_job;

/* Runs on the thread of the base the job was submitted with. */
typedef void hashpool_done_fn(enum users_verdict verdict, void *arg);
/* What a pool thread runs; users_verify_hash unless a test replaces it. */
typedef enum users_verdict hashpool_verify_fn(const char *hash, const char *password,
					      size_t len);

#define HASHPOOL_MAX_THREADS 64
/* Jobs waiting for a thread, per thread, when max_queue is 0. */
#define HASHPOOL_DEFAULT_QUEUE_PER_THREAD 64

struct hashpool_options {
	unsigned threads;           /* 1..HASHPOOL_MAX_THREADS (ternd: --hash-threads) */
	unsigned max_queue;         /* jobs waiting (not yet hashing); 0: 64 per thread */
	hashpool_verify_fn *verify; /* NULL: users_verify_hash */
};

/* Starts the threads (with every signal blocked, so signals keep going to
 * ternd's signal thread). Returns 0, EINVAL (NULL argument, threads out of
 * range), ENOMEM, or the error of pthread_create (no thread is left
 * running then). */
int hashpool_new(struct hashpool **pool_r, const struct hashpool_options *opts);

/* Queues a check of password (len octets) against hash (NULL: an unknown
 * user; the check costs the same and answers USERS_PASSWORD_MISMATCH).
 * The pool copies hash and password; the caller may wipe its own at once.
 * done(verdict, arg) later runs on base's thread, which must be the calling
 * thread. *job_r gets the handle for hashpool_cancel (job_r may be NULL
 * when the caller will never cancel). Returns 0, or without queueing
 * anything: EAGAIN (the queue is full: answer a temporary failure, 454
 * 4.7.0), ESHUTDOWN (after hashpool_shutdown), EINVAL (NULL pool, base,
 * password or done), ENOMEM, or the errno of pipe2 at the base's first
 * submit. */
int hashpool_submit(struct hashpool *pool, struct event_base *base, const char *hash,
		    const char *password, size_t len, hashpool_done_fn *done, void *arg,
		    struct hashpool_job **job_r);

/* Withdraws a job (the session closed): its done callback will not run.
 * Memory is freed now, or by the pool thread when it finishes hashing.
 * Call on the thread of the job's base (or, after hashpool_shutdown, from
 * the thread tearing down). NULL is ignored. */
void hashpool_cancel(struct hashpool_job *job);

/* Stops taking jobs, lets running checks finish, joins the threads and
 * removes the pool's events from the bases. The loops must not be running.
 * Jobs still queued or undelivered stay (hashpool_cancel still works on
 * them) until hashpool_destroy. Safe to call twice. */
void hashpool_shutdown(struct hashpool *pool);

/* The same when the bases are already gone: tern_smtp_server_run() frees
 * its loops' bases before it returns, and event_base_free takes every
 * event off them, so this only joins the threads and closes the pipes,
 * never calling into libevent. */
void hashpool_shutdown_orphaned(struct hashpool *pool);

/* hashpool_shutdown if not done yet, then frees every job left (no
 * callbacks) and the pool; sets *pool to NULL. */
void hashpool_destroy(struct hashpool **pool);

#endif
