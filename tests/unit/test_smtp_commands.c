/* Engine transcripts: greeting, EHLO/HELO/LHLO, capability options, the
 * simple verbs (NOOP, RSET, QUIT, VRFY, HELP), unimplemented, disabled and
 * unknown commands, sequencing, and connection-level refusals. Every case
 * runs whole, byte by byte and in slices (helper_session.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "helper_session.h"

#define L HS_LINES

/* ---- setups ------------------------------------------------------------- */

static void banner(struct hs *h) { h->opts.banner = "Welcome here"; }
static void lmtp(struct hs *h) { h->opts.lmtp = true; }
static void hide_pipelining(struct hs *h) { h->opts.hide_pipelining = true; }
static void hide_size(struct hs *h) { h->opts.hide_size = true; }
static void hide_8bitmime(struct hs *h) { h->opts.hide_8bitmime = true; }
static void hide_smtputf8(struct hs *h) { h->opts.hide_smtputf8 = true; }
static void hide_esc(struct hs *h) { h->opts.hide_enhancedstatuscodes = true; }
static void hide_dsn(struct hs *h) { h->opts.hide_dsn = true; }
static void hide_chunking(struct hs *h) { h->opts.hide_chunking = true; }
static void hide_binarymime(struct hs *h) { h->opts.hide_binarymime = true; }
static void size_1000(struct hs *h) { h->opts.size = 1000; }
static void size_none(struct hs *h) { h->opts.size = 0; }
static void secure(struct hs *h) { h->secure = true; }
static void helo_response(struct hs *h) { h->opts.helo_response = "%s at your service, %s"; }
static void line_512(struct hs *h) { h->opts.max_line_length = 512; }
static void bad_3(struct hs *h) { h->opts.max_bad_commands = 3; }
static void bad_2(struct hs *h) { h->opts.max_bad_commands = 2; }
static void junk_3(struct hs *h) { h->opts.max_junk_commands = 3; }

static const char *const disabled_list[] = {"vrfy", "Noop", NULL};
static void disabled(struct hs *h) { h->opts.disabled_commands = disabled_list; }

static void connect_reject(struct hs *h) { hs_push_reject(h, HS_CONNECT, 0, NULL, NULL); }
static void connect_reject_custom(struct hs *h)
{
	hs_push_reject(h, HS_CONNECT, 421, "4.7.0", "Go away");
}
static void connect_reject_code(struct hs *h) { hs_push_reject(h, HS_CONNECT, 521, NULL, NULL); }
static void connect_pending_ok(struct hs *h) { hs_push_pending(h, HS_CONNECT); }
static void connect_pending_reject(struct hs *h)
{
	hs_push(h, HS_CONNECT,
		(struct hs_decision){.decision = TERN_SMTP_PENDING,
				     .resume_with = true,
				     .resume_reply = {554, "5.7.1", "Listed"}});
}

static void helo_reject(struct hs *h) { hs_push_reject(h, HS_HELO, 0, NULL, NULL); }
static void helo_reject_custom(struct hs *h)
{
	hs_push_reject(h, HS_HELO, 504, "5.5.2", "Need a fully qualified name");
}
static void helo_pending(struct hs *h) { hs_push_pending(h, HS_HELO); }

static void vrfy_reject(struct hs *h) { hs_push_reject(h, HS_VRFY, 0, NULL, NULL); }
static void vrfy_accept_custom(struct hs *h)
{
	hs_push(h, HS_VRFY,
		(struct hs_decision){.decision = TERN_SMTP_ACCEPT,
				     .reply = {250, "2.1.5", "Jane <jane@example.com>"}});
}

/* ---- checks ------------------------------------------------------------- */

static void check_reset_seen(struct hs *h)
{
	assert_true(hs_events_has(h, "reset"));
}

static void check_helo_name(struct hs *h)
{
	assert_string_equal(tern_smtp_session_helo_name(h->session), "client.example");
	assert_string_equal(tern_smtp_session_opening_command(h->session), "HELO");
	assert_string_equal(tern_smtp_session_transmission_type(h->session), "SMTP");
}

