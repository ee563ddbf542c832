/* Private to src/smtp/client: the SMTP/LMTP client engine's parts.
 *   reply.c    reply parser (multi-line, enhanced codes, limits)
 *   caps.c     EHLO/LHLO capability parser
 *   command.c  message preparation (extension rules) and command lines
 *   transaction.c  RSET/MAIL/RCPT/DATA/BDAT, replies in order, results
 *   body.c     DATA dot-stuffing and BDAT framing
 *   auth.c     AUTH through the SASL client engines
 *   session.c  the state machine and the public API */
#ifndef TERN_SMTP_CLIENT_CLIENT_H
#define TERN_SMTP_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/smtp_client.h"
#include "util/buf.h"

/* ---- reply parser (reply.c) ----
 * Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *              Reply-code [ SP textstring ] CRLF            (RFC 5321 4.2)
 * Decisions: a bare LF ends a line as CRLF does (we only read replies, so
 * there is no smuggling to fear, and some servers send it); the code must
 * be 2xx..5xx with a second digit 0..5 and the same on every line; a line
 * over the limit, a reply over its octet or line limit, or any other
 * malformed line is an error that ends the session. Control characters in
 * text become spaces. An enhanced code (RFC 2034) is taken from the first
 * line when its class matches the code's first digit and stripped from
 * every line that repeats it. */

#define TERN__SMTPC_MAX_LINE 4096
#define TERN__SMTPC_MAX_REPLY 65536
#define TERN__SMTPC_MAX_LINES 512

enum tern__smtpc_reply_error {
	TERN__SMTPC_RE_CODE = -20,   /* no valid 3-digit code, or a bad separator */
	TERN__SMTPC_RE_MIXED = -21,  /* a different code on a continuation line */
	TERN__SMTPC_RE_LINE = -22,   /* a line over max_line */
	TERN__SMTPC_RE_BIG = -23,    /* the reply over max_reply octets or max_lines lines */
};

struct tern__smtpc_parser {
	size_t max_line, max_lines;
	char *line;        /* max_line octets */
	size_t line_len;
	struct tern__buf text;
	int code;
	char enhanced[16];
	size_t n_lines;
};

/* limits 0 give the defaults above. Returns 0 or TERN_ENOMEM. */
int tern__smtpc_parser_init(struct tern__smtpc_parser *p, size_t max_line, size_t max_reply,
			    size_t max_lines);
void tern__smtpc_parser_free(struct tern__smtpc_parser *p);

/* Reads in[0..len). Returns 1 when a whole reply is in p (code, enhanced,
 * text NUL-terminated in tern__buf_ptr(&p->text)) with *used_r octets used;
 * 0 when all of in was used and more is needed; a negative
 * tern__smtpc_reply_error or TERN_ENOMEM. Call tern__smtpc_parser_next()
 * after a reply before feeding again. */
int tern__smtpc_parser_feed(struct tern__smtpc_parser *p, const char *in, size_t len,
			    size_t *used_r);
void tern__smtpc_parser_next(struct tern__smtpc_parser *p);
const char *tern__smtpc_reply_strerror(int err);

/* Parses "d.d{1,3}.d{1,3}" at s[0..len) followed by a space or the end.
 * Returns its length (0: none) and copies it to out[16]. */
size_t tern__smtpc_enhanced_parse(const char *s, size_t len, char out[16]);

/* ---- capabilities (caps.c) ---- */
struct tern__smtpc_caps {
	unsigned ext;        /* tern_smtp_client_ext bits */
	uint64_t size_limit; /* 0: none announced */
	unsigned auth_mechs; /* bit per enum tern__sasl_mech */
};

/* Parses an EHLO reply's text (lines joined by '\n'; the first is the
 * greeting and is skipped). Unknown keywords are ignored. */
void tern__smtpc_caps_parse(struct tern__smtpc_caps *caps, const char *text, size_t len);

/* ---- the session (session.c) ---- */

enum tern__smtpc_state {
	TERN__SMTPC_GREETING,
	TERN__SMTPC_HELLO,     /* EHLO/LHLO/HELO sent */
	TERN__SMTPC_STARTTLS,  /* STARTTLS sent */
	TERN__SMTPC_TLS_WAIT,  /* 220 to STARTTLS: the caller's handshake */
	TERN__SMTPC_AUTH,
	TERN__SMTPC_READY,
	TERN__SMTPC_TXN,       /* RSET/MAIL/RCPT/DATA replies awaited */
	TERN__SMTPC_BODY,      /* the caller streams the body */
	TERN__SMTPC_BODY_END,  /* the final reply(ies) awaited */
	TERN__SMTPC_QUIT,
	TERN__SMTPC_DONE,
};

/* What a reply in the queue answers. */
enum tern__smtpc_kind {
	TERN__SMTPC_K_GREETING,
	TERN__SMTPC_K_EHLO,
	TERN__SMTPC_K_HELO,
	TERN__SMTPC_K_STARTTLS,
	TERN__SMTPC_K_AUTH,
	TERN__SMTPC_K_RSET,
	TERN__SMTPC_K_MAIL,
	TERN__SMTPC_K_RCPT,
	TERN__SMTPC_K_DATA,
	TERN__SMTPC_K_BDAT,
	TERN__SMTPC_K_END,      /* "." or BDAT LAST (SMTP), or one LMTP recipient's reply */
	TERN__SMTPC_K_DISCARD,  /* the "." after a 354 that came with no recipient */
	TERN__SMTPC_K_QUIT,
};

struct tern__smtpc_expect {
	unsigned char kind;
	size_t idx; /* RCPT / LMTP END: the recipient */
};

