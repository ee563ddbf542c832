/* Decoding helpers for IMAP SEARCH over MIME messages: RFC 2047 encoded
 * words, RFC 2231 parameter values, quoted-printable and base64 bodies
 * (streaming), charset conversion to UTF-8 (glibc iconv), and a
 * case-insensitive substring search over decoded text that may arrive in
 * pieces. All output goes to a caller's tern__buf; nothing keeps the
 * caller's pointers. No global state; iconv descriptors are per call. */
#ifndef TERN_MIME_DECODE_H
#define TERN_MIME_DECODE_H

#include <stddef.h>

#include "util/buf.h"

/* Converts len octets in charset to UTF-8, appending to out. Undecodable
 * octets become U+FFFD. Returns 0, TERN_EINVAL (charset unknown to iconv:
 * nothing appended), TERN_ENOMEM or TERN_ELIMIT (out's ceiling). */
int tern__mime_charset_to_utf8(const char *charset, const char *in, size_t len,
			       struct tern__buf *out);

/* An unstructured header value (Subject, a display name) with its RFC 2047
 * encoded words decoded to UTF-8: whitespace between two adjacent encoded
 * words dropped (RFC 2047 6.2), folds unfolded, anything malformed copied
 * as it is. Returns 0, TERN_ENOMEM or TERN_ELIMIT. */
int tern__mime_decode_words(const char *in, size_t len, struct tern__buf *out);

/* An RFC 2231 extended value "charset'language'%XX..." decoded to UTF-8.
 * Returns 0, TERN_EINVAL (not of that form, or its charset unknown),
 * TERN_ENOMEM or TERN_ELIMIT. */
int tern__mime_decode_param(const char *value, struct tern__buf *out);

/* Content-Transfer-Encoding decoders, fed any pieces. */
enum tern__mime_cte {
	TERN__MIME_CTE_IDENTITY, /* 7bit, 8bit, binary and anything unknown */
	TERN__MIME_CTE_QP,
	TERN__MIME_CTE_BASE64,
};
struct tern__mime_decoder {
	enum tern__mime_cte cte;
	char pend[80]; /* QP: "=" and hex digits, or whitespace held until we
			* know it is not trailing (RFC 2045 6.7 rule 3) */
	size_t npend;
	unsigned quantum, nq; /* base64: bits gathered and their count of sextets */
	int ended;            /* base64: '=' seen */
};
/* The encoding named by a Content-Transfer-Encoding value (NULL: 7bit). */
enum tern__mime_cte tern__mime_cte_parse(const char *value, size_t len);
void tern__mime_decoder_init(struct tern__mime_decoder *d, enum tern__mime_cte cte);
/* Returns 0, TERN_ENOMEM or TERN_ELIMIT. Broken input is decoded
 * leniently (a bad "=XY" kept as is, non-alphabet base64 octets skipped). */
int tern__mime_decoder_feed(struct tern__mime_decoder *d, const void *in, size_t len,
			    struct tern__buf *out);
/* Flushes what is held. Returns as feed. */
int tern__mime_decoder_finish(struct tern__mime_decoder *d, struct tern__buf *out);

/* Case-insensitive search of UTF-8 text fed in pieces: simple case folding
 * of ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals
 * (a compromise: not full Unicode i;unicode-casemap). */
struct tern__mime_search {
	struct tern__buf needle; /* folded */
	struct tern__buf window; /* folded tail of the text, needle length - 1 */
	char partial[4];         /* an incomplete UTF-8 sequence between pieces */
	size_t npartial;
	int found;
};
/* Returns 0 or TERN_ENOMEM. An empty needle is found at once. */
int tern__mime_search_init(struct tern__mime_search *s, const char *needle, size_t len);
/* Returns 1 once found (further feeds are cheap), 0 not yet, TERN_ENOMEM. */
int tern__mime_search_feed(struct tern__mime_search *s, const char *text, size_t len);
void tern__mime_search_free(struct tern__mime_search *s);

#endif
