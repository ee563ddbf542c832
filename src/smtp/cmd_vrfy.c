/* VRFY (RFC 5321 4.1.1.6, 3.5.3):  vrfy = "VRFY" SP String CRLF
 * Without an embedder's answer: 252, "cannot verify, but will try". */
#include "smtp/command.h"
#include "util/address.h"

void tern__cmd_vrfy_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r)
{
	tern_smtp_reply def_ok = {252, "2.1.5",
				  "Cannot VRFY user, but will accept message and attempt delivery"};
	tern_smtp_reply def_fail = {550, "5.1.1", "User unknown"};
	tern__smtp_reply_decision(s, decision, r, &def_ok, &def_fail);
}

void tern__cmd_vrfy(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	if (len == 0 || tern__has_control(args, len)) {
		tern__smtp_reply_error(s, 501, "5.5.4", "Syntax: VRFY address");
		return;
	}
	if (tern__smtp_junk_command(s))
		return;
	tern_smtp_reply r = {0};
	int d = TERN_SMTP_ACCEPT;
	if (s->opts->callbacks.on_vrfy) {
		tern__smtp_decide_begin(s, TERN__WAIT_VRFY);
		d = s->opts->callbacks.on_vrfy(s, args, &r, s->opts->user_data);
		d = tern__smtp_decide_end(s, d, &r);
	}
	if (d != TERN_SMTP_PENDING)
		tern__cmd_vrfy_decided(s, d, &r);
}
