/* A mail submission server (RFC 6409) with SMTP AUTH, in one file: how an
 * embedder answers on_auth, including the OAuth mechanisms (XOAUTH2 and
 * OAUTHBEARER, RFC 7628) that ternd refuses because it has no token
 * verifier. Users, passwords and bearer tokens come from a tiny static table
 * given on the command line; a real server asks its user database and its
 * OAuth authorization server (token introspection, RFC 7662) instead.
 *
 *   example_submission --cert server.crt --key server.key \
 *       --listen 127.0.0.1:2587 --tls-listen 127.0.0.1:2465 \
 *       --user alice@example.org:password --token alice@example.org:TOKEN
 *
 * --listen is a submission port (STARTTLS, then AUTH before MAIL);
 * --tls-listen is implicit TLS (port 465 style). --auth-methods LIST picks
 * the mechanisms offered (default PLAIN,LOGIN,XOAUTH2,OAUTHBEARER);
 * --delay-ms N is how long a password answer waits (default 20).
 * Every message accepted is printed, envelope only, as one line on stdout:
 *
 *   message from=<alice@example.org> auth=alice@example.org (XOAUTH2) rcpt=<b@example.com> size=93
 *
 * and dropped (a real server stores it durably before accepting it).
 *
 *   cc submission.c $(pkg-config --cflags --libs tern libevent) -o submission */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/smtp.h>

/* ---- the static table ------------------------------------------------ */

#define MAX_ENTRIES 16

struct entry {
	const char *user;
	const char *secret; /* a password (--user) or a bearer token (--token) */
};

struct table {
	struct entry passwords[MAX_ENTRIES];
	unsigned n_passwords;
	struct entry tokens[MAX_ENTRIES];
	unsigned n_tokens;
	unsigned delay_ms;
};

/* Compares a secret the client sent with a stored one in time that depends
 * only on the length of what the client sent (which the client knows
 * anyway), never on where the first difference is: an early-exit strcmp()
 * would let a client find a token one octet at a time by timing. */
static bool secret_equal(const char *given, const char *stored)
{
	size_t n = strlen(given), m = strlen(stored);
	unsigned char diff = n != m;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)given[i] ^ (unsigned char)stored[i < m ? i : 0];
	return diff == 0;
}

/* Whether `user` has `password`. Every entry is compared, so the time does
 * not tell whether the user exists either. */
static bool password_ok(const struct table *t, const char *user, const char *password)
{
	bool ok = false;

	for (unsigned i = 0; i < t->n_passwords; i++) {
		bool same_user = strcmp(t->passwords[i].user, user) == 0;
		bool same_secret = secret_equal(password, t->passwords[i].secret);
		ok |= same_user && same_secret;
	}
	return ok;
}

/* The user a bearer token belongs to, or NULL. user: the name the client
 * claimed (XOAUTH2's user=, OAUTHBEARER's a=), or NULL for any. */
static const char *token_owner(const struct table *t, const char *user, const char *token)
{
	const char *owner = NULL;

	for (unsigned i = 0; i < t->n_tokens; i++) {
		bool same_secret = secret_equal(token, t->tokens[i].secret);
		bool same_user = user == NULL || strcmp(t->tokens[i].user, user) == 0;
		if (same_secret && same_user && owner == NULL)
			owner = t->tokens[i].user;
	}
	return owner;
}

/* ---- AUTH -------------------------------------------------------------- */

/* A password answer on its way: what a lookup in a database or a password
 * hash on a worker thread looks like to the session. Here the answer is
 * known at once and only delivered later, from a timer on the session's
 * own event loop, to show the pattern. */
struct pending_auth {
	tern_smtp_session *session; /* a reference of ours: see on_auth */
	struct event *timer;
	bool ok;
};

