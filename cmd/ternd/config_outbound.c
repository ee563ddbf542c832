/* The outbound settings of ternd's configuration: routing (local domains,
 * who may relay), the smarthost, the queue's schedule and limits. The
 * options table in config.c names these setters; see docs/routing.md and
 * docs/queue.md for what each does. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"
#include "util/cidr.h"

/* NAME[,NAME...]: domain names, stored lower case, one entry each. */
int set_domain(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	const char *p = value;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char name[256];

		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0 && p[len - 1] == '.')
			len--;
		if (len == 0 || len >= sizeof(name))
			return usage_fail(err, errlen, "--domain: '%s' is not a domain name", value);
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)p[i];

			/* LDH and dots, or UTF-8 (an IDN, compared as given). */
			if (!(isalnum(c) || c == '-' || c == '.' || c >= 0x80))
				return usage_fail(err, errlen, "--domain: '%.*s' is not a domain name",
						  (int)len, p);
			name[i] = (char)tolower(c);
		}
		name[len] = '\0';
		if (list_append(cfg->domains, &cfg->domain_count, TERND_MAX_DOMAINS, name, "--domain",
				"domains", err, errlen) != TERND_EX_OK)
			return TERND_EX_USAGE;
		if (comma == NULL)
			return TERND_EX_OK;
		p = comma + 1;
	}
}

int set_relay_from(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return add_networks(cfg->relay_from, &cfg->relay_from_count, TERND_MAX_XCLIENT_FROM,
			    "--relay-from", value, err, errlen);
}

/* HOST[:PORT] or [HOST]:PORT; the delivery agent parses it for good at
 * start, this catches what is plainly wrong. */
int set_relayhost(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (value[0] == '\0' || strchr(value, ' ') != NULL ||
	    (value[0] == '[' && strchr(value, ']') == NULL))
		return usage_fail(err, errlen, "--relayhost: '%s' is not HOST[:PORT] or [HOST]:PORT",
				  value);
	return set_string(&cfg->relayhost, value, "--relayhost", err, errlen);
}

int set_relayhost_tls(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "require") == 0)
		cfg->relayhost_tls_require = true;
	else if (strcmp(value, "may") == 0)
		cfg->relayhost_tls_require = false;
	else
		return usage_fail(err, errlen, "--relayhost-tls: '%s' is not may or require", value);
	return TERND_EX_OK;
}

int set_relayhost_ca(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_string(&cfg->relayhost_ca, value, "--relayhost-ca", err, errlen);
}

int set_relayhost_auth(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_string(&cfg->relayhost_auth, value, "--relayhost-auth", err, errlen);
}

/* ADDR:PORT, [V6]:PORT or /path/to/socket. */
int set_lmtp_to(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (value[0] != '/' && strrchr(value, ':') == NULL)
		return usage_fail(err, errlen, "--lmtp-to: '%s' is not ADDR:PORT or /path/to/socket",
				  value);
	return set_string(&cfg->lmtp_to, value, "--lmtp-to", err, errlen);
}

int set_max_queue_size(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return parse_size(value, "--max-queue-size", &cfg->max_queue_size, err, errlen);
}

int set_dest_concurrency(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_uint(&cfg->dest_concurrency, value, "--dest-concurrency", 1, 1000, err, errlen);
}

/* N or N/min. */
int set_dest_rate(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	char digits[32];
	const char *slash = strchr(value, '/');
	size_t len = slash ? (size_t)(slash - value) : strlen(value);

	if (len == 0 || len >= sizeof(digits) || (slash != NULL && strcmp(slash, "/min") != 0))
		return usage_fail(err, errlen, "--dest-rate: '%s' is not N/min", value);
	memcpy(digits, value, len);
	digits[len] = '\0';
	return set_uint(&cfg->dest_rate, digits, "--dest-rate", 0, 1000000, err, errlen);
}

