/* libtern DMARC (RFC 7489): the author domain of a message, its DMARC
 * record, identifier alignment and the policy a receiver should apply.
 *
 * Three steps, each usable alone:
 *   1. tern_dmarc_from_domains(): the RFC5322.From domain(s) from the From
 *      header field value(s) (RFC 7489 6.6.1), as lowercase A-labels.
 *   2. tern_dmarc_record_parse(): one TXT record (RFC 7489 6.3, 6.4).
 *   3. struct tern_dmarc: an evaluation. It is sans-I/O: it says which TXT
 *      name it needs (_dmarc.FROMDOMAIN, then perhaps _dmarc.ORGDOMAIN: at
 *      most two lookups), the caller looks it up and feeds the answer
 *      (struct tern_dns_answer, <tern/auth.h>). SPF and DKIM are not run
 *      here: their results come in as plain words and domains, as the
 *      SPF and DKIM engines (or anyone else) reported them.
 *
 * Organizational domains come from the Public Suffix List through libpsl:
 * by default its built-in list (psl_builtin(), static data); a caller may
 * pass a psl_ctx_t of its own (psl_load_file("/usr/share/publicsuffix/
 * public_suffix_list.dat"), kept fresher by the system).
 *
 * Choices (docs/dmarc.md says why):
 *   - Several From mailboxes with different domains: every domain is
 *     returned and tern_dmarc_from_domains() says so
 *     (TERN_DMARC_FROM_MULTIPLE_DOMAINS); the caller either rejects (the
 *     simplest safe answer) or evaluates each domain and applies the
 *     strictest outcome (RFC 7489 6.6.1), which tern_dmarc_stricter() picks.
 *   - pct= sampling uses a random number the caller passes: nothing here
 *     calls rand() or reads a clock, so evaluations are reproducible.
 *   - np= (RFC 9091) applies only when the caller says the From domain does
 *     not exist (tern_dmarc_params.from_exists): finding out takes A, AAAA
 *     and MX lookups that an SMTP server often has made already.
 *
 * Threads: nothing here has global mutable state; one evaluation must not be
 * used by two threads at once, different ones may. A psl_ctx_t passed in is
 * only read. */
#ifndef TERN_DMARC_H
#define TERN_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/auth.h>
#include <tern/tern.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libpsl's context (psl_ctx_t); declared here so that this header does not
 * need <libpsl.h>. */
struct psl_ctx_st;

/* ---- 1. The RFC5322.From domain ---- */

/* Positive returns of tern_dmarc_from_domains(): what RFC 7489 6.6.1 says a
 * receiver must act on. With any of them but MULTIPLE_DOMAINS, out holds no
 * domain. */
enum tern_dmarc_from_status {
	TERN_DMARC_FROM_NONE = 1,             /* no From field: the message is invalid */
	TERN_DMARC_FROM_SEVERAL_FIELDS = 2,   /* more than one From field (RFC 5322 3.6) */
	TERN_DMARC_FROM_SYNTAX = 3,           /* a From value that is not a mailbox-list */
	TERN_DMARC_FROM_NO_DOMAIN = 4,        /* no mailbox (an empty group) */
	TERN_DMARC_FROM_BAD_DOMAIN = 5,       /* an address literal, or a domain that is not a
					       * valid DNS name (nor an IDN that converts) */
	TERN_DMARC_FROM_MULTIPLE_DOMAINS = 6, /* mailboxes with different domains: all in out */
};

/* The author domains: distinct, lowercase A-labels without a trailing
 * dot, in the order they appear. */
struct tern_dmarc_from {
	char **domains;
	size_t count;
};

/* Reads the From header field value(s) of a message. values[i] (lens[i]
 * octets, any octet allowed; folded or unfolded, with or without the final
 * CRLF, without the "From:" name) is the value of the i-th From field;
 * pass count 0 when the message has none. Groups (RFC 6854), comments,
 * quoted strings, obsolete routes and phrases (RFC 5322 4.4) and UTF-8
 * (RFC 6532) are read; every mailbox's domain is converted to A-labels
 * (libidn2, UTS #46 non-transitional), lowercased and its trailing dot
 * removed. out is overwritten; free it with tern_dmarc_from_clear() after
 * any return (it is empty after anything but 0 or MULTIPLE_DOMAINS).
 * Does not keep values.
 * Returns 0 (one domain in out), a tern_dmarc_from_status, TERN_EINVAL
 * (out NULL, or values/lens NULL with a count) or TERN_ENOMEM. */
