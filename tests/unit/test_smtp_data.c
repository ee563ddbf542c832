/* Engine transcripts: DATA (RFC 5321 4.1.1.4, 4.5.2), SMTP smuggling
 * (smtp-security.md 1.1), bare CR/LF policy, line and size limits, the
 * Received: header (RFC 5321 4.4, RFC 3848), added headers, and the message
 * callbacks (start / chunk / end / abort). */
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
#define TX HS_EHLO "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
#define TX_REPLY HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "=354 End data with <CR><LF>.<CR><LF>"
#define HS_EHLO_REPLY_SIZE100                                                             \
	"=250-mx.test Hello [192.0.2.1]", "=250-PIPELINING", "=250-SIZE 100", "250-", "250-", \
		"250-", "250-", "250-", "250 "
#define RECEIVED                                                                          \
	"Received: from client.example ([192.0.2.1])\r\n"                                 \
	"\tby mx.test (Tern) with ESMTP id " HS_TXID(1) "\r\n"                               \
	"\tfor <c@d.example>;\r\n"                                                        \
	"\tTue, 14 Nov 2023 22:13:20 +0000\r\n"

/* ---- setups ------------------------------------------------------------- */

static void no_received(struct hs *h) { h->opts.disable_received_header = true; }
static void reject_bare(struct hs *h)
{
	h->opts.disable_received_header = true;
	h->opts.bare_newline = TERN_SMTP_BARE_NEWLINE_REJECT;
}
static void size_100(struct hs *h)
{
	h->opts.disable_received_header = true;
	h->opts.size = 100;
}
static void size_100_received(struct hs *h) { h->opts.size = 100; }
static void line_100(struct hs *h)
{
	h->opts.disable_received_header = true;
	h->opts.max_data_line_length = 100;
}
static void binarymime(struct hs *h) { h->opts.disable_received_header = true; }
static void data_start_reject(struct hs *h)
{
	no_received(h);
	hs_push_reject(h, HS_DATA_START, 0, NULL, NULL);
}
static void data_start_reject_custom(struct hs *h)
{
	no_received(h);
	hs_push_reject(h, HS_DATA_START, 451, "4.7.1", "Try later");
}
static void data_start_pending(struct hs *h)
{
	no_received(h);
	hs_push_pending(h, HS_DATA_START);
}
static void data_end_reject(struct hs *h)
{
	no_received(h);
	hs_push_reject(h, HS_DATA_END, 0, NULL, NULL);
}
static void data_end_reject_custom(struct hs *h)
{
	no_received(h);
	hs_push_reject(h, HS_DATA_END, 550, "5.7.0", "Spam");
}
static void data_end_reject_code(struct hs *h)
{
	no_received(h);
	hs_push_reject(h, HS_DATA_END, 552, NULL, NULL);
}
static void data_end_accept_custom(struct hs *h)
{
	no_received(h);
	hs_push(h, HS_DATA_END,
		(struct hs_decision){.decision = TERN_SMTP_ACCEPT,
				     .reply = {250, NULL, "Queued as 42"}});
}
static void data_end_pending(struct hs *h)
{
	no_received(h);
	hs_push_pending(h, HS_DATA_END);
}
static void data_end_pending_reject(struct hs *h)
{
	no_received(h);
	hs_push(h, HS_DATA_END,
		(struct hs_decision){.decision = TERN_SMTP_PENDING,
				     .resume_with = true,
				     .resume_reply = {452, "4.2.2", "Over quota"}});
}
static void chunk_reject(struct hs *h)
{
	no_received(h);
	h->fallback[HS_DATA_CHUNK] = (struct hs_decision){
		.decision = TERN_SMTP_REJECT, .reply = {552, "5.2.2", "Mailbox full"}};
}
static void chunk_reject_default(struct hs *h)
{
	no_received(h);
	h->fallback[HS_DATA_CHUNK] = (struct hs_decision){.decision = TERN_SMTP_REJECT};
}
static void chunk_pause(struct hs *h)
{
	no_received(h);
	h->fallback[HS_DATA_CHUNK] = (struct hs_decision){.decision = TERN_SMTP_PENDING};
}
static void chunk_pause_inside(struct hs *h)
{
	no_received(h);
	h->fallback[HS_DATA_CHUNK] =
		(struct hs_decision){.decision = TERN_SMTP_PENDING, .resume_inside = true};
}
static void chunk_pause_received(struct hs *h)
{
	h->fallback[HS_DATA_CHUNK] = (struct hs_decision){.decision = TERN_SMTP_PENDING};
}
static void add_headers(struct hs *h)
{
	h->add_name[0] = "X-Spam";
	h->add_value[0] = "no";
	h->add_name[1] = "X-Other";
	h->add_value[1] = "1\t2";
	h->add_name[2] = "Bad:Name";
	h->add_value[2] = "x";
	h->add_name[3] = "X-Inject";
	h->add_value[3] = "a\r\nBcc: evil@x";
	h->n_add = 4;
}
static void add_headers_no_received(struct hs *h)
{
	add_headers(h);
	no_received(h);
}

