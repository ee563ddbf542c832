"""What the outbound tests share: servers nobody here wrote as delivery
targets (aiosmtpd, Node's smtp-server, Postfix's smtp-sink, each writing what
it got into a directory), the loopback DNS server, and waits on ternd's log
and mailboxes."""

import email
import email.policy
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from ternlib import TerndTestCase, free_port, tool, wait_listening
from test_dns import DnsServer

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, which has aiosmtpd and dnslib


class Sink:
    """A server process that writes NNNN.json/NNNN.eml per message into a
    directory and prints "ready PORT"."""

    def __init__(self, cmd, directory, port):
        self.dir = directory
        self.port = port
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ready"):
            self.stop()
            raise AssertionError("sink did not start: %r" % line)

    def messages(self):
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".json"):
                with open(os.path.join(self.dir, name)) as f:
                    meta = json.load(f)
                with open(os.path.join(self.dir, name[:-5] + ".eml"), "rb") as f:
                    out.append((meta, f.read()))
        return out

    def sessions(self):
        try:
            with open(os.path.join(self.dir, "sessions")) as f:
                return len(f.read().splitlines())
        except OSError:
            return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        if self.proc.stdin:
            self.proc.stdin.close()


class MtaTestCase(TerndTestCase):
    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="tern-deliver-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def aiosmtpd(self, *args, port=None):
        d, port = self.tmpdir(), port or free_port()
        s = Sink([PYTHON, os.path.join(HERE, "sink_aiosmtpd.py"), "--port", str(port),
                  "--dir", d] + list(args), d, port)
        self.addCleanup(s.stop)
        return s

    def node(self, **conf):
        node = tool("node")
        if node is None or not os.path.isdir(os.path.join(HERE, "node_modules", "smtp-server")):
            self.skipTest("node or smtp-server missing (scripts/install-deps.sh)")
        d, port = self.tmpdir(), free_port()
        conf.update(port=port, dir=d)
        s = Sink([node, os.path.join(HERE, "sink_node.js"), json.dumps(conf)], d, port)
        self.addCleanup(s.stop)
        return s

    def smtp_sink(self, *args):
        sink = tool("smtp-sink")
        if sink is None:
            self.skipTest("Postfix's smtp-sink not installed")
        port = free_port()
        user = ["-u", "nobody"] if os.getuid() == 0 else []
        p = subprocess.Popen([sink] + user + list(args) + ["127.0.0.1:%d" % port, "64"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (p.kill(), p.wait(timeout=10)))
        wait_listening(port, p)
        return port

    def dns(self, zone, **kw):
        d = DnsServer(self.tmpdir(), zone, **kw)
        self.addCleanup(d.stop)
        return d

    def wait_log(self, t, pattern, count=1, timeout=20):
        """Waits until pattern (a regex) matches count times in t's log."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            n = len(rx.findall(t.log_text(tail=1 << 22)))
            if n >= count:
                return
            if time.monotonic() > deadline:
                self.fail("%d of %d %r in the log:\n%s" % (n, count, pattern, t.log_text()))
            time.sleep(0.05)

    def wait_messages(self, sink, count, timeout=20):
        deadline = time.monotonic() + timeout
        while len(sink.messages()) < count:
            if time.monotonic() > deadline:
                self.fail("%d of %d messages arrived" % (len(sink.messages()), count))
            time.sleep(0.05)
        return sink.messages()

    def mailbox(self, t, who, count=1, timeout=20):
        """The messages in t's Maildir for who (at least count), parsed."""
        new = os.path.join(t.maildir, who, "new")
        deadline = time.monotonic() + timeout
        while True:
            files = sorted(os.listdir(new)) if os.path.isdir(new) else []
            if len(files) >= count:
                out = []
                for f in files:
                    with open(os.path.join(new, f), "rb") as fh:
                        out.append(email.message_from_bytes(fh.read(),
                                                            policy=email.policy.default))
                return out
            self.assertLess(time.monotonic(), deadline,
                            "no mail for %s:\n%s" % (who, t.log_text(tail=20000)))
            time.sleep(0.05)
