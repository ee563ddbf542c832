/* libtern mailbox access: one storage-callback model for the IMAP and POP3
 * servers (email-server's mailboxSession, in C).
 *
 * The library speaks the protocols; the embedder keeps the mail. A program
 * fills a tern_mailbox_callbacks with the storage operations it has, and the
 * servers of <tern/imap.h> and <tern/pop3.h> (one tern_mailbox_server can
 * listen for both) map every command onto them. Writing the handlers once
 * serves both protocols: POP3 uses select, fetch_meta, open_body and
 * expunge; IMAP uses all of them.
 *
 * Capabilities follow the callbacks: a protocol feature whose callback is
 * NULL is not advertised and its commands answer "NO [CANNOT]" (IMAP) or
 * "-ERR" (POP3). MOVE needs move; CREATE/DELETE/RENAME need their callbacks;
 * APPEND needs append_begin, append_data and append_end; STATUS=SIZE needs
 * status to fill size. What the library can do itself from the other
 * callbacks it does: SEARCH (from fetch_meta and open_body, with the MIME
 * engine), ENVELOPE and BODYSTRUCTURE (from open_body, unless fetch_meta
 * gives a cached structure), the sequence-number map, IDLE.
 *
 * Operations. Every storage callback receives a tern_mailbox_op and returns
 * nothing: the embedder fills in the op's results with the
 * tern_mailbox_op_* setters and then calls tern_mailbox_op_done() exactly
 * once, either before the callback returns or later (a database query, a
 * thread pool), from the session's event loop thread. Until then the
 * session runs no further command of that client (later commands wait in
 * order; an IDLE session still sees notifications). A session that ends
 * while an op is open keeps the op valid until done is called; the results
 * are then dropped. The library never has two ops open on one session, so
 * a store handle per session needs no locking of its own.
 *
 * Strings: folder names are UTF-8, levels separated by the server's
 * hierarchy delimiter (tern_mailbox_options.delimiter), INBOX spelt
 * "INBOX" (the library folds its case). Everything handed to a callback is
 * valid until the op is done; everything handed to a setter is copied
 * ("the library keeps a copy") unless the setter says it takes ownership.
 *
 * Threads: a session, its ops and its callbacks belong to one event loop
 * thread. tern_mailbox_server_changed() may be called from any thread. */
#ifndef TERN_MAILBOX_H
#define TERN_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/tern.h"

struct event_base;

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_mailbox_server tern_mailbox_server;
typedef struct tern_mailbox_session tern_mailbox_session;
typedef struct tern_mailbox_op tern_mailbox_op;

enum tern_mailbox_protocol {
	TERN_MAILBOX_IMAP = 1,
	TERN_MAILBOX_POP3 = 2,
};

/* How an op ended. Each maps to one response: IMAP's response code
 * (RFC 5530, RFC 9051 7.1) and POP3's -ERR with RESP-CODES (RFC 2449,
 * RFC 3206) where one exists. */
enum tern_mailbox_status {
	TERN_MAILBOX_OK = 0,
	TERN_MAILBOX_NONEXISTENT = 1,   /* no such folder: NO [NONEXISTENT] */
	TERN_MAILBOX_TRYCREATE = 2,     /* APPEND/COPY/MOVE target missing: NO [TRYCREATE] */
	TERN_MAILBOX_ALREADYEXISTS = 3, /* CREATE/RENAME target exists: NO [ALREADYEXISTS] */
	TERN_MAILBOX_OVERQUOTA = 4,     /* NO [OVERQUOTA] */
	TERN_MAILBOX_NOPERM = 5,        /* NO [NOPERM] */
	TERN_MAILBOX_CANNOT = 6,        /* the store will not do it (INBOX rename, bad name): NO [CANNOT] */
	TERN_MAILBOX_LIMIT = 7,         /* a store limit (keywords per message...): NO [LIMIT] */
	TERN_MAILBOX_INUSE = 8,         /* busy, try later: NO [INUSE]; POP3 -ERR [IN-USE] */
	TERN_MAILBOX_EXPUNGED = 9,      /* a message went away meanwhile: NO [EXPUNGEISSUED] */
	TERN_MAILBOX_TOOBIG = 10,       /* APPEND larger than the store takes: NO [TOOBIG] */
	TERN_MAILBOX_SERVERBUG = 11,    /* anything else: NO [SERVERBUG]; POP3 -ERR [SYS/TEMP] */
};

