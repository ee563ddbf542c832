"""Real clients against ternd: swaks, curl, nodemailer, Postfix's smtp-source.
A tool that install-deps could not install is skipped with the reason."""

import base64
import email
import email.policy
import json
import os
import re
import subprocess
import tempfile

from ternlib import HERE, TerndTestCase, tool

CMD_TIMEOUT = 60


def crlf(data):
    """LF or CRLF line ends -> CRLF."""
    return re.sub(rb"\r?\n", b"\r\n", data)


class ToolTest(TerndTestCase):
    def need(self, name):
        path = tool(name)
        if path is None:
            self.skipTest("%s not installed (scripts/install-deps.sh installs it)" % name)
        return path

    def run_tool(self, args, input=None, ok=True):
        p = subprocess.run(args, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=CMD_TIMEOUT)
        if ok:
            self.assertEqual(p.returncode, 0, "%s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (args[0], p.returncode, p.stdout.decode(errors="replace")[-3000:],
                                p.stderr.decode(errors="replace")[-3000:]))
        return p

    def file(self, data):
        f = tempfile.NamedTemporaryFile(prefix="tern-msg-", suffix=".eml", delete=False)
        self.addCleanup(os.unlink, f.name)
        f.write(data)
        f.close()
        return f.name


def split_body(message):
    """(header block, body) of a message with CRLF line ends."""
    head, sep, body = message.partition(b"\r\n\r\n")
    return head, body


class SwaksTest(ToolTest):
    def swaks(self, t, *args):
        return self.run_tool([self.need("swaks"), "--server", "127.0.0.1:%d" % t.port,
                              "--helo", "swaks.example", "--timeout", "10"] + list(args))

    def test_default_message(self):
        t = self.start_ternd()
        self.swaks(t, "--to", "you@localhost", "--from", "me@example.com")
        body = t.read_one("you@localhost")
        head, text = split_body(body)
        self.assertIn(b"\r\nSubject: test ", b"\r\n" + head)
        self.assertIn(b"This is a test mailing", text)

    def test_pipeline(self):
        t = self.start_ternd()
        self.swaks(t, "--pipeline", "--to", "you@localhost,other@localhost",
                   "--from", "me@example.com")
        a = t.read_one("you@localhost")
        self.assertEqual(a, t.read_one("other@localhost"))
        self.assertIn(b"This is a test mailing", a)

    def test_data_file_exact(self):
        # --data: swaks sends the file (LF -> CRLF, dot-stuffed) and then
        # "\r\n.\r\n", so the stored message is the file plus one CRLF.
        t = self.start_ternd()
        data = (b"From: me@example.com\nTo: you@localhost\nSubject: exact\n\n"
                b"first\n.dot line\n..two dots\n\xc3\xa4\xc3\xb6\xc3\xbc 8-bit\nlast\n")
        path = self.file(data)
        self.swaks(t, "--to", "you@localhost", "--from", "me@example.com", "--data", "@" + path)
        self.assertStored(t, "you@localhost", crlf(data) + b"\r\n")

    def test_body_file_8bit(self):
        t = self.start_ternd()
        text = ("Gr\u00fc\u00dfe \u2013 8-bit body\n\u65e5\u672c\u8a9e\n.line with dot\nend\n"
                ).encode() + bytes(range(0x80, 0x100)) + b"\n"
        path = self.file(text)
        self.swaks(t, "--to", "you@localhost", "--from", "me@example.com", "--body", "@" + path,
                   "--add-header", "Content-Type: text/plain; charset=utf-8")
        head, body = split_body(t.read_one("you@localhost"))
        # swaks's template puts a newline after %BODY%, then "\r\n.\r\n".
        self.assertBytesEqual(body, crlf(text) + b"\r\n\r\n")

    def test_lmtp(self):
        t = self.start_ternd(lmtp=True)
        p = self.swaks(t, "--protocol", "LMTP", "--to", "one@localhost,two@localhost",
                       "--from", "me@example.com")
        self.assertEqual(t.read_one("one@localhost"), t.read_one("two@localhost"))
        # one 250 per recipient after the data (RFC 2033 4.2)
        out = p.stdout.decode(errors="replace")
        # The 354 reply line itself: a Maildir file name in a 250 line
        # can hold the digits "354" too.
        after_data = out[out.rfind("<-  354"):]
        self.assertGreaterEqual(len(re.findall(r"<-\s+250", after_data)), 2, out)


class CurlTest(ToolTest):
    MESSAGE = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: curl\r\n\r\n"
               b"uploaded with curl\r\n.a dot line\r\n..\r\n.\r\n\xe2\x82\xac 8-bit\r\nend\r\n")

    def curl(self, t, rcpts, message):
        args = [self.need("curl"), "-sS", "--max-time", "20",
                "smtp://127.0.0.1:%d/curl.example" % t.port, "--mail-from", "a@example.com",
                "--upload-file", self.file(message)]
        for r in rcpts:
            args += ["--mail-rcpt", r]
        return self.run_tool(args)

    def test_upload(self):
        t = self.start_ternd()
        self.curl(t, ["b@example.com"], self.MESSAGE)
        self.assertStored(t, "b@example.com", self.MESSAGE)

    def test_several_recipients(self):
        t = self.start_ternd()
        rcpts = ["r%d@example.com" % i for i in range(5)]
        self.curl(t, rcpts, self.MESSAGE)
        for r in rcpts:
            self.assertStored(t, r, self.MESSAGE)

    def test_large_upload(self):
        t = self.start_ternd()
        line = b"0123456789" * 9 + b"\r\n"
        message = b"Subject: large\r\n\r\n" + line * 30000  # about 2.8 MB
        self.curl(t, ["big@example.com"], message)
        self.assertStored(t, "big@example.com", message)


