/* tern_smtp_server_*: server object, workers, listeners, graceful close.
 * See server.h for the threading model. */
#include "server/server.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "server/log.h"
#include "server/server_tls.h"

/* RFC 5321 has no number for it; smtp-server's closeTimeout default. */
#define DEFAULT_CLOSE_TIMEOUT_MS 30000
#define MAX_WORKERS 1024

static void worker_finish(struct tern__worker *w)
{
	if (w->finished)
		return;
	w->finished = true;
	event_del(&w->notify);
	event_del(&w->grace);
	/* run(): nothing of ours is left on this base; make sure the loop
	 * returns even if something else was added to it. */
	if (w->own_base)
		event_base_loopbreak(w->host.base);
	else
		tern__server_logs(w->server, TERN_LOG_INFO, "closed");
}

static void session_ended(struct tern__conn_host *host, bool busy)
{
	tern_smtp_server *s = ((struct tern__worker *)host)->server;

	if (!busy)
		atomic_fetch_sub(&s->admitted, 1);
	atomic_fetch_sub(&s->sessions, 1);
}

/* Finishing waits for connections, not sessions: a lingering connection
 * still has its socket and timer on the loop. */
static void conn_ended(struct tern__conn_host *host)
{
	struct tern__worker *w = (struct tern__worker *)host;

	if (w->closing && host->n_conns == 0)
		worker_finish(w);
}

/* 12 hex digits, unique per server: a random 48-bit seed plus the counter
 * times an odd constant (a bijection mod 2^48), so ids do not repeat before
 * 2^48 connections and do not reveal how busy the server is. */
static void make_id(tern_smtp_server *s, char id[13])
{
	uint64_t n = atomic_fetch_add(&s->next_id, 1);
	uint64_t v = (s->id_seed + n * UINT64_C(0x9E3779B97F4A7C15)) & UINT64_C(0xFFFFFFFFFFFF);

	snprintf(id, 13, "%012" PRIx64, v);
}

struct tern__server_gen *tern__server_gen_get(tern_smtp_server *s)
{
	struct tern__server_gen *g;

	/* A lock, not a bare atomic load: between loading the pointer and
	 * counting the reference, reconfigure() could drop the last other
	 * reference. Held for two instructions, once or twice a connection. */
	pthread_mutex_lock(&s->gen_lock);
	g = s->gen;
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&s->gen_lock);
	return g;
}

void tern__server_gen_put(struct tern__server_gen *g)
{
	if (g == NULL || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
		return;
	tern__smtp_config_free(&g->smtp);
	tern__cidr_list_free(&g->proxy_from);
	free(g);
}

void tern__server_logs(tern_smtp_server *s, enum tern_smtp_log_level level, const char *fmt, ...)
{
	struct tern__server_gen *g = tern__server_gen_get(s);
	const tern_smtp_options *o = &g->smtp.opts;
	char line[512];
	va_list ap;

	if (o->callbacks.on_log != NULL && level <= o->log_level) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		o->callbacks.on_log(NULL, level, line, o->user_data);
	}
	tern__server_gen_put(g);
}

/* The adapter's view of the generations (smtp_engine.h). */
static const struct tern__smtp_config *cfg_acquire(void *ctx)
{
	return &tern__server_gen_get(ctx)->smtp;
}

static void cfg_release(void *ctx, const struct tern__smtp_config *cfg)
{
	(void)ctx;
	tern__server_gen_put((struct tern__server_gen *)((const char *)cfg -
							 offsetof(struct tern__server_gen, smtp)));
}

static void on_accept(int fd, const struct sockaddr *peer, socklen_t peer_len, void *ctx)
{
	struct tern__worker_listener *wl = ctx;
	struct tern__worker *w = wl->w;
	tern_smtp_server *s = w->server;
	struct tern__server_gen *g = tern__server_gen_get(s);
	unsigned max = g->smtp.opts.max_clients;
	struct tern__conn_params p = {
		.greeting_delay = g->smtp.greeting_delay,
		.handshake_timeout = g->smtp.opts.tls_handshake_timeout,
		/* By the address the socket came from, never by what the
		 * peer sends. */
		.proxy = g->proxy_from.n > 0 && tern__cidr_list_match_sa(&g->proxy_from, peer),
	};
	char id[13];

	tern__server_gen_put(g);
	/* max_clients counts sessions of every worker: reserve a slot first,
	 * give it back if the server is full. */
	if (atomic_fetch_add(&s->admitted, 1) >= max && max != 0) {
		atomic_fetch_sub(&s->admitted, 1);
		p.busy = true;
	}
	atomic_fetch_add(&s->sessions, 1);
	tern__stats_add(&s->stats.conn_accepted, 1);
	if (p.busy)
		tern__stats_add(&s->stats.conn_busy, 1);
	make_id(s, id);
	if (tern__conn_new(&w->host, &s->listens[wl->addr].conn, fd, peer, peer_len, id, &p) != 0) {
		if (!p.busy)
			atomic_fetch_sub(&s->admitted, 1);
		atomic_fetch_sub(&s->sessions, 1);
		tern__server_logs(s, TERN_LOG_ERROR, "out of memory accepting a connection; closed it");
	}
}

