/* The inbound-check settings of ternd's configuration (docs/mail-auth.md):
 * which messages get SPF, DKIM and DMARC, what a DMARC failure does, and
 * the authserv-id of the Authentication-Results fields ternd adds. */
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

int set_auth_checks(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "yes") == 0)
		cfg->auth_checks = TERND_CHECKS_YES;
	else if (strcmp(value, "no") == 0)
		cfg->auth_checks = TERND_CHECKS_NO;
	else if (strcmp(value, "always") == 0)
		cfg->auth_checks = TERND_CHECKS_ALWAYS;
	else
		return usage_fail(err, errlen, "--auth-checks: '%s' is not yes, no or always", value);
	return TERND_EX_OK;
}

int set_dmarc_policy(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "enforce") == 0)
		cfg->dmarc_policy = TERND_DMARC_ENFORCE;
	else if (strcmp(value, "quarantine") == 0)
		cfg->dmarc_policy = TERND_DMARC_QUARANTINE;
	else if (strcmp(value, "annotate") == 0)
		cfg->dmarc_policy = TERND_DMARC_ANNOTATE;
	else
		return usage_fail(err, errlen,
				  "--dmarc-policy: '%s' is not enforce, quarantine or annotate", value);
	return TERND_EX_OK;
}

/* RFC 8601 2.5: the authserv-id is a domain name (a value token). */
int set_authserv_id(struct ternd_config *cfg, const char *value, char *err, size_t errlen)
{
	size_t len = strlen(value);

	if (len == 0 || len > 253)
		return usage_fail(err, errlen, "--authserv-id: '%s' is not a host name", value);
	for (size_t i = 0; i < len; i++) {
		char c = value[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return usage_fail(err, errlen, "--authserv-id: '%s' is not a host name",
					  value);
	}
	return set_string(&cfg->authserv_id, value, "--authserv-id", err, errlen);
}

void ternd_config_print_checks(const struct ternd_config *cfg, FILE *out)
{
	static const char *const checks[] = {"yes", "no", "always"};
	static const char *const policies[] = {"enforce", "quarantine", "annotate"};

	fprintf(out, "auth-checks = %s\n", checks[cfg->auth_checks]);
	fprintf(out, "dmarc-policy = %s\n", policies[cfg->dmarc_policy]);
	if (cfg->authserv_id != NULL)
		fprintf(out, "authserv-id = %s\n", cfg->authserv_id);
	else
		fprintf(out, "# authserv-id = (the host name)\n");
}

/* The checks are set up with the listeners: a change needs a restart. */
int ternd_config_keep_checks(struct ternd_config *next, const struct ternd_config *running)
{
	next->auth_checks = running->auth_checks;
	next->dmarc_policy = running->dmarc_policy;
	return keep_str(&next->authserv_id, running->authserv_id);
}
