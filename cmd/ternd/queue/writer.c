/* Adding a message: W1 (tmp/), W2 (durable in incoming/), W3 (indexed);
 * see queue.h. */
#include "queue_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "../fsutil.h"

/* stdio's buffer for the file: bounds memory per message in progress. */
#define Q_WRITER_BUF (64 * 1024)

struct q_writer {
	q_store *q;       /* NULL for a pickup dropper */
	int tmpfd;        /* where the file is written */
	int dstfd;        /* where commit renames it */
	int ownfd;        /* a directory fd the writer opened itself, or -1 */
	char id[Q_ID_SIZE];
	char tmpname[Q_ID_SIZE + 1];
	FILE *f;
	struct q_envelope env;
	uint64_t *st_off;
	uint64_t body_len;
	uint64_t z_off;   /* the Z line's offset, with env.prefix_room */
	bool prefixed;
	int err;
	bool synced;      /* q_writer_sync made the file durable already */
};

/* W1: a new file named by a new id in w->tmpfd (prefixed with '.' in a
 * pickup directory, which ternd skips), with the header. */
static int writer_start(q_writer *w, struct q_idgen *g, const struct q_envelope *env,
			bool dot)
{
	if (env->nrcpt == 0 || env->nrcpt > Q_RCPT_MAX || env->sender == NULL)
		return EINVAL;
	int err = q_envelope_copy(&w->env, env);
	if (err == 0 && (w->st_off = calloc(env->nrcpt, sizeof(*w->st_off))) == NULL)
		err = ENOMEM;
	int fd = -1;
	/* A clash (another process made the same id) gets a new one. */
	for (int tries = 0; err == 0 && fd < 0 && tries < 8; tries++) {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		q_id_make(g, tv.tv_sec, tv.tv_usec, w->id);
		snprintf(w->tmpname, sizeof(w->tmpname), "%s%s", dot ? "." : "", w->id);
		fd = openat(w->tmpfd, w->tmpname,
			    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno != EEXIST)
			err = errno;
	}
	if (err == 0 && fd < 0)
		err = EEXIST;
	if (err == 0 && (w->f = fdopen(fd, "w")) == NULL) {
		err = errno;
		close(fd);
	}
	if (fd < 0)
		w->tmpname[0] = '\0';
	if (err == 0) {
		(void)setvbuf(w->f, NULL, _IOFBF, Q_WRITER_BUF);
		err = q_header_write_ex(w->f, &w->env, w->st_off, &w->z_off);
	}
	if (err == 0 && w->q != NULL)
		q_point(w->q, "writer.opened");
	return err;
}

static q_writer *writer_new(void)
{
	q_writer *w = calloc(1, sizeof(*w));
	if (w != NULL)
		w->ownfd = w->tmpfd = w->dstfd = -1;
	return w;
}

int q_writer_open(q_store *q, const struct q_envelope *env, q_writer **w_r)
{
	*w_r = NULL;
	q_writer *w = writer_new();
	if (w == NULL)
		return ENOMEM;
	w->q = q;
	w->tmpfd = q->tmpfd;
	w->dstfd = q->incfd;
	int err = writer_start(w, &q->idgen, env, false);
	if (err != 0) {
		q_writer_abort(&w);
		return err;
	}
	*w_r = w;
	return 0;
}

