/* The server's abuse table (server/abuse.h): made from the options, and
 * tern_smtp_server_ban()/_unban(). The adapter (smtp_engine.c) does the
 * counting. */
#include <string.h>

#include "server/abuse.h"
#include "server/log.h"
#include "server/server.h"

int tern__server_abuse_init(tern_smtp_server *s)
{
	const tern_smtp_options *o = &s->cfg.opts;
	const char *const *exempt = o->abuse_exempt;
	struct tern__abuse_limits lim = {
		.max_per_ip = o->max_per_ip,
		.max_conn_rate = o->max_conn_rate,
		.max_auth_failures = o->max_auth_failures_per_ip,
		.ban_seconds = o->ban_seconds,
		.ipv6_prefix = o->abuse_ipv6_prefix,
	};
	size_t bad = 0;
	int err;

	/* The caller's strings are not ours to keep. */
	s->cfg.opts.abuse_exempt = NULL;
	err = tern__abuse_new(&s->abuse, &lim, exempt, 0, &bad);
	if (err == TERN_EINVAL && exempt != NULL)
		tern__server_log(&s->cfg, NULL, TERN_LOG_ERROR,
				 "abuse_exempt: '%s' is not a network (ADDRESS or ADDRESS/PREFIX)",
				 exempt[bad] != NULL ? exempt[bad] : "");
	return err;
}

int tern_smtp_server_ban(tern_smtp_server *s, const char *ip, unsigned seconds)
{
	struct tern__abuse_key key;
	int err;

	if (s == NULL || s->abuse == NULL || !tern__abuse_key(s->abuse, ip, &key))
		return TERN_EINVAL;
	err = tern__abuse_ban(s->abuse, &key, seconds, tern__abuse_clock());
	if (err == 0)
		tern__server_log(&s->cfg, NULL, TERN_LOG_INFO, "banned %s for %u s", ip,
				 seconds ? seconds : s->cfg.opts.ban_seconds);
	return err;
}

int tern_smtp_server_unban(tern_smtp_server *s, const char *ip)
{
	struct tern__abuse_key key;

	if (s == NULL || s->abuse == NULL || !tern__abuse_key(s->abuse, ip, &key))
		return TERN_EINVAL;
	if (!tern__abuse_unban(s->abuse, &key, tern__abuse_clock()))
		return TERN_ESTATE;
	tern__server_log(&s->cfg, NULL, TERN_LOG_INFO, "unbanned %s", ip);
	return 0;
}
