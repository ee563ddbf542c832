/* STARTTLS (RFC 3207):  starttls = "STARTTLS" CRLF
 * Not offered yet: answered 502 5.5.1. It already keeps the one invariant
 * that matters for injection (CVE-2011-0411): nothing the client pipelined
 * after STARTTLS is executed. RFC 3207 4 / RFC 2920 3.1 make STARTTLS the
 * last command of a group, so octets already received behind it are dropped
 * rather than answered; the TLS work will add the upgrade at this point. */
#include "smtp/command.h"

void tern__cmd_starttls(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	(void)args;
	(void)len;
	tern__smtp_reply_error(s, 502, "5.5.1", "Command not implemented");
	s->starttls_queued = false;
	if (s->in_feed) {
		/* Answered at once: drop the rest of this write. Input that
		 * comes in later feeds was sent after the reply. */
		s->drop_input = true;
		s->drop_octets = 0;
	}
}