int q_pickup_writer_open(const char *dir, const struct q_envelope *env, q_writer **w_r)
{
	*w_r = NULL;
	q_writer *w = writer_new();
	if (w == NULL)
		return ENOMEM;
	int err = 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		err = errno;
	else {
		w->ownfd = openat(dfd, "pickup", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (w->ownfd < 0)
			err = errno;
		close(dfd);
	}
	w->tmpfd = w->dstfd = w->ownfd;
	struct q_idgen g = {0};
	if (err == 0)
		err = writer_start(w, &g, env, true);
	if (err != 0) {
		q_writer_abort(&w);
		return err;
	}
	*w_r = w;
	return 0;
}

int q_writer_write(q_writer *w, const void *buf, size_t len)
{
	if (w->err != 0)
		return w->err;
	errno = 0;
	if (len > 0 && fwrite(buf, 1, len, w->f) != len)
		w->err = errno != 0 ? errno : EIO;
	w->body_len += len;
	return w->err;
}

int q_writer_set_prefix(q_writer *w, const void *prefix, size_t len)
{
	size_t room = w->env.prefix_room;
	/* "Z " + room spaces + "\n" + "\n": the same octets, rearranged. */
	size_t total = room + 4;
	char *buf;
	int err = 0;

	if (room == 0 || w->prefixed || w->synced)
		return EINVAL;
	if (w->err != 0)
		return w->err;
	if (len > room)
		return E2BIG;
	if ((buf = malloc(total)) == NULL)
		return ENOMEM;
	/* The shrunk Z line keeps "Z " at least. */
	buf[0] = 'Z';
	memset(buf + 1, ' ', room - len + 1);
	buf[room - len + 2] = '\n';
	buf[room - len + 3] = '\n';
	memcpy(buf + room - len + 4, prefix, len);
	if (fflush(w->f) != 0)
		err = errno != 0 ? errno : EIO;
	if (err == 0) {
		ssize_t n = pwrite(fileno(w->f), buf, total, (off_t)w->z_off);

		if (n < 0)
			err = errno;
		else if ((size_t)n != total)
			err = EIO;
	}
	free(buf);
	if (err != 0) {
		w->err = err;
		return err;
	}
	w->prefixed = true;
	w->body_len += len;
	return 0;
}

int q_writer_sync(q_writer *w)
{
	int err = w->err;

	if (w->synced)
		return err;
	if (err == 0 && fflush(w->f) != 0)
		err = errno != 0 ? errno : EIO;
	if (err == 0 && fsync(fileno(w->f)) < 0)
		err = errno;
	if (err != 0)
		w->err = err;
	w->synced = err == 0;
	return err;
}

/* W2 up to the rename: the file fsynced, closed, renamed into its
 * destination (not yet durable there). */
static int sync_and_rename(q_writer *w)
{
	q_store *q = w->q;
	int err = q_writer_sync(w);
	if (fclose(w->f) != 0 && err == 0)
		err = errno != 0 ? errno : EIO;
	w->f = NULL;
	if (q != NULL)
		q_point(q, "commit.fsynced");
	if (err == 0)
		err = fs_rename_noreplace(w->tmpfd, w->tmpname, w->dstfd, w->id);
	if (err != 0)
		return err;
	w->tmpname[0] = '\0';
	if (q != NULL)
		q_point(q, "commit.renamed");
	return 0;
}

/* W2: the file durable in its destination directory. */
static int make_durable(q_writer *w)
{
	q_store *q = w->q;
	int err = sync_and_rename(w);
	if (err != 0)
		return err;
	err = fsync(w->dstfd) < 0 ? errno : 0;
	if (err != 0) {
		/* Not known durable: not accepted. */
		(void)unlinkat(w->dstfd, w->id, 0);
		return err;
	}
	if (q != NULL)
		q_point(q, "commit.durable");
	return 0;
}

int q_writer_commit(q_writer **wp, char id_r[Q_ID_SIZE])
{
	q_writer *w = *wp;
	q_store *q = w->q;
	int err = make_durable(w);
	if (err != 0) {
		q_writer_abort(wp);
		return err;
	}
	memcpy(id_r, w->id, Q_ID_SIZE);
	/* W3. Accepted already: an index error only delays indexing to the
	 * next settle or recovery, which find the file in incoming/. */
	if (q != NULL) {
		if (q_index_insert_txn(q, w->id, &w->env, w->st_off, w->body_len, 0) == 0)
			q_point(q, "commit.indexed");
		if (++q->unsettled >= q->opts.settle_batch && q->owner)
			(void)q_store_settle(q);
	}
	q_writer_abort(wp);
	return 0;
}

int q_writers_commit(q_writer **ws, unsigned n, char (*ids)[Q_ID_SIZE], int *errs)
{
	q_store *q = n > 0 ? ws[0]->q : NULL;
	unsigned renamed = 0;
	int dir_err = 0;

	if (q == NULL)
		return EINVAL;
	/* W2 for each (their files were q_writer_sync'ed, maybe on other
	 * threads, in parallel), then the directory once for all. */
	for (unsigned i = 0; i < n; i++) {
		errs[i] = ws[i]->q == q ? sync_and_rename(ws[i]) : EINVAL;
		renamed += errs[i] == 0;
	}
	if (renamed > 0 && fsync(q->incfd) < 0)
		dir_err = errno;
	for (unsigned i = 0; i < n; i++) {
		if (errs[i] == 0 && dir_err != 0) {
			/* Not known durable: not accepted. */
			(void)unlinkat(ws[i]->dstfd, ws[i]->id, 0);
			errs[i] = dir_err;
		}
		if (errs[i] == 0) {
			q_point(q, "commit.durable");
			memcpy(ids[i], ws[i]->id, Q_ID_SIZE);
		}
	}
	/* W3 in one transaction. Accepted already: an index error only
	 * delays indexing to the next settle or recovery. */
	if (renamed > 0 && dir_err == 0 && q_db_begin(q) == 0) {
		int err = 0;

		for (unsigned i = 0; i < n && err == 0; i++)
			if (errs[i] == 0)
				err = q_index_insert(q, ws[i]->id, &ws[i]->env, ws[i]->st_off,
						     ws[i]->body_len, 0);
		if (err == 0 && q_db_commit(q) == 0)
			q_point(q, "commit.indexed");
		else if (err != 0)
			q_db_rollback(q);
	}
	for (unsigned i = 0; i < n; i++) {
		if (errs[i] == 0 && ++q->unsettled >= q->opts.settle_batch && q->owner)
			(void)q_store_settle(q);
		q_writer_abort(&ws[i]);
	}
	return 0;
}

void q_writer_abort(q_writer **wp)
{
	q_writer *w = wp != NULL ? *wp : NULL;
	if (w == NULL)
		return;
	if (w->f != NULL)
		fclose(w->f);
	if (w->tmpname[0] != '\0')
		(void)unlinkat(w->tmpfd, w->tmpname, 0);
	if (w->ownfd >= 0)
		close(w->ownfd);
	q_envelope_free(&w->env);
	free(w->st_off);
	free(w);
	*wp = NULL;
}
