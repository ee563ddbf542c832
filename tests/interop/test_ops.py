"""ternd operations: --user (privileges dropped after binding), SIGHUP
re-reading the --config file, and --check-config reporting every problem."""

import os
import pwd
import shutil
import signal
import smtplib
import stat
import subprocess
import tempfile
import time

from ternlib import TERND, TerndTestCase

BODY = b"Subject: ops\r\n\r\nstored as someone else\r\n"


def ids_of(pid):
    """{tid: (uid line, gid line, groups line)} for every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        lines = {}
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                key, _, value = line.partition(":")
                lines[key] = value.split()
        out[tid] = (lines["Uid"], lines["Gid"], lines.get("Groups", []))
    return out


def nobody():
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


class UserTest(TerndTestCase):
    """--user NAME: bind as root, then run as NAME."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root")
        self.pw = nobody()
        if self.pw is None:
            self.skipTest("no user 'nobody'")

    def make(self, *args, **kw):
        from ternlib import Ternd
        # LeakSanitizer attaches with ptrace, which a process that changed
        # its uid (no longer dumpable) refuses.
        t = Ternd("--user", "nobody", *args, env={"ASAN_OPTIONS": "detect_leaks=0"}, **kw)
        # mkdtemp's 0700 would keep nobody out of everything below.
        os.chmod(t.dir, 0o755)
        self.servers.append(t)
        return t

    def test_runs_as_user_and_stores_mail(self):
        t = self.make().start()
        for tid, (uid, gid, groups) in ids_of(t.pid()).items():
            self.assertEqual(uid, [str(self.pw.pw_uid)] * 4, "thread %s" % tid)
            self.assertEqual(gid, [str(self.pw.pw_gid)] * 4, "thread %s" % tid)
            self.assertNotIn("0", groups, "thread %s kept root's group" % tid)
        with smtplib.SMTP("127.0.0.1", t.port, timeout=10) as s:
            s.sendmail("a@example.com", ["b@example.com"], BODY)
        self.assertStored(t, "b@example.com", BODY)
        # What ternd made as root was given to the user.
        for path in (t.maildir, t.state_dir, t.files("b@example.com")[0]):
            self.assertEqual(os.stat(path).st_uid, self.pw.pw_uid, path)
        self.assertIn("running as nobody", t.log_text())
        # The generated certificate is readable by the user: SIGHUP reloads it.
        os.kill(t.pid(), signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "TLS: certificates reloaded" not in t.log_text() and \
                "TLS reload failed" not in t.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertNotIn("TLS reload failed", t.log_text())
        self.assertNotIn("cannot read", t.log_text())

    def test_maildir_not_writable_by_user(self):
        t = self.make()
        os.mkdir(t.maildir, 0o700)  # root's
        p = subprocess.run(t.cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"), timeout=30)
        t.proc = None
        self.assertEqual(p.returncode, 73, p.stderr)
        self.assertIn(b"user nobody cannot write there", p.stderr)

    def test_user_needs_root(self):
        # Run as nobody, who may not reach the build tree (a fresh clone
        # under a 0700 mktemp directory, as CI makes): a copy of the
        # binary in a directory anyone can enter.
        d = tempfile.mkdtemp(prefix="tern-ops-bin-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        binary = os.path.join(d, "ternd")
        shutil.copy2(TERND, binary)
        os.chmod(binary, 0o755)
        p = subprocess.run([binary, "--user", "nobody", "--listen", "127.0.0.1:1"],
                           capture_output=True, timeout=30, cwd=d,
                           preexec_fn=lambda: os.setuid(self.pw.pw_uid))
        self.assertEqual(p.returncode, 64, p.stderr)
        self.assertIn(b"only root can switch users", p.stderr)

    def test_unknown_user(self):
        p = subprocess.run([TERND, "--user", "no-such-user-tern", "--listen", "127.0.0.1:1"],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 64, p.stderr)
        self.assertIn(b"no such user", p.stderr)


class ReloadTest(TerndTestCase):
    """SIGHUP re-reads --config: limits and trusted networks apply to new
    connections, live sessions go on with theirs, restart-only changes are
    named."""

    def wait_log(self, t, text, count=1, timeout=5):
        deadline = time.monotonic() + timeout
        while t.log_text(tail=1 << 20).count(text) < count:
            if time.monotonic() > deadline:
                self.fail("no %r in the log:\n%s" % (text, t.log_text()))
            time.sleep(0.05)

    def test_sighup_rereads_config(self):
        from ternlib import RawClient, Ternd
        t = Ternd()
        conf = os.path.join(t.dir, "ternd.conf")
        with open(conf, "w") as f:
            f.write("max-size = 1M\nmax-recipients = 5\n")
        t.cmd += ["--config", conf]
        self.servers.append(t)
        t.start()
        c = self.client(t)
        self.assertIn("SIZE 1048576", c.expect(self, "EHLO client.example", 250).text)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)

        # Unchanged: said so.
        os.kill(t.pid(), signal.SIGHUP)
        self.wait_log(t, "no setting changed")

        # Limits apply to new connections at once; a setting that needs a
        # restart is named and keeps its running value.
        with open(conf, "w") as f:
            f.write("max-size = 2M\nmax-recipients = 1\nworkers = 2\n")
        os.kill(t.pid(), signal.SIGHUP)
        self.wait_log(t, "applying: max-size = 2097152")
        self.wait_log(t, "applying: max-recipients = 1")
        self.wait_log(t, "changed, needs a restart: workers = 2")
        self.wait_log(t, "2 setting(s) applied to new connections, the others when ternd restarts")
        d = self.client(t)
        self.assertIn("SIZE 2097152", d.expect(self, "EHLO client.example", 250).text)
        d.expect(self, "MAIL FROM:<a@example.com>", 250)
        d.expect(self, "RCPT TO:<one@example.com>", 250)
        d.expect(self, "RCPT TO:<two@example.com>", 452, "4.5.3")
        d.expect(self, "QUIT", 221)

        # Every mistake is reported with its line; nothing is applied.
        with open(conf, "w") as f:
            f.write("max-size = lots\nbogus = 1\nmax-recipients = 5\n")
        os.kill(t.pid(), signal.SIGHUP)
        self.wait_log(t, "%s:1: --max-size" % conf)
        self.wait_log(t, "%s:2: unknown key 'bogus'" % conf)
        self.wait_log(t, "not applied")

        # Trusted networks too: now loopback is a proxy, whose connections
        # must begin with a PROXY header, and one that does not is closed
        # without a word.
        with open(conf, "w") as f:
            f.write("max-size = 2M\nmax-recipients = 1\nproxy-from = 127.0.0.1\n")
        os.kill(t.pid(), signal.SIGHUP)
        self.wait_log(t, "applying: proxy-from = 127.0.0.1")
        self.wait_log(t, "reconfigured: new connections use the new settings")
        p = RawClient(t.port, read_greeting=False)
        self.clients.append(p)
        p.send(b"PROXY TCP4 192.0.2.9 192.0.2.1 40000 25\r\n")
        p.expect(self, None, 220)
        p.expect(self, "QUIT", 221)
        self.wait_log(t, "connection from 192.0.2.9:40000")

        # The session that was open all along still works, with the limits
        # it began with (five recipients, not one).
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.expect(self, "RCPT TO:<c@example.com>", 250)
        c.expect(self, "DATA", 354)
        c.send(BODY + b".\r\n")
        c.expect(self, None, 250)
        self.assertStored(t, "b@example.com", BODY)
        self.assertStored(t, "c@example.com", BODY)


class CheckConfigTest(TerndTestCase):
    def test_reports_every_problem(self):
        from ternlib import Ternd
        t = Ternd()
        self.addCleanup(t.cleanup)
        conf = os.path.join(t.dir, "bad.conf")
        with open(conf, "w") as f:
            f.write("max-size = 5Q\nbogus = 1\nworkers = 0\ntls-cert = /nonexistent.crt\n"
                    "tls-key = /nonexistent.key\nuser = no-such-user-tern\n")
        p = subprocess.run([TERND, "--config", conf, "--check-config", "--max-clients", "x"],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 64, p.stderr)
        err = p.stderr.decode()
        for want in ("bad.conf:1: --max-size", "bad.conf:2: unknown key 'bogus'",
                     "bad.conf:3: --workers", "--max-clients: 'x'",
                     "--tls-cert /nonexistent.crt", "--tls-key /nonexistent.key",
                     "--user no-such-user-tern: no such user", "7 problems found"):
            self.assertIn(want, err)
        self.assertEqual(p.stdout, b"")

    def test_clean_config_prints_it(self):
        p = subprocess.run([TERND, "--check-config", "--listen", "127.0.0.1:2525"],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"listen = 127.0.0.1:2525", p.stdout)
