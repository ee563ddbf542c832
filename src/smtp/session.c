/* The session state machine: input framing, the pipelining queue, decisions
 * and their resumption, timeouts and teardown. Commands live in cmd_*.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/command.h"
#include "smtp/session.h"
#include "util/address.h"

/* The engine stops reading while this much output is unsent: a client that
 * pipelines without reading replies cannot grow our memory. */
#define OUTPUT_HIGH_WATER (16 * 1024)
/* After a 554 greeting (RFC 5321 3.1) the client should send QUIT and
 * nothing much else: this much input, or this much time, and the session
 * ends rather than read what a client that does not listen keeps sending. */
#define REFUSED_INPUT_MAX 4096
#define REFUSED_TIMEOUT_MS 2000

int tern__smtp_session_new(tern_smtp_session **session_r, const struct tern__smtp_config *cfg,
			   const struct tern__smtp_conn_info *conn, const char *id,
			   const struct tern__smtp_io *io)
{
	*session_r = NULL;
	tern_smtp_session *s = calloc(1, sizeof(*s));
	if (!s)
		return TERN_ENOMEM;
	s->cfg = cfg;
	s->opts = &cfg->opts;
	if (io)
		s->io = *io;
	snprintf(s->id, sizeof(s->id), "%s", id ? id : "-");
	const char *ra = conn && conn->remote_address ? conn->remote_address : "";
	const char *la = conn && conn->local_address ? conn->local_address : "";
	s->remote_address = strdup(ra);
	s->local_address = strdup(la);
	/* The client is known by its address literal (RFC 5321 4.1.3 form,
	 * as used in Received:) until the net layer's reverse lookup
	 * confirms a name (tern__smtp_session_set_client_hostname). */
	size_t hl = strlen(ra) + 8;
	s->client_hostname = malloc(hl);
	if (!s->remote_address || !s->local_address || !s->client_hostname) {
		free(s->remote_address);
		free(s->local_address);
		free(s->client_hostname);
		free(s);
		return TERN_ENOMEM;
	}
	snprintf(s->client_hostname, hl, strchr(ra, ':') ? "[IPv6:%s]" : "[%s]", ra);
	s->listener = conn && conn->listener ? conn->listener : &cfg->listener;
	if (conn) {
		s->remote_port = conn->remote_port;
		s->local_port = conn->local_port;
		s->secure = conn->secure;
		s->tls_available = conn->tls_available;
	}
	/* The line buffer holds one command line with its CRLF: exactly the
	 * max_line_length octets RFC 5321 4.5.3.1.4 counts. */
	/* RFC 4954 4: AUTH lines (the command and the exchange) may be
	 * 12288 octets; line_complete holds other commands to
	 * max_line_length. */
	tern__buf_init(&s->line, s->listener->auth_offered && s->opts->max_line_length < 12290
					 ? 12290
					 : s->opts->max_line_length);
	tern__buf_init(&s->out, 0);
	tern__smtp_tx_init(&s->tx);
	*session_r = s;
	return 0;
}

static void connect_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r)
{
	if (tern__smtp_decision_ok(decision, r)) {
		/* RFC 5321 4.3.1 greeting; no enhanced code (RFC 2034 applies
		 * after EHLO). */
		const char *proto = s->opts->lmtp ? "LMTP" : "ESMTP";
		if (s->cfg->banner)
			tern__smtp_reply(s, 220, NULL, "%s %s %s", s->cfg->name, proto,
					 s->cfg->banner);
		else
			tern__smtp_reply(s, 220, NULL, "%s %s Tern", s->cfg->name, proto);
		return;
	}
	/* RFC 5321 3.1: 554 instead of the greeting, and then the server
	 * "MUST wait for the client to send a QUIT" and answers anything else
	 * with 503 (the bad-command limit still bounds it). A 421 closes. */
	tern_smtp_reply def_ok = {220, "2.0.0", "Ready"};
	tern_smtp_reply def_fail = {554, "5.7.1", "Access denied"};
	tern__smtp_reply_decision(s, decision, r, &def_ok, &def_fail);
	s->refused = true;
	if (r && r->code == 521)
		s->closing = true; /* RFC 7504 3: "does not accept mail", closes */
	tern__smtp_log(s, TERN_LOG_INFO, "connection from %s refused", s->remote_address);
}

