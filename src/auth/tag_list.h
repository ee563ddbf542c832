/* Tag=value lists (RFC 6376 3.2), the syntax of DKIM-Signature fields and
 * DKIM key records, and of ARC's ARC-Seal and ARC-Message-Signature
 * (RFC 8617 4.1): "v=1; a=rsa-sha256; d=example.com; ...".
 *
 * The parser copies nothing: each tag points into the text it was given,
 * so the caller keeps that text alive while it uses the tags. */
#ifndef TERN_AUTH_TAG_LIST_H
#define TERN_AUTH_TAG_LIST_H

#include <stdbool.h>
#include <stddef.h>

/* One tag. name/name_len: the tag-name (RFC 6376: ALPHA *(ALPHA / DIGIT /
 * "_"), compared case-sensitively: "Tags MUST be interpreted in a
 * case-sensitive manner"). value/value_len: the tag-value without the
 * whitespace around it, but with any folding inside it (a folded b= or h=
 * keeps its CRLF and WSP; tern__tag_strip_fws() removes them). eq_end: the
 * offset in the text just after "=", which is where a DKIM verifier starts
 * blanking b= (RFC 6376 3.5: the value "including all surrounding
 * whitespace" is deleted; trailing FWS before ";" is left, as dkimpy and
 * OpenDKIM leave it). */
struct tern__tag {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
	size_t eq_end;
};

/* Why a tag-list did not parse. */
enum tern__tag_error {
	TERN__TAG_ESYNTAX = -1,    /* not tag-spec *(";" tag-spec) [";"] */
	TERN__TAG_EDUPLICATE = -2, /* a tag name twice: "the entire tag-list is invalid" */
	TERN__TAG_ETOOMANY = -3,   /* more than max tags */
};

/* Parses text[0..len) into tags[0..max). Returns the number of tags (an
 * empty list or one of only whitespace and ";" is 0 tags, which RFC 6376
 * allows and the caller then rejects for lack of required tags) or a
 * negative enum tern__tag_error. Values may hold octets >= 0x80 (RFC 8616
 * lets EAI signers put UTF-8 in some); controls other than folding are a
 * syntax error. */
int tern__tag_parse(const char *text, size_t len, struct tern__tag *tags, size_t max);

/* The tag called name (NUL-terminated), or NULL. */
const struct tern__tag *tern__tag_find(const struct tern__tag *tags, size_t n, const char *name);

/* True when the tag's value equals s exactly (case-sensitive). */
bool tern__tag_value_is(const struct tern__tag *t, const char *s);

/* Copies value[0..len) into out without CR, LF, SP and TAB (base64 values
 * such as b=, bh= and p= may be folded anywhere), NUL-terminated. out must
 * have room for len + 1 octets. Returns the length written. */
size_t tern__tag_strip_fws(const char *value, size_t len, char *out);

/* Whether c is FWS as this parser reads it (SP, TAB, CR or LF; see
 * tag_list.c). Shared with the parsers of h= lists (dkim_sig.c) and of
 * ARC's i= (arc_parse.c), so every DKIM and ARC reader skips the same
 * octets. */
bool tern__tag_is_fws(unsigned char c);

/* A static name for a parse error, for reasons and logs. */
const char *tern__tag_strerror(int err);

#endif
