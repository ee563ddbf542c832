/* The store's index: every SQL statement lives here, behind functions that
 * say what they do, so the index could move to another database. SQLite in
 * WAL mode with synchronous=FULL: a commit is durable when it returns,
 * which the append's acknowledgement relies on. */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta VALUES('change',0),('bytes',0),('msgs',0),"
	" ('limit_bytes',0),('limit_msgs',0);"
	"CREATE TABLE IF NOT EXISTS folder("
	" id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, special TEXT,"
	" subscribed INTEGER NOT NULL DEFAULT 1, uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL DEFAULT 1, highestmodseq INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE IF NOT EXISTS msg("
	" folder INTEGER NOT NULL REFERENCES folder(id) ON DELETE CASCADE,"
	" uid INTEGER NOT NULL, base TEXT NOT NULL, flags INTEGER NOT NULL,"
	" keywords TEXT, modseq INTEGER NOT NULL, internaldate INTEGER NOT NULL,"
	" size INTEGER NOT NULL, cache BLOB,"
	" PRIMARY KEY(folder, uid)) WITHOUT ROWID;"
	"CREATE UNIQUE INDEX IF NOT EXISTS msg_base ON msg(folder, base);";

int si_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_FULL:
		return ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return EBADMSG;
	case SQLITE_CONSTRAINT:
		return EEXIST;
	default:
		return EIO;
	}
}

