/* libFuzzer target for the SPF engine (tern/spf.h) and its macro
 * expander: the fuzzer writes the policy, a second record (for include,
 * redirect and exp= targets), the names MX and PTR answers give, and a
 * macro string, and the rest of its input decides how each DNS question
 * is answered (status, addresses). Besides memory safety it checks, and
 * traps when one breaks:
 *   - the query/answer loop ends within TERN_SPF_MAX_QUERIES questions,
 *     and every identity asked for then has an outcome;
 *   - a fail has an explanation, printable ASCII; a permerror or
 *     temperror has a problem text;
 *   - Received-SPF is as long as it says, has no bare CR or LF, and no
 *     line past 998 octets; Authentication-Results is one line;
 *   - a macro string expands exactly when the validator accepts it;
 *   - a cancel at any point ends the check in temperror.
 *
 * Input: 1 octet of choices, then NUL-separated policy, second record,
 * comma-separated names and macro string, then the answer octets. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf_int.h"
#include "tern/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

struct input {
	const char *part[4];
	size_t len[4];
	const uint8_t *tail;
	size_t tail_len, pos;
};

static uint8_t next_octet(struct input *in)
{
	if (in->tail_len == 0)
		return 0;
	return in->tail[in->pos++ % in->tail_len];
}

static void answer(struct input *in, enum tern_dns_type type, unsigned n_txt,
		   struct tern_dns_answer *a, struct tern_dns_rr *rrs, uint8_t (*addr)[16])
{
	uint8_t choice = next_octet(in);

	memset(a, 0, sizeof(*a));
	a->rrs = rrs;
	switch (choice % 8) {
	case 0: a->status = TERN_DNS_NXDOMAIN; return;
	case 1: a->status = TERN_DNS_NODATA; return;
	case 2: a->status = TERN_DNS_TEMPFAIL; return;
	default: a->status = TERN_DNS_FOUND; break;
	}
	if (type == TERN_DNS_TYPE_TXT) {
		/* the policy first, the second record after */
		int k = n_txt == 0 ? 0 : 1;
		rrs[0].data = (const unsigned char *)in->part[k];
		rrs[0].len = in->len[k];
		a->count = 1;
		if (choice & 0x80) {   /* sometimes two strings */
			rrs[1] = rrs[0];
			a->count = 2;
		}
		return;
	}
	if (type == TERN_DNS_TYPE_A || type == TERN_DNS_TYPE_AAAA) {
		size_t n = 1 + (choice >> 5) % 3;
		for (size_t i = 0; i < n; i++) {
			for (int b = 0; b < 16; b++)
				addr[i][b] = (choice & 0x10) ? (uint8_t)(b < 4 ? 192 - b * 64 : 0)
							     : next_octet(in);
			rrs[i].data = addr[i];
			rrs[i].len = type == TERN_DNS_TYPE_A ? 4 : 16;
		}
		a->count = n;
		return;
	}
	/* MX and PTR: the names of part 2, split at commas */
	const char *p = in->part[2], *end = p + in->len[2];
	while (p <= end && a->count < 16) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		if (c == NULL)
			c = end;
		rrs[a->count].data = (const unsigned char *)p;
		rrs[a->count].len = (size_t)(c - p);
		rrs[a->count].preference = a->count;
		a->count++;
		p = c + 1;
	}
}

static void check_fields(const tern_spf *spf, enum tern_spf_identity id)
{
	const struct tern_spf_outcome *o = tern_spf_outcome(spf, id);
	char buf[4096];
	int n;

	CHECK(o != NULL);
	if (o->result == TERN_SPF_RESULT_FAIL) {
		CHECK(o->explanation != NULL);
		for (const char *p = o->explanation; *p; p++)
			CHECK(*p >= 0x20 && *p <= 0x7e);
	}
	if (o->result == TERN_SPF_RESULT_PERMERROR || o->result == TERN_SPF_RESULT_TEMPERROR)
		CHECK(o->problem != NULL);
	n = tern_spf_received_spf(spf, id, buf, sizeof(buf));
	CHECK(n > 0 && n == tern_spf_received_spf(spf, id, NULL, 0));
	if ((size_t)n < sizeof(buf)) {
		size_t line = 0;
		CHECK(strlen(buf) == (size_t)n);
		for (int i = 0; i < n; i++) {
			if (buf[i] == '\r') {
				CHECK(i + 1 < n && buf[i + 1] == '\n');
				line = 0;
				i++;
				continue;
			}
			CHECK(buf[i] != '\n');
			CHECK(++line <= 998);
		}
	}
	n = tern_spf_auth_results(spf, id, buf, sizeof(buf));
	CHECK(n > 0);
	if ((size_t)n < sizeof(buf))
		CHECK(strchr(buf, '\r') == NULL && strchr(buf, '\n') == NULL);
}