/* SECONDS, or with s/m/h/d. */
static int set_duration(unsigned *dst, const char *value, const char *flag, unsigned min,
			char *err, size_t errlen)
{
	char digits[32];
	size_t len = strlen(value);
	uint64_t mult = 1, v;

	if (len == 0 || len >= sizeof(digits))
		return usage_fail(err, errlen, "%s: '%s' is not a duration", flag, value);
	memcpy(digits, value, len + 1);
	switch (digits[len - 1]) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: mult = 0; break;
	}
	if (mult != 0)
		digits[--len] = '\0';
	else
		mult = 1;
	if (parse_uint(digits, 366u * 86400u / mult, &v) != 0 || v * mult < min)
		return usage_fail(err, errlen,
				  "%s: '%s' is not a duration (SECONDS, or with s/m/h/d; %u..366d)",
				  flag, value, min);
	*dst = (unsigned)(v * mult);
	return TERND_EX_OK;
}

int set_queue_lifetime(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_duration(&cfg->queue_lifetime, value, "--queue-lifetime", 1, err, errlen);
}

int set_delay_warning(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	cfg->delay_warning_set = true;
	return set_duration(&cfg->delay_warning, value, "--delay-warning", 0, err, errlen);
}

int set_min_backoff(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_duration(&cfg->min_backoff, value, "--min-backoff", 1, err, errlen);
}

int set_max_backoff(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_duration(&cfg->max_backoff, value, "--max-backoff", 1, err, errlen);
}

int set_smtp_port(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_uint(&cfg->smtp_port, value, "--smtp-port", 1, 65535, err, errlen);
}

int set_smtp_tls(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "may") == 0)
		cfg->smtp_tls = TERND_SMTP_TLS_MAY;
	else if (strcmp(value, "none") == 0)
		cfg->smtp_tls = TERND_SMTP_TLS_NONE;
	else if (strcmp(value, "verify") == 0)
		cfg->smtp_tls = TERND_SMTP_TLS_VERIFY;
	else
		return usage_fail(err, errlen, "--smtp-tls: '%s' is not may, none or verify", value);
	return TERND_EX_OK;
}

int set_smtp_ca(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_string(&cfg->smtp_ca, value, "--smtp-ca", err, errlen);
}

static int set_yes_no(bool *no, const char *value, const char *flag, char *err, size_t errlen)
{
	bool yes;

	if (parse_bool(value, &yes) != 0)
		return usage_fail(err, errlen, "%s: '%s' is not yes or no", flag, value);
	*no = !yes;
	return TERND_EX_OK;
}

int set_dane(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_yes_no(&cfg->no_dane, value, "--dane", err, errlen);
}

int set_mta_sts(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	return set_yes_no(&cfg->no_mta_sts, value, "--mta-sts", err, errlen);
}

int set_dns_trust_anchor(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (access(value, R_OK) != 0)
		return usage_fail(err, errlen, "--dns-trust-anchor: %s: %s", value, strerror(errno));
	return set_string(&cfg->dns_trust_anchor, value, "--dns-trust-anchor", err, errlen);
}

static void print_str(FILE *out, const char *key, const char *v, const char *dflt)
{
	if (v != NULL)
		fprintf(out, "%s = %s\n", key, v);
	else
		fprintf(out, "# %s = %s\n", key, dflt);
}

