/* CFWS and quoted strings (RFC 5322 3.2.2, 3.2.4), for the From and
 * Authentication-Results readers. */
#include "auth/authres_lex.h"

bool tern__auth_skip_cfws(struct tern__auth_lex *lx, size_t *comment_r, size_t *comment_len_r)
{
	while (lx->pos < lx->len) {
		unsigned char c = lx->s[lx->pos];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->pos++;
			continue;
		}
		if (c != '(')
			return true;
		size_t start = lx->pos + 1;
		unsigned depth = 0;

		do {
			c = lx->s[lx->pos++];
			if (c == '\\') {
				if (lx->pos >= lx->len)
					return false;
				lx->pos++;
			} else if (c == '(') {
				depth++;
			} else if (c == ')') {
				depth--;
			}
		} while (depth > 0 && lx->pos < lx->len);
		if (depth > 0)
			return false;
		if (comment_r != NULL && *comment_r == 0) {
			*comment_r = start + 1;
			*comment_len_r = lx->pos - 1 - start;
		}
	}
	return true;
}

int tern__auth_peek(struct tern__auth_lex *lx, bool *bad)
{
	if (!tern__auth_skip_cfws(lx, NULL, NULL)) {
		*bad = true;
		return -1;
	}
	return lx->pos < lx->len ? lx->s[lx->pos] : -1;
}

bool tern__auth_skip_quoted(struct tern__auth_lex *lx)
{
	for (lx->pos++; lx->pos < lx->len; lx->pos++) {
		unsigned char c = lx->s[lx->pos];

		if (c == '"') {
			lx->pos++;
			return true;
		}
		if (c == '\\' && ++lx->pos >= lx->len)
			return false;
	}
	return false;
}
