/* A client connection: bufferevent <-> engine session. See connection.h. */
#include "net/connection.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/listen_addr.h"
#include "net/proxy.h"
#include "util/stats.h"
#include "tern/tern.h"

enum phase {
	PH_HANDSHAKE, /* TLS handshake (implicit, or after STARTTLS's reply) */
	PH_DELAY,   /* greeting delay running; input is fed (early talkers) */
	PH_ACTIVE,  /* session running */
	PH_CLOSING, /* engine wants to close; writing its last output */
	PH_LINGER,  /* we sent FIN; dropping input until the client closes */
	PH_FLUSH,   /* client sent FIN; writing what is queued, then close */
	PH_PROXY,   /* reading a trusted proxy's PROXY header; no session yet */
};

struct tern__conn {
	struct tern__conn *prev, *next;
	struct tern__conn_host *host;
	const struct tern__conn_listener *listener;
	const struct tern__conn_engine *engine;
	struct bufferevent *bev;
	/* The TLS contexts this connection started with (a reload swaps the
	 * listener's, not ours: SNI callbacks still point into these). */
	struct tern__tls_server *tls;
	evutil_socket_t fd;
	void *session; /* NULL once freed (LINGER, FLUSH) */
	/* One timer serves every phase: greeting delay, idle limit, the cap on
	 * writing the last reply, and the linger. Both events are embedded to
	 * save two allocations per connection. */
	struct event timer;
	struct event wake; /* activated by the engine's io wakeup */
	/* Plaintext: EV_READ on the socket, read by hand into the
	 * bufferevent's input (own_read). libevent 2.1's socket read asks
	 * ioctl(FIONREAD) before every read and reads at most 4 KiB: a
	 * system call per read more, and 25 reads for a 100 KiB message. */
	struct event rd;
	uint32_t read_size; /* octets the next read asks for */
	bool own_read;      /* rd is assigned (the plain bufferevent) */
	uint8_t phase;
	unsigned progress; /* the engine's progress count at the last timer reset */
	bool paused;   /* the engine took less than it was given */
	bool out_full; /* TERN__CONN_OUTPUT_MAX queued toward the client */
	bool busy;     /* started with start_busy */
	bool secure;   /* the bufferevent is the TLS one */
	bool greeted;  /* start or start_busy ran */
	bool delaying; /* the timer runs the engine's delay, not the idle limit */
	uint32_t drained; /* octets dropped after the last reply (CLOSING, LINGER) */
	/* From struct tern__conn_params: the settings of the moment it came. */
	uint32_t greeting_delay, handshake_timeout;
	struct proxy_phase *proxy; /* PH_PROXY only */
};

/* What a connection from a trusted proxy holds until its PROXY header is
 * in; allocated for those connections only, freed once the session exists. */
struct proxy_phase {
	struct event ev; /* EV_READ on the socket: the header is read by hand */
	char id[32];     /* the session's id, for session_new */
	char peer[TERN__SOCKADDR_STRLEN]; /* the proxy, "[::1]:4711" */
	struct tern__proxy_parser parser;
};

