/* Engine transcripts: PIPELINING (RFC 2920) and embedder decisions:
 * replies stay in order while decisions are pending, queued commands are
 * re-checked when they reach the head, groups end at DATA/BDAT/QUIT/STARTTLS,
 * resume() from inside a callback, custom and derived reply codes, the
 * bounded queue and output backpressure, draining and shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_session.h"

#define L HS_LINES
#define MAIL_OK "MAIL FROM:<a@b.example>\r\n"
#define RCPT_OK "RCPT TO:<c@d.example>\r\n"

static void no_received(struct hs *h) { h->opts.disable_received_header = true; }
static void mail_pending(struct hs *h)
{
	no_received(h);
	hs_push_pending(h, HS_MAIL);
}
static void mail_pending_reject(struct hs *h)
{
	no_received(h);
	hs_push(h, HS_MAIL,
		(struct hs_decision){.decision = TERN_SMTP_PENDING,
				     .resume_with = true,
				     .resume_reply = {450, "4.7.1", "Greylisted"}});
}
static void rcpt_pending_all(struct hs *h)
{
	no_received(h);
	h->fallback[HS_RCPT] = (struct hs_decision){.decision = TERN_SMTP_PENDING};
}
static void rcpt_pending_mixed(struct hs *h)
{
	no_received(h);
	hs_push_pending(h, HS_RCPT);
	hs_push(h, HS_RCPT,
		(struct hs_decision){.decision = TERN_SMTP_PENDING,
				     .resume_with = true,
				     .resume_reply = {550, "5.1.1", "No such user"}});
	hs_push_accept(h, HS_RCPT);
}
static void everything_pending(struct hs *h)
{
	no_received(h);
	for (int cb = HS_HELO; cb < HS_NCB; cb++)
		if (cb != HS_DATA_CHUNK)
			h->fallback[cb] = (struct hs_decision){.decision = TERN_SMTP_PENDING};
}
static void everything_inside(struct hs *h)
{
	no_received(h);
	for (int cb = HS_CONNECT; cb < HS_NCB; cb++)
		h->fallback[cb] = (struct hs_decision){.decision = TERN_SMTP_PENDING,
						       .resume_inside = true};
}
static void inside_reject(struct hs *h)
{
	no_received(h);
	hs_push(h, HS_MAIL,
		(struct hs_decision){.decision = TERN_SMTP_PENDING,
				     .resume_inside = true,
				     .resume_with = true,
				     .resume_reply = {553, "5.1.8", "Bad sender domain"}});
	hs_push(h, HS_RCPT,
		(struct hs_decision){.decision = TERN_SMTP_PENDING,
				     .resume_inside = true,
				     .resume_with = true,
				     .resume_reply = {250, NULL, "Fine by me"}});
}
static void reject_variants(struct hs *h)
{
	/* Custom code, enhanced and text. */
	hs_push_reject(h, HS_MAIL, 451, "4.7.1", "Greylisted, retry later");
	/* Only a code: the enhanced code is derived (5.7.1 -> 4.7.1). */
	hs_push_reject(h, HS_MAIL, 450, NULL, NULL);
	/* An enhanced code of the wrong class is replaced. */
	hs_push_reject(h, HS_MAIL, 550, "4.1.1", NULL);
	/* A malformed enhanced code is replaced. */
	hs_push_reject(h, HS_MAIL, 553, "5.x.1", "Bad");
	/* A positive code cannot reject: the default refusal is used. */
	hs_push_reject(h, HS_MAIL, 250, NULL, NULL);
	/* Text with CR LF cannot add a reply line. */
	hs_push_reject(h, HS_MAIL, 550, "5.7.1", "No\r\n250 2.1.0 Sender OK");
	/* Only text. */
	hs_push_reject(h, HS_MAIL, 0, NULL, "Go away");
}
static void accept_variants(struct hs *h)
{
	hs_push(h, HS_MAIL,
		(struct hs_decision){.decision = TERN_SMTP_ACCEPT,
				     .reply = {250, "2.1.0", "Originator <a@b.example> ok"}});
	hs_push(h, HS_RCPT,
		(struct hs_decision){.decision = TERN_SMTP_ACCEPT,
				     .reply = {251, NULL, "User not local; will forward"}});
}
static void hide_esc_reject(struct hs *h)
{
	h->opts.hide_enhancedstatuscodes = true;
	hs_push_reject(h, HS_MAIL, 451, "4.7.1", "Greylisted");
}
static void queue_4_mail_pending(struct hs *h)
{
	h->opts.max_pipelined_commands = 4;
	hs_push_pending(h, HS_MAIL);
}
static void helo_pending(struct hs *h) { hs_push_pending(h, HS_HELO); }
static void vrfy_pending_bad_2(struct hs *h)
{
	h->opts.max_bad_commands = 2;
	hs_push_pending(h, HS_VRFY);
}
static void vrfy_pending(struct hs *h) { hs_push_pending(h, HS_VRFY); }

