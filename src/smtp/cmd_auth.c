/* AUTH (RFC 4954 4):
 *   auth-command     = "AUTH" SP sasl-mech [SP initial-response]
 *                      *(CRLF [base64]) [CRLF cancel-response] CRLF
 *   initial-response = base64 / "="
 *   cancel-response  = "*"
 *
 * The mechanisms are src/sasl's engines; this file is the SMTP framing
 * around them: which mechanisms are offered where, the 334 challenges, the
 * embedder's decision (on_auth, possibly PENDING), the failure delay and
 * limit, and the result on the session. Nothing of what the client sends
 * in an exchange is ever logged: it is a credential or a proof of one. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sasl/sasl.h"
#include "smtp/command.h"
#include "smtp/kept_reply.h"
#include "util/address.h"
#include "util/base64.h"

/* RFC 4954 4: a server must accept a line of at least 12288 octets in an
 * exchange (and as the AUTH command line); longer ones get 500 5.5.6. */
#define AUTH_LINE_MAX 12288
#define DEFAULT_MAX_FAILURES 3
#define DEFAULT_FAILURE_DELAY 1000
#define MAX_FAILURE_DELAY 60000

struct tern__smtp_auth {
	struct tern__sasl_server *sasl; /* the exchange in progress, or NULL */
	int mech;
	bool reading;    /* a 334 is out: the next line is the client's answer */
	bool final_sent; /* success data went out as 334: an empty line ends it */
	unsigned failures;
	/* The embedder's decision in progress. */
	unsigned char *scram_salt;
	struct tern__sasl_scram_keys scram;
	bool scram_set;
	char *set_user;
	/* A failure waiting out its delay, and its reply. */
	unsigned delay_ms;
	struct tern__kept_reply failure;
	/* The result. */
	char *user;
	int user_mech; /* -1: not authenticated; EXTERNAL_SET: ext_method */
	const char *ext_method; /* static: "XCLIENT" */
};

/* user_mech of an identity set without an exchange (XCLIENT LOGIN). */
#define EXTERNAL_SET TERN__SASL_MECH_COUNT

static struct tern__smtp_auth *auth_get(tern_smtp_session *s)
{
	if (s->auth == NULL) {
		s->auth = calloc(1, sizeof(*s->auth));
		if (s->auth != NULL)
			s->auth->user_mech = -1;
	}
	return s->auth;
}

/* Ends the exchange (keeps the result and the failure count). */
static void exchange_end(struct tern__smtp_auth *a)
{
	tern__sasl_server_free(&a->sasl);
	a->reading = a->final_sent = false;
	if (a->scram_salt) {
		OPENSSL_cleanse(a->scram_salt, a->scram.salt_len);
		free(a->scram_salt);
		a->scram_salt = NULL;
	}
	OPENSSL_cleanse(&a->scram, sizeof(a->scram));
	a->scram_set = false;
	free(a->set_user);
	a->set_user = NULL;
}

void tern__smtp_auth_free(struct tern__smtp_auth **ap)
{
	struct tern__smtp_auth *a = *ap;

	*ap = NULL;
	if (a == NULL)
		return;
	exchange_end(a);
	free(a->user);
	free(a);
}

void tern__smtp_auth_reset(tern_smtp_session *s)
{
	struct tern__smtp_auth *a = s->auth;

	if (a == NULL)
		return;
	exchange_end(a);
	free(a->user);
	a->user = NULL;
	a->user_mech = -1;
}

bool tern__smtp_auth_reading(const tern_smtp_session *s)
{
	return s->auth != NULL && s->auth->reading;
}

bool tern__smtp_authenticated(const tern_smtp_session *s)
{
	return s->auth != NULL && s->auth->user_mech >= 0;
}

/* ---- which mechanisms, where -------------------------------------------- */

