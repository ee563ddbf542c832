/* Engine transcripts: STARTTLS (RFC 3207) and implicit TLS (RFC 8314).
 *
 * The engine never runs a handshake: it answers 220, stops taking octets
 * (want_tls), and the net layer (here the test) hands in what TLS
 * established with tern__smtp_session_tls_started(). Every case runs three
 * times, each client write fed whole, one octet at a time and in 3-octet
 * slices (pending decisions resumed eagerly in the last mode), and checks
 * the exact reply lines and exactly how much input was consumed. */
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

#define EHLO_HEAD                                                                          \
	"=250-mx.test Hello [192.0.2.1]", "=250-PIPELINING", "=250-SIZE 26214400",          \
		"=250-8BITMIME", "=250-SMTPUTF8", "=250-ENHANCEDSTATUSCODES", "=250-DSN",   \
		"=250-CHUNKING"
/* Before TLS, with STARTTLS offered. */
#define EHLO_STARTTLS EHLO_HEAD, "=250-BINARYMIME", "=250 STARTTLS"
/* Without STARTTLS and without TLS. */
#define EHLO_PLAIN EHLO_HEAD, "=250 BINARYMIME"
/* Under TLS. */
#define EHLO_TLS EHLO_HEAD, "=250-BINARYMIME", "=250 REQUIRETLS"

#define R220 "=220 2.0.0 Ready to start TLS"
#define R530 "=530 5.7.0 Must issue a STARTTLS command first"
#define R421_SECURE "=421 4.7.0 mx.test TLS session not accepted, closing"
#define R503_HELO "=503 5.5.1 Bad sequence of commands: send EHLO/HELO first"
#define GREETING "=220 mx.test ESMTP Tern"

enum secure_mode { SEC_ACCEPT, SEC_REJECT, SEC_REJECT_CUSTOM, SEC_PENDING };

struct st {
	struct hs h; /* first: the harness's callbacks get &h as user_data */
	const char *mode_name;
	size_t step;
	bool eager;
	struct tern__smtp_listener listener;
	enum secure_mode secure_mode;
	unsigned secure_calls;
	char seen_version[32], seen_cn[64];
	bool seen_helo_null; /* on_secure saw no HELO name: the reset came first */
	char *log;
	size_t log_len;
};

static int st_on_secure(tern_smtp_session *s, const tern_tls_info *info, tern_smtp_reply *reply_r,
			void *ud)
{
	struct st *t = ud;
	t->secure_calls++;
	snprintf(t->seen_version, sizeof(t->seen_version), "%s", info->version);
	snprintf(t->seen_cn, sizeof(t->seen_cn), "%s", info->client_cn);
	t->seen_helo_null = tern_smtp_session_helo_name(s) == NULL;
	assert_true(tern_smtp_session_secure(s));
	assert_ptr_equal(tern_smtp_session_tls_info(s), info);
	switch (t->secure_mode) {
	case SEC_ACCEPT:
		return TERN_SMTP_ACCEPT;
	case SEC_REJECT:
		return TERN_SMTP_REJECT;
	case SEC_REJECT_CUSTOM:
		*reply_r = (tern_smtp_reply){554, "5.7.0", "Client certificate required"};
		return TERN_SMTP_REJECT;
	case SEC_PENDING:
		return TERN_SMTP_PENDING;
	}
	return TERN_SMTP_ACCEPT;
}

static void st_on_log(tern_smtp_session *s, enum tern_smtp_log_level level, const char *msg,
		      void *ud)
{
	struct st *t = ud;
	(void)s;
	(void)level;
	size_t n = strlen(msg);
	char *p = realloc(t->log, t->log_len + n + 2);
	assert_non_null(p);
	t->log = p;
	memcpy(t->log + t->log_len, msg, n);
	t->log_len += n;
	t->log[t->log_len++] = '\n';
	t->log[t->log_len] = '\0';
}

