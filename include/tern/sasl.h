/* libtern SASL: helpers an embedder needs to store and check credentials
 * without keeping plain passwords. The mechanisms themselves (src/sasl) are
 * driven by the protocol engines.
 *
 * Threads: every function here is reentrant and keeps no global state. */
#ifndef TERN_SASL_H
#define TERN_SASL_H

#include <stddef.h>

#include "tern/tern.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_SCRAM_SHA256_KEY_LEN 32

/* RFC 5802 3 / RFC 7677: derives what a server stores for SCRAM-SHA-256:
 * SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations),
 * StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key")),
 * ServerKey = HMAC(SaltedPassword, "Server Key").
 * password is the SASLprep'd password as UTF-8 octets. Returns 0,
 * TERN_EINVAL (NULL argument, empty salt, iterations < 1) or TERN_ENOMEM. */
int tern_scram_sha256_keys(const char *password, size_t password_len, const unsigned char *salt,
			   size_t salt_len, unsigned iterations,
			   unsigned char stored_key[TERN_SCRAM_SHA256_KEY_LEN],
			   unsigned char server_key[TERN_SCRAM_SHA256_KEY_LEN]);

#define TERN_CRAM_MD5_SECRET_LEN 32

/* CRAM-MD5 (RFC 2195) without the plain password: the secret is the MD5
 * chaining state after the HMAC-MD5 outer pad block, then after the inner pad
 * block (16 octets each, as four little-endian 32-bit words), which is the
 * layout Dovecot's CRAM-MD5 password scheme stores (hex-encoded there). A
 * password longer than 64 octets is first hashed, as RFC 2104 says. The
 * secret is still password-equivalent for CRAM-MD5 itself, which is why
 * CRAM-MD5 is off by default. Returns 0 or TERN_EINVAL (NULL argument). */
int tern_cram_md5_secret(const char *password, size_t password_len,
			 unsigned char secret[TERN_CRAM_MD5_SECRET_LEN]);

/* Checks a CRAM-MD5 response digest (32 hex digits, either case) against
 * the challenge the server sent and a secret from tern_cram_md5_secret().
 * Compares in constant time. Returns 1 when it matches, 0 when not (also for
 * a malformed digest), TERN_EINVAL for a NULL argument. */
int tern_cram_md5_verify(const unsigned char secret[TERN_CRAM_MD5_SECRET_LEN],
			 const char *challenge, size_t challenge_len, const char *digest_hex,
			 size_t digest_len);

#ifdef __cplusplus
}
#endif
#endif
