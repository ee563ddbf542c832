/* The DATA body decoder (src/smtp/body.c) against a reference written from
 * the rules, not from the decoder: random bodies of ordinary text, dots,
 * CR and LF, fed whole, one byte at a time, split in two at every position,
 * in random slices, and with an embedder that pauses after every slice.
 * The decoder's fast path skips over whole lines; every way of cutting the
 * input must decode the same (dots and CR/LF across feeds included). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/body.h"

#define MAXIN 600
#define MAXOUT (2 * MAXIN + 64)

/* The rules (RFC 5321 4.5.2, 4.1.1.4; body.h): a line starts only after a
 * CRLF on the wire (or at the start); "." CRLF there ends the data, another
 * leading "." is removed; a bare CR or LF becomes CRLF (or is an error) and
 * starts no line; a line over max octets with its CRLF is an error. Returns
 * the octets consumed (up to and including the end line). */
static size_t ref_decode(const char *in, size_t len, unsigned max, bool reject, char *out,
			 size_t *outlen_r, bool *done_r, enum tern__body_error *err_r)
{
	size_t i = 0, o = 0;
	bool bol = true;
	unsigned ll = 0;
	*err_r = TERN__BODY_OK;
	*done_r = false;
	while (i < len) {
		if (bol && in[i] == '.') {
			if (i + 2 < len && in[i + 1] == '\r' && in[i + 2] == '\n') {
				*done_r = true;
				*outlen_r = o;
				return i + 3;
			}
			i++;
			bol = false;
			continue;
		}
		bol = false;
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			i += 2;
			bol = true;
			ll = 0;
			continue;
		}
		if (in[i] == '\r' || in[i] == '\n') {
			if (reject && *err_r == TERN__BODY_OK)
				*err_r = TERN__BODY_BARE_NEWLINE;
			out[o++] = '\r';
			out[o++] = '\n';
			i++;
			ll = 0;
			continue;
		}
		ll++;
		if (max && ll + 2 > max && *err_r == TERN__BODY_OK)
			*err_r = TERN__BODY_LINE_TOO_LONG;
		out[o++] = in[i++];
	}
	*outlen_r = o;
	return len;
}

struct sink {
	char buf[MAXOUT];
	size_t len;
	bool pause; /* pause after every slice */
};

static int emit(void *ctx, const char *p, size_t n)
{
	struct sink *k = ctx;
	assert_true(k->len + n <= sizeof(k->buf));
	memcpy(k->buf + k->len, p, n);
	k->len += n;
	return k->pause;
}

/* Feeds in[0, len) in slices of the given sizes (cycled; 0 = the rest).
 * Returns octets consumed when done (or len). */
static size_t run(struct tern__smtp_body *b, const struct tern__body_policy *pol, const char *in,
		  size_t len, const size_t *slices, size_t nslices, struct sink *k, bool *done_r)
{
	size_t pos = 0, si = 0;
	memset(b, 0, sizeof(*b));
	tern__body_data_begin(b);
	*done_r = false;
	while (pos < len && !*done_r) {
		size_t want = slices[si++ % nslices];
		if (want == 0 || want > len - pos)
			want = len - pos;
		size_t end = pos + want;
		while (pos < end && !*done_r) {
			size_t used = tern__body_data_feed(b, pol, in + pos, end - pos, done_r, emit, k);
			assert_true(used <= end - pos);
			/* A pause may consume nothing more only if it emitted. */
			pos += used;
			if (used == 0 && !*done_r)
				assert_true(k->pause);
		}
	}
	return pos;
}

static void check_one(const char *in, size_t len, unsigned max, bool reject, const size_t *slices,
		      size_t nslices, bool pause)
{
	char ref[MAXOUT];
	size_t ref_len;
	bool ref_done, done;
	enum tern__body_error ref_err;
	size_t ref_used = ref_decode(in, len, max, reject, ref, &ref_len, &ref_done, &ref_err);
	struct tern__smtp_body b;
	struct tern__body_policy pol = {max,
					reject ? TERN_SMTP_BARE_NEWLINE_REJECT
					       : TERN_SMTP_BARE_NEWLINE_NORMALIZE};
	static struct sink k;
	memset(&k, 0, sizeof(k));
	k.pause = pause;
	size_t used = run(&b, &pol, in, len, slices, nslices, &k, &done);
	if (used != ref_used || done != ref_done || b.error != ref_err ||
	    (ref_err == TERN__BODY_OK && (k.len != ref_len || memcmp(k.buf, ref, ref_len) != 0))) {
		fprintf(stderr, "mismatch: max %u reject %d pause %d slice0 %zu: used %zu/%zu "
				"done %d/%d error %d/%d out %zu/%zu\ninput:",
			max, reject, pause, slices[0], used, ref_used, done, ref_done, b.error,
			ref_err, k.len, ref_len);
		for (size_t i = 0; i < len; i++)
			fprintf(stderr, in[i] == '\r' ? "\\r" : in[i] == '\n' ? "\\n\n" : "%c", in[i]);
		fprintf(stderr, "\n");
		fail();
	}
}

