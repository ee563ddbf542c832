/* libtern ARC: the Authenticated Received Chain (RFC 8617). A receiver
 * verifies the chain of ARC sets a message arrived with; a forwarder (a
 * mailing list, a relay that rewrites) seals the message before passing it
 * on, adding its own set: ARC-Authentication-Results (what it saw),
 * ARC-Message-Signature (a DKIM-like signature of the message) and
 * ARC-Seal (a signature over all the sets).
 *
 * Both engines are sans-I/O like DKIM's (<tern/dkim.h>, <tern/auth.h>): the
 * message is fed in pieces of any size exactly as stored (CRLF; a bare LF
 * is taken as CRLF), the body is canonicalized and hashed as it streams and
 * never buffered, the header block is kept up to a limit, and the caller
 * does the key lookups and passes the time.
 *
 * Verification, e.g. from an SMTP server's DATA path:
 *
 *     tern_arc_verifier_new(&opts, &v);
 *     feed(v, chunk)...                  once the header block has ended,
 *     while (next_query(v, &name) == 1)  start a TXT lookup of name
 *     feed(v, chunk)...                  the body keeps streaming
 *     key_answer(v, name, &answer)       whenever an answer comes
 *     finish(v)                          at the end of the message
 *     when pending(v) == 0 (or on giving up):
 *     result(v, &res)                    "arc=pass", res->cv for a seal
 *
 * Sealing (after a verification of the same message gave cv):
 *
 *     tern_arc_seal_options o; tern_arc_seal_options_init(&o);
 *     o.key = key; o.domain = "example.org"; o.selector = "arc1";
 *     o.authserv_id = "mx.example.org"; o.results = "spf=pass ...; dkim=pass ...";
 *     o.cv = res->cv; o.now = time(NULL);
 *     tern_arc_sealer_new(&o, &s); feed(s, chunk)...; finish(s, &fields, &len);
 *     write fields (ARC-Seal, ARC-Message-Signature,
 *     ARC-Authentication-Results, each ending in CRLF), then the message.
 *
 * Algorithms: rsa-sha256 is the one RFC 8617 names and the only one
 * dkimpy and other deployed validators accept, so the sealer uses only it
 * (an Ed25519 key is refused). The verifier accepts ed25519-sha256 too
 * (RFC 8617 4.1.2 refers to DKIM's algorithm registry, RFC 8463 added it).
 *
 * Threads: a verifier or sealer is used by one thread at a time; distinct
 * objects are independent. Keys are shared as in <tern/dkim.h>. No global
 * state. */
#ifndef TERN_ARC_H
#define TERN_ARC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <tern/auth.h>
#include <tern/dkim.h>
#include <tern/tern.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 8617 4.2.1: "The maximum number of ARC Sets that can be attached to
 * a message is 50." */
#define TERN_ARC_MAX_INSTANCE 50

/* A chain's validation status (RFC 8617 4.4), which is also the result
 * word of "arc=" in Authentication-Results (RFC 8617 10.1) and the cv= of
 * a new ARC-Seal. */
enum tern_arc_status {
	TERN_ARC_NONE = 0, /* no ARC sets */
	TERN_ARC_PASS,     /* every set is well formed, every seal and the newest
			    * ARC-Message-Signature verify */
	TERN_ARC_FAIL,     /* anything else */
};

/* "none", "pass", "fail" (static), or "unknown". */
const char *tern_arc_status_name(enum tern_arc_status status);

/* ---- Verification (RFC 8617 5.2) ---- */

typedef struct tern_arc_verify_options {
	size_t struct_size;      /* set by tern_arc_verify_options_init() */
	/* The time; only used for a timestamp (t=) too far in the future:
	 * RFC 8617 does not expire seals. Required (not 0). */
	time_t now;
	/* RSA keys under this many bits make the signature fail (default and
	 * floor 1024, RFC 8301 3.2). */
	unsigned min_rsa_bits;
	/* How far t= may be ahead of now (default 300 s). */
	unsigned max_clock_skew;
	/* Also verify the older ARC-Message-Signatures to find the
	 * oldest-pass instance (RFC 8617 5.2 step 6, optional; default
	 * false). Costs their key lookups and one body hash per distinct
	 * canonicalization. */
	bool oldest_pass;
	size_t max_header_bytes; /* header block kept (0: 1 MiB); past it: fail */
} tern_arc_verify_options;

