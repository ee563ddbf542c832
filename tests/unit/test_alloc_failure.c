/* Failing-allocator test (STYLE.md: "A failing-allocator test makes the Nth
 * allocation fail and expects a clean error, no leak").
 *
 * Linked with --wrap for the allocator (see alloc_fail.h and the block at the
 * end of CMakeLists.txt), so the allocations libtern makes are counted and
 * the k-th one can be made to fail. For each representative transcript the
 * run without failure counts the allocations N; then for every k in 1..N the
 * same session runs again with allocation k failing, and:
 *   - nothing crashes (run it under ASan and under valgrind as well);
 *   - whatever the session says is made of well-formed reply lines, and the
 *     first line that differs from the run without failure is a 4xx (451,
 *     452, 421 ...): a transient failure, never a silent drop, a garbled
 *     line or a permanent 5xx for what was only a shortage of memory;
 *   - a 250 2.6.0 is only ever said for a message whose body the embedder's
 *     callbacks received whole (the same octets as without failure);
 *   - once the session and config are freed, nothing the library allocated
 *     while armed is left (checked at each k, so a leak names its k).
 * Config creation (tern__smtp_config_init, tern_smtp_server_new), listen and
 * open, and a connection (tern__conn_new) must fail with TERN_ENOMEM at each
 * k and leave nothing behind.
 *
 * A failure prints the transcript, the k, the stack of the allocation that
 * failed (static functions show as offsets: addr2line -f -e <binary> OFF),
 * and what is left; the test goes on through every k and fails at the end.
 * TERN_TEST_VERBOSE=1 prints, for every k, where the allocation failed and
 * the first reply that changed, and every failure in full. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "alloc_fail.h"
#include "helper_session.h"
#include "net/connection.h"
#include "server/smtp_engine.h"
#include "smtp/engine.h"
#include "tern/smtp.h"
#include "tern/tern.h"

/* ---- transcripts --------------------------------------------------------- */

#define MAX_MSGS 4
#define BUF_CAP (64 * 1024) /* harness buffers, preallocated: never grown */

struct transcript {
	const char *name;
	void (*setup)(struct hs *h);
	const char *in;
	/* Replies in the run without failure: 250 2.6.0, 4xx and 5xx lines. */
	unsigned want_260, want_4xx, want_5xx;
};

/* Per-run context reached through h->test_ctx. */
struct ctx {
	struct hs_bytes bodies[MAX_MSGS]; /* body of each on_data_end, in order */
	unsigned n_bodies;
	bool bad_rc; /* an API call returned something other than 0 / ENOMEM */
};

static void bytes_prealloc(struct hs_bytes *b)
{
	b->data = af_real_malloc(BUF_CAP);
	assert_non_null(b->data);
	b->data[0] = '\0';
	b->len = 0;
	b->cap = BUF_CAP;
}

static void bytes_copy(struct hs_bytes *dst, const struct hs_bytes *src)
{
	size_t n = src->len < dst->cap - 1 ? src->len : dst->cap - 1;
	memcpy(dst->data, src->data ? src->data : "", n);
	dst->len = n;
	dst->data[n] = '\0';
}

/* An embedder that copes: a header it could not add, or a recipient reply it
 * could not set, makes it refuse the message with a 451 of its own rather
 * than accept it without. */
static void hook_data_start(struct hs *h, tern_smtp_session *s)
{
	struct ctx *c = h->test_ctx;
	(void)s;
	for (unsigned i = 0; i < h->n_add; i++) {
		if (h->add_rc[i] == TERN_ENOMEM)
			h->fallback[HS_DATA_START] = (struct hs_decision){
				.decision = TERN_SMTP_REJECT,
				.reply = {451, "4.3.0", "Embedder: header not added"}};
		else if (h->add_rc[i] != 0)
			c->bad_rc = true;
	}
}

static void hook_data_end(struct hs *h, tern_smtp_session *s)
{
	struct ctx *c = h->test_ctx;
	(void)s;
	for (unsigned i = 0; i < h->n_rr; i++) {
		if (h->rr_rc[i] == TERN_ENOMEM)
			h->fallback[HS_DATA_END] = (struct hs_decision){
				.decision = TERN_SMTP_REJECT,
				.reply = {451, "4.3.0", "Embedder: recipient reply not set"}};
		else if (h->rr_rc[i] != 0 && h->rr_rc[i] != TERN_EINVAL)
			c->bad_rc = true; /* EINVAL: a RCPT failed, so fewer recipients */
	}
	if (c->n_bodies < MAX_MSGS)
		bytes_copy(&c->bodies[c->n_bodies++], &h->body);
}

