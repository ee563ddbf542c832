/* libtern SMTP/LMTP client: a sans-I/O engine for outbound delivery.
 *
 * The engine never touches a socket, a timer or the clock. The caller:
 *   1. fills a tern_smtp_client_options (tern_smtp_client_options_init()
 *      first) and creates a session with tern_smtp_client_new() once the
 *      TCP (or implicit TLS) connection is up;
 *   2. feeds every byte read from the server to tern_smtp_client_feed();
 *   3. after every call into the engine writes out tern_smtp_client_output()
 *      and reports what was written with tern_smtp_client_output_consumed();
 *   4. pulls events with tern_smtp_client_next_event() after every call and
 *      acts on them (send a message, start TLS, stream a body, read results);
 *   5. arms a timer of tern_smtp_client_timeout_ms() whenever it waits for
 *      the server and calls tern_smtp_client_timeout() when it fires, and
 *      tern_smtp_client_eof() when the server closes the connection;
 *   6. closes the connection once tern_smtp_client_done() is true and the
 *      output is written.
 *
 * What the engine decides: the order of commands, PIPELINING (RFC 2920),
 * BDAT vs DATA (RFC 3030), STARTTLS per the policy, the AUTH mechanism, and
 * whether a message can be sent to this peer at all (SIZE, SMTPUTF8,
 * 8BITMIME/BINARYMIME, REQUIRETLS, DSN); such refusals become local results
 * with a reason. What the caller decides: where to connect (MX, ports),
 * certificate checks, retries and the queue, DSNs, 8-bit to 7-bit
 * conversion, and whether to use a session for another message.
 *
 * Threads: a session belongs to one thread at a time; distinct sessions
 * share nothing and may be used on different threads at once. There is no
 * global state.
 *
 * Ownership words used below: "does not take ownership", "valid until ...",
 * "the library keeps a copy". */
#ifndef TERN_SMTP_CLIENT_H
#define TERN_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tern/smtp.h"
#include "tern/tern.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_smtp_client tern_smtp_client;

enum tern_smtp_client_tls {
	TERN_SMTP_CLIENT_TLS_NONE = 0,          /* never STARTTLS */
	TERN_SMTP_CLIENT_TLS_OPPORTUNISTIC = 1, /* STARTTLS when offered; plaintext if it fails */
	TERN_SMTP_CLIENT_TLS_REQUIRED = 2,      /* no STARTTLS, or a failed one: session fails */
};

/* Session options. ABI: versioned by size like tern_smtp_options:
 * struct_size is set by tern_smtp_client_options_init() to the size the
 * program was compiled with and tern_smtp_client_new() reads only that many
 * bytes; new fields are only ever appended. */
typedef struct tern_smtp_client_options {
	size_t struct_size;              /* set by tern_smtp_client_options_init(); never by hand */
	bool lmtp;                       /* LHLO, one reply per recipient after the data (RFC 2033) */
	const char *helo_name;           /* our name for EHLO/LHLO/HELO; required */
	enum tern_smtp_client_tls tls;   /* STARTTLS policy */
	bool tls_active;                 /* the connection is already TLS (port 465) */
	/* AUTH (RFC 4954): tried after the (last) EHLO when auth_user is set.
	 * auth_mechs: NULL-terminated preference list of SASL names, best first;
	 * NULL gives { "SCRAM-SHA-256", "PLAIN", "LOGIN" }. The first one the
	 * server also offers is used. Without TLS, mechanisms that reveal the
	 * password (PLAIN, LOGIN) are skipped unless auth_insecure is set. An
	 * AUTH the server refuses fails the session as a temporary failure
	 * (wrong credentials are our configuration, not the message's fault:
	 * Postfix's smtp_sasl_auth_soft_bounce). */
	const char *auth_user;
	const char *auth_password;
	const char *auth_authzid;        /* optional */
	const char *const *auth_mechs;
	bool auth_required;              /* no usable common mechanism: fail instead of going on */
	bool auth_insecure;              /* allow PLAIN and LOGIN without TLS */
	bool no_pipelining;              /* never pipeline, even when offered */
	bool no_chunking;                /* never use BDAT (BINARYMIME then fails) */
	/* Limits; 0 gives the default. */
	size_t max_reply_line;           /* 4096 octets of one reply line, CRLF included */
	size_t max_reply;                /* 65536 octets of text in one reply */
	size_t max_reply_lines;          /* 512 lines in one reply */
	size_t output_high_water;        /* 65536: body data is refused above this */
	size_t bdat_chunk;               /* 65536: largest BDAT chunk */
	/* RFC 5321 4.5.3.2 timeouts in ms; 0 gives the RFC's value. */
	unsigned timeout_greeting_ms;    /* 5 min */
	unsigned timeout_mail_ms;        /* 5 min */
	unsigned timeout_rcpt_ms;        /* 5 min */
	unsigned timeout_data_init_ms;   /* 2 min: the reply to DATA */
	unsigned timeout_data_block_ms;  /* 3 min: while the body is being sent, and BDAT chunks */
	unsigned timeout_data_end_ms;    /* 10 min: the reply to "." or BDAT LAST */
	unsigned timeout_other_ms;       /* 5 min: EHLO, STARTTLS, AUTH, RSET, QUIT */
} tern_smtp_client_options;

