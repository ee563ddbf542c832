/* Engine transcripts: MAIL FROM and RCPT TO paths and parameters (RFC 5321
 * 4.1.1.2, 4.1.1.3, 4.1.2; RFC 1870 SIZE; RFC 6152 / 3030 BODY; RFC 6531
 * SMTPUTF8; RFC 8689 REQUIRETLS; RFC 3461 RET, ENVID, NOTIFY, ORCPT). */
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

/* ---- setups ------------------------------------------------------------- */

static void size_1000(struct hs *h) { h->opts.size = 1000; }
static void size_none(struct hs *h) { h->opts.size = 0; }
static void hide_size(struct hs *h) { h->opts.hide_size = true; }
static void hide_8bitmime(struct hs *h) { h->opts.hide_8bitmime = true; }
static void hide_binarymime(struct hs *h) { h->opts.hide_binarymime = true; }
static void hide_chunking(struct hs *h) { h->opts.hide_chunking = true; }
static void hide_smtputf8(struct hs *h) { h->opts.hide_smtputf8 = true; }
static void hide_dsn(struct hs *h) { h->opts.hide_dsn = true; }
static void secure(struct hs *h) { h->secure = true; }
static void rcpt_max_2(struct hs *h) { h->opts.max_recipients = 2; }
static void mail_reject(struct hs *h) { hs_push_reject(h, HS_MAIL, 0, NULL, NULL); }
static void rcpt_reject(struct hs *h)
{
	hs_push_reject(h, HS_RCPT, 0, NULL, NULL);
	hs_push_reject(h, HS_RCPT, 450, NULL, "Mailbox busy");
}

/* ---- checks ------------------------------------------------------------- */

static void check_null_sender(struct hs *h)
{
	assert_true(hs_events_has(h, "mail:<> "));
	const tern_smtp_mail *m = tern_smtp_session_mail_from(h->session);
	assert_non_null(m);
	assert_string_equal(m->address, "");
}

static void check_quoted(struct hs *h)
{
	assert_true(hs_events_has(h, "mail:<\"john doe\"@b.example> "));
}

static void check_source_route(struct hs *h)
{
	assert_true(hs_events_has(h, "mail:<a@b.example> "));
	assert_true(hs_events_has(h, "rcpt:<c@d.example> "));
}

static void check_utf8(struct hs *h)
{
	assert_true(h->last_mail.smtputf8);
	assert_true(hs_events_has(h, "mail:<jos\xc3\xa9@b.example> "));
	assert_true(hs_events_has(h, "rcpt:<\xc3\xbc@d\xc3\xbc.example> "));
	assert_string_equal(tern_smtp_session_transmission_type(h->session), "UTF8SMTP");
}

static void check_smtputf8_ascii(struct hs *h)
{
	assert_true(h->last_mail.smtputf8);
}

static void check_size(struct hs *h)
{
	assert_int_equal(h->last_mail.size, 1000);
	const tern_smtp_mail *m = tern_smtp_session_mail_from(h->session);
	assert_non_null(m);
	assert_int_equal(m->size, 1000);
}

static void check_size_huge(struct hs *h)
{
	assert_true(h->last_mail.size == UINT64_MAX || h->last_mail.size > 9999999999999999999ull);
}

static void check_body_7bit(struct hs *h) { assert_int_equal(h->last_mail.body, TERN_SMTP_BODY_7BIT); }
static void check_body_8bit(struct hs *h)
{
	assert_int_equal(h->last_mail.body, TERN_SMTP_BODY_8BITMIME);
}
static void check_body_binary(struct hs *h)
{
	assert_int_equal(h->last_mail.body, TERN_SMTP_BODY_BINARYMIME);
}

static void check_requiretls(struct hs *h)
{
	assert_true(h->last_mail.requiretls);
	assert_true(tern_smtp_session_mail_from(h->session)->requiretls);
}

static void check_ret_full(struct hs *h) { assert_int_equal(h->last_mail.ret, TERN_SMTP_RET_FULL); }
static void check_ret_hdrs(struct hs *h) { assert_int_equal(h->last_mail.ret, TERN_SMTP_RET_HDRS); }

