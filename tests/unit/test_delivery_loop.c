/* tern_delivery (src/client/delivery.c) against Tern's own server on the
 * same loop, for the lifetimes the interop tests cannot see: results for
 * each recipient, connections reused under max_per_dest 1, a job cancelled
 * while its connection runs, the agent freed with jobs and connections in
 * flight (no callback after, nothing leaked: ASan and valgrind run this),
 * and a server that goes away mid-session. The interop tests prove the
 * protocol against other people's servers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "tern/delivery.h"
#include "tern/smtp.h"

#define MSG "Subject: loop\r\n\r\nhello\r\n"

struct fix {
	struct event_base *base;
	tern_smtp_server *server;
	tern_delivery *d;
	unsigned port;
	int messages;   /* accepted by the server */
	int sessions;
	int callbacks;
	enum tern_smtp_client_class last[4];
	int last_code[4];
	size_t last_n;
};

static int on_connect(tern_smtp_session *s, tern_smtp_reply *r, void *arg)
{
	(void)s;
	(void)r;
	((struct fix *)arg)->sessions++;
	return TERN_SMTP_ACCEPT;
}

static int on_rcpt(tern_smtp_session *s, const tern_smtp_rcpt *rcpt, tern_smtp_reply *r,
		   void *arg)
{
	(void)s;
	(void)arg;
	if (strncmp(rcpt->address, "gone@", 5) == 0) {
		r->code = 550;
		r->enhanced = "5.1.1";
		r->text = "No such user";
		return TERN_SMTP_REJECT;
	}
	return TERN_SMTP_ACCEPT;
}

static int on_end(tern_smtp_session *s, const tern_smtp_data_info *info, tern_smtp_reply *r,
		  void *arg)
{
	(void)s;
	(void)info;
	(void)r;
	((struct fix *)arg)->messages++;
	return TERN_SMTP_ACCEPT;
}

static void setup(struct fix *f, unsigned max_per_dest)
{
	tern_smtp_options o;
	tern_delivery_options d;
	char relay[64];

	memset(f, 0, sizeof(*f));
	f->base = event_base_new();
	assert_non_null(f->base);
	tern_smtp_options_init(&o);
	o.name = "sink.test";
	o.callbacks.on_connect = on_connect;
	o.callbacks.on_rcpt_to = on_rcpt;
	o.callbacks.on_data_end = on_end;
	o.user_data = f;
	assert_int_equal(tern_smtp_server_new(&f->server, &o), 0);
	assert_int_equal(tern_smtp_server_listen(f->server, "127.0.0.1:0"), 0);
	assert_int_equal(tern_smtp_server_attach(f->server, f->base), 0);
	f->port = tern_smtp_server_bound_port(f->server, 0);
	snprintf(relay, sizeof(relay), "[127.0.0.1]:%u", f->port);
	tern_delivery_options_init(&d);
	d.helo_name = "client.test";
	d.relayhost = relay;
	d.tls = TERN_DELIVERY_TLS_NONE;
	d.max_per_dest = max_per_dest;
	d.conn_cache_ms = 200;
	assert_int_equal(tern_delivery_new(&f->d, f->base, &d), 0);
}

static void teardown(struct fix *f)
{
	tern_delivery_free(&f->d);
	tern_smtp_server_close(f->server);
	/* Let the server's sessions see their ends, then it is idle. */
	for (int i = 0; i < 200 && tern_smtp_server_session_count(f->server) > 0; i++)
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	while (event_base_loop(f->base, EVLOOP_NONBLOCK) == 0 &&
	       tern_smtp_server_session_count(f->server) > 0)
		;
	tern_smtp_server_destroy(&f->server);
	event_base_free(f->base);
}

static void done(const tern_delivery_result *r, size_t n, void *arg)
{
	struct fix *f = arg;

	f->callbacks++;
	f->last_n = n;
	for (size_t i = 0; i < n && i < 4; i++) {
		f->last[i] = r[i].cls;
		f->last_code[i] = r[i].code;
	}
}

static void run_until(struct fix *f, int callbacks)
{
	for (int i = 0; i < 2000 && f->callbacks < callbacks; i++) {
		struct timeval tv = {0, 10000};

		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
	}
}

