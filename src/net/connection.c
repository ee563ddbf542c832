/* A client connection: bufferevent <-> engine session. See connection.h. */
#include "net/connection.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/listen_addr.h"
#include "net/netlog.h"

enum phase {
	PH_DELAY,   /* greeting delay running; input is fed (early talkers) */
	PH_ACTIVE,  /* session running */
	PH_CLOSING, /* engine wants to close; writing its last output */
	PH_LINGER,  /* we sent FIN; dropping input until the client closes */
	PH_FLUSH,   /* client sent FIN; writing what is queued, then close */
};

struct tern__conn {
	struct tern__conn *prev, *next;
	struct tern__conn_host *host;
	struct bufferevent *bev;
	tern_smtp_session *session; /* NULL once freed (LINGER, FLUSH) */
	/* One timer serves every phase: greeting delay, idle limit, the cap on
	 * writing the last reply, and the linger. Both events are embedded to
	 * save two allocations per connection. */
	struct event timer;
	struct event wake; /* activated by the engine's io wakeup */
	uint8_t phase;
	unsigned progress; /* the engine's progress count at the last timer reset */
	bool paused;   /* the engine took less than it was given */
	bool out_full; /* TERN__CONN_OUTPUT_MAX queued toward the client */
	bool busy;     /* started with start_busy */
};

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
	tern__smtp_session_free(&c->session);
	c->host->session_ended(c->host, c->busy);
}

/* Frees everything. client_gone: the session did not end by itself. */
static void conn_end(struct tern__conn *c, bool client_gone)
{
	struct tern__conn_host *host = c->host;

	if (c->session != NULL) {
		if (client_gone)
			tern__smtp_session_eof(c->session);
		free_session(c);
	}
	event_del(&c->timer);
	event_del(&c->wake);
	bufferevent_free(c->bev); /* closes the socket */
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
		tern__smtp_session_output(c->session, &buf, &len);
		if (len == 0)
			return 1;
		/* A client that pipelines without reading our replies must
		 * not make us queue without limit: keep the rest in the
		 * engine, whose backpressure then stops consuming input. */
		if (evbuffer_get_length(out) >= TERN__CONN_OUTPUT_MAX) {
			c->out_full = true;
			return 0;
		}
		if (evbuffer_get_length(out) == 0) {
			/* Nothing queued: write at once rather than arm EV_WRITE
			 * and wait a loop turn for it (three system calls per
			 * reply fewer). Only the rest goes through libevent. The
			 * TLS filter will take the libevent path. */
			ssize_t n = send(bufferevent_getfd(c->bev), buf, len,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				tern__smtp_session_output_consumed(c->session, (size_t)n);
				if ((size_t)n == len)
					continue;
				buf = (const char *)buf + n;
				len -= (size_t)n;
			}
			/* EAGAIN or an error: libevent retries or reports it. */
		}
		if (evbuffer_add(out, buf, len) != 0)
			return -1;
		tern__smtp_session_output_consumed(c->session, len);
	}
}

