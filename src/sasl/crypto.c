/* OpenSSL 3 wrappers for the SASL mechanisms (see crypto.h). EVP_MAC is
 * fetched per call: no process-global handle is cached, so two servers in
 * one process share nothing but OpenSSL's own default library context. */
#include "sasl/crypto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "tern/tern.h"

static int hmac(const char *digest, const void *key, size_t key_len, const struct tern__sasl_piece *pieces,
		size_t n, unsigned char *out, size_t out_len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = NULL;
	int rc = TERN_ENOMEM;
	size_t got = 0;
	/* OSSL_PARAM wants a non-const pointer; it only reads the string. */
	OSSL_PARAM params[2] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
		OSSL_PARAM_construct_end(),
	};
	/* An empty key is legal HMAC (RFC 2104 pads it with zeros), but
	 * EVP_MAC_init rejects a NULL key pointer. */
	static const unsigned char nokey[1] = {0};

	if (mac == NULL)
		return TERN_ENOMEM;
	ctx = EVP_MAC_CTX_new(mac);
	if (ctx == NULL)
		goto out;
	if (!EVP_MAC_init(ctx, key_len ? key : nokey, key_len, params))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (pieces[i].len && !EVP_MAC_update(ctx, pieces[i].p, pieces[i].len))
			goto out;
	}
	if (!EVP_MAC_final(ctx, out, &got, out_len) || got != out_len)
		goto out;
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

int tern__sasl_hmac_sha256(const void *key, size_t key_len, const void *data, size_t data_len,
			   unsigned char out[TERN__SASL_SHA256_LEN])
{
	struct tern__sasl_piece p = {data, data_len};

	return hmac("SHA256", key, key_len, &p, 1, out, TERN__SASL_SHA256_LEN);
}

int tern__sasl_hmac_sha256_v(const void *key, size_t key_len, const struct tern__sasl_piece *pieces,
			     size_t n, unsigned char out[TERN__SASL_SHA256_LEN])
{
	return hmac("SHA256", key, key_len, pieces, n, out, TERN__SASL_SHA256_LEN);
}

int tern__sasl_hmac_md5(const void *key, size_t key_len, const void *data, size_t data_len,
			unsigned char out[TERN__SASL_MD5_LEN])
{
	struct tern__sasl_piece p = {data, data_len};

	return hmac("MD5", key, key_len, &p, 1, out, TERN__SASL_MD5_LEN);
}

int tern__sasl_sha256(const void *data, size_t len, unsigned char out[TERN__SASL_SHA256_LEN])
{
	unsigned int got = 0;

	if (!EVP_Digest(data, len, out, &got, EVP_sha256(), NULL) || got != TERN__SASL_SHA256_LEN)
		return TERN_ENOMEM;
	return 0;
}

int tern__sasl_random(void *buf, size_t len)
{
	if (len > INT_MAX)
		return TERN_EINVAL;
	if (RAND_bytes(buf, (int)len) != 1)
		return TERN_EIO;
	return 0;
}

void tern__sasl_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
}

void tern__sasl_free_secret(void *p, size_t len)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, len);
		free(p);
	}
}

void tern__sasl_free_str(char *p)
{
	if (p != NULL)
		tern__sasl_free_secret(p, strlen(p));
}

bool tern__sasl_copy_str(char **dst, const char *src)
{
	if (src == NULL)
		return true;
	*dst = strdup(src);
	return *dst != NULL;
}
