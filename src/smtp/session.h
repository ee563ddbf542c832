/* Private view of an SMTP session: shared by the engine's files only. */
#ifndef TERN_SMTP_SESSION_H
#define TERN_SMTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "smtp/body.h"
#include "smtp/engine.h"
#include "smtp/transaction.h"
#include "util/buf.h"

/* What the engine is waiting for before it can read more commands. */
enum tern__smtp_wait {
	TERN__WAIT_NONE = 0,
	TERN__WAIT_CONNECT,    /* on_connect decision */
	TERN__WAIT_HELO,       /* on_helo */
	TERN__WAIT_MAIL,       /* on_mail_from */
	TERN__WAIT_RCPT,       /* on_rcpt_to */
	TERN__WAIT_DATA_START, /* on_data_start, for DATA */
	TERN__WAIT_BDAT_START, /* on_data_start, for the first BDAT chunk */
	TERN__WAIT_CHUNK,      /* on_data_chunk paused the input */
	TERN__WAIT_DATA_END,   /* on_data_end */
	TERN__WAIT_VRFY,       /* on_vrfy */
	TERN__WAIT_AUTH,       /* on_auth */
	TERN__WAIT_AUTH_DELAY, /* the pause before a failed AUTH's reply */
};

/* How input bytes are read right now. */
enum tern__smtp_input {
	TERN__INPUT_COMMAND = 0,
	TERN__INPUT_DATA,  /* DATA body up to CRLF.CRLF */
	TERN__INPUT_BDAT,  /* a BDAT chunk of known size */
};

enum tern__smtp_helo_kind {
	TERN__HELO_NONE = 0,
	TERN__HELO_HELO,
	TERN__HELO_EHLO,
	TERN__HELO_LHLO,
};

/* A command line held back while an earlier command waits for a decision
 * (RFC 2920: replies stay in order). */
enum tern__smtp_framing {
	TERN__FRAMING_OK = 0,
	TERN__FRAMING_TOO_LONG, /* over max_line_length; the rest was dropped */
	TERN__FRAMING_AUTH_TOO_LONG, /* an AUTH command line over 12288 octets */
	TERN__FRAMING_BARE_LF,  /* ended by LF without CR */
};

/* Where the session is in its teardown, as the embedder sees it. */
enum tern__smtp_close {
	TERN__CLOSE_NONE = 0,
	/* tern_smtp_session_close() from inside a callback: carried out when
	 * the outermost callback returns (tern__smtp_leave). */
	TERN__CLOSE_DEFERRED,
	/* Closed by the embedder: on_data_abort ran (if a message was in
	 * progress), the session is closing, and no callback but on_close
	 * runs any more. */
	TERN__CLOSE_DONE,
	/* tern__smtp_session_free() ran: on_close returned and every resource
	 * is gone; only the object is left, for the embedder's references. */
	TERN__CLOSE_ENDED,
};

struct tern__smtp_queued {
	char *line;             /* NULL for a framing error */
	size_t len;
	enum tern__smtp_framing framing;
};

struct tern_smtp_session {
	const struct tern__smtp_config *cfg;
	const tern_smtp_options *opts;
	struct tern__smtp_io io;
	void *context;

	char id[24];
	char *remote_address;
	char *local_address;
	char *client_hostname;
	unsigned remote_port, local_port;
	bool secure;
	bool tls_available;  /* STARTTLS can be served here */
	bool tls_wanted;     /* 220 to STARTTLS queued: no more input in plaintext */
	bool data_barrier;   /* 354 queued: no input until tern__smtp_session_barrier() */
	const struct tern__smtp_listener *listener;
	struct tern__smtp_tls *tls; /* what TLS established; NULL before */
	struct tern__smtp_auth *auth; /* AUTH exchange and result; NULL before */
	struct tern__smtp_xstate *xstate; /* XCLIENT/XFORWARD (xclient.h); NULL before */

	bool started;     /* greeting sent or being decided */
	bool refused;     /* on_connect refused: only QUIT is served */
	bool reconnected; /* XCLIENT started the session over (a new on_connect) */
	size_t refused_octets; /* read since the refusal */
	unsigned progress; /* see tern__smtp_session_progress */
	size_t data_octets; /* message octets since progress last moved */
	bool closing;     /* reply queued that ends the session (421, 221, ...) */
	bool draining;    /* the server is closing */
	bool eof;         /* the client is gone */
	unsigned in_callback;
	enum tern__smtp_close close_state;
	/* The embedder's references to the object (not to the connection),
	 * tern_smtp_session_ref(). The engine holds it too until
	 * tern__smtp_session_free() (close_state ENDED); the object is freed
	 * when both are gone. */
	unsigned refs;

