/* `ternd domain add|check|list|remove-key`: what a mail domain needs
 * outside ternd (docs/domains.md).
 *
 * On disk, under the state directory (the lead's DKIM signer reads exactly
 * this layout):
 *
 *     STATE/domains/DOMAIN/                0700; DOMAIN lower case, A-labels
 *     STATE/domains/DOMAIN/dkim/SEL.pem    0600, PKCS#8 private key
 *     STATE/domains/DOMAIN/mta-sts.txt     the MTA-STS policy (RFC 8461 3.2)
 *     STATE/domains/DOMAIN/records.zone    the DNS records `add` printed
 *
 * domain.c is the command line and the files, domain_records.c builds and
 * reads the zone text (pure functions, unit-tested), domain_check.c looks
 * the records up. Errors are positive errno values unless said otherwise;
 * nothing here keeps global state. */
#ifndef TERND_DOMAIN_H
#define TERND_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

/* A domain name: 253 octets and the NUL. */
#define TERND_DOMAIN_MAX 254
/* MX hosts `add` prints (and the policy names); DKIM keys per domain. */
#define TERND_DOMAIN_MAX_MX 16
#define TERND_DOMAIN_MAX_KEYS 64
/* A selector: sYYYYMMe-NN and some room for --selector. */
#define TERND_SELECTOR_MAX 64
/* Records are published with this TTL (seconds). */
#define TERND_DOMAIN_TTL 3600
/* The policy's max_age (RFC 8461 3.2: at most 31557600; a week lets a
 * mistake age out while still protecting between fetches). */
#define TERND_MTA_STS_MAX_AGE 604800

enum ternd_sts_mode { TERND_STS_ENFORCE = 0, TERND_STS_TESTING, TERND_STS_NONE };

/* One DKIM key as published: its selector and its TXT value. */
struct ternd_dkim_rec {
	char selector[TERND_SELECTOR_MAX];
	char *txt; /* malloc'd "v=DKIM1; k=...; p=..." */
};

/* Everything `add` prints for a domain; the strings are malloc'd (or
 * fixed arrays) and freed by ternd_domain_records_clear(). A NULL string is
 * a record not published. */
struct ternd_domain_records {
	char domain[TERND_DOMAIN_MAX];
	char *mx[TERND_DOMAIN_MAX_MX]; /* host names, no trailing dot */
	unsigned mx_count;
	char *spf;      /* "v=spf1 mx -all" */
	char *dmarc;    /* "v=DMARC1; p=quarantine; rua=..." */
	char *sts_id;   /* "20261202175500" (the _mta-sts id) */
	char *tlsrpt;   /* "v=TLSRPTv1; rua=mailto:..." */
	char *sts_host; /* where mta-sts.DOMAIN points (CNAME) */
	struct ternd_dkim_rec dkim[TERND_DOMAIN_MAX_KEYS];
	unsigned dkim_count;
};

void ternd_domain_records_clear(struct ternd_domain_records *r);

/* Writes a message into err (errlen octets, like snprintf) and returns
 * code: the error return of every function here that takes err. */
__attribute__((format(printf, 4, 5))) int ternd_domain_fail(char *err, size_t errlen, int code,
							    const char *fmt, ...);

/* ---- domain_records.c: names, zone text, the policy ---- */

/* NAME as ternd stores it: no final dot, lower case, IDNs as A-labels
 * (libidn2, IDNA2008 with NFC), LDH labels of 1 to 63 octets that neither
 * start nor end with '-', at least two labels, not all digits at the end
 * (an address is no domain). Writes out (TERND_DOMAIN_MAX octets).
 * Returns 0, or EINVAL with a reason in err. */
int ternd_domain_name(const char *in, char out[TERND_DOMAIN_MAX], char *err, size_t errlen);

/* A selector a DNS label can carry (RFC 6376 3.1: sub-domain syntax; one
 * label here, since it is also a file name): letters, digits, '-', 1 to
 * 63 octets, not starting with '-'. */
bool ternd_selector_ok(const char *s);

/* Writes one TXT record line in master-file syntax (RFC 1035 5.1):
 * "OWNER.<TAB>TTL<TAB>IN<TAB>TXT<TAB>"..." "..."", the value cut into
 * character-strings of at most 255 octets (RFC 1035 3.3.14), '"' and '\\'
 * escaped, other octets outside printable ASCII as \DDD. */
void ternd_zone_txt(FILE *out, const char *owner, const char *value);

/* Writes every record of r as zone text with comments saying why each is
 * there; now is for the header comment. */
void ternd_domain_zone_write(const struct ternd_domain_records *r, time_t now, FILE *out);

/* Reads back what ternd_domain_zone_write() wrote for r->domain (set
 * before the call): the MX hosts, the SPF, DMARC, MTA-STS id and TLS-RPT
 * values and the DKIM records; other lines are ignored. Returns 0 or
 * ENOMEM. */
int ternd_domain_zone_read(const char *text, struct ternd_domain_records *r);

/* The policy file (RFC 8461 3.2), CRLF line ends, malloc'd; NULL out of
 * memory. The mx lines are written in every mode (a "none" policy may
 * carry them, and switching modes then changes one line). */
char *ternd_mta_sts_policy(enum ternd_sts_mode mode, char *const *mx, unsigned mx_count,
			   unsigned max_age);

/* Checks a TLS-RPT record (RFC 8460 3): v=TLSRPTv1 first, rua= with
 * mailto: or https: URIs separated by commas. NULL when good, else a
 * static reason. */
const char *ternd_tlsrpt_record_problem(const char *txt, size_t len);

/* ---- domain_check.c ---- */

struct ternd_domain_check_options {
	const char *state_dir;
	const char *domain;     /* as ternd_domain_name() gives it */
	const char *dns_server; /* "ADDR@PORT" or NULL for resolv.conf */
	const char *hostname;   /* this host; MX must name it (or a --mx of add) */
	const char *const *ips; /* addresses SPF must pass; NULL: the hostname's */
	unsigned timeout_ms;    /* per query; 0: 5 s */
};

/* Looks up every record of the domain and writes one line per record to
 * out: "ok      WHAT: why", "missing WHAT: ..." or "wrong   WHAT: ...".
 * Returns 0 when every record is right, 1 when one is not, or a sysexits
 * status (64, 66, 70) after saying why on stderr. */
int ternd_domain_check(const struct ternd_domain_check_options *o, FILE *out);

/* ---- domain.c ---- */

/* Reads STATE/domains/DOMAIN: the DKIM records of every key in dkim/ (in
 * selector order) and what records.zone says (MX, SPF, DMARC, ids).
 * Returns 0, ENOENT (no such domain) or another errno with err set. */
int ternd_domain_load(const char *state_dir, const char *domain, struct ternd_domain_records *r,
		      char *err, size_t errlen);

/* The subcommand: argv[0] is "domain". default_state_dir is used without
 * --state-dir. Returns a sysexits(3) status (check: 0 all right, 1 not). */
int ternd_domain_main(int argc, char **argv, const char *default_state_dir);

#endif
