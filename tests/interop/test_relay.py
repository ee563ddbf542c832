"""ternd as an MTA: routing (--domain, --relay-from, AUTH), never an open
relay, unknown local users refused at RCPT, relayed mail through the durable
queue to real servers (aiosmtpd as --relayhost, MX hosts from the loopback
DNS server, LMTP over a local socket), a 4xx then success after `ternd queue
flush`, kill -9 with acknowledged mail in the queue (none lost), the queue
listing, and --max-queue-size."""

import os
import re
import shutil
import signal
import smtplib
import subprocess
import time

from mtalib import MtaTestCase
from ternlib import TERND, Ternd, free_port, make_cert
from test_auth import ALICE, plain, user_line
from test_dns import DnsServer

MSG = b"From: a@local.test\r\nTo: x@far.test\r\nSubject: %s\r\n\r\nHello.\r\n"


class RelayTest(MtaTestCase):
    def queue(self, t, *args):
        return subprocess.run([TERND, "queue", "--state-dir", t.state_dir] + list(args),
                              capture_output=True, timeout=60)

    def send(self, t, rcpts, subject="relay", sender="a@local.test"):
        with smtplib.SMTP("127.0.0.1", t.port, timeout=30) as s:
            return s.sendmail(sender, rcpts, MSG % subject.encode())

    # ---- routing ------------------------------------------------------------

    def test_never_an_open_relay(self):
        t = self.start_ternd("--domain", "local.test")
        c = self.client(t)
        c.expect(self, "EHLO stranger.example", 250)
        c.expect(self, "MAIL FROM:<spam@stranger.example>", 250)
        c.expect(self, "RCPT TO:<victim@far.test>", 554, "5.7.1")
        c.expect(self, "RCPT TO:<victim@LOCAL.test.far.test>", 554, "5.7.1")
        # A local recipient in the same session is still welcome.
        c.expect(self, "RCPT TO:<me@Local.Test>", 250)
        c.expect(self, "RCPT TO:<postmaster>", 250)
        c.expect(self, "DATA", 354)
        c.send(MSG % b"local" + b".\r\n")
        c.expect(self, None, 250)
        self.assertIn("relay denied for <victim@far.test>", t.log_text(tail=1 << 20))
        self.assertEqual(os.listdir(os.path.join(t.state_dir, "queue", "incoming")), [])

    def test_lmtp_listener_never_relays(self):
        t = self.start_ternd("--lmtp", "--domain", "local.test",
                             "--relayhost", "[127.0.0.1]:%d" % free_port())
        c = self.client(t)
        c.expect(self, "LHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@far.test>", 250)
        c.expect(self, "RCPT TO:<victim@far.test>", 550, "5.1.1")
        c.expect(self, "RCPT TO:<me@local.test>", 250)
        c.expect(self, "QUIT", 221)

    def test_unknown_local_user(self):
        d = self.tmpdir()
        users = os.path.join(d, "users")
        with open(users, "w") as f:
            f.write(user_line(ALICE) + "\n")
        t = self.start_ternd("--domain", "example.org", "--users", users)
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@far.test>", 250)
        c.expect(self, "RCPT TO:<nobody@example.org>", 550, "5.1.1")
        c.expect(self, "RCPT TO:<%s>" % ALICE[0], 250)
        c.expect(self, "RCPT TO:<postmaster@example.org>", 250)
        c.expect(self, "QUIT", 221)

    def test_authenticated_relay(self):
        d = self.tmpdir()
        users = os.path.join(d, "users")
        with open(users, "w") as f:
            f.write(user_line(ALICE) + "\n")
        sink = self.aiosmtpd()
        t = self.start_ternd("--domain", "example.org", "--users", users,
                             "--allow-insecure-auth",
                             "--relayhost", "[127.0.0.1]:%d" % sink.port)
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<%s>" % ALICE[0], 250)
        c.expect(self, "RCPT TO:<x@far.test>", 554, "5.7.1")
        c.expect(self, "RSET", 250)
        c.expect(self, "AUTH PLAIN " + plain(*ALICE[:2]), 235)
        c.expect(self, "MAIL FROM:<%s>" % ALICE[0], 250)
        c.expect(self, "RCPT TO:<x@far.test>", 250)
        c.expect(self, "DATA", 354)
        c.send(MSG % b"authenticated" + b".\r\n")
        r = c.expect(self, None, 250, "2.0.0")
        self.assertIn("queued as", r.text)
        meta, data = self.wait_messages(sink, 1)[0]
        self.assertEqual(meta["rcpt_tos"], ["x@far.test"])
        self.assertIn(b"Subject: authenticated", data)
        self.assertIn(b"Received: from", data)
        self.wait_log(t, r"to=<x@far\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, delay=\d+, "
                         r"dsn=2\.0\.0, status=sent" % sink.port)

    def test_relay_from_and_local_in_one_message(self):
        sink = self.aiosmtpd()
        t = self.start_ternd("--domain", "local.test", "--relay-from", "127.0.0.1",
                             "--relayhost", "[127.0.0.1]:%d" % sink.port)
        self.assertEqual(self.send(t, ["x@far.test", "me@local.test"], "mixed"), {})
        self.wait_messages(sink, 1)
        self.wait_log(t, r"to=<me@local\.test>, relay=local, .*status=sent")
        # One commit for both (the queue), then the local copy from it.
        mbox = os.path.join(t.maildir, "me@local.test", "new")
        self.assertEqual(len(os.listdir(mbox)), 1)

    def test_relayhost_tls_require_and_auth(self):
        d = self.tmpdir()
        ca = make_cert(d, "ca", ["Tern Test CA"], is_ca=True)
        cert, key = make_cert(d, "smarthost", ["127.0.0.1"], ca=ca)
        users = os.path.join(d, "users")
        with open(users, "w") as f:
            f.write(user_line(ALICE) + "\n")
        smart = self.start_ternd("--domain", "example.org", "--users", users, "--tls-cert",
                                 cert, "--tls-key", key)
        auth = os.path.join(d, "relay-auth")
        with open(auth, "w") as f:
            f.write("%s:%s\n" % (ALICE[0], ALICE[1]))
        os.chmod(auth, 0o600)
        t = self.start_ternd("--domain", "local.test", "--relay-from", "127.0.0.1",
                             "--relayhost", "[127.0.0.1]:%d" % smart.port,
                             "--relayhost-tls", "require", "--relayhost-ca", ca[0],
                             "--relayhost-auth", auth)
        # alice may send as herself only (her users-file line says so).
        self.send(t, [ALICE[0]], "smarthost", sender=ALICE[0])
        self.wait_log(t, r"to=<%s>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*status=sent"
                      % (re.escape(ALICE[0]), smart.port))
        added, body = smart.read(ALICE[0], 1)[0]
        self.assertIn(b"with ESMTPSA", added, "TLS and AUTH to the smarthost")
        self.assertIn(b"Subject: smarthost", body)
        # A certificate the CA signed for another name does not do for
        # an address: the address itself must be in it.
        other_cert, other_key = make_cert(d, "other", ["attacker.example"], ca=ca)
        other = self.start_ternd("--domain", "example.org", "--users", users, "--tls-cert",
                                 other_cert, "--tls-key", other_key)
        wrong = self.start_ternd("--domain", "local.test", "--relay-from", "127.0.0.1",
                                 "--relayhost", "[127.0.0.1]:%d" % other.port,
                                 "--relayhost-tls", "require", "--relayhost-ca", ca[0],
                                 "--relayhost-auth", auth)
        self.send(wrong, [ALICE[0]], "wrong name", sender=ALICE[0])
        self.wait_log(wrong, r"to=<%s>, .*dsn=4\.7\.5, status=deferred" % re.escape(ALICE[0]))
        self.assertIn("mismatch", wrong.log_text(tail=1 << 20))
        # Without the CA the certificate does not verify: never sent.
        bad = self.start_ternd("--domain", "local.test", "--relay-from", "127.0.0.1",
                               "--relayhost", "[127.0.0.1]:%d" % smart.port,
                               "--relayhost-tls", "require", "--relayhost-auth", auth)
        self.send(bad, [ALICE[0]], "unverified", sender=ALICE[0])
        self.wait_log(bad, r"to=<%s>, .*dsn=4\.7\.5, status=deferred" % re.escape(ALICE[0]))

    # ---- MX and LMTP --------------------------------------------------------

    def test_mx_delivery(self):
        sink = self.aiosmtpd()
        zone = ("far.test. 300 IN MX 10 mx.far.test.\n"
                "mx.far.test. 300 IN A 127.0.0.1\n")
        dns = DnsServer(self.tmpdir(), zone)
        self.addCleanup(dns.stop)
        t = self.start_ternd("--domain", "local.test", "--relay-from", "127.0.0.1",
                             "--dns-server", "127.0.0.1@%d" % dns.port,
                             "--smtp-port", str(sink.port))
        self.send(t, ["x@far.test"], "mx")
        self.wait_messages(sink, 1)
        self.wait_log(t, r"to=<x@far\.test>, relay=mx\.far\.test\[127\.0\.0\.1\]:%d"
                      % sink.port)
        self.assertIn(["far.test", "MX"], dns.queries())

    def dovecot(self):
        """Dovecot's LMTP server on a local socket, from a configuration in
        a temporary directory: (socket path, mail root)."""
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.path.exists(binary):
            self.skipTest("dovecot not installed (scripts/install-deps.sh)")
        d = self.tmpdir()
        os.chmod(d, 0o755)
        mail = os.path.join(d, "mail")
        os.mkdir(mail)
        shutil.chown(mail, "nobody", "nogroup")
        for sub in ("run", "state"):
            os.mkdir(os.path.join(d, sub))
        conf = os.path.join(d, "dovecot.conf")
        with open(conf, "w") as f:
            f.write("""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = lmtp
ssl = no
listen = 127.0.0.1
mail_location = maildir:{d}/mail/%u
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
passdb {{
  driver = static
  args = nopassword=y
}}
service lmtp {{
  unix_listener {d}/lmtp {{
    mode = 0666
  }}
}}
""".format(d=d))
        p = subprocess.Popen([binary, "-F", "-c", conf], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def stop():
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        self.addCleanup(stop)
        sock = os.path.join(d, "lmtp")
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            self.assertIsNone(p.poll(), "dovecot exited")
            self.assertLess(time.monotonic(), deadline, "dovecot did not start")
            time.sleep(0.05)
        return sock, mail

    def test_lmtp_to_dovecot(self):
        sock, mail = self.dovecot()
        t = self.start_ternd("--domain", "local.test", "--lmtp-to", sock)
        self.send(t, ["me@local.test", "you@local.test"], "lmtp")
        for who in ("me", "you"):
            self.wait_log(t, r"to=<%s@local\.test>, relay=%s, .*status=sent"
                          % (who, re.escape(sock)))
            new = os.path.join(mail, "%s@local.test" % who, "new")
            files = os.listdir(new)
            self.assertEqual(len(files), 1)
            with open(os.path.join(new, files[0]), "rb") as f:
                self.assertIn(b"Subject: lmtp", f.read())
        self.assertFalse(os.path.exists(os.path.join(t.maildir, "me@local.test")))

    # ---- the queue: retries, crashes, listing ---------------------------------

    def test_deferred_then_flushed(self):
        port = free_port()
        t = self.start_ternd("--domain", "local.test", "--relay-from", "127.0.0.1",
                             "--relayhost", "[127.0.0.1]:%d" % port)
        self.send(t, ["x@far.test"], "retry")
        self.wait_log(t, r"to=<x@far\.test>, .*dsn=4\.4\.1, status=deferred")
        # mailq-like listing: the message and why it waits.
        out = self.queue(t, "list")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(b"a@local.test", out.stdout)
        self.assertIn(b"x@far.test", out.stdout)
        # The server comes up; the retry is not due for minutes: flush.
        sink = self.aiosmtpd(port=port)
        out = self.queue(t, "flush", "ALL")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.wait_messages(sink, 1)
        self.wait_log(t, r"to=<x@far\.test>, .*status=sent")

    def test_kill9_loses_nothing(self):
        # The relay host answers nothing for 30 s after DATA (smtp-sink
        # -w): ternd is killed with deliveries in flight and the rest
        # waiting in the queue.
        sink_bin = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        if not os.path.exists(sink_bin):
            self.skipTest("Postfix's smtp-sink not installed")
        port = free_port()
        user = ["-u", "nobody"] if os.getuid() == 0 else []
        hang = subprocess.Popen([sink_bin] + user + ["-w", "30", "127.0.0.1:%d" % port, "64"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (hang.poll() is None and hang.kill(), hang.wait(timeout=10)))
        state = self.tmpdir()
        args = ("--domain", "local.test", "--relay-from", "127.0.0.1",
                "--relayhost", "[127.0.0.1]:%d" % port, "--state-dir", state)
        first = Ternd(*args)
        self.servers.append(first)
        first.start()
        n = 20
        for i in range(n):
            self.assertEqual(self.send(first, ["x%d@far.test" % i], "durable %d" % i), {})
        self.wait_log(first, r"connecting to 127\.0\.0\.1", count=2)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=30)
        self.servers.remove(first)
        first.cleanup()
        hang.kill()
        hang.wait(timeout=10)
        # Started again with a server that answers: every acknowledged
        # message arrives (at least once), none is lost.
        sink = self.aiosmtpd(port=port)
        second = Ternd(*args)
        second.state_dir = state
        self.servers.append(second)
        second.start()
        out = self.queue(second, "flush", "ALL")
        self.assertEqual(out.returncode, 0, out.stderr)
        deadline = time.monotonic() + 60
        want = {b"durable %d" % i for i in range(n)}
        while True:
            got = {re.search(rb"Subject: (durable \d+)", d).group(1) for _, d in sink.messages()}
            if got >= want:
                break
            self.assertLess(time.monotonic(), deadline, "arrived: %r" % sorted(got))
            time.sleep(0.1)
        self.assertEqual(got, want)
        # And the queue empties.
        deadline = time.monotonic() + 20
        while self.queue(second, "list").stdout.count(b"@far.test") > 0:
            self.assertLess(time.monotonic(), deadline, self.queue(second, "list").stdout)
            time.sleep(0.1)

    def test_max_queue_size(self):
        t = self.start_ternd("--domain", "local.test", "--relay-from", "127.0.0.1",
                             "--relayhost", "[127.0.0.1]:%d" % free_port(),
                             "--max-queue-size", "1")
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@local.test> SIZE=100", 250)
        c.expect(self, "RCPT TO:<y@far.test>", 250)
        c.expect(self, "DATA", 452, "4.3.1")
        c.expect(self, "RSET", 250)
        # Local mail does not go through the queue: still taken.
        c.expect(self, "MAIL FROM:<a@local.test>", 250)
        c.expect(self, "RCPT TO:<me@local.test>", 250)
        c.expect(self, "DATA", 354)
        c.send(MSG % b"local" + b".\r\n")
        c.expect(self, None, 250)
        c.expect(self, "QUIT", 221)
