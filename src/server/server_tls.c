/* The server's TLS settings: copies of the paths, the contexts built from
 * them, and reloading them (SIGHUP in ternd) while connections live on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "server/server_tls.h"

static void free_list(char ***lp)
{
	for (char **p = *lp; p && *p; p++)
		free(*p);
	free(*lp);
	*lp = NULL;
}

static int copy_list(char ***dst, const char *const *src, size_t *n_r)
{
	size_t n = 0;

	while (src && src[n])
		n++;
	*dst = calloc(n + 1, sizeof(char *));
	if (*dst == NULL)
		return TERN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		(*dst)[i] = strdup(src[i]);
		if ((*dst)[i] == NULL)
			return TERN_ENOMEM;
	}
	*n_r = n;
	return 0;
}

static int copy_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : TERN_ENOMEM;
}

/* Builds contexts from the stored settings; logs why it cannot. */
static int build(tern_smtp_server *s, struct tern__tls_server **t_r)
{
	struct tern__tls_config tc = {
		.cert_files = (const char *const *)s->tls_certs,
		.key_files = (const char *const *)s->tls_keys,
		.n_certs = s->n_certs,
		.min_version = s->tls_min_version,
		.ciphers = s->tls_ciphers,
		.ciphersuites = s->tls_ciphersuites,
		.client_ca_file = s->tls_client_ca,
	};
	char err[512];
	int r = tern__tls_server_new(t_r, &tc, err, sizeof(err));

	if (r == TERN_EINVAL)
		tern__server_logs(s, TERN_LOG_ERROR, "TLS: %s", err);
	return r;
}

static bool same_str(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

bool tern__server_tls_same(const tern_smtp_server *s, const tern_smtp_options *opts)
{
	size_t n = 0;
	int min = opts->tls_min_version == TERN_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;

	if (opts->tls_cert_files == NULL || opts->tls_cert_files[0] == NULL)
		return !s->tls_on;
	if (!s->tls_on || min != s->tls_min_version)
		return false;
	for (; opts->tls_cert_files[n] != NULL; n++)
		if (n >= s->n_certs || strcmp(opts->tls_cert_files[n], s->tls_certs[n]) != 0 ||
		    opts->tls_key_files == NULL ||
		    !same_str(opts->tls_key_files[n], s->tls_keys[n]))
			return false;
	return n == s->n_certs && opts->tls_key_files[n] == NULL &&
	       same_str(opts->tls_ciphers, s->tls_ciphers) &&
	       same_str(opts->tls_ciphersuites, s->tls_ciphersuites) &&
	       same_str(opts->tls_client_ca_file, s->tls_client_ca);
}

int tern__server_tls_init(tern_smtp_server *s, const tern_smtp_options *opts)
{
	size_t n_keys = 0;
	struct tern__tls_server *t = NULL;
	int r;

	if (opts->tls_cert_files == NULL || opts->tls_cert_files[0] == NULL)
		return 0;
	if ((unsigned)opts->tls_min_version > TERN_TLS_1_3)
		return TERN_EINVAL;
	if ((r = copy_list(&s->tls_certs, opts->tls_cert_files, &s->n_certs)) != 0 ||
	    (r = copy_list(&s->tls_keys, opts->tls_key_files, &n_keys)) != 0 ||
	    (r = copy_str(&s->tls_ciphers, opts->tls_ciphers)) != 0 ||
	    (r = copy_str(&s->tls_ciphersuites, opts->tls_ciphersuites)) != 0 ||
	    (r = copy_str(&s->tls_client_ca, opts->tls_client_ca_file)) != 0)
		goto fail;
	if (n_keys != s->n_certs) {
		tern__server_logs(s, TERN_LOG_ERROR,
				 "TLS: %zu certificate file(s) but %zu key file(s)", s->n_certs,
				 n_keys);
		r = TERN_EINVAL;
		goto fail;
	}
	s->tls_min_version =
		opts->tls_min_version == TERN_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
	if ((r = build(s, &t)) != 0)
		goto fail;
	if ((r = tern__tls_slot_init(&s->tls, t)) != 0) {
		tern__tls_server_unref(&t);
		goto fail;
	}
	s->tls_on = true;
	return 0;
fail:
	tern__server_tls_free(s);
	return r;
}

void tern__server_tls_free(tern_smtp_server *s)
{
	if (s->tls_on)
		tern__tls_slot_free(&s->tls);
	s->tls_on = false;
	free_list(&s->tls_certs);
	free_list(&s->tls_keys);
	free(s->tls_ciphers);
	free(s->tls_ciphersuites);
	free(s->tls_client_ca);
	s->tls_ciphers = s->tls_ciphersuites = s->tls_client_ca = NULL;
}

int tern_smtp_server_reload_tls(tern_smtp_server *s)
{
	struct tern__tls_server *t;
	int r;

	if (s == NULL)
		return TERN_EINVAL;
	if (!s->tls_on)
		return TERN_ESTATE;
	r = build(s, &t);
	if (r != 0)
		return r; /* the old certificates stay in use */
	tern__tls_slot_swap(&s->tls, t);
	tern__server_logs(s, TERN_LOG_INFO, "TLS: certificates reloaded");
	return 0;
}