void tern_arc_verify_options_init(tern_arc_verify_options *opts);

/* The chain's outcome. Strings are NUL-terminated, owned by the verifier,
 * valid until tern_arc_verifier_free(). */
typedef struct tern_arc_result {
	enum tern_arc_status status;
	/* Why (static text): "chain verified", "ARC-Seal i=2 did not verify",
	 * "instance 3 has two ARC-Seal fields", ... */
	const char *reason;
	/* The highest instance seen (N; 0: none). With a broken chain it is
	 * the highest i= of any ARC field that could be read, at most 50. */
	unsigned instance;
	/* RFC 8617 5.2 step 6, when opts.oldest_pass asked for it and the
	 * chain passed: the lowest instance from which every
	 * ARC-Message-Signature up to N verifies; 0 when all of them do
	 * (header.oldest-pass=0). Otherwise 0. */
	unsigned oldest_pass;
	/* The cv= a seal of this message must carry (RFC 8617 5.1.1): none
	 * without a chain, else pass or fail as status. */
	enum tern_arc_status cv;
	/* Whether RFC 8617 lets a new set be added: false when the chain is at
	 * 50 sets (4.2.1) or its newest seal already says cv=fail (5.1.2:
	 * the chain has ended). */
	bool sealable;
	/* A DNS failure (TEMPFAIL or no answer) decided the fail: a later
	 * retry may pass. RFC 8617 has no temperror result. */
	bool temporary;
	/* d= and s= of the newest ARC-Message-Signature and ARC-Seal, for
	 * logs and Authentication-Results (NULL when not read). */
	const char *ams_domain, *ams_selector, *as_domain, *as_selector;
} tern_arc_result;

typedef struct tern_arc_verifier tern_arc_verifier;

/* Returns 0 and *verifier_r, TERN_EINVAL (now is 0), TERN_ENOMEM. */
int tern_arc_verifier_new(const tern_arc_verify_options *opts, tern_arc_verifier **verifier_r);

/* Feeds the next len octets of the message. Does not keep data. When the
 * header block ends inside this piece, the chain's structure is checked
 * and its key queries become available. Returns 0, TERN_ENOMEM,
 * TERN_ESTATE (after finish). */
int tern_arc_verifier_feed(tern_arc_verifier *verifier, const void *data, size_t len);

/* The next key record to look up, "SELECTOR._domainkey.DOMAIN" (TXT, no
 * trailing dot), valid until the verifier is freed. Each name is given
 * once. None is asked for a chain whose structure already failed.
 * Returns 1 and *name_r, or 0 when there is nothing (more) to ask now. */
int tern_arc_verifier_next_query(tern_arc_verifier *verifier, const char **name_r);

/* The answer to a TXT lookup of name (compared without case, a trailing
 * dot ignored). Copies what it keeps. Returns 0, TERN_EINVAL (a name not
 * asked, or answered already), TERN_ENOMEM, TERN_ESTATE (after result). */
int tern_arc_verifier_key_answer(tern_arc_verifier *verifier, const char *name,
				 const struct tern_dns_answer *answer);

/* How many names given by next_query still wait for an answer. */
size_t tern_arc_verifier_pending(const tern_arc_verifier *verifier);

/* Ends the message. Returns 0, TERN_ENOMEM, TERN_EIO (OpenSSL failed),
 * TERN_ESTATE (called twice). */
int tern_arc_verifier_finish(tern_arc_verifier *verifier);

