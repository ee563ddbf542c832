/* The embedding API's contract (include/tern/smtp.h): the versioned options
 * struct, callbacks that answer something other than the three decisions,
 * tern_smtp_session_close() from inside callbacks, and session references
 * kept past the close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_session.h"

/* ---- 4. options ABI ---------------------------------------------------- */

/* The first released layout ends with log_level (include/tern/smtp.h). */
#define V1_SIZE (offsetof(tern_smtp_options, log_level) + sizeof(((tern_smtp_options *)0)->log_level))

static void test_options_init_sets_size(void **state)
{
	(void)state;
	tern_smtp_options o;

	memset(&o, 0x5a, sizeof(o));
	tern_smtp_options_init(&o);
	assert_int_equal(o.struct_size, sizeof(o));
	assert_int_equal(o.size, 25u * 1024 * 1024);
	assert_int_equal(o.max_line_length, 2048);
	assert_int_equal(o.log_level, TERN_LOG_INFO);
	assert_null(o.callbacks.on_connect);
	assert_null(o.user_data);
	for (size_t i = 0; i < sizeof(o.callbacks.reserved) / sizeof(o.callbacks.reserved[0]); i++)
		assert_null(o.callbacks.reserved[i]);
}

/* Never initialised (struct_size 0) or smaller than the first layout. */
static void test_options_size_too_small(void **state)
{
	(void)state;
	tern_smtp_options o;
	tern_smtp_server *srv = (tern_smtp_server *)&o;

	memset(&o, 0, sizeof(o));
	o.name = "mx.test";
	assert_int_equal(tern_smtp_server_new(&srv, &o), TERN_EINVAL);
	assert_null(srv);

	tern_smtp_options_init(&o);
	o.name = "mx.test";
	o.struct_size = V1_SIZE - 1;
	assert_int_equal(tern_smtp_server_new(&srv, &o), TERN_EINVAL);
	o.struct_size = sizeof(size_t);
	assert_int_equal(tern_smtp_server_new(&srv, &o), TERN_EINVAL);
	o.struct_size = sizeof(o);
	assert_int_equal(tern_smtp_server_new(&srv, &o), 0);
	tern_smtp_server_destroy(&srv);
	assert_null(srv);
}

/* A program compiled against the first layout: its struct is only V1_SIZE
 * bytes (a heap block of exactly that size, so ASan and valgrind catch any
 * read past it), and every field it does not know takes its default. */
static void test_options_older_caller_gets_defaults(void **state)
{
	(void)state;
	tern_smtp_options def;
	tern_smtp_options_init(&def);

	/* What the old program's tern_smtp_options_init() and assignments
	 * leave in its V1_SIZE bytes (set in a full struct: writing fields
	 * through a pointer to the short block would be out of bounds). */
	tern_smtp_options set;
	memset(&set, 0, sizeof(set));
	tern_smtp_options_init_sized(&set, V1_SIZE);
	assert_int_equal(set.struct_size, V1_SIZE);
	set.name = "mx.test";
	set.size = 1234;
	set.log_level = TERN_LOG_DEBUG;
	unsigned char *block = malloc(V1_SIZE);
	assert_non_null(block);
	tern_smtp_options_init_sized((tern_smtp_options *)block, V1_SIZE);
	/* init on the short block itself writes the defaults, and no more. */
	assert_memory_equal(block + sizeof(size_t), (const char *)&def + sizeof(size_t),
			    V1_SIZE - sizeof(size_t));
	memcpy(block, &set, V1_SIZE);
	const tern_smtp_options *old = (const tern_smtp_options *)block;

	tern_smtp_server *srv = NULL;
	assert_int_equal(tern_smtp_server_new(&srv, old), 0);
	tern_smtp_server_destroy(&srv);

	struct tern__smtp_config cfg;
	assert_int_equal(tern__smtp_config_init(&cfg, old), 0);
	assert_string_equal(cfg.opts.name, "mx.test");
	assert_int_equal(cfg.opts.size, 1234);
	assert_int_equal(cfg.opts.log_level, TERN_LOG_DEBUG);
	assert_int_equal(cfg.opts.struct_size, sizeof(tern_smtp_options));
	/* Every field appended after the first layout: the defaults. */
	assert_memory_equal((const char *)&cfg.opts + V1_SIZE, (const char *)&def + V1_SIZE,
			    sizeof(def) - V1_SIZE);
	tern__smtp_config_free(&cfg);
	free(block);

	/* The same with a full-size struct whose tail is garbage: bytes past
	 * struct_size are never read. */
	tern_smtp_options o;
	tern_smtp_options_init(&o);
	o.name = "mx.test";
	memset((char *)&o + V1_SIZE, 0xa5, sizeof(o) - V1_SIZE);
	o.struct_size = V1_SIZE;
	assert_int_equal(tern__smtp_config_init(&cfg, &o), 0);
	assert_memory_equal((const char *)&cfg.opts + V1_SIZE, (const char *)&def + V1_SIZE,
			    sizeof(def) - V1_SIZE);
	tern__smtp_config_free(&cfg);
}

