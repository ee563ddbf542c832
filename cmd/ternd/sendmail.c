/* `ternd sendmail` (also run as `sendmail`): the interface cron, PHP's
 * mail() and scripts expect, dropping the message into the queue's pickup
 * directory (queue/queue.h, P1), from which the running ternd queues it
 * within a second, exactly once. See docs/sendmail.md.
 *
 *   sendmail [-t] [-i|-oi] [-f SENDER] [-F NAME] [-N DSN] [-V ENVID] [-B 7BIT|8BITMIME]
 *            [--state-dir DIR | -C CONFIG] [--] [RECIPIENT...] < message
 *
 * What it does to the message (as Postfix's sendmail does): LF line ends
 * become CRLF; without -i a line holding only "." ends the input; Bcc:
 * headers are removed (after -t read them); From:, Date: and Message-ID:
 * are added when missing, and a Received: line names the user. Exit status
 * by sysexits(3): 0, 64 usage, 65 no recipient or a bad address, 66 no
 * queue, 73 cannot write, 75 temporary failure. */
#include "sendmail.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "queue/queue.h"
#include "smtp/client/client.h"
#include "util/address.h"

#define EX_OK_ 0
#define EX_USAGE_ 64
#define EX_DATAERR_ 65
#define EX_NOINPUT_ 66
#define EX_SOFTWARE_ 70
#define EX_CANTCREAT_ 73
#define EX_TEMPFAIL_ 75

/* The header block is read whole (to find recipients and what is
 * missing); the body streams. */
#define MAX_HEADER (1024 * 1024)
#define MAX_RCPTS 1000

struct sm {
	bool extract;        /* -t */
	bool dot_ends;       /* not -i */
	const char *sender;  /* -f */
	const char *full_name; /* -F */
	unsigned notify;     /* -N */
	const char *envid;   /* -V */
	const char *state_dir;
	char *rcpts[MAX_RCPTS];
	unsigned n_rcpts;
	char host[256];
	char user[256];
	bool eight_bit;
	int body;          /* -B: 7 or 8; 0: decided by the header block */
};

static int usage(void)
{
	fputs("usage: sendmail [-t] [-i] [-f SENDER] [-F NAME] [-N never|success,failure,delay]\n"
	      "                [-V ENVID] [--state-dir DIR | -C CONFIG] [--] [RECIPIENT...]\n",
	      stderr);
	return EX_USAGE_;
}

/* An address as sendmail takes it: trimmed, without <>, "@host" added
 * to a bare local part. NULL when it is empty or has a control character. */
