/* PROXY protocol v1 and v2 headers. See proxy.h; section numbers below are
 * those of haproxy/doc/proxy-protocol.txt. */
#include "net/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* 2.2: "\r\n\r\n\0\r\nQUIT\n". */
static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
				   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_prefix[] = "PROXY ";

enum {
	V2_CMD_LOCAL = 0x0,
	V2_CMD_PROXY = 0x1,
	V2_AF_UNSPEC = 0x0,
	V2_AF_INET = 0x1,
	V2_AF_INET6 = 0x2,
	V2_AF_UNIX = 0x3,
	V2_TP_UNSPEC = 0x0,
	V2_TP_STREAM = 0x1,
	V2_TP_DGRAM = 0x2,
	PP2_TYPE_AUTHORITY = 0x02,
	PP2_TYPE_SSL = 0x20,
	PP2_SUBTYPE_SSL_VERSION = 0x21,
	PP2_CLIENT_SSL = 0x01,
	PP2_CLIENT_CERT_CONN = 0x02,
	PP2_CLIENT_CERT_SESS = 0x04,
};

void tern__proxy_init(struct tern__proxy_parser *p)
{
	p->len = 0;
	p->need = 0;
	p->status = TERN__PROXY_MORE;
	p->reason = NULL;
	memset(&p->result, 0, sizeof(p->result));
}

static bool is_v2(const struct tern__proxy_parser *p)
{
	return p->len > 0 && p->buf[0] == v2_sig[0];
}

size_t tern__proxy_want(const struct tern__proxy_parser *p)
{
	if (p->status != TERN__PROXY_MORE)
		return 0;
	if (!is_v2(p))
		return TERN__PROXY_V1_MAX - p->len; /* also the first read */
	if (p->len < TERN__PROXY_V2_FIXED)
		return TERN__PROXY_V2_FIXED - p->len;
	return p->need - p->len;
}

static enum tern__proxy_status bad(struct tern__proxy_parser *p, const char *why)
{
	p->status = TERN__PROXY_BAD;
	p->reason = why;
	return TERN__PROXY_BAD;
}

static uint16_t be16(const uint8_t *b)
{
	return (uint16_t)((b[0] << 8) | b[1]);
}

/* Numeric text of a binary address; IPv4-mapped IPv6 as IPv4. */
static void format_addr(int family, const uint8_t *a, char out[TERN__PROXY_ADDR_STRLEN])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (family == AF_INET6 && memcmp(a, mapped, sizeof(mapped)) == 0) {
		family = AF_INET;
		a += 12;
	}
	if (inet_ntop(family, a, out, TERN__PROXY_ADDR_STRLEN) == NULL)
		out[0] = '\0'; /* cannot happen for AF_INET/AF_INET6 */
}

/* ---- version 1 ------------------------------------------------------- */

/* 2.1: a port is "0" or a decimal without leading zeros, 0..65535. */
static bool v1_port(const char *s, size_t len, unsigned *port_r)
{
	unsigned v = 0;

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port_r = v;
	return true;
}

/* An address field in the family the protocol word named; inet_pton is
 * strict (no leading zeros in IPv4, no zone ids in IPv6). */
static bool v1_addr(int family, const char *s, size_t len, char out[TERN__PROXY_ADDR_STRLEN])
{
	char text[TERN__PROXY_ADDR_STRLEN];
	uint8_t bin[16];

	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	if (inet_pton(family, text, bin) != 1)
		return false;
	format_addr(family, bin, out);
	return true;
}

/* The whole line is in buf (len octets, ending in CRLF). */
static enum tern__proxy_status v1_parse(struct tern__proxy_parser *p)
{
	const char *line = (const char *)p->buf + sizeof(v1_prefix) - 1;
	size_t n = p->len - (sizeof(v1_prefix) - 1) - 2; /* without "PROXY " and CRLF */
	struct tern__proxy_result *r = &p->result;
	const char *field[4];
	size_t flen[4], nf = 0;
	int family;

