/* SASL mechanisms (RFC 4422), server and client side, sans-I/O.
 *
 * The engines know no protocol: they take the client's (or server's)
 * messages as raw octets, after the protocol has removed its base64, and
 * hand back raw octets to send, which the protocol base64-encodes. SMTP AUTH
 * (RFC 4954), IMAP AUTHENTICATE and POP3 AUTH all drive them the same way.
 * No sockets, no clock; randomness comes from RAND_bytes unless a test
 * supplies a fixed nonce.
 *
 * Server contract, numbered:
 * 1. tern__sasl_server_new() copies every parameter; nothing the caller
 *    passes must outlive the call.
 * 2. The protocol calls tern__sasl_server_step() once with the initial
 *    response (have_input true; an empty one, SMTP's "=", is in_len 0) or
 *    without (have_input false), then once per client message.
 * 3. Every call returns one enum tern__sasl_status (>0) or a negative
 *    TERN_E* error (TERN_ENOMEM, TERN_EIO when RAND_bytes fails, TERN_ESTATE
 *    for a call the current state does not allow, TERN_EINVAL for a NULL
 *    argument). After an error the exchange is over: answer it as a
 *    temporary failure (SMTP 454 4.7.0) and free the engine.
 * 4. TERN__SASL_CHALLENGE: send *out_r, *out_len_r octets (possibly none) and feed
 *    the client's answer to step(). The octets stay owned by the engine and
 *    valid until the next call on it.
 * 5. TERN__SASL_CHECK: the credentials are complete. Read them with
 *    tern__sasl_server_credentials() and answer, now or later, with
 *    tern__sasl_server_checked(s, ok) — or, for SCRAM, with
 *    tern__sasl_server_set_scram_keys() (the user exists) or
 *    tern__sasl_server_unknown_user() (it does not; the exchange goes on
 *    with a fake salt and fails at the proof, so existence is not
 *    revealed); checked(s, false) also works for SCRAM, e.g. when the
 *    authzid is refused, and fails at once. Those calls return a status
 *    just as step() does.
 * 6. TERN__SASL_SUCCESS: authenticated as the credentials say. When
 *    *out_len_r > 0 the mechanism has final server data (SCRAM's "v=").
 *    RFC 4954 4 has no room for it in 235, so SMTP sends it as a 334
 *    challenge, expects an empty client line and then answers 235 (a "*"
 *    there gets 501 and no authentication); IMAP may put it in the tagged
 *    OK (RFC 9051 6.2.2) or use a "+" continuation the same way.
 * 7. TERN__SASL_FAILURE: authentication failed (SMTP 535 5.7.8). *out_r may
 *    hold SCRAM's "e=..." server-error; protocols without a place for it
 *    (SMTP, IMAP) log it and send nothing.
 * 8. TERN__SASL_MALFORMED: the client's message broke the mechanism's
 *    grammar, exceeded the message limit, held a forbidden NUL, was not
 *    UTF-8 where the RFC wants UTF-8, or was an initial response to a
 *    mechanism that has none (RFC 4954 4: "the server MUST reject the AUTH
 *    command with a 501 reply"). SMTP answers 501 5.5.2.
 * 9. After SUCCESS, FAILURE or MALFORMED every call but free returns
 *    TERN_ESTATE. tern__sasl_server_free() cleanses every secret it held
 *    (passwords, tokens, keys, proofs, outputs) and sets *s to NULL.
 *
 * Client contract: tern__sasl_client_new() copies its parameters;
 * tern__sasl_client_initial_response() gives the first message when the
 * mechanism lets the client start (1) or says there is none (0); then each
 * server challenge goes to tern__sasl_client_step(), whose response octets
 * are owned by the client until the next call. When the protocol reports
 * success it must also ask tern__sasl_client_complete(): for SCRAM it is
 * true only once the server's signature has been verified, so a server
 * that claims success without proving it knows the keys is refused. */
#ifndef TERN_SASL_SASL_H
#define TERN_SASL_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "tern/sasl.h"

enum tern__sasl_mech {
	TERN__SASL_PLAIN,
	TERN__SASL_LOGIN,
	TERN__SASL_CRAM_MD5,
	TERN__SASL_SCRAM_SHA_256,
	TERN__SASL_SCRAM_SHA_256_PLUS,
	TERN__SASL_XOAUTH2,
	TERN__SASL_OAUTHBEARER,
	TERN__SASL_EXTERNAL,
	TERN__SASL_MECH_COUNT
};

/* Default bound on one decoded message, either direction. RFC 4954 4
 * leaves the length open ("12288 octets" is only the minimum line a server
 * must accept); 16 KiB holds any real OAuth token. */
#define TERN__SASL_MAX_MESSAGE 16384

/* Iterations announced for an unknown SCRAM user when the embedder gives
 * none: RFC 7677 4 "at least 4096". */
#define TERN__SASL_SCRAM_FAKE_ITERATIONS 4096

