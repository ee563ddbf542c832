/* The domain settings of ternd's configuration (docs/domains.md): where
 * ternd serves the MTA-STS policies that `ternd domain add` writes. The
 * options table in config.c names these setters. */
#include <stdlib.h>

#include "config_int.h"

/* ADDR:PORT as --metrics takes it; unlike --metrics it is meant for the
 * world (port 443 of the host mta-sts.DOMAIN points at). */
int set_mta_sts_listen(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	char host[64];
	unsigned port;
	int loopback;

	if (ternd_metrics_addr(value, host, sizeof(host), &port, &loopback, err, errlen) != 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", err);
		return usage_fail(err, errlen, "--mta-sts-listen: %s", why);
	}
	return set_string(&cfg->mta_sts_listen, value, "--mta-sts-listen", err, errlen);
}

void ternd_config_print_domain(const struct ternd_config *cfg, FILE *out)
{
	if (cfg->mta_sts_listen != NULL)
		fprintf(out, "mta-sts-listen = %s\n", cfg->mta_sts_listen);
	else
		fprintf(out, "# mta-sts-listen = (none: MTA-STS policies are not served)\n");
}

void ternd_config_free_domain(struct ternd_config *cfg)
{
	free(cfg->mta_sts_listen);
	cfg->mta_sts_listen = NULL;
}

/* The listener is bound once, as root: a change needs a restart. */
int ternd_config_keep_domain(struct ternd_config *next, const struct ternd_config *running)
{
	return keep_str(&next->mta_sts_listen, running->mta_sts_listen);
}