/* ---- checks ------------------------------------------------------------- */

static void check_info_plain(struct hs *h)
{
	assert_false(h->last_info.bdat);
	assert_int_equal(h->last_info.size, h->last_body.len);
	assert_int_equal(tern_smtp_session_transaction_count(h->session), 1);
	/* The envelope is gone after the transaction. */
	assert_null(tern_smtp_session_mail_from(h->session));
	assert_int_equal(tern_smtp_session_rcpt_count(h->session), 0);
}

static void check_empty(struct hs *h)
{
	assert_int_equal(h->last_info.size, 0);
	assert_int_equal(h->chunks, 0);
}

static void check_two_transactions(struct hs *h)
{
	assert_int_equal(tern_smtp_session_transaction_count(h->session), 2);
}

static void check_paused(struct hs *h)
{
	assert_true(h->partial_feeds > 0);
}

static void check_add_header_rcs(struct hs *h)
{
	assert_int_equal(h->add_rc[0], 0);
	assert_int_equal(h->add_rc[1], 0);
	assert_int_equal(h->add_rc[2], TERN_EINVAL);
	assert_int_equal(h->add_rc[3], TERN_EINVAL);
}

static void check_abort_before_reply(struct hs *h)
{
	/* on_data_abort comes, on_data_end does not. */
	assert_true(hs_events_has(h, "data_start abort "));
	assert_false(hs_events_has(h, "data_end"));
}

/* RFC 5321 4.4: ID = CFWS "ID" FWS ( Atom / msg-id ); Atom = 1*atext, and
 * RFC 5322 atext has no ".". */
static void check_received_id_atom(struct hs *h)
{
	const char *p = strstr(h->last_body.data ? h->last_body.data : "", " id ");
	assert_non_null(p);
	p += 4;
	size_t n = strcspn(p, "\r\n ;");
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "!#$%&'*+-/=?^_`{|}~",
			    p[i]))
			fail_msg("Received: id \"%.*s\" is not an Atom (RFC 5321 4.4)", (int)n, p);
	}
}

/* ---- the table ---------------------------------------------------------- */

