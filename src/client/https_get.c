/* One HTTPS GET for MTA-STS: see client/https_get.h. */
#include "client/https_get.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/dns.h"
#include "net/tls_client.h"
#include "tern/tern.h"

#define MAX_HEADERS 16384

struct tern__https_get {
	struct event_base *base;
	struct tern__dns *dns;
	struct tern__tls_client *tls;
	char host[TERN__DNS_NAME_SIZE];
	char path[256];
	unsigned port;
	size_t max_body;
	unsigned timeout_ms;
	struct tern__dns_query *q4, *q6;
	struct tern__dns_addr v4, v6;
	bool have_v4, have_v6;
	bool tried_v4, tried_v6;
	bool retry;                      /* connect to the other address next */
	int answers;
	struct evhttp_connection *evcon; /* owns the bufferevent and the SSL */
	SSL *ssl;
	struct event timer, finish;
	tern__https_cb *cb;
	void *arg;
	bool over;                       /* the outcome is set: the rest is ignored */
	enum tern__https_result result;
	char why[256];
	char *body;
	size_t len;
};

static void release(struct tern__https_get *g)
{
	tern__dns_cancel(&g->q4);
	tern__dns_cancel(&g->q6);
	if (g->evcon != NULL)
		evhttp_connection_free(g->evcon);
	g->evcon = NULL;
	event_del(&g->timer);
	event_del(&g->finish);
	free(g->body);
	free(g);
}

/* The outcome is known: the callback runs from the loop, after evhttp's
 * own callback has returned (freeing the connection inside it is not
 * allowed). */
static void decide(struct tern__https_get *g, enum tern__https_result result, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

static void decide(struct tern__https_get *g, enum tern__https_result result, const char *fmt,
		   ...)
{
	va_list ap;

	if (g->over)
		return;
	g->over = true;
	g->result = result;
	va_start(ap, fmt);
	vsnprintf(g->why, sizeof(g->why), fmt, ap);
	va_end(ap);
	event_active(&g->finish, EV_TIMEOUT, 0);
}

static void connect_to(struct tern__https_get *g);

static void on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct tern__https_get *g = arg;

	(void)fd;
	(void)what;
	if (!g->over && g->retry) {
		/* The connection failed before any HTTP: the other family's
		 * address (outside evhttp's callbacks, which must not free
		 * their connection). */
		g->retry = false;
		evhttp_connection_free(g->evcon);
		g->evcon = NULL;
		g->ssl = NULL;
		connect_to(g);
		return;
	}
	g->cb(g->result, g->result == TERN__HTTPS_OK ? g->body : NULL, g->len, g->why, g->arg);
	release(g);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tern__https_get *g = arg;

	(void)fd;
	(void)what;
	decide(g, TERN__HTTPS_FETCH, "https://%s%s: timed out", g->host, g->path);
}

/* Why the connection failed: the certificate, or anything else. */
static void failed(struct tern__https_get *g, const char *what)
{
	long v = g->ssl != NULL ? SSL_get_verify_result(g->ssl) : X509_V_OK;

	if (g->over || g->retry)
		return;
	if (v != X509_V_OK)
		decide(g, TERN__HTTPS_WEBPKI, "https://%s%s: certificate: %s", g->host, g->path,
		       X509_verify_cert_error_string(v));
	else if ((g->have_v4 && !g->tried_v4) || (g->have_v6 && !g->tried_v6)) {
		g->retry = true;
		event_active(&g->finish, EV_TIMEOUT, 0);
	} else
		decide(g, TERN__HTTPS_FETCH, "https://%s%s: %s", g->host, g->path, what);
}

static void on_error(enum evhttp_request_error err, void *arg)
{
	struct tern__https_get *g = arg;

	switch (err) {
	case EVREQ_HTTP_DATA_TOO_LONG:
		decide(g, TERN__HTTPS_FETCH, "https://%s%s: larger than %zu octets", g->host,
		       g->path, g->max_body);
		return;
	case EVREQ_HTTP_TIMEOUT:
		decide(g, TERN__HTTPS_FETCH, "https://%s%s: timed out", g->host, g->path);
		return;
	default:
		failed(g, "connection failed or closed");
		return;
	}
}

