/* The session's side of TLS: what a finished handshake changes (RFC 3207
 * 4.2), on_secure, and the accessors. The handshake itself is the net
 * layer's (src/net/tls.c); the engine only sees its outcome. */
#include <stdlib.h>
#include <string.h>

#include "smtp/session.h"

void tern__smtp_tls_free(struct tern__smtp_tls **tp)
{
	struct tern__smtp_tls *t = *tp;

	*tp = NULL;
	if (t == NULL)
		return;
	free(t->version);
	free(t->cipher);
	free(t->sni);
	free(t->subject);
	free(t->cn);
	free(t->fingerprint);
	/* Channel bindings are per-connection secrets of a sort. */
	memset(t, 0, sizeof(*t));
	free(t);
}

static char *dup_or_empty(const char *v, bool *fail)
{
	char *d = strdup(v ? v : "");

	if (d == NULL)
		*fail = true;
	return d;
}

/* Copies what the net layer handed in, so that nothing points into it. */
static struct tern__smtp_tls *tls_copy(const struct tern__smtp_tls_facts *f)
{
	struct tern__smtp_tls *t = calloc(1, sizeof(*t));
	bool fail = false;

	if (t == NULL)
		return NULL;
	t->version = dup_or_empty(f->info.version, &fail);
	t->cipher = dup_or_empty(f->info.cipher, &fail);
	t->sni = f->info.sni ? dup_or_empty(f->info.sni, &fail) : NULL;
	t->subject = dup_or_empty(f->info.client_subject, &fail);
	t->cn = dup_or_empty(f->info.client_cn, &fail);
	t->fingerprint = dup_or_empty(f->info.client_fingerprint, &fail);
	if (fail) {
		tern__smtp_tls_free(&t);
		return NULL;
	}
	t->info = f->info;
	t->info.version = t->version;
	t->info.cipher = t->cipher;
	t->info.sni = t->sni;
	t->info.client_subject = t->subject;
	t->info.client_cn = t->cn;
	t->info.client_fingerprint = t->fingerprint;
	t->has_exporter = f->has_exporter;
	memcpy(t->exporter, f->exporter, sizeof(t->exporter));
	t->endpoint_len = f->endpoint_len <= sizeof(t->endpoint) ? f->endpoint_len : 0;
	memcpy(t->endpoint, f->endpoint, t->endpoint_len);
	return t;
}

bool tern__smtp_session_want_tls(const tern_smtp_session *s)
{
	return s->tls_wanted && !s->closing && !s->eof;
}

void tern__smtp_session_tls_started(tern_smtp_session *s, const struct tern__smtp_tls_facts *f)
{
	bool upgrade = !s->secure; /* STARTTLS, not an implicit-TLS listener */

	s->tls_wanted = false;
	s->secure = true;
	tern__smtp_tls_free(&s->tls);
	s->tls = tls_copy(f);
	if (s->tls == NULL) {
		s->started = true; /* no greeting after this */
		tern__smtp_reply(s, 421, "4.3.0", "%s Out of memory, closing", s->cfg->name);
		return;
	}
	if (upgrade) {
		/* RFC 3207 4.2: "The server MUST discard any knowledge
		 * obtained from the client, such as the argument to the EHLO
		 * command, which was not obtained from the TLS negotiation
		 * itself." The client starts over with EHLO. */
		tern__smtp_session_reset_tx(s);
		tern__smtp_auth_reset(s);
		free(s->helo_name);
		s->helo_name = NULL;
		s->helo_kind = TERN__HELO_NONE;
		tern__buf_clear(&s->line);
		s->line_overflow = false;
	}
	tern__smtp_log(s, TERN_LOG_DEBUG, "TLS: %s %s", s->tls->version, s->tls->cipher);
	if (!s->opts->callbacks.on_secure)
		return;
	tern_smtp_reply r = {0};
	tern__smtp_enter(s);
	int d = s->opts->callbacks.on_secure(s, &s->tls->info, &r, s->opts->user_data);
	tern__smtp_leave(s);
	if (d == TERN_SMTP_ACCEPT)
		return;
	/* Anything but a clear accept closes (PENDING is not offered here:
	 * the client already speaks, and waiting would need a state of its
	 * own for no real use). RFC 3207 4.1: a server that finds the
	 * negotiated security insufficient may close after the handshake. */
	if (d != TERN_SMTP_REJECT)
		tern__smtp_log(s, TERN_LOG_ERROR, "on_secure returned %d; closing", d);
	int code = d == TERN_SMTP_REJECT && r.code >= 400 && r.code < 600 ? r.code : 421;
	s->started = true; /* an implicit-TLS session gets no greeting now */
	tern__smtp_reply(s, code, r.enhanced ? r.enhanced : (code < 500 ? "4.7.0" : "5.7.0"), "%s %s",
			 s->cfg->name, r.text ? r.text : "TLS session not accepted, closing");
	s->closing = true;
	tern__smtp_log(s, TERN_LOG_INFO, "on_secure refused the TLS session");
}

const tern_tls_info *tern_smtp_session_tls_info(const tern_smtp_session *s)
{
	return s && s->tls ? &s->tls->info : NULL;
}

struct event_base *tern_smtp_session_event_base(const tern_smtp_session *s)
{
	return s ? s->io.base : NULL;
}
