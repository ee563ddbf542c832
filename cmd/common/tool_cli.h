/* What the DKIM and ARC tools (tern-dkim, tern-arc) share around their
 * engines: dying with a message, reading a whole file or stdin, --now
 * style times, and the --dns/--record/--records options that build the
 * tool's DNS (tool_dns.h).
 *
 * Shared so that both tools read keys and messages the same way and take
 * their test records by the same options, with the same errors; each tool
 * keeps its own commands and output. */
#ifndef TERN_TOOL_CLI_H
#define TERN_TOOL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tool_dns.h"

/* The tool's name, the prefix of every error line: main sets it first. */
extern const char *tool_name;

/* Prints "NAME: what: why" on stderr and exits 2 (a usage or system
 * error, as every tool documents). */
_Noreturn void tool_die(const char *what, const char *why);

/* Reads fd to its end into a new buffer (the caller frees it); *len_r its
 * length. Dies on a read error or out of memory. */
char *tool_slurp(int fd, size_t *len_r);

/* The same for the file at path; dies naming the path when it cannot be
 * opened. */
char *tool_slurp_file(const char *path, size_t *len_r);

/* s as a whole number of seconds, at least min; else dies with what. */
time_t tool_parse_time(const char *s, const char *what, long long min);

/* --dns ADDR@PORT, --record NAME=TXT (at most 64), --records FILE (at
 * most 8): where key records come from. The option values are argv's,
 * kept, not copied. */
struct tool_dns_opts {
	const char *server, *records[64], *files[8];
	size_t nrec, nfiles;
};

/* The rows for getopt_long: 'D', 'R' and 'F'. */
#define TOOL_DNS_LONGOPTS                                                                  \
	{"dns", required_argument, NULL, 'D'}, {"record", required_argument, NULL, 'R'},   \
		{"records", required_argument, NULL, 'F'}

/* Takes option opt ('D', 'R' or 'F') with its argument. Returns false when
 * opt is none of them; dies when there are too many records or files. */
bool tool_dns_option(struct tool_dns_opts *o, int opt, const char *arg);

/* A tool_dns with o's server and fixed records. Dies when it cannot be
 * made or a record or file is bad. */
struct tool_dns *tool_dns_open(const struct tool_dns_opts *o);

#endif
