/* One outbound connection driving the SMTP client engine: see
 * client/outbound.h. */
#include "client/outbound.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/tls.h"
#include "net/tls_client.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 30000
/* After the session is over: the last octets (QUIT) get this long. */
#define FLUSH_TIMEOUT_MS 10000

struct tern__outbound {
	struct event_base *base;
	struct bufferevent *bev; /* the socket's, or the TLS filter over it */
	struct event timer;      /* connect, handshake, the engine's waits, the flush */
	struct event wake;       /* owner callbacks, always from the loop */
	tern_smtp_client *c;
	struct tern__tls_client *tls;
	bool tls_verify;
	struct tern__tlsa *tlsa; /* DANE: copies of the usable records */
	size_t n_tlsa;
	const char *rpt_type;    /* why the certificate did not verify */
	SSL *ssl;                /* owned by the filter bufferevent */
	char host[256];
	struct sockaddr_storage addr;
	socklen_t addr_len;
	unsigned connect_timeout_ms;
	struct tern__outbound_cbs cbs;
	void *arg;

	bool implicit_tls;       /* the handshake comes first (port 465) */
	bool connected, greeted, handshaking, tls_on, tls_verified;
	bool closing;            /* the engine is done: flush, then end */
	bool ended;              /* closed() is due */
	bool pending_ready, pending_done;
	bool in_callback, aborted;
	struct tern__outbound_end end;
	char tls_summary[160];

	/* The body being sent. */
	bool body_wanted;
	struct tern__body_source src;
	uint64_t src_done;       /* octets of src the engine took */
	unsigned char *chunk;    /* fd sources: what was read and not yet taken */
	size_t chunk_len, chunk_off;
};

static void pump(struct tern__outbound *o);

static void set_timer(struct tern__outbound *o, unsigned ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	if (ms == 0)
		event_del(&o->timer);
	else
		evtimer_add(&o->timer, &tv);
}

static void wake(struct tern__outbound *o)
{
	event_active(&o->wake, EV_TIMEOUT, 0);
}

static void free_tlsa(struct tern__outbound *o)
{
	for (size_t i = 0; i < o->n_tlsa; i++)
		free(o->tlsa[i].data);
	free(o->tlsa);
	o->tlsa = NULL;
	o->n_tlsa = 0;
}

static int copy_tlsa(struct tern__outbound *o, const struct tern__tlsa *tlsa, size_t n)
{
	if (n == 0)
		return 0;
	o->tlsa = calloc(n, sizeof(*o->tlsa));
	if (o->tlsa == NULL)
		return TERN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		o->tlsa[i] = tlsa[i];
		o->tlsa[i].data = malloc(tlsa[i].len ? tlsa[i].len : 1);
		if (o->tlsa[i].data == NULL) {
			o->n_tlsa = i;
			free_tlsa(o);
			return TERN_ENOMEM;
		}
		memcpy(o->tlsa[i].data, tlsa[i].data, tlsa[i].len);
		o->n_tlsa = i + 1;
	}
	return 0;
}

static void free_outbound(struct tern__outbound *o)
{
	event_del(&o->timer);
	event_del(&o->wake);
	if (o->bev != NULL)
		bufferevent_free(o->bev); /* the filter frees the socket's too */
	tern_smtp_client_destroy(&o->c);
	free_tlsa(o);
	free(o->chunk);
	free(o);
}

/* The connection is over: say so from the loop. */
static void end_now(struct tern__outbound *o)
{
	if (o->ended)
		return;
	o->ended = true;
	event_del(&o->timer);
	if (o->bev != NULL)
		bufferevent_disable(o->bev, EV_READ | EV_WRITE);
	wake(o);
}

