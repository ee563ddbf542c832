/* ternd configuration parsing; see config.h. One table drives both the
 * command line and the config file, so a flag and its key can never
 * disagree. */
#include "config.h"
#include "config_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cidr.h"

enum opt_kind {
	OPT_VALUE,  /* takes a value: --flag VALUE, --flag=VALUE, key = value */
	OPT_BOOL,   /* no value on the command line; yes/no in the file */
	OPT_ACTION, /* command line only (--help, --version, ...) */
};

struct opt {
	const char *name;
	enum opt_kind kind;
	const char *arg;   /* for --help */
	const char *help;
	int (*set)(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
};

__attribute__((format(printf, 3, 4))) int usage_fail(char *err, size_t errlen,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return TERND_EX_USAGE;
}

int set_string(char **dst, const char *value, const char *what, char *err,
		      size_t errlen)
{
	char *copy = strdup(value);
	if (copy == NULL)
		return usage_fail(err, errlen, "%s: out of memory", what);
	free(*dst);
	*dst = copy;
	return TERND_EX_OK;
}

/* Unsigned decimal, digits only (no sign, no blanks, no hex), at most max. */
int parse_uint(const char *value, uint64_t max, uint64_t *out)
{
	if (value[0] < '0' || value[0] > '9')
		return EINVAL;
	uint64_t v = 0;
	for (const char *p = value; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return ERANGE;
	*out = v;
	return 0;
}

int set_uint(unsigned *dst, const char *value, const char *what, unsigned min,
		    unsigned max, char *err, size_t errlen)
{
	uint64_t v;
	int e = parse_uint(value, max, &v);
	if (e == EINVAL)
		return usage_fail(err, errlen, "%s: '%s' is not a number", what, value);
	if (e == ERANGE || v < min)
		return usage_fail(err, errlen, "%s: '%s' is out of range (%u..%u)", what, value, min,
			    max);
	*dst = (unsigned)v;
	return TERND_EX_OK;
}

int parse_bool(const char *value, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return EINVAL;
}

/* ---- setters, one per option --------------------------------------- */

/* ADDR:PORT for every kind of listener. The library parses and resolves
 * the address when ternd starts; here only the obvious mistakes are caught
 * early. */
/* Appends a copy of value to a repeatable flag's bounded list. */
int list_append(char **list, unsigned *count, unsigned max, const char *value,
		       const char *flag, const char *what, char *err, size_t errlen)
{
	if (*count == max)
		return usage_fail(err, errlen, "%s: more than %u %s", flag, max, what);
	char *copy = strdup(value);
	if (copy == NULL)
		return usage_fail(err, errlen, "%s: out of memory", flag);
	list[(*count)++] = copy;
	return TERND_EX_OK;
}

static int add_address(char **list, unsigned *count, const char *value, const char *flag,
		       char *err, size_t errlen)
{
	if (value[0] == '\0' || strchr(value, ':') == NULL)
		return usage_fail(err, errlen, "%s: '%s' is not ADDR:PORT", flag, value);
	if (value[0] == '[' && strstr(value, "]:") == NULL)
		return usage_fail(err, errlen, "%s: '%s': IPv6 is written [ADDR]:PORT", flag, value);
	const char *port = strrchr(value, ':') + 1;
	uint64_t p;
	if (parse_uint(port, 65535, &p) != 0)
		return usage_fail(err, errlen, "%s: '%s': bad port", flag, value);
	return list_append(list, count, TERND_MAX_LISTEN, value, flag, "addresses", err, errlen);
}

static int set_listen(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return add_address(cfg->listen, &cfg->listen_count, value, "--listen", err, errlen);
}

static int set_maildir(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (value[0] == '\0')
		return usage_fail(err, errlen, "--maildir: empty path");
	return set_string(&cfg->maildir, value, "--maildir", err, errlen);
}

/* A name that goes into the greeting, EHLO and Received: a domain or an
 * address literal, no blanks or control characters (RFC 5321 4.1.2). */
static int set_hostname(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (value[0] == '\0' || strlen(value) > 255)
		return usage_fail(err, errlen, "--hostname: must be 1..255 characters");
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f)
			return usage_fail(err, errlen, "--hostname: '%s' has a blank or control character",
				    value);
	}
	return set_string(&cfg->hostname, value, "--hostname", err, errlen);
}

static int set_banner(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p < ' ' || *p == 0x7f)
			return usage_fail(err, errlen, "--banner: control characters are not allowed");
	}
	if (strlen(value) > 400)
		return usage_fail(err, errlen, "--banner: longer than 400 characters");
	return set_string(&cfg->banner, value, "--banner", err, errlen);
}

/* BYTES with an optional K, M or G suffix (powers of 1024); 0 = no limit. */
int parse_size(const char *value, const char *flag, uint64_t *out, char *err, size_t errlen)
{
	char digits[32];
	size_t len = strlen(value);
	uint64_t mult = 1;
	if (len == 0 || len >= sizeof(digits))
		return usage_fail(err, errlen, "%s: '%s' is not a size", flag, value);
	memcpy(digits, value, len + 1);
	switch (digits[len - 1]) {
	case 'k': case 'K': mult = 1024; break;
	case 'm': case 'M': mult = 1024 * 1024; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; break;
	default: break;
	}
	if (mult != 1)
		digits[--len] = '\0';
	uint64_t v;
	int e = parse_uint(digits, UINT64_MAX / mult, &v);
	if (e == EINVAL)
		return usage_fail(err, errlen, "%s: '%s' is not a size (BYTES, or with K/M/G)", flag,
				  value);
	if (e == ERANGE)
		return usage_fail(err, errlen, "%s: '%s' is too big", flag, value);
	*out = v * mult;
	return TERND_EX_OK;
}

static int set_max_size(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (parse_size(value, "--max-size", &cfg->max_size, err, errlen) != TERND_EX_OK)
		return TERND_EX_USAGE;
	cfg->max_size_set = true;
	return TERND_EX_OK;
}

/* RFC 5321 4.5.3.1.8: at least 100 recipients must be accepted; a smaller
 * limit is allowed for local policy, so only 0 is refused. */
static int set_max_recipients(struct ternd_config *cfg, const char *value, char *err,
			      size_t errlen)
{
	return set_uint(&cfg->max_recipients, value, "--max-recipients", 1, 1000000, err, errlen);
}

static int set_max_clients(struct ternd_config *cfg, const char *value, char *err,
			   size_t errlen)
{
	return set_uint(&cfg->max_clients, value, "--max-clients", 0, 10000000, err, errlen);
}

static int set_max_per_ip(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_uint(&cfg->max_per_ip, value, "--max-per-ip", 0, 10000000, err, errlen);
}

static int set_max_conn_rate(struct ternd_config *cfg, const char *value, char *err,
			     size_t errlen)
{
	return set_uint(&cfg->max_conn_rate, value, "--max-conn-rate", 0, 10000000, err, errlen);
}

static int set_max_messages_per_conn(struct ternd_config *cfg, const char *value, char *err,
				     size_t errlen)
{
	return set_uint(&cfg->max_messages_per_conn, value, "--max-messages-per-conn", 0,
			100000000, err, errlen);
}

static int set_max_rcpts_per_conn(struct ternd_config *cfg, const char *value, char *err,
				  size_t errlen)
{
	return set_uint(&cfg->max_rcpts_per_conn, value, "--max-rcpts-per-conn", 0, 100000000,
			err, errlen);
}

static int set_max_auth_failures_per_ip(struct ternd_config *cfg, const char *value, char *err,
					size_t errlen)
{
	return set_uint(&cfg->max_auth_failures_per_ip, value, "--max-auth-failures-per-ip", 0,
			10000000, err, errlen);
}

static int set_ban_seconds(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_uint(&cfg->ban_seconds, value, "--ban-seconds", 1, 366u * 86400u, err, errlen);
}

/* RFC 5321 4.5.3.1.4: a command line of 512 octets must be accepted. */
static int set_max_line_length(struct ternd_config *cfg, const char *value, char *err,
			       size_t errlen)
{
	return set_uint(&cfg->max_line_length, value, "--max-line-length", 512, 1024 * 1024,
			err, errlen);
}

/* RFC 5321 4.5.3.1.6: a text line of 1000 octets must be accepted. */
static int set_max_data_line_length(struct ternd_config *cfg, const char *value, char *err,
				    size_t errlen)
{
	return set_uint(&cfg->max_data_line_length, value, "--max-data-line-length", 1000,
			64 * 1024 * 1024, err, errlen);
}

static int set_max_bad_commands(struct ternd_config *cfg, const char *value, char *err,
				size_t errlen)
{
	return set_uint(&cfg->max_bad_commands, value, "--max-bad-commands", 1, 100000, err,
			errlen);
}

/* Seconds, stored as such; the options take milliseconds, so the ceiling
 * keeps seconds * 1000 inside an unsigned. */
#define MAX_TIMEOUT_SECONDS (7 * 24 * 3600)

