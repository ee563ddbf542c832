/* Abuse limits: the per-network table (server/abuse.h) with an injected
 * clock, the public ban/unban, and engine transcripts for the
 * per-connection limits (max_messages_per_conn, max_rcpts_per_conn). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "helper_session.h"
#include "server/abuse.h"
#include "tern/smtp.h"

#define L HS_LINES
#define T0 1000 /* any monotonic start */

static struct tern__abuse *table(unsigned per_ip, unsigned rate, unsigned auth, unsigned ban,
				 unsigned prefix, size_t max)
{
	struct tern__abuse_limits lim = {per_ip, rate, auth, ban, prefix};
	struct tern__abuse *a = NULL;

	assert_int_equal(tern__abuse_new(&a, &lim, NULL, max, NULL), 0);
	return a;
}

static struct tern__abuse_key key(struct tern__abuse *a, const char *addr)
{
	struct tern__abuse_key k;

	assert_true(tern__abuse_key(a, addr, &k));
	return k;
}

/* ---- the table ---------------------------------------------------------- */

static void test_count_open(void **state)
{
	struct tern__abuse *a = table(2, 0, 0, 600, 64, 0);
	struct tern__abuse_key k = key(a, "192.0.2.1"), other = key(a, "192.0.2.2");

	(void)state;
	assert_int_equal(tern__abuse_connect(a, &k, T0), TERN__ABUSE_OK);
	assert_int_equal(tern__abuse_connect(a, &k, T0), TERN__ABUSE_OK);
	assert_int_equal(tern__abuse_connect(a, &k, T0), TERN__ABUSE_TOO_MANY);
	assert_int_equal(tern__abuse_open(a, &k), 2);
	/* Another address is another network. */
	assert_int_equal(tern__abuse_connect(a, &other, T0), TERN__ABUSE_OK);
	tern__abuse_disconnect(a, &k);
	assert_int_equal(tern__abuse_open(a, &k), 1);
	assert_int_equal(tern__abuse_connect(a, &k, T0), TERN__ABUSE_OK);
	tern__abuse_disconnect(a, &k);
	tern__abuse_disconnect(a, &k);
	tern__abuse_disconnect(a, &other);
	assert_int_equal(tern__abuse_open(a, &k), 0);
	/* A release too many never goes below zero. */
	tern__abuse_disconnect(a, &k);
	assert_int_equal(tern__abuse_open(a, &k), 0);
	assert_int_equal(tern__abuse_entries(a), 2);
	tern__abuse_free(&a);
	assert_null(a);
}

static void test_ipv6_grouping(void **state)
{
	struct tern__abuse *a = table(1, 0, 0, 600, 64, 0);
	struct tern__abuse *b = table(1, 0, 0, 600, 128, 0);
	struct tern__abuse_key k1 = key(a, "2001:db8:1:2::1");
	struct tern__abuse_key k2 = key(a, "2001:db8:1:2:ffff:eeee:dddd:9");
	struct tern__abuse_key k3 = key(a, "2001:db8:1:3::1");
	struct tern__abuse_key m1 = key(a, "::ffff:192.0.2.7"), m2 = key(a, "192.0.2.7");
	struct tern__abuse_key k;

	(void)state;
	/* One /64. */
	assert_memory_equal(&k1, &k2, sizeof(k1));
	assert_int_equal(tern__abuse_connect(a, &k1, T0), TERN__ABUSE_OK);
	assert_int_equal(tern__abuse_connect(a, &k2, T0), TERN__ABUSE_TOO_MANY);
	/* The next /64 is counted apart. */
	assert_int_equal(tern__abuse_connect(a, &k3, T0), TERN__ABUSE_OK);
	/* IPv4-mapped is the IPv4 address. */
	assert_memory_equal(&m1, &m2, sizeof(m1));
	assert_int_equal(m1.family, AF_INET);
	/* A /128 table tells the two apart. */
	k1 = key(b, "2001:db8:1:2::1");
	k2 = key(b, "2001:db8:1:2:ffff:eeee:dddd:9");
	assert_memory_not_equal(&k1, &k2, sizeof(k1));
	assert_int_equal(tern__abuse_connect(b, &k1, T0), TERN__ABUSE_OK);
	assert_int_equal(tern__abuse_connect(b, &k2, T0), TERN__ABUSE_OK);
	/* Not an address: not counted. */
	assert_false(tern__abuse_key(a, "unknown", &k));
	assert_int_equal(k.family, 0);
	assert_int_equal(tern__abuse_connect(a, &k, T0), TERN__ABUSE_UNTRACKED);
	assert_false(tern__abuse_key(a, NULL, &k));
	tern__abuse_free(&a);
	tern__abuse_free(&b);
}

