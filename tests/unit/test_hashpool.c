/* Tests of ternd's password hashing pool (cmd/ternd/hashpool.c) with real
 * event_bases: results come back on the submitting loop's thread, several
 * loops at once, cancellation in every job state, a full queue, shutdown
 * with jobs left. hashpool.c and users.c are compiled into this test
 * directly: they are part of ternd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../cmd/ternd/users.c"
#include "../../cmd/ternd/hashpool.c"

/* ---- a verify function the test controls ----------------------------------- */

/* Pool threads block in gated_verify until the test opens the gate, so a
 * job can be held in the RUNNING state, and the queue filled behind it. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
	unsigned entered;  /* calls that started */
	unsigned finished; /* calls that returned */
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0};

static void gate_reset(void)
{
	pthread_mutex_lock(&gate.lock);
	gate.open = false;
	gate.entered = gate.finished = 0;
	pthread_mutex_unlock(&gate.lock);
}

static void gate_open(void)
{
	pthread_mutex_lock(&gate.lock);
	gate.open = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
}

static void gate_wait(unsigned *counter, unsigned n)
{
	pthread_mutex_lock(&gate.lock);
	while (*counter < n)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
}

/* "pw" matches; the hash argument is ignored. */
static enum users_verdict gated_verify(const char *hash, const char *password, size_t len)
{
	(void)hash;
	pthread_mutex_lock(&gate.lock);
	gate.entered++;
	pthread_cond_broadcast(&gate.cond);
	while (!gate.open)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
	enum users_verdict v = len == 2 && memcmp(password, "pw", 2) == 0 ? USERS_PASSWORD_OK
									 : USERS_PASSWORD_MISMATCH;
	pthread_mutex_lock(&gate.lock);
	gate.finished++;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
	return v;
}

/* ---- results ------------------------------------------------------------------ */

struct result {
	struct event_base *base;
	pthread_t loop_thread;
	unsigned *pending; /* the loop exits when it reaches 0 */
	int calls;
	enum users_verdict verdict;
	bool on_loop_thread;
};

static void on_done(enum users_verdict verdict, void *arg)
{
	struct result *r = arg;
	r->calls++;
	r->verdict = verdict;
	r->on_loop_thread = pthread_equal(pthread_self(), r->loop_thread);
	if (--*r->pending == 0)
		event_base_loopexit(r->base, NULL);
}

/* Runs base until every expected result arrived, or 10 s (a hung test
 * fails instead of hanging). */
static void run_until_done(struct event_base *base, unsigned *pending)
{
	struct timeval limit = {10, 0};
	if (*pending == 0)
		return;
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(*pending, 0);
}

/* Runs base briefly: whatever is deliverable gets delivered. */
static void run_briefly(struct event_base *base)
{
	struct timeval t = {0, 100000};
	event_base_loopexit(base, &t);
	event_base_dispatch(base);
}

static void make_hash(const char *prefix, unsigned long cost, const char *pw, char *out)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	assert_non_null(crypt_gensalt_rn(prefix, cost, NULL, 0, setting, sizeof(setting)));
	const char *h = crypt_rn(pw, setting, &cd, sizeof(cd));
	assert_non_null(h);
	strcpy(out, h);
}

/* ---- tests ----------------------------------------------------------------------- */

