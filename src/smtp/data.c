/* Message transfer shared by DATA and BDAT: asking the embedder to start,
 * the trace header, streaming decoded bytes with size accounting, and the
 * end-of-message replies (one, or one per recipient in LMTP). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp/command.h"

/* Postfix's hopcount_limit: Received: fields a message may carry. */
#define DEFAULT_MAX_HOPS 50

/* ---- Received: (RFC 5321 4.4, RFC 3848) -------------------------------- */

const char *tern__smtp_with_keyword(const tern_smtp_session *s)
{
	/* RFC 3848 2 and RFC 6531 3.7.3: protocol, then S for TLS, then A
	 * for AUTH. */
	static const char *const names[2][2][2][2] = {
		/* [lmtp][utf8][secure][auth] */
		{{{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}},
		 {{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}}},
		{{{"LMTP", "LMTPA"}, {"LMTPS", "LMTPSA"}},
		 {{"UTF8LMTP", "UTF8LMTPA"}, {"UTF8LMTPS", "UTF8LMTPSA"}}},
	};
	bool utf8 = s->tx.active && s->tx.mail.smtputf8;
	if (s->helo_kind != TERN__HELO_LHLO && s->helo_kind != TERN__HELO_EHLO)
		return "SMTP";
	return names[s->helo_kind == TERN__HELO_LHLO][utf8][s->secure][tern__smtp_authenticated(s)];
}

/* The trace header is built with plain appends: it is written once per
 * message, and printf was a tenth of the instructions a message costs. */
static int put(struct tern__buf *b, const char *str)
{
	return tern__buf_append(b, str, strlen(str));
}

/* Decimal, zero-padded to at least `width` digits. */
static int put_uint(struct tern__buf *b, unsigned long v, int width)
{
	char d[24];
	int n = 0;
	do {
		d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < (int)sizeof(d));
	while (n < width && n < (int)sizeof(d))
		d[sizeof(d) - 1 - n++] = '0';
	return tern__buf_append(b, d + sizeof(d) - n, (size_t)n);
}

/* RFC 5322 3.3 date in UTC, without the locale strftime would consult. */
static int put_rfc5322_date(struct tern__buf *b, long long now)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)now;
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return put(b, "Thu, 1 Jan 1970 00:00:00 +0000");
	int r = put(b, days[tm.tm_wday % 7]);
	r = r ? r : put(b, ", ");
	r = r ? r : put_uint(b, (unsigned long)tm.tm_mday, 1);
	r = r ? r : put(b, " ");
	r = r ? r : put(b, months[tm.tm_mon % 12]);
	r = r ? r : put(b, " ");
	r = r ? r : put_uint(b, (unsigned long)(tm.tm_year + 1900), 4);
	r = r ? r : put(b, " ");
	r = r ? r : put_uint(b, (unsigned long)tm.tm_hour, 2);
	r = r ? r : put(b, ":");
	r = r ? r : put_uint(b, (unsigned long)tm.tm_min, 2);
	r = r ? r : put(b, ":");
	r = r ? r : put_uint(b, (unsigned long)tm.tm_sec, 2);
	return r ? r : put(b, " +0000");
}

/* RFC 5321 4.4 Time-stamp-line:
 *   "Received:" FWS Stamp: "from" Extended-Domain, "by" Domain, "with"
 *   Protocol (RFC 3848), "id" Atom, "for" Path, ";" date-time.
 * The id joins session id and transaction number with "-" (atext). */
