/* Internals shared by the store's files. The index (SQL, index.c) and the
 * Maildir files (files.c) sit behind separate functions so that the index
 * could move to another database without touching the file handling; the
 * operations (folder.c, append.c, message.c, recover.c) call both. */
#ifndef TERND_STORE_INT_H
#define TERND_STORE_INT_H

#include <dirent.h>
#include <sqlite3.h>

#include "store.h"

#define ST_STMT_CACHE 48
#define ST_NAME_MAX 255   /* folder name, bytes */
#define ST_FILE_MAX 280   /* a message file's base */
#define ST_PATH_MAX 640   /* a path relative to the user's directory */

struct store {
	char *path; /* ROOT/USER */
	int userfd; /* ROOT/USER */
	int lockfd; /* ternd-store.lock */
	sqlite3 *db;
	store_notify_fn *notify;
	void *notify_arg;
	store_hook_fn *hook;
	void *hook_arg;
	char host[64]; /* for file names: no '/', ':' or ',' */
	struct {
		const char *sql;
		sqlite3_stmt *st;
		bool busy;
	} stmts[ST_STMT_CACHE];
};

static inline void st_point(store *s, const char *point)
{
	if (s->hook != NULL)
		s->hook(s->hook_arg, point);
}

static inline void st_notify(store *s, enum store_event ev, const char *folder, uint32_t uid)
{
	if (s->notify != NULL)
		s->notify(s->notify_arg, ev, folder, uid);
}

/* ---- names (names.c) ---------------------------------------------------- */

/* 0 when name is a valid folder name (store_folder_create's rules). */
int st_name_check(const char *name);
/* "." for INBOX, ".NAME" otherwise (buf holds ST_NAME_MAX + 2). */
void st_folder_dir(const char *name, char *buf, size_t size);
/* Flag letters for flags, in maildir(5) order ("DFRST"). */
void st_flag_letters(unsigned flags, char out[8]);
/* Flags from a file name's info part (after ":2,"); lower-case letters
 * (Dovecot's keywords) are skipped. */
unsigned st_flags_parse(const char *info);
/* Checks and normalises keywords (space-separated atoms) into a sorted,
 * duplicate-free string in out (NULL when empty). */
int st_keywords_norm(const char *in, char **out);
/* Combines keyword strings for op; *out NULL when empty. */
int st_keywords_apply(const char *have, const char *kw, enum store_flag_op op, char **out);

/* ---- files (files.c) ---------------------------------------------------- */

/* dir/sub opened for readdir, or NULL and errno. */
DIR *sf_opendir(store *s, const char *dir, const char *sub);
/* Makes dir/{cur,new,tmp} (and maildirfolder unless INBOX). */
int sf_make_folder(store *s, const char *dir);
/* This host's name for file names: '/', ':' and ',' become '_'. */
void sf_host(char host[64]);
/* Writes a new unique base "TIME.RHEXPPID.HOST" into out. */
int sf_unique(const char *host, int64_t now, char *out, size_t size);
/* base + ":2," + letters of flags. */
void sf_name(const char *base, unsigned flags, char *out, size_t size);
/* Renames dir/cur/BASE:2,OLD to the letters of flags (old: the flags the
 * name should have now; the file is looked up by base when its name lags
 * them); ENOENT when it is gone. Not fsynced: the caller
 * does one sf_sync_cur for a batch. */
int sf_set_flags(store *s, const char *dir, const char *base, unsigned old, unsigned flags);
/* fsync of dir/cur. */
int sf_sync_cur(store *s, const char *dir);
/* Opens dir/cur/ file of base; flags: the letters tried first (any are
 * found). */
int sf_open(store *s, const char *dir, const char *base, unsigned flags, int *fd_r);
/* Unlinks dir/cur/ file of base (flags as for sf_open); 0 when gone
 * already. */
int sf_unlink(store *s, const char *dir, const char *base, unsigned flags);
/* Hard-links (or copies) dir/cur/ file of base to todir/cur/tobase with
 * flags; renames instead when move. The target directory is fsynced. */
