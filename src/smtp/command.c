/* Command table and the single gate every command line passes. */
#include "smtp/command.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const struct tern__cmd commands[] = {
	{"EHLO", TERN__CMD_SMTP_ONLY | TERN__CMD_BEFORE_TLS, tern__cmd_ehlo},
	{"HELO", TERN__CMD_SMTP_ONLY | TERN__CMD_BEFORE_TLS, tern__cmd_helo},
	{"LHLO", TERN__CMD_LMTP_ONLY | TERN__CMD_BEFORE_TLS, tern__cmd_ehlo},
	{"MAIL", TERN__CMD_NEEDS_HELO | TERN__CMD_NEEDS_AUTH, tern__cmd_mail},
	{"RCPT", TERN__CMD_NEEDS_HELO | TERN__CMD_NEEDS_AUTH, tern__cmd_rcpt},
	{"DATA", TERN__CMD_NEEDS_HELO | TERN__CMD_ENDS_GROUP | TERN__CMD_NEEDS_AUTH, tern__cmd_data},
	{"BDAT", TERN__CMD_NEEDS_HELO | TERN__CMD_ENDS_GROUP | TERN__CMD_NEEDS_AUTH, tern__cmd_bdat},
	{"RSET", TERN__CMD_BEFORE_TLS, tern__cmd_rset},
	{"NOOP", TERN__CMD_BEFORE_TLS, tern__cmd_noop},
	{"QUIT", TERN__CMD_ENDS_GROUP | TERN__CMD_BEFORE_TLS, tern__cmd_quit},
	{"VRFY", 0, tern__cmd_vrfy},
	{"HELP", TERN__CMD_BEFORE_TLS, tern__cmd_help},
	/* RFC 3207 4 / RFC 2920 3.1: STARTTLS ends a group, so nothing
	 * pipelined after it is parsed before its reply. */
	{"STARTTLS", TERN__CMD_ENDS_GROUP | TERN__CMD_BEFORE_TLS, tern__cmd_starttls},
	/* RFC 4954 4: the exchange reads the client's next lines itself, so
	 * nothing pipelined after AUTH is parsed as a command. */
	{"AUTH", TERN__CMD_ENDS_GROUP, tern__cmd_auth},
	/* Known verbs this server does not implement (RFC 5321 4.2.4: 502). */
	{"EXPN", TERN__CMD_UNIMPLEMENTED, NULL},
	{"TURN", TERN__CMD_UNIMPLEMENTED, NULL},
	{"ETRN", TERN__CMD_UNIMPLEMENTED, NULL},
	{"ATRN", TERN__CMD_UNIMPLEMENTED, NULL},
	{"SEND", TERN__CMD_UNIMPLEMENTED, NULL},
	{"SOML", TERN__CMD_UNIMPLEMENTED, NULL},
	{"SAML", TERN__CMD_UNIMPLEMENTED, NULL},
	/* Postfix's XCLIENT_README: the session starts over, so nothing
	 * pipelined after XCLIENT is parsed before its 220 (it belongs to the
	 * new client); XFORWARD "may be pipelined". Neither needs HELO, and
	 * both answer 550 5.7.0 outside xclient_from/xforward_from. */
	{"XCLIENT", TERN__CMD_ENDS_GROUP, tern__cmd_xclient},
	{"XFORWARD", 0, tern__cmd_xforward},
};

const struct tern__cmd *tern__cmd_lookup(const char *verb, size_t len)
{
	if (len == 0)
		return NULL;
	char first = (char)toupper((unsigned char)verb[0]);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].verb[0] == first && strlen(commands[i].verb) == len &&
		    strncasecmp(commands[i].verb, verb, len) == 0)
			return &commands[i];
	return NULL;
}

static size_t verb_length(const char *line, size_t len)
{
	size_t n = 0;
	while (n < len && line[n] != ' ')
		n++;
	return n;
}

bool tern__cmd_line_ends_group(const char *line, size_t len)
{
	const struct tern__cmd *cmd = tern__cmd_lookup(line, verb_length(line, len));
	return cmd && (cmd->flags & TERN__CMD_ENDS_GROUP);
}

