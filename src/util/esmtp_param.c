/* ESMTP parameters after a MAIL/RCPT path (RFC 5321 4.1.2). Only the
 * grammar is checked here; which keywords are known, advertised or
 * allowed is the command handler's business. */
#include "util/esmtp_param.h"
#include "util/utf8.h"

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}


int tern__esmtp_params_split(const char *in, size_t len, bool allow_utf8,
			     struct tern__esmtp_param *params, size_t max, size_t *n_r)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = 0, i = 0;
	int rc = TERN__PARAM_OK;

	for (;;) {
		struct tern__esmtp_param p;
		size_t start;

		/* Postfix and smtp-server take any run of spaces between
		 * parameters, and before the first one after the path. */
		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			break;

		/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
		start = i;
		if (!is_alpha(s[i]) && !is_digit(s[i])) {
			rc = TERN__PARAM_ESYNTAX;
			break;
		}
		while (i < len && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '-'))
			i++;
		p.key = in + start;
		p.key_len = i - start;
		p.value = NULL;
		p.value_len = 0;

		if (i < len && s[i] == '=') {
			/* esmtp-value = 1*(%d33-60 / %d62-126)
			 * RFC 6531 3.3: esmtp-value =/ UTF8-non-ascii */
			start = ++i;
			while (i < len && s[i] != ' ') {
				if (s[i] >= 33 && s[i] <= 126 && s[i] != '=') {
					i++;
				} else if (s[i] >= 0x80 && allow_utf8) {
					size_t k = tern__utf8_seq_len(s + i, len - i);
					if (tern__utf8_is_c1(s + i, k))
						k = 0; /* C1 controls are controls too */

					if (k == 0)
						break;
					i += k;
				} else {
					break;
				}
			}
			if (i == start) {
				rc = TERN__PARAM_ESYNTAX; /* "KEY=" */
				break;
			}
			p.value = in + start;
			p.value_len = i - start;
		}
		if (i < len && s[i] != ' ') {
			rc = TERN__PARAM_ESYNTAX;
			break;
		}
		if (n == max) {
			rc = TERN__PARAM_ETOOMANY;
			break;
		}
		params[n++] = p;
	}
	if (n_r != NULL)
		*n_r = n;
	return rc;
}

bool tern__esmtp_param_is(const struct tern__esmtp_param *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->key_len; i++) {
		unsigned char a = (unsigned char)p->key[i];
		unsigned char b = (unsigned char)name[i];

		if (b == '\0')
			return false;
		if (a >= 'a' && a <= 'z')
			a = (unsigned char)(a - 'a' + 'A');
		if (b >= 'a' && b <= 'z')
			b = (unsigned char)(b - 'a' + 'A');
		if (a != b)
			return false;
	}
	return name[i] == '\0';
}
