/* One client connection: a bufferevent socket driving one engine session.
 *
 * The connection owns its socket, its bufferevent, its timers and the engine
 * session. It knows no protocol: it follows the contract at the top of
 * net/conn_engine.h, whatever engine the listener names. Input is fed
 * straight out of libevent's buffers (no copy), output is pulled after every
 * engine call, the idle timer is re-armed after every feed, and the engine's
 * io wakeup only activates an event (never re-enters the engine).
 *
 * Closing: once the engine wants to close and everything is written, the
 * connection shuts down its sending side (the client sees EOF after the last
 * reply), frees the session (on_close runs), and keeps reading and dropping
 * input until the client closes, for at most TERN__CONN_LINGER_MS: closing
 * with unread input would make the kernel send a RST that can destroy the
 * final reply before the client reads it. */
#ifndef TERN_NET_CONNECTION_H
#define TERN_NET_CONNECTION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "net/conn_engine.h"
#include "net/tls.h"

struct event_base;
struct tern__conn;

/* Input kept per connection before reading stops (libevent read high-water
 * mark). The engine decides how much of it it keeps on its side. */
#define TERN__CONN_INPUT_MAX (64 * 1024)
/* Output queued toward a client that does not read before we stop pulling
 * replies from the engine and stop reading its commands. */
#define TERN__CONN_OUTPUT_MAX (64 * 1024)
/* After our last reply: wait this long for the client to close, and as long
 * for a client that does not read our last reply (as smtp-server does). */
#define TERN__CONN_LINGER_MS 2000
/* After the last reply, at most this much more input is read (and
 * dropped) before the connection is closed anyway: a client that writes
 * without reading must not keep us busy until a timer. */
#define TERN__CONN_DRAIN_MAX 8192

#define TERN__CONN_TIMEOUT_CACHE 4
/* A TLS handshake (implicit or after STARTTLS) must be over by then. */
#define TERN__CONN_HANDSHAKE_MS 60000

/* What the connections of one listener share: the engine that serves them
 * and how TLS starts. Lives as long as the listener's server. */
struct tern__conn_listener {
	const struct tern__conn_engine *engine;
	void *engine_ctx;
	struct tern__tls_slot *tls; /* NULL: no TLS on this listener */
	bool implicit_tls;          /* the handshake comes before the greeting */
	/* ms before start() on this listener (early talkers are fed and
	 * refused by the engine); overrides the connection's greeting_delay
	 * (struct tern__conn_params) when own_greeting_delay. */
	bool own_greeting_delay;
	unsigned greeting_delay;
};

/* Settings of the net layer itself (not the engine's). */
struct tern__net_config {
	struct tern__stats *stats;  /* TLS handshakes counted here; may be NULL */
};

/* What the host decided for one connection as it was accepted (from the
 * settings of that moment: a reconfiguration changes the next ones). */
struct tern__conn_params {
	/* Refuse at once with start_busy (outside max_clients). */
	bool busy;
	/* The connection must begin with a PROXY protocol header (the peer
	 * is a trusted proxy: net/proxy.h). Before any TLS handshake and
	 * before the session exists, the connection reads the header
	 * itself (peeking, so that no octet after it leaves the socket),
	 * within the handshake timeout; a bad, short or missing header
	 * closes the connection without a word. The header's client
	 * address then is the session's. Decide it by the address the
	 * socket came from, never by what the peer sends: from anyone else
	 * a header is a command. */
	bool proxy;
	/* ms before start() (early talkers are fed and refused by the
	 * engine), unless the listener has its own_greeting_delay. */
	unsigned greeting_delay;
	unsigned handshake_timeout; /* ms; 0: TERN__CONN_HANDSHAKE_MS */
};

/* What a set of connections shares: one per event loop (the server's worker). */
struct tern__conn_host {
	struct event_base *base;
	const struct tern__net_config *net;
	struct tern__conn *conns; /* live connections, a doubly linked list */
	unsigned n_conns;
	bool closing; /* the server is closing: connections do not linger */
	/* The engine session of a connection was freed (on_close has run);
	 * busy tells whether it was started with start_busy (outside
	 * max_clients). The connection itself may linger a little longer.
	 * Also called for a connection that ended while reading its PROXY
	 * header, before it had a session. */
	void (*session_ended)(struct tern__conn_host *host, bool busy);
	/* Called after a connection was unlinked and freed. */
	void (*conn_ended)(struct tern__conn_host *host);
	/* libevent common timeouts by duration (see set_timer). */
	struct {
		unsigned ms;
		struct timeval tv;
	} timeouts[TERN__CONN_TIMEOUT_CACHE];
	size_t n_timeouts;
};

/* Takes over fd (closed on any failure), reads a PROXY header first when
 * p->proxy, creates the listener's engine session with id and starts it
 * (after an implicit-TLS handshake, then after the greeting delay), or with
 * p->busy, refuses it at once with start_busy. p is copied. Returns 0 (the
 * connection may already have ended, and conn_ended been called, if the
 * engine closed it at once) or TERN_ENOMEM; on failure neither
 * session_ended nor conn_ended is called. */
int tern__conn_new(struct tern__conn_host *host, const struct tern__conn_listener *listener,
		   int fd, const struct sockaddr *peer, socklen_t peer_len, const char *id,
		   const struct tern__conn_params *p);

/* The server is closing (host->closing is set): the session should finish
 * what it does; a connection whose session is over ends now. */
void tern__conn_drain(struct tern__conn *c);

/* The close grace time is over: 421 and close. */
void tern__conn_shutdown(struct tern__conn *c);

/* Ends the connection now without writing anything (server destroyed while
 * the connection was still open). */
void tern__conn_abort(struct tern__conn *c);

/* The next connection of the host's list (iteration that may free c:
 * take the next one first). */
struct tern__conn *tern__conn_next(const struct tern__conn *c);

/* Size of one connection object, for memory measurements and tests. */
size_t tern__conn_sizeof(void);

#endif
