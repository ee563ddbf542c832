/* `ternd passwd [--cram-md5] [--from LIST] [--scram-iterations N] NAME`:
 * see passwd.h and docs/users.md. */
#include "passwd.h"

#include <crypt.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <termios.h>
#include <unistd.h>

#include "tern/sasl.h"
#include "users.h"
#include "util/base64.h"

/* sysexits(3), as config.h has the others. */
#define PASSWD_EX_OK 0
#define PASSWD_EX_USAGE 64
#define PASSWD_EX_DATAERR 65
#define PASSWD_EX_NOINPUT 66
#define PASSWD_EX_SOFTWARE 70

__attribute__((format(printf, 3, 4))) static int passwd_fail(char *err, size_t errlen, const char *fmt,
						      ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return EINVAL;
}

/* ---- the line ------------------------------------------------------------- */

static int yescrypt_hash(const char *password, char *out, size_t outlen)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	/* count 0: libxcrypt's current default cost; NULL rbytes: it takes the
	 * salt from the kernel's random source itself. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting)) == NULL)
		return EIO;
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		return ENOMEM;
	const char *h = crypt_rn(password, setting, cd, (int)sizeof(*cd));
	int rc = h != NULL && strlen(h) < outlen ? 0 : EIO;
	if (rc == 0)
		strcpy(out, h);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

static int scram_field(const char *password, size_t len, unsigned iterations, char *out,
		       size_t outlen)
{
	unsigned char salt[PASSWD_SCRAM_SALT_LEN];
	unsigned char stored[TERN_SCRAM_SHA256_KEY_LEN], server[TERN_SCRAM_SHA256_KEY_LEN];
	char salt64[TERN__BASE64_ENCODED_LEN(sizeof(salt)) + 1];
	char stored64[TERN__BASE64_ENCODED_LEN(sizeof(stored)) + 1];
	char server64[TERN__BASE64_ENCODED_LEN(sizeof(server)) + 1];
	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
		return EIO;
	/* Deliberate compromise: RFC 5802 2.2 asks for SASLprep'd passwords;
	 * ternd takes the octets as given. ASCII passwords are unaffected;
	 * a client that normalises a non-ASCII one differently fails SCRAM
	 * (PLAIN still works). docs/users.md says so. */
	int rc = tern_scram_sha256_keys(password, len, salt, sizeof(salt), iterations, stored,
					server);
	if (rc == 0 &&
	    (tern__base64_encode(salt, sizeof(salt), salt64, sizeof(salt64)) < 0 ||
	     tern__base64_encode(stored, sizeof(stored), stored64, sizeof(stored64)) < 0 ||
	     tern__base64_encode(server, sizeof(server), server64, sizeof(server64)) < 0))
		rc = EIO;
	if (rc == 0 && (size_t)snprintf(out, outlen, "scram-sha-256=%u,%s,%s,%s", iterations,
					salt64, stored64, server64) >= outlen)
		rc = EIO;
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(server, sizeof(server));
	explicit_bzero(stored64, sizeof(stored64));
	explicit_bzero(server64, sizeof(server64));
	return rc == 0 ? 0 : rc == TERN_ENOMEM ? ENOMEM : EIO;
}

