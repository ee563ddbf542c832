/* The client engine: parameter copies, the call order every mechanism
 * shares, and the cleansing of secrets. */
#include "sasl/client.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sasl/crypto.h"
#include "sasl/prep.h"

static const struct tern__sasl_client_mech *const mechs[TERN__SASL_MECH_COUNT] = {
	[TERN__SASL_PLAIN] = &tern__sasl_plain_client,
	[TERN__SASL_LOGIN] = &tern__sasl_login_client,
	[TERN__SASL_CRAM_MD5] = &tern__sasl_cram_md5_client,
	[TERN__SASL_SCRAM_SHA_256] = &tern__sasl_scram_client,
	[TERN__SASL_SCRAM_SHA_256_PLUS] = &tern__sasl_scram_client,
	[TERN__SASL_XOAUTH2] = &tern__sasl_xoauth2_client,
	[TERN__SASL_OAUTHBEARER] = &tern__sasl_oauthbearer_client,
	[TERN__SASL_EXTERNAL] = &tern__sasl_external_client,
};



/* Which credentials each mechanism cannot do without. */
static bool has_needs(enum tern__sasl_mech mech, const struct tern__sasl_client_params *p)
{
	switch (mech) {
	case TERN__SASL_PLAIN:
	case TERN__SASL_LOGIN:
	case TERN__SASL_CRAM_MD5:
	case TERN__SASL_SCRAM_SHA_256:
	case TERN__SASL_SCRAM_SHA_256_PLUS:
		return p->authcid && p->authcid[0] && p->password;
	case TERN__SASL_XOAUTH2:
		return p->authcid && p->authcid[0] && p->token && p->token[0];
	case TERN__SASL_OAUTHBEARER:
		return p->token && p->token[0];
	case TERN__SASL_EXTERNAL:
	default:
		return true;
	}
}

int tern__sasl_client_new(struct tern__sasl_client **c_r, enum tern__sasl_mech mech,
			  const struct tern__sasl_client_params *p)
{
	struct tern__sasl_client *c;
	const unsigned char *cb = NULL;
	size_t cb_len = 0;

	if (c_r == NULL)
		return TERN_EINVAL;
	*c_r = NULL;
	if (p == NULL || (int)mech < 0 || mech >= TERN__SASL_MECH_COUNT || !has_needs(mech, p))
		return TERN_EINVAL;
	if (p->test_nonce != NULL &&
	    (p->test_nonce[0] == '\0' ||
	     !tern__sasl_printable_ok((const unsigned char *)p->test_nonce, strlen(p->test_nonce))))
		return TERN_EINVAL;
	if (p->cb_type == TERN__SASL_CB_TLS_EXPORTER) {
		cb = p->cb.tls_exporter;
		cb_len = p->cb.tls_exporter_len;
	} else if (p->cb_type == TERN__SASL_CB_TLS_SERVER_END_POINT) {
		cb = p->cb.tls_server_end_point;
		cb_len = p->cb.tls_server_end_point_len;
	} else {
		return TERN_EINVAL;
	}
	if (cb == NULL)
		cb_len = 0;
	if (mech == TERN__SASL_SCRAM_SHA_256_PLUS && cb_len == 0)
		return TERN_EINVAL;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return TERN_ENOMEM;
	c->mech = mech;
	c->m = mechs[mech];
	c->port = p->port;
	c->cb_type = p->cb_type;
	c->has_cb = (p->cb.tls_exporter && p->cb.tls_exporter_len) ||
		    (p->cb.tls_server_end_point && p->cb.tls_server_end_point_len);
	c->max_message = p->max_message ? p->max_message : TERN__SASL_MAX_MESSAGE;
	if (cb_len) {
		c->cb_data = malloc(cb_len);
		if (c->cb_data == NULL)
			goto oom;
		memcpy(c->cb_data, cb, cb_len);
		c->cb_len = cb_len;
	}
	if (!tern__sasl_copy_str(&c->authcid, p->authcid) || !tern__sasl_copy_str(&c->authzid, p->authzid) ||
	    !tern__sasl_copy_str(&c->password, p->password) || !tern__sasl_copy_str(&c->token, p->token) ||
	    !tern__sasl_copy_str(&c->host, p->host) || !tern__sasl_copy_str(&c->test_nonce, p->test_nonce))
		goto oom;
	*c_r = c;
	return 0;
oom:
	tern__sasl_client_free(&c);
	return TERN_ENOMEM;
}

static void clear_output(struct tern__sasl_client *c)
{
	tern__sasl_free_secret(c->out, c->out_len);
	c->out = NULL;
	c->out_len = 0;
}

void tern__sasl_client_output_take(struct tern__sasl_client *c, unsigned char *p, size_t len)
{
	clear_output(c);
	c->out = p;
	c->out_len = len;
}

int tern__sasl_client_output(struct tern__sasl_client *c, const void *p, size_t len)
{
	unsigned char *q = malloc(len + 1);

	if (q == NULL)
		return TERN_ENOMEM;
	if (len)
		memcpy(q, p, len);
	tern__sasl_client_output_take(c, q, len);
	return 0;
}

static int finish(struct tern__sasl_client *c, int rc, const void **out_r, size_t *out_len_r)
{
	if (rc < 0 || rc == TERN__SASL_CLIENT_ERROR) {
		c->failed = true;
		c->complete = false;
		clear_output(c);
	} else if (rc == TERN__SASL_CLIENT_RESPONSE || rc == 1) {
		c->sent++;
	}
	*out_r = c->out ? c->out : (const void *)"";
	*out_len_r = c->out_len;
	return rc;
}

int tern__sasl_client_initial_response(struct tern__sasl_client *c, const void **out_r,
				       size_t *out_len_r)
{
	if (c == NULL || out_r == NULL || out_len_r == NULL)
		return TERN_EINVAL;
	*out_r = "";
	*out_len_r = 0;
	if (c->failed || c->sent > 0 || c->asked_initial)
		return TERN_ESTATE;
	c->asked_initial = true;
	clear_output(c);
	return finish(c, c->m->initial(c), out_r, out_len_r);
}

int tern__sasl_client_step(struct tern__sasl_client *c, const void *in, size_t in_len,
			   const void **out_r, size_t *out_len_r)
{
	if (c == NULL || out_r == NULL || out_len_r == NULL || (in == NULL && in_len > 0))
		return TERN_EINVAL;
	*out_r = "";
	*out_len_r = 0;
	if (c->failed)
		return TERN_ESTATE;
	clear_output(c);
	if (in_len > c->max_message)
		return finish(c, TERN__SASL_CLIENT_ERROR, out_r, out_len_r);
	return finish(c, c->m->step(c, in_len ? in : (const void *)"", in_len), out_r,
		      out_len_r);
}

bool tern__sasl_client_complete(const struct tern__sasl_client *c)
{
	return c != NULL && !c->failed && c->complete;
}

void tern__sasl_client_free(struct tern__sasl_client **cp)
{
	struct tern__sasl_client *c;

	if (cp == NULL || *cp == NULL)
		return;
	c = *cp;
	if (c->m != NULL && c->m->free != NULL)
		c->m->free(c);
	clear_output(c);
	tern__sasl_free_str(c->authcid);
	tern__sasl_free_str(c->authzid);
	tern__sasl_free_str(c->password);
	tern__sasl_free_str(c->token);
	tern__sasl_free_str(c->host);
	tern__sasl_free_str(c->test_nonce);
	tern__sasl_free_secret(c->cb_data, c->cb_len);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
	*cp = NULL;
}
