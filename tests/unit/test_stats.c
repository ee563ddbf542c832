/* tern_smtp_server_stats(): the engine's counters driven by transcripts (a
 * config with a counter set, sessions fed bytes and freed), then a real
 * server on 127.0.0.1:0 whose counters are read after its clients left. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "smtp/engine.h"
#include "tern/smtp.h"
#include "util/stats.h"

/* ---- the engine alone ---------------------------------------------- */

struct eng {
	tern_smtp_options opts;
	struct tern__smtp_config cfg;
	struct tern__stats st;
	int end_decision; /* on_data_end */
};

static void no_wakeup(void *ctx) { (void)ctx; }

static int data_end(tern_smtp_session *s, const tern_smtp_data_info *info, tern_smtp_reply *r,
		    void *ud)
{
	struct eng *e = ud;

	(void)s;
	(void)info;
	if (e->end_decision == TERN_SMTP_REJECT) {
		r->code = 550;
		r->enhanced = "5.7.1";
		r->text = "Refused by policy";
	}
	return e->end_decision;
}

static void eng_init(struct eng *e)
{
	memset(e, 0, sizeof(*e));
	tern_smtp_options_init(&e->opts);
	e->opts.name = "mx.test";
	e->opts.callbacks.on_data_end = data_end;
	e->opts.user_data = e;
	e->end_decision = TERN_SMTP_ACCEPT;
	assert_int_equal(tern__smtp_config_init(&e->cfg, &e->opts), 0);
	e->cfg.stats = &e->st;
}

static tern_smtp_session *eng_session(struct eng *e)
{
	struct tern__smtp_conn_info ci = {.remote_address = "192.0.2.1", .remote_port = 1234,
					  .local_address = "192.0.2.2", .local_port = 25};
	struct tern__smtp_io io = {.wakeup = no_wakeup};
	tern_smtp_session *s = NULL;

	assert_int_equal(tern__smtp_session_new(&s, &e->cfg, &ci, "00000000", &io), 0);
	return s;
}

/* Feeds all of in (no decision here is pending) and drops the output. */
static void eng_feed(tern_smtp_session *s, const char *in)
{
	size_t len = strlen(in);
	const void *out;
	size_t n;

	while (len > 0) {
		ssize_t r = tern__smtp_session_feed(s, in, len);

		if (r <= 0)
			break;
		in += r;
		len -= (size_t)r;
	}
	tern__smtp_session_output(s, &out, &n);
	tern__smtp_session_output_consumed(s, n);
}

static uint64_t get(const atomic_uint_fast64_t *c) { return tern__stats_get(c); }

