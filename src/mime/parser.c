/* The streaming MIME parser: a line machine over the message, fed in pieces
 * of any size. It keeps one header section at a time (bounded), the first
 * bytes of the current line (enough to recognise a boundary) and the stack
 * of open parts; body octets pass through uncopied.
 *
 * Broken MIME is read the way Dovecot reads it: a boundary of any open
 * multipart ends every part inside it (so a missing close delimiter in a
 * nested part does no harm), text before the first boundary and after the
 * last is the multipart's preamble and epilogue, and a part past the
 * nesting or part limit keeps the rest as its body. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime.h"
#include "tern/tern.h"

enum state {
	ST_HEADER, /* reading the header of parts[cur] */
	ST_BODY,   /* reading the body of parts[cur] */
};

/* One open part: the path from the root to the part being read. */
struct open {
	uint32_t part;
	char *boundary; /* multipart with an active boundary, else NULL */
	size_t blen;
};

struct tern__mime_parser {
	struct tern__mime_limits lim;
	struct tern__mime *m;
	enum state state;
	struct open *open;
	uint32_t nopen;
	uint64_t off;      /* bytes seen */
	uint64_t lfs;      /* LFs seen */
	uint64_t bare;     /* bare LFs seen (no CR before) */
	int prev_cr;
	/* The line being read. */
	uint64_t line_off, line_lfs, line_bare;
	char *line;        /* its first line_cap bytes */
	size_t line_len, line_cap;
	int line_has_text; /* more than CR seen */
	int line_eol_cr;   /* the line before this one ended with CRLF */
	uint64_t delim_end; /* just after the last delimiter line */
	struct tern__buf hdr;
	int hdr_over;      /* max_header reached for this part */
	int finished;
	int failed;
};

void tern__mime_limits_default(struct tern__mime_limits *l)
{
	l->max_header = 256 * 1024;
	l->max_parts = 10000;
	l->max_depth = 100;
	l->max_boundary = 200;
}

static void part_clear(struct tern__mime_part *p)
{
	for (int i = 0; i < TERN__MIME_F_COUNT; i++)
		free(p->field[i]);
}

void tern__mime_free(struct tern__mime **mp)
{
	struct tern__mime *m = mp ? *mp : NULL;
	if (!m)
		return;
	for (uint32_t i = 0; i < m->nparts; i++)
		part_clear(&m->parts[i]);
	free(m->parts);
	free(m);
	*mp = NULL;
}

void tern__mime_link(struct tern__mime *m, uint32_t i)
{
	struct tern__mime_part *p = &m->parts[i];
	if (p->parent == TERN__MIME_NONE)
		return;
	struct tern__mime_part *pp = &m->parts[p->parent];
	p->depth = pp->depth + 1;
	if (pp->first_child == TERN__MIME_NONE) {
		pp->first_child = i;
		return;
	}
	uint32_t c = pp->first_child;
	while (m->parts[c].next_sibling != TERN__MIME_NONE)
		c = m->parts[c].next_sibling;
	m->parts[c].next_sibling = i;
}

/* Appends a part under parent starting at off. Returns its index or
 * TERN__MIME_NONE on ENOMEM. */
static uint32_t part_add(struct tern__mime *m, uint32_t parent, uint64_t off)
{
	if (m->nparts == m->cap) {
		uint32_t cap = m->cap ? m->cap * 2 : 8;
		struct tern__mime_part *np = realloc(m->parts, cap * sizeof(*np));
		if (!np)
			return TERN__MIME_NONE;
		m->parts = np;
		m->cap = cap;
	}
	uint32_t i = m->nparts++;
	struct tern__mime_part *p = &m->parts[i];
	memset(p, 0, sizeof(*p));
	p->parent = parent;
	p->first_child = p->next_sibling = TERN__MIME_NONE;
	p->header.off = off;
	p->body.off = off;
	tern__mime_link(m, i);
	return i;
}

int tern__mime_parser_new(struct tern__mime_parser **p_r, const struct tern__mime_limits *limits)
{
	struct tern__mime_parser *p = calloc(1, sizeof(*p));
	if (!p)
		return TERN_ENOMEM;
	if (limits)
		p->lim = *limits;
	else
		tern__mime_limits_default(&p->lim);
	if (p->lim.max_parts == 0)
		p->lim.max_parts = 1;
	p->line_cap = p->lim.max_boundary + 8;
	p->line = malloc(p->line_cap);
	p->m = calloc(1, sizeof(*p->m));
	p->open = calloc(1, sizeof(*p->open));
	if (!p->line || !p->m || !p->open || part_add(p->m, TERN__MIME_NONE, 0) != 0) {
		tern__mime_parser_free(&p);
		return TERN_ENOMEM;
	}
	p->m->parts[0].flags |= TERN__MIME_P_IS_MESSAGE;
	p->open[0].part = 0;
	p->nopen = 1;
	tern__buf_init(&p->hdr, p->lim.max_header);
	p->state = ST_HEADER;
	*p_r = p;
	return 0;
}

