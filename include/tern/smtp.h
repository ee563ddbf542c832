/* libtern SMTP/LMTP server: the embedding API.
 *
 * A program fills a tern_smtp_options (tern_smtp_options_init() first, then
 * the fields it cares about), creates a server, adds listen addresses and
 * either lets Tern run its own event loops (tern_smtp_server_run) or attaches
 * the server to an event_base it already runs (tern_smtp_server_attach).
 *
 * Decisions. Every callback that approves something receives a
 * tern_smtp_reply *reply_r and returns one of:
 *   TERN_SMTP_ACCEPT  - go on; the library sends its default positive reply
 *                       unless the callback filled reply_r with a 2xx reply
 *                       (a 4xx/5xx code in reply_r makes it a rejection).
 *                       The greeting, the HELO/EHLO/LHLO reply and DATA's
 *                       354 are fixed: on_connect, on_helo and on_data_start
 *                       ignore a positive reply_r.
 *   TERN_SMTP_REJECT  - refuse with the reply in reply_r (code 4xx or 5xx;
 *                       a missing code becomes the callback's default
 *                       refusal, documented per callback).
 *   TERN_SMTP_PENDING - decide later: call tern_smtp_session_resume() from
 *                       the same event loop thread once the decision is made.
 *                       Input from the client is held (and replies stay in
 *                       order) until then.
 *                       tern_smtp_session_resume() may also be called from
 *                       inside the callback, before it returns PENDING.
 * Anything else fails closed: any other return value, or a reply code (in
 * reply_r or given to resume) other than 0 and 200..599, is logged at
 * TERN_LOG_ERROR and answered "451 4.3.0" (a temporary failure, never a
 * positive reply; for on_data_end in LMTP, for every recipient whatever
 * tern_smtp_session_set_rcpt_reply() said). For on_connect, where a 451 is
 * no valid greeting (RFC 5321 3.1, 4.3.2), it is "421 4.3.0" and the
 * session closes.
 * reply_r's strings are read right after the callback returns, and copied
 * then: point them at static or session-owned memory, never at the
 * callback's own stack. Control characters in text become spaces, so a reply
 * can never break into two lines.
 *
 * Threads: a session and all its callbacks belong to one event loop thread.
 * tern_smtp_server_close() may be called from any thread.
 *
 * Ownership words used below: "does not take ownership", "valid until the
 * callback returns", "the library keeps a copy". */
#ifndef TERN_SMTP_H
#define TERN_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/tern.h"
#include "tern/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

typedef struct tern_smtp_server tern_smtp_server;
typedef struct tern_smtp_session tern_smtp_session;

enum tern_smtp_decision {
	TERN_SMTP_ACCEPT = 0,
	TERN_SMTP_REJECT = 1,
	TERN_SMTP_PENDING = 2,
};

/* A reply chosen by the embedder. code 0 means "the library's default".
 * enhanced is "x.y.z" (RFC 3463) or NULL for the library's choice by code;
 * text NULL means the default text for the situation. */
typedef struct tern_smtp_reply {
	int code;
	const char *enhanced;
	const char *text;
} tern_smtp_reply;

enum tern_smtp_body {
	TERN_SMTP_BODY_7BIT = 0,       /* no BODY= or BODY=7BIT */
	TERN_SMTP_BODY_8BITMIME = 1,   /* RFC 6152 */
	TERN_SMTP_BODY_BINARYMIME = 2, /* RFC 3030 */
};

enum tern_smtp_ret {
	TERN_SMTP_RET_UNSET = 0,
	TERN_SMTP_RET_FULL = 1,
	TERN_SMTP_RET_HDRS = 2,
};

/* RFC 3461 NOTIFY bits; 0 means no NOTIFY parameter was given. */
enum tern_smtp_notify {
	TERN_SMTP_NOTIFY_NEVER = 1 << 0,
	TERN_SMTP_NOTIFY_SUCCESS = 1 << 1,
	TERN_SMTP_NOTIFY_FAILURE = 1 << 2,
	TERN_SMTP_NOTIFY_DELAY = 1 << 3,
};

/* MAIL FROM with its parameters. address is "" for the null reverse-path <>.
 * Strings are NUL-terminated, xtext already decoded, and contain no control
 * characters. */
typedef struct tern_smtp_mail {
	const char *address;
	uint64_t size;            /* SIZE= value, 0 when not given */
	enum tern_smtp_body body;
	bool smtputf8;
	bool requiretls;
	enum tern_smtp_ret ret;
	const char *envid;        /* ENVID, decoded; NULL when not given */
	/* RFC 4954 5: the AUTH= parameter, xtext decoded; "" for AUTH=<>,
	 * NULL when not given. Informational: whom the sender claims the
	 * message was first submitted by. */
	const char *auth;
} tern_smtp_mail;

/* RCPT TO with its DSN parameters. */
typedef struct tern_smtp_rcpt {
	const char *address;      /* "postmaster" for <postmaster> */
	unsigned notify;          /* tern_smtp_notify bits */
	const char *orcpt_type;   /* ORCPT addr-type ("rfc822", "utf-8"); NULL if absent */
	const char *orcpt;        /* ORCPT address, xtext decoded; NULL if absent */
} tern_smtp_rcpt;

/* What the library knows about a finished DATA or BDAT LAST body. */
typedef struct tern_smtp_data_info {
	uint64_t size;            /* bytes handed to on_data_chunk, headers included */
	bool bdat;                /* the body came with BDAT */
} tern_smtp_data_info;

enum tern_smtp_log_level {
	TERN_LOG_ERROR = 0,
	TERN_LOG_WARNING = 1,
	TERN_LOG_INFO = 2,
	TERN_LOG_DEBUG = 3,
};

/* What to do with a bare CR or bare LF inside DATA. Neither is ever taken as
 * part of the end-of-data sequence (RFC 5321 4.1.1.4; SMTP smuggling). */
enum tern_smtp_bare_newline {
	TERN_SMTP_BARE_NEWLINE_NORMALIZE = 0, /* turn it into CRLF (Postfix 3.9 default) */
	TERN_SMTP_BARE_NEWLINE_REJECT = 1,    /* read to the real end, then 550 5.5.2 */
};

/* What a client presented in AUTH. Every string is NUL-terminated and holds
 * no NUL; absent ones are NULL. Never log password or token. */
