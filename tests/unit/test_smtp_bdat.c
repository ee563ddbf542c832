/* Engine transcripts: BDAT (RFC 3030 2-4): exact-size chunks, LAST, no dot
 * handling, BINARYMIME, sequencing and the rule that a refused chunk is still
 * read (and later chunks refused) so the session never reads message octets
 * as commands (smtp-security.md 1.3). */
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
#define EHLO_SIZE10                                                                       \
	"250-mx.test", "250-PIPELINING", "=250-SIZE 10", "250-", "250-", "250-", "250-",   \
		"250-", "250 "

static void no_received(struct hs *h) { h->opts.disable_received_header = true; }
static void bad_2(struct hs *h)
{
	no_received(h);
	h->opts.max_bad_commands = 2;
}
static void start_reject_450(struct hs *h)
{
	no_received(h);
	hs_push_reject(h, HS_DATA_START, 450, NULL, "Later");
}
static void size_10(struct hs *h)
{
	no_received(h);
	h->opts.size = 10;
}
static void hide_chunking(struct hs *h)
{
	no_received(h);
	h->opts.hide_chunking = true;
}
static void start_reject(struct hs *h)
{
	no_received(h);
	hs_push_reject(h, HS_DATA_START, 0, NULL, NULL);
}
static void start_pending(struct hs *h)
{
	no_received(h);
	hs_push_pending(h, HS_DATA_START);
}
static void end_pending(struct hs *h)
{
	no_received(h);
	hs_push_pending(h, HS_DATA_END);
}
static void end_reject(struct hs *h)
{
	no_received(h);
	hs_push_reject(h, HS_DATA_END, 554, "5.7.1", "Virus found");
}
static void chunk_reject(struct hs *h)
{
	no_received(h);
	hs_push_reject(h, HS_DATA_CHUNK, 552, "5.2.2", "Mailbox full");
}
static void chunk_pause(struct hs *h)
{
	no_received(h);
	h->fallback[HS_DATA_CHUNK] = (struct hs_decision){.decision = TERN_SMTP_PENDING};
}

static void check_bdat_info(struct hs *h)
{
	assert_true(h->last_info.bdat);
	assert_int_equal(h->last_info.size, h->last_body.len);
	assert_int_equal(tern_smtp_session_transaction_count(h->session), 1);
}

static void check_one_transaction(struct hs *h)
{
	/* Refused chunks with no transaction do not count as transactions. */
	assert_int_equal(tern_smtp_session_transaction_count(h->session), 1);
}

static void check_binarymime(struct hs *h)
{
	assert_int_equal(h->last_mail.body, TERN_SMTP_BODY_BINARYMIME);
	assert_true(h->last_info.bdat);
}