void tern__mime_parser_free(struct tern__mime_parser **pp)
{
	struct tern__mime_parser *p = pp ? *pp : NULL;
	if (!p)
		return;
	for (uint32_t i = 0; i < p->nopen; i++)
		free(p->open[i].boundary);
	free(p->open);
	free(p->line);
	tern__buf_free(&p->hdr);
	tern__mime_free(&p->m);
	free(p);
	*pp = NULL;
}

static uint32_t cur_part(const struct tern__mime_parser *p)
{
	return p->open[p->nopen - 1].part;
}

/* Closes the body of the innermost open part at (end, lfs, bare). */
static void close_top(struct tern__mime_parser *p, uint64_t end, uint64_t lfs, uint64_t bare)
{
	struct open *o = &p->open[p->nopen - 1];
	struct tern__mime_part *part = &p->m->parts[o->part];
	/* body.size/lines/vsize hold the counters at the body's start until now. */
	if (end < part->body.off)
		end = part->body.off;
	uint64_t size = end - part->body.off;
	uint64_t l = lfs >= part->body.lines ? lfs - part->body.lines : 0;
	uint64_t b = bare >= part->body.vsize ? bare - part->body.vsize : 0;
	part->body.size = size;
	part->body.lines = l;
	part->body.vsize = size + b;
	free(o->boundary);
	o->boundary = NULL;
	p->nopen--;
}

static int push_open(struct tern__mime_parser *p, uint32_t part)
{
	struct open *no = realloc(p->open, (p->nopen + 1) * sizeof(*no));
	if (!no)
		return TERN_ENOMEM;
	p->open = no;
	p->open[p->nopen].part = part;
	p->open[p->nopen].boundary = NULL;
	p->open[p->nopen].blen = 0;
	p->nopen++;
	return 0;
}

/* Starts a new part under parent whose header begins at the current offset. */
static int begin_child(struct tern__mime_parser *p, uint32_t parent, int is_message)
{
	uint32_t c = part_add(p->m, parent, p->off);
	if (c == TERN__MIME_NONE)
		return TERN_ENOMEM;
	if (is_message)
		p->m->parts[c].flags |= TERN__MIME_P_IS_MESSAGE;
	p->m->parts[c].header.lines = p->lfs;
	p->m->parts[c].header.vsize = p->bare;
	if (push_open(p, c) < 0)
		return TERN_ENOMEM;
	tern__buf_clear(&p->hdr);
	p->hdr_over = 0;
	p->state = ST_HEADER;
	return 0;
}