/* A program compiled against a newer, larger layout: fields this library
 * does not know are fine while unset (zero), refused once set. */
static void test_options_newer_caller(void **state)
{
	(void)state;
	size_t big = sizeof(tern_smtp_options) + 64;
	unsigned char *mem = malloc(big);
	assert_non_null(mem);
	memset(mem, 0x77, big);
	tern_smtp_options *o = (tern_smtp_options *)mem;

	tern_smtp_options_init_sized(o, big);
	assert_int_equal(o->struct_size, big);
	for (size_t i = sizeof(tern_smtp_options); i < big; i++)
		assert_int_equal(mem[i], 0);
	o->name = "mx.test";
	tern_smtp_server *srv = NULL;
	assert_int_equal(tern_smtp_server_new(&srv, o), 0);
	tern_smtp_server_destroy(&srv);

	mem[big - 1] = 1;
	assert_int_equal(tern_smtp_server_new(&srv, o), TERN_EINVAL);
	assert_null(srv);
	free(mem);

	/* NULL and a size that cannot even hold struct_size are ignored. */
	tern_smtp_options_init_sized(NULL, sizeof(tern_smtp_options));
	tern_smtp_options small;
	memset(&small, 0, sizeof(small));
	tern_smtp_options_init_sized(&small, 1);
	assert_int_equal(small.struct_size, 0);
}

/* ---- 1. decisions other than ACCEPT, REJECT, PENDING fail closed ------- */

#define L HS_LINES
#define MAIL_OK "MAIL FROM:<a@b.example>\r\n"
#define RCPT_OK "RCPT TO:<c@d.example>\r\n"
#define TX HS_EHLO MAIL_OK RCPT_OK
#define TX_REPLY HS_EHLO_REPLY, "250 2.1.0", "250 2.1.5"
#define MSG "DATA\r\nSubject: t\r\n\r\nbody\r\n.\r\n"

/* Error-level log lines that name the bad value. */
static unsigned bad_logs;

static void count_log(tern_smtp_session *s, enum tern_smtp_log_level level, const char *msg,
		      void *ud)
{
	(void)s;
	(void)ud;
	if (level == TERN_LOG_ERROR && strstr(msg, "invalid"))
		bad_logs++;
}

static void logs(struct hs *h)
{
	bad_logs = 0;
	h->opts.callbacks.on_log = count_log;
}

static void logged(struct hs *h)
{
	(void)h;
	if (bad_logs == 0)
		fail_msg("the invalid value was not logged at error level");
}

static void bad(struct hs *h, enum hs_cb cb, int value)
{
	logs(h);
	hs_push(h, cb, (struct hs_decision){.decision = value});
}

