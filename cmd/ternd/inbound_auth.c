/* ternd's inbound checks: see inbound_auth.h. */
#include "inbound_auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "routing.h"

/* More loops than ternd's --workers allows. */
#define MAX_LOOPS 256

struct loop_ctx {
	struct event_base *base;
	tern_mailauth_ctx *ctx;
	bool failed;   /* its resolver could not be made: logged, not retried */
};

struct ternd_checks {
	enum ternd_auth_checks mode;
	enum ternd_dmarc_policy policy;
	tern_mailauth_options opts;
	char *authserv_id;
	char *dns_server;
	pthread_mutex_t lock;
	struct loop_ctx loops[MAX_LOOPS];
	unsigned n_loops;
};

int ternd_checks_init(struct ternd_checks **c_r, const struct ternd_config *cfg, const char *host)
{
	struct ternd_checks *c;

	*c_r = NULL;
	if (cfg->auth_checks == TERND_CHECKS_NO)
		return 0;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->mode = cfg->auth_checks;
	c->policy = cfg->dmarc_policy;
	c->authserv_id = strdup(cfg->authserv_id != NULL ? cfg->authserv_id : host);
	c->dns_server = cfg->dns_server != NULL ? strdup(cfg->dns_server) : NULL;
	if (c->authserv_id == NULL || (cfg->dns_server != NULL && c->dns_server == NULL)) {
		free(c->authserv_id);
		free(c->dns_server);
		free(c);
		return -1;
	}
	pthread_mutex_init(&c->lock, NULL);
	tern_mailauth_options_init(&c->opts);
	c->opts.authserv_id = c->authserv_id;
	c->opts.dns_server = c->dns_server;
	c->opts.dns_timeout_ms = cfg->dns_timeout;
	*c_r = c;
	return 0;
}

void ternd_checks_free(struct ternd_checks **cp)
{
	struct ternd_checks *c = cp != NULL ? *cp : NULL;

	if (c == NULL)
		return;
	for (unsigned i = 0; i < c->n_loops; i++)
		tern_mailauth_ctx_free(&c->loops[i].ctx);
	pthread_mutex_destroy(&c->lock);
	free(c->authserv_id);
	free(c->dns_server);
	free(c);
	*cp = NULL;
}

static bool loopback(const char *addr)
{
	return addr != NULL && (strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
				strncmp(addr, "::ffff:127.", 11) == 0);
}

bool ternd_checks_apply(const struct ternd_checks *c, tern_smtp_session *s,
			const struct ternd_routing *routing)
{
	if (c == NULL)
		return false;
	if (c->mode == TERND_CHECKS_ALWAYS)
		return true;
	if (tern_smtp_session_auth_user(s) != NULL || loopback(tern_smtp_session_remote_address(s)))
		return false;
	return routing == NULL || !ternd_routing_may_relay(routing, s);
}

tern_mailauth_ctx *ternd_checks_ctx(struct ternd_checks *c, struct event_base *base)
{
	tern_mailauth_ctx *ctx = NULL;
	char err[256] = "";

	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->n_loops; i++) {
		if (c->loops[i].base == base) {
			ctx = c->loops[i].ctx;
			pthread_mutex_unlock(&c->lock);
			return ctx;
		}
	}
	if (c->n_loops < MAX_LOOPS) {
		struct loop_ctx *l = &c->loops[c->n_loops];
		int rc = tern_mailauth_ctx_new(&l->ctx, base, &c->opts, err, sizeof(err));

		l->base = base;
		/* A context that could not be made is remembered too, so
		 * that the failure is logged once, not per message. */
		l->failed = rc != 0;
		c->n_loops++;
		ctx = l->ctx;
		if (rc != 0)
			ternd_log(TERN_LOG_ERROR, NULL, "inbound checks off on this loop: %s",
				  err[0] ? err : tern_strerror(rc));
	}
	pthread_mutex_unlock(&c->lock);
	return ctx;
}

enum ternd_verdict ternd_checks_verdict(const struct ternd_checks *c, const tern_mailauth *ma)
{
	const struct tern_dmarc_outcome *o = tern_mailauth_dmarc(ma);

	if (o == NULL || o->result != TERN_DMARC_RESULT_FAIL || c->policy == TERND_DMARC_ANNOTATE)
		return TERND_VERDICT_DELIVER;
	switch (o->disposition) {
	case TERN_DMARC_POLICY_REJECT:
		return c->policy == TERND_DMARC_ENFORCE ? TERND_VERDICT_REJECT : TERND_VERDICT_JUNK;
	case TERN_DMARC_POLICY_QUARANTINE:
		return TERND_VERDICT_JUNK;
	default:
		return TERND_VERDICT_DELIVER;
	}
}
