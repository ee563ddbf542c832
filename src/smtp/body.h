/* Message body decoding for DATA (RFC 5321 4.5.2, 4.1.1.4) and BDAT
 * (RFC 3030). Pure: bytes in, decoded slices out through an emit function.
 *
 * DATA ends only on CRLF "." CRLF (or "." CRLF as the very first line). A
 * bare CR or LF is never part of that sequence: it is either rewritten to
 * CRLF or makes the message fail, as the policy says. That is the defence
 * against SMTP smuggling: no other byte sequence can end the body, so no
 * bytes of the body are ever read as commands. */
#ifndef TERN_SMTP_BODY_H
#define TERN_SMTP_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/hops.h"
#include "smtp/kept_reply.h"
#include "tern/smtp.h"

enum tern__body_error {
	TERN__BODY_OK = 0,
	TERN__BODY_TOO_BIG,        /* over the size limit */
	TERN__BODY_LINE_TOO_LONG,  /* a text line over the limit */
	TERN__BODY_BARE_NEWLINE,   /* bare CR or LF under the reject policy */
	TERN__BODY_REJECTED,       /* the embedder refused a chunk */
	TERN__BODY_LOOP,           /* more Received: fields than the hop limit */
};

/* Emits a decoded slice. Returns 0 to go on, non-zero to pause: the decoder
 * then returns at once, and the slice counts as delivered. */
typedef int tern__body_emit_fn(void *ctx, const char *p, size_t n);

struct tern__smtp_body {
	unsigned char state;       /* DATA decoder state */
	unsigned line_len;         /* octets of the current text line so far */
	enum tern__body_error error;
	uint64_t remaining;        /* BDAT: octets of the chunk still to read */
	bool last;                 /* BDAT: this chunk ends the message */
	bool chunk_done;           /* BDAT: read in full while a chunk write was
				    * paused; completes on resume */
	bool discard;              /* BDAT: read the chunk and drop it */
	bool out_of_sequence;      /* BDAT: dropped for no MAIL/RCPT/CHUNKING, not
				    * a failure of the transaction */
	uint64_t chunk_size;       /* BDAT: size of the current chunk */
	uint64_t size;             /* client octets after decoding */
	uint64_t emitted;          /* octets handed on, added headers included */
	struct tern__kept_reply reply; /* the refusal to send at the end */
	struct tern__hops hops;    /* Received: fields seen in the header */
};

struct tern__body_policy {
	unsigned max_line_length;  /* incl. CRLF; 0 = none */
	enum tern_smtp_bare_newline bare_newline;
};

/* Prepares for a new DATA body (the state after 354). */
void tern__body_data_begin(struct tern__smtp_body *b);

/* Decodes DATA input. Returns octets consumed; *done_r is set when the
 * end-of-data line was consumed. Once b->error is set, nothing more is
 * emitted but the input is still read up to the end of data, so the
 * session stays in step with the client. */
size_t tern__body_data_feed(struct tern__smtp_body *b, const struct tern__body_policy *policy,
			    const char *in, size_t len, bool *done_r, tern__body_emit_fn *emit,
			    void *ctx);

/* Reads BDAT chunk octets (no dot handling, RFC 3030 2). Returns octets
 * consumed; *done_r when the chunk is complete. */
size_t tern__body_bdat_feed(struct tern__smtp_body *b, const char *in, size_t len, bool *done_r,
			    tern__body_emit_fn *emit, void *ctx);

/* Sets the error (first one wins). */
void tern__body_fail(struct tern__smtp_body *b, enum tern__body_error error);

#endif
