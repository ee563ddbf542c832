/* src/imap/seqmap: sequence numbers against a naive model (a plain array
 * changed one element at a time), over random appends, removals and
 * resyncs, plus the cases RFC 9051 7.5.1 spells out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/seqmap.h"
#include "tern/tern.h"

/* As in RFC 9051 7.5.1: messages 3, 4, 7 and 11 expunged from 11 messages.
 * Sent in descending order, every number is right when it is sent; the
 * client that applies them one by one ends with 7 messages. */
static void test_rfc_example(void **state)
{
	(void)state;
	struct tern__imap_seqmap m;
	tern__imap_seqmap_init(&m);
	uint32_t uids[11];
	for (uint32_t i = 0; i < 11; i++)
		uids[i] = 100 + i * 10;
	assert_int_equal(tern__imap_seqmap_append(&m, uids, 11), 0);
	uint32_t gone[] = {uids[10], uids[2], uids[6], uids[3], uids[3], 99999};
	uint32_t *seqs;
	size_t n;
	assert_int_equal(tern__imap_seqmap_remove(&m, gone, 6, &seqs, &n), 0);
	assert_int_equal(n, 4);
	uint32_t want[] = {11, 7, 4, 3};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(seqs[i], want[i]);
	free(seqs);
	assert_int_equal(m.n, 7);
	assert_int_equal(tern__imap_seqmap_uid(&m, 3), uids[4]);
	assert_int_equal(tern__imap_seqmap_seq(&m, uids[4]), 3);
	assert_int_equal(tern__imap_seqmap_seq(&m, uids[3]), 0);
	assert_int_equal(tern__imap_seqmap_uid(&m, 0), 0);
	assert_int_equal(tern__imap_seqmap_uid(&m, 8), 0);
	assert_int_equal(tern__imap_seqmap_lower(&m, 1), 1);
	assert_int_equal(tern__imap_seqmap_lower(&m, uids[3]), 3);
	assert_int_equal(tern__imap_seqmap_lower(&m, 100000), 8);
	tern__imap_seqmap_free(&m);
}

static void test_append_rules(void **state)
{
	(void)state;
	struct tern__imap_seqmap m;
	tern__imap_seqmap_init(&m);
	uint32_t a[] = {5, 9};
	assert_int_equal(tern__imap_seqmap_append(&m, a, 2), 0);
	uint32_t b[] = {9};
	assert_int_equal(tern__imap_seqmap_append(&m, b, 1), TERN_EINVAL);
	uint32_t c[] = {12, 11};
	assert_int_equal(tern__imap_seqmap_append(&m, c, 2), TERN_EINVAL);
	uint32_t z[] = {0};
	tern__imap_seqmap_free(&m);
	assert_int_equal(tern__imap_seqmap_append(&m, z, 1), TERN_EINVAL);
	assert_int_equal(m.n, 0);
	tern__imap_seqmap_free(&m);
}

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

/* The model: removal applied one number at a time as a client would. */
static void model_remove_seq(uint32_t *u, size_t *n, uint32_t seq)
{
	memmove(u + seq - 1, u + seq, (*n - seq) * sizeof(*u));
	(*n)--;
}

static void check_same(const struct tern__imap_seqmap *m, const uint32_t *u, size_t n)
{
	assert_int_equal(m->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(tern__imap_seqmap_uid(m, (uint32_t)i + 1), u[i]);
		assert_int_equal(tern__imap_seqmap_seq(m, u[i]), i + 1);
	}
}

static void test_random_against_model(void **state)
{
	(void)state;
	uint64_t seed = 42;
	for (int round = 0; round < 200; round++) {
		struct tern__imap_seqmap m;
		tern__imap_seqmap_init(&m);
		uint32_t model[4096];
		size_t n = 0;
		uint32_t next = 1 + rnd(&seed) % 5;
		for (int step = 0; step < 40; step++) {
			if (rnd(&seed) % 3 != 0 && n < 4000) {
				/* EXISTS: a few new UIDs with gaps. */
				uint32_t add[16];
				size_t k = 1 + rnd(&seed) % 16;
				for (size_t i = 0; i < k; i++) {
					add[i] = next;
					next += 1 + rnd(&seed) % 3;
				}
				assert_int_equal(tern__imap_seqmap_append(&m, add, k), 0);
				memcpy(model + n, add, k * sizeof(*add));
				n += k;
			} else if (n > 0) {
				/* EXPUNGE of a random subset, with repeats and
				 * unknown UIDs mixed in. */
				uint32_t gone[64];
				size_t k = 1 + rnd(&seed) % 64;
				for (size_t i = 0; i < k; i++)
					gone[i] = rnd(&seed) % 4 == 0 ? next + rnd(&seed) % 9
								   : model[rnd(&seed) % n];
				uint32_t *seqs;
				size_t ns;
				assert_int_equal(tern__imap_seqmap_remove(&m, gone, k, &seqs, &ns), 0);
				for (size_t i = 0; i < ns; i++) {
					assert_true(seqs[i] >= 1 && seqs[i] <= n);
					model_remove_seq(model, &n, seqs[i]);
				}
				free(seqs);
				/* Nothing named stays. */
				for (size_t i = 0; i < k; i++)
					assert_int_equal(tern__imap_seqmap_seq(&m, gone[i]), 0);
			}
			check_same(&m, model, n);
		}
		tern__imap_seqmap_free(&m);
	}
}

static void test_diff(void **state)
{
	(void)state;
	struct tern__imap_seqmap m;
	tern__imap_seqmap_init(&m);
	uint32_t known[] = {2, 4, 6, 8, 10};
	assert_int_equal(tern__imap_seqmap_append(&m, known, 5), 0);
	/* 4 and 10 gone, 12 and 15 new, 7 odd (below the last known). */
	uint32_t cur[] = {2, 6, 7, 8, 12, 15};
	uint32_t *gone, *fresh;
	size_t ng, nn, odd;
	assert_int_equal(tern__imap_seqmap_diff(&m, cur, 6, &gone, &ng, &fresh, &nn, &odd), 0);
	assert_int_equal(ng, 2);
	assert_int_equal(gone[0], 4);
	assert_int_equal(gone[1], 10);
	assert_int_equal(nn, 2);
	assert_int_equal(fresh[0], 12);
	assert_int_equal(fresh[1], 15);
	assert_int_equal(odd, 1);
	free(gone);
	free(fresh);
	/* Nothing changed: no lists. */
	assert_int_equal(tern__imap_seqmap_diff(&m, known, 5, &gone, &ng, &fresh, &nn, NULL), 0);
	assert_null(gone);
	assert_null(fresh);
	assert_int_equal(ng + nn, 0);
	/* Everything gone. */
	assert_int_equal(tern__imap_seqmap_diff(&m, NULL, 0, &gone, &ng, &fresh, &nn, NULL), 0);
	assert_int_equal(ng, 5);
	free(gone);
	/* Not ascending. */
	uint32_t bad[] = {3, 3};
	assert_int_equal(tern__imap_seqmap_diff(&m, bad, 2, &gone, &ng, &fresh, &nn, NULL),
			 TERN_EINVAL);
	tern__imap_seqmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_append_rules),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_diff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
