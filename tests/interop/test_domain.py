"""`ternd domain add|check|list|remove-key` and `--mta-sts-listen` against
independent implementations:

  - the records `add` prints are read by dnslib (RR.fromZone) and served by
    tests/interop/dns_server.py; `check` through that server says each is
    right, and names each one when it is broken in turn;
  - a message signed by tern-dkim with the key `add` made verifies with
    dkimpy against the printed DKIM record;
  - pyspf passes this host's address under the printed SPF record;
  - the MTA-STS policy parses as RFC 8461 3.2 says (a parser written here
    from the RFC's ABNF), and Python's ssl/http.client fetch it from
    ternd --mta-sts-listen with SNI mta-sts.DOMAIN; other paths, other
    hosts and other methods get 404 or 405.
"""

import http.client
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import unittest

from ternlib import (ROOT, TERND, TerndTestCase, ToolsMixin, cert_der, client_context,
                     free_port, make_cert)
from test_dkim import DKIMPY_VERIFY
from test_dns import DnsServer, PYTHON, have_dnslib

TERN_DKIM = os.path.abspath(os.environ.get("TERN_DKIM", os.path.join(ROOT, "build", "tern-dkim")))
DOMAIN = "example.test"
HOST = "mail.example.test"
HOST_IP = "127.0.0.1"
# This host's own address record: `add` prints what the domain needs, the
# host's A record is the host's business.
HOST_ZONE = "%s. 3600 IN A %s\n" % (HOST, HOST_IP)
MSG = (b"From: Alice <alice@example.test>\r\n"
       b"To: Bob <bob@example.net>\r\n"
       b"Subject: signed with the key ternd domain add made\r\n"
       b"Date: Wed, 02 Dec 2026 17:00:00 +0000\r\n"
       b"Message-ID: <domain-interop@example.test>\r\n"
       b"\r\n"
       b"Hello Bob.\r\n")

DNSLIB_READ = r"""
import json, sys
from dnslib import RR, QTYPE
out = []
for rr in RR.fromZone(sys.stdin.read()):
    if QTYPE[rr.rtype] == "TXT":
        data = [s.decode("latin-1") for s in rr.rdata.data]
    else:
        data = str(rr.rdata)
    out.append([str(rr.rname), QTYPE[rr.rtype], rr.ttl, data])
print(json.dumps(out))
"""

PYSPF = r"""
import json, sys
import dns.resolver
import spf
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = int(sys.argv[1])
dns.resolver.default_resolver = r
out = []
for ip in sys.argv[3:]:
    res, exp = spf.check2(i=ip, s="postmaster@" + sys.argv[2], h=sys.argv[2])
    out.append(res)
print(json.dumps(out))
"""


def served(zone):
    """The zone as the test DNS server gets it: with this host's address,
    and mta-sts.DOMAIN's CNAME made an A record (dns_server.py answers the
    type asked and does not chase CNAMEs as a real server would)."""
    return re.sub(r"^(mta-sts\.\S+)\s.*CNAME.*$", r"\1 3600 IN A " + HOST_IP, zone,
                  flags=re.M) + HOST_ZONE


