"""DKIM against independent implementations, keys served by a DNS server on
loopback (dns_server.py with a zone written here):

  - tern-dkim signs (RSA-2048 and Ed25519, relaxed/relaxed and
    simple/simple); dkimpy, Perl's Mail::DKIM and mailauth 4 verify;
  - dkimpy (both algorithms) and Mail::DKIM sign; tern-dkim verifies;
  - corrupted header, corrupted body, canonicalization mismatch, wrong key,
    revoked key, expired x= and a 512-bit RSA key: no verifier may pass
    them, in either direction.

opendkim-testmsg is not used: it only signs, or verifies through the
system resolver (no server or port can be given), so it cannot see keys
served on loopback."""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from ternlib import ROOT, ToolsMixin
from test_dns import DnsServer, PYTHON, have_dnslib

HERE = os.path.dirname(os.path.abspath(__file__))
TERN_DKIM = os.path.abspath(os.environ.get("TERN_DKIM", os.path.join(ROOT, "build", "tern-dkim")))
DOMAIN = "example.org"
MSG = (b"From: Alice <alice@example.org>\r\n"
       b"To: Bob <bob@example.net>\r\n"
       b"Subject: DKIM   interop\r\n\tfolded subject \r\n"
       b"Date: Tue, 02 Dec 2025 17:00:00 +0000\r\n"
       b"Message-ID: <dkim-interop@example.org>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: text/plain; charset=utf-8\r\n"
       b"\r\n"
       b"Hello Bob,  \r\n"
       b"\r\n"
       b"trailing spaces and\ttabs\t \r\n"
       b"\r\n\r\n")

DKIMPY_VERIFY = r"""
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ['127.0.0.1']
r.port = int(sys.argv[1])
def txt(name, timeout=5):
    try:
        a = r.resolve(name.decode().rstrip('.'), 'TXT')
    except Exception:
        return None
    return b''.join(a[0].strings)
msg = sys.stdin.buffer.read()
print('pass' if dkim.verify(msg, dnsfunc=txt) else 'fail')
"""

DKIMPY_SIGN = r"""
import sys, dkim, base64
alg, sel, keyfile, canon = sys.argv[1:5]
key = open(keyfile, 'rb').read()
if alg == 'ed25519-sha256':
    from cryptography.hazmat.primitives import serialization as s
    k = s.load_pem_private_key(key, None)
    key = base64.b64encode(k.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption()))
msg = sys.stdin.buffer.read()
c = canon.encode().split(b'/')
sig = dkim.sign(msg, sel.encode(), b'example.org', key, canonicalize=(c[0], c[1]),
                signature_algorithm=alg.encode())
sys.stdout.buffer.write(sig + msg)
"""

PERL_VERIFY = r"""
use strict; use Mail::DKIM::Verifier; use Net::DNS::Resolver;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(nameservers => ['127.0.0.1'],
    port => $ARGV[0], recurse => 1, tcp_timeout => 5, udp_timeout => 5));
my $v = Mail::DKIM::Verifier->new();
local $/; my $m = <STDIN>; $m =~ s/\r?\n/\r\n/g;
$v->PRINT($m); $v->CLOSE;
print join(' ', map { $_->result } $v->signatures) || 'none', "\n";
"""

PERL_SIGN = r"""
use strict; use Mail::DKIM::Signer; use Mail::DKIM::PrivateKey;
my ($alg, $sel, $keyfile, $canon) = @ARGV;
my $s = Mail::DKIM::Signer->new(Algorithm => $alg, Method => $canon, Domain => 'example.org',
    Selector => $sel, KeyFile => $keyfile,
    Headers => 'from:to:subject:date:message-id');
local $/; my $m = <STDIN>;
$s->PRINT($m); $s->CLOSE;
print $s->signature->as_string, "\r\n", $m;
"""

NODE_VERIFY = r"""
const { dkimVerify } = require('mailauth/lib/dkim/verify');
const dns = require('dns').promises;
const r = new dns.Resolver({ timeout: 5000, tries: 1 });
r.setServers(['127.0.0.1:' + process.argv[process.argv.length - 1]]);
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', async () => {
    const res = await dkimVerify(Buffer.concat(chunks), {
        resolver: (name, type) => r.resolve(name, type) });
    console.log(res.results.map((x) => x.status.result).join(' ') || 'none');
});
"""


def perl_has_ed25519():
    return subprocess.run(["perl", "-MCrypt::PK::Ed25519", "-e", "1"],
                          capture_output=True).returncode == 0


