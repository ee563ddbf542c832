/* Private pieces of the SPF engine (include/tern/spf.h):
 *   spf_record.c   record selection and parsing into terms; name checks
 *   spf_macro.c    macro strings (RFC 7208 7): syntax and expansion
 *   spf_check.c    check_host() as a state machine fed with DNS answers
 *   spf_format.c   result names, Received-SPF, Authentication-Results
 * Parsing and expansion are pure functions; only spf_check.c has state. */
#ifndef TERN_AUTH_SPF_INT_H
#define TERN_AUTH_SPF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tern/spf.h"
#include "util/buf.h"

/* RFC 7208 4.6.4 and 7.3. */
#define TERN__SPF_DNS_TERMS 10
#define TERN__SPF_VOID_LOOKUPS 2
#define TERN__SPF_NAMES 10
#define TERN__SPF_NAME_MAX 253
/* A record longer than this is refused (permerror) rather than parsed: a
 * TXT RRset can reach 64 KiB, no sane policy needs more than a few
 * hundred octets (RFC 7208 3.4 asks them to fit a 512-octet answer). */
#define TERN__SPF_RECORD_MAX 4096
/* An expanded macro string (explanation, domain before truncation). */
#define TERN__SPF_EXPAND_MAX 8192

enum spf_kind {
	SPF_ALL,
	SPF_INCLUDE,
	SPF_A,
	SPF_MX,
	SPF_PTR,
	SPF_IP4,
	SPF_IP6,
	SPF_EXISTS,
	SPF_REDIRECT, /* modifiers from here on */
	SPF_EXP,
	SPF_UNKNOWN_MOD,
};

struct tern__spf_term {
	enum spf_kind kind;
	enum tern_spf_result qualifier;   /* pass, fail, softfail or neutral */
	const char *text;                 /* the term as written, in the record's copy */
	size_t text_len;
	const char *spec;                 /* domain-spec or NULL (default: the current domain) */
	size_t spec_len;
	unsigned cidr4, cidr6;            /* 32 and 128 when absent */
	uint8_t ip[16];                   /* ip4 (first 4 octets) and ip6 */
};

struct tern__spf_record {
	char *text;                       /* the record, NUL-terminated; terms point into it */
	struct tern__spf_term *terms;
	size_t n;
	const struct tern__spf_term *redirect; /* NULL when absent or ignored (RFC 7208 6.1) */
	const struct tern__spf_term *exp;
};

/* RFC 7208 4.5: the TXT string is an SPF record: "v=spf1" in any case,
 * then a space or the end. */
bool tern__spf_is_record(const unsigned char *txt, size_t len);

/* Parses a record (that passed tern__spf_is_record). Returns 0, TERN_EINVAL
 * with *problem_r set to a static reason (the record is a permerror), or
 * TERN_ENOMEM. On success free with tern__spf_record_free(). */
int tern__spf_record_parse(struct tern__spf_record *rec, const unsigned char *txt, size_t len,
			   const char **problem_r);
void tern__spf_record_free(struct tern__spf_record *rec);

/* RFC 7208 4.3: name is a usable domain: at most 253 octets (a final dot
 * aside), every label 1..63 octets, at least two labels (an FQDN), not an
 * address literal. */
bool tern__spf_domain_ok(const char *name);

/* RFC 7208 7.3: drops labels from the left of an expanded name until it
 * is at most 253 octets; also drops a final dot. In place. */
void tern__spf_truncate_name(struct tern__buf *name);

/* What macros expand to (RFC 7208 7.3). Strings are NUL-terminated. */
struct tern__spf_macro_ctx {
	const char *sender;      /* s */
	const char *local;       /* l */
	const char *sender_domain; /* o */
	const char *domain;      /* d */
	int family;              /* AF_INET or AF_INET6 (i, c, v) */
	const uint8_t *ip;       /* 4 or 16 octets */
	const char *helo;        /* h */
	const char *validated;   /* p; NULL: "unknown" */
	const char *receiver;    /* r (explanations only) */
	time_t now;              /* t (explanations only) */
};

/* Checks a macro-string (RFC 7208 7.1); exp allows c, r and t. Returns
 * true when valid. */
bool tern__spf_macro_valid(const char *s, size_t len, bool exp);

/* Checks a domain-spec: a valid macro-string whose end is a macro or a
 * dot and a top label (RFC 7208 7.1 domain-end). */
bool tern__spf_domain_spec_valid(const char *s, size_t len);

/* The string uses %{p} (which needs PTR lookups before expansion). */
bool tern__spf_macro_uses_p(const char *s, size_t len);

/* Expands a macro-string into out (appended). Returns 0, TERN_EINVAL
 * (bad syntax), TERN_ELIMIT (past TERN__SPF_EXPAND_MAX) or TERN_ENOMEM. */
int tern__spf_macro_expand(const struct tern__spf_macro_ctx *ctx, const char *s, size_t len,
			   bool exp, struct tern__buf *out);

/* Appends the reverse-lookup name of an address: "4.3.2.1.in-addr.arpa"
 * or the 32 nibbles ".ip6.arpa" (RFC 7208 5.5). */
int tern__spf_reverse_name(int family, const uint8_t *ip, struct tern__buf *out);

/* The first prefix bits of a and b are equal. */
bool tern__spf_prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix);

/* What spf_format.c reads of a check (spf_check.c). */
const char *tern__spf_client_ip(const struct tern_spf *spf);
const char *tern__spf_helo(const struct tern_spf *spf);
const char *tern__spf_receiver(const struct tern_spf *spf);

#endif
