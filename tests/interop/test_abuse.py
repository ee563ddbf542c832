"""Abuse limits against a running ternd, each crossed with a small limit
given by its flag: connections per client address (--max-per-ip), the
connection rate (--max-conn-rate), messages and recipients per connection
(--max-messages-per-conn, --max-rcpts-per-conn), failed AUTH per address
and the ban that follows (--max-auth-failures-per-ip, --ban-seconds), and
the counting of the real client behind a PROXY header.

Every refusal must come at once, be the right reply, and leave other
clients served: "other" is 127.0.0.2, another address on loopback (Linux
routes all of 127/8 there), so another network to ternd. The connection
tests count clients from 127.0.0.3: ternlib's start-up probe connects from
127.0.0.1, and that must not use up a small limit.
"""

import socket
import time
import unittest

from ternlib import SOCKET_TIMEOUT, RawClient, TerndTestCase
from test_auth import ALICE, AuthTestCase, plain

OTHER = "127.0.0.2"
COUNTED = "127.0.0.3"


class SourceClient(RawClient):
    """A RawClient whose connection comes from another loopback address."""

    def __init__(self, port, source):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT,
                                             source_address=(source, 0))
        self.buf = b""
        self.transcript = []
        self.greeting = self.reply()


def other_address_works():
    try:
        s = socket.socket()
        s.bind((COUNTED, 0))
        s.close()
        return True
    except OSError:
        return False


class AbuseTestCase(TerndTestCase):
    def other(self, t, source=OTHER):
        if not other_address_works():
            self.skipTest("cannot bind %s" % source)
        c = SourceClient(t.port, source)
        self.clients.append(c)
        return c

    def counted(self, t):
        return self.other(t, COUNTED)

    def assertRefused(self, c, text):
        self.assertIsNotNone(c.greeting, c.dump())
        self.assertEqual(c.greeting.code, 421, c.dump())
        self.assertEqual(c.greeting.enhanced, "4.7.0", c.dump())
        self.assertIn(text, c.greeting.text, c.dump())
        self.assertTrue(c.closed(), c.dump())

    def assertGreeted(self, c):
        self.assertIsNotNone(c.greeting, c.dump())
        self.assertEqual(c.greeting.code, 220, c.dump())

    def greeted_within(self, t, seconds):
        """A new client from COUNTED greeted with 220 within seconds
        (polled, bounded); the last client."""
        deadline = time.monotonic() + seconds
        for _ in range(100):
            c = self.counted(t)
            if c.greeting is not None and c.greeting.code == 220:
                return c
            c.close()
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.fail("no 220 within %s s; last: %s" % (seconds, c.dump()))


class TestConnections(AbuseTestCase):
    def test_max_per_ip(self):
        t = self.start_ternd("--max-per-ip", "2")
        a, b = self.counted(t), self.counted(t)
        self.assertGreeted(a)
        self.assertGreeted(b)
        started = time.monotonic()
        c = self.counted(t)
        self.assertRefused(c, "Too many connections from your address")
        self.assertLess(time.monotonic() - started, 5)
        # The two admitted are served; so is another address.
        a.expect(self, "EHLO a.example", 250)
        b.expect(self, "NOOP", 250)
        o = self.other(t)
        self.assertGreeted(o)
        o.expect(self, "EHLO o.example", 250)
        # One ends: its place is free again (exactly once: after QUIT and
        # a client that vanished, the count is back to zero).
        a.expect(self, "QUIT", 221)
        a.closed()
        d = self.greeted_within(t, 5)
        b.close()
        d.expect(self, "QUIT", 221)
        d.closed()
        e = self.greeted_within(t, 5)
        f = self.counted(t)
        self.assertGreeted(f)
        e.close()
        f.close()

    def test_default_is_loose_enough(self):
        # Under the defaults (100 per address) twenty at once are fine.
        t = self.start_ternd()
        cs = [self.client(t) for _ in range(20)]
        for c in cs:
            self.assertGreeted(c)
        for c in cs:
            c.expect(self, "QUIT", 221)

    def test_conn_rate(self):
        t = self.start_ternd("--max-conn-rate", "3")
        for _ in range(3):
            c = self.counted(t)
            self.assertGreeted(c)
            c.expect(self, "QUIT", 221)
        c = self.counted(t)
        self.assertRefused(c, "Too many connections per minute")
        o = self.other(t)
        self.assertGreeted(o)
        o.expect(self, "EHLO o.example", 250)
        self.assertIn("Too many connections per minute", t.log_text(20000))

    def test_refusal_before_greeting_delay(self):
        # The refusal does not wait for the greeting delay.
        t = self.start_ternd("--max-per-ip", "1", "--greeting-delay", "3000")
        if not other_address_works():
            self.skipTest("cannot bind %s" % COUNTED)
        a = socket.create_connection(("127.0.0.1", t.port), timeout=SOCKET_TIMEOUT,
                                     source_address=(COUNTED, 0))
        self.addCleanup(a.close)
        time.sleep(0.2)  # counted before the next one arrives
        started = time.monotonic()
        c = self.counted(t)
        self.assertRefused(c, "Too many connections from your address")
        self.assertLess(time.monotonic() - started, 2)
        # The first is greeted after its delay.
        a.settimeout(SOCKET_TIMEOUT)
        self.assertTrue(a.recv(100).startswith(b"220 "))