struct tern__smtpc_rcpt {
	char *line;             /* "RCPT TO:<...>[ params]\r\n" */
	tern_smtp_client_result res;
	bool done;              /* res is final */
	bool accepted;          /* 2xx to RCPT */
};

struct tern__smtpc_txn {
	char *mail_line;
	struct tern__smtpc_rcpt *rcpts;
	size_t n_rcpts;
	size_t next_rcpt;       /* the next recipient whose RCPT is still to go */
	bool active;
	bool bdat;
	bool pipelined;
	bool rset_sent, mail_sent, data_sent;
	bool mail_failed;
	size_t n_accepted;
	bool body_done;         /* "." or BDAT LAST is written */
	bool chunk_failed;      /* a BDAT chunk was refused: chunk_res */
	tern_smtp_client_result chunk_res;
	tern_smtp_client_result res;
	bool have_res;
	/* body state */
	bool at_bol;            /* DATA: the next octet starts a line */
	bool pending_cr;        /* DATA: a CR waits for its LF */
	size_t bdat_waiting;    /* BDAT chunk replies awaited */
	struct tern__buf chunk; /* BDAT: data of the chunk being filled */
};

struct tern__sasl_client;

struct tern_smtp_client {
	tern_smtp_client_options opts; /* strings point into the copies below */
	char *helo_name, *auth_user, *auth_password, *auth_authzid;
	signed char auth_pref[8];
	size_t n_auth_pref;
	char *test_nonce;       /* tests: SCRAM's client nonce */

	enum tern__smtpc_state state;
	bool secure;
	bool helo_fallback;     /* EHLO refused: HELO, no extensions */
	bool need_rset;         /* the last transaction did not end cleanly */
	struct tern__smtpc_caps caps;
	struct tern__smtpc_parser parser;
	struct tern__buf out;

	struct tern__smtpc_expect *expect;
	size_t exp_head, exp_len, exp_cap;

	unsigned char events[16];
	size_t ev_head, ev_len;

	struct tern__smtpc_txn txn;
	bool have_message_result;

	struct tern__sasl_client *sasl;
	unsigned char *auth_ir;  /* initial response kept for the first 334 */
	size_t auth_ir_len;
	bool auth_have_ir;
	bool auth_cancelled;

	bool failed;
	tern_smtp_client_result failure;
};

/* Shared by the parts. */
void tern__smtpc_result_clear(tern_smtp_client_result *r);
/* Sets r (freeing its old text); returns 0 or TERN_ENOMEM (r then holds a
 * static text). */
int tern__smtpc_result_set(tern_smtp_client_result *r, int code, const char *enhanced,
			   const char *text, enum tern_smtp_client_reason reason);
int tern__smtpc_write(tern_smtp_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int tern__smtpc_expect(tern_smtp_client *c, enum tern__smtpc_kind kind, size_t idx);
void tern__smtpc_fail(tern_smtp_client *c, int code, const char *enhanced, const char *text,
		      enum tern_smtp_client_reason reason, bool send_quit);
void tern__smtpc_event(tern_smtp_client *c, enum tern_smtp_client_event ev);
void tern__smtpc_result_copy(tern_smtp_client_result *dst, const tern_smtp_client_result *src);
void tern__smtpc_fail_nomem(tern_smtp_client *c);

/* ---- the transaction (transaction.c) ---- */
void tern__smtpc_txn_free(struct tern__smtpc_txn *t);
/* The message is over: recipients still open get fallback (when given);
 * EV_MESSAGE_DONE. No-op when no message is active. */
void tern__smtpc_message_done(tern_smtp_client *c, const tern_smtp_client_result *fallback);
/* After tern__smtpc_prepare(): finishes a message decided locally, or
 * writes its first command(s). Returns 0 or TERN_ENOMEM. */
int tern__smtpc_txn_start(tern_smtp_client *c);
/* A reply to RSET, MAIL, RCPT, DATA, a BDAT chunk or the end of data. */
void tern__smtpc_txn_reply(tern_smtp_client *c, const struct tern__smtpc_expect *e, int code,
			   const char *enh, const char *text);
/* The session goes on after EHLO (or after TLS / AUTH): AUTH or READY. */
void tern__smtpc_after_hello(tern_smtp_client *c);

/* ---- message preparation (command.c) ---- */
/* Builds c->txn from msg, applying the extension rules. Returns 0,
 * TERN_EINVAL or TERN_ENOMEM. */
int tern__smtpc_prepare(tern_smtp_client *c, const tern_smtp_client_message *msg);

/* ---- body (body.c) ---- */
ssize_t tern__smtpc_body_data(tern_smtp_client *c, const unsigned char *p, size_t len);
int tern__smtpc_body_finish(tern_smtp_client *c);

/* ---- AUTH (auth.c) ---- */
/* Starts AUTH when configured; otherwise goes READY. */
void tern__smtpc_auth_begin(tern_smtp_client *c);
/* A reply to an AUTH line. */
void tern__smtpc_auth_reply(tern_smtp_client *c, int code, const char *enhanced, const char *text);

/* Tests only: SCRAM's client nonce. Returns 0 or TERN_ENOMEM. */
int tern__smtpc_set_test_nonce(tern_smtp_client *c, const char *nonce);

/* An address as MAIL FROM or RCPT TO may carry it (flags: the
 * TERN__PATH_ALLOW_* of util/address.h): 0 or TERN_EINVAL. For
 * src/client's delivery too, which sorts out bad recipients first. */
int tern__smtpc_path_check(const char *addr, unsigned flags);
/* A recipient tern_smtp_client_send() takes: its path, NOTIFY, ORCPT. */
bool tern__smtpc_rcpt_valid(const tern_smtp_client_rcpt *r);

#endif
