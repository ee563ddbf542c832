/* Private to src/sasl: the server engine's state and the table each
 * mechanism fills. sasl.h is the contract; this is how it is kept. */
#ifndef TERN_SASL_SERVER_H
#define TERN_SASL_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "sasl/sasl.h"

/* Strings the engine owns and cleanses; credentials point into them. */
enum tern__sasl_slot {
	TERN__SASL_SLOT_AUTHCID,
	TERN__SASL_SLOT_AUTHZID,
	TERN__SASL_SLOT_PASSWORD,
	TERN__SASL_SLOT_TOKEN,
	TERN__SASL_SLOT_HOST,
	TERN__SASL_SLOT_PORT,
	TERN__SASL_SLOT_CHALLENGE,
	TERN__SASL_SLOT_DIGEST,
	TERN__SASL_SLOT_COUNT
};

/* One state per engine, not a set of booleans: which call comes next. */
enum tern__sasl_phase {
	TERN__SASL_PHASE_INPUT, /* waiting for step() */
	TERN__SASL_PHASE_CHECK, /* waiting for the embedder's verdict */
	TERN__SASL_PHASE_DONE,  /* success, failure, malformed or error */
};

struct tern__sasl_server;

/* A mechanism's server side. Each function returns an enum
 * tern__sasl_status or a negative TERN_E*, and leaves any output in the
 * engine with tern__sasl_server_output(). NULL members: checked() maps ok
 * to SUCCESS/FAILURE; the SCRAM calls give TERN_ESTATE. */
struct tern__sasl_server_mech {
	int (*step)(struct tern__sasl_server *s, const unsigned char *in, size_t len,
		    bool have_input);
	int (*checked)(struct tern__sasl_server *s, bool ok);
	int (*scram_keys)(struct tern__sasl_server *s, const struct tern__sasl_scram_keys *keys);
	int (*unknown_user)(struct tern__sasl_server *s);
	void (*free)(struct tern__sasl_server *s);
};

struct tern__sasl_server {
	enum tern__sasl_mech mech;
	const struct tern__sasl_server_mech *m;
	enum tern__sasl_phase phase;
	int last;        /* the last status returned */
	unsigned round;  /* client messages taken so far (have_input or not) */
	bool error_sent; /* OAuth: the JSON error challenge went out */

	/* Copies of the parameters. */
	char *hostname;
	char *external_identity;
	char *oauth_error_json;
	char *test_nonce;
	unsigned char *cb_exporter;
	size_t cb_exporter_len;
	unsigned char *cb_endpoint;
	size_t cb_endpoint_len;
	unsigned char *fake_key;
	size_t fake_key_len;
	unsigned fake_iterations;
	bool plus_offered;
	size_t max_message;

	struct tern__sasl_credentials cred;
	char *slot[TERN__SASL_SLOT_COUNT];
	size_t slot_len[TERN__SASL_SLOT_COUNT];

	unsigned char *out;
	size_t out_len;

	void *mstate; /* the mechanism's own state (SCRAM), freed by m->free */
};

extern const struct tern__sasl_server_mech tern__sasl_plain_server;
extern const struct tern__sasl_server_mech tern__sasl_login_server;
extern const struct tern__sasl_server_mech tern__sasl_cram_md5_server;
extern const struct tern__sasl_server_mech tern__sasl_scram_server;
extern const struct tern__sasl_server_mech tern__sasl_xoauth2_server;
extern const struct tern__sasl_server_mech tern__sasl_oauthbearer_server;
extern const struct tern__sasl_server_mech tern__sasl_external_server;

/* Copies p[0..len) into a slot (NUL-terminated), cleansing what was there,
 * and returns the copy, or NULL when out of memory. */
char *tern__sasl_server_keep(struct tern__sasl_server *s, enum tern__sasl_slot slot,
			     const void *p, size_t len);

/* Sets the next output to a copy of p[0..len). 0 or TERN_ENOMEM. */
int tern__sasl_server_output(struct tern__sasl_server *s, const void *p, size_t len);

/* Takes ownership of a heap buffer as the next output. */
void tern__sasl_server_output_take(struct tern__sasl_server *s, unsigned char *p, size_t len);

#endif
