/* libFuzzer target for the DKIM verifier (tern/dkim.h): the fuzzer's bytes
 * are a whole message, verified against a fixed Ed25519 key record for
 * every query. The message is fed whole and again in slices whose sizes
 * come from its first octet; checks, besides memory safety:
 *   - feed, finish and results succeed (only allocation may fail, and the
 *     fuzzer's allocator does not fail);
 *   - every query name is "SELECTOR._domainkey.DOMAIN" and asked once;
 *   - slicing never changes a result or its reason;
 *   - every result has a known status and a reason; a pass has d=, s=. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static const char KEY[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

static void run(const uint8_t *data, size_t size, size_t slice, enum tern_dkim_status *st,
		const char **reasons, size_t *n_r, tern_dkim_verifier **v_r)
{
	tern_dkim_verify_options o;
	tern_dkim_verifier *v;
	const tern_dkim_result *r;
	const char *name;
	struct tern_dns_rr rr = {(const unsigned char *)KEY, sizeof KEY - 1, 0};
	struct tern_dns_answer a = {TERN_DNS_FOUND, false, &rr, 1};
	size_t n;

	tern_dkim_verify_options_init(&o);
	o.now = 1528637909;
	CHECK(tern_dkim_verifier_new(&o, &v) == 0);
	for (size_t off = 0; off < size; off += slice) {
		CHECK(tern_dkim_verifier_feed(v, data + off, size - off < slice ? size - off : slice) == 0);
		while (tern_dkim_verifier_next_query(v, &name) == 1) {
			CHECK(strstr(name, "._domainkey.") != NULL);
			CHECK(tern_dkim_verifier_key_answer(v, name, &a) == 0);
			CHECK(tern_dkim_verifier_key_answer(v, name, &a) == TERN_EINVAL);
		}
	}
	CHECK(tern_dkim_verifier_finish(v) == 0);
	CHECK(tern_dkim_verifier_next_query(v, &name) == 0 || strstr(name, "._domainkey.") != NULL);
	CHECK(tern_dkim_verifier_results(v, &r, &n) == 0);
	for (size_t i = 0; i < n && i < 16; i++) {
		CHECK(r[i].status >= TERN_DKIM_PASS && r[i].status <= TERN_DKIM_PERMERROR);
		CHECK(r[i].reason != NULL);
		if (r[i].status == TERN_DKIM_PASS)
			CHECK(r[i].domain && r[i].selector && r[i].identity && r[i].b);
		st[i] = r[i].status;
		reasons[i] = r[i].reason;
	}
	*n_r = n;
	*v_r = v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum tern_dkim_status s1[16], s2[16];
	const char *r1[16], *r2[16];
	size_t n1, n2, slice = size ? (size_t)(data[0] % 17) + 1 : 1;
	tern_dkim_verifier *v1, *v2;

	run(data, size, size ? size : 1, s1, r1, &n1, &v1);
	run(data, size, slice, s2, r2, &n2, &v2);
	CHECK(n1 == n2);
	for (size_t i = 0; i < n1 && i < 16; i++) {
		CHECK(s1[i] == s2[i]);
		CHECK(strcmp(r1[i], r2[i]) == 0);
	}
	tern_dkim_verifier_free(&v1);
	tern_dkim_verifier_free(&v2);
	return 0;
}
