/* ternd configuration: command-line flags and the config file.
 *
 * Every flag is also a config file key (the flag name without the leading
 * dashes; '_' may stand for '-'). The file is read first, then the command
 * line overrides it; a repeatable flag (--listen, --tls-listen,
 * --submission, --proxy-from) given on the command line replaces the file's list instead
 * of adding to it, and a --tls-cert or --tls-key there replaces the file's
 * certificate and key lists both, since they are read as pairs. Parsing does no I/O
 * except reading the --config file, so tests/unit/test_config.c drives it
 * directly. */
#ifndef TERND_CONFIG_H
#define TERND_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tern/smtp.h"

/* sysexits(3) values used by ternd. */
#define TERND_EX_OK 0
#define TERND_EX_USAGE 64       /* bad flag, key or value */
#define TERND_EX_NOINPUT 66     /* the --config file cannot be read */
#define TERND_EX_SOFTWARE 70    /* internal error (out of memory, library error) */
#define TERND_EX_OSERR 71       /* cannot listen / run */
#define TERND_EX_CANTCREAT 73   /* the maildir root cannot be created or opened */

#define TERND_DEFAULT_LISTEN "127.0.0.1:2525"
#define TERND_DEFAULT_MAILDIR "./mail"
/* More listeners than this is a configuration mistake, not a need. */
#define TERND_MAX_LISTEN 64
/* --xclient-from / --xforward-from entries (each a comma list of networks). */
#define TERND_MAX_XCLIENT_FROM 64
/* --proxy-from entries (each may itself be a comma list of networks). */
#define TERND_MAX_PROXY_FROM 64
#define TERND_MAX_DOMAINS 256
#define TERND_MAX_WORKERS 1024
#define TERND_WORKERS_AUTO 0
/* Certificate/key pairs: one default and the rest chosen by SNI. */
#define TERND_MAX_TLS_CERTS 32
#define TERND_DEFAULT_STATE_DIR "./ternd-state"
#define TERND_DEFAULT_MAX_AUTH_FAILURES 3
/* Abuse limits: the library's defaults (include/tern/smtp.h says why). */
#define TERND_DEFAULT_MAX_PER_IP 100
#define TERND_DEFAULT_MAX_CONN_RATE 0
#define TERND_DEFAULT_MAX_MESSAGES_PER_CONN 1000
#define TERND_DEFAULT_MAX_RCPTS_PER_CONN 10000
#define TERND_DEFAULT_MAX_AUTH_FAILURES_PER_IP 10
#define TERND_DEFAULT_BAN_SECONDS 600
#define TERND_DEFAULT_HASH_THREADS 2
#define TERND_MAX_HASH_THREADS 64

/* SASL mechanisms --auth-methods may name, one bit each; the order of the
 * table in config.c (and of ternd_auth_method_name) is the order ternd
 * advertises them in. */
enum ternd_auth_method {
	TERND_AUTH_PLAIN = 1u << 0,
	TERND_AUTH_LOGIN = 1u << 1,
	TERND_AUTH_CRAM_MD5 = 1u << 2,
	TERND_AUTH_SCRAM_SHA_256 = 1u << 3,
	TERND_AUTH_SCRAM_SHA_256_PLUS = 1u << 4,
	TERND_AUTH_XOAUTH2 = 1u << 5,
	TERND_AUTH_OAUTHBEARER = 1u << 6,
	TERND_AUTH_EXTERNAL = 1u << 7,
};
#define TERND_AUTH_METHOD_COUNT 8
/* Without --auth-methods: what a users file can serve. CRAM-MD5 needs a
 * password-equivalent secret, OAuth needs a token verifier and EXTERNAL
 * client certificates, so each is opt-in. */
#define TERND_AUTH_DEFAULT \
	(TERND_AUTH_PLAIN | TERND_AUTH_LOGIN | TERND_AUTH_SCRAM_SHA_256 | \
	 TERND_AUTH_SCRAM_SHA_256_PLUS)

enum ternd_tls_version {
	TERND_TLS_1_2 = 0, /* the default */
	TERND_TLS_1_3,
};