static void check_inside_rc(struct hs *h)
{
	assert_int_equal(h->inside_resume_rc, 0);
}

static void check_no_second_mail(struct hs *h)
{
	assert_int_equal(h->calls[HS_MAIL], 1);
}

static const struct hs_case cases[] = {
	{.name = "whole transaction pipelined", .setup = no_received,
	 .in = HS_EHLO MAIL_OK RCPT_OK "RCPT TO:<e@d.example>\r\nDATA\r\nhi\r\n.\r\n" MAIL_OK
	       "RSET\r\nNOOP\r\nQUIT\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "250 2.1.5", "354", "250 2.6.0",
		     "250 2.1.0", "250 2.0.0", "250 2.0.0", "221 2.0.0"),
	 .body = "hi\r\n", .messages = 1, .close = 1},
	{.name = "mail pending then pipelined", .setup = mail_pending,
	 .in = HS_EHLO MAIL_OK RCPT_OK "RCPT TO:<e@d.example>\r\nNOOP\r\nVRFY x\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.0.0",
		     "252 2.1.5")},
	/* Queued commands are checked when they reach the head of the queue. */
	{.name = "mail pending rejected then queued rcpt", .setup = mail_pending_reject,
	 .in = HS_EHLO MAIL_OK RCPT_OK "DATA\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "=450 4.7.1 Greylisted", "503 5.5.1", "503 5.5.1",
		     "250 2.0.0")},
	{.name = "rcpt pending with data pipelined", .setup = rcpt_pending_all,
	 .in = HS_EHLO MAIL_OK RCPT_OK "RCPT TO:<e@d.example>\r\nDATA\r\nbody\r\n.\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "250 2.1.5", "354", "250 2.6.0",
		     "250 2.0.0"),
	 .body = "body\r\n", .messages = 1},
	{.name = "rcpt pending mixed verdicts", .setup = rcpt_pending_mixed,
	 .in = HS_EHLO MAIL_OK "RCPT TO:<r1@d.example>\r\nRCPT TO:<r2@d.example>\r\n"
	       "RCPT TO:<r3@d.example>\r\nDATA\r\nx\r\n.\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "=550 5.1.1 No such user",
		     "250 2.1.5", "354", "250 2.6.0"),
	 .messages = 1},
	{.name = "every decision pending", .setup = everything_pending,
	 .in = HS_EHLO MAIL_OK RCPT_OK "DATA\r\nbody\r\n.\r\nVRFY x\r\n" MAIL_OK RCPT_OK
	       "BDAT 2 LAST\r\nokQUIT\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "354", "250 2.6.0", "252 2.1.5",
		     "250 2.1.0", "250 2.1.5", "250 2.6.0", "221 2.0.0"),
	 .body = "ok", .messages = 2, .close = 1},
	{.name = "every decision resumed inside", .setup = everything_inside,
	 .in = HS_EHLO MAIL_OK RCPT_OK "DATA\r\nbody\r\n.\r\nVRFY x\r\n" MAIL_OK RCPT_OK
	       "BDAT 2 LAST\r\nok",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "354", "250 2.6.0", "252 2.1.5",
		     "250 2.1.0", "250 2.1.5", "250 2.6.0"),
	 .body = "ok", .messages = 2, .check = check_inside_rc},
	{.name = "resumed inside with replies", .setup = inside_reject,
	 .in = HS_EHLO MAIL_OK MAIL_OK RCPT_OK,
	 .expect = L(HS_EHLO_REPLY, "=553 5.1.8 Bad sender domain", "250 2.1.0",
		     "=250 2.1.5 Fine by me"),
	 .check = check_inside_rc},
	{.name = "helo pending with pipelined mail", .setup = helo_pending,
	 .in = HS_EHLO MAIL_OK RCPT_OK,
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5")},
	{.name = "vrfy pending keeps order", .setup = vrfy_pending,
	 .in = "VRFY a\r\nNOOP\r\nFOO\r\n", .expect = L("252 2.1.5", "250 2.0.0", "500 5.5.1")},
	{.name = "reject variants", .setup = reject_variants,
	 .in = HS_EHLO MAIL_OK MAIL_OK MAIL_OK MAIL_OK MAIL_OK MAIL_OK MAIL_OK MAIL_OK,
	 .expect = L(HS_EHLO_REPLY, "=451 4.7.1 Greylisted, retry later",
		     "=450 4.7.1 Sender rejected", "=550 5.7.1 Sender rejected", "=553 5.7.1 Bad",
		     "=550 5.7.1 Sender rejected", "=550 5.7.1 No  250 2.1.0 Sender OK",
		     "=550 5.7.1 Go away", "=250 2.1.0 Sender OK")},
	{.name = "accept variants", .setup = accept_variants,
	 .in = HS_EHLO MAIL_OK RCPT_OK,
	 .expect = L(HS_EHLO_REPLY, "=250 2.1.0 Originator <a@b.example> ok",
		     "=251 2.1.5 User not local; will forward")},
	{.name = "decision reply without enhanced codes", .setup = hide_esc_reject,
	 .in = HS_EHLO MAIL_OK,
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250-", "250 ",
		     "=451 Greylisted")},
	/* A full queue stops reading; nothing is lost or reordered. */
	{.name = "bounded queue", .setup = queue_4_mail_pending,
	 .in = HS_EHLO MAIL_OK "NOOP 1\r\nNOOP 2\r\nNOOP 3\r\nNOOP 4\r\nNOOP 5\r\nNOOP 6\r\n"
	       "NOOP 7\r\nNOOP 8\r\nNOOP 9\r\nNOOP 10\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.0.0", "250 2.0.0", "250 2.0.0",
		     "250 2.0.0", "250 2.0.0", "250 2.0.0", "250 2.0.0", "250 2.0.0", "250 2.0.0",
		     "250 2.0.0")},
	/* RFC 2920 3.1: QUIT ends the group; nothing after it is answered. */
	{.name = "pending then quit then more", .setup = mail_pending,
	 .in = HS_EHLO MAIL_OK "QUIT\r\nNOOP\r\n" MAIL_OK,
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "221 2.0.0"), .close = 1,
	 .check = check_no_second_mail},
	/* Replies stay in order also for lines refused at framing time. */
	{.name = "pending then bare lf line", .setup = mail_pending,
	 .in = HS_EHLO MAIL_OK "NOOP\nNOOP\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "500 5.5.2", "250 2.0.0")},
	{.name = "pending then too long line", .setup = mail_pending,
	 .in = HS_EHLO MAIL_OK
	       "NOOP "
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "500 5.5.2", "250 2.0.0")},
	/* Found by fuzz_smtp_session: framing errors behind a pending decision
	 * reach the bad-command limit; the 421 must still be the last reply. */
	{.name = "pending then too many bare lf lines", .setup = vrfy_pending_bad_2,
	 .in = "VRFY x\r\nA\nB\r\nNOOP\nX\r\n",
	 .expect = L("252 2.1.5", "500 5.5.2", "421 4.7.0"), .close = 1},
	{.name = "pending then http line", .setup = mail_pending,
	 .in = HS_EHLO MAIL_OK "GET / HTTP/1.1\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "421 4.7.0"), .close = 1},
};

