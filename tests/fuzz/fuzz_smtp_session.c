/* libFuzzer target for the whole SMTP/LMTP session engine (smtp/engine.h).
 *
 * Input layout: byte 0 picks options (LMTP, bare-newline policy, small size
 * and line limits, hidden extensions, TLS), byte 1 picks which decisions go
 * PENDING (they are always accepted later), byte 2 what happens at the end
 * (timeout, shutdown, eof, nothing) and the AUTH/TLS setup (bits 3-7: AUTH
 * mode, insecure AUTH, STARTTLS available, TLS facts with channel bindings
 * and a client certificate, on_auth going PENDING); byte 0's bits 2 and 3
 * together also trust the client with XCLIENT and XFORWARD; the rest is client
 * input, fed in slices whose lengths come from a PRNG seeded with the
 * input. Pauses are resumed the way a net layer would: a pending decision
 * with resume(), a failed AUTH's delay with delay_over(), STARTTLS's 220
 * with a handshake (tls_started) after the held plaintext is dropped, and
 * DATA's 354 with barrier() (early when the slice held more octets).
 *
 * Besides memory safety (ASan/UBSan) it traps when an invariant breaks:
 * output is made of CRLF-terminated reply lines "ddd" SP/"-" text; nothing
 * follows a 221 or 421; the engine never stops taking input while nothing
 * is pending and its output is drained; on_data_end and on_data_abort are
 * never both called for one message; after the 220 to STARTTLS the engine
 * takes no octet until the handshake; no log line carries a credential the
 * client sent (on_auth's password or token); a session is authenticated only
 * after a "235" went out (or a trusted XCLIENT LOGIN=), and never across a
 * handshake. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/engine.h"
#include "tern/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

/* Build with -DFUZZ_TRACE (and a main calling LLVMFuzzerTestOneInput) to
 * replay a crash with a trace of feeds, resumes and output on stderr. */
#ifdef FUZZ_TRACE
#include <stdio.h>
#define TRACE(...) fprintf(stderr, __VA_ARGS__)
#else
#define TRACE(...) ((void)0)
#endif

struct fz {
	tern_smtp_session *s;
	unsigned pending_mask; /* bit per callback that answers PENDING */
	bool pending;
	bool in_message;       /* between data_start and end/abort */
	bool closed_reply;     /* a 221/421 has been seen */
	/* Partial output line carried between collects. */
	char line[8];
	size_t line_len;       /* octets of the current line seen so far */
	bool line_cr;
	uint64_t body_octets;
	/* AUTH and TLS. */
	bool auth_pending_mode; /* on_auth answers PENDING */
	bool saw_235;           /* a 235 reply went out since the last handshake */
	char secret[64];        /* the last password/token on_auth saw */
	bool log_leak;
};

enum { P_HELO = 1, P_MAIL = 2, P_RCPT = 4, P_START = 8, P_CHUNK = 16, P_END = 32, P_VRFY = 64 };

static int maybe_pending(struct fz *f, unsigned bit)
{
	if (!(f->pending_mask & bit))
		return TERN_SMTP_ACCEPT;
	f->pending = true;
	return TERN_SMTP_PENDING;
}