#define EHLO "EHLO client.example\r\n"
#define LHLO "LHLO client.example\r\n"
#define BODY "Subject: test\r\nFrom: <alice@example.com>\r\n\r\nHello\r\n..dot-stuffed\r\n"
#define SMTP_TX                                                                      \
	EHLO "MAIL FROM:<alice@example.com> SIZE=100 BODY=8BITMIME\r\n"               \
	     "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org\r\n" \
	     "DATA\r\n" BODY ".\r\nQUIT\r\n"
#define LMTP_TX                                                                      \
	LHLO "MAIL FROM:<alice@example.com>\r\nRCPT TO:<u1@example.org>\r\n"         \
	     "RCPT TO:<u2@example.org>\r\nRCPT TO:<u3@example.org>\r\nDATA\r\n" BODY \
	     ".\r\nQUIT\r\n"

#define SMTP_TX2                                                                     \
	EHLO "MAIL FROM:<alice@example.com>\r\nRCPT TO:<nobody@example.org>\r\n"     \
	     "RCPT TO:<bob@example.org>\r\nDATA\r\n" BODY ".\r\nQUIT\r\n"
#define BDAT_TX                                                                      \
	EHLO "MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\n"         \
	     "BDAT 17\r\nSubject: bdat\r\n\r\nBDAT 7 LAST\r\nHello\r\nQUIT\r\n"

static void setup_plain(struct hs *h)
{
	(void)h;
}

/* AUTH PLAIN over TLS: the SASL engine, the exchange state and the
 * authenticated identity allocate too. */
static int auth_accept_pw(tern_smtp_session *s, const tern_smtp_auth *a, tern_smtp_reply *r,
			  void *user_data)
{
	(void)s;
	(void)user_data;
	if (a->password != NULL && strcmp(a->password, "pw") == 0)
		return TERN_SMTP_ACCEPT;
	r->code = 535;
	return TERN_SMTP_REJECT;
}

static void setup_auth(struct hs *h)
{
	h->opts.callbacks.on_auth = auth_accept_pw;
	h->secure = true;
}

/* "\0alice\0pw" */
#define AUTH_TX                                                                      \
	EHLO "AUTH PLAIN AGFsaWNlAHB3\r\nMAIL FROM:<alice@example.com> AUTH=<>\r\n"      \
	     "RCPT TO:<bob@example.org>\r\nDATA\r\n" BODY ".\r\nQUIT\r\n"

static void setup_lmtp(struct hs *h)
{
	h->opts.lmtp = true;
}

static void setup_pending(struct hs *h)
{
	/* MAIL and the first RCPT answered later; the second RCPT later, with
	 * a refusal; everything behind them waits in the pipelining queue. */
	hs_push_pending(h, HS_MAIL);
	hs_push_pending(h, HS_RCPT);
	hs_push(h, HS_RCPT,
		(struct hs_decision){.decision = TERN_SMTP_PENDING,
				     .resume_with = true,
				     .resume_reply = {550, "5.1.1", "No such user here"}});
	hs_push_pending(h, HS_DATA_END);
}

static void setup_inside(struct hs *h)
{
	/* tern_smtp_session_resume() from inside the callback copies the
	 * reply's strings (session.c early_text). */
	hs_push(h, HS_RCPT,
		(struct hs_decision){.decision = TERN_SMTP_PENDING,
				     .resume_inside = true,
				     .resume_with = true,
				     .resume_reply = {550, "5.1.1", "No mailbox by that name"}});
	hs_push(h, HS_DATA_END,
		(struct hs_decision){.decision = TERN_SMTP_PENDING,
				     .resume_inside = true,
				     .resume_with = true,
				     .resume_reply = {250, "2.6.0", "Queued as 1234"}});
}

static void setup_bdat_refused(struct hs *h)
{
	/* The refusal is kept (strdup) and said after each chunk is read. */
	hs_push_reject(h, HS_DATA_START, 554, "5.7.1", "Refused by policy");
}