void tern__smtp_session_start(tern_smtp_session *s)
{
	if (s->started)
		return;
	s->started = true;
	tern_smtp_reply r = {0};
	int d = TERN_SMTP_ACCEPT;
	if (s->opts->callbacks.on_connect) {
		tern__smtp_decide_begin(s, TERN__WAIT_CONNECT);
		d = s->opts->callbacks.on_connect(s, &r, s->opts->user_data);
		d = tern__smtp_decide_end(s, d, &r);
	}
	if (d != TERN_SMTP_PENDING)
		connect_decided(s, d, &r);
}

/* The net layer's reverse lookup confirmed a name (before start). */
int tern__smtp_session_set_client_hostname(tern_smtp_session *s, const char *name)
{
	if (s->close_state == TERN__CLOSE_ENDED || s->client_hostname == NULL)
		return TERN_ECLOSED;
	/* It goes into the EHLO reply and Received: a domain (RFC 5321
	 * 4.1.2 Domain), never an address literal or anything else. */
	if (name == NULL || name[0] == '[' || !tern__domain_valid(name, strlen(name), false))
		return TERN_EINVAL;
	char *copy = strdup(name);
	if (!copy)
		return TERN_ENOMEM;
	free(s->client_hostname);
	s->client_hostname = copy;
	return 0;
}

void tern__smtp_session_start_busy(tern_smtp_session *s)
{
	s->started = true;
	s->end_reason = TERN__END_BUSY;
	tern__smtp_reply(s, 421, "4.3.2", "%s Too many connections, try again later",
			 s->cfg->name);
}

void tern__smtp_session_start_refused(tern_smtp_session *s, const char *why)
{
	s->started = true;
	tern__smtp_log(s, TERN_LOG_INFO, "refused: %s", why);
	tern__smtp_reply(s, 421, "4.7.0", "%s %s", s->cfg->name, why);
}

/* ---- decisions ---------------------------------------------------------- */

static void early_clear(tern_smtp_session *s)
{
	s->early_resume = false;
	s->early_reply_set = false;
	tern__kept_reply_clear(&s->early_reply);
}

void tern__smtp_decide_begin(tern_smtp_session *s, enum tern__smtp_wait kind)
{
	early_clear(s);
	s->deciding = kind;
	tern__smtp_enter(s);
}

static const char *callback_name(enum tern__smtp_wait kind)
{
	switch (kind) {
	case TERN__WAIT_CONNECT: return "on_connect";
	case TERN__WAIT_HELO: return "on_helo";
	case TERN__WAIT_MAIL: return "on_mail_from";
	case TERN__WAIT_RCPT: return "on_rcpt_to";
	case TERN__WAIT_DATA_START:
	case TERN__WAIT_BDAT_START: return "on_data_start";
	case TERN__WAIT_CHUNK: return "on_data_chunk";
	case TERN__WAIT_DATA_END: return "on_data_end";
	case TERN__WAIT_VRFY: return "on_vrfy";
	case TERN__WAIT_AUTH: return "on_auth";
	case TERN__WAIT_AUTH_DELAY:
	case TERN__WAIT_NONE: break;
	}
	return "callback";
}

/* A reply code an embedder may give: 0 (the default) or RFC 5321 4.2.1's
 * 2yz to 5yz. */
static bool code_valid(int code)
{
	return code == 0 || (code >= 200 && code <= 599);
}

/* ARCHITECTURE.md: anything that is not a clear accept fails closed. A
 * decision value the API does not define, or a reply code no reply class
 * has, is a bug in the embedder: answer with a temporary failure (the
 * client retries once it is fixed), never with a positive reply. Sets *r
 * (kept in the session until the next decision) and returns REJECT. */
