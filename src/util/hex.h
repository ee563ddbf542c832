/* Hexadecimal digits. */
#ifndef TERN_UTIL_HEX_H
#define TERN_UTIL_HEX_H

/* The value of one hex digit of either case, or -1. (xtext has its own,
 * upper-case only, as RFC 3461 wants.) */
static inline int tern__hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
