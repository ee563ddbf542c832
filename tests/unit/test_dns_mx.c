/* MX planning (src/net/dns_mx.c) fed made-up answers: RFC 5321 5.1 order
 * and implicit MX, RFC 7505 null MX, our own name among the hosts, hosts
 * without addresses, temporary and permanent failures kept apart; and the
 * driver's promises against a silent server (one deadline, no callback
 * inside the call, none after cancel). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/event.h>

#include "net/dns_mx.h"
#include "tern/tern.h"

static struct tern__dns_answer status_only(enum tern__dns_status st)
{
	return (struct tern__dns_answer){.status = st};
}

/* An MX answer from "pref name" pairs; names are not copied. */
static struct tern__dns_answer mx_answer(struct tern__dns_mx *mx, size_t n)
{
	return (struct tern__dns_answer){
		.status = TERN__DNS_ANSWER, .type = TERN__DNS_MX, .n = n, .mx = mx};
}

static struct tern__dns_answer addr_answer(struct tern__dns_addr *a, size_t n)
{
	return (struct tern__dns_answer){.status = TERN__DNS_ANSWER, .n = n, .addrs = a};
}

static struct tern__dns_addr v4(const char *text)
{
	struct tern__dns_addr a;

	assert_int_equal(tern__dns_addr_parse(text, &a), 0);
	return a;
}

/* Every host's A and AAAA: hosts named in with_v4 get 192.0.2.(i+1). */
static void answer_all(struct tern__mx_plan *p, enum tern__dns_status otherwise)
{
	struct tern__dns_answer none = status_only(otherwise);

	for (size_t i = 0; i < p->n_hosts && !p->done; i++) {
		tern__mx_plan_addr(p, i, TERN__DNS_A, &none);
		tern__mx_plan_addr(p, i, TERN__DNS_AAAA, &none);
	}
}

static void test_domain_failures(void **state)
{
	struct tern__mx_plan p;
	struct tern__dns_answer a;

	(void)state;
	assert_int_equal(tern__mx_plan_init(&p, ""), TERN_EINVAL);
	assert_int_equal(tern__mx_plan_init(&p, NULL), TERN_EINVAL);
	assert_int_equal(tern__mx_plan_init(&p, "bad..name"), TERN_EINVAL);
	assert_int_equal(tern__mx_plan_init(&p, "[192.0.2.1]"), TERN_EINVAL);

	assert_int_equal(tern__mx_plan_init(&p, "gone.test."), 0);
	assert_string_equal(p.domain, "gone.test");
	a = status_only(TERN__DNS_NXDOMAIN);
	tern__mx_plan_mx(&p, &a, NULL, 1);
	assert_true(p.done);
	assert_int_equal(p.status, TERN__MX_NO_DOMAIN);
	assert_string_equal(tern__mx_status_code(p.status), "5.1.2");
	assert_true(tern__mx_status_permanent(p.status));
	assert_non_null(strstr(p.detail, "gone.test"));

	for (int st = TERN__DNS_TEMPFAIL; st <= TERN__DNS_TIMEOUT; st++) {
		assert_int_equal(tern__mx_plan_init(&p, "flaky.test"), 0);
		a = status_only((enum tern__dns_status)st);
		tern__mx_plan_mx(&p, &a, NULL, 1);
		assert_true(p.done);
		assert_int_equal(p.status, st == TERN__DNS_TEMPFAIL ? TERN__MX_TEMPFAIL
								    : TERN__MX_TIMEOUT);
		assert_string_equal(tern__mx_status_code(p.status), "4.4.3");
		assert_false(tern__mx_status_permanent(p.status));
	}
}

static void test_null_mx(void **state)
{
	struct tern__dns_mx null_mx[] = {{0, ""}};
	struct tern__dns_mx mixed[] = {{0, ""}, {10, "mx.mixed.test"}};
	struct tern__mx_plan p;
	struct tern__dns_answer a;

	(void)state;
	assert_int_equal(tern__mx_plan_init(&p, "nomail.test"), 0);
	a = mx_answer(null_mx, 1);
	tern__mx_plan_mx(&p, &a, NULL, 1);
	assert_true(p.done);
	assert_int_equal(p.status, TERN__MX_NULL);
	assert_string_equal(tern__mx_status_code(p.status), "5.1.10");

	/* Published against RFC 7505 with another MX: the "." is skipped. */
	assert_int_equal(tern__mx_plan_init(&p, "mixed.test"), 0);
	a = mx_answer(mixed, 2);
	tern__mx_plan_mx(&p, &a, NULL, 1);
	assert_false(p.done);
	assert_int_equal(p.n_hosts, 1);
	assert_string_equal(p.hosts[0].name, "mx.mixed.test");
}

