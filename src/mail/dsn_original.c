/* Reading the original message for a DSN: from an fd range, memory or a
 * callback, once, in order; its line endings made CRLF; its header
 * section found and kept within a limit. The only parser of the builder,
 * and what tests/fuzz/fuzz_dsn.c drives. */
#include "mail/dsn_int.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "tern/tern.h"

bool tern__dsn_src_present(const tern_dsn_original *orig)
{
	return orig->len > 0 && (orig->fd >= 0 || orig->data != NULL || orig->read != NULL);
}

ssize_t tern__dsn_src_read(struct tern__dsn_src *s, void *buf, size_t n)
{
	const tern_dsn_original *o = s->orig;
	uint64_t left = o->len - s->pos;
	ssize_t got;

	if (left == 0 || n == 0)
		return 0;
	if (n > left)
		n = (size_t)left;
	if (n > (size_t)SSIZE_MAX)
		n = (size_t)SSIZE_MAX;
	if (o->fd >= 0) {
		do
			got = pread(o->fd, buf, n, o->offset + (off_t)s->pos);
		while (got < 0 && errno == EINTR);
		if (got <= 0)
			return TERN_EIO; /* an error, or the file is shorter than len */
	} else if (o->data != NULL) {
		memcpy(buf, (const char *)o->data + s->pos, n);
		got = (ssize_t)n;
	} else {
		got = o->read(buf, n, o->read_arg);
		if (got < 0)
			return got;
		if (got == 0 || (size_t)got > n)
			return TERN_EIO;
	}
	s->pos += (uint64_t)got;
	return got;
}

/* RFC 5322 2.1.1: lines of at most 998 octets. A longer line in the
 * original (it broke the rule already; our own server refuses them by
 * default) is broken so that the report stays deliverable: in the header
 * section by folding (CRLF SP), in the body by a plain CRLF, a marked
 * compromise that changes the returned copy. The break goes before a
 * UTF-8 sequence that would not fit whole, else at 998. */
static bool break_here(size_t col, unsigned char c)
{
	size_t seq = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

	return col + seq > TERN__DSN_LINE_MAX;
}

struct lines {
	struct tern__dsn_out *o;
	size_t col;
	bool cr;          /* the last octet was a CR whose LF may follow */
	bool headers;     /* still in the header section */
	bool empty;       /* the current line has no octet yet */
};

static void line_end(struct lines *l)
{
	tern__dsn_out_write(l->o, "\r\n", 2);
	if (l->empty)
		l->headers = false;
	l->col = 0;
	l->empty = true;
}

int tern__dsn_copy_original(struct tern__dsn_out *o, struct tern__dsn_src *s)
{
	struct lines l = {.o = o, .headers = true, .empty = true};
	unsigned char in[8192];
	ssize_t n;

	while ((n = tern__dsn_src_read(s, in, sizeof(in))) > 0) {
		size_t run = 0; /* octets of in[] not yet written, ending at i */

		/* Each CR, LF or CRLF becomes one CRLF (a bare CR or LF is no
		 * line end in RFC 5322 2.3 and must not reach the wire as
		 * one); runs of other octets go out together. */
		for (size_t i = 0; i < (size_t)n; i++) {
			unsigned char c = in[i];

			if (c == '\r' || c == '\n' || l.cr || break_here(l.col, c)) {
				tern__dsn_out_write(o, in + i - run, run);
				run = 0;
			}
			if (l.cr) {
				l.cr = false;
				line_end(&l);
				if (c == '\n')
					continue;
			}
			if (c == '\r') {
				l.cr = true;
				continue;
			}
			if (c == '\n') {
				line_end(&l);
				continue;
			}
			if (break_here(l.col, c)) {
				tern__dsn_out_write(o, l.headers ? "\r\n " : "\r\n", l.headers ? 3 : 2);
				l.col = l.headers ? 1 : 0;
			}
			run++;
			l.col++;
			l.empty = false;
		}
		tern__dsn_out_write(o, in + (size_t)n - run, run);
		if (o->err != 0)
			return o->err;
	}
	if (n < 0)
		return (int)n;
	/* A last line without its ending gets one. */
	if (l.cr || !l.empty)
		tern__dsn_out_write(o, "\r\n", 2);
	return o->err;
}

/* Appends a header line and its CRLF to b, folded where it is too long. */
static int append_line(struct tern__buf *b, const char *l, size_t len)
{
	size_t col = 0, start = 0;

	for (size_t i = 0; i < len; i++) {
		if (!break_here(col, (unsigned char)l[i])) {
			col++;
			continue;
		}
		if (tern__buf_append(b, l + start, i - start) != 0 ||
		    tern__buf_append(b, "\r\n ", 3) != 0)
			return TERN_ENOMEM;
		start = i;
		col = 2;
	}
	if (tern__buf_append(b, l + start, len - start) != 0 || tern__buf_append(b, "\r\n", 2) != 0)
		return TERN_ENOMEM;
	return 0;
}

/* Appends one header line (without its ending) to b when it fits whole
 * with its field; past the limit, the field it belongs to is dropped. */
struct hdr_state {
	struct tern__buf *b;
	size_t limit;
	size_t field_start;   /* where the current field began in b */
	bool cut;
	bool done;            /* the empty line was seen */
	struct tern__buf line;
};

static int end_line(struct hdr_state *h)
{
	const char *l = tern__buf_ptr(&h->line);
	size_t len = h->line.len;

	if (len == 0) {
		h->done = true;
		return 0;
	}
	if (h->cut)
		goto out;
	/* A line that does not begin with white space starts a new field
	 * (RFC 5322 2.2.3: continuation lines begin with WSP). */
	if (l[0] != ' ' && l[0] != '\t')
		h->field_start = h->b->len;
	/* The fold octets a long line gets are counted too. */
	if (h->b->len + len + 3 * (len / (TERN__DSN_LINE_MAX - 3)) + 2 > h->limit) {
		/* Keep whole fields only: drop the partial one. */
		h->b->len = h->field_start;
		h->cut = true;
		goto out;
	}
	if (append_line(h->b, l, len) != 0)
		return TERN_ENOMEM;
out:
	tern__buf_clear(&h->line);
	return 0;
}

int tern__dsn_read_headers(struct tern__dsn_src *s, struct tern__buf *b, size_t limit,
			   bool *cut_r)
{
	struct hdr_state h = {.b = b, .limit = limit};
	char in[4096];
	bool cr = false;
	ssize_t n = 0;
	int rc = 0;

	/* The line being read is bounded too: past the limit it is only
	 * counted, never stored (the field will not fit anyway). */
	tern__buf_init(&h.line, 0);
	while (!h.done && (n = tern__dsn_src_read(s, in, sizeof(in))) > 0) {
		for (size_t i = 0; i < (size_t)n && !h.done; i++) {
			char c = in[i];

			if (cr && c != '\n') {
				cr = false;
				if ((rc = end_line(&h)) != 0)
					goto out;
				if (h.done)
					break;
			}
			if (c == '\r') {
				cr = true;
			} else if (c == '\n') {
				cr = false;
				if ((rc = end_line(&h)) != 0)
					goto out;
			} else if (h.line.len <= limit) {
				if (tern__buf_append(&h.line, &c, 1) != 0) {
					rc = TERN_ENOMEM;
					goto out;
				}
			} else {
				h.cut = true;
			}
		}
	}
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	/* The original ended inside the header section: its last line
	 * counts even without an ending. */
	if (!h.done && (cr || h.line.len > 0))
		rc = end_line(&h);
out:
	tern__buf_free(&h.line);
	*cut_r = h.cut;
	return rc;
}
