/* The MIME structure engine behind IMAP FETCH (RFC 9051 / RFC 3501 7.4.2,
 * 7.5.2) and SEARCH: a streaming, bounded parser that records where every
 * part's header and body lie in the original message, the Content-* fields
 * and, for messages (the top level and message/rfc822 bodies), the envelope
 * fields. Body octets are never kept: only each header section, up to
 * max_header bytes, is buffered while it is read.
 *
 * Private to libtern (tern__mime_*): the IMAP server is its only user for
 * now. No global state; a structure may be used by one thread at a time,
 * several structures by several threads. */
#ifndef TERN_MIME_MIME_H
#define TERN_MIME_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define TERN__MIME_NONE UINT32_MAX

/* Header fields kept per part. The Content-* ones for every part, the
 * envelope ones only for a message header (the top level or the body of a
 * message/rfc822 part). Values are raw field bodies, folding kept. */
enum tern__mime_field {
	TERN__MIME_F_CONTENT_TYPE,
	TERN__MIME_F_CONTENT_TRANSFER_ENCODING,
	TERN__MIME_F_CONTENT_ID,
	TERN__MIME_F_CONTENT_DESCRIPTION,
	TERN__MIME_F_CONTENT_DISPOSITION,
	TERN__MIME_F_CONTENT_LANGUAGE,
	TERN__MIME_F_CONTENT_LOCATION,
	TERN__MIME_F_CONTENT_MD5,
	TERN__MIME_F_DATE,
	TERN__MIME_F_SUBJECT,
	TERN__MIME_F_FROM,
	TERN__MIME_F_SENDER,
	TERN__MIME_F_REPLY_TO,
	TERN__MIME_F_TO,
	TERN__MIME_F_CC,
	TERN__MIME_F_BCC,
	TERN__MIME_F_IN_REPLY_TO,
	TERN__MIME_F_MESSAGE_ID,
	TERN__MIME_F_COUNT
};
#define TERN__MIME_F_FIRST_ENVELOPE TERN__MIME_F_DATE

/* What the parser decided a part is (from Content-Type and context). */
enum tern__mime_kind {
	TERN__MIME_KIND_LEAF,      /* any single part, text ones included */
	TERN__MIME_KIND_MULTIPART, /* multipart/ (any subtype) with a usable boundary */
	TERN__MIME_KIND_MESSAGE,   /* message/rfc822 (or global): one child, the message */
};

/* Part flags. */
#define TERN__MIME_P_TEXT 0x01      /* text (any subtype): BODYSTRUCTURE carries a line count */
#define TERN__MIME_P_IS_MESSAGE 0x02 /* its header is a message header (envelope kept) */
#define TERN__MIME_P_TRUNCATED 0x04 /* a limit stopped its children or its header */

/* One region of the message: physical offset and size as stored, and the
 * size IMAP reports (RFC 9051 2.3.4: with every bare LF counted as CRLF). */
struct tern__mime_range {
	uint64_t off;
	uint64_t size;
	uint64_t vsize;
	uint64_t lines; /* LFs inside the region */
};

struct tern__mime_part {
	uint32_t parent;       /* index, TERN__MIME_NONE for the root */
	uint32_t first_child;  /* index or TERN__MIME_NONE */
	uint32_t next_sibling; /* index or TERN__MIME_NONE */
	uint32_t depth;
	uint8_t kind;          /* enum tern__mime_kind */
	uint8_t flags;         /* TERN__MIME_P_* */
	struct tern__mime_range header; /* the header section, blank line included */
	struct tern__mime_range body;
	char *field[TERN__MIME_F_COUNT]; /* NUL-terminated; NULL when absent */
	uint32_t field_len[TERN__MIME_F_COUNT]; /* values may hold NUL octets */
};

struct tern__mime_limits {
	size_t max_header;   /* bytes of one header section kept (default 256 KiB) */
	uint32_t max_parts;  /* parts in the whole message (default 10000) */
	uint32_t max_depth;  /* nesting of multipart and message parts (default 100) */
	size_t max_boundary; /* boundary length; longer ones are not used (default 200) */
};

/* The structure of one message; parts[0] is the root. Owned by whoever
 * created it (parser_finish or load), freed with tern__mime_free. */
struct tern__mime {
	struct tern__mime_part *parts;
	uint32_t nparts;
	uint32_t cap;
	uint64_t size;  /* the whole message, physical */
	uint64_t vsize; /* the whole message, RFC822.SIZE */
	unsigned truncated; /* nonzero when a limit was reached somewhere */
};

void tern__mime_limits_default(struct tern__mime_limits *l);
/* Hooks parts[i] under its parent (depth, first child or last sibling):
 * parts are appended in document order, so the list stays in order. */
