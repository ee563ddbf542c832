/* The pickup directory (P1 in queue.h): files dropped by `sendmail` in the
 * queue file format become queued messages by one rename, so a crash can
 * neither lose nor duplicate them.
 *
 * Trust: pickup/ must be writable only by trusted droppers (ternd's user
 * and its sendmail); a file is parsed before it is renamed, and one that is
 * not a valid queue file goes to corrupt/. */
#include "queue_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "../fsutil.h"

static int ingest_one(q_store *q, const char *name)
{
	struct q_envelope env;
	uint64_t size = 0;
	int err = q_file_read_at(q, q->pickupfd, name, &env, &size);
	if (err == EBADMSG || err == ENOENT)
		return 0;
	if (err != 0)
		return err;
	char id[Q_ID_SIZE];
	struct timeval tv;
	gettimeofday(&tv, NULL);
	q_id_make(&q->idgen, tv.tv_sec, tv.tv_usec, id);
	err = fs_rename_noreplace(q->pickupfd, name, q->incfd, id);
	if (err == 0) {
		q_point(q, "pickup.renamed");
		if (fsync(q->incfd) < 0 || fsync(q->pickupfd) < 0)
			err = errno;
	}
	/* An index error leaves the file in incoming/ for settle or recovery. */
	if (err == 0 && q_index_insert_txn(q, id, &env, NULL, size, 0) == 0)
		q_point(q, "pickup.indexed");
	q_envelope_free(&env);
	if (err == 0)
		q->unsettled++;
	return err;
}

int q_pickup_ingest(q_store *q, int64_t now, unsigned *n_r)
{
	(void)now;
	if (n_r != NULL)
		*n_r = 0;
	if (!q->owner)
		return EPERM;
	int fd = dup(q->pickupfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	rewinddir(d);
	int first_err = 0;
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue; /* ".", "..", and files still being written */
		unsigned before = q->unsettled;
		int err = ingest_one(q, de->d_name);
		if (err != 0 && first_err == 0)
			first_err = err;
		n += q->unsettled != before;
	}
	closedir(d);
	if (n > 0) {
		int err = q_store_settle(q);
		if (first_err == 0)
			first_err = err;
	}
	if (n_r != NULL)
		*n_r = n;
	return first_err;
}