static void on_accept_error(int err, void *ctx)
{
	struct tern__worker *w = ((struct tern__worker_listener *)ctx)->w;

	tern__server_logs(w->server, TERN_LOG_ERROR, "accept: %s", strerror(err));
}

static void free_listeners(struct tern__worker *w)
{
	for (size_t i = 0; i < w->n_listeners; i++)
		tern__listener_free(&w->listeners[i].l);
	free(w->listeners);
	w->listeners = NULL;
	w->n_listeners = 0;
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct tern__worker *w = arg;
	struct tern__conn *c, *next;

	(void)fd;
	(void)what;
	tern__server_logs(w->server, TERN_LOG_INFO,
		      "close timeout over; ending %u session(s)", w->host.n_conns);
	for (c = w->host.conns; c != NULL; c = next) {
		next = tern__conn_next(c);
		tern__conn_shutdown(c);
	}
}

static void begin_close(struct tern__worker *w)
{
	tern_smtp_server *s = w->server;
	struct tern__conn *c, *next;
	struct tern__server_gen *g = tern__server_gen_get(s);
	unsigned ms = g->smtp.opts.close_timeout ? g->smtp.opts.close_timeout
						 : DEFAULT_CLOSE_TIMEOUT_MS;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	tern__server_gen_put(g);

	w->closing = true;
	w->host.closing = true;
	free_listeners(w);
	if (w->index == 0)
		tern__server_logs(s, TERN_LOG_INFO, "closing: no longer accepting");
	for (c = w->host.conns; c != NULL; c = next) {
		next = tern__conn_next(c);
		tern__conn_drain(c);
	}
	if (w->host.n_conns == 0)
		worker_finish(w);
	else if (!w->finished)
		evtimer_add(&w->grace, &tv);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct tern__worker *w = arg;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (atomic_load(&w->server->closing) && !w->closing)
		begin_close(w);
}

static int worker_dns(struct tern__worker *w);

static int worker_init(struct tern__worker *w, tern_smtp_server *s, unsigned index,
		       struct event_base *base)
{
	memset(w, 0, sizeof(*w));
	w->notify_fd[0] = w->notify_fd[1] = -1;
	w->server = s;
	w->index = index;
	w->host.net = &s->net;
	w->host.session_ended = session_ended;
	w->host.conn_ended = conn_ended;
	if (base == NULL) {
		base = event_base_new();
		if (base == NULL)
			return TERN_ENOMEM;
		w->own_base = true;
	}
	w->host.base = base;
	w->base_made = true;
	if (pipe2(w->notify_fd, O_NONBLOCK | O_CLOEXEC) != 0)
		return TERN_EIO;
	event_assign(&w->notify, base, w->notify_fd[0], EV_READ | EV_PERSIST, on_notify, w);
	evtimer_assign(&w->grace, base, on_grace, w);
	w->events_made = true;
	if (event_add(&w->notify, NULL) != 0)
		return TERN_ENOMEM;
	/* With reverse DNS on from the start, a resolver that cannot be made
	 * fails the start; one turned on by reconfigure() is made when first
	 * needed (worker_resolver). */
	struct tern__server_gen *g = tern__server_gen_get(s);
	bool reverse = !g->smtp.opts.no_reverse_dns;

	tern__server_gen_put(g);
	return reverse ? worker_dns(w) : 0;
}

