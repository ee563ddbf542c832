/* One HTTPS GET on an event loop, for the MTA-STS policy fetch (RFC 8461
 * 3.3): the host's addresses from the loop's resolver (net/dns.h; one
 * IPv6 and one IPv4 address, the IPv6 one first, the other after a
 * connection failure), TLS with
 * the certificate verified for the host name (PKIX, the agent's CA file or
 * the system's), libevent's evhttp over a bufferevent_openssl, HTTP/1.1.
 * What it refuses, each a distinct error for TLS-RPT:
 *   - a certificate that does not verify for the host (WEBPKI);
 *   - any status but 200, redirects included (RFC 8461 3.3: "HTTP 3xx
 *     redirects MUST NOT be followed"), a media type other than
 *     text/plain, a body over the size bound, the deadline (FETCH).
 * The callback runs exactly once, from the loop, never inside the call
 * that started it, unless the fetch is cancelled first. */
#ifndef TERN_CLIENT_HTTPS_GET_H
#define TERN_CLIENT_HTTPS_GET_H

#include <stddef.h>

struct event_base;
struct tern__dns;
struct tern__tls_client;
struct tern__https_get;

enum tern__https_result {
	TERN__HTTPS_OK = 0,
	TERN__HTTPS_FETCH,   /* DNS, connection, HTTP status, type, size, timeout */
	TERN__HTTPS_WEBPKI,  /* the certificate did not verify for the host */
};

/* body: the response body (valid until the callback returns; NUL-terminated
 * after len), NULL unless OK. why: a line for logs and reports. */
typedef void tern__https_cb(enum tern__https_result result, const char *body, size_t len,
			    const char *why, void *arg);

/* GETs https://host:port/path within timeout_ms for the whole fetch,
 * accepting at most max_body octets. dns resolves host; tls makes the SSL
 * object. Returns 0, TERN_EINVAL (no host name) or TERN_ENOMEM (no
 * callback then). */
int tern__https_get(struct event_base *base, struct tern__dns *dns, struct tern__tls_client *tls,
		    const char *host, unsigned port, const char *path, size_t max_body,
		    unsigned timeout_ms, tern__https_cb *cb, void *arg,
		    struct tern__https_get **g_r);

/* Stops a fetch; its callback never runs. Sets *g to NULL; no effect on
 * NULL. Not from inside its own callback. */
void tern__https_get_cancel(struct tern__https_get **g);

#endif