def parse_sts_policy(text):
    """RFC 8461 3.2, from its ABNF: sts-policy-field lines separated by CRLF
    or LF; version: STSv1 first... (the RFC requires version, mode, max_age
    and mx for enforce/testing). Returns a dict of lists; raises
    ValueError."""
    fields = {}
    lines = re.split(r"\r?\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        m = re.fullmatch(r"([A-Za-z0-9_]{1,32})[ \t]*:[ \t]*([\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)"
                         r"[ \t]*", line)
        if not m:
            raise ValueError("not a field: %r" % line)
        fields.setdefault(m.group(1), []).append(m.group(2))
    if fields.get("version") != ["STSv1"]:
        raise ValueError("version is not STSv1")
    if len(fields.get("mode", [])) != 1 or fields["mode"][0] not in ("enforce", "testing",
                                                                     "none"):
        raise ValueError("mode")
    if len(fields.get("max_age", [])) != 1 or not re.fullmatch(r"[0-9]{1,10}",
                                                                fields["max_age"][0]):
        raise ValueError("max_age")
    if int(fields["max_age"][0]) > 31557600:
        raise ValueError("max_age above 31557600")
    for mx in fields.get("mx", []):
        if not re.fullmatch(r"(\*\.)?([A-Za-z0-9-]+\.)+[A-Za-z0-9-]+", mx):
            raise ValueError("mx %r" % mx)
    if fields["mode"][0] != "none" and not fields.get("mx"):
        raise ValueError("no mx")
    return fields


class DomainBase(ToolsMixin):
    @classmethod
    def add(cls, *args, ok=True, state=None):
        p = subprocess.run([TERND, "domain", "add", *args, "--state-dir", state or cls.state],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if ok and p.returncode != 0:
            raise AssertionError("domain add %s: %d\n%s" % (args, p.returncode,
                                                             p.stderr.decode()))
        return p

    @classmethod
    def domain_dir(cls, name=DOMAIN):
        return os.path.join(cls.state, "domains", name)


class DomainRecordsTest(DomainBase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not have_dnslib():
            raise AssertionError("python3-dnslib is needed")
        cls.dir = tempfile.mkdtemp(prefix="tern-domain-")
        cls.state = os.path.join(cls.dir, "state")
        cls.add(DOMAIN, "--hostname", HOST)
        # A second key, Ed25519: both are published and checked.
        cls.zone = cls.add(DOMAIN, "--hostname", HOST, "--dkim", "ed25519").stdout.decode()
        cls.dns = DnsServer(cls.dir, served(cls.zone))

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def check(self, port=None, extra=()):
        return subprocess.run([TERND, "domain", "check", DOMAIN, "--state-dir", self.state,
                               "--hostname", HOST, "--dns-server",
                               "127.0.0.1@%d" % (port or self.dns.port), *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)

    def dnslib_records(self, zone):
        p = self.run_tool([PYTHON, "-c", DNSLIB_READ], input=zone.encode())
        return json.loads(p.stdout)

    def selectors(self):
        return sorted(f[:-4] for f in os.listdir(os.path.join(self.domain_dir(), "dkim")))

    # ---- add -----------------------------------------------------------

    def test_files_and_modes(self):
        d = self.domain_dir()
        for path in (os.path.join(self.state, "domains"), d, os.path.join(d, "dkim")):
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o700, path)
        sels = self.selectors()
        self.assertEqual(len(sels), 2, sels)
        self.assertRegex(sels[0], r"^s20[0-9]{4}$")
        self.assertRegex(sels[1], r"^s20[0-9]{4}e$")
        for s in sels:
            path = os.path.join(d, "dkim", s + ".pem")
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)
            with open(path) as f:
                self.assertTrue(f.read().startswith("-----BEGIN PRIVATE KEY-----"))
        with open(os.path.join(d, "records.zone")) as f:
            self.assertEqual(f.read(), self.zone)
        self.assertTrue(os.path.exists(os.path.join(d, "mta-sts.txt")))

    def test_dnslib_reads_every_record(self):
        rrs = self.dnslib_records(self.zone)
        by = {}
        for name, rtype, ttl, data in rrs:
            by.setdefault((name, rtype), []).append(data)
        self.assertEqual(by[(DOMAIN + ".", "MX")], ["10 %s." % HOST])
        txt = {k[0]: ["".join(v) for v in vals] for k, vals in by.items() if k[1] == "TXT"}
        self.assertEqual(txt[DOMAIN + "."], ["v=spf1 mx -all"])
        self.assertEqual(txt["_dmarc.%s." % DOMAIN],
                         ["v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@%s" % DOMAIN])
        self.assertRegex(txt["_mta-sts.%s." % DOMAIN][0], r"^v=STSv1; id=[0-9]{14}$")
        self.assertEqual(txt["_smtp._tls.%s." % DOMAIN],
                         ["v=TLSRPTv1; rua=mailto:tls-reports@%s" % DOMAIN])
        self.assertEqual(by[("mta-sts.%s." % DOMAIN, "CNAME")], [HOST + "."])
        rsa, ed = self.selectors()
        rsa_strings = by[("%s._domainkey.%s." % (rsa, DOMAIN), "TXT")][0]
        # RFC 1035 3.3.14: a 2048-bit key does not fit one 255-octet string.
        self.assertGreater(len(rsa_strings), 1)
        self.assertTrue(all(len(s) <= 255 for s in rsa_strings))
        self.assertRegex("".join(rsa_strings), r"^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$")
        self.assertRegex("".join(by[("%s._domainkey.%s." % (ed, DOMAIN), "TXT")][0]),
                         r"^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$")
        self.assertTrue(all(r[2] == 3600 for r in rrs))

    def test_policy_parses_as_rfc8461_says(self):
        with open(os.path.join(self.domain_dir(), "mta-sts.txt"), newline="") as f:
            text = f.read()
        fields = parse_sts_policy(text)
        self.assertEqual(fields["mode"], ["testing"])
        self.assertEqual(fields["mx"], [HOST])
        self.assertIn("\r\n", text)

    def test_add_again_changes_nothing(self):
        before = set(os.listdir(os.path.join(self.domain_dir(), "dkim")))
        again = self.add(DOMAIN, "--hostname", HOST).stdout.decode()
        strip = lambda z: [l for l in z.splitlines() if not l.startswith("; DNS records")]
        self.assertEqual(strip(again), strip(self.zone))
        self.assertEqual(set(os.listdir(os.path.join(self.domain_dir(), "dkim"))), before)

    def test_refuses_what_is_not_a_domain(self):
        for bad in ("192.0.2.1", "a..example", "com", "x-.example", "exa mple.test",
                    "x" * 64 + ".example", "under_score.example", ""):
            p = self.add(bad, ok=False)
            self.assertEqual(p.returncode, 64, bad)
            self.assertIn(b"not a domain name" if bad != "192.0.2.1" else b"an address",
                          p.stderr)
        self.assertEqual(os.listdir(os.path.join(self.state, "domains")), [DOMAIN])

    # ---- check -----------------------------------------------------------

    def test_check_says_all_is_right(self):
        p = self.check()
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        lines = out.splitlines()
        # MX, SPF, two DKIM keys, DMARC, MTA-STS record, policy and host,
        # TLS-RPT.
        self.assertEqual(len(lines), 9, out)
        self.assertTrue(all(l.startswith("ok ") for l in lines), out)

    def broken(self, old_re, new, servfail=()):
        zone, n = re.subn(old_re, new, self.zone, flags=re.M)
        self.assertGreater(n, 0, old_re)
        d = tempfile.mkdtemp(dir=self.dir)
        dns = DnsServer(d, served(zone), servfail=servfail)
        try:
            return self.check(port=dns.port)
        finally:
            dns.stop()

    def test_check_names_each_broken_record(self):
        rsa, ed = self.selectors()
        dk = r"^%s\._domainkey\.%s\..*$" % (rsa, re.escape(DOMAIN))
        mx = r"^%s\.\s.*MX.*$" % re.escape(DOMAIN)
        spf = r"^%s\.\s.*TXT.*spf1.*$" % re.escape(DOMAIN)
        dmarc = r"^_dmarc\..*$"
        sts = r"^_mta-sts\..*$"
        rpt = r"^_smtp\._tls\..*$"
        line = lambda owner, rtype, value: '%s. 3600 IN %s %s' % (owner, rtype, value)
        cases = [
            # "v=spf1 mx -all" rests on the MX: SPF fails with it.
            (("missing MX", "wrong   SPF"), mx, ""),
            # ... and the policy names the MX hosts.
            (("wrong   MX", "wrong   SPF", "wrong   MTA-STS policy"), mx,
             line(DOMAIN, "MX", "10 other.example.net.")),
            ("missing SPF", spf, ""),
            ("wrong   SPF", spf, line(DOMAIN, "TXT", '"v=spf1 -all"')),
            ("wrong   SPF", spf, line(DOMAIN, "TXT", '"v=spf1 mx -all"') + "\n" +
             line(DOMAIN, "TXT", '"v=spf1 a -all"')),
            ("wrong   SPF", spf, line(DOMAIN, "TXT", '"v=spf1 include:nowhere.test mx -all"')),
            ("missing DKIM %s." % rsa, dk, ""),
            ("wrong   DKIM %s." % rsa, dk, line("%s._domainkey.%s" % (rsa, DOMAIN), "TXT",
                                                 '"v=DKIM1; k=rsa; p=MIIBIjAN"')),
            # Same lengths: the 255-octet strings stay as they are.
            ("wrong   DKIM %s." % rsa, dk, lambda m: m.group(0).replace("k=rsa", "k=dsa")),
            ("wrong   DKIM %s." % rsa, dk, lambda m: m.group(0).replace("DKIM1", "DKIM2")),
            ("missing DMARC", dmarc, ""),
            ("wrong   DMARC", dmarc, line("_dmarc." + DOMAIN, "TXT", '"v=DMARC1; p=maybe"')),
            ("wrong   DMARC", dmarc, line("_dmarc." + DOMAIN, "TXT", '"v=DMARC1; p=none"') +
             "\n" + line("_dmarc." + DOMAIN, "TXT", '"v=DMARC1; p=reject"')),
            ("missing MTA-STS _mta", sts, ""),
            ("wrong   MTA-STS _mta", sts, line("_mta-sts." + DOMAIN, "TXT",
                                               '"v=STSv1; id=19990101000000"')),
            ("wrong   MTA-STS _mta", sts, line("_mta-sts." + DOMAIN, "TXT", '"v=STSv1;"')),
            ("wrong   MTA-STS _mta", sts, line("_mta-sts." + DOMAIN, "TXT",
                                               '"v=STSv1; id=has-dashes"')),
            # Not an STSv1 record: for senders, no policy is announced.
            ("missing MTA-STS _mta", sts, line("_mta-sts." + DOMAIN, "TXT",
                                               '"v=STSv2; id=1"')),
            ("missing MTA-STS host", r"^mta-sts\..*CNAME.*$", "; removed"),
            ("missing TLS-RPT", rpt, ""),
            ("wrong   TLS-RPT", rpt, line("_smtp._tls." + DOMAIN, "TXT",
                                          '"v=TLSRPTv1; rua=tls-reports@example.test"')),
            ("wrong   TLS-RPT", rpt, line("_smtp._tls." + DOMAIN, "TXT", '"v=TLSRPTv1;"')),
        ]
        for want, old_re, new in cases:
            with self.subTest(want=want, new=new if isinstance(new, str) else "(edit)"):
                p = self.broken(old_re, new)
                out = p.stdout.decode()
                self.assertEqual(p.returncode, 1, out + p.stderr.decode())
                bad = [l for l in out.splitlines() if not l.startswith("ok ")]
                want = (want,) if isinstance(want, str) else want
                self.assertEqual(len(bad), len(want), out)
                for b, w in zip(bad, want):
                    self.assertTrue(b.startswith(w), out)
                self.assertEqual(len(out.splitlines()), 9, out)

    def test_check_servfail_is_wrong_not_missing(self):
        p = self.broken(r"^_dmarc\..*$", "", servfail=["_dmarc." + DOMAIN])
        bad = [l for l in p.stdout.decode().splitlines() if not l.startswith("ok ")]
        self.assertEqual(p.returncode, 1)
        self.assertEqual(len(bad), 1, bad)
        self.assertRegex(bad[0], r"^wrong +DMARC .*(SERVFAIL|failed)")

    def test_check_unknown_domain(self):
        p = subprocess.run([TERND, "domain", "check", "unknown.example", "--state-dir",
                            self.state, "--dns-server", "127.0.0.1@%d" % self.dns.port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 66)
        self.assertIn(b"ternd domain add unknown.example", p.stderr)

    # ---- the oracles -------------------------------------------------------

    def test_dkimpy_verifies_with_the_printed_record(self):
        if not os.path.exists(TERN_DKIM):
            self.fail("tern-dkim not found at %s" % TERN_DKIM)
        for sel in self.selectors():
            with self.subTest(selector=sel):
                key = os.path.join(self.domain_dir(), "dkim", sel + ".pem")
                signed = self.run_tool([TERN_DKIM, "sign", "-d", DOMAIN, "-s", sel, "-k", key],
                                       input=MSG).stdout
                p = self.run_tool([PYTHON, "-c", DKIMPY_VERIFY, str(self.dns.port)],
                                  input=signed)
                self.assertEqual(p.stdout.strip(), b"pass", p.stderr.decode())
                # and a changed body fails, so "pass" means something
                p = self.run_tool([PYTHON, "-c", DKIMPY_VERIFY, str(self.dns.port)],
                                  input=signed.replace(b"Hello Bob", b"Hello Eve"))
                self.assertEqual(p.stdout.strip(), b"fail")

    def test_pyspf_passes_this_host(self):
        p = self.run_tool([PYTHON, "-c", PYSPF, str(self.dns.port), DOMAIN, HOST_IP,
                           "192.0.2.9"])
        self.assertEqual(json.loads(p.stdout), ["pass", "fail"])

    def test_check_with_ip_agrees_with_pyspf(self):
        p = self.check(extra=("--ip", "192.0.2.9"))
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stdout.decode(), r"(?m)^wrong +SPF example.test: fail for 192.0.2.9")


class DomainLayoutTest(DomainBase, unittest.TestCase):
    """list, remove-key, IDNs, options, in a state directory of their own."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tern-domain-")
        type(self).state = os.path.join(self.dir, "state")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_domain(self, *args):
        return subprocess.run([TERND, "domain", *args, "--state-dir", self.state],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)

    def test_idn_is_stored_as_a_labels(self):
        z = self.add("Bücher.Example.", "--hostname", HOST, "--dkim", "ed25519").stdout.decode()
        self.assertEqual(os.listdir(os.path.join(self.state, "domains")),
                         ["xn--bcher-kva.example"])
        self.assertIn("\nxn--bcher-kva.example.\t3600\tIN\tMX\t10 %s.\n" % HOST, z)

    def test_options_and_policy_id(self):
        z1 = self.add(DOMAIN, "--mx", "mx1.example.test", "--mx", "mx2.example.test",
                      "--dmarc", "reject", "--tls-rpt", "tls@example.net", "--spf",
                      "v=spf1 ip4:192.0.2.0/24 -all", "--dkim", "ed25519", "--selector",
                      "mykey").stdout.decode()
        self.assertIn("10 mx1.example.test.", z1)
        self.assertIn("20 mx2.example.test.", z1)
        self.assertIn('"v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.test"', z1)
        self.assertIn('"v=TLSRPTv1; rua=mailto:tls@example.net"', z1)
        self.assertIn('"v=spf1 ip4:192.0.2.0/24 -all"', z1)
        self.assertIn("mykey._domainkey.example.test.", z1)
        with open(os.path.join(self.domain_dir(), "mta-sts.txt")) as f:
            self.assertEqual(parse_sts_policy(f.read())["mx"],
                             ["mx1.example.test", "mx2.example.test"])
        sts_id = lambda z: re.search(r"id=([0-9]+)", z).group(1)
        # The same settings keep the id; a new mode changes the policy, so
        # the id (RFC 8461 3.1).
        z2 = self.add(DOMAIN).stdout.decode()
        self.assertEqual(sts_id(z2), sts_id(z1))
        self.assertIn("20 mx2.example.test.", z2)
        self.assertIn("p=reject", z2)
        z3 = self.add(DOMAIN, "--mta-sts", "enforce").stdout.decode()
        self.assertNotEqual(sts_id(z3), sts_id(z1))
        with open(os.path.join(self.domain_dir(), "mta-sts.txt")) as f:
            self.assertEqual(parse_sts_policy(f.read())["mode"], ["enforce"])
        # A selector that exists is refused, bad values too.
        for args in (("--selector", "mykey"), ("--dkim", "dsa"), ("--bits", "512"),
                     ("--mta-sts", "strict"), ("--dmarc", "v=DMARC1; p=perhaps"),
                     ("--spf", "mx -all"), ("--selector", "a.b"), ("--mx", "x")):
            p = self.add(DOMAIN, *args, ok=False)
            self.assertEqual(p.returncode, 64, (args, p.stderr))

    def test_list_and_remove_key(self):
        self.add(DOMAIN, "--hostname", HOST)
        self.add(DOMAIN, "--hostname", HOST, "--dkim", "ed25519")
        self.add("other.example", "--hostname", HOST, "--dkim", "rsa", "--bits", "1024",
                 "--mta-sts", "none")
        out = self.run_domain("list").stdout.decode().splitlines()
        self.assertEqual(len(out), 2, out)
        self.assertRegex(out[0], r"^example\.test\tmta-sts testing\tdkim s20[0-9]{4}\(rsa-2048\) "
                                 r"s20[0-9]{4}e\(ed25519-256\)$")
        self.assertRegex(out[1], r"^other\.example\tmta-sts none\tdkim s20[0-9]{4}\(rsa-1024\)$")
        sel = re.search(r"(s20[0-9]{4}e)", out[0]).group(1)
        p = self.run_domain("remove-key", DOMAIN, sel)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"published", p.stderr)
        z = self.add(DOMAIN).stdout.decode()
        self.assertNotIn(sel + "._domainkey", z)
        self.assertEqual(self.run_domain("remove-key", DOMAIN, sel).returncode, 66)
        self.assertEqual(self.run_domain("remove-key", DOMAIN, "../x").returncode, 64)
        # A second RSA key in the same month gets "-2".
        z = self.add(DOMAIN, "--dkim", "rsa").stdout.decode()
        self.assertRegex(z, r"s20[0-9]{4}-2\._domainkey")

    def test_user_owns_what_add_makes(self):
        import pwd
        if os.geteuid() != 0:
            self.skipTest("needs root to give files away")
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user nobody")
        self.add(DOMAIN, "--hostname", HOST, "--user", "nobody")
        made = [self.state]
        for root, dirs, files in os.walk(self.state):
            made += [os.path.join(root, n) for n in dirs + files]
        self.assertEqual(len(made), 7, made)  # 4 directories, the key, 2 files
        for path in made:
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid), (nobody.pw_uid, nobody.pw_gid), path)
        self.assertEqual(self.add(DOMAIN, "--user", "no-such-user-here", ok=False).returncode,
                         64)

    def test_usage(self):
        for args in (("frobnicate", "x.example"), ("add",), ("add", "a.example", "b.example"),
                     ("add", "a.example", "--nope"), ("add", "a.example", "--mx"),
                     ("list", "a.example")):
            p = self.run_domain(*args)
            self.assertEqual(p.returncode, 64, args)
            self.assertIn(b"ternd domain:", p.stderr)
        self.assertEqual(subprocess.run([TERND, "domain", "--help"], stdout=subprocess.PIPE,
                                        timeout=30).returncode, 0)


class MtaStsServeTest(DomainBase, TerndTestCase):
    """ternd --mta-sts-listen, fetched with Python's ssl and http.client
    (SNI, certificate verification against the test certificate) and with
    curl --resolve when it is installed."""

    SECOND = "second.test"

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="tern-mta-sts-")
        type(self).state = os.path.join(self.dir, "state")
        self.add(DOMAIN, "--hostname", HOST, "--dkim", "ed25519")
        self.add(self.SECOND, "--mx", "mx.second.test", "--mta-sts", "enforce", "--dkim",
                 "ed25519")
        self.cert = make_cert(self.dir, "sts", ["mta-sts." + DOMAIN])
        self.cert2 = make_cert(self.dir, "sts2", ["mta-sts." + self.SECOND])
        self.sts_port = free_port()
        self.server = self.start_ternd("--state-dir", self.state, "--mta-sts-listen",
                                       "127.0.0.1:%d" % self.sts_port,
                                       "--tls-cert", self.cert[0], "--tls-key", self.cert[1],
                                       "--tls-cert", self.cert2[0], "--tls-key", self.cert2[1])

    def tearDown(self):
        super().tearDown()
        shutil.rmtree(self.dir, ignore_errors=True)

    def fetch(self, host, path="/.well-known/mta-sts.txt", method="GET", sni=None,
              cafile=None, alpn=None, extra=b""):
        """(status, headers, body, peer certificate DER, ALPN) of one request."""
        ctx = client_context(alpn=alpn, cafile=cafile)
        raw = socket.create_connection(("127.0.0.1", self.sts_port), timeout=10)
        name = (sni if sni is not None else host) or None  # "": no SNI
        with ctx.wrap_socket(raw, server_hostname=name) as s:
            s.sendall(("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                       % (method, path, host)).encode() + extra + b"\r\n")
            resp = http.client.HTTPResponse(s, method=method)
            resp.begin()
            body = resp.read()
            return (resp.status, {k.lower(): v for k, v in resp.getheaders()}, body,
                    s.getpeercert(binary_form=True), s.selected_alpn_protocol())

    def policy_file(self, domain):
        with open(os.path.join(self.state, "domains", domain, "mta-sts.txt"), "rb") as f:
            return f.read()

    def test_policy_over_https_with_sni(self):
        for domain, cert in ((DOMAIN, self.cert), (self.SECOND, self.cert2)):
            with self.subTest(domain=domain):
                status, headers, body, der, _ = self.fetch("mta-sts." + domain, cafile=cert[0])
                self.assertEqual(status, 200)
                self.assertEqual(headers["content-type"], "text/plain")
                self.assertEqual(body, self.policy_file(domain))
                self.assertEqual(der, cert_der(cert[0]))
                fields = parse_sts_policy(body.decode("ascii"))
                self.assertEqual(fields["mode"], ["testing" if domain == DOMAIN else "enforce"])

    def test_head_and_alpn(self):
        status, headers, body, _, alpn = self.fetch("mta-sts." + DOMAIN, method="HEAD",
                                                    alpn=["h2", "http/1.1"])
        self.assertEqual((status, body, alpn), (200, b"", "http/1.1"))
        self.assertEqual(headers["content-type"], "text/plain")

    def test_everything_else_is_404_or_405(self):
        host = "mta-sts." + DOMAIN
        for path in ("/", "/.well-known/", "/.well-known/mta-sts.txt?x=1", "/mta-sts.txt",
                     "/.well-known/mta-sts.txt/", "/.well-known/../.well-known/mta-sts.txt",
                     "/.well-known/MTA-STS.TXT", "//.well-known/mta-sts.txt"):
            with self.subTest(path=path):
                self.assertEqual(self.fetch(host, path)[0], 404)
        for h in ("mta-sts.unknown.test", DOMAIN, "mta-sts..test", "mta-sts.-x.test",
                  "www." + DOMAIN, "mta-sts.192.0.2.1", "mta-sts.%2e%2e", "mta-sts.a/../b.test"):
            with self.subTest(host=h):
                # with SNI where Python can send it, and without
                if h.replace(".", "").replace("-", "").isalnum() and ".." not in h:
                    self.assertEqual(self.fetch(h)[0], 404)
                self.assertEqual(self.fetch(h, sni="")[0], 404)
        # The Host must be the SNI name: one domain's connection serves no
        # other's policy.
        self.assertEqual(self.fetch("mta-sts." + self.SECOND, sni=host)[0], 404)
        # No SNI at all: the Host header decides.
        self.assertEqual(self.fetch(host, sni="")[0], 200)
        for method in ("POST", "PUT", "DELETE", "OPTIONS"):
            with self.subTest(method=method):
                status, headers, _, _, _ = self.fetch(host, method=method)
                self.assertEqual(status, 405)
                self.assertEqual(headers.get("allow"), "GET, HEAD")

    def test_bounded_requests(self):
        host = "mta-sts." + DOMAIN
        status = self.fetch(host, extra=b"X-Big: " + b"a" * 20000 + b"\r\n")[0]
        self.assertIn(status, (400, 413, 431))
        status = self.fetch(host, method="GET", extra=b"Content-Length: 100000\r\n")[0]
        self.assertIn(status, (400, 413))
        # and the server still serves
        self.assertEqual(self.fetch(host)[0], 200)

    def test_new_policy_served_without_restart(self):
        self.add(DOMAIN, "--mta-sts", "enforce")
        body = self.fetch("mta-sts." + DOMAIN)[2]
        self.assertEqual(parse_sts_policy(body.decode())["mode"], ["enforce"])

    def test_curl(self):
        curl = self.need("curl")
        p = self.run_tool([curl, "-sS", "--cacert", self.cert[0], "--resolve",
                           "mta-sts.%s:%d:127.0.0.1" % (DOMAIN, self.sts_port), "-w",
                           "\n%{http_code} %{content_type}",
                           "https://mta-sts.%s:%d/.well-known/mta-sts.txt"
                           % (DOMAIN, self.sts_port)])
        body, _, tail = p.stdout.rpartition(b"\n")
        self.assertEqual(tail, b"200 text/plain")
        self.assertEqual(body, self.policy_file(DOMAIN))
