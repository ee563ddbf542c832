/* Writing a signature header field folded at 78 columns (fold.c): the
 * DKIM signer's DKIM-Signature (dkim_sign.c) and the ARC sealer's
 * ARC-Message-Signature and ARC-Seal (arc_seal.c).
 *
 * Shared because the three fields are one tag-list syntax (RFC 6376 3.2;
 * RFC 8617 4.1.2: an AMS is a DKIM signature but for i= in place of v=)
 * whose h= and base64 values fold the same way, so one writer keeps the
 * signer and the sealer emitting the same shape. */
#ifndef TERN_AUTH_FOLD_H
#define TERN_AUTH_FOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/dkim_int.h"
#include "util/buf.h"

/* RFC 5322 2.1.1: "Each line of characters SHOULD be no more than 78
 * characters, excluding the CRLF." */
#define TERN__FOLD_WIDTH 78

/* The field being written, with its current column for folding. err: the
 * first error (TERN_ENOMEM, or TERN_EINVAL from tern__fold_tag()); once
 * set, nothing more is written, so a writer checks it once at the end. */
struct tern__fold {
	struct tern__buf b;
	size_t col;
	int err;
};

/* An empty field, column 0. */
void tern__fold_init(struct tern__fold *f);

/* Appends s[0..n) as it is, no folding. */
void tern__fold_add(struct tern__fold *f, const char *s, size_t n);

/* Ends the line: CRLF and a space, column 1. */
void tern__fold_break(struct tern__fold *f);

/* A space and s[0..n) on the current line when they fit in the width,
 * else a new line and s[0..n). */
void tern__fold_piece(struct tern__fold *f, const char *s, size_t n);

/* A piece made by printf from fmt; one longer than 599 octets sets
 * f->err to TERN_EINVAL. */
void tern__fold_tag(struct tern__fold *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A base64 value folded anywhere to fill each line (RFC 6376 3.5: FWS is
 * allowed inside b=). */
void tern__fold_base64(struct tern__fold *f, const char *s, size_t n);

/* One name of h=, also appended to list (the h= value the header hash
 * walks, tern__dkim_header_digest()). first: the piece "h=" goes before
 * it; else ":" does, and a new line after the ":" when the name does not
 * fit. */
void tern__fold_h_name(struct tern__fold *f, struct tern__buf *list, const char *name, size_t len,
		       bool first);

/* The names of h= for the header block h (through tern__fold_h_name()):
 * each distinct name of names (ASCII case-insensitive; the first
 * spelling is kept) once per field of that name in h, and once more when
 * it is in oversigned (NULL: none; RFC 6376 8.15). A name with no field
 * and no over-signing is left out. *from_r: whether names holds From.
 * Returns how many names were written (0: not even "h="). */
size_t tern__fold_h_names(struct tern__fold *f, struct tern__buf *list,
			  const struct tern__headers *h, const char *const *names,
			  const char *const *oversigned, bool *from_r);

/* The b= value: digest signed with pkey (tern__dkim_sign_digest()),
 * base64, folded. Returns 0, TERN_EIO, or f->err. */
int tern__fold_signature(struct tern__fold *f, EVP_PKEY *pkey, enum tern_dkim_algorithm alg,
			 const unsigned char digest[TERN__DKIM_DIGEST_LEN]);

#endif
