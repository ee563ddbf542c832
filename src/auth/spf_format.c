/* Words about SPF results: the result names (RFC 7208 2.6), the
 * Received-SPF header field (RFC 7208 9.1) and the Authentication-Results
 * resinfo (RFC 8601 2.7.2). Output is built in a buffer, then copied
 * snprintf-style. */
#include <stdio.h>
#include <string.h>

#include "auth/spf_int.h"
#include "tern/tern.h"

/* RFC 5322 2.1.1: lines SHOULD be at most 78 octets. */
#define LINE_SOFT 78

const char *tern_spf_result_name(enum tern_spf_result result)
{
	switch (result) {
	case TERN_SPF_RESULT_NONE: return "none";
	case TERN_SPF_RESULT_NEUTRAL: return "neutral";
	case TERN_SPF_RESULT_PASS: return "pass";
	case TERN_SPF_RESULT_FAIL: return "fail";
	case TERN_SPF_RESULT_SOFTFAIL: return "softfail";
	case TERN_SPF_RESULT_TEMPERROR: return "temperror";
	case TERN_SPF_RESULT_PERMERROR: return "permerror";
	}
	return "unknown";
}

/* RFC 5322 3.2.3 atext. */
static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool is_dot_atom(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || s[0] == '.' || s[n - 1] == '.' || strstr(s, "..") != NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '.' && !is_atext((unsigned char)s[i]))
			return false;
	return true;
}

/* Appends s as a quoted-string (quoted always) or, for a comment, with
 * parentheses and backslashes escaped; controls and 8-bit octets become
 * "?" (a header field is 7-bit and one line before folding). */
static int append_escaped(struct tern__buf *b, const char *s, bool quoted)
{
	int rc = quoted ? tern__buf_append(b, "\"", 1) : 0;

	for (; rc == 0 && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c > 0x7e)
			c = '?';
		if (c == '\\' || (quoted && c == '"') || (!quoted && (c == '(' || c == ')')))
			rc = tern__buf_append(b, "\\", 1);
		if (rc == 0)
			rc = tern__buf_append(b, &c, 1);
	}
	if (rc == 0 && quoted)
		rc = tern__buf_append(b, "\"", 1);
	return rc;
}

static int append_value(struct tern__buf *b, const char *key, const char *value, bool force_quote)
{
	int rc = tern__buf_printf(b, " %s=", key);

	if (rc == 0)
		rc = !force_quote && is_dot_atom(value) ? tern__buf_append(b, value, strlen(value))
							: append_escaped(b, value, true);
	if (rc == 0)
		rc = tern__buf_append(b, ";", 1);
	return rc;
}

/* The comment's text by result (after "RECEIVER: "). */
static int append_comment(struct tern__buf *b, const struct tern_spf_outcome *o, const char *ip)
{
	const char *s = o->sender;
	int rc = 0;

	switch (o->result) {
	case TERN_SPF_RESULT_PASS:
		rc = tern__buf_printf(b, "domain of %s designates %s as permitted sender", s, ip);
		break;
	case TERN_SPF_RESULT_FAIL:
		rc = tern__buf_printf(b, "domain of %s does not designate %s as permitted sender",
				      s, ip);
		break;
	case TERN_SPF_RESULT_SOFTFAIL:
		rc = tern__buf_printf(b, "domain of transitioning %s does not designate %s as "
					 "permitted sender", s, ip);
		break;
	case TERN_SPF_RESULT_NEUTRAL:
		rc = tern__buf_printf(b, "%s is neither permitted nor denied by domain of %s", ip,
				      s);
		break;
	case TERN_SPF_RESULT_NONE:
		rc = tern__buf_printf(b, "domain of %s does not designate permitted sender hosts",
				      s);
		break;
	case TERN_SPF_RESULT_TEMPERROR:
		rc = tern__buf_printf(b, "error in processing during lookup of %s", s);
		break;
	default:
		rc = tern__buf_printf(b, "permanent error in processing domain of %s", s);
		break;
	}
	return rc;
}

/* Copies text into buf snprintf-style, folding where a line would pass
 * 78 octets: a CRLF goes before the space that starts the word. A word
 * longer than a line stays whole (lines stay far below 998: every value
 * in the field is bounded). */
