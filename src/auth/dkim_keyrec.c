/* A DKIM key record (RFC 6376 3.6.1, RFC 8463 4.2) parsed and checked
 * against the signature that asked for it (RFC 6376 6.1.2). */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "auth/dkim_int.h"
#include "auth/tag_list.h"
#include "util/base64.h"

#define KEYREC_MAX_TAGS 32
#define KEYREC_P_MAX 4096 /* base64 of an 8192-bit key's SubjectPublicKeyInfo is ~1400 */

static bool list_has(const struct tern__tag *t, const char *want)
{
	size_t pos = 0, n, wlen = strlen(want);
	const char *item;

	while (tern__dkim_list_next(t->value, t->value_len, &pos, &item, &n))
		if (n == wlen && memcmp(item, want, n) == 0)
			return true;
	return false;
}

#define FAIL(why)                                                                          \
	do {                                                                               \
		*reason = (why);                                                           \
		return TERN_DKIM_PERMERROR;                                                \
	} while (0)

static EVP_PKEY *rsa_key(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)len);

	/* RFC 6376 3.6.1 p= is a SubjectPublicKeyInfo; some publish the bare
	 * RSAPublicKey (PKCS#1), which dkimpy and OpenDKIM accept too. */
	if (pkey == NULL || p != der + len) {
		EVP_PKEY_free(pkey);
		p = der;
		pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
		if (pkey != NULL && p != der + len) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
	}
	if (pkey != NULL && EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	ERR_clear_error();
	return pkey;
}

int tern__dkim_keyrec_parse(const char *txt, size_t len, enum tern_dkim_algorithm alg,
			    struct tern__dkim_keyrec *rec, const char **reason)
{
	struct tern__tag tags[KEYREC_MAX_TAGS];
	const struct tern__tag *t;
	char b64[KEYREC_P_MAX + 1];
	unsigned char der[TERN__BASE64_DECODED_MAX(KEYREC_P_MAX)];
	size_t b64_len;
	ssize_t der_len;
	int count;

	memset(rec, 0, sizeof *rec);
	count = tern__tag_parse(txt, len, tags, KEYREC_MAX_TAGS);
	if (count < 0)
		FAIL("key record syntax error");
	/* RFC 6376 3.6.1 v=: "If specified, this tag MUST be set to "DKIM1"
	 * ... This tag MUST be the first tag in the record." */
	if ((t = tern__tag_find(tags, (size_t)count, "v")) != NULL &&
	    (t != &tags[0] || !tern__tag_value_is(t, "DKIM1")))
		FAIL("key record version is not DKIM1");
	if ((t = tern__tag_find(tags, (size_t)count, "h")) != NULL && !list_has(t, "sha256"))
		FAIL("key record does not allow sha256 (h=)");
	t = tern__tag_find(tags, (size_t)count, "k");
	if (t == NULL || tern__tag_value_is(t, "rsa")) {
		if (alg != TERN_DKIM_RSA_SHA256)
			FAIL("key type does not match the signature algorithm");
	} else if (tern__tag_value_is(t, "ed25519")) {
		if (alg != TERN_DKIM_ED25519_SHA256)
			FAIL("key type does not match the signature algorithm");
	} else {
		FAIL("unknown key type");
	}
	if ((t = tern__tag_find(tags, (size_t)count, "s")) != NULL && !list_has(t, "*") &&
	    !list_has(t, "email"))
		FAIL("key is not for email (s=)");
	if ((t = tern__tag_find(tags, (size_t)count, "t")) != NULL) {
		rec->testing = list_has(t, "y");
		rec->strict = list_has(t, "s");
	}
	t = tern__tag_find(tags, (size_t)count, "p");
	if (t == NULL)
		FAIL("key record has no p=");
	if (t->value_len > KEYREC_P_MAX)
		FAIL("key record p= is too long");
	b64_len = tern__tag_strip_fws(t->value, t->value_len, b64);
	/* RFC 6376 3.6.1: "An empty value means that this public key has been
	 * revoked." */
	if (b64_len == 0)
		FAIL("key revoked");
	der_len = tern__base64_decode(b64, b64_len, der, sizeof der);
	if (der_len <= 0)
		FAIL("key record p= is not base64");
	if (alg == TERN_DKIM_ED25519_SHA256) {
		if (der_len != 32)
			FAIL("Ed25519 key is not 32 octets");
		rec->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
	} else {
		rec->pkey = rsa_key(der, (size_t)der_len);
	}
	ERR_clear_error();
	if (rec->pkey == NULL)
		FAIL("key record p= is not a public key of its type");
	rec->alg = alg;
	rec->bits = (unsigned)EVP_PKEY_get_bits(rec->pkey);
	*reason = NULL;
	return 0;
}

void tern__dkim_keyrec_free(struct tern__dkim_keyrec *rec)
{
	EVP_PKEY_free(rec->pkey);
	rec->pkey = NULL;
}