static void conn_log(struct tern__conn *c, enum tern_smtp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A net-layer line about this connection, through the engine's logger. */
static void conn_log(struct tern__conn *c, enum tern_smtp_log_level level, const char *fmt, ...)
{
	const struct tern__conn_engine *e = c->engine;
	char line[512];
	va_list ap;

	if (!e->log_enabled(c->listener->engine_ctx, level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	e->log(c->listener->engine_ctx, c->session, level, line);
}

/* Timers of one duration share one of libevent's "common timeout" queues:
 * re-arming the idle timer after every read is then an O(1) list move
 * instead of a heap operation. Durations beyond the cache use the heap. */
static void set_timer(struct tern__conn *c, unsigned ms)
{
	struct tern__conn_host *host = c->host;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	const struct timeval *use = &tv;
	size_t i;

	for (i = 0; i < host->n_timeouts; i++) {
		if (host->timeouts[i].ms == ms) {
			use = &host->timeouts[i].tv;
			break;
		}
	}
	if (i == host->n_timeouts && i < TERN__CONN_TIMEOUT_CACHE) {
		const struct timeval *common = event_base_init_common_timeout(host->base, &tv);

		if (common != NULL) {
			host->timeouts[i].ms = ms;
			host->timeouts[i].tv = *common;
			host->n_timeouts++;
			use = &host->timeouts[i].tv;
		}
	}
	evtimer_add(&c->timer, use);
}

/* The engine session ends (on_close runs); the connection may linger. */
static void free_session(struct tern__conn *c)
{
	/* on_close may still call into the session (and so activate
	 * c->wake): conn_end deletes that event afterwards. */
	c->engine->free(&c->session);
	c->host->session_ended(c->host, c->busy);
}

/* Frees the bufferevent. Its events leave the loop first, so that the
 * socket can be closed (or handed to a TLS bufferevent) right after even
 * if libevent finalizes the bufferevent later. */
static void release_bev(struct tern__conn *c)
{
	if (c->own_read) {
		event_del(&c->rd);
		c->own_read = false;
	}
	if (c->bev == NULL)
		return;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_free(c->bev);
	c->bev = NULL;
}

/* Frees everything. client_gone: the session did not end by itself. */
static void conn_end(struct tern__conn *c, bool client_gone)
{
	struct tern__conn_host *host = c->host;

	if (c->session != NULL) {
		if (client_gone)
			c->engine->eof(c->session);
		free_session(c);
	} else if (c->phase == PH_PROXY) {
		/* The server counted this connection when it accepted it. */
		host->session_ended(host, c->busy);
	}
	if (c->proxy != NULL) {
		event_del(&c->proxy->ev);
		free(c->proxy);
		c->proxy = NULL;
	}
	event_del(&c->timer);
	event_del(&c->wake);
	release_bev(c);
	if (c->secure) {
		/* The TLS bufferevent was made with BEV_OPT_CLOSE_ON_FREE (the
		 * only way it frees its SSL): the socket is closed. */
	} else {
		evutil_closesocket(c->fd);
	}
	tern__tls_server_unref(&c->tls);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		host->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	host->n_conns--;
	free(c);
	host->conn_ended(host);
}

/* Moves engine output into the bufferevent. Returns 1 when the engine has
 * nothing left, 0 when some is left (client not reading), -1 on ENOMEM. */
static int flush_output(struct tern__conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const void *buf;
	size_t len;

	for (;;) {
		c->engine->output(c->session, &buf, &len);
		if (len == 0)
			return 1;
		/* A client that pipelines without reading our replies must
		 * not make us queue without limit: keep the rest in the
		 * engine, whose backpressure then stops consuming input. */
		if (evbuffer_get_length(out) >= TERN__CONN_OUTPUT_MAX) {
			c->out_full = true;
			return 0;
		}
		if (evbuffer_get_length(out) == 0 && !c->secure) {
			/* Nothing queued: write at once rather than arm EV_WRITE
			 * and wait a loop turn for it (three system calls per
			 * reply fewer). Only the rest goes through libevent. TLS
			 * records are OpenSSL's to write: libevent's path. */
			ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				c->engine->output_consumed(c->session, (size_t)n);
				if ((size_t)n == len)
					continue;
				buf = (const char *)buf + n;
				len -= (size_t)n;
			}
			/* EAGAIN or an error: libevent retries or reports it. */
		}
		if (evbuffer_add(out, buf, len) != 0)
			return -1;
		c->engine->output_consumed(c->session, len);
	}
}

/* Feeds buffered input to the engine straight from libevent's chains. */
static void feed_input(struct tern__conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec v[8];

	while (!c->paused && evbuffer_get_length(in) > 0) {
		int n = evbuffer_peek(in, -1, NULL, v, 8);
		size_t used = 0;

		if (n <= 0)
			return;
		if (n > 8)
			n = 8;
		for (int i = 0; i < n; i++) {
			ssize_t r;

			/* The TLS filter leaves empty chains in the buffer: they
			 * hold nothing to feed (and feeding "nothing" forever
			 * was a spin). */
			if (v[i].iov_len == 0)
				continue;
			r = c->engine->feed(c->session, v[i].iov_base, v[i].iov_len);

			if (r < 0) {
				/* The session only wants to close: what the
				 * client sends now is never executed. */
				evbuffer_drain(in, evbuffer_get_length(in));
				return;
			}
			used += (size_t)r;
			if ((size_t)r < v[i].iov_len) {
				c->paused = true;
				break;
			}
		}
		if (used == 0 && !c->paused) {
			/* Only empty chains in view, the data behind them: make
			 * it contiguous once (rare), so the next pass sees it. */
			if (evbuffer_pullup(in, -1) == NULL)
				return;
			continue;
		}
		evbuffer_drain(in, used);
	}
}

static void update_reading(struct tern__conn *c)
{
	bool want, on = c->own_read ? event_pending(&c->rd, EV_READ, NULL) != 0
				    : (bufferevent_get_enabled(c->bev) & EV_READ) != 0;

	switch (c->phase) {
	case PH_HANDSHAKE:
		want = true; /* the handshake's own reads */
		break;
	case PH_DELAY:
	case PH_ACTIVE:
		/* After STARTTLS's reply nothing more is read in plaintext. */
		want = !c->paused && !c->out_full && !c->engine->want_tls(c->session);
		break;
	case PH_CLOSING:
	case PH_LINGER:
		want = true; /* read and drop, so that close does not RST */
		break;
	default:
		want = false;
		break;
	}
	if (c->own_read) {
		/* The read high-water mark libevent keeps for its own reads. */
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) >= TERN__CONN_INPUT_MAX)
			want = false;
		if (want && !on)
			event_add(&c->rd, NULL);
		else if (!want && on)
			event_del(&c->rd);
		return;
	}
	if (want && !on)
		bufferevent_enable(c->bev, EV_READ);
	else if (!want && on)
		bufferevent_disable(c->bev, EV_READ);
}