int sf_transfer(store *s, const char *dir, const char *base, const char *todir,
		const char *tobase, unsigned flags, bool move);
/* Removes dir and everything under it (a folder's directory). */
int sf_remove_tree(int parentfd, const char *dir);

/* ---- index (index.c) ---------------------------------------------------- */

struct si_folder {
	int64_t id;
	char name[ST_NAME_MAX + 1];
	char special[12];
	bool subscribed;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
};

struct si_msg {
	uint32_t uid;
	char base[ST_FILE_MAX];
	unsigned flags;
	char *keywords;
	uint64_t modseq;
	int64_t internaldate;
	uint64_t size;
};

int si_open(store *s, bool *created_r);
void si_close(store *s);
int si_begin(store *s);
int si_commit(store *s);
void si_rollback(store *s);
int si_prepare(store *s, const char *sql, sqlite3_stmt **st_r);
void si_done(store *s, sqlite3_stmt *st);
int si_err(int rc);

/* Adds delta to meta key k (change, bytes, msgs). */
int si_meta_add(store *s, const char *k, int64_t delta);
int si_meta_get(store *s, const char *k, int64_t *v_r);
int si_meta_set(store *s, const char *k, int64_t v);

int si_folder_get(store *s, const char *name, struct si_folder *f);
int si_folder_insert(store *s, const char *name, const char *special, uint32_t uidvalidity);
/* Deletes name and its children with their messages. */
int si_folder_delete_tree(store *s, const char *name);
int si_folder_rename_tree(store *s, const char *from, const char *to);
int si_folder_subscribe(store *s, const char *name, bool on);
/* Every folder, by name (free()). */
int si_folder_list(store *s, struct si_folder **list_r, size_t *n_r);
/* Takes the folder's next UID (uidnext grows). */
int si_folder_next_uid(store *s, int64_t folder, uint32_t *uid_r);
/* Takes the folder's next MODSEQ (highestmodseq grows). */
int si_folder_next_modseq(store *s, int64_t folder, uint64_t *modseq_r);
int si_folder_stats(store *s, int64_t folder, uint32_t *messages, uint32_t *unseen,
		    uint64_t *size);

int si_msg_insert(store *s, int64_t folder, const struct si_msg *m);
int si_msg_delete(store *s, int64_t folder, uint32_t uid);
int si_msg_set_flags(store *s, int64_t folder, uint32_t uid, unsigned flags,
		     const char *keywords, uint64_t modseq);
/* Messages of folder in set (NULL: all), by UID; free with si_msgs_free. */
int si_msg_list(store *s, int64_t folder, const struct store_uidset *set, struct si_msg **list_r,
		size_t *n_r);
void si_msgs_free(struct si_msg *list, size_t n);
int si_msg_get(store *s, int64_t folder, uint32_t uid, struct si_msg *m);
/* Deletes one folder row and its messages (not its children). */
int si_folder_delete_one(store *s, int64_t folder);
/* Recounts the quota's bytes and msgs from the rows. */
int si_quota_recount(store *s);
/* Quota check for adding bytes in msgs messages: 0 or EDQUOT. */
int si_quota_check(store *s, uint64_t bytes, uint64_t msgs);

/* ---- shared by the operations ------------------------------------------- */

/* The last UIDVALIDITY issued, kept in ternd-uidvalidity; takes a new one
 * (> the last, >= now) and makes it durable. */
int st_uidvalidity_take(store *s, int64_t now, uint32_t *v_r);
/* flock of ternd-store.lock: LOCK_SH, LOCK_EX or LOCK_UN. */
int st_lock(store *s, int op);
/* Indexes an existing file of folder f (inside the caller's transaction). */
int st_index_file(store *s, const struct si_folder *f, const char *base, unsigned flags,
		  const char *keywords, int64_t internaldate, uint64_t size, uint32_t *uid_r);
/* Rebuilds/reconciles (recover.c). */
int st_reconcile(store *s, int64_t now, bool rebuild, struct store_recovery *stats);

#endif
