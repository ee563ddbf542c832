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

/* One DER element (X.690 8.1) of the given tag at *p, before end: its
 * content in *c and *clen, and *p moved past it. Definite lengths of at most
 * four octets, which every key fits. */
static bool der_take(const unsigned char **p, const unsigned char *end, unsigned char tag,
		     const unsigned char **c, size_t *clen)
{
	const unsigned char *q = *p;
	size_t len;

	if (end - q < 2 || q[0] != tag)
		return false;
	len = q[1];
	q += 2;
	if (len & 0x80) {
		size_t n = len & 0x7f;

		if (n == 0 || n > 4 || (size_t)(end - q) < n)
			return false;
		len = 0;
		while (n-- > 0)
			len = (len << 8) | *q++;
	}
	if ((size_t)(end - q) < len)
		return false;
	*c = q;
	*clen = len;
	*p = q + len;
	return true;
}

/* The RSAPublicKey (PKCS#1) inside an RSA SubjectPublicKeyInfo (RFC 5280
 * 4.1.2.7, RFC 3279 2.3.1), found by hand: OpenSSL 3.0's d2i_PUBKEY() goes
 * through its generic decoders, about 500 times slower here (0.5 ms against
 * 1 us for d2i_PublicKey on this machine) and the dominant cost of a
 * verification. NULL when der is not an RSA SubjectPublicKeyInfo. */
static const unsigned char *spki_rsa(const unsigned char *der, size_t len, size_t *key_len)
{
	static const unsigned char rsa_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
	const unsigned char *end = der + len, *p = der, *seq, *alg, *oid, *bits;
	size_t seq_len, alg_len, oid_len, bits_len;

	if (!der_take(&p, end, 0x30, &seq, &seq_len) || p != end)
		return NULL;
	p = seq;
	end = seq + seq_len;
	if (!der_take(&p, end, 0x30, &alg, &alg_len) || !der_take(&p, end, 0x03, &bits, &bits_len) ||
	    p != end)
		return NULL;
	/* AlgorithmIdentifier: rsaEncryption, parameters NULL or absent. */
	{
		const unsigned char *a = alg, *a_end = alg + alg_len, *null;
		size_t null_len;

		if (!der_take(&a, a_end, 0x06, &oid, &oid_len) || oid_len != sizeof(rsa_oid) ||
		    memcmp(oid, rsa_oid, sizeof(rsa_oid)) != 0)
			return NULL;
		if (a != a_end && (!der_take(&a, a_end, 0x05, &null, &null_len) || null_len != 0 ||
				   a != a_end))
			return NULL;
	}
	if (bits_len < 2 || bits[0] != 0)   /* no unused bits in a key */
		return NULL;
	*key_len = bits_len - 1;
	return bits + 1;
}

static EVP_PKEY *rsa_key(const unsigned char *der, size_t len)
{
	size_t key_len = len;
	const unsigned char *key = spki_rsa(der, len, &key_len);
	const unsigned char *p;
	EVP_PKEY *pkey;

	/* RFC 6376 3.6.1 p= is a SubjectPublicKeyInfo; some publish the bare
	 * RSAPublicKey (PKCS#1), which dkimpy and OpenDKIM accept too. */
	if (key == NULL) {
		key = der;
		key_len = len;
	}
	p = key;
	pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)key_len);
	if (pkey != NULL && p != key + key_len) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
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