static int build_received(tern_smtp_session *s, struct tern__buf *b)
{
	long long now = s->io.now ? s->io.now(s->io.io_ctx) : (long long)time(NULL);
	/* RFC 6531 3.7.3: trace fields are ASCII unless the message is
	 * SMTPUTF8; a UTF-8 HELO name is shown with '?'. */
	char helo[256];
	/* XFORWARD: the up-stream client, as Postfix shows it; XCLIENT with
	 * NAME: "name [addr]" (RFC 5321 4.4 TCP-info). */
	const char *fwd_helo = NULL;
	const char *client = tern__smtp_received_client(s, &fwd_helo);
	const char *name = fwd_helo ? fwd_helo : s->helo_name ? s->helo_name : "unknown";
	size_t hl = strnlen(name, sizeof(helo) - 1);
	memcpy(helo, name, hl);
	helo[hl] = '\0';
	if (!(s->tx.active && s->tx.mail.smtputf8))
		for (char *p = helo; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	int r = put(b, "Received: from ");
	r = r ? r : put(b, helo);
	r = r ? r : put(b, " (");
	if (client != NULL || s->client_hostname[0] == '[') {
		r = r ? r : put(b, client ? client : s->client_hostname);
	} else {
		/* RFC 5321 4.4: TCP-info is the address literal, after the
		 * name reverse DNS confirmed: "(name [addr])". */
		bool v6 = strchr(s->remote_address, ':') != NULL;
		r = r ? r : put(b, s->client_hostname);
		r = r ? r : put(b, v6 ? " [IPv6:" : " [");
		r = r ? r : put(b, s->remote_address);
		r = r ? r : put(b, "]");
	}
	r = r ? r : put(b, ")\r\n\tby ");
	r = r ? r : put(b, s->cfg->name);
	r = r ? r : put(b, " (Tern) with ");
	r = r ? r : put(b, tern__smtp_with_keyword(s));
	r = r ? r : put(b, " id ");
	r = r ? r : put(b, s->id);
	r = r ? r : put(b, "-");
	r = r ? r : put_uint(b, s->transactions + 1ul, 1);
	/* "for" only with one recipient: more would disclose the others. */
	if (s->tx.rcpt_count == 1) {
		r = r ? r : put(b, "\r\n\tfor <");
		r = r ? r : put(b, s->tx.rcpts[0]->rcpt.address);
		r = r ? r : put(b, ">");
	}
	r = r ? r : put(b, ";\r\n\t");
	r = r ? r : put_rfc5322_date(b, now);
	return r ? r : put(b, "\r\n");
}

/* ---- streaming ---------------------------------------------------------- */

static void abort_embedder(tern_smtp_session *s)
{
	if (!s->tx.data_started)
		return;
	s->tx.data_started = false;
	if (s->opts->callbacks.on_data_abort) {
		tern__smtp_enter(s);
		s->opts->callbacks.on_data_abort(s, s->opts->user_data);
		tern__smtp_leave(s);
	}
}

void tern__data_abort(tern_smtp_session *s)
{
	abort_embedder(s);
}

static void fail(tern_smtp_session *s, enum tern__body_error e)
{
	tern__body_fail(&s->body, e);
	abort_embedder(s);
}

/* Hands bytes to on_data_chunk. Returns non-zero to pause input. */
static int deliver(tern_smtp_session *s, const char *p, size_t n)
{
	s->body.emitted += n;
	if (tern__smtp_closed(s))
		return 1; /* closed from inside a callback: deliver nothing more */
	if (!s->opts->callbacks.on_data_chunk)
		return 0;
	tern_smtp_reply r = {0};
	tern__smtp_decide_begin(s, TERN__WAIT_CHUNK);
	int d = s->opts->callbacks.on_data_chunk(s, p, n, &r, s->opts->user_data);
	d = tern__smtp_decide_end(s, d, &r);
	if (d == TERN_SMTP_PENDING)
		return 1; /* s->wait is CHUNK: resume() goes on reading */
	if (!tern__smtp_decision_ok(d, &r)) {
		tern__kept_reply_set(&s->body.reply, r.code, r.enhanced, r.text);
		fail(s, TERN__BODY_REJECTED);
	}
	return 0;
}

/* Emit function for the body decoders: client octets, counted. */
static int emit_body(void *ctx, const char *p, size_t n)
{
	tern_smtp_session *s = ctx;
	uint64_t limit = s->opts->size;
	if (limit && (s->body.size + n > limit || s->body.size + n < s->body.size)) {
		/* RFC 1870 6.2 (and 6.3 for BDAT): over the limit; the rest is
		 * read and dropped so the session stays in step. */
		fail(s, TERN__BODY_TOO_BIG);
		return 0;
	}
	s->body.size += n;
	if (s->body.error == TERN__BODY_OK) {
		unsigned max = s->opts->max_received_headers ? s->opts->max_received_headers
							     : DEFAULT_MAX_HOPS;

		tern__hops_scan(&s->body.hops, p, n);
		if (s->body.hops.count > max) {
			/* RFC 5321 6.3: a message that has passed this many
			 * relays is looping; refused, never delivered. */
			fail(s, TERN__BODY_LOOP);
			return 0;
		}
	}
	return deliver(s, p, n);
}

/* Sends the trace header and the embedder's headers as the first chunk. */
static void emit_headers(tern_smtp_session *s)
{
	struct tern__buf b;
	tern__buf_init(&b, 0);
	/* One allocation for the usual trace header (a few hundred octets);
	 * added headers past it grow the buffer. */
	int r = 0;
	if (!s->opts->disable_received_header) {
		r = tern__buf_reserve(&b, 1024);
		r = r ? r : build_received(s, &b);
	}
	for (struct tern__smtp_header *h = s->tx.headers; h && r == 0; h = h->next)
		r = tern__buf_append(&b, h->line, h->len);
	tern__smtp_tx_free_headers(&s->tx);
	if (r < 0) {
		tern__buf_free(&b);
		fail(s, TERN__BODY_REJECTED);
		return;
	}
	if (b.len)
		(void)deliver(s, tern__buf_ptr(&b), b.len);
	tern__buf_free(&b);
}

/* ---- start -------------------------------------------------------------- */

static void start_body(tern_smtp_session *s)
{
	s->tx.data_started = true;
	s->body.error = TERN__BODY_OK;
	s->body.size = s->body.emitted = 0;
	memset(&s->body.hops, 0, sizeof(s->body.hops));
	tern__body_data_begin(&s->body);
	emit_headers(s);
}

static void start_bdat_chunk(tern_smtp_session *s)
{
	s->input = TERN__INPUT_BDAT;
	if (s->body.remaining == 0)
		(void)tern__data_feed(s, "", 0);
}

void tern__data_start_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r)
{
	bool bdat = s->tx.bdat_used;
	s->tx.headers_open = false;
	if (!tern__smtp_decision_ok(decision, r)) {
		tern__smtp_tx_free_headers(&s->tx);
		if (!bdat) {
			tern_smtp_reply def_ok = {354, "2.0.0", "Go ahead"};
			tern_smtp_reply def_fail = {554, "5.7.1", "Message refused"};
			tern__smtp_reply_decision(s, decision, r, &def_ok, &def_fail);
			return;
		}
		/* RFC 3030 2: read the chunk, then refuse it and the rest,
		 * with the same default refusal DATA would get. */
		bool own = r->code >= 400 && r->code < 600;
		char enh[16];
		snprintf(enh, sizeof(enh), "%d.7.1", own ? r->code / 100 : 5);
		tern__kept_reply_set(&s->body.reply, own ? r->code : 554,
				     own && r->enhanced ? r->enhanced : enh,
				     r->text && r->text[0] ? r->text : "Message refused");
		tern__body_fail(&s->body, TERN__BODY_REJECTED);
		s->body.discard = true;
		s->tx.bdat_failed = true;
		start_bdat_chunk(s);
		return;
	}
	uint64_t remaining = s->body.remaining;
	bool last = s->body.last;
	start_body(s);
	if (tern__smtp_closed(s))
		return; /* on_data_chunk closed it on the trace header: no 354 */
	s->body.remaining = remaining;
	s->body.last = last;
	if (bdat) {
		start_bdat_chunk(s);
		return;
	}
	/* RFC 5321 4.1.1.4: 354, then the text until CRLF.CRLF. RFC 2920
	 * 3.1: DATA ends a pipelined group, so the client sends the text
	 * only once it has the 354: the engine takes nothing more until the
	 * net layer says whether the client had already sent some (barrier). */
	tern__smtp_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	s->input = TERN__INPUT_DATA;
	s->data_barrier = true;
}

