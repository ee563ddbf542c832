/* The DSN builder (tern/dsn.h): whole reports compared with hand-checked
 * text, and every report also parsed here by a small MIME checker (CRLF
 * only, lines within 998, the boundary only on delimiter lines, the parts
 * and their types). The original is read whole, one octet at a time and
 * in 3-octet slices through the callback, and from an fd range: the
 * output must not change. tests/interop/test_dsn.py parses the same
 * reports with Python's email package. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail/dsn_int.h"
#include "tern/dsn.h"
#include "util/buf.h"

#define NOW 1764003600          /* Mon, 24 Nov 2025 17:00:00 +0000 */
#define ARRIVAL 1764000000      /* Mon, 24 Nov 2025 16:00:00 +0000 */

static const char ORIGINAL[] = "From: Alice <a@example.org>\r\n"
			       "To: b@example.net\r\n"
			       "Subject: hello\r\n"
			       "Message-ID: <m1@example.org>\r\n"
			       "\r\n"
			       "Hi Bob,\r\n"
			       "just a note.\r\n";

/* ---- capture and checks ---- */

static int capture(const void *data, size_t len, void *user_data)
{
	return tern__buf_append(user_data, data, len) == 0 ? 0 : TERN_ENOMEM;
}

/* Every line ends in CRLF, no bare CR or LF, none longer than 998. */
static void check_lines(const char *s, size_t len)
{
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r') {
			assert_true(i + 1 < len && s[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		assert_true(s[i] != '\n');
		col++;
		assert_true(col <= 998);
	}
	assert_true(len >= 2 && s[len - 2] == '\r' && s[len - 1] == '\n');
}

/* The unfolded value of the first "name:" field of a header block. */
static char *field(const char *blk, size_t len, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < len;) {
		const char *eol;

		if (len - i > nl && strncasecmp(blk + i, name, nl) == 0 && blk[i + nl] == ':') {
			struct tern__buf b;
			char *v;
			size_t j = i + nl + 1;

			tern__buf_init(&b, 0);
			while (j < len && blk[j] == ' ')
				j++;
			for (; j < len; j++) {
				if (blk[j] == '\r' && j + 2 < len &&
				    (blk[j + 2] == ' ' || blk[j + 2] == '\t')) {
					j++;
					continue;
				}
				if (blk[j] == '\r')
					break;
				assert_int_equal(tern__buf_append(&b, blk + j, 1), 0);
			}
			v = strndup(tern__buf_ptr(&b), b.len);
			tern__buf_free(&b);
			return v;
		}
		eol = memchr(blk + i, '\n', len - i);
		if (eol == NULL)
			break;
		i = (size_t)(eol - blk) + 1;
	}
	return NULL;
}

struct part {
	char *type;
	const char *hdr;
	size_t hdr_len;
	const char *body;
	size_t body_len;
};

struct mime {
	char *out;
	size_t len;
	const char *hdr;
	size_t hdr_len;
	char boundary[80];
	struct part parts[4];
	size_t n;
};

static const char *find(const char *h, size_t hlen, const char *needle)
{
	return memmem(h, hlen, needle, strlen(needle));
}

/* The MIME structure check: multipart/report, the boundary found only in
 * its parameter and on delimiter lines, parts split and typed. */
static void parse(struct mime *m)
{
	const char *end = find(m->out, m->len, "\r\n\r\n");
	char *ct, *p, delim[96];
	size_t dlen, count = 0;
	const char *s;

	check_lines(m->out, m->len);
	assert_non_null(end);
	m->hdr = m->out;
	m->hdr_len = (size_t)(end - m->out) + 2;
	ct = field(m->hdr, m->hdr_len, "Content-Type");
	assert_non_null(ct);
	assert_true(strncmp(ct, "multipart/report; report-type=delivery-status;", 46) == 0);
	p = strstr(ct, "boundary=\"");
	assert_non_null(p);
	p += 10;
	assert_true(strchr(p, '"') != NULL);
	*strchr(p, '"') = '\0';
	assert_true(strlen(p) > 30 && strlen(p) < 70);
	snprintf(m->boundary, sizeof(m->boundary), "%s", p);
	free(ct);
	/* Occurrences: the parameter, each delimiter, the close delimiter. */
	for (s = m->out; (s = find(s, m->len - (size_t)(s - m->out), m->boundary)) != NULL; s++)
		count++;
	dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", m->boundary);
	s = end + 2;
	m->n = 0;
	for (;;) {
		const char *d = find(s, m->len - (size_t)(s - m->out), delim);
		const char *next, *he;

		assert_non_null(d);
		if (m->n > 0) {
			struct part *pt = &m->parts[m->n - 1];

			/* The CRLF before "--" belongs to the delimiter. */
			pt->body_len = d >= pt->body ? (size_t)(d - pt->body) : 0;
		}
		next = d + dlen;
		if (next[0] == '-' && next[1] == '-') {
			assert_true(next + 4 == m->out + m->len);
			assert_memory_equal(next, "--\r\n", 4);
			break;
		}
		assert_memory_equal(next, "\r\n", 2);
		assert_true(m->n < 4);
		struct part *pt = &m->parts[m->n++];

		pt->hdr = next + 2;
		he = find(pt->hdr, m->len - (size_t)(pt->hdr - m->out), "\r\n\r\n");
		assert_non_null(he);
		pt->hdr_len = (size_t)(he - pt->hdr) + 2;
		pt->body = he + 4;
		pt->type = field(pt->hdr, pt->hdr_len, "Content-Type");
		assert_non_null(pt->type);
		s = he + 2;
	}
	assert_int_equal(count, m->n + 2);
}

static void mime_free(struct mime *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->parts[i].type);
	free(m->out);
	memset(m, 0, sizeof(*m));
}

static void base_opts(tern_dsn_options *o, tern_dsn_rcpt *r, size_t n)
{
	tern_dsn_options_init(o);
	o->reporting_mta = "mx.example.org";
	o->sender = "a@example.org";
	o->now = NOW;
	o->arrival_date = ARRIVAL;
	o->message_id = "dsn.1234";
	o->rcpts = r;
	o->n_rcpts = n;
	o->original.data = ORIGINAL;
	o->original.len = sizeof(ORIGINAL) - 1;
}

static void failed_rcpt(tern_dsn_rcpt *r)
{
	memset(r, 0, sizeof(*r));
	r->address = "b@example.net";
	r->action = TERN_DSN_FAILED;
	r->status = "5.1.1";
	r->remote_mta = "mx.example.net[192.0.2.1]:25";
	r->diag_code = 550;
	r->diag_text = "5.1.1 <b@example.net>: Recipient address rejected: User unknown";
	r->diag_remote = true;
	r->last_attempt = NOW - 100;
}

/* Builds; returns the rc and the output (NUL-terminated) in m. */
static int build(const tern_dsn_options *o, struct mime *m, tern_dsn_info *info)
{
	struct tern__buf b;
	int rc;

	memset(m, 0, sizeof(*m));
	tern__buf_init(&b, 0);
	rc = tern_dsn_build(o, capture, &b, info);
	m->len = b.len;
	m->out = strndup(tern__buf_ptr(&b), b.len);
	assert_non_null(m->out);
	tern__buf_free(&b);
	if (rc == 0)
		parse(m);
	return rc;
}

