"""DANE for SMTP (RFC 7672) in libtern's outbound delivery (examples/deliver),
against DNSSEC that nobody here wrote: Knot DNS signs the test zone itself
(automatic signing, ECDSA P-256) and serves it on loopback; libunbound
validates it from the zone's DNSKEY as trust anchor; ldns-signzone makes a
second, presigned zone whose TLSA signature is then broken; the receiving
servers are aiosmtpd with certificates made by openssl.

What it proves: a matching DANE-EE(3) or DANE-TA(2) record lets delivery
through over TLS; a mismatching one, a DANE-TA chain for another name, a
missing STARTTLS and a bogus TLSA signature all defer the message with
nothing delivered in plaintext; a host with a bogus TLSA answer is skipped
for the next MX; a secure "no TLSA" and an insecure zone with a TLSA record
fall back to ordinary opportunistic TLS; and each attempt's TLS-RPT outcome
(RFC 8460 result types) is reported."""

import hashlib
import os
import re
import smtplib
import subprocess
import time
import unittest

from mtalib import MtaTestCase
from ternlib import example_path, free_port, make_cert, tool

MSG = b"From: a@client.test\r\nTo: b@good.dane.test\r\nSubject: dane\r\n\r\nHello.\r\n"


def spki_sha256(cert):
    """TLSA 3 1 1 / 2 1 1 data: SHA-256 of the certificate's public key."""
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()


def cert_sha256(cert):
    """TLSA 2 0 1 data: SHA-256 of the whole certificate (DER)."""
    der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()


class Knot:
    """knotd in the foreground on 127.0.0.1:port from a config in directory:
    `signed` zones are signed by Knot itself, `presigned` ones served as
    given. anchors() is the DNSKEY trust-anchor text of every signed zone."""

    def __init__(self, directory, signed, presigned=(), unsigned=()):
        knotd = tool("knotd")
        if knotd is None:
            raise unittest.SkipTest("knotd not installed (apt-get install knot)")
        self.dir, self.port = directory, free_port()
        zones = []
        for name in signed:
            zones.append("  - domain: %s\n    dnssec-signing: on\n    dnssec-policy: auto\n" % name)
        for name in list(presigned) + list(unsigned):
            zones.append("  - domain: %s\n" % name)
        conf = os.path.join(directory, "knot.conf")
        with open(conf, "w") as f:
            f.write("server:\n    listen: 127.0.0.1@%d\n    rundir: %s\n"
                    "database:\n    storage: %s\n"
                    "policy:\n  - id: auto\n    algorithm: ecdsap256sha256\n    nsec3: off\n"
                    "    ksk-lifetime: 0\n    zsk-lifetime: 0\n"
                    "template:\n  - id: default\n    storage: %s\n    zonefile-sync: -1\n"
                    "    zonefile-load: whole\n    journal-content: none\n"
                    "zone:\n%s"
                    "log:\n  - target: stderr\n    any: info\n"
                    % (self.port, directory, directory, directory, "".join(zones)))
        self.log = open(os.path.join(directory, "knot.log"), "wb")
        self.proc = subprocess.Popen([knotd, "-c", conf], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.signed = list(signed)
        deadline = time.monotonic() + 20
        while any(not self.dnskeys(z) for z in self.signed):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("knotd did not serve signed zones:\n" + self.log_text())
            time.sleep(0.1)

    def dig(self, *args):
        return subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), "+norec", "+time=2",
                               "+tries=1"] + list(args),
                              capture_output=True, timeout=10).stdout.decode()

    def dnskeys(self, zone):
        return [line for line in self.dig("+noall", "+answer", zone, "DNSKEY").splitlines()
                if "DNSKEY" in line]

    def anchors(self):
        return "\n".join(k for z in self.signed for k in self.dnskeys(z)) + "\n"

    def log_text(self):
        with open(os.path.join(self.dir, "knot.log"), "rb") as f:
            return f.read().decode(errors="replace")[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def presign(directory, zone, text, break_type=None):
    """Signs zone's text with ldns-signzone (a fresh ECDSA key): returns the
    signed file and the DNSKEY anchor text. break_type: the RR type whose
    RRSIG gets one octet of its signature changed (a bogus answer)."""
    for t in ("ldns-keygen", "ldns-signzone"):
        if tool(t) is None:
            raise unittest.SkipTest("%s not installed (ldnsutils)" % t)
    src = os.path.join(directory, zone + ".in")
    with open(src, "w") as f:
        f.write(text)
    key = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", zone], cwd=directory,
                         capture_output=True, check=True).stdout.decode().strip()
    subprocess.run(["ldns-signzone", "-f", os.path.join(directory, zone + ".zone"), src,
                    os.path.join(directory, key)], cwd=directory, check=True, capture_output=True)
    signed = os.path.join(directory, zone + ".zone")
    with open(signed) as f:
        lines = f.read().splitlines()
    if break_type is not None:
        for i, line in enumerate(lines):
            fields = line.split()
            if "RRSIG" in fields and fields[fields.index("RRSIG") + 1] == break_type:
                sig = fields[-1]
                # Flip one base64 digit in the middle of the signature.
                mid = len(sig) // 2
                fields[-1] = sig[:mid] + ("A" if sig[mid] != "A" else "B") + sig[mid + 1:]
                lines[i] = "\t".join(fields)
                break
        else:
            raise AssertionError("no RRSIG over %s in %s" % (break_type, signed))
    with open(signed, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(directory, key + ".key")) as f:
        anchor = f.read()
    return signed, anchor


