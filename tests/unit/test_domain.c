/* ternd domain's pure parts (cmd/ternd/domain_records.c): domain names and
 * selectors, TXT values cut into character-strings, the zone text read
 * back, the MTA-STS policy (parsed by the library's own MTA-STS parser,
 * the one ternd's delivery agent uses) and TLS-RPT records. The files and
 * the lookups are the interop test's (tests/interop/test_domain.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../cmd/ternd/domain_records.c"
#include "client/mta_sts.h"

static void test_domain_names(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} good[] = {
	    {"example.com", "example.com"},
	    {"Example.COM.", "example.com"},
	    {"mail-1.a-b.example", "mail-1.a-b.example"},
	    {"b\xc3\xbc"
	     "cher.example",
	     "xn--bcher-kva.example"},
	    {"XN--BCHER-KVA.example", "xn--bcher-kva.example"},
	    {"x.123a", "x.123a"},
	};
	char out[TERND_DOMAIN_MAX], err[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(ternd_domain_name(good[i].in, out, err, sizeof(err)), 0);
		assert_string_equal(out, good[i].out);
	}
	char long_label[80], long_name[300];
	memset(long_label, 'a', 64);
	strcpy(long_label + 64, ".example");
	/* 127 labels "a." and "com": 257 octets. */
	for (size_t i = 0; i < 127; i++)
		memcpy(long_name + 2 * i, "a.", 2);
	strcpy(long_name + 254, "com");
	static const char *const bad[] = {
	    "",
	    ".",
	    "com",
	    "com.",
	    "192.0.2.1",
	    "a..example",
	    ".example.com",
	    "-a.example",
	    "a-.example",
	    "a_b.example",
	    "a b.example",
	    "exa\x01mple.com",
	    "\xff.example",
	    "example.com..",
	    "a.b/c",
	    "a.1",
	    "xn--.example",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(ternd_domain_name(bad[i], out, err, sizeof(err)), EINVAL);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(ternd_domain_name(long_label, out, err, sizeof(err)), EINVAL);
	assert_int_equal(ternd_domain_name(long_name, out, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "253"));
}

static void test_selectors(void **state)
{
	(void)state;
	assert_true(ternd_selector_ok("s202612"));
	assert_true(ternd_selector_ok("s202612e-2"));
	assert_true(ternd_selector_ok("A1"));
	static const char *const bad[] = {
	    "",    "-a",       "a.b",
	    "a/b", "..",       "a b",
	    "a_b", "\xc3\xa4", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(ternd_selector_ok(bad[i]));
}

static char *txt_line(const char *value)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	ternd_zone_txt(out, "x.example", value);
	fclose(out);
	return text;
}

/* RFC 1035 3.3.14: character-strings of at most 255 octets, cut on the
 * value's octets (not the escaped text's). */
static void test_txt_strings(void **state)
{
	(void)state;
	char *t = txt_line("");
	assert_string_equal(t, "x.example.\t3600\tIN\tTXT\t\"\"\n");
	free(t);
	t = txt_line("a\"b\\c\x01");
	assert_string_equal(t, "x.example.\t3600\tIN\tTXT\t\"a\\\"b\\\\c\\001\"\n");
	free(t);

	char v[600];
	for (size_t n = 254; n <= 511; n++) {
		memset(v, 'q', n);
		v[n] = '\0';
		v[0] = '"'; /* escaped: 2 characters, 1 octet */
		t = txt_line(v);
		const char *p = strchr(t, '"');
		size_t strings = 0, total = 0;
		while (p != NULL && *p == '"') {
			size_t octets = 0;
			for (p++; *p != '"'; p++) {
				if (*p == '\\')
					p++;
				octets++;
			}
			assert_true(octets <= 255);
			total += octets;
			strings++;
			p++;
			if (*p == ' ')
				p++;
		}
		assert_int_equal(total, n);
		assert_int_equal(strings, (n + 254) / 255);
		free(t);
	}
}

