/* The sans-I/O SMTP/LMTP session engine: what the net layer (or a test) uses.
 *
 * The engine never touches a socket, a timer or the clock. The caller:
 *   1. creates a session with the server-wide config and connection facts;
 *   2. calls tern__smtp_session_start() when it wants the greeting sent
 *      (after any greeting delay); bytes fed before that are an early talker;
 *   3. feeds every byte read with tern__smtp_session_feed(); a return smaller
 *      than len means "paused": keep the rest and stop reading until the io
 *      wakeup callback fires;
 *   4. after every call into the engine (and on wakeup) writes out
 *      tern__smtp_session_output() and reports it with _output_consumed();
 *   5. closes the connection once want_close() is true and output is empty;
 *   6. arms an idle timer of timeout_ms() after every feed and calls
 *      tern__smtp_session_timeout() when it fires.
 * The session object is the public tern_smtp_session handed to callbacks. */
#ifndef TERN_SMTP_ENGINE_H
#define TERN_SMTP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tern/smtp.h"
#include "util/cidr.h"
#include "util/stats.h"

/* What a listener decides for its sessions (tern_smtp_listen_options,
 * resolved). Shared read-only by every session of the listener. */
struct tern__smtp_listener {
	bool secure;        /* implicit TLS: sessions start secure */
	bool require_tls;   /* 530 5.7.0 for mail commands before STARTTLS */
	bool hide_starttls; /* never offer STARTTLS */
	bool auth_offered;  /* AUTH is served here (on_auth set, not off) */
	bool auth_required; /* 530 5.7.0 for mail commands before AUTH */
	bool allow_insecure_auth; /* secret-carrying mechanisms without TLS */
	/* AUTH mechanisms offered here, in order (enum tern__sasl_mech). */
	signed char auth_mechs[8];
	unsigned char n_auth_mechs;
};

/* Parses a NULL-terminated list of mechanism names into l (duplicates
 * dropped). Returns 0 or TERN_EINVAL for an unknown name. */
int tern__smtp_listener_mechs(struct tern__smtp_listener *l, const char *const *names);

/* Resolves a listener's auth mode (enum tern_smtp_auth_mode) against the
 * server's options into l (and the server's mechanisms, when l has none
 * yet). */
void tern__smtp_listener_auth(struct tern__smtp_listener *l, const tern_smtp_options *opts,
			      int mode, bool allow_insecure);

#define TERN__SMTP_MAX_AUTH_MECHS 8

/* Server-wide options resolved with defaults; strings owned (copied). One
 * config is shared read-only by every session of a server, across threads. */
struct tern__smtp_config {
	tern_smtp_options opts; /* string fields point into the copies below */
	char *name;
	char *banner;
	char *helo_response;
	char **disabled_commands; /* NULL-terminated, upper-cased */
	unsigned greeting_delay;  /* ms the net layer waits before start(); default 0 */
	/* The policy of sessions whose conn_info names no listener (from the
	 * secure, require_tls and hide_starttls options). */
	struct tern__smtp_listener listener;
	/* SCRAM's unknown users get a salt derived from their name with this
	 * per-server key, stable across attempts like a real user's. */
	unsigned char scram_fake_key[32];
	/* The networks allowed XCLIENT and XFORWARD (the xclient_from and
	 * xforward_from options, parsed; opts has NULL for them). */
	struct tern__cidr_list xclient_from, xforward_from;
	/* The server's counters (util/stats.h); NULL: none (a test's, an
	 * engine without a server). Set by the server after config init. */
	struct tern__stats *stats;
};

int tern__smtp_config_init(struct tern__smtp_config *cfg, const tern_smtp_options *opts);
void tern__smtp_config_free(struct tern__smtp_config *cfg);

/* Facts about the connection; the engine keeps copies. */
struct tern__smtp_conn_info {
	const char *remote_address; /* numeric, e.g. "127.0.0.1" or "::1" */
	unsigned remote_port;
	const char *local_address;
	unsigned local_port;
	bool secure;
	bool tls_available; /* STARTTLS can be served on this connection */
	/* The listener's policy; NULL: cfg->listener (the server's defaults).
	 * Must outlive the session. */
	const struct tern__smtp_listener *listener;
};

/* What TLS established, handed in by the net layer after a handshake. */
struct tern__smtp_tls_facts {
	tern_tls_info info;       /* strings are copied by the engine */
	bool has_exporter;        /* tls-exporter channel binding (RFC 9266) */
	unsigned char exporter[32];
	size_t endpoint_len;      /* tls-server-end-point (RFC 5929); 0: none */
	unsigned char endpoint[64];
};

struct tern__smtp_io {
	/* Called (outside feed) when the engine has new output, can take input
	 * again after a pause, or wants to close. The net layer should flush and
	 * resume feeding from its loop. Must not free the session synchronously. */
	void (*wakeup)(void *io_ctx);
	/* Wall-clock seconds for the Received: header. NULL: time(NULL). The
	 * engine asks nothing else of the clock; tests pass a fixed time. */
	long long (*now)(void *io_ctx);
	void *io_ctx;
	/* The event loop of the connection, for tern_smtp_session_event_base();
	 * NULL in tests. */
	struct event_base *base;
	/* The server's abuse table, for the client's network (NULL: none).
	 * auth_failed: a failed AUTH attempt was counted; true when the
	 * network is banned now (the session ends with 421 4.7.0). banned:
	 * whether it is, asked when AUTH begins. */
	bool (*auth_failed)(void *abuse_ctx);
	bool (*banned)(void *abuse_ctx);
	void *abuse_ctx;
};

