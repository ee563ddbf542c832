/* TLS on the client side of a connection (outbound SMTP): one context per
 * delivery agent, one SSL object per connection.
 *
 * Verification is decided after the handshake, not during it: the context
 * verifies (chain to the CA file, or to the system's trust store, and the
 * name we connected to, through SSL_set1_host) but never aborts the
 * handshake for it, so that opportunistic TLS (RFC 7435: encrypt whatever
 * the certificate) and verified TLS (a smarthost, REQUIRETLS) share one
 * path and differ only in what the caller does with
 * tern__tls_client_verified(). TLS 1.2 at least, no renegotiation, no
 * compression, buffers released while idle, as on the server side. */
#ifndef TERN_NET_TLS_CLIENT_H
#define TERN_NET_TLS_CLIENT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

struct tern__tls_client;

/* ca_file: PEM CAs to verify servers against; NULL: the system's default
 * trust store (OpenSSL's default paths). Returns 0, TERN_ENOMEM, or
 * TERN_EINVAL (the CA file cannot be read: err says why). */
int tern__tls_client_new(struct tern__tls_client **t_r, const char *ca_file, char *err,
			 size_t err_size);
void tern__tls_client_free(struct tern__tls_client **t);

/* A new SSL object in client mode for a connection to host: a DNS name is
 * sent as SNI and checked against the certificate; an address is checked
 * against its iPAddress names (no SNI); NULL: nothing is checked. NULL on
 * failure. */
SSL *tern__tls_client_ssl_new(struct tern__tls_client *t, const char *host);

/* After the handshake: whether the peer's certificate chains to a trusted
 * CA and names the host given to ssl_new. why (may be NULL) gets OpenSSL's
 * reason when not ("certificate has expired", "hostname mismatch"). */
bool tern__tls_client_verified(SSL *ssl, char *why, size_t why_size);

#endif
