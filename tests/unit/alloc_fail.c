/* The failing allocator; see alloc_fail.h. Test code, so the counters are
 * file-level state (the library itself has none). Single-threaded use. */
#include "alloc_fail.h"

#include <errno.h>
#include <execinfo.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_free(void *p);

#define MAX_LIVE 8192
#define MAX_FRAMES 32

struct live {
	void *p;
	size_t size;
	void *caller;
};

static bool armed;
static unsigned count, fail_at;
static bool failed;
static struct live live[MAX_LIVE];
static size_t n_live;
static bool live_overflow;
static void *fail_frames[MAX_FRAMES];
static int n_fail_frames;

void af_arm(unsigned k)
{
	count = 0;
	fail_at = k;
	failed = false;
	n_live = 0;
	live_overflow = false;
	n_fail_frames = 0;
	armed = true;
}

unsigned af_disarm(void)
{
	armed = false;
	return count;
}

unsigned af_count(void)
{
	return count;
}

bool af_failed(void)
{
	return failed;
}

size_t af_live(void)
{
	return n_live + (live_overflow ? 1 : 0);
}

static void remember(void *p, size_t size, void *caller)
{
	if (!p)
		return;
	if (n_live == MAX_LIVE) {
		live_overflow = true;
		return;
	}
	live[n_live++] = (struct live){p, size, caller};
}

static void forget(void *p)
{
	if (!p)
		return;
	for (size_t i = n_live; i-- > 0;) {
		if (live[i].p == p) {
			live[i] = live[--n_live];
			return;
		}
	}
}

/* Counts one allocation; true when this one must fail. */
static bool should_fail(void)
{
	if (!armed)
		return false;
	count++;
	if (fail_at && count == fail_at) {
		failed = true;
		n_fail_frames = backtrace(fail_frames, MAX_FRAMES);
		errno = ENOMEM;
		return true;
	}
	return false;
}

void *__wrap_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	void *p = __real_malloc(n);
	if (armed)
		remember(p, n, __builtin_return_address(0));
	return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (should_fail())
		return NULL;
	void *p = __real_calloc(n, size);
	if (armed)
		remember(p, n * size, __builtin_return_address(0));
	return p;
}

void *__wrap_realloc(void *old, size_t n)
{
	/* realloc(p, 0) is not used by the library; treat it as an allocation. */
	if (should_fail())
		return NULL; /* old stays valid, as with a real failure */
	void *p = __real_realloc(old, n);
	if (p) {
		forget(old);
		if (armed)
			remember(p, n, __builtin_return_address(0));
	}
	return p;
}

/* The library's strdup/strndup are counted as one allocation each, as
 * glibc's own would call its internal malloc, which the wrap cannot see. */
char *__wrap_strdup(const char *s)
{
	if (should_fail())
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = __real_malloc(n);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	if (armed)
		remember(p, n, __builtin_return_address(0));
	return p;
}

char *__wrap_strndup(const char *s, size_t max)
{
	if (should_fail())
		return NULL;
	size_t n = strnlen(s, max);
	char *p = __real_malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	if (armed)
		remember(p, n + 1, __builtin_return_address(0));
	return p;
}

void __wrap_free(void *p)
{
	forget(p);
	__real_free(p);
}

void *af_real_malloc(size_t n)
{
	return __real_malloc(n);
}

void *af_real_realloc(void *p, size_t n)
{
	return __real_realloc(p, n);
}

void af_real_free(void *p)
{
	__real_free(p);
}

void af_print_site(void)
{
	/* Frames: should_fail, the __wrap_ function, then the library. */
	if (n_fail_frames > 2) {
		fflush(stderr);
		backtrace_symbols_fd(fail_frames + 2, n_fail_frames - 2 < 3 ? n_fail_frames - 2 : 3,
				     2);
	}
}

void af_report(const char *what)
{
	fprintf(stderr, "  [%s] %u allocations counted, failing #%u (%s)\n", what, count, fail_at,
		failed ? "handed out" : "never reached");
	if (n_fail_frames > 0) {
		fprintf(stderr, "  stack of the failed allocation:\n");
		fflush(stderr);
		backtrace_symbols_fd(fail_frames, n_fail_frames, 2);
	}
	for (size_t i = 0; i < n_live; i++) {
		fprintf(stderr, "  live: %zu octets at %p from ", live[i].size, live[i].p);
		fflush(stderr);
		backtrace_symbols_fd(&live[i].caller, 1, 2);
	}
	if (live_overflow)
		fprintf(stderr, "  (live table overflowed)\n");
}
