/* The command table and its single gate (STYLE: one table, all gating in
 * command_execute). A verb file registers a row; nothing else dispatches. */
#ifndef TERN_SMTP_COMMAND_H
#define TERN_SMTP_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#include "smtp/session.h"

/* Stack room for the scratch strings a MAIL or RCPT parse needs (three of
 * the line's length): RFC 5321 4.5.3.1 keeps paths to 256 octets, so an
 * ordinary command line fits and only unusual ones touch the heap. */
#define TERN__CMD_SCRATCH 1536

enum tern__cmd_flags {
	TERN__CMD_NEEDS_HELO = 1 << 0,    /* 503 5.5.1 before HELO/EHLO/LHLO */
	TERN__CMD_ENDS_GROUP = 1 << 1,    /* RFC 2920 3.1: nothing after it is parsed
					   * until it has been answered */
	TERN__CMD_UNIMPLEMENTED = 1 << 2, /* known verb: 502 5.5.1 */
	TERN__CMD_SMTP_ONLY = 1 << 3,     /* HELO/EHLO: not in LMTP */
	TERN__CMD_LMTP_ONLY = 1 << 4,     /* LHLO: only in LMTP */
	/* Allowed before STARTTLS on a listener that requires TLS; the rest
	 * get 530 5.7.0 (RFC 3207 4). */
	TERN__CMD_BEFORE_TLS = 1 << 5,
	/* A mail command: 530 5.7.0 before AUTH where AUTH is required
	 * (RFC 4954 6). */
	TERN__CMD_NEEDS_AUTH = 1 << 6,
};

/* A handler gets the argument text after the verb and one space (args may be
 * empty; it is NUL-terminated and contains no CR/LF). */
typedef void tern__cmd_handler(tern_smtp_session *s, const char *verb, char *args, size_t len);

struct tern__cmd {
	const char *verb;
	unsigned flags;
	tern__cmd_handler *handler;
};

/* Looks a verb up (case-insensitive). NULL when unknown. */
const struct tern__cmd *tern__cmd_lookup(const char *verb, size_t len);

/* Parses and runs one complete command line (CRLF removed). */
void tern__cmd_execute(tern_smtp_session *s, char *line, size_t len);

/* True when the line's verb ends a pipelined group (parsing must stop). */
bool tern__cmd_line_ends_group(const char *line, size_t len);

/* Handlers (one file each). */
tern__cmd_handler tern__cmd_ehlo, tern__cmd_helo, tern__cmd_mail, tern__cmd_rcpt,
	tern__cmd_data, tern__cmd_bdat, tern__cmd_rset, tern__cmd_noop, tern__cmd_quit,
	tern__cmd_vrfy, tern__cmd_help, tern__cmd_starttls, tern__cmd_auth, tern__cmd_xclient,
	tern__cmd_xforward;

/* Continuations after a PENDING decision (called by resume). */
void tern__cmd_helo_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r);
void tern__cmd_mail_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r);
void tern__cmd_rcpt_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r);
void tern__cmd_vrfy_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r);
void tern__data_start_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r);
void tern__data_end_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r);

/* Message transfer (data.c): shared by DATA and BDAT. */
void tern__data_start(tern_smtp_session *s, bool bdat);
size_t tern__data_feed(tern_smtp_session *s, const char *in, size_t len);
void tern__data_abort(tern_smtp_session *s);
/* A paused on_data_chunk was resumed: a refusal fails the message; then
 * finishes a BDAT chunk read meanwhile. */
void tern__data_chunk_resumed(tern_smtp_session *s, int decision, const tern_smtp_reply *r);

#endif
