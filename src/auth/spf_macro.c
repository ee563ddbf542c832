/* SPF macro strings (RFC 7208 7): one scanner checks the syntax, tells
 * whether %{p} is used, and expands, so the three can never disagree. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "auth/spf_int.h"
#include "tern/tern.h"

/* RFC 7208 7.1: a number of parts beyond this keeps all of them; a name
 * has at most 127 labels anyway. */
#define PARTS_MAX 128

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_delimiter(char c)
{
	return strchr(".-+,/_=", c) != NULL && c != '\0';
}

/* RFC 3986 2.3 unreserved. */
static bool is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit((char)c) ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* The value of one macro letter, lower case (RFC 7208 7.3), into out. */
static int letter_value(const struct tern__spf_macro_ctx *ctx, char letter, struct tern__buf *out)
{
	static const char hex[] = "0123456789abcdef";
	const char *s = NULL;
	char tmp[INET6_ADDRSTRLEN + 1];

	switch (letter) {
	case 's': s = ctx->sender; break;
	case 'l': s = ctx->local; break;
	case 'o': s = ctx->sender_domain; break;
	case 'd': s = ctx->domain; break;
	case 'h': s = ctx->helo; break;
	case 'p': s = ctx->validated ? ctx->validated : "unknown"; break;
	case 'r': s = ctx->receiver ? ctx->receiver : "unknown"; break;
	case 'v': s = ctx->family == AF_INET ? "in-addr" : "ip6"; break;
	case 't':
		snprintf(tmp, sizeof(tmp), "%lld", (long long)ctx->now);
		s = tmp;
		break;
	case 'c':
		if (inet_ntop(ctx->family, ctx->ip, tmp, sizeof(tmp)) == NULL)
			return TERN_EINVAL;
		s = tmp;
		break;
	case 'i':
		if (ctx->family == AF_INET) {
			snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", ctx->ip[0], ctx->ip[1],
				 ctx->ip[2], ctx->ip[3]);
			s = tmp;
			break;
		}
		/* RFC 7208 7.3: IPv6 "i" is the 32 nibbles, dot-separated. */
		for (int k = 0; k < 16; k++) {
			char nib[4] = { hex[ctx->ip[k] >> 4], '.', hex[ctx->ip[k] & 15], '.' };
			int rc = tern__buf_append(out, nib, k == 15 ? 3 : 4);
			if (rc != 0)
				return rc;
		}
		return 0;
	default: return TERN_EINVAL;
	}
	return tern__buf_append(out, s ? s : "", strlen(s ? s : ""));
}

/* Splits value on delims, optionally reverses, keeps the rightmost parts,
 * joins with "." and appends to out (URL-escaped when escape). */
static int transform(const char *value, size_t len, const char *delims, size_t n_delims,
		     unsigned keep, bool reverse, bool escape, struct tern__buf *out)
{
	const char *start[PARTS_MAX * 2];
	size_t plen[PARTS_MAX * 2];
	size_t n = 0, from;
	const char *p = value;
	int rc = 0;

	/* Collect the parts; past the array, the remainder is one last
	 * part (never reached with names of at most 127 labels). */
	for (size_t i = 0; i <= len; i++) {
		bool cut = i == len;
		for (size_t k = 0; !cut && k < n_delims; k++)
			cut = value[i] == delims[k];
		if (!cut || (n == PARTS_MAX * 2 - 1 && i < len))
			continue;
		start[n] = p;
		plen[n] = (size_t)(value + i - p);
		n++;
		p = value + i + 1;
	}
	if (reverse)
		for (size_t i = 0; i < n / 2; i++) {
			const char *ts = start[i];
			size_t tl = plen[i];
			start[i] = start[n - 1 - i];
			plen[i] = plen[n - 1 - i];
			start[n - 1 - i] = ts;
			plen[n - 1 - i] = tl;
		}
	from = keep > 0 && keep < n ? n - keep : 0;
	for (size_t i = from; rc == 0 && i < n; i++) {
		if (i > from)
			rc = tern__buf_append(out, ".", 1);
		for (size_t k = 0; rc == 0 && k < plen[i]; k++) {
			unsigned char c = (unsigned char)start[i][k];
			if (escape && !is_unreserved(c))
				rc = tern__buf_printf(out, "%%%02X", c);
			else
				rc = tern__buf_append(out, &c, 1);
		}
	}
	return rc;
}

/* One pass over a macro string: with ctx and out, expands; without,
 * only checks. *uses_p, when given, is set if %{p} appears. Returns 0,
 * TERN_EINVAL, TERN_ELIMIT or TERN_ENOMEM. */
static int scan(const struct tern__spf_macro_ctx *ctx, const char *s, size_t len, bool exp,
		struct tern__buf *out, bool *uses_p)
{
	struct tern__buf value;
	int rc = 0;