static void check_ehlo_name(struct hs *h)
{
	assert_string_equal(tern_smtp_session_helo_name(h->session), "client.example");
	assert_string_equal(tern_smtp_session_opening_command(h->session), "EHLO");
	assert_string_equal(tern_smtp_session_transmission_type(h->session), "ESMTP");
	assert_string_equal(tern_smtp_session_id(h->session), HS_ID);
	assert_string_equal(tern_smtp_session_remote_address(h->session), "192.0.2.1");
	assert_int_equal(tern_smtp_session_remote_port(h->session), 1234);
	assert_string_equal(tern_smtp_session_local_address(h->session), "192.0.2.2");
	assert_int_equal(tern_smtp_session_local_port(h->session), 25);
	assert_string_equal(tern_smtp_session_client_hostname(h->session), "[192.0.2.1]");
	assert_false(tern_smtp_session_secure(h->session));
	assert_null(tern_smtp_session_mail_from(h->session));
	assert_int_equal(tern_smtp_session_rcpt_count(h->session), 0);
	assert_int_equal(tern_smtp_session_transaction_count(h->session), 0);
}

static void check_lhlo(struct hs *h)
{
	assert_string_equal(tern_smtp_session_opening_command(h->session), "LHLO");
	assert_string_equal(tern_smtp_session_transmission_type(h->session), "LMTP");
}

static void check_no_helo(struct hs *h)
{
	assert_null(tern_smtp_session_helo_name(h->session));
	assert_null(tern_smtp_session_opening_command(h->session));
}

static void check_dropped(struct hs *h)
{
	assert_true(h->closed_by_feed);
}

static void check_no_callbacks(struct hs *h)
{
	/* Early talkers and busy refusals never reach the embedder's policy. */
	assert_int_equal(h->calls[HS_HELO], 0);
	assert_true(h->closed_by_feed);
}

/* ---- the table ---------------------------------------------------------- */

