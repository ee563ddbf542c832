/* Blocking DNS lookups for the command-line tools (tern-dkim, tern-spf,
 * tern-dmarc): the library's resolver (libunbound) run on a private event
 * loop until the answer comes, plus fixed records given on the command line
 * or in a file, which are answered instead of DNS.
 *
 * A tool is one thread doing one thing at a time, so blocking is right
 * here; ternd drives the same engines from its event loop instead. */
#ifndef TERN_TOOL_DNS_H
#define TERN_TOOL_DNS_H

#include <stddef.h>

#include <tern/auth.h>

struct tool_dns;

/* server: "ADDR" or "ADDR@PORT" to send every query to (a test DNS server
 * on loopback: the names libunbound would answer itself, test. and the
 * reverse zones, are asked of it too), or NULL for /etc/resolv.conf.
 * timeout_ms: per query, 0 for 5 s. Returns NULL with a reason in err. */
struct tool_dns *tool_dns_new(const char *server, unsigned timeout_ms, char *err, size_t err_size);

/* Adds a fixed record. Once a name has fixed records, DNS is never asked
 * about it: a type it has none of is NODATA. value by type: TXT the text
 * (one string, joined as a resolver joins them); A/AAAA a numeric address;
 * MX "PREFERENCE NAME"; PTR a name. type "NXDOMAIN" (value ignored) makes
 * the name not exist, "TEMPFAIL" makes every lookup of it fail.
 * Returns 0 or -1 (an unknown type or bad value; err says which). */
int tool_dns_add(struct tool_dns *dns, const char *name, const char *type, const char *value,
		 char *err, size_t err_size);

/* Reads fixed records from a file, one per line: "NAME TYPE VALUE", where
 * VALUE is the rest of the line (a TXT value may be in double quotes);
 * blank lines and lines starting with '#' are skipped. Returns 0 or -1. */
int tool_dns_load(struct tool_dns *dns, const char *path, char *err, size_t err_size);

/* Looks name up. *answer (and what it points to) stays valid until the
 * next lookup or tool_dns_free(). Always fills *answer (TEMPFAIL when the
 * query could not even be sent). */
void tool_dns_lookup(struct tool_dns *dns, const char *name, enum tern_dns_type type,
		     struct tern_dns_answer *answer);

/* How many lookups went to DNS or the fixed records, for tools to report. */
unsigned tool_dns_lookups(const struct tool_dns *dns);

void tool_dns_free(struct tool_dns *dns);

#endif
