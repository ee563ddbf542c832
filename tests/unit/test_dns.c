/* DNS (src/net/dns.c) without a DNS server: reverse names, host name and
 * server checks, answer parsing from hand-made messages, the FCrDNS decision
 * table fed made-up answers, and the resolver's promises that need no
 * server (no callback inside the call, none after cancel, our timeout). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/event.h>

#include "net/dns.h"
#include "tern/tern.h"

/* ---- reverse names -------------------------------------------------- */

static void test_ptr_name(void **state)
{
	static const struct {
		const char *addr;
		const char *name; /* NULL: TERN_EINVAL */
	} cases[] = {
		{"192.0.2.1", "1.2.0.192.in-addr.arpa"},
		{"127.0.0.1", "1.0.0.127.in-addr.arpa"},
		{"0.0.0.0", "0.0.0.0.in-addr.arpa"},
		{"255.255.255.255", "255.255.255.255.in-addr.arpa"},
		{"::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"},
		{"2001:db8::567:89ab",
		 "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"},
		{"2001:DB8::1",
		 "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"},
		{"::ffff:192.0.2.7", "7.2.0.192.in-addr.arpa"}, /* mapped: the IPv4 name */
		{"192.0.2", NULL},
		{"192.0.2.256", NULL},
		{"[::1]", NULL},
		{"example.com", NULL},
		{"", NULL},
		{"1.2.3.4 ", NULL},
	};
	char buf[TERN__DNS_PTR_NAME_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = tern__dns_ptr_name(cases[i].addr, buf, sizeof(buf));

		if (cases[i].name == NULL) {
			assert_int_equal(r, TERN_EINVAL);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(buf, cases[i].name);
	}
	/* The longest name fills TERN__DNS_PTR_NAME_SIZE exactly. */
	assert_int_equal(tern__dns_ptr_name("::1", buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf) + 1, TERN__DNS_PTR_NAME_SIZE);
	assert_int_equal(tern__dns_ptr_name("::1", buf, sizeof(buf) - 1), TERN_EINVAL);
	assert_int_equal(tern__dns_ptr_name(NULL, buf, sizeof(buf)), TERN_EINVAL);
}

static void test_hostname_valid(void **state)
{
	char long_label[80], long_name[300];
	static const struct {
		const char *name;
		bool ok;
	} cases[] = {
		{"mail.example.com", true},
		{"a", true},
		{"xn--bcher-kva.example", true},
		{"a-b.c0", true},
		{"1.2.3.com", true},
		{"0day.example", true},
		{"example.123", false},     /* all-digit last label */
		{"192.0.2.1", false},       /* reads as an address */
		{"", false},
		{".", false},
		{"example.com.", false},    /* no trailing dot */
		{".example.com", false},
		{"a..b", false},
		{"-a.example", false},
		{"a-.example", false},
		{"a_b.example", false},
		{"a b.example", false},
		{"a\nb.example", false},
		{"[192.0.2.1]", false},
		{"b\xc3\xbc" "cher.example", false}, /* U-labels: not in a reply */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(tern__dns_hostname_valid(cases[i].name, strlen(cases[i].name)),
				 cases[i].ok);
	memset(long_label, 'a', 64);
	memcpy(long_label + 64, ".example", 9);
	assert_false(tern__dns_hostname_valid(long_label, strlen(long_label)));
	assert_true(tern__dns_hostname_valid(long_label + 1, strlen(long_label + 1)));
	/* 254 octets: one too many. */
	long_name[0] = 'b'; /* "ba.a.a...a": 254 octets, from +1 on 253 */
	for (size_t i = 0; i < 253; i++)
		long_name[1 + i] = i % 2 ? '.' : 'a';
	long_name[254] = '\0';
	assert_false(tern__dns_hostname_valid(long_name, 254));
	assert_true(tern__dns_hostname_valid(long_name + 1, 253));
}

static void test_server_valid(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{"127.0.0.1", true},
		{"127.0.0.1@5353", true},
		{"::1", true},
		{"::1@53", true},
		{"192.0.2.1@65535", true},
		{"192.0.2.1@65536", false},
		{"192.0.2.1@0", false},
		{"192.0.2.1@", false},
		{"192.0.2.1@53x", false},
		{"192.0.2.1:53", false},
		{"@53", false},
		{"dns.example", false},
		{"[::1]@53", false},
		{"", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(tern__dns_server_valid(cases[i].s), cases[i].ok);
	assert_false(tern__dns_server_valid(NULL));
}

/* ---- answers from hand-made messages --------------------------------- */

struct pkt {
	unsigned char b[1024];
	size_t n;
};

static void put(struct pkt *p, const void *data, size_t len)
{
	assert_true(p->n + len <= sizeof(p->b));
	memcpy(p->b + p->n, data, len);
	p->n += len;
}

static void put16(struct pkt *p, unsigned v)
{
	unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};

	put(p, b, 2);
}

static void put32(struct pkt *p, unsigned long v)
{
	put16(p, (unsigned)(v >> 16));
	put16(p, (unsigned)(v & 0xffff));
}

/* A name as labels ("a.b" -> 1a1b0). */
static void put_name(struct pkt *p, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t len = dot ? (size_t)(dot - name) : strlen(name);
		unsigned char l = (unsigned char)len;

		put(p, &l, 1);
		put(p, name, len);
		name += len + (dot ? 1 : 0);
	}
	put(p, "", 1);
}

/* Header (response, rcode) and one question. */
static void start_msg(struct pkt *p, unsigned rcode, unsigned ancount, const char *qname,
		      unsigned qtype)
{
	p->n = 0;
	put16(p, 0x1234);
	put16(p, 0x8180 | rcode);
	put16(p, 1);
	put16(p, ancount);
	put16(p, 0);
	put16(p, 0);
	put_name(p, qname);
	put16(p, qtype);
	put16(p, 1);
}

/* A record whose owner is the question's name (a pointer to offset 12). */
static void put_rr(struct pkt *p, unsigned type, unsigned long ttl, const void *rdata,
		   size_t len)
{
	put16(p, 0xc00c);
	put16(p, type);
	put16(p, 1);
	put32(p, ttl);
	put16(p, (unsigned)len);
	put(p, rdata, len);
}

static void test_parse_a_aaaa(void **state)
{
	struct pkt p;
	struct tern__dns_answer a;
	static const unsigned char v4a[4] = {192, 0, 2, 1}, v4b[4] = {192, 0, 2, 2};
	static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

	(void)state;
	start_msg(&p, 0, 2, "mail.example", TERN__DNS_A);
	put_rr(&p, TERN__DNS_A, 300, v4a, 4);
	put_rr(&p, TERN__DNS_A, 60, v4b, 4);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_A, p.b, p.n, 0, 2), 0);
	assert_int_equal(a.status, TERN__DNS_ANSWER);
	assert_int_equal(a.security, TERN__DNS_SECURE);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.ttl, 60);
	assert_int_equal(a.addrs[0].family, AF_INET);
	assert_memory_equal(a.addrs[0].bytes, v4a, 4);
	assert_memory_equal(a.addrs[1].bytes, v4b, 4);
	tern__dns_answer_clear(&a);

	start_msg(&p, 0, 1, "mail.example", TERN__DNS_AAAA);
	put_rr(&p, TERN__DNS_AAAA, 300, v6, 16);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_AAAA, p.b, p.n, 0, 2), 0);
	assert_int_equal(a.status, TERN__DNS_ANSWER);
	assert_int_equal(a.security, TERN__DNS_SECURE);
	assert_int_equal(a.addrs[0].family, AF_INET6);
	assert_memory_equal(a.addrs[0].bytes, v6, 16);
	tern__dns_answer_clear(&a);
	/* Bogus (libunbound hands the records over with rcode 0): no answer,
	 * a temporary failure, whatever the records say. */
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_AAAA, p.b, p.n, 0, 1), 0);
	assert_int_equal(a.status, TERN__DNS_TEMPFAIL);
	assert_int_equal(a.security, TERN__DNS_BOGUS);
	assert_int_equal(a.n, 0);
	tern__dns_answer_clear(&a);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_AAAA, p.b, p.n, 3, 1), 0);
	assert_int_equal(a.status, TERN__DNS_TEMPFAIL);
	tern__dns_answer_clear(&a);

	/* An A record of the wrong length is a malformed answer. */
	start_msg(&p, 0, 1, "mail.example", TERN__DNS_A);
	put_rr(&p, TERN__DNS_A, 300, v6, 16);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_A, p.b, p.n, 0, 0), 0);
	assert_int_equal(a.status, TERN__DNS_TEMPFAIL);
	assert_null(a.addrs);
	tern__dns_answer_clear(&a);
}

