/* Reply building: the one place replies are formatted (RFC 5321 4.2, RFC
 * 2034/3463 enhanced status codes). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "smtp/session.h"

static bool enhanced_valid(const char *e, int code)
{
	/* RFC 3463 2: class "." subject "." detail; class matches the reply. */
	if (!e || !(e[0] == '2' || e[0] == '4' || e[0] == '5') || e[1] != '.')
		return false;
	if (e[0] - '0' != code / 100)
		return false;
	const char *p = e + 2;
	for (int part = 0; part < 2; part++) {
		int digits = 0;
		while (isdigit((unsigned char)*p) && digits < 4) {
			p++;
			digits++;
		}
		if (digits == 0 || digits > 3)
			return false;
		if (part == 0 && *p++ != '.')
			return false;
	}
	return *p == '\0';
}

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its CRLF. */
#define REPLY_LINE_MAX 512

/* Formats one reply line into line[REPLY_LINE_MAX]: head, then text with
 * control characters turned into spaces (so no reply, embedder text
 * included, can inject a line), cut to fit, then CRLF. Returns its length. */
static size_t format_line(char *line, const char *head, const char *text)
{
	size_t n = strlen(head);
	memcpy(line, head, n);
	for (const char *p = text; *p && n < REPLY_LINE_MAX - 2; p++) {
		unsigned char c = (unsigned char)*p;
		line[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	line[n++] = '\r';
	line[n++] = '\n';
	return n;
}

/* Out of memory for output: nothing coherent can be said any more, so the
 * session ends (a half-written reply would desynchronise the client). */
static void output_failed(tern_smtp_session *s)
{
	s->closing = true;
	tern__smtp_log(s, TERN_LOG_ERROR, "out of memory for a reply; closing");
}

static void reply_text(tern_smtp_session *s, int code, const char *enhanced, const char *text)
{
	/* RFC 5321 3.8: a closing reply (421, 221) is the last thing said;
	 * a decision that arrives afterwards has nobody to answer. */
	if (s->eof || s->closing)
		return;
	char head[32], line[REPLY_LINE_MAX];
	bool show_enhanced = enhanced && !s->opts->hide_enhancedstatuscodes;
	/* Built by hand: this runs for every reply, and printf was a tenth of
	 * the instructions per message. */
	size_t h = 0;
	head[h++] = (char)('0' + code / 100 % 10);
	head[h++] = (char)('0' + code / 10 % 10);
	head[h++] = (char)('0' + code % 10);
	head[h++] = ' ';
	if (show_enhanced) {
		size_t el = strnlen(enhanced, 12);
		memcpy(head + h, enhanced, el);
		h += el;
		head[h++] = ' ';
	}
	head[h] = '\0';
	size_t n = format_line(line, head, text);
	if (tern__buf_append(&s->out, line, n) < 0) {
		output_failed(s);
		return;
	}
	/* RFC 5321 3.8: after 421 the server closes; 221 ends QUIT. */
	if (code == 421 || code == 221)
		s->closing = true;
	if (code == 221 && s->end_reason == TERN__END_NONE)
		s->end_reason = TERN__END_QUIT;
	tern__stats_reply(s->cfg->stats, code, enhanced);
	tern__smtp_log(s, code >= 400 ? TERN_LOG_INFO : TERN_LOG_DEBUG, "reply %d %s %s", code,
		       enhanced ? enhanced : "-", text);
}

__attribute__((format(printf, 4, 0))) static void reply_v(tern_smtp_session *s, int code,
							     const char *enhanced,
							     const char *fmt, va_list ap)
{
	char text[REPLY_LINE_MAX];
	if (!strchr(fmt, '%')) {
		reply_text(s, code, enhanced, fmt); /* most replies: fixed text */
	} else if (fmt[0] == '%' && fmt[1] == 's' && fmt[2] == '\0') {
		reply_text(s, code, enhanced, va_arg(ap, const char *));
	} else {
		vsnprintf(text, sizeof(text), fmt, ap);
		reply_text(s, code, enhanced, text);
	}
}

void tern__smtp_reply(tern_smtp_session *s, int code, const char *enhanced, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_v(s, code, enhanced, fmt, ap);
	va_end(ap);
}

void tern__smtp_reply_lines(tern_smtp_session *s, int code, const char *enhanced,
			    const char *const *lines, size_t n)
{
	if (s->eof || s->closing)
		return;
	/* The whole reply goes in at once or not at all. */
	size_t start = s->out.len;
	for (size_t i = 0; i < n; i++) {
		char head[32], line[REPLY_LINE_MAX];
		bool show_enhanced = enhanced && !s->opts->hide_enhancedstatuscodes;
		/* RFC 2034 3: the enhanced code starts every line of a reply. */
		snprintf(head, sizeof(head), show_enhanced ? "%03d%c%s " : "%03d%c", code,
			 i + 1 < n ? '-' : ' ', enhanced);
		size_t len = format_line(line, head, lines[i]);
		if (tern__buf_append(&s->out, line, len) < 0) {
			s->out.len = start;
			output_failed(s);
			return;
		}
	}
	tern__stats_reply(s->cfg->stats, code, enhanced);
}

bool tern__smtp_decision_ok(int decision, const tern_smtp_reply *r)
{
	/* Fail closed: only an explicit ACCEPT can be positive. */
	if (decision != TERN_SMTP_ACCEPT)
		return false;
	return !(r && r->code >= 400);
}

void tern__smtp_reply_decision(tern_smtp_session *s, int decision, const tern_smtp_reply *r,
			       const tern_smtp_reply *def_ok, const tern_smtp_reply *def_fail)
{
	bool ok = tern__smtp_decision_ok(decision, r);
	const tern_smtp_reply *def = ok ? def_ok : def_fail;
	int code = def->code;
	if (r && r->code) {
		int cls = r->code / 100;
		if (ok ? cls == 2 : (cls == 4 || cls == 5))
			code = r->code;
	}
	/* Derive the enhanced code: the embedder's if valid, else the default
	 * with its class digit changed to match (550 5.1.1 -> 450 4.1.1). */
	char derived[16];
	const char *enhanced = r && enhanced_valid(r->enhanced, code) ? r->enhanced : NULL;
	if (!enhanced) {
		/* The default with its class digit swapped, built by hand. */
		derived[0] = (char)('0' + code / 100);
		size_t dl = strnlen(def->enhanced + 1, sizeof(derived) - 2);
		memcpy(derived + 1, def->enhanced + 1, dl);
		derived[dl + 1] = '\0';
		enhanced = derived;
	}
	const char *text = r && r->text && r->text[0] ? r->text : def->text;
	if (!(r && r->text && r->text[0]) && code >= 500 && def->code < 500)
		/* A temporary default ("try again later") must not ride on a
		 * permanent code. */
		text = "Refused";
	reply_text(s, code, enhanced, text);
}

/* Counts a bad command; at the limit sends 421 4.7.0 instead of the reply
 * and returns true. */
static bool bad_command(tern_smtp_session *s)
{
	/* RFC 5321 7.8 lets a server end a session that keeps failing. */
	if (++s->bad_commands >= s->opts->max_bad_commands && s->opts->max_bad_commands) {
		tern__smtp_reply(s, 421, "4.7.0", "%s Too many errors, closing connection",
				 s->cfg->name);
		return true;
	}
	return false;
}

void tern__smtp_reply_error(tern_smtp_session *s, int code, const char *enhanced,
			    const char *fmt, ...)
{
	if (bad_command(s))
		return;
	va_list ap;
	va_start(ap, fmt);
	reply_v(s, code, enhanced, fmt, ap);
	va_end(ap);
}

bool tern__smtp_junk_command(tern_smtp_session *s)
{
	unsigned max = s->opts->max_junk_commands;
	if (!max || ++s->junk_commands <= max)
		return false;
	/* A client that only chatters ties up a session slot. */
	tern__smtp_reply(s, 421, "4.7.0", "%s Too many commands without mail, closing",
			 s->cfg->name);
	return true;
}

void tern__smtp_log(tern_smtp_session *s, enum tern_smtp_log_level level, const char *fmt, ...)
{
	/* After tern_smtp_session_close() no callback but on_close runs. */
	if (tern__smtp_closed(s) || !s->opts->callbacks.on_log || level > s->opts->log_level)
		return;
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	tern__smtp_enter(s);
	s->opts->callbacks.on_log(s, level, msg, s->opts->user_data);
	tern__smtp_leave(s);
}
