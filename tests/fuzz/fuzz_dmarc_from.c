/* libFuzzer target for the RFC5322.From domain extractor
 * (tern_dmarc_from_domains). The input is split at the first NUL into up
 * to two From field values (so the field-count rules run too). Checks:
 * the status and the domain count agree, and every domain is what a DMARC
 * lookup may use: lowercase LDH A-labels, no trailing dot, at most 253
 * octets, no duplicates. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/dmarc.h"
#include "util/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nul = memchr(s, '\0', size);
	const char *values[2] = {s, nul != NULL ? nul + 1 : NULL};
	size_t lens[2] = {nul != NULL ? (size_t)(nul - s) : size, nul != NULL ? size - (size_t)(nul - s) - 1 : 0};
	size_t count = nul != NULL ? 2 : 1;
	struct tern_dmarc_from from;
	int rc = tern_dmarc_from_domains(values, lens, count, &from);

	CHECK(rc == TERN_ENOMEM || (rc >= 0 && rc <= TERN_DMARC_FROM_MULTIPLE_DOMAINS));
	if (count == 2)
		CHECK(rc == TERN_DMARC_FROM_SEVERAL_FIELDS);
	CHECK(rc != 0 || from.count == 1);
	CHECK(rc != TERN_DMARC_FROM_MULTIPLE_DOMAINS || from.count >= 2);
	CHECK(rc == 0 || rc == TERN_DMARC_FROM_MULTIPLE_DOMAINS || from.count == 0);
	for (size_t i = 0; i < from.count; i++) {
		const char *d = from.domains[i];
		size_t n = strlen(d);

		CHECK(n > 0 && n <= 253 && d[n - 1] != '.');
		CHECK(tern__domain_valid(d, n, false));
		for (size_t k = 0; k < n; k++)
			CHECK(!(d[k] >= 'A' && d[k] <= 'Z'));
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(from.domains[j], d) != 0);
	}
	tern_dmarc_from_clear(&from);
	return 0;
}
