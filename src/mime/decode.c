/* Decoding for SEARCH: charsets through iconv, RFC 2047 words, RFC 2231
 * values, quoted-printable and base64 bodies, and a folding substring
 * search. See decode.h. */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/decode.h"
#include "tern/tern.h"
#include "util/hex.h"

static int hexval(char c)
{
	return tern__hex_value((unsigned char)c);
}

int tern__mime_charset_to_utf8(const char *charset, const char *in, size_t len,
			       struct tern__buf *out)
{
	/* The common cases skip iconv; UTF-8 is still checked and repaired
	 * below through iconv, so only plain ASCII takes the short cut. */
	if (strcasecmp(charset, "us-ascii") == 0 || strcasecmp(charset, "ascii") == 0) {
		size_t i;
		for (i = 0; i < len && (unsigned char)in[i] < 0x80; i++)
			;
		if (i == len)
			return tern__buf_append(out, in, len);
	}
	iconv_t cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return errno == ENOMEM ? TERN_ENOMEM : TERN_EINVAL;
	char buf[1024];
	char *ip = (char *)in;
	size_t il = len;
	int rc = 0;
	while (il > 0 && rc == 0) {
		char *op = buf;
		size_t ol = sizeof(buf);
		size_t r = iconv(cd, &ip, &il, &op, &ol);
		rc = tern__buf_append(out, buf, (size_t)(op - buf));
		if (r == (size_t)-1 && rc == 0) {
			if (errno == E2BIG)
				continue;
			/* EILSEQ or a truncated sequence (EINVAL): one octet becomes
			 * U+FFFD and conversion goes on after it. */
			rc = tern__buf_append(out, "\xef\xbf\xbd", 3);
			ip++;
			il--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	if (rc == 0) {
		/* Stateful charsets (ISO-2022-JP) end in their initial state. */
		char *op = buf;
		size_t ol = sizeof(buf);
		iconv(cd, NULL, NULL, &op, &ol);
		rc = tern__buf_append(out, buf, (size_t)(op - buf));
	}
	iconv_close(cd);
	return rc;
}

/* One encoded word at s (RFC 2047 2): "=?" charset ["*" lang] "?" B|Q "?"
 * text "?=". Decodes it into out and returns its length, 0 when s is not
 * one (or its charset is unknown), or a negative error. */
static long encoded_word(const char *s, size_t len, struct tern__buf *out)
{
	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	size_t i = 2;
	while (i < len && s[i] != '?' && s[i] != ' ' && s[i] != '\t' && i < 66)
		i++;
	if (i >= len || s[i] != '?' || i == 2 || i + 3 >= len || s[i + 2] != '?')
		return 0;
	char charset[72];
	memcpy(charset, s + 2, i - 2);
	charset[i - 2] = '\0';
	char *star = strchr(charset, '*'); /* RFC 2231 5: charset*language */
	if (star)
		*star = '\0';
	char enc = s[i + 1];
	size_t ts = i + 3, te = ts;
	while (te + 1 < len && !(s[te] == '?' && s[te + 1] == '=')) {
		if (s[te] == ' ' || s[te] == '\t' || s[te] == '\r' || s[te] == '\n')
			return 0; /* RFC 2047 5: no whitespace inside a word */
		te++;
	}
	if (te + 1 >= len)
		return 0;
	struct tern__buf raw;
	tern__buf_init(&raw, 0);
	int rc = 0;
	if (enc == 'Q' || enc == 'q') {
		for (size_t k = ts; k < te && rc == 0; k++) {
			char c = s[k];
			if (c == '_') {
				c = ' ';
			} else if (c == '=' && k + 2 < te + 1 && hexval(s[k + 1]) >= 0 &&
				   hexval(s[k + 2]) >= 0) {
				c = (char)(hexval(s[k + 1]) * 16 + hexval(s[k + 2]));
				k += 2;
			}
			rc = tern__buf_append(&raw, &c, 1);
		}
	} else if (enc == 'B' || enc == 'b') {
		struct tern__mime_decoder d;
		tern__mime_decoder_init(&d, TERN__MIME_CTE_BASE64);
		rc = tern__mime_decoder_feed(&d, s + ts, te - ts, &raw);
		if (rc == 0)
			rc = tern__mime_decoder_finish(&d, &raw);
	} else {
		tern__buf_free(&raw);
		return 0;
	}
	if (rc == 0) {
		size_t before = out->len;
		rc = tern__mime_charset_to_utf8(charset, tern__buf_ptr(&raw), raw.len, out);
		if (rc == TERN_EINVAL) {
			out->len = before;
			rc = 0;
			tern__buf_free(&raw);
			return 0;
		}
	}
	tern__buf_free(&raw);
	return rc < 0 ? rc : (long)(te + 2);
}

int tern__mime_decode_words(const char *in, size_t len, struct tern__buf *out)
{
	size_t i = 0;
	int prev_word = 0; /* the last thing written was an encoded word */
	while (i < len) {
		if (in[i] == '=' && i + 1 < len && in[i + 1] == '?') {
			long n = encoded_word(in + i, len - i, out);
			if (n < 0)
				return (int)n;
			if (n > 0) {
				i += (size_t)n;
				prev_word = 1;
				continue;
			}
		}
		if (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n') {
			size_t ws = i;
			while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n'))
				i++;
			/* RFC 2047 6.2: whitespace between adjacent encoded words is
			 * dropped; elsewhere a fold is unfolded to what follows it. */
			if (prev_word && i + 1 < len && in[i] == '=' && in[i + 1] == '?') {
				size_t save = out->len;
				long n = encoded_word(in + i, len - i, out);
				if (n < 0)
					return (int)n;
				if (n > 0) {
					i += (size_t)n;
					continue;
				}
				out->len = save;
			}
			for (size_t k = ws; k < i; k++) {
				if (in[k] == '\r' || in[k] == '\n')
					continue;
				int rc = tern__buf_append(out, in + k, 1);
				if (rc < 0)
					return rc;
			}
			continue;
		}
		prev_word = 0;
		int rc = tern__buf_append(out, in + i, 1);
		if (rc < 0)
			return rc;
		i++;
	}
	return 0;
}

int tern__mime_decode_param(const char *value, struct tern__buf *out)
{
	const char *q1 = strchr(value, '\'');
	const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
	if (!q1 || !q2 || q1 == value || (size_t)(q1 - value) > 64)
		return TERN_EINVAL;
	char charset[65];
	memcpy(charset, value, (size_t)(q1 - value));
	charset[q1 - value] = '\0';
	struct tern__buf raw;
	tern__buf_init(&raw, 0);
	int rc = 0;
	for (const char *p = q2 + 1; *p && rc == 0; p++) {
		char c = *p;
		if (c == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			c = (char)(hexval(p[1]) * 16 + hexval(p[2]));
			p += 2;
		}
		rc = tern__buf_append(&raw, &c, 1);
	}
	if (rc == 0)
		rc = tern__mime_charset_to_utf8(charset, tern__buf_ptr(&raw), raw.len, out);
	tern__buf_free(&raw);
	return rc;
}

enum tern__mime_cte tern__mime_cte_parse(const char *v, size_t len)
{
	if (!v)
		return TERN__MIME_CTE_IDENTITY;
	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	size_t n = 0;
	while (n < len && v[n] != ' ' && v[n] != '\t' && v[n] != '\r' && v[n] != '\n' && v[n] != '(')
		n++;
	if (n == 16 && strncasecmp(v, "quoted-printable", 16) == 0)
		return TERN__MIME_CTE_QP;
	if (n == 6 && strncasecmp(v, "base64", 6) == 0)
		return TERN__MIME_CTE_BASE64;
	return TERN__MIME_CTE_IDENTITY;
}

void tern__mime_decoder_init(struct tern__mime_decoder *d, enum tern__mime_cte cte)
{
	memset(d, 0, sizeof(*d));
	d->cte = cte;
}

static int b64val(unsigned char c)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? memchr(alphabet, c, 64) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

static int b64_feed(struct tern__mime_decoder *d, const unsigned char *s, size_t len,
		    struct tern__buf *out)
{
	unsigned char o[3 * 64];
	size_t no = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '=')
			d->ended = 1;
		int v = b64val(s[i]);
		/* RFC 2045 6.8: other characters are ignored; nothing after the
		 * padding is data. */
		if (v < 0 || d->ended)
			continue;
		d->quantum = (d->quantum << 6) | (unsigned)v;
		if (++d->nq == 4) {
			o[no++] = (unsigned char)(d->quantum >> 16);
			o[no++] = (unsigned char)(d->quantum >> 8);
			o[no++] = (unsigned char)d->quantum;
			d->nq = 0;
			d->quantum = 0;
			if (no == sizeof(o)) {
				int rc = tern__buf_append(out, o, no);
				if (rc < 0)
					return rc;
				no = 0;
			}
		}
	}
	return tern__buf_append(out, o, no);
}

