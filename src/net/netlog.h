/* Log lines from the net and server layers through opts.callbacks.on_log. */
#ifndef TERN_NET_NETLOG_H
#define TERN_NET_NETLOG_H

#include "smtp/engine.h"

/* Formats one line and hands it to cfg->opts.callbacks.on_log (nothing
 * happens, and nothing is formatted, when there is no on_log). session is
 * NULL for server-wide events. Lines longer than 511 bytes are cut. */
void tern__net_log(const struct tern__smtp_config *cfg, tern_smtp_session *session,
		   enum tern_smtp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
