/* libtern DKIM: signing and verification of DomainKeys Identified Mail
 * (RFC 6376), with Ed25519 (RFC 8463) and the cryptographic updates of
 * RFC 8301 (no rsa-sha1, no RSA key under 1024 bits).
 *
 * Both engines are sans-I/O (<tern/auth.h>): they are fed the message as it
 * streams, in pieces of any size, exactly as it would be stored (CRLF line
 * ends; a bare LF is taken as CRLF), and never touch a clock or a socket.
 * The body is canonicalized and hashed as it arrives and never buffered; the
 * header block is kept (up to a limit) because the header hash needs it.
 *
 * Signing, e.g. from an outbound queue:
 *
 *     tern_dkim_key *key;
 *     tern_dkim_key_from_pem(pem, pem_len, &key);
 *     tern_dkim_sign_options o;
 *     tern_dkim_sign_options_init(&o);
 *     o.key = key; o.domain = "example.com"; o.selector = "s1"; o.now = time(NULL);
 *     tern_dkim_signer *s;
 *     tern_dkim_signer_new(&o, &s);
 *     tern_dkim_signer_feed(s, chunk, n);   ... as often as needed
 *     char *field; size_t len;
 *     tern_dkim_signer_finish(s, &field, &len);  "DKIM-Signature: ...\r\n"
 *     (write field, then the message)   free(field); tern_dkim_signer_free(&s);
 *
 * Several signers may run over one message (an RSA and an Ed25519
 * signature): each is fed the same octets; their fields are prepended in any
 * order (no signer signs DKIM-Signature fields).
 *
 * Verification, e.g. from an SMTP server's DATA path:
 *
 *     tern_dkim_verifier_new(&opts, &v);
 *     feed(v, chunk)...                 once the header block has ended,
 *     while (next_query(v, &name) == 1) start a TXT lookup of name
 *     feed(v, chunk)...                 the body keeps streaming meanwhile
 *     key_answer(v, name, &answer)      whenever an answer comes, before or
 *                                       after the end of the message
 *     finish(v)                         at the end of the message
 *     when pending(v) == 0 (or when the caller gives up waiting):
 *     results(v, &res, &n)              one result per DKIM-Signature field
 *
 * Threads: a signer or verifier is used by one thread at a time; distinct
 * objects are independent. A tern_dkim_key is immutable once made and may be
 * shared by signers on any number of threads. No global state. */
#ifndef TERN_DKIM_H
#define TERN_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <tern/auth.h>
#include <tern/tern.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Keys ---- */

enum tern_dkim_algorithm {
	TERN_DKIM_RSA_SHA256 = 0,     /* "rsa-sha256" (RFC 6376 3.3.2) */
	TERN_DKIM_ED25519_SHA256 = 1, /* "ed25519-sha256" (RFC 8463) */
};

/* A private key for signing. Opaque, immutable, reference counted
 * internally: a signer keeps its own reference, so the caller may free the
 * key as soon as signers are made. */
typedef struct tern_dkim_key tern_dkim_key;

/* Reads a PEM private key: RSA as PKCS#8 ("BEGIN PRIVATE KEY") or
 * traditional ("BEGIN RSA PRIVATE KEY"), Ed25519 as PKCS#8. Encrypted keys
 * are not accepted. pem[0..len) need not be NUL-terminated; it is not kept.
 * Returns 0 and *key_r, or TERN_EINVAL (not a PEM private key, another key
 * type, or an RSA key under 1024 bits: RFC 8301 3.2 forbids signing with
 * one), TERN_ENOMEM. */
int tern_dkim_key_from_pem(const char *pem, size_t len, tern_dkim_key **key_r);

/* Makes a new key: RSA of bits bits (0: 2048; 1024..8192 accepted, RFC 8301
 * recommends at least 2048) or Ed25519 (bits ignored). Returns 0 and
 * *key_r, TERN_EINVAL (bits out of range), TERN_ENOMEM, TERN_EIO (OpenSSL
 * failed: no entropy). */
int tern_dkim_key_generate(enum tern_dkim_algorithm alg, unsigned bits, tern_dkim_key **key_r);

/* The key's algorithm, and its size in bits (256 for Ed25519). */
enum tern_dkim_algorithm tern_dkim_key_algorithm(const tern_dkim_key *key);
unsigned tern_dkim_key_bits(const tern_dkim_key *key);

/* The private key as PKCS#8 PEM (unencrypted), in *pem_r (NUL-terminated,
 * the caller frees it with free()). Returns 0, TERN_ENOMEM. */
int tern_dkim_key_to_pem(const tern_dkim_key *key, char **pem_r);

/* The key record to publish at SELECTOR._domainkey.DOMAIN (RFC 6376 3.6.1):
 * "v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo DER, base64>" or "v=DKIM1;
 * k=ed25519; p=<the raw 32-octet key, base64>" (RFC 8463 4.2), in *txt_r
 * (NUL-terminated, the caller frees it with free()). Returns 0, TERN_ENOMEM. */
