#include "smtp/params.h"

#include <string.h>
#include <strings.h>

#include "util/xtext.h"

bool tern__smtp_path_prefix(const char *args, size_t len, const char *prefix, size_t *off_r)
{
	size_t pl = strlen(prefix);
	if (len < pl || strncasecmp(args, prefix, pl) != 0)
		return false;
	size_t off = pl;
	while (off < len && args[off] == ' ')
		off++;
	*off_r = off;
	return off < len;
}

bool tern__param_size(const struct tern__esmtp_param *p, uint64_t *size_r)
{
	if (!p->value || p->value_len == 0 || p->value_len > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < p->value_len; i++) {
		char c = p->value[i];
		if (c < '0' || c > '9')
			return false;
		unsigned d = (unsigned)(c - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*size_r = v;
	return true;
}

static bool value_is(const struct tern__esmtp_param *p, const char *name)
{
	return p->value && p->value_len == strlen(name) &&
	       strncasecmp(p->value, name, p->value_len) == 0;
}

int tern__param_body(const tern_smtp_session *s, const struct tern__esmtp_param *p,
		     enum tern_smtp_body *body_r)
{
	if (value_is(p, "7BIT") || value_is(p, "8BITMIME")) {
		/* RFC 6152 2: BODY belongs to 8BITMIME. */
		if (!tern__smtp_ext(s, TERN__EXT_8BITMIME))
			return 555;
		*body_r = value_is(p, "7BIT") ? TERN_SMTP_BODY_7BIT : TERN_SMTP_BODY_8BITMIME;
		return 0;
	}
	if (value_is(p, "BINARYMIME")) {
		if (!tern__smtp_ext(s, TERN__EXT_BINARYMIME))
			return 555;
		*body_r = TERN_SMTP_BODY_BINARYMIME;
		return 0;
	}
	return 501;
}

bool tern__param_xtext(const struct tern__esmtp_param *p, size_t max, char *out)
{
	if (!p->value)
		return false;
	ssize_t n = tern__xtext_decode(p->value, p->value_len, out, p->value_len + 1);
	if (n <= 0 || (size_t)n > max)
		return false;
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c < 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

bool tern__smtp_split_params(tern_smtp_session *s, const char *in, size_t len,
			     struct tern__esmtp_param *params, size_t max, size_t *n_r)
{
	int r = tern__esmtp_params_split(in, len, tern__smtp_ext(s, TERN__EXT_SMTPUTF8), params,
					 max, n_r);
	if (r == TERN__PARAM_OK)
		return true;
	tern__smtp_reply_error(s, 501, "5.5.4",
			       r == TERN__PARAM_ETOOMANY ? "Too many parameters"
							 : "Syntax error in parameters");
	return false;
}

bool tern__smtp_has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}
