/* DKIM keys: private keys from PEM or freshly made, the key record that
 * publishes one, and the signature primitives both signer and verifier use.
 * OpenSSL 3 EVP throughout. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auth/dkim_int.h"
#include "util/base64.h"

static int key_wrap(EVP_PKEY *pkey, tern_dkim_key **key_r)
{
	tern_dkim_key *k;
	int id = EVP_PKEY_get_base_id(pkey);

	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		return TERN_EINVAL;
	}
	/* RFC 8301 3.2: "Signers MUST use RSA keys of at least 1024 bits". */
	if (id == EVP_PKEY_RSA && (EVP_PKEY_get_bits(pkey) < TERN__DKIM_RSA_MIN_BITS ||
				   EVP_PKEY_get_bits(pkey) > TERN__DKIM_RSA_MAX_BITS)) {
		EVP_PKEY_free(pkey);
		return TERN_EINVAL;
	}
	k = calloc(1, sizeof *k);
	if (k == NULL) {
		EVP_PKEY_free(pkey);
		return TERN_ENOMEM;
	}
	k->pkey = pkey;
	k->alg = id == EVP_PKEY_RSA ? TERN_DKIM_RSA_SHA256 : TERN_DKIM_ED25519_SHA256;
	k->bits = (unsigned)EVP_PKEY_get_bits(pkey);
	*key_r = k;
	return 0;
}

/* A passphrase callback that gives none: encrypted keys fail instead of
 * OpenSSL prompting on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

int tern_dkim_key_from_pem(const char *pem, size_t len, tern_dkim_key **key_r)
{
	BIO *bio;
	EVP_PKEY *pkey;

	if (pem == NULL || key_r == NULL || len > INT32_MAX)
		return TERN_EINVAL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return TERN_ENOMEM;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (pkey == NULL)
		return TERN_EINVAL;
	return key_wrap(pkey, key_r);
}

int tern_dkim_key_generate(enum tern_dkim_algorithm alg, unsigned bits, tern_dkim_key **key_r)
{
	EVP_PKEY *pkey = NULL;

	if (key_r == NULL)
		return TERN_EINVAL;
	if (alg == TERN_DKIM_RSA_SHA256) {
		if (bits == 0)
			bits = 2048;
		if (bits < TERN__DKIM_RSA_MIN_BITS || bits > TERN__DKIM_RSA_MAX_BITS)
			return TERN_EINVAL;
		pkey = EVP_RSA_gen(bits);
	} else if (alg == TERN_DKIM_ED25519_SHA256) {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		return TERN_EINVAL;
	}
	if (pkey == NULL) {
		ERR_clear_error();
		return TERN_EIO;
	}
	return key_wrap(pkey, key_r);
}

enum tern_dkim_algorithm tern_dkim_key_algorithm(const tern_dkim_key *key)
{
	return key->alg;
}

unsigned tern_dkim_key_bits(const tern_dkim_key *key)
{
	return key->bits;
}

int tern_dkim_key_to_pem(const tern_dkim_key *key, char **pem_r)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	if (bio == NULL)
		return TERN_ENOMEM;
	if (PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(bio, &p)) <= 0) {
		BIO_free(bio);
		ERR_clear_error();
		return TERN_ENOMEM;
	}
	out = malloc((size_t)n + 1);
	if (out != NULL) {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(bio);
	if (out == NULL)
		return TERN_ENOMEM;
	*pem_r = out;
	return 0;
}

int tern_dkim_key_dns_record(const tern_dkim_key *key, char **txt_r)
{
	unsigned char *der = NULL, raw[32];
	size_t der_len, enc_size;
	const char *prefix;
	char *txt;
	int rc = 0;

	if (key->alg == TERN_DKIM_ED25519_SHA256) {
		/* RFC 8463 4.2: p= is the raw public key, not a DER structure. */
		der_len = sizeof raw;
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &der_len) != 1)
			return TERN_ENOMEM;
		prefix = "v=DKIM1; k=ed25519; p=";
	} else {
		int n = i2d_PUBKEY(key->pkey, &der);

		if (n <= 0)
			return TERN_ENOMEM;
		der_len = (size_t)n;
		prefix = "v=DKIM1; k=rsa; p=";
	}
	enc_size = strlen(prefix) + TERN__BASE64_ENCODED_LEN(der_len) + 1;
	txt = malloc(enc_size);
	if (txt == NULL) {
		rc = TERN_ENOMEM;
	} else {
		strcpy(txt, prefix);
		tern__base64_encode(der ? der : raw, der_len, txt + strlen(prefix),
				    enc_size - strlen(prefix));
		*txt_r = txt;
	}
	OPENSSL_free(der);
	return rc;
}

void tern_dkim_key_free(tern_dkim_key **key)
{
	if (key == NULL || *key == NULL)
		return;
	EVP_PKEY_free((*key)->pkey);
	free(*key);
	*key = NULL;
}

int tern__dkim_sign_digest(EVP_PKEY *pkey, enum tern_dkim_algorithm alg,
			   const unsigned char digest[TERN__DKIM_DIGEST_LEN], unsigned char *sig,
			   size_t *sig_len)
{
	int ok = 0;

	if (alg == TERN_DKIM_ED25519_SHA256) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		ok = md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) == 1 &&
		     EVP_DigestSign(md, sig, sig_len, digest, TERN__DKIM_DIGEST_LEN) == 1;
		EVP_MD_CTX_free(md);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);

		ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		     EVP_PKEY_sign(ctx, sig, sig_len, digest, TERN__DKIM_DIGEST_LEN) == 1;
		EVP_PKEY_CTX_free(ctx);
	}
	if (!ok)
		ERR_clear_error();
	return ok ? 0 : TERN_EIO;
}

int tern__dkim_verify_digest(EVP_PKEY *pkey, enum tern_dkim_algorithm alg,
			     const unsigned char digest[TERN__DKIM_DIGEST_LEN],
			     const unsigned char *sig, size_t sig_len)
{
	int rc;

	if (alg == TERN_DKIM_ED25519_SHA256) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		if (md == NULL)
			return TERN_ENOMEM;
		rc = EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1 &&
		     EVP_DigestVerify(md, sig, sig_len, digest, TERN__DKIM_DIGEST_LEN) == 1;
		EVP_MD_CTX_free(md);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);

		if (ctx == NULL)
			return TERN_ENOMEM;
		rc = EVP_PKEY_verify_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		     EVP_PKEY_verify(ctx, sig, sig_len, digest, TERN__DKIM_DIGEST_LEN) == 1;
		EVP_PKEY_CTX_free(ctx);
	}
	ERR_clear_error();
	return rc;
}
