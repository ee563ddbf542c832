/* Tests of `ternd passwd` (cmd/ternd/passwd.c): the line it builds loads
 * with users.c, the password checks against the hash, and the SCRAM keys
 * are those tern_scram_sha256_keys derives; reading from a pipe; the
 * subcommand end to end with stdin and stdout redirected. passwd.c and
 * users.c are compiled into this test directly: they are part of ternd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../cmd/ternd/users.c"
#include "../../cmd/ternd/passwd.c"

static struct users_table *load_line(const char *line)
{
	struct users_table *t = NULL;
	char err[512];
	int rc = users_table_parse(line, strlen(line), "line", &t, err, sizeof(err));
	if (rc != 0)
		fail_msg("the line does not load: %s", err);
	return t;
}

static void check_scram(const struct users_entry *e, const char *pw, unsigned iterations)
{
	struct users_scram keys = {0};
	assert_true(users_entry_scram(e, &keys));
	assert_int_equal(keys.iterations, iterations);
	assert_int_equal(keys.salt_len, PASSWD_SCRAM_SALT_LEN);
	unsigned char stored[32], server[32];
	assert_int_equal(tern_scram_sha256_keys(pw, strlen(pw), keys.salt, keys.salt_len,
						keys.iterations, stored, server),
			 0);
	assert_memory_equal(keys.stored_key, stored, 32);
	assert_memory_equal(keys.server_key, server, 32);
}

static void test_line_loads(void **state)
{
	(void)state;
	struct passwd_options opts = {0};
	char *line, err[256];
	assert_int_equal(passwd_make_line("alice@example.org", "p4ss word", 9, &opts, &line, err,
					  sizeof(err)),
			 0);
	assert_non_null(strstr(line, "alice@example.org:$y$"));
	assert_null(strstr(line, "cram-md5="));
	assert_null(strstr(line, "from="));
	assert_null(strchr(line, '\n'));
	struct users_table *t = load_line(line);
	const struct users_entry *e = users_lookup(t, "alice@example.org");
	assert_non_null(e);
	assert_int_equal(users_check_password(e, "p4ss word", 9), USERS_PASSWORD_OK);
	assert_int_equal(users_check_password(e, "p4ss worD", 9), USERS_PASSWORD_MISMATCH);
	check_scram(e, "p4ss word", PASSWD_DEFAULT_SCRAM_ITERATIONS);
	assert_null(users_entry_cram_md5(e));
	assert_true(users_sender_allowed(e, "alice@EXAMPLE.org"));
	users_table_unref(&t);

	/* Two runs never share a salt. */
	char *line2;
	assert_int_equal(passwd_make_line("alice@example.org", "p4ss word", 9, &opts, &line2, err,
					  sizeof(err)),
			 0);
	assert_string_not_equal(line, line2);
	free(line);
	free(line2);
}

static void test_options(void **state)
{
	(void)state;
	struct passwd_options opts = {
		.cram_md5 = true, .from = "bob@example.org,@lists.example.org", .scram_iterations = 5000};
	char *line, err[256];
	assert_int_equal(passwd_make_line("bob", "hunter2", 7, &opts, &line, err, sizeof(err)), 0);
	struct users_table *t = load_line(line);
	const struct users_entry *e = users_lookup(t, "bob");
	assert_non_null(e);
	assert_int_equal(users_check_password(e, "hunter2", 7), USERS_PASSWORD_OK);
	check_scram(e, "hunter2", 5000);
	unsigned char cram[TERN_CRAM_MD5_SECRET_LEN];
	assert_int_equal(tern_cram_md5_secret("hunter2", 7, cram), 0);
	assert_non_null(users_entry_cram_md5(e));
	assert_memory_equal(users_entry_cram_md5(e), cram, sizeof(cram));
	assert_true(users_sender_allowed(e, "x@lists.example.org"));
	assert_false(users_sender_allowed(e, "bob@example.net"));
	users_table_unref(&t);
	free(line);
}

