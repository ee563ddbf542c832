/* PLAIN (RFC 4616), server and client.
 *   message   = [authzid] UTF8NUL authcid UTF8NUL passwd
 *   authcid   = 1*SAFE ; MUST accept up to 255 octets
 *   authzid   = 1*SAFE ; MUST accept up to 255 octets
 *   passwd    = 1*SAFE ; MUST accept up to 255 octets
 *   SAFE      = UTF1 / UTF2 / UTF3 / UTF4 ;; any UTF-8 encoded Unicode character except NUL
 * The 255 is a floor, not a cap: the engine's message limit bounds it. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sasl/client.h"
#include "sasl/prep.h"
#include "sasl/server.h"

static int plain_step(struct tern__sasl_server *s, const unsigned char *in, size_t len,
		      bool have_input)
{
	const unsigned char *nul1, *nul2, *authcid, *pass;
	size_t zlen, clen, plen;

	/* RFC 4422 5: "the server ... sends an initial challenge with no
	 * data" when the client gave no initial response. */
	if (!have_input)
		return tern__sasl_server_output(s, "", 0) ? TERN_ENOMEM : TERN__SASL_CHALLENGE;
	nul1 = memchr(in, 0, len);
	if (nul1 == NULL)
		return TERN__SASL_MALFORMED;
	authcid = nul1 + 1;
	nul2 = memchr(authcid, 0, len - (size_t)(authcid - in));
	if (nul2 == NULL)
		return TERN__SASL_MALFORMED;
	pass = nul2 + 1;
	zlen = (size_t)(nul1 - in);
	clen = (size_t)(nul2 - authcid);
	plen = len - (size_t)(pass - in);
	/* A third NUL would be inside passwd, where SAFE excludes it. */
	if (clen == 0 || plen == 0 || memchr(pass, 0, plen) != NULL)
		return TERN__SASL_MALFORMED;
	/* RFC 4616 2: "The authorization identity (authzid), authentication
	 * identity (authcid), password (passwd), and NUL character deliminators
	 * SHALL be transferred as [UTF-8] encoded strings"; 4: the server
	 * prepares authcid and passwd with SASLprep and fails on a prohibited
	 * character (see prep.c for how far we go). */
	if (!tern__sasl_utf8_ok(in, zlen) || !tern__sasl_prep_ok(authcid, clen) ||
	    !tern__sasl_prep_ok(pass, plen))
		return TERN__SASL_MALFORMED;
	if ((zlen && (s->cred.authzid = tern__sasl_server_keep(s, TERN__SASL_SLOT_AUTHZID, in,
							       zlen)) == NULL) ||
	    (s->cred.authcid = tern__sasl_server_keep(s, TERN__SASL_SLOT_AUTHCID, authcid,
						      clen)) == NULL ||
	    (s->cred.password = tern__sasl_server_keep(s, TERN__SASL_SLOT_PASSWORD, pass,
						       plen)) == NULL)
		return TERN_ENOMEM;
	return TERN__SASL_CHECK;
}

const struct tern__sasl_server_mech tern__sasl_plain_server = {.step = plain_step};

static int plain_message(struct tern__sasl_client *c)
{
	size_t z = c->authzid ? strlen(c->authzid) : 0, a = strlen(c->authcid),
	       p = strlen(c->password);
	unsigned char *m = malloc(z + a + p + 3);

	if (m == NULL)
		return TERN_ENOMEM;
	memcpy(m, c->authzid ? c->authzid : "", z);
	m[z] = 0;
	memcpy(m + z + 1, c->authcid, a);
	m[z + 1 + a] = 0;
	memcpy(m + z + a + 2, c->password, p);
	tern__sasl_client_output_take(c, m, z + a + p + 2);
	/* The server decides from here on; the client has nothing to check. */
	c->complete = true;
	return TERN__SASL_CLIENT_RESPONSE;
}

static int plain_initial(struct tern__sasl_client *c)
{
	return plain_message(c);
}

static int plain_client_step(struct tern__sasl_client *c, const unsigned char *in, size_t len)
{
	(void)in;
	/* Only the empty challenge that asks for the message is expected. */
	if (c->sent > 0 || len > 0)
		return TERN__SASL_CLIENT_ERROR;
	return plain_message(c);
}

const struct tern__sasl_client_mech tern__sasl_plain_client = {
	.initial = plain_initial,
	.step = plain_client_step,
};
