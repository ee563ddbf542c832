/* Client session transcripts: greeting, EHLO/HELO, MAIL/RCPT/DATA with and
 * without PIPELINING, per-recipient results, several messages with RSET,
 * QUIT, 421 anywhere, malformed and unexpected replies, timeouts, LMTP. */
#include "test_smtp_client.h"

#define MAIL_LINE "MAIL FROM:<a@b.example>\r\n"
#define RCPT1 "RCPT TO:<x@y.example>\r\n"
#define RCPT2 "RCPT TO:<z@y.example>\r\n"

static tern_smtp_client_rcpt two[] = { { "x@y.example", 0, NULL, NULL },
				       { "z@y.example", 0, NULL, NULL } };

static void send_two(struct tc *t)
{
	tern_smtp_client_message m;
	tc_msg1(&m, two, 2);
	assert_int_equal(tern_smtp_client_send(t->c, &m), 0);
}

/* A session with PIPELINING where send_two() has just written its group. */
static void pipelined_sent(struct tc *t, void **state)
{
	tc_opts(t, state);
	tc_ready(t, "250-PIPELINING\r\n");
	send_two(t);
	tc_out(t, MAIL_LINE RCPT1 RCPT2 "DATA\r\n");
}

/* ---- greeting and hello ---- */

static void test_greeting_554(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_start(&t);
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 5u * 60 * 1000);
	tc_feed(&t, "554-5.7.1 go away\r\n554 5.7.1 really\r\n");
	tc_out(&t, "QUIT\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	assert_true(tern_smtp_client_done(t.c));
	const tern_smtp_client_result *f = tern_smtp_client_failure(t.c);
	assert_non_null(f);
	assert_int_equal(f->code, 554);
	assert_string_equal(f->enhanced, "5.7.1");
	assert_string_equal(f->text, "go away\nreally");
	assert_int_equal(f->cls, TERN_SMTP_CLIENT_PERMFAIL);
	assert_int_equal(f->reason, TERN_SMTP_CLIENT_R_REPLY);
	/* After the end, input is dropped and calls are refused. */
	tc_feed(&t, "250 late\r\n");
	tc_no_ev(&t);
	assert_int_equal(tern_smtp_client_quit(t.c), TERN_ESTATE);
	tc_free(&t);
}

static void test_greeting_421(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_start(&t);
	tc_feed(&t, "421 4.3.2 busy\r\n");
	tc_out(&t, "");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	const tern_smtp_client_result *f = tern_smtp_client_failure(t.c);
	assert_int_equal(f->code, 421);
	assert_int_equal(f->cls, TERN_SMTP_CLIENT_TEMPFAIL);
	assert_int_equal(f->reason, TERN_SMTP_CLIENT_R_CLOSED);
	tc_free(&t);
}

static void test_helo_fallback(void **state)
{
	static const int codes[] = { 500, 502, 504, 550 };
	for (size_t i = 0; i < 4; i++) {
		struct tc t;
		tc_opts(&t, state);
		tc_start(&t);
		tc_feed(&t, "220 old.example\r\n");
		tc_out(&t, EHLO_LINE);
		char buf[64];
		snprintf(buf, sizeof(buf), "%d what\r\n", codes[i]);
		tc_feed(&t, buf);
		tc_out(&t, "HELO client.example\r\n");
		tc_feed(&t, "250 old.example\r\n");
		tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
		assert_int_equal(tern_smtp_client_extensions(t.c), 0);
		tc_free(&t);
	}
}