static int fail_closed(tern_smtp_session *s, enum tern__smtp_wait kind, const char *what,
		       int value, tern_smtp_reply *r)
{
	tern__smtp_log(s, TERN_LOG_ERROR, "%s gave an invalid %s (%d): answered 4.3.0",
		       callback_name(kind), what, value);
	if (kind == TERN__WAIT_CONNECT) {
		/* RFC 5321 3.1 and 4.3.2: the replies to a connection are 220
		 * and 554, and 421 at any time; a 451 is no greeting. 421
		 * closes the session (RFC 5321 3.8). */
		char text[200];
		snprintf(text, sizeof(text), "%s Service not available, closing", s->cfg->name);
		tern__kept_reply_set(&s->early_reply, 421, "4.3.0", text);
	} else {
		tern__kept_reply_set(&s->early_reply, 451, "4.3.0",
				     "Local error in processing, try again later");
	}
	*r = tern__kept_reply_get(&s->early_reply);
	if (kind == TERN__WAIT_DATA_END)
		s->data_end_failed = true; /* LMTP: no per-recipient reply wins */
	return TERN_SMTP_REJECT;
}

/* The decision a reply given to resume() (or from inside the callback)
 * stands for. */
static int resumed_decision(tern_smtp_session *s, enum tern__smtp_wait kind,
			    const tern_smtp_reply *reply, tern_smtp_reply *r)
{
	if (reply && !code_valid(reply->code))
		return fail_closed(s, kind, "reply code", reply->code, r);
	if (reply)
		*r = *reply;
	else
		memset(r, 0, sizeof(*r));
	return tern__smtp_decision_ok(TERN_SMTP_ACCEPT, r) ? TERN_SMTP_ACCEPT : TERN_SMTP_REJECT;
}

int tern__smtp_decide_end(tern_smtp_session *s, int decision, tern_smtp_reply *r)
{
	tern__smtp_leave(s); /* carries out a close asked inside the callback */
	enum tern__smtp_wait kind = s->deciding;
	s->deciding = TERN__WAIT_NONE;
	if (tern__smtp_closed(s))
		return TERN_SMTP_PENDING; /* nothing more for this command */
	if (decision != TERN_SMTP_ACCEPT && decision != TERN_SMTP_REJECT &&
	    decision != TERN_SMTP_PENDING)
		return fail_closed(s, kind, "decision", decision, r);
	if (decision != TERN_SMTP_PENDING) {
		if (!code_valid(r->code))
			return fail_closed(s, kind, "reply code", r->code, r);
		return decision;
	}
	if (s->early_resume) {
		/* The embedder answered before returning PENDING. */
		if (s->early_reply_set) {
			tern_smtp_reply kept = tern__kept_reply_get(&s->early_reply);
			return resumed_decision(s, kind, &kept, r);
		}
		memset(r, 0, sizeof(*r));
		return TERN_SMTP_ACCEPT;
	}
	s->wait = kind;
	return TERN_SMTP_PENDING;
}

void tern__smtp_wait(tern_smtp_session *s, enum tern__smtp_wait what)
{
	s->wait = what;
}

void tern__smtp_wakeup(tern_smtp_session *s)
{
	if (!s->in_feed && s->io.wakeup)
		s->io.wakeup(s->io.io_ctx);
}

static void run_queue(tern_smtp_session *s);

