/* Adversarial review of the SMTP engine: each case here documents a defect
 * found by reading src/smtp against the RFCs and smtp-security.md. They
 * assert the behaviour the RFC (or the engine's own contract in
 * include/tern/smtp.h) asks for, so they fail until the engine is fixed.
 * Each case names the clause it holds the engine to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "helper_session.h"

#define L HS_LINES
#define MAIL_OK "MAIL FROM:<a@b.example>\r\n"
#define RCPT_OK "RCPT TO:<c@d.example>\r\n"
#define TXB HS_EHLO MAIL_OK RCPT_OK
#define TXB_REPLY HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5"

/* Feeds without the harness's automatic resume: what the engine does before
 * the embedder answers is exactly what is under test. */
static void raw_feed(struct hs *h, const char *in)
{
	ssize_t r = tern__smtp_session_feed(h->session, in, strlen(in));
	(void)r;
	hs_collect(h);
}

/* ---- 1. BDAT LAST finishes the message while its last chunk is paused ---
 *
 * smtp.h: on_data_chunk returning PENDING "pauses reading"; resume()
 * continues. body.c's BDAT reader ignores the pause ("a pause takes effect
 * after this chunk") and data.c chunk_complete() then runs
 * message_complete() at once: on_data_end is called, and 250 sent, while the
 * embedder has not finished with the last chunk. With on_data_end also
 * answering PENDING, s->wait is overwritten (CHUNK -> DATA_END), so the
 * embedder's resume() meant for the chunk is taken as the verdict on the
 * whole message: "250 2.6.0 Message accepted" goes out before the message
 * is stored (RFC 5321 6.1: a 250 after the data hands over responsibility). */
static void test_bdat_last_chunk_paused(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.disable_received_header = true;
	hs_push_pending(&h, HS_DATA_CHUNK); /* the only chunk: "hello" */
	hs_open(&h);
	hs_start(&h);
	raw_feed(&h, TXB "BDAT 5 LAST\r\nhello");
	assert_true(h.pending); /* the chunk decision is outstanding */
	if (h.messages != 0 || hs_count(&h, "250 2.6.0") != 0) {
		hs_dump(&h, "bdat last chunk paused");
		fail_msg("on_data_end ran (%u) / 250 sent while the last BDAT chunk was "
			 "still paused by on_data_chunk", h.messages);
	}
	hs_resume_all(&h);
	hs_expect(&h, L(TXB_REPLY, "250 2.6.0"), true, "after resume");
	assert_int_equal(h.messages, 1);
	hs_free(&h);
}

/* The severe form: chunk and end both answered asynchronously, as an
 * embedder that writes the body with async I/O and fsyncs at the end does.
 * Custom callbacks, since the harness allows one pending decision only. */
struct async_store {
	unsigned chunk_pending, end_calls;
	bool end_pending;
};

static int async_chunk(tern_smtp_session *s, const void *buf, size_t len,
		       tern_smtp_reply *reply_r, void *ud)
{
	(void)s, (void)buf, (void)len, (void)reply_r;
	struct hs *h = ud;
	struct async_store *st = h->test_ctx;
	st->chunk_pending++;
	return TERN_SMTP_PENDING; /* write queued */
}

static int async_end(tern_smtp_session *s, const tern_smtp_data_info *info,
		     tern_smtp_reply *reply_r, void *ud)
{
	(void)s, (void)info, (void)reply_r;
	struct hs *h = ud;
	struct async_store *st = h->test_ctx;
	st->end_calls++;
	st->end_pending = true;
	return TERN_SMTP_PENDING; /* fsync queued */
}

static void test_bdat_async_store_premature_250(void **state)
{
	(void)state;
	struct hs h;
	struct async_store st = {0};
	hs_init(&h);
	h.opts.disable_received_header = true;
	h.opts.callbacks.on_data_chunk = async_chunk;
	h.opts.callbacks.on_data_end = async_end;
	h.test_ctx = &st;
	hs_open(&h);
	hs_start(&h);
	raw_feed(&h, TXB "BDAT 5 LAST\r\nhello");
	assert_int_equal(st.chunk_pending, 1);
	/* The write of "hello" completes: the embedder resumes the chunk. */
	assert_int_equal(tern_smtp_session_resume(h.session, NULL), 0);
	hs_collect(&h);
	if (hs_count(&h, "250 2.6.0") != 0) {
		hs_dump(&h, "async store");
		fail_msg("250 2.6.0 sent on the resume() of the chunk write, before "
			 "on_data_end's own decision (end_calls=%u): acknowledged "
			 "before stored, RFC 5321 6.1", st.end_calls);
	}
	hs_free(&h);
}