/* The mechanism named name[0..len), compared case-insensitively (RFC 4422
 * 3.1: names are upper case, but RFC 4954 and RFC 3501 match them without
 * regard to case), or -1 when there is no such mechanism. */
int tern__sasl_mech_lookup(const char *name, size_t len);

/* The registered (upper-case) name of mech, or NULL when out of range. */
const char *tern__sasl_mech_name(enum tern__sasl_mech mech);

/* True when the client sends the first message (an initial response is
 * allowed): every mechanism but CRAM-MD5. LOGIN's optional initial
 * username is common practice, not part of the draft. */
bool tern__sasl_mech_client_first(enum tern__sasl_mech mech);

/* Channel-binding data the TLS layer can produce for this connection.
 * len 0 means the type is not available. */
struct tern__sasl_cbinding {
	const unsigned char *tls_exporter; /* RFC 9266: 32 octets, label "EXPORTER-Channel-Binding" */
	size_t tls_exporter_len;
	const unsigned char *tls_server_end_point; /* RFC 5929 4.1: hash of the server certificate */
	size_t tls_server_end_point_len;
};

enum tern__sasl_status {
	TERN__SASL_CHALLENGE = 1,
	TERN__SASL_CHECK = 2,
	TERN__SASL_SUCCESS = 3,
	TERN__SASL_FAILURE = 4,
	TERN__SASL_MALFORMED = 5,
};

struct tern__sasl_server_params {
	/* The server's host name: CRAM-MD5's challenge ends "@host>". NULL
	 * gives "localhost". */
	const char *hostname;
	/* Channel bindings of the connection (all zero without TLS). */
	struct tern__sasl_cbinding cb;
	/* The server advertised SCRAM-SHA-256-PLUS on this connection: a
	 * client that sends the "y" flag is then being downgraded. */
	bool plus_offered;
	/* EXTERNAL: the identity the TLS layer verified (a client certificate
	 * subject or SAN the embedder chose). NULL: EXTERNAL fails. */
	const char *external_identity;
	/* The JSON of an XOAUTH2/OAUTHBEARER failure challenge. NULL gives
	 * {"status":"invalid_token"} for OAUTHBEARER (RFC 7628 3.2.2) and
	 * {"status":"401","schemes":"bearer"} for XOAUTH2 (Google's form). */
	const char *oauth_error_json;
	/* SCRAM unknown user: a per-server secret so that the fake salt of a
	 * name is the same in every exchange, as a real user's salt is. When
	 * NULL a per-exchange random key is used, and two attempts for an
	 * unknown name show two salts: the embedder should set it. */
	const unsigned char *scram_fake_key;
	size_t scram_fake_key_len;
	/* Iterations announced for an unknown user; 0 gives
	 * TERN__SASL_SCRAM_FAKE_ITERATIONS. Set it to what real users have. */
	unsigned scram_fake_iterations;
	/* Bound on one client message; 0 gives TERN__SASL_MAX_MESSAGE. */
	size_t max_message;
	/* Tests only: the server nonce for SCRAM (printable ASCII, no ",") or
	 * the part of CRAM-MD5's challenge between "<" and "@". NULL: random. */
	const char *test_nonce;
};

/* What the client presented, valid until the next call on the engine.
 * Every string is NUL-terminated and holds no NUL; absent ones are NULL. */
struct tern__sasl_credentials {
	enum tern__sasl_mech mech;
	/* The authentication identity: PLAIN/LOGIN/CRAM-MD5 user name, SCRAM
	 * "n=" (unescaped), XOAUTH2 "user=". NULL for OAUTHBEARER (the token
	 * names the user) and EXTERNAL. */
	const char *authcid;
	/* The authorization identity asked for (PLAIN, SCRAM "a=", OAUTHBEARER
	 * "a=", EXTERNAL's message); NULL when empty or absent. */
	const char *authzid;
	const char *password;  /* PLAIN, LOGIN */
	const char *token;     /* XOAUTH2, OAUTHBEARER: the bearer token */
	const char *host;      /* OAUTHBEARER "host=", when sent */
	const char *port;      /* OAUTHBEARER "port=", when sent (digits) */
	const char *challenge; /* CRAM-MD5: the challenge the server sent */
	const char *digest;    /* CRAM-MD5: the client's 32 hex digits */
	const char *identity;  /* EXTERNAL: the verified identity from the params */
	/* SCRAM: "p" (channel binding in use), "y" or "n"; '\0' elsewhere. */
	char cb_flag;
};

/* What the embedder stores for a SCRAM-SHA-256 user (tern_scram_sha256_keys).
 * The engine keeps a copy. */
struct tern__sasl_scram_keys {
	const unsigned char *salt;
	size_t salt_len;
	unsigned iterations;
	unsigned char stored_key[TERN_SCRAM_SHA256_KEY_LEN];
	unsigned char server_key[TERN_SCRAM_SHA256_KEY_LEN];
};