static void test_ehlo_refused(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_start(&t);
	tc_feed(&t, "220 x\r\n");
	tc_out(&t, EHLO_LINE);
	tc_feed(&t, "451 4.3.0 later\r\n");
	tc_out(&t, "QUIT\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	assert_int_equal(tern_smtp_client_failure(t.c)->cls, TERN_SMTP_CLIENT_TEMPFAIL);
	tc_free(&t);
	/* HELO refused as well. */
	tc_opts(&t, state);
	tc_start(&t);
	tc_feed(&t, "220 x\r\n502 no\r\n");
	tc_out(&t, EHLO_LINE "HELO client.example\r\n");
	tc_feed(&t, "550 no\r\n");
	tc_out(&t, "QUIT\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	assert_int_equal(tern_smtp_client_failure(t.c)->code, 550);
	tc_free(&t);
}

/* ---- transactions ---- */

static void test_plain_transaction(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_ready(&t, "250-8BITMIME\r\n");
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 0);
	send_two(&t);
	/* No PIPELINING: one command at a time. */
	tc_out(&t, MAIL_LINE);
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 5u * 60 * 1000);
	tc_feed(&t, "250 2.1.0 ok\r\n");
	tc_out(&t, RCPT1);
	tc_feed(&t, "550 5.1.1 unknown\r\n");
	tc_out(&t, RCPT2);
	tc_feed(&t, "250 2.1.5 ok\r\n");
	tc_out(&t, "DATA\r\n");
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 2u * 60 * 1000);
	tc_no_ev(&t);
	assert_int_equal(tern_smtp_client_body(t.c, "x", 1), TERN_ESTATE);
	tc_feed(&t, "354 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 3u * 60 * 1000);
	tc_body(&t, "Subject: x\r\n\r\nhello\r\n");
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	assert_int_equal(tern_smtp_client_body_end(t.c), TERN_ESTATE);
	tc_out(&t, "Subject: x\r\n\r\nhello\r\n.\r\n");
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 10u * 60 * 1000);
	tc_feed(&t, "250 2.0.0 queued as X\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_rcpt_is(&t, 0, 550, "5.1.1", TERN_SMTP_CLIENT_PERMFAIL);
	tc_rcpt_is(&t, 1, 250, "2.0.0", TERN_SMTP_CLIENT_SUCCESS);
	const tern_smtp_client_result *m = tern_smtp_client_message_result(t.c);
	assert_int_equal(m->code, 250);
	assert_string_equal(m->text, "queued as X");
	assert_null(tern_smtp_client_rcpt_result(t.c, 2));
	/* A second message: the first ended cleanly, so no RSET. */
	send_two(&t);
	tc_out(&t, MAIL_LINE);
	assert_null(tern_smtp_client_message_result(t.c));
	tc_feed(&t, "250 ok\r\n250 ok\r\n");
	tc_out(&t, RCPT1 RCPT2);
	tc_feed(&t, "250 ok\r\n");
	tc_out(&t, "DATA\r\n");
	tc_feed(&t, "354 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, ".\r\n");
	tc_feed(&t, "451 4.3.0 disk full\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 451, "4.3.0", TERN_SMTP_CLIENT_TEMPFAIL);
	tc_rcpt_is(&t, 1, 451, "4.3.0", TERN_SMTP_CLIENT_TEMPFAIL);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	assert_int_equal(tern_smtp_client_quit(t.c), 0);
	tc_out(&t, "QUIT\r\n");
	tc_feed(&t, "221 bye\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	assert_true(tern_smtp_client_done(t.c));
	assert_null(tern_smtp_client_failure(t.c));
	tc_free(&t);
}

static void test_pipelined_transaction(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_ready(&t, "250-PIPELINING\r\n");
	send_two(&t);
	/* RFC 2920: MAIL, RCPTs and DATA in one write. */
	tc_out(&t, MAIL_LINE RCPT1 RCPT2 "DATA\r\n");
	tc_feed(&t, "250 ok\r\n250 ok\r\n");
	tc_no_ev(&t);
	tc_feed(&t, "450 4.2.1 busy\r\n354 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	tc_body(&t, "a\r\n");
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, "a\r\n.\r\n");
	tc_feed(&t, "250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 250, "", TERN_SMTP_CLIENT_SUCCESS);
	tc_rcpt_is(&t, 1, 450, "4.2.1", TERN_SMTP_CLIENT_TEMPFAIL);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	/* Second message: every recipient refused; DATA's 554 ends it and
	 * the next message starts with RSET, pipelined with MAIL. */
	send_two(&t);
	tc_out(&t, MAIL_LINE RCPT1 RCPT2 "DATA\r\n");
	tc_feed(&t, "250 ok\r\n550 5.1.1 a\r\n551 5.1.6 b\r\n554 5.5.1 no valid recipients\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 550, "5.1.1", TERN_SMTP_CLIENT_PERMFAIL);
	tc_rcpt_is(&t, 1, 551, "5.1.6", TERN_SMTP_CLIENT_PERMFAIL);
	assert_int_equal(tern_smtp_client_message_result(t.c)->code, 550);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	send_two(&t);
	tc_out(&t, "RSET\r\n" MAIL_LINE RCPT1 RCPT2 "DATA\r\n");
	/* MAIL refused: every recipient gets MAIL's reply, not the 503s. */
	tc_feed(&t, "250 ok\r\n451 4.7.1 greylisted\r\n503 a\r\n503 b\r\n503 c\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 451, "4.7.1", TERN_SMTP_CLIENT_TEMPFAIL);
	tc_rcpt_is(&t, 1, 451, "4.7.1", TERN_SMTP_CLIENT_TEMPFAIL);
	assert_int_equal(tern_smtp_client_message_result(t.c)->code, 451);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_free(&t);
}

/* A broken server that gives 354 though no recipient was accepted: the
 * client ends the empty message at once. */
static void test_pipelined_354_without_rcpt(void **state)
{
	struct tc t;
	pipelined_sent(&t, state);
	tc_feed(&t, "250 ok\r\n550 no\r\n550 no\r\n354 go\r\n");
	tc_out(&t, ".\r\n");
	tc_no_ev(&t);
	tc_feed(&t, "250 ok?\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 550, "", TERN_SMTP_CLIENT_PERMFAIL);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_free(&t);
}

/* Without PIPELINING, MAIL refused: no RCPT goes out; RSET before the
 * next MAIL, waited for. */
static void test_mail_refused_then_rset(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_ready(&t, "");
	send_two(&t);
	tc_out(&t, MAIL_LINE);
	tc_feed(&t, "553 5.1.8 bad sender\r\n");
	tc_out(&t, "");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 553, "5.1.8", TERN_SMTP_CLIENT_PERMFAIL);
	tc_rcpt_is(&t, 1, 553, "5.1.8", TERN_SMTP_CLIENT_PERMFAIL);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	send_two(&t);
	tc_out(&t, "RSET\r\n");
	tc_feed(&t, "250 ok\r\n");
	tc_out(&t, MAIL_LINE);
	tc_feed(&t, "250 ok\r\n");
	tc_out(&t, RCPT1);
	tc_feed(&t, "550 no\r\n");
	tc_out(&t, RCPT2);
	tc_feed(&t, "550 no\r\n");
	/* All refused: no DATA; the message is over. */
	tc_out(&t, "");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_free(&t);
}

/* A 3xx where a final reply belongs is never a success. */
static void test_3xx_not_success(void **state)
{
	struct tc t;
	pipelined_sent(&t, state);
	tc_feed(&t, "250 ok\r\n354 what\r\n250 ok\r\n354 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, ".\r\n");
	tc_feed(&t, "354 again?\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 354, "", TERN_SMTP_CLIENT_TEMPFAIL);
	tc_rcpt_is(&t, 1, 354, "", TERN_SMTP_CLIENT_TEMPFAIL);
	assert_string_equal(tern_smtp_client_rcpt_result(t.c, 1)->text, "again?");
	assert_int_equal(tern_smtp_client_message_result(t.c)->cls, TERN_SMTP_CLIENT_TEMPFAIL);
	tc_free(&t);
	/* A 250 to DATA: nothing was sent, nothing delivered. */
	pipelined_sent(&t, state);
	tc_feed(&t, "250 ok\r\n250 ok\r\n250 ok\r\n250 sure\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 250, "", TERN_SMTP_CLIENT_TEMPFAIL);
	tc_rcpt_is(&t, 1, 250, "", TERN_SMTP_CLIENT_TEMPFAIL);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	/* ... and the next message starts with RSET. */
	send_two(&t);
	tc_out(&t, "RSET\r\n" MAIL_LINE RCPT1 RCPT2 "DATA\r\n");
	tc_free(&t);
}

static void test_data_refused(void **state)
{
	struct tc t;
	pipelined_sent(&t, state);
	tc_feed(&t, "250 ok\r\n250 ok\r\n550 no\r\n451 4.3.0 try later\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 451, "4.3.0", TERN_SMTP_CLIENT_TEMPFAIL);
	tc_rcpt_is(&t, 1, 550, "", TERN_SMTP_CLIENT_PERMFAIL);
	tc_free(&t);
}

/* ---- 421, malformed, unexpected, timeouts, eof ---- */

static void test_421_mid_transaction(void **state)
{
	struct tc t;
	pipelined_sent(&t, state);
	tc_feed(&t, "250 ok\r\n550 5.1.1 no\r\n421 4.4.2 closing\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 550, "5.1.1", TERN_SMTP_CLIENT_PERMFAIL);
	tc_rcpt_is(&t, 1, 421, "4.4.2", TERN_SMTP_CLIENT_TEMPFAIL);
	assert_int_equal(tern_smtp_client_rcpt_result(t.c, 1)->reason, TERN_SMTP_CLIENT_R_CLOSED);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	tc_out(&t, "");
	assert_true(tern_smtp_client_done(t.c));
	tern_smtp_client_message m;
	tc_msg1(&m, two, 2);
	assert_int_equal(tern_smtp_client_send(t.c, &m), TERN_ESTATE);
	tc_free(&t);
}

static void test_421_in_body(void **state)
{
	struct tc t;
	pipelined_sent(&t, state);
	tc_feed(&t, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	tc_body(&t, "abc");
	tc_feed(&t, "421 shutting down\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 421, "", TERN_SMTP_CLIENT_TEMPFAIL);
	tc_rcpt_is(&t, 1, 421, "", TERN_SMTP_CLIENT_TEMPFAIL);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	assert_int_equal(tern_smtp_client_body(t.c, "x", 1), TERN_ESTATE);
	assert_int_equal(tern_smtp_client_body_end(t.c), TERN_ESTATE);
	tc_free(&t);
}

static void test_malformed_in_session(void **state)
{
	static const char *const bad[] = {
		"25O ok\r\n", "250-a\r\n550 b\r\n", "999 x\r\n", "hello\r\n",
	};
	for (size_t i = 0; i < 4; i++) {
		struct tc t;
		tc_opts(&t, state);
		tc_ready(&t, "");
		send_two(&t);
		tc_out(&t, MAIL_LINE);
		tc_feed(&t, bad[i]);
		tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
		const tern_smtp_client_result *r = tern_smtp_client_rcpt_result(t.c, 0);
		assert_int_equal(r->cls, TERN_SMTP_CLIENT_TEMPFAIL);
		assert_int_equal(r->reason, TERN_SMTP_CLIENT_R_PROTOCOL);
		tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
		tc_out(&t, "QUIT\r\n");
		assert_int_equal(tern_smtp_client_failure(t.c)->reason, TERN_SMTP_CLIENT_R_PROTOCOL);
		tc_free(&t);
	}
}

static void test_unexpected_reply(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_ready(&t, "");
	tc_feed(&t, "250 nobody asked\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	assert_int_equal(tern_smtp_client_failure(t.c)->reason, TERN_SMTP_CLIENT_R_PROTOCOL);
	tc_free(&t);
	/* A stray reply after EHLO's, in the same read: the READY that was
	 * queued is withdrawn, only CLOSED is left. */
	tc_opts(&t, state);
	tc_start(&t);
	tc_feed(&t, "220 a\r\n250 b\r\n250 c\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	tc_no_ev(&t);
	tc_free(&t);
}

/* A malformed reply in the middle of a DATA body: no QUIT may be written
 * (it would be message text). */
static void test_malformed_in_body(void **state)
{
	struct tc t;
	pipelined_sent(&t, state);
	tc_feed(&t, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	tc_body(&t, "abc");
	tc_out(&t, "abc");
	tc_feed(&t, "xx\r\n");
	tc_out(&t, "");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	tc_free(&t);
}

static void test_timeouts(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	t.o.timeout_greeting_ms = 1000;
	t.o.timeout_mail_ms = 2000;
	t.o.timeout_rcpt_ms = 3000;
	t.o.timeout_data_init_ms = 4000;
	t.o.timeout_data_block_ms = 5000;
	t.o.timeout_data_end_ms = 6000;
	t.o.timeout_other_ms = 7000;
	tc_start(&t);
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 1000);
	tc_feed(&t, "220 x\r\n");
	tc_out(&t, EHLO_LINE);
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 7000);
	tc_feed(&t, "250 x\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 0);
	send_two(&t);
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 2000);
	tc_feed(&t, "250 ok\r\n");
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 3000);
	tc_feed(&t, "250 ok\r\n250 ok\r\n");
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 4000);
	tc_feed(&t, "354 go\r\n");
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 5000);
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 6000);
	tc_out(&t, MAIL_LINE RCPT1 RCPT2 "DATA\r\n.\r\n");
	tern_smtp_client_timeout(t.c);
	/* The unpulled BODY was withdrawn. */
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 451, "4.4.2", TERN_SMTP_CLIENT_TEMPFAIL);
	assert_int_equal(tern_smtp_client_rcpt_result(t.c, 1)->reason, TERN_SMTP_CLIENT_R_TIMEOUT);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	assert_int_equal(tern_smtp_client_failure(t.c)->reason, TERN_SMTP_CLIENT_R_TIMEOUT);
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 0);
	tern_smtp_client_timeout(t.c); /* no-op now */
	tern_smtp_client_eof(t.c);
	tc_no_ev(&t);
	tc_out(&t, "");
	tc_free(&t);
}

static void test_eof(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_start(&t);
	tern_smtp_client_eof(t.c);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	assert_int_equal(tern_smtp_client_failure(t.c)->reason, TERN_SMTP_CLIENT_R_CLOSED);
	assert_int_equal(tern_smtp_client_failure(t.c)->cls, TERN_SMTP_CLIENT_TEMPFAIL);
	tc_free(&t);
}

/* ---- LMTP (RFC 2033) ---- */

static void test_lmtp(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	t.o.lmtp = true;
	tc_ready(&t, "250-PIPELINING\r\n");
	tern_smtp_client_rcpt r3[] = { { "x@y.example", 0, NULL, NULL },
				       { "w@y.example", 0, NULL, NULL },
				       { "z@y.example", 0, NULL, NULL } };
	tern_smtp_client_message m;
	tc_msg1(&m, r3, 3);
	assert_int_equal(tern_smtp_client_send(t.c, &m), 0);
	tc_out(&t, MAIL_LINE RCPT1 "RCPT TO:<w@y.example>\r\n" RCPT2 "DATA\r\n");
	tc_feed(&t, "250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n250 ok\r\n354 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	tc_body(&t, "hi\r\n");
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, "hi\r\n.\r\n");
	/* One reply per accepted recipient, in order. */
	tc_feed(&t, "250 2.0.0 x delivered\r\n");
	tc_no_ev(&t);
	tc_feed(&t, "452 4.2.2 z over quota\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 250, "2.0.0", TERN_SMTP_CLIENT_SUCCESS);
	tc_rcpt_is(&t, 1, 550, "5.1.1", TERN_SMTP_CLIENT_PERMFAIL);
	tc_rcpt_is(&t, 2, 452, "4.2.2", TERN_SMTP_CLIENT_TEMPFAIL);
	assert_string_equal(tern_smtp_client_rcpt_result(t.c, 2)->text, "z over quota");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_free(&t);
}

/* LMTP never falls back to HELO; a 421 among the per-recipient replies
 * temp-fails the rest. */
static void test_lmtp_refusals(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	t.o.lmtp = true;
	tc_start(&t);
	tc_feed(&t, "220 x\r\n");
	tc_out(&t, "LHLO client.example\r\n");
	tc_feed(&t, "500 what\r\n");
	tc_out(&t, "QUIT\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	tc_free(&t);

	tc_opts(&t, state);
	t.o.lmtp = true;
	tc_ready(&t, "");
	send_two(&t);
	tc_out(&t, MAIL_LINE);
	tc_feed(&t, "250 ok\r\n");
	tc_out(&t, RCPT1);
	tc_feed(&t, "250 ok\r\n");
	tc_out(&t, RCPT2);
	tc_feed(&t, "250 ok\r\n");
	tc_out(&t, "DATA\r\n");
	tc_feed(&t, "354 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, ".\r\n");
	tc_feed(&t, "250 one\r\n421 bye\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 250, "", TERN_SMTP_CLIENT_SUCCESS);
	tc_rcpt_is(&t, 1, 421, "", TERN_SMTP_CLIENT_TEMPFAIL);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	tc_free(&t);
}

/* ---- API misuse ---- */

static void test_api_errors(void **state)
{
	(void)state;
	tern_smtp_client *c = NULL;
	tern_smtp_client_options o;
	tern_smtp_client_options_init(&o);
	assert_int_equal(tern_smtp_client_new(&c, &o), TERN_EINVAL);
	o.helo_name = "a b";
	assert_int_equal(tern_smtp_client_new(&c, &o), TERN_EINVAL);
	o.helo_name = "a\r\nMAIL";
	assert_int_equal(tern_smtp_client_new(&c, &o), TERN_EINVAL);
	o.helo_name = "ok.example";
	o.auth_user = "u";
	assert_int_equal(tern_smtp_client_new(&c, &o), TERN_EINVAL);
	o.auth_password = "p";
	const char *const bad_mechs[] = { "NOPE", NULL };
	o.auth_mechs = bad_mechs;
	assert_int_equal(tern_smtp_client_new(&c, &o), TERN_EINVAL);
	assert_null(c);
	assert_int_equal(tern_smtp_client_new(NULL, &o), TERN_EINVAL);
	o.auth_mechs = NULL;
	assert_int_equal(tern_smtp_client_new(&c, &o), 0);
	/* Before READY nothing can be sent. */
	tern_smtp_client_message m;
	tc_msg1(&m, two, 2);
	assert_int_equal(tern_smtp_client_send(c, &m), TERN_ESTATE);
	assert_int_equal(tern_smtp_client_quit(c), TERN_ESTATE);
	assert_int_equal(tern_smtp_client_tls_started(c), TERN_ESTATE);
	assert_int_equal(tern_smtp_client_feed(c, NULL, 1), TERN_EINVAL);
	assert_int_equal(tern_smtp_client_feed(c, NULL, 0), 0);
	tern_smtp_client_output_consumed(c, 100);
	tern_smtp_client_destroy(&c);
	tern_smtp_client_destroy(&c);
	tern_smtp_client_destroy(NULL);
	/* ABI: no struct_size, a smaller one, a larger one with an unknown
	 * option set; a larger one with zeroes is fine. */
	struct {
		tern_smtp_client_options o;
		unsigned char extra[16];
	} big;
	memset(&big, 0, sizeof(big));
	tern_smtp_client_options_init_sized(&big.o, sizeof(big));
	assert_int_equal(big.o.struct_size, sizeof(big));
	assert_int_equal(big.o.tls, TERN_SMTP_CLIENT_TLS_OPPORTUNISTIC);
	big.o.helo_name = "ok.example";
	assert_int_equal(tern_smtp_client_new(&c, &big.o), 0);
	tern_smtp_client_destroy(&c);
	big.extra[3] = 1;
	assert_int_equal(tern_smtp_client_new(&c, &big.o), TERN_EINVAL);
	big.extra[3] = 0;
	big.o.struct_size = 0;
	assert_int_equal(tern_smtp_client_new(&c, &big.o), TERN_EINVAL);
	big.o.struct_size = sizeof(size_t) + 1;
	assert_int_equal(tern_smtp_client_new(&c, &big.o), TERN_EINVAL);
	tern_smtp_client_options_init_sized(NULL, 100);
	tern_smtp_client_options_init_sized(&big.o, 1);
}

static void test_bad_messages(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_ready(&t, "250-DSN\r\n");
	tern_smtp_client_message m;
	tern_smtp_client_rcpt r = { "x@y.example", 0, NULL, NULL };
	tc_msg1(&m, &r, 1);
	m.n_rcpts = 0;
	assert_int_equal(tern_smtp_client_send(t.c, &m), TERN_EINVAL);
	m.n_rcpts = 1;
	m.from = "a@b.example>\r\nRSET";
	assert_int_equal(tern_smtp_client_send(t.c, &m), TERN_EINVAL);
	m.from = "no-at-sign";
	assert_int_equal(tern_smtp_client_send(t.c, &m), TERN_EINVAL);
	m.from = "a@b.example";
	r.address = "x@y.example> NOTIFY=NEVER";
	assert_int_equal(tern_smtp_client_send(t.c, &m), TERN_EINVAL);
	r.address = "";
	assert_int_equal(tern_smtp_client_send(t.c, &m), TERN_EINVAL);
	r.address = "x@y.example";
	r.notify = TERN_SMTP_NOTIFY_NEVER | TERN_SMTP_NOTIFY_SUCCESS;
	assert_int_equal(tern_smtp_client_send(t.c, &m), TERN_EINVAL);
	r.notify = 0;
	r.orcpt_type = "rfc822";
	r.orcpt = "a\r\nb";
	assert_int_equal(tern_smtp_client_send(t.c, &m), TERN_EINVAL);
	r.orcpt_type = "rfc 822";
	r.orcpt = "a@b";
	assert_int_equal(tern_smtp_client_send(t.c, &m), TERN_EINVAL);
	r.orcpt_type = NULL;
	m.envid = "x\ny";
	assert_int_equal(tern_smtp_client_send(t.c, &m), TERN_EINVAL);
	m.envid = NULL;
	tc_out(&t, "");
	tc_no_ev(&t);
	/* Still usable. */
	assert_int_equal(tern_smtp_client_send(t.c, &m), 0);
	tc_out(&t, MAIL_LINE);
	tc_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TC2(test_greeting_554),
		TC2(test_greeting_421),
		TC2(test_helo_fallback),
		TC2(test_ehlo_refused),
		TC2(test_plain_transaction),
		TC2(test_pipelined_transaction),
		TC2(test_pipelined_354_without_rcpt),
		TC2(test_mail_refused_then_rset),
		TC2(test_3xx_not_success),
		TC2(test_data_refused),
		TC2(test_421_mid_transaction),
		TC2(test_421_in_body),
		TC2(test_malformed_in_session),
		TC2(test_unexpected_reply),
		TC2(test_malformed_in_body),
		TC2(test_timeouts),
		TC2(test_eof),
		TC2(test_lmtp),
		TC2(test_lmtp_refusals),
		TC2(test_api_errors),
		TC2(test_bad_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