/* System flags (RFC 9051 2.3.2). Keywords travel separately as strings. */
enum {
	TERN_MAILBOX_SEEN = 1u << 0,
	TERN_MAILBOX_ANSWERED = 1u << 1,
	TERN_MAILBOX_FLAGGED = 1u << 2,
	TERN_MAILBOX_DELETED = 1u << 3,
	TERN_MAILBOX_DRAFT = 1u << 4,
};

/* Special-use attributes (RFC 6154). */
enum {
	TERN_MAILBOX_USE_DRAFTS = 1u << 0,
	TERN_MAILBOX_USE_SENT = 1u << 1,
	TERN_MAILBOX_USE_JUNK = 1u << 2,
	TERN_MAILBOX_USE_TRASH = 1u << 3,
	TERN_MAILBOX_USE_ARCHIVE = 1u << 4,
	TERN_MAILBOX_USE_ALL = 1u << 5,
	TERN_MAILBOX_USE_FLAGGED = 1u << 6,
};

/* A set of UIDs: ranges lo..hi inclusive, sorted, not overlapping,
 * lo >= 1. Valid until the op is done. */
typedef struct tern_mailbox_uidset {
	const uint32_t (*range)[2];
	size_t n;
} tern_mailbox_uidset;

/* One folder, for list_folders. */
typedef struct tern_mailbox_folder {
	const char *name;
	unsigned special_use; /* TERN_MAILBOX_USE_* */
	bool subscribed;
	bool noselect;        /* a hierarchy level only: \Noselect */
} tern_mailbox_folder;

/* What select and status report. */
typedef struct tern_mailbox_folder_state {
	uint32_t uidvalidity; /* non-zero */
	uint32_t uidnext;     /* above every UID in the folder */
	uint32_t messages;
	uint32_t unseen;
	uint64_t size;          /* sum of the messages' sizes (STATUS=SIZE) */
	uint64_t highestmodseq; /* 0: the store keeps no MODSEQ */
} tern_mailbox_folder_state;

/* One message's facts, for fetch_meta and the results of store_flags. */
typedef struct tern_mailbox_meta {
	uint32_t uid;
	unsigned flags;          /* TERN_MAILBOX_SEEN... */
	const char *keywords;    /* space-separated atoms, or NULL */
	uint64_t size;           /* RFC822.SIZE: octets with every line ending CRLF */
	int64_t internal_date;   /* seconds since the epoch */
	int internal_zone;       /* minutes east of UTC for INTERNALDATE's zone */
	uint64_t modseq;         /* 0: none */
	/* A structure the store cached from an earlier
	 * tern_mailbox_callbacks.cache_structure, or NULL/0: the library
	 * parses the body when it needs ENVELOPE, BODYSTRUCTURE or a
	 * section. Opaque bytes; a damaged or foreign one is ignored. */
	const void *structure;
	size_t structure_len;
	/* POP3 UIDL (RFC 1939 7: 1 to 70 printable characters, no space);
	 * NULL: the library makes one from UIDVALIDITY and UID. */
	const char *pop3_uidl;
} tern_mailbox_meta;

/* What a client presented to log in (IMAP LOGIN and AUTHENTICATE, POP3
 * USER/PASS and AUTH). Strings are valid until the op is done. Never log
 * password or token. */
typedef struct tern_mailbox_auth {
	enum tern_mailbox_protocol protocol;
	const char *mechanism; /* "LOGIN" for IMAP LOGIN, "USER" for POP3 USER/PASS, or the SASL name */
	const char *username;
	const char *authzid;   /* NULL: none asked for */
	const char *password;  /* LOGIN, USER/PASS, PLAIN */
	const char *token;     /* XOAUTH2, OAUTHBEARER */
	const char *remote_address;
	bool secure;           /* TLS is on */
} tern_mailbox_auth;

enum tern_mailbox_flag_op {
	TERN_MAILBOX_FLAGS_SET = 0,    /* FLAGS */
	TERN_MAILBOX_FLAGS_ADD = 1,    /* +FLAGS */
	TERN_MAILBOX_FLAGS_REMOVE = 2, /* -FLAGS */
};

