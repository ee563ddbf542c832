/* The message body on the wire.
 *
 * DATA (RFC 5321 4.5.2): a line starting with "." gets another "." in
 * front; the body ends with CRLF "." CRLF, a CRLF added first when the body
 * did not end with one. Bare CR and bare LF become CRLF: a lone LF or CR
 * could otherwise let "\n.\n" or "\r.\r" end the message early at a lax
 * server (SMTP smuggling), and RFC 5321 2.3.8 forbids them anyway. A CR at
 * the end of one piece waits for the next to see whether an LF follows, so
 * a CRLF split across pieces stays one line end.
 *
 * BDAT (RFC 3030 2): octets go unchanged, in chunks of up to bdat_chunk
 * octets: "BDAT n" CRLF and n octets, the last one "BDAT n LAST" (n may be
 * 0). Each chunk has a reply; without PIPELINING the next chunk waits for
 * it (RFC 3030 4.2).
 *
 * Back-pressure: body data is taken only while the output is under the
 * high-water mark; the output may pass it by one encoded block (4 KiB for
 * DATA) or one chunk (BDAT). */
#include <string.h>

#include "smtp/client/client.h"
#include "tern/tern.h"

#define BLOCK 4096

static ssize_t data_encode(tern_smtp_client *c, const unsigned char *p, size_t len)
{
	struct tern__smtpc_txn *t = &c->txn;
	char tmp[BLOCK + 8];
	size_t i = 0;
	while (i < len && c->out.len < c->opts.output_high_water) {
		size_t n = 0;
		while (i < len && n < BLOCK) {
			unsigned char ch = p[i];
			if (t->pending_cr) {
				t->pending_cr = false;
				tmp[n++] = '\r';
				tmp[n++] = '\n';
				t->at_bol = true;
				if (ch == '\n') {
					i++;
					continue;
				}
			}
			i++;
			if (ch == '\r') {
				t->pending_cr = true;
				continue;
			}
			if (ch == '\n') {
				tmp[n++] = '\r';
				tmp[n++] = '\n';
				t->at_bol = true;
				continue;
			}
			if (t->at_bol && ch == '.')
				tmp[n++] = '.';
			tmp[n++] = (char)ch;
			t->at_bol = false;
		}
		int r = tern__buf_append(&c->out, tmp, n);
		if (r < 0)
			return r;
	}
	return (ssize_t)i;
}

static int expect_end(tern_smtp_client *c)
{
	struct tern__smtpc_txn *t = &c->txn;
	if (!c->opts.lmtp)
		return tern__smtpc_expect(c, TERN__SMTPC_K_END, 0);
	/* RFC 2033 4.2: one reply per recipient RCPT accepted, in order. */
	for (size_t i = 0; i < t->n_rcpts; i++)
		if (t->rcpts[i].accepted && !t->rcpts[i].done) {
			int r = tern__smtpc_expect(c, TERN__SMTPC_K_END, i);
			if (r < 0)
				return r;
		}
	return 0;
}

static int bdat_flush(tern_smtp_client *c, bool last)
{
	struct tern__smtpc_txn *t = &c->txn;
	int r = tern__smtpc_write(c, "BDAT %zu%s\r\n", t->chunk.len, last ? " LAST" : "");
	if (r == 0)
		r = tern__buf_append(&c->out, tern__buf_ptr(&t->chunk), t->chunk.len);
	if (r < 0)
		return r;
	tern__buf_clear(&t->chunk);
	if (last)
		return expect_end(c);
	t->bdat_waiting++;
	return tern__smtpc_expect(c, TERN__SMTPC_K_BDAT, 0);
}

static ssize_t bdat_data(tern_smtp_client *c, const unsigned char *p, size_t len)
{
	struct tern__smtpc_txn *t = &c->txn;
	size_t i = 0;
	while (i < len) {
		if (c->out.len >= c->opts.output_high_water)
			break;
		if (!t->pipelined && t->bdat_waiting)
			break;
		size_t room = c->opts.bdat_chunk - t->chunk.len;
		size_t n = len - i < room ? len - i : room;
		int r = tern__buf_append(&t->chunk, p + i, n);
		if (r < 0)
			return r;
		i += n;
		if (t->chunk.len == c->opts.bdat_chunk) {
			r = bdat_flush(c, false);
			if (r < 0)
				return r;
		}
	}
	return (ssize_t)i;
}

ssize_t tern__smtpc_body_data(tern_smtp_client *c, const unsigned char *p, size_t len)
{
	return c->txn.bdat ? bdat_data(c, p, len) : data_encode(c, p, len);
}

int tern__smtpc_body_finish(tern_smtp_client *c)
{
	struct tern__smtpc_txn *t = &c->txn;
	int r;
	if (t->bdat) {
		if (!t->pipelined && t->bdat_waiting)
			return TERN_ELIMIT;
		r = bdat_flush(c, true);
	} else {
		const char *tail = t->pending_cr || !t->at_bol ? "\r\n.\r\n" : ".\r\n";
		r = tern__buf_append(&c->out, tail, strlen(tail));
		if (r == 0)
			r = expect_end(c);
	}
	if (r == 0)
		t->body_done = true;
	return r;
}
