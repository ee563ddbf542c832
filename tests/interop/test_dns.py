"""The client's name by forward-confirmed reverse DNS, against a real DNS
server on loopback (tests/interop/dns_server.py, dnslib) with test zones:
a match, a mismatch, NXDOMAIN, SERVFAIL, a timeout, several PTR names,
--no-reverse-dns, and a client that leaves while its lookup runs. The
machine's resolver is never asked: ternd forwards to the test server."""

import os
import smtplib
import socket
import subprocess
import time

from ternlib import SOCKET_TIMEOUT, TerndTestCase, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, which has python3-dnslib
PTR4 = "1.0.0.127.in-addr.arpa."
PTR6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa."
MSG = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: dns\r\n\r\nHello.\r\n"


def have_dnslib():
    try:
        return subprocess.run([PYTHON, "-c", "import dnslib"], capture_output=True,
                              timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class DnsServer:
    """dns_server.py on 127.0.0.1 with a zone; the queries it got."""

    def __init__(self, directory, zone, servfail=(), drop=()):
        self.port = free_port()
        self.zone = os.path.join(directory, "zone")
        self.log = os.path.join(directory, "queries")
        with open(self.zone, "w") as f:
            f.write(zone)
        cmd = [PYTHON, os.path.join(HERE, "dns_server.py"), "--port", str(self.port),
               "--zone", self.zone, "--log", self.log]
        for n in servfail:
            cmd += ["--servfail", n]
        for n in drop:
            cmd += ["--drop", n]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ready"):
            self.stop()
            raise AssertionError("DNS server did not start: %r" % line)

    def queries(self):
        try:
            with open(self.log) as f:
                return [l.split() for l in f.read().splitlines()]
        except OSError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


class DnsTest(TerndTestCase):
    @classmethod
    def setUpClass(cls):
        if not have_dnslib():
            raise AssertionError("python3-dnslib is needed (scripts/install-deps.sh)")

    def dns(self, zone, **kw):
        d = DnsServer(self.tmpdir(), zone, **kw)
        self.addCleanup(d.stop)
        return d

    def tmpdir(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="tern-dns-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", d], check=False))
        return d

    def ternd(self, dns, *args, listen=None):
        extra = list(args)
        if listen:
            extra = ["--listen", listen] + extra
        return self.start_ternd("--dns-server", "127.0.0.1@%d" % dns.port, *extra)

    def ehlo_name(self, server, host="127.0.0.1", port=None):
        """(EHLO reply's first line, seconds until the greeting)."""
        t0 = time.monotonic()
        s = smtplib.SMTP(host, port or server.port, timeout=SOCKET_TIMEOUT)
        greeted = time.monotonic() - t0
        try:
            code, text = s.ehlo("client.example")
            self.assertEqual(code, 250)
            return text.split(b"\n")[0].decode(), greeted
        finally:
            s.quit()

    def received(self, server):
        s = smtplib.SMTP("127.0.0.1", server.port, timeout=SOCKET_TIMEOUT)
        try:
            s.sendmail("a@example.com", ["b@example.com"], MSG)
        finally:
            s.quit()
        added, body = server.read("b@example.com")[0]
        self.assertEqual(body, MSG)
        return added.decode()

    # ---- the cases ---------------------------------------------------

    def test_match(self):
        dns = self.dns("%s 60 IN PTR mail.test.\nmail.test. 60 IN A 127.0.0.1\n" % PTR4)
        t = self.ternd(dns)
        line, _ = self.ehlo_name(t)
        self.assertEqual(line, "tern.test Hello mail.test")
        self.assertRegex(self.received(t), r"Received: from \S+ \(mail\.test \[127\.0\.0\.1\]\)")
        asked = dns.queries()
        self.assertIn(["1.0.0.127.in-addr.arpa", "PTR"], asked)
        self.assertIn(["mail.test", "A"], asked)
        self.assertIn("reverse DNS: mail.test", t.log_text())

    def test_mismatch(self):
        # The PTR name's address is another one: not confirmed.
        dns = self.dns("%s 60 IN PTR liar.test.\nliar.test. 60 IN A 192.0.2.7\n" % PTR4)
        t = self.ternd(dns)
        line, _ = self.ehlo_name(t)
        self.assertEqual(line, "tern.test Hello [127.0.0.1]")
        self.assertRegex(self.received(t), r"Received: from \S+ \(\[127\.0\.0\.1\]\)")
        self.assertIn(["liar.test", "A"], dns.queries())
        self.assertIn("does not resolve to the address", t.log_text())

    def test_nxdomain(self):
        dns = self.dns("other.test. 60 IN A 192.0.2.1\n")
        t = self.ternd(dns)
        line, _ = self.ehlo_name(t)
        self.assertEqual(line, "tern.test Hello [127.0.0.1]")
        self.assertIn(["1.0.0.127.in-addr.arpa", "PTR"], dns.queries())
        self.assertIn("(no name)", t.log_text())

    def test_servfail(self):
        dns = self.dns("%s 60 IN PTR mail.test.\nmail.test. 60 IN A 127.0.0.1\n" % PTR4,
                       servfail=[PTR4])
        t = self.ternd(dns)
        line, greeted = self.ehlo_name(t)
        self.assertEqual(line, "tern.test Hello [127.0.0.1]")
        self.assertLess(greeted, 5.5)
        self.assertNotIn(["mail.test", "A"], dns.queries())

    def test_forward_servfail(self):
        # The PTR answers; its name's A lookup fails: no name either.
        dns = self.dns("%s 60 IN PTR mail.test.\nmail.test. 60 IN A 127.0.0.1\n" % PTR4,
                       servfail=["mail.test."])
        t = self.ternd(dns)
        line, _ = self.ehlo_name(t)
        self.assertEqual(line, "tern.test Hello [127.0.0.1]")

    def test_timeout(self):
        # The server never answers the PTR: the greeting comes after
        # --dns-timeout, and the client is known by its address.
        dns = self.dns("%s 60 IN PTR mail.test.\nmail.test. 60 IN A 127.0.0.1\n" % PTR4,
                       drop=[PTR4])
        t = self.ternd(dns, "--dns-timeout", "700")
        line, greeted = self.ehlo_name(t)
        self.assertEqual(line, "tern.test Hello [127.0.0.1]")
        self.assertGreaterEqual(greeted, 0.6)
        self.assertLess(greeted, 4.0)
        self.assertIn("(timeout)", t.log_text())

    def test_several_ptr_names(self):
        # The first name leads elsewhere, the second one back.
        dns = self.dns("%s 60 IN PTR a.test.\n%s 60 IN PTR b.test.\n"
                       "a.test. 60 IN A 192.0.2.1\nb.test. 60 IN A 127.0.0.1\n" % (PTR4, PTR4))
        t = self.ternd(dns)
        line, _ = self.ehlo_name(t)
        self.assertEqual(line, "tern.test Hello b.test")

    def test_invalid_ptr_name(self):
        # A PTR target that is no host name is never shown.
        dns = self.dns("%s 60 IN PTR bad_name.test.\nbad_name.test. 60 IN A 127.0.0.1\n"
                       % PTR4)
        t = self.ternd(dns)
        line, _ = self.ehlo_name(t)
        self.assertEqual(line, "tern.test Hello [127.0.0.1]")
        self.assertNotIn(["bad_name.test", "A"], dns.queries())

    def test_no_reverse_dns(self):
        dns = self.dns("%s 60 IN PTR mail.test.\nmail.test. 60 IN A 127.0.0.1\n" % PTR4)
        t = self.ternd(dns, "--no-reverse-dns")
        line, _ = self.ehlo_name(t)
        self.assertEqual(line, "tern.test Hello [127.0.0.1]")
        self.assertRegex(self.received(t), r"Received: from \S+ \(\[127\.0\.0\.1\]\)")
        self.assertEqual(dns.queries(), [])

    def test_ipv6(self):
        if not have_ipv6_loopback():
            self.skipTest("no IPv6 loopback")
        dns = self.dns("%s 60 IN PTR six.test.\nsix.test. 60 IN AAAA ::1\n" % PTR6)
        port = free_port()
        t = self.ternd(dns, listen="[::1]:%d" % port)
        line, _ = self.ehlo_name(t, host="::1", port=port)
        self.assertEqual(line, "tern.test Hello six.test")
        self.assertIn(["six.test", "AAAA"], dns.queries())

    def test_client_leaves_during_lookup(self):
        # Clients that go (or talk) while their lookup runs: the lookup is
        # cancelled with the session; the server goes on serving.
        dns = self.dns("%s 60 IN PTR mail.test.\nmail.test. 60 IN A 127.0.0.1\n" % PTR4,
                       drop=[PTR4])
        t = self.ternd(dns, "--dns-timeout", "1500")
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", t.port), timeout=5):
                pass
        early = self.client(t, read_greeting=False)
        early.send("EHLO early.example\r\n")
        r = early.reply()
        self.assertEqual(r.code, 554)
        time.sleep(0.3)
        line, greeted = self.ehlo_name(t)
        self.assertEqual(line, "tern.test Hello [127.0.0.1]")
        self.assertGreaterEqual(greeted, 1.3)
