/* The password hashing pool; see hashpool.h for the contract.
 *
 * One mutex guards everything shared: the queue, each job's state, the
 * list of bases and their lists of finished jobs. It is never held while
 * hashing or while a done callback runs. */
#include "hashpool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

enum job_state {
	JOB_QUEUED,  /* in pool->queue */
	JOB_RUNNING, /* a pool thread is hashing it */
	JOB_DONE,    /* on its notifier's done list, or being delivered */
};

struct notifier;

struct hashpool_job {
	struct hashpool_job *prev, *next; /* queue or done list */
	struct hashpool *pool;
	struct notifier *notifier;
	enum job_state state;
	bool cancelled;
	enum users_verdict verdict;
	char *hash;     /* NULL: the unknown-user check */
	char *password; /* wiped and freed once hashed */
	size_t len;
	hashpool_done_fn *done;
	void *arg;
};

/* One per event_base that ever submitted. */
struct notifier {
	struct notifier *next;
	struct hashpool *pool;
	struct event_base *base;
	/* Embedded (event_assign), not event_new: after the library has
	 * freed the base (which takes its events off it), the memory can go
	 * without another call into libevent (hashpool_shutdown_orphaned). */
	struct event ev;
	bool ev_added;      /* false after hashpool_shutdown */
	int fds[2];
	struct hashpool_job *done_head, *done_tail;
};

struct hashpool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t *threads;
	unsigned nthreads;
	unsigned max_queue;
	unsigned queued;
	struct hashpool_job *head, *tail;
	struct notifier *notifiers;
	bool stopping;      /* threads: exit */
	bool shut_down;     /* hashpool_shutdown has finished */
	hashpool_verify_fn *verify;
};

/* ---- lists (under pool->lock) ------------------------------------------ */

static void list_append(struct hashpool_job **head, struct hashpool_job **tail,
			struct hashpool_job *job)
{
	job->next = NULL;
	job->prev = *tail;
	if (*tail != NULL)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
}

static void list_remove(struct hashpool_job **head, struct hashpool_job **tail,
			struct hashpool_job *job)
{
	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		*head = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	else
		*tail = job->prev;
	job->prev = job->next = NULL;
}

static void wipe_password(struct hashpool_job *job)
{
	if (job->password != NULL) {
		explicit_bzero(job->password, job->len);
		free(job->password);
		job->password = NULL;
	}
}

static void job_free(struct hashpool_job *job)
{
	wipe_password(job);
	if (job->hash != NULL) {
		explicit_bzero(job->hash, strlen(job->hash));
		free(job->hash);
	}
	free(job);
}

/* ---- the loop side ---------------------------------------------------------- */

/* Runs on the notifier's base: takes every finished job and delivers the
 * ones nobody cancelled. A done callback may cancel a job further down the
 * same batch, so the flag is read again just before each call. */
static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct notifier *n = arg;
	struct hashpool *pool = n->pool;
	char buf[64];
	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&pool->lock);
	struct hashpool_job *batch = n->done_head;
	n->done_head = n->done_tail = NULL;
	pthread_mutex_unlock(&pool->lock);

	while (batch != NULL) {
		struct hashpool_job *job = batch;
		batch = job->next;
		pthread_mutex_lock(&pool->lock);
		bool cancelled = job->cancelled;
		pthread_mutex_unlock(&pool->lock);
		if (!cancelled)
			job->done(job->verdict, job->arg);
		job_free(job);
	}
}

/* The base's notifier, made on first use. Called on the base's own thread
 * with the lock held: event_new and event_add touch only this base, from
 * the thread that runs it, and call nothing back. */
