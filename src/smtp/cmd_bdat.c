/* BDAT (RFC 3030 2):
 *   bdat-cmd   = "BDAT" SP chunk-size [ SP end-marker ] CRLF
 *   chunk-size = 1*DIGIT
 *   end-marker = "LAST"
 * The chunk follows the command line at once and is read whatever the
 * verdict: a refused chunk is still consumed, or the session would read
 * message octets as commands. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/command.h"

bool tern__smtp_can_send_message(tern_smtp_session *s, bool reply_now);

/* Reads and drops the chunk, then answers with code/enh/text. */
static void discard_chunk(tern_smtp_session *s, int code, const char *enh, const char *text)
{
	tern__kept_reply_set(&s->body.reply, code, enh, text);
	s->body.discard = true;
	s->body.out_of_sequence = code == 503 || (code == 554 && !s->tx.bdat_failed &&
						  !s->tx.data_started);
	s->input = TERN__INPUT_BDAT;
	if (s->body.remaining == 0)
		(void)tern__data_feed(s, "", 0);
}

static bool parse_bdat(const char *args, size_t len, uint64_t *size_r, bool *last_r)
{
	size_t i = 0;
	uint64_t v = 0;
	if (len == 0 || args[0] < '0' || args[0] > '9')
		return false;
	while (i < len && args[i] >= '0' && args[i] <= '9') {
		unsigned d = (unsigned)(args[i] - '0');
		if (v > (UINT64_MAX - d) / 10 || i >= 20)
			return false;
		v = v * 10 + d;
		i++;
	}
	*last_r = false;
	if (i < len) {
		if (len - i != 5 || strncasecmp(args + i, " LAST", 5) != 0)
			return false;
		*last_r = true;
	}
	*size_r = v;
	return true;
}

void tern__cmd_bdat(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	uint64_t size;
	bool last;
	if (!parse_bdat(args, len, &size, &last)) {
		/* The chunk length is unknown, so the octets that follow cannot
		 * be told apart from commands: the session cannot go on, and
		 * RFC 5321 3.8 lets a server end one only with 421. */
		tern__smtp_reply(s, 421, "4.5.2", "%s Syntax: BDAT size [LAST]; closing",
				 s->cfg->name);
		return;
	}
	s->body.remaining = size;
	s->body.chunk_size = size;
	s->body.last = last;
	s->body.discard = false;
	if (!tern__smtp_ext(s, TERN__EXT_CHUNKING)) {
		discard_chunk(s, 503, "5.5.1", "CHUNKING was not offered in this session");
		return;
	}
	if (!tern__smtp_can_send_message(s, false)) {
		int code = s->body.reply.code;
		discard_chunk(s, code, "5.5.1",
			      !s->tx.active ? "Bad sequence of commands: need MAIL first"
			      : code == 554 ? "No valid recipients"
					    : "Bad sequence of commands: need RCPT first");
		return;
	}
	if (s->tx.bdat_failed) {
		/* RFC 3030 2: after a failed chunk the rest are refused. */
		discard_chunk(s, 554, "5.5.0", "Chunk discarded after earlier error; send RSET");
		return;
	}
	if (s->tx.data_started) {
		/* A further chunk of the message being received. */
		s->input = TERN__INPUT_BDAT;
		if (size == 0)
			(void)tern__data_feed(s, "", 0);
		return;
	}
	tern__data_start(s, true);
}
