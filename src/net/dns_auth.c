/* Resolver answers converted for the mail-authentication engines. */
#include "net/dns_auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Octets of data one record needs once converted (a NUL after text names
 * and TXT so that callers printing them stay safe; len excludes it). */
static size_t record_size(const struct tern__dns_answer *in, size_t i)
{
	switch (in->type) {
	case TERN__DNS_A:
	case TERN__DNS_AAAA:
		return 16;
	case TERN__DNS_MX:
		return strlen(in->mx[i].exchange) + 1;
	case TERN__DNS_PTR:
		return strlen(in->names[i]) + 1;
	default:
		return in->raw[i].len + 1;   /* joined strings are shorter than the rdata */
	}
}

/* RFC 1035 3.3.14: TXT-DATA is one or more <character-string>s, each a
 * length octet and that many octets. Joined without separator (RFC 7208
 * 3.3, RFC 6376 3.6.2.2). A length running past the end keeps what fits:
 * the resolver has already refused a malformed message. */
static size_t join_txt(unsigned char *out, const unsigned char *rdata, size_t len)
{
	size_t o = 0, i = 0;

	while (i < len) {
		size_t n = rdata[i++];

		if (n > len - i)
			n = len - i;
		memcpy(out + o, rdata + i, n);
		o += n;
		i += n;
	}
	return o;
}

int tern__dns_auth_from(struct tern__dns_auth *out, const struct tern__dns_answer *in)
{
	struct tern_dns_rr *rrs;
	unsigned char *data;
	size_t total = 0;

	memset(out, 0, sizeof(*out));
	out->answer.secure = in->security == TERN__DNS_SECURE;
	switch (in->status) {
	case TERN__DNS_ANSWER:
		break;
	case TERN__DNS_NXDOMAIN:
		out->answer.status = TERN_DNS_NXDOMAIN;
		return 0;
	case TERN__DNS_NODATA:
		out->answer.status = TERN_DNS_NODATA;
		return 0;
	default:
		out->answer.status = TERN_DNS_TEMPFAIL;
		out->answer.secure = false;
		return 0;
	}
	if (in->security == TERN__DNS_BOGUS) {
		out->answer.status = TERN_DNS_TEMPFAIL;
		return 0;
	}
	if (in->n == 0) {
		out->answer.status = TERN_DNS_NODATA;
		return 0;
	}
	for (size_t i = 0; i < in->n; i++)
		total += record_size(in, i);
	out->mem = malloc(in->n * sizeof(*rrs) + total);
	if (out->mem == NULL) {
		out->answer.status = TERN_DNS_TEMPFAIL;
		out->answer.secure = false;
		return TERN_ENOMEM;
	}
	rrs = out->mem;
	data = (unsigned char *)(rrs + in->n);
	for (size_t i = 0; i < in->n; i++) {
		struct tern_dns_rr *rr = &rrs[i];
		size_t n;

		memset(rr, 0, sizeof(*rr));
		rr->data = data;
		switch (in->type) {
		case TERN__DNS_A:
		case TERN__DNS_AAAA:
			n = in->addrs[i].family == AF_INET ? 4 : 16;
			memcpy(data, in->addrs[i].bytes, n);
			rr->len = n;
			data += 16;
			continue;
		case TERN__DNS_MX:
			n = strlen(in->mx[i].exchange);
			memcpy(data, in->mx[i].exchange, n + 1);
			rr->preference = in->mx[i].preference;
			break;
		case TERN__DNS_PTR:
			n = strlen(in->names[i]);
			memcpy(data, in->names[i], n + 1);
			break;
		case TERN__DNS_TXT:
			n = join_txt(data, in->raw[i].data, in->raw[i].len);
			data[n] = '\0';
			break;
		default:
			n = in->raw[i].len;
			memcpy(data, in->raw[i].data, n);
			data[n] = '\0';
			break;
		}
		rr->len = n;
		data += n + 1;
	}
	out->answer.status = TERN_DNS_FOUND;
	out->answer.rrs = rrs;
	out->answer.count = in->n;
	return 0;
}

void tern__dns_auth_clear(struct tern__dns_auth *out)
{
	free(out->mem);
	memset(out, 0, sizeof(*out));
}