typedef struct tern_mailbox_append {
	const char *folder;
	unsigned flags;
	const char *keywords;  /* or NULL */
	int64_t internal_date; /* the client's, or the time of the command */
	int internal_zone;
	uint64_t size;         /* announced literal size, octets */
	bool binary;           /* literal8 (RFC 3516): may hold NUL */
} tern_mailbox_append;

/* Storage callbacks. Every callback with an op must end it with
 * tern_mailbox_op_done(). user_data is tern_mailbox_options.user_data. */
typedef struct tern_mailbox_callbacks {
	/* Login. Required: without it nobody can log in. Accept with
	 * tern_mailbox_op_set_user() (the name the session then carries;
	 * the library keeps a copy) and done(OK); refuse with done(NOPERM)
	 * (IMAP "NO [AUTHENTICATIONFAILED]", POP3 "-ERR [AUTH]", after the
	 * server's failure delay) or INUSE/SERVERBUG for "could not check"
	 * (IMAP "NO [UNAVAILABLE]", POP3 "-ERR [SYS/TEMP]"). */
	void (*login)(tern_mailbox_session *s, tern_mailbox_op *op, const tern_mailbox_auth *auth,
		      void *user_data);

	/* Every folder of the user, with tern_mailbox_op_add_folder() for each,
	 * in any order. The library does the LIST pattern matching,
	 * \HasChildren, LSUB and LIST-EXTENDED selection. Required for IMAP. */
	void (*list_folders)(tern_mailbox_session *s, tern_mailbox_op *op, void *user_data);

	/* Opens folder (IMAP SELECT/EXAMINE; POP3 "INBOX" at login):
	 * tern_mailbox_op_set_state() and the UIDs of every message, in
	 * ascending order, with tern_mailbox_op_add_uids() (as many calls as
	 * convenient). The library keeps the UID list for the sequence
	 * numbers; flags are asked for with fetch_meta when needed. */
	void (*select)(tern_mailbox_session *s, tern_mailbox_op *op, const char *folder,
		       bool read_only, void *user_data);

	/* Facts of the messages of the selected folder with a UID in set, by
	 * tern_mailbox_op_add_meta() each. A UID that no longer exists is
	 * left out (the library reports it as expunged, RFC 9051 7.4.1). */
	/* changed_since: 0, or only messages whose MODSEQ is above it
	 * (CHANGEDSINCE, RFC 7162 3.1.4.1; also how the library finds flag
	 * changes after tern_mailbox_server_changed()). */
	void (*fetch_meta)(tern_mailbox_session *s, tern_mailbox_op *op,
			   const tern_mailbox_uidset *set, uint64_t changed_since, void *user_data);

	/* The raw message uid of the selected folder (RFC 5322 octets as
	 * stored): tern_mailbox_op_body_fd() or tern_mailbox_op_body_data(). */
	void (*open_body)(tern_mailbox_session *s, tern_mailbox_op *op, uint32_t uid,
			  void *user_data);

	/* Optional: keeps the structure the library computed for uid so that
	 * fetch_meta can give it back later. Not an op: store it or not. */
	void (*cache_structure)(tern_mailbox_session *s, uint32_t uid, const void *structure,
				size_t len, void *user_data);

	/* Changes flags of the messages in set (selected folder). Report
	 * each message whose flags changed, with its new flags, keywords and
	 * MODSEQ, by tern_mailbox_op_add_meta(). unchanged_since: 0, or the
	 * CONDSTORE limit (RFC 7162): leave out messages whose MODSEQ is
	 * above it and name them with tern_mailbox_op_add_uids(). */
	void (*store_flags)(tern_mailbox_session *s, tern_mailbox_op *op,
			    const tern_mailbox_uidset *set, enum tern_mailbox_flag_op how,
			    unsigned flags, const char *keywords, uint64_t unchanged_since,
			    void *user_data);

	/* Removes messages of the selected folder: those of set (NULL: every
	 * message) that carry \Deleted, or, with !only_deleted, every message
	 * of set (POP3 at QUIT, for the messages marked by DELE). Report the
	 * UIDs removed with tern_mailbox_op_add_uids(). */
	void (*expunge)(tern_mailbox_session *s, tern_mailbox_op *op, const tern_mailbox_uidset *set,
			bool only_deleted, void *user_data);

	/* Copies the messages of set from the selected folder into to, with
	 * tern_mailbox_op_add_copyuid() for UIDPLUS. */
	void (*copy)(tern_mailbox_session *s, tern_mailbox_op *op, const tern_mailbox_uidset *set,
		     const char *to, void *user_data);
	/* MOVE (RFC 6851): as copy, and the messages leave the selected
	 * folder (report the removed UIDs with tern_mailbox_op_add_uids()).
	 * Atomic as far as the store can make it. Without it MOVE is not
	 * offered. */
	void (*move)(tern_mailbox_session *s, tern_mailbox_op *op, const tern_mailbox_uidset *set,
		     const char *to, void *user_data);

	/* APPEND, streamed: append_begin (done(OK) to take the message, or a
	 * refusal such as TRYCREATE or OVERQUOTA), then append_data for each
	 * piece as it arrives (no op: return 0, or a tern_mailbox_status to
	 * refuse; the rest is read and dropped), then append_end with commit
	 * false when the client or a limit cut it short. With commit, answer
	 * with tern_mailbox_op_set_appenduid() once the message is durable. */
	void (*append_begin)(tern_mailbox_session *s, tern_mailbox_op *op,
			     const tern_mailbox_append *info, void *user_data);
	int (*append_data)(tern_mailbox_session *s, const void *buf, size_t len, void *user_data);
	void (*append_end)(tern_mailbox_session *s, tern_mailbox_op *op, bool commit,
			   void *user_data);

	/* STATUS of a folder that need not be selected: set_state(). */
	void (*status)(tern_mailbox_session *s, tern_mailbox_op *op, const char *folder,
		       void *user_data);

	void (*create_folder)(tern_mailbox_session *s, tern_mailbox_op *op, const char *name,
			      unsigned special_use, void *user_data);
	void (*delete_folder)(tern_mailbox_session *s, tern_mailbox_op *op, const char *name,
			      void *user_data);
	void (*rename_folder)(tern_mailbox_session *s, tern_mailbox_op *op, const char *from,
			      const char *to, void *user_data);
	void (*subscribe)(tern_mailbox_session *s, tern_mailbox_op *op, const char *name, bool on,
			  void *user_data);

	/* The session ended; the embedder frees what it kept for it (its
	 * context). An op still open stays valid: end it with done() now or
	 * when its work finishes (its results are dropped); the library frees
	 * the session only after that. Optional. */
	void (*close)(tern_mailbox_session *s, void *user_data);

	/* ABI: new callbacks replace reserved slots (shrink the array by
	 * one); none is ever moved. */
	void (*reserved[15])(void);
} tern_mailbox_callbacks;