int si_open(store *s, bool *created_r)
{
	struct stat sb;
	*created_r = fstatat(s->userfd, "index.db", &sb, 0) != 0;
	size_t len = strlen(s->path) + sizeof("/index.db");
	char *path = malloc(len);
	if (path == NULL)
		return ENOMEM;
	snprintf(path, len, "%s/index.db", s->path);
	int rc = sqlite3_open_v2(path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	free(path);
	if (rc != SQLITE_OK)
		return si_err(rc);
	sqlite3_busy_timeout(s->db, 10000);
	rc = sqlite3_exec(s->db,
			  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			  " PRAGMA foreign_keys=ON;",
			  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, schema, NULL, NULL, NULL);
	return si_err(rc);
}

void si_close(store *s)
{
	for (size_t i = 0; i < ST_STMT_CACHE; i++) {
		if (s->stmts[i].st != NULL)
			sqlite3_finalize(s->stmts[i].st);
		s->stmts[i].sql = NULL;
		s->stmts[i].st = NULL;
	}
	sqlite3_close(s->db);
	s->db = NULL;
}

/* Statements are compiled once per handle and kept, keyed by the address
 * of their (static) text, as the queue does. */
int si_prepare(store *s, const char *sql, sqlite3_stmt **st_r)
{
	size_t free_slot = ST_STMT_CACHE;
	for (size_t i = 0; i < ST_STMT_CACHE; i++) {
		if (s->stmts[i].sql == sql && !s->stmts[i].busy) {
			s->stmts[i].busy = true;
			*st_r = s->stmts[i].st;
			return 0;
		}
		if (s->stmts[i].sql == NULL && free_slot == ST_STMT_CACHE)
			free_slot = i;
	}
	int rc = sqlite3_prepare_v3(s->db, sql, -1,
				    free_slot < ST_STMT_CACHE ? SQLITE_PREPARE_PERSISTENT : 0, st_r,
				    NULL);
	if (rc != SQLITE_OK)
		return si_err(rc);
	if (free_slot < ST_STMT_CACHE) {
		s->stmts[free_slot].sql = sql;
		s->stmts[free_slot].st = *st_r;
		s->stmts[free_slot].busy = true;
	}
	return 0;
}

void si_done(store *s, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < ST_STMT_CACHE; i++) {
		if (s->stmts[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			s->stmts[i].busy = false;
			return;
		}
	}
	sqlite3_finalize(st);
}

/* Runs sql with ?1 = text (when non-NULL), ?2 = i2, ?3 = i3 to its end or
 * first row; v_r (may be NULL) gets column 0 of that row. */
static int run(store *s, const char *sql, const char *text, int64_t i2, int64_t i3, int64_t *v_r)
{
	sqlite3_stmt *st;
	int err = si_prepare(s, sql, &st);
	if (err != 0)
		return err;
	int np = sqlite3_bind_parameter_count(st);
	if (np >= 1)
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	if (np >= 2)
		sqlite3_bind_int64(st, 2, i2);
	if (np >= 3)
		sqlite3_bind_int64(st, 3, i3);
	int rc = sqlite3_step(st);
	if (v_r != NULL)
		*v_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	si_done(s, st);
	return si_err(rc);
}

int si_begin(store *s)
{
	return run(s, "BEGIN IMMEDIATE", NULL, 0, 0, NULL);
}

int si_commit(store *s)
{
	int err = run(s, "COMMIT", NULL, 0, 0, NULL);
	if (err != 0)
		si_rollback(s);
	return err;
}

void si_rollback(store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int si_meta_add(store *s, const char *k, int64_t delta)
{
	return run(s, "UPDATE meta SET v=v+?2 WHERE k=?1", k, delta, 0, NULL);
}

int si_meta_get(store *s, const char *k, int64_t *v_r)
{
	return run(s, "SELECT v FROM meta WHERE k=?1", k, 0, 0, v_r);
}

int si_meta_set(store *s, const char *k, int64_t v)
{
	return run(s, "UPDATE meta SET v=?2 WHERE k=?1", k, v, 0, NULL);
}

static void folder_row(sqlite3_stmt *st, struct si_folder *f)
{
	f->id = sqlite3_column_int64(st, 0);
	snprintf(f->name, sizeof(f->name), "%s", (const char *)sqlite3_column_text(st, 1));
	const unsigned char *sp = sqlite3_column_text(st, 2);
	snprintf(f->special, sizeof(f->special), "%s", sp != NULL ? (const char *)sp : "");
	f->subscribed = sqlite3_column_int(st, 3) != 0;
	f->uidvalidity = (uint32_t)sqlite3_column_int64(st, 4);
	f->uidnext = (uint32_t)sqlite3_column_int64(st, 5);
	f->highestmodseq = (uint64_t)sqlite3_column_int64(st, 6);
}

#define FOLDER_COLS "id,name,special,subscribed,uidvalidity,uidnext,highestmodseq"

int si_folder_get(store *s, const char *name, struct si_folder *f)
{
	sqlite3_stmt *st;
	int err = si_prepare(s, "SELECT " FOLDER_COLS " FROM folder WHERE name=?1", &st);
	if (err != 0)
		return err;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		folder_row(st, f);
	si_done(s, st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? ENOENT : si_err(rc);
}

int si_folder_insert(store *s, const char *name, const char *special, uint32_t uidvalidity)
{
	sqlite3_stmt *st;
	int err = si_prepare(s, "INSERT INTO folder(name,special,uidvalidity) VALUES(?1,?2,?3)",
			     &st);
	if (err != 0)
		return err;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (special != NULL && special[0] != '\0')
		sqlite3_bind_text(st, 2, special, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, uidvalidity);
	int rc = sqlite3_step(st);
	si_done(s, st);
	return si_err(rc);
}

/* Children of name: "name.%" with LIKE's wildcards in name escaped; GLOB
 * would do too, but both need the escaping. substr() avoids both. */
#define CHILD_OF "(name=?1 OR substr(name,1,length(?1)+1)=?1||'.')"

int si_folder_delete_tree(store *s, const char *name)
{
	int64_t msgs = 0, bytes = 0;
	int err = run(s, "SELECT count(*) FROM msg WHERE folder IN (SELECT id FROM folder WHERE "
			 CHILD_OF ")", name, 0, 0, &msgs);
	if (err == 0)
		err = run(s, "SELECT coalesce(sum(size),0) FROM msg WHERE folder IN"
			     " (SELECT id FROM folder WHERE " CHILD_OF ")", name, 0, 0, &bytes);
	if (err == 0)
		err = si_meta_add(s, "msgs", -msgs);
	if (err == 0)
		err = si_meta_add(s, "bytes", -bytes);
	if (err == 0)
		err = run(s, "DELETE FROM folder WHERE " CHILD_OF, name, 0, 0, NULL);
	return err;
}

int si_folder_rename_tree(store *s, const char *from, const char *to)
{
	sqlite3_stmt *st;
	int err = si_prepare(s, "UPDATE folder SET name=?2||substr(name,length(?1)+1) WHERE " CHILD_OF,
			     &st);
	if (err != 0)
		return err;
	sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	si_done(s, st);
	return si_err(rc);
}

int si_folder_subscribe(store *s, const char *name, bool on)
{
	int64_t n = 0;
	int err = run(s, "UPDATE folder SET subscribed=?2 WHERE name=?1 RETURNING 1", name, on, 0,
		      &n);
	return err != 0 ? err : n == 1 ? 0 : ENOENT;
}

int si_folder_list(store *s, struct si_folder **list_r, size_t *n_r)
{
	sqlite3_stmt *st;
	*list_r = NULL;
	*n_r = 0;
	int err = si_prepare(s, "SELECT " FOLDER_COLS " FROM folder ORDER BY name", &st);
	if (err != 0)
		return err;
	struct si_folder *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct si_folder *nl = realloc(list, ncap * sizeof(*nl));
			if (nl == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			list = nl;
			cap = ncap;
		}
		folder_row(st, &list[n++]);
	}
	si_done(s, st);
	if (rc != SQLITE_DONE) {
		free(list);
		return si_err(rc);
	}
	*list_r = list;
	*n_r = n;
	return 0;
}

int si_folder_next_uid(store *s, int64_t folder, uint32_t *uid_r)
{
	int64_t v = 0;
	int err = run(s, "UPDATE folder SET uidnext=uidnext+1 WHERE id=?2 RETURNING uidnext-1",
		      NULL, folder, 0, &v);
	if (err == 0 && (v <= 0 || v >= UINT32_MAX))
		err = v <= 0 ? ENOENT : ENOSPC; /* UIDs ran out: a new UIDVALIDITY is needed */
	*uid_r = (uint32_t)v;
	return err;
}

int si_folder_next_modseq(store *s, int64_t folder, uint64_t *modseq_r)
{
	int64_t v = 0;
	int err = run(s, "UPDATE folder SET highestmodseq=highestmodseq+1 WHERE id=?2"
			 " RETURNING highestmodseq", NULL, folder, 0, &v);
	*modseq_r = (uint64_t)v;
	return err != 0 ? err : v > 0 ? 0 : ENOENT;
}

int si_folder_stats(store *s, int64_t folder, uint32_t *messages, uint32_t *unseen,
		    uint64_t *size)
{
	sqlite3_stmt *st;
	int err = si_prepare(s, "SELECT count(*), coalesce(sum((flags&1)=0),0),"
				" coalesce(sum(size),0) FROM msg WHERE folder=?1", &st);
	if (err != 0)
		return err;
	sqlite3_bind_int64(st, 1, folder);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*messages = (uint32_t)sqlite3_column_int64(st, 0);
		*unseen = (uint32_t)sqlite3_column_int64(st, 1);
		*size = (uint64_t)sqlite3_column_int64(st, 2);
	}
	si_done(s, st);
	return si_err(rc);
}

int si_msg_insert(store *s, int64_t folder, const struct si_msg *m)
{
	sqlite3_stmt *st;
	int err = si_prepare(s, "INSERT INTO msg(folder,uid,base,flags,keywords,modseq,"
				"internaldate,size) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)", &st);
	if (err != 0)
		return err;
	sqlite3_bind_int64(st, 1, folder);
	sqlite3_bind_int64(st, 2, m->uid);
	sqlite3_bind_text(st, 3, m->base, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, (int)m->flags);
	if (m->keywords != NULL)
		sqlite3_bind_text(st, 5, m->keywords, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (int64_t)m->modseq);
	sqlite3_bind_int64(st, 7, m->internaldate);
	sqlite3_bind_int64(st, 8, (int64_t)m->size);
	int rc = sqlite3_step(st);
	si_done(s, st);
	err = si_err(rc);
	if (err == 0)
		err = si_meta_add(s, "msgs", 1);
	if (err == 0)
		err = si_meta_add(s, "bytes", (int64_t)m->size);
	return err;
}

int si_msg_delete(store *s, int64_t folder, uint32_t uid)
{
	int64_t size = -1;
	int err = run(s, "DELETE FROM msg WHERE folder=?2 AND uid=?3 RETURNING size", NULL, folder,
		      uid, &size);
	if (err == 0 && size >= 0)
		err = si_meta_add(s, "msgs", -1);
	if (err == 0 && size >= 0)
		err = si_meta_add(s, "bytes", -size);
	return err;
}

int si_msg_set_flags(store *s, int64_t folder, uint32_t uid, unsigned flags,
		     const char *keywords, uint64_t modseq)
{
	sqlite3_stmt *st;
	int err = si_prepare(s, "UPDATE msg SET flags=?3, keywords=?4, modseq=?5"
				" WHERE folder=?1 AND uid=?2", &st);
	if (err != 0)
		return err;
	sqlite3_bind_int64(st, 1, folder);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int(st, 3, (int)flags);
	if (keywords != NULL)
		sqlite3_bind_text(st, 4, keywords, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (int64_t)modseq);
	int rc = sqlite3_step(st);
	si_done(s, st);
	return si_err(rc);
}

static int msg_row(sqlite3_stmt *st, struct si_msg *m)
{
	m->uid = (uint32_t)sqlite3_column_int64(st, 0);
	snprintf(m->base, sizeof(m->base), "%s", (const char *)sqlite3_column_text(st, 1));
	m->flags = (unsigned)sqlite3_column_int(st, 2);
	const unsigned char *kw = sqlite3_column_text(st, 3);
	m->keywords = NULL;
	if (kw != NULL && (m->keywords = strdup((const char *)kw)) == NULL)
		return ENOMEM;
	m->modseq = (uint64_t)sqlite3_column_int64(st, 4);
	m->internaldate = sqlite3_column_int64(st, 5);
	m->size = (uint64_t)sqlite3_column_int64(st, 6);
	return 0;
}

#define MSG_COLS "uid,base,flags,keywords,modseq,internaldate,size"

void si_msgs_free(struct si_msg *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i].keywords);
	free(list);
}

