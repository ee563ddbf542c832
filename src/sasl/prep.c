/* UTF-8 and SASLprep checks.
 *
 * COMPROMISE (SASLprep): RFC 4013 maps non-ASCII spaces to SPACE (table
 * C.1.2), maps "commonly mapped to nothing" characters away (B.1), applies
 * Unicode NFKC, then prohibits some code points and checks bidi rules.
 * GNU libidn's stringprep (libidn12 in Debian 12) has the profile, but the
 * library would then depend on it for a step that changes nothing for the
 * strings nearly everyone uses; adding it needs only a pkg-config line in
 * CMakeLists.txt if that changes. What we do instead, and can defend:
 *   - ASCII: SASLprep is the identity on printable ASCII, and prohibits
 *     the ASCII controls (C.2.1); we do exactly that.
 *   - non-ASCII: passed through unchanged (no mapping, no NFKC, no bidi
 *     check), after refusing the prohibited classes that are cheap to test
 *     exactly: C1 controls (C.2.2, U+0080..U+009F), private use (C.3),
 *     non-characters (C.4), surrogates (C.5, by UTF-8 itself) and the
 *     display-changing code points of C.8. A peer that SASLpreps a string
 *     which NFKC or B.1 would change computes different keys than we do;
 *     both sides of Tern agree with each other. */
#include "sasl/prep.h"

#include <stdint.h>

#include "util/utf8.h"

static uint32_t decode(const unsigned char *p, size_t n)
{
	if (n == 1)
		return p[0];
	if (n == 2)
		return (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
	if (n == 3)
		return (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
	return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
	       (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
}

bool tern__sasl_utf8_ok(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n;

		if (p[i] == 0)
			return false;
		n = tern__utf8_seq_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

static bool prohibited(uint32_t c)
{
	if (c < 0x20 || c == 0x7f)           /* C.2.1 */
		return true;
	if (c >= 0x80 && c <= 0x9f)          /* C.2.2 (C1 controls) */
		return true;
	if (c >= 0xe000 && c <= 0xf8ff)      /* C.3 */
		return true;
	if (c >= 0xf0000)                    /* C.3 planes 15-16 */
		return true;
	if (c >= 0xfdd0 && c <= 0xfdef)      /* C.4 */
		return true;
	if ((c & 0xfffe) == 0xfffe)          /* C.4: U+xxFFFE, U+xxFFFF */
		return true;
	if (c == 0x340 || c == 0x341 || c == 0x200e || c == 0x200f ||
	    (c >= 0x202a && c <= 0x202e) || (c >= 0x206a && c <= 0x206f)) /* C.8 */
		return true;
	return false;
}

bool tern__sasl_prep_ok(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = tern__utf8_seq_len(p + i, len - i);

		if (n == 0 || prohibited(decode(p + i, n)))
			return false;
		i += n;
	}
	return true;
}

bool tern__sasl_printable_ok(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return false;
	}
	return true;
}
