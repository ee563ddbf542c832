"""The PROXY protocol (HAProxy's, versions 1 and 2) in front of ternd.

HAProxy in TCP mode (`send-proxy`, `send-proxy-v2`) forwards to a plain
--listen and to an implicit-TLS --tls-listen; swaks sends v1 and v2 headers
itself (--proxy-*). The stored Received: header and the log must name the
real client, not the proxy. Trust comes from the socket's address only:
ternd runs with --proxy-from 127.0.0.1, so a test that connects from
127.0.0.2 is a stranger, whose "PROXY ..." is just a bad command (500), and
one that connects from 127.0.0.1 must send a valid header or be closed.

HAProxy runs in the foreground (-db) on loopback ports with a config of the
test's own (docs/scale-out.md explains the same file), and is stopped by its
PID."""

import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from ternlib import RawClient, TerndTestCase, free_port, tool
from test_tls import MESSAGE, auth_plain, users_line

TRUSTED = "127.0.0.1"   # the proxy (HAProxy and swaks connect from here)
STRANGER = "127.0.0.2"  # anybody else
CLIENT = "127.0.0.3"    # the mail client behind HAProxy

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"

HAPROXY_CFG = """\
global
    maxconn 256

defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s

# Port 25 style: ternd's --listen, PROXY v1.
frontend smtp_v1
    bind 127.0.0.1:{v1}
    default_backend ternd_v1
backend ternd_v1
    server ternd1 127.0.0.1:{plain} send-proxy

# The same with PROXY v2 (binary).
frontend smtp_v2
    bind 127.0.0.1:{v2}
    default_backend ternd_v2
backend ternd_v2
    server ternd1 127.0.0.1:{plain} send-proxy-v2

# Port 465 style: TLS passes through HAProxy untouched and ends at ternd's
# --tls-listen; the PROXY v2 header goes first, in the clear.
frontend smtps
    bind 127.0.0.1:{smtps}
    default_backend ternd_tls
backend ternd_tls
    server ternd1 127.0.0.1:{tls} send-proxy-v2
"""


def v2_header(src, dst, sport, dport, cmd=0x21, fam=0x11, tlvs=b""):
    block = socket.inet_aton(src) + socket.inet_aton(dst) + sport.to_bytes(2, "big") + \
        dport.to_bytes(2, "big") + tlvs
    return V2_SIG + bytes([cmd, fam]) + len(block).to_bytes(2, "big") + block