/* Every way of cutting one input. */
static void check_all_cuts(const char *in, size_t len, unsigned max, bool reject)
{
	static const size_t whole[] = {0}, one[] = {1}, three[] = {3}, odd[] = {7, 1, 2, 64, 5};
	check_one(in, len, max, reject, whole, 1, false);
	check_one(in, len, max, reject, whole, 1, true);
	check_one(in, len, max, reject, one, 1, false);
	check_one(in, len, max, reject, three, 1, false);
	check_one(in, len, max, reject, odd, 5, true);
	for (size_t cut = 1; cut < len; cut++) {
		size_t two[] = {cut, 0};
		check_one(in, len, max, reject, two, 2, false);
	}
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* Text made mostly of ordinary octets (runs longer and shorter than the
 * 16-octet scan), with CRLF, dots at line starts, bare CR and LF. */
static size_t make_body(char *p, size_t cap, bool clean)
{
	size_t n = 0;
	while (n + 8 < cap - 8) {
		uint32_t r = rnd() % 100;
		if (r < 60) {
			size_t run = rnd() % 40;
			for (size_t j = 0; j < run && n + 8 < cap - 8; j++)
				p[n++] = (char)('a' + rnd() % 26);
		} else if (r < 78) {
			p[n++] = '\r';
			p[n++] = '\n';
		} else if (r < 88) {
			p[n++] = '.';
		} else if (r < 92) {
			p[n++] = '\r';
			p[n++] = '\n';
			p[n++] = '.';
			p[n++] = '.';
		} else if (!clean && r < 96) {
			p[n++] = '\r';
		} else if (!clean) {
			p[n++] = '\n';
		}
		if (rnd() % 30 == 0)
			break;
	}
	/* The end of data, then what follows it (the next command). */
	memcpy(p + n, "\r\n.\r\nQU", 7);
	return n + 7;
}

static void test_random_bodies(void **state)
{
	(void)state;
	char in[MAXIN];
	for (int iter = 0; iter < 600; iter++) {
		bool clean = iter % 3 == 0;
		size_t len = make_body(in, sizeof(in), clean);
		check_all_cuts(in, len, 0, false);
		check_all_cuts(in, len, 0, true);
		check_all_cuts(in, len, 30, false);
	}
}

static void test_fixed_bodies(void **state)
{
	(void)state;
	static const char *const bodies[] = {
		".\r\n",
		"..\r\n.\r\n",
		"a\r\n.\r\n",
		"abcdefghijklmnopqrstuvwxyz0123456789\r\n.x\r\n..\r\n.\r\n",
		"abcdefghijklmnopqrstuvwxyz0123456789\r\n\r\n\r\n.\r\n",
		"abcdefghijklmnop\rq\r\n.\r\n",
		"abcdefghijklmnop\nq\r\n.\r\n",
		"abcdefghijklmnop\n.\r\n.\r\n", /* a bare LF starts no line */
		"abcdefghijklmnop\r.\r\n.\r\n", /* nor does a bare CR */
		".\r.\r\n.\r\n",
		".\rX\r\n.\r\n",
		"0123456789012345678901234567890123456789\r\nshort\r\n.\r\n",
		"\r\n\r\n.\r\n",
		"x\r\n\r.\r\n.\r\n",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t len = strlen(bodies[i]);
		check_all_cuts(bodies[i], len, 0, false);
		check_all_cuts(bodies[i], len, 0, true);
		check_all_cuts(bodies[i], len, 20, false);
		check_all_cuts(bodies[i], len, 41, false);
		check_all_cuts(bodies[i], len, 42, false);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_bodies),
		cmocka_unit_test(test_random_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