static void test_engine_counts(void **state)
{
	struct eng e;
	tern_smtp_session *s;

	(void)state;
	eng_init(&e);

	/* A message accepted, errors of two subjects, QUIT. */
	s = eng_session(&e);
	tern__smtp_session_start(s);
	eng_feed(s, "EHLO c.example\r\nRCPT TO:<a@b.example>\r\nMAIL FROM:<bad\r\n"
		    "MAIL FROM:<a@c.example>\r\nRCPT TO:<x@d.example>\r\nDATA\r\n");
	tern__smtp_session_barrier(s, false);
	eng_feed(s, "Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n");
	assert_true(tern__smtp_session_want_close(s));
	tern__smtp_session_free(&s);
	assert_int_equal(get(&e.st.msg_accepted), 1);
	assert_int_equal(get(&e.st.msg_refused), 0);
	assert_int_equal(get(&e.st.msg_bytes), strlen("Subject: x\r\n\r\nhello\r\n"));
	assert_int_equal(get(&e.st.ended[TERN__END_QUIT]), 1);
	/* 503 5.5.1 (RCPT first): protocol (X.5.x); 501 5.1.7 (bad sender
	 * address): addressing (X.1.x). */
	assert_int_equal(get(&e.st.replies[1][5]), 1);
	assert_int_equal(get(&e.st.replies[1][1]), 1);

	/* A message refused by on_data_end (550 5.7.1), then the client goes. */
	e.end_decision = TERN_SMTP_REJECT;
	s = eng_session(&e);
	tern__smtp_session_start(s);
	eng_feed(s, "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<x@d.example>\r\n"
		    "DATA\r\n");
	tern__smtp_session_barrier(s, false);
	eng_feed(s, "hello\r\n.\r\n");
	tern__smtp_session_eof(s);
	tern__smtp_session_free(&s);
	assert_int_equal(get(&e.st.msg_accepted), 1);
	assert_int_equal(get(&e.st.msg_refused), 1);
	assert_int_equal(get(&e.st.msg_bytes), strlen("Subject: x\r\n\r\nhello\r\n"));
	assert_int_equal(get(&e.st.replies[1][7]), 1);
	assert_int_equal(get(&e.st.ended[TERN__END_GONE]), 1);

	/* Idle timeout: 421 4.4.2. */
	s = eng_session(&e);
	tern__smtp_session_start(s);
	tern__smtp_session_timeout(s);
	tern__smtp_session_free(&s);
	assert_int_equal(get(&e.st.ended[TERN__END_TIMEOUT]), 1);
	assert_int_equal(get(&e.st.replies[0][4]), 1);

	/* Server shutdown, and a draining server's 421 to an idle session. */
	s = eng_session(&e);
	tern__smtp_session_start(s);
	tern__smtp_session_shutdown(s);
	tern__smtp_session_free(&s);
	s = eng_session(&e);
	tern__smtp_session_start(s);
	tern__smtp_session_draining(s);
	tern__smtp_session_free(&s);
	assert_int_equal(get(&e.st.ended[TERN__END_SHUTDOWN]), 2);
	assert_int_equal(get(&e.st.replies[0][3]), 2);

	/* A protocol violation that closes: text before the greeting. */
	s = eng_session(&e);
	eng_feed(s, "EHLO early\r\n");
	tern__smtp_session_start(s);
	tern__smtp_session_free(&s);
	assert_int_equal(get(&e.st.ended[TERN__END_CLOSED]), 1);

	/* Busy: neither a session end nor a counted reply class of its own
	 * kind beyond the 421 (the server counts the connection). */
	s = eng_session(&e);
	tern__smtp_session_start_busy(s);
	tern__smtp_session_free(&s);
	assert_int_equal(get(&e.st.ended[TERN__END_BUSY]), 0);
	assert_int_equal(get(&e.st.ended[TERN__END_QUIT]) + get(&e.st.ended[TERN__END_GONE]) +
				 get(&e.st.ended[TERN__END_TIMEOUT]) +
				 get(&e.st.ended[TERN__END_CLOSED]) +
				 get(&e.st.ended[TERN__END_SHUTDOWN]),
			 6);
	tern__smtp_config_free(&e.cfg);
}

/* A config without counters (every test harness's) counts nothing and
 * does not crash. */
static void test_engine_no_stats(void **state)
{
	struct eng e;
	tern_smtp_session *s;

	(void)state;
	eng_init(&e);
	e.cfg.stats = NULL;
	s = eng_session(&e);
	tern__smtp_session_start(s);
	eng_feed(s, "EHLO c.example\r\nFOO\r\nQUIT\r\n");
	tern__smtp_session_free(&s);
	assert_int_equal(get(&e.st.replies[1][5]), 0);
	assert_int_equal(get(&e.st.ended[TERN__END_QUIT]), 0);
	tern__smtp_config_free(&e.cfg);
}

/* ---- a server ------------------------------------------------------ */

struct fixture {
	tern_smtp_server *server;
	unsigned port;
	char err[256];
};

static int client_connect(unsigned port)
{
	struct sockaddr_in sin;
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads until the text holds want (or EOF/timeout); true when it does. */
static bool read_until(int fd, const char *want)
{
	char buf[8192];
	size_t len = 0;

	for (;;) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, want) != NULL)
			return true;
		if (len + 1 >= sizeof(buf))
			len = 0;
	}
}

