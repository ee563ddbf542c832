/* ternd's SMTP callbacks: per-session state, logging of session events, and
 * delivery of each accepted message into the Maildir (or nowhere, with
 * --discard). Everything here runs on the session's event loop thread; the
 * only state shared between threads is the read-only struct ternd_delivery
 * and the maildir object (itself read-only after opening). */
#ifndef TERND_DELIVERY_H
#define TERND_DELIVERY_H

#include "tern/smtp.h"

#include "maildir.h"

struct ternd_auth;
struct hashpool_job;

struct ternd_delivery {
	maildir *md;     /* NULL with --discard */
	bool lmtp;       /* one reply per recipient */
	bool discard;
	struct ternd_auth *auth; /* NULL without --users */
};

/* Where a session keeps its running password check (auth.c), so that
 * on_close can withdraw it; NULL when the session has no state. */
struct hashpool_job **ternd_session_auth_job(tern_smtp_session *s);

/* Installs the callbacks and user_data (d, not owned; it must outlive the
 * server) into opts. */
void ternd_delivery_install(struct ternd_delivery *d, tern_smtp_options *opts);

#endif
