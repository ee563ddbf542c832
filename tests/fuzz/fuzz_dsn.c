/* libFuzzer target for the DSN builder (tern/dsn.h): the fuzzer chooses
 * the options, a diagnostic, an ORCPT, an ENVID and the original message,
 * which is read once whole and once through a callback in slices of the
 * fuzzer's size. Besides memory safety it checks what a queue relies on,
 * and traps when one breaks:
 *   - only 0, a skip or TERN_EINVAL comes back;
 *   - every line ends in CRLF (no bare CR or LF) and is at most 998 octets;
 *   - the boundary appears only in its parameter and on delimiter lines,
 *     and the report ends with the close delimiter;
 *   - without SMTPUTF8 or 8-bit input the report is 7-bit;
 *   - the header-only part holds no empty line;
 *   - slicing the original never changes the report.
 *
 * Input: 5 octets of choices, then NUL-separated diagnostic, ORCPT and
 * ENVID, then the original. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tern/dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

struct sink {
	char *p;
	size_t len, cap;
};

static int sink_write(const void *d, size_t n, void *arg)
{
	struct sink *s = arg;

	if (s->len + n > s->cap) {
		size_t cap = (s->len + n) * 2;
		char *p = realloc(s->p, cap);

		if (p == NULL)
			return TERN_ENOMEM;
		s->p = p;
		s->cap = cap;
	}
	memcpy(s->p + s->len, d, n);
	s->len += n;
	return 0;
}

struct slicer {
	const char *data;
	size_t len, pos, slice;
};

static ssize_t slice_read(void *buf, size_t n, void *arg)
{
	struct slicer *s = arg;
	size_t k = s->len - s->pos;

	if (k > s->slice)
		k = s->slice;
	if (k > n)
		k = n;
	memcpy(buf, s->data + s->pos, k);
	s->pos += k;
	return (ssize_t)k;
}

static bool has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return true;
	}
	return false;
}

/* The report's boundary, from its Content-Type. */
static size_t boundary_of(const struct sink *s, char *out, size_t out_size)
{
	const char *p = memmem(s->p, s->len, "boundary=\"", 10);
	const char *e;

	CHECK(p != NULL);
	p += 10;
	e = memchr(p, '"', s->len - (size_t)(p - s->p));
	CHECK(e != NULL && (size_t)(e - p) < out_size);
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return (size_t)(e - p);
}