static void st_init(struct st *t, size_t mode)
{
	static const struct {
		const char *name;
		size_t step;
		bool eager;
	} modes[] = {{"whole", 0, false}, {"bytewise", 1, false}, {"slices3-eager", 3, true}};
	memset(t, 0, sizeof(*t));
	hs_init(&t->h);
	t->mode_name = modes[mode].name;
	t->step = modes[mode].step;
	t->eager = modes[mode].eager;
	t->h.tls_available = true;
	t->h.opts.disable_received_header = true;
	t->h.opts.callbacks.on_secure = st_on_secure;
	t->h.opts.callbacks.on_log = st_on_log;
	t->h.opts.log_level = TERN_LOG_DEBUG;
}

static struct tern__smtp_tls_facts facts(void)
{
	struct tern__smtp_tls_facts f = {
		.info = {.version = "TLSv1.3",
			 .cipher = "TLS_AES_128_GCM_SHA256",
			 .cipher_bits = 128,
			 .sni = "mx.test",
			 .client_cert = true,
			 .client_cert_verified = true,
			 .client_subject = "CN=client.example",
			 .client_cn = "client.example",
			 .client_fingerprint = "00"},
		.has_exporter = true,
	};
	return f;
}

/* The handshake finished. */
static void st_tls(struct st *t)
{
	struct tern__smtp_tls_facts f = facts();
	tern__smtp_session_tls_started(t->h.session, &f);
	hs_collect(&t->h);
}

/* Feeds one client write in the mode's slices, resuming pending decisions
 * when the engine stops; stops at the 220 (the engine takes nothing more)
 * and when the session closes. Returns the octets consumed. */
static size_t st_write(struct st *t, const char *in, size_t len)
{
	size_t off = 0;
	unsigned stuck = 0;
	while (off < len) {
		size_t n = t->step && t->step < len - off ? t->step : len - off;
		ssize_t r = tern__smtp_session_feed(t->h.session, in + off, n);
		hs_collect(&t->h);
		/* A client that waits for DATA's 354 (RFC 2920 3.1). */
		if (tern__smtp_session_want_barrier(t->h.session))
			tern__smtp_session_barrier(t->h.session, false);
		if (r == TERN_ECLOSED) {
			t->h.closed_by_feed = true;
			break;
		}
		if (r < 0 || (size_t)r > n)
			fail_msg("[%s] feed returned %zd for %zu octets", t->mode_name, r, n);
		off += (size_t)r;
		if ((size_t)r < n) {
			if (tern__smtp_session_want_tls(t->h.session))
				break;
			if (t->h.pending) {
				hs_resume_all(&t->h);
				stuck = 0;
				continue;
			}
			stuck = r > 0 ? 0 : stuck + 1;
			if (stuck > 4) {
				hs_dump(&t->h, "stuck");
				fail_msg("[%s] engine takes no input and waits for nothing",
					 t->mode_name);
			}
			continue;
		}
		if (t->eager)
			hs_resume_all(&t->h);
	}
	if (!tern__smtp_session_want_tls(t->h.session))
		hs_resume_all(&t->h);
	return off;
}

static size_t st_send(struct st *t, const char *in)
{
	return st_write(t, in, strlen(in));
}

static void expect(struct st *t, const char *const *lines)
{
	hs_expect(&t->h, lines, false, t->mode_name);
}

/* Asserts the state right after the 220: nothing more is read. */
static void after_220(struct st *t)
{
	tern_smtp_session *s = t->h.session;
	assert_true(tern__smtp_session_want_tls(s));
	assert_false(tern__smtp_session_want_input(s));
	assert_false(tern__smtp_session_want_close(s));
	assert_int_equal(tern__smtp_session_feed(s, "NOOP\r\n", 6), 0);
	assert_false(tern_smtp_session_secure(s));
}

struct st_case {
	const char *name;
	void (*setup)(struct st *t);
	void (*run)(struct st *t);
	bool no_start; /* implicit TLS: the case starts the session itself */
	const char *bug;
};

