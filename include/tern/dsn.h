/* libtern delivery status notifications: builds the report a mail system
 * sends back to a message's sender when delivery failed, is delayed, or
 * succeeded and the sender asked to be told (RFC 3464, RFC 3461, RFC 6522,
 * RFC 6533). email-server's buildDsn for C.
 *
 * What tern_dsn_build() writes is one complete RFC 5322 message, to be
 * queued with the null reverse-path (MAIL FROM:<>):
 *
 *   From: "Mail Delivery System" <MAILER-DAEMON@reporting_mta>
 *   To: <the original sender>
 *   Subject: Undelivered Mail Returned to Sender | Delayed Mail (still
 *            being retried) | Successful Mail Delivery Report |
 *            Delivery Status Notification (a mix of outcomes)
 *   Date, Message-ID, MIME-Version, Auto-Submitted: auto-replied (RFC 3834)
 *   Content-Type: multipart/report; report-type=delivery-status (RFC 6522)
 *     1. text/plain: what happened, to whom, why, in words
 *     2. message/delivery-status (RFC 3464 2.2, 2.3): Reporting-MTA,
 *        Original-Envelope-Id, Arrival-Date, then a block per recipient
 *     3. the original: message/rfc822 (whole) or text/rfc822-headers
 *        (its header section), or nothing when no original is given
 *   With SMTPUTF8 (RFC 6533) the types are message/global-delivery-status,
 *   message/global and message/global-headers; otherwise every octet that
 *   the library generates is 7-bit ASCII.
 *
 * The rules a queue relies on (docs/dsn.md says why):
 *   - Never a bounce for a bounce: a message whose sender is the null
 *     reverse-path gets no report (TERN_DSN_SKIP_NULL_SENDER).
 *   - NOTIFY is honoured: a recipient appears only when
 *     tern_dsn_wanted(notify, action) says so; when none does, nothing is
 *     written (TERN_DSN_SKIP_NOT_WANTED).
 *   - Absent NOTIFY means FAILURE,DELAY (RFC 3461 4.1 leaves DELAY to the
 *     MTA; Tern chooses to warn).
 *   - The whole original is returned only in a report with a failed
 *     recipient, when RET is FULL or absent (RFC 3461 4.3 leaves absent RET
 *     to the MTA; Tern returns the whole message), the message is at most
 *     size_limit octets and was not sent as BINARYMIME. Otherwise its header
 *     section alone is returned, and the text part says why.
 *
 * Pure library code: no global state, no clock unless options.now is 0,
 * randomness from getrandom(2) for the MIME boundary and Message-ID. */
#ifndef TERN_DSN_H
#define TERN_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "tern/delivery.h"
#include "tern/smtp.h"
#include "tern/tern.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 3464 2.3.3 action-value. */
enum tern_dsn_action {
	TERN_DSN_FAILED = 0,   /* permanent failure: the message is returned */
	TERN_DSN_DELAYED = 1,  /* still in the queue, being retried */
	TERN_DSN_DELIVERED = 2,
	/* handed to a next hop that does not do DSN, so no further report
	 * will come (RFC 3461 4.2: NOTIFY=SUCCESS and a peer without DSN) */
	TERN_DSN_RELAYED = 3,
	TERN_DSN_EXPANDED = 4, /* delivered to a list or alias that sends it on */
};

/* Positive returns of tern_dsn_build(): no report is due, nothing was
 * written, and that is not an error. */
enum tern_dsn_skip {
	TERN_DSN_SKIP_NULL_SENDER = 1, /* the sender is <>: never a bounce for a bounce */
	TERN_DSN_SKIP_NOT_WANTED = 2,  /* no recipient's NOTIFY asks for this outcome */
};

/* Whether a recipient whose RCPT TO carried notify (tern_smtp_notify bits;
 * 0 = no NOTIFY parameter) should appear in a report of this action
 * (RFC 3461 4.1): NEVER: never. Absent: failed and delayed. Otherwise
 * failed needs FAILURE, delayed needs DELAY, and delivered, relayed and
 * expanded need SUCCESS. An unknown action: false. */