static void bad_connect(struct hs *h) { bad(h, HS_CONNECT, 7); }
static void bad_connect_neg(struct hs *h) { bad(h, HS_CONNECT, -1); }
static void bad_helo(struct hs *h) { bad(h, HS_HELO, 3); }
static void bad_mail(struct hs *h) { bad(h, HS_MAIL, -1); }
static void bad_rcpt(struct hs *h) { bad(h, HS_RCPT, 1000); }
static void bad_data_start(struct hs *h) { bad(h, HS_DATA_START, 42); }
static void bad_chunk(struct hs *h) { bad(h, HS_DATA_CHUNK, 9); }
static void bad_data_end(struct hs *h) { bad(h, HS_DATA_END, 9); }
static void bad_vrfy(struct hs *h) { bad(h, HS_VRFY, 5); }

/* LMTP: per-recipient 250s set from on_data_end do not turn a bad decision
 * into a delivery. */
static void bad_data_end_lmtp(struct hs *h)
{
	bad(h, HS_DATA_END, 9);
	h->opts.lmtp = true;
	h->rr_idx[0] = 0;
	h->rr[0] = (tern_smtp_reply){250, NULL, "ok"};
	h->rr_idx[1] = 1;
	h->rr[1] = (tern_smtp_reply){0, NULL, NULL};
	h->n_rr = 2;
}

/* A reply code outside 2xx-5xx is no clearer than a bad decision value. */
static void bad_code_accept(struct hs *h)
{
	logs(h);
	hs_push(h, HS_MAIL, (struct hs_decision){.decision = TERN_SMTP_ACCEPT, .reply = {600, NULL, NULL}});
}

static void bad_code_reject(struct hs *h)
{
	logs(h);
	hs_push(h, HS_RCPT, (struct hs_decision){.decision = TERN_SMTP_REJECT, .reply = {-550, NULL, NULL}});
}

/* Resume paths: later, from inside the callback, and for on_connect. */
static void bad_resume(struct hs *h)
{
	logs(h);
	hs_push(h, HS_MAIL, (struct hs_decision){.decision = TERN_SMTP_PENDING, .resume_with = true,
						 .resume_reply = {999, NULL, "x"}});
}

static void bad_resume_inside(struct hs *h)
{
	logs(h);
	hs_push(h, HS_RCPT, (struct hs_decision){.decision = TERN_SMTP_PENDING, .resume_inside = true,
						 .resume_with = true, .resume_reply = {100, NULL, NULL}});
}

static void bad_resume_connect(struct hs *h)
{
	logs(h);
	hs_push(h, HS_CONNECT, (struct hs_decision){.decision = TERN_SMTP_PENDING,
						    .resume_with = true, .resume_reply = {999, NULL, NULL}});
}

static void bad_resume_data_end(struct hs *h)
{
	logs(h);
	hs_push(h, HS_DATA_END, (struct hs_decision){.decision = TERN_SMTP_PENDING,
						     .resume_with = true, .resume_reply = {1, NULL, NULL}});
}

static void bad_resume_chunk(struct hs *h)
{
	logs(h);
	hs_push(h, HS_DATA_CHUNK, (struct hs_decision){.decision = TERN_SMTP_PENDING,
						       .resume_with = true, .resume_reply = {700, NULL, NULL}});
}

/* A paused chunk resumed with a refusal refuses the message; it used to be
 * taken as "go on". */
static void reject_resume_chunk(struct hs *h)
{
	hs_push(h, HS_DATA_CHUNK,
		(struct hs_decision){.decision = TERN_SMTP_PENDING, .resume_with = true,
				     .resume_reply = {554, NULL, "Virus found"}});
}

static void rcpt_reply_code_checked(struct hs *h)
{
	h->opts.lmtp = true;
	h->rr_idx[0] = 0;
	h->rr[0] = (tern_smtp_reply){300, NULL, "what"};
	h->rr_idx[1] = 0;
	h->rr[1] = (tern_smtp_reply){600, NULL, "what"};
	h->n_rr = 2;
}

static void rcpt_reply_refused(struct hs *h)
{
	assert_int_equal(h->rr_rc[0], TERN_EINVAL);
	assert_int_equal(h->rr_rc[1], TERN_EINVAL);
}