static int set_idle_timeout(struct ternd_config *cfg, const char *value, char *err,
			    size_t errlen)
{
	return set_uint(&cfg->idle_timeout, value, "--idle-timeout", 1, MAX_TIMEOUT_SECONDS, err,
			errlen);
}

static int set_tls_handshake_timeout(struct ternd_config *cfg, const char *value, char *err,
				     size_t errlen)
{
	/* The library keeps milliseconds in an unsigned: an hour is plenty. */
	return set_uint(&cfg->tls_handshake_timeout, value, "--tls-handshake-timeout", 1, 3600,
			err, errlen);
}

static int set_data_timeout(struct ternd_config *cfg, const char *value, char *err,
			    size_t errlen)
{
	return set_uint(&cfg->data_timeout, value, "--data-timeout", 1, MAX_TIMEOUT_SECONDS, err,
			errlen);
}

static int set_max_junk_commands(struct ternd_config *cfg, const char *value, char *err,
				 size_t errlen)
{
	int rc = set_uint(&cfg->max_junk_commands, value, "--max-junk-commands", 0, 1000000, err,
			  errlen);
	cfg->junk_unlimited = rc == TERND_EX_OK && cfg->max_junk_commands == 0;
	return rc;
}

static int set_close_timeout(struct ternd_config *cfg, const char *value, char *err,
			     size_t errlen)
{
	return set_uint(&cfg->close_timeout, value, "--close-timeout", 1, MAX_TIMEOUT_SECONDS,
			err, errlen);
}

static int set_greeting_delay(struct ternd_config *cfg, const char *value, char *err,
			      size_t errlen)
{
	cfg->greeting_delay_set = true;
	return set_uint(&cfg->greeting_delay, value, "--greeting-delay", 0, 600000, err, errlen);
}

static int set_workers(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "auto") == 0) {
		cfg->workers = TERND_WORKERS_AUTO;
		return TERND_EX_OK;
	}
	return set_uint(&cfg->workers, value, "--workers", 1, TERND_MAX_WORKERS, err, errlen);
}

unsigned ternd_config_workers(const struct ternd_config *cfg)
{
	cpu_set_t set;
	long n = 0;

	if (cfg->workers != TERND_WORKERS_AUTO)
		return cfg->workers;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 0)
		n = 1;
	return n > TERND_MAX_WORKERS ? TERND_MAX_WORKERS : (unsigned)n;
}

/* ---- TLS and authentication ------------------------------------------ */

static int add_path(char **list, unsigned *count, const char *value, const char *flag,
		    char *err, size_t errlen)
{
	if (value[0] == '\0')
		return usage_fail(err, errlen, "%s: empty path", flag);
	return list_append(list, count, TERND_MAX_TLS_CERTS, value, flag, "files", err, errlen);
}

static int set_tls_cert(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return add_path(cfg->tls_cert, &cfg->tls_cert_count, value, "--tls-cert", err, errlen);
}

static int set_tls_key(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return add_path(cfg->tls_key, &cfg->tls_key_count, value, "--tls-key", err, errlen);
}

static int set_tls_listen(struct ternd_config *cfg, const char *value, char *err,
			  size_t errlen)
{
	return add_address(cfg->tls_listen, &cfg->tls_listen_count, value, "--tls-listen", err,
			   errlen);
}

static int set_submission(struct ternd_config *cfg, const char *value, char *err,
			  size_t errlen)
{
	return add_address(cfg->submission, &cfg->submission_count, value, "--submission", err,
			   errlen);
}

static int set_users(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (value[0] == '\0')
		return usage_fail(err, errlen, "--users: empty path");
	return set_string(&cfg->users_file, value, "--users", err, errlen);
}

static int set_tls_client_ca(struct ternd_config *cfg, const char *value, char *err,
			     size_t errlen)
{
	if (value[0] == '\0')
		return usage_fail(err, errlen, "--tls-client-ca: empty path");
	return set_string(&cfg->tls_client_ca, value, "--tls-client-ca", err, errlen);
}

/* A login name; whether it exists is asked when ternd starts (and by
 * --check-config), not here: parsing does no I/O. */
static int set_user(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (value[0] == '\0' || strlen(value) > 64)
		return usage_fail(err, errlen, "--user: must be 1..64 characters");
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == ':' || *p == '/')
			return usage_fail(err, errlen, "--user: '%s' is not a user name", value);
	}
	return set_string(&cfg->user, value, "--user", err, errlen);
}

static int set_state_dir(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (value[0] == '\0')
		return usage_fail(err, errlen, "--state-dir: empty path");
	return set_string(&cfg->state_dir, value, "--state-dir", err, errlen);
}


/* --proxy-from, --xclient-from, --xforward-from, --abuse-exempt:
 * NETWORK[,NETWORK...], each an address or ADDRESS/PREFIX, checked here
 * (the library parses them again) so that a typo stops ternd with the bad
 * item named. */
int add_networks(char **list, unsigned *count, unsigned max, const char *flag,
			const char *value, char *err, size_t errlen)
{
	const char *p = value;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		struct tern__cidr net;

		if (tern__cidr_parse(&net, p, len) != 0)
			return usage_fail(err, errlen,
					  "%s: '%.*s' is not a network (ADDRESS or ADDRESS/PREFIX)",
					  flag, (int)len, p);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return list_append(list, count, max, value, flag, "entries", err, errlen);
}

static int set_xclient_from(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return add_networks(cfg->xclient_from, &cfg->xclient_from_count, TERND_MAX_XCLIENT_FROM,
			    "--xclient-from", value,
			    err, errlen);
}

static int set_xforward_from(struct ternd_config *cfg, const char *value, char *err,
			     size_t errlen)
{
	return add_networks(cfg->xforward_from, &cfg->xforward_from_count, TERND_MAX_XCLIENT_FROM,
			    "--xforward-from",
			    value, err, errlen);
}

static int set_proxy_from(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return add_networks(cfg->proxy_from, &cfg->proxy_from_count, TERND_MAX_PROXY_FROM,
			    "--proxy-from", value, err, errlen);
}

static int set_abuse_exempt(struct ternd_config *cfg, const char *value, char *err,
			    size_t errlen)
{
	return add_networks(cfg->abuse_exempt, &cfg->abuse_exempt_count, TERND_MAX_XCLIENT_FROM,
			    "--abuse-exempt", value,
			    err, errlen);
}

/* Indexed by bit number; also the order of --check-config's output. */
static const char *const auth_method_names[TERND_AUTH_METHOD_COUNT] = {
	"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
	"XOAUTH2", "OAUTHBEARER", "EXTERNAL",
};

const char *ternd_auth_method_name(unsigned method)
{
	for (unsigned i = 0; i < TERND_AUTH_METHOD_COUNT; i++) {
		if (method == 1u << i)
			return auth_method_names[i];
	}
	return NULL;
}

/* A comma list, blanks allowed around the commas. A name given twice is
 * refused rather than ignored: it is a typo more often than not. */
static int set_auth_methods(struct ternd_config *cfg, const char *value, char *err,
			    size_t errlen)
{
	unsigned mask = 0;
	const char *p = value;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t len = strcspn(p, ",");
		size_t nlen = len;
		while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
			nlen--;
		if (nlen == 0)
			return usage_fail(err, errlen, "--auth-methods: '%s': empty method name", value);
		unsigned bit = 0;
		for (unsigned i = 0; i < TERND_AUTH_METHOD_COUNT; i++) {
			if (strlen(auth_method_names[i]) == nlen &&
			    strncasecmp(p, auth_method_names[i], nlen) == 0)
				bit = 1u << i;
		}
		if (bit == 0)
			return usage_fail(err, errlen,
				    "--auth-methods: unknown method '%.*s' (PLAIN, LOGIN, CRAM-MD5, "
				    "SCRAM-SHA-256, SCRAM-SHA-256-PLUS, XOAUTH2, OAUTHBEARER, EXTERNAL)",
				    (int)nlen, p);
		if (mask & bit)
			return usage_fail(err, errlen, "--auth-methods: '%s' is listed twice",
				    ternd_auth_method_name(bit));
		mask |= bit;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	cfg->auth_methods = mask;
	return TERND_EX_OK;
}

const char *ternd_tls_version_name(enum ternd_tls_version v)
{
	return v == TERND_TLS_1_3 ? "1.3" : "1.2";
}

/* TLS 1.0 and 1.1 are deprecated (RFC 8996): 1.2 is the floor. */
static int set_tls_min_version(struct ternd_config *cfg, const char *value, char *err,
			       size_t errlen)
{
	if (strcmp(value, "1.2") == 0)
		cfg->tls_min_version = TERND_TLS_1_2;
	else if (strcmp(value, "1.3") == 0)
		cfg->tls_min_version = TERND_TLS_1_3;
	else
		return usage_fail(err, errlen, "--tls-min-version: '%s' is not 1.2 or 1.3", value);
	return TERND_EX_OK;
}

/* OpenSSL judges the names when ternd loads them; this catches what can
 * never be a cipher string (empty, blanks, control characters). */
