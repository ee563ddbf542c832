/* The server object behind tern_smtp_server_* (include/tern/smtp.h).
 *
 * A server has one worker per event loop: tern_smtp_server_run() makes
 * `workers` of them (worker 0 on the calling thread, the others on their own
 * pthreads, each with its own event_base and its own SO_REUSEPORT listeners);
 * tern_smtp_server_attach() makes one on the embedder's base.
 *
 * Closing from any thread: tern_smtp_server_close() sets an atomic flag and
 * writes one byte to each worker's notification pipe; the worker's loop does
 * the rest in its own thread. This needs no libevent threading support
 * (evthread_use_pthreads is never called: it is process-wide, and an
 * embedder's base may have been made without it), and write() is
 * async-signal-safe, so close() may even be called from a signal handler.
 *
 * Counters shared by workers (sessions, admitted sessions for max_clients,
 * the session id counter) are atomics; everything else a worker touches is
 * its own. */
#ifndef TERN_SERVER_SERVER_H
#define TERN_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event_struct.h>

#include "net/connection.h"
#include "net/dns.h"
#include "net/listen_addr.h"
#include "net/listener.h"
#include "net/tls.h"
#include "server/smtp_engine.h"
#include "smtp/engine.h"
#include "util/cidr.h"
#include "util/stats.h"

/* One generation of the settings tern_smtp_server_reconfigure() replaces:
 * the engine's config and the networks that must send a PROXY header.
 * Reference-counted: the server holds one reference to the current
 * generation, every session one to the generation it began with, so a
 * reconfiguration never changes a setting under a live session. */
struct tern__server_gen {
	atomic_uint refs;
	struct tern__smtp_config smtp;
	struct tern__cidr_list proxy_from;
};

/* Makes a generation from the caller's opts (copied within its
 * struct_size, as at new), with prev's SCRAM key when prev is given.
 * *full_r gets the library's full-size copy of opts with the caller's
 * pointers in it (TLS paths, proxy_from, abuse_exempt, dns_server: valid
 * during the caller's call only; the generation keeps none of them).
 * Returns 0, TERN_EINVAL or TERN_ENOMEM. */
int tern__server_gen_new(tern_smtp_server *s, const tern_smtp_options *opts,
			 const struct tern__server_gen *prev, struct tern__server_gen **g_r,
			 tern_smtp_options *full_r);

/* The current generation, with a reference the caller gives back with
 * tern__server_gen_put(). From any thread. */
struct tern__server_gen *tern__server_gen_get(tern_smtp_server *s);
void tern__server_gen_put(struct tern__server_gen *g);

/* A server-wide log line (no session) through the current generation's
 * on_log. */
void tern__server_logs(tern_smtp_server *s, enum tern_smtp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* server_abuse.c: the abuse table from the options (at new), and its
 * limits replaced (at reconfigure). */
int tern__server_abuse_init(tern_smtp_server *s, const tern_smtp_options *opts);
int tern__server_abuse_set(tern_smtp_server *s, const tern_smtp_options *opts);

/* One listen address: its policy and how its connections are served. The
 * array holding these is only resized before the server opens, so the
 * pointers connections keep into it stay valid. */
struct tern__server_listen {
	struct tern__smtp_listener policy;
	struct tern__smtp_engine_ctx engine_ctx;
	struct tern__conn_listener conn;
};

/* A listening socket of one worker, and what accept needs to know. */
struct tern__worker_listener {
	struct tern__listener *l;
	struct tern__worker *w;
	size_t addr; /* index into the server's addresses */
};

struct tern__worker {
	struct tern__conn_host host; /* first: conn_ended gets &host */
	tern_smtp_server *server;
	unsigned index;
	bool own_base;            /* run(): we made the base and dispatch it */
	bool base_made;
	bool closing;             /* listeners gone, sessions draining */
	bool finished;            /* closing and no connection left */
	struct tern__worker_listener *listeners;
	size_t n_listeners;
	int notify_fd[2];         /* close() writes, the loop reads */
	struct event notify;
	struct event grace;       /* close_timeout */
	bool events_made;
	pthread_t thread;
	bool thread_started;
	struct tern__dns *dns;    /* this loop's resolver; made when first needed */
	bool dns_failed;          /* making it failed (logged once): no lookups */
};

struct tern_smtp_server {
	/* The current settings (never NULL after new); gen_lock guards the
	 * pointer and the taking of a reference, nothing else. */
	struct tern__server_gen *gen;
	pthread_mutex_t gen_lock;
	struct tern__listen_addr *addrs;
	struct tern__server_listen *listens; /* parallel to addrs */
	size_t n_addrs;
	struct tern__net_config net;

	/* TLS: the paths and settings (copies) the contexts are built from,
	 * again at each reload; the slot holds the current contexts. */
	bool tls_on;
	char **tls_certs, **tls_keys; /* NULL-terminated */
	size_t n_certs;
	char *tls_ciphers, *tls_ciphersuites, *tls_client_ca;
	int tls_min_version;
	struct tern__tls_slot tls;
	atomic_uint *ports;       /* bound port per listen address */
	/* Abuse limits by client network (server/abuse.h), shared by every
	 * worker; made at new from the options, never NULL after it. */
	struct tern__abuse *abuse;

	/* Guards state and workers against close() from other threads. */
	pthread_mutex_t lock;
	enum { SERVER_NEW, SERVER_OPEN, SERVER_RUNNING, SERVER_DONE } state;
	atomic_bool closing;
	struct tern__worker *workers;
	unsigned n_workers;

	atomic_uint sessions;     /* every open connection */
	atomic_uint admitted;     /* sessions counted against max_clients */
	atomic_uint_fast64_t next_id;
	uint64_t id_seed;         /* random per server (getrandom) */

	/* The resolvers' upstream (dns_server, fixed at new: the server's
	 * copy) and what reverse lookups did. Whether they run, and for how
	 * long, is the generation's (no_reverse_dns, dns_timeout). */
	char *dns_server;
	struct tern__dns_fcrdns_counters dns_counters;
	/* tern_smtp_server_stats(): every generation's smtp.stats and
	 * net.stats point here. */
	struct tern__stats stats;
};

#endif