static void send_one(struct fix *f, const char *rcpt1, const char *rcpt2, tern_delivery_job **j)
{
	tern_smtp_client_rcpt rc[2] = {{.address = rcpt1}, {.address = rcpt2}};
	tern_smtp_client_message m = {.from = "a@client.test", .rcpts = rc,
				      .n_rcpts = rcpt2 ? 2 : 1};
	tern_delivery_body body = {.fd = -1, .data = MSG, .len = strlen(MSG)};

	assert_int_equal(tern_delivery_send(f->d, &m, &body, done, f, j), 0);
}

static void test_results_and_reuse(void **state)
{
	struct fix f;

	(void)state;
	setup(&f, 1);
	send_one(&f, "b@x.test", "gone@x.test", NULL);
	assert_int_equal(f.callbacks, 0); /* never inside the call */
	run_until(&f, 1);
	assert_int_equal(f.callbacks, 1);
	assert_int_equal(f.last_n, 2);
	assert_int_equal(f.last[0], TERN_SMTP_CLIENT_SUCCESS);
	assert_int_equal(f.last[1], TERN_SMTP_CLIENT_PERMFAIL);
	assert_int_equal(f.last_code[1], 550);
	/* Three more, one connection allowed: they queue and reuse it. */
	for (int i = 0; i < 3; i++)
		send_one(&f, "c@x.test", NULL, NULL);
	run_until(&f, 4);
	assert_int_equal(f.callbacks, 4);
	assert_int_equal(f.messages, 4);
	assert_int_equal(f.sessions, 1);
	teardown(&f);
}

static void test_cancel_and_free_in_flight(void **state)
{
	struct fix f;
	tern_delivery_job *j = NULL;

	(void)state;
	setup(&f, 4);
	send_one(&f, "b@x.test", NULL, &j);
	assert_non_null(j);
	/* Cancelled before anything ran, then after the connection began. */
	tern_delivery_cancel(&j);
	assert_null(j);
	send_one(&f, "b@x.test", NULL, &j);
	for (int i = 0; i < 5; i++)
		event_base_loop(f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	tern_delivery_cancel(&j);
	/* And the agent freed with two jobs in flight. */
	send_one(&f, "b@x.test", NULL, NULL);
	send_one(&f, "c@x.test", "d@x.test", NULL);
	for (int i = 0; i < 5; i++)
		event_base_loop(f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	tern_delivery_free(&f.d);
	assert_null(f.d);
	for (int i = 0; i < 20; i++)
		event_base_loop(f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(f.callbacks, 0);
	teardown(&f);
}

static void test_server_gone(void **state)
{
	struct fix f;

	(void)state;
	setup(&f, 1);
	tern_smtp_server_close(f.server); /* stops listening: refused */
	for (int i = 0; i < 20; i++)
		event_base_loop(f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	send_one(&f, "b@x.test", NULL, NULL);
	run_until(&f, 1);
	assert_int_equal(f.callbacks, 1);
	assert_int_equal(f.last[0], TERN_SMTP_CLIENT_TEMPFAIL);
	teardown(&f);
}

static void test_bad_input(void **state)
{
	struct fix f;
	tern_smtp_client_message m = {.from = "a@client.test"};
	tern_delivery_body body = {.fd = -1, .data = MSG, .len = strlen(MSG)};
	tern_delivery_options o;
	tern_delivery *d = (tern_delivery *)1;

	(void)state;
	setup(&f, 1);
	assert_int_equal(tern_delivery_send(f.d, &m, &body, done, &f, NULL), TERN_EINVAL);
	assert_int_equal(tern_delivery_send(NULL, &m, &body, done, &f, NULL), TERN_EINVAL);
	tern_delivery_options_init(&o);
	assert_int_equal(tern_delivery_new(&d, f.base, &o), TERN_EINVAL); /* no helo_name */
	assert_null(d);
	o.helo_name = "client.test";
	o.relayhost = "[127.0.0.1";
	assert_int_equal(tern_delivery_new(&d, f.base, &o), TERN_EINVAL);
	o.relayhost = "host:99999";
	assert_int_equal(tern_delivery_new(&d, f.base, &o), TERN_EINVAL);
	o.relayhost = NULL;
	o.dns_server = "not an address";
	assert_int_equal(tern_delivery_new(&d, f.base, &o), TERN_EINVAL);
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_results_and_reuse),
		cmocka_unit_test(test_cancel_and_free_in_flight),
		cmocka_unit_test(test_server_gone),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