static void setup_chunk_reject(struct hs *h)
{
	h->fallback[HS_DATA_CHUNK] = (struct hs_decision){
		.decision = TERN_SMTP_REJECT, .reply = {550, "5.7.1", "Virus found"}};
}

static void setup_add_header(struct hs *h)
{
	h->add_name[0] = "X-Tern-Test";
	h->add_value[0] = "one";
	h->add_name[1] = "X-Spam-Score";
	h->add_value[1] = "0.0 (not spam)";
	h->n_add = 2;
}

static void setup_rcpt_reply(struct hs *h)
{
	h->opts.lmtp = true;
	h->rr_idx[0] = 0;
	h->rr[0] = (tern_smtp_reply){250, "2.6.0", "Delivered to u1"};
	h->rr_idx[1] = 2;
	h->rr[1] = (tern_smtp_reply){452, "4.2.2", "Mailbox of u3 full"};
	h->n_rr = 2;
}

static const struct transcript transcripts[] = {
	{"smtp ehlo mail rcpt data quit", setup_plain, SMTP_TX, 1, 0, 0},
	{"smtp bdat", setup_plain, BDAT_TX, 1, 0, 0},
	{"smtp auth plain", setup_auth, AUTH_TX, 1, 0, 0},
	{"lmtp three recipients", setup_lmtp, LMTP_TX, 3, 0, 0},
	{"smtp pipelined, pending decisions", setup_pending,
	 EHLO "MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\n"
	      "RCPT TO:<nobody@example.org>\r\nDATA\r\n" BODY ".\r\nNOOP\r\nQUIT\r\n",
	 1, 0, 1},
	{"smtp add_header in on_data_start", setup_add_header, SMTP_TX, 1, 0, 0},
	{"lmtp set_rcpt_reply", setup_rcpt_reply, LMTP_TX, 2, 1, 0},
	{"smtp decisions answered inside the callback", setup_inside, SMTP_TX2, 1, 0, 1},
	{"smtp bdat refused at start", setup_bdat_refused, BDAT_TX, 0, 0, 2},
	{"smtp data chunk rejected", setup_chunk_reject, SMTP_TX, 0, 0, 1},
	{"smtp two messages, six recipients", setup_plain,
	 EHLO "MAIL FROM:<alice@example.com>\r\nRCPT TO:<r1@example.org>\r\n"
	      "RCPT TO:<r2@example.org>\r\nRCPT TO:<r3@example.org>\r\n"
	      "RCPT TO:<r4@example.org>\r\nRCPT TO:<r5@example.org>\r\n"
	      "RCPT TO:<r6@example.org>\r\nDATA\r\n" BODY ".\r\nRSET\r\n"
	      "MAIL FROM:<>\r\nRCPT TO:<r1@example.org>\r\nDATA\r\nSecond\r\n.\r\nQUIT\r\n",
	 2, 0, 0},
};

/* ---- one run ------------------------------------------------------------- */

struct mode {
	const char *name;
	size_t step; /* 0: the whole input in one feed */
};

static const struct mode modes[] = {{"whole", 0}, {"bytewise", 1}};

struct run {
	struct hs h;
	struct ctx c;
	int new_rc;
	bool closed;
	char problem[256]; /* harness-level trouble (stuck, bad return) */
};

static void io_wakeup(void *ctx)
{
	(void)ctx;
}

static long long io_now(void *ctx)
{
	(void)ctx;
	return HS_NOW;
}

static void resume_one(struct run *r)
{
	struct hs *h = &r->h;
	struct hs_decision d = h->pending_d;
	h->pending = false;
	int rc = tern_smtp_session_resume(h->session, d.resume_with ? &d.resume_reply : NULL);
	if (rc != 0 && !r->problem[0])
		snprintf(r->problem, sizeof(r->problem), "tern_smtp_session_resume returned %d", rc);
	hs_collect(h);
}

static void resume_all(struct run *r)
{
	for (unsigned i = 0; r->h.pending && i < 1000; i++)
		resume_one(r);
}

/* hs_feed without its fatal assertions: trouble is recorded, and the run
 * goes on to the leak check. */
