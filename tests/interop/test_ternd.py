"""ternd's own features over the wire: flags, config file, IPv6, workers,
Maildir mapping and storage failures (docs/ternd.md)."""

import os
import smtplib
import socket
import subprocess
import tempfile

from ternlib import SOCKET_TIMEOUT, TERND, RawClient, TerndTestCase, free_port

BODY = b"Subject: ternd\r\n\r\nbody line\r\n"


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class TerndFeatureTest(TerndTestCase):
    def send(self, t, rcpts, body=BODY, host="127.0.0.1"):
        s = smtplib.SMTP(host, t.port, timeout=SOCKET_TIMEOUT)
        try:
            return s.sendmail("a@example.com", rcpts, body)
        finally:
            s.close()

    def transaction(self, c, rcpts, body=BODY):
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        for r in rcpts:
            c.expect(self, "RCPT TO:<%s>" % r, 250)
        c.expect(self, "DATA", 354)
        c.send(body + b".\r\n")

    def test_cli(self):
        for args, rc in ((["--help"], 0), (["--version"], 0), (["--no-such-flag"], 64),
                         (["--max-size", "lots"], 64), (["--listen", "nonsense"], 64)):
            p = subprocess.run([TERND] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=10)
            self.assertEqual(p.returncode, rc, (args, p.stdout, p.stderr))
            if rc == 64:
                self.assertTrue(p.stderr.strip(), "no message for %s" % args)

    def test_config_file(self):
        d = tempfile.mkdtemp(prefix="tern-conf-")
        self.addCleanup(__import__("shutil").rmtree, d, True)
        conf = os.path.join(d, "ternd.conf")
        with open(conf, "w") as f:
            f.write("# test\nmax-recipients = 2\nbanner = \"Config # kept\"\n")
        t = self.start_ternd("--config", conf)
        c = self.client(t)
        self.assertIn("Config # kept", c.greeting.text)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<one@example.com>", 250)
        c.expect(self, "RCPT TO:<two@example.com>", 250)
        c.expect(self, "RCPT TO:<three@example.com>", 452, "4.5.3")

    def test_ipv6_and_two_listeners(self):
        if not have_ipv6_loopback():
            self.skipTest("no IPv6 loopback on this machine")
        port6 = free_port()
        t = self.start_ternd("--listen", "[::1]:%d" % port6)  # besides 127.0.0.1
        self.assertEqual(self.send(t, ["four@example.com"]), {})
        s = smtplib.SMTP("::1", port6, timeout=SOCKET_TIMEOUT)
        self.assertEqual(s.sendmail("a@example.com", ["six@example.com"], BODY), {})
        s.quit()
        self.assertStored(t, "six@example.com", BODY)
        self.assertIn(b"::1", t.read("six@example.com")[0][0])
        self.assertStored(t, "four@example.com", BODY)

    def test_workers(self):
        t = self.start_ternd("--workers", "2")
        for i in range(20):
            self.assertEqual(self.send(t, ["w@example.com"], BODY + b"n%d\r\n" % i), {})
        self.assertEqual(len(t.files("w@example.com")), 20)

    def test_discard(self):
        t = self.start_ternd("--discard")
        self.assertEqual(self.send(t, ["d@example.com"]), {})
        self.assertNothingStored(t)

    def test_no_received_header(self):
        t = self.start_ternd("--no-received-header")
        self.assertEqual(self.send(t, ["b@example.com"]), {})
        with open(t.files("b@example.com")[0], "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"Return-Path: <a@example.com>\r\n"
                                        b"Delivered-To: b@example.com\r\n"), data)
        self.assertTrue(data.endswith(b"\r\n" + BODY), data)
        self.assertNotIn(b"Received:", data)

    def test_bare_newline_reject(self):
        t = self.start_ternd("--bare-newline", "reject")
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        self.transaction(c, ["b@example.com"], b"Subject: bare\r\n\r\nbare\nlf\r\n")
        c.expect(self, None, 550, "5.5.2")
        c.expect(self, "NOOP", 250)
        self.transaction(c, ["b@example.com"])
        c.expect(self, None, 250)
        self.assertStored(t, "b@example.com", BODY)

    def test_size_limit_streamed_exact(self):
        # No SIZE= parameter: the limit is counted while the data streams.
        limit = 2000
        t = self.start_ternd("--max-size", str(limit))
        body = b"Subject: s\r\n\r\n" + (b"y" * 78 + b"\r\n") * 20
        body += b"z" * (limit - len(body) - 2) + b"\r\n"
        self.assertEqual(len(body), limit)
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        self.transaction(c, ["exact@example.com"], body)
        c.expect(self, None, 250)
        self.transaction(c, ["over@example.com"], body[:-2] + b"!\r\n")
        c.expect(self, None, 552, "5.3.4")
        c.expect(self, "NOOP", 250)
        self.assertStored(t, "exact@example.com", body)
        self.assertEqual(t.files("over@example.com"), [])

    def test_mailbox_mapping(self):
        t = self.start_ternd()
        rcpts = ["First.Last@Example.COM", "PostMaster", "\"john doe\"@example.org",
                 "\"../../etc\"@x", "a%2Fb@x", "a@[192.0.2.1]"]
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        self.transaction(c, rcpts)
        c.expect(self, None, 250)
        c.expect(self, "QUIT", 221)
        want = {"First.Last@example.com", "postmaster", "%22john%20doe%22@example.org",
                "%22..%2F..%2Fetc%22@x", "a%252Fb@x", "a@%5B192.0.2.1%5D"}
        self.assertEqual(set(t.mailboxes()), want)
        for r in rcpts:
            self.assertStored(t, r, BODY)
        # Nothing escaped the maildir ("state" is --state-dir: the
        # self-signed certificate).
        self.assertEqual(sorted(os.listdir(t.dir)), ["mail", "state", "ternd.log"])

    def test_same_mailbox_once(self):
        t = self.start_ternd()
        self.assertEqual(self.send(t, ["a@X.org", "a@x.org"]), {})
        self.assertEqual(t.mailboxes(), ["a@x.org"])
        self.assertStored(t, "a@x.org", BODY)

    def test_mailbox_name_too_long(self):
        t = self.start_ternd()
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com> SMTPUTF8", 250)
        # A valid address (local part 64 octets, RFC 5321 4.5.3.1.1) whose
        # directory name is not: 32 x 2 bytes -> 192 bytes of %XX, + 73.
        c.send(("RCPT TO:<%s@%s.example.com>\r\n" % ("\u00e9" * 32, "d" * 60)).encode())
        r = c.reply()
        self.assertEqual((r.code, r.enhanced), (553, "5.1.3"), c.dump())
        c.expect(self, "NOOP", 250)
        self.assertNothingStored(t)

    def make_broken_mailbox(self, t, address):
        # A plain file where the mailbox directory should be: ternd cannot
        # create <mailbox>/tmp (root ignores permissions, so use a file).
        os.makedirs(t.maildir, exist_ok=True)
        with open(t.mailbox(address), "w") as f:
            f.write("not a directory\n")

    def test_storage_failure_smtp(self):
        t = self.start_ternd()
        self.make_broken_mailbox(t, "broken@example.com")
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250, None)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<ok@example.com>", 250)
        r = c.cmd("RCPT TO:<broken@example.com>")
        if r.code == 250:
            c.expect(self, "DATA", 354)
            c.send(BODY + b".\r\n")
            r = c.reply()
            self.assertEqual((r.code, r.enhanced), (451, "4.3.0"), c.dump())
        else:
            self.assertEqual(r.code // 100, 4, c.dump())
        c.expect(self, "NOOP", 250)
        # One reply for all: the good mailbox must not keep a copy either.
        self.assertEqual(t.files("ok@example.com"), [])
        self.assertEqual(t.tmp_files(), [])

    def test_storage_failure_lmtp(self):
        t = self.start_ternd(lmtp=True)
        self.make_broken_mailbox(t, "broken@example.com")
        c = self.client(t)
        c.expect(self, "LHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<ok@example.com>", 250)
        r = c.cmd("RCPT TO:<broken@example.com>")
        if r.code != 250:
            self.skipTest("ternd refuses the broken mailbox at RCPT already: %r" % r)
        c.expect(self, "DATA", 354)
        c.send(BODY + b".\r\n")
        c.expect(self, None, 250)             # ok@
        c.expect(self, None, 451, "4.3.0")    # broken@
        c.expect(self, "NOOP", 250)
        self.assertStored(t, "ok@example.com", BODY)

    def test_data_timeout_discards_message(self):
        t = self.start_ternd("--data-timeout", "1")
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.expect(self, "DATA", 354)
        c.send(b"Subject: stalled\r\n\r\nhalf a mess")
        r = c.reply()
        self.assertIsNotNone(r, c.dump())
        self.assertEqual((r.code, r.enhanced), (421, "4.4.2"), c.dump())
        self.assertTrue(c.closed(), c.dump())
        self.assertNothingStored(t)
        self.assertEqual(t.tmp_files(), [])

    def test_parallel_sessions(self):
        import threading
        t = self.start_ternd("--workers", "2")
        errors = []

        def worker(n):
            try:
                s = smtplib.SMTP("127.0.0.1", t.port, timeout=SOCKET_TIMEOUT)
                for i in range(5):
                    body = b"Subject: p%d-%d\r\n\r\n" % (n, i) + b"line\r\n" * (n * 50 + i)
                    s.sendmail("a@example.com", ["p%d@example.com" % n, "all@example.com"], body)
                s.quit()
            except Exception as e:  # reported below
                errors.append("session %d: %r" % (n, e))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(t.files("all@example.com")), 100)
        for n in range(20):
            stored = sorted(b for _, b in t.read("p%d@example.com" % n, 5))
            want = sorted(b"Subject: p%d-%d\r\n\r\n" % (n, i) + b"line\r\n" * (n * 50 + i)
                          for i in range(5))
            self.assertEqual(stored, want)
