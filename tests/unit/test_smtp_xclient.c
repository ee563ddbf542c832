/* Engine transcripts: Postfix's XCLIENT and XFORWARD (XCLIENT_README,
 * XFORWARD_README). Every case runs whole, one octet at a time and in
 * 3-octet slices (helper_session.c). The client is 192.0.2.1:1234 talking
 * to 192.0.2.2:25; trusted cases put 192.0.2.0/24 in xclient_from and
 * xforward_from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_session.h"
#include "smtp/xattr.h"

#define L HS_LINES
#define GREETING "=220 mx.test ESMTP Tern"
#define R550 "=550 5.7.0 Error: insufficient authorization"
#define R503 "=503 5.5.1 Error: MAIL transaction in progress"
#define KW_XCLIENT "XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT"
#define KW_XFORWARD "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE"
#define EHLO_HEAD(host)                                                                   \
	"=250-mx.test Hello " host, "=250-PIPELINING", "=250-SIZE 26214400", "=250-8BITMIME", \
		"=250-SMTPUTF8", "=250-ENHANCEDSTATUSCODES", "=250-DSN", "=250-CHUNKING"
/* EHLO to a client trusted for both commands. */
#define EHLO_BOTH(host)                                                                   \
	EHLO_HEAD(host), "=250-BINARYMIME", "=250-" KW_XCLIENT, "=250 " KW_XFORWARD
#define EHLO_XCLIENT(host) EHLO_HEAD(host), "=250-BINARYMIME", "=250 " KW_XCLIENT
#define EHLO_XFORWARD(host) EHLO_HEAD(host), "=250-BINARYMIME", "=250 " KW_XFORWARD
#define EHLO_NONE(host) EHLO_HEAD(host), "=250 BINARYMIME"
#define TX "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nHi\r\n.\r\n"
#define TX_REPLY "=250 2.1.0 Sender OK", "250 2.1.5", "354 ", "250 2.6.0"
#define RECEIVED(from, with, n)                                                           \
	"Received: from " from "\r\n\tby mx.test (Tern) with " with " id " HS_TXID(n)         \
	"\r\n\tfor <c@d.example>;\r\n\tTue, 14 Nov 2023 22:13:20 +0000\r\nHi\r\n"

static const char *const here[] = {"192.0.2.0/24", NULL};
static const char *const elsewhere[] = {"10.0.0.0/8,2001:db8::/32", NULL};

/* ---- setups ------------------------------------------------------------- */

static void both(struct hs *h)
{
	h->opts.xclient_from = here;
	h->opts.xforward_from = here;
	h->opts.max_bad_commands = 100;
}
static void xclient_only(struct hs *h)
{
	both(h);
	h->opts.xforward_from = elsewhere;
}
static void xforward_only(struct hs *h)
{
	both(h);
	h->opts.xclient_from = elsewhere;
}
static void untrusted(struct hs *h)
{
	both(h);
	h->opts.xclient_from = elsewhere;
	h->opts.xforward_from = elsewhere;
}
static void lmtp(struct hs *h)
{
	both(h);
	h->opts.lmtp = true;
}
/* The new client is refused by on_connect. */
static void refuse_second(struct hs *h)
{
	both(h);
	hs_push_accept(h, HS_CONNECT);
	hs_push_reject(h, HS_CONNECT, 0, NULL, NULL);
}
/* on_connect takes its time for the new client. */
static void pending_second(struct hs *h)
{
	both(h);
	hs_push_accept(h, HS_CONNECT);
	hs_push_pending(h, HS_CONNECT);
}

/* ---- what the accessors said -------------------------------------------- */

static struct {
	bool xf_null;
	char name[64], addr[64], proto[80], helo[64], ident[64], source[16];
	unsigned port;
	char remote[64];
} seen;

static void cp(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "(null)");
}

static void snap_data_start(struct hs *h, tern_smtp_session *s)
{
	(void)h;
	const tern_smtp_xforward *xf = tern_smtp_session_xforward(s);
	memset(&seen, 0, sizeof(seen));
	seen.xf_null = xf == NULL;
	if (xf) {
		cp(seen.name, sizeof(seen.name), xf->name);
		cp(seen.addr, sizeof(seen.addr), xf->addr);
		cp(seen.proto, sizeof(seen.proto), xf->proto);
		cp(seen.helo, sizeof(seen.helo), xf->helo);
		cp(seen.ident, sizeof(seen.ident), xf->ident);
		cp(seen.source, sizeof(seen.source), xf->source);
		seen.port = xf->port;
	}
	cp(seen.remote, sizeof(seen.remote), tern_smtp_session_remote_address(s));
}

