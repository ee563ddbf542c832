/* The message as DKIM and ARC hash it: header collection, header and body
 * canonicalization (RFC 6376 3.4). See canon.h for the contract. */
#include "auth/canon.h"

#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"

#define HEADERS_DEFAULT_LIMIT (1024 * 1024)

/* ---- Digest output ---- */

void tern__hash_out_init(struct tern__hash_out *h, EVP_MD_CTX *md)
{
	h->md = md;
	h->len = 0;
}

int tern__hash_out_flush(struct tern__hash_out *h)
{
	int ok = h->len == 0 || EVP_DigestUpdate(h->md, h->buf, h->len) == 1;

	h->len = 0;
	return ok ? 0 : -1;
}

int tern__hash_out_write(struct tern__hash_out *h, const void *p, size_t n)
{
	if (n <= sizeof h->buf - h->len) {
		memcpy(h->buf + h->len, p, n);
		h->len += n;
		return 0;
	}
	if (tern__hash_out_flush(h) < 0)
		return -1;
	/* Long pieces go to the digest as they are: no copy. */
	if (n >= sizeof h->buf)
		return EVP_DigestUpdate(h->md, p, n) == 1 ? 0 : -1;
	memcpy(h->buf, p, n);
	h->len = n;
	return 0;
}

/* ---- Header block ---- */

bool tern__ascii_ieq(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return false;
	}
	return true;
}

void tern__headers_init(struct tern__headers *h, size_t limit)
{
	memset(h, 0, sizeof *h);
	h->limit = limit ? limit : HEADERS_DEFAULT_LIMIT;
}

void tern__headers_free(struct tern__headers *h)
{
	free(h->data);
	free(h->fields);
	memset(h, 0, sizeof *h);
}

static int put(struct tern__headers *h, const char *p, size_t n)
{
	if (h->over_limit)
		return 0;
	if (n > h->limit - h->len) {
		h->over_limit = true;
		return 0;
	}
	if (h->len + n > h->cap) {
		size_t cap = h->cap ? h->cap : 1024;
		char *d;

		while (cap < h->len + n)
			cap *= 2;
		d = realloc(h->data, cap);
		if (d == NULL)
			return TERN_ENOMEM;
		h->data = d;
		h->cap = cap;
	}
	memcpy(h->data + h->len, p, n);
	h->len += n;
	return 0;
}

/* The field that ends here gets its length and name. */
static void close_field(struct tern__headers *h)
{
	struct tern__hfield *f;
	const char *t, *colon;

	if (h->count == 0 || h->fields[h->count - 1].len != 0)
		return;
	f = &h->fields[h->count - 1];
	f->len = h->len - f->off;
	if (f->len == 0) /* nothing kept: the limit was reached */
		return;
	t = h->data + f->off;
	colon = memchr(t, ':', f->len);
	if (colon == NULL) {
		f->name_len = 0; /* not a field: never matches a name */
		return;
	}
	f->name_len = (size_t)(colon - t);
	while (f->name_len > 0 && (t[f->name_len - 1] == ' ' || t[f->name_len - 1] == '\t'))
		f->name_len--;
}

static int open_field(struct tern__headers *h)
{
	close_field(h);
	if (h->over_limit)
		return 0;
	if (h->count == h->fields_cap) {
		size_t cap = h->fields_cap ? h->fields_cap * 2 : 32;
		struct tern__hfield *f = realloc(h->fields, cap * sizeof *f);

		if (f == NULL)
			return TERN_ENOMEM;
		h->fields = f;
		h->fields_cap = cap;
	}
	h->fields[h->count++] = (struct tern__hfield){.off = h->len};
	return 0;
}

/* A line's first octet c: a new field unless it continues the last one. */
static int line_start(struct tern__headers *h, char c)
{
	if ((c == ' ' || c == '\t') && h->count > 0)
		return 0;
	return open_field(h);
}

