/* The SPF engine (include/tern/spf.h) driven through its query/answer
 * loop against a table of DNS data: results, limits (the 11th DNS term,
 * the 3rd void lookup, 11 MX names), include's result mapping (RFC 7208
 * 5.2), include loops, redirect, exp=, %{p}, both identities, cancel, bad
 * arguments, and byte-exact Received-SPF and Authentication-Results. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "tern/spf.h"

/* One DNS record; type 0 with value "NXDOMAIN" or "TEMPFAIL" makes the
 * whole name so. A name absent from the table is NXDOMAIN; a name present
 * without the type asked is NODATA. */
struct rec {
	const char *name;
	int type;
	const char *value;
};

#define END { NULL, 0, NULL }

struct run {
	tern_spf *spf;
	unsigned queries;
	char asked[64][300];
};

static void answer_from(const struct rec *zone, const char *name, enum tern_dns_type type,
			struct tern_dns_answer *a, struct tern_dns_rr *rrs, uint8_t (*bin)[16])
{
	bool known = false;

	memset(a, 0, sizeof(*a));
	a->rrs = rrs;
	for (const struct rec *r = zone; r->name; r++) {
		if (strcasecmp(r->name, name) != 0)
			continue;
		known = true;
		if (r->type == 0) {
			a->status = strcmp(r->value, "TEMPFAIL") == 0 ? TERN_DNS_TEMPFAIL
								       : TERN_DNS_NXDOMAIN;
			return;
		}
		if (r->type != (int)type)
			continue;
		struct tern_dns_rr *rr = &rrs[a->count];
		memset(rr, 0, sizeof(*rr));
		if (type == TERN_DNS_TYPE_A || type == TERN_DNS_TYPE_AAAA) {
			int fam = type == TERN_DNS_TYPE_A ? AF_INET : AF_INET6;
			assert_int_equal(inet_pton(fam, r->value, bin[a->count]), 1);
			rr->data = bin[a->count];
			rr->len = type == TERN_DNS_TYPE_A ? 4 : 16;
		} else if (type == TERN_DNS_TYPE_MX) {
			rr->preference = (unsigned)atoi(r->value);
			rr->data = (const unsigned char *)strchr(r->value, ' ') + 1;
			rr->len = strlen((const char *)rr->data);
		} else {
			rr->data = (const unsigned char *)r->value;
			rr->len = strlen(r->value);
		}
		a->count++;
	}
	a->status = a->count ? TERN_DNS_FOUND : known ? TERN_DNS_NODATA : TERN_DNS_NXDOMAIN;
}

static void drive(struct run *run, const tern_spf_params *p, const struct rec *zone)
{
	const char *name;
	enum tern_dns_type type;

	memset(run, 0, sizeof(*run));
	assert_int_equal(tern_spf_new(&run->spf, p), 0);
	while (tern_spf_next(run->spf, &name, &type) == TERN_SPF_QUERY) {
		struct tern_dns_answer a;
		struct tern_dns_rr rrs[32];
		uint8_t bin[32][16];

		assert_true(run->queries < TERN_SPF_MAX_QUERIES);
		if (run->queries < 64)
			snprintf(run->asked[run->queries], sizeof(run->asked[0]), "%s/%d", name,
				 (int)type);
		run->queries++;
		answer_from(zone, name, type, &a, rrs, bin);
		assert_int_equal(tern_spf_answer(run->spf, &a), 0);
	}
	assert_int_equal(tern_spf_queries(run->spf), run->queries);
}

static const struct tern_spf_outcome *check(const char *ip, const char *from,
					    const struct rec *zone, struct run *run)
{
	tern_spf_params p;

	tern_spf_params_init(&p);
	p.client_ip = ip;
	p.helo = "mail.example.org";
	p.mail_from = from;
	p.receiver = "mx.example.net";
	drive(run, &p, zone);
	return tern_spf_outcome(run->spf, TERN_SPF_MAILFROM);
}