static const struct hs_case fail_closed_cases[] = {
	/* RFC 5321 3.1 and 4.3.2: at connection time only 220, 554 and (any
	 * time) 421 are replies; a 451 is no greeting. */
	{.name = "on_connect bad value: 421 4.3.0 and close", .setup = bad_connect, .raw = true,
	 .in = "EHLO x\r\n", .expect = L("=421 4.3.0 mx.test Service not available, closing"),
	 .close = 1, .check = logged},
	{.name = "on_connect -1: 421 4.3.0 and close", .setup = bad_connect_neg, .raw = true,
	 .expect = L("421 4.3.0"), .close = 1, .check = logged},
	{.name = "on_connect resumed with code 999: 421", .setup = bad_resume_connect, .raw = true,
	 .expect = L("421 4.3.0"), .close = 1, .check = logged},
	{.name = "on_helo bad value: 451", .setup = bad_helo, .in = HS_EHLO MAIL_OK,
	 .expect = L("451 4.3.0", "503 5.5.1"), .check = logged},
	{.name = "on_mail_from bad value: 451", .setup = bad_mail, .in = HS_EHLO MAIL_OK,
	 .expect = L(HS_EHLO_REPLY, "451 4.3.0"), .check = logged},
	{.name = "on_rcpt_to bad value: 451", .setup = bad_rcpt, .in = TX,
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "451 4.3.0"), .check = logged},
	{.name = "on_data_start bad value: 451", .setup = bad_data_start, .in = TX "DATA\r\n",
	 .expect = L(TX_REPLY, "451 4.3.0"), .check = logged},
	{.name = "on_data_start bad value, BDAT: 451", .setup = bad_data_start,
	 .in = TX "BDAT 4 LAST\r\nabcd",
	 .expect = L(TX_REPLY, "451 4.3.0"), .check = logged},
	{.name = "on_data_chunk bad value: 451", .setup = bad_chunk, .in = TX MSG,
	 .expect = L(TX_REPLY, "354", "451 4.3.0"), .aborts = 1, .check = logged},
	{.name = "on_data_end bad value: 451", .setup = bad_data_end, .in = TX MSG,
	 .expect = L(TX_REPLY, "354", "451 4.3.0"), .messages = 1, .check = logged},
	{.name = "on_data_end bad value, LMTP with 250 per recipient: 451 each",
	 .setup = bad_data_end_lmtp,
	 .in = "LHLO x\r\n" MAIL_OK RCPT_OK "RCPT TO:<e@f.example>\r\n" MSG,
	 .expect = L("250-", "250-", "250-", "250-", "250-", "250-", "250-", "250-", "250 ",
		     "250 2.1.0", "250 2.1.5", "250 2.1.5", "354", "=451 4.3.0 Local error in "
		     "processing, try again later", "451 4.3.0"),
	 .messages = 1, .check = logged},
	{.name = "on_vrfy bad value: 451", .setup = bad_vrfy, .in = "VRFY bob\r\n",
	 .expect = L("451 4.3.0"), .check = logged},
	{.name = "ACCEPT with reply code 600: 451", .setup = bad_code_accept, .in = HS_EHLO MAIL_OK,
	 .expect = L(HS_EHLO_REPLY, "451 4.3.0"), .check = logged},
	{.name = "REJECT with reply code -550: 451", .setup = bad_code_reject, .in = TX,
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "451 4.3.0"), .check = logged},
	{.name = "resume with code 999: 451", .setup = bad_resume, .in = HS_EHLO MAIL_OK,
	 .expect = L(HS_EHLO_REPLY, "451 4.3.0"), .check = logged},
	{.name = "resume from inside with code 100: 451", .setup = bad_resume_inside, .in = TX,
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0", "451 4.3.0"), .check = logged},
	{.name = "on_data_end resumed with code 1: 451", .setup = bad_resume_data_end,
	 .in = TX MSG, .expect = L(TX_REPLY, "354", "451 4.3.0"), .messages = 1,
	 .check = logged},
	{.name = "paused chunk resumed with code 700: 451", .setup = bad_resume_chunk,
	 .in = TX MSG, .expect = L(TX_REPLY, "354", "451 4.3.0"), .aborts = 1,
	 .check = logged},
	{.name = "paused chunk resumed with a refusal: refused", .setup = reject_resume_chunk,
	 .in = TX MSG, .expect = L(TX_REPLY, "354", "=554 5.3.0 Virus found"), .aborts = 1},
	{.name = "set_rcpt_reply refuses codes outside 2xx-5xx", .setup = rcpt_reply_code_checked,
	 .in = "LHLO x\r\n" MAIL_OK RCPT_OK MSG,
	 .expect = L("250-", "250-", "250-", "250-", "250-", "250-", "250-", "250-", "250 ",
		     "250 2.1.0", "250 2.1.5", "354", "250 2.6.0"),
	 .messages = 1, .check = rcpt_reply_refused},
};

