/* The bits of RFC 5322 lexical syntax that the From reader and the
 * Authentication-Results reader share: CFWS with nested comments, and
 * quoted strings. Pure functions over a cursor; no allocation. */
#ifndef TERN_AUTH_AUTHRES_LEX_H
#define TERN_AUTH_AUTHRES_LEX_H

#include <stdbool.h>
#include <stddef.h>

struct tern__auth_lex {
	const unsigned char *s;
	size_t len;
	size_t pos;
};

/* Skips CFWS (RFC 5322 3.2.2): SP, HTAB, the CR and LF of folding (bare
 * ones too), and comments, which nest and hold quoted-pairs; comments nest
 * by counting, so depth costs no stack. When comment_r is not NULL and
 * *comment_r is still 0, the first comment's inside (without the outer
 * parentheses) is given as an offset + 1 into s in *comment_r and its
 * length in *comment_len_r. Returns false on an unterminated comment (pos
 * is then at the end). */
bool tern__auth_skip_cfws(struct tern__auth_lex *lx, size_t *comment_r, size_t *comment_len_r);

/* The octet at pos after CFWS, or -1 at the end or after a bad comment
 * (then *bad is set). */
int tern__auth_peek(struct tern__auth_lex *lx, bool *bad);

/* Skips a quoted-string with pos at its '"' (RFC 5322 3.2.4, with obs-qtext
 * tolerated). Returns false if it does not end. */
bool tern__auth_skip_quoted(struct tern__auth_lex *lx);

#endif