/* Ends a connection whose last reply is out without waiting for the
 * client's FIN: what the kernel already holds from the client is read
 * first, since closing over unread input sends a RST, which can make the
 * client drop our last reply. */
static void end_quietly(struct tern__conn *c)
{
	char buf[4096];

	for (int i = 0; i < 16 && recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
	conn_end(c, false);
}

/* Everything is written and the engine is done: FIN, free the session,
 * then drop input until the client closes. Returns false if c was freed
 * (the server is closing: no lingering then). */
static bool start_linger(struct tern__conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (c->secure) {
		/* close_notify first: our output is all written, so OpenSSL
		 * sends the alert straight to the socket. */
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

		if (ssl != NULL)
			SSL_shutdown(ssl);
		ERR_clear_error();
	}
	shutdown(c->fd, SHUT_WR);
	free_session(c);
	if (c->host->closing) {
		end_quietly(c);
		return false;
	}
	evbuffer_drain(in, evbuffer_get_length(in));
	c->phase = PH_LINGER;
	set_timer(c, TERN__CONN_LINGER_MS);
	update_reading(c);
	return true;
}

static bool start_tls(struct tern__conn *c);
static void proxy_fail(struct tern__conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* Runs after every engine call: output, close, reading, idle timer, the
 * switch to TLS. reset_idle: the client sent something. Returns false if c
 * was freed. */
static bool pump(struct tern__conn *c, bool reset_idle)
{
	const struct tern__conn_engine *e = c->engine;
	int flushed = 0;

	if (c->session == NULL)
		return true;
	/* The engine also pauses when its own output backs up; once we took
	 * that output it wants input again without a wakeup, so feed again
	 * (a few rounds at most, for fairness between connections). */
	bool more = false;
	for (int round = 0; round < 4; round++) {
		if (c->phase == PH_DELAY || c->phase == PH_ACTIVE) {
			/* Whatever made us call in here may have unblocked
			 * the engine; a still-paused one takes 0 bytes. */
			c->paused = false;
			feed_input(c);
		}
		flushed = flush_output(c);
		if (flushed == 1 && e->want_barrier(c->session)) {
			/* The reply is handed on: whatever we hold now was
			 * sent before the client could have seen it. */
			struct evbuffer *in = bufferevent_get_input(c->bev);

			e->barrier(c->session, evbuffer_get_length(in) > 0);
			flushed = flush_output(c);
		}
		more = flushed == 1 && c->paused && e->want_input(c->session) &&
		       evbuffer_get_length(bufferevent_get_input(c->bev)) > 0;
		if (!more)
			break;
	}
	/* Output written straight to the socket arms no write callback, and
	 * the client sends nothing more until it has its replies: come back
	 * on the next loop turn for the input still buffered. */
	if (more)
		event_active(&c->wake, EV_READ, 0);
	if (flushed < 0) {
		conn_log(c, TERN_LOG_ERROR, "out of memory queueing output; closing");
		conn_end(c, true);
		return false;
	}
	if (e->want_close(c->session)) {
		if (flushed == 1 && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
			return start_linger(c);
		}
		if (c->phase != PH_CLOSING) {
			struct evbuffer *in = bufferevent_get_input(c->bev);

			c->phase = PH_CLOSING;
			evbuffer_drain(in, evbuffer_get_length(in));
			set_timer(c, TERN__CONN_LINGER_MS);
		}
		update_reading(c);
		return true;
	}
	if (c->phase == PH_ACTIVE && e->want_tls(c->session)) {
		/* RFC 3207 4: the handshake starts once the 220 is out; until
		 * then nothing is read (update_reading). */
		if (flushed == 1 && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			return start_tls(c);
		update_reading(c);
		return true;
	}
	update_reading(c);
	if (c->phase == PH_ACTIVE && !c->delaying && e->delay_ms(c->session) > 0) {
		/* A held-back reply (failed AUTH): the timer is the engine's. */
		c->delaying = true;
		set_timer(c, e->delay_ms(c->session));
		return true;
	}
	if (c->phase == PH_ACTIVE && !c->delaying) {
		unsigned ms = e->timeout_ms(c->session);

		/* 0: we wait for the embedder, not the client. */
		if (ms == 0)
			evtimer_del(&c->timer);
		else if ((reset_idle && e->progress(c->session) != c->progress) ||
			 !evtimer_pending(&c->timer, NULL)) {
			/* Only progress re-arms the timer: a client dribbling
			 * one octet of a command line now and then (slowloris)
			 * still times out. */
			c->progress = e->progress(c->session);
			set_timer(c, ms);
		}
	}
	return true;
}

/* Greeting (or refusal) time: at once, after the greeting delay, or, on an
 * implicit-TLS listener, after the handshake. Returns false if c was freed. */
static bool begin_session(struct tern__conn *c)
{
	unsigned delay = c->listener->own_greeting_delay ? c->listener->greeting_delay
							 : c->greeting_delay;

	c->greeted = true;
	if (c->busy || (c->engine->refused != NULL && c->engine->refused(c->session))) {
		/* smtp-server sends this at once, without any delay; so is an
		 * abuse limit's refusal. */
		c->phase = PH_ACTIVE;
		c->engine->start_busy(c->session);
	} else if (delay > 0) {
		c->phase = PH_DELAY;
		set_timer(c, delay);
	} else {
		c->phase = PH_ACTIVE;
		c->engine->start(c->session);
	}
	return pump(c, true);
}

static unsigned handshake_ms(const struct tern__conn *c)
{
	return c->handshake_timeout ? c->handshake_timeout : TERN__CONN_HANDSHAKE_MS;
}

/* Puts a TLS bufferevent in accepting state on c->fd. Returns 0, or -1
 * (logged; c->bev is NULL, the socket still open). */
static int make_tls_bev(struct tern__conn *c)
{
	struct tern__tls_server *t = tern__tls_slot_get(c->listener->tls);
	SSL *ssl = t ? tern__tls_server_ssl_new(t) : NULL;
	char why[256];

	if (ssl == NULL) {
		tern__tls_error_string(why, sizeof(why));
		conn_log(c, TERN_LOG_ERROR, "cannot start TLS: %s", t ? why : "no certificate");
		tern__tls_server_unref(&t);
		return -1;
	}
	c->bev = bufferevent_openssl_socket_new(c->host->base, c->fd, ssl,
						BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		tern__tls_server_unref(&t);
		conn_log(c, TERN_LOG_ERROR, "out of memory starting TLS");
		return -1;
	}
	c->tls = t;
	c->secure = true;
	/* A client that closes TCP without close_notify has still ended
	 * its session; mail has its own end-of-data marker. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, TERN__CONN_INPUT_MAX);
	c->phase = PH_HANDSHAKE;
	set_timer(c, handshake_ms(c));
	update_reading(c);
	return 0;
}

/* STARTTLS was answered and every octet of the reply is written: what
 * the client sent after the command is still plaintext, and would be taken
 * as sent under TLS if we kept it (CVE-2011-0411 and its kin): it is
 * dropped here, by the layer that holds it, and the handshake starts on the
 * same socket. Returns false if c was freed. */
static bool start_tls(struct tern__conn *c)
{
	size_t held = evbuffer_get_length(bufferevent_get_input(c->bev));

	if (held > 0)
		conn_log(c, TERN_LOG_WARNING,
			 "dropped %zu octets sent after STARTTLS before the handshake", held);
	release_bev(c); /* the plain one does not own the socket */
	if (make_tls_bev(c) != 0) {
		conn_end(c, true);
		return false;
	}
	return true;
}

/* The handshake is complete: the engine learns what TLS established. */
static void tls_established(struct tern__conn *c)
{
	struct tern__tls_info info;

	tern__tls_info_fill(&info, bufferevent_openssl_get_ssl(c->bev));
	conn_log(c, TERN_LOG_INFO, "TLS established: %s %s%s%s%s%s", info.version, info.cipher,
		 info.sni ? " sni=" : "", info.sni ? info.sni : "",
		 info.peer_cert ? (info.peer_verified ? " client-cert=verified " : " client-cert=unverified ") : "",
		 info.peer_cert ? info.peer_subject : "");
	evtimer_del(&c->timer);
	if (c->host->net->stats != NULL)
		tern__stats_add(&c->host->net->stats->tls_ok, 1);
	c->engine->tls_started(c->session, &info);
	if (!c->greeted) {
		begin_session(c);
		return;
	}
	c->phase = PH_ACTIVE;
	if (c->host->closing)
		c->engine->draining(c->session);
	pump(c, true);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct tern__conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->phase == PH_HANDSHAKE)
		return; /* application data after the handshake: fed then */
	if (c->phase == PH_CLOSING || c->phase == PH_LINGER || c->session == NULL) {
		size_t n = evbuffer_get_length(in);

		evbuffer_drain(in, n);
		c->drained += n > TERN__CONN_DRAIN_MAX ? TERN__CONN_DRAIN_MAX : (uint32_t)n;
		if (c->drained >= TERN__CONN_DRAIN_MAX) {
			/* It keeps writing after our closing reply: it is not
			 * reading either, so lingering for its FIN only lets
			 * it hold the connection. */
			conn_log(c, TERN_LOG_INFO,
				 "client kept sending after the closing reply; closed");
			conn_end(c, c->session != NULL);
		}
		return;
	}
	pump(c, true);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct tern__conn *c = arg;

	(void)bev;
	c->out_full = false;
	if (c->phase == PH_FLUSH) {
		conn_end(c, false);
		return;
	}
	if (c->phase == PH_HANDSHAKE)
		return;
	pump(c, false);
}

/* OpenSSL's reasons for a failed handshake, for the log line. libevent
 * hands its errors back last in, first out, and among them is the bare
 * SSL_get_error() code it pushed first (no library, "reason(1)"): keep the
 * oldest real error of OpenSSL's queue, the one that names the cause. */
static void tls_error_text(struct bufferevent *bev, char *buf, size_t size)
{
	unsigned long e, last = 0;

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (ERR_GET_LIB(e) != 0)
			last = e;
	if (last != 0)
		ERR_error_string_n(last, buf, size);
	else
		snprintf(buf, size, "connection closed");
	ERR_clear_error();
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct tern__conn *c = arg;
	int err = EVUTIL_SOCKET_ERROR();

	if (c->session == NULL) { /* LINGER or FLUSH: the client is done */
		conn_end(c, false);
		return;
	}
	if (c->phase == PH_HANDSHAKE) {
		char why[256];

		if (what & BEV_EVENT_CONNECTED) {
			tls_established(c);
			return;
		}
		tls_error_text(bev, why, sizeof(why));
		conn_log(c, TERN_LOG_INFO, "TLS handshake failed: %s", why);
		if (c->host->net->stats != NULL)
			tern__stats_add(&c->host->net->stats->tls_failed, 1);
		conn_end(c, true);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		char why[256];

		if (c->secure)
			tls_error_text(bev, why, sizeof(why));
		conn_log(c, TERN_LOG_INFO, "connection lost: %s",
			 c->secure && err == 0 ? why : evutil_socket_error_to_string(err));
		conn_end(c, true);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* Deliberate compromise: a client that half-closes is gone as
		 * far as SMTP goes (RFC 5321 has no half-close): input the
		 * engine had not taken yet is dropped. Replies it already
		 * produced are still written, so "EHLO..QUIT" piped through a
		 * half-closing nc sees its replies. */
		if (c->phase != PH_CLOSING)
			conn_log(c, TERN_LOG_INFO, "client disconnected without QUIT");
		if (flush_output(c) < 0) {
			conn_end(c, true);
			return;
		}
		c->engine->eof(c->session);
		free_session(c);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
			conn_end(c, false);
			return;
		}
		c->phase = PH_FLUSH;
		set_timer(c, TERN__CONN_LINGER_MS);
		update_reading(c);
	}
}

/* Reads shorter than this make the next one ask for less, down to this. */
#define READ_SIZE_MIN 4096u

/* Plaintext input, read by hand (own_read): one readv, no FIONREAD, as
 * much as the input buffer may still take (a 100 KiB message in two or
 * three reads), straight into the bufferevent's input, where feed_input
 * finds it as if libevent had read it. EOF and errors go to on_event as
 * libevent would report them. */
static void on_socket_read(evutil_socket_t fd, short what, void *arg)
{
	struct tern__conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t have = evbuffer_get_length(in), want = c->read_size;
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	size_t room = 0;
	ssize_t r;
	int n;

	(void)what;
	if (have >= TERN__CONN_INPUT_MAX) {
		update_reading(c);
		return;
	}
	if (want > TERN__CONN_INPUT_MAX - have)
		want = TERN__CONN_INPUT_MAX - have;
	/* The socket bufferevent keeps its input's end frozen but while it
	 * reads itself; so do we. */
	evbuffer_unfreeze(in, 0);
	n = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2);
	if (n <= 0) {
		evbuffer_freeze(in, 0);
		conn_log(c, TERN_LOG_ERROR, "out of memory reading input; closing");
		conn_end(c, true);
		return;
	}
	for (int i = 0; i < n; i++) {
		size_t l = v[i].iov_len < want - room ? v[i].iov_len : want - room;

		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = l;
		room += l;
	}
	r = readv(fd, iov, n);
	if (r <= 0) {
		int err = errno;

		evbuffer_commit_space(in, v, 0);
		evbuffer_freeze(in, 0);
		if (r < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR))
			return;
		errno = err;
		on_event(c->bev, (short)(BEV_EVENT_READING | (r == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR)),
			 c);
		return;
	}
	int used = 0;
	for (int i = 0; i < n && r > 0; i++, used++) {
		size_t l = (size_t)r > iov[i].iov_len ? iov[i].iov_len : (size_t)r;

		v[i].iov_len = l;
		r -= (ssize_t)l;
	}
	r = evbuffer_commit_space(in, v, used);
	evbuffer_freeze(in, 0);
	if (r != 0) {
		conn_end(c, true);
		return;
	}
	/* A read that filled what it asked for: more is waiting, ask for
	 * more next time; one that got little: ask for less (the chain it
	 * reads into is allocated at that size). */
	size_t got = evbuffer_get_length(in) - have;
	if (got == room && c->read_size < TERN__CONN_INPUT_MAX)
		c->read_size *= 4;
	else if (got < c->read_size / 8 && c->read_size > READ_SIZE_MIN)
		c->read_size /= 2;
	on_read(c->bev, c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tern__conn *c = arg;

	(void)fd;
	(void)what;
	switch (c->phase) {
	case PH_PROXY:
		proxy_fail(c, "not complete within %u ms", handshake_ms(c));
		break;
	case PH_HANDSHAKE:
		conn_log(c, TERN_LOG_INFO, "TLS handshake timed out");
		if (c->host->net->stats != NULL)
			tern__stats_add(&c->host->net->stats->tls_failed, 1);
		conn_end(c, true);
		break;
	case PH_DELAY:
		c->phase = PH_ACTIVE;
		c->engine->start(c->session);
		pump(c, true);
		break;
	case PH_ACTIVE:
		if (c->delaying) {
			c->delaying = false;
			c->engine->delay_over(c->session);
			pump(c, true);
			break;
		}
		c->engine->timeout(c->session);
		pump(c, false);
		break;
	case PH_CLOSING:
		conn_log(c, TERN_LOG_INFO, "client did not read the last reply; closing");
		conn_end(c, true);
		break;
	default: /* LINGER, FLUSH: the client took too long to close */
		conn_end(c, false);
		break;
	}
}

/* The engine's io wakeup lands here from the loop, never inside the engine. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct tern__conn *c = arg;

	(void)fd;
	(void)what;
	if (c->phase == PH_HANDSHAKE)
		return; /* tls_established pumps */
	pump(c, false);
}