bool tern_dsn_wanted(unsigned notify, enum tern_dsn_action action);

/* One recipient's outcome. Strings are read during tern_dsn_build() only
 * (it does not take ownership). */
typedef struct tern_dsn_rcpt {
	const char *address;     /* the envelope recipient, "local@domain", required */
	unsigned notify;         /* its NOTIFY bits (tern_smtp_notify); 0 = absent */
	/* ORCPT (RFC 3461 4.2), xtext already decoded, as tern_smtp_rcpt
	 * gives it; NULL = none. The type is an atom ("rfc822", "utf-8"). */
	const char *orcpt_type;
	const char *orcpt;
	enum tern_dsn_action action;
	const char *status;      /* RFC 3463 "5.1.1"; NULL or "": "5.0.0", "4.0.0" or
				  * "2.0.0" by action */
	/* The host that said it: "mx.example.org", or a delivery result's
	 * relay "mx.example.org[192.0.2.1]:25" (the name is used). NULL, ""
	 * or "none": no Remote-MTA field. */
	const char *remote_mta;
	/* The diagnostic: remote: "smtp; CODE STATUS TEXT" (RFC 3464 2.3.6),
	 * where code is the remote server's reply; local (our own reason, no
	 * server said it): "X-Tern; TEXT". CR, LF and other controls in text
	 * become spaces; it is cut at max_diagnostic octets (marked "...").
	 * A code outside 200..599 is left out; no text and no code: no
	 * Diagnostic-Code field. */
	int diag_code;
	const char *diag_text;
	bool diag_remote;
	time_t last_attempt;     /* Last-Attempt-Date; 0 = absent */
	time_t will_retry_until; /* Will-Retry-Until, delayed only; 0 = absent */
} tern_dsn_rcpt;

/* Fills address, action (success: delivered, or relayed when
 * r->relayed_without_dsn; temporary: delayed; permanent: failed), status,
 * remote_mta and the diagnostic from a delivery result. The pointers point
 * into *r: valid as long as r's strings (during the delivery callback). The
 * other fields (notify, ORCPT, times) are left as they were. */
void tern_dsn_rcpt_from_result(tern_dsn_rcpt *rcpt, const tern_delivery_result *r);

/* The original message: len octets, read once from the start, in order.
 * The library never holds more of it than a small buffer, except the header
 * section when only headers are returned (at most header_limit octets).
 *   fd >= 0:           pread(fd, ..., offset + position)
 *   fd < 0 and data:   the octets at data
 *   fd < 0 and read:   read(buf, n, read_arg) returns octets put in buf
 *                      (> 0), 0 at the end, or a negative TERN_E* value
 *   none of these (or len 0): no original; the third part is left out.
 * Reading fewer than len octets is TERN_EIO. Bare CR and bare LF in it
 * are written as CRLF. */
typedef ssize_t tern_dsn_read_cb(void *buf, size_t n, void *read_arg);

typedef struct tern_dsn_original {
	int fd;                    /* -1 from tern_dsn_options_init() */
	off_t offset;
	const void *data;
	tern_dsn_read_cb *read;
	void *read_arg;
	uint64_t len;
	/* How it was sent: 8BITMIME labels the returned message 8bit;
	 * BINARYMIME originals are returned as headers only (binary content
	 * cannot be carried in a DSN line-by-line). */
	enum tern_smtp_body body;
} tern_dsn_original;

/* Everything a report is made from. ABI: versioned by size like
 * tern_smtp_client_options: tern_dsn_options_init() sets struct_size and
 * rcpt_struct_size to the sizes the caller was compiled with; the library
 * reads only that much of *opts and of each rcpts[i]; new fields are only
 * ever appended. Nothing is kept after tern_dsn_build() returns. */