static void test_implicit_mx(void **state)
{
	struct tern__mx_plan p;
	struct tern__dns_answer a = status_only(TERN__DNS_NODATA), none, one;
	struct tern__dns_addr addr = v4("192.0.2.7");

	(void)state;
	assert_int_equal(tern__mx_plan_init(&p, "plain.test"), 0);
	tern__mx_plan_mx(&p, &a, NULL, 1);
	assert_false(p.done);
	assert_true(p.implicit);
	assert_int_equal(p.n_hosts, 1);
	assert_string_equal(p.hosts[0].name, "plain.test");
	none = status_only(TERN__DNS_NODATA);
	one = addr_answer(&addr, 1);
	tern__mx_plan_addr(&p, 0, TERN__DNS_AAAA, &none);
	assert_false(p.done);
	tern__mx_plan_addr(&p, 0, TERN__DNS_A, &one);
	assert_true(p.done);
	assert_int_equal(p.status, TERN__MX_OK);
	assert_null(tern__mx_status_code(p.status));
	assert_int_equal(p.hosts[0].n_v4, 1);
	assert_int_equal(p.hosts[0].n_v6, 0);
	/* Late or repeated answers change nothing. */
	tern__mx_plan_addr(&p, 0, TERN__DNS_A, &none);
	assert_int_equal(p.hosts[0].n_v4, 1);

	/* The domain itself is us: a loop. */
	const char *self[] = {"other.test", "PLAIN.test", NULL};
	assert_int_equal(tern__mx_plan_init(&p, "plain.test"), 0);
	tern__mx_plan_mx(&p, &a, self, 1);
	assert_true(p.done);
	assert_int_equal(p.status, TERN__MX_LOOP);
	assert_string_equal(tern__mx_status_code(p.status), "5.4.6");
}

/* Preference order, with equal preferences in an order that depends on the
 * seed (both orders appear over a few seeds), duplicates and invalid names
 * dropped. */
static void test_order(void **state)
{
	struct tern__dns_mx mx[] = {
		{30, "c.test"}, {10, "a1.test"}, {20, "b.test"}, {10, "a2.test"},
		{5, "bad_name!.test"}, {40, "a1.test."}, {10, "A2.TEST"},
	};
	struct tern__dns_answer a = mx_answer(mx, sizeof(mx) / sizeof(mx[0]));
	bool a1_first = false, a2_first = false;

	(void)state;
	for (uint64_t seed = 1; seed <= 32; seed++) {
		struct tern__mx_plan p;

		assert_int_equal(tern__mx_plan_init(&p, "order.test"), 0);
		tern__mx_plan_mx(&p, &a, NULL, seed);
		assert_false(p.done);
		assert_int_equal(p.n_hosts, 4);
		assert_int_equal(p.hosts[0].preference, 10);
		assert_int_equal(p.hosts[1].preference, 10);
		assert_string_equal(p.hosts[2].name, "b.test");
		assert_string_equal(p.hosts[3].name, "c.test");
		a1_first |= strcmp(p.hosts[0].name, "a1.test") == 0;
		a2_first |= strcmp(p.hosts[0].name, "a2.test") == 0;
		/* The same seed, the same order. */
		struct tern__mx_plan q;
		assert_int_equal(tern__mx_plan_init(&q, "order.test"), 0);
		tern__mx_plan_mx(&q, &a, NULL, seed);
		assert_string_equal(p.hosts[0].name, q.hosts[0].name);
	}
	assert_true(a1_first);
	assert_true(a2_first);
}

/* More hosts than kept: the best ones stay, whatever order they came in. */
static void test_host_limit(void **state)
{
	struct tern__dns_mx mx[TERN__MX_MAX_HOSTS * 3];
	char names[TERN__MX_MAX_HOSTS * 3][32];
	size_t n = sizeof(mx) / sizeof(mx[0]);
	struct tern__mx_plan p;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "h%zu.test", i);
		mx[i].preference = (unsigned)(n - i); /* the best last */
		mx[i].exchange = names[i];
	}
	struct tern__dns_answer a = mx_answer(mx, n);
	assert_int_equal(tern__mx_plan_init(&p, "many.test"), 0);
	tern__mx_plan_mx(&p, &a, NULL, 7);
	assert_int_equal(p.n_hosts, TERN__MX_MAX_HOSTS);
	for (size_t i = 0; i < p.n_hosts; i++)
		assert_int_equal(p.hosts[i].preference, i + 1);
}