/* ---- results of an op ---------------------------------------------------
 * Each returns 0, TERN_ENOMEM, TERN_ESTATE (the op is done, or the setter
 * does not belong to this op's kind) or TERN_EINVAL (a value breaks the
 * rules given in the callback's comment: UIDs out of order, an empty name,
 * UIDVALIDITY 0). After an error the op should be ended with
 * done(SERVERBUG). */
int tern_mailbox_op_set_user(tern_mailbox_op *op, const char *user);
int tern_mailbox_op_add_folder(tern_mailbox_op *op, const tern_mailbox_folder *folder);
int tern_mailbox_op_set_state(tern_mailbox_op *op, const tern_mailbox_folder_state *state);
int tern_mailbox_op_add_uids(tern_mailbox_op *op, const uint32_t *uids, size_t n);
int tern_mailbox_op_add_meta(tern_mailbox_op *op, const tern_mailbox_meta *meta);
/* Takes ownership of fd (open for reading, positioned anywhere; the
 * library reads size octets from offset 0 with pread and closes it). */
int tern_mailbox_op_body_fd(tern_mailbox_op *op, int fd, uint64_t size);
/* Appends octets of the body (the library keeps a copy); call as often as
 * needed before done. For stores whose messages are not files. */
int tern_mailbox_op_body_data(tern_mailbox_op *op, const void *buf, size_t len);
int tern_mailbox_op_add_copyuid(tern_mailbox_op *op, uint32_t uidvalidity, const uint32_t *src,
				const uint32_t *dst, size_t n);
