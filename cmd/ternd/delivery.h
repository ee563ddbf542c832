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
struct ternd_checks;
struct ternd_signing_slot;
struct ternd_outbound;
struct ternd_routing;
struct hashpool_job;
struct users_table;
struct users_entry;

struct ternd_delivery {
	maildir *md;     /* NULL with --discard */
	bool lmtp;       /* one reply per recipient */
	bool discard;
	struct ternd_auth *auth; /* NULL without --users */
	/* Routing (--domain, --relay-from) and the queue for relayed mail,
	 * and for local mail with --lmtp-to; ob NULL: nothing is queued
	 * (then every recipient is local). */
	const struct ternd_routing *routing;
	struct ternd_outbound *ob;
	bool local_via_queue; /* --lmtp-to */
	/* SPF/DKIM/DMARC of local mail (inbound_auth.h); NULL: none. */
	struct ternd_checks *checks;
	/* DKIM keys for our users' outbound mail (signing.h), refilled by
	 * SIGHUP; NULL with --discard. */
	struct ternd_signing_slot *signing;
};

/* A session's AUTH state (auth.c): the running password check, which
 * on_close withdraws, and the users-file entry the user was checked
 * against, with a reference to its table, so that a reload does not take
 * a logged-in session's rights away (docs/users.md). */
struct ternd_session_auth {
	struct hashpool_job *job;
	struct users_table *table;
	const struct users_entry *entry;
};
/* NULL when the session has no state (on_connect ran out of memory). */
struct ternd_session_auth *ternd_session_auth(tern_smtp_session *s);

/* Installs the callbacks and user_data (d, not owned; it must outlive the
 * server) into opts. */
void ternd_delivery_install(struct ternd_delivery *d, tern_smtp_options *opts);

#endif
