/* Allocations of the SMTP engine in the steady state (issue 10: "no
 * per-command allocation in the steady state").
 *
 * The allocator is wrapped at link time (alloc_fail.h) and only counts
 * here. A session is warmed up with one whole transaction, then the same
 * traffic runs again many times and the allocations it made are counted:
 * the count must not grow with the number of commands. What a transaction
 * legitimately keeps (its envelope strings) is bounded per transaction and
 * given back at its end; the checks say which. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "helper_session.h"

#define BUF_CAP (1u << 20)
#define ROUNDS 200

static void bytes_prealloc(struct hs_bytes *b)
{
	b->data = af_real_malloc(BUF_CAP);
	assert_non_null(b->data);
	b->data[0] = '\0';
	b->len = 0;
	b->cap = BUF_CAP;
}

/* The harness's buffers come from the real allocator, so only the engine's
 * own allocations are counted. */
static void open_session(struct hs *h, unsigned max_bad)
{
	hs_init(h);
	/* The limits on junk and bad commands would close the session long
	 * before the rounds end; they are not what is measured. */
	h->opts.max_junk_commands = 0;
	h->opts.max_bad_commands = max_bad;
	bytes_prealloc(&h->out);
	bytes_prealloc(&h->events);
	bytes_prealloc(&h->body);
	bytes_prealloc(&h->last_body);
	hs_open(h);
	hs_start(h);
	hs_feed_str(h, HS_EHLO);
	hs_collect(h);
}

static void close_session(struct hs *h)
{
	struct hs_bytes b[4] = {h->out, h->events, h->body, h->last_body};
	h->out = h->events = h->body = h->last_body = (struct hs_bytes){0};
	hs_free(h);
	for (size_t i = 0; i < 4; i++)
		af_real_free(b[i].data);
}

/* Runs text ROUNDS times after one warm-up round; returns the allocations
 * counted over the ROUNDS and checks that none of them is still live. */
static unsigned steady(struct hs *h, const char *text)
{
	hs_feed_str(h, text);
	hs_collect(h);
	/* The output buffer is emptied between rounds, so its growth is not
	 * what is measured. */
	h->out.len = 0;
	af_arm(0);
	for (unsigned i = 0; i < ROUNDS; i++) {
		size_t n = strlen(text);
		assert_int_equal(hs_feed(h, text, n, 0, true), n);
		hs_collect(h);
		h->out.len = 0;
		h->events.len = 0;
	}
	unsigned count = af_disarm();
	if (af_live() != 0)
		af_report("steady state");
	assert_int_equal(af_live(), 0);
	return count;
}

/* Commands that change nothing: no allocation at all. */
static void test_idle_commands(void **state)
{
	(void)state;
	struct hs h;
	open_session(&h, 10);
	unsigned n = steady(&h, "NOOP\r\nRSET\r\nHELP\r\nNOOP hello\r\n");
	print_message("NOOP/RSET/HELP: %u allocations in %u rounds\n", n, ROUNDS);
	assert_int_equal(n, 0);
	close_session(&h);
}

/* Bad commands answered with 500/501: the error path allocates nothing. */
static void test_rejected_commands(void **state)
{
	(void)state;
	struct hs h;
	open_session(&h, 0);
	unsigned n = steady(&h, "RCPT TO:<a@b.example>\r\nXYZZY\r\n");
	print_message("rejected commands: %u allocations in %u rounds\n", n, ROUNDS);
	assert_int_equal(n, 0);
	close_session(&h);
}

static unsigned transaction(const char *text, unsigned *per_round_r)
{
	struct hs h;
	open_session(&h, 10);
	unsigned n = steady(&h, text);
	assert_int_equal(h.messages, ROUNDS + 1);
	close_session(&h);
	*per_round_r = (n + ROUNDS - 1) / ROUNDS;
	return n;
}

/* A whole pipelined transaction: whatever it allocates is freed at its
 * end, and the number does not grow with the size of the body (no
 * per-line work) or with the number of rounds. */
static void test_transactions(void **state)
{
	(void)state;
	static const char small[] = "MAIL FROM:<a@client.example>\r\n"
				    "RCPT TO:<b@mx.test>\r\n"
				    "DATA\r\n"
				    "Subject: x\r\n\r\nhello\r\n.\r\n";
	char big[64 * 1024];
	size_t off = (size_t)snprintf(big, sizeof(big), "MAIL FROM:<a@client.example>\r\n"
							"RCPT TO:<b@mx.test>\r\n"
							"DATA\r\nSubject: y\r\n\r\n");
	while (off + 80 < sizeof(big) - 8) {
		memcpy(big + off, "..a line of text that is dot-stuffed, and long enough to count\r\n",
		       64);
		off += 64;
	}
	memcpy(big + off, ".\r\n", 4);

	static const char bdat[] = "MAIL FROM:<a@client.example>\r\n"
				   "RCPT TO:<b@mx.test>\r\n"
				   "BDAT 21\r\nSubject: z\r\n\r\nhello\r\n"
				   "BDAT 9 LAST\r\n0123456\r\n";

	unsigned per_small, per_big, per_bdat;
	unsigned n_small = transaction(small, &per_small);
	unsigned n_big = transaction(big, &per_big);
	unsigned n_bdat = transaction(bdat, &per_bdat);
	print_message("transaction: %u allocations in %u rounds (%u each); with a 64 KiB body "
		      "%u (%u each); BDAT in two chunks %u (%u each)\n",
		      n_small, ROUNDS, per_small, n_big, per_big, n_bdat, per_bdat);
	/* The body's size and its framing change nothing. */
	assert_int_equal(per_small, per_big);
	assert_int_equal(per_small, per_bdat);
	/* What a transaction keeps until its end: the sender's copy, the
	 * recipient's copy, the recipient list and the trace header; nothing
	 * per command or per line beyond that. */
	assert_true(per_small <= 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_commands),
		cmocka_unit_test(test_rejected_commands),
		cmocka_unit_test(test_transactions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
