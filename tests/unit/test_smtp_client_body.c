/* Client body streaming: DATA dot-stuffing and line ends (RFC 5321 4.5.2,
 * 2.3.8), BDAT framing (RFC 3030) with and without PIPELINING, and the
 * output high-water mark. Each body is given whole, one byte at a time and
 * in 3-byte pieces. */
#include "test_smtp_client.h"

#define MAIL_LINE "MAIL FROM:<a@b.example>\r\n"
#define RCPT1 "RCPT TO:<x@y.example>\r\n"

static tern_smtp_client_rcpt one[] = { { "x@y.example", 0, NULL, NULL } };

/* Up to the body: EV_BODY has been pulled and the commands consumed. */
static void to_body(struct tc *t, const char *caps)
{
	tc_ready(t, caps);
	tern_smtp_client_message m;
	tc_msg1(&m, one, 1);
	assert_int_equal(tern_smtp_client_send(t->c, &m), 0);
	bool bdat = strstr(caps, "CHUNKING") != NULL;
	tc_out(t, bdat ? MAIL_LINE RCPT1 : MAIL_LINE RCPT1 "DATA\r\n");
	tc_feed(t, bdat ? "250 ok\r\n250 ok\r\n" : "250 ok\r\n250 ok\r\n354 go\r\n");
	tc_ev(t, TERN_SMTP_CLIENT_EV_BODY);
}

static void body_pieces(struct tc *t, const char *s, size_t piece)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		size_t n = piece && piece < len - i ? piece : len - i;
		char *p = malloc(n);
		memcpy(p, s + i, n);
		assert_int_equal(tern_smtp_client_body(t->c, p, n), (ssize_t)n);
		free(p);
		i += n;
	}
}

struct dot_case {
	const char *in;
	const char *out; /* without the final ".\r\n" */
};

static const struct dot_case dot_cases[] = {
	{ "", "" },
	{ "a\r\n", "a\r\n" },
	{ "a", "a\r\n" },                         /* no final CRLF: one added */
	{ ".", "..\r\n" },
	{ ".\r\n", "..\r\n" },
	{ "..\r\n", "...\r\n" },
	{ "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n" }, /* the smuggling classic */
	{ "a\r\n.b\r\n.", "a\r\n..b\r\n..\r\n" },
	{ "a.b\r\n", "a.b\r\n" },                 /* only at line start */
	{ "\r\n.\r\n", "\r\n..\r\n" },
	{ "a\n.\nb", "a\r\n..\r\nb\r\n" },         /* bare LF becomes CRLF */
	{ "a\r.\rb", "a\r\n..\r\nb\r\n" },         /* bare CR too */
	{ "a\r", "a\r\n" },
	{ "a\r\r\n", "a\r\n\r\n" },
	{ "a\n\n", "a\r\n\r\n" },
	{ "\r\n\r\n", "\r\n\r\n" },
	{ "x\r\n\r\n.\r\n.\r\n", "x\r\n\r\n..\r\n..\r\n" },
	{ "\x80\xff\x01", "\x80\xff\x01\r\n" },
};

static void test_dot_stuffing(void **state)
{
	static const size_t pieces[] = { 0, 1, 2, 3 };
	for (size_t i = 0; i < sizeof(dot_cases) / sizeof(dot_cases[0]); i++) {
		for (size_t k = 0; k < 4; k++) {
			struct tc t;
			tc_opts(&t, state);
			to_body(&t, "250-PIPELINING\r\n");
			body_pieces(&t, dot_cases[i].in, pieces[k]);
			assert_int_equal(tern_smtp_client_body_end(t.c), 0);
			char want[256];
			snprintf(want, sizeof(want), "%s.\r\n", dot_cases[i].out);
			size_t len;
			const char *o = tern_smtp_client_output(t.c, &len);
			if (len != strlen(want) || memcmp(o, want, len) != 0) {
				print_error("dot case %zu piece %zu: got \"%.*s\"\n", i, pieces[k],
					    (int)len, o);
				fail();
			}
			tern_smtp_client_output_consumed(t.c, len);
			tc_feed(&t, "250 ok\r\n");
			tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
			tc_rcpt_is(&t, 0, 250, "", TERN_SMTP_CLIENT_SUCCESS);
			tc_free(&t);
		}
	}
}

/* The reference: normalise line ends in one pass over the whole body,
 * then stuff dots line by line; the engine does it streaming. */
