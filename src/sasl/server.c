/* The server engine: parameter copies, the phase machine every mechanism
 * shares, and the cleansing of secrets. The mechanisms live in mech_*.c
 * and scram_server.c. */
#include "sasl/server.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sasl/crypto.h"
#include "sasl/prep.h"

static const struct tern__sasl_server_mech *const mechs[TERN__SASL_MECH_COUNT] = {
	[TERN__SASL_PLAIN] = &tern__sasl_plain_server,
	[TERN__SASL_LOGIN] = &tern__sasl_login_server,
	[TERN__SASL_CRAM_MD5] = &tern__sasl_cram_md5_server,
	[TERN__SASL_SCRAM_SHA_256] = &tern__sasl_scram_server,
	[TERN__SASL_SCRAM_SHA_256_PLUS] = &tern__sasl_scram_server,
	[TERN__SASL_XOAUTH2] = &tern__sasl_xoauth2_server,
	[TERN__SASL_OAUTHBEARER] = &tern__sasl_oauthbearer_server,
	[TERN__SASL_EXTERNAL] = &tern__sasl_external_server,
};

static void *memdup_z(const void *p, size_t len)
{
	char *q = malloc(len + 1);

	if (q == NULL)
		return NULL;
	if (len)
		memcpy(q, p, len);
	q[len] = '\0';
	return q;
}



static bool copy_bytes(unsigned char **dst, size_t *dst_len, const unsigned char *src, size_t n)
{
	if (src == NULL || n == 0)
		return true;
	*dst = memdup_z(src, n);
	*dst_len = n;
	return *dst != NULL;
}

static bool str_ok(const char *p, bool (*valid)(const unsigned char *, size_t))
{
	return p == NULL || (p[0] != '\0' && valid((const unsigned char *)p, strlen(p)));
}

int tern__sasl_server_new(struct tern__sasl_server **s_r, enum tern__sasl_mech mech,
			  const struct tern__sasl_server_params *params)
{
	struct tern__sasl_server *s;

	if (s_r == NULL)
		return TERN_EINVAL;
	*s_r = NULL;
	if (params == NULL || (int)mech < 0 || mech >= TERN__SASL_MECH_COUNT)
		return TERN_EINVAL;
	/* The test nonce and the host name end up inside CRAM-MD5's msg-id
	 * challenge "<nonce@host>" and SCRAM's "r=": printable, no ",". */
	if (!str_ok(params->test_nonce, tern__sasl_printable_ok) ||
	    (params->test_nonce && strpbrk(params->test_nonce, "<>@")) ||
	    !str_ok(params->hostname, tern__sasl_printable_ok) ||
	    (params->hostname && strpbrk(params->hostname, "<>@")) ||
	    !str_ok(params->external_identity, tern__sasl_prep_ok) ||
	    !str_ok(params->oauth_error_json, tern__sasl_utf8_ok))
		return TERN_EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return TERN_ENOMEM;
	s->mech = mech;
	s->m = mechs[mech];
	s->phase = TERN__SASL_PHASE_INPUT;
	s->cred.mech = mech;
	s->plus_offered = params->plus_offered;
	s->max_message = params->max_message ? params->max_message : TERN__SASL_MAX_MESSAGE;
	s->fake_iterations = params->scram_fake_iterations ? params->scram_fake_iterations
							   : TERN__SASL_SCRAM_FAKE_ITERATIONS;
	/* The host name ends up inside CRAM-MD5's msg-id challenge. */
	if (!tern__sasl_copy_str(&s->hostname, params->hostname ? params->hostname : "localhost") ||
	    !tern__sasl_copy_str(&s->external_identity, params->external_identity) ||
	    !tern__sasl_copy_str(&s->oauth_error_json, params->oauth_error_json) ||
	    !tern__sasl_copy_str(&s->test_nonce, params->test_nonce) ||
	    !copy_bytes(&s->cb_exporter, &s->cb_exporter_len, params->cb.tls_exporter,
			params->cb.tls_exporter_len) ||
	    !copy_bytes(&s->cb_endpoint, &s->cb_endpoint_len, params->cb.tls_server_end_point,
			params->cb.tls_server_end_point_len) ||
	    !copy_bytes(&s->fake_key, &s->fake_key_len, params->scram_fake_key,
			params->scram_fake_key_len)) {
		tern__sasl_server_free(&s);
		return TERN_ENOMEM;
	}
	*s_r = s;
	return 0;
}

char *tern__sasl_server_keep(struct tern__sasl_server *s, enum tern__sasl_slot slot,
			     const void *p, size_t len)
{
	tern__sasl_free_secret(s->slot[slot], s->slot_len[slot]);
	s->slot[slot] = memdup_z(p, len);
	s->slot_len[slot] = s->slot[slot] ? len : 0;
	return s->slot[slot];
}

static void clear_output(struct tern__sasl_server *s)
{
	tern__sasl_free_secret(s->out, s->out_len);
	s->out = NULL;
	s->out_len = 0;
}

int tern__sasl_server_output(struct tern__sasl_server *s, const void *p, size_t len)
{
	unsigned char *q = memdup_z(p, len);

	if (q == NULL)
		return TERN_ENOMEM;
	tern__sasl_server_output_take(s, q, len);
	return 0;
}