/* ---- 2. tern_smtp_session_close() from inside every callback ------------ */

/* The harness's callbacks, wrapped: each wrapper notes the call, runs the
 * harness's own, and in the chosen callback closes the session. After the
 * close, only on_data_abort (once) and on_close may run. */
static tern_smtp_callbacks hs_cbs;
static struct closer {
	enum hs_cb at;
	bool closed;
	unsigned after;       /* calls of other callbacks after the close */
	char after_names[256];
	unsigned aborts_after, closes_after;
	int resume_rc, add_header_rc;
	bool feed_closed;     /* a feed after the close says TERN_ECLOSED */
} closer;

static void note(const char *name)
{
	if (!closer.closed)
		return;
	if (strcmp(name, "abort") == 0) {
		closer.aborts_after++;
		return;
	}
	if (strcmp(name, "close") == 0) {
		closer.closes_after++;
		return;
	}
	closer.after++;
	size_t n = strlen(closer.after_names);
	snprintf(closer.after_names + n, sizeof(closer.after_names) - n, "%s ", name);
}

static void maybe_close(tern_smtp_session *s, enum hs_cb cb)
{
	if (cb != closer.at || closer.closed)
		return;
	closer.closed = true;
	tern_smtp_session_close(s);
	/* Still inside the callback: the session is closed for the API. */
	closer.resume_rc = tern_smtp_session_resume(s, NULL);
	closer.add_header_rc = tern_smtp_session_add_header(s, "X-After", "close");
}

static int w_connect(tern_smtp_session *s, tern_smtp_reply *r, void *ud)
{
	note("connect");
	int d = hs_cbs.on_connect(s, r, ud);
	maybe_close(s, HS_CONNECT);
	return d;
}

static int w_helo(tern_smtp_session *s, const char *name, tern_smtp_reply *r, void *ud)
{
	note("helo");
	int d = hs_cbs.on_helo(s, name, r, ud);
	maybe_close(s, HS_HELO);
	return d;
}

static int w_mail(tern_smtp_session *s, const tern_smtp_mail *m, tern_smtp_reply *r, void *ud)
{
	note("mail");
	int d = hs_cbs.on_mail_from(s, m, r, ud);
	maybe_close(s, HS_MAIL);
	return d;
}

static int w_rcpt(tern_smtp_session *s, const tern_smtp_rcpt *rc, tern_smtp_reply *r, void *ud)
{
	note("rcpt");
	int d = hs_cbs.on_rcpt_to(s, rc, r, ud);
	maybe_close(s, HS_RCPT);
	return d;
}

static int w_data_start(tern_smtp_session *s, tern_smtp_reply *r, void *ud)
{
	note("data_start");
	int d = hs_cbs.on_data_start(s, r, ud);
	maybe_close(s, HS_DATA_START);
	return d;
}

static int w_chunk(tern_smtp_session *s, const void *buf, size_t len, tern_smtp_reply *r,
		   void *ud)
{
	note("chunk");
	int d = hs_cbs.on_data_chunk(s, buf, len, r, ud);
	maybe_close(s, HS_DATA_CHUNK);
	return d;
}

