"""Python's smtplib (SMTP and LMTP) against ternd; stored files are compared
byte for byte with what went over the wire (after dot-unstuffing)."""

import email.policy
import smtplib
from email.message import EmailMessage

from ternlib import SOCKET_TIMEOUT, TerndTestCase

CRLF = b"\r\n"


def msg(*lines):
    """A message from lines, CRLF-terminated: exactly the bytes smtplib sends
    (it neither converts line endings of bytes nor adds anything but
    dot-stuffing, which the server undoes)."""
    return CRLF.join(l if isinstance(l, bytes) else l.encode() for l in lines) + CRLF


PLAIN = msg("From: a@example.com", "To: b@example.com", "Subject: plain",
            "Message-ID: <plain@example.com>", "", "Hello, world.", "Second line.")


class SmtplibTest(TerndTestCase):
    def smtp(self, server):
        s = smtplib.SMTP("127.0.0.1", server.port, timeout=SOCKET_TIMEOUT)
        self.addCleanup(s.close)
        return s

    def test_plain(self):
        t = self.start_ternd()
        s = self.smtp(t)
        self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], PLAIN), {})
        s.quit()
        self.assertStored(t, "b@example.com", PLAIN)
        added = t.read("b@example.com")[0][0]
        self.assertIn(b"Return-Path: <a@example.com>\r\n", added)
        self.assertIn(b"Delivered-To: b@example.com\r\n", added)

    def test_8bitmime(self):
        t = self.start_ternd()
        body = msg("From: a@example.com", "To: b@example.com", "Subject: 8bit",
                   "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                   "Content-Transfer-Encoding: 8bit", "",
                   "Gr\u00fc\u00dfe aus K\u00f6ln \u2013 \u65e5\u672c\u8a9e".encode(),
                   bytes(range(0x80, 0x100)), "end")
        s = self.smtp(t)
        s.ehlo()
        self.assertTrue(s.has_extn("8bitmime"))
        self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], body,
                                    mail_options=["BODY=8BITMIME"]), {})
        s.quit()
        self.assertStored(t, "b@example.com", body)

    def test_smtputf8(self):
        t = self.start_ternd()
        sender = "j\u00f6rg@b\u00fccher.example"
        rcpt = "\u7528\u6237@\u4f8b\u5b50.example"
        body = msg("From: " + sender, "To: " + rcpt, "Subject: \u00fcnic\u00f6de",
                   "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                   "Content-Transfer-Encoding: 8bit", "", "\u4f60\u597d")
        s = self.smtp(t)
        s.ehlo()
        self.assertTrue(s.has_extn("smtputf8"))
        self.assertEqual(s.sendmail(sender, [rcpt], body,
                                    mail_options=["SMTPUTF8", "BODY=8BITMIME"]), {})
        s.quit()
        self.assertStored(t, rcpt, body)
        added = t.read(rcpt)[0][0]
        self.assertIn(("Return-Path: <%s>" % sender).encode(), added)

    def test_attachment(self):
        t = self.start_ternd()
        m = EmailMessage()
        m["From"] = "a@example.com"
        m["To"] = "b@example.com"
        m["Subject"] = "attachment"
        m.set_content("See the attached file.\n")
        blob = bytes(range(256)) * 64 + b"\r\n.\r\n" + b".\n" * 10
        m.add_attachment(blob, maintype="application", subtype="octet-stream",
                         filename="blob.bin")
        wire = m.as_bytes(policy=email.policy.SMTP)
        s = self.smtp(t)
        self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], wire), {})
        s.quit()
        self.assertStored(t, "b@example.com", wire)
        parsed = email.message_from_bytes(t.read_one("b@example.com"),
                                          policy=email.policy.default)
        att = next(parsed.iter_attachments())
        self.assertEqual(att.get_content(), blob)

    def test_many_recipients(self):
        t = self.start_ternd()
        rcpts = ["user%02d@example.com" % i for i in range(50)]
        s = self.smtp(t)
        self.assertEqual(s.sendmail("a@example.com", rcpts, PLAIN), {})
        s.quit()
        for r in rcpts:
            self.assertStored(t, r, PLAIN)
            added = t.read(r)[0][0]
            self.assertIn(("Delivered-To: %s\r\n" % r).encode(), added)
        self.assertEqual(len(t.mailboxes()), 50)

    def test_dot_unstuffing(self):
        t = self.start_ternd()
        # Lines that begin with '.' are sent as '..' by smtplib and must be
        # stored as they were before stuffing (RFC 5321 4.5.2).
        body = msg("From: a@example.com", "Subject: dots", "", ".", "..", "...",
                   ".leading dot", "..two dots", "a line", ". ", ".\t", "last")
        s = self.smtp(t)
        self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], body), {})
        s.quit()
        self.assertStored(t, "b@example.com", body)

    def test_several_messages_one_session(self):
        t = self.start_ternd()
        s = self.smtp(t)
        bodies = [msg("Subject: n%d" % i, "", "message %d" % i) for i in range(5)]
        for b in bodies:
            self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], b), {})
        s.quit()
        stored = sorted(body for _, body in t.read("b@example.com", 5))
        self.assertEqual(stored, sorted(bodies))

    def test_max_size(self):
        limit = 4096
        t = self.start_ternd("--max-size", str(limit))
        s = self.smtp(t)
        s.ehlo()
        self.assertEqual(s.esmtp_features.get("size"), str(limit))
        head = msg("Subject: size", "")
        line = b"x" * 78 + CRLF  # text lines stay under the 1000-octet limit
        fill = limit - len(head)
        exact = head + line * (fill // len(line)) + b"z" * (fill % len(line) - 2) + CRLF
        self.assertEqual(len(exact), limit)
        self.assertEqual(s.sendmail("a@example.com", ["exact@example.com"], exact), {})
        over = exact[:-2] + b"y" + CRLF
        # smtplib declares SIZE=, so the refusal comes at MAIL FROM.
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail("a@example.com", ["over@example.com"], over)
        self.assertEqual(cm.exception.smtp_code, 552)
        self.assertTrue(cm.exception.smtp_error.startswith(b"5.3.4"), cm.exception.smtp_error)
        s.rset()
        # Without SIZE= the limit is enforced while the data streams in.
        self.assertEqual(s.mail("a@example.com")[0], 250)
        self.assertEqual(s.rcpt("over@example.com")[0], 250)
        code, text = s.data(over)
        self.assertEqual(code, 552, text)
        self.assertTrue(text.startswith(b"5.3.4"), text)
        self.assertEqual(s.noop()[0], 250)
        s.quit()
        self.assertStored(t, "exact@example.com", exact)
        self.assertEqual(t.files("over@example.com"), [])

    def test_max_recipients(self):
        t = self.start_ternd("--max-recipients", "3")
        s = self.smtp(t)
        s.ehlo()
        self.assertEqual(s.mail("a@example.com")[0], 250)
        for i in range(3):
            self.assertEqual(s.rcpt("r%d@example.com" % i)[0], 250)
        code, text = s.rcpt("r3@example.com")
        self.assertEqual(code, 452, text)
        self.assertTrue(text.startswith(b"4.5.3"), text)
        code, text = s.data(PLAIN)
        self.assertEqual(code, 250, text)
        s.quit()
        for i in range(3):
            self.assertStored(t, "r%d@example.com" % i, PLAIN)
        self.assertEqual(t.files("r3@example.com"), [])


class LmtpTest(TerndTestCase):
    def lmtp(self, server):
        s = smtplib.LMTP("127.0.0.1", server.port, timeout=SOCKET_TIMEOUT)
        self.addCleanup(s.close)
        return s

    def send_lmtp(self, s, sender, rcpts, body):
        """MAIL, RCPT..., DATA; returns {rcpt: (code, text)} from the one
        reply per accepted recipient that LMTP gives (RFC 2033 4.2)."""
        code, text = s.ehlo()  # LMTP.ehlo sends LHLO
        self.assertEqual(code, 250, text)
        self.assertEqual(s.mail(sender)[0], 250)
        accepted = []
        for r in rcpts:
            code, _ = s.rcpt(r)
            if code == 250:
                accepted.append(r)
        code, text = s.docmd("DATA")
        self.assertEqual(code, 354, text)
        s.send(smtplib._quote_periods(body) + b".\r\n")
        return {r: s.getreply() for r in accepted}

    def test_lhlo_per_recipient_replies(self):
        t = self.start_ternd(lmtp=True)
        s = self.lmtp(t)
        rcpts = ["one@example.com", "two@example.com", "three@example.com"]
        replies = self.send_lmtp(s, "a@example.com", rcpts, PLAIN)
        for r in rcpts:
            code, text = replies[r]
            self.assertEqual(code, 250, (r, text))
            self.assertTrue(text.startswith(b"2."), text)
        self.assertEqual(s.noop()[0], 250)
        s.quit()
        for r in rcpts:
            self.assertStored(t, r, PLAIN)

    def test_lmtp_8bit_and_dots(self):
        t = self.start_ternd(lmtp=True)
        s = self.lmtp(t)
        body = msg("Subject: lmtp", "", "\u00e4\u00f6\u00fc".encode(), ".", "..x", "end")
        replies = self.send_lmtp(s, "a@example.com", ["x@example.com"], body)
        self.assertEqual(replies["x@example.com"][0], 250)
        s.quit()
        self.assertStored(t, "x@example.com", body)

    def test_helo_refused_in_lmtp(self):
        # RFC 2033 4.1: LMTP has no HELO/EHLO; the client must use LHLO.
        t = self.start_ternd(lmtp=True)
        c = self.client(t)
        r = c.cmd("EHLO client.example")
        self.assertGreaterEqual(r.code, 500, c.dump())
        c.expect(self, "LHLO client.example", 250)
        c.expect(self, "QUIT", 221)