void tern__smtp_listener_auth(struct tern__smtp_listener *l, const tern_smtp_options *opts,
			      int mode, bool allow_insecure)
{
	static const char *const def[] = {"PLAIN", "LOGIN", NULL};
	bool has = opts->callbacks.on_auth != NULL;

	/* A listener made without a list of its own gets the server's. */
	if (l->n_auth_mechs == 0 &&
	    tern__smtp_listener_mechs(l, opts->auth_methods ? opts->auth_methods : def) != 0)
		l->n_auth_mechs = 0;
	l->allow_insecure_auth = opts->allow_insecure_auth || allow_insecure;
	switch (mode) {
	case TERN_SMTP_AUTH_OFF:
		l->auth_offered = l->auth_required = false;
		break;
	case TERN_SMTP_AUTH_OPTIONAL:
		l->auth_offered = has;
		l->auth_required = false;
		break;
	case TERN_SMTP_AUTH_REQUIRED:
		l->auth_offered = has;
		l->auth_required = true;
		break;
	default:
		/* smtp-server: with an onAuth handler, authentication is
		 * required unless authOptional. */
		l->auth_offered = has;
		l->auth_required = has && !opts->auth_optional;
		break;
	}
}

/* Without TLS no mechanism is offered or accepted (538 5.7.11, RFC 4954
 * 6) unless allow_insecure_auth: PLAIN, LOGIN and the OAuth ones would send
 * the secret itself, and even CRAM-MD5 and SCRAM hand a passive listener
 * what it needs for an offline dictionary attack. Deliberately stricter
 * than RFC 4954 asks, as smtp-server's allowInsecureAuth and Postfix's
 * smtpd_tls_auth_only are. SCRAM-PLUS and EXTERNAL need TLS by nature. */
static bool mech_usable(const tern_smtp_session *s, int m)
{
	switch (m) {
	case TERN__SASL_SCRAM_SHA_256_PLUS:
		return s->tls != NULL && (s->tls->has_exporter || s->tls->endpoint_len > 0);
	case TERN__SASL_EXTERNAL:
		return s->tls != NULL && s->tls->info.client_cert_verified && s->tls->cn[0];
	default:
		return s->secure || s->listener->allow_insecure_auth;
	}
}

static bool mech_enabled(const tern_smtp_session *s, int m)
{
	for (unsigned i = 0; i < s->listener->n_auth_mechs; i++)
		if (s->listener->auth_mechs[i] == m)
			return true;
	return false;
}

size_t tern__smtp_auth_ehlo(const tern_smtp_session *s, char *buf, size_t size)
{
	size_t n = 0;

	if (!s->listener->auth_offered || tern__smtp_authenticated(s) || size < 8)
		return 0;
	memcpy(buf, "AUTH", 4);
	n = 4;
	for (unsigned i = 0; i < s->listener->n_auth_mechs; i++) {
		int m = s->listener->auth_mechs[i];
		const char *name = tern__sasl_mech_name(m);
		size_t l = strlen(name);

		if (!mech_usable(s, m) || n + 1 + l + 1 > size)
			continue;
		buf[n++] = ' ';
		memcpy(buf + n, name, l);
		n += l;
	}
	buf[n] = '\0';
	return n > 4 ? n : 0;
}

/* ---- the exchange ------------------------------------------------------- */

static void handle(tern_smtp_session *s, int status, const void *out, size_t out_len);

