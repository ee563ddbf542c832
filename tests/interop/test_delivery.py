"""Outbound delivery (libtern's tern_delivery, driven by examples/deliver)
to servers nobody here wrote: aiosmtpd, Node's smtp-server and Postfix's
smtp-sink, with MX records from a real DNS server on loopback
(dns_server.py): preference order and the next MX, implicit MX, null MX,
NXDOMAIN, an MX pointing nowhere, SERVFAIL; per-recipient results, 4xx and
5xx, 421, a refused connection, a timeout in DATA; STARTTLS opportunistic
and verified, REQUIRETLS, SMTPUTF8 and IDN domains, DSN parameters; and
connections reused under a per-destination limit."""

import os
import subprocess
import unittest

from mtalib import MtaTestCase
from ternlib import example_path, free_port, make_cert
from test_dns import have_dnslib, have_ipv6_loopback

MSG = (b"From: a@client.test\r\nTo: b@dest.test\r\nSubject: delivery\r\n\r\n"
       b"Hello.\r\n.A line that starts with a dot.\r\n..and two.\r\nBye.\r\n")


class DeliveryTest(MtaTestCase):
    @classmethod
    def setUpClass(cls):
        cls.deliver_bin = example_path("deliver")
        if not os.access(cls.deliver_bin, os.X_OK):
            raise AssertionError("examples/deliver not built at %s" % cls.deliver_bin)
        if not have_dnslib():
            raise AssertionError("python3-dnslib is needed (scripts/install-deps.sh)")

    def deliver(self, *args, msg=MSG, rcpts=("b@dest.test",), relay=None, port=None, dns=None,
                sender="a@client.test"):
        """Runs deliver: ({rcpt: result dict}, exit code, stderr)."""
        cmd = [self.deliver_bin, "--from", sender]
        for r in rcpts:
            cmd += ["--to", r]
        if relay is not None:
            cmd += ["--relayhost", relay]
        if port is not None:
            cmd += ["--port", str(port)]
        if dns is not None:
            cmd += ["--dns-server", "127.0.0.1@%d" % dns.port]
        cmd += list(args)
        p = subprocess.run(cmd, input=msg, capture_output=True, timeout=120)
        results = {}
        for line in p.stdout.decode("utf-8", "replace").splitlines():
            rcpt, cls, code, enh, relay_, tls, dsn, text = line.split(" ", 7)
            results.setdefault(rcpt, []).append(
                {"class": cls, "code": int(code), "enhanced": enh, "relay": relay_,
                 "tls": tls == "TLS=yes", "relayed": dsn == "DSN=relayed", "text": text})
        return results, p.returncode, p.stderr.decode("utf-8", "replace")

    def one(self, results, rcpt="b@dest.test"):
        self.assertIn(rcpt, results)
        return results[rcpt][0]

    # ---- a relay host -----------------------------------------------------

    def test_relay_to_aiosmtpd(self):
        s = self.aiosmtpd()
        res, rc, err = self.deliver(relay="[127.0.0.1]:%d" % s.port,
                                    rcpts=("b@dest.test", "c@other.test"))
        self.assertEqual(rc, 0, (res, err))
        for r in ("b@dest.test", "c@other.test"):
            self.assertEqual(self.one(res, r)["class"], "sent")
            self.assertEqual(self.one(res, r)["code"], 250)
            self.assertEqual(self.one(res, r)["relay"], "127.0.0.1[127.0.0.1]:%d" % s.port)
        msgs = s.messages()
        self.assertEqual(len(msgs), 1, "one transaction for both recipients")
        meta, data = msgs[0]
        self.assertEqual(meta["mail_from"], "a@client.test")
        self.assertEqual(meta["rcpt_tos"], ["b@dest.test", "c@other.test"])
        self.assertEqual(meta["helo"], "client.test")
        self.assertEqual(data, MSG, "dot-stuffing undone exactly")

    def test_per_recipient_results(self):
        s = self.aiosmtpd("--reject-rcpt", "gone@dest.test", "--defer-rcpt", "busy@dest.test")
        res, rc, err = self.deliver(relay="[127.0.0.1]:%d" % s.port,
                                    rcpts=("b@dest.test", "gone@dest.test", "busy@dest.test"))
        self.assertEqual(rc, 69, (res, err))
        self.assertEqual(self.one(res)["class"], "sent")
        gone = self.one(res, "gone@dest.test")
        self.assertEqual((gone["class"], gone["code"], gone["enhanced"]),
                         ("bounced", 550, "5.1.1"))
        busy = self.one(res, "busy@dest.test")
        self.assertEqual((busy["class"], busy["code"], busy["enhanced"]),
                         ("deferred", 450, "4.2.1"))
        self.assertEqual([m["rcpt_tos"] for m, _ in s.messages()], [["b@dest.test"]])

    def test_connection_refused(self):
        res, rc, _ = self.deliver(relay="[127.0.0.1]:%d" % free_port())
        r = self.one(res)
        self.assertEqual(rc, 75)
        self.assertEqual((r["class"], r["enhanced"]), ("deferred", "4.4.1"))
        self.assertIn("refused", r["text"])

    def test_ipv6(self):
        if not have_ipv6_loopback():
            self.skipTest("no IPv6 loopback here")
        s = self.aiosmtpd("--host", "::1")
        res, rc, err = self.deliver(relay="[::1]:%d" % s.port)
        self.assertEqual(rc, 0, (res, err))
        self.assertEqual(self.one(res)["relay"], "::1[::1]:%d" % s.port)
        # An MX host with only an AAAA record.
        dns = self.dns("v6.test. 300 IN MX 10 mx.v6.test.\nmx.v6.test. 300 IN AAAA ::1\n")
        res, rc, err = self.deliver(rcpts=("b@v6.test",), port=s.port, dns=dns)
        self.assertEqual(rc, 0, (res, err))
        self.assertEqual(self.one(res, "b@v6.test")["relay"], "mx.v6.test[::1]:%d" % s.port)

    def test_reuse_under_a_limit(self):
        s = self.aiosmtpd()
        res, rc, err = self.deliver("--repeat", "6", "--max-per-dest", "2",
                                    relay="[127.0.0.1]:%d" % s.port)
        self.assertEqual(rc, 0, err)
        self.assertEqual([r["class"] for r in res["b@dest.test"]], ["sent"] * 6)
        self.assertEqual(len(s.messages()), 6)
        self.assertLessEqual(s.sessions(), 2, "at most two connections, reused")

    # ---- MX ----------------------------------------------------------------

    ZONE = """
mx.test.        300 IN MX 10 mx1.mx.test.
mx.test.        300 IN MX 20 mx2.mx.test.
mx1.mx.test.    300 IN A 127.0.0.2
mx2.mx.test.    300 IN A 127.0.0.1
plain.test.     300 IN A 127.0.0.1
nomail.test.    300 IN MX 0 .
nowhere.test.   300 IN MX 10 ghost.nowhere.test.
one.test.       300 IN MX 10 mx2.mx.test.
two.test.       300 IN MX 10 mx2.mx.test.
xn--bcher-kva.test. 300 IN MX 10 mx2.mx.test.
"""

    def test_mx_next_host(self):
        s = self.aiosmtpd()  # on 127.0.0.1 only: mx1 (127.0.0.2) refuses
        dns = self.dns(self.ZONE)
        res, rc, err = self.deliver(rcpts=("b@mx.test",), port=s.port, dns=dns)
        self.assertEqual(rc, 0, (res, err))
        r = self.one(res, "b@mx.test")
        self.assertEqual(r["relay"], "mx2.mx.test[127.0.0.1]:%d" % s.port)
        self.assertIn(["mx.test", "MX"], dns.queries())
        self.assertIn(["mx1.mx.test", "A"], dns.queries(), "the better MX was tried first")
        self.assertEqual(len(s.messages()), 1)

    def test_implicit_mx(self):
        s = self.aiosmtpd()
        dns = self.dns(self.ZONE)
        res, rc, err = self.deliver(rcpts=("b@plain.test",), port=s.port, dns=dns)
        self.assertEqual(rc, 0, (res, err))
        self.assertEqual(self.one(res, "b@plain.test")["relay"],
                         "plain.test[127.0.0.1]:%d" % s.port)

    def test_two_domains(self):
        s = self.aiosmtpd()
        dns = self.dns(self.ZONE)
        res, rc, err = self.deliver(rcpts=("a@one.test", "b@two.test"), port=s.port, dns=dns)
        self.assertEqual(rc, 0, (res, err))
        self.assertEqual(sorted(m["rcpt_tos"][0] for m, _ in s.messages()),
                         ["a@one.test", "b@two.test"])

    def test_dns_failures(self):
        dns = self.dns(self.ZONE, servfail=("flaky.test",))
        cases = [("b@nomail.test", "bounced", 556, "5.1.10"),
                 ("b@no-such-domain.test", "bounced", 550, "5.1.2"),
                 ("b@nowhere.test", "bounced", 550, "5.4.4"),
                 ("b@flaky.test", "deferred", 451, "4.4.3")]
        res, rc, err = self.deliver(rcpts=[c[0] for c in cases], port=free_port(), dns=dns)
        self.assertEqual(rc, 69, err)
        for rcpt, cls, code, enh in cases:
            r = self.one(res, rcpt)
            self.assertEqual((r["class"], r["code"], r["enhanced"]), (cls, code, enh), r)

    # ---- Postfix's smtp-sink: failures on cue ------------------------------

    def test_smtp_sink_failures(self):
        for args, cls, code in ((["-r", "RCPT"], "deferred", 450),
                                (["-f", "RCPT"], "bounced", 500),
                                (["-Q", "MAIL"], "deferred", 421),
                                ([], "sent", 250)):
            port = self.smtp_sink(*args)
            res, _, err = self.deliver(relay="[127.0.0.1]:%d" % port)
            r = self.one(res)
            self.assertEqual((r["class"], r["code"]), (cls, code), (args, r, err))

    def test_timeout_in_data(self):
        port = self.smtp_sink("-w", "30")  # 30 s before answering DATA
        res, rc, _ = self.deliver("--timeout", "1500", relay="[127.0.0.1]:%d" % port)
        r = self.one(res)
        self.assertEqual(rc, 75)
        self.assertEqual((r["class"], r["enhanced"]), ("deferred", "4.4.2"), r)

    # ---- TLS ---------------------------------------------------------------

    def test_starttls(self):
        d = self.tmpdir()
        cert, key = make_cert(d, "sink", ["127.0.0.1"])
        s = self.aiosmtpd("--tls-cert", cert, "--tls-key", key)
        relay = "[127.0.0.1]:%d" % s.port
        # Opportunistic: encrypted, the certificate unchecked.
        res, rc, err = self.deliver(relay=relay)
        self.assertEqual(rc, 0, err)
        self.assertTrue(self.one(res)["tls"])
        self.assertTrue(s.messages()[-1][0]["tls"])
        # Verified against the right CA: sent; against none: deferred.
        res, rc, err = self.deliver("--tls", "verify", "--ca", cert, relay=relay)
        self.assertEqual(rc, 0, err)
        res, rc, err = self.deliver("--tls", "verify", relay=relay)
        r = self.one(res)
        self.assertEqual((rc, r["class"], r["enhanced"]), (75, "deferred", "4.7.5"), r)
        # REQUIRETLS (RFC 8689): only over verified TLS to a server that
        # offers REQUIRETLS, which aiosmtpd does not.
        res, rc, err = self.deliver("--requiretls", "--ca", cert, relay=relay)
        self.assertNotEqual(self.one(res)["class"], "sent", res)

    def test_requiretls_without_tls(self):
        s = self.aiosmtpd()
        res, rc, _ = self.deliver("--requiretls", relay="[127.0.0.1]:%d" % s.port)
        self.assertNotEqual(self.one(res)["class"], "sent")
        self.assertEqual(s.messages(), [])

    def test_tls_required_but_not_offered(self):
        s = self.aiosmtpd()
        res, rc, _ = self.deliver("--tls", "encrypt", relay="[127.0.0.1]:%d" % s.port)
        r = self.one(res)
        self.assertEqual((r["class"], r["enhanced"]), ("deferred", "4.7.5"), r)
        self.assertEqual(s.messages(), [])

    # ---- Node's smtp-server: SMTPUTF8, IDN, DSN ----------------------------

    def test_node_smtputf8(self):
        plain = self.node(hideSMTPUTF8=True)
        # A UTF-8 local part cannot go to a server without SMTPUTF8.
        res, rc, _ = self.deliver("--smtputf8", relay="[127.0.0.1]:%d" % plain.port,
                                  rcpts=("δοκιμή@dest.test",))
        r = self.one(res, "δοκιμή@dest.test")
        self.assertEqual((r["class"], r["code"], r["enhanced"]), ("bounced", 553, "5.6.7"), r)
        self.assertEqual(plain.messages(), [])
        # With SMTPUTF8 the address goes as it is.
        utf8 = self.node()
        res, rc, err = self.deliver("--smtputf8", relay="[127.0.0.1]:%d" % utf8.port,
                                    rcpts=("δοκιμή@dest.test",))
        self.assertEqual(rc, 0, (res, err))
        self.assertEqual(utf8.messages()[-1][0]["rcpt_tos"], ["δοκιμή@dest.test"])

    def test_idn_domain_as_a_label(self):
        # An ASCII local part in an IDN domain goes to a server without
        # SMTPUTF8 as an A-label (aiosmtpd keeps what it got; Node's
        # smtp-server would turn it back into Unicode).
        s = self.aiosmtpd("--no-smtputf8")
        res, rc, err = self.deliver("--smtputf8", relay="[127.0.0.1]:%d" % s.port,
                                    rcpts=("user@bücher.test",))
        self.assertEqual(rc, 0, (res, err))
        self.assertEqual(s.messages()[-1][0]["rcpt_tos"], ["user@xn--bcher-kva.test"])

    def test_node_without_8bitmime(self):
        # An 8-bit body for a server without 8BITMIME: not sent as it is
        # (RFC 6152); ternd does not rewrite MIME, so it bounces.
        s = self.node(hide8BITMIME=True)
        body = "Subject: caf\u00e9\r\n\r\nd\u00e9j\u00e0 vu\r\n".encode()
        res, rc, _ = self.deliver("--body", "8bitmime", msg=body,
                                  relay="[127.0.0.1]:%d" % s.port)
        r = self.one(res)
        self.assertEqual((r["class"], r["code"], r["enhanced"]), ("bounced", 554, "5.6.3"), r)
        self.assertEqual(s.messages(), [])
        # With 8BITMIME it goes, as it came.
        ok = self.node()
        res, rc, err = self.deliver("--body", "8bitmime", msg=body,
                                    relay="[127.0.0.1]:%d" % ok.port)
        self.assertEqual(rc, 0, (res, err))
        self.assertEqual(ok.messages()[-1][1], body)
        self.assertEqual(ok.messages()[-1][0]["mail_args"].get("BODY"), "8BITMIME")

    def test_node_dsn_parameters(self):
        # smtp-server hides DSN by default: NOTIFY=SUCCESS is dropped and a
        # "relayed" DSN becomes due.
        hidden = self.node()
        res, rc, err = self.deliver("--notify-success", "--envid", "QX1",
                                    relay="[127.0.0.1]:%d" % hidden.port)
        self.assertEqual(rc, 0, (res, err))
        self.assertTrue(self.one(res)["relayed"], res)
        self.assertEqual(hidden.messages()[-1][0]["mail_args"], {})
        # With DSN on, the parameters go through and nothing is due.
        s = self.node(hideDSN=False)
        res, rc, err = self.deliver("--notify-success", "--envid", "QX1", "--ret", "hdrs",
                                    relay="[127.0.0.1]:%d" % s.port)
        self.assertEqual(rc, 0, (res, err))
        self.assertFalse(self.one(res)["relayed"], res)
        meta = s.messages()[-1][0]
        self.assertEqual(meta["mail_args"].get("ENVID"), "QX1", meta)
        self.assertEqual(meta["mail_args"].get("RET"), "HDRS", meta)
        self.assertIn("SUCCESS", meta["rcpt_args"][0].get("NOTIFY", ""), meta)

    def test_idn_mx_lookup(self):
        s = self.aiosmtpd()
        dns = self.dns(self.ZONE)
        res, rc, err = self.deliver("--smtputf8", rcpts=("user@bücher.test",), port=s.port,
                                    dns=dns)
        self.assertEqual(rc, 0, (res, err))
        self.assertIn(["xn--bcher-kva.test", "MX"], dns.queries())


if __name__ == "__main__":
    unittest.main()