static void engine_wakeup(void *io_ctx)
{
	struct tern__conn *c = io_ctx;

	event_active(&c->wake, EV_READ, 0);
}

/* Makes the engine session (knowing the addresses in info: the proxy's
 * client after a PROXY header) and the bufferevent it runs on. Returns 0,
 * or TERN_ENOMEM with neither left (the caller closes the socket). */
static int conn_start(struct tern__conn *c, const struct tern__conn_info *info, const char *id)
{
	const struct tern__conn_listener *listener = c->listener;
	struct tern__conn_io io = {0};

	if (!listener->implicit_tls) {
		/* Not BEV_OPT_CLOSE_ON_FREE: STARTTLS hands the socket on to
		 * a TLS bufferevent. */
		c->bev = bufferevent_socket_new(c->host->base, c->fd, 0);
		if (c->bev == NULL)
			return TERN_ENOMEM;
	}
	io.wakeup = engine_wakeup;
	io.io_ctx = c;
	io.base = c->host->base;
	if (c->engine->session_new(&c->session, listener->engine_ctx, info, id, &io) != 0) {
		release_bev(c);
		return TERN_ENOMEM;
	}
	if (listener->implicit_tls && make_tls_bev(c) != 0) {
		c->engine->free(&c->session);
		return TERN_ENOMEM;
	}
	if (!listener->implicit_tls) {
		bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
		bufferevent_setwatermark(c->bev, EV_READ, 0, TERN__CONN_INPUT_MAX);
		event_assign(&c->rd, c->host->base, c->fd, EV_READ | EV_PERSIST, on_socket_read, c);
		c->read_size = READ_SIZE_MIN;
		c->own_read = true;
	}
	return 0;
}