/* RFC 4954 4: "334" SP [base64]. */
static void challenge(tern_smtp_session *s, const void *out, size_t len)
{
	size_t need = TERN__BASE64_ENCODED_LEN(len) + 1;
	char small[512], *b64 = need <= sizeof(small) ? small : malloc(need);

	if (b64 == NULL || tern__base64_encode(out, len, b64, need) < 0) {
		if (b64 != small)
			free(b64);
		exchange_end(s->auth);
		tern__smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	tern__smtp_reply(s, 334, NULL, "%s", b64);
	if (b64 != small)
		free(b64);
	s->auth->reading = true;
}

static void succeed(tern_smtp_session *s)
{
	struct tern__smtp_auth *a = s->auth;
	const struct tern__sasl_credentials *c = tern__sasl_server_credentials(a->sasl);
	const char *user = a->set_user;

	if (user == NULL && c != NULL)
		user = c->authzid ? c->authzid : c->authcid ? c->authcid : c->identity;
	if (user == NULL || !user[0]) {
		/* OAUTHBEARER without "a=": only the embedder knows whom the
		 * token names, and it did not say. */
		tern__smtp_log(s, TERN_LOG_ERROR,
			       "on_auth accepted %s without naming the user "
			       "(tern_smtp_session_set_auth_user); refused",
			       tern__sasl_mech_name(a->mech));
		exchange_end(a);
		tern__smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	free(a->user);
	a->user = strdup(user);
	if (a->user == NULL) {
		exchange_end(a);
		tern__smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	a->user_mech = a->mech;
	exchange_end(a);
	tern__smtp_log(s, TERN_LOG_INFO, "authenticated as %s (%s)", a->user,
		       tern__sasl_mech_name(a->user_mech));
	if (s->cfg->stats != NULL)
		tern__stats_add(&s->cfg->stats->auth_ok, 1);
	/* RFC 4954 6. */
	tern__smtp_reply(s, 235, "2.7.0", "Authentication successful");
}

/* A failed attempt counts for the client's network too
 * (max_auth_failures_per_ip): once that bans the network, this session
 * ends as at its own limit. */
static void count_failure(tern_smtp_session *s)
{
	struct tern__smtp_auth *a = s->auth;

	a->failures++;
	if (s->io.auth_failed != NULL && s->io.auth_failed(s->io.abuse_ctx))
		a->failures = s->opts->max_auth_failures ? s->opts->max_auth_failures
							  : DEFAULT_MAX_FAILURES;
}

/* A failed attempt: counted; the reply (r, or 535 5.7.8) waits n times the
 * failure delay, or the session ends at the limit. */
static void fail(tern_smtp_session *s, const tern_smtp_reply *r)
{
	struct tern__smtp_auth *a = s->auth;
	unsigned max = s->opts->max_auth_failures ? s->opts->max_auth_failures
						   : DEFAULT_MAX_FAILURES;
	unsigned base = s->opts->auth_failure_delay ? s->opts->auth_failure_delay
						     : DEFAULT_FAILURE_DELAY;

	/* No user name in this line: people type passwords into it. */
	if (s->cfg->stats != NULL)
		tern__stats_add(&s->cfg->stats->auth_failed, 1);
	tern__smtp_log(s, TERN_LOG_INFO, "authentication failed (%s), attempt %u of %u",
		       tern__sasl_mech_name(a->mech), a->failures + 1, max);
	exchange_end(a);
	count_failure(s);
	if (a->failures >= max) {
		tern__smtp_reply(s, 421, "4.7.0", "%s Too many failed authentication attempts, closing",
				 s->cfg->name);
		return;
	}
	if (r != NULL && r->code >= 500 && r->code < 600)
		tern__kept_reply_set(&a->failure, r->code, r->enhanced ? r->enhanced : "5.7.8",
				     r->text ? r->text : "Authentication credentials invalid");
	else
		tern__kept_reply_set(&a->failure, 535, "5.7.8", "Authentication credentials invalid");
	/* Guessing gets slower with every miss, and the loop serves the
	 * other sessions meanwhile (the net layer owns the timer). */
	unsigned long long ms = (unsigned long long)base * a->failures;
	a->delay_ms = ms > MAX_FAILURE_DELAY ? MAX_FAILURE_DELAY : (unsigned)ms;
	tern__smtp_wait(s, TERN__WAIT_AUTH_DELAY);
}

unsigned tern__smtp_session_delay_ms(const tern_smtp_session *s)
{
	return s->wait == TERN__WAIT_AUTH_DELAY && s->auth ? s->auth->delay_ms : 0;
}

void tern__smtp_session_delay_over(tern_smtp_session *s)
{
	if (s->wait != TERN__WAIT_AUTH_DELAY || s->auth == NULL)
		return;
	s->wait = TERN__WAIT_NONE;
	s->auth->delay_ms = 0;
	tern_smtp_reply r = tern__kept_reply_get(&s->auth->failure);
	tern__smtp_reply(s, r.code, r.enhanced, "%s", r.text);
	tern__kept_reply_clear(&s->auth->failure);
	tern__smtp_wakeup(s);
}

/* The credentials are complete: the embedder decides. */
static void ask(tern_smtp_session *s)
{
	struct tern__smtp_auth *a = s->auth;
	const struct tern__sasl_credentials *c = tern__sasl_server_credentials(a->sasl);
	tern_smtp_auth view = {
		.mechanism = tern__sasl_mech_name(a->mech),
		.username = c->authcid,
		.authzid = c->authzid,
		.password = c->password,
		.token = c->token,
		.cram_challenge = c->challenge,
		.cram_digest = c->digest,
		.external_identity = c->identity,
		.scram = a->mech == TERN__SASL_SCRAM_SHA_256 ||
			 a->mech == TERN__SASL_SCRAM_SHA_256_PLUS,
	};
	tern_smtp_reply r = {0};
	int d;

	tern__smtp_decide_begin(s, TERN__WAIT_AUTH);
	d = s->opts->callbacks.on_auth(s, &view, &r, s->opts->user_data);
	d = tern__smtp_decide_end(s, d, &r);
	if (d != TERN_SMTP_PENDING)
		tern__smtp_auth_decided(s, d, &r);
}

void tern__smtp_auth_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r)
{
	struct tern__smtp_auth *a = s->auth;
	bool ok = tern__smtp_decision_ok(decision, r);
	const void *out = NULL;
	size_t len = 0;
	int st;

	if (a == NULL || a->sasl == NULL)
		return;
	if (!ok && r != NULL && r->code >= 400 && r->code < 500) {
		/* RFC 4954 6: 454 4.7.0, the check itself failed (a database
		 * down): not the client's fault, not counted. */
		exchange_end(a);
		tern__smtp_reply(s, r->code, r->enhanced ? r->enhanced : "4.7.0", "%s",
				 r->text ? r->text : "Temporary authentication failure");
		return;
	}
	if (a->mech == TERN__SASL_SCRAM_SHA_256 || a->mech == TERN__SASL_SCRAM_SHA_256_PLUS) {
		if (ok && a->scram_set)
			st = tern__sasl_server_set_scram_keys(a->sasl, &a->scram, &out, &len);
		else
			st = tern__sasl_server_unknown_user(a->sasl, &out, &len);
	} else {
		if (!ok && r != NULL && r->code >= 500)
			tern__kept_reply_set(&a->failure, r->code, r->enhanced, r->text);
		st = tern__sasl_server_checked(a->sasl, ok, &out, &len);
		if (st == TERN__SASL_FAILURE && r != NULL && r->code >= 500) {
			fail(s, r);
			return;
		}
	}
	handle(s, st, out, len);
}

static void handle(tern_smtp_session *s, int status, const void *out, size_t out_len)
{
	struct tern__smtp_auth *a = s->auth;

	switch (status) {
	case TERN__SASL_CHALLENGE:
		challenge(s, out, out_len);
		return;
	case TERN__SASL_CHECK:
		ask(s);
		return;
	case TERN__SASL_SUCCESS:
		if (out_len > 0) {
			/* RFC 4954 4: no room in 235 for SCRAM's "v=": it goes
			 * as a 334, and the client's empty line completes. */
			challenge(s, out, out_len);
			a->final_sent = a->reading;
			return;
		}
		succeed(s);
		return;
	case TERN__SASL_FAILURE:
		fail(s, NULL);
		return;
	case TERN__SASL_MALFORMED:
		/* RFC 4954 4: a response that cannot be parsed is 501. It
		 * still counts as a failed attempt. */
		exchange_end(a);
		count_failure(s);
		if (s->cfg->stats != NULL)
			tern__stats_add(&s->cfg->stats->auth_failed, 1);
		if (a->failures >= (s->opts->max_auth_failures ? s->opts->max_auth_failures
							       : DEFAULT_MAX_FAILURES)) {
			tern__smtp_reply(s, 421, "4.7.0",
					 "%s Too many failed authentication attempts, closing",
					 s->cfg->name);
			return;
		}
		tern__smtp_reply(s, 501, "5.5.2", "Malformed authentication data");
		return;
	default:
		/* TERN_ENOMEM, TERN_EIO (no randomness): not the client's. */
		exchange_end(a);
		tern__smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
}

/* Decodes one base64 response (or "=" / an empty line: empty) and steps. */
static void respond(tern_smtp_session *s, const char *b64, size_t len, bool empty_ok)
{
	struct tern__smtp_auth *a = s->auth;
	size_t cap = TERN__BASE64_DECODED_MAX(len) + 1;
	unsigned char *buf;
	const void *out = NULL;
	size_t out_len = 0;
	ssize_t n = 0;

	if (empty_ok && len == 1 && b64[0] == '=')
		len = 0;
	buf = malloc(cap);
	if (buf == NULL) {
		exchange_end(a);
		tern__smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	if (len > 0)
		n = tern__base64_decode(b64, len, buf, cap);
	if (n < 0) {
		OPENSSL_cleanse(buf, cap);
		free(buf);
		exchange_end(a);
		/* RFC 4954 4: "If the client's response cannot be base64
		 * decoded, the server rejects it with 501". */
		tern__smtp_reply_error(s, 501, "5.5.2", "Invalid base64 data");
		return;
	}
	int st = tern__sasl_server_step(a->sasl, buf, (size_t)n, true, &out, &out_len);
	OPENSSL_cleanse(buf, cap);
	free(buf);
	handle(s, st, out, out_len);
}

void tern__smtp_auth_line(tern_smtp_session *s, const char *line, size_t len, bool too_long)
{
	struct tern__smtp_auth *a = s->auth;

	a->reading = false;
	if (too_long) {
		exchange_end(a);
		/* RFC 4954 4. */
		tern__smtp_reply_error(s, 500, "5.5.6", "Authentication exchange line is too long");
		return;
	}
	if (len == 1 && line[0] == '*') {
		exchange_end(a);
		/* RFC 4954 4: a cancelled exchange is rejected with 501. */
		tern__smtp_reply(s, 501, "5.7.0", "Authentication canceled");
		return;
	}
	if (a->final_sent) {
		if (len == 0) {
			succeed(s);
			return;
		}
		exchange_end(a);
		tern__smtp_reply_error(s, 501, "5.5.2", "Expected an empty response");
		return;
	}
	respond(s, line, len, false);
}

void tern__cmd_auth(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	if (!s->listener->auth_offered || s->listener->n_auth_mechs == 0) {
		tern__smtp_reply_error(s, 502, "5.5.1", "Command not implemented");
		return;
	}
	/* RFC 4954 4: AUTH is an extension of EHLO (and LHLO). */
	if (s->helo_kind != TERN__HELO_EHLO && s->helo_kind != TERN__HELO_LHLO) {
		tern__smtp_reply_error(s, 503, "5.5.1", "Bad sequence of commands: send EHLO first");
		return;
	}
	if (tern__smtp_authenticated(s)) {
		tern__smtp_reply_error(s, 503, "5.5.1", "Bad sequence of commands: already authenticated");
		return;
	}
	if (s->tx.active) {
		tern__smtp_reply_error(s, 503, "5.5.1",
				       "Bad sequence of commands: AUTH not permitted during a mail "
				       "transaction");
		return;
	}
	/* The client's network is banned (max_auth_failures_per_ip, or
	 * tern_smtp_server_ban()): no more guessing from it. */
	if (s->io.banned != NULL && s->io.banned(s->io.abuse_ctx)) {
		tern__smtp_reply(s, 421, "4.7.0", "%s Your address is temporarily banned, closing",
				 s->cfg->name);
		return;
	}
	const char *sp = memchr(args, ' ', len);
	size_t mlen = sp ? (size_t)(sp - args) : len;
	const char *ir = sp ? sp + 1 : NULL;
	size_t ir_len = sp ? len - mlen - 1 : 0;
	if (mlen == 0 || (ir != NULL && (ir_len == 0 || memchr(ir, ' ', ir_len)))) {
		tern__smtp_reply_error(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		return;
	}
	int m = tern__sasl_mech_lookup(args, mlen);
	if (m < 0 || !mech_enabled(s, m)) {
		/* RFC 4954 6. */
		tern__smtp_reply_error(s, 504, "5.5.4", "Unrecognized authentication type");
		return;
	}
	if (!mech_usable(s, m)) {
		if (s->secure) {
			/* Encrypted, but without what the mechanism needs
			 * (a channel binding, a verified client certificate):
			 * not offered here, so unrecognized (RFC 4954 4). 538
			 * would send the client after a TLS it already has. */
			tern__smtp_reply_error(s, 504, "5.5.4", "Unrecognized authentication type");
			return;
		}
		/* RFC 4954 6: 538 5.7.11 "Encryption required for requested
		 * authentication mechanism". */
		tern__smtp_reply_error(s, 538, "5.7.11",
				       "Encryption required for requested authentication mechanism");
		return;
	}
	struct tern__smtp_auth *a = auth_get(s);
	if (a == NULL) {
		tern__smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	struct tern__sasl_server_params p = {
		.hostname = s->cfg->name,
		.plus_offered = mech_enabled(s, TERN__SASL_SCRAM_SHA_256_PLUS) &&
				mech_usable(s, TERN__SASL_SCRAM_SHA_256_PLUS),
		.external_identity = s->tls && s->tls->info.client_cert_verified && s->tls->cn[0]
					     ? s->tls->cn
					     : NULL,
		.scram_fake_key = s->cfg->scram_fake_key,
		.scram_fake_key_len = sizeof(s->cfg->scram_fake_key),
	};
	if (s->tls != NULL) {
		if (s->tls->has_exporter) {
			p.cb.tls_exporter = s->tls->exporter;
			p.cb.tls_exporter_len = sizeof(s->tls->exporter);
		}
		p.cb.tls_server_end_point = s->tls->endpoint;
		p.cb.tls_server_end_point_len = s->tls->endpoint_len;
	}
	if (tern__sasl_server_new(&a->sasl, (enum tern__sasl_mech)m, &p) != 0) {
		tern__smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	a->mech = m;
	tern__kept_reply_clear(&a->failure);
	if (ir == NULL) {
		const void *out = NULL;
		size_t out_len = 0;
		int st = tern__sasl_server_step(a->sasl, NULL, 0, false, &out, &out_len);
		handle(s, st, out, out_len);
		return;
	}
	respond(s, ir, ir_len, true);
}

/* ---- the embedder's side ------------------------------------------------ */

static bool deciding_auth(const tern_smtp_session *s)
{
	return s->auth != NULL && s->auth->sasl != NULL &&
	       (s->deciding == TERN__WAIT_AUTH || s->wait == TERN__WAIT_AUTH);
}

int tern_smtp_session_auth_scram_keys(tern_smtp_session *s, const tern_smtp_scram_keys *keys)
{
	if (s == NULL || keys == NULL || keys->salt == NULL || keys->salt_len == 0 ||
	    keys->iterations == 0)
		return TERN_EINVAL;
	if (!deciding_auth(s) || (s->auth->mech != TERN__SASL_SCRAM_SHA_256 &&
				  s->auth->mech != TERN__SASL_SCRAM_SHA_256_PLUS))
		return TERN_ESTATE;
	struct tern__smtp_auth *a = s->auth;
	unsigned char *salt = malloc(keys->salt_len);
	if (salt == NULL)
		return TERN_ENOMEM;
	memcpy(salt, keys->salt, keys->salt_len);
	if (a->scram_salt) {
		OPENSSL_cleanse(a->scram_salt, a->scram.salt_len);
		free(a->scram_salt);
	}
	a->scram_salt = salt;
	a->scram.salt = salt;
	a->scram.salt_len = keys->salt_len;
	a->scram.iterations = keys->iterations;
	memcpy(a->scram.stored_key, keys->stored_key, sizeof(a->scram.stored_key));
	memcpy(a->scram.server_key, keys->server_key, sizeof(a->scram.server_key));
	a->scram_set = true;
	return 0;
}

int tern_smtp_session_set_auth_user(tern_smtp_session *s, const char *user)
{
	if (s == NULL || user == NULL || !user[0] || tern__has_control(user, strlen(user)))
		return TERN_EINVAL;
	if (!deciding_auth(s))
		return TERN_ESTATE;
	char *copy = strdup(user);
	if (copy == NULL)
		return TERN_ENOMEM;
	free(s->auth->set_user);
	s->auth->set_user = copy;
	return 0;
}

const char *tern_smtp_session_auth_user(const tern_smtp_session *s)
{
	return s && tern__smtp_authenticated(s) ? s->auth->user : NULL;
}

const char *tern_smtp_session_auth_mechanism(const tern_smtp_session *s)
{
	if (!s || !tern__smtp_authenticated(s))
		return NULL;
	if (s->auth->user_mech == EXTERNAL_SET)
		return s->auth->ext_method;
	return tern__sasl_mech_name(s->auth->user_mech);
}

int tern__smtp_auth_set_external(tern_smtp_session *s, const char *user, const char *method)
{
	char *copy = strdup(user);
	struct tern__smtp_auth *a = copy ? auth_get(s) : NULL;

	if (a == NULL) {
		free(copy);
		return TERN_ENOMEM;
	}
	exchange_end(a);
	free(a->user);
	a->user = copy;
	a->user_mech = EXTERNAL_SET;
	a->ext_method = method;
	tern__smtp_log(s, TERN_LOG_INFO, "authenticated as %s (%s)", a->user, method);
	return 0;
}
