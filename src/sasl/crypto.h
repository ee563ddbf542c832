/* The few primitives the SASL mechanisms share, each a thin wrapper over
 * OpenSSL 3 so that every mechanism file reads as protocol, not as EVP
 * plumbing. All return 0 or a negative TERN_E* value. */
#ifndef TERN_SASL_CRYPTO_H
#define TERN_SASL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#define TERN__SASL_SHA256_LEN 32
#define TERN__SASL_MD5_LEN 16

/* out = HMAC-SHA-256(key, data). */
int tern__sasl_hmac_sha256(const void *key, size_t key_len, const void *data, size_t data_len,
			   unsigned char out[TERN__SASL_SHA256_LEN]);

struct tern__sasl_piece {
	const void *p;
	size_t len;
};

/* out = HMAC-SHA-256(key, pieces[0] || ... || pieces[n-1]): SCRAM signs
 * AuthMessage, pieces joined by commas, without building it. */
int tern__sasl_hmac_sha256_v(const void *key, size_t key_len, const struct tern__sasl_piece *pieces,
			     size_t n, unsigned char out[TERN__SASL_SHA256_LEN]);

/* out = SHA-256(data). */
int tern__sasl_sha256(const void *data, size_t len, unsigned char out[TERN__SASL_SHA256_LEN]);

/* out = HMAC-MD5(key, data). */
int tern__sasl_hmac_md5(const void *key, size_t key_len, const void *data, size_t data_len,
			unsigned char out[TERN__SASL_MD5_LEN]);

/* Fills buf with len octets from RAND_bytes. TERN_EIO when the generator
 * fails (never silently weaker randomness). */
int tern__sasl_random(void *buf, size_t len);

/* Lower-case hex of in[0..len) into out (2 * len octets, no NUL). */
void tern__sasl_hex(const unsigned char *in, size_t len, char *out);

/* Frees len octets at p after wiping them; NULL is fine. */
void tern__sasl_free_secret(void *p, size_t len);
/* The same for a NUL-terminated string. */
void tern__sasl_free_str(char *p);
/* *dst = a copy of src (NULL stays NULL, *dst untouched). False when out of
 * memory. */
bool tern__sasl_copy_str(char **dst, const char *src);

#endif
