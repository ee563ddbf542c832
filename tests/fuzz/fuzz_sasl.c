/* libFuzzer target for the SASL server engines (sasl/sasl.h).
 *
 * Input layout: byte 0 picks the mechanism (mod the count) and, in its high
 * bits, whether the first call carries an initial response, whether -PLUS
 * is offered and whether an EXTERNAL identity exists; byte 1 picks the
 * embedder's answers at each CHECK (ok or not; SCRAM keys or unknown
 * user). The rest is the client's messages, separated by the pair 0xff
 * 0x00 (0xff 0xff stands for one 0xff octet of data).
 *
 * Invariants checked besides memory safety: every status is one the
 * contract names; output is only present with CHALLENGE, SUCCESS or
 * FAILURE; credentials exist exactly at CHECK and after SUCCESS; after a
 * final status every call gives TERN_ESTATE; SUCCESS happens only after
 * an embedder said yes (or gave keys). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static const unsigned char salt[] = "fuzz-salt";

static int answer(struct tern__sasl_server *s, enum tern__sasl_mech m, unsigned bits,
		  bool *approved, const void **out, size_t *n)
{
	const struct tern__sasl_credentials *cr = tern__sasl_server_credentials(s);

	CHECK(cr != NULL && cr->mech == m);
	if (m == TERN__SASL_SCRAM_SHA_256 || m == TERN__SASL_SCRAM_SHA_256_PLUS) {
		CHECK(cr->authcid != NULL);
		if (bits & 1) {
			/* Fixed arbitrary keys (no PBKDF2 per run): the proof never
			 * matches, so SCRAM runs reach FAILURE, not SUCCESS. */
			struct tern__sasl_scram_keys k = {salt, sizeof(salt) - 1, 1, {1}, {2}};
			*approved = true;
			return tern__sasl_server_set_scram_keys(s, &k, out, n);
		}
		if (bits & 2)
			return tern__sasl_server_checked(s, false, out, n);
		return tern__sasl_server_unknown_user(s, out, n);
	}
	*approved = (bits & 1) != 0;
	return tern__sasl_server_checked(s, *approved, out, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char cbx[32] = {1, 2, 3};
	static const unsigned char cbe[32] = {4, 5, 6};
	struct tern__sasl_server *s;
	enum tern__sasl_mech m;
	unsigned answers;
	bool approved = false, first = true;
	const void *out;
	size_t n, pos = 2;
	unsigned char *msg;
	int rc = TERN__SASL_CHALLENGE;

	if (size < 2)
		return 0;
	m = (enum tern__sasl_mech)(data[0] % TERN__SASL_MECH_COUNT);
	answers = data[1];
	struct tern__sasl_server_params p = {
		.hostname = "mx.fuzz",
		.cb = {cbx, sizeof(cbx), (data[0] & 0x80) ? cbe : NULL, sizeof(cbe)},
		.plus_offered = (data[0] & 0x40) != 0,
		.external_identity = (data[0] & 0x20) ? "CN=fuzz" : NULL,
		.test_nonce = (data[0] & 0x10) ? "fuzznonce" : NULL,
		.max_message = (data[1] & 0x80) ? 64 : 0,
	};
	if (tern__sasl_server_new(&s, m, &p) != 0)
		return 0;
	msg = malloc(size);
	if (msg == NULL) {
		tern__sasl_server_free(&s);
		return 0;
	}
	for (int round = 0; round < 16 && rc == TERN__SASL_CHALLENGE; round++) {
		size_t len = 0;
		bool have = true;

		if (first && (data[0] & 0x08) && tern__sasl_mech_client_first(m))
			have = false;
		else if (first && !tern__sasl_mech_client_first(m) && !(data[0] & 0x08))
			have = false;
		if (have) {
			if (pos >= size)
				break;
			while (pos < size) {
				if (data[pos] == 0xff && pos + 1 < size) {
					if (data[pos + 1] == 0x00) {
						pos += 2;
						break;
					}
					msg[len++] = 0xff;
					pos += 2;
					continue;
				}
				msg[len++] = data[pos++];
			}
		}
		first = false;
		/* Exact-size heap copy so ASan sees an over-read. */
		unsigned char *in = malloc(len ? len : 1);
		CHECK(in != NULL);
		memcpy(in, msg, len);
		rc = tern__sasl_server_step(s, in, len, have, &out, &n);
		free(in);
		while (rc == TERN__SASL_CHECK) {
			CHECK(n == 0);
			rc = answer(s, m, answers, &approved, &out, &n);
			answers >>= 2;
		}
		CHECK(rc == TERN__SASL_CHALLENGE || rc == TERN__SASL_SUCCESS ||
		      rc == TERN__SASL_FAILURE || rc == TERN__SASL_MALFORMED);
		CHECK(out != NULL);
		if (rc == TERN__SASL_MALFORMED)
			CHECK(n == 0);
		if (rc == TERN__SASL_SUCCESS) {
			CHECK(approved);
			CHECK(tern__sasl_server_credentials(s) != NULL);
		}
		if (rc == TERN__SASL_CHALLENGE)
			CHECK(tern__sasl_server_credentials(s) == NULL);
	}
	if (rc != TERN__SASL_CHALLENGE) {
		CHECK(tern__sasl_server_step(s, "", 0, true, &out, &n) == TERN_ESTATE);
		CHECK(tern__sasl_server_checked(s, true, &out, &n) == TERN_ESTATE);
		CHECK(tern__sasl_server_unknown_user(s, &out, &n) == TERN_ESTATE);
	}
	free(msg);
	tern__sasl_server_free(&s);
	CHECK(s == NULL);
	return 0;
}
