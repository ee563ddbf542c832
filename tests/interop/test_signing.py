"""DKIM signing of outbound mail by ternd: keys in STATE/domains/DOMAIN/dkim/
(what `ternd domain add` makes; here made with openssl), mail from a client
that may relay goes through the queue to aiosmtpd, and the signatures it
carries are verified by dkimpy against the keys' records served by a DNS
server on loopback: RSA and Ed25519 both, From in a subdomain signed with
the parent's keys, and mail from other domains (or from strangers) left
unsigned."""

import base64
import os
import signal
import smtplib
import subprocess

from mtalib import MtaTestCase
from test_mail_auth import ORACLE, PYTHON, have_oracles

MSG = (b"From: <%s>\r\nTo: <x@far.test>\r\nSubject: signed\r\n"
       b"Date: Wed, 02 Dec 2026 12:00:00 +0000\r\n\r\nHello, signed world.\r\n")


def make_key(path, kind):
    """A private key file and its DKIM record's p= value."""
    if kind == "rsa":
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", path], check=True, capture_output=True)
    else:
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", path],
                       check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    # RFC 8463: an Ed25519 record holds the bare 32-octet key.
    return base64.b64encode(der if kind == "rsa" else der[-32:]).decode()


def txt(name, value):
    chunks = " ".join('"%s"' % value[i:i + 200] for i in range(0, len(value), 200))
    return "%s 60 IN TXT %s" % (name, chunks)


class SigningTest(MtaTestCase):
    def setUp(self):
        super().setUp()
        if not have_oracles():
            self.fail("python3-dkim and python3-dnspython are needed (scripts/install-deps.sh)")
        self.state = os.path.join(self.tmpdir(), "state")
        keys = os.path.join(self.state, "domains", "sign.test", "dkim")
        os.makedirs(keys, mode=0o700)
        rsa = make_key(os.path.join(keys, "s202612.pem"), "rsa")
        ed = make_key(os.path.join(keys, "s202612e.pem"), "ed25519")
        self.dnsd = self.dns("\n".join([
            txt("s202612._domainkey.sign.test.", "v=DKIM1; k=rsa; p=" + rsa),
            txt("s202612e._domainkey.sign.test.", "v=DKIM1; k=ed25519; p=" + ed),
            "",
        ]))
        self.sink = self.aiosmtpd()

    def ternd(self, *args):
        return self.start_ternd("--domain", "local.test", "--state-dir", self.state,
                                "--relayhost", "[127.0.0.1]:%d" % self.sink.port, *args)

    def verify(self, data):
        p = subprocess.run([PYTHON, ORACLE, "dkim-verify", str(self.dnsd.port)], input=data,
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return p.stdout.decode().split()

    def relay(self, t, sender, count):
        with smtplib.SMTP("127.0.0.1", t.port, timeout=30) as s:
            s.sendmail(sender, ["x@far.test"], MSG % sender.encode())
        return self.wait_messages(self.sink, count)[count - 1][1]

    def test_signed_rsa_and_ed25519(self):
        t = self.ternd("--relay-from", "127.0.0.1")
        data = self.relay(t, "a@sign.test", 1)
        self.assertEqual(data.count(b"DKIM-Signature:"), 2)
        self.assertEqual(self.verify(data), ["pass", "pass"])
        self.assertIn(b"d=sign.test", data)
        self.assertIn(b"a=ed25519-sha256", data)
        self.assertIn("DKIM-signed d=sign.test", t.log_text())
        self.assertIn("DKIM signing for 1 domain with 2 keys", t.log_text())
        # Tampered in transit: both fail.
        self.assertEqual(self.verify(data.replace(b"signed world", b"forged world")),
                         ["fail", "fail"])

    def test_subdomain_signed_with_parent(self):
        t = self.ternd("--relay-from", "127.0.0.1")
        data = self.relay(t, "news@lists.sign.test", 1)
        self.assertEqual(self.verify(data), ["pass", "pass"])

    def test_other_domain_unsigned(self):
        t = self.ternd("--relay-from", "127.0.0.1")
        data = self.relay(t, "a@other.test", 1)
        self.assertNotIn(b"DKIM-Signature:", data)
        self.assertEqual(self.verify(data), ["none"])

    def test_strangers_never_signed(self):
        # Mail for a local user from a client that may not relay: it is
        # the sender's to sign, not ours.
        t = self.ternd()
        with smtplib.SMTP("127.0.0.1", t.port, timeout=30) as s:
            s.sendmail("a@sign.test", ["me@local.test"], MSG % b"a@sign.test")
        stored = self.mailbox(t, "me@local.test")
        self.assertIsNone(stored[0]["DKIM-Signature"])

    def test_sighup_loads_new_keys(self):
        # A domain set up while ternd runs signs after SIGHUP; a message
        # already being signed would keep its keys.
        t = self.ternd("--relay-from", "127.0.0.1")
        self.assertNotIn(b"DKIM-Signature:", self.relay(t, "a@late.test", 1))
        keys = os.path.join(self.state, "domains", "late.test", "dkim")
        os.makedirs(keys, mode=0o700)
        make_key(os.path.join(keys, "s1.pem"), "ed25519")
        os.kill(t.pid(), signal.SIGHUP)  # t.signal() is for stop signals
        self.wait_log(t, r"SIGHUP: DKIM signing for 2 domains with 3 keys")
        self.assertIn(b"d=late.test", self.relay(t, "a@late.test", 2))
        # A broken key keeps the old table in service.
        with open(os.path.join(keys, "broken.pem"), "w") as f:
            f.write("not a key\n")
        os.kill(t.pid(), signal.SIGHUP)  # t.signal() is for stop signals
        self.wait_log(t, r"SIGHUP: DKIM keys not reloaded .*broken\.pem")
        self.assertIn(b"d=late.test", self.relay(t, "a@late.test", 3))
