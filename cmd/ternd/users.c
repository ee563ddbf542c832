/* The users file; see users.h and docs/users.md. Parsing is strict and
 * every error names the line: a users file that half loads would lock out
 * (or let in) someone the administrator did not mean to. */
#include "users.h"

#include <argon2.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/base64.h"
#include "util/hex.h"

struct users_entry {
	char *name;
	char *hash;
	unsigned line;
	bool has_scram;
	bool has_cram;
	unsigned scram_iterations;
	unsigned char *scram_salt;
	size_t scram_salt_len;
	unsigned char stored_key[TERN_SCRAM_SHA256_KEY_LEN];
	unsigned char server_key[TERN_SCRAM_SHA256_KEY_LEN];
	unsigned char cram[TERN_CRAM_MD5_SECRET_LEN];
	char **from;        /* from= entries; NULL: the name rule applies */
	size_t from_count;
};

struct users_table {
	atomic_uint refs;
	struct users_entry *entries; /* sorted by name, for bsearch */
	size_t count;
};

struct users_db {
	pthread_mutex_t lock;
	struct users_table *current;
	char *path;
};

/* RFC 7677 4: "the hash iteration-count announced by a server SHOULD be at
 * least 4096". A stored record below it is refused, not served. */
#define SCRAM_MIN_ITERATIONS 4096
#define SCRAM_MAX_ITERATIONS 100000000u
#define SCRAM_MAX_SALT 256

__attribute__((format(printf, 3, 4))) static int parse_fail(char *err, size_t errlen,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return EINVAL;
}

/* ---- entries and tables ------------------------------------------------ */

static void entry_free(struct users_entry *e)
{
	free(e->name);
	if (e->hash != NULL) {
		explicit_bzero(e->hash, strlen(e->hash));
		free(e->hash);
	}
	if (e->scram_salt != NULL)
		free(e->scram_salt);
	for (size_t i = 0; i < e->from_count; i++)
		free(e->from[i]);
	free(e->from);
	explicit_bzero(e, sizeof(*e));
}

static void table_free(struct users_table *t)
{
	for (size_t i = 0; i < t->count; i++)
		entry_free(&t->entries[i]);
	free(t->entries);
	free(t);
}

struct users_table *users_table_ref(struct users_table *table)
{
	atomic_fetch_add_explicit(&table->refs, 1, memory_order_relaxed);
	return table;
}

void users_table_unref(struct users_table **table)
{
	if (table == NULL || *table == NULL)
		return;
	struct users_table *t = *table;
	*table = NULL;
	if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
		table_free(t);
}

size_t users_table_count(const struct users_table *table)
{
	return table->count;
}

const struct users_entry *users_table_entry(const struct users_table *table, size_t i)
{
	return i < table->count ? &table->entries[i] : NULL;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct users_entry *)a)->name, ((const struct users_entry *)b)->name);
}

const struct users_entry *users_lookup(const struct users_table *table, const char *name)
{
	if (table == NULL || name == NULL || table->count == 0)
		return NULL;
	struct users_entry key = {.name = (char *)name};
	return bsearch(&key, table->entries, table->count, sizeof(key), cmp_entry);
}

const char *users_entry_name(const struct users_entry *entry)
{
	return entry->name;
}

unsigned users_entry_line(const struct users_entry *entry)
{
	return entry->line;
}

const char *users_entry_hash(const struct users_entry *entry)
{
	return entry->hash;
}

bool users_entry_scram(const struct users_entry *entry, struct users_scram *keys_r)
{
	if (!entry->has_scram)
		return false;
	keys_r->iterations = entry->scram_iterations;
	keys_r->salt = entry->scram_salt;
	keys_r->salt_len = entry->scram_salt_len;
	keys_r->stored_key = entry->stored_key;
	keys_r->server_key = entry->server_key;
	return true;
}

const unsigned char *users_entry_cram_md5(const struct users_entry *entry)
{
	return entry->has_cram ? entry->cram : NULL;
}

/* ---- MAIL FROM ------------------------------------------------------------ */

/* RFC 5321 2.4: local parts are case-sensitive (only the receiving host may
 * decide otherwise), domains are not. The last '@' splits, since a quoted
 * local part may hold one. */
