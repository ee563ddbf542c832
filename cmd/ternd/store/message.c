/* Operations on existing messages: listing, flags and keywords, copy and
 * move, expunge, opening. Each changes the index in one transaction and
 * orders the file step so that a crash leaves only what recovery repairs
 * (docs/store.md). */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>

static const char *canon(const char *folder)
{
	return strcasecmp(folder, "INBOX") == 0 ? "INBOX" : folder;
}

int store_messages(store *s, const char *folder, const struct store_uidset *set,
		   struct store_msg **list_r, size_t *n_r)
{
	struct si_folder f;
	struct si_msg *ml;
	size_t n;
	*list_r = NULL;
	*n_r = 0;
	int err = si_folder_get(s, canon(folder), &f);
	if (err == 0)
		err = si_msg_list(s, f.id, set, &ml, &n);
	if (err != 0)
		return err;
	struct store_msg *out = calloc(n ? n : 1, sizeof(*out));
	if (out == NULL) {
		si_msgs_free(ml, n);
		return ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		out[i].uid = ml[i].uid;
		out[i].flags = ml[i].flags;
		out[i].keywords = ml[i].keywords; /* moved */
		ml[i].keywords = NULL;
		out[i].modseq = ml[i].modseq;
		out[i].internaldate = ml[i].internaldate;
		out[i].size = ml[i].size;
	}
	si_msgs_free(ml, n);
	*list_r = out;
	*n_r = n;
	return 0;
}

