/* libtern TLS: what every protocol's server tells an embedder about a
 * connection's TLS session, and the TLS settings they share.
 *
 * TLS is OpenSSL 3 through libevent's OpenSSL bufferevents; the library sets
 * OpenSSL up itself (no global initialisation is needed from the embedder).
 * Threads: a tern_tls_info belongs to the session's event loop thread. */
#ifndef TERN_TLS_H
#define TERN_TLS_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The lowest protocol version a server accepts. */
enum tern_tls_version {
	TERN_TLS_1_2 = 0, /* the default (RFC 8996 retires 1.0 and 1.1) */
	TERN_TLS_1_3 = 1,
};

/* What a finished TLS handshake established. Every string is
 * NUL-terminated, never NULL unless said so, and valid as long as the
 * session (the library keeps copies). */
typedef struct tern_tls_info {
	const char *version;       /* "TLSv1.3" */
	const char *cipher;        /* OpenSSL's name, "TLS_AES_256_GCM_SHA384" */
	int cipher_bits;
	const char *sni;           /* the server name the client asked for; NULL if none */
	bool client_cert;          /* the client presented a certificate */
	bool client_cert_verified; /* ... and it chains to the configured client CAs */
	const char *client_subject;     /* one-line subject, "" without a certificate */
	const char *client_cn;          /* its commonName, "" when none */
	const char *client_fingerprint; /* SHA-256 of the certificate (DER), 64 hex digits, or "" */
	/* OpenSSL's own objects, for what this struct does not carry: an SSL *
	 * and the client's X509 * (NULL without one). Owned by the library;
	 * valid until the session's on_close returns. */
	void *ssl;
	void *client_x509;
} tern_tls_info;

#ifdef __cplusplus
}
#endif
#endif
