/* The header hash (RFC 6376 3.7), the same for signer and verifier: the
 * fields h= names, each instance taken from the bottom of the header block
 * up, then the signature field itself with an empty b= and no final CRLF. */
#include <openssl/err.h>

#include "auth/dkim_int.h"

int tern__dkim_header_digest(struct tern__headers *h, enum tern__canon canon, const char *h_list,
			     size_t h_len, const char *sig, size_t sig_len,
			     unsigned char digest[TERN__DKIM_DIGEST_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct tern__hash_out out;
	size_t pos = 0, n;
	const char *name;
	unsigned int dlen = 0;
	int rc = 0;

	if (md == NULL)
		return TERN_ENOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		rc = TERN_EIO;
		goto out;
	}
	tern__hash_out_init(&out, md);
	tern__headers_unpick(h);
	/* RFC 6376 5.4.2: a name listed more often than it occurs stands for
	 * the null string those extra times (that is what over-signing uses). */
	while (tern__dkim_list_next(h_list, h_len, &pos, &name, &n)) {
		struct tern__hfield *f = tern__headers_pick(h, name, n);

		if (f != NULL && tern__canon_header(canon, tern__hfield_text(h, f), f->len, false,
						    &out) < 0) {
			rc = TERN_EIO;
			goto out;
		}
	}
	if (tern__canon_header(canon, sig, sig_len, true, &out) < 0 ||
	    tern__hash_out_flush(&out) < 0 || EVP_DigestFinal_ex(md, digest, &dlen) != 1)
		rc = TERN_EIO;
out:
	if (rc)
		ERR_clear_error();
	EVP_MD_CTX_free(md);
	return rc;
}