static void check_envid(struct hs *h)
{
	assert_true(h->last_envid_set);
	assert_string_equal(h->last_envid, "QQ+ab=c");
	const tern_smtp_mail *m = tern_smtp_session_mail_from(h->session);
	assert_string_equal(m->envid, "QQ+ab=c");
}

static void check_all_mail_params(struct hs *h)
{
	assert_int_equal(h->last_mail.size, 500);
	assert_int_equal(h->last_mail.body, TERN_SMTP_BODY_8BITMIME);
	assert_true(h->last_mail.smtputf8);
	assert_int_equal(h->last_mail.ret, TERN_SMTP_RET_HDRS);
	assert_string_equal(h->last_envid, "id1");
}

static void check_no_mail(struct hs *h)
{
	assert_false(hs_events_has(h, "mail:"));
	assert_null(tern_smtp_session_mail_from(h->session));
}

static void check_postmaster(struct hs *h)
{
	assert_true(hs_events_has(h, "rcpt:<postmaster> rcpt:<postmaster> "));
	assert_int_equal(tern_smtp_session_rcpt_count(h->session), 3);
	assert_string_equal(tern_smtp_session_rcpt(h->session, 0)->address, "postmaster");
	assert_string_equal(tern_smtp_session_rcpt(h->session, 2)->address,
			    "postmaster@d.example");
	assert_null(tern_smtp_session_rcpt(h->session, 3));
}

static void check_notify(struct hs *h)
{
	assert_int_equal(h->last_notify, TERN_SMTP_NOTIFY_SUCCESS | TERN_SMTP_NOTIFY_FAILURE |
						 TERN_SMTP_NOTIFY_DELAY);
}

static void check_notify_never(struct hs *h)
{
	assert_int_equal(h->last_notify, TERN_SMTP_NOTIFY_NEVER);
}

static void check_orcpt(struct hs *h)
{
	assert_true(h->last_orcpt_set);
	assert_string_equal(h->last_orcpt_type, "rfc822");
	assert_string_equal(h->last_orcpt, "x+y@d.example");
	const tern_smtp_rcpt *r = tern_smtp_session_rcpt(h->session, 0);
	assert_non_null(r);
	assert_string_equal(r->orcpt, "x+y@d.example");
	assert_string_equal(r->orcpt_type, "rfc822");
	assert_int_equal(r->notify, TERN_SMTP_NOTIFY_NEVER);
}

static void check_two_rcpts(struct hs *h)
{
	assert_int_equal(tern_smtp_session_rcpt_count(h->session), 2);
}

static void check_no_rcpt(struct hs *h)
{
	assert_int_equal(tern_smtp_session_rcpt_count(h->session), 0);
}

/* ---- the table ---------------------------------------------------------- */