/* The result of checking ip/from against zone; frees everything. */
static enum tern_spf_result result_of(const char *ip, const char *from, const struct rec *zone)
{
	struct run run;
	const struct tern_spf_outcome *o = check(ip, from, zone, &run);

	assert_non_null(o);
	enum tern_spf_result r = o->result;
	tern_spf_destroy(&run.spf);
	assert_null(run.spf);
	return r;
}

static void test_basic(void **state)
{
	static const struct rec zone[] = {
		{ "example.com", TERN_DNS_TYPE_TXT, "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a:mail.example.com mx ~all" },
		{ "example.com", TERN_DNS_TYPE_TXT, "some other text" },
		{ "example.com", TERN_DNS_TYPE_MX, "10 mx.example.com" },
		{ "mx.example.com", TERN_DNS_TYPE_A, "198.51.100.7" },
		{ "mail.example.com", TERN_DNS_TYPE_A, "198.51.100.9" },
		{ "neutral.example", TERN_DNS_TYPE_TXT, "v=spf1 ?all" },
		{ "fail.example", TERN_DNS_TYPE_TXT, "v=spf1 -all" },
		{ "empty.example", TERN_DNS_TYPE_TXT, "v=spf1" },
		{ "two.example", TERN_DNS_TYPE_TXT, "v=spf1 -all" },
		{ "two.example", TERN_DNS_TYPE_TXT, "V=SPF1 +all" },
		{ "txt.example", TERN_DNS_TYPE_TXT, "v=spf10 +all" },
		{ "temp.example", 0, "TEMPFAIL" },
		END,
	};
	(void)state;
	assert_int_equal(result_of("192.0.2.1", "a@example.com", zone), TERN_SPF_RESULT_PASS);
	assert_int_equal(result_of("2001:db8::5", "a@example.com", zone), TERN_SPF_RESULT_PASS);
	/* An IPv4-mapped IPv6 client is matched by ip4. */
	assert_int_equal(result_of("::ffff:192.0.2.1", "a@example.com", zone), TERN_SPF_RESULT_PASS);
	assert_int_equal(result_of("198.51.100.7", "a@example.com", zone), TERN_SPF_RESULT_PASS);
	assert_int_equal(result_of("198.51.100.9", "a@example.com", zone), TERN_SPF_RESULT_PASS);
	assert_int_equal(result_of("203.0.113.1", "a@example.com", zone), TERN_SPF_RESULT_SOFTFAIL);
	assert_int_equal(result_of("203.0.113.1", "a@neutral.example", zone), TERN_SPF_RESULT_NEUTRAL);
	assert_int_equal(result_of("203.0.113.1", "a@fail.example", zone), TERN_SPF_RESULT_FAIL);
	assert_int_equal(result_of("203.0.113.1", "a@empty.example", zone), TERN_SPF_RESULT_NEUTRAL);
	assert_int_equal(result_of("203.0.113.1", "a@two.example", zone), TERN_SPF_RESULT_PERMERROR);
	assert_int_equal(result_of("203.0.113.1", "a@txt.example", zone), TERN_SPF_RESULT_NONE);
	assert_int_equal(result_of("203.0.113.1", "a@nowhere.example", zone), TERN_SPF_RESULT_NONE);
	assert_int_equal(result_of("203.0.113.1", "a@temp.example", zone), TERN_SPF_RESULT_TEMPERROR);
	/* RFC 7208 4.3: no usable domain: none, without asking anything. */
	struct run run;
	const struct tern_spf_outcome *o = check("192.0.2.1", "a@localhost", zone, &run);
	assert_int_equal(o->result, TERN_SPF_RESULT_NONE);
	assert_int_equal(run.queries, 0);
	assert_non_null(o->problem);
	tern_spf_destroy(&run.spf);
}

