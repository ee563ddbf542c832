/* A listening TCP socket on an event loop; accepted sockets go to a callback. */
#ifndef TERN_NET_LISTENER_H
#define TERN_NET_LISTENER_H

#include <stdbool.h>
#include <sys/socket.h>

struct event_base;
struct tern__listener;

struct tern__listener_cbs {
	/* A client connected; fd is nonblocking and close-on-exec, and now
	 * belongs to the callee. peer is valid until the callback returns. */
	void (*accept)(int fd, const struct sockaddr *peer, socklen_t peer_len, void *ctx);
	/* accept() failed with errno err (other than the retriable ones). On
	 * EMFILE/ENFILE/ENOBUFS/ENOMEM the listener pauses itself for a moment
	 * first, so that a full fd table does not spin the loop. */
	void (*error)(int err, void *ctx);
	void *ctx;
};

/* Opens a socket bound to sa and listening, with SO_REUSEADDR (restarts do
 * not wait for TIME_WAIT), SO_REUSEPORT when reuseport (one listener per
 * worker thread on the same address; the kernel spreads connections) and
 * IPV6_V6ONLY for IPv6 (see listen_addr.h). Returns 0, TERN_EIO (errno set)
 * or TERN_ENOMEM. The callbacks are copied. */
int tern__listener_open(struct tern__listener **l_r, struct event_base *base,
			const struct sockaddr *sa, socklen_t len, bool reuseport,
			const struct tern__listener_cbs *cbs);

/* The port actually bound (the kernel's choice for port 0). */
unsigned tern__listener_port(const struct tern__listener *l);

/* Closes the socket; accepted connections are not affected. Sets *l to NULL. */
void tern__listener_free(struct tern__listener **l);

#endif
