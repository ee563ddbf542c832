/* ternd's users file: who may authenticate, with what password, and which
 * MAIL FROM addresses each user may use. Format and rules: docs/users.md.
 *
 *   # name:hash[:key=value]...
 *   alice@example.org:$y$j9T$...:from=alice@example.org,@lists.example.org
 *   bob:$argon2id$v=19$m=65536,t=3,p=1$...:scram-sha-256=4096,SALT,STORED,SERVER
 *
 * A table is immutable once parsed and reference counted, so a session can
 * keep using the entry it authenticated with while SIGHUP swaps in a new
 * table (users_db). No function here logs or prints a password or a hash.
 *
 * Threads: a table may be read from any number of threads at once;
 * users_db serialises its swaps with a mutex. Nothing here is global. */
#ifndef TERND_USERS_H
#define TERND_USERS_H

#include <stdbool.h>
#include <stddef.h>

#include "tern/sasl.h"

/* The users file is small; a bigger one is a mistake (or not this file). */
#define USERS_FILE_MAX (16 * 1024 * 1024)
/* A user name or address longer than this is refused: RFC 5321 4.5.3.1.3
 * caps a path at 256 octets, and a name is usually an address. */
#define USERS_NAME_MAX 256
/* Passwords longer than this are refused before hashing: a megabyte of
 * "password" is a way to burn CPU, not a password. */
#define USERS_PASSWORD_MAX 1024

struct users_table;
struct users_entry;
struct users_db;

/* What SCRAM-SHA-256 needs of a user (RFC 5802 3). Points into the table. */
struct users_scram {
	unsigned iterations;
	const unsigned char *salt;
	size_t salt_len;
	const unsigned char *stored_key; /* TERN_SCRAM_SHA256_KEY_LEN octets */
	const unsigned char *server_key; /* TERN_SCRAM_SHA256_KEY_LEN octets */
};

/* ---- tables ------------------------------------------------------------ */

/* Parses users file text (len octets; NUL octets are an error). name is
 * used in messages ("NAME:LINE: ..."). On success *table_r holds one
 * reference. Returns 0, EINVAL (a parse error, described in err with the
 * line number; never with the hash or other secret text) or ENOMEM. */
int users_table_parse(const char *text, size_t len, const char *name,
		      struct users_table **table_r, char *err, size_t errlen);

/* Reads and parses the file at path. Like users_table_parse, plus the
 * errno of a failed open or read (err names the file). A file readable by
 * group or others still loads, with a warning in warn ("" when none). */
int users_table_load(const char *path, struct users_table **table_r, char *err, size_t errlen,
		     char *warn, size_t warnlen);

/* Adds a reference. Returns table. */
struct users_table *users_table_ref(struct users_table *table);
/* Drops a reference and sets *table to NULL; the last one frees the table
 * and every entry in it (their secrets are wiped first). */
void users_table_unref(struct users_table **table);
size_t users_table_count(const struct users_table *table);
/* The i-th entry (in name order), or NULL past the end. */
const struct users_entry *users_table_entry(const struct users_table *table, size_t i);

/* Finds a user by name, compared octet for octet. Returns NULL when there
 * is none. The entry lives as long as the table reference it came from. */
const struct users_entry *users_lookup(const struct users_table *table, const char *name);

/* ---- entries ----------------------------------------------------------- */

const char *users_entry_name(const struct users_entry *entry);
/* The line of the users file the entry came from (for logs). */
unsigned users_entry_line(const struct users_entry *entry);
/* The crypt(3) or argon2id string, for hashpool_submit. Never log it. */
const char *users_entry_hash(const struct users_entry *entry);

/* The stored SCRAM-SHA-256 keys: fills *keys_r and returns true, or false
 * when the line has no scram-sha-256 field (SCRAM is impossible for that
 * user). The pointers live as long as the table. */
bool users_entry_scram(const struct users_entry *entry, struct users_scram *keys_r);
/* The CRAM-MD5 secret (TERN_CRAM_MD5_SECRET_LEN octets, for
 * tern_cram_md5_verify), or NULL when the line has no cram-md5 field. */
const unsigned char *users_entry_cram_md5(const struct users_entry *entry);

enum users_verdict {
	USERS_PASSWORD_ERROR = -1, /* could not check (out of memory, bad hash): a 454 */
	USERS_PASSWORD_MISMATCH = 0,
	USERS_PASSWORD_OK = 1,
};

/* Checks password (len octets, not NUL-terminated) against the entry's
 * hash. Slow by design (it is a password hash): call it from the hashpool,
 * never on an event loop. The final comparison takes the same time wherever
 * the strings differ. A password holding a NUL octet, or longer than
 * USERS_PASSWORD_MAX, never matches (crypt(3) would stop at the NUL). */
enum users_verdict users_check_password(const struct users_entry *entry, const char *password,
					size_t len);

/* The same check against a hash string. hash NULL runs a hash of the same
 * kind and cost as users_passwd makes against a fixed salt and always
 * answers MISMATCH: an unknown user then costs as much time as a known
 * one, so timing does not tell which names exist. */
enum users_verdict users_verify_hash(const char *hash, const char *password, size_t len);

/* May this user send with this MAIL FROM address? address is the reverse
 * path without angle brackets ("" or "<>" for the null sender). The rule
 * (docs/users.md): the null sender always; with a from= field, exactly the
 * addresses listed, and any local part in a domain listed as "@domain";
 * without one, the user's own name when it is an address. Domains compare
 * without regard to ASCII case, local parts exactly (RFC 5321 2.4). */
bool users_sender_allowed(const struct users_entry *entry, const char *address);

/* ---- the reloadable table ternd serves from ------------------------------ */

/* Loads path into a new db. Returns what users_table_load returns; warn as
 * there. The db keeps a copy of path. */
int users_db_open(struct users_db **db_r, const char *path, char *err, size_t errlen,
		  char *warn, size_t warnlen);
/* Reads the file again (SIGHUP). On success the new table serves every
 * later users_db_get; holders of the old one keep it until they let go. On
 * any failure the old table stays in service and the error is returned as
 * by users_table_load. Safe from any thread. */
int users_db_reload(struct users_db *db, char *err, size_t errlen, char *warn, size_t warnlen);
/* The current table, with a reference for the caller (users_table_unref
 * when done). Safe from any thread. */
struct users_table *users_db_get(struct users_db *db);
/* Frees the db and its reference to the current table; sets *db to NULL. */
void users_db_close(struct users_db **db);

#endif
