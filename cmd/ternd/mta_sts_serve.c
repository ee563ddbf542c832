/* ternd's MTA-STS policy host; see mta_sts_serve.h.
 *
 * Threads: the listener's event_base runs on its own pthread, as the
 * metrics listener's does, and is stopped the same way: a byte on a pipe
 * breaks the loop, then the thread is joined before anything is freed.
 * The OpenSSL contexts are read-only once built. */
#include "mta_sts_serve.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "domain.h"
#include "log.h"
#include "net/tls.h"

struct ternd_mta_sts {
	char *state_dir;
	SSL_CTX **ctxs; /* ctxs[0] is the default; the others by SNI */
	size_t n_ctxs;
	struct event_base *base;
	struct evhttp *http;
	struct event *stop_ev;
	int stop_fd[2];
	pthread_t thread;
	bool started;
};

/* ---- TLS -------------------------------------------------------------------- */

/* RFC 6066 3: the first certificate whose names cover the host asked for;
 * none: the default one (the request then gets its 404 over TLS rather
 * than a handshake failure a browser would show as a certificate error). */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
	struct ternd_mta_sts *m = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)alert;
	for (size_t i = 1; name != NULL && i < m->n_ctxs; i++) {
		X509 *leaf = SSL_CTX_get0_certificate(m->ctxs[i]);

		if (leaf != NULL && X509_check_host(leaf, name, 0, 0, NULL) == 1) {
			SSL_set_SSL_CTX(ssl, m->ctxs[i]);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

/* This is a web server: HTTP/1.1 is the protocol to agree on (the mail
 * listeners refuse web protocols instead, against ALPACA). */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned i = 0; i < inlen;) {
		unsigned len = in[i++];

		if (len > inlen - i)
			break;
		if (len == 8 && memcmp(in + i, "http/1.1", 8) == 0) {
			*out = in + i;
			*outlen = (unsigned char)len;
			return SSL_TLSEXT_ERR_OK;
		}
		i += len;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

static SSL_CTX *make_ctx(struct ternd_mta_sts *m, const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char why[256];

	if (ctx == NULL) {
		ternd_log(TERN_LOG_ERROR, NULL, "--mta-sts-listen: out of memory");
		return NULL;
	}
	/* RFC 8461 3.3: the policy is fetched over HTTPS with TLS 1.2 or
	 * later (RFC 7525). */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
				     SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tern__tls_error_string(why, sizeof(why));
		ternd_log(TERN_LOG_ERROR, NULL, "--mta-sts-listen: certificate %s, key %s: %s",
			  cert, key, why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
	SSL_CTX_set_tlsext_servername_arg(ctx, m);
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
	return ctx;
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct ternd_mta_sts *m = arg;
	SSL *ssl = SSL_new(m->ctxs[0]);
	struct bufferevent *bev;

	/* Deliberate compromise: evhttp takes a NULL from here as "use a
	 * plain socket". Only if OpenSSL cannot allocate; the peer then sees
	 * no TLS and gives up, and nothing secret is on offer anyway. */
	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* Many HTTP clients close without close_notify. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* ---- requests --------------------------------------------------------------- */

static void reply(struct evhttp_request *req, int code, const char *reason, const char *body,
		  size_t len)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	/* RFC 8461 3.2: the policy is served as text/plain. */
	evhttp_add_header(h, "Content-Type", "text/plain");
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (b != NULL)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, reason, b);
	if (b != NULL)
		evbuffer_free(b);
}

static void not_found(struct evhttp_request *req)
{
	static const char body[] = "not found\n";

	reply(req, HTTP_NOTFOUND, "Not Found", body, sizeof(body) - 1);
}

/* The host the client asked for: SNI (what chose the certificate), else
 * the Host header without its port. Both given and different: NULL (a
 * request for one domain over another's connection). */
static const char *requested_host(struct evhttp_request *req, char *buf, size_t size)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	const char *sni = ssl != NULL ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL;
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");

	if (host != NULL) {
		size_t len = strcspn(host, ":");

		if (host[0] == '[' || len >= size)
			host = NULL;
		else {
			memcpy(buf, host, len);
			buf[len] = '\0';
			host = buf;
		}
	}
	if (sni != NULL && host != NULL && strcasecmp(sni, host) != 0)
		return NULL;
	return sni != NULL ? sni : host;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct ternd_mta_sts *m = arg;
	const char *uri = evhttp_request_get_uri(req);
	char hostbuf[TERND_DOMAIN_MAX + 16], domain[TERND_DOMAIN_MAX], err[256];
	const char *host = requested_host(req, hostbuf, sizeof(hostbuf));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		static const char body[] = "GET or HEAD only\n";

		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply(req, 405, "Method Not Allowed", body, sizeof(body) - 1);
		return;
	}
	/* Exactly one resource per host; no listing, no other file. */
	if (uri == NULL || strcmp(uri, TERND_MTA_STS_PATH) != 0 || host == NULL ||
	    strncasecmp(host, "mta-sts.", 8) != 0 ||
	    ternd_domain_name(host + 8, domain, err, sizeof(err)) != 0) {
		not_found(req);
		return;
	}
	/* domain is LDH labels and dots, so the path stays inside STATE. */
	char path[4400], *text = NULL;
	int n = snprintf(path, sizeof(path), "%s/domains/%s/mta-sts.txt", m->state_dir, domain);
	int fd = -1;
	if (n > 0 && (size_t)n < sizeof(path))
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0) {
		if (errno != ENOENT)
			ternd_log(TERN_LOG_WARNING, NULL, "--mta-sts-listen: %s: %s", path,
				  strerror(errno));
		not_found(req);
		return;
	}
	ssize_t got = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= TERND_MTA_STS_MAX_POLICY &&
	    (text = malloc((size_t)st.st_size + 1)) != NULL)
		got = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (got < 0 || got != st.st_size) {
		static const char body[] = "cannot read the policy\n";

		ternd_log(TERN_LOG_WARNING, NULL, "--mta-sts-listen: %s: cannot read it", path);
		reply(req, HTTP_INTERNAL, "Internal Server Error", body, sizeof(body) - 1);
		free(text);
		return;
	}
	reply(req, HTTP_OK, "OK", text, (size_t)got);
	free(text);
}

