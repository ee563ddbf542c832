/* Recovery: makes the index agree with the files, which are the truth for
 * what exists (the index is the truth for UIDs and flags of what exists).
 * Runs under the exclusive lock, so no change is half-way. Also the index
 * rebuild: a new index.db is this same walk over an empty index. */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fsutil.h"

struct found {
	char name[ST_FILE_MAX + 16];
	size_t baselen; /* the part before ":2," */
	bool used;
};

static int cmp_found(const void *a, const void *b)
{
	return strcmp(((const struct found *)a)->name, ((const struct found *)b)->name);
}

/* Empties dir/tmp (nothing is in flight under the exclusive lock) and
 * moves dir/new/X to dir/cur/X:2, (mail other programs dropped). */
static int sweep(store *s, const char *dir, struct store_recovery *st)
{
	char from[ST_PATH_MAX], to[ST_PATH_MAX];
	struct dirent *de;
	DIR *d = sf_opendir(s, dir, "tmp");
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] != '.' && unlinkat(dirfd(d), de->d_name, 0) == 0)
				st->tmp_removed++;
		}
		closedir(d);
	}
	d = sf_opendir(s, dir, "new");
	if (d == NULL)
		return 0;
	int err = 0, moved = 0;
	while (err == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) > ST_FILE_MAX - 40)
			continue;
		snprintf(from, sizeof(from), "%s/new/%s", dir, de->d_name);
		snprintf(to, sizeof(to), "%s/cur/%s%s", dir, de->d_name,
			 strstr(de->d_name, ":2,") != NULL ? "" : ":2,");
		err = fs_rename_noreplace(s->userfd, from, s->userfd, to);
		moved++;
	}
	closedir(d);
	snprintf(to, sizeof(to), "%s/cur", dir);
	if (err == 0 && moved > 0)
		err = fs_fsync_dir_at(s->userfd, to);
	return err;
}

/* The files of dir/cur, sorted by name. */
static int list_cur(store *s, const char *dir, struct found **list_r, size_t *n_r)
{
	DIR *d = sf_opendir(s, dir, "cur");
	*list_r = NULL;
	*n_r = 0;
	if (d == NULL)
		return errno;
	struct found *list = NULL;
	size_t n = 0, cap = 0;
	int err = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len >= sizeof(list[0].name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct found *nl = realloc(list, cap * sizeof(*nl));
			if (nl == NULL) {
				err = ENOMEM;
				break;
			}
			list = nl;
		}
		memcpy(list[n].name, de->d_name, len + 1);
		const char *info = strstr(list[n].name, ":2,");
		list[n].baselen = info != NULL ? (size_t)(info - list[n].name) : len;
		list[n].used = false;
		n += list[n].baselen < ST_FILE_MAX;
	}
	closedir(d);
	if (err != 0) {
		free(list);
		return err;
	}
	if (n > 1)
		qsort(list, n, sizeof(*list), cmp_found);
	*list_r = list;
	*n_r = n;
	return 0;
}

static struct found *find_base(struct found *list, size_t n, const char *base)
{
	size_t bl = strlen(base);
	/* Sorted by whole name; the base is a prefix, so a linear scan from
	 * the lower bound of the base finds it. */
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strncmp(list[mid].name, base, bl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && strncmp(list[lo].name, base, bl) == 0; lo++) {
		if (list[lo].baselen == bl)
			return &list[lo];
	}
	return NULL;
}

