/* tern-mime: what libtern's MIME engine (src/mime) says about a message,
 * in the forms an IMAP server sends:
 *
 *   tern-mime envelope FILE       ENVELOPE
 *   tern-mime bodystructure FILE  BODYSTRUCTURE
 *   tern-mime body FILE           BODY (non-extensible)
 *   tern-mime section SPEC FILE   the octets of BODY[SPEC]
 *   tern-mime parts FILE          one line per part: number, offsets, sizes
 *   tern-mime size FILE           the physical size and RFC822.SIZE
 *
 * FILE "-" is stdin. Exit 0 on success, 2 on a usage or system error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"
#include "tern/tern.h"
#include "tool_cli.h"

static void usage(void)
{
	fputs("usage: tern-mime envelope|bodystructure|body|parts|size FILE\n"
	      "       tern-mime section SPEC FILE\n",
	      stderr);
	exit(2);
}

static void part_number(const struct tern__mime *m, uint32_t i, char *out, size_t cap)
{
	/* Walk up: a part's number is its position among its siblings; the
	 * child of a message/rfc822 part shares its parent's number. */
	uint32_t path[128];
	size_t n = 0;
	while (i != 0 && n < 128) {
		uint32_t par = m->parts[i].parent;
		if (m->parts[par].kind == TERN__MIME_KIND_MULTIPART) {
			uint32_t k = 1;
			for (uint32_t c = m->parts[par].first_child; c != i; c = m->parts[c].next_sibling)
				k++;
			path[n++] = k;
		}
		i = par;
	}
	size_t o = 0;
	out[0] = '\0';
	while (n > 0 && o + 12 < cap)
		o += (size_t)snprintf(out + o, cap - o, "%s%u", o ? "." : "", path[--n]);
	if (o == 0)
		snprintf(out, cap, "(root)");
}

int main(int argc, char **argv)
{
	tool_name = "tern-mime";
	if (argc < 3)
		usage();
	const char *cmd = argv[1], *file = argv[argc - 1];
	if (strcmp(cmd, "section") == 0 ? argc != 4 : argc != 3)
		usage();
	size_t len;
	char *msg = strcmp(file, "-") == 0 ? tool_slurp(0, &len) : tool_slurp_file(file, &len);
	struct tern__mime *m;
	int rc = tern__mime_parse(msg, len, NULL, &m);
	if (rc < 0)
		tool_die("parse", tern_strerror(rc));
	struct tern__buf out;
	tern__buf_init(&out, 0);
	if (strcmp(cmd, "envelope") == 0) {
		rc = tern__mime_imap_envelope(m, 0, &out);
	} else if (strcmp(cmd, "bodystructure") == 0 || strcmp(cmd, "body") == 0) {
		rc = tern__mime_imap_bodystructure(m, 0, cmd[4] == 's', &out);
	} else if (strcmp(cmd, "section") == 0) {
		struct tern__mime_section sec;
		rc = tern__mime_section_resolve(m, argv[2], &sec);
		if (rc < 0)
			tool_die("section", tern_strerror(rc));
		if (sec.kind == TERN__MIME_SEC_RANGE)
			rc = tern__buf_append(&out, msg + sec.off, sec.size);
		else if (sec.kind == TERN__MIME_SEC_HEADER_FIELDS)
			rc = tern__mime_header_fields(&sec, msg + sec.off, sec.size, &out);
		tern__mime_section_clear(&sec);
		fwrite(tern__buf_ptr(&out), 1, out.len, stdout);
		goto done;
	} else if (strcmp(cmd, "size") == 0) {
		rc = tern__buf_printf(&out, "%llu %llu", (unsigned long long)m->size,
				      (unsigned long long)m->vsize);
	} else if (strcmp(cmd, "parts") == 0) {
		for (uint32_t i = 0; i < m->nparts && rc == 0; i++) {
			const struct tern__mime_part *p = &m->parts[i];
			char num[512];
			part_number(m, i, num, sizeof(num));
			rc = tern__buf_printf(&out, "%s depth=%u kind=%u header=%llu+%llu body=%llu+%llu lines=%llu%s\n",
					      num, p->depth, p->kind, (unsigned long long)p->header.off,
					      (unsigned long long)p->header.size,
					      (unsigned long long)p->body.off,
					      (unsigned long long)p->body.size,
					      (unsigned long long)p->body.lines,
					      (p->flags & TERN__MIME_P_TRUNCATED) ? " truncated" : "");
		}
		fwrite(tern__buf_ptr(&out), 1, out.len, stdout);
		goto done;
	} else {
		usage();
	}
	if (rc < 0)
		tool_die(cmd, tern_strerror(rc));
	fwrite(tern__buf_ptr(&out), 1, out.len, stdout);
	fputc('\n', stdout);
done:
	tern__buf_free(&out);
	tern__mime_free(&m);
	free(msg);
	return rc < 0 ? 2 : 0;
}