/* Creates a session. id is copied (e.g. "1a2b3c4d"). Returns 0 or TERN_ENOMEM. */
int tern__smtp_session_new(tern_smtp_session **session_r, const struct tern__smtp_config *cfg,
			   const struct tern__smtp_conn_info *conn, const char *id,
			   const struct tern__smtp_io *io);

/* Runs on_connect and queues the greeting (or the refusal). */
void tern__smtp_session_start(tern_smtp_session *session);

/* Names the client (the reverse lookup's confirmed name, before start):
 * tern_smtp_session_client_hostname(), the EHLO reply and Received: use it
 * instead of "[address]". name is copied. Returns 0, TERN_EINVAL (NULL, or
 * not a domain name: an address literal, a control character, a bad
 * label), TERN_ENOMEM or TERN_ECLOSED (the session has ended). */
int tern__smtp_session_set_client_hostname(tern_smtp_session *session, const char *name);

/* Instead of start(): the server is full (max_clients). Queues
 * "421 4.3.2 ... too many connections" and marks the session closing. */
void tern__smtp_session_start_busy(tern_smtp_session *session);

/* Instead of start(): an abuse limit refuses the client (why: "Too many
 * connections from your address", ...). Queues "421 4.7.0 <name> <why>",
 * logs it and marks the session closing. why is not kept. */
void tern__smtp_session_start_refused(tern_smtp_session *session, const char *why);

/* Feeds bytes read from the client. Returns how many were consumed (the rest
 * must be fed again after wakeup), or TERN_ECLOSED once the session only
 * wants to close (remaining input is to be discarded). */
ssize_t tern__smtp_session_feed(tern_smtp_session *session, const void *buf, size_t len);

/* Output waiting to be written (may be empty). */
void tern__smtp_session_output(tern_smtp_session *session, const void **buf_r, size_t *len_r);
void tern__smtp_session_output_consumed(tern_smtp_session *session, size_t n);

/* True when the connection should be closed once output is written. */
bool tern__smtp_session_want_close(const tern_smtp_session *session);

/* True when the engine would consume input now (no decision pending, queue
 * not full, output not backed up). */
bool tern__smtp_session_want_input(const tern_smtp_session *session);

/* Idle limit for the current state, in ms; 0 = no timer (waiting on the
 * embedder's decision, not on the client). */
unsigned tern__smtp_session_timeout_ms(const tern_smtp_session *session);

/* A counter that moves when the client made progress: a complete command
 * line, each KiB of message data, the end of a message. The net layer
 * re-arms the idle timer only when it moved, so neither a command line nor
 * message data dribbled an octet at a time keeps a session open. */
unsigned tern__smtp_session_progress(const tern_smtp_session *session);

/* The idle timer fired: queues 421 4.4.2 and marks the session closing. */
void tern__smtp_session_timeout(tern_smtp_session *session);

/* The server is closing and the grace time is over: 421 4.3.2, closing. */
void tern__smtp_session_shutdown(tern_smtp_session *session);

/* The server is closing: new commands get 421 4.3.2 (sessions may finish
 * the transaction in progress). */
void tern__smtp_session_draining(tern_smtp_session *session);

/* The client closed or the connection failed: aborts any message in
 * progress (on_data_abort); the next free will not write anything. */
void tern__smtp_session_eof(tern_smtp_session *session);

/* Frees the session and calls on_close. Sets *session to NULL. Never call it
 * from inside a callback of the same session (or from the io wakeup). */
void tern__smtp_session_free(tern_smtp_session **session);

/* A failed AUTH is answered after a delay: while this is non-zero the
 * engine waits for it (no idle timer); the net layer calls
 * tern__smtp_session_delay_over() that many ms later. */
unsigned tern__smtp_session_delay_ms(const tern_smtp_session *session);
void tern__smtp_session_delay_over(tern_smtp_session *session);

/* True once the engine queued DATA's 354: it takes no more input until the
 * net layer, having handed the 354 on, calls tern__smtp_session_barrier()
 * with early_input true when it already held octets from the client
 * (they were sent before the 354: 554 5.5.0 and close) or false (the text
 * then flows). */
bool tern__smtp_session_want_barrier(const tern_smtp_session *session);
void tern__smtp_session_barrier(tern_smtp_session *session, bool early_input);

/* True once the engine answered STARTTLS with 220: it takes no more input
 * and waits for the net layer to discard what it holds in plaintext and run
 * the TLS handshake (then tls_started), or to close. */
bool tern__smtp_session_want_tls(const tern_smtp_session *session);

/* The TLS handshake finished. After STARTTLS this resets the session state
 * as RFC 3207 4.2 demands (HELO name, envelope, authentication); on an
 * implicit-TLS listener it only records the facts. Then on_secure runs;
 * its refusal queues 421 4.7.0 and closes. facts is copied. */
void tern__smtp_session_tls_started(tern_smtp_session *session,
				    const struct tern__smtp_tls_facts *facts);

#endif