static void test_parse_ptr_mx_raw(void **state)
{
	struct pkt p, rd;
	struct tern__dns_answer a;
	static const unsigned char txt[] = "\x0bv=spf1 -all";
	static const unsigned char tlsa[] = {3, 1, 1, 0xde, 0xad, 0xbe, 0xef};

	(void)state;
	/* PTR: one name in full, one compressed against the question. */
	start_msg(&p, 0, 2, "1.2.0.192.in-addr.arpa", TERN__DNS_PTR);
	rd.n = 0;
	put_name(&rd, "mail.example");
	put_rr(&p, TERN__DNS_PTR, 300, rd.b, rd.n);
	rd.n = 0;
	put(&rd, "\x03" "ptr", 4);
	put16(&rd, 0xc00c + 2); /* "2.0.192.in-addr.arpa" */
	put_rr(&p, TERN__DNS_PTR, 300, rd.b, rd.n);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_PTR, p.b, p.n, 0, 0), 0);
	assert_int_equal(a.status, TERN__DNS_ANSWER);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.names[0], "mail.example");
	assert_string_equal(a.names[1], "ptr.2.0.192.in-addr.arpa");
	tern__dns_answer_clear(&a);

	/* MX, and the null MX (RFC 7505). */
	start_msg(&p, 0, 2, "example", TERN__DNS_MX);
	rd.n = 0;
	put16(&rd, 10);
	put_name(&rd, "mx1.example");
	put_rr(&p, TERN__DNS_MX, 300, rd.b, rd.n);
	rd.n = 0;
	put16(&rd, 0);
	put(&rd, "", 1);
	put_rr(&p, TERN__DNS_MX, 300, rd.b, rd.n);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_MX, p.b, p.n, 0, 0), 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.mx[0].preference, 10);
	assert_string_equal(a.mx[0].exchange, "mx1.example");
	assert_int_equal(a.mx[1].preference, 0);
	assert_string_equal(a.mx[1].exchange, "");
	tern__dns_answer_clear(&a);

	/* TXT and TLSA: the RDATA as received. */
	start_msg(&p, 0, 1, "example", TERN__DNS_TXT);
	put_rr(&p, TERN__DNS_TXT, 300, txt, sizeof(txt) - 1);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_TXT, p.b, p.n, 0, 0), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.raw[0].len, sizeof(txt) - 1);
	assert_memory_equal(a.raw[0].data, txt, sizeof(txt) - 1);
	tern__dns_answer_clear(&a);

	start_msg(&p, 0, 1, "_25._tcp.mx.example", TERN__DNS_TLSA);
	put_rr(&p, TERN__DNS_TLSA, 300, tlsa, sizeof(tlsa));
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_TLSA, p.b, p.n, 0, 2), 0);
	assert_int_equal(a.security, TERN__DNS_SECURE);
	assert_int_equal(a.raw[0].len, sizeof(tlsa));
	assert_memory_equal(a.raw[0].data, tlsa, sizeof(tlsa));
	tern__dns_answer_clear(&a);
}