int si_msg_list(store *s, int64_t folder, const struct store_uidset *set, struct si_msg **list_r,
		size_t *n_r)
{
	sqlite3_stmt *st;
	struct si_msg *list = NULL;
	size_t n = 0, cap = 0;
	int err = 0;
	struct store_range all = {1, UINT32_MAX};
	struct store_uidset whole = {&all, 1};
	if (set == NULL)
		set = &whole;
	*list_r = NULL;
	*n_r = 0;
	err = si_prepare(s, "SELECT " MSG_COLS " FROM msg WHERE folder=?1 AND uid BETWEEN ?2 AND ?3"
			    " ORDER BY uid", &st);
	if (err != 0)
		return err;
	/* Ranges in the given order; the IMAP side sorts and merges them. */
	for (size_t r = 0; r < set->n && err == 0; r++) {
		sqlite3_bind_int64(st, 1, folder);
		sqlite3_bind_int64(st, 2, set->r[r].lo);
		sqlite3_bind_int64(st, 3, set->r[r].hi);
		int rc = SQLITE_DONE;
		while (err == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 32;
				struct si_msg *nl = realloc(list, ncap * sizeof(*nl));
				if (nl == NULL) {
					err = ENOMEM;
					break;
				}
				list = nl;
				cap = ncap;
			}
			err = msg_row(st, &list[n]);
			n += err == 0;
		}
		if (err == 0 && rc != SQLITE_DONE)
			err = si_err(rc);
		sqlite3_reset(st);
	}
	si_done(s, st);
	if (err != 0) {
		si_msgs_free(list, n);
		return err;
	}
	*list_r = list;
	*n_r = n;
	return 0;
}