typedef struct tern_smtp_auth {
	const char *mechanism;      /* registered name: "PLAIN", "SCRAM-SHA-256", ... */
	/* The authentication identity (PLAIN, LOGIN, CRAM-MD5, SCRAM, XOAUTH2);
	 * NULL for OAUTHBEARER (the token names the user) and EXTERNAL. */
	const char *username;
	const char *authzid;        /* the authorization identity asked for; NULL: none */
	const char *password;       /* PLAIN and LOGIN */
	const char *token;          /* XOAUTH2 and OAUTHBEARER: the bearer token */
	/* CRAM-MD5: check with tern_cram_md5_verify() (tern/sasl.h). */
	const char *cram_challenge;
	const char *cram_digest;
	/* EXTERNAL: the commonName of the client certificate, which verified
	 * against tls_client_ca_file (RFC 4422 A). */
	const char *external_identity;
	bool scram; /* SCRAM-SHA-256(-PLUS): see on_auth */
} tern_smtp_auth;

/* What a server stores for a SCRAM-SHA-256 user (tern_scram_sha256_keys()). */
typedef struct tern_smtp_scram_keys {
	const unsigned char *salt;
	size_t salt_len;
	unsigned iterations;
	unsigned char stored_key[32];
	unsigned char server_key[32];
} tern_smtp_scram_keys;

/* Whether a listener offers and requires AUTH. */
enum tern_smtp_auth_mode {
	/* The server's: offered when on_auth is set, and then required before
	 * MAIL unless auth_optional (smtp-server's rule). */
	TERN_SMTP_AUTH_DEFAULT = 0,
	TERN_SMTP_AUTH_OFF = 1,      /* not offered (port 25 MX, say) */
	TERN_SMTP_AUTH_OPTIONAL = 2, /* offered, not required */
	TERN_SMTP_AUTH_REQUIRED = 3, /* MAIL, RCPT, DATA, BDAT: 530 5.7.0 before it */
};

typedef struct tern_smtp_callbacks {
	/* A client connected; its addresses are on the session. Default reject:
	 * 554 5.7.1 instead of the greeting; then, as RFC 5321 3.1 requires,
	 * the session waits for QUIT and answers anything else 503 5.5.1 (until
	 * max_bad_commands). Reject with 421 or 521 (RFC 7504) to close at once. */
	int (*on_connect)(tern_smtp_session *session, tern_smtp_reply *reply_r, void *user_data);
	/* HELO/EHLO/LHLO. name is valid until the callback returns. Default
	 * reject: 550 5.7.1; the earlier HELO identity, if any, stays. */
	int (*on_helo)(tern_smtp_session *session, const char *name, tern_smtp_reply *reply_r,
		       void *user_data);
	/* MAIL FROM. The envelope is not changed until the sender is accepted.
	 * mail is valid until the decision is made. Default reject: 550 5.7.1. */
	int (*on_mail_from)(tern_smtp_session *session, const tern_smtp_mail *mail,
			    tern_smtp_reply *reply_r, void *user_data);
	/* RCPT TO. Default reject: 550 5.1.1. */
	int (*on_rcpt_to)(tern_smtp_session *session, const tern_smtp_rcpt *rcpt,
			  tern_smtp_reply *reply_r, void *user_data);
	/* Before the first byte of a message (DATA, or the first BDAT chunk).
	 * This is the moment to call tern_smtp_session_add_header(). Default
	 * reject: 554 5.7.1 (for BDAT the chunk is then read and discarded, and
	 * later chunks get 554 5.5.0 until RSET). */
	int (*on_data_start)(tern_smtp_session *session, tern_smtp_reply *reply_r, void *user_data);
	/* A piece of the message, after dot-unstuffing, as it arrives; the
	 * Received: header and added headers come first. buf is valid until the
	 * callback returns. Return ACCEPT to go on, PENDING to pause reading
	 * (the chunk counts as consumed; tern_smtp_session_resume(s, NULL)
	 * continues, tern_smtp_session_reject() refuses as REJECT would), or
	 * REJECT: the rest of the body is read and dropped and
	 * reply_r (default 451 4.3.0) answers the message (with BDAT: the
	 * current chunk; later chunks get 554 5.5.0 until RSET). */
	int (*on_data_chunk)(tern_smtp_session *session, const void *buf, size_t len,
			     tern_smtp_reply *reply_r, void *user_data);
	/* The whole message has arrived. Accept only once the message is stored
	 * durably: a 250 hands responsibility for it to you (RFC 5321 6.1).
	 * Default accept text "2.6.0 Message accepted"; default reject 451 4.3.0.
	 * In LMTP mode the same reply goes to every accepted recipient unless
	 * tern_smtp_session_set_rcpt_reply() set one for a recipient. */
	int (*on_data_end)(tern_smtp_session *session, const tern_smtp_data_info *info,
			   tern_smtp_reply *reply_r, void *user_data);
	/* The transfer failed or was cut short (too big, bad line, client gone,
	 * server closing): stored bytes should be thrown away. Optional. */
	void (*on_data_abort)(tern_smtp_session *session, void *user_data);
	/* VRFY. arg is valid until the callback returns. Default: 252 2.1.5
	 * (RFC 5321 3.5.3); default reject: 550 5.1.1. */
	int (*on_vrfy)(tern_smtp_session *session, const char *arg, tern_smtp_reply *reply_r,
		       void *user_data);
	/* The envelope was cleared (RSET, HELO/EHLO, QUIT, end of a
	 * transaction); only called when MAIL had been accepted. */
	void (*on_reset)(tern_smtp_session *session, void *user_data);
	/* The connection ended; the session is freed after this returns. */
	void (*on_close)(tern_smtp_session *session, void *user_data);
	/* One line per session event. msg is valid until the callback returns.
	 * session is NULL for server-wide events. Never carries credentials. */
	void (*on_log)(tern_smtp_session *session, enum tern_smtp_log_level level, const char *msg,
		       void *user_data);
	/* A TLS handshake finished (STARTTLS, or an implicit-TLS listener
	 * before the greeting). info is valid until the session ends. Accept to
	 * go on; reject closes the connection with reply_r (default 421 4.7.0
	 * "TLS not accepted"), as RFC 3207 4.1 allows when the negotiated
	 * level of security is not enough. PENDING is not allowed here (it
	 * fails closed). Optional. */
	int (*on_secure)(tern_smtp_session *session, const tern_tls_info *info,
			 tern_smtp_reply *reply_r, void *user_data);
	/* AUTH (RFC 4954): the client presented credentials. Setting it turns
	 * AUTH on (see auth_methods, auth_optional, allow_insecure_auth).
	 * auth and its strings are valid until the decision is made. Accept
	 * when they are right (235 2.7.0 follows; the session is then
	 * authenticated, see tern_smtp_session_auth_user()), reject when not
	 * (535 5.7.8 "Authentication credentials invalid", after
	 * auth_failure_delay; a 454 in reply_r says the check could not be
	 * made), or PENDING while a database or a password hash is consulted
	 * off the loop. For SCRAM the library verifies the proof itself: give
	 * the user's stored keys with tern_smtp_session_auth_scram_keys() and
	 * accept, or reject for an unknown user (the exchange then goes on
	 * with a fake salt and fails at the proof, so user names cannot be
	 * probed). */
	int (*on_auth)(tern_smtp_session *session, const struct tern_smtp_auth *auth,
		       tern_smtp_reply *reply_r, void *user_data);
	/* ABI: this struct has a fixed size, so adding a callback never moves
	 * the options after it. A new callback replaces reserved[0] (declare it
	 * just above this comment and shrink the array by one); existing
	 * callbacks are never moved or removed. Leave the slots NULL (what
	 * tern_smtp_options_init() gives). */
	void (*reserved[18])(void);
} tern_smtp_callbacks;