static bool same_address(const char *a, const char *b)
{
	const char *at_a = strrchr(a, '@');
	const char *at_b = strrchr(b, '@');
	if (at_a == NULL || at_b == NULL)
		return false;
	size_t local = (size_t)(at_a - a);
	return local == (size_t)(at_b - b) && memcmp(a, b, local) == 0 &&
	       strcasecmp(at_a + 1, at_b + 1) == 0;
}

bool users_sender_allowed(const struct users_entry *entry, const char *address)
{
	if (entry == NULL || address == NULL)
		return false;
	/* RFC 5321 4.5.5: the null reverse-path is for notifications
	 * (bounces, DSNs, MDNs); it names nobody, so it impersonates nobody. */
	if (address[0] == '\0' || strcmp(address, "<>") == 0)
		return true;
	const char *at = strrchr(address, '@');
	if (at == NULL || at == address || at[1] == '\0')
		return false;
	if (entry->from == NULL)
		return strchr(entry->name, '@') != NULL && same_address(entry->name, address);
	for (size_t i = 0; i < entry->from_count; i++) {
		const char *f = entry->from[i];
		if (f[0] == '@' ? strcasecmp(f + 1, at + 1) == 0 : same_address(f, address))
			return true;
	}
	return false;
}

/* ---- passwords ------------------------------------------------------------ */

/* A yescrypt setting of the cost ternd passwd uses, for users that do not
 * exist (users_verify_hash with hash NULL). Not a secret: it protects the
 * timing, not a password. */
static const char dummy_setting[] = "$y$j9T$xgBj8F5EJuxzxyuW.644j1";

/* Compares all of expected whatever the first difference is, so the time
 * taken does not say how much of a guess was right. */
static bool same_secret(const char *expected, const char *got)
{
	size_t elen = strlen(expected);
	size_t glen = strlen(got);
	unsigned char diff = elen != glen;
	for (size_t i = 0; i < elen; i++)
		diff |= (unsigned char)expected[i] ^ (unsigned char)(i < glen ? got[i] : 0);
	return diff == 0;
}

static bool is_argon2id(const char *hash)
{
	return strncmp(hash, "$argon2id$", 10) == 0;
}

enum users_verdict users_verify_hash(const char *hash, const char *password, size_t len)
{
	if (password == NULL || len > USERS_PASSWORD_MAX || memchr(password, '\0', len) != NULL)
		return USERS_PASSWORD_MISMATCH;
	char *copy = malloc(len + 1);
	if (copy == NULL)
		return USERS_PASSWORD_ERROR;
	memcpy(copy, password, len);
	copy[len] = '\0';

	enum users_verdict v;
	if (hash != NULL && is_argon2id(hash)) {
		int rc = argon2id_verify(hash, copy, len);
		v = rc == ARGON2_OK ? USERS_PASSWORD_OK
		    : rc == ARGON2_VERIFY_MISMATCH ? USERS_PASSWORD_MISMATCH
						    : USERS_PASSWORD_ERROR;
	} else {
		/* 32 KiB of state per call: on the heap, one per thread at a
		 * time, so the hash threads need no big stacks. */
		struct crypt_data *cd = calloc(1, sizeof(*cd));
		if (cd == NULL) {
			v = USERS_PASSWORD_ERROR;
		} else {
			const char *out = crypt_rn(copy, hash != NULL ? hash : dummy_setting, cd,
						   (int)sizeof(*cd));
			if (out == NULL)
				v = USERS_PASSWORD_ERROR;
			else if (hash == NULL)
				v = USERS_PASSWORD_MISMATCH;
			else
				v = same_secret(hash, out) ? USERS_PASSWORD_OK : USERS_PASSWORD_MISMATCH;
			explicit_bzero(cd, sizeof(*cd));
			free(cd);
		}
	}
	explicit_bzero(copy, len);
	free(copy);
	return v;
}

enum users_verdict users_check_password(const struct users_entry *entry, const char *password,
					size_t len)
{
	if (entry == NULL)
		return USERS_PASSWORD_ERROR;
	return users_verify_hash(entry->hash, password, len);
}

/* ---- parsing ---------------------------------------------------------------- */

/* Accepts the hashes named in docs/users.md. The message never quotes the
 * hash, only its kind. */