static int set_cipher_string(char **dst, const char *value, const char *flag, char *err,
			     size_t errlen)
{
	if (value[0] == '\0')
		return usage_fail(err, errlen, "%s: empty list", flag);
	if (strlen(value) > 4096)
		return usage_fail(err, errlen, "%s: longer than 4096 characters", flag);
	for (const unsigned char *c = (const unsigned char *)value; *c != '\0'; c++) {
		if (*c <= ' ' || *c >= 0x7f)
			return usage_fail(err, errlen, "%s: '%s' has a blank or control character", flag,
				    value);
	}
	return set_string(dst, value, flag, err, errlen);
}

static int set_tls_ciphers(struct ternd_config *cfg, const char *value, char *err,
			   size_t errlen)
{
	return set_cipher_string(&cfg->tls_ciphers, value, "--tls-ciphers", err, errlen);
}

static int set_tls_ciphersuites(struct ternd_config *cfg, const char *value, char *err,
				size_t errlen)
{
	return set_cipher_string(&cfg->tls_ciphersuites, value, "--tls-ciphersuites", err,
				 errlen);
}

static int set_max_auth_failures(struct ternd_config *cfg, const char *value, char *err,
				 size_t errlen)
{
	return set_uint(&cfg->max_auth_failures, value, "--max-auth-failures", 1, 1000, err,
			errlen);
}

static int set_hash_threads(struct ternd_config *cfg, const char *value, char *err,
			    size_t errlen)
{
	return set_uint(&cfg->hash_threads, value, "--hash-threads", 1, TERND_MAX_HASH_THREADS,
			err, errlen);
}

static int set_allow_insecure_auth(struct ternd_config *cfg, const char *value, char *err,
				   size_t errlen)
{
	return parse_bool(value, &cfg->allow_insecure_auth) == 0 ? TERND_EX_OK : TERND_EX_USAGE;
}

static int set_require_auth(struct ternd_config *cfg, const char *value, char *err,
			    size_t errlen)
{
	return parse_bool(value, &cfg->require_auth) == 0 ? TERND_EX_OK : TERND_EX_USAGE;
}

static int set_require_tls(struct ternd_config *cfg, const char *value, char *err,
			   size_t errlen)
{
	return parse_bool(value, &cfg->require_tls) == 0 ? TERND_EX_OK : TERND_EX_USAGE;
}

static const char *const level_names[] = {"error", "warning", "info", "debug"};

const char *ternd_log_level_name(enum tern_smtp_log_level level)
{
	return (unsigned)level < 4 ? level_names[level] : "debug";
}

static int set_log_level(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	for (unsigned i = 0; i < 4; i++) {
		if (strcasecmp(value, level_names[i]) == 0) {
			cfg->log_level = (enum tern_smtp_log_level)i;
			return TERND_EX_OK;
		}
	}
	if (strcasecmp(value, "warn") == 0) {
		cfg->log_level = TERN_LOG_WARNING;
		return TERND_EX_OK;
	}
	return usage_fail(err, errlen, "--log-level: '%s' is not error, warning, info or debug", value);
}

static int set_bare_newline(struct ternd_config *cfg, const char *value, char *err,
			    size_t errlen)
{
	if (strcasecmp(value, "normalize") == 0)
		cfg->bare_newline = TERN_SMTP_BARE_NEWLINE_NORMALIZE;
	else if (strcasecmp(value, "reject") == 0)
		cfg->bare_newline = TERN_SMTP_BARE_NEWLINE_REJECT;
	else
		return usage_fail(err, errlen, "--bare-newline: '%s' is not normalize or reject", value);
	return TERND_EX_OK;
}

static int set_config(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (value[0] == '\0')
		return usage_fail(err, errlen, "--config: empty path");
	return set_string(&cfg->config_file, value, "--config", err, errlen);
}

/* Booleans receive "yes" or "no" already checked. */
static int set_lmtp(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return parse_bool(value, &cfg->lmtp) == 0 ? TERND_EX_OK : TERND_EX_USAGE;
}

static int set_discard(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return parse_bool(value, &cfg->discard) == 0 ? TERND_EX_OK : TERND_EX_USAGE;
}

static int set_no_received(struct ternd_config *cfg, const char *value, char *err,
			   size_t errlen)
{
	return parse_bool(value, &cfg->no_received_header) == 0 ? TERND_EX_OK : TERND_EX_USAGE;
}

static int set_no_reverse_dns(struct ternd_config *cfg, const char *value, char *err,
			      size_t errlen)
{
	return parse_bool(value, &cfg->no_reverse_dns) == 0 ? TERND_EX_OK : TERND_EX_USAGE;
}

/* A numeric address, then @PORT if given: what the resolver forwards to. */
static int set_dns_server(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned char bytes[16];
	const char *at = strchr(value, '@');
	size_t len = at ? (size_t)(at - value) : strlen(value);
	unsigned port = 0;

	if (len == 0 || len >= sizeof(addr))
		return usage_fail(err, errlen, "--dns-server: '%s' is not ADDR or ADDR@PORT", value);
	memcpy(addr, value, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, bytes) != 1 && inet_pton(AF_INET6, addr, bytes) != 1)
		return usage_fail(err, errlen, "--dns-server: '%s' is not a numeric address", addr);
	if (at != NULL && set_uint(&port, at + 1, "--dns-server port", 1, 65535, err, errlen) !=
				  TERND_EX_OK)
		return TERND_EX_USAGE;
	return set_string(&cfg->dns_server, value, "--dns-server", err, errlen);
}

static int set_dns_timeout(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_uint(&cfg->dns_timeout, value, "--dns-timeout", 1, 600000, err, errlen);
}

/* ADDR:PORT; whether it is loopback is checked with the other settings
 * (ternd_config_check), after --metrics-allow-remote is known. */
static int set_metrics(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	char host[64];
	unsigned port;
	int loopback;

	if (ternd_metrics_addr(value, host, sizeof(host), &port, &loopback, err, errlen) != 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", err);
		return usage_fail(err, errlen, "--metrics: %s", why);
	}
	return set_string(&cfg->metrics, value, "--metrics", err, errlen);
}

int ternd_metrics_addr(const char *addr_port, char *host, size_t host_size, unsigned *port_r,
		       int *loopback_r, char *err, size_t errlen)
{
	const char *colon = strrchr(addr_port, ':');
	const char *h = addr_port;
	size_t hlen;
	unsigned char bytes[16];
	unsigned long port;
	char *end;

	if (colon == NULL || colon[1] == '\0') {
		snprintf(err, errlen, "'%s' is not ADDR:PORT", addr_port);
		return -1;
	}
	hlen = (size_t)(colon - addr_port);
	if (h[0] == '[') {
		if (hlen < 2 || h[hlen - 1] != ']') {
			snprintf(err, errlen, "'%s': IPv6 is written [ADDR]:PORT", addr_port);
			return -1;
		}
		h++;
		hlen -= 2;
	} else if (memchr(h, ':', hlen) != NULL) {
		snprintf(err, errlen, "'%s': IPv6 is written [ADDR]:PORT", addr_port);
		return -1;
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] < '0' || colon[1] > '9' || port > 65535 || errno != 0) {
		snprintf(err, errlen, "'%s': bad port", addr_port);
		return -1;
	}
	if (hlen == 9 && strncmp(h, "localhost", 9) == 0) {
		h = "127.0.0.1";
		hlen = 9;
	}
	if (hlen == 0 || hlen >= host_size) {
		snprintf(err, errlen, "'%s': bad address", addr_port);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, bytes) == 1) {
		*loopback_r = bytes[0] == 127;
	} else if (inet_pton(AF_INET6, host, bytes) == 1) {
		*loopback_r = memcmp(bytes, &in6addr_loopback, 16) == 0;
	} else {
		snprintf(err, errlen, "'%s': the address must be numeric (or localhost)", addr_port);
		return -1;
	}
	*port_r = (unsigned)port;
	return 0;
}

static int set_metrics_allow_remote(struct ternd_config *cfg, const char *value, char *err,
				    size_t errlen)
{
	return parse_bool(value, &cfg->metrics_allow_remote) == 0 ? TERND_EX_OK : TERND_EX_USAGE;
}

static int set_log_format(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (strcasecmp(value, "text") == 0)
		cfg->log_kv = false;
	else if (strcasecmp(value, "kv") == 0)
		cfg->log_kv = true;
	else
		return usage_fail(err, errlen, "--log-format: '%s' is not text or kv", value);
	return TERND_EX_OK;
}

static int set_syslog(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return parse_bool(value, &cfg->log_syslog) == 0 ? TERND_EX_OK : TERND_EX_USAGE;
}

static int set_help(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	cfg->help = true;
	return TERND_EX_OK;
}

static int set_version(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	cfg->version = true;
	return TERND_EX_OK;
}

static int set_check_config(struct ternd_config *cfg, const char *value, char *err,
			    size_t errlen)
{
	cfg->check_config = true;
	return TERND_EX_OK;
}