static void link_conn(struct tern__conn *c)
{
	struct tern__conn_host *host = c->host;

	c->next = host->conns;
	if (c->next != NULL)
		c->next->prev = c;
	host->conns = c;
	host->n_conns++;
}

/* The session exists: log it and greet, or let the handshake run first. */
static void conn_greet(struct tern__conn *c, const struct tern__conn_info *info)
{
	const char *ra = info->remote_address, *la = info->local_address;

	conn_log(c, TERN_LOG_INFO, "connection from %s%s%s:%u to %s%s%s:%u%s",
		 strchr(ra, ':') ? "[" : "", ra, strchr(ra, ':') ? "]" : "", info->remote_port,
		 strchr(la, ':') ? "[" : "", la, strchr(la, ':') ? "]" : "", info->local_port,
		 c->listener->implicit_tls ? " (TLS)" : "");
	if (c->listener->implicit_tls)
		return; /* the session begins once the handshake is done */
	begin_session(c);
}

/* ---- PROXY protocol ------------------------------------------------------
 * A connection from a trusted proxy (tern__conn_params.proxy) starts in
 * PH_PROXY: no session, no bufferevent, only an event on the socket and the
 * timer. Octets are peeked, fed to the parser (net/proxy.h), and only those
 * it took as header are then read for real: whatever follows the header (a
 * TLS ClientHello, a pipelined EHLO) stays in the socket for the TLS or plain
 * bufferevent made afterwards. A header never exceeds TERN__PROXY_HEADER_MAX
 * octets, and must be complete within the handshake timeout. Anything wrong
 * closes the connection without a reply: the peer is a proxy, not a mail
 * client, and it must not learn to talk SMTP to us without a header. */