static int check_hash(const char *hash, char *why, size_t whylen)
{
	if (hash[0] == '\0')
		return parse_fail(why, whylen, "empty password hash");
	if (is_argon2id(hash)) {
		/* $argon2id$v=19$m=...,t=...,p=...$SALT$HASH: libargon2 has no
		 * public parser, so check the shape; argon2id_verify judges the
		 * rest and a bad one only ever fails to match. */
		unsigned dollars = 0;
		for (const char *c = hash; *c != '\0'; c++)
			dollars += *c == '$';
		if (dollars != 5 || strncmp(hash + 10, "v=", 2) != 0 || strstr(hash, "$m=") == NULL)
			return parse_fail(why, whylen, "malformed argon2id hash");
		return 0;
	}
	/* The shape of a whole hash per scheme: how many '$' at least and the
	 * length of the part after the last one. A bare setting (what
	 * crypt_gensalt returns, without that part) would never match, so
	 * it is named at load time rather than failing every login. */
	static const struct {
		const char *prefix;
		const char *name;
		unsigned dollars;
		size_t tail;
	} good[] = {
		{"$y$", "yescrypt", 4, 43},
		{"$2b$", "bcrypt", 3, 53},
		{"$2y$", "bcrypt", 3, 53},
		{"$6$", "sha512-crypt", 3, 86},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (strncmp(hash, good[i].prefix, strlen(good[i].prefix)) != 0)
			continue;
		unsigned dollars = 0;
		for (const char *c = hash; *c != '\0'; c++)
			dollars += *c == '$';
		if (crypt_checksalt(hash) != CRYPT_SALT_OK || dollars < good[i].dollars ||
		    strlen(strrchr(hash, '$') + 1) != good[i].tail)
			return parse_fail(why, whylen, "malformed %s hash", good[i].name);
		return 0;
	}
	if (hash[0] != '$')
		return parse_fail(why, whylen,
			    "DES crypt hashes are refused (8-character passwords, broken); "
			    "make a new one with 'ternd passwd'");
	if (strncmp(hash, "$1$", 3) == 0)
		return parse_fail(why, whylen,
			    "MD5-crypt hashes ($1$) are refused (broken); "
			    "make a new one with 'ternd passwd'");
	/* Name the scheme ("$5$", "$argon2i$") but nothing past it. */
	const char *end = strchr(hash + 1, '$');
	int shown = end != NULL && end - hash < 16 ? (int)(end - hash + 1) : 1;
	return parse_fail(why, whylen,
		    "unsupported hash scheme '%.*s' (use yescrypt $y$, bcrypt $2b$, "
		    "sha512-crypt $6$ or $argon2id$)",
		    shown, hash);
}