/* The header of the current part ended with the line just read. */
static int end_header(struct tern__mime_parser *p)
{
	uint32_t ci = cur_part(p);
	struct tern__mime_part *part = &p->m->parts[ci];
	part->header.size = p->off - part->header.off;
	part->header.lines = p->lfs - part->header.lines;
	part->header.vsize = part->header.size + (p->bare - part->header.vsize);
	part->body.off = p->off;
	part->body.lines = p->lfs; /* start counters, see close_top */
	part->body.vsize = p->bare;
	if (p->hdr_over)
		part->flags |= TERN__MIME_P_TRUNCATED;
	int rc = tern__mime_header_scan(part, tern__buf_ptr(&p->hdr), p->hdr.len,
					(part->flags & TERN__MIME_P_IS_MESSAGE) != 0);
	if (rc < 0)
		return rc;
	p->state = ST_BODY;

	char type[32], sub[64];
	struct tern__mime_params ps = { 0 };
	const char *ct = part->field[TERN__MIME_F_CONTENT_TYPE];
	int valid = 0;
	if (ct) {
		valid = tern__mime_parse_ctype(ct, part->field_len[TERN__MIME_F_CONTENT_TYPE], 1,
					       type, sizeof(type), sub, sizeof(sub), &ps);
		if (valid < 0) {
			tern__mime_params_free(&ps);
			return valid;
		}
	}
	if (!valid) {
		/* RFC 2046 5.1.5: in multipart/digest the default is message/rfc822. */
		uint32_t par = part->parent;
		int digest = 0;
		if (par != TERN__MIME_NONE && p->m->parts[par].kind == TERN__MIME_KIND_MULTIPART) {
			char t2[32], s2[64];
			struct tern__mime_params ps2 = { 0 };
			const struct tern__mime_part *pp = &p->m->parts[par];
			if (tern__mime_parse_ctype(pp->field[TERN__MIME_F_CONTENT_TYPE],
						   pp->field_len[TERN__MIME_F_CONTENT_TYPE], 1, t2,
						   sizeof(t2), s2, sizeof(s2), &ps2) == 1 &&
			    strcasecmp(s2, "digest") == 0)
				digest = 1;
			tern__mime_params_free(&ps2);
		}
		strcpy(type, digest ? "message" : "text");
		strcpy(sub, digest ? "rfc822" : "plain");
	}
	int depth_ok = part->depth + 1 < p->lim.max_depth;
	int parts_ok = p->m->nparts < p->lim.max_parts;
	rc = 0;
	if (strcasecmp(type, "multipart") == 0) {
		const char *b = tern__mime_params_get(&ps, "boundary");
		size_t bl = b ? strlen(b) : 0;
		if (b && bl > 0 && bl <= p->lim.max_boundary && depth_ok) {
			part->kind = TERN__MIME_KIND_MULTIPART;
			struct open *o = &p->open[p->nopen - 1];
			o->boundary = strdup(b);
			o->blen = bl;
			if (!o->boundary)
				rc = TERN_ENOMEM;
		} else {
			/* No boundary, too deep or too long a one: a multipart
			 * without parts, its whole body unread (IMAP shows it as one
			 * empty text/plain part, as Dovecot does). */
			part->kind = TERN__MIME_KIND_MULTIPART;
			if (b && bl > 0) {
				part->flags |= TERN__MIME_P_TRUNCATED;
				p->m->truncated = 1;
			}
		}
	} else if (strcasecmp(type, "message") == 0 &&
		   (strcasecmp(sub, "rfc822") == 0 || strcasecmp(sub, "global") == 0)) {
		part->kind = TERN__MIME_KIND_MESSAGE;
		if (depth_ok && parts_ok) {
			rc = begin_child(p, ci, 1);
		} else {
			part->flags |= TERN__MIME_P_TRUNCATED;
			p->m->truncated = 1;
		}
	} else if (strcasecmp(type, "text") == 0) {
		part->flags |= TERN__MIME_P_TEXT;
	}
	tern__mime_params_free(&ps);
	return rc;
}

/* Is the line a delimiter of an open multipart? Returns the index in open[]
 * (searched from the innermost, as Dovecot does) and whether it closes. */
static int match_boundary(const struct tern__mime_parser *p, int *close_r)
{
	size_t n = p->line_len < p->line_cap ? p->line_len : p->line_cap;
	if (n < 3 || p->line[0] != '-' || p->line[1] != '-')
		return -1;
	for (int i = (int)p->nopen - 1; i >= 0; i--) {
		const struct open *o = &p->open[i];
		if (!o->boundary || n < 2 + o->blen)
			continue;
		/* RFC 2046 5.1.1: the boundary, then "--" for the last one, then
		 * optional whitespace. Like Dovecot, anything after is ignored. */
		if (memcmp(p->line + 2, o->boundary, o->blen) != 0)
			continue;
		*close_r = n >= 4 + o->blen && p->line[2 + o->blen] == '-' &&
			   p->line[3 + o->blen] == '-';
		return i;
	}
	return -1;
}

static int end_line(struct tern__mime_parser *p)
{
	int close = 0, k = -1;
	if (p->state == ST_HEADER && !p->line_has_text)
		return end_header(p);
	if (p->m->nparts > 0)
		k = match_boundary(p, &close);
	if (k < 0)
		return 0;
	/* RFC 2046 5.1.1: the CRLF before the delimiter belongs to it. */
	uint64_t end = p->line_off, lfs = p->line_lfs, bare = p->line_bare;
	/* Like Dovecot, a delimiter line's own line end is part of it, so a
	 * delimiter right after another one (or at the very start of a part)
	 * has no CRLF of the body to take. */
	const struct tern__mime_part *inner = &p->m->parts[cur_part(p)];
	uint64_t inner_start = p->state == ST_HEADER ? inner->header.off : inner->body.off;
	if (end > 0 && end != p->delim_end && end != inner_start) {
		end--; /* the LF */
		lfs--;
		if (p->line_eol_cr)
			end--;
		else
			bare--;
	}
	while ((int)p->nopen - 1 > k) {
		uint32_t pi = cur_part(p);
		if (p->state == ST_HEADER) {
			/* A header cut by a boundary: what came is all header. */
			struct tern__mime_part *pp = &p->m->parts[pi];
			pp->header.size = end - pp->header.off;
			pp->header.lines = lfs - pp->header.lines;
			pp->header.vsize = pp->header.size + (bare - pp->header.vsize);
			int rc = tern__mime_header_scan(pp, tern__buf_ptr(&p->hdr), p->hdr.len,
							(pp->flags & TERN__MIME_P_IS_MESSAGE) != 0);
			if (rc < 0)
				return rc;
			pp->body.off = end;
			pp->body.lines = lfs;
			pp->body.vsize = bare;
			if (pp->field[TERN__MIME_F_CONTENT_TYPE] == NULL)
				pp->flags |= TERN__MIME_P_TEXT;
			p->state = ST_BODY;
		}
		close_top(p, end, lfs, bare);
	}
	struct open *o = &p->open[k];
	p->state = ST_BODY;
	p->delim_end = p->off;
	if (close) {
		free(o->boundary);
		o->boundary = NULL;
		return 0;
	}
	if (p->m->nparts >= p->lim.max_parts) {
		p->m->parts[o->part].flags |= TERN__MIME_P_TRUNCATED;
		p->m->truncated = 1;
		return 0;
	}
	return begin_child(p, o->part, 0);
}

