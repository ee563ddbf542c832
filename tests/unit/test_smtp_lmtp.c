/* Engine transcripts: LMTP (RFC 2033): LHLO, one reply per accepted
 * recipient after DATA and after BDAT LAST, per-recipient replies from
 * tern_smtp_session_set_rcpt_reply, failures answered per recipient. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "helper_session.h"

#define L HS_LINES
#define LHLO "LHLO client.example\r\n"
#define LTX                                                                               \
	LHLO "MAIL FROM:<a@b.example>\r\nRCPT TO:<r1@d.example>\r\nRCPT TO:<bad@d.example>\r\n" \
	     "RCPT TO:<r2@d.example>\r\n"
#define LTX_REPLY HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5"

static void lmtp_base(struct hs *h)
{
	h->opts.lmtp = true;
	h->opts.disable_received_header = true;
	/* The second recipient is refused: it gets no reply after DATA. */
	hs_push_accept(h, HS_RCPT);
	hs_push_reject(h, HS_RCPT, 0, NULL, NULL);
}
static void lmtp_received(struct hs *h)
{
	lmtp_base(h);
	h->opts.disable_received_header = false;
}
static void lmtp_rcpt_replies(struct hs *h)
{
	lmtp_base(h);
	h->rr_idx[0] = 1;
	h->rr[0] = (tern_smtp_reply){452, "4.2.2", "Mailbox full"};
	h->rr_idx[1] = 0;
	h->rr[1] = (tern_smtp_reply){250, NULL, "Delivered to r1"};
	h->rr_idx[2] = 2; /* only two accepted recipients */
	h->rr[2] = (tern_smtp_reply){550, NULL, NULL};
	h->n_rr = 3;
}
static void lmtp_rcpt_reply_code_only(struct hs *h)
{
	lmtp_base(h);
	h->rr_idx[0] = 0;
	h->rr[0] = (tern_smtp_reply){552, NULL, NULL};
	h->n_rr = 1;
}
static void lmtp_end_reject(struct hs *h)
{
	lmtp_base(h);
	hs_push_reject(h, HS_DATA_END, 0, NULL, NULL);
}
static void lmtp_end_pending(struct hs *h)
{
	lmtp_rcpt_replies(h);
	hs_push_pending(h, HS_DATA_END);
}
static void lmtp_size(struct hs *h)
{
	lmtp_base(h);
	h->opts.size = 5;
}
/* A 250 set for a recipient before the message arrived must not survive
 * the message failing on the way (it was stored for nobody). */
static void hook_early_rcpt_reply(struct hs *h, tern_smtp_session *s)
{
	(void)h;
	tern_smtp_reply ok = {250, NULL, "Delivered"};
	tern_smtp_session_set_rcpt_reply(s, 0, &ok);
	tern_smtp_session_set_rcpt_reply(s, 1, &ok);
}
static void lmtp_size_early_reply(struct hs *h)
{
	lmtp_size(h);
	h->hook_data_start = hook_early_rcpt_reply;
}
static void lmtp_start_reject(struct hs *h)
{
	lmtp_base(h);
	hs_push_reject(h, HS_DATA_START, 0, NULL, NULL);
}

static void check_rr_rcs(struct hs *h)
{
	assert_int_equal(h->rr_rc[0], 0);
	assert_int_equal(h->rr_rc[1], 0);
	assert_int_equal(h->rr_rc[2], TERN_EINVAL);
}

static void check_lmtp_type(struct hs *h)
{
	assert_true(h->last_info.bdat);
}

#define EHLO_SIZE5                                                                        \
	"250-mx.test", "250-PIPELINING", "=250-SIZE 5", "250-", "250-", "250-", "250-", "250-", \
		"250 "