static int w_data_end(tern_smtp_session *s, const tern_smtp_data_info *info, tern_smtp_reply *r,
		      void *ud)
{
	note("data_end");
	int d = hs_cbs.on_data_end(s, info, r, ud);
	maybe_close(s, HS_DATA_END);
	return d;
}

static int w_vrfy(tern_smtp_session *s, const char *arg, tern_smtp_reply *r, void *ud)
{
	note("vrfy");
	int d = hs_cbs.on_vrfy(s, arg, r, ud);
	maybe_close(s, HS_VRFY);
	return d;
}

static void w_abort(tern_smtp_session *s, void *ud)
{
	note("abort");
	hs_cbs.on_data_abort(s, ud);
}

static void w_reset(tern_smtp_session *s, void *ud)
{
	note("reset");
	hs_cbs.on_reset(s, ud);
}

static void w_close(tern_smtp_session *s, void *ud)
{
	note("close");
	hs_cbs.on_close(s, ud);
}

static void w_log(tern_smtp_session *s, enum tern_smtp_log_level level, const char *msg, void *ud)
{
	note("log");
	hs_cbs.on_log(s, level, msg, ud);
}

static void close_in(struct hs *h, enum hs_cb at)
{
	memset(&closer, 0, sizeof(closer));
	closer.at = at;
	closer.resume_rc = closer.add_header_rc = 12345;
	hs_cbs = h->opts.callbacks;
	h->opts.log_level = TERN_LOG_DEBUG; /* on_log would run at every turn */
	tern_smtp_callbacks *c = &h->opts.callbacks;
	c->on_connect = w_connect;
	c->on_helo = w_helo;
	c->on_mail_from = w_mail;
	c->on_rcpt_to = w_rcpt;
	c->on_data_start = w_data_start;
	c->on_data_chunk = w_chunk;
	c->on_data_end = w_data_end;
	c->on_vrfy = w_vrfy;
	c->on_data_abort = w_abort;
	c->on_reset = w_reset;
	c->on_close = w_close;
	c->on_log = w_log;
}

static void close_connect(struct hs *h) { close_in(h, HS_CONNECT); }
static void close_helo(struct hs *h) { close_in(h, HS_HELO); }
static void close_mail(struct hs *h) { close_in(h, HS_MAIL); }
static void close_rcpt(struct hs *h) { close_in(h, HS_RCPT); }
static void close_data_start(struct hs *h) { close_in(h, HS_DATA_START); }
static void close_vrfy(struct hs *h) { close_in(h, HS_VRFY); }
static void close_data_end(struct hs *h) { close_in(h, HS_DATA_END); }
static void close_chunk(struct hs *h) { close_in(h, HS_DATA_CHUNK); }

/* The second chunk, not the trace header: a real body chunk. */
static void close_chunk_body(struct hs *h)
{
	close_in(h, HS_DATA_CHUNK);
	h->opts.disable_received_header = true;
}

static void closed_check(struct hs *h)
{
	if (!closer.closed)
		fail_msg("the chosen callback never ran");
	if (closer.after)
		fail_msg("callbacks ran after the close: %s", closer.after_names);
	if (closer.aborts_after > 1)
		fail_msg("on_data_abort ran %u times after the close", closer.aborts_after);
	assert_int_equal(closer.resume_rc, TERN_ECLOSED);
	assert_int_equal(closer.add_header_rc, TERN_ECLOSED);
	assert_true(tern__smtp_session_want_close(h->session));
	assert_false(tern__smtp_session_want_input(h->session));
	/* Nothing more is fed, and nothing more is said. */
	size_t out = h->out.len;
	assert_int_equal(tern__smtp_session_feed(h->session, "NOOP\r\n", 6), TERN_ECLOSED);
	hs_collect(h);
	assert_int_equal(h->out.len, out);
	assert_int_equal(tern_smtp_session_resume(h->session, NULL), TERN_ECLOSED);
	tern_smtp_session_close(h->session); /* a second close: nothing */
	assert_int_equal(closer.after, 0);
	assert_int_equal(h->closes, 0); /* on_close comes at free, once (hs_free checks) */
}