/* Server options. Mirrors smtp-server's Options where a name exists there.
 * All strings and arrays are copied at tern_smtp_server_new().
 *
 * ABI: the struct is versioned by its size. struct_size is set by
 * tern_smtp_options_init() to the size the program was compiled with, and
 * tern_smtp_server_new() reads only that many bytes: a program built against
 * an older, smaller layout gets the defaults for every field it does not
 * know. New fields are only ever appended at the end (after log_level and
 * the fields added after it); no field is moved, resized or removed. */
typedef struct tern_smtp_options {
	size_t struct_size;        /* set by tern_smtp_options_init(); never by hand */
	tern_smtp_callbacks callbacks; /* fixed size: see reserved[] above */
	void *user_data;                 /* handed to every callback; not owned */

	const char *name;          /* host name in greeting, EHLO, Received; default gethostname() */
	const char *banner;        /* after "220 <name> ESMTP" or "LMTP"; NULL: "Tern" */
	const char *helo_response; /* EHLO/HELO first line; "%s" = name, then client hostname */
	uint64_t size;             /* message size limit in bytes; 0 = none. Default 25 MiB */
	bool lmtp;                 /* speak LMTP (RFC 2033) */

	bool hide_pipelining, hide_size, hide_8bitmime, hide_smtputf8, hide_dsn, hide_chunking,
		hide_binarymime;
	/* Hides ENHANCEDSTATUSCODES and turns enhanced codes off in replies. */
	bool hide_enhancedstatuscodes;
	/* Verbs answered with 502 5.5.1 as if unimplemented, NULL-terminated. */
	const char *const *disabled_commands;

	unsigned max_clients;            /* 0 = unlimited; over it: 421 4.3.2 and close */
	/* Command line incl. CRLF; 512..1048576; default (and 0) 2048. */
	unsigned max_line_length;
	unsigned max_data_line_length;   /* text line in DATA incl. CRLF; default 1000; 0 = none */
	/* Per message; default 100; 452 4.5.3 over it. 0 = no policy limit,
	 * still capped at 100000. */
	unsigned max_recipients;
	unsigned max_bad_commands;       /* before 421 4.7.0 and close; default 10; 0 = none */
	/* NOOP, RSET, VRFY and HELP without a message accepted in between
	 * (Postfix's junk commands); over it: 421 4.7.0 and close. Default
	 * 100; 0 = no limit. */
	unsigned max_junk_commands;
	unsigned max_pipelined_commands; /* commands parsed ahead; default (and 0) 32; max 4096 */
	enum tern_smtp_bare_newline bare_newline;
	bool disable_received_header;    /* do not prepend Received: */

	/* Idle limits (RFC 5321 4.5.3.2) in milliseconds; 0 = the default. */
	unsigned socket_timeout;         /* waiting for a command; default 300000 */
	unsigned data_timeout;           /* waiting for the next DATA/BDAT bytes; default 180000 */
	unsigned close_timeout;          /* grace for sessions on close; default 30000 */
	/* Wait this long before the greeting; a client that talks first is an
	 * early talker (554 5.5.0, close), as with Postfix's postscreen or
	 * smtp-server's 100 ms window. Default 0: greet at once; at most
	 * 600000. */
	unsigned greeting_delay;

	/* on_log gets events of this level and more severe; the library does
	 * not even format the others. Default TERN_LOG_INFO. */
	enum tern_smtp_log_level log_level;

	/* The first released layout ends here. Append new fields below this
	 * line only. */

	/* ---- TLS (RFC 3207 STARTTLS, RFC 8314 implicit TLS) ---- */
	/* Certificates and their private keys, PEM files, NULL-terminated
	 * lists of the same length: the n-th key belongs to the n-th
	 * certificate file (leaf first, then its chain). The first pair is
	 * the default; the others are chosen by SNI (RFC 6066) when their
	 * names cover the name the client asked for. NULL: no TLS (STARTTLS
	 * is neither offered nor accepted, and a secure listener cannot
	 * open). Files are read by tern_smtp_server_new() and again by
	 * tern_smtp_server_reload_tls(). */
	const char *const *tls_cert_files;
	const char *const *tls_key_files;
	enum tern_tls_version tls_min_version; /* default TERN_TLS_1_2 */
	const char *tls_ciphers;      /* TLS 1.2 cipher list (OpenSSL syntax); NULL: OpenSSL's */
	const char *tls_ciphersuites; /* TLS 1.3 suites; NULL: OpenSSL's */
	/* Ask clients for a certificate and check it against these CAs
	 * (PEM). The handshake goes on without one or with one that does not
	 * verify: on_secure sees the result (and SASL EXTERNAL needs a
	 * verified one). NULL: no client certificates are asked for. */
	const char *tls_client_ca_file;
	unsigned tls_handshake_timeout; /* ms; 0 = 60000 */
	/* Listener defaults for tern_smtp_server_listen() (see
	 * tern_smtp_listen_options for their meaning). */
	bool secure;
	bool require_tls;
	bool hide_starttls;
	/* REQUIRETLS (RFC 8689) is offered only on TLS sessions; this hides
	 * it there too (MAIL ... REQUIRETLS is then refused: 555 5.5.4). */
	bool hide_requiretls;

	/* ---- AUTH (RFC 4954; on when callbacks.on_auth is set) ---- */
	/* Mechanisms offered, in this order, NULL-terminated: any of PLAIN,
	 * LOGIN, CRAM-MD5, SCRAM-SHA-256, SCRAM-SHA-256-PLUS, XOAUTH2,
	 * OAUTHBEARER, EXTERNAL. NULL: PLAIN and LOGIN (smtp-server's). An
	 * unknown name or an empty list is TERN_EINVAL. Mechanisms that carry the secret itself
	 * (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) are offered and accepted only
	 * over TLS unless allow_insecure_auth (538 5.7.11 otherwise);
	 * SCRAM-SHA-256-PLUS and EXTERNAL only over TLS. */
	const char *const *auth_methods;
	bool auth_optional;        /* smtp-server's authOptional: see tern_smtp_auth_mode */
	bool allow_insecure_auth;  /* smtp-server's allowInsecureAuth */
	/* Failed AUTH attempts in one session before 421 4.7.0 and close.
	 * Default (and 0) 3. */
	unsigned max_auth_failures;
	/* The 535 of the n-th failure waits n times this many ms (the loop
	 * goes on serving others); default (and 0) 1000; at most 60000. */
	unsigned auth_failure_delay;

	/* ---- facing the internet ---- */
	/* Networks (CIDR strings such as "10.0.0.0/8" or "::1"; each string
	 * may hold a comma-separated list; NULL-terminated) whose connections,
	 * on every listener, must begin with a PROXY protocol header, v1 or v2
	 * (HAProxy's send-proxy, send-proxy-v2). The header is read before any
	 * TLS handshake and before the session exists, within
	 * tls_handshake_timeout; the client address and port it carries (and
	 * the address the client connected to) become the session's: on_connect,
	 * tern_smtp_session_remote_address(), Received:, logs and reverse DNS
	 * all see the real client. A v2 LOCAL header (health checks), v1
	 * UNKNOWN or a v2 address that is neither IPv4 nor IPv6 keeps the
	 * socket's own addresses. A peer in these networks that sends no
	 * header, a malformed one, or an incomplete one in time is closed
	 * without a reply (and logged). Trust is decided by the socket's
	 * address only: a peer outside these networks is served as usual, and
	 * a PROXY header it sends is an unknown command (500 5.5.1).
	 * tern_smtp_server_new() parses the list (TERN_EINVAL, and an on_log
	 * error naming the entry, for one that is not a network) and keeps a
	 * copy: the strings are not used after it returns. NULL: PROXY off. */
	const char *const *proxy_from;
	/* Networks allowed to use XCLIENT and XFORWARD (Postfix's
	 * extensions); everybody else gets 550 5.7.0 and does not see the
	 * EHLO keyword. NULL: nobody. Matched against the address the
	 * connection came from (after PROXY), never one XCLIENT set.
	 * XCLIENT replaces the client's facts (address, port, host name, HELO
	 * name, local address and port, and with LOGIN the authenticated
	 * identity, tern_smtp_session_auth_user(), mechanism "XCLIENT") and
	 * starts the session over: the envelope, the HELO state and any AUTH
	 * are forgotten, on_connect runs again for the new client (the
	 * accessors already give its facts; the context set with
	 * tern_smtp_session_set_context() stays) and its decision is the new
	 * 220 greeting (or the refusal). XFORWARD only records the up-stream
	 * client (tern_smtp_session_xforward(), and the Received: header). */
	const char *const *xclient_from;
	const char *const *xforward_from;
	/* Reverse DNS (with forward confirmation) names the client in the
	 * EHLO reply, Received and logs; [address] when it fails. */
	bool no_reverse_dns;
	/* "ADDR" or "ADDR@PORT": the resolver forwards every query to this
	 * server (tests, split horizon). NULL: the system's resolv.conf. */
	const char *dns_server;
	unsigned dns_timeout;          /* ms for the client's lookup; default (and 0) 5000 */
	/* A message with more Received: headers than this is a mail loop:
	 * 554 5.4.6 (Postfix's hopcount_limit). Default (and 0) 50. */
	unsigned max_received_headers;

	/* ---- abuse limits ----
	 * Counted per client network, after any PROXY header (the real
	 * client), in one table per server shared by its workers: an IPv4
	 * address, or an IPv6 address cut to abuse_ipv6_prefix bits. A refused
	 * connection gets its reply at once, before any greeting delay or
	 * reverse lookup, and is closed without reading a command:
	 *   over max_per_ip:    421 4.7.0 <name> Too many connections from your address
	 *   over max_conn_rate: 421 4.7.0 <name> Too many connections per minute
	 *   banned:             421 4.7.0 <name> Your address is temporarily banned
	 * A ban is 421, not 554: it is temporary, and a well-behaved MTA
	 * (perhaps one of many behind a banned NAT) must retry later rather
	 * than bounce the mail. For each limit, 0 means none. The table holds
	 * at most 65536 networks; when it is full, networks it does not know
	 * yet are served without being counted (fail open: whoever fills it
	 * does not lock everyone else out). */
	/* Open connections per network. Default 100: more than one busy
	 * provider's outbound host or a NAT'd office holds at once (Postfix
	 * allows 50 per address), far fewer than a flood. */
	unsigned max_per_ip;
	/* Connections per network per minute (a fixed window; refused ones
	 * count too). Default 0, none, as Postfix's
	 * smtpd_client_connection_rate_limit: a fair rate depends on the site
	 * (a relay's own hosts, a test rig, monitoring open many connections
	 * from one address), and max_per_ip already bounds what one network
	 * holds at once. A port 25 server facing strangers might set 600. */
	unsigned max_conn_rate;
	/* Transactions (accepted MAIL FROM) per connection; the next MAIL gets
	 * 421 4.7.0 Too many messages in this session, and the session ends.
	 * Default 1000 (Exim's smtp_accept_max_per_connection): a sender with
	 * more reconnects, so one connection cannot hold a worker forever. */
	unsigned max_messages_per_conn;
	/* Recipients accepted per connection, over all its transactions; the
	 * next RCPT gets 421 4.7.0 Too many recipients in this session.
	 * Default 10000: 100 messages at max_recipients' 100. */
	unsigned max_rcpts_per_conn;
	/* Failed AUTH attempts (a 535, malformed data) per network in 10
	 * minutes; reaching it bans the network for ban_seconds: that session
	 * and every AUTH of the network's other sessions get 421 4.7.0, new
	 * connections the ban's 421. Default 10: a user who mistypes a
	 * password a few times is not banned, a guesser is after ten tries
	 * (max_auth_failures still ends each session sooner). */
	unsigned max_auth_failures_per_ip;
	/* Seconds a ban for failed AUTH lasts, and tern_smtp_server_ban()'s
	 * with 0. Default (and 0) 600; at most 31622400 (366 days). */
	unsigned ban_seconds;
	/* IPv6 clients are counted by this many leading bits. Default (and
	 * 0) 64: a /64 is one LAN, the smallest block a site gets, and a host
	 * has as many addresses in it as it wants. 128 counts each address. */
	unsigned abuse_ipv6_prefix;
	/* Networks (CIDR strings as proxy_from; NULL-terminated) never
	 * limited, counted or banned: a webmail host, a trusted relay.
	 * Copied at tern_smtp_server_new() (TERN_EINVAL for a bad one).
	 * Default NULL: nobody, not even loopback (an embedder that wants it
	 * says so; ternd's --abuse-exempt). */
	const char *const *abuse_exempt;
} tern_smtp_options;

