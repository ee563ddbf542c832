/* The SMTP/LMTP client state machine and the public API (tern/smtp_client.h).
 *
 * One state enum for the session; the replies the engine waits for are an
 * ordered queue of what each answers (struct tern__smtpc_expect), so that a
 * pipelined group's replies are matched in order (RFC 2920 3.1) and a reply
 * nothing asked for is a protocol error. Here: results, the queue, events,
 * failure, greeting/EHLO/STARTTLS and the dispatch of replies; the message
 * transaction is transaction.c's, AUTH auth.c's. */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sasl/sasl.h"
#include "smtp/client/client.h"
#include "util/address.h"

#define DEFAULT_HIGH_WATER 65536
#define DEFAULT_BDAT_CHUNK 65536
#define MIN_5 (5u * 60 * 1000)

static const char *const default_mechs[] = { "SCRAM-SHA-256", "PLAIN", "LOGIN", NULL };

/* The first released layout ends with auth_insecure: a smaller struct_size
 * is no tern_smtp_client_options. */
#define FIRST_LAYOUT_SIZE                                                                 \
	(offsetof(tern_smtp_client_options, auth_insecure) + sizeof(bool))

void tern_smtp_client_options_init_sized(tern_smtp_client_options *opts, size_t size)
{
	if (!opts || size < sizeof(opts->struct_size))
		return;
	tern_smtp_client_options d;
	memset(&d, 0, sizeof(d));
	d.tls = TERN_SMTP_CLIENT_TLS_OPPORTUNISTIC;
	memset(opts, 0, size);
	memcpy(opts, &d, size < sizeof(d) ? size : sizeof(d));
	opts->struct_size = size;
}

/* The caller's options in this library's layout, or -1. */
static int options_copy(tern_smtp_client_options *dst, const tern_smtp_client_options *src)
{
	size_t size = src->struct_size;
	if (size < FIRST_LAYOUT_SIZE)
		return -1;
	if (size > sizeof(*dst)) {
		const unsigned char *extra = (const unsigned char *)src + sizeof(*dst);
		for (size_t i = 0; i < size - sizeof(*dst); i++)
			if (extra[i])
				return -1;
	}
	tern_smtp_client_options_init(dst);
	memcpy(dst, src, size < sizeof(*dst) ? size : sizeof(*dst));
	dst->struct_size = sizeof(*dst);
	return 0;
}

/* ---- results ---- */

void tern__smtpc_result_clear(tern_smtp_client_result *r)
{
	if (r->text && r->text[0])
		free((char *)r->text);
	if (r->enhanced && r->enhanced[0])
		free((char *)r->enhanced);
	memset(r, 0, sizeof(*r));
	r->text = "";
	r->enhanced = "";
}

/* Only a 2xx delivers: a 3xx where a final reply belongs (354 to RCPT,
 * to ".") is a broken server, and the mail must not be taken as sent. */
static enum tern_smtp_client_class class_of(int code)
{
	if (code >= 200 && code < 300)
		return TERN_SMTP_CLIENT_SUCCESS;
	if (code >= 500)
		return TERN_SMTP_CLIENT_PERMFAIL;
	return TERN_SMTP_CLIENT_TEMPFAIL;
}

int tern__smtpc_result_set(tern_smtp_client_result *r, int code, const char *enhanced,
			   const char *text, enum tern_smtp_client_reason reason)
{
	bool dropped = r->notify_success_dropped;
	tern__smtpc_result_clear(r);
	r->notify_success_dropped = dropped;
	r->code = code;
	r->cls = class_of(code);
	r->reason = reason;
	int rc = 0;
	if (enhanced && enhanced[0]) {
		char *e = strdup(enhanced);
		if (e)
			r->enhanced = e;
		else
			rc = TERN_ENOMEM;
	}
	if (text && text[0]) {
		char *t = strdup(text);
		if (t)
			r->text = t;
		else
			rc = TERN_ENOMEM;
	}
	return rc;
}

void tern__smtpc_result_copy(tern_smtp_client_result *dst, const tern_smtp_client_result *src)
{
	(void)tern__smtpc_result_set(dst, src->code, src->enhanced, src->text, src->reason);
	dst->cls = src->cls;
}

/* ---- plumbing ---- */

int tern__smtpc_write(tern_smtp_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = tern__buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	return r;
}