static int on_helo(tern_smtp_session *s, const char *name, tern_smtp_reply *r, void *ud)
{
	(void)s;
	(void)r;
	CHECK(name && name[0]);
	for (const char *p = name; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	return maybe_pending(ud, P_HELO);
}

static int on_mail(tern_smtp_session *s, const tern_smtp_mail *m, tern_smtp_reply *r, void *ud)
{
	(void)s;
	(void)r;
	for (const char *p = m->address; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	if (m->envid)
		for (const char *p = m->envid; *p; p++)
			CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	return maybe_pending(ud, P_MAIL);
}

static int on_rcpt(tern_smtp_session *s, const tern_smtp_rcpt *rc, tern_smtp_reply *r, void *ud)
{
	(void)s;
	(void)r;
	CHECK(rc->address && rc->address[0]);
	for (const char *p = rc->address; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	if (rc->orcpt)
		for (const char *p = rc->orcpt; *p; p++)
			CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	return maybe_pending(ud, P_RCPT);
}

static int on_data_start(tern_smtp_session *s, tern_smtp_reply *r, void *ud)
{
	struct fz *f = ud;
	(void)r;
	CHECK(!f->in_message);
	f->in_message = true;
	f->body_octets = 0;
	(void)tern_smtp_session_add_header(s, "X-Fuzz", "1");
	return maybe_pending(f, P_START);
}

static int on_data_chunk(tern_smtp_session *s, const void *buf, size_t len, tern_smtp_reply *r,
			 void *ud)
{
	struct fz *f = ud;
	(void)s;
	(void)r;
	CHECK(f->in_message);
	CHECK(buf != NULL && len > 0);
	f->body_octets += len;
	return maybe_pending(f, P_CHUNK);
}

static int on_data_end(tern_smtp_session *s, const tern_smtp_data_info *info, tern_smtp_reply *r,
		       void *ud)
{
	struct fz *f = ud;
	(void)r;
	CHECK(f->in_message);
	CHECK(info->size == f->body_octets);
	f->in_message = false;
	if (tern_smtp_session_rcpt_count(s) > 1)
		(void)tern_smtp_session_set_rcpt_reply(
			s, 1, &(tern_smtp_reply){452, "4.2.2", "Full"});
	return maybe_pending(f, P_END);
}

static void on_data_abort(tern_smtp_session *s, void *ud)
{
	struct fz *f = ud;
	(void)s;
	CHECK(f->in_message);
	f->in_message = false;
}

/* Accepts every third credential set, as an embedder with a users table
 * would: by content, so the fuzzer can reach both answers. */
static int on_auth(tern_smtp_session *s, const struct tern_smtp_auth *a, tern_smtp_reply *r,
		   void *ud)
{
	struct fz *f = ud;
	CHECK(a->mechanism && a->mechanism[0]);
	const char *strs[] = {a->username, a->authzid, a->password, a->token, a->cram_challenge,
			      a->cram_digest, a->external_identity};
	unsigned h = 0;
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		for (const char *p = strs[i]; p && *p; p++)
			h = h * 31 + (unsigned char)*p;
	const char *sec = a->password ? a->password : a->token;
	/* Short secrets would match ordinary log text by chance. */
	if (sec && strlen(sec) >= 6 && strlen(sec) < sizeof(f->secret))
		memcpy(f->secret, sec, strlen(sec) + 1);
	if (a->scram) {
		static const unsigned char salt[16] = "fuzz-salt-16-oct";
		tern_smtp_scram_keys k = {salt, sizeof(salt), 1, {0}, {0}};
		if (h % 3 != 0)
			CHECK(tern_smtp_session_auth_scram_keys(s, &k) == 0);
	}
	if (!a->username && !a->authzid && !a->external_identity)
		(void)tern_smtp_session_set_auth_user(s, "bearer-user");
	if (h % 7 == 1) {
		*r = (tern_smtp_reply){454, "4.7.0", "Try later"};
		return TERN_SMTP_REJECT;
	}
	if (f->auth_pending_mode) {
		f->pending = true;
		if (h % 3 != 0)
			return TERN_SMTP_PENDING;
		/* Refusals are resumed as such: resume() takes a reply. */
		(void)tern_smtp_session_reject(s, 535, "5.7.8", NULL);
		f->pending = false;
		return TERN_SMTP_PENDING;
	}
	return h % 3 != 0 ? TERN_SMTP_ACCEPT : TERN_SMTP_REJECT;
}

static void on_log(tern_smtp_session *s, enum tern_smtp_log_level level, const char *msg,
		   void *ud)
{
	struct fz *f = ud;
	(void)s;
	(void)level;
	CHECK(msg != NULL);
	for (const char *p = msg; *p; p++)
		CHECK((unsigned char)*p >= 0x20);
	if (f->secret[0] && strstr(msg, f->secret))
		f->log_leak = true;
}

static int on_vrfy(tern_smtp_session *s, const char *arg, tern_smtp_reply *r, void *ud)
{
	(void)s;
	(void)arg;
	(void)r;
	return maybe_pending(ud, P_VRFY);
}

/* Checks the reply stream octet by octet, across collects. */
static void check_output(struct fz *f, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		/* Nothing may follow a closing reply (RFC 5321 3.8). */
		CHECK(!(f->closed_reply && f->line_len == 0));
		if (f->line_cr) {
			CHECK(c == '\n');
			f->line_cr = false;
			if (f->line_len >= 4 && (memcmp(f->line, "221 ", 4) == 0 ||
						 memcmp(f->line, "421 ", 4) == 0))
				f->closed_reply = true;
			if (f->line_len >= 4 && memcmp(f->line, "235 ", 4) == 0)
				f->saw_235 = true;
			f->line_len = 0;
			continue;
		}
		if (c == '\r') {
			CHECK(f->line_len >= 4);
			f->line_cr = true;
			continue;
		}
		CHECK(c != '\n');
		if (f->line_len < 3)
			CHECK(c >= '0' && c <= '9');
		if (f->line_len == 0)
			CHECK(c >= '2' && c <= '5');
		if (f->line_len == 3)
			CHECK(c == ' ' || c == '-');
		if (f->line_len < sizeof(f->line))
			f->line[f->line_len] = c;
		f->line_len++;
		CHECK(f->line_len < 2048);
	}
}

static void collect(struct fz *f)
{
	const void *buf;
	size_t len;
	tern__smtp_session_output(f->s, &buf, &len);
	TRACE("out: %.*s", (int)len, (const char *)buf);
	check_output(f, buf, len);
	tern__smtp_session_output_consumed(f->s, len);
}

/* A session is authenticated only after its 235 went out, or by a trusted
 * client's XCLIENT LOGIN= (Postfix's semantics: the proxy vouches). */
static void check_auth(struct fz *f)
{
	const char *mech;

	CHECK(!f->log_leak);
	if (tern_smtp_session_auth_user(f->s) != NULL) {
		mech = tern_smtp_session_auth_mechanism(f->s);
		CHECK(mech != NULL);
		CHECK(f->saw_235 || strcmp(mech, "XCLIENT") == 0);
	}
}

static void resume(struct fz *f)
{
	for (int i = 0; (f->pending || tern__smtp_session_delay_ms(f->s) > 0) && i < 100000; i++) {
		if (tern__smtp_session_delay_ms(f->s) > 0) {
			/* The 535 is held: nothing is read meanwhile. */
			CHECK(!tern__smtp_session_want_input(f->s));
			CHECK(tern__smtp_session_timeout_ms(f->s) == 0);
			TRACE("delay over\n");
			tern__smtp_session_delay_over(f->s);
			collect(f);
			continue;
		}
		f->pending = false;
		TRACE("resume\n");
		int rc = tern_smtp_session_resume(f->s, NULL);
		CHECK(rc == 0 || rc == TERN_ECLOSED);
		collect(f);
	}
	CHECK(!f->pending);
	check_auth(f);
}

/* The net layer's handshake after STARTTLS's 220: the engine must not
 * have asked for input, and afterwards nothing of the earlier session's
 * identity is left. */
static void handshake(struct fz *f, const struct tern__smtp_tls_facts *facts)
{
	CHECK(!tern__smtp_session_want_input(f->s));
	CHECK(tern__smtp_session_feed(f->s, "NOOP\r\n", 6) == 0);
	TRACE("tls_started\n");
	tern__smtp_session_tls_started(f->s, facts);
	f->saw_235 = false;
	collect(f);
	CHECK(tern_smtp_session_secure(f->s));
	CHECK(tern_smtp_session_auth_user(f->s) == NULL);
	CHECK(tern_smtp_session_helo_name(f->s) == NULL);
	CHECK(tern_smtp_session_mail_from(f->s) == NULL);
}

static uint64_t rng_next(uint64_t *x)
{
	/* xorshift64* */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ull;
}

static const char *const disabled[] = {"VRFY", NULL};
static const char *const all_mechs[] = {"PLAIN",   "LOGIN",       "CRAM-MD5",
					"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
					"XOAUTH2", "OAUTHBEARER", "EXTERNAL", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	uint8_t o = data[0], pm = data[1], end = data[2];
	const char *in = (const char *)data + 3;
	size_t len = size - 3;

	struct fz f;
	memset(&f, 0, sizeof(f));
	f.pending_mask = pm & 0x7f;

	tern_smtp_options opts;
	tern_smtp_options_init(&opts);
	opts.name = "mx.fuzz";
	opts.lmtp = o & 1;
	opts.bare_newline = (o & 2) ? TERN_SMTP_BARE_NEWLINE_REJECT : TERN_SMTP_BARE_NEWLINE_NORMALIZE;
	if (o & 4) {
		opts.size = 300;
		opts.max_line_length = 512;
		opts.max_data_line_length = 40;
		opts.max_recipients = 3;
		opts.max_pipelined_commands = 3;
		opts.max_bad_commands = 50;
	}
	opts.disable_received_header = o & 8;
	opts.hide_chunking = (o & 0x30) == 0x10;
	opts.hide_dsn = (o & 0x30) == 0x20;
	opts.hide_smtputf8 = (o & 0x30) == 0x30;
	opts.hide_enhancedstatuscodes = o & 0x40;
	if (o & 0x80)
		opts.disabled_commands = disabled;
	opts.callbacks.on_helo = on_helo;
	opts.callbacks.on_mail_from = on_mail;
	opts.callbacks.on_rcpt_to = on_rcpt;
	opts.callbacks.on_data_start = on_data_start;
	opts.callbacks.on_data_chunk = on_data_chunk;
	opts.callbacks.on_data_end = on_data_end;
	opts.callbacks.on_data_abort = on_data_abort;
	opts.callbacks.on_vrfy = on_vrfy;
	opts.callbacks.on_log = on_log;
	opts.log_level = TERN_LOG_DEBUG;
	/* end bits 3-4: AUTH off, default (required), optional, every
	 * mechanism and optional. */
	unsigned auth = (end >> 3) & 3;
	if (auth != 0)
		opts.callbacks.on_auth = on_auth;
	opts.auth_optional = auth >= 2;
	if (auth == 3)
		opts.auth_methods = all_mechs;
	opts.allow_insecure_auth = end & 0x20;
	opts.max_auth_failures = 1 + (pm & 3);
	opts.auth_failure_delay = 1 + (o & 0x0f);
	f.auth_pending_mode = end & 0x80;
	opts.user_data = &f;
	/* The client (192.0.2.1) may use XCLIENT and XFORWARD when byte 0
	 * asks for small limits and no Received: header too (bits 2-3). */
	static const char *const trusted[] = {"192.0.2.0/24", NULL};
	if ((o & 0x0c) == 0x0c)
		opts.xclient_from = opts.xforward_from = trusted;

	struct tern__smtp_config cfg;
	if (tern__smtp_config_init(&cfg, &opts) != 0)
		return 0;
	struct tern__smtp_conn_info conn = {"192.0.2.1", 1234, "192.0.2.2", 25, (pm & 0x80) != 0,
					    (end & 0x40) != 0, NULL};
	/* What a handshake establishes: channel bindings and a verified
	 * client certificate (so -PLUS and EXTERNAL are reachable). */
	struct tern__smtp_tls_facts facts = {
		.info = {.version = "TLSv1.3", .cipher = "TLS_AES_128_GCM_SHA256",
			 .client_cert = true, .client_cert_verified = (o & 0x80) == 0,
			 .client_cn = "client.fuzz", .client_subject = "CN=client.fuzz",
			 .client_fingerprint = ""},
		.has_exporter = (pm & 0x40) != 0,
		.endpoint_len = (pm & 0x20) ? 32 : 0,
	};
	struct tern__smtp_io io = {0};
	if (tern__smtp_session_new(&f.s, &cfg, &conn, "fuzz", &io) != 0) {
		tern__smtp_config_free(&cfg);
		return 0;
	}
	if (conn.secure)
		tern__smtp_session_tls_started(f.s, &facts); /* implicit TLS */
	tern__smtp_session_start(f.s);
	collect(&f);

	uint64_t seed = 0x9e3779b97f4a7c15ull ^ size;
	for (size_t i = 0; i < size && i < 64; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ull;
	if (!seed)
		seed = 1;

	size_t off = 0;
	unsigned idle = 0;
	while (off < len) {
		size_t want = 1 + (size_t)(rng_next(&seed) % 64);
		if (want > len - off)
			want = len - off;
		ssize_t r = tern__smtp_session_feed(f.s, in + off, want);
		TRACE("feed %zu -> %zd (pending %d)\n", want, r, f.pending);
		collect(&f);
		if (r == TERN_ECLOSED)
			break;
		CHECK(r >= 0 && (size_t)r <= want);
		off += (size_t)r;
		if (tern__smtp_session_want_tls(f.s)) {
			/* STARTTLS's 220 ends what was read in plaintext:
			 * the net layer drops the rest of this write (RFC
			 * 3207 4) and runs the handshake. */
			CHECK(!f.pending);
			CHECK(tern__smtp_session_delay_ms(f.s) == 0);
			off += want - (size_t)r;
			handshake(&f, &facts);
			idle = 0;
			continue;
		}
		if (tern__smtp_session_want_barrier(f.s)) {
			/* DATA's 354 went out: the net layer tells whether it
			 * already held octets sent before it (the rest of
			 * this slice: 554 5.5.0 and close) or not. */
			bool early = (size_t)r < want;

			tern__smtp_session_barrier(f.s, early);
			collect(&f);
			CHECK(!tern__smtp_session_want_barrier(f.s));
			idle = 0;
			continue;
		}
		bool was_pending = f.pending || tern__smtp_session_delay_ms(f.s) > 0;
		if (f.pending && (rng_next(&seed) & 1))
			resume(&f);
		check_auth(&f);
		if ((size_t)r < want) {
			if (f.pending || was_pending || tern__smtp_session_delay_ms(f.s) > 0) {
				resume(&f);
				idle = 0;
			} else {
				/* Output was drained by collect(): the engine must
				 * take input again. */
				idle = r > 0 ? 0 : idle + 1;
				CHECK(idle < 3);
			}
		}
	}
	resume(&f);
	if (tern__smtp_session_want_tls(f.s))
		handshake(&f, &facts);
	if (tern__smtp_session_want_barrier(f.s)) {
		tern__smtp_session_barrier(f.s, false);
		collect(&f);
	}
	(void)tern__smtp_session_timeout_ms(f.s);
	(void)tern__smtp_session_want_input(f.s);
	switch (end & 3) {
	case 1: tern__smtp_session_timeout(f.s); break;
	case 2: tern__smtp_session_shutdown(f.s); break;
	case 3: tern__smtp_session_eof(f.s); break;
	default: break;
	}
	collect(&f);
	if (end & 4)
		tern__smtp_session_draining(f.s);
	collect(&f);
	CHECK(!f.log_leak);
	tern__smtp_session_free(&f.s);
	CHECK(f.s == NULL);
	CHECK(!f.in_message);
	tern__smtp_config_free(&cfg);
	return 0;
}