/* Fills *opts with the defaults above (zeroes everything else, callbacks
 * included) and sets opts->struct_size to sizeof(*opts) as this program was
 * compiled: always call it before setting fields. A macro, so that the size
 * is the caller's; the function below does the work. */
#define tern_smtp_options_init(opts) tern_smtp_options_init_sized((opts), sizeof(*(opts)))

/* Fills the first `size` bytes of *opts with the defaults (bytes past the
 * library's own layout are zeroed) and sets opts->struct_size = size. Call it
 * through tern_smtp_options_init(). No effect when opts is NULL or size is
 * smaller than struct_size itself. */
void tern_smtp_options_init_sized(tern_smtp_options *opts, size_t size);

/* ---- server ---------------------------------------------------------- */

/* Creates a server. The library keeps a copy of opts and of every string in
 * it; it reads only opts->struct_size bytes of *opts (fields past them take
 * their defaults). Returns 0, TERN_ENOMEM or TERN_EINVAL (NULL argument;
 * struct_size 0 because tern_smtp_options_init() was not called, or smaller
 * than the first released layout; a struct_size larger than this library's
 * layout with a nonzero byte past it, i.e. an option this library does not
 * know; an option out of range, a control character in a string option, or
 * a helo_response with a conversion other than at most two "%s" and "%%"). */
