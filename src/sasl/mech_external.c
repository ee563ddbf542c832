/* EXTERNAL (RFC 4422 appendix A), server and client. The identity comes
 * from outside SASL (a verified TLS client certificate, chosen by the
 * embedder); the client only says which authorization identity it wants.
 *   external-initial-resp = [ authz-id-string ]
 *   authz-id-string       = 1*( UTF8-char-no-nul ) */
#include <string.h>

#include "sasl/client.h"
#include "sasl/prep.h"
#include "sasl/server.h"

static int external_step(struct tern__sasl_server *s, const unsigned char *in, size_t len,
			 bool have_input)
{
	if (!have_input)
		return tern__sasl_server_output(s, "", 0) ? TERN_ENOMEM : TERN__SASL_CHALLENGE;
	if (!tern__sasl_utf8_ok(in, len))
		return TERN__SASL_MALFORMED;
	/* RFC 4422 A.1: the server decides from information external to
	 * SASL; without a verified identity there is nothing to authorize,
	 * so the exchange fails. */
	if (s->external_identity == NULL)
		return TERN__SASL_FAILURE;
	s->cred.identity = s->external_identity;
	if (len && (s->cred.authzid = tern__sasl_server_keep(s, TERN__SASL_SLOT_AUTHZID, in,
							     len)) == NULL)
		return TERN_ENOMEM;
	return TERN__SASL_CHECK;
}

const struct tern__sasl_server_mech tern__sasl_external_server = {.step = external_step};

static int external_message(struct tern__sasl_client *c)
{
	const char *z = c->authzid ? c->authzid : "";

	c->complete = true;
	return tern__sasl_client_output(c, z, strlen(z)) ? TERN_ENOMEM
							 : TERN__SASL_CLIENT_RESPONSE;
}

static int external_initial(struct tern__sasl_client *c)
{
	return external_message(c);
}

static int external_client_step(struct tern__sasl_client *c, const unsigned char *in,
				size_t len)
{
	(void)in;
	if (c->sent > 0 || len > 0)
		return TERN__SASL_CLIENT_ERROR;
	return external_message(c);
}

const struct tern__sasl_client_mech tern__sasl_external_client = {
	.initial = external_initial,
	.step = external_client_step,
};