/* The output with the random boundary replaced by "BOUNDARY". */
static char *normalized(const struct mime *m)
{
	struct tern__buf b;
	size_t bl = strlen(m->boundary);
	char *r;

	tern__buf_init(&b, 0);
	for (size_t i = 0; i < m->len;) {
		if (m->len - i >= bl && memcmp(m->out + i, m->boundary, bl) == 0) {
			tern__buf_append(&b, "BOUNDARY", 8);
			i += bl;
		} else {
			tern__buf_append(&b, m->out + i, 1);
			i++;
		}
	}
	r = strndup(tern__buf_ptr(&b), b.len);
	tern__buf_free(&b);
	return r;
}

static char *part_body(const struct part *p)
{
	return strndup(p->body, p->body_len);
}

/* ---- hand-checked reports ---- */

static const char EXPECT_FAILED[] =
	"From: \"Mail Delivery System\" <MAILER-DAEMON@mx.example.org>\r\n"
	"To: <a@example.org>\r\n"
	"Subject: Undelivered Mail Returned to Sender\r\n"
	"Date: Mon, 24 Nov 2025 17:00:00 +0000\r\n"
	"Message-ID: <dsn.1234@mx.example.org>\r\n"
	"MIME-Version: 1.0\r\n"
	"Auto-Submitted: auto-replied\r\n"
	"Content-Type: multipart/report; report-type=delivery-status;\r\n"
	"\tboundary=\"BOUNDARY\"\r\n"
	"\r\n"
	"This is a MIME-encapsulated message.\r\n"
	"\r\n"
	"--BOUNDARY\r\n"
	"Content-Description: Notification\r\n"
	"Content-Type: text/plain; charset=us-ascii\r\n"
	"\r\n"
	"This is the mail delivery system at mx.example.org.\r\n"
	"\r\n"
	"Your message could not be delivered to one or more of its recipients. This\r\n"
	"is permanent: the mail system has given up. The reasons are given below.\r\n"
	"\r\n"
	"<b@example.net>: failed (5.1.1)\r\n"
	"    mx.example.net said: 550 5.1.1 <b@example.net>: Recipient address\r\n"
	"    rejected: User unknown\r\n"
	"\r\n"
	"The message is attached.\r\n"
	"\r\n"
	"\r\n"
	"--BOUNDARY\r\n"
	"Content-Description: Delivery report\r\n"
	"Content-Type: message/delivery-status\r\n"
	"\r\n"
	"Original-Envelope-Id: QQ314159\r\n"
	"Reporting-MTA: dns; mx.example.org\r\n"
	"Arrival-Date: Mon, 24 Nov 2025 16:00:00 +0000\r\n"
	"\r\n"
	"Original-Recipient: rfc822; Bob@Example.NET\r\n"
	"Final-Recipient: rfc822; b@example.net\r\n"
	"Action: failed\r\n"
	"Status: 5.1.1\r\n"
	"Remote-MTA: dns; mx.example.net\r\n"
	"Diagnostic-Code: smtp; 550 5.1.1 <b@example.net>: Recipient address rejected:\r\n"
	" User unknown\r\n"
	"Last-Attempt-Date: Mon, 24 Nov 2025 16:58:20 +0000\r\n"
	"\r\n"
	"--BOUNDARY\r\n"
	"Content-Description: Undelivered message\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: Alice <a@example.org>\r\n"
	"To: b@example.net\r\n"
	"Subject: hello\r\n"
	"Message-ID: <m1@example.org>\r\n"
	"\r\n"
	"Hi Bob,\r\n"
	"just a note.\r\n"
	"\r\n"
	"--BOUNDARY--\r\n";

static void test_failed_exact(void **state)
{
	tern_dsn_options o;
	tern_dsn_rcpt r;
	tern_dsn_info info;
	struct mime m;
	char *got;

	(void)state;
	failed_rcpt(&r);
	r.orcpt_type = "rfc822";
	r.orcpt = "Bob@Example.NET";
	base_opts(&o, &r, 1);
	o.envid = "QQ314159";
	assert_int_equal(build(&o, &m, &info), 0);
	got = normalized(&m);
	assert_string_equal(got, EXPECT_FAILED);
	assert_int_equal(info.size, m.len);
	assert_false(info.smtputf8);
	assert_int_equal(info.body, TERN_SMTP_BODY_7BIT);
	assert_int_equal(info.n_reported, 1);
	assert_true(info.full);
	assert_false(info.headers);
	free(got);
	mime_free(&m);
}

static const char EXPECT_DELAYED_STATUS[] =
	"Reporting-MTA: dns; mx.example.org\r\n"
	"Arrival-Date: Mon, 24 Nov 2025 16:00:00 +0000\r\n"
	"\r\n"
	"Final-Recipient: rfc822; c@example.net\r\n"
	"Action: delayed\r\n"
	"Status: 4.4.1\r\n"
	"Diagnostic-Code: X-Tern; connect to mx.example.net[192.0.2.1]:25: Connection\r\n"
	" timed out\r\n"
	"Last-Attempt-Date: Mon, 24 Nov 2025 16:58:20 +0000\r\n"
	"Will-Retry-Until: Mon, 01 Dec 2025 16:00:00 +0000\r\n";

static void test_delayed(void **state)
{
	tern_dsn_options o;
	tern_dsn_rcpt r = {0};
	tern_dsn_info info;
	struct mime m;
	char *s, *subj;

	(void)state;
	r.address = "c@example.net";
	r.action = TERN_DSN_DELAYED;
	r.status = "4.4.1";
	r.diag_text = "connect to mx.example.net[192.0.2.1]:25: Connection timed out";
	r.last_attempt = NOW - 100;
	r.will_retry_until = ARRIVAL + 7 * 86400;
	base_opts(&o, &r, 1);
	assert_int_equal(build(&o, &m, &info), 0);
	subj = field(m.hdr, m.hdr_len, "Subject");
	assert_string_equal(subj, "Delayed Mail (still being retried)");
	assert_int_equal(m.n, 3);
	assert_string_equal(m.parts[1].type, "message/delivery-status");
	s = part_body(&m.parts[1]);
	assert_string_equal(s, EXPECT_DELAYED_STATUS);
	free(s);
	/* A delay notice says until when, and carries the headers only. */
	s = part_body(&m.parts[0]);
	assert_non_null(strstr(s, "keeps trying until Mon, 01 Dec 2025 16:00:00 +0000; you do\r\n"
				  "not need to send it again."));
	assert_non_null(strstr(s, "The headers of the message are attached."));
	free(s);
	assert_string_equal(m.parts[2].type, "text/rfc822-headers");
	s = part_body(&m.parts[2]);
	assert_string_equal(s, "From: Alice <a@example.org>\r\nTo: b@example.net\r\n"
			       "Subject: hello\r\nMessage-ID: <m1@example.org>\r\n");
	free(s);
	assert_false(info.full);
	assert_true(info.headers);
	free(subj);
	mime_free(&m);
}

struct action_case {
	enum tern_dsn_action action;
	unsigned notify;
	const char *subject;
	const char *word;
	const char *status;
	const char *text;
};