static void proxy_fail(struct tern__conn *c, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	conn_log(c, TERN_LOG_INFO, "PROXY header from %s: %s; closing (session %s)",
		 c->proxy->peer, why, c->proxy->id);
	conn_end(c, false);
}

/* The addresses of the socket itself (LOCAL, UNKNOWN, UNSPEC headers). */
static void socket_addresses(int fd, char *raddr, unsigned *rport, char *laddr, unsigned *lport)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    tern__sockaddr_format((struct sockaddr *)&ss, raddr, TERN__SOCKADDR_STRLEN, rport) != 0)
		snprintf(raddr, TERN__SOCKADDR_STRLEN, "unknown");
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    tern__sockaddr_format((struct sockaddr *)&ss, laddr, TERN__SOCKADDR_STRLEN, lport) != 0)
		snprintf(laddr, TERN__SOCKADDR_STRLEN, "unknown");
}

/* One line saying who the proxy is and whom it speaks for. */
static void proxy_log(struct tern__conn *c, const struct tern__proxy_result *r)
{
	const char *peer = c->proxy->peer;
	const char *a = r->src_addr;
	bool v6 = strchr(a, ':') != NULL;

	if (r->local) {
		conn_log(c, TERN_LOG_INFO,
			 "PROXY v2 LOCAL from %s (the proxy's own connection): its addresses stand",
			 peer);
		return;
	}
	if (r->family == AF_UNSPEC) {
		conn_log(c, TERN_LOG_INFO,
			 "proxied from %s for an unknown client (PROXY v%u without an address): "
			 "the proxy's address stands",
			 peer, r->version);
		return;
	}
	conn_log(c, TERN_LOG_INFO, "proxied from %s for %s%s%s:%u (PROXY v%u%s%s%s%s%s)", peer,
		 v6 ? "[" : "", a, v6 ? "]" : "", r->src_port, r->version,
		 r->ssl_client_tls ? ", client TLS " : "", r->ssl_client_tls ? r->ssl_version : "",
		 r->ssl_client_cert ? (r->ssl_cert_verified ? ", client certificate verified"
							    : ", client certificate not verified")
				    : "",
		 r->authority[0] ? ", sni=" : "", r->authority);
}