static void test_dns_term_limit(void **state)
{
	/* 10 DNS-querying terms are fine; the 11th is a permerror (RFC 7208
	 * 4.6.4), counted across includes. */
	static const struct rec zone[] = {
		{ "ten.example", TERN_DNS_TYPE_TXT, "v=spf1 a a a a a a a a a a -all" },
		{ "eleven.example", TERN_DNS_TYPE_TXT, "v=spf1 a a a a a a a a a a a -all" },
		{ "inc.example", TERN_DNS_TYPE_TXT, "v=spf1 a include:ten-inner.example ip4:192.0.2.1 -all" },
		{ "ten-inner.example", TERN_DNS_TYPE_TXT, "v=spf1 a a a a a a a a a" },
		{ "ten.example", TERN_DNS_TYPE_A, "198.51.100.1" },
		{ "eleven.example", TERN_DNS_TYPE_A, "198.51.100.1" },
		{ "inc.example", TERN_DNS_TYPE_A, "198.51.100.1" },
		{ "ten-inner.example", TERN_DNS_TYPE_A, "198.51.100.1" },
		END,
	};
	struct run run;
	const struct tern_spf_outcome *o;

	(void)state;
	assert_int_equal(result_of("192.0.2.1", "a@ten.example", zone), TERN_SPF_RESULT_FAIL);
	o = check("192.0.2.1", "a@eleven.example", zone, &run);
	assert_int_equal(o->result, TERN_SPF_RESULT_PERMERROR);
	assert_string_equal(o->problem, "too many DNS-querying terms");
	assert_int_equal(run.queries, 11);   /* the record and 10 A lookups */
	tern_spf_destroy(&run.spf);
	/* 1 + include + 9 = 11 before ip4 is reached */
	assert_int_equal(result_of("192.0.2.1", "a@inc.example", zone), TERN_SPF_RESULT_PERMERROR);
}

static void test_void_limit(void **state)
{
	static const struct rec zone[] = {
		{ "two.example", TERN_DNS_TYPE_TXT, "v=spf1 a:n1.two.example a:n2.two.example -all" },
		{ "three.example", TERN_DNS_TYPE_TXT,
		  "v=spf1 a:n1.two.example mx:n2.two.example exists:n3.two.example -all" },
		{ "n2.two.example", TERN_DNS_TYPE_TXT, "exists, no address" },
		END,
	};
	struct run run;
	const struct tern_spf_outcome *o;

	(void)state;
	/* two void lookups (NXDOMAIN, NODATA) are allowed */
	assert_int_equal(result_of("192.0.2.1", "a@two.example", zone), TERN_SPF_RESULT_FAIL);
	o = check("192.0.2.1", "a@three.example", zone, &run);
	assert_int_equal(o->result, TERN_SPF_RESULT_PERMERROR);
	assert_string_equal(o->problem, "too many void DNS lookups");
	tern_spf_destroy(&run.spf);
}

static void test_mx_limit(void **state)
{
	static const struct rec zone[] = {
		{ "many.example", TERN_DNS_TYPE_TXT, "v=spf1 mx -all" },
		{ "many.example", TERN_DNS_TYPE_MX, "1 m1.example" },
		{ "many.example", TERN_DNS_TYPE_MX, "2 m2.example" },
		{ "many.example", TERN_DNS_TYPE_MX, "3 m3.example" },
		{ "many.example", TERN_DNS_TYPE_MX, "4 m4.example" },
		{ "many.example", TERN_DNS_TYPE_MX, "5 m5.example" },
		{ "many.example", TERN_DNS_TYPE_MX, "6 m6.example" },
		{ "many.example", TERN_DNS_TYPE_MX, "7 m7.example" },
		{ "many.example", TERN_DNS_TYPE_MX, "8 m8.example" },
		{ "many.example", TERN_DNS_TYPE_MX, "9 m9.example" },
		{ "many.example", TERN_DNS_TYPE_MX, "10 m10.example" },
		{ "many.example", TERN_DNS_TYPE_MX, "11 m11.example" },
		{ "nullmx.example", TERN_DNS_TYPE_TXT, "v=spf1 mx -all" },
		{ "nullmx.example", TERN_DNS_TYPE_MX, "0 " },
		END,
	};
	(void)state;
	assert_int_equal(result_of("192.0.2.1", "a@many.example", zone), TERN_SPF_RESULT_PERMERROR);
	/* RFC 7505's null MX names no host: no match, nothing asked for it */
	assert_int_equal(result_of("192.0.2.1", "a@nullmx.example", zone), TERN_SPF_RESULT_FAIL);
}