static char *clean_address(const struct sm *s, const char *in, size_t len)
{
	char *out;

	while (len > 0 && isspace((unsigned char)*in)) {
		in++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)in[len - 1]))
		len--;
	if (len >= 2 && in[0] == '<' && in[len - 1] == '>') {
		in++;
		len -= 2;
	}
	if (len == 0 || len > 512)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f || in[i] == ' ' || in[i] == '<' ||
		    in[i] == '>')
			return NULL;
	out = malloc(len + strlen(s->host) + 2);
	if (out == NULL)
		return NULL;
	memcpy(out, in, len);
	out[len] = '\0';
	if (memchr(in, '@', len) == NULL && strcasecmp(out, "postmaster") != 0) {
		out[len] = '@';
		strcpy(out + len + 1, s->host);
	}
	/* What SMTP can carry, or it never leaves the queue (and no DSN
	 * could name it). */
	if (tern__smtpc_path_check(out, TERN__PATH_ALLOW_POSTMASTER) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static int add_rcpt(struct sm *s, const char *in, size_t len)
{
	char *a = clean_address(s, in, len);

	if (a == NULL) {
		fprintf(stderr, "sendmail: bad recipient address '%.*s'\n", (int)len, in);
		return EX_DATAERR_;
	}
	if (s->n_rcpts == MAX_RCPTS) {
		free(a);
		fprintf(stderr, "sendmail: more than %d recipients\n", MAX_RCPTS);
		return EX_DATAERR_;
	}
	for (unsigned i = 0; i < s->n_rcpts; i++) {
		if (strcasecmp(s->rcpts[i], a) == 0) {
			free(a);
			return EX_OK_;
		}
	}
	s->rcpts[s->n_rcpts++] = a;
	return EX_OK_;
}

/* One address-list header value (RFC 5322 3.4, leniently): items split at
 * commas outside quotes, <> and comments; a group's "name:" and ";" go;
 * from an item, the part in <> if any, else the item without comments. */
static int add_address_list(struct sm *s, const char *v)
{
	char item[1024];
	size_t n = 0;
	int depth = 0, rc;
	bool quoted = false, angle = false;

	for (const char *p = v;; p++) {
		char c = *p;

		if (c == '\0' || (c == ',' && !quoted && !angle && depth == 0) ||
		    (c == ';' && !quoted && !angle && depth == 0)) {
			char *lt, *gt, *colon;

			item[n] = '\0';
			colon = strchr(item, ':');
			lt = strchr(item, '<');
			{
				const char *at = strchr(item, '@');

				/* "Group name: a@b, c@d;" and "undisclosed-recipients:;":
				 * the name before ':' is no address. */
				if (colon != NULL && (lt == NULL || colon < lt) &&
				    (at == NULL || colon < at))
					memmove(item, colon + 1, strlen(colon + 1) + 1);
			}
			lt = strchr(item, '<');
			gt = lt != NULL ? strchr(lt, '>') : NULL;
			if (lt != NULL && gt != NULL) {
				if ((rc = add_rcpt(s, lt + 1, (size_t)(gt - lt - 1))) != EX_OK_)
					return rc;
			} else {
				size_t len = strlen(item), k = 0;

				while (k < len && isspace((unsigned char)item[k]))
					k++;
				if (k < len && (rc = add_rcpt(s, item + k, len - k)) != EX_OK_)
					return rc;
			}
			n = 0;
			if (c == '\0')
				return EX_OK_;
			continue;
		}
		if (c == '"' && depth == 0)
			quoted = !quoted;
		else if (c == '(' && !quoted)
			depth++;
		else if (c == ')' && !quoted && depth > 0) {
			depth--;
			continue;
		} else if (c == '<' && !quoted && depth == 0)
			angle = true;
		else if (c == '>' && !quoted && depth == 0)
			angle = false;
		if (depth > 0 || c == '\r' || c == '\n')
			continue; /* comments and folding */
		if (n + 1 < sizeof(item))
			item[n++] = c;
	}
}

static bool header_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* The message on standard input, a line at a time. */
struct reader {
	FILE *in;
	bool dot_ends;
	bool ended;        /* input over (EOF or a lone ".") */
	char *line;
	size_t cap;
};

/* The next line without its line end into r->line; its length, or -1 at the
 * end of the input. */
static ssize_t next_line(struct reader *r, bool *had_nl)
{
	ssize_t n;

	if (r->ended)
		return -1;
	n = getline(&r->line, &r->cap, r->in);
	if (n < 0) {
		r->ended = true;
		return -1;
	}
	*had_nl = n > 0 && r->line[n - 1] == '\n';
	if (*had_nl)
		n--;
	if (n > 0 && r->line[n - 1] == '\r')
		n--;
	r->line[n] = '\0';
	if (r->dot_ends && n == 1 && r->line[0] == '.') {
		r->ended = true;
		return -1;
	}
	return n;
}

static int put(q_writer *w, const void *p, size_t len)
{
	return q_writer_write(w, p, len) == 0 ? EX_OK_ : EX_CANTCREAT_;
}

static void make_date(char *buf, size_t size, time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* Where the queue lives: --state-dir, TERND_STATE_DIR, the -C file's
 * state-dir, or ternd's default. */
static int state_dir_of(const char *config, const char *given, char *out, size_t size)
{
	if (given == NULL)
		given = getenv("TERND_STATE_DIR");
	if (given == NULL && config != NULL) {
		struct ternd_config cfg;
		char err[512];
		char *argv[] = {"ternd", "--config", (char *)config, NULL};

		ternd_config_init(&cfg);
		if (ternd_config_parse(&cfg, 3, argv, err, sizeof(err)) != TERND_EX_OK) {
			fprintf(stderr, "sendmail: -C %s: %s\n", config, err);
			ternd_config_free(&cfg);
			return EX_USAGE_;
		}
		snprintf(out, size, "%s", cfg.state_dir ? cfg.state_dir : TERND_DEFAULT_STATE_DIR);
		ternd_config_free(&cfg);
		return EX_OK_;
	}
	snprintf(out, size, "%s", given != NULL ? given : TERND_DEFAULT_STATE_DIR);
	return EX_OK_;
}

/* Run as root, write as the queue's owner: ternd (maybe --user) must be
 * able to read what lands in pickup/. */
static int become_queue_owner(const char *queue)
{
	struct stat st;

	if (geteuid() != 0 || stat(queue, &st) != 0 || st.st_uid == 0)
		return EX_OK_;
	if (setegid(st.st_gid) != 0 || seteuid(st.st_uid) != 0) {
		fprintf(stderr, "sendmail: cannot write as the queue's owner: %s\n", strerror(errno));
		return EX_CANTCREAT_;
	}
	return EX_OK_;
}

static unsigned parse_notify(const char *v)
{
	unsigned bits = 0;

	if (strcasecmp(v, "never") == 0)
		return Q_NOTIFY_NEVER;
	if (strcasestr(v, "success") != NULL)
		bits |= Q_NOTIFY_SUCCESS;
	if (strcasestr(v, "failure") != NULL)
		bits |= Q_NOTIFY_FAILURE;
	if (strcasestr(v, "delay") != NULL)
		bits |= Q_NOTIFY_DELAY;
	return bits;
}

static void free_rcpts(struct sm *s)
{
	for (unsigned i = 0; i < s->n_rcpts; i++)
		free(s->rcpts[i]);
	s->n_rcpts = 0;
}

int ternd_sendmail_main(int argc, char **argv)
{
	struct sm s = {.dot_ends = true};
	const char *config = NULL;
	struct reader r = {.in = stdin};
	char *headers = NULL, *sender = NULL, state[4096], queue[4200], id[Q_ID_SIZE];
	size_t hlen = 0;
	bool had_nl = true, have_from = false, have_date = false, have_msgid = false;
	q_writer *w = NULL;
	int rc = EX_OK_, i;
	ssize_t n;

	if (gethostname(s.host, sizeof(s.host) - 1) != 0 || s.host[0] == '\0')
		snprintf(s.host, sizeof(s.host), "localhost");
	struct passwd *pw = getpwuid(getuid());
	snprintf(s.user, sizeof(s.user), "%s", pw != NULL ? pw->pw_name : "nobody");
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
/* "-fADDR" or "-f ADDR". */
#define VALUE(flag) (a[2] != '\0' ? a + 2 : (i + 1 < argc ? argv[++i] : NULL))
		if (strcmp(a, "--state-dir") == 0 && i + 1 < argc) {
			s.state_dir = argv[++i];
		} else if (strcmp(a, "-t") == 0) {
			s.extract = true;
		} else if (strcmp(a, "-i") == 0 || strcmp(a, "-oi") == 0) {
			s.dot_ends = false;
		} else if (a[1] == 'f' || a[1] == 'r') {
			if ((s.sender = VALUE(a)) == NULL)
				return usage();
		} else if (a[1] == 'F') {
			if ((s.full_name = VALUE(a)) == NULL)
				return usage();
		} else if (a[1] == 'N') {
			const char *v = VALUE(a);

			if (v == NULL)
				return usage();
			s.notify = parse_notify(v);
		} else if (a[1] == 'V') {
			if ((s.envid = VALUE(a)) == NULL)
				return usage();
		} else if (a[1] == 'B') {
			const char *v = VALUE(a);

			if (v == NULL || (strcasecmp(v, "7BIT") != 0 && strcasecmp(v, "8BITMIME") != 0))
				return usage();
			s.body = strcasecmp(v, "7BIT") == 0 ? 7 : 8;
		} else if (a[1] == 'C') {
			if ((config = VALUE(a)) == NULL)
				return usage();
		} else if (a[1] == 'o' || strcmp(a, "-v") == 0 || strcmp(a, "-bm") == 0 ||
			   strcmp(a, "-U") == 0) {
			/* -oem, -odb, -oi... (handled above), -v, -bm: nothing
			 * to do here, as in Postfix. -oX takes no separate
			 * argument except -o with a space. */
			if (strcmp(a, "-o") == 0 && i + 1 < argc)
				i++;
		} else if (strcmp(a, "-bp") == 0) {
			fprintf(stderr, "sendmail: for -bp use 'ternd queue list' (mailq)\n");
			return EX_USAGE_;
		} else {
			fprintf(stderr, "sendmail: unknown option %s\n", a);
			return usage();
		}
	}
	if (s.full_name != NULL && (tern__has_control(s.full_name, strlen(s.full_name)) ||
				    strlen(s.full_name) > 200)) {
		fprintf(stderr, "sendmail: -F: a control character or over 200 octets\n");
		return EX_USAGE_;
	}
	if (s.envid != NULL) {
		/* RFC 3461 4.4: printable ASCII, at most 100 octets. */
		bool ok = strlen(s.envid) <= 100 && s.envid[0] != '\0';

		for (const char *p = s.envid; ok && *p; p++)
			ok = *p > 0x20 && *p < 0x7f;
		if (!ok) {
			fprintf(stderr, "sendmail: -V: at most 100 printable ASCII octets\n");
			return EX_USAGE_;
		}
	}
	for (; i < argc; i++) {
		/* An argument may itself be a list: "a@x, b@y". */
		if ((rc = add_address_list(&s, argv[i])) != EX_OK_)
			goto out;
	}
	if ((rc = state_dir_of(config, s.state_dir, state, sizeof(state))) != EX_OK_)
		goto out;
	snprintf(queue, sizeof(queue), "%s/queue", state);
	if (access(queue, F_OK) != 0) {
		fprintf(stderr, "sendmail: no queue in %s (is ternd's --state-dir there? give "
				"--state-dir or TERND_STATE_DIR)\n",
			state);
		rc = EX_NOINPUT_;
		goto out;
	}
	if ((rc = become_queue_owner(queue)) != EX_OK_)
		goto out;

	/* The header block. */
	r.dot_ends = s.dot_ends;
	headers = malloc(MAX_HEADER);
	if (headers == NULL) {
		rc = EX_TEMPFAIL_;
		goto out;
	}
	char *cur = NULL; /* the header being unfolded, for -t */
	size_t cur_len = 0;
	bool in_bcc = false;
	for (;;) {
		n = next_line(&r, &had_nl);
		bool header_end = n <= 0;
		bool cont = n > 0 && (r.line[0] == ' ' || r.line[0] == '\t');

		if (!cont && cur != NULL) {
			/* A header is complete: use it for -t. */
			if (s.extract && (header_is(cur, cur_len, "To") || header_is(cur, cur_len, "Cc") ||
					  header_is(cur, cur_len, "Bcc"))) {
				if ((rc = add_address_list(&s, strchr(cur, ':') + 1)) != EX_OK_)
					goto out;
			}
			free(cur);
			cur = NULL;
			cur_len = 0;
		}
		if (header_end)
			break;
		/* A line that is not a header field starts the body (sendmail
		 * does the same for a message without a blank line). */
		if (!cont && (memchr(r.line, ':', (size_t)n) == NULL || r.line[0] == ':'))
			break;
		if (!cont) {
			in_bcc = header_is(r.line, (size_t)n, "Bcc");
			have_from |= header_is(r.line, (size_t)n, "From");
			have_date |= header_is(r.line, (size_t)n, "Date");
			have_msgid |= header_is(r.line, (size_t)n, "Message-ID");
		}
		char *grown = realloc(cur, cur_len + (size_t)n + 2);
		if (grown == NULL) {
			rc = EX_TEMPFAIL_;
			goto out;
		}
		cur = grown;
		memcpy(cur + cur_len, r.line, (size_t)n);
		cur_len += (size_t)n;
		cur[cur_len] = '\0';
		for (ssize_t k = 0; k < n; k++)
			s.eight_bit |= (unsigned char)r.line[k] >= 0x80;
		if (in_bcc)
			continue; /* Bcc: never sent on */
		if (hlen + (size_t)n + 2 > MAX_HEADER) {
			fprintf(stderr, "sendmail: header block over %d octets\n", MAX_HEADER);
			rc = EX_DATAERR_;
			goto out;
		}
		memcpy(headers + hlen, r.line, (size_t)n);
		hlen += (size_t)n;
		headers[hlen++] = '\r';
		headers[hlen++] = '\n';
	}
	free(cur);
	cur = NULL;
	if (s.n_rcpts == 0) {
		fprintf(stderr, "sendmail: no recipients%s\n", s.extract ? " in To:, Cc: or Bcc:" : "");
		rc = EX_DATAERR_;
		goto out;
	}
	sender = s.sender != NULL ? (strcmp(s.sender, "<>") == 0 || s.sender[0] == '\0'
					     ? strdup("")
					     : clean_address(&s, s.sender, strlen(s.sender)))
				  : clean_address(&s, s.user, strlen(s.user));
	if (sender == NULL) {
		fprintf(stderr, "sendmail: bad sender address\n");
		rc = EX_DATAERR_;
		goto out;
	}

	struct q_rcpt qr[MAX_RCPTS];
	bool utf8 = false;
	memset(qr, 0, sizeof(qr));
	for (unsigned k = 0; k < s.n_rcpts; k++) {
		qr[k].addr = s.rcpts[k];
		qr[k].notify = s.notify;
		for (const char *p = s.rcpts[k]; *p; p++)
			utf8 |= (unsigned char)*p >= 0x80;
	}
	for (const char *p = sender; *p; p++)
		utf8 |= (unsigned char)*p >= 0x80;
	char client[300];
	snprintf(client, sizeof(client), "sendmail, uid %u (%s)", (unsigned)getuid(), s.user);
	struct q_envelope env = {
		.arrival = (int64_t)time(NULL),
		.sender = sender,
		.envid = (char *)s.envid,
		/* The envelope is written before the body is read: -B says
		 * what the body is (as Postfix's sendmail), else 8BITMIME only
		 * when the headers already hold 8-bit octets. An unlabelled
		 * 8-bit body goes as 7BIT, as most MTAs send it. */
		.body = s.body == 8 || (s.body == 0 && s.eight_bit) ? Q_BODY_8BITMIME : Q_BODY_7BIT,
		.smtputf8 = utf8,
		.client = client,
		.rcpts = qr,
		.nrcpt = s.n_rcpts,
	};
	int err = q_pickup_writer_open(queue, &env, &w);
	if (err != 0) {
		fprintf(stderr, "sendmail: cannot write into %s/pickup: %s\n", queue, strerror(err));
		rc = err == ENOENT ? EX_NOINPUT_ : EX_CANTCREAT_;
		goto out;
	}
	char line[1200], date[80];
	time_t now = time(NULL);
	unsigned char rnd[8] = {0};

	make_date(date, sizeof(date), now);
	snprintf(line, sizeof(line), "Received: by %s (Tern sendmail, from userid %u);\r\n\t%s\r\n",
		 s.host, (unsigned)getuid(), date);
	rc = put(w, line, strlen(line));
	if (rc == EX_OK_ && !have_from) {
		if (s.full_name != NULL) {
			/* A quoted-string (RFC 5322 3.2.4): "Smith, John" stays
			 * one name; \ and " escaped. Controls were refused. */
			char q[420];
			size_t k = 0;

			for (const char *p = s.full_name; *p && k + 2 < sizeof(q); p++) {
				if (*p == '"' || *p == '\\')
					q[k++] = '\\';
				q[k++] = *p;
			}
			q[k] = '\0';
			snprintf(line, sizeof(line), "From: \"%s\" <%s>\r\n", q, sender);
		}
		else
			snprintf(line, sizeof(line), "From: %s\r\n", sender[0] ? sender : "MAILER-DAEMON");
		rc = put(w, line, strlen(line));
	}
	if (rc == EX_OK_ && !have_date) {
		snprintf(line, sizeof(line), "Date: %s\r\n", date);
		rc = put(w, line, strlen(line));
	}
	if (rc == EX_OK_ && !have_msgid) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			memcpy(rnd, &now, sizeof(rnd) < sizeof(now) ? sizeof(rnd) : sizeof(now));
		snprintf(line, sizeof(line),
			 "Message-ID: <%lld.%02x%02x%02x%02x%02x%02x%02x%02x@%s>\r\n", (long long)now,
			 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], s.host);
		rc = put(w, line, strlen(line));
	}
	if (rc == EX_OK_)
		rc = put(w, headers, hlen);
	if (rc == EX_OK_)
		rc = put(w, "\r\n", 2);
	/* The line that ended the header block, if it was a body line. */
	if (rc == EX_OK_ && n > 0) {
		rc = put(w, r.line, (size_t)n);
		if (rc == EX_OK_)
			rc = put(w, "\r\n", 2);
	}
	while (rc == EX_OK_ && (n = next_line(&r, &had_nl)) >= 0) {
		rc = put(w, r.line, (size_t)n);
		if (rc == EX_OK_)
			rc = put(w, "\r\n", 2);
	}
	if (rc == EX_OK_ && ferror(stdin)) {
		fprintf(stderr, "sendmail: reading the message: %s\n", strerror(errno));
		rc = EX_TEMPFAIL_;
	}
	if (rc != EX_OK_) {
		q_writer_abort(&w);
		if (rc == EX_CANTCREAT_)
			fprintf(stderr, "sendmail: cannot write the message into the queue\n");
		goto out;
	}
	err = q_writer_commit(&w, id);
	if (err != 0) {
		fprintf(stderr, "sendmail: cannot write the message into the queue: %s\n",
			strerror(err));
		rc = EX_TEMPFAIL_;
		goto out;
	}
out:
	q_writer_abort(&w);
	free(headers);
	free(sender);
	free(r.line);
	free_rcpts(&s);
	return rc;
}