int tern_smtp_server_new(tern_smtp_server **server_r, const tern_smtp_options *opts);

/* Adds a listen address: "127.0.0.1:2525", "[::1]:2525", "localhost:25",
 * ":2525" (every address). Sockets are opened by open/run/attach. Returns 0,
 * TERN_EADDR, TERN_ENOMEM, TERN_EINVAL (NULL) or TERN_ESTATE (already open or
 * running). */
int tern_smtp_server_listen(tern_smtp_server *server, const char *addr_port);

/* What one listen address decides for its sessions. Versioned by size like
 * tern_smtp_options: fill it with tern_smtp_listen_options_init() first
 * (every field false), then set what differs. Fields are only appended. */
typedef struct tern_smtp_listen_options {
	size_t struct_size; /* set by tern_smtp_listen_options_init() */
	/* Implicit TLS (RFC 8314, port 465; smtp-server's `secure`): the
	 * handshake comes first, the greeting after it. Needs a certificate. */
	bool secure;
	/* Mail commands before TLS get 530 5.7.0 "Must issue a STARTTLS
	 * command first" (RFC 3207 4); EHLO, HELO, LHLO, STARTTLS, NOOP, RSET,
	 * HELP and QUIT still work. Needs a certificate. */
	bool require_tls;
	/* Do not advertise STARTTLS (smtp-server's hideSTARTTLS); the command
	 * still works. */
	bool hide_starttls;
	/* AUTH here (see tern_smtp_auth_mode); with allow_insecure_auth also
	 * set on the server or here, secret-carrying mechanisms work without
	 * TLS. */
	enum tern_smtp_auth_mode auth;
	bool allow_insecure_auth;
	/* ms to wait before the greeting on this address (postscreen's
	 * pregreet test: a client that talks first gets 554 5.5.0), instead
	 * of the server's greeting_delay. TERN_SMTP_LISTEN_DEFAULT_DELAY
	 * (what tern_smtp_listen_options_init() sets): the server's. At most
	 * 600000. */
	long greeting_delay;
	/* The mechanisms offered here, in order (names as auth_methods),
	 * read during the call; NULL: the server's auth_methods. An unknown
	 * name or an empty list is TERN_EINVAL (turn AUTH off with auth). */
	const char *const *auth_methods;
} tern_smtp_listen_options;

#define TERN_SMTP_LISTEN_DEFAULT_DELAY (-1L)

#define tern_smtp_listen_options_init(lo) tern_smtp_listen_options_init_sized((lo), sizeof(*(lo)))
/* Fills the first `size` bytes of *lo with the defaults (every field false
 * or zero, greeting_delay TERN_SMTP_LISTEN_DEFAULT_DELAY) and sets
 * lo->struct_size. Call it through the macro. No effect when lo is NULL or
 * size is too small. */
void tern_smtp_listen_options_init_sized(tern_smtp_listen_options *lo, size_t size);

/* Like tern_smtp_server_listen(), with this address's own policy instead of
 * the server-wide defaults (the secure, require_tls and hide_starttls
 * options). lo is read during the call (the library keeps a copy); NULL
 * means the server's defaults. Returns the errors of
 * tern_smtp_server_listen(), and TERN_EINVAL also for a struct_size that is
 * too small, or secure/require_tls on a server without a certificate. */
int tern_smtp_server_listen_ex(tern_smtp_server *server, const char *addr_port,
			       const tern_smtp_listen_options *lo);

/* Reads the certificate and key files again (and the client CA file) and
 * uses them for new connections; connections already open keep theirs, so
 * none is dropped. Safe from any thread. On failure the certificates in use
 * stay, and the reason goes to on_log. Returns 0, TERN_EINVAL (a file is
 * missing or wrong), TERN_ENOMEM, or TERN_ESTATE (the server has no TLS). */
