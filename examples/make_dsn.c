/* make_dsn: build a delivery status notification with libtern
 * (tern/dsn.h) and write it to stdout. An example for embedders, and what
 * tests/interop/test_dsn.py parses with Python's email package.
 *
 *   make_dsn --mta mx.example.org --sender a@example.org \
 *            --rcpt b@example.net --action failed --status 5.1.1 \
 *            --remote mx.example.net --code 550 --text "user unknown" \
 *            [--rcpt ...] < original-message
 *
 * Message options: --mta NAME, --sender ADDR ("" for <>), --envid ID,
 * --ret full|hdrs, --smtputf8, --body 7bit|8bitmime|binarymime,
 * --arrival T, --now T (Unix times), --size-limit N, --header-limit N,
 * --max-diagnostic N, --message-id TOKEN, --from ADDR, --original FILE
 * (read through an fd range instead of stdin through a callback),
 * --no-original.
 * Recipient options (for the last --rcpt): --action
 * failed|delayed|delivered|relayed|expanded, --status X.Y.Z,
 * --notify never|success,failure,delay, --orcpt TYPE;ADDR, --remote HOST,
 * --code N, --text TEXT, --local (the diagnostic is ours, not the
 * server's), --last-attempt T, --retry-until T.
 *
 * Exit: 0 written; 1 no report due (null sender, nothing wanted: the
 * reason on stderr); 2 bad usage or an error. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tern/dsn.h"

#define MAX_RCPTS 64

static ssize_t read_stdin(void *buf, size_t n, void *arg)
{
	(void)arg;
	for (;;) {
		ssize_t r = read(0, buf, n);

		if (r >= 0)
			return r;
		return TERN_EIO;
	}
}

static int usage(const char *why)
{
	fprintf(stderr, "make_dsn: %s (see the comment at the top of examples/make_dsn.c)\n",
		why);
	return 2;
}

static int parse_action(const char *s, enum tern_dsn_action *a)
{
	static const char *const names[] = {"failed", "delayed", "delivered", "relayed",
					    "expanded"};

	for (int i = 0; i < 5; i++) {
		if (strcmp(s, names[i]) == 0) {
			*a = (enum tern_dsn_action)i;
			return 0;
		}
	}
	return -1;
}

static unsigned parse_notify(const char *s)
{
	unsigned bits = 0;
	char *copy = strdup(s), *save = NULL;

	for (char *w = strtok_r(copy, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
		if (strcasecmp(w, "never") == 0)
			bits |= TERN_SMTP_NOTIFY_NEVER;
		else if (strcasecmp(w, "success") == 0)
			bits |= TERN_SMTP_NOTIFY_SUCCESS;
		else if (strcasecmp(w, "failure") == 0)
			bits |= TERN_SMTP_NOTIFY_FAILURE;
		else if (strcasecmp(w, "delay") == 0)
			bits |= TERN_SMTP_NOTIFY_DELAY;
	}
	free(copy);
	return bits;
}

/* Reads stdin's length when it is a regular file; otherwise slurps it
 * into memory (a pipe has no length to declare). */
static int stdin_original(tern_dsn_original *orig, char **mem)
{
	struct stat st;

	if (fstat(0, &st) == 0 && S_ISREG(st.st_mode)) {
		orig->read = read_stdin;
		orig->len = (uint64_t)st.st_size;
		return 0;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);

	while (buf != NULL) {
		ssize_t n = read(0, buf + len, cap - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			char *b = realloc(buf, cap *= 2);

			if (b == NULL)
				break;
			buf = b;
		}
	}
	if (buf == NULL)
		return -1;
	*mem = buf;
	orig->data = buf;
	orig->len = len;
	return 0;
}