static void auth_answer(evutil_socket_t fd, short what, void *arg)
{
	struct pending_auth *p = arg;
	(void)fd;
	(void)what;

	/* If the client left meanwhile, the session has ended: resume then
	 * returns TERN_ECLOSED and does nothing, and the reference we hold
	 * kept the pointer valid until here. */
	if (p->ok)
		tern_smtp_session_resume(p->session, NULL); /* 235 2.7.0 */
	else
		tern_smtp_session_reject(p->session, 535, "5.7.8", "Authentication credentials invalid");
	tern_smtp_session_unref(&p->session);
	event_free(p->timer);
	free(p);
}

static int refuse(tern_smtp_reply *reply_r)
{
	reply_r->code = 535;
	reply_r->enhanced = "5.7.8";
	reply_r->text = "Authentication credentials invalid";
	return TERN_SMTP_REJECT;
}

static int on_auth(tern_smtp_session *s, const tern_smtp_auth *auth, tern_smtp_reply *reply_r,
		   void *user_data)
{
	const struct table *t = user_data;

	/* No proxy authorization in this example: the authorization
	 * identity, when given, must be the authenticating user itself.
	 * (OAUTHBEARER's authzid is its "a=" field: checked with the token.) */
	if (auth->authzid != NULL && auth->username != NULL &&
	    strcmp(auth->authzid, auth->username) != 0)
		return refuse(reply_r);

	if (strcmp(auth->mechanism, "PLAIN") == 0 || strcmp(auth->mechanism, "LOGIN") == 0) {
		/* The asynchronous pattern. auth and its strings stay valid
		 * until the decision is made, but the password is used here
		 * and not kept: only the verdict waits. */
		struct pending_auth *p = calloc(1, sizeof(*p));
		if (p == NULL) {
			reply_r->code = 454;
			reply_r->enhanced = "4.7.0";
			reply_r->text = "Temporary authentication failure";
			return TERN_SMTP_REJECT;
		}
		p->ok = password_ok(t, auth->username, auth->password);
		/* The timer runs on the loop this session belongs to, the only
		 * thread from which it may be resumed. */
		p->timer = evtimer_new(tern_smtp_session_event_base(s), auth_answer, p);
		struct timeval tv = {t->delay_ms / 1000, (t->delay_ms % 1000) * 1000};
		if (p->timer == NULL || evtimer_add(p->timer, &tv) != 0) {
			if (p->timer != NULL)
				event_free(p->timer);
			free(p);
			reply_r->code = 454;
			reply_r->enhanced = "4.7.0";
			reply_r->text = "Temporary authentication failure";
			return TERN_SMTP_REJECT;
		}
		/* The pointer outlives this callback: take a reference, given
		 * back in auth_answer(). */
		tern_smtp_session_ref(s);
		p->session = s;
		return TERN_SMTP_PENDING;
	}

	if (strcmp(auth->mechanism, "XOAUTH2") == 0) {
		/* user=NAME and the token: the token must be NAME's. Accepting
		 * authenticates as NAME (the username). A refusal makes the
		 * library send the JSON error challenge first, then 535. */
		if (token_owner(t, auth->username, auth->token) == NULL)
			return refuse(reply_r);
		return TERN_SMTP_ACCEPT;
	}

	if (strcmp(auth->mechanism, "OAUTHBEARER") == 0) {
		/* RFC 7628: the token names the user; "a=" (authzid), when the
		 * client sends it, must be that user. There is no username, so
		 * tell the library whom the session is authenticated as. */
		const char *owner = token_owner(t, auth->authzid, auth->token);
		if (owner == NULL || tern_smtp_session_set_auth_user(s, owner) != 0)
			return refuse(reply_r);
		return TERN_SMTP_ACCEPT;
	}

	/* A mechanism this table cannot check (CRAM-MD5 and SCRAM need
	 * other stored data; EXTERNAL a client CA). */
	return refuse(reply_r);
}

/* ---- the rest of a submission server ---------------------------------- */

/* An authenticated user sends as itself only (or with the null sender).
 * AUTH is required on every listener here, so the user is always set. */