/* ---- STARTTLS (smtp-security.md 1.2, STYLE.md) --------------------------- */

/* Whatever STARTTLS is answered, a MAIL pipelined behind it in the same
 * write must never run: it is the plaintext-injection pattern. */
/* STARTTLS with commands pipelined behind it in the same write (CVE-2011-
 * 0411): the engine answers 220 and takes not one octet more, so whatever
 * follows stays with the net layer, which discards it before the
 * handshake. Fed whole or in slices, with EHLO's decision pending or not. */
static void starttls_case(bool pending_ehlo, size_t step)
{
	static const char in[] =
		HS_EHLO "STARTTLS\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n";
	const size_t upto = strlen(HS_EHLO "STARTTLS\r\n");
	size_t off = 0, len = sizeof(in) - 1;
	struct hs h;

	hs_init(&h);
	h.tls_available = true;
	if (pending_ehlo)
		hs_push_pending(&h, HS_HELO);
	hs_open(&h);
	hs_start(&h);
	while (off < len) {
		size_t n = step && step < len - off ? step : len - off;
		ssize_t r = tern__smtp_session_feed(h.session, in + off, n);

		assert_true(r >= 0);
		off += (size_t)r;
		if ((size_t)r < n) {
			if (!h.pending)
				break;
			hs_resume_all(&h);
		}
	}
	hs_resume_all(&h);
	hs_collect(&h);
	if (hs_count(&h, "220 2.0.0") != 1 || !tern__smtp_session_want_tls(h.session) ||
	    off != upto) {
		hs_dump(&h, "STARTTLS");
		fail_msg("STARTTLS: 220 count %u, want_tls %d, consumed %zu of %zu (want %zu)",
			 hs_count(&h, "220 2.0.0"), tern__smtp_session_want_tls(h.session), off,
			 len, upto);
	}
	assert_false(tern__smtp_session_want_input(h.session));
	if (h.calls[HS_MAIL] != 0 || hs_count(&h, "250 2.1.0") != 0 ||
	    hs_count(&h, "250 2.1.5") != 0) {
		hs_dump(&h, "STARTTLS");
		fail_msg("MAIL pipelined after STARTTLS in the same write was "
			 "executed (pending_ehlo=%d, step=%zu)",
			 pending_ehlo, step);
	}
	hs_free(&h);
}