void tern__data_start(tern_smtp_session *s, bool bdat)
{
	s->tx.bdat_used = bdat;
	s->tx.headers_open = true;
	tern_smtp_reply r = {0};
	int d = TERN_SMTP_ACCEPT;
	if (s->opts->callbacks.on_data_start) {
		tern__smtp_decide_begin(s, bdat ? TERN__WAIT_BDAT_START : TERN__WAIT_DATA_START);
		d = s->opts->callbacks.on_data_start(s, &r, s->opts->user_data);
		d = tern__smtp_decide_end(s, d, &r);
	}
	if (d != TERN_SMTP_PENDING)
		tern__data_start_decided(s, d, &r);
}

int tern_smtp_session_add_header(tern_smtp_session *s, const char *name, const char *value)
{
	if (!s || !name || !value || !name[0])
		return TERN_EINVAL;
	if (tern__smtp_closed(s))
		return TERN_ECLOSED;
	if (!s->tx.headers_open)
		return TERN_ESTATE;
	/* RFC 5322 2.2: field name is printable ASCII without ":"; the value
	 * may not break the line (no CR, LF or other controls). */
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == ':')
			return TERN_EINVAL;
	for (const char *p = value; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return TERN_EINVAL;
	return tern__smtp_tx_add_header(&s->tx, name, value);
}