static int on_mail_from(tern_smtp_session *s, const tern_smtp_mail *mail, tern_smtp_reply *reply_r,
			void *user_data)
{
	const char *user = tern_smtp_session_auth_user(s);
	(void)user_data;

	if (mail->address[0] == '\0' || (user != NULL && strcmp(mail->address, user) == 0))
		return TERN_SMTP_ACCEPT;
	reply_r->code = 550;
	reply_r->enhanced = "5.7.1";
	reply_r->text = "Sender address not owned by the authenticated user";
	return TERN_SMTP_REJECT;
}

static int on_rcpt_to(tern_smtp_session *s, const tern_smtp_rcpt *rcpt, tern_smtp_reply *reply_r,
		      void *user_data)
{
	(void)s;
	(void)rcpt;
	(void)reply_r;
	(void)user_data;
	return TERN_SMTP_ACCEPT; /* a submission server relays for its users */
}

static int on_data_chunk(tern_smtp_session *s, const void *buf, size_t len,
			 tern_smtp_reply *reply_r, void *user_data)
{
	(void)s;
	(void)buf;
	(void)len;
	(void)reply_r;
	(void)user_data;
	return TERN_SMTP_ACCEPT; /* a real server writes it to a spool file */
}

static int on_data_end(tern_smtp_session *s, const tern_smtp_data_info *info,
		       tern_smtp_reply *reply_r, void *user_data)
{
	const tern_smtp_mail *mail = tern_smtp_session_mail_from(s);
	(void)reply_r;
	(void)user_data;

	printf("message from=<%s> auth=%s (%s) rcpt=", mail ? mail->address : "",
	       tern_smtp_session_auth_user(s), tern_smtp_session_auth_mechanism(s));
	for (unsigned i = 0; i < tern_smtp_session_rcpt_count(s); i++)
		printf("%s<%s>", i ? "," : "", tern_smtp_session_rcpt(s, i)->address);
	printf(" size=%llu\n", (unsigned long long)info->size);
	fflush(stdout);
	return TERN_SMTP_ACCEPT;
}

static void on_log(tern_smtp_session *s, enum tern_smtp_log_level level, const char *msg,
		   void *user_data)
{
	(void)level;
	(void)user_data;
	fprintf(stderr, "[%s] %s\n", s ? tern_smtp_session_id(s) : "-", msg);
}

/* SIGTERM/SIGINT: a graceful close. The loop ends once every session has,
 * and these two events are gone. */
struct stopper {
	tern_smtp_server *server;
	struct event *sigs[2];
};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct stopper *st = arg;
	(void)sig;
	(void)what;
	tern_smtp_server_close(st->server);
	for (int i = 0; i < 2; i++)
		event_del(st->sigs[i]);
}

/* ---- command line ------------------------------------------------------ */

static int usage(void)
{
	fprintf(stderr, "usage: example_submission --cert FILE --key FILE [--listen ADDR:PORT] "
			"[--tls-listen ADDR:PORT] [--user NAME:PASSWORD]... [--token NAME:TOKEN]... "
			"[--auth-methods LIST] [--delay-ms N]\n");
	return 64;
}

/* "NAME:SECRET" into e; the argument string is kept (argv lives long). */
static bool parse_entry(char *arg, struct entry *e)
{
	char *colon = strchr(arg, ':');

	if (colon == NULL || colon == arg || colon[1] == '\0')
		return false;
	*colon = '\0';
	e->user = arg;
	e->secret = colon + 1;
	return true;
}