int si_msg_get(store *s, int64_t folder, uint32_t uid, struct si_msg *m)
{
	sqlite3_stmt *st;
	int err = si_prepare(s, "SELECT " MSG_COLS " FROM msg WHERE folder=?1 AND uid=?2", &st);
	if (err != 0)
		return err;
	sqlite3_bind_int64(st, 1, folder);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	err = rc == SQLITE_ROW ? msg_row(st, m) : rc == SQLITE_DONE ? ENOENT : si_err(rc);
	si_done(s, st);
	return err;
}

int si_quota_check(store *s, uint64_t bytes, uint64_t msgs)
{
	int64_t used_b = 0, used_m = 0, lim_b = 0, lim_m = 0;
	int err = si_meta_get(s, "bytes", &used_b);
	if (err == 0)
		err = si_meta_get(s, "msgs", &used_m);
	if (err == 0)
		err = si_meta_get(s, "limit_bytes", &lim_b);
	if (err == 0)
		err = si_meta_get(s, "limit_msgs", &lim_m);
	if (err != 0)
		return err;
	if (lim_b > 0 && (uint64_t)used_b + bytes > (uint64_t)lim_b)
		return EDQUOT;
	if (lim_m > 0 && (uint64_t)used_m + msgs > (uint64_t)lim_m)
		return EDQUOT;
	return 0;
}

int si_folder_delete_one(store *s, int64_t folder)
{
	return run(s, "DELETE FROM folder WHERE id=?2", NULL, folder, 0, NULL);
}

int si_quota_recount(store *s)
{
	int err = run(s, "UPDATE meta SET v=(SELECT count(*) FROM msg) WHERE k='msgs'", NULL, 0, 0,
		      NULL);
	if (err == 0)
		err = run(s, "UPDATE meta SET v=(SELECT coalesce(sum(size),0) FROM msg)"
			     " WHERE k='bytes'", NULL, 0, 0, NULL);
	return err;
}
