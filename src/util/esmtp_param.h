/* ESMTP parameters after a MAIL/RCPT path (RFC 5321 4.1.2):
 *   Mail-parameters = esmtp-param *(SP esmtp-param)
 *   esmtp-param     = esmtp-keyword ["=" esmtp-value]
 *   esmtp-keyword   = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *   esmtp-value     = 1*(%d33-60 / %d62-126) ; RFC 6531 adds UTF8-non-ascii
 * Pure functions: the result points into the input. */
#ifndef TERN_UTIL_ESMTP_PARAM_H
#define TERN_UTIL_ESMTP_PARAM_H

#include <stdbool.h>
#include <stddef.h>

struct tern__esmtp_param {
	const char *key;   /* points into the input, not NUL-terminated */
	size_t key_len;
	const char *value; /* NULL when there is no "=" */
	size_t value_len;
};

enum tern__esmtp_param_error {
	TERN__PARAM_OK = 0,
	TERN__PARAM_ESYNTAX = -1,  /* bad keyword or value characters, "=" with no value */
	TERN__PARAM_ETOOMANY = -2, /* more than max parameters */
};

/* Splits in[0..len) (the text after the path, leading spaces allowed;
 * parameters separated by one or more spaces) into params[0..*n_r).
 * Returns TERN__PARAM_OK or an error. With allow_utf8, bytes >= 0x80 are
 * allowed in values. */
int tern__esmtp_params_split(const char *in, size_t len, bool allow_utf8,
			     struct tern__esmtp_param *params, size_t max, size_t *n_r);

/* Case-insensitive compare of a parameter keyword with an upper-case name. */
bool tern__esmtp_param_is(const struct tern__esmtp_param *p, const char *name);

#endif
