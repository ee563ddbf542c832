/* SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, server side (RFC 5802, RFC 7677,
 * channel bindings RFC 5929 and RFC 9266).
 *
 *   client-first-message = gs2-header client-first-message-bare
 *   client-first-message-bare = [reserved-mext ","] username "," nonce
 *                               ["," extensions]
 *   server-first-message = [reserved-mext ","] nonce "," salt ","
 *                          iteration-count ["," extensions]
 *   client-final-message = client-final-message-without-proof "," proof
 *   client-final-message-without-proof = channel-binding "," nonce
 *                                        ["," extensions]
 *   server-final-message = (server-error / verifier) ["," extensions]
 *
 * The server holds StoredKey and ServerKey, never the password. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sasl/gs2.h"
#include "sasl/prep.h"
#include "sasl/scram.h"
#include "sasl/server.h"
#include "util/base64.h"

#define FAKE_SALT_OCTETS 16

struct scram_server {
	char *gs2;           /* the client's GS2 header, for "c=" */
	size_t gs2_len;
	char *bare;          /* client-first-message-bare */
	size_t bare_len;
	char *nonce;         /* c-nonce, then c-nonce + s-nonce */
	size_t nonce_len;
	char *server_first;
	size_t sf_len;
	const unsigned char *cb; /* the binding data the client chose */
	size_t cb_len;
	unsigned char stored_key[TERN__SASL_SHA256_LEN];
	unsigned char server_key[TERN__SASL_SHA256_LEN];
	bool unknown;        /* a fake user: the proof must fail */
};

static int fail_with(struct tern__sasl_server *s, const char *e)
{
	/* RFC 5802 7: server-error = "e=" server-error-value. */
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "e=%s", e);

	return tern__sasl_server_output(s, buf, (size_t)n) ? TERN_ENOMEM : TERN__SASL_FAILURE;
}

static char *dup_n(const void *p, size_t n)
{
	char *q = malloc(n + 1);

	if (q != NULL) {
		memcpy(q, p, n);
		q[n] = '\0';
	}
	return q;
}

/* Which binding data the client's "p=" names, if this connection has it. */
static bool pick_binding(struct tern__sasl_server *s, struct scram_server *st,
			 const struct tern__sasl_gs2 *h)
{
	static const char exp[] = TERN__SASL_CB_NAME_EXPORTER;
	static const char sep[] = TERN__SASL_CB_NAME_END_POINT;

	if (h->cb_name_len == sizeof(exp) - 1 && memcmp(h->cb_name, exp, sizeof(exp) - 1) == 0 &&
	    s->cb_exporter_len > 0) {
		st->cb = s->cb_exporter;
		st->cb_len = s->cb_exporter_len;
		return true;
	}
	if (h->cb_name_len == sizeof(sep) - 1 && memcmp(h->cb_name, sep, sizeof(sep) - 1) == 0 &&
	    s->cb_endpoint_len > 0) {
		st->cb = s->cb_endpoint;
		st->cb_len = s->cb_endpoint_len;
		return true;
	}
	return false;
}