static void both_snap(struct hs *h)
{
	both(h);
	h->hook_data_start = snap_data_start;
}

static void assert_str(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else {
		assert_non_null(got);
		assert_string_equal(got, want);
	}
}

/* The session still has the connection's own facts. */
static void unchanged(struct hs *h)
{
	tern_smtp_session *s = h->session;
	assert_string_equal(tern_smtp_session_remote_address(s), "192.0.2.1");
	assert_int_equal(tern_smtp_session_remote_port(s), 1234);
	assert_string_equal(tern_smtp_session_client_hostname(s), "[192.0.2.1]");
	assert_int_equal(h->calls[HS_CONNECT], 1);
	assert_null(tern_smtp_session_auth_user(s));
}

static void unchanged_no_xf(struct hs *h)
{
	unchanged(h);
	assert_null(tern_smtp_session_xforward(h->session));
}

/* ---- checks ------------------------------------------------------------- */

static void check_basic(struct hs *h)
{
	tern_smtp_session *s = h->session;
	assert_string_equal(tern_smtp_session_remote_address(s), "198.51.100.7");
	assert_int_equal(tern_smtp_session_remote_port(s), 4242);
	assert_string_equal(tern_smtp_session_client_hostname(s), "mail.example");
	assert_string_equal(tern_smtp_session_helo_name(s), "client.example");
	assert_string_equal(tern_smtp_session_local_address(s), "192.0.2.2");
	assert_int_equal(h->calls[HS_CONNECT], 2);
	assert_null(tern_smtp_session_auth_user(s));
}

static void check_trust_kept(struct hs *h)
{
	assert_string_equal(tern_smtp_session_remote_address(h->session), "198.51.100.7");
	assert_int_equal(h->calls[HS_CONNECT], 3);
}

static void check_ipv6(struct hs *h)
{
	tern_smtp_session *s = h->session;
	assert_string_equal(tern_smtp_session_remote_address(s), "2001:db8::7");
	assert_string_equal(tern_smtp_session_client_hostname(s), "[IPv6:2001:db8::7]");
}

static void check_dest(struct hs *h)
{
	tern_smtp_session *s = h->session;
	assert_string_equal(tern_smtp_session_local_address(s), "2001:db8::25");
	assert_int_equal(tern_smtp_session_local_port(s), 587);
	assert_string_equal(tern_smtp_session_remote_address(s), "192.0.2.1"); /* not given: kept */
	assert_int_equal(tern_smtp_session_remote_port(s), 1234);
}

static void check_unavailable(struct hs *h)
{
	tern_smtp_session *s = h->session;
	assert_string_equal(tern_smtp_session_remote_address(s), "unknown");
	assert_string_equal(tern_smtp_session_client_hostname(s), "unknown");
	assert_int_equal(tern_smtp_session_remote_port(s), 0);
	assert_null(tern_smtp_session_auth_user(s));
}

static void check_tempunavail(struct hs *h)
{
	assert_string_equal(tern_smtp_session_client_hostname(h->session), "[10.1.1.1]");
	assert_string_equal(tern_smtp_session_remote_address(h->session), "10.1.1.1");
}

/* NAME alone keeps the address; a later ADDR alone keeps the name. */
static void check_name_then_addr(struct hs *h)
{
	assert_string_equal(tern_smtp_session_client_hostname(h->session), "kept.example");
	assert_string_equal(tern_smtp_session_remote_address(h->session), "10.2.2.2");
	assert_int_equal(h->calls[HS_CONNECT], 3);
}

static void check_xtext(struct hs *h)
{
	tern_smtp_session *s = h->session;
	assert_string_equal(tern_smtp_session_helo_name(s), "x+y.example");
	assert_string_equal(tern_smtp_session_auth_user(s), "jane doe=");
	assert_string_equal(tern_smtp_session_opening_command(s), "HELO");
}

static void check_login(struct hs *h)
{
	tern_smtp_session *s = h->session;
	assert_string_equal(tern_smtp_session_auth_user(s), "jane@example.org");
	assert_string_equal(tern_smtp_session_auth_mechanism(s), "XCLIENT");
	assert_string_equal(tern_smtp_session_transmission_type(s), "ESMTPA");
}

static void check_login_gone(struct hs *h)
{
	assert_null(tern_smtp_session_auth_user(h->session));
	assert_null(tern_smtp_session_auth_mechanism(h->session));
}

static void check_helo_proto(struct hs *h)
{
	tern_smtp_session *s = h->session;
	assert_string_equal(tern_smtp_session_helo_name(s), "relay.example");
	assert_string_equal(tern_smtp_session_opening_command(s), "EHLO");
}

