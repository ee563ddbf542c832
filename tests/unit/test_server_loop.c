/* The net layer and server object end to end: a real server on 127.0.0.1:0,
 * driven by an event loop in this thread (tern_smtp_server_attach) or by its
 * own workers (tern_smtp_server_run), and plain blocking client sockets in a
 * second thread. Every case ends with tern_smtp_server_close() from the
 * client thread (close is thread-safe) and checks that the embedder's loop
 * then runs out of events by itself, with no session left. Leaks are found
 * by the ASan build (TERN_SANITIZE=ON) or valgrind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "server/server.h"
#include "tern/smtp.h"

/* Whole-test watchdog: a hang is a failure, not a stuck CI job. */
#define WATCHDOG_S 60
#define CLIENT_TIMEOUT_MS 5000

struct fixture {
	tern_smtp_server *server;
	unsigned port;
	atomic_int closes;   /* on_close calls */
	atomic_int logs;
	char err[512];       /* first failure seen by the client thread */
	int run_result;      /* run(): its return value */
	unsigned workers;
	struct event_base *base;
	atomic_int pending;  /* decisions answered later */
};

struct client {
	int fd;
	char buf[16384];
	size_t len;
};

static void on_log(tern_smtp_session *session, enum tern_smtp_log_level level, const char *msg,
		   void *user_data)
{
	struct fixture *f = user_data;

	atomic_fetch_add(&f->logs, 1);
	if (getenv("TERN_TEST_VERBOSE") != NULL)
		fprintf(stderr, "log %d %s: %s\n", (int)level,
			session ? tern_smtp_session_id(session) : "-", msg);
}

static void on_close(tern_smtp_session *session, void *user_data)
{
	struct fixture *f = user_data;

	(void)session;
	atomic_fetch_add(&f->closes, 1);
}