void ternd_config_print_outbound(const struct ternd_config *cfg, FILE *out)
{
	static const char *const smtp_tls[] = {"may", "none", "verify"};

	for (unsigned i = 0; i < cfg->domain_count; i++)
		fprintf(out, "domain = %s\n", cfg->domains[i]);
	if (cfg->domain_count == 0)
		fprintf(out, "# domain = (none: every recipient is local, nothing is relayed)\n");
	for (unsigned i = 0; i < cfg->relay_from_count; i++)
		fprintf(out, "relay-from = %s\n", cfg->relay_from[i]);
	if (cfg->relay_from_count == 0)
		fprintf(out, "# relay-from = (none: only authenticated clients relay)\n");
	print_str(out, "relayhost", cfg->relayhost, "(none: MX lookup)");
	fprintf(out, "relayhost-tls = %s\n", cfg->relayhost_tls_require ? "require" : "may");
	print_str(out, "relayhost-ca", cfg->relayhost_ca, "(the system's CAs)");
	print_str(out, "relayhost-auth", cfg->relayhost_auth, "(none: no AUTH to the relayhost)");
	print_str(out, "lmtp-to", cfg->lmtp_to, "(none: local domains go to the Maildir)");
	if (cfg->max_queue_size != 0)
		fprintf(out, "max-queue-size = %llu\n", (unsigned long long)cfg->max_queue_size);
	else
		fprintf(out, "# max-queue-size = 0 (no limit)\n");
	fprintf(out, "dest-concurrency = %u\n", cfg->dest_concurrency ? cfg->dest_concurrency : 20);
	fprintf(out, "dest-rate = %u/min\n", cfg->dest_rate);
	fprintf(out, "queue-lifetime = %us\n", cfg->queue_lifetime ? cfg->queue_lifetime : 432000);
	fprintf(out, "delay-warning = %us\n", cfg->delay_warning_set ? cfg->delay_warning : 14400);
	fprintf(out, "min-backoff = %us\n", cfg->min_backoff ? cfg->min_backoff : 300);
	fprintf(out, "max-backoff = %us\n", cfg->max_backoff ? cfg->max_backoff : 4000);
	fprintf(out, "smtp-port = %u\n", cfg->smtp_port ? cfg->smtp_port : 25);
	fprintf(out, "smtp-tls = %s\n", smtp_tls[cfg->smtp_tls]);
	print_str(out, "smtp-ca", cfg->smtp_ca, "(the system's CAs)");
	fprintf(out, "dane = %s\n", cfg->no_dane ? "no" : "yes");
	fprintf(out, "mta-sts = %s\n", cfg->no_mta_sts ? "no" : "yes");
	print_str(out, "dns-trust-anchor", cfg->dns_trust_anchor,
		  "(none: no DNSSEC validation)");
}

void ternd_config_free_outbound(struct ternd_config *cfg)
{
	clear_list(cfg->domains, &cfg->domain_count);
	clear_list(cfg->relay_from, &cfg->relay_from_count);
	free(cfg->relayhost);
	free(cfg->relayhost_ca);
	free(cfg->relayhost_auth);
	free(cfg->lmtp_to);
	free(cfg->smtp_ca);
	free(cfg->dns_trust_anchor);
	cfg->relayhost = cfg->relayhost_ca = cfg->relayhost_auth = cfg->lmtp_to = NULL;
	cfg->smtp_ca = cfg->dns_trust_anchor = NULL;
}

/* Routing and the queue are set up once, at start: every outbound
 * setting needs a restart. */
int ternd_config_keep_outbound(struct ternd_config *next, const struct ternd_config *running)
{
	if (keep_list(next->domains, &next->domain_count, running->domains, running->domain_count) ||
	    keep_list(next->relay_from, &next->relay_from_count, running->relay_from,
		      running->relay_from_count) ||
	    keep_str(&next->relayhost, running->relayhost) ||
	    keep_str(&next->relayhost_ca, running->relayhost_ca) ||
	    keep_str(&next->relayhost_auth, running->relayhost_auth) ||
	    keep_str(&next->lmtp_to, running->lmtp_to) || keep_str(&next->smtp_ca, running->smtp_ca) ||
	    keep_str(&next->dns_trust_anchor, running->dns_trust_anchor))
		return -1;
	next->relayhost_tls_require = running->relayhost_tls_require;
	next->max_queue_size = running->max_queue_size;
	next->dest_concurrency = running->dest_concurrency;
	next->dest_rate = running->dest_rate;
	next->queue_lifetime = running->queue_lifetime;
	next->delay_warning = running->delay_warning;
	next->delay_warning_set = running->delay_warning_set;
	next->min_backoff = running->min_backoff;
	next->max_backoff = running->max_backoff;
	next->smtp_port = running->smtp_port;
	next->smtp_tls = running->smtp_tls;
	next->no_dane = running->no_dane;
	next->no_mta_sts = running->no_mta_sts;
	return 0;
}
