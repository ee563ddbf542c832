/* LOGIN (draft-murchison-sasl-login-00), server and client. The server
 * prompts "Username:" and "Password:", as deployed servers do (the draft
 * words its prompts differently and clients do not read them), and the
 * client answers in that order. */
#include <stdlib.h>
#include <string.h>

#include "sasl/client.h"
#include "sasl/prep.h"
#include "sasl/server.h"

static const char username_prompt[] = "Username:";
static const char password_prompt[] = "Password:";

static int prompt(struct tern__sasl_server *s, const char *p)
{
	return tern__sasl_server_output(s, p, strlen(p)) ? TERN_ENOMEM : TERN__SASL_CHALLENGE;
}

static int login_step(struct tern__sasl_server *s, const unsigned char *in, size_t len,
		      bool have_input)
{
	if (!have_input)
		return prompt(s, username_prompt);
	if (memchr(in, 0, len) != NULL || !tern__sasl_prep_ok(in, len))
		return TERN__SASL_MALFORMED;
	/* COMPROMISE: LOGIN has no initial response in the draft, but
	 * Outlook and others send the user name as one (AUTH LOGIN dXNlcg==),
	 * and Postfix, Exim and Dovecot accept it. So does this. */
	if (s->cred.authcid == NULL) {
		if (len == 0)
			return TERN__SASL_MALFORMED;
		if ((s->cred.authcid = tern__sasl_server_keep(s, TERN__SASL_SLOT_AUTHCID, in,
							      len)) == NULL)
			return TERN_ENOMEM;
		return prompt(s, password_prompt);
	}
	/* An empty password is a wrong password, not a grammar error. */
	if (len == 0)
		return TERN__SASL_FAILURE;
	if ((s->cred.password = tern__sasl_server_keep(s, TERN__SASL_SLOT_PASSWORD, in, len)) ==
	    NULL)
		return TERN_ENOMEM;
	return TERN__SASL_CHECK;
}

const struct tern__sasl_server_mech tern__sasl_login_server = {.step = login_step};

static int login_initial(struct tern__sasl_client *c)
{
	(void)c;
	return 0;
}

static int login_client_step(struct tern__sasl_client *c, const unsigned char *in, size_t len)
{
	(void)in;
	(void)len;
	/* The prompts' text is not checked: servers word it differently. */
	if (c->sent == 0)
		return tern__sasl_client_output(c, c->authcid, strlen(c->authcid))
			       ? TERN_ENOMEM
			       : TERN__SASL_CLIENT_RESPONSE;
	if (c->sent == 1) {
		c->complete = true;
		return tern__sasl_client_output(c, c->password, strlen(c->password))
			       ? TERN_ENOMEM
			       : TERN__SASL_CLIENT_RESPONSE;
	}
	return TERN__SASL_CLIENT_ERROR;
}

const struct tern__sasl_client_mech tern__sasl_login_client = {
	.initial = login_initial,
	.step = login_client_step,
};
