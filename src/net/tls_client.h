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
#include <stdint.h>

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

/* One TLSA record (RFC 6698 2.1) for DANE verification. */
struct tern__tlsa {
	uint8_t usage, selector, mtype;
	unsigned char *data;   /* owned by whoever made the record */
	size_t len;
};

/* A new SSL object for a DANE-authenticated connection to host (RFC 7672
 * 3.2): OpenSSL's DANE verification (SSL_dane_enable) with host as the
 * TLSA base domain, the SNI name and the reference identifier of
 * DANE-TA(2) records; DANE-EE(3) records match the server's key or
 * certificate with no name check and no expiry check (RFC 7672 3.1.1).
 * tlsa: the usable records (n > 0; unusable ones are skipped by OpenSSL
 * too). tern__tls_client_verified() then says whether a record matched.
 * NULL on failure (out of memory, no record OpenSSL would use). */
SSL *tern__tls_client_ssl_new_dane(struct tern__tls_client *t, const char *host,
				   const struct tern__tlsa *tlsa, size_t n);

/* After the handshake: the RFC 8460 4.3 result type that names why the
 * certificate did not verify ("certificate-host-mismatch",
 * "certificate-expired", "certificate-not-trusted", "tlsa-invalid" when no
 * TLSA record matched, "validation-failure" otherwise); NULL when it
 * verified. A static string. */
const char *tern__tls_client_rpt_type(SSL *ssl);

/* After the handshake: whether the peer's certificate chains to a trusted
 * CA and names the host given to ssl_new. why (may be NULL) gets OpenSSL's
 * reason when not ("certificate has expired", "hostname mismatch"). */
bool tern__tls_client_verified(SSL *ssl, char *why, size_t why_size);

#endif
