/* The SMTP/LMTP server engine seen through the net layer's interface
 * (net/conn_engine.h): the one place that knows both. */
#ifndef TERN_SERVER_SMTP_ENGINE_H
#define TERN_SERVER_SMTP_ENGINE_H

#include "net/conn_engine.h"
#include "net/dns.h"
#include "server/abuse.h"
#include "smtp/engine.h"

/* What a listener hands the adapter as its engine_ctx. */
struct tern__smtp_engine_ctx {
	/* The config a new session runs with, and a reference to it that
	 * the session gives back with cfg_release when it is freed: the
	 * server's settings may be replaced meanwhile (reconfigure), a live
	 * session keeps the ones it began with. Also asked, briefly, for
	 * log lines that belong to no session. From the loop's thread. */
	const struct tern__smtp_config *(*cfg_acquire)(void *cfg_ctx);
	void (*cfg_release)(void *cfg_ctx, const struct tern__smtp_config *cfg);
	void *cfg_ctx;
	const struct tern__smtp_listener *listener;
	/* Reverse DNS of the client before the greeting (unless the
	 * session's config says no_reverse_dns; its dns_timeout bounds
	 * it): the resolver of the loop base runs on, or NULL (none could
	 * be made). NULL function: never. */
	struct tern__dns *(*resolver)(void *resolver_ctx, struct event_base *base);
	void *resolver_ctx;
	struct tern__dns_fcrdns_counters *dns_counters; /* may be NULL */
	/* The server's abuse table (server/abuse.h); NULL: no limits. */
	struct tern__abuse *abuse;
};

extern const struct tern__conn_engine tern__smtp_conn_engine;

#endif