int tern_smtp_session_resume(tern_smtp_session *s, const tern_smtp_reply *reply)
{
	if (!s)
		return TERN_EINVAL;
	/* A late answer (a slow lookup) for a session the client or the
	 * embedder closed: the embedder's reference keeps the object, and
	 * this is all it may still do. */
	if (s->eof || tern__smtp_closed(s))
		return TERN_ECLOSED;
	if (s->deciding != TERN__WAIT_NONE && s->wait == TERN__WAIT_NONE) {
		/* Called from inside the deciding callback: remember it. */
		if (s->early_resume)
			return TERN_ESTATE;
		s->early_resume = true;
		if (reply) {
			tern__kept_reply_set(&s->early_reply, reply->code, reply->enhanced,
					     reply->text);
			s->early_reply_set = true;
		}
		return 0;
	}
	/* The pause after a failed AUTH is the engine's, not a decision. */
	if (s->wait == TERN__WAIT_NONE || s->wait == TERN__WAIT_AUTH_DELAY)
		return TERN_ESTATE;
	enum tern__smtp_wait kind = s->wait;
	s->wait = TERN__WAIT_NONE;
	tern_smtp_reply rr;
	int d = resumed_decision(s, kind, reply, &rr);
	const tern_smtp_reply *r = &rr;
	switch (kind) {
	case TERN__WAIT_CONNECT: connect_decided(s, d, r); break;
	case TERN__WAIT_HELO: tern__cmd_helo_decided(s, d, r); break;
	case TERN__WAIT_MAIL: tern__cmd_mail_decided(s, d, r); break;
	case TERN__WAIT_RCPT: tern__cmd_rcpt_decided(s, d, r); break;
	case TERN__WAIT_VRFY: tern__cmd_vrfy_decided(s, d, r); break;
	case TERN__WAIT_DATA_START:
	case TERN__WAIT_BDAT_START: tern__data_start_decided(s, d, r); break;
	case TERN__WAIT_DATA_END: tern__data_end_decided(s, d, r); break;
	case TERN__WAIT_CHUNK: tern__data_chunk_resumed(s, d, r); break; /* then reading goes on */
	case TERN__WAIT_AUTH: tern__smtp_auth_decided(s, d, r); break;
	case TERN__WAIT_AUTH_DELAY:
	case TERN__WAIT_NONE: break;
	}
	run_queue(s);
	tern__smtp_wakeup(s);
	return 0;
}

/* ---- command input ------------------------------------------------------ */

/* While waiting for one of these decisions, the bytes after the command
 * are still commands, so they may be parsed ahead (RFC 2920). After DATA,
 * BDAT or a paused chunk they are message content and must not be. */
static bool may_parse_ahead(const tern_smtp_session *s)
{
	switch (s->wait) {
	case TERN__WAIT_NONE:
	case TERN__WAIT_HELO:
	case TERN__WAIT_MAIL:
	case TERN__WAIT_RCPT:
	case TERN__WAIT_VRFY:
	case TERN__WAIT_DATA_END:
		return true;
	default:
		return false;
	}
}

static bool ready_to_execute(const tern_smtp_session *s)
{
	return s->wait == TERN__WAIT_NONE && !s->closing && s->input == TERN__INPUT_COMMAND;
}

/* Answers one line in its turn; a framing error is answered in its turn
 * too, so that its 500 cannot overtake a pending command's reply. */
static void execute_line(tern_smtp_session *s, char *line, size_t len,
			 enum tern__smtp_framing framing)
{
	switch (framing) {
	case TERN__FRAMING_TOO_LONG:
		/* RFC 5321 4.5.3.1.4 and 4.2.4: "500 Line too long"; the rest
		 * of the line was dropped and the session goes on. */
		tern__smtp_reply_error(s, 500, "5.5.2", "Line too long (limit %u octets)",
					 s->opts->max_line_length);
		return;
	case TERN__FRAMING_AUTH_TOO_LONG:
		/* RFC 4954 4: the initial response has the exchange's limit
		 * (12288 octets) and its reply. */
		tern__smtp_reply_error(s, 500, "5.5.6", "Authentication exchange line is too long");
		return;
	case TERN__FRAMING_BARE_LF:
		/* RFC 5321 2.3.8: lines end with CRLF only; a bare LF is not
		 * taken as the end of a command, and a line holding one is
		 * refused whole. */
		tern__smtp_reply_error(s, 500, "5.5.2", "Syntax error: bare LF in a command line");
		return;
	case TERN__FRAMING_OK:
		break;
	}
	tern__cmd_execute(s, line, len);
}

static void run_queue(tern_smtp_session *s)
{
	while (s->queue_count > 0 && ready_to_execute(s)) {
		struct tern__smtp_queued *q = &s->queue[s->queue_head];
		char *line = q->line;
		size_t len = q->len;
		enum tern__smtp_framing framing = q->framing;
		q->line = NULL;
		s->queue_head = (s->queue_head + 1) % s->opts->max_pipelined_commands;
		s->queue_count--;
		if (s->queue_count == 0)
			s->queue_blocked = false;
		execute_line(s, line, len, framing);
		free(line);
	}
	if (s->closing) {
		/* Nothing queued behind a closing reply is ever answered. */
		while (s->queue_count > 0) {
			free(s->queue[s->queue_head].line);
			s->queue[s->queue_head].line = NULL;
			s->queue_head = (s->queue_head + 1) % s->opts->max_pipelined_commands;
			s->queue_count--;
		}
		s->queue_blocked = false;
	}
}

