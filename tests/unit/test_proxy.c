/* PROXY protocol header parser (src/net/proxy.c). Every case runs whole,
 * one byte at a time and in 3-byte slices, followed by octets that are not
 * the header's (which the parser must leave alone). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "net/proxy.h"

#define SIG "\r\n\r\n\0\r\nQUIT\n"

struct pcase {
	const char *name;
	const char *in;
	size_t len;        /* 0: strlen(in) */
	int status;        /* DONE, BAD, or MORE (truncated) */
	int family;
	const char *src, *dst;
	unsigned sport, dport;
	bool local;
	const char *authority;
	const char *ssl_version;
	bool ssl_tls, ssl_verified;
};

static const struct pcase cases[] = {
	/* ---- v1 ---- */
	{.name = "v1 tcp4", .in = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n", .status = TERN__PROXY_DONE, .family = AF_INET,
	 .src = "192.0.2.1", .dst = "198.51.100.2", .sport = 56324, .dport = 25},
	{.name = "v1 tcp6", .in = "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", .status = TERN__PROXY_DONE,
	 .family = AF_INET6, .src = "2001:db8::1", .dst = "2001:db8::2", .sport = 1, .dport = 65535},
	{.name = "v1 tcp6 mapped", .in = "PROXY TCP6 ::ffff:192.0.2.9 ::1 0 25\r\n", .status = TERN__PROXY_DONE,
	 .family = AF_INET6, .src = "192.0.2.9", .dst = "::1", .sport = 0, .dport = 25},
	{.name = "v1 unknown", .in = "PROXY UNKNOWN\r\n", .status = TERN__PROXY_DONE, .family = AF_UNSPEC},
	{.name = "v1 unknown with rest", .in = "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", .status = TERN__PROXY_DONE,
	 .family = AF_UNSPEC},
	{.name = "v1 longest",
	 .in = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
	 " 65535 65535\r\n",
	 .status = TERN__PROXY_DONE, .family = AF_INET6, .src = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	 .dst = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .sport = 65535, .dport = 65535},
	{.name = "v1 truncated", .in = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r", .status = TERN__PROXY_MORE},
	{.name = "v1 truncated early", .in = "PROX", .status = TERN__PROXY_MORE},
	{.name = "v1 too long",
	 .in = "PROXY UNKNOWN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n",
	 .status = TERN__PROXY_BAD},
	{.name = "v1 no crlf in 107",
	 .in = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	 .status = TERN__PROXY_BAD},
	{.name = "v1 smtp instead", .in = "EHLO client.example\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 lowercase", .in = "proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 bare lf", .in = "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n", .status = TERN__PROXY_BAD},
	{.name = "v1 cr in middle", .in = "PROXY TCP4 192.0.2.1\r198.51.100.2 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 tcp5", .in = "PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 udp4", .in = "PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 unknownx", .in = "PROXY UNKNOWNX\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 empty", .in = "PROXY \r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 double space", .in = "PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 trailing space", .in = "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 junk field", .in = "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 junk\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 three fields", .in = "PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 v6 in tcp4", .in = "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 v4 in tcp6", .in = "PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 short v4", .in = "PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 v4 leading zero", .in = "PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 v4 octet 256", .in = "PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 host name", .in = "PROXY TCP4 example.com 198.51.100.2 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 v6 zone", .in = "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 port 65536", .in = "PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 port leading zero", .in = "PROXY TCP4 192.0.2.1 198.51.100.2 025 2\r\n", 
	 .status = TERN__PROXY_BAD},
	{.name = "v1 port 00", .in = "PROXY TCP4 192.0.2.1 198.51.100.2 1 00\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 port sign", .in = "PROXY TCP4 192.0.2.1 198.51.100.2 +1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 port hex", .in = "PROXY TCP4 192.0.2.1 198.51.100.2 0x19 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 port long", .in = "PROXY TCP4 192.0.2.1 198.51.100.2 123456 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 tab", .in = "PROXY TCP4\t192.0.2.1 198.51.100.2 1 2\r\n", .status = TERN__PROXY_BAD},
	{.name = "v1 nul", .in = "PROXY TCP4 192.0.2.1\0" "198.51.100.2 1 2\r\n", .len = sizeof("PROXY TCP4 192.0.2.1\0" "198.51.100.2 1 2\r\n") - 1, .status = TERN__PROXY_BAD},
	{.name = "v1 high octet", .in = "PROXY UNKNOWN \xc3\xa9\r\n", .status = TERN__PROXY_BAD},

	/* ---- v2 ---- */
	{.name = "v2 tcp4", .in = SIG "\x21\x11\x00\x0c"
			    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19", .len = sizeof(SIG "\x21\x11\x00\x0c"
			    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19") - 1,
	 .status = TERN__PROXY_DONE, .family = AF_INET, .src = "192.0.2.1", .dst = "198.51.100.2", .sport = 56324, .dport = 25},
	{.name = "v2 tcp6", .in = SIG "\x21\x21\x00\x24"
			    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
			    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02" "\x00\x01" "\xff\xff", .len = sizeof(SIG "\x21\x21\x00\x24"
			    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
			    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02" "\x00\x01" "\xff\xff") - 1,
	 .status = TERN__PROXY_DONE, .family = AF_INET6, .src = "2001:db8::1", .dst = "2001:db8::2", .sport = 1, .dport = 65535},
	{.name = "v2 tcp6 mapped", .in = SIG "\x21\x21\x00\x24"
				   "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x07"
				   "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" "\x00\x01" "\x00\x19", .len = sizeof(SIG "\x21\x21\x00\x24"
				   "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x07"
				   "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" "\x00\x01" "\x00\x19") - 1,
	 .status = TERN__PROXY_DONE, .family = AF_INET, .src = "192.0.2.7", .dst = "::1", .sport = 1, .dport = 25},
	{.name = "v2 local", .in = SIG "\x20\x00\x00\x00", .len = sizeof(SIG "\x20\x00\x00\x00") - 1, .status = TERN__PROXY_DONE, .family = AF_UNSPEC, .src = NULL, .dst = NULL, .sport = 0, .dport = 0,
	 .local = true},
	{.name = "v2 local with block", .in = SIG "\x20\x11\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02"
					"\xdc\x04\x00\x19", .len = sizeof(SIG "\x20\x11\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02"
					"\xdc\x04\x00\x19") - 1,
	 .status = TERN__PROXY_DONE, .family = AF_UNSPEC, .src = NULL, .dst = NULL, .sport = 0, .dport = 0, .local = true},
	{.name = "v2 unspec", .in = SIG "\x21\x00\x00\x00", .len = sizeof(SIG "\x21\x00\x00\x00") - 1, .status = TERN__PROXY_DONE, .family = AF_UNSPEC},
	{.name = "v2 tcp4 with tlvs",
	 .in = SIG "\x21\x11\x00\x47"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19"
		 /* AUTHORITY "mx.example" */
		 "\x02\x00\x0a" "mx.example"
		 /* SSL: client SSL|CERT_CONN, verify 0, VERSION "TLSv1.3", CN "c" */
		 "\x20\x00\x13" "\x03" "\x00\x00\x00\x00"
		 "\x21\x00\x07" "TLSv1.3" "\x22\x00\x01" "c"
		 /* NOOP 3, CRC32C (ignored), custom 0xE0 */
		 "\x04\x00\x03" "\0\0\0" "\x03\x00\x04" "\x01\x02\x03\x04"
		 "\xe0\x00\x02" "hi" "\x05\x00\x03" "id1", .len = sizeof(SIG "\x21\x11\x00\x47"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19"
		 /* AUTHORITY "mx.example" */
		 "\x02\x00\x0a" "mx.example"
		 /* SSL: client SSL|CERT_CONN, verify 0, VERSION "TLSv1.3", CN "c" */
		 "\x20\x00\x13" "\x03" "\x00\x00\x00\x00"
		 "\x21\x00\x07" "TLSv1.3" "\x22\x00\x01" "c"
		 /* NOOP 3, CRC32C (ignored), custom 0xE0 */
		 "\x04\x00\x03" "\0\0\0" "\x03\x00\x04" "\x01\x02\x03\x04"
		 "\xe0\x00\x02" "hi" "\x05\x00\x03" "id1") - 1,
	 .status = TERN__PROXY_DONE, .family = AF_INET, .src = "192.0.2.1", .dst = "198.51.100.2", .sport = 56324, .dport = 25, .local = false, .authority = "mx.example",
	 .ssl_version = "TLSv1.3", .ssl_tls = true, .ssl_verified = true},
	{.name = "v2 ssl unverified",
	 .in = SIG "\x21\x11\x00\x14"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19"
		 "\x20\x00\x05" "\x01" "\x00\x00\x00\x00", .len = sizeof(SIG "\x21\x11\x00\x14"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19"
		 "\x20\x00\x05" "\x01" "\x00\x00\x00\x00") - 1,
	 .status = TERN__PROXY_DONE, .family = AF_INET, .src = "192.0.2.1", .dst = "198.51.100.2", .sport = 56324, .dport = 25, .local = false, .authority = "", .ssl_version = "", .ssl_tls = true,
	 .ssl_verified = false},
	{.name = "v2 authority not a name",
	 .in = SIG "\x21\x11\x00\x13"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19"
		 "\x02\x00\x04" "a\r\nb", .len = sizeof(SIG "\x21\x11\x00\x13"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19"
		 "\x02\x00\x04" "a\r\nb") - 1,
	 .status = TERN__PROXY_DONE, .family = AF_INET, .src = "192.0.2.1", .dst = "198.51.100.2", .sport = 56324, .dport = 25, .local = false, .authority = ""},
	{.name = "v2 truncated fixed", .in = SIG "\x21\x11\x00", .len = sizeof(SIG "\x21\x11\x00") - 1, .status = TERN__PROXY_MORE},
	{.name = "v2 truncated sig", .in = "\r\n\r\n\0\r", .len = sizeof("\r\n\r\n\0\r") - 1, .status = TERN__PROXY_MORE},
	{.name = "v2 truncated block", .in = SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01\xc6", .len = sizeof(SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01\xc6") - 1,
	 .status = TERN__PROXY_MORE},
	{.name = "v2 wrong signature", .in = "\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x00", .len = sizeof("\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x00") - 1, .status = TERN__PROXY_BAD},
	{.name = "v2 version 1", .in = SIG "\x11\x11\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04"
				 "\x00\x19", .len = sizeof(SIG "\x11\x11\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04"
				 "\x00\x19") - 1,
	 .status = TERN__PROXY_BAD},
	{.name = "v2 version 3", .in = SIG "\x31\x11\x00\x0c", .len = sizeof(SIG "\x31\x11\x00\x0c") - 1, .status = TERN__PROXY_BAD},
	{.name = "v2 command 2", .in = SIG "\x22\x11\x00\x0c", .len = sizeof(SIG "\x22\x11\x00\x0c") - 1, .status = TERN__PROXY_BAD},
	{.name = "v2 family 4", .in = SIG "\x21\x41\x00\x0c", .len = sizeof(SIG "\x21\x41\x00\x0c") - 1, .status = TERN__PROXY_BAD},
	{.name = "v2 transport 3", .in = SIG "\x21\x13\x00\x0c", .len = sizeof(SIG "\x21\x13\x00\x0c") - 1, .status = TERN__PROXY_BAD},
	{.name = "v2 inet unspec transport", .in = SIG "\x21\x10\x00\x0c", .len = sizeof(SIG "\x21\x10\x00\x0c") - 1, .status = TERN__PROXY_BAD},
	{.name = "v2 udp", .in = SIG "\x21\x12\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19", .len = sizeof(SIG "\x21\x12\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19") - 1,
	 .status = TERN__PROXY_BAD},
	{.name = "v2 length short of block", .in = SIG "\x21\x11\x00\x0b", .len = sizeof(SIG "\x21\x11\x00\x0b") - 1, .status = TERN__PROXY_BAD},
	{.name = "v2 length short of v6 block", .in = SIG "\x21\x21\x00\x0c", .len = sizeof(SIG "\x21\x21\x00\x0c") - 1, .status = TERN__PROXY_BAD},
	{.name = "v2 oversized", .in = SIG "\x21\x11\x04\x0d", .len = sizeof(SIG "\x21\x11\x04\x0d") - 1, .status = TERN__PROXY_BAD},
	{.name = "v2 length 65535", .in = SIG "\x21\x11\xff\xff", .len = sizeof(SIG "\x21\x11\xff\xff") - 1, .status = TERN__PROXY_BAD},
	{.name = "v2 tlv overrun",
	 .in = SIG "\x21\x11\x00\x12"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19"
		 "\x02\x00\x04" "mx.", .len = sizeof(SIG "\x21\x11\x00\x12"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19"
		 "\x02\x00\x04" "mx.") - 1,
	 .status = TERN__PROXY_BAD},
	{.name = "v2 tlv header cut",
	 .in = SIG "\x21\x11\x00\x0e"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19" "\x02\x00", .len = sizeof(SIG "\x21\x11\x00\x0e"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19" "\x02\x00") - 1,
	 .status = TERN__PROXY_BAD},
	{.name = "v2 ssl too short",
	 .in = SIG "\x21\x11\x00\x13"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19"
		 "\x20\x00\x04" "\x01\x00\x00\x00", .len = sizeof(SIG "\x21\x11\x00\x13"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19"
		 "\x20\x00\x04" "\x01\x00\x00\x00") - 1,
	 .status = TERN__PROXY_BAD},
	{.name = "v2 ssl sub-tlv overrun",
	 .in = SIG "\x21\x11\x00\x17"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19"
		 "\x20\x00\x08" "\x01" "\x00\x00\x00\x00" "\x21\x00\x09", .len = sizeof(SIG "\x21\x11\x00\x17"
		 "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x00\x19"
		 "\x20\x00\x08" "\x01" "\x00\x00\x00\x00" "\x21\x00\x09") - 1,
	 .status = TERN__PROXY_BAD},
	{.name = "neither version", .in = "\x16\x03\x01\x02\x00", .len = sizeof("\x16\x03\x01\x02\x00") - 1, .status = TERN__PROXY_BAD},
};