static const struct action_case action_cases[] = {
	{TERN_DSN_FAILED, 0, "Undelivered Mail Returned to Sender", "failed", "5.0.0",
	 "could not be delivered"},
	{TERN_DSN_DELAYED, 0, "Delayed Mail (still being retried)", "delayed", "4.0.0",
	 "not been delivered yet"},
	{TERN_DSN_DELIVERED, TERN_SMTP_NOTIFY_SUCCESS, "Successful Mail Delivery Report",
	 "delivered", "2.0.0", "was delivered to the recipients"},
	{TERN_DSN_RELAYED, TERN_SMTP_NOTIFY_SUCCESS | TERN_SMTP_NOTIFY_FAILURE,
	 "Successful Mail Delivery Report", "relayed", "2.0.0", "does not send delivery reports"},
	{TERN_DSN_EXPANDED, TERN_SMTP_NOTIFY_SUCCESS, "Successful Mail Delivery Report",
	 "expanded", "2.0.0", "mailing lists or aliases"},
};

static void test_each_action(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(action_cases) / sizeof(action_cases[0]); i++) {
		const struct action_case *c = &action_cases[i];
		tern_dsn_options o;
		tern_dsn_rcpt r = {.address = "b@example.net", .action = c->action,
				   .notify = c->notify};
		struct mime m;
		char *subj, *st, *text, want[64];

		base_opts(&o, &r, 1);
		assert_int_equal(build(&o, &m, NULL), 0);
		subj = field(m.hdr, m.hdr_len, "Subject");
		assert_string_equal(subj, c->subject);
		st = part_body(&m.parts[1]);
		snprintf(want, sizeof(want), "Action: %s\r\nStatus: %s\r\n", c->word, c->status);
		assert_non_null(strstr(st, want));
		/* No diagnostic given: no Diagnostic-Code; no Will-Retry-Until. */
		assert_null(strstr(st, "Diagnostic-Code"));
		assert_null(strstr(st, "Will-Retry-Until"));
		text = part_body(&m.parts[0]);
		assert_non_null(strstr(text, c->text));
		/* Only failures return the whole message (RFC 3461 4.3). */
		assert_string_equal(m.parts[2].type, c->action == TERN_DSN_FAILED
							     ? "message/rfc822"
							     : "text/rfc822-headers");
		free(subj);
		free(st);
		free(text);
		mime_free(&m);
	}
}

static void test_mixed_subject_and_order(void **state)
{
	tern_dsn_rcpt r[3];
	tern_dsn_options o;
	struct mime m;
	char *subj, *st;

	(void)state;
	failed_rcpt(&r[0]);
	memset(&r[1], 0, sizeof(r[1]));
	r[1].address = "c@example.net";
	r[1].action = TERN_DSN_DELAYED;
	memset(&r[2], 0, sizeof(r[2]));
	r[2].address = "d@example.net";
	r[2].action = TERN_DSN_DELIVERED; /* no NOTIFY: not reported */
	base_opts(&o, r, 3);
	assert_int_equal(build(&o, &m, NULL), 0);
	subj = field(m.hdr, m.hdr_len, "Subject");
	assert_string_equal(subj, "Delivery Status Notification");
	st = part_body(&m.parts[1]);
	assert_non_null(strstr(st, "Final-Recipient: rfc822; b@example.net"));
	assert_non_null(strstr(st, "Final-Recipient: rfc822; c@example.net"));
	assert_null(strstr(st, "d@example.net"));
	assert_true(strstr(st, "b@example.net") < strstr(st, "c@example.net"));
	free(subj);
	free(st);
	mime_free(&m);
}

/* RET: FULL and absent return the whole message on failure, HDRS the
 * header section. */
static void test_ret(void **state)
{
	static const struct {
		enum tern_smtp_ret ret;
		const char *type;
		const char *says;
	} cases[] = {
		{TERN_SMTP_RET_UNSET, "message/rfc822", "The message is attached."},
		{TERN_SMTP_RET_FULL, "message/rfc822", "The message is attached."},
		{TERN_SMTP_RET_HDRS, "text/rfc822-headers", "The headers of the message are"},
	};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		tern_dsn_options o;
		tern_dsn_rcpt r;
		tern_dsn_info info;
		struct mime m;
		char *text, *orig;

		failed_rcpt(&r);
		base_opts(&o, &r, 1);
		o.ret = cases[i].ret;
		assert_int_equal(build(&o, &m, &info), 0);
		assert_int_equal(m.n, 3);
		assert_string_equal(m.parts[2].type, cases[i].type);
		text = part_body(&m.parts[0]);
		assert_non_null(strstr(text, cases[i].says));
		orig = part_body(&m.parts[2]);
		if (cases[i].ret == TERN_SMTP_RET_HDRS) {
			assert_null(strstr(orig, "Hi Bob"));
			assert_non_null(strstr(orig, "Subject: hello\r\n"));
			assert_true(info.headers);
		} else {
			assert_string_equal(orig, ORIGINAL);
			assert_true(info.full);
		}
		free(text);
		free(orig);
		mime_free(&m);
	}
}

static void test_large_original_headers_only(void **state)
{
	tern_dsn_options o;
	tern_dsn_rcpt r;
	tern_dsn_info info;
	struct mime m;
	char *text, *orig;

	(void)state;
	failed_rcpt(&r);
	base_opts(&o, &r, 1);
	o.ret = TERN_SMTP_RET_FULL;
	o.size_limit = 100; /* ORIGINAL is 119 octets */
	assert_int_equal(build(&o, &m, &info), 0);
	assert_string_equal(m.parts[2].type, "text/rfc822-headers");
	text = part_body(&m.parts[0]);
	assert_non_null(strstr(text, "The message is 119 octets, more than the 100 returned in full: only its\r\n"
				     "headers are attached."));
	orig = part_body(&m.parts[2]);
	assert_null(strstr(orig, "Hi Bob"));
	assert_true(info.headers);
	assert_false(info.full);
	free(text);
	free(orig);
	mime_free(&m);
	/* At the limit exactly: whole. */
	o.size_limit = sizeof(ORIGINAL) - 1;
	assert_int_equal(build(&o, &m, &info), 0);
	assert_string_equal(m.parts[2].type, "message/rfc822");
	mime_free(&m);
	/* BINARYMIME: headers only, and said why. */
	o.size_limit = 0;
	o.original.body = TERN_SMTP_BODY_BINARYMIME;
	assert_int_equal(build(&o, &m, &info), 0);
	assert_string_equal(m.parts[2].type, "text/rfc822-headers");
	text = part_body(&m.parts[0]);
	assert_non_null(strstr(text, "binary MIME"));
	free(text);
	mime_free(&m);
}

static void test_header_limit_cut(void **state)
{
	static const char orig[] = "A: 1\r\nB: 2\r\n continued\r\nC: 3\r\n\r\nbody\r\n";
	tern_dsn_options o;
	tern_dsn_rcpt r;
	tern_dsn_info info;
	struct mime m;
	char *text, *h;

	(void)state;
	failed_rcpt(&r);
	base_opts(&o, &r, 1);
	o.ret = TERN_SMTP_RET_HDRS;
	o.original.data = orig;
	o.original.len = sizeof(orig) - 1;
	o.header_limit = 20; /* "A: 1" fits; B with its continuation does not */
	assert_int_equal(build(&o, &m, &info), 0);
	h = part_body(&m.parts[2]);
	assert_string_equal(h, "A: 1\r\n");
	text = part_body(&m.parts[0]);
	assert_non_null(strstr(text, "The headers were cut after 20 octets"));
	assert_true(info.headers_cut);
	free(h);
	free(text);
	mime_free(&m);
	o.header_limit = 0;
	assert_int_equal(build(&o, &m, &info), 0);
	h = part_body(&m.parts[2]);
	assert_string_equal(h, "A: 1\r\nB: 2\r\n continued\r\nC: 3\r\n");
	assert_false(info.headers_cut);
	free(h);
	mime_free(&m);
}

