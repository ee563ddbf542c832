/* Shared by test_store.c and test_store_crash.c: the store's sources
 * (compiled in directly: they are part of ternd, not of libtern), a
 * temporary root, builders and a consistency check that reads index.db
 * with its own SQL and the directories with readdir. */
#ifndef TEST_STORE_FIXTURE_H
#define TEST_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../cmd/ternd/store/names.c"
#include "../../cmd/ternd/store/files.c"
#include "../../cmd/ternd/store/index.c"
#include "../../cmd/ternd/store/store.c"
#include "../../cmd/ternd/store/append.c"
#include "../../cmd/ternd/store/message.c"
#include "../../cmd/ternd/store/recover.c"

#include <ftw.h>

#define T0 1700000000
#define USER "alice@example.org"

struct sfix {
	char root[64];
	char udir[160];
};

static int sfix_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct sfix *sfix_new(void)
{
	struct sfix *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/ternd-store-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->udir, sizeof(f->udir), "%s/%s", f->root, USER);
	return f;
}

static void sfix_free(struct sfix *f)
{
	nftw(f->root, sfix_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
}

static store *sfix_open(struct sfix *f, unsigned flags)
{
	store *s = NULL;
	assert_int_equal(store_open(&s, f->root, USER, flags, T0), 0);
	return s;
}

/* Appends text to folder, fed byte by byte when bytewise. */
static int sfix_append(store *s, const char *folder, const char *text, unsigned flags,
		       const char *kw, bool bytewise, uint32_t *uid_r)
{
	store_writer *w;
	int err = store_append_begin(s, folder, flags, kw, T0, &w);
	if (err != 0)
		return err;
	size_t len = strlen(text);
	for (size_t i = 0; i < len; i += bytewise ? 1 : len)
		assert_int_equal(store_writer_write(w, text + i, bytewise ? 1 : len - i), 0);
	uint32_t uv;
	return store_append_commit(&w, uid_r, &uv);
}

/* Reads message uid of folder whole into buf. */
static void sfix_read(store *s, const char *folder, uint32_t uid, char *buf, size_t size)
{
	int fd;
	uint64_t sz;
	assert_int_equal(store_msg_open(s, folder, uid, &fd, &sz), 0);
	ssize_t r = read(fd, buf, size - 1);
	assert_true(r >= 0);
	buf[r] = '\0';
	assert_int_equal((uint64_t)r, sz);
	close(fd);
}

/* Entries in f->udir/sub other than "." and "..". */
static unsigned sfix_count(struct sfix *f, const char *sub)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/%s", f->udir, sub);
	DIR *d = opendir(path);
	if (d == NULL)
		return 0;
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static long long sfix_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The index and the files agree: each row has exactly its file with the
 * letters of its flags and S= size, each file in cur/ has a row, new/ and
 * tmp/ are empty, UIDs are below UIDNEXT, MODSEQs at most HIGHESTMODSEQ,
 * and the quota counters are the sums. */
static void sfix_check(struct sfix *f)
{
	char path[400];
	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/index.db", f->udir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	sqlite3_stmt *fs;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT id,name,uidnext,highestmodseq FROM folder",
					    -1, &fs, NULL),
			 SQLITE_OK);
	unsigned rows = 0, files = 0;
	while (sqlite3_step(fs) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(fs, 1);
		char dir[300];
		snprintf(dir, sizeof(dir), "%s", strcmp(name, "INBOX") == 0 ? "." : "");
		if (strcmp(name, "INBOX") != 0)
			snprintf(dir, sizeof(dir), ".%s", name);
		snprintf(path, sizeof(path), "%s/cur", dir);
		files += sfix_count(f, path);
		snprintf(path, sizeof(path), "%s/new", dir);
		assert_int_equal(sfix_count(f, path), 0);
		snprintf(path, sizeof(path), "%s/tmp", dir);
		assert_int_equal(sfix_count(f, path), 0);
		sqlite3_stmt *ms;
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT uid,base,flags,size,modseq FROM msg"
							" WHERE folder=?1",
						    -1, &ms, NULL),
				 SQLITE_OK);
		sqlite3_bind_int64(ms, 1, sqlite3_column_int64(fs, 0));
		while (sqlite3_step(ms) == SQLITE_ROW) {
			rows++;
			assert_true(sqlite3_column_int64(ms, 0) < sqlite3_column_int64(fs, 2));
			assert_true(sqlite3_column_int64(ms, 4) <= sqlite3_column_int64(fs, 3));
			char letters[8], file[700];
			st_flag_letters((unsigned)sqlite3_column_int(ms, 2), letters);
			snprintf(file, sizeof(file), "%s/%s/cur/%s:2,%s", f->udir, dir,
				 (const char *)sqlite3_column_text(ms, 1), letters);
			struct stat sb;
			if (stat(file, &sb) != 0)
				fail_msg("no file %s", file);
			assert_int_equal(sb.st_size, sqlite3_column_int64(ms, 3));
			char want[40];
			snprintf(want, sizeof(want), ",S=%lld", (long long)sb.st_size);
			/* Files from other programs may lack S=. */
			if (strstr(file, ",S=") != NULL)
				assert_non_null(strstr(file, want));
		}
		sqlite3_finalize(ms);
	}
	sqlite3_finalize(fs);
	assert_int_equal(rows, files);
	assert_int_equal(sfix_int(db, "SELECT v FROM meta WHERE k='msgs'"), rows);
	assert_int_equal(sfix_int(db, "SELECT v FROM meta WHERE k='bytes'"),
			 sfix_int(db, "SELECT coalesce(sum(size),0) FROM msg"));
	sqlite3_close(db);
}

#endif
