/* ternd's Maildir writer: one Maildir per recipient under a root directory.
 *
 * This file knows nothing about SMTP sessions; it takes paths, addresses and
 * buffers, so tests/unit/test_maildir.c drives it directly. Errors are
 * returned as positive errno values (0 = success) so the caller can map them
 * to SMTP replies with maildir_error_reply().
 *
 * Layout: <root>/<mailbox>/{tmp,new,cur}, where <mailbox> is
 * maildir_mailbox_name(recipient). Delivery of one message (maildir(5)):
 *   begin:  ensure the directories, create <mailbox>/tmp/<unique> for the
 *           first recipient (the "spool"), write Return-Path: and
 *           Delivered-To: (RFC 5321 4.4, final delivery);
 *   write:  stream the message bytes into the spool through a bounded buffer;
 *   commit: copy the body into every other recipient's own tmp file (each
 *           gets its own Delivered-To:), fsync every file, rename tmp -> new,
 *           fsync every new/ directory. Only then is a recipient delivered.
 *   free:   without a successful commit this is the abort: every tmp file
 *           of the message is unlinked.
 *
 * Thread safety: a maildir object is read-only after maildir_open() and may
 * be shared by threads; a maildir_msg belongs to one thread at a time. */
#ifndef TERND_MAILDIR_H
#define TERND_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Longest mailbox directory name (NAME_MAX on Linux). */
#define MAILDIR_NAME_MAX 255
/* maildir(5): "tmp/ files not accessed for 36 hours" may be removed. */
#define MAILDIR_STALE_SECONDS (36 * 60 * 60)

typedef struct maildir maildir;
typedef struct maildir_msg maildir_msg;

/* Opens (creating it and its parents, mode 0700, when missing) the root
 * directory. hostname goes into file names (sanitised per maildir(5));
 * NULL means gethostname(). Returns 0 or an errno value. */
int maildir_open(maildir **md_r, const char *root, const char *hostname);
/* Frees md and sets *md to NULL. Messages must be finished first. */
void maildir_close(maildir **md);
/* The root path as given to maildir_open(). */
const char *maildir_root(const maildir *md);

/* Maps a recipient address to its mailbox directory name, written to out
 * (NUL-terminated). The mapping (documented in docs/ternd.md):
 *   - the domain (after the last '@') is lower-cased (ASCII letters only);
 *     an address without '@' (<postmaster>) is lower-cased whole;
 *   - bytes A-Z a-z 0-9 and "+-_=@" are kept; '.' is kept except as the
 *     first byte; every other byte (including '%', '/', quotes, control and
 *     non-ASCII bytes) becomes %XX, upper-case hex.
 * The result is never empty, never "." or "..", never starts with '.',
 * never holds '/', and distinct normalised addresses give distinct names
 * (%-encoding is reversible). Returns 0, EINVAL (empty address) or
 * ENAMETOOLONG (result longer than MAILDIR_NAME_MAX or than outsize - 1). */
int maildir_mailbox_name(const char *address, char *out, size_t outsize);

/* Removes regular files in <root>/<mailbox>/tmp/ whose access and
 * modification times are both older than now - max_age seconds. Counts them
 * in *removed_r (may be NULL). Returns 0 or the errno of reading the root. */
int maildir_clean_tmp(maildir *md, time_t now, unsigned max_age, unsigned *removed_r);

/* Starts a message from sender ("" for the null reverse-path) to rcpts[0..n).
 * Per-recipient failures (a mailbox that cannot be created, say) are kept
 * and reported by commit; begin fails only when no recipient can be written
 * (it returns the first recipient's error) or on ENOMEM. Recipients that
 * map to the same mailbox are delivered once and share the outcome. */
int maildir_msg_begin(maildir *md, const char *sender, const char *const *rcpts, unsigned n,
		      maildir_msg **msg_r);

/* Appends message bytes. Memory is bounded: bytes are buffered up to a fixed
 * size and then written. Returns 0 or an errno value; after an error the
 * message can only be freed (which removes what was written). */
int maildir_msg_write(maildir_msg *msg, const void *buf, size_t len);

/* Finishes the message: every recipient that can be delivered ends up
 * durably in its new/ directory. all_or_nothing (SMTP: one reply for every
 * recipient): if any recipient fails, files already moved into new/ are
 * removed again and every recipient fails with that error; otherwise (LMTP)
 * each recipient succeeds or fails alone. Returns 0 when every recipient was
 * delivered, else the first error. Call once; then maildir_msg_result()
 * and maildir_msg_free(). */
int maildir_msg_commit(maildir_msg *msg, bool all_or_nothing);

/* The Maildir++ folder that DMARC quarantines go to. */
#define MAILDIR_JUNK_FOLDER ".Junk"

/* Delivers into folder (a Maildir++ folder name such as ".Junk", created
 * with its tmp/new/cur when missing; not copied: it must outlive the
 * commit) instead of the inbox. Before the commit. */
void maildir_msg_set_folder(maildir_msg *msg, const char *folder);

/* maildir_msg_commit() with header fields known only once the message has
 * arrived (Authentication-Results: the DKIM verdict needs the whole body):
 * headers[0..len), complete CRLF-terminated fields, go into every copy
 * after Return-Path: and Delivered-To: and before the message. A message
 * that still fits the write buffer costs nothing more; a longer one is
 * copied once more by the kernel (copy_file_range) for its first
 * recipient. headers may be NULL (len 0): the same as maildir_msg_commit(). */
int maildir_msg_commit_headers(maildir_msg *msg, bool all_or_nothing, const char *headers,
			       size_t len);

/* Outcome for recipient i after commit: 0 or an errno value. path_r (may be
 * NULL) gets the delivered file's path relative to the root, size_r (may be
 * NULL) its size in bytes; both valid until maildir_msg_free(). */
int maildir_msg_result(const maildir_msg *msg, unsigned i, const char **path_r,
		       uint64_t *size_r);

/* Unique base file name shared by the message's files, e.g.
 * "1714557600.M123456P4242Q7.host"; valid until maildir_msg_free(). */
const char *maildir_msg_basename(const maildir_msg *msg);

/* Frees the message. Without a successful commit this is the abort path:
 * every tmp file of the message is unlinked. NULL and *msg == NULL are fine;
 * *msg is set to NULL. */
void maildir_msg_free(maildir_msg **msg);

/* SMTP reply for a storage errno (RFC 3463 codes):
 *   ENOSPC          -> 452 4.3.1 Insufficient system storage
 *   EDQUOT          -> 452 4.2.2 Mailbox full
 *   EFBIG           -> 552 5.3.4 Message too big for system
 *   ENAMETOOLONG    -> 553 5.1.3 Mailbox name not allowed
 *   anything else   -> 451 4.3.0 Local error in processing
 * text_r gets a short static text. */
void maildir_error_reply(int err, int *code_r, const char **enhanced_r, const char **text_r);

#endif