static int client_first(struct tern__sasl_server *s, struct scram_server *st,
			const unsigned char *in, size_t len)
{
	struct tern__sasl_gs2 h;
	const unsigned char *user, *nonce;
	size_t ulen, nlen, pos;
	bool plus = s->mech == TERN__SASL_SCRAM_SHA_256_PLUS;
	char *name;
	ssize_t n;

	if (memchr(in, 0, len) != NULL || tern__sasl_gs2_parse(in, len, &h) != 0)
		return TERN__SASL_MALFORMED;
	pos = h.header_len;
	/* RFC 5802 5.1 m: "its presence in a client or a server message MUST
	 * cause authentication failure when the attribute is parsed by the
	 * other end." */
	if (len - pos >= 2 && in[pos] == 'm' && in[pos + 1] == '=')
		return fail_with(s, "extensions-not-supported");
	if (tern__sasl_scram_attr(in, len, &pos, 'n', &user, &ulen) != 0 ||
	    tern__sasl_scram_attr(in, len, &pos, 'r', &nonce, &nlen) != 0 || nlen == 0 ||
	    !tern__sasl_printable_ok(nonce, nlen) ||
	    tern__sasl_scram_extensions(in, len, pos) != 0)
		return TERN__SASL_MALFORMED;

	/* RFC 5802 6: "If the flag is set to "y" and the server supports
	 * channel binding, the server MUST fail authentication. This is
	 * because if the client sets the channel binding flag to "y", then
	 * the client must have believed that the server did not support
	 * channel binding -- if the server did in fact support channel
	 * binding, then this is an indication that there has been a downgrade
	 * attack". */
	if (h.flag == 'y' && s->plus_offered)
		return fail_with(s, "server-does-support-channel-binding");
	/* -PLUS means binding: a client that chose it and then sends "n" or
	 * "y" contradicts itself; one that sends "p" to plain SCRAM asks for
	 * binding the mechanism does not carry. */
	if (plus && h.flag != 'p')
		return fail_with(s, "channel-binding-not-supported");
	if (!plus && h.flag == 'p')
		return fail_with(s, "channel-binding-not-supported");
	/* RFC 5802 6: "If the channel binding flag was "p" and the server
	 * does not support the indicated channel binding type, then the
	 * server MUST fail authentication." */
	if (plus && !pick_binding(s, st, &h))
		return fail_with(s, "unsupported-channel-binding-type");

	name = malloc(ulen + 1);
	if (name == NULL)
		return TERN_ENOMEM;
	n = tern__sasl_saslname_decode(user, ulen, name);
	/* RFC 5802 5.1 n: the user name is SASLprep'd; a name that fails is
	 * refused (prep.c says how far SASLprep goes here). */
	if (n < 0 || !tern__sasl_prep_ok((unsigned char *)name, (size_t)n)) {
		free(name);
		return TERN__SASL_MALFORMED;
	}
	s->cred.authcid = tern__sasl_server_keep(s, TERN__SASL_SLOT_AUTHCID, name, (size_t)n);
	free(name);
	if (s->cred.authcid == NULL)
		return TERN_ENOMEM;
	if (h.authzid != NULL) {
		char *z = malloc(h.authzid_len + 1);

		if (z == NULL)
			return TERN_ENOMEM;
		n = tern__sasl_saslname_decode(h.authzid, h.authzid_len, z);
		if (n < 0) {
			free(z);
			return TERN__SASL_MALFORMED;
		}
		s->cred.authzid = tern__sasl_server_keep(s, TERN__SASL_SLOT_AUTHZID, z, (size_t)n);
		free(z);
		if (s->cred.authzid == NULL)
			return TERN_ENOMEM;
	}
	s->cred.cb_flag = h.flag;
	st->gs2 = dup_n(in, h.header_len);
	st->gs2_len = h.header_len;
	st->bare = dup_n(in + h.header_len, len - h.header_len);
	st->bare_len = len - h.header_len;
	st->nonce = dup_n(nonce, nlen);
	st->nonce_len = nlen;
	if (st->gs2 == NULL || st->bare == NULL || st->nonce == NULL)
		return TERN_ENOMEM;
	return TERN__SASL_CHECK;
}

static int server_first(struct tern__sasl_server *s, struct scram_server *st,
			const unsigned char *salt, size_t salt_len, unsigned iterations)
{
	char *snonce = NULL, *b64 = NULL, *both = NULL, *msg = NULL;
	size_t b64_cap = TERN__BASE64_ENCODED_LEN(salt_len) + 1, msg_cap;
	int rc = tern__sasl_scram_nonce(s->test_nonce, &snonce);

	if (rc != 0)
		return rc;
	rc = TERN_ENOMEM;
	b64 = malloc(b64_cap);
	both = malloc(st->nonce_len + strlen(snonce) + 1);
	if (b64 == NULL || both == NULL)
		goto out;
	(void)tern__base64_encode(salt, salt_len, b64, b64_cap);
	/* RFC 5802 5.1 r: the server-first nonce is the client's nonce with
	 * the server's own characters appended. */
	memcpy(both, st->nonce, st->nonce_len);
	strcpy(both + st->nonce_len, snonce);
	msg_cap = strlen(both) + strlen(b64) + 32;
	msg = malloc(msg_cap);
	if (msg == NULL)
		goto out;
	st->sf_len = (size_t)snprintf(msg, msg_cap, "r=%s,s=%s,i=%u", both, b64, iterations);
	free(st->nonce);
	st->nonce = both;
	st->nonce_len = strlen(both);
	both = NULL;
	st->server_first = msg;
	rc = tern__sasl_server_output(s, msg, st->sf_len) ? TERN_ENOMEM : TERN__SASL_CHALLENGE;
out:
	free(snonce);
	free(b64);
	free(both);
	return rc;
}

