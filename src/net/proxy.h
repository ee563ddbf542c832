/* The PROXY protocol, versions 1 and 2 (HAProxy's "The PROXY protocol",
 * haproxy/doc/proxy-protocol.txt): the header a load balancer puts before
 * the first octet of a proxied connection to say who the client really is.
 *
 * Sans-I/O: the net layer feeds the first octets of a connection, in as many
 * pieces as they arrive, and the parser answers "more", "done" or "bad". It
 * takes only octets that belong to the header: on "done", *used_r ends
 * exactly where the header ends, and whatever follows (a TLS ClientHello,
 * an SMTP command) is the protocol's. A header never exceeds
 * TERN__PROXY_HEADER_MAX octets, so a peer cannot make us hold more.
 *
 * Only peers the server trusts (tern_smtp_options.proxy_from) are parsed:
 * the header is believed as it comes, so it must never be accepted from
 * the internet. */
#ifndef TERN_NET_PROXY_H
#define TERN_NET_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Spec 2.1: "a 108-byte buffer is always enough to store all the line and a
 * trailing zero": the line with its CRLF is at most 107 octets. */
#define TERN__PROXY_V1_MAX 107
/* Spec 2.2: signature (12), version and command, family, length (16 in all). */
#define TERN__PROXY_V2_FIXED 16
/* The largest address block: AF_UNIX, two 108-octet paths. */
#define TERN__PROXY_V2_ADDR_MAX 216
/* TLVs we accept after the address block. HAProxy sends a few dozen octets
 * (SSL facts, SNI, a unique id); more than this is refused, not skipped. */
#define TERN__PROXY_TLV_MAX 1024
#define TERN__PROXY_V2_MAX (TERN__PROXY_V2_FIXED + TERN__PROXY_V2_ADDR_MAX + TERN__PROXY_TLV_MAX)
#define TERN__PROXY_HEADER_MAX TERN__PROXY_V2_MAX

/* Room for a numeric IPv6 address with its NUL (INET6_ADDRSTRLEN). */
#define TERN__PROXY_ADDR_STRLEN 46

enum tern__proxy_status {
	TERN__PROXY_MORE = 0, /* every octet fed was taken; feed more */
	TERN__PROXY_DONE = 1, /* the header is complete: see p->result */
	TERN__PROXY_BAD = -1, /* not a valid header: see p->reason */
};

/* What a complete header says. Strings are NUL-terminated, "" when absent. */
struct tern__proxy_result {
	unsigned version; /* 1 or 2 */
	/* v2 LOCAL: the proxy's own connection (a health check). The
	 * connection's own addresses stand. */
	bool local;
	/* AF_INET or AF_INET6: src/dst below are the client's and the
	 * address it connected to. AF_UNSPEC: the proxy does not know
	 * (v1 UNKNOWN, v2 UNSPEC or AF_UNIX, and every LOCAL header): keep
	 * the socket's addresses. */
	int family;
	/* Numeric text; an IPv4-mapped IPv6 address is written as IPv4, as
	 * the net layer writes socket addresses. */
	char src_addr[TERN__PROXY_ADDR_STRLEN];
	char dst_addr[TERN__PROXY_ADDR_STRLEN];
	unsigned src_port, dst_port;
	/* PP2_TYPE_SSL (v2 only): what the proxy knows of the client's TLS. */
	bool ssl;             /* the TLV was present */
	bool ssl_client_tls;  /* PP2_CLIENT_SSL: the client spoke TLS to the proxy */
	bool ssl_client_cert; /* PP2_CLIENT_CERT_CONN/SESS: it sent a certificate */
	bool ssl_cert_verified; /* ... and verify was 0: it chained */
	char ssl_version[32]; /* PP2_SUBTYPE_SSL_VERSION ("TLSv1.3") if printable */
	/* PP2_TYPE_AUTHORITY: the name the client asked for (SNI), kept only
	 * when it is a plausible host name (letters, digits, '-', '.', '_'). */
	char authority[256];
};

struct tern__proxy_parser {
	size_t len;         /* octets of the header held in buf */
	size_t need;        /* v2: the whole header's length, once known */
	enum tern__proxy_status status;
	const char *reason; /* after BAD: why, a static string */
	struct tern__proxy_result result; /* after DONE */
	uint8_t buf[TERN__PROXY_HEADER_MAX];
};

void tern__proxy_init(struct tern__proxy_parser *p);

/* At most how many octets the parser can still take before it must decide
 * (the net layer peeks this many from the socket, never more). */
size_t tern__proxy_want(const struct tern__proxy_parser *p);

/* Feeds len octets. *used_r gets how many belong to the header: all of
 * them on MORE, those up to the header's end on DONE, and 0 on BAD. Once
 * DONE or BAD, further feeds return the same status and use nothing. */
enum tern__proxy_status tern__proxy_feed(struct tern__proxy_parser *p, const void *data,
					 size_t len, size_t *used_r);

#endif
