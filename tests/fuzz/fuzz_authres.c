/* libFuzzer target for the Authentication-Results reader
 * (tern_authres_parse), both plain and ARC. Whatever it reads must build
 * back (when the builder accepts the strings: the reader is more lenient)
 * into a field that reads again to the same authserv-id and the same
 * methods and results: the round trip ternd and ARC rely on. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tern/authres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static void round_trip(const struct tern_authres_parsed *p)
{
	char *field;
	size_t len;

	if (tern_authres_build(NULL, p->authserv_id, p->results, p->count, &field, &len) != 0)
		return;
	CHECK(strlen(field) == len && len >= 2 && field[len - 2] == '\r' && field[len - 1] == '\n');

	struct tern_authres_parsed again;
	const char *v = field + strlen("Authentication-Results:");

	CHECK(tern_authres_parse(v, len - (size_t)(v - field), false, &again) == 0);
	CHECK(strcmp(again.authserv_id, p->authserv_id) == 0);
	CHECK(!again.partial);
	CHECK(again.count == p->count);
	CHECK(again.none == (p->count == 0));
	for (size_t i = 0; i < p->count; i++) {
		CHECK(strcmp(again.results[i].method, p->results[i].method) == 0);
		CHECK(strcmp(again.results[i].result, p->results[i].result) == 0);
		CHECK(again.results[i].version == p->results[i].version);
		CHECK(again.results[i].prop_count == p->results[i].prop_count);
		for (size_t k = 0; k < p->results[i].prop_count; k++)
			CHECK(strcmp(again.results[i].props[k].value, p->results[i].props[k].value) == 0);
	}
	tern_authres_parsed_clear(&again);
	free(field);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int arc = 0; arc < 2; arc++) {
		struct tern_authres_parsed p;
		int rc = tern_authres_parse((const char *)data, size, arc, &p);

		CHECK(rc == 0 || rc == TERN_EINVAL || rc == TERN_ENOMEM);
		if (rc == 0) {
			CHECK(p.authserv_id != NULL && p.authserv_id[0] != '\0');
			CHECK(arc ? p.instance >= 0 : p.instance == -1);
			CHECK(!(p.none && p.count > 0));
			round_trip(&p);
		}
		tern_authres_parsed_clear(&p);
	}
	return 0;
}