/* Fills *opts with the defaults (zero everywhere, TLS opportunistic) and
 * sets struct_size to sizeof(*opts) as the caller was compiled: always call
 * it before setting fields. A macro, so that the size is the caller's. */
#define tern_smtp_client_options_init(opts)                                               \
	tern_smtp_client_options_init_sized((opts), sizeof(*(opts)))

/* The work of tern_smtp_client_options_init(): fills the first size bytes
 * (bytes past the library's layout are zeroed). No effect when opts is NULL
 * or size is smaller than struct_size itself. */
void tern_smtp_client_options_init_sized(tern_smtp_client_options *opts, size_t size);

/* One recipient of a message. */
typedef struct tern_smtp_client_rcpt {
	const char *address;     /* "local@domain" without brackets; "postmaster" allowed */
	unsigned notify;         /* tern_smtp_notify bits; 0 = no NOTIFY */
	const char *orcpt_type;  /* ORCPT addr-type, e.g. "rfc822"; NULL = no ORCPT */
	const char *orcpt;       /* ORCPT address, not encoded (the engine xtext-encodes) */
} tern_smtp_client_rcpt;

typedef struct tern_smtp_client_message {
	const char *from;        /* "local@domain", or "" for the null reverse-path */
	const tern_smtp_client_rcpt *rcpts;
	size_t n_rcpts;
	uint64_t size;           /* the body's size for SIZE=, 0 = unknown */
	enum tern_smtp_body body;
	/* The message needs SMTPUTF8 (RFC 6531) for its headers; non-ASCII
	 * addresses also set it on their own. */
	bool smtputf8;
	bool requiretls;         /* RFC 8689 */
	enum tern_smtp_ret ret;  /* RFC 3461 RET */
	const char *envid;       /* RFC 3461 ENVID, not encoded; NULL = none */
} tern_smtp_client_message;

/* From the code: 2xx success, 5xx permanent, anything else (4xx, and a 3xx
 * where a final reply belongs) temporary. */
enum tern_smtp_client_class {
	TERN_SMTP_CLIENT_SUCCESS = 0,
	TERN_SMTP_CLIENT_TEMPFAIL = 1,   /* retry later */
	TERN_SMTP_CLIENT_PERMFAIL = 2,   /* bounce */
};

/* Why a result is what it is. Everything but REPLY is decided by the engine;
 * the code and enhanced code are then local ones, in the style of the RFC
 * that applies. */
enum tern_smtp_client_reason {
	TERN_SMTP_CLIENT_R_REPLY = 0,     /* the server's reply */
	TERN_SMTP_CLIENT_R_SIZE,          /* larger than the peer's SIZE (552 5.3.4) */
	TERN_SMTP_CLIENT_R_SMTPUTF8,      /* UTF-8 local part, peer lacks SMTPUTF8 (553 5.6.7) */
	TERN_SMTP_CLIENT_R_IDN,           /* a domain has no valid A-label form (553 5.1.2) */
	TERN_SMTP_CLIENT_R_NEED_8BITMIME, /* 8-bit body, peer lacks 8BITMIME: convert (554 5.6.3) */
	TERN_SMTP_CLIENT_R_NEED_BINARYMIME, /* binary body, peer lacks BINARYMIME+CHUNKING (554 5.6.3) */
	TERN_SMTP_CLIENT_R_REQUIRETLS,    /* no TLS or no REQUIRETLS (550 5.7.30) */
	TERN_SMTP_CLIENT_R_TLS,           /* STARTTLS required but absent or failed (451 4.7.5) */
	TERN_SMTP_CLIENT_R_AUTH,          /* no common mechanism, AUTH refused or unverified (4xx) */
	TERN_SMTP_CLIENT_R_TIMEOUT,       /* tern_smtp_client_timeout() (451 4.4.2) */
	TERN_SMTP_CLIENT_R_CLOSED,        /* 421, or the connection closed (451 4.4.2) */
	TERN_SMTP_CLIENT_R_PROTOCOL,      /* a malformed or unexpected reply (451 4.5.0) */
};

