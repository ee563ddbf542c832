/* Shared by the tests/unit/test_smtp_client*.c files: a scripted server.
 * Every conversation runs twice (cmocka prestate): the server's bytes fed
 * whole, then one byte at a time, each from an exact-size heap copy so an
 * over-read shows under ASan and valgrind. */
#ifndef TEST_SMTP_CLIENT_H
#define TEST_SMTP_CLIENT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/client/client.h"
#include "tern/smtp_client.h"

static bool tc_whole = false, tc_bytes = true;

/* Registers f twice: fed whole and fed byte by byte. */
#define TC2(f)                                                                              \
	cmocka_unit_test_prestate(f, &tc_whole), cmocka_unit_test_prestate(f, &tc_bytes)

struct tc {
	tern_smtp_client *c;
	bool bytes;
	tern_smtp_client_options o;
};

static inline void tc_opts(struct tc *t, void **state)
{
	memset(t, 0, sizeof(*t));
	t->bytes = *(bool *)*state;
	tern_smtp_client_options_init(&t->o);
	t->o.helo_name = "client.example";
	t->o.tls = TERN_SMTP_CLIENT_TLS_NONE;
}

static inline void tc_start(struct tc *t)
{
	assert_int_equal(tern_smtp_client_new(&t->c, &t->o), 0);
}

static inline void tc_free(struct tc *t)
{
	tern_smtp_client_destroy(&t->c);
	assert_null(t->c);
}

static inline void tc_feed(struct tc *t, const char *s)
{
	size_t len = strlen(s);
	if (t->bytes) {
		for (size_t i = 0; i < len; i++) {
			char *p = malloc(1);
			*p = s[i];
			assert_int_equal(tern_smtp_client_feed(t->c, p, 1), 1);
			free(p);
		}
	} else {
		char *p = malloc(len ? len : 1);
		memcpy(p, s, len);
		assert_int_equal(tern_smtp_client_feed(t->c, p, len), (ssize_t)len);
		free(p);
	}
}

/* The client's output so far must be exactly s; it is consumed. */
static inline void tc_out(struct tc *t, const char *s)
{
	size_t len = 0;
	const char *o = tern_smtp_client_output(t->c, &len);
	if (len != strlen(s) || memcmp(o, s, len) != 0) {
		print_error("output: want \"%s\"\n got  \"%.*s\"\n", s, (int)len, o);
		fail();
	}
	tern_smtp_client_output_consumed(t->c, len);
}

static inline void tc_ev(struct tc *t, enum tern_smtp_client_event ev)
{
	assert_int_equal(tern_smtp_client_next_event(t->c), ev);
}

static inline void tc_no_ev(struct tc *t)
{
	assert_int_equal(tern_smtp_client_next_event(t->c), TERN_SMTP_CLIENT_EV_NONE);
}

#define EHLO_LINE "EHLO client.example\r\n"

/* Greeting and EHLO with the given extension lines ("250-X\r\n..."; the
 * last "250 ..." is added). Ends at EV_READY. */
static inline void tc_hello(struct tc *t, const char *caps)
{
	tc_start(t);
	tc_out(t, "");
	tc_feed(t, "220 mx.example ESMTP\r\n");
	tc_out(t, t->o.lmtp ? "LHLO client.example\r\n" : EHLO_LINE);
	char buf[2048];
	snprintf(buf, sizeof(buf), "250-mx.example\r\n%s250 HELP\r\n", caps);
	tc_feed(t, buf);
}

static inline void tc_ready(struct tc *t, const char *caps)
{
	tc_hello(t, caps);
	tc_out(t, "");
	tc_ev(t, TERN_SMTP_CLIENT_EV_READY);
	tc_no_ev(t);
}

static inline void tc_body(struct tc *t, const char *s)
{
	size_t len = strlen(s);
	char *p = malloc(len ? len : 1);
	memcpy(p, s, len);
	assert_int_equal(tern_smtp_client_body(t->c, p, len), (ssize_t)len);
	free(p);
}

static inline void tc_rcpt_is(struct tc *t, size_t i, int code, const char *enh,
			      enum tern_smtp_client_class cls)
{
	const tern_smtp_client_result *r = tern_smtp_client_rcpt_result(t->c, i);
	assert_non_null(r);
	assert_int_equal(r->code, code);
	assert_string_equal(r->enhanced, enh);
	assert_int_equal(r->cls, cls);
}

static inline void tc_msg1(tern_smtp_client_message *m, tern_smtp_client_rcpt *r, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->from = "a@b.example";
	m->rcpts = r;
	m->n_rcpts = n;
}

#endif