static int enqueue(tern_smtp_session *s, const char *line, size_t len,
		   enum tern__smtp_framing framing)
{
	unsigned max = s->opts->max_pipelined_commands;
	if (!s->queue) {
		s->queue = calloc(max, sizeof(*s->queue));
		if (!s->queue)
			return TERN_ENOMEM;
	}
	char *copy = NULL;
	if (framing == TERN__FRAMING_OK) {
		copy = malloc(len + 1);
		if (!copy)
			return TERN_ENOMEM;
		memcpy(copy, line, len);
		copy[len] = '\0';
	}
	struct tern__smtp_queued *q = &s->queue[(s->queue_head + s->queue_count) % max];
	q->line = copy;
	q->len = len;
	q->framing = framing;
	s->queue_count++;
	return 0;
}

/* A complete line (with its LF) is in s->line. */
static void line_complete(tern_smtp_session *s)
{
	s->progress++;
	char *line = s->line.data + s->line.off;
	size_t len = s->line.len;
	enum tern__smtp_framing framing = TERN__FRAMING_OK;
	if (s->line_overflow) {
		s->line_overflow = false;
		framing = s->overflow_auth ? TERN__FRAMING_AUTH_TOO_LONG : TERN__FRAMING_TOO_LONG;
		s->overflow_auth = false;
	} else {
		len -= 2; /* take_line completes a line only at CRLF */
		if (s->line_bare_lf)
			framing = TERN__FRAMING_BARE_LF;
	}
	s->line_bare_lf = false;
	line[len] = '\0';
	if (tern__smtp_auth_reading(s)) {
		/* An answer to a 334: the AUTH exchange's, never a command. */
		tern__smtp_auth_line(s, line, len, framing != TERN__FRAMING_OK &&
							   framing != TERN__FRAMING_BARE_LF);
		tern__buf_clear(&s->line);
		return;
	}
	/* The buffer is longer than max_line_length when AUTH is offered:
	 * only an AUTH command line may use the difference. */
	if (framing == TERN__FRAMING_OK && len + 2 > s->opts->max_line_length &&
	    !(len >= 5 && strncasecmp(line, "AUTH ", 5) == 0))
		framing = TERN__FRAMING_TOO_LONG;
	if (s->wait != TERN__WAIT_NONE || s->queue_count > 0) {
		bool ends = framing == TERN__FRAMING_OK && tern__cmd_line_ends_group(line, len);
		if (enqueue(s, line, len, framing) < 0)
			tern__smtp_reply(s, 421, "4.3.0", "%s Out of memory, closing",
					 s->cfg->name);
		else if (ends)
			s->queue_blocked = true;
	} else {
		execute_line(s, line, len, framing);
	}
	tern__buf_clear(&s->line);
}

/* Takes command bytes up to and including one LF. Returns octets used. */
static size_t take_line(tern_smtp_session *s, const char *in, size_t len)
{
	const char *lf = memchr(in, '\n', len);
	size_t n = lf ? (size_t)(lf - in) + 1 : len;
	int r = s->line_overflow ? 0 : tern__buf_append(&s->line, in, n);
	if (r == TERN_ENOMEM) {
		tern__smtp_reply(s, 421, "4.3.0", "%s Out of memory, closing", s->cfg->name);
		s->closing = true; /* even if that reply could not be queued */
		return n;
	}
	if (r == TERN_ELIMIT) {
		/* Remember whether it was AUTH before the octets go: its
		 * overflow has a reply of its own. The buffer holds far more
		 * than the verb when it overflows. */
		char head[5];
		size_t have = s->line.len < 5 ? s->line.len : 5;
		if (have > 0)
			memcpy(head, s->line.data + s->line.off, have);
		size_t more = 5 - have < n ? 5 - have : n;
		memcpy(head + have, in, more);
		s->overflow_auth = have + more == 5 && strncasecmp(head, "AUTH ", 5) == 0;
		s->line_overflow = true;
		tern__buf_clear(&s->line);
	}
	if (lf && !(n >= 2 ? in[n - 2] == '\r' : s->line_prev_cr)) {
		/* RFC 5321 2.3.8: only CRLF ends a line. A bare LF stays
		 * inside the line, which is refused when it ends, so that
		 * "NOOP\nMAIL FROM:<x>\r\n" is one bad line here as it is
		 * for a proxy or filter that splits on CRLF only. */
		s->line_bare_lf = true;
		s->line_prev_cr = false;
		return n;
	}
	s->line_prev_cr = !lf && in[n - 1] == '\r';
	if (s->line_overflow && lf)
		(void)tern__buf_append(&s->line, "\n", 1);
	if (lf)
		line_complete(s);
	return n;
}

