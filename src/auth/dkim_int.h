/* Private pieces of DKIM (include/tern/dkim.h):
 *   dkim_key.c     keys: PEM, generation, key records to publish; the
 *                  signature primitives both sides use
 *   dkim_sig.c     a DKIM-Signature field parsed and checked (RFC 6376 3.5)
 *   dkim_keyrec.c  a key record parsed and checked (RFC 6376 3.6.1)
 *   dkim_hash.c    the header hash both sides compute (RFC 6376 3.7)
 *   dkim_sign.c    the signer
 *   dkim_verify.c  the verifier
 *   dkim_keyq.c    key queries and body hashes, the verifier's and ARC's
 *                  (auth/dkim_keyq.h)
 * Shared with ARC: this header, auth/dkim_keyq.h, auth/tag_list.h,
 * auth/canon.h. */
#ifndef TERN_AUTH_DKIM_INT_H
#define TERN_AUTH_DKIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "auth/canon.h"
#include "tern/dkim.h"

#define TERN__DKIM_DIGEST_LEN 32   /* SHA-256 */
#define TERN__DKIM_SIG_MAX 1024    /* an 8192-bit RSA signature */
#define TERN__DKIM_RSA_MIN_BITS 1024 /* RFC 8301 3.2 */
#define TERN__DKIM_RSA_MAX_BITS 8192

struct tern_dkim_key {
	EVP_PKEY *pkey;
	enum tern_dkim_algorithm alg;
	unsigned bits;
};

/* Signs / verifies a SHA-256 digest: RSASSA-PKCS1-v1_5 with SHA-256's
 * DigestInfo for RSA (RFC 6376 3.3.1), PureEdDSA over the 32 digest octets
 * for Ed25519 (RFC 8463 3: "the Ed25519 signature of the SHA-256 hash").
 * sign: *sig_len in: room, out: length; returns 0 or TERN_EIO.
 * verify: returns 1 valid, 0 not valid, TERN_ENOMEM. */
int tern__dkim_sign_digest(EVP_PKEY *pkey, enum tern_dkim_algorithm alg,
			   const unsigned char digest[TERN__DKIM_DIGEST_LEN], unsigned char *sig,
			   size_t *sig_len);
int tern__dkim_verify_digest(EVP_PKEY *pkey, enum tern_dkim_algorithm alg,
			     const unsigned char digest[TERN__DKIM_DIGEST_LEN],
			     const unsigned char *sig, size_t sig_len);

/* True when s[0..len) is a domain name DKIM may use as d= or in s=
 * (RFC 6376 3.5: sub-domain *("." sub-domain), letters, digits, "-"; "_"
 * is accepted too, as in selectors seen in the wild), 1 to 253 octets,
 * labels of 1 to 63, no trailing dot. */
bool tern__dkim_valid_domain(const char *s, size_t len);

/* True when s (NUL-terminated) is a header field name a caller may put in
 * h= (RFC 5322 2.2: printable US-ASCII except ":", at least one). The DKIM
 * signer's and the ARC sealer's header lists are checked by this one rule
 * (dkim_sign.c). */
bool tern__dkim_valid_field_name(const char *s);

/* Whether a is b or a subdomain of b (ASCII case-insensitive). */
bool tern__dkim_domain_within(const char *a, size_t alen, const char *b, size_t blen);

/* RFC 6376 3.5 t=, x=: "at least 40 bits"; anything longer is nonsense. */
#define TERN__DKIM_TIME_MAX_DIGITS 12
/* l= is at most 76 decimal digits; more than 2^64 octets of body is no
 * body anyone sends. */
#define TERN__DKIM_L_MAX_DIGITS 19

/* The tag values DKIM-Signature (dkim_sig.c) and ARC-Message-Signature
 * and ARC-Seal (arc_parse.c) share, read by one parser each so that the
 * two engines accept the same spellings (RFC 8617 4.1.2 takes them from
 * RFC 6376 3.5).
 * parse_uint: s[0..len) is 1 to max_digits digits and nothing else; sets
 * *v. parse_c: c= is "header/body" or "header" alone (body simple), each
 * "simple" or "relaxed"; sets both. Both return false when the value is
 * not that, leaving the outputs unspecified. */
bool tern__dkim_parse_uint(const char *s, size_t len, size_t max_digits, uint64_t *v);
bool tern__dkim_parse_c(const char *s, size_t len, enum tern__canon *header,
			enum tern__canon *body);

/* Walks a colon-separated list with FWS around the items (h=, the key
 * record's h=, s= and t=): sets *item and *len to the next item and returns
 * true, or false at the end. *pos starts at 0. */
bool tern__dkim_list_next(const char *list, size_t list_len, size_t *pos, const char **item,
			  size_t *len);

/* RFC 6376 3.7: the digest of the header fields named by h_list (the h=
 * value: colon-separated, FWS allowed), each instance picked from the
 * bottom, then of the signature field sig[0..sig_len) itself (a whole
 * field; its b= value must already be empty) without its final CRLF.
 * Returns 0, TERN_ENOMEM, TERN_EIO. */
int tern__dkim_header_digest(struct tern__headers *h, enum tern__canon canon, const char *h_list,
			     size_t h_len, const char *sig, size_t sig_len,
			     unsigned char digest[TERN__DKIM_DIGEST_LEN]);

/* A DKIM-Signature field, parsed (dkim_sig.c). Pointers point into the
 * field's text, which the caller keeps. */
struct tern__dkim_sig {
	const char *a, *b, *bh, *d, *h, *i, *s;
	size_t a_len, b_len, bh_len, d_len, h_len, i_len, s_len;
	enum tern_dkim_algorithm alg;
	bool alg_known;          /* false: a= names an algorithm we do not verify */
	enum tern__canon header_canon, body_canon;
	bool has_l;
	uint64_t l;
	time_t t, x;             /* 0 when absent */
	size_t b_value_start;    /* where b= blanking starts (after "b=") */
	size_t b_value_end;      /* where b='s value ends */
};

/* Parses field[0..len) (the whole field, name included). Returns 0, or -1
 * with *reason set to a static string saying why the signature is a
 * permerror (syntax, v=, a tag missing, h= without From, i= outside d=,
 * bad l=/t=/x=, x= before t=). An unknown a= is not an error here:
 * alg_known says so. */
int tern__dkim_sig_parse(const char *field, size_t len, struct tern__dkim_sig *sig,
			 const char **reason);

/* A key record (dkim_keyrec.c). */
struct tern__dkim_keyrec {
	EVP_PKEY *pkey;          /* owned; NULL after a failure */
	enum tern_dkim_algorithm alg;
	unsigned bits;
	bool testing;            /* t=y */
	bool strict;             /* t=s: i= must be in d= itself, not a subdomain */
};

/* Parses a TXT record for a signature of algorithm alg. Returns 0, or
 * TERN_DKIM_PERMERROR with *reason (static) for a record that cannot be
 * used (syntax, v=, k= other than alg's, h= without sha256, s= without
 * email, empty p= = revoked, p= that is no key of that type; also when
 * OpenSSL cannot allocate the key). Key size is the caller's check. */
int tern__dkim_keyrec_parse(const char *txt, size_t len, enum tern_dkim_algorithm alg,
			    struct tern__dkim_keyrec *rec, const char **reason);
void tern__dkim_keyrec_free(struct tern__dkim_keyrec *rec);

#endif