static const struct opt options[] = {
	{"listen", OPT_VALUE, "ADDR:PORT",
	 "listen here; repeatable; IPv6 as [::1]:2525 (default " TERND_DEFAULT_LISTEN ")",
	 set_listen},
	{"maildir", OPT_VALUE, "DIR", "store mail in DIR/<recipient>/ (default " TERND_DEFAULT_MAILDIR
	 ")", set_maildir},
	{"hostname", OPT_VALUE, "NAME", "name in greeting, EHLO and Received: (default: host name)",
	 set_hostname},
	{"banner", OPT_VALUE, "TEXT", "text after \"220 NAME ESMTP\" in the greeting", set_banner},
	{"max-size", OPT_VALUE, "BYTES", "message size limit, K/M/G suffixes, 0 = none (default 25M)",
	 set_max_size},
	{"max-recipients", OPT_VALUE, "N", "recipients per message (default 100)",
	 set_max_recipients},
	{"max-clients", OPT_VALUE, "N", "simultaneous connections, 0 = unlimited (default 0)",
	 set_max_clients},
	{"max-per-ip", OPT_VALUE, "N",
	 "simultaneous connections per client address (IPv6: per /64), 0 = none (default 100)",
	 set_max_per_ip},
	{"max-conn-rate", OPT_VALUE, "N",
	 "connections per client address per minute, 0 = none (default 0)", set_max_conn_rate},
	{"max-messages-per-conn", OPT_VALUE, "N",
	 "messages (MAIL FROM) per connection, 0 = none (default 1000)",
	 set_max_messages_per_conn},
	{"max-rcpts-per-conn", OPT_VALUE, "N",
	 "recipients per connection over all its messages, 0 = none (default 10000)",
	 set_max_rcpts_per_conn},
	{"max-auth-failures-per-ip", OPT_VALUE, "N",
	 "failed AUTH per client address in 10 minutes before a ban, 0 = none (default 10)",
	 set_max_auth_failures_per_ip},
	{"ban-seconds", OPT_VALUE, "SECONDS",
	 "how long a ban for failed AUTH lasts (default 600)", set_ban_seconds},
	{"max-line-length", OPT_VALUE, "N", "command line length incl. CRLF (default 2048)",
	 set_max_line_length},
	{"max-data-line-length", OPT_VALUE, "N", "message line length incl. CRLF (default 1000)",
	 set_max_data_line_length},
	{"max-bad-commands", OPT_VALUE, "N", "bad commands before disconnect (default 10)",
	 set_max_bad_commands},
	{"max-junk-commands", OPT_VALUE, "N",
	 "NOOP/RSET/VRFY/HELP without a message before disconnect, 0 = no limit (default 100)",
	 set_max_junk_commands},
	{"idle-timeout", OPT_VALUE, "SECONDS", "idle time allowed to a client (default 300)",
	 set_idle_timeout},
	{"data-timeout", OPT_VALUE, "SECONDS",
	 "idle time inside DATA/BDAT (default: --idle-timeout, else 180)", set_data_timeout},
	{"close-timeout", OPT_VALUE, "SECONDS",
	 "on SIGTERM, time sessions get to finish (default 30)", set_close_timeout},
	{"greeting-delay", OPT_VALUE, "MS",
	 "wait before the greeting; clients that talk first are refused (default 0)",
	 set_greeting_delay},
	{"workers", OPT_VALUE, "N|auto",
	 "event loop threads (default auto: one per CPU ternd may run on)", set_workers},
	{"lmtp", OPT_BOOL, NULL, "speak LMTP (RFC 2033): one reply per recipient", set_lmtp},
	{"discard", OPT_BOOL, NULL, "read every message and drop it (benchmarks)", set_discard},
	{"no-received-header", OPT_BOOL, NULL, "do not prepend a Received: header",
	 set_no_received},
	{"no-reverse-dns", OPT_BOOL, NULL,
	 "name clients by their address only (no PTR and forward-confirming lookups)",
	 set_no_reverse_dns},
	{"dns-server", OPT_VALUE, "ADDR[@PORT]",
	 "send every DNS query to this server (default: /etc/resolv.conf)", set_dns_server},
	{"auth-checks", OPT_VALUE, "yes|no|always",
	 "SPF, DKIM and DMARC on inbound mail: yes = from clients that are not local, trusted or "
	 "authenticated (default), always = every message", set_auth_checks},
	{"dmarc-policy", OPT_VALUE, "enforce|quarantine|annotate",
	 "what a DMARC failure does: enforce the domain's policy (p=reject: 550 5.7.1, "
	 "p=quarantine: the Junk folder; default), quarantine both, or only annotate",
	 set_dmarc_policy},
	{"authserv-id", OPT_VALUE, "NAME",
	 "our name in Authentication-Results (default: --hostname or the host name)",
	 set_authserv_id},
	{"dns-timeout", OPT_VALUE, "MS",
	 "time a client's reverse lookup may take before the greeting (default 5000)",
	 set_dns_timeout},
	{"bare-newline", OPT_VALUE, "normalize|reject",
	 "bare CR or LF in DATA: turn into CRLF, or refuse the message (default normalize)",
	 set_bare_newline},
	{"log-level", OPT_VALUE, "LEVEL", "error, warning, info or debug (default info)",
	 set_log_level},
	{"tls-listen", OPT_VALUE, "ADDR:PORT",
	 "implicit TLS listener (465 style), AUTH required; repeatable", set_tls_listen},
	{"submission", OPT_VALUE, "ADDR:PORT",
	 "submission listener (587 style): STARTTLS, then TLS and AUTH before MAIL; repeatable",
	 set_submission},
	{"tls-cert", OPT_VALUE, "FILE",
	 "PEM certificate chain; repeatable, pairs with --tls-key (first = default, others by SNI)",
	 set_tls_cert},
	{"tls-key", OPT_VALUE, "FILE", "PEM private key of the --tls-cert in the same position",
	 set_tls_key},
	{"tls-min-version", OPT_VALUE, "1.2|1.3", "oldest TLS version accepted (default 1.2)",
	 set_tls_min_version},
	{"tls-ciphers", OPT_VALUE, "LIST", "OpenSSL cipher list for TLS 1.2 (default OpenSSL's)",
	 set_tls_ciphers},
	{"tls-ciphersuites", OPT_VALUE, "LIST",
	 "OpenSSL ciphersuites for TLS 1.3 (default OpenSSL's)", set_tls_ciphersuites},
	{"tls-handshake-timeout", OPT_VALUE, "SECONDS",
	 "time a client gets to finish a TLS handshake (default 60)", set_tls_handshake_timeout},
	{"tls-client-ca", OPT_VALUE, "FILE",
	 "ask clients for a certificate and verify it against these CAs (PEM; for EXTERNAL)",
	 set_tls_client_ca},
	{"require-tls", OPT_BOOL, NULL, "--listen listeners: TLS (STARTTLS) before MAIL",
	 set_require_tls},
	{"users", OPT_VALUE, "FILE", "users and password hashes for AUTH (see docs/users.md)",
	 set_users},
	{"auth-methods", OPT_VALUE, "LIST",
	 "SASL mechanisms offered, comma list (default PLAIN,LOGIN,SCRAM-SHA-256,"
	 "SCRAM-SHA-256-PLUS)",
	 set_auth_methods},
	{"require-auth", OPT_BOOL, NULL, "--listen listeners: AUTH before MAIL", set_require_auth},
	{"allow-insecure-auth", OPT_BOOL, NULL, "offer AUTH without TLS too (testing only)",
	 set_allow_insecure_auth},
	{"max-auth-failures", OPT_VALUE, "N", "failed AUTH attempts before disconnect (default 3)",
	 set_max_auth_failures},
	{"hash-threads", OPT_VALUE, "N", "threads checking password hashes (default 2)",
	 set_hash_threads},
	{"state-dir", OPT_VALUE, "DIR",
	 "generated files, such as a self-signed certificate (default " TERND_DEFAULT_STATE_DIR ")",
	 set_state_dir},
	{"user", OPT_VALUE, "NAME",
	 "after binding the listeners, run as this user (its uid, gid and groups); needs root",
	 set_user},
	{"proxy-from", OPT_VALUE, "CIDR[,CIDR...]",
	 "connections from these networks begin with a PROXY header (HAProxy v1/v2); repeatable",
	 set_proxy_from},
	{"xclient-from", OPT_VALUE, "CIDR[,CIDR...]",
	 "clients from these networks may use XCLIENT (Postfix's) to name another client; "
	 "repeatable",
	 set_xclient_from},
	{"xforward-from", OPT_VALUE, "CIDR[,CIDR...]",
	 "clients from these networks may use XFORWARD (Postfix's); repeatable",
	 set_xforward_from},
	{"abuse-exempt", OPT_VALUE, "CIDR[,CIDR...]",
	 "networks the abuse limits never refuse (monitoring, own relays); repeatable",
	 set_abuse_exempt},
	{"mta-sts-listen", OPT_VALUE, "ADDR:PORT",
	 "serve the MTA-STS policies of `ternd domain add` over HTTPS here (GET "
	 "/.well-known/mta-sts.txt, host mta-sts.DOMAIN chosen by SNI; see docs/domains.md)",
	 set_mta_sts_listen},
	{"metrics", OPT_VALUE, "ADDR:PORT",
	 "serve GET /metrics (Prometheus text format) over HTTP here; loopback only unless "
	 "--metrics-allow-remote",
	 set_metrics},
	{"metrics-allow-remote", OPT_BOOL, NULL,
	 "let --metrics listen on an address other than loopback (counters are not secret, "
	 "but not for everyone)",
	 set_metrics_allow_remote},
	{"log-format", OPT_VALUE, "text|kv",
	 "log lines as today's text, or as key=value (ts= level= session= msg=\"...\"); default text",
	 set_log_format},
	{"syslog", OPT_BOOL, NULL, "send log lines to syslog (facility mail) instead of stderr",
	 set_syslog},
	{"domain", OPT_VALUE, "NAME[,NAME...]",
	 "local domain: its mail is delivered here, everything else relayed (only for "
	 "authenticated clients and --relay-from); repeatable",
	 set_domain},
	{"relay-from", OPT_VALUE, "CIDR[,CIDR...]",
	 "networks whose clients may relay without AUTH (never an open relay); repeatable",
	 set_relay_from},
	{"relayhost", OPT_VALUE, "HOST[:PORT]",
	 "send every relayed message through this smarthost ([HOST]:PORT: no MX lookup)",
	 set_relayhost},
	{"relayhost-tls", OPT_VALUE, "may|require",
	 "STARTTLS to the relayhost when offered, or required with a verified certificate "
	 "(default may)",
	 set_relayhost_tls},
	{"relayhost-ca", OPT_VALUE, "FILE", "CAs that verify the relayhost (default: the system's)",
	 set_relayhost_ca},
	{"relayhost-auth", OPT_VALUE, "FILE",
	 "a file holding USER:PASSWORD for AUTH to the relayhost (keep it mode 0600)",
	 set_relayhost_auth},
	{"lmtp-to", OPT_VALUE, "ADDR:PORT|/PATH",
	 "deliver the local domains' mail to this LMTP server (Dovecot) instead of the Maildir",
	 set_lmtp_to},
	{"max-queue-size", OPT_VALUE, "BYTES",
	 "refuse relayed mail (452 4.3.1) when the queue holds this much, K/M/G; 0 = no limit",
	 set_max_queue_size},
	{"dest-concurrency", OPT_VALUE, "N", "connections per destination domain (default 20)",
	 set_dest_concurrency},
	{"dest-rate", OPT_VALUE, "N/min", "messages per minute per destination, 0 = no limit",
	 set_dest_rate},
	{"queue-lifetime", OPT_VALUE, "DURATION",
	 "give up (and bounce) after this long, s/m/h/d (default 5d)", set_queue_lifetime},
	{"delay-warning", OPT_VALUE, "DURATION",
	 "send a delay DSN after this long, 0 = never (default 4h)", set_delay_warning},
	{"min-backoff", OPT_VALUE, "DURATION", "first retry delay (default 300s)", set_min_backoff},
	{"max-backoff", OPT_VALUE, "DURATION", "longest retry delay (default 4000s)",
	 set_max_backoff},
	{"smtp-port", OPT_VALUE, "PORT", "port of the MX hosts mail is relayed to (default 25)",
	 set_smtp_port},
	{"smtp-tls", OPT_VALUE, "may|none|verify",
	 "STARTTLS to MX hosts: when offered, never, or required and verified (default may)",
	 set_smtp_tls},
	{"smtp-ca", OPT_VALUE, "FILE",
	 "CAs that verify MX hosts (--smtp-tls verify, REQUIRETLS); default: the system's",
	 set_smtp_ca},
	{"dane", OPT_VALUE, "yes|no",
	 "DANE (RFC 7672) to MX hosts with DNSSEC-signed TLSA records (default yes)", set_dane},
	{"mta-sts", OPT_VALUE, "yes|no",
	 "MTA-STS (RFC 8461) policies of recipient domains (default yes)", set_mta_sts},
	{"dns-trust-anchor", OPT_VALUE, "FILE",
	 "DNSSEC trust anchors (DS/DNSKEY records), e.g. /usr/share/dns/root.key when the "
	 "resolvers pass DNSSEC data (default none: no validation, DANE never applies)",
	 set_dns_trust_anchor},
	{"config", OPT_ACTION, "FILE", "read settings from FILE first (key = value lines)",
	 set_config},
	{"check-config", OPT_ACTION, NULL,
	 "report every problem (exit 64), else print the effective configuration and exit",
	 set_check_config},
	{"help", OPT_ACTION, NULL, "show this help and exit", set_help},
	{"version", OPT_ACTION, NULL, "show the version and exit", set_version},
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

/* Finds an option by name; len bytes of name are compared and '_' matches
 * '-' so config files may use either. */
static const struct opt *find_option(const char *name, size_t len)
{
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const char *o = options[i].name;
		if (strlen(o) != len)
			continue;
		size_t k = 0;
		while (k < len && (o[k] == name[k] || (o[k] == '-' && name[k] == '_')))
			k++;
		if (k == len)
			return &options[i];
	}
	return NULL;
}

