/* NOOP (RFC 5321 4.1.1.9):  noop = "NOOP" [ SP String ] CRLF */
#include "smtp/command.h"

void tern__cmd_noop(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	(void)args;
	(void)len;
	if (tern__smtp_junk_command(s))
		return; /* the optional string is ignored, as the RFC says */
	tern__smtp_reply(s, 250, "2.0.0", "OK");
}