int tern_dkim_key_dns_record(const tern_dkim_key *key, char **txt_r);

/* Drops the caller's reference and sets *key to NULL; NULL is fine. */
void tern_dkim_key_free(tern_dkim_key **key);

/* ---- Signing ---- */

enum tern_dkim_canon {
	TERN_DKIM_SIMPLE = 0,  /* RFC 6376 3.4.1, 3.4.3 */
	TERN_DKIM_RELAXED = 1, /* RFC 6376 3.4.2, 3.4.4 */
};

/* Signer options. ABI: versioned by size as tern_dsn_options:
 * tern_dkim_sign_options_init() sets struct_size; fields are only ever
 * appended. Strings are copied by tern_dkim_signer_new(). */
typedef struct tern_dkim_sign_options {
	size_t struct_size;             /* set by tern_dkim_sign_options_init() */
	const tern_dkim_key *key;       /* required; the signer takes a reference */
	const char *domain;             /* d=, required: "example.com" */
	const char *selector;           /* s=, required: "s2024" */
	/* i= (RFC 6376 3.5): "[local-part]@domain" where domain is d= or a
	 * subdomain of it; NULL: no i= (verifiers then take "@d"). */
	const char *identity;
	enum tern_dkim_canon header_canon; /* default TERN_DKIM_RELAXED */
	enum tern_dkim_canon body_canon;   /* default TERN_DKIM_RELAXED */
	/* Names of the header fields to sign, NULL-terminated; NULL: the
	 * default list (From, Reply-To, Subject, Date, To, Cc, In-Reply-To,
	 * References, Message-ID, MIME-Version, Content-Type,
	 * Content-Transfer-Encoding, Content-ID, Content-Description,
	 * Resent-*, List-*, Sender, Auto-Submitted, Feedback-ID). Each name is
	 * signed once per instance present; From is always signed. */
	const char *const *headers;
	/* Over-signing (default true): From, To, Cc, Subject and Date (when
	 * signed) are listed once more than they occur, so a field of that name
	 * added in transit breaks the signature instead of being shown unsigned
	 * (RFC 6376 8.15). */
	bool oversign;
	/* t= (RFC 6376 3.5): the signing time, seconds since the epoch; 0:
	 * no t=. The library reads no clock. */
	time_t now;
	/* x= = now + expire (seconds); 0: no x=. Needs now. */
	uint32_t expire;
	/* l= (the body length signed): false (default). Signing with l= lets
	 * anyone append content, so it is off unless asked for. */
	bool body_length;
	/* Most octets of header block kept (0: 1 MiB); a longer one makes
	 * tern_dkim_signer_finish() fail with TERN_ELIMIT. */
	size_t max_header_bytes;
} tern_dkim_sign_options;

void tern_dkim_sign_options_init(tern_dkim_sign_options *opts);

typedef struct tern_dkim_signer tern_dkim_signer;

/* Makes a signer. Returns 0 and *signer_r, TERN_EINVAL (no key, domain or
 * selector; a domain or selector that is not a domain name; an identity
 * not "@" + d= or a subdomain; a canon value out of range; expire without
 * now), TERN_ENOMEM. */
int tern_dkim_signer_new(const tern_dkim_sign_options *opts, tern_dkim_signer **signer_r);

/* Feeds the next len octets of the message (header block, empty line,
 * body). Does not keep data. Returns 0, TERN_ENOMEM, TERN_ESTATE (after
 * finish). */
int tern_dkim_signer_feed(tern_dkim_signer *signer, const void *data, size_t len);

/* Ends the message and signs it. *field_r receives the whole
 * "DKIM-Signature: ...\r\n" field, folded at 78 columns, NUL-terminated
 * (the caller frees it with free()); *len_r its length (may be NULL).
 * Returns 0, TERN_ELIMIT (the header block was over max_header_bytes),
 * TERN_ENOMEM, TERN_EIO (OpenSSL failed), TERN_ESTATE (called twice). */
int tern_dkim_signer_finish(tern_dkim_signer *signer, char **field_r, size_t *len_r);

/* Frees the signer and sets *signer to NULL; NULL is fine. */
void tern_dkim_signer_free(tern_dkim_signer **signer);

/* ---- Verification ---- */

/* A signature's outcome, in the words of RFC 8601 2.7.1. */
enum tern_dkim_status {
	TERN_DKIM_NONE = 0,   /* the message has no signature (no result is given) */
	TERN_DKIM_PASS,
	TERN_DKIM_FAIL,       /* hashes or signature do not verify; x= passed */
	TERN_DKIM_NEUTRAL,
	TERN_DKIM_POLICY,     /* not checked: over max_signatures, or a key weaker
			       * than the caller's min_rsa_bits */
	TERN_DKIM_TEMPERROR,  /* the key could not be fetched now (DNS) */
	TERN_DKIM_PERMERROR,  /* malformed signature, no key, bad or revoked key */
};