static void test_include_mapping(void **state)
{
	/* RFC 7208 5.2's table: what the included check returns, and what
	 * include:'s parent makes of it ("+include ... -all"). */
	static const struct rec zone[] = {
		{ "p.example", TERN_DNS_TYPE_TXT, "v=spf1 include:pass.example -all" },
		{ "f.example", TERN_DNS_TYPE_TXT, "v=spf1 include:fail.example -all" },
		{ "s.example", TERN_DNS_TYPE_TXT, "v=spf1 include:soft.example -all" },
		{ "n.example", TERN_DNS_TYPE_TXT, "v=spf1 include:neutral.example -all" },
		{ "t.example", TERN_DNS_TYPE_TXT, "v=spf1 include:temp.example -all" },
		{ "e.example", TERN_DNS_TYPE_TXT, "v=spf1 include:perm.example -all" },
		{ "o.example", TERN_DNS_TYPE_TXT, "v=spf1 include:none.example -all" },
		{ "q.example", TERN_DNS_TYPE_TXT, "v=spf1 ?include:pass.example -all" },
		{ "pass.example", TERN_DNS_TYPE_TXT, "v=spf1 +all" },
		{ "fail.example", TERN_DNS_TYPE_TXT, "v=spf1 -all" },
		{ "soft.example", TERN_DNS_TYPE_TXT, "v=spf1 ~all" },
		{ "neutral.example", TERN_DNS_TYPE_TXT, "v=spf1 ?all" },
		{ "temp.example", 0, "TEMPFAIL" },
		{ "perm.example", TERN_DNS_TYPE_TXT, "v=spf1 nonsense" },
		END,
	};
	static const struct {
		const char *from;
		enum tern_spf_result want;
	} cases[] = {
		{ "a@p.example", TERN_SPF_RESULT_PASS },
		{ "a@f.example", TERN_SPF_RESULT_FAIL },
		{ "a@s.example", TERN_SPF_RESULT_FAIL },
		{ "a@n.example", TERN_SPF_RESULT_FAIL },
		{ "a@t.example", TERN_SPF_RESULT_TEMPERROR },
		{ "a@e.example", TERN_SPF_RESULT_PERMERROR },
		{ "a@o.example", TERN_SPF_RESULT_PERMERROR },
		{ "a@q.example", TERN_SPF_RESULT_NEUTRAL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum tern_spf_result r = result_of("192.0.2.1", cases[i].from, zone);
		if (r != cases[i].want)
			fail_msg("%s: %s, want %s", cases[i].from, tern_spf_result_name(r),
				 tern_spf_result_name(cases[i].want));
	}
}

static void test_include_loop(void **state)
{
	/* A record that includes itself, and two that include each other,
	 * end in permerror within the term limit. */
	static const struct rec zone[] = {
		{ "self.example", TERN_DNS_TYPE_TXT, "v=spf1 include:self.example -all" },
		{ "ping.example", TERN_DNS_TYPE_TXT, "v=spf1 include:pong.example -all" },
		{ "pong.example", TERN_DNS_TYPE_TXT, "v=spf1 include:ping.example -all" },
		{ "red.example", TERN_DNS_TYPE_TXT, "v=spf1 redirect=red.example" },
		END,
	};
	const char *const froms[] = { "a@self.example", "a@ping.example", "a@red.example" };
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct run run;
		const struct tern_spf_outcome *o = check("192.0.2.1", froms[i], zone, &run);
		assert_int_equal(o->result, TERN_SPF_RESULT_PERMERROR);
		assert_true(run.queries <= 12);
		tern_spf_destroy(&run.spf);
	}
}