/* Makes w's resolver; on the worker's own thread, or before it runs. */
static int worker_dns(struct tern__worker *w)
{
	char why[256] = "";
	int err;

	if (w->dns != NULL || w->dns_failed)
		return w->dns != NULL ? 0 : TERN_EIO;
	err = tern__dns_new(&w->dns, w->host.base, w->server->dns_server, why, sizeof(why));
	if (err != 0) {
		w->dns_failed = true; /* logged once, not per connection */
		tern__server_logs(w->server, TERN_LOG_ERROR, "DNS resolver: %s",
				  why[0] ? why : tern_strerror(err));
	}
	return err;
}

/* The resolver of the worker whose loop is base (the SMTP adapter asks
 * when a session starts, on that loop's thread; workers never change while
 * sessions run). */
static struct tern__dns *worker_resolver(void *ctx, struct event_base *base)
{
	tern_smtp_server *s = ctx;

	for (unsigned i = 0; i < s->n_workers; i++)
		if (s->workers[i].host.base == base)
			return worker_dns(&s->workers[i]) == 0 ? s->workers[i].dns : NULL;
	return NULL;
}

/* Frees what worker_init and open_listeners made. Connections still open
 * (destroy of an attached server that was not drained) end at once. */
static void worker_teardown(struct tern__worker *w)
{
	free_listeners(w);
	while (w->host.conns != NULL)
		tern__conn_abort(w->host.conns);
	/* After the connections: their sessions cancelled their lookups. */
	tern__dns_free(&w->dns);
	if (w->events_made) {
		event_del(&w->notify);
		event_del(&w->grace);
	}
	for (int i = 0; i < 2; i++) {
		if (w->notify_fd[i] >= 0)
			close(w->notify_fd[i]);
		w->notify_fd[i] = -1;
	}
	if (w->own_base && w->base_made)
		event_base_free(w->host.base);
	w->base_made = false;
}

/* Room for every socket of every address, made before any is opened:
 * each listener's accept context points into this array. */