static bool can_take_command(const tern_smtp_session *s)
{
	if (!may_parse_ahead(s) || s->queue_blocked)
		return false;
	if (s->wait == TERN__WAIT_NONE && s->queue_count == 0)
		return true;
	return s->queue_count < s->opts->max_pipelined_commands;
}

ssize_t tern__smtp_session_feed(tern_smtp_session *s, const void *buf, size_t len)
{
	const char *in = buf;
	if (s->closing || s->eof)
		return TERN_ECLOSED;
	if (!s->started || (s->wait == TERN__WAIT_CONNECT && !s->reconnected)) {
		/* Postfix postscreen's pregreet test: a real client waits for
		 * the greeting (RFC 5321 3.1). Not after XCLIENT: what its
		 * client sends while on_connect decides again just waits. */
		s->started = true;
		s->wait = TERN__WAIT_NONE;
		tern__smtp_reply(s, 554, "5.5.0", "%s Protocol error: talking before the greeting",
				 s->cfg->name);
		s->closing = true;
		return TERN_ECLOSED;
	}
	if (s->refused) {
		s->refused_octets += len;
		if (s->refused_octets > REFUSED_INPUT_MAX) {
			tern__smtp_reply(s, 421, "4.7.0", "%s Service refused, closing", s->cfg->name);
			s->closing = true;
			return TERN_ECLOSED;
		}
	}
	s->in_feed = true;
	size_t used = 0;
	/* After STARTTLS's 220 not one more octet is taken: what the client
	 * sent behind the command stays with the net layer, which discards
	 * it before the handshake (RFC 3207 4, CVE-2011-0411). */
	while (used < len && !s->closing && !s->eof && !s->tls_wanted && !s->data_barrier) {
		if (s->out.len > OUTPUT_HIGH_WATER)
			break;
		if (s->input != TERN__INPUT_COMMAND) {
			if (s->wait != TERN__WAIT_NONE)
				break;
			size_t n = tern__data_feed(s, in + used, len - used);
			used += n;
			/* Message data is progress per KiB (or at its end), so
			 * a client must send at least 1 KiB per data_timeout: a
			 * byte now and then cannot hold the session. */
			s->data_octets += n;
			if (s->data_octets >= 1024 || s->input == TERN__INPUT_COMMAND) {
				s->progress++;
				s->data_octets = 0;
			}
			if (s->input == TERN__INPUT_COMMAND)
				run_queue(s);
			continue;
		}
		if (!can_take_command(s))
			break;
		used += take_line(s, in + used, len - used);
	}
	s->in_feed = false;
	if (s->closing)
		return TERN_ECLOSED;
	return (ssize_t)used;
}

/* ---- the DATA barrier --------------------------------------------------- */

bool tern__smtp_session_want_barrier(const tern_smtp_session *s)
{
	return s->data_barrier && !s->closing && !s->eof;
}