/* RFC 5321 5.1: our own name, and every host not better than it, go. */
static void test_self_in_mx(void **state)
{
	struct tern__dns_mx backup[] = {{10, "primary.test"}, {20, "me.test"}, {30, "third.test"}};
	struct tern__dns_mx best[] = {{20, "primary.test"}, {10, "me.test"}};
	struct tern__dns_mx equal[] = {{10, "me.test"}, {10, "twin.test"}};
	const char *self[] = {"me.test", NULL};
	struct tern__mx_plan p;
	struct tern__dns_answer a;

	(void)state;
	assert_int_equal(tern__mx_plan_init(&p, "site.test"), 0);
	a = mx_answer(backup, 3);
	tern__mx_plan_mx(&p, &a, self, 1);
	assert_false(p.done);
	assert_int_equal(p.n_hosts, 1);
	assert_string_equal(p.hosts[0].name, "primary.test");

	for (int k = 0; k < 2; k++) {
		assert_int_equal(tern__mx_plan_init(&p, "site.test"), 0);
		a = k == 0 ? mx_answer(best, 2) : mx_answer(equal, 2);
		tern__mx_plan_mx(&p, &a, self, 1);
		assert_true(p.done);
		assert_int_equal(p.status, TERN__MX_LOOP);
		assert_non_null(strstr(p.detail, "loops back to myself"));
	}
}

/* Hosts without addresses: permanent only when every lookup said so. */
static void test_addresses(void **state)
{
	struct tern__dns_mx mx[] = {{10, "a.test"}, {20, "b.test"}};
	struct tern__dns_answer a = mx_answer(mx, 2), none = status_only(TERN__DNS_NXDOMAIN),
				nodata = status_only(TERN__DNS_NODATA),
				fail = status_only(TERN__DNS_TEMPFAIL);
	struct tern__dns_addr addr = v4("192.0.2.20");
	struct tern__dns_answer some = addr_answer(&addr, 1);
	struct tern__mx_plan p;

	(void)state;
	/* Pointing nowhere. */
	assert_int_equal(tern__mx_plan_init(&p, "nowhere.test"), 0);
	tern__mx_plan_mx(&p, &a, NULL, 1);
	answer_all(&p, TERN__DNS_NXDOMAIN);
	assert_true(p.done);
	assert_int_equal(p.status, TERN__MX_NO_ADDRESS);
	assert_string_equal(tern__mx_status_code(p.status), "5.4.4");
	assert_non_null(strstr(p.detail, "a.test"));

	/* One lookup failed for now: temporary. */
	assert_int_equal(tern__mx_plan_init(&p, "flaky.test"), 0);
	tern__mx_plan_mx(&p, &a, NULL, 1);
	tern__mx_plan_addr(&p, 0, TERN__DNS_A, &none);
	tern__mx_plan_addr(&p, 0, TERN__DNS_AAAA, &nodata);
	tern__mx_plan_addr(&p, 1, TERN__DNS_AAAA, &nodata);
	assert_false(p.done);
	tern__mx_plan_addr(&p, 1, TERN__DNS_A, &fail);
	assert_true(p.done);
	assert_int_equal(p.status, TERN__MX_TEMPFAIL);

	/* The backup has an address: that is enough. */
	assert_int_equal(tern__mx_plan_init(&p, "backup.test"), 0);
	tern__mx_plan_mx(&p, &a, NULL, 1);
	tern__mx_plan_addr(&p, 0, TERN__DNS_A, &fail);
	tern__mx_plan_addr(&p, 0, TERN__DNS_AAAA, &fail);
	tern__mx_plan_addr(&p, 1, TERN__DNS_AAAA, &nodata);
	tern__mx_plan_addr(&p, 1, TERN__DNS_A, &some);
	assert_true(p.done);
	assert_int_equal(p.status, TERN__MX_OK);
	assert_int_equal(p.hosts[1].n_v4, 1);
	assert_int_equal(p.hosts[0].n_v4 + p.hosts[0].n_v6, 0);

	/* Out of range or wrong family: ignored. */
	tern__mx_plan_addr(&p, 99, TERN__DNS_A, &some);
}

