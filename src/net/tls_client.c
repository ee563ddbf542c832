/* Client-side TLS contexts: see net/tls_client.h. */
#include "net/tls_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/tls.h"
#include "tern/tern.h"

struct tern__tls_client {
	SSL_CTX *ctx;
};

int tern__tls_client_new(struct tern__tls_client **t_r, const char *ca_file, char *err,
			 size_t err_size)
{
	struct tern__tls_client *t;
	char why[256];

	*t_r = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return TERN_ENOMEM;
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (t->ctx == NULL) {
		free(t);
		return TERN_ENOMEM;
	}
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	/* DANE (RFC 7672) for the connections that ask for it; others are
	 * unaffected. Fails only for want of memory. */
	if (SSL_CTX_dane_enable(t->ctx) <= 0) {
		SSL_CTX_free(t->ctx);
		free(t);
		return TERN_ENOMEM;
	}
	/* Verified, never enforced here: see the header. */
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
	if (ca_file != NULL ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) != 1
			    : SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
		tern__tls_error_string(why, sizeof(why));
		snprintf(err, err_size, "CA file %s: %s", ca_file ? ca_file : "(system)", why);
		SSL_CTX_free(t->ctx);
		free(t);
		return TERN_EINVAL;
	}
	*t_r = t;
	return 0;
}

void tern__tls_client_free(struct tern__tls_client **tp)
{
	if (tp == NULL || *tp == NULL)
		return;
	SSL_CTX_free((*tp)->ctx);
	free(*tp);
	*tp = NULL;
}

static bool is_address(const char *host)
{
	unsigned char b[16];

	return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

SSL *tern__tls_client_ssl_new(struct tern__tls_client *t, const char *host)
{
	SSL *ssl = SSL_new(t->ctx);

	if (ssl == NULL)
		return NULL;
	if (host != NULL && host[0] != '\0' && !is_address(host)) {
		/* SNI (RFC 6066 3: names only) and the name the chain must
		 * cover; without it any valid certificate would do. */
		if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1) {
			SSL_free(ssl);
			return NULL;
		}
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	} else if (host != NULL && is_address(host) &&
		   X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1) {
		/* An address: the certificate must name it (an iPAddress
		 * subjectAltName), or any CA-signed one would "verify". */
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

bool tern__tls_client_verified(SSL *ssl, char *why, size_t why_size)
{
	X509 *peer = SSL_get1_peer_certificate(ssl);
	long r = SSL_get_verify_result(ssl);

	if (peer == NULL) {
		if (why != NULL)
			snprintf(why, why_size, "no certificate");
		return false;
	}
	X509_free(peer);
	if (r != X509_V_OK) {
		if (why != NULL)
			snprintf(why, why_size, "%s", X509_verify_cert_error_string(r));
		return false;
	}
	return true;
}

SSL *tern__tls_client_ssl_new_dane(struct tern__tls_client *t, const char *host,
				   const struct tern__tlsa *tlsa, size_t n)
{
	SSL *ssl;
	size_t used = 0;

	if (host == NULL || host[0] == '\0' || is_address(host) || n == 0)
		return NULL;
	ssl = SSL_new(t->ctx);
	if (ssl == NULL)
		return NULL;
	/* RFC 7672 8.1: SNI carries the TLSA base domain; SSL_dane_enable
	 * sets it, and makes host the reference identifier that DANE-TA(2)
	 * chains are checked against (3.2.2). */
	if (SSL_dane_enable(ssl, host) <= 0) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	/* RFC 7672 3.1.1: DANE-EE(3) binds the key, not a name. */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (size_t i = 0; i < n; i++) {
		int r = SSL_dane_tlsa_add(ssl, tlsa[i].usage, tlsa[i].selector, tlsa[i].mtype,
					  tlsa[i].data, tlsa[i].len);

		if (r < 0) {
			SSL_free(ssl);
			return NULL;
		}
		used += r > 0;
	}
	if (used == 0) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

const char *tern__tls_client_rpt_type(SSL *ssl)
{
	X509 *peer = SSL_get1_peer_certificate(ssl);
	long r = SSL_get_verify_result(ssl);

	if (peer == NULL)
		return "validation-failure";
	X509_free(peer);
	switch (r) {
	case X509_V_OK:
		return NULL;
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return "certificate-host-mismatch";
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificate-expired";
	case X509_V_ERR_DANE_NO_MATCH:
		/* RFC 8460 4.3.2.1: none of the TLSA records was valid for
		 * the server's certificate. */
		return "tlsa-invalid";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		return "certificate-not-trusted";
	default:
		return "validation-failure";
	}
}