static void test_odd_prefix(void **state)
{
	struct tern__abuse *a = table(1, 0, 0, 600, 60, 0);

	(void)state;
	/* /60: the low nibble of the fourth group is cut. */
	struct tern__abuse_key k1 = key(a, "2001:db8:1:20::1"), k2 = key(a, "2001:db8:1:2f::1");
	struct tern__abuse_key k3 = key(a, "2001:db8:1:30::1");

	assert_memory_equal(&k1, &k2, sizeof(k1));
	assert_memory_not_equal(&k1, &k3, sizeof(k1));
	tern__abuse_free(&a);
}

static void test_rate_window(void **state)
{
	struct tern__abuse *a = table(0, 3, 0, 600, 64, 0);
	struct tern__abuse_key k = key(a, "198.51.100.9");

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tern__abuse_connect(a, &k, T0 + (uint64_t)i), TERN__ABUSE_OK);
		tern__abuse_disconnect(a, &k);
	}
	assert_int_equal(tern__abuse_connect(a, &k, T0 + 10), TERN__ABUSE_TOO_FAST);
	/* Refused ones count too: still refused at the window's end. */
	assert_int_equal(tern__abuse_connect(a, &k, T0 + 59), TERN__ABUSE_TOO_FAST);
	assert_int_equal(tern__abuse_open(a, &k), 0);
	/* A new minute. */
	assert_int_equal(tern__abuse_connect(a, &k, T0 + 60), TERN__ABUSE_OK);
	tern__abuse_free(&a);
}

static void test_auth_failures_ban(void **state)
{
	struct tern__abuse *a = table(0, 0, 3, 100, 64, 0);
	struct tern__abuse_key k = key(a, "203.0.113.5");

	(void)state;
	assert_false(tern__abuse_auth_failed(a, &k, T0));
	assert_false(tern__abuse_auth_failed(a, &k, T0 + 1));
	assert_false(tern__abuse_banned(a, &k, T0 + 1));
	assert_true(tern__abuse_auth_failed(a, &k, T0 + 2));
	assert_true(tern__abuse_banned(a, &k, T0 + 2));
	assert_int_equal(tern__abuse_connect(a, &k, T0 + 3), TERN__ABUSE_BANNED);
	assert_true(tern__abuse_banned(a, &k, T0 + 101));
	/* The ban has its own expiry. */
	assert_false(tern__abuse_banned(a, &k, T0 + 102));
	assert_int_equal(tern__abuse_connect(a, &k, T0 + 102), TERN__ABUSE_OK);
	tern__abuse_disconnect(a, &k);
	/* Failures spread over more than the window do not add up. */
	assert_false(tern__abuse_auth_failed(a, &k, T0 + 200));
	assert_false(tern__abuse_auth_failed(a, &k, T0 + 201));
	assert_false(tern__abuse_auth_failed(a, &k, T0 + 200 + TERN__ABUSE_AUTH_WINDOW));
	assert_false(tern__abuse_banned(a, &k, T0 + 200 + TERN__ABUSE_AUTH_WINDOW));
	tern__abuse_free(&a);
}

