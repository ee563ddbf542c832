/* ternd's mail store: one user's folders of messages, kept as Maildir++
 * files (so mutt and Dovecot read them) with a SQLite index (WAL) beside
 * them that holds what Maildir cannot: UIDs, UIDVALIDITY, MODSEQ,
 * keywords, special-use, subscriptions and the quota counters.
 * docs/store.md describes the layout, the durability argument and the
 * recovery; this header is the interface.
 *
 * Layout under ROOT/USER/ (USER a full address):
 *   cur/ new/ tmp/          INBOX
 *   .NAME/{cur,new,tmp}/    folder NAME ('.' separates levels: "A.B" is a
 *                           child of "A"); names are UTF-8 on disk (Dovecot:
 *                           mail_location = maildir:ROOT/USER:UTF-8)
 *   index.db                the index (SQLite, WAL)
 *   ternd-uidvalidity       the last UIDVALIDITY issued (survives the index)
 *   ternd-store.lock        flock: shared by every change, exclusive for
 *                           recovery
 *   ROOT/tmp/               staging of deliveries to several users
 *
 * Message files are named "UNIQUE,S=SIZE:2,FLAGS" (maildir(5); FLAGS the
 * letters D F R S T in that order). The index row keys the UNIQUE part, so
 * a flag change only renames.
 *
 * Threads: a store handle is used by one thread at a time; open one
 * handle per session (thread or process). Handles of the same user
 * cooperate through SQLite's locks (busy timeout 10 s) and the flock.
 *
 * Errors: every int function returns 0 or a positive errno value:
 * EINVAL (bad name, flag or argument), ENOENT (no such folder, message or
 * user), EEXIST (folder exists), EPERM (INBOX cannot be deleted or
 * renamed), EDQUOT (over quota), EBUSY (the index stayed locked past the
 * busy timeout), ENOMEM, EIO/ENOSPC and the like from the file system,
 * EBADMSG (the index is damaged). Nothing aborts on ENOMEM. */
#ifndef TERND_STORE_H
#define TERND_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;
typedef struct store_writer store_writer;

/* System flags (RFC 9051 2.3.2); the Maildir letter in brackets. */
enum {
	STORE_SEEN = 1u << 0,     /* \Seen     (S) */
	STORE_ANSWERED = 1u << 1, /* \Answered (R) */
	STORE_FLAGGED = 1u << 2,  /* \Flagged  (F) */
	STORE_DELETED = 1u << 3,  /* \Deleted  (T) */
	STORE_DRAFT = 1u << 4,    /* \Draft    (D) */
	STORE_FLAGS_ALL = 0x1f,
};

/* store_open flags. */
enum {
	/* Reconciles the index with the files before returning (see
	 * store_recover); ternd does it once per user after a restart. */
	STORE_OPEN_RECOVER = 1u << 0,
};

/* The notify hook: called on the handle that made a change, after its
 * commit. Other handles (and processes) poll store_change_counter. */
enum store_event {
	STORE_EV_NEW,     /* uid appended, delivered, copied or moved in */
	STORE_EV_EXPUNGE, /* uid expunged (or moved out) */
	STORE_EV_FLAGS,   /* uid's flags or keywords changed */
	STORE_EV_FOLDERS, /* a folder was created, deleted or renamed (uid 0) */
};
typedef void store_notify_fn(void *arg, enum store_event ev, const char *folder, uint32_t uid);

/* Crash-point hook for tests: called with the name of each step that
 * docs/store.md lists (e.g. "append.renamed"). */
typedef void store_hook_fn(void *arg, const char *point);

/* Opens (creating when missing) the store of user under root: the
 * directories, the index and, with a new index, the default folders INBOX,
 * Drafts (\Drafts), Sent (\Sent), Junk (\Junk), Trash (\Trash), Archive
 * (\Archive). A lost index.db is rebuilt from the files (every folder
 * gets a new UIDVALIDITY). now: seconds since the epoch, used for
 * UIDVALIDITY. Waits (flock) only for a recovery or rebuild in progress.
 * *s_r is set on success only. EINVAL: user is empty, has no '@', holds
 * '/' or starts with '.'. */