static void check_report(const struct sink *s, const tern_dsn_info *info, bool eight_in)
{
	char b[96];
	size_t bl = boundary_of(s, b, sizeof(b)), col = 0, count = 0;

	CHECK(info->size == s->len);
	for (size_t i = 0; i < s->len; i++) {
		if (s->p[i] == '\r') {
			CHECK(i + 1 < s->len && s->p[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		CHECK(s->p[i] != '\n');
		CHECK(++col <= 998);
	}
	/* Each occurrence is the parameter or starts a delimiter line. */
	for (const char *p = s->p; (p = memmem(p, s->len - (size_t)(p - s->p), b, bl)) != NULL;
	     p++) {
		count++;
		if (count == 1)
			continue;
		CHECK(p - s->p >= 4 && memcmp(p - 4, "\r\n--", 4) == 0);
		CHECK(memcmp(p + bl, "\r\n", 2) == 0 || memcmp(p + bl, "--\r\n", 4) == 0);
	}
	CHECK(count == 4 || count == 5);
	CHECK(s->len > bl + 6 && memcmp(s->p + s->len - bl - 4, b, bl) == 0 &&
	      memcmp(s->p + s->len - 4, "--\r\n", 4) == 0);
	if (!info->smtputf8 && !eight_in)
		CHECK(!has_8bit(s->p, s->len));
	if (info->headers) {
		/* The last part: from the last delimiter line on. */
		const char *h = NULL, *start, *end;

		for (const char *p = s->p; (p = memmem(p, s->len - (size_t)(p - s->p), b, bl)) != NULL;
		     p++) {
			if (memcmp(p + bl, "\r\n", 2) == 0)
				h = p;
		}
		CHECK(h != NULL);
		CHECK(memcmp(h + bl, "\r\nContent-Description: Headers of the message\r\n", 47) == 0);
		start = memmem(h, s->len - (size_t)(h - s->p), "\r\n\r\n", 4);
		CHECK(start != NULL);
		start += 4;
		end = s->p + s->len - bl - 8; /* "\r\n--" B "--\r\n" */
		CHECK(end >= start);
		CHECK(memmem(start, (size_t)(end - start), "\r\n\r\n", 4) == NULL);
	}
}

/* The report without its boundary, for comparing two runs. */
static void strip_boundary(struct sink *s)
{
	char b[96];
	size_t bl = boundary_of(s, b, sizeof(b)), o = 0;

	for (size_t i = 0; i < s->len;) {
		if (s->len - i >= bl && memcmp(s->p + i, b, bl) == 0) {
			i += bl;
			continue;
		}
		s->p[o++] = s->p[i++];
	}
	s->len = o;
}

static const char *next_field(const char **p, const char *end)
{
	const char *z = memchr(*p, '\0', (size_t)(end - *p));
	const char *f = *p;

	if (z == NULL)
		return NULL;
	*p = z + 1;
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tern_dsn_options o;
	tern_dsn_rcpt r[2];
	tern_dsn_info info;
	struct sink whole = {0}, sliced = {0};
	struct slicer sl;
	const char *p, *end, *diag, *orcpt, *envid;
	char *in;
	int rc, rc2;
	uint8_t f, slice;

	if (size < 5)
		return 0;
	in = malloc(size);
	if (in == NULL)
		return 0;
	memcpy(in, data, size);
	f = (uint8_t)in[0];
	slice = (uint8_t)in[1];
	p = in + 5;
	end = in + size;
	diag = next_field(&p, end);
	orcpt = diag ? next_field(&p, end) : NULL;
	envid = orcpt ? next_field(&p, end) : NULL;
	if (envid == NULL)
		goto out;

	tern_dsn_options_init(&o);
	memset(r, 0, sizeof(r));
	r[0].address = "b@example.net";
	r[0].action = (enum tern_dsn_action)(f % 5);
	r[0].status = (f & 0x08) ? "5.1.1" : NULL;
	r[0].diag_text = diag;
	r[0].diag_code = (f & 0x10) ? 550 : 0;
	r[0].diag_remote = (f & 0x20) != 0;
	r[0].remote_mta = "mx.example.net[192.0.2.1]:25";
	r[0].notify = (unsigned)in[4] & 0x0f;
	r[0].will_retry_until = 1764400000;
	if (orcpt[0] != '\0') {
		r[0].orcpt_type = (f & 0x40) ? "utf-8" : "rfc822";
		r[0].orcpt = orcpt;
	}
	r[1].address = (f & 0x80) ? "j\xc3\xb6rg@example.net" : "c@example.net";
	r[1].action = TERN_DSN_FAILED;
	o.reporting_mta = "mx.example.org";
	o.sender = (in[4] & 0x10) ? "" : "a@example.org";
	o.envid = envid[0] ? envid : NULL;
	o.ret = (enum tern_smtp_ret)(((uint8_t)in[4] >> 5) % 3);
	o.smtputf8 = (in[4] & 0x80) != 0;
	o.now = 1764003600;
	o.arrival_date = 1764000000;
	o.message_id = "fuzz";
	o.rcpts = r;
	o.n_rcpts = 2;
	o.size_limit = (uint8_t)in[2] ? (uint64_t)(uint8_t)in[2] * 8 : 0;
	o.header_limit = (uint8_t)in[3] ? (size_t)(uint8_t)in[3] : 0;
	o.max_diagnostic = (slice & 0x80) ? 2000 : 0;
	o.original.body = (enum tern_smtp_body)(slice % 3);
	o.original.data = p;
	o.original.len = (uint64_t)(end - p);

	rc = tern_dsn_build(&o, sink_write, &whole, &info);
	CHECK(rc == 0 || rc == TERN_EINVAL || rc == TERN_DSN_SKIP_NULL_SENDER ||
	      rc == TERN_DSN_SKIP_NOT_WANTED || rc == TERN_ENOMEM);
	if (rc != 0) {
		CHECK(rc == TERN_ENOMEM || whole.len == 0);
		goto out;
	}
	check_report(&whole, &info,
		     o.original.body != TERN_SMTP_BODY_7BIT ||
			     has_8bit(p, (size_t)(end - p)));

	sl = (struct slicer){p, (size_t)(end - p), 0, (size_t)(slice % 7) + 1};
	o.original.data = NULL;
	o.original.read = slice_read;
	o.original.read_arg = &sl;
	rc2 = tern_dsn_build(&o, sink_write, &sliced, NULL);
	CHECK(rc2 == 0 || rc2 == TERN_ENOMEM);
	if (rc2 == 0) {
		strip_boundary(&whole);
		strip_boundary(&sliced);
		CHECK(whole.len == sliced.len && memcmp(whole.p, sliced.p, whole.len) == 0);
	}
out:
	free(whole.p);
	free(sliced.p);
	free(in);
	return 0;
}
