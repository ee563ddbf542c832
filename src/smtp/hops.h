/* Counting Received: fields in a message's header section as it streams,
 * for the mail-loop limit (Postfix's hopcount_limit). Pure: bytes in,
 * a count out; the header section ends at the first empty line. */
#ifndef TERN_SMTP_HOPS_H
#define TERN_SMTP_HOPS_H

#include <stddef.h>

struct tern__hops {
	unsigned char state;
	unsigned char matched; /* octets of "received:" matched so far */
	unsigned count;
};

/* Scans the next piece of the message. A zeroed struct starts a message. */
void tern__hops_scan(struct tern__hops *h, const char *p, size_t n);

#endif
