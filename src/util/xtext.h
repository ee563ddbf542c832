/* xtext (RFC 3461 section 4): "+" followed by two upper-case hex digits
 * encodes one octet; other octets are printable ASCII 33..126 except "+"
 * and "=". */
#ifndef TERN_UTIL_XTEXT_H
#define TERN_UTIL_XTEXT_H

#include <stddef.h>
#include <sys/types.h>

/* Decodes in[0..len) to out (NUL-terminated; out_size >= len + 1 always
 * suffices). Returns the decoded length, or -1 when the input is not valid
 * xtext (bad character, bad or lower-case hex, truncated "+X"). The decoded
 * bytes may contain anything, including NUL and CR: callers check. */
ssize_t tern__xtext_decode(const char *in, size_t len, char *out, size_t out_size);

/* Encodes in[0..len) as xtext into out (NUL-terminated). Returns the encoded
 * length, or -1 when out_size is too small (3 * len + 1 always suffices). */
ssize_t tern__xtext_encode(const char *in, size_t len, char *out, size_t out_size);

#endif
