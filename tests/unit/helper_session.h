/* Transcript harness for the sans-I/O SMTP engine (src/smtp/engine.h).
 *
 * A test builds a config from tern_smtp_options, creates a session with
 * fixed connection facts (192.0.2.1:1234 -> 192.0.2.2:25) and a fixed clock,
 * feeds client bytes and collects every byte of output. Callbacks record
 * events and the delivered body, and answer from a per-callback script of
 * decisions (ACCEPT, REJECT with a reply, or PENDING to be resumed by the
 * harness later, or from inside the callback).
 *
 * A table case (struct hs_case) runs in several feeding modes: the whole
 * input in one feed, one byte at a time, and small slices with the pending
 * decisions resumed as soon as possible. When feed returns less than it was
 * given (paused), the harness resumes the pending decision per the script
 * and feeds the rest. Every mode must give the same transcript.
 *
 * Expected reply lines are prefixes of the output lines ("250 2.1.0",
 * "503 5.5.1"); a leading '=' asks for the exact line. */
#ifndef TERN_TEST_HELPER_SESSION_H
#define TERN_TEST_HELPER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/engine.h"
#include "tern/smtp.h"

#define HS_NOW 1700000000LL /* Tue, 14 Nov 2023 22:13:20 +0000 */
#define HS_ID "1a2b3c4d"
/* The Received: id of the n-th transaction of the session. */
#define HS_TXID(n) HS_ID "-" #n
#define HS_ANY (-1000)
#define HS_MAX_SCRIPT 32
#define HS_MAX_HEADERS 4
#define HS_MAX_RCPT_REPLIES 8

/* NULL-terminated list of expected lines, usable in static tables. */
#define HS_LINES(...) ((const char *const[]){__VA_ARGS__, NULL})
/* The usual EHLO and its default reply (no TLS). */
#define HS_EHLO "EHLO client.example\r\n"
#define HS_EHLO_REPLY                                                                     \
	"=250-mx.test Hello [192.0.2.1]", "=250-PIPELINING", "=250-SIZE 26214400",         \
		"=250-8BITMIME", "=250-SMTPUTF8", "=250-ENHANCEDSTATUSCODES", "=250-DSN",  \
		"=250-CHUNKING", "=250 BINARYMIME"
/* A byte string that may hold NUL: pointer and length for hs_case.in. */
#define HS_BIN(s) .in = (s), .in_len = sizeof(s) - 1

enum hs_cb {
	HS_CONNECT,
	HS_HELO,
	HS_MAIL,
	HS_RCPT,
	HS_DATA_START,
	HS_DATA_CHUNK,
	HS_DATA_END,
	HS_VRFY,
	HS_NCB
};

struct hs_decision {
	int decision;          /* TERN_SMTP_ACCEPT / _REJECT / _PENDING */
	tern_smtp_reply reply; /* copied into reply_r (strings must be static) */
	/* PENDING only: */
	bool resume_inside;    /* resume from inside the callback, then return PENDING */
	bool resume_with;      /* resume with resume_reply instead of NULL */
	tern_smtp_reply resume_reply;
};

struct hs_bytes {
	char *data;
	size_t len, cap;
};

struct hs;
typedef void hs_hook(struct hs *h, tern_smtp_session *s);

struct hs {
	tern_smtp_options opts;
	struct tern__smtp_config cfg;
	tern_smtp_session *session;
	bool cfg_ok;
	bool secure;            /* conn_info.secure */
	bool tls_available;     /* conn_info.tls_available: STARTTLS is served */
	const struct tern__smtp_listener *listener; /* conn_info.listener */
	const char *remote;     /* remote address; NULL: 192.0.2.1 */
	long long now;

	/* Scripts, one per callback; past the end every answer is ACCEPT. */
	struct hs_decision script[HS_NCB][HS_MAX_SCRIPT];
	unsigned script_len[HS_NCB], script_pos[HS_NCB];
	/* The answer once a script is used up (default: ACCEPT, no reply). */
	struct hs_decision fallback[HS_NCB];
	unsigned calls[HS_NCB];

	/* The decision waiting for the harness to resume it. */
	bool pending;
	enum hs_cb pending_cb;
	struct hs_decision pending_d;
	int inside_resume_rc;   /* what resume() returned inside a callback */

