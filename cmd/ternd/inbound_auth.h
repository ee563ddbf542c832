/* ternd's inbound SPF, DKIM and DMARC (docs/mail-auth.md): which sessions
 * get them, one checking context per event loop, and what a DMARC failure
 * does. The checks themselves are the library's (tern/mailauth.h).
 *
 * Threads: ternd_checks is shared by every loop; ternd_checks_ctx() takes a
 * lock only to find (or make, the first time) the calling loop's context,
 * which then belongs to that loop. */
#ifndef TERND_INBOUND_AUTH_H
#define TERND_INBOUND_AUTH_H

#include <stdbool.h>

#include "tern/mailauth.h"
#include "tern/smtp.h"

#include "config.h"

struct ternd_checks;
struct ternd_routing;

/* NULL in *c_r with --auth-checks no. host: the default authserv-id.
 * Returns 0 or -1 (out of memory). */
int ternd_checks_init(struct ternd_checks **c_r, const struct ternd_config *cfg,
		      const char *host);
/* After every session has ended, before the server (and its loops) goes. */
void ternd_checks_free(struct ternd_checks **c);

/* Whether this session's messages are checked: with "yes", clients that
 * are not loopback, not of --relay-from and not authenticated (our own
 * users' mail is signed, not checked); with "always", every one. */
bool ternd_checks_apply(const struct ternd_checks *c, tern_smtp_session *s,
			const struct ternd_routing *routing);

/* The calling loop's context, made the first time; NULL out of memory or
 * when its resolver cannot be made (logged once). */
tern_mailauth_ctx *ternd_checks_ctx(struct ternd_checks *c, struct event_base *base);

enum ternd_verdict {
	TERND_VERDICT_DELIVER,
	TERND_VERDICT_JUNK,     /* into the recipient's Junk folder */
	TERND_VERDICT_REJECT,   /* 550 5.7.1 */
};

/* What to do with a checked message under --dmarc-policy. */
enum ternd_verdict ternd_checks_verdict(const struct ternd_checks *c, const tern_mailauth *ma);

#endif