static void check_macro(const char *s, size_t len)
{
	static const uint8_t ip[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct tern__spf_macro_ctx ctx = {
		.sender = "user@example.com", .local = "user", .sender_domain = "example.com",
		.domain = "example.com", .family = AF_INET6, .ip = ip, .helo = "h.example",
		.validated = NULL, .receiver = "mx.example", .now = 1,
	};
	for (int exp = 0; exp < 2; exp++) {
		struct tern__buf out;
		tern__buf_init(&out, 0);
		int rc = tern__spf_macro_expand(&ctx, s, len, exp, &out);
		CHECK(rc == 0 || rc == TERN_EINVAL || rc == TERN_ELIMIT);
		CHECK((rc != TERN_EINVAL) == tern__spf_macro_valid(s, len, exp));
		tern__buf_free(&out);
	}
	(void)tern__spf_domain_spec_valid(s, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;
	tern_spf_params p;
	tern_spf *spf = NULL;
	const char *name;
	enum tern_dns_type type;
	unsigned asked = 0, n_txt = 0, cancel_at;
	size_t at = 1;
	uint8_t choices;

	if (size < 1)
		return 0;
	choices = data[0];
	memset(&in, 0, sizeof(in));
	for (int k = 0; k < 4; k++) {
		const uint8_t *nul = at < size ? memchr(data + at, 0, size - at) : NULL;
		size_t end = nul ? (size_t)(nul - data) : size;
		in.part[k] = (const char *)data + (at < size ? at : size);
		in.len[k] = end > at ? end - at : 0;
		at = end + 1;
	}
	in.tail = at < size ? data + at : NULL;
	in.tail_len = at < size ? size - at : 0;
	check_macro(in.part[3], in.len[3]);

	tern_spf_params_init(&p);
	p.client_ip = (choices & 1) ? "2001:db8::1" : (choices & 2) ? "::ffff:192.0.2.1" : "192.0.2.1";
	p.helo = (choices & 4) ? "mail.example.org" : "[192.0.2.1]";
	p.mail_from = (choices & 8) ? "" : "user.name+tag@example.com";
	p.receiver = "mx.example.net";
	p.checks = (choices & 16) ? (TERN_SPF_HELO | TERN_SPF_MAILFROM) : TERN_SPF_MAILFROM;
	cancel_at = (choices & 32) ? (choices >> 6) + 1u : ~0u;
	CHECK(tern_spf_new(&spf, &p) == 0);
	while (tern_spf_next(spf, &name, &type) == TERN_SPF_QUERY) {
		struct tern_dns_answer a;
		struct tern_dns_rr rrs[16];
		uint8_t addr[4][16];

		CHECK(++asked <= TERN_SPF_MAX_QUERIES);
		CHECK(name != NULL);
		if (asked == cancel_at) {
			tern_spf_cancel(spf);
			continue;
		}
		answer(&in, type, n_txt, &a, rrs, addr);
		if (type == TERN_DNS_TYPE_TXT)
			n_txt++;
		CHECK(tern_spf_answer(spf, &a) == 0);
	}
	if (p.checks & TERN_SPF_HELO)
		check_fields(spf, TERN_SPF_HELO);
	check_fields(spf, TERN_SPF_MAILFROM);
	if (asked >= cancel_at)
		CHECK(tern_spf_outcome(spf, TERN_SPF_MAILFROM)->result == TERN_SPF_RESULT_TEMPERROR);
	tern_spf_destroy(&spf);
	return 0;
}
