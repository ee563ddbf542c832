"""Postfix's XCLIENT and XFORWARD against ternd: swaks's --xclient-* options
from a trusted network (--xclient-from 127.0.0.1), the Received: header and
the log naming the new client; an untrusted run getting 550 5.7.0; XFORWARD
from a raw client (--xforward-from), its Received: header, and its reset at
the end of the transaction."""

import subprocess

from ternlib import TerndTestCase, tool

CMD_TIMEOUT = 60
BODY = b"Subject: xforward\r\n\r\nhello\r\n"


class XclientTest(TerndTestCase):
    def swaks(self, t, *args, ok=True):
        path = tool("swaks")
        if path is None:
            self.skipTest("swaks not installed (scripts/install-deps.sh installs it)")
        p = subprocess.run([path, "--server", "127.0.0.1:%d" % t.port, "--helo", "swaks.example",
                            "--timeout", "10", "--to", "you@localhost", "--from",
                            "me@example.com"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=CMD_TIMEOUT)
        out = p.stdout.decode(errors="replace")
        if ok:
            self.assertEqual(p.returncode, 0, "swaks exited %d:\n%s" % (p.returncode, out[-3000:]))
        return p.returncode, out

    def stored(self, t, address="you@localhost", count=1):
        return [added + body for added, body in t.read(address, count)]

    def test_swaks_xclient(self):
        t = self.start_ternd("--xclient-from", "127.0.0.1")
        _, out = self.swaks(t, "--xclient-addr", "198.51.100.7", "--xclient-name", "mail.example",
                            "--xclient-helo", "relay.example", "--xclient-login", "jane")
        self.assertIn("XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT", out)
        # "220 success": the session starts over with a new greeting.
        self.assertRegex(out, r"XCLIENT [^\n]*\n<-  220 tern\.test ESMTP")
        self.assertIn("Hello mail.example", out)
        msg = self.stored(t)[0]
        # swaks greets again after the 220, and that EHLO replaces the
        # XCLIENT HELO (as in Postfix); the client is the one XCLIENT named,
        # authenticated by LOGIN (ESMTPA).
        self.assertIn(b"Received: from swaks.example (mail.example [198.51.100.7])\r\n"
                      b"\tby tern.test (Tern) with ESMTPA id ", msg)
        log = t.log_text(20000)
        self.assertIn("xclient: client mail.example[198.51.100.7]", log)
        self.assertIn("(was 127.0.0.1:", log)
        self.assertIn("authenticated as jane (XCLIENT)", log)

    def test_swaks_xclient_addr_only(self):
        t = self.start_ternd("--xclient-from", "127.0.0.0/8,::1")
        self.swaks(t, "--xclient-addr", "203.0.113.5")
        msg = self.stored(t)[0]
        self.assertIn(b"Received: from swaks.example ([203.0.113.5])\r\n"
                      b"\tby tern.test (Tern) with ESMTP id ", msg)
        self.assertIn("xclient: client [203.0.113.5][203.0.113.5]", t.log_text(20000))

    def test_swaks_untrusted(self):
        t = self.start_ternd("--xclient-from", "10.0.0.0/8")
        # The keyword is not offered; swaks then needs --xclient-optional
        # to try anyway, and is refused.
        rc, out = self.swaks(t, "--xclient-addr", "198.51.100.7", "--xclient-name",
                             "mail.example", ok=False)
        self.assertNotIn("250 XCLIENT", out)
        self.assertNotIn("250-XCLIENT", out)
        self.assertNotEqual(rc, 0, out)
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "XCLIENT ADDR=198.51.100.7", 550, "5.7.0")
        c.expect(self, "XFORWARD NAME=a.example", 502, "5.5.1")
        c.expect(self, "MAIL FROM:<me@example.com>", 250)
        self.assertNotIn("xclient: client", t.log_text(20000))

    def test_xclient_syntax(self):
        t = self.start_ternd("--xclient-from", "127.0.0.1")
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "XCLIENT ADDR=1.2.3", 501, "5.5.4")
        c.expect(self, "XCLIENT FOO=bar", 501, "5.5.4")
        c.expect(self, "XCLIENT NAME=ok.example PORT=99999", 501, "5.5.4")
        c.expect(self, "MAIL FROM:<me@example.com>", 250)
        c.expect(self, "XCLIENT ADDR=198.51.100.7", 503, "5.5.1")
        c.expect(self, "RSET", 250)
        c.expect(self, "XCLIENT ADDR=IPV6:2001:db8::7 PORT=4242", 220)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<me@example.com>", 250)
        c.expect(self, "RCPT TO:<you@localhost>", 250)
        c.expect(self, "DATA", 354)
        c.send(BODY + b".\r\n")
        c.expect(self, None, 250, "2.6.0")
        msg = self.stored(t)[0]
        self.assertIn(b"Received: from client.example ([IPv6:2001:db8::7])", msg)

    def test_xforward(self):
        t = self.start_ternd("--xforward-from", "127.0.0.1")
        c = self.client(t)
        r = c.expect(self, "EHLO client.example", 250)
        self.assertIn(b"XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE", b"\n".join(r.lines))
        # No --xclient-from: XCLIENT is not served at all (502).
        c.expect(self, "XCLIENT ADDR=198.51.100.7", 502, "5.5.1")
        c.expect(self, "XFORWARD NAME=up.example ADDR=203.0.113.9 PORT=2525", 250, "2.0.0")
        c.expect(self, "XFORWARD PROTO=ESMTP HELO=up-helo.example IDENT=4Xyz12AB SOURCE=REMOTE",
                 250, "2.0.0")
        c.expect(self, "XFORWARD PORT=x", 501, "5.5.4")
        for _ in range(2):
            c.expect(self, "MAIL FROM:<me@example.com>", 250)
            c.expect(self, "RCPT TO:<you@localhost>", 250)
            c.expect(self, "DATA", 354)
            c.send(BODY + b".\r\n")
            c.expect(self, None, 250, "2.6.0")
        first, second = sorted(self.stored(t, count=2), key=lambda m: b"-1\r\n" not in m)
        self.assertIn(b"Received: from up-helo.example (up.example [203.0.113.9])\r\n"
                      b"\tby tern.test (Tern) with ESMTP id ", first)
        # The attributes last one transaction (Postfix).
        self.assertIn(b"Received: from client.example ([127.0.0.1])\r\n", second)
        log = t.log_text(20000)
        self.assertIn("xforward: orig_client=up.example[203.0.113.9]", log)
        self.assertIn("orig_queue_id=4Xyz12AB", log)