/* Real hashes, several jobs on one loop, more jobs than threads. */
static void test_real_hashes(void **state)
{
	(void)state;
	char yes[CRYPT_OUTPUT_SIZE], sha[CRYPT_OUTPUT_SIZE], arg2[256];
	make_hash("$y$", 0, "hunter2", yes);
	make_hash("$6$", 1000, "hunter2", sha);
	assert_int_equal(argon2id_hash_encoded(1, 64, 1, "hunter2", 7, "saltsaltsalt", 12, 32, arg2,
					       sizeof(arg2)),
			 ARGON2_OK);
	const struct {
		const char *hash;
		const char *pw;
		enum users_verdict want;
	} jobs[] = {
		{yes, "hunter2", USERS_PASSWORD_OK},   {yes, "hunter3", USERS_PASSWORD_MISMATCH},
		{sha, "hunter2", USERS_PASSWORD_OK},   {sha, "", USERS_PASSWORD_MISMATCH},
		{arg2, "hunter2", USERS_PASSWORD_OK},  {arg2, "Hunter2", USERS_PASSWORD_MISMATCH},
		{NULL, "hunter2", USERS_PASSWORD_MISMATCH}, /* unknown user */
		{sha, "hunter2", USERS_PASSWORD_OK},
	};
	enum { N = sizeof(jobs) / sizeof(jobs[0]) };
	struct hashpool *pool;
	struct hashpool_options opts = {.threads = 3};
	assert_int_equal(hashpool_new(&pool, &opts), 0);
	struct event_base *base = event_base_new();
	assert_non_null(base);
	unsigned pending = N;
	struct result r[N];
	memset(r, 0, sizeof(r));
	for (size_t i = 0; i < N; i++) {
		r[i].base = base;
		r[i].loop_thread = pthread_self();
		r[i].pending = &pending;
		char pw[32];
		/* The pool copies: the caller's buffer may be wiped at once. */
		snprintf(pw, sizeof(pw), "%s", jobs[i].pw);
		struct hashpool_job *job;
		assert_int_equal(hashpool_submit(pool, base, jobs[i].hash, pw, strlen(pw), on_done,
						 &r[i], &job),
				 0);
		assert_non_null(job);
		explicit_bzero(pw, sizeof(pw));
	}
	run_until_done(base, &pending);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_true(r[i].on_loop_thread);
		if (r[i].verdict != jobs[i].want)
			fail_msg("job %zu: verdict %d, want %d", i, r[i].verdict, jobs[i].want);
	}
	hashpool_shutdown(pool);
	event_base_free(base);
	hashpool_destroy(&pool);
	assert_null(pool);
}

/* Two loops on two threads: each gets its own results on its own thread. */
struct loop_arg {
	struct hashpool *pool;
	struct result r[4];
	unsigned pending;
	struct event_base *base;
};

static void *loop_thread(void *p)
{
	struct loop_arg *la = p;
	la->base = event_base_new();
	la->pending = 4;
	for (int i = 0; i < 4; i++) {
		la->r[i].base = la->base;
		la->r[i].loop_thread = pthread_self();
		la->r[i].pending = &la->pending;
		const char *pw = i % 2 == 0 ? "pw" : "nope";
		if (hashpool_submit(la->pool, la->base, "h", pw, strlen(pw), on_done, &la->r[i],
				    NULL) != 0)
			return NULL;
	}
	struct timeval limit = {10, 0};
	event_base_loopexit(la->base, &limit);
	event_base_dispatch(la->base);
	return NULL;
}

