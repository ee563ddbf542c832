/* Private pieces of ARC (include/tern/arc.h):
 *   arc_parse.c   ARC fields read: the instance of each, the chain's sets
 *                 grouped and checked for shape, ARC-Seal and
 *                 ARC-Message-Signature tag-lists parsed (RFC 8617 4.1)
 *   arc_hash.c    the ARC-Seal's header hash (RFC 8617 5.1.1)
 *   arc_verify.c  the chain verifier (RFC 8617 5.2)
 *   arc_seal.c    the sealer (RFC 8617 5.1)
 * Keys, key records, key queries, the AMS header hash and body hashing are
 * DKIM's (auth/dkim_int.h, auth/dkim_keyq.h, auth/canon.h). */
#ifndef TERN_AUTH_ARC_INT_H
#define TERN_AUTH_ARC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/canon.h"
#include "auth/dkim_int.h"
#include "tern/arc.h"

/* The three fields of a set, in the order the seal hashes them (RFC 8617
 * 5.1.1: AAR, AMS, AS). */
enum tern__arc_kind {
	TERN__ARC_AAR = 0,
	TERN__ARC_AMS = 1,
	TERN__ARC_AS = 2,
};

/* The ARC fields of a header block, grouped by instance. */
struct tern__arc_chain {
	/* The highest instance read (N), at most TERN_ARC_MAX_INSTANCE; 0:
	 * no ARC field at all (fields whose i= cannot be read do not count
	 * here but do make the chain broken). */
	unsigned n;
	bool any;                 /* at least one ARC field, readable or not */
	/* set[i][kind]: the field of instance i (1..n), NULL when missing. */
	const struct tern__hfield *set[TERN_ARC_MAX_INSTANCE + 1][3];
	/* NULL: every instance 1..n has exactly one field of each kind and no
	 * field is unreadable. Else why not (static or in why[]). */
	const char *error;
	char why[96];
};

/* Groups the ARC fields of h (whose block has ended). Never fails. */
void tern__arc_chain_collect(const struct tern__headers *h, struct tern__arc_chain *c);

/* The kind of field f, or -1 when it is no ARC field. */
int tern__arc_field_kind(const struct tern__headers *h, const struct tern__hfield *f);

/* An ARC-Message-Signature or ARC-Seal, parsed. Pointers point into the
 * field's text, which the caller keeps. */
struct tern__arc_sig {
	unsigned instance;
	const char *a, *b, *bh, *d, *h, *s;
	size_t a_len, b_len, bh_len, d_len, h_len, s_len;
	enum tern_dkim_algorithm alg;
	enum tern__canon header_canon, body_canon;   /* AMS only */
	bool has_l;                                  /* AMS only */
	uint64_t l;
	enum tern_arc_status cv;                     /* AS only */
	time_t t;                                    /* 0 when absent */
	size_t b_value_start, b_value_end;           /* b= to blank, as DKIM */
};

/* Parses field[0..len) (the whole field, name included) as kind (AMS or
 * AS). Returns 0, or -1 with *reason (static) saying why the field is
 * unusable: syntax, a required tag missing (AMS: i a b bh d h s; AS: i a b
 * cv d s), h= in a seal, ARC-Seal in an AMS's h=, an unknown algorithm,
 * canonicalization or cv=. */
int tern__arc_sig_parse(const char *field, size_t len, enum tern__arc_kind kind,
			struct tern__arc_sig *sig, const char **reason);

/* Reads the instance of an ARC field's value (after the colon): the i=
 * tag. Returns 1..50, or 0 when it cannot be read or is out of range. */
unsigned tern__arc_instance(const char *field, size_t len, enum tern__arc_kind kind);

/* RFC 8617 5.1.1: the digest an ARC-Seal signs: every set of instances
 * first..upto-1 whole (AAR, AMS, AS), then upto's AAR and AMS, then seal
 * (upto's whole ARC-Seal field, seal_len octets, its b= value already
 * removed) without its final CRLF, all relaxed. aar and ams: upto's fields
 * (whole, final CRLF included); c->set gives the others. first is 1, or
 * upto for a seal over a failed chain (5.1.2). Returns 0, TERN_ENOMEM,
 * TERN_EIO. */
int tern__arc_seal_digest(const struct tern__headers *h, const struct tern__arc_chain *c,
			  unsigned first, unsigned upto, const char *aar, size_t aar_len,
			  const char *ams, size_t ams_len, const char *seal, size_t seal_len,
			  unsigned char digest[TERN__DKIM_DIGEST_LEN]);

/* field[0..len) with the bytes [start, end) removed, in a new buffer
 * (*out_r, the caller frees it); *out_len_r its length. Returns 0 or
 * TERN_ENOMEM. */
int tern__arc_blank_b(const char *field, size_t len, size_t start, size_t end, char **out_r,
		      size_t *out_len_r);

#endif