static bool disabled(const tern_smtp_session *s, const char *verb)
{
	for (char **d = s->cfg->disabled_commands; d && *d; d++)
		if (strcasecmp(*d, verb) == 0)
			return true;
	return false;
}

/* "GET / HTTP/1.1" and friends: someone pointed a web client at us. */
static bool http_request(const char *line, size_t len)
{
	static const char *const methods[] = {"GET ",     "HEAD ",  "POST ",  "PUT ",  "DELETE ",
					      "OPTIONS ", "TRACE ", "PATCH ", "CONNECT "};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t m = strlen(methods[i]);
		if (len > m && strncasecmp(line, methods[i], m) == 0)
			return len >= 8 && memmem(line + m, len - m, " HTTP/", 6) != NULL;
	}
	return false;
}

void tern__cmd_execute(tern_smtp_session *s, char *line, size_t len)
{
	if (http_request(line, len)) {
		tern__smtp_reply(s, 421, "4.7.0", "%s HTTP requests are not SMTP; closing",
				 s->cfg->name);
		return;
	}
	size_t vlen = verb_length(line, len);
	if (s->refused) {
		/* RFC 5321 3.1, after a 554 greeting. */
		if (vlen == 4 && strncasecmp(line, "QUIT", 4) == 0 && len == 4)
			tern__cmd_quit(s, "QUIT", line + 4, 0);
		else
			tern__smtp_reply_error(s, 503, "5.5.1",
					       "Bad sequence of commands: service refused, send QUIT");
		return;
	}
	if (vlen == 0) {
		tern__smtp_reply_error(s, 500, "5.5.2", "Syntax error: empty command");
		return;
	}
	const struct tern__cmd *cmd = tern__cmd_lookup(line, vlen);
	if (!cmd) {
		/* RFC 5321 4.2.4: 500 for an unrecognized command. */
		tern__smtp_reply_error(s, 500, "5.5.1", "Command unrecognized");
		return;
	}
	if (s->draining && !s->tx.active && strcmp(cmd->verb, "QUIT") != 0) {
		tern__smtp_reply(s, 421, "4.3.2", "%s Service shutting down, closing",
				 s->cfg->name);
		return;
	}
	if ((cmd->flags & TERN__CMD_UNIMPLEMENTED) || disabled(s, cmd->verb)) {
		tern__smtp_reply_error(s, 502, "5.5.1", "Command not implemented");
		return;
	}
	if ((cmd->flags & TERN__CMD_SMTP_ONLY) && s->opts->lmtp) {
		/* RFC 2033 4.1: LMTP has LHLO instead. */
		tern__smtp_reply_error(s, 500, "5.5.1", "Command unrecognized: this is LMTP, use LHLO");
		return;
	}
	if ((cmd->flags & TERN__CMD_LMTP_ONLY) && !s->opts->lmtp) {
		tern__smtp_reply_error(s, 500, "5.5.1", "Command unrecognized");
		return;
	}
	if (s->listener->require_tls && !s->secure && !(cmd->flags & TERN__CMD_BEFORE_TLS)) {
		/* RFC 3207 4: "the server SHOULD return the reply code 530
		 * to every command other than NOOP, EHLO, STARTTLS, or QUIT"
		 * (we let HELO, LHLO, RSET and HELP through too: they reveal
		 * and change nothing). Not a bad command: the client may
		 * simply not know yet. */
		tern__smtp_reply(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		return;
	}
	if ((cmd->flags & TERN__CMD_NEEDS_AUTH) && s->listener->auth_required &&
	    !tern__smtp_authenticated(s)) {
		/* RFC 4954 6: "530 5.7.0 Authentication required". */
		tern__smtp_reply(s, 530, "5.7.0", "Authentication required");
		return;
	}
	if ((cmd->flags & TERN__CMD_NEEDS_HELO) && s->helo_kind == TERN__HELO_NONE) {
		tern__smtp_reply_error(s, 503, "5.5.1",
			  s->opts->lmtp ? "Bad sequence of commands: send LHLO first"
					: "Bad sequence of commands: send EHLO/HELO first");
		return;
	}
	char *args = line + vlen;
	size_t alen = len - vlen;
	if (alen > 0) { /* skip the one separating space */
		args++;
		alen--;
	}
	line[vlen] = '\0';
	cmd->handler(s, cmd->verb, args, alen);
}
