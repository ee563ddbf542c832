/* One outbound SMTP or LMTP connection: a socket connected to one address,
 * the client engine (include/tern/smtp_client.h) driven over it, STARTTLS
 * through an OpenSSL filter on the same bufferevent, and message bodies
 * streamed from a file or from memory with bounded buffering.
 *
 * It knows nothing of MX hosts, queues or retries (client/delivery.c does):
 * it connects, says what happened, and sends the messages it is given. Its
 * owner hears of it through callbacks, always from the loop, never inside
 * a call into it:
 *   ready         the session is up, or the last message is done: send the
 *                 next (tern__outbound_send) or end it (tern__outbound_quit);
 *   message_done  the results of the message just sent are in;
 *   closed        the connection is over (connect failed, the server went,
 *                 a timeout, a TLS failure, QUIT done). The outbound
 *                 object is freed right after this callback returns.
 * One timer serves every wait: the connect timeout, then the engine's
 * RFC 5321 4.5.3.2 timeouts. */
#ifndef TERN_CLIENT_OUTBOUND_H
#define TERN_CLIENT_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tern/smtp_client.h"

struct event_base;
struct tern__tls_client;
struct tern__tlsa;
struct tern__outbound;

/* Where a message body comes from: fd from offset for len octets (pread,
 * so the fd may be shared), or data/len in memory (fd < 0). Read as the
 * engine takes it, at most TERN__OUTBOUND_CHUNK at a time. */
struct tern__body_source {
	int fd;
	off_t offset;
	const void *data;
	uint64_t len;
};

#define TERN__OUTBOUND_CHUNK (64 * 1024)
/* Octets queued toward the server before the body stops being read. */
#define TERN__OUTBOUND_HIGH_WATER (256 * 1024)

/* How it ended, for closed(). */
struct tern__outbound_end {
	bool connected;      /* the TCP connection was made */
	bool greeted;        /* a session got past the greeting and EHLO */
	bool tls_failed;     /* the STARTTLS handshake failed or was not verified */
	/* With tls_failed, or a session that ended because STARTTLS was
	 * required and not offered: the RFC 8460 4.3 result type
	 * ("starttls-not-supported", "certificate-host-mismatch", ...). */
	const char *rpt_type;
	int sys_errno;       /* connect() failure, or 0 */
	/* The engine's failure (NULL after a clean QUIT, or when it never
	 * started): valid during the callback. */
	const tern_smtp_client_result *failure;
	char why[256];       /* a line for the log and a DSN's diagnostic */
};

struct tern__outbound_cbs {
	void (*ready)(struct tern__outbound *o, void *arg);
	void (*message_done)(struct tern__outbound *o, void *arg);
	void (*closed)(struct tern__outbound *o, const struct tern__outbound_end *end, void *arg);
};

struct tern__outbound_params {
	const struct sockaddr *addr; /* copied */
	socklen_t addr_len;
	const char *host;            /* the name connected to: SNI, verification, logs */
	unsigned connect_timeout_ms; /* 0: 30000 */
	/* The client engine's options (copied by the engine; helo_name etc.
	 * must be valid during the call only). */
	const tern_smtp_client_options *client;
	/* TLS for STARTTLS (or implicit TLS with client->tls_active): NULL
	 * means no STARTTLS whatever client->tls says. */
	struct tern__tls_client *tls;
	/* The certificate must verify (chain and host name): a handshake
	 * whose certificate does not fails the session (tls_failed). */
	bool tls_verify;
	/* DANE (RFC 7672): the usable TLSA records that must authenticate
	 * the server (copied; n_tlsa 0: none, PKIX by tls_verify). */
	const struct tern__tlsa *tlsa;
	size_t n_tlsa;
};

/* Starts connecting. Returns 0 (callbacks follow, closed last) or
 * TERN_EINVAL / TERN_ENOMEM (nothing started, no callback). */
int tern__outbound_start(struct event_base *base, const struct tern__outbound_params *p,
			 const struct tern__outbound_cbs *cbs, void *arg,
			 struct tern__outbound **o_r);

/* After ready(): sends one message, its body from src (copied; an fd must
 * stay open until message_done). Returns 0 or the errors of
 * tern_smtp_client_send(). */
int tern__outbound_send(struct tern__outbound *o, const tern_smtp_client_message *msg,
			const struct tern__body_source *src);

/* After ready(): QUIT; closed() follows. */
void tern__outbound_quit(struct tern__outbound *o);

/* Ends the connection now, without QUIT and without any callback (the
 * owner is going away). */
void tern__outbound_abort(struct tern__outbound *o);

/* The engine, for results after message_done() and its extensions. */
tern_smtp_client *tern__outbound_client(struct tern__outbound *o);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384 (verified)" or "" without TLS. */
const char *tern__outbound_tls_summary(const struct tern__outbound *o);
/* Whether the session runs over TLS whose certificate verified. */
bool tern__outbound_tls_verified(const struct tern__outbound *o);
bool tern__outbound_tls_active(const struct tern__outbound *o);
/* Over TLS: why the certificate did not verify, as an RFC 8460 4.3 result
 * type; NULL when it verified or without TLS. A static string. */
const char *tern__outbound_tls_rpt_type(const struct tern__outbound *o);

#endif