static void test_starttls_pipelined(void **state)
{
	(void)state;
	starttls_case(false, 0);
	starttls_case(false, 1);
	starttls_case(false, 3);
}

static void test_starttls_pipelined_behind_pending(void **state)
{
	(void)state;
	starttls_case(true, 0);
	starttls_case(true, 1);
}

/* ---- resume() misuse ---------------------------------------------------- */

static void test_resume_states(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	hs_push_pending(&h, HS_MAIL);
	hs_open(&h);
	hs_start(&h);
	/* Nothing pending. */
	assert_int_equal(tern_smtp_session_resume(h.session, NULL), TERN_ESTATE);
	hs_feed_str(&h, HS_EHLO MAIL_OK);
	assert_true(h.pending);
	h.pending = false;
	assert_int_equal(tern_smtp_session_resume(h.session, NULL), 0);
	/* Twice: the second has nothing to complete. */
	assert_int_equal(tern_smtp_session_resume(h.session, NULL), TERN_ESTATE);
	hs_collect(&h);
	hs_expect(&h, L(HS_EHLO_REPLY, "250 2.1.0"), true, "resume states");
	hs_free(&h);
}

/* Resuming twice from inside the callback: the second is refused. */
static void hook_double_resume(struct hs *h, tern_smtp_session *s)
{
	h->add_rc[0] = tern_smtp_session_resume(s, NULL);
	h->add_rc[1] = tern_smtp_session_resume(s, NULL);
}

static void test_double_resume_inside(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.hook_mail = hook_double_resume;
	hs_push(&h, HS_MAIL, (struct hs_decision){.decision = TERN_SMTP_PENDING,
						  .resume_inside = true});
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO MAIL_OK RCPT_OK);
	hs_expect(&h, L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5"), true, "double resume");
	assert_int_equal(h.add_rc[0], 0);
	assert_int_equal(h.add_rc[1], TERN_ESTATE);
	hs_free(&h);
}

/* ---- output backpressure ------------------------------------------------ */

/* A client that pipelines without reading replies cannot grow our output
 * without bound: the engine stops taking input until output is written. */
static void test_output_backpressure(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.max_junk_commands = 0; /* a NOOP flood is the point here */
	hs_open(&h);
	hs_start(&h);
	size_t n = 20000;
	char *in = malloc(n * 6 + 1);
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		memcpy(in + i * 6, "NOOP\r\n", 6);
	ssize_t r = tern__smtp_session_feed(h.session, in, n * 6);
	assert_true(r > 0);
	assert_true((size_t)r < n * 6);
	assert_false(tern__smtp_session_want_input(h.session));
	const void *buf;
	size_t len;
	tern__smtp_session_output(h.session, &buf, &len);
	assert_true(len < 64 * 1024);
	/* Writing the output lets it go on. */
	hs_collect(&h);
	assert_true(tern__smtp_session_want_input(h.session));
	hs_feed(&h, in + r, n * 6 - (size_t)r, 0, false);
	assert_int_equal(hs_count(&h, "250 2.0.0"), n);
	free(in);
	hs_free(&h);
}