static void test_timeout(void **state)
{
	struct tern__dns_mx mx[] = {{10, "a.test"}, {20, "b.test"}};
	struct tern__dns_answer a = mx_answer(mx, 2);
	struct tern__dns_addr addr = v4("192.0.2.30");
	struct tern__dns_answer some = addr_answer(&addr, 1);
	struct tern__mx_plan p;

	(void)state;
	assert_int_equal(tern__mx_plan_init(&p, "slow.test"), 0);
	tern__mx_plan_timeout(&p);
	assert_true(p.done);
	assert_int_equal(p.status, TERN__MX_TIMEOUT);
	assert_false(tern__mx_status_permanent(p.status));

	/* Some answers in: what came decides. */
	assert_int_equal(tern__mx_plan_init(&p, "slow.test"), 0);
	tern__mx_plan_mx(&p, &a, NULL, 1);
	tern__mx_plan_addr(&p, 1, TERN__DNS_A, &some);
	tern__mx_plan_timeout(&p);
	assert_int_equal(p.status, TERN__MX_OK);

	assert_int_equal(tern__mx_plan_init(&p, "slow.test"), 0);
	tern__mx_plan_mx(&p, &a, NULL, 1);
	tern__mx_plan_timeout(&p);
	assert_int_equal(p.status, TERN__MX_TIMEOUT);
}

/* ---- the driver against a server that never answers --------------- */

struct mx_seen {
	int calls;
	enum tern__mx_status status;
};

static void on_plan(const struct tern__mx_plan *p, void *arg)
{
	struct mx_seen *s = arg;

	s->calls++;
	s->status = p->status;
}

static void run_loop(struct event_base *b, int ms)
{
	struct timeval tv = {0, ms * 1000};

	event_base_loopexit(b, &tv);
	event_base_dispatch(b);
}

static void test_driver(void **state)
{
	struct event_base *b = event_base_new();
	struct tern__dns *d;
	struct tern__mx_lookup *l1, *l2, *l3;
	struct mx_seen timed = {0}, cancelled = {0}, bad = {0};
	evutil_socket_t fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	const char *self[] = {"me.test", NULL};
	char server[64];

	(void)state;
	sin.sin_addr.s_addr = htonl(0x7f000001);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(server, sizeof(server), "127.0.0.1@%u", ntohs(sin.sin_port));
	assert_int_equal(tern__dns_new(&d, b, server, NULL, 0), 0);

	assert_int_equal(tern__mx_lookup_start(d, "bad..test", NULL, 1, 100, on_plan, &bad, &l1),
			 TERN_EINVAL);
	assert_null(l1);
	assert_int_equal(tern__mx_lookup_start(NULL, "x.test", NULL, 1, 100, on_plan, &bad, &l1),
			 TERN_EINVAL);
	assert_int_equal(tern__mx_lookup_start(d, "slow.test", self, 1, 200, on_plan, &timed, &l1),
			 0);
	assert_int_equal(tern__mx_lookup_start(d, "gone.test", NULL, 1, 200, on_plan, &cancelled,
					       &l2),
			 0);
	assert_int_equal(timed.calls, 0); /* never inside the call */
	tern__mx_cancel(&l2);
	assert_null(l2);
	tern__mx_cancel(&l2);
	for (int i = 0; i < 40 && timed.calls == 0; i++)
		run_loop(b, 50);
	assert_int_equal(timed.calls, 1);
	assert_int_equal(timed.status, TERN__MX_TIMEOUT);
	assert_int_equal(cancelled.calls, 0);
	/* Cancelled with the resolver still there, then the resolver goes. */
	assert_int_equal(tern__mx_lookup_start(d, "late.test", NULL, 1, 5000, on_plan, &cancelled,
					       &l3),
			 0);
	tern__mx_cancel(&l3);
	tern__dns_free(&d);
	run_loop(b, 50);
	assert_int_equal(cancelled.calls, 0);
	assert_int_equal(bad.calls, 0);
	evutil_closesocket(fd);
	event_base_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_failures), cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_implicit_mx),     cmocka_unit_test(test_order),
		cmocka_unit_test(test_host_limit),      cmocka_unit_test(test_self_in_mx),
		cmocka_unit_test(test_addresses),       cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_driver),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
