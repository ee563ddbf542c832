/* Streaming header-section filter: see header_filter.h. */
#include "mail/header_filter.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tern/tern.h"

enum state {
	S_START,    /* at the start of a line, no field open */
	S_START_CR, /* a CR at the start of a line: the empty line, or junk */
	S_NAME,     /* collecting a field name (in f->name, not passed on yet) */
	S_NAME_WSP, /* obsolete WSP between the name and the colon */
	S_LONG_NAME, /* a name longer than any watched one: passed on as it comes */
	S_FIELD,    /* in a field's value */
	S_FIELD_LF, /* after a line end inside a field: a fold, or the field's end */
	S_BODY,     /* after the header section: everything passes */
};

/* What happens to the current field's bytes. */
enum mode { M_PASS, M_HOLD, M_DROP };

void tern__hdr_filter_init(struct tern__hdr_filter *f, const char *const *watch,
			   tern__hdr_decide_cb *decide, tern__hdr_out_cb *out, void *arg)
{
	memset(f, 0, sizeof(*f));
	f->watch = watch;
	f->decide = decide;
	f->out = out;
	f->arg = arg;
	f->state = S_START;
}

void tern__hdr_filter_clear(struct tern__hdr_filter *f)
{
	free(f->buf);
	f->buf = NULL;
	f->len = f->cap = 0;
}

bool tern__hdr_filter_in_body(const struct tern__hdr_filter *f)
{
	return f->state == S_BODY;
}

static bool watched(const struct tern__hdr_filter *f)
{
	for (const char *const *w = f->watch; w != NULL && *w != NULL; w++) {
		if (strlen(*w) == f->name_len && strncasecmp(*w, f->name, f->name_len) == 0)
			return true;
	}
	return false;
}

static int hold(struct tern__hdr_filter *f, const void *data, size_t len)
{
	if (f->len + len > f->cap) {
		size_t cap = f->cap ? f->cap : 1024;
		char *grown;

		while (cap < f->len + len)
			cap *= 2;
		if (cap > TERN__HDR_FILTER_MAX_FIELD)
			cap = TERN__HDR_FILTER_MAX_FIELD;
		if ((grown = realloc(f->buf, cap)) == NULL)
			return TERN_ENOMEM;
		f->buf = grown;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, len);
	f->len += len;
	return 0;
}

/* The held field is complete (or too long): ask, then pass it or not.
 * Returns the out callback's error; *mode becomes what the rest of an
 * over-long field gets. */
static int decide_held(struct tern__hdr_filter *f, int *mode)
{
	bool keep = f->decide(f->buf, f->len, f->name_len, f->truncated, f->arg);
	int rc = keep ? f->out(f->buf, f->len, f->arg) : 0;

	*mode = keep ? M_PASS : M_DROP;
	f->len = 0;
	return rc;
}

/* Passes the bytes in[*span..i) on, if any, and moves the span to i. */
static int flush(struct tern__hdr_filter *f, const unsigned char *in, size_t *span, size_t i)
{
	int rc = 0;

	if (i > *span)
		rc = f->out(in + *span, i - *span, f->arg);
	*span = i;
	return rc;
}

/* Appends one octet of a field in the current mode. In M_PASS the octet is
 * part of the span (nothing to do); in M_HOLD it is copied; in M_DROP it is
 * skipped. Only called with the span ending just before it. */
static int field_octet(struct tern__hdr_filter *f, int *mode, const unsigned char *in,
		       size_t *span, size_t i)
{
	int rc;

	if (*mode == M_PASS)
		return 0;
	*span = i + 1;
	if (*mode == M_DROP)
		return 0;
	if (f->len == TERN__HDR_FILTER_MAX_FIELD) {
		f->truncated = true;
		if ((rc = decide_held(f, mode)) != 0)
			return rc;
		if (*mode == M_PASS)
			return f->out(in + i, 1, f->arg);
		return 0;
	}
	return hold(f, in + i, 1);
}