static int cram_field(const char *password, size_t len, char *out, size_t outlen)
{
	unsigned char secret[TERN_CRAM_MD5_SECRET_LEN];
	if (tern_cram_md5_secret(password, len, secret) != 0)
		return EIO;
	size_t n = (size_t)snprintf(out, outlen, "cram-md5=");
	for (size_t i = 0; i < sizeof(secret) && n + 2 < outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%02x", secret[i]);
	explicit_bzero(secret, sizeof(secret));
	return 0;
}

int passwd_make_line(const char *name, const char *password, size_t len,
		     const struct passwd_options *opts, char **line_r, char *err, size_t errlen)
{
	*line_r = NULL;
	if (len == 0)
		return passwd_fail(err, errlen, "empty password");
	if (len > USERS_PASSWORD_MAX)
		return passwd_fail(err, errlen, "password longer than %d octets", USERS_PASSWORD_MAX);
	if (memchr(password, '\0', len) != NULL)
		return passwd_fail(err, errlen, "the password has a NUL octet");
	if (name[0] == '#')
		return passwd_fail(err, errlen, "a user name cannot start with '#' (it would be a comment)");
	for (const char *c = name; *c != '\0'; c++) {
		if (*c == ':')
			return passwd_fail(err, errlen, "a user name cannot hold ':'");
	}
	if (opts->from != NULL && strchr(opts->from, ':') != NULL)
		return passwd_fail(err, errlen, "--from: ':' is not allowed");
	unsigned iterations =
		opts->scram_iterations != 0 ? opts->scram_iterations : PASSWD_DEFAULT_SCRAM_ITERATIONS;

	/* password is not NUL-terminated for crypt: copy it. */
	char *pw = malloc(len + 1);
	if (pw == NULL)
		return ENOMEM;
	memcpy(pw, password, len);
	pw[len] = '\0';
	char hash[CRYPT_OUTPUT_SIZE], scram[256], cram[96] = "";
	int rc = yescrypt_hash(pw, hash, sizeof(hash));
	if (rc == 0)
		rc = scram_field(pw, len, iterations, scram, sizeof(scram));
	if (rc == 0 && opts->cram_md5)
		rc = cram_field(pw, len, cram, sizeof(cram));
	explicit_bzero(pw, len);
	free(pw);

	char *line = NULL;
	if (rc == 0) {
		size_t size = strlen(name) + strlen(hash) + strlen(scram) + strlen(cram) +
			      (opts->from != NULL ? strlen(opts->from) : 0) + 16;
		line = malloc(size);
		if (line == NULL)
			rc = ENOMEM;
		else
			snprintf(line, size, "%s:%s:%s%s%s%s%s", name, hash, scram, cram[0] ? ":" : "",
				 cram, opts->from != NULL ? ":from=" : "",
				 opts->from != NULL ? opts->from : "");
	}
	explicit_bzero(scram, sizeof(scram));
	explicit_bzero(cram, sizeof(cram));
	if (rc != 0) {
		passwd_fail(err, errlen, "%s", rc == ENOMEM ? "out of memory"
						     : "cannot make the hash or the salt");
		return rc;
	}

	/* Whatever ternd would refuse when loading, refuse now. */
	struct users_table *t;
	char why[512];
	rc = users_table_parse(line, strlen(line), "line", &t, why, sizeof(why));
	if (rc != 0) {
		/* "line:1: user 'x': from: ..." -> "from: ..." is enough here. */
		const char *msg = strstr(why, "': ");
		if (msg != NULL)
			msg += 3;
		else if (strncmp(why, "line:1: ", 8) == 0)
			msg = why + 8;
		else
			msg = why;
		passwd_fail(err, errlen, "%s", msg);
		explicit_bzero(line, strlen(line));
		free(line);
		return rc;
	}
	users_table_unref(&t);
	*line_r = line;
	return 0;
}

/* ---- reading the password ------------------------------------------------- */

/* One line from fd, octet by octet: no stdio buffer keeps a copy. */
static int read_line(int fd, char *buf, size_t size, size_t *len_r, char *err, size_t errlen)
{
	size_t n = 0;
	bool too_long = false, got_any = false;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			snprintf(err, errlen, "cannot read the password: %s", strerror(e));
			return e;
		}
		if (r == 0 || c == '\n')
			break;
		got_any = true;
		if (n + 1 < size)
			buf[n++] = c;
		else
			too_long = true;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (too_long) {
		explicit_bzero(buf, size);
		return passwd_fail(err, errlen, "password longer than %zu octets", size - 1);
	}
	if (!got_any || n == 0)
		return passwd_fail(err, errlen, "empty password");
	if (strlen(buf) != n) {
		explicit_bzero(buf, size);
		return passwd_fail(err, errlen, "the password has a NUL octet");
	}
	*len_r = n;
	return 0;
}

static int read_hidden(int fd, FILE *out, const char *prompt, char *buf, size_t size,
		       size_t *len_r, char *err, size_t errlen)
{
	struct termios old, quiet;
	if (tcgetattr(fd, &old) != 0) {
		int e = errno;
		snprintf(err, errlen, "cannot read the terminal: %s", strerror(e));
		return e;
	}
	quiet = old;
	quiet.c_lflag &= (tcflag_t)~ECHO;
	quiet.c_lflag |= ECHONL;
	fputs(prompt, out);
	fflush(out);
	tcsetattr(fd, TCSAFLUSH, &quiet);
	int rc = read_line(fd, buf, size, len_r, err, errlen);
	tcsetattr(fd, TCSAFLUSH, &old);
	return rc;
}