static void feed_all(struct run *r, const char *in, size_t len, size_t step)
{
	struct hs *h = &r->h;
	size_t off = 0;
	unsigned stuck = 0;
	for (unsigned guard = 0; off < len && guard < 100000; guard++) {
		size_t n = step && step < len - off ? step : len - off;
		ssize_t got = tern__smtp_session_feed(h->session, in + off, n);
		hs_collect(h);
		/* A client that waits for DATA's 354 (RFC 2920 3.1). */
		if (tern__smtp_session_want_barrier(h->session))
			tern__smtp_session_barrier(h->session, false);
		if (got == TERN_ECLOSED) {
			r->closed = true;
			return;
		}
		if (got < 0 || (size_t)got > n) {
			snprintf(r->problem, sizeof(r->problem), "feed returned %zd for %zu octets",
				 got, n);
			return;
		}
		off += (size_t)got;
		if ((size_t)got < n) {
			if (h->pending) {
				resume_one(r);
				stuck = 0;
				continue;
			}
			stuck = got > 0 ? 0 : stuck + 1;
			if (stuck > 4) {
				snprintf(r->problem, sizeof(r->problem),
					 "engine takes no input (at %zu of %zu) and nothing is pending",
					 off, len);
				return;
			}
		}
	}
}

/* Runs t with allocation k failing (0: none). Leaves r->h's session freed;
 * the recorded output stays in r until run_free(). Returns allocations. */
static unsigned run_session(struct run *r, const struct transcript *t, size_t step, unsigned k)
{
	struct hs *h = &r->h;
	memset(r, 0, sizeof(*r));
	hs_init(h);
	h->test_ctx = &r->c;
	h->hook_data_start = hook_data_start;
	h->hook_data_end = hook_data_end;
	t->setup(h);
	bytes_prealloc(&h->out);
	bytes_prealloc(&h->events);
	bytes_prealloc(&h->body);
	bytes_prealloc(&h->last_body);
	for (unsigned i = 0; i < MAX_MSGS; i++)
		bytes_prealloc(&r->c.bodies[i]);
	int rc = tern__smtp_config_init(&h->cfg, &h->opts);
	assert_int_equal(rc, 0);
	h->cfg_ok = true;

	struct tern__smtp_conn_info conn = {
		.remote_address = "192.0.2.1",
		.remote_port = 1234,
		.local_address = "192.0.2.2",
		.local_port = 25,
		.secure = h->secure,
	};
	struct tern__smtp_io io = {.wakeup = io_wakeup, .now = io_now, .io_ctx = h};
	af_arm(k);
	r->new_rc = tern__smtp_session_new(&h->session, &h->cfg, &conn, HS_ID, &io);
	if (r->new_rc == 0) {
		tern__smtp_session_start(h->session);
		hs_collect(h);
		resume_all(r);
		feed_all(r, t->in, strlen(t->in), step);
		resume_all(r);
		r->closed = r->closed || tern__smtp_session_want_close(h->session);
	}
	unsigned n = af_disarm();
	/* Frees the session (on_close must run once: hs_free checks) and the
	 * config; the harness buffers were allocated before arming. */
	struct hs_bytes keep_out = h->out, keep_events = h->events;
	h->out = h->events = (struct hs_bytes){0};
	hs_free(h);
	h->out = keep_out;
	h->events = keep_events;
	return n;
}

static void run_free(struct run *r)
{
	af_real_free(r->h.out.data);
	af_real_free(r->h.events.data);
	for (unsigned i = 0; i < MAX_MSGS; i++)
		af_real_free(r->c.bodies[i].data);
	memset(r, 0, sizeof(*r));
}

/* ---- checks -------------------------------------------------------------- */

#define MAX_LINES 256

struct lines {
	const char *p[MAX_LINES];
	size_t len[MAX_LINES];
	size_t n;
	bool malformed;
};

/* Splits output into CRLF lines; a reply line is "ddd" then SP or "-". */
static void split(const struct hs_bytes *b, struct lines *l)
{
	memset(l, 0, sizeof(*l));
	size_t start = 0;
	const char *o = b->data ? b->data : "";
	for (size_t i = 0; i < b->len; i++) {
		if (o[i] != '\n')
			continue;
		if (i == start || o[i - 1] != '\r') {
			l->malformed = true;
		} else if (l->n < MAX_LINES) {
			size_t len = i - 1 - start;
			const char *p = o + start;
			if (len < 4 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
			    p[2] < '0' || p[2] > '9' || (p[3] != ' ' && p[3] != '-') ||
			    memchr(p, '\r', len))
				l->malformed = true;
			l->p[l->n] = p;
			l->len[l->n++] = len;
		}
		start = i + 1;
	}
	if (start != b->len)
		l->malformed = true; /* a reply without its CRLF */
}

