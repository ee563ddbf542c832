/* A streaming filter over a message's header section.
 *
 * The message flows through in pieces as it arrives; header fields whose
 * names the caller watches are held until complete and shown to a decision
 * callback, which keeps them (they are passed on unchanged) or drops them.
 * Every other byte is passed on at once, without a copy, and once the header
 * section has ended the filter costs one call per piece. What this is for:
 *   - removing Authentication-Results fields that claim our own authserv-id
 *     (RFC 8601 5: a receiver must not trust, and should remove, fields it
 *     did not add that carry its id);
 *   - seeing the From field(s) for DMARC while the message streams.
 *
 * A field ends at the line end that is not followed by SP or HTAB (RFC 5322
 * 2.2.3); a line end is LF, with or without a CR before it. The header
 * section ends at an empty line, or at the first line that is not a field
 * (no colon after a run of printable non-space octets, RFC 5322 2.2): from
 * there on everything passes. A watched field longer than
 * TERN__HDR_FILTER_MAX_FIELD is shown to the callback truncated to that size,
 * with truncated set, and the callback's decision applies to all of it.
 *
 * No allocation after init besides the one held-field buffer, grown up to
 * the maximum. Not thread-safe; one message at a time. */
#ifndef TERN_MAIL_HEADER_FILTER_H
#define TERN_MAIL_HEADER_FILTER_H

#include <stdbool.h>
#include <stddef.h>

/* The longest watched field held whole (RFC 5322's line limit is 998, but a
 * folded field may have many lines). */
#define TERN__HDR_FILTER_MAX_FIELD (64 * 1024)
/* A field name is at most this long before the filter stops watching the
 * field (no registered name is that long). */
#define TERN__HDR_FILTER_MAX_NAME 128

/* Bytes to pass on. */
typedef int tern__hdr_out_cb(const void *data, size_t len, void *arg);

/* A watched field is complete: field[0..len) is the whole field as
 * received, name and line ends included; name_len is the name's length.
 * Returns true to keep it, false to drop it. */
typedef bool tern__hdr_decide_cb(const char *field, size_t len, size_t name_len, bool truncated,
				 void *arg);

struct tern__hdr_filter {
	/* set by init */
	const char *const *watch;   /* NULL-terminated names, matched without case */
	tern__hdr_decide_cb *decide;
	tern__hdr_out_cb *out;
	void *arg;
	/* state */
	int state;
	bool held;              /* the current field is watched */
	bool truncated;
	char name[TERN__HDR_FILTER_MAX_NAME];
	size_t name_len;
	char *buf;              /* the held field */
	size_t len, cap;
};

/* watch: NULL-terminated list of field names, not copied (must outlive the
 * filter). */
void tern__hdr_filter_init(struct tern__hdr_filter *f, const char *const *watch,
			   tern__hdr_decide_cb *decide, tern__hdr_out_cb *out, void *arg);

/* Feeds a piece. Returns 0, the first non-zero value out returned, or
 * TERN_ENOMEM. After an error the filter must only be cleared. */
int tern__hdr_filter_feed(struct tern__hdr_filter *f, const void *data, size_t len);

/* The message has ended: a field still held (a message that is all header,
 * without a final line end) is decided and passed or dropped. Returns as
 * feed. */
int tern__hdr_filter_end(struct tern__hdr_filter *f);

/* True once the header section has ended. */
bool tern__hdr_filter_in_body(const struct tern__hdr_filter *f);

/* Frees the held-field buffer; the filter may be initialised again. */
void tern__hdr_filter_clear(struct tern__hdr_filter *f);

#endif
