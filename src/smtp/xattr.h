/* The attribute list of Postfix's XCLIENT and XFORWARD commands:
 *   xclient-command  = XCLIENT 1*( SP attribute-name"="attribute-value )
 *   xforward-command = XFORWARD 1*( SP attribute-name"="attribute-value )
 *   attribute-value  = xtext
 * (XCLIENT_README, XFORWARD_README). A pure function of its input: no
 * session, no allocation, no I/O, so tests/fuzz/fuzz_xclient.c drives it
 * directly. Every value is xtext-decoded and validated here; the command
 * files only apply what this accepted, all of it or nothing. */
#ifndef TERN_SMTP_XATTR_H
#define TERN_SMTP_XATTR_H

#include <stdbool.h>
#include <stddef.h>

enum tern__xattr_cmd {
	TERN__XATTR_XCLIENT,
	TERN__XATTR_XFORWARD,
};

enum tern__xattr_id {
	TERN__XATTR_NAME,
	TERN__XATTR_ADDR,
	TERN__XATTR_PORT,
	TERN__XATTR_PROTO,
	TERN__XATTR_HELO,
	TERN__XATTR_LOGIN,    /* XCLIENT only */
	TERN__XATTR_DESTADDR, /* XCLIENT only */
	TERN__XATTR_DESTPORT, /* XCLIENT only */
	TERN__XATTR_IDENT,    /* XFORWARD only */
	TERN__XATTR_SOURCE,   /* XFORWARD only */
	TERN__XATTR_COUNT
};

/* Postfix refuses a value over 255 octets ("attribute value too long");
 * a valid NAME or HELO is at most that long anyway. */
#define TERN__XATTR_VALUE_MAX 255

struct tern__xattr_value {
	bool set;         /* the attribute was given (the last one counts) */
	/* "[UNAVAILABLE]", or for NAME also "[TEMPUNAVAIL]" (any case):
	 * the up-stream side does not know; text is then empty. */
	bool unavailable;
	/* The decoded value, NUL-terminated, no control characters. ADDR and
	 * DESTADDR without their "IPV6:" prefix (ipv6 says it was there);
	 * PROTO and SOURCE upper-cased. */
	char text[TERN__XATTR_VALUE_MAX + 1];
	bool ipv6;        /* ADDR, DESTADDR: an IPv6 address */
	unsigned port;    /* PORT, DESTPORT: 0..65535 */
};

struct tern__xattrs {
	struct tern__xattr_value v[TERN__XATTR_COUNT];
};

enum tern__xattr_error {
	TERN__XATTR_OK = 0,
	TERN__XATTR_EEMPTY,    /* no attribute at all */
	TERN__XATTR_ESYNTAX,   /* an element is not attribute=value, or the value is empty */
	TERN__XATTR_ETOOLONG,  /* a value over TERN__XATTR_VALUE_MAX octets */
	TERN__XATTR_EUNKNOWN,  /* an attribute name this command does not have */
	TERN__XATTR_EVALUE,    /* bad xtext, or a value its attribute does not allow */
};

/* Parses args[0..len) (the text after "XCLIENT "/"XFORWARD ") into *out,
 * which it clears first. Elements are separated by one or more spaces;
 * attribute names are case-insensitive. On an error, *bad_r (when not
 * NULL) gets the offending element's attribute name: its offset in args
 * in bad_r->off and length in bad_r->len (for EVALUE also its id). Returns
 * a tern__xattr_error. */
struct tern__xattr_bad {
	size_t off, len;
	enum tern__xattr_id id;
};
int tern__xattr_parse(enum tern__xattr_cmd cmd, const char *args, size_t len,
		      struct tern__xattrs *out, struct tern__xattr_bad *bad_r);

/* "NAME", "ADDR", ... */
const char *tern__xattr_name(enum tern__xattr_id id);

#endif
