/* ternd's side of SMTP AUTH: on_auth checks credentials against the users
 * file (passwords hashed on the hash pool's threads, never on a loop), and
 * ternd_auth_mail_from() keeps an authenticated user to its own addresses. */
#ifndef TERND_AUTH_H
#define TERND_AUTH_H

#include "tern/smtp.h"

#include "config.h"
#include "delivery.h"
#include "hashpool.h"
#include "users.h"

struct ternd_auth {
	struct users_db *db;
	struct hashpool *pool;
	/* The --auth-methods names, NULL-terminated, for the options. */
	const char *methods[TERND_AUTH_METHOD_COUNT + 1];
};

/* Loads the users file and starts the hash pool. Returns TERND_EX_OK or an
 * exit status after printing why. */
int ternd_auth_open(struct ternd_auth *a, const struct ternd_config *cfg);
/* MAIL FROM (delivery.c's on_mail_from asks): an authenticated user sends
 * only as itself. Returns TERN_SMTP_ACCEPT or TERN_SMTP_REJECT with reply
 * filled. */
int ternd_auth_mail_from(tern_smtp_session *s, const tern_smtp_mail *mail,
			 tern_smtp_reply *reply, const struct ternd_delivery *d);

/* Sets on_auth and the AUTH options. The callbacks find the
 * struct through the delivery's user_data (struct ternd_delivery.auth). */
void ternd_auth_install(struct ternd_auth *a, const struct ternd_config *cfg,
			tern_smtp_options *opts);
/* SIGHUP: reads the users file again (the old table stays on error). */
void ternd_auth_reload(struct ternd_auth *a);
/* The session ends: withdraw its password check, if one is running, and
 * drop its users-table reference. */
void ternd_auth_session_closed(struct ternd_session_auth *sa);
/* After the server's loops are gone. */
void ternd_auth_close(struct ternd_auth *a);

#endif
