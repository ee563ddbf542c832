"""tern-spf against pyspf (Debian's python3-spf, an independent
implementation) over a real DNS server on loopback (dns_server.py): a zone
of realistic policies (includes, redirect, mx, ptr, macros with exists,
exp=, IPv6, broken records, a server failure) and every (client address, sender) pair of a
grid, checked by both. Results must agree everywhere, and so must the
explanation of every fail whose domain publishes exp=.

pyspf runs in Debian's Python with dnspython's default resolver pointed at
the loopback server; tern-spf gets the same server with --dns. Nothing
else is asked: every name below is under test. or the reverse zones."""

import json
import os
import subprocess
import tempfile
import unittest

from test_dns import DnsServer, have_dnslib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TERN_SPF = os.path.abspath(os.environ.get("TERN_SPF", os.path.join(ROOT, "build", "tern-spf")))
PYTHON = "/usr/bin/python3"

ZONE = r"""
corp.test.              300 IN TXT  "v=spf1 ip4:192.0.2.0/25 ip6:2001:db8:1::/48 include:_spf.mailhost.test mx -all"
corp.test.              300 IN TXT  "google-site-verification=abc"
corp.test.              300 IN MX   10 mx1.corp.test.
corp.test.              300 IN MX   20 mx2.corp.test.
mx1.corp.test.          300 IN A    198.51.100.10
mx1.corp.test.          300 IN AAAA 2001:db8:2::10
mx2.corp.test.          300 IN A    198.51.100.20
_spf.mailhost.test.     300 IN TXT  "v=spf1 ip4:203.0.113.0/26 a:relay.mailhost.test include:_v6.mailhost.test ~all"
_v6.mailhost.test.      300 IN TXT  "v=spf1 ip6:2001:db8:99::/64 ?all"
relay.mailhost.test.    300 IN A    203.0.113.100
brand.test.             300 IN TXT  "v=spf1 redirect=_spf.corp.test"
_spf.corp.test.         300 IN TXT  "v=spf1 a:out.corp.test/28 a:out.corp.test//64 -all exp=why.corp.test"
out.corp.test.          300 IN A    192.0.2.200
out.corp.test.          300 IN AAAA 2001:db8:5::1
why.corp.test.          300 IN TXT  "%{i} may not send for %{d} (sender %{s}, helo %{h})"
lists.test.             300 IN TXT  "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all exp=e.lists.test"
e.lists.test.           300 IN TXT  "Mail from %{l} via %{c} is refused"
5.2.0.192.bob._spf.lists.test. 300 IN A 127.0.0.2
ptr.test.               300 IN TXT  "v=spf1 ptr -all"
10.100.51.198.in-addr.arpa. 300 IN PTR mx1.corp.test.
10.100.51.198.in-addr.arpa. 300 IN PTR host.ptr.test.
host.ptr.test.          300 IN A    198.51.100.10
20.100.51.198.in-addr.arpa. 300 IN PTR fake.ptr.test.
fake.ptr.test.          300 IN A    198.51.100.99
soft.test.              300 IN TXT  "v=spf1 a:out.corp.test ~all"
neutral.test.           300 IN TXT  "v=spf1 ?all"
broken.test.            300 IN TXT  "v=spf1 ip4:192.0.2.300 -all"
double.test.            300 IN TXT  "v=spf1 -all"
double.test.            300 IN TXT  "v=spf1 +all"
voids.test.             300 IN TXT  "v=spf1 a:n1.voids.test a:n2.voids.test a:n3.voids.test +all"
deep.test.              300 IN TXT  "v=spf1 include:d1.deep.test -all"
d1.deep.test.           300 IN TXT  "v=spf1 include:d2.deep.test"
d2.deep.test.           300 IN TXT  "v=spf1 mx:corp.test a:out.corp.test ip4:203.0.113.128/25"
nospf.test.             300 IN TXT  "just a text record"
inctemp.test.           300 IN TXT  "v=spf1 ip4:192.0.2.0/24 include:tempfail.test -all"
tempfail.test.          300 IN TXT  "v=spf1 +all"
helo.corp.test.         300 IN TXT  "v=spf1 a -all"
helo.corp.test.         300 IN A    192.0.2.10
"""

IPS = ["192.0.2.5", "192.0.2.10", "192.0.2.130", "192.0.2.200", "192.0.2.205", "198.51.100.10",
       "198.51.100.20", "198.51.100.99", "203.0.113.5", "203.0.113.100", "203.0.113.200",
       "2001:db8:1::5", "2001:db8:2::10", "2001:db8:5::ff", "2001:db8:99::1", "2001:db8:98::1",
       "10.1.2.3"]