class TestPerConnection(AbuseTestCase):
    def mail(self, c, n_rcpts=1, tag="x"):
        c.expect(self, "MAIL FROM:<s@example.org>", 250)
        for i in range(n_rcpts):
            c.expect(self, "RCPT TO:<%s%d@example.com>" % (tag, i), 250)

    def test_messages_per_conn(self):
        t = self.start_ternd("--max-messages-per-conn", "2")
        c = self.client(t)
        c.expect(self, "EHLO c.example", 250)
        for i in range(2):
            self.mail(c)
            c.expect(self, "DATA", 354)
            c.expect(self, "Subject: %d\r\n\r\nbody\r\n." % i, 250)
        r = c.expect(self, "MAIL FROM:<s@example.org>", 421, "4.7.0")
        self.assertIn("Too many messages in this session", r.text)
        self.assertTrue(c.closed(), c.dump())
        # A new connection starts over.
        d = self.client(t)
        d.expect(self, "EHLO d.example", 250)
        self.mail(d)
        d.expect(self, "QUIT", 221)

    def test_rcpts_per_conn(self):
        t = self.start_ternd("--max-rcpts-per-conn", "3")
        c = self.client(t)
        c.expect(self, "EHLO c.example", 250)
        self.mail(c, 2, "a")
        c.expect(self, "RSET", 250)
        self.mail(c, 1, "b")
        r = c.expect(self, "RCPT TO:<c@example.com>", 421, "4.7.0")
        self.assertIn("Too many recipients in this session", r.text)
        self.assertTrue(c.closed(), c.dump())
        d = self.client(t)
        d.expect(self, "EHLO d.example", 250)
        self.mail(d, 3, "d")
        d.expect(self, "QUIT", 221)


class TestProxy(AbuseTestCase):
    def proxied(self, t, src):
        c = RawClient(t.port, read_greeting=False)
        self.clients.append(c)
        c.send("PROXY TCP4 %s 192.0.2.25 4711 25\r\n" % src)
        c.greeting = c.reply()
        return c

    def test_counts_the_real_client(self):
        t = self.start_ternd("--proxy-from", "127.0.0.1", "--max-per-ip", "1")
        a = self.proxied(t, "192.0.2.1")
        self.assertGreeted(a)
        b = self.proxied(t, "192.0.2.1")
        self.assertRefused(b, "Too many connections from your address")
        c = self.proxied(t, "192.0.2.2")
        self.assertGreeted(c)
        # A proxy connection that ends before its header counts for nobody.
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", t.port), timeout=SOCKET_TIMEOUT)
            s.close()
        a.expect(self, "QUIT", 221)
        a.closed()
        deadline = time.monotonic() + 5
        for _ in range(50):
            d = self.proxied(t, "192.0.2.1")
            if d.greeting is not None and d.greeting.code == 220:
                break
            self.assertLess(time.monotonic(), deadline, d.dump())
            time.sleep(0.1)
        self.assertGreeted(d)


class TestAuthBan(AuthTestCase):
    def test_failures_ban_the_address(self):
        t = self.start_auth("--allow-insecure-auth", "--max-auth-failures-per-ip", "3",
                            "--ban-seconds", "3")
        a = self.client(t)
        a.expect(self, "EHLO a.example", 250)
        for i in range(2):
            a.expect(self, "AUTH PLAIN " + self.secret(plain(ALICE[0], "Ban-Wrong-%d" % i)),
                     535, "5.7.8")
        # The third failure of the address, in another session, bans it.
        b = self.client(t)
        b.expect(self, "EHLO b.example", 250)
        r = b.expect(self, "AUTH PLAIN " + self.secret(plain(ALICE[0], "Ban-Wrong-2")),
                     421, "4.7.0")
        self.assertTrue(b.closed(), b.dump())
        # Its other session may not try again, its new ones are refused.
        r = a.expect(self, "AUTH PLAIN " + plain(*ALICE[:2]), 421, "4.7.0")
        self.assertIn("temporarily banned", r.text)
        c = self.client(t)
        self.assertEqual(c.greeting.code, 421, c.dump())
        self.assertEqual(c.greeting.enhanced, "4.7.0", c.dump())
        self.assertIn("Your address is temporarily banned", c.greeting.text)
        # Another address is served, and may log in.
        if other_address_works():
            o = SourceClient(t.port, "127.0.0.2")
            self.clients.append(o)
            self.assertEqual(o.greeting.code, 220)
            o.expect(self, "EHLO o.example", 250)
            o.expect(self, "AUTH PLAIN " + plain(*ALICE[:2]), 235, "2.7.0")
        # The ban ends by itself.
        deadline = time.monotonic() + 8
        for _ in range(80):
            d = self.client(t)
            if d.greeting is not None and d.greeting.code == 220:
                break
            self.assertLess(time.monotonic(), deadline, d.dump())
            d.close()
            time.sleep(0.2)
        d.expect(self, "EHLO d.example", 250)
        d.expect(self, "AUTH PLAIN " + plain(*ALICE[:2]), 235, "2.7.0")


if __name__ == "__main__":
    unittest.main()
