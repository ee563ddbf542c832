/* xtext (RFC 3461 section 4), used by ENVID=, ORCPT= and AUTH=:
 *   xtext   = *( xchar / hexchar )
 *   xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
 *             except for "+" and "=".
 *   hexchar = ASCII "+" immediately followed by two upper case
 *             hexadecimal digits */
#include "util/xtext.h"

#include <limits.h>
#include <stdbool.h>

static bool is_xchar(unsigned char c)
{
	return c >= 33 && c <= 126 && c != '+' && c != '=';
}

/* Upper-case hex only: RFC 3461 says "two upper case hexadecimal digits". */
static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

ssize_t tern__xtext_decode(const char *in, size_t len, char *out, size_t out_size)
{
	size_t o = 0;

	if (out == NULL || out_size == 0 || len > (size_t)SSIZE_MAX)
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '+') {
			int hi, lo;

			if (len - i < 3)
				return -1;
			hi = hex_value((unsigned char)in[i + 1]);
			lo = hex_value((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (!is_xchar(c)) {
			return -1;
		}
		/* Keep room for the terminating NUL. */
		if (o + 1 >= out_size)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (ssize_t)o;
}

ssize_t tern__xtext_encode(const char *in, size_t len, char *out, size_t out_size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (out == NULL || out_size == 0)
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (is_xchar(c)) {
			if (out_size - o < 2)
				return -1;
			out[o++] = (char)c;
		} else {
			if (out_size - o < 4)
				return -1;
			out[o++] = '+';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0x0f];
		}
	}
	if (o > (size_t)SSIZE_MAX)
		return -1;
	out[o] = '\0';
	return (ssize_t)o;
}
