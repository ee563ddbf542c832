"""ternd --metrics and the log formats: the Prometheus text on GET /metrics
after real sessions (good and refused messages, errors, STARTTLS, AUTH, a
client that leaves), 404 and 405 for the rest, loopback-only addresses,
--log-format kv lines that parse, and a metrics port that cannot be bound."""

import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from ternlib import TERND, TerndTestCase, client_context, free_port
from test_auth import ALICE, plain, user_line

GOOD = b"Subject: metrics\r\n\r\nhello\r\n"
SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? ([0-9]+)$')
KV = re.compile(r'^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(error|warning|info|debug) '
                r'session=(-|[0-9a-f]+) msg="((?:[^"\\]|\\["\\nrt]|\\u00[0-9a-f]{2})*)"$')


def scrape(port, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def parse(text):
    """{(name, labels): value}; checks every family has HELP and TYPE first."""
    values, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge"), line
            assert kind != "counter" or name.endswith("_total"), line
            typed.add(name)
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        assert m.group(1) in typed, "no TYPE before %r" % line
        values[(m.group(1), m.group(2) or "")] = int(m.group(3))
    return values


class MetricsTest(TerndTestCase):
    def start_metrics(self, *args):
        self.metrics_port = free_port()
        return self.start_ternd("--metrics", "127.0.0.1:%d" % self.metrics_port, *args)

    def wait_idle(self):
        """Sessions are counted when they end: wait until none is open, and
        at least ternlib's start-up probe has been accepted (it may not
        have been yet when start() returns)."""
        deadline = time.monotonic() + 10
        while True:
            v = parse(scrape(self.metrics_port)[2])
            if (v[("ternd_sessions_active", "")] == 0 and
                    v[("ternd_connections_total", "")] >= 1) or time.monotonic() > deadline:
                return v
            time.sleep(0.05)

    def test_counters_after_sessions(self):
        d = tempfile.mkdtemp(prefix="tern-metrics-")
        users = os.path.join(d, "users")
        with open(users, "w") as f:
            f.write(user_line(ALICE))
        os.chmod(users, 0o600)
        t = self.start_metrics("--max-size", "200", "--users", users,
                               "--allow-insecure-auth")
        # ternlib's start-up probe is a connection too: count from here.
        before = self.wait_idle()

        # 1: a message accepted, an unknown command, a bad sender, QUIT.
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "FOO", 500, "5.5.1")
        c.expect(self, "MAIL FROM:<bad", 501, "5.1.7")
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.expect(self, "DATA", 354)
        c.send(GOOD + b".\r\n")
        self.assertEqual(c.reply().code, 250, c.dump())
        c.expect(self, "QUIT", 221)
        # 2: a message over --max-size (552 5.3.4), a failed AUTH, QUIT.
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "AUTH PLAIN " + plain(ALICE[0], "wrong-password"), 535, "5.7.8")
        c.expect(self, "AUTH PLAIN " + plain(ALICE[0], ALICE[1]), 235)
        c.expect(self, "MAIL FROM:<%s>" % ALICE[0], 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.expect(self, "DATA", 354)
        c.send(b"Subject: big\r\n\r\n" + b"x" * 300 + b"\r\n.\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.enhanced), (552, "5.3.4"), c.dump())
        c.expect(self, "QUIT", 221)
        # 3: STARTTLS, then the client leaves without QUIT.
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "STARTTLS", 220)
        c.starttls(client_context())
        c.expect(self, "EHLO client.example", 250)
        c.close()

        v = self.wait_idle()
        want = {
            ("ternd_connections_total", ""): 3,
            ("ternd_connections_busy_total", ""): 0,
            ("ternd_sessions_total", '{outcome="quit"}'): 2,
            ("ternd_sessions_total", '{outcome="client_gone"}'): 1,
            ("ternd_sessions_total", '{outcome="timeout"}'): 0,
            ("ternd_messages_total", '{result="accepted"}'): 1,
            ("ternd_messages_total", '{result="refused"}'): 1,
            ("ternd_message_bytes_total", ""): len(GOOD),
            ("ternd_replies_total", '{class="5xx",reason="protocol"}'): 1,
            ("ternd_replies_total", '{class="5xx",reason="address"}'): 1,
            ("ternd_replies_total", '{class="5xx",reason="system"}'): 1,
            ("ternd_replies_total", '{class="5xx",reason="policy"}'): 1,
            ("ternd_tls_handshakes_total", '{result="ok"}'): 1,
            ("ternd_tls_handshakes_total", '{result="failed"}'): 0,
            ("ternd_auth_total", '{result="success"}'): 1,
            ("ternd_auth_total", '{result="failure"}'): 1,
            ("ternd_dns_lookups_total", ""): 0,
        }
        got = {k: v.get(k) - before.get(k) for k in want}
        self.assertEqual(got, want, scrape(self.metrics_port)[2] + t.log_text())

    def test_abuse_refusals_by_reason(self):
        t = self.start_metrics("--max-per-ip", "1")
        # The start-up probe's connection must have ended (and been
        # uncounted) first.
        self.wait_idle()
        a = self.client(t)
        # The second from the same address: 421 4.7.0, counted by reason.
        b = self.client(t, read_greeting=False)
        r = b.reply()
        self.assertEqual((r.code, r.enhanced), (421, "4.7.0"), b.dump())
        a.expect(self, "QUIT", 221)
        v = self.wait_idle()
        self.assertEqual(v[("ternd_connections_refused_total", '{reason="per_ip"}')], 1)
        self.assertEqual(v[("ternd_connections_refused_total", '{reason="rate"}')], 0)
        self.assertEqual(v[("ternd_connections_refused_total", '{reason="banned"}')], 0)

    def test_http(self):
        t = self.start_metrics()
        status, ctype, body = scrape(self.metrics_port)
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        self.assertIn("# TYPE ternd_connections_total counter", body)
        status, _, _ = scrape(self.metrics_port, "/metrics?x=1")
        self.assertEqual(status, 200)
        for path in ("/", "/metricsx", "/metrics/x"):
            with self.assertRaises(urllib.error.HTTPError) as e:
                scrape(self.metrics_port, path)
            self.assertEqual(e.exception.code, 404, path)
        req = urllib.request.Request("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                     data=b"x", method="POST")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(e.exception.code, 405)
        self.assertIn("metrics on http://127.0.0.1:%d/metrics" % self.metrics_port,
                      t.log_text())

    def test_loopback_only(self):
        def check(*args):
            return subprocess.run([TERND, "--check-config", "--no-reverse-dns",
                                   "--state-dir", tempfile.mkdtemp(prefix="tern-metrics-"),
                                   *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=30)
        for addr in ("192.0.2.1:9100", "0.0.0.0:9100", "[::]:9100"):
            p = check("--metrics", addr)
            self.assertEqual(p.returncode, 64, (addr, p.stderr))
            self.assertIn(b"--metrics-allow-remote", p.stderr)
        for addr in ("127.0.0.1:9100", "[::1]:9100", "localhost:9100", "127.0.0.2:9100"):
            p = check("--metrics", addr)
            self.assertEqual(p.returncode, 0, (addr, p.stderr))
        p = check("--metrics", "0.0.0.0:9100", "--metrics-allow-remote")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"metrics = 0.0.0.0:9100", p.stdout)
        for bad in ("9100", "host.example:9100", "127.0.0.1:x", "127.0.0.1:70000"):
            p = check("--metrics", bad)
            self.assertEqual(p.returncode, 64, (bad, p.stderr))

    def test_metrics_port_taken(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            d = tempfile.mkdtemp(prefix="tern-metrics-")
            p = subprocess.run([TERND, "--listen", "127.0.0.1:%d" % free_port(),
                                "--maildir", os.path.join(d, "mail"), "--state-dir", d,
                                "--no-reverse-dns", "--metrics", "127.0.0.1:%d" % port],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 71, p.stderr)
        self.assertIn(b"--metrics 127.0.0.1:%d: cannot listen" % port, p.stderr)

    def test_kv_log(self):
        t = self.start_metrics("--log-format", "kv")
        c = self.client(t)
        # A quote and a backslash reach the log in a quoted local part.
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, 'RCPT TO:<"quo\\"te\\\\d"@example.com>', 250)
        c.expect(self, "DATA", 354)
        c.send(GOOD + b".\r\n")
        self.assertEqual(c.reply().code, 250, c.dump())
        c.expect(self, "QUIT", 221)
        self.wait_idle()
        t.signal()
        t.wait()
        with open(t.log_path, "rb") as f:
            lines = f.read().decode().splitlines()
        msgs, sessions = [], set()
        for line in lines:
            if line.startswith("ternd: "):  # the start-up line on stderr, not a log line
                continue
            m = KV.match(line)
            self.assertIsNotNone(m, "not a kv line: %r" % line)
            sessions.add(m.group(2))
            msgs.append(re.sub(r'\\u00([0-9a-f]{2})|\\(.)',
                               lambda x: chr(int(x.group(1), 16)) if x.group(1) else
                               {"n": "\n", "r": "\r", "t": "\t"}.get(x.group(2), x.group(2)),
                               m.group(3)))
        self.assertTrue(any(s != "-" for s in sessions), lines)
        self.assertTrue(any('stored for <"quo\\"te\\\\d"@example.com>' in m for m in msgs),
                        msgs)