static const struct hs_case cases[] = {
	/* Greeting (RFC 5321 4.2, 3.1). */
	{.name = "greeting", .in = "", .raw = true, .expect = L("=220 mx.test ESMTP Tern")},
	{.name = "greeting banner", .setup = banner, .in = "", .raw = true,
	 .expect = L("=220 mx.test ESMTP Welcome here")},
	{.name = "greeting lmtp", .setup = lmtp, .in = "", .raw = true,
	 .expect = L("=220 mx.test LMTP Tern")},

	/* EHLO and its capability list (RFC 5321 4.1.1.1). */
	{.name = "ehlo capabilities", .in = HS_EHLO, .expect = L(HS_EHLO_REPLY),
	 .check = check_ehlo_name},
	{.name = "ehlo lower case", .in = "ehlo client.example\r\n", .expect = L(HS_EHLO_REPLY)},
	{.name = "ehlo address literal", .in = "EHLO [192.0.2.1]\r\n",
	 .expect = L(HS_EHLO_REPLY)},
	{.name = "ehlo ipv6 literal", .in = "EHLO [IPv6:2001:db8::1]\r\n",
	 .expect = L(HS_EHLO_REPLY)},
	{.name = "ehlo utf8 name", .in = "EHLO b\xc3\xbc" "cher.example\r\n",
	 .expect = L(HS_EHLO_REPLY)},
	{.name = "ehlo no argument", .in = "EHLO\r\nEHLO \r\n", .expect = L("501 5.5.4", "501 5.5.")},
	{.name = "ehlo control char", .in = "EHLO a\x01" "b\r\nNOOP\r\n",
	 .expect = L("501 5.5.2", "250 2.0.0")},
	{.name = "ehlo tab", .in = "EHLO a\tb\r\n", .expect = L("501 5.5.2")},
	{.name = "ehlo del", .in = "EHLO ab\x7f\r\n", .expect = L("501 5.5.2")},
	{.name = "ehlo nul", HS_BIN("EHLO a\0b\r\nNOOP\r\n"), .expect = L("501", "250 2.0.0")},
	{.name = "ehlo escape sequence", .in = "EHLO a\x1b[31m\r\n", .expect = L("501 5.5.2")},
	{.name = "ehlo invalid utf8", .in = "EHLO \xff\xfe\r\n", .expect = L("501 5.5.2")},
	{.name = "ehlo with space", .in = "EHLO a b\r\n", .expect = L("501 5.5.2")},
	{.name = "ehlo control char then mail", .in = "EHLO a\x01\r\nMAIL FROM:<a@b.example>\r\n",
	 .expect = L("501 5.5.2", "503 5.5.1"), .check = check_no_helo},
	{.name = "helo", .in = "HELO client.example\r\n",
	 .expect = L("=250 mx.test Hello [192.0.2.1]"), .check = check_helo_name},
	{.name = "helo no argument", .in = "HELO\r\n", .expect = L("501 5.5.4")},
	{.name = "helo control char", .in = "HELO a\x02\r\n", .expect = L("501 5.5.2")},
	/* RFC 5321 4.1.1.1: after HELO no service extension is in effect. */
	{.name = "helo then extension params",
	 .in = "HELO c.example\r\nMAIL FROM:<a@b.example> SIZE=10\r\n"
	       "MAIL FROM:<a@b.example> BODY=8BITMIME\r\nMAIL FROM:<a@b.example> SMTPUTF8\r\n"
	       "MAIL FROM:<a@b.example> RET=FULL\r\nMAIL FROM:<a@b.example>\r\n",
	 .expect = L("250 mx.test", "555 5.5.4", "555 5.5.4", "555 5.5.4", "555 5.5.4",
		     "250 2.1.0")},
	{.name = "ehlo hide pipelining", .setup = hide_pipelining, .in = HS_EHLO,
	 .expect = L("=250-mx.test Hello [192.0.2.1]", "=250-SIZE 26214400", "=250-8BITMIME",
		     "=250-SMTPUTF8", "=250-ENHANCEDSTATUSCODES", "=250-DSN", "=250-CHUNKING",
		     "=250 BINARYMIME")},
	{.name = "ehlo hide size", .setup = hide_size, .in = HS_EHLO,
	 .expect = L("=250-mx.test Hello [192.0.2.1]", "=250-PIPELINING", "=250-8BITMIME",
		     "=250-SMTPUTF8", "=250-ENHANCEDSTATUSCODES", "=250-DSN", "=250-CHUNKING",
		     "=250 BINARYMIME")},
	{.name = "ehlo hide 8bitmime", .setup = hide_8bitmime, .in = HS_EHLO,
	 .expect = L("=250-mx.test Hello [192.0.2.1]", "=250-PIPELINING", "=250-SIZE 26214400",
		     "=250-SMTPUTF8", "=250-ENHANCEDSTATUSCODES", "=250-DSN", "=250-CHUNKING",
		     "=250 BINARYMIME")},
	{.name = "ehlo hide smtputf8", .setup = hide_smtputf8, .in = HS_EHLO,
	 .expect = L("=250-mx.test Hello [192.0.2.1]", "=250-PIPELINING", "=250-SIZE 26214400",
		     "=250-8BITMIME", "=250-ENHANCEDSTATUSCODES", "=250-DSN", "=250-CHUNKING",
		     "=250 BINARYMIME")},
	{.name = "ehlo hide enhancedstatuscodes", .setup = hide_esc,
	 .in = HS_EHLO "NOOP\r\nMAIL FROM:<a@b.example>\r\nMAIL FROM:<a@b.example>\r\nFOO\r\n",
	 .expect = L("=250-mx.test Hello [192.0.2.1]", "=250-PIPELINING", "=250-SIZE 26214400",
		     "=250-8BITMIME", "=250-SMTPUTF8", "=250-DSN", "=250-CHUNKING",
		     "=250 BINARYMIME", "=250 OK", "=250 Sender OK",
		     "=503 Bad sequence of commands: sender already given",
		     "=500 Command unrecognized")},
	{.name = "ehlo hide dsn", .setup = hide_dsn, .in = HS_EHLO,
	 .expect = L("=250-mx.test Hello [192.0.2.1]", "=250-PIPELINING", "=250-SIZE 26214400",
		     "=250-8BITMIME", "=250-SMTPUTF8", "=250-ENHANCEDSTATUSCODES", "=250-CHUNKING",
		     "=250 BINARYMIME")},
	/* RFC 3030 3: BINARYMIME needs CHUNKING. */
	{.name = "ehlo hide chunking", .setup = hide_chunking, .in = HS_EHLO,
	 .expect = L("=250-mx.test Hello [192.0.2.1]", "=250-PIPELINING", "=250-SIZE 26214400",
		     "=250-8BITMIME", "=250-SMTPUTF8", "=250-ENHANCEDSTATUSCODES", "=250 DSN")},
	{.name = "ehlo hide binarymime", .setup = hide_binarymime, .in = HS_EHLO,
	 .expect = L("=250-mx.test Hello [192.0.2.1]", "=250-PIPELINING", "=250-SIZE 26214400",
		     "=250-8BITMIME", "=250-SMTPUTF8", "=250-ENHANCEDSTATUSCODES", "=250-DSN",
		     "=250 CHUNKING")},
	{.name = "ehlo size option", .setup = size_1000, .in = HS_EHLO,
	 .expect = L("250-mx.test", "=250-PIPELINING", "=250-SIZE 1000", "250-", "250-", "250-",
		     "250-", "250-", "250 ")},
	/* RFC 1870 4: "SIZE 0" = no fixed maximum. */
	{.name = "ehlo no size limit", .setup = size_none, .in = HS_EHLO,
	 .expect = L("250-mx.test", "=250-PIPELINING", "=250-SIZE 0", "250-", "250-", "250-",
		     "250-", "250-", "250 ")},
	/* RFC 8689: REQUIRETLS only on a TLS-protected session. */
	{.name = "ehlo secure offers requiretls", .setup = secure, .in = HS_EHLO,
	 .expect = L("=250-mx.test Hello [192.0.2.1]", "=250-PIPELINING", "=250-SIZE 26214400",
		     "=250-8BITMIME", "=250-SMTPUTF8", "=250-ENHANCEDSTATUSCODES", "=250-DSN",
		     "=250-CHUNKING", "=250-BINARYMIME", "=250 REQUIRETLS")},
	{.name = "helo response option", .setup = helo_response,
	 .in = HS_EHLO "HELO x.example\r\n",
	 .expect = L("=250-mx.test at your service, [192.0.2.1]", "250-", "250-", "250-", "250-",
		     "250-", "250-", "250-", "250 ", "=250 mx.test at your service, [192.0.2.1]")},
	/* RFC 5321 4.1.4: EHLO in a transaction resets it like RSET. */
	{.name = "ehlo resets transaction",
	 .in = HS_EHLO "MAIL FROM:<a@b.example>\r\n" HS_EHLO "RCPT TO:<c@d.example>\r\n"
	       "MAIL FROM:<a@b.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", HS_EHLO_REPLY, "503 5.5.1", "250 2.1.0"),
	 .check = check_reset_seen},
	/* RFC 2033 4.1: LHLO in LMTP; HELO/EHLO are not LMTP commands. */
	{.name = "lhlo in smtp", .in = "LHLO client.example\r\n", .expect = L("500 5.5.1")},
	{.name = "lmtp lhlo", .setup = lmtp, .in = "LHLO client.example\r\n",
	 .expect = L(HS_EHLO_REPLY), .check = check_lhlo},
	{.name = "lmtp helo ehlo refused", .setup = lmtp,
	 .in = "HELO client.example\r\nEHLO client.example\r\nMAIL FROM:<a@b.example>\r\n",
	 .expect = L("500 5.5.1", "500 5.5.1", "503 5.5.1")},

	/* on_connect and on_helo decisions. */
	/* RFC 5321 3.1: after a 554 greeting, wait for QUIT; 503 meanwhile. */
	{.name = "connect rejected", .setup = connect_reject, .in = HS_EHLO "QUIT\r\n", .raw = true,
	 .expect = L("=554 5.7.1 Access denied", "503 5.5.1", "221 2.0.0"), .close = 1,
	 .check = check_dropped},
	{.name = "connect rejected custom", .setup = connect_reject_custom, .in = "", .raw = true,
	 .expect = L("=421 4.7.0 Go away"), .close = 1},
	{.name = "connect rejected code only", .setup = connect_reject_code, .in = "", .raw = true,
	 .expect = L("521 5.7.1"), .close = 1},
	{.name = "connect pending accepted", .setup = connect_pending_ok, .in = HS_EHLO,
	 .expect = L(HS_EHLO_REPLY)},
	{.name = "connect pending rejected", .setup = connect_pending_reject, .in = "", .raw = true,
	 .expect = L("=554 5.7.1 Listed")},
	{.name = "helo rejected", .setup = helo_reject,
	 .in = HS_EHLO "MAIL FROM:<a@b.example>\r\n" HS_EHLO,
	 .expect = L("=550 5.7.1 Greeting refused", "503 5.5.1", HS_EHLO_REPLY)},
	{.name = "helo rejected custom", .setup = helo_reject_custom, .in = HS_EHLO,
	 .expect = L("=504 5.5.2 Need a fully qualified name"), .check = check_no_helo},
	{.name = "helo pending", .setup = helo_pending,
	 .in = HS_EHLO "MAIL FROM:<a@b.example>\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.0.0")},

	/* Simple verbs. */
	{.name = "noop", .in = "NOOP\r\nnoop\r\nNOOP some text\r\n",
	 .expect = L("=250 2.0.0 OK", "250 2.0.0", "250 2.0.0")},
	{.name = "rset", .in = HS_EHLO "MAIL FROM:<a@b.example>\r\nRSET\r\nRCPT TO:<c@d.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "=250 2.0.0 OK", "503 5.5.1"),
	 .check = check_reset_seen},
	{.name = "rset before ehlo", .in = "RSET\r\n", .expect = L("250 2.0.0")},
	{.name = "rset with argument", .in = "RSET now\r\n", .expect = L("501 5.5.4")},
	{.name = "quit", .in = "QUIT\r\n", .expect = L("=221 2.0.0 mx.test Bye"), .close = 1},
	{.name = "quit drops the rest", .in = HS_EHLO "QUIT\r\nNOOP\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "221 2.0.0"), .close = 1, .check = check_dropped},
	{.name = "quit with argument", .in = "QUIT now\r\nNOOP\r\n",
	 .expect = L("501 5.5.4", "250 2.0.0")},
	{.name = "quit in transaction", .in = HS_EHLO "MAIL FROM:<a@b.example>\r\nQUIT\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "221 2.0.0"), .close = 1,
	 .check = check_reset_seen},
	/* RFC 5321 3.5.3: 252 when the server cannot verify. */
	{.name = "vrfy", .in = "VRFY postmaster\r\nVRFY <a@b.example>\r\n",
	 .expect = L("252 2.1.5", "252 2.1.5")},
	{.name = "vrfy no argument", .in = "VRFY\r\nVRFY \r\n", .expect = L("501 5.5.4", "501")},
	{.name = "vrfy control char", .in = "VRFY a\x01" "b\r\n", .expect = L("501 5.5.4")},
	{.name = "vrfy rejected", .setup = vrfy_reject, .in = "VRFY nobody\r\n",
	 .expect = L("=550 5.1.1 User unknown")},
	{.name = "vrfy accepted custom", .setup = vrfy_accept_custom, .in = "VRFY jane\r\n",
	 .expect = L("=250 2.1.5 Jane <jane@example.com>")},
	{.name = "help", .in = "HELP\r\nHELP MAIL\r\n", .expect = L("214-", "214 ", "214-", "214 ")},

	/* RFC 5321 4.2.4: known but unimplemented verbs get 502. */
	{.name = "unimplemented verbs",
	 .in = HS_EHLO "EXPN staff\r\nTURN\r\nETRN example.com\r\nATRN\r\nSEND FROM:<a@b>\r\n"
	       "SOML FROM:<a@b>\r\nSAML FROM:<a@b>\r\nAUTH PLAIN\r\nXCLIENT ADDR=1.2.3.4\r\n",
	 .expect = L(HS_EHLO_REPLY, "502 5.5.1", "502 5.5.1", "502 5.5.1", "502 5.5.1",
		     "502 5.5.1", "502 5.5.1", "502 5.5.1", "502 5.5.1", "502 5.5.1")},
	{.name = "expn before ehlo", .in = "EXPN staff\r\nexpn x\r\n",
	 .expect = L("502 5.5.1", "502 5.5.1")},
	{.name = "disabled commands", .setup = disabled,
	 .in = HS_EHLO "VRFY a\r\nNOOP\r\nRSET\r\n",
	 .expect = L(HS_EHLO_REPLY, "502 5.5.1", "502 5.5.1", "250 2.0.0")},
	{.name = "unknown command", .in = "FOO\r\nFOO bar\r\nMAILFROM:<a@b>\r\nNOOP\r\n",
	 .expect = L("500 5.5.1", "500 5.5.1", "500 5.5.1", "250 2.0.0")},
	{.name = "verb with nul", HS_BIN("NO\0OP\r\nNOOP\r\n"), .expect = L("500 5.5.1", "250 2.0.0")},
	{.name = "verb with 8bit", .in = "N\xc3\xb6OP\r\nNOOP\r\n", .expect = L("500 5.5.1", "250 2.0.0")},
	{.name = "empty line", .in = "\r\nNOOP\r\n", .expect = L("500 5.5.2", "250 2.0.0")},
	{.name = "leading space", .in = " NOOP\r\nNOOP\r\n", .expect = L("500 5.5.2", "250 2.0.0")},
	/* RFC 5321 2.3.8: a command line ends with CRLF only. */
	/* RFC 5321 2.3.8: only CRLF ends a line; a bare LF stays inside it
	 * and the whole line is refused, as a CRLF-splitting proxy sees it. */
	{.name = "bare lf command", .in = "NOOP\nNOOP\r\nNOOP\r\n",
	 .expect = L("=500 5.5.2 Syntax error: bare LF in a command line", "250 2.0.0")},
	{.name = "bare lf ehlo", .in = "EHLO x\nMAIL FROM:<a@b.example>\r\nMAIL FROM:<a@b.example>\r\n",
	 .expect = L("500 5.5.2", "503 5.5.1")},
	{.name = "bare lf only", .in = "\n\nNOOP\r\nNOOP\r\n", .expect = L("500 5.5.2", "250 2.0.0")},
	{.name = "bare lf never ends a line", .in = "NOOP\n", .expect = HS_LINES(NULL)},
	{.name = "cr cr lf", .in = "NOOP\r\r\nNOOP\r\n", .expect = L("500 5.5.", "250 2.0.0")},
	{.name = "bare cr inside command", .in = "NOOP\rNOOP\r\nNOOP\r\n",
	 .expect = L("500 5.5.", "250 2.0.0")},

	/* Sequencing (RFC 5321 4.1.4, 3.3): 503 5.5.1. */
	{.name = "mail before ehlo", .in = "MAIL FROM:<a@b.example>\r\n", .expect = L("503 5.5.1")},
	{.name = "rcpt before ehlo", .in = "RCPT TO:<a@b.example>\r\n", .expect = L("503 5.5.1")},
	{.name = "data before ehlo", .in = "DATA\r\n", .expect = L("503 5.5.1")},
	{.name = "bdat before ehlo", .in = "BDAT 0 LAST\r\nNOOP\r\n",
	 .expect = L("503 5.5.1", "250 2.0.0")},
	{.name = "rcpt before mail", .in = HS_EHLO "RCPT TO:<c@d.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "503 5.5.1")},
	{.name = "data before mail", .in = HS_EHLO "DATA\r\n", .expect = L(HS_EHLO_REPLY, "503 5.5.1")},
	{.name = "data before rcpt", .in = HS_EHLO "MAIL FROM:<a@b.example>\r\nDATA\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "503 5.5.1", "250 2.0.0")},
	{.name = "mail twice", .in = HS_EHLO "MAIL FROM:<a@b.example>\r\nMAIL FROM:<a@b.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "503 5.5.1")},
	{.name = "data with arguments",
	 .in = HS_EHLO "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA x\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "501 5.5.4", "250 2.0.0")},

	/* Connection-level refusals. */
	{.name = "http request", .in = "GET / HTTP/1.1\r\nHost: mx.test\r\n\r\n",
	 .expect = L("421 4.7.0"), .close = 1, .check = check_dropped},
	{.name = "http post after ehlo", .in = HS_EHLO "POST /submit HTTP/1.0\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "421 4.7.0"), .close = 1},
	{.name = "early talker", .no_start = true, .raw = true, .in = HS_EHLO "NOOP\r\n",
	 .expect = L("554"), .close = 1, .check = check_no_callbacks},
	{.name = "max clients busy", .busy = true, .raw = true, .in = HS_EHLO,
	 .expect = L("421 4.3.2"), .close = 1, .check = check_no_callbacks},

	/* Limits on command lines and errors. */
	{.name = "line too long",
	 .setup = line_512,
	 .in = "NOOP "
	       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	       "\r\nNOOP\r\n",
	 .expect = L("500 5.5.2", "250 2.0.0")},
	{.name = "too many bad commands", .setup = bad_3,
	 .in = "FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n",
	 .expect = L("500 5.5.1", "500 5.5.1", "421 4.7.0"), .close = 1},
	{.name = "bad commands default limit",
	 .in = "FOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nNOOP\r\n",
	 .expect = L("500 5.5.1", "500 5.5.1", "500 5.5.1", "500 5.5.1", "500 5.5.1", "500 5.5.1",
		     "500 5.5.1", "500 5.5.1", "500 5.5.1", "421 4.7.0"),
	 .close = 1},
	{.name = "bad commands count sequence errors", .setup = bad_2,
	 .in = "MAIL FROM:<a@b.example>\r\nRCPT TO:<a@b.example>\r\nNOOP\r\n",
	 .expect = L("503 5.5.1", "421 4.7.0"), .close = 1},
	/* Junk commands (Postfix smtpd_junk_command_limit): NOOP, RSET, VRFY,
	 * HELP beyond the limit without a message in between end the session;
	 * an accepted message resets the count. */
	{.name = "junk command limit", .setup = junk_3,
	 .in = "NOOP\r\nRSET\r\nVRFY x\r\nHELP\r\nNOOP\r\n",
	 .expect = L("250 2.0.0", "250 2.0.0", "252 2.1.5", "421 4.7.0"), .close = 1},
	{.name = "junk count reset by a message", .setup = junk_3,
	 .in = HS_EHLO "NOOP\r\nNOOP\r\nNOOP\r\nMAIL FROM:<a@b.example>\r\n"
	       "RCPT TO:<c@d.example>\r\nDATA\r\nx\r\n.\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.0.0", "250 2.0.0", "250 2.0.0", "250 2.1.0", "250 2.1.5",
		     "354", "250 2.6.0", "250 2.0.0", "250 2.0.0", "250 2.0.0", "421 4.7.0"),
	 .close = 1, .messages = 1},
	{.name = "good commands do not reset bad count", .setup = bad_3,
	 .in = "FOO\r\nNOOP\r\nFOO\r\nNOOP\r\nFOO\r\nNOOP\r\n",
	 .expect = L("500 5.5.1", "250 2.0.0", "500 5.5.1", "250 2.0.0", "421 4.7.0"), .close = 1},
};

/* Line length boundary: max_line_length counts the CRLF (smtp.h), so a line
 * of exactly 512 octets is taken and one of 513 is refused (this test found
 * the buffer one octet too large; fixed in the engine). */
static void test_line_length_boundary(void **state)
{
	(void)state;
	char line[600];
	for (size_t total = 510; total <= 514; total++) {
		struct hs h;
		hs_init(&h);
		h.opts.max_line_length = 512;
		hs_open(&h);
		hs_start(&h);
		memset(line, 'x', sizeof(line));
		memcpy(line, "NOOP ", 5);
		line[total - 2] = '\r';
		line[total - 1] = '\n';
		hs_feed(&h, line, total, 0, false);
		bool ok = total <= 512;
		if (hs_count(&h, ok ? "250 2.0.0" : "500 5.5.2") != 1) {
			hs_dump(&h, "line length boundary");
			fail_msg("line of %zu octets (limit 512 incl. CRLF): wanted %s", total,
				 ok ? "250" : "500 5.5.2");
		}
		hs_free(&h);
	}
}

/* A line longer than the limit, fed in pieces across many feeds, is
 * refused once, and the next command is read normally. */
static void test_long_line_many_feeds(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	h.opts.max_line_length = 512;
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, "NOOP ");
	char chunk[1000];
	memset(chunk, 'y', sizeof(chunk));
	for (int i = 0; i < 50; i++)
		hs_feed(&h, chunk, sizeof(chunk), 0, false);
	hs_feed_str(&h, "\r\nNOOP\r\n");
	hs_expect(&h, L("500 5.5.2", "250 2.0.0"), true, "long line");
	assert_false(tern__smtp_session_want_close(h.session));
	hs_free(&h);
}

/* Feeding before start() is an early talker, also while on_connect is still
 * deciding. */
static void test_early_talker_during_connect_decision(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	hs_push_pending(&h, HS_CONNECT);
	hs_open(&h);
	hs_start(&h);
	assert_true(h.pending);
	assert_int_equal(h.out.len, 0);
	ssize_t r = tern__smtp_session_feed(h.session, "EHLO x\r\n", 8);
	hs_collect(&h);
	assert_int_equal(r, TERN_ECLOSED);
	assert_true(tern__smtp_session_want_close(h.session));
	hs_expect(&h, L("554"), false, "early talker during on_connect");
	hs_free(&h);
}

static void test_config_validation(void **state)
{
	(void)state;
	tern_smtp_options o;
	struct tern__smtp_config cfg;
	tern_smtp_options_init(&o);
	o.name = "mx.test";
	o.max_line_length = 100; /* under RFC 5321's 512 */
	assert_int_equal(tern__smtp_config_init(&cfg, &o), TERN_EINVAL);
	tern_smtp_options_init(&o);
	o.name = "mx\r\n.test";
	assert_int_equal(tern__smtp_config_init(&cfg, &o), TERN_EINVAL);
	tern_smtp_options_init(&o);
	o.helo_response = "%s %n";
	assert_int_equal(tern__smtp_config_init(&cfg, &o), TERN_EINVAL);
	tern_smtp_options_init(&o);
	o.banner = "hi\r\n250 fake";
	assert_int_equal(tern__smtp_config_init(&cfg, &o), TERN_EINVAL);
	/* Defaults from smtp.h. */
	tern_smtp_options_init(&o);
	assert_int_equal(o.size, 25ull * 1024 * 1024);
	assert_int_equal(o.max_data_line_length, 1000);
	assert_int_equal(o.max_recipients, 100);
	assert_int_equal(o.max_bad_commands, 10);
	assert_int_equal(o.socket_timeout, 300000);
	assert_int_equal(o.data_timeout, 180000);
	o.name = "mx.test";
	assert_int_equal(tern__smtp_config_init(&cfg, &o), 0);
	tern__smtp_config_free(&cfg);
}

int main(void)
{
	int failed = hs_run_group("smtp commands", cases, sizeof(cases) / sizeof(cases[0]));
	const struct CMUnitTest more[] = {
		cmocka_unit_test(test_line_length_boundary),
		cmocka_unit_test(test_long_line_many_feeds),
		cmocka_unit_test(test_early_talker_during_connect_decision),
		cmocka_unit_test(test_config_validation),
	};
	failed += cmocka_run_group_tests_name("smtp commands (sessions)", more, NULL, NULL);
	return failed;
}
