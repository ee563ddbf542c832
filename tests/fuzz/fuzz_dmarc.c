/* libFuzzer target for the DMARC record parser (tern_dmarc_record_parse)
 * and the evaluation fed that record as the answer for the From domain and
 * then its organizational domain. Checks the invariants callers rely on:
 * a usable record has a policy, pct within 0..100, URIs without blanks;
 * an evaluation asks at most two names and ends with a consistent
 * outcome. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static void check_record(const char *txt, size_t size)
{
	struct tern_dmarc_record r;
	int rc = tern_dmarc_record_parse(txt, size, &r);

	CHECK(rc == 0 || rc == TERN_DMARC_RECORD_NOT_DMARC || rc == TERN_DMARC_RECORD_INVALID ||
	      rc == TERN_ENOMEM);
	if (rc == 0) {
		CHECK(r.p != TERN_DMARC_POLICY_UNSET);
		CHECK(r.pct <= 100);
		CHECK(!r.p_from_rua || r.rua_count > 0);
		for (size_t i = 0; i < r.rua_count; i++) {
			CHECK(r.rua[i].uri[0] != '\0');
			CHECK(strpbrk(r.rua[i].uri, " \t!") == NULL);
		}
	} else {
		CHECK(rc != TERN_DMARC_RECORD_NOT_DMARC || (r.rua_count == 0 && r.ruf_count == 0));
	}
	tern_dmarc_record_clear(&r);
}

static void check_eval(const char *txt, size_t size, uint32_t random)
{
	struct tern_dns_rr rr = {(const unsigned char *)txt, size, 0};
	struct tern_dns_rr two[2] = {rr, rr};
	struct tern_dmarc_dkim dkim = {"mail.example.com", "s", "pass"};
	struct tern_dmarc_params p = {
		.from_domain = "a.b.example.com", .spf_domain = "example.org", .spf_result = "pass",
		.dkim = &dkim, .dkim_count = 1, .random = random,
		.from_exists = random & 1 ? TERN_DMARC_EXISTS_NO : TERN_DMARC_EXISTS_YES,
	};
	struct tern_dmarc *d;
	int asked = 0;

	if (tern_dmarc_new(&p, &d) != 0)
		return;
	for (const char *q; (q = tern_dmarc_query(d)) != NULL; asked++) {
		struct tern_dns_answer a = {TERN_DNS_FOUND, false, (random & 2) ? two : &rr, (random & 2) ? 2 : 1};

		CHECK(asked < 2);
		CHECK(strncmp(q, "_dmarc.", 7) == 0);
		/* the first answer is empty half the time, to reach the org */
		if (asked == 0 && (random & 4))
			a = (struct tern_dns_answer){TERN_DNS_NXDOMAIN, false, NULL, 0};
		if (tern_dmarc_feed(d, &a) != 0)
			break;
	}
	const struct tern_dmarc_outcome *o = tern_dmarc_outcome(d);

	if (tern_dmarc_query(d) == NULL) {
		CHECK((o->result == TERN_DMARC_RESULT_PASS || o->result == TERN_DMARC_RESULT_FAIL) == o->have_record);
		CHECK(o->result != TERN_DMARC_RESULT_PASS || o->disposition == TERN_DMARC_POLICY_NONE);
		CHECK(o->result != TERN_DMARC_RESULT_FAIL || o->disposition <= o->requested);
		CHECK(o->result != TERN_DMARC_RESULT_PASS || o->dkim[0].aligned || o->spf_aligned);
		CHECK(!o->spf_aligned);   /* example.org never aligns with example.com */
	}
	tern_dmarc_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t random = size > 0 ? data[0] : 0;

	check_record((const char *)data, size);
	check_eval((const char *)data, size, random);
	return 0;
}