static void run_case(void **state)
{
	const struct st_case *c = *state;
	if (c->bug) {
		fprintf(stderr, "BUG (skipped) %s: %s\n", c->name, c->bug);
		skip();
	}
	for (size_t m = 0; m < 3; m++) {
		struct st *t = calloc(1, sizeof(*t));
		assert_non_null(t);
		st_init(t, m);
		if (c->setup)
			c->setup(t);
		hs_open(&t->h);
		if (!c->no_start)
			hs_start(&t->h);
		c->run(t);
		hs_free(&t->h);
		free(t->log);
		free(t);
	}
}

/* ---- the 220 and what follows it ---------------------------------------- */

/* RFC 3207 4 / CVE-2011-0411: the engine consumes exactly up to the end
 * of the STARTTLS line; the MAIL behind it in the same write is never
 * read, whatever the slicing. */
static void run_basic(struct st *t)
{
	const char in[] = "EHLO client.example\r\nSTARTTLS\r\n" MAIL_OK RCPT_OK;
	size_t used = st_write(t, in, sizeof(in) - 1);
	assert_int_equal(used, strlen("EHLO client.example\r\nSTARTTLS\r\n"));
	after_220(t);
	assert_int_equal(t->h.calls[HS_MAIL], 0);
	assert_int_equal(t->secure_calls, 0);
	st_tls(t);
	assert_true(tern_smtp_session_secure(t->h.session));
	assert_false(tern__smtp_session_want_tls(t->h.session));
	assert_true(tern__smtp_session_want_input(t->h.session));
	assert_int_equal(t->secure_calls, 1);
	assert_string_equal(t->seen_version, "TLSv1.3");
	assert_true(t->seen_helo_null);
	/* The client starts over: MAIL without EHLO is out of sequence. */
	st_send(t, MAIL_OK HS_EHLO MAIL_OK);
	expect(t, L(GREETING, EHLO_STARTTLS, R220, R503_HELO, EHLO_TLS, "=250 2.1.0 Sender OK"));
	assert_int_equal(t->h.calls[HS_MAIL], 1);
}

/* Lower case, and STARTTLS before any EHLO (RFC 3207 does not ask for one). */
static void run_lower_case_no_ehlo(struct st *t)
{
	size_t used = st_send(t, "starttls\r\nEHLO x\r\n");
	assert_int_equal(used, 10);
	after_220(t);
	st_tls(t);
	st_send(t, "NOOP\r\n");
	expect(t, L(GREETING, R220, "=250 2.0.0 OK"));
}

/* STARTTLS queued behind a pending MAIL ends the pipelined group: the
 * engine reads up to its line and no further, answers MAIL, then 220. */
static void mail_pending(struct st *t) { hs_push_pending(&t->h, HS_MAIL); }

static void run_behind_pending(struct st *t)
{
	const char in[] = HS_EHLO MAIL_OK "STARTTLS\r\n" RCPT_OK;
	size_t used = st_write(t, in, sizeof(in) - 1);
	assert_int_equal(used, strlen(HS_EHLO MAIL_OK "STARTTLS\r\n"));
	after_220(t);
	assert_int_equal(t->h.calls[HS_RCPT], 0);
	expect(t, L(GREETING, EHLO_STARTTLS, "=250 2.1.0 Sender OK", R220));
	/* The transaction MAIL opened is gone with the handshake. */
	assert_non_null(tern_smtp_session_mail_from(t->h.session));
	st_tls(t);
	assert_null(tern_smtp_session_mail_from(t->h.session));
	assert_int_equal(t->h.resets, 1);
}

/* ---- refusals ----------------------------------------------------------- */

static void run_argument(struct st *t)
{
	st_send(t, HS_EHLO "STARTTLS now\r\nSTARTTLS  \r\nNOOP\r\n");
	expect(t, L(GREETING, EHLO_STARTTLS, "=501 5.5.4 Syntax: STARTTLS (no parameters allowed)",
		    "=501 5.5.4 Syntax: STARTTLS (no parameters allowed)", "=250 2.0.0 OK"));
	assert_false(tern__smtp_session_want_tls(t->h.session));
}