int tern__smtpc_expect(tern_smtp_client *c, enum tern__smtpc_kind kind, size_t idx)
{
	if (c->exp_len == 0)
		c->exp_head = 0;
	if (c->exp_head + c->exp_len == c->exp_cap) {
		if (c->exp_head > 0) {
			memmove(c->expect, c->expect + c->exp_head, c->exp_len * sizeof(*c->expect));
			c->exp_head = 0;
		} else {
			size_t cap = c->exp_cap ? c->exp_cap * 2 : 8;
			void *p = realloc(c->expect, cap * sizeof(*c->expect));
			if (!p)
				return TERN_ENOMEM;
			c->expect = p;
			c->exp_cap = cap;
		}
	}
	c->expect[c->exp_head + c->exp_len].kind = (unsigned char)kind;
	c->expect[c->exp_head + c->exp_len].idx = idx;
	c->exp_len++;
	return 0;
}

void tern__smtpc_event(tern_smtp_client *c, enum tern_smtp_client_event ev)
{
	/* A handful of events at most follow one call; the ring fills only
	 * when the caller does not pull. Then the new event is dropped, but
	 * CLOSED takes the last slot: the end of the session is never lost. */
	if (c->ev_len == sizeof(c->events)) {
		if (ev == TERN_SMTP_CLIENT_EV_CLOSED)
			c->events[(c->ev_head + c->ev_len - 1) % sizeof(c->events)] =
				(unsigned char)ev;
		return;
	}
	c->events[(c->ev_head + c->ev_len) % sizeof(c->events)] = (unsigned char)ev;
	c->ev_len++;
}

void tern__smtpc_fail(tern_smtp_client *c, int code, const char *enhanced, const char *text,
		      enum tern_smtp_client_reason reason, bool send_quit)
{
	if (c->state == TERN__SMTPC_DONE)
		return;
	(void)tern__smtpc_result_set(&c->failure, code, enhanced, text, reason);
	c->failed = true;
	if (c->txn.active) {
		/* RFC 5321 3.8: whatever is unfinished is not delivered; the
		 * queue retries unless the server's reply said otherwise. */
		tern_smtp_client_result r = c->failure;
		if (reason != TERN_SMTP_CLIENT_R_REPLY)
			r.cls = TERN_SMTP_CLIENT_TEMPFAIL;
		tern__smtpc_message_done(c, &r);
	}
	c->exp_len = 0;
	/* Events that ask the caller to act (READY, BODY, TLS) and are not
	 * pulled yet are stale now: a READY followed by a stray reply in the
	 * same read must not invite a send() into a dead session. */
	size_t kept = 0;
	unsigned char ev[sizeof(c->events)];
	for (size_t i = 0; i < c->ev_len; i++) {
		unsigned char e = c->events[(c->ev_head + i) % sizeof(c->events)];
		if (e == TERN_SMTP_CLIENT_EV_MESSAGE_DONE)
			ev[kept++] = e;
	}
	memcpy(c->events, ev, kept);
	c->ev_head = 0;
	c->ev_len = kept;
	/* In the middle of a DATA body a QUIT would be message text. */
	if (c->state == TERN__SMTPC_BODY && !c->txn.bdat)
		send_quit = false;
	if (send_quit)
		(void)tern__smtpc_write(c, "QUIT\r\n");
	tern__sasl_client_free(&c->sasl);
	c->state = TERN__SMTPC_DONE;
	tern__smtpc_event(c, TERN_SMTP_CLIENT_EV_CLOSED);
}

void tern__smtpc_fail_nomem(tern_smtp_client *c)
{
	tern__smtpc_fail(c, 451, "4.3.0", "out of memory", TERN_SMTP_CLIENT_R_PROTOCOL, false);
}

static void fail_protocol(tern_smtp_client *c, const char *why)
{
	tern__smtpc_fail(c, 451, "4.5.0", why, TERN_SMTP_CLIENT_R_PROTOCOL, true);
}

/* ---- greeting and hello ---- */

static int send_hello(tern_smtp_client *c)
{
	const char *verb = c->opts.lmtp ? "LHLO" : c->helo_fallback ? "HELO" : "EHLO";
	int r = tern__smtpc_write(c, "%s %s\r\n", verb, c->helo_name);
	if (r == 0)
		r = tern__smtpc_expect(c, c->helo_fallback ? TERN__SMTPC_K_HELO : TERN__SMTPC_K_EHLO,
				       0);
	c->state = TERN__SMTPC_HELLO;
	return r;
}

