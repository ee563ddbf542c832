"""DMARC (RFC 7489) against independent implementations, over a loopback
DNS server (tests/interop/dns_server.py) serving a zone written here:

- tern-dmarc's result and requested policy for a table of (From domain,
  SPF result and domain, DKIM results and domains) cases, compared with
  mailauth 4.x's dmarc() (Node, tests/interop/node_modules) and Perl's
  Mail::DMARC (Mail::DMARC::PurePerl with Net::DNS pointed at the server).
  Where an oracle disagrees with tern, the table says so and names the
  RFC clause that decides; tern must then match the RFC reading, and the
  oracle must still give the answer the table records for it, so that a
  change on either side is noticed.
- The Authentication-Results field tern-dmarc prints, read by Python's
  authres module: the same authserv-id and method results.
- The From domains tern-dmarc reads from a message, compared with Python's
  email.headerregistry (policy.default) for legal From fields.

pct= is 100 in every record: both oracles draw their own random number
(tests/unit/test_dmarc.c covers pct with fixed ones)."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import test_dns   # its DnsServer: dns_server.py on loopback with a zone
import ternlib
from ternlib import ToolsMixin

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"   # Debian's: dnslib, authres
TOOL = os.path.join(os.path.dirname(ternlib.TERND), "tern-dmarc")

# Every From domain and organizational domain exists (Mail::DMARC checks
# that, RFC 7489 9.6 / 6.6.3), with these _dmarc records.
RECORDS = {
    "reject-example.com": ["v=DMARC1; p=reject; sp=quarantine; rua=mailto:r@reject-example.com"],
    "none-example.com": ["v=DMARC1; p=none"],
    "quar-example.com": ["v=DMARC1; p=quarantine"],
    "strict-example.com": ["v=DMARC1; p=reject; adkim=s; aspf=s"],
    "own.reject-example.com": ["v=DMARC1; p=none"],
    "own2.reject-example.com": ["v=DMARC1; p=reject; sp=none"],
    "twosub.reject-example.com": ["v=DMARC1; p=none", "v=DMARC1; p=reject"],
    "multi-example.com": ["v=DMARC1; p=reject", "v=DMARC1; p=none"],
    "badp-example.com": ["v=DMARC1; p=maybe; rua=mailto:x@badp-example.com"],
    "mixed-example.com": ["v=spf1 -all", "v=DMARC1; p=quarantine", "google-site-verification=x"],
    "example.co.uk": ["v=DMARC1; p=reject"],
    "lower-example.com": ["v=dmarc1; p=reject"],
}
EXISTING = ["reject-example.com", "sub.reject-example.com", "own.reject-example.com",
            "own2.reject-example.com", "twosub.reject-example.com", "none-example.com",
            "quar-example.com", "strict-example.com", "multi-example.com", "badp-example.com",
            "mixed-example.com", "example.co.uk", "shop.example.co.uk", "norecord-example.com",
            "a.norecord-example.com", "servfail-example.com", "lower-example.com"]
SERVFAIL = ["_dmarc.servfail-example.com"]

# (id, From domain, SPF "result:domain" or None, [DKIM "result:domain"],
#  tern's (result, requested policy), {oracle: (result, policy, why)} for
#  the oracles that differ from tern).
CASES = [
    ("spf_pass", "reject-example.com", "pass:reject-example.com", [], ("pass", "reject"), {}),
    ("spf_relaxed", "reject-example.com", "pass:bounce.reject-example.com", [], ("pass", "reject"), {}),
    ("dkim_relaxed", "reject-example.com", "fail:reject-example.com", ["pass:mail.reject-example.com"],
     ("pass", "reject"), {}),
    ("unaligned_fail", "reject-example.com", "pass:other-example.net",
     ["pass:other-example.net", "fail:reject-example.com"], ("fail", "reject"), {}),
    ("spf_softfail", "quar-example.com", "softfail:quar-example.com", [], ("fail", "quarantine"), {}),
    ("policy_none", "none-example.com", None, [], ("fail", "none"), {}),
    ("sp_for_subdomain", "sub.reject-example.com", None, [], ("fail", "quarantine"), {}),
    ("sub_own_record", "own.reject-example.com", None, [], ("fail", "none"), {}),
    # RFC 7489 6.3 and 6.6.3: a record found at the From domain itself is
    # that domain's policy: its p=, not its sp=.
    ("sub_own_record_sp", "own2.reject-example.com", None, [], ("fail", "reject"), {}),
    ("psl_co_uk", "shop.example.co.uk", "pass:example.co.uk", [], ("pass", "reject"), {}),
    ("strict_exact", "strict-example.com", None, ["pass:strict-example.com"], ("pass", "reject"), {}),
    # RFC 7489 3.1.1: strict alignment needs the same name. mailauth's
    # getAlignment() falls through to the relaxed comparison after its
    # strict loop finds nothing.
    ("strict_subdomain", "strict-example.com", "pass:mail.strict-example.com",
     ["pass:mail.strict-example.com"], ("fail", "reject"),
     {"mailauth": ("pass", "reject", "strict alignment falls back to relaxed (RFC 7489 3.1.1)")}),
    ("no_record", "norecord-example.com", "pass:norecord-example.com", [], ("none", None), {}),
    ("no_record_sub", "a.norecord-example.com", None, [], ("none", None), {}),
    # RFC 7489 6.6.3 step 5: several records: no DMARC processing.
    # Mail::DMARC leaves its preset result "fail" (disposition none).
    ("several_records", "multi-example.com", None, [], ("none", None),
     {"mail_dmarc": ("fail", "none", "keeps result fail when it finds several records (6.6.3: none)")}),
    # The same at a subdomain: discovery stops there (6.6.3 steps 3 and 5:
    # only an empty set goes on to the org). mailauth goes on to the org.
    ("several_records_sub", "twosub.reject-example.com", None, [], ("none", None),
     {"mailauth": ("fail", "quarantine", "falls back to the org when the From domain has several records "
                   "(RFC 7489 6.6.3 step 5: stop)"),
      "mail_dmarc": ("fail", "none", "keeps result fail when it finds several records (6.6.3: none)")}),
    ("other_txt_ignored", "mixed-example.com", None, [], ("fail", "quarantine"), {}),
    # RFC 7489 6.6.3: a bad p= with a good rua= is read as p=none.
    # mailauth passes the bad word through as the policy.
    ("bad_p_with_rua", "badp-example.com", None, [], ("fail", "none"),
     {"mailauth": ("fail", "maybe", "uses an invalid p= as is (RFC 7489 6.6.3: act as p=none)")}),
    # RFC 7489 6.4: "DMARC1" is spelled in hex in the ABNF, so it is
    # case-sensitive; a lower-case one is not a DMARC record (6.6.3 step 4).
    ("lowercase_version", "lower-example.com", None, [], ("none", None),
     {"mailauth": ("fail", "reject", "matches v=DMARC1 without case (RFC 7489 6.4: %x44 ... is exact)"),
      "mail_dmarc": ("fail", "reject", "matches v=DMARC1 without case (RFC 7489 6.4: %x44 ... is exact)")}),
    ("servfail", "servfail-example.com", "pass:servfail-example.com", [], ("temperror", None), {}),
]


def zone_text():
    lines = []
    for name in EXISTING:
        lines.append("%s. 300 IN A 192.0.2.10" % name)
    for name, txts in RECORDS.items():
        for t in txts:
            lines.append('_dmarc.%s. 300 IN TXT "%s"' % (name, t))
    return "\n".join(lines) + "\n"


NODE_ORACLE = r"""
const { dmarc } = require('mailauth/lib/dmarc');
const dns = require('node:dns');
const [port, casesJson] = process.argv.slice(1);
const r = new dns.promises.Resolver({ timeout: 3000, tries: 1 });
r.setServers(['127.0.0.1:' + port]);
const resolver = (name, type) => r.resolve(name, type);
(async () => {
  const out = {};
  for (const c of JSON.parse(casesJson)) {
    const res = await dmarc({ headerFrom: 'someone@' + c.from, spfDomains: c.spf, dkimDomains: c.dkim,
                              resolver });
    out[c.id] = [res.status.result, res.policy || null];
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
"""

PERL_ORACLE = r"""
use strict; use warnings;
use JSON::PP; use Net::DNS::Resolver; use Mail::DMARC::PurePerl;
my ($port, $json) = @ARGV;
my %out;
for my $c (@{ decode_json($json) }) {
    my $d = Mail::DMARC::PurePerl->new;
    my $res = Net::DNS::Resolver->new(nameservers => ['127.0.0.1'], port => $port, recurse => 1,
                                      dnsrch => 0, defnames => 0, retry => 1, udp_timeout => 3,
                                      tcp_timeout => 3);
    $d->set_resolver($res);
    $d->header_from($c->{from});
    $d->source_ip('192.0.2.1');
    $d->envelope_to('rcpt.example.net');
    if ($c->{spf_result}) {
        $d->spf(domain => $c->{spf_domain}, scope => 'mfrom', result => $c->{spf_result});
    } else {
        $d->spf(domain => $c->{from}, scope => 'mfrom', result => 'none');
    }
    $d->dkim([ map { { domain => $_->[1], selector => 's', result => $_->[0] } } @{ $c->{dkim_all} } ]);
    my $r = eval { $d->validate };
    if (!$r) { $out{$c->{id}} = ['error', "$@"]; next; }
    my $pol = eval { $r->published } ;
    $out{$c->{id}} = [$r->result, $r->disposition];
}
print encode_json(\%out), "\n";
"""


def have(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


class DmarcInterop(ToolsMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(TOOL, os.X_OK):
            raise AssertionError("tern-dmarc not found at %s" % TOOL)
        cls.dir = tempfile.mkdtemp(prefix="tern-dmarc-")
        cls.server = test_dns.DnsServer(cls.dir, zone_text(), servfail=SERVFAIL)
        cls.port = cls.server.port
        try:
            # tern-dmarc once per case, for every test to compare with.
            cls.tern_cases_cache = {c[0]: cls.tern(c[1], c[2], c[3]) for c in CASES}
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    # ---- tern-dmarc ----

    @classmethod
    def tern(cls, from_domain, spf, dkim):
        args = [TOOL, "--from-domain", from_domain, "--dns", "127.0.0.1@%d" % cls.port,
                "--authserv-id", "mx.tern.test", "--ip", "192.0.2.1"]
        if spf:
            args += ["--spf", spf]
        for d in dkim:
            args += ["--dkim", d + ":s"]
        p = subprocess.run(args, capture_output=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("%s exited %d: %s" % (args, p.returncode, p.stderr.decode()))
        return parse_tool_output(p.stdout.decode())

    def check_oracle(self, name, got):
        for cid, frm, spf, dkim, expect, differs in CASES:
            with self.subTest(case=cid):
                mine = self.tern_cases_cache[cid]
                self.assertEqual((mine["dmarc"], mine["requested"]), expect, "tern-dmarc, case %s" % cid)
                theirs = tuple(got[cid])
                if name in differs:
                    want = differs[name][:2]
                    self.assertEqual(theirs, want, "%s changed its answer on %s (%s)"
                                     % (name, cid, differs[name][2]))
                else:
                    self.assertEqual(theirs, self.oracle_view(name, expect, mine),
                                     "%s disagrees on %s" % (name, cid))

    @staticmethod
    def oracle_view(name, expect, mine):
        """What the oracle reports when it agrees with tern: mailauth gives
        the result and the policy it found (none when there is none);
        Mail::DMARC gives the result and the disposition (pct=100)."""
        result, policy = expect
        if name == "mailauth":
            return (result, policy)
        disposition = mine["disposition"]
        if disposition is None:
            disposition = "none"
        # Mail::DMARC reports a temporary DNS failure as "none" (no
        # policy found); RFC 7489 11.2 calls it temperror.
        return (result, disposition)

    def test_tern_table(self):
        for cid, frm, spf, dkim, expect, _ in CASES:
            with self.subTest(case=cid):
                mine = self.tern_cases_cache[cid]
                self.assertEqual((mine["dmarc"], mine["requested"]), expect)
                # Discovery asks at most two names (RFC 7489 6.6.3).
                self.assertLessEqual(int(mine["lookups"]), 2)

    def test_mailauth(self):
        node = self.need("node")
        cases = []
        for cid, frm, spf, dkim, _, _ in CASES:
            spf_domains = [spf.split(":", 1)[1]] if spf and spf.startswith("pass:") else []
            dkim_domains = [{"domain": d.split(":", 1)[1]} for d in dkim if d.startswith("pass:")]
            cases.append({"id": cid, "from": frm, "spf": spf_domains, "dkim": dkim_domains})
        p = self.run_tool([node, "-e", NODE_ORACLE, str(self.port), json.dumps(cases)], cwd=HERE)
        self.check_oracle("mailauth", json.loads(p.stdout.decode()))

    def test_mail_dmarc(self):
        if not have(["perl", "-MMail::DMARC::PurePerl", "-e", "1"]):
            self.skipTest("Mail::DMARC not installed (libmail-dmarc-perl)")
        cases = []
        for cid, frm, spf, dkim, _, _ in CASES:
            c = {"id": cid, "from": frm, "dkim_all": [d.split(":", 1) for d in dkim]}
            if spf:
                c["spf_result"], c["spf_domain"] = spf.split(":", 1)
            cases.append(c)
        p = self.run_tool(["perl", "-e", PERL_ORACLE, str(self.port), json.dumps(cases)])
        got = json.loads(p.stdout.decode())
        # RFC 7489 11.2: a DNS failure is temperror; Mail::DMARC has no such
        # result and says "none". Recorded here rather than in every table
        # row, since only the servfail case reaches it.
        self.assertEqual(got["servfail"], ["none", "none"])
        got["servfail"] = ["temperror", "none"]
        self.check_oracle("mail_dmarc", got)

    # ---- Authentication-Results read by Python's authres ----

    def test_authres_parses(self):
        script = ("import authres, json, sys\n"
                  "h = authres.AuthenticationResultsHeader.parse(sys.stdin.read())\n"
                  "print(json.dumps({'id': h.authserv_id, 'results': [[r.method, r.result,"
                  " [[p.type, p.name, p.value] for p in r.properties]] for r in h.results]}))\n")
        for cid, frm, spf, dkim, _, _ in CASES:
            with self.subTest(case=cid):
                mine = self.tern_cases_cache[cid]
                p = self.run_tool([PYTHON, "-c", script], input=mine["ar"].encode())
                got = json.loads(p.stdout.decode())
                self.assertEqual(got["id"], "mx.tern.test")
                want = []
                if spf:
                    want.append(["spf", spf.split(":")[0], [["smtp", "mailfrom", spf.split(":", 1)[1]]]])
                for d in dkim:
                    res, dom = d.split(":", 1)
                    want.append(["dkim", res, [["header", "d", dom], ["header", "s", "s"]]])
                want.append(["dmarc", mine["dmarc"], [["header", "from", frm]]])
                self.assertEqual(got["results"], want)

    # Fields other implementations wrote (and RFC 8601's examples), read by
    # tern-dmarc --read-authres and by Python's authres.
    FOREIGN_AR = [
        "Authentication-Results: example.org 1; none",
        "Authentication-Results: mx.google.com;\r\n       dkim=pass header.i=@gmail.com "
        "header.s=20230601 header.b=Xp1Yq+Zr;\r\n       arc=pass (i=1 spf=pass spfdomain=gmail.com "
        "dkim=pass dkdomain=gmail.com dmarc=pass fromdomain=gmail.com);\r\n       spf=pass (google.com: "
        "domain of someone@gmail.com designates 209.85.220.41 as permitted sender) "
        "smtp.mailfrom=someone@gmail.com;\r\n       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) "
        "header.from=gmail.com",
        "Authentication-Results: mx.microsoft.com 1; spf=pass (sender ip is 40.107.1.1) "
        "smtp.mailfrom=contoso.com; dkim=none (message not signed) header.d=none;dmarc=none "
        "action=none header.from=contoso.com;compauth=pass reason=100",
        "Authentication-Results: mail.example.net; dkim=pass (2048-bit key; unprotected) "
        "header.d=example.com header.i=@example.com header.a=rsa-sha256 header.s=default "
        "header.b=k5E0m1Zq",
        "Authentication-Results: mail.example.net; dmarc=fail (p=reject dis=none) "
        "header.from=example.com",
        "Authentication-Results: example.com;\r\n          auth=pass (cram-md5) "
        "smtp.auth=sender@example.net;\r\n          spf=pass smtp.mailfrom=example.net",
        "Authentication-Results: mx.example; spf/1=pass reason=\"spf ok\" "
        "smtp.mailfrom=\"a b\"@example.com",
        "Authentication-Results: mail-router.example.net;\r\n  dkim=pass (good signature) "
        "header.d=newyork.example.com header.b=oINEO8hg;\r\n  dkim=fail (bad signature) "
        "header.d=newyork.example.com header.b=EToRSuvU",
    ]

    def test_authres_reads_like_python(self):
        script = ("import authres, json, sys\n"
                  "h = authres.AuthenticationResultsHeader.parse(sys.stdin.read())\n"
                  "print(json.dumps([h.authserv_id, [[r.method, r.version, r.result, r.reason,"
                  " [[p.type, p.name, p.value] for p in r.properties]] for r in h.results]]))\n")
        for field in self.FOREIGN_AR:
            with self.subTest(field=field[:60]):
                python = json.loads(self.run_tool([PYTHON, "-c", script],
                                                  input=field.encode()).stdout.decode())
                out = self.run_tool([TOOL, "--read-authres", field]).stdout.decode().splitlines()
                head = {}
                mine = []
                for l in out:
                    key, value = l.split(": ", 1)
                    if key == "result":
                        method, result = value.split("=", 1)
                        method, _, version = method.partition("/")
                        mine.append([method, version or None, result, None, []])
                    elif key == "reason":
                        mine[-1][3] = value
                    elif key == "prop":
                        name, value = value.split("=", 1)
                        if "." in name:   # authres drops Microsoft's bare "action=none"
                            mine[-1][4].append(name.split(".", 1) + [value])
                    else:
                        head[key] = value
                self.assertEqual(head["partial"], "no")
                self.assertEqual([head["authserv-id"], mine], python)

    # ---- From domains against Python's email package ----

    FROM_FIELDS = [
        "Alice <alice@Example.COM>",
        "\"Bob, the builder\" <bob@example.org>",
        "(comment) carol@example.net (another)",
        "\"dave@evil.example\" <dave@good.example>",
        "Team: a@one.example, b@two.example;",
        "a@one.example, B <b@TWO.example>",
        "=?utf-8?q?Jos=C3=A9?= <jose@example.es>",
        "\"quoted local\"@example.com",
        "Eve\r\n <eve@folded.example>",
        "Fr\u00e9d <fred@b\u00fccher.example>",
    ]

    def test_from_domains_match_python_email(self):
        script = ("import email, email.policy, json, sys\n"
                  "m = email.message_from_string(sys.stdin.buffer.read().decode(), policy=email.policy.default)\n"
                  "ds = []\n"
                  "for a in m['From'].addresses:\n"
                  "    d = a.domain.lower().rstrip('.').encode('idna').decode()\n"
                  "    if d not in ds: ds.append(d)\n"
                  "print(json.dumps(ds))\n")
        for i, field in enumerate(self.FROM_FIELDS):
            with self.subTest(field=field):
                msg = ("From: %s\r\nTo: x@example.net\r\nSubject: t\r\n\r\nbody\r\n" % field).encode()
                p = self.run_tool([PYTHON, "-c", script], input=msg)
                python_domains = json.loads(p.stdout.decode())
                out = self.tern_message("msg%d" % i, msg)
                if "from-domains" in out:
                    mine = out["from-domains"].split()
                else:
                    mine = [out["from-domain"]]
                self.assertEqual(mine, python_domains)

    def tern_message(self, name, data):
        """tern-dmarc --message on data, against the test zone."""
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return parse_tool_output(self.run_tool([TOOL, "--message", path, "--dns",
                                                "127.0.0.1@%d" % self.port]).stdout.decode())

    def test_from_several_fields(self):
        out = self.tern_message("two-from", b"From: a@reject-example.com\r\nFrom: b@reject-example.com\r\n"
                                b"\r\nx\r\n")
        self.assertEqual(out["from-status"], "several From fields")
        self.assertEqual(out["dmarc"], "permerror")

    def test_several_domains_strictest(self):
        """RFC 7489 6.6.1: each author domain evaluated, the strictest
        outcome applied: quar-example.com's quarantine beats none."""
        out = self.tern_message("two-domains", b"From: a@none-example.com, b@quar-example.com\r\n\r\nx\r\n")
        self.assertEqual(out["from-domains"], "none-example.com quar-example.com")
        self.assertEqual((out["dmarc"], out["disposition"], out["from-domain"]),
                         ("fail", "quarantine", "quar-example.com"))


def parse_tool_output(text):
    out = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Authentication-Results:"):
            out["ar"] = "\r\n".join(lines[i:]) + "\r\n"
            break
        key, _, value = line.partition(": ")
        out.setdefault(key, value)
    for k in ("requested", "disposition"):
        if out.get(k) == "-":
            out[k] = None
    return out