void store_msgs_free(struct store_msg *list, size_t n)
{
	for (size_t i = 0; list != NULL && i < n; i++)
		free(list[i].keywords);
	free(list);
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int store_flags(store *s, const char *folder, const struct store_uidset *set,
		enum store_flag_op op, unsigned flags, const char *keywords, uint64_t *modseq_r)
{
	struct si_folder f;
	struct si_msg *ml = NULL;
	size_t n = 0;
	char *kw = NULL, dir[ST_NAME_MAX + 2];
	bool *changed = NULL;
	unsigned *old = NULL; /* the flags before, which the names still say */
	uint64_t modseq = 0;
	if ((flags & ~(unsigned)STORE_FLAGS_ALL) != 0 || op > STORE_FLAGS_REMOVE)
		return EINVAL;
	folder = canon(folder);
	int err = st_keywords_norm(keywords, &kw);
	if (err != 0)
		return err;
	st_folder_dir(folder, dir, sizeof(dir));
	err = st_lock(s, LOCK_SH);
	if (err != 0) {
		free(kw);
		return err;
	}
	if ((err = si_begin(s)) != 0)
		goto out;
	err = si_folder_get(s, folder, &f);
	if (err == 0)
		err = si_msg_list(s, f.id, set, &ml, &n);
	if (err == 0 && ((changed = calloc(n ? n : 1, sizeof(*changed))) == NULL ||
			 (old = calloc(n ? n : 1, sizeof(*old))) == NULL))
		err = ENOMEM;
	modseq = f.highestmodseq;
	for (size_t i = 0; err == 0 && i < n; i++) {
		unsigned nf = op == STORE_FLAGS_SET   ? flags
			      : op == STORE_FLAGS_ADD ? ml[i].flags | flags
						      : ml[i].flags & ~flags;
		char *nk = NULL;
		/* SET with no keywords clears them; ADD/REMOVE with none keeps. */
		err = kw == NULL && op != STORE_FLAGS_SET
			      ? (ml[i].keywords != NULL && (nk = strdup(ml[i].keywords)) == NULL
					 ? ENOMEM
					 : 0)
			      : st_keywords_apply(ml[i].keywords, kw, op, &nk);
		if (err == 0 && (nf != ml[i].flags || !same_str(nk, ml[i].keywords))) {
			if (modseq == f.highestmodseq)
				err = si_folder_next_modseq(s, f.id, &modseq);
			if (err == 0)
				err = si_msg_set_flags(s, f.id, ml[i].uid, nf, nk, modseq);
			changed[i] = true;
			old[i] = ml[i].flags;
			ml[i].flags = nf;
		}
		free(nk);
	}
	if (err == 0 && modseq != f.highestmodseq)
		err = si_meta_add(s, "change", 1);
	err = err == 0 ? si_commit(s) : (si_rollback(s), err);
	if (err != 0)
		goto out;
	st_point(s, "flags.committed");
	/* The index is the truth; the names follow. A crash here leaves old
	 * letters that recovery renames. */
	/* The change is durable now, so it is reported as done even when a
	 * rename fails: a name with stale letters is what a crash here
	 * leaves too, and recovery renames it. */
	bool renamed = false;
	for (size_t i = 0; i < n; i++) {
		if (changed[i])
			renamed |= sf_set_flags(s, dir, ml[i].base, old[i], ml[i].flags) == 0;
	}
	if (renamed)
		(void)sf_sync_cur(s, dir);
out:
	st_lock(s, LOCK_UN);
	for (size_t i = 0; err == 0 && i < n; i++) {
		if (changed[i])
			st_notify(s, STORE_EV_FLAGS, folder, ml[i].uid);
	}
	if (modseq_r != NULL)
		*modseq_r = modseq;
	free(changed);
	free(old);
	si_msgs_free(ml, n);
	free(kw);
	return err;
}

void store_copyuid_free(struct store_copyuid *cu)
{
	free(cu->src);
	free(cu->dst);
	memset(cu, 0, sizeof(*cu));
}

int store_copy(store *s, const char *from, const struct store_uidset *set, const char *to,
	       bool move, struct store_copyuid *cu)
{
	struct si_folder ff, tf;
	struct si_msg *ml = NULL;
	size_t n = 0, done = 0;
	char fdir[ST_NAME_MAX + 2], tdir[ST_NAME_MAX + 2];
	uint32_t *src = NULL, *dst = NULL;
	char (*nb)[ST_FILE_MAX] = NULL; /* the new names */
	from = canon(from);
	to = canon(to);
	if (strcmp(from, to) == 0 && move)
		return EINVAL;
	st_folder_dir(from, fdir, sizeof(fdir));
	st_folder_dir(to, tdir, sizeof(tdir));
	int err = st_lock(s, LOCK_SH);
	if (err != 0)
		return err;
	err = si_folder_get(s, from, &ff);
	if (err == 0)
		err = si_folder_get(s, to, &tf);
	if (err == 0)
		err = si_msg_list(s, ff.id, set, &ml, &n);
	if (err == 0 && ((src = calloc(n ? n : 1, sizeof(*src))) == NULL ||
			 (dst = calloc(n ? n : 1, sizeof(*dst))) == NULL ||
			 (nb = calloc(n ? n : 1, sizeof(*nb))) == NULL))
		err = ENOMEM;
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += ml[i].size;
	if (err == 0 && !move && (err = si_begin(s)) == 0) {
		err = si_quota_check(s, bytes, n);
		si_rollback(s);
	}
	/* Per message: the file first (link, or rename for a move), then one
	 * transaction for all the rows. A crash in between leaves files in the
	 * target without rows (indexed by recovery: a copy may then appear
	 * although not acknowledged) and, for a move, source rows without
	 * files (dropped): a moved message never exists twice. */
	char unique[ST_FILE_MAX - 40];
	for (; err == 0 && done < n; done++) {
		err = sf_unique(s->host, ml[done].internaldate, unique, sizeof(unique));
		snprintf(nb[done], sizeof(nb[done]), "%s,S=%llu", unique,
			 (unsigned long long)ml[done].size);
		if (err == 0)
			err = sf_transfer(s, fdir, ml[done].base, tdir, nb[done], ml[done].flags,
					  move);
		if (err != 0)
			break;
	}
	if (err == 0)
		st_point(s, move ? "move.renamed" : "copy.linked");
	if (err == 0 && (err = si_begin(s)) == 0) {
		for (size_t i = 0; err == 0 && i < n; i++) {
			src[i] = ml[i].uid;
			err = st_index_file(s, &tf, nb[i], ml[i].flags, ml[i].keywords,
					    ml[i].internaldate, ml[i].size, &dst[i]);
			if (err == 0 && move)
				err = si_msg_delete(s, ff.id, ml[i].uid);
		}
		if (err == 0 && !move)
			err = si_quota_check(s, 0, 0);
		err = err == 0 ? si_commit(s) : (si_rollback(s), err);
	}
	if (err != 0) {
		/* Not acknowledged: undo the file steps taken. */
		for (size_t i = 0; i < done; i++) {
			if (move)
				(void)sf_transfer(s, tdir, nb[i], fdir, ml[i].base, ml[i].flags,
						  true);
			else
				(void)sf_unlink(s, tdir, nb[i], ml[i].flags);
		}
	}
	st_lock(s, LOCK_UN);
	for (size_t i = 0; err == 0 && i < n; i++) {
		st_notify(s, STORE_EV_NEW, to, dst[i]);
		if (move)
			st_notify(s, STORE_EV_EXPUNGE, from, src[i]);
	}
	si_msgs_free(ml, n);
	free(nb);
	if (err == 0 && cu != NULL) {
		cu->uidvalidity = tf.uidvalidity;
		cu->src = src;
		cu->dst = dst;
		cu->n = n;
	} else {
		free(src);
		free(dst);
	}
	return err;
}

int store_expunge(store *s, const char *folder, const struct store_uidset *set,
		  bool only_deleted, uint32_t **uids_r, size_t *n_r)
{
	struct si_folder f;
	struct si_msg *ml = NULL;
	size_t n = 0, k = 0;
	char dir[ST_NAME_MAX + 2];
	uint32_t *uids = NULL;
	folder = canon(folder);
	if (set == NULL)
		only_deleted = true;
	st_folder_dir(folder, dir, sizeof(dir));
	int err = st_lock(s, LOCK_SH);
	if (err != 0)
		return err;
	err = si_folder_get(s, folder, &f);
	if (err == 0)
		err = si_msg_list(s, f.id, set, &ml, &n);
	if (err == 0 && (uids = calloc(n ? n : 1, sizeof(*uids))) == NULL)
		err = ENOMEM;
	/* Files first, then rows: a crash between leaves rows without files,
	 * which recovery drops; never a file whose row is gone (it would come
	 * back as a new message). */
	for (size_t i = 0; err == 0 && i < n; i++) {
		if (only_deleted && !(ml[i].flags & STORE_DELETED))
			continue;
		err = sf_unlink(s, dir, ml[i].base, ml[i].flags);
		if (err == 0)
			uids[k++] = ml[i].uid;
	}
	if (k > 0)
		st_point(s, "expunge.unlinked");
	if (k > 0) {
		int e = si_begin(s);
		for (size_t i = 0; e == 0 && i < k; i++)
			e = si_msg_delete(s, f.id, uids[i]);
		if (e == 0)
			e = si_meta_add(s, "change", 1);
		e = e == 0 ? si_commit(s) : (si_rollback(s), e);
		if (err == 0)
			err = e;
	}
	st_lock(s, LOCK_UN);
	for (size_t i = 0; err == 0 && i < k; i++)
		st_notify(s, STORE_EV_EXPUNGE, folder, uids[i]);
	si_msgs_free(ml, n);
	if (err == 0 && uids_r != NULL) {
		*uids_r = uids;
		*n_r = k;
	} else {
		free(uids);
	}
	return err;
}

int store_msg_open(store *s, const char *folder, uint32_t uid, int *fd_r, uint64_t *size_r)
{
	struct si_folder f;
	struct si_msg m = {0};
	char dir[ST_NAME_MAX + 2];
	folder = canon(folder);
	int err = si_folder_get(s, folder, &f);
	if (err == 0)
		err = si_msg_get(s, f.id, uid, &m);
	if (err != 0)
		return err;
	free(m.keywords);
	st_folder_dir(folder, dir, sizeof(dir));
	err = sf_open(s, dir, m.base, m.flags, fd_r);
	if (err == 0 && size_r != NULL)
		*size_r = m.size;
	return err;
}