static void check_refused(struct hs *h)
{
	assert_string_equal(tern_smtp_session_remote_address(h->session), "203.0.113.66");
	assert_int_equal(h->calls[HS_CONNECT], 2);
}

static void check_xf_full(struct hs *h)
{
	assert_false(seen.xf_null);
	assert_string_equal(seen.name, "up.example");
	assert_string_equal(seen.addr, "203.0.113.9");
	assert_int_equal(seen.port, 2525);
	assert_string_equal(seen.proto, "ESMTP");
	assert_string_equal(seen.helo, "up-helo.example");
	assert_string_equal(seen.ident, "4Xyz12AB");
	assert_string_equal(seen.source, "REMOTE");
	assert_string_equal(seen.remote, "192.0.2.1"); /* XFORWARD changes no session fact */
	/* The message is over: the attributes went with it. */
	assert_null(tern_smtp_session_xforward(h->session));
	unchanged(h);
}

static void check_xf_unavailable(struct hs *h)
{
	assert_false(seen.xf_null);
	assert_string_equal(seen.name, "(null)");
	assert_string_equal(seen.addr, "(null)");
	assert_int_equal(seen.port, 0);
	assert_string_equal(seen.source, "LOCAL");
}

static void check_xf_kept(struct hs *h)
{
	assert_string_equal(seen.name, "a.example");
	assert_string_equal(seen.addr, "(null)");
	assert_string_equal(seen.ident, "(null)");
}

static void check_xf_none(struct hs *h)
{
	assert_true(seen.xf_null);
}

static void check_xf_pending(struct hs *h)
{
	const tern_smtp_xforward *xf = tern_smtp_session_xforward(h->session);
	assert_non_null(xf);
	assert_string_equal(xf->name, "a.example");
	assert_str(xf->addr, NULL);
	assert_string_equal(xf->source, "LOCAL");
}

/* ---- cases -------------------------------------------------------------- */

