/* Adapter: the SMTP engine (smtp/engine.h) as a net-layer engine.
 *
 * It also names the client before the greeting: start() runs the
 * forward-confirmed reverse lookup (net/dns.h) on the loop's resolver and
 * starts the engine (on_connect, the 220) only when it is decided or its
 * time is over, as Postfix's smtpd does, because the name goes into the EHLO
 * reply and the Received: header. Meanwhile:
 *   - input is fed to the engine as before: it is still before the
 *     greeting, so a client that talks is an early talker (554, close);
 *   - timeout_ms() is 0: the wait is ours, bounded by dns_timeout, not the
 *     client's;
 *   - shutdown, eof and free cancel the lookup, so no answer ever reaches a
 *     session that has gone.
 *
 * And it applies the abuse limits by client network (server/abuse.h):
 * session_new() is where the client is known (after any PROXY header) and
 * before any greeting, so the connection is counted there, and refused()
 * makes the net layer call start_busy() at once, which sends the refusal
 * instead of the greeting. A connection counted open is released in free_(),
 * which the net layer calls exactly once for every session it made (also
 * for one that ends in its TLS handshake or with the server); a connection
 * ending during its PROXY header never had a session, so never counted. */
#include "server/smtp_engine.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "net/tls.h"

/* What the net layer holds as its session. */
struct smtp_conn {
	tern_smtp_session *s;
	const struct tern__smtp_engine_ctx *e;
	const struct tern__smtp_config *cfg; /* a reference: given back at free */
	struct tern__dns_fcrdns_lookup *lookup; /* running: the greeting waits */
	void (*wakeup)(void *io_ctx);
	void *io_ctx;
	struct event_base *base;
	struct tern__abuse_key key;     /* the client's network; family 0: none */
	enum tern__abuse_verdict abuse; /* TERN__ABUSE_OK: counted open */
};

#define S(p) (((struct smtp_conn *)(p))->s)
#define CS(p) (((const struct smtp_conn *)(p))->s)

static bool abuse_auth_failed(void *p)
{
	struct smtp_conn *c = p;

	return c->e->abuse != NULL &&
	       tern__abuse_auth_failed(c->e->abuse, &c->key, tern__abuse_clock());
}

static bool abuse_banned(void *p)
{
	struct smtp_conn *c = p;

	return c->e->abuse != NULL &&
	       tern__abuse_banned(c->e->abuse, &c->key, tern__abuse_clock());
}

static int session_new(void **session_r, void *ctx, const struct tern__conn_info *info,
		       const char *id, const struct tern__conn_io *io)
{
	const struct tern__smtp_engine_ctx *e = ctx;
	struct tern__smtp_conn_info ci = {
		.remote_address = info->remote_address,
		.remote_port = info->remote_port,
		.local_address = info->local_address,
		.local_port = info->local_port,
		.secure = info->secure,
		.tls_available = info->tls_available,
		.listener = e->listener,
	};
	struct tern__smtp_io sio = {.wakeup = io->wakeup, .io_ctx = io->io_ctx, .base = io->base};
	struct smtp_conn *c = calloc(1, sizeof(*c));
	int r;

	*session_r = NULL;
	if (c == NULL)
		return TERN_ENOMEM;
	if (e->abuse != NULL) {
		sio.auth_failed = abuse_auth_failed;
		sio.banned = abuse_banned;
		sio.abuse_ctx = c;
	}
	c->cfg = e->cfg_acquire(e->cfg_ctx);
	r = tern__smtp_session_new(&c->s, c->cfg, &ci, id, &sio);
	if (r != 0) {
		e->cfg_release(e->cfg_ctx, c->cfg);
		free(c);
		return r;
	}
	c->e = e;
	c->wakeup = io->wakeup;
	c->io_ctx = io->io_ctx;
	c->base = io->base;
	c->abuse = TERN__ABUSE_UNTRACKED;
	if (e->abuse != NULL && tern__abuse_key(e->abuse, info->remote_address, &c->key))
		c->abuse = tern__abuse_connect(e->abuse, &c->key, tern__abuse_clock());
	*session_r = c;
	return 0;
}