	enum tern__smtp_helo_kind helo_kind;
	char *helo_name;
	enum tern__smtp_helo_kind pending_helo_kind; /* HELO/EHLO awaiting on_helo */
	char *pending_helo;
	unsigned transactions;
	unsigned bad_commands;
	unsigned junk_commands;
	/* Per connection, XCLIENT or not: max_messages_per_conn and
	 * max_rcpts_per_conn. */
	unsigned mails_accepted;
	unsigned rcpts_accepted;

	/* Command input. */
	enum tern__smtp_input input;
	struct tern__buf line;  /* the partial command line, bounded */
	bool line_overflow;     /* discarding the rest of a too long line */
	bool overflow_auth;     /* ... and that line was an AUTH command */
	bool line_bare_lf;      /* the line so far holds an LF without CR */
	bool line_prev_cr;      /* the octet before this feed's first was CR */
	struct tern__smtp_queued *queue; /* ring of max_pipelined_commands */
	unsigned queue_head, queue_count;
	bool queue_blocked;     /* a queued command ends the input group */

	/* The decision the engine waits for, and one that arrived early (the
	 * embedder resumed from inside the callback that returned PENDING). */
	enum tern__smtp_wait wait;
	enum tern__smtp_wait deciding; /* inside the callback for this decision */
	bool in_feed;
	bool early_resume;
	struct tern__kept_reply early_reply;
	bool early_reply_set;
	/* on_data_end's answer was invalid: it fails for every recipient,
	 * whatever tern_smtp_session_set_rcpt_reply() said. */
	bool data_end_failed;

	struct tern__smtp_transaction tx;
	struct tern__smtp_body body;

	struct tern__buf out;
	unsigned char end_reason; /* enum tern__stats_end, counted at free */
};

/* What TLS established (tls.c keeps copies of the strings). */
struct tern__smtp_tls {
	tern_tls_info info;
	bool has_exporter;
	unsigned char exporter[32];
	size_t endpoint_len;
	unsigned char endpoint[64];
	char *version, *cipher, *sni, *subject, *cn, *fingerprint;
};
void tern__smtp_tls_free(struct tern__smtp_tls **tls);

/* AUTH (cmd_auth.c). */
void tern__smtp_auth_free(struct tern__smtp_auth **auth);
/* STARTTLS: forget the authentication (RFC 3207 4.2). */
void tern__smtp_auth_reset(tern_smtp_session *s);
/* An AUTH exchange reads the client's lines itself (334 answers). */
bool tern__smtp_auth_reading(const tern_smtp_session *s);
/* One client line of the exchange, CRLF removed; too_long: it went over
 * the limit and was dropped. */
void tern__smtp_auth_line(tern_smtp_session *s, const char *line, size_t len, bool too_long);
bool tern__smtp_authenticated(const tern_smtp_session *s);
/* The EHLO keyword line ("AUTH PLAIN LOGIN") for this session into buf;
 * returns its length, 0 when AUTH is not offered now. */
size_t tern__smtp_auth_ehlo(const tern_smtp_session *s, char *buf, size_t size);
/* XCLIENT LOGIN: the session is authenticated as user by method
 * ("XCLIENT"; a static string) without an exchange. Returns 0 or
 * TERN_ENOMEM (then nothing changed). */
int tern__smtp_auth_set_external(tern_smtp_session *s, const char *user, const char *method);

/* XCLIENT and XFORWARD (cmd_xclient.c, cmd_xforward.c). Trust is decided
 * by the address the connection came from, never by one XCLIENT set. */
bool tern__smtp_xclient_trusted(tern_smtp_session *s);
bool tern__smtp_xforward_trusted(tern_smtp_session *s);
/* The end of a transaction (RSET, HELO/EHLO, DOT, STARTTLS) forgets the
 * XFORWARD attributes. */
void tern__smtp_xforward_reset(tern_smtp_session *s);
void tern__smtp_xstate_free(struct tern__smtp_xstate **x);
/* Received: the TCP-info to show for the client ("name [addr]") when
 * XFORWARD or XCLIENT gave one, else NULL; *helo_r gets the forwarded HELO
 * name (or NULL: the session's). */
const char *tern__smtp_received_client(const tern_smtp_session *s, const char **helo_r);

/* Continuation of a PENDING on_auth, and the end of the failure delay. */
void tern__smtp_auth_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r);

/* Reply helpers (reply.c). Every reply goes through tern__smtp_reply: it
 * formats "code enhanced text", hides the enhanced code when the option says
 * so, replaces control characters in text, and marks the session closing for
 * 421 and 221. */