static bool line_eq(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->len[i] == b->len[j] && memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

static unsigned count_prefix(const struct lines *l, const char *prefix)
{
	unsigned c = 0;
	size_t pl = strlen(prefix);
	for (size_t i = 0; i < l->n; i++)
		if (l->len[i] >= pl && memcmp(l->p[i], prefix, pl) == 0)
			c++;
	return c;
}

/* The body after the Received: field, which legitimately changes with the
 * recipients and the transaction number. */
static const char *after_received(const struct hs_bytes *b, size_t *len_r)
{
	const char *p = b->data ? b->data : "", *end = p + b->len;
	if (b->len > 10 && memcmp(p, "Received: ", 10) == 0) {
		/* RFC 5322 2.2.3: the field goes on while lines start with WSP. */
		const char *q = p;
		while ((q = memchr(q, '\n', (size_t)(end - q))) && q + 1 < end && q[1] == '\t')
			q++;
		p = q ? q + 1 : end;
	}
	*len_r = (size_t)(end - p);
	return p;
}

static bool body_eq(const struct hs_bytes *a, const struct hs_bytes *b)
{
	size_t al, bl;
	const char *ap = after_received(a, &al), *bp = after_received(b, &bl);
	return al == bl && memcmp(ap, bp, al) == 0;
}

struct tally {
	unsigned failures;
	unsigned dumps; /* detailed dumps printed (bounded) */
};

static void print_escaped(const struct hs_bytes *b)
{
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];
		if (c == '\n')
			fputs("\\n\n", stderr);
		else if (c == '\r')
			fputs("\\r", stderr);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
}