void tern__smtpc_after_hello(tern_smtp_client *c)
{
	tern__smtpc_auth_begin(c);
}

static void hello_done(tern_smtp_client *c)
{
	bool offered = c->caps.ext & TERN_SMTP_EXT_STARTTLS;
	if (!c->secure && c->opts.tls != TERN_SMTP_CLIENT_TLS_NONE) {
		if (offered) {
			if (tern__smtpc_write(c, "STARTTLS\r\n") < 0 ||
			    tern__smtpc_expect(c, TERN__SMTPC_K_STARTTLS, 0) < 0) {
				tern__smtpc_fail_nomem(c);
				return;
			}
			c->state = TERN__SMTPC_STARTTLS;
			return;
		}
		if (c->opts.tls == TERN_SMTP_CLIENT_TLS_REQUIRED) {
			tern__smtpc_fail(c, 451, "4.7.5", "TLS required but STARTTLS not offered",
					 TERN_SMTP_CLIENT_R_TLS, true);
			return;
		}
	}
	tern__smtpc_after_hello(c);
}

static void on_hello(tern_smtp_client *c, enum tern__smtpc_kind kind, int code,
		     const char *enh, const char *text, size_t text_len)
{
	if (code / 100 == 2) {
		if (kind == TERN__SMTPC_K_EHLO)
			tern__smtpc_caps_parse(&c->caps, text, text_len);
		else
			memset(&c->caps, 0, sizeof(c->caps));
		hello_done(c);
		return;
	}
	/* RFC 5321 3.2: a server that does not know EHLO answers 500, 502,
	 * 504 or 550; fall back to HELO then (never for LMTP, RFC 2033 4.1). */
	if (kind == TERN__SMTPC_K_EHLO && !c->opts.lmtp &&
	    (code == 500 || code == 502 || code == 504 || code == 550)) {
		c->helo_fallback = true;
		if (send_hello(c) < 0)
			tern__smtpc_fail_nomem(c);
		return;
	}
	tern__smtpc_fail(c, code, enh, text, TERN_SMTP_CLIENT_R_REPLY, true);
}

/* ---- replies ---- */

static void on_reply(tern_smtp_client *c)
{
	struct tern__smtpc_parser *p = &c->parser;
	int code = p->code;
	const char *enh = p->enhanced;
	const char *text = tern__buf_ptr(&p->text);
	size_t text_len = p->text.len;

	if (c->state == TERN__SMTPC_DONE)
		return;
	/* RFC 5321 3.8: 421 may come at any time; the server is closing. */
	if (code == 421) {
		tern__smtpc_fail(c, code, enh, text, TERN_SMTP_CLIENT_R_CLOSED, false);
		return;
	}
	if (c->exp_len == 0) {
		fail_protocol(c, "a reply nothing asked for");
		return;
	}
	struct tern__smtpc_expect e = c->expect[c->exp_head];
	c->exp_head++;
	c->exp_len--;

	switch (e.kind) {
	case TERN__SMTPC_K_GREETING:
		/* RFC 5321 3.1: 220 is the greeting; 554 (and anything else)
		 * means no service: QUIT and go. */
		if (code == 220) {
			if (send_hello(c) < 0)
				tern__smtpc_fail_nomem(c);
		} else {
			tern__smtpc_fail(c, code, enh, text, TERN_SMTP_CLIENT_R_REPLY, true);
		}
		return;
	case TERN__SMTPC_K_EHLO:
	case TERN__SMTPC_K_HELO:
		on_hello(c, e.kind, code, enh, text, text_len);
		return;
	case TERN__SMTPC_K_STARTTLS:
		if (code == 220) {
			c->state = TERN__SMTPC_TLS_WAIT;
			tern__smtpc_event(c, TERN_SMTP_CLIENT_EV_TLS);
			return;
		}
		if (c->opts.tls == TERN_SMTP_CLIENT_TLS_REQUIRED) {
			tern__smtpc_fail(c, code, enh, text, TERN_SMTP_CLIENT_R_TLS, true);
			return;
		}
		/* Opportunistic: go on in plaintext (RFC 3207 4.1 lets the
		 * client decide). */
		tern__smtpc_after_hello(c);
		return;
	case TERN__SMTPC_K_AUTH:
		tern__smtpc_auth_reply(c, code, enh, text);
		return;
	case TERN__SMTPC_K_RSET:
	case TERN__SMTPC_K_MAIL:
	case TERN__SMTPC_K_RCPT:
	case TERN__SMTPC_K_DATA:
	case TERN__SMTPC_K_DISCARD:
	case TERN__SMTPC_K_BDAT:
	case TERN__SMTPC_K_END:
		tern__smtpc_txn_reply(c, &e, code, enh, text);
		return;
	case TERN__SMTPC_K_QUIT:
		c->state = TERN__SMTPC_DONE;
		tern__smtpc_event(c, TERN_SMTP_CLIENT_EV_CLOSED);
		return;
	default:
		fail_protocol(c, "internal: unknown reply kind");
		return;
	}
}