struct ternd_config {
	char *listen[TERND_MAX_LISTEN];
	unsigned listen_count;
	char *maildir;
	char *hostname;             /* NULL: the system host name */
	char *banner;               /* NULL: none */
	char *config_file;          /* NULL: none */

	uint64_t max_size;          /* bytes; 0 = no limit */
	bool max_size_set;          /* false: the library default (25 MiB) */
	unsigned max_recipients;    /* 0 = library default (100) */
	unsigned max_clients;       /* 0 = unlimited */
	/* Abuse limits per client network (tern_smtp_options max_per_ip,
	 * ...); the TERND_DEFAULT_* above unless given; 0 = no limit. */
	unsigned max_per_ip;
	unsigned max_conn_rate;     /* per minute */
	unsigned max_messages_per_conn;
	unsigned max_rcpts_per_conn;
	unsigned max_auth_failures_per_ip; /* per 10 minutes, then a ban */
	unsigned ban_seconds;       /* 1.. */
	unsigned max_line_length;   /* 0 = library default */
	unsigned max_data_line_length;
	unsigned max_bad_commands;
	unsigned max_junk_commands;  /* 0 = library default (100) */
	bool junk_unlimited;         /* --max-junk-commands 0 */
	unsigned idle_timeout;      /* seconds; 0 = library default (300) */
	unsigned data_timeout;      /* seconds; 0 = idle_timeout or library default */
	unsigned close_timeout;     /* seconds; 0 = library default (30) */
	unsigned tls_handshake_timeout; /* seconds; 0 = library default (60) */
	unsigned greeting_delay;    /* milliseconds; 0 = greet at once */
	bool greeting_delay_set;    /* given: else 1000 on --listen (not LMTP), 0 elsewhere */
	/* Event loops; TERND_WORKERS_AUTO (the default): one per CPU this
	 * process may run on (ternd_config_workers()). */
	unsigned workers;
	enum tern_smtp_log_level log_level;
	enum tern_smtp_bare_newline bare_newline;
	bool lmtp;
	bool discard;
	bool no_received_header;
	/* Reverse DNS of clients (tern_smtp_options no_reverse_dns,
	 * dns_server, dns_timeout). */
	bool no_reverse_dns;
	char *dns_server;           /* "ADDR" or "ADDR@PORT"; NULL: resolv.conf */
	unsigned dns_timeout;       /* milliseconds; 0 = library default (5000) */

	/* TLS. tls_cert[i] goes with tls_key[i]; pair 0 is the default
	 * certificate, the others are chosen by SNI. ternd_config_parse
	 * refuses unequal counts. */
	char *tls_cert[TERND_MAX_TLS_CERTS];
	unsigned tls_cert_count;
	char *tls_key[TERND_MAX_TLS_CERTS];
	unsigned tls_key_count;
	char *tls_listen[TERND_MAX_LISTEN];  /* implicit TLS (465), auth required */
	unsigned tls_listen_count;
	char *submission[TERND_MAX_LISTEN];  /* 587: STARTTLS, TLS and auth before MAIL */
	unsigned submission_count;
	enum ternd_tls_version tls_min_version;
	char *tls_ciphers;          /* TLS 1.2 cipher list; NULL: OpenSSL's default */
	char *tls_ciphersuites;     /* TLS 1.3 suites; NULL: OpenSSL's default */
	char *tls_client_ca;        /* client certificates (EXTERNAL); NULL: not asked for */
	char *state_dir;            /* generated files (self-signed certificate) */

	/* Authentication. */
	char *users_file;           /* NULL: no users, so no AUTH */
	unsigned auth_methods;      /* TERND_AUTH_* bits; TERND_AUTH_DEFAULT unless given */
	bool allow_insecure_auth;   /* AUTH offered without TLS too */
	bool require_auth;          /* --listen listeners: AUTH before MAIL */
	bool require_tls;           /* --listen listeners: TLS before MAIL */
	unsigned max_auth_failures; /* failed AUTH before disconnect; default 3 */
	unsigned hash_threads;      /* password hashing threads; default 2 */

