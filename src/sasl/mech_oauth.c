/* XOAUTH2 (Google's format) and OAUTHBEARER (RFC 7628), server and client.
 * Both carry an OAuth 2.0 bearer token (RFC 6750) that the embedder checks;
 * both answer a bad token with a JSON error challenge, which the client
 * acknowledges ("" for XOAUTH2, %x01 for OAUTHBEARER) before the failure.
 *
 * XOAUTH2:     "user=" User %x01 "auth=Bearer " Token %x01 %x01
 * OAUTHBEARER (RFC 7628 3.1):
 *   kvsep       = %x01
 *   key         = 1*(ALPHA)
 *   value       = *(VCHAR / SP / HTAB / CR / LF )
 *   kvpair      = key "=" value kvsep
 *   client-resp = (gs2-header kvsep *kvpair kvsep) / kvsep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sasl/client.h"
#include "sasl/gs2.h"
#include "sasl/prep.h"
#include "sasl/server.h"

static const char oauthbearer_error[] = "{\"status\":\"invalid_token\"}";
static const char xoauth2_error[] = "{\"status\":\"401\",\"schemes\":\"bearer\"}";

/* RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
 * "+" / "/" ) *"=" */
static bool b64token_ok(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n && ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
			 (p[i] >= '0' && p[i] <= '9') || strchr("-._~+/", p[i]) != NULL) &&
	       p[i] != '\0')
		i++;
	if (i == 0)
		return false;
	while (i < n && p[i] == '=')
		i++;
	return i == n;
}

/* auth-value: "Bearer" 1*SP b64token (RFC 6750 2.1; the scheme name is
 * case-insensitive, RFC 7235 2.1). Keeps the token. */
static int take_bearer(struct tern__sasl_server *s, const unsigned char *v, size_t n)
{
	size_t i = 6;

	if (n < 7 || strncasecmp((const char *)v, "Bearer", 6) != 0 || v[6] != ' ')
		return TERN__SASL_MALFORMED;
	while (i < n && v[i] == ' ')
		i++;
	if (!b64token_ok(v + i, n - i))
		return TERN__SASL_MALFORMED;
	s->cred.token = tern__sasl_server_keep(s, TERN__SASL_SLOT_TOKEN, v + i, n - i);
	return s->cred.token ? 0 : TERN_ENOMEM;
}

static int error_challenge(struct tern__sasl_server *s, const char *dflt)
{
	const char *j = s->oauth_error_json ? s->oauth_error_json : dflt;

	s->error_sent = true;
	return tern__sasl_server_output(s, j, strlen(j)) ? TERN_ENOMEM : TERN__SASL_CHALLENGE;
}

static int xoauth2_step(struct tern__sasl_server *s, const unsigned char *in, size_t len,
			bool have_input)
{
	const unsigned char *user, *u_end, *auth, *a_end;
	int rc;

	if (!have_input)
		return tern__sasl_server_output(s, "", 0) ? TERN_ENOMEM : TERN__SASL_CHALLENGE;
	/* Google: after the error challenge "the client should send an empty
	 * response"; whatever it sends, the exchange has failed. */
	if (s->error_sent)
		return TERN__SASL_FAILURE;
	if (len < 5 || memcmp(in, "user=", 5) != 0 || memchr(in, 0, len) != NULL)
		return TERN__SASL_MALFORMED;
	user = in + 5;
	u_end = memchr(user, 1, len - 5);
	if (u_end == NULL || u_end == user)
		return TERN__SASL_MALFORMED;
	auth = u_end + 1;
	if ((size_t)(in + len - auth) < 5 || memcmp(auth, "auth=", 5) != 0)
		return TERN__SASL_MALFORMED;
	auth += 5;
	a_end = memchr(auth, 1, (size_t)(in + len - auth));
	/* The message ends with exactly %x01 %x01 after the token. */
	if (a_end == NULL || (size_t)(in + len - a_end) != 2 || a_end[1] != 1)
		return TERN__SASL_MALFORMED;
	if (!tern__sasl_utf8_ok(user, (size_t)(u_end - user)))
		return TERN__SASL_MALFORMED;
	rc = take_bearer(s, auth, (size_t)(a_end - auth));
	if (rc != 0)
		return rc;
	s->cred.authcid =
		tern__sasl_server_keep(s, TERN__SASL_SLOT_AUTHCID, user, (size_t)(u_end - user));
	return s->cred.authcid ? TERN__SASL_CHECK : TERN_ENOMEM;
}