static bool takes_value_on_cmdline(const struct opt *o)
{
	return o->kind == OPT_VALUE || (o->kind == OPT_ACTION && o->arg != NULL);
}

/* ---- problems --------------------------------------------------------- */

void ternd_config_problem(struct ternd_config *cfg, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char **grown = realloc(cfg->problems, (cfg->problem_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		cfg->problem_count++; /* counted, so the check still fails */
		return;
	}
	cfg->problems = grown;
	cfg->problems[cfg->problem_count++] = strdup(msg);
}

/* A usage problem stops parsing, unless problems are being collected: then
 * it is recorded and parsing goes on. Other errors (out of memory) stop it
 * either way. */
static int keep_going(struct ternd_config *cfg, int rc, const char *err)
{
	if (rc != TERND_EX_USAGE || !cfg->collect_problems)
		return rc;
	ternd_config_problem(cfg, "%s", err);
	return TERND_EX_OK;
}

/* ---- config file ------------------------------------------------------ */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

/* One "key = value" line (comments already allowed for). */
static int parse_line(struct ternd_config *cfg, char *line, const char *name, unsigned lineno,
		      char *err, size_t errlen)
{
	char *p = trim(line);
	if (*p == '\0' || *p == '#')
		return TERND_EX_OK;
	char *eq = strchr(p, '=');
	if (eq == NULL)
		return usage_fail(err, errlen, "%s:%u: expected 'key = value'", name, lineno);
	*eq = '\0';
	char *key = trim(p);
	char *value = trim(eq + 1);

	/* A value in double quotes keeps '#' and outer blanks; otherwise a '#'
	 * after a blank starts a comment. */
	if (*value == '"') {
		char *end = strchr(value + 1, '"');
		if (end == NULL)
			return usage_fail(err, errlen, "%s:%u: unterminated quote", name, lineno);
		char *rest = trim(end + 1);
		if (*rest != '\0' && *rest != '#')
			return usage_fail(err, errlen, "%s:%u: text after the closing quote", name, lineno);
		*end = '\0';
		value++;
	} else {
		for (char *c = value; *c != '\0'; c++) {
			if (*c == '#' && (c == value || c[-1] == ' ' || c[-1] == '\t')) {
				*c = '\0';
				break;
			}
		}
		value = trim(value);
	}

	const struct opt *o = find_option(key, strlen(key));
	if (o == NULL)
		return usage_fail(err, errlen, "%s:%u: unknown key '%s'", name, lineno, key);
	if (o->kind == OPT_ACTION)
		return usage_fail(err, errlen, "%s:%u: '%s' is a command-line flag only", name, lineno,
			    key);
	if (o->kind == OPT_BOOL) {
		bool b;
		if (parse_bool(value, &b) != 0)
			return usage_fail(err, errlen, "%s:%u: %s: '%s' is not yes or no", name, lineno,
				    o->name, value);
		value = b ? "yes" : "no";
	}
	char sub[512];
	int rc = o->set(cfg, value, sub, sizeof(sub));
	if (rc != TERND_EX_OK)
		return usage_fail(err, errlen, "%s:%u: %s", name, lineno, sub);
	return TERND_EX_OK;
}

int ternd_config_parse_text(struct ternd_config *cfg, const char *text, const char *name,
			    char *err, size_t errlen)
{
	unsigned lineno = 0;
	const char *p = text;
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char *line = malloc(len + 1);
		if (line == NULL)
			return usage_fail(err, errlen, "%s: out of memory", name);
		memcpy(line, p, len);
		line[len] = '\0';
		lineno++;
		int rc = TERND_EX_OK;
		if (memchr(p, '\0', len) != NULL)
			rc = usage_fail(err, errlen, "%s:%u: NUL byte", name, lineno);
		else
			rc = parse_line(cfg, line, name, lineno, err, errlen);
		free(line);
		if ((rc = keep_going(cfg, rc, err)) != TERND_EX_OK)
			return rc;
		p += len;
		if (*p == '\n')
			p++;
	}
	return TERND_EX_OK;
}

/* Config files are small; a megabyte is a mistake (or not a config file). */
#define CONFIG_FILE_MAX (1024 * 1024)