/* A read callback that hands out at most slice octets a call. */
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

/* Header sections of odd originals: no body, no headers, bare LF. */
static void test_header_section_shapes(void **state)
{
	static const struct {
		const char *orig;
		const char *hdrs;
	} cases[] = {
		{"A: 1\r\nB: 2\r\n", "A: 1\r\nB: 2\r\n"},
		{"A: 1\r\nB: 2", "A: 1\r\nB: 2\r\n"},
		{"\r\nbody only\r\n", ""},
		{"A: 1\nB: 2\n\nbody\n", "A: 1\r\nB: 2\r\n"},
		{"A: 1\rB: 2\r\rbody\r", "A: 1\r\nB: 2\r\n"},
		{"A: 1\r\n\r\n", "A: 1\r\n"},
	};

	(void)state;
	/* Each case whole, then one octet and three octets at a time. */
	for (size_t k = 0; k < 3 * sizeof(cases) / sizeof(cases[0]); k++) {
		size_t i = k / 3, slice = k % 3 == 0 ? 0 : k % 3 == 1 ? 1 : 3;
		struct slicer sl = {cases[i].orig, strlen(cases[i].orig), 0, slice};
		tern_dsn_options o;
		tern_dsn_rcpt r;
		struct mime m;
		char *h;

		failed_rcpt(&r);
		base_opts(&o, &r, 1);
		o.ret = TERN_SMTP_RET_HDRS;
		o.original.data = slice == 0 ? cases[i].orig : NULL;
		o.original.read = slice == 0 ? NULL : slice_read;
		o.original.read_arg = &sl;
		o.original.len = strlen(cases[i].orig);
		assert_int_equal(build(&o, &m, NULL), 0);
		h = part_body(&m.parts[2]);
		if (strcmp(h, cases[i].hdrs) != 0)
			print_error("case %zu: got \"%s\"\n", i, h);
		assert_string_equal(h, cases[i].hdrs);
		free(h);
		mime_free(&m);
	}
}

/* Bare LF and bare CR in the original become CRLF; a last line without
 * an ending gets one. */
static void test_no_bare_newlines(void **state)
{
	static const char orig[] = "A: 1\nB: 2\r\rC: 3\r\n\nline\rline2\n\r\nend";
	tern_dsn_options o;
	tern_dsn_rcpt r;
	struct mime m;
	char *body;

	(void)state;
	failed_rcpt(&r);
	r.diag_text = "line one\nline two\r\nline\rthree\ttab\x01" "ctl";
	base_opts(&o, &r, 1);
	o.original.data = orig;
	o.original.len = sizeof(orig) - 1;
	assert_int_equal(build(&o, &m, NULL), 0); /* check_lines ran in parse() */
	body = part_body(&m.parts[2]);
	assert_string_equal(body, "A: 1\r\nB: 2\r\n\r\nC: 3\r\n\r\nline\r\nline2\r\n\r\nend\r\n");
	free(body);
	body = part_body(&m.parts[1]);
	assert_non_null(strstr(body, "smtp; 550 5.1.1 line one line two line three tab?ctl\r\n"));
	free(body);
	mime_free(&m);
}

/* Lines over 998 octets in the original are broken: folded in the header
 * section, a plain CRLF in the body. */
static void test_long_original_lines(void **state)
{
	size_t n = 2500;
	char *orig = malloc(2 * n + 64), *body, *want;
	size_t len = 0;
	tern_dsn_options o;
	tern_dsn_rcpt r;
	struct mime m;

	(void)state;
	len += (size_t)sprintf(orig, "X-Long: ");
	memset(orig + len, 'h', n);
	len += n;
	len += (size_t)sprintf(orig + len, "\r\n\r\n");
	memset(orig + len, 'b', n);
	len += n;
	failed_rcpt(&r);
	base_opts(&o, &r, 1);
	o.original.data = orig;
	o.original.len = len;
	assert_int_equal(build(&o, &m, NULL), 0); /* parse() checks 998 */
	body = part_body(&m.parts[2]);
	want = malloc(2 * n + 64);
	/* Header: 8 + 990 octets, then CRLF SP: 998 per line. */
	len = (size_t)sprintf(want, "X-Long: ");
	memset(want + len, 'h', 990);
	len += 990;
	len += (size_t)sprintf(want + len, "\r\n ");
	memset(want + len, 'h', 997);
	len += 997;
	len += (size_t)sprintf(want + len, "\r\n ");
	memset(want + len, 'h', n - 990 - 997);
	len += n - 990 - 997;
	len += (size_t)sprintf(want + len, "\r\n\r\n");
	memset(want + len, 'b', 998);
	len += 998;
	len += (size_t)sprintf(want + len, "\r\n");
	memset(want + len, 'b', 998);
	len += 998;
	len += (size_t)sprintf(want + len, "\r\n");
	memset(want + len, 'b', n - 2 * 998);
	len += n - 2 * 998;
	len += (size_t)sprintf(want + len, "\r\n");
	assert_int_equal(strlen(body), len);
	assert_memory_equal(body, want, len);
	free(body);
	mime_free(&m);
	/* The same header, returned alone. */
	o.ret = TERN_SMTP_RET_HDRS;
	assert_int_equal(build(&o, &m, NULL), 0);
	body = part_body(&m.parts[2]);
	assert_int_equal(strlen(body), 8 + n + 2 * 3 + 2);
	assert_memory_equal(body, want, 8 + n + 2 * 3 + 2);
	free(body);
	free(want);
	free(orig);
	mime_free(&m);
}

/* The same report whatever the source and however it is sliced. */
static void test_sources_agree(void **state)
{
	static const char orig[] = "A: 1\nB: 2\r\n\r\nx\ry\r\n";
	char *want = NULL;

	(void)state;
	for (int mode = 0; mode < 5; mode++) {
		for (int ret = 0; ret < 2; ret++) {
			tern_dsn_options o;
			tern_dsn_rcpt r;
			struct mime m;
			struct slicer sl = {orig, sizeof(orig) - 1, 0, 0};
			char path[] = "/tmp/test_dsn_XXXXXX";
			int fd = -1;
			char *got, *body;

			failed_rcpt(&r);
			base_opts(&o, &r, 1);
			o.ret = ret ? TERN_SMTP_RET_HDRS : TERN_SMTP_RET_FULL;
			if (mode >= 1 && mode <= 3) {
				sl.slice = mode == 1 ? 1 : mode == 2 ? 3 : 1 << 20;
				o.original.data = NULL;
				o.original.read = slice_read;
				o.original.read_arg = &sl;
				o.original.len = sizeof(orig) - 1;
			} else if (mode == 4) {
				fd = mkstemp(path);
				assert_true(fd >= 0);
				unlink(path);
				/* The message sits at offset 7 of the file. */
				assert_int_equal(write(fd, "garbage", 7), 7);
				assert_int_equal(write(fd, orig, sizeof(orig) - 1),
						 (ssize_t)sizeof(orig) - 1);
				assert_int_equal(write(fd, "more", 4), 4);
				o.original.data = NULL;
				o.original.fd = fd;
				o.original.offset = 7;
				o.original.len = sizeof(orig) - 1;
			} else {
				o.original.data = orig;
				o.original.len = sizeof(orig) - 1;
			}
			assert_int_equal(build(&o, &m, NULL), 0);
			got = normalized(&m);
			body = part_body(&m.parts[2]);
			if (ret == 0)
				assert_string_equal(body, "A: 1\r\nB: 2\r\n\r\nx\r\ny\r\n");
			else
				assert_string_equal(body, "A: 1\r\nB: 2\r\n");
			if (ret == 0 && mode == 0)
				want = strdup(got);
			else if (ret == 0)
				assert_string_equal(got, want);
			free(body);
			free(got);
			mime_free(&m);
			if (fd >= 0)
				close(fd);
		}
	}
	free(want);
}

