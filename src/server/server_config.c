/* The server's settings as generations (server.h): made from the options
 * at new, and replaced by tern_smtp_server_reconfigure() while sessions
 * run. A live session keeps the generation it began with; new connections
 * take the current one. What cannot change on a running server (the shape
 * of its listeners, its TLS files, its resolvers' upstream) is compared,
 * and a change to it refuses the whole reconfiguration: an embedder (or
 * ternd's SIGHUP) must never believe a setting applied when it did not. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "net/dns.h"
#include "server/log.h"
#include "server/server.h"
#include "server/server_tls.h"

/* What dns_timeout may be: a lookup that outlives this keeps a client
 * waiting for its greeting longer than any client waits. */
#define MAX_DNS_TIMEOUT_MS 600000

int tern__server_gen_new(tern_smtp_server *s, const tern_smtp_options *opts,
			 const struct tern__server_gen *prev, struct tern__server_gen **g_r,
			 tern_smtp_options *full_r)
{
	struct tern__server_gen *g = calloc(1, sizeof(*g));
	tern_smtp_options *o;
	size_t bad = 0;
	int err;

	*g_r = NULL;
	if (g == NULL)
		return TERN_ENOMEM;
	atomic_init(&g->refs, 1);
	err = tern__smtp_config_init(&g->smtp, opts);
	if (err != 0) {
		free(g);
		return err;
	}
	o = &g->smtp.opts;
	*full_r = *o;
	if (o->dns_timeout > MAX_DNS_TIMEOUT_MS ||
	    (o->dns_server != NULL && !tern__dns_server_valid(o->dns_server))) {
		err = TERN_EINVAL;
		goto fail;
	}
	err = tern__cidr_list_parse(&g->proxy_from, o->proxy_from, &bad);
	/* No generation is current yet at new: logged through this one. */
	if (err == TERN_EINVAL)
		tern__server_log(&g->smtp, NULL, TERN_LOG_ERROR,
				 "proxy_from: '%s' is not a network (ADDRESS or ADDRESS/PREFIX)",
				 o->proxy_from[bad]);
	if (err != 0)
		goto fail;
	/* The caller's pointers are not ours to keep: what the server needs
	 * of them it copies (TLS paths, dns_server) or parses (proxy_from,
	 * abuse_exempt) from *full_r during the call. */
	o->tls_cert_files = o->tls_key_files = NULL;
	o->tls_ciphers = o->tls_ciphersuites = o->tls_client_ca_file = NULL;
	o->proxy_from = NULL;
	o->abuse_exempt = NULL;
	o->dns_server = NULL;
	g->smtp.stats = &s->stats;
	/* SCRAM's unknown users must keep their fake salts across a
	 * reconfiguration, or comparing salts before and after one would tell
	 * real users from made-up ones. */
	if (prev != NULL)
		memcpy(g->smtp.scram_fake_key, prev->smtp.scram_fake_key,
		       sizeof(g->smtp.scram_fake_key));
	*g_r = g;
	return 0;
fail:
	tern__server_gen_put(g);
	return err;
}

static bool same_str(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* The name of an option that differs from cur and cannot change on a
 * running server, or NULL. full: the new options as read (with the
 * caller's pointers); next: the generation made from them. */
static const char *fixed_change(const tern_smtp_server *s, const struct tern__server_gen *cur,
				const struct tern__server_gen *next, const tern_smtp_options *full)
{
	const struct tern__smtp_listener *a = &cur->smtp.listener, *b = &next->smtp.listener;

	if (full->lmtp != cur->smtp.opts.lmtp)
		return "lmtp";
	/* The listeners resolved these at listen(): secure, require_tls,
	 * hide_starttls, the AUTH mode and mechanisms, whether on_auth is
	 * set (AUTH offered at all). */
	if (a->secure != b->secure)
		return "secure";
	if (a->require_tls != b->require_tls)
		return "require_tls";
	if (a->hide_starttls != b->hide_starttls)
		return "hide_starttls";
	if (a->auth_offered != b->auth_offered)
		return "callbacks.on_auth (set or not)";
	if (a->auth_required != b->auth_required || a->allow_insecure_auth != b->allow_insecure_auth)
		return "auth_optional or allow_insecure_auth";
	if (a->n_auth_mechs != b->n_auth_mechs ||
	    memcmp(a->auth_mechs, b->auth_mechs, a->n_auth_mechs) != 0)
		return "auth_methods";
	if (!tern__server_tls_same(s, full))
		return "tls_* (certificate files are reloaded by tern_smtp_server_reload_tls)";
	if (!same_str(full->dns_server, s->dns_server))
		return "dns_server";
	return NULL;
}

int tern_smtp_server_reconfigure(tern_smtp_server *s, const tern_smtp_options *opts)
{
	struct tern__server_gen *cur, *next, *old;
	tern_smtp_options full;
	const char *fixed;
	int err;

	if (s == NULL || opts == NULL)
		return TERN_EINVAL;
	cur = tern__server_gen_get(s);
	err = tern__server_gen_new(s, opts, cur, &next, &full);
	if (err != 0) {
		tern__server_gen_put(cur);
		tern__server_logs(s, TERN_LOG_ERROR, "reconfigure: invalid options (%s); nothing changed",
				  tern_strerror(err));
		return err;
	}
	fixed = fixed_change(s, cur, next, &full);
	tern__server_gen_put(cur);
	if (fixed != NULL) {
		tern__server_logs(s, TERN_LOG_ERROR,
				  "reconfigure: %s cannot change while the server runs; nothing changed",
				  fixed);
		tern__server_gen_put(next);
		return TERN_EINVAL;
	}
	/* Last, as it is the one step that changes something and can still
	 * fail (a bad abuse_exempt network, logged): then nothing did. */
	err = tern__server_abuse_set(s, &full);
	if (err != 0) {
		tern__server_gen_put(next);
		return err;
	}
	pthread_mutex_lock(&s->gen_lock);
	old = s->gen;
	s->gen = next;
	pthread_mutex_unlock(&s->gen_lock);
	/* Sessions that began with the old settings hold references of
	 * their own; the last of them frees it. */
	tern__server_gen_put(old);
	tern__server_logs(s, TERN_LOG_INFO,
			  "reconfigured: new connections use the new settings, %u open session(s) "
			  "keep theirs",
			  tern_smtp_server_session_count(s));
	return 0;
}
