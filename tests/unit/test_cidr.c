/* CIDR parsing and matching (src/util/cidr.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tern/tern.h"
#include "util/cidr.h"

static void test_parse(void **state)
{
	static const struct {
		const char *text;
		int rc;
		unsigned prefix;
	} cases[] = {
		{"192.0.2.0/24", 0, 24},
		{"192.0.2.1", 0, 32},
		{" 10.0.0.0/8 ", 0, 8},
		{"0.0.0.0/0", 0, 0},
		{"2001:db8::/32", 0, 32},
		{"::1", 0, 128},
		{"::/0", 0, 0},
		{"192.0.2.1/24", TERN_EINVAL, 0},   /* host bits */
		{"192.0.2.0/33", TERN_EINVAL, 0},
		{"2001:db8::/129", TERN_EINVAL, 0},
		{"192.0.2.0/", TERN_EINVAL, 0},
		{"192.0.2.0/x", TERN_EINVAL, 0},
		{"192.0.2.0/-1", TERN_EINVAL, 0},
		{"192.0.2", TERN_EINVAL, 0},
		{"[::1]", TERN_EINVAL, 0},
		{"example.com", TERN_EINVAL, 0},
		{"", TERN_EINVAL, 0},
		{"::ffff:10.0.0.0/8", TERN_EINVAL, 0}, /* prefixes on mapped addresses */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tern__cidr net;
		int rc = tern__cidr_parse(&net, cases[i].text, strlen(cases[i].text));

		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d", cases[i].text, rc, cases[i].rc);
		if (rc == 0 && net.prefix != cases[i].prefix)
			fail_msg("%s: prefix %u, want %u", cases[i].text, net.prefix, cases[i].prefix);
	}
}

static void test_match(void **state)
{
	const char *const items[] = {"192.0.2.0/24, 10.1.0.0/16", "2001:db8:1::/48", "127.0.0.1",
				     NULL};
	struct tern__cidr_list l;
	(void)state;
	assert_int_equal(tern__cidr_list_parse(&l, items, NULL), 0);
	assert_int_equal(l.n, 4);
	assert_true(tern__cidr_list_match(&l, "192.0.2.77"));
	assert_false(tern__cidr_list_match(&l, "192.0.3.1"));
	assert_true(tern__cidr_list_match(&l, "10.1.255.255"));
	assert_false(tern__cidr_list_match(&l, "10.2.0.1"));
	assert_true(tern__cidr_list_match(&l, "2001:db8:1:ffff::1"));
	assert_false(tern__cidr_list_match(&l, "2001:db8:2::1"));
	assert_true(tern__cidr_list_match(&l, "127.0.0.1"));
	assert_false(tern__cidr_list_match(&l, "127.0.0.2"));
	/* IPv4-mapped IPv6 counts as IPv4. */
	assert_true(tern__cidr_list_match(&l, "::ffff:192.0.2.5"));
	assert_false(tern__cidr_list_match(&l, "not an address"));
	assert_false(tern__cidr_list_match(&l, NULL));
	tern__cidr_list_free(&l);
	assert_false(tern__cidr_list_match(&l, "192.0.2.77"));
}

static void test_bad_list(void **state)
{
	const char *const items[] = {"10.0.0.0/8", "192.0.2.0/24,oops", NULL};
	struct tern__cidr_list l;
	size_t bad = 99;
	(void)state;
	assert_int_equal(tern__cidr_list_parse(&l, items, &bad), TERN_EINVAL);
	assert_int_equal(bad, 1);
	assert_null(l.nets);
	assert_int_equal(tern__cidr_list_parse(&l, NULL, NULL), 0);
	assert_int_equal(l.n, 0);
	assert_false(tern__cidr_list_match(&l, "10.0.0.1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_bad_list),
	};
	return cmocka_run_group_tests_name("cidr", tests, NULL, NULL);
}
