/* Private to src/sasl: the client engine's state and each mechanism's
 * table. */
#ifndef TERN_SASL_CLIENT_H
#define TERN_SASL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "sasl/sasl.h"

struct tern__sasl_client;

/* initial() returns 1 with output set or 0 when the mechanism has no
 * initial response; step() returns an enum tern__sasl_client_status. Both
 * may return a negative TERN_E*. */
struct tern__sasl_client_mech {
	int (*initial)(struct tern__sasl_client *c);
	int (*step)(struct tern__sasl_client *c, const unsigned char *in, size_t len);
	void (*free)(struct tern__sasl_client *c);
};

struct tern__sasl_client {
	enum tern__sasl_mech mech;
	const struct tern__sasl_client_mech *m;
	bool failed;   /* an ERROR or TERN_E* was returned: nothing more */
	bool complete; /* see tern__sasl_client_complete() */
	unsigned sent; /* messages produced so far, the initial response included */
	bool asked_initial;
	bool got_error; /* OAuth: the server's error challenge has been answered */

	char *authcid;
	char *authzid;
	char *password;
	char *token;
	char *host;
	char *test_nonce;
	unsigned port;
	bool has_cb;             /* the connection has some channel binding */
	enum tern__sasl_cb_type cb_type;
	unsigned char *cb_data;  /* the binding of cb_type, when has one */
	size_t cb_len;
	size_t max_message;

	unsigned char *out;
	size_t out_len;

	void *mstate;
};

extern const struct tern__sasl_client_mech tern__sasl_plain_client;
extern const struct tern__sasl_client_mech tern__sasl_login_client;
extern const struct tern__sasl_client_mech tern__sasl_cram_md5_client;
extern const struct tern__sasl_client_mech tern__sasl_scram_client;
extern const struct tern__sasl_client_mech tern__sasl_xoauth2_client;
extern const struct tern__sasl_client_mech tern__sasl_oauthbearer_client;
extern const struct tern__sasl_client_mech tern__sasl_external_client;

/* Sets the next output to a copy of p[0..len) / takes a heap buffer. */
int tern__sasl_client_output(struct tern__sasl_client *c, const void *p, size_t len);
void tern__sasl_client_output_take(struct tern__sasl_client *c, unsigned char *p, size_t len);

#endif