static void report(struct tally *tl, const char *tname, const char *mode, unsigned k,
		   const struct run *r, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void report(struct tally *tl, const char *tname, const char *mode, unsigned k,
		   const struct run *r, const char *fmt, ...)
{
	va_list ap;
	tl->failures++;
	fprintf(stderr, "ALLOC-FAILURE BUG [%s/%s] k=%u: ", tname, mode, k);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (tl->dumps++ >= 6 && !getenv("TERN_TEST_VERBOSE"))
		return;
	if (r) {
		fprintf(stderr, "  transcript:\n");
		print_escaped(&r->h.out);
		fprintf(stderr, "\n  events: %s\n", r->h.events.data ? r->h.events.data : "");
	}
	af_report(tname);
}

/* Checks run r (allocation k failed) against the run without failure. */
static void check_run(struct tally *tl, const struct transcript *t, const char *mode, unsigned k,
		      struct run *r, const struct run *ref)
{
	static struct lines lo, lr;
	if (!af_failed())
		report(tl, t->name, mode, k, r, "allocation %u was never made (not deterministic?)",
		       k);
	if (r->c.bad_rc)
		report(tl, t->name, mode, k, r,
		       "add_header or set_rcpt_reply returned neither 0 nor TERN_ENOMEM");
	if (r->h.out.cap != BUF_CAP)
		report(tl, t->name, mode, k, r, "harness buffer grew (raise BUF_CAP)");
	if (af_live() != 0)
		report(tl, t->name, mode, k, r, "leak: %zu allocation(s) left after session free",
		       af_live());
	if (r->new_rc != 0) {
		if (r->new_rc != TERN_ENOMEM || r->h.session || r->h.out.len)
			report(tl, t->name, mode, k, r,
			       "tern__smtp_session_new returned %d (wanted TERN_ENOMEM, no session)",
			       r->new_rc);
		return;
	}
	if (r->problem[0])
		report(tl, t->name, mode, k, r, "%s", r->problem);
	if (r->h.inside_resume_rc != 0 && r->h.inside_resume_rc != TERN_ENOMEM)
		report(tl, t->name, mode, k, r, "resume from inside a callback returned %d",
		       r->h.inside_resume_rc);

	split(&r->h.out, &lo);
	split(&ref->h.out, &lr);
	if (lo.malformed)
		report(tl, t->name, mode, k, r, "output is not made of well-formed reply lines");

	size_t i = 0;
	while (i < lo.n && i < lr.n && line_eq(&lo, i, &lr, i))
		i++;
	if (i < lo.n) {
		if (lo.p[i][0] != '4')
			report(tl, t->name, mode, k, r,
			       "first reply that differs from the run without failure is not a 4xx: "
			       "\"%.*s\" (without failure: \"%.*s\")",
			       (int)lo.len[i], lo.p[i], i < lr.n ? (int)lr.len[i] : 0,
			       i < lr.n ? lr.p[i] : "");
	} else if (i < lr.n && !r->closed) {
		/* Closing without a word is acceptable (a client takes a lost
		 * connection as a transient failure, RFC 5321 4.2.5 / 6.1); going on
		 * with a reply missing is not. */
		report(tl, t->name, mode, k, r,
		       "replies missing from line %zu on (\"%.*s\" ...), no 4xx said, session open",
		       i + 1, (int)lr.len[i], lr.p[i]);
	}

	/* RFC 5321 4.1.1.4: 250 after the final dot means the server took
	 * responsibility for the message: only for what the embedder got. */
	unsigned said = count_prefix(&lo, "250 2.6.0");
	if (said > count_prefix(&lr, "250 2.6.0"))
		report(tl, t->name, mode, k, r, "more 250 2.6.0 replies than without failure");
	if (said > 0) {
		unsigned whole = 0;
		for (unsigned m = 0; m < r->c.n_bodies; m++)
			for (unsigned j = 0; j < ref->c.n_bodies; j++)
				if (body_eq(&r->c.bodies[m], &ref->c.bodies[j])) {
					whole++;
					break;
				}
		bool lmtp = r->h.opts.lmtp;
		if (lmtp ? whole == 0 : said > whole)
			report(tl, t->name, mode, k, r,
			       "250 2.6.0 said %u time(s) but only %u message(s) reached on_data_end "
			       "whole",
			       said, whole);
	}
}

static void test_transcript(void **state)
{
	const struct transcript *t = *state;
	struct tally tl = {0};
	static struct run ref, r;
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		const char *mode = modes[m].name;
		unsigned n = run_session(&ref, t, modes[m].step, 0);
		/* The wrap must reach the library: a session allocates. */
		assert_true(n > 3);
		assert_int_equal(af_live(), 0);
		assert_int_equal(ref.new_rc, 0);
		assert_true(ref.problem[0] == '\0');
		struct lines *l = calloc(1, sizeof(*l));
		assert_non_null(l);
		split(&ref.h.out, l);
		assert_false(l->malformed);
		if (count_prefix(l, "250 2.6.0") != t->want_260 ||
		    count_prefix(l, "4") != t->want_4xx || count_prefix(l, "5") != t->want_5xx ||
		    count_prefix(l, "221 ") != 1)
			hs_dump(&ref.h, t->name);
		assert_int_equal(count_prefix(l, "250 2.6.0"), t->want_260);
		assert_int_equal(count_prefix(l, "4"), t->want_4xx);
		assert_int_equal(count_prefix(l, "5"), t->want_5xx);
		assert_int_equal(count_prefix(l, "221 "), 1);
		free(l);
		if (getenv("TERN_TEST_VERBOSE"))
			fprintf(stderr, "[%s/%s] %u allocations\n", t->name, mode, n);
		for (unsigned k = 1; k <= n; k++) {
			run_session(&r, t, modes[m].step, k);
			check_run(&tl, t, mode, k, &r, &ref);
			if (getenv("TERN_TEST_VERBOSE")) {
				/* What each k did: the first line that differs. */
				static struct lines lo, lr;
				split(&r.h.out, &lo);
				split(&ref.h.out, &lr);
				size_t i = 0;
				while (i < lo.n && i < lr.n && line_eq(&lo, i, &lr, i))
					i++;
				fprintf(stderr, "[%s/%s] k=%u: %.*s%s\n", t->name, mode, k,
					i < lo.n ? (int)lo.len[i] : 0, i < lo.n ? lo.p[i] : "",
					i < lo.n ? "" : r.new_rc ? "(session_new failed)"
					       : i < lr.n ? "(closed, nothing more said)" : "(same)");
				af_print_site();
			}
			run_free(&r);
		}
		run_free(&ref);
	}
	if (tl.failures)
		fail_msg("[%s] %u failure(s) with an allocation failing; see above", t->name,
			 tl.failures);
}