/* ---- public API ---- */

/* The gate of every call that acts: TERN_EINVAL for NULL, TERN_ESTATE
 * outside the one state that allows it (BODY only until the end is
 * written). */
static int gate(const tern_smtp_client *c, enum tern__smtpc_state state)
{
	if (!c)
		return TERN_EINVAL;
	if (c->state != state || (state == TERN__SMTPC_BODY && c->txn.body_done))
		return TERN_ESTATE;
	return 0;
}

static int copy_str(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : TERN_ENOMEM;
}

int tern_smtp_client_new(tern_smtp_client **c_r, const tern_smtp_client_options *opts)
{
	if (!c_r)
		return TERN_EINVAL;
	*c_r = NULL;
	tern_smtp_client_options o;
	if (!opts || options_copy(&o, opts) < 0)
		return TERN_EINVAL;
	opts = &o;
	if (!opts->helo_name || !opts->helo_name[0] ||
	    strlen(opts->helo_name) > 255 || strpbrk(opts->helo_name, " \r\n\t") ||
	    tern__has_control(opts->helo_name, strlen(opts->helo_name)))
		return TERN_EINVAL;
	if (opts->auth_user && !opts->auth_password)
		return TERN_EINVAL;
	tern_smtp_client *c = calloc(1, sizeof(*c));
	if (!c)
		return TERN_ENOMEM;
	c->opts = *opts;
	const char *const *mechs = opts->auth_mechs ? opts->auth_mechs : default_mechs;
	for (size_t i = 0; mechs[i]; i++) {
		int m = tern__sasl_mech_lookup(mechs[i], strlen(mechs[i]));
		if (m < 0 || c->n_auth_pref == sizeof(c->auth_pref)) {
			free(c);
			return TERN_EINVAL;
		}
		c->auth_pref[c->n_auth_pref++] = (signed char)m;
	}
	c->opts.auth_mechs = NULL;
	c->failure.text = c->failure.enhanced = "";
	c->txn.res.text = c->txn.res.enhanced = "";
	c->txn.chunk_res.text = c->txn.chunk_res.enhanced = "";
	tern__buf_init(&c->out, 0);
	int r = copy_str(&c->helo_name, opts->helo_name);
	if (r == 0)
		r = copy_str(&c->auth_user, opts->auth_user);
	if (r == 0)
		r = copy_str(&c->auth_password, opts->auth_password);
	if (r == 0)
		r = copy_str(&c->auth_authzid, opts->auth_authzid);
	if (r == 0)
		r = tern__smtpc_parser_init(&c->parser, opts->max_reply_line, opts->max_reply,
					    opts->max_reply_lines);
	if (r == 0)
		r = tern__smtpc_expect(c, TERN__SMTPC_K_GREETING, 0);
	if (r < 0) {
		tern_smtp_client_destroy(&c);
		return r;
	}
	c->opts.helo_name = c->helo_name;
	c->opts.auth_user = c->auth_user;
	c->opts.auth_password = c->auth_password;
	c->opts.auth_authzid = c->auth_authzid;
	if (!c->opts.output_high_water)
		c->opts.output_high_water = DEFAULT_HIGH_WATER;
	if (!c->opts.bdat_chunk)
		c->opts.bdat_chunk = DEFAULT_BDAT_CHUNK;
	c->secure = opts->tls_active;
	c->state = TERN__SMTPC_GREETING;
	*c_r = c;
	return 0;
}