static const struct hs_case cases[] = {
	/* "XCLIENT must not override its own access control" (Postfix):
	 * the keywords only for trusted clients. */
	{.name = "ehlo advertises both", .setup = both, .in = HS_EHLO,
	 .expect = L(EHLO_BOTH("[192.0.2.1]"))},
	{.name = "ehlo advertises xclient only", .setup = xclient_only, .in = HS_EHLO,
	 .expect = L(EHLO_XCLIENT("[192.0.2.1]"))},
	{.name = "ehlo advertises xforward only", .setup = xforward_only, .in = HS_EHLO,
	 .expect = L(EHLO_XFORWARD("[192.0.2.1]"))},
	{.name = "untrusted: no keyword, 550", .setup = untrusted,
	 .in = HS_EHLO "XCLIENT ADDR=10.0.0.1\r\nXFORWARD NAME=a.example\r\nxclient\r\n"
		       "XFORWARD\r\nNOOP\r\n",
	 .expect = L(EHLO_NONE("[192.0.2.1]"), R550, R550, R550, R550, "=250 2.0.0 OK"),
	 .check = unchanged_no_xf},
	{.name = "not configured: 502", .in = "XCLIENT ADDR=10.0.0.1\r\nXFORWARD NAME=a.example\r\n",
	 .expect = L("=502 5.5.1 Command not implemented", "=502 5.5.1 Command not implemented"),
	 .check = unchanged_no_xf},

	/* ---- XCLIENT ---- */
	/* "220 success": the session starts over with a new greeting; the
	 * client greets again and the Received: header names the new client
	 * as TCP-info "name [addr]" (RFC 5321 4.4). */
	{.name = "xclient name addr port", .setup = both,
	 .in = HS_EHLO "XCLIENT NAME=mail.example ADDR=198.51.100.7 PORT=4242\r\n"
		       "MAIL FROM:<a@b.example>\r\n" HS_EHLO TX,
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), GREETING,
		     "=503 5.5.1 Bad sequence of commands: send EHLO/HELO first",
		     EHLO_BOTH("mail.example"), TX_REPLY),
	 .messages = 1,
	 .body = RECEIVED("client.example (mail.example [198.51.100.7])", "ESMTP", 1),
	 .check = check_basic},
	/* Lower-case command, attribute names and prefix. */
	{.name = "xclient ipv6 lower case", .setup = both,
	 .in = "xclient addr=ipv6:2001:db8::7\r\n" HS_EHLO TX,
	 .expect = L(GREETING, EHLO_BOTH("[IPv6:2001:db8::7]"), TX_REPLY),
	 .messages = 1,
	 .body = RECEIVED("client.example ([IPv6:2001:db8::7])", "ESMTP", 1),
	 .check = check_ipv6},
	{.name = "xclient destaddr destport", .setup = both,
	 .in = "XCLIENT DESTADDR=IPV6:2001:db8::25 DESTPORT=587\r\n",
	 .expect = L(GREETING), .check = check_dest},
	{.name = "xclient unavailable", .setup = both,
	 .in = HS_EHLO "XCLIENT NAME=[UNAVAILABLE] ADDR=[unavailable] PORT=[Unavailable] "
		       "HELO=[UNAVAILABLE] LOGIN=[UNAVAILABLE]\r\n" HS_EHLO,
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), GREETING, EHLO_BOTH("unknown")),
	 .check = check_unavailable},
	{.name = "xclient tempunavail", .setup = both,
	 .in = "XCLIENT NAME=[TEMPUNAVAIL] ADDR=10.1.1.1\r\n", .expect = L(GREETING),
	 .check = check_tempunavail},
	/* An attribute not given keeps its value (Postfix). */
	{.name = "xclient name then addr", .setup = both,
	 .in = "XCLIENT NAME=kept.example\r\nXCLIENT ADDR=10.2.2.2\r\n" HS_EHLO,
	 .expect = L(GREETING, GREETING, EHLO_BOTH("kept.example")),
	 .check = check_name_then_addr},
	/* "Attribute values are xtext encoded as per RFC 1891." */
	{.name = "xclient xtext", .setup = both,
	 .in = "XCLIENT HELO=x+2By.example LOGIN=jane+20doe+3D\r\nNOOP\r\n",
	 .expect = L(GREETING, "=250 2.0.0 OK"), .check = check_xtext},
	/* The last of a repeated attribute counts. */
	{.name = "xclient repeated attribute", .setup = both,
	 .in = "XCLIENT ADDR=10.9.9.9 ADDR=10.0.0.1 NAME=a.example NAME=mail.example "
	       "ADDR=198.51.100.7 PORT=1 PORT=4242\r\nEHLO client.example\r\n",
	 .expect = L(GREETING, EHLO_BOTH("mail.example")), .check = check_basic},
	/* HELO and PROTO put the session where that greeting would have:
	 * MAIL may follow at once; a later EHLO replaces it (Postfix). */
	{.name = "xclient helo proto esmtp", .setup = both,
	 .in = "XCLIENT HELO=relay.example PROTO=esmtp\r\n" TX,
	 .expect = L(GREETING, TX_REPLY), .messages = 1,
	 .body = RECEIVED("relay.example ([192.0.2.1])", "ESMTP", 1), .check = check_helo_proto},
	{.name = "xclient helo without proto is smtp", .setup = both,
	 .in = "XCLIENT HELO=relay.example\r\n" TX,
	 .expect = L(GREETING, TX_REPLY), .messages = 1,
	 .body = RECEIVED("relay.example ([192.0.2.1])", "SMTP", 1)},
	{.name = "xclient helo replaced by ehlo", .setup = both,
	 .in = "XCLIENT HELO=relay.example PROTO=ESMTP\r\n" HS_EHLO TX,
	 .expect = L(GREETING, EHLO_BOTH("[192.0.2.1]"), TX_REPLY), .messages = 1,
	 .body = RECEIVED("client.example ([192.0.2.1])", "ESMTP", 1)},
	/* Without HELO the greeting is forgotten (Postfix's helo_reset). */
	{.name = "xclient forgets the greeting", .setup = both,
	 .in = HS_EHLO "XCLIENT PROTO=ESMTP\r\nMAIL FROM:<a@b.example>\r\n",
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), GREETING,
		     "=503 5.5.1 Bad sequence of commands: send EHLO/HELO first")},
	{.name = "xclient lmtp helo", .setup = lmtp,
	 .in = "XCLIENT HELO=relay.example\r\nMAIL FROM:<a@b.example>\r\n",
	 .expect = L("=220 mx.test LMTP Tern", "=250 2.1.0 Sender OK")},
	/* LOGIN: "a SASL login name"; the session is authenticated. */
	{.name = "xclient login", .setup = both,
	 .in = "XCLIENT LOGIN=jane@example.org NAME=mail.example ADDR=198.51.100.7\r\n" HS_EHLO TX,
	 .expect = L(GREETING, EHLO_BOTH("mail.example"), TX_REPLY), .messages = 1,
	 .body = RECEIVED("client.example (mail.example [198.51.100.7])", "ESMTPA", 1),
	 .check = check_login},
	{.name = "xclient without login forgets it", .setup = both,
	 .in = "XCLIENT LOGIN=jane\r\nXCLIENT NAME=mail.example\r\n",
	 .expect = L(GREETING, GREETING), .check = check_login_gone},
	{.name = "xclient login unavailable", .setup = both,
	 .in = "XCLIENT LOGIN=jane\r\nXCLIENT LOGIN=[UNAVAILABLE]\r\n",
	 .expect = L(GREETING, GREETING), .check = check_login_gone},
	/* "503 mail transaction in progress". */
	{.name = "xclient inside a transaction", .setup = both,
	 .in = HS_EHLO "MAIL FROM:<a@b.example>\r\nXCLIENT ADDR=10.0.0.1\r\n"
		       "XFORWARD NAME=a.example\r\nRSET\r\nXCLIENT ADDR=10.0.0.1\r\n",
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), "=250 2.1.0 Sender OK", R503, R503,
		     "=250 2.0.0 OK", GREETING)},
	/* Trust stays with the connection's own address: the new client's
	 * 203.0.113.5 is in no list, yet the proxy keeps its rights. */
	{.name = "xclient trust is the connection's", .setup = both,
	 .in = "XCLIENT ADDR=203.0.113.5\r\n" HS_EHLO "XCLIENT ADDR=198.51.100.7 PORT=4242 "
	       "NAME=mail.example\r\nEHLO client.example\r\n",
	 .expect = L(GREETING, EHLO_BOTH("[203.0.113.5]"), GREETING, EHLO_BOTH("mail.example")),
	 .check = check_trust_kept},
	/* on_connect decides about the new client: its refusal is the
	 * reply, and only QUIT is served then (RFC 5321 3.1). */
	{.name = "xclient new client refused", .setup = refuse_second,
	 .in = "XCLIENT ADDR=203.0.113.66\r\n" HS_EHLO,
	 .expect = L("=554 5.7.1 Access denied",
		     "=503 5.5.1 Bad sequence of commands: service refused, send QUIT"),
	 .check = check_refused},
	/* What the client sends while on_connect decides is no early
	 * talk: it waits for the decision (and XCLIENT ends the group). */
	{.name = "xclient pending on_connect", .setup = pending_second,
	 .in = "XCLIENT ADDR=198.51.100.7 PORT=4242 NAME=mail.example\r\nEHLO client.example\r\n",
	 .expect = L(GREETING, EHLO_BOTH("mail.example")), .check = check_basic},

	/* "501 bad command parameter syntax": all or nothing. */
	{.name = "xclient syntax", .setup = both,
	 .in = "XCLIENT\r\nXCLIENT \r\nXCLIENT NAME\r\nXCLIENT NAME=\r\nXCLIENT =x\r\n"
	       "XCLIENT FOO=bar\r\nXCLIENT IDENT=x\r\nNOOP\r\n",
	 .expect = L("=501 5.5.4 Syntax: XCLIENT attribute=value...",
		     "=501 5.5.4 Syntax: XCLIENT attribute=value...",
		     "=501 5.5.4 Error: attribute=value expected",
		     "=501 5.5.4 Error: attribute=value expected",
		     "=501 5.5.4 Error: attribute=value expected",
		     "=501 5.5.4 Bad XCLIENT attribute name: FOO",
		     "=501 5.5.4 Bad XCLIENT attribute name: IDENT", "=250 2.0.0 OK"),
	 .check = unchanged},
	{.name = "xclient bad addr", .setup = both,
	 .in = "XCLIENT ADDR=1.2.3\r\nXCLIENT ADDR=2001:db8::1\r\nXCLIENT ADDR=[1.2.3.4]\r\n"
	       "XCLIENT ADDR=IPV6:1.2.3.4\r\nXCLIENT ADDR=1.2.3.04\r\nXCLIENT ADDR=host.example\r\n"
	       "XCLIENT DESTADDR=x\r\n",
	 .expect = L("=501 5.5.4 Bad ADDR syntax", "=501 5.5.4 Bad ADDR syntax",
		     "=501 5.5.4 Bad ADDR syntax", "=501 5.5.4 Bad ADDR syntax",
		     "=501 5.5.4 Bad ADDR syntax", "=501 5.5.4 Bad ADDR syntax",
		     "=501 5.5.4 Bad DESTADDR syntax"),
	 .check = unchanged},
	{.name = "xclient bad port", .setup = both,
	 .in = "XCLIENT PORT=65536\r\nXCLIENT PORT=-1\r\nXCLIENT PORT=123456\r\nXCLIENT PORT=1a\r\n"
	       "XCLIENT DESTPORT=99999\r\n",
	 .expect = L("=501 5.5.4 Bad PORT syntax", "=501 5.5.4 Bad PORT syntax",
		     "=501 5.5.4 Bad PORT syntax", "=501 5.5.4 Bad PORT syntax",
		     "=501 5.5.4 Bad DESTPORT syntax"),
	 .check = unchanged},
	{.name = "xclient bad name helo proto login", .setup = both,
	 .in = "XCLIENT NAME=1.2.3.4\r\nXCLIENT NAME=[1.2.3.4]\r\nXCLIENT NAME=bad..example\r\n"
	       "XCLIENT NAME=a+20b\r\nXCLIENT HELO=a+0Db\r\nXCLIENT HELO=a+00b\r\n"
	       "XCLIENT PROTO=LMTP\r\nXCLIENT PROTO=[UNAVAILABLE]\r\nXCLIENT LOGIN=a+0Ab\r\n"
	       "XCLIENT LOGIN=+7F\r\n",
	 .expect = L("=501 5.5.4 Bad NAME syntax", "=501 5.5.4 Bad NAME syntax",
		     "=501 5.5.4 Bad NAME syntax", "=501 5.5.4 Bad NAME syntax",
		     "=501 5.5.4 Bad HELO syntax", "=501 5.5.4 Bad HELO syntax",
		     "=501 5.5.4 Bad PROTO syntax", "=501 5.5.4 Bad PROTO syntax",
		     "=501 5.5.4 Bad LOGIN syntax", "=501 5.5.4 Bad LOGIN syntax"),
	 .check = unchanged},
	/* xtext (RFC 3461 4): "+" and two upper-case hex digits. */
	{.name = "xclient bad xtext", .setup = both,
	 .in = "XCLIENT NAME=a+zz.example\r\nXCLIENT NAME=a+2e.example\r\nXCLIENT LOGIN=a+2\r\n"
	       "XCLIENT LOGIN=a=b\r\n",
	 .expect = L("=501 5.5.4 Bad NAME syntax", "=501 5.5.4 Bad NAME syntax",
		     "=501 5.5.4 Bad LOGIN syntax", "=501 5.5.4 Bad LOGIN syntax"),
	 .check = unchanged},
	{.name = "xclient value too long", .setup = both,
	 .in = "XCLIENT LOGIN="
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	       "aaaaaaaaaaaaaaaa\r\n",
	 .expect = L("=501 5.5.4 Error: attribute value too long"), .check = unchanged},
	/* One bad attribute and nothing changes, the good ones included. */
	{.name = "xclient all or nothing", .setup = both,
	 .in = "XCLIENT NAME=mail.example ADDR=198.51.100.7 LOGIN=jane PORT=99999\r\n"
	       "XCLIENT LOGIN=jane ADDR=198.51.100.7 HELO=a+0Ab\r\nNOOP\r\n",
	 .expect = L("=501 5.5.4 Bad PORT syntax", "=501 5.5.4 Bad HELO syntax", "=250 2.0.0 OK"),
	 .check = unchanged},

	/* ---- XFORWARD ---- */
	/* 250 2.0.0 Ok; the Received: header shows the forwarded client
	 * ("from HELO (NAME [ADDR])"); the attributes end with the message. */
	{.name = "xforward all attributes", .setup = both_snap,
	 .in = HS_EHLO "XFORWARD NAME=up.example ADDR=203.0.113.9 PORT=2525 PROTO=esmtp "
		       "HELO=up-helo.example IDENT=4Xyz12AB SOURCE=remote\r\n" TX,
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), "=250 2.0.0 Ok", TX_REPLY), .messages = 1,
	 .body = RECEIVED("up-helo.example (up.example [203.0.113.9])", "ESMTP", 1),
	 .check = check_xf_full},
	/* "can be used to transmit client or message attributes
	 * incrementally". */
	{.name = "xforward incremental", .setup = both_snap,
	 .in = HS_EHLO "XFORWARD NAME=a.example\r\nxforward addr=IPv6:2001:db8::9\r\n" TX,
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), "=250 2.0.0 Ok", "=250 2.0.0 Ok", TX_REPLY),
	 .messages = 1,
	 .body = RECEIVED("a.example (a.example [IPv6:2001:db8::9])", "ESMTP", 1)},
	{.name = "xforward addr only", .setup = both_snap,
	 .in = HS_EHLO "XFORWARD ADDR=203.0.113.9 IDENT=Q1\r\n" TX,
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), "=250 2.0.0 Ok", TX_REPLY), .messages = 1,
	 .body = RECEIVED("client.example ([203.0.113.9])", "ESMTP", 1)},
	/* Only IDENT: nothing to say about the client in Received:. */
	{.name = "xforward ident only", .setup = both_snap,
	 .in = HS_EHLO "XFORWARD IDENT=Q1 PROTO=SMTP\r\n" TX,
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), "=250 2.0.0 Ok", TX_REPLY), .messages = 1,
	 .body = RECEIVED("client.example ([192.0.2.1])", "ESMTP", 1)},
	{.name = "xforward unavailable", .setup = both_snap,
	 .in = HS_EHLO "XFORWARD NAME=a.example ADDR=10.0.0.1 PORT=25\r\n"
		       "XFORWARD NAME=[UNAVAILABLE] ADDR=[UNAVAILABLE] PORT=[UNAVAILABLE] "
		       "SOURCE=LOCAL\r\n" TX,
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), "=250 2.0.0 Ok", "=250 2.0.0 Ok", TX_REPLY),
	 .messages = 1, .body = RECEIVED("client.example ([192.0.2.1])", "ESMTP", 1),
	 .check = check_xf_unavailable},
	/* Before MAIL, not inside the transaction (503); RSET, EHLO and the
	 * end of a message forget the attributes. */
	{.name = "xforward reset by rset", .setup = both_snap,
	 .in = HS_EHLO "XFORWARD NAME=a.example\r\nRSET\r\n" TX,
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), "=250 2.0.0 Ok", "=250 2.0.0 OK", TX_REPLY),
	 .messages = 1, .body = RECEIVED("client.example ([192.0.2.1])", "ESMTP", 1),
	 .check = check_xf_none},
	{.name = "xforward reset by ehlo", .setup = both_snap,
	 .in = "XFORWARD NAME=a.example\r\n" HS_EHLO TX,
	 .expect = L("=250 2.0.0 Ok", EHLO_BOTH("[192.0.2.1]"), TX_REPLY), .messages = 1,
	 .check = check_xf_none},
	{.name = "xforward one transaction", .setup = both_snap,
	 .in = HS_EHLO "XFORWARD NAME=a.example ADDR=10.0.0.1\r\n" TX TX,
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), "=250 2.0.0 Ok", TX_REPLY, TX_REPLY),
	 .messages = 2, .body = RECEIVED("client.example ([192.0.2.1])", "ESMTP", 2),
	 .check = check_xf_none},
	{.name = "xforward inside a transaction", .setup = both_snap,
	 .in = HS_EHLO "XFORWARD SOURCE=LOCAL\r\nMAIL FROM:<a@b.example>\r\n"
		       "XFORWARD NAME=b.example\r\n",
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), "=250 2.0.0 Ok", "=250 2.1.0 Sender OK", R503)},
	{.name = "xforward untrusted", .setup = xclient_only,
	 .in = HS_EHLO "XFORWARD NAME=a.example\r\n",
	 .expect = L(EHLO_XCLIENT("[192.0.2.1]"), R550), .check = unchanged_no_xf},
	{.name = "xforward syntax and values", .setup = both,
	 .in = "XFORWARD\r\nXFORWARD NAME\r\nXFORWARD LOGIN=x\r\nXFORWARD DESTPORT=1\r\n"
	       "XFORWARD NAME=1.2.3.4\r\nXFORWARD ADDR=foo\r\nXFORWARD PORT=70000\r\n"
	       "XFORWARD SOURCE=ELSEWHERE\r\nXFORWARD IDENT=+01\r\nXFORWARD HELO=a+20b\r\n"
	       "XFORWARD PROTO=0123456789012345678901234567890123456789012345678901234567890123X\r\n"
	       "XFORWARD PROTO=a+20b\r\n",
	 .expect = L("=501 5.5.4 Syntax: XFORWARD attribute=value...",
		     "=501 5.5.4 Error: attribute=value expected",
		     "=501 5.5.4 Bad XFORWARD attribute name: LOGIN",
		     "=501 5.5.4 Bad XFORWARD attribute name: DESTPORT",
		     "=501 5.5.4 Bad NAME syntax", "=501 5.5.4 Bad ADDR syntax",
		     "=501 5.5.4 Bad PORT syntax", "=501 5.5.4 Bad SOURCE syntax",
		     "=501 5.5.4 Bad IDENT syntax", "=501 5.5.4 Bad HELO syntax",
		     "=501 5.5.4 Bad PROTO syntax", "=501 5.5.4 Bad PROTO syntax"),
	 .check = unchanged_no_xf},
	/* All or nothing, also across commands: the earlier ones stay. */
	{.name = "xforward all or nothing", .setup = both,
	 .in = "XFORWARD NAME=a.example SOURCE=LOCAL\r\n"
	       "XFORWARD NAME=b.example ADDR=10.0.0.1 PORT=x\r\n",
	 .expect = L("=250 2.0.0 Ok", "=501 5.5.4 Bad PORT syntax"), .check = check_xf_pending},
	{.name = "xforward pipelined with mail", .setup = both_snap,
	 .in = HS_EHLO "XFORWARD NAME=a.example\r\n" TX,
	 .expect = L(EHLO_BOTH("[192.0.2.1]"), "=250 2.0.0 Ok", TX_REPLY), .messages = 1,
	 .body = RECEIVED("a.example (a.example)", "ESMTP", 1), .check = check_xf_kept},
	/* XCLIENT forgets the XFORWARD attributes with the rest. */
	{.name = "xclient forgets xforward", .setup = both,
	 .in = "XFORWARD NAME=a.example\r\nXCLIENT ADDR=10.0.0.1\r\n",
	 .expect = L("=250 2.0.0 Ok", GREETING), .check = NULL},
};

