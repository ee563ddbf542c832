/* XCLIENT and XFORWARD state of a session, shared by cmd_xclient.c and
 * cmd_xforward.c. The rest of the engine sees only the functions declared
 * in session.h. */
#ifndef TERN_SMTP_XCLIENT_H
#define TERN_SMTP_XCLIENT_H

#include "smtp/session.h"
#include "smtp/xattr.h"

enum tern__xtrust {
	TERN__XTRUST_UNKNOWN = 0, /* not looked up yet */
	TERN__XTRUST_NO,
	TERN__XTRUST_YES,
};

struct tern__smtp_xstate {
	/* Decided once, from the address the connection came from: "Access
	 * control is cached, so that XCLIENT can't override its own access
	 * control" (Postfix smtpd.c). Both are looked up before the first
	 * XCLIENT changes the session's address. */
	enum tern__xtrust xclient, xforward;

	/* After an XCLIENT that named the client: "NAME [ADDR]" for the
	 * Received: header (RFC 5321 4.4 TCP-info); NULL otherwise. */
	char *xclient_received;

	/* XFORWARD attributes since the last reset; pub points into the
	 * strings below. */
	bool xf_any;
	tern_smtp_xforward xf;
	char *xf_name, *xf_addr, *xf_proto, *xf_helo, *xf_ident;
	bool xf_ipv6;
	char *xf_received; /* "NAME [ADDR]", "NAME" or "[ADDR]"; NULL: neither */
};

/* The gate and parse both commands share: 502 when no network may use
 * the command, 550 5.7.0 for an untrusted client, 503 5.5.1 inside a
 * transaction, 501 5.5.4 for bad attributes. Returns false after replying;
 * true with *a filled. */
bool tern__smtp_xcommand_parse(tern_smtp_session *s, enum tern__xattr_cmd cmd, const char *args,
			       size_t len, struct tern__xattrs *a);

/* The session's state, created on first use; NULL when out of memory. */
struct tern__smtp_xstate *tern__smtp_xstate_get(tern_smtp_session *s);

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 4.1.3) into a new string;
 * NULL when out of memory. */
char *tern__smtp_address_literal(const char *addr, bool ipv6);

#endif