static void test_two_loops(void **state)
{
	(void)state;
	gate_reset();
	gate_open();
	struct hashpool *pool;
	struct hashpool_options opts = {.threads = 2, .verify = gated_verify};
	assert_int_equal(hashpool_new(&pool, &opts), 0);
	struct loop_arg a = {.pool = pool}, b = {.pool = pool};
	pthread_t ta, tb;
	assert_int_equal(pthread_create(&ta, NULL, loop_thread, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, loop_thread, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	struct loop_arg *both[] = {&a, &b};
	for (int k = 0; k < 2; k++) {
		assert_int_equal(both[k]->pending, 0);
		for (int i = 0; i < 4; i++) {
			assert_int_equal(both[k]->r[i].calls, 1);
			assert_true(both[k]->r[i].on_loop_thread);
			assert_int_equal(both[k]->r[i].verdict,
					 i % 2 == 0 ? USERS_PASSWORD_OK : USERS_PASSWORD_MISMATCH);
		}
	}
	hashpool_shutdown(pool);
	event_base_free(a.base);
	event_base_free(b.base);
	hashpool_destroy(&pool);
}

/* Cancelled while waiting, while hashing, and after hashing but before
 * delivery: no callback in any case; memory is checked by valgrind. */
static void test_cancel(void **state)
{
	(void)state;
	gate_reset();
	struct hashpool *pool;
	struct hashpool_options opts = {.threads = 1, .verify = gated_verify};
	assert_int_equal(hashpool_new(&pool, &opts), 0);
	struct event_base *base = event_base_new();
	unsigned pending = 100; /* never reaches 0 here: no loopexit from on_done */
	struct result running = {.base = base, .loop_thread = pthread_self(), .pending = &pending};
	struct result queued = running, kept = running, finished = running;
	struct hashpool_job *j_running, *j_queued, *j_kept, *j_finished;

	assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, on_done, &running, &j_running), 0);
	gate_wait(&gate.entered, 1); /* the one thread is now inside verify */
	assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, on_done, &queued, &j_queued), 0);
	assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, on_done, &kept, &j_kept), 0);
	assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, on_done, &finished, &j_finished),
			 0);
	hashpool_cancel(j_queued);  /* QUEUED: freed at once */
	hashpool_cancel(j_running); /* RUNNING: freed by the thread */
	hashpool_cancel(NULL);
	gate_open();
	/* running, kept and finished get hashed (queued never is). */
	gate_wait(&gate.finished, 3);
	/* finished is hashed and on the done list: cancel it before the loop
	 * runs. The notifier may not have been read yet either way. */
	hashpool_cancel(j_finished);
	run_briefly(base);
	assert_int_equal(running.calls, 0);
	assert_int_equal(queued.calls, 0);
	assert_int_equal(finished.calls, 0);
	assert_int_equal(kept.calls, 1);
	assert_int_equal(kept.verdict, USERS_PASSWORD_OK);
	assert_int_equal(gate.entered, 3);
	hashpool_shutdown(pool);
	event_base_free(base);
	hashpool_destroy(&pool);
}

/* A done callback cancels a job delivered later in the same batch. */
static struct hashpool_job *victim;

static void on_done_cancel_victim(enum users_verdict verdict, void *arg)
{
	on_done(verdict, arg);
	hashpool_cancel(victim);
	victim = NULL;
}

static void test_cancel_from_callback(void **state)
{
	(void)state;
	gate_reset();
	struct hashpool *pool;
	struct hashpool_options opts = {.threads = 1, .verify = gated_verify};
	assert_int_equal(hashpool_new(&pool, &opts), 0);
	struct event_base *base = event_base_new();
	unsigned pending = 100;
	struct result first = {.base = base, .loop_thread = pthread_self(), .pending = &pending};
	struct result second = first;
	assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, on_done_cancel_victim, &first,
					 NULL),
			 0);
	assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, on_done, &second, &victim), 0);
	gate_open();
	gate_wait(&gate.finished, 2); /* both on the done list: one batch */
	run_briefly(base);
	assert_int_equal(first.calls, 1);
	assert_int_equal(second.calls, 0);
	assert_null(victim);
	hashpool_shutdown(pool);
	event_base_free(base);
	hashpool_destroy(&pool);
}

/* Over max_queue waiting jobs, submit fails with EAGAIN and takes nothing. */
static void test_queue_full(void **state)
{
	(void)state;
	gate_reset();
	struct hashpool *pool;
	struct hashpool_options opts = {.threads = 1, .max_queue = 2, .verify = gated_verify};
	assert_int_equal(hashpool_new(&pool, &opts), 0);
	struct event_base *base = event_base_new();
	unsigned pending = 3;
	struct result r[4];
	for (int i = 0; i < 4; i++)
		r[i] = (struct result){.base = base, .loop_thread = pthread_self(), .pending = &pending};
	assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, on_done, &r[0], NULL), 0);
	gate_wait(&gate.entered, 1); /* running: the queue is empty again */
	assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, on_done, &r[1], NULL), 0);
	assert_int_equal(hashpool_submit(pool, base, "h", "xx", 2, on_done, &r[2], NULL), 0);
	struct hashpool_job *job = (struct hashpool_job *)1;
	assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, on_done, &r[3], &job), EAGAIN);
	assert_null(job);
	gate_open();
	run_until_done(base, &pending);
	assert_int_equal(r[0].verdict, USERS_PASSWORD_OK);
	assert_int_equal(r[1].verdict, USERS_PASSWORD_OK);
	assert_int_equal(r[2].verdict, USERS_PASSWORD_MISMATCH);
	assert_int_equal(r[3].calls, 0);
	/* Room again. */
	pending = 1;
	assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, on_done, &r[3], NULL), 0);
	run_until_done(base, &pending);
	assert_int_equal(r[3].calls, 1);
	hashpool_shutdown(pool);
	event_base_free(base);
	hashpool_destroy(&pool);
}

