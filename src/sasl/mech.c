/* Mechanism names (RFC 4422 3.1) and the one property protocols ask. */
#include <string.h>
#include <strings.h>

#include "sasl/sasl.h"

static const char *const names[TERN__SASL_MECH_COUNT] = {
	[TERN__SASL_PLAIN] = "PLAIN",
	[TERN__SASL_LOGIN] = "LOGIN",
	[TERN__SASL_CRAM_MD5] = "CRAM-MD5",
	[TERN__SASL_SCRAM_SHA_256] = "SCRAM-SHA-256",
	[TERN__SASL_SCRAM_SHA_256_PLUS] = "SCRAM-SHA-256-PLUS",
	[TERN__SASL_XOAUTH2] = "XOAUTH2",
	[TERN__SASL_OAUTHBEARER] = "OAUTHBEARER",
	[TERN__SASL_EXTERNAL] = "EXTERNAL",
};

int tern__sasl_mech_lookup(const char *name, size_t len)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < TERN__SASL_MECH_COUNT; i++) {
		if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0)
			return i;
	}
	return -1;
}

const char *tern__sasl_mech_name(enum tern__sasl_mech mech)
{
	if ((int)mech < 0 || mech >= TERN__SASL_MECH_COUNT)
		return NULL;
	return names[mech];
}

bool tern__sasl_mech_client_first(enum tern__sasl_mech mech)
{
	/* RFC 2195 2: CRAM-MD5 starts with the server's challenge. */
	return mech != TERN__SASL_CRAM_MD5;
}
