/* SMTP AUTH for ternd; see auth.h and docs/users.md. */
#include "auth.h"

#include <stdio.h>
#include <string.h>

#include "tern/sasl.h"

#include "delivery.h"
#include "log.h"

static const char *sid(const tern_smtp_session *s)
{
	const char *id = tern_smtp_session_id(s);
	return id != NULL ? id : "?";
}

/* Which mechanisms the users file can serve: SCRAM needs stored keys and
 * CRAM-MD5 a secret in at least one entry, EXTERNAL client certificates. */
static unsigned servable(const struct ternd_config *cfg, struct users_db *db)
{
	unsigned can = TERND_AUTH_PLAIN | TERND_AUTH_LOGIN;
	struct users_table *t = users_db_get(db);
	const struct users_entry *e;
	struct users_scram k;

	for (size_t i = 0; t && (e = users_table_entry(t, i)) != NULL; i++) {
		if (users_entry_scram(e, &k))
			can |= TERND_AUTH_SCRAM_SHA_256 | TERND_AUTH_SCRAM_SHA_256_PLUS;
		if (users_entry_cram_md5(e) != NULL)
			can |= TERND_AUTH_CRAM_MD5;
	}
	users_table_unref(&t);
	if (cfg->tls_client_ca != NULL)
		can |= TERND_AUTH_EXTERNAL;
	return can;
}

int ternd_auth_open(struct ternd_auth *a, const struct ternd_config *cfg)
{
	char err[512] = "", warn[512] = "";
	unsigned n = 0;

	memset(a, 0, sizeof(*a));
	for (unsigned i = 0; i < TERND_AUTH_METHOD_COUNT; i++) {
		if ((cfg->auth_methods & (1u << i)) &&
		    ((1u << i) & (TERND_AUTH_XOAUTH2 | TERND_AUTH_OAUTHBEARER))) {
			/* A bearer token needs an authorization server to ask;
			 * ternd has none, and must not pretend. */
			fprintf(stderr, "ternd: --auth-methods %s: ternd cannot verify OAuth "
					"tokens (an embedder of libtern can)\n",
				ternd_auth_method_name(1u << i));
			return TERND_EX_USAGE;
		}
	}
	if (users_db_open(&a->db, cfg->users_file, err, sizeof(err), warn, sizeof(warn)) != 0) {
		fprintf(stderr, "ternd: --users %s\n", err);
		return TERND_EX_NOINPUT;
	}
	if (warn[0])
		ternd_log(TERN_LOG_WARNING, NULL, "%s", warn);
	/* A mechanism is offered only when it can be checked: a client that
	 * picks one nobody can pass would fail for no fault of its user. */
	unsigned can = servable(cfg, a->db);
	for (unsigned i = 0; i < TERND_AUTH_METHOD_COUNT; i++) {
		unsigned m = 1u << i;

		if (!(cfg->auth_methods & m))
			continue;
		if (can & m)
			a->methods[n++] = ternd_auth_method_name(m);
		else
			ternd_log(TERN_LOG_WARNING, NULL, "AUTH %s not offered: %s",
				  ternd_auth_method_name(m),
				  m == TERND_AUTH_EXTERNAL ? "no --tls-client-ca"
							   : "no user in the users file has what it needs");
	}
	a->methods[n] = NULL;
	if (n == 0) {
		fprintf(stderr, "ternd: --auth-methods: none of them can be served with this users "
				"file\n");
		users_db_close(&a->db);
		return TERND_EX_USAGE;
	}
	struct hashpool_options po = {.threads = cfg->hash_threads};
	if (hashpool_new(&a->pool, &po) != 0) {
		fprintf(stderr, "ternd: cannot start the password hashing threads\n");
		users_db_close(&a->db);
		return TERND_EX_OSERR;
	}
	return TERND_EX_OK;
}

void ternd_auth_reload(struct ternd_auth *a)
{
	char err[512] = "", warn[512] = "";

	if (a->db == NULL)
		return;
	if (users_db_reload(a->db, err, sizeof(err), warn, sizeof(warn)) != 0) {
		ternd_log(TERN_LOG_ERROR, NULL, "SIGHUP: users file not reloaded (%s); the old one stays",
			  err);
		return;
	}
	if (warn[0])
		ternd_log(TERN_LOG_WARNING, NULL, "%s", warn);
	ternd_log(TERN_LOG_INFO, NULL, "SIGHUP: users file reloaded");
}

void ternd_auth_session_closed(struct ternd_session_auth *sa)
{
	if (sa->job != NULL)
		hashpool_cancel(sa->job);
	sa->job = NULL;
	users_table_unref(&sa->table);
	sa->entry = NULL;
}

/* The entry the credentials are being checked against becomes the
 * session's (with its table), replacing an earlier one. */
static void keep_entry(struct ternd_session_auth *sa, struct users_table **t,
		       const struct users_entry *e)
{
	if (sa == NULL || e == NULL)
		return;
	users_table_unref(&sa->table);
	sa->table = *t;
	sa->entry = e;
	*t = NULL;
}

void ternd_auth_close(struct ternd_auth *a)
{
	if (a->pool != NULL) {
		/* run() has freed its loops' bases already. */
		hashpool_shutdown_orphaned(a->pool);
		hashpool_destroy(&a->pool);
	}
	users_db_close(&a->db);
}

/* ---- callbacks ---------------------------------------------------------- */

static int refuse(tern_smtp_reply *reply)
{
	reply->code = 535;
	reply->enhanced = "5.7.8";
	reply->text = "Authentication credentials invalid";
	return TERN_SMTP_REJECT;
}

/* A PLAIN or LOGIN password was hashed on a pool thread: the decision, on
 * the session's loop. */