int tern_dmarc_from_domains(const char *const *values, const size_t *lens, size_t count,
			    struct tern_dmarc_from *out);

void tern_dmarc_from_clear(struct tern_dmarc_from *from);

/* Static name of a tern_dmarc_from_status ("no From field", ...). */
const char *tern_dmarc_from_strstatus(int status);

/* ---- 2. The DMARC record ---- */

enum tern_dmarc_policy {
	TERN_DMARC_POLICY_UNSET = 0,   /* no record, or the tag is absent */
	TERN_DMARC_POLICY_NONE,
	TERN_DMARC_POLICY_QUARANTINE,
	TERN_DMARC_POLICY_REJECT,
};

enum tern_dmarc_alignment {
	TERN_DMARC_RELAXED = 0,   /* the default */
	TERN_DMARC_STRICT,
};

/* fo= options (RFC 7489 6.3), a bit each. */
enum tern_dmarc_fo {
	TERN_DMARC_FO_0 = 1 << 0,   /* report when all mechanisms fail (the default) */
	TERN_DMARC_FO_1 = 1 << 1,   /* report when any mechanism fails */
	TERN_DMARC_FO_D = 1 << 2,   /* DKIM failure reports */
	TERN_DMARC_FO_S = 1 << 3,   /* SPF failure reports */
};

/* Tags whose value was bad and was replaced by its default (RFC 7489 6.3:
 * syntax errors in the rest of the record are discarded in favour of
 * defaults), a bit each in tern_dmarc_record.bad_tags. */
enum tern_dmarc_tag {
	TERN_DMARC_TAG_P = 1 << 0,
	TERN_DMARC_TAG_SP = 1 << 1,
	TERN_DMARC_TAG_NP = 1 << 2,
	TERN_DMARC_TAG_ADKIM = 1 << 3,
	TERN_DMARC_TAG_ASPF = 1 << 4,
	TERN_DMARC_TAG_PCT = 1 << 5,
	TERN_DMARC_TAG_RI = 1 << 6,
	TERN_DMARC_TAG_FO = 1 << 7,
	TERN_DMARC_TAG_RF = 1 << 8,
	TERN_DMARC_TAG_RUA = 1 << 9,    /* at least one rua= URI was bad (and dropped) */
	TERN_DMARC_TAG_RUF = 1 << 10,
	TERN_DMARC_TAG_SYNTAX = 1 << 11, /* a part that is not tag=value, or a repeated tag */
};

/* A reporting URI: uri (NUL-terminated) and the size limit after "!", in
 * octets (0: none given). */
struct tern_dmarc_uri {
	char *uri;
	uint64_t max_size;
};

/* A parsed record. Tags absent from the record hold their defaults: p/sp/np
 * UNSET, adkim/aspf RELAXED, pct 100, ri 86400, fo TERN_DMARC_FO_0, rf_afrf
 * true. */
struct tern_dmarc_record {
	enum tern_dmarc_policy p;
	enum tern_dmarc_policy sp;
	enum tern_dmarc_policy np;   /* RFC 9091 */
	enum tern_dmarc_alignment adkim;
	enum tern_dmarc_alignment aspf;
	unsigned pct;                /* 0..100 */
	uint32_t ri;
	unsigned fo;                 /* tern_dmarc_fo bits */
	bool rf_afrf;
	/* p= was missing or bad (or sp= bad) but rua= had a good URI: the
	 * record is used as p=none (RFC 7489 6.6.3). */
	bool p_from_rua;
	unsigned bad_tags;           /* tern_dmarc_tag bits */
	struct tern_dmarc_uri *rua;
	size_t rua_count;
	struct tern_dmarc_uri *ruf;
	size_t ruf_count;
};

/* Positive returns of tern_dmarc_record_parse(). */
enum tern_dmarc_record_status {
	/* Does not start with "v=DMARC1" followed by ";" or the end: not a
	 * DMARC record at all, to be discarded (RFC 7489 6.6.3 step 4). */
	TERN_DMARC_RECORD_NOT_DMARC = 1,
	/* A DMARC record that cannot be used: p= missing or bad (or sp= bad)
	 * and no good rua= URI (RFC 7489 6.6.3). */
	TERN_DMARC_RECORD_INVALID = 2,
};