static int xoauth2_checked(struct tern__sasl_server *s, bool ok)
{
	return ok ? TERN__SASL_SUCCESS : error_challenge(s, xoauth2_error);
}

const struct tern__sasl_server_mech tern__sasl_xoauth2_server = {
	.step = xoauth2_step,
	.checked = xoauth2_checked,
};

static bool value_ok(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((p[i] >= 0x21 && p[i] <= 0x7e) || p[i] == ' ' || p[i] == '\t' ||
		      p[i] == '\r' || p[i] == '\n'))
			return false;
	}
	return true;
}

static bool digits_ok(const unsigned char *p, size_t n)
{
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
	}
	return true;
}

static int oauthbearer_step(struct tern__sasl_server *s, const unsigned char *in, size_t len,
			    bool have_input)
{
	struct tern__sasl_gs2 h;
	size_t pos;
	bool seen_auth = false, seen_host = false, seen_port = false;

	if (!have_input)
		return tern__sasl_server_output(s, "", 0) ? TERN_ENOMEM : TERN__SASL_CHALLENGE;
	/* RFC 7628 3.2.3: after the error "the client MUST then send either
	 * an additional client response consisting of a single %x01 (control
	 * A) character to the server in order to allow the server to finish
	 * the exchange or a SASL abort message". It fails either way. */
	if (s->error_sent)
		return TERN__SASL_FAILURE;
	if (memchr(in, 0, len) != NULL || tern__sasl_gs2_parse(in, len, &h) != 0)
		return TERN__SASL_MALFORMED;
	/* RFC 7628 3.1: channel binding is not defined for OAUTHBEARER, so
	 * "p" cannot be honoured. */
	if (h.flag == 'p')
		return TERN__SASL_MALFORMED;
	pos = h.header_len;
	if (pos >= len || in[pos] != 1)
		return TERN__SASL_MALFORMED;
	pos++;
	for (;;) {
		const unsigned char *key = in + pos, *eq, *val, *end;
		size_t klen, vlen;

		if (pos >= len)
			return TERN__SASL_MALFORMED;
		if (in[pos] == 1) { /* the closing kvsep */
			if (pos + 1 != len)
				return TERN__SASL_MALFORMED;
			break;
		}
		end = memchr(key, 1, len - pos);
		eq = memchr(key, '=', len - pos);
		if (end == NULL || eq == NULL || eq > end || eq == key)
			return TERN__SASL_MALFORMED;
		klen = (size_t)(eq - key);
		for (size_t i = 0; i < klen; i++) {
			if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z')))
				return TERN__SASL_MALFORMED;
		}
		val = eq + 1;
		vlen = (size_t)(end - val);
		if (!value_ok(val, vlen))
			return TERN__SASL_MALFORMED;
		/* RFC 7628 3.1: auth is required, host and port are
		 * optional; a key given twice is ambiguous. Other keys
		 * (extensions) are ignored. */
		if (klen == 4 && memcmp(key, "auth", 4) == 0) {
			int rc;

			if (seen_auth)
				return TERN__SASL_MALFORMED;
			seen_auth = true;
			rc = take_bearer(s, val, vlen);
			if (rc != 0)
				return rc;
		} else if (klen == 4 && memcmp(key, "host", 4) == 0) {
			if (seen_host || vlen == 0)
				return TERN__SASL_MALFORMED;
			seen_host = true;
			if ((s->cred.host = tern__sasl_server_keep(s, TERN__SASL_SLOT_HOST, val,
								   vlen)) == NULL)
				return TERN_ENOMEM;
		} else if (klen == 4 && memcmp(key, "port", 4) == 0) {
			if (seen_port || !digits_ok(val, vlen))
				return TERN__SASL_MALFORMED;
			seen_port = true;
			if ((s->cred.port = tern__sasl_server_keep(s, TERN__SASL_SLOT_PORT, val,
								   vlen)) == NULL)
				return TERN_ENOMEM;
		}
		pos = (size_t)(end - in) + 1;
	}
	if (!seen_auth)
		return TERN__SASL_MALFORMED;
	if (h.authzid != NULL) {
		char *z = malloc(h.authzid_len + 1);
		ssize_t n;

		if (z == NULL)
			return TERN_ENOMEM;
		n = tern__sasl_saslname_decode(h.authzid, h.authzid_len, z);
		if (n >= 0)
			s->cred.authzid =
				tern__sasl_server_keep(s, TERN__SASL_SLOT_AUTHZID, z, (size_t)n);
		free(z);
		if (n < 0)
			return TERN__SASL_MALFORMED;
		if (s->cred.authzid == NULL)
			return TERN_ENOMEM;
	}
	return TERN__SASL_CHECK;
}