struct tern__sasl_server;

/* Creates a server engine for mech. Returns 0, TERN_EINVAL (NULL argument,
 * mech out of range, a bad test_nonce or a hostname with controls) or
 * TERN_ENOMEM. On error *s_r is NULL. */
int tern__sasl_server_new(struct tern__sasl_server **s_r, enum tern__sasl_mech mech,
			  const struct tern__sasl_server_params *params);

/* Feeds a client message (see the contract). */
int tern__sasl_server_step(struct tern__sasl_server *s, const void *in, size_t in_len,
			   bool have_input, const void **out_r, size_t *out_len_r);

/* The credentials after TERN__SASL_CHECK (and after SUCCESS), or NULL in
 * any other state. */
const struct tern__sasl_credentials *tern__sasl_server_credentials(const struct tern__sasl_server *s);

/* The embedder's verdict after TERN__SASL_CHECK. */
int tern__sasl_server_checked(struct tern__sasl_server *s, bool ok, const void **out_r,
			      size_t *out_len_r);

/* SCRAM after TERN__SASL_CHECK: the user's stored keys. TERN_EINVAL for an
 * empty salt or iterations < 1. */
int tern__sasl_server_set_scram_keys(struct tern__sasl_server *s,
				     const struct tern__sasl_scram_keys *keys, const void **out_r,
				     size_t *out_len_r);

/* SCRAM after TERN__SASL_CHECK: no such user. */
int tern__sasl_server_unknown_user(struct tern__sasl_server *s, const void **out_r,
				   size_t *out_len_r);

/* Frees the engine, cleansing its secrets; *s is set to NULL. NULL is fine. */
void tern__sasl_server_free(struct tern__sasl_server **s);

/* ---- client ---- */

enum tern__sasl_cb_type {
	TERN__SASL_CB_TLS_EXPORTER,
	TERN__SASL_CB_TLS_SERVER_END_POINT,
};

struct tern__sasl_client_params {
	const char *authcid;  /* user name (PLAIN, LOGIN, CRAM-MD5, SCRAM, XOAUTH2) */
	const char *authzid;  /* optional (PLAIN, SCRAM, OAUTHBEARER, EXTERNAL) */
	const char *password; /* PLAIN, LOGIN, CRAM-MD5, SCRAM */
	const char *token;    /* XOAUTH2, OAUTHBEARER */
	const char *host;     /* OAUTHBEARER "host=", optional */
	unsigned port;        /* OAUTHBEARER "port=", 0 = not sent */
	/* SCRAM: the channel bindings this TLS connection has. With -PLUS the
	 * client binds to cb_type; with plain SCRAM-SHA-256 a client that has
	 * bindings sends "y" (it supports binding, the server did not offer
	 * -PLUS), one without sends "n". */
	struct tern__sasl_cbinding cb;
	enum tern__sasl_cb_type cb_type;
	/* Bound on one server message; 0 gives TERN__SASL_MAX_MESSAGE. */
	size_t max_message;
	/* Tests only: the SCRAM client nonce (printable ASCII, no ","). */
	const char *test_nonce;
};

enum tern__sasl_client_status {
	TERN__SASL_CLIENT_RESPONSE = 1, /* send *out_r (possibly empty) */
	TERN__SASL_CLIENT_ERROR = 2,    /* the server's message is bad or its
					 * proof is wrong: cancel (SMTP "*") */
};

struct tern__sasl_client;

/* Creates a client engine. Returns 0, TERN_EINVAL (NULL argument, mech out
 * of range, a credential the mechanism needs is missing, a bad test nonce,
 * -PLUS without the chosen binding) or TERN_ENOMEM. */
int tern__sasl_client_new(struct tern__sasl_client **c_r, enum tern__sasl_mech mech,
			  const struct tern__sasl_client_params *params);

/* The initial response: returns 1 and the octets (owned by the client
 * until the next call; possibly empty, which SMTP sends as "="), 0 when the
 * mechanism has none (LOGIN, CRAM-MD5), or TERN_ESTATE when called twice
 * or after a step, TERN_ENOMEM, TERN_EIO. */
int tern__sasl_client_initial_response(struct tern__sasl_client *c, const void **out_r,
				       size_t *out_len_r);

/* Answers a server challenge. Returns an enum tern__sasl_client_status,
 * or TERN_ESTATE (after an ERROR or when the exchange has no further step),
 * TERN_ENOMEM, TERN_EIO. */
int tern__sasl_client_step(struct tern__sasl_client *c, const void *in, size_t in_len,
			   const void **out_r, size_t *out_len_r);

/* True once the client has done its whole part and, for SCRAM, verified
 * the server's signature. Ask it when the server reports success. */
bool tern__sasl_client_complete(const struct tern__sasl_client *c);

/* Frees the client, cleansing its secrets; *c is set to NULL. */
void tern__sasl_client_free(struct tern__sasl_client **c);

#endif