static int flush_pend(struct tern__mime_decoder *d, struct tern__buf *out)
{
	int rc = tern__buf_append(out, d->pend, d->npend);
	d->npend = 0;
	return rc;
}

/* Quoted-printable (RFC 2045 6.7), one octet at a time: pend holds an
 * escape being read ("=", "=X") or a run of whitespace that is dropped if
 * a line end follows it (rule 3). */
static int qp_byte(struct tern__mime_decoder *d, char c, struct tern__buf *out)
{
	int rc = 0;
	if (d->npend > 0 && d->pend[0] == '=') {
		if (d->npend == 1 && (c == '\r' || c == ' ' || c == '\t')) {
			return 0; /* a soft break, whitespace after '=' allowed */
		}
		if (d->npend == 1 && c == '\n') {
			d->npend = 0; /* "=\r\n" or "=\n": soft line break */
			return 0;
		}
		d->pend[d->npend++] = c;
		if (d->npend < 3)
			return 0;
		if (hexval(d->pend[1]) >= 0 && hexval(d->pend[2]) >= 0) {
			char v = (char)(hexval(d->pend[1]) * 16 + hexval(d->pend[2]));
			d->npend = 0;
			return tern__buf_append(out, &v, 1);
		}
		/* Not an escape: keep the octets as they are (lenient). */
		return flush_pend(d, out);
	}
	if (c == ' ' || c == '\t') {
		if (d->npend == sizeof(d->pend))
			rc = flush_pend(d, out);
		d->pend[d->npend++] = c;
		return rc;
	}
	if (c == '\r')
		return 0; /* line ends are written as CRLF at the LF */
	if (c == '\n') {
		d->npend = 0; /* trailing whitespace dropped */
		return tern__buf_append(out, "\r\n", 2);
	}
	rc = flush_pend(d, out);
	if (rc == 0 && c == '=') {
		d->pend[d->npend++] = c;
		return 0;
	}
	return rc < 0 ? rc : tern__buf_append(out, &c, 1);
}

