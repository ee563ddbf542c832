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

/* Writes text, with control characters turned into spaces so that no reply
 * (embedder-supplied text included) can inject a line. */
static void put_text(struct tern__buf *out, const char *text)
{
	char tmp[256];
	size_t n = 0;
	for (const char *p = text; *p; p++) {
		unsigned char c = (unsigned char)*p;
		tmp[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
		if (n == sizeof(tmp)) {
			(void)tern__buf_append(out, tmp, n);
			n = 0;
		}
	}
	(void)tern__buf_append(out, tmp, n);
}

static void reply_text(tern_smtp_session *s, int code, const char *enhanced, const char *text)
{
	/* RFC 5321 3.8: a closing reply (421, 221) is the last thing said;
	 * a decision that arrives afterwards has nobody to answer. */
	if (s->eof || s->closing)
		return;
	char head[32];
	bool show_enhanced = enhanced && !s->opts->hide_enhancedstatuscodes;
	int n = snprintf(head, sizeof(head), show_enhanced ? "%03d %s " : "%03d ", code, enhanced);
	(void)tern__buf_append(&s->out, head, (size_t)n);
	put_text(&s->out, text);
	(void)tern__buf_append(&s->out, "\r\n", 2);
	/* RFC 5321 3.8: after 421 the server closes; 221 ends QUIT. */
	if (code == 421 || code == 221)
		s->closing = true;
	tern__smtp_log(s, code >= 400 ? TERN_LOG_INFO : TERN_LOG_DEBUG, "reply %d %s %s", code,
		       enhanced ? enhanced : "-", text);
}

void tern__smtp_reply(tern_smtp_session *s, int code, const char *enhanced, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	reply_text(s, code, enhanced, text);
}

void tern__smtp_reply_lines(tern_smtp_session *s, int code, const char *const *lines, size_t n)
{
	if (s->eof || s->closing)
		return;
	for (size_t i = 0; i < n; i++) {
		char head[8];
		snprintf(head, sizeof(head), "%03d%c", code, i + 1 < n ? '-' : ' ');
		(void)tern__buf_append(&s->out, head, 4);
		put_text(&s->out, lines[i]);
		(void)tern__buf_append(&s->out, "\r\n", 2);
	}
}

bool tern__smtp_decision_ok(int decision, const tern_smtp_reply *r)
{
	if (decision == TERN_SMTP_REJECT)
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
		snprintf(derived, sizeof(derived), "%d%s", code / 100, def->enhanced + 1);
		enhanced = derived;
	}
	const char *text = r && r->text && r->text[0] ? r->text : def->text;
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
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	reply_text(s, code, enhanced, text);
}

void tern__smtp_log(tern_smtp_session *s, enum tern_smtp_log_level level, const char *fmt, ...)
{
	if (!s->opts->callbacks.on_log || level > s->opts->log_level)
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
