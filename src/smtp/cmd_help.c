/* HELP (RFC 5321 4.1.1.8):  help = "HELP" [ SP String ] CRLF */
#include "smtp/command.h"

void tern__cmd_help(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	(void)args;
	(void)len;
	if (tern__smtp_junk_command(s))
		return;
	static const char *const lines[] = {
		"Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT",
		"See RFC 5321 for details",
	};
	tern__smtp_reply_lines(s, 214, "2.0.0", lines, 2);
}