/* The header is in: the session begins with the addresses it carries. */
static void proxy_done(struct tern__conn *c)
{
	struct proxy_phase *pp = c->proxy;
	const struct tern__proxy_result *r = &pp->parser.result;
	char raddr[TERN__SOCKADDR_STRLEN], laddr[TERN__SOCKADDR_STRLEN];
	struct tern__conn_info info;

	event_del(&pp->ev);
	evtimer_del(&c->timer);
	if (c->host->closing) {
		proxy_fail(c, "the server is closing");
		return;
	}
	memset(&info, 0, sizeof(info));
	if (!r->local && r->family != AF_UNSPEC) {
		/* The client, and the address it connected to at the proxy
		 * (what Postfix calls the server address too). */
		info.remote_address = r->src_addr;
		info.remote_port = r->src_port;
		info.local_address = r->dst_addr;
		info.local_port = r->dst_port;
	} else {
		socket_addresses(c->fd, raddr, &info.remote_port, laddr, &info.local_port);
		info.remote_address = raddr;
		info.local_address = laddr;
	}
	info.secure = c->listener->implicit_tls;
	info.tls_available = c->listener->tls != NULL;
	if (conn_start(c, &info, pp->id) != 0) {
		conn_log(c, TERN_LOG_ERROR, "out of memory starting the session from %s; closing",
			 pp->peer);
		conn_end(c, false);
		return;
	}
	proxy_log(c, r);
	c->proxy = NULL;
	/* info points into pp: greet first, free after. */
	conn_greet(c, &info);
	free(pp);
}

static void on_proxy_read(evutil_socket_t fd, short what, void *arg)
{
	struct tern__conn *c = arg;
	struct tern__proxy_parser *p = &c->proxy->parser;
	uint8_t buf[TERN__PROXY_HEADER_MAX];
	size_t want = tern__proxy_want(p), used = 0;
	enum tern__proxy_status st;
	ssize_t n;

	(void)what;
	/* Peek, never read ahead: what follows the header is not ours. */
	n = recv(fd, buf, want < sizeof(buf) ? want : sizeof(buf), MSG_PEEK);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		proxy_fail(c, "%s", strerror(errno));
		return;
	}
	if (n == 0) {
		proxy_fail(c, "connection closed %s", p->len ? "in the middle of the header"
							     : "before any header");
		return;
	}
	st = tern__proxy_feed(p, buf, (size_t)n, &used);
	if (st == TERN__PROXY_BAD) {
		proxy_fail(c, "%s", p->reason);
		return;
	}
	/* Those octets are in the kernel's buffer already: this takes them
	 * at once, and exactly them. */
	if (used > 0 && recv(fd, buf, used, 0) != (ssize_t)used) {
		proxy_fail(c, "cannot read the header it sent");
		return;
	}
	if (st == TERN__PROXY_DONE)
		proxy_done(c);
}

