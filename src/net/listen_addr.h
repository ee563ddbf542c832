/* Listen addresses: "HOST:PORT" strings resolved to socket addresses.
 *
 * Accepted forms (PORT is decimal 0..65535; 0 asks the kernel for a port):
 *   "127.0.0.1:2525"   an IPv4 literal
 *   "[::1]:2525"       an IPv6 literal, always in brackets
 *   "localhost:2525"   a host name: every address getaddrinfo() returns for
 *                      it is bound (so "localhost" usually means both
 *                      127.0.0.1 and ::1)
 *   ":2525", "*:2525"  every address: 0.0.0.0 and [::] as two sockets, the
 *                      IPv6 one with IPV6_V6ONLY, so that both families are
 *                      bound the same way on every system whatever
 *                      net.ipv6.bindv6only says, and a host without IPv6
 *                      still gets its IPv4 listener.
 * A bare IPv6 literal without brackets ("::1:25") is refused: it is
 * ambiguous. Names are resolved once, when the address is added. */
#ifndef TERN_NET_LISTEN_ADDR_H
#define TERN_NET_LISTEN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Enough for "[" + an IPv6 text form (INET6_ADDRSTRLEN incl. NUL) + "]:65535". */
#define TERN__SOCKADDR_STRLEN 64

struct tern__listen_addr {
	char *spec;                      /* the string as given (for logs); owned */
	bool wildcard;                   /* ":PORT": an IPv6 failure is not fatal */
	unsigned port;                   /* as given; 0 = kernel's choice */
	size_t n;                        /* number of socket addresses, >= 1 */
	struct sockaddr_storage *addrs;  /* owned */
	socklen_t *lens;                 /* owned */
};

/* Parses and resolves spec. On success fills *la (free with
 * tern__listen_addr_free) and returns 0; otherwise TERN_EADDR (syntax, or the
 * name does not resolve) or TERN_ENOMEM, and *la is left empty. */
int tern__listen_addr_parse(struct tern__listen_addr *la, const char *spec);

void tern__listen_addr_free(struct tern__listen_addr *la);

/* Numeric text form of sa's host part ("127.0.0.1", "::1"; IPv4-mapped IPv6
 * addresses are shown as IPv4) into buf, and its port into *port_r. Returns
 * 0, or TERN_EINVAL for an unknown family or a too-small buffer. */
int tern__sockaddr_format(const struct sockaddr *sa, char *buf, size_t size, unsigned *port_r);

/* "127.0.0.1:25" / "[::1]:25" for log lines; never fails (writes "?"). */
void tern__sockaddr_format_full(const struct sockaddr *sa, char *buf, size_t size);

#endif