long tern__headers_feed(struct tern__headers *h, const char *data, size_t len)
{
	size_t i = 0;
	int rc;

	while (i < len && h->state != TERN__HDR_DONE) {
		char c = data[i];

		switch (h->state) {
		case TERN__HDR_LINE_START:
			if (c == '\n') { /* bare LF: the empty line */
				i++;
				close_field(h);
				h->state = TERN__HDR_DONE;
				continue;
			}
			if (c == '\r') {
				/* Either the empty line or a line starting with a
				 * bare CR; the next octet says. */
				i++;
				h->state = TERN__HDR_CR;
				h->cr_at_line_start = true;
				continue;
			}
			if ((rc = line_start(h, c)) < 0)
				return rc;
			h->state = TERN__HDR_IN_LINE;
			continue;
		case TERN__HDR_IN_LINE: {
			size_t j = i;

			while (j < len && data[j] != '\r' && data[j] != '\n')
				j++;
			if ((rc = put(h, data + i, j - i)) < 0)
				return rc;
			i = j;
			if (i == len)
				break;
			if (data[i] == '\n') {
				i++;
				if ((rc = put(h, "\r\n", 2)) < 0)
					return rc;
				h->state = TERN__HDR_LINE_START;
			} else {
				i++;
				h->state = TERN__HDR_CR;
				h->cr_at_line_start = false;
			}
			continue;
		}
		case TERN__HDR_CR:
			if (c == '\n') {
				i++;
				if (h->cr_at_line_start) {
					close_field(h);
					h->state = TERN__HDR_DONE;
					continue;
				}
				if ((rc = put(h, "\r\n", 2)) < 0)
					return rc;
				h->state = TERN__HDR_LINE_START;
				continue;
			}
			/* A bare CR is an ordinary octet of the line. */
			if (h->cr_at_line_start) {
				h->cr_at_line_start = false;
				if ((rc = line_start(h, '\r')) < 0)
					return rc;
			}
			if ((rc = put(h, "\r", 1)) < 0)
				return rc;
			h->state = TERN__HDR_IN_LINE;
			continue;
		case TERN__HDR_DONE:
			break;
		}
	}
	return (long)i;
}

int tern__headers_end(struct tern__headers *h)
{
	int rc = 0;

	switch (h->state) {
	case TERN__HDR_DONE:
		return 0;
	case TERN__HDR_CR:
		if (h->cr_at_line_start) {
			/* The message's last octet is a CR on a line of its own. */
			if ((rc = line_start(h, '\r')) < 0)
				return rc;
		}
		if ((rc = put(h, "\r\r\n", 3)) < 0)
			return rc;
		break;
	case TERN__HDR_IN_LINE:
		if ((rc = put(h, "\r\n", 2)) < 0)
			return rc;
		break;
	case TERN__HDR_LINE_START:
		break;
	}
	close_field(h);
	h->state = TERN__HDR_DONE;
	h->ended_at_eof = true;
	return 0;
}

bool tern__hfield_is(const struct tern__headers *h, const struct tern__hfield *f,
		     const char *name, size_t len)
{
	return f->name_len == len && tern__ascii_ieq(h->data + f->off, name, len);
}

void tern__headers_unpick(struct tern__headers *h)
{
	for (size_t i = 0; i < h->count; i++)
		h->fields[i].used = false;
}

struct tern__hfield *tern__headers_pick(struct tern__headers *h, const char *name, size_t len)
{
	for (size_t i = h->count; i-- > 0;) {
		struct tern__hfield *f = &h->fields[i];

		if (!f->used && tern__hfield_is(h, f, name, len)) {
			f->used = true;
			return f;
		}
	}
	return NULL;
}

size_t tern__headers_count(const struct tern__headers *h, const char *name, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < h->count; i++)
		n += tern__hfield_is(h, &h->fields[i], name, len);
	return n;
}

/* ---- Header canonicalization ---- */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 6376 3.4.2: lowercase the name; unfold; runs of WSP become one SP;
 * no WSP at the end of the value nor around the colon. */
static int header_relaxed(const char *f, size_t len, bool no_crlf, struct tern__hash_out *out)
{
	const char *colon = memchr(f, ':', len);
	size_t name_end = colon ? (size_t)(colon - f) : len, i;
	char name[256];
	bool space = false, started = false;
	int rc = 0;

	while (name_end > 0 && is_wsp(f[name_end - 1]))
		name_end--;
	for (i = 0; i < name_end; i += sizeof name) {
		size_t n = name_end - i < sizeof name ? name_end - i : sizeof name;

		for (size_t k = 0; k < n; k++) {
			char c = f[i + k];

			name[k] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
		}
		rc |= tern__hash_out_write(out, name, n);
	}
	if (colon == NULL)
		goto end;
	rc |= tern__hash_out_write(out, ":", 1);
	for (i = (size_t)(colon - f) + 1; i < len;) {
		size_t j = i;

		if (f[i] == '\r' && i + 1 < len && f[i + 1] == '\n') {
			i += 2; /* unfold: the CRLF goes, the WSP after it stays */
			continue;
		}
		if (is_wsp(f[i])) {
			space = started;
			i++;
			continue;
		}
		while (j < len && !is_wsp(f[j]) && !(f[j] == '\r' && j + 1 < len && f[j + 1] == '\n'))
			j++;
		if (space)
			rc |= tern__hash_out_write(out, " ", 1);
		rc |= tern__hash_out_write(out, f + i, j - i);
		space = false;
		started = true;
		i = j;
	}
end:
	if (!no_crlf)
		rc |= tern__hash_out_write(out, "\r\n", 2);
	return rc ? -1 : 0;
}