SENDERS = ["alice@corp.test", "bob@brand.test", "bob@lists.test", "carol@lists.test",
           "dave@ptr.test", "erin@soft.test", "frank@neutral.test", "grace@broken.test",
           "heidi@double.test", "ivan@voids.test", "judy@deep.test", "mallory@nospf.test",
           "oscar@nxdomain.test", "", "peggy@corp.test.", "trent@tempfail.test",
           "victor@inctemp.test"]
HELO = "helo.corp.test"
# Where we knowingly differ from pyspf, and why. The sender's domain with a
# final dot: RFC 7208 4.3 calls a domain malformed for "a zero-length label
# not at the end", so "corp.test." is corp.test and we check it (our result
# must equal alice@corp.test's); pyspf answers none.
TRAILING_DOT = {"peggy@corp.test.": "alice@corp.test"}
EXP_DOMAINS = ("brand.test", "lists.test")

PYSPF = r"""
import json, sys
import dns.resolver
import spf
port = int(sys.argv[1])
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = port
dns.resolver.default_resolver = r
out = []
for ip, sender, helo in json.load(sys.stdin):
    q = spf.query(i=ip, s=sender or "postmaster@" + helo, h=helo, receiver="mx.test")
    res, code, exp = q.check()
    out.append([res, exp])
print(json.dumps(out))
"""


class SpfPyspfTest(unittest.TestCase):
    def setUp(self):
        if not have_dnslib():
            self.fail("python3-dnslib is needed")
        if not os.path.exists(TERN_SPF):
            self.fail("tern-spf not found at %s (build it)" % TERN_SPF)
        self.tmp = tempfile.TemporaryDirectory()
        self.dns = DnsServer(self.tmp.name, ZONE, servfail=["tempfail.test"])

    def tearDown(self):
        self.dns.stop()
        self.tmp.cleanup()

    def tern(self, ip, sender):
        args = [TERN_SPF, "--ip", ip, "--helo", HELO, "--receiver", "mx.test",
                "--dns", "127.0.0.1@%d" % self.dns.port]
        if sender:
            args += ["--from", sender]
        proc = subprocess.run(args, capture_output=True, timeout=60)
        fields = dict(l.split(": ", 1) for l in proc.stdout.decode().splitlines()
                      if l.startswith("mailfrom"))
        self.assertIn("mailfrom", fields, proc.stderr.decode())
        return fields["mailfrom"], fields.get("mailfrom.explanation")

    def test_agree_with_pyspf(self):
        cases = [(ip, s, HELO) for s in SENDERS for ip in IPS]
        proc = subprocess.run([PYTHON, "-c", PYSPF, str(self.dns.port)],
                              input=json.dumps(cases).encode(), capture_output=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        theirs = json.loads(proc.stdout)
        disagree, counts, ours_by = [], {}, {}
        for (ip, sender, _), (their_res, their_exp) in zip(cases, theirs):
            ours, our_exp = self.tern(ip, sender)
            ours_by[(ip, sender)] = ours
            counts[ours] = counts.get(ours, 0) + 1
            # pyspf writes the nibbles of an IPv6 %{i} in upper case; we
            # follow RFC 7208 7.4's example (lower case): compare folded.
            if ":" in ip and our_exp and their_exp:
                our_exp, their_exp = our_exp.lower(), their_exp.lower()
            if sender in TRAILING_DOT:
                if ours != ours_by[(ip, TRAILING_DOT[sender])] or their_res != "none":
                    disagree.append("%s %s: tern %s, pyspf %s" % (ip, sender, ours, their_res))
            elif ours != their_res:
                disagree.append("%s %s: tern %s, pyspf %s" % (ip, sender, ours, their_res))
            elif ours == "fail" and sender.rstrip(".").endswith(EXP_DOMAINS) and \
                    our_exp != their_exp:
                disagree.append("%s %s: explanation %r vs %r" % (ip, sender, our_exp, their_exp))
        self.assertEqual(disagree, [], "\n".join(disagree))
        # The grid reaches every result.
        for r in ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror"):
            self.assertIn(r, counts)
        print("  %d pairs checked: %s" % (len(cases), json.dumps(counts, sort_keys=True)))


if __name__ == "__main__":
    unittest.main()
