/* Client STARTTLS (RFC 3207) and AUTH (RFC 4954): the policy choices,
 * plaintext dropped after the 220, capabilities forgotten after TLS, and
 * PLAIN, LOGIN and SCRAM-SHA-256 (RFC 7677 3's exchange) against scripted
 * challenges. */
#include "test_smtp_client.h"

#include "sasl/sasl.h"
#include "tern/sasl.h"
#include "util/base64.h"

/* ---- STARTTLS ---- */

static void test_starttls(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	t.o.tls = TERN_SMTP_CLIENT_TLS_REQUIRED;
	tc_hello(&t, "250-PIPELINING\r\n250-STARTTLS\r\n250-AUTH PLAIN\r\n");
	tc_out(&t, "STARTTLS\r\n");
	tc_no_ev(&t);
	/* The 220 and injected plaintext in one read (CVE-2011-0411 style):
	 * the injection never becomes a reply. */
	tc_feed(&t, "220 2.0.0 go ahead\r\n250-injected\r\n250 x\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_TLS);
	tc_no_ev(&t);
	tc_out(&t, "");
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 0);
	tc_feed(&t, "250 more injection\r\n");
	tc_no_ev(&t);
	assert_int_equal(tern_smtp_client_tls_started(t.c), 0);
	assert_int_equal(tern_smtp_client_tls_started(t.c), TERN_ESTATE);
	/* EHLO again; the old capabilities are gone. */
	assert_int_equal(tern_smtp_client_extensions(t.c), 0);
	tc_out(&t, EHLO_LINE);
	tc_feed(&t, "250-mx.example\r\n250 8BITMIME\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	assert_int_equal(tern_smtp_client_extensions(t.c), TERN_SMTP_EXT_8BITMIME);
	tc_out(&t, "");
	/* Now secure: REQUIRETLS is only missing the peer's extension. */
	tc_free(&t);
}

static void test_starttls_required_missing(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	t.o.tls = TERN_SMTP_CLIENT_TLS_REQUIRED;
	tc_hello(&t, "250-PIPELINING\r\n");
	tc_out(&t, "QUIT\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	const tern_smtp_client_result *f = tern_smtp_client_failure(t.c);
	assert_int_equal(f->reason, TERN_SMTP_CLIENT_R_TLS);
	assert_int_equal(f->cls, TERN_SMTP_CLIENT_TEMPFAIL);
	assert_string_equal(f->text, "TLS required but STARTTLS not offered");
	tc_free(&t);
	/* Offered but refused. */
	tc_opts(&t, state);
	t.o.tls = TERN_SMTP_CLIENT_TLS_REQUIRED;
	tc_hello(&t, "250-STARTTLS\r\n");
	tc_out(&t, "STARTTLS\r\n");
	tc_feed(&t, "454 4.7.0 TLS not available\r\n");
	tc_out(&t, "QUIT\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	f = tern_smtp_client_failure(t.c);
	assert_int_equal(f->reason, TERN_SMTP_CLIENT_R_TLS);
	assert_int_equal(f->code, 454);
	tc_free(&t);
	/* HELO fallback can never satisfy "required". */
	tc_opts(&t, state);
	t.o.tls = TERN_SMTP_CLIENT_TLS_REQUIRED;
	tc_start(&t);
	tc_feed(&t, "220 x\r\n502 no\r\n250 x\r\n");
	tc_out(&t, EHLO_LINE "HELO client.example\r\nQUIT\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	tc_free(&t);
}

static void test_starttls_opportunistic(void **state)
{
	struct tc t;
	/* Refused: go on in plaintext. */
	tc_opts(&t, state);
	t.o.tls = TERN_SMTP_CLIENT_TLS_OPPORTUNISTIC;
	tc_hello(&t, "250-STARTTLS\r\n");
	tc_out(&t, "STARTTLS\r\n");
	tc_feed(&t, "454 4.7.0 no\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_out(&t, "");
	tc_free(&t);
	/* Not offered: plaintext. */
	tc_opts(&t, state);
	t.o.tls = TERN_SMTP_CLIENT_TLS_OPPORTUNISTIC;
	tc_ready(&t, "");
	tc_free(&t);
	/* Policy none, or already TLS: no STARTTLS even when offered. */
	tc_opts(&t, state);
	tc_ready(&t, "250-STARTTLS\r\n");
	tc_free(&t);
	tc_opts(&t, state);
	t.o.tls = TERN_SMTP_CLIENT_TLS_REQUIRED;
	t.o.tls_active = true;
	tc_ready(&t, "250-STARTTLS\r\n");
	tc_free(&t);
}

/* ---- AUTH ---- */

static void auth_opts(struct tc *t, void **state, const char *const *mechs)
{
	tc_opts(t, state);
	t->o.auth_user = "user";
	t->o.auth_password = "pencil";
	t->o.auth_mechs = mechs;
	t->o.auth_insecure = true;
}

static void test_auth_plain(void **state)
{
	struct tc t;
	auth_opts(&t, state, NULL);
	tc_hello(&t, "250-AUTH LOGIN PLAIN\r\n");
	/* "\0user\0pencil" */
	tc_out(&t, "AUTH PLAIN AHVzZXIAcGVuY2ls\r\n");
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 5u * 60 * 1000);
	tc_no_ev(&t);
	tc_feed(&t, "235 2.7.0 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_free(&t);
}

static void test_auth_login(void **state)
{
	static const char *const mechs[] = { "LOGIN", "PLAIN", NULL };
	struct tc t;
	auth_opts(&t, state, mechs);
	tc_hello(&t, "250-AUTH=LOGIN\r\n250-AUTH PLAIN LOGIN\r\n");
	tc_out(&t, "AUTH LOGIN\r\n");
	tc_feed(&t, "334 VXNlcm5hbWU6\r\n");
	tc_out(&t, "dXNlcg==\r\n");
	tc_feed(&t, "334 UGFzc3dvcmQ6\r\n");
	tc_out(&t, "cGVuY2ls\r\n");
	tc_feed(&t, "235 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_free(&t);
}

static char *b64(const char *s)
{
	size_t n = TERN__BASE64_ENCODED_LEN(strlen(s)) + 1;
	char *o = malloc(n);
	assert_true(tern__base64_encode(s, strlen(s), o, n) >= 0);
	return o;
}

/* SCRAM against the server engine of src/sasl: the scripted server takes
 * the client's lines, hands them to a tern__sasl_server and answers with
 * what it says. */
static struct tern__sasl_server *scram_server(void)
{
	struct tern__sasl_server_params p = { .test_nonce = "srvnonce" };
	struct tern__sasl_server *srv = NULL;
	assert_int_equal(tern__sasl_server_new(&srv, TERN__SASL_SCRAM_SHA_256, &p), 0);
	return srv;
}

/* The client's pending line after prefix, base64-decoded, to the server. */
static int server_take(struct tc *t, struct tern__sasl_server *srv, const char *prefix,
		       const void **out, size_t *out_len)
{
	size_t olen, pl = strlen(prefix);
	const char *o = tern_smtp_client_output(t->c, &olen);
	assert_true(olen >= pl + 2 && memcmp(o, prefix, pl) == 0 && o[olen - 2] == '\r');
	unsigned char dec[1024];
	ssize_t n = tern__base64_decode(o + pl, olen - pl - 2, dec, sizeof(dec));
	assert_true(n >= 0);
	tern_smtp_client_output_consumed(t->c, olen);
	return tern__sasl_server_step(srv, dec, (size_t)n, true, out, out_len);
}

/* "334 " and the base64 of p[0..len) fed to the client. */
static void server_challenge(struct tc *t, const void *p, size_t len)
{
	char line[1024] = "334 ";
	assert_true(tern__base64_encode(p, len, line + 4, sizeof(line) - 6) >= 0);
	strcat(line, "\r\n");
	tc_feed(t, line);
}

/* Up to the client's final message, which the server has verified; its
 * "v=" final message is copied to v (len in *v_len). */
static void scram_to_final(struct tc *t, void **state, char *v, size_t *v_len)
{
	auth_opts(t, state, NULL);
	tc_start(t);
	assert_int_equal(tern__smtpc_set_test_nonce(t->c, "clinonce"), 0);
	tc_feed(t, "220 mx\r\n");
	tc_out(t, EHLO_LINE);
	tc_feed(t, "250-mx\r\n250 AUTH PLAIN SCRAM-SHA-256\r\n");
	struct tern__sasl_server *srv = scram_server();
	const void *out;
	size_t out_len;
	assert_int_equal(server_take(t, srv, "AUTH SCRAM-SHA-256 ", &out, &out_len),
			 TERN__SASL_CHECK);
	static const unsigned char salt[] = "NaCl-salt-16oct";
	struct tern__sasl_scram_keys k = { salt, sizeof(salt) - 1, 4096, { 0 }, { 0 } };
	assert_int_equal(tern_scram_sha256_keys("pencil", 6, salt, sizeof(salt) - 1, 4096,
						k.stored_key, k.server_key),
			 0);
	assert_int_equal(tern__sasl_server_set_scram_keys(srv, &k, &out, &out_len),
			 TERN__SASL_CHALLENGE);
	server_challenge(t, out, out_len);
	/* The server engine checks the client's proof. */
	assert_int_equal(server_take(t, srv, "", &out, &out_len), TERN__SASL_SUCCESS);
	assert_true(out_len > 2 && out_len < 128 && memcmp(out, "v=", 2) == 0);
	memcpy(v, out, out_len);
	*v_len = out_len;
	tern__sasl_server_free(&srv);
}

static void test_auth_scram(void **state)
{
	struct tc t;
	char v[128];
	size_t v_len;
	scram_to_final(&t, state, v, &v_len);
	server_challenge(&t, v, v_len);
	tc_out(&t, "\r\n");
	tc_feed(&t, "235 2.7.0 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_free(&t);
}

/* A wrong server signature: "*", and the session fails. */
static void test_auth_scram_bad_server(void **state)
{
	struct tc t;
	char v[128];
	size_t v_len;
	scram_to_final(&t, state, v, &v_len);
	v[3] = v[3] == 'A' ? 'B' : 'A';
	server_challenge(&t, v, v_len);
	tc_out(&t, "*\r\n");
	tc_feed(&t, "501 5.0.0 cancelled\r\n");
	tc_out(&t, "QUIT\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	assert_int_equal(tern_smtp_client_failure(t.c)->reason, TERN_SMTP_CLIENT_R_AUTH);
	tc_free(&t);
	/* 235 without the server's proof. */
	scram_to_final(&t, state, v, &v_len);
	tc_feed(&t, "235 2.7.0 trust me\r\n");
	tc_out(&t, "QUIT\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	const tern_smtp_client_result *f = tern_smtp_client_failure(t.c);
	assert_int_equal(f->reason, TERN_SMTP_CLIENT_R_AUTH);
	assert_string_equal(f->text, "server claimed AUTH success without proving it");
	tc_free(&t);
	/* A challenge that is not base64. */
	scram_to_final(&t, state, v, &v_len);
	tc_feed(&t, "334 !!!\r\n");
	tc_out(&t, "*\r\n");
	tc_feed(&t, "501 cancelled\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	tc_free(&t);
}

static void test_auth_refused(void **state)
{
	static const struct {
		int code;
		enum tern_smtp_client_class cls;
	} cases[] = { { 535, TERN_SMTP_CLIENT_TEMPFAIL },
		      { 534, TERN_SMTP_CLIENT_TEMPFAIL },
		      { 454, TERN_SMTP_CLIENT_TEMPFAIL } };
	for (size_t i = 0; i < 3; i++) {
		struct tc t;
		auth_opts(&t, state, NULL);
		tc_hello(&t, "250-AUTH PLAIN\r\n");
		tc_out(&t, "AUTH PLAIN AHVzZXIAcGVuY2ls\r\n");
		char line[64];
		snprintf(line, sizeof(line), "%d no\r\n", cases[i].code);
		tc_feed(&t, line);
		tc_out(&t, "QUIT\r\n");
		tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
		const tern_smtp_client_result *f = tern_smtp_client_failure(t.c);
		assert_int_equal(f->code, cases[i].code);
		assert_int_equal(f->cls, cases[i].cls);
		assert_int_equal(f->reason, TERN_SMTP_CLIENT_R_AUTH);
		tc_free(&t);
	}
}

static void test_auth_no_common(void **state)
{
	static const char *const mechs[] = { "SCRAM-SHA-256", NULL };
	struct tc t;
	auth_opts(&t, state, mechs);
	tc_ready(&t, "250-AUTH PLAIN LOGIN\r\n");
	tc_free(&t);
	auth_opts(&t, state, mechs);
	t.o.auth_required = true;
	tc_hello(&t, "250-AUTH PLAIN LOGIN\r\n");
	tc_out(&t, "QUIT\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	assert_int_equal(tern_smtp_client_failure(t.c)->code, 530);
	tc_free(&t);
	/* No AUTH at all. */
	auth_opts(&t, state, mechs);
	t.o.auth_required = true;
	tc_hello(&t, "");
	tc_out(&t, "QUIT\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	tc_free(&t);
}

/* CRAM-MD5 (server first, RFC 2195 2's example) and EXTERNAL with an
 * empty initial response ("=", RFC 4954 4). */
static void test_auth_cram_external(void **state)
{
	static const char *const cram[] = { "CRAM-MD5", NULL };
	struct tc t;
	auth_opts(&t, state, cram);
	t.o.auth_user = "tim";
	t.o.auth_password = "tanstaaftanstaaf";
	tc_hello(&t, "250-AUTH CRAM-MD5\r\n");
	tc_out(&t, "AUTH CRAM-MD5\r\n");
	char line[256], *e = b64("<1896.697170952@postoffice.reston.mci.net>");
	snprintf(line, sizeof(line), "334 %s\r\n", e);
	free(e);
	tc_feed(&t, line);
	e = b64("tim b913a602c7eda7a495b4e6e7334d3890");
	snprintf(line, sizeof(line), "%s\r\n", e);
	free(e);
	tc_out(&t, line);
	tc_feed(&t, "235 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_free(&t);

	static const char *const ext[] = { "EXTERNAL", NULL };
	auth_opts(&t, state, ext);
	tc_hello(&t, "250-AUTH EXTERNAL\r\n");
	tc_out(&t, "AUTH EXTERNAL =\r\n");
	tc_feed(&t, "235 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_free(&t);
}

/* Without TLS, PLAIN and LOGIN are not used unless allowed. */
static void test_auth_plaintext_refused(void **state)
{
	struct tc t;
	auth_opts(&t, state, NULL);
	t.o.auth_insecure = false;
	tc_ready(&t, "250-AUTH PLAIN LOGIN\r\n");
	tc_free(&t);
	auth_opts(&t, state, NULL);
	t.o.auth_insecure = false;
	t.o.auth_required = true;
	tc_hello(&t, "250-AUTH PLAIN LOGIN\r\n");
	tc_out(&t, "QUIT\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_CLOSED);
	assert_int_equal(tern_smtp_client_failure(t.c)->cls, TERN_SMTP_CLIENT_TEMPFAIL);
	tc_free(&t);
	/* Implicit TLS: allowed. */
	auth_opts(&t, state, NULL);
	t.o.auth_insecure = false;
	t.o.tls_active = true;
	tc_hello(&t, "250-AUTH PLAIN LOGIN\r\n");
	tc_out(&t, "AUTH PLAIN AHVzZXIAcGVuY2ls\r\n");
	tc_free(&t);
}

/* An initial response that does not fit the 512-octet line waits for the
 * empty 334 (RFC 4954 4). */
static void test_auth_long_ir(void **state)
{
	char pw[600];
	memset(pw, 'p', sizeof(pw) - 1);
	pw[sizeof(pw) - 1] = '\0';
	struct tc t;
	auth_opts(&t, state, NULL);
	t.o.auth_password = pw;
	tc_hello(&t, "250-AUTH PLAIN\r\n");
	tc_out(&t, "AUTH PLAIN\r\n");
	tc_feed(&t, "334 \r\n");
	char raw[700];
	raw[0] = '\0';
	memcpy(raw + 1, "user", 4);
	raw[5] = '\0';
	memcpy(raw + 6, pw, strlen(pw));
	size_t rl = 6 + strlen(pw);
	char enc[1024];
	assert_true(tern__base64_encode(raw, rl, enc, sizeof(enc)) > 0);
	strcat(enc, "\r\n");
	tc_out(&t, enc);
	tc_feed(&t, "235 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_free(&t);
}

/* STARTTLS then AUTH: AUTH uses the capabilities of the EHLO after TLS. */
static void test_starttls_then_auth(void **state)
{
	struct tc t;
	auth_opts(&t, state, NULL);
	t.o.auth_insecure = false;
	t.o.tls = TERN_SMTP_CLIENT_TLS_REQUIRED;
	tc_hello(&t, "250-STARTTLS\r\n250-AUTH LOGIN\r\n");
	tc_out(&t, "STARTTLS\r\n");
	tc_feed(&t, "220 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_TLS);
	assert_int_equal(tern_smtp_client_tls_started(t.c), 0);
	tc_out(&t, EHLO_LINE);
	tc_feed(&t, "250-mx\r\n250 AUTH PLAIN\r\n");
	tc_out(&t, "AUTH PLAIN AHVzZXIAcGVuY2ls\r\n");
	tc_feed(&t, "235 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tern_smtp_client_rcpt r = { "x@y.example", 0, NULL, NULL };
	tern_smtp_client_message m;
	tc_msg1(&m, &r, 1);
	m.requiretls = true;
	assert_int_equal(tern_smtp_client_send(t.c, &m), 0);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	assert_string_equal(tern_smtp_client_message_result(t.c)->text,
			    "REQUIRETLS not supported by the server");
	tc_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TC2(test_starttls),
		TC2(test_starttls_required_missing),
		TC2(test_starttls_opportunistic),
		TC2(test_auth_plain),
		TC2(test_auth_login),
		TC2(test_auth_scram),
		TC2(test_auth_scram_bad_server),
		TC2(test_auth_refused),
		TC2(test_auth_no_common),
		TC2(test_auth_cram_external),
		TC2(test_auth_plaintext_refused),
		TC2(test_auth_long_ir),
		TC2(test_starttls_then_auth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