	/* Postfix's XCLIENT and XFORWARD: the networks that may use them
	 * (--xclient-from, --xforward-from, repeatable, each a comma list).
	 * NULL-terminated, for tern_smtp_options.xclient_from/xforward_from. */
	char *xclient_from[TERND_MAX_XCLIENT_FROM + 1];
	unsigned xclient_from_count;
	char *xforward_from[TERND_MAX_XCLIENT_FROM + 1];
	unsigned xforward_from_count;
	/* Networks the abuse limits never refuse (--abuse-exempt, repeatable,
	 * each a comma list), NULL-terminated, for tern_smtp_options. */
	char *abuse_exempt[TERND_MAX_XCLIENT_FROM + 1];
	unsigned abuse_exempt_count;

	/* Trusted proxies (--proxy-from, repeatable, each a comma list of
	 * networks): their connections begin with a PROXY protocol header.
	 * NULL-terminated, for tern_smtp_options.proxy_from. */
	char *proxy_from[TERND_MAX_PROXY_FROM + 1];
	unsigned proxy_from_count;

	/* Outbound mail (docs/routing.md, docs/queue.md). With no --domain,
	 * every recipient is local (the Maildir) and nothing is relayed. */
	char *domains[TERND_MAX_DOMAINS + 1];    /* local domains, lower case */
	unsigned domain_count;
	char *relay_from[TERND_MAX_XCLIENT_FROM + 1]; /* CIDR lists that may relay */
	unsigned relay_from_count;
	char *relayhost;          /* smarthost for every relayed message; NULL: MX */
	bool relayhost_tls_require; /* --relayhost-tls require: verified TLS */
	char *relayhost_ca;       /* CAs for that verification; NULL: the system's */
	char *relayhost_auth;     /* file with USER:PASSWORD for the relayhost */
	char *lmtp_to;            /* local domains delivered to this LMTP server */
	uint64_t max_queue_size;  /* bytes; 0 = no limit */
	unsigned dest_concurrency; /* connections per destination; 0 = 20 */
	unsigned dest_rate;       /* messages per minute per destination; 0 = none */
	unsigned queue_lifetime;  /* s; 0 = 5 days */
	unsigned delay_warning;   /* s; with delay_warning_set, 0 = never */
	bool delay_warning_set;
	unsigned min_backoff, max_backoff; /* s; 0 = 300, 4000 */
	unsigned smtp_port;       /* port of MX hosts (tests); 0 = 25 */
	enum ternd_smtp_tls { TERND_SMTP_TLS_MAY = 0, TERND_SMTP_TLS_NONE, TERND_SMTP_TLS_VERIFY }
		smtp_tls;         /* outbound STARTTLS to MX hosts */
	char *smtp_ca;            /* CAs for verify; NULL: the system's */
	/* DANE and MTA-STS for MX delivery (docs/dane-mta-sts.md); both on
	 * unless turned off. */
	bool no_dane, no_mta_sts;
	char *dns_trust_anchor;   /* NULL: /usr/share/dns/root.key when it exists */

	/* Inbound SPF/DKIM/DMARC (docs/mail-auth.md). */
	enum ternd_auth_checks { TERND_CHECKS_YES = 0, TERND_CHECKS_NO, TERND_CHECKS_ALWAYS }
		auth_checks;      /* yes: strangers' mail; always: every message */
	enum ternd_dmarc_policy { TERND_DMARC_ENFORCE = 0, TERND_DMARC_QUARANTINE,
				  TERND_DMARC_ANNOTATE } dmarc_policy;
	char *authserv_id;        /* NULL: the host name */

	/* Domains (docs/domains.md): --mta-sts-listen ADDR:PORT serves
	 * STATE/domains/DOMAIN/mta-sts.txt over HTTPS; NULL: not served. */
	char *mta_sts_listen;

	/* The account ternd switches to after binding its listeners (uid,
	 * gid and supplementary groups); NULL: stay as started. */
	char *user;

	/* Problems found while parsing, kept instead of stopping at the first
	 * when collect_problems is set (--check-config on the command line
	 * sets it; SIGHUP's re-read sets it before parsing): one message per
	 * problem, "FILE:LINE: ..." for the config file. */
	bool collect_problems;
	char **problems;
	unsigned problem_count;

