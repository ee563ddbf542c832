/* Strict SMTP: message text sent before DATA's 354 (RFC 2920 3.1), the mail
 * loop limit on Received: fields (RFC 5321 6.3), and the Received: counter
 * fed whole and one octet at a time. (Bare LF inside command lines is in
 * test_smtp_commands.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_session.h"
#include "smtp/hops.h"

#define L HS_LINES
#define TX_HEAD HS_EHLO "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"

/* ---- the DATA barrier ---------------------------------------------------- */

/* Feeds in directly (as the net layer does); stops where the engine does. */
static size_t raw(struct hs *h, const char *in)
{
	ssize_t r = tern__smtp_session_feed(h->session, in, strlen(in));
	hs_collect(h);
	assert_true(r >= 0);
	return (size_t)r;
}

/* The text came in the same write as DATA: the engine stops right after
 * DATA's line, the net layer still holds the text when the 354 is handed
 * on, and says so: 554 5.5.0, close, the message aborted, never ended. */
static void test_text_before_354(void **state)
{
	static const char in[] = TX_HEAD "DATA\r\nSubject: smuggled\r\n\r\nhi\r\n.\r\n";
	struct hs h;
	(void)state;
	hs_init(&h);
	hs_open(&h);
	hs_start(&h);
	size_t used = raw(&h, in);
	assert_int_equal(used, strlen(TX_HEAD "DATA\r\n"));
	assert_true(tern__smtp_session_want_barrier(h.session));
	assert_false(tern__smtp_session_want_input(h.session));
	tern__smtp_session_barrier(h.session, true);
	hs_collect(&h);
	hs_expect(&h, L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "354 ", "554 5.5.0"), true,
		  "text before 354");
	assert_true(tern__smtp_session_want_close(h.session));
	assert_int_equal(h.messages, 0);
	assert_int_equal(h.aborts, 1);
	hs_free(&h);
}

/* A client that waited: the same bytes in two writes flow as a message. */
static void test_text_after_354(void **state)
{
	struct hs h;
	(void)state;
	hs_init(&h);
	hs_open(&h);
	hs_start(&h);
	assert_int_equal(raw(&h, TX_HEAD "DATA\r\n"), strlen(TX_HEAD "DATA\r\n"));
	assert_true(tern__smtp_session_want_barrier(h.session));
	tern__smtp_session_barrier(h.session, false);
	assert_false(tern__smtp_session_want_barrier(h.session));
	assert_true(tern__smtp_session_want_input(h.session));
	raw(&h, "Subject: fine\r\n\r\nhi\r\n.\r\n");
	hs_expect(&h, L(HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5", "354 ", "250 2.6.0"), true,
		  "text after 354");
	assert_int_equal(h.messages, 1);
	hs_free(&h);
}

/* While on_data_start decides, nothing is taken; the 354 comes with the
 * decision, and the barrier after it. BDAT has no barrier (its length
 * frames it, RFC 3030). */
static void test_barrier_after_pending_start_and_not_bdat(void **state)
{
	struct hs h;
	(void)state;
	hs_init(&h);
	hs_push_pending(&h, HS_DATA_START);
	hs_open(&h);
	hs_start(&h);
	raw(&h, TX_HEAD "DATA\r\n");
	assert_true(h.pending);
	assert_false(tern__smtp_session_want_barrier(h.session));
	hs_resume_all(&h);
	assert_true(tern__smtp_session_want_barrier(h.session));
	tern__smtp_session_barrier(h.session, true);
	hs_collect(&h);
	assert_int_equal(hs_count(&h, "554 5.5.0"), 1);
	hs_free(&h);

	hs_init(&h);
	hs_open(&h);
	hs_start(&h);
	raw(&h, TX_HEAD "BDAT 4 LAST\r\nhi\r\n");
	assert_false(tern__smtp_session_want_barrier(h.session));
	assert_int_equal(h.messages, 1);
	hs_free(&h);
}

/* ---- hop count ----------------------------------------------------------- */

static char *received_lines(unsigned n, const char *extra)
{
	size_t cap = (size_t)n * 64 + strlen(extra) + 64;
	char *s = malloc(cap);
	size_t len = 0;
	assert_non_null(s);
	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s: from h%u by h%u\r\n",
					i % 2 ? "Received" : "rEcEiVeD", i, i + 1);
	snprintf(s + len, cap - len, "%s", extra);
	return s;
}

