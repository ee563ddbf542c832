/* AUTH (RFC 4954) through the SASL client engines (src/sasl).
 *
 * The mechanism is the first of the caller's preference list that the
 * server offers. The initial response goes on the AUTH line when the line
 * fits 512 octets (RFC 4954 4; an empty one is "="), else it waits for the
 * server's empty 334. Each 334 carries a base64 challenge; our answer is a
 * base64 line, "*" when the mechanism refuses the challenge. 235 is success
 * only when the mechanism agrees it is complete: SCRAM must have verified
 * the server's signature (RFC 5802 5.1), so a server that says 235 without
 * proving it knows the password is not trusted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sasl/sasl.h"
#include "smtp/client/client.h"
#include "util/base64.h"

/* RFC 4954 4 / RFC 5321 4.5.3.1.4: the command line, CRLF included. */
#define AUTH_LINE_MAX 512

static void ready(tern_smtp_client *c)
{
	tern__sasl_client_free(&c->sasl);
	c->state = TERN__SMTPC_READY;
	tern__smtpc_event(c, TERN_SMTP_CLIENT_EV_READY);
}

/* Always a temporary failure, whatever the server's code: wrong or missing
 * credentials are ours to fix, and the mail waits in the queue meanwhile
 * (Postfix's smtp_sasl_auth_soft_bounce). The code and text stay the
 * server's for the log. */
static void auth_fail(tern_smtp_client *c, int code, const char *enh, const char *text)
{
	tern__smtpc_fail(c, code, enh, text, TERN_SMTP_CLIENT_R_AUTH, true);
	c->failure.cls = TERN_SMTP_CLIENT_TEMPFAIL;
}

/* Mechanisms that hand the password (or a bearer token) to whoever is at
 * the other end of a plaintext connection. */
static bool reveals_secret(int m)
{
	return m == TERN__SASL_PLAIN || m == TERN__SASL_LOGIN || m == TERN__SASL_XOAUTH2 ||
	       m == TERN__SASL_OAUTHBEARER;
}

/* Writes prefix, the base64 of p[0..len) and CRLF. */
static int write_b64(tern_smtp_client *c, const char *prefix, const void *p, size_t len)
{
	size_t n = TERN__BASE64_ENCODED_LEN(len) + 1;
	char *b = malloc(n);
	if (!b)
		return TERN_ENOMEM;
	ssize_t e = tern__base64_encode(p, len, b, n);
	int r = e < 0 ? TERN_ENOMEM : tern__smtpc_write(c, "%s%s\r\n", prefix, b);
	explicit_bzero(b, n);
	free(b);
	return r;
}

void tern__smtpc_auth_begin(tern_smtp_client *c)
{
	if (!c->auth_user) {
		ready(c);
		return;
	}
	struct tern__sasl_client_params params = {
		.authcid = c->auth_user,
		.authzid = c->auth_authzid,
		.password = c->auth_password,
		.test_nonce = c->test_nonce,
	};
	int mech = -1;
	for (size_t i = 0; i < c->n_auth_pref && !c->sasl; i++) {
		int m = c->auth_pref[i];
		if (!(c->caps.auth_mechs & (1u << m)))
			continue;
		if (!c->secure && !c->opts.auth_insecure && reveals_secret(m))
			continue;
		int r = tern__sasl_client_new(&c->sasl, (enum tern__sasl_mech)m, &params);
		if (r == TERN_ENOMEM) {
			tern__smtpc_fail(c, 451, "4.3.0", "out of memory", TERN_SMTP_CLIENT_R_PROTOCOL,
					 true);
			return;
		}
		if (r == 0)
			mech = m;
	}
	if (!c->sasl) {
		if (c->opts.auth_required) {
			auth_fail(c, 530, "5.7.0", "no AUTH mechanism in common with the server");
			return;
		}
		ready(c);
		return;
	}
	const char *name = tern__sasl_mech_name((enum tern__sasl_mech)mech);
	const void *ir = NULL;
	size_t ir_len = 0;
	int r = tern__sasl_client_initial_response(c->sasl, &ir, &ir_len);
	c->state = TERN__SMTPC_AUTH;
	c->auth_have_ir = false;
	if (r == 1 && 5 + strlen(name) + 1 + TERN__BASE64_ENCODED_LEN(ir_len) + 2 <= AUTH_LINE_MAX) {
		if (ir_len == 0)
			r = tern__smtpc_write(c, "AUTH %s =\r\n", name);
		else {
			char prefix[64];
			snprintf(prefix, sizeof(prefix), "AUTH %s ", name);
			r = write_b64(c, prefix, ir, ir_len);
		}
	} else if (r == 1) {
		/* Too long for the line: it answers the first, empty 334. */
		c->auth_ir = malloc(ir_len ? ir_len : 1);
		if (!c->auth_ir) {
			r = TERN_ENOMEM;
		} else {
			memcpy(c->auth_ir, ir, ir_len);
			c->auth_ir_len = ir_len;
			c->auth_have_ir = true;
			r = tern__smtpc_write(c, "AUTH %s\r\n", name);
		}
	} else if (r == 0) {
		r = tern__smtpc_write(c, "AUTH %s\r\n", name);
	}
	if (r == 0)
		r = tern__smtpc_expect(c, TERN__SMTPC_K_AUTH, 0);
	if (r < 0)
		tern__smtpc_fail(c, 451, "4.3.0", "AUTH could not start", TERN_SMTP_CLIENT_R_AUTH, true);
}