static const struct hs_case cases[] = {
	/* Paths. */
	{.name = "mail plain", .in = HS_EHLO MAIL_OK,
	 .expect = L(HS_EHLO_REPLY, "=250 2.1.0 Sender OK")},
	{.name = "mail lower case", .in = HS_EHLO "mail from:<a@b.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0")},
	{.name = "mail space after colon", .in = HS_EHLO "MAIL FROM: <a@b.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0")},
	{.name = "mail null sender", .in = HS_EHLO "MAIL FROM:<>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0"), .check = check_null_sender},
	{.name = "mail null sender with params", .in = HS_EHLO "MAIL FROM:<> BODY=8BITMIME SIZE=10\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0")},
	{.name = "mail quoted local part", .in = HS_EHLO "MAIL FROM:<\"john doe\"@b.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0"), .check = check_quoted},
	{.name = "mail address literals",
	 .in = HS_EHLO "MAIL FROM:<a@[192.0.2.1]>\r\nRSET\r\nMAIL FROM:<a@[IPv6:2001:db8::1]>\r\n"
	       "RSET\r\nMAIL FROM:<a@[300.1.1.1]>\r\nMAIL FROM:<a@[IPv6:nope]>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.0.0", "250 2.1.0", "250 2.0.0",
		     "501 5.1.7", "501 5.1.7")},
	/* RFC 5321 4.1.2: source routes are accepted and ignored. */
	{.name = "source routes",
	 .in = HS_EHLO "MAIL FROM:<@x.example,@y.example:a@b.example>\r\n"
	       "RCPT TO:<@x.example:c@d.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5"), .check = check_source_route},
	{.name = "mail no brackets", .in = HS_EHLO "MAIL FROM:a@b.example\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.1.7"), .check = check_no_mail},
	{.name = "mail unterminated", .in = HS_EHLO "MAIL FROM:<a@b.example\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.1.7")},
	{.name = "mail no path", .in = HS_EHLO "MAIL FROM:\r\nMAIL\r\nMAIL TO:<a@b.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.5.2", "501 5.5.2", "501 5.5.2")},
	{.name = "mail postmaster is not a reverse path", .in = HS_EHLO "MAIL FROM:<postmaster>\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.1.7")},
	{.name = "mail control char", .in = HS_EHLO "MAIL FROM:<a\x01@b.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.1.7"), .check = check_no_mail},
	{.name = "mail nul", HS_BIN(HS_EHLO "MAIL FROM:<a\0@b.example>\r\nMAIL FROM:<a@b.example>\0\r\n"),
	 .expect = L(HS_EHLO_REPLY, "501 5.1.7", "501")},
	{.name = "mail shell metachars", .in = HS_EHLO "MAIL FROM:<;sleep 66;>\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.1.7")},
	{.name = "mail garbage after path", .in = HS_EHLO "MAIL FROM:<a@b.example>SIZE=1\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.1.7")},
	{.name = "mail local part too long",
	 .in = HS_EHLO "MAIL FROM:<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "501")},
	{.name = "mail rejected by embedder", .setup = mail_reject, .in = HS_EHLO MAIL_OK MAIL_OK,
	 .expect = L(HS_EHLO_REPLY, "=550 5.7.1 Sender rejected", "250 2.1.0")},

	/* SMTPUTF8 (RFC 6531). */
	{.name = "smtputf8 addresses",
	 .in = HS_EHLO "MAIL FROM:<jos\xc3\xa9@b.example> SMTPUTF8\r\n"
	       "RCPT TO:<\xc3\xbc@d\xc3\xbc.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5"), .check = check_utf8},
	{.name = "smtputf8 ascii sender", .in = HS_EHLO "MAIL FROM:<a@b.example> smtputf8\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0"), .check = check_smtputf8_ascii},
	/* RFC 6531 3.4 / RFC 5248 5.6.7: UTF-8 address without the parameter. */
	{.name = "utf8 sender without smtputf8",
	 .in = HS_EHLO "MAIL FROM:<jos\xc3\xa9@b.example>\r\n" MAIL_OK,
	 .expect = L(HS_EHLO_REPLY, "553 5.6.7", "250 2.1.0")},
	{.name = "utf8 recipient without smtputf8",
	 .in = HS_EHLO MAIL_OK "RCPT TO:<\xc3\xbc@d.example>\r\nRCPT TO:<c@d.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "553 5.6.7", "250 2.1.5")},
	{.name = "utf8 sender smtputf8 hidden", .setup = hide_smtputf8,
	 .in = HS_EHLO "MAIL FROM:<jos\xc3\xa9@b.example>\r\n"
	       "MAIL FROM:<a@b.example> SMTPUTF8\r\n",
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250-", "250 ", "5",
		     "555 5.5.4")},
	{.name = "smtputf8 with value", .in = HS_EHLO "MAIL FROM:<a@b.example> SMTPUTF8=yes\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.5.4")},
	{.name = "invalid utf8 sender", .in = HS_EHLO "MAIL FROM:<a\xff@b.example> SMTPUTF8\r\n",
	 .expect = L(HS_EHLO_REPLY, "5")},

	/* SIZE (RFC 1870). */
	{.name = "size", .setup = size_1000, .in = HS_EHLO "MAIL FROM:<a@b.example> SIZE=1000\r\n",
	 .expect = L("250-mx.test", "250-", "250-SIZE 1000", "250-", "250-", "250-", "250-", "250-",
		     "250 ", "250 2.1.0"),
	 .check = check_size},
	/* RFC 1870 6.1: declared size over the limit: 552 (5.3.4). */
	{.name = "size over limit", .setup = size_1000,
	 .in = HS_EHLO "MAIL FROM:<a@b.example> SIZE=1001\r\nNOOP\r\n",
	 .expect = L("250-mx.test", "250-", "250-SIZE 1000", "250-", "250-", "250-", "250-",
		     "250-", "250 ", "552 5.3.4", "250 2.0.0"),
	 .check = check_no_mail},
	{.name = "size overflow", .setup = size_1000,
	 .in = HS_EHLO "MAIL FROM:<a@b.example> SIZE=18446744073709551616\r\n",
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250-", "250-", "250 ",
		     "552 5.3.4")},
	{.name = "size without limit", .setup = size_none,
	 .in = HS_EHLO "MAIL FROM:<a@b.example> SIZE=99999999999999999999\r\n",
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250-", "250-", "250 ",
		     "250 2.1.0"),
	 .check = check_size_huge},
	{.name = "size bad values",
	 .in = HS_EHLO "MAIL FROM:<a@b.example> SIZE=abc\r\nMAIL FROM:<a@b.example> SIZE=\r\n"
	       "MAIL FROM:<a@b.example> SIZE\r\nMAIL FROM:<a@b.example> SIZE=-1\r\n"
	       "MAIL FROM:<a@b.example> SIZE=123456789012345678901\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.5.4", "501 5.5.4", "501 5.5.4", "501 5.5.4",
		     "501 5.5.4")},
	{.name = "size hidden", .setup = hide_size,
	 .in = HS_EHLO "MAIL FROM:<a@b.example> SIZE=10\r\n",
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250-", "250 ",
		     "555 5.5.4")},

	/* BODY (RFC 6152, RFC 3030). */
	{.name = "body 7bit", .in = HS_EHLO "MAIL FROM:<a@b.example> BODY=7BIT\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0"), .check = check_body_7bit},
	{.name = "body 8bitmime", .in = HS_EHLO "MAIL FROM:<a@b.example> body=8bitmime\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0"), .check = check_body_8bit},
	{.name = "body binarymime", .in = HS_EHLO "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0"), .check = check_body_binary},
	{.name = "body bad value",
	 .in = HS_EHLO "MAIL FROM:<a@b.example> BODY=9BIT\r\nMAIL FROM:<a@b.example> BODY\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.5.4", "501 5.5.4")},
	{.name = "body 8bitmime hidden", .setup = hide_8bitmime,
	 .in = HS_EHLO "MAIL FROM:<a@b.example> BODY=8BITMIME\r\n",
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250-", "250 ",
		     "555 5.5.4")},
	{.name = "body binarymime hidden", .setup = hide_binarymime,
	 .in = HS_EHLO "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n",
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250-", "250 ",
		     "555 5.5.4")},
	{.name = "body binarymime without chunking", .setup = hide_chunking,
	 .in = HS_EHLO "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n",
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250 ", "555 5.5.4")},

	/* REQUIRETLS (RFC 8689): refused without TLS, accepted with it. */
	{.name = "requiretls without tls", .in = HS_EHLO "MAIL FROM:<a@b.example> REQUIRETLS\r\n" MAIL_OK,
	 .expect = L(HS_EHLO_REPLY, "5", "250 2.1.0")},
	{.name = "requiretls with tls", .setup = secure,
	 .in = HS_EHLO "MAIL FROM:<a@b.example> REQUIRETLS\r\n",
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250-", "250-", "250-",
		     "250 REQUIRETLS", "250 2.1.0"),
	 .check = check_requiretls},
	{.name = "requiretls with value", .setup = secure,
	 .in = HS_EHLO "MAIL FROM:<a@b.example> REQUIRETLS=1\r\n",
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250-", "250-", "250-",
		     "250 REQUIRETLS", "501 5.5.4")},

	/* RET and ENVID (RFC 3461 4.3, 4.4). */
	{.name = "ret full", .in = HS_EHLO "MAIL FROM:<a@b.example> RET=FULL\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0"), .check = check_ret_full},
	{.name = "ret hdrs", .in = HS_EHLO "MAIL FROM:<a@b.example> ret=hdrs\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0"), .check = check_ret_hdrs},
	{.name = "ret bad",
	 .in = HS_EHLO "MAIL FROM:<a@b.example> RET=ALL\r\nMAIL FROM:<a@b.example> RET\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.5.4", "501 5.5.4")},
	{.name = "envid xtext", .in = HS_EHLO "MAIL FROM:<a@b.example> ENVID=QQ+2Bab+3Dc\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0"), .check = check_envid},
	/* RFC 3461 4: decoded CR LF would inject lines into DSNs / spool. */
	{.name = "envid crlf injection",
	 .in = HS_EHLO "MAIL FROM:<a@b.example> ENVID=x+0D+0ARCPT\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.5.4", "250 2.0.0"), .check = check_no_mail},
	{.name = "envid nul", .in = HS_EHLO "MAIL FROM:<a@b.example> ENVID=a+00b\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.5.4")},
	{.name = "envid bad xtext",
	 .in = HS_EHLO "MAIL FROM:<a@b.example> ENVID=a+0d\r\nMAIL FROM:<a@b.example> ENVID=a+\r\n"
	       "MAIL FROM:<a@b.example> ENVID=a+G1\r\nMAIL FROM:<a@b.example> ENVID\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.5.4", "501 5.5.4", "501 5.5.4", "501 5.5.4")},
	{.name = "envid too long",
	 .in = HS_EHLO "MAIL FROM:<a@b.example> ENVID="
	       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	       "\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.5.4")},
	{.name = "ret envid hidden", .setup = hide_dsn,
	 .in = HS_EHLO "MAIL FROM:<a@b.example> RET=FULL\r\nMAIL FROM:<a@b.example> ENVID=x\r\n",
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250-", "250 ",
		     "555 5.5.4", "555 5.5.4")},
	{.name = "all mail params",
	 .in = HS_EHLO "MAIL FROM:<a@b.example> SIZE=500 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id1\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0"), .check = check_all_mail_params},

	/* Unknown, unadvertised, duplicate, malformed (RFC 5321 4.1.1.11). */
	{.name = "mail unknown param",
	 .in = HS_EHLO "MAIL FROM:<a@b.example> FOO=BAR\r\nMAIL FROM:<a@b.example> XYZ\r\n"
	       "MAIL FROM:<a@b.example> AUTH=<>\r\nMAIL FROM:<a@b.example> NOTIFY=NEVER\r\n",
	 .expect = L(HS_EHLO_REPLY, "555 5.5.4", "555 5.5.4", "555 5.5.4", "555 5.5.4")},
	{.name = "mail duplicate params",
	 .in = HS_EHLO "MAIL FROM:<a@b.example> SIZE=1 SIZE=2\r\n"
	       "MAIL FROM:<a@b.example> BODY=7BIT BODY=8BITMIME\r\n"
	       "MAIL FROM:<a@b.example> SMTPUTF8 SMTPUTF8\r\n"
	       "MAIL FROM:<a@b.example> RET=FULL RET=HDRS\r\n"
	       "MAIL FROM:<a@b.example> ENVID=a ENVID=b\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.5.4", "501 5.5.4", "501 5.5.4", "501 5.5.4",
		     "501 5.5.4")},
	{.name = "mail malformed params",
	 .in = HS_EHLO "MAIL FROM:<a@b.example> =x\r\nMAIL FROM:<a@b.example> SIZE==1\r\n"
	       "MAIL FROM:<a@b.example> -X=1\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.5.4", "501 5.5.4", "501 5.5.4")},
	{.name = "mail param control char", .in = HS_EHLO "MAIL FROM:<a@b.example> X-A=b\x01\r\n",
	 .expect = L(HS_EHLO_REPLY, "501 5.5.4")},
	{.name = "mail too many params",
	 .in = HS_EHLO "MAIL FROM:<a@b.example> A=1 B=1 C=1 D=1 E=1 F=1 G=1 H=1 I=1 J=1 K=1 L=1 "
	       "M=1 N=1 O=1 P=1 Q=1 R=1\r\n",
	 .expect = L(HS_EHLO_REPLY, "5")},

	/* RCPT. */
	{.name = "rcpt plain", .in = HS_EHLO MAIL_OK "RCPT TO:<c@d.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "=250 2.1.5 Recipient OK")},
	{.name = "rcpt lower case", .in = HS_EHLO MAIL_OK "rcpt to:<c@d.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5")},
	/* RFC 5321 4.1.1.3: <Postmaster> without a domain must be accepted. */
	{.name = "rcpt postmaster",
	 .in = HS_EHLO MAIL_OK "RCPT TO:<postmaster>\r\nRCPT TO:<PostMaster>\r\n"
	       "RCPT TO:<postmaster@d.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.1.5"),
	 .check = check_postmaster},
	{.name = "rcpt null path", .in = HS_EHLO MAIL_OK "RCPT TO:<>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "501 5.1.3"), .check = check_no_rcpt},
	{.name = "rcpt bad syntax",
	 .in = HS_EHLO MAIL_OK "RCPT TO:c@d.example\r\nRCPT TO:<c@d.example\r\nRCPT TO:<c>\r\n"
	       "RCPT TO:<c@@d>\r\nRCPT\r\nRCPT FROM:<c@d.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "501 5.1.3", "501 5.1.3", "501 5.1.3",
		     "501 5.1.3", "501 5.5.2", "501 5.5.2")},
	{.name = "rcpt quoted and literal",
	 .in = HS_EHLO MAIL_OK "RCPT TO:<\"x y\"@d.example>\r\nRCPT TO:<c@[192.0.2.9]>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "250 2.1.5")},
	{.name = "rcpt control char", .in = HS_EHLO MAIL_OK "RCPT TO:<c\x7f@d.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "501 5.1.3"), .check = check_no_rcpt},
	/* "$", "{", "}" and "/" are atext: legal, and only ever data here. */
	{.name = "rcpt expander syntax is atext",
	 .in = HS_EHLO MAIL_OK "RCPT TO:<${run{/bin/true}}@d.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5")},
	{.name = "rcpt notify",
	 .in = HS_EHLO MAIL_OK "RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE,DELAY\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5"), .check = check_notify},
	{.name = "rcpt notify never", .in = HS_EHLO MAIL_OK "RCPT TO:<c@d.example> notify=never\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5"), .check = check_notify_never},
	{.name = "rcpt notify bad",
	 .in = HS_EHLO MAIL_OK "RCPT TO:<c@d.example> NOTIFY=NEVER,SUCCESS\r\n"
	       "RCPT TO:<c@d.example> NOTIFY=SOMETIMES\r\nRCPT TO:<c@d.example> NOTIFY=\r\n"
	       "RCPT TO:<c@d.example> NOTIFY=SUCCESS,\r\nRCPT TO:<c@d.example> NOTIFY\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "501 5.5.4", "501 5.5.4", "501 5.5.4",
		     "501 5.5.4", "501 5.5.4"),
	 .check = check_no_rcpt},
	{.name = "rcpt orcpt",
	 .in = HS_EHLO MAIL_OK "RCPT TO:<c@d.example> ORCPT=rfc822;x+2By@d.example NOTIFY=NEVER\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5"), .check = check_orcpt},
	{.name = "rcpt orcpt utf-8 type",
	 .in = HS_EHLO MAIL_OK "RCPT TO:<c@d.example> ORCPT=utf-8;x@d.example\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5")},
	/* CVE-2020-28026 class: ORCPT decoding to CR LF. */
	{.name = "rcpt orcpt crlf injection",
	 .in = HS_EHLO MAIL_OK "RCPT TO:<c@d.example> ORCPT=rfc822;a+0D+0AX-Evil:1\r\n"
	       "RCPT TO:<c@d.example> ORCPT=rfc822;a+0Ab\r\nRCPT TO:<c@d.example> ORCPT=rfc822;a+00\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "501 5.5.4", "501 5.5.4", "501 5.5.4"),
	 .check = check_no_rcpt},
	{.name = "rcpt orcpt bad",
	 .in = HS_EHLO MAIL_OK "RCPT TO:<c@d.example> ORCPT=rfc822\r\n"
	       "RCPT TO:<c@d.example> ORCPT=;x@d.example\r\nRCPT TO:<c@d.example> ORCPT=rfc822;\r\n"
	       "RCPT TO:<c@d.example> ORCPT=rfc 822;x\r\nRCPT TO:<c@d.example> ORCPT=rfc822;a+zz\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "501 5.5.4", "501 5.5.4", "501 5.5.4", "5",
		     "501 5.5.4")},
	{.name = "rcpt duplicate params",
	 .in = HS_EHLO MAIL_OK "RCPT TO:<c@d.example> NOTIFY=NEVER NOTIFY=NEVER\r\n"
	       "RCPT TO:<c@d.example> ORCPT=rfc822;a@b ORCPT=rfc822;a@b\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "501 5.5.4", "501 5.5.4")},
	{.name = "rcpt unknown param",
	 .in = HS_EHLO MAIL_OK "RCPT TO:<c@d.example> FOO=1\r\nRCPT TO:<c@d.example> SIZE=1\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "555 5.5.4", "555 5.5.4")},
	{.name = "rcpt dsn hidden", .setup = hide_dsn,
	 .in = HS_EHLO MAIL_OK "RCPT TO:<c@d.example> NOTIFY=NEVER\r\n"
	       "RCPT TO:<c@d.example> ORCPT=rfc822;a@b\r\nRCPT TO:<c@d.example>\r\n",
	 .expect = L("250-mx.test", "250-", "250-", "250-", "250-", "250-", "250-", "250 ",
		     "250 2.1.0", "555 5.5.4", "555 5.5.4", "250 2.1.5")},
	{.name = "rcpt rejected by embedder", .setup = rcpt_reject,
	 .in = HS_EHLO MAIL_OK "RCPT TO:<x@d.example>\r\nRCPT TO:<y@d.example>\r\n"
	       "RCPT TO:<c@d.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "=550 5.1.1 Recipient rejected",
		     "=450 4.1.1 Mailbox busy", "250 2.1.5")},
	/* RFC 5321 3.3: all RCPTs refused, then DATA: 503 or 554. */
	{.name = "data after all rcpt rejected", .setup = rcpt_reject,
	 .in = HS_EHLO MAIL_OK "RCPT TO:<x@d.example>\r\nRCPT TO:<y@d.example>\r\nDATA\r\nNOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "550 5.1.1", "450 4.1.1", "554 5.5.1",
		     "250 2.0.0")},
	/* RFC 5321 4.5.3.1.10: 452 for recipients over the limit. */
	{.name = "max recipients", .setup = rcpt_max_2,
	 .in = HS_EHLO MAIL_OK "RCPT TO:<c1@d.example>\r\nRCPT TO:<c2@d.example>\r\n"
	       "RCPT TO:<c3@d.example>\r\nRCPT TO:<c4@d.example>\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "250 2.1.5", "452 4.5.3",
		     "452 4.5.3"),
	 .check = check_two_rcpts},
};

