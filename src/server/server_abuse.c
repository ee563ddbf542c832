/* The server's abuse table (server/abuse.h): made from the options, and
 * tern_smtp_server_ban()/_unban(). The adapter (smtp_engine.c) does the
 * counting. */
#include <string.h>

#include "server/abuse.h"
#include "server/server.h"

/* o: the library's full-size copy of the caller's options, whose
 * abuse_exempt strings are the caller's, read here and not kept. */
static struct tern__abuse_limits limits_of(const tern_smtp_options *o)
{
	return (struct tern__abuse_limits){
		.max_per_ip = o->max_per_ip,
		.max_conn_rate = o->max_conn_rate,
		.max_auth_failures = o->max_auth_failures_per_ip,
		.ban_seconds = o->ban_seconds,
		.ipv6_prefix = o->abuse_ipv6_prefix,
	};
}

static int bad_exempt(tern_smtp_server *s, const tern_smtp_options *o, int err, size_t bad)
{
	if (err == TERN_EINVAL && o->abuse_exempt != NULL)
		tern__server_logs(s, TERN_LOG_ERROR,
				  "abuse_exempt: '%s' is not a network (ADDRESS or ADDRESS/PREFIX)",
				  o->abuse_exempt[bad] != NULL ? o->abuse_exempt[bad] : "");
	return err;
}

int tern__server_abuse_init(tern_smtp_server *s, const tern_smtp_options *o)
{
	struct tern__abuse_limits lim = limits_of(o);
	size_t bad = 0;

	return bad_exempt(s, o, tern__abuse_new(&s->abuse, &lim, o->abuse_exempt, 0, &bad), bad);
}

int tern__server_abuse_set(tern_smtp_server *s, const tern_smtp_options *o)
{
	struct tern__abuse_limits lim = limits_of(o);
	size_t bad = 0;

	return bad_exempt(s, o, tern__abuse_set_limits(s->abuse, &lim, o->abuse_exempt, &bad), bad);
}

int tern_smtp_server_ban(tern_smtp_server *s, const char *ip, unsigned seconds)
{
	struct tern__abuse_key key;
	int err;

	if (s == NULL || s->abuse == NULL || !tern__abuse_key(s->abuse, ip, &key))
		return TERN_EINVAL;
	err = tern__abuse_ban(s->abuse, &key, seconds, tern__abuse_clock());
	if (err == 0)
		tern__server_logs(s, TERN_LOG_INFO, "banned %s for %u s", ip,
				  seconds ? seconds : tern__abuse_limits(s->abuse).ban_seconds);
	return err;
}

int tern_smtp_server_unban(tern_smtp_server *s, const char *ip)
{
	struct tern__abuse_key key;

	if (s == NULL || s->abuse == NULL || !tern__abuse_key(s->abuse, ip, &key))
		return TERN_EINVAL;
	if (!tern__abuse_unban(s->abuse, &key, tern__abuse_clock()))
		return TERN_ESTATE;
	tern__server_logs(s, TERN_LOG_INFO, "unbanned %s", ip);
	return 0;
}
