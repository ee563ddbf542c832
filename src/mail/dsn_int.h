/* Private pieces of the DSN builder (include/tern/dsn.h):
 *   dsn.c           options, the report's structure, headers and parts
 *   dsn_format.c    the output stream, dates, field folding, text wrapping,
 *                   sanitising and the RFC 6533 address encodings
 *   dsn_original.c  reading the original: line endings, header section
 * Everything here writes through one tern__dsn_out, which counts octets,
 * notes 8-bit ones, and keeps the first error. */
#ifndef TERN_MAIL_DSN_INT_H
#define TERN_MAIL_DSN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tern/dsn.h"
#include "util/buf.h"

/* RFC 5322 2.1.1: a line is at most 998 octets before CRLF. */
#define TERN__DSN_LINE_MAX 998
/* ... and SHOULD be at most 78. */
#define TERN__DSN_LINE_SOFT 78

struct tern__dsn_out {
	tern_dsn_write_cb *write;
	void *user_data;
	char buf[8192];
	size_t len;
	uint64_t total;
	bool eight_bit;
	int err;                 /* the first error; nothing is written after it */
};

void tern__dsn_out_init(struct tern__dsn_out *o, tern_dsn_write_cb *write, void *user_data);
int tern__dsn_out_write(struct tern__dsn_out *o, const void *p, size_t n);
int tern__dsn_out_str(struct tern__dsn_out *o, const char *s);
int tern__dsn_out_printf(struct tern__dsn_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int tern__dsn_out_flush(struct tern__dsn_out *o);

/* "Wed, 02 Dec 2026 16:07:30 +0000" (RFC 5322 3.3) in UTC, without the
 * locale. */
void tern__dsn_date(time_t t, char out[64]);

/* Appends s[0..len) to b made safe for one header field or text line:
 * CR, LF and TAB become spaces, runs of spaces one space, leading and
 * trailing spaces go, other controls (C0, DEL, and C1 in UTF-8) become
 * "?"; with utf8, well-formed UTF-8 stays, else each 8-bit octet is "?".
 * Cut at max octets (0: no cut) at a character boundary, with "..."
 * appended after a cut. Returns 0, TERN_ENOMEM. */
int tern__dsn_sanitize(struct tern__buf *b, const char *s, size_t len, bool utf8, size_t max);

/* Writes "Name: value\r\n", value already sanitised (single spaces, no
 * controls): folded before a space where a line would pass 78 octets; a
 * word that would pass 998 is broken there with CRLF SP (a marked
 * compromise: unfolding adds a space). */
int tern__dsn_field(struct tern__dsn_out *o, const char *name, const char *value, size_t len);

/* Writes sanitised text as lines of at most width octets, breaking at
 * spaces (a longer word gets a line of its own, broken at 998); the first
 * line starts at column col, the others with indent. Ends with CRLF. */
int tern__dsn_wrap(struct tern__dsn_out *o, const char *text, size_t len, size_t col,
		   const char *indent, size_t width);

/* RFC 6533 3 utf-8-addr-xtext (unitext false: 7-bit, every non-QCHAR as
 * \x{HEX}) or utf-8-addr-unitext (unitext true: UTF-8 kept; only "+",
 * "=", "\", space and controls escaped) of a UTF-8 address. When
 * already_encoded, s is taken to be in one of those forms (an ORCPT value
 * of type utf-8): "\" is then kept and only non-ASCII (for xtext) is
 * escaped. s must be valid UTF-8. Returns 0, TERN_ENOMEM. */
int tern__dsn_utf8_addr(struct tern__buf *b, const char *s, size_t len, bool unitext,
			bool already_encoded);

/* True when s[0..len) has an octet >= 0x80. */
bool tern__dsn_has_8bit(const char *s, size_t len);
/* True when s[0..len) is well-formed UTF-8. */
bool tern__dsn_utf8_valid(const char *s, size_t len);

/* The original, read in order. */
struct tern__dsn_src {
	const tern_dsn_original *orig;
	uint64_t pos;
};

/* True when the options describe an original to read. */
bool tern__dsn_src_present(const tern_dsn_original *orig);
/* Up to n octets into buf: > 0, 0 at the end (pos == len), TERN_EIO when
 * the source ends early or fails, or the read callback's negative value. */
ssize_t tern__dsn_src_read(struct tern__dsn_src *s, void *buf, size_t n);

/* Copies the whole original to o with every line ending as CRLF, and ends
 * it with CRLF when its last line had none (the boundary delimiter's own
 * CRLF then follows). */
int tern__dsn_copy_original(struct tern__dsn_out *o, struct tern__dsn_src *s);

/* Reads the original's header section (up to its first empty line, or the
 * end) into b, each line ending in CRLF, without the empty line. More than
 * limit octets: b keeps the header fields that fit whole and *cut_r is
 * set. Returns 0 or the source's error. */
int tern__dsn_read_headers(struct tern__dsn_src *s, struct tern__buf *b, size_t limit,
			   bool *cut_r);

#endif