static void test_refused(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		const char *pw;
		size_t len;
		const char *from;
		const char *msg;
	} cases[] = {
		{"a", "", 0, NULL, "empty password"},
		{"a", "a\0b", 3, NULL, "the password has a NUL octet"},
		{"a:b", "pw", 2, NULL, "a user name cannot hold ':'"},
		{"#a", "pw", 2, NULL, "a user name cannot start with '#'"},
		{"", "pw", 2, NULL, "empty user name"},
		{"a b", "pw", 2, NULL, "blank or control character in the line"},
		{"a", "pw", 2, "x@y:z", "--from: ':' is not allowed"},
		{"a", "pw", 2, "nobody", "from: 'nobody' is not an address or @domain"},
		{"a", "pw", 2, "a@b,,c@d", "from: empty entry in the list"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct passwd_options opts = {.from = cases[i].from};
		char *line = (char *)1, err[256] = "";
		int rc = passwd_make_line(cases[i].name, cases[i].pw, cases[i].len, &opts, &line, err,
					  sizeof(err));
		if (rc != EINVAL || strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu: rc %d '%s', want '%s'", i, rc, err, cases[i].msg);
		assert_null(line);
	}
}

/* Not a terminal: one line, LF or CRLF ending it or not. */
static void test_read_pipe(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t inlen;
		const char *pw; /* NULL: an error containing msg */
		const char *msg;
	} cases[] = {
		{"secret\n", 7, "secret", NULL},
		{"secret\r\nrest\n", 13, "secret", NULL},
		{"secret", 6, "secret", NULL},
		{"two words \n", 11, "two words ", NULL},
		{"\n", 1, NULL, "empty password"},
		{"", 0, NULL, "empty password"},
		{"a\0b\n", 4, NULL, "NUL octet"},
		{"0123456789abcdef\n", 17, NULL, "longer than 15 octets"},
		{"0123456789abcde\n", 16, "0123456789abcde", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		assert_int_equal(write(fds[1], cases[i].in, cases[i].inlen), (ssize_t)cases[i].inlen);
		close(fds[1]);
		char buf[16], err[256] = "";
		size_t len = 0;
		int rc = passwd_read(fds[0], stderr, buf, sizeof(buf), &len, err, sizeof(err));
		close(fds[0]);
		if (cases[i].pw != NULL) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, err);
			assert_int_equal(len, strlen(cases[i].pw));
			assert_string_equal(buf, cases[i].pw);
		} else if (rc != EINVAL || strstr(err, cases[i].msg) == NULL) {
			fail_msg("case %zu: rc %d '%s', want '%s'", i, rc, err, cases[i].msg);
		}
	}
}

/* Runs the subcommand with text on stdin; stdout is captured into out. */
static int run_passwd(const char *input, char *out, size_t outsize, int argc, char **argv)
{
	char in_path[] = "/tmp/ternd-passwd-in-XXXXXX", out_path[] = "/tmp/ternd-passwd-out-XXXXXX";
	int in_fd = mkstemp(in_path), out_fd = mkstemp(out_path);
	assert_true(in_fd >= 0 && out_fd >= 0);
	assert_int_equal(write(in_fd, input, strlen(input)), (ssize_t)strlen(input));
	lseek(in_fd, 0, SEEK_SET);
	fflush(stdout);
	int saved_in = dup(STDIN_FILENO), saved_out = dup(STDOUT_FILENO);
	dup2(in_fd, STDIN_FILENO);
	dup2(out_fd, STDOUT_FILENO);
	int rc = ternd_passwd_main(argc, argv);
	fflush(stdout);
	dup2(saved_in, STDIN_FILENO);
	dup2(saved_out, STDOUT_FILENO);
	close(saved_in);
	close(saved_out);
	lseek(out_fd, 0, SEEK_SET);
	ssize_t n = read(out_fd, out, outsize - 1);
	out[n > 0 ? n : 0] = '\0';
	close(in_fd);
	close(out_fd);
	unlink(in_path);
	unlink(out_path);
	return rc;
}

static void test_subcommand(void **state)
{
	(void)state;
	char out[2048];
	char *argv[] = {"passwd", "--from=carol@example.org", "--cram-md5", "--scram-iterations",
			"4096", "carol", NULL};
	assert_int_equal(run_passwd("s3cret\n", out, sizeof(out), 6, argv), 0);
	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');
	*nl = '\0';
	struct users_table *t = load_line(out);
	const struct users_entry *e = users_lookup(t, "carol");
	assert_non_null(e);
	assert_int_equal(users_check_password(e, "s3cret", 6), USERS_PASSWORD_OK);
	check_scram(e, "s3cret", 4096);
	assert_non_null(users_entry_cram_md5(e));
	assert_true(users_sender_allowed(e, "carol@example.org"));
	users_table_unref(&t);

	static const struct {
		const char *args[4];
		int rc;
	} bad[] = {
		{{"passwd"}, 64},
		{{"passwd", "a", "b"}, 64},
		{{"passwd", "--frob", "a"}, 64},
		{{"passwd", "--scram-iterations", "100", "a"}, 64},
		{{"passwd", "--scram-iterations", "x", "a"}, 64},
		{{"passwd", "a", "--from"}, 64},
		{{"passwd", "--from=nobody", "a"}, 65},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *args[5] = {NULL};
		int n = 0;
		while (n < 4 && bad[i].args[n] != NULL) {
			args[n] = (char *)bad[i].args[n];
			n++;
		}
		int rc = run_passwd("pw\n", out, sizeof(out), n, args);
		if (rc != bad[i].rc)
			fail_msg("case %zu: rc %d, want %d", i, rc, bad[i].rc);
		assert_string_equal(out, "");
	}
	/* Empty input: a data error, nothing printed. */
	char *ok[] = {"passwd", "a", NULL};
	assert_int_equal(run_passwd("", out, sizeof(out), 2, ok), 65);
	assert_string_equal(out, "");
	char *help[] = {"passwd", "--help", NULL};
	assert_int_equal(run_passwd("", out, sizeof(out), 2, help), 0);
	assert_non_null(strstr(out, "Usage: ternd passwd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_loads),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_read_pipe),
		cmocka_unit_test(test_subcommand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