static int decode_exact(const char *b64, size_t len, unsigned char *out, size_t want)
{
	unsigned char buf[TERN__BASE64_DECODED_MAX(64) + 3];
	if (len > 64)
		return -1;
	ssize_t n = tern__base64_decode(b64, len, buf, sizeof(buf));
	if (n != (ssize_t)want) {
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	memcpy(out, buf, want);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* scram-sha-256=ITER,SALT_B64,STOREDKEY_B64,SERVERKEY_B64 */
static int parse_scram(struct users_entry *e, const char *v, char *why, size_t whylen)
{
	const char *parts[4];
	size_t lens[4];
	const char *p = v;
	for (int i = 0; i < 4; i++) {
		parts[i] = p;
		const char *comma = strchr(p, ',');
		if ((comma == NULL) != (i == 3))
			return parse_fail(why, whylen,
				    "scram-sha-256: expected ITERATIONS,SALT,STOREDKEY,SERVERKEY");
		lens[i] = comma != NULL ? (size_t)(comma - p) : strlen(p);
		p = comma != NULL ? comma + 1 : p + lens[i];
	}
	uint64_t iter = 0;
	bool digits = lens[0] > 0 && lens[0] <= 10;
	for (size_t i = 0; digits && i < lens[0]; i++) {
		if (parts[0][i] < '0' || parts[0][i] > '9')
			digits = false;
		else
			iter = iter * 10 + (uint64_t)(parts[0][i] - '0');
	}
	if (!digits)
		return parse_fail(why, whylen, "scram-sha-256: the iteration count is not a number");
	if (iter < SCRAM_MIN_ITERATIONS || iter > SCRAM_MAX_ITERATIONS)
		return parse_fail(why, whylen,
			    "scram-sha-256: iteration count %llu is out of range (%d..%u; RFC 7677 "
			    "asks for at least 4096)",
			    (unsigned long long)iter, SCRAM_MIN_ITERATIONS, SCRAM_MAX_ITERATIONS);
	if (lens[1] == 0 || lens[1] > TERN__BASE64_ENCODED_LEN(SCRAM_MAX_SALT))
		return parse_fail(why, whylen, "scram-sha-256: the salt must be 1..%d octets",
			    SCRAM_MAX_SALT);
	unsigned char *salt = malloc(TERN__BASE64_DECODED_MAX(lens[1]) + 1);
	if (salt == NULL)
		return ENOMEM;
	ssize_t n = tern__base64_decode(parts[1], lens[1], salt, TERN__BASE64_DECODED_MAX(lens[1]));
	if (n <= 0) {
		free(salt);
		return parse_fail(why, whylen, "scram-sha-256: the salt is not base64");
	}
	if (decode_exact(parts[2], lens[2], e->stored_key, TERN_SCRAM_SHA256_KEY_LEN) != 0 ||
	    decode_exact(parts[3], lens[3], e->server_key, TERN_SCRAM_SHA256_KEY_LEN) != 0) {
		free(salt);
		return parse_fail(why, whylen,
			    "scram-sha-256: the stored and server keys must be 32 octets of base64");
	}
	e->scram_iterations = (unsigned)iter;
	e->scram_salt = salt;
	e->scram_salt_len = (size_t)n;
	e->has_scram = true;
	return 0;
}


static int parse_cram(struct users_entry *e, const char *v, char *why, size_t whylen)
{
	if (strlen(v) != 2 * TERN_CRAM_MD5_SECRET_LEN)
		return parse_fail(why, whylen, "cram-md5: expected %d hex digits",
			    2 * TERN_CRAM_MD5_SECRET_LEN);
	for (size_t i = 0; i < TERN_CRAM_MD5_SECRET_LEN; i++) {
		int hi = tern__hex_value((unsigned char)v[2 * i]);
		int lo = tern__hex_value((unsigned char)v[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			explicit_bzero(e->cram, sizeof(e->cram));
			return parse_fail(why, whylen, "cram-md5: expected %d hex digits",
				    2 * TERN_CRAM_MD5_SECRET_LEN);
		}
		e->cram[i] = (unsigned char)(hi << 4 | lo);
	}
	e->has_cram = true;
	return 0;
}

/* from=addr@x,@domain,... Each entry is local@domain or @domain; the
 * checks catch typos, not every RFC 5321 rule. */
static int parse_from(struct users_entry *e, const char *v, char *why, size_t whylen)
{
	size_t n = 1;
	for (const char *c = v; *c != '\0'; c++)
		n += *c == ',';
	e->from = calloc(n, sizeof(*e->from));
	if (e->from == NULL)
		return ENOMEM;
	const char *p = v;
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(p, ",");
		const char *at = memrchr(p, '@', len);
		if (len == 0)
			return parse_fail(why, whylen, "from: empty entry in the list");
		if (len > USERS_NAME_MAX || at == NULL || at == p + len - 1 ||
		    memchr(p, '<', len) != NULL || memchr(p, '>', len) != NULL)
			return parse_fail(why, whylen, "from: '%.*s' is not an address or @domain",
				    (int)(len > 64 ? 64 : len), p);
		e->from[i] = strndup(p, len);
		if (e->from[i] == NULL)
			return ENOMEM;
		e->from_count++;
		p += len + 1;
	}
	return 0;
}

static int parse_field(struct users_entry *e, char *field, unsigned *seen, char *why,
		       size_t whylen)
{
	static const char *const keys[] = {"scram-sha-256", "cram-md5", "from"};
	char *eq = strchr(field, '=');
	if (eq == NULL)
		return parse_fail(why, whylen, "a field is not key=value");
	*eq = '\0';
	const char *value = eq + 1;
	for (unsigned k = 0; k < 3; k++) {
		if (strcmp(field, keys[k]) != 0)
			continue;
		if (*seen & (1u << k))
			return parse_fail(why, whylen, "field '%s' given twice", keys[k]);
		*seen |= 1u << k;
		switch (k) {
		case 0: return parse_scram(e, value, why, whylen);
		case 1: return parse_cram(e, value, why, whylen);
		default: return parse_from(e, value, why, whylen);
		}
	}
	return parse_fail(why, whylen,
		    "unknown field '%.32s' (scram-sha-256, cram-md5 or from)", field);
}

/* One user line, already known not to be blank or a comment. line is
 * modified. On error why holds the message without the line prefix. */
static int parse_user(struct users_entry *e, char *line, char *why, size_t whylen)
{
	for (const unsigned char *c = (const unsigned char *)line; *c != '\0'; c++) {
		if (*c <= ' ' || *c == 0x7f)
			return parse_fail(why, whylen, "blank or control character in the line");
	}
	char *colon = strchr(line, ':');
	if (colon == NULL)
		return parse_fail(why, whylen, "expected name:hash[:key=value]...");
	*colon = '\0';
	if (line[0] == '\0')
		return parse_fail(why, whylen, "empty user name");
	if (strlen(line) > USERS_NAME_MAX)
		return parse_fail(why, whylen, "user name longer than %d octets", USERS_NAME_MAX);
	e->name = strdup(line);
	if (e->name == NULL)
		return ENOMEM;
	char *hash = colon + 1;
	char *rest = strchr(hash, ':');
	if (rest != NULL)
		*rest++ = '\0';
	char sub[256];
	int rc = check_hash(hash, sub, sizeof(sub));
	if (rc != 0)
		return parse_fail(why, whylen, "user '%.64s': %s", e->name, sub);
	e->hash = strdup(hash);
	if (e->hash == NULL)
		return ENOMEM;
	unsigned seen = 0;
	while (rest != NULL) {
		char *field = rest;
		rest = strchr(field, ':');
		if (rest != NULL)
			*rest++ = '\0';
		rc = parse_field(e, field, &seen, sub, sizeof(sub));
		if (rc == EINVAL)
			return parse_fail(why, whylen, "user '%.64s': %s", e->name, sub);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static bool blank_or_comment(const char *line)
{
	while (*line == ' ' || *line == '\t')
		line++;
	return *line == '\0' || *line == '#';
}

int users_table_parse(const char *text, size_t len, const char *name,
		      struct users_table **table_r, char *err, size_t errlen)
{
	*table_r = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (memchr(text, '\0', len) != NULL)
		return parse_fail(err, errlen, "%s: not a text file (NUL byte)", name);
	struct users_table *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return ENOMEM;
	atomic_init(&t->refs, 1);
	size_t cap = 0;
	unsigned lineno = 0;
	int rc = 0;
	const char *p = text, *end = text + len;
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t llen = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		char *line = strndup(p, llen);
		p += llen + (nl != NULL);
		if (line == NULL) {
			rc = ENOMEM;
			break;
		}
		if (llen > 0 && line[llen - 1] == '\r')
			line[--llen] = '\0';
		if (!blank_or_comment(line)) {
			if (t->count == cap) {
				size_t ncap = cap == 0 ? 16 : cap * 2;
				struct users_entry *ne = realloc(t->entries, ncap * sizeof(*ne));
				if (ne == NULL) {
					rc = ENOMEM;
				} else {
					t->entries = ne;
					cap = ncap;
				}
			}
			if (rc == 0) {
				struct users_entry *e = &t->entries[t->count++];
				memset(e, 0, sizeof(*e));
				e->line = lineno;
				char why[384];
				rc = parse_user(e, line, why, sizeof(why));
				if (rc == EINVAL)
					parse_fail(err, errlen, "%s:%u: %s", name, lineno, why);
			}
		}
		explicit_bzero(line, llen);
		free(line);
	}
	if (rc == 0 && t->count > 0) {
		qsort(t->entries, t->count, sizeof(*t->entries), cmp_entry);
		for (size_t i = 1; i < t->count && rc == 0; i++) {
			if (strcmp(t->entries[i - 1].name, t->entries[i].name) != 0)
				continue;
			/* qsort is not stable: report the later line against the
			 * earlier one whatever order they came out in. */
			unsigned a = t->entries[i - 1].line, b = t->entries[i].line;
			rc = parse_fail(err, errlen, "%s:%u: user '%.64s' is already defined on line %u",
					name, a > b ? a : b, t->entries[i].name, a < b ? a : b);
		}
	}
	if (rc != 0) {
		if (rc == ENOMEM)
			parse_fail(err, errlen, "%s: out of memory", name);
		table_free(t);
		return rc;
	}
	*table_r = t;
	return 0;
}

int users_table_load(const char *path, struct users_table **table_r, char *err, size_t errlen,
		     char *warn, size_t warnlen)
{
	*table_r = NULL;
	if (warnlen > 0)
		warn[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return e;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return parse_fail(err, errlen, "%s: not a regular file", path);
	}
	if (st.st_size > USERS_FILE_MAX) {
		close(fd);
		return parse_fail(err, errlen, "%s: larger than %d bytes", path, USERS_FILE_MAX);
	}
	/* The hashes are offline-guessable and the scram/cram fields are
	 * password-equivalent for their mechanisms: nobody but ternd should
	 * read the file. A warning, not a refusal, since group-readable
	 * files with a dedicated group are a legitimate setup. */
	if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0)
		snprintf(warn, warnlen, "%s is readable by %s (mode %04o); chmod 600 it", path,
			 (st.st_mode & S_IROTH) ? "others" : "its group",
			 (unsigned)(st.st_mode & 07777));
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *text = malloc(cap);
	if (text == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return ENOMEM;
	}
	for (;;) {
		if (len == cap) {
			/* The file grew under us; keep reading up to the limit. */
			if (cap > USERS_FILE_MAX) {
				close(fd);
				explicit_bzero(text, len);
				free(text);
				return parse_fail(err, errlen, "%s: larger than %d bytes", path,
						  USERS_FILE_MAX);
			}
			char *nt = realloc(text, cap * 2);
			if (nt == NULL) {
				close(fd);
				explicit_bzero(text, len);
				free(text);
				snprintf(err, errlen, "%s: out of memory", path);
				return ENOMEM;
			}
			text = nt;
			cap *= 2;
		}
		ssize_t n = read(fd, text + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			explicit_bzero(text, len);
			free(text);
			snprintf(err, errlen, "%s: %s", path, strerror(e));
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	int rc = users_table_parse(text, len, path, table_r, err, errlen);
	explicit_bzero(text, len);
	free(text);
	return rc;
}

/* ---- users_db -------------------------------------------------------------- */

int users_db_open(struct users_db **db_r, const char *path, char *err, size_t errlen,
		  char *warn, size_t warnlen)
{
	*db_r = NULL;
	struct users_db *db = calloc(1, sizeof(*db));
	if (db == NULL || (db->path = strdup(path)) == NULL) {
		free(db);
		snprintf(err, errlen, "%s: out of memory", path);
		return ENOMEM;
	}
	int rc = users_table_load(path, &db->current, err, errlen, warn, warnlen);
	if (rc != 0) {
		free(db->path);
		free(db);
		return rc;
	}
	pthread_mutex_init(&db->lock, NULL);
	*db_r = db;
	return 0;
}

int users_db_reload(struct users_db *db, char *err, size_t errlen, char *warn, size_t warnlen)
{
	struct users_table *fresh;
	/* Parse outside the lock: logins go on with the old table meanwhile. */
	int rc = users_table_load(db->path, &fresh, err, errlen, warn, warnlen);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&db->lock);
	struct users_table *old = db->current;
	db->current = fresh;
	pthread_mutex_unlock(&db->lock);
	users_table_unref(&old);
	return 0;
}

struct users_table *users_db_get(struct users_db *db)
{
	pthread_mutex_lock(&db->lock);
	struct users_table *t = users_table_ref(db->current);
	pthread_mutex_unlock(&db->lock);
	return t;
}

void users_db_close(struct users_db **db)
{
	if (db == NULL || *db == NULL)
		return;
	users_table_unref(&(*db)->current);
	pthread_mutex_destroy(&(*db)->lock);
	free((*db)->path);
	free(*db);
	*db = NULL;
}