static void password_checked(enum users_verdict verdict, void *arg)
{
	tern_smtp_session *s = arg;
	struct ternd_session_auth *sa = ternd_session_auth(s);

	if (sa != NULL)
		sa->job = NULL;
	if (verdict == USERS_PASSWORD_OK)
		tern_smtp_session_resume(s, NULL);
	else if (verdict == USERS_PASSWORD_MISMATCH)
		tern_smtp_session_reject(s, 535, "5.7.8", "Authentication credentials invalid");
	else
		tern_smtp_session_reject(s, 454, "4.7.0", "Temporary authentication failure");
}

static int on_auth(tern_smtp_session *s, const tern_smtp_auth *auth, tern_smtp_reply *reply,
		   void *user_data)
{
	const struct ternd_delivery *d = user_data;
	struct ternd_auth *a = d->auth;
	struct users_table *t = users_db_get(a->db);
	const char *name = auth->username ? auth->username : auth->external_identity;
	const struct users_entry *e = t && name ? users_lookup(t, name) : NULL;
	struct ternd_session_auth *sa = ternd_session_auth(s);
	int decision = TERN_SMTP_REJECT;

	/* No proxy authorization: a user may only act as itself. */
	if (auth->authzid != NULL && (name == NULL || strcmp(auth->authzid, name) != 0)) {
		ternd_log(TERN_LOG_INFO, sid(s), "AUTH %s: authorization identity refused",
			  auth->mechanism);
		users_table_unref(&t);
		return refuse(reply);
	}
	if (auth->scram) {
		struct users_scram k;

		/* Unknown user, or one without SCRAM keys: reject, and the
		 * library fails the exchange at the proof. */
		if (e != NULL && users_entry_scram(e, &k)) {
			tern_smtp_scram_keys keys = {.salt = k.salt,
						     .salt_len = k.salt_len,
						     .iterations = k.iterations};
			memcpy(keys.stored_key, k.stored_key, sizeof(keys.stored_key));
			memcpy(keys.server_key, k.server_key, sizeof(keys.server_key));
			if (tern_smtp_session_auth_scram_keys(s, &keys) == 0)
				decision = TERN_SMTP_ACCEPT;
		}
	} else if (strcmp(auth->mechanism, "CRAM-MD5") == 0) {
		const unsigned char *secret = e ? users_entry_cram_md5(e) : NULL;

		if (secret != NULL &&
		    tern_cram_md5_verify(secret, auth->cram_challenge, strlen(auth->cram_challenge),
					 auth->cram_digest, strlen(auth->cram_digest)) == 1)
			decision = TERN_SMTP_ACCEPT;
	} else if (strcmp(auth->mechanism, "EXTERNAL") == 0) {
		/* The certificate verified against the client CAs; its name
		 * must also be a user here. */
		if (e != NULL && tern_smtp_session_set_auth_user(s, name) == 0)
			decision = TERN_SMTP_ACCEPT;
	} else if (auth->password != NULL) {
		/* An unknown user is hashed too (hash NULL: a dummy), so the
		 * time taken does not tell which names exist. */
		int rc = sa ? hashpool_submit(a->pool, tern_smtp_session_event_base(s),
					      e ? users_entry_hash(e) : NULL, auth->password,
					      strlen(auth->password), password_checked, s, &sa->job)
			    : -1;
		keep_entry(sa, &t, e);
		users_table_unref(&t);
		if (rc == 0)
			return TERN_SMTP_PENDING;
		ternd_log(TERN_LOG_WARNING, sid(s), "AUTH %s: cannot check the password now (%s)",
			  auth->mechanism, rc > 0 ? strerror(rc) : "no session state");
		reply->code = 454;
		reply->enhanced = "4.7.0";
		reply->text = "Temporary authentication failure";
		return TERN_SMTP_REJECT;
	}
	if (decision == TERN_SMTP_ACCEPT)
		keep_entry(sa, &t, e);
	users_table_unref(&t);
	/* A reply filled in with ACCEPT would turn it into a refusal. */
	return decision == TERN_SMTP_ACCEPT ? TERN_SMTP_ACCEPT : refuse(reply);
}

/* An authenticated user sends only as itself (docs/users.md: the from=
 * field, or the user name when it is an address). Unauthenticated senders
 * (port 25) are not this check's business. */
int ternd_auth_mail_from(tern_smtp_session *s, const tern_smtp_mail *mail,
			 tern_smtp_reply *reply, const struct ternd_delivery *d)
{
	const char *user = tern_smtp_session_auth_user(s);

	if (user == NULL || d->auth == NULL)
		return TERN_SMTP_ACCEPT;
	/* The entry the user logged in with, even if a reload has changed
	 * the file since (docs/users.md). */
	struct ternd_session_auth *sa = ternd_session_auth(s);
	const struct users_entry *e = sa ? sa->entry : NULL;
	bool ok = e != NULL && strcmp(users_entry_name(e), user) == 0 &&
		  users_sender_allowed(e, mail->address);
	if (ok)
		return TERN_SMTP_ACCEPT;
	ternd_log(TERN_LOG_INFO, sid(s), "sender <%s> not allowed for user %s", mail->address, user);
	reply->code = 550;
	reply->enhanced = "5.7.1";
	reply->text = "Sender address not owned by the authenticated user";
	return TERN_SMTP_REJECT;
}

void ternd_auth_install(struct ternd_auth *a, const struct ternd_config *cfg,
			tern_smtp_options *opts)
{
	opts->callbacks.on_auth = on_auth;
	opts->auth_methods = a->methods;
	opts->allow_insecure_auth = cfg->allow_insecure_auth;
	opts->max_auth_failures = cfg->max_auth_failures;
	/* The library's default policy (required) is overridden per
	 * listener in main.c. */
	opts->auth_optional = !cfg->require_auth;
}
