/* The queue store: opening, recovery, settling incoming/, rebuilding the
 * index, counters. queue.h states the invariants each step keeps. */
#include "queue_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fsutil.h"

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta VALUES('count',0),('bytes',0),('barrier',0);"
	"CREATE TABLE IF NOT EXISTS msg("
	" id TEXT PRIMARY KEY, arrival INTEGER NOT NULL, size INTEGER NOT NULL,"
	" sender TEXT NOT NULL, envid TEXT, ret INTEGER NOT NULL, body INTEGER NOT NULL,"
	" smtputf8 INTEGER NOT NULL, requiretls INTEGER NOT NULL, auth TEXT, client TEXT,"
	" hold INTEGER NOT NULL DEFAULT 0, removing INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS msg_removing ON msg(id) WHERE removing=1;"
	"CREATE TABLE IF NOT EXISTS rcpt("
	" msg TEXT NOT NULL, idx INTEGER NOT NULL, addr TEXT NOT NULL, domain TEXT NOT NULL,"
	" orcpt TEXT, notify INTEGER NOT NULL, state INTEGER NOT NULL,"
	" hold INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0, last_at INTEGER, code INTEGER, status TEXT,"
	" text TEXT, host TEXT, dsn INTEGER NOT NULL DEFAULT 0,"
	" delay_sent INTEGER NOT NULL DEFAULT 0, st_off INTEGER NOT NULL,"
	" PRIMARY KEY(msg, idx)) WITHOUT ROWID;"
	/* The due scan: queued or claimed, not held, by time. */
	"CREATE INDEX IF NOT EXISTS rcpt_due ON rcpt(next_at) WHERE state<=2 AND hold=0;"
	/* Recovery of claimed recipients (D1). */
	"CREATE INDEX IF NOT EXISTS rcpt_active ON rcpt(msg) WHERE state=2;"
	/* DSNs owed (q_dsn_pending). */
	"CREATE INDEX IF NOT EXISTS rcpt_dsn ON rcpt(msg) WHERE dsn<>0;";

/* ---- SQLite helpers ---------------------------------------------------- */

int q_db_err(int rc)
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
	default:
		return EIO;
	}
}

int q_db_prepare(q_store *q, const char *sql, sqlite3_stmt **st_r)
{
	size_t free_slot = Q_STMT_CACHE;

	for (size_t i = 0; i < Q_STMT_CACHE; i++) {
		if (q->stmts[i].sql == sql && !q->stmts[i].busy &&
		    strcmp(sqlite3_sql(q->stmts[i].st), sql) == 0) {
			q->stmts[i].busy = true;
			*st_r = q->stmts[i].st;
			return 0;
		}
		if (q->stmts[i].sql == NULL && free_slot == Q_STMT_CACHE)
			free_slot = i;
	}
	int rc = sqlite3_prepare_v3(q->db, sql, -1,
				    free_slot < Q_STMT_CACHE ? SQLITE_PREPARE_PERSISTENT : 0, st_r,
				    NULL);
	if (rc != SQLITE_OK)
		return q_db_err(rc);
	if (free_slot < Q_STMT_CACHE) {
		q->stmts[free_slot].sql = sql;
		q->stmts[free_slot].st = *st_r;
		q->stmts[free_slot].busy = true;
	}
	return 0;
}

void q_db_done(q_store *q, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < Q_STMT_CACHE; i++) {
		if (q->stmts[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			q->stmts[i].busy = false;
			return;
		}
	}
	sqlite3_finalize(st);
}

void q_db_cache_clear(q_store *q)
{
	for (size_t i = 0; i < Q_STMT_CACHE; i++) {
		if (q->stmts[i].st != NULL)
			sqlite3_finalize(q->stmts[i].st);
		q->stmts[i].sql = NULL;
		q->stmts[i].st = NULL;
		q->stmts[i].busy = false;
	}
}

int q_db_exec(q_store *q, const char *sql)
{
	sqlite3_stmt *st;
	int rc, err;

	/* Several statements (the schema): SQLite's own loop, uncached. */
	if (strchr(sql, ';') != NULL)
		return q_db_err(sqlite3_exec(q->db, sql, NULL, NULL, NULL));
	err = q_db_prepare(q, sql, &st);
	if (err != 0)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	q_db_done(q, st);
	return q_db_err(rc);
}

