/* Read-only views of a session for the embedder. Each one is also safe on an
 * ended session kept by a reference: session_release() left NULL and 0 in
 * every field they read (only the id stays), and none reads the config. */
#include "smtp/session.h"

const char *tern_smtp_session_id(const tern_smtp_session *s) { return s->id; }
const char *tern_smtp_session_remote_address(const tern_smtp_session *s) { return s->remote_address; }
unsigned tern_smtp_session_remote_port(const tern_smtp_session *s) { return s->remote_port; }
const char *tern_smtp_session_local_address(const tern_smtp_session *s) { return s->local_address; }
unsigned tern_smtp_session_local_port(const tern_smtp_session *s) { return s->local_port; }
const char *tern_smtp_session_client_hostname(const tern_smtp_session *s) { return s->client_hostname; }
const char *tern_smtp_session_helo_name(const tern_smtp_session *s) { return s->helo_name; }
bool tern_smtp_session_secure(const tern_smtp_session *s) { return s->secure; }
unsigned tern_smtp_session_transaction_count(const tern_smtp_session *s) { return s->transactions; }
void tern_smtp_session_set_context(tern_smtp_session *s, void *context) { s->context = context; }
void *tern_smtp_session_get_context(const tern_smtp_session *s) { return s->context; }

const char *tern_smtp_session_opening_command(const tern_smtp_session *s)
{
	switch (s->helo_kind) {
	case TERN__HELO_HELO: return "HELO";
	case TERN__HELO_EHLO: return "EHLO";
	case TERN__HELO_LHLO: return "LHLO";
	default: return NULL;
	}
}

const char *tern_smtp_session_transmission_type(const tern_smtp_session *s)
{
	return s->close_state == TERN__CLOSE_ENDED ? NULL : tern__smtp_with_keyword(s);
}

const tern_smtp_mail *tern_smtp_session_mail_from(const tern_smtp_session *s)
{
	return s->tx.active ? &s->tx.mail : NULL;
}

unsigned tern_smtp_session_rcpt_count(const tern_smtp_session *s)
{
	return s->tx.rcpt_count;
}

const tern_smtp_rcpt *tern_smtp_session_rcpt(const tern_smtp_session *s, unsigned idx)
{
	return idx < s->tx.rcpt_count ? &s->tx.rcpts[idx]->rcpt : NULL;
}
