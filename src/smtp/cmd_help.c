/* HELP (RFC 5321 4.1.1.8):  help = "HELP" [ SP String ] CRLF */
#include "smtp/command.h"

void tern__cmd_help(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	(void)args;
	(void)len;
	if (tern__smtp_junk_command(s))
		return;
	/* What this session can use now: STARTTLS while TLS can start, AUTH
	 * where it is offered. */
	bool tls = s->tls_available && !s->secure;
	bool auth = s->listener->auth_offered;
	const char *lines[] = {
		tls && auth ? "Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT"
		: tls       ? "Commands: EHLO HELO STARTTLS MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT"
		: auth      ? "Commands: EHLO HELO AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT"
			    : "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT",
		"See RFC 5321 for details",
	};
	tern__smtp_reply_lines(s, 214, "2.0.0", lines, 2);
}
