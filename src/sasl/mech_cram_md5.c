/* CRAM-MD5 (RFC 2195), server and client. The server never sees the
 * password: it hands the challenge and the client's digest to the
 * embedder, which checks them with tern_cram_md5_verify() against a stored
 * secret. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sasl/client.h"
#include "sasl/crypto.h"
#include "sasl/prep.h"
#include "sasl/server.h"

#define NONCE_OCTETS 16

static int is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int challenge(struct tern__sasl_server *s)
{
	char nonce[2 * NONCE_OCTETS + 1];
	const char *n = s->test_nonce;
	unsigned char raw[NONCE_OCTETS];
	char *ch;
	size_t len;
	int rc;

	if (n == NULL) {
		rc = tern__sasl_random(raw, sizeof(raw));
		if (rc != 0)
			return rc;
		tern__sasl_hex(raw, sizeof(raw), nonce);
		nonce[sizeof(nonce) - 1] = '\0';
		n = nonce;
	}
	/* RFC 2195 2: "The data encoded in the first ready response contains
	 * an presumptively arbitrary string of random digits, a timestamp,
	 * and the fully-qualified primary host name of the server. The syntax
	 * of the unencoded form must correspond to that of an [RFC822]
	 * 'msg-id'". Sans-I/O has no clock: the random part stands in for the
	 * timestamp, which only ever served to make the challenge unique. */
	len = strlen(n) + strlen(s->hostname) + 3;
	ch = malloc(len + 1);
	if (ch == NULL)
		return TERN_ENOMEM;
	snprintf(ch, len + 1, "<%s@%s>", n, s->hostname);
	s->cred.challenge = tern__sasl_server_keep(s, TERN__SASL_SLOT_CHALLENGE, ch, len);
	free(ch);
	if (s->cred.challenge == NULL)
		return TERN_ENOMEM;
	return tern__sasl_server_output(s, s->cred.challenge, len) ? TERN_ENOMEM
								  : TERN__SASL_CHALLENGE;
}

static int cram_step(struct tern__sasl_server *s, const unsigned char *in, size_t len,
		     bool have_input)
{
	const unsigned char *sp;
	size_t ulen;

	if (s->round == 1) {
		/* RFC 4954 4: an initial response to a mechanism where the
		 * server speaks first: "the server MUST reject the AUTH
		 * command with a 501 reply". */
		if (have_input)
			return TERN__SASL_MALFORMED;
		return challenge(s);
	}
	/* RFC 2195 2: "The data encoded in the second ready response contains
	 * an user name, a space, and a digest." and "The `digest' parameter
	 * itself is a 16-octet value which is sent in hexadecimal format". A
	 * user name may itself hold spaces, so the digest is after the last
	 * one. Upper-case hex is accepted although the RFC says lower-case:
	 * refusing it protects nothing. */
	if (len < 34 || in[len - 33] != ' ')
		return TERN__SASL_MALFORMED;
	sp = in + len - 33;
	for (size_t i = 1; i <= 32; i++) {
		if (!is_hex(sp[i]))
			return TERN__SASL_MALFORMED;
	}
	ulen = (size_t)(sp - in);
	if (memchr(in, 0, ulen) != NULL || !tern__sasl_prep_ok(in, ulen))
		return TERN__SASL_MALFORMED;
	if ((s->cred.authcid = tern__sasl_server_keep(s, TERN__SASL_SLOT_AUTHCID, in, ulen)) ==
		    NULL ||
	    (s->cred.digest = tern__sasl_server_keep(s, TERN__SASL_SLOT_DIGEST, sp + 1, 32)) ==
		    NULL)
		return TERN_ENOMEM;
	return TERN__SASL_CHECK;
}

const struct tern__sasl_server_mech tern__sasl_cram_md5_server = {.step = cram_step};

static int cram_initial(struct tern__sasl_client *c)
{
	(void)c;
	return 0;
}

static int cram_client_step(struct tern__sasl_client *c, const unsigned char *in, size_t len)
{
	unsigned char mac[TERN__SASL_MD5_LEN];
	size_t ulen = strlen(c->authcid);
	unsigned char *out;
	int rc;

	/* One challenge, a msg-id: "<" ... ">". */
	if (c->sent > 0 || len < 2 || in[0] != '<' || in[len - 1] != '>' ||
	    memchr(in, 0, len) != NULL)
		return TERN__SASL_CLIENT_ERROR;
	rc = tern__sasl_hmac_md5(c->password, strlen(c->password), in, len, mac);
	if (rc != 0)
		return rc;
	out = malloc(ulen + 1 + 2 * sizeof(mac));
	if (out == NULL) {
		OPENSSL_cleanse(mac, sizeof(mac));
		return TERN_ENOMEM;
	}
	memcpy(out, c->authcid, ulen);
	out[ulen] = ' ';
	tern__sasl_hex(mac, sizeof(mac), (char *)out + ulen + 1);
	OPENSSL_cleanse(mac, sizeof(mac));
	tern__sasl_client_output_take(c, out, ulen + 1 + 2 * sizeof(mac));
	c->complete = true;
	return TERN__SASL_CLIENT_RESPONSE;
}

const struct tern__sasl_client_mech tern__sasl_cram_md5_client = {
	.initial = cram_initial,
	.step = cram_client_step,
};