int tern__mime_decoder_feed(struct tern__mime_decoder *d, const void *in, size_t len,
			    struct tern__buf *out)
{
	const char *s = in;
	switch (d->cte) {
	case TERN__MIME_CTE_BASE64:
		return b64_feed(d, in, len, out);
	case TERN__MIME_CTE_QP:
		for (size_t i = 0; i < len; i++) {
			int rc = qp_byte(d, s[i], out);
			if (rc < 0)
				return rc;
		}
		return 0;
	default:
		return tern__buf_append(out, in, len);
	}
}

int tern__mime_decoder_finish(struct tern__mime_decoder *d, struct tern__buf *out)
{
	int rc = 0;
	if (d->cte == TERN__MIME_CTE_QP) {
		/* A lone "=" at the very end is a soft break; trailing whitespace
		 * at the end is dropped like before a line end. */
		if (d->npend > 0 && d->pend[0] == '=' && d->npend > 1)
			rc = flush_pend(d, out);
		d->npend = 0;
	} else if (d->cte == TERN__MIME_CTE_BASE64) {
		/* Unpadded tail: 2 or 3 sextets still carry 1 or 2 octets. */
		unsigned char o[2];
		if (d->nq == 2) {
			o[0] = (unsigned char)(d->quantum >> 4);
			rc = tern__buf_append(out, o, 1);
		} else if (d->nq == 3) {
			o[0] = (unsigned char)(d->quantum >> 10);
			o[1] = (unsigned char)(d->quantum >> 2);
			rc = tern__buf_append(out, o, 2);
		}
		d->nq = 0;
		d->quantum = 0;
	}
	return rc;
}