static void clear_ir(tern_smtp_client *c)
{
	if (c->auth_ir) {
		explicit_bzero(c->auth_ir, c->auth_ir_len);
		free(c->auth_ir);
	}
	c->auth_ir = NULL;
	c->auth_ir_len = 0;
	c->auth_have_ir = false;
}

static void on_challenge(tern_smtp_client *c, const char *text)
{
	size_t tlen = strlen(text);
	size_t max = TERN__BASE64_DECODED_MAX(tlen) + 1;
	unsigned char *in = malloc(max);
	if (!in) {
		tern__smtpc_fail(c, 451, "4.3.0", "out of memory", TERN_SMTP_CLIENT_R_PROTOCOL, false);
		return;
	}
	ssize_t n = tern__base64_decode(text, tlen, in, max);
	int r;
	if (c->auth_have_ir && n == 0) {
		r = write_b64(c, "", c->auth_ir, c->auth_ir_len);
		clear_ir(c);
	} else {
		clear_ir(c);
		const void *out = NULL;
		size_t out_len = 0;
		int s = n < 0 ? TERN__SASL_CLIENT_ERROR
			      : tern__sasl_client_step(c->sasl, in, (size_t)n, &out, &out_len);
		if (s == TERN__SASL_CLIENT_RESPONSE) {
			r = write_b64(c, "", out, out_len);
		} else if (s == TERN__SASL_CLIENT_ERROR || s == TERN_ESTATE) {
			/* RFC 4954 4: "*" cancels; the server answers 501. */
			c->auth_cancelled = true;
			r = tern__smtpc_write(c, "*\r\n");
		} else {
			r = s;
		}
	}
	explicit_bzero(in, max);
	free(in);
	if (r == 0)
		r = tern__smtpc_expect(c, TERN__SMTPC_K_AUTH, 0);
	if (r < 0)
		tern__smtpc_fail(c, 451, "4.3.0", "AUTH failed locally", TERN_SMTP_CLIENT_R_AUTH, true);
}

void tern__smtpc_auth_reply(tern_smtp_client *c, int code, const char *enhanced, const char *text)
{
	if (code == 334 && !c->auth_cancelled) {
		on_challenge(c, text);
		return;
	}
	if (code == 235 && !c->auth_cancelled) {
		if (!tern__sasl_client_complete(c->sasl)) {
			auth_fail(c, 454, "4.7.0", "server claimed AUTH success without proving it");
			return;
		}
		ready(c);
		return;
	}
	if (c->auth_cancelled) {
		auth_fail(c, 454, "4.7.0", "AUTH cancelled: the server's challenge was invalid");
		return;
	}
	auth_fail(c, code, enhanced, text);
}
