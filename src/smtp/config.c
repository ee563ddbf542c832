/* Options: defaults, validation, and the copy every session shares. */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <strings.h>

#include "sasl/sasl.h"
#include "smtp/engine.h"
#include "util/address.h"

/* Defaults (smtp-security.md section 3 and RFC 5321 4.5.3). */
#define DEFAULT_SIZE (25ull * 1024 * 1024)
/* RFC 5321 4.5.3.1.4 allows 512 octets; RFC 1869 lets each extension add
 * room: SIZE (RFC 1870, 26), BODY (RFC 6152/3030, 16), SMTPUTF8 (RFC 6531,
 * 9), REQUIRETLS (RFC 8689, 11), RET + ENVID (RFC 3461 4.3: 9 + 100),
 * NOTIFY + ORCPT (RFC 3461 5: 500 + 41), AUTH= (RFC 4954 5: 500). 2048 covers
 * all of them with margin, as Postfix's line_length_limit does. */
#define DEFAULT_LINE_LENGTH 2048
#define DEFAULT_DATA_LINE_LENGTH 1000 /* RFC 5321 4.5.3.1.6, incl. CRLF */
#define DEFAULT_RECIPIENTS 100        /* RFC 5321 4.5.3.1.8 minimum */
#define DEFAULT_BAD_COMMANDS 10
#define DEFAULT_JUNK_COMMANDS 100     /* Postfix smtpd_junk_command_limit */
#define DEFAULT_PIPELINED 32
#define DEFAULT_SOCKET_TIMEOUT 300000 /* RFC 5321 4.5.3.2.7: 5 minutes */
#define DEFAULT_DATA_TIMEOUT 180000   /* RFC 5321 4.5.3.2.5: data block 3 min */
#define DEFAULT_CLOSE_TIMEOUT 30000
#define MIN_LINE_LENGTH 512           /* RFC 5321 4.5.3.1.4 */
/* Abuse limits: include/tern/smtp.h says why each. */
#define DEFAULT_PER_IP 100
#define DEFAULT_CONN_RATE 0            /* per minute; none */
#define DEFAULT_MESSAGES_PER_CONN 1000 /* Exim smtp_accept_max_per_connection */
#define DEFAULT_RCPTS_PER_CONN 10000
#define DEFAULT_AUTH_FAILURES_PER_IP 10
#define DEFAULT_BAN_SECONDS 600
#define DEFAULT_IPV6_PREFIX 64

/* ABI (include/tern/smtp.h): the first released layout of tern_smtp_options
 * ends with log_level; a caller's struct_size below it is not a tern_smtp_options. */
#define OPTIONS_V1_SIZE                                                                       \
	(offsetof(tern_smtp_options, log_level) + sizeof(((tern_smtp_options *)0)->log_level))

/* The callbacks struct never changes size: a new callback takes a reserved
 * slot. If this fails, a callback was added without shrinking reserved[]. */
_Static_assert(sizeof(tern_smtp_callbacks) == 32 * sizeof(void (*)(void)),
	       "tern_smtp_callbacks changed size: replace a reserved slot instead");
_Static_assert(offsetof(tern_smtp_options, struct_size) == 0, "struct_size must come first");

static void options_defaults(tern_smtp_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->struct_size = sizeof(*opts);
	opts->size = DEFAULT_SIZE;
	opts->max_line_length = DEFAULT_LINE_LENGTH;
	opts->max_data_line_length = DEFAULT_DATA_LINE_LENGTH;
	opts->max_recipients = DEFAULT_RECIPIENTS;
	opts->max_bad_commands = DEFAULT_BAD_COMMANDS;
	opts->max_junk_commands = DEFAULT_JUNK_COMMANDS;
	opts->max_pipelined_commands = DEFAULT_PIPELINED;
	opts->socket_timeout = DEFAULT_SOCKET_TIMEOUT;
	opts->data_timeout = DEFAULT_DATA_TIMEOUT;
	opts->close_timeout = DEFAULT_CLOSE_TIMEOUT;
	opts->bare_newline = TERN_SMTP_BARE_NEWLINE_NORMALIZE;
	opts->log_level = TERN_LOG_INFO;
	opts->max_per_ip = DEFAULT_PER_IP;
	opts->max_conn_rate = DEFAULT_CONN_RATE;
	opts->max_messages_per_conn = DEFAULT_MESSAGES_PER_CONN;
	opts->max_rcpts_per_conn = DEFAULT_RCPTS_PER_CONN;
	opts->max_auth_failures_per_ip = DEFAULT_AUTH_FAILURES_PER_IP;
	opts->ban_seconds = DEFAULT_BAN_SECONDS;
	opts->abuse_ipv6_prefix = DEFAULT_IPV6_PREFIX;
}