static void fill(struct ternd_domain_records *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->domain, "example.com");
	r->mx[0] = strdup("mx1.example.com");
	r->mx[1] = strdup("mx2.example.net");
	r->mx_count = 2;
	r->spf = strdup("v=spf1 mx -all");
	r->dmarc = strdup("v=DMARC1; p=reject; rua=mailto:d@example.com");
	r->sts_id = strdup("20261202175500");
	r->tlsrpt = strdup("v=TLSRPTv1; rua=mailto:t@example.com");
	r->sts_host = strdup("mx1.example.com");
	strcpy(r->dkim[0].selector, "s202612");
	r->dkim[0].txt = malloc(420);
	strcpy(r->dkim[0].txt, "v=DKIM1; k=rsa; p=");
	memset(r->dkim[0].txt + 18, 'K', 400);
	r->dkim[0].txt[418] = '\0';
	r->dkim_count = 1;
}

/* What add writes, read back, gives the same settings: a second add
 * without options prints the same records. */
static void test_zone_round_trip(void **state)
{
	(void)state;
	struct ternd_domain_records r, back;
	char *text = NULL;
	size_t len = 0;

	fill(&r);
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	ternd_domain_zone_write(&r, 1796233200, out);
	fclose(out);
	assert_non_null(strstr(text, "example.com.\t3600\tIN\tMX\t10 mx1.example.com.\n"));
	assert_non_null(strstr(text, "example.com.\t3600\tIN\tMX\t20 mx2.example.net.\n"));
	assert_non_null(strstr(text, "_mta-sts.example.com.\t3600\tIN\tTXT\t"
				     "\"v=STSv1; id=20261202175500\"\n"));
	assert_non_null(strstr(text, "mta-sts.example.com.\t3600\tIN\tCNAME\tmx1.example.com.\n"));

	memset(&back, 0, sizeof(back));
	strcpy(back.domain, "example.com");
	assert_int_equal(ternd_domain_zone_read(text, &back), 0);
	assert_int_equal(back.mx_count, 2);
	assert_string_equal(back.mx[0], "mx1.example.com");
	assert_string_equal(back.mx[1], "mx2.example.net");
	assert_string_equal(back.spf, r.spf);
	assert_string_equal(back.dmarc, r.dmarc);
	assert_string_equal(back.sts_id, r.sts_id);
	assert_string_equal(back.tlsrpt, r.tlsrpt);
	assert_string_equal(back.sts_host, r.sts_host);
	/* The keys come from dkim/, not from the zone. */
	assert_int_equal(back.dkim_count, 0);

	/* Another domain's lines are not ours. */
	struct ternd_domain_records other;
	memset(&other, 0, sizeof(other));
	strcpy(other.domain, "ample.com");
	assert_int_equal(ternd_domain_zone_read(text, &other), 0);
	assert_int_equal(other.mx_count, 0);
	assert_null(other.spf);
	assert_null(other.dmarc);

	free(text);
	ternd_domain_records_clear(&r);
	ternd_domain_records_clear(&back);
	ternd_domain_records_clear(&other);
	assert_string_equal(back.domain, "example.com"); /* kept by clear */
}

/* Lines a person may have edited into records.zone do not crash the
 * reader or leak. */