static void *client(void *arg)
{
	struct fixture *f = arg;
	int fd;
	const char *msg = "Subject: t\r\n\r\nbody\r\n";
	char cmd[256];

	fd = client_connect(f->port);
	if (fd < 0 || !read_until(fd, "220 ")) {
		snprintf(f->err, sizeof(f->err), "no greeting");
		goto out;
	}
	snprintf(cmd, sizeof(cmd),
		 "EHLO c\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<b@d.example>\r\nDATA\r\n");
	send(fd, cmd, strlen(cmd), MSG_NOSIGNAL);
	if (!read_until(fd, "354 ")) {
		snprintf(f->err, sizeof(f->err), "no 354");
		goto out;
	}
	send(fd, msg, strlen(msg), MSG_NOSIGNAL);
	send(fd, ".\r\nBOGUS\r\nQUIT\r\n", 17, MSG_NOSIGNAL);
	if (!read_until(fd, "221 "))
		snprintf(f->err, sizeof(f->err), "no 221");
	close(fd);
	/* A second client leaves without QUIT. */
	fd = client_connect(f->port);
	if (fd < 0 || !read_until(fd, "220 "))
		snprintf(f->err, sizeof(f->err), "second: no greeting");
out:
	if (fd >= 0)
		close(fd);
	/* Wait for the server to see both ends before closing it. */
	for (int i = 0; i < 200 && tern_smtp_server_session_count(f->server) != 0; i++)
		usleep(10000);
	tern_smtp_server_close(f->server);
	return NULL;
}

static void test_server_counts(void **state)
{
	struct fixture f = {0};
	tern_smtp_options o;
	tern_smtp_stats st = TERN_SMTP_STATS_INIT;
	struct event_base *base = event_base_new();
	pthread_t thr;
	int r;

	(void)state;
	assert_non_null(base);
	tern_smtp_options_init(&o);
	o.name = "mx.test";
	o.no_reverse_dns = true;
	assert_int_equal(tern_smtp_server_new(&f.server, &o), 0);
	/* Before any connection: all zero, and argument checks. */
	assert_int_equal(tern_smtp_server_stats(f.server, &st), 0);
	assert_int_equal(st.connections_accepted, 0);
	assert_int_equal(tern_smtp_server_stats(NULL, &st), TERN_EINVAL);
	assert_int_equal(tern_smtp_server_stats(f.server, NULL), TERN_EINVAL);
	{
		tern_smtp_stats bad = {.struct_size = 4};

		assert_int_equal(tern_smtp_server_stats(f.server, &bad), TERN_EINVAL);
	}
	assert_int_equal(tern_smtp_server_listen(f.server, "127.0.0.1:0"), 0);
	assert_int_equal(tern_smtp_server_attach(f.server, base), 0);
	f.port = tern_smtp_server_bound_port(f.server, 0);
	alarm(60);
	assert_int_equal(pthread_create(&thr, NULL, client, &f), 0);
	while ((r = event_base_loop(base, EVLOOP_ONCE)) == 0)
		;
	pthread_join(thr, NULL);
	alarm(0);
	if (f.err[0] != '\0')
		fail_msg("client: %s", f.err);

	assert_int_equal(tern_smtp_server_stats(f.server, &st), 0);
	assert_int_equal(st.struct_size, sizeof(st));
	assert_int_equal(st.connections_accepted, 2);
	assert_int_equal(st.connections_busy, 0);
	assert_int_equal(st.sessions_quit, 1);
	assert_int_equal(st.sessions_gone, 1);
	assert_int_equal(st.messages_accepted, 1);
	assert_int_equal(st.messages_refused, 0);
	assert_int_equal(st.message_bytes, strlen("Subject: t\r\n\r\nbody\r\n"));
	assert_int_equal(st.replies_5xx[5], 1); /* BOGUS: 500 5.5.1 */
	assert_int_equal(st.dns_lookups, 0);

	/* An older caller's shorter struct gets only its part. */
	{
		tern_smtp_stats small;

		memset(&small, 0xab, sizeof(small));
		small.struct_size = offsetof(tern_smtp_stats, connections_busy);
		assert_int_equal(tern_smtp_server_stats(f.server, &small), 0);
		assert_int_equal(small.connections_accepted, 2);
		assert_int_equal(small.connections_busy, UINT64_C(0xabababababababab));
	}
	tern_smtp_server_destroy(&f.server);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_counts),
		cmocka_unit_test(test_engine_no_stats),
		cmocka_unit_test(test_server_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
