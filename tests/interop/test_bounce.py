"""DSNs for queued mail, read back with Python's email module: a failure
DSN when a recipient is refused (Action failed, Status and Diagnostic-Code
from the server, the original attached), a "relayed" DSN for NOTIFY=SUCCESS
through a next hop without DSN, a delay DSN and an expiry under a clock the
test controls (libfaketime: ternd started again hours and days later, no
sleeping), and a failed bounce going to postmaster, never bouncing back."""

import os
import signal
import subprocess
import time

from mtalib import MtaTestCase
from ternlib import TERND, Ternd, free_port

FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
MSG = (b"From: alice@local.test\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <orig-%s@local.test>\r\n"
       b"\r\nThe original text.\r\n")


class BounceTest(MtaTestCase):
    def smtp(self, t, sender, rcpts, subject, notify=None):
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<%s> ENVID=env-%s" % (sender, subject), 250)
        for r in rcpts:
            c.expect(self, "RCPT TO:<%s>%s" % (r, " NOTIFY=%s" % notify if notify else ""), 250)
        c.expect(self, "DATA", 354)
        c.send(MSG % (", ".join(rcpts).encode(), subject.encode(), subject.encode()) + b".\r\n")
        c.expect(self, None, 250)
        c.expect(self, "QUIT", 221)

    def report(self, msg):
        """(per-message fields, [per-recipient fields], the returned part)."""
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        parts = list(msg.iter_parts())
        self.assertEqual(parts[0].get_content_type(), "text/plain")
        self.assertEqual(parts[1].get_content_type(), "message/delivery-status")
        blocks = list(parts[1].iter_parts())
        return blocks[0], blocks[1:], parts[2] if len(parts) > 2 else None

    def test_failure_dsn(self):
        sink = self.aiosmtpd("--reject-rcpt", "gone@far.test")
        t = self.start_ternd("--domain", "local.test", "--relay-from", "127.0.0.1",
                             "--relayhost", "[127.0.0.1]:%d" % sink.port)
        self.smtp(t, "alice@local.test", ["gone@far.test", "ok@far.test"], "fail")
        dsn = self.mailbox(t, "alice@local.test")[0]
        self.assertEqual(dsn["To"], "alice@local.test")
        self.assertIn("MAILER-DAEMON@tern.test", dsn["From"])
        self.assertEqual(dsn["Auto-Submitted"], "auto-replied")
        per_msg, rcpts, original = self.report(dsn)
        self.assertEqual(per_msg["Reporting-MTA"], "dns; tern.test")
        self.assertEqual(per_msg["Original-Envelope-Id"], "env-fail")
        self.assertEqual(len(rcpts), 1, "only the failed recipient is reported")
        r = rcpts[0]
        self.assertEqual(r["Final-Recipient"], "rfc822; gone@far.test")
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], "5.1.1")
        self.assertIn("550", r["Diagnostic-Code"])
        self.assertIn("No such user here", r["Diagnostic-Code"])
        # RET absent: the whole original comes back.
        self.assertIn(original.get_content_type(), ("message/rfc822", "text/rfc822-headers"))
        self.assertIn(b"orig-fail@local.test", original.as_bytes())
        # The sink got the message for the good recipient, once.
        self.assertEqual([m["rcpt_tos"] for m, _ in sink.messages()], [["ok@far.test"]])
        # A DSN is sent with the null reverse-path.
        self.assertEqual(dsn["Return-Path"], "<>")

    def test_relayed_dsn(self):
        sink = self.aiosmtpd()  # no DSN extension
        t = self.start_ternd("--domain", "local.test", "--relay-from", "127.0.0.1",
                             "--relayhost", "[127.0.0.1]:%d" % sink.port)
        self.smtp(t, "alice@local.test", ["x@far.test"], "relayed", notify="SUCCESS")
        dsn = self.mailbox(t, "alice@local.test")[0]
        _, rcpts, _ = self.report(dsn)
        self.assertEqual(rcpts[0]["Action"], "relayed")
        self.assertEqual(rcpts[0]["Status"][0], "2")
        self.assertEqual(len(sink.messages()), 1)

    def test_double_bounce_to_postmaster(self):
        sink = self.aiosmtpd("--reject-rcpt", "gone@far.test")
        t = self.start_ternd("--domain", "local.test", "--relay-from", "127.0.0.1",
                             "--relayhost", "[127.0.0.1]:%d" % sink.port)
        self.smtp(t, "", ["gone@far.test"], "bounce")
        report = self.mailbox(t, "postmaster@local.test")[0]
        _, rcpts, _ = self.report(report)
        self.assertEqual(rcpts[0]["Action"], "failed")
        self.assertIn("gone@far.test", rcpts[0]["Final-Recipient"])
        # Nothing went back toward the null sender, nothing loops.
        time.sleep(0)
        self.assertNotIn("status=bounced (", t.log_text(tail=1 << 20).split("postmaster")[-1])

    # ---- a clock the test controls ------------------------------------------

    def faketime_env(self, offset):
        if not os.path.exists(FAKETIME):
            self.skipTest("libfaketime not installed (scripts/install-deps.sh)")
        with open(TERND, "rb") as f:
            if b"__asan_init" in f.read():
                # Preloaded before the sanitizer runtime, libfaketime can
                # stall an ASan binary's start; the plain build runs this.
                self.skipTest("libfaketime and an ASan build do not mix")
        return {"LD_PRELOAD": FAKETIME, "FAKETIME": offset,
                # ASan must come first in the library list; here it cannot.
                "ASAN_OPTIONS": "verify_asan_link_order=0:detect_leaks=1"}

    def restart(self, t, env, *args):
        t.signal(signal.SIGTERM)
        self.assertEqual(t.wait(), 0, t.log_text())
        self.servers.remove(t)
        again = Ternd(*args, port=t.port, env=env)
        again.state_dir = t.state_dir
        again.maildir = t.maildir
        self.servers.append(again)
        return again.start()

    def test_delay_then_expiry(self):
        down = free_port()
        state, mail = self.tmpdir(), self.tmpdir()
        args = ("--domain", "local.test", "--relay-from", "127.0.0.1",
                "--relayhost", "[127.0.0.1]:%d" % down, "--state-dir", state, "--maildir",
                mail)
        t = Ternd(*args)
        t.state_dir, t.maildir = state, mail
        self.servers.append(t)
        t.start()
        self.smtp(t, "alice@local.test", ["x@far.test"], "slow")
        self.wait_log(t, r"to=<x@far\.test>.*status=deferred")
        # Five hours later (past the 4 h delay warning): a delay DSN.
        t = self.restart(t, self.faketime_env("+5h"), *args)
        subprocess.run([TERND, "queue", "--state-dir", state, "flush", "ALL"], check=True,
                       capture_output=True, timeout=60)
        dsn = self.mailbox(t, "alice@local.test")[0]
        _, rcpts, _ = self.report(dsn)
        self.assertEqual(rcpts[0]["Action"], "delayed")
        self.assertEqual(rcpts[0]["Status"][0], "4")
        self.assertIsNotNone(rcpts[0]["Will-Retry-Until"])
        # Six days later (past the 5-day lifetime): it fails for good.
        t = self.restart(t, self.faketime_env("+6d"), *args)
        subprocess.run([TERND, "queue", "--state-dir", state, "flush", "ALL"], check=True,
                       capture_output=True, timeout=60)
        msgs = self.mailbox(t, "alice@local.test", count=2)
        actions = sorted(self.report(m)[1][0]["Action"] for m in msgs)
        self.assertEqual(actions, ["delayed", "failed"])
        # The queue is empty once the failure is reported.
        out = subprocess.run([TERND, "queue", "--state-dir", state, "list"],
                             capture_output=True, timeout=60)
        self.assertNotIn(b"x@far.test", out.stdout)