/* "none", "pass", "fail", "neutral", "policy", "temperror", "permerror"
 * (static), or "unknown". */
const char *tern_dkim_result_name(enum tern_dkim_status status);

typedef struct tern_dkim_verify_options {
	size_t struct_size;        /* set by tern_dkim_verify_options_init() */
	time_t now;                /* the time to check t= and x= against; required */
	/* Signatures checked, from the top of the message (default 10); the
	 * rest get TERN_DKIM_POLICY. */
	unsigned max_signatures;
	/* RSA keys under this many bits are refused (default and floor 1024,
	 * RFC 8301 3.2: under 1024 is permerror, between 1024 and this is
	 * policy). */
	unsigned min_rsa_bits;
	/* How far t= may be in the future (default 300 s) before the signature
	 * is a permerror: a timestamp from the future means a wrong clock or a
	 * forged t=. */
	unsigned max_clock_skew;
	size_t max_header_bytes;   /* header block kept (0: 1 MiB); past it: permerror */
} tern_dkim_verify_options;

void tern_dkim_verify_options_init(tern_dkim_verify_options *opts);

/* One signature's result. Strings are NUL-terminated, owned by the
 * verifier, valid until tern_dkim_verifier_free(); a tag the signature
 * lacks is NULL. */
typedef struct tern_dkim_result {
	enum tern_dkim_status status;
	const char *reason;     /* why, in words: "body hash did not verify" */
	const char *domain;     /* d= */
	const char *selector;   /* s= */
	const char *identity;   /* i=, or "@" d= when absent (RFC 6376 3.5) */
	const char *algorithm;  /* a= as written */
	/* b= without whitespace; its first 8 or more characters are
	 * Authentication-Results' header.b (RFC 6008). */
	const char *b;
	time_t timestamp;       /* t=, 0 when absent */
	time_t expiration;      /* x=, 0 when absent */
	bool body_length_limited; /* l= was given ... */
	uint64_t body_length;     /* ... with this value */
	bool unsigned_content;    /* the body is longer than l=: content after it
				   * is not covered by the signature */
	bool testing;           /* the key record says t=y: the domain is testing */
	unsigned key_bits;      /* the public key's size, 0 when not fetched */
} tern_dkim_result;

typedef struct tern_dkim_verifier tern_dkim_verifier;

/* Returns 0 and *verifier_r, TERN_EINVAL (now is 0), TERN_ENOMEM. */
int tern_dkim_verifier_new(const tern_dkim_verify_options *opts, tern_dkim_verifier **verifier_r);

/* Feeds the next len octets of the message. Does not keep data. When the
 * header block ends inside this piece, the signatures are parsed and their
 * key queries become available from tern_dkim_verifier_next_query().
 * Returns 0, TERN_ENOMEM, TERN_ESTATE (after finish). */
int tern_dkim_verifier_feed(tern_dkim_verifier *verifier, const void *data, size_t len);

/* The next key record to look up: *name_r = "SELECTOR._domainkey.DOMAIN"
 * (a TXT query; no trailing dot), valid until the verifier is freed. Each
 * name is given once, even when several signatures share it. Returns 1
 * and *name_r, or 0 when there is nothing (more) to ask now: before the
 * header block has ended (or finish), or when every name was given. */
int tern_dkim_verifier_next_query(tern_dkim_verifier *verifier, const char **name_r);

/* The answer to a TXT lookup of name (as given by next_query; compared
 * case-insensitively, a trailing dot ignored). Copies what it keeps; the
 * answer need only live during the call. May come before or after finish.
 * Returns 0, TERN_EINVAL (a name never asked, or answered already),
 * TERN_ENOMEM. */
int tern_dkim_verifier_key_answer(tern_dkim_verifier *verifier, const char *name,
				  const struct tern_dns_answer *answer);

/* How many names given by next_query still wait for an answer. */
size_t tern_dkim_verifier_pending(const tern_dkim_verifier *verifier);

/* Ends the message. Returns 0, TERN_ENOMEM, TERN_EIO (OpenSSL failed),
 * TERN_ESTATE (called twice). */
int tern_dkim_verifier_finish(tern_dkim_verifier *verifier);

/* The results, one per DKIM-Signature field in the order of the message
 * (top first); *n_r = 0 means "none". A signature whose key was never
 * answered is temperror ("no answer to the key query"); calling this
 * before pending() is 0 is how a caller gives up on slow lookups. Answers
 * after this call are refused (TERN_ESTATE). *results_r is valid until the
 * verifier is freed. Returns 0, TERN_ESTATE (before finish). */
int tern_dkim_verifier_results(tern_dkim_verifier *verifier, const tern_dkim_result **results_r,
			       size_t *n_r);

/* Frees the verifier and sets *verifier to NULL; NULL is fine. */
void tern_dkim_verifier_free(tern_dkim_verifier **verifier);

#ifdef __cplusplus
}
#endif
#endif