static void lookup_done(enum tern__dns_fcrdns_result result, const char *hostname, void *arg)
{
	struct smtp_conn *c = arg;

	c->lookup = NULL;
	if (hostname != NULL && tern__smtp_session_set_client_hostname(c->s, hostname) != 0)
		hostname = NULL; /* not a domain the engine takes: stays [address] */
	if (c->cfg->opts.callbacks.on_log != NULL && TERN_LOG_DEBUG <= c->cfg->opts.log_level) {
		char line[400];

		if (hostname != NULL)
			snprintf(line, sizeof(line), "reverse DNS: %s", hostname);
		else
			snprintf(line, sizeof(line), "reverse DNS: %s (%s)",
				 tern_smtp_session_client_hostname(c->s),
				 tern__dns_fcrdns_result_name(result));
		c->cfg->opts.callbacks.on_log(c->s, TERN_LOG_DEBUG, line, c->cfg->opts.user_data);
	}
	tern__smtp_session_start(c->s);
	/* Not a call into the net layer: it only schedules a pass of the
	 * loop, which writes the greeting and feeds what is held. */
	c->wakeup(c->io_ctx);
}

static void cancel_lookup(struct smtp_conn *c)
{
	tern__dns_fcrdns_cancel(&c->lookup);
}

static void start(void *p)
{
	struct smtp_conn *c = p;
	const struct tern__smtp_engine_ctx *e = c->e;
	struct tern__dns *dns = e->resolver != NULL && c->base != NULL &&
					!c->cfg->opts.no_reverse_dns
					? e->resolver(e->resolver_ctx, c->base)
					: NULL;
	/* The engine's address: the one a PROXY header gave, if any. */
	const char *addr = tern_smtp_session_remote_address(c->s);

	if (dns != NULL && c->lookup == NULL && addr != NULL &&
	    tern__dns_fcrdns_start(dns, addr, c->cfg->opts.dns_timeout, e->dns_counters, lookup_done, c,
				   &c->lookup) == 0)
		return; /* lookup_done starts the engine */
	/* No resolver, an address that is none (a test's "unknown"), or no
	 * memory: the client is known by its address. */
	tern__smtp_session_start(c->s);
}

static bool refused(const void *p)
{
	enum tern__abuse_verdict v = ((const struct smtp_conn *)p)->abuse;

	return v != TERN__ABUSE_OK && v != TERN__ABUSE_UNTRACKED;
}

static void count_refusal(const struct smtp_conn *c, unsigned which)
{
	if (c->cfg->stats != NULL)
		tern__stats_add(&c->cfg->stats->abuse_refused[which], 1);
}

static void start_busy(void *p)
{
	switch (((struct smtp_conn *)p)->abuse) {
	case TERN__ABUSE_TOO_MANY:
		count_refusal(p, 0);
		tern__smtp_session_start_refused(S(p), "Too many connections from your address");
		return;
	case TERN__ABUSE_TOO_FAST:
		count_refusal(p, 1);
		tern__smtp_session_start_refused(S(p), "Too many connections per minute");
		return;
	case TERN__ABUSE_BANNED:
		count_refusal(p, 2);
		/* 421, not 554: a ban ends, and a well-behaved MTA must
		 * retry later rather than bounce. */
		tern__smtp_session_start_refused(S(p), "Your address is temporarily banned");
		return;
	default:
		tern__smtp_session_start_busy(S(p)); /* max_clients */
		return;
	}
}
static ssize_t feed(void *p, const void *buf, size_t len)
{
	ssize_t r = tern__smtp_session_feed(S(p), buf, len);

	if (r < 0)
		cancel_lookup(p); /* an early talker: no greeting will follow */
	return r;
}
static void output(void *p, const void **buf_r, size_t *len_r)
{
	tern__smtp_session_output(S(p), buf_r, len_r);
}
static void output_consumed(void *p, size_t n) { tern__smtp_session_output_consumed(S(p), n); }
static bool want_close(const void *p) { return tern__smtp_session_want_close(CS(p)); }
static bool want_input(const void *p) { return tern__smtp_session_want_input(CS(p)); }
static bool want_tls(const void *p) { return tern__smtp_session_want_tls(CS(p)); }
static bool want_barrier(const void *p) { return tern__smtp_session_want_barrier(CS(p)); }
static void barrier(void *p, bool early) { tern__smtp_session_barrier(S(p), early); }
static unsigned timeout_ms(const void *p)
{
	/* Waiting for our own lookup, which has its own deadline. */
	if (((const struct smtp_conn *)p)->lookup != NULL)
		return 0;
	return tern__smtp_session_timeout_ms(CS(p));
}
static unsigned progress(const void *p) { return tern__smtp_session_progress(CS(p)); }
static void timeout(void *p) { tern__smtp_session_timeout(S(p)); }
static unsigned delay_ms(const void *p) { return tern__smtp_session_delay_ms(CS(p)); }
static void delay_over(void *p) { tern__smtp_session_delay_over(S(p)); }
static void shutdown_(void *p)
{
	/* The 421 may come before any greeting (RFC 5321 3.1). */
	cancel_lookup(p);
	tern__smtp_session_shutdown(S(p));
}
static void draining(void *p) { tern__smtp_session_draining(S(p)); }
static void eof(void *p)
{
	cancel_lookup(p);
	tern__smtp_session_eof(S(p));
}
static void free_(void **pp)
{
	struct smtp_conn *c = *pp;

	if (c == NULL)
		return;
	cancel_lookup(c);
	tern__smtp_session_free(&c->s);
	/* After the session: its on_close ran with this config. */
	c->e->cfg_release(c->e->cfg_ctx, c->cfg);
	if (c->abuse == TERN__ABUSE_OK)
		tern__abuse_disconnect(c->e->abuse, &c->key);
	free(c);
	*pp = NULL;
}