static void test_redirect(void **state)
{
	static const struct rec zone[] = {
		{ "r.example", TERN_DNS_TYPE_TXT, "v=spf1 ip4:198.51.100.1 redirect=_spf.%{d} exp=no.example" },
		{ "_spf.r.example", TERN_DNS_TYPE_TXT, "v=spf1 ip4:192.0.2.0/24 -all exp=why.example" },
		{ "why.example", TERN_DNS_TYPE_TXT, "%{i} is not allowed for %{d}" },
		{ "no.example", TERN_DNS_TYPE_TXT, "the redirecting record's exp= is not used" },
		{ "gone.example", TERN_DNS_TYPE_TXT, "v=spf1 redirect=nothing.example" },
		{ "all.example", TERN_DNS_TYPE_TXT, "v=spf1 redirect=_spf.r.example ?all" },
		END,
	};
	struct run run;
	const struct tern_spf_outcome *o;

	(void)state;
	assert_int_equal(result_of("192.0.2.7", "a@r.example", zone), TERN_SPF_RESULT_PASS);
	o = check("203.0.113.9", "a@r.example", zone, &run);
	assert_int_equal(o->result, TERN_SPF_RESULT_FAIL);
	assert_string_equal(o->explanation, "203.0.113.9 is not allowed for _spf.r.example");
	assert_string_equal(o->mechanism, "-all");
	tern_spf_destroy(&run.spf);
	/* RFC 7208 6.1: a redirect to a domain without a record: permerror */
	assert_int_equal(result_of("192.0.2.7", "a@gone.example", zone), TERN_SPF_RESULT_PERMERROR);
	/* and redirect= is ignored next to "all" */
	assert_int_equal(result_of("203.0.113.9", "a@all.example", zone), TERN_SPF_RESULT_NEUTRAL);
}

static void test_explanation(void **state)
{
	static const struct rec zone[] = {
		{ "x.example", TERN_DNS_TYPE_TXT, "v=spf1 -all exp=e.%{d}" },
		{ "e.x.example", TERN_DNS_TYPE_TXT, "%{L} at %{c}, see %{r} at %{t}" },
		{ "d.example", TERN_DNS_TYPE_TXT, "v=spf1 -all" },
		{ "two.example", TERN_DNS_TYPE_TXT, "v=spf1 -all exp=t.example" },
		{ "t.example", TERN_DNS_TYPE_TXT, "one" },
		{ "t.example", TERN_DNS_TYPE_TXT, "two" },
		{ "bad.example", TERN_DNS_TYPE_TXT, "v=spf1 -all exp=b.example" },
		{ "b.example", TERN_DNS_TYPE_TXT, "broken %{x}" },
		END,
	};
	tern_spf_params p;
	struct run run;
	const struct tern_spf_outcome *o;

	(void)state;
	tern_spf_params_init(&p);
	p.client_ip = "2001:db8::1";
	p.helo = "h.example";
	p.mail_from = "Jo Doe@x.example";
	p.receiver = "mx.example.net";
	p.now = 1234567890;
	drive(&run, &p, zone);
	o = tern_spf_outcome(run.spf, TERN_SPF_MAILFROM);
	assert_int_equal(o->result, TERN_SPF_RESULT_FAIL);
	assert_string_equal(o->explanation, "Jo%20Doe at 2001:db8::1, see mx.example.net at 1234567890");
	tern_spf_destroy(&run.spf);

	/* no exp=, several strings, a bad macro: the default */
	const char *const froms[] = { "a@d.example", "a@two.example", "a@bad.example" };
	for (size_t i = 0; i < 3; i++) {
		p.mail_from = froms[i];
		p.default_explanation = i == 2 ? "rejected %{d}" : NULL;
		drive(&run, &p, zone);
		o = tern_spf_outcome(run.spf, TERN_SPF_MAILFROM);
		assert_int_equal(o->result, TERN_SPF_RESULT_FAIL);
		if (i < 2) {
			char want[128];
			snprintf(want, sizeof(want),
				 "2001:db8::1 is not one of %s's designated mail servers.", froms[i] + 2);
			assert_string_equal(o->explanation, want);
		} else {
			assert_string_equal(o->explanation, "rejected bad.example");
		}
		tern_spf_destroy(&run.spf);
	}
}