static const struct hs_case cases[] = {
	{.name = "bdat last", .setup = no_received, .in = TXB "BDAT 5 LAST\r\nhelloNOOP\r\n",
	 .expect = L(TXB_REPLY, "=250 2.6.0 Message accepted", "250 2.0.0"), .body = "hello",
	 .messages = 1, .check = check_bdat_info},
	{.name = "bdat chunks", .setup = no_received,
	 .in = TXB "BDAT 5\r\nhelloBDAT 6 LAST\r\n world",
	 .expect = L(TXB_REPLY, "=250 2.0.0 5 octets received", "250 2.6.0"), .body = "hello world",
	 .messages = 1, .check = check_bdat_info},
	{.name = "bdat lower case", .setup = no_received, .in = TXB "bdat 2 last\r\nhi",
	 .expect = L(TXB_REPLY, "250 2.6.0"), .body = "hi", .messages = 1},
	{.name = "bdat 0 last ends", .setup = no_received,
	 .in = TXB "BDAT 3\r\nabcBDAT 0 LAST\r\n",
	 .expect = L(TXB_REPLY, "250 2.0.0", "250 2.6.0"), .body = "abc", .messages = 1},
	{.name = "bdat 0 last only", .setup = no_received, .in = TXB "BDAT 0 LAST\r\nNOOP\r\n",
	 .expect = L(TXB_REPLY, "250 2.6.0", "250 2.0.0"), .body = "", .messages = 1},
	/* RFC 3030 2: the chunk is opaque: no dot, no CRLF handling. */
	{.name = "bdat no dot handling", .setup = no_received,
	 HS_BIN(TXB "BDAT 12 LAST\r\n.\r\n..\r\n.a\nb\0"),
	 .expect = L(TXB_REPLY, "250 2.6.0"), .body = ".\r\n..\r\n.a\nb\0", .body_len = 12,
	 .messages = 1},
	{.name = "bdat commands inside chunk", .setup = no_received,
	 .in = TXB "BDAT 13 LAST\r\nQUIT\r\nRSET\r\nXNOOP\r\n",
	 .expect = L(TXB_REPLY, "250 2.6.0", "250 2.0.0"), .body = "QUIT\r\nRSET\r\nX",
	 .messages = 1},
	{.name = "bdat binarymime", .setup = no_received,
	 HS_BIN(HS_EHLO "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n" RCPT_OK
		"BDAT 4 LAST\r\n\0\1\2\3"),
	 .expect = L(TXB_REPLY, "250 2.6.0"), .body = "\0\1\2\3", .body_len = 4, .messages = 1,
	 .check = check_binarymime},
	{.name = "bdat received header",
	 .in = TXB "BDAT 1 LAST\r\nx",
	 .expect = L(TXB_REPLY, "250 2.6.0"),
	 .body = "Received: from client.example ([192.0.2.1])\r\n"
		 "\tby mx.test (Tern) with ESMTP id " HS_TXID(1) "\r\n"
		 "\tfor <c@d.example>;\r\n"
		 "\tTue, 14 Nov 2023 22:13:20 +0000\r\nx",
	 .messages = 1},

	/* Sequencing: the chunk is read and dropped, the session stays in step. */
	{.name = "bdat without mail", .setup = no_received,
	 .in = HS_EHLO "BDAT 5\r\nhelloNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "503 5.5.1", "250 2.0.0")},
	{.name = "bdat last without mail", .setup = no_received,
	 .in = HS_EHLO "BDAT 9 LAST\r\nQUIT\r\nxyzNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "503 5.5.1", "250 2.0.0")},
	{.name = "bdat without mail then a transaction", .setup = no_received,
	 .in = HS_EHLO "BDAT 5\r\nhello" MAIL_OK RCPT_OK "BDAT 3 LAST\r\nabc",
	 .expect = L(HS_EHLO_REPLY, "503 5.5.1", "250 2.1.0", "250 2.1.5", "250 2.6.0"),
	 .body = "abc", .messages = 1, .check = check_one_transaction},
	{.name = "bdat last without mail then a transaction", .setup = no_received,
	 .in = HS_EHLO "BDAT 5 LAST\r\nhello" MAIL_OK RCPT_OK "BDAT 3 LAST\r\nabc",
	 .expect = L(HS_EHLO_REPLY, "503 5.5.1", "250 2.1.0", "250 2.1.5", "250 2.6.0"),
	 .body = "abc", .messages = 1, .check = check_one_transaction},
	{.name = "bdat without rcpt", .setup = no_received,
	 .in = HS_EHLO MAIL_OK "BDAT 5\r\nhelloNOOP\r\nRSET\r\n" MAIL_OK RCPT_OK "BDAT 1 LAST\r\nz",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "503 5.5.1", "250 2.0.0", "250 2.0.0",
		     "250 2.1.0", "250 2.1.5", "250 2.6.0"),
	 .body = "z", .messages = 1},
	{.name = "bdat without chunking after helo", .setup = no_received,
	 .in = "HELO c.example\r\n" MAIL_OK RCPT_OK "BDAT 3 LAST\r\nabcNOOP\r\n",
	 .expect = L("250 mx.test", "250 2.1.0", "250 2.1.5", "503 5.5.1", "250 2.0.0")},
	{.name = "bdat chunking hidden", .setup = hide_chunking,
	 .in = HS_EHLO MAIL_OK RCPT_OK "BDAT 3\r\nabcNOOP\r\n",
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250 DSN", "250 2.1.0",
		     "250 2.1.5", "503 5.5.1", "250 2.0.0")},
	/* RFC 3030 2: DATA after BDAT in one transaction: 503. */
	{.name = "data after bdat", .setup = no_received,
	 .in = TXB "BDAT 3\r\nabcDATA\r\nBDAT 0 LAST\r\n",
	 .expect = L(TXB_REPLY, "250 2.0.0", "503 5.5.1", "250 2.6.0"), .body = "abc",
	 .messages = 1},
	{.name = "bdat after last needs mail", .setup = no_received,
	 .in = TXB "BDAT 1 LAST\r\naBDAT 1 LAST\r\nbNOOP\r\n",
	 .expect = L(TXB_REPLY, "250 2.6.0", "503 5.5.1", "250 2.0.0"), .body = "a", .messages = 1},
	{.name = "rset in the middle of bdat", .setup = no_received,
	 .in = TXB "BDAT 3\r\nabcRSET\r\nBDAT 1 LAST\r\nxNOOP\r\n",
	 .expect = L(TXB_REPLY, "250 2.0.0", "250 2.0.0", "503 5.5.1", "250 2.0.0"), .aborts = 1},
	{.name = "mail in the middle of bdat", .setup = no_received,
	 .in = TXB "BDAT 3\r\nabc" MAIL_OK "BDAT 0 LAST\r\n",
	 .expect = L(TXB_REPLY, "250 2.0.0", "503 5.5.1", "250 2.6.0"), .body = "abc",
	 .messages = 1},

	/* Sequence errors count toward the bad-command limit, as DATA's do. */
	{.name = "bdat sequence errors are bad commands", .setup = bad_2,
	 .in = HS_EHLO "BDAT 1\r\nxBDAT 1\r\nyNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "503 5.5.1", "421 4.7.0"), .close = 1},
	/* A 4xx refusal from on_data_start keeps its class in the derived code. */
	{.name = "bdat data start refused 450", .setup = start_reject_450,
	 .in = HS_EHLO MAIL_OK RCPT_OK "BDAT 2 LAST\r\nabNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "=450 4.7.1 Later", "250 2.0.0")},

	/* Malformed BDAT: the chunk length is unknown, so the session ends. */
	{.name = "bdat malformed size", .setup = no_received, .in = TXB "BDAT abc\r\nNOOP\r\n",
	 .expect = L(TXB_REPLY, "421 4.5.2"), .close = 1},
	{.name = "bdat no size", .setup = no_received, .in = TXB "BDAT\r\n",
	 .expect = L(TXB_REPLY, "421 4.5.2"), .close = 1},
	{.name = "bdat bad end marker", .setup = no_received, .in = TXB "BDAT 5 MORE\r\nhello",
	 .expect = L(TXB_REPLY, "421 4.5.2"), .close = 1},
	{.name = "bdat negative", .setup = no_received, .in = TXB "BDAT -1\r\n",
	 .expect = L(TXB_REPLY, "421 4.5.2"), .close = 1},
	{.name = "bdat huge size", .setup = no_received,
	 .in = TXB "BDAT 999999999999999999999999\r\n", .expect = L(TXB_REPLY, "421 4.5.2"),
	 .close = 1},
	{.name = "bdat malformed without mail", .setup = no_received, .in = HS_EHLO "BDAT x\r\n",
	 .expect = L(HS_EHLO_REPLY, "421 4.5.2"), .close = 1},

	/* Failures inside the message, and the chunks after them. */
	{.name = "bdat over size limit", .setup = size_10,
	 .in = HS_EHLO MAIL_OK RCPT_OK "BDAT 11 LAST\r\nhello worldNOOP\r\n",
	 .expect = L(EHLO_SIZE10, "250 2.1.0", "250 2.1.5", "552 5.3.4", "250 2.0.0"), .aborts = 1},
	{.name = "bdat over size then chunks refused until rset", .setup = size_10,
	 .in = HS_EHLO MAIL_OK RCPT_OK "BDAT 11\r\nhello worldBDAT 2\r\nabBDAT 2 LAST\r\ncd"
	       "RSET\r\n" MAIL_OK RCPT_OK "BDAT 2 LAST\r\nok",
	 .expect = L(EHLO_SIZE10, "250 2.1.0", "250 2.1.5", "552 5.3.4", "5", "5", "250 2.0.0",
		     "250 2.1.0", "250 2.1.5", "250 2.6.0"),
	 .body = "ok", .messages = 1, .aborts = 1},
	{.name = "bdat failed chunk then rset", .setup = size_10,
	 .in = HS_EHLO MAIL_OK RCPT_OK "BDAT 11\r\nhello worldRSET\r\n" MAIL_OK RCPT_OK
	       "BDAT 2 LAST\r\nok",
	 .expect = L(EHLO_SIZE10, "250 2.1.0", "250 2.1.5", "552 5.3.4", "250 2.0.0", "250 2.1.0",
		     "250 2.1.5", "250 2.6.0"),
	 .body = "ok", .messages = 1, .aborts = 1},
	{.name = "bdat chunk rejected", .setup = chunk_reject,
	 .in = TXB "BDAT 3\r\nabcBDAT 3 LAST\r\ndefNOOP\r\n",
	 .expect = L(TXB_REPLY, "=552 5.2.2 Mailbox full", "5", "250 2.0.0"), .aborts = 1},
	/* smtp.h: on_data_start default reject is 554 5.7.1, for BDAT too. */
	{.name = "bdat data start rejected", .setup = start_reject,
	 .in = TXB "BDAT 3\r\nabcBDAT 3 LAST\r\ndefNOOP\r\n",
	 .expect = L(TXB_REPLY, "554 5.7.1", "5", "250 2.0.0")},
	{.name = "bdat data start pending", .setup = start_pending,
	 .in = TXB "BDAT 5 LAST\r\nhelloNOOP\r\n",
	 .expect = L(TXB_REPLY, "250 2.6.0", "250 2.0.0"), .body = "hello", .messages = 1},
	{.name = "bdat data end pending", .setup = end_pending,
	 .in = TXB "BDAT 5 LAST\r\nhello" MAIL_OK "NOOP\r\n",
	 .expect = L(TXB_REPLY, "250 2.6.0", "250 2.1.0", "250 2.0.0"), .body = "hello",
	 .messages = 1},
	{.name = "bdat data end rejected", .setup = end_reject,
	 .in = TXB "BDAT 5 LAST\r\nhelloNOOP\r\n",
	 .expect = L(TXB_REPLY, "=554 5.7.1 Virus found", "250 2.0.0"), .messages = 1},
	{.name = "bdat chunk pause", .setup = chunk_pause,
	 .in = TXB "BDAT 5\r\nhelloBDAT 5 LAST\r\nworldNOOP\r\n",
	 .expect = L(TXB_REPLY, "250 2.0.0", "250 2.6.0", "250 2.0.0"), .body = "helloworld",
	 .messages = 1},
	/* RFC 3030 + RFC 2920: BDAT commands and their chunks pipelined. */
	{.name = "bdat pipelined transaction", .setup = no_received,
	 .in = TXB "BDAT 2\r\nabBDAT 2\r\ncdBDAT 2 LAST\r\nef" MAIL_OK RCPT_OK
	       "BDAT 1 LAST\r\ngQUIT\r\n",
	 .expect = L(TXB_REPLY, "250 2.0.0", "250 2.0.0", "250 2.6.0", "250 2.1.0", "250 2.1.5",
		     "250 2.6.0", "221 2.0.0"),
	 .body = "g", .messages = 2, .close = 1},
};

/* A chunk larger than anything buffered streams through in pieces. */
static void test_big_chunk(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.disable_received_header = true;
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, TXB "BDAT 1048576 LAST\r\n");
	static char block[65536];
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (char)(i * 7);
	for (int i = 0; i < 16; i++)
		assert_int_equal(hs_feed(&h, block, sizeof(block), 0, false), sizeof(block));
	hs_feed_str(&h, "NOOP\r\n");
	hs_expect(&h, L(TXB_REPLY, "250 2.6.0", "250 2.0.0"), true, "big chunk");
	assert_int_equal(h.last_info.size, 1048576);
	assert_int_equal(h.last_body.len, 1048576);
	assert_memory_equal(h.last_body.data + 65536 * 15, block, sizeof(block));
	hs_free(&h);
}

/* Timeout while a BDAT chunk is being read: 421 4.4.2, message aborted. */
static void test_timeout_in_chunk(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.disable_received_header = true;
	h.opts.data_timeout = 5000;
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, TXB "BDAT 10 LAST\r\nabc");
	assert_int_equal(tern__smtp_session_timeout_ms(h.session), 5000);
	tern__smtp_session_timeout(h.session);
	hs_collect(&h);
	hs_expect(&h, L(TXB_REPLY, "421 4.4.2"), true, "timeout in BDAT");
	assert_int_equal(h.aborts, 1);
	assert_int_equal(h.messages, 0);
	hs_free(&h);
}

int main(void)
{
	int failed = hs_run_group("smtp bdat", cases, sizeof(cases) / sizeof(cases[0]));
	const struct CMUnitTest more[] = {
		cmocka_unit_test(test_big_chunk),
		cmocka_unit_test(test_timeout_in_chunk),
	};
	failed += cmocka_run_group_tests_name("smtp bdat (sessions)", more, NULL, NULL);
	return failed;
}
