/* SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, client side (RFC 5802, RFC 7677).
 * The client proves it knows the password and then checks the server's
 * signature: a server that cannot produce it does not hold ServerKey. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sasl/client.h"
#include "sasl/gs2.h"
#include "sasl/prep.h"
#include "sasl/scram.h"
#include "util/base64.h"

struct scram_client {
	char *gs2;
	size_t gs2_len;
	char *bare;
	size_t bare_len;
	char *cnonce;
	unsigned char server_sig[TERN__SASL_SHA256_LEN];
	bool final_sent;
};

static void st_free(struct scram_client *st)
{
	if (st == NULL)
		return;
	free(st->gs2);
	free(st->bare);
	free(st->cnonce);
	OPENSSL_cleanse(st, sizeof(*st));
	free(st);
}

static void scram_client_free(struct tern__sasl_client *c)
{
	st_free(c->mstate);
	c->mstate = NULL;
}

static int client_first(struct tern__sasl_client *c)
{
	struct scram_client *st;
	size_t ulen = strlen(c->authcid), zlen = c->authzid ? strlen(c->authzid) : 0;
	char *user = NULL, *z = NULL, *msg = NULL;
	const char *cbname = c->cb_type == TERN__SASL_CB_TLS_EXPORTER ? TERN__SASL_CB_NAME_EXPORTER
								      : TERN__SASL_CB_NAME_END_POINT;
	int rc;

	/* RFC 5802 5.1 n: the user name and (2.2) the password go through
	 * SASLprep; prep.c says how much of it is done. */
	if (!tern__sasl_prep_ok((const unsigned char *)c->authcid, ulen) ||
	    !tern__sasl_prep_ok((const unsigned char *)c->password, strlen(c->password)) ||
	    (c->authzid && !tern__sasl_utf8_ok((const unsigned char *)c->authzid, zlen)))
		return TERN_EINVAL;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return TERN_ENOMEM;
	c->mstate = st;
	rc = tern__sasl_scram_nonce(c->test_nonce, &st->cnonce);
	if (rc != 0)
		return rc;
	rc = TERN_ENOMEM;
	user = malloc(3 * ulen + 1);
	z = malloc(3 * zlen + 1);
	if (user == NULL || z == NULL)
		goto out;
	tern__sasl_saslname_encode(c->authcid, ulen, user);
	tern__sasl_saslname_encode(c->authzid ? c->authzid : "", zlen, z);
	/* RFC 5802 6: "p" when binding, "y" when the client could bind but
	 * the server did not offer -PLUS, "n" when the client cannot bind. */
	size_t cap = strlen(cbname) + strlen(z) + 16;
	st->gs2 = malloc(cap);
	if (st->gs2 == NULL)
		goto out;
	if (c->mech == TERN__SASL_SCRAM_SHA_256_PLUS)
		snprintf(st->gs2, cap, "p=%s,%s%s,", cbname, zlen ? "a=" : "", z);
	else
		snprintf(st->gs2, cap, "%c,%s%s,", c->has_cb ? 'y' : 'n', zlen ? "a=" : "", z);
	st->gs2_len = strlen(st->gs2);
	cap = strlen(user) + strlen(st->cnonce) + 8;
	st->bare = malloc(cap);
	if (st->bare == NULL)
		goto out;
	st->bare_len = (size_t)snprintf(st->bare, cap, "n=%s,r=%s", user, st->cnonce);
	msg = malloc(st->gs2_len + st->bare_len + 1);
	if (msg == NULL)
		goto out;
	memcpy(msg, st->gs2, st->gs2_len);
	memcpy(msg + st->gs2_len, st->bare, st->bare_len + 1);
	tern__sasl_client_output_take(c, (unsigned char *)msg, st->gs2_len + st->bare_len);
	rc = TERN__SASL_CLIENT_RESPONSE;
out:
	free(user);
	free(z);
	return rc;
}

