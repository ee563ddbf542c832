/* Recipient routing; see routing.h. */
#include "routing.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "users.h"

int ternd_routing_init(struct ternd_routing *r, const struct ternd_config *cfg,
		       struct users_db *users)
{
	memset(r, 0, sizeof(*r));
	r->domains = cfg->domains;
	r->n_domains = cfg->domain_count;
	r->users = users;
	/* Checked as the configuration was read; NULL-terminated. */
	if (tern__cidr_list_parse(&r->relay_from, (const char *const *)cfg->relay_from, NULL) != 0)
		return -1;
	return 0;
}

void ternd_routing_free(struct ternd_routing *r)
{
	tern__cidr_list_free(&r->relay_from);
	memset(r, 0, sizeof(*r));
}

bool ternd_routing_enabled(const struct ternd_routing *r)
{
	return r->n_domains > 0;
}

bool ternd_routing_is_local(const struct ternd_routing *r, const char *address)
{
	const char *at = strrchr(address, '@');

	if (r->n_domains == 0)
		return true;
	/* RFC 5321 4.1.1.3: "postmaster" without a domain must be accepted. */
	if (at == NULL)
		return strcasecmp(address, "postmaster") == 0;
	size_t len = strlen(at + 1);

	/* "example.org." is example.org (a fully qualified form). */
	if (len > 0 && at[len] == '.')
		len--;
	for (unsigned i = 0; i < r->n_domains; i++)
		if (strlen(r->domains[i]) == len && strncasecmp(at + 1, r->domains[i], len) == 0)
			return true;
	return false;
}

bool ternd_routing_may_relay(const struct ternd_routing *r, tern_smtp_session *s)
{
	const char *addr = tern_smtp_session_remote_address(s);

	return tern_smtp_session_auth_user(s) != NULL ||
	       (addr != NULL && r->relay_from.n > 0 && tern__cidr_list_match(&r->relay_from, addr));
}

/* A local address names a user of the users file by the whole address or
 * by its local part (docs/routing.md); postmaster always exists (RFC 5321
 * 4.5.1). */
static bool user_exists(const struct ternd_routing *r, const char *address)
{
	const char *at = strrchr(address, '@');
	size_t local_len = at != NULL ? (size_t)(at - address) : strlen(address);
	char local[256];
	bool found;

	if (r->users == NULL)
		return true;
	if (local_len == 10 && strncasecmp(address, "postmaster", 10) == 0)
		return true;
	struct users_table *t = users_db_get(r->users);
	if (t == NULL)
		return true; /* no table loaded: never refuse for that */
	found = users_lookup(t, address) != NULL;
	if (!found && local_len < sizeof(local)) {
		memcpy(local, address, local_len);
		local[local_len] = '\0';
		found = users_lookup(t, local) != NULL;
	}
	users_table_unref(&t);
	return found;
}

enum ternd_route ternd_routing_rcpt(const struct ternd_routing *r, tern_smtp_session *s,
				    const char *address)
{
	if (ternd_routing_is_local(r, address)) {
		if (r->n_domains > 0 && !user_exists(r, address))
			return TERND_ROUTE_NO_USER;
		return TERND_ROUTE_LOCAL;
	}
	return ternd_routing_may_relay(r, s) ? TERND_ROUTE_RELAY : TERND_ROUTE_DENIED;
}