void tern__smtp_reply(tern_smtp_session *s, int code, const char *enhanced, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Multi-line reply: lines[0..n) with "code-" continuations and "code " last,
 * each line carrying enhanced when given (NULL for the EHLO/HELO reply,
 * which RFC 2034 exempts). */
void tern__smtp_reply_lines(tern_smtp_session *s, int code, const char *enhanced,
			    const char *const *lines, size_t n);
/* Sends the reply of an embedder decision. For ACCEPT, r->code (if 2xx)
 * overrides def_ok; for REJECT, r->code (if 4xx/5xx) overrides def_fail; a
 * missing or mismatched enhanced code is derived from the default one. */
void tern__smtp_reply_decision(tern_smtp_session *s, int decision, const tern_smtp_reply *r,
			       const tern_smtp_reply *def_ok, const tern_smtp_reply *def_fail);
/* True when the reply an embedder decision produces is positive. */
bool tern__smtp_decision_ok(int decision, const tern_smtp_reply *r);

/* The reply to a bad command (syntax, sequence, unknown): counts toward
 * max_bad_commands and becomes 421 4.7.0 at the limit. */
void tern__smtp_reply_error(tern_smtp_session *s, int code, const char *enhanced,
			    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A junk command (NOOP, RSET, VRFY, HELP) arrived. Returns true when the
 * limit was passed, in which case 421 4.7.0 was sent and the caller must
 * not reply. */
bool tern__smtp_junk_command(tern_smtp_session *s);

/* Logging through on_log, with the session id. */
void tern__smtp_log(tern_smtp_session *s, enum tern_smtp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Callback bracket: every call into user code is wrapped so that a close
 * from inside is deferred until the outermost callback returns (the engine
 * code around the call still runs then, and must not run into a half-closed
 * session). The net layer never frees a session from inside a callback. */
void tern__smtp_close_now(tern_smtp_session *s);
static inline void tern__smtp_enter(tern_smtp_session *s) { s->in_callback++; }
static inline void tern__smtp_leave(tern_smtp_session *s)
{
	if (--s->in_callback == 0 && s->close_state == TERN__CLOSE_DEFERRED)
		tern__smtp_close_now(s);
}
/* True once the embedder closed the session (or it ended): no callback but
 * on_data_abort (once, from the close itself) and on_close may run, and
 * nothing more is fed or decided. */
static inline bool tern__smtp_closed(const tern_smtp_session *s)
{
	return s->close_state != TERN__CLOSE_NONE;
}

/* Starts waiting for a decision. */
void tern__smtp_wait(tern_smtp_session *s, enum tern__smtp_wait what);
/* The session (envelope) is reset: RSET, HELO/EHLO, end of a transaction. */
void tern__smtp_session_reset_tx(tern_smtp_session *s);
/* Wakes the net layer (output ready / input wanted), when not inside feed. */
void tern__smtp_wakeup(tern_smtp_session *s);

/* The resolved RFC 3848 WITH keyword. */
const char *tern__smtp_with_keyword(const tern_smtp_session *s);

/* Decision bracket around a callback that may answer PENDING:
 *   tern__smtp_decide_begin(s, KIND); d = callback(...); d = tern__smtp_decide_end(s, d, &r);
 * decide_end returns ACCEPT/REJECT to continue at once (an embedder that
 * resumed from inside the callback counts), or PENDING after setting s->wait.
 * It also returns PENDING, without waiting for anything, when the embedder
 * closed the session from inside the callback: the caller stops there. Any
 * value other than the three decisions fails closed (4.3.0, see smtp.h). */
void tern__smtp_decide_begin(tern_smtp_session *s, enum tern__smtp_wait kind);
int tern__smtp_decide_end(tern_smtp_session *s, int decision, tern_smtp_reply *r);

/* ESMTP extensions as this session sees them: advertised in EHLO/LHLO and
 * not hidden. After HELO no extension is in effect (RFC 5321 4.1.1.1). */
enum tern__smtp_ext {
	TERN__EXT_PIPELINING,
	TERN__EXT_SIZE,
	TERN__EXT_8BITMIME,
	TERN__EXT_SMTPUTF8,
	TERN__EXT_ENHANCEDSTATUSCODES,
	TERN__EXT_DSN,
	TERN__EXT_CHUNKING,
	TERN__EXT_BINARYMIME,
	TERN__EXT_REQUIRETLS,
	TERN__EXT_STARTTLS,
	TERN__EXT_AUTH,
};
bool tern__smtp_ext(const tern_smtp_session *s, enum tern__smtp_ext ext);

#endif
