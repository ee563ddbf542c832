"""Bad input over the wire: raw transcripts for the hygiene rules. Each
asserts the reply code and enhanced code, that nothing was stored, and that
the session is still usable (NOOP -> 250) where it should be."""

import socket
import time

from ternlib import RawClient, TerndTestCase


class BadInputTest(TerndTestCase):
    def session(self, *args, **kw):
        self.t = self.start_ternd(*args, **kw)
        c = self.client(self.t)
        self.assertEqual(c.greeting.code, 220, c.dump())
        return c

    def usable(self, c):
        c.expect(self, "NOOP", 250)

    def test_unknown_command(self):
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        r = c.cmd("FROBNICATE now")
        self.assertEqual(r.code, 500, c.dump())
        self.assertIn(r.enhanced, ("5.5.1", "5.5.2"), c.dump())
        self.usable(c)
        c.expect(self, "QUIT", 221)
        self.assertNothingStored(self.t)

    def test_unimplemented_command(self):
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "EXPN staff", 502, "5.5.1")
        c.expect(self, "VRFY someone", 252, "2.1.5")
        r = c.expect(self, "HELP", 214)
        self.usable(c)

    def test_rcpt_before_mail(self):
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 503, "5.5.1")
        self.usable(c)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.expect(self, "RSET", 250)
        c.expect(self, "QUIT", 221)
        self.assertNothingStored(self.t)

    def test_data_without_rcpt(self):
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        r = c.cmd("DATA")
        self.assertIn(r.code, (503, 554), c.dump())
        self.usable(c)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        r = c.cmd("DATA")
        self.assertIn(r.code, (503, 554), c.dump())
        self.usable(c)
        self.assertNothingStored(self.t)

    def test_mail_before_helo_and_nested_mail(self):
        c = self.session()
        r = c.cmd("MAIL FROM:<a@example.com>")
        self.assertEqual(r.code, 503, c.dump())
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 503, "5.5.1")
        self.usable(c)

    def test_bad_parameters(self):
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com> FOO=bar", 555, "5.5.4")
        r = c.cmd("MAIL FROM:<a@exa\x01mple.com>")
        self.assertEqual(r.code, 501, c.dump())
        c.expect(self, "MAIL FROM:<a@example.com> SIZE=99999999999", 552, "5.3.4")
        r = c.cmd("MAIL FROM:a@example.com")  # no angle brackets
        self.assertEqual(r.code // 100, 5, c.dump())
        self.usable(c)
        c.expect(self, "MAIL FROM:<a@example.com> BODY=8BITMIME", 250)
        c.expect(self, "RCPT TO:<b@example.com> NOTIFY=BOGUS", 501)
        c.expect(self, "RCPT TO:<b@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Bx@example.com", 250)
        self.usable(c)

    def test_control_character_in_helo(self):
        c = self.session()
        r = c.cmd(b"EHLO bad\x07name")
        self.assertEqual(r.code, 501, c.dump())
        c.expect(self, "EHLO good.example", 250)
        self.usable(c)

    def test_line_too_long(self):
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        c.send(b"NOOP " + b"x" * 10000 + b"\r\n")
        r = c.reply()
        self.assertIsNotNone(r, c.dump())
        self.assertEqual((r.code, r.enhanced), (500, "5.5.2"), c.dump())
        self.usable(c)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "QUIT", 221)
        self.assertNothingStored(self.t)

    def test_line_length_boundary(self):
        # --max-line-length counts the CRLF (RFC 5321 4.5.3.1.4: 512 octets).
        c = self.session("--max-line-length", "512")
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "NOOP " + "x" * (512 - 7), 250)       # exactly 512 with CRLF
        c.send(b"NOOP " + b"x" * (513 - 7) + b"\r\n")        # 513
        r = c.reply()
        self.assertIsNotNone(r, c.dump())
        self.assertEqual((r.code, r.enhanced), (500, "5.5.2"), c.dump())
        self.usable(c)

    def test_data_line_length_boundary(self):
        # RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with CRLF.
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        ok = b"Subject: b\r\n\r\n" + b"a" * 998 + b"\r\n"
        for body, code in ((ok, 250), (b"Subject: b\r\n\r\n" + b"a" * 999 + b"\r\n", 554)):
            c.expect(self, "MAIL FROM:<a@example.com>", 250)
            c.expect(self, "RCPT TO:<b@example.com>", 250)
            c.expect(self, "DATA", 354)
            c.send(body + b".\r\n")
            r = c.reply()
            self.assertIsNotNone(r, c.dump())
            self.assertEqual(r.code // 100, code // 100, c.dump())
        self.usable(c)
        self.assertStored(self.t, "b@example.com", ok)

    def test_too_many_bad_commands(self):
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        replies = []
        for i in range(12):
            try:
                r = c.cmd("BOGUS%d" % i)
            except (BrokenPipeError, ConnectionResetError):
                break
            if r is None:
                break
            replies.append(r)
            if r.code == 421:
                break
        self.assertTrue(replies and replies[-1].code == 421, c.dump())
        self.assertEqual(replies[-1].enhanced, "4.7.0", c.dump())
        # default limit 10: at most 10 bad commands are answered with 500
        self.assertLessEqual(len(replies), 11, c.dump())
        self.assertGreaterEqual(len(replies), 10, c.dump())
        self.assertTrue(c.closed(), "connection still open after 421\n" + c.dump())

    def test_http_request(self):
        c = self.session()
        c.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        r = c.reply()
        self.assertIsNotNone(r, c.dump())
        self.assertEqual(r.code, 421, c.dump())
        self.assertTrue(c.closed(), "connection still open after 421\n" + c.dump())

    def test_http_post_after_ehlo(self):
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        c.send(b"POST /submit HTTP/1.0\r\n\r\n")
        r = c.reply()
        self.assertIsNotNone(r, c.dump())
        self.assertEqual(r.code, 421, c.dump())
        self.assertTrue(c.closed(), "connection still open after 421\n" + c.dump())

    def test_early_talker(self):
        # Bytes before the greeting (RFC 5321 4.3.1: the client waits for
        # it): 554 and close, nothing run. --greeting-delay opens the window.
        t = self.start_ternd("--greeting-delay", "1000")
        c = self.client(t, read_greeting=False)
        c.send(b"EHLO early.example\r\nMAIL FROM:<a@example.com>\r\n")
        r = c.reply()
        self.assertIsNotNone(r, c.dump())
        self.assertEqual(r.code, 554, c.dump())
        self.assertTrue(c.closed(), c.dump())
        self.assertNothingStored(t)

    def test_greeting_delay_patient_client(self):
        # The same delay does not hurt a client that waits for the 220.
        t = self.start_ternd("--greeting-delay", "300")
        c = self.client(t)
        self.assertEqual(c.greeting.code, 220, c.dump())
        c.expect(self, "EHLO patient.example", 250)
        c.expect(self, "NOOP", 250)

    def test_bare_lf_in_data_is_normalised(self):
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.expect(self, "DATA", 354)
        c.send(b"Subject: bare\r\n\r\nline one\nline two\rline three\r\n.\r\n")
        c.expect(self, None, 250)
        self.usable(c)
        c.expect(self, "QUIT", 221)
        body = self.t.read_one("b@example.com")
        self.assertTrue(body.startswith(b"Subject: bare\r\n\r\nline one\r\nline two"), body)
        self.assertNotIn(b"\n", body.replace(b"\r\n", b""), body)

    def test_data_line_too_long(self):
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.expect(self, "DATA", 354)
        c.send(b"Subject: long\r\n\r\n" + b"x" * 5000 + b"\r\nend\r\n.\r\n")
        r = c.reply()
        self.assertIsNotNone(r, c.dump())
        self.assertEqual(r.code // 100, 5, c.dump())
        self.usable(c)
        c.expect(self, "QUIT", 221)
        self.assertNothingStored(self.t)

    def test_smuggling(self):
        # SMTP smuggling (CVE-2023-51764 family): a lone LF or CR before or
        # after the dot must not end DATA, and nothing after it may be run as
        # a command. Each variant is one message; every one gets exactly one
        # reply, and the smuggled recipient never receives anything.
        variants = [b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\n.\n", b"\r\n.\r", b"\r.\r"]
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        for v in variants:
            c.expect(self, "MAIL FROM:<a@example.com>", 250)
            c.expect(self, "RCPT TO:<b@example.com>", 250)
            c.expect(self, "DATA", 354)
            c.send(b"Subject: smuggle " + repr(v).encode() + b"\r\n\r\nhello" + v
                   + b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\n"
                   + b"DATA\r\nsmuggled\r\n.\r\n")
            r = c.reply()
            self.assertIsNotNone(r, c.dump())
            self.assertIn(r.code, (250, 550), "variant %r\n%s" % (v, c.dump()))
            extra = c.pending(0.5)
            self.assertEqual(extra, b"", "smuggled command answered, variant %r\n%s"
                             % (v, c.dump()))
            self.usable(c)
        c.expect(self, "QUIT", 221)
        self.assertEqual(self.t.files("victim@example.com"), [])
        for _, body in self.t.read("b@example.com", len(self.t.files("b@example.com"))):
            self.assertIn(b"MAIL FROM:<evil@example.com>", body)

    def test_idle_timeout(self):
        c = self.session("--idle-timeout", "1")
        start = time.monotonic()
        r = c.reply()
        self.assertIsNotNone(r, c.dump())
        self.assertEqual((r.code, r.enhanced), (421, "4.4.2"), c.dump())
        self.assertLess(time.monotonic() - start, 8)
        self.assertTrue(c.closed(), c.dump())

    def test_slow_drip_command_times_out(self):
        # Slowloris: a command line dribbled one octet at a time must not
        # keep the session past the idle limit; only a complete command
        # (or message data) counts as progress.
        c = self.session("--idle-timeout", "1")
        c.sock.settimeout(0.3)
        got = None
        start = time.monotonic()
        for ch in b"NOOP and then some more text that never ends":
            try:
                c.sock.sendall(bytes([ch]))
            except OSError:
                break
            try:
                data = c.sock.recv(4096)
            except socket.timeout:
                continue
            got = data
            break
        self.assertIsNotNone(got, "no reply while dribbling for %.1f s" % (time.monotonic() - start))
        self.assertTrue(got.startswith(b"421 4.4.2"), got)

    def test_slow_drip_data_times_out(self):
        # Inside DATA a client must send at least 1 KiB per data timeout:
        # a byte every 0.3 s against a 1 s timeout is cut off, and the
        # half-received message is not stored.
        c = self.session("--data-timeout", "1")
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.expect(self, "DATA", 354)
        c.sock.settimeout(0.3)
        got = None
        for _ in range(40):
            try:
                c.sock.sendall(b"x")
            except OSError:
                break
            try:
                got = c.sock.recv(4096)
                break
            except socket.timeout:
                continue
        self.assertIsNotNone(got, "no reply while dribbling message data")
        self.assertTrue(got.startswith(b"421 4.4.2"), got)
        self.assertNothingStored(self.t)

    def test_max_clients(self):
        self.t = self.start_ternd("--max-clients", "2")
        # start()'s probe connection must have ended (and given back its
        # slot) first: wait for its session's end in the log.
        deadline = time.monotonic() + 10
        while "close after 0 messages" not in self.t.log_text(tail=1 << 20):
            self.assertLess(time.monotonic(), deadline, self.t.log_text())
            time.sleep(0.05)
        a = self.client(self.t)
        b = self.client(self.t)
        self.assertEqual((a.greeting.code, b.greeting.code), (220, 220))
        third = self.client(self.t, read_greeting=False)
        r = third.reply()
        self.assertIsNotNone(r, third.dump())
        self.assertEqual((r.code, r.enhanced), (421, "4.3.2"), third.dump())
        self.assertTrue(third.closed(), third.dump())
        a.expect(self, "QUIT", 221)
        self.assertTrue(a.closed())
        # A slot is free again (the server may need a moment to notice).
        for _ in range(50):
            d = RawClient(self.t.port)
            self.clients.append(d)
            if d.greeting.code == 220:
                break
            time.sleep(0.1)
        self.assertEqual(d.greeting.code, 220, d.dump())
        self.usable(b)

    def test_pipelining_reply_order(self):
        # RFC 2920: a whole group in one write; replies come in order.
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
               b"RCPT TO:<c@example.com>\r\nBOGUS\r\nRCPT TO:<d@example.com>\r\nDATA\r\n")
        codes = [c.reply().code for _ in range(6)]
        self.assertEqual(codes, [250, 250, 250, 500, 250, 354], c.dump())
        c.send(b"Subject: p\r\n\r\nx\r\n.\r\nNOOP\r\nQUIT\r\n")
        codes = [c.reply().code for _ in range(3)]
        self.assertEqual(codes, [250, 250, 221], c.dump())
        for r in ("b@example.com", "c@example.com", "d@example.com"):
            self.assertStored(self.t, r, b"Subject: p\r\n\r\nx\r\n")

    def test_client_disconnects_mid_data(self):
        c = self.session()
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.expect(self, "DATA", 354)
        c.send(b"Subject: cut\r\n\r\n" + b"partial\r\n" * 1000)
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()
        time.sleep(0.5)
        d = self.client(self.t)
        self.usable(d)
        self.assertNothingStored(self.t)
        self.assertEqual(self.t.tmp_files(), [])
