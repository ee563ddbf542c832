/* SCRAM pieces shared by both sides (see scram.h). */
#include "sasl/scram.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sasl/prep.h"
#include "tern/tern.h"
#include "util/base64.h"

int tern__sasl_scram_attr(const unsigned char *in, size_t len, size_t *pos, char name,
			  const unsigned char **val_r, size_t *val_len_r)
{
	size_t i = *pos, start;

	if (len - i < 2 || in[i] != (unsigned char)name || in[i + 1] != '=')
		return -1;
	start = i + 2;
	i = start;
	while (i < len && in[i] != ',')
		i++;
	*val_r = in + start;
	*val_len_r = i - start;
	*pos = i < len ? i + 1 : i;
	/* A "," that ends the message would start an empty attribute. */
	if (i < len && i + 1 == len)
		return -1;
	return 0;
}

/* RFC 5802 7:
 *   attr-val   = ALPHA "=" value
 *   value      = 1*value-char
 *   value-char = value-safe-char / "="  (UTF-8, no NUL, no ",") */
int tern__sasl_scram_extensions(const unsigned char *in, size_t len, size_t pos)
{
	while (pos < len) {
		const unsigned char *v;
		size_t vlen;
		unsigned char c = in[pos];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return -1;
		if (tern__sasl_scram_attr(in, len, &pos, (char)c, &v, &vlen) != 0 || vlen == 0 ||
		    !tern__sasl_utf8_ok(v, vlen))
			return -1;
	}
	return 0;
}

int tern__sasl_scram_nonce(const char *test_nonce, char **nonce_r)
{
	unsigned char raw[TERN__SASL_SCRAM_NONCE_OCTETS];
	char enc[TERN__BASE64_ENCODED_LEN(TERN__SASL_SCRAM_NONCE_OCTETS) + 1];
	int rc;

	*nonce_r = NULL;
	if (test_nonce != NULL) {
		*nonce_r = strdup(test_nonce);
		return *nonce_r ? 0 : TERN_ENOMEM;
	}
	rc = tern__sasl_random(raw, sizeof(raw));
	if (rc != 0)
		return rc;
	/* Base64 of random octets is printable and has no ",", as RFC 5802 7
	 * asks of c-nonce and s-nonce. */
	(void)tern__base64_encode(raw, sizeof(raw), enc, sizeof(enc));
	*nonce_r = strdup(enc);
	return *nonce_r ? 0 : TERN_ENOMEM;
}

int tern__sasl_scram_sign(const unsigned char key[TERN__SASL_SHA256_LEN], const char *bare,
			  size_t bare_len, const char *server_first, size_t sf_len,
			  const char *final_wo_proof, size_t fw_len,
			  unsigned char out[TERN__SASL_SHA256_LEN])
{
	/* RFC 5802 3: AuthMessage := client-first-message-bare + "," +
	 * server-first-message + "," + client-final-message-without-proof */
	const struct tern__sasl_piece p[5] = {
		{bare, bare_len}, {",", 1}, {server_first, sf_len}, {",", 1}, {final_wo_proof, fw_len},
	};

	return tern__sasl_hmac_sha256_v(key, TERN__SASL_SHA256_LEN, p, 5, out);
}

char *tern__sasl_scram_cbind(const unsigned char *gs2, size_t gs2_len, const unsigned char *cb,
			     size_t cb_len)
{
	size_t n = gs2_len + cb_len;
	unsigned char *raw = malloc(n ? n : 1);
	char *enc;

	if (raw == NULL)
		return NULL;
	memcpy(raw, gs2, gs2_len);
	if (cb_len)
		memcpy(raw + gs2_len, cb, cb_len);
	enc = malloc(TERN__BASE64_ENCODED_LEN(n) + 1);
	if (enc != NULL)
		(void)tern__base64_encode(raw, n, enc, TERN__BASE64_ENCODED_LEN(n) + 1);
	free(raw);
	return enc;
}
