/* libFuzzer target for ternd domain's text parsers (cmd/ternd/
 * domain_records.c): a records.zone read back, a domain name checked, a
 * TLS-RPT record checked. Input: one octet choosing which, then the text.
 * Checks, besides memory safety:
 *   - the zone reader is stable: what it read, written as zone text and
 *     read again, gives the same settings;
 *   - a name that is accepted is lower-case LDH labels, at most 253
 *     octets, and accepted again unchanged. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cmd/ternd/domain_records.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static bool same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void zone(const char *text)
{
	struct ternd_domain_records r, again;
	char *out = NULL;
	size_t len = 0;

	memset(&r, 0, sizeof(r));
	strcpy(r.domain, "example.com");
	if (ternd_domain_zone_read(text, &r) != 0) {
		ternd_domain_records_clear(&r);
		return;
	}
	FILE *f = open_memstream(&out, &len);
	if (f == NULL) {
		ternd_domain_records_clear(&r);
		return;
	}
	ternd_domain_zone_write(&r, 0, f);
	fclose(f);
	memset(&again, 0, sizeof(again));
	strcpy(again.domain, "example.com");
	if (ternd_domain_zone_read(out, &again) == 0) {
		CHECK(again.mx_count == r.mx_count);
		for (unsigned i = 0; i < r.mx_count; i++)
			CHECK(same(again.mx[i], r.mx[i]));
		CHECK(same(again.spf, r.spf));
		CHECK(same(again.dmarc, r.dmarc));
		CHECK(same(again.tlsrpt, r.tlsrpt));
	}
	free(out);
	ternd_domain_records_clear(&r);
	ternd_domain_records_clear(&again);
}

static void name(const char *text)
{
	char out[TERND_DOMAIN_MAX], again[TERND_DOMAIN_MAX], err[256];

	if (ternd_domain_name(text, out, err, sizeof(err)) != 0)
		return;
	size_t len = strlen(out);
	CHECK(len > 0 && len <= 253);
	for (size_t i = 0; i < len; i++)
		CHECK((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= '0' && out[i] <= '9') ||
		      out[i] == '-' || out[i] == '.');
	CHECK(ternd_domain_name(out, again, err, sizeof(err)) == 0);
	CHECK(strcmp(out, again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	char *text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0: zone(text); break;
	case 1: name(text); break;
	default: ternd_tlsrpt_record_problem((const char *)data + 1, size - 1); break;
	}
	free(text);
	return 0;
}
