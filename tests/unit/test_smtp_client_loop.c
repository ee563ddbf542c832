/* The client engine against Tern's own server engine, both sans-I/O, bytes
 * pumped between them in memory (the server through helper_session.h). Each
 * conversation runs with the pump moving everything at once and with it
 * moving one byte at a time in each direction. What the server's callbacks
 * saw (envelope, DSN parameters, body octets) must be what the client was
 * given, and the client's results what the server answered. */
#include "test_smtp_client.h"

#include "helper_session.h"

struct loop {
	struct hs h;
	struct tc t;
	size_t srv_off;       /* h.out octets already given to the client */
	const tern_smtp_client_message *msgs;
	size_t n_msgs, sent;
	const char *body;
	size_t done_msgs;
	int cls[4][4];        /* per message, per recipient */
	bool tls_done;
};

static void pump_events(struct loop *l)
{
	enum tern_smtp_client_event ev;
	while ((ev = tern_smtp_client_next_event(l->t.c)) != TERN_SMTP_CLIENT_EV_NONE) {
		switch (ev) {
		case TERN_SMTP_CLIENT_EV_READY:
			if (l->sent < l->n_msgs)
				assert_int_equal(tern_smtp_client_send(l->t.c, &l->msgs[l->sent++]), 0);
			else
				assert_int_equal(tern_smtp_client_quit(l->t.c), 0);
			break;
		case TERN_SMTP_CLIENT_EV_BODY: {
			size_t len = strlen(l->body), off = 0;
			while (off < len) {
				size_t n = l->t.bytes ? 1 : len - off;
				ssize_t r = tern_smtp_client_body(l->t.c, l->body + off, n);
				assert_true(r > 0);
				off += (size_t)r;
			}
			assert_int_equal(tern_smtp_client_body_end(l->t.c), 0);
			break;
		}
		case TERN_SMTP_CLIENT_EV_MESSAGE_DONE:
			for (size_t i = 0; i < l->msgs[l->done_msgs].n_rcpts; i++)
				l->cls[l->done_msgs][i] =
					(int)tern_smtp_client_rcpt_result(l->t.c, i)->cls;
			l->done_msgs++;
			break;
		case TERN_SMTP_CLIENT_EV_TLS: {
			/* The handshake, played on both sides: the server must be
			 * waiting for it too. */
			hs_collect(&l->h);
			assert_true(tern__smtp_session_want_tls(l->h.session));
			struct tern__smtp_tls_facts f;
			memset(&f, 0, sizeof(f));
			f.info.version = "TLSv1.3";
			f.info.cipher = "TLS_AES_128_GCM_SHA256";
			tern__smtp_session_tls_started(l->h.session, &f);
			assert_int_equal(tern_smtp_client_tls_started(l->t.c), 0);
			l->tls_done = true;
			break;
		}
		case TERN_SMTP_CLIENT_EV_CLOSED:
			break;
		default:
			fail();
		}
	}
}

/* Moves bytes both ways until the client is done (bounded). */
static void run(struct loop *l)
{
	for (int round = 0; round < 100000 && !tern_smtp_client_done(l->t.c); round++) {
		hs_collect(&l->h);
		size_t avail = l->h.out.len - l->srv_off;
		if (avail) {
			size_t n = l->t.bytes ? 1 : avail;
			assert_int_equal(tern_smtp_client_feed(l->t.c, l->h.out.data + l->srv_off, n),
					 (ssize_t)n);
			l->srv_off += n;
		}
		pump_events(l);
		size_t len;
		const char *o = tern_smtp_client_output(l->t.c, &len);
		if (len) {
			size_t n = l->t.bytes ? 1 : len;
			size_t took = hs_feed(&l->h, o, n, 0, true);
			if (took != n && !l->h.closed_by_feed) {
				hs_dump(&l->h, "loop");
				fail();
			}
			tern_smtp_client_output_consumed(l->t.c, n);
		}
	}
	assert_true(tern_smtp_client_done(l->t.c));
	assert_null(tern_smtp_client_failure(l->t.c));
	hs_collect(&l->h);
}