/* Size from ",S=" in the base (maildir++), else from the file. */
static int file_facts(store *s, const char *dir, const struct found *fd, uint64_t *size,
		      int64_t *mtime)
{
	char path[ST_PATH_MAX];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/cur/%s", dir, fd->name);
	if (fstatat(s->userfd, path, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return errno;
	*mtime = sb.st_mtime;
	*size = (uint64_t)sb.st_size;
	const char *sz = strstr(fd->name, ",S=");
	if (sz != NULL && sz < fd->name + fd->baselen)
		*size = strtoull(sz + 3, NULL, 10);
	return 0;
}

static int reconcile_folder(store *s, const struct si_folder *f, struct store_recovery *st)
{
	char dir[ST_NAME_MAX + 2];
	struct found *files;
	struct si_msg *ml = NULL;
	size_t nf, n = 0;
	st_folder_dir(f->name, dir, sizeof(dir));
	int err = sweep(s, dir, st);
	if (err == 0) {
		st_point(s, "recover.swept");
		err = list_cur(s, dir, &files, &nf);
	}
	if (err != 0)
		return err;
	err = si_msg_list(s, f->id, NULL, &ml, &n);
	if (err == 0)
		err = si_begin(s);
	for (size_t i = 0; err == 0 && i < n; i++) {
		struct found *fd = find_base(files, nf, ml[i].base);
		if (fd == NULL) {
			err = si_msg_delete(s, f->id, ml[i].uid);
			st->rows_dropped++;
			continue;
		}
		fd->used = true;
		unsigned named = st_flags_parse(fd->name + fd->baselen);
		if (named != ml[i].flags) {
			err = sf_set_flags(s, dir, ml[i].base, named, ml[i].flags);
			st->files_renamed++;
		}
	}
	for (size_t i = 0; err == 0 && i < nf; i++) {
		if (files[i].used)
			continue;
		char base[ST_FILE_MAX];
		uint64_t size = 0;
		int64_t mtime = 0;
		uint32_t uid;
		snprintf(base, sizeof(base), "%.*s", (int)files[i].baselen, files[i].name);
		const char *info = files[i].name + files[i].baselen;
		err = file_facts(s, dir, &files[i], &size, &mtime);
		if (err == 0)
			err = st_index_file(s, f, base, *info ? st_flags_parse(info) : 0, NULL,
					    mtime, size, &uid);
		if (err == EEXIST) {
			/* A second name for an indexed base (not one the store
			 * makes): left alone rather than failing the recovery. */
			err = 0;
			continue;
		}
		st->files_added++;
	}
	if (err == 0 && st->files_renamed > 0)
		err = sf_sync_cur(s, dir);
	if (err == 0 && (st->rows_dropped | st->files_added))
		err = si_meta_add(s, "change", 1);
	err = err == 0 ? si_commit(s) : (si_rollback(s), err);
	if (err == 0)
		st_point(s, "recover.folder");
	si_msgs_free(ml, n);
	free(files);
	return err;
}

/* Folders on disk missing from the index are added; rows whose directory
 * is gone are dropped; leftovers of a deletion are removed. */
static int reconcile_folders(store *s, int64_t now, struct store_recovery *st)
{
	int fd = dup(s->userfd);
	if (fd < 0)
		return errno;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return ENOMEM;
	}
	/* INBOX is "." and always there. */
	int err = lseek(fd, 0, SEEK_SET) == 0 ? 0 : errno;
	struct dirent *de;
	while (err == 0 && (de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		struct si_folder f;
		if (strncmp(nm, "..DELETED.", 10) == 0) {
			(void)sf_remove_tree(s->userfd, nm);
			continue;
		}
		if (nm[0] != '.' || st_name_check(nm + 1) != 0)
			continue;
		struct stat sb;
		char cur[ST_NAME_MAX + 8];
		snprintf(cur, sizeof(cur), "%s/cur", nm);
		if (fstatat(s->userfd, cur, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(sb.st_mode))
			continue;
		err = si_folder_get(s, nm + 1, &f);
		if (err == ENOENT) {
			uint32_t uv;
			err = st_uidvalidity_take(s, now, &uv);
			if (err == 0)
				err = si_folder_insert(s, nm + 1, NULL, uv);
			st->folders_added++;
		}
	}
	closedir(d);
	struct si_folder *fl;
	size_t n;
	if (err == 0)
		err = si_folder_list(s, &fl, &n);
	if (err != 0)
		return err;
	for (size_t i = 0; err == 0 && i < n; i++) {
		char dir[ST_NAME_MAX + 8];
		struct stat sb;
		st_folder_dir(fl[i].name, dir, sizeof(dir));
		strcat(dir, "/cur");
		if (fstatat(s->userfd, dir, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (strcmp(fl[i].name, "INBOX") == 0) {
			err = sf_make_folder(s, ".");
			continue;
		}
		err = si_folder_delete_one(s, fl[i].id);
		st->folders_dropped++;
	}
	free(fl);
	return err;
}

int st_reconcile(store *s, int64_t now, bool rebuild, struct store_recovery *stats)
{
	struct store_recovery st = {0};
	struct si_folder *fl = NULL;
	size_t n = 0;
	(void)rebuild; /* the same walk: an empty index has every file unindexed */
	int err = reconcile_folders(s, now, &st);
	if (err == 0)
		err = si_folder_list(s, &fl, &n);
	for (size_t i = 0; err == 0 && i < n; i++)
		err = reconcile_folder(s, &fl[i], &st);
	free(fl);
	if (err == 0 && (err = si_begin(s)) == 0) {
		err = si_quota_recount(s);
		err = err == 0 ? si_commit(s) : (si_rollback(s), err);
	}
	if (stats != NULL)
		*stats = st;
	return err;
}
