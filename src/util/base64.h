/* Strict base64 (RFC 4648 section 4, the standard alphabet, with padding),
 * as SASL exchanges carry it (RFC 4954 4, RFC 3501 6.2.2). */
#ifndef TERN_UTIL_BASE64_H
#define TERN_UTIL_BASE64_H

#include <stddef.h>
#include <sys/types.h>

/* Why a decode failed; the SMTP layer answers every one of them with
 * 501 5.5.2, but logs (and tests) tell them apart. */
enum tern__base64_error {
	TERN__BASE64_EALPHABET = -1, /* an octet outside A-Z a-z 0-9 + / = (whitespace too) */
	TERN__BASE64_ELENGTH = -2,   /* length not a multiple of 4 */
	TERN__BASE64_EPADDING = -3,  /* "=" anywhere but the last one or two places */
	TERN__BASE64_ETRAILING = -4, /* non-zero bits after the last whole octet */
	TERN__BASE64_ESPACE = -5,    /* out too small */
};

/* Encoded length of n octets, without a NUL: 4 * ceil(n / 3). */
#define TERN__BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/* Largest decoded length of n encoded octets. */
#define TERN__BASE64_DECODED_MAX(n) (((n) / 4) * 3)

/* Encodes in[0..len) into out, NUL-terminated. Returns the encoded length
 * or TERN__BASE64_ESPACE when out_size < TERN__BASE64_ENCODED_LEN(len) + 1. */
ssize_t tern__base64_encode(const void *in, size_t len, char *out, size_t out_size);

/* Decodes in[0..len) into out (not NUL-terminated; the result may hold
 * NUL octets). out_size >= TERN__BASE64_DECODED_MAX(len) always suffices.
 * Returns the decoded length or a negative enum tern__base64_error. An
 * empty input decodes to 0 octets. Nothing is accepted that a strict
 * encoder would not produce: no whitespace, no line breaks, no missing or
 * extra padding, no non-zero bits in the last character's unused part. */
ssize_t tern__base64_decode(const char *in, size_t len, void *out, size_t out_size);

/* A static name for a decode error, for logs. */
const char *tern__base64_strerror(int err);

#endif