static void test_ban_unban(void **state)
{
	struct tern__abuse *a = table(0, 0, 0, 30, 64, 0);
	struct tern__abuse_key k = key(a, "2001:db8::1"), none;

	(void)state;
	memset(&none, 0, sizeof(none));
	assert_int_equal(tern__abuse_ban(a, &k, 50, T0), 0);
	assert_int_equal(tern__abuse_connect(a, &k, T0 + 1), TERN__ABUSE_BANNED);
	assert_true(tern__abuse_unban(a, &k, T0 + 2));
	assert_false(tern__abuse_unban(a, &k, T0 + 2));
	assert_int_equal(tern__abuse_connect(a, &k, T0 + 3), TERN__ABUSE_OK);
	tern__abuse_disconnect(a, &k);
	/* 0: ban_seconds (30). */
	assert_int_equal(tern__abuse_ban(a, &k, 0, T0 + 10), 0);
	assert_true(tern__abuse_banned(a, &k, T0 + 39));
	assert_false(tern__abuse_banned(a, &k, T0 + 40));
	/* A new ban replaces the old one, shorter or longer. */
	assert_int_equal(tern__abuse_ban(a, &k, 1000, T0 + 50), 0);
	assert_int_equal(tern__abuse_ban(a, &k, 5, T0 + 50), 0);
	assert_false(tern__abuse_banned(a, &k, T0 + 55));
	assert_int_equal(tern__abuse_ban(a, &k, TERN__ABUSE_MAX_BAN + 1, T0), TERN_EINVAL);
	assert_int_equal(tern__abuse_ban(a, &none, 10, T0), TERN_EINVAL);
	assert_false(tern__abuse_unban(a, &none, T0));
	tern__abuse_free(&a);
}

