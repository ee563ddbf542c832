/* A failing allocator for the unit tests (STYLE.md: "A failing-allocator test
 * makes the Nth allocation fail and expects a clean error, no leak").
 *
 * The test binary is linked with -Wl,--wrap=malloc,--wrap=calloc,
 * --wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=free, so every call the
 * library objects (libtern.a) and the test objects make lands in the
 * __wrap_* functions of alloc_fail.c. Allocations made inside other shared
 * objects (libc's own, libevent's, cmocka's) are not seen.
 *
 * While armed, the wrappers count allocations; the k-th one (counting from
 * af_arm) fails with NULL and errno ENOMEM. Every allocation made while
 * armed is remembered until it is freed (or realloc'ed away), so a test can
 * ask, once its objects are destroyed, whether anything is left: a leak
 * caught at the k that caused it, not only at exit by LSan or valgrind. */
#ifndef TERN_TEST_ALLOC_FAIL_H
#define TERN_TEST_ALLOC_FAIL_H

#include <stdbool.h>
#include <stddef.h>

/* Starts counting from zero; allocation number fail_at fails (0: none
 * fails, only count). Forgets what earlier runs left live. */
void af_arm(unsigned fail_at);
/* Stops counting and failing; frees are still tracked. Returns the count. */
unsigned af_disarm(void);
/* Allocations counted since af_arm. */
unsigned af_count(void);
/* True once the armed failure has been handed out. */
bool af_failed(void);
/* Allocations made while armed and not yet freed. */
size_t af_live(void);
/* Prints the live allocations (size and caller) and the stack of the failed
 * allocation, for a failure message. */
void af_report(const char *what);

/* Prints the few frames above the failed allocation on one line each. */
void af_print_site(void);

/* Real allocator, for test buffers that must not be counted. */
void *af_real_malloc(size_t n);
void *af_real_realloc(void *p, size_t n);
void af_real_free(void *p);

#endif