int tern__mime_parser_feed(struct tern__mime_parser *p, const void *data, size_t len)
{
	const unsigned char *s = data;
	if (p->failed)
		return TERN_ENOMEM;
	if (p->finished)
		return TERN_ESTATE;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (p->line_len == 0 && !p->line_has_text && p->off == p->line_off) {
			p->line_lfs = p->lfs;
			p->line_bare = p->bare;
		}
		if (p->state == ST_HEADER && !p->hdr_over) {
			if (tern__buf_append(&p->hdr, &c, 1) == TERN_ENOMEM) {
				p->failed = 1;
				return TERN_ENOMEM;
			}
			if (p->hdr.len >= p->lim.max_header) {
				/* The rest of this header is counted, not kept. */
				p->hdr_over = 1;
				p->m->truncated = 1;
			}
		}
		p->off++;
		if (c == '\n') {
			p->lfs++;
			int cr = p->prev_cr;
			if (!p->prev_cr)
				p->bare++;
			else if (p->line_len > 0)
				p->line_len--; /* the CR is not part of the line */
			int rc = end_line(p);
			if (rc < 0) {
				p->failed = 1;
				return rc;
			}
			p->line_eol_cr = cr;
			p->line_off = p->off;
			p->line_len = 0;
			p->line_has_text = 0;
			p->prev_cr = 0;
			p->line_lfs = p->lfs;
			p->line_bare = p->bare;
			continue;
		}
		if (p->prev_cr || c != '\r')
			p->line_has_text = 1;
		p->prev_cr = c == '\r';
		if (p->line_len < p->line_cap)
			p->line[p->line_len] = (char)c;
		p->line_len++;
	}
	return 0;
}

int tern__mime_parser_finish(struct tern__mime_parser *p, struct tern__mime **m_r)
{
	if (p->failed)
		return TERN_ENOMEM;
	if (p->finished)
		return TERN_ESTATE;
	p->finished = 1;
	if (p->state == ST_HEADER) {
		/* A message that ends inside its header: all of it is header and
		 * the body is empty (Dovecot does the same). */
		struct tern__mime_part *pp = &p->m->parts[cur_part(p)];
		pp->header.size = p->off - pp->header.off;
		pp->header.lines = p->lfs - pp->header.lines;
		pp->header.vsize = pp->header.size + (p->bare - pp->header.vsize);
		int rc = tern__mime_header_scan(pp, tern__buf_ptr(&p->hdr), p->hdr.len,
						(pp->flags & TERN__MIME_P_IS_MESSAGE) != 0);
		if (rc < 0)
			return rc;
		pp->body.off = p->off;
		pp->body.lines = p->lfs;
		pp->body.vsize = p->bare;
		if (!pp->field[TERN__MIME_F_CONTENT_TYPE])
			pp->flags |= TERN__MIME_P_TEXT;
		p->state = ST_BODY;
	}
	while (p->nopen > 0)
		close_top(p, p->off, p->lfs, p->bare);
	p->m->size = p->off;
	p->m->vsize = p->off + p->bare;
	*m_r = p->m;
	p->m = NULL;
	return 0;
}

int tern__mime_parse(const void *msg, size_t len, const struct tern__mime_limits *limits,
		     struct tern__mime **m_r)
{
	struct tern__mime_parser *p;
	int rc = tern__mime_parser_new(&p, limits);
	if (rc < 0)
		return rc;
	rc = tern__mime_parser_feed(p, msg, len);
	if (rc == 0)
		rc = tern__mime_parser_finish(p, m_r);
	tern__mime_parser_free(&p);
	return rc;
}
