/* SMTP reply parser (RFC 5321 4.2; RFC 2034 and RFC 3463 enhanced codes).
 * The decisions (bare LF, limits, what is malformed) are in client.h. */
#include <stdlib.h>
#include <string.h>

#include "smtp/client/client.h"
#include "tern/tern.h"

int tern__smtpc_parser_init(struct tern__smtpc_parser *p, size_t max_line, size_t max_reply,
			    size_t max_lines)
{
	memset(p, 0, sizeof(*p));
	p->max_line = max_line ? max_line : TERN__SMTPC_MAX_LINE;
	p->max_lines = max_lines ? max_lines : TERN__SMTPC_MAX_LINES;
	/* +1: the NUL written after the last line. */
	tern__buf_init(&p->text, (max_reply ? max_reply : TERN__SMTPC_MAX_REPLY) + 1);
	p->line = malloc(p->max_line);
	return p->line ? 0 : TERN_ENOMEM;
}

void tern__smtpc_parser_free(struct tern__smtpc_parser *p)
{
	free(p->line);
	p->line = NULL;
	tern__buf_free(&p->text);
}

void tern__smtpc_parser_next(struct tern__smtpc_parser *p)
{
	tern__buf_clear(&p->text);
	p->code = 0;
	p->enhanced[0] = '\0';
	p->n_lines = 0;
	p->line_len = 0;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* 1 to 3 digits without a leading zero unless it is "0" (RFC 3463 2). */
static size_t digits(const char *s, size_t len, size_t max)
{
	size_t n = 0;
	while (n < len && n < max && is_digit(s[n]))
		n++;
	if (n == 0 || (n < len && is_digit(s[n])))
		return 0;
	if (n > 1 && s[0] == '0')
		return 0;
	return n;
}

size_t tern__smtpc_enhanced_parse(const char *s, size_t len, char out[16])
{
	/* status-code = class "." subject "." detail; class = "2"/"4"/"5" */
	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	size_t i = 2;
	size_t n = digits(s + i, len - i, 3);
	if (!n)
		return 0;
	i += n;
	if (i >= len || s[i] != '.')
		return 0;
	i++;
	n = digits(s + i, len - i, 3);
	if (!n)
		return 0;
	i += n;
	if (i < len && s[i] != ' ')
		return 0;
	memcpy(out, s, i);
	out[i] = '\0';
	return i;
}

static int line_done(struct tern__smtpc_parser *p, bool *last_r)
{
	char *l = p->line;
	size_t len = p->line_len;
	if (len && l[len - 1] == '\r')
		len--;
	/* RFC 5321 4.2: reply codes 2yz..5yz; the second digit 0..5 (4.2.1). */
	if (len < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '5' || !is_digit(l[2]))
		return TERN__SMTPC_RE_CODE;
	if (len > 3 && l[3] != ' ' && l[3] != '-')
		return TERN__SMTPC_RE_CODE;
	int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (p->n_lines && code != p->code)
		return TERN__SMTPC_RE_MIXED;
	if (p->n_lines >= p->max_lines)
		return TERN__SMTPC_RE_BIG;
	*last_r = len == 3 || l[3] == ' ';
	const char *t = len > 4 ? l + 4 : "";
	size_t tlen = len > 4 ? len - 4 : 0;
	char enh[16];
	size_t elen = tern__smtpc_enhanced_parse(t, tlen, enh);
	/* RFC 3463 2: the class of the enhanced code is the reply's class. */
	if (elen && enh[0] != l[0])
		elen = 0;
	if (elen) {
		if (p->n_lines == 0)
			memcpy(p->enhanced, enh, elen + 1);
		if (p->n_lines == 0 || strcmp(p->enhanced, enh) == 0) {
			t += elen;
			tlen -= elen;
			if (tlen) {
				t++;
				tlen--;
			}
		}
	}
	p->code = code;
	int r = 0;
	if (p->n_lines)
		r = tern__buf_append(&p->text, "\n", 1);
	if (r == 0)
		r = tern__buf_append(&p->text, t, tlen);
	if (r == TERN_ELIMIT)
		return TERN__SMTPC_RE_BIG;
	if (r < 0)
		return r;
	/* Text goes to logs and results: no control character survives. */
	if (tlen) {
		char *d = p->text.data + p->text.off + p->text.len - tlen;
		for (size_t i = 0; i < tlen; i++)
			if ((unsigned char)d[i] < 0x20 || d[i] == 0x7f)
				d[i] = ' ';
	}
	p->n_lines++;
	p->line_len = 0;
	return 0;
}

int tern__smtpc_parser_feed(struct tern__smtpc_parser *p, const char *in, size_t len,
			    size_t *used_r)
{
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(in + i, '\n', len - i);
		size_t take = nl ? (size_t)(nl - (in + i)) : len - i;
		/* The line, its CR and LF must fit max_line. */
		if (p->line_len + take + (nl ? 1 : 0) > p->max_line)
			return TERN__SMTPC_RE_LINE;
		memcpy(p->line + p->line_len, in + i, take);
		p->line_len += take;
		i += take;
		if (!nl)
			break;
		i++; /* the LF */
		bool last = false;
		int r = line_done(p, &last);
		if (r < 0)
			return r;
		if (last) {
			r = tern__buf_append(&p->text, "", 1);
			if (r == TERN_ELIMIT)
				return TERN__SMTPC_RE_BIG;
			if (r < 0)
				return r;
			p->text.len--;
			*used_r = i;
			return 1;
		}
	}
	*used_r = i;
	return 0;
}

const char *tern__smtpc_reply_strerror(int err)
{
	switch (err) {
	case TERN__SMTPC_RE_CODE:
		return "malformed reply line";
	case TERN__SMTPC_RE_MIXED:
		return "reply lines with different codes";
	case TERN__SMTPC_RE_LINE:
		return "reply line too long";
	case TERN__SMTPC_RE_BIG:
		return "reply too long";
	case TERN_ENOMEM:
		return "out of memory";
	default:
		return "bad reply";
	}
}