static void test_parse_cname_and_owner(void **state)
{
	struct pkt p, rd;
	struct tern__dns_answer a;
	static const unsigned char v4[4] = {192, 0, 2, 9}, other[4] = {198, 51, 100, 1};

	(void)state;
	/* www.example CNAME host.example; host.example A 192.0.2.9; and an
	 * A of a name outside the chain, which does not count. */
	start_msg(&p, 0, 3, "www.example", TERN__DNS_A);
	rd.n = 0;
	put_name(&rd, "host.example");
	put_rr(&p, 5, 300, rd.b, rd.n);
	put_name(&p, "other.example");
	put16(&p, TERN__DNS_A);
	put16(&p, 1);
	put32(&p, 300);
	put16(&p, 4);
	put(&p, other, 4);
	put_name(&p, "HOST.example"); /* names compare without case */
	put16(&p, TERN__DNS_A);
	put16(&p, 1);
	put32(&p, 300);
	put16(&p, 4);
	put(&p, v4, 4);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_A, p.b, p.n, 0, 0), 0);
	assert_int_equal(a.status, TERN__DNS_ANSWER);
	assert_int_equal(a.n, 1);
	assert_memory_equal(a.addrs[0].bytes, v4, 4);
	tern__dns_answer_clear(&a);

	/* Only records of another name: no data for the one asked. */
	start_msg(&p, 0, 1, "www.example", TERN__DNS_A);
	put_name(&p, "other.example");
	put16(&p, TERN__DNS_A);
	put16(&p, 1);
	put32(&p, 300);
	put16(&p, 4);
	put(&p, other, 4);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_A, p.b, p.n, 0, 0), 0);
	assert_int_equal(a.status, TERN__DNS_NODATA);
	tern__dns_answer_clear(&a);
}

