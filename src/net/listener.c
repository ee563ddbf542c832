/* Listening sockets. We create the socket ourselves (rather than
 * evconnlistener_new_bind) to set exactly the options we want and to report
 * bind/listen errors with their errno; libevent then does the accept loop. */
#include "net/listener.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tern/tern.h"

/* Kernel caps it at net.core.somaxconn anyway. */
#define LISTEN_BACKLOG 1024
/* Pause after the fd table is full: long enough for sessions to end, short
 * enough that clients barely notice. */
#define ACCEPT_RETRY_MS 250

struct tern__listener {
	struct evconnlistener *lev;
	struct event retry; /* re-enables accepting after EMFILE & co. */
	struct tern__listener_cbs cbs;
	unsigned port;
};

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct tern__listener *l = arg;

	(void)lev;
	l->cbs.accept(fd, sa, (socklen_t)socklen, l->cbs.ctx);
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct tern__listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();

	/* The listening socket stays readable while the queue holds clients we
	 * cannot accept, so a level-triggered loop would spin at 100% CPU. */
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};

		evconnlistener_disable(lev);
		evtimer_add(&l->retry, &tv);
	}
	if (l->cbs.error != NULL)
		l->cbs.error(err, l->cbs.ctx);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct tern__listener *l = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(l->lev);
}

static int set_int_opt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

static int bound_port(int fd, unsigned *port_r)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		*port_r = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		*port_r = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*port_r = 0;
	return 0;
}

int tern__listener_open(struct tern__listener **l_r, struct event_base *base,
			const struct sockaddr *sa, socklen_t len, bool reuseport,
			const struct tern__listener_cbs *cbs)
{
	struct tern__listener *l;
	int fd, saved;

	*l_r = NULL;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return TERN_EIO;
	if (set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0)
		goto fail_io;
#ifdef SO_REUSEPORT
	/* Only when asked: with it always on, a second server started by
	 * mistake on the same port would silently share its clients. */
	if (reuseport && set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1) != 0)
		goto fail_io;
#else
	if (reuseport) {
		errno = ENOTSUP;
		goto fail_io;
	}
#endif
	if (sa->sa_family == AF_INET6 && set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) != 0)
		goto fail_io;
	if (bind(fd, sa, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
		goto fail_io;

	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		close(fd);
		return TERN_ENOMEM;
	}
	l->cbs = *cbs;
	if (bound_port(fd, &l->port) != 0) {
		saved = errno;
		free(l);
		close(fd);
		errno = saved;
		return TERN_EIO;
	}
	evtimer_assign(&l->retry, base, on_retry, l);
	/* backlog 0: the socket is already listening. */
	l->lev = evconnlistener_new(base, on_accept, l, LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (l->lev == NULL) {
		free(l);
		close(fd);
		return TERN_ENOMEM;
	}
	evconnlistener_set_error_cb(l->lev, on_accept_error);
	*l_r = l;
	return 0;

fail_io:
	saved = errno;
	close(fd);
	errno = saved;
	return TERN_EIO;
}

unsigned tern__listener_port(const struct tern__listener *l)
{
	return l->port;
}

void tern__listener_free(struct tern__listener **lp)
{
	struct tern__listener *l = *lp;

	if (l == NULL)
		return;
	evtimer_del(&l->retry);
	evconnlistener_free(l->lev);
	free(l);
	*lp = NULL;
}
