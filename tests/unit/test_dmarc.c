/* DMARC (tern/dmarc.h): record parsing (valid records, every kind of bad
 * value, unknown tags, case), organizational domains from the PSL,
 * alignment tables, p/sp/np/pct selection with fixed random values, the
 * discovery fall-back and its DNS failures, fed as struct tern_dns_answer.
 * The verdicts of the evaluation are compared with mailauth and
 * Mail::DMARC in tests/interop/test_dmarc.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpsl.h>

#include "tern/dmarc.h"

/* The evaluation table leaves unused fields of its rows out. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- records ---- */

static int parse(const char *txt, struct tern_dmarc_record *r)
{
	size_t n = strlen(txt);
	char *copy = malloc(n ? n : 1);   /* exact size: ASan sees overreads */
	int rc;

	assert_non_null(copy);
	memcpy(copy, txt, n);
	rc = tern_dmarc_record_parse(copy, n, r);
	free(copy);
	return rc;
}

static void test_record_minimal(void **state)
{
	struct tern_dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=none", &r), 0);
	assert_int_equal(r.p, TERN_DMARC_POLICY_NONE);
	assert_int_equal(r.sp, TERN_DMARC_POLICY_UNSET);
	assert_int_equal(r.np, TERN_DMARC_POLICY_UNSET);
	assert_int_equal(r.adkim, TERN_DMARC_RELAXED);
	assert_int_equal(r.aspf, TERN_DMARC_RELAXED);
	assert_int_equal(r.pct, 100);
	assert_int_equal(r.ri, 86400);
	assert_int_equal(r.fo, TERN_DMARC_FO_0);
	assert_true(r.rf_afrf);
	assert_false(r.p_from_rua);
	assert_int_equal(r.bad_tags, 0);
	assert_int_equal(r.rua_count, 0);
	tern_dmarc_record_clear(&r);
}

static void test_record_full(void **state)
{
	struct tern_dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1;p=reject;sp=quarantine;np=reject;adkim=s;aspf=s;pct=25;"
			       "ri=3600;fo=1:d:s;rf=afrf;"
			       "rua=mailto:dmarc@example.com!10m,mailto:x@example.net;"
			       "ruf=mailto:f@example.com!500;",
			       &r),
			 0);
	assert_int_equal(r.p, TERN_DMARC_POLICY_REJECT);
	assert_int_equal(r.sp, TERN_DMARC_POLICY_QUARANTINE);
	assert_int_equal(r.np, TERN_DMARC_POLICY_REJECT);
	assert_int_equal(r.adkim, TERN_DMARC_STRICT);
	assert_int_equal(r.aspf, TERN_DMARC_STRICT);
	assert_int_equal(r.pct, 25);
	assert_int_equal(r.ri, 3600);
	assert_int_equal(r.fo, TERN_DMARC_FO_1 | TERN_DMARC_FO_D | TERN_DMARC_FO_S);
	assert_int_equal(r.bad_tags, 0);
	assert_int_equal(r.rua_count, 2);
	assert_string_equal(r.rua[0].uri, "mailto:dmarc@example.com");
	assert_int_equal(r.rua[0].max_size, 10 * 1024 * 1024);
	assert_string_equal(r.rua[1].uri, "mailto:x@example.net");
	assert_int_equal(r.rua[1].max_size, 0);
	assert_int_equal(r.ruf_count, 1);
	assert_int_equal(r.ruf[0].max_size, 500);
	tern_dmarc_record_clear(&r);
}

/* Blanks around "=" and ";", upper-case tag names and values: the ABNF's
 * quoted strings are case-insensitive; only "DMARC1" is spelled in hex. */
static void test_record_case_and_space(void **state)
{
	struct tern_dmarc_record r;

	(void)state;
	assert_int_equal(parse("v = DMARC1 ;\tP = Reject ; ADKIM=S ; Pct = 050 ;", &r), 0);
	assert_int_equal(r.p, TERN_DMARC_POLICY_REJECT);
	assert_int_equal(r.adkim, TERN_DMARC_STRICT);
	assert_int_equal(r.pct, 50);
	tern_dmarc_record_clear(&r);
	assert_int_equal(parse("V=DMARC1; p=none", &r), 0);
	tern_dmarc_record_clear(&r);
	assert_int_equal(parse("v=dmarc1; p=none", &r), TERN_DMARC_RECORD_NOT_DMARC);
	tern_dmarc_record_clear(&r);
}

