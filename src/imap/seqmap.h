/* The message sequence numbers of a selected folder (RFC 9051 2.3.1.2):
 * the ascending UIDs the session knows, where the number of a message is
 * its position. The IMAP session keeps one per selected folder, built from
 * the store's UID list at SELECT and changed only when the session tells
 * the client (EXISTS adds at the end, EXPUNGE removes), so the numbers the
 * client holds and the ones the server uses never disagree.
 *
 * Memory: 4 octets per message (100,000 messages: 400 KB), one array.
 * Lookups are binary searches; a removal of k messages is one pass.
 *
 * Every function returns 0, TERN_ENOMEM, or TERN_EINVAL where it says so. */
#ifndef TERN_IMAP_SEQMAP_H
#define TERN_IMAP_SEQMAP_H

#include <stddef.h>
#include <stdint.h>

struct tern__imap_seqmap {
	uint32_t *uid; /* uid[i] is the UID of message i + 1; ascending */
	uint32_t n, cap;
};

void tern__imap_seqmap_init(struct tern__imap_seqmap *m);
void tern__imap_seqmap_free(struct tern__imap_seqmap *m);

/* Appends UIDs (EXISTS). TERN_EINVAL unless every one is above the last
 * one known and they ascend; nothing is added then. */
int tern__imap_seqmap_append(struct tern__imap_seqmap *m, const uint32_t *uids, size_t n);

/* The sequence number of uid, or 0 when the session does not know it. */
uint32_t tern__imap_seqmap_seq(const struct tern__imap_seqmap *m, uint32_t uid);
/* The UID of message seq (1-based), or 0 when out of range. */
uint32_t tern__imap_seqmap_uid(const struct tern__imap_seqmap *m, uint32_t seq);
/* The first sequence number whose UID is >= uid (n + 1 when none): the
 * start of a UID range's messages. */
uint32_t tern__imap_seqmap_lower(const struct tern__imap_seqmap *m, uint32_t uid);

/* Removes the messages whose UIDs are in uids (any order, unknown ones and
 * repeats ignored). seqs_r (may be NULL) receives, in order, the numbers
 * to report as "* n EXPUNGE": each valid at the moment it is sent, which
 * descending order gives (a later number never shifts an earlier one).
 * *n_r: how many were removed. The caller frees *seqs_r. */
int tern__imap_seqmap_remove(struct tern__imap_seqmap *m, const uint32_t *uids, size_t n,
			     uint32_t **seqs_r, size_t *n_r);

/* What changed between the UIDs the session knows and the store's current
 * ascending list cur (a resync): gone_r gets the known UIDs missing from
 * cur, new_r the UIDs of cur above the last known one. A UID of cur that is
 * not known but lower than the last known one cannot be new (UIDs only
 * grow): it is ignored, and *odd_r (may be NULL) counts them, for a log
 * line. TERN_EINVAL when cur does not ascend. The caller frees both lists
 * (NULL when empty). */
int tern__imap_seqmap_diff(const struct tern__imap_seqmap *m, const uint32_t *cur, size_t n,
			   uint32_t **gone_r, size_t *n_gone_r, uint32_t **new_r, size_t *n_new_r,
			   size_t *odd_r);

#endif
