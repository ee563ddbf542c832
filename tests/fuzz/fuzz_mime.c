/* The MIME engine on fuzzer bytes: parse (whole, and again in uneven
 * pieces), serialize, reload, write ENVELOPE and BODYSTRUCTURE, resolve
 * sections. Invariants: both feeds give the same structure, every range
 * lies inside the message, a reload saves to the same bytes and gives the
 * same BODYSTRUCTURE, and load never accepts a damaged cache quietly into
 * out-of-range parts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_check.h"
#include "mime/mime.h"

static void check_ranges(const struct tern__mime *m)
{
	for (uint32_t i = 0; i < m->nparts; i++) {
		const struct tern__mime_part *p = &m->parts[i];
		CHECK(p->header.off + p->header.size <= m->size);
		CHECK(p->body.off + p->body.size <= m->size);
		CHECK(p->header.off + p->header.size <= p->body.off);
		CHECK(p->body.vsize >= p->body.size);
		CHECK(i == 0 || p->parent < i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tern__mime_limits lim;
	tern__mime_limits_default(&lim);
	lim.max_parts = 200;
	lim.max_depth = 20;
	lim.max_header = 4096;
	struct tern__mime *m = NULL, *m2 = NULL, *m3 = NULL;
	if (tern__mime_parse(data, size, &lim, &m) < 0)
		return 0;
	check_ranges(m);

	/* Pieces of 1..7 bytes: the same structure. */
	struct tern__mime_parser *p;
	CHECK(tern__mime_parser_new(&p, &lim) == 0);
	for (size_t i = 0, step = 1; i < size; i += step, step = step % 7 + 1)
		CHECK(tern__mime_parser_feed(p, data + i, size - i < step ? size - i : step) == 0);
	CHECK(tern__mime_parser_finish(p, &m2) == 0);
	tern__mime_parser_free(&p);

	struct tern__buf a, b, bs1, bs2;
	tern__buf_init(&a, 0);
	tern__buf_init(&b, 0);
	tern__buf_init(&bs1, 0);
	tern__buf_init(&bs2, 0);
	CHECK(tern__mime_save(m, &a) == 0);
	CHECK(tern__mime_save(m2, &b) == 0);
	CHECK(a.len == b.len && memcmp(tern__buf_ptr(&a), tern__buf_ptr(&b), a.len) == 0);

	tern__buf_clear(&b);
	CHECK(tern__mime_load(tern__buf_ptr(&a), a.len, &m3) == 0);
	CHECK(tern__mime_save(m3, &b) == 0);
	CHECK(a.len == b.len && memcmp(tern__buf_ptr(&a), tern__buf_ptr(&b), a.len) == 0);
	CHECK(tern__mime_imap_bodystructure(m, 0, 1, &bs1) == 0);
	CHECK(tern__mime_imap_bodystructure(m3, 0, 1, &bs2) == 0);
	CHECK(bs1.len == bs2.len && memcmp(tern__buf_ptr(&bs1), tern__buf_ptr(&bs2), bs1.len) == 0);
	tern__buf_clear(&bs1);
	CHECK(tern__mime_imap_envelope(m, 0, &bs1) == 0);

	/* A damaged cache (a byte changed) loads cleanly or is refused. */
	if (a.len > 6) {
		char *d = a.data + a.off;
		d[size % a.len] ^= (char)(1 + size % 255);
		struct tern__mime *m4 = NULL;
		if (tern__mime_load(d, a.len, &m4) == 0) {
			check_ranges(m4);
			tern__buf_clear(&bs2);
			(void)tern__mime_imap_bodystructure(m4, 0, 1, &bs2);
			tern__mime_free(&m4);
		}
	}

	static const char *const specs[] = { "", "1", "2", "1.1", "1.2.1", "HEADER", "TEXT",
					     "1.MIME", "2.HEADER", "1.TEXT", "HEADER.FIELDS (From To)",
					     "1.HEADER.FIELDS.NOT (Subject)", "3.2.1.MIME" };
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct tern__mime_section sec;
		if (tern__mime_section_resolve(m, specs[i], &sec) < 0)
			continue;
		CHECK(sec.off + sec.size <= size);
		if (sec.kind == TERN__MIME_SEC_HEADER_FIELDS) {
			tern__buf_clear(&bs1);
			CHECK(tern__mime_header_fields(&sec, (const char *)data + sec.off, sec.size,
						       &bs1) == 0);
		}
		tern__mime_section_clear(&sec);
	}
	tern__buf_free(&a);
	tern__buf_free(&b);
	tern__buf_free(&bs1);
	tern__buf_free(&bs2);
	tern__mime_free(&m);
	tern__mime_free(&m2);
	tern__mime_free(&m3);
	return 0;
}
