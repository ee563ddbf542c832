/* The structure in a compact binary form for a store's cache, and back.
 *
 *   "TMIME1" nparts size vsize truncated
 *   per part: parent+1 kind flags header{off size vsize lines}
 *             body{off size vsize lines} field-mask, then each present
 *             field as length + octets
 *
 * Numbers are LEB128 varints. Only parent links are stored: children and
 * siblings are rebuilt, so a loaded structure is always a tree whatever
 * the bytes say, and every range is checked to lie inside the message. */
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"
#include "tern/tern.h"

#define MAGIC "TMIME1"

static int put(struct tern__buf *out, uint64_t v)
{
	unsigned char b[10];
	size_t n = 0;
	do {
		b[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	return tern__buf_append(out, b, n);
}

static int put_range(struct tern__buf *out, const struct tern__mime_range *r)
{
	int rc = put(out, r->off);
	if (rc == 0)
		rc = put(out, r->size);
	if (rc == 0)
		rc = put(out, r->vsize);
	return rc < 0 ? rc : put(out, r->lines);
}

int tern__mime_save(const struct tern__mime *m, struct tern__buf *out)
{
	int rc = tern__buf_append(out, MAGIC, 6);
	if (rc == 0)
		rc = put(out, m->nparts);
	if (rc == 0)
		rc = put(out, m->size);
	if (rc == 0)
		rc = put(out, m->vsize);
	if (rc == 0)
		rc = put(out, m->truncated);
	for (uint32_t i = 0; i < m->nparts && rc == 0; i++) {
		const struct tern__mime_part *p = &m->parts[i];
		uint64_t mask = 0;
		for (int f = 0; f < TERN__MIME_F_COUNT; f++)
			if (p->field[f])
				mask |= 1u << f;
		rc = put(out, p->parent == TERN__MIME_NONE ? 0 : (uint64_t)p->parent + 1);
		if (rc == 0)
			rc = put(out, p->kind);
		if (rc == 0)
			rc = put(out, p->flags);
		if (rc == 0)
			rc = put_range(out, &p->header);
		if (rc == 0)
			rc = put_range(out, &p->body);
		if (rc == 0)
			rc = put(out, mask);
		for (int f = 0; f < TERN__MIME_F_COUNT && rc == 0; f++) {
			if (!p->field[f])
				continue;
			rc = put(out, p->field_len[f]);
			if (rc == 0)
				rc = tern__buf_append(out, p->field[f], p->field_len[f]);
		}
	}
	return rc;
}

struct rd {
	const unsigned char *s;
	size_t len, i;
	int bad;
};

static uint64_t get(struct rd *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->i >= r->len) {
			r->bad = 1;
			return 0;
		}
		unsigned char c = r->s[r->i++];
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

static void get_range(struct rd *r, struct tern__mime_range *g, uint64_t total)
{
	g->off = get(r);
	g->size = get(r);
	g->vsize = get(r);
	g->lines = get(r);
	if (g->off > total || g->size > total - g->off || g->vsize < g->size)
		r->bad = 1;
}

int tern__mime_load(const void *data, size_t len, struct tern__mime **m_r)
{
	struct rd r = { .s = data, .len = len };
	if (len < 6 || memcmp(data, MAGIC, 6) != 0)
		return TERN_EINVAL;
	r.i = 6;
	uint64_t n = get(&r);
	if (r.bad || n == 0 || n > len) /* every part takes bytes */
		return TERN_EINVAL;
	struct tern__mime *m = calloc(1, sizeof(*m));
	if (!m)
		return TERN_ENOMEM;
	m->parts = calloc((size_t)n, sizeof(*m->parts));
	if (!m->parts) {
		free(m);
		return TERN_ENOMEM;
	}
	m->cap = (uint32_t)n;
	m->size = get(&r);
	m->vsize = get(&r);
	m->truncated = get(&r) != 0;
	int rc = 0;
	for (uint32_t i = 0; i < n && !r.bad && rc == 0; i++) {
		struct tern__mime_part *p = &m->parts[i];
		m->nparts = i + 1;
		uint64_t par = get(&r);
		p->first_child = p->next_sibling = TERN__MIME_NONE;
		if ((i == 0) != (par == 0) || par > i) {
			r.bad = 1;
			break;
		}
		p->parent = par ? (uint32_t)(par - 1) : TERN__MIME_NONE;
		uint64_t kind = get(&r), flags = get(&r);
		if (kind > TERN__MIME_KIND_MESSAGE || flags > 0xff)
			r.bad = 1;
		p->kind = (uint8_t)kind;
		p->flags = (uint8_t)flags;
		get_range(&r, &p->header, m->size);
		get_range(&r, &p->body, m->size);
		if (p->header.off + p->header.size > p->body.off)
			r.bad = 1; /* a header always comes before its body */
		uint64_t mask = get(&r);
		if (mask >> TERN__MIME_F_COUNT)
			r.bad = 1;
		for (int f = 0; f < TERN__MIME_F_COUNT && !r.bad; f++) {
			if (!(mask & (1u << f)))
				continue;
			uint64_t fl = get(&r);
			if (r.bad || fl > r.len - r.i || fl > UINT32_MAX) {
				r.bad = 1;
				break;
			}
			if (!(p->field[f] = malloc((size_t)fl + 1))) {
				rc = TERN_ENOMEM;
				break;
			}
			memcpy(p->field[f], r.s + r.i, (size_t)fl);
			p->field[f][fl] = '\0';
			p->field_len[f] = (uint32_t)fl;
			r.i += (size_t)fl;
		}
		if (r.bad || rc < 0)
			break;
		/* Rebuild the tree from the parent links, in document order. */
		tern__mime_link(m, i);
	}
	if (rc == 0 && (r.bad || r.i != r.len))
		rc = TERN_EINVAL;
	if (rc < 0) {
		tern__mime_free(&m);
		return rc;
	}
	*m_r = m;
	return 0;
}
