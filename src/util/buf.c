#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"

/* Idle sessions keep their buffers small: anything above this is returned to
 * the allocator as soon as the buffer empties. */
#define BUF_KEEP 512

void tern__buf_init(struct tern__buf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

void tern__buf_free(struct tern__buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->off = b->cap = 0;
}

static int reserve(struct tern__buf *b, size_t n)
{
	if (b->limit && b->len + n > b->limit)
		return TERN_ELIMIT;
	if (b->off + b->len + n <= b->cap)
		return 0;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		if (b->len + n <= b->cap)
			return 0;
	}
	size_t cap = b->cap ? b->cap : 128;
	while (cap < b->len + n)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return TERN_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int tern__buf_reserve(struct tern__buf *b, size_t n)
{
	return reserve(b, n);
}

int tern__buf_append(struct tern__buf *b, const void *p, size_t n)
{
	int r = reserve(b, n);
	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->off + b->len, p, n);
	b->len += n;
	return 0;
}

int tern__buf_vprintf(struct tern__buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return TERN_EINVAL;
	int r = reserve(b, (size_t)n + 1);
	if (r < 0)
		return r;
	vsnprintf(b->data + b->off + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int tern__buf_printf(struct tern__buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = tern__buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void tern__buf_consume(struct tern__buf *b, size_t n)
{
	if (n >= b->len) {
		tern__buf_clear(b);
		return;
	}
	b->off += n;
	b->len -= n;
}

void tern__buf_clear(struct tern__buf *b)
{
	b->len = 0;
	b->off = 0;
	if (b->cap > BUF_KEEP) {
		free(b->data);
		b->data = NULL;
		b->cap = 0;
	}
}