static void test_parse_status(void **state)
{
	struct pkt p;
	struct tern__dns_answer a;
	static const unsigned char v4[4] = {192, 0, 2, 1};

	(void)state;
	start_msg(&p, 0, 0, "example", TERN__DNS_A);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_A, p.b, p.n, 0, 0), 0);
	assert_int_equal(a.status, TERN__DNS_NODATA);
	tern__dns_answer_clear(&a);

	start_msg(&p, 3, 0, "nowhere.example", TERN__DNS_A);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_A, p.b, p.n, 0, 0), 0);
	assert_int_equal(a.status, TERN__DNS_NXDOMAIN);
	tern__dns_answer_clear(&a);

	/* libunbound's rcode argument wins over the packet. */
	start_msg(&p, 0, 1, "example", TERN__DNS_A);
	put_rr(&p, TERN__DNS_A, 300, v4, 4);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_A, p.b, p.n, 2, 0), 0);
	assert_int_equal(a.status, TERN__DNS_TEMPFAIL);
	tern__dns_answer_clear(&a);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_A, NULL, 0, 3, 0), 0);
	assert_int_equal(a.status, TERN__DNS_NXDOMAIN);
	tern__dns_answer_clear(&a);

	for (unsigned rcode = 1; rcode < 16; rcode++) {
		if (rcode == 3)
			continue;
		start_msg(&p, rcode, 0, "example", TERN__DNS_A);
		assert_int_equal(tern__dns_parse(&a, TERN__DNS_A, p.b, p.n, 0, 0), 0);
		assert_int_equal(a.status, TERN__DNS_TEMPFAIL);
		tern__dns_answer_clear(&a);
	}
}

static void test_parse_malformed(void **state)
{
	struct pkt p;
	struct tern__dns_answer a;
	static const unsigned char v4[4] = {192, 0, 2, 1};

	(void)state;
	/* Every truncation of a good answer is refused, never read past. */
	start_msg(&p, 0, 1, "mail.example", TERN__DNS_A);
	put_rr(&p, TERN__DNS_A, 300, v4, 4);
	for (size_t n = 0; n < p.n; n++) {
		unsigned char *copy = malloc(n ? n : 1);

		memcpy(copy, p.b, n);
		assert_int_equal(tern__dns_parse(&a, TERN__DNS_A, copy, n, 0, 0), 0);
		assert_int_equal(a.status, TERN__DNS_TEMPFAIL);
		assert_int_equal(a.n, 0);
		tern__dns_answer_clear(&a);
		free(copy);
	}

	/* A compression pointer to itself, and one pointing forward. */
	start_msg(&p, 0, 1, "example", TERN__DNS_PTR);
	put16(&p, 0xc000 | (unsigned)p.n);
	put16(&p, TERN__DNS_PTR);
	put16(&p, 1);
	put32(&p, 300);
	put16(&p, 0);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_PTR, p.b, p.n, 0, 0), 0);
	assert_int_equal(a.status, TERN__DNS_TEMPFAIL);
	tern__dns_answer_clear(&a);

	start_msg(&p, 0, 1, "example", TERN__DNS_PTR);
	put16(&p, 0xc00c);
	put16(&p, TERN__DNS_PTR);
	put16(&p, 1);
	put32(&p, 300);
	put16(&p, 2);
	put16(&p, 0xc000 | (unsigned)(p.n + 40));
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_PTR, p.b, p.n, 0, 0), 0);
	assert_int_equal(a.status, TERN__DNS_TEMPFAIL);
	tern__dns_answer_clear(&a);

	/* A label with a dot or a control character in it. */
	start_msg(&p, 0, 1, "example", TERN__DNS_PTR);
	put16(&p, 0xc00c);
	put16(&p, TERN__DNS_PTR);
	put16(&p, 1);
	put32(&p, 300);
	put16(&p, 7);
	put(&p, "\x05" "a.b\nc" "\x00", 7);
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_PTR, p.b, p.n, 0, 0), 0);
	assert_int_equal(a.status, TERN__DNS_TEMPFAIL);
	tern__dns_answer_clear(&a);

	/* Two questions. */
	start_msg(&p, 0, 0, "example", TERN__DNS_A);
	p.b[5] = 2;
	assert_int_equal(tern__dns_parse(&a, TERN__DNS_A, p.b, p.n, 0, 0), 0);
	assert_int_equal(a.status, TERN__DNS_TEMPFAIL);
	tern__dns_answer_clear(&a);
}

