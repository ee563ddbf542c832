/* The public credential helpers of tern/sasl.h: SCRAM-SHA-256 stored keys
 * (RFC 7677 3 vector) and the CRAM-MD5 secret, which must give exactly
 * HMAC-MD5 as OpenSSL computes it the normal way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tern/sasl.h"

static void hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

static void test_scram_keys_rfc7677(void **state)
{
	/* RFC 7677 3: salt "W22ZaJ0SNY7soEsUEjb6gQ==", i=4096, password
	 * "pencil". Expected values computed with Python's hashlib. */
	static const unsigned char salt[] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
					     0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};
	unsigned char sk[32], svk[32];
	char h[65];

	(void)state;
	assert_int_equal(tern_scram_sha256_keys("pencil", 6, salt, sizeof(salt), 4096, sk, svk), 0);
	hex(sk, 32, h);
	assert_string_equal(h, "586e5df283e6dceb5c3e791d8b8528ec191e664045ce971792e2e6b5bb13e2a6");
	hex(svk, 32, h);
	assert_string_equal(h, "c1f3cbc1c13a9d35a14c0990eed97629ea225863e566a4314ab99f3f00e5d9d5");
}

static void test_scram_keys_einval(void **state)
{
	unsigned char sk[32], svk[32], salt[1] = {1};

	(void)state;
	assert_int_equal(tern_scram_sha256_keys(NULL, 0, salt, 1, 1, sk, svk), TERN_EINVAL);
	assert_int_equal(tern_scram_sha256_keys("a", 1, NULL, 1, 1, sk, svk), TERN_EINVAL);
	assert_int_equal(tern_scram_sha256_keys("a", 1, salt, 0, 1, sk, svk), TERN_EINVAL);
	assert_int_equal(tern_scram_sha256_keys("a", 1, salt, 1, 0, sk, svk), TERN_EINVAL);
	assert_int_equal(tern_scram_sha256_keys("a", 1, salt, 1, 1, NULL, svk), TERN_EINVAL);
	assert_int_equal(tern_scram_sha256_keys("a", 1, salt, 1, 1, sk, NULL), TERN_EINVAL);
	assert_int_equal(tern_scram_sha256_keys("", 0, salt, 1, 1, sk, svk), 0);
}

static void test_cram_rfc2195(void **state)
{
	static const char ch[] = "<1896.697170952@postoffice.reston.mci.net>";
	unsigned char secret[TERN_CRAM_MD5_SECRET_LEN];

	(void)state;
	assert_int_equal(tern_cram_md5_secret("tanstaaftanstaaf", 16, secret), 0);
	assert_int_equal(tern_cram_md5_verify(secret, ch, strlen(ch),
					      "b913a602c7eda7a495b4e6e7334d3890", 32), 1);
	assert_int_equal(tern_cram_md5_verify(secret, ch, strlen(ch),
					      "B913A602C7EDA7A495B4E6E7334D3890", 32), 1);
	assert_int_equal(tern_cram_md5_verify(secret, ch, strlen(ch),
					      "b913a602c7eda7a495b4e6e7334d3891", 32), 0);
	assert_int_equal(tern_cram_md5_verify(secret, ch, strlen(ch) - 1,
					      "b913a602c7eda7a495b4e6e7334d3890", 32), 0);
	assert_int_equal(tern_cram_md5_verify(secret, ch, strlen(ch),
					      "b913a602c7eda7a495b4e6e7334d389", 31), 0);
	assert_int_equal(tern_cram_md5_verify(secret, ch, strlen(ch),
					      "b913a602c7eda7a495b4e6e7334d3890 ", 33), 0);
	assert_int_equal(tern_cram_md5_verify(secret, ch, strlen(ch),
					      "g913a602c7eda7a495b4e6e7334d3890", 32), 0);
	assert_int_equal(tern_cram_md5_verify(NULL, ch, 1, "x", 1), TERN_EINVAL);
	assert_int_equal(tern_cram_md5_verify(secret, NULL, 1, "x", 1), TERN_EINVAL);
	assert_int_equal(tern_cram_md5_verify(secret, ch, 1, NULL, 1), TERN_EINVAL);
	assert_int_equal(tern_cram_md5_secret(NULL, 0, secret), TERN_EINVAL);
	assert_int_equal(tern_cram_md5_secret("a", 1, NULL), TERN_EINVAL);
}

/* The byte layout (outer state, inner state, little-endian words, as
 * Dovecot's hmac_md5_get_cram_context() writes them), pinned with values
 * from an independent Python implementation of the MD5 compression
 * function applied to the pad blocks. */
static void test_cram_secret_layout(void **state)
{
	unsigned char secret[TERN_CRAM_MD5_SECRET_LEN];
	char h[65];

	(void)state;
	assert_int_equal(tern_cram_md5_secret("tanstaaftanstaaf", 16, secret), 0);
	hex(secret, 32, h);
	assert_string_equal(h, "d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116b");
	assert_int_equal(tern_cram_md5_secret("", 0, secret), 0);
	hex(secret, 32, h);
	assert_string_equal(h, "00747cf2ffaf11c5ea4a64979c3901fc1d20dee13f480bb598f7d8575b23e61b");
}

/* For every key length around the 64-octet block size and several message
 * lengths, the secret path equals HMAC-MD5 via OpenSSL's HMAC(). */
static void test_cram_matches_hmac(void **state)
{
	char key[200], msg[150], dig[33];
	unsigned char secret[TERN_CRAM_MD5_SECRET_LEN], mac[16];
	unsigned int mac_len = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (char)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)(i * 13 + 1);
	for (size_t kl = 0; kl <= 130; kl++) {
		assert_int_equal(tern_cram_md5_secret(key, kl, secret), 0);
		for (size_t ml = 0; ml < sizeof(msg); ml += 17) {
			assert_non_null(HMAC(EVP_md5(), key, (int)kl, (const unsigned char *)msg,
					     ml, mac, &mac_len));
			assert_int_equal(mac_len, 16);
			hex(mac, 16, dig);
			assert_int_equal(tern_cram_md5_verify(secret, msg, ml, dig, 32), 1);
			dig[0] = dig[0] == '0' ? '1' : '0';
			assert_int_equal(tern_cram_md5_verify(secret, msg, ml, dig, 32), 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scram_keys_rfc7677),
		cmocka_unit_test(test_scram_keys_einval),
		cmocka_unit_test(test_cram_rfc2195),
		cmocka_unit_test(test_cram_secret_layout),
		cmocka_unit_test(test_cram_matches_hmac),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
