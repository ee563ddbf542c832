/* STARTTLS (RFC 3207):  starttls = "STARTTLS" CRLF
 *
 * The injection defence (CVE-2011-0411) is structural: STARTTLS ends a
 * pipelined group (command.c), so nothing after it is parsed before it is
 * answered; once the 220 is queued the engine takes no further octet
 * (session.c), and the net layer discards everything it holds before the
 * handshake. What the client sent in plaintext can never run under TLS. */
#include "smtp/command.h"

void tern__cmd_starttls(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	(void)args;
	if (!s->tls_available) {
		/* No certificate on this listener: the verb is known, the
		 * service is not offered (RFC 5321 4.2.4). */
		tern__smtp_reply_error(s, 502, "5.5.1", "Command not implemented");
		return;
	}
	if (s->secure) {
		/* RFC 3207 4: a client MUST NOT start TLS twice. */
		tern__smtp_reply_error(s, 503, "5.5.1", "Bad sequence of commands: TLS already active");
		return;
	}
	if (len > 0) {
		/* RFC 3207 4: "STARTTLS" takes no parameters. */
		tern__smtp_reply_error(s, 501, "5.5.4", "Syntax: STARTTLS (no parameters allowed)");
		return;
	}
	tern__smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	s->tls_wanted = true;
	tern__smtp_log(s, TERN_LOG_DEBUG, "STARTTLS");
}
