/* Listen address parsing and resolution; see listen_addr.h for the forms. */
#include "net/listen_addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"

/* Longest host name we pass to the resolver (RFC 1035 2.3.4: 255 octets). */
#define HOST_MAX 255

static int parse_port(const char *s, unsigned *port_r)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return TERN_EADDR;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (i == 0 || v > 65535)
		return TERN_EADDR;
	*port_r = v;
	return 0;
}

static int add_addr(struct tern__listen_addr *la, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage *addrs;
	socklen_t *lens;

	if (len > sizeof(*addrs))
		return TERN_EADDR;
	/* getaddrinfo() may answer the same address twice (e.g. from
	 * /etc/hosts and DNS); binding it twice would fail with EADDRINUSE. */
	for (size_t i = 0; i < la->n; i++) {
		if (la->lens[i] == len && memcmp(&la->addrs[i], sa, len) == 0)
			return 0;
	}
	addrs = realloc(la->addrs, (la->n + 1) * sizeof(*addrs));
	if (addrs == NULL)
		return TERN_ENOMEM;
	la->addrs = addrs;
	lens = realloc(la->lens, (la->n + 1) * sizeof(*lens));
	if (lens == NULL)
		return TERN_ENOMEM;
	la->lens = lens;
	memset(&la->addrs[la->n], 0, sizeof(*addrs));
	memcpy(&la->addrs[la->n], sa, len);
	la->lens[la->n] = len;
	la->n++;
	return 0;
}

static int add_wildcard(struct tern__listen_addr *la)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	int err;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	sin.sin_port = htons((uint16_t)la->port);
	err = add_addr(la, (const struct sockaddr *)&sin, sizeof(sin));
	if (err != 0)
		return err;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_any;
	sin6.sin6_port = htons((uint16_t)la->port);
	la->wildcard = true;
	return add_addr(la, (const struct sockaddr *)&sin6, sizeof(sin6));
}

static int resolve(struct tern__listen_addr *la, const char *host, bool v6_literal)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
	hints.ai_family = v6_literal ? AF_INET6 : AF_UNSPEC;
	snprintf(port, sizeof(port), "%u", la->port);
	/* A literal is taken as is, without asking the resolver; only what is
	 * not a literal (and not in brackets) is looked up as a name. */
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		if (v6_literal)
			return TERN_EADDR;
		hints.ai_flags = AI_NUMERICSERV;
		if (getaddrinfo(host, port, &hints, &res) != 0)
			return TERN_EADDR;
	}
	for (ai = res; ai != NULL && err == 0; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		err = add_addr(la, ai->ai_addr, ai->ai_addrlen);
	}
	freeaddrinfo(res);
	if (err == 0 && la->n == 0)
		err = TERN_EADDR;
	return err;
}

int tern__listen_addr_parse(struct tern__listen_addr *la, const char *spec)
{
	char host[HOST_MAX + 1];
	const char *colon, *hstart;
	size_t hlen;
	bool v6 = false;
	int err;

	memset(la, 0, sizeof(*la));
	if (spec == NULL)
		return TERN_EADDR;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':')
			return TERN_EADDR;
		hstart = spec + 1;
		hlen = (size_t)(close - hstart);
		colon = close + 1;
		v6 = true;
		if (hlen == 0)
			return TERN_EADDR;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL)
			return TERN_EADDR;
		hstart = spec;
		hlen = (size_t)(colon - spec);
		/* "::1:25" could be [::1]:25 or [::]:125 ...: demand brackets. */
		if (memchr(hstart, ':', hlen) != NULL)
			return TERN_EADDR;
	}
	if (hlen > HOST_MAX)
		return TERN_EADDR;
	err = parse_port(colon + 1, &la->port);
	if (err != 0)
		return err;
	memcpy(host, hstart, hlen);
	host[hlen] = '\0';

	la->spec = strdup(spec);
	if (la->spec == NULL)
		return TERN_ENOMEM;
	if (!v6 && (hlen == 0 || strcmp(host, "*") == 0))
		err = add_wildcard(la);
	else
		err = resolve(la, host, v6);
	if (err != 0)
		tern__listen_addr_free(la);
	return err;
}

void tern__listen_addr_free(struct tern__listen_addr *la)
{
	free(la->spec);
	free(la->addrs);
	free(la->lens);
	memset(la, 0, sizeof(*la));
}

int tern__sockaddr_format(const struct sockaddr *sa, char *buf, size_t size, unsigned *port_r)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		*port_r = ntohs(sin->sin_port);
		return inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)size) ? 0 : TERN_EINVAL;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		*port_r = ntohs(sin6->sin6_port);
		/* A dual-stack socket (an embedder's, or bindv6only=0) reports
		 * IPv4 clients as ::ffff:a.b.c.d; show them as the IPv4
		 * address they are, so logs and policy see one form. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			return inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf, (socklen_t)size)
				       ? 0 : TERN_EINVAL;
		return inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)size) ? 0 : TERN_EINVAL;
	}
	return TERN_EINVAL;
}

void tern__sockaddr_format_full(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (tern__sockaddr_format(sa, host, sizeof(host), &port) != 0)
		snprintf(buf, size, "?");
	else if (strchr(host, ':') != NULL)
		snprintf(buf, size, "[%s]:%u", host, port);
	else
		snprintf(buf, size, "%s:%u", host, port);
}
