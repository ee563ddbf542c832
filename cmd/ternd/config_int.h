/* Private to the configuration files (config.c, config_outbound.c): the
 * helpers every setter uses, and the setters the options table in config.c
 * names from the other files. Each returns TERND_EX_OK or TERND_EX_USAGE
 * with err filled, unless it says otherwise. */
#ifndef TERND_CONFIG_INT_H
#define TERND_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

__attribute__((format(printf, 3, 4))) int usage_fail(char *err, size_t errlen, const char *fmt,
						      ...);
int set_string(char **dst, const char *value, const char *what, char *err, size_t errlen);
/* Unsigned decimal, digits only, at most max: 0, EINVAL or ERANGE. */
int parse_uint(const char *value, uint64_t max, uint64_t *out);
int set_uint(unsigned *dst, const char *value, const char *what, unsigned min, unsigned max,
	     char *err, size_t errlen);
/* yes/no words: 0 or EINVAL. */
int parse_bool(const char *value, bool *out);
/* BYTES with an optional K/M/G suffix. */
int parse_size(const char *value, const char *flag, uint64_t *out, char *err, size_t errlen);
int list_append(char **list, unsigned *count, unsigned max, const char *value, const char *flag,
		const char *what, char *err, size_t errlen);
/* NETWORK[,NETWORK...], each checked. */
int add_networks(char **list, unsigned *count, unsigned max, const char *flag,
		 const char *value, char *err, size_t errlen);
void clear_list(char **list, unsigned *count);
/* SIGHUP's ternd_config_keep_fixed: dst becomes a copy of src. 0, or -1
 * out of memory. */
int keep_str(char **dst, const char *src);
int keep_list(char **dst, unsigned *dst_count, char *const *src, unsigned src_count);

/* ---- config_outbound.c ---- */
int set_domain(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_relay_from(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_relayhost(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_relayhost_tls(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_relayhost_ca(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_relayhost_auth(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_lmtp_to(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_max_queue_size(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_dest_concurrency(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_dest_rate(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_queue_lifetime(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_delay_warning(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_min_backoff(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_max_backoff(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_smtp_port(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_smtp_tls(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_smtp_ca(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_dane(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_mta_sts(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_dns_trust_anchor(struct ternd_config *cfg, const char *value, char *err, size_t errlen);

/* ---- config_checks.c ---- */
int set_auth_checks(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_dmarc_policy(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
int set_authserv_id(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
void ternd_config_print_checks(const struct ternd_config *cfg, FILE *out);
int ternd_config_keep_checks(struct ternd_config *next, const struct ternd_config *running);

/* ---- config_domain.c ---- */
int set_mta_sts_listen(struct ternd_config *cfg, const char *value, char *err, size_t errlen);
void ternd_config_print_domain(const struct ternd_config *cfg, FILE *out);
void ternd_config_free_domain(struct ternd_config *cfg);
int ternd_config_keep_domain(struct ternd_config *next, const struct ternd_config *running);

/* The outbound part of --check-config's output, of ternd_config_free and
 * of ternd_config_keep_fixed. */
void ternd_config_print_outbound(const struct ternd_config *cfg, FILE *out);
void ternd_config_free_outbound(struct ternd_config *cfg);
int ternd_config_keep_outbound(struct ternd_config *next, const struct ternd_config *running);

#endif
