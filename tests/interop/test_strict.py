"""Strict SMTP against a running ternd: the pregreet delay on the port-25
listener by default, message text before DATA's 354, bare LF inside a
command line, the mail-loop limit on Received: fields, and a client that
keeps writing after a closing reply."""

from ternlib import TerndTestCase

BODY = b"Subject: strict\r\n\r\nhello\r\n"


class StrictTest(TerndTestCase):
    def session(self, t):
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        return c

    def test_default_pregreet_delay_on_listen(self):
        # No --greeting-delay: --listen waits before its 220 and a client
        # that talks first is refused.
        t = self.start_ternd(default_greeting_delay=True)
        c = self.client(t, read_greeting=False)
        c.send(b"EHLO early.example\r\n")
        r = c.reply()
        self.assertIsNotNone(r, c.dump())
        self.assertEqual((r.code, r.enhanced), (554, "5.5.0"), c.dump())
        self.assertTrue(c.closed(), c.dump())
        patient = self.client(t)
        self.assertEqual(patient.greeting.code, 220, patient.dump())
        patient.expect(self, "EHLO patient.example", 250)

    def test_no_pregreet_delay_on_lmtp(self):
        t = self.start_ternd(lmtp=True, default_greeting_delay=True)
        c = self.client(t, read_greeting=False)
        c.send(b"LHLO quick.example\r\n")
        r = c.reply()
        self.assertEqual(r.code, 220, c.dump())
        c.expect(self, None, 250)

    def test_text_before_354_is_refused(self):
        t = self.start_ternd()
        c = self.session(t)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.send(b"DATA\r\n" + BODY + b".\r\n")
        r = c.reply()
        self.assertEqual(r.code, 354, c.dump())
        r = c.reply()
        self.assertEqual((r.code, r.enhanced), (554, "5.5.0"), c.dump())
        self.assertTrue(c.closed(), c.dump())
        self.assertNothingStored(t)

    def test_text_after_354_is_fine(self):
        t = self.start_ternd()
        c = self.session(t)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.expect(self, "DATA", 354)
        c.send(BODY + b".\r\n")
        c.expect(self, None, 250, "2.6.0")

    def test_bare_lf_does_not_split_a_command(self):
        # A CRLF-splitting proxy sees one line here; so does ternd: the
        # MAIL hidden behind the bare LF never runs.
        t = self.start_ternd()
        c = self.session(t)
        c.send(b"NOOP\nMAIL FROM:<a@example.com>\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.enhanced), (500, "5.5.2"), c.dump())
        c.expect(self, "RCPT TO:<b@example.com>", 503, "5.5.1")  # no sender was taken
        c.expect(self, "NOOP", 250)

    def send_hops(self, t, n):
        c = self.session(t)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.expect(self, "DATA", 354)
        received = b"".join(b"Received: from h%d by h%d\r\n" % (i, i + 1) for i in range(n))
        c.send(received + BODY + b".\r\n")
        return c, c.reply()

    def test_mail_loop(self):
        t = self.start_ternd()
        c, r = self.send_hops(t, 51)
        self.assertEqual((r.code, r.enhanced), (554, "5.4.6"), c.dump())
        self.assertNothingStored(t)
        c.expect(self, "NOOP", 250)  # the session goes on
        c, r = self.send_hops(t, 50)
        self.assertEqual(r.code, 250, c.dump())

    def test_writer_after_closing_reply_is_cut_off(self):
        # After 221 the client keeps writing without reading: ternd reads
        # a few KiB at most and closes, so the writes soon fail (bounded:
        # 8 MiB would otherwise fill every buffer and block).
        t = self.start_ternd()
        c = self.session(t)
        c.expect(self, "QUIT", 221)
        chunk = b"X" * 65536
        failed = False
        c.sock.settimeout(10)
        for _ in range(128):
            try:
                c.sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                failed = True
                break
        self.assertTrue(failed, "ternd kept reading 8 MiB after its 221")
        ok = self.client(t)
        ok.expect(self, "NOOP", 250)
