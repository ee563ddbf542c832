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

#ifdef __cplusplus
}
#endif
#endif