int q_db_begin(q_store *q)
{
	return q_db_exec(q, "BEGIN IMMEDIATE");
}

int q_db_commit(q_store *q)
{
	int err = q_db_exec(q, "COMMIT");
	if (err != 0)
		q_db_rollback(q);
	return err;
}

void q_db_rollback(q_store *q)
{
	if (!sqlite3_get_autocommit(q->db))
		(void)sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

void q_db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int q_db_prepare_id(q_store *q, const char *sql, const char *text1, int64_t int2,
		    sqlite3_stmt **st_r)
{
	int err = q_db_prepare(q, sql, st_r);
	if (err != 0)
		return err;
	if (sqlite3_bind_parameter_count(*st_r) >= 1)
		q_db_bind_text(*st_r, 1, text1);
	if (sqlite3_bind_parameter_count(*st_r) >= 2)
		sqlite3_bind_int64(*st_r, 2, int2);
	return 0;
}

int q_db_run(q_store *q, const char *sql, const char *text1, int64_t int2, int *count_r)
{
	sqlite3_stmt *st;
	int err = q_db_prepare_id(q, sql, text1, int2, &st);
	if (err != 0)
		return err;
	int rc = sqlite3_step(st);
	if (count_r != NULL)
		*count_r = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	q_db_done(q, st);
	return q_db_err(rc);
}

int q_db_has_msg(q_store *q, const char *id)
{
	int n = 0;
	int err = q_db_run(q, "SELECT count(*) FROM msg WHERE id=?1", id, 0, &n);
	return err != 0 ? -err : n > 0;
}

/* Adds delta messages and bytes to the counters (inside a transaction). */
static int count_add(q_store *q, int64_t msgs, int64_t bytes)
{
	int err = q_db_run(q, "UPDATE meta SET v=v+?2 WHERE k='count'", NULL, msgs, NULL);
	return err != 0 ? err : q_db_run(q, "UPDATE meta SET v=v+?2 WHERE k='bytes'", NULL, bytes,
					 NULL);
}

/* ---- files ------------------------------------------------------------- */

static void home_path(const char *id, char *out, size_t size)
{
	char dir[3];
	q_id_dir(id, dir);
	snprintf(out, size, "%s/%s", dir, id);
}

int q_file_open(q_store *q, const char *id, int flags)
{
	char path[8 + Q_ID_SIZE];
	if (!q_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	home_path(id, path, sizeof(path));
	int fd = openat(q->msgfd, path, flags | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		fd = openat(q->incfd, id, flags | O_CLOEXEC | O_NOFOLLOW);
	return fd;
}

int q_file_unlink(q_store *q, const char *id)
{
	char path[8 + Q_ID_SIZE];
	if (!q_id_valid(id))
		return EINVAL;
	home_path(id, path, sizeof(path));
	if (unlinkat(q->msgfd, path, 0) == 0)
		return 0;
	if (errno != ENOENT)
		return errno;
	return unlinkat(q->incfd, id, 0) == 0 ? 0 : errno;
}

int q_file_envelope(int fd, struct q_envelope *env, uint64_t *body_off_r, uint64_t *size_r)
{
	int dupfd = dup(fd);
	if (dupfd < 0)
		return errno;
	FILE *f = fdopen(dupfd, "r");
	if (f == NULL) {
		int err = errno;
		close(dupfd);
		return err;
	}
	uint64_t off = 0;
	struct stat sb;
	int err = fstat(dupfd, &sb) < 0 ? errno : 0;
	if (err == 0 && !S_ISREG(sb.st_mode))
		err = EBADMSG;
	if (err == 0 && lseek(dupfd, 0, SEEK_SET) < 0)
		err = errno;
	if (err == 0)
		err = q_header_read(f, env, &off);
	fclose(f);
	if (err != 0)
		return err;
	if (body_off_r != NULL)
		*body_off_r = off;
	if (size_r != NULL)
		*size_r = (uint64_t)sb.st_size > off ? (uint64_t)sb.st_size - off : 0;
	return 0;
}

/* ---- indexing (W3) ------------------------------------------------------ */

int q_index_insert(q_store *q, const char *id, const struct q_envelope *env,
		   const uint64_t *st_off, uint64_t size, int64_t next_at)
{
	sqlite3_stmt *m = NULL, *r = NULL;
	int err = q_db_prepare(q,
			       "INSERT INTO msg(id,arrival,size,sender,envid,ret,body,smtputf8,"
			       "requiretls,auth,client) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
			       &m);
	if (err == 0)
		err = q_db_prepare(q,
				   "INSERT INTO rcpt(msg,idx,addr,domain,orcpt,notify,state,"
				   "next_at,st_off) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
				   &r);
	if (err != 0)
		goto out;
	q_db_bind_text(m, 1, id);
	sqlite3_bind_int64(m, 2, env->arrival);
	sqlite3_bind_int64(m, 3, (sqlite3_int64)size);
	q_db_bind_text(m, 4, env->sender != NULL ? env->sender : "");
	q_db_bind_text(m, 5, env->envid);
	sqlite3_bind_int(m, 6, (int)env->ret);
	sqlite3_bind_int(m, 7, (int)env->body);
	sqlite3_bind_int(m, 8, env->smtputf8);
	sqlite3_bind_int(m, 9, env->requiretls);
	q_db_bind_text(m, 10, env->auth_user);
	q_db_bind_text(m, 11, env->client);
	if ((err = q_db_err(sqlite3_step(m))) != 0)
		goto out;
	for (unsigned i = 0; i < env->nrcpt && err == 0; i++) {
		const struct q_rcpt *rc = &env->rcpts[i];
		char domain[256];
		q_rcpt_domain(rc->addr, domain, sizeof(domain));
		int state = rc->status == 'D'   ? Q_ST_DELIVERED
			    : rc->status == 'F' ? Q_ST_FAILED
						: Q_ST_PENDING;
		sqlite3_reset(r);
		q_db_bind_text(r, 1, id);
		sqlite3_bind_int(r, 2, (int)i);
		q_db_bind_text(r, 3, rc->addr);
		q_db_bind_text(r, 4, domain);
		q_db_bind_text(r, 5, rc->orcpt);
		sqlite3_bind_int(r, 6, (int)rc->notify);
		sqlite3_bind_int(r, 7, state);
		sqlite3_bind_int64(r, 8, next_at);
		sqlite3_bind_int64(r, 9, (sqlite3_int64)(st_off != NULL ? st_off[i] : rc->st_off));
		err = q_db_err(sqlite3_step(r));
	}
	if (err == 0)
		err = count_add(q, 1, (int64_t)size);
out:
	q_db_done(q, m);
	q_db_done(q, r);
	return err;
}

int q_index_insert_txn(q_store *q, const char *id, const struct q_envelope *env,
		       const uint64_t *st_off, uint64_t size, int64_t next_at)
{
	int err = q_db_begin(q);
	if (err != 0)
		return err;
	err = q_index_insert(q, id, env, st_off, size, next_at);
	if (err != 0) {
		q_db_rollback(q);
		return err;
	}
	return q_db_commit(q);
}

/* Sets a file that is not a queue file aside in corrupt/ (never deleted:
 * it might be someone's mail). */
void q_set_aside(q_store *q, int fromfd, const char *name)
{
	char to[300];
	snprintf(to, sizeof(to), "corrupt/%.255s", name);
	if (fs_ensure_dir_at(q->dirfd, "corrupt", NULL) == 0)
		(void)fs_rename_noreplace(fromfd, name, q->dirfd, to);
}

int q_file_read_at(q_store *q, int dirfd, const char *name, struct q_envelope *env,
		   uint64_t *size_r)
{
	/* O_NONBLOCK: a FIFO dropped in pickup/ must not hang the queue. */
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ELOOP)
			return errno;
		q_set_aside(q, dirfd, name); /* a symlink */
		return EBADMSG;
	}
	int err = q_file_envelope(fd, env, NULL, size_r);
	close(fd);
	if (err == EBADMSG)
		q_set_aside(q, dirfd, name);
	return err;
}

/* Indexes the file name in dirfd (a queue id) when it has no rows, inside
 * the caller's transaction, all of it or nothing (a savepoint). Files whose
 * recipients are all final (a rebuild) are removed instead. Returns 0,
 * EBADMSG (set aside), or another errno. */
static int index_file(q_store *q, int dirfd, const char *name, int64_t now)
{
	int has = q_db_has_msg(q, name);
	if (has != 0)
		return has < 0 ? -has : 0;
	struct q_envelope env;
	uint64_t size = 0;
	int err = q_file_read_at(q, dirfd, name, &env, &size);
	if (err != 0)
		return err == ENOENT ? 0 : err;
	bool open_rcpt = false;
	for (unsigned i = 0; i < env.nrcpt; i++)
		open_rcpt |= env.rcpts[i].status == '-';
	if (open_rcpt && (err = q_db_exec(q, "SAVEPOINT file")) == 0) {
		err = q_index_insert(q, name, &env, NULL, size, now);
		if (err != 0)
			(void)q_db_exec(q, "ROLLBACK TO file");
		(void)q_db_exec(q, "RELEASE file");
	} else if (!open_rcpt && unlinkat(dirfd, name, 0) < 0) {
		err = errno;
	}
	q_envelope_free(&env);
	return err;
}

/* Calls fn for every entry of dirfd that is a queue id. */
static int each_id(int dirfd, int (*fn)(q_store *, int, const char *, int64_t), q_store *q,
		   int64_t now)
{
	int fd = dup(dirfd);
	if (fd < 0)
		return errno;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		int err = errno;
		close(fd);
		return err;
	}
	rewinddir(d);
	int first_err = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		int err = q_id_valid(de->d_name) ? fn(q, dirfd, de->d_name, now) : 0;
		if (err != 0 && err != EBADMSG && first_err == 0)
			first_err = err;
	}
	closedir(d);
	return first_err;
}