typedef struct tern_smtp_client_result {
	int code;                         /* 3-digit reply code */
	const char *enhanced;             /* "x.y.z" (RFC 3463) or "" */
	const char *text;                 /* reply text, lines joined by "\n"; never NULL */
	enum tern_smtp_client_class cls;
	enum tern_smtp_client_reason reason;
	/* Recipients only: NOTIFY=SUCCESS was asked but the peer lacks DSN,
	 * so the parameter was dropped: on success, send a "relayed" DSN
	 * (RFC 3461 4.2). */
	bool notify_success_dropped;
} tern_smtp_client_result;

enum tern_smtp_client_event {
	TERN_SMTP_CLIENT_EV_NONE = 0,
	/* The session is set up (or a message is finished): call
	 * tern_smtp_client_send() or tern_smtp_client_quit(). */
	TERN_SMTP_CLIENT_EV_READY,
	/* The server said 220 to STARTTLS: write out the output, run the TLS
	 * handshake, then call tern_smtp_client_tls_started(). */
	TERN_SMTP_CLIENT_EV_TLS,
	/* Give the message body: tern_smtp_client_body(), then
	 * tern_smtp_client_body_end(). */
	TERN_SMTP_CLIENT_EV_BODY,
	/* The message is finished: read tern_smtp_client_message_result() and
	 * tern_smtp_client_rcpt_result(). */
	TERN_SMTP_CLIENT_EV_MESSAGE_DONE,
	/* The session is over (after QUIT, or a failure: see
	 * tern_smtp_client_failure()). Write the output, then close. */
	TERN_SMTP_CLIENT_EV_CLOSED,
};

/* Creates a session. The library keeps a copy of every option string and
 * of auth_mechs; it reads only opts->struct_size bytes of *opts. Returns 0,
 * TERN_EINVAL (NULL argument; struct_size 0 because the options were not
 * initialised, or smaller than the first released layout, or larger with a
 * nonzero byte past this library's layout; no or invalid helo_name; an
 * unknown name or more than 8 names in auth_mechs; auth_user without a
 * password) or TERN_ENOMEM; *c_r is NULL on error. The session starts
 * waiting for the server's greeting. */
int tern_smtp_client_new(tern_smtp_client **c_r, const tern_smtp_client_options *opts);

/* Frees the session and everything it owns (results, output); *c is set to
 * NULL. NULL or *c NULL is fine. Close the connection first or after; the
 * session holds no reference to it. */
void tern_smtp_client_destroy(tern_smtp_client **c);

/* Feeds data[0..len) read from the server. Does not take ownership.
 * Returns len (all consumed; bytes after the end of the session and
 * plaintext after the 220 to STARTTLS are dropped, RFC 3207 4.2), or
 * TERN_EINVAL (NULL session, or NULL data with len > 0). A malformed reply
 * is no error here: the session fails with R_PROTOCOL and EV_CLOSED. */
ssize_t tern_smtp_client_feed(tern_smtp_client *c, const void *data, size_t len);

/* The next event, or EV_NONE when there is none. Results an event refers to
 * stay valid until the next tern_smtp_client_send() or destroy. When the
 * session ends, the events not pulled yet that ask for action (READY, BODY,
 * TLS) are withdrawn; MESSAGE_DONE and CLOSED remain. */
enum tern_smtp_client_event tern_smtp_client_next_event(tern_smtp_client *c);

/* Bytes to write to the server; *len_r gets their count (0: nothing). The
 * pointer is valid until the next call on the session. */
const void *tern_smtp_client_output(tern_smtp_client *c, size_t *len_r);

/* n bytes of the output were written. n larger than pending is clamped. */
void tern_smtp_client_output_consumed(tern_smtp_client *c, size_t n);

/* Starts a message transaction. The library keeps a copy of the message
 * (every string). Extension rules are applied now: recipients (or the whole
 * message) that cannot go to this peer get local results at once; when none
 * is left, EV_MESSAGE_DONE and EV_READY follow without a command sent.
 * Returns 0, TERN_ESTATE (not after EV_READY, or the session is over),
 * TERN_EINVAL (NULL, no recipients, an address that is no valid path or
 * holds a control character, NOTIFY=NEVER with other bits, an ORCPT type
 * that is no atom, an ENVID/ORCPT with a control character; the session is
 * unchanged) or TERN_ENOMEM (the session is then failed). */
int tern_smtp_client_send(tern_smtp_client *c, const tern_smtp_client_message *msg);

