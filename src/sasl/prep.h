/* The string checks SASL mechanisms share: UTF-8 and the part of SASLprep
 * (RFC 4013) we implement (see prep.c for the compromise). */
#ifndef TERN_SASL_PREP_H
#define TERN_SASL_PREP_H

#include <stdbool.h>
#include <stddef.h>

/* Well-formed UTF-8 (RFC 3629) without NUL. */
bool tern__sasl_utf8_ok(const unsigned char *p, size_t len);

/* Well-formed UTF-8 that SASLprep would leave as it is and not prohibit,
 * as far as prep.c decides: see there. Empty strings pass. */
bool tern__sasl_prep_ok(const unsigned char *p, size_t len);

/* True when p[0..len) holds no octet below 0x21, no DEL and no ",":
 * SCRAM's "printable" (RFC 5802 7) used for nonces. */
bool tern__sasl_printable_ok(const unsigned char *p, size_t len);

#endif