static int move_home(q_store *q, int dirfd, const char *name, int64_t now)
{
	(void)now;
	if (q_db_has_msg(q, name) != 1)
		return 0; /* not indexed (an index error): stays for next time */
	char path[8 + Q_ID_SIZE];
	home_path(name, path, sizeof(path));
	int err = fs_rename_noreplace(dirfd, name, q->msgfd, path);
	q_point(q, "settle.moved");
	return err;
}

/* The barrier: one synchronous=FULL commit makes every earlier NORMAL
 * commit durable too (the WAL is synced up to it). */
static int barrier(q_store *q)
{
	int err = q_db_exec(q, "PRAGMA synchronous=FULL");
	if (err == 0)
		err = q_db_exec(q, "UPDATE meta SET v=v+1 WHERE k='barrier'");
	int err2 = q_db_exec(q, "PRAGMA synchronous=NORMAL");
	return err != 0 ? err : err2;
}

int q_store_settle(q_store *q)
{
	if (!q->owner)
		return EPERM;
	int err = q_db_begin(q);
	if (err != 0)
		return err;
	err = each_id(q->incfd, index_file, q, (int64_t)0);
	/* Indexing errors are per file; commit what worked. */
	int cerr = q_db_commit(q);
	q_point(q, "settle.indexed");
	if (cerr == 0)
		cerr = barrier(q);
	q_point(q, "settle.barrier");
	if (cerr == 0)
		cerr = each_id(q->incfd, move_home, q, 0);
	q->unsettled = 0;
	return err != 0 ? err : cerr;
}

