/* A self-signed certificate for ternd's own host name, made once and kept
 * in the state directory, so that STARTTLS works out of the box. Sending
 * MTAs accept it (RFC 7435 opportunistic TLS does not authenticate); mail
 * clients warn, which is why the log says so and how to replace it. */
#ifndef TERND_SELFSIGNED_H
#define TERND_SELFSIGNED_H

#include <stdbool.h>
#include <stddef.h>

/* Makes sure STATE_DIR/tls/self-signed.{crt,key} exist and are valid for
 * hostname for at least another day (making them if not: ECDSA P-256,
 * SHA-256, one year), and returns their paths (malloc'd) in *cert_r and
 * *key_r. *made_r tells whether they were made now. Returns 0 or an errno
 * value with a message in err. */
int ternd_selfsigned_ensure(const char *state_dir, const char *hostname, char **cert_r,
			    char **key_r, bool *made_r, char *err, size_t err_size);

#endif