void tern_smtp_options_init_sized(tern_smtp_options *opts, size_t size)
{
	tern_smtp_options def;

	if (!opts || size < sizeof(opts->struct_size))
		return;
	options_defaults(&def);
	/* A caller compiled against a newer, larger layout: its extra fields
	 * are zero, which options_copy() accepts as "not set". */
	if (size > sizeof(def)) {
		memcpy(opts, &def, sizeof(def));
		memset((char *)opts + sizeof(def), 0, size - sizeof(def));
	} else {
		memcpy(opts, &def, size);
	}
	opts->struct_size = size;
}

static int options_copy(tern_smtp_options *dst, const tern_smtp_options *src)
{
	size_t size = src->struct_size;

	options_defaults(dst);
	if (size < OPTIONS_V1_SIZE)
		return TERN_EINVAL;
	if (size > sizeof(*dst)) {
		/* Fields this library does not know: only "unset" (zero) is
		 * safe to ignore (as Linux's copy_struct_from_user()). */
		const unsigned char *extra = (const unsigned char *)src + sizeof(*dst);
		for (size_t i = 0; i < size - sizeof(*dst); i++)
			if (extra[i])
				return TERN_EINVAL;
		size = sizeof(*dst);
	}
	memcpy(dst, src, size);
	dst->struct_size = sizeof(*dst);
	return 0;
}

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	if (tern__has_control(src, strlen(src)))
		return TERN_EINVAL;
	*dst = strdup(src);
	return *dst ? 0 : TERN_ENOMEM;
}

void tern__smtp_config_free(struct tern__smtp_config *cfg)
{
	free(cfg->name);
	free(cfg->banner);
	free(cfg->helo_response);
	for (char **d = cfg->disabled_commands; d && *d; d++)
		free(*d);
	free(cfg->disabled_commands);
	tern__cidr_list_free(&cfg->xclient_from);
	tern__cidr_list_free(&cfg->xforward_from);
	memset(cfg, 0, sizeof(*cfg));
}

/* helo_response may hold at most two "%s" and no other conversion, since it
 * is used as a format string. */
static bool helo_format_safe(const char *f)
{
	int n = 0;
	for (const char *p = f; *p; p++) {
		if (*p != '%')
			continue;
		if (p[1] == '%') {
			p++;
			continue;
		}
		if (p[1] != 's' || ++n > 2)
			return false;
		p++;
	}
	return true;
}

int tern__smtp_listener_mechs(struct tern__smtp_listener *l, const char *const *names)
{
	l->n_auth_mechs = 0;
	if (names[0] == NULL)
		return TERN_EINVAL; /* an empty list: leave AUTH off instead */
	for (size_t i = 0; names[i]; i++) {
		int m = tern__sasl_mech_lookup(names[i], strlen(names[i]));
		bool dup = false;

		if (m < 0)
			return TERN_EINVAL;
		for (unsigned j = 0; j < l->n_auth_mechs; j++)
			dup |= l->auth_mechs[j] == m;
		if (!dup && l->n_auth_mechs < sizeof(l->auth_mechs))
			l->auth_mechs[l->n_auth_mechs++] = (signed char)m;
	}
	return 0;
}

/* AUTH: the mechanisms named (smtp-server's default PLAIN and LOGIN), the
 * limits, and the per-server key for SCRAM's unknown users. */