static const struct hs_case cases[] = {
	{.name = "lmtp data one reply per recipient", .setup = lmtp_base,
	 .in = LTX "DATA\r\nhello\r\n.\r\nNOOP\r\n",
	 .expect = L(LTX_REPLY, "354", "=250 2.6.0 Message accepted",
		     "=250 2.6.0 Message accepted", "250 2.0.0"),
	 .body = "hello\r\n", .messages = 1},
	{.name = "lmtp single recipient", .setup = lmtp_base,
	 .in = LHLO "MAIL FROM:<a@b.example>\r\nRCPT TO:<r1@d.example>\r\nDATA\r\nx\r\n.\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "354", "250 2.6.0"), .messages = 1},
	{.name = "lmtp per recipient replies", .setup = lmtp_rcpt_replies,
	 .in = LTX "DATA\r\nhello\r\n.\r\n",
	 .expect = L(LTX_REPLY, "354", "=250 2.6.0 Delivered to r1", "=452 4.2.2 Mailbox full"),
	 .messages = 1, .check = check_rr_rcs},
	{.name = "lmtp per recipient code only", .setup = lmtp_rcpt_reply_code_only,
	 .in = LTX "DATA\r\nhello\r\n.\r\n", .expect = L(LTX_REPLY, "354", "552 5.", "250 2.6.0"),
	 .messages = 1},
	{.name = "lmtp data end rejected", .setup = lmtp_end_reject,
	 .in = LTX "DATA\r\nhello\r\n.\r\n",
	 .expect = L(LTX_REPLY, "354", "451 4.3.0", "451 4.3.0"), .messages = 1},
	/* Replies set while the decision is pending still apply. */
	{.name = "lmtp data end pending", .setup = lmtp_end_pending,
	 .in = LTX "DATA\r\nhello\r\n.\r\nNOOP\r\n",
	 .expect = L(LTX_REPLY, "354", "=250 2.6.0 Delivered to r1", "=452 4.2.2 Mailbox full",
		     "250 2.0.0"),
	 .messages = 1},
	{.name = "lmtp bdat last", .setup = lmtp_rcpt_replies,
	 .in = LTX "BDAT 3\r\nabcBDAT 2 LAST\r\nde",
	 .expect = L(LTX_REPLY, "=250 2.0.0 3 octets received", "=250 2.6.0 Delivered to r1",
		     "=452 4.2.2 Mailbox full"),
	 .body = "abcde", .messages = 1, .check = check_lmtp_type},
	{.name = "lmtp bdat 0 last", .setup = lmtp_base, .in = LTX "BDAT 0 LAST\r\n",
	 .expect = L(LTX_REPLY, "250 2.6.0", "250 2.6.0"), .body = "", .messages = 1},
	{.name = "lmtp size exceeded", .setup = lmtp_size,
	 .in = LTX "DATA\r\nhello world\r\n.\r\nNOOP\r\n",
	 .expect = L(EHLO_SIZE5, "250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "354",
		     "552 5.3.4", "552 5.3.4", "250 2.0.0"),
	 .aborts = 1},
	{.name = "lmtp failed message ignores per recipient 250", .setup = lmtp_size_early_reply,
	 .in = LTX "DATA\r\nhello world\r\n.\r\nNOOP\r\n",
	 .expect = L(EHLO_SIZE5, "250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "354",
		     "552 5.3.4", "552 5.3.4", "250 2.0.0"),
	 .aborts = 1},
	{.name = "lmtp bdat last size exceeded", .setup = lmtp_size,
	 .in = LTX "BDAT 11 LAST\r\nhello worldNOOP\r\n",
	 .expect = L(EHLO_SIZE5, "250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "552 5.3.4",
		     "552 5.3.4", "250 2.0.0"),
	 .aborts = 1},
	/* The DATA command itself has one reply. */
	{.name = "lmtp data start rejected", .setup = lmtp_start_reject,
	 .in = LTX "DATA\r\nNOOP\r\n", .expect = L(LTX_REPLY, "554 5.7.1", "250 2.0.0")},
	{.name = "lmtp data without valid recipients", .setup = lmtp_base,
	 .in = LHLO "MAIL FROM:<a@b.example>\r\nRCPT TO:<r1@d.example>\r\nRSET\r\n"
	       "MAIL FROM:<a@b.example>\r\nRCPT TO:<bad@d.example>\r\nDATA\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.1.0",
		     "550 5.1.1", "5", "250 2.0.0")},
	{.name = "lmtp received header", .setup = lmtp_received,
	 .in = LHLO "MAIL FROM:<a@b.example>\r\nRCPT TO:<r1@d.example>\r\nDATA\r\nx\r\n.\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "354", "250 2.6.0"),
	 .body = "Received: from client.example ([192.0.2.1])\r\n"
		 "\tby mx.test (Tern) with LMTP id " HS_TXID(1) "\r\n"
		 "\tfor <r1@d.example>;\r\n"
		 "\tTue, 14 Nov 2023 22:13:20 +0000\r\nx\r\n",
	 .messages = 1},
	{.name = "lmtp pipelined transactions", .setup = lmtp_base,
	 .in = LTX "DATA\r\none\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r3@d.example>\r\n"
	       "DATA\r\ntwo\r\n.\r\nQUIT\r\n",
	 .expect = L(LTX_REPLY, "354", "250 2.6.0", "250 2.6.0", "250 2.1.0", "250 2.1.5", "354",
		     "250 2.6.0", "221 2.0.0"),
	 .body = "two\r\n", .messages = 2, .close = 1},
};