void tern__smtp_session_barrier(tern_smtp_session *s, bool early_input)
{
	if (!s->data_barrier)
		return;
	s->data_barrier = false;
	if (!early_input || s->closing || s->eof)
		return;
	/* RFC 2920 3.1: DATA must end a pipelined group; message text that
	 * arrived before the 354 was sent is a client (or smuggler) that does
	 * not wait for replies. Nothing of it is stored. Deliberately strict,
	 * as Postfix's smtpd_forbid_unauth_pipelining is. */
	tern__data_abort(s);
	tern__smtp_reply(s, 554, "5.5.0",
			 "%s Protocol error: message text sent before the 354 reply, closing",
			 s->cfg->name);
	s->closing = true;
	tern__smtp_log(s, TERN_LOG_WARNING, "message text before the 354 (pipelining after DATA)");
}

/* ---- output and lifecycle ----------------------------------------------- */

void tern__smtp_session_output(tern_smtp_session *s, const void **buf_r, size_t *len_r)
{
	*buf_r = tern__buf_ptr(&s->out);
	*len_r = s->out.len;
}

void tern__smtp_session_output_consumed(tern_smtp_session *s, size_t n)
{
	tern__buf_consume(&s->out, n);
}

bool tern__smtp_session_want_close(const tern_smtp_session *s)
{
	return s->closing || s->eof;
}

bool tern__smtp_session_want_input(const tern_smtp_session *s)
{
	if (s->closing || s->eof || s->tls_wanted || s->data_barrier ||
	    s->out.len > OUTPUT_HIGH_WATER)
		return false;
	if (s->input != TERN__INPUT_COMMAND)
		return s->wait == TERN__WAIT_NONE;
	return can_take_command(s);
}

unsigned tern__smtp_session_progress(const tern_smtp_session *s)
{
	return s->progress;
}

unsigned tern__smtp_session_timeout_ms(const tern_smtp_session *s)
{
	if (s->closing || s->eof)
		return 0;
	if (s->wait != TERN__WAIT_NONE)
		return 0; /* the embedder, not the client, is being waited for */
	if (s->refused)
		return REFUSED_TIMEOUT_MS < s->opts->socket_timeout ? REFUSED_TIMEOUT_MS
								  : s->opts->socket_timeout;
	return s->input == TERN__INPUT_COMMAND ? s->opts->socket_timeout : s->opts->data_timeout;
}

void tern__smtp_session_timeout(tern_smtp_session *s)
{
	if (s->closing || s->eof)
		return;
	tern__data_abort(s);
	if (s->end_reason == TERN__END_NONE)
		s->end_reason = TERN__END_TIMEOUT;
	tern__smtp_reply(s, 421, "4.4.2", "%s Timeout waiting for client input, closing",
			 s->cfg->name);
	tern__smtp_log(s, TERN_LOG_INFO, "idle timeout");
}

void tern__smtp_session_shutdown(tern_smtp_session *s)
{
	if (s->closing || s->eof)
		return;
	tern__data_abort(s);
	if (s->end_reason == TERN__END_NONE)
		s->end_reason = TERN__END_SHUTDOWN;
	tern__smtp_reply(s, 421, "4.3.2", "%s Service shutting down, closing", s->cfg->name);
}

void tern__smtp_session_draining(tern_smtp_session *s)
{
	s->draining = true;
	/* An idle session (no transaction, nothing in flight) goes now; one in
	 * the middle of a transaction may finish it. */
	if (!s->closing && !s->eof && s->started && !s->tx.active && s->wait == TERN__WAIT_NONE &&
	    s->input == TERN__INPUT_COMMAND && s->queue_count == 0 && s->line.len == 0) {
		tern__smtp_reply(s, 421, "4.3.2", "%s Service shutting down, closing",
				 s->cfg->name);
		tern__smtp_wakeup(s);
	}
}

void tern__smtp_session_eof(tern_smtp_session *s)
{
	if (s->eof)
		return;
	tern__data_abort(s);
	s->eof = true;
	tern__buf_clear(&s->out);
}

void tern__smtp_close_now(tern_smtp_session *s)
{
	s->close_state = TERN__CLOSE_DONE;
	tern__data_abort(s); /* on_data_abort, at most once */
	s->closing = true;
	tern__smtp_wakeup(s);
}