int tern_mailbox_op_set_appenduid(tern_mailbox_op *op, uint32_t uidvalidity, uint32_t uid);
/* Human text for the response (a line; control characters become
 * spaces). Optional. */
int tern_mailbox_op_set_text(tern_mailbox_op *op, const char *text);
/* Ends the op. Returns 0, or TERN_ESTATE when it was already done (the
 * second call changes nothing). */
int tern_mailbox_op_done(tern_mailbox_op *op, enum tern_mailbox_status status);
tern_mailbox_session *tern_mailbox_op_session(const tern_mailbox_op *op);

/* ---- sessions ----------------------------------------------------------- */

enum tern_mailbox_protocol tern_mailbox_session_protocol(const tern_mailbox_session *s);
const char *tern_mailbox_session_id(const tern_mailbox_session *s);
const char *tern_mailbox_session_remote_address(const tern_mailbox_session *s);
/* NULL before login. */
const char *tern_mailbox_session_user(const tern_mailbox_session *s);
/* NULL when no folder is selected. */
const char *tern_mailbox_session_folder(const tern_mailbox_session *s);
bool tern_mailbox_session_secure(const tern_mailbox_session *s);
/* The loop the session runs on (for the embedder's own events, and for
 * answering an op from work done elsewhere). */
struct event_base *tern_mailbox_session_event_base(const tern_mailbox_session *s);
void tern_mailbox_session_set_context(tern_mailbox_session *s, void *context);
void *tern_mailbox_session_get_context(const tern_mailbox_session *s);

/* Changes made elsewhere (an SMTP delivery, another session) to the
 * selected folder, told from the session's loop thread. An IDLE session
 * sees them at once; others at their next command that may carry them
 * (RFC 9051 7.4.1: never during FETCH, STORE or SEARCH for expunges).
 * new_uids ascending and above every known UID; expunged in any order.
 * Return 0, TERN_ENOMEM or TERN_ESTATE (no folder selected). */
int tern_mailbox_session_notify_new(tern_mailbox_session *s, const uint32_t *new_uids, size_t n);
int tern_mailbox_session_notify_expunged(tern_mailbox_session *s, const uint32_t *uids, size_t n);
int tern_mailbox_session_notify_flags(tern_mailbox_session *s, const tern_mailbox_meta *meta);

/* ---- the server ----------------------------------------------------------
 * One server listens for IMAP and POP3 (any number of addresses each, with
 * STARTTLS/STLS or implicit TLS) and runs both on the same loops, with the
 * same callbacks and login. Its life follows tern_smtp_server's: options
 * init, new, listen, open/run or attach, close, destroy. */

enum tern_mailbox_log_level {
	TERN_MAILBOX_LOG_ERROR = 0,
	TERN_MAILBOX_LOG_WARNING = 1,
	TERN_MAILBOX_LOG_INFO = 2,
	TERN_MAILBOX_LOG_DEBUG = 3,
};

/* Versioned by size like tern_smtp_options: fill it with
 * tern_mailbox_options_init(), then set what differs. Strings and arrays
 * are copied at tern_mailbox_server_new(). Fields are only appended. */
