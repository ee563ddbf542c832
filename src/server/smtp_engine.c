/* Adapter: the SMTP engine (smtp/engine.h) as a net-layer engine. */
#include "server/smtp_engine.h"

#include <openssl/crypto.h>
#include <string.h>

#include "net/tls.h"

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
	tern_smtp_session *s;
	int r = tern__smtp_session_new(&s, e->cfg, &ci, id, &sio);

	*session_r = r == 0 ? s : NULL;
	return r;
}

static void start(void *s) { tern__smtp_session_start(s); }
static void start_busy(void *s) { tern__smtp_session_start_busy(s); }
static ssize_t feed(void *s, const void *buf, size_t len)
{
	return tern__smtp_session_feed(s, buf, len);
}
static void output(void *s, const void **buf_r, size_t *len_r)
{
	tern__smtp_session_output(s, buf_r, len_r);
}
static void output_consumed(void *s, size_t n) { tern__smtp_session_output_consumed(s, n); }
static bool want_close(const void *s) { return tern__smtp_session_want_close(s); }
static bool want_input(const void *s) { return tern__smtp_session_want_input(s); }
static bool want_tls(const void *s) { return tern__smtp_session_want_tls(s); }
static bool want_barrier(const void *s) { return tern__smtp_session_want_barrier(s); }
static void barrier(void *s, bool early) { tern__smtp_session_barrier(s, early); }
static unsigned timeout_ms(const void *s) { return tern__smtp_session_timeout_ms(s); }
static unsigned progress(const void *s) { return tern__smtp_session_progress(s); }
static void timeout(void *s) { tern__smtp_session_timeout(s); }
static unsigned delay_ms(const void *s) { return tern__smtp_session_delay_ms(s); }
static void delay_over(void *s) { tern__smtp_session_delay_over(s); }
static void shutdown_(void *s) { tern__smtp_session_shutdown(s); }
static void draining(void *s) { tern__smtp_session_draining(s); }
static void eof(void *s) { tern__smtp_session_eof(s); }
static void free_(void **sp)
{
	tern_smtp_session *s = *sp;

	tern__smtp_session_free(&s);
	*sp = NULL;
}

static void tls_started(void *s, const struct tern__tls_info *t)
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
	tern__smtp_session_tls_started(s, &f);
	/* The copy on our stack held channel-binding material. */
	OPENSSL_cleanse(&f, sizeof(f));
}

static bool log_enabled(void *ctx, enum tern_smtp_log_level level)
{
	const struct tern__smtp_engine_ctx *e = ctx;

	return e->cfg->opts.callbacks.on_log != NULL && level <= e->cfg->opts.log_level;
}

static void log_line(void *ctx, void *s, enum tern_smtp_log_level level, const char *line)
{
	const struct tern__smtp_engine_ctx *e = ctx;

	e->cfg->opts.callbacks.on_log(s, level, line, e->cfg->opts.user_data);
}

const struct tern__conn_engine tern__smtp_conn_engine = {
	.session_new = session_new,
	.start = start,
	.start_busy = start_busy,
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