static void test_record_not_dmarc(void **state)
{
	static const char *const not_dmarc[] = {
		"", ";", "v=spf1 -all", "p=reject; v=DMARC1", "v=DMARC1 p=reject", "v=DMARC2; p=none",
		"v=DMARC; p=none", "v=DMARC10; p=none", " ; v=DMARC1; p=none", "v:DMARC1; p=none",
		"vv=DMARC1; p=none", "v=\"DMARC1\"; p=none",
	};
	struct tern_dmarc_record r;

	(void)state;
	for (size_t i = 0; i < sizeof(not_dmarc) / sizeof(not_dmarc[0]); i++) {
		if (parse(not_dmarc[i], &r) != TERN_DMARC_RECORD_NOT_DMARC)
			fail_msg("\"%s\" should not be a DMARC record", not_dmarc[i]);
		tern_dmarc_record_clear(&r);
	}
	assert_int_equal(tern_dmarc_record_parse(NULL, 0, &r), TERN_DMARC_RECORD_NOT_DMARC);
	assert_int_equal(tern_dmarc_record_parse("v=DMARC1; p=none", 16, NULL), TERN_EINVAL);
}

/* RFC 7489 6.6.3: a bad or missing p= (or a bad sp=) makes the record
 * p=none when rua= has a good URI, unusable otherwise. */
static void test_record_bad_policy(void **state)
{
	static const struct {
		const char *txt;
		int rc;
		unsigned bad;
	} cases[] = {
		{"v=DMARC1", TERN_DMARC_RECORD_INVALID, 0},
		{"v=DMARC1;", TERN_DMARC_RECORD_INVALID, 0},
		{"v=DMARC1; p=", TERN_DMARC_RECORD_INVALID, TERN_DMARC_TAG_P},
		{"v=DMARC1; p=block", TERN_DMARC_RECORD_INVALID, TERN_DMARC_TAG_P},
		{"v=DMARC1; p=none; sp=maybe", TERN_DMARC_RECORD_INVALID, TERN_DMARC_TAG_SP},
		{"v=DMARC1; rua=mailto:a@example.com", 0, 0},
		{"v=DMARC1; p=block; rua=mailto:a@example.com", 0, TERN_DMARC_TAG_P},
		{"v=DMARC1; p=reject; sp=bad; rua=mailto:a@example.com", 0, TERN_DMARC_TAG_SP},
		{"v=DMARC1; p=block; rua=nonsense", TERN_DMARC_RECORD_INVALID,
		 TERN_DMARC_TAG_P | TERN_DMARC_TAG_RUA},
	};
	struct tern_dmarc_record r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(cases[i].txt, &r);

		if (rc != cases[i].rc || r.bad_tags != cases[i].bad)
			fail_msg("\"%s\": %d bad %#x, expected %d bad %#x", cases[i].txt, rc, r.bad_tags,
				 cases[i].rc, cases[i].bad);
		if (rc == 0) {
			assert_true(r.p_from_rua);
			assert_int_equal(r.p, TERN_DMARC_POLICY_NONE);
			assert_int_equal(r.sp, TERN_DMARC_POLICY_UNSET);
		}
		tern_dmarc_record_clear(&r);
	}
}