typedef struct tern_dsn_options {
	size_t struct_size;        /* set by tern_dsn_options_init(); never by hand */
	size_t rcpt_struct_size;   /* sizeof(tern_dsn_rcpt) as the caller knows it */
	const char *reporting_mta; /* our host name: Reporting-MTA, From, Message-ID; required */
	const char *from;          /* the From address; NULL: MAILER-DAEMON@reporting_mta */
	/* The original envelope. */
	const char *sender;        /* MAIL FROM address; NULL or "": the null reverse-path */
	const char *envid;         /* ENVID, xtext decoded; NULL = none */
	enum tern_smtp_ret ret;
	bool smtputf8;             /* the original came with SMTPUTF8 */
	time_t arrival_date;       /* when we received it; 0 = no Arrival-Date */
	const tern_dsn_rcpt *rcpts;
	size_t n_rcpts;
	tern_dsn_original original;
	/* Limits; 0 gives the default. */
	uint64_t size_limit;       /* a larger original: headers only; 1 MiB */
	size_t header_limit;       /* returned header section, cut at a field; 128 KiB */
	size_t max_diagnostic;     /* octets of each diagnostic text; 1024 */
	/* The time in Date (and in the text); 0: time(NULL). Always
	 * written in UTC ("+0000"). */
	time_t now;
	/* Message-ID: <message_id@reporting_mta>; NULL: made from 16 random
	 * octets. The caller's token (a queue id, say) must be unique. */
	const char *message_id;
} tern_dsn_options;

#define tern_dsn_options_init(o)                                                                   \
	tern_dsn_options_init_sized((o), sizeof(*(o)), sizeof(tern_dsn_rcpt))

/* The work of tern_dsn_options_init(): zeroes size bytes of *o, sets
 * original.fd to -1 and the two sizes. No effect when o is NULL or size is
 * too small to hold struct_size and rcpt_struct_size. */
void tern_dsn_options_init_sized(tern_dsn_options *o, size_t size, size_t rcpt_size);

/* What tern_dsn_build() wrote; the queue needs it to send the report.
 * This struct never grows (a later version would add a new one). */
typedef struct tern_dsn_info {
	uint64_t size;             /* octets written */
	bool smtputf8;             /* global types were used: send with SMTPUTF8 */
	enum tern_smtp_body body;  /* 8BITMIME when an 8-bit octet was written, else 7BIT */
	size_t n_reported;         /* recipients in the report */
	bool full;                 /* the whole original is attached */
	bool headers;              /* only its header section is attached */
	bool headers_cut;          /* ... and that was cut at header_limit */
} tern_dsn_info;

/* Returns 0 or a negative TERN_E* value; the write callback's own negative
 * return ends the build with that value. Data arrives in order, in pieces
 * of any size. */
typedef int tern_dsn_write_cb(const void *data, size_t len, void *user_data);

/* Builds the report and writes it through write (called any number of
 * times, never after this returns). info_r (may be NULL) is filled on 0.
 * Returns:
 *   0                          the report was written
 *   TERN_DSN_SKIP_NULL_SENDER  sender is NULL or "": nothing written
 *   TERN_DSN_SKIP_NOT_WANTED   no recipient wanted: nothing written
 *   TERN_EINVAL  NULL opts or write; struct_size or rcpt_struct_size 0
 *                (not initialised), too small, or too large with nonzero
 *                bytes past this library's layout; no reporting_mta or an
 *                invalid one; no recipients; an invalid sender, recipient
 *                address, ORCPT type or value (controls, not UTF-8, over 500
 *                octets), remote_mta (controls, not UTF-8), action or status;
 *                envid with controls, not UTF-8 or over 100 octets; a
 *                message_id that is not a dot-atom
 *   TERN_ENOMEM
 *   TERN_EIO     the original could not be read (short, or read failed),
 *                or getrandom failed
 *   any negative value the write callback or read callback returned.
 * After an error, part of a report may have been written: discard it. */
int tern_dsn_build(const tern_dsn_options *opts, tern_dsn_write_cb *write, void *user_data,
		   tern_dsn_info *info_r);

/* tern_dsn_build() writing to fd (all of it, retrying on EINTR and short
 * writes); a failed write(2) is TERN_EIO with errno set. */
int tern_dsn_build_fd(const tern_dsn_options *opts, int fd, tern_dsn_info *info_r);

#ifdef __cplusplus
}
#endif
#endif