/* ---- the thread ------------------------------------------------------------- */

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct ternd_mta_sts *m = arg;
	char buf[16];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	event_base_loopbreak(m->base);
}

static void *serve_thread(void *arg)
{
	struct ternd_mta_sts *m = arg;

	event_base_dispatch(m->base);
	return NULL;
}

static void sts_free(struct ternd_mta_sts *m)
{
	if (m->http != NULL)
		evhttp_free(m->http);
	if (m->stop_ev != NULL)
		event_free(m->stop_ev);
	if (m->base != NULL)
		event_base_free(m->base);
	for (int i = 0; i < 2; i++)
		if (m->stop_fd[i] >= 0)
			close(m->stop_fd[i]);
	for (size_t i = 0; i < m->n_ctxs; i++)
		SSL_CTX_free(m->ctxs[i]);
	free(m->ctxs);
	free(m->state_dir);
	free(m);
}

int ternd_mta_sts_open(struct ternd_mta_sts **m_r, const char *addr_port, const char *state_dir,
		       const char *const *certs, const char *const *keys)
{
	char host[64], why[256];
	unsigned port;
	int loopback;
	size_t n = 0;

	*m_r = NULL;
	int arc = ternd_metrics_addr(addr_port, host, sizeof(host), &port, &loopback, why,
				     sizeof(why));
	if (arc != 0) {
		ternd_log(TERN_LOG_ERROR, NULL, "--mta-sts-listen: %s", why);
		return TERN_EINVAL;
	}
	while (certs != NULL && certs[n] != NULL)
		n++;
	if (n == 0) {
		ternd_log(TERN_LOG_ERROR, NULL,
			  "--mta-sts-listen: needs a certificate for mta-sts.DOMAIN (--tls-cert)");
		return TERN_EINVAL;
	}
	struct ternd_mta_sts *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return TERN_ENOMEM;
	m->stop_fd[0] = m->stop_fd[1] = -1;
	if ((m->state_dir = strdup(state_dir)) == NULL ||
	    (m->ctxs = calloc(n, sizeof(*m->ctxs))) == NULL) {
		sts_free(m);
		return TERN_ENOMEM;
	}
	for (; m->n_ctxs < n; m->n_ctxs++) {
		if ((m->ctxs[m->n_ctxs] = make_ctx(m, certs[m->n_ctxs], keys[m->n_ctxs])) == NULL) {
			sts_free(m);
			return TERN_EINVAL;
		}
	}
	if (pipe2(m->stop_fd, O_NONBLOCK | O_CLOEXEC) != 0 ||
	    (m->base = event_base_new()) == NULL || (m->http = evhttp_new(m->base)) == NULL ||
	    (m->stop_ev = event_new(m->base, m->stop_fd[0], EV_READ | EV_PERSIST, on_stop, m)) ==
		NULL ||
	    event_add(m->stop_ev, NULL) != 0) {
		sts_free(m);
		ternd_log(TERN_LOG_ERROR, NULL, "--mta-sts-listen: out of memory");
		return TERN_ENOMEM;
	}
	/* A policy fetch is one small GET: bounded headers, no body, and a
	 * client that dawdles (in the handshake too) is dropped. */
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_timeout(m->http, TERND_MTA_STS_TIMEOUT);
	/* Other methods reach on_request, which answers 405 with Allow. */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_bevcb(m->http, make_bev, m);
	evhttp_set_gencb(m->http, on_request, m);
	if (evhttp_bind_socket_with_handle(m->http, host, (ev_uint16_t)port) == NULL) {
		int saved = errno;

		ternd_log(TERN_LOG_ERROR, NULL, "--mta-sts-listen %s: cannot listen: %s", addr_port,
			  strerror(saved));
		sts_free(m);
		errno = saved;
		return TERN_EIO;
	}
	ternd_log(TERN_LOG_INFO, NULL, "MTA-STS policies on https://mta-sts.DOMAIN%s (%s)",
		  TERND_MTA_STS_PATH, addr_port);
	*m_r = m;
	return 0;
}

int ternd_mta_sts_start(struct ternd_mta_sts *m)
{
	/* The thread takes no signal: they are for ternd's signal thread. */
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int perr = pthread_create(&m->thread, NULL, serve_thread, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (perr != 0) {
		ternd_log(TERN_LOG_ERROR, NULL, "--mta-sts-listen: cannot start its thread: %s",
			  strerror(perr));
		return TERN_ENOMEM;
	}
	m->started = true;
	return 0;
}

void ternd_mta_sts_stop(struct ternd_mta_sts **mp)
{
	struct ternd_mta_sts *m;

	if (mp == NULL || *mp == NULL)
		return;
	m = *mp;
	*mp = NULL;
	if (m->started) {
		ssize_t w = write(m->stop_fd[1], "s", 1);

		(void)w;
		pthread_join(m->thread, NULL);
	}
	sts_free(m);
}