static void test_zone_read_odd_lines(void **state)
{
	(void)state;
	static const char *const texts[] = {
	    "",
	    "\n\n;comment\n",
	    "example.com.\n",
	    "example.com. 3600 IN MX\n",
	    "example.com. 3600 IN MX 10\n",
	    "example.com. 3600 IN TXT\n",
	    "example.com. 3600 IN TXT \"v=spf1 -all\n",
	    "example.com. 3600 IN TXT \"v=spf1\" \"\\\" -all\" trailing\n",
	    "example.com. 3600 IN TXT \"\\1\\12\\123\\\n",
	    "_mta-sts.example.com. 3600 IN TXT \"v=STSv1; id=\"\n",
	    "mta-sts.example.com. 3600 IN CNAME\n",
	    "example.com. 3600 IN TXT \"v=spf1 a\"\nexample.com. 3600 IN TXT \"v=spf1 b\"\n",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct ternd_domain_records r;

		memset(&r, 0, sizeof(r));
		strcpy(r.domain, "example.com");
		assert_int_equal(ternd_domain_zone_read(texts[i], &r), 0);
		ternd_domain_records_clear(&r);
	}
	/* More MX lines than kept: the first TERND_DOMAIN_MAX_MX. */
	char many[4096] = "";
	for (int i = 0; i < 40; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "example.com. 3600 IN MX %d m%d.example.com.\n", i, i);
	struct ternd_domain_records r;
	memset(&r, 0, sizeof(r));
	strcpy(r.domain, "example.com");
	assert_int_equal(ternd_domain_zone_read(many, &r), 0);
	assert_int_equal(r.mx_count, TERND_DOMAIN_MAX_MX);
	ternd_domain_records_clear(&r);
}

/* The policy add writes is one the delivery agent's parser accepts, with
 * the same mode and mx hosts. */
static void test_policy(void **state)
{
	(void)state;
	char *mx[] = {"mx1.example.com", "mx2.example.net"};
	static const enum tern__sts_mode modes[] = {TERN__STS_ENFORCE, TERN__STS_TESTING,
						    TERN__STS_NONE};

	for (int m = 0; m < 3; m++) {
		char *text = ternd_mta_sts_policy((enum ternd_sts_mode)m, mx, 2, 604800);
		struct tern__sts_policy p;
		const char *why = NULL;

		assert_non_null(text);
		assert_int_equal(strncmp(text, "version: STSv1\r\nmode: ", 22), 0);
		memset(&p, 0, sizeof(p));
		assert_int_equal(tern__sts_policy_parse(&p, text, strlen(text), &why), 0);
		assert_int_equal(p.mode, modes[m]);
		assert_int_equal(p.max_age, 604800);
		assert_int_equal(p.n_mx, 2);
		assert_true(tern__sts_mx_match(&p, "mx2.example.net"));
		assert_false(tern__sts_mx_match(&p, "mx3.example.net"));
		tern__sts_policy_clear(&p);
		free(text);
	}
}

static void test_tlsrpt_records(void **state)
{
	(void)state;
	static const char *const good[] = {
	    "v=TLSRPTv1; rua=mailto:tls@example.com",
	    "v=TLSRPTv1;rua=mailto:a@example.com,https://r.example.com/tls",
	    "v=TLSRPTv1; rua=mailto:a@example.com , mailto:b@example.net;",
	    "v=TLSRPTv1; rua=https://example.com/x; ext=1",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(ternd_tlsrpt_record_problem(good[i], strlen(good[i])));
	static const char *const bad[] = {
	    "",
	    "v=TLSRPTv1",
	    "v=TLSRPTv1;",
	    "v=TLSRPTv2; rua=mailto:a@example.com",
	    "rua=mailto:a@example.com; v=TLSRPTv1",
	    "v=TLSRPTv1; rua=a@example.com",
	    "v=TLSRPTv1; rua=mailto:nobody",
	    "v=TLSRPTv1; rua=http://example.com/",
	    "v=TLSRPTv1; rua=mailto:a@example.com,",
	    "v=TLSRPTv1; rua=",
	    "v=TLSRPTv1; rua=mailto:a@b; rua=mailto:c@d",
	    "v=TLSRPTv1; =x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(ternd_tlsrpt_record_problem(bad[i], strlen(bad[i])));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_domain_names),        cmocka_unit_test(test_selectors),
	    cmocka_unit_test(test_txt_strings),         cmocka_unit_test(test_zone_round_trip),
	    cmocka_unit_test(test_zone_read_odd_lines), cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_tlsrpt_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