	/* Observability: --metrics ADDR:PORT (NULL: none) serves /metrics;
	 * only on a loopback address unless --metrics-allow-remote. Logs:
	 * --log-format text|kv, --syslog. */
	char *metrics;
	bool metrics_allow_remote;
	bool log_kv;                /* --log-format kv */
	bool log_syslog;            /* --syslog */

	/* Actions rather than settings (command line only). */
	bool help;
	bool version;
	bool check_config;
};

/* Fills the defaults (no listen address yet: ternd_config_parse adds the
 * default --listen one when no listener of any kind was given). */
void ternd_config_init(struct ternd_config *cfg);
/* Frees the strings; cfg can be initialised again afterwards. */
void ternd_config_free(struct ternd_config *cfg);

/* SIGHUP: next (a configuration just read) takes running's values for every
 * setting that needs a restart, so that what remains different from
 * running is what a live reconfiguration applies (limits, timeouts, names,
 * trusted networks, reverse DNS on or off, log level). Returns 0, or -1
 * out of memory (next is then partly changed: free it). */
int ternd_config_keep_fixed(struct ternd_config *next, const struct ternd_config *running);

/* Parses argv (argv[0] is skipped), reading the --config file first when
 * one is named, then checks the settings that depend on each other
 * (ternd_config_check). Returns TERND_EX_OK, TERND_EX_USAGE or TERND_EX_NOINPUT
 * with a one-line message (no "ternd: " prefix, no newline) in err. With
 * collect_problems set (or --check-config in argv), every bad flag, key
 * and value is recorded in cfg->problems and parsing goes on; the result
 * is then TERND_EX_USAGE, with the first problem in err, if there was any. */
int ternd_config_parse(struct ternd_config *cfg, int argc, char *const *argv, char *err,
		       size_t errlen);

/* Applies config file text (already read). name is used in messages
 * ("FILE:LINE: ..."). Returns TERND_EX_OK or TERND_EX_USAGE. */
int ternd_config_parse_text(struct ternd_config *cfg, const char *text, const char *name,
			    char *err, size_t errlen);

/* Checks what no single flag can: certificates and keys come in pairs.
 * Returns TERND_EX_OK or TERND_EX_USAGE with a message in err. */
int ternd_config_check(const struct ternd_config *cfg, char *err, size_t errlen);

/* Records a problem (collect_problems mode); out of memory drops the
 * message but still counts it. */
__attribute__((format(printf, 2, 3))) void ternd_config_problem(struct ternd_config *cfg,
								 const char *fmt, ...);

/* Writes the effective configuration in config file syntax. */
void ternd_config_print(const struct ternd_config *cfg, FILE *out);
/* Writes the --help text. */
void ternd_config_usage(FILE *out);

/* Fills a tern_smtp_options from the configuration (after
 * tern_smtp_options_init; callbacks and user_data are left alone). The
 * strings point into cfg. */
void ternd_config_to_options(const struct ternd_config *cfg, tern_smtp_options *opts);

const char *ternd_log_level_name(enum tern_smtp_log_level level);
/* "PLAIN", "SCRAM-SHA-256", ... for one TERND_AUTH_* bit; NULL otherwise. */
const char *ternd_auth_method_name(unsigned method);
/* --metrics: splits ADDR:PORT (IPv4, [IPv6] or localhost) into a numeric
 * host (host_size bytes) and a port; *loopback_r tells whether the address
 * is in 127.0.0.0/8 or ::1. Returns 0, or -1 with a reason in err. */
int ternd_metrics_addr(const char *addr_port, char *host, size_t host_size, unsigned *port_r,
		       int *loopback_r, char *err, size_t errlen);
/* "1.2" or "1.3". */
const char *ternd_tls_version_name(enum ternd_tls_version v);

/* The number of event loops to run: cfg->workers, or with
 * TERND_WORKERS_AUTO one per CPU in this process's affinity mask (taskset
 * and cgroup cpusets are honoured), at most TERND_MAX_WORKERS. */
unsigned ternd_config_workers(const struct ternd_config *cfg);

#endif