static void test_bounded(void **state)
{
	struct tern__abuse *a = table(0, 10, 0, 600, 64, 4);
	char addr[32];
	struct tern__abuse_key k[6];

	(void)state;
	for (int i = 0; i < 6; i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", i + 1);
		k[i] = key(a, addr);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(tern__abuse_connect(a, &k[i], T0), TERN__ABUSE_OK);
	/* Full of open connections: the fifth network is served, untracked. */
	assert_int_equal(tern__abuse_connect(a, &k[4], T0), TERN__ABUSE_UNTRACKED);
	assert_int_equal(tern__abuse_untracked(a), 1);
	assert_int_equal(tern__abuse_entries(a), 4);
	assert_int_equal(tern__abuse_ban(a, &k[4], 10, T0), TERN_ELIMIT);
	assert_false(tern__abuse_auth_failed(a, &k[4], T0));
	/* Closed, but their rate windows still run: nothing to sweep. */
	for (int i = 0; i < 4; i++)
		tern__abuse_disconnect(a, &k[i]);
	assert_int_equal(tern__abuse_connect(a, &k[4], T0 + 1), TERN__ABUSE_UNTRACKED);
	/* A ban keeps its entry past the window. */
	assert_int_equal(tern__abuse_ban(a, &k[0], 1000, T0 + 1), 0);
	/* The windows ran out: the sweep makes room, the ban stays. */
	assert_int_equal(tern__abuse_connect(a, &k[4], T0 + 70), TERN__ABUSE_OK);
	assert_int_equal(tern__abuse_connect(a, &k[5], T0 + 70), TERN__ABUSE_OK);
	assert_int_equal(tern__abuse_entries(a), 3);
	assert_int_equal(tern__abuse_connect(a, &k[0], T0 + 70), TERN__ABUSE_BANNED);
	tern__abuse_free(&a);
}

static void test_exempt_and_errors(void **state)
{
	const char *const exempt[] = {"127.0.0.0/8,::1", "2001:db8:e::/48", NULL};
	const char *const bad[] = {"10.0.0.0/8", "10.0.0.1/8", NULL};
	struct tern__abuse_limits lim = {1, 1, 1, 600, 64};
	struct tern__abuse *a = NULL;
	struct tern__abuse_key k;
	size_t bad_i = 9;

	(void)state;
	assert_int_equal(tern__abuse_new(&a, &lim, exempt, 0, NULL), 0);
	assert_false(tern__abuse_key(a, "127.0.0.1", &k));
	assert_false(tern__abuse_key(a, "::1", &k));
	assert_false(tern__abuse_key(a, "2001:db8:e:5::1", &k));
	for (int i = 0; i < 5; i++)
		assert_int_equal(tern__abuse_connect(a, &k, T0), TERN__ABUSE_UNTRACKED);
	assert_true(tern__abuse_key(a, "2001:db8:f::1", &k));
	tern__abuse_free(&a);

	assert_int_equal(tern__abuse_new(&a, &lim, bad, 0, &bad_i), TERN_EINVAL);
	assert_int_equal(bad_i, 1);
	assert_null(a);
	lim.ipv6_prefix = 0;
	assert_int_equal(tern__abuse_new(&a, &lim, NULL, 0, NULL), TERN_EINVAL);
	lim.ipv6_prefix = 129;
	assert_int_equal(tern__abuse_new(&a, &lim, NULL, 0, NULL), TERN_EINVAL);
	lim.ipv6_prefix = 64;
	lim.ban_seconds = TERN__ABUSE_MAX_BAN + 1;
	assert_int_equal(tern__abuse_new(&a, &lim, NULL, 0, NULL), TERN_EINVAL);
}

/* Workers share the table: counts stay exact under contention. */
#define THREADS 4
#define ROUNDS 2000
static struct tern__abuse *shared;

static void *hammer(void *arg)
{
	struct tern__abuse_key k = *(struct tern__abuse_key *)arg;

	for (int i = 0; i < ROUNDS; i++) {
		if (tern__abuse_connect(shared, &k, T0) == TERN__ABUSE_OK)
			tern__abuse_disconnect(shared, &k);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[THREADS];
	struct tern__abuse_key k;

	(void)state;
	shared = table(THREADS, 0, 0, 600, 64, 0);
	k = key(shared, "192.0.2.200");
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &k), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(tern__abuse_open(shared, &k), 0);
	tern__abuse_free(&shared);
}

/* ---- the public API ------------------------------------------------------ */

static void test_server_ban_api(void **state)
{
	const char *const exempt[] = {"192.0.2.128/25", NULL};
	const char *const bad[] = {"nonsense", NULL};
	tern_smtp_options o;
	tern_smtp_server *s = NULL;

	(void)state;
	tern_smtp_options_init(&o);
	assert_int_equal(o.max_per_ip, 100);
	assert_int_equal(o.max_conn_rate, 0);
	assert_int_equal(o.max_messages_per_conn, 1000);
	assert_int_equal(o.max_rcpts_per_conn, 10000);
	assert_int_equal(o.max_auth_failures_per_ip, 10);
	assert_int_equal(o.ban_seconds, 600);
	assert_int_equal(o.abuse_ipv6_prefix, 64);
	assert_null(o.abuse_exempt);
	o.no_reverse_dns = true;
	o.abuse_exempt = exempt;
	assert_int_equal(tern_smtp_server_new(&s, &o), 0);
	assert_int_equal(tern_smtp_server_ban(s, "192.0.2.1", 60), 0);
	assert_int_equal(tern_smtp_server_ban(s, "2001:db8::1", 0), 0);
	assert_int_equal(tern_smtp_server_unban(s, "192.0.2.1"), 0);
	assert_int_equal(tern_smtp_server_unban(s, "192.0.2.1"), TERN_ESTATE);
	/* Same /64. */
	assert_int_equal(tern_smtp_server_unban(s, "2001:db8::ffff"), 0);
	assert_int_equal(tern_smtp_server_ban(s, "192.0.2.200", 60), TERN_EINVAL);
	assert_int_equal(tern_smtp_server_ban(s, "not an address", 60), TERN_EINVAL);
	assert_int_equal(tern_smtp_server_ban(s, NULL, 60), TERN_EINVAL);
	assert_int_equal(tern_smtp_server_ban(s, "192.0.2.1", 366u * 86400u + 1), TERN_EINVAL);
	assert_int_equal(tern_smtp_server_ban(NULL, "192.0.2.1", 60), TERN_EINVAL);
	assert_int_equal(tern_smtp_server_unban(NULL, "192.0.2.1"), TERN_EINVAL);
	tern_smtp_server_destroy(&s);

	o.abuse_exempt = bad;
	assert_int_equal(tern_smtp_server_new(&s, &o), TERN_EINVAL);
	o.abuse_exempt = NULL;
	o.abuse_ipv6_prefix = 129;
	assert_int_equal(tern_smtp_server_new(&s, &o), TERN_EINVAL);
	o.abuse_ipv6_prefix = 0; /* the default */
	o.ban_seconds = 0;       /* the default */
	assert_int_equal(tern_smtp_server_new(&s, &o), 0);
	tern_smtp_server_destroy(&s);
}

/* ---- engine: per-connection limits ---------------------------------------- */

#define MAIL "MAIL FROM:<a@b.example>\r\n"
#define RCPT(n) "RCPT TO:<r" #n "@c.example>\r\n"
#define R421_MSG "=421 4.7.0 mx.test Too many messages in this session"
#define R421_RCPT "=421 4.7.0 mx.test Too many recipients in this session"

static void messages_2(struct hs *h) { h->opts.max_messages_per_conn = 2; }
static void messages_2_reject(struct hs *h)
{
	h->opts.max_messages_per_conn = 2;
	hs_push_reject(h, HS_MAIL, 0, NULL, NULL);
}
static void messages_none(struct hs *h) { h->opts.max_messages_per_conn = 0; }
static void rcpts_3(struct hs *h) { h->opts.max_rcpts_per_conn = 3; }
static void rcpts_3_reject(struct hs *h)
{
	h->opts.max_rcpts_per_conn = 3;
	hs_push_reject(h, HS_RCPT, 0, NULL, NULL);
}

static const struct hs_case cases[] = {
	{.name = "messages: the third MAIL of a session at 2 is refused, 421 closes",
	 .setup = messages_2,
	 .in = HS_EHLO MAIL "RSET\r\n" MAIL "RSET\r\n" MAIL "NOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250", "250 2.1.0", "250", R421_MSG),
	 .close = 1},
	{.name = "messages: a refused MAIL does not count",
	 .setup = messages_2_reject,
	 .in = HS_EHLO MAIL MAIL "RSET\r\n" MAIL "RSET\r\n" MAIL,
	 .expect = L(HS_EHLO_REPLY, "550", "250 2.1.0", "250", "250 2.1.0", "250", R421_MSG),
	 .close = 1},
	{.name = "messages: a whole message counts once",
	 .setup = messages_2,
	 .in = HS_EHLO MAIL RCPT(1) "DATA\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "354"),
	 .close = 0},
	{.name = "messages: 0 is no limit",
	 .setup = messages_none,
	 .in = HS_EHLO MAIL "RSET\r\n" MAIL "RSET\r\n" MAIL "RSET\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250", "250 2.1.0", "250", "250 2.1.0", "250"),
	 .close = 0},
	{.name = "recipients: over all transactions of the session",
	 .setup = rcpts_3,
	 .in = HS_EHLO MAIL RCPT(1) RCPT(2) "RSET\r\n" MAIL RCPT(3) RCPT(4) "NOOP\r\n",
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "250 2.1.5", "250", "250 2.1.0",
		     "250 2.1.5", R421_RCPT),
	 .close = 1},
	{.name = "recipients: a refused RCPT does not count",
	 .setup = rcpts_3_reject,
	 .in = HS_EHLO MAIL RCPT(1) RCPT(2) RCPT(3) RCPT(4) RCPT(5),
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "550", "250 2.1.5", "250 2.1.5", "250 2.1.5",
		     R421_RCPT),
	 .close = 1},
	{.name = "recipients: RCPT before MAIL is still 503, not counted",
	 .setup = rcpts_3,
	 .in = HS_EHLO RCPT(1) RCPT(2) RCPT(3) RCPT(4) MAIL RCPT(5),
	 .expect = L(HS_EHLO_REPLY, "503", "503", "503", "503", "250 2.1.0", "250 2.1.5"),
	 .close = 0},
};

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_open),
		cmocka_unit_test(test_ipv6_grouping),
		cmocka_unit_test(test_odd_prefix),
		cmocka_unit_test(test_rate_window),
		cmocka_unit_test(test_auth_failures_ban),
		cmocka_unit_test(test_ban_unban),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_exempt_and_errors),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_server_ban_api),
	};
	int failed = cmocka_run_group_tests_name("abuse table", tests, NULL, NULL);

	failed += hs_run_group("abuse limits per connection", cases,
			       sizeof(cases) / sizeof(cases[0]));
	return failed;
}
