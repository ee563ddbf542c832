/* Sequence numbers of a selected folder: see seqmap.h. */
#include "imap/seqmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"

void tern__imap_seqmap_init(struct tern__imap_seqmap *m)
{
	memset(m, 0, sizeof(*m));
}

void tern__imap_seqmap_free(struct tern__imap_seqmap *m)
{
	free(m->uid);
	memset(m, 0, sizeof(*m));
}

static bool ascending_above(const uint32_t *u, size_t n, uint32_t floor)
{
	for (size_t i = 0; i < n; i++) {
		if (u[i] <= floor)
			return false;
		floor = u[i];
	}
	return true;
}

int tern__imap_seqmap_append(struct tern__imap_seqmap *m, const uint32_t *uids, size_t n)
{
	if (n == 0)
		return 0;
	if (uids == NULL || !ascending_above(uids, n, m->n ? m->uid[m->n - 1] : 0))
		return TERN_EINVAL;
	/* A folder holds at most 2^32 - 1 messages (sequence numbers are
	 * 32-bit, RFC 9051 9 nz-number). */
	if (n > UINT32_MAX - 1 - (size_t)m->n)
		return TERN_EINVAL;
	size_t want = (size_t)m->n + n;
	if (want > m->cap) {
		size_t cap = m->cap ? m->cap : 64;
		while (cap < want)
			cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
		uint32_t *p = realloc(m->uid, cap * sizeof(*p));
		if (p == NULL)
			return TERN_ENOMEM;
		m->uid = p;
		m->cap = (uint32_t)cap;
	}
	memcpy(m->uid + m->n, uids, n * sizeof(*uids));
	m->n = (uint32_t)want;
	return 0;
}

uint32_t tern__imap_seqmap_lower(const struct tern__imap_seqmap *m, uint32_t uid)
{
	uint32_t lo = 0, hi = m->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (m->uid[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo + 1;
}

uint32_t tern__imap_seqmap_seq(const struct tern__imap_seqmap *m, uint32_t uid)
{
	uint32_t s = tern__imap_seqmap_lower(m, uid);
	return s <= m->n && m->uid[s - 1] == uid ? s : 0;
}

uint32_t tern__imap_seqmap_uid(const struct tern__imap_seqmap *m, uint32_t seq)
{
	return seq >= 1 && seq <= m->n ? m->uid[seq - 1] : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

int tern__imap_seqmap_remove(struct tern__imap_seqmap *m, const uint32_t *uids, size_t n,
			     uint32_t **seqs_r, size_t *n_r)
{
	if (seqs_r != NULL)
		*seqs_r = NULL;
	*n_r = 0;
	if (n == 0 || m->n == 0)
		return 0;
	/* Sorted, the removals are found by one merge with the map. */
	uint32_t *sorted = malloc(n * sizeof(*sorted));
	if (sorted == NULL)
		return TERN_ENOMEM;
	memcpy(sorted, uids, n * sizeof(*uids));
	qsort(sorted, n, sizeof(*sorted), cmp_u32);

	/* Mark the positions removed (reusing sorted's room for them: at
	 * most n of them, written behind the read position). */
	size_t k = 0, j = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t u = sorted[i]; /* read before sorted[k] (k <= i) is written */
		while (j < m->n && m->uid[j] < u)
			j++;
		/* A repeat finds j already past its UID. */
		if (j < m->n && m->uid[j] == u)
			sorted[k++] = (uint32_t)j++;
	}
	if (k == 0) {
		free(sorted);
		return 0;
	}
	uint32_t *seqs = NULL;
	if (seqs_r != NULL) {
		seqs = malloc(k * sizeof(*seqs));
		if (seqs == NULL) {
			free(sorted);
			return TERN_ENOMEM;
		}
		/* Descending: each number is valid when it is sent. */
		for (size_t i = 0; i < k; i++)
			seqs[i] = sorted[k - 1 - i] + 1;
	}
	/* Compact in one pass. */
	size_t w = sorted[0];
	for (size_t i = 0; i < k; i++) {
		size_t from = (size_t)sorted[i] + 1;
		size_t to = i + 1 < k ? sorted[i + 1] : m->n;
		memmove(m->uid + w, m->uid + from, (to - from) * sizeof(*m->uid));
		w += to - from;
	}
	m->n = (uint32_t)w;
	free(sorted);
	if (seqs_r != NULL)
		*seqs_r = seqs;
	*n_r = k;
	return 0;
}

int tern__imap_seqmap_diff(const struct tern__imap_seqmap *m, const uint32_t *cur, size_t n,
			   uint32_t **gone_r, size_t *n_gone_r, uint32_t **new_r, size_t *n_new_r,
			   size_t *odd_r)
{
	*gone_r = *new_r = NULL;
	*n_gone_r = *n_new_r = 0;
	if (odd_r != NULL)
		*odd_r = 0;
	if (n > 0 && (cur == NULL || !ascending_above(cur, n, 0)))
		return TERN_EINVAL;
	uint32_t last = m->n ? m->uid[m->n - 1] : 0;
	uint32_t *gone = NULL, *fresh = NULL;
	size_t ng = 0, nn = 0, odd = 0;
	/* At most every known UID is gone, at most every current one new. */
	if (m->n > 0 && (gone = malloc((size_t)m->n * sizeof(*gone))) == NULL)
		return TERN_ENOMEM;
	if (n > 0 && (fresh = malloc(n * sizeof(*fresh))) == NULL) {
		free(gone);
		return TERN_ENOMEM;
	}
	size_t i = 0, j = 0;
	while (i < m->n || j < n) {
		if (j == n || (i < m->n && m->uid[i] < cur[j])) {
			gone[ng++] = m->uid[i++];
		} else if (i == m->n || cur[j] < m->uid[i]) {
			if (cur[j] > last)
				fresh[nn++] = cur[j];
			else
				odd++;
			j++;
		} else {
			i++;
			j++;
		}
	}
	if (ng == 0) {
		free(gone);
		gone = NULL;
	}
	if (nn == 0) {
		free(fresh);
		fresh = NULL;
	}
	*gone_r = gone;
	*n_gone_r = ng;
	*new_r = fresh;
	*n_new_r = nn;
	if (odd_r != NULL)
		*odd_r = odd;
	return 0;
}