void tern__sasl_server_output_take(struct tern__sasl_server *s, unsigned char *p, size_t len)
{
	clear_output(s);
	s->out = p;
	s->out_len = len;
}

/* One place moves the phase, so a mechanism only says what happened. */
static int finish(struct tern__sasl_server *s, int rc, const void **out_r, size_t *out_len_r)
{
	s->last = rc;
	if (rc < 0 || rc == TERN__SASL_SUCCESS || rc == TERN__SASL_FAILURE ||
	    rc == TERN__SASL_MALFORMED)
		s->phase = TERN__SASL_PHASE_DONE;
	else if (rc == TERN__SASL_CHECK)
		s->phase = TERN__SASL_PHASE_CHECK;
	else
		s->phase = TERN__SASL_PHASE_INPUT;
	if (rc < 0 || rc == TERN__SASL_CHECK || rc == TERN__SASL_MALFORMED)
		clear_output(s);
	*out_r = s->out ? s->out : (const void *)"";
	*out_len_r = s->out_len;
	return rc;
}

static int start_call(struct tern__sasl_server *s, enum tern__sasl_phase want,
		      const void **out_r, size_t *out_len_r)
{
	if (s == NULL || out_r == NULL || out_len_r == NULL)
		return TERN_EINVAL;
	*out_r = "";
	*out_len_r = 0;
	if (s->phase != want)
		return TERN_ESTATE;
	clear_output(s);
	return 0;
}

int tern__sasl_server_step(struct tern__sasl_server *s, const void *in, size_t in_len,
			   bool have_input, const void **out_r, size_t *out_len_r)
{
	int rc = start_call(s, TERN__SASL_PHASE_INPUT, out_r, out_len_r);

	if (rc != 0)
		return rc;
	if (have_input && in == NULL && in_len > 0)
		return TERN_EINVAL;
	/* Only the first call may come without a client message. */
	if (!have_input && s->round > 0)
		return TERN_EINVAL;
	s->round++;
	if (!have_input)
		in_len = 0;
	if (in_len > s->max_message)
		return finish(s, TERN__SASL_MALFORMED, out_r, out_len_r);
	rc = s->m->step(s, in_len ? in : (const void *)"", in_len, have_input);
	return finish(s, rc, out_r, out_len_r);
}

const struct tern__sasl_credentials *tern__sasl_server_credentials(const struct tern__sasl_server *s)
{
	if (s == NULL)
		return NULL;
	if (s->phase == TERN__SASL_PHASE_CHECK ||
	    (s->phase == TERN__SASL_PHASE_DONE && s->last == TERN__SASL_SUCCESS))
		return &s->cred;
	return NULL;
}

int tern__sasl_server_checked(struct tern__sasl_server *s, bool ok, const void **out_r,
			      size_t *out_len_r)
{
	int rc = start_call(s, TERN__SASL_PHASE_CHECK, out_r, out_len_r);

	if (rc != 0)
		return rc;
	if (s->m->checked != NULL)
		rc = s->m->checked(s, ok);
	else
		rc = ok ? TERN__SASL_SUCCESS : TERN__SASL_FAILURE;
	return finish(s, rc, out_r, out_len_r);
}

int tern__sasl_server_set_scram_keys(struct tern__sasl_server *s,
				     const struct tern__sasl_scram_keys *keys, const void **out_r,
				     size_t *out_len_r)
{
	int rc = start_call(s, TERN__SASL_PHASE_CHECK, out_r, out_len_r);

	if (rc != 0)
		return rc;
	if (s->m->scram_keys == NULL)
		return TERN_ESTATE;
	if (keys == NULL || keys->salt == NULL || keys->salt_len == 0 || keys->iterations < 1)
		return TERN_EINVAL;
	rc = s->m->scram_keys(s, keys);
	return finish(s, rc, out_r, out_len_r);
}

int tern__sasl_server_unknown_user(struct tern__sasl_server *s, const void **out_r,
				   size_t *out_len_r)
{
	int rc = start_call(s, TERN__SASL_PHASE_CHECK, out_r, out_len_r);

	if (rc != 0)
		return rc;
	if (s->m->unknown_user == NULL)
		return TERN_ESTATE;
	rc = s->m->unknown_user(s);
	return finish(s, rc, out_r, out_len_r);
}

void tern__sasl_server_free(struct tern__sasl_server **sp)
{
	struct tern__sasl_server *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	if (s->m != NULL && s->m->free != NULL)
		s->m->free(s);
	for (int i = 0; i < TERN__SASL_SLOT_COUNT; i++)
		tern__sasl_free_secret(s->slot[i], s->slot_len[i]);
	clear_output(s);
	tern__sasl_free_str(s->hostname);
	tern__sasl_free_str(s->external_identity);
	tern__sasl_free_str(s->oauth_error_json);
	tern__sasl_free_str(s->test_nonce);
	tern__sasl_free_secret(s->cb_exporter, s->cb_exporter_len);
	tern__sasl_free_secret(s->cb_endpoint, s->cb_endpoint_len);
	tern__sasl_free_secret(s->fake_key, s->fake_key_len);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	*sp = NULL;
}