static const struct hs_case cases[] = {
	{.name = "simple message", .setup = no_received,
	 .in = TX "Subject: hi\r\n\r\nhello\r\n.\r\nNOOP\r\n",
	 .expect = L(TX_REPLY, "=250 2.6.0 Message accepted", "250 2.0.0"),
	 .body = "Subject: hi\r\n\r\nhello\r\n", .messages = 1, .check = check_info_plain},
	/* RFC 5321 4.5.2: a leading period is removed, whatever follows. */
	{.name = "dot unstuffing", .setup = no_received,
	 .in = TX "..x\r\n.y\r\n...\r\n..\r\n. \r\nz.\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0"), .body = ".x\r\ny\r\n..\r\n.\r\n \r\nz.\r\n",
	 .messages = 1},
	{.name = "empty message", .setup = no_received, .in = TX ".\r\nNOOP\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0", "250 2.0.0"), .body = "", .messages = 1,
	 .check = check_empty},
	{.name = "only crlf before end", .setup = no_received, .in = TX "\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0"), .body = "\r\n", .messages = 1},
	/* Not an end: dot then space, dot inside a line, "." then bare LF. */
	{.name = "near ends are content", .setup = no_received,
	 .in = TX "a\r\n. \r\nb.\r\nc\r\n.x\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0"), .body = "a\r\n \r\nb.\r\nc\r\nx\r\n", .messages = 1},
	{.name = "two messages", .setup = no_received,
	 .in = TX "one\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<e@d.example>\r\nDATA\r\n"
	       "two\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0", "250 2.1.0", "250 2.1.5", "354", "250 2.6.0"),
	 .body = "two\r\n", .messages = 2, .check = check_two_transactions},
	{.name = "8bit and nul content", .setup = no_received,
	 HS_BIN(TX "caf\xc3\xa9 \x00\xff\r\n.\r\n"), .expect = L(TX_REPLY, "250 2.6.0"),
	 .body = "caf\xc3\xa9 \x00\xff\r\n", .body_len = 10, .messages = 1},
	/* A command-looking body is content; the 354 group is not parsed. */
	{.name = "commands inside body", .setup = no_received,
	 .in = TX "QUIT\r\nRSET\r\nMAIL FROM:<x@y.example>\r\n.\r\nNOOP\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0", "250 2.0.0"),
	 .body = "QUIT\r\nRSET\r\nMAIL FROM:<x@y.example>\r\n", .messages = 1},

	/* Bare CR / LF: normalised to CRLF by default (Postfix 3.9). */
	{.name = "bare lf normalised", .setup = no_received, .in = TX "a\nb\r\nc\n\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0"), .body = "a\r\nb\r\nc\r\n\r\n", .messages = 1},
	{.name = "bare cr normalised", .setup = no_received, .in = TX "a\rb\r\n\rc\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0"), .body = "a\r\nb\r\n\r\nc\r\n", .messages = 1},
	/* RFC 5321 4.1.1.4: "\n.\r\n" is not the end. */
	{.name = "bare lf before dot is not the end", .setup = no_received,
	 .in = TX "a\n.\r\nb\r\n.\r\n", .expect = L(TX_REPLY, "250 2.6.0"),
	 .body = "a\r\n.\r\nb\r\n", .messages = 1},
	{.name = "bare newline rejected", .setup = reject_bare, .in = TX "a\nb\r\n.\r\nNOOP\r\n",
	 .expect = L(TX_REPLY, "550 5.5.2", "250 2.0.0"), .messages = 0, .aborts = 1,
	 .check = check_abort_before_reply},
	{.name = "bare cr rejected", .setup = reject_bare, .in = TX "a\rb\r\n.\r\nNOOP\r\n",
	 .expect = L(TX_REPLY, "550 5.5.2", "250 2.0.0"), .messages = 0, .aborts = 1},
	{.name = "crlf only accepted under reject", .setup = reject_bare, .in = TX "a\r\nb\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0"), .body = "a\r\nb\r\n", .messages = 1},

	/* Text line limit (RFC 5321 4.5.3.1.6), here 100 incl. CRLF. */
	{.name = "data line at limit", .setup = line_100,
	 .in = TX "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0"), .messages = 1},
	{.name = "data line over limit", .setup = line_100,
	 .in = TX "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n.\r\nNOOP\r\n",
	 .expect = L(TX_REPLY, "5", "250 2.0.0"), .messages = 0, .aborts = 1,
	 .check = check_abort_before_reply},
	/* "not counting the leading dot duplicated for transparency" */
	{.name = "data line limit ignores stuffing dot", .setup = line_100,
	 .in = TX ".xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0"), .messages = 1},
	{.name = "data long line then short lines", .setup = line_100,
	 .in = TX "a\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nb\r\n.\r\n"
	       "MAIL FROM:<a@b.example>\r\n",
	 .expect = L(TX_REPLY, "5", "250 2.1.0"), .messages = 0, .aborts = 1},

	/* Size limit while streaming (RFC 1870 6.2): 552 5.3.4. */
	{.name = "size at limit", .setup = size_100,
	 .in = TX "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n.\r\n",
	 .expect = L(HS_EHLO_REPLY_SIZE100, "250 2.1.0", "250 2.1.5", "354", "250 2.6.0"),
	 .messages = 1},
	{.name = "size over limit", .setup = size_100,
	 .in = TX "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n.\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY_SIZE100, "250 2.1.0", "250 2.1.5", "354",
		     "=552 5.3.4 Message size exceeds fixed maximum message size", "250 2.0.0"),
	 .messages = 0, .aborts = 1, .check = check_abort_before_reply},
	{.name = "size over limit in many lines", .setup = size_100,
	 .in = TX "0123456789\r\n0123456789\r\n0123456789\r\n0123456789\r\n0123456789\r\n"
	       "0123456789\r\n0123456789\r\n0123456789\r\n0123456789\r\n.\r\n"
	       "MAIL FROM:<a@b.example>\r\n",
	 .expect = L(HS_EHLO_REPLY_SIZE100, "250 2.1.0", "250 2.1.5", "354", "552 5.3.4",
		     "250 2.1.0"),
	 .messages = 0, .aborts = 1},
	/* The trace header is ours: it does not count against the client. */
	{.name = "size excludes received header", .setup = size_100_received,
	 .in = TX "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n.\r\n",
	 .expect = L(HS_EHLO_REPLY_SIZE100, "250 2.1.0", "250 2.1.5", "354", "250 2.6.0"),
	 .messages = 1},

	/* RFC 3030 3: BODY=BINARYMIME content only by BDAT. */
	{.name = "binarymime needs bdat", .setup = binarymime,
	 .in = HS_EHLO "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\nRCPT TO:<c@d.example>\r\n"
	       "DATA\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "503 5.5.1", "250 2.0.0")},

	/* Decisions around the message. */
	{.name = "data start rejected", .setup = data_start_reject,
	 .in = TX "NOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "=554 5.7.1 Message refused",
		     "250 2.0.0")},
	{.name = "data start rejected custom", .setup = data_start_reject_custom,
	 .in = TX "RSET\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "=451 4.7.1 Try later",
		     "250 2.0.0")},
	{.name = "data start pending", .setup = data_start_pending, .in = TX "body\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0"), .body = "body\r\n", .messages = 1},
	{.name = "data end rejected", .setup = data_end_reject, .in = TX "x\r\n.\r\nNOOP\r\n",
	 .expect = L(TX_REPLY, "=451 4.3.0 Message not stored, try again later", "250 2.0.0"),
	 .body = "x\r\n", .messages = 1},
	{.name = "data end rejected custom", .setup = data_end_reject_custom, .in = TX "x\r\n.\r\n",
	 .expect = L(TX_REPLY, "=550 5.7.0 Spam"), .messages = 1},
	{.name = "data end rejected code only", .setup = data_end_reject_code, .in = TX "x\r\n.\r\n",
	 .expect = L(TX_REPLY, "552 5.3.0"), .messages = 1},
	{.name = "data end accepted custom text", .setup = data_end_accept_custom,
	 .in = TX "x\r\n.\r\n", .expect = L(TX_REPLY, "=250 2.6.0 Queued as 42"), .messages = 1},
	{.name = "data end pending with pipelined commands", .setup = data_end_pending,
	 .in = TX "x\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nNOOP\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0", "250 2.1.0", "250 2.1.5", "250 2.0.0"),
	 .messages = 1},
	{.name = "data end pending rejected", .setup = data_end_pending_reject,
	 .in = TX "x\r\n.\r\nNOOP\r\n", .expect = L(TX_REPLY, "=452 4.2.2 Over quota", "250 2.0.0"),
	 .messages = 1},
	{.name = "chunk rejected", .setup = chunk_reject,
	 .in = TX "line one\r\nline two\r\n.\r\nNOOP\r\n",
	 .expect = L(TX_REPLY, "=552 5.2.2 Mailbox full", "250 2.0.0"), .messages = 0,
	 .aborts = 1, .check = check_abort_before_reply},
	{.name = "chunk rejected default", .setup = chunk_reject_default,
	 .in = TX "line one\r\n.\r\nNOOP\r\n", .expect = L(TX_REPLY, "451 4.3.0", "250 2.0.0"),
	 .messages = 0, .aborts = 1},
	{.name = "chunk pauses input", .setup = chunk_pause,
	 .in = TX "line one\r\n..line two\r\nthree\nfour\r\n.\r\nNOOP\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0", "250 2.0.0"),
	 .body = "line one\r\n.line two\r\nthree\r\nfour\r\n", .messages = 1,
	 .check = check_paused},
	{.name = "chunk pause resumed inside", .setup = chunk_pause_inside,
	 .in = TX "line one\r\n.\r\nNOOP\r\n", .expect = L(TX_REPLY, "250 2.6.0", "250 2.0.0"),
	 .body = "line one\r\n", .messages = 1},
	{.name = "chunk pause on received header", .setup = chunk_pause_received,
	 .in = TX "x\r\n.\r\nNOOP\r\n", .expect = L(TX_REPLY, "250 2.6.0", "250 2.0.0"),
	 .body = RECEIVED "x\r\n", .messages = 1},

	/* Received: (RFC 5321 4.4) and embedder headers. */
	{.name = "received header", .in = TX "Subject: x\r\n\r\nbody\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0"), .body = RECEIVED "Subject: x\r\n\r\nbody\r\n",
	 .messages = 1},
	{.name = "received header helo",
	 .in = "HELO client.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
	       "DATA\r\nx\r\n.\r\n",
	 .expect = L("250 mx.test", "250 2.1.0", "250 2.1.5", "354", "250 2.6.0"),
	 .body = "Received: from client.example ([192.0.2.1])\r\n"
		 "\tby mx.test (Tern) with SMTP id " HS_TXID(1) "\r\n"
		 "\tfor <c@d.example>;\r\n"
		 "\tTue, 14 Nov 2023 22:13:20 +0000\r\nx\r\n",
	 .messages = 1},
	/* Several recipients: no "for" (it would disclose the others). */
	{.name = "received header two recipients",
	 .in = HS_EHLO "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<e@d.example>\r\n"
	       "DATA\r\nx\r\n.\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "250 2.1.5", "354", "250 2.6.0"),
	 .body = "Received: from client.example ([192.0.2.1])\r\n"
		 "\tby mx.test (Tern) with ESMTP id " HS_TXID(1) ";\r\n"
		 "\tTue, 14 Nov 2023 22:13:20 +0000\r\nx\r\n",
	 .messages = 1},
	/* RFC 6531 3.7.3: UTF8SMTP when the transaction used SMTPUTF8. */
	/* RFC 6531 3.7.3: a non-SMTPUTF8 message gets an ASCII trace field. */
	{.name = "received header utf8 helo, ascii message",
	 .in = "HELO m\xc3\xa4il.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
	       "DATA\r\nx\r\n.\r\n",
	 .expect = L("250 mx.test", "250 2.1.0", "250 2.1.5", "354", "250 2.6.0"),
	 .body = "Received: from m??il.example ([192.0.2.1])\r\n"
		 "\tby mx.test (Tern) with SMTP id " HS_TXID(1) "\r\n"
		 "\tfor <c@d.example>;\r\n"
		 "\tTue, 14 Nov 2023 22:13:20 +0000\r\nx\r\n",
	 .messages = 1},
	{.name = "received header smtputf8",
	 .in = HS_EHLO "MAIL FROM:<a@b.example> SMTPUTF8\r\nRCPT TO:<c@d.example>\r\n"
	       "DATA\r\nx\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0"),
	 .body = "Received: from client.example ([192.0.2.1])\r\n"
		 "\tby mx.test (Tern) with UTF8SMTP id " HS_TXID(1) "\r\n"
		 "\tfor <c@d.example>;\r\n"
		 "\tTue, 14 Nov 2023 22:13:20 +0000\r\nx\r\n",
	 .messages = 1},
	{.name = "received header second transaction",
	 .in = TX "x\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\ny\r\n.\r\n",
	 .expect = L(TX_REPLY, "250 2.6.0", "250 2.1.0", "250 2.1.5", "354", "250 2.6.0"),
	 .body = "Received: from client.example ([192.0.2.1])\r\n"
		 "\tby mx.test (Tern) with ESMTP id " HS_TXID(2) "\r\n"
		 "\tfor <c@d.example>;\r\n"
		 "\tTue, 14 Nov 2023 22:13:20 +0000\r\ny\r\n",
	 .messages = 2},
	{.name = "received id is an atom", .in = TX "x\r\n.\r\n", .expect = L(TX_REPLY, "250 2.6.0"),
	 .messages = 1, .check = check_received_id_atom},
	{.name = "added headers after received", .setup = add_headers,
	 .in = TX "Subject: x\r\n.\r\n", .expect = L(TX_REPLY, "250 2.6.0"),
	 .body = RECEIVED "X-Spam: no\r\nX-Other: 1\t2\r\nSubject: x\r\n", .messages = 1,
	 .check = check_add_header_rcs},
	{.name = "added headers without received", .setup = add_headers_no_received,
	 .in = TX ".\r\n", .expect = L(TX_REPLY, "250 2.6.0"),
	 .body = "X-Spam: no\r\nX-Other: 1\t2\r\n", .messages = 1},
};