static int emit(const char *text, size_t len, char *buf, size_t size)
{
	size_t out = 0, line = 0;

#define PUT(c)                                                                                     \
	do {                                                                                       \
		if (out + 1 < size)                                                                \
			buf[out] = (c);                                                            \
		out++;                                                                             \
	} while (0)
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		/* Not inside a quoted-string: folding there is legal but puts
		 * a line break into a value a reader will show. */
		if (text[i] == '"' && (i == 0 || text[i - 1] != '\\'))
			quoted = !quoted;
		if (text[i] == ' ' && line > 0 && !quoted) {
			size_t w = 1;
			bool q = false;
			while (i + w < len && (q || text[i + w] != ' ')) {
				if (text[i + w] == '"' && text[i + w - 1] != '\\')
					q = !q;
				w++;
			}
			if (line + w > LINE_SOFT) {
				PUT('\r');
				PUT('\n');
				line = 0;
			}
		}
		PUT(text[i]);
		line++;
	}
#undef PUT
	if (size > 0)
		buf[out < size ? out : size - 1] = '\0';
	return out > (size_t)INT32_MAX ? TERN_ELIMIT : (int)out;
}

static int finish_text(struct tern__buf *b, int rc, char *buf, size_t size)
{
	if (rc == 0)
		rc = emit(tern__buf_ptr(b), b->len, buf, size);
	tern__buf_free(b);
	return rc;
}

int tern_spf_received_spf(const tern_spf *spf, enum tern_spf_identity identity, char *buf,
			  size_t size)
{
	const struct tern_spf_outcome *o = tern_spf_outcome(spf, identity);
	struct tern__buf b, comment;
	const char *ip, *helo;
	int rc;

	if (o == NULL)
		return TERN_EINVAL;
	ip = tern__spf_client_ip(spf);
	helo = tern__spf_helo(spf);
	tern__buf_init(&b, 0);
	tern__buf_init(&comment, 0);
	rc = tern__buf_printf(&comment, "%s: ", tern__spf_receiver(spf));
	if (rc == 0)
		rc = append_comment(&comment, o, ip);
	if (rc == 0 && o->problem != NULL)
		rc = tern__buf_printf(&comment, ": %s", o->problem);
	if (rc == 0)
		rc = tern__buf_append(&comment, "", 1);
	if (rc == 0)
		rc = tern__buf_printf(&b, "Received-SPF: %s (", tern_spf_result_name(o->result));
	if (rc == 0)
		rc = append_escaped(&b, tern__buf_ptr(&comment), false);
	if (rc == 0)
		rc = tern__buf_append(&b, ")", 1);
	if (rc == 0)
		rc = append_value(&b, "client-ip", ip, false);
	if (rc == 0)
		rc = append_value(&b, "envelope-from", o->sender, true);
	if (rc == 0 && helo[0] != '\0')
		rc = append_value(&b, "helo", helo, false);
	if (rc == 0)
		rc = append_value(&b, "receiver", tern__spf_receiver(spf), false);
	if (rc == 0)
		rc = append_value(&b, "identity", identity == TERN_SPF_HELO ? "helo" : "mailfrom",
				  false);
	if (rc == 0 && o->mechanism != NULL)
		rc = append_value(&b, "mechanism", o->mechanism, true);
	if (rc == 0 && o->problem != NULL)
		rc = append_value(&b, "problem", o->problem, true);
	if (rc == 0)
		b.len--;   /* the last ";" is optional (RFC 7208 9.1); leave it out */
	tern__buf_free(&comment);
	return finish_text(&b, rc, buf, size);
}

int tern_spf_auth_results(const tern_spf *spf, enum tern_spf_identity identity, char *buf,
			  size_t size)
{
	const struct tern_spf_outcome *o = tern_spf_outcome(spf, identity);
	struct tern__buf b;
	int rc;

	if (o == NULL)
		return TERN_EINVAL;
	tern__buf_init(&b, 0);
	rc = tern__buf_printf(&b, "spf=%s %s=", tern_spf_result_name(o->result),
			      identity == TERN_SPF_HELO ? "smtp.helo" : "smtp.mailfrom");
	/* RFC 8601 2.7.2: the domain; a value that is no dot-atom (a
	 * broken HELO name) goes in quotes. */
	if (rc == 0)
		rc = is_dot_atom(o->domain) ? tern__buf_append(&b, o->domain, strlen(o->domain))
					    : append_escaped(&b, o->domain, true);
	return finish_text(&b, rc, buf, size);
}