/* ---- end of message ----------------------------------------------------- */

/* The reply for a message that failed while it streamed. */
static tern_smtp_reply failure_reply(const tern_smtp_session *s)
{
	switch (s->body.error) {
	case TERN__BODY_TOO_BIG:
		return (tern_smtp_reply){552, "5.3.4", "Message size exceeds fixed maximum message size"};
	case TERN__BODY_LINE_TOO_LONG:
		/* RFC 5321 4.5.3.1.6 sets the 1000-octet line limit. */
		return (tern_smtp_reply){554, "5.6.0", "Message has a line longer than allowed"};
	case TERN__BODY_BARE_NEWLINE:
		return (tern_smtp_reply){550, "5.5.2", "Message has bare CR or LF (RFC 5321 2.3.8)"};
	case TERN__BODY_LOOP:
		/* RFC 3463 5.4.6: routing loop detected. */
		return (tern_smtp_reply){554, "5.4.6", "Too many hops: mail loop detected"};
	default:
		return (tern_smtp_reply){451, "4.3.0", "Message not accepted, try again later"};
	}
}

/* One reply per accepted recipient in LMTP (RFC 2033 4.2), else one.
 * Per-recipient replies set by the embedder count only for its own verdict
 * (stored): a message that failed on the way was stored for nobody. */
static void reply_each(tern_smtp_session *s, int decision, const tern_smtp_reply *r,
		       const tern_smtp_reply *def_ok, const tern_smtp_reply *def_fail,
		       bool stored)
{
	unsigned n = s->opts->lmtp ? s->tx.rcpt_count : 1;
	for (unsigned i = 0; i < n; i++) {
		struct tern__smtp_recipient *rc = s->opts->lmtp && stored ? s->tx.rcpts[i] : NULL;
		if (rc && rc->reply.code) {
			int d = tern__smtp_decision_ok(TERN_SMTP_ACCEPT, &rc->reply) ? TERN_SMTP_ACCEPT
										       : TERN_SMTP_REJECT;
			tern__smtp_reply_decision(s, d, &rc->reply, def_ok, def_fail);
		} else {
			tern__smtp_reply_decision(s, decision, r, def_ok, def_fail);
		}
	}
}