/* ---- SMTP smuggling (smtp-security.md 1.1) ------------------------------ */

struct smuggle {
	const char *name;
	const char *seq;
	size_t seq_len;
	const char *normalised; /* what the sequence becomes in the stored body */
	size_t norm_len;
	bool bare;              /* contains a bare CR or LF */
};

#define SEQ(s) s, sizeof(s) - 1
static const struct smuggle smuggles[] = {
	{"lf dot lf", SEQ("\n.\n"), SEQ("\r\n.\r\n"), true},
	{"lf dot cr", SEQ("\n.\r"), SEQ("\r\n.\r\n"), true},
	{"cr dot lf", SEQ("\r.\n"), SEQ("\r\n.\r\n"), true},
	{"cr dot cr", SEQ("\r.\r"), SEQ("\r\n.\r\n"), true},
	{"lf dot crlf", SEQ("\n.\r\n"), SEQ("\r\n.\r\n"), true},
	{"cr dot crlf", SEQ("\r.\r\n"), SEQ("\r\n.\r\n"), true},
	/* After a real CRLF the period is at a line start: it is removed as
	 * transparency (RFC 5321 4.5.2), the bare LF/CR becomes CRLF. */
	{"crlf dot lf", SEQ("\r\n.\n"), SEQ("\r\n\r\n"), true},
	{"crlf dot cr", SEQ("\r\n.\r"), SEQ("\r\n\r\n"), true},
	{"crlf nul dot crlf", SEQ("\r\n\0.\r\n"), SEQ("\r\n\0.\r\n"), false},
	{"crlf dot nul crlf", SEQ("\r\n.\0\r\n"), SEQ("\r\n\0\r\n"), false},
	{"crlf dot cr crlf", SEQ("\r\n.\r\r\n"), SEQ("\r\n\r\n\r\n"), true},
	{"cr crlf dot cr crlf", SEQ("\r\r\n.\r\r\n"), SEQ("\r\n\r\n\r\n\r\n"), true},
	{"lf lf dot lf lf", SEQ("\n\n.\n\n"), SEQ("\r\n\r\n.\r\n\r\n"), true},
	{"crlf dot space crlf", SEQ("\r\n. \r\n"), SEQ("\r\n \r\n"), false},
	{"crlf dot dot crlf", SEQ("\r\n..\r\n"), SEQ("\r\n.\r\n"), false},
};

