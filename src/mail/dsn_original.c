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

int tern__dsn_copy_original(struct tern__dsn_out *o, struct tern__dsn_src *s)
{
	char in[8192];
	bool cr = false;      /* the last octet was a CR whose LF may follow */
	bool at_bol = true;   /* the last octet written ended a line */
	ssize_t n;

	while ((n = tern__dsn_src_read(s, in, sizeof(in))) > 0) {
		size_t start = 0;

		/* Runs of ordinary octets go out as they are; each CR, LF or
		 * CRLF becomes one CRLF (a bare CR or LF is not a line end in
		 * RFC 5322 2.3, and must not reach the wire as one). */
		for (size_t i = 0; i < (size_t)n; i++) {
			char c = in[i];

			if (c != '\r' && c != '\n') {
				if (cr) {
					tern__dsn_out_write(o, "\r\n", 2);
					cr = false;
					start = i;
				}
				continue;
			}
			tern__dsn_out_write(o, in + start, i - start);
			start = i + 1;
			if (c == '\n') {
				tern__dsn_out_write(o, "\r\n", 2);
				cr = false;
			} else {
				if (cr)
					tern__dsn_out_write(o, "\r\n", 2);
				cr = true;
			}
		}
		tern__dsn_out_write(o, in + start, (size_t)n - start);
		at_bol = cr || (start == (size_t)n && (in[n - 1] == '\n'));
		if (o->err != 0)
			return o->err;
	}
	if (n < 0)
		return (int)n;
	if (cr || !at_bol)
		tern__dsn_out_write(o, "\r\n", 2);
	return o->err;
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
	if (h->b->len + len + 2 > h->limit) {
		/* Keep whole fields only: drop the partial one. */
		h->b->len = h->field_start;
		h->cut = true;
		goto out;
	}
	if (tern__buf_append(h->b, l, len) != 0 || tern__buf_append(h->b, "\r\n", 2) != 0)
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