/* ---- rebuild (X1) -------------------------------------------------------- */

static int index_dir(q_store *q, int dirfd, int64_t now)
{
	return each_id(dirfd, index_file, q, now);
}

static int rebuild(q_store *q, int64_t now)
{
	int err = q_db_begin(q);
	if (err != 0)
		return err;
	err = q_db_exec(q, "DELETE FROM rcpt; DELETE FROM msg;"
			   "UPDATE meta SET v=0 WHERE k IN ('count','bytes')");
	for (unsigned i = 0; err == 0 && i < 256; i++) {
		char sub[3];
		snprintf(sub, sizeof(sub), "%02x", i);
		int fd = openat(q->msgfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		err = index_dir(q, fd, now);
		close(fd);
	}
	if (err == 0)
		err = index_dir(q, q->incfd, now);
	if (err != 0) {
		q_db_rollback(q);
		return err;
	}
	return q_db_commit(q);
}

int q_store_rebuild(q_store *q, int64_t now)
{
	if (!q->owner)
		return EPERM;
	int err = rebuild(q, now);
	return err != 0 ? err : q_store_settle(q);
}

/* ---- open and recovery ------------------------------------------------- */

static int open_dir(int dirfd, const char *name, int *fd_r)
{
	int err = fs_ensure_dir_at(dirfd, name, NULL);
	if (err != 0)
		return err;
	*fd_r = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return *fd_r < 0 ? errno : 0;
}

static int make_dirs(q_store *q, const char *dir)
{
	/* mkdir -p of the queue directory itself (its parent is the state
	 * directory, which may not exist yet). */
	char *p = strdup(dir);
	if (p == NULL)
		return ENOMEM;
	for (char *s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		(void)mkdir(p, 0700);
		*s = '/';
	}
	free(p);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return errno;
	q->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->dirfd < 0)
		return errno;
	int err = open_dir(q->dirfd, "tmp", &q->tmpfd);
	if (err == 0)
		err = open_dir(q->dirfd, "incoming", &q->incfd);
	if (err == 0)
		err = open_dir(q->dirfd, "msg", &q->msgfd);
	if (err == 0)
		err = open_dir(q->dirfd, "pickup", &q->pickupfd);
	for (unsigned i = 0; err == 0 && i < 256; i++) {
		char sub[3];
		snprintf(sub, sizeof(sub), "%02x", i);
		if (mkdirat(q->msgfd, sub, 0700) < 0 && errno != EEXIST)
			err = errno;
		else if (i == 255)
			err = fsync(q->msgfd) < 0 ? errno : 0;
	}
	return err;
}