#define CLOSE_IN HS_EHLO MAIL_OK RCPT_OK MSG "VRFY bob\r\nMAIL FROM:<e@f.example>\r\nQUIT\r\n"

static const struct hs_case close_cases[] = {
	{.name = "close in on_connect", .setup = close_connect, .in = CLOSE_IN, .raw = true,
	 .expect = NULL, .close = 1, .check = closed_check},
	{.name = "close in on_helo", .setup = close_helo, .in = CLOSE_IN, .expect = NULL,
	 .close = 1, .check = closed_check},
	{.name = "close in on_mail_from", .setup = close_mail, .in = CLOSE_IN,
	 .expect = L(HS_EHLO_REPLY), .close = 1, .check = closed_check},
	{.name = "close in on_rcpt_to", .setup = close_rcpt, .in = CLOSE_IN,
	 .expect = L(HS_EHLO_REPLY, "250 2.1.0"), .close = 1, .check = closed_check},
	{.name = "close in on_data_start", .setup = close_data_start, .in = CLOSE_IN,
	 .expect = L(TX_REPLY), .close = 1, .check = closed_check},
	/* The trace header is the first chunk: closed before the 354. */
	{.name = "close in on_data_chunk (trace header)", .setup = close_chunk, .in = CLOSE_IN,
	 .expect = L(TX_REPLY), .close = 1, .aborts = 1, .check = closed_check},
	{.name = "close in on_data_chunk (body)", .setup = close_chunk_body, .in = CLOSE_IN,
	 .expect = L(TX_REPLY, "354"), .close = 1, .aborts = 1, .check = closed_check},
	{.name = "close in on_data_chunk (BDAT)", .setup = close_chunk_body,
	 .in = TX "BDAT 6\r\nabcdefBDAT 4 LAST\r\nghij" "QUIT\r\n",
	 .expect = L(TX_REPLY), .close = 1, .aborts = 1, .check = closed_check},
	/* Not accepted: the stored bytes are to be thrown away. */
	{.name = "close in on_data_end", .setup = close_data_end, .in = CLOSE_IN,
	 .expect = L(TX_REPLY, "354"), .close = 1, .messages = 1, .aborts = 1,
	 .check = closed_check},
	{.name = "close in on_vrfy", .setup = close_vrfy, .in = CLOSE_IN,
	 .expect = L(TX_REPLY, "354", "250 2.6.0"), .close = 1, .messages = 1,
	 .check = closed_check},
};

/* ---- 3. references: a late resume after the session ended ------------- */

static tern_smtp_session *kept;

static void keep_ref(struct hs *h, tern_smtp_session *s)
{
	(void)h;
	kept = s;
	tern_smtp_session_ref(kept);
}