/* After the header, octets that are the protocol's. */
static const char after[] = "EHLO x\r\n";

static enum tern__proxy_status run(struct tern__proxy_parser *p, const char *in, size_t len,
				   size_t step, size_t *used_r)
{
	enum tern__proxy_status st = TERN__PROXY_MORE;
	size_t off = 0;

	tern__proxy_init(p);
	while (off < len) {
		size_t n = len - off < step ? len - off : step, used;

		st = tern__proxy_feed(p, in + off, n, &used);
		assert_true(used <= n);
		if (st == TERN__PROXY_BAD) {
			assert_int_equal(used, 0);
			assert_non_null(p->reason);
			break;
		}
		off += used;
		if (st == TERN__PROXY_DONE)
			break;
		assert_int_equal(used, n);
	}
	*used_r = off;
	return st;
}

static void check_case(const struct pcase *c, size_t step)
{
	struct tern__proxy_parser *p = malloc(sizeof(*p));
	size_t len = c->len ? c->len : strlen(c->in), used;
	char *in = malloc(len + sizeof(after));
	enum tern__proxy_status st;

	assert_non_null(p);
	assert_non_null(in);
	memcpy(in, c->in, len);
	/* A truncated header stays truncated: nothing follows it. */
	size_t total = c->status == TERN__PROXY_MORE ? len : len + sizeof(after) - 1;
	memcpy(in + len, after, sizeof(after) - 1);
	st = run(p, in, total, step, &used);
	if ((int)st != c->status)
		fail_msg("%s (step %zu): status %d, want %d (%s)", c->name, step, st, c->status,
			 p->reason ? p->reason : "-");
	if (st == TERN__PROXY_DONE) {
		const struct tern__proxy_result *r = &p->result;

		if (used != len)
			fail_msg("%s (step %zu): used %zu, header is %zu", c->name, step, used, len);
		assert_int_equal(r->family, c->family);
		assert_int_equal(r->local, c->local);
		assert_int_equal(r->version, c->in[0] == 'P' ? 1 : 2);
		assert_string_equal(r->src_addr, c->src ? c->src : "");
		assert_string_equal(r->dst_addr, c->dst ? c->dst : "");
		assert_int_equal(r->src_port, c->sport);
		assert_int_equal(r->dst_port, c->dport);
		assert_string_equal(r->authority, c->authority ? c->authority : "");
		assert_string_equal(r->ssl_version, c->ssl_version ? c->ssl_version : "");
		assert_int_equal(r->ssl_client_tls, c->ssl_tls);
		assert_int_equal(r->ssl_cert_verified, c->ssl_verified);
		/* Done is final: nothing more is taken. */
		assert_int_equal(tern__proxy_feed(p, after, 3, &used), TERN__PROXY_DONE);
		assert_int_equal(used, 0);
		assert_int_equal(tern__proxy_want(p), 0);
	} else if (st == TERN__PROXY_MORE) {
		assert_int_equal(used, len);
		assert_true(tern__proxy_want(p) > 0);
	} else {
		assert_int_equal(tern__proxy_feed(p, after, 3, &used), TERN__PROXY_BAD);
	}
	free(in);
	free(p);
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_case(&cases[i], SIZE_MAX); /* whole */
		check_case(&cases[i], 1);        /* byte by byte */
		check_case(&cases[i], 3);
	}
}