class NodemailerTest(ToolTest):
    def send(self, t, mode, mail, to):
        node = self.need("node")
        if not os.path.isdir(os.path.join(HERE, "node_modules", "nodemailer")):
            self.skipTest("nodemailer not installed (run scripts/install-deps.sh)")
        req = {"port": t.port, "from": "sender@example.com", "to": to, "mode": mode, "mail": mail}
        p = self.run_tool([node, os.path.join(HERE, "send_nodemailer.js")],
                          input=json.dumps(req).encode())
        out = json.loads(p.stdout)
        self.assertEqual(sorted(out["accepted"]), sorted(to), out)
        self.assertEqual(out["rejected"], [], out)
        self.assertTrue(out["response"].startswith("250"), out)
        return out

    MAIL = {
        "from": "Sender <sender@example.com>",
        "subject": "Gr\u00fc\u00dfe \u2013 \u65e5\u672c\u8a9e \U0001F600",
        "text": "Hello \u00e4\u00f6\u00fc \u2013 plain text\n.starts with a dot\nend\n",
        "html": "<p>Hello <b>\u00e4\u00f6\u00fc</b> \u2013 html</p>",
        "date": "Mon, 02 Jun 2025 10:00:00 +0000",
        "messageId": "<nodemailer-test@example.com>",
        "attachments": [{"filename": "data.bin",
                         "content": base64.b64encode(bytes(range(256)) * 40).decode()}],
    }

    def check_parsed(self, stored):
        m = email.message_from_bytes(stored, policy=email.policy.default)
        self.assertEqual(m["subject"], self.MAIL["subject"])
        body = m.get_body(("plain",))
        self.assertEqual(body.get_content().replace("\r\n", "\n"), self.MAIL["text"])
        html = m.get_body(("html",))
        self.assertEqual(html.get_content().strip(), self.MAIL["html"])
        atts = list(m.iter_attachments())
        self.assertEqual(len(atts), 1)
        self.assertEqual(atts[0].get_filename(), "data.bin")
        self.assertEqual(atts[0].get_content(), bytes(range(256)) * 40)

    def test_message_several_recipients(self):
        t = self.start_ternd()
        to = ["one@example.com", "two@example.com", "three@example.com"]
        mail = dict(self.MAIL, to=", ".join(to))
        self.send(t, "message", mail, to)
        first = t.read_one(to[0])
        for r in to:
            self.assertEqual(t.read_one(r), first)
        self.check_parsed(first)

    def test_raw_exact(self):
        t = self.start_ternd()
        to = ["raw@example.com"]
        out = self.send(t, "raw", dict(self.MAIL, to=to[0]), to)
        raw = crlf(base64.b64decode(out["raw"]))
        if not raw.endswith(b"\r\n"):
            raw += b"\r\n"
        self.assertStored(t, to[0], raw)
        self.check_parsed(t.read_one(to[0]))

    def test_utf8_addresses(self):
        t = self.start_ternd()
        # An ASCII domain: nodemailer turns IDN domains into A-labels.
        to = ["\u00fcser@example.com"]
        mail = dict(self.MAIL, to=to[0], attachments=[])
        self.send(t, "message", mail, to)
        m = email.message_from_bytes(t.read_one(to[0]), policy=email.policy.default)
        self.assertEqual(m["subject"], self.MAIL["subject"])


class SmtpSourceTest(ToolTest):
    def test_load(self):
        src = tool("smtp-source")
        if src is None:
            self.skipTest("smtp-source not installed (Postfix; install-deps installs package "
                          "postfix without starting it)")
        t = self.start_ternd()
        self.run_tool([src, "-s", "5", "-m", "50", "-l", "2000", "-f", "load@example.com",
                       "-t", "sink@example.com", "127.0.0.1:%d" % t.port])
        files = t.files("sink@example.com")
        self.assertEqual(len(files), 50)
        for _, body in t.read("sink@example.com", 50):
            self.assertIn(b"\r\n", body)

    def test_load_ehlo_pipelined(self):
        src = tool("smtp-source")
        if src is None:
            self.skipTest("smtp-source not installed")
        t = self.start_ternd()
        # -d: a new connection per message; -r: recipients per message.
        self.run_tool([src, "-d", "-s", "4", "-m", "20", "-r", "3", "-f", "load@example.com",
                       "-t", "sink@example.com", "127.0.0.1:%d" % t.port])
        n = sum(len(t.files(b)) for b in t.mailboxes())
        self.assertEqual(n, 60, t.mailboxes())