	r->version = 1;
	/* 2.1: "UNKNOWN" may be followed by anything up to the CRLF, which
	 * the receiver must ignore; the connection's own addresses stand. */
	if (n >= 7 && memcmp(line, "UNKNOWN", 7) == 0 && (n == 7 || line[7] == ' ')) {
		r->family = AF_UNSPEC;
		return p->status = TERN__PROXY_DONE;
	}
	if (n < 5 || (memcmp(line, "TCP4 ", 5) != 0 && memcmp(line, "TCP6 ", 5) != 0))
		return bad(p, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
	family = line[3] == '4' ? AF_INET : AF_INET6;
	line += 5;
	n -= 5;
	/* Exactly four fields, single spaces: an empty field is a doubled,
	 * leading or trailing space. */
	for (size_t start = 0, i = 0; i <= n; i++) {
		if (i < n && line[i] != ' ')
			continue;
		if (nf == 4)
			return bad(p, "v1: more than four fields after the protocol");
		field[nf] = line + start;
		flen[nf++] = i - start;
		start = i + 1;
	}
	if (nf != 4)
		return bad(p, "v1: fewer than four fields after the protocol");
	for (size_t i = 0; i < 4; i++)
		if (flen[i] == 0)
			return bad(p, "v1: fields must be separated by single spaces");
	if (!v1_addr(family, field[0], flen[0], r->src_addr))
		return bad(p, "v1: bad source address");
	if (!v1_addr(family, field[1], flen[1], r->dst_addr))
		return bad(p, "v1: bad destination address");
	if (!v1_port(field[2], flen[2], &r->src_port))
		return bad(p, "v1: bad source port");
	if (!v1_port(field[3], flen[3], &r->dst_port))
		return bad(p, "v1: bad destination port");
	r->family = family;
	return p->status = TERN__PROXY_DONE;
}

/* Takes octets up to the LF, checking each as it comes so that a peer that
 * is not speaking PROXY is refused at its first wrong octet. */
static enum tern__proxy_status v1_feed(struct tern__proxy_parser *p, const uint8_t *d,
				       size_t len, size_t *used_r)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = d[i];

		if (p->len == TERN__PROXY_V1_MAX)
			return bad(p, "v1: no CRLF within 107 octets");
		if (p->len < sizeof(v1_prefix) - 1) {
			if (c != (uint8_t)v1_prefix[p->len])
				return bad(p, "not a PROXY header");
		} else if (p->len > 0 && p->buf[p->len - 1] == '\r') {
			if (c != '\n')
				return bad(p, "v1: CR not followed by LF");
		} else if (c == '\n') {
			return bad(p, "v1: LF without CR");
		} else if (c != '\r' && (c < 0x20 || c > 0x7e)) {
			return bad(p, "v1: control or non-ASCII octet");
		}
		p->buf[p->len++] = c;
		if (c == '\n') {
			*used_r = i + 1;
			return v1_parse(p);
		}
	}
	*used_r = len;
	return TERN__PROXY_MORE;
}

/* ---- version 2 ------------------------------------------------------- */

static size_t v2_addr_len(unsigned af)
{
	switch (af) {
	case V2_AF_INET:
		return 12;
	case V2_AF_INET6:
		return 36;
	case V2_AF_UNIX:
		return 216;
	default:
		return 0;
	}
}

/* The fixed part is in: check it and learn the whole length. */
static enum tern__proxy_status v2_fixed(struct tern__proxy_parser *p)
{
	unsigned ver = p->buf[12] >> 4, cmd = p->buf[12] & 0xF;
	unsigned af = p->buf[13] >> 4, tp = p->buf[13] & 0xF;
	size_t len = be16(p->buf + 14), alen;

	if (ver != 2)
		return bad(p, "v2: version is not 2");
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return bad(p, "v2: command is neither LOCAL nor PROXY");
	/* 2.2: "other values are unspecified and must not be emitted ... and
	 * must be rejected as invalid by receivers" (for LOCAL the block is
	 * ignored, its family included). */
	if (cmd == V2_CMD_PROXY && (af > V2_AF_UNIX || tp > V2_TP_DGRAM ||
				    (af == V2_AF_UNSPEC) != (tp == V2_TP_UNSPEC)))
		return bad(p, "v2: unknown address family or transport");
	alen = cmd == V2_CMD_PROXY ? v2_addr_len(af) : 0;
	if (len < alen)
		return bad(p, "v2: length shorter than the address block");
	if (len - alen > TERN__PROXY_TLV_MAX)
		return bad(p, "v2: more TLVs than the limit (1024 octets)");
	p->need = TERN__PROXY_V2_FIXED + len;
	return TERN__PROXY_MORE;
}