/* ---- FCrDNS decisions ------------------------------------------------- */

/* A made-up answer: status, then PTR names or addresses in text. */
struct made {
	enum tern__dns_status status;
	const char *items[4];
};

static void made_answer(struct tern__dns_answer *a, int type, const struct made *m)
{
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->status = m->status;
	if (m->status != TERN__DNS_ANSWER)
		return;
	for (size_t i = 0; i < 4 && m->items[i]; i++)
		a->n++;
	if (type == TERN__DNS_PTR) {
		a->names = calloc(a->n, sizeof(char *));
		for (size_t i = 0; i < a->n; i++)
			a->names[i] = strdup(m->items[i]);
		return;
	}
	a->addrs = calloc(a->n, sizeof(*a->addrs));
	for (size_t i = 0; i < a->n; i++)
		assert_int_equal(tern__dns_addr_parse(m->items[i], &a->addrs[i]), 0);
}

static void test_fcrdns_table(void **state)
{
	static const struct {
		const char *what;
		const char *client;
		struct made ptr;
		struct made fwd[3]; /* answers to the forward lookups, in order */
		size_t n_fwd;       /* how many forward lookups must be asked */
		enum tern__dns_fcrdns_result result;
		const char *hostname;
	} cases[] = {
		{"match", "192.0.2.1", {TERN__DNS_ANSWER, {"mail.example"}},
		 {{TERN__DNS_ANSWER, {"192.0.2.1"}}}, 1, TERN__FCRDNS_CONFIRMED, "mail.example"},
		{"match among several", "192.0.2.1", {TERN__DNS_ANSWER, {"mail.example"}},
		 {{TERN__DNS_ANSWER, {"192.0.2.9", "192.0.2.1"}}}, 1, TERN__FCRDNS_CONFIRMED,
		 "mail.example"},
		{"mismatch", "192.0.2.1", {TERN__DNS_ANSWER, {"mail.example"}},
		 {{TERN__DNS_ANSWER, {"198.51.100.1"}}}, 1, TERN__FCRDNS_MISMATCH, NULL},
		{"second name matches", "192.0.2.1",
		 {TERN__DNS_ANSWER, {"a.example", "b.example"}},
		 {{TERN__DNS_ANSWER, {"198.51.100.1"}}, {TERN__DNS_ANSWER, {"192.0.2.1"}}}, 2,
		 TERN__FCRDNS_CONFIRMED, "b.example"},
		{"first name fails, second matches", "192.0.2.1",
		 {TERN__DNS_ANSWER, {"a.example", "b.example"}},
		 {{TERN__DNS_TEMPFAIL, {NULL}}, {TERN__DNS_ANSWER, {"192.0.2.1"}}}, 2,
		 TERN__FCRDNS_CONFIRMED, "b.example"},
		{"invalid names skipped", "192.0.2.1",
		 {TERN__DNS_ANSWER, {"bad_name.example", "192.0.2.1", "ok.example"}},
		 {{TERN__DNS_ANSWER, {"192.0.2.1"}}}, 1, TERN__FCRDNS_CONFIRMED, "ok.example"},
		{"duplicates asked once", "192.0.2.1",
		 {TERN__DNS_ANSWER, {"a.example", "A.EXAMPLE"}},
		 {{TERN__DNS_ANSWER, {"198.51.100.1"}}}, 1, TERN__FCRDNS_MISMATCH, NULL},
		{"only invalid names", "192.0.2.1", {TERN__DNS_ANSWER, {"-x.example", "a..b"}},
		 {{0, {NULL}}}, 0, TERN__FCRDNS_NO_NAME, NULL},
		{"NXDOMAIN", "192.0.2.1", {TERN__DNS_NXDOMAIN, {NULL}}, {{0, {NULL}}}, 0, TERN__FCRDNS_NO_NAME,
		 NULL},
		{"no PTR", "192.0.2.1", {TERN__DNS_NODATA, {NULL}}, {{0, {NULL}}}, 0, TERN__FCRDNS_NO_NAME, NULL},
		{"PTR SERVFAIL", "192.0.2.1", {TERN__DNS_TEMPFAIL, {NULL}}, {{0, {NULL}}}, 0,
		 TERN__FCRDNS_TEMPFAIL, NULL},
		{"PTR timeout", "192.0.2.1", {TERN__DNS_TIMEOUT, {NULL}}, {{0, {NULL}}}, 0, TERN__FCRDNS_TIMEOUT,
		 NULL},
		{"forward NXDOMAIN", "192.0.2.1", {TERN__DNS_ANSWER, {"mail.example"}},
		 {{TERN__DNS_NXDOMAIN, {NULL}}}, 1, TERN__FCRDNS_MISMATCH, NULL},
		{"forward SERVFAIL", "192.0.2.1", {TERN__DNS_ANSWER, {"mail.example"}},
		 {{TERN__DNS_TEMPFAIL, {NULL}}}, 1, TERN__FCRDNS_TEMPFAIL, NULL},
		{"forward timeout", "192.0.2.1", {TERN__DNS_ANSWER, {"mail.example"}},
		 {{TERN__DNS_TIMEOUT, {NULL}}}, 1, TERN__FCRDNS_TEMPFAIL, NULL},
		{"IPv6 match", "2001:db8::25", {TERN__DNS_ANSWER, {"mx.example"}},
		 {{TERN__DNS_ANSWER, {"2001:db8::24", "2001:DB8::25"}}}, 1, TERN__FCRDNS_CONFIRMED,
		 "mx.example"},
		{"IPv6 client, IPv4 answer", "::ffff:192.0.2.1", {TERN__DNS_ANSWER, {"m.example"}},
		 {{TERN__DNS_ANSWER, {"192.0.2.1"}}}, 1, TERN__FCRDNS_CONFIRMED, "m.example"},
		{"IPv6 mismatch", "2001:db8::25", {TERN__DNS_ANSWER, {"mx.example"}},
		 {{TERN__DNS_ANSWER, {"2001:db8::26"}}}, 1, TERN__FCRDNS_MISMATCH, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tern__dns_fcrdns f;
		struct tern__dns_answer a;
		size_t asked = 0;
		const char *name;
		int type = 0;

		assert_int_equal(tern__dns_fcrdns_init(&f, cases[i].client), 0);
		made_answer(&a, TERN__DNS_PTR, &cases[i].ptr);
		assert_int_equal(tern__dns_fcrdns_ptr(&f, &a), 0);
		tern__dns_answer_clear(&a);
		while ((name = tern__dns_fcrdns_next(&f, &type)) != NULL) {
			assert_true(asked < cases[i].n_fwd);
			assert_int_equal(type, strchr(cases[i].client, '.') ? TERN__DNS_A
									   : TERN__DNS_AAAA);
			made_answer(&a, type, &cases[i].fwd[asked++]);
			tern__dns_fcrdns_forward(&f, &a);
			tern__dns_answer_clear(&a);
		}
		if (!f.done || asked != cases[i].n_fwd || f.result != cases[i].result)
			fail_msg("case '%s': done %d asked %zu result %d", cases[i].what, f.done,
				 asked, f.result);
		if (cases[i].hostname)
			assert_string_equal(f.hostname, cases[i].hostname);
		else
			assert_null(f.hostname);
		tern__dns_fcrdns_clear(&f);
	}
}

static void test_fcrdns_bound(void **state)
{
	struct tern__dns_fcrdns f;
	struct tern__dns_answer a;
	char name[32];
	int type, asked = 0;

	(void)state;
	assert_int_equal(tern__dns_fcrdns_init(&f, "nonsense"), TERN_EINVAL);
	assert_int_equal(tern__dns_fcrdns_init(&f, "192.0.2.1"), 0);
	memset(&a, 0, sizeof(a));
	a.type = TERN__DNS_PTR;
	a.status = TERN__DNS_ANSWER;
	a.n = 40;
	a.names = calloc(a.n, sizeof(char *));
	for (size_t i = 0; i < a.n; i++) {
		snprintf(name, sizeof(name), "h%zu.example", i);
		a.names[i] = strdup(name);
	}
	assert_int_equal(tern__dns_fcrdns_ptr(&f, &a), 0);
	tern__dns_answer_clear(&a);
	assert_int_equal(f.n_names, TERN__DNS_FCRDNS_MAX_NAMES);
	while (tern__dns_fcrdns_next(&f, &type) != NULL) {
		struct made m = {TERN__DNS_NXDOMAIN, {NULL}};

		made_answer(&a, type, &m);
		tern__dns_fcrdns_forward(&f, &a);
		tern__dns_answer_clear(&a);
		asked++;
	}
	assert_int_equal(asked, TERN__DNS_FCRDNS_MAX_NAMES);
	assert_int_equal(f.result, TERN__FCRDNS_MISMATCH);
	tern__dns_fcrdns_clear(&f);
}

/* ---- the resolver, without a server ----------------------------------- */

struct seen {
	int calls;
	enum tern__dns_status status;
	bool inside; /* set while tern__dns_query runs */
	bool called_inside;
};

static void on_answer(const struct tern__dns_answer *a, void *arg)
{
	struct seen *s = arg;

	s->calls++;
	s->status = a->status;
	s->called_inside |= s->inside;
}

static void run_loop(struct event_base *b, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(b, &tv);
	event_base_dispatch(b);
}

static void test_resolver_new(void **state)
{
	struct event_base *b = event_base_new();
	struct tern__dns *d = (struct tern__dns *)1;
	char err[128] = "";

	(void)state;
	assert_int_equal(tern__dns_new(&d, b, "dns.example@53", err, sizeof(err)), TERN_EINVAL);
	assert_null(d);
	assert_non_null(strstr(err, "dns.example"));
	assert_int_equal(tern__dns_new(&d, NULL, NULL, NULL, 0), TERN_EINVAL);
	assert_int_equal(tern__dns_new(&d, b, "127.0.0.1@9", NULL, 0), 0);
	tern__dns_free(&d);
	assert_null(d);
	tern__dns_free(&d);
	event_base_free(b);
}

/* localhost is answered by libunbound itself, inside ub_resolve_event: the
 * callback must still wait for the loop. */
static void test_resolver_local_answer(void **state)
{
	struct event_base *b = event_base_new();
	struct tern__dns *d;
	struct seen s = {0};

	(void)state;
	assert_int_equal(tern__dns_new(&d, b, "127.0.0.1@9", NULL, 0), 0);
	s.inside = true;
	assert_int_equal(tern__dns_query(d, "localhost", TERN__DNS_A, 2000, on_answer, &s, NULL),
			 0);
	s.inside = false;
	assert_int_equal(s.calls, 0);
	for (int i = 0; i < 20 && s.calls == 0; i++)
		run_loop(b, 50);
	assert_int_equal(s.calls, 1);
	assert_false(s.called_inside);
	assert_int_equal(s.status, TERN__DNS_ANSWER);
	tern__dns_free(&d);
	event_base_free(b);
}

/* A forwarder that never answers (a loopback port nobody reads, found by
 * binding and keeping it): our timeout, and cancel without a callback. */
static void test_resolver_timeout_cancel(void **state)
{
	struct event_base *b = event_base_new();
	struct tern__dns *d;
	struct tern__dns_query *q;
	struct seen timed = {0}, cancelled = {0}, dropped = {0};
	evutil_socket_t fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	char server[64];

	(void)state;
	sin.sin_addr.s_addr = htonl(0x7f000001);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(server, sizeof(server), "127.0.0.1@%u", ntohs(sin.sin_port));
	assert_int_equal(tern__dns_new(&d, b, server, NULL, 0), 0);

	assert_int_equal(tern__dns_query(d, "slow.test", TERN__DNS_A, 200, on_answer, &timed,
					 NULL),
			 0);
	assert_int_equal(tern__dns_query_ptr(d, "192.0.2.1", 200, on_answer, &cancelled, &q), 0);
	assert_non_null(q);
	tern__dns_cancel(&q);
	assert_null(q);
	tern__dns_cancel(&q);
	/* One still running when the resolver goes: no callback either. */
	assert_int_equal(tern__dns_query(d, "late.test", TERN__DNS_MX, 5000, on_answer, &dropped,
					 NULL),
			 0);
	for (int i = 0; i < 40 && timed.calls == 0; i++)
		run_loop(b, 50);
	assert_int_equal(timed.calls, 1);
	assert_int_equal(timed.status, TERN__DNS_TIMEOUT);
	assert_int_equal(cancelled.calls, 0);
	tern__dns_free(&d);
	run_loop(b, 50);
	assert_int_equal(dropped.calls, 0);
	assert_int_equal(cancelled.calls, 0);
	evutil_closesocket(fd);
	event_base_free(b);
}

static void test_resolver_bad_input(void **state)
{
	struct event_base *b = event_base_new();
	struct tern__dns *d;
	struct tern__dns_query *q = (struct tern__dns_query *)1;
	struct seen s = {0};

	(void)state;
	assert_int_equal(tern__dns_new(&d, b, "127.0.0.1@9", NULL, 0), 0);
	assert_int_equal(tern__dns_query(d, "a..b", TERN__DNS_A, 100, on_answer, &s, &q),
			 TERN_EINVAL);
	assert_null(q);
	assert_int_equal(tern__dns_query(d, "", TERN__DNS_A, 100, on_answer, &s, NULL),
			 TERN_EINVAL);
	assert_int_equal(tern__dns_query(d, "a b", TERN__DNS_A, 100, on_answer, &s, NULL),
			 TERN_EINVAL);
	assert_int_equal(tern__dns_query(d, "ok.test", 0, 100, on_answer, &s, NULL), TERN_EINVAL);
	assert_int_equal(tern__dns_query_ptr(d, "not-an-address", 100, on_answer, &s, NULL),
			 TERN_EINVAL);
	run_loop(b, 20);
	assert_int_equal(s.calls, 0);
	tern__dns_free(&d);
	event_base_free(b);
}

struct fc_seen {
	int calls;
	enum tern__dns_fcrdns_result result;
	char host[64];
};

static void on_fcrdns(enum tern__dns_fcrdns_result r, const char *host, void *arg)
{
	struct fc_seen *s = arg;

	s->calls++;
	s->result = r;
	snprintf(s->host, sizeof(s->host), "%s", host ? host : "");
}

/* The whole lookup against a silent forwarder: one deadline; and a cancel
 * that leaves no callback and counts as cancelled. */
static void test_fcrdns_driver(void **state)
{
	struct event_base *b = event_base_new();
	struct tern__dns *d;
	struct tern__dns_fcrdns_lookup *l1, *l2, *l3;
	struct tern__dns_fcrdns_counters c;
	struct fc_seen s1 = {0}, s2 = {0}, s3 = {0};
	evutil_socket_t fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	char server[64];

	(void)state;
	memset(&c, 0, sizeof(c));
	sin.sin_addr.s_addr = htonl(0x7f000001);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(server, sizeof(server), "127.0.0.1@%u", ntohs(sin.sin_port));
	assert_int_equal(tern__dns_new(&d, b, server, NULL, 0), 0);
	assert_int_equal(tern__dns_fcrdns_start(d, "192.0.2.1", 150, &c, on_fcrdns, &s1, &l1), 0);
	assert_int_equal(tern__dns_fcrdns_start(d, "192.0.2.2", 150, &c, on_fcrdns, &s2, &l2), 0);
	assert_int_equal(tern__dns_fcrdns_start(d, "bogus", 150, &c, on_fcrdns, &s3, &l3),
			 TERN_EINVAL);
	assert_null(l3);
	tern__dns_fcrdns_cancel(&l2);
	assert_null(l2);
	assert_int_equal(s1.calls, 0);
	for (int i = 0; i < 40 && s1.calls == 0; i++)
		run_loop(b, 50);
	assert_int_equal(s1.calls, 1);
	assert_int_equal(s1.result, TERN__FCRDNS_TIMEOUT);
	assert_string_equal(s1.host, "");
	assert_int_equal(s2.calls, 0);
	assert_int_equal(s3.calls, 0);
	assert_int_equal(atomic_load(&c.lookups), 2);
	assert_int_equal(atomic_load(&c.timeout), 1);
	assert_int_equal(atomic_load(&c.cancelled), 1);
	tern__dns_free(&d);
	evutil_closesocket(fd);
	event_base_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ptr_name),
		cmocka_unit_test(test_hostname_valid),
		cmocka_unit_test(test_server_valid),
		cmocka_unit_test(test_parse_a_aaaa),
		cmocka_unit_test(test_parse_ptr_mx_raw),
		cmocka_unit_test(test_parse_cname_and_owner),
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_fcrdns_table),
		cmocka_unit_test(test_fcrdns_bound),
		cmocka_unit_test(test_resolver_new),
		cmocka_unit_test(test_resolver_local_answer),
		cmocka_unit_test(test_resolver_timeout_cancel),
		cmocka_unit_test(test_resolver_bad_input),
		cmocka_unit_test(test_fcrdns_driver),
	};
	return cmocka_run_group_tests_name("dns", tests, NULL, NULL);
}