/* A trusted proxy connected: wait for its header. Takes over as
 * tern__conn_new does (on failure the socket is closed and c freed). */
static int proxy_begin(struct tern__conn *c, const struct sockaddr *peer, const char *id)
{
	struct proxy_phase *pp = malloc(sizeof(*pp));

	if (pp == NULL) {
		evutil_closesocket(c->fd);
		free(c);
		return TERN_ENOMEM;
	}
	snprintf(pp->id, sizeof(pp->id), "%s", id);
	tern__sockaddr_format_full(peer, pp->peer, sizeof(pp->peer));
	tern__proxy_init(&pp->parser);
	event_assign(&pp->ev, c->host->base, c->fd, EV_READ | EV_PERSIST, on_proxy_read, c);
	if (event_add(&pp->ev, NULL) != 0) {
		free(pp);
		evutil_closesocket(c->fd);
		free(c);
		return TERN_ENOMEM;
	}
	c->proxy = pp;
	c->phase = PH_PROXY;
	link_conn(c);
	set_timer(c, handshake_ms(c));
	conn_log(c, TERN_LOG_DEBUG, "connection from %s: waiting for its PROXY header (session %s)",
		 pp->peer, id);
	return 0;
}

int tern__conn_new(struct tern__conn_host *host, const struct tern__conn_listener *listener,
		   int fd, const struct sockaddr *peer, socklen_t peer_len, const char *id,
		   const struct tern__conn_params *p)
{
	char raddr[TERN__SOCKADDR_STRLEN], laddr[TERN__SOCKADDR_STRLEN];
	struct sockaddr_storage local;
	socklen_t local_len = sizeof(local);
	struct tern__conn_info info;
	struct tern__conn *c;
	int one = 1;

	(void)peer_len;
	memset(&info, 0, sizeof(info));
	if (tern__sockaddr_format(peer, raddr, sizeof(raddr), &info.remote_port) != 0)
		snprintf(raddr, sizeof(raddr), "unknown");
	if (getsockname(fd, (struct sockaddr *)&local, &local_len) != 0 ||
	    tern__sockaddr_format((struct sockaddr *)&local, laddr, sizeof(laddr),
				  &info.local_port) != 0)
		snprintf(laddr, sizeof(laddr), "unknown");
	info.remote_address = raddr;
	info.local_address = laddr;
	info.secure = listener->implicit_tls;
	info.tls_available = listener->tls != NULL;
	/* Replies are already batched per loop pass in the evbuffer; Nagle
	 * would only hold a reply back waiting for the client's delayed ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return TERN_ENOMEM;
	}
	c->host = host;
	c->listener = listener;
	c->engine = listener->engine;
	c->busy = p->busy;
	c->greeting_delay = p->greeting_delay;
	c->handshake_timeout = p->handshake_timeout;
	c->fd = fd;
	evtimer_assign(&c->timer, host->base, on_timer, c);
	event_assign(&c->wake, host->base, -1, 0, on_wake, c);
	if (p->proxy)
		return proxy_begin(c, peer, id);
	if (conn_start(c, &info, id) != 0) {
		evutil_closesocket(fd);
		free(c);
		return TERN_ENOMEM;
	}
	link_conn(c);
	conn_greet(c, &info);
	return 0;
}

void tern__conn_drain(struct tern__conn *c)
{
	/* A closing server does not wait for clients to acknowledge a
	 * session that is already over. */
	if (c->phase == PH_LINGER) {
		end_quietly(c);
		return;
	}
	/* No session yet: it would begin on a closing server. */
	if (c->phase == PH_PROXY) {
		proxy_fail(c, "the server is closing");
		return;
	}
	/* Mid-handshake: tls_established tells the engine (host->closing). */
	if (c->session == NULL || c->phase == PH_CLOSING || c->phase == PH_HANDSHAKE)
		return;
	c->engine->draining(c->session);
	pump(c, false);
}

void tern__conn_shutdown(struct tern__conn *c)
{
	if (c->phase == PH_PROXY) {
		proxy_fail(c, "the server is closing");
		return;
	}
	if (c->session == NULL || c->phase == PH_CLOSING)
		return;
	if (c->phase == PH_HANDSHAKE) {
		conn_end(c, true);
		return;
	}
	if (c->phase == PH_DELAY) {
		/* Not greeted yet; the 421 may come first (RFC 5321 3.1). */
		evtimer_del(&c->timer);
		c->phase = PH_ACTIVE;
	}
	c->engine->shutdown(c->session);
	pump(c, false);
}

void tern__conn_abort(struct tern__conn *c)
{
	conn_end(c, true);
}

struct tern__conn *tern__conn_next(const struct tern__conn *c)
{
	return c->next;
}

size_t tern__conn_sizeof(void)
{
	return sizeof(struct tern__conn);
}
