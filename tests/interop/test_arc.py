"""ARC (RFC 8617) against independent implementations, keys served by a DNS
server on loopback (dns_server.py with a zone written here):

  - dkimpy (dkim.arc_sign, and its arcsign script) seals chains of one, two
    and three hops; tern-arc verify says pass (oldest-pass=0);
  - tern-arc seal seals a fresh message, a dkimpy chain and its own chain;
    dkimpy's dkim.arc_verify and mailauth 4's authenticate() say pass, and
    dkimpy sealing on top of a tern seal verifies in tern;
  - a tampered body, a tampered ARC header field, a missing set, a
    duplicated field, cv=fail in the chain: no verifier passes them, in
    either direction, and sealing over an ended chain is refused.

dkimpy differs in one word: a chain whose newest seal says cv=fail is
"None" there ("the chain is terminated"), fail in tern and mailauth (RFC
8617 5.2 step 3: "the Chain Validation Status is "fail""). Tests accept
anything but pass from dkimpy there."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from ternlib import ROOT, ToolsMixin
from test_dns import DnsServer, PYTHON, have_dnslib

HERE = os.path.dirname(os.path.abspath(__file__))
TERN_ARC = os.path.abspath(os.environ.get("TERN_ARC", os.path.join(ROOT, "build", "tern-arc")))
TERN_DKIM = os.path.abspath(os.environ.get("TERN_DKIM", os.path.join(ROOT, "build", "tern-dkim")))
NOW = "1767225600"  # 2026-01-01: a fixed clock, no test depends on the time
MSG = (b"From: Alice <alice@example.org>\r\n"
       b"To: list@lists.example.net\r\n"
       b"Subject: ARC   interop\r\n\tfolded subject \r\n"
       b"Date: Tue, 02 Dec 2025 17:00:00 +0000\r\n"
       b"Message-ID: <arc-interop@example.org>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: text/plain; charset=utf-8\r\n"
       b"\r\n"
       b"Hello list,  \r\n"
       b"\r\n"
       b"trailing spaces and\ttabs\t \r\n"
       b"\r\n\r\n")

# dkimpy: "sign PORT SEL DOMAIN KEY SRV_ID [ARC-RESULT]" verifies the chain
# (or takes the result given), adds this hop's Authentication-Results with
# arc=RESULT as a forwarder would, and seals; "verify PORT" prints cv.
DKIMPY = r"""
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ['127.0.0.1']
r.port = int(sys.argv[2])
def txt(name, timeout=5):
    try:
        a = r.resolve(name.decode().rstrip('.'), 'TXT')
    except Exception:
        return None
    return b''.join(a[0].strings)
msg = sys.stdin.buffer.read()
if sys.argv[1] == 'verify':
    cv, res, why = dkim.arc_verify(msg, dnsfunc=txt)
    print(cv.decode() if cv else 'None', why)
    sys.exit(0)
sel, dom, keyfile, srv = [a.encode() for a in sys.argv[3:7]]
if len(sys.argv) > 7:
    cv = sys.argv[7].encode()
else:
    cv = dkim.arc_verify(msg, dnsfunc=txt)[0] or b'fail'
ar = b'spf=pass smtp.mailfrom=example.org'
if cv != b'none':
    ar += b'; arc=' + cv
msg = b'Authentication-Results: ' + srv + b'; ' + ar + b'\r\n' + msg
s = dkim.arc_sign(msg, sel, dom, open(keyfile, 'rb').read(), srv, timestamp=int(%s))
if not s:
    sys.exit('dkimpy made no ARC set')
