/* Server TLS contexts, SNI, handshake facts, reloadable slot. See tls.h. */
#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tern/tern.h"

struct tern__tls_server {
	atomic_uint refs;
	size_t n;
	SSL_CTX **ctxs; /* ctxs[0] is the default; the others are for SNI */
};

void tern__tls_error_string(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, size, "unknown TLS error");
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
}

/* RFC 6066 3: the client names the host it wants; pick the first
 * certificate whose names cover it (X509_check_host knows the wildcard
 * rules of RFC 6125). No match: the default certificate, as every MTA does
 * (a sending MTA rarely checks names at all, RFC 7435). */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
	struct tern__tls_server *t = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)alert;
	if (name == NULL || t->n < 2)
		return SSL_TLSEXT_ERR_OK;
	for (size_t i = 0; i < t->n; i++) {
		X509 *leaf = SSL_CTX_get0_certificate(t->ctxs[i]);

		if (leaf != NULL && X509_check_host(leaf, name, 0, 0, NULL) == 1) {
			if (i != 0)
				SSL_set_SSL_CTX(ssl, t->ctxs[i]);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

/* ALPN: mail protocols have no registered identifier that we must select,
 * so an offer is normally ignored (no ALPN in our answer). But a client
 * that asks for a web protocol is a browser lured here by a cross-protocol
 * attack (ALPACA, 2021): refuse the handshake, as RFC 7301 3.2 allows. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned inlen, void *arg)
{
	static const char *const web[] = {"http/1.1", "http/1.0", "h2", "h3", "spdy/3", "http/0.9"};

	(void)ssl;
	(void)out;
	(void)outlen;
	(void)arg;
	for (unsigned i = 0; i < inlen;) {
		unsigned len = in[i++];

		if (len > inlen - i)
			break;
		for (size_t w = 0; w < sizeof(web) / sizeof(web[0]); w++)
			if (strlen(web[w]) == len && memcmp(in + i, web[w], len) == 0)
				return SSL_TLSEXT_ERR_ALERT_FATAL;
		i += len;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

/* Optional client certificates: the handshake goes on whatever the chain
 * says; the result is reported (peer_verified) for the embedder to judge. */
static int on_verify(int ok, X509_STORE_CTX *store)
{
	(void)ok;
	(void)store;
	return 1;
}

static SSL_CTX *make_ctx(const struct tern__tls_config *cfg, size_t i,
			 struct tern__tls_server *t, char *err, size_t err_size)
{
	char why[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		tern__tls_error_string(why, sizeof(why));
		snprintf(err, err_size, "cannot create a TLS context: %s", why);
		return NULL;
	}
	/* Renegotiation is a CPU-exhaustion vector and has no use in mail;
	 * compression is CRIME. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (!SSL_CTX_set_min_proto_version(ctx, cfg->min_version ? cfg->min_version
								 : TLS1_2_VERSION)) {
		snprintf(err, err_size, "unsupported minimum TLS version");
		goto fail;
	}
	if (cfg->ciphers && !SSL_CTX_set_cipher_list(ctx, cfg->ciphers)) {
		snprintf(err, err_size, "no usable cipher in the TLS 1.2 cipher list \"%s\"",
			 cfg->ciphers);
		goto fail;
	}
	if (cfg->ciphersuites && !SSL_CTX_set_ciphersuites(ctx, cfg->ciphersuites)) {
		snprintf(err, err_size, "bad TLS 1.3 cipher suite list \"%s\"", cfg->ciphersuites);
		goto fail;
	}
	SSL_CTX_set_dh_auto(ctx, 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_files[i]) != 1) {
		tern__tls_error_string(why, sizeof(why));
		snprintf(err, err_size, "certificate %s: %s", cfg->cert_files[i], why);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_files[i], SSL_FILETYPE_PEM) != 1) {
		tern__tls_error_string(why, sizeof(why));
		snprintf(err, err_size, "private key %s: %s", cfg->key_files[i], why);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, err_size, "private key %s does not match certificate %s",
			 cfg->key_files[i], cfg->cert_files[i]);
		goto fail;
	}
	/* Sessions resumed by ticket keep the client certificate's result;
	 * the id context ties them to this server. */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tern", 4);
	if (cfg->client_ca_file) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->client_ca_file);

		if (names == NULL ||
		    SSL_CTX_load_verify_locations(ctx, cfg->client_ca_file, NULL) != 1) {
			if (names)
				sk_X509_NAME_pop_free(names, X509_NAME_free);
			tern__tls_error_string(why, sizeof(why));
			snprintf(err, err_size, "client CA file %s: %s", cfg->client_ca_file, why);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, on_verify);
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
	SSL_CTX_set_tlsext_servername_arg(ctx, t);
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void server_free(struct tern__tls_server *t)
{
	for (size_t i = 0; i < t->n; i++)
		SSL_CTX_free(t->ctxs[i]);
	free(t->ctxs);
	free(t);
}

int tern__tls_server_new(struct tern__tls_server **t_r, const struct tern__tls_config *cfg,
			 char *err, size_t err_size)
{
	struct tern__tls_server *t;

	*t_r = NULL;
	if (cfg->n_certs == 0) {
		snprintf(err, err_size, "no certificate");
		return TERN_EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return TERN_ENOMEM;
	t->ctxs = calloc(cfg->n_certs, sizeof(*t->ctxs));
	if (t->ctxs == NULL) {
		free(t);
		return TERN_ENOMEM;
	}
	atomic_init(&t->refs, 1);
	for (size_t i = 0; i < cfg->n_certs; i++) {
		t->ctxs[i] = make_ctx(cfg, i, t, err, err_size);
		if (t->ctxs[i] == NULL) {
			server_free(t);
			return TERN_EINVAL;
		}
		t->n++;
	}
	*t_r = t;
	return 0;
}

void tern__tls_server_ref(struct tern__tls_server *t)
{
	atomic_fetch_add(&t->refs, 1);
}

void tern__tls_server_unref(struct tern__tls_server **tp)
{
	struct tern__tls_server *t = *tp;

	*tp = NULL;
	if (t != NULL && atomic_fetch_sub(&t->refs, 1) == 1)
		server_free(t);
}

SSL *tern__tls_server_ssl_new(struct tern__tls_server *t)
{
	return SSL_new(t->ctxs[0]);
}

int tern__tls_slot_init(struct tern__tls_slot *slot, struct tern__tls_server *t)
{
	if (pthread_mutex_init(&slot->lock, NULL) != 0)
		return TERN_ENOMEM;
	slot->cur = t;
	return 0;
}

struct tern__tls_server *tern__tls_slot_get(struct tern__tls_slot *slot)
{
	struct tern__tls_server *t;

	pthread_mutex_lock(&slot->lock);
	t = slot->cur;
	if (t != NULL)
		tern__tls_server_ref(t);
	pthread_mutex_unlock(&slot->lock);
	return t;
}

void tern__tls_slot_swap(struct tern__tls_slot *slot, struct tern__tls_server *t)
{
	struct tern__tls_server *old;

	pthread_mutex_lock(&slot->lock);
	old = slot->cur;
	slot->cur = t;
	pthread_mutex_unlock(&slot->lock);
	tern__tls_server_unref(&old);
}

void tern__tls_slot_free(struct tern__tls_slot *slot)
{
	tern__tls_server_unref(&slot->cur);
	pthread_mutex_destroy(&slot->lock);
}

/* RFC 5929 4.1: the hash of the server certificate, with the certificate's
 * own signature hash, except that MD5 and SHA-1 become SHA-256. */
static void endpoint_binding(struct tern__tls_info *info, SSL *ssl)
{
	X509 *cert = SSL_get_certificate(ssl);
	int md_nid = NID_undef;
	const EVP_MD *md;
	unsigned len = 0;

	if (cert == NULL ||
	    !OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, NULL))
		return;
	if (md_nid == NID_md5 || md_nid == NID_sha1 || md_nid == NID_undef)
		md_nid = NID_sha256;
	md = EVP_get_digestbynid(md_nid);
	if (md == NULL || EVP_MD_get_size(md) > (int)sizeof(info->endpoint))
		return;
	if (X509_digest(cert, md, info->endpoint, &len) == 1)
		info->endpoint_len = len;
}

void tern__tls_info_fill(struct tern__tls_info *info, SSL *ssl)
{
	memset(info, 0, sizeof(*info));
	info->ssl = ssl;
	info->sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	info->version = SSL_get_version(ssl);
	info->cipher = SSL_get_cipher_name(ssl);
	info->cipher_bits = SSL_get_cipher_bits(ssl, NULL);
	info->peer_cert = SSL_get0_peer_certificate(ssl);
	if (info->peer_cert != NULL) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned len = 0;
		X509_NAME *subj = X509_get_subject_name(info->peer_cert);

		info->peer_verified = SSL_get_verify_result(ssl) == X509_V_OK;
		if (subj != NULL) {
			X509_NAME_oneline(subj, info->peer_subject, sizeof(info->peer_subject));
			if (X509_NAME_get_text_by_NID(subj, NID_commonName, info->peer_cn,
						      sizeof(info->peer_cn)) < 0)
				info->peer_cn[0] = '\0';
		}
		if (X509_digest(info->peer_cert, EVP_sha256(), md, &len) == 1) {
			for (unsigned i = 0; i < len && i < 32; i++)
				snprintf(info->peer_fingerprint + 2 * i, 3, "%02x", md[i]);
		}
	}
	/* RFC 9266 3: tls-exporter is defined for TLS 1.3; with 1.2 only when
	 * the extended master secret (RFC 7627) makes it unique. */
	if (SSL_version(ssl) >= TLS1_3_VERSION || SSL_get_extms_support(ssl) == 1) {
		static const char label[] = "EXPORTER-Channel-Binding";

		info->has_exporter = SSL_export_keying_material(ssl, info->exporter,
								sizeof(info->exporter), label,
								sizeof(label) - 1, NULL, 0, 0) == 1;
	}
	endpoint_binding(info, ssl);
}