static void no_tls(struct st *t) { t->h.tls_available = false; }

static void run_no_tls(struct st *t)
{
	st_send(t, HS_EHLO "STARTTLS\r\nNOOP\r\n");
	expect(t, L(GREETING, EHLO_PLAIN, "=502 5.5.1 Command not implemented", "=250 2.0.0 OK"));
	assert_false(tern__smtp_session_want_tls(t->h.session));
}

/* RFC 3207 4: not twice. */
static void run_twice(struct st *t)
{
	st_send(t, HS_EHLO "STARTTLS\r\n");
	after_220(t);
	st_tls(t);
	st_send(t, HS_EHLO "STARTTLS\r\nNOOP\r\n");
	expect(t, L(GREETING, EHLO_STARTTLS, R220, EHLO_TLS,
		    "=503 5.5.1 Bad sequence of commands: TLS already active", "=250 2.0.0 OK"));
}

/* Implicit TLS: secure from the start, no STARTTLS. */
static void implicit(struct st *t) { t->h.secure = true; }

static void run_implicit_accept(struct st *t)
{
	assert_true(tern_smtp_session_secure(t->h.session));
	assert_null(tern_smtp_session_tls_info(t->h.session));
	st_tls(t);
	assert_int_equal(t->secure_calls, 1);
	assert_string_equal(t->seen_cn, "client.example");
	assert_int_equal(t->h.out.len, 0); /* the greeting comes with start() */
	hs_start(&t->h);
	st_send(t, HS_EHLO "STARTTLS\r\n" MAIL_OK);
	expect(t, L(GREETING, EHLO_TLS, "=503 5.5.1 Bad sequence of commands: TLS already active",
		    "=250 2.1.0 Sender OK"));
	const tern_tls_info *i = tern_smtp_session_tls_info(t->h.session);
	assert_non_null(i);
	assert_string_equal(i->version, "TLSv1.3");
	assert_string_equal(i->cipher, "TLS_AES_128_GCM_SHA256");
	assert_string_equal(i->sni, "mx.test");
	assert_true(i->client_cert_verified);
	assert_string_equal(tern_smtp_session_transmission_type(t->h.session), "ESMTPS");
}

/* On an implicit-TLS session on_secure's refusal comes instead of the
 * greeting: the 421 is all that is ever said. */
static void implicit_refused(struct st *t)
{
	implicit(t);
	t->secure_mode = SEC_REJECT;
}

static void run_implicit_refused(struct st *t)
{
	st_tls(t);
	hs_start(&t->h);
	assert_int_equal(t->h.calls[HS_CONNECT], 0);
	expect(t, L(R421_SECURE));
	assert_true(tern__smtp_session_want_close(t->h.session));
	assert_int_equal(tern__smtp_session_feed(t->h.session, "EHLO x\r\n", 8), TERN_ECLOSED);
	assert_non_null(strstr(t->log, "on_secure refused"));
}

/* ---- after the handshake (RFC 3207 4.2) --------------------------------- */