#define SMUGGLED                                                                          \
	"MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<victim@b.example>\r\nDATA\r\n"           \
	"From: ceo@bank.example\r\n\r\nsmuggled\r\n"

struct dyn_case {
	struct hs_case c;
	char name[96];
	char *in, *body;
};

static char *concat3(const char *a, size_t al, const char *b, size_t bl, const char *c, size_t cl,
		     size_t *len_r)
{
	char *r = malloc(al + bl + cl + 1);
	assert_non_null(r);
	memcpy(r, a, al);
	memcpy(r + al, b, bl);
	memcpy(r + al + bl, c, cl);
	r[al + bl + cl] = '\0';
	*len_r = al + bl + cl;
	return r;
}

static void check_one_message_no_smuggled_reply(struct hs *h)
{
	/* Exactly one MAIL was ever seen by the embedder: the smuggled one never
	 * ran as a command. */
	assert_int_equal(h->calls[HS_MAIL], 1);
	assert_int_equal(h->calls[HS_RCPT], 1);
	assert_int_equal(hs_count(h, "354"), 1);
}

static int run_smuggling(void)
{
	size_t n = sizeof(smuggles) / sizeof(smuggles[0]);
	struct dyn_case *dc = calloc(2 * n, sizeof(*dc));
	struct hs_case *cs = calloc(2 * n, sizeof(*cs));
	assert_non_null(dc);
	assert_non_null(cs);
	static const char *const expect_ok[] = {TX_REPLY, "250 2.6.0", "250 2.0.0", NULL};
	static const char *const expect_rej[] = {TX_REPLY, "550 5.5.2", "250 2.0.0", NULL};
	static const char tail[] = SMUGGLED ".\r\nNOOP\r\n";
	for (size_t i = 0; i < n; i++) {
		const struct smuggle *sm = &smuggles[i];
		for (int rej = 0; rej < 2; rej++) {
			struct dyn_case *d = &dc[2 * i + rej];
			size_t in_len, body_len;
			d->in = concat3(TX "hello", strlen(TX "hello"), sm->seq, sm->seq_len, tail,
					sizeof(tail) - 1, &in_len);
			d->body = concat3("hello", 5, sm->normalised, sm->norm_len, SMUGGLED,
					  strlen(SMUGGLED), &body_len);
			snprintf(d->name, sizeof(d->name), "smuggling %s (%s)", sm->name,
				 rej ? "reject" : "normalise");
			d->c.name = d->name;
			d->c.setup = rej ? reject_bare : no_received;
			d->c.in = d->in;
			d->c.in_len = in_len;
			d->c.check = check_one_message_no_smuggled_reply;
			if (rej && sm->bare) {
				d->c.expect = expect_rej;
				d->c.messages = 0;
				d->c.aborts = 1;
			} else {
				d->c.expect = expect_ok;
				d->c.messages = 1;
				d->c.body = d->body;
				d->c.body_len = body_len;
			}
			cs[2 * i + rej] = d->c;
		}
	}
	int failed = hs_run_group("smtp smuggling", cs, 2 * n);
	for (size_t i = 0; i < 2 * n; i++) {
		free(dc[i].in);
		free(dc[i].body);
	}
	free(dc);
	free(cs);
	return failed;
}