/* ---- shutdown, draining, close, eof around decisions -------------------- */

/* RFC 5321 3.8: 421 is the last thing said. A decision resumed after the
 * server shut the session down must not add a reply after it. */
static void test_shutdown_while_pending(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	hs_push_pending(&h, HS_MAIL);
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO MAIL_OK RCPT_OK);
	assert_true(h.pending);
	tern__smtp_session_shutdown(h.session);
	hs_collect(&h);
	assert_true(tern__smtp_session_want_close(h.session));
	h.pending = false;
	int rc = tern_smtp_session_resume(h.session, NULL);
	assert_true(rc == 0 || rc == TERN_ECLOSED || rc == TERN_ESTATE);
	hs_collect(&h);
	if (hs_count(&h, "250 2.1.0") || hs_count(&h, "250 2.1.5")) {
		hs_dump(&h, "shutdown while pending");
		fail_msg("KNOWN ENGINE BUG: a reply was queued after 421 4.3.2 when the pending "
			 "decision was resumed");
	}
	hs_expect(&h, L(HS_EHLO_REPLY, "421 4.3.2"), true, "shutdown while pending");
	hs_free(&h);
}

static void test_shutdown_idle_and_in_data(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO MAIL_OK RCPT_OK "DATA\r\npart");
	tern__smtp_session_shutdown(h.session);
	hs_collect(&h);
	hs_expect(&h, L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "354", "421 4.3.2"), true,
		  "shutdown in DATA");
	assert_int_equal(h.aborts, 1);
	assert_int_equal(h.messages, 0);
	assert_true(tern__smtp_session_want_close(h.session));
	assert_int_equal(tern__smtp_session_feed(h.session, "x\r\n.\r\n", 6), TERN_ECLOSED);
	/* A second shutdown or a timeout adds nothing. */
	tern__smtp_session_shutdown(h.session);
	tern__smtp_session_timeout(h.session);
	hs_collect(&h);
	assert_int_equal(hs_count(&h, "421"), 1);
	hs_free(&h);
}

static void test_draining_idle(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO);
	tern__smtp_session_draining(h.session);
	hs_collect(&h);
	hs_expect(&h, L(HS_EHLO_REPLY, "421 4.3.2"), true, "draining idle");
	assert_true(tern__smtp_session_want_close(h.session));
	hs_free(&h);
}

/* In a transaction the client may finish it; then new commands get 421. */
static void test_draining_in_transaction(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.disable_received_header = true;
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO MAIL_OK);
	tern__smtp_session_draining(h.session);
	hs_collect(&h);
	assert_false(tern__smtp_session_want_close(h.session));
	hs_feed_str(&h, RCPT_OK "DATA\r\nhi\r\n.\r\n");
	assert_int_equal(h.messages, 1);
	assert_false(tern__smtp_session_want_close(h.session));
	hs_feed_str(&h, MAIL_OK);
	hs_expect(&h, L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "354", "250 2.6.0", "421 4.3.2"),
		  true, "draining in transaction");
	assert_true(tern__smtp_session_want_close(h.session));
	hs_free(&h);
}

static void test_draining_quit(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO MAIL_OK);
	tern__smtp_session_draining(h.session);
	hs_feed_str(&h, "RSET\r\nQUIT\r\n");
	hs_expect(&h, L(HS_EHLO_REPLY, "250 2.1.0", "250 2.0.0", "221 2.0.0"), true,
		  "draining quit");
	hs_free(&h);
}

/* The client leaves while the embedder decides: resume says closed. */
static void test_eof_while_pending(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.disable_received_header = true;
	hs_push_pending(&h, HS_DATA_END);
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO MAIL_OK RCPT_OK "DATA\r\nhi\r\n.\r\n");
	assert_true(h.pending);
	tern__smtp_session_eof(h.session);
	h.pending = false;
	assert_int_equal(tern_smtp_session_resume(h.session, NULL), TERN_ECLOSED);
	hs_collect(&h);
	assert_int_equal(hs_count(&h, "250 2.6.0"), 0);
	hs_free(&h);
}