static void run_reset(struct st *t)
{
	st_send(t, HS_EHLO MAIL_OK RCPT_OK "STARTTLS\r\n");
	after_220(t);
	assert_string_equal(tern_smtp_session_helo_name(t->h.session), "client.example");
	assert_int_equal(tern_smtp_session_rcpt_count(t->h.session), 1);
	st_tls(t);
	assert_null(tern_smtp_session_helo_name(t->h.session));
	assert_null(tern_smtp_session_opening_command(t->h.session));
	assert_null(tern_smtp_session_mail_from(t->h.session));
	assert_int_equal(tern_smtp_session_rcpt_count(t->h.session), 0);
	assert_int_equal(t->h.resets, 1);
	/* RCPT and DATA without the transaction; then the client starts over
	 * and can use REQUIRETLS. */
	st_send(t, RCPT_OK "EHLO again.example\r\n" RCPT_OK
		   "MAIL FROM:<a@b.example> REQUIRETLS\r\n" RCPT_OK "DATA\r\nx\r\n.\r\n");
	expect(t, L(GREETING, EHLO_STARTTLS, "=250 2.1.0 Sender OK", "250 2.1.5", R220, R503_HELO,
		    EHLO_TLS, "503 5.5.1",
		    "=250 2.1.0 Sender OK", "250 2.1.5", "354 ", "250 2.6.0"));
	assert_true(t->h.last_mail.requiretls);
	assert_string_equal(tern_smtp_session_helo_name(t->h.session), "again.example");
	assert_string_equal(tern_smtp_session_transmission_type(t->h.session), "ESMTPS");
}

/* REQUIRETLS is offered only under TLS, and hide_requiretls hides it
 * there too (and refuses the parameter). */
static void hide_requiretls(struct st *t) { t->h.opts.hide_requiretls = true; }

static void run_hide_requiretls(struct st *t)
{
	st_send(t, HS_EHLO "MAIL FROM:<a@b.example> REQUIRETLS\r\nSTARTTLS\r\n");
	st_tls(t);
	st_send(t, HS_EHLO "MAIL FROM:<a@b.example> REQUIRETLS\r\n");
	expect(t, L(GREETING, EHLO_STARTTLS,
		    "=530 5.7.10 REQUIRETLS needs a TLS-protected session", R220, EHLO_PLAIN,
		    "=555 5.5.4 MAIL parameter not supported in this session"));
}

/* ---- require_tls listener (RFC 3207 4) ---------------------------------- */

static int plain_auth(tern_smtp_session *s, const struct tern_smtp_auth *a,
		      tern_smtp_reply *reply_r, void *ud)
{
	(void)s, (void)a, (void)reply_r, (void)ud;
	return TERN_SMTP_ACCEPT;
}

static void require_tls(struct st *t)
{
	t->h.opts.callbacks.on_auth = plain_auth;
	t->h.opts.auth_optional = true;
	t->listener = (struct tern__smtp_listener){.require_tls = true};
	tern__smtp_listener_auth(&t->listener, &t->h.opts, TERN_SMTP_AUTH_DEFAULT, false);
	t->h.listener = &t->listener;
}

static void run_require_tls(struct st *t)
{
	st_send(t, MAIL_OK HS_EHLO MAIL_OK RCPT_OK "DATA\r\nBDAT 1 LAST\r\n"
		   "AUTH PLAIN AGFsaWNlAHg=\r\nVRFY c\r\nNOOP\r\nRSET\r\nHELP\r\n"
		   "HELO client.example\r\nEHLO client.example\r\nSTARTTLS\r\n");
	after_220(t);
	assert_int_equal(t->h.calls[HS_MAIL], 0);
	st_tls(t);
	st_send(t, HS_EHLO MAIL_OK RCPT_OK "DATA\r\nhi\r\n.\r\nQUIT\r\n");
	expect(t, L(GREETING, R530, EHLO_STARTTLS, R530, R530, R530, R530, R530, R530,
		    "=250 2.0.0 OK", "=250 2.0.0 OK",
		    "=214-2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT",
		    "=214 2.0.0 See RFC 5321 for details", "=250 mx.test Hello [192.0.2.1]",
		    EHLO_STARTTLS, R220, EHLO_HEAD, "=250-BINARYMIME", "=250-AUTH PLAIN LOGIN",
		    "=250 REQUIRETLS", "=250 2.1.0 Sender OK", "250 2.1.5", "354 ", "250 2.6.0",
		    "221 2.0.0"));
	assert_int_equal(t->h.messages, 1);
	assert_true(tern__smtp_session_want_close(t->h.session));
}