int main(int argc, char **argv)
{
	tern_dsn_options o;
	tern_dsn_rcpt rcpts[MAX_RCPTS];
	tern_dsn_rcpt *r = NULL;
	tern_dsn_info info;
	const char *original = NULL;
	bool no_original = false;
	char *mem = NULL;
	size_t n = 0;
	int rc;

	tern_dsn_options_init(&o);
	memset(rcpts, 0, sizeof(rcpts));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool flag = strcmp(a, "--smtputf8") == 0 || strcmp(a, "--local") == 0 ||
			    strcmp(a, "--no-original") == 0;

		if (!flag && v == NULL)
			return usage("an option lacks its value");
		if (!flag)
			i++;
		if (strcmp(a, "--mta") == 0) {
			o.reporting_mta = v;
		} else if (strcmp(a, "--sender") == 0) {
			o.sender = v;
		} else if (strcmp(a, "--from") == 0) {
			o.from = v;
		} else if (strcmp(a, "--envid") == 0) {
			o.envid = v;
		} else if (strcmp(a, "--ret") == 0) {
			o.ret = strcmp(v, "hdrs") == 0 ? TERN_SMTP_RET_HDRS : TERN_SMTP_RET_FULL;
		} else if (strcmp(a, "--smtputf8") == 0) {
			o.smtputf8 = true;
		} else if (strcmp(a, "--body") == 0) {
			o.original.body = strcmp(v, "8bitmime") == 0     ? TERN_SMTP_BODY_8BITMIME
					  : strcmp(v, "binarymime") == 0 ? TERN_SMTP_BODY_BINARYMIME
									 : TERN_SMTP_BODY_7BIT;
		} else if (strcmp(a, "--arrival") == 0) {
			o.arrival_date = (time_t)strtoll(v, NULL, 10);
		} else if (strcmp(a, "--now") == 0) {
			o.now = (time_t)strtoll(v, NULL, 10);
		} else if (strcmp(a, "--size-limit") == 0) {
			o.size_limit = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--header-limit") == 0) {
			o.header_limit = strtoul(v, NULL, 10);
		} else if (strcmp(a, "--max-diagnostic") == 0) {
			o.max_diagnostic = strtoul(v, NULL, 10);
		} else if (strcmp(a, "--message-id") == 0) {
			o.message_id = v;
		} else if (strcmp(a, "--original") == 0) {
			original = v;
		} else if (strcmp(a, "--no-original") == 0) {
			no_original = true;
		} else if (strcmp(a, "--rcpt") == 0) {
			if (n == MAX_RCPTS)
				return usage("too many recipients");
			r = &rcpts[n++];
			r->address = v;
		} else if (r == NULL) {
			return usage("a recipient option before --rcpt, or an unknown option");
		} else if (strcmp(a, "--action") == 0) {
			if (parse_action(v, &r->action) != 0)
				return usage("unknown action");
		} else if (strcmp(a, "--status") == 0) {
			r->status = v;
		} else if (strcmp(a, "--notify") == 0) {
			r->notify = parse_notify(v);
		} else if (strcmp(a, "--orcpt") == 0) {
			char *semi = strchr(v, ';');

			if (semi == NULL)
				return usage("--orcpt wants TYPE;ADDRESS");
			*semi = '\0';
			r->orcpt_type = v;
			r->orcpt = semi + 1;
		} else if (strcmp(a, "--remote") == 0) {
			r->remote_mta = v;
			r->diag_remote = true;
		} else if (strcmp(a, "--code") == 0) {
			r->diag_code = atoi(v);
			r->diag_remote = r->diag_remote || r->remote_mta != NULL;
		} else if (strcmp(a, "--text") == 0) {
			r->diag_text = v;
		} else if (strcmp(a, "--local") == 0) {
			r->diag_remote = false;
		} else if (strcmp(a, "--last-attempt") == 0) {
			r->last_attempt = (time_t)strtoll(v, NULL, 10);
		} else if (strcmp(a, "--retry-until") == 0) {
			r->will_retry_until = (time_t)strtoll(v, NULL, 10);
		} else {
			return usage("unknown option");
		}
	}
	o.rcpts = rcpts;
	o.n_rcpts = n;
	if (no_original) {
		/* no third part */
	} else if (original != NULL) {
		struct stat st;

		o.original.fd = open(original, O_RDONLY);
		if (o.original.fd < 0 || fstat(o.original.fd, &st) != 0) {
			perror(original);
			return 2;
		}
		o.original.len = (uint64_t)st.st_size;
	} else if (stdin_original(&o.original, &mem) != 0) {
		return usage("out of memory");
	}
	rc = tern_dsn_build_fd(&o, 1, &info);
	free(mem);
	if (o.original.fd >= 0)
		close(o.original.fd);
	if (rc == TERN_DSN_SKIP_NULL_SENDER || rc == TERN_DSN_SKIP_NOT_WANTED) {
		fprintf(stderr, "make_dsn: no report: %s\n",
			rc == TERN_DSN_SKIP_NULL_SENDER ? "null sender" : "not wanted");
		return 1;
	}
	if (rc != 0) {
		fprintf(stderr, "make_dsn: %s\n", tern_strerror(rc));
		return 2;
	}
	fprintf(stderr, "make_dsn: %llu octets, %zu recipients, %s%s%s\n",
		(unsigned long long)info.size, info.n_reported,
		info.full ? "full" : info.headers ? "headers" : "no original",
		info.smtputf8 ? ", smtputf8" : "",
		info.body == TERN_SMTP_BODY_8BITMIME ? ", 8bitmime" : "");
	return 0;
}
