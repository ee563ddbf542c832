/* The DSN builder's output stream and the formatting rules every generated
 * line goes through: no line past 998 octets, CRLF only, no controls. */
#include "mail/dsn_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tern/tern.h"
#include "util/utf8.h"

void tern__dsn_out_init(struct tern__dsn_out *o, tern_dsn_write_cb *write, void *user_data)
{
	memset(o, 0, sizeof(*o));
	o->write = write;
	o->user_data = user_data;
}

int tern__dsn_out_flush(struct tern__dsn_out *o)
{
	if (o->err == 0 && o->len > 0) {
		int rc = o->write(o->buf, o->len, o->user_data);

		/* A callback that returns a positive value did not say what
		 * went wrong; it is still a failure. */
		if (rc != 0)
			o->err = rc < 0 ? rc : TERN_EIO;
	}
	o->len = 0;
	return o->err;
}

int tern__dsn_out_write(struct tern__dsn_out *o, const void *p, size_t n)
{
	const unsigned char *s = p;

	if (o->err != 0)
		return o->err;
	for (size_t i = 0; i < n && !o->eight_bit; i++)
		o->eight_bit = s[i] >= 0x80;
	o->total += n;
	while (n > 0) {
		size_t k = sizeof(o->buf) - o->len;

		if (k > n)
			k = n;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
		if (o->len == sizeof(o->buf) && tern__dsn_out_flush(o) != 0)
			return o->err;
	}
	return 0;
}

int tern__dsn_out_str(struct tern__dsn_out *o, const char *s)
{
	return tern__dsn_out_write(o, s, strlen(s));
}

int tern__dsn_out_printf(struct tern__dsn_out *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Only fixed text and bounded values go through here; anything that
	 * could be long goes through tern__dsn_field or tern__dsn_wrap. */
	if (n < 0 || (size_t)n >= sizeof(line)) {
		if (o->err == 0)
			o->err = TERN_EINVAL;
		return o->err;
	}
	return tern__dsn_out_write(o, line, (size_t)n);
}

void tern__dsn_date(time_t t, char out[64])
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1900) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = 70;
		tm.tm_mday = 1;
		tm.tm_wday = 4;
	}
	/* The modulos only tell the compiler the widths; the values are in
	 * range already. */
	snprintf(out, 64, "%.3s, %02u %.3s %04u %02u:%02u:%02u +0000", days[tm.tm_wday % 7],
		 (unsigned)tm.tm_mday % 100u, months[tm.tm_mon % 12],
		 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
}

bool tern__dsn_has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return true;
	}
	return false;
}

bool tern__dsn_utf8_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = tern__utf8_seq_len((const unsigned char *)s + i, len - i);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

int tern__dsn_sanitize(struct tern__buf *b, const char *s, size_t len, bool utf8, size_t max)
{
	size_t start = b->len;
	bool space = false, cut = false;

	for (size_t i = 0; i < len;) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t n = 1;
		const char *rep = NULL;
		size_t rep_len = 1;

		if (*p == '\r' || *p == '\n' || *p == '\t' || *p == ' ') {
			space = true;
			i++;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			rep = "?";
		} else if (*p >= 0x80) {
			n = utf8 ? tern__utf8_seq_len(p, len - i) : 0;
			if (n == 0 || tern__utf8_is_c1(p, n)) {
				rep = "?";
				n = n == 0 ? 1 : n;
			}
		}
		if (rep == NULL) {
			rep = (const char *)p;
			rep_len = n;
		}
		/* The cut keeps whole characters; "..." says it happened. */
		if (max > 0 && b->len - start + (space && b->len > start) + rep_len > max) {
			cut = true;
			break;
		}
		if (space && b->len > start && tern__buf_append(b, " ", 1) != 0)
			return TERN_ENOMEM;
		space = false;
		if (tern__buf_append(b, rep, rep_len) != 0)
			return TERN_ENOMEM;
		i += n;
	}
	if (cut && tern__buf_append(b, "...", 3) != 0)
		return TERN_ENOMEM;
	return 0;
}

/* Where to break a word of len octets that must fit in room octets:
 * never inside a UTF-8 sequence, and at least one octet. */
