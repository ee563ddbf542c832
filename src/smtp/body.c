#include "smtp/body.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* DATA decoder states. A "line" starts only after a CRLF that came on the
 * wire as CRLF: a rewritten bare CR or LF ends a line of the stored text,
 * but never makes the next "." a dot-stuffing or end-of-data candidate. */
enum {
	ST_BOL = 0, /* at the start of a line */
	ST_TEXT,    /* inside a line */
	ST_CR,      /* after a CR inside a line (the CR is part of the run) */
	ST_DOT,     /* "." at the start of a line, held back */
	ST_DOTCR,   /* "." CR at the start of a line, both held back */
};

void tern__body_data_begin(struct tern__smtp_body *b)
{
	b->state = ST_BOL;
	b->line_len = 0;
}

void tern__body_fail(struct tern__smtp_body *b, enum tern__body_error error)
{
	if (b->error == TERN__BODY_OK)
		b->error = error;
}

/* Hands a slice on unless the message has already failed. */
static int out(struct tern__smtp_body *b, const char *p, size_t n, tern__body_emit_fn *emit,
	       void *ctx)
{
	if (n == 0 || b->error != TERN__BODY_OK)
		return 0;
	return emit(ctx, p, n);
}

/* A bare CR or LF was found. Returns true when it is to be rewritten. */
static bool bare_newline(struct tern__smtp_body *b, const struct tern__body_policy *policy)
{
	if (policy->bare_newline == TERN_SMTP_BARE_NEWLINE_REJECT) {
		tern__body_fail(b, TERN__BODY_BARE_NEWLINE);
		return false;
	}
	return true;
}

static void count_octets(struct tern__smtp_body *b, const struct tern__body_policy *policy,
			 size_t n)
{
	/* RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with CRLF. */
	if (!policy->max_line_length)
		return;
	if (n + 2 > policy->max_line_length - b->line_len) {
		tern__body_fail(b, TERN__BODY_LINE_TOO_LONG);
		b->line_len = policy->max_line_length;
		return;
	}
	b->line_len += (unsigned)n;
}

/* The offset of the first CR or LF in p[0, n), or n. Message text is
 * mostly long runs between line ends, so this is the decoder's inner loop:
 * one pass looking for both octets (two memchr calls per line cost more
 * in call overhead than in scanning on 80-octet lines). */
static size_t find_newline(const char *p, size_t n)
{
	size_t i = 0;
#if defined(__SSE2__)
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	for (; n - i >= 16; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		unsigned m = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
		if (m != 0)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	for (; i < n; i++)
		if (p[i] == '\r' || p[i] == '\n')
			break;
	return i;
}

/* Every branch that emits first brings the state to where a resumed call
 * must start, then returns through PAUSE if the embedder asked to pause, with
 * `at` the first octet not yet accounted for. */
#define FLUSH_TO(at)                                                                      \
	do {                                                                              \
		size_t at_ = (at);                                                        \
		if (out(b, in + run, at_ - run, emit, ctx)) {                             \
			run = at_;                                                        \
			*done_r = false;                                                  \
			return at_;                                                       \
		}                                                                         \
		run = at_;                                                                \
	} while (0)
#define INSERT(str, resume_at)                                                            \
	do {                                                                              \
		if (out(b, (str), sizeof(str) - 1, emit, ctx)) {                          \
			*done_r = false;                                                  \
			return (resume_at);                                               \
		}                                                                         \
	} while (0)

size_t tern__body_data_feed(struct tern__smtp_body *b, const struct tern__body_policy *policy,
			    const char *in, size_t len, bool *done_r, tern__body_emit_fn *emit,
			    void *ctx)
{
	size_t i = 0, run = 0;
	*done_r = false;
	while (i < len) {
		char c = in[i];
		switch (b->state) {
		case ST_BOL:
			if (c == '.') {
				/* RFC 5321 4.5.2: a leading period is removed;
				 * "." CRLF alone ends the data. */
				FLUSH_TO(i);
				b->state = ST_DOT;
				run = ++i;
				continue;
			}
			b->state = ST_TEXT;
			continue; /* the octet is handled as text */
		case ST_DOT:
			if (c == '\r') {
				b->state = ST_DOTCR;
				run = ++i;
				continue;
			}
			/* The period was transparency; the line goes on. */
			b->state = ST_TEXT;
			continue;
		case ST_DOTCR:
			if (c == '\n') {
				b->state = ST_BOL;
				*done_r = true;
				return i + 1;
			}
			/* ".\r" then something else: the held CR is bare (RFC
			 * 5321 4.1.1.4 forbids reading it as end of data). */
			b->state = ST_TEXT;
			b->line_len = 0;
			if (bare_newline(b, policy))
				INSERT("\r\n", i);
			continue;
		case ST_CR:
			if (c == '\n') {
				b->state = ST_BOL;
				b->line_len = 0;
				i++;
				continue;
			}
			/* The CR before this octet was bare: it is already in
			 * the run; complete it to CRLF. */
			FLUSH_TO(i);
			b->state = ST_TEXT;
			b->line_len = 0;
			if (bare_newline(b, policy))
				INSERT("\n", i);
			continue;
		case ST_TEXT:
			/* Fast path: ordinary octets up to the next CR or LF, and
			 * straight on over a CRLF whose next line does not start
			 * with ".": ordinary lines cost one scan, no state change
			 * and no emit (the run is handed on in one slice). */
			for (;;) {
				size_t span = find_newline(in + i, len - i);
				count_octets(b, policy, span);
				i += span;
				if (len - i > 2 && in[i] == '\r' && in[i + 1] == '\n' &&
				    in[i + 2] != '.') {
					b->line_len = 0;
					i += 2;
					continue;
				}
				break;
			}
			if (i == len)
				continue;
			if (in[i] == '\r') {
				/* CRLF before a "." or the end of input, or a CR
				 * not (yet) known to be followed by LF. */
				b->state = ST_CR;
				i++;
				continue;
			}
			/* Bare LF: emitted as CRLF in place of the LF. */
			FLUSH_TO(i);
			run = ++i;
			b->line_len = 0;
			if (bare_newline(b, policy))
				INSERT("\r\n", i);
			continue;
		}
	}
	/* A CR at the very end stays in the run: in this decoder a CR is always
	 * delivered (either as part of CRLF or completed to CRLF later). */
	FLUSH_TO(len);
	return len;
}

size_t tern__body_bdat_feed(struct tern__smtp_body *b, const char *in, size_t len, bool *done_r,
			    tern__body_emit_fn *emit, void *ctx)
{
	size_t n = len < b->remaining ? len : (size_t)b->remaining;
	b->remaining -= n;
	*done_r = b->remaining == 0;
	if (!b->discard)
		(void)out(b, in, n, emit, ctx); /* a pause takes effect after this chunk */
	return n;
}