static size_t reference(const char *in, size_t len, char *out)
{
	char norm[1024];
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n') {
			norm[n++] = '\r';
			norm[n++] = '\n';
			i++;
		} else if (in[i] == '\r' || in[i] == '\n') {
			norm[n++] = '\r';
			norm[n++] = '\n';
		} else {
			norm[n++] = in[i];
		}
	}
	if (n && !(n >= 2 && norm[n - 2] == '\r' && norm[n - 1] == '\n')) {
		norm[n++] = '\r';
		norm[n++] = '\n';
	}
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (norm[i] == '.' && (i == 0 || norm[i - 1] == '\n'))
			out[o++] = '.';
		out[o++] = norm[i];
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

/* Random bodies of ".", CR, LF and letters in random pieces: the wire form
 * matches the reference, and CRLF "." CRLF appears only at the very end. */
static void test_dot_stuffing_random(void **state)
{
	uint32_t rng = 12345;
	struct tc t;
	tc_opts(&t, state);
	to_body(&t, "250-PIPELINING\r\n");
	for (int iter = 0; iter < 3000; iter++) {
		char body[200], want[1024];
		rng = rng * 1103515245u + 12345u;
		size_t len = (rng >> 16) % sizeof(body);
		for (size_t i = 0; i < len; i++) {
			rng = rng * 1103515245u + 12345u;
			body[i] = ".\r\na"[(rng >> 16) % 4];
		}
		size_t wlen = reference(body, len, want);
		for (size_t i = 0; i < len;) {
			rng = rng * 1103515245u + 12345u;
			size_t n = 1 + (rng >> 16) % 5;
			if (n > len - i)
				n = len - i;
			assert_int_equal(tern_smtp_client_body(t.c, body + i, n), (ssize_t)n);
			i += n;
		}
		assert_int_equal(tern_smtp_client_body_end(t.c), 0);
		size_t olen;
		const char *o = tern_smtp_client_output(t.c, &olen);
		if (olen != wlen || memcmp(o, want, wlen) != 0) {
			print_error("iteration %d: body of %zu differs\n", iter, len);
			fail();
		}
		/* The end marker only at the end (or as the whole of it). */
		for (size_t i = 0; i + 5 < olen; i++)
			assert_false(memcmp(o + i, "\r\n.\r\n", 5) == 0);
		tern_smtp_client_output_consumed(t.c, olen);
		/* Next message on the same session. */
		tc_feed(&t, "250 ok\r\n");
		tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
		tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
		tern_smtp_client_message m;
		tc_msg1(&m, one, 1);
		assert_int_equal(tern_smtp_client_send(t.c, &m), 0);
		tc_out(&t, MAIL_LINE RCPT1 "DATA\r\n");
		tc_feed(&t, "250 ok\r\n250 ok\r\n354 go\r\n");
		tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	}
	tc_free(&t);
}

/* The engine stops taking body data above the high-water mark and takes
 * it again once the output drained. */
static void test_high_water(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	t.o.output_high_water = 100;
	to_body(&t, "250-PIPELINING\r\n");
	char data[10000];
	memset(data, 'x', sizeof(data));
	size_t taken = 0, rounds = 0, total_out = 0;
	while (taken < sizeof(data)) {
		ssize_t n = tern_smtp_client_body(t.c, data + taken, sizeof(data) - taken);
		assert_true(n >= 0);
		size_t len;
		tern_smtp_client_output(t.c, &len);
		/* Bounded: the mark plus one encoded block. */
		assert_true(len <= 100 + 4096 + 8);
		if (n == 0)
			assert_true(len >= 100);
		taken += (size_t)n;
		assert_int_equal(tern_smtp_client_body(t.c, data, 1), len >= 100 ? 0 : 1);
		if (len < 100)
			taken++;
		tern_smtp_client_output(t.c, &len);
		total_out += len;
		tern_smtp_client_output_consumed(t.c, len);
		rounds++;
	}
	assert_true(rounds > 1);
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	size_t len;
	tern_smtp_client_output(t.c, &len);
	total_out += len;
	assert_int_equal(total_out, taken + 5); /* CRLF . CRLF */
	tc_free(&t);
}

/* ---- BDAT (RFC 3030) ---- */