int tern__canon_header(enum tern__canon c, const char *field, size_t len, bool no_crlf,
		       struct tern__hash_out *out)
{
	if (c == TERN__CANON_RELAXED)
		return header_relaxed(field, len, no_crlf, out);
	/* simple: the field exactly as it is */
	if (no_crlf && len >= 2 && field[len - 2] == '\r' && field[len - 1] == '\n')
		len -= 2;
	return tern__hash_out_write(out, field, len);
}

/* ---- Body canonicalization ---- */

void tern__canon_body_init(struct tern__canon_body *b, enum tern__canon c, uint64_t limit,
			   EVP_MD_CTX *md)
{
	memset(b, 0, sizeof *b);
	b->canon = c;
	b->limit = limit;
	tern__hash_out_init(&b->out, md);
}

static void emit(struct tern__canon_body *b, const char *p, size_t n)
{
	b->total += n;
	if (b->hashed < b->limit) {
		uint64_t room = b->limit - b->hashed;
		size_t k = n < room ? n : (size_t)room;

		if (tern__hash_out_write(&b->out, p, k) < 0)
			b->failed = true;
		b->hashed += k;
	}
}

/* Octets of a line that are neither a line end nor (relaxed) WSP. */
static void content(struct tern__canon_body *b, const char *p, size_t n)
{
	if (!b->line_content) {
		/* Empty lines before content are part of the body after all. */
		for (; b->empty_lines > 0; b->empty_lines--)
			emit(b, "\r\n", 2);
		b->line_content = true;
	}
	if (b->wsp) {
		emit(b, " ", 1);
		b->wsp = false;
	}
	emit(b, p, n);
}

static void line_end(struct tern__canon_body *b)
{
	b->wsp = false; /* relaxed: no WSP at the end of a line */
	if (b->line_content) {
		emit(b, "\r\n", 2);
		b->line_content = false;
	} else {
		b->empty_lines++; /* dropped if only empty lines follow */
	}
}

void tern__canon_body_feed(struct tern__canon_body *b, const char *data, size_t len)
{
	bool relaxed = b->canon == TERN__CANON_RELAXED;
	size_t i = 0;

	if (len == 0)
		return;
	if (b->cr) {
		b->cr = false;
		if (data[0] == '\n') {
			line_end(b);
			i = 1;
		} else {
			content(b, "\r", 1);
		}
	}
	while (i < len) {
		size_t j = i;

		if (relaxed)
			while (j < len && data[j] != '\r' && data[j] != '\n' && data[j] != ' ' &&
			       data[j] != '\t')
				j++;
		else
			while (j < len && data[j] != '\r' && data[j] != '\n')
				j++;
		if (j > i)
			content(b, data + i, j - i);
		if (j == len)
			break;
		if (data[j] == '\n') {
			line_end(b);
			i = j + 1;
		} else if (data[j] == '\r') {
			if (j + 1 == len) {
				b->cr = true;
				return;
			}
			if (data[j + 1] == '\n') {
				line_end(b);
				i = j + 2;
			} else {
				content(b, "\r", 1);
				i = j + 1;
			}
		} else {
			b->wsp = true; /* relaxed: a run of WSP is one SP if content follows */
			i = j + 1;
		}
	}
}

int tern__canon_body_end(struct tern__canon_body *b)
{
	if (b->cr) {
		b->cr = false;
		content(b, "\r", 1);
	}
	/* RFC 6376 3.4.3, 3.4.4: a last line without CRLF gets one. */
	if (b->line_content)
		line_end(b);
	/* RFC 6376 3.4.3: "If there is no body or no trailing CRLF on the
	 * message body, a CRLF is added"; trailing empty lines are ignored,
	 * so an empty body is one CRLF. Relaxed: an empty body stays empty. */
	if (b->canon == TERN__CANON_SIMPLE && b->total == 0)
		emit(b, "\r\n", 2);
	if (tern__hash_out_flush(&b->out) < 0)
		b->failed = true;
	return b->failed ? -1 : 0;
}