/* ---- config and server --------------------------------------------------- */

static const char *const disabled[] = {"vrfy", "expn", NULL};

static void full_options(tern_smtp_options *o)
{
	tern_smtp_options_init(o);
	o->name = "mx.test";
	o->banner = "Tern test";
	o->helo_response = "%s greets %s";
	o->disabled_commands = disabled;
}

static void test_config_init(void **state)
{
	(void)state;
	tern_smtp_options o;
	struct tern__smtp_config cfg;
	unsigned fails = 0;
	full_options(&o);
	af_arm(0);
	assert_int_equal(tern__smtp_config_init(&cfg, &o), 0);
	unsigned n = af_disarm();
	assert_true(n >= 5); /* name, banner, helo_response, the list, its copies */
	tern__smtp_config_free(&cfg);
	assert_int_equal(af_live(), 0);
	for (unsigned k = 1; k <= n; k++) {
		af_arm(k);
		int rc = tern__smtp_config_init(&cfg, &o);
		af_disarm();
		if (rc == 0)
			tern__smtp_config_free(&cfg);
		if (rc != TERN_ENOMEM || af_live() != 0) {
			fprintf(stderr, "ALLOC-FAILURE BUG [config_init] k=%u: rc %d, %zu left\n", k, rc,
				af_live());
			af_report("config_init");
			fails++;
		}
	}
	assert_int_equal(fails, 0);
}

static void test_server_new(void **state)
{
	(void)state;
	tern_smtp_options o;
	tern_smtp_server *s = NULL;
	unsigned fails = 0;
	full_options(&o);
	af_arm(0);
	assert_int_equal(tern_smtp_server_new(&s, &o), 0);
	unsigned n = af_disarm();
	assert_true(n >= 6);
	tern_smtp_server_destroy(&s);
	assert_null(s);
	assert_int_equal(af_live(), 0);
	for (unsigned k = 1; k <= n; k++) {
		s = (tern_smtp_server *)&o; /* must be set to NULL on failure */
		af_arm(k);
		int rc = tern_smtp_server_new(&s, &o);
		af_disarm();
		bool bad = rc != TERN_ENOMEM || s != NULL;
		if (rc == 0)
			tern_smtp_server_destroy(&s);
		if (bad || af_live() != 0) {
			fprintf(stderr, "ALLOC-FAILURE BUG [server_new] k=%u: rc %d, %zu left\n", k, rc,
				af_live());
			af_report("server_new");
			fails++;
		}
	}
	assert_int_equal(fails, 0);
}

/* listen then open (one worker, 127.0.0.1 port 0), allocation k failing
 * (0: none); each failing call must say TERN_ENOMEM, and destroy must leave
 * nothing. Returns the allocations counted. */
static unsigned listen_open(unsigned k, unsigned *fails)
{
	tern_smtp_options o;
	tern_smtp_server *s = NULL;
	full_options(&o);
	assert_int_equal(tern_smtp_server_new(&s, &o), 0);
	af_arm(k);
	int rc = tern_smtp_server_listen(s, "127.0.0.1:0");
	const char *step = "listen";
	if (rc == 0) {
		step = "open";
		rc = tern_smtp_server_open(s, 1);
	}
	unsigned n = af_disarm();
	if (k == 0)
		assert_int_equal(rc, 0);
	else if (rc != TERN_ENOMEM) {
		fprintf(stderr, "ALLOC-FAILURE BUG [server listen/open] k=%u: %s returned %d\n", k,
			step, rc);
		af_report("server listen/open");
		(*fails)++;
	}
	tern_smtp_server_close(s);
	tern_smtp_server_destroy(&s);
	if (af_live() != 0) {
		fprintf(stderr, "ALLOC-FAILURE BUG [server listen/open] k=%u: %zu left after destroy\n",
			k, af_live());
		af_report("server listen/open");
		(*fails)++;
	}
	return n;
}

static void test_server_listen_open(void **state)
{
	(void)state;
	unsigned fails = 0;
	unsigned n = listen_open(0, &fails);
	assert_true(n >= 3);
	for (unsigned k = 1; k <= n; k++)
		listen_open(k, &fails);
	assert_int_equal(fails, 0);
}

/* ---- a connection (src/net) ---------------------------------------------- */

static void host_session_ended(struct tern__conn_host *host, bool busy)
{
	(void)host;
	(void)busy;
}