/* ---- the parser alone --------------------------------------------------- */

static void parser_table(void **state)
{
	(void)state;
	struct tern__xattrs a;
	struct tern__xattr_bad bad;
	const char *in = "name=mail.example ADDR=IPV6:2001:DB8::1  port=0 PROTO=smtp";
	assert_int_equal(tern__xattr_parse(TERN__XATTR_XCLIENT, in, strlen(in), &a, &bad), 0);
	assert_string_equal(a.v[TERN__XATTR_NAME].text, "mail.example");
	assert_string_equal(a.v[TERN__XATTR_ADDR].text, "2001:DB8::1");
	assert_true(a.v[TERN__XATTR_ADDR].ipv6);
	assert_true(a.v[TERN__XATTR_PORT].set);
	assert_int_equal(a.v[TERN__XATTR_PORT].port, 0);
	assert_string_equal(a.v[TERN__XATTR_PROTO].text, "SMTP");
	assert_false(a.v[TERN__XATTR_HELO].set);
	in = "NAME=a.example FOO=x";
	assert_int_equal(tern__xattr_parse(TERN__XATTR_XCLIENT, in, strlen(in), &a, &bad),
			 TERN__XATTR_EUNKNOWN);
	assert_int_equal(bad.off, 15);
	assert_int_equal(bad.len, 3);
	in = "SOURCE=local IDENT=ABC";
	assert_int_equal(tern__xattr_parse(TERN__XATTR_XFORWARD, in, strlen(in), &a, NULL), 0);
	assert_string_equal(a.v[TERN__XATTR_SOURCE].text, "LOCAL");
	assert_int_equal(tern__xattr_parse(TERN__XATTR_XFORWARD, in, strlen(in), &a, NULL), 0);
	assert_int_equal(tern__xattr_parse(TERN__XATTR_XFORWARD, "   ", 3, &a, NULL),
			 TERN__XATTR_EEMPTY);
	/* An embedded NUL (+00) never reaches a value. */
	in = "LOGIN=a+00b";
	assert_int_equal(tern__xattr_parse(TERN__XATTR_XCLIENT, in, strlen(in), &a, &bad),
			 TERN__XATTR_EVALUE);
	assert_int_equal(bad.id, TERN__XATTR_LOGIN);
}

