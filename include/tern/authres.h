/* libtern Authentication-Results (RFC 8601): writing the header field a
 * receiver adds after checking SPF, DKIM, DMARC, ARC, iprev or SMTP AUTH,
 * and reading one somebody else wrote.
 *
 *   Authentication-Results: mx.example.org;
 *           spf=pass smtp.mailfrom=example.com;
 *           dkim=pass header.d=example.com header.s=sel header.b=AbCdEf12;
 *           dmarc=pass (p=reject dis=none) header.from=example.com
 *
 * The reader exists so that a receiver can delete the fields that claim its
 * own authserv-id before adding its own (RFC 8601 5: they were forged, or
 * are stale), and so that ARC can read ARC-Authentication-Results. It reads
 * the authserv-id exactly and the method results on a best-effort basis:
 * other implementations' output is not always grammatical (RFC 8601 2.7
 * invites consumers to ignore what they do not understand).
 *
 * Pure functions: no global state, no I/O. Thread-safe. */
#ifndef TERN_AUTHRES_H
#define TERN_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include <tern/tern.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A property (RFC 8601 2.3): ptype "." property "=" value, such as
 * smtp.mailfrom=example.com, header.d=example.com, header.b=AbCdEf12
 * (RFC 6008), policy.dmarc=reject. The reader gives an empty ptype for a
 * "name=value" with no dot (Microsoft's "action=none", "compauth=pass"). */
struct tern_authres_prop {
	const char *ptype;      /* "smtp", "header", "body", "policy" */
	const char *property;   /* "mailfrom", "d", ... */
	const char *value;
};

/* One method's result (RFC 8601 2.2 resinfo). */
struct tern_authres_result {
	const char *method;    /* "spf", "dkim", "dmarc", "arc", "iprev", "auth", ... */
	unsigned version;      /* the method-version after "/" (2.2); 0: none */
	const char *result;    /* "pass", "fail", "none", ... (2.7) */
	const char *comment;   /* text of the comment after the result, or NULL */
	const char *reason;    /* reason= (2.3), or NULL */
	const struct tern_authres_prop *props;
	size_t prop_count;
};

/* Writes a whole field, "Authentication-Results: " (or field_name ": ")
 * through its final CRLF, folded with CRLF TAB so that no line passes 78
 * columns where a break is possible (a single longer token stays whole),
 * each method on a line of its own. With count 0 the field says "none"
 * (RFC 8601 2.2). Values that are not RFC 2045 tokens (nor, for
 * properties, local-part@domain forms, 2.3) are written as quoted
 * strings; comments have "(", ")" and "\\" escaped. UTF-8 is passed
 * through (RFC 6532).
 *
 * field_name: NULL for "Authentication-Results". authserv_id: required.
 * results: count entries; method and result required in each, the rest
 * may be NULL/0. Copies nothing; *out_r is a NUL-terminated string the
 * caller frees with free(), *len_r (may be NULL) its length.
 * Returns 0, TERN_EINVAL (a required string missing or empty, a method,
 * result, ptype or property that is not a keyword, a CR, LF or other
 * control character anywhere) or TERN_ENOMEM. */
int tern_authres_build(const char *field_name, const char *authserv_id,
		       const struct tern_authres_result *results, size_t count, char **out_r,
		       size_t *len_r);

/* A field read by tern_authres_parse(). Strings are NUL-terminated,
 * comments removed, quoted strings unquoted; all owned by the struct. */
struct tern_authres_parsed {
	char *authserv_id;
	unsigned version;      /* authres-version after the id; 0: none (means 1) */
	int instance;          /* ARC-Authentication-Results "i=" (RFC 8617 4.1.1); -1: none */
	bool none;             /* the field said "none": no method results */
	bool partial;          /* reading stopped early at something it did not understand */
	struct tern_authres_result *results;
	size_t count;
	char *storage_;        /* private */
	struct tern_authres_prop *props_;   /* private */
};

/* Reads a field value, value[0..len) (without the field name and colon;
 * folded or not, any octet), into out (overwritten; free it with
 * tern_authres_parsed_clear() after any return). arc: an
 * ARC-Authentication-Results value, which starts with "i=N;".
 * Returns 0 (the authserv-id read; results read as far as they parse:
 * partial says whether all were), TERN_EINVAL (no authserv-id could be
 * read: the field is unusable) or TERN_ENOMEM. */
int tern_authres_parse(const char *value, size_t len, bool arc, struct tern_authres_parsed *out);

void tern_authres_parsed_clear(struct tern_authres_parsed *parsed);

/* Whether a field value's authserv-id is id (compared without case, as
 * the domain names it usually is). For RFC 8601 5's removal of forged
 * fields: true means "claims to be ours". A value that cannot be read:
 * false. Never allocates more than the parse does; on TERN_ENOMEM returns
 * false and sets *err_r (may be NULL) to it, else *err_r = 0. */
bool tern_authres_is_ours(const char *value, size_t len, bool arc, const char *id, int *err_r);

#ifdef __cplusplus
}
#endif
#endif