/* Body data, after EV_BODY. Does not take ownership. Returns how many bytes
 * were taken (fewer than len, possibly 0, when the output is above the
 * high-water mark or, without PIPELINING, a BDAT reply is awaited: write
 * out the output, feed the server's replies and offer the rest again), or
 * TERN_ESTATE when no body is wanted now (a 421 may have ended the session:
 * check the events). With DATA the engine dot-stuffs (RFC 5321 4.5.2) and
 * turns bare CR and bare LF into CRLF; with BDAT the octets go unchanged. */
ssize_t tern_smtp_client_body(tern_smtp_client *c, const void *data, size_t len);

/* The end of the body: "." (adding a CRLF first when the body did not end
 * in one) or BDAT LAST. Returns 0, TERN_ESTATE (no body wanted now),
 * TERN_ELIMIT (without PIPELINING a BDAT chunk's reply is still awaited:
 * feed it and call again), or TERN_ENOMEM (the session is then failed).
 * TERN_EINVAL for a NULL session. */
int tern_smtp_client_body_end(tern_smtp_client *c);

/* After EV_TLS, once the handshake succeeded: the engine forgets the
 * capabilities it had (RFC 3207 4.2) and sends EHLO again. Returns 0,
 * TERN_EINVAL (NULL), TERN_ESTATE (no STARTTLS pending) or TERN_ENOMEM (the
 * session is then failed). A failed handshake is
 * the caller's: destroy the session (and retry in plaintext if its policy
 * allows). */
int tern_smtp_client_tls_started(tern_smtp_client *c);

/* Ends the session with QUIT (EV_CLOSED after the server's reply, whatever
 * it is). Returns 0, TERN_EINVAL (NULL), TERN_ESTATE (not after EV_READY)
 * or TERN_ENOMEM (the session is then failed). */
int tern_smtp_client_quit(tern_smtp_client *c);

/* The timer of tern_smtp_client_timeout_ms() fired: the session fails with
 * R_TIMEOUT; a message in progress gets temporary results. No-op when the
 * session is over. */
void tern_smtp_client_timeout(tern_smtp_client *c);

/* The server closed the connection: like timeout(), with R_CLOSED (unless
 * the session had already ended). */
void tern_smtp_client_eof(tern_smtp_client *c);

/* How long to wait for the server now, in ms (RFC 5321 4.5.3.2), or 0 when
 * the engine waits for the caller, not the server. */
unsigned tern_smtp_client_timeout_ms(const tern_smtp_client *c);

/* True once the session is over: write the remaining output and close. */
bool tern_smtp_client_done(const tern_smtp_client *c);

/* Why the session failed, or NULL when it has not (or ended with QUIT).
 * Valid until destroy. */
const tern_smtp_client_result *tern_smtp_client_failure(const tern_smtp_client *c);

/* The result of the last message: the reply that decided it (the final
 * reply to the data for SMTP; for LMTP the reply to "." of the first
 * recipient, see the recipients'), or the local reason. Valid until the next
 * send() or destroy; NULL before the first EV_MESSAGE_DONE. */
const tern_smtp_client_result *tern_smtp_client_message_result(const tern_smtp_client *c);

/* Recipient i's result (index into the message's rcpts), or NULL when i is
 * out of range or no message has finished. Same lifetime as above. */
const tern_smtp_client_result *tern_smtp_client_rcpt_result(const tern_smtp_client *c, size_t i);

/* The extensions of the last EHLO/LHLO reply, for logs and the caller's own
 * choices. Bit values below. */
enum tern_smtp_client_ext {
	TERN_SMTP_EXT_PIPELINING = 1 << 0,
	TERN_SMTP_EXT_SIZE = 1 << 1,
	TERN_SMTP_EXT_8BITMIME = 1 << 2,
	TERN_SMTP_EXT_SMTPUTF8 = 1 << 3,
	TERN_SMTP_EXT_CHUNKING = 1 << 4,
	TERN_SMTP_EXT_BINARYMIME = 1 << 5,
	TERN_SMTP_EXT_DSN = 1 << 6,
	TERN_SMTP_EXT_ENHANCEDSTATUSCODES = 1 << 7,
	TERN_SMTP_EXT_STARTTLS = 1 << 8,
	TERN_SMTP_EXT_AUTH = 1 << 9,
	TERN_SMTP_EXT_REQUIRETLS = 1 << 10,
};
unsigned tern_smtp_client_extensions(const tern_smtp_client *c); /* 0 for NULL */

/* The peer's SIZE limit (0: none or not announced, or NULL). */
uint64_t tern_smtp_client_size_limit(const tern_smtp_client *c);

#ifdef __cplusplus
}
#endif
#endif
