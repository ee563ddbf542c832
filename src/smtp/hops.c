/* Received: counting; see hops.h. A field name is matched at the start of
 * a line only (a folded continuation starts with a blank and is not a new
 * field, RFC 5322 2.2.3), case-insensitively (RFC 5322 1.2.2). */
#include "smtp/hops.h"

enum { LINE_START, MATCH, IN_LINE, CR_AT_START, DONE };

static const char field[] = "received:";

void tern__hops_scan(struct tern__hops *h, const char *p, size_t n)
{
	for (size_t i = 0; i < n && h->state != DONE; i++) {
		char c = p[i];
		char lc = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;

		switch (h->state) {
		case LINE_START:
			if (c == '\r')
				h->state = CR_AT_START;
			else if (c == '\n')
				h->state = DONE; /* a bare LF empty line ends it too */
			else if (lc == field[0]) {
				h->state = MATCH;
				h->matched = 1;
			} else
				h->state = IN_LINE;
			break;
		case CR_AT_START:
			h->state = c == '\n' ? DONE : IN_LINE;
			break;
		case MATCH:
			if (lc == field[h->matched]) {
				if (++h->matched == sizeof(field) - 1) {
					h->count++;
					h->state = IN_LINE;
				}
			} else {
				h->state = c == '\n' ? LINE_START : IN_LINE;
			}
			break;
		case IN_LINE:
			if (c == '\n')
				h->state = LINE_START;
			break;
		}
	}
}