static ssize_t failing_read(void *buf, size_t n, void *arg)
{
	(void)buf;
	(void)n;
	(void)arg;
	return TERN_ENOMEM;
}

static int failing_write(const void *data, size_t len, void *user_data)
{
	size_t *budget = user_data;

	(void)data;
	if (len > *budget)
		return -42;
	*budget -= len;
	return 0;
}

static void test_io_errors(void **state)
{
	tern_dsn_options o;
	tern_dsn_rcpt r;
	struct mime m;
	struct slicer sl = {ORIGINAL, 10, 0, 1 << 20};
	size_t budget = 100;

	(void)state;
	failed_rcpt(&r);
	base_opts(&o, &r, 1);
	/* The source ends before len. */
	o.original.data = NULL;
	o.original.read = slice_read;
	o.original.read_arg = &sl;
	o.original.len = sizeof(ORIGINAL) - 1;
	assert_int_equal(build(&o, &m, NULL), TERN_EIO);
	mime_free(&m);
	/* The callback's own error comes back. */
	o.original.read = failing_read;
	assert_int_equal(build(&o, &m, NULL), TERN_ENOMEM);
	mime_free(&m);
	/* A bad fd. */
	o.original.read = NULL;
	o.original.fd = 1000;
	assert_int_equal(build(&o, &m, NULL), TERN_EIO);
	mime_free(&m);
	/* The write callback's error comes back. */
	o.original.fd = -1;
	o.original.data = ORIGINAL;
	assert_int_equal(tern_dsn_build(&o, failing_write, &budget, NULL), -42);
	/* To a closed fd. */
	assert_int_equal(tern_dsn_build_fd(&o, 1000, NULL), TERN_EIO);
	assert_int_equal(tern_dsn_build_fd(&o, -1, NULL), TERN_EINVAL);
}

static void test_build_fd(void **state)
{
	tern_dsn_options o;
	tern_dsn_rcpt r;
	tern_dsn_info info;
	char path[] = "/tmp/test_dsn_XXXXXX";
	int fd = mkstemp(path);
	char buf[8192];
	ssize_t n;

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	failed_rcpt(&r);
	base_opts(&o, &r, 1);
	assert_int_equal(tern_dsn_build_fd(&o, fd, &info), 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_int_equal(n, (ssize_t)info.size);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "Final-Recipient: rfc822; b@example.net\r\n"));
	close(fd);
}

/* ENVID and ORCPT: present, absent, and in forms that need care. */
static void test_envid_orcpt(void **state)
{
	tern_dsn_options o;
	tern_dsn_rcpt r;
	struct mime m;
	char *st;

	(void)state;
	failed_rcpt(&r);
	base_opts(&o, &r, 1);
	assert_int_equal(build(&o, &m, NULL), 0);
	st = part_body(&m.parts[1]);
	assert_null(strstr(st, "Original-Envelope-Id"));
	assert_null(strstr(st, "Original-Recipient"));
	assert_true(strncmp(st, "Reporting-MTA: dns; mx.example.org\r\n", 36) == 0);
	free(st);
	mime_free(&m);
	/* As given (decoded), "+" and "=" included. */
	o.envid = "id+1=2 x";
	r.orcpt_type = "rfc822";
	r.orcpt = "b+tag=x@example.net";
	assert_int_equal(build(&o, &m, NULL), 0);
	st = part_body(&m.parts[1]);
	assert_non_null(strstr(st, "Original-Envelope-Id: id+1=2 x\r\n"));
	assert_non_null(strstr(st, "Original-Recipient: rfc822; b+tag=x@example.net\r\n"
				   "Final-Recipient: rfc822; b@example.net\r\n"));
	free(st);
	mime_free(&m);
	/* Non-ASCII in a 7-bit report: the ENVID stays xtext, the ORCPT
	 * becomes utf-8-addr-xtext (RFC 6533 3). */
	o.envid = "caf\xc3\xa9";
	r.orcpt_type = "rfc822";
	r.orcpt = "j\xc3\xb6rg+x@b\xc3\xbc" "cher.example";
	assert_int_equal(build(&o, &m, NULL), 0);
	st = part_body(&m.parts[1]);
	assert_non_null(strstr(st, "Original-Envelope-Id: caf+C3+A9\r\n"));
	assert_non_null(strstr(st, "Original-Recipient: utf-8; j\\x{F6}rg\\x{2B}x@b\\x{FC}cher.example\r\n"));
	assert_false(tern__dsn_has_8bit(m.out, m.len));
	free(st);
	mime_free(&m);
	/* An ORCPT of type utf-8 is already encoded: its "\" stays. */
	r.orcpt_type = "utf-8";
	r.orcpt = "j\\x{F6}rg@example.net";
	o.envid = NULL;
	assert_int_equal(build(&o, &m, NULL), 0);
	st = part_body(&m.parts[1]);
	assert_non_null(strstr(st, "Original-Recipient: utf-8; j\\x{F6}rg@example.net\r\n"));
	free(st);
	mime_free(&m);
}

