/* What the SCRAM-SHA-256 server and client share (RFC 5802, RFC 7677):
 * attribute parsing, nonces, the channel-binding attribute and the
 * signature over AuthMessage. */
#ifndef TERN_SASL_SCRAM_H
#define TERN_SASL_SCRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "sasl/crypto.h"

/* Octets of a random nonce before base64: 18 give 24 characters, no "=". */
#define TERN__SASL_SCRAM_NONCE_OCTETS 18

/* Largest iteration count a client accepts from a server: a hostile
 * server must not make the client spin for minutes. */
#define TERN__SASL_SCRAM_MAX_ITERATIONS 1000000u

/* RFC 5929 / RFC 9266 channel-binding type names. */
#define TERN__SASL_CB_NAME_EXPORTER "tls-exporter"
#define TERN__SASL_CB_NAME_END_POINT "tls-server-end-point"

/* Reads the attribute `name` "=" value at in[*pos..len): the value runs to
 * the next "," or the end; *pos moves past that ",". The value may be
 * empty (callers check); a "," ending the message is -1. 0 or -1. */
int tern__sasl_scram_attr(const unsigned char *in, size_t len, size_t *pos, char name,
			  const unsigned char **val_r, size_t *val_len_r);

/* Checks the optional extensions that may end a message from *pos:
 * ("," attr-val)* with attr-val = ALPHA "=" value. 0 or -1. */
int tern__sasl_scram_extensions(const unsigned char *in, size_t len, size_t pos);

/* A fresh nonce (or a copy of test_nonce) as a heap string. 0, TERN_ENOMEM
 * or TERN_EIO. */
int tern__sasl_scram_nonce(const char *test_nonce, char **nonce_r);

/* AuthMessage signature: HMAC(key, bare "," server_first "," final_wo_proof). */
int tern__sasl_scram_sign(const unsigned char key[TERN__SASL_SHA256_LEN], const char *bare,
			  size_t bare_len, const char *server_first, size_t sf_len,
			  const char *final_wo_proof, size_t fw_len,
			  unsigned char out[TERN__SASL_SHA256_LEN]);

/* The value of "c=": base64(gs2_header || cb_data). A heap string, or NULL
 * when out of memory. */
char *tern__sasl_scram_cbind(const unsigned char *gs2, size_t gs2_len, const unsigned char *cb,
			     size_t cb_len);

#endif