static void test_bdat_pipelined(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	t.o.bdat_chunk = 4;
	to_body(&t, "250-PIPELINING\r\n250-CHUNKING\r\n");
	/* Octets go unchanged: no dot-stuffing, no CRLF fixing. */
	tc_body(&t, ".\r\n.\nab");
	tc_out(&t, "BDAT 4\r\n.\r\n.");
	assert_int_equal(tern_smtp_client_timeout_ms(t.c), 3u * 60 * 1000);
	tc_body(&t, "cd");
	tc_out(&t, "BDAT 4\r\n\nabc");
	tc_feed(&t, "250 2.0.0 4 octets\r\n");
	tc_no_ev(&t);
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, "BDAT 1 LAST\r\nd");
	tc_feed(&t, "250 ok\r\n");
	tc_no_ev(&t);
	tc_feed(&t, "250 2.0.0 queued\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 250, "2.0.0", TERN_SMTP_CLIENT_SUCCESS);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_free(&t);
}

static void test_bdat_empty_and_exact(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	t.o.bdat_chunk = 4;
	to_body(&t, "250-PIPELINING\r\n250-CHUNKING\r\n");
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, "BDAT 0 LAST\r\n");
	tc_feed(&t, "250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	tc_free(&t);
	/* A body of exactly one chunk: the LAST chunk is empty. */
	tc_opts(&t, state);
	t.o.bdat_chunk = 4;
	to_body(&t, "250-PIPELINING\r\n250-CHUNKING\r\n");
	tc_body(&t, "abcd");
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, "BDAT 4\r\nabcdBDAT 0 LAST\r\n");
	tc_feed(&t, "250 ok\r\n250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_free(&t);
}