/* The net layer peeks tern__proxy_want() octets: that never reaches past
 * the header, so octets after it stay in the socket. */
static void test_want_bounds(void **state)
{
	static const char v2[] = SIG "\x21\x11\x00\x0c"
				     "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19";
	struct tern__proxy_parser p;
	size_t used;

	(void)state;
	tern__proxy_init(&p);
	assert_int_equal(tern__proxy_want(&p), TERN__PROXY_V1_MAX);
	assert_int_equal(tern__proxy_feed(&p, v2, 13, &used), TERN__PROXY_MORE);
	assert_int_equal(tern__proxy_want(&p), 3);
	assert_int_equal(tern__proxy_feed(&p, v2 + 13, 3, &used), TERN__PROXY_MORE);
	assert_int_equal(tern__proxy_want(&p), 12);
	assert_int_equal(tern__proxy_feed(&p, v2 + 16, 12, &used), TERN__PROXY_DONE);
	assert_int_equal(used, 12);

	/* The largest v2 header we take: a UNIX block and 1024 octets of
	 * TLVs (one NOOP); one more octet of TLVs is refused. */
	uint8_t big[TERN__PROXY_V2_MAX + 1];
	size_t n = TERN__PROXY_V2_MAX - TERN__PROXY_V2_FIXED;
	memset(big, 0, sizeof(big));
	memcpy(big, SIG "\x21\x31", 14);
	big[14] = (uint8_t)(n >> 8);
	big[15] = (uint8_t)n;
	big[16 + 216] = 0x04;
	big[16 + 217] = (uint8_t)((1024 - 3) >> 8);
	big[16 + 218] = (uint8_t)(1024 - 3);
	tern__proxy_init(&p);
	assert_int_equal(tern__proxy_feed(&p, big, sizeof(big), &used), TERN__PROXY_DONE);
	assert_int_equal(used, TERN__PROXY_V2_MAX);
	assert_int_equal(p.result.family, AF_UNSPEC); /* AF_UNIX: the socket's stand */
	n++;
	big[14] = (uint8_t)(n >> 8);
	big[15] = (uint8_t)n;
	tern__proxy_init(&p);
	assert_int_equal(tern__proxy_feed(&p, big, sizeof(big), &used), TERN__PROXY_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_want_bounds),
	};
	return cmocka_run_group_tests_name("proxy", tests, NULL, NULL);
}