/* SMTPUTF8 (RFC 6533): the global types, UTF-8 addresses as utf-8. */
static void test_utf8_global(void **state)
{
	tern_dsn_options o;
	tern_dsn_rcpt r;
	tern_dsn_info info;
	struct mime m;
	char *st, *text, *to;

	(void)state;
	failed_rcpt(&r);
	r.address = "j\xc3\xb6rg+x@b\xc3\xbc" "cher.example";
	r.orcpt_type = "utf-8";
	r.orcpt = "J\xc3\xb6rg@b\xc3\xbc" "cher.example";
	r.diag_text = "5.1.1 unbekannt: J\xc3\xb6rg \xff\xfe";
	base_opts(&o, &r, 1);
	o.sender = "\xc3\xa9lise@example.org";
	assert_int_equal(build(&o, &m, &info), 0);
	assert_true(info.smtputf8);
	assert_int_equal(info.body, TERN_SMTP_BODY_8BITMIME);
	assert_non_null(find(m.hdr, m.hdr_len, "Content-Transfer-Encoding: 8bit\r\n"));
	to = field(m.hdr, m.hdr_len, "To");
	assert_string_equal(to, "<\xc3\xa9lise@example.org>");
	assert_string_equal(m.parts[0].type, "text/plain; charset=utf-8");
	assert_string_equal(m.parts[1].type, "message/global-delivery-status");
	assert_string_equal(m.parts[2].type, "message/global");
	st = part_body(&m.parts[1]);
	assert_non_null(strstr(st, "Original-Recipient: utf-8; J\xc3\xb6rg@b\xc3\xbc" "cher.example\r\n"));
	assert_non_null(strstr(st, "Final-Recipient: utf-8; j\xc3\xb6rg\\x{2B}x@b\xc3\xbc" "cher.example\r\n"));
	/* Valid UTF-8 kept, invalid octets replaced. */
	assert_non_null(strstr(st, "Diagnostic-Code: smtp; 550 5.1.1 unbekannt: J\xc3\xb6rg ??\r\n"));
	text = part_body(&m.parts[0]);
	assert_non_null(strstr(text, "<j\xc3\xb6rg+x@b\xc3\xbc" "cher.example>: failed (5.1.1)"));
	free(st);
	free(text);
	free(to);
	mime_free(&m);
	/* SMTPUTF8 alone, ASCII everywhere: global types, headers part too. */
	failed_rcpt(&r);
	base_opts(&o, &r, 1);
	o.smtputf8 = true;
	o.ret = TERN_SMTP_RET_HDRS;
	assert_int_equal(build(&o, &m, &info), 0);
	assert_true(info.smtputf8);
	assert_string_equal(m.parts[2].type, "message/global-headers");
	st = part_body(&m.parts[1]);
	assert_non_null(strstr(st, "Final-Recipient: rfc822; b@example.net\r\n"));
	free(st);
	mime_free(&m);
	/* Not SMTPUTF8: 7-bit, diagnostics' 8-bit octets replaced, a U-label
	 * Remote-MTA too. */
	failed_rcpt(&r);
	r.diag_text = "J\xc3\xb6rg";
	r.remote_mta = "mx.b\xc3\xbc" "cher.example";
	base_opts(&o, &r, 1);
	assert_int_equal(build(&o, &m, &info), 0);
	assert_false(info.smtputf8);
	assert_int_equal(info.body, TERN_SMTP_BODY_7BIT);
	assert_false(tern__dsn_has_8bit(m.out, m.len));
	st = part_body(&m.parts[1]);
	assert_non_null(strstr(st, "smtp; 550 5.1.1 J??rg\r\n"));
	assert_non_null(strstr(st, "Remote-MTA: dns; mx.b??cher.example\r\n"));
	free(st);
	mime_free(&m);
}

static void test_8bitmime_original(void **state)
{
	static const char orig[] = "Subject: x\r\n\r\ncaf\xc3\xa9\r\n";
	tern_dsn_options o;
	tern_dsn_rcpt r;
	tern_dsn_info info;
	struct mime m;

	(void)state;
	failed_rcpt(&r);
	base_opts(&o, &r, 1);
	o.original.data = orig;
	o.original.len = sizeof(orig) - 1;
	o.original.body = TERN_SMTP_BODY_8BITMIME;
	assert_int_equal(build(&o, &m, &info), 0);
	assert_int_equal(info.body, TERN_SMTP_BODY_8BITMIME);
	assert_false(info.smtputf8);
	assert_string_equal(m.parts[2].type, "message/rfc822");
	assert_non_null(find(m.parts[2].hdr, m.parts[2].hdr_len,
			     "Content-Transfer-Encoding: 8bit\r\n"));
	assert_non_null(find(m.hdr, m.hdr_len, "Content-Transfer-Encoding: 8bit\r\n"));
	mime_free(&m);
}

/* Long diagnostics: folded at spaces within 78, cut at max_diagnostic
 * with "...", a word too long for any line broken within 998. */
static void test_long_diagnostic(void **state)
{
	tern_dsn_options o;
	tern_dsn_rcpt r;
	struct mime m;
	char *text = malloc(5001), *st, *diag;
	const char *p;

	(void)state;
	for (int i = 0; i < 5000; i++)
		text[i] = i % 10 == 9 ? ' ' : (char)('a' + i % 10);
	text[5000] = '\0';
	failed_rcpt(&r);
	r.diag_text = text;
	base_opts(&o, &r, 1);
	assert_int_equal(build(&o, &m, NULL), 0);
	st = part_body(&m.parts[1]);
	p = strstr(st, "Diagnostic-Code: ");
	assert_non_null(p);
	/* Each line of the field within 78; folded lines start with a space. */
	for (const char *l = p; l != NULL && (l == p || *l == ' ');) {
		const char *e = strstr(l, "\r\n");

		assert_true(e - l <= 78);
		l = e + 2;
		if (*l != ' ')
			break;
	}
	diag = field(m.parts[1].body, m.parts[1].body_len, "Diagnostic-Code");
	/* "smtp; 550 5.1.1 " + 1024 octets of text + "..." */
	assert_int_equal(strlen(diag), 16 + 1024 + 3);
	assert_string_equal(diag + strlen(diag) - 3, "...");
	free(diag);
	free(st);
	mime_free(&m);
	/* One 3000-octet word, no cut: broken within 998. */
	memset(text, 'x', 3000);
	text[3000] = '\0';
	o.max_diagnostic = 4000;
	assert_int_equal(build(&o, &m, NULL), 0); /* parse() checked 998 */
	diag = field(m.parts[1].body, m.parts[1].body_len, "Diagnostic-Code");
	assert_true(strlen(diag) >= 16 + 3000);
	free(diag);
	mime_free(&m);
	free(text);
}

static void test_null_sender_refused(void **state)
{
	tern_dsn_options o;
	tern_dsn_rcpt r;
	struct mime m;

	(void)state;
	failed_rcpt(&r);
	base_opts(&o, &r, 1);
	o.sender = "";
	assert_int_equal(build(&o, &m, NULL), TERN_DSN_SKIP_NULL_SENDER);
	assert_int_equal(m.len, 0);
	mime_free(&m);
	o.sender = NULL;
	assert_int_equal(build(&o, &m, NULL), TERN_DSN_SKIP_NULL_SENDER);
	assert_int_equal(m.len, 0);
	mime_free(&m);
}

static void test_not_wanted(void **state)
{
	tern_dsn_rcpt r[2];
	tern_dsn_options o;
	struct mime m;

	(void)state;
	failed_rcpt(&r[0]);
	failed_rcpt(&r[1]);
	r[0].notify = TERN_SMTP_NOTIFY_NEVER;
	r[1].notify = TERN_SMTP_NOTIFY_SUCCESS;
	base_opts(&o, r, 2);
	assert_int_equal(build(&o, &m, NULL), TERN_DSN_SKIP_NOT_WANTED);
	assert_int_equal(m.len, 0);
	mime_free(&m);
	/* One of them wanted: a report for that one alone. */
	r[1].notify = TERN_SMTP_NOTIFY_FAILURE;
	r[1].address = "c@example.net";
	assert_int_equal(build(&o, &m, NULL), 0);
	assert_null(strstr(m.out, "Final-Recipient: rfc822; b@example.net"));
	assert_non_null(strstr(m.out, "Final-Recipient: rfc822; c@example.net"));
	mime_free(&m);
}

