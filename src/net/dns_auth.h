/* The resolver's answers in the form the mail-authentication engines take
 * (struct tern_dns_answer of <tern/auth.h>).
 *
 * tern__dns hands its callback parsed records that live until the callback
 * returns; an engine takes a tern_dns_answer. This converts one into the
 * other in one allocation the caller owns, so the converted answer may
 * outlive the callback (an engine fed later, on the same loop). */
#ifndef TERN_NET_DNS_AUTH_H
#define TERN_NET_DNS_AUTH_H

#include <tern/auth.h>

#include "net/dns.h"

struct tern__dns_auth {
	struct tern_dns_answer answer;  /* what to pass to an engine */
	void *mem;                      /* the records and their data; owned */
};

/* Fills *out from in. A timeout and a DNSSEC-bogus answer become
 * TERN_DNS_TEMPFAIL (a validating resolver answers bogus data with
 * SERVFAIL too). TXT records have their character-strings joined.
 * Returns 0 or TERN_ENOMEM (*out is then a TEMPFAIL answer that owns
 * nothing). Clear *out with tern__dns_auth_clear() in every case. */
int tern__dns_auth_from(struct tern__dns_auth *out, const struct tern__dns_answer *in);

/* Frees what *out owns and zeroes it. No effect on a zeroed one. */
void tern__dns_auth_clear(struct tern__dns_auth *out);

#endif
