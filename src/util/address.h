/* SMTP path and domain syntax (RFC 5321 4.1.2, 4.1.3; RFC 6531 for UTF-8).
 * Pure functions: no allocation, no I/O. */
#ifndef TERN_UTIL_ADDRESS_H
#define TERN_UTIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

enum tern__path_flags {
	TERN__PATH_ALLOW_NULL = 1 << 0,       /* "<>" is valid (MAIL FROM) */
	TERN__PATH_ALLOW_POSTMASTER = 1 << 1, /* "<postmaster>" without domain (RCPT TO) */
	TERN__PATH_ALLOW_UTF8 = 1 << 2,       /* RFC 6531 UTF-8 in local part and domain */
};

enum tern__path_error {
	TERN__PATH_OK = 0,
	TERN__PATH_ESYNTAX = -1,   /* not "<" ... ">" or a bad local part / domain */
	TERN__PATH_ECONTROL = -2,  /* a control character (C0, DEL) anywhere in it */
	TERN__PATH_EUTF8 = -3,     /* 8-bit bytes without ALLOW_UTF8, or invalid UTF-8 */
	TERN__PATH_ETOOLONG = -4,  /* local part > 64 or domain > 255 octets (RFC 5321 4.5.3.1) */
	TERN__PATH_ENULL = -5,     /* "<>" where not allowed */
};

/* Parses a path starting at in[0] == '<'. Source routes ("@a,@b:") are
 * skipped (RFC 5321 4.1.2 says to accept and ignore them). Quoted local parts
 * are kept quoted as sent; address literals ([1.2.3.4], [IPv6:...]) are
 * validated. The address (without brackets) goes to out as a NUL-terminated
 * string; out must hold at least len + 1 bytes. *consumed_r is the number of
 * bytes of in used, up to and including '>'. "<postmaster>" yields
 * "postmaster". Returns TERN__PATH_OK or a tern__path_error. */
int tern__path_parse(const char *in, size_t len, unsigned flags, char *out, size_t out_size,
		     size_t *consumed_r);

/* Checks a domain (dot-atom of LDH labels, or with utf8 also U-labels) or an
 * address literal in brackets. No trailing dot. */
bool tern__domain_valid(const char *s, size_t len, bool utf8);

/* HELO/EHLO argument: a domain or an address literal; we are lenient (as
 * Postfix is) and accept any printable non-space ASCII and UTF-8 up to 255
 * octets, but never control characters. */
bool tern__helo_name_valid(const char *s, size_t len);

/* True when s[0..len) contains a C0 control character or DEL. */
bool tern__has_control(const char *s, size_t len);

#endif