/* The chain's result; a key never answered counts as a DNS failure
 * (fail, temporary). Answers after this call are refused. *result_r is
 * valid until the verifier is freed. Returns 0, TERN_ESTATE (before
 * finish), or the error finish or feed returned. */
int tern_arc_verifier_result(tern_arc_verifier *verifier, const tern_arc_result **result_r);

/* Frees the verifier and sets *verifier to NULL; NULL is fine. */
void tern_arc_verifier_free(tern_arc_verifier **verifier);

/* ---- Sealing (RFC 8617 5.1) ---- */

typedef struct tern_arc_seal_options {
	size_t struct_size;        /* set by tern_arc_seal_options_init() */
	const tern_dkim_key *key;  /* required, RSA; the sealer takes a reference */
	const char *domain;        /* d=, required */
	const char *selector;      /* s=, required */
	const char *authserv_id;   /* the AAR's authserv-id, required */
	/* This hop's method results as Authentication-Results would carry
	 * them after the authserv-id, e.g. "spf=pass smtp.mailfrom=a.example;
	 * dkim=pass header.d=a.example" (no field name, no authserv-id, no
	 * CR or LF: the sealer folds). NULL or "": "none". When it holds no
	 * "arc=" result, "arc=<cv>" is appended (RFC 8617 4.1.1: the AAR
	 * records the chain's validation as this hop saw it). */
	const char *results;
	/* The incoming chain's status from a verification of this message
	 * (tern_arc_result.cv). Must be none when the message carries no ARC
	 * set and pass or fail when it does. With fail the seal covers only
	 * the new set (RFC 8617 5.1.2). */
	enum tern_arc_status cv;
	/* Names of header fields for the ARC-Message-Signature's h=, as in
	 * tern_dkim_sign_options.headers (NULL: DKIM's default list plus
	 * DKIM-Signature). ARC-Seal may not be named (RFC 8617 4.1.2). */
	const char *const *headers;
	time_t now;                /* t= of both signatures; required */
	size_t max_header_bytes;   /* 0: 1 MiB; past it finish fails, TERN_ELIMIT */
} tern_arc_seal_options;

void tern_arc_seal_options_init(tern_arc_seal_options *opts);

typedef struct tern_arc_sealer tern_arc_sealer;

/* Returns 0 and *sealer_r, TERN_EINVAL (a required option missing, a
 * domain, selector or header name that is not one, an Ed25519 key, an
 * authserv-id or results with controls, cv out of range, ARC-Seal in
 * headers), TERN_ENOMEM. */
int tern_arc_sealer_new(const tern_arc_seal_options *opts, tern_arc_sealer **sealer_r);

/* Feeds the next len octets of the message. Returns 0, TERN_ENOMEM,
 * TERN_ESTATE (after finish). */
int tern_arc_sealer_feed(tern_arc_sealer *sealer, const void *data, size_t len);

/* Ends the message and makes the new ARC set, instance N + 1 where N is
 * the highest i= of the ARC fields present. *fields_r receives the three
 * fields "ARC-Seal: ...\r\nARC-Message-Signature: ...\r\n
 * ARC-Authentication-Results: ...\r\n", folded, NUL-terminated, to be
 * written in that order in front of the message (the caller frees it
 * with free()); *len_r (may be NULL) its length.
 * Returns 0,
 *   TERN_ELIMIT  the chain already has 50 sets, or the header block was
 *                over max_header_bytes;
 *   TERN_EINVAL  cv does not fit the message (none with ARC sets
 *                present, pass or fail without), or the newest seal
 *                already says cv=fail: RFC 8617 5.1.2, the chain has
 *                ended and no set may be added;
 *   TERN_ENOMEM, TERN_EIO (OpenSSL failed), TERN_ESTATE (called twice). */
int tern_arc_sealer_finish(tern_arc_sealer *sealer, char **fields_r, size_t *len_r);

/* Frees the sealer and sets *sealer to NULL; NULL is fine. */
void tern_arc_sealer_free(tern_arc_sealer **sealer);

#ifdef __cplusplus
}
#endif
#endif