/* W1: whatever tmp/ holds was never accepted. */
static int clean_tmp(q_store *q)
{
	int fd = dup(q->tmpfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return errno;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			(void)unlinkat(q->tmpfd, de->d_name, 0);
	}
	closedir(d);
	return 0;
}

static int open_db(q_store *q, const char *dir)
{
	size_t len = strlen(dir) + 32;
	char *path = malloc(len);
	if (path == NULL)
		return ENOMEM;
	snprintf(path, len, "%s/queue.db", dir);
	int rc = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
						       SQLITE_OPEN_NOMUTEX,
				 NULL);
	free(path);
	if (rc != SQLITE_OK)
		return q_db_err(rc) != 0 ? q_db_err(rc) : EIO;
	sqlite3_busy_timeout(q->db, 10000);
	int err = q_db_exec(q, "PRAGMA journal_mode=WAL");
	if (err == 0)
		err = q_db_exec(q, "PRAGMA synchronous=NORMAL");
	if (err == 0)
		err = q_db_exec(q, schema);
	return err;
}

/* Moves queue.db aside (name.lost-NOW) and drops its WAL and shared memory:
 * a stale WAL must never be replayed into a new database. */
static void db_aside(q_store *q, bool keep, int64_t now)
{
	if (keep) {
		char to[64];
		snprintf(to, sizeof(to), "queue.db.lost-%lld", (long long)now);
		(void)renameat(q->dirfd, "queue.db", q->dirfd, to);
	}
	(void)unlinkat(q->dirfd, "queue.db-wal", 0);
	(void)unlinkat(q->dirfd, "queue.db-shm", 0);
}

/* Recovery (owner open): D1, R1, W1, W3/W4, in that order. */
static int recover(q_store *q, int64_t now)
{
	int err = q_db_run(q,
			   "UPDATE rcpt SET state=CASE WHEN attempts=0 THEN 0 ELSE 1 END, "
			   "next_at=?2 WHERE state=2",
			   NULL, now, NULL);
	if (err == 0)
		err = q_finish_removals(q);
	if (err == 0)
		err = clean_tmp(q);
	if (err == 0)
		err = q_store_settle(q);
	return err;
}