/* ---- sessions ----------------------------------------------------------- */

static void open_in_data(struct hs *h)
{
	hs_open(h);
	hs_start(h);
	hs_feed_str(h, TX);
	assert_int_equal(hs_count(h, "354"), 1);
}

/* RFC 5321 4.5.3.2: idle limits per state; none while the embedder decides. */
static void test_timeouts(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.socket_timeout = 1111;
	h.opts.data_timeout = 2222;
	hs_push_pending(&h, HS_MAIL);
	hs_open(&h);
	hs_start(&h);
	assert_int_equal(tern__smtp_session_timeout_ms(h.session), 1111);
	hs_feed_str(&h, HS_EHLO "MAIL FROM:<a@b.example>\r\n");
	assert_true(h.pending);
	assert_int_equal(tern__smtp_session_timeout_ms(h.session), 0);
	hs_resume_all(&h);
	assert_int_equal(tern__smtp_session_timeout_ms(h.session), 1111);
	hs_feed_str(&h, "RCPT TO:<c@d.example>\r\nDATA\r\npartial line");
	assert_int_equal(tern__smtp_session_timeout_ms(h.session), 2222);
	tern__smtp_session_timeout(h.session);
	hs_collect(&h);
	assert_true(tern__smtp_session_want_close(h.session));
	assert_int_equal(tern__smtp_session_timeout_ms(h.session), 0);
	hs_expect(&h, L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "354", "421 4.4.2"), true,
		  "timeout in DATA");
	assert_int_equal(h.aborts, 1);
	assert_int_equal(h.messages, 0);
	/* Nothing more is read. */
	assert_int_equal(tern__smtp_session_feed(h.session, "NOOP\r\n", 6), TERN_ECLOSED);
	hs_free(&h);
}