/* A bad network in the options is TERN_EINVAL at config time. */
static void config_bad_network(void **state)
{
	(void)state;
	static const char *const bad[] = {"192.0.2.0/33", NULL};
	tern_smtp_options o;
	tern_smtp_options_init(&o);
	o.xclient_from = bad;
	struct tern__smtp_config cfg;
	assert_int_equal(tern__smtp_config_init(&cfg, &o), TERN_EINVAL);
	o.xclient_from = here;
	o.xforward_from = bad;
	assert_int_equal(tern__smtp_config_init(&cfg, &o), TERN_EINVAL);
	o.xforward_from = elsewhere;
	assert_int_equal(tern__smtp_config_init(&cfg, &o), 0);
	assert_null(cfg.opts.xclient_from); /* the caller's list is not kept */
	assert_null(cfg.opts.xforward_from);
	assert_int_equal(cfg.xclient_from.n, 1);
	assert_int_equal(cfg.xforward_from.n, 2);
	tern__smtp_config_free(&cfg);
}

int main(void)
{
	int failed = hs_run_group("xclient/xforward transcripts", cases,
				  sizeof(cases) / sizeof(cases[0]));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parser_table),
		cmocka_unit_test(config_bad_network),
	};
	return failed + cmocka_run_group_tests_name("xclient parser and config", tests, NULL, NULL);
}