static int reserve_listeners(struct tern__worker *w)
{
	size_t n = 0;

	for (size_t i = 0; i < w->server->n_addrs; i++)
		n += w->server->addrs[i].n;
	w->listeners = calloc(n ? n : 1, sizeof(*w->listeners));
	return w->listeners ? 0 : TERN_ENOMEM;
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* Opens this worker's listeners on every address. With port 0, the first
 * socket of an address gets the kernel's port and every other socket of that
 * address (other families, other workers) binds the same one. */
static int open_listeners(struct tern__worker *w, bool reuseport)
{
	tern_smtp_server *s = w->server;
	char text[TERN__SOCKADDR_STRLEN];

	if (reserve_listeners(w) != 0)
		return TERN_ENOMEM;
	for (size_t i = 0; i < s->n_addrs; i++) {
		const struct tern__listen_addr *la = &s->addrs[i];
		size_t opened = 0;
		int last_errno = 0;

		for (size_t j = 0; j < la->n; j++) {
			struct sockaddr_storage ss = la->addrs[j];
			unsigned port = atomic_load(&s->ports[i]);
			struct tern__listener *l;
			int err;

			if (la->port == 0 && port != 0)
				set_port(&ss, port);
			tern__sockaddr_format_full((struct sockaddr *)&ss, text, sizeof(text));
			struct tern__worker_listener *wl = &w->listeners[w->n_listeners];
			struct tern__listener_cbs cbs = {on_accept, on_accept_error, wl};

			wl->w = w;
			wl->addr = i;
			err = tern__listener_open(&l, w->host.base, (struct sockaddr *)&ss,
						  la->lens[j], reuseport, &cbs);
			if (err == TERN_EIO && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
				/* A host without IPv6 (or without one of the
				 * addresses a name resolved to) still serves
				 * the others. */
				last_errno = errno;
				if (w->index == 0)
					tern__server_logs(s, TERN_LOG_WARNING,
						      "listen %s (%s): %s; skipped", la->spec,
						      text, strerror(errno));
				continue;
			}
			if (err != 0) {
				int saved = errno;

				tern__server_logs(s, TERN_LOG_ERROR, "listen %s (%s): %s",
					      la->spec, text,
					      err == TERN_EIO ? strerror(saved) : tern_strerror(err));
				errno = saved;
				return err;
			}
			wl->l = l;
			w->n_listeners++;
			opened++;
			if (port == 0)
				atomic_store(&s->ports[i], tern__listener_port(l));
			if (w->index == 0) {
				if (la->port == 0)
					set_port(&ss, tern__listener_port(l));
				tern__sockaddr_format_full((struct sockaddr *)&ss, text,
							   sizeof(text));
				tern__server_logs(s, TERN_LOG_INFO, "listening on %s%s", text,
						 s->listens[i].policy.secure ? " (TLS)" : "");
			}
		}
		if (opened == 0) {
			errno = last_errno;
			return TERN_EIO;
		}
	}
	return 0;
}

static void notify_workers(tern_smtp_server *s)
{
	for (unsigned i = 0; i < s->n_workers; i++) {
		ssize_t r = write(s->workers[i].notify_fd[1], "c", 1);

		(void)r; /* EAGAIN: a wakeup is already pending */
	}
}

static void *worker_thread(void *arg)
{
	struct tern__worker *w = arg;

	event_base_dispatch(w->host.base);
	return NULL;
}

static void reset_ports(tern_smtp_server *s)
{
	for (size_t i = 0; i < s->n_addrs; i++)
		atomic_store(&s->ports[i], 0);
}

/* Creates and opens n workers; on failure everything is torn down. */
static int start_workers(tern_smtp_server *s, unsigned n, struct event_base *base)
{
	struct tern__worker *ws = calloc(n, sizeof(*ws));
	int err = 0;
	unsigned made = 0;

	if (ws == NULL)
		return TERN_ENOMEM;
	for (; made < n && err == 0; made++)
		err = worker_init(&ws[made], s, made, base);
	for (unsigned i = 0; i < n && err == 0; i++)
		err = open_listeners(&ws[i], n > 1);
	if (err != 0) {
		int saved = errno;

		for (unsigned i = 0; i < made; i++)
			worker_teardown(&ws[i]);
		free(ws);
		reset_ports(s);
		errno = saved;
		return err;
	}
	s->workers = ws;
	s->n_workers = n;
	return 0;
}

int tern_smtp_server_new(tern_smtp_server **server_r, const tern_smtp_options *opts)
{
	tern_smtp_server *s;
	tern_smtp_options full;
	pthread_mutexattr_t attr;
	uint64_t seed = 0;
	int err;

	if (server_r == NULL || opts == NULL)
		return TERN_EINVAL;
	*server_r = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return TERN_ENOMEM;
	if (pthread_mutex_init(&s->gen_lock, NULL) != 0) {
		free(s);
		return TERN_ENOMEM;
	}
	/* Recursive: an on_log callback run while run() holds the lock may
	 * call tern_smtp_server_close(). */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	err = pthread_mutex_init(&s->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (err != 0) {
		pthread_mutex_destroy(&s->gen_lock);
		free(s);
		return TERN_ENOMEM;
	}
	s->state = SERVER_NEW;
	atomic_init(&s->closing, false);
	atomic_init(&s->sessions, 0);
	atomic_init(&s->admitted, 0);
	atomic_init(&s->next_id, 0);
	s->net.stats = &s->stats;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		/* Ids need to be unique, not secret; the counter does that. */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
	}
	s->id_seed = seed;
	/* full: the options as the library read them, within the caller's
	 * struct_size, with the caller's pointers, valid during this call. */
	err = tern__server_gen_new(s, opts, NULL, &s->gen, &full);
	if (err == 0)
		err = tern__server_tls_init(s, &full);
	if (err == 0 && (s->gen->smtp.listener.secure || s->gen->smtp.listener.require_tls) &&
	    !s->tls_on) {
		tern__server_logs(s, TERN_LOG_ERROR, "secure and require_tls need a TLS certificate");
		err = TERN_EINVAL;
	}
	if (err == 0 && full.dns_server != NULL &&
	    (s->dns_server = strdup(full.dns_server)) == NULL)
		err = TERN_ENOMEM;
	if (err == 0)
		err = tern__server_abuse_init(s, &full);
	if (err != 0) {
		tern_smtp_server_destroy(&s);
		return err;
	}
	*server_r = s;
	return 0;
}

void tern_smtp_listen_options_init_sized(tern_smtp_listen_options *lo, size_t size)
{
	tern_smtp_listen_options def;

	if (lo == NULL || size < sizeof(lo->struct_size))
		return;
	memset(&def, 0, sizeof(def));
	def.greeting_delay = TERN_SMTP_LISTEN_DEFAULT_DELAY;
	memset(lo, 0, size);
	memcpy(lo, &def, size < sizeof(def) ? size : sizeof(def));
	lo->struct_size = size;
}

int tern_smtp_server_listen(tern_smtp_server *s, const char *addr_port)
{
	return tern_smtp_server_listen_ex(s, addr_port, NULL);
}

/* One address's policy: the server's defaults, or lo over them. */
static int listen_policy(tern_smtp_server *s, const tern_smtp_listen_options *lo,
			 struct tern__smtp_listener *policy, bool *own_delay, unsigned *delay)
{
	struct tern__server_gen *g = tern__server_gen_get(s);
	tern_smtp_listen_options o;
	int err = 0;

	*policy = g->smtp.listener; /* the server's mechanisms, unless named */
	if (lo == NULL)
		goto out;
	/* Versioned like tern_smtp_options: fields past the caller's
	 * struct_size keep their zero default. */
	if (lo->struct_size < offsetof(tern_smtp_listen_options, hide_starttls) + 1) {
		err = TERN_EINVAL;
		goto out;
	}
	/* The defaults first: a caller built against an older layout gets
	 * them for the fields it does not know. */
	tern_smtp_listen_options_init(&o);
	memcpy(&o, lo, lo->struct_size < sizeof(o) ? lo->struct_size : sizeof(o));
	if (o.greeting_delay < TERN_SMTP_LISTEN_DEFAULT_DELAY || o.greeting_delay > 600000 ||
	    (unsigned)o.auth > TERN_SMTP_AUTH_REQUIRED ||
	    (o.auth == TERN_SMTP_AUTH_REQUIRED && !g->smtp.opts.callbacks.on_auth) ||
	    (o.auth_methods != NULL && tern__smtp_listener_mechs(policy, o.auth_methods) != 0)) {
		err = TERN_EINVAL;
		goto out;
	}
	*own_delay = o.greeting_delay >= 0;
	*delay = *own_delay ? (unsigned)o.greeting_delay : 0;
	policy->secure = o.secure;
	policy->require_tls = o.require_tls;
	policy->hide_starttls = o.hide_starttls;
	tern__smtp_listener_auth(policy, &g->smtp.opts, o.auth, o.allow_insecure_auth);
out:
	tern__server_gen_put(g);
	return err;
}

int tern_smtp_server_listen_ex(tern_smtp_server *s, const char *addr_port,
			       const tern_smtp_listen_options *lo)
{
	struct tern__listen_addr la, *addrs;
	struct tern__server_listen *listens;
	struct tern__smtp_listener policy;
	bool own_delay = false;
	unsigned delay = 0;
	atomic_uint *ports;
	int err;

	if (s == NULL || addr_port == NULL)
		return TERN_EINVAL;
	err = listen_policy(s, lo, &policy, &own_delay, &delay);
	if (err != 0)
		return err;
	if ((policy.secure || policy.require_tls) && !s->tls_on)
		return TERN_EINVAL;
	/* Resolve outside the lock: it may take a while. */
	err = tern__listen_addr_parse(&la, addr_port);
	if (err != 0)
		return err;
	pthread_mutex_lock(&s->lock);
	if (s->state != SERVER_NEW) {
		err = TERN_ESTATE;
		goto out;
	}
	addrs = realloc(s->addrs, (s->n_addrs + 1) * sizeof(*addrs));
	if (addrs == NULL) {
		err = TERN_ENOMEM;
		goto out;
	}
	s->addrs = addrs;
	listens = realloc(s->listens, (s->n_addrs + 1) * sizeof(*listens));
	if (listens == NULL) {
		err = TERN_ENOMEM;
		goto out;
	}
	s->listens = listens;
	memset(&listens[s->n_addrs], 0, sizeof(*listens));
	listens[s->n_addrs].policy = policy;
	listens[s->n_addrs].conn.own_greeting_delay = own_delay;
	listens[s->n_addrs].conn.greeting_delay = delay;
	ports = realloc(s->ports, (s->n_addrs + 1) * sizeof(*ports));
	if (ports == NULL) {
		err = TERN_ENOMEM;
		goto out;
	}
	s->ports = ports;
	atomic_init(&s->ports[s->n_addrs], 0);
	s->addrs[s->n_addrs++] = la;
	pthread_mutex_unlock(&s->lock);
	return 0;
out:
	pthread_mutex_unlock(&s->lock);
	tern__listen_addr_free(&la);
	return err;
}

/* Checks under the lock whether the server may start. */
static int may_start(tern_smtp_server *s)
{
	if (s->state != SERVER_NEW)
		return TERN_ESTATE;
	if (atomic_load(&s->closing))
		return TERN_ECLOSED;
	if (s->n_addrs == 0)
		return TERN_ESTATE;
	return 0;
}

/* The listen array is final now: point each listener's parts at each
 * other. */
static void wire_listens(tern_smtp_server *s)
{
	for (size_t i = 0; i < s->n_addrs; i++) {
		struct tern__server_listen *l = &s->listens[i];

		l->engine_ctx.cfg_acquire = cfg_acquire;
		l->engine_ctx.cfg_release = cfg_release;
		l->engine_ctx.cfg_ctx = s;
		l->engine_ctx.listener = &l->policy;
		l->engine_ctx.resolver = worker_resolver;
		l->engine_ctx.resolver_ctx = s;
		l->engine_ctx.dns_counters = &s->dns_counters;
		l->engine_ctx.abuse = s->abuse;
		l->conn.engine = &tern__smtp_conn_engine;
		l->conn.engine_ctx = &l->engine_ctx;
		l->conn.tls = s->tls_on ? &s->tls : NULL;
		l->conn.implicit_tls = l->policy.secure;
	}
}

/* Binds the listeners of `workers` loops; called with the lock held. */
static int open_locked(tern_smtp_server *s, unsigned workers)
{
	int err = may_start(s);

	if (err == 0)
		wire_listens(s);
	if (err == 0)
		err = start_workers(s, workers, NULL);
	if (err == 0)
		s->state = SERVER_OPEN;
	return err;
}

int tern_smtp_server_open(tern_smtp_server *s, unsigned workers)
{
	int err;

	if (s == NULL || workers > MAX_WORKERS)
		return TERN_EINVAL;
	if (workers == 0)
		workers = 1;
	pthread_mutex_lock(&s->lock);
	err = open_locked(s, workers);
	int saved = errno;
	pthread_mutex_unlock(&s->lock);
	errno = saved;
	return err;
}

int tern_smtp_server_run(tern_smtp_server *s, unsigned workers)
{
	sigset_t all, old, pipe_set;
	bool pipe_was_blocked;
	unsigned started = 1;
	int err;

	if (s == NULL || workers > MAX_WORKERS)
		return TERN_EINVAL;
	if (workers == 0)
		workers = 1;
	pthread_mutex_lock(&s->lock);
	/* Unless tern_smtp_server_open() bound the sockets already (its
	 * worker count then wins). */
	err = s->state == SERVER_OPEN ? 0 : open_locked(s, workers);
	if (err == 0)
		workers = s->n_workers;
	if (err != 0) {
		int saved = errno;

		pthread_mutex_unlock(&s->lock);
		errno = saved;
		return err;
	}
	s->state = SERVER_RUNNING;
	if (workers > 1)
		tern__server_logs(s, TERN_LOG_INFO, "running %u workers", workers);
	pthread_mutex_unlock(&s->lock);

	/* Worker threads get every signal blocked: the process's signals go
	 * to the embedder's threads, and a write to a closed connection
	 * returns EPIPE instead of killing the process with SIGPIPE
	 * (libevent writes with writev(), which has no MSG_NOSIGNAL). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; started < workers; started++) {
		struct tern__worker *w = &s->workers[started];

		if (pthread_create(&w->thread, NULL, worker_thread, w) != 0) {
			err = TERN_ENOMEM;
			tern_smtp_server_close(s);
			break;
		}
		w->thread_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	/* The same for SIGPIPE on the calling thread while it runs worker 0;
	 * a SIGPIPE raised meanwhile is taken off before the mask is put
	 * back, or it would be delivered then. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pipe_was_blocked = sigismember(&old, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
	event_base_dispatch(s->workers[0].host.base);
	if (!pipe_was_blocked) {
		struct timespec zero = {0, 0};

		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
			;
		pthread_sigmask(SIG_UNBLOCK, &pipe_set, NULL);
	}

	for (unsigned i = 1; i < workers; i++) {
		if (s->workers[i].thread_started)
			pthread_join(s->workers[i].thread, NULL);
	}
	pthread_mutex_lock(&s->lock);
	struct tern__worker *ws = s->workers;
	s->workers = NULL;
	s->n_workers = 0;
	s->state = SERVER_DONE;
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < workers; i++)
		worker_teardown(&ws[i]);
	free(ws);
	tern__server_logs(s, TERN_LOG_INFO, "closed");
	return err;
}

int tern_smtp_server_attach(tern_smtp_server *s, struct event_base *base)
{
	int err;

	if (s == NULL || base == NULL)
		return TERN_EINVAL;
	pthread_mutex_lock(&s->lock);
	err = may_start(s);
	if (err == 0) {
		wire_listens(s);
		err = start_workers(s, 1, base);
	}
	if (err == 0)
		s->state = SERVER_RUNNING;
	pthread_mutex_unlock(&s->lock);
	return err;
}

void tern_smtp_server_close(tern_smtp_server *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->closing, true);
	notify_workers(s);
	pthread_mutex_unlock(&s->lock);
}

unsigned tern_smtp_server_session_count(const tern_smtp_server *s)
{
	return s == NULL ? 0 : atomic_load(&((tern_smtp_server *)s)->sessions);
}

int tern_smtp_server_stats(const tern_smtp_server *s, tern_smtp_stats *out)
{
	const struct tern__stats *st;
	const struct tern__dns_fcrdns_counters *d;
	tern_smtp_stats v;

	if (s == NULL || out == NULL ||
	    out->struct_size < offsetof(tern_smtp_stats, connections_accepted) + sizeof(uint64_t))
		return TERN_EINVAL;
	st = &s->stats;
	d = &s->dns_counters;
	memset(&v, 0, sizeof(v));
	v.struct_size = out->struct_size;
	v.connections_accepted = tern__stats_get(&st->conn_accepted);
	v.connections_busy = tern__stats_get(&st->conn_busy);
	v.refused_per_ip = tern__stats_get(&st->abuse_refused[0]);
	v.refused_rate = tern__stats_get(&st->abuse_refused[1]);
	v.refused_banned = tern__stats_get(&st->abuse_refused[2]);
	v.sessions_quit = tern__stats_get(&st->ended[TERN__END_QUIT]);
	v.sessions_gone = tern__stats_get(&st->ended[TERN__END_GONE]);
	v.sessions_timeout = tern__stats_get(&st->ended[TERN__END_TIMEOUT]);
	v.sessions_closed = tern__stats_get(&st->ended[TERN__END_CLOSED]);
	v.sessions_shutdown = tern__stats_get(&st->ended[TERN__END_SHUTDOWN]);
	v.messages_accepted = tern__stats_get(&st->msg_accepted);
	v.messages_refused = tern__stats_get(&st->msg_refused);
	v.message_bytes = tern__stats_get(&st->msg_bytes);
	for (unsigned i = 0; i < TERN_SMTP_STATS_REPLY_SUBJECTS; i++) {
		v.replies_4xx[i] = tern__stats_get(&st->replies[0][i]);
		v.replies_5xx[i] = tern__stats_get(&st->replies[1][i]);
	}
	v.tls_handshakes = tern__stats_get(&st->tls_ok);
	v.tls_failures = tern__stats_get(&st->tls_failed);
	v.auth_successes = tern__stats_get(&st->auth_ok);
	v.auth_failures = tern__stats_get(&st->auth_failed);
	v.dns_lookups = tern__stats_get(&d->lookups);
	v.dns_failures = tern__stats_get(&d->tempfail) + tern__stats_get(&d->timeout);
	/* A caller built against an older, shorter layout gets its part. */
	memcpy(out, &v, out->struct_size < sizeof(v) ? out->struct_size : sizeof(v));
	return 0;
}

unsigned tern_smtp_server_bound_port(const tern_smtp_server *s, unsigned n)
{
	if (s == NULL || n >= s->n_addrs)
		return 0;
	return atomic_load(&s->ports[n]);
}

void tern_smtp_server_destroy(tern_smtp_server **sp)
{
	tern_smtp_server *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	/* Only an attached server still has workers here; run() tears its
	 * own down before it returns. */
	for (unsigned i = 0; i < s->n_workers; i++)
		worker_teardown(&s->workers[i]);
	free(s->workers);
	for (size_t i = 0; i < s->n_addrs; i++)
		tern__listen_addr_free(&s->addrs[i]);
	free(s->addrs);
	free(s->listens);
	tern__abuse_free(&s->abuse);
	free(s->ports);
	tern__server_tls_free(s);
	tern__server_gen_put(s->gen);
	free(s->dns_server);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->gen_lock);
	free(s);
	*sp = NULL;
}
