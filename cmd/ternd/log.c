/* ternd's log; see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

/* The one process-wide setting; atomic because worker threads read it. */
static atomic_int log_threshold = TERN_LOG_INFO;

void ternd_log_set_level(enum tern_smtp_log_level level)
{
	atomic_store(&log_threshold, (int)level);
}

bool ternd_log_enabled(enum tern_smtp_log_level level)
{
	return (int)level <= atomic_load(&log_threshold);
}

/* Long enough for any event line; longer text is cut and marked. */
#define LOG_LINE_MAX 2048

/* Set once at start-up (ternd_log_set_output), before threads start. */
static bool log_kv;
static bool log_syslog;

void ternd_log_set_output(bool kv, bool use_syslog)
{
	log_kv = kv;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog("ternd", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* logfmt quoting: backslash and double quote escaped, control characters
 * as \n, \r, \t or \u00XX, so one event is always one parseable line. */
static size_t put_quoted(char *out, size_t n, size_t size, const char *text)
{
	static const char hex[] = "0123456789abcdef";

	if (n < size)
		out[n++] = '"';
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		char esc[7];
		size_t el = 0;

		if (*p == '"' || *p == '\\') {
			esc[el++] = '\\';
			esc[el++] = (char)*p;
		} else if (*p == '\n' || *p == '\r' || *p == '\t') {
			esc[el++] = '\\';
			esc[el++] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(esc, "\\u00", 4);
			el = 4;
			esc[el++] = hex[*p >> 4];
			esc[el++] = hex[*p & 15];
		} else {
			esc[el++] = (char)*p;
		}
		if (n + el + 1 > size)
			break; /* cut: the closing quote still fits */
		memcpy(out + n, esc, el);
		n += el;
	}
	if (n < size)
		out[n++] = '"';
	return n;
}

static int syslog_priority(enum tern_smtp_log_level level)
{
	switch (level) {
	case TERN_LOG_ERROR: return LOG_ERR;
	case TERN_LOG_WARNING: return LOG_WARNING;
	case TERN_LOG_INFO: return LOG_INFO;
	default: return LOG_DEBUG;
	}
}

void ternd_log(enum tern_smtp_log_level level, const char *session_id, const char *fmt, ...)
{
	if (!ternd_log_enabled(level))
		return;
	char text[LOG_LINE_MAX], line[LOG_LINE_MAX + 512];
	size_t n = 0;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(text, sizeof(text) - 4, fmt, ap);
	va_end(ap);
	if (w < 0)
		text[0] = '\0';
	else if ((size_t)w >= sizeof(text) - 4)
		memcpy(text + sizeof(text) - 8, "...", 4);
	/* syslog stamps its own time. */
	if (!log_syslog) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		if (log_kv)
			n = (size_t)snprintf(line, sizeof(line), "ts=");
		n += strftime(line + n, sizeof(line) - n, "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	}
	if (log_kv) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, "level=%s session=%s msg=",
				      ternd_log_level_name(level),
				      session_id != NULL ? session_id : "-");
		n = put_quoted(line, n, sizeof(line) - 1, text);
	} else {
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s [%s] ",
				      ternd_log_level_name(level),
				      session_id != NULL ? session_id : "-");
		size_t text_start = n;
		size_t tl = strlen(text);
		if (tl > sizeof(line) - 1 - n)
			tl = sizeof(line) - 1 - n;
		memcpy(line + n, text, tl);
		n += tl;
		for (size_t i = text_start; i < n; i++) {
			unsigned char c = (unsigned char)line[i];
			if (c < 0x20 || c == 0x7f)
				line[i] = '?';
		}
	}
	if (log_syslog) {
		line[n] = '\0';
		syslog(syslog_priority(level), "%s", line);
		return;
	}
	line[n++] = '\n';
	/* Nothing useful to do when stderr is gone. */
	ssize_t ignored = write(STDERR_FILENO, line, n);
	(void)ignored;
}