	/* Headers added from on_data_start, and the return codes. */
	const char *add_name[HS_MAX_HEADERS], *add_value[HS_MAX_HEADERS];
	unsigned n_add;
	int add_rc[HS_MAX_HEADERS];
	/* LMTP per-recipient replies set from on_data_end. */
	unsigned rr_idx[HS_MAX_RCPT_REPLIES];
	tern_smtp_reply rr[HS_MAX_RCPT_REPLIES];
	unsigned n_rr;
	int rr_rc[HS_MAX_RCPT_REPLIES];

	/* Optional test hooks, called at the start of the callback. */
	hs_hook *hook_mail, *hook_rcpt, *hook_data_start, *hook_data_end, *hook_chunk;
	void *test_ctx;

	/* What happened. */
	struct hs_bytes out;    /* every output byte since the start */
	struct hs_bytes events; /* "mail:<a@b> rcpt:<c@d> data_start data_end ..." */
	struct hs_bytes body;   /* the message being received */
	struct hs_bytes last_body; /* body of the last on_data_end */
	unsigned messages;      /* on_data_end calls */
	unsigned aborts, resets, closes, wakeups, chunks;
	tern_smtp_data_info last_info;
	tern_smtp_mail last_mail; /* scalar fields only (strings not kept) */
	char last_envid[128];
	bool last_envid_set;
	unsigned last_notify;
	char last_orcpt[600], last_orcpt_type[64];
	bool last_orcpt_set;
	bool closed_by_feed;    /* a feed returned TERN_ECLOSED */
	size_t dropped;         /* input bytes not consumed because of that */
	unsigned partial_feeds; /* feeds that returned less than given (pauses) */
};

/* Fills h with defaults: options_init, name "mx.test", the recording
 * callbacks, user_data = h. Tests may then change h->opts and the scripts. */
void hs_init(struct hs *h);
/* Builds the config and the session. Asserts success. */
void hs_open(struct hs *h);
void hs_start(struct hs *h);
/* Feeds in[0..len) in slices of `step` octets (0: all at once). With eager,
 * pending decisions are resumed after every feed; otherwise only when the
 * engine stops taking input. Returns the octets consumed. */
size_t hs_feed(struct hs *h, const void *in, size_t len, size_t step, bool eager);
size_t hs_feed_str(struct hs *h, const char *in);
/* Resumes pending decisions until none is left (bounded). */
void hs_resume_all(struct hs *h);
/* Moves the engine's output into h->out. */
void hs_collect(struct hs *h);
/* Frees the session (on_close), the config and the buffers. */
void hs_free(struct hs *h);

/* Appends a scripted decision for one callback. */
void hs_push(struct hs *h, enum hs_cb cb, struct hs_decision d);
void hs_push_accept(struct hs *h, enum hs_cb cb);
void hs_push_reject(struct hs *h, enum hs_cb cb, int code, const char *enhanced, const char *text);
void hs_push_pending(struct hs *h, enum hs_cb cb);

/* Asserts that the output lines (all CRLF-terminated) match expect. When
 * skip_greeting, the first line must be the normal 220 greeting and is not
 * part of expect. Prints the transcript on failure. */
void hs_expect(struct hs *h, const char *const *expect, bool skip_greeting, const char *what);
/* Number of output lines starting with prefix. */
unsigned hs_count(const struct hs *h, const char *prefix);
bool hs_events_has(const struct hs *h, const char *needle);
/* Dumps transcript and events to stderr. */
void hs_dump(const struct hs *h, const char *what);

/* ---- table cases ------------------------------------------------------- */

struct hs_case {
	const char *name;
	void (*setup)(struct hs *h);   /* option tweaks and scripts */
	const char *in;
	size_t in_len;                 /* 0: strlen(in) */
	const char *const *expect;     /* lines after the greeting */
	int close;                     /* 0: must stay open, 1: want_close, HS_ANY */
	const char *body;              /* last delivered body; NULL: unchecked */
	size_t body_len;               /* 0: strlen(body) */
	int messages;                  /* on_data_end calls; default 0; HS_ANY */
	int aborts;                    /* on_data_abort calls; default 0; HS_ANY */
	void (*check)(struct hs *h);   /* more assertions after the run */
	bool raw;                      /* expect includes the greeting line */
	bool no_start;                 /* feed before start() (early talker) */
	bool busy;                     /* start_busy() instead of start() */
	const char *bug;               /* engine bug this case documents (still asserts RFC) */
};

/* Runs a case in every feeding mode. */
void hs_run_case(const struct hs_case *c);

/* cmocka glue: state is a const struct hs_case *. */
void hs_case_test(void **state);

/* Runs cases[0..n) as a cmocka group named group. Returns failures. */
int hs_run_group(const char *group, const struct hs_case *cases, size_t n);

#endif
