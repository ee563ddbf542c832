/* TLS on the server side of a connection: contexts built from PEM files,
 * certificates chosen by SNI, the facts about a finished handshake, and a
 * slot that lets certificates be reloaded while connections live on.
 *
 * OpenSSL 3 does the work; this file only decides the policy: TLS 1.2 at
 * least unless told otherwise, no renegotiation, no compression, the
 * server's cipher order, read and write buffers released while idle (an
 * idle TLS session then costs a few hundred octets of OpenSSL state, not
 * 34 KiB of buffers), and ALPN refused for web protocols (ALPACA). */
#ifndef TERN_NET_TLS_H
#define TERN_NET_TLS_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct tern__tls_config {
	const char *const *cert_files; /* PEM: the leaf first, then its chain */
	const char *const *key_files;  /* PEM private keys, one per certificate */
	size_t n_certs;                /* >= 1; the first pair is the default */
	int min_version;               /* TLS1_2_VERSION or TLS1_3_VERSION */
	const char *ciphers;           /* TLS 1.2 cipher list; NULL: OpenSSL's */
	const char *ciphersuites;      /* TLS 1.3 suites; NULL: OpenSSL's */
	const char *client_ca_file;    /* ask for client certificates, check them
					* against these CAs; NULL: do not ask */
};

/* One set of contexts, shared by every connection that started with it. */
struct tern__tls_server;

/* Builds contexts for cfg (reads the files now). On failure returns
 * TERN_EINVAL (a file or setting is wrong: err says which and why) or
 * TERN_ENOMEM. */
int tern__tls_server_new(struct tern__tls_server **t_r, const struct tern__tls_config *cfg,
			 char *err, size_t err_size);
void tern__tls_server_ref(struct tern__tls_server *t);
void tern__tls_server_unref(struct tern__tls_server **t);
/* A new SSL object in server mode for one connection, or NULL. */
SSL *tern__tls_server_ssl_new(struct tern__tls_server *t);

/* The current contexts of a listener set, swapped by a reload while
 * connections that started earlier keep theirs. Any thread may get or
 * swap. */
struct tern__tls_slot {
	pthread_mutex_t lock;
	struct tern__tls_server *cur;
};
int tern__tls_slot_init(struct tern__tls_slot *slot, struct tern__tls_server *t);
/* A reference to the current contexts (unref when done), or NULL. */
struct tern__tls_server *tern__tls_slot_get(struct tern__tls_slot *slot);
/* Installs t (the slot takes the caller's reference) and drops the old. */
void tern__tls_slot_swap(struct tern__tls_slot *slot, struct tern__tls_server *t);
void tern__tls_slot_free(struct tern__tls_slot *slot);

/* What a finished handshake established. Strings are NUL-terminated and
 * valid as long as the struct; peer_cert is owned by the SSL object. */
struct tern__tls_info {
	SSL *ssl;
	const char *sni;          /* NULL when the client sent none */
	const char *version;      /* "TLSv1.3" */
	const char *cipher;       /* "TLS_AES_256_GCM_SHA384" */
	int cipher_bits;
	X509 *peer_cert;          /* client certificate or NULL */
	bool peer_verified;       /* it chains to client_ca_file */
	char peer_subject[256];   /* one-line subject, "" without a certificate */
	char peer_cn[256];        /* its commonName, "" when none */
	char peer_fingerprint[65];/* SHA-256 of the DER certificate, hex */
	/* Channel bindings for SCRAM-PLUS: tls-exporter (RFC 9266), only where
	 * it is safe (TLS 1.3, or 1.2 with extended master secret), and
	 * tls-server-end-point (RFC 5929 4.1). */
	bool has_exporter;
	unsigned char exporter[32];
	size_t endpoint_len;      /* 0: not available */
	unsigned char endpoint[64];
};

/* Fills info from an SSL object whose handshake is complete. */
void tern__tls_info_fill(struct tern__tls_info *info, SSL *ssl);

/* The last OpenSSL error of this thread as text, and clears the queue. */
void tern__tls_error_string(char *buf, size_t size);

#endif