int tern_smtp_server_reload_tls(tern_smtp_server *server);

/* Replaces the server's settings while it runs, without dropping anyone:
 * connections accepted from now on get the new options, sessions already
 * open keep the ones they began with to their end (each holds a reference
 * to its settings; the last one frees them). opts is read as by
 * tern_smtp_server_new() (the library keeps copies; callbacks and
 * user_data may change too: a session keeps the ones it began with).
 * Applied live: every limit and timeout, names and texts, hide_* except
 * hide_starttls, disabled_commands, proxy_from, xclient_from,
 * xforward_from, no_reverse_dns, dns_timeout, max_received_headers, log
 * settings, and the abuse limits and abuse_exempt (the table keeps what it
 * counted: open connections, bans, windows).
 * Fixed while the server exists, so a change to them fails the call:
 * lmtp, secure, require_tls, hide_starttls, the AUTH settings
 * (auth_methods, auth_optional, allow_insecure_auth, whether on_auth is
 * set), every tls_* file and cipher setting (the files' contents are
 * re-read by tern_smtp_server_reload_tls()), and dns_server.
 * All or nothing: on any error the old settings stay, and on_log says why.
 * Safe from any thread, at any time after new. Returns 0, TERN_EINVAL (an
 * invalid option, or a fixed one changed) or TERN_ENOMEM. */
int tern_smtp_server_reconfigure(tern_smtp_server *server, const tern_smtp_options *opts);

/* Binds and listens on every address for `workers` loops without running
 * them yet, so that a program can report bind errors, or drop privileges
 * after binding port 25, before tern_smtp_server_run(). Optional: run()
 * opens the listeners itself when this was not called. Returns 0, TERN_EIO
 * (bind or listen failed: errno is set), TERN_ENOMEM, TERN_EINVAL (NULL, or
 * more than 1024 workers), TERN_ECLOSED (already closed) or TERN_ESTATE
 * (already open or running, or no listen address was added). */
int tern_smtp_server_open(tern_smtp_server *server, unsigned workers);

/* Runs `workers` event loops (0 counts as 1; 1 = the calling thread only;
 * more use SO_REUSEPORT listeners, one loop per thread) until the server is
 * closed and every session has ended; opens the listeners first unless
 * tern_smtp_server_open() did (its worker count then wins). Returns 0 once
 * closed, the errors of tern_smtp_server_open(), or TERN_ENOMEM when a
 * worker thread could not be started (the server is then closed).
 *
 * Signals: worker threads run with every signal blocked, and SIGPIPE is
 * blocked on the calling thread while it runs (libevent writes with
 * writev(), which cannot say MSG_NOSIGNAL).
 * Threads: with more than one worker, callbacks of different sessions (and
 * on_log with a NULL session) run at the same time on different threads;
 * one session's callbacks always run on one thread. */
int tern_smtp_server_run(tern_smtp_server *server, unsigned workers);

/* Opens the listeners on an event loop the embedder runs. The server never
 * calls event_base_dispatch itself. Does not take ownership of base. The
 * embedder must ignore or block SIGPIPE. Returns 0, TERN_EIO, TERN_ENOMEM,
 * TERN_ESTATE (already running, or no listen address), TERN_ECLOSED or
 * TERN_EINVAL. */
int tern_smtp_server_attach(tern_smtp_server *server, struct event_base *base);

/* Graceful close: stop accepting, let sessions finish for close_timeout, then
 * send 421 4.3.2 to the rest. Safe from any thread and more than once;
 * tern_smtp_server_run returns once everything has ended. */
void tern_smtp_server_close(tern_smtp_server *server);

/* Number of live sessions (until their on_close); approximate while loops
 * run in other threads. */
unsigned tern_smtp_server_session_count(const tern_smtp_server *server);

/* What a server has done since tern_smtp_server_new(): counters that only
 * go up (uint64, never reset), for metrics. Versioned by size like
 * tern_smtp_options: set struct_size = sizeof(tern_smtp_stats) (or start
 * from TERN_SMTP_STATS_INIT); a library that knows more fields than the caller
 * fills only struct_size bytes, and fields the library does not know stay
 * zero. New fields are only ever appended.
 *
 * Sessions end in exactly one way, counted when the session is freed
 * (after on_close):
 *   sessions_quit      221 to QUIT
 *   sessions_gone      the client closed or the connection failed first
 *   sessions_timeout   421 4.4.2, idle too long (a TLS or PROXY handshake
 *                      that never finished is no session: see tls_failed)
 *   sessions_closed    the server ended it: a closing reply (421 at a limit,
 *                      after an error, 554 to a refused client) or
 *                      tern_smtp_session_close()
 *   sessions_shutdown  421 4.3.2, the server closing
 * A connection turned away by max_clients (421 4.3.2 Too many connections)
 * counts in connections_accepted and connections_busy, in no sessions_*.
 *
 * Replies 4xx and 5xx are counted by the subject of their enhanced status
 * code (RFC 3463: X.subject.detail), whether or not the code is shown to the
 * client: index 0 is X.0.x (other) and replies without one, 1 addressing
 * (X.1.x: bad or unknown sender or recipient), 2 mailbox (X.2.x: full,
 * disabled), 3 mail system (X.3.x: size, not stored), 4 network and
 * routing (X.4.x: timeout, loop), 5 protocol (X.5.x: syntax, sequence,
 * unknown command), 6 content (X.6.x), 7 security and policy (X.7.x: TLS or
 * AUTH required, refused by policy, AUTH failed, too many errors).
 *
 * messages_accepted/refused: one per message whose end (DATA's dot or
 * BDAT LAST) got a positive or negative answer (in LMTP, by the embedder's
 * on_data_end decision, whatever per-recipient replies it set); a message
 * aborted by a disconnect counts in neither. message_bytes: the octets of
 * accepted messages as the client sent them (after dot-unstuffing, before
 * the Received: header).
 *
 * dns_*: the reverse lookups before the greeting (no_reverse_dns: all 0);
 * dns_failures are those that ended in a temporary failure or a timeout
 * (a name that does not exist or does not match is an answer, not a
 * failure). */