/* Parses one TXT record, txt[0..len) (any octet). rec is overwritten; free
 * it with tern_dmarc_record_clear() after any return. Tag names and
 * keyword values are case-insensitive; "DMARC1" is not (RFC 7489 6.4's
 * ABNF spells it in hex). Unknown tags are ignored (6.3).
 * Returns 0, a tern_dmarc_record_status, TERN_EINVAL (rec NULL) or
 * TERN_ENOMEM. */
int tern_dmarc_record_parse(const char *txt, size_t len, struct tern_dmarc_record *rec);

void tern_dmarc_record_clear(struct tern_dmarc_record *rec);

/* Static lowercase names: "none", "quarantine", "reject" ("" for UNSET). */
const char *tern_dmarc_policy_name(enum tern_dmarc_policy policy);

/* The organizational domain of domain (RFC 7489 3.2): the public suffix
 * plus one label; a domain that is itself a public suffix (or is not under
 * any) is its own. domain: lowercase, A-labels or U-labels. psl NULL: the
 * built-in list. Returns a pointer into domain (never NULL). */
const char *tern_dmarc_org_domain(const struct psl_ctx_st *psl, const char *domain);

/* Identifier alignment (RFC 7489 3.1): strict = the same name, relaxed =
 * the same organizational domain. Both lowercase A-labels. */
bool tern_dmarc_aligned(const struct psl_ctx_st *psl, const char *a, const char *b,
			enum tern_dmarc_alignment mode);

/* ---- 3. An evaluation ---- */

enum tern_dmarc_result {
	TERN_DMARC_RESULT_NONE = 0,    /* no usable policy published */
	TERN_DMARC_RESULT_PASS,
	TERN_DMARC_RESULT_FAIL,
	TERN_DMARC_RESULT_TEMPERROR,   /* a DNS lookup failed: try later */
	TERN_DMARC_RESULT_PERMERROR,   /* a DMARC record that cannot be used */
};

/* Static lowercase names as Authentication-Results writes them (RFC 8601
 * 2.7.1): "none", "pass", "fail", "temperror", "permerror". */
const char *tern_dmarc_result_name(enum tern_dmarc_result result);

/* Whether the From domain exists (RFC 9091 np=). */
enum tern_dmarc_existence {
	TERN_DMARC_EXISTS_UNKNOWN = 0,   /* np= is not applied */
	TERN_DMARC_EXISTS_YES,
	TERN_DMARC_EXISTS_NO,            /* NXDOMAIN for A, AAAA and MX (RFC 9091 2.7) */
};

/* One DKIM signature as the DKIM verifier saw it. */
struct tern_dmarc_dkim {
	const char *domain;     /* d= */
	const char *selector;   /* s=, for reports and Authentication-Results; may be NULL */
	const char *result;     /* "pass", "fail", "none", ... (RFC 8601 2.7.1) */
};

/* What an evaluation starts from. Strings are copied by tern_dmarc_new(). */
struct tern_dmarc_params {
	/* The author domain, in A-labels, as tern_dmarc_from_domains() gives
	 * it (case and a trailing dot do not matter; U-labels are not a valid
	 * name here and end the evaluation with permerror). */
	const char *from_domain;
	/* SPF: the domain SPF checked (MAIL FROM's, or HELO's when the reverse
	 * path was null, RFC 7489 3.1.2) and its result word ("pass", ...).
	 * NULL when SPF was not checked. */
	const char *spf_domain;
	const char *spf_result;
	bool spf_is_helo;          /* spf_domain is the HELO identity */
	/* The DKIM signatures checked (any result), d= in A-labels. */
	const struct tern_dmarc_dkim *dkim;
	size_t dkim_count;
	/* The connecting client (text), for the aggregate report; may be NULL. */
	const char *source_ip;
	/* Any number; the message is in the pct= sample when random % 100 <
	 * pct. Pass a fresh random value for each message. */
	uint32_t random;
	enum tern_dmarc_existence from_exists;
	const struct psl_ctx_st *psl;   /* NULL: libpsl's built-in list; not copied: keep
					 * it alive until tern_dmarc_free() */
};