#define BODY "Subject: loop\r\n\r\n.dot line\r\nbare\nlf\r\n..two\r\nend"
#define BODY_WIRE "Subject: loop\r\n\r\n.dot line\r\nbare\r\nlf\r\n..two\r\nend\r\n"

/* Sends msgs[0..n) with BODY, then QUIT. */
static void run_msgs(struct loop *l, const tern_smtp_client_message *msgs, size_t n)
{
	l->msgs = msgs;
	l->n_msgs = n;
	l->body = BODY;
	run(l);
}

static void loop_open(struct loop *l, void **state)
{
	memset(l, 0, sizeof(*l));
	hs_init(&l->h);
	l->h.opts.disable_received_header = true;
	tc_opts(&l->t, state);
}

static void loop_start(struct loop *l)
{
	hs_open(&l->h);
	hs_start(&l->h);
	tc_start(&l->t);
}

static void loop_free(struct loop *l)
{
	tc_free(&l->t);
	hs_free(&l->h);
}


/* Every extension Tern offers: BDAT, DSN, SMTPUTF8, SIZE; two messages. */
static void test_loop_full(void **state)
{
	struct loop l;
	loop_open(&l, state);
	loop_start(&l);
	tern_smtp_client_rcpt r[] = {
		{ "x@y.example", TERN_SMTP_NOTIFY_SUCCESS | TERN_SMTP_NOTIFY_DELAY, "rfc822",
		  "x+tag=1@y.example" },
		{ "j\xc3\xb6rg@y.example", 0, NULL, NULL },
	};
	tern_smtp_client_message m[2];
	tc_msg1(&m[0], r, 2);
	m[0].envid = "env id";
	m[0].ret = TERN_SMTP_RET_HDRS;
	m[0].size = 100;
	m[0].body = TERN_SMTP_BODY_8BITMIME;
	tc_msg1(&m[1], r, 1);
	run_msgs(&l, m, 2);
	assert_int_equal(l.h.messages, 2);
	assert_int_equal(l.done_msgs, 2);
	assert_int_equal(l.cls[0][0], TERN_SMTP_CLIENT_SUCCESS);
	assert_int_equal(l.cls[0][1], TERN_SMTP_CLIENT_SUCCESS);
	assert_int_equal(l.cls[1][0], TERN_SMTP_CLIENT_SUCCESS);
	/* BDAT: the octets exactly as given. */
	assert_true(l.h.last_info.bdat);
	assert_int_equal(l.h.last_body.len, strlen(BODY));
	assert_memory_equal(l.h.last_body.data, BODY, strlen(BODY));
	assert_true(hs_events_has(&l.h, "rcpt:<j\xc3\xb6rg@y.example>"));
	assert_true(l.h.last_orcpt_set);
	assert_string_equal(l.h.last_orcpt, "x+tag=1@y.example");
	assert_string_equal(l.h.last_orcpt_type, "rfc822");
	assert_int_equal(l.h.last_notify, TERN_SMTP_NOTIFY_SUCCESS | TERN_SMTP_NOTIFY_DELAY);
	loop_free(&l);
}

/* Without CHUNKING and PIPELINING: DATA, one command at a time; the server
 * must get the body back exactly, un-stuffed, line ends normalised. */
static void test_loop_data(void **state)
{
	struct loop l;
	loop_open(&l, state);
	l.h.opts.hide_chunking = true;
	l.h.opts.hide_pipelining = true;
	loop_start(&l);
	tern_smtp_client_rcpt r[] = { { "x@y.example", 0, NULL, NULL },
				      { "bad@y.example", 0, NULL, NULL },
				      { "z@y.example", 0, NULL, NULL } };
	hs_push_accept(&l.h, HS_RCPT);
	hs_push_reject(&l.h, HS_RCPT, 550, "5.1.1", "No such user");
	tern_smtp_client_message m;
	tc_msg1(&m, r, 3);
	run_msgs(&l, &m, 1);
	assert_int_equal(l.h.messages, 1);
	assert_false(l.h.last_info.bdat);
	assert_int_equal(l.h.last_body.len, strlen(BODY_WIRE));
	assert_memory_equal(l.h.last_body.data, BODY_WIRE, strlen(BODY_WIRE));
	assert_int_equal(l.cls[0][0], TERN_SMTP_CLIENT_SUCCESS);
	assert_int_equal(l.cls[0][1], TERN_SMTP_CLIENT_PERMFAIL);
	assert_int_equal(l.cls[0][2], TERN_SMTP_CLIENT_SUCCESS);
	assert_false(tern_smtp_client_extensions(l.t.c) & TERN_SMTP_EXT_PIPELINING);
	loop_free(&l);
}