/* RFC 3461 4.1 and the DELAY default (docs/dsn.md). */
static void test_wanted_table(void **state)
{
	enum { N = TERN_SMTP_NOTIFY_NEVER, S = TERN_SMTP_NOTIFY_SUCCESS,
	       F = TERN_SMTP_NOTIFY_FAILURE, D = TERN_SMTP_NOTIFY_DELAY };
	static const struct {
		unsigned notify;
		bool want[5]; /* failed, delayed, delivered, relayed, expanded */
	} cases[] = {
		{0, {true, true, false, false, false}},
		{N, {false, false, false, false, false}},
		{S, {false, false, true, true, true}},
		{F, {true, false, false, false, false}},
		{D, {false, true, false, false, false}},
		{S | F, {true, false, true, true, true}},
		{F | D, {true, true, false, false, false}},
		{S | F | D, {true, true, true, true, true}},
		{N | S | F | D, {false, false, false, false, false}}, /* NEVER wins */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int a = 0; a < 5; a++) {
			if (tern_dsn_wanted(cases[i].notify, (enum tern_dsn_action)a) !=
			    cases[i].want[a])
				print_error("notify %u action %d\n", cases[i].notify, a);
			assert_int_equal(tern_dsn_wanted(cases[i].notify, (enum tern_dsn_action)a),
					 cases[i].want[a]);
		}
	}
	assert_false(tern_dsn_wanted(F | S | D, (enum tern_dsn_action)7));
}

static void test_invalid(void **state)
{
	tern_dsn_options o;
	tern_dsn_rcpt r;
	struct mime m;
	struct tern__buf b;

	(void)state;
	tern__buf_init(&b, 0);
	failed_rcpt(&r);
	base_opts(&o, &r, 1);
	assert_int_equal(tern_dsn_build(NULL, capture, &b, NULL), TERN_EINVAL);
	assert_int_equal(tern_dsn_build(&o, NULL, &b, NULL), TERN_EINVAL);
#define EXPECT_EINVAL(stmt)                                                                        \
	do {                                                                                       \
		failed_rcpt(&r);                                                                   \
		base_opts(&o, &r, 1);                                                              \
		stmt;                                                                              \
		assert_int_equal(build(&o, &m, NULL), TERN_EINVAL);                                \
		assert_int_equal(m.len, 0);                                                        \
		mime_free(&m);                                                                     \
	} while (0)
	EXPECT_EINVAL(o.struct_size = 0);
	EXPECT_EINVAL(o.struct_size = 8);
	EXPECT_EINVAL(o.rcpt_struct_size = 4);
	EXPECT_EINVAL(o.reporting_mta = NULL);
	EXPECT_EINVAL(o.reporting_mta = "bad name");
	EXPECT_EINVAL(o.reporting_mta = "a@b");
	EXPECT_EINVAL(o.n_rcpts = 0);
	EXPECT_EINVAL(o.rcpts = NULL);
	EXPECT_EINVAL(o.sender = "no-at-sign");
	EXPECT_EINVAL(o.sender = "a b@example.org");
	EXPECT_EINVAL(o.sender = "a@example.org\r\nBcc: x@y");
	EXPECT_EINVAL(o.from = "x");
	EXPECT_EINVAL(o.message_id = "a b");
	EXPECT_EINVAL(o.message_id = "a@b");
	EXPECT_EINVAL(o.envid = "a\r\nb");
	EXPECT_EINVAL(o.envid = "0123456789012345678901234567890123456789012345678901234567890"
				"1234567890123456789012345678901234567890");
	EXPECT_EINVAL(r.address = NULL);
	EXPECT_EINVAL(r.address = "b@example.net>");
	EXPECT_EINVAL(r.action = (enum tern_dsn_action)9);
	EXPECT_EINVAL(r.status = "5.1");
	EXPECT_EINVAL(r.status = "6.1.1");
	EXPECT_EINVAL(r.status = "5.1.1000");
	EXPECT_EINVAL(r.orcpt = "x@y");
	EXPECT_EINVAL(r.orcpt_type = "rfc822");
	EXPECT_EINVAL((r.orcpt_type = "rfc 822", r.orcpt = "x@y"));
	EXPECT_EINVAL((r.orcpt_type = "rfc822", r.orcpt = "x\n@y"));
	EXPECT_EINVAL((r.orcpt_type = "rfc822", r.orcpt = "x\xff@y"));
	EXPECT_EINVAL(r.remote_mta = "mx\r\n");
	EXPECT_EINVAL(r.remote_mta = "mx\xff");
	EXPECT_EINVAL(o.reporting_mta = "b\xc3\xbc" "cher.example");
	/* Null sender wins over nothing but invalid options. */
	EXPECT_EINVAL((o.sender = "", o.reporting_mta = NULL));
	tern__buf_free(&b);
}

/* ABI: a caller compiled with a larger struct whose extra bytes are zero
 * works; with a nonzero extra byte it is refused. */
static void test_struct_sizes(void **state)
{
	struct {
		tern_dsn_options o;
		char extra[16];
	} big;
	struct {
		tern_dsn_rcpt r;
		char extra[8];
	} rbig[2];
	struct mime m;

	(void)state;
	memset(&big, 0, sizeof(big));
	memset(rbig, 0, sizeof(rbig));
	failed_rcpt(&rbig[0].r);
	failed_rcpt(&rbig[1].r);
	rbig[1].r.address = "c@example.net";
	base_opts(&big.o, &rbig[0].r, 2);
	tern_dsn_options_init_sized(&big.o, sizeof(big), sizeof(rbig[0]));
	big.o.reporting_mta = "mx.example.org";
	big.o.sender = "a@example.org";
	big.o.rcpts = &rbig[0].r;
	big.o.n_rcpts = 2;
	assert_int_equal(big.o.original.fd, -1);
	assert_int_equal(build(&big.o, &m, NULL), 0);
	/* The stride is the caller's: the second recipient is found. */
	assert_non_null(strstr(m.out, "Final-Recipient: rfc822; c@example.net"));
	mime_free(&m);
	big.extra[3] = 1;
	assert_int_equal(build(&big.o, &m, NULL), TERN_EINVAL);
	mime_free(&m);
	big.extra[3] = 0;
	rbig[1].extra[0] = 1;
	assert_int_equal(build(&big.o, &m, NULL), TERN_EINVAL);
	mime_free(&m);
	/* init with a size too small to hold the sizes does nothing. */
	tern_dsn_options_init_sized(&big.o, 4, 0);
	tern_dsn_options_init_sized(NULL, sizeof(big.o), sizeof(tern_dsn_rcpt));
}

static void test_no_original_and_ids(void **state)
{
	tern_dsn_options o;
	tern_dsn_rcpt r;
	struct mime m, m2;
	tern_dsn_info info;
	char *id1, *id2;

	(void)state;
	failed_rcpt(&r);
	base_opts(&o, &r, 1);
	o.original.data = NULL;
	o.original.len = 0;
	o.message_id = NULL;
	o.from = "postmaster@example.org";
	assert_int_equal(build(&o, &m, &info), 0);
	assert_int_equal(m.n, 2);
	assert_false(info.full || info.headers);
	assert_null(strstr(m.out, "attached"));
	assert_non_null(strstr(m.out, "From: \"Mail Delivery System\" <postmaster@example.org>\r\n"));
	assert_int_equal(build(&o, &m2, NULL), 0);
	/* Random Message-IDs and boundaries differ between reports. */
	id1 = field(m.hdr, m.hdr_len, "Message-ID");
	id2 = field(m2.hdr, m2.hdr_len, "Message-ID");
	assert_string_not_equal(id1, id2);
	assert_true(strlen(id1) == strlen("<@mx.example.org>") + 24);
	assert_string_not_equal(m.boundary, m2.boundary);
	free(id1);
	free(id2);
	mime_free(&m);
	mime_free(&m2);
}