static int notifier_for(struct hashpool *pool, struct event_base *base, struct notifier **n_r)
{
	for (struct notifier *n = pool->notifiers; n != NULL; n = n->next) {
		if (n->base == base) {
			*n_r = n;
			return 0;
		}
	}
	struct notifier *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return ENOMEM;
	n->pool = pool;
	n->base = base;
	if (pipe2(n->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
		int e = errno;
		free(n);
		return e;
	}
	event_assign(&n->ev, base, n->fds[0], EV_READ | EV_PERSIST, on_notify, n);
	if (event_add(&n->ev, NULL) != 0) {
		close(n->fds[0]);
		close(n->fds[1]);
		free(n);
		return ENOMEM;
	}
	n->ev_added = true;
	n->next = pool->notifiers;
	pool->notifiers = n;
	*n_r = n;
	return 0;
}

int hashpool_submit(struct hashpool *pool, struct event_base *base, const char *hash,
		    const char *password, size_t len, hashpool_done_fn *done, void *arg,
		    struct hashpool_job **job_r)
{
	if (job_r != NULL)
		*job_r = NULL;
	if (pool == NULL || base == NULL || password == NULL || done == NULL)
		return EINVAL;
	struct hashpool_job *job = calloc(1, sizeof(*job));
	if (job == NULL)
		return ENOMEM;
	/* Past the limit the verdict is MISMATCH whatever the octets are;
	 * one octet over is enough to say so, no need to copy the rest. */
	size_t copy_len = len > USERS_PASSWORD_MAX ? USERS_PASSWORD_MAX + 1 : len;
	job->password = malloc(copy_len + 1);
	if (job->password == NULL || (hash != NULL && (job->hash = strdup(hash)) == NULL)) {
		job_free(job);
		return ENOMEM;
	}
	memcpy(job->password, password, copy_len);
	job->password[copy_len] = '\0';
	job->len = copy_len;
	job->pool = pool;
	job->done = done;
	job->arg = arg;

	pthread_mutex_lock(&pool->lock);
	int rc = 0;
	if (pool->stopping)
		rc = ESHUTDOWN;
	else if (pool->queued >= pool->max_queue)
		rc = EAGAIN;
	else
		rc = notifier_for(pool, base, &job->notifier);
	if (rc == 0) {
		job->state = JOB_QUEUED;
		list_append(&pool->head, &pool->tail, job);
		pool->queued++;
		pthread_cond_signal(&pool->wake);
	}
	pthread_mutex_unlock(&pool->lock);
	if (rc != 0) {
		job_free(job);
		return rc;
	}
	if (job_r != NULL)
		*job_r = job;
	return 0;
}

void hashpool_cancel(struct hashpool_job *job)
{
	if (job == NULL)
		return;
	struct hashpool *pool = job->pool;
	bool free_now = false;
	pthread_mutex_lock(&pool->lock);
	job->cancelled = true;
	if (job->state == JOB_QUEUED) {
		list_remove(&pool->head, &pool->tail, job);
		pool->queued--;
		free_now = true;
	}
	/* RUNNING: the pool thread frees it when the hash is done. DONE: it
	 * sits in a done list or a batch being delivered, whose owner frees
	 * it without calling back. */
	pthread_mutex_unlock(&pool->lock);
	if (free_now)
		job_free(job);
}

/* ---- the pool threads ----------------------------------------------------------- */

static void *worker(void *arg)
{
	struct hashpool *pool = arg;
	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (!pool->stopping && pool->head == NULL)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (pool->stopping)
			break;
		struct hashpool_job *job = pool->head;
		list_remove(&pool->head, &pool->tail, job);
		pool->queued--;
		job->state = JOB_RUNNING;
		pthread_mutex_unlock(&pool->lock);

		enum users_verdict v = pool->verify(job->hash, job->password, job->len);
		wipe_password(job);

		pthread_mutex_lock(&pool->lock);
		if (job->cancelled) {
			pthread_mutex_unlock(&pool->lock);
			job_free(job);
			pthread_mutex_lock(&pool->lock);
			continue;
		}
		job->verdict = v;
		job->state = JOB_DONE;
		struct notifier *n = job->notifier;
		bool was_empty = n->done_head == NULL;
		list_append(&n->done_head, &n->done_tail, job);
		/* One byte per empty-to-nonempty change is enough: on_notify
		 * drains the pipe before it takes the list. A full pipe
		 * (EAGAIN) already holds a wake-up. */
		if (was_empty) {
			ssize_t w = write(n->fds[1], "", 1);
			(void)w;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

int hashpool_new(struct hashpool **pool_r, const struct hashpool_options *opts)
{
	if (pool_r == NULL)
		return EINVAL;
	*pool_r = NULL;
	if (opts == NULL || opts->threads < 1 || opts->threads > HASHPOOL_MAX_THREADS)
		return EINVAL;
	struct hashpool *pool = calloc(1, sizeof(*pool));
	if (pool == NULL)
		return ENOMEM;
	pool->threads = calloc(opts->threads, sizeof(*pool->threads));
	if (pool->threads == NULL) {
		free(pool);
		return ENOMEM;
	}
	pool->max_queue = opts->max_queue != 0 ? opts->max_queue
					       : opts->threads * HASHPOOL_DEFAULT_QUEUE_PER_THREAD;
	pool->verify = opts->verify != NULL ? opts->verify : users_verify_hash;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);

	/* Threads inherit the creator's mask: block everything around the
	 * creation so that SIGTERM/SIGHUP reach ternd's signal thread, never
	 * a hashing thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = 0;
	for (unsigned i = 0; i < opts->threads; i++) {
		rc = pthread_create(&pool->threads[i], NULL, worker, pool);
		if (rc != 0)
			break;
		pool->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		hashpool_destroy(&pool);
		return rc;
	}
	*pool_r = pool;
	return 0;
}

static void shutdown_pool(struct hashpool *pool, bool bases_gone)
{
	if (pool == NULL || pool->shut_down)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pool->nthreads = 0;
	/* The loops are stopped (contract 4), so touching their bases from
	 * this thread races with nothing. */
	for (struct notifier *n = pool->notifiers; n != NULL; n = n->next) {
		if (n->ev_added && !bases_gone)
			event_del(&n->ev);
		n->ev_added = false;
		close(n->fds[0]);
		close(n->fds[1]);
		n->fds[0] = n->fds[1] = -1;
	}
	pool->shut_down = true;
}

void hashpool_shutdown(struct hashpool *pool)
{
	shutdown_pool(pool, false);
}

void hashpool_shutdown_orphaned(struct hashpool *pool)
{
	shutdown_pool(pool, true);
}

static void free_list(struct hashpool_job *job)
{
	while (job != NULL) {
		struct hashpool_job *next = job->next;
		job_free(job);
		job = next;
	}
}

void hashpool_destroy(struct hashpool **pool_p)
{
	if (pool_p == NULL || *pool_p == NULL)
		return;
	struct hashpool *pool = *pool_p;
	*pool_p = NULL;
	hashpool_shutdown(pool);
	free_list(pool->head);
	while (pool->notifiers != NULL) {
		struct notifier *n = pool->notifiers;
		pool->notifiers = n->next;
		free_list(n->done_head);
		free(n);
	}
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool->threads);
	free(pool);
}