static int oauthbearer_checked(struct tern__sasl_server *s, bool ok)
{
	/* RFC 7628 3.2.2: on failure the server sends a JSON error with at
	 * least "status". */
	return ok ? TERN__SASL_SUCCESS : error_challenge(s, oauthbearer_error);
}

const struct tern__sasl_server_mech tern__sasl_oauthbearer_server = {
	.step = oauthbearer_step,
	.checked = oauthbearer_checked,
};

/* ---- clients ---- */

static int xoauth2_message(struct tern__sasl_client *c)
{
	size_t cap = strlen(c->authcid) + strlen(c->token) + 32;
	char *m = malloc(cap);
	int n;

	if (m == NULL)
		return TERN_ENOMEM;
	n = snprintf(m, cap, "user=%s\001auth=Bearer %s\001\001", c->authcid, c->token);
	tern__sasl_client_output_take(c, (unsigned char *)m, (size_t)n);
	c->complete = true;
	return TERN__SASL_CLIENT_RESPONSE;
}

static int oauthbearer_message(struct tern__sasl_client *c)
{
	size_t zlen = c->authzid ? strlen(c->authzid) : 0;
	size_t cap = 3 * zlen + strlen(c->token) + (c->host ? strlen(c->host) : 0) + 64;
	char *z = malloc(3 * zlen + 1), *m = malloc(cap);
	char port[24] = "";
	int n;

	if (z == NULL || m == NULL) {
		free(z);
		free(m);
		return TERN_ENOMEM;
	}
	tern__sasl_saslname_encode(c->authzid ? c->authzid : "", zlen, z);
	if (c->port)
		snprintf(port, sizeof(port), "port=%u\001", c->port);
	n = snprintf(m, cap, "n,%s%s,\001%s%s%s%sauth=Bearer %s\001\001", zlen ? "a=" : "", z,
		     c->host ? "host=" : "", c->host ? c->host : "", c->host ? "\001" : "", port,
		     c->token);
	free(z);
	tern__sasl_client_output_take(c, (unsigned char *)m, (size_t)n);
	c->complete = true;
	return TERN__SASL_CLIENT_RESPONSE;
}

static int xoauth2_initial(struct tern__sasl_client *c)
{
	return xoauth2_message(c);
}

static int oauthbearer_initial(struct tern__sasl_client *c)
{
	return oauthbearer_message(c);
}

/* A challenge before the message asks for it; one after it is the JSON
 * error, answered once with ack and never again. */
static int oauth_client_step(struct tern__sasl_client *c, size_t len,
			     int (*message)(struct tern__sasl_client *), const char *ack,
			     size_t ack_len)
{
	if (c->sent == 0)
		return len == 0 ? message(c) : TERN__SASL_CLIENT_ERROR;
	if (c->got_error || len == 0)
		return TERN__SASL_CLIENT_ERROR;
	c->got_error = true;
	c->complete = false;
	return tern__sasl_client_output(c, ack, ack_len) ? TERN_ENOMEM
							 : TERN__SASL_CLIENT_RESPONSE;
}

static int xoauth2_client_step(struct tern__sasl_client *c, const unsigned char *in, size_t len)
{
	(void)in;
	return oauth_client_step(c, len, xoauth2_message, "", 0);
}

static int oauthbearer_client_step(struct tern__sasl_client *c, const unsigned char *in,
				   size_t len)
{
	(void)in;
	return oauth_client_step(c, len, oauthbearer_message, "\001", 1);
}

const struct tern__sasl_client_mech tern__sasl_xoauth2_client = {
	.initial = xoauth2_initial,
	.step = xoauth2_client_step,
};

const struct tern__sasl_client_mech tern__sasl_oauthbearer_client = {
	.initial = oauthbearer_initial,
	.step = oauthbearer_client_step,
};
