/* tern_scram_sha256_keys(): what a server stores for SCRAM-SHA-256. */
#include <limits.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sasl/crypto.h"
#include "tern/sasl.h"

/* RFC 5802 3:
 *   SaltedPassword  := Hi(Normalize(password), salt, i)
 *   ClientKey       := HMAC(SaltedPassword, "Client Key")
 *   StoredKey       := H(ClientKey)
 *   ServerKey       := HMAC(SaltedPassword, "Server Key")
 * Hi() is PBKDF2 with HMAC as the PRF and dkLen the hash length. */
int tern_scram_sha256_keys(const char *password, size_t password_len, const unsigned char *salt,
			   size_t salt_len, unsigned iterations,
			   unsigned char stored_key[TERN_SCRAM_SHA256_KEY_LEN],
			   unsigned char server_key[TERN_SCRAM_SHA256_KEY_LEN])
{
	unsigned char salted[TERN__SASL_SHA256_LEN];
	unsigned char client_key[TERN__SASL_SHA256_LEN];
	int rc = TERN_ENOMEM;

	if (password == NULL || salt == NULL || stored_key == NULL || server_key == NULL ||
	    salt_len == 0 || iterations < 1)
		return TERN_EINVAL;
	if (password_len > INT_MAX || salt_len > INT_MAX || iterations > INT_MAX)
		return TERN_EINVAL;
	if (!PKCS5_PBKDF2_HMAC(password, (int)password_len, salt, (int)salt_len, (int)iterations,
			       EVP_sha256(), (int)sizeof(salted), salted))
		goto out;
	if (tern__sasl_hmac_sha256(salted, sizeof(salted), "Client Key", 10, client_key) != 0 ||
	    tern__sasl_sha256(client_key, sizeof(client_key), stored_key) != 0 ||
	    tern__sasl_hmac_sha256(salted, sizeof(salted), "Server Key", 10, server_key) != 0)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	return rc;
}