void tern_smtp_session_close(tern_smtp_session *s)
{
	if (!s || tern__smtp_closed(s) || s->eof)
		return;
	if (s->in_callback > 0) {
		/* STYLE.md: a callback may close the session. The engine code
		 * that called it runs on when it returns, so the close waits
		 * for that (tern__smtp_leave); re-entering the engine here
		 * would abort a message under its own feet. */
		s->close_state = TERN__CLOSE_DEFERRED;
		return;
	}
	tern__smtp_close_now(s);
}

void tern__smtp_session_reset_tx(tern_smtp_session *s)
{
	bool had = s->tx.active;
	tern__data_abort(s);
	tern__smtp_tx_reset(&s->tx);
	tern__smtp_xforward_reset(s); /* Postfix: XFORWARD lasts one transaction */
	memset(&s->body, 0, sizeof(s->body));
	s->input = TERN__INPUT_COMMAND;
	if (had && s->opts->callbacks.on_reset && !tern__smtp_closed(s)) {
		tern__smtp_enter(s);
		s->opts->callbacks.on_reset(s, s->opts->user_data);
		tern__smtp_leave(s);
	}
}

/* Releases everything but the object itself, which the embedder's
 * references may keep: what is left reads as an ended session (accessors
 * give NULL and 0, resume gives TERN_ECLOSED) and never points at the
 * server's config, which may be gone by then. */
/* How the session ended, counted once (util/stats.h). */
static void count_end(tern_smtp_session *s)
{
	unsigned r = s->end_reason;

	if (s->cfg->stats == NULL || r == TERN__END_BUSY)
		return;
	if (r == TERN__END_NONE)
		r = !s->closing ? TERN__END_GONE
		    : s->draining ? TERN__END_SHUTDOWN : TERN__END_CLOSED;
	tern__stats_add(&s->cfg->stats->ended[r], 1);
}

static void session_release(tern_smtp_session *s)
{
	tern__data_abort(s);
	count_end(s);
	if (s->opts->callbacks.on_close) {
		tern__smtp_enter(s);
		s->opts->callbacks.on_close(s, s->opts->user_data);
		tern__smtp_leave(s);
	}
	s->close_state = TERN__CLOSE_ENDED;
	tern__smtp_tx_reset(&s->tx);
	early_clear(s);
	for (unsigned i = 0; s->queue && i < s->opts->max_pipelined_commands; i++)
		free(s->queue[i].line);
	free(s->queue);
	s->queue = NULL;
	s->queue_count = 0;
	tern__buf_free(&s->line);
	tern__buf_free(&s->out);
	free(s->helo_name);
	free(s->pending_helo);
	free(s->remote_address);
	free(s->local_address);
	free(s->client_hostname);
	s->helo_name = s->pending_helo = NULL;
	s->remote_address = s->local_address = s->client_hostname = NULL;
	tern__smtp_tls_free(&s->tls); /* tern_smtp_session_tls_info() gives NULL now */
	tern__smtp_auth_free(&s->auth);
	tern__smtp_xstate_free(&s->xstate);
	s->helo_kind = TERN__HELO_NONE;
	s->remote_port = s->local_port = 0;
	s->secure = false;
	s->transactions = 0;
	s->cfg = NULL;
	s->opts = NULL;
	memset(&s->io, 0, sizeof(s->io));
}

void tern_smtp_session_ref(tern_smtp_session *s)
{
	if (s)
		s->refs++;
}

void tern_smtp_session_unref(tern_smtp_session **sp)
{
	if (!sp || !*sp)
		return;
	tern_smtp_session *s = *sp;
	*sp = NULL;
	/* An unref without its ref (an embedder bug) is ignored rather than
	 * allowed to free an object someone still uses. */
	if (s->refs == 0)
		return;
	/* The engine's own hold ends only with session_free (ENDED). */
	if (--s->refs == 0 && s->close_state == TERN__CLOSE_ENDED)
		free(s);
}

void tern__smtp_session_free(tern_smtp_session **sp)
{
	tern_smtp_session *s = *sp;
	*sp = NULL;
	if (!s)
		return;
	/* The net layer never frees from inside a callback of this session
	 * (its wakeup is deferred to the loop); the references are the
	 * embedder's, for answers that arrive after the end. */
	s->eof = true;
	session_release(s);
	if (s->refs == 0)
		free(s); /* else the embedder's last unref frees it */
}