sys.stdout.buffer.write(b''.join(s) + msg)
""" % NOW

NODE_VERIFY = r"""
const { authenticate } = require('mailauth');
const dns = require('dns').promises;
const r = new dns.Resolver({ timeout: 5000, tries: 1 });
r.setServers(['127.0.0.1:' + process.argv[process.argv.length - 1]]);
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', async () => {
    const res = await authenticate(Buffer.concat(chunks), {
        ip: '127.0.0.1', helo: 'mx.example.net', sender: 'alice@example.org',
        mta: 'mx.example.net', disableBimi: true, disableDmarc: true,
        resolver: (name, type) => r.resolve(name, type) });
    const a = res.arc || {};
    console.log((a.status && a.status.result) || 'none', a.i || 0,
                (a.status && a.status.comment) || '');
});
"""


def zone_txt(name, value):
    parts = [value[i:i + 250] for i in range(0, len(value), 250)]
    return "%s. 300 IN TXT %s\n" % (name, " ".join('"%s"' % p for p in parts))


ARC_NAMES = (b"arc-seal", b"arc-message-signature", b"arc-authentication-results")


def split_fields(msg):
    """The header fields (each whole, folding and CRLF kept) and the body."""
    head, sep, body = msg.partition(b"\r\n\r\n")
    fields = []
    for line in (head + b"\r\n").split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line + b"\r\n"
        else:
            fields.append(line + b"\r\n")
    return fields, b"\r\n" + body


def arc_instance(field):
    name = field.split(b":", 1)[0].strip().lower()
    if name not in ARC_NAMES:
        return None
    m = re.search(rb"[\s;:]i\s*=\s*(\d+)", field)
    return int(m.group(1)) if m else None


def join(fields, body):
    return b"".join(fields) + body


class ArcInterop(unittest.TestCase, ToolsMixin):
    @classmethod
    def setUpClass(cls):
        for path in (TERN_ARC, TERN_DKIM):
            if not os.access(path, os.X_OK):
                raise AssertionError("%s not found" % path)
        if not have_dnslib():
            raise AssertionError("python3-dnslib is needed")
        cls.dir = tempfile.mkdtemp(prefix="tern-arc-")
        cls.keys = {}
        zone = ""
        for sel, dom in (("arc", "example.org"), ("fwd", "lists.example.net"),
                         ("tern", "relay.example.com")):
            path = os.path.join(cls.dir, sel + ".pem")
            rec = subprocess.run([TERN_DKIM, "keygen", "-a", "rsa", "-b", "2048", "-o", path],
                                 check=True, capture_output=True).stdout.decode().strip()
            cls.keys[sel] = (path, dom)
            zone += zone_txt("%s._domainkey.%s" % (sel, dom), rec)
        cls.dns = DnsServer(cls.dir, zone)
        cls.chains = {}

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    # ---- sealers ----

    def dkimpy_seal(self, msg, sel="arc", srv="mx1.example.org", cv=None):
        path, dom = self.keys[sel]
        args = [PYTHON, "-c", DKIMPY, "sign", str(self.dns.port), sel, dom, path, srv]
        if cv:
            args.append(cv)
        return self.run_tool(args, input=msg).stdout

    def tern_seal(self, msg, sel="tern", ok=True):
        path, dom = self.keys[sel]
        p = self.run_tool([TERN_ARC, "seal", "-d", dom, "-s", sel, "-k", path,
                           "--authserv-id", "relay.example.com",
                           "--ar", "spf=pass smtp.mailfrom=example.org; dkim=none",
                           "--now", NOW, "--dns", "127.0.0.1@%d" % self.dns.port],
                          input=msg, ok=ok)
        return p.stdout if ok else p

    def dkimpy_chain(self, hops):
        """A chain of hops dkimpy sets, made once per test class."""
        if hops not in self.chains:
            msg = MSG
            for h in range(hops):
                msg = self.dkimpy_seal(msg, sel=("arc", "fwd")[h % 2],
                                       srv="mx%d.example.org" % (h + 1))
            self.chains[hops] = msg
        return self.chains[hops]

    # ---- verifiers ----

    def tern_verify(self, msg, now=NOW):
        p = self.run_tool([TERN_ARC, "verify", "--oldest-pass", *(["--now", now] if now else []),
                           "--dns", "127.0.0.1@%d" % self.dns.port], input=msg, ok=False)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        line = p.stdout.decode().strip()
        self.assertEqual(p.returncode == 0, line.startswith("arc=pass"), line)
        return line

    def dkimpy_verify(self, msg):
        return self.run_tool([PYTHON, "-c", DKIMPY, "verify", str(self.dns.port)],
                             input=msg).stdout.decode().strip()

    def node_verify(self, msg):
        return self.run_tool(["node", "-e", NODE_VERIFY, str(self.dns.port)], input=msg,
                             cwd=HERE).stdout.decode().strip()

    def assert_all_pass(self, msg, instance):
        self.assertRegex(self.tern_verify(msg), r"^arc=pass i=%d oldest-pass=0 " % instance)
        self.assertTrue(self.dkimpy_verify(msg).startswith("pass"), msg.decode()[:1500])
        self.assertEqual(self.node_verify(msg).split()[:2], ["pass", str(instance)])

    def assert_none_pass(self, msg, tern_reason=None):
        line = self.tern_verify(msg)
        self.assertTrue(line.startswith("arc=fail"), line)
        if tern_reason:
            self.assertIn(tern_reason, line)
        self.assertFalse(self.dkimpy_verify(msg).startswith("pass"))
        self.assertNotEqual(self.node_verify(msg).split()[0], "pass")

    # ---- dkimpy seals, tern verifies ----

    def test_dkimpy_chains_pass(self):
        for hops in (1, 2, 3):
            with self.subTest(hops=hops):
                msg = self.dkimpy_chain(hops)
                self.assertEqual(len(re.findall(rb"(?m)^ARC-Seal:", msg)), hops)
                self.assert_all_pass(msg, hops)

    def test_dkimpy_arcsign_script(self):
        path, dom = self.keys["arc"]
        msg = b"Authentication-Results: mx1.example.org; spf=pass smtp.mailfrom=example.org\r\n" + MSG
        out = self.run_tool(["/usr/bin/arcsign", "arc", dom, path, "mx1.example.org"],
                            input=msg).stdout
        self.assertIn(b"ARC-Seal: i=1", out)
        # arcsign stamps t= from the clock: verify at the real time too.
        self.assertRegex(self.tern_verify(out, now=None), r"^arc=pass i=1 ")

    def test_no_chain_is_none(self):
        line = self.tern_verify(MSG)
        self.assertTrue(line.startswith("arc=none i=0"), line)
        self.assertTrue(self.dkimpy_verify(MSG).startswith("none"))
        self.assertEqual(self.node_verify(MSG).split()[0], "none")

    # ---- tern seals, others verify ----

    def test_tern_seals_fresh_message(self):
        msg = self.tern_seal(MSG)
        self.assertTrue(msg.startswith(b"ARC-Seal: i=1; a=rsa-sha256; t=%s; cv=none;" % NOW.encode()))
        self.assertIn(b"ARC-Authentication-Results: i=1; relay.example.com;", msg)
        self.assert_all_pass(msg, 1)

    def test_tern_seals_on_dkimpy_chain(self):
        for hops in (1, 3):
            with self.subTest(hops=hops):
                msg = self.tern_seal(self.dkimpy_chain(hops))
                self.assertIn(b"ARC-Seal: i=%d; a=rsa-sha256; t=%s; cv=pass;"
                              % (hops + 1, NOW.encode()), msg)
                self.assert_all_pass(msg, hops + 1)

    def test_mixed_chain(self):
        # tern, dkimpy, tern, dkimpy: each verifies the other's sets.
        msg = MSG
        for h in range(4):
            # Each dkimpy hop needs its own authserv-id: dkimpy reads cv
            # from its own Authentication-Results, and two with arc= fail.
            msg = self.tern_seal(msg) if h % 2 == 0 else \
                self.dkimpy_seal(msg, sel="fwd", srv="fwd%d.example.net" % h)
        self.assert_all_pass(msg, 4)

    # ---- broken chains, both directions ----

    def broken(self, sealer):
        """Three-hop chains from sealer (tern or dkimpy)."""
        if sealer == "tern":
            msg = MSG
            for _ in range(3):
                msg = self.tern_seal(msg)
            return msg
        return self.dkimpy_chain(3)

    def test_tampered_body(self):
        for sealer in ("tern", "dkimpy"):
            with self.subTest(sealer=sealer):
                msg = self.broken(sealer).replace(b"Hello list", b"Hello LIST")
                self.assert_none_pass(msg, "ARC-Message-Signature i=3: body hash did not verify")

    def test_tampered_arc_header(self):
        for sealer in ("tern", "dkimpy"):
            with self.subTest(sealer=sealer):
                fields, body = split_fields(self.broken(sealer))
                for k, f in enumerate(fields):
                    if f.lower().startswith(b"arc-authentication-results") and arc_instance(f) == 1:
                        fields[k] = f.replace(b"spf=pass", b"spf=fail")
                self.assert_none_pass(join(fields, body), "ARC-Seal i=")

    def test_missing_instance(self):
        for sealer in ("tern", "dkimpy"):
            with self.subTest(sealer=sealer):
                fields, body = split_fields(self.broken(sealer))
                fields = [f for f in fields if arc_instance(f) != 2]
                self.assert_none_pass(join(fields, body), "instance 2 has no")

    def test_missing_field(self):
        for sealer in ("tern", "dkimpy"):
            with self.subTest(sealer=sealer):
                fields, body = split_fields(self.broken(sealer))
                fields = [f for f in fields if not (arc_instance(f) == 1 and
                                                    f.lower().startswith(b"arc-message-"))]
                self.assert_none_pass(join(fields, body), "instance 1 has no ARC-Message-Signature")

    def test_duplicate_instance(self):
        for sealer in ("tern", "dkimpy"):
            with self.subTest(sealer=sealer):
                fields, body = split_fields(self.broken(sealer))
                seal1 = [f for f in fields
                         if arc_instance(f) == 1 and f.lower().startswith(b"arc-seal")][0]
                fields.insert(0, seal1)
                self.assert_none_pass(join(fields, body), "instance 1 has two ARC-Seal")

    def test_cv_fail_in_chain(self):
        # A two-hop chain whose body changed: the next hop finds it failed
        # and seals with cv=fail (RFC 8617 5.1.2), over its own set only.
        bad = self.dkimpy_chain(2).replace(b"Hello list", b"Hello LIST")
        for sealer in ("tern", "dkimpy"):
            with self.subTest(sealer=sealer):
                msg = self.tern_seal(bad) if sealer == "tern" else \
                    self.dkimpy_seal(bad, sel="fwd", cv="fail")
                self.assertRegex(msg, rb"ARC-Seal: i=3;[^\r]* cv=fail;")
                self.assert_none_pass(msg, "cv=fail")
                self.assertIn("[sealing refused]", self.tern_verify(msg))
                p = self.tern_seal(msg, ok=False)
                self.assertEqual(p.returncode, 1)
                self.assertIn(b"cv=fail", p.stderr)

    def test_tern_cv_fail_seal_verifies_as_set(self):
        # The cv=fail seal covers only its own set: dkimpy checks that seal
        # (with the older sets left out) and reports the chain "terminated"
        # rather than a bad signature.
        bad = self.dkimpy_chain(1).replace(b"Hello list", b"Hello LIST")
        msg = self.tern_seal(bad)
        self.assertIn("terminated", self.dkimpy_verify(msg))


if __name__ == "__main__":
    unittest.main()