static int client_final(struct tern__sasl_client *c, struct scram_client *st,
			const unsigned char *in, size_t len)
{
	const unsigned char *nonce, *salt_b64, *iter;
	size_t nlen, slen, ilen, pos = 0, cn = strlen(st->cnonce);
	unsigned char salt[TERN__SASL_MAX_MESSAGE / 4 * 3], salted[TERN__SASL_SHA256_LEN],
		ck[TERN__SASL_SHA256_LEN], sk[TERN__SASL_SHA256_LEN],
		server_key[TERN__SASL_SHA256_LEN], sig[TERN__SASL_SHA256_LEN];
	unsigned long iterations = 0;
	char *cbind = NULL, *wo = NULL, *msg = NULL;
	char proof_b64[TERN__BASE64_ENCODED_LEN(TERN__SASL_SHA256_LEN) + 1];
	ssize_t salt_len;
	size_t wo_len, cap;
	int rc;

	if (memchr(in, 0, len) != NULL || len > TERN__SASL_MAX_MESSAGE)
		return TERN__SASL_CLIENT_ERROR;
	if (tern__sasl_scram_attr(in, len, &pos, 'r', &nonce, &nlen) != 0 ||
	    tern__sasl_scram_attr(in, len, &pos, 's', &salt_b64, &slen) != 0 ||
	    tern__sasl_scram_attr(in, len, &pos, 'i', &iter, &ilen) != 0 ||
	    tern__sasl_scram_extensions(in, len, pos) != 0)
		return TERN__SASL_CLIENT_ERROR;
	/* RFC 5802 5.1 r: the server's nonce starts with ours and adds its
	 * own part. */
	if (nlen <= cn || memcmp(nonce, st->cnonce, cn) != 0 ||
	    !tern__sasl_printable_ok(nonce, nlen))
		return TERN__SASL_CLIENT_ERROR;
	salt_len = tern__base64_decode((const char *)salt_b64, slen, salt, sizeof(salt));
	if (salt_len <= 0)
		return TERN__SASL_CLIENT_ERROR;
	if (ilen == 0 || ilen > 10 || iter[0] == '0')
		return TERN__SASL_CLIENT_ERROR;
	for (size_t i = 0; i < ilen; i++) {
		if (iter[i] < '0' || iter[i] > '9')
			return TERN__SASL_CLIENT_ERROR;
		iterations = iterations * 10 + (unsigned long)(iter[i] - '0');
	}
	if (iterations > TERN__SASL_SCRAM_MAX_ITERATIONS)
		return TERN__SASL_CLIENT_ERROR;

	rc = TERN_ENOMEM;
	if (!PKCS5_PBKDF2_HMAC(c->password, (int)strlen(c->password), salt, (int)salt_len,
			       (int)iterations, EVP_sha256(), (int)sizeof(salted), salted))
		goto out;
	if (tern__sasl_hmac_sha256(salted, sizeof(salted), "Client Key", 10, ck) != 0 ||
	    tern__sasl_sha256(ck, sizeof(ck), sk) != 0 ||
	    tern__sasl_hmac_sha256(salted, sizeof(salted), "Server Key", 10, server_key) != 0)
		goto out;
	cbind = tern__sasl_scram_cbind((const unsigned char *)st->gs2, st->gs2_len,
				       c->mech == TERN__SASL_SCRAM_SHA_256_PLUS ? c->cb_data : NULL,
				       c->mech == TERN__SASL_SCRAM_SHA_256_PLUS ? c->cb_len : 0);
	if (cbind == NULL)
		goto out;
	cap = strlen(cbind) + nlen + 8;
	wo = malloc(cap);
	if (wo == NULL)
		goto out;
	wo_len = (size_t)snprintf(wo, cap, "c=%s,r=%.*s", cbind, (int)nlen, (const char *)nonce);
	if ((rc = tern__sasl_scram_sign(sk, st->bare, st->bare_len, (const char *)in, len, wo,
					wo_len, sig)) != 0 ||
	    (rc = tern__sasl_scram_sign(server_key, st->bare, st->bare_len, (const char *)in, len,
					wo, wo_len, st->server_sig)) != 0)
		goto out;
	/* RFC 5802 3: ClientProof := ClientKey XOR ClientSignature */
	for (size_t i = 0; i < sizeof(sig); i++)
		sig[i] ^= ck[i];
	(void)tern__base64_encode(sig, sizeof(sig), proof_b64, sizeof(proof_b64));
	rc = TERN_ENOMEM;
	msg = malloc(wo_len + strlen(proof_b64) + 4);
	if (msg == NULL)
		goto out;
	size_t mlen = (size_t)sprintf(msg, "%s,p=%s", wo, proof_b64);
	tern__sasl_client_output_take(c, (unsigned char *)msg, mlen);
	st->final_sent = true;
	rc = TERN__SASL_CLIENT_RESPONSE;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ck, sizeof(ck));
	OPENSSL_cleanse(sk, sizeof(sk));
	OPENSSL_cleanse(server_key, sizeof(server_key));
	OPENSSL_cleanse(sig, sizeof(sig));
	free(cbind);
	free(wo);
	return rc;
}

static int server_final(struct tern__sasl_client *c, struct scram_client *st,
			const unsigned char *in, size_t len)
{
	const unsigned char *v;
	size_t vlen, pos = 0;
	unsigned char got[TERN__SASL_SHA256_LEN + 3];
	ssize_t n;

	/* RFC 5802 7: server-final-message = (server-error / verifier)
	 * ["," extensions]. An "e=" is a failure. */
	if (tern__sasl_scram_attr(in, len, &pos, 'v', &v, &vlen) != 0 ||
	    tern__sasl_scram_extensions(in, len, pos) != 0)
		return TERN__SASL_CLIENT_ERROR;
	n = tern__base64_decode((const char *)v, vlen, got, sizeof(got));
	if (n != TERN__SASL_SHA256_LEN ||
	    CRYPTO_memcmp(got, st->server_sig, TERN__SASL_SHA256_LEN) != 0)
		return TERN__SASL_CLIENT_ERROR;
	c->complete = true;
	/* RFC 4954 4: the server sent its additional data as a challenge;
	 * the client answers with an empty response. */
	return tern__sasl_client_output(c, "", 0) ? TERN_ENOMEM : TERN__SASL_CLIENT_RESPONSE;
}

static int scram_initial(struct tern__sasl_client *c)
{
	return client_first(c);
}

static int scram_client_step(struct tern__sasl_client *c, const unsigned char *in, size_t len)
{
	struct scram_client *st = c->mstate;

	if (st == NULL) {
		/* The server asked for the first message with an empty
		 * challenge (no initial response was used). */
		if (len > 0)
			return TERN__SASL_CLIENT_ERROR;
		return client_first(c);
	}
	if (c->complete)
		return TERN__SASL_CLIENT_ERROR;
	if (!st->final_sent)
		return client_final(c, st, in, len);
	return server_final(c, st, in, len);
}

const struct tern__sasl_client_mech tern__sasl_scram_client = {
	.initial = scram_initial,
	.step = scram_client_step,
	.free = scram_client_free,
};