static int parse_file(struct ternd_config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "--config: cannot read %s: %s", path, strerror(errno));
		return TERND_EX_NOINPUT;
	}
	char *text = malloc(CONFIG_FILE_MAX + 1);
	if (text == NULL) {
		fclose(f);
		return usage_fail(err, errlen, "--config: out of memory");
	}
	size_t len = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	int read_err = ferror(f);
	fclose(f);
	int rc;
	if (read_err) {
		snprintf(err, errlen, "--config: cannot read %s", path);
		rc = TERND_EX_NOINPUT;
	} else if (len > CONFIG_FILE_MAX) {
		rc = usage_fail(err, errlen, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
	} else if (memchr(text, '\0', len) != NULL) {
		rc = usage_fail(err, errlen, "%s: not a text file (NUL byte)", path);
	} else {
		text[len] = '\0';
		rc = ternd_config_parse_text(cfg, text, path, err, errlen);
	}
	free(text);
	return rc;
}

/* ---- command line ----------------------------------------------------- */

/* Splits argv[*i] into option and value. Returns the option or NULL with an
 * error set; *value_r is NULL for booleans and actions without a value. */
static const struct opt *next_arg(int argc, char *const *argv, int *i, const char **value_r,
				  int *rc, char *err, size_t errlen)
{
	const char *arg = argv[*i];
	*value_r = NULL;
	*rc = TERND_EX_OK;
	if (strcmp(arg, "-h") == 0)
		arg = "--help";
	else if (strcmp(arg, "-V") == 0)
		arg = "--version";
	if (arg[0] != '-' || arg[1] != '-' || arg[2] == '\0') {
		*rc = usage_fail(err, errlen, "unexpected argument '%s'", arg);
		return NULL;
	}
	const char *name = arg + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
	const struct opt *o = find_option(name, len);
	if (o == NULL || memchr(name, '_', len) != NULL) {
		*rc = usage_fail(err, errlen, "unknown flag '--%.*s'", (int)len, name);
		return NULL;
	}
	if (takes_value_on_cmdline(o)) {
		if (eq != NULL) {
			*value_r = eq + 1;
		} else if (*i + 1 < argc) {
			*value_r = argv[++*i];
		} else {
			*rc = usage_fail(err, errlen, "--%s needs a value (%s)", o->name, o->arg);
			return NULL;
		}
	} else if (eq != NULL) {
		bool b;
		if (o->kind != OPT_BOOL || parse_bool(eq + 1, &b) != 0) {
			*rc = usage_fail(err, errlen, "--%s takes no value", o->name);
			return NULL;
		}
		*value_r = b ? "yes" : "no";
	}
	return o;
}

void clear_list(char **list, unsigned *count)
{
	for (unsigned i = 0; i < *count; i++) {
		free(list[i]);
		list[i] = NULL;
	}
	*count = 0;
}

static void clear_listen(struct ternd_config *cfg)
{
	clear_list(cfg->listen, &cfg->listen_count);
}

/* The lists a command-line flag replaces instead of extending the file's.
 * Certificates and keys are one list of pairs: either flag replaces both,
 * or a file's pair could end up with a key from the command line. */
static void clear_list_of(struct ternd_config *cfg, const struct opt *o)
{
	if (o->set == set_xclient_from)
		clear_list(cfg->xclient_from, &cfg->xclient_from_count);
	if (o->set == set_xforward_from)
		clear_list(cfg->xforward_from, &cfg->xforward_from_count);
	if (o->set == set_abuse_exempt)
		clear_list(cfg->abuse_exempt, &cfg->abuse_exempt_count);
	if (o->set == set_listen)
		clear_listen(cfg);
	else if (o->set == set_tls_listen)
		clear_list(cfg->tls_listen, &cfg->tls_listen_count);
	else if (o->set == set_submission)
		clear_list(cfg->submission, &cfg->submission_count);
	else if (o->set == set_tls_cert || o->set == set_tls_key) {
		clear_list(cfg->tls_cert, &cfg->tls_cert_count);
		clear_list(cfg->tls_key, &cfg->tls_key_count);
	} else if (o->set == set_proxy_from)
		clear_list(cfg->proxy_from, &cfg->proxy_from_count);
	else if (o->set == set_domain)
		clear_list(cfg->domains, &cfg->domain_count);
	else if (o->set == set_relay_from)
		clear_list(cfg->relay_from, &cfg->relay_from_count);
}

/* Which replaceable list a flag belongs to (0: none); cert and key share one. */
static unsigned list_group(const struct opt *o)
{
	if (o->set == set_xclient_from)
		return 6;
	if (o->set == set_xforward_from)
		return 7;
	if (o->set == set_abuse_exempt)
		return 8;
	if (o->set == set_listen)
		return 1;
	if (o->set == set_tls_listen)
		return 2;
	if (o->set == set_submission)
		return 3;
	if (o->set == set_tls_cert || o->set == set_tls_key)
		return 4;
	if (o->set == set_proxy_from)
		return 5;
	if (o->set == set_domain)
		return 9;
	if (o->set == set_relay_from)
		return 10;
	return 0;
}

int ternd_config_check(const struct ternd_config *cfg, char *err, size_t errlen)
{
	if (cfg->metrics != NULL && !cfg->metrics_allow_remote) {
		char host[64], why[256];
		unsigned port;
		int loopback = 0;

		if (ternd_metrics_addr(cfg->metrics, host, sizeof(host), &port, &loopback, why,
				       sizeof(why)) == 0 &&
		    !loopback)
			return usage_fail(err, errlen,
					  "--metrics %s: not a loopback address (127.0.0.0/8, ::1, "
					  "localhost); add --metrics-allow-remote to mean it",
					  cfg->metrics);
	}
	if (cfg->user != NULL && strcmp(cfg->user, "root") == 0)
		return usage_fail(err, errlen, "--user root: name the unprivileged user to run as");
	if (cfg->tls_cert_count != cfg->tls_key_count)
		return usage_fail(err, errlen,
			    "--tls-cert and --tls-key go in pairs: %u certificate%s but %u key%s",
			    cfg->tls_cert_count, cfg->tls_cert_count == 1 ? "" : "s",
			    cfg->tls_key_count, cfg->tls_key_count == 1 ? "" : "s");
	return TERND_EX_OK;
}

int ternd_config_parse(struct ternd_config *cfg, int argc, char *const *argv, char *err,
		       size_t errlen)
{
	const char *value;
	int rc;
	if (errlen > 0)
		err[0] = '\0';

	/* --check-config is asked for every problem, not the first one. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check-config") == 0)
			cfg->collect_problems = true;
	}

	/* Pass 1: syntax of every flag, and find --config: the file is read
	 * before any flag applies, whatever the order on the command line. */
	for (int i = 1; i < argc; i++) {
		const struct opt *o = next_arg(argc, argv, &i, &value, &rc, err, errlen);
		if (o == NULL) {
			if ((rc = keep_going(cfg, rc, err)) != TERND_EX_OK)
				return rc;
			continue;
		}
		if (o->set == set_config && (rc = set_config(cfg, value, err, errlen)) != 0 &&
		    (rc = keep_going(cfg, rc, err)) != TERND_EX_OK)
			return rc;
		if (o->set == set_help || o->set == set_version)
			o->set(cfg, NULL, err, errlen);
	}
	if (cfg->help || cfg->version)
		return TERND_EX_OK;
	if (cfg->config_file != NULL && (rc = parse_file(cfg, cfg->config_file, err, errlen)) != 0) {
		/* An unreadable file is one more problem to report. */
		if (!cfg->collect_problems)
			return rc;
		ternd_config_problem(cfg, "%s", err);
	}

	/* Pass 2: the command line overrides the file. */
	bool replaced[11] = {false}; /* by list_group(): 1..10 */
	for (int i = 1; i < argc; i++) {
		const struct opt *o = next_arg(argc, argv, &i, &value, &rc, err, errlen);
		if (o == NULL) {
			if (!cfg->collect_problems)
				return rc;
			continue; /* pass 1 recorded it */
		}
		if (o->set == set_config)
			continue;
		unsigned group = list_group(o);
		if (group != 0 && !replaced[group]) {
			clear_list_of(cfg, o);
			replaced[group] = true;
		}
		if ((rc = o->set(cfg, value != NULL ? value : "yes", err, errlen)) != TERND_EX_OK &&
		    (rc = keep_going(cfg, rc, err)) != TERND_EX_OK)
			return rc;
	}
	/* The default plain listener is for "run it and try it"; a
	 * configuration that names only TLS or submission listeners did not
	 * ask for an unauthenticated port as well. */
	if (cfg->listen_count == 0 && cfg->tls_listen_count == 0 && cfg->submission_count == 0 &&
	    (rc = set_listen(cfg, TERND_DEFAULT_LISTEN, err, errlen)) != 0)
		return rc;
	rc = keep_going(cfg, ternd_config_check(cfg, err, errlen), err);
	if (rc == TERND_EX_OK && cfg->problem_count > 0) {
		snprintf(err, errlen, "%s",
			 cfg->problems[0] != NULL ? cfg->problems[0] : "out of memory");
		return TERND_EX_USAGE;
	}
	return rc;
}