static void free_secret(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

void tern_smtp_client_destroy(tern_smtp_client **cp)
{
	if (!cp || !*cp)
		return;
	tern_smtp_client *c = *cp;
	free(c->helo_name);
	free(c->auth_user);
	free_secret(&c->auth_password);
	free(c->auth_authzid);
	free(c->test_nonce);
	tern__smtpc_parser_free(&c->parser);
	tern__buf_free(&c->out);
	free(c->expect);
	tern__smtpc_txn_free(&c->txn);
	tern__sasl_client_free(&c->sasl);
	if (c->auth_ir) {
		explicit_bzero(c->auth_ir, c->auth_ir_len);
		free(c->auth_ir);
	}
	tern__smtpc_result_clear(&c->failure);
	free(c);
	*cp = NULL;
}

int tern__smtpc_set_test_nonce(tern_smtp_client *c, const char *nonce)
{
	free(c->test_nonce);
	c->test_nonce = NULL;
	return copy_str(&c->test_nonce, nonce);
}

ssize_t tern_smtp_client_feed(tern_smtp_client *c, const void *data, size_t len)
{
	if (!c || (!data && len))
		return TERN_EINVAL;
	const char *in = data;
	size_t i = 0;
	while (i < len) {
		/* RFC 3207 4.2 (and CVE-2011-0411's lesson): nothing read
		 * after the 220 to STARTTLS is from the TLS peer; drop it. */
		if (c->state == TERN__SMTPC_DONE || c->state == TERN__SMTPC_TLS_WAIT)
			break;
		size_t used = 0;
		int r = tern__smtpc_parser_feed(&c->parser, in + i, len - i, &used);
		i += used;
		if (r < 0) {
			if (r == TERN_ENOMEM)
				tern__smtpc_fail_nomem(c);
			else
				fail_protocol(c, tern__smtpc_reply_strerror(r));
			break;
		}
		if (r == 0)
			break;
		on_reply(c);
		tern__smtpc_parser_next(&c->parser);
	}
	return (ssize_t)len;
}

enum tern_smtp_client_event tern_smtp_client_next_event(tern_smtp_client *c)
{
	if (!c || c->ev_len == 0)
		return TERN_SMTP_CLIENT_EV_NONE;
	enum tern_smtp_client_event ev = c->events[c->ev_head];
	c->ev_head = (c->ev_head + 1) % sizeof(c->events);
	c->ev_len--;
	return ev;
}

const void *tern_smtp_client_output(tern_smtp_client *c, size_t *len_r)
{
	if (!c) {
		if (len_r)
			*len_r = 0;
		return "";
	}
	if (len_r)
		*len_r = c->out.len;
	return tern__buf_ptr(&c->out);
}

void tern_smtp_client_output_consumed(tern_smtp_client *c, size_t n)
{
	if (!c)
		return;
	tern__buf_consume(&c->out, n > c->out.len ? c->out.len : n);
}

int tern_smtp_client_send(tern_smtp_client *c, const tern_smtp_client_message *msg)
{
	if (c && !msg)
		return TERN_EINVAL;
	int g = gate(c, TERN__SMTPC_READY);
	if (g < 0)
		return g;
	tern__smtpc_txn_free(&c->txn);
	c->have_message_result = false;
	int r = tern__smtpc_prepare(c, msg);
	if (r == TERN_EINVAL) {
		tern__smtpc_txn_free(&c->txn);
		return r;
	}
	if (r < 0) {
		tern__smtpc_txn_free(&c->txn);
		tern__smtpc_fail_nomem(c);
		return r;
	}
	r = tern__smtpc_txn_start(c);
	if (r < 0) {
		tern__smtpc_fail_nomem(c);
		return r;
	}
	return 0;
}

ssize_t tern_smtp_client_body(tern_smtp_client *c, const void *data, size_t len)
{
	if (c && !data && len)
		return TERN_EINVAL;
	int g = gate(c, TERN__SMTPC_BODY);
	if (g < 0)
		return g;
	ssize_t r = tern__smtpc_body_data(c, data, len);
	if (r == TERN_ENOMEM)
		tern__smtpc_fail_nomem(c);
	return r;
}

int tern_smtp_client_body_end(tern_smtp_client *c)
{
	int r = gate(c, TERN__SMTPC_BODY);
	if (r < 0)
		return r;
	r = tern__smtpc_body_finish(c);
	if (r == TERN_ENOMEM)
		tern__smtpc_fail_nomem(c);
	if (r == 0)
		c->state = TERN__SMTPC_BODY_END;
	return r;
}

int tern_smtp_client_tls_started(tern_smtp_client *c)
{
	int g = gate(c, TERN__SMTPC_TLS_WAIT);
	if (g < 0)
		return g;
	c->secure = true;
	/* RFC 3207 4.2: forget everything learnt before TLS; EHLO again. */
	memset(&c->caps, 0, sizeof(c->caps));
	c->helo_fallback = false;
	tern__smtpc_parser_next(&c->parser);
	int r = send_hello(c);
	if (r < 0)
		tern__smtpc_fail_nomem(c);
	return r;
}

int tern_smtp_client_quit(tern_smtp_client *c)
{
	int g = gate(c, TERN__SMTPC_READY);
	if (g < 0)
		return g;
	if (tern__smtpc_write(c, "QUIT\r\n") < 0 || tern__smtpc_expect(c, TERN__SMTPC_K_QUIT, 0) < 0) {
		tern__smtpc_fail_nomem(c);
		return TERN_ENOMEM;
	}
	c->state = TERN__SMTPC_QUIT;
	return 0;
}

void tern_smtp_client_timeout(tern_smtp_client *c)
{
	if (!c || c->state == TERN__SMTPC_DONE)
		return;
	tern__smtpc_fail(c, 451, "4.4.2", "timeout waiting for the server", TERN_SMTP_CLIENT_R_TIMEOUT,
			 false);
}

void tern_smtp_client_eof(tern_smtp_client *c)
{
	if (!c || c->state == TERN__SMTPC_DONE)
		return;
	tern__smtpc_fail(c, 451, "4.4.2", "connection closed by the server",
			 TERN_SMTP_CLIENT_R_CLOSED, false);
}

static unsigned or_default(unsigned v, unsigned d) { return v ? v : d; }

unsigned tern_smtp_client_timeout_ms(const tern_smtp_client *c)
{
	if (!c || c->state == TERN__SMTPC_DONE || c->state == TERN__SMTPC_TLS_WAIT)
		return 0;
	const tern_smtp_client_options *o = &c->opts;
	if (c->exp_len == 0) {
		/* RFC 5321 4.5.3.2.5: the data block time bounds each send
		 * while the body goes out; otherwise the caller has the turn. */
		if (c->state == TERN__SMTPC_BODY)
			return or_default(o->timeout_data_block_ms, 3u * 60 * 1000);
		return 0;
	}
	switch (c->expect[c->exp_head].kind) {
	case TERN__SMTPC_K_GREETING:
		return or_default(o->timeout_greeting_ms, MIN_5);
	case TERN__SMTPC_K_MAIL:
		return or_default(o->timeout_mail_ms, MIN_5);
	case TERN__SMTPC_K_RCPT:
		return or_default(o->timeout_rcpt_ms, MIN_5);
	case TERN__SMTPC_K_DATA:
		return or_default(o->timeout_data_init_ms, 2u * 60 * 1000);
	case TERN__SMTPC_K_BDAT:
		return or_default(o->timeout_data_block_ms, 3u * 60 * 1000);
	case TERN__SMTPC_K_END:
	case TERN__SMTPC_K_DISCARD:
		return or_default(o->timeout_data_end_ms, 10u * 60 * 1000);
	default:
		return or_default(o->timeout_other_ms, MIN_5);
	}
}

bool tern_smtp_client_done(const tern_smtp_client *c)
{
	return !c || c->state == TERN__SMTPC_DONE;
}

const tern_smtp_client_result *tern_smtp_client_failure(const tern_smtp_client *c)
{
	return c && c->failed ? &c->failure : NULL;
}

const tern_smtp_client_result *tern_smtp_client_message_result(const tern_smtp_client *c)
{
	return c && c->have_message_result ? &c->txn.res : NULL;
}

const tern_smtp_client_result *tern_smtp_client_rcpt_result(const tern_smtp_client *c, size_t i)
{
	if (!c || !c->have_message_result || i >= c->txn.n_rcpts)
		return NULL;
	return &c->txn.rcpts[i].res;
}

unsigned tern_smtp_client_extensions(const tern_smtp_client *c)
{
	return c ? c->caps.ext : 0;
}

uint64_t tern_smtp_client_size_limit(const tern_smtp_client *c)
{
	return c ? c->caps.size_limit : 0;
}
