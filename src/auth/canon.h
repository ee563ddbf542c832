/* A message as DKIM (RFC 6376 3.4) and ARC (RFC 8617) see it: a header
 * block collected field by field as the bytes stream in, header fields
 * canonicalized one at a time, and a body canonicalized and hashed as it
 * arrives, never buffered whole.
 *
 * Line ends: the message is expected as it is stored, with CRLF; a bare LF
 * is taken as CRLF too (dkimpy and OpenDKIM do the same for locally stored
 * mail). A bare CR is an ordinary octet. */
#ifndef TERN_AUTH_CANON_H
#define TERN_AUTH_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

enum tern__canon {
	TERN__CANON_SIMPLE = 0,
	TERN__CANON_RELAXED = 1,
};

/* ---- Digest output with a small buffer in front ----
 * Canonicalization produces many short pieces; EVP_DigestUpdate is called
 * with spans of up to sizeof buf, or directly with a long piece. */
struct tern__hash_out {
	EVP_MD_CTX *md;
	size_t len;
	unsigned char buf[2048];
};

void tern__hash_out_init(struct tern__hash_out *h, EVP_MD_CTX *md);
/* Returns 0 or -1 when EVP failed (the digest is then unusable). */
int tern__hash_out_write(struct tern__hash_out *h, const void *p, size_t n);
int tern__hash_out_flush(struct tern__hash_out *h);

/* ---- The header block ----
 * Fields are kept in one buffer, every line end made CRLF, with an index of
 * where each field starts, where its name ends and where it ends (after its
 * last CRLF). */
struct tern__hfield {
	size_t off;      /* the field's first octet in the buffer */
	size_t name_len; /* the name, without trailing WSP before ":" */
	size_t len;      /* the whole field, folded lines and final CRLF included */
	bool used;       /* picked by tern__headers_pick(); see there */
};

enum tern__headers_state {
	TERN__HDR_LINE_START = 0, /* at the start of a line */
	TERN__HDR_IN_LINE,
	TERN__HDR_CR,             /* after a CR, waiting to see if LF follows */
	TERN__HDR_DONE,           /* the empty line was seen: the rest is body */
};

struct tern__headers {
	char *data;
	size_t len, cap, limit;
	struct tern__hfield *fields;
	size_t count, fields_cap;
	enum tern__headers_state state;
	bool cr_at_line_start; /* in TERN__HDR_CR: the CR began its line */
	bool over_limit;   /* past limit: later octets were dropped */
	bool ended_at_eof; /* no empty line: the message had no body */
};

/* limit: most octets kept (0: 1 MiB). */
void tern__headers_init(struct tern__headers *h, size_t limit);
void tern__headers_free(struct tern__headers *h);

/* Takes data[0..len) until the header block ends. Returns the octets used
 * (== len unless the block ended inside this piece; the rest is body) or
 * TERN_ENOMEM. Once over the limit, octets are counted as used but not
 * kept (over_limit is set) until the block ends. */
long tern__headers_feed(struct tern__headers *h, const char *data, size_t len);

/* At the end of the message: a block without an empty line ends here (its
 * last line gets a CRLF if it had none). Returns 0 or TERN_ENOMEM. */
int tern__headers_end(struct tern__headers *h);

static inline bool tern__headers_done(const struct tern__headers *h)
{
	return h->state == TERN__HDR_DONE;
}

static inline const char *tern__hfield_text(const struct tern__headers *h,
					    const struct tern__hfield *f)
{
	return h->data + f->off;
}

/* True when field f is called name[0..len) (ASCII case-insensitive). */
bool tern__hfield_is(const struct tern__headers *h, const struct tern__hfield *f,
		     const char *name, size_t len);

/* Clears every field's used flag, before a new h= list is walked. */
void tern__headers_unpick(struct tern__headers *h);

/* The next instance of name to sign or verify, from the bottom up (RFC 6376
 * 5.4.2: the last one first; each h= entry consumes one), marked used; NULL
 * when none is left (the entry then stands for the null string). */
struct tern__hfield *tern__headers_pick(struct tern__headers *h, const char *name, size_t len);

/* How many fields are called name. */
size_t tern__headers_count(const struct tern__headers *h, const char *name, size_t len);

/* ---- Header canonicalization (RFC 6376 3.4.1, 3.4.2) ----
 * Writes field[0..len) (a whole field, folding and final CRLF included)
 * canonicalized to out. With no_crlf the final CRLF is left out, as for the
 * signature field itself (RFC 6376 3.7). Returns 0 or -1 (EVP). */
int tern__canon_header(enum tern__canon c, const char *field, size_t len, bool no_crlf,
		       struct tern__hash_out *out);

/* ---- Body canonicalization (RFC 6376 3.4.3, 3.4.4) and hashing ----
 * Fed raw body octets in pieces of any size. The canonical body is hashed up
 * to limit octets (l=); octets past it are counted in total only. */
struct tern__canon_body {
	enum tern__canon canon;
	uint64_t limit;        /* UINT64_MAX: whole body */
	uint64_t hashed;       /* canonical octets given to the digest */
	uint64_t total;        /* canonical octets produced, past limit too */
	uint64_t empty_lines;  /* empty lines held back: dropped if nothing follows */
	bool cr;               /* the last octet was a CR whose LF may follow */
	bool wsp;              /* relaxed: WSP held back inside a line */
	bool line_content;     /* the current line has content */
	bool failed;           /* EVP failed */
	struct tern__hash_out out;
};

/* md: an initialised digest context the canonicalizer writes to (not owned). */
void tern__canon_body_init(struct tern__canon_body *b, enum tern__canon c, uint64_t limit,
			   EVP_MD_CTX *md);
void tern__canon_body_feed(struct tern__canon_body *b, const char *data, size_t len);
/* Ends the body (RFC 6376 3.4.3: an empty body is one CRLF under simple;
 * a last line without CRLF gets one) and flushes. Returns 0 or -1 (EVP). */
int tern__canon_body_end(struct tern__canon_body *b);

/* ASCII case-insensitive comparison of equal lengths. */
bool tern__ascii_ieq(const char *a, const char *b, size_t len);

#endif