	tern__buf_init(&value, TERN__SPF_EXPAND_MAX);
	for (size_t i = 0; rc == 0 && i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c != '%') {
			/* macro-literal = %x21-24 / %x26-7E; an explain-string
			 * also has spaces (RFC 7208 6.2). */
			if (c < 0x21 || c > 0x7e) {
				if (!(exp && c == ' ')) {
					rc = TERN_EINVAL;
					break;
				}
			}
			if (out != NULL)
				rc = tern__buf_append(out, &c, 1);
			continue;
		}
		if (++i >= len) {
			rc = TERN_EINVAL;
			break;
		}
		if (s[i] == '%' || s[i] == '_' || s[i] == '-') {
			if (out != NULL)
				rc = tern__buf_append(out, s[i] == '%' ? "%" : s[i] == '_' ? " " : "%20",
						      s[i] == '-' ? 3 : 1);
			continue;
		}
		if (s[i] != '{' || ++i >= len) {
			rc = TERN_EINVAL;
			break;
		}
		/* "{" macro-letter transformers *delimiter "}" */
		char letter = s[i];
		char lower = (char)(letter | 0x20);
		bool escape = letter >= 'A' && letter <= 'Z';
		unsigned keep = 0;
		bool digits = false, reverse = false;
		size_t dstart, dn;

		if (strchr(exp ? "slodipvhcrt" : "slodipvh", lower) == NULL || lower == '\0' ||
		    !((letter >= 'a' && letter <= 'z') || escape)) {
			rc = TERN_EINVAL;
			break;
		}
		if (lower == 'p' && uses_p != NULL)
			*uses_p = true;
		for (i++; i < len && is_digit(s[i]); i++) {
			digits = true;
			if (keep < PARTS_MAX)
				keep = keep * 10 + (unsigned)(s[i] - '0');
		}
		/* RFC 7208 7.1: if a DIGIT is specified, it MUST be nonzero. */
		if (digits && keep == 0) {
			rc = TERN_EINVAL;
			break;
		}
		if (i < len && (s[i] == 'r' || s[i] == 'R')) {
			reverse = true;
			i++;
		}
		dstart = i;
		while (i < len && is_delimiter(s[i]))
			i++;
		dn = i - dstart;
		if (i >= len || s[i] != '}') {
			rc = TERN_EINVAL;
			break;
		}
		if (out == NULL)
			continue;
		tern__buf_clear(&value);
		rc = letter_value(ctx, lower, &value);
		if (rc == 0)
			rc = transform(tern__buf_ptr(&value), value.len, dn ? s + dstart : ".",
				       dn ? dn : 1, keep, reverse, escape, out);
	}
	tern__buf_free(&value);
	return rc;
}

bool tern__spf_macro_valid(const char *s, size_t len, bool exp)
{
	return scan(NULL, s, len, exp, NULL, NULL) == 0;
}

bool tern__spf_macro_uses_p(const char *s, size_t len)
{
	bool uses_p = false;

	(void)scan(NULL, s, len, true, NULL, &uses_p);
	return uses_p;
}

int tern__spf_macro_expand(const struct tern__spf_macro_ctx *ctx, const char *s, size_t len,
			   bool exp, struct tern__buf *out)
{
	return scan(ctx, s, len, exp, out, NULL);
}

bool tern__spf_domain_spec_valid(const char *s, size_t len)
{
	size_t end = len, start;
	bool alpha = false;

	if (len == 0 || !tern__spf_macro_valid(s, len, false))
		return false;
	/* domain-end = ( "." toplabel [ "." ] ) / macro-expand */
	if (s[len - 1] == '}')
		return true;
	if (len >= 2 && s[len - 2] == '%' && (s[len - 1] == '%' || s[len - 1] == '_' ||
					      s[len - 1] == '-')) {
		/* "%%" at the end could be the second half of "x%%%": count the
		 * run of percent signs to know who owns the last one. */
		size_t run = 0;
		for (size_t i = len - 1; i > 0 && s[i - 1] == '%'; i--)
			run++;
		if (run % 2 == 1)
			return true;
	}
	if (s[end - 1] == '.')
		end--;
	start = end;
	while (start > 0 && s[start - 1] != '.')
		start--;
	if (start == 0 || start == end)
		return false;
	/* toplabel = ( *alphanum ALPHA *alphanum ) /
	 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
	for (size_t i = start; i < end; i++) {
		char c = s[i];
		bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (!letter && !is_digit(c) && c != '-')
			return false;
		alpha |= letter || c == '-';
	}
	return alpha && s[start] != '-' && s[end - 1] != '-';
}

int tern__spf_reverse_name(int family, const uint8_t *ip, struct tern__buf *out)
{
	static const char hex[] = "0123456789abcdef";

	if (family == AF_INET)
		return tern__buf_printf(out, "%u.%u.%u.%u.in-addr.arpa", ip[3], ip[2], ip[1], ip[0]);
	for (int k = 15; k >= 0; k--) {
		char nib[4] = { hex[ip[k] & 15], '.', hex[ip[k] >> 4], '.' };
		int rc = tern__buf_append(out, nib, 4);
		if (rc != 0)
			return rc;
	}
	return tern__buf_append(out, "ip6.arpa", 8);
}