int tern__hdr_filter_feed(struct tern__hdr_filter *f, const void *data, size_t len)
{
	const unsigned char *in = data;
	size_t span = 0, i = 0;
	int mode = f->held ? M_HOLD : M_PASS;
	int rc = 0;

	/* A field in M_DROP is remembered as held == false with truncated
	 * set; see the end of this function. */
	if (!f->held && f->truncated && (f->state == S_FIELD || f->state == S_FIELD_LF))
		mode = M_DROP;
	if (mode != M_PASS)
		span = 0;
	while (i < len && rc == 0) {
		unsigned char c = in[i];

		switch (f->state) {
		case S_BODY:
			i = len;
			break;
		case S_START:
			if (c == '\r') {
				f->state = S_START_CR;
				i++;
			} else if (c == '\n') {
				f->state = S_BODY;
			} else if (c > ' ' && c < 127 && c != ':') {
				/* The name is kept aside until we know whether
				 * the field is watched. */
				rc = flush(f, in, &span, i);
				f->name_len = 0;
				f->state = S_NAME;
			} else {
				f->state = S_BODY;
			}
			break;
		case S_START_CR:
			/* The empty line (CRLF) or a stray CR: either way the
			 * header section is over. */
			f->state = S_BODY;
			break;
		case S_NAME:
		case S_NAME_WSP:
			if (c == ':') {
				f->held = watched(f);
				f->truncated = false;
				mode = f->held ? M_HOLD : M_PASS;
				f->len = 0;
				rc = f->held ? hold(f, f->name, f->name_len)
					     : f->out(f->name, f->name_len, f->arg);
				span = i;   /* the colon starts the field's span */
				if (rc == 0 && mode == M_HOLD) {
					rc = hold(f, ":", 1);
					span = i + 1;
				}
				f->state = S_FIELD;
				i++;
			} else if ((c == ' ' || c == '\t') && f->name_len < sizeof(f->name)) {
				f->name[f->name_len++] = (char)c;
				f->state = S_NAME_WSP;
				span = ++i;
			} else if (f->state == S_NAME && c > ' ' && c < 127 &&
				   f->name_len < sizeof(f->name)) {
				f->name[f->name_len++] = (char)c;
				span = ++i;   /* kept in f->name, not in the span */
			} else if (f->state == S_NAME && c > ' ' && c < 127) {
				/* Too long to be watched: an ordinary field
				 * (stopping here would let a long name hide the
				 * fields after it). */
				rc = f->out(f->name, f->name_len, f->arg);
				span = i;
				f->state = S_LONG_NAME;
			} else {
				/* Not a field after all: what was taken for a
				 * name is body text. */
				rc = f->out(f->name, f->name_len, f->arg);
				span = i;
				f->state = S_BODY;
			}
			break;
		case S_LONG_NAME:
			if (c == ':') {
				f->held = false;
				f->truncated = false;
				mode = M_PASS;
				f->state = S_FIELD;
			} else if (c != ' ' && c != '\t' && (c <= ' ' || c >= 127)) {
				f->state = S_BODY;
				break;
			}
			i++;
			break;
		case S_FIELD:
			rc = field_octet(f, &mode, in, &span, i);
			if (c == '\n')
				f->state = S_FIELD_LF;
			i++;
			break;
		case S_FIELD_LF:
			if (c == ' ' || c == '\t') {
				f->state = S_FIELD;
				break;
			}
			/* The field has ended. */
			if (mode == M_HOLD)
				rc = decide_held(f, &mode);
			else if (mode == M_PASS)
				rc = flush(f, in, &span, i);
			span = i;
			f->held = false;
			f->truncated = false;
			mode = M_PASS;
			f->state = S_START;
			break;
		}
	}
	if (rc == 0 && mode == M_PASS)
		rc = flush(f, in, &span, len);
	/* Remember a dropped over-long field across pieces. */
	if (mode == M_DROP) {
		f->held = false;
		f->truncated = true;
	} else if (mode == M_PASS && f->held) {
		f->held = false;    /* kept over-long field: the rest passes */
		f->truncated = false;
	}
	return rc;
}

int tern__hdr_filter_end(struct tern__hdr_filter *f)
{
	int rc = 0;

	if ((f->state == S_FIELD || f->state == S_FIELD_LF) && f->held) {
		int mode;

		rc = decide_held(f, &mode);
	} else if (f->state == S_NAME || f->state == S_NAME_WSP) {
		rc = f->out(f->name, f->name_len, f->arg);
	}
	f->held = false;
	f->state = S_BODY;
	return rc;
}