static void hops_case(unsigned n, unsigned limit, bool bdat, const char *want)
{
	char *headers = received_lines(n, "Subject: loop\r\n\r\nReceived: in the body\r\n");
	struct hs h;
	hs_init(&h);
	h.opts.max_received_headers = limit;
	hs_open(&h);
	hs_start(&h);
	if (bdat) {
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "BDAT %zu LAST\r\n", strlen(headers));
		char *in = malloc(strlen(TX_HEAD) + strlen(cmd) + strlen(headers) + 1);
		assert_non_null(in);
		sprintf(in, "%s%s%s", TX_HEAD, cmd, headers);
		hs_feed(&h, in, strlen(in), 0, true);
		free(in);
	} else {
		hs_feed_str(&h, TX_HEAD "DATA\r\n");
		hs_feed(&h, headers, strlen(headers), 1, true); /* byte by byte */
		hs_feed_str(&h, ".\r\n");
	}
	if (hs_count(&h, want) != 1) {
		hs_dump(&h, "hops");
		fail_msg("%u Received: fields, limit %u, %s: want %s", n, limit,
			 bdat ? "BDAT" : "DATA", want);
	}
	if (want[0] == '5')
		assert_int_equal(h.messages, 0);
	free(headers);
	hs_free(&h);
}

static void test_hop_limit(void **state)
{
	(void)state;
	hops_case(50, 0, false, "250 2.6.0");  /* the default 50 */
	hops_case(51, 0, false, "554 5.4.6");
	hops_case(3, 3, false, "250 2.6.0");
	hops_case(4, 3, false, "554 5.4.6");
	hops_case(4, 3, true, "554 5.4.6");
	hops_case(3, 3, true, "250 2.6.0");
}

/* ---- the counter itself -------------------------------------------------- */

static unsigned count(const char *text, size_t step)
{
	struct tern__hops h = {0};
	size_t len = strlen(text);
	for (size_t off = 0; off < len;) {
		size_t n = step && step < len - off ? step : len - off;
		tern__hops_scan(&h, text + off, n);
		off += n;
	}
	return h.count;
}

static void test_hops_scan(void **state)
{
	static const struct {
		const char *text;
		unsigned want;
	} cases[] = {
		{"Received: a\r\nReceived: b\r\n\r\n", 2},
		{"RECEIVED: a\r\nreceived:b\r\n\r\nReceived: body\r\n", 2},
		{"X: y\r\n Received: folded, not a field\r\nReceived: c\r\n\r\n", 1},
		{"Received-SPF: pass\r\nReceivedX: no\r\nReceived : no\r\n\r\n", 0},
		{"Subject: Received: no\r\n\r\n", 0},
		{"Received: a\n\nReceived: after a bare-LF empty line\r\n", 1},
		{"", 0},
		{"Received: unterminated", 1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t step = 0; step <= 3; step++)
			if (count(cases[i].text, step) != cases[i].want)
				fail_msg("case %zu step %zu: %u, want %u", i, step,
					 count(cases[i].text, step), cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_before_354),
		cmocka_unit_test(test_text_after_354),
		cmocka_unit_test(test_barrier_after_pending_start_and_not_bdat),
		cmocka_unit_test(test_hop_limit),
		cmocka_unit_test(test_hops_scan),
	};
	return cmocka_run_group_tests_name("smtp strict", tests, NULL, NULL);
}