int q_store_open(q_store **q_r, const char *dir, const struct q_options *opts, unsigned flags,
		 int64_t now)
{
	*q_r = NULL;
	if (dir == NULL || dir[0] == '\0')
		return EINVAL;
	/* Only ternd makes a queue: `ternd queue --state-dir TYPO` must not. */
	struct stat sb;
	if ((flags & Q_OPEN_OWNER) == 0 && stat(dir, &sb) < 0)
		return errno;
	q_store *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return ENOMEM;
	q->dirfd = q->tmpfd = q->incfd = q->msgfd = q->pickupfd = q->lockfd = -1;
	if (opts != NULL)
		q->opts = *opts;
	else
		q_options_init(&q->opts);
	if (q->opts.settle_batch == 0)
		q->opts.settle_batch = 1;
	int err = make_dirs(q, dir);
	if (err == 0) {
		q->lockfd =
			openat(q->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (q->lockfd < 0)
			err = errno;
	}
	if (err == 0 && (flags & Q_OPEN_OWNER) != 0) {
		if (flock(q->lockfd, LOCK_EX) < 0)
			err = errno;
		else
			q->owner = true;
	} else if (err == 0 && (flags & Q_OPEN_TRY_OWNER) != 0) {
		/* `ternd queue` while ternd is stopped: it may recover too. */
		q->owner = flock(q->lockfd, LOCK_EX | LOCK_NB) == 0;
	}
	bool fresh = false;
	if (err == 0) {
		fresh = fstatat(q->dirfd, "queue.db", &sb, 0) < 0 && errno == ENOENT;
		if (fresh && !q->owner)
			err = ENOENT; /* only the owner may rebuild */
		else if (fresh)
			db_aside(q, false, now);
	}
	if (err == 0) {
		err = open_db(q, dir);
		if (err == EBADMSG && q->owner) {
			/* X1: not a database (any more); rebuild from the files. */
			q_db_cache_clear(q);
			sqlite3_close(q->db);
			q->db = NULL;
			db_aside(q, true, now);
			fresh = true;
			err = open_db(q, dir);
		}
	}
	if (err == 0 && q->owner && fresh)
		err = clean_tmp(q);
	if (err == 0 && q->owner)
		err = fresh ? q_store_rebuild(q, now) : recover(q, now);
	if (err != 0) {
		q_store_close(&q);
		return err;
	}
	*q_r = q;
	return 0;
}

void q_store_close(q_store **qp)
{
	q_store *q = *qp;
	if (q == NULL)
		return;
	if (q->db != NULL && q->owner && q->unsettled > 0)
		(void)q_store_settle(q);
	q_db_cache_clear(q);
	if (q->db != NULL)
		sqlite3_close(q->db);
	int fds[] = {q->tmpfd, q->incfd, q->msgfd, q->pickupfd, q->lockfd, q->dirfd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	free(q);
	*qp = NULL;
}

void q_store_set_hook(q_store *q, q_hook_fn *fn, void *arg)
{
	q->hook = fn;
	q->hook_arg = arg;
}

int q_store_stats(q_store *q, uint64_t *count_r, uint64_t *bytes_r)
{
	sqlite3_stmt *st;
	int err = q_db_prepare(q, "SELECT k, v FROM meta WHERE k IN ('count','bytes')", &st);
	if (err != 0)
		return err;
	*count_r = *bytes_r = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t v = (uint64_t)sqlite3_column_int64(st, 1);
		if (strcmp((const char *)sqlite3_column_text(st, 0), "count") == 0)
			*count_r = v;
		else
			*bytes_r = v;
	}
	q_db_done(q, st);
	return q_db_err(rc);
}

bool q_store_full(q_store *q, uint64_t max_bytes, uint64_t add_bytes)
{
	uint64_t count, bytes;
	if (max_bytes == 0)
		return false;
	if (q_store_stats(q, &count, &bytes) != 0)
		return true; /* cannot tell: fail closed (a 4xx, retried later) */
	return bytes + add_bytes > max_bytes;
}
