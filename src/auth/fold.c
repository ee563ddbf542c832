/* The folded signature field writer (fold.h), one copy for the DKIM
 * signer and the ARC sealer: their fields share RFC 6376's tag-list
 * syntax and folding. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auth/fold.h"
#include "util/base64.h"

void tern__fold_init(struct tern__fold *f)
{
	tern__buf_init(&f->b, 0);
	f->col = 0;
	f->err = 0;
}

void tern__fold_add(struct tern__fold *f, const char *s, size_t n)
{
	if (f->err == 0)
		f->err = tern__buf_append(&f->b, s, n);
	f->col += n;
}

void tern__fold_break(struct tern__fold *f)
{
	tern__fold_add(f, "\r\n ", 3);
	f->col = 1;
}

void tern__fold_piece(struct tern__fold *f, const char *s, size_t n)
{
	if (f->col + 1 + n > TERN__FOLD_WIDTH)
		tern__fold_break(f);
	else
		tern__fold_add(f, " ", 1);
	tern__fold_add(f, s, n);
}

void tern__fold_tag(struct tern__fold *f, const char *fmt, ...)
{
	char t[600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t, sizeof t, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof t) {
		f->err = TERN_EINVAL;
		return;
	}
	tern__fold_piece(f, t, (size_t)n);
}

void tern__fold_base64(struct tern__fold *f, const char *s, size_t n)
{
	while (n > 0) {
		size_t room = f->col < TERN__FOLD_WIDTH ? TERN__FOLD_WIDTH - f->col : 0, k;

		if (room == 0) {
			tern__fold_break(f);
			continue;
		}
		k = n < room ? n : room;
		tern__fold_add(f, s, k);
		s += k;
		n -= k;
	}
}

void tern__fold_h_name(struct tern__fold *f, struct tern__buf *list, const char *name, size_t len,
		       bool first)
{
	if (first) {
		tern__fold_piece(f, "h=", 2);
	} else {
		tern__fold_add(f, ":", 1);
		if (f->err == 0)
			f->err = tern__buf_append(list, ":", 1);
		if (f->col + len > TERN__FOLD_WIDTH)
			tern__fold_break(f);
	}
	tern__fold_add(f, name, len);
	if (f->err == 0)
		f->err = tern__buf_append(list, name, len);
}

static bool in_list(const char *const *list, const char *name, size_t len)
{
	for (; *list; list++)
		if (strlen(*list) == len && tern__ascii_ieq(*list, name, len))
			return true;
	return false;
}

size_t tern__fold_h_names(struct tern__fold *f, struct tern__buf *list,
			  const struct tern__headers *h, const char *const *names,
			  const char *const *oversigned, bool *from_r)
{
	size_t written = 0;

	*from_r = false;
	for (size_t i = 0; names[i]; i++) {
		size_t len = strlen(names[i]), n;
		bool dup = false;

		for (size_t k = 0; k < i && !dup; k++)
			dup = strlen(names[k]) == len && tern__ascii_ieq(names[k], names[i], len);
		if (dup)
			continue;
		n = tern__headers_count(h, names[i], len);
		if (oversigned && in_list(oversigned, names[i], len))
			n++;
		if (len == 4 && tern__ascii_ieq(names[i], "from", 4))
			*from_r = true;
		for (; n > 0; n--, written++)
			tern__fold_h_name(f, list, names[i], len, written == 0);
	}
	return written;
}

int tern__fold_signature(struct tern__fold *f, EVP_PKEY *pkey, enum tern_dkim_algorithm alg,
			 const unsigned char digest[TERN__DKIM_DIGEST_LEN])
{
	unsigned char sig[TERN__DKIM_SIG_MAX];
	char b64[TERN__BASE64_ENCODED_LEN(sizeof sig) + 1];
	size_t sig_len = sizeof sig;
	int rc;

	if ((rc = tern__dkim_sign_digest(pkey, alg, digest, sig, &sig_len)) < 0)
		return rc;
	tern__base64_encode(sig, sig_len, b64, sizeof b64);
	tern__fold_base64(f, b64, strlen(b64));
	return f->err;
}