int passwd_read(int fd, FILE *prompt_out, char *buf, size_t size, size_t *len_r, char *err,
		size_t errlen)
{
	if (!isatty(fd))
		return read_line(fd, buf, size, len_r, err, errlen);
	int rc = read_hidden(fd, prompt_out, "Password: ", buf, size, len_r, err, errlen);
	if (rc != 0)
		return rc;
	char *again = malloc(size);
	if (again == NULL) {
		explicit_bzero(buf, size);
		return ENOMEM;
	}
	size_t len2 = 0;
	rc = read_hidden(fd, prompt_out, "Again: ", again, size, &len2, err, errlen);
	if (rc == 0 && (len2 != *len_r || memcmp(again, buf, len2) != 0))
		rc = passwd_fail(err, errlen, "the two passwords differ");
	explicit_bzero(again, size);
	free(again);
	if (rc != 0)
		explicit_bzero(buf, size);
	return rc;
}

/* ---- the subcommand --------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ternd passwd [--cram-md5] [--from LIST] [--scram-iterations N] NAME\n"
		"Read a password on standard input (twice, without echo, on a terminal) and\n"
		"print a users-file line for NAME: a yescrypt hash and SCRAM-SHA-256 keys.\n\n"
		"  --cram-md5              add a CRAM-MD5 secret (password-equivalent; only\n"
		"                          for clients that cannot do better)\n"
		"  --from LIST             MAIL FROM addresses allowed: addr@x,@domain,...\n"
		"  --scram-iterations N    PBKDF2 iterations for SCRAM (default 4096, the\n"
		"                          minimum of RFC 7677)\n"
		"  --help                  show this help\n\n"
		"See docs/users.md.\n");
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ternd passwd: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'ternd passwd --help' for more information.\n");
	va_end(ap);
	return PASSWD_EX_USAGE;
}

static int parse_iterations(const char *s, unsigned *out)
{
	uint64_t v = 0;
	if (*s == '\0')
		return -1;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > 100000000)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < PASSWD_DEFAULT_SCRAM_ITERATIONS || v > 100000000)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* A value after '=' or in the next argument. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag)
{
	size_t flen = strlen(flag);
	if (argv[*i][flen] == '=')
		return argv[*i] + flen + 1;
	if (*i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static bool is_flag(const char *arg, const char *flag)
{
	size_t flen = strlen(flag);
	return strncmp(arg, flag, flen) == 0 && (arg[flen] == '\0' || arg[flen] == '=');
}

int ternd_passwd_main(int argc, char **argv)
{
	struct passwd_options opts = {0};
	const char *name = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return PASSWD_EX_OK;
		} else if (strcmp(a, "--cram-md5") == 0) {
			opts.cram_md5 = true;
		} else if (is_flag(a, "--from")) {
			if ((opts.from = flag_value(argc, argv, &i, "--from")) == NULL)
				return usage_error("%s needs a value (LIST)", "--from");
		} else if (is_flag(a, "--scram-iterations")) {
			const char *v = flag_value(argc, argv, &i, "--scram-iterations");
			if (v == NULL)
				return usage_error("%s needs a value (N)", "--scram-iterations");
			if (parse_iterations(v, &opts.scram_iterations) != 0)
				return usage_error("--scram-iterations: '%s' is out of range "
						   "(4096..100000000)",
						   v);
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage_error("unknown flag '%s'", a);
		} else if (name != NULL) {
			return usage_error("one NAME only ('%s' is a second one)", a);
		} else {
			name = a;
		}
	}
	if (name == NULL)
		return usage_error("missing NAME");

	char pw[USERS_PASSWORD_MAX + 2], err[512];
	size_t len = 0;
	int rc = passwd_read(STDIN_FILENO, stderr, pw, sizeof(pw), &len, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "ternd passwd: %s\n", err);
		explicit_bzero(pw, sizeof(pw));
		return rc == EINVAL ? PASSWD_EX_DATAERR : PASSWD_EX_NOINPUT;
	}
	char *line = NULL;
	rc = passwd_make_line(name, pw, len, &opts, &line, err, sizeof(err));
	explicit_bzero(pw, sizeof(pw));
	if (rc != 0) {
		fprintf(stderr, "ternd passwd: %s\n", err);
		return rc == EINVAL ? PASSWD_EX_DATAERR : PASSWD_EX_SOFTWARE;
	}
	printf("%s\n", line);
	explicit_bzero(line, strlen(line));
	free(line);
	return fflush(stdout) == 0 ? PASSWD_EX_OK : PASSWD_EX_SOFTWARE;
}