static void on_response(struct evhttp_request *req, void *arg)
{
	struct tern__https_get *g = arg;
	struct evbuffer *in;
	const char *type;
	int code;

	if (req == NULL || (code = evhttp_request_get_response_code(req)) == 0) {
		failed(g, "no response");
		return;
	}
	/* RFC 8461 3.3: 200 only; a redirect is not followed. */
	if (code != 200) {
		decide(g, TERN__HTTPS_FETCH, "https://%s%s: HTTP status %d", g->host, g->path, code);
		return;
	}
	/* RFC 8461 3.2: "media type ... text/plain" (parameters allowed). */
	type = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	if (type == NULL || strncasecmp(type, "text/plain", 10) != 0 ||
	    (type[10] != '\0' && type[10] != ';' && type[10] != ' ')) {
		decide(g, TERN__HTTPS_FETCH, "https://%s%s: media type %s, not text/plain",
		       g->host, g->path, type ? type : "missing");
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	g->len = evbuffer_get_length(in);
	if (g->len > g->max_body) {
		decide(g, TERN__HTTPS_FETCH, "https://%s%s: larger than %zu octets", g->host,
		       g->path, g->max_body);
		return;
	}
	g->body = malloc(g->len + 1);
	if (g->body == NULL) {
		decide(g, TERN__HTTPS_FETCH, "out of memory");
		return;
	}
	evbuffer_remove(in, g->body, g->len);
	g->body[g->len] = '\0';
	decide(g, TERN__HTTPS_OK, "HTTP 200, %zu octets", g->len);
}

static void connect_to(struct tern__https_get *g)
{
	const struct tern__dns_addr *a;
	char ip[INET6_ADDRSTRLEN];
	struct bufferevent *bev;
	struct evhttp_request *req;
	struct evkeyvalq *h;

	/* IPv6 first, then IPv4 (RFC 6724's default order), each once. */
	if (g->have_v6 && !g->tried_v6) {
		a = &g->v6;
		g->tried_v6 = true;
	} else if (g->have_v4 && !g->tried_v4) {
		a = &g->v4;
		g->tried_v4 = true;
	} else {
		decide(g, TERN__HTTPS_FETCH, "%s has no address", g->host);
		return;
	}
	inet_ntop(a->family, a->bytes, ip, sizeof(ip));
	/* SNI and the name the certificate must cover; unlike SMTP's
	 * STARTTLS, the handshake itself fails when it does not verify. */
	g->ssl = tern__tls_client_ssl_new(g->tls, g->host);
	if (g->ssl == NULL) {
		decide(g, TERN__HTTPS_FETCH, "cannot start TLS");
		return;
	}
	SSL_set_verify(g->ssl, SSL_VERIFY_PEER, NULL);
	bev = bufferevent_openssl_socket_new(g->base, -1, g->ssl, BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(g->ssl);
		g->ssl = NULL;
		decide(g, TERN__HTTPS_FETCH, "out of memory");
		return;
	}
	/* The body's end is the Content-Length or the chunked encoding; a
	 * server that closes without close_notify after it is common. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	g->evcon = evhttp_connection_base_bufferevent_new(g->base, NULL, bev, ip,
							  (unsigned short)g->port);
	if (g->evcon == NULL) {
		bufferevent_free(bev);
		g->ssl = NULL;
		decide(g, TERN__HTTPS_FETCH, "out of memory");
		return;
	}
	evhttp_connection_set_max_body_size(g->evcon, (ev_ssize_t)g->max_body);
	evhttp_connection_set_max_headers_size(g->evcon, MAX_HEADERS);
	evhttp_connection_set_retries(g->evcon, 0);
	req = evhttp_request_new(on_response, g);
	if (req == NULL) {
		decide(g, TERN__HTTPS_FETCH, "out of memory");
		return;
	}
	evhttp_request_set_error_cb(req, on_error);
	h = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(h, "Host", g->host) != 0 ||
	    evhttp_add_header(h, "Connection", "close") != 0 ||
	    evhttp_add_header(h, "User-Agent", "libtern MTA-STS") != 0) {
		evhttp_request_free(req);
		decide(g, TERN__HTTPS_FETCH, "out of memory");
		return;
	}
	/* On failure evhttp has freed req. */
	if (evhttp_make_request(g->evcon, req, EVHTTP_REQ_GET, g->path) != 0)
		decide(g, TERN__HTTPS_FETCH, "cannot send the request");
}

static void on_addr(const struct tern__dns_answer *a, void *arg, bool v6)
{
	struct tern__https_get *g = arg;

	if (a->status == TERN__DNS_ANSWER && a->n > 0) {
		if (v6) {
			g->v6 = a->addrs[0];
			g->have_v6 = true;
		} else {
			g->v4 = a->addrs[0];
			g->have_v4 = true;
		}
	}
	if (++g->answers == 2)
		connect_to(g);
}

static void on_a(const struct tern__dns_answer *a, void *arg)
{
	((struct tern__https_get *)arg)->q4 = NULL;
	on_addr(a, arg, false);
}

static void on_aaaa(const struct tern__dns_answer *a, void *arg)
{
	((struct tern__https_get *)arg)->q6 = NULL;
	on_addr(a, arg, true);
}

int tern__https_get(struct event_base *base, struct tern__dns *dns, struct tern__tls_client *tls,
		    const char *host, unsigned port, const char *path, size_t max_body,
		    unsigned timeout_ms, tern__https_cb *cb, void *arg,
		    struct tern__https_get **g_r)
{
	struct tern__https_get *g;
	struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
	int r;

	*g_r = NULL;
	if (host == NULL || !tern__dns_hostname_valid(host, strlen(host)) || path == NULL ||
	    path[0] != '/' || strlen(path) >= sizeof(g->path) || port == 0 || port > 65535)
		return TERN_EINVAL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return TERN_ENOMEM;
	g->base = base;
	g->dns = dns;
	g->tls = tls;
	g->port = port;
	g->max_body = max_body;
	g->timeout_ms = timeout_ms;
	g->cb = cb;
	g->arg = arg;
	snprintf(g->host, sizeof(g->host), "%s", host);
	snprintf(g->path, sizeof(g->path), "%s", path);
	evtimer_assign(&g->timer, base, on_timer, g);
	event_assign(&g->finish, base, -1, 0, on_finish, g);
	evtimer_add(&g->timer, &tv);
	if ((r = tern__dns_query(dns, host, TERN__DNS_A, timeout_ms, on_a, g, &g->q4)) != 0 ||
	    (r = tern__dns_query(dns, host, TERN__DNS_AAAA, timeout_ms, on_aaaa, g, &g->q6)) != 0) {
		release(g);
		return r == TERN_ENOMEM ? r : TERN_EINVAL;
	}
	*g_r = g;
	return 0;
}

void tern__https_get_cancel(struct tern__https_get **gp)
{
	if (gp == NULL || *gp == NULL)
		return;
	release(*gp);
	*gp = NULL;
}