static void test_ptr_and_p(void **state)
{
	static const struct rec zone[] = {
		{ "ptr.example", TERN_DNS_TYPE_TXT, "v=spf1 ptr -all exp=e.ptr.example" },
		{ "e.ptr.example", TERN_DNS_TYPE_TXT, "from %{p}" },
		{ "1.2.0.192.in-addr.arpa", TERN_DNS_TYPE_PTR, "mail.ptr.example" },
		{ "1.2.0.192.in-addr.arpa", TERN_DNS_TYPE_PTR, "other.example" },
		{ "mail.ptr.example", TERN_DNS_TYPE_A, "192.0.2.1" },
		{ "other.example", TERN_DNS_TYPE_A, "192.0.2.1" },
		{ "2.2.0.192.in-addr.arpa", TERN_DNS_TYPE_PTR, "fake.ptr.example" },
		{ "fake.ptr.example", TERN_DNS_TYPE_A, "198.51.100.1" },
		{ "pm.example", TERN_DNS_TYPE_TXT, "v=spf1 exists:%{p}.ok.example -all" },
		{ "other.example.ok.example", TERN_DNS_TYPE_A, "127.0.0.2" },
		END,
	};
	struct run run;
	const struct tern_spf_outcome *o;

	(void)state;
	assert_int_equal(result_of("192.0.2.1", "a@ptr.example", zone), TERN_SPF_RESULT_PASS);
	/* a PTR name that does not resolve back does not validate */
	o = check("192.0.2.2", "a@ptr.example", zone, &run);
	assert_int_equal(o->result, TERN_SPF_RESULT_FAIL);
	assert_string_equal(o->explanation, "from unknown");
	tern_spf_destroy(&run.spf);
	/* %{p}: neither name is within pm.example, so any validated one */
	o = check("192.0.2.1", "a@pm.example", zone, &run);
	assert_int_equal(o->result, TERN_SPF_RESULT_FAIL);
	tern_spf_destroy(&run.spf);
}

static void test_identities(void **state)
{
	static const struct rec zone[] = {
		{ "mail.example.org", TERN_DNS_TYPE_TXT, "v=spf1 a -all" },
		{ "mail.example.org", TERN_DNS_TYPE_A, "192.0.2.1" },
		{ "example.com", TERN_DNS_TYPE_TXT, "v=spf1 ~all" },
		END,
	};
	tern_spf_params p;
	struct run run;
	const struct tern_spf_outcome *h, *m;

	(void)state;
	tern_spf_params_init(&p);
	p.client_ip = "192.0.2.1";
	p.helo = "mail.example.org";
	p.mail_from = "user@example.com";
	p.checks = TERN_SPF_HELO | TERN_SPF_MAILFROM;
	drive(&run, &p, zone);
	h = tern_spf_outcome(run.spf, TERN_SPF_HELO);
	m = tern_spf_outcome(run.spf, TERN_SPF_MAILFROM);
	assert_int_equal(h->result, TERN_SPF_RESULT_PASS);
	assert_string_equal(h->sender, "postmaster@mail.example.org");
	assert_int_equal(m->result, TERN_SPF_RESULT_SOFTFAIL);
	assert_string_equal(m->domain, "example.com");
	assert_string_equal(run.asked[0], "mail.example.org/16");   /* HELO first */
	tern_spf_destroy(&run.spf);

	/* RFC 7208 2.4: the null sender is postmaster@HELO; with both checks
	 * asked, the HELO check answers for it and nothing is asked twice. */
	p.mail_from = "";
	drive(&run, &p, zone);
	m = tern_spf_outcome(run.spf, TERN_SPF_MAILFROM);
	assert_int_equal(m->result, TERN_SPF_RESULT_PASS);
	assert_string_equal(m->sender, "postmaster@mail.example.org");
	assert_int_equal(run.queries, 2);
	tern_spf_destroy(&run.spf);

	/* only HELO asked: no MAIL FROM outcome */
	p.checks = TERN_SPF_HELO;
	drive(&run, &p, zone);
	assert_null(tern_spf_outcome(run.spf, TERN_SPF_MAILFROM));
	assert_non_null(tern_spf_outcome(run.spf, TERN_SPF_HELO));
	tern_spf_destroy(&run.spf);

	/* a sender without local-part is postmaster@ (RFC 7208 4.3) */
	p.checks = 0;
	p.mail_from = "@example.com";
	drive(&run, &p, zone);
	assert_string_equal(tern_spf_outcome(run.spf, TERN_SPF_MAILFROM)->sender,
			    "postmaster@example.com");
	tern_spf_destroy(&run.spf);
}

