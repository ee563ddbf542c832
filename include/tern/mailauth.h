/* libtern inbound message authentication on an event loop: SPF, DKIM and
 * DMARC run together while a message arrives, and end in one
 * Authentication-Results header field (RFC 8601).
 *
 * The engines (<tern/spf.h>, <tern/dkim.h>, <tern/arc.h>, <tern/dmarc.h>)
 * are sans-I/O;
 * this drives them with the library's resolver (libunbound) on your loop:
 *   - tern_mailauth_new() at MAIL FROM starts SPF (HELO and MAIL FROM
 *     identities) at once, so its lookups overlap RCPT and DATA;
 *   - tern_mailauth_feed() takes the message as it streams; when its header
 *     section ends, the DKIM key lookups start while the body is hashed;
 *   - tern_mailauth_finish() at the end of the message; the callback runs
 *     once SPF and every key answer are in and DMARC has looked up its
 *     policy: the end-of-data reply waits only for the slowest answer.
 * What email-server calls mail.auth is tern_mailauth_spf(), _dkim() and
 * _dmarc(); tern_mailauth_header() is the field to prepend.
 *
 * Threads: a context and its messages belong to the thread running the
 * context's event loop; every call and callback happens there. Contexts
 * share nothing. */
#ifndef TERN_MAILAUTH_H
#define TERN_MAILAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <tern/arc.h>
#include <tern/dkim.h>
#include <tern/dmarc.h>
#include <tern/spf.h>
#include <tern/tern.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

typedef struct tern_mailauth_options {
	size_t struct_size;       /* set by tern_mailauth_options_init() */
	/* The authserv-id of the Authentication-Results fields we add (RFC
	 * 8601 2.5): this host's name, say. Required. */
	const char *authserv_id;
	/* "ADDR" or "ADDR@PORT" that every query goes to; NULL: the servers
	 * of /etc/resolv.conf. */
	const char *dns_server;
	/* One lookup's limit (0: 5000 ms), and the most a message's checks
	 * may wait after tern_mailauth_finish() (0: 20000 ms): whatever is
	 * not in by then is temperror. */
	unsigned dns_timeout_ms;
	unsigned finish_timeout_ms;
	bool no_spf, no_dkim, no_dmarc;   /* checks to leave out (default: all run) */
	bool no_arc;
	unsigned dkim_max_signatures;     /* 0: the verifier's default (10) */
	unsigned dkim_min_rsa_bits;       /* 0: the verifier's default (1024) */
} tern_mailauth_options;

void tern_mailauth_options_init(tern_mailauth_options *opts);

/* One per event loop: the resolver and the settings its messages share. */
typedef struct tern_mailauth_ctx tern_mailauth_ctx;

/* base is not owned and must outlive the context. Returns 0, TERN_EINVAL
 * (no authserv_id, a bad dns_server: err says why) or TERN_ENOMEM. */
int tern_mailauth_ctx_new(tern_mailauth_ctx **ctx_r, struct event_base *base,
			  const tern_mailauth_options *opts, char *err, size_t err_size);
/* Frees the context; its messages must have been freed first. NULL is
 * fine; *ctx is set to NULL. */
void tern_mailauth_ctx_free(tern_mailauth_ctx **ctx);

/* One message's checks. */
typedef struct tern_mailauth tern_mailauth;

typedef struct tern_mailauth_envelope {
	const char *client_ip;   /* numeric text; required */
	const char *helo;        /* the HELO/EHLO argument; NULL: none */
	const char *mail_from;   /* the reverse-path without <>; "" or NULL: <> */
	const char *receiver;    /* our host name for SPF's %{r}; NULL: authserv_id */
	time_t now;              /* the clock for DKIM's t=/x= and SPF's %{t} */
	uint32_t random;         /* a fresh random number for DMARC's pct= */
} tern_mailauth_envelope;

/* Starts the checks of one message; SPF's first lookups go out now. The
 * envelope's strings are copied. Returns 0, TERN_EINVAL or TERN_ENOMEM. */
int tern_mailauth_new(tern_mailauth **ma_r, tern_mailauth_ctx *ctx,
		      const tern_mailauth_envelope *env);

/* The next piece of the message exactly as it will be stored (the header
 * section first; CRLF or LF line ends). Returns 0, TERN_ENOMEM (the checks
 * go on without DKIM, which will say temperror) or TERN_ESTATE (after
 * finish). */
int tern_mailauth_feed(tern_mailauth *ma, const void *data, size_t len);

/* Called once every result is known (or finish_timeout_ms passed). Never
 * from inside the call that armed it. */
typedef void tern_mailauth_cb(tern_mailauth *ma, void *arg);

/* The message has ended. cb runs on the loop when the results are ready.
 * Returns 0, TERN_ESTATE (twice) or TERN_ENOMEM. */
int tern_mailauth_finish(tern_mailauth *ma, tern_mailauth_cb *cb, void *arg);

/* Results, valid until tern_mailauth_free(); meaningful after the
 * callback. NULL when that check did not run (disabled, or nothing to check:
 * DMARC without a From domain returns an outcome with result permerror). */
const struct tern_spf_outcome *tern_mailauth_spf(const tern_mailauth *ma, enum tern_spf_identity id);
/* The DKIM results in message order; *n_r = 0 when unsigned. */
void tern_mailauth_dkim(const tern_mailauth *ma, const tern_dkim_result **results_r, size_t *n_r);
const struct tern_dmarc_outcome *tern_mailauth_dmarc(const tern_mailauth *ma);
/* The ARC chain's verdict (RFC 8617 5.2); NULL when not checked. */
const tern_arc_result *tern_mailauth_arc(const tern_mailauth *ma);

/* The Authentication-Results field for these results, with the
 * context's authserv-id, "Authentication-Results: ...\r\n", folded. Valid
 * until tern_mailauth_free(). Returns 0, TERN_ESTATE (before the callback)
 * or TERN_ENOMEM. */
int tern_mailauth_header(tern_mailauth *ma, const char **field_r, size_t *len_r);

/* True when an incoming header field value (after the colon) of an
 * Authentication-Results field claims this context's authserv-id: such
 * fields are forged or stale and should be removed (RFC 8601 5). A field
 * that cannot be read far enough to know is treated as ours. */
bool tern_mailauth_claims_us(const tern_mailauth_ctx *ctx, const char *value, size_t len);

/* Stops every lookup (no callback runs after this) and frees the message's
 * checks. NULL is fine; *ma is set to NULL. */
void tern_mailauth_free(tern_mailauth **ma);

#ifdef __cplusplus
}
#endif
#endif