/* The default recipient limit is 100 (RFC 5321 4.5.3.1.8). */
static void test_default_recipient_limit(void **state)
{
	(void)state;
	struct hs h;
	hs_init(&h);
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO MAIL_OK);
	char line[64];
	for (int i = 0; i < 101; i++) {
		snprintf(line, sizeof(line), "RCPT TO:<r%d@d.example>\r\n", i);
		hs_feed_str(&h, line);
	}
	assert_int_equal(hs_count(&h, "250 2.1.5"), 100);
	assert_int_equal(hs_count(&h, "452 4.5.3"), 1);
	assert_int_equal(tern_smtp_session_rcpt_count(h.session), 100);
	/* The 452s are not "bad commands": the session goes on. */
	assert_false(tern__smtp_session_want_close(h.session));
	hs_free(&h);
}

/* ORCPT may be 500 characters (RFC 3461 4.2); a long but valid one fits in
 * the default command line. */
static void test_long_orcpt(void **state)
{
	(void)state;
	struct hs h;
	char line[700], addr[480];
	hs_init(&h);
	hs_open(&h);
	hs_start(&h);
	hs_feed_str(&h, HS_EHLO MAIL_OK);
	memset(addr, 'a', sizeof(addr));
	addr[sizeof(addr) - 1] = '\0';
	snprintf(line, sizeof(line), "RCPT TO:<c@d.example> ORCPT=rfc822;%s@d.example\r\n", addr);
	hs_feed_str(&h, line);
	assert_int_equal(hs_count(&h, "250 2.1.5"), 1);
	assert_int_equal(strlen(h.last_orcpt), strlen(addr) + strlen("@d.example"));
	hs_free(&h);
}

int main(void)
{
	int failed = hs_run_group("smtp mail/rcpt", cases, sizeof(cases) / sizeof(cases[0]));
	const struct CMUnitTest more[] = {
		cmocka_unit_test(test_default_recipient_limit),
		cmocka_unit_test(test_long_orcpt),
	};
	failed += cmocka_run_group_tests_name("smtp mail/rcpt (sessions)", more, NULL, NULL);
	return failed;
}
