/* ternd's log; see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
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

void ternd_log(enum tern_smtp_log_level level, const char *session_id, const char *fmt, ...)
{
	if (!ternd_log_enabled(level))
		return;
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s [%s] ",
			      ts.tv_nsec / 1000000, ternd_log_level_name(level),
			      session_id != NULL ? session_id : "-");
	size_t text_start = n;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (w < 0)
		w = 0;
	if ((size_t)w >= sizeof(line) - n - 1) {
		n = sizeof(line) - 5;
		memcpy(line + n - 3, "...", 3);
	} else {
		n += (size_t)w;
	}
	for (size_t i = text_start; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			line[i] = '?';
	}
	line[n++] = '\n';
	/* Nothing useful to do when stderr is gone. */
	ssize_t ignored = write(STDERR_FILENO, line, n);
	(void)ignored;
}