/* RFC 7489 6.3: other bad values fall back to their defaults. */
static void test_record_bad_values(void **state)
{
	static const struct {
		const char *tail;
		unsigned bad;
	} cases[] = {
		{"adkim=x", TERN_DMARC_TAG_ADKIM},
		{"aspf=relaxed", TERN_DMARC_TAG_ASPF},
		{"pct=101", TERN_DMARC_TAG_PCT},
		{"pct=-1", TERN_DMARC_TAG_PCT},
		{"pct=", TERN_DMARC_TAG_PCT},
		{"pct=1000", TERN_DMARC_TAG_PCT},
		{"pct=5 0", TERN_DMARC_TAG_PCT},
		{"ri=abc", TERN_DMARC_TAG_RI},
		{"ri=4294967296", TERN_DMARC_TAG_RI},
		{"fo=2", TERN_DMARC_TAG_FO},
		{"fo=1:x", TERN_DMARC_TAG_FO},
		{"fo=", TERN_DMARC_TAG_FO},
		{"rf=", TERN_DMARC_TAG_RF},
		{"rf=a f", TERN_DMARC_TAG_RF},
		{"np=sometimes", TERN_DMARC_TAG_NP},
		{"rua=mailto:a@example.com!10x", TERN_DMARC_TAG_RUA},
		{"rua=example.com", TERN_DMARC_TAG_RUA},
		{"rua=mailto:", TERN_DMARC_TAG_RUA},
		{"rua=1ab:x", TERN_DMARC_TAG_RUA},
		{"rua=mailto:a b@example.com", TERN_DMARC_TAG_RUA},
		{"ruf=!10m", TERN_DMARC_TAG_RUF},
		{"rua=mailto:a!b@example.com!10m", TERN_DMARC_TAG_RUA},   /* "!" must be %-encoded */
		{"garbage", TERN_DMARC_TAG_SYNTAX},
		{"=x", TERN_DMARC_TAG_SYNTAX},
		{"1x=y", TERN_DMARC_TAG_SYNTAX},
		{"v=DMARC1", TERN_DMARC_TAG_SYNTAX},
		{"pct=10; pct=20", TERN_DMARC_TAG_SYNTAX},
		{"unknown=tag; x_y=z", 0},
		{"t=y; psd=n", 0},   /* DMARCbis tags: unknown here, ignored */
		{"rf=afrf:iodef", 0},
	};
	struct tern_dmarc_record r;
	char txt[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(txt, sizeof(txt), "v=DMARC1; p=quarantine; %s", cases[i].tail);
		int rc = parse(txt, &r);

		if (rc != 0 || r.bad_tags != cases[i].bad)
			fail_msg("\"%s\": %d bad %#x, expected bad %#x", txt, rc, r.bad_tags, cases[i].bad);
		assert_int_equal(r.p, TERN_DMARC_POLICY_QUARANTINE);
		assert_int_equal(r.adkim, TERN_DMARC_RELAXED);
		assert_int_equal(r.aspf, TERN_DMARC_RELAXED);
		assert_true(r.pct == 100 || r.pct == 10);
		assert_int_equal(r.ri, 86400);
		tern_dmarc_record_clear(&r);
	}
	/* One bad URI among good ones drops only itself. */
	assert_int_equal(parse("v=DMARC1; p=none; rua=mailto:a@x.example, bad, https://r.example/x!1g", &r), 0);
	assert_int_equal(r.rua_count, 2);
	assert_string_equal(r.rua[1].uri, "https://r.example/x");
	assert_int_equal(r.rua[1].max_size, 1ULL << 30);
	assert_int_equal(r.bad_tags, TERN_DMARC_TAG_RUA);
	tern_dmarc_record_clear(&r);
	/* A NUL inside the record is a bad character, not the end; the
	 * repeated p= does not replace the bad first one. */
	assert_int_equal(tern_dmarc_record_parse("v=DMARC1; p=none\0; p=reject", 27, &r),
			 TERN_DMARC_RECORD_INVALID);
	assert_int_equal(r.bad_tags, TERN_DMARC_TAG_P | TERN_DMARC_TAG_SYNTAX);
	tern_dmarc_record_clear(&r);
}

/* ---- organizational domains and alignment ---- */