static void host_conn_ended(struct tern__conn_host *host)
{
	(void)host;
}

/* The engine adapter's config source: one fixed config, no counting. */
static const struct tern__smtp_config *fixed_cfg(void *ctx)
{
	return ctx;
}

static void fixed_cfg_release(void *ctx, const struct tern__smtp_config *cfg)
{
	(void)ctx;
	(void)cfg;
}

/* tern__conn_new over a socketpair, allocation k failing: TERN_ENOMEM, the
 * socket closed, nothing left. Returns the allocations counted. */
static unsigned conn_once(unsigned k, unsigned *fails)
{
	tern_smtp_options o;
	struct tern__smtp_config cfg;
	full_options(&o);
	assert_int_equal(tern__smtp_config_init(&cfg, &o), 0);
	struct event_base *base = event_base_new();
	assert_non_null(base);
	struct tern__net_config net = {0};
	struct tern__conn_host host = {
		.base = base,
		.net = &net,
		.session_ended = host_session_ended,
		.conn_ended = host_conn_ended,
	};
	struct tern__smtp_engine_ctx ectx = {.cfg_acquire = fixed_cfg,
					     .cfg_release = fixed_cfg_release,
					     .cfg_ctx = &cfg,
					     .listener = &cfg.listener};
	struct tern__conn_params params = {0};
	struct tern__conn_listener listener = {.engine = &tern__smtp_conn_engine,
					       .engine_ctx = &ectx};
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct sockaddr_storage peer = {0};
	peer.ss_family = AF_UNIX;
	af_arm(k);
	int rc = tern__conn_new(&host, &listener, sv[0], (struct sockaddr *)&peer,
				sizeof(sa_family_t), "c0ffee00", &params);
	unsigned n = af_disarm();
	unsigned conns = host.n_conns;
	/* libevent may close a freed bufferevent's socket from the loop. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	if (k == 0) {
		assert_int_equal(rc, 0);
		assert_int_equal(conns, 1);
	} else if (rc == 0 ? conns != 1
			   : rc != TERN_ENOMEM || conns != 0 ||
				     (fcntl(sv[0], F_GETFD) != -1 || errno != EBADF)) {
		/* Past the session's creation, an allocation failing in start
		 * is the engine's to answer (the transcripts check that): the
		 * connection exists and must tear down cleanly. */
		fprintf(stderr,
			"ALLOC-FAILURE BUG [conn_new] k=%u: rc %d, %u connection(s), socket %s\n", k,
			rc, conns, fcntl(sv[0], F_GETFD) == -1 ? "closed" : "left open");
		af_report("conn_new");
		(*fails)++;
	}
	while (host.conns)
		tern__conn_abort(host.conns);
	event_base_loop(base, EVLOOP_NONBLOCK);
	close(sv[1]);
	event_base_free(base);
	tern__smtp_config_free(&cfg);
	if (af_live() != 0) {
		fprintf(stderr, "ALLOC-FAILURE BUG [conn_new] k=%u: %zu left after teardown\n", k,
			af_live());
		af_report("conn_new");
		(*fails)++;
	}
	return n;
}

static void test_conn_new(void **state)
{
	(void)state;
	unsigned fails = 0;
	unsigned n = conn_once(0, &fails);
	assert_true(n >= 4);
	for (unsigned k = 1; k <= n; k++)
		conn_once(k, &fails);
	assert_int_equal(fails, 0);
}

int main(void)
{
	enum { NT = sizeof(transcripts) / sizeof(transcripts[0]) };
	struct CMUnitTest tests[NT + 4];
	for (size_t i = 0; i < NT; i++)
		tests[i] = (struct CMUnitTest){.name = transcripts[i].name,
					       .test_func = test_transcript,
					       .initial_state = (void *)&transcripts[i]};
	tests[NT] = (struct CMUnitTest)cmocka_unit_test(test_config_init);
	tests[NT + 1] = (struct CMUnitTest)cmocka_unit_test(test_server_new);
	tests[NT + 2] = (struct CMUnitTest)cmocka_unit_test(test_server_listen_open);
	tests[NT + 3] = (struct CMUnitTest)cmocka_unit_test(test_conn_new);
	return _cmocka_run_group_tests("alloc failure", tests, NT + 4, NULL, NULL);
}
