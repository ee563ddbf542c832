/* `ternd queue list|flush|hold|release|delete [ID...|ALL]` (docs/queue.md).
 * Works beside a running ternd: the index is shared through SQLite; what
 * only the owner may do (unlinking files) the running ternd finishes. */
#include "queue_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue.h"

/* sysexits(3), as the rest of ternd. */
#define QCMD_EX_OK 0
#define QCMD_EX_USAGE 64
#define QCMD_EX_DATAERR 65
#define QCMD_EX_SOFTWARE 70
#define QCMD_EX_CANTCREAT 73

static int usage(FILE *out, int rc)
{
	fputs("usage: ternd queue [--state-dir DIR] list\n"
	      "       ternd queue [--state-dir DIR] flush|hold|release|delete ID...|ALL\n",
	      out);
	return rc;
}

typedef int q_admin_fn(q_store *, const char *const *, unsigned, int64_t, unsigned *);

static int do_hold(q_store *q, const char *const *ids, unsigned n, int64_t now, unsigned *c)
{
	(void)now;
	return q_hold(q, ids, n, c);
}

static int do_delete(q_store *q, const char *const *ids, unsigned n, int64_t now, unsigned *c)
{
	(void)now;
	return q_delete(q, ids, n, c);
}

static const struct {
	const char *verb;
	q_admin_fn *fn;
	const char *done; /* past tense for the summary */
} verbs[] = {
	{"flush", q_flush, "flushed"},
	{"hold", do_hold, "held"},
	{"release", q_release, "released"},
	{"delete", do_delete, "deleted"},
};

static int admin(q_store *q, size_t v, int argc, char **argv)
{
	int64_t now = (int64_t)time(NULL);
	unsigned total = 0;
	int rc = QCMD_EX_OK;
	if (argc == 1 && strcmp(argv[0], "ALL") == 0) {
		int err = verbs[v].fn(q, NULL, 0, now, &total);
		if (err != 0) {
			fprintf(stderr, "ternd queue %s: %s\n", verbs[v].verb, strerror(err));
			return QCMD_EX_SOFTWARE;
		}
	} else {
		for (int i = 0; i < argc; i++) {
			unsigned c = 0;
			const char *id = argv[i];
			int err = q_id_valid(id) ? verbs[v].fn(q, &id, 1, now, &c) : 0;
			if (err != 0) {
				fprintf(stderr, "ternd queue %s: %s: %s\n", verbs[v].verb, id,
					strerror(err));
				return QCMD_EX_SOFTWARE;
			}
			if (c == 0) {
				fprintf(stderr, "ternd queue %s: %s: not in the queue\n",
					verbs[v].verb, id);
				rc = QCMD_EX_DATAERR;
			}
			total += c;
		}
	}
	printf("%u message%s %s\n", total, total == 1 ? "" : "s", verbs[v].done);
	return rc;
}

int ternd_queue_main(int argc, char **argv, const char *state_dir)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return usage(stdout, QCMD_EX_OK);
		if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc)
			state_dir = argv[++i];
		else if (strncmp(argv[i], "--state-dir=", 12) == 0)
			state_dir = argv[i] + 12;
		else
			return usage(stderr, QCMD_EX_USAGE);
	}
	if (i >= argc || state_dir == NULL)
		return usage(stderr, QCMD_EX_USAGE);
	const char *verb = argv[i++];
	size_t v = 0;
	bool list = strcmp(verb, "list") == 0;
	while (!list && v < sizeof(verbs) / sizeof(verbs[0]) && strcmp(verbs[v].verb, verb) != 0)
		v++;
	if (!list && v == sizeof(verbs) / sizeof(verbs[0]))
		return usage(stderr, QCMD_EX_USAGE);
	if ((list && i != argc) || (!list && i == argc))
		return usage(stderr, QCMD_EX_USAGE);

	size_t len = strlen(state_dir) + sizeof("/queue");
	char *dir = malloc(len);
	if (dir == NULL)
		return QCMD_EX_SOFTWARE;
	snprintf(dir, len, "%s/queue", state_dir);
	q_store *q = NULL;
	/* With ternd stopped this process may recover the queue itself. */
	int err = q_store_open(&q, dir, NULL, Q_OPEN_TRY_OWNER, (int64_t)time(NULL));
	if (err != 0) {
		fprintf(stderr, "ternd queue: %s: %s\n", dir, strerror(err));
		free(dir);
		return QCMD_EX_CANTCREAT;
	}
	free(dir);
	int rc = QCMD_EX_OK;
	if (list) {
		err = q_list(q, stdout);
		if (err != 0) {
			fprintf(stderr, "ternd queue list: %s\n", strerror(err));
			rc = QCMD_EX_SOFTWARE;
		}
	} else {
		rc = admin(q, v, argc - i, argv + i);
	}
	q_store_close(&q);
	if (fflush(stdout) != 0 && rc == QCMD_EX_OK)
		rc = QCMD_EX_SOFTWARE;
	return rc;
}