static int auth_config(struct tern__smtp_config *cfg, const tern_smtp_options *o)
{
	static const char *const def[] = {"PLAIN", "LOGIN", NULL};

	if (o->max_auth_failures > 1000 || o->auth_failure_delay > 60000)
		return TERN_EINVAL;
	if (tern__smtp_listener_mechs(&cfg->listener, o->auth_methods ? o->auth_methods : def) != 0)
		return TERN_EINVAL;
	if (o->callbacks.on_auth &&
	    RAND_bytes(cfg->scram_fake_key, sizeof(cfg->scram_fake_key)) != 1)
		return TERN_ENOMEM;
	return 0;
}

int tern__smtp_config_init(struct tern__smtp_config *cfg, const tern_smtp_options *opts)
{
	memset(cfg, 0, sizeof(*cfg));
	tern_smtp_options *o = &cfg->opts;
	if (options_copy(o, opts) < 0) {
		memset(cfg, 0, sizeof(*cfg));
		return TERN_EINVAL;
	}
	if (!o->max_line_length)
		o->max_line_length = DEFAULT_LINE_LENGTH;
	if (!o->max_pipelined_commands)
		o->max_pipelined_commands = DEFAULT_PIPELINED;
	if (!o->socket_timeout)
		o->socket_timeout = DEFAULT_SOCKET_TIMEOUT;
	if (!o->data_timeout)
		o->data_timeout = DEFAULT_DATA_TIMEOUT;
	if (!o->close_timeout)
		o->close_timeout = DEFAULT_CLOSE_TIMEOUT;
	if (!o->ban_seconds)
		o->ban_seconds = DEFAULT_BAN_SECONDS;
	if (!o->abuse_ipv6_prefix)
		o->abuse_ipv6_prefix = DEFAULT_IPV6_PREFIX;
	if (o->ban_seconds > 366u * 86400u || o->abuse_ipv6_prefix > 128)
		return TERN_EINVAL;
	if (o->max_line_length < MIN_LINE_LENGTH || o->max_line_length > 1024 * 1024 ||
	    (o->max_data_line_length && o->max_data_line_length < 3) ||
	    o->max_pipelined_commands > 4096 || (unsigned)o->bare_newline > 1 ||
	    o->greeting_delay > 600000 || (unsigned)o->log_level > TERN_LOG_DEBUG)
		return TERN_EINVAL;
	if (o->helo_response && !helo_format_safe(o->helo_response))
		return TERN_EINVAL;

	char host[256] = "localhost";
	if (!o->name) {
		if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
	}
	int r;
	if ((r = dup_opt(&cfg->name, o->name ? o->name : host)) < 0 ||
	    (r = dup_opt(&cfg->banner, o->banner)) < 0 ||
	    (r = dup_opt(&cfg->helo_response, o->helo_response)) < 0)
		goto fail;
	size_t n = 0;
	while (o->disabled_commands && o->disabled_commands[n])
		n++;
	cfg->disabled_commands = calloc(n + 1, sizeof(char *));
	if (!cfg->disabled_commands) {
		r = TERN_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = dup_opt(&cfg->disabled_commands[i], o->disabled_commands[i])) < 0)
			goto fail;
		for (char *p = cfg->disabled_commands[i]; *p; p++)
			*p = (char)toupper((unsigned char)*p);
	}
	cfg->greeting_delay = o->greeting_delay;
	cfg->listener.secure = o->secure;
	cfg->listener.require_tls = o->require_tls;
	cfg->listener.hide_starttls = o->hide_starttls;
	if ((r = auth_config(cfg, o)) < 0)
		goto fail;
	tern__smtp_listener_auth(&cfg->listener, o, TERN_SMTP_AUTH_DEFAULT, false);
	/* XCLIENT/XFORWARD networks: a bad one is TERN_EINVAL. */
	if ((r = tern__cidr_list_parse(&cfg->xclient_from, o->xclient_from, NULL)) < 0 ||
	    (r = tern__cidr_list_parse(&cfg->xforward_from, o->xforward_from, NULL)) < 0)
		goto fail;
	/* The caller's lists are not ours to keep. */
	o->auth_methods = NULL;
	o->xclient_from = NULL;
	o->xforward_from = NULL;
	o->name = cfg->name;
	o->banner = cfg->banner;
	o->helo_response = cfg->helo_response;
	o->disabled_commands = (const char *const *)cfg->disabled_commands;
	return 0;
fail:
	tern__smtp_config_free(cfg);
	return r;
}