/* ---- the rest --------------------------------------------------------- */

void ternd_config_init(struct ternd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->maildir = strdup(TERND_DEFAULT_MAILDIR);
	cfg->workers = TERND_WORKERS_AUTO;
	cfg->log_level = TERN_LOG_INFO;
	cfg->bare_newline = TERN_SMTP_BARE_NEWLINE_NORMALIZE;
	cfg->state_dir = strdup(TERND_DEFAULT_STATE_DIR);
	cfg->auth_methods = TERND_AUTH_DEFAULT;
	cfg->tls_min_version = TERND_TLS_1_2;
	cfg->max_auth_failures = TERND_DEFAULT_MAX_AUTH_FAILURES;
	cfg->max_per_ip = TERND_DEFAULT_MAX_PER_IP;
	cfg->max_conn_rate = TERND_DEFAULT_MAX_CONN_RATE;
	cfg->max_messages_per_conn = TERND_DEFAULT_MAX_MESSAGES_PER_CONN;
	cfg->max_rcpts_per_conn = TERND_DEFAULT_MAX_RCPTS_PER_CONN;
	cfg->max_auth_failures_per_ip = TERND_DEFAULT_MAX_AUTH_FAILURES_PER_IP;
	cfg->ban_seconds = TERND_DEFAULT_BAN_SECONDS;
	cfg->hash_threads = TERND_DEFAULT_HASH_THREADS;
}

void ternd_config_free(struct ternd_config *cfg)
{
	clear_listen(cfg);
	free(cfg->maildir);
	free(cfg->hostname);
	free(cfg->banner);
	free(cfg->config_file);
	clear_list(cfg->tls_cert, &cfg->tls_cert_count);
	clear_list(cfg->tls_key, &cfg->tls_key_count);
	clear_list(cfg->proxy_from, &cfg->proxy_from_count);
	clear_list(cfg->tls_listen, &cfg->tls_listen_count);
	clear_list(cfg->xclient_from, &cfg->xclient_from_count);
	clear_list(cfg->xforward_from, &cfg->xforward_from_count);
	clear_list(cfg->abuse_exempt, &cfg->abuse_exempt_count);
	clear_list(cfg->submission, &cfg->submission_count);
	free(cfg->tls_ciphers);
	free(cfg->tls_ciphersuites);
	free(cfg->dns_server);
	free(cfg->tls_client_ca);
	free(cfg->state_dir);
	free(cfg->metrics);
	free(cfg->users_file);
	free(cfg->user);
	ternd_config_free_outbound(cfg);
	ternd_config_free_domain(cfg);
	free(cfg->authserv_id);
	cfg->authserv_id = NULL;
	for (unsigned i = 0; i < cfg->problem_count && cfg->problems != NULL; i++)
		free(cfg->problems[i]);
	free(cfg->problems);
	memset(cfg, 0, sizeof(*cfg));
}