static void fail_client(struct fixture *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail_client(struct fixture *f, const char *fmt, ...)
{
	va_list ap;

	if (f->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
}

static int client_connect(struct client *c, unsigned port)
{
	struct sockaddr_in sin;
	struct timeval tv = {CLIENT_TIMEOUT_MS / 1000, (CLIENT_TIMEOUT_MS % 1000) * 1000};

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int client_send(struct client *c, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static int client_puts(struct client *c, const char *s)
{
	return client_send(c, s, strlen(s));
}

/* One line without CRLF into line; -1 on EOF, error or timeout. */
static int read_line(struct client *c, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t n;

		if (nl != NULL) {
			size_t l = (size_t)(nl - c->buf) + 1;
			size_t copy = l - 1;

			if (copy > 0 && c->buf[copy - 1] == '\r')
				copy--;
			if (copy >= size)
				copy = size - 1;
			memcpy(line, c->buf, copy);
			line[copy] = '\0';
			memmove(c->buf, c->buf + l, c->len - l);
			c->len -= l;
			return 0;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

/* Reads one whole (maybe multi-line) reply; returns its code or -1. The
 * last line goes to last (may be NULL). */
static int read_reply(struct client *c, char *last, size_t size)
{
	char line[1024];

	for (;;) {
		if (read_line(c, line, sizeof(line)) != 0)
			return -1;
		if (strlen(line) < 3)
			return -1;
		if (line[3] == '-')
			continue;
		if (last != NULL)
			snprintf(last, size, "%s", line);
		return atoi(line);
	}
}

/* True when the server closes cleanly (FIN, no RST) with nothing more. */
static bool expect_eof(struct client *c)
{
	char b[256];
	ssize_t n;

	if (c->len != 0)
		return false;
	n = recv(c->fd, b, sizeof(b), 0);
	return n == 0;
}

static void close_server(struct fixture *f)
{
	tern_smtp_server_close(f->server);
}

static void options(tern_smtp_options *o, struct fixture *f)
{
	tern_smtp_options_init(o);
	o->name = "mx.test";
	o->callbacks.on_log = on_log;
	o->callbacks.on_close = on_close;
	o->user_data = f;
}

/* Creates the server, attaches it to a fresh base, runs client(f) in a
 * thread and the loop here until it has no events left. tweak may change
 * the server before it starts (internal config). */
static void run_attached(tern_smtp_options *o, struct fixture *f, void *(*client)(void *),
			 void (*tweak)(tern_smtp_server *))
{
	struct event_base *base = event_base_new();
	pthread_t thr;
	int r;

	assert_non_null(base);
	f->base = base;
	assert_int_equal(tern_smtp_server_new(&f->server, o), 0);
	assert_int_equal(tern_smtp_server_listen(f->server, "127.0.0.1:0"), 0);
	if (tweak != NULL)
		tweak(f->server);
	assert_int_equal(tern_smtp_server_attach(f->server, base), 0);
	/* Only one start. */
	assert_int_equal(tern_smtp_server_attach(f->server, base), TERN_ESTATE);
	assert_int_equal(tern_smtp_server_listen(f->server, "127.0.0.1:0"), TERN_ESTATE);
	f->port = tern_smtp_server_bound_port(f->server, 0);
	assert_true(f->port != 0);
	assert_int_equal(tern_smtp_server_bound_port(f->server, 1), 0);

	alarm(WATCHDOG_S);
	assert_int_equal(pthread_create(&thr, NULL, client, f), 0);
	/* Returns 1 once nothing of the server is left on the base: that is
	 * the "loop ends by itself after close" check. */
	while ((r = event_base_loop(base, EVLOOP_ONCE)) == 0)
		;
	assert_int_equal(r, 1);
	pthread_join(thr, NULL);
	alarm(0);
	if (f->err[0] != '\0')
		fail_msg("client: %s", f->err);
	assert_int_equal(tern_smtp_server_session_count(f->server), 0);
	tern_smtp_server_destroy(&f->server);
	assert_null(f->server);
	event_base_free(base);
}

/* ---- cases ---------------------------------------------------------- */

static void *client_ehlo_quit(void *arg)
{
	struct fixture *f = arg;
	struct client c;
	char last[1024];
	int code;

	if (client_connect(&c, f->port) != 0) {
		fail_client(f, "connect: %s", strerror(errno));
		goto out;
	}
	code = read_reply(&c, last, sizeof(last));
	if (code != 220 || strstr(last, "mx.test") == NULL) {
		fail_client(f, "greeting %d '%s'", code, last);
		goto out;
	}
	client_puts(&c, "EHLO x\r\nQUIT\r\n");
	if ((code = read_reply(&c, NULL, 0)) != 250) {
		fail_client(f, "EHLO got %d", code);
		goto out;
	}
	if ((code = read_reply(&c, NULL, 0)) != 221) {
		fail_client(f, "QUIT got %d", code);
		goto out;
	}
	if (!expect_eof(&c))
		fail_client(f, "no clean EOF after 221");
out:
	client_close(&c);
	close_server(f);
	return NULL;
}

static void test_ehlo_quit(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;

	(void)state;
	options(&o, &f);
	run_attached(&o, &f, client_ehlo_quit, NULL);
	assert_int_equal(atomic_load(&f.closes), 1);
	assert_true(atomic_load(&f.logs) > 0);
}

/* Close while a client is connected: its next command gets 421 and the
 * connection ends; the loop ends after it. */
static void *client_close_drains(void *arg)
{
	struct fixture *f = arg;
	struct client c;
	int code;

	if (client_connect(&c, f->port) != 0 || read_reply(&c, NULL, 0) != 220) {
		fail_client(f, "no greeting");
		goto out;
	}
	close_server(f);
	/* An idle session may get its 421 at once, or at its next command. */
	usleep(100 * 1000);
	client_puts(&c, "NOOP\r\n");
	if ((code = read_reply(&c, NULL, 0)) != 421)
		fail_client(f, "NOOP while closing got %d", code);
	else if (!expect_eof(&c))
		fail_client(f, "no EOF after 421");
out:
	client_close(&c);
	close_server(f);
	return NULL;
}

static void test_close_drains(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;

	(void)state;
	options(&o, &f);
	run_attached(&o, &f, client_close_drains, NULL);
	assert_int_equal(atomic_load(&f.closes), 1);
}

/* A client that stays silent after close gets 421 once close_timeout is
 * over. */
static void *client_close_timeout(void *arg)
{
	struct fixture *f = arg;
	struct client c;
	char last[1024] = "";
	int code;

	if (client_connect(&c, f->port) != 0 || read_reply(&c, NULL, 0) != 220) {
		fail_client(f, "no greeting");
		goto out;
	}
	close_server(f);
	if ((code = read_reply(&c, last, sizeof(last))) != 421)
		fail_client(f, "after close timeout got %d", code);
	else if (strstr(last, "4.3.2") == NULL)
		fail_client(f, "421 without 4.3.2: '%s'", last);
	else if (!expect_eof(&c))
		fail_client(f, "no EOF after 421");
out:
	client_close(&c);
	close_server(f);
	return NULL;
}

static void test_close_timeout(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;

	(void)state;
	options(&o, &f);
	o.close_timeout = 200;
	run_attached(&o, &f, client_close_timeout, NULL);
	assert_int_equal(atomic_load(&f.closes), 1);
}

/* The idle timer: 421 after socket_timeout without a command. */
static void *client_idle(void *arg)
{
	struct fixture *f = arg;
	struct client c;
	char last[1024] = "";
	int code;

	if (client_connect(&c, f->port) != 0 || read_reply(&c, NULL, 0) != 220) {
		fail_client(f, "no greeting");
		goto out;
	}
	if ((code = read_reply(&c, last, sizeof(last))) != 421)
		fail_client(f, "idle client got %d", code);
	else if (!expect_eof(&c))
		fail_client(f, "no EOF after idle 421");
out:
	client_close(&c);
	close_server(f);
	return NULL;
}

static void test_idle_timeout(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;

	(void)state;
	options(&o, &f);
	o.socket_timeout = 200;
	run_attached(&o, &f, client_idle, NULL);
	assert_int_equal(atomic_load(&f.closes), 1);
}

/* max_clients = 1: the second client is turned away with 421, the first
 * goes on; once it left, a third is served again. */
static void *client_max_clients(void *arg)
{
	struct fixture *f = arg;
	struct client a, b;
	int code;

	b.fd = -1;
	if (client_connect(&a, f->port) != 0 || read_reply(&a, NULL, 0) != 220) {
		fail_client(f, "first client: no greeting");
		goto out;
	}
	if (client_connect(&b, f->port) != 0) {
		fail_client(f, "second connect failed");
		goto out;
	}
	if (tern_smtp_server_session_count(f->server) < 1)
		fail_client(f, "session count %u with a client greeted",
			    tern_smtp_server_session_count(f->server));
	if ((code = read_reply(&b, NULL, 0)) != 421) {
		fail_client(f, "second client got %d, wanted 421", code);
		goto out;
	}
	if (!expect_eof(&b))
		fail_client(f, "no EOF for the refused client");
	client_close(&b);
	client_puts(&a, "QUIT\r\n");
	if ((code = read_reply(&a, NULL, 0)) != 221)
		fail_client(f, "first client QUIT got %d", code);
	expect_eof(&a);
	client_close(&a);
	/* The slot is free again (once the server saw the close). */
	for (int i = 0; i < 50 && tern_smtp_server_session_count(f->server) != 0; i++)
		usleep(10 * 1000);
	if (client_connect(&b, f->port) != 0 || (code = read_reply(&b, NULL, 0)) != 220)
		fail_client(f, "third client got %d, wanted 220", code);
out:
	client_close(&a);
	client_close(&b);
	close_server(f);
	return NULL;
}

static void test_max_clients(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;

	(void)state;
	options(&o, &f);
	o.max_clients = 1;
	run_attached(&o, &f, client_max_clients, NULL);
	assert_int_equal(atomic_load(&f.closes), 3);
}

/* A message far larger than the input high-water mark, pipelined in one
 * go: exercises evbuffer_peek over many chains and backpressure. */
static void *client_big_message(void *arg)
{
	struct fixture *f = arg;
	const size_t body_lines = 8000; /* ~ 640 KB */
	struct client c;
	char *msg, *p;
	int code;

	msg = malloc(body_lines * 80 + 256);
	if (msg == NULL || client_connect(&c, f->port) != 0 || read_reply(&c, NULL, 0) != 220) {
		fail_client(f, "setup failed");
		c.fd = -1;
		goto out;
	}
	p = msg;
	p += sprintf(p, "EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
	if (client_puts(&c, msg) != 0) {
		fail_client(f, "send failed");
		goto out;
	}
	for (int i = 0; i < 4; i++) {
		code = read_reply(&c, NULL, 0);
		if (code != (i == 3 ? 354 : 250)) {
			fail_client(f, "reply %d to envelope: %d", i, code);
			goto out;
		}
	}
	p = msg;
	for (size_t i = 0; i < body_lines; i++)
		p += sprintf(p, "%06zu %s\r\n", i,
			     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._");
	p += sprintf(p, ".\r\nQUIT\r\n");
	if (client_send(&c, msg, (size_t)(p - msg)) != 0) {
		fail_client(f, "sending the body failed");
		goto out;
	}
	if ((code = read_reply(&c, NULL, 0)) != 250)
		fail_client(f, "end of data got %d", code);
	else if ((code = read_reply(&c, NULL, 0)) != 221)
		fail_client(f, "QUIT got %d", code);
	else if (!expect_eof(&c))
		fail_client(f, "no EOF after QUIT");
out:
	free(msg);
	client_close(&c);
	close_server(f);
	return NULL;
}

static void test_big_message(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;

	(void)state;
	options(&o, &f);
	run_attached(&o, &f, client_big_message, NULL);
	assert_int_equal(atomic_load(&f.closes), 1);
}

/* A client that pipelines far more than fits in the buffers before it reads
 * any reply: output backpressure must pause and resume reading without
 * losing or reordering a reply, and without a deadlock. */
#define FLOOD_COMMANDS 200000

struct flood {
	struct client *c;
	int result;
};

static void *flood_sender(void *arg)
{
	struct flood *fl = arg;
	char chunk[1000 * 6 + 1];

	for (int i = 0; i < 1000; i++)
		memcpy(chunk + i * 6, "NOOP\r\n", 6);
	fl->result = 0;
	for (int i = 0; i < FLOOD_COMMANDS / 1000 && fl->result == 0; i++)
		fl->result = client_send(fl->c, chunk, 1000 * 6);
	if (fl->result == 0)
		fl->result = client_puts(fl->c, "QUIT\r\n");
	return NULL;
}

static void *client_flood(void *arg)
{
	struct fixture *f = arg;
	struct flood fl;
	struct client c;
	pthread_t sender;
	int code, i;

	if (client_connect(&c, f->port) != 0 || read_reply(&c, NULL, 0) != 220) {
		fail_client(f, "no greeting");
		goto out;
	}
	fl.c = &c;
	pthread_create(&sender, NULL, flood_sender, &fl);
	/* Let the server's buffers fill up before reading anything. */
	usleep(200 * 1000);
	for (i = 0; i < FLOOD_COMMANDS; i++) {
		if ((code = read_reply(&c, NULL, 0)) != 250) {
			fail_client(f, "NOOP %d got %d", i, code);
			break;
		}
	}
	if (i == FLOOD_COMMANDS && (code = read_reply(&c, NULL, 0)) != 221)
		fail_client(f, "QUIT after the flood got %d", code);
	pthread_join(sender, NULL);
	if (fl.result != 0)
		fail_client(f, "sending the flood failed");
out:
	client_close(&c);
	close_server(f);
	return NULL;
}

static void test_pipeline_flood(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;

	(void)state;
	options(&o, &f);
	o.max_junk_commands = 0; /* a NOOP flood is the point here */
	run_attached(&o, &f, client_flood, NULL);
	assert_int_equal(atomic_load(&f.closes), 1);
}

/* A client that half-closes right after its commands still gets the
 * replies the server produced for them. */
static void *client_half_close(void *arg)
{
	struct fixture *f = arg;
	struct client c;
	int code;

	if (client_connect(&c, f->port) != 0 || read_reply(&c, NULL, 0) != 220) {
		fail_client(f, "no greeting");
		goto out;
	}
	client_puts(&c, "EHLO x\r\nQUIT\r\n");
	shutdown(c.fd, SHUT_WR);
	if ((code = read_reply(&c, NULL, 0)) != 250)
		fail_client(f, "EHLO got %d", code);
	else if ((code = read_reply(&c, NULL, 0)) != 221)
		fail_client(f, "QUIT got %d", code);
	else if (!expect_eof(&c))
		fail_client(f, "no EOF");
out:
	client_close(&c);
	close_server(f);
	return NULL;
}

static void test_half_close(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;

	(void)state;
	options(&o, &f);
	run_attached(&o, &f, client_half_close, NULL);
	assert_int_equal(atomic_load(&f.closes), 1);
}

/* Bytes before the greeting (greeting delay on) are an early talker: a
 * refusal and close, never a 250. */
static void *client_early_talker(void *arg)
{
	struct fixture *f = arg;
	struct client c;
	int code;

	if (client_connect(&c, f->port) != 0) {
		fail_client(f, "connect failed");
		goto out;
	}
	client_puts(&c, "EHLO x\r\n");
	code = read_reply(&c, NULL, 0);
	if (code < 400)
		fail_client(f, "early talker got %d", code);
	else if (!expect_eof(&c))
		fail_client(f, "no EOF for the early talker");
out:
	client_close(&c);
	close_server(f);
	return NULL;
}

static void set_greeting_delay(tern_smtp_server *s)
{
	s->gen->smtp.greeting_delay = 300;
}

static void test_early_talker(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;

	(void)state;
	options(&o, &f);
	run_attached(&o, &f, client_early_talker, set_greeting_delay);
	assert_int_equal(atomic_load(&f.closes), 1);
}

/* tern_smtp_server_reconfigure() from another thread while sessions run:
 * new connections get the new settings (name, max_per_ip, proxy_from), an
 * open session keeps the old ones, a change to a fixed setting or a bad
 * network changes nothing, and SCRAM's fake-salt key survives. */
static int deny_auth(tern_smtp_session *session, const struct tern_smtp_auth *auth,
		     tern_smtp_reply *reply_r, void *user_data)
{
	(void)session;
	(void)auth;
	(void)reply_r;
	(void)user_data;
	return TERN_SMTP_REJECT;
}

static void reconf_options(tern_smtp_options *o, struct fixture *f, const char *name)
{
	options(o, f);
	o->name = name;
	o->callbacks.on_auth = deny_auth;
	o->allow_insecure_auth = true;
}

/* The first line of the next reply (the rest of it is read and dropped). */
static int first_line(struct client *c, char *first, size_t size)
{
	char line[1024];

	if (read_line(c, first, size) != 0)
		return -1;
	snprintf(line, sizeof(line), "%s", first);
	while (strlen(line) >= 4 && line[3] == '-')
		if (read_line(c, line, sizeof(line)) != 0)
			return -1;
	return atoi(first);
}

static void scram_key(tern_smtp_server *s, unsigned char key[32])
{
	struct tern__server_gen *g = tern__server_gen_get(s);

	memcpy(key, g->smtp.scram_fake_key, 32);
	tern__server_gen_put(g);
}

static void *client_reconfigure(void *arg)
{
	struct fixture *f = arg;
	struct client a = {.fd = -1}, b = {.fd = -1}, c = {.fd = -1};
	unsigned char key[32], key2[32];
	const char *proxies[] = {"127.0.0.1", NULL}, *bad[] = {"no-network", NULL};
	tern_smtp_options o;
	char line[1024];

	scram_key(f->server, key);
	if (client_connect(&a, f->port) != 0 || first_line(&a, line, sizeof(line)) != 220 ||
	    strncmp(line, "220 mx.test ", 12) != 0) {
		fail_client(f, "A: greeting '%s'", line);
		goto out;
	}
	reconf_options(&o, f, "mx2.test");
	o.max_per_ip = 2; /* A and B; C is one too many */
	if (tern_smtp_server_reconfigure(f->server, &o) != 0) {
		fail_client(f, "reconfigure failed");
		goto out;
	}
	scram_key(f->server, key2);
	if (memcmp(key, key2, sizeof(key)) != 0)
		fail_client(f, "the SCRAM fake-salt key changed");
	if (client_connect(&b, f->port) != 0 || first_line(&b, line, sizeof(line)) != 220 ||
	    strncmp(line, "220 mx2.test ", 13) != 0)
		fail_client(f, "B: greeting '%s'", line);
	client_puts(&a, "EHLO x\r\n");
	if (first_line(&a, line, sizeof(line)) != 250 || strncmp(line, "250-mx.test ", 12) != 0)
		fail_client(f, "A keeps its settings: EHLO '%s'", line);
	if (client_connect(&c, f->port) != 0 || first_line(&c, line, sizeof(line)) != 421 ||
	    strstr(line, "4.7.0") == NULL)
		fail_client(f, "C over max_per_ip 2: '%s'", line);
	client_close(&c);
	{
		tern_smtp_stats st = TERN_SMTP_STATS_INIT;

		/* Counted before the 421 was written. */
		if (tern_smtp_server_stats(f->server, &st) != 0 || st.refused_per_ip != 1 ||
		    st.refused_rate != 0 || st.refused_banned != 0)
			fail_client(f, "refused_per_ip %llu", (unsigned long long)st.refused_per_ip);
	}

	/* A fixed setting changed: nothing applies, the name included. */
	reconf_options(&o, f, "mx3.test");
	o.lmtp = true;
	if (tern_smtp_server_reconfigure(f->server, &o) != TERN_EINVAL)
		fail_client(f, "lmtp changed on a running server");
	reconf_options(&o, f, "mx3.test");
	o.callbacks.on_auth = NULL;
	if (tern_smtp_server_reconfigure(f->server, &o) != TERN_EINVAL)
		fail_client(f, "AUTH turned off on a running server");
	reconf_options(&o, f, "mx3.test");
	o.abuse_exempt = bad;
	if (tern_smtp_server_reconfigure(f->server, &o) != TERN_EINVAL)
		fail_client(f, "a bad abuse_exempt network was taken");
	client_puts(&b, "QUIT\r\n");
	if (read_reply(&b, NULL, 0) != 221 || !expect_eof(&b))
		fail_client(f, "B: QUIT");
	client_close(&b);
	if (client_connect(&c, f->port) != 0 || first_line(&c, line, sizeof(line)) != 220 ||
	    strncmp(line, "220 mx2.test ", 13) != 0)
		fail_client(f, "after refused changes: greeting '%s'", line);
	client_close(&c);

	/* proxy_from now names us: a connection must begin with a PROXY
	 * header, and one that does not is closed without a word. */
	reconf_options(&o, f, "mx2.test");
	o.proxy_from = proxies;
	if (tern_smtp_server_reconfigure(f->server, &o) != 0)
		fail_client(f, "reconfigure with proxy_from failed");
	if (client_connect(&c, f->port) != 0) {
		fail_client(f, "connect failed");
	} else {
		char buf[64];
		ssize_t n;

		client_puts(&c, "EHLO x\r\n");
		/* Closed with the command unread: EOF or a reset, no reply. */
		n = recv(c.fd, buf, sizeof(buf), 0);
		if (n > 0 || (n < 0 && errno != ECONNRESET))
			fail_client(f, "no PROXY header: %s", n > 0 ? "a reply" : strerror(errno));
	}
	client_close(&c);
	if (client_connect(&c, f->port) != 0 ||
	    client_puts(&c, "PROXY TCP4 192.0.2.7 192.0.2.1 4711 25\r\n") != 0 ||
	    first_line(&c, line, sizeof(line)) != 220 || strncmp(line, "220 mx2.test ", 13) != 0)
		fail_client(f, "with a PROXY header: '%s'", line);
	client_close(&c);

	client_puts(&a, "QUIT\r\n");
	if (read_reply(&a, NULL, 0) != 221)
		fail_client(f, "A: QUIT");
out:
	client_close(&a);
	client_close(&b);
	client_close(&c);
	close_server(f);
	return NULL;
}

static void test_reconfigure(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;

	(void)state;
	reconf_options(&o, &f, "mx.test");
	run_attached(&o, &f, client_reconfigure, NULL);
	/* A, B, C refused, C after the refused changes, the one behind a
	 * PROXY header (the unheaded one never had a session). */
	assert_int_equal(atomic_load(&f.closes), 5);
	assert_int_equal(tern_smtp_server_reconfigure(NULL, &o), TERN_EINVAL);
}

/* A decision answered later from the loop (a timer here, a database or DNS
 * lookup in real life): input is held meanwhile and replies stay in order. */
static void resume_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tern_smtp_session_resume(arg, NULL);
}

static int pending_mail_from(tern_smtp_session *session, const tern_smtp_mail *mail,
			     tern_smtp_reply *reply_r, void *user_data)
{
	struct fixture *f = user_data;
	struct timeval tv = {0, 50 * 1000};

	(void)mail;
	(void)reply_r;
	atomic_fetch_add(&f->pending, 1);
	event_base_once(f->base, -1, EV_TIMEOUT, resume_later, session, &tv);
	return TERN_SMTP_PENDING;
}

static void *client_pending(void *arg)
{
	struct fixture *f = arg;
	static const int want[] = {250, 250, 250, 250, 221};
	struct client c;
	int code;

	if (client_connect(&c, f->port) != 0 || read_reply(&c, NULL, 0) != 220) {
		fail_client(f, "no greeting");
		goto out;
	}
	client_puts(&c, "EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
			"RSET\r\nQUIT\r\n");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if ((code = read_reply(&c, NULL, 0)) != want[i]) {
			fail_client(f, "reply %zu: %d, wanted %d", i, code, want[i]);
			goto out;
		}
	}
	if (!expect_eof(&c))
		fail_client(f, "no EOF after QUIT");
out:
	client_close(&c);
	close_server(f);
	return NULL;
}

static void test_pending_decision(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;

	(void)state;
	options(&o, &f);
	o.callbacks.on_mail_from = pending_mail_from;
	run_attached(&o, &f, client_pending, NULL);
	assert_int_equal(atomic_load(&f.pending), 1);
	assert_int_equal(atomic_load(&f.closes), 1);
}

/* Closing a server that has no client: the loop ends at once. */
static void *client_none(void *arg)
{
	close_server(arg);
	return NULL;
}

static void test_close_idle_server(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;

	(void)state;
	options(&o, &f);
	run_attached(&o, &f, client_none, NULL);
	assert_int_equal(atomic_load(&f.closes), 0);
}

/* tern_smtp_server_run with several workers on SO_REUSEPORT listeners. */
static void *run_thread(void *arg)
{
	struct fixture *f = arg;

	f->run_result = tern_smtp_server_run(f->server, f->workers);
	return NULL;
}

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 sin6;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	close(fd);
	return ok;
}

static void test_run_workers(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;
	pthread_t thr;
	unsigned port = 0;

	(void)state;
	options(&o, &f);
	f.workers = 3;
	assert_int_equal(tern_smtp_server_new(&f.server, &o), 0);
	assert_int_equal(tern_smtp_server_listen(f.server, "127.0.0.1:0"), 0);
	if (have_ipv6_loopback())
		assert_int_equal(tern_smtp_server_listen(f.server, "[::1]:0"), 0);
	alarm(WATCHDOG_S);
	assert_int_equal(pthread_create(&thr, NULL, run_thread, &f), 0);
	for (int i = 0; i < 500 && port == 0; i++) {
		port = tern_smtp_server_bound_port(f.server, 0);
		if (port == 0)
			usleep(10 * 1000);
	}
	assert_true(port != 0);
	if (have_ipv6_loopback()) {
		unsigned port6 = 0;

		for (int i = 0; i < 500 && port6 == 0; i++) {
			port6 = tern_smtp_server_bound_port(f.server, 1);
			if (port6 == 0)
				usleep(10 * 1000);
		}
		assert_true(port6 != 0);
	}
	f.port = port;
	for (int i = 0; i < 12; i++) {
		struct client c;
		int code;

		assert_int_equal(client_connect(&c, port), 0);
		assert_int_equal(read_reply(&c, NULL, 0), 220);
		client_puts(&c, "EHLO x\r\nQUIT\r\n");
		assert_int_equal(read_reply(&c, NULL, 0), 250);
		code = read_reply(&c, NULL, 0);
		assert_int_equal(code, 221);
		assert_true(expect_eof(&c));
		client_close(&c);
	}
	tern_smtp_server_close(f.server);
	tern_smtp_server_close(f.server); /* twice is fine */
	pthread_join(thr, NULL);
	alarm(0);
	assert_int_equal(f.run_result, 0);
	assert_int_equal(tern_smtp_server_session_count(f.server), 0);
	assert_int_equal(atomic_load(&f.closes), 12);
	/* A finished server does not start again. */
	assert_int_equal(tern_smtp_server_run(f.server, 1), TERN_ESTATE);
	tern_smtp_server_destroy(&f.server);
}

static void test_errors(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;
	tern_smtp_server *s, *s2;
	struct event_base *base;

	(void)state;
	options(&o, &f);
	assert_int_equal(tern_smtp_server_new(&s, &o), 0);
	assert_int_equal(tern_smtp_server_listen(s, "nonsense"), TERN_EADDR);
	/* No address: nothing to run. */
	assert_int_equal(tern_smtp_server_run(s, 1), TERN_ESTATE);
	assert_int_equal(tern_smtp_server_listen(s, "127.0.0.1:0"), 0);

	/* A port already taken: run fails with TERN_EIO / EADDRINUSE. */
	base = event_base_new();
	assert_int_equal(tern_smtp_server_attach(s, base), 0);
	assert_int_equal(tern_smtp_server_new(&s2, &o), 0);
	char spec[32];
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", tern_smtp_server_bound_port(s, 0));
	assert_int_equal(tern_smtp_server_listen(s2, spec), 0);
	assert_int_equal(tern_smtp_server_run(s2, 1), TERN_EIO);
	assert_int_equal(errno, EADDRINUSE);
	assert_int_equal(tern_smtp_server_bound_port(s2, 0), 0);
	/* Closed before it ran: run and attach refuse. */
	tern_smtp_server_close(s2);
	assert_int_equal(tern_smtp_server_run(s2, 1), TERN_ECLOSED);
	tern_smtp_server_destroy(&s2);

	/* Destroying an attached server that was never closed frees it all. */
	tern_smtp_server_destroy(&s);
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	event_base_free(base);
	tern_smtp_server_destroy(&s); /* NULL: nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ehlo_quit),     cmocka_unit_test(test_close_drains),
		cmocka_unit_test(test_close_timeout), cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_max_clients),   cmocka_unit_test(test_big_message),
		cmocka_unit_test(test_pipeline_flood), cmocka_unit_test(test_half_close),    cmocka_unit_test(test_early_talker),
		cmocka_unit_test(test_close_idle_server), cmocka_unit_test(test_run_workers),
		cmocka_unit_test(test_pending_decision), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_reconfigure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