class ProxyTestCase(TerndTestCase):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="tern-proxy-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.haproxy = None

    def tearDown(self):
        if self.haproxy is not None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait(10)
        super().tearDown()

    def start_proxied(self, *args):
        """ternd with a plain listener (t.port) and an implicit-TLS one
        (t.tls_port), trusting 127.0.0.1 to send PROXY headers."""
        tls = free_port()
        users = os.path.join(self.dir, "users")
        with open(os.open(users, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(users_line() + "\n")
        t = self.start_ternd("--tls-listen", "127.0.0.1:%d" % tls, "--users", users,
                             "--proxy-from", TRUSTED, "--tls-handshake-timeout", "2", *args)
        t.tls_port = tls
        return t

    def start_haproxy(self, t):
        path = tool("haproxy")
        if path is None:
            self.skipTest("haproxy not installed")
        ports = {"v1": free_port(), "v2": free_port(), "smtps": free_port(),
                 "plain": t.port, "tls": t.tls_port}
        cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(HAPROXY_CFG.format(**ports))
        log = open(os.path.join(self.dir, "haproxy.log"), "wb")
        self.addCleanup(log.close)
        self.haproxy = subprocess.Popen([path, "-db", "-f", cfg], stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        for name in ("v1", "v2", "smtps"):
            while True:
                self.assertIsNone(self.haproxy.poll(), "haproxy exited")
                try:
                    # Not through to ternd: bind()-only probes are enough.
                    with socket.socket() as s:
                        s.bind(("127.0.0.1", ports[name]))
                    time.sleep(0.05)  # still free: haproxy has not bound it yet
                except OSError:
                    break
                self.assertLess(time.monotonic(), deadline, "haproxy did not listen")
        return ports

    def wait_log(self, t, pattern, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = t.log_text(tail=1 << 20)
            m = re.search(pattern, text)
            if m:
                return m
            time.sleep(0.05)
        self.fail("ternd never logged %r:\n%s" % (pattern, t.log_text()))

    def raw(self, port, source, read_greeting=True):
        """A raw connection from a chosen loopback source address."""
        sock = socket.socket()
        sock.settimeout(10)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        c = RawClient.__new__(RawClient)
        c.sock, c.buf, c.transcript = sock, b"", []
        if read_greeting:
            c.greeting = c.reply()
        self.clients.append(c)
        return c

    def assertReceivedFrom(self, t, rcpt, address, count=1):
        stored = t.read(rcpt, count)
        for added, _ in stored:
            received = re.search(rb"^Received:.*?(?=\r\n(?![ \t])|\Z)", added, re.S | re.M)
            self.assertIsNotNone(received, added)
            self.assertIn(b"[" + address.encode() + b"]", received.group(0), added)
        return stored

    def assertClosedSilently(self, c, wait=5.0):
        self.assertTrue(c.closed(wait), "not closed\n" + c.dump())
        self.assertEqual(c.buf, b"", c.dump())


class TestHAProxy(ProxyTestCase):
    def smtplib_send(self, port, rcpt, tls=False):
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx, timeout=10,
                                 source_address=(CLIENT, 0))
            s.ehlo("client.example")
            code, _ = s.docmd(auth_plain())
            self.assertEqual(code, 235)
        else:
            s = smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=(CLIENT, 0))
            s.ehlo("client.example")
        s.sendmail("a@example.com", [rcpt], MESSAGE)
        s.quit()

    def test_send_proxy_v1(self):
        t = self.start_proxied()
        ports = self.start_haproxy(t)
        self.smtplib_send(ports["v1"], "v1@example.com")
        self.assertReceivedFrom(t, "v1@example.com", CLIENT)
        self.wait_log(t, r"proxied from 127\.0\.0\.1:\d+ for 127\.0\.0\.3:\d+ \(PROXY v1\)")
        self.wait_log(t, r"connection from 127\.0\.0\.3:\d+ to 127\.0\.0\.1:%d" % ports["v1"])

    def test_send_proxy_v2(self):
        t = self.start_proxied()
        ports = self.start_haproxy(t)
        self.smtplib_send(ports["v2"], "v2@example.com")
        self.assertReceivedFrom(t, "v2@example.com", CLIENT)
        self.wait_log(t, r"proxied from 127\.0\.0\.1:\d+ for 127\.0\.0\.3:\d+ \(PROXY v2\)")

    def test_send_proxy_v2_implicit_tls(self):
        """TLS passes through HAProxy; ternd reads the header, then does
        the handshake with the octets that followed it."""
        t = self.start_proxied()
        ports = self.start_haproxy(t)
        self.smtplib_send(ports["smtps"], "tls@example.com", tls=True)
        (added, _), = self.assertReceivedFrom(t, "tls@example.com", CLIENT)
        self.assertIn(b"with ESMTPSA", added)
        self.wait_log(t, r"proxied from 127\.0\.0\.1:\d+ for 127\.0\.0\.3:\d+ \(PROXY v2\)")
        self.wait_log(t, r"TLS established")

    def test_many_through_haproxy(self):
        """Several sessions in a row and at once, v1 and v2."""
        t = self.start_proxied()
        ports = self.start_haproxy(t)
        socks = [self.raw(ports["v2" if i % 2 else "v1"], CLIENT) for i in range(10)]
        for c in socks:
            c.expect(self, "EHLO client.example", 250)
        for i, c in enumerate(socks):
            c.expect(self, "MAIL FROM:<a@example.com>", 250)
            c.expect(self, "RCPT TO:<many@example.com>", 250)
            c.expect(self, "DATA", 354)
            c.send(MESSAGE + b".\r\n")
            c.expect(self, None, 250)
            c.expect(self, "QUIT", 221)
        self.assertReceivedFrom(t, "many@example.com", CLIENT, count=10)


class TestSwaks(ProxyTestCase):
    def swaks(self, t, version, source, sport, rcpt, family="TCP4", dest="198.51.100.1"):
        path = tool("swaks")
        if path is None:
            self.skipTest("swaks not installed")
        p = subprocess.run([path, "--server", "127.0.0.1", "--port", str(t.port),
                            "--from", "a@example.com", "--to", rcpt, "--helo", "client.example",
                            "--proxy-version", str(version), "--proxy-family",
                            family if version == 1 else
                            {"TCP4": "AF_INET", "TCP6": "AF_INET6"}[family],
                            "--proxy-source", source, "--proxy-source-port", str(sport),
                            "--proxy-dest", dest, "--proxy-dest-port", "25"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode(errors="replace"))
        return p.stdout.decode(errors="replace")

    def test_swaks_v1(self):
        t = self.start_proxied()
        self.swaks(t, 1, "192.0.2.7", 5555, "s1@example.com")
        self.assertReceivedFrom(t, "s1@example.com", "192.0.2.7")
        self.wait_log(t, r"proxied from 127\.0\.0\.1:\d+ for 192\.0\.2\.7:5555 \(PROXY v1\)")
        self.wait_log(t, r"connection from 192\.0\.2\.7:5555 to 198\.51\.100\.1:25")

    def test_swaks_v2(self):
        t = self.start_proxied()
        self.swaks(t, 2, "192.0.2.8", 6666, "s2@example.com")
        self.assertReceivedFrom(t, "s2@example.com", "192.0.2.8")
        self.wait_log(t, r"proxied from 127\.0\.0\.1:\d+ for 192\.0\.2\.8:6666 \(PROXY v2\)")

    def test_swaks_v1_ipv6(self):
        t = self.start_proxied()
        self.swaks(t, 1, "2001:db8::7", 7777, "s6@example.com", family="TCP6", dest="2001:db8::1")
        self.assertReceivedFrom(t, "s6@example.com", "IPv6:2001:db8::7")
        self.wait_log(t, r"proxied from 127\.0\.0\.1:\d+ for \[2001:db8::7\]:7777")


    def test_swaks_v2_ipv6(self):
        t = self.start_proxied()
        self.swaks(t, 2, "2001:db8::8", 8888, "s62@example.com", family="TCP6",
                   dest="2001:db8::1")
        self.assertReceivedFrom(t, "s62@example.com", "IPv6:2001:db8::8")
        self.wait_log(t, r"proxied from 127\.0\.0\.1:\d+ for \[2001:db8::8\]:8888 \(PROXY v2\)")


class TestTrust(ProxyTestCase):
    def test_stranger_proxy_v1_is_a_bad_command(self):
        t = self.start_proxied()
        c = self.raw(t.port, STRANGER)
        self.assertEqual(c.greeting.code, 220)
        c.expect(self, "PROXY TCP4 192.0.2.7 198.51.100.1 5555 25", 500)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<st@example.com>", 250)
        c.expect(self, "DATA", 354)
        c.send(MESSAGE + b".\r\n")
        c.expect(self, None, 250)
        c.expect(self, "QUIT", 221)
        self.assertReceivedFrom(t, "st@example.com", STRANGER)
        self.assertNotIn("192.0.2.7", t.log_text(tail=1 << 20))

    def test_stranger_proxy_v2_is_a_bad_command(self):
        t = self.start_proxied()
        c = self.raw(t.port, STRANGER)
        c.send(v2_header("192.0.2.7", "198.51.100.1", 5555, 25) + b"\r\n")
        c.send(b"NOOP\r\n")
        replies = []
        while True:
            r = c.reply()
            self.assertIsNotNone(r, c.dump())
            replies.append(r.code)
            if r.code < 400:
                break
            self.assertGreaterEqual(r.code, 500, c.dump())
        self.assertEqual(replies[-1], 250, c.dump())
        self.assertGreaterEqual(len(replies), 2, c.dump())
        self.assertNotIn("192.0.2.7", t.log_text(tail=1 << 20))

    def test_trusted_without_header_is_closed(self):
        t = self.start_proxied()
        # Talks SMTP at once: the first octet is not a header's.
        c = self.raw(t.port, TRUSTED, read_greeting=False)
        c.send(b"EHLO client.example\r\n")
        self.assertClosedSilently(c)
        self.wait_log(t, r"PROXY header from 127\.0\.0\.1:\d+: not a PROXY header; closing")
        # Waits for a greeting that never comes: closed after the
        # handshake timeout (2 s here).
        c = self.raw(t.port, TRUSTED, read_greeting=False)
        start = time.monotonic()
        self.assertClosedSilently(c, wait=8)
        self.assertGreater(time.monotonic() - start, 1.5)
        self.wait_log(t, r"PROXY header from 127\.0\.0\.1:\d+: not complete within 2000 ms")
        # The same on the implicit-TLS listener (a ClientHello is no header).
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with socket.create_connection(("127.0.0.1", t.tls_port), timeout=5) as s:
                with ctx.wrap_socket(s) as ss:
                    ss.recv(100)

    def test_malformed_headers_are_closed(self):
        t = self.start_proxied()
        bad = [
            b"PROXY TCP4 192.0.2.7 198.51.100.1 5555\r\n",
            b"PROXY TCP4 192.0.2.7  198.51.100.1 5555 25\r\n",
            b"PROXY TCP4 192.0.2.300 198.51.100.1 5555 25\r\n",
            b"PROXY TCP4 192.0.2.7 198.51.100.1 05555 25\r\n",
            b"PROXY TCP4 192.0.2.7 198.51.100.1 5555 25 junk\r\n",
            b"PROXY TCP6 192.0.2.7 198.51.100.1 5555 25\r\n",
            b"PROXY TCP4 192.0.2.7 198.51.100.1 5555 25\n",
            b"PROXY UNKNOWN " + b"x" * 120 + b"\r\n",
            b"PROXY TCP4 192.0.2.7 198.51.100.1 5555 25" + b" " * 80,
            V2_SIG[:-1] + b"X" + b"\x21\x11\x00\x0c" + b"\0" * 12,
            V2_SIG + b"\x31\x11\x00\x0c" + b"\0" * 12,
            V2_SIG + b"\x21\x11\x00\x08" + b"\0" * 8,
            V2_SIG + b"\x21\x11\x10\x00" + b"\0" * 64,
            V2_SIG + b"\x21\x12\x00\x0c" + b"\0" * 12,
            v2_header("192.0.2.7", "198.51.100.1", 1, 25, tlvs=b"\x02\x00\x10short"),
        ]
        for data in bad:
            c = self.raw(t.port, TRUSTED, read_greeting=False)
            c.send(data + b"EHLO x\r\n")
            self.assertClosedSilently(c)
        # A header cut short by the proxy's EOF.
        c = self.raw(t.port, TRUSTED, read_greeting=False)
        c.send(b"PROXY TCP4 192.0.2.7 ")
        c.sock.shutdown(socket.SHUT_WR)
        self.assertClosedSilently(c)
        self.wait_log(t, r"PROXY header from 127\.0\.0\.1:\d+: connection closed in the middle")
        log = t.log_text(tail=1 << 20)
        self.assertGreaterEqual(log.count("PROXY header from"), len(bad) + 1, log)
        self.assertNotIn("192.0.2.7", log.replace("PROXY header", ""))
        # ternd is still fine.
        c = self.raw(t.port, STRANGER)
        c.expect(self, "QUIT", 221)

    def test_v2_local_keeps_socket_address(self):
        """A v2 LOCAL header (HAProxy's health checks) is the proxy's own
        connection: the session keeps the socket's addresses."""
        t = self.start_proxied()
        c = self.raw(t.port, TRUSTED, read_greeting=False)
        c.send(V2_SIG + b"\x20\x00\x00\x00")
        self.assertEqual(c.reply().code, 220)
        c.expect(self, "EHLO check.example", 250)
        c.expect(self, "QUIT", 221)
        self.wait_log(t, r"PROXY v2 LOCAL from 127\.0\.0\.1:\d+")

    def test_header_and_commands_in_one_segment(self):
        """Octets after the header are the session's, even in the same
        segment (and the header may come in pieces)."""
        t = self.start_proxied()
        c = self.raw(t.port, TRUSTED, read_greeting=False)
        h = v2_header("192.0.2.9", "198.51.100.1", 4444, 25,
                      tlvs=b"\x02\x00\x0amx.example")
        c.send(h[:5])
        time.sleep(0.2)
        c.send(h[5:] + b"EHLO client.example\r\nNOOP\r\n")
        self.assertEqual(c.reply().code, 220)
        self.assertEqual(c.reply().code, 250)
        self.assertEqual(c.reply().code, 250)
        c.expect(self, "QUIT", 221)
        self.wait_log(t, r"proxied from 127\.0\.0\.1:\d+ for 192\.0\.2\.9:4444 "
                         r"\(PROXY v2, sni=mx\.example\)")


if __name__ == "__main__":
    unittest.main()
