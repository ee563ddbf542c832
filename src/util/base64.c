/* Strict base64 (RFC 4648 4).
 *
 * Why not OpenSSL's EVP_DecodeBlock/EVP_DecodeUpdate: they skip whitespace
 * (and EVP_DecodeUpdate line breaks and a "-" soft end), EVP_DecodeBlock
 * counts "=" padding as zero octets the caller must strip by guessing, and
 * neither reports padding mistakes or non-zero trailing bits. SASL needs
 * the opposite: one canonical spelling per message, and a precise reason
 * when a client breaks it (RFC 4954 4: "If the client ... sends a response
 * that is not valid base64, the server MUST reject the AUTH command with
 * 501"). RFC 4648 3.5 lets a decoder reject non-zero pad bits ("MAY ...
 * reject an encoding if the pad bits have not been set to zero"); we do, so
 * that one message has one encoding. */
#include "util/base64.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

ssize_t tern__base64_encode(const void *in, size_t len, char *out, size_t out_size)
{
	const unsigned char *p = in;
	size_t o = 0;

	if (len > ((size_t)SSIZE_MAX / 4) * 3 - 3 || out == NULL ||
	    out_size < TERN__BASE64_ENCODED_LEN(len) + 1)
		return TERN__BASE64_ESPACE;
	for (size_t i = 0; i < len; i += 3) {
		size_t left = len - i;
		uint32_t v = (uint32_t)p[i] << 16;

		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = left > 1 ? alphabet[v >> 6 & 63] : '=';
		out[o++] = left > 2 ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return (ssize_t)o;
}

static int value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

ssize_t tern__base64_decode(const char *in, size_t len, void *out, size_t out_size)
{
	unsigned char *q = out;
	size_t o = 0;

	/* Characters are checked before the length, so that "a b=" says
	 * "alphabet", the more useful of the two reasons. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c != '=' && value(c) < 0)
			return TERN__BASE64_EALPHABET;
	}
	if (len % 4 != 0)
		return TERN__BASE64_ELENGTH;
	if (len > (size_t)SSIZE_MAX)
		return TERN__BASE64_ESPACE;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int v[4];
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];

			if (c == '=') {
				/* RFC 4648 3.2/4: "=" only as the final one or
				 * two characters of the whole input. */
				if (!last || k < 2)
					return TERN__BASE64_EPADDING;
				pad++;
				v[k] = 0;
			} else {
				if (pad > 0) /* "x=x" */
					return TERN__BASE64_EPADDING;
				v[k] = value(c);
			}
		}
		/* RFC 4648 3.5: the unused low bits of the last character must
		 * be zero for a canonical encoding. */
		if ((pad == 1 && (v[2] & 3) != 0) || (pad == 2 && (v[1] & 15) != 0))
			return TERN__BASE64_ETRAILING;
		size_t n = 3 - (size_t)pad;
		if (out == NULL || out_size - o < n)
			return TERN__BASE64_ESPACE;
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		q[o++] = (unsigned char)(w >> 16);
		if (n > 1)
			q[o++] = (unsigned char)(w >> 8 & 0xff);
		if (n > 2)
			q[o++] = (unsigned char)(w & 0xff);
	}
	return (ssize_t)o;
}

const char *tern__base64_strerror(int err)
{
	switch (err) {
	case TERN__BASE64_EALPHABET: return "character outside the base64 alphabet";
	case TERN__BASE64_ELENGTH: return "base64 length not a multiple of 4";
	case TERN__BASE64_EPADDING: return "misplaced base64 padding";
	case TERN__BASE64_ETRAILING: return "non-zero bits after the last base64 octet";
	case TERN__BASE64_ESPACE: return "base64 output does not fit";
	default: return "unknown base64 error";
	}
}
