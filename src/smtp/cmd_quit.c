/* QUIT (RFC 5321 4.1.1.10):  quit = "QUIT" CRLF
 * 221, then the connection closes; anything pipelined after it is dropped. */
#include "smtp/command.h"

void tern__cmd_quit(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	(void)args;
	if (len > 0) {
		tern__smtp_reply_error(s, 501, "5.5.4", "Syntax: QUIT (no arguments)");
		return;
	}
	tern__smtp_session_reset_tx(s);
	tern__smtp_reply(s, 221, "2.0.0", "%s Bye", s->cfg->name);
}
