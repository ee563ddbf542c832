/* libFuzzer target for ARC (tern/arc.h): the fuzzer's bytes are a whole
 * message, verified with every key query answered by one fixed RSA key
 * record (the seeds were sealed with its private key, below), fed whole
 * and in slices whose size comes from the first octet. Checks, besides
 * memory safety:
 *   - feed, finish and result succeed, and slicing changes nothing;
 *   - each query is a "._domainkey." name; none for none or a chain whose
 *     structure failed before any signature (reasons without "i=");
 *   - none has no instance, pass has 1..50 and cv=pass, cv = status;
 *   - when the result allows sealing, the sealer seals with that cv (or
 *     refuses only as documented), and a message whose chain passed or was
 *     absent verifies as pass at instance N + 1 once sealed (unless its
 *     first line starts with WSP and so continues our AAR). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tern/arc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static const char PEM[] =
	"-----BEGIN RSA PRIVATE KEY-----\n"
	"MIICXAIBAAKBgQCnsaIQFueUoP34jSGegtX97zr9NY+6fl7EBWD7bBs8RJGZHe2F\n"
	"AVEj1nnt/ZMNhFADsJV0Q75NNzigbfgKZJi4kiWR6bi8rziUgVYv98gWEz1hgRgP\n"
	"AtiVQfxW+aap8jC6lNXoXBaj+VRKVg0rcmancwXNyc3YqkuEWE+cO/usYwIDAQAB\n"
	"AoGBAJUqdTZKqYSUEFXfdGBDkYZoHtjNpCQH9NP41OPQrglWFQ1Wickd+sceKSeB\n"
	"wCTt5R7jHI5nFAgrbruGFnVoNk/HOH9WMrsUtvZqN27SMvRYQNPuXgO4Q6YBvUmX\n"
	"s+rflU8VjIZrmcTp4nrGdQlZnlOWN9dG1l+IJa6gKHGBlR+BAkEA1Epr7x23RXwj\n"
	"8thaEXvagcl6oBP6u4/rEkVxYAZRIugPsHOD2R/HZp4PDVo5VS82BOPATz9NC57w\n"
	"QPg5HC/mqQJBAMo4kXNXh12AYw+ki6AZH5b7EVsfeOa/GWM8u0fILJl2WAFjAe7r\n"
	"1AUr5nA45rzRgUobz3Fu3UVZHMusU6hbPisCQE2N2pyCWJ/T2DYxf8X/XzYm6tts\n"
	"MR8wVopYQDD6Xc3IxWKK8NHzYB9HAuy311YdZzimE21gDL+AEvlJNWPsw/ECQAay\n"
	"5waWILLVPPLYtZNhIa3DtWh6W2vxaqrh6SZQmEGhLPsmx3qdr1FYifKvv90DZ7AH\n"
	"ydBtJsFUWWLZ24+ZLi8CQH2xkYT1LgjHWYJ5UkUx02EHk0FSIOlEm4gdAzPBD/13\n"
	"02Ts7ZbS7MfrGOzK0XGxIEc32qJjrC6RtG2fcAqmsq8=\n"
	"-----END RSA PRIVATE KEY-----\n"
;
static const char KEY[] = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCnsaIQFueUoP34jSGegtX97zr9NY+6fl7EBWD7bBs8RJGZHe2FAVEj1nnt/ZMNhFADsJV0Q75NNzigbfgKZJi4kiWR6bi8rziUgVYv98gWEz1hgRgPAtiVQfxW+aap8jC6lNXoXBaj+VRKVg0rcmancwXNyc3YqkuEWE+cO/usYwIDAQAB";

static tern_dkim_key *key;

struct outcome {
	enum tern_arc_status status, cv;
	const char *reason;
	unsigned instance, queries;
	bool sealable;
};

static tern_arc_verifier *run(const uint8_t *data, size_t size, size_t slice, struct outcome *out)
{
	tern_arc_verify_options o;
	tern_arc_verifier *v;
	const tern_arc_result *r;
	const char *name;
	struct tern_dns_rr rr = {(const unsigned char *)KEY, sizeof KEY - 1, 0};
	struct tern_dns_answer a = {TERN_DNS_FOUND, false, &rr, 1};

	tern_arc_verify_options_init(&o);
	o.now = 1800000000;
	o.oldest_pass = true;
	CHECK(tern_arc_verifier_new(&o, &v) == 0);
	out->queries = 0;
	for (size_t off = 0; off < size; off += slice) {
		CHECK(tern_arc_verifier_feed(v, data + off, size - off < slice ? size - off : slice) == 0);
		while (tern_arc_verifier_next_query(v, &name) == 1) {
			CHECK(strstr(name, "._domainkey.") != NULL);
			CHECK(tern_arc_verifier_key_answer(v, name, &a) == 0);
			out->queries++;
		}
	}
	CHECK(tern_arc_verifier_finish(v) == 0);
	CHECK(tern_arc_verifier_next_query(v, &name) == 0 || size == 0 ||
	      tern_arc_verifier_key_answer(v, name, &a) == 0);
	CHECK(tern_arc_verifier_result(v, &r) == 0);
	out->status = r->status;
	out->cv = r->cv;
	out->reason = r->reason;
	out->instance = r->instance;
	out->sealable = r->sealable;
	return v;
}

static void seal(const uint8_t *data, size_t size, const struct outcome *in)
{
	tern_arc_seal_options o;
	tern_arc_sealer *s;
	char *fields, *sealed;
	size_t len;
	struct outcome out;
	tern_arc_verifier *v;
	int rc;

	tern_arc_seal_options_init(&o);
	o.key = key;
	o.domain = "example.org";
	o.selector = "fuzz";
	o.authserv_id = "mx.example.org";
	o.results = "spf=pass smtp.mailfrom=example.org";
	o.cv = in->cv;
	o.now = 1800000000;
	CHECK(tern_arc_sealer_new(&o, &s) == 0);
	CHECK(tern_arc_sealer_feed(s, data, size) == 0);
	rc = tern_arc_sealer_finish(s, &fields, &len);
	tern_arc_sealer_free(&s);
	/* The verifier and sealer read the chain alike: what the verifier
	 * calls sealable, the sealer seals (TERN_ELIMIT: the header block
	 * over 1 MiB, which the verifier reports as a fail too). */
	CHECK(rc == 0 || (rc == TERN_ELIMIT && in->status == TERN_ARC_FAIL));
	if (rc < 0)
		return;
	sealed = malloc(len + size);
	CHECK(sealed != NULL);
	memcpy(sealed, fields, len);
	memcpy(sealed + len, data, size);
	free(fields);
	v = run((const uint8_t *)sealed, len + size, len + size, &out);
	CHECK(out.instance == in->instance + 1 || in->status == TERN_ARC_FAIL);
	/* A message whose first line starts with WSP is no message: prepended,
	 * that line folds into our AAR and breaks the new seal. */
	if (in->status != TERN_ARC_FAIL && size > 0 && data[0] != ' ' && data[0] != '\t')
		CHECK(out.status == TERN_ARC_PASS);
	tern_arc_verifier_free(&v);
	free(sealed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, sliced;
	tern_arc_verifier *v1, *v2;

	if (key == NULL)
		CHECK(tern_dkim_key_from_pem(PEM, sizeof PEM - 1, &key) == 0);
	if (size > 65536)
		return 0;
	v1 = run(data, size, size ? size : 1, &whole);
	v2 = run(data, size, size ? (size_t)data[0] % 13 + 1 : 1, &sliced);
	CHECK(whole.status == sliced.status && whole.instance == sliced.instance &&
	      whole.queries == sliced.queries && whole.sealable == sliced.sealable &&
	      strcmp(whole.reason, sliced.reason) == 0);
	CHECK(whole.status <= TERN_ARC_FAIL && whole.cv == whole.status);
	CHECK(whole.instance <= TERN_ARC_MAX_INSTANCE);
	if (whole.status == TERN_ARC_NONE)
		CHECK(whole.instance == 0 && whole.queries == 0 && whole.sealable);
	if (whole.status == TERN_ARC_PASS)
		CHECK(whole.instance >= 1 && whole.queries >= 1);
	if (!whole.sealable)
		CHECK(whole.status == TERN_ARC_FAIL);
	if (whole.sealable)
		seal(data, size, &whole);
	tern_arc_verifier_free(&v1);
	tern_arc_verifier_free(&v2);
	return 0;
}