static void fail(struct tern__outbound *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct tern__outbound *o, const char *fmt, ...)
{
	va_list ap;

	if (o->end.why[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(o->end.why, sizeof(o->end.why), fmt, ap);
		va_end(ap);
	}
	end_now(o);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct tern__outbound *o = arg;

	(void)fd;
	(void)what;
	o->in_callback = true;
	if (o->pending_done && !o->aborted) {
		o->pending_done = false;
		o->cbs.message_done(o, o->arg);
	}
	if (o->pending_ready && !o->ended && !o->aborted) {
		o->pending_ready = false;
		o->cbs.ready(o, o->arg);
	}
	if (o->ended && !o->aborted) {
		const tern_smtp_client_result *f = o->c != NULL ? tern_smtp_client_failure(o->c) : NULL;

		o->end.connected = o->connected;
		o->end.greeted = o->greeted;
		o->end.failure = f;
		if (o->end.why[0] == '\0' && f != NULL)
			snprintf(o->end.why, sizeof(o->end.why), "%d %s%s%s", f->code, f->enhanced,
				 f->enhanced[0] ? " " : "", f->text);
		o->cbs.closed(o, &o->end, o->arg);
		o->aborted = true; /* freed below in any case */
	}
	o->in_callback = false;
	if (o->aborted)
		free_outbound(o);
}

/* Engine output into the bufferevent. */
static void flush(struct tern__outbound *o)
{
	size_t len;
	const void *out = tern_smtp_client_output(o->c, &len);

	if (len == 0 || o->bev == NULL)
		return;
	if (bufferevent_write(o->bev, out, len) == 0)
		tern_smtp_client_output_consumed(o->c, len);
	else
		fail(o, "out of memory writing to %s", o->host);
}

static size_t queued(const struct tern__outbound *o)
{
	return evbuffer_get_length(bufferevent_get_output(o->bev));
}

/* The next body octets: memory in place, a file through a chunk buffer.
 * Returns how many are at *p (0: the source is exhausted), or -1 (read
 * error: the session fails). */
static ssize_t body_bytes(struct tern__outbound *o, const unsigned char **p)
{
	uint64_t left = o->src.len - o->src_done;

	if (left == 0)
		return 0;
	if (o->src.fd < 0) {
		*p = (const unsigned char *)o->src.data + o->src_done;
		return (ssize_t)(left < TERN__OUTBOUND_CHUNK ? left : TERN__OUTBOUND_CHUNK);
	}
	if (o->chunk_off == o->chunk_len) {
		size_t want = left < TERN__OUTBOUND_CHUNK ? (size_t)left : TERN__OUTBOUND_CHUNK;
		ssize_t n;

		if (o->chunk == NULL && (o->chunk = malloc(TERN__OUTBOUND_CHUNK)) == NULL)
			return -1;
		do
			n = pread(o->src.fd, o->chunk, want, o->src.offset + (off_t)o->src_done);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			return -1; /* short file: the queue file changed under us */
		o->chunk_len = (size_t)n;
		o->chunk_off = 0;
	}
	*p = o->chunk + o->chunk_off;
	return (ssize_t)(o->chunk_len - o->chunk_off);
}

/* Gives the engine body octets while the server keeps up. Returns true
 * when something moved. */
static bool push_body(struct tern__outbound *o)
{
	bool moved = false;

	while (o->body_wanted && queued(o) < TERN__OUTBOUND_HIGH_WATER) {
		const unsigned char *p = NULL;
		ssize_t n = body_bytes(o, &p), took;

		if (n < 0) {
			fail(o, "cannot read the message to send to %s", o->host);
			return moved;
		}
		if (n == 0) {
			int r = tern_smtp_client_body_end(o->c);

			if (r == TERN_ELIMIT)
				return moved; /* after the output drains */
			o->body_wanted = false;
			return true;
		}
		took = tern_smtp_client_body(o->c, p, (size_t)n);
		if (took < 0) {
			o->body_wanted = false; /* the session ended: events say how */
			return true;
		}
		o->src_done += (uint64_t)took;
		if (o->src.fd >= 0)
			o->chunk_off += (size_t)took;
		if (took == 0)
			return moved;
		moved = true;
		flush(o);
	}
	return moved;
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static void start_tls(struct tern__outbound *o)
{
	struct bufferevent *f;

	flush(o);
	o->ssl = o->n_tlsa > 0 ? tern__tls_client_ssl_new_dane(o->tls, o->host, o->tlsa, o->n_tlsa)
			       : tern__tls_client_ssl_new(o->tls, o->host);
	if (o->ssl == NULL) {
		o->end.tls_failed = true;
		o->end.rpt_type = "validation-failure";
		fail(o, "cannot start TLS with %s", o->host);
		return;
	}
	/* The filter takes the socket's bufferevent over, with what it holds
	 * to write (nothing after STARTTLS: the engine waits for the 220). */
	f = bufferevent_openssl_filter_new(o->base, o->bev, o->ssl, BUFFEREVENT_SSL_CONNECTING,
					   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (f == NULL) {
		SSL_free(o->ssl);
		o->ssl = NULL;
		o->end.tls_failed = true;
		o->end.rpt_type = "validation-failure";
		fail(o, "cannot start TLS with %s", o->host);
		return;
	}
	o->bev = f;
	o->handshaking = true;
	bufferevent_setcb(f, on_read, on_write, on_event, o);
	bufferevent_enable(f, EV_READ | EV_WRITE);
	set_timer(o, o->connect_timeout_ms);
}

static void pump(struct tern__outbound *o)
{
	bool again = true;

	if (o->ended || o->c == NULL || o->handshaking)
		return;
	while (again && !o->ended) {
		enum tern_smtp_client_event ev;

		again = false;
		flush(o);
		while (!o->ended && (ev = tern_smtp_client_next_event(o->c)) != TERN_SMTP_CLIENT_EV_NONE) {
			switch (ev) {
			case TERN_SMTP_CLIENT_EV_READY:
				o->greeted = true;
				o->pending_ready = true;
				wake(o);
				break;
			case TERN_SMTP_CLIENT_EV_TLS:
				if (o->tls == NULL) {
					/* The engine only asks when its policy
					 * says so; we were given no TLS. */
					o->end.tls_failed = true;
					fail(o, "no TLS context for STARTTLS with %s", o->host);
					return;
				}
				start_tls(o);
				return;
			case TERN_SMTP_CLIENT_EV_BODY:
				o->body_wanted = true;
				break;
			case TERN_SMTP_CLIENT_EV_MESSAGE_DONE:
				o->body_wanted = false;
				o->pending_done = true;
				wake(o);
				break;
			case TERN_SMTP_CLIENT_EV_CLOSED:
				o->closing = true;
				break;
			default:
				break;
			}
			flush(o);
		}
		if (o->body_wanted && push_body(o))
			again = true;
	}
	if (o->ended)
		return;
	if (o->closing) {
		flush(o);
		if (queued(o) == 0)
			end_now(o);
		else
			set_timer(o, FLUSH_TIMEOUT_MS);
		return;
	}
	set_timer(o, tern_smtp_client_timeout_ms(o->c));
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct tern__outbound *o = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (evbuffer_get_length(in) > 0 && !o->ended) {
		struct evbuffer_iovec v;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		tern_smtp_client_feed(o->c, v.iov_base, v.iov_len);
		evbuffer_drain(in, v.iov_len);
		/* STARTTLS's 220: what follows it in plaintext was dropped by
		 * the engine; the handshake takes over the socket. */
		if (o->handshaking)
			break;
		pump(o);
		if (o->handshaking) {
			evbuffer_drain(in, evbuffer_get_length(in));
			break;
		}
	}
	pump(o);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct tern__outbound *o = arg;

	(void)bev;
	if (o->closing && queued(o) == 0)
		end_now(o);
	else
		pump(o);
}

static void tls_established(struct tern__outbound *o)
{
	const char *version = SSL_get_version(o->ssl);
	const char *cipher = SSL_get_cipher_name(o->ssl);
	char why[160] = "";

	o->handshaking = false;
	o->tls_on = true;
	o->tls_verified = tern__tls_client_verified(o->ssl, why, sizeof(why));
	o->rpt_type = o->tls_verified ? NULL : tern__tls_client_rpt_type(o->ssl);
	snprintf(o->tls_summary, sizeof(o->tls_summary), "%s %s (%s%s)", version, cipher,
		 o->tls_verified ? "verified" : "not verified: ", o->tls_verified ? "" : why);
	if ((o->tls_verify || o->n_tlsa > 0) && !o->tls_verified) {
		o->end.tls_failed = true;
		o->end.rpt_type = o->rpt_type;
		fail(o, "TLS with %s: certificate not verified (%s)", o->host, why);
		return;
	}
	if (o->implicit_tls) {
		/* The session starts now: the engine waits for the greeting. */
		pump(o);
		return;
	}
	if (tern_smtp_client_tls_started(o->c) != 0) {
		fail(o, "out of memory after TLS with %s", o->host);
		return;
	}
	pump(o);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct tern__outbound *o = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (o->handshaking) {
			tls_established(o);
			return;
		}
		o->connected = true;
		if (o->implicit_tls)
			start_tls(o);
		else
			pump(o); /* the engine waits for the greeting: arms its timer */
		return;
	}
	if (!o->connected) {
		o->end.sys_errno = EVUTIL_SOCKET_ERROR();
		fail(o, "connect to %s: %s", o->host, evutil_socket_error_to_string(o->end.sys_errno));
		return;
	}
	if (o->handshaking) {
		char why[256] = "the connection closed";
		unsigned long e = bufferevent_get_openssl_error(bev);

		if (e != 0)
			ERR_error_string_n(e, why, sizeof(why));
		o->end.tls_failed = true;
		o->end.rpt_type = "validation-failure";
		fail(o, "TLS handshake with %s failed: %s", o->host, why);
		return;
	}
	/* EOF or an error: a clean end after QUIT, or a failure the engine
	 * turns into results. */
	if (what & BEV_EVENT_ERROR && o->end.sys_errno == 0)
		o->end.sys_errno = EVUTIL_SOCKET_ERROR();
	tern_smtp_client_eof(o->c);
	o->closing = true;
	pump(o);
	end_now(o);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tern__outbound *o = arg;

	(void)fd;
	(void)what;
	if (!o->connected) {
		o->end.sys_errno = ETIMEDOUT;
		fail(o, "connect to %s: timed out", o->host);
	} else if (o->handshaking) {
		o->end.tls_failed = true;
		o->end.rpt_type = "validation-failure";
		fail(o, "TLS handshake with %s timed out", o->host);
	} else if (o->closing) {
		end_now(o); /* the server does not read our QUIT: enough */
	} else {
		tern_smtp_client_timeout(o->c);
		pump(o);
	}
}

int tern__outbound_start(struct event_base *base, const struct tern__outbound_params *p,
			 const struct tern__outbound_cbs *cbs, void *arg,
			 struct tern__outbound **o_r)
{
	struct tern__outbound *o;
	int r;

	*o_r = NULL;
	if (base == NULL || p == NULL || p->addr == NULL || p->client == NULL || cbs == NULL ||
	    p->addr_len > sizeof(o->addr))
		return TERN_EINVAL;
	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return TERN_ENOMEM;
	o->base = base;
	o->cbs = *cbs;
	o->arg = arg;
	o->tls = p->tls;
	o->tls_verify = p->tls_verify;
	if (copy_tlsa(o, p->tlsa, p->n_tlsa) != 0) {
		free(o);
		return TERN_ENOMEM;
	}
	o->connect_timeout_ms = p->connect_timeout_ms ? p->connect_timeout_ms
						      : DEFAULT_CONNECT_TIMEOUT_MS;
	snprintf(o->host, sizeof(o->host), "%s", p->host ? p->host : "");
	memcpy(&o->addr, p->addr, p->addr_len);
	o->addr_len = p->addr_len;
	evtimer_assign(&o->timer, base, on_timer, o);
	event_assign(&o->wake, base, -1, 0, on_wake, o);
	/* Implicit TLS: the handshake first; the engine's greeting wait
	 * starts after it. */
	o->implicit_tls = p->client->tls_active;
	if (o->implicit_tls && o->tls == NULL) {
		free_tlsa(o);
		free(o);
		return TERN_EINVAL;
	}
	r = tern_smtp_client_new(&o->c, p->client);
	if (r != 0) {
		free_tlsa(o);
		free(o);
		return r;
	}
	o->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (o->bev == NULL) {
		tern_smtp_client_destroy(&o->c);
		free_tlsa(o);
		free(o);
		return TERN_ENOMEM;
	}
	bufferevent_setcb(o->bev, on_read, on_write, on_event, o);
	bufferevent_enable(o->bev, EV_READ | EV_WRITE);
	set_timer(o, o->connect_timeout_ms);
	/* A connect that fails at once still reports through on_event,
	 * deferred to the loop. */
	if (bufferevent_socket_connect(o->bev, (struct sockaddr *)&o->addr, (int)o->addr_len) != 0) {
		o->end.sys_errno = errno;
		fail(o, "connect to %s: %s", o->host, strerror(errno ? errno : EIO));
	}
	*o_r = o;
	return 0;
}

int tern__outbound_send(struct tern__outbound *o, const tern_smtp_client_message *msg,
			const struct tern__body_source *src)
{
	int r;

	if (o == NULL || src == NULL || o->ended)
		return TERN_ESTATE;
	r = tern_smtp_client_send(o->c, msg);
	if (r != 0)
		return r;
	o->src = *src;
	o->src_done = 0;
	o->chunk_len = o->chunk_off = 0;
	pump(o); /* owner callbacks it causes come from the loop */
	return 0;
}

void tern__outbound_quit(struct tern__outbound *o)
{
	if (o == NULL || o->ended)
		return;
	if (tern_smtp_client_quit(o->c) != 0) {
		end_now(o);
		return;
	}
	pump(o);
}

void tern__outbound_abort(struct tern__outbound *o)
{
	if (o == NULL)
		return;
	o->aborted = true;
	if (!o->in_callback)
		free_outbound(o);
}

tern_smtp_client *tern__outbound_client(struct tern__outbound *o)
{
	return o->c;
}

const char *tern__outbound_tls_summary(const struct tern__outbound *o)
{
	return o->tls_summary;
}

bool tern__outbound_tls_verified(const struct tern__outbound *o)
{
	return o->tls_on && o->tls_verified;
}

const char *tern__outbound_tls_rpt_type(const struct tern__outbound *o)
{
	return o->tls_on ? o->rpt_type : NULL;
}

bool tern__outbound_tls_active(const struct tern__outbound *o)
{
	return o->tls_on;
}