/* ---- 2. A pipelined DATA after all RCPTs were refused counts as a bad
 * command ------------------------------------------------------------------
 *
 * RFC 2920 3.1 / RFC 5321 3.3: a pipelining client sends MAIL, RCPT and
 * DATA in one group; when every RCPT is refused, DATA gets 554 "no valid
 * recipients". That is the normal pipelined flow, not a client error, but
 * cmd_data.c tern__smtp_can_send_message() answers it through
 * tern__smtp_reply_error(), which counts toward max_bad_commands, and the
 * count never resets. A list server relaying one-recipient messages to a
 * domain with stale addresses is cut off with 421 4.7.0 after the tenth
 * bounce in one connection, mid-stream. (Postfix resets its error count
 * after mail is delivered, and RCPT refusals by policy are not protocol
 * errors here either.) */
static void ten_rcpt_refused(struct hs *h)
{
	h->opts.disable_received_header = true;
	h->fallback[HS_RCPT] = (struct hs_decision){
		.decision = TERN_SMTP_REJECT, .reply = {550, "5.1.1", "No such user"}};
}

#define REFUSED_TX MAIL_OK "RCPT TO:<gone@d.example>\r\nDATA\r\nRSET\r\n"
#define REFUSED_TX_REPLY "250 2.1.0", "550 5.1.1", "554 5.5.1", "250 2.0.0"

static const struct hs_case cases[] = {
	{.name = "review: pipelined DATA after refused RCPTs is not a bad command",
	 .setup = ten_rcpt_refused,
	 .in = HS_EHLO REFUSED_TX REFUSED_TX REFUSED_TX REFUSED_TX REFUSED_TX REFUSED_TX
		 REFUSED_TX REFUSED_TX REFUSED_TX REFUSED_TX REFUSED_TX "NOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, REFUSED_TX_REPLY, REFUSED_TX_REPLY, REFUSED_TX_REPLY,
		     REFUSED_TX_REPLY, REFUSED_TX_REPLY, REFUSED_TX_REPLY, REFUSED_TX_REPLY,
		     REFUSED_TX_REPLY, REFUSED_TX_REPLY, REFUSED_TX_REPLY, REFUSED_TX_REPLY,
		     "250 2.0.0"),
	 .bug = "DATA's 554 no valid recipients counts toward max_bad_commands"},
};

/* ---- 3. on_connect refusal closes at once ------------------------------
 *
 * RFC 5321 3.1: "A server taking this approach [554 instead of 220] MUST
 * still wait for the client to send a QUIT before closing the connection
 * and SHOULD respond to any intervening commands with '503 bad sequence of
 * commands'." session.c connect_decided() sets closing right after the 554
 * (a 421 refusal may close; a 554 may not). */
static void connect_refused(struct hs *h) { hs_push_reject(h, HS_CONNECT, 0, NULL, NULL); }

static void test_connect_554_waits_for_quit(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	connect_refused(&h);
	hs_open(&h);
	hs_start(&h);
	raw_feed(&h, "EHLO client.example\r\nMAIL FROM:<a@b.example>\r\nQUIT\r\n");
	hs_expect(&h, L("554 5.7.1", "503 5.5.1", "503 5.5.1", "221 2.0.0"), false,
		  "554 greeting, then commands until QUIT");
	hs_free(&h);
}

/* ---- 4. A STARTTLS answered from the pipelining queue eats the client's
 * next write ---------------------------------------------------------------
 *
 * cmd_starttls.c sets s->drop_input. Inside feed it only drops the rest of
 * that feed, but a STARTTLS run from run_queue() (resume(), outside feed)
 * leaves drop_input set, and session.c then drops the whole next feed,
 * whatever it holds and whenever it was sent. STARTTLS was answered 502
 * (no TLS started), so the client carries on in plaintext: a client that
 * waited for the 502 and then sends its next command is never answered and
 * the session hangs until the idle timeout. RFC 3207 4 asks only that the
 * octets received before the reply are not used after a TLS handshake; with
 * 502 there is none. */
static void test_queued_starttls_swallows_next_command(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	hs_push_pending(&h, HS_HELO);
	hs_open(&h);
	hs_start(&h);
	/* EHLO waits for an asynchronous on_helo; STARTTLS is queued behind. */
	raw_feed(&h, HS_EHLO "STARTTLS\r\n");
	assert_true(h.pending);
	hs_resume_all(&h); /* 250 EHLO, then 502 for the queued STARTTLS */
	/* The client read both replies and now talks plaintext. */
	raw_feed(&h, "NOOP\r\n");
	hs_expect(&h, L(HS_EHLO_REPLY, "502 5.5.1", "250 2.0.0"), true,
		  "command sent after the 502 must be answered");
	hs_free(&h);
}

int main(void)
{
	int failed = hs_run_group("smtp review", cases, sizeof(cases) / sizeof(cases[0]));
	const struct CMUnitTest more[] = {
		cmocka_unit_test(test_bdat_last_chunk_paused),
		cmocka_unit_test(test_bdat_async_store_premature_250),
		cmocka_unit_test(test_connect_554_waits_for_quit),
		cmocka_unit_test(test_queued_starttls_swallows_next_command),
	};
	failed += cmocka_run_group_tests_name("smtp review (sessions)", more, NULL, NULL);
	return failed;
}
