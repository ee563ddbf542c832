/* Scale check of ternd's outbound queue (cmd/ternd/queue/): fills a queue
 * with N messages through the real writer (fsync, rename, fsync dir, index)
 * and times adding, reopening (recovery), `list`, the due query and
 * recording outcomes. It only prints. Build and run by hand (docs/queue.md):
 *
 *   cmake --build build -j2 --target tern_static
 *   cc -O2 -D_GNU_SOURCE -Isrc -Icmd/ternd -Iinclude -o /tmp/queue_scale \
 *      bench/queue_scale.c cmd/ternd/queue/qfile.c cmd/ternd/queue/sched.c \
 *      cmd/ternd/queue/store.c cmd/ternd/queue/writer.c cmd/ternd/queue/deliver.c \
 *      cmd/ternd/queue/admin.c cmd/ternd/queue/pickup.c build/libtern.a -lsqlite3
 *   /tmp/queue_scale DIR [N]      (DIR must not exist; it is left for a look)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue/queue.h"
#include "queue/queue_int.h"

static double secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "queue_scale: %s: %s\n", what, strerror(err));
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: queue_scale DIR [N]\n");
		return 64;
	}
	const char *dir = argv[1];
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 100000;
	int64_t now = 1700000000;
	q_store *q;
	int err = q_store_open(&q, dir, NULL, Q_OPEN_OWNER, now);
	if (err != 0)
		die("open", err);

	char body[2048];
	memset(body, 'x', sizeof(body));
	for (size_t i = 76; i < sizeof(body); i += 78) {
		body[i] = '\r';
		body[i + 1] = '\n';
	}
	double t = secs();
	for (unsigned i = 0; i < n; i++) {
		char a0[64], a1[64];
		snprintf(a0, sizeof(a0), "user%u@d%u.example", i, i % 1000);
		snprintf(a1, sizeof(a1), "other%u@d%u.example", i, (i * 7) % 1000);
		struct q_rcpt r[2] = {{.addr = a0}, {.addr = a1}};
		struct q_envelope env = {.arrival = now, .sender = "sender@example.org",
					 .rcpts = r, .nrcpt = 1 + i % 2};
		q_writer *w;
		char id[Q_ID_SIZE];
		if ((err = q_writer_open(q, &env, &w)) != 0)
			die("writer", err);
		if ((err = q_writer_write(w, body, sizeof(body))) != 0)
			die("write", err);
		if ((err = q_writer_commit(&w, id)) != 0)
			die("commit", err);
	}
	double add = secs() - t;
	printf("add:     %u messages in %.1f s: %.0f messages/s (each fsynced before commit "
	       "returns)\n",
	       n, add, n / add);
	q_store_close(&q);

	t = secs();
	if ((err = q_store_open(&q, dir, NULL, Q_OPEN_OWNER, now)) != 0)
		die("reopen", err);
	printf("reopen:  %.3f s (recovery scans incoming/ only)\n", secs() - t);

	FILE *null = fopen("/dev/null", "w");
	t = secs();
	if ((err = q_list(q, null)) != 0)
		die("list", err);
	double list = secs() - t;
	fclose(null);
	printf("list:    %.2f s for %u messages: %.1f us per message\n", list, n, list * 1e6 / n);

	/* Due queries: claim 100 at a time, record them delivered. */
	unsigned rounds = 200, claimed = 0, removed = 0;
	double due = 0, rec = 0;
	for (unsigned k = 0; k < rounds; k++) {
		struct q_batch b;
		t = secs();
		if ((err = q_due(q, now, 100, &b)) != 0)
			die("due", err);
		due += secs() - t;
		claimed += b.n;
		t = secs();
		for (unsigned j = 0; j < b.n; j++) {
			struct q_result r = {
				.idx = b.jobs[j].idx, .outcome = Q_DELIVERED, .code = 250};
			struct q_record_summary s;
			if ((err = q_record(q, b.jobs[j].id, &r, 1, now, &s)) != 0)
				die("record", err);
			removed += s.removed;
		}
		rec += secs() - t;
		q_batch_free(&b);
	}
	printf("due:     %.2f ms per query of 100 (%u claimed over %u queries)\n",
	       due * 1e3 / rounds, claimed, rounds);
	printf("record:  %.0f outcomes/s (%u messages removed)\n", claimed / rec, removed);
	uint64_t count, bytes;
	if ((err = q_store_stats(q, &count, &bytes)) != 0)
		die("stats", err);
	t = secs();
	for (int i = 0; i < 1000; i++)
		(void)q_store_full(q, 1ull << 40, 4096);
	printf("stats:   %llu messages, %llu bytes; q_store_full %.1f us\n",
	       (unsigned long long)count, (unsigned long long)bytes, (secs() - t) * 1e3);
	q_store_close(&q);
	return 0;
}
