/* tern_cram_md5_secret() and tern_cram_md5_verify(): CRAM-MD5 (RFC 2195)
 * against a stored HMAC-MD5 context instead of the password.
 *
 * Why the deprecated MD5_CTX API: the secret is the MD5 chaining state
 * (A, B, C, D) after one 64-octet block has been absorbed, and a resumed
 * digest needs that state written back into a context. OpenSSL 3's EVP
 * interface neither exports nor imports a digest's internal state, and HMAC
 * via EVP_MAC needs the key itself. MD5_CTX is the only OpenSSL way to do
 * it, so this file, and only this file, opts back into the deprecated
 * declarations. test_sasl_cram checks the result against HMAC-MD5 computed
 * the normal way. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/md5.h>

#include "sasl/crypto.h"
#include "tern/sasl.h"
#include "util/hex.h"

#define BLOCK 64

/* Dovecot's layout (src/lib/hmac-cram-md5.c): the outer context's A, B, C,
 * D, then the inner context's, each word little-endian. */
static void put_state(unsigned char *p, const MD5_CTX *c)
{
	const MD5_LONG w[4] = {c->A, c->B, c->C, c->D};

	for (int i = 0; i < 4; i++) {
		p[4 * i] = (unsigned char)(w[i] & 0xff);
		p[4 * i + 1] = (unsigned char)(w[i] >> 8 & 0xff);
		p[4 * i + 2] = (unsigned char)(w[i] >> 16 & 0xff);
		p[4 * i + 3] = (unsigned char)(w[i] >> 24 & 0xff);
	}
}

/* A context positioned just after one 64-octet pad block with state p. */
static void get_state(MD5_CTX *c, const unsigned char *p)
{
	MD5_LONG w[4];

	for (int i = 0; i < 4; i++)
		w[i] = (MD5_LONG)p[4 * i] | (MD5_LONG)p[4 * i + 1] << 8 |
		       (MD5_LONG)p[4 * i + 2] << 16 | (MD5_LONG)p[4 * i + 3] << 24;
	memset(c, 0, sizeof(*c));
	c->A = w[0];
	c->B = w[1];
	c->C = w[2];
	c->D = w[3];
	c->Nl = BLOCK * 8; /* bits hashed so far */
	c->Nh = 0;
	c->num = 0;
}

int tern_cram_md5_secret(const char *password, size_t password_len,
			 unsigned char secret[TERN_CRAM_MD5_SECRET_LEN])
{
	unsigned char key[BLOCK], pad[BLOCK];
	MD5_CTX ctx;

	if (password == NULL || secret == NULL)
		return TERN_EINVAL;
	memset(key, 0, sizeof(key));
	/* RFC 2104 2: keys longer than B bytes are first hashed using H. */
	if (password_len > BLOCK)
		MD5((const unsigned char *)password, password_len, key);
	else
		memcpy(key, password, password_len);

	for (int i = 0; i < BLOCK; i++)
		pad[i] = key[i] ^ 0x5c;
	MD5_Init(&ctx);
	MD5_Update(&ctx, pad, BLOCK);
	put_state(secret, &ctx);
	for (int i = 0; i < BLOCK; i++)
		pad[i] = key[i] ^ 0x36;
	MD5_Init(&ctx);
	MD5_Update(&ctx, pad, BLOCK);
	put_state(secret + 16, &ctx);

	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	return 0;
}



int tern_cram_md5_verify(const unsigned char secret[TERN_CRAM_MD5_SECRET_LEN],
			 const char *challenge, size_t challenge_len, const char *digest_hex,
			 size_t digest_len)
{
	unsigned char want[MD5_DIGEST_LENGTH], inner[MD5_DIGEST_LENGTH], got[MD5_DIGEST_LENGTH];
	MD5_CTX ctx;
	int bad = 0;

	if (secret == NULL || challenge == NULL || digest_hex == NULL)
		return TERN_EINVAL;
	/* RFC 2195 2: the digest is "represented as a sequence of 16 octets
	 * ... in hexadecimal", 32 digits. */
	if (digest_len != 2 * MD5_DIGEST_LENGTH)
		return 0;
	for (size_t i = 0; i < MD5_DIGEST_LENGTH; i++) {
		int hi = tern__hex_value((unsigned char)digest_hex[2 * i]);
		int lo = tern__hex_value((unsigned char)digest_hex[2 * i + 1]);

		bad |= hi < 0 || lo < 0;
		want[i] = (unsigned char)((hi & 15) << 4 | (lo & 15));
	}

	get_state(&ctx, secret + 16);
	MD5_Update(&ctx, challenge, challenge_len);
	MD5_Final(inner, &ctx);
	get_state(&ctx, secret);
	MD5_Update(&ctx, inner, sizeof(inner));
	MD5_Final(got, &ctx);

	int match = CRYPTO_memcmp(want, got, sizeof(got)) == 0 && !bad;

	OPENSSL_cleanse(&ctx, sizeof(ctx));
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(got, sizeof(got));
	return match;
}