static bool hostname_like(const uint8_t *v, size_t n)
{
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

static bool printable(const uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return false;
	return true;
}

/* Walks TLVs in [b, b+n): every one must fit. sub: inside PP2_TYPE_SSL. */
static bool v2_tlvs(struct tern__proxy_parser *p, const uint8_t *b, size_t n, bool sub)
{
	struct tern__proxy_result *r = &p->result;

	while (n > 0) {
		uint8_t type;
		size_t vlen;
		const uint8_t *v;

		if (n < 3)
			return false;
		type = b[0];
		vlen = be16(b + 1);
		if (vlen > n - 3)
			return false;
		v = b + 3;
		if (sub) {
			if (type == PP2_SUBTYPE_SSL_VERSION && vlen < sizeof(r->ssl_version) &&
			    printable(v, vlen)) {
				memcpy(r->ssl_version, v, vlen);
				r->ssl_version[vlen] = '\0';
			}
		} else if (type == PP2_TYPE_AUTHORITY) {
			if (hostname_like(v, vlen)) {
				memcpy(r->authority, v, vlen);
				r->authority[vlen] = '\0';
			}
		} else if (type == PP2_TYPE_SSL) {
			/* 2.2.5: client (1 octet), verify (4), sub-TLVs. */
			if (vlen < 5)
				return false;
			r->ssl = true;
			r->ssl_client_tls = (v[0] & PP2_CLIENT_SSL) != 0;
			r->ssl_client_cert = (v[0] & (PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS)) != 0;
			/* "zero if the client presented a certificate and it
			 * was successfully verified": zero alone says nothing. */
			r->ssl_cert_verified = r->ssl_client_cert &&
					       (v[1] | v[2] | v[3] | v[4]) == 0;
			if (!v2_tlvs(p, v + 5, vlen - 5, true))
				return false;
		}
		/* Others (ALPN, CRC32C, NOOP, UNIQUE_ID, NETNS, custom) are
		 * skipped. Deliberate compromise: the CRC32C is not checked;
		 * TCP's own checksum and the trusted peer cover us. */
		b += 3 + vlen;
		n -= 3 + vlen;
	}
	return true;
}

/* The whole header is in buf. */
static enum tern__proxy_status v2_parse(struct tern__proxy_parser *p)
{
	struct tern__proxy_result *r = &p->result;
	unsigned cmd = p->buf[12] & 0xF, af = p->buf[13] >> 4, tp = p->buf[13] & 0xF;
	const uint8_t *a = p->buf + TERN__PROXY_V2_FIXED;
	size_t alen = cmd == V2_CMD_PROXY ? v2_addr_len(af) : 0;

	r->version = 2;
	r->family = AF_UNSPEC;
	if (cmd == V2_CMD_LOCAL) {
		/* 2.2: "the receiver must accept this connection as valid and
		 * must use the real connection endpoints and discard the
		 * protocol block including the family which is ignored". */
		r->local = true;
		return p->status = TERN__PROXY_DONE;
	}
	if (tp == V2_TP_DGRAM)
		return bad(p, "v2: a datagram (UDP) client cannot be an SMTP client");
	if (af == V2_AF_INET) {
		r->family = AF_INET;
		format_addr(AF_INET, a, r->src_addr);
		format_addr(AF_INET, a + 4, r->dst_addr);
		r->src_port = be16(a + 8);
		r->dst_port = be16(a + 10);
	} else if (af == V2_AF_INET6) {
		r->family = AF_INET6;
		format_addr(AF_INET6, a, r->src_addr);
		format_addr(AF_INET6, a + 16, r->dst_addr);
		r->src_port = be16(a + 32);
		r->dst_port = be16(a + 34);
	}
	/* AF_UNSPEC and AF_UNIX: no address we could use; the socket's stand. */
	if (!v2_tlvs(p, a + alen, p->need - TERN__PROXY_V2_FIXED - alen, false)) {
		memset(r, 0, sizeof(*r));
		return bad(p, "v2: a TLV runs past the end of the header");
	}
	if (r->family == AF_INET6 && strchr(r->src_addr, ':') == NULL)
		r->family = AF_INET; /* a mapped address, written as IPv4 */
	return p->status = TERN__PROXY_DONE;
}

static enum tern__proxy_status v2_feed(struct tern__proxy_parser *p, const uint8_t *d,
				       size_t len, size_t *used_r)
{
	size_t used = 0;

	while (used < len) {
		size_t want = tern__proxy_want(p), take = len - used < want ? len - used : want;

		if (p->len < sizeof(v2_sig)) {
			/* Signature octets one by one: a wrong one ends it. */
			take = 1;
			if (d[used] != v2_sig[p->len])
				return bad(p, "not a PROXY header");
		}
		memcpy(p->buf + p->len, d + used, take);
		p->len += take;
		used += take;
		if (p->len == TERN__PROXY_V2_FIXED && p->need == 0 &&
		    v2_fixed(p) == TERN__PROXY_BAD)
			return TERN__PROXY_BAD;
		if (p->need != 0 && p->len == p->need) {
			*used_r = used;
			return v2_parse(p);
		}
	}
	*used_r = used;
	return TERN__PROXY_MORE;
}

enum tern__proxy_status tern__proxy_feed(struct tern__proxy_parser *p, const void *data,
					 size_t len, size_t *used_r)
{
	const uint8_t *d = data;
	enum tern__proxy_status st;
	size_t used = 0;

	*used_r = 0;
	if (p->status != TERN__PROXY_MORE)
		return p->status;
	if (len == 0)
		return TERN__PROXY_MORE;
	/* The first octet says which version: 'P' or the v2 signature's CR. */
	if (p->len == 0 && d[0] == v2_sig[0])
		st = v2_feed(p, d, len, &used);
	else if (p->len == 0 || !is_v2(p))
		st = v1_feed(p, d, len, &used);
	else
		st = v2_feed(p, d, len, &used);
	*used_r = st == TERN__PROXY_BAD ? 0 : used;
	return st;
}