static void test_timeout_idle(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	hs_open(&h);
	hs_start(&h);
	assert_int_equal(tern__smtp_session_timeout_ms(h.session), 300000);
	tern__smtp_session_timeout(h.session);
	hs_collect(&h);
	hs_expect(&h, L("421 4.4.2"), true, "idle timeout");
	assert_true(tern__smtp_session_want_close(h.session));
	assert_int_equal(h.aborts, 0);
	hs_free(&h);
}

/* The client goes away in the middle of DATA: the message is aborted and
 * nothing is written any more. */
static void test_eof_in_data(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.disable_received_header = true;
	open_in_data(&h);
	hs_feed_str(&h, "half a messa");
	tern__smtp_session_eof(h.session);
	hs_collect(&h);
	assert_int_equal(h.aborts, 1);
	assert_int_equal(h.messages, 0);
	assert_true(tern__smtp_session_want_close(h.session));
	assert_string_equal(h.body.data, "half a messa");
	hs_free(&h);
}

/* tern_smtp_session_close() from the embedder in DATA aborts the message. */
static void test_close_in_data(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.disable_received_header = true;
	open_in_data(&h);
	hs_feed_str(&h, "some text\r\n");
	tern_smtp_session_close(h.session);
	hs_collect(&h);
	assert_int_equal(h.aborts, 1);
	assert_true(tern__smtp_session_want_close(h.session));
	assert_int_equal(tern__smtp_session_feed(h.session, ".\r\n", 3), TERN_ECLOSED);
	assert_int_equal(h.messages, 0);
	hs_free(&h);
}