#define TERN_SMTP_STATS_REPLY_SUBJECTS 8
typedef struct tern_smtp_stats {
	size_t struct_size;            /* sizeof(tern_smtp_stats), by the caller */
	uint64_t connections_accepted; /* every accepted connection, busy ones too */
	uint64_t connections_busy;     /* turned away by max_clients */
	uint64_t sessions_quit;
	uint64_t sessions_gone;
	uint64_t sessions_timeout;
	uint64_t sessions_closed;
	uint64_t sessions_shutdown;
	uint64_t messages_accepted;
	uint64_t messages_refused;
	uint64_t message_bytes;        /* octets of accepted messages */
	uint64_t replies_4xx[TERN_SMTP_STATS_REPLY_SUBJECTS]; /* by enhanced subject */
	uint64_t replies_5xx[TERN_SMTP_STATS_REPLY_SUBJECTS];
	uint64_t tls_handshakes;       /* TLS established (STARTTLS or implicit) */
	uint64_t tls_failures;         /* handshakes that failed or timed out */
	uint64_t auth_successes;
	uint64_t auth_failures;        /* failed attempts (535, malformed, at the limit) */
	uint64_t dns_lookups;          /* reverse lookups started */
	uint64_t dns_failures;         /* of which: temporary failure or timeout */
	/* Connections refused with 421 4.7.0 by an abuse limit, by which. */
	uint64_t refused_per_ip;       /* max_per_ip connections open already */
	uint64_t refused_rate;         /* over max_conn_rate this minute */
	uint64_t refused_banned;       /* the client's network is banned */
} tern_smtp_stats;

/* An initializer: tern_smtp_stats st = TERN_SMTP_STATS_INIT; */
#define TERN_SMTP_STATS_INIT {.struct_size = sizeof(tern_smtp_stats)}

/* Reads the server's counters into *out (struct_size set by the caller).
 * Safe from any thread at any time between tern_smtp_server_new() and
 * tern_smtp_server_destroy(), while workers run: each counter is read on
 * its own (relaxed), so counters read together may be a few events apart.
 * Returns 0, or TERN_EINVAL (NULL, or struct_size smaller than the first
 * field after it). */
int tern_smtp_server_stats(const tern_smtp_server *server, tern_smtp_stats *out);

/* Frees the server; it must be closed and, when attached, every session must
 * have ended (or the embedder's loop has stopped). Sets *server to NULL. */
void tern_smtp_server_destroy(tern_smtp_server **server);

/* Actual bound port of the n-th listen address (useful with port 0).
 * Returns 0 when not bound. */
unsigned tern_smtp_server_bound_port(const tern_smtp_server *server, unsigned n);

/* Bans the client network of ip (a numeric IPv4 or IPv6 address; IPv6 is
 * banned by its abuse_ipv6_prefix network) for seconds (0: the ban_seconds
 * option), replacing any ban it had: its new connections get
 * "421 4.7.0 <name> Your address is temporarily banned" at once, and AUTH
 * in its open sessions 421 4.7.0 (open sessions are not cut otherwise).
 * Bans live in memory, in the server's abuse table (see max_per_ip), and
 * end at their time, with tern_smtp_server_unban() or with the server.
 * An address in abuse_exempt is never refused. Thread-safe: any thread,
 * any time between tern_smtp_server_new() and tern_smtp_server_destroy().
 * Returns 0, TERN_EINVAL (NULL, not an address, an exempt one, seconds
 * over 31622400) or TERN_ELIMIT (the table is full of networks it must
 * remember). */
int tern_smtp_server_ban(tern_smtp_server *server, const char *ip, unsigned seconds);

/* Lifts ip's network's ban and forgets its failed AUTH count. Thread-safe
 * as tern_smtp_server_ban(). Returns 0 (it was banned), TERN_ESTATE (it
 * was not) or TERN_EINVAL (NULL, not an address, an exempt one). */
int tern_smtp_server_unban(tern_smtp_server *server, const char *ip);

/* ---- session --------------------------------------------------------- */

/* Completes a PENDING decision. reply NULL means "accept with the default
 * reply"; the library copies reply's strings before returning. Valid while a
 * decision is pending, or from inside the deciding callback itself (the
 * answer then takes effect when it returns PENDING; its text is kept up to
 * 239 octets). Returns 0, TERN_ESTATE (nothing pending, or already answered
 * from inside the callback), TERN_ECLOSED (the client is gone) or
 * TERN_EINVAL (session NULL). Never allocates. */
int tern_smtp_session_resume(tern_smtp_session *session, const tern_smtp_reply *reply);

/* Reject completes a pending decision with a reply, same rules. */
static inline int tern_smtp_session_reject(tern_smtp_session *session, int code,
					   const char *enhanced, const char *text)
{
	tern_smtp_reply r = {code, enhanced, text};
	return tern_smtp_session_resume(session, &r);
}

/* Adds a header line prepended to the message (after Received:). Valid from
 * on_data_start, or while its PENDING decision waits. name and value are
 * copied. Returns 0, TERN_EINVAL (NULL, a control character other than tab,
 * or a bad field name), TERN_ESTATE (not inside on_data_start) or
 * TERN_ENOMEM. */
int tern_smtp_session_add_header(tern_smtp_session *session, const char *name, const char *value);

/* LMTP: reply for the idx-th accepted recipient (0-based), from on_data_end
 * or before resuming it. It wins over on_data_end's decision for that
 * recipient either way: a 4xx/5xx here fails that recipient even when
 * on_data_end accepts, and a 2xx delivers it even when on_data_end rejects.
 * A code of 0 means 250. The library keeps a copy. No effect in SMTP mode.
 * Returns 0, TERN_EINVAL (reply NULL, no such recipient, or a code other
 * than 0, 2xx, 4xx and 5xx) or TERN_ENOMEM. */
int tern_smtp_session_set_rcpt_reply(tern_smtp_session *session, unsigned idx,
				     const tern_smtp_reply *reply);

/* Closes the connection after flushing what was already queued; a message
 * in progress is aborted (on_data_abort, once). From inside a callback the
 * close takes effect when the callback returns (its return value and
 * reply_r are then ignored); either way, from then on no callback but that
 * on_data_abort and on_close runs, no reply but those already queued is
 * sent, nothing more is read, and tern_smtp_session_resume() returns
 * TERN_ECLOSED. No effect when session is NULL, already closed, or the
 * client is gone. */
void tern_smtp_session_close(tern_smtp_session *session);