def deliver_tool():
    """The built examples/deliver (test_mta_sts.py uses it too)."""
    path = example_path("deliver")
    if not os.access(path, os.X_OK):
        raise AssertionError("examples/deliver not built at %s" % path)
    return path


def run_deliver(testcase, cmd, msg):
    """Runs deliver for one recipient: (result, TLS outcome lines, stderr,
    exit code); result has class, code, enhanced, tls and text."""
    p = subprocess.run(cmd, input=msg, capture_output=True, timeout=60,
                       env=dict(os.environ, DELIVER_DEBUG="1"))
    out, err = p.stdout.decode(), p.stderr.decode()
    testcase.assertEqual(len(out.splitlines()), 1, (out, err))
    f = out.split(" ", 7)
    outcomes = re.findall(r"^tls-outcome: (.*)$", err, re.M)
    return ({"class": f[1], "code": int(f[2]), "enhanced": f[3], "tls": f[5] == "TLS=yes",
             "text": f[7]}, outcomes, err, p.returncode)


class DaneTest(MtaTestCase):
    @classmethod
    def setUpClass(cls):
        cls.deliver_bin = deliver_tool()
        if tool("dig") is None:
            raise unittest.SkipTest("dig not installed")

    def setUp(self):
        super().setUp()
        d = self.tmpdir()
        self.dir = d
        self.ca_pair = None
        # Certificates: a self-signed one (DANE-EE), a CA and a leaf it
        # signed for mx-ta (DANE-TA), and an unrelated key.
        ee = make_cert(d, "ee", ["mx-good.dane.test"], key_type="ec")
        other = make_cert(d, "other", ["mx-good.dane.test"], key_type="ec")
        ca = self.ca_pair = make_cert(d, "ca", ["Test DANE CA"], is_ca=True, key_type="ec")
        leaf = make_cert(d, "leaf", ["mx-ta.dane.test"], key_type="ec", ca=ca)
        chain = os.path.join(d, "chain.crt")
        with open(chain, "w") as out:
            for p in (leaf[0], ca[0]):
                with open(p) as f:
                    out.write(f.read())
        # The receiving servers.
        self.s_ee = self.aiosmtpd("--tls-cert", ee[0], "--tls-key", ee[1])
        self.s_ta = self.aiosmtpd("--tls-cert", chain, "--tls-key", leaf[1])
        self.s_plain = self.aiosmtpd()  # no STARTTLS
        e, t, p = self.s_ee.port, self.s_ta.port, self.s_plain.port
        good = "3 1 1 " + spki_sha256(ee[0])
        wrong = "3 1 1 " + spki_sha256(other[0])
        ta = "2 0 1 " + cert_sha256(ca[0])
        zone = "\n".join([
            "$ORIGIN dane.test.", "$TTL 300",
            "@ SOA ns.dane.test. h.dane.test. 1 3600 600 86400 300", "@ NS ns",
            "ns A 127.0.0.1",
            "good MX 10 mx-good", "mx-good A 127.0.0.1",
            "_%d._tcp.mx-good TLSA %s" % (e, good),
            # A PKIX-EE record beside the good one: unusable, ignored.
            "_%d._tcp.mx-good TLSA 1 1 1 %s" % (e, "00" * 32),
            "bad MX 10 mx-bad", "mx-bad A 127.0.0.1",
            "_%d._tcp.mx-bad TLSA %s" % (e, wrong),
            "ta MX 10 mx-ta", "mx-ta A 127.0.0.1",
            "_%d._tcp.mx-ta TLSA %s" % (t, ta),
            "tawrong MX 10 mx-tawrong", "mx-tawrong A 127.0.0.1",
            "_%d._tcp.mx-tawrong TLSA %s" % (t, ta),
            "notlsa MX 10 mx-notlsa", "mx-notlsa A 127.0.0.1",
            "nostarttls MX 10 mx-nostarttls", "mx-nostarttls A 127.0.0.1",
            "_%d._tcp.mx-nostarttls TLSA %s" % (p, good),
            "unusable MX 10 mx-unusable", "mx-unusable A 127.0.0.1",
            "_%d._tcp.mx-unusable TLSA 1 1 1 %s" % (p, "00" * 32),
            "_%d._tcp.mx-unusable TLSA 0 0 1 %s" % (p, "00" * 32),
            # Implicit MX: no MX record, the domain's own address.
            "implicit A 127.0.0.1",
            "_%d._tcp.implicit TLSA %s" % (e, good),
            # DANE and an MTA-STS policy naming the same host.
            "both MX 10 mx-good", '_mta-sts.both TXT "v=STSv1; id=1;"',
            "mta-sts.both A 127.0.0.1",
            # Two hosts: the first one's TLSA answer is bogus.
            "two MX 10 mx.bogus.test.", "two MX 20 mx-good",
            ""])
        with open(os.path.join(d, "dane.test.zone"), "w") as f:
            f.write(zone)
        bogus_zone = "\n".join([
            "$ORIGIN bogus.test.", "$TTL 300",
            "@ SOA ns.bogus.test. h.bogus.test. 1 3600 600 86400 300", "@ NS ns",
            "ns A 127.0.0.1",
            "@ MX 10 mx", "mx A 127.0.0.1",
            "_%d._tcp.mx TLSA %s" % (e, good), ""])
        _, bogus_anchor = presign(d, "bogus.test", bogus_zone, break_type="TLSA")
        with open(os.path.join(d, "plain.test.zone"), "w") as f:
            f.write("\n".join([
                "$ORIGIN plain.test.", "$TTL 300",
                "@ SOA ns.plain.test. h.plain.test. 1 3600 600 86400 300", "@ NS ns",
                "ns A 127.0.0.1", "@ MX 10 mx", "mx A 127.0.0.1",
                # Insecure: no DANE, whatever the record says.
                "_%d._tcp.mx TLSA %s" % (e, wrong), ""]))
        self.knot = Knot(d, signed=["dane.test"], presigned=["bogus.test"],
                         unsigned=["plain.test"])
        self.addCleanup(self.knot.stop)
        self.anchor = os.path.join(d, "anchors.key")
        with open(self.anchor, "w") as f:
            f.write(self.knot.anchors() + bogus_anchor)

    def deliver_cmd(self, rcpt, port, *extra):
        return [self.deliver_bin, "--from", "a@client.test", "--to", rcpt, "--port", str(port),
                "--dns-server", "127.0.0.1@%d" % self.knot.port, "--dns-trust-anchor",
                self.anchor, "--dane", "--timeout", "10000"] + list(extra)

    def deliver(self, rcpt, port, *extra):
        return run_deliver(self, self.deliver_cmd(rcpt, port, *extra), MSG)

    def assertDelivered(self, sink, r, err):
        self.assertEqual(r["class"], "sent", err)
        self.assertTrue(r["tls"], err)
        self.wait_messages(sink, 1)
        meta, data = sink.messages()[0]
        self.assertTrue(meta["tls"], "delivered in plaintext")
        self.assertEqual(data, MSG)

    def assertDeferred(self, r, rc, err, *sinks):
        self.assertEqual(r["class"], "deferred", err)
        self.assertEqual(rc, 75, err)
        for s in sinks or (self.s_ee, self.s_ta, self.s_plain):
            self.assertEqual(s.messages(), [], "something was delivered")

    # ---- the zone is what we think it is (dig, not our resolver) ----------

    def test_zone_signed(self):
        out = self.knot.dig("+dnssec", "_%d._tcp.mx-good.dane.test" % self.s_ee.port, "TLSA")
        self.assertIn("RRSIG", out)
        self.assertRegex(out, r"TLSA\s+3 1 1 ")

    # ---- DANE-EE -----------------------------------------------------------

    def test_matching_dane_ee_delivers(self):
        r, outcomes, err, rc = self.deliver("b@good.dane.test", self.s_ee.port)
        self.assertEqual(rc, 0, err)
        self.assertDelivered(self.s_ee, r, err)
        self.assertIn("(verified)", err)
        self.assertTrue(any(o.startswith("good.dane.test tlsa mx-good.dane.test 127.0.0.1 success")
                            for o in outcomes), outcomes)
        # The unusable PKIX-EE record is not among the records used.
        self.assertNotIn("tls-outcome-policy: 1 1 1", err)
        self.assertIn("tls-outcome-policy: 3 1 1 ", err)

    def test_mismatching_dane_ee_defers(self):
        r, outcomes, err, rc = self.deliver("b@bad.dane.test", self.s_ee.port)
        self.assertDeferred(r, rc, err)
        self.assertEqual(r["enhanced"], "4.7.5", err)
        self.assertTrue(any(" tlsa-invalid" in o for o in outcomes), outcomes)
        # Never again without TLS (the "may" fallback must not apply).
        self.assertNotIn("trying again without TLS", err)

    def test_implicit_mx_dane(self):
        r, outcomes, err, rc = self.deliver("b@implicit.dane.test", self.s_ee.port)
        self.assertEqual(rc, 0, err)
        self.assertDelivered(self.s_ee, r, err)
        self.assertTrue(any(o.startswith("implicit.dane.test tlsa ") for o in outcomes), outcomes)

    # ---- DANE-TA -----------------------------------------------------------

    def test_dane_ta_delivers(self):
        r, outcomes, err, rc = self.deliver("b@ta.dane.test", self.s_ta.port)
        self.assertEqual(rc, 0, err)
        self.assertDelivered(self.s_ta, r, err)

    def test_dane_ta_checks_the_name(self):
        # The chain is the trusted CA's, but the certificate names mx-ta,
        # not mx-tawrong: RFC 7672 3.2.2's reference identifier.
        r, outcomes, err, rc = self.deliver("b@tawrong.dane.test", self.s_ta.port)
        self.assertDeferred(r, rc, err)
        self.assertTrue(any("certificate-host-mismatch" in o for o in outcomes), outcomes)

    # ---- TLS is mandatory ----------------------------------------------------

    def test_no_starttls_defers(self):
        r, outcomes, err, rc = self.deliver("b@nostarttls.dane.test", self.s_plain.port)
        self.assertDeferred(r, rc, err)
        self.assertTrue(any("starttls-not-supported" in o for o in outcomes), outcomes)

    def test_only_unusable_records_still_need_tls(self):
        r, outcomes, err, rc = self.deliver("b@unusable.dane.test", self.s_plain.port)
        self.assertDeferred(r, rc, err)

    # ---- DNSSEC failures -----------------------------------------------------

    def test_bogus_tlsa_defers(self):
        # dig sees the broken signature's record; libunbound must refuse it.
        r, outcomes, err, rc = self.deliver("b@bogus.test", self.s_ee.port)
        self.assertDeferred(r, rc, err)
        self.assertTrue(any("dnssec-invalid" in o for o in outcomes), outcomes)
        self.assertIn("host not used", err)

    def test_bogus_host_skipped_for_next_mx(self):
        r, outcomes, err, rc = self.deliver("b@two.dane.test", self.s_ee.port)
        self.assertEqual(rc, 0, err)
        self.assertDelivered(self.s_ee, r, err)
        self.assertTrue(any(o.startswith("two.dane.test tlsa mx.bogus.test - dnssec-invalid")
                            for o in outcomes), outcomes)
        self.assertTrue(any(o.startswith("two.dane.test tlsa mx-good.dane.test 127.0.0.1 success")
                            for o in outcomes), outcomes)

    def test_wrong_trust_anchor_makes_everything_bogus(self):
        # An anchor for dane.test that is not its key: the MX answer
        # itself is bogus, a temporary failure, never plaintext.
        other = os.path.join(self.dir, "other")
        os.mkdir(other)
        with open(os.path.join(self.dir, "wrong.key"), "w") as f:
            f.write(presign(other, "dane.test", "$ORIGIN dane.test.\n$TTL 300\n"
                            "@ SOA ns h 1 3600 600 86400 300\n@ NS ns\nns A 127.0.0.1\n")[1])
        self.anchor = os.path.join(self.dir, "wrong.key")
        r, outcomes, err, rc = self.deliver("b@good.dane.test", self.s_ee.port)
        self.assertDeferred(r, rc, err)
        self.assertTrue(r["enhanced"].startswith("4."), r)

    # ---- DANE and MTA-STS -------------------------------------------------------

    def test_dane_wins_over_mta_sts(self):
        # RFC 8461 2: an enforce policy names mx-good, whose certificate
        # is self-signed (no PKIX); its TLSA record authenticates it.
        from test_mta_sts import PolicyServer, policy
        web = PolicyServer(*make_cert(self.dir, "web", ["mta-sts.both.dane.test"],
                                      key_type="ec", ca=self.ca_pair))
        self.addCleanup(web.stop)
        web.policies["mta-sts.both.dane.test"] = (200, "text/plain",
                                                  policy("enforce", "mx-good.dane.test"))
        sts = ["--mta-sts", "--mta-sts-port", str(web.port), "--ca", self.ca_pair[0]]
        r, outcomes, err, rc = self.deliver("b@both.dane.test", self.s_ee.port, *sts)
        self.assertEqual(rc, 0, err)
        self.assertDelivered(self.s_ee, r, err)
        self.assertEqual(web.fetches.get("mta-sts.both.dane.test"), 1)
        self.assertTrue(any(o.startswith("both.dane.test tlsa mx-good.dane.test 127.0.0.1 "
                                         "success") for o in outcomes), outcomes)
        # Without DANE the same policy needs PKIX, which fails.
        r, outcomes, err, rc = self.deliver_without_dane("b@both.dane.test", self.s_ee.port, *sts)
        self.assertEqual(r["class"], "deferred", err)
        self.assertTrue(any(o.startswith("both.dane.test sts mx-good.dane.test 127.0.0.1 "
                                         "certificate-not-trusted") for o in outcomes), outcomes)
        self.assertEqual(len(self.s_ee.messages()), 1)

    # ---- ternd -----------------------------------------------------------------

    def ternd(self, *args):
        return self.start_ternd("--domain", "local.test", "--relay-from", "127.0.0.1",
                                "--dns-server", "127.0.0.1@%d" % self.knot.port,
                                "--dns-trust-anchor", self.anchor, *args)

    def relay(self, t, rcpt):
        with smtplib.SMTP("127.0.0.1", t.port, timeout=30) as s:
            s.sendmail("a@local.test", [rcpt], MSG)

    def test_ternd_dane(self):
        t = self.ternd("--smtp-port", str(self.s_ee.port))
        self.relay(t, "x@good.dane.test")
        self.wait_messages(self.s_ee, 1)
        self.assertTrue(self.s_ee.messages()[0][0]["tls"])
        self.relay(t, "y@bad.dane.test")
        self.wait_log(t, r"tls-rpt: domain=bad\.dane\.test policy=tlsa mx=mx-bad\.dane\.test "
                      r"ip=127\.0\.0\.1 result=tlsa-invalid")
        self.wait_log(t, r"to=<y@bad\.dane\.test>, .*status=deferred")
        self.assertEqual(len(self.s_ee.messages()), 1)

    def test_ternd_dane_off(self):
        t = self.ternd("--smtp-port", str(self.s_ee.port), "--dane", "no")
        self.relay(t, "y@bad.dane.test")
        self.wait_messages(self.s_ee, 1)

    # ---- not DANE ------------------------------------------------------------

    def test_secure_no_tlsa_is_opportunistic(self):
        r, outcomes, err, rc = self.deliver("b@notlsa.dane.test", self.s_ee.port)
        self.assertEqual(rc, 0, err)
        self.assertDelivered(self.s_ee, r, err)
        self.assertIn("not verified", err)  # a self-signed certificate, accepted
        self.assertTrue(any(o.startswith("notlsa.dane.test no-policy-found ") for o in outcomes),
                        outcomes)

    def test_insecure_zone_ignores_tlsa(self):
        r, outcomes, err, rc = self.deliver("b@plain.test", self.s_ee.port)
        self.assertEqual(rc, 0, err)
        self.assertDelivered(self.s_ee, r, err)
        self.assertTrue(any(o.startswith("plain.test no-policy-found ") for o in outcomes),
                        outcomes)

    def test_dane_off_is_opportunistic(self):
        # Without --dane the mismatching record means nothing.
        r, outcomes, err, rc = self.deliver_without_dane("b@bad.dane.test", self.s_ee.port)
        self.assertEqual(rc, 0, err)
        self.assertEqual(r["class"], "sent", err)

    def deliver_without_dane(self, rcpt, port, *extra):
        cmd = [a for a in self.deliver_cmd(rcpt, port, *extra) if a != "--dane"]
        return run_deliver(self, cmd, MSG)


if __name__ == "__main__":
    unittest.main()