/* Shutdown with jobs still queued: no callbacks, submit refused, cancel
 * still allowed, destroy frees the rest. */
static void test_shutdown_with_jobs(void **state)
{
	(void)state;
	gate_reset();
	struct hashpool *pool;
	struct hashpool_options opts = {.threads = 1, .verify = gated_verify};
	assert_int_equal(hashpool_new(&pool, &opts), 0);
	struct event_base *base = event_base_new();
	unsigned pending = 100;
	struct result r[3];
	struct hashpool_job *jobs[3];
	for (int i = 0; i < 3; i++) {
		r[i] = (struct result){.base = base, .loop_thread = pthread_self(), .pending = &pending};
		assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, on_done, &r[i], &jobs[i]), 0);
	}
	gate_wait(&gate.entered, 1);
	gate_open(); /* the running one finishes; the others stay queued or not */
	hashpool_shutdown(pool);
	hashpool_shutdown(pool); /* twice is fine */
	assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, on_done, &r[0], NULL), ESHUTDOWN);
	/* The last one is queued or done-but-undelivered: cancel is allowed. */
	hashpool_cancel(jobs[2]);
	run_briefly(base); /* the pool's event is gone: nothing is delivered */
	for (int i = 0; i < 3; i++)
		assert_int_equal(r[i].calls, 0);
	event_base_free(base);
	hashpool_destroy(&pool);
	hashpool_destroy(&pool); /* NULL: no effect */
}

static void test_bad_arguments(void **state)
{
	(void)state;
	struct hashpool *pool = (struct hashpool *)1;
	struct hashpool_options opts = {.threads = 0};
	assert_int_equal(hashpool_new(&pool, &opts), EINVAL);
	assert_null(pool);
	opts.threads = HASHPOOL_MAX_THREADS + 1;
	assert_int_equal(hashpool_new(&pool, &opts), EINVAL);
	assert_int_equal(hashpool_new(&pool, NULL), EINVAL);
	opts.threads = 1;
	assert_int_equal(hashpool_new(&pool, &opts), 0);
	struct event_base *base = event_base_new();
	int x;
	assert_int_equal(hashpool_submit(NULL, base, "h", "pw", 2, on_done, &x, NULL), EINVAL);
	assert_int_equal(hashpool_submit(pool, NULL, "h", "pw", 2, on_done, &x, NULL), EINVAL);
	assert_int_equal(hashpool_submit(pool, base, "h", NULL, 2, on_done, &x, NULL), EINVAL);
	assert_int_equal(hashpool_submit(pool, base, "h", "pw", 2, NULL, &x, NULL), EINVAL);
	hashpool_destroy(&pool);
	event_base_free(base);
}

/* A password over the limit is checked as a mismatch without copying it all. */
static void test_long_password(void **state)
{
	(void)state;
	struct hashpool *pool;
	struct hashpool_options opts = {.threads = 1};
	assert_int_equal(hashpool_new(&pool, &opts), 0);
	struct event_base *base = event_base_new();
	char h[CRYPT_OUTPUT_SIZE];
	make_hash("$6$", 1000, "x", h);
	size_t len = 4 * USERS_PASSWORD_MAX;
	char *big = malloc(len);
	assert_non_null(big);
	memset(big, 'x', len);
	unsigned pending = 1;
	struct result r = {.base = base, .loop_thread = pthread_self(), .pending = &pending};
	assert_int_equal(hashpool_submit(pool, base, h, big, len, on_done, &r, NULL), 0);
	free(big);
	run_until_done(base, &pending);
	assert_int_equal(r.verdict, USERS_PASSWORD_MISMATCH);
	hashpool_shutdown(pool);
	event_base_free(base);
	hashpool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_hashes),
		cmocka_unit_test(test_two_loops),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_cancel_from_callback),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_shutdown_with_jobs),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_long_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