/* LMTP: per-recipient replies after the data. */
static void test_loop_lmtp(void **state)
{
	struct loop l;
	loop_open(&l, state);
	l.h.opts.lmtp = true;
	l.h.opts.hide_chunking = true;
	l.t.o.lmtp = true;
	loop_start(&l);
	tern_smtp_client_rcpt r[] = { { "x@y.example", 0, NULL, NULL },
				      { "z@y.example", 0, NULL, NULL } };
	tern_smtp_client_message m;
	tc_msg1(&m, r, 2);
	run_msgs(&l, &m, 1);
	assert_int_equal(l.h.messages, 1);
	assert_int_equal(l.cls[0][0], TERN_SMTP_CLIENT_SUCCESS);
	assert_int_equal(l.cls[0][1], TERN_SMTP_CLIENT_SUCCESS);
	loop_free(&l);
}

/* A server without SMTPUTF8 and DSN: A-labels, the UTF-8 local part
 * refused locally, DSN parameters dropped and reported. */
static void test_loop_downgrade(void **state)
{
	struct loop l;
	loop_open(&l, state);
	l.h.opts.hide_smtputf8 = true;
	l.h.opts.hide_dsn = true;
	loop_start(&l);
	tern_smtp_client_rcpt r[] = { { "x@b\xc3\xbc" "cher.example", TERN_SMTP_NOTIFY_SUCCESS,
					NULL, NULL },
				      { "j\xc3\xb6rg@y.example", 0, NULL, NULL } };
	tern_smtp_client_message m;
	tc_msg1(&m, r, 2);
	run_msgs(&l, &m, 1);
	assert_int_equal(l.h.messages, 1);
	assert_true(hs_events_has(&l.h, "rcpt:<x@xn--bcher-kva.example>"));
	assert_int_equal(l.h.last_notify, 0);
	assert_int_equal(l.cls[0][0], TERN_SMTP_CLIENT_SUCCESS);
	assert_int_equal(l.cls[0][1], TERN_SMTP_CLIENT_PERMFAIL);
	assert_true(tern_smtp_client_rcpt_result(l.t.c, 0)->notify_success_dropped);
	loop_free(&l);
}

/* STARTTLS required: the client upgrades, EHLOs again and sends the
 * REQUIRETLS message the secure session allows. */
static void test_loop_starttls(void **state)
{
	struct loop l;
	loop_open(&l, state);
	l.h.tls_available = true;
	l.t.o.tls = TERN_SMTP_CLIENT_TLS_REQUIRED;
	loop_start(&l);
	tern_smtp_client_rcpt r[] = { { "x@y.example", 0, NULL, NULL } };
	tern_smtp_client_message m;
	tc_msg1(&m, r, 1);
	m.requiretls = true;
	run_msgs(&l, &m, 1);
	assert_true(l.tls_done);
	assert_int_equal(l.h.messages, 1);
	assert_int_equal(l.cls[0][0], TERN_SMTP_CLIENT_SUCCESS);
	assert_true(l.h.last_mail.requiretls);
	assert_int_equal(hs_count(&l.h, "220 2.0.0"), 1);
	loop_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TC2(test_loop_full),
		TC2(test_loop_data),
		TC2(test_loop_lmtp),
		TC2(test_loop_downgrade),
		TC2(test_loop_starttls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