static void test_org_domain(void **state)
{
	static const char *const cases[][2] = {
		{"example.com", "example.com"},
		{"a.b.example.com", "example.com"},
		{"mail.example.co.uk", "example.co.uk"},
		{"co.uk", "co.uk"},                  /* a public suffix is its own */
		{"com", "com"},                      /* a bare TLD too */
		{"foo.blogspot.com", "foo.blogspot.com"},   /* a private suffix */
		{"a.b.github.io", "b.github.io"},
		{"a.example.unknowntld", "example.unknowntld"},   /* the "*" rule */
		{"a.xn--r8jz45g.jp", "xn--r8jz45g.jp"},           /* IDN, A-labels */
		{"sub.\xe4\xbe\x8b\xe3\x81\x88.jp", "\xe4\xbe\x8b\xe3\x81\x88.jp"},   /* U-labels */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(tern_dmarc_org_domain(NULL, cases[i][0]), cases[i][1]);
}

/* A context loaded from the system's list gives the same answers. */
static void test_org_domain_loaded_psl(void **state)
{
	psl_ctx_t *psl = psl_load_file("/usr/share/publicsuffix/public_suffix_list.dat");

	(void)state;
	if (psl == NULL)
		skip();
	assert_string_equal(tern_dmarc_org_domain(psl, "mail.example.co.uk"), "example.co.uk");
	assert_true(tern_dmarc_aligned(psl, "a.example.co.uk", "b.example.co.uk", TERN_DMARC_RELAXED));
	assert_false(tern_dmarc_aligned(psl, "a.co.uk", "b.co.uk", TERN_DMARC_RELAXED));
	psl_free(psl);
}

static void test_alignment_table(void **state)
{
	static const struct {
		const char *a, *b;
		bool relaxed, strict;
	} cases[] = {
		{"example.com", "example.com", true, true},
		{"mail.example.com", "example.com", true, false},
		{"a.example.com", "b.example.com", true, false},
		{"example.com", "example.org", false, false},
		{"example.com", "notexample.com", false, false},
		{"example.co.uk", "other.co.uk", false, false},
		{"a.example.co.uk", "example.co.uk", true, false},
		{"co.uk", "example.co.uk", false, false},
		{"a.github.io", "b.github.io", false, false},   /* private suffix: other orgs */
		{"x.a.github.io", "a.github.io", true, false},
		{"EXAMPLE.com", "example.COM", true, true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (tern_dmarc_aligned(NULL, cases[i].a, cases[i].b, TERN_DMARC_RELAXED) != cases[i].relaxed ||
		    tern_dmarc_aligned(NULL, cases[i].a, cases[i].b, TERN_DMARC_STRICT) != cases[i].strict)
			fail_msg("alignment of %s and %s", cases[i].a, cases[i].b);
	}
	assert_false(tern_dmarc_aligned(NULL, NULL, "example.com", TERN_DMARC_RELAXED));
}

/* ---- evaluations ---- */

struct ev {
	const char *from;
	const char *spf;         /* "RESULT:DOMAIN" or NULL */
	const char *dkim[3];     /* "RESULT:DOMAIN" */
	uint32_t random;
	enum tern_dmarc_existence exists;
};

/* A DNS answer in text: "TXT1|TXT2", "NXDOMAIN", "NODATA", "TEMPFAIL". */
static void answer_from(const char *spec, struct tern_dns_answer *a, struct tern_dns_rr *rrs, char *buf)
{
	memset(a, 0, sizeof(*a));
	if (strcmp(spec, "NXDOMAIN") == 0) {
		a->status = TERN_DNS_NXDOMAIN;
		return;
	}
	if (strcmp(spec, "NODATA") == 0) {
		a->status = TERN_DNS_NODATA;
		return;
	}
	if (strcmp(spec, "TEMPFAIL") == 0) {
		a->status = TERN_DNS_TEMPFAIL;
		return;
	}
	strcpy(buf, spec);
	a->status = TERN_DNS_FOUND;
	a->rrs = rrs;
	for (char *p = buf, *bar; p != NULL; p = bar) {
		bar = strchr(p, '|');
		if (bar != NULL)
			*bar++ = '\0';
		rrs[a->count].data = (const unsigned char *)p;
		rrs[a->count].len = strlen(p);
		a->count++;
	}
}

/* Runs an evaluation; zone is "NAME=ANSWER" pairs, names not listed are
 * NXDOMAIN. The names asked are appended to asked (space-separated). */
static struct tern_dmarc *run(const struct ev *e, const char *const *zone, char *asked)
{
	struct tern_dmarc_params p;
	struct tern_dmarc_dkim dkim[3];
	char spf[64], dk[3][64];
	struct tern_dmarc *d;

	memset(&p, 0, sizeof(p));
	p.from_domain = e->from;
	if (e->spf != NULL) {
		strcpy(spf, e->spf);
		char *c = strchr(spf, ':');

		*c = '\0';
		p.spf_result = spf;
		p.spf_domain = c + 1;
	}
	for (size_t i = 0; i < 3 && e->dkim[i] != NULL; i++) {
		strcpy(dk[i], e->dkim[i]);
		char *c = strchr(dk[i], ':');

		*c = '\0';
		dkim[i] = (struct tern_dmarc_dkim){c + 1, "sel", dk[i]};
		p.dkim_count++;
	}
	p.dkim = dkim;
	p.random = e->random;
	p.from_exists = e->exists;
	p.source_ip = "192.0.2.1";
	assert_int_equal(tern_dmarc_new(&p, &d), 0);
	asked[0] = '\0';
	for (int n = 0; tern_dmarc_query(d) != NULL; n++) {
		const char *q = tern_dmarc_query(d);
		const char *spec = "NXDOMAIN";
		struct tern_dns_answer a;
		struct tern_dns_rr rrs[8];
		char buf[512];

		assert_true(n < 2);
		for (size_t i = 0; zone[i] != NULL; i++) {
			size_t k = strlen(q);

			if (strncmp(zone[i], q, k) == 0 && zone[i][k] == '=')
				spec = zone[i] + k + 1;
		}
		strcat(asked, asked[0] ? " " : "");
		strcat(asked, q);
		answer_from(spec, &a, rrs, buf);
		assert_int_equal(tern_dmarc_feed(d, &a), 0);
	}
	assert_int_equal(tern_dmarc_feed(d, &(struct tern_dns_answer){0}), TERN_ESTATE);
	return d;
}

static const char *const ZONE[] = {
	"_dmarc.reject.example=v=DMARC1; p=reject; sp=quarantine; np=reject; rua=mailto:r@reject.example",
	"_dmarc.none.example=v=DMARC1; p=none",
	"_dmarc.strict.example=v=DMARC1; p=reject; adkim=s; aspf=s",
	"_dmarc.half.example=v=DMARC1; p=reject; pct=50",
	"_dmarc.quar.example=v=DMARC1; p=quarantine; pct=0",
	"_dmarc.nosp.example=v=DMARC1; p=reject",
	"_dmarc.two.example=v=DMARC1; p=reject|v=DMARC1; p=none",
	"_dmarc.sub.two.example=v=DMARC1; p=none|v=DMARC1; p=quarantine",
	"_dmarc.mixed.example=v=spf1 -all|v=DMARC1; p=reject|hello",
	"_dmarc.broken.example=v=DMARC1; p=maybe",
	"_dmarc.ruaonly.example=v=DMARC1; p=maybe; rua=mailto:x@ruaonly.example",
	"_dmarc.fail.example=TEMPFAIL",
	"_dmarc.sub.orgfail.example=NODATA",
	"_dmarc.orgfail.example=TEMPFAIL",
	"_dmarc.own.reject.example=v=DMARC1; p=none",
	"_dmarc.example.co.uk=v=DMARC1; p=reject",
	"_dmarc.co.uk=v=DMARC1; p=reject",
	NULL,
};

static void test_eval_table(void **state)
{
	static const struct {
		struct ev e;
		enum tern_dmarc_result result;
		enum tern_dmarc_policy disposition;
		enum tern_dmarc_policy_tag tag;
		const char *asked;
		const char *policy_domain;
	} cases[] = {
		/* pass by SPF, by DKIM, by both; relaxed */
		{{"reject.example", "pass:reject.example"}, TERN_DMARC_RESULT_PASS, TERN_DMARC_POLICY_NONE,
		 TERN_DMARC_FROM_TAG_P, "_dmarc.reject.example", "reject.example"},
		{{"reject.example", "pass:bounce.reject.example"}, TERN_DMARC_RESULT_PASS,
		 TERN_DMARC_POLICY_NONE, TERN_DMARC_FROM_TAG_P, "_dmarc.reject.example", "reject.example"},
		{{"reject.example", "fail:reject.example", {"pass:mail.reject.example"}}, TERN_DMARC_RESULT_PASS,
		 TERN_DMARC_POLICY_NONE, TERN_DMARC_FROM_TAG_P, "_dmarc.reject.example", "reject.example"},
		/* fail: SPF not pass, unaligned pass, DKIM fail aligned, DKIM pass unaligned */
		{{"reject.example", "softfail:reject.example", {"fail:reject.example", "pass:other.example"}},
		 TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_REJECT, TERN_DMARC_FROM_TAG_P,
		 "_dmarc.reject.example", "reject.example"},
		{{"reject.example", "pass:reject.example.net"}, TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_REJECT,
		 TERN_DMARC_FROM_TAG_P, "_dmarc.reject.example", "reject.example"},
		{{"reject.example"}, TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_REJECT, TERN_DMARC_FROM_TAG_P,
		 "_dmarc.reject.example", "reject.example"},
		/* strict: subdomains do not align; the same name does */
		{{"strict.example", "pass:mail.strict.example", {"pass:mail.strict.example"}},
		 TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_REJECT, TERN_DMARC_FROM_TAG_P,
		 "_dmarc.strict.example", "strict.example"},
		{{"strict.example", NULL, {"pass:STRICT.example."}}, TERN_DMARC_RESULT_PASS,
		 TERN_DMARC_POLICY_NONE, TERN_DMARC_FROM_TAG_P, "_dmarc.strict.example", "strict.example"},
		/* sp= for a subdomain whose record is the org's; np= when told it does not exist */
		{{"a.b.reject.example"}, TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_QUARANTINE,
		 TERN_DMARC_FROM_TAG_SP, "_dmarc.a.b.reject.example _dmarc.reject.example", "reject.example"},
		{{"gone.reject.example", .exists = TERN_DMARC_EXISTS_NO}, TERN_DMARC_RESULT_FAIL,
		 TERN_DMARC_POLICY_REJECT, TERN_DMARC_FROM_TAG_NP,
		 "_dmarc.gone.reject.example _dmarc.reject.example", "reject.example"},
		{{"gone.nosp.example", .exists = TERN_DMARC_EXISTS_NO}, TERN_DMARC_RESULT_FAIL,
		 TERN_DMARC_POLICY_REJECT, TERN_DMARC_FROM_TAG_P,
		 "_dmarc.gone.nosp.example _dmarc.nosp.example", "nosp.example"},
		{{"x.nosp.example"}, TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_REJECT, TERN_DMARC_FROM_TAG_P,
		 "_dmarc.x.nosp.example _dmarc.nosp.example", "nosp.example"},
		/* a subdomain with its own record: its p=, not the org's sp= */
		{{"own.reject.example"}, TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_NONE, TERN_DMARC_FROM_TAG_P,
		 "_dmarc.own.reject.example", "own.reject.example"},
		{{"none.example", "pass:none.example"}, TERN_DMARC_RESULT_PASS, TERN_DMARC_POLICY_NONE,
		 TERN_DMARC_FROM_TAG_P, "_dmarc.none.example", "none.example"},
		/* pct: 50 samples random % 100 < 50 in; pct=0 samples none in */
		{{"half.example", .random = 49}, TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_REJECT,
		 TERN_DMARC_FROM_TAG_P, "_dmarc.half.example", "half.example"},
		{{"half.example", .random = 50}, TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_QUARANTINE,
		 TERN_DMARC_FROM_TAG_P, "_dmarc.half.example", "half.example"},
		{{"half.example", .random = 149}, TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_REJECT,
		 TERN_DMARC_FROM_TAG_P, "_dmarc.half.example", "half.example"},
		{{"quar.example", .random = 0}, TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_NONE,
		 TERN_DMARC_FROM_TAG_P, "_dmarc.quar.example", "quar.example"},
		/* several records: none, without falling back (6.6.3 step 5) */
		{{"two.example"}, TERN_DMARC_RESULT_NONE, TERN_DMARC_POLICY_UNSET, TERN_DMARC_FROM_TAG_NONE,
		 "_dmarc.two.example", "two.example"},
		{{"sub.two.example"}, TERN_DMARC_RESULT_NONE, TERN_DMARC_POLICY_UNSET, TERN_DMARC_FROM_TAG_NONE,
		 "_dmarc.sub.two.example", "sub.two.example"},
		/* other TXT records beside the one DMARC record are discarded */
		{{"mixed.example"}, TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_REJECT, TERN_DMARC_FROM_TAG_P,
		 "_dmarc.mixed.example", "mixed.example"},
		/* unusable record: permerror; with a rua=: p=none */
		{{"broken.example"}, TERN_DMARC_RESULT_PERMERROR, TERN_DMARC_POLICY_UNSET,
		 TERN_DMARC_FROM_TAG_NONE, "_dmarc.broken.example", "broken.example"},
		{{"ruaonly.example"}, TERN_DMARC_RESULT_FAIL, TERN_DMARC_POLICY_NONE, TERN_DMARC_FROM_TAG_P,
		 "_dmarc.ruaonly.example", "ruaonly.example"},
		/* no record anywhere; the org's own name is asked once only */
		{{"nothing.example", "pass:nothing.example"}, TERN_DMARC_RESULT_NONE, TERN_DMARC_POLICY_UNSET,
		 TERN_DMARC_FROM_TAG_NONE, "_dmarc.nothing.example", NULL},
		{{"a.nothing.example"}, TERN_DMARC_RESULT_NONE, TERN_DMARC_POLICY_UNSET,
		 TERN_DMARC_FROM_TAG_NONE, "_dmarc.a.nothing.example _dmarc.nothing.example", NULL},
		/* DNS trouble: temperror at either step */
		{{"fail.example", "pass:fail.example"}, TERN_DMARC_RESULT_TEMPERROR, TERN_DMARC_POLICY_UNSET,
		 TERN_DMARC_FROM_TAG_NONE, "_dmarc.fail.example", NULL},
		{{"sub.orgfail.example"}, TERN_DMARC_RESULT_TEMPERROR, TERN_DMARC_POLICY_UNSET,
		 TERN_DMARC_FROM_TAG_NONE, "_dmarc.sub.orgfail.example _dmarc.orgfail.example", NULL},
		/* public suffixes: co.uk is its own org; example.co.uk's subdomain */
		{{"mail.example.co.uk", "pass:bounce.example.co.uk"}, TERN_DMARC_RESULT_PASS,
		 TERN_DMARC_POLICY_NONE, TERN_DMARC_FROM_TAG_P,
		 "_dmarc.mail.example.co.uk _dmarc.example.co.uk", "example.co.uk"},
		{{"other.co.uk", "pass:example.co.uk"}, TERN_DMARC_RESULT_NONE, TERN_DMARC_POLICY_UNSET,
		 TERN_DMARC_FROM_TAG_NONE, "_dmarc.other.co.uk", NULL},
		/* HELO identity (null reverse path) counts the same way */
		{{"reject.example", "pass:mx.reject.example"}, TERN_DMARC_RESULT_PASS, TERN_DMARC_POLICY_NONE,
		 TERN_DMARC_FROM_TAG_P, "_dmarc.reject.example", "reject.example"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char asked[256];
		struct tern_dmarc *d = run(&cases[i].e, ZONE, asked);
		const struct tern_dmarc_outcome *o = tern_dmarc_outcome(d);

		if (o->result != cases[i].result || o->disposition != cases[i].disposition ||
		    o->policy_tag != cases[i].tag || strcmp(asked, cases[i].asked) != 0 ||
		    (cases[i].policy_domain == NULL) != (o->policy_domain == NULL) ||
		    (o->policy_domain != NULL && strcmp(o->policy_domain, cases[i].policy_domain) != 0))
			fail_msg("case %zu (%s): %s/%s tag %d asked \"%s\" at %s", i, cases[i].e.from,
				 tern_dmarc_result_name(o->result), tern_dmarc_policy_name(o->disposition),
				 (int)o->policy_tag, asked, o->policy_domain ? o->policy_domain : "-");
		tern_dmarc_free(&d);
		assert_null(d);
	}
}

/* What an aggregate report needs is all in the outcome. */
static void test_outcome_report_fields(void **state)
{
	char asked[256];
	struct ev e = {"a.reject.example", "pass:a.reject.example",
		       {"pass:reject.example", "fail:reject.example", "pass:other.example"}, 7};
	struct tern_dmarc *d = run(&e, ZONE, asked);
	const struct tern_dmarc_outcome *o = tern_dmarc_outcome(d);

	(void)state;
	assert_int_equal(o->result, TERN_DMARC_RESULT_PASS);
	assert_true(o->have_record);
	assert_int_equal(o->record.p, TERN_DMARC_POLICY_REJECT);
	assert_int_equal(o->record.sp, TERN_DMARC_POLICY_QUARANTINE);
	assert_int_equal(o->requested, TERN_DMARC_POLICY_QUARANTINE);
	assert_int_equal(o->record.rua_count, 1);
	assert_string_equal(o->record.rua[0].uri, "mailto:r@reject.example");
	assert_string_equal(o->from_domain, "a.reject.example");
	assert_string_equal(o->org_domain, "reject.example");
	assert_string_equal(o->policy_domain, "reject.example");
	assert_string_equal(o->source_ip, "192.0.2.1");
	assert_true(o->spf_aligned);
	assert_string_equal(o->spf_result, "pass");
	assert_int_equal(o->dkim_count, 3);
	assert_true(o->dkim[0].aligned);
	assert_false(o->dkim[1].aligned);
	assert_false(o->dkim[2].aligned);
	assert_string_equal(o->dkim[0].selector, "sel");
	assert_false(o->sampled_out);
	tern_dmarc_free(&d);
}

static void test_bad_inputs(void **state)
{
	struct tern_dmarc_params p;
	struct tern_dmarc *d = (struct tern_dmarc *)1;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(tern_dmarc_new(&p, &d), TERN_EINVAL);
	assert_null(d);
	assert_int_equal(tern_dmarc_new(NULL, &d), TERN_EINVAL);
	p.from_domain = "example.com";
	assert_int_equal(tern_dmarc_new(&p, NULL), TERN_EINVAL);
	p.dkim_count = 1;
	assert_int_equal(tern_dmarc_new(&p, &d), TERN_EINVAL);
	p.dkim_count = 0;
	/* A From domain that is no domain: permerror at once, no lookup. */
	static const char *const bad[] = {"", "exa mple.com", "a..b", "-a.example", "_dmarc;.x"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p.from_domain = bad[i];
		assert_int_equal(tern_dmarc_new(&p, &d), 0);
		assert_null(tern_dmarc_query(d));
		assert_int_equal(tern_dmarc_outcome(d)->result, TERN_DMARC_RESULT_PERMERROR);
		tern_dmarc_free(&d);
	}
	p.from_domain = "example.com";
	assert_int_equal(tern_dmarc_new(&p, &d), 0);
	assert_string_equal(tern_dmarc_query(d), "_dmarc.example.com");
	assert_int_equal(tern_dmarc_feed(d, NULL), TERN_EINVAL);
	tern_dmarc_free(&d);
	tern_dmarc_free(&d);
	tern_dmarc_free(NULL);
}

static void test_stricter(void **state)
{
	struct tern_dmarc_outcome a = {0}, b = {0};

	(void)state;
	a.result = TERN_DMARC_RESULT_FAIL;
	a.disposition = TERN_DMARC_POLICY_QUARANTINE;
	b.result = TERN_DMARC_RESULT_FAIL;
	b.disposition = TERN_DMARC_POLICY_REJECT;
	assert_ptr_equal(tern_dmarc_stricter(&a, &b), &b);
	b.disposition = TERN_DMARC_POLICY_NONE;
	assert_ptr_equal(tern_dmarc_stricter(&a, &b), &a);
	b.disposition = TERN_DMARC_POLICY_QUARANTINE;
	b.result = TERN_DMARC_RESULT_PASS;
	assert_ptr_equal(tern_dmarc_stricter(&b, &a), &a);
	assert_ptr_equal(tern_dmarc_stricter(&a, NULL), &a);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(tern_dmarc_result_name(TERN_DMARC_RESULT_PERMERROR), "permerror");
	assert_string_equal(tern_dmarc_result_name(TERN_DMARC_RESULT_NONE), "none");
	assert_string_equal(tern_dmarc_policy_name(TERN_DMARC_POLICY_QUARANTINE), "quarantine");
	assert_string_equal(tern_dmarc_policy_name(TERN_DMARC_POLICY_UNSET), "");
	assert_string_equal(tern_dmarc_from_strstatus(TERN_DMARC_FROM_NONE), "no From field");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_minimal),
		cmocka_unit_test(test_record_full),
		cmocka_unit_test(test_record_case_and_space),
		cmocka_unit_test(test_record_not_dmarc),
		cmocka_unit_test(test_record_bad_policy),
		cmocka_unit_test(test_record_bad_values),
		cmocka_unit_test(test_org_domain),
		cmocka_unit_test(test_org_domain_loaded_psl),
		cmocka_unit_test(test_alignment_table),
		cmocka_unit_test(test_eval_table),
		cmocka_unit_test(test_outcome_report_fields),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_stricter),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