static void end_transaction(tern_smtp_session *s)
{
	s->transactions++;
	tern__smtp_session_reset_tx(s);
}

void tern__data_end_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r)
{
	if (tern__smtp_decision_ok(decision, r))
		s->junk_commands = 0; /* mail was delivered: the chatter was not idle */
	tern_smtp_reply def_ok = {250, "2.6.0", "Message accepted"};
	tern_smtp_reply def_fail = {451, "4.3.0", "Message not stored, try again later"};
	tern__smtp_log(s, TERN_LOG_INFO, "message %s, %llu octets",
		       tern__smtp_decision_ok(decision, r) ? "accepted" : "refused",
		       (unsigned long long)s->body.size);
	if (s->cfg->stats != NULL && tern__smtp_decision_ok(decision, r)) {
		tern__stats_add(&s->cfg->stats->msg_accepted, 1);
		tern__stats_add(&s->cfg->stats->msg_bytes, s->body.size);
	} else if (s->cfg->stats != NULL) {
		tern__stats_add(&s->cfg->stats->msg_refused, 1);
	}
	s->tx.data_started = false; /* finished: no abort from here on */
	bool failed = s->data_end_failed;
	s->data_end_failed = false;
	reply_each(s, decision, r, &def_ok, &def_fail, !failed);
	end_transaction(s);
}

/* The whole message (DATA end, or BDAT LAST) has been read. */
static void message_complete(tern_smtp_session *s)
{
	s->input = TERN__INPUT_COMMAND;
	if (s->body.error != TERN__BODY_OK) {
		tern_smtp_reply fr = failure_reply(s);
		tern_smtp_reply kept = tern__kept_reply_get(&s->body.reply);
		tern_smtp_reply *er = s->body.error == TERN__BODY_REJECTED ? &kept : NULL;
		tern__smtp_log(s, TERN_LOG_INFO, "message refused: %s", fr.text);
		if (s->cfg->stats != NULL)
			tern__stats_add(&s->cfg->stats->msg_refused, 1);
		abort_embedder(s);
		reply_each(s, TERN_SMTP_REJECT, er, &fr, &fr, false);
		end_transaction(s);
		return;
	}
	tern_smtp_data_info info = {s->body.emitted, s->tx.bdat_used};
	tern_smtp_reply r = {0};
	int d = TERN_SMTP_ACCEPT;
	if (s->opts->callbacks.on_data_end) {
		tern__smtp_decide_begin(s, TERN__WAIT_DATA_END);
		d = s->opts->callbacks.on_data_end(s, &info, &r, s->opts->user_data);
		d = tern__smtp_decide_end(s, d, &r);
	}
	if (d != TERN_SMTP_PENDING)
		tern__data_end_decided(s, d, &r);
}

