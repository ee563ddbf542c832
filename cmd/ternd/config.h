/* ternd configuration: command-line flags and the config file.
 *
 * Every flag is also a config file key (the flag name without the leading
 * dashes; '_' may stand for '-'). The file is read first, then the command
 * line overrides it; a repeatable flag (--listen) given on the command line
 * replaces the file's list instead of adding to it. Parsing does no I/O
 * except reading the --config file, so tests/unit/test_config.c drives it
 * directly. */
#ifndef TERND_CONFIG_H
#define TERND_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tern/smtp.h"

/* sysexits(3) values used by ternd. */
#define TERND_EX_OK 0
#define TERND_EX_USAGE 64       /* bad flag, key or value */
#define TERND_EX_NOINPUT 66     /* the --config file cannot be read */
#define TERND_EX_SOFTWARE 70    /* internal error (out of memory, library error) */
#define TERND_EX_OSERR 71       /* cannot listen / run */
#define TERND_EX_CANTCREAT 73   /* the maildir root cannot be created or opened */

#define TERND_DEFAULT_LISTEN "127.0.0.1:2525"
#define TERND_DEFAULT_MAILDIR "./mail"
/* More listeners than this is a configuration mistake, not a need. */
#define TERND_MAX_LISTEN 64
#define TERND_MAX_WORKERS 1024

struct ternd_config {
	char *listen[TERND_MAX_LISTEN];
	unsigned listen_count;
	char *maildir;
	char *hostname;             /* NULL: the system host name */
	char *banner;               /* NULL: none */
	char *config_file;          /* NULL: none */

	uint64_t max_size;          /* bytes; 0 = no limit */
	bool max_size_set;          /* false: the library default (25 MiB) */
	unsigned max_recipients;    /* 0 = library default (100) */
	unsigned max_clients;       /* 0 = unlimited */
	unsigned max_line_length;   /* 0 = library default */
	unsigned max_data_line_length;
	unsigned max_bad_commands;
	unsigned max_junk_commands;  /* 0 = library default (100) */
	bool junk_unlimited;         /* --max-junk-commands 0 */
	unsigned idle_timeout;      /* seconds; 0 = library default (300) */
	unsigned data_timeout;      /* seconds; 0 = idle_timeout or library default */
	unsigned close_timeout;     /* seconds; 0 = library default (30) */
	unsigned greeting_delay;    /* milliseconds; 0 = greet at once */
	unsigned workers;           /* default 1 */
	enum tern_smtp_log_level log_level;
	enum tern_smtp_bare_newline bare_newline;
	bool lmtp;
	bool discard;
	bool no_received_header;

	/* Actions rather than settings (command line only). */
	bool help;
	bool version;
	bool check_config;
};

/* Fills the defaults (no listen address yet: ternd_config_parse adds the
 * default one when none was given). */
void ternd_config_init(struct ternd_config *cfg);
/* Frees the strings; cfg can be initialised again afterwards. */
void ternd_config_free(struct ternd_config *cfg);

/* Parses argv (argv[0] is skipped), reading the --config file first when
 * one is named. Returns TERND_EX_OK, TERND_EX_USAGE or TERND_EX_NOINPUT
 * with a one-line message (no "ternd: " prefix, no newline) in err. */
int ternd_config_parse(struct ternd_config *cfg, int argc, char *const *argv, char *err,
		       size_t errlen);

/* Applies config file text (already read). name is used in messages
 * ("FILE:LINE: ..."). Returns TERND_EX_OK or TERND_EX_USAGE. */
int ternd_config_parse_text(struct ternd_config *cfg, const char *text, const char *name,
			    char *err, size_t errlen);

/* Writes the effective configuration in config file syntax. */
void ternd_config_print(const struct ternd_config *cfg, FILE *out);
/* Writes the --help text. */
void ternd_config_usage(FILE *out);

/* Fills a tern_smtp_options from the configuration (after
 * tern_smtp_options_init; callbacks and user_data are left alone). The
 * strings point into cfg. */
void ternd_config_to_options(const struct ternd_config *cfg, tern_smtp_options *opts);

const char *ternd_log_level_name(enum tern_smtp_log_level level);

#endif
