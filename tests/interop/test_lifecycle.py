"""Durability order (strace) and graceful shutdown on SIGTERM."""

import os
import re
import signal
import socket
import time

from ternlib import RawClient, TerndTestCase, tool

BODY = b"Subject: durable\r\n\r\nkeep me\r\n"


def send_one(tc, c, rcpt="b@example.com", body=BODY):
    c.expect(tc, "EHLO client.example", 250)
    c.expect(tc, "MAIL FROM:<a@example.com>", 250)
    c.expect(tc, "RCPT TO:<%s>" % rcpt, 250)
    c.expect(tc, "DATA", 354)
    c.send(body + b".\r\n")
    return c.expect(tc, None, 250)


class DurabilityTest(TerndTestCase):
    """ternd must write the file, fsync it, rename it into new/, fsync new/,
    and only then send 250 (RFC 5321 6.1: the 250 takes responsibility)."""

    def test_fsync_rename_fsync_before_250(self):
        strace = tool("strace")
        if strace is None:
            self.skipTest("strace not installed")
        trace = os.path.join(self.tmpdir(), "strace.txt")
        wrapper = [strace, "-f", "-y", "-s", "48", "-o", trace, "-e",
                   "trace=fsync,fdatasync,rename,renameat,renameat2,write,writev,sendto,sendmsg"]
        # LeakSanitizer stops the world with ptrace, which fails under strace.
        t = self.start_ternd(wrapper=wrapper, env={"ASAN_OPTIONS": "detect_leaks=0"})
        c = self.client(t)
        send_one(self, c)
        c.expect(self, "QUIT", 221)
        self.assertStored(t, "b@example.com", BODY)
        self.assertEqual(t.stop(), [])
        with open(trace, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        box = t.mailbox("b@example.com")
        events = []  # (kind, line index)
        seen_354 = False
        for i, line in enumerate(lines):
            m = re.match(r"^\d+\s+(\w+)\((\d+)<([^>]*)>(.*)$", line)
            n = re.match(r"^\d+\s+(rename\w*)\((.*)$", line)
            # rename("<box>/tmp/f", "<box>/new/f") or renameat2(dirfd, "b/tmp/f", dirfd, "b/new/f")
            if n and ("%s/new/" % os.path.basename(box)) in n.group(2):
                events.append(("rename", i))
                continue
            if not m:
                continue
            call, _, path, rest = m.groups()
            if call in ("fsync", "fdatasync") and path.startswith(box + "/"):
                rel = path[len(box) + 1:]
                if rel == "new":
                    events.append(("fsync-dir", i))
                elif rel.startswith(("tmp/", "new/")):
                    events.append(("fsync-file", i))
            elif call in ("write", "writev", "sendto", "sendmsg") and path.startswith(("TCP", "socket")):
                if '"354 ' in rest:
                    seen_354 = True
                elif seen_354 and '"250 ' in rest:
                    events.append(("reply-250", i))
        first = {}
        for kind, i in events:
            first.setdefault(kind, i)
        summary = "events: %s\ntrace:\n%s" % (events, "\n".join(lines[-60:]))
        for kind in ("fsync-file", "rename", "fsync-dir", "reply-250"):
            self.assertIn(kind, first, summary)
        self.assertLess(first["fsync-file"], first["rename"], summary)
        self.assertLess(first["rename"], first["fsync-dir"], summary)
        self.assertLess(first["fsync-dir"], first["reply-250"], summary)

    def tmpdir(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="tern-strace-")
        self.addCleanup(__import__("shutil").rmtree, d, True)
        return d


class ShutdownTest(TerndTestCase):
    def refused(self, port, wait=3.0):
        """True once new connections to port are refused (within wait)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
            except OSError:
                return True
            s.close()
            time.sleep(0.05)
        return False

    def test_sigterm_lets_transaction_finish(self):
        t = self.start_ternd("--close-timeout", "10")
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        t.signal(signal.SIGTERM)
        self.assertTrue(self.refused(t.port), "still accepting after SIGTERM")
        r = c.cmd("DATA")
        self.assertIsNotNone(r, c.dump())
        if r.code == 354:
            c.send(BODY + b".\r\n")
            r = c.reply()
            self.assertIsNotNone(r, c.dump())
            if r.code == 250:
                self.assertStored(t, "b@example.com", BODY)
            else:
                self.assertEqual((r.code, r.enhanced), (421, "4.3.2"), c.dump())
                self.assertNothingStored(t)
        else:
            self.assertEqual((r.code, r.enhanced), (421, "4.3.2"), c.dump())
            self.assertNothingStored(t)
        if r.code != 421:
            r = c.cmd("QUIT")
            self.assertTrue(r is None or r.code in (221, 421), c.dump())
        self.assertTrue(c.closed(), c.dump())
        c.close()
        rc = t.wait(5)
        self.assertEqual(rc, 0, "ternd did not exit 0 within 5 s after its last session ended")

    def test_sigterm_idle_session_gets_421(self):
        t = self.start_ternd("--close-timeout", "2")
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        start = time.monotonic()
        t.signal(signal.SIGTERM)
        r = c.reply()  # nothing sent: the grace period runs out
        self.assertIsNotNone(r, "closed without 421\n" + c.dump())
        self.assertEqual((r.code, r.enhanced), (421, "4.3.2"), c.dump())
        self.assertTrue(c.closed(), c.dump())
        rc = t.wait(8)
        self.assertEqual(rc, 0, "ternd exit code after close timeout")
        self.assertLess(time.monotonic() - start, 9)

    def test_sigterm_cuts_message_in_progress(self):
        # DATA still streaming when the grace period ends: 421, no file kept.
        t = self.start_ternd("--close-timeout", "1")
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.expect(self, "DATA", 354)
        c.send(b"Subject: half\r\n\r\n" + b"line\r\n" * 100)
        t.signal(signal.SIGTERM)
        r = c.reply()
        self.assertIsNotNone(r, c.dump())
        self.assertEqual((r.code, r.enhanced), (421, "4.3.2"), c.dump())
        self.assertTrue(c.closed(), c.dump())
        self.assertEqual(t.wait(8), 0)
        self.assertNothingStored(t)
        self.assertEqual(t.tmp_files(), [])

    def test_sigint_also_drains(self):
        t = self.start_ternd("--close-timeout", "2")
        c = self.client(t)
        send_one(self, c)
        c.expect(self, "QUIT", 221)
        c.close()
        t.signal(signal.SIGINT)
        self.assertEqual(t.wait(5), 0)
        self.assertStored(t, "b@example.com", BODY)

    def test_exit_within_close_timeout(self):
        # A client that keeps its socket open after 221 must not hold ternd
        # past --close-timeout.
        t = self.start_ternd("--close-timeout", "2")
        c = self.client(t)
        send_one(self, c)
        c.expect(self, "QUIT", 221)
        start = time.monotonic()
        t.signal(signal.SIGTERM)
        rc = t.wait(10)
        took = time.monotonic() - start
        self.assertEqual(rc, 0, "ternd still running 10 s after SIGTERM (close timeout 2 s)")
        self.assertLess(took, 4, "ternd took %.1f s to exit (close timeout 2 s)" % took)
