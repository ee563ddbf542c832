/* The GS2 header (RFC 5801 4, as RFC 5802 7 and RFC 7628 3.1 use it) and
 * SCRAM's saslname escaping, shared by SCRAM and OAUTHBEARER. */
#ifndef TERN_SASL_GS2_H
#define TERN_SASL_GS2_H

#include <stddef.h>
#include <sys/types.h>

struct tern__sasl_gs2 {
	char flag;                    /* 'n', 'y' or 'p' */
	const unsigned char *cb_name; /* after "p=", when flag is 'p' */
	size_t cb_name_len;
	const unsigned char *authzid; /* escaped saslname after "a=", or NULL */
	size_t authzid_len;
	size_t header_len;            /* octets of the header, both commas included */
};

/* Parses the GS2 header at the start of in[0..len). 0 or -1. */
int tern__sasl_gs2_parse(const unsigned char *in, size_t len, struct tern__sasl_gs2 *h);

/* Unescapes a saslname (=2C is ",", =3D is "=") into out, which must hold
 * len + 1 octets; NUL-terminates. Returns the length, or -1 when the input
 * is empty, not UTF-8, holds NUL, a raw "," or an "=" not starting =2C or
 * =3D. */
ssize_t tern__sasl_saslname_decode(const unsigned char *in, size_t len, char *out);

/* Escapes in[0..len) as a saslname into out (3 * len + 1 octets suffice);
 * NUL-terminates and returns the length. */
size_t tern__sasl_saslname_encode(const char *in, size_t len, char *out);

#endif
