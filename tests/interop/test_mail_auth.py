"""Inbound SPF, DKIM and DMARC in ternd (--auth-checks), end to end: a real
DNS server on loopback serves the test domains' SPF, DKIM and DMARC
records; messages signed by dkimpy arrive over smtplib; the
Authentication-Results field ternd stores is parsed by Python's authres
module and its verdicts are compared with dkimpy's and pyspf's over the
same DNS. DMARC p=reject refuses with 550 5.7.1 and stores nothing,
p=quarantine goes to the Junk folder, and fields claiming our authserv-id
are removed on the way in."""

import base64
import json
import os
import smtplib
import subprocess
import tempfile

from ternlib import SOCKET_TIMEOUT, TerndTestCase
from test_dns import DnsServer, have_dnslib

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
ORACLE = os.path.join(HERE, "auth_oracle.py")
AUTHSERV = "mx.tern.test"


def have_oracles():
    try:
        return subprocess.run([PYTHON, "-c", "import dkim, spf, authres, dns.resolver"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def message(sender, subject="checks", body=b"Hello from the test.\r\n", extra=b""):
    return (b"From: <" + sender.encode() + b">\r\nTo: <u@local.test>\r\nSubject: " +
            subject.encode() + b"\r\nDate: Wed, 02 Dec 2026 12:00:00 +0000\r\n" + extra +
            b"\r\n" + body)


class MailAuthTest(TerndTestCase):
    @classmethod
    def setUpClass(cls):
        if not have_dnslib() or not have_oracles():
            raise AssertionError("python3-dnslib, -dkim, -spf, -authres and -dnspython are "
                                 "needed (scripts/install-deps.sh)")
        cls.dir = tempfile.mkdtemp(prefix="tern-mailauth-")
        cls.key = os.path.join(cls.dir, "dkim.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", cls.key], check=True,
                       capture_output=True)
        der = subprocess.run(["openssl", "pkey", "-in", cls.key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        p = base64.b64encode(der).decode()
        # TXT strings are at most 255 octets: split the key record.
        record = "v=DKIM1; k=rsa; p=" + p
        chunks = " ".join('"%s"' % record[i:i + 200] for i in range(0, len(record), 200))
        cls.zone = "\n".join([
            # good.test: the client may send, signs, p=reject
            'good.test. 60 IN TXT "v=spf1 ip4:127.0.0.1 -all"',
            "sel._domainkey.good.test. 60 IN TXT %s" % chunks,
            '_dmarc.good.test. 60 IN TXT "v=DMARC1; p=reject"',
            # strict.test: nobody may send, p=reject
            'strict.test. 60 IN TXT "v=spf1 -all"',
            '_dmarc.strict.test. 60 IN TXT "v=DMARC1; p=reject"',
            # quar.test: nobody may send, p=quarantine
            'quar.test. 60 IN TXT "v=spf1 -all"',
            '_dmarc.quar.test. 60 IN TXT "v=DMARC1; p=quarantine"',
            # soft.test: SPF softfail, no DMARC record
            'soft.test. 60 IN TXT "v=spf1 ~all"',
            "",
        ])

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.dir], check=False)

    def setUp(self):
        super().setUp()
        d = tempfile.mkdtemp(prefix="tern-mailauth-dns-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", d], check=False))
        self.dns = DnsServer(d, self.zone)
        self.addCleanup(self.dns.stop)

    def ternd(self, *args):
        return self.start_ternd("--dns-server", "127.0.0.1@%d" % self.dns.port,
                                "--auth-checks", "always", "--authserv-id", AUTHSERV, *args)

    def oracle(self, *args, input=None):
        p = subprocess.run([PYTHON, ORACLE] + list(args), input=input, capture_output=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return p.stdout

    def sign(self, msg, domain="good.test"):
        return self.oracle("sign", self.key, domain, "sel", input=msg)

    def send(self, t, sender, msg, helo="client.good.test"):
        s = smtplib.SMTP("127.0.0.1", t.port, timeout=SOCKET_TIMEOUT)
        try:
            s.ehlo(helo)
            return s.sendmail(sender, ["u@local.test"], msg)
        finally:
            s.quit()

    def stored(self, t, folder=""):
        """The one file stored for u@local.test (in folder, "" = inbox)."""
        d = os.path.join(t.maildir, "u@local.test", folder, "new")
        names = os.listdir(d) if os.path.isdir(d) else []
        self.assertEqual(len(names), 1, "files in %s: %s" % (d, names))
        with open(os.path.join(d, names[0]), "rb") as f:
            return f.read()

    def fields(self, data, name):
        """The values of every field called name in data's header section."""
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        out, cur = [], None
        for line in head.split("\r\n"):
            if line[:1] in (" ", "\t"):
                if cur == name.lower():
                    out[-1] += "\r\n" + line
                continue
            cur = line.split(":", 1)[0].lower()
            if cur == name.lower():
                out.append(line)
        return out

    def our_results(self, data):
        """authres's reading of the one field ternd added."""
        ours = [f for f in self.fields(data, "Authentication-Results")
                if AUTHSERV in f.split(";")[0]]
        self.assertEqual(len(ours), 1, ours)
        parsed = json.loads(self.oracle("parse-ar", input=ours[0].encode()))
        self.assertEqual(parsed["authserv_id"], AUTHSERV)
        return {r["method"]: r for r in parsed["results"]}

    def client_part(self, data):
        """The message as the client sent it: what follows ternd's own
        Received: field (the first one; ternd's other fields are above it)."""
        pos = data.find(b"Received: ")
        self.assertGreaterEqual(pos, 0)
        while True:
            nl = data.index(b"\r\n", pos) + 2
            pos = nl
            if data[nl:nl + 1] not in (b" ", b"\t"):
                return data[nl:]

    # ---- the cases -----------------------------------------------------

    def test_signed_aligned_pass(self):
        t = self.ternd()
        signed = self.sign(message("a@good.test"))
        self.send(t, "a@good.test", signed)
        data = self.stored(t)
        r = self.our_results(data)
        self.assertEqual(r["spf"]["result"], "pass")
        self.assertEqual(r["spf"]["props"].get("smtp.mailfrom"), "a@good.test")
        self.assertEqual(r["dkim"]["result"], "pass")
        self.assertEqual(r["dkim"]["props"].get("header.d"), "good.test")
        self.assertEqual(r["dkim"]["props"].get("header.s"), "sel")
        self.assertEqual(r["dmarc"]["result"], "pass")
        self.assertEqual(r["dmarc"]["props"].get("header.from"), "good.test")
        self.assertEqual(r["arc"]["result"], "none")
        # The oracles agree on the stored message and the envelope.
        self.assertEqual(self.oracle("dkim-verify", str(self.dns.port),
                                     input=self.client_part(data)).strip(), b"pass")
        self.assertEqual(self.oracle("spf", str(self.dns.port), "127.0.0.1",
                                     "client.good.test", "a@good.test").strip(), b"pass")
        # The field goes before ternd's Received:, after Delivered-To:.
        names = [l.split(b":", 1)[0] for l in data.split(b"\r\n")[:4]]
        self.assertEqual(names[:3], [b"Return-Path", b"Delivered-To", b"Authentication-Results"])

    def test_tampered_body_fails_dkim_spf_still_aligns(self):
        t = self.ternd()
        signed = self.sign(message("a@good.test"))
        tampered = signed.replace(b"Hello from the test.", b"Hello from a forger.")
        self.send(t, "a@good.test", tampered)
        data = self.stored(t)
        r = self.our_results(data)
        self.assertEqual(r["dkim"]["result"], "fail")
        self.assertEqual(self.oracle("dkim-verify", str(self.dns.port),
                                     input=self.client_part(data)).strip(), b"fail")
        # SPF passes for good.test and aligns with From: DMARC passes.
        self.assertEqual(r["spf"]["result"], "pass")
        self.assertEqual(r["dmarc"]["result"], "pass")

    def test_dmarc_reject_refuses(self):
        t = self.ternd()
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.send(t, "a@strict.test", message("a@strict.test"))
        self.assertEqual(cm.exception.smtp_code, 550)
        self.assertIn(b"5.7.1", cm.exception.smtp_error)
        self.assertIn(b"strict.test", cm.exception.smtp_error)
        self.assertNothingStored(t)
        self.assertEqual(self.oracle("spf", str(self.dns.port), "127.0.0.1",
                                     "client.good.test", "a@strict.test").strip(), b"fail")

    def test_dmarc_reject_annotated_only(self):
        t = self.ternd("--dmarc-policy", "annotate")
        self.send(t, "a@strict.test", message("a@strict.test"))
        r = self.our_results(self.stored(t))
        self.assertEqual(r["spf"]["result"], "fail")
        self.assertEqual(r["dkim"]["result"], "none")
        self.assertEqual(r["dmarc"]["result"], "fail")

    def test_dmarc_quarantine_goes_to_junk(self):
        t = self.ternd()
        self.send(t, "a@quar.test", message("a@quar.test"))
        r = self.our_results(self.stored(t, ".Junk"))
        self.assertEqual(r["dmarc"]["result"], "fail")
        self.assertEqual(os.listdir(os.path.join(t.maildir, "u@local.test", "new")), [])

    def test_no_policy_softfail(self):
        t = self.ternd()
        self.send(t, "a@soft.test", message("a@soft.test"))
        r = self.our_results(self.stored(t))
        self.assertEqual(r["spf"]["result"], "softfail")
        self.assertEqual(r["dmarc"]["result"], "none")
        self.assertEqual(self.oracle("spf", str(self.dns.port), "127.0.0.1",
                                     "client.good.test", "a@soft.test").strip(), b"softfail")

    def test_forged_results_removed(self):
        t = self.ternd()
        forged = (b"Authentication-Results: " + AUTHSERV.encode() +
                  b"; spf=pass smtp.mailfrom=a@strict.test;\r\n dkim=pass header.d=strict.test\r\n"
                  b"Authentication-Results: other.example; spf=pass smtp.mailfrom=x@y\r\n")
        self.send(t, "a@soft.test", message("a@soft.test", extra=forged))
        data = self.stored(t)
        fields = self.fields(data, "Authentication-Results")
        self.assertEqual(len(fields), 2, fields)
        self.assertTrue(any("other.example" in f for f in fields))
        self.assertEqual(self.our_results(data)["spf"]["result"], "softfail")
        self.assertIn("claiming to be ours", t.log_text())

    def test_arc_chain_from_a_forwarder(self):
        # good.test forwarded the message (dkimpy sealed it with good.test's
        # key); the chain verifies, and a broken body breaks it.
        t = self.ternd()
        sealed = self.oracle("arc-seal", self.key, "good.test", "sel", "fwd.good.test",
                             input=message("a@soft.test"))
        self.send(t, "a@soft.test", sealed)
        r = self.our_results(self.stored(t))
        self.assertEqual(r["arc"]["result"], "pass")
        t2 = self.ternd()
        self.send(t2, "a@soft.test", sealed.replace(b"Hello from", b"Hullo from"))
        self.assertEqual(self.our_results(self.stored(t2))["arc"]["result"], "fail")

    def test_checked_through_the_queue_to_lmtp(self):
        # --lmtp-to: local mail goes through the queue to an LMTP server (a
        # second ternd here); the field travels in the queued message.
        lmtp = self.start_ternd("--lmtp", "--auth-checks", "no")
        t = self.ternd("--domain", "local.test", "--lmtp-to", "127.0.0.1:%d" % lmtp.port)
        signed = self.sign(message("a@good.test"))
        self.send(t, "a@good.test", signed)
        import time
        deadline = time.monotonic() + 20
        while not lmtp.files("u@local.test") and time.monotonic() < deadline:
            time.sleep(0.05)
        data = self.stored(lmtp)
        r = self.our_results(data)
        self.assertEqual((r["spf"]["result"], r["dkim"]["result"], r["dmarc"]["result"]),
                         ("pass", "pass", "pass"))
        self.assertEqual(self.oracle("dkim-verify", str(self.dns.port),
                                     input=self.client_part(data)).strip(), b"pass")
        # p=reject is refused before anything is queued.
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.send(t, "a@strict.test", message("a@strict.test"))
        self.assertEqual(cm.exception.smtp_code, 550)
        self.assertEqual(os.listdir(os.path.join(t.state_dir, "queue", "incoming")), [])

    def test_null_sender_checks_helo(self):
        t = self.ternd()
        self.send(t, "", message("a@soft.test"), helo="good.test")
        r = self.our_results(self.stored(t))
        self.assertEqual(r["spf"]["result"], "pass")
        self.assertEqual(r["spf"]["props"].get("smtp.helo"), "good.test")

    def test_loopback_unchecked_by_default(self):
        t = self.start_ternd("--dns-server", "127.0.0.1@%d" % self.dns.port)
        self.send(t, "a@strict.test", message("a@strict.test"))
        self.assertEqual(self.fields(self.stored(t), "Authentication-Results"), [])
        self.assertEqual([q for q in self.dns.queries() if q[1] == "TXT"], [])