/* A BDAT chunk (not LAST) has been read. */
static void chunk_complete(tern_smtp_session *s)
{
	s->input = TERN__INPUT_COMMAND;
	if (s->body.discard && s->body.out_of_sequence) {
		/* No transaction to fail: just the sequence error, counted as
		 * DATA's are (a 554 after refused RCPTs is not the client's). */
		struct tern__kept_reply *k = &s->body.reply;
		s->body.discard = s->body.out_of_sequence = false;
		if (k->code == 554)
			tern__smtp_reply(s, k->code, k->has_enhanced ? k->enhanced : NULL, "%s", k->text);
		else
			tern__smtp_reply_error(s, k->code, k->has_enhanced ? k->enhanced : NULL, "%s",
					       k->text);
		return;
	}
	if (s->body.discard || s->body.error != TERN__BODY_OK) {
		/* RFC 3030 2: this and later chunks are refused until the
		 * transaction is reset. */
		s->tx.bdat_failed = true;
		abort_embedder(s);
		tern_smtp_reply fr = failure_reply(s);
		tern_smtp_reply kept = tern__kept_reply_get(&s->body.reply);
		tern_smtp_reply *er = tern__kept_reply_empty(&s->body.reply) ? NULL : &kept;
		s->body.discard = false;
		if (s->body.last && s->tx.rcpt_count > 0) {
			/* The message ends here: LMTP owes one reply per
			 * recipient (RFC 2033 4.2). */
			reply_each(s, TERN_SMTP_REJECT, er, &fr, &fr, false);
			end_transaction(s);
		} else {
			tern__smtp_reply_decision(s, TERN_SMTP_REJECT, er, &fr, &fr);
		}
		return;
	}
	if (s->body.last) {
		message_complete(s);
		return;
	}
	tern__smtp_reply(s, 250, "2.0.0", "%llu octets received",
			 (unsigned long long)s->body.chunk_size);
}

size_t tern__data_feed(tern_smtp_session *s, const char *in, size_t len)
{
	bool done = false;
	size_t used;
	if (tern__smtp_closed(s))
		return 0;
	if (s->input == TERN__INPUT_DATA) {
		struct tern__body_policy policy = {s->opts->max_data_line_length,
						   s->opts->bare_newline};
		used = tern__body_data_feed(&s->body, &policy, in, len, &done, emit_body, s);
		if (done && !tern__smtp_closed(s))
			message_complete(s);
		return used;
	}
	used = tern__body_bdat_feed(&s->body, in, len, &done, emit_body, s);
	if (tern__smtp_closed(s))
		return used; /* closed from on_data_chunk: the chunk ends nothing */
	if (done) {
		if (s->wait == TERN__WAIT_CHUNK)
			/* The embedder paused on the chunk's last octets: the
			 * chunk (and with LAST the message) is complete only
			 * when it resumes, never before (RFC 5321 6.1). */
			s->body.chunk_done = true;
		else
			chunk_complete(s);
	}
	return used;
}

void tern__data_chunk_resumed(tern_smtp_session *s, int decision, const tern_smtp_reply *r)
{
	if (!tern__smtp_decision_ok(decision, r) && s->body.error == TERN__BODY_OK) {
		/* resume() with a refusal (tern_smtp_session_reject()) is the
		 * chunk's REJECT, as if returned by on_data_chunk. */
		tern__kept_reply_set(&s->body.reply, r->code, r->enhanced, r->text);
		fail(s, TERN__BODY_REJECTED);
	}
	if (s->body.chunk_done) {
		s->body.chunk_done = false;
		chunk_complete(s);
	}
}

int tern_smtp_session_set_rcpt_reply(tern_smtp_session *s, unsigned idx,
				     const tern_smtp_reply *reply)
{
	if (!s || !reply)
		return TERN_EINVAL;
	if (tern__smtp_closed(s))
		return TERN_ECLOSED;
	/* Only a clear reply class may stand for a recipient (fail closed). */
	if (idx >= s->tx.rcpt_count || (reply->code != 0 && (reply->code < 200 ||
							      reply->code > 599 ||
							      reply->code / 100 == 3)))
		return TERN_EINVAL;
	struct tern__smtp_recipient *rc = s->tx.rcpts[idx];
	char *text = reply->text ? strdup(reply->text) : NULL;
	char *enh = reply->enhanced ? strdup(reply->enhanced) : NULL;
	if ((reply->text && !text) || (reply->enhanced && !enh)) {
		free(text);
		free(enh);
		return TERN_ENOMEM;
	}
	free(rc->reply_text);
	free(rc->reply_enhanced);
	rc->reply_text = text;
	rc->reply_enhanced = enh;
	rc->reply = (tern_smtp_reply){reply->code ? reply->code : 250, enh, text};
	return 0;
}
