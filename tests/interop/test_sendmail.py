"""`ternd sendmail` (and ternd run as `sendmail` / `mailq`) the way cron,
PHP's mail() and scripts use it: -t with To:/Cc:/Bcc: (Bcc: removed),
recipients as arguments, -i and the lone dot, -f/-F, missing headers added,
sysexits(3) codes; the message reaches the Maildir (local) or a relay host
(relayed) through the running ternd's pickup directory."""

import os
import shutil
import subprocess
import tempfile

from mtalib import MtaTestCase
from ternlib import TERND


class SendmailTest(MtaTestCase):
    def sendmail(self, t, args, data, name=None, env=None):
        cmd = [TERND, "sendmail", "--state-dir", t.state_dir] + list(args)
        if name is not None:
            d = tempfile.mkdtemp(prefix="tern-sendmail-")
            self.addCleanup(shutil.rmtree, d, True)
            link = os.path.join(d, name)
            os.symlink(TERND, link)
            cmd = [link] + list(args)
        return subprocess.run(cmd, input=data, capture_output=True, timeout=60,
                              env=dict(os.environ, **(env or {})))

    def test_dash_t(self):
        t = self.start_ternd()
        msg = (b"To: Bob <bob@local.test>, \"Smith, J\" <js@local.test>\n"
               b"Cc: carol@local.test\n"
               b"Bcc: hidden@local.test\n"
               b"Subject: cron output\n\n"
               b"line one\n.\nline after a lone dot\n")
        p = self.sendmail(t, ["-t", "-F", "Cron Daemon", "-f", "root@local.test"], msg)
        self.assertEqual(p.returncode, 0, p.stderr)
        for rcpt in ("bob@local.test", "js@local.test", "carol@local.test", "hidden@local.test"):
            m = self.mailbox(t, rcpt)[0]
            self.assertEqual(m["Subject"], "cron output")
            self.assertIsNone(m["Bcc"], "Bcc: must not be sent on")
            self.assertEqual(m["From"].addresses[0].display_name, "Cron Daemon")
            self.assertEqual(m["From"].addresses[0].addr_spec, "root@local.test")
            self.assertIsNotNone(m["Date"])
            self.assertIsNotNone(m["Message-ID"])
            self.assertEqual(m["Return-Path"], "<root@local.test>")
            # Without -i the lone dot ended the input.
            self.assertEqual(m.get_content().replace("\r\n", "\n"), "line one\n")

    def test_arguments_and_dash_i(self):
        t = self.start_ternd()
        msg = b"Subject: args\n\nfirst\n.\nsecond\n"
        p = self.sendmail(t, ["-i", "--", "a@local.test, b@local.test", "c@local.test"], msg)
        self.assertEqual(p.returncode, 0, p.stderr)
        for rcpt in ("a@local.test", "b@local.test", "c@local.test"):
            m = self.mailbox(t, rcpt)[0]
            self.assertEqual(m.get_content().replace("\r\n", "\n"), "first\n.\nsecond\n")

    def test_as_sendmail_and_mailq(self):
        t = self.start_ternd()
        p = self.sendmail(t, ["-oi", "x@local.test"], b"Subject: link\n\nhi\n", name="sendmail",
                          env={"TERND_STATE_DIR": t.state_dir})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.mailbox(t, "x@local.test")
        d = tempfile.mkdtemp(prefix="tern-mailq-")
        self.addCleanup(shutil.rmtree, d, True)
        os.symlink(TERND, os.path.join(d, "mailq"))
        q = subprocess.run([os.path.join(d, "mailq")], capture_output=True, timeout=60,
                           env=dict(os.environ, TERND_STATE_DIR=t.state_dir))
        self.assertEqual(q.returncode, 0, q.stderr)

    def test_errors(self):
        t = self.start_ternd()
        p = self.sendmail(t, ["-t"], b"Subject: nobody\n\nhi\n")
        self.assertEqual(p.returncode, 65, p.stderr)  # EX_DATAERR: no recipients
        self.assertIn(b"no recipients", p.stderr)
        p = self.sendmail(t, ["-Z"], b"")
        self.assertEqual(p.returncode, 64, p.stderr)  # EX_USAGE
        p = subprocess.run([TERND, "sendmail", "--state-dir", "/nonexistent/tern", "a@b.test"],
                           input=b"x\n", capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 66, p.stderr)  # EX_NOINPUT: no queue there
        p = self.sendmail(t, ["bad<address"], b"x\n")
        self.assertEqual(p.returncode, 65, p.stderr)
        p = self.sendmail(t, ["a@@b.test"], b"x\n")
        self.assertEqual(p.returncode, 65, p.stderr)
        # No header injection through -F, no control characters in -V.
        p = self.sendmail(t, ["-F", "Eve\r\nX-Injected: yes", "a@local.test"], b"x\n")
        self.assertEqual(p.returncode, 64, p.stderr)
        p = self.sendmail(t, ["-V", "id\x01", "a@local.test"], b"x\n")
        self.assertEqual(p.returncode, 64, p.stderr)

    def test_groups_and_quoted_names(self):
        t = self.start_ternd()
        msg = (b"To: undisclosed-recipients:;\n"
               b"Cc: Friends: a@local.test, \"Doe, Jane\" <b@local.test>;\n"
               b"Bcc: c@local.test\nSubject: groups\n\nhi\n")
        p = self.sendmail(t, ["-t", "-F", "Smith, \"J\""], msg)
        self.assertEqual(p.returncode, 0, p.stderr)
        for rcpt in ("a@local.test", "b@local.test", "c@local.test"):
            m = self.mailbox(t, rcpt)[0]
            self.assertEqual(m["From"].addresses[0].display_name, 'Smith, "J"')
        self.assertFalse(os.path.exists(os.path.join(t.maildir, "undisclosed-recipients")))