int store_open(store **s_r, const char *root, const char *user, unsigned flags, int64_t now);
/* Closes *s and sets it to NULL; NULL is fine. */
void store_close(store **s);
void store_set_notify(store *s, store_notify_fn *fn, void *arg);
void store_set_hook(store *s, store_hook_fn *fn, void *arg);

struct store_recovery {
	unsigned rows_dropped;   /* index rows whose file was gone */
	unsigned files_added;    /* files without a row, given new UIDs */
	unsigned files_renamed;  /* names whose flags lagged the index */
	unsigned tmp_removed;    /* leftovers in tmp/ */
	unsigned folders_added;  /* directories without a row */
	unsigned folders_dropped;/* rows without a directory */
};
/* Reconciles the index with the files under the exclusive lock (waits for
 * changes in progress, appends included until they commit or abort, so
 * never call it with a writer of the same handle open): rows without files are dropped, files without rows
 * (new/ included: mail dropped by other programs) are indexed with new
 * UIDs, file names follow the index's flags, tmp/ is emptied, the quota
 * counters are recounted. stats may be NULL. */
int store_recover(store *s, int64_t now, struct store_recovery *stats);

/* Change counter: grows with every committed change by any handle of this
 * user; cheap to poll. */
int store_change_counter(store *s, uint64_t *counter_r);

/* ---- folders ------------------------------------------------------------ */

struct store_folder {
	char *name;          /* UTF-8, '.' separated; "INBOX" for the top */
	char special[12];    /* "\\Sent" and the like, or "" */
	bool subscribed;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
};
/* Every folder, sorted by name; free with store_folders_free. */
int store_folders(store *s, struct store_folder **list_r, size_t *n_r);
void store_folders_free(struct store_folder *list, size_t n);

/* special: NULL or one of \Drafts \Sent \Junk \Trash \Archive \All
 * \Flagged (EINVAL otherwise). Parents are not created: "A.B" needs no "A"
 * (Maildir++ keeps them flat). A name is non-empty UTF-8 without control
 * characters, '/', empty levels ("A..B", ".A", "A."), leading "INBOX."
 * and at most 255 bytes; anything else is EINVAL. Subscribes the new folder. */
int store_folder_create(store *s, const char *name, const char *special, int64_t now);
/* Deletes the folder, its children ("NAME.*") and their messages. */
int store_folder_delete(store *s, const char *name);
/* Renames the folder and its children; UIDVALIDITY and UIDs are kept. */
int store_folder_rename(store *s, const char *from, const char *to);
/* ENOENT when there is no such folder (no subscriptions to names that do
 * not exist, unlike RFC 9051's LSUB leftovers). */
int store_folder_subscribe(store *s, const char *name, bool on);

struct store_status {
	uint32_t messages, uidnext, uidvalidity, unseen, recent; /* recent is 0 */
	uint64_t size;                                           /* bytes */
	uint64_t highestmodseq;
};
/* One read transaction, so the numbers agree; ENOENT for no such folder.
 * Folder names are case-sensitive except INBOX. */
int store_status(store *s, const char *folder, struct store_status *st);

/* ---- messages ----------------------------------------------------------- */

/* Appends a message to folder: begin, write pieces of any size, commit.
 * flags: STORE_* bits; keywords: NULL or space-separated atoms (IMAP
 * flag-keyword syntax, at most 128 per message; EINVAL otherwise). Commit returns once the file
 * (fsynced, renamed into cur/, directory fsynced) and the index row are
 * both durable; only then may the client be told OK. The writer is freed
 * by commit and abort whatever the result. EDQUOT at commit when the
 * message would pass the quota. */
int store_append_begin(store *s, const char *folder, unsigned flags, const char *keywords,
		       int64_t internaldate, store_writer **w_r);
/* The first write error is returned by this and every later write, and
 * by the commit. */
