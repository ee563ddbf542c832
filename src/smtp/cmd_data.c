/* DATA (RFC 5321 4.1.1.4):
 *   data = "DATA" CRLF
 * 354, then the message up to CRLF.CRLF (decoded in body.c). */
#include "smtp/command.h"

/* Shared by DATA and BDAT: is there a transaction to carry a message?
 * Replies and returns false when not. */
bool tern__smtp_can_send_message(tern_smtp_session *s, bool reply_now);

bool tern__smtp_can_send_message(tern_smtp_session *s, bool reply_now)
{
	int code = 0;
	const char *enh = NULL, *text = NULL;
	if (!s->tx.active) {
		code = 503, enh = "5.5.1", text = "Bad sequence of commands: need MAIL first";
	} else if (s->tx.rcpt_count == 0) {
		/* RFC 5321 3.3: 503, or 554 when every RCPT was refused. */
		if (s->tx.rcpt_attempted)
			code = 554, enh = "5.5.1", text = "No valid recipients";
		else
			code = 503, enh = "5.5.1", text = "Bad sequence of commands: need RCPT first";
	}
	if (!code)
		return true;
	if (reply_now && code == 554) {
		/* RFC 2920 3.1: a pipelining client sends DATA before it knows
		 * its recipients were refused; that is not a client error. */
		tern__smtp_reply(s, code, enh, "%s", text);
	} else if (reply_now) {
		tern__smtp_reply_error(s, code, enh, "%s", text);
	} else {
		tern__kept_reply_set(&s->body.reply, code, NULL, NULL);
	}
	return false;
}

void tern__cmd_data(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	(void)args;
	if (len > 0) {
		tern__smtp_reply_error(s, 501, "5.5.4", "Syntax: DATA (no arguments)");
		return;
	}
	if (!tern__smtp_can_send_message(s, true))
		return;
	if (s->tx.bdat_used) {
		/* RFC 3030 2: DATA may not follow BDAT in one transaction. */
		tern__smtp_reply_error(s, 503, "5.5.1", "Bad sequence of commands: BDAT in progress");
		return;
	}
	if (s->tx.mail.body == TERN_SMTP_BODY_BINARYMIME) {
		/* RFC 3030 3: BINARYMIME content must come by BDAT. */
		tern__smtp_reply_error(s, 503, "5.5.1", "BODY=BINARYMIME requires BDAT");
		return;
	}
	tern__data_start(s, false);
}
