/* UTF-8 well-formedness (RFC 3629 section 4), shared by the parsers. */
#ifndef TERN_UTIL_UTF8_H
#define TERN_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the well-formed UTF-8 sequence at s[0..len) (no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0. ASCII octets give 1. */
size_t tern__utf8_seq_len(const unsigned char *s, size_t len);

/* True for a 2-octet sequence encoding a C1 control (U+0080..U+009F). */
static inline bool tern__utf8_is_c1(const unsigned char *s, size_t n)
{
	return n == 2 && s[0] == 0xc2 && s[1] <= 0x9f;
}

#endif