/* set_rcpt_reply outside a transaction or past the recipients: EINVAL. */
static void test_set_rcpt_reply_bounds(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.lmtp = true;
	hs_open(&h);
	hs_start(&h);
	tern_smtp_reply r = {250, NULL, NULL};
	assert_int_equal(tern_smtp_session_set_rcpt_reply(h.session, 0, &r), TERN_EINVAL);
	hs_feed_str(&h, LHLO "MAIL FROM:<a@b.example>\r\nRCPT TO:<r1@d.example>\r\n");
	assert_int_equal(tern_smtp_session_set_rcpt_reply(h.session, 1, &r), TERN_EINVAL);
	assert_int_equal(tern_smtp_session_set_rcpt_reply(h.session, 0, NULL), TERN_EINVAL);
	assert_int_equal(tern_smtp_session_set_rcpt_reply(h.session, 0, &r), 0);
	hs_free(&h);
}

/* on_data_end pending; the embedder sets per-recipient replies after the
 * callback returned and then resumes. */
static void test_rcpt_reply_before_resume(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.lmtp = true;
	h.opts.disable_received_header = true;
	hs_push_pending(&h, HS_DATA_END);
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, LHLO "MAIL FROM:<a@b.example>\r\nRCPT TO:<r1@d.example>\r\n"
			     "RCPT TO:<r2@d.example>\r\nDATA\r\nhi\r\n.\r\n");
	assert_true(h.pending);
	tern_smtp_reply r0 = {451, "4.2.0", "Later for r1"};
	assert_int_equal(tern_smtp_session_set_rcpt_reply(h.session, 0, &r0), 0);
	h.pending = false;
	assert_int_equal(tern_smtp_session_resume(h.session, NULL), 0);
	hs_collect(&h);
	hs_expect(&h,
		  L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "250 2.1.5", "354",
		    "=451 4.2.0 Later for r1", "=250 2.6.0 Message accepted"),
		  true, "set_rcpt_reply before resume");
	hs_free(&h);
}

int main(void)
{
	int failed = hs_run_group("smtp lmtp", cases, sizeof(cases) / sizeof(cases[0]));
	const struct CMUnitTest more[] = {
		cmocka_unit_test(test_set_rcpt_reply_bounds),
		cmocka_unit_test(test_rcpt_reply_before_resume),
	};
	failed += cmocka_run_group_tests_name("smtp lmtp (sessions)", more, NULL, NULL);
	return failed;
}
