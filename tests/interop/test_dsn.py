"""Delivery status notifications (libtern's tern_dsn_build, driven by
examples/make_dsn) read by a parser nobody here wrote: Python's email
package with policy.default. It checks what a mail client sees: the
multipart/report structure and its types (RFC 6522, RFC 6533 global types),
the per-message and per-recipient fields of message/delivery-status as
parsed header blocks (RFC 3464), the returned message or its headers, the
report's own headers (From, To, Subject, Date, Message-ID,
Auto-Submitted), folding that unfolds to the diagnostic as given, and no
parser defects anywhere."""

import email
import email.policy
import email.utils
import os
import subprocess
import tempfile

from ternlib import TerndTestCase, example_path

NOW = 1764003600          # Mon, 24 Nov 2025 17:00:00 +0000
ARRIVAL = 1764000000
ORIGINAL = (b"From: Alice <a@example.org>\r\nTo: b@example.net\r\nSubject: hello\r\n"
            b"Message-ID: <m1@example.org>\r\n\r\nHi Bob,\r\njust a note.\r\n")
DIAG = "5.1.1 <b@example.net>: Recipient address rejected: User unknown in virtual mailbox table"


class DsnTest(TerndTestCase):
    @classmethod
    def setUpClass(cls):
        cls.bin = example_path("make_dsn")
        if not os.access(cls.bin, os.X_OK):
            raise AssertionError("examples/make_dsn not built at %s" % cls.bin)

    def make(self, *args, original=ORIGINAL, ok=True):
        cmd = [self.bin, "--mta", "mx.example.org", "--now", str(NOW),
               "--arrival", str(ARRIVAL)] + list(args)
        p = subprocess.run(cmd, input=original, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        if ok:
            self.assertEqual(p.returncode, 0, "make_dsn exited %d: %s"
                             % (p.returncode, p.stderr.decode(errors="replace")))
            self.check_wire(p.stdout)
        return p

    def parse(self, raw, utf8=False):
        # RFC 6532 headers: Python's bytes parser keeps 8-bit header octets
        # as surrogates, so a UTF-8 report is decoded first.
        if utf8:
            msg = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
        else:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
        for part in msg.walk():
            self.assertEqual(part.defects, [], "defects in %s" % part.get_content_type())
        return msg

    def check_wire(self, raw):
        """CRLF only, lines within 998 octets."""
        self.assertTrue(raw.endswith(b"\r\n"))
        for line in raw.split(b"\r\n"):
            self.assertNotIn(b"\r", line)
            self.assertNotIn(b"\n", line)
            self.assertLessEqual(len(line), 998)

    def status_blocks(self, part):
        """message/delivery-status as Python parses it: a list of header
        blocks, the per-message one first. For the global type (which
        Python treats as a message) the blocks are parsed one by one."""
        payload = part.get_payload()
        if part.get_content_type() == "message/delivery-status":
            return payload
        self.assertEqual(len(payload), 1)
        first = payload[0]
        rest = first.get_payload()
        blocks = [first]
        for chunk in rest.replace("\r\n", "\n").split("\n\n"):
            if chunk.strip():
                blocks.append(email.message_from_string(chunk + "\n",
                                                        policy=email.policy.default))
        return blocks

    def test_failed_full(self):
        p = self.make("--sender", "a@example.org", "--envid", "QQ314159",
                      "--message-id", "dsn.1234",
                      "--rcpt", "b@example.net", "--action", "failed", "--status", "5.1.1",
                      "--orcpt", "rfc822;Bob@Example.NET", "--remote",
                      "mx.example.net[192.0.2.1]:25", "--code", "550", "--text", DIAG,
                      "--last-attempt", str(NOW - 100))
        msg = self.parse(p.stdout)
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        frm = msg["From"].addresses[0]
        self.assertEqual(frm.display_name, "Mail Delivery System")
        self.assertEqual(frm.addr_spec, "MAILER-DAEMON@mx.example.org")
        self.assertEqual(msg["To"].addresses[0].addr_spec, "a@example.org")
        self.assertEqual(msg["Subject"], "Undelivered Mail Returned to Sender")
        self.assertEqual(msg["Date"].datetime.timestamp(), NOW)
        self.assertEqual(msg["Message-ID"], "<dsn.1234@mx.example.org>")
        self.assertEqual(msg["Auto-Submitted"], "auto-replied")
        self.assertEqual(msg["MIME-Version"], "1.0")
        parts = msg.get_payload()
        self.assertEqual([x.get_content_type() for x in parts],
                         ["text/plain", "message/delivery-status", "message/rfc822"])
        text = parts[0].get_content()
        self.assertIn("could not be delivered", text)
        self.assertIn("<b@example.net>: failed (5.1.1)", text)
        self.assertIn("mx.example.net said: 550 " + DIAG, " ".join(text.split()))

        blocks = self.status_blocks(parts[1])
        self.assertEqual(len(blocks), 2)
        m, r = blocks
        self.assertEqual(m["Reporting-MTA"], "dns; mx.example.org")
        self.assertEqual(m["Original-Envelope-Id"], "QQ314159")
        self.assertEqual(email.utils.parsedate_to_datetime(m["Arrival-Date"]).timestamp(),
                         ARRIVAL)
        self.assertEqual(r["Original-Recipient"], "rfc822; Bob@Example.NET")
        self.assertEqual(r["Final-Recipient"], "rfc822; b@example.net")
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], "5.1.1")
        self.assertEqual(r["Remote-MTA"], "dns; mx.example.net")
        # Folded on the wire, the same text once unfolded.
        self.assertIn(b"Diagnostic-Code: smtp; 550 5.1.1 <b@example.net>: Recipient address"
                      b" rejected:\r\n ", p.stdout)
        self.assertEqual(r["Diagnostic-Code"], "smtp; 550 " + DIAG)
        self.assertEqual(email.utils.parsedate_to_datetime(r["Last-Attempt-Date"]).timestamp(),
                         NOW - 100)
        self.assertIsNone(r["Will-Retry-Until"])

        orig = parts[2].get_payload()[0]
        self.assertEqual(orig["Subject"], "hello")
        self.assertEqual(orig["Message-ID"], "<m1@example.org>")
        self.assertEqual(orig.get_content().replace("\r\n", "\n"), "Hi Bob,\njust a note.\n")

    def test_delayed_headers_only(self):
        p = self.make("--sender", "a@example.org", "--rcpt", "c@example.net", "--action",
                      "delayed", "--status", "4.4.1", "--local", "--text",
                      "connect to mx.example.net[192.0.2.1]:25: Connection timed out",
                      "--retry-until", str(ARRIVAL + 5 * 86400))
        msg = self.parse(p.stdout)
        self.assertEqual(msg["Subject"], "Delayed Mail (still being retried)")
        parts = msg.get_payload()
        self.assertEqual([x.get_content_type() for x in parts],
                         ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        self.assertIn("keeps trying until Sat, 29 Nov 2025 16:00:00 +0000",
                      " ".join(parts[0].get_content().split()))
        m, r = self.status_blocks(parts[1])
        self.assertIsNone(m["Original-Envelope-Id"])
        self.assertIsNone(r["Original-Recipient"])
        self.assertEqual(r["Action"], "delayed")
        self.assertEqual(r["Status"], "4.4.1")
        self.assertIsNone(r["Remote-MTA"])
        self.assertEqual(r["Diagnostic-Code"],
                         "X-Tern; connect to mx.example.net[192.0.2.1]:25: Connection timed out")
        self.assertEqual(email.utils.parsedate_to_datetime(r["Will-Retry-Until"]).timestamp(),
                         ARRIVAL + 5 * 86400)
        hdrs = email.message_from_string(parts[2].get_content(), policy=email.policy.default)
        self.assertEqual(hdrs["Subject"], "hello")
        self.assertNotIn("Hi Bob", parts[2].get_content())

    def test_success_actions(self):
        p = self.make("--sender", "a@example.org",
                      "--rcpt", "b@example.net", "--action", "delivered", "--notify", "success",
                      "--rcpt", "c@example.net", "--action", "relayed",
                      "--notify", "success,failure", "--remote", "relay.example.net",
                      "--code", "250", "--text", "2.0.0 Ok: queued",
                      "--rcpt", "d@example.net", "--action", "expanded", "--notify", "success",
                      "--rcpt", "e@example.net", "--action", "delivered")  # no NOTIFY: left out
        msg = self.parse(p.stdout)
        self.assertEqual(msg["Subject"], "Successful Mail Delivery Report")
        blocks = self.status_blocks(msg.get_payload()[1])[1:]
        self.assertEqual([(b["Final-Recipient"], b["Action"], b["Status"]) for b in blocks],
                         [("rfc822; b@example.net", "delivered", "2.0.0"),
                          ("rfc822; c@example.net", "relayed", "2.0.0"),
                          ("rfc822; d@example.net", "expanded", "2.0.0")])
        self.assertEqual(blocks[1]["Diagnostic-Code"], "smtp; 250 2.0.0 Ok: queued")
        self.assertEqual(msg.get_payload()[2].get_content_type(), "text/rfc822-headers")

    def test_ret_and_size_limit(self):
        cases = [((), "message/rfc822", "is attached"),
                 (("--ret", "full"), "message/rfc822", "is attached"),
                 (("--ret", "hdrs"), "text/rfc822-headers", "headers of the message are"),
                 (("--ret", "full", "--size-limit", "100"), "text/rfc822-headers",
                  "more than the 100 returned in full")]
        for args, ctype, says in cases:
            with self.subTest(args=args):
                p = self.make("--sender", "a@example.org", "--rcpt", "b@example.net",
                              "--action", "failed", *args)
                parts = self.parse(p.stdout).get_payload()
                self.assertEqual(parts[2].get_content_type(), ctype)
                self.assertIn(says, " ".join(parts[0].get_content().split()))

    def test_original_from_file_normalized(self):
        # Bare LF line ends in the file; read through the fd range.
        with tempfile.NamedTemporaryFile(suffix=".eml") as f:
            f.write(b"Subject: file\nX-A: 1\n\nline one\nline two")
            f.flush()
            p = self.make("--sender", "a@example.org", "--original", f.name,
                          "--rcpt", "b@example.net", "--action", "failed")
        self.assertNotIn(b"line one\nline", p.stdout)
        orig = self.parse(p.stdout).get_payload()[2].get_payload()[0]
        self.assertEqual(orig["Subject"], "file")
        self.assertEqual(orig.get_content(), "line one\r\nline two\r\n")

    def test_smtputf8_global(self):
        rcpt = "jörg@bücher.example"
        p = self.make("--sender", "élise@example.org", "--smtputf8",
                      "--rcpt", rcpt, "--action", "failed", "--status", "5.1.1",
                      "--orcpt", "utf-8;Jörg@bücher.example", "--remote", "mx.bücher.example",
                      "--code", "550", "--text", "5.1.1 unbekannt: Jörg",
                      original="Subject: grüße\r\nFrom: élise@example.org\r\n\r\nhallo\r\n"
                      .encode())
        raw = p.stdout
        msg = self.parse(raw, utf8=True)
        self.assertEqual(msg["To"].addresses[0].addr_spec, "élise@example.org")
        parts = msg.get_payload()
        self.assertEqual([x.get_content_type() for x in parts],
                         ["text/plain", "message/global-delivery-status", "message/global"])
        self.assertEqual(parts[0].get_content_charset(), "utf-8")
        # Bodies: the bytes parser keeps 8bit content as sent.
        text = self.parse(raw).get_payload()[0].get_content()
        self.assertIn("<jörg@bücher.example>: failed", text)
        self.assertIn("mx.bücher.example said: 550 5.1.1 unbekannt: Jörg", text)
        m, r = self.status_blocks(parts[1])
        self.assertEqual(m["Reporting-MTA"], "dns; mx.example.org")
        self.assertEqual(r["Final-Recipient"], "utf-8; " + rcpt)
        self.assertEqual(r["Original-Recipient"], "utf-8; Jörg@bücher.example")
        self.assertEqual(r["Diagnostic-Code"], "smtp; 550 5.1.1 unbekannt: Jörg")
        orig = parts[2].get_payload()[0]
        self.assertEqual(orig["Subject"], "grüße")

    def test_seven_bit_without_smtputf8(self):
        p = self.make("--sender", "a@example.org", "--envid", "id+1=2",
                      "--rcpt", "b@example.net", "--action", "failed",
                      "--orcpt", "rfc822;jörg+x@example.net", "--code", "550",
                      "--remote", "mx.example.net", "--text", "5.1.1 Jörg unknown")
        raw = p.stdout
        self.assertTrue(all(b < 0x80 for b in raw))
        msg = self.parse(raw)
        m, r = self.status_blocks(msg.get_payload()[1])
        self.assertEqual(m["Original-Envelope-Id"], "id+1=2")
        # RFC 6533 3: utf-8-addr-xtext in the 7-bit form.
        self.assertEqual(r["Original-Recipient"], "utf-8; j\\x{F6}rg\\x{2B}x@example.net")
        self.assertEqual(r["Diagnostic-Code"], "smtp; 550 5.1.1 J??rg unknown")

    def test_long_diagnostic_folded(self):
        words = " ".join("word%03d" % i for i in range(120))
        p = self.make("--sender", "a@example.org", "--rcpt", "b@example.net",
                      "--action", "failed", "--code", "554", "--remote", "mx.example.net",
                      "--text", "5.7.1 " + words, "--status", "5.7.1")
        for line in p.stdout.split(b"\r\n"):
            self.assertLessEqual(len(line), 78)
        r = self.status_blocks(self.parse(p.stdout).get_payload()[1])[1]
        self.assertEqual(r["Diagnostic-Code"], "smtp; 554 5.7.1 " + words)

    def test_no_report(self):
        p = self.make("--sender", "", "--rcpt", "b@example.net", "--action", "failed", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"null sender", p.stderr)
        p = self.make("--sender", "a@example.org", "--rcpt", "b@example.net",
                      "--action", "failed", "--notify", "never", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"not wanted", p.stderr)
        p = self.make("--sender", "a@example.org", "--rcpt", "b@example.net",
                      "--action", "delivered", ok=False)  # success without NOTIFY=SUCCESS
        self.assertEqual(p.returncode, 1)

    def test_boundary_unique(self):
        seen = set()
        for _ in range(3):
            msg = self.parse(self.make("--sender", "a@example.org", "--rcpt", "b@example.net",
                                       "--action", "failed").stdout)
            b = msg.get_boundary()
            self.assertGreaterEqual(len(b), 32)
            seen.add((b, msg["Message-ID"]))
        self.assertEqual(len(seen), 3)
