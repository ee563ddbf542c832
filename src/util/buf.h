/* A growable byte buffer with an explicit ceiling: appends past the ceiling
 * fail instead of growing without bound. */
#ifndef TERN_UTIL_BUF_H
#define TERN_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct tern__buf {
	char *data;
	size_t len;   /* bytes in use, starting at data + off */
	size_t off;   /* bytes already consumed from the front */
	size_t cap;
	size_t limit; /* 0 = no ceiling */
};

void tern__buf_init(struct tern__buf *b, size_t limit);
void tern__buf_free(struct tern__buf *b);
/* Returns 0, TERN_ENOMEM or TERN_ELIMIT (nothing appended then). */
/* Makes room for n more octets in one allocation (so a buffer whose final
 * size is roughly known grows once). Returns 0, TERN_ENOMEM or TERN_ELIMIT. */
int tern__buf_reserve(struct tern__buf *b, size_t n);
int tern__buf_append(struct tern__buf *b, const void *p, size_t n);
int tern__buf_printf(struct tern__buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int tern__buf_vprintf(struct tern__buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* An empty, freed buffer has no data pointer: give "" rather than NULL + 0. */
static inline const char *tern__buf_ptr(const struct tern__buf *b)
{
	return b->data ? b->data + b->off : "";
}
/* Drops n bytes from the front; releases the memory when empty and large. */
void tern__buf_consume(struct tern__buf *b, size_t n);
void tern__buf_clear(struct tern__buf *b);

#endif