static void tls_started(void *p, const struct tern__tls_info *t)
{
	struct tern__smtp_tls_facts f = {
		.info =
			{
				.version = t->version,
				.cipher = t->cipher,
				.cipher_bits = t->cipher_bits,
				.sni = t->sni,
				.client_cert = t->peer_cert != NULL,
				.client_cert_verified = t->peer_cert != NULL && t->peer_verified,
				.client_subject = t->peer_subject,
				.client_cn = t->peer_cn,
				.client_fingerprint = t->peer_fingerprint,
				.ssl = t->ssl,
				.client_x509 = t->peer_cert,
			},
		.has_exporter = t->has_exporter,
		.endpoint_len = t->endpoint_len,
	};

	memcpy(f.exporter, t->exporter, sizeof(f.exporter));
	memcpy(f.endpoint, t->endpoint, sizeof(f.endpoint));
	tern__smtp_session_tls_started(S(p), &f);
	/* The copy on our stack held channel-binding material. */
	OPENSSL_cleanse(&f, sizeof(f));
}

/* Net-layer lines: with a session, through its config; without (a PROXY
 * header that failed), through the server's current one. */
static bool log_enabled(void *ctx, enum tern_smtp_log_level level)
{
	const struct tern__smtp_engine_ctx *e = ctx;
	const struct tern__smtp_config *cfg = e->cfg_acquire(e->cfg_ctx);
	bool on = cfg->opts.callbacks.on_log != NULL && level <= cfg->opts.log_level;

	e->cfg_release(e->cfg_ctx, cfg);
	return on;
}

static void log_line(void *ctx, void *p, enum tern_smtp_log_level level, const char *line)
{
	const struct tern__smtp_engine_ctx *e = ctx;
	const struct tern__smtp_config *cfg =
		p != NULL ? ((struct smtp_conn *)p)->cfg : e->cfg_acquire(e->cfg_ctx);

	if (cfg->opts.callbacks.on_log != NULL)
		cfg->opts.callbacks.on_log(p ? S(p) : NULL, level, line, cfg->opts.user_data);
	if (p == NULL)
		e->cfg_release(e->cfg_ctx, cfg);
}

const struct tern__conn_engine tern__smtp_conn_engine = {
	.session_new = session_new,
	.start = start,
	.start_busy = start_busy,
	.refused = refused,
	.feed = feed,
	.output = output,
	.output_consumed = output_consumed,
	.want_close = want_close,
	.want_input = want_input,
	.want_tls = want_tls,
	.want_barrier = want_barrier,
	.barrier = barrier,
	.tls_started = tls_started,
	.timeout_ms = timeout_ms,
	.progress = progress,
	.timeout = timeout,
	.delay_ms = delay_ms,
	.delay_over = delay_over,
	.shutdown = shutdown_,
	.draining = draining,
	.eof = eof,
	.free = free_,
	.log_enabled = log_enabled,
	.log = log_line,
};
