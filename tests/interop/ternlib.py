"""Shared helpers of the interop tests: start/stop ternd, read its Maildir,
talk raw SMTP over a socket.

Every test starts its own ternd on 127.0.0.1 with a free port and a fresh
maildir, and stops it with SIGTERM at the end, checking that it exits 0 (so an
ASan/LSan build that finds a leak or a memory error fails the test) and that
its log holds no sanitizer report.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TERND = os.path.abspath(os.environ.get("TERND", os.path.join(ROOT, "build", "ternd")))

SOCKET_TIMEOUT = 10.0
START_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0
TEST_TIMEOUT = 120  # seconds; a test running longer is failed by an alarm

# What ternd prepends to every stored message, before the client's bytes.
ADDED_HEADERS = ("return-path", "delivered-to", "received")
# Added only when ternd checked the message (--auth-checks): allowed, not required.
OPTIONAL_ADDED = ("authentication-results",)

SANITIZER_MARKERS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer",
                     b"runtime error:", b"AddressSanitizer:DEADLYSIGNAL")


def free_port():
    """A TCP port that was free a moment ago (bind to port 0, read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(name):
    """Path of an external program or None."""
    path = shutil.which(name)
    if path is None and os.path.exists("/usr/sbin/" + name):
        path = "/usr/sbin/" + name
    return path


def mailbox_name(address):
    """The directory ternd uses for a recipient (docs/ternd.md, maildir.h):
    domain lower-cased; A-Z a-z 0-9 "+-_=@" kept, '.' kept except first;
    every other byte as %XX (upper-case hex)."""
    if isinstance(address, str):
        address = address.encode("utf-8")
    at = address.rfind(b"@")
    if at < 0:
        address = address.lower()
    else:
        address = address[:at] + address[at:].lower()
    out = []
    for i, b in enumerate(address):
        c = chr(b)
        if b < 128 and (c.isalnum() or c in "+-_=@" or (c == "." and i > 0)):
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def split_added_headers(data):
    """Splits a stored file into (added header block, client message).

    Strips, from the top, one each of Return-Path:, Delivered-To: and
    Received: (with continuation lines), in any order, and an
    Authentication-Results: above the Received: (--auth-checks); raises
    AssertionError if one of the three is missing. Only the first
    Received: is ternd's."""
    pos = 0
    seen = []
    while True:
        m = re.match(rb"([A-Za-z-]+):", data[pos:])
        if not m:
            break
        name = m.group(1).decode().lower()
        # ternd's Authentication-Results comes before its Received:; one
        # after it is the client's.
        optional = name in OPTIONAL_ADDED and "received" not in seen
        if (name not in ADDED_HEADERS and not optional) or name in seen:
            break
        seen.append(name)
        end = pos
        while True:  # this line, then any continuation lines
            nl = data.find(b"\n", end)
            if nl < 0:
                raise AssertionError("stored file ends inside an added header")
            end = nl + 1
            if end >= len(data) or data[end:end + 1] not in (b" ", b"\t"):
                break
        pos = end
    missing = [h for h in ADDED_HEADERS if h not in seen]
    if missing:
        raise AssertionError("stored file lacks added header(s) %s: %r"
                             % (missing, data[:300]))
    return data[:pos], data[pos:]


class Ternd:
    """One ternd process with its own port, maildir and log file."""

    def __init__(self, *args, lmtp=False, wrapper=None, port=None, env=None,
                 default_greeting_delay=False, dns=False):
        self.dir = tempfile.mkdtemp(prefix="tern-interop-")
        self.maildir = os.path.join(self.dir, "mail")
        self.log_path = os.path.join(self.dir, "ternd.log")
        self.port = port or free_port()
        self.cmd = [TERND, "--listen", "127.0.0.1:%d" % self.port, "--maildir", self.maildir,
                    "--hostname", "tern.test", "--log-level", "debug"]
        if lmtp:
            self.cmd.append("--lmtp")
        # Generated files (the self-signed certificate) stay in the test's
        # own directory, never in the working tree.
        # ternd waits 1 s before greeting on --listen by default (the
        # pregreet test); the tests that want it say so.
        if "--greeting-delay" not in args and not default_greeting_delay:
            self.cmd += ["--greeting-delay", "0"]
        # No test asks the machine's resolver: reverse DNS is off unless a
        # test asks for it (dns=True, or its own --dns-server).
        if not dns and "--dns-server" not in args and "--no-reverse-dns" not in args:
            self.cmd.append("--no-reverse-dns")
        # Nor for SPF, DKIM and DMARC, which look at clients that are not on
        # loopback (PROXY and XCLIENT tests name such clients): the tests of
        # those checks give their own --dns-server.
        if not dns and "--dns-server" not in args and "--auth-checks" not in args:
            self.cmd += ["--auth-checks", "no"]
        if "--state-dir" not in args:
            self.state_dir = os.path.join(self.dir, "state")
            self.cmd += ["--state-dir", self.state_dir]
        self.cmd += list(args)
        self.wrapped = bool(wrapper)
        if wrapper:
            self.cmd = list(wrapper) + self.cmd
        self.proc = None
        self.returncode = None
        self.env = env or {}
        self.signalled = False

    def start(self):
        env = dict(os.environ)
        env.update(self.env)
        # Sanitizer builds: fail loudly; leaks count (exit code checked at stop).
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("ternd exited with %d at start:\n%s"
                                     % (self.proc.returncode, self.log_text()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("ternd did not accept connections within %.0f s:\n%s"
                             % (START_TIMEOUT, self.log_text()))

    def log_text(self, tail=4000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data[-tail:].decode("utf-8", "replace")

    def pid(self):
        """ternd's pid; under a wrapper (strace), the wrapper's child."""
        if not self.wrapped:
            return self.proc.pid
        path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
        try:
            with open(path) as f:
                kids = f.read().split()
        except OSError:
            kids = []
        return int(kids[0]) if kids else self.proc.pid

    def signal(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.signalled = True
            os.kill(self.pid(), sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Waits for exit; returns the exit code or None after timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self):
        """SIGTERM, then wait; returns a list of problems (empty when clean)."""
        problems = []
        if self.proc is None:
            return problems
        # A second SIGTERM makes ternd exit at once with 1: send only one.
        if not self.signalled:
            self.signal(signal.SIGTERM)
        rc = self.wait()
        if rc is None:
            problems.append("ternd did not exit within %.0f s of SIGTERM" % STOP_TIMEOUT)
            self.proc.kill()
            self.proc.wait(timeout=5)
        elif rc != 0:
            problems.append("ternd exited with %d (want 0)" % rc)
        self.log.close()
        with open(self.log_path, "rb") as f:
            log = f.read()
        for marker in SANITIZER_MARKERS:
            if marker in log:
                problems.append("sanitizer report in ternd's log (%s)" % marker.decode())
                break
        leftovers = self.tmp_files()
        if leftovers:
            problems.append("files left in tmp/: %s" % leftovers)
        return problems

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the maildir -------------------------------------------------

    def mailbox(self, address):
        return os.path.join(self.maildir, mailbox_name(address))

    def mailboxes(self):
        if not os.path.isdir(self.maildir):
            return []
        return sorted(d for d in os.listdir(self.maildir)
                      if os.path.isdir(os.path.join(self.maildir, d)))

    def files(self, address=None, sub="new"):
        """Paths of the stored files of one recipient (or of all)."""
        boxes = [mailbox_name(address)] if address is not None else self.mailboxes()
        out = []
        for box in boxes:
            d = os.path.join(self.maildir, box, sub)
            if os.path.isdir(d):
                out += sorted(os.path.join(d, f) for f in os.listdir(d))
        return out

    def tmp_files(self):
        return self.files(sub="tmp")

    def all_stored(self):
        return self.files()

    def read(self, address, count=1):
        """The client messages stored for address: exactly `count` files,
        returned as [(added headers, message bytes), ...]."""
        paths = self.files(address)
        if len(paths) != count:
            raise AssertionError("want %d file(s) for %r in %s, found %d; mailboxes: %s"
                                 % (count, address, self.mailbox(address), len(paths),
                                    self.mailboxes()))
        out = []
        for p in paths:
            with open(p, "rb") as f:
                out.append(split_added_headers(f.read()))
        return out

    def read_one(self, address):
        return self.read(address, 1)[0][1]


class Reply:
    def __init__(self, lines):
        self.lines = lines          # list of bytes, without CRLF
        self.code = int(lines[-1][:3])
        last = lines[-1][4:].decode("utf-8", "replace")
        m = re.match(r"([245]\.\d{1,3}\.\d{1,3})( |$)", last)
        self.enhanced = m.group(1) if m else None
        self.text = "\n".join(l.decode("utf-8", "replace") for l in lines)

    def __repr__(self):
        return "Reply(%r)" % self.text


class RawClient:
    """A raw SMTP connection: send bytes, read replies, keep a transcript."""

    def __init__(self, port, read_greeting=True, timeout=SOCKET_TIMEOUT, tls=None,
                 server_hostname=None):
        """tls: an ssl.SSLContext for an implicit-TLS port (handshake first)."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.transcript = []
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=server_hostname)
            self.transcript.append("-- TLS %s %s" % (self.sock.version(), self.sock.cipher()[0]))
        if read_greeting:
            self.greeting = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.transcript.append("C: %r" % data[:300])
        self.sock.sendall(data)

    def line(self):
        """One line without CRLF; b'' at EOF (buffered partial line dropped)."""
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                rest, self.buf = self.buf, b""
                if rest:
                    self.transcript.append("S (no CRLF before EOF): %r" % rest)
                return b""
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """One (possibly multi-line) reply; None at EOF."""
        lines = []
        while True:
            line = self.line()
            if not line:
                if lines:
                    raise AssertionError("EOF inside a multi-line reply: %r" % lines)
                self.transcript.append("S: <EOF>")
                return None
            self.transcript.append("S: %r" % line)
            if len(line) < 3 or not line[:3].isdigit():
                raise AssertionError("not a reply line: %r\n%s" % (line, self.dump()))
            lines.append(line)
            if len(line) == 3 or line[3:4] == b" ":
                return Reply(lines)

    def cmd(self, line):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply()

    def expect(self, testcase, line, code, enhanced=None):
        """Sends a command (or nothing when line is None) and asserts the reply."""
        r = self.cmd(line) if line is not None else self.reply()
        testcase.assertIsNotNone(r, "connection closed; want %s\n%s" % (code, self.dump()))
        testcase.assertEqual(r.code, code, "reply to %r\n%s" % (line, self.dump()))
        if enhanced is not None:
            testcase.assertEqual(r.enhanced, enhanced, "reply to %r\n%s" % (line, self.dump()))
        return r

    def closed(self, wait=SOCKET_TIMEOUT):
        """True when the server closes the connection (reads EOF) in time;
        raises if more replies arrive instead."""
        self.sock.settimeout(wait)
        try:
            while True:
                if self.buf:
                    raise AssertionError("unexpected data before close: %r" % self.buf)
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.transcript.append("S: <EOF>")
                    return True
                self.buf += chunk
        except ConnectionResetError:
            self.transcript.append("S: <RST>")
            return True
        except socket.timeout:
            return False

    def pending(self, wait=0.5):
        """Bytes that arrive within `wait` seconds without sending anything."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
        except socket.timeout:
            pass
        finally:
            self.sock.settimeout(SOCKET_TIMEOUT)
        return self.buf

    def dump(self):
        return "transcript:\n  " + "\n  ".join(self.transcript[-40:])

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def starttls(self, context, server_hostname=None):
        """The TLS handshake on the live socket (after the 220 to STARTTLS).
        Bytes the server sent after the 220 would belong to neither layer:
        refuse to go on if any are buffered."""
        if self.buf:
            raise AssertionError("plaintext after the 220 to STARTTLS: %r\n%s"
                                 % (self.buf, self.dump()))
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.transcript.append("-- TLS %s %s" % (self.sock.version(), self.sock.cipher()[0]))
        return self.sock


# ---- TLS helpers (certificates and client contexts) ---------------------

def client_context(minimum=None, maximum=None, alpn=None, cafile=None):
    """A client SSLContext. Without cafile it checks nothing (test
    certificates); with it, the chain and the host name are verified."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def make_cert(directory, name, hosts, key_type="rsa", ca=None, is_ca=False, days=30):
    """Makes a certificate and its key with `openssl req -x509` in directory:
    returns (cert path, key path). hosts: DNS names or IP addresses for the
    subjectAltName; the first is also the CN. key_type "rsa" (2048 bits) or
    "ec" (P-256). ca: (cert, key) of a CA to sign with, else self-signed.
    Raises unittest.SkipTest when openssl is missing."""
    openssl = tool("openssl")
    if openssl is None:
        raise unittest.SkipTest("openssl not installed (needed to make test certificates)")
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    if key_type == "rsa":
        newkey = ["-newkey", "rsa:2048"]
    elif key_type == "ec":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    else:
        raise ValueError("key_type %r" % key_type)
    san = ",".join(("IP:" if re.match(r"^[0-9.]+$|:", h) else "DNS:") + h for h in hosts)
    args = [openssl, "req", "-x509", "-noenc", "-days", str(days), "-subj", "/CN=" + hosts[0],
            "-keyout", key, "-out", cert] + newkey
    if is_ca:
        args += ["-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    else:
        args += ["-addext", "subjectAltName=" + san,
                 "-addext", "basicConstraints=critical,CA:FALSE",
                 "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
                 "-addext", "extendedKeyUsage=serverAuth,clientAuth"]
    if ca is not None:
        args += ["-CA", ca[0], "-CAkey", ca[1]]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0:
        raise AssertionError("openssl req failed (%d): %s"
                             % (p.returncode, p.stdout.decode(errors="replace")))
    return cert, key


def cert_der(path):
    """The DER bytes of the first certificate of a PEM file (to compare with
    SSLSocket.getpeercert(binary_form=True))."""
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class ToolsMixin:
    """For test cases that run real clients: a missing tool is a skip with
    its reason, and a tool's failure shows its output."""

    TOOL_TIMEOUT = 60

    def need(self, name):
        path = tool(name)
        if path is None:
            self.skipTest("%s not installed (scripts/install-deps.sh installs it)" % name)
        return path

    def run_tool(self, args, input=None, ok=True, cwd=None):
        p = subprocess.run(args, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=self.TOOL_TIMEOUT, cwd=cwd)
        if ok:
            self.assertEqual(p.returncode, 0, "%s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (args[0], p.returncode, p.stdout.decode(errors="replace")[-3000:],
                                p.stderr.decode(errors="replace")[-3000:]))
        return p


class TerndTestCase(unittest.TestCase):
    """Base class: start_ternd() starts a server that tearDown stops and checks."""

    def setUp(self):
        if not os.access(TERND, os.X_OK):
            self.fail("ternd not found at %s (set TERND or build it)" % TERND)
        self.servers = []
        self.clients = []
        signal.signal(signal.SIGALRM, self._timeout)
        signal.alarm(TEST_TIMEOUT)

    def _timeout(self, signum, frame):
        raise TimeoutError("test ran longer than %d s" % TEST_TIMEOUT)

    def start_ternd(self, *args, **kw):
        t = Ternd(*args, **kw)
        self.servers.append(t)
        return t.start()

    def client(self, server, **kw):
        c = RawClient(server.port, **kw)
        self.clients.append(c)
        return c

    def tearDown(self):
        signal.alarm(0)
        for c in self.clients:
            c.close()
        problems = []
        for t in self.servers:
            p = t.stop()
            if p:
                problems.append("%s\n--- ternd log (tail) ---\n%s" % ("; ".join(p), t.log_text()))
            else:
                t.cleanup()
        if problems:
            self.fail("\n".join(problems))

    # ---- assertions ----------------------------------------------------

    def assertStored(self, server, address, expected, count=1):
        """Every one of the `count` files of address holds exactly expected."""
        for added, body in server.read(address, count):
            self.assertTrue(added.endswith(b"\r\n"),
                            "added headers do not end with CRLF: %r" % added)
            self.assertBytesEqual(body, expected)

    def assertBytesEqual(self, got, want):
        if got == want:
            return
        n = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                 min(len(got), len(want)))
        self.fail("stored message differs at byte %d (stored %d bytes, sent %d):\n"
                  "  stored: %r\n  sent:   %r"
                  % (n, len(got), len(want), got[max(0, n - 40):n + 60],
                     want[max(0, n - 40):n + 60]))

    def assertNothingStored(self, server):
        self.assertEqual(server.all_stored(), [], "something was stored")


# ---- example programs (examples/*.c), built next to ternd ------------------

def example_path(name):
    """Path of the built example `name` (example_submission, ...): env
    TERN_EXAMPLES_DIR, else the directory of TERND (CMake puts both in the
    build directory)."""
    d = os.environ.get("TERN_EXAMPLES_DIR", os.path.dirname(TERND))
    return os.path.join(d, name)


def wait_listening(port, proc=None, timeout=START_TIMEOUT):
    """Waits until 127.0.0.1:port accepts a connection; raises
    AssertionError if proc (a Popen) exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("process exited with %d before listening" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nothing listening on port %d after %.0f s" % (port, timeout))