/* References. A tern_smtp_session pointer is valid until on_close returns,
 * and the library frees the session then; an embedder that keeps the
 * pointer past the callback that gave it (to resume a PENDING decision
 * after a database or DNS answer) takes a reference with
 * tern_smtp_session_ref() there, and gives it back with
 * tern_smtp_session_unref() when the answer has been delivered, or in its
 * own cleanup. A reference keeps only the object, not the session: the
 * connection, buffers and envelope still go when the session ends, and
 * on_close still runs exactly once, at the end of the session. On an ended
 * session (on_close has run, or it will) every function stays safe:
 * tern_smtp_session_resume()/_reject() return TERN_ECLOSED,
 * _add_header() and _set_rcpt_reply() TERN_ECLOSED, _close() does nothing,
 * the accessors return NULL, 0 or false (except tern_smtp_session_id(),
 * which stays valid until the last reference goes, and _get_context(),
 * which returns what was set). The object is freed at the last unref (or
 * at the end of the session when nobody holds one). Same thread as the
 * session's loop only; no locking. */
void tern_smtp_session_ref(tern_smtp_session *session);
/* Gives back a reference taken with tern_smtp_session_ref() and sets
 * *session to NULL. No effect when session or *session is NULL, or when
 * no reference is held (an unref without its ref is ignored, never a free
 * of a session still in use). */
void tern_smtp_session_unref(tern_smtp_session **session);

/* Accessors; strings are valid until the session ends or the value changes
 * (HELO name: next HELO/EHLO; envelope: next reset; the client's and local
 * facts: an XCLIENT, see xclient_from). */
const char *tern_smtp_session_id(const tern_smtp_session *session);
const char *tern_smtp_session_remote_address(const tern_smtp_session *session);
unsigned tern_smtp_session_remote_port(const tern_smtp_session *session);
const char *tern_smtp_session_local_address(const tern_smtp_session *session);
unsigned tern_smtp_session_local_port(const tern_smtp_session *session);
/* The client's host name: the name forward-confirmed reverse DNS found
 * (a PTR name whose A or AAAA records include the address; it is looked up
 * before the greeting unless no_reverse_dns), or "[192.0.2.1]" /
 * "[IPv6:2001:db8::1]" until the lookup confirms a name, and for good when
 * it does not. */
const char *tern_smtp_session_client_hostname(const tern_smtp_session *session);
const char *tern_smtp_session_helo_name(const tern_smtp_session *session); /* NULL before */
/* "EHLO", "HELO" or "LHLO"; NULL before. */
const char *tern_smtp_session_opening_command(const tern_smtp_session *session);
/* RFC 3848 WITH value: "SMTP" (HELO), "ESMTP", "LMTP"; "UTF8SMTP"/"UTF8LMTP"
 * (RFC 6531) while the transaction has SMTPUTF8; +S with TLS (A later with AUTH). */
const char *tern_smtp_session_transmission_type(const tern_smtp_session *session);
unsigned tern_smtp_session_transaction_count(const tern_smtp_session *session);
bool tern_smtp_session_secure(const tern_smtp_session *session);
/* The envelope: NULL / 0 when no transaction is open. */
const tern_smtp_mail *tern_smtp_session_mail_from(const tern_smtp_session *session);
unsigned tern_smtp_session_rcpt_count(const tern_smtp_session *session);
const tern_smtp_rcpt *tern_smtp_session_rcpt(const tern_smtp_session *session, unsigned idx);

/* From on_auth (or before resuming it), for a SCRAM mechanism: the user's
 * stored keys; the library keeps a copy and checks the client's proof with
 * them. Returns 0, TERN_EINVAL (NULL, empty salt, no iterations), TERN_ESTATE
 * (no SCRAM decision pending) or TERN_ENOMEM. */
int tern_smtp_session_auth_scram_keys(tern_smtp_session *session, const tern_smtp_scram_keys *keys);
/* From on_auth (or before resuming it): the identity the session is
 * authenticated as when the decision is to accept, instead of the default
 * (authzid, else username, else the EXTERNAL identity). Needed for
 * OAUTHBEARER, whose token names the user. The library keeps a copy.
 * Returns 0, TERN_EINVAL (NULL, empty, control characters), TERN_ESTATE
 * (no AUTH decision pending) or TERN_ENOMEM. */
int tern_smtp_session_set_auth_user(tern_smtp_session *session, const char *user);
/* The authenticated identity, or NULL before a successful AUTH (and after
 * STARTTLS, which forgets it: RFC 3207 4.2). */
const char *tern_smtp_session_auth_user(const tern_smtp_session *session);
/* The mechanism of the successful AUTH ("PLAIN"), or NULL. */
const char *tern_smtp_session_auth_mechanism(const tern_smtp_session *session);

/* What XFORWARD (Postfix's XFORWARD_README) said about the client of the
 * up-stream MTA: a content filter between two MTAs forwards its original
 * client. Each field is NULL (0 for port) when the attribute was not sent
 * or was "[UNAVAILABLE]"; strings are validated and free of control
 * characters. */
typedef struct tern_smtp_xforward {
	const char *name;   /* its host name */
	const char *addr;   /* its address, numeric ("192.0.2.1", "2001:db8::1") */
	unsigned port;      /* its TCP port */
	const char *proto;  /* the protocol it used ("ESMTP"; up to 64 characters) */
	const char *helo;   /* the HELO name it gave */
	const char *ident;  /* the message's queue id on the up-stream MTA */
	const char *source; /* "LOCAL" (it originated there) or "REMOTE" */
} tern_smtp_xforward;

/* The XFORWARD attributes in effect, or NULL when none was sent. They add
 * up over several XFORWARD commands and are forgotten at the end of the
 * transaction (after the message, RSET, HELO/EHLO or STARTTLS), as in
 * Postfix: send them before each MAIL. Valid until the next XFORWARD or
 * that reset. */
const tern_smtp_xforward *tern_smtp_session_xforward(const tern_smtp_session *session);

/* What TLS established on this session, or NULL before TLS (or without).
 * Valid until the session ends. */
const tern_tls_info *tern_smtp_session_tls_info(const tern_smtp_session *session);
/* The event loop this session's callbacks run on (for embedders that wait
 * on their own events before resuming a decision); NULL for a session not
 * made by a server. */
struct event_base *tern_smtp_session_event_base(const tern_smtp_session *session);

/* The embedder's own pointer for this session; not owned. */
void tern_smtp_session_set_context(tern_smtp_session *session, void *context);
void *tern_smtp_session_get_context(const tern_smtp_session *session);

#ifdef __cplusplus
}
#endif
#endif
