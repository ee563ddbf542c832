/* RSET (RFC 5321 4.1.1.5):  rset = "RSET" CRLF
 * Clears the transaction; the HELO identity stays. */
#include "smtp/command.h"

void tern__cmd_rset(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	(void)args;
	if (len > 0) {
		tern__smtp_reply_error(s, 501, "5.5.4", "Syntax: RSET (no arguments)");
		return;
	}
	if (tern__smtp_junk_command(s))
		return;
	tern__smtp_session_reset_tx(s);
	tern__smtp_reply(s, 250, "2.0.0", "OK");
}
