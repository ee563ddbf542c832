/* Self-signed certificate in the state directory. See selfsigned.h. */
#include "selfsigned.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VALID_DAYS 365
/* Made again when less than this is left. */
#define RENEW_SECONDS (24 * 3600)

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return errno;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return errno;
	return 0;
}

/* The existing pair is usable: both parse, they match, the name is ours
 * and more than RENEW_SECONDS of validity are left. */
static bool usable(const char *cert_path, const char *key_path, const char *hostname)
{
	FILE *f = fopen(cert_path, "r");
	X509 *cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	EVP_PKEY *key = NULL;
	bool ok = false;

	if (f)
		fclose(f);
	f = fopen(key_path, "r");
	if (f) {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (cert && key && X509_check_private_key(cert, key) == 1 &&
	    X509_check_host(cert, hostname, 0, 0, NULL) == 1) {
		time_t soon = time(NULL) + RENEW_SECONDS;

		ok = X509_cmp_time(X509_get0_notAfter(cert), &soon) > 0;
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return ok;
}

/* Writes the PEM to path through a temporary file, fsynced and renamed,
 * so that a crash never leaves half a key. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	char tmp[4200];
	int fd, rc = 0;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return errno;
	f = fdopen(fd, "w");
	if (f == NULL) {
		rc = errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	if (key ? !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		: !PEM_write_X509(f, cert))
		rc = EIO;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = rc ? rc : errno;
	if (fclose(f) != 0)
		rc = rc ? rc : errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

static X509 *make_cert(EVP_PKEY *key, const char *hostname)
{
	X509 *cert = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char san[300];
	bool ok = false;

	if (cert == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f; /* RFC 5280 4.1.2.2: positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		goto out;
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), (long)VALID_DAYS * 24 * 3600);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)hostname, -1,
				   -1, 0);
	X509_set_issuer_name(cert, name);
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	/* Clients match names against subjectAltName only (RFC 6125 6.4.4). */
	snprintf(san, sizeof(san), "DNS:%s", hostname);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (ext == NULL || !X509_add_ext(cert, ext, -1)) {
		X509_EXTENSION_free(ext);
		goto out;
	}
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:FALSE");
	if (ext == NULL || !X509_add_ext(cert, ext, -1)) {
		X509_EXTENSION_free(ext);
		goto out;
	}
	X509_EXTENSION_free(ext);
	ok = X509_sign(cert, key, EVP_sha256()) > 0;
out:
	BN_free(bn);
	if (!ok) {
		X509_free(cert);
		cert = NULL;
	}
	return cert;
}

int ternd_selfsigned_ensure(const char *state_dir, const char *hostname, char **cert_r,
			    char **key_r, bool *made_r, char *err, size_t err_size)
{
	char dir[4096], cert_path[4200], key_path[4200];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc;

	*cert_r = *key_r = NULL;
	*made_r = false;
	snprintf(dir, sizeof(dir), "%s/tls", state_dir);
	rc = mkdir_p(dir, 0700);
	if (rc != 0) {
		snprintf(err, err_size, "cannot create %s: %s", dir, strerror(rc));
		return rc;
	}
	snprintf(cert_path, sizeof(cert_path), "%s/self-signed.crt", dir);
	snprintf(key_path, sizeof(key_path), "%s/self-signed.key", dir);
	if (!usable(cert_path, key_path, hostname)) {
		key = EVP_EC_gen("P-256");
		cert = key ? make_cert(key, hostname) : NULL;
		if (cert == NULL) {
			snprintf(err, err_size, "cannot make a self-signed certificate: %s",
				 ERR_reason_error_string(ERR_peek_last_error())
					 ? ERR_reason_error_string(ERR_peek_last_error())
					 : "unknown error");
			rc = EIO;
			goto out;
		}
		/* The key first: a certificate without its key is useless,
		 * and usable() refuses a mismatched pair anyway. */
		if ((rc = write_pem(key_path, 0600, key, NULL)) != 0 ||
		    (rc = write_pem(cert_path, 0644, NULL, cert)) != 0) {
			snprintf(err, err_size, "cannot write the certificate in %s: %s", dir,
				 strerror(rc));
			goto out;
		}
		*made_r = true;
	}
	*cert_r = strdup(cert_path);
	*key_r = strdup(key_path);
	if (*cert_r == NULL || *key_r == NULL) {
		free(*cert_r);
		free(*key_r);
		*cert_r = *key_r = NULL;
		rc = ENOMEM;
		snprintf(err, err_size, "out of memory");
	}
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}
