/* Client extension rules: SIZE (RFC 1870), BODY (RFC 6152, RFC 3030),
 * SMTPUTF8 and A-labels (RFC 6531 3.7.5), REQUIRETLS (RFC 8689 4.2), DSN
 * parameters and their drop (RFC 3461). */
#include "test_smtp_client.h"

#define RCPT1 "RCPT TO:<x@y.example>\r\n"

static tern_smtp_client_rcpt one[] = { { "x@y.example", 0, NULL, NULL } };

static void send_ok(struct tc *t, const tern_smtp_client_message *m)
{
	assert_int_equal(tern_smtp_client_send(t->c, m), 0);
}

/* The message was refused locally: nothing went out. */
static void local_refusal(struct tc *t, int code, const char *enh,
			  enum tern_smtp_client_reason reason)
{
	tc_out(t, "");
	tc_ev(t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_ev(t, TERN_SMTP_CLIENT_EV_READY);
	const tern_smtp_client_result *r = tern_smtp_client_message_result(t->c);
	assert_int_equal(r->code, code);
	assert_string_equal(r->enhanced, enh);
	assert_int_equal(r->reason, reason);
	assert_int_equal(r->cls, TERN_SMTP_CLIENT_PERMFAIL);
	const tern_smtp_client_result *rr = tern_smtp_client_rcpt_result(t->c, 0);
	assert_int_equal(rr->code, code);
	assert_int_equal(rr->reason, reason);
}

static void test_size(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_ready(&t, "250-SIZE 1000\r\n");
	assert_int_equal(tern_smtp_client_size_limit(t.c), 1000);
	tern_smtp_client_message m;
	tc_msg1(&m, one, 1);
	m.size = 1001;
	send_ok(&t, &m);
	local_refusal(&t, 552, "5.3.4", TERN_SMTP_CLIENT_R_SIZE);
	m.size = 1000;
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@b.example> SIZE=1000\r\n");
	tc_free(&t);
	/* No SIZE at the peer: no parameter, no check. */
	tc_opts(&t, state);
	tc_ready(&t, "");
	m.size = 1u << 30;
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@b.example>\r\n");
	tc_free(&t);
	/* SIZE without a number: no limit. */
	tc_opts(&t, state);
	tc_ready(&t, "250-SIZE\r\n");
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@b.example> SIZE=1073741824\r\n");
	tc_free(&t);
}

/* A caller that does not pull events: the ring keeps its bound, and the
 * end of the session is still the last event. */
static void test_events_not_pulled(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_ready(&t, "250-SIZE 10\r\n");
	tern_smtp_client_message m;
	tc_msg1(&m, one, 1);
	m.size = 11;
	for (int i = 0; i < 12; i++)
		send_ok(&t, &m);
	tern_smtp_client_eof(t.c);
	enum tern_smtp_client_event ev, last = TERN_SMTP_CLIENT_EV_NONE;
	size_t n = 0;
	while ((ev = tern_smtp_client_next_event(t.c)) != TERN_SMTP_CLIENT_EV_NONE) {
		assert_true(ev == TERN_SMTP_CLIENT_EV_MESSAGE_DONE || ev == TERN_SMTP_CLIENT_EV_CLOSED);
		last = ev;
		n++;
	}
	assert_int_equal(last, TERN_SMTP_CLIENT_EV_CLOSED);
	assert_true(n <= 16);
	tc_free(&t);
}

static void test_8bitmime(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_ready(&t, "");
	tern_smtp_client_message m;
	tc_msg1(&m, one, 1);
	m.body = TERN_SMTP_BODY_8BITMIME;
	send_ok(&t, &m);
	local_refusal(&t, 554, "5.6.3", TERN_SMTP_CLIENT_R_NEED_8BITMIME);
	tc_free(&t);
	tc_opts(&t, state);
	tc_ready(&t, "250-8BITMIME\r\n");
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@b.example> BODY=8BITMIME\r\n");
	tc_free(&t);
}

static void test_binarymime(void **state)
{
	struct tc t;
	tern_smtp_client_message m;
	tc_msg1(&m, one, 1);
	m.body = TERN_SMTP_BODY_BINARYMIME;
	/* BINARYMIME without CHUNKING, or CHUNKING refused by option. */
	static const char *const caps[] = { "250-BINARYMIME\r\n", "250-CHUNKING\r\n",
					    "250-BINARYMIME\r\n250-CHUNKING\r\n" };
	for (size_t i = 0; i < 3; i++) {
		tc_opts(&t, state);
		t.o.no_chunking = i == 2;
		tc_ready(&t, caps[i]);
		send_ok(&t, &m);
		local_refusal(&t, 554, "5.6.3", TERN_SMTP_CLIENT_R_NEED_BINARYMIME);
		tc_free(&t);
	}
	tc_opts(&t, state);
	tc_ready(&t, "250-BINARYMIME\r\n250-CHUNKING\r\n");
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n");
	tc_feed(&t, "250 ok\r\n");
	tc_out(&t, RCPT1);
	tc_feed(&t, "250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	tc_body(&t, "\0\r\n");
	tc_free(&t);
}

static void test_smtputf8(void **state)
{
	struct tc t;
	tern_smtp_client_rcpt r[] = { { "x@b\xc3\xbc" "cher.example", 0, NULL, NULL },
				      { "j\xc3\xb6rg@y.example", 0, NULL, NULL },
				      { "z@y.example", 0, NULL, NULL } };
	tern_smtp_client_message m;
	tc_msg1(&m, r, 3);
	m.from = "a@m\xc3\xbcnchen.example";
	/* Peer with SMTPUTF8: addresses as they are, SMTPUTF8 on MAIL. */
	tc_opts(&t, state);
	tc_ready(&t, "250-SMTPUTF8\r\n250-PIPELINING\r\n");
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@m\xc3\xbcnchen.example> SMTPUTF8\r\n"
		   "RCPT TO:<x@b\xc3\xbc" "cher.example>\r\n"
		   "RCPT TO:<j\xc3\xb6rg@y.example>\r\n"
		   "RCPT TO:<z@y.example>\r\nDATA\r\n");
	tc_free(&t);
	/* Without: A-labels for the domains, the UTF-8 local part refused. */
	tc_opts(&t, state);
	tc_ready(&t, "250-PIPELINING\r\n");
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@xn--mnchen-3ya.example>\r\n"
		   "RCPT TO:<x@xn--bcher-kva.example>\r\n"
		   "RCPT TO:<z@y.example>\r\nDATA\r\n");
	tc_feed(&t, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, ".\r\n");
	tc_feed(&t, "250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 250, "", TERN_SMTP_CLIENT_SUCCESS);
	tc_rcpt_is(&t, 1, 553, "5.6.7", TERN_SMTP_CLIENT_PERMFAIL);
	assert_int_equal(tern_smtp_client_rcpt_result(t.c, 1)->reason, TERN_SMTP_CLIENT_R_SMTPUTF8);
	tc_rcpt_is(&t, 2, 250, "", TERN_SMTP_CLIENT_SUCCESS);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	/* A UTF-8 sender local part: the whole message. */
	m.from = "j\xc3\xb6rg@y.example";
	send_ok(&t, &m);
	local_refusal(&t, 553, "5.6.7", TERN_SMTP_CLIENT_R_SMTPUTF8);
	tc_rcpt_is(&t, 2, 553, "5.6.7", TERN_SMTP_CLIENT_PERMFAIL);
	/* Every recipient refused locally: nothing is sent. */
	m.from = "a@b.example";
	m.rcpts = &r[1];
	m.n_rcpts = 1;
	send_ok(&t, &m);
	local_refusal(&t, 553, "5.6.7", TERN_SMTP_CLIENT_R_SMTPUTF8);
	/* smtputf8 asked by the message (headers) with ASCII addresses. */
	m.rcpts = &r[2];
	m.smtputf8 = true;
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@b.example>\r\nRCPT TO:<z@y.example>\r\nDATA\r\n");
	tc_free(&t);
	tc_opts(&t, state);
	tc_ready(&t, "250-SMTPUTF8\r\n");
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@b.example> SMTPUTF8\r\n");
	tc_free(&t);
}

static void test_idn_invalid(void **state)
{
	struct tc t;
	/* U+2163 (ROMAN NUMERAL FOUR) is DISALLOWED in IDNA2008. */
	tern_smtp_client_rcpt r[] = { { "x@\xe2\x85\xa3.example", 0, NULL, NULL },
				      { "z@y.example", 0, NULL, NULL } };
	tern_smtp_client_message m;
	tc_msg1(&m, r, 2);
	tc_opts(&t, state);
	tc_ready(&t, "250-PIPELINING\r\n");
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@b.example>\r\nRCPT TO:<z@y.example>\r\nDATA\r\n");
	tc_feed(&t, "250 ok\r\n250 ok\r\n554 no\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 553, "5.1.2", TERN_SMTP_CLIENT_PERMFAIL);
	assert_int_equal(tern_smtp_client_rcpt_result(t.c, 0)->reason, TERN_SMTP_CLIENT_R_IDN);
	tc_rcpt_is(&t, 1, 554, "", TERN_SMTP_CLIENT_PERMFAIL);
	tc_free(&t);
}

static void test_requiretls(void **state)
{
	struct tc t;
	tern_smtp_client_message m;
	tc_msg1(&m, one, 1);
	m.requiretls = true;
	/* No TLS. */
	tc_opts(&t, state);
	tc_ready(&t, "250-REQUIRETLS\r\n");
	send_ok(&t, &m);
	local_refusal(&t, 550, "5.7.30", TERN_SMTP_CLIENT_R_REQUIRETLS);
	tc_free(&t);
	/* TLS but no REQUIRETLS. */
	tc_opts(&t, state);
	t.o.tls_active = true;
	tc_ready(&t, "");
	send_ok(&t, &m);
	local_refusal(&t, 550, "5.7.30", TERN_SMTP_CLIENT_R_REQUIRETLS);
	tc_free(&t);
	/* Both. */
	tc_opts(&t, state);
	t.o.tls_active = true;
	tc_ready(&t, "250-REQUIRETLS\r\n");
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@b.example> REQUIRETLS\r\n");
	tc_free(&t);
}

static void test_dsn(void **state)
{
	struct tc t;
	tern_smtp_client_rcpt r[] = {
		{ "x@y.example", TERN_SMTP_NOTIFY_SUCCESS | TERN_SMTP_NOTIFY_FAILURE, "rfc822",
		  "x+1=2@y.example" },
		{ "z@y.example", TERN_SMTP_NOTIFY_NEVER, NULL, NULL },
		{ "w@y.example", TERN_SMTP_NOTIFY_DELAY, NULL, NULL },
	};
	tern_smtp_client_message m;
	tc_msg1(&m, r, 3);
	m.ret = TERN_SMTP_RET_HDRS;
	m.envid = "id 1+2=3";
	tc_opts(&t, state);
	tc_ready(&t, "250-DSN\r\n250-PIPELINING\r\n");
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@b.example> RET=HDRS ENVID=id+201+2B2+3D3\r\n"
		   "RCPT TO:<x@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+2B1+3D2@y.example\r\n"
		   "RCPT TO:<z@y.example> NOTIFY=NEVER\r\n"
		   "RCPT TO:<w@y.example> NOTIFY=DELAY\r\nDATA\r\n");
	tc_feed(&t, "250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_feed(&t, "250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	assert_false(tern_smtp_client_rcpt_result(t.c, 0)->notify_success_dropped);
	tc_free(&t);
	/* No DSN at the peer: the parameters are dropped, and the recipient
	 * that asked for NOTIFY=SUCCESS is reported. */
	tc_opts(&t, state);
	tc_ready(&t, "250-PIPELINING\r\n");
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<a@b.example>\r\n" RCPT1 "RCPT TO:<z@y.example>\r\n"
		   "RCPT TO:<w@y.example>\r\nDATA\r\n");
	tc_feed(&t, "250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_feed(&t, "250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	const tern_smtp_client_result *r0 = tern_smtp_client_rcpt_result(t.c, 0);
	assert_int_equal(r0->cls, TERN_SMTP_CLIENT_SUCCESS);
	assert_true(r0->notify_success_dropped);
	assert_false(tern_smtp_client_rcpt_result(t.c, 1)->notify_success_dropped);
	assert_false(tern_smtp_client_rcpt_result(t.c, 2)->notify_success_dropped);
	tc_free(&t);
}

/* Null sender and postmaster. */
static void test_paths(void **state)
{
	struct tc t;
	tern_smtp_client_rcpt r[] = { { "postmaster", 0, NULL, NULL },
				      { "\"john doe\"@y.example", 0, NULL, NULL } };
	tern_smtp_client_message m;
	tc_msg1(&m, r, 2);
	m.from = "";
	tc_opts(&t, state);
	tc_ready(&t, "250-PIPELINING\r\n");
	send_ok(&t, &m);
	tc_out(&t, "MAIL FROM:<>\r\nRCPT TO:<postmaster>\r\n"
		   "RCPT TO:<\"john doe\"@y.example>\r\nDATA\r\n");
	tc_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TC2(test_size),
		TC2(test_events_not_pulled),
		TC2(test_8bitmime),
		TC2(test_binarymime),
		TC2(test_smtputf8),
		TC2(test_idn_invalid),
		TC2(test_requiretls),
		TC2(test_dsn),
		TC2(test_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
