/* Log helper for the server layer. */
#include "server/log.h"

#include <stdarg.h>
#include <stdio.h>

void tern__server_log(const struct tern__smtp_config *cfg, tern_smtp_session *session,
		      enum tern_smtp_log_level level, const char *fmt, ...)
{
	const tern_smtp_callbacks *cb = &cfg->opts.callbacks;
	char line[512];
	va_list ap;

	if (cb->on_log == NULL || level > cfg->opts.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cb->on_log(session, level, line, cfg->opts.user_data);
}