static void test_ref_late_resume(void **state)
{
	(void)state;
	struct hs *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	hs_init(h);
	h->hook_mail = keep_ref;
	hs_push_pending(h, HS_MAIL);
	hs_open(h);
	hs_start(h);
	tern__smtp_session_feed(h->session, HS_EHLO MAIL_OK, strlen(HS_EHLO MAIL_OK));
	hs_collect(h);
	assert_true(h->pending);
	assert_ptr_equal(kept, h->session);
	tern_smtp_session_set_context(kept, h);
	/* A second reference and its release change nothing. */
	tern_smtp_session *again = kept;
	tern_smtp_session_ref(again);
	tern_smtp_session_unref(&again);
	assert_null(again);
	assert_string_equal(tern_smtp_session_remote_address(kept), "192.0.2.1");

	/* The client goes and the net layer frees the session, while the
	 * embedder's lookup is still out. on_close runs, once. */
	tern__smtp_session_eof(h->session);
	hs_free(h); /* frees the session (asserts on_close ran once) and the config */
	assert_int_equal(h->closes, 1);

	/* The slow answer arrives. */
	assert_int_equal(tern_smtp_session_resume(kept, NULL), TERN_ECLOSED);
	assert_int_equal(tern_smtp_session_reject(kept, 450, NULL, "later"), TERN_ECLOSED);
	assert_int_equal(tern_smtp_session_add_header(kept, "X-A", "b"), TERN_ECLOSED);
	tern_smtp_reply ok = {250, NULL, NULL};
	assert_int_equal(tern_smtp_session_set_rcpt_reply(kept, 0, &ok), TERN_ECLOSED);
	tern_smtp_session_close(kept);
	assert_string_equal(tern_smtp_session_id(kept), HS_ID);
	assert_null(tern_smtp_session_remote_address(kept));
	assert_null(tern_smtp_session_local_address(kept));
	assert_int_equal(tern_smtp_session_remote_port(kept), 0);
	assert_int_equal(tern_smtp_session_local_port(kept), 0);
	assert_null(tern_smtp_session_client_hostname(kept));
	assert_null(tern_smtp_session_helo_name(kept));
	assert_null(tern_smtp_session_opening_command(kept));
	assert_null(tern_smtp_session_transmission_type(kept));
	assert_int_equal(tern_smtp_session_transaction_count(kept), 0);
	assert_false(tern_smtp_session_secure(kept));
	assert_null(tern_smtp_session_mail_from(kept));
	assert_int_equal(tern_smtp_session_rcpt_count(kept), 0);
	assert_null(tern_smtp_session_rcpt(kept, 0));
	assert_ptr_equal(tern_smtp_session_get_context(kept), h);
	assert_int_equal(h->closes, 1);
	tern_smtp_session_unref(&kept);
	assert_null(kept);
	tern_smtp_session_unref(&kept); /* NULL: nothing */
	tern_smtp_session_unref(NULL);
	tern_smtp_session_ref(NULL);
	free(h);
}

/* A reference given back before the end leaves the session alone; one kept
 * across a close from outside any callback sees the close. */
static void test_ref_released_early(void **state)
{
	(void)state;
	struct hs *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	hs_init(h);
	h->hook_mail = keep_ref;
	hs_push_pending(h, HS_MAIL);
	hs_open(h);
	hs_start(h);
	tern__smtp_session_feed(h->session, HS_EHLO MAIL_OK, strlen(HS_EHLO MAIL_OK));
	hs_collect(h);
	/* An unref without its ref never frees a live session (ASan and
	 * valgrind would see the use below). */
	tern_smtp_session *stray = h->session;
	tern_smtp_session_unref(&stray);
	assert_null(stray);
	assert_string_equal(tern_smtp_session_remote_address(h->session), "192.0.2.1");
	tern_smtp_session_close(kept); /* the embedder gives up, outside callbacks */
	assert_int_equal(tern_smtp_session_resume(kept, NULL), TERN_ECLOSED);
	tern_smtp_session_unref(&kept);
	assert_non_null(h->session);
	assert_true(tern__smtp_session_want_close(h->session));
	assert_int_equal(h->closes, 0);
	h->pending = false;
	hs_free(h);
	assert_int_equal(h->closes, 1);
	free(h);
}

int main(void)
{
	const struct CMUnitTest abi[] = {
		cmocka_unit_test(test_options_init_sets_size),
		cmocka_unit_test(test_options_size_too_small),
		cmocka_unit_test(test_options_older_caller_gets_defaults),
		cmocka_unit_test(test_options_newer_caller),
	};
	int failed = cmocka_run_group_tests_name("smtp api: options ABI", abi, NULL, NULL);
	failed += hs_run_group("smtp api: fail closed", fail_closed_cases,
			       sizeof(fail_closed_cases) / sizeof(fail_closed_cases[0]));
	failed += hs_run_group("smtp api: close inside callbacks", close_cases,
			       sizeof(close_cases) / sizeof(close_cases[0]));
	const struct CMUnitTest refs[] = {
		cmocka_unit_test(test_ref_late_resume),
		cmocka_unit_test(test_ref_released_early),
	};
	failed += cmocka_run_group_tests_name("smtp api: references", refs, NULL, NULL);
	return failed;
}
