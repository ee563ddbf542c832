/* Listen address parsing (src/net/listen_addr.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "net/listen_addr.h"
#include "tern/tern.h"

static unsigned port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void test_ipv4_literal(void **state)
{
	struct tern__listen_addr la;
	const struct sockaddr_in *sin;

	(void)state;
	assert_int_equal(tern__listen_addr_parse(&la, "127.0.0.1:2525"), 0);
	assert_int_equal(la.n, 1);
	assert_false(la.wildcard);
	assert_int_equal(la.port, 2525);
	assert_string_equal(la.spec, "127.0.0.1:2525");
	sin = (const struct sockaddr_in *)&la.addrs[0];
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(port_of(&la.addrs[0]), 2525);
	assert_int_equal(la.lens[0], sizeof(struct sockaddr_in));
	tern__listen_addr_free(&la);
	assert_null(la.addrs);
}

static void test_ipv6_literal(void **state)
{
	struct tern__listen_addr la;
	const struct sockaddr_in6 *sin6;

	(void)state;
	assert_int_equal(tern__listen_addr_parse(&la, "[::1]:25"), 0);
	assert_int_equal(la.n, 1);
	sin6 = (const struct sockaddr_in6 *)&la.addrs[0];
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_int_equal(port_of(&la.addrs[0]), 25);
	tern__listen_addr_free(&la);
}

static void test_name(void **state)
{
	struct tern__listen_addr la;

	(void)state;
	assert_int_equal(tern__listen_addr_parse(&la, "localhost:2525"), 0);
	assert_true(la.n >= 1);
	for (size_t i = 0; i < la.n; i++) {
		assert_int_equal(port_of(&la.addrs[i]), 2525);
		if (la.addrs[i].ss_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)&la.addrs[i];

			assert_int_equal(ntohl(sin->sin_addr.s_addr) >> 24, 127);
		} else {
			const struct sockaddr_in6 *sin6 = (const void *)&la.addrs[i];

			assert_int_equal(la.addrs[i].ss_family, AF_INET6);
			assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
		}
		/* No duplicates. */
		for (size_t j = 0; j < i; j++)
			assert_false(la.lens[i] == la.lens[j] &&
				     memcmp(&la.addrs[i], &la.addrs[j], la.lens[i]) == 0);
	}
	tern__listen_addr_free(&la);
}

static void check_wildcard(const char *spec, unsigned port)
{
	struct tern__listen_addr la;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	assert_int_equal(tern__listen_addr_parse(&la, spec), 0);
	assert_true(la.wildcard);
	assert_int_equal(la.n, 2);
	sin = (const struct sockaddr_in *)&la.addrs[0];
	sin6 = (const struct sockaddr_in6 *)&la.addrs[1];
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
	assert_int_equal(port_of(&la.addrs[0]), port);
	assert_int_equal(port_of(&la.addrs[1]), port);
	tern__listen_addr_free(&la);
}

static void test_wildcard(void **state)
{
	(void)state;
	check_wildcard(":2525", 2525);
	check_wildcard("*:25", 25);
	check_wildcard(":0", 0);
	check_wildcard(":65535", 65535);
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:65536",
		"127.0.0.1:123456",
		"127.0.0.1:abc",
		"127.0.0.1:-1",
		"127.0.0.1:+25",
		"127.0.0.1: 25",
		"::1:25",
		"::1",
		"[::1]",
		"[::1]25",
		"[::1]:",
		"[]:25",
		"[127.0.0.1]:25",
		"[::1:25",
		"999.0.0.1:25",
		"bad host:25",
		"no-such-host.invalid:25",
	};
	struct tern__listen_addr la;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = tern__listen_addr_parse(&la, bad[i]);

		if (err != TERN_EADDR)
			fail_msg("\"%s\" gave %d, expected TERN_EADDR", bad[i], err);
		assert_null(la.addrs);
		assert_null(la.spec);
		assert_int_equal(la.n, 0);
	}
	assert_int_equal(tern__listen_addr_parse(&la, NULL), TERN_EADDR);
}

static void test_format(void **state)
{
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;
	char buf[TERN__SOCKADDR_STRLEN];
	unsigned port = 0;

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(2525);
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	assert_int_equal(tern__sockaddr_format((struct sockaddr *)&sin, buf, sizeof(buf), &port), 0);
	assert_string_equal(buf, "192.0.2.7");
	assert_int_equal(port, 2525);
	tern__sockaddr_format_full((struct sockaddr *)&sin, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.7:2525");

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(25);
	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	assert_int_equal(tern__sockaddr_format((struct sockaddr *)&sin6, buf, sizeof(buf), &port), 0);
	assert_string_equal(buf, "2001:db8::1");
	assert_int_equal(port, 25);
	tern__sockaddr_format_full((struct sockaddr *)&sin6, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::1]:25");

	/* IPv4-mapped addresses read as the IPv4 address they are. */
	inet_pton(AF_INET6, "::ffff:198.51.100.9", &sin6.sin6_addr);
	assert_int_equal(tern__sockaddr_format((struct sockaddr *)&sin6, buf, sizeof(buf), &port), 0);
	assert_string_equal(buf, "198.51.100.9");

	sin6.sin6_family = AF_UNIX;
	assert_int_equal(tern__sockaddr_format((struct sockaddr *)&sin6, buf, sizeof(buf), &port),
			 TERN_EINVAL);
	tern__sockaddr_format_full((struct sockaddr *)&sin6, buf, sizeof(buf));
	assert_string_equal(buf, "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_literal), cmocka_unit_test(test_ipv6_literal),
		cmocka_unit_test(test_name),         cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_invalid),      cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
