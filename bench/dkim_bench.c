/* bench/dkim_bench.c: DKIM signatures and verifications per second on one
 * thread, libtern's engines on a 4 KiB message (bench/dkim.sh builds and
 * runs it, next to dkimpy). Usage: dkim_bench SECONDS KEYDIR MSG; KEYDIR
 * has rsa.pem, rsa.txt, ed.pem, ed.txt (tern-dkim keygen's output). Prints
 * "sign rsa N", "verify rsa N", "sign ed N", "verify ed N" (ops/s). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tern/dkim.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
		perror(path);
		exit(1);
	}
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
		exit(1);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static char *sign(tern_dkim_key *key, const char *sel, const char *msg, size_t len)
{
	tern_dkim_sign_options o;
	tern_dkim_signer *s;
	char *field;

	tern_dkim_sign_options_init(&o);
	o.key = key;
	o.domain = "example.org";
	o.selector = sel;
	o.now = 1764003600;
	if (tern_dkim_signer_new(&o, &s) != 0 || tern_dkim_signer_feed(s, msg, len) != 0 ||
	    tern_dkim_signer_finish(s, &field, NULL) != 0)
		exit(1);
	tern_dkim_signer_free(&s);
	return field;
}

static void verify(const char *msg, size_t len, const char *txt)
{
	tern_dkim_verify_options o;
	tern_dkim_verifier *v;
	const tern_dkim_result *r;
	const char *name;
	struct tern_dns_rr rr = {(const unsigned char *)txt, strlen(txt), 0};
	struct tern_dns_answer a = {TERN_DNS_FOUND, false, &rr, 1};
	size_t n;

	tern_dkim_verify_options_init(&o);
	o.now = 1764003600;
	if (tern_dkim_verifier_new(&o, &v) != 0 || tern_dkim_verifier_feed(v, msg, len) != 0)
		exit(1);
	while (tern_dkim_verifier_next_query(v, &name) == 1)
		tern_dkim_verifier_key_answer(v, name, &a);
	if (tern_dkim_verifier_finish(v) != 0 || tern_dkim_verifier_results(v, &r, &n) != 0 ||
	    n != 1 || r[0].status != TERN_DKIM_PASS) {
		fprintf(stderr, "verification did not pass\n");
		exit(1);
	}
	tern_dkim_verifier_free(&v);
}

int main(int argc, char **argv)
{
	static const char *const sels[] = {"rsa", "ed"};
	double secs;
	size_t len;
	char *msg;

	if (argc != 4)
		return 2;
	secs = atof(argv[1]);
	msg = slurp(argv[3], &len);
	for (int k = 0; k < 2; k++) {
		char path[4096], *pem, *txt, *field, *signed_msg;
		size_t pem_len, txt_len, n = 0;
		tern_dkim_key *key;
		double t0, t;

		snprintf(path, sizeof path, "%s/%s.pem", argv[2], sels[k]);
		pem = slurp(path, &pem_len);
		snprintf(path, sizeof path, "%s/%s.txt", argv[2], sels[k]);
		txt = slurp(path, &txt_len);
		while (txt_len > 0 && (txt[txt_len - 1] == '\n' || txt[txt_len - 1] == '\r'))
			txt[--txt_len] = '\0';
		if (tern_dkim_key_from_pem(pem, pem_len, &key) != 0)
			return 1;
		t0 = now();
		do {
			free(sign(key, sels[k], msg, len));
			n++;
		} while ((t = now()) - t0 < secs);
		printf("sign %s %.0f\n", sels[k], (double)n / (t - t0));
		field = sign(key, sels[k], msg, len);
		signed_msg = malloc(strlen(field) + len + 1);
		if (signed_msg == NULL)
			return 1;
		strcpy(signed_msg, field);
		memcpy(signed_msg + strlen(field), msg, len + 1);
		n = 0;
		t0 = now();
		do {
			verify(signed_msg, strlen(signed_msg), txt);
			n++;
		} while ((t = now()) - t0 < secs);
		printf("verify %s %.0f\n", sels[k], (double)n / (t - t0));
		free(field);
		free(signed_msg);
		free(pem);
		free(txt);
		tern_dkim_key_free(&key);
	}
	free(msg);
	return 0;
}
