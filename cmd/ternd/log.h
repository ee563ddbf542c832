/* ternd's log: one line per event on stderr (by default),
 *   2024-05-01T12:00:00.123Z info [1a2b3c4d] mail from <a@example.org>
 * written with a single write(2) so lines from worker threads never
 * interleave. The level threshold is set once at start-up. */
#ifndef TERND_LOG_H
#define TERND_LOG_H

#include "tern/smtp.h"

/* --log-format kv: one logfmt line per event instead,
 *   ts=2024-05-01T12:00:00.123Z level=info session=1a2b3c4d msg="mail from <a@example.org>"
 * (msg quoted, '"' and '\\' escaped, control characters as \n, \r, \t or
 * \u00XX). --syslog: lines go to syslog(3) (facility mail, ident ternd,
 * level as priority) without the time stamp, instead of stderr. Call
 * before threads start. */
void ternd_log_set_output(bool kv, bool use_syslog);

/* Lines above this level are dropped. Call before threads start. */
void ternd_log_set_level(enum tern_smtp_log_level level);
bool ternd_log_enabled(enum tern_smtp_log_level level);

/* session_id may be NULL for server-wide lines ("-" is printed). Control
 * characters in the formatted text become '?', so a hostile HELO name or
 * address cannot forge log lines. */
__attribute__((format(printf, 3, 4))) void ternd_log(enum tern_smtp_log_level level,
						     const char *session_id, const char *fmt, ...);

#endif