static int scram_keys(struct tern__sasl_server *s, const struct tern__sasl_scram_keys *k)
{
	struct scram_server *st = s->mstate;

	memcpy(st->stored_key, k->stored_key, sizeof(st->stored_key));
	memcpy(st->server_key, k->server_key, sizeof(st->server_key));
	return server_first(s, st, k->salt, k->salt_len, k->iterations);
}

/* An unknown user gets a salt that looks like a real one and is the same
 * for the same name whenever the embedder gave a per-server key, random
 * keys, and a proof that cannot match. */
static int scram_unknown(struct tern__sasl_server *s)
{
	struct scram_server *st = s->mstate;
	unsigned char key[TERN__SASL_SHA256_LEN], mac[TERN__SASL_SHA256_LEN];
	const unsigned char *k = s->fake_key;
	size_t klen = s->fake_key_len;
	int rc;

	if (k == NULL) {
		rc = tern__sasl_random(key, sizeof(key));
		if (rc != 0)
			return rc;
		k = key;
		klen = sizeof(key);
	}
	rc = tern__sasl_hmac_sha256(k, klen, s->cred.authcid, strlen(s->cred.authcid), mac);
	if (rc == 0)
		rc = tern__sasl_random(st->stored_key, sizeof(st->stored_key));
	if (rc == 0)
		rc = tern__sasl_random(st->server_key, sizeof(st->server_key));
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != 0)
		return rc;
	st->unknown = true;
	rc = server_first(s, st, mac, FAKE_SALT_OCTETS, s->fake_iterations);
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

static int scram_checked(struct tern__sasl_server *s, bool ok)
{
	/* Only a refusal makes sense here (an authzid the embedder will not
	 * grant, a locked account); success needs keys. */
	if (ok)
		return TERN_EINVAL;
	return fail_with(s, "other-error");
}