/* Which policy tag the applied policy came from. */
enum tern_dmarc_policy_tag {
	TERN_DMARC_FROM_TAG_NONE = 0,   /* no policy */
	TERN_DMARC_FROM_TAG_P,
	TERN_DMARC_FROM_TAG_SP,
	TERN_DMARC_FROM_TAG_NP,
};

/* A DKIM signature as evaluated: the input and whether it aligned. */
struct tern_dmarc_dkim_eval {
	char *domain;
	char *selector;   /* may be NULL */
	char *result;
	bool aligned;     /* result pass and d= aligned with the From domain */
};

/* Everything an aggregate report row needs (RFC 7489 7.2, Appendix C:
 * policy_published, row, identifiers, auth_results), plus the verdict.
 * Valid until tern_dmarc_free(); strings may be NULL where noted. */
struct tern_dmarc_outcome {
	enum tern_dmarc_result result;
	/* The disposition to apply (RFC 7489 6.6.4): NONE on pass, the
	 * requested policy on fail unless pct= sampled the message out, then
	 * the next weaker one; UNSET when there is no policy (result none,
	 * temperror, permerror). */
	enum tern_dmarc_policy disposition;
	enum tern_dmarc_policy requested;   /* the policy the record asks for */
	enum tern_dmarc_policy_tag policy_tag;
	bool sampled_out;                   /* pct= made the disposition weaker */
	const char *from_domain;
	const char *org_domain;             /* of the From domain */
	const char *policy_domain;          /* where the record was found; NULL: none */
	bool have_record;
	struct tern_dmarc_record record;    /* the policy published (with have_record) */
	bool spf_aligned;                   /* SPF pass and its domain aligned */
	const char *spf_domain;             /* NULL: SPF was not checked */
	const char *spf_result;
	bool spf_is_helo;
	struct tern_dmarc_dkim_eval *dkim;
	size_t dkim_count;
	const char *source_ip;              /* may be NULL */
	const char *reason;                 /* a few words on why, for logs and AR comments */
};

struct tern_dmarc;

/* Starts an evaluation. params is copied (not the psl context). A
 * from_domain that is not a valid domain name ends the evaluation at once
 * with permerror. Returns 0 with *dmarc_r set, TERN_EINVAL (params, its
 * from_domain or dmarc_r NULL, dkim NULL with a count) or TERN_ENOMEM. */
int tern_dmarc_new(const struct tern_dmarc_params *params, struct tern_dmarc **dmarc_r);

/* The TXT name to look up next ("_dmarc.example.com"), or NULL when the
 * evaluation is done. Valid until the next tern_dmarc_feed() or
 * tern_dmarc_free(). At most two names are ever asked. */
const char *tern_dmarc_query(const struct tern_dmarc *dmarc);

/* Feeds the answer to tern_dmarc_query()'s name (TXT; TERN_DNS_FOUND,
 * NXDOMAIN, NODATA or TEMPFAIL). The answer is not kept.
 * Returns 0, TERN_ESTATE (no query pending), TERN_EINVAL (answer NULL) or
 * TERN_ENOMEM (the evaluation can be fed again). */
int tern_dmarc_feed(struct tern_dmarc *dmarc, const struct tern_dns_answer *answer);

/* The outcome; meaningful once tern_dmarc_query() returns NULL. Valid
 * until tern_dmarc_free(): keep the evaluation for as long as a report
 * needs it. */
const struct tern_dmarc_outcome *tern_dmarc_outcome(const struct tern_dmarc *dmarc);

/* Of two finished outcomes (one per author domain of a message), the one
 * whose disposition is stricter (reject > quarantine > none > unset), the
 * worse result breaking ties (fail > temperror > permerror > none >
 * pass); a on a full tie. */
const struct tern_dmarc_outcome *tern_dmarc_stricter(const struct tern_dmarc_outcome *a,
						     const struct tern_dmarc_outcome *b);

/* Frees the evaluation and sets *dmarc to NULL. NULL or *NULL: nothing. */
void tern_dmarc_free(struct tern_dmarc **dmarc);

#ifdef __cplusplus
}
#endif
#endif
