/* The client engine under a failing allocator (alloc_fail.h; this binary is
 * linked with --wrap for the allocator, see the end of CMakeLists.txt).
 * Each scripted session runs once to count its allocations N, then again
 * for every k in 1..N with allocation k failing, and:
 *   - nothing crashes (ASan, valgrind);
 *   - a session that fails says so with a temporary failure (a shortage of
 *     memory never becomes a permanent refusal), and so does every
 *     recipient left open;
 *   - no result claims success that the run without failure did not have;
 *   - once the session is destroyed nothing allocated while armed is left. */
#include "test_smtp_client.h"

#include "alloc_fail.h"

struct script {
	bool lmtp;
	const char *const *replies; /* fed one by one, after the client acted */
	int want[2][2];             /* the base run's classes */
};

static const char *const smtp_replies[] = {
	"220 mx\r\n",
	"250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n",
	"220 go\r\n",
	"250-mx\r\n250-PIPELINING\r\n250-DSN\r\n250-SIZE 100000\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n",
	"235 2.7.0 ok\r\n",
	"250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n",
	"250 2.0.0 queued\r\n",
	"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
	"250 2.0.0 queued\r\n",
	"221 bye\r\n",
	NULL,
};

static const char *const lmtp_replies[] = {
	"220 lmtp\r\n",
	"250-lmtp\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n",
	"250 ok\r\n250 ok\r\n250 ok\r\n",
	/* two 4-octet chunks, then LAST: one reply per recipient */
	"250 ok\r\n250 ok\r\n250 2.1.0 a\r\n452 4.2.2 b\r\n",
	"250 ok\r\n250 ok\r\n250 ok\r\n",
	"250 ok\r\n250 ok\r\n250 a\r\n250 b\r\n",
	"221 bye\r\n",
	NULL,
};

struct run {
	unsigned sent;
	bool closed;
	bool failed;
	enum tern_smtp_client_class failure_cls;
	/* Per message, per recipient: the class seen. */
	int cls[2][3];
};

static tern_smtp_client_rcpt rcpts[] = {
	{ "x@y.example", TERN_SMTP_NOTIFY_SUCCESS, "rfc822", "x@y.example" },
	{ "w@b\xc3\xbc" "cher.example", 0, NULL, NULL },
};

static void act(tern_smtp_client *c, struct run *r)
{
	enum tern_smtp_client_event ev;
	while ((ev = tern_smtp_client_next_event(c)) != TERN_SMTP_CLIENT_EV_NONE) {
		switch (ev) {
		case TERN_SMTP_CLIENT_EV_READY:
			if (r->sent < 2) {
				tern_smtp_client_message m;
				tc_msg1(&m, rcpts, 2);
				m.size = 100;
				m.body = TERN_SMTP_BODY_8BITMIME;
				if (r->sent == 1)
					m.body = TERN_SMTP_BODY_7BIT;
				int rc = tern_smtp_client_send(c, &m);
				assert_true(rc == 0 || rc == TERN_ENOMEM);
				r->sent++;
			} else {
				int rc = tern_smtp_client_quit(c);
				assert_true(rc == 0 || rc == TERN_ENOMEM);
			}
			break;
		case TERN_SMTP_CLIENT_EV_TLS: {
			int rc = tern_smtp_client_tls_started(c);
			assert_true(rc == 0 || rc == TERN_ENOMEM);
			break;
		}
		case TERN_SMTP_CLIENT_EV_BODY: {
			ssize_t n = tern_smtp_client_body(c, "hello\r\n.x\r\n", 11);
			assert_true(n == 11 || n == TERN_ENOMEM || n == TERN_ESTATE);
			int rc = tern_smtp_client_body_end(c);
			assert_true(rc == 0 || rc == TERN_ENOMEM || rc == TERN_ESTATE);
			break;
		}
		case TERN_SMTP_CLIENT_EV_MESSAGE_DONE:
			for (size_t i = 0; i < 2; i++) {
				const tern_smtp_client_result *res = tern_smtp_client_rcpt_result(c, i);
				assert_non_null(res);
				assert_non_null(res->text);
				if (r->sent >= 1 && r->sent <= 2)
					r->cls[r->sent - 1][i] = (int)res->cls;
			}
			break;
		case TERN_SMTP_CLIENT_EV_CLOSED:
			r->closed = true;
			if (tern_smtp_client_failure(c)) {
				r->failed = true;
				r->failure_cls = tern_smtp_client_failure(c)->cls;
			}
			break;
		default:
			fail();
		}
	}
	size_t len;
	tern_smtp_client_output(c, &len);
	tern_smtp_client_output_consumed(c, len);
}