static size_t word_fit(const char *w, size_t len, size_t room)
{
	size_t k = room < len ? room : len;

	while (k > 1 && k < len && ((unsigned char)w[k] & 0xc0) == 0x80)
		k--;
	return k > 0 ? k : 1;
}

/* The one line breaker. A break before a word writes CRLF and the indent
 * in place of the space between the words: for a header field (indent " ")
 * that is exactly RFC 5322 3.2.2 folding, for text a new indented line.
 * No line is ever only white space: a word always follows the indent. */
static int emit_words(struct tern__dsn_out *o, const char *v, size_t len, size_t col,
		      const char *indent, size_t width)
{
	size_t ind = strlen(indent);
	bool line_empty = true; /* nothing but the prefix on this line yet */

	for (size_t i = 0; i < len;) {
		size_t j = i, wlen = 0;

		while (j < len && v[j] == ' ')
			j++;
		if (j == len)
			break;
		while (j + wlen < len && v[j + wlen] != ' ')
			wlen++;
		if (!line_empty && col + 1 + wlen > width) {
			tern__dsn_out_write(o, "\r\n", 2);
			tern__dsn_out_write(o, indent, ind);
			col = ind;
		} else if (!line_empty) {
			tern__dsn_out_write(o, " ", 1);
			col++;
		}
		/* A word longer than a line can hold is broken outright (a
		 * marked compromise: in a header field, unfolding then adds a
		 * space inside the word; only a diagnostic over ~900 octets
		 * without a space can get here). */
		while (col + wlen > TERN__DSN_LINE_MAX) {
			size_t k = word_fit(v + j, wlen, col < TERN__DSN_LINE_MAX ?
							     TERN__DSN_LINE_MAX - col : 0);

			tern__dsn_out_write(o, v + j, k);
			tern__dsn_out_write(o, "\r\n", 2);
			tern__dsn_out_write(o, indent, ind);
			col = ind;
			j += k;
			wlen -= k;
		}
		tern__dsn_out_write(o, v + j, wlen);
		col += wlen;
		line_empty = false;
		i = j + wlen;
	}
	return tern__dsn_out_write(o, "\r\n", 2);
}

int tern__dsn_field(struct tern__dsn_out *o, const char *name, const char *value, size_t len)
{
	tern__dsn_out_str(o, name);
	tern__dsn_out_write(o, ": ", 2);
	return emit_words(o, value, len, strlen(name) + 2, " ", TERN__DSN_LINE_SOFT);
}

int tern__dsn_wrap(struct tern__dsn_out *o, const char *text, size_t len, size_t col,
		   const char *indent, size_t width)
{
	return emit_words(o, text, len, col, indent, width);
}

/* RFC 6533 3: QCHAR = %x21-2a / %x2c-3c / %x3e-5b / %x5d-7e, that is
 * printable ASCII but "+", "=" and "\". */
static bool is_qchar(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '+' && c != '=' && c != '\\';
}

int tern__dsn_utf8_addr(struct tern__buf *b, const char *s, size_t len, bool unitext,
			bool already_encoded)
{
	for (size_t i = 0; i < len;) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t n = tern__utf8_seq_len(p, len - i);
		unsigned long cp;

		if (n == 0)
			n = 1; /* callers check validity; never loop */
		if (n == 1 && (is_qchar(*p) || (already_encoded && *p == '\\'))) {
			if (tern__buf_append(b, p, 1) != 0)
				return TERN_ENOMEM;
			i++;
			continue;
		}
		if (n > 1 && unitext) {
			if (tern__buf_append(b, p, n) != 0)
				return TERN_ENOMEM;
			i += n;
			continue;
		}
		/* EmbeddedUnicodeChar = "\x{" HEXPOINT "}": upper-case hex,
		 * no leading zeros past two digits. */
		if (n == 1)
			cp = *p;
		else if (n == 2)
			cp = (unsigned long)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
		else if (n == 3)
			cp = (unsigned long)(p[0] & 0x0f) << 12 | (unsigned long)(p[1] & 0x3f) << 6 |
			     (p[2] & 0x3f);
		else
			cp = (unsigned long)(p[0] & 0x07) << 18 | (unsigned long)(p[1] & 0x3f) << 12 |
			     (unsigned long)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
		if (tern__buf_printf(b, "\\x{%02lX}", cp) != 0)
			return TERN_ENOMEM;
		i += n;
	}
	return 0;
}