typedef struct tern_mailbox_options {
	size_t struct_size; /* set by tern_mailbox_options_init(); never by hand */
	tern_mailbox_callbacks callbacks;
	void *user_data;    /* handed to every callback; not owned */

	const char *name;   /* host name in greetings; default gethostname() */
	/* The hierarchy delimiter of folder names; default '/'. Names reach
	 * the callbacks with it. */
	char delimiter;

	/* TLS, as tern_smtp_options: PEM files (one chain and key per
	 * entry, NULL-terminated), or none: no STARTTLS/STLS and no
	 * implicit-TLS listener. */
	const char *const *tls_cert_files;
	const char *const *tls_key_files;
	unsigned tls_min_version; /* enum tern_tls_version; default TLS 1.2 */
	const char *tls_ciphers;
	const char *tls_ciphersuites;

	/* SASL mechanisms offered (names as tern_smtp_options.auth_methods);
	 * NULL: PLAIN, LOGIN, SCRAM-SHA-256. */
	const char *const *auth_methods;
	/* LOGIN, USER/PASS and plaintext SASL without TLS. Default false:
	 * IMAP says LOGINDISABLED and POP3 hides USER before TLS (RFC 9051
	 * 6.2.3, RFC 2595 4), as Dovecot's disable_plaintext_auth. */
	bool allow_insecure_auth;
	unsigned auth_failure_delay;     /* ms before a failed login's answer; default 2000 */
	unsigned max_auth_failures;      /* then BYE/-ERR and close; default 3 */

	unsigned max_clients;            /* 0: no limit; over it: BYE / -ERR and close */
	unsigned max_per_ip;             /* 0: no limit; default 20 */
	/* Idle time, ms: before login (default 60000), after login (IMAP
	 * autologout, default 1800000, at least 30 minutes as RFC 9051 5.4
	 * asks), POP3 after login (default 600000, RFC 1939 3's 10 minutes). */
	unsigned timeout_login;
	unsigned timeout_imap;
	unsigned timeout_pop3;
	/* IMAP: one command line without its literals (default 65536), a
	 * literal other than an APPEND message (default 65536), and an
	 * APPEND message (default 50 MiB; answered NO [TOOBIG]). */
	unsigned max_line_length;
	unsigned max_literal;
	uint64_t max_append;

	enum tern_mailbox_log_level log_level; /* default INFO */
	/* One line per event; s is NULL for server-wide ones. Never carries
	 * credentials or message content. */
	void (*on_log)(tern_mailbox_session *s, enum tern_mailbox_log_level level, const char *msg,
		       void *user_data);
} tern_mailbox_options;

#define tern_mailbox_options_init(o) tern_mailbox_options_init_sized((o), sizeof(*(o)))
void tern_mailbox_options_init_sized(tern_mailbox_options *opts, size_t size);

/* Returns 0, TERN_ENOMEM or TERN_EINVAL (NULL, bad struct_size, an option
 * out of range, no login callback, a TLS file that cannot be read). */
int tern_mailbox_server_new(tern_mailbox_server **server_r, const tern_mailbox_options *opts);

enum tern_mailbox_tls_mode {
	TERN_MAILBOX_TLS_STARTTLS = 0, /* plaintext, STARTTLS/STLS offered when a certificate is set */
	TERN_MAILBOX_TLS_IMPLICIT = 1, /* 993/995 (RFC 8314): the handshake first */
};
/* Adds a listen address ("127.0.0.1:143", "[::1]:993", ":110") for
 * protocol. Returns 0, TERN_EADDR, TERN_ENOMEM, TERN_EINVAL (NULL, unknown
 * protocol, implicit TLS without a certificate) or TERN_ESTATE (running). */
int tern_mailbox_server_listen(tern_mailbox_server *server, enum tern_mailbox_protocol protocol,
			       const char *addr_port, enum tern_mailbox_tls_mode tls);
/* As tern_smtp_server_open/run/attach/close/reload_tls. */
int tern_mailbox_server_open(tern_mailbox_server *server, unsigned workers);
int tern_mailbox_server_run(tern_mailbox_server *server, unsigned workers);
int tern_mailbox_server_attach(tern_mailbox_server *server, struct event_base *base);
int tern_mailbox_server_reload_tls(tern_mailbox_server *server);
/* Graceful: stop accepting; IMAP sessions get "* BYE" and POP3 sessions
 * end without applying deletions (RFC 1939 6: only QUIT updates). Any
 * thread, more than once. */
void tern_mailbox_server_close(tern_mailbox_server *server);
/* After run returned, or after close when attached. Sets *server NULL. */
void tern_mailbox_server_destroy(tern_mailbox_server **server);

/* From any thread: something changed in user's folder (NULL: in several).
 * Every session of that user with that folder selected asks the store
 * again at its next chance (at once in IDLE): select for the folder once
 * more (the library compares the UIDs with the ones it knows and reports
 * EXISTS and EXPUNGE), then, when HIGHESTMODSEQ grew, fetch_meta with
 * changed_since set to the one it knew (FETCH FLAGS for those). Cheap to
 * call often: calls made while a resync is pending are merged. Returns 0
 * or TERN_ENOMEM. */
int tern_mailbox_server_changed(tern_mailbox_server *server, const char *user, const char *folder);

#ifdef __cplusplus
}
#endif
#endif
