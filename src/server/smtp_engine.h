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
	const struct tern__smtp_config *cfg;
	const struct tern__smtp_listener *listener;
	/* Reverse DNS of the client before the greeting: the resolver of the
	 * loop base runs on, or NULL (no_reverse_dns, or none there). NULL
	 * function: never. */
	struct tern__dns *(*resolver)(void *resolver_ctx, struct event_base *base);
	void *resolver_ctx;
	unsigned dns_timeout; /* ms for the whole lookup; 0: the default */
	struct tern__dns_fcrdns_counters *dns_counters; /* may be NULL */
	/* The server's abuse table (server/abuse.h); NULL: no limits. */
	struct tern__abuse *abuse;
};

extern const struct tern__conn_engine tern__smtp_conn_engine;

#endif
