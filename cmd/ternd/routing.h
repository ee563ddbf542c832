/* Where a recipient's mail goes (docs/routing.md): the local domains
 * (--domain) are delivered here; anything else is relayed, and only for
 * clients that may relay: authenticated ones and those of --relay-from.
 * Everyone else gets 554 5.7.1: ternd is never an open relay. With no
 * --domain at all every recipient is local and nothing is relayed (the
 * README's first command). Read-only after init: shared by every loop. */
#ifndef TERND_ROUTING_H
#define TERND_ROUTING_H

#include <stdbool.h>

#include "tern/smtp.h"

#include "config.h"
#include "util/cidr.h"

struct users_db;

struct ternd_routing {
	char *const *domains;     /* the configuration's, lower case */
	unsigned n_domains;
	struct tern__cidr_list relay_from;
	struct users_db *users;   /* known local users, or NULL: any is */
};

enum ternd_route {
	TERND_ROUTE_LOCAL,   /* a local domain (or "postmaster") */
	TERND_ROUTE_RELAY,   /* elsewhere, and this client may relay */
	TERND_ROUTE_DENIED,  /* elsewhere, and it may not: 554 5.7.1 */
	TERND_ROUTE_NO_USER, /* a local domain, no such user: 550 5.1.1 */
};

/* Returns 0, or -1 out of memory (the lists were checked when parsed). */
int ternd_routing_init(struct ternd_routing *r, const struct ternd_config *cfg,
		       struct users_db *users);
void ternd_routing_free(struct ternd_routing *r);

/* True when routing is on (some --domain). */
bool ternd_routing_enabled(const struct ternd_routing *r);
/* The recipient address (local@domain, or a bare "postmaster"). */
bool ternd_routing_is_local(const struct ternd_routing *r, const char *address);
/* Authenticated, or from a --relay-from network. */
bool ternd_routing_may_relay(const struct ternd_routing *r, tern_smtp_session *s);
enum ternd_route ternd_routing_rcpt(const struct ternd_routing *r, tern_smtp_session *s,
				    const char *address);

#endif