static void test_cancel_and_errors(void **state)
{
	tern_spf_params p;
	tern_spf *spf = NULL;
	const char *name;
	enum tern_dns_type type;
	struct tern_dns_answer a = { .status = TERN_DNS_NODATA };

	(void)state;
	tern_spf_params_init(&p);
	assert_int_equal(tern_spf_new(&spf, &p), TERN_EINVAL);   /* no client_ip */
	assert_null(spf);
	p.client_ip = "not an address";
	assert_int_equal(tern_spf_new(&spf, &p), TERN_EINVAL);
	p.client_ip = "192.0.2.1";
	p.checks = 8;
	assert_int_equal(tern_spf_new(&spf, &p), TERN_EINVAL);
	assert_int_equal(tern_spf_new(&spf, NULL), TERN_EINVAL);
	p.checks = 0;
	p.mail_from = "a@example.com";
	assert_int_equal(tern_spf_new(&spf, &p), 0);
	assert_null(tern_spf_outcome(spf, TERN_SPF_MAILFROM));
	assert_int_equal(tern_spf_answer(spf, &a), TERN_ESTATE);   /* nothing asked yet */
	assert_int_equal(tern_spf_next(spf, &name, &type), TERN_SPF_QUERY);
	assert_string_equal(name, "example.com");
	assert_int_equal(type, TERN_DNS_TYPE_TXT);
	/* asking again without an answer repeats the question */
	assert_int_equal(tern_spf_next(spf, &name, &type), TERN_SPF_QUERY);
	assert_string_equal(name, "example.com");
	assert_int_equal(tern_spf_answer(spf, NULL), TERN_EINVAL);
	tern_spf_cancel(spf);
	assert_int_equal(tern_spf_next(spf, &name, &type), TERN_SPF_DONE);
	assert_int_equal(tern_spf_answer(spf, &a), TERN_ESTATE);
	const struct tern_spf_outcome *o = tern_spf_outcome(spf, TERN_SPF_MAILFROM);
	assert_int_equal(o->result, TERN_SPF_RESULT_TEMPERROR);
	assert_string_equal(o->problem, "cancelled");
	tern_spf_destroy(&spf);
	tern_spf_destroy(&spf);   /* NULL is fine */
	tern_spf_destroy(NULL);
	assert_string_equal(tern_spf_result_name(TERN_SPF_RESULT_SOFTFAIL), "softfail");
	assert_string_equal(tern_spf_result_name((enum tern_spf_result)99), "unknown");
}

