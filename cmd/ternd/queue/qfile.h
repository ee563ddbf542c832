/* The queue's message files and ids (see queue.h for where they live).
 *
 * A message file is self-describing, so the index can be rebuilt from the
 * files alone. It is a header of text lines, an empty line, then the message
 * bytes exactly as received:
 *
 *   TQ1                          magic and version
 *   T <arrival>                  Unix seconds
 *   S <sender>                   "=" for the null reverse-path <>
 *   V <envid>                    ENVID (RFC 3461), "=" when absent
 *   M <ret> <body> <utf8> <tls>  RET (0 unset, F FULL, H HDRS), BODY (0 unset,
 *                                7 7BIT, 8 8BITMIME, B BINARYMIME), SMTPUTF8
 *                                and REQUIRETLS as 0/1
 *   A <auth user>                for logs, "=" when none
 *   C <client>                   for logs (host [address]), "=" when none
 *   R <st> <notify> <rcpt> <orcpt>  one line per recipient, in order; <st> is
 *                                one byte, "-" while the recipient is owed a
 *                                delivery, then overwritten in place with "D"
 *                                (delivered) or "F" (failed) once it is final
 *                                and no DSN is owed for it; <notify> is the
 *                                Q_NOTIFY_* bits in decimal; <orcpt> "="
 *                                when absent
 *   Z <spaces>                   optional, last: room for header fields known
 *                                only at the end of the message (DKIM-Signature),
 *                                see q_writer_set_prefix(); readers skip it
 *   (empty line)
 *   message bytes
 *
 * Every value is xtext (RFC 3461 4), which has no spaces, no line breaks and
 * never the lone "=", so "=" can stand for "absent". The queue id is the file
 * name, not a header line: that lets a pickup file become a queue file by one
 * rename (pickup.c), so pickup is exactly-once instead of at-least-once.
 *
 * The status byte is written without fsync: it only matters when queue.db is
 * lost, and then a lost update means one more delivery (at least once). */
#ifndef TERND_QUEUE_QFILE_H
#define TERND_QUEUE_QFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Queue ids: 15 characters of base 62 in ASCII order ("0-9A-Za-z"), so that
 * byte order is numeric order: 6 for seconds, 4 for microseconds, 5 random.
 * Within one process the time part strictly increases (a clock that stands
 * still or goes back borrows the next microsecond), so ids sort by arrival;
 * across processes the random part, O_EXCL and RENAME_NOREPLACE keep them
 * unique. Like Postfix's long queue ids, and good until the year 3770. */
#define Q_ID_LEN 15
#define Q_ID_SIZE (Q_ID_LEN + 1)

/* Longest header line accepted, in bytes (an xtext-encoded address is at
 * most three times its length, and a path is at most 256 octets). */
#define Q_LINE_MAX 4096
/* The most room a Z line can hold (it is a header line). */
#define Q_PREFIX_MAX (Q_LINE_MAX - 8)
/* Most recipients in one message file. */
#define Q_RCPT_MAX 10000

enum q_notify_bits {
	Q_NOTIFY_DEFAULT = 0, /* no NOTIFY: failure and delay DSNs (as Postfix) */
	Q_NOTIFY_NEVER = 1,
	Q_NOTIFY_SUCCESS = 2,
	Q_NOTIFY_FAILURE = 4,
	Q_NOTIFY_DELAY = 8,
};
enum q_ret { Q_RET_UNSET = 0, Q_RET_FULL, Q_RET_HDRS };
enum q_body { Q_BODY_UNSET = 0, Q_BODY_7BIT, Q_BODY_8BITMIME, Q_BODY_BINARYMIME };

struct q_rcpt {
	char *addr;       /* the forward path, without <> */
	char *orcpt;      /* ORCPT as given ("rfc822;a@b"), NULL when absent */
	unsigned notify;  /* Q_NOTIFY_* bits */
	char status;      /* '-', 'D' or 'F' (only read from a file) */
	uint64_t st_off;  /* offset of the status byte in the file */
};

struct q_envelope {
	int64_t arrival;
	char *sender;     /* "" for <> */
	char *envid;      /* NULL when absent */
	enum q_ret ret;
	enum q_body body;
	bool smtputf8;
	bool requiretls;
	/* Writing only: octets of room for q_writer_set_prefix() (a Z line);
	 * 0: none. At most Q_PREFIX_MAX. */
	unsigned prefix_room;
	char *auth_user;  /* NULL when none */
	char *client;     /* NULL when none */
	struct q_rcpt *rcpts;
	unsigned nrcpt;
};

/* Id state of one store (no process-global state). */
struct q_idgen {
	uint64_t last_us; /* microseconds of the last id made */
};

/* Makes a new id into out from the time sec/usec (the caller's clock). */
void q_id_make(struct q_idgen *g, int64_t sec, long usec, char out[Q_ID_SIZE]);
/* True when s is a well-formed id (length and alphabet). */
bool q_id_valid(const char *s);
/* The home directory of an id below msg/: two hex digits of a hash of it. */
void q_id_dir(const char *id, char out[3]);

/* Writes env's header (ending with the empty line) to f, which must be at
 * offset 0. st_off_r (may be NULL) gets each recipient's status byte offset.
 * Returns 0, EINVAL (no recipients, too many, or a line over Q_LINE_MAX),
 * ENOMEM, or EIO when f has an error. */
int q_header_write(FILE *f, const struct q_envelope *env, uint64_t *st_off_r);
/* Where q_header_write() put the Z line of an envelope with prefix_room:
 * the offset of its "Z" (the empty line and the message follow it). */
int q_header_write_ex(FILE *f, const struct q_envelope *env, uint64_t *st_off_r,
		      uint64_t *z_off_r);
/* Reads a header from f (positioned at its start) into env, leaving f at the
 * first message byte; *body_off_r (may be NULL) gets that offset. Returns 0,
 * EBADMSG (not a valid header: the file is corrupt), ENOMEM or the errno of
 * the read. env is freed on error. */
int q_header_read(FILE *f, struct q_envelope *env, uint64_t *body_off_r);
/* Frees the strings and recipients of an envelope read by q_header_read or
 * built with q_envelope_copy; the struct itself is the caller's. */
void q_envelope_free(struct q_envelope *env);
/* Deep copy of src into dst. Returns 0 or ENOMEM. */
int q_envelope_copy(struct q_envelope *dst, const struct q_envelope *src);

/* The domain of an address (after the last '@'), lower-cased ASCII, into
 * out; "" when there is none. */
void q_rcpt_domain(const char *addr, char *out, size_t outsize);

#endif