static void run_script(const struct script *s, struct run *r, bool bytes)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < 3; j++)
			r->cls[i][j] = -1;
	tern_smtp_client_options o;
	tern_smtp_client_options_init(&o);
	o.helo_name = "client.example";
	o.lmtp = s->lmtp;
	o.auth_user = "user";
	o.auth_password = "pencil";
	o.tls = TERN_SMTP_CLIENT_TLS_OPPORTUNISTIC;
	o.bdat_chunk = 4;
	tern_smtp_client *c = NULL;
	int rc = tern_smtp_client_new(&c, &o);
	if (rc != 0) {
		assert_int_equal(rc, TERN_ENOMEM);
		assert_null(c);
		r->failed = true;
		r->failure_cls = TERN_SMTP_CLIENT_TEMPFAIL;
		return;
	}
	for (size_t i = 0; s->replies[i] && !r->closed; i++) {
		const char *p = s->replies[i];
		size_t len = strlen(p);
		if (bytes) {
			for (size_t k = 0; k < len; k++) {
				assert_int_equal(tern_smtp_client_feed(c, p + k, 1), 1);
				act(c, r);
			}
		} else {
			assert_int_equal(tern_smtp_client_feed(c, p, len), (ssize_t)len);
			act(c, r);
		}
	}
	tern_smtp_client_timeout(c);
	act(c, r);
	tern_smtp_client_destroy(&c);
}

static void check_script(const struct script *s, bool bytes)
{
	struct run base;
	af_arm(0);
	run_script(s, &base, bytes);
	unsigned n = af_disarm();
	assert_false(base.failed);
	assert_true(n > 10);
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < 2; j++)
			if (base.cls[i][j] != s->want[i][j]) {
				print_error("base msg %zu rcpt %zu: %d\n", i, j, base.cls[i][j]);
				fail();
			}
	bool bad = false;
	for (unsigned k = 1; k <= n; k++) {
		struct run r;
		af_arm(k);
		run_script(s, &r, bytes);
		af_disarm();
		if (af_live() != 0) {
			print_error("k=%u: leak\n", k);
			af_report("leak");
			bad = true;
		}
		if (r.failed && r.failure_cls != TERN_SMTP_CLIENT_TEMPFAIL) {
			print_error("k=%u: permanent session failure for ENOMEM\n", k);
			bad = true;
		}
		for (size_t i = 0; i < 2; i++)
			for (size_t j = 0; j < 2; j++) {
				if (r.cls[i][j] == TERN_SMTP_CLIENT_SUCCESS &&
				    base.cls[i][j] != TERN_SMTP_CLIENT_SUCCESS) {
					print_error("k=%u: success not in the base run\n", k);
					bad = true;
				}
				if (r.cls[i][j] == TERN_SMTP_CLIENT_PERMFAIL &&
				    base.cls[i][j] != TERN_SMTP_CLIENT_PERMFAIL) {
					print_error("k=%u msg %zu rcpt %zu: permanent for ENOMEM\n", k,
						    i, j);
					bad = true;
				}
			}
	}
	assert_false(bad);
}

static void test_alloc_smtp(void **state)
{
	struct script s = { false, smtp_replies,
			    { { TERN_SMTP_CLIENT_SUCCESS, TERN_SMTP_CLIENT_PERMFAIL },
			      { TERN_SMTP_CLIENT_SUCCESS, TERN_SMTP_CLIENT_SUCCESS } } };
	check_script(&s, *(bool *)*state);
}

static void test_alloc_lmtp(void **state)
{
	struct script s = { true, lmtp_replies,
			    { { TERN_SMTP_CLIENT_SUCCESS, TERN_SMTP_CLIENT_TEMPFAIL },
			      { TERN_SMTP_CLIENT_SUCCESS, TERN_SMTP_CLIENT_SUCCESS } } };
	check_script(&s, *(bool *)*state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TC2(test_alloc_smtp),
		TC2(test_alloc_lmtp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