/* For ternd_config_keep_fixed: dst's string becomes a copy of src's. */
int keep_str(char **dst, const char *src)
{
	char *copy = src != NULL ? strdup(src) : NULL;

	if (src != NULL && copy == NULL)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

int keep_list(char **dst, unsigned *dst_count, char *const *src, unsigned src_count)
{
	clear_list(dst, dst_count);
	for (unsigned i = 0; i < src_count; i++) {
		if ((dst[i] = strdup(src[i])) == NULL)
			return -1;
		*dst_count = i + 1;
	}
	return 0;
}

int ternd_config_keep_fixed(struct ternd_config *next, const struct ternd_config *running)
{
	/* Where ternd listens and how (the library's listeners are made
	 * once), where mail goes, whom it runs as, its TLS files and
	 * settings, its users file and AUTH policy, its resolvers' upstream,
	 * its threads and its log outputs. */
	if (keep_list(next->listen, &next->listen_count, running->listen, running->listen_count) ||
	    keep_list(next->submission, &next->submission_count, running->submission,
		      running->submission_count) ||
	    keep_list(next->tls_listen, &next->tls_listen_count, running->tls_listen,
		      running->tls_listen_count) ||
	    keep_list(next->tls_cert, &next->tls_cert_count, running->tls_cert,
		      running->tls_cert_count) ||
	    keep_list(next->tls_key, &next->tls_key_count, running->tls_key,
		      running->tls_key_count) ||
	    keep_str(&next->maildir, running->maildir) ||
	    keep_str(&next->state_dir, running->state_dir) ||
	    keep_str(&next->tls_ciphers, running->tls_ciphers) ||
	    keep_str(&next->tls_ciphersuites, running->tls_ciphersuites) ||
	    keep_str(&next->tls_client_ca, running->tls_client_ca) ||
	    keep_str(&next->users_file, running->users_file) ||
	    keep_str(&next->user, running->user) || keep_str(&next->metrics, running->metrics) ||
	    keep_str(&next->dns_server, running->dns_server))
		return -1;
	next->tls_min_version = running->tls_min_version;
	next->lmtp = running->lmtp;
	next->discard = running->discard;
	next->workers = running->workers;
	next->auth_methods = running->auth_methods;
	next->allow_insecure_auth = running->allow_insecure_auth;
	next->require_auth = running->require_auth;
	next->require_tls = running->require_tls;
	next->hash_threads = running->hash_threads;
	/* Each listener's own delay (ternd sets one on every listener). */
	next->greeting_delay = running->greeting_delay;
	next->greeting_delay_set = running->greeting_delay_set;
	next->metrics_allow_remote = running->metrics_allow_remote;
	next->log_kv = running->log_kv;
	next->log_syslog = running->log_syslog;
	if (ternd_config_keep_checks(next, running) != 0 ||
	    ternd_config_keep_domain(next, running) != 0)
		return -1;
	return ternd_config_keep_outbound(next, running);
}

static void print_uint(FILE *out, const char *key, unsigned v, const char *dflt)
{
	if (v != 0)
		fprintf(out, "%s = %u\n", key, v);
	else
		fprintf(out, "# %s = %s\n", key, dflt);
}

void ternd_config_print(const struct ternd_config *cfg, FILE *out)
{
	if (cfg->config_file != NULL)
		fprintf(out, "# from %s and the command line\n", cfg->config_file);
	for (unsigned i = 0; i < cfg->listen_count; i++)
		fprintf(out, "listen = %s\n", cfg->listen[i]);
	fprintf(out, "maildir = %s\n", cfg->maildir != NULL ? cfg->maildir : TERND_DEFAULT_MAILDIR);
	if (cfg->hostname != NULL)
		fprintf(out, "hostname = %s\n", cfg->hostname);
	else
		fprintf(out, "# hostname = (the system host name)\n");
	if (cfg->banner != NULL)
		fprintf(out, "banner = \"%s\"\n", cfg->banner);
	if (cfg->max_size_set)
		fprintf(out, "max-size = %llu\n", (unsigned long long)cfg->max_size);
	else
		fprintf(out, "# max-size = 26214400\n");
	print_uint(out, "max-recipients", cfg->max_recipients, "100");
	fprintf(out, "max-clients = %u\n", cfg->max_clients);
	fprintf(out, "max-per-ip = %u\n", cfg->max_per_ip);
	fprintf(out, "max-conn-rate = %u\n", cfg->max_conn_rate);
	fprintf(out, "max-messages-per-conn = %u\n", cfg->max_messages_per_conn);
	fprintf(out, "max-rcpts-per-conn = %u\n", cfg->max_rcpts_per_conn);
	fprintf(out, "max-auth-failures-per-ip = %u\n", cfg->max_auth_failures_per_ip);
	fprintf(out, "ban-seconds = %u\n", cfg->ban_seconds);
	print_uint(out, "max-line-length", cfg->max_line_length, "2048");
	print_uint(out, "max-data-line-length", cfg->max_data_line_length, "1000");
	print_uint(out, "max-bad-commands", cfg->max_bad_commands, "10");
	if (cfg->junk_unlimited)
		fprintf(out, "max-junk-commands = 0\n");
	else
		print_uint(out, "max-junk-commands", cfg->max_junk_commands, "100");
	print_uint(out, "idle-timeout", cfg->idle_timeout, "300");
	print_uint(out, "data-timeout", cfg->data_timeout,
		   cfg->idle_timeout != 0 ? "(idle-timeout)" : "180");
	print_uint(out, "close-timeout", cfg->close_timeout, "30");
	print_uint(out, "tls-handshake-timeout", cfg->tls_handshake_timeout, "60");
	if (cfg->greeting_delay_set)
		fprintf(out, "greeting-delay = %u\n", cfg->greeting_delay);
	else
		fprintf(out, "# greeting-delay = (1000 on --listen, 0 on other listeners and LMTP)\n");
	if (cfg->workers == TERND_WORKERS_AUTO)
		fprintf(out, "workers = auto\n");
	else
		fprintf(out, "workers = %u\n", cfg->workers);
	fprintf(out, "lmtp = %s\n", cfg->lmtp ? "yes" : "no");
	fprintf(out, "discard = %s\n", cfg->discard ? "yes" : "no");
	fprintf(out, "no-received-header = %s\n", cfg->no_received_header ? "yes" : "no");
	fprintf(out, "no-reverse-dns = %s\n", cfg->no_reverse_dns ? "yes" : "no");
	if (cfg->dns_server != NULL)
		fprintf(out, "dns-server = %s\n", cfg->dns_server);
	else
		fprintf(out, "# dns-server = (the servers of /etc/resolv.conf)\n");
	print_uint(out, "dns-timeout", cfg->dns_timeout, "5000");
	fprintf(out, "bare-newline = %s\n",
		cfg->bare_newline == TERN_SMTP_BARE_NEWLINE_REJECT ? "reject" : "normalize");
	fprintf(out, "log-level = %s\n", ternd_log_level_name(cfg->log_level));
	fprintf(out, "log-format = %s\n", cfg->log_kv ? "kv" : "text");
	fprintf(out, "syslog = %s\n", cfg->log_syslog ? "yes" : "no");
	if (cfg->metrics != NULL)
		fprintf(out, "metrics = %s\n", cfg->metrics);
	else
		fprintf(out, "# metrics = (none: no metrics listener)\n");
	fprintf(out, "metrics-allow-remote = %s\n", cfg->metrics_allow_remote ? "yes" : "no");

	for (unsigned i = 0; i < cfg->tls_listen_count; i++)
		fprintf(out, "tls-listen = %s\n", cfg->tls_listen[i]);
	for (unsigned i = 0; i < cfg->submission_count; i++)
		fprintf(out, "submission = %s\n", cfg->submission[i]);
	for (unsigned i = 0; i < cfg->tls_cert_count || i < cfg->tls_key_count; i++) {
		if (i < cfg->tls_cert_count)
			fprintf(out, "tls-cert = %s\n", cfg->tls_cert[i]);
		if (i < cfg->tls_key_count)
			fprintf(out, "tls-key = %s\n", cfg->tls_key[i]);
	}
	fprintf(out, "tls-min-version = %s\n", ternd_tls_version_name(cfg->tls_min_version));
	if (cfg->tls_ciphers != NULL)
		fprintf(out, "tls-ciphers = %s\n", cfg->tls_ciphers);
	else
		fprintf(out, "# tls-ciphers = (OpenSSL's default)\n");
	if (cfg->tls_ciphersuites != NULL)
		fprintf(out, "tls-ciphersuites = %s\n", cfg->tls_ciphersuites);
	else
		fprintf(out, "# tls-ciphersuites = (OpenSSL's default)\n");
	if (cfg->tls_client_ca != NULL)
		fprintf(out, "tls-client-ca = %s\n", cfg->tls_client_ca);
	else
		fprintf(out, "# tls-client-ca = (none: no client certificates asked for)\n");
	fprintf(out, "require-tls = %s\n", cfg->require_tls ? "yes" : "no");
	if (cfg->users_file != NULL)
		fprintf(out, "users = %s\n", cfg->users_file);
	else
		fprintf(out, "# users = (none: no AUTH)\n");
	fprintf(out, "auth-methods = ");
	const char *sep = "";
	for (unsigned i = 0; i < TERND_AUTH_METHOD_COUNT; i++) {
		if (cfg->auth_methods & (1u << i)) {
			fprintf(out, "%s%s", sep, auth_method_names[i]);
			sep = ",";
		}
	}
	fprintf(out, "\n");
	fprintf(out, "require-auth = %s\n", cfg->require_auth ? "yes" : "no");
	fprintf(out, "allow-insecure-auth = %s\n", cfg->allow_insecure_auth ? "yes" : "no");
	fprintf(out, "max-auth-failures = %u\n", cfg->max_auth_failures);
	fprintf(out, "hash-threads = %u\n", cfg->hash_threads);
	for (unsigned i = 0; i < cfg->xclient_from_count; i++)
		fprintf(out, "xclient-from = %s\n", cfg->xclient_from[i]);
	if (cfg->xclient_from_count == 0)
		fprintf(out, "# xclient-from = (none: XCLIENT refused)\n");
	for (unsigned i = 0; i < cfg->xforward_from_count; i++)
		fprintf(out, "xforward-from = %s\n", cfg->xforward_from[i]);
	if (cfg->xforward_from_count == 0)
		fprintf(out, "# xforward-from = (none: XFORWARD refused)\n");
	for (unsigned i = 0; i < cfg->abuse_exempt_count; i++)
		fprintf(out, "abuse-exempt = %s\n", cfg->abuse_exempt[i]);
	if (cfg->abuse_exempt_count == 0)
		fprintf(out, "# abuse-exempt = (none: the limits apply to every network)\n");
	fprintf(out, "state-dir = %s\n",
		cfg->state_dir != NULL ? cfg->state_dir : TERND_DEFAULT_STATE_DIR);
	if (cfg->user != NULL)
		fprintf(out, "user = %s\n", cfg->user);
	else
		fprintf(out, "# user = (none: keep the user ternd started as)\n");
	for (unsigned i = 0; i < cfg->proxy_from_count; i++)
		fprintf(out, "proxy-from = %s\n", cfg->proxy_from[i]);
	if (cfg->proxy_from_count == 0)
		fprintf(out, "# proxy-from = (none: no PROXY protocol)\n");
	ternd_config_print_checks(cfg, out);
	ternd_config_print_domain(cfg, out);
	ternd_config_print_outbound(cfg, out);
}

void ternd_config_usage(FILE *out)
{
	fprintf(out, "Usage: ternd [OPTION]...\n"
		     "Receive mail over SMTP or LMTP and store it in one Maildir per recipient.\n\n");
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct opt *o = &options[i];
		char left[64];
		if (o->arg != NULL)
			snprintf(left, sizeof(left), "--%s %s", o->name, o->arg);
		else
			snprintf(left, sizeof(left), "--%s", o->name);
		fprintf(out, "  %-28s %s\n", left, o->help);
	}
	fprintf(out, "\nEvery flag except config, check-config, help and version is also a key in\n"
		     "the --config file: 'key = value' lines, '#' comments, booleans yes/no.\n"
		     "Command-line flags override the file. See ternd(8) and docs/ternd.md.\n");
}

void ternd_config_to_options(const struct ternd_config *cfg, tern_smtp_options *opts)
{
	opts->name = cfg->hostname;
	opts->banner = cfg->banner;
	if (cfg->max_size_set)
		opts->size = cfg->max_size;
	opts->lmtp = cfg->lmtp;
	opts->max_clients = cfg->max_clients;
	opts->max_per_ip = cfg->max_per_ip;
	opts->max_conn_rate = cfg->max_conn_rate;
	opts->max_messages_per_conn = cfg->max_messages_per_conn;
	opts->max_rcpts_per_conn = cfg->max_rcpts_per_conn;
	opts->max_auth_failures_per_ip = cfg->max_auth_failures_per_ip;
	opts->ban_seconds = cfg->ban_seconds;
	if (cfg->max_line_length != 0)
		opts->max_line_length = cfg->max_line_length;
	if (cfg->max_data_line_length != 0)
		opts->max_data_line_length = cfg->max_data_line_length;
	if (cfg->max_recipients != 0)
		opts->max_recipients = cfg->max_recipients;
	if (cfg->max_bad_commands != 0)
		opts->max_bad_commands = cfg->max_bad_commands;
	if (cfg->max_junk_commands != 0 || cfg->junk_unlimited)
		opts->max_junk_commands = cfg->max_junk_commands;
	opts->bare_newline = cfg->bare_newline;
	opts->disable_received_header = cfg->no_received_header;
	opts->no_reverse_dns = cfg->no_reverse_dns;
	opts->dns_server = cfg->dns_server;
	opts->dns_timeout = cfg->dns_timeout;
	/* --idle-timeout is "how long a client may stay silent", in commands
	 * and in the middle of a message alike, unless --data-timeout says
	 * otherwise. */
	if (cfg->idle_timeout != 0)
		opts->socket_timeout = opts->data_timeout = cfg->idle_timeout * 1000u;
	if (cfg->tls_handshake_timeout != 0)
		opts->tls_handshake_timeout = cfg->tls_handshake_timeout * 1000u;
	if (cfg->data_timeout != 0)
		opts->data_timeout = cfg->data_timeout * 1000u;
	if (cfg->close_timeout != 0)
		opts->close_timeout = cfg->close_timeout * 1000u;
	opts->greeting_delay = cfg->greeting_delay;
	opts->log_level = cfg->log_level;
	if (cfg->xclient_from_count > 0)
		opts->xclient_from = (const char *const *)cfg->xclient_from;
	if (cfg->xforward_from_count > 0)
		opts->xforward_from = (const char *const *)cfg->xforward_from;
	if (cfg->abuse_exempt_count > 0)
		opts->abuse_exempt = (const char *const *)cfg->abuse_exempt;
	if (cfg->proxy_from_count > 0)
		opts->proxy_from = (const char *const *)cfg->proxy_from;
}