/* A big message streams through in pieces; memory does not follow size. */
static void test_big_message(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.disable_received_header = true;
	h.opts.size = 0;
	open_in_data(&h);
	char block[65536];
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (i % 80 == 78) ? '\r' : (i % 80 == 79) ? '\n' : (char)('a' + i % 26);
	size_t total = 0;
	for (int i = 0; i < 64; i++) {
		assert_int_equal(hs_feed(&h, block, sizeof(block), 0, false), sizeof(block));
		total += sizeof(block);
	}
	/* The last block ended mid-line: finish it. */
	hs_feed_str(&h, "\r\n.\r\n");
	hs_expect(&h, L("250-mx.test", "250-", "=250-SIZE 0", "250-", "250-", "250-", "250-", "250-",
			"250 ", "250 2.1.0", "250 2.1.5", "354", "250 2.6.0"),
		  true, "big message");
	assert_int_equal(h.messages, 1);
	assert_int_equal(h.last_info.size, total + 2);
	assert_int_equal(h.last_body.len, total + 2);
	assert_memory_equal(h.last_body.data, block, sizeof(block));
	hs_free(&h);
}

/* tern_smtp_session_add_header outside on_data_start: ESTATE. */
static void hook_mail_add_header(struct hs *h, tern_smtp_session *s)
{
	h->add_rc[0] = tern_smtp_session_add_header(s, "X-Too-Early", "1");
}

static void test_add_header_wrong_time(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.hook_mail = hook_mail_add_header;
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO "MAIL FROM:<a@b.example>\r\n");
	assert_int_equal(h.add_rc[0], TERN_ESTATE);
	assert_int_equal(tern_smtp_session_add_header(h.session, "X-After", "1"), TERN_ESTATE);
	hs_free(&h);
}

int main(void)
{
	int failed = hs_run_group("smtp data", cases, sizeof(cases) / sizeof(cases[0]));
	failed += run_smuggling();
	const struct CMUnitTest more[] = {
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_timeout_idle),
		cmocka_unit_test(test_eof_in_data),
		cmocka_unit_test(test_close_in_data),
		cmocka_unit_test(test_big_message),
		cmocka_unit_test(test_add_header_wrong_time),
	};
	failed += cmocka_run_group_tests_name("smtp data (sessions)", more, NULL, NULL);
	return failed;
}