static void test_rcpt_from_result(void **state)
{
	tern_delivery_result res = {
		.address = "b@example.net",
		.cls = TERN_SMTP_CLIENT_SUCCESS,
		.code = 250,
		.enhanced = "2.0.0",
		.text = "Ok: queued as 12345",
		.remote = true,
		.relay = "mx.example.net[192.0.2.1]:25",
		.tls = "",
		.relayed_without_dsn = true,
	};
	tern_dsn_rcpt r = {.notify = TERN_SMTP_NOTIFY_SUCCESS};
	tern_dsn_options o;
	struct mime m;
	char *st;

	(void)state;
	tern_dsn_rcpt_from_result(&r, &res);
	assert_int_equal(r.action, TERN_DSN_RELAYED);
	assert_int_equal(r.notify, TERN_SMTP_NOTIFY_SUCCESS);
	base_opts(&o, &r, 1);
	assert_int_equal(build(&o, &m, NULL), 0);
	st = part_body(&m.parts[1]);
	assert_non_null(strstr(st, "Action: relayed\r\nStatus: 2.0.0\r\n"
				   "Remote-MTA: dns; mx.example.net\r\n"
				   "Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as 12345\r\n"));
	free(st);
	mime_free(&m);
	/* The enhanced code is added unless the text starts with it whole. */
	res.text = "2.0.00 odd";
	tern_dsn_rcpt_from_result(&r, &res);
	assert_int_equal(build(&o, &m, NULL), 0);
	assert_non_null(strstr(m.out, "Diagnostic-Code: smtp; 250 2.0.0 2.0.00 odd\r\n"));
	mime_free(&m);
	res.text = "2.0.0";
	tern_dsn_rcpt_from_result(&r, &res);
	assert_int_equal(build(&o, &m, NULL), 0);
	assert_non_null(strstr(m.out, "Diagnostic-Code: smtp; 250 2.0.0\r\n"));
	mime_free(&m);
	res.relayed_without_dsn = false;
	tern_dsn_rcpt_from_result(&r, &res);
	assert_int_equal(r.action, TERN_DSN_DELIVERED);
	res.cls = TERN_SMTP_CLIENT_TEMPFAIL;
	tern_dsn_rcpt_from_result(&r, &res);
	assert_int_equal(r.action, TERN_DSN_DELAYED);
	res.cls = TERN_SMTP_CLIENT_PERMFAIL;
	res.remote = false;
	tern_dsn_rcpt_from_result(&r, &res);
	assert_int_equal(r.action, TERN_DSN_FAILED);
	assert_null(r.remote_mta);
	assert_false(r.diag_remote);
	tern_dsn_rcpt_from_result(NULL, &res);
}

static void test_remote_mta_forms(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"mx.example.net", "Remote-MTA: dns; mx.example.net\r\n"},
		{"mx.example.net:2525", "Remote-MTA: dns; mx.example.net\r\n"},
		{"mx.example.net[192.0.2.1]:25", "Remote-MTA: dns; mx.example.net\r\n"},
		{"[192.0.2.1]:25", "Remote-MTA: dns; [192.0.2.1]\r\n"},
		{"none", NULL},
		{"", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tern_dsn_options o;
		tern_dsn_rcpt r;
		struct mime m;
		char *st;

		failed_rcpt(&r);
		r.remote_mta = cases[i].in;
		base_opts(&o, &r, 1);
		assert_int_equal(build(&o, &m, NULL), 0);
		st = part_body(&m.parts[1]);
		if (cases[i].out != NULL)
			assert_non_null(strstr(st, cases[i].out));
		else
			assert_null(strstr(st, "Remote-MTA"));
		free(st);
		mime_free(&m);
	}
}

/* A test buffer as a C string (tern__buf keeps no NUL). */
static const char *cstr(struct tern__buf *b)
{
	assert_int_equal(tern__buf_append(b, "", 1), 0);
	b->len--;
	return tern__buf_ptr(b);
}

/* The formatting helpers on their own. */
static void test_format_helpers(void **state)
{
	struct tern__buf b;
	char date[64];

	(void)state;
	tern__dsn_date(0, date);
	assert_string_equal(date, "Thu, 01 Jan 1970 00:00:00 +0000");
	tern__dsn_date(NOW, date);
	assert_string_equal(date, "Mon, 24 Nov 2025 17:00:00 +0000");
	tern__buf_init(&b, 0);
	assert_int_equal(tern__dsn_sanitize(&b, "  a \r\n\tb  \x7f c ", 14, false, 0), 0);
	assert_string_equal(cstr(&b), "a b ? c");
	tern__buf_clear(&b);
	assert_int_equal(tern__dsn_sanitize(&b, "abc def", 7, false, 5), 0);
	assert_string_equal(cstr(&b), "abc d...");
	tern__buf_clear(&b);
	/* A cut never splits a UTF-8 sequence; C1 controls are replaced. */
	assert_int_equal(tern__dsn_sanitize(&b, "a\xc3\xa9\xc2\x85", 5, true, 2), 0);
	assert_string_equal(cstr(&b), "a...");
	tern__buf_clear(&b);
	assert_int_equal(tern__dsn_sanitize(&b, "a\xc3\xa9\xc2\x85", 5, true, 0), 0);
	assert_string_equal(cstr(&b), "a\xc3\xa9?");
	tern__buf_clear(&b);
	assert_int_equal(tern__dsn_utf8_addr(&b, "a+b=c\\d e\xe2\x82\xac\xf0\x9f\x98\x80", 16,
					     false, false), 0);
	assert_string_equal(cstr(&b),
			    "a\\x{2B}b\\x{3D}c\\x{5C}d\\x{20}e\\x{20AC}\\x{1F600}");
	tern__buf_clear(&b);
	assert_int_equal(tern__dsn_utf8_addr(&b, "a+b\xe2\x82\xac", 6, true, false), 0);
	assert_string_equal(cstr(&b), "a\\x{2B}b\xe2\x82\xac");
	tern__buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_exact),
		cmocka_unit_test(test_delayed),
		cmocka_unit_test(test_each_action),
		cmocka_unit_test(test_mixed_subject_and_order),
		cmocka_unit_test(test_ret),
		cmocka_unit_test(test_large_original_headers_only),
		cmocka_unit_test(test_header_limit_cut),
		cmocka_unit_test(test_header_section_shapes),
		cmocka_unit_test(test_no_bare_newlines),
		cmocka_unit_test(test_long_original_lines),
		cmocka_unit_test(test_sources_agree),
		cmocka_unit_test(test_io_errors),
		cmocka_unit_test(test_build_fd),
		cmocka_unit_test(test_envid_orcpt),
		cmocka_unit_test(test_utf8_global),
		cmocka_unit_test(test_8bitmime_original),
		cmocka_unit_test(test_long_diagnostic),
		cmocka_unit_test(test_null_sender_refused),
		cmocka_unit_test(test_not_wanted),
		cmocka_unit_test(test_wanted_table),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_struct_sizes),
		cmocka_unit_test(test_no_original_and_ids),
		cmocka_unit_test(test_rcpt_from_result),
		cmocka_unit_test(test_remote_mta_forms),
		cmocka_unit_test(test_format_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