/* QUIT works before TLS too. */
static void run_require_tls_quit(struct st *t)
{
	st_send(t, HS_EHLO MAIL_OK "QUIT\r\n");
	expect(t, L(GREETING, EHLO_STARTTLS, R530, "221 2.0.0"));
	assert_true(tern__smtp_session_want_close(t->h.session));
}

/* ---- hide_starttls ------------------------------------------------------ */

static void hide_listener(struct st *t)
{
	t->listener = (struct tern__smtp_listener){.hide_starttls = true};
	t->h.listener = &t->listener;
}

static void hide_server(struct st *t) { t->h.opts.hide_starttls = true; }

static void run_hidden(struct st *t)
{
	size_t used = st_send(t, HS_EHLO "STARTTLS\r\nNOOP\r\n");
	assert_int_equal(used, strlen(HS_EHLO "STARTTLS\r\n"));
	after_220(t);
	st_tls(t);
	st_send(t, HS_EHLO);
	expect(t, L(GREETING, EHLO_PLAIN, R220, EHLO_TLS));
}

/* ---- on_secure ---------------------------------------------------------- */

static void refuse(struct st *t) { t->secure_mode = SEC_REJECT; }
static void refuse_custom(struct st *t) { t->secure_mode = SEC_REJECT_CUSTOM; }
static void secure_pending(struct st *t) { t->secure_mode = SEC_PENDING; }

static void run_refused(struct st *t, const char *want)
{
	st_send(t, HS_EHLO "STARTTLS\r\n");
	after_220(t);
	st_tls(t);
	assert_true(tern__smtp_session_want_close(t->h.session));
	assert_false(tern__smtp_session_want_input(t->h.session));
	assert_false(tern__smtp_session_want_tls(t->h.session));
	assert_int_equal(tern__smtp_session_feed(t->h.session, HS_EHLO, strlen(HS_EHLO)),
			 TERN_ECLOSED);
	expect(t, L(GREETING, EHLO_STARTTLS, R220, want));
}

static void run_refused_default(struct st *t) { run_refused(t, R421_SECURE); }

static void run_refused_custom(struct st *t)
{
	run_refused(t, "=554 5.7.0 mx.test Client certificate required");
}

/* smtp.h: PENDING is not allowed from on_secure and fails closed. */
static void run_secure_pending(struct st *t)
{
	run_refused(t, R421_SECURE);
	assert_non_null(strstr(t->log, "on_secure returned 2"));
}

static const struct st_case cases[] = {
	{"220 stops reading", NULL, run_basic, false, NULL},
	{"lower case before ehlo", NULL, run_lower_case_no_ehlo, false, NULL},
	{"behind a pending mail", mail_pending, run_behind_pending, false, NULL},
	{"argument 501", NULL, run_argument, false, NULL},
	{"no tls 502", no_tls, run_no_tls, false, NULL},
	{"twice 503", NULL, run_twice, false, NULL},
	{"implicit tls", implicit, run_implicit_accept, true, NULL},
	{"implicit tls refused", implicit_refused, run_implicit_refused, true, NULL},
	{"state reset", NULL, run_reset, false, NULL},
	{"hide_requiretls", hide_requiretls, run_hide_requiretls, false, NULL},
	{"require_tls", require_tls, run_require_tls, false, NULL},
	{"require_tls quit", require_tls, run_require_tls_quit, false, NULL},
	{"hide_starttls listener", hide_listener, run_hidden, false, NULL},
	{"hide_starttls server", hide_server, run_hidden, false, NULL},
	{"on_secure refuses", refuse, run_refused_default, false, NULL},
	{"on_secure refuses with a reply", refuse_custom, run_refused_custom, false, NULL},
	{"on_secure pending fails closed", secure_pending, run_secure_pending, false, NULL},
};

int main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	assert_non_null(tests);
	for (size_t i = 0; i < n; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = (void *)&cases[i];
	}
	int failed = _cmocka_run_group_tests("smtp starttls", tests, n, NULL, NULL);
	free(tests);
	return failed;
}
