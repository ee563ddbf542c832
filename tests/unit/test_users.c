/* Tests of ternd's users file (cmd/ternd/users.c): a good file, every parse
 * error with its line number, each accepted hash kind checked against a
 * real hash made here, the MAIL FROM rule, loading from disk (permission
 * warning) and reloading. users.c is compiled into this test directly: it
 * is part of ternd, not of libtern. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../cmd/ternd/users.c"

#include <sys/stat.h>

/* A whole yescrypt hash of "secret", made once by the group setup; the
 * tables below write HASH where it goes. */
static char yescrypt_secret[CRYPT_OUTPUT_SIZE];

static void make_crypt_hash(const char *prefix, unsigned long cost, const char *password,
			    char *out, size_t outlen)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	assert_non_null(crypt_gensalt_rn(prefix, cost, NULL, 0, setting, sizeof(setting)));
	const char *h = crypt_rn(password, setting, &cd, sizeof(cd));
	assert_non_null(h);
	assert_true(strlen(h) < outlen);
	strcpy(out, h);
}

static int group_setup(void **state)
{
	(void)state;
	make_crypt_hash("$y$", 0, "secret", yescrypt_secret, sizeof(yescrypt_secret));
	return 0;
}

/* Copies fmt into out with every "HASH" replaced by the yescrypt hash. */
static void expand(const char *fmt, char *out, size_t outlen)
{
	size_t n = 0;
	size_t hlen = strlen(yescrypt_secret);
	for (const char *p = fmt; *p != '\0';) {
		if (strncmp(p, "HASH", 4) == 0) {
			assert_true(n + hlen < outlen);
			memcpy(out + n, yescrypt_secret, hlen);
			n += hlen;
			p += 4;
		} else {
			assert_true(n + 1 < outlen);
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
}

static struct users_table *parse_ok(const char *fmt)
{
	char text[4096], err[512] = "";
	struct users_table *t = NULL;
	expand(fmt, text, sizeof(text));
	int rc = users_table_parse(text, strlen(text), "users", &t, err, sizeof(err));
	if (rc != 0)
		fail_msg("parse failed: %d '%s'", rc, err);
	return t;
}

/* A SCRAM field for password with a fixed salt, as ternd passwd writes it. */
static void scram_field(const char *password, unsigned iterations, char *out, size_t outlen,
			unsigned char stored[32], unsigned char server[32])
{
	static const unsigned char salt[16] = "0123456789abcdef";
	assert_int_equal(tern_scram_sha256_keys(password, strlen(password), salt, sizeof(salt),
						iterations, stored, server),
			 0);
	char s64[64], st64[64], sv64[64];
	assert_true(tern__base64_encode(salt, sizeof(salt), s64, sizeof(s64)) > 0);
	assert_true(tern__base64_encode(stored, 32, st64, sizeof(st64)) > 0);
	assert_true(tern__base64_encode(server, 32, sv64, sizeof(sv64)) > 0);
	snprintf(out, outlen, "scram-sha-256=%u,%s,%s,%s", iterations, s64, st64, sv64);
}

/* ---- a good file ------------------------------------------------------- */

static void test_good_file(void **state)
{
	(void)state;
	unsigned char stored[32], server[32], cram[TERN_CRAM_MD5_SECRET_LEN];
	char scram[256], cramhex[80], fmt[2048];
	scram_field("secret", 4096, scram, sizeof(scram), stored, server);
	assert_int_equal(tern_cram_md5_secret("secret", 6, cram), 0);
	for (size_t i = 0; i < sizeof(cram); i++)
		snprintf(cramhex + 2 * i, 3, "%02X", cram[i]);
	snprintf(fmt, sizeof(fmt),
		 "# ternd users\n"
		 "\n"
		 "   # indented comment\n"
		 "alice@example.org:HASH\n"
		 "bob:HASH:%s:cram-md5=%s:from=bob@example.org,@Lists.Example.ORG\r\n"
		 "\t\n"
		 "carol:HASH:from=carol@example.net", /* no final newline */
		 scram, cramhex);
	struct users_table *t = parse_ok(fmt);
	assert_int_equal(users_table_count(t), 3);

	const struct users_entry *a = users_lookup(t, "alice@example.org");
	assert_non_null(a);
	assert_string_equal(users_entry_name(a), "alice@example.org");
	assert_int_equal(users_entry_line(a), 4);
	assert_string_equal(users_entry_hash(a), yescrypt_secret);
	struct users_scram keys = {0};
	assert_false(users_entry_scram(a, &keys));
	assert_null(users_entry_cram_md5(a));

	const struct users_entry *b = users_lookup(t, "bob");
	assert_non_null(b);
	assert_int_equal(users_entry_line(b), 5);
	assert_true(users_entry_scram(b, &keys));
	assert_int_equal(keys.iterations, 4096);
	assert_int_equal(keys.salt_len, 16);
	assert_memory_equal(keys.salt, "0123456789abcdef", 16);
	assert_memory_equal(keys.stored_key, stored, 32);
	assert_memory_equal(keys.server_key, server, 32);
	assert_non_null(users_entry_cram_md5(b));
	assert_memory_equal(users_entry_cram_md5(b), cram, sizeof(cram));

	assert_non_null(users_lookup(t, "carol"));
	assert_int_equal(users_entry_line(users_lookup(t, "carol")), 7);
	/* Names compare octet for octet. */
	assert_null(users_lookup(t, "Bob"));
	assert_null(users_lookup(t, "bo"));
	assert_null(users_lookup(t, ""));
	assert_null(users_lookup(t, NULL));

	assert_int_equal(users_check_password(a, "secret", 6), USERS_PASSWORD_OK);
	assert_int_equal(users_check_password(b, "secret", 6), USERS_PASSWORD_OK);
	assert_int_equal(users_check_password(a, "Secret", 6), USERS_PASSWORD_MISMATCH);

	/* References: the table outlives the first unref while another is held. */
	struct users_table *t2 = users_table_ref(t);
	users_table_unref(&t);
	assert_null(t);
	assert_string_equal(users_entry_name(users_lookup(t2, "bob")), "bob");
	users_table_unref(&t2);
	users_table_unref(&t2); /* NULL: no effect */

	/* An empty file (or only comments) is a valid table with no users. */
	t = parse_ok("# nobody yet\n");
	assert_int_equal(users_table_count(t), 0);
	assert_null(users_lookup(t, "alice"));
	users_table_unref(&t);
}

/* ---- every parse error, with its line --------------------------------- */

static const struct {
	const char *text;
	const char *msg; /* the whole message, "users:LINE: ..." */
} bad_files[] = {
	{"alice\n", "users:1: expected name:hash[:key=value]..."},
	{"# c\n\n:HASH\n", "users:3: empty user name"},
	{"alice:HASH \n", "users:1: blank or control character in the line"},
	{" alice:HASH\n", "users:1: blank or control character in the line"},
	{"al ice:HASH\n", "users:1: blank or control character in the line"},
	{"alice:HASH\x01\n", "users:1: blank or control character in the line"},
	{"alice:\n", "users:1: user 'alice': empty password hash"},
	{"alice::from=a@b\n", "users:1: user 'alice': empty password hash"},
	{"ok:HASH\nalice:abJnggxhB/yWI\n",
	 "users:2: user 'alice': DES crypt hashes are refused (8-character passwords, broken); "
	 "make a new one with 'ternd passwd'"},
	{"alice:$1$WV4k011E$JWesiaU/YzLDzU8VBtTnp1\n",
	 "users:1: user 'alice': MD5-crypt hashes ($1$) are refused (broken); make a new one with "
	 "'ternd passwd'"},
	{"alice:$5$Z1WzM0EVwQrC4G4z$gHW6cm0dsZU2ZDuXGSN8NYNClys5bLixB/vrlF06yJ0\n",
	 "users:1: user 'alice': unsupported hash scheme '$5$' (use yescrypt $y$, bcrypt $2b$, "
	 "sha512-crypt $6$ or $argon2id$)"},
	{"alice:$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA\n",
	 "users:1: user 'alice': unsupported hash scheme '$argon2i$' (use yescrypt $y$, bcrypt "
	 "$2b$, sha512-crypt $6$ or $argon2id$)"},
	{"alice:$argon2id$v=19$m=64,t=1,p=1$c2FsdA\n", "users:1: user 'alice': malformed argon2id hash"},
	{"alice:$y$j9T$xgBj8F5EJuxzxyuW.644j1\n", "users:1: user 'alice': malformed yescrypt hash"},
	{"alice:$y$j9T$xgBj8F5EJuxzxyuW.644j1$short\n", "users:1: user 'alice': malformed yescrypt hash"},
	{"alice:$2b$05$npk6YxPnYy6nR.hgVjXxEO\n", "users:1: user 'alice': malformed bcrypt hash"},
	{"alice:$6$viyIQ.C.4.CBHlWO\n", "users:1: user 'alice': malformed sha512-crypt hash"},
	{"alice:$\n", "users:1: user 'alice': unsupported hash scheme '$' (use yescrypt $y$, bcrypt "
		       "$2b$, sha512-crypt $6$ or $argon2id$)"},
	{"alice:HASH:from\n", "users:1: user 'alice': a field is not key=value"},
	{"alice:HASH:\n", "users:1: user 'alice': a field is not key=value"},
	{"alice:HASH:home=/x\n",
	 "users:1: user 'alice': unknown field 'home' (scram-sha-256, cram-md5 or from)"},
	{"alice:HASH:from=a@b.c:from=d@e.f\n", "users:1: user 'alice': field 'from' given twice"},
	{"alice:HASH:from=\n", "users:1: user 'alice': from: empty entry in the list"},
	{"alice:HASH:from=a@b.c,,d@e.f\n", "users:1: user 'alice': from: empty entry in the list"},
	{"alice:HASH:from=a@b.c,\n", "users:1: user 'alice': from: empty entry in the list"},
	{"alice:HASH:from=alice\n", "users:1: user 'alice': from: 'alice' is not an address or @domain"},
	{"alice:HASH:from=alice@\n", "users:1: user 'alice': from: 'alice@' is not an address or @domain"},
	{"alice:HASH:from=<a@b.c>\n", "users:1: user 'alice': from: '<a@b.c>' is not an address or @domain"},
	{"alice:HASH:cram-md5=00\n", "users:1: user 'alice': cram-md5: expected 64 hex digits"},
	{"alice:HASH:cram-md5=zz000000000000000000000000000000000000000000000000000000000000\n",
	 "users:1: user 'alice': cram-md5: expected 64 hex digits"},
	{"alice:HASH:scram-sha-256=4096\n",
	 "users:1: user 'alice': scram-sha-256: expected ITERATIONS,SALT,STOREDKEY,SERVERKEY"},
	{"alice:HASH:scram-sha-256=4096,a,b,c,d\n",
	 "users:1: user 'alice': scram-sha-256: expected ITERATIONS,SALT,STOREDKEY,SERVERKEY"},
	{"alice:HASH:scram-sha-256=x,c2FsdA==,AAAA,AAAA\n",
	 "users:1: user 'alice': scram-sha-256: the iteration count is not a number"},
	{"alice:HASH:scram-sha-256=4095,c2FsdA==,AAAA,AAAA\n",
	 "users:1: user 'alice': scram-sha-256: iteration count 4095 is out of range (4096..100000000; "
	 "RFC 7677 asks for at least 4096)"},
	{"alice:HASH:scram-sha-256=4096,,AAAA,AAAA\n",
	 "users:1: user 'alice': scram-sha-256: the salt must be 1..256 octets"},
	{"alice:HASH:scram-sha-256=4096,c2Fsd,AAAA,AAAA\n",
	 "users:1: user 'alice': scram-sha-256: the salt is not base64"},
	{"alice:HASH:scram-sha-256=4096,c2FsdA==,AAAA,AAAA\n",
	 "users:1: user 'alice': scram-sha-256: the stored and server keys must be 32 octets of "
	 "base64"},
	{"a:HASH\nb:HASH\n\n# x\na:HASH\n", "users:5: user 'a' is already defined on line 1"},
	{"b:HASH\na:HASH\nb:HASH\n", "users:3: user 'b' is already defined on line 1"},
};

static void test_parse_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		char text[4096], err[512] = "";
		struct users_table *t = (struct users_table *)1;
		expand(bad_files[i].text, text, sizeof(text));
		int rc = users_table_parse(text, strlen(text), "users", &t, err, sizeof(err));
		if (rc != EINVAL || strcmp(err, bad_files[i].msg) != 0)
			fail_msg("case %zu: rc %d\n got  '%s'\n want '%s'", i, rc, err, bad_files[i].msg);
		assert_null(t);
		/* No message ever quotes a hash. */
		assert_null(strstr(err, yescrypt_secret));
	}
	/* A NUL octet anywhere. */
	char err[256];
	struct users_table *t;
	assert_int_equal(users_table_parse("a:b\0c\n", 6, "users", &t, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "users: not a text file (NUL byte)");
	/* A user name at the limit loads; one octet more does not. */
	char name[USERS_NAME_MAX + 2], text[1024];
	memset(name, 'n', sizeof(name));
	name[USERS_NAME_MAX] = '\0';
	snprintf(text, sizeof(text), "%s:%s\n", name, yescrypt_secret);
	assert_int_equal(users_table_parse(text, strlen(text), "users", &t, err, sizeof(err)), 0);
	users_table_unref(&t);
	name[USERS_NAME_MAX] = 'n';
	name[USERS_NAME_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "%s:%s\n", name, yescrypt_secret);
	assert_int_equal(users_table_parse(text, strlen(text), "users", &t, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "users:1: user name longer than 256 octets");
}

/* ---- each hash kind, with real hashes ------------------------------------ */

static void check_kind(const char *hash)
{
	char text[1024];
	snprintf(text, sizeof(text), "u:%s\n", hash);
	char err[512] = "";
	struct users_table *t;
	int rc = users_table_parse(text, strlen(text), "users", &t, err, sizeof(err));
	if (rc != 0)
		fail_msg("'%.12s...' refused: %s", hash, err);
	const struct users_entry *e = users_lookup(t, "u");
	assert_non_null(e);
	assert_int_equal(users_check_password(e, "correct horse", 13), USERS_PASSWORD_OK);
	assert_int_equal(users_check_password(e, "correct horsE", 13), USERS_PASSWORD_MISMATCH);
	assert_int_equal(users_check_password(e, "correct hors", 12), USERS_PASSWORD_MISMATCH);
	assert_int_equal(users_check_password(e, "", 0), USERS_PASSWORD_MISMATCH);
	/* crypt(3) stops at a NUL; a password with one must not match what
	 * comes before it. */
	assert_int_equal(users_check_password(e, "correct horse\0x", 15), USERS_PASSWORD_MISMATCH);
	/* len is what counts, not a terminator. */
	assert_int_equal(users_check_password(e, "correct horse battery", 13), USERS_PASSWORD_OK);
	assert_int_equal(users_verify_hash(hash, "correct horse", 13), USERS_PASSWORD_OK);
	users_table_unref(&t);
}

static void test_hash_kinds(void **state)
{
	(void)state;
	char h[CRYPT_OUTPUT_SIZE];
	make_crypt_hash("$y$", 0, "correct horse", h, sizeof(h));
	check_kind(h);
	make_crypt_hash("$2b$", 4, "correct horse", h, sizeof(h));
	check_kind(h);
	make_crypt_hash("$6$", 1000, "correct horse", h, sizeof(h));
	check_kind(h);
	char enc[256];
	static const char salt[] = "saltsaltsaltsalt";
	assert_int_equal(argon2id_hash_encoded(1, 64, 1, "correct horse", 13, salt, 16, 32, enc,
					       sizeof(enc)),
			 ARGON2_OK);
	check_kind(enc);

	/* The dummy check for unknown users takes a hash's time and never
	 * matches, whatever the password. */
	assert_int_equal(users_verify_hash(NULL, "correct horse", 13), USERS_PASSWORD_MISMATCH);
	assert_int_equal(users_verify_hash(NULL, "", 0), USERS_PASSWORD_MISMATCH);
	/* Too long: refused before hashing. */
	static char big[USERS_PASSWORD_MAX + 1];
	memset(big, 'x', sizeof(big));
	assert_int_equal(users_verify_hash(h, big, sizeof(big)), USERS_PASSWORD_MISMATCH);
	assert_int_equal(users_check_password(NULL, "x", 1), USERS_PASSWORD_ERROR);
}

/* ---- MAIL FROM ----------------------------------------------------------- */

static void test_sender_rule(void **state)
{
	(void)state;
	struct users_table *t = parse_ok(
		"alice@Example.org:HASH\n"
		"bob:HASH\n"
		"carol:HASH:from=carol@example.net,Boss@Example.COM,@lists.example.org\n"
		"dave@example.org:HASH:from=d@example.org\n"
		"\"q@x\"@example.org:HASH\n");
	static const struct {
		const char *user;
		const char *from;
		bool ok;
	} cases[] = {
		/* Without from=: the name, when it is an address. */
		{"alice@Example.org", "alice@Example.org", true},
		{"alice@Example.org", "alice@EXAMPLE.ORG", true},   /* domains ignore case */
		{"alice@Example.org", "Alice@example.org", false},  /* local parts do not */
		{"alice@Example.org", "alice@example.net", false},
		{"alice@Example.org", "alice", false},
		{"alice@Example.org", "alice@", false},
		{"alice@Example.org", "@example.org", false},
		{"alice@Example.org", "", true},                    /* the null sender */
		{"alice@Example.org", "<>", true},
		{"bob", "bob", false},                              /* not an address: only <> */
		{"bob", "bob@example.org", false},
		{"bob", "", true},
		/* With from=: exactly those, and whole domains. */
		{"carol", "carol@example.net", true},
		{"carol", "carol@EXAMPLE.NET", true},
		{"carol", "boss@example.com", false},
		{"carol", "Boss@example.com", true},
		{"carol", "anyone@lists.example.org", true},
		{"carol", "anyone@LISTS.example.ORG", true},
		{"carol", "anyone@sub.lists.example.org", false},   /* no subdomains */
		{"carol", "anyone@xlists.example.org", false},
		{"carol", "carol", false},
		{"carol", "<>", true},
		/* from= replaces the name rule, it does not add to it. */
		{"dave@example.org", "dave@example.org", false},
		{"dave@example.org", "d@example.org", true},
		/* A quoted local part holding '@': the last '@' splits. */
		{"\"q@x\"@example.org", "\"q@x\"@EXAMPLE.org", true},
		{"\"q@x\"@example.org", "\"q@y\"@example.org", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct users_entry *e = users_lookup(t, cases[i].user);
		assert_non_null(e);
		if (users_sender_allowed(e, cases[i].from) != cases[i].ok)
			fail_msg("case %zu: %s sending as '%s' should be %s", i, cases[i].user,
				 cases[i].from, cases[i].ok ? "allowed" : "refused");
	}
	assert_false(users_sender_allowed(NULL, ""));
	assert_false(users_sender_allowed(users_lookup(t, "bob"), NULL));
	users_table_unref(&t);
}

/* ---- files and reload ------------------------------------------------------ */

static void write_mode(const char *path, const char *fmt, mode_t mode)
{
	char text[4096];
	expand(fmt, text, sizeof(text));
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_load_and_reload(void **state)
{
	(void)state;
	char dir[] = "/tmp/ternd-users-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/users", dir);
	char err[512], warn[512];
	struct users_table *t;

	assert_int_equal(users_table_load(path, &t, err, sizeof(err), warn, sizeof(warn)), ENOENT);
	assert_non_null(strstr(err, path));
	assert_null(t);
	assert_int_equal(users_table_load(dir, &t, err, sizeof(err), warn, sizeof(warn)), EINVAL);
	assert_non_null(strstr(err, "not a regular file"));

	write_mode(path, "alice:HASH\n", 0600);
	assert_int_equal(users_table_load(path, &t, err, sizeof(err), warn, sizeof(warn)), 0);
	assert_string_equal(warn, "");
	assert_int_equal(users_table_count(t), 1);
	users_table_unref(&t);

	/* Readable by others: loads, with a warning naming the mode. */
	write_mode(path, "alice:HASH\n", 0644);
	assert_int_equal(users_table_load(path, &t, err, sizeof(err), warn, sizeof(warn)), 0);
	assert_non_null(strstr(warn, "readable by others (mode 0644)"));
	users_table_unref(&t);
	write_mode(path, "alice:HASH\n", 0640);
	assert_int_equal(users_table_load(path, &t, err, sizeof(err), warn, sizeof(warn)), 0);
	assert_non_null(strstr(warn, "readable by its group (mode 0640)"));
	users_table_unref(&t);

	/* The db: a session keeps its table across a reload. */
	write_mode(path, "alice:HASH\n", 0600);
	struct users_db *db;
	assert_int_equal(users_db_open(&db, path, err, sizeof(err), warn, sizeof(warn)), 0);
	struct users_table *held = users_db_get(db);
	const struct users_entry *alice = users_lookup(held, "alice");
	assert_non_null(alice);

	write_mode(path, "alice:HASH\nbob:HASH\n", 0600);
	assert_int_equal(users_db_reload(db, err, sizeof(err), warn, sizeof(warn)), 0);
	t = users_db_get(db);
	assert_int_equal(users_table_count(t), 2);
	users_table_unref(&t);
	/* The old entry is still there for whoever holds the old table. */
	assert_string_equal(users_entry_name(alice), "alice");
	assert_int_equal(users_check_password(alice, "secret", 6), USERS_PASSWORD_OK);
	users_table_unref(&held);

	/* A broken file: the error has the line, and the old table stays. */
	write_mode(path, "alice:HASH\nbob:$1$WV4k011E$JWesiaU/YzLDzU8VBtTnp1\n", 0600);
	assert_int_equal(users_db_reload(db, err, sizeof(err), warn, sizeof(warn)), EINVAL);
	assert_non_null(strstr(err, ":2: user 'bob': MD5-crypt"));
	t = users_db_get(db);
	assert_int_equal(users_table_count(t), 2);
	assert_non_null(users_lookup(t, "bob"));
	users_table_unref(&t);
	/* A missing file too. */
	unlink(path);
	assert_int_equal(users_db_reload(db, err, sizeof(err), warn, sizeof(warn)), ENOENT);
	t = users_db_get(db);
	assert_int_equal(users_table_count(t), 2);
	users_table_unref(&t);
	users_db_close(&db);
	assert_null(db);
	users_db_close(&db);

	/* Opening a db on a bad file fails and leaves nothing. */
	write_mode(path, "x\n", 0600);
	assert_int_equal(users_db_open(&db, path, err, sizeof(err), warn, sizeof(warn)), EINVAL);
	assert_null(db);
	assert_non_null(strstr(err, ":1: expected name:hash"));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_hash_kinds),
		cmocka_unit_test(test_sender_rule),
		cmocka_unit_test(test_load_and_reload),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
