/* libFuzzer target for the PROXY protocol header parser (net/proxy.h).
 * Besides memory safety it checks what the net layer relies on, and traps
 * when one breaks: the parser never takes an octet past the header nor more
 * than TERN__PROXY_HEADER_MAX, never asks for more than that, feeding in
 * slices gives the same answer as feeding whole, and a result carries only
 * addresses inet_pton takes back and printable TLV text. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

/* Feeds in slices of step (the first octet of the input picks it) and
 * returns the status and octets taken. */
static enum tern__proxy_status run(struct tern__proxy_parser *p, const uint8_t *in, size_t size,
				   size_t step, size_t *taken_r)
{
	enum tern__proxy_status st = TERN__PROXY_MORE;
	size_t off = 0;

	tern__proxy_init(p);
	while (off < size && st == TERN__PROXY_MORE) {
		size_t want = tern__proxy_want(p), n = size - off, used = 0;

		CHECK(want > 0 && want <= TERN__PROXY_HEADER_MAX);
		if (n > step)
			n = step;
		/* The net layer never offers more than want (the whole
		 * run offers everything, to see that only the header is
		 * taken). */
		if (step != SIZE_MAX && n > want)
			n = want;
		st = tern__proxy_feed(p, in + off, n, &used);
		CHECK(used <= n);
		if (st == TERN__PROXY_MORE)
			CHECK(used == n);
		if (st == TERN__PROXY_BAD)
			CHECK(used == 0 && p->reason != NULL);
		off += used;
		CHECK(p->len == off || st == TERN__PROXY_BAD);
	}
	*taken_r = off;
	return st;
}

static void check_addr(int family, const char *text)
{
	uint8_t bin[16];

	CHECK(strlen(text) < TERN__PROXY_ADDR_STRLEN);
	/* A mapped IPv6 address is written as IPv4: either parses. */
	CHECK(inet_pton(AF_INET, text, bin) == 1 || inet_pton(AF_INET6, text, bin) == 1);
	(void)family;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tern__proxy_parser a, b;
	size_t step, ta, tb;
	uint8_t *in;
	enum tern__proxy_status sa, sb;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] % 17) + 1;
	data++;
	size--;
	/* A private copy of exactly size octets: an over-read is caught. */
	in = malloc(size ? size : 1);
	if (in == NULL)
		return 0;
	memcpy(in, data, size);
	sa = run(&a, in, size, SIZE_MAX, &ta);
	sb = run(&b, in, size, step, &tb);
	CHECK(sa == sb);
	CHECK(ta <= TERN__PROXY_HEADER_MAX);
	if (sa == TERN__PROXY_DONE) {
		const struct tern__proxy_result *r = &a.result;

		CHECK(ta == tb);
		CHECK(memcmp(&a.result, &b.result, sizeof(a.result)) == 0);
		CHECK(r->version == 1 || r->version == 2);
		CHECK(ta <= (r->version == 1 ? TERN__PROXY_V1_MAX : TERN__PROXY_V2_MAX));
		CHECK(!r->local || r->family == AF_UNSPEC);
		if (r->family != AF_UNSPEC) {
			CHECK(r->family == AF_INET || r->family == AF_INET6);
			check_addr(r->family, r->src_addr);
			check_addr(r->family, r->dst_addr);
			CHECK(r->src_port <= 65535 && r->dst_port <= 65535);
		} else {
			CHECK(r->src_addr[0] == '\0' && r->dst_addr[0] == '\0');
		}
		CHECK(printable(r->authority) && printable(r->ssl_version));
		CHECK(!r->ssl_cert_verified || r->ssl_client_cert);
		if (r->version == 1)
			CHECK(in[ta - 2] == '\r' && in[ta - 1] == '\n');
	} else if (sa == TERN__PROXY_MORE) {
		/* Everything offered was header: a longer input decides. */
		CHECK(ta == size && tb == size);
	}
	free(in);
	return 0;
}
