/* Transcript harness for the SMTP engine; see helper_session.h. Linked into
 * every unit test binary, so it defines no main and only hs_* symbols. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_session.h"

/* The case and mode being run, for failure messages. */
static const char *cur_case = "-";
static const char *cur_mode = "-";
static const char *cur_bug;

static void bytes_add(struct hs_bytes *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		assert_non_null(d);
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void bytes_str(struct hs_bytes *b, const char *s)
{
	bytes_add(b, s, strlen(s));
}

static void bytes_free(struct hs_bytes *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static void event(struct hs *h, const char *what, const char *arg)
{
	bytes_str(&h->events, what);
	if (arg) {
		bytes_str(&h->events, ":");
		bytes_str(&h->events, arg);
	}
	bytes_str(&h->events, " ");
}

/* ---- callbacks ---------------------------------------------------------- */

static int decide(struct hs *h, enum hs_cb cb, tern_smtp_session *s, tern_smtp_reply *reply_r)
{
	struct hs_decision d = h->fallback[cb];
	h->calls[cb]++;
	if (h->script_pos[cb] < h->script_len[cb])
		d = h->script[cb][h->script_pos[cb]++];
	if (d.decision != TERN_SMTP_PENDING) {
		*reply_r = d.reply;
		return d.decision;
	}
	if (d.resume_inside) {
		h->inside_resume_rc =
			tern_smtp_session_resume(s, d.resume_with ? &d.resume_reply : NULL);
		return TERN_SMTP_PENDING;
	}
	if (h->pending)
		fail_msg("[%s/%s] a second decision went pending while one was waiting", cur_case,
			 cur_mode);
	h->pending = true;
	h->pending_cb = cb;
	h->pending_d = d;
	return TERN_SMTP_PENDING;
}

static int cb_connect(tern_smtp_session *s, tern_smtp_reply *reply_r, void *ud)
{
	struct hs *h = ud;
	event(h, "connect", NULL);
	return decide(h, HS_CONNECT, s, reply_r);
}

static int cb_helo(tern_smtp_session *s, const char *name, tern_smtp_reply *reply_r, void *ud)
{
	struct hs *h = ud;
	event(h, "helo", name);
	return decide(h, HS_HELO, s, reply_r);
}

static int cb_mail(tern_smtp_session *s, const tern_smtp_mail *mail, tern_smtp_reply *reply_r,
		   void *ud)
{
	struct hs *h = ud;
	char tmp[1024];
	snprintf(tmp, sizeof(tmp), "<%s>", mail->address);
	event(h, "mail", tmp);
	h->last_mail = *mail;
	h->last_mail.address = NULL;
	h->last_mail.envid = NULL;
	h->last_envid_set = mail->envid != NULL;
	snprintf(h->last_envid, sizeof(h->last_envid), "%s", mail->envid ? mail->envid : "");
	if (h->hook_mail)
		h->hook_mail(h, s);
	return decide(h, HS_MAIL, s, reply_r);
}

static int cb_rcpt(tern_smtp_session *s, const tern_smtp_rcpt *rcpt, tern_smtp_reply *reply_r,
		   void *ud)
{
	struct hs *h = ud;
	char tmp[1024];
	snprintf(tmp, sizeof(tmp), "<%s>", rcpt->address);
	event(h, "rcpt", tmp);
	h->last_notify = rcpt->notify;
	h->last_orcpt_set = rcpt->orcpt != NULL;
	snprintf(h->last_orcpt, sizeof(h->last_orcpt), "%s", rcpt->orcpt ? rcpt->orcpt : "");
	snprintf(h->last_orcpt_type, sizeof(h->last_orcpt_type), "%s",
		 rcpt->orcpt_type ? rcpt->orcpt_type : "");
	if (h->hook_rcpt)
		h->hook_rcpt(h, s);
	return decide(h, HS_RCPT, s, reply_r);
}

static int cb_data_start(tern_smtp_session *s, tern_smtp_reply *reply_r, void *ud)
{
	struct hs *h = ud;
	event(h, "data_start", NULL);
	h->body.len = 0;
	if (h->body.data)
		h->body.data[0] = '\0';
	for (unsigned i = 0; i < h->n_add; i++)
		h->add_rc[i] = tern_smtp_session_add_header(s, h->add_name[i], h->add_value[i]);
	if (h->hook_data_start)
		h->hook_data_start(h, s);
	return decide(h, HS_DATA_START, s, reply_r);
}

static int cb_data_chunk(tern_smtp_session *s, const void *buf, size_t len,
			 tern_smtp_reply *reply_r, void *ud)
{
	struct hs *h = ud;
	h->chunks++;
	if (len == 0)
		fail_msg("[%s/%s] on_data_chunk with len 0", cur_case, cur_mode);
	bytes_add(&h->body, buf, len);
	if (h->hook_chunk)
		h->hook_chunk(h, s);
	return decide(h, HS_DATA_CHUNK, s, reply_r);
}

static int cb_data_end(tern_smtp_session *s, const tern_smtp_data_info *info,
		       tern_smtp_reply *reply_r, void *ud)
{
	struct hs *h = ud;
	event(h, "data_end", NULL);
	h->messages++;
	h->last_info = *info;
	h->last_body.len = 0;
	bytes_add(&h->last_body, h->body.data ? h->body.data : "", h->body.len);
	for (unsigned i = 0; i < h->n_rr; i++)
		h->rr_rc[i] = tern_smtp_session_set_rcpt_reply(s, h->rr_idx[i], &h->rr[i]);
	if (h->hook_data_end)
		h->hook_data_end(h, s);
	return decide(h, HS_DATA_END, s, reply_r);
}

static void cb_data_abort(tern_smtp_session *s, void *ud)
{
	struct hs *h = ud;
	(void)s;
	event(h, "abort", NULL);
	h->aborts++;
}

static int cb_vrfy(tern_smtp_session *s, const char *arg, tern_smtp_reply *reply_r, void *ud)
{
	struct hs *h = ud;
	event(h, "vrfy", arg);
	return decide(h, HS_VRFY, s, reply_r);
}

static void cb_reset(tern_smtp_session *s, void *ud)
{
	struct hs *h = ud;
	(void)s;
	event(h, "reset", NULL);
	h->resets++;
}

static void cb_close(tern_smtp_session *s, void *ud)
{
	struct hs *h = ud;
	(void)s;
	event(h, "close", NULL);
	h->closes++;
}

static void cb_log(tern_smtp_session *s, enum tern_smtp_log_level level, const char *msg,
		   void *ud)
{
	(void)ud;
	if (!msg)
		fail_msg("on_log with NULL msg");
	for (const char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			fail_msg("[%s/%s] control character in log line", cur_case, cur_mode);
	if (getenv("TERN_TEST_VERBOSE"))
		fprintf(stderr, "  log %d %s: %s\n", (int)level,
			s ? tern_smtp_session_id(s) : "-", msg);
}

static void io_wakeup(void *ctx)
{
	struct hs *h = ctx;
	h->wakeups++;
}

static long long io_now(void *ctx)
{
	struct hs *h = ctx;
	return h->now;
}

/* ---- lifecycle ---------------------------------------------------------- */

void hs_init(struct hs *h)
{
	memset(h, 0, sizeof(*h));
	tern_smtp_options_init(&h->opts);
	h->opts.name = "mx.test";
	h->now = HS_NOW;
	tern_smtp_callbacks *c = &h->opts.callbacks;
	c->on_connect = cb_connect;
	c->on_helo = cb_helo;
	c->on_mail_from = cb_mail;
	c->on_rcpt_to = cb_rcpt;
	c->on_data_start = cb_data_start;
	c->on_data_chunk = cb_data_chunk;
	c->on_data_end = cb_data_end;
	c->on_data_abort = cb_data_abort;
	c->on_vrfy = cb_vrfy;
	c->on_reset = cb_reset;
	c->on_close = cb_close;
	c->on_log = cb_log;
	h->opts.user_data = h;
}

void hs_open(struct hs *h)
{
	int rc = tern__smtp_config_init(&h->cfg, &h->opts);
	if (rc != 0)
		fail_msg("[%s/%s] tern__smtp_config_init: %d", cur_case, cur_mode, rc);
	h->cfg_ok = true;
	struct tern__smtp_conn_info conn = {
		.remote_address = h->remote ? h->remote : "192.0.2.1",
		.remote_port = 1234,
		.local_address = "192.0.2.2",
		.local_port = 25,
		.secure = h->secure,
		.tls_available = h->tls_available,
		.listener = h->listener,
	};
	struct tern__smtp_io io = {.wakeup = io_wakeup, .now = io_now, .io_ctx = h};
	rc = tern__smtp_session_new(&h->session, &h->cfg, &conn, HS_ID, &io);
	if (rc != 0)
		fail_msg("[%s/%s] tern__smtp_session_new: %d", cur_case, cur_mode, rc);
	assert_non_null(h->session);
}

void hs_collect(struct hs *h)
{
	const void *buf;
	size_t len;
	if (!h->session)
		return;
	tern__smtp_session_output(h->session, &buf, &len);
	bytes_add(&h->out, buf, len);
	if (len)
		tern__smtp_session_output_consumed(h->session, len);
}

void hs_start(struct hs *h)
{
	tern__smtp_session_start(h->session);
	hs_collect(h);
}

static void resume_one(struct hs *h)
{
	struct hs_decision d = h->pending_d;
	h->pending = false;
	int rc = tern_smtp_session_resume(h->session, d.resume_with ? &d.resume_reply : NULL);
	if (rc != 0)
		fail_msg("[%s/%s] tern_smtp_session_resume: %d", cur_case, cur_mode, rc);
	hs_collect(h);
}

void hs_resume_all(struct hs *h)
{
	for (unsigned i = 0; h->pending && i < 10000; i++)
		resume_one(h);
	if (h->pending)
		fail_msg("[%s/%s] decisions never stop going pending", cur_case, cur_mode);
}

size_t hs_feed(struct hs *h, const void *in, size_t len, size_t step, bool eager)
{
	const char *p = in;
	size_t off = 0;
	unsigned stuck = 0;
	while (off < len) {
		size_t n = step && step < len - off ? step : len - off;
		ssize_t r = tern__smtp_session_feed(h->session, p + off, n);
		hs_collect(h);
		/* A client that waits for DATA's 354 before the text, as RFC
		 * 2920 3.1 wants: the harness plays the net layer and says no
		 * octet was held back (test_smtp_data has the other case). */
		if (tern__smtp_session_want_barrier(h->session))
			tern__smtp_session_barrier(h->session, false);
		if (r == TERN_ECLOSED) {
			h->closed_by_feed = true;
			h->dropped += len - off;
			break;
		}
		if (r < 0 || (size_t)r > n)
			fail_msg("[%s/%s] feed returned %zd for %zu octets", cur_case, cur_mode, r, n);
		off += (size_t)r;
		if ((size_t)r < n) {
			h->partial_feeds++;
			if (h->pending) {
				resume_one(h);
				stuck = 0;
				continue;
			}
			/* Output backpressure: collected above, so retry; only
			 * a run of feeds that take nothing is a hang. */
			stuck = r > 0 ? 0 : stuck + 1;
			if (stuck > 4) {
				hs_dump(h, "stuck");
				fail_msg("[%s/%s] engine takes no input (at %zu of %zu) and nothing "
					 "is pending",
					 cur_case, cur_mode, off, len);
			}
			continue;
		}
		stuck = 0;
		if (eager)
			hs_resume_all(h);
	}
	return off;
}

size_t hs_feed_str(struct hs *h, const char *in)
{
	return hs_feed(h, in, strlen(in), 0, false);
}

void hs_free(struct hs *h)
{
	if (h->session) {
		unsigned before = h->closes;
		tern__smtp_session_free(&h->session);
		assert_null(h->session);
		if (h->closes != before + 1)
			fail_msg("[%s/%s] on_close called %u times at free", cur_case, cur_mode,
				 h->closes - before);
	}
	if (h->cfg_ok)
		tern__smtp_config_free(&h->cfg);
	h->cfg_ok = false;
	bytes_free(&h->out);
	bytes_free(&h->events);
	bytes_free(&h->body);
	bytes_free(&h->last_body);
}

void hs_push(struct hs *h, enum hs_cb cb, struct hs_decision d)
{
	assert_true(h->script_len[cb] < HS_MAX_SCRIPT);
	h->script[cb][h->script_len[cb]++] = d;
}

void hs_push_accept(struct hs *h, enum hs_cb cb)
{
	hs_push(h, cb, (struct hs_decision){.decision = TERN_SMTP_ACCEPT});
}

void hs_push_reject(struct hs *h, enum hs_cb cb, int code, const char *enhanced, const char *text)
{
	hs_push(h, cb,
		(struct hs_decision){.decision = TERN_SMTP_REJECT,
				     .reply = {code, enhanced, text}});
}

void hs_push_pending(struct hs *h, enum hs_cb cb)
{
	hs_push(h, cb, (struct hs_decision){.decision = TERN_SMTP_PENDING});
}

/* ---- assertions --------------------------------------------------------- */

static void print_escaped(FILE *f, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\n')
			fputs("\\n\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

void hs_dump(const struct hs *h, const char *what)
{
	fprintf(stderr, "---- [%s/%s] %s%s%s\n", cur_case, cur_mode, what,
		cur_bug ? " -- KNOWN ENGINE BUG: " : "", cur_bug ? cur_bug : "");
	fprintf(stderr, "transcript:\n");
	print_escaped(stderr, h->out.data ? h->out.data : "", h->out.len);
	fprintf(stderr, "\nevents: %s\n", h->events.data ? h->events.data : "");
	fprintf(stderr, "body (%zu):\n", h->last_body.len);
	print_escaped(stderr, h->last_body.data ? h->last_body.data : "", h->last_body.len);
	fprintf(stderr, "\n----\n");
}

/* Splits h->out into lines; returns the count and fills lines/lens. */
static size_t split_lines(const struct hs *h, const char **lines, size_t *lens, size_t max,
			  bool *bad_r)
{
	size_t n = 0, start = 0;
	*bad_r = false;
	const char *o = h->out.data ? h->out.data : "";
	for (size_t i = 0; i < h->out.len; i++) {
		if (o[i] == '\n') {
			if (i == start || o[i - 1] != '\r') {
				*bad_r = true;
				continue;
			}
			if (memchr(o + start, '\r', i - 1 - start))
				*bad_r = true;
			if (n < max) {
				lines[n] = o + start;
				lens[n] = i - 1 - start;
			}
			n++;
			start = i + 1;
		}
	}
	if (start != h->out.len)
		*bad_r = true; /* a reply without its CRLF */
	return n;
}

static bool line_matches(const char *line, size_t len, const char *want)
{
	if (want[0] == '=') {
		want++;
		return strlen(want) == len && memcmp(line, want, len) == 0;
	}
	size_t wl = strlen(want);
	return wl <= len && memcmp(line, want, wl) == 0;
}

#define MAX_LINES 4096

void hs_expect(struct hs *h, const char *const *expect, bool skip_greeting, const char *what)
{
	static const char *lines[MAX_LINES];
	static size_t lens[MAX_LINES];
	bool bad;
	size_t n = split_lines(h, lines, lens, MAX_LINES, &bad);
	if (bad) {
		hs_dump(h, what);
		fail_msg("[%s/%s] %s: output is not made of CRLF-terminated lines", cur_case,
			 cur_mode, what);
	}
	if (n > MAX_LINES)
		n = MAX_LINES;
	size_t first = 0;
	if (skip_greeting) {
		const char *want = h->opts.lmtp ? "220 mx.test LMTP" : "220 mx.test ESMTP";
		if (n == 0 || !line_matches(lines[0], lens[0], want)) {
			hs_dump(h, what);
			fail_msg("[%s/%s] %s: no greeting", cur_case, cur_mode, what);
		}
		first = 1;
	}
	size_t want_n = 0;
	while (expect && expect[want_n])
		want_n++;
	for (size_t i = 0; i < want_n || first + i < n; i++) {
		bool have = first + i < n;
		if (i >= want_n || !have || !line_matches(lines[first + i], lens[first + i], expect[i])) {
			hs_dump(h, what);
			if (!have)
				fail_msg("[%s/%s] %s: line %zu missing, wanted \"%s\"%s%s", cur_case,
					 cur_mode, what, i + 1, expect[i],
					 cur_bug ? " -- KNOWN ENGINE BUG: " : "", cur_bug ? cur_bug : "");
			if (i >= want_n)
				fail_msg("[%s/%s] %s: unexpected line %zu \"%.*s\"%s%s", cur_case,
					 cur_mode, what, i + 1, (int)lens[first + i], lines[first + i],
					 cur_bug ? " -- KNOWN ENGINE BUG: " : "", cur_bug ? cur_bug : "");
			fail_msg("[%s/%s] %s: line %zu is \"%.*s\", wanted \"%s\"%s%s", cur_case,
				 cur_mode, what, i + 1, (int)lens[first + i], lines[first + i],
				 expect[i], cur_bug ? " -- KNOWN ENGINE BUG: " : "",
				 cur_bug ? cur_bug : "");
		}
	}
}

unsigned hs_count(const struct hs *h, const char *prefix)
{
	unsigned c = 0;
	const char *o = h->out.data ? h->out.data : "";
	size_t start = 0;
	for (size_t i = 0; i < h->out.len; i++) {
		if (o[i] != '\n')
			continue;
		size_t len = i - start;
		if (len > 0 && o[i - 1] == '\r')
			len--;
		if (line_matches(o + start, len, prefix))
			c++;
		start = i + 1;
	}
	return c;
}

bool hs_events_has(const struct hs *h, const char *needle)
{
	return h->events.data && strstr(h->events.data, needle) != NULL;
}

/* ---- table cases -------------------------------------------------------- */

struct mode {
	const char *name;
	size_t step;
	bool eager;
};

static const struct mode modes[] = {
	{"whole", 0, false},
	{"bytewise", 1, false},
	{"slices3-eager", 3, true},
};

static void check_count(const char *what, int want, unsigned have)
{
	if (want == HS_ANY || (unsigned)want == have)
		return;
	fail_msg("[%s/%s] %s: %u, wanted %d%s%s", cur_case, cur_mode, what, have, want,
		 cur_bug ? " -- KNOWN ENGINE BUG: " : "", cur_bug ? cur_bug : "");
}

void hs_run_case(const struct hs_case *c)
{
	struct hs_bytes ref_out = {0}, ref_body = {0};
	size_t in_len = c->in ? (c->in_len ? c->in_len : strlen(c->in)) : 0;
	cur_case = c->name;
	cur_bug = c->bug;
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct hs *h = calloc(1, sizeof(*h));
		assert_non_null(h);
		cur_mode = modes[m].name;
		hs_init(h);
		if (c->setup)
			c->setup(h);
		hs_open(h);
		if (c->busy)
			tern__smtp_session_start_busy(h->session);
		else if (!c->no_start)
			tern__smtp_session_start(h->session);
		hs_collect(h);
		/* A pending on_connect is resumed before the client talks. */
		if (!c->no_start)
			hs_resume_all(h);
		hs_feed(h, c->in ? c->in : "", in_len, modes[m].step, modes[m].eager);
		hs_resume_all(h);
		hs_expect(h, c->expect, !c->raw, "transcript");
		bool wc = tern__smtp_session_want_close(h->session);
		if (c->close != HS_ANY && wc != (c->close == 1)) {
			hs_dump(h, "want_close");
			fail_msg("[%s/%s] want_close is %d, wanted %d%s%s", cur_case, cur_mode, wc,
				 c->close == 1, cur_bug ? " -- KNOWN ENGINE BUG: " : "",
				 cur_bug ? cur_bug : "");
		}
		if (c->messages != HS_ANY && (unsigned)c->messages != h->messages)
			hs_dump(h, "messages");
		check_count("messages (on_data_end calls)", c->messages, h->messages);
		if (c->aborts != HS_ANY && (unsigned)c->aborts != h->aborts)
			hs_dump(h, "aborts");
		check_count("on_data_abort calls", c->aborts, h->aborts);
		if (c->body) {
			size_t bl = c->body_len ? c->body_len : strlen(c->body);
			if (h->last_body.len != bl ||
			    memcmp(h->last_body.data ? h->last_body.data : "", c->body, bl) != 0) {
				hs_dump(h, "body");
				fprintf(stderr, "wanted body (%zu):\n", bl);
				print_escaped(stderr, c->body, bl);
				fputc('\n', stderr);
				fail_msg("[%s/%s] delivered body differs%s%s", cur_case, cur_mode,
					 cur_bug ? " -- KNOWN ENGINE BUG: " : "", cur_bug ? cur_bug : "");
			}
		}
		if (c->check)
			c->check(h);
		/* Every mode must say exactly the same. */
		if (m == 0) {
			bytes_add(&ref_out, h->out.data ? h->out.data : "", h->out.len);
			bytes_add(&ref_body, h->last_body.data ? h->last_body.data : "",
				  h->last_body.len);
		} else if (ref_out.len != h->out.len ||
			   memcmp(ref_out.data ? ref_out.data : "", h->out.data ? h->out.data : "",
				  h->out.len) != 0 ||
			   ref_body.len != h->last_body.len ||
			   memcmp(ref_body.data ? ref_body.data : "",
				  h->last_body.data ? h->last_body.data : "", h->last_body.len) != 0) {
			hs_dump(h, "differs from the whole-input run");
			fail_msg("[%s/%s] output or body differs from the whole-input run", cur_case,
				 cur_mode);
		}
		hs_free(h);
		free(h);
	}
	bytes_free(&ref_out);
	bytes_free(&ref_body);
	cur_case = cur_mode = "-";
	cur_bug = NULL;
}

void hs_case_test(void **state)
{
	hs_run_case(*state);
}

int hs_run_group(const char *group, const struct hs_case *cases, size_t n)
{
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	assert_non_null(tests);
	for (size_t i = 0; i < n; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = hs_case_test;
		tests[i].initial_state = (void *)&cases[i];
	}
	int r = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
	free(tests);
	return r;
}