int main(int argc, char **argv)
{
	static struct table table = {.delay_ms = 20};
	const char *cert = NULL, *key = NULL, *listen_addr = NULL, *tls_listen = NULL;
	const char *methods[9] = {"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER", NULL};

	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i];
		char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (val == NULL)
			return usage();
		i++;
		if (strcmp(opt, "--cert") == 0) {
			cert = val;
		} else if (strcmp(opt, "--key") == 0) {
			key = val;
		} else if (strcmp(opt, "--listen") == 0) {
			listen_addr = val;
		} else if (strcmp(opt, "--tls-listen") == 0) {
			tls_listen = val;
		} else if (strcmp(opt, "--user") == 0 && table.n_passwords < MAX_ENTRIES) {
			if (!parse_entry(val, &table.passwords[table.n_passwords++]))
				return usage();
		} else if (strcmp(opt, "--token") == 0 && table.n_tokens < MAX_ENTRIES) {
			if (!parse_entry(val, &table.tokens[table.n_tokens++]))
				return usage();
		} else if (strcmp(opt, "--auth-methods") == 0) {
			/* Comma-separated; the library checks the names. */
			unsigned n = 0;
			for (char *m = strtok(val, ","); m != NULL && n < 8; m = strtok(NULL, ","))
				methods[n++] = m;
			methods[n] = NULL;
		} else if (strcmp(opt, "--delay-ms") == 0) {
			table.delay_ms = (unsigned)strtoul(val, NULL, 10);
		} else {
			return usage();
		}
	}
	if (cert == NULL || key == NULL || (listen_addr == NULL && tls_listen == NULL))
		return usage();

	/* libevent writes with writev(): a client that vanishes must not
	 * kill the process (tern_smtp_server_attach()'s contract). */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct event_base *base = event_base_new();
	const char *certs[] = {cert, NULL}, *keys[] = {key, NULL};
	tern_smtp_options opts;
	tern_smtp_options_init(&opts);
	opts.name = "submission.example";
	opts.tls_cert_files = certs;
	opts.tls_key_files = keys;
	/* Setting on_auth turns AUTH on, required before MAIL (auth_optional
	 * stays false); the secret-carrying mechanisms are offered only over
	 * TLS (allow_insecure_auth stays false). */
	opts.callbacks.on_auth = on_auth;
	opts.auth_methods = methods;
	opts.callbacks.on_mail_from = on_mail_from;
	opts.callbacks.on_rcpt_to = on_rcpt_to;
	opts.callbacks.on_data_chunk = on_data_chunk;
	opts.callbacks.on_data_end = on_data_end;
	opts.callbacks.on_log = on_log;
	opts.user_data = &table;

	tern_smtp_server *server = NULL;
	int r = base ? tern_smtp_server_new(&server, &opts) : TERN_ENOMEM;
	if (r == 0 && listen_addr != NULL) {
		/* Port 587 style: TLS (STARTTLS) before MAIL too (RFC 8314 4). */
		tern_smtp_listen_options lo;
		tern_smtp_listen_options_init(&lo);
		lo.require_tls = true;
		r = tern_smtp_server_listen_ex(server, listen_addr, &lo);
	}
	if (r == 0 && tls_listen != NULL) {
		tern_smtp_listen_options lo;
		tern_smtp_listen_options_init(&lo);
		lo.secure = true;
		r = tern_smtp_server_listen_ex(server, tls_listen, &lo);
	}
	if (r == 0)
		r = tern_smtp_server_attach(server, base);
	if (r != 0) {
		fprintf(stderr, "example_submission: %s\n", tern_strerror(r));
		tern_smtp_server_destroy(&server);
		if (base)
			event_base_free(base);
		return 1;
	}

	struct stopper st = {.server = server};
	st.sigs[0] = evsignal_new(base, SIGTERM, on_signal, &st);
	st.sigs[1] = evsignal_new(base, SIGINT, on_signal, &st);
	for (int i = 0; i < 2; i++)
		if (st.sigs[i] != NULL)
			event_add(st.sigs[i], NULL);
	fprintf(stderr, "example_submission: ready\n");

	event_base_dispatch(base);

	for (int i = 0; i < 2; i++)
		if (st.sigs[i] != NULL)
			event_free(st.sigs[i]);
	tern_smtp_server_destroy(&server);
	event_base_free(base);
	return 0;
}
