/* libFuzzer target for the SMTP/LMTP client engine (tern/smtp_client.h):
 * the reply parser and the whole state machine fed arbitrary server bytes.
 *
 * Input layout: byte 0 picks options (LMTP, no PIPELINING, no CHUNKING,
 * the TLS policy, AUTH credentials, tiny BDAT chunks and high-water mark),
 * byte 1 the messages' shape (DSN, SMTPUTF8 addresses, 8BITMIME, SIZE,
 * REQUIRETLS); the rest is server input, fed in slices whose lengths come
 * from a PRNG seeded with the input. Events are acted on the way a caller
 * would: READY sends a message (three at most, then QUIT), BODY streams a
 * body with dots, bare LFs and CRs in pieces until the engine pushes back,
 * TLS is answered with tls_started(), and output is drained after each
 * call. Sometimes a timeout or EOF ends the session.
 *
 * Besides memory safety it traps when an invariant breaks: feed() takes
 * every byte; every finished message has a result for each recipient with
 * a code in 200..599 and a text; nothing is written and no event comes
 * after EV_CLOSED; the engine never produces EV_READY twice in a row
 * without a message between; the output stays bounded by the high-water
 * mark plus one block or chunk while a body is streamed. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/client/client.h"
#include "tern/smtp_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

struct fz {
	tern_smtp_client *c;
	uint32_t rng;
	unsigned shape;
	unsigned sent;
	bool closed;
	bool in_body;
	size_t body_off;
	size_t high_water, chunk;
	size_t n_rcpts;
};

static uint32_t next_rand(struct fz *f)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 17;
	f->rng ^= f->rng << 5;
	return f->rng;
}

static const char body[] = ".start\r\nline\n.\nbare\rcr\r\n..\r\n\x80\xff end";

static void drain(struct fz *f)
{
	size_t len = 0;
	tern_smtp_client_output(f->c, &len);
	if (f->closed)
		CHECK(len == 0);
	tern_smtp_client_output_consumed(f->c, len);
}

static void send_message(struct fz *f)
{
	static tern_smtp_client_rcpt rcpts[] = {
		{ "x@y.example", TERN_SMTP_NOTIFY_SUCCESS, "rfc822", "x@y.example" },
		{ "j\xc3\xb6rg@y.example", TERN_SMTP_NOTIFY_NEVER, NULL, NULL },
		{ "z@b\xc3\xbc" "cher.example", 0, NULL, NULL },
		{ "postmaster", TERN_SMTP_NOTIFY_FAILURE | TERN_SMTP_NOTIFY_DELAY, NULL, NULL },
	};
	tern_smtp_client_message m;
	memset(&m, 0, sizeof(m));
	m.from = (f->shape & 1) ? "" : (f->shape & 2) ? "a@m\xc3\xbcnchen.example" : "a@b.example";
	m.rcpts = (f->shape & 2) ? rcpts : rcpts + 2;
	m.n_rcpts = (f->shape & 2) ? 4 : 2;
	m.body = (enum tern_smtp_body)((f->shape >> 2) % 3);
	m.size = (f->shape & 0x20) ? 5000 : 0;
	m.requiretls = f->shape & 0x40;
	m.ret = (f->shape & 0x80) ? TERN_SMTP_RET_HDRS : TERN_SMTP_RET_UNSET;
	m.envid = (f->shape & 0x80) ? "env+id" : NULL;
	f->n_rcpts = m.n_rcpts;
	CHECK(tern_smtp_client_send(f->c, &m) == 0);
	f->sent++;
}

static void check_results(struct fz *f)
{
	const tern_smtp_client_result *m = tern_smtp_client_message_result(f->c);
	CHECK(m != NULL);
	CHECK(m->code >= 200 && m->code <= 599 && m->text && m->enhanced);
	for (size_t i = 0; i < f->n_rcpts; i++) {
		const tern_smtp_client_result *r = tern_smtp_client_rcpt_result(f->c, i);
		CHECK(r != NULL);
		CHECK(r->code >= 200 && r->code <= 599 && r->text && r->enhanced);
	}
	CHECK(tern_smtp_client_rcpt_result(f->c, f->n_rcpts) == NULL);
}

static void stream_body(struct fz *f)
{
	for (int round = 0; round < 4 && f->in_body; round++) {
		if (f->body_off < sizeof(body) - 1) {
			size_t n = 1 + next_rand(f) % 7;
			if (n > sizeof(body) - 1 - f->body_off)
				n = sizeof(body) - 1 - f->body_off;
			ssize_t r = tern_smtp_client_body(f->c, body + f->body_off, n);
			if (r < 0) {
				f->in_body = false;
				break;
			}
			CHECK((size_t)r <= n);
			f->body_off += (size_t)r;
		} else {
			int r = tern_smtp_client_body_end(f->c);
			if (r == 0 || r == TERN_ESTATE)
				f->in_body = false;
		}
		size_t len = 0;
		tern_smtp_client_output(f->c, &len);
		CHECK(len <= f->high_water + 4096 + f->chunk + 64);
		if (next_rand(f) % 2)
			drain(f);
	}
}

static void events(struct fz *f)
{
	enum tern_smtp_client_event ev;
	bool ready_seen = false;
	while ((ev = tern_smtp_client_next_event(f->c)) != TERN_SMTP_CLIENT_EV_NONE) {
		CHECK(!f->closed);
		switch (ev) {
		case TERN_SMTP_CLIENT_EV_READY:
			CHECK(!ready_seen);
			ready_seen = true;
			f->in_body = false;
			if (f->sent < 3)
				send_message(f);
			else
				CHECK(tern_smtp_client_quit(f->c) == 0);
			break;
		case TERN_SMTP_CLIENT_EV_TLS:
			CHECK(tern_smtp_client_tls_started(f->c) == 0);
			break;
		case TERN_SMTP_CLIENT_EV_BODY:
			if (!f->in_body) {
				f->in_body = true;
				f->body_off = 0;
			}
			break;
		case TERN_SMTP_CLIENT_EV_MESSAGE_DONE:
			ready_seen = false;
			f->in_body = false;
			check_results(f);
			break;
		case TERN_SMTP_CLIENT_EV_CLOSED:
			CHECK(tern_smtp_client_done(f->c));
			drain(f);
			f->closed = true;
			break;
		default:
			CHECK(0);
		}
	}
	if (f->in_body && !f->closed)
		stream_body(f);
	/* A stalled body (output or a BDAT reply) resumes after a drain. */
	if (!f->closed)
		drain(f);
	else
		CHECK(tern_smtp_client_next_event(f->c) == TERN_SMTP_CLIENT_EV_NONE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	static const char *const mechs[] = { "SCRAM-SHA-256", "PLAIN", "LOGIN", "CRAM-MD5", NULL };
	struct fz f;
	memset(&f, 0, sizeof(f));
	tern_smtp_client_options o;
	tern_smtp_client_options_init(&o);
	o.helo_name = "fuzz.example";
	o.lmtp = data[0] & 1;
	o.no_pipelining = data[0] & 2;
	o.no_chunking = data[0] & 4;
	o.tls = (enum tern_smtp_client_tls)((data[0] >> 3) % 3);
	if (data[0] & 0x20) {
		o.auth_user = "user";
		o.auth_password = "pencil";
		o.auth_mechs = mechs;
		o.auth_required = data[0] & 0x40;
		o.auth_insecure = (data[0] & 0x06) != 0x06;
	}
	if (data[0] & 0x80) {
		o.bdat_chunk = 3;
		o.output_high_water = 16;
	}
	f.high_water = o.output_high_water ? o.output_high_water : 65536;
	f.chunk = o.bdat_chunk ? o.bdat_chunk : 65536;
	f.shape = data[1];
	f.rng = 2166136261u;
	for (size_t i = 0; i < size; i++)
		f.rng = (f.rng ^ data[i]) * 16777619u;
	if (!f.rng)
		f.rng = 1;
	if (tern_smtp_client_new(&f.c, &o) != 0)
		return 0;
	(void)tern__smtpc_set_test_nonce(f.c, "fuzznonce");
	const char *in = (const char *)data + 2;
	size_t len = size - 2, off = 0;
	while (off < len) {
		size_t n = 1 + next_rand(&f) % 64;
		if (n > len - off)
			n = len - off;
		char *copy = malloc(n);
		memcpy(copy, in + off, n);
		CHECK(tern_smtp_client_feed(f.c, copy, n) == (ssize_t)n);
		free(copy);
		off += n;
		events(&f);
		(void)tern_smtp_client_timeout_ms(f.c);
	}
	switch (next_rand(&f) % 4) {
	case 0:
		tern_smtp_client_timeout(f.c);
		break;
	case 1:
		tern_smtp_client_eof(f.c);
		break;
	default:
		break;
	}
	events(&f);
	tern_smtp_client_destroy(&f.c);
	return 0;
}
