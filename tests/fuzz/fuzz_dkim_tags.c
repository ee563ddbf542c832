/* libFuzzer target for the tag-list parser (RFC 6376 3.2) and what is
 * built on it: the DKIM-Signature checks and the key record parser. Input:
 * one octet choosing the use (and the key algorithm), then the text.
 * Checks, besides memory safety:
 *   - every tag's name and value lie inside the text, values have no
 *     leading or trailing FWS, names are unique;
 *   - a signature that parses has d=, s=, h= with From, and its b= blank
 *     range lies inside the field;
 *   - a key record that parses has a key of the algorithm asked. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/dkim_int.h"
#include "auth/tag_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static bool fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tern__tag tags[64];
	const char *text = (const char *)data + 1, *reason;
	size_t len;
	int n;

	if (size < 1)
		return 0;
	len = size - 1;
	n = tern__tag_parse(text, len, tags, 64);
	CHECK(n >= TERN__TAG_ETOOMANY && n <= 64);
	for (int i = 0; i < n; i++) {
		CHECK(tags[i].name >= text && tags[i].name + tags[i].name_len <= text + len);
		CHECK(tags[i].value >= text && tags[i].value + tags[i].value_len <= text + len);
		CHECK(tags[i].name_len > 0 && tags[i].eq_end <= len);
		if (tags[i].value_len > 0)
			CHECK(!fws(tags[i].value[0]) && !fws(tags[i].value[tags[i].value_len - 1]));
		for (int k = 0; k < i; k++)
			CHECK(tags[k].name_len != tags[i].name_len ||
			      memcmp(tags[k].name, tags[i].name, tags[i].name_len) != 0);
	}
	if (data[0] & 1) {
		struct tern__dkim_sig sig;

		if (tern__dkim_sig_parse(text, len, &sig, &reason) == 0) {
			CHECK(sig.d && sig.s && sig.h && sig.b && sig.bh);
			CHECK(sig.b_value_start <= sig.b_value_end && sig.b_value_end <= len);
			CHECK(tern__dkim_valid_domain(sig.d, sig.d_len));
		} else {
			CHECK(reason != NULL);
		}
	} else {
		struct tern__dkim_keyrec rec;
		enum tern_dkim_algorithm alg = data[0] & 2 ? TERN_DKIM_ED25519_SHA256 : TERN_DKIM_RSA_SHA256;

		if (tern__dkim_keyrec_parse(text, len, alg, &rec, &reason) == 0) {
			CHECK(rec.pkey != NULL && rec.alg == alg);
			tern__dkim_keyrec_free(&rec);
		} else {
			CHECK(reason != NULL && rec.pkey == NULL);
		}
	}
	return 0;
}