static int client_final(struct tern__sasl_server *s, struct scram_server *st,
			const unsigned char *in, size_t len)
{
	const unsigned char *cbv, *nonce, *proof_b64;
	size_t cbv_len, nlen, plen, pos = 0, wo_len;
	unsigned char proof[TERN__SASL_SHA256_LEN + 3], sig[TERN__SASL_SHA256_LEN],
		client_key[TERN__SASL_SHA256_LEN], check[TERN__SASL_SHA256_LEN],
		ssig[TERN__SASL_SHA256_LEN];
	char *want_cb, v[4 + TERN__BASE64_ENCODED_LEN(TERN__SASL_SHA256_LEN)];
	ssize_t n;
	int rc, bad;

	if (memchr(in, 0, len) != NULL)
		return TERN__SASL_MALFORMED;
	/* RFC 5802 7: proof is the last attribute. */
	wo_len = len;
	while (wo_len > 0 && in[wo_len - 1] != ',')
		wo_len--;
	if (wo_len == 0)
		return TERN__SASL_MALFORMED;
	pos = wo_len;
	wo_len--; /* without the "," before p= */
	if (tern__sasl_scram_attr(in, len, &pos, 'p', &proof_b64, &plen) != 0 || pos != len)
		return TERN__SASL_MALFORMED;
	pos = 0;
	if (tern__sasl_scram_attr(in, wo_len, &pos, 'c', &cbv, &cbv_len) != 0 ||
	    tern__sasl_scram_attr(in, wo_len, &pos, 'r', &nonce, &nlen) != 0 ||
	    tern__sasl_scram_extensions(in, wo_len, pos) != 0)
		return TERN__SASL_MALFORMED;
	n = tern__base64_decode((const char *)proof_b64, plen, proof, sizeof(proof));
	if (n != TERN__SASL_SHA256_LEN)
		return TERN__SASL_MALFORMED;

	/* RFC 5802 5.1 c: "This REQUIRED attribute specifies the base64-
	 * encoded GS2 header and channel binding data." It must be the header
	 * the client sent first, plus this connection's binding data when "p". */
	want_cb = tern__sasl_scram_cbind((const unsigned char *)st->gs2, st->gs2_len, st->cb,
					 st->cb_len);
	if (want_cb == NULL)
		return TERN_ENOMEM;
	bad = strlen(want_cb) != cbv_len || memcmp(want_cb, cbv, cbv_len) != 0;
	free(want_cb);
	if (bad)
		return fail_with(s, "channel-bindings-dont-match");
	/* RFC 5802 5.1 r: the client-final nonce is the combined nonce of the
	 * server-first message, unchanged. */
	if (nlen != st->nonce_len || memcmp(nonce, st->nonce, nlen) != 0)
		return fail_with(s, "other-error");

	/* RFC 5802 3: ClientSignature := HMAC(StoredKey, AuthMessage);
	 * ClientKey := ClientProof XOR ClientSignature; the server checks
	 * H(ClientKey) == StoredKey. */
	rc = tern__sasl_scram_sign(st->stored_key, st->bare, st->bare_len, st->server_first,
				   st->sf_len, (const char *)in, wo_len, sig);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < sizeof(client_key); i++)
		client_key[i] = proof[i] ^ sig[i];
	rc = tern__sasl_sha256(client_key, sizeof(client_key), check);
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(proof, sizeof(proof));
	OPENSSL_cleanse(sig, sizeof(sig));
	if (rc != 0)
		return rc;
	/* Constant time, and an unknown user fails whatever the bytes say. */
	bad = CRYPTO_memcmp(check, st->stored_key, sizeof(check)) != 0;
	if (bad | st->unknown)
		return fail_with(s, "invalid-proof");

	rc = tern__sasl_scram_sign(st->server_key, st->bare, st->bare_len, st->server_first,
				   st->sf_len, (const char *)in, wo_len, ssig);
	if (rc != 0)
		return rc;
	/* RFC 5802 7: verifier = "v=" base64 ;; base-64 encoded
	 * ServerSignature. */
	memcpy(v, "v=", 2);
	n = tern__base64_encode(ssig, sizeof(ssig), v + 2, sizeof(v) - 2);
	OPENSSL_cleanse(ssig, sizeof(ssig));
	if (n < 0)
		return TERN_ENOMEM;
	return tern__sasl_server_output(s, v, (size_t)n + 2) ? TERN_ENOMEM : TERN__SASL_SUCCESS;
}

static int scram_step(struct tern__sasl_server *s, const unsigned char *in, size_t len,
		      bool have_input)
{
	struct scram_server *st = s->mstate;

	if (st == NULL) {
		/* RFC 4422 5: no initial response: an empty challenge. */
		if (!have_input)
			return tern__sasl_server_output(s, "", 0) ? TERN_ENOMEM
								 : TERN__SASL_CHALLENGE;
		st = calloc(1, sizeof(*st));
		if (st == NULL)
			return TERN_ENOMEM;
		s->mstate = st;
		return client_first(s, st, in, len);
	}
	return client_final(s, st, in, len);
}

static void scram_free(struct tern__sasl_server *s)
{
	struct scram_server *st = s->mstate;

	if (st == NULL)
		return;
	free(st->gs2);
	if (st->bare)
		OPENSSL_cleanse(st->bare, st->bare_len);
	free(st->bare);
	free(st->nonce);
	free(st->server_first);
	OPENSSL_cleanse(st, sizeof(*st));
	free(st);
	s->mstate = NULL;
}

const struct tern__sasl_server_mech tern__sasl_scram_server = {
	.step = scram_step,
	.checked = scram_checked,
	.scram_keys = scram_keys,
	.unknown_user = scram_unknown,
	.free = scram_free,
};
