/* The streaming header filter (src/mail/header_filter.c): watched fields
 * held and decided, everything else passed unchanged, the same result
 * whatever the pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mail/header_filter.h"

static const char *const watch[] = {"Authentication-Results", "From", NULL};

struct sink {
	char *out;
	size_t len, cap;
	unsigned decided;
	bool saw_truncated;
};

static int out(const void *data, size_t len, void *arg)
{
	struct sink *s = arg;

	if (s->len + len + 1 > s->cap) {
		s->cap = (s->len + len + 1) * 2;
		s->out = realloc(s->out, s->cap);
		assert_non_null(s->out);
	}
	memcpy(s->out + s->len, data, len);
	s->len += len;
	s->out[s->len] = '\0';
	return 0;
}

/* Drops Authentication-Results fields naming mx.test as their authserv-id
 * (a plain prefix test is enough for the filter's own tests), keeps From. */
static bool decide(const char *field, size_t len, size_t name_len, bool truncated, void *arg)
{
	struct sink *s = arg;
	const char *v = field + name_len + 1;

	s->decided++;
	if (truncated)
		s->saw_truncated = true;
	assert_true(name_len < len);
	assert_int_equal(field[name_len], ':');
	if (name_len == 4)
		return true;
	while (*v == ' ' || *v == '\t')
		v++;
	return strncmp(v, "mx.test;", 8) != 0;
}

/* Runs input through the filter in pieces of `step` octets (0: whole). */
static struct sink run(const char *input, size_t len, size_t step)
{
	struct tern__hdr_filter f;
	struct sink s = {0};

	tern__hdr_filter_init(&f, watch, decide, out, &s);
	if (step == 0)
		step = len ? len : 1;
	for (size_t off = 0; off < len; off += step) {
		size_t n = off + step > len ? len - off : step;

		assert_int_equal(tern__hdr_filter_feed(&f, input + off, n), 0);
	}
	assert_int_equal(tern__hdr_filter_end(&f), 0);
	tern__hdr_filter_clear(&f);
	if (s.out == NULL) {
		s.out = calloc(1, 1);
		assert_non_null(s.out);
	}
	return s;
}

/* Every piece size from 1 to 17 and whole gives expect. */
static void check(const char *input, const char *expect)
{
	for (size_t step = 0; step <= 17; step++) {
		struct sink s = run(input, strlen(input), step);

		assert_int_equal(s.len, strlen(expect));
		assert_string_equal(s.out, expect);
		free(s.out);
	}
}

static void test_unwatched_pass_unchanged(void **state)
{
	(void)state;
	check("", "");
	check("Subject: hi\r\n\r\nbody\r\n", "Subject: hi\r\n\r\nbody\r\n");
	check("Subject: a\r\n b\r\n\tc\r\nTo: x\r\n\r\nAuthentication-Results: mx.test; x\r\n",
	      "Subject: a\r\n b\r\n\tc\r\nTo: x\r\n\r\nAuthentication-Results: mx.test; x\r\n");
	check("no header line at all\r\nAuthentication-Results: mx.test; x\r\n",
	      "no header line at all\r\nAuthentication-Results: mx.test; x\r\n");
	check("Subject: bare LF\nTo: x\n\nbody\n", "Subject: bare LF\nTo: x\n\nbody\n");
	check("Subject : obsolete space\r\n\r\n", "Subject : obsolete space\r\n\r\n");
}

static void test_own_results_dropped(void **state)
{
	(void)state;
	check("Received: x\r\n"
	      "Authentication-Results: mx.test; spf=pass\r\n"
	      "authentication-results:   mx.test;\r\n dkim=pass\r\n\theader.d=x\r\n"
	      "Authentication-Results: other.test; spf=fail\r\n"
	      "From: a@b\r\n"
	      "\r\n"
	      "Authentication-Results: mx.test; in the body\r\n",
	      "Received: x\r\n"
	      "Authentication-Results: other.test; spf=fail\r\n"
	      "From: a@b\r\n"
	      "\r\n"
	      "Authentication-Results: mx.test; in the body\r\n");
	check("Authentication-Results: mx.test; a\nSubject: s\n\nb\n", "Subject: s\n\nb\n");
	/* The last field, without a line end, at the end of the message. */
	check("Subject: s\r\nAuthentication-Results: mx.test; x", "Subject: s\r\n");
	check("Subject: s\r\nAuthentication-Results: other; x", "Subject: s\r\nAuthentication-Results: other; x");
}

/* A field name too long to be watched does not end the header section, so
 * it cannot hide the fields after it. */
static void test_long_name_does_not_hide(void **state)
{
	char input[1024], expect[1024];
	char name[300];

	(void)state;
	memset(name, 'X', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(input, sizeof(input), "%s: v\r\nAuthentication-Results: mx.test; spf=pass\r\n\r\nb",
		 name);
	snprintf(expect, sizeof(expect), "%s: v\r\n\r\nb", name);
	check(input, expect);
}

/* Over-long watched fields are decided on their first 64 KiB and the
 * decision applies to the whole field. */
static void test_over_long_field(void **state)
{
	size_t big = TERN__HDR_FILTER_MAX_FIELD + 5000;
	char *input = malloc(big + 200), *expect = malloc(big + 200);
	size_t n = 0;

	(void)state;
	assert_non_null(input);
	assert_non_null(expect);
	n += (size_t)sprintf(input + n, "Authentication-Results: mx.test;");
	for (size_t i = 0; i < big; i += 50)
		n += (size_t)sprintf(input + n, "\r\n %047zu", i);
	n += (size_t)sprintf(input + n, "\r\nSubject: after\r\n\r\nbody");
	check(input, "Subject: after\r\n\r\nbody");

	memcpy(input, "Authentication-Results: mx.other", 32);  /* now kept */
	strcpy(expect, input);
	for (size_t step = 0; step < 3; step++) {
		struct sink s = run(input, n, step == 0 ? 0 : step == 1 ? 1 : 4093);

		assert_true(s.saw_truncated);
		assert_int_equal(s.len, n);
		assert_memory_equal(s.out, expect, n);
		free(s.out);
	}
	free(input);
	free(expect);
}

static void test_decided_once_per_field(void **state)
{
	const char *msg = "From: a\r\n b\r\nTo: c\r\nFrom: d\r\n\r\nFrom: body\r\n";

	(void)state;
	for (size_t step = 0; step <= 5; step++) {
		struct sink s = run(msg, strlen(msg), step);

		assert_int_equal(s.decided, 2);
		assert_string_equal(s.out, msg);
		free(s.out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unwatched_pass_unchanged),
		cmocka_unit_test(test_own_results_dropped),
		cmocka_unit_test(test_long_name_does_not_hide),
		cmocka_unit_test(test_over_long_field),
		cmocka_unit_test(test_decided_once_per_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
