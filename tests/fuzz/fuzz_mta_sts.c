/* MTA-STS parsers (src/client/mta_sts.c) on fuzzer bytes: the policy body
 * and the TXT record. Invariants: a parsed policy has a version-valid mode,
 * max_age within a year, mx patterns that match a host built from them,
 * and never more than the bounds; a TXT id is 1 to 32 alphanumerics. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client/mta_sts.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tern__sts_policy p;
	char id[TERN__STS_ID_SIZE];

	if (tern__sts_policy_parse(&p, (const char *)data, size, NULL) == 0) {
		CHECK(p.mode <= TERN__STS_ENFORCE);
		CHECK(p.max_age <= TERN__STS_MAX_AGE);
		CHECK(p.n_mx <= TERN__STS_MAX_MX);
		CHECK(p.mode == TERN__STS_NONE || p.n_mx > 0);
		for (size_t i = 0; i < p.n_mx; i++) {
			char host[TERN__DNS_NAME_SIZE + 8];
			const char *m = p.mx[i];

			if (m[0] == '*')
				snprintf(host, sizeof(host), "x%s", m + 1);
			else
				snprintf(host, sizeof(host), "%s", m);
			CHECK(tern__sts_mx_match(&p, host));
			CHECK(!tern__sts_pattern_match(m, "a.b.c.d.e.f.g.invalid") ||
			      strcmp(m, "a.b.c.d.e.f.g.invalid") == 0 ||
			      strcmp(m, "*.b.c.d.e.f.g.invalid") == 0);
		}
		tern__sts_policy_clear(&p);
	}
	if (tern__sts_txt_parse((const char *)data, size, id)) {
		size_t n = strlen(id);

		CHECK(n >= 1 && n < TERN__STS_ID_SIZE);
		for (size_t i = 0; i < n; i++)
			CHECK(isalnum((unsigned char)id[i]));
	}
	return 0;
}
