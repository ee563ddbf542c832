/* What the net layer asks of a protocol engine: the one small interface
 * through which src/net drives any sans-I/O session (the SMTP server engine
 * today; POP3, IMAP and the SMTP client later) without knowing its protocol.
 *
 * The obligations, in the order a connection meets them:
 *   1. session_new() when a client connected (after an implicit-TLS
 *      handshake, info->secure is set and tls_started() follows at once);
 *   2. start() when the greeting may go (after any greeting delay), or
 *      start_busy() instead, at once, when the server is full or
 *      refused() (may be NULL) is true: the engine turns the client away
 *      (abuse limits, decided at session_new());
 *   3. feed() with every byte read. A return smaller than len means paused:
 *      the net layer keeps the rest and feeds it again after a wakeup or
 *      once output was taken. A negative return: the session only wants to
 *      close, input is discarded;
 *   4. output()/output_consumed() after every call into the engine;
 *   5. want_tls(): the engine answered STARTTLS (or STLS) and takes no more
 *      input. Once every octet of output is written, the net layer discards
 *      every plaintext octet it holds, runs the TLS handshake on the same
 *      socket and calls tls_started() (or eof() when the handshake fails);
 *   6. want_barrier(): the engine answered a command after which the
 *      client must wait for the reply (DATA's 354). Once that output is
 *      handed on, barrier(early) tells it whether input was already held;
 *      want_close(): close once output is written;
 *   7. an idle timer of timeout_ms() (0 = none), re-armed only when
 *      progress() moved, and timeout() when it fires; or, while
 *      delay_ms() is non-zero, delay_over() once that time has passed;
 *   8. draining() when the server begins to close, shutdown() when its
 *      grace time is over, eof() when the client went away;
 *   9. free() last (never from inside one of the engine's own callbacks).
 * The engine's io wakeup (struct tern__conn_io) only schedules a pass of the
 * loop; it never re-enters the engine. */
#ifndef TERN_NET_CONN_ENGINE_H
#define TERN_NET_CONN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tern/smtp.h" /* enum tern_smtp_log_level: the library's log levels */

struct event_base;
struct tern__tls_info;

/* Facts about a connection; the engine keeps copies of what it needs. */
struct tern__conn_info {
	const char *remote_address; /* numeric, e.g. "127.0.0.1" or "::1" */
	unsigned remote_port;
	const char *local_address;
	unsigned local_port;
	bool secure;                /* implicit TLS: the handshake is done */
	bool tls_available;         /* the listener can start TLS (STARTTLS) */
};

/* How an engine reaches back to the net layer. */
struct tern__conn_io {
	/* Output is ready, input may be taken again, or the engine wants to
	 * close: the net layer runs a pass from its loop (never from inside
	 * this call). */
	void (*wakeup)(void *io_ctx);
	void *io_ctx;
	/* The loop the connection runs on (for embedders' own events). */
	struct event_base *base;
};

struct tern__conn_engine {
	/* Creates a session. ctx is the listener's engine_ctx; id is copied.
	 * Returns 0 or TERN_ENOMEM. */
	int (*session_new)(void **session_r, void *ctx, const struct tern__conn_info *info,
			   const char *id, const struct tern__conn_io *io);
	void (*start)(void *session);
	void (*start_busy)(void *session);
	bool (*refused)(const void *session);
	ssize_t (*feed)(void *session, const void *buf, size_t len);
	void (*output)(void *session, const void **buf_r, size_t *len_r);
	void (*output_consumed)(void *session, size_t n);
	bool (*want_close)(const void *session);
	bool (*want_input)(const void *session);
	bool (*want_tls)(const void *session);
	/* A reply after which the client must wait (DATA's 354): once it is
	 * handed on, barrier() says whether octets were already held (sent
	 * before the reply). */
	bool (*want_barrier)(const void *session);
	void (*barrier)(void *session, bool early_input);
	/* The TLS handshake succeeded; info is valid until this returns. */
	void (*tls_started)(void *session, const struct tern__tls_info *info);
	unsigned (*timeout_ms)(const void *session);
	/* The engine holds a reply back on purpose (after a failed AUTH):
	 * while delay_ms() is non-zero no idle timer runs, and delay_over()
	 * is called that many ms later. */
	unsigned (*delay_ms)(const void *session);
	void (*delay_over)(void *session);
	unsigned (*progress)(const void *session);
	void (*timeout)(void *session);
	void (*shutdown)(void *session);
	void (*draining)(void *session);
	void (*eof)(void *session);
	void (*free)(void **session);
	/* A log line of the net layer about this session (session may be
	 * NULL: the connection has none yet, or no more). log_enabled tells
	 * whether a level is wanted at all, so nothing is formatted for
	 * nothing. */
	bool (*log_enabled)(void *ctx, enum tern_smtp_log_level level);
	void (*log)(void *ctx, void *session, enum tern_smtp_log_level level, const char *line);
};

#endif