void tern__mime_link(struct tern__mime *m, uint32_t i);
void tern__mime_free(struct tern__mime **m);

/* The streaming parser. new: limits NULL for the defaults (copied).
 * feed: any number of bytes, CRLF or bare LF; returns 0 or TERN_ENOMEM
 * (the parser is then unusable: free it). finish: ends the message and
 * hands over its structure in *m_r (the caller owns it); returns 0,
 * TERN_ENOMEM or TERN_ESTATE (already finished). */
struct tern__mime_parser;
int tern__mime_parser_new(struct tern__mime_parser **p_r, const struct tern__mime_limits *limits);
int tern__mime_parser_feed(struct tern__mime_parser *p, const void *data, size_t len);
int tern__mime_parser_finish(struct tern__mime_parser *p, struct tern__mime **m_r);
void tern__mime_parser_free(struct tern__mime_parser **p);
/* One call: parse a whole message held in memory. */
int tern__mime_parse(const void *msg, size_t len, const struct tern__mime_limits *limits,
		     struct tern__mime **m_r);

/* Header field bookkeeping (header.c): splits a header section into
 * fields and records the ones a part keeps. */
int tern__mime_header_scan(struct tern__mime_part *part, const char *hdr, size_t len,
			   int keep_envelope);
/* Content-Type: type and subtype (as written, into the buffers, at most
 * cap - 1 bytes) and the parameter list. Returns 1 when valid, 0 when not. */
struct tern__mime_param {
	char *name;  /* as written, continuations joined (RFC 2231 3) */
	char *value; /* unquoted; "charset'lang'pct-encoded" for name* (RFC 2231 4) */
};
struct tern__mime_params {
	struct tern__mime_param *v;
	size_t n;
};
void tern__mime_params_free(struct tern__mime_params *ps);
const char *tern__mime_params_get(const struct tern__mime_params *ps, const char *name);
/* Parses "token/token *(; param)" (ct = 1) or "token *(; param)" (ct = 0,
 * Content-Disposition: the value goes into type). Returns 1 valid, 0 not
 * valid (params may still hold what was read), TERN_ENOMEM. */
int tern__mime_parse_ctype(const char *s, size_t len, int ct, char *type, size_t type_cap,
			   char *subtype, size_t subtype_cap, struct tern__mime_params *ps);

/* IMAP output (imap.c). Appends to out; returns 0, TERN_ENOMEM or
 * TERN_ELIMIT from the buffer. */
int tern__mime_imap_envelope(const struct tern__mime *m, uint32_t part, struct tern__buf *out);
int tern__mime_imap_bodystructure(const struct tern__mime *m, uint32_t part, int extended,
				  struct tern__buf *out);
/* An IMAP string: NIL for NULL, a quoted string, or a literal when the
 * value holds CR, LF, NUL or 8-bit octets. */
int tern__mime_imap_nstring(struct tern__buf *out, const char *s, size_t len);
/* RFC 5322 address lists into IMAP's address structures (address.c). */
int tern__mime_imap_addresses(struct tern__buf *out, const char *s, size_t len);

/* Serialization (store.c): a compact binary form for a store's cache. */
int tern__mime_save(const struct tern__mime *m, struct tern__buf *out);
/* Returns 0, TERN_EINVAL (damaged or foreign data) or TERN_ENOMEM. */
int tern__mime_load(const void *data, size_t len, struct tern__mime **m_r);

/* Section addressing (section.c), RFC 9051 6.4.5. spec is the text inside
 * BODY[...] ("", "1.2", "1.HEADER", "2.TEXT", "1.MIME",
 * "HEADER.FIELDS (A B)", "1.HEADER.FIELDS.NOT (C)"). */
enum tern__mime_section_kind {
	TERN__MIME_SEC_RANGE,         /* send [off, off + size) of the message */
	TERN__MIME_SEC_HEADER_FIELDS, /* filter the header at [off, off + size) */
	TERN__MIME_SEC_EMPTY,         /* a part that does not exist: send "" */
};
struct tern__mime_section {
	enum tern__mime_section_kind kind;
	uint64_t off, size;
	int not;          /* HEADER.FIELDS.NOT */
	char **fields;    /* field names, owned; NULL-terminated */
	size_t nfields;
};
/* Returns 0, TERN_EINVAL (syntax) or TERN_ENOMEM. */
int tern__mime_section_resolve(const struct tern__mime *m, const char *spec,
			       struct tern__mime_section *sec_r);
void tern__mime_section_clear(struct tern__mime_section *sec);
/* Writes the fields of header [hdr, hdr+len) named (or not named, when
 * not) in sec, then the blank line, into out. */
int tern__mime_header_fields(const struct tern__mime_section *sec, const char *hdr, size_t len,
			     struct tern__buf *out);

#endif
