/* The ARC-Seal's header hash (RFC 8617 5.1.1): the sets in increasing
 * instance order, AAR then AMS then AS in each, relaxed canonicalization,
 * the seal being made or checked last with b= empty and no final CRLF. */
#include <openssl/err.h>

#include "auth/arc_int.h"

int tern__arc_seal_digest(const struct tern__headers *h, const struct tern__arc_chain *c,
			  unsigned first, unsigned upto, const char *aar, size_t aar_len,
			  const char *ams, size_t ams_len, const char *seal, size_t seal_len,
			  unsigned char digest[TERN__DKIM_DIGEST_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct tern__hash_out out;
	unsigned int dlen = 0;
	int rc = 0, bad = 0;

	if (md == NULL)
		return TERN_ENOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		rc = TERN_EIO;
		goto out;
	}
	tern__hash_out_init(&out, md);
	for (unsigned i = first; i < upto; i++)
		for (int k = 0; k < 3; k++) {
			const struct tern__hfield *f = c->set[i][k];

			bad |= tern__canon_header(TERN__CANON_RELAXED, tern__hfield_text(h, f),
						  f->len, false, &out);
		}
	bad |= tern__canon_header(TERN__CANON_RELAXED, aar, aar_len, false, &out);
	bad |= tern__canon_header(TERN__CANON_RELAXED, ams, ams_len, false, &out);
	bad |= tern__canon_header(TERN__CANON_RELAXED, seal, seal_len, true, &out);
	if (bad || tern__hash_out_flush(&out) < 0 || EVP_DigestFinal_ex(md, digest, &dlen) != 1)
		rc = TERN_EIO;
out:
	if (rc)
		ERR_clear_error();
	EVP_MD_CTX_free(md);
	return rc;
}