def zone_txt(name, value):
    # One TXT record of 250-octet strings (a string holds at most 255).
    parts = [value[i:i + 250] for i in range(0, len(value), 250)]
    return "%s. 300 IN TXT %s\n" % (name, " ".join('"%s"' % p for p in parts))


class DkimInterop(unittest.TestCase, ToolsMixin):
    @classmethod
    def setUpClass(cls):
        if not os.access(TERN_DKIM, os.X_OK):
            raise AssertionError("tern-dkim not found at %s" % TERN_DKIM)
        if not have_dnslib():
            raise AssertionError("python3-dnslib is needed")
        cls.dir = tempfile.mkdtemp(prefix="tern-dkim-")
        cls.keys = {}
        records = {}
        for sel, args in (("rsa", ["-a", "rsa", "-b", "2048"]), ("ed", ["-a", "ed25519"]),
                          ("other", ["-a", "rsa", "-b", "2048"])):
            path = os.path.join(cls.dir, sel + ".pem")
            out = subprocess.run([TERN_DKIM, "keygen", *args, "-o", path], check=True,
                                 capture_output=True).stdout.decode().strip()
            cls.keys[sel] = path
            records[sel] = out
        # 512-bit RSA: tern-dkim refuses to make one, openssl does not.
        weak = os.path.join(cls.dir, "weak.pem")
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", weak, "512"], check=True,
                       capture_output=True)
        pub = subprocess.run(["openssl", "rsa", "-in", weak, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        import base64
        cls.keys["weak"] = weak
        records["weak"] = "v=DKIM1; k=rsa; p=" + base64.b64encode(pub).decode()
        # "wrong" publishes another key than the one that signs as it;
        # "revoked" publishes an empty p=.
        records["wrong"] = records["other"]
        records["revoked"] = "v=DKIM1; k=rsa; p="
        zone = "".join(zone_txt("%s._domainkey.%s" % (sel, DOMAIN), rec)
                       for sel, rec in records.items())
        cls.dns = DnsServer(cls.dir, zone)

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    # ---- signers ----

    def tern_sign(self, sel, key=None, canon="relaxed/relaxed", extra=(), msg=MSG):
        p = self.run_tool([TERN_DKIM, "sign", "-d", DOMAIN, "-s", sel, "-k",
                           self.keys[key or sel], "-c", canon, *extra], input=msg)
        return p.stdout

    def dkimpy_sign(self, alg, sel, canon):
        return self.run_tool([PYTHON, "-c", DKIMPY_SIGN, alg, sel, self.keys[sel], canon],
                             input=MSG).stdout

    def perl_sign(self, alg, sel, canon):
        return self.run_tool(["perl", "-e", PERL_SIGN, alg, sel, self.keys[sel], canon],
                             input=MSG).stdout

    # ---- verifiers: each returns its word for the first signature ----

    def tern_verify(self, msg):
        p = self.run_tool([TERN_DKIM, "verify", "--dns", "127.0.0.1@%d" % self.dns.port],
                          input=msg, ok=False)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        line = p.stdout.decode().splitlines()[0]
        self.assertEqual(p.returncode == 0, line.startswith("pass"), line)
        return line

    def dkimpy_verify(self, msg):
        return self.run_tool([PYTHON, "-c", DKIMPY_VERIFY, str(self.dns.port)],
                             input=msg).stdout.decode().strip()

    def perl_verify(self, msg):
        return self.run_tool(["perl", "-e", PERL_VERIFY, str(self.dns.port)],
                             input=msg).stdout.decode().split()[0]

    def node_verify(self, msg):
        return self.run_tool(["node", "-e", NODE_VERIFY, str(self.dns.port)], input=msg,
                             cwd=HERE).stdout.decode().split()[0]

    def verifiers(self):
        return (("dkimpy", self.dkimpy_verify), ("Mail::DKIM", self.perl_verify),
                ("mailauth", self.node_verify))

    # ---- tern signs, others verify ----

    def test_tern_signs_others_verify(self):
        for sel in ("rsa", "ed"):
            for canon in ("relaxed/relaxed", "simple/simple", "relaxed/simple"):
                msg = self.tern_sign(sel, canon=canon)
                self.assertTrue(self.tern_verify(msg).startswith("pass"))
                for name, verify in self.verifiers():
                    if sel == "ed" and name == "Mail::DKIM" and not perl_has_ed25519():
                        # Mail::DKIM does Ed25519 only with CryptX's
                        # Crypt::PK::Ed25519, which is not installed: it
                        # says "invalid (unsupported algorithm)".
                        self.assertEqual(verify(msg), "invalid")
                        continue
                    with self.subTest(sel=sel, canon=canon, verifier=name):
                        self.assertEqual(verify(msg), "pass", msg.decode()[:600])

    def test_tern_two_signatures(self):
        msg = self.tern_sign("rsa", msg=self.tern_sign("ed"))
        p = self.run_tool([TERN_DKIM, "verify", "--dns", "127.0.0.1@%d" % self.dns.port],
                          input=msg)
        self.assertEqual([l.split()[0] for l in p.stdout.decode().splitlines()], ["pass", "pass"])
        self.assertEqual(self.dkimpy_verify(msg), "pass")
        self.assertEqual(self.node_verify(msg), "pass")

    # ---- others sign, tern verifies ----

    def test_others_sign_tern_verifies(self):
        for alg, sel in (("rsa-sha256", "rsa"), ("ed25519-sha256", "ed")):
            for canon in ("relaxed/relaxed", "simple/simple"):
                with self.subTest(signer="dkimpy", alg=alg, canon=canon):
                    msg = self.dkimpy_sign(alg, sel, canon)
                    self.assertTrue(self.tern_verify(msg).startswith("pass"))
        for canon in ("relaxed", "simple", "relaxed/simple"):
            with self.subTest(signer="Mail::DKIM", canon=canon):
                msg = self.perl_sign("rsa-sha256", "rsa", canon)
                self.assertTrue(self.tern_verify(msg).startswith("pass"), msg.decode()[:600])

    # ---- what must fail, both ways ----

    def bad_messages(self, signed):
        """Edits of a message signed relaxed/relaxed that must not verify."""
        yield "header", signed.replace(b"Subject: DKIM", b"Subject: DKIX")
        yield "body", signed.replace(b"Hello Bob", b"Hello Eve")
        yield "added From", signed.replace(b"\r\n\r\nHello", b"\r\nFrom: eve@example.com\r\n\r\nHello")
        mism = re.sub(rb"c=relaxed/relaxed", b"c=simple/simple", signed, count=1)
        yield "canonicalization", mism

    def test_corruption_fails_everywhere(self):
        for signer, signed in (("tern", self.tern_sign("rsa")), ("tern-ed", self.tern_sign("ed")),
                               ("dkimpy", self.dkimpy_sign("rsa-sha256", "rsa", "relaxed/relaxed"))):
            for what, msg in self.bad_messages(signed):
                with self.subTest(signer=signer, edit=what):
                    self.assertTrue(self.tern_verify(msg).startswith("fail"))
                    for name, verify in self.verifiers():
                        self.assertNotEqual(verify(msg), "pass", name)

    def test_bad_keys_fail_everywhere(self):
        now = int(time.time())
        cases = (
            ("wrong key", self.tern_sign("wrong", key="rsa"), "fail"),
            ("revoked key", self.tern_sign("revoked", key="rsa"), "permerror"),
            # two days old: dkimpy allows 10 hours of clock slop
            ("expired x=", self.tern_sign("rsa", extra=("-t", str(now - 172800), "-x", "60")),
             "fail"),
        )
        for what, msg, word in cases:
            with self.subTest(case=what):
                self.assertTrue(self.tern_verify(msg).startswith(word), what)
                for name, verify in self.verifiers():
                    self.assertNotEqual(verify(msg), "pass", name)

    def test_weak_key(self):
        # tern-dkim will not sign with it (RFC 8301)...
        p = self.run_tool([TERN_DKIM, "sign", "-d", DOMAIN, "-s", "weak", "-k",
                           self.keys["weak"]], input=MSG, ok=False)
        self.assertEqual(p.returncode, 2)
        # ...nor accept a signature made with it by another signer.
        msg = self.perl_sign("rsa-sha256", "weak", "relaxed")
        line = self.tern_verify(msg)
        self.assertTrue(line.startswith("permerror"), line)
        self.assertIn("512 bits", line)
        self.assertNotEqual(self.dkimpy_verify(msg), "pass")
        self.assertNotEqual(self.node_verify(msg), "pass")

    def test_keygen_record_and_unknown_selector(self):
        msg = self.tern_sign("nokey", key="rsa")
        self.assertTrue(self.tern_verify(msg).startswith("permerror"))
        self.assertEqual(self.tern_verify(MSG), "none (no signature)")
        with open(self.keys["ed"]) as f:
            self.assertIn("BEGIN PRIVATE KEY", f.read())