static void test_header_fields(void **state)
{
	static const struct rec zone[] = {
		{ "example.com", TERN_DNS_TYPE_TXT, "v=spf1 ip4:192.0.2.0/24 -all" },
		{ "bad.example", TERN_DNS_TYPE_TXT, "v=spf1 ip4:1.2.3.4/40" },
		END,
	};
	struct run run;
	char buf[512];
	int n;

	(void)state;
	check("192.0.2.1", "myname@example.com", zone, &run);
	n = tern_spf_received_spf(run.spf, TERN_SPF_MAILFROM, buf, sizeof(buf));
	const char *want =
		"Received-SPF: pass (mx.example.net: domain of myname@example.com designates\r\n"
		" 192.0.2.1 as permitted sender) client-ip=192.0.2.1;\r\n"
		" envelope-from=\"myname@example.com\"; helo=mail.example.org;\r\n"
		" receiver=mx.example.net; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\"";
	assert_string_equal(buf, want);
	assert_int_equal(n, (int)strlen(want));
	/* snprintf-style: the length without room, a cut copy with little */
	assert_int_equal(tern_spf_received_spf(run.spf, TERN_SPF_MAILFROM, NULL, 0), n);
	assert_int_equal(tern_spf_received_spf(run.spf, TERN_SPF_MAILFROM, buf, 10), n);
	assert_string_equal(buf, "Received-");
	assert_int_equal(tern_spf_received_spf(run.spf, TERN_SPF_HELO, buf, sizeof(buf)),
			 TERN_EINVAL);
	n = tern_spf_auth_results(run.spf, TERN_SPF_MAILFROM, buf, sizeof(buf));
	assert_string_equal(buf, "spf=pass smtp.mailfrom=example.com");
	assert_int_equal(n, (int)strlen(buf));
	tern_spf_destroy(&run.spf);

	check("192.0.2.1", "x(y)@bad.example", zone, &run);
	tern_spf_received_spf(run.spf, TERN_SPF_MAILFROM, buf, sizeof(buf));
	want = "Received-SPF: permerror (mx.example.net: permanent error in processing domain\r\n"
	       " of x\\(y\\)@bad.example: bad mechanism syntax \\(bad.example\\))\r\n"
	       " client-ip=192.0.2.1; envelope-from=\"x(y)@bad.example\"; helo=mail.example.org;\r\n"
	       " receiver=mx.example.net; identity=mailfrom;\r\n"
	       " problem=\"bad mechanism syntax (bad.example)\"";
	assert_string_equal(buf, want);
	tern_spf_auth_results(run.spf, TERN_SPF_MAILFROM, buf, sizeof(buf));
	assert_string_equal(buf, "spf=permerror smtp.mailfrom=bad.example");
	tern_spf_destroy(&run.spf);
}

static void test_long_names(void **state)
{
	/* RFC 7208 7.3: a macro-expanded name over 253 octets loses labels on
	 * the left; the query still goes out, to the shortened name. */
	static const struct rec zone[] = {
		{ "long.example", TERN_DNS_TYPE_TXT,
		  "v=spf1 exists:%{l}.%{l}.%{l}.%{l}.%{l}.long.example -all" },
		END,
	};
	char local[64], from[128];
	struct run run;

	(void)state;
	memset(local, 'x', 63);
	local[63] = '\0';
	snprintf(from, sizeof(from), "%s@long.example", local);
	check("192.0.2.1", from, zone, &run);
	assert_int_equal(tern_spf_outcome(run.spf, TERN_SPF_MAILFROM)->result, TERN_SPF_RESULT_FAIL);
	/* asked[1] is the exists lookup: 3 labels of 63 + "long.example" */
	assert_int_equal(strlen(run.asked[1]), 3 * 64 + 12 + 2);
	tern_spf_destroy(&run.spf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),           cmocka_unit_test(test_dns_term_limit),
		cmocka_unit_test(test_void_limit),      cmocka_unit_test(test_mx_limit),
		cmocka_unit_test(test_include_mapping), cmocka_unit_test(test_include_loop),
		cmocka_unit_test(test_redirect),        cmocka_unit_test(test_explanation),
		cmocka_unit_test(test_ptr_and_p),       cmocka_unit_test(test_identities),
		cmocka_unit_test(test_cancel_and_errors), cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_long_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
