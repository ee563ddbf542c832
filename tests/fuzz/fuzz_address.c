/* libFuzzer target for the pure envelope parsers: path/domain/HELO
 * (util/address.h), xtext (util/xtext.h) and ESMTP parameters
 * (util/esmtp_param.h). Besides memory safety it checks the invariants the
 * SMTP engine relies on, and traps when one breaks. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/address.h"
#include "util/esmtp_param.h"
#include "util/xtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static bool has_high(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return true;
	}
	return false;
}

static void fuzz_path(const char *in, size_t size)
{
	char *out = malloc(size + 1);
	char *again = malloc(size + 3);
	char *out2 = malloc(size + 3);

	if (out == NULL || again == NULL || out2 == NULL)
		goto done;
	for (unsigned flags = 0; flags < 8; flags++) {
		size_t consumed = 1, olen, consumed2;
		int rc = tern__path_parse(in, size, flags, out, size + 1, &consumed);

		CHECK(rc <= 0 && rc >= TERN__PATH_ENULL);
		if (rc != TERN__PATH_OK) {
			CHECK(consumed == 0);
			continue;
		}
		CHECK(consumed >= 2 && consumed <= size);
		CHECK(in[0] == '<' && in[consumed - 1] == '>');
		olen = strlen(out);
		CHECK(olen + 2 <= consumed);
		CHECK(!tern__has_control(out, olen));
		CHECK((flags & TERN__PATH_ALLOW_UTF8) || !has_high(out, olen));
		if (olen == 0) {
			CHECK(flags & TERN__PATH_ALLOW_NULL);
			continue;
		}
		if (strchr(out, '@') == NULL) {
			CHECK(flags & TERN__PATH_ALLOW_POSTMASTER);
			CHECK(strcmp(out, "postmaster") == 0);
			continue;
		}
		/* The address re-parses to itself: what we hand on is a
		 * valid mailbox, not merely a substring of one. */
		again[0] = '<';
		memcpy(again + 1, out, olen);
		again[olen + 1] = '>';
		rc = tern__path_parse(again, olen + 2, flags, out2, size + 3, &consumed2);
		CHECK(rc == TERN__PATH_OK);
		CHECK(consumed2 == olen + 2);
		CHECK(strcmp(out, out2) == 0);
	}
done:
	free(out);
	free(again);
	free(out2);
}

static void fuzz_domain(const char *in, size_t size)
{
	if (tern__domain_valid(in, size, false)) {
		CHECK(size > 0 && size <= 255);
		CHECK(!tern__has_control(in, size));
		CHECK(!has_high(in, size));
		CHECK(tern__domain_valid(in, size, true));
		CHECK(tern__helo_name_valid(in, size));
	}
	if (tern__domain_valid(in, size, true)) {
		CHECK(!tern__has_control(in, size));
		CHECK(tern__helo_name_valid(in, size));
	}
	if (tern__helo_name_valid(in, size)) {
		CHECK(size > 0 && size <= 255);
		CHECK(!tern__has_control(in, size));
		CHECK(memchr(in, ' ', size) == NULL);
	}
}

static void fuzz_xtext(const char *in, size_t size)
{
	char *dec = malloc(size + 1);
	char *enc = malloc(3 * size + 1);
	char *dec2 = malloc(3 * size + 1);
	ssize_t n, m, k;

	if (dec == NULL || enc == NULL || dec2 == NULL)
		goto done;
	/* Any bytes survive encode then decode. */
	m = tern__xtext_encode(in, size, enc, 3 * size + 1);
	CHECK(m >= (ssize_t)size && m <= (ssize_t)(3 * size));
	k = tern__xtext_decode(enc, (size_t)m, dec2, 3 * size + 1);
	CHECK(k == (ssize_t)size);
	CHECK(memcmp(dec2, in, size) == 0);

	n = tern__xtext_decode(in, size, dec, size + 1);
	if (n < 0)
		goto done;
	CHECK((size_t)n <= size);
	CHECK(dec[n] == '\0');
	/* A valid xtext decodes, re-encodes canonically, and decodes back. */
	m = tern__xtext_encode(dec, (size_t)n, enc, 3 * size + 1);
	CHECK(m >= 0 && (size_t)m <= size);
	k = tern__xtext_decode(enc, (size_t)m, dec2, 3 * size + 1);
	CHECK(k == n && memcmp(dec, dec2, (size_t)n) == 0);
done:
	free(dec);
	free(enc);
	free(dec2);
}

static void fuzz_params(const char *in, size_t size)
{
	struct tern__esmtp_param params[16];

	for (int utf8 = 0; utf8 < 2; utf8++) {
		size_t n = 99;
		int rc = tern__esmtp_params_split(in, size, utf8 != 0, params, 16, &n);

		CHECK(rc == TERN__PARAM_OK || rc == TERN__PARAM_ESYNTAX ||
		      rc == TERN__PARAM_ETOOMANY);
		CHECK(n <= 16);
		for (size_t i = 0; i < n; i++) {
			const struct tern__esmtp_param *p = &params[i];

			CHECK(p->key >= in && p->key_len > 0 && p->key + p->key_len <= in + size);
			CHECK(!tern__has_control(p->key, p->key_len));
			CHECK(memchr(p->key, '=', p->key_len) == NULL);
			CHECK(memchr(p->key, ' ', p->key_len) == NULL);
			if (p->value == NULL) {
				CHECK(p->value_len == 0);
				continue;
			}
			CHECK(p->value > in && p->value_len > 0 &&
			      p->value + p->value_len <= in + size);
			CHECK(p->value[-1] == '=');
			CHECK(!tern__has_control(p->value, p->value_len));
			CHECK(memchr(p->value, '=', p->value_len) == NULL);
			CHECK(memchr(p->value, ' ', p->value_len) == NULL);
			CHECK(utf8 || !has_high(p->value, p->value_len));
			(void)tern__esmtp_param_is(p, "SIZE");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy of exactly size bytes, so an over-read is caught
	 * even where the fuzzer's own buffer would hide it. */
	char *in = malloc(size > 0 ? size : 1);

	if (in == NULL)
		return 0;
	memcpy(in, data, size);
	fuzz_path(in, size);
	fuzz_domain(in, size);
	fuzz_xtext(in, size);
	fuzz_params(in, size);
	free(in);
	return 0;
}
