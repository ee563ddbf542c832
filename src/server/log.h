/* Log lines of the server layer (and of the net layer through the SMTP
 * engine adapter) through opts.callbacks.on_log. */
#ifndef TERN_SERVER_LOG_H
#define TERN_SERVER_LOG_H

#include "smtp/engine.h"

/* Formats one line and hands it to cfg->opts.callbacks.on_log (nothing
 * happens, and nothing is formatted, when there is no on_log or the level
 * is filtered out). session is NULL for server-wide events. Lines longer
 * than 511 bytes are cut. */
void tern__server_log(const struct tern__smtp_config *cfg, tern_smtp_session *session,
		      enum tern_smtp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