/* Decodes one UTF-8 sequence at s (n bytes available). Returns its length,
 * 0 when incomplete, and the code point in *cp (U+FFFD for a bad one,
 * length 1). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t need;
	uint32_t v;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		need = 2;
		v = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		need = 3;
		v = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		need = 4;
		v = c & 0x07;
	} else {
		*cp = 0xfffd;
		return 1;
	}
	for (size_t k = 1; k < need; k++) {
		if (k >= n)
			return 0;
		if ((s[k] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return 1;
		}
		v = (v << 6) | (s[k] & 0x3f);
	}
	*cp = v;
	return need;
}

static uint32_t fold(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 32;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 32;
	if (c >= 0x100 && c <= 0x177 && !(c >= 0x130 && c <= 0x131) && !(c >= 0x138 && c <= 0x148))
		return c | 1;
	if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2)
		return c + 32;
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	return c;
}

static int put_utf8(struct tern__buf *out, uint32_t c)
{
	unsigned char b[4];
	size_t n;
	if (c < 0x80) {
		b[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (unsigned char)(0xc0 | (c >> 6));
		b[1] = (unsigned char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (c >> 12));
		b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (c >> 18));
		b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (c & 0x3f));
		n = 4;
	}
	return tern__buf_append(out, b, n);
}

/* Folds text into out; an incomplete sequence at the end is left for the
 * next piece (returned as the count of bytes not consumed). */
static long fold_into(const unsigned char *s, size_t n, struct tern__buf *out)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		size_t k = utf8_next(s + i, n - i, &cp);
		if (k == 0)
			break;
		if (put_utf8(out, fold(cp)) < 0)
			return TERN_ENOMEM;
		i += k;
	}
	return (long)(n - i);
}

int tern__mime_search_init(struct tern__mime_search *s, const char *needle, size_t len)
{
	memset(s, 0, sizeof(*s));
	tern__buf_init(&s->needle, 0);
	tern__buf_init(&s->window, 0);
	if (fold_into((const unsigned char *)needle, len, &s->needle) < 0)
		return TERN_ENOMEM;
	s->found = s->needle.len == 0;
	return 0;
}

int tern__mime_search_feed(struct tern__mime_search *s, const char *text, size_t len)
{
	if (s->found)
		return 1;
	while (len > 0) {
		/* Complete a sequence split across pieces first. */
		unsigned char tmp[4 + 256];
		size_t take = len < 256 ? len : 256;
		memcpy(tmp, s->partial, s->npartial);
		memcpy(tmp + s->npartial, text, take);
		size_t n = s->npartial + take;
		long left = fold_into(tmp, n, &s->window);
		if (left < 0)
			return TERN_ENOMEM;
		s->npartial = (size_t)left;
		memcpy(s->partial, tmp + n - (size_t)left, (size_t)left);
		text += take;
		len -= take;
		if (memmem(tern__buf_ptr(&s->window), s->window.len, tern__buf_ptr(&s->needle),
			   s->needle.len)) {
			s->found = 1;
			break;
		}
		/* Keep only what could start a match. */
		if (s->window.len >= s->needle.len)
			tern__buf_consume(&s->window, s->window.len - (s->needle.len - 1));
	}
	return s->found;
}

void tern__mime_search_free(struct tern__mime_search *s)
{
	tern__buf_free(&s->needle);
	tern__buf_free(&s->window);
}