int store_writer_write(store_writer *w, const void *buf, size_t len);
int store_append_commit(store_writer **w, uint32_t *uid_r, uint32_t *uidvalidity_r);
void store_writer_abort(store_writer **w);

/* Delivery of one message to the INBOX of several users under root: the
 * message is written once to ROOT/tmp/ and hard-linked into each user's
 * INBOX under a name of its own (so ROOT must be one file system: EXDEV
 * otherwise). results[i] (n of them) gets the
 * error and UID for users[i]; the call returns 0 when it could try every
 * user (look at results), else the error that stopped it. */
struct store_delivery {
	int err;
	uint32_t uid;
};
int store_deliver_begin(const char *root, int64_t internaldate, store_writer **w_r);
/* The crash-point hook for the stores a delivery opens (tests). */
void store_deliver_set_hook(store_writer *w, store_hook_fn *fn, void *arg);
int store_deliver_commit(store_writer **w, const char *const *users, size_t n, int64_t now,
			 struct store_delivery *results);

/* A UID set: ranges lo..hi inclusive (lo <= hi). */
struct store_range {
	uint32_t lo, hi;
};
struct store_uidset {
	const struct store_range *r;
	size_t n;
};

struct store_msg {
	uint32_t uid;
	unsigned flags;
	char *keywords; /* space-separated, sorted; NULL when none */
	uint64_t modseq;
	int64_t internaldate;
	uint64_t size;
};
/* The messages of folder with a UID in set (NULL: all), by UID; free with
 * store_msgs_free. */
int store_messages(store *s, const char *folder, const struct store_uidset *set,
		   struct store_msg **list_r, size_t *n_r);
void store_msgs_free(struct store_msg *list, size_t n);

enum store_flag_op { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };
/* Changes flags and keywords of the messages in set. Each message that
 * changes gets the folder's next MODSEQ (one for the whole call) and its
 * file is renamed to the new flag letters; unchanged ones keep theirs.
 * modseq_r (may be NULL): the MODSEQ given (or the HIGHESTMODSEQ when
 * nothing changed). Once the index has committed, the call succeeds even
 * if a rename fails (recovery corrects the names). */
int store_flags(store *s, const char *folder, const struct store_uidset *set,
		enum store_flag_op op, unsigned flags, const char *keywords, uint64_t *modseq_r);

/* COPYUID data (RFC 4315): src[i] became dst[i] in uidvalidity. */
struct store_copyuid {
	uint32_t uidvalidity;
	uint32_t *src, *dst;
	size_t n;
};
void store_copyuid_free(struct store_copyuid *cu);
/* Copies (hard links) or moves (renames) the messages of set from one
 * folder to another, with new UIDs in to; flags and keywords go along.
 * cu may be NULL; otherwise free it with store_copyuid_free. */
int store_copy(store *s, const char *from, const struct store_uidset *set, const char *to,
	       bool move, struct store_copyuid *cu);

/* Expunges from folder the messages flagged \Deleted (set NULL), or those
 * of set that are \Deleted (only_deleted, UID EXPUNGE), or every message of
 * set (!only_deleted). uids_r/n_r (may be NULL) get the UIDs expunged
 * (free()). */
int store_expunge(store *s, const char *folder, const struct store_uidset *set,
		  bool only_deleted, uint32_t **uids_r, size_t *n_r);

/* Opens message uid of folder for reading: *fd_r (O_RDONLY, the caller
 * closes it) and its size. ENOENT when there is no such message. */
int store_msg_open(store *s, const char *folder, uint32_t uid, int *fd_r, uint64_t *size_r);

/* ---- quota -------------------------------------------------------------- */

struct store_quota {
	uint64_t bytes, msgs;             /* in use */
	uint64_t limit_bytes, limit_msgs; /* 0: no limit */
};
int store_quota_get(store *s, struct store_quota *q);
/* New limits (0: none); they apply to later appends and copies, never
 * removing anything. EINVAL above INT64_MAX. */
int store_quota_set(store *s, uint64_t limit_bytes, uint64_t limit_msgs);

#endif