/* Feeds buffered input to the engine straight from libevent's chains. */
static void feed_input(struct tern__conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec v[8];

	while (!c->paused) {
		int n = evbuffer_peek(in, -1, NULL, v, 8);
		size_t used = 0;

		if (n <= 0)
			return;
		if (n > 8)
			n = 8;
		for (int i = 0; i < n; i++) {
			ssize_t r = tern__smtp_session_feed(c->session, v[i].iov_base, v[i].iov_len);

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
		evbuffer_drain(in, used);
	}
}

static void update_reading(struct tern__conn *c)
{
	bool want, on = (bufferevent_get_enabled(c->bev) & EV_READ) != 0;

	switch (c->phase) {
	case PH_DELAY:
	case PH_ACTIVE:
		want = !c->paused && !c->out_full;
		break;
	case PH_CLOSING:
	case PH_LINGER:
		want = true; /* read and drop, so that close does not RST */
		break;
	default:
		want = false;
		break;
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
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	char buf[4096];

	for (int i = 0; i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
	conn_end(c, false);
}

/* Everything is written and the engine is done: FIN, free the session,
 * then drop input until the client closes. Returns false if c was freed
 * (the server is closing: no lingering then). */
static bool start_linger(struct tern__conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	shutdown(bufferevent_getfd(c->bev), SHUT_WR);
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

/* Runs after every engine call: output, close, reading, idle timer.
 * reset_idle: the client sent something. Returns false if c was freed. */
static bool pump(struct tern__conn *c, bool reset_idle)
{
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
		more = flushed == 1 && c->paused && tern__smtp_session_want_input(c->session) &&
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
		tern__net_log(c->host->cfg, c->session, TERN_LOG_ERROR,
			      "out of memory queueing output; closing");
		conn_end(c, true);
		return false;
	}
	if (tern__smtp_session_want_close(c->session)) {
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
	update_reading(c);
	if (c->phase == PH_ACTIVE) {
		unsigned ms = tern__smtp_session_timeout_ms(c->session);

		/* 0: we wait for the embedder, not the client. */
		if (ms == 0)
			evtimer_del(&c->timer);
		else if ((reset_idle && tern__smtp_session_progress(c->session) != c->progress) ||
			 !evtimer_pending(&c->timer, NULL)) {
			/* Only progress re-arms the timer: a client dribbling
			 * one octet of a command line now and then (slowloris)
			 * still times out. */
			c->progress = tern__smtp_session_progress(c->session);
			set_timer(c, ms);
		}
	}
	return true;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct tern__conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->phase == PH_CLOSING || c->phase == PH_LINGER || c->session == NULL) {
		evbuffer_drain(in, evbuffer_get_length(in));
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
	pump(c, false);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct tern__conn *c = arg;
	int err = EVUTIL_SOCKET_ERROR();

	(void)bev;
	if (c->session == NULL) { /* LINGER or FLUSH: the client is done */
		conn_end(c, false);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		tern__net_log(c->host->cfg, c->session, TERN_LOG_INFO, "connection lost: %s",
			      evutil_socket_error_to_string(err));
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
			tern__net_log(c->host->cfg, c->session, TERN_LOG_INFO,
				      "client disconnected without QUIT");
		if (flush_output(c) < 0) {
			conn_end(c, true);
			return;
		}
		tern__smtp_session_eof(c->session);
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

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tern__conn *c = arg;

	(void)fd;
	(void)what;
	switch (c->phase) {
	case PH_DELAY:
		c->phase = PH_ACTIVE;
		tern__smtp_session_start(c->session);
		pump(c, true);
		break;
	case PH_ACTIVE:
		tern__smtp_session_timeout(c->session);
		pump(c, false);
		break;
	case PH_CLOSING:
		tern__net_log(c->host->cfg, c->session, TERN_LOG_INFO,
			      "client did not read the last reply; closing");
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
	(void)fd;
	(void)what;
	pump(arg, false);
}

static void engine_wakeup(void *io_ctx)
{
	struct tern__conn *c = io_ctx;

	event_active(&c->wake, EV_READ, 0);
}

int tern__conn_new(struct tern__conn_host *host, int fd, const struct sockaddr *peer,
		   socklen_t peer_len, const char *id, bool busy)
{
	char raddr[TERN__SOCKADDR_STRLEN], laddr[TERN__SOCKADDR_STRLEN];
	struct sockaddr_storage local;
	socklen_t local_len = sizeof(local);
	struct tern__smtp_conn_info info;
	struct tern__smtp_io io = {0};
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
	/* Replies are already batched per loop pass in the evbuffer; Nagle
	 * would only hold a reply back waiting for the client's delayed ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return TERN_ENOMEM;
	}
	c->host = host;
	c->busy = busy;
	c->bev = bufferevent_socket_new(host->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return TERN_ENOMEM;
	}
	io.wakeup = engine_wakeup;
	io.io_ctx = c;
	if (tern__smtp_session_new(&c->session, host->cfg, &info, id, &io) != 0) {
		bufferevent_free(c->bev);
		free(c);
		return TERN_ENOMEM;
	}
	evtimer_assign(&c->timer, host->base, on_timer, c);
	event_assign(&c->wake, host->base, -1, 0, on_wake, c);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, TERN__CONN_INPUT_MAX);
	c->next = host->conns;
	if (c->next != NULL)
		c->next->prev = c;
	host->conns = c;
	host->n_conns++;

	tern__net_log(host->cfg, c->session, TERN_LOG_INFO, "connection from %s%s%s:%u to %s%s%s:%u",
		      strchr(raddr, ':') ? "[" : "", raddr, strchr(raddr, ':') ? "]" : "",
		      info.remote_port, strchr(laddr, ':') ? "[" : "", laddr,
		      strchr(laddr, ':') ? "]" : "", info.local_port);
	if (busy) {
		/* smtp-server sends this at once, without any delay. */
		c->phase = PH_ACTIVE;
		tern__smtp_session_start_busy(c->session);
	} else if (host->cfg->greeting_delay > 0) {
		c->phase = PH_DELAY;
		set_timer(c, host->cfg->greeting_delay);
	} else {
		c->phase = PH_ACTIVE;
		tern__smtp_session_start(c->session);
	}
	pump(c, true);
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
	if (c->session == NULL || c->phase == PH_CLOSING)
		return;
	tern__smtp_session_draining(c->session);
	pump(c, false);
}

void tern__conn_shutdown(struct tern__conn *c)
{
	if (c->session == NULL || c->phase == PH_CLOSING)
		return;
	if (c->phase == PH_DELAY) {
		/* Not greeted yet; the 421 may come first (RFC 5321 3.1). */
		evtimer_del(&c->timer);
		c->phase = PH_ACTIVE;
	}
	tern__smtp_session_shutdown(c->session);
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