/* Without PIPELINING each chunk waits for its reply (RFC 3030 4.2). */
static void test_bdat_unpipelined(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	t.o.bdat_chunk = 2;
	tc_ready(&t, "250-CHUNKING\r\n");
	tern_smtp_client_message m;
	tc_msg1(&m, one, 1);
	assert_int_equal(tern_smtp_client_send(t.c, &m), 0);
	tc_out(&t, MAIL_LINE);
	tc_feed(&t, "250 ok\r\n");
	tc_out(&t, RCPT1);
	tc_feed(&t, "250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	assert_int_equal(tern_smtp_client_body(t.c, "abcde", 5), 2);
	tc_out(&t, "BDAT 2\r\nab");
	assert_int_equal(tern_smtp_client_body(t.c, "cde", 3), 0);
	assert_int_equal(tern_smtp_client_body_end(t.c), TERN_ELIMIT);
	tc_feed(&t, "250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	assert_int_equal(tern_smtp_client_body(t.c, "cde", 3), 2);
	tc_out(&t, "BDAT 2\r\ncd");
	tc_feed(&t, "250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	assert_int_equal(tern_smtp_client_body(t.c, "e", 1), 1);
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, "BDAT 1 LAST\r\ne");
	tc_feed(&t, "250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 250, "", TERN_SMTP_CLIENT_SUCCESS);
	tc_free(&t);
}

/* A refused chunk decides the message even if LAST is accepted; a refused
 * LAST for LMTP goes per recipient. */
static void test_bdat_chunk_refused(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	t.o.bdat_chunk = 2;
	to_body(&t, "250-PIPELINING\r\n250-CHUNKING\r\n");
	tc_body(&t, "abc");
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, "BDAT 2\r\nabBDAT 1 LAST\r\nc");
	tc_feed(&t, "552 5.3.4 too big\r\n250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 552, "5.3.4", TERN_SMTP_CLIENT_PERMFAIL);
	tc_free(&t);
}

static void test_bdat_lmtp(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	t.o.lmtp = true;
	tc_ready(&t, "250-PIPELINING\r\n250-CHUNKING\r\n");
	tern_smtp_client_rcpt r2[] = { { "x@y.example", 0, NULL, NULL },
				       { "z@y.example", 0, NULL, NULL } };
	tern_smtp_client_message m;
	tc_msg1(&m, r2, 2);
	assert_int_equal(tern_smtp_client_send(t.c, &m), 0);
	tc_out(&t, MAIL_LINE RCPT1 "RCPT TO:<z@y.example>\r\n");
	tc_feed(&t, "250 ok\r\n250 ok\r\n250 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	tc_body(&t, "hi");
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, "BDAT 2 LAST\r\nhi");
	tc_feed(&t, "250 a\r\n550 b\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 250, "", TERN_SMTP_CLIENT_SUCCESS);
	tc_rcpt_is(&t, 1, 550, "", TERN_SMTP_CLIENT_PERMFAIL);
	tc_free(&t);
}

/* Many pipelined one-octet chunks, their replies coming in while more
 * chunks go out: replies are matched in order and the message succeeds. */
static void test_bdat_many_chunks(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	t.o.bdat_chunk = 1;
	to_body(&t, "250-PIPELINING\r\n250-CHUNKING\r\n");
	char want[64];
	size_t answered = 0;
	for (int i = 0; i < 40; i++) {
		char ch = (char)('a' + i % 26);
		assert_int_equal(tern_smtp_client_body(t.c, &ch, 1), 1);
		snprintf(want, sizeof(want), "BDAT 1\r\n%c", ch);
		tc_out(&t, want);
		if (i % 3 == 2) {
			tc_feed(&t, "250 2.0.0 chunk\r\n");
			answered++;
		}
	}
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_out(&t, "BDAT 0 LAST\r\n");
	for (; answered < 40; answered++)
		tc_feed(&t, "250 chunk\r\n");
	tc_no_ev(&t);
	tc_feed(&t, "250 2.0.0 done\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_rcpt_is(&t, 0, 250, "2.0.0", TERN_SMTP_CLIENT_SUCCESS);
	assert_string_equal(tern_smtp_client_rcpt_result(t.c, 0)->text, "done");
	tc_free(&t);
}

/* Pipelining order with many recipients: replies matched one for one. */
static void test_many_rcpts_pipelined(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_ready(&t, "250-PIPELINING\r\n");
	tern_smtp_client_rcpt r[30];
	char addr[30][32];
	for (int i = 0; i < 30; i++) {
		snprintf(addr[i], sizeof(addr[i]), "u%d@y.example", i);
		r[i] = (tern_smtp_client_rcpt){ addr[i], 0, NULL, NULL };
	}
	tern_smtp_client_message m;
	tc_msg1(&m, r, 30);
	assert_int_equal(tern_smtp_client_send(t.c, &m), 0);
	size_t len;
	tern_smtp_client_output(t.c, &len);
	tern_smtp_client_output_consumed(t.c, len);
	tc_feed(&t, "250 ok\r\n");
	for (int i = 0; i < 30; i++) {
		char line[64];
		snprintf(line, sizeof(line), "%d %d.1.%d r%d\r\n", i % 3 ? 250 : 550, i % 3 ? 2 : 5,
			 i % 3 ? 5 : 1, i);
		tc_feed(&t, line);
	}
	tc_feed(&t, "354 go\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_BODY);
	assert_int_equal(tern_smtp_client_body_end(t.c), 0);
	tc_feed(&t, "250 2.0.0 ok\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	for (int i = 0; i < 30; i++) {
		if (i % 3) {
			tc_rcpt_is(&t, (size_t)i, 250, "2.0.0", TERN_SMTP_CLIENT_SUCCESS);
		} else {
			char text[16];
			snprintf(text, sizeof(text), "r%d", i);
			tc_rcpt_is(&t, (size_t)i, 550, "5.1.1", TERN_SMTP_CLIENT_PERMFAIL);
			assert_string_equal(tern_smtp_client_rcpt_result(t.c, (size_t)i)->text, text);
		}
	}
	tc_free(&t);
}

/* With no recipient accepted under BDAT, no body is asked for. */
static void test_bdat_no_rcpt(void **state)
{
	struct tc t;
	tc_opts(&t, state);
	tc_ready(&t, "250-PIPELINING\r\n250-CHUNKING\r\n");
	tern_smtp_client_message m;
	tc_msg1(&m, one, 1);
	assert_int_equal(tern_smtp_client_send(t.c, &m), 0);
	tc_out(&t, MAIL_LINE RCPT1);
	tc_feed(&t, "250 ok\r\n550 no\r\n");
	tc_ev(&t, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
	tc_ev(&t, TERN_SMTP_CLIENT_EV_READY);
	assert_int_equal(tern_smtp_client_body(t.c, "x", 1), TERN_ESTATE);
	/* The next message starts with RSET. */
	assert_int_equal(tern_smtp_client_send(t.c, &m), 0);
	tc_out(&t, "RSET\r\n" MAIL_LINE RCPT1);
	tc_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TC2(test_dot_stuffing),
		cmocka_unit_test_prestate(test_dot_stuffing_random, &tc_whole),
		TC2(test_high_water),
		TC2(test_bdat_pipelined),
		TC2(test_bdat_empty_and_exact),
		TC2(test_bdat_unpipelined),
		TC2(test_bdat_chunk_refused),
		TC2(test_bdat_lmtp),
		TC2(test_bdat_no_rcpt),
		TC2(test_bdat_many_chunks),
		TC2(test_many_rcpts_pipelined),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
