/* Checks shared by MAIL and RCPT parameter handling. */
#ifndef TERN_SMTP_PARAMS_H
#define TERN_SMTP_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/session.h"
#include "util/esmtp_param.h"

/* "FROM:" / "TO:" at the start of args, case-insensitive, with the spaces
 * some clients put after the colon skipped. *off_r is where the path starts. */
bool tern__smtp_path_prefix(const char *args, size_t len, const char *prefix, size_t *off_r);

/* SIZE=1*20DIGIT (RFC 1870 3). A value past 2^64-1 saturates. */
bool tern__param_size(const struct tern__esmtp_param *p, uint64_t *size_r);

/* BODY=7BIT / 8BITMIME / BINARYMIME. Returns 0, 501 or 555. */
int tern__param_body(const tern_smtp_session *s, const struct tern__esmtp_param *p,
		     enum tern_smtp_body *body_r);

/* Decodes an xtext value of at most max decoded octets into out (size >=
 * value_len + 1); the result must be printable US-ASCII (RFC 3461 4.2, 4.4:
 * no control characters after decoding either). */
bool tern__param_xtext(const struct tern__esmtp_param *p, size_t max, char *out);

bool tern__smtp_has_8bit(const char *s);

/* Splits MAIL/RCPT parameters (UTF-8 values when SMTPUTF8 is in effect).
 * Returns false after answering 501 5.5.4. */
bool tern__smtp_split_params(tern_smtp_session *s, const char *in, size_t len,
			     struct tern__esmtp_param *params, size_t max, size_t *n_r);

#endif