/* A session freed with a decision pending and commands queued: no leak. */
static void test_free_while_pending(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	hs_push_pending(&h, HS_RCPT);
	hs_open(&h);
	hs_start(&h);
	static const char in[] = HS_EHLO MAIL_OK RCPT_OK "NOOP\r\nRSET\r\nDATA\r\nx\r\n";
	ssize_t r = tern__smtp_session_feed(h.session, in, sizeof(in) - 1);
	assert_true(r > 0);
	assert_true(h.pending);
	hs_free(&h);
}

/* tern_smtp_session_close from the embedder: nothing more is read. */
static void test_embedder_close(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO);
	tern_smtp_session_close(h.session);
	assert_true(tern__smtp_session_want_close(h.session));
	assert_int_equal(tern__smtp_session_feed(h.session, "NOOP\r\n", 6), TERN_ECLOSED);
	assert_true(h.wakeups > 0);
	hs_free(&h);
}

/* RFC 3207 4.2: after TLS the session starts over: a new EHLO is needed,
 * and REQUIRETLS is offered. */
static void test_set_secure_resets(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO MAIL_OK);
	struct tern__smtp_tls_facts f = {.info = {.version = "TLSv1.3", .cipher = "X"}};
	tern__smtp_session_tls_started(h.session, &f);
	assert_true(tern_smtp_session_secure(h.session));
	assert_null(tern_smtp_session_helo_name(h.session));
	assert_null(tern_smtp_session_mail_from(h.session));
	hs_feed_str(&h, RCPT_OK HS_EHLO "MAIL FROM:<a@b.example> REQUIRETLS\r\n");
	hs_expect(&h,
		  L(HS_EHLO_REPLY, "250 2.1.0", "503 5.5.1", "250-mx.test", "250-", "250-", "250-",
		    "250-", "250-", "250-", "250-", "250-", "=250 REQUIRETLS", "250 2.1.0"),
		  true, "set_secure");
	assert_true(h.last_mail.requiretls);
	hs_free(&h);
}

/* An IPv6 client is named by its RFC 5321 4.1.3 address literal. */
static void test_ipv6_client(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.remote = "2001:db8::1";
	h.opts.disable_received_header = false;
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO MAIL_OK RCPT_OK "DATA\r\nx\r\n.\r\n");
	assert_string_equal(tern_smtp_session_client_hostname(h.session), "[IPv6:2001:db8::1]");
	assert_int_equal(hs_count(&h, "=250-mx.test Hello [IPv6:2001:db8::1]"), 1);
	assert_non_null(strstr(h.last_body.data, "from client.example ([IPv6:2001:db8::1])\r\n"));
	hs_free(&h);
}

/* The context pointer round-trips. */
static void test_context(void **state)
{
	(void)state;
	struct hs h;
	int x;
	hs_init(&h);
	hs_open(&h);
	assert_null(tern_smtp_session_get_context(h.session));
	tern_smtp_session_set_context(h.session, &x);
	assert_ptr_equal(tern_smtp_session_get_context(h.session), &x);
	hs_free(&h);
}

int main(void)
{
	int failed = hs_run_group("smtp pipelining/decisions", cases, sizeof(cases) / sizeof(cases[0]));
	const struct CMUnitTest more[] = {
		cmocka_unit_test(test_starttls_pipelined),
		cmocka_unit_test(test_starttls_pipelined_behind_pending),
		cmocka_unit_test(test_resume_states),
		cmocka_unit_test(test_double_resume_inside),
		cmocka_unit_test(test_output_backpressure),
		cmocka_unit_test(test_shutdown_while_pending),
		cmocka_unit_test(test_shutdown_idle_and_in_data),
		cmocka_unit_test(test_draining_idle),
		cmocka_unit_test(test_draining_in_transaction),
		cmocka_unit_test(test_draining_quit),
		cmocka_unit_test(test_eof_while_pending),
		cmocka_unit_test(test_free_while_pending),
		cmocka_unit_test(test_embedder_close),
		cmocka_unit_test(test_context),
		cmocka_unit_test(test_set_secure_resets),
		cmocka_unit_test(test_ipv6_client),
	};
	failed += cmocka_run_group_tests_name("smtp pipelining (sessions)", more, NULL, NULL);
	return failed;
}
