"""Durability: no message is acknowledged (250) unless it is stored durably,
and nothing partial ever appears in new/ (RFC 5321 6.1; docs/ternd.md,
"Durability"; smtp-security.md section 2, items 2 and 3).

- CrashTest: clients send numbered messages over several connections while
  ternd is SIGKILLed and restarted on the same maildir at points chosen by
  message counts (never by sleeps). Every acknowledged message must be in
  new/, byte-identical; every file in new/ must be a whole message.
- CrashPointTest: faultfs.c kills ternd at the k-th fsync / rename / write of
  a delivery, for every k, so each step of the commit is crashed once.
- FaultTest: faultfs.c makes fsync / write / rename fail with EIO or ENOSPC:
  the client gets 451 4.3.0 / 452 4.3.1, never 250, nothing lands in new/,
  and the session goes on; in LMTP only the failing recipient gets the 4xx.

A kill -9 proves crash safety of the process only (the page cache survives);
power loss would need dm-log-writes, out of reach here.

Env: DUR_SEED (default 20261123) changes the messages and the kill points.
"""

import atexit
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import ternlib
from ternlib import RawClient, Ternd, TerndTestCase, mailbox_name, split_added_headers

SEED = int(os.environ.get("DUR_SEED", "20261123"))
VERBOSE = os.environ.get("DUR_VERBOSE") == "1"   # print what each test covered
SENDER = "sender@example.org"
WAIT = 30.0           # bound of every wait on another thread or process
MAX_ATTEMPTS = 12     # per message in the crash test

# Printable bytes without "." (dot lines are made on purpose), CR or LF.
_ALPHABET = bytes(b for b in range(0x20, 0x7f) if b != ord("."))
_TABLE = bytes(_ALPHABET[i % len(_ALPHABET)] for i in range(256))


def make_message(seq, seed=SEED, min_size=100, max_size=200 * 1024):
    """Message `seq`: headers with X-Seq, then random lines (some starting
    with "." to exercise dot-stuffing) up to a random size. Returns the bytes
    as ternd must store them (CRLF line ends, not dot-stuffed)."""
    rng = random.Random(seed * 1000003 + seq)
    target = rng.randint(min_size, max_size)
    head = ("From: <%s>\r\nTo: <box@example.com>\r\nSubject: durability %d\r\n"
            "X-Seq: %d\r\n\r\n" % (SENDER, seq, seq)).encode()
    raw = rng.randbytes(max(target - len(head), 1)).translate(_TABLE)
    lines = []
    pos = 0
    while pos < len(raw):
        n = rng.randint(0, 200)
        line = raw[pos:pos + n]
        pos += n
        if rng.random() < 0.05:
            line = b"." + line
        lines.append(line + b"\r\n")
    return head + b"".join(lines)


def dot_stuff(msg):
    """The DATA payload for msg, ending in the end-of-data line."""
    out = msg.replace(b"\r\n.", b"\r\n..")
    if out.startswith(b"."):
        out = b"." + out
    return out + b".\r\n"


def sha(data):
    return hashlib.sha256(data).hexdigest()


def is_asan(path):
    """True for an ASan build (gcc links libasan.so, clang links it in)."""
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    if "asan" in out:
        return True
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def asan_runtime(path):
    """Path of the shared ASan runtime ternd links (gcc), else None."""
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"(\S*libasan\S*) => (\S+)", out)
    return m.group(2) if m else None


def build_shim(testcase):
    """Compiles faultfs.c once per process; returns the .so path."""
    global _SHIM
    if _SHIM is None:
        src = os.path.join(ternlib.HERE, "faultfs.c")
        d = tempfile.mkdtemp(prefix="tern-faultfs-")
        atexit.register(shutil.rmtree, d, True)
        so = os.path.join(d, "faultfs.so")
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if cc is None:
            testcase.skipTest("no C compiler to build faultfs.c")
        r = subprocess.run([cc, "-shared", "-fPIC", "-o", so, src, "-ldl"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            testcase.fail("faultfs.c does not build:\n" + r.stderr)
        _SHIM = so
    return _SHIM


_SHIM = None


def shim_env(testcase, **faults):
    """Environment that preloads faultfs with FAULTFS_<key>=value."""
    so = build_shim(testcase)
    rt = asan_runtime(ternlib.TERND)
    env = {"LD_PRELOAD": (rt + " " + so) if rt else so,
           # No leak check: LeakSanitizer reports the allocations of a
           # process killed by the shim's SIGKILL as nothing, but keep it
           # quiet about the preload order anyway.
           "ASAN_OPTIONS": "abort_on_error=0:detect_leaks=1:verify_asan_link_order=0"}
    for k, v in faults.items():
        env["FAULTFS_" + k.upper()] = str(v)
    return env


def parse_stored(path):
    """(Delivered-To address, message bytes) of a file in new/; raises
    AssertionError when the file is not whole."""
    with open(path, "rb") as f:
        data = f.read()
    m = re.search(r",S=(\d+)$", os.path.basename(path))
    if not m:
        raise AssertionError("file name without ,S=: %s" % path)
    if int(m.group(1)) != len(data):
        raise AssertionError("%s: name says S=%s, file has %d bytes"
                             % (path, m.group(1), len(data)))
    added, msg = split_added_headers(data)
    d = re.search(rb"(?im)^Delivered-To: <?([^>\r\n]*)>?\r?$", added)
    rp = re.search(rb"(?im)^Return-Path: <([^>\r\n]*)>\r?$", added)
    if d is None or rp is None:
        raise AssertionError("%s: bad added headers %r" % (path, added[:300]))
    if rp.group(1).decode() != SENDER:
        raise AssertionError("%s: Return-Path %r" % (path, rp.group(1)))
    return d.group(1).decode(), msg


def seq_of(msg):
    m = re.search(rb"\r\nX-Seq: (\d+)\r\n", msg)
    return int(m.group(1)) if m else None


class ServerDied(Exception):
    pass


# ---------------------------------------------------------------------------
# 1. SIGKILL at message-count-chosen points, clients retrying.
# ---------------------------------------------------------------------------

class Crasher:
    """One ternd on a fixed port and maildir that can be killed and
    restarted; a generation number tells clients a restart happened."""

    def __init__(self, *args):
        self.t = Ternd(*args)
        self.cond = threading.Condition()
        self.serial = threading.Lock()   # one kill/restart at a time
        self.gen = 0
        self.kills = 0
        self.restarting = False
        self.logs = []
        self.unexpected = []

    def start(self):
        self.t.start()

    def kill_and_restart(self):
        with self.serial:
            self._kill_and_restart()

    def _kill_and_restart(self):
        with self.cond:
            self.restarting = True
        try:
            if self.t.proc.poll() is not None:
                self.unexpected.append("ternd had exited with %s before a planned kill"
                                       % self.t.proc.returncode)
            self.t.proc.kill()                    # SIGKILL
            self.t.proc.wait(timeout=WAIT)
            self.t.log.close()
            old = "%s.%d" % (self.t.log_path, self.kills)
            os.replace(self.t.log_path, old)
            self.logs.append(old)
            self.kills += 1
            self.t.start()
        finally:
            with self.cond:
                self.gen += 1
                self.restarting = False
                self.cond.notify_all()

    def wait_newer(self, gen):
        """Waits until the server generation is past gen (a restart
        happened), bounded. Returns False on timeout."""
        deadline = time.monotonic() + WAIT
        with self.cond:
            while self.gen <= gen or self.restarting:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def current(self):
        with self.cond:
            return self.gen, self.restarting


class CrashTest(TerndTestCase):
    N = 300         # messages
    C = 4           # connections
    KILLS = 8       # SIGKILLs

    def test_sigkill_never_loses_acked_mail(self):
        rng = random.Random(SEED)
        msgs = {s: make_message(s) for s in range(self.N)}
        hashes = {s: sha(m) for s, m in msgs.items()}
        by_hash = {h: s for s, h in hashes.items()}
        rcpts = {s: ["box%d@example.com" % (s % 3)] + (["extra@example.com"] if s % 5 == 0 else [])
                 for s in range(self.N)}

        # Kill points: the k-th message attempt started (a count, not a
        # time), killed in one of three phases of that attempt: half-way
        # through the body, right after the end-of-data line (ternd is then
        # committing or about to), or right after its 250.
        points = sorted(rng.sample(range(10, self.N - 10), self.KILLS))
        phases = (["mid", "eod", "ack"] * self.KILLS)[:self.KILLS]
        rng.shuffle(phases)
        plan = dict(zip(points, phases))

        srv = Crasher("--workers", "2")
        srv.start()
        lock = threading.Lock()
        pending = list(range(self.N))
        pending.reverse()           # pop() takes the lowest first
        acked = {}                  # seq -> times a 250 arrived (must be 1)
        inflight = {s: 0 for s in range(self.N)}  # EOD sent, reply lost
        attempts = {s: 0 for s in range(self.N)}
        counter = [0]               # attempts started, all threads
        carry = []                  # kills whose attempt broke before its phase
        errors = []
        done = threading.Event()

        def log_error(text):
            with lock:
                errors.append(text)
            done.set()

        def take():
            with lock:
                if errors or not pending:
                    return None, None
                seq = pending.pop()
                attempts[seq] += 1
                if attempts[seq] > MAX_ATTEMPTS:
                    errors.append("message %d: no 250 after %d attempts" % (seq, MAX_ATTEMPTS))
                    return None, None
                counter[0] += 1
                phase = plan.get(counter[0])
                if phase is None and carry:
                    phase = carry.pop()
                return seq, phase

        def give_back(seq):
            with lock:
                pending.append(seq)

        def send_one(c, seq, phase, fired):
            """Sends message seq; raises OSError/ServerDied when the
            connection breaks; counts in inflight a message whose end of
            data went out without a reply coming back. fired[0] is set once
            the planned kill of this attempt was made."""
            def need(r, code, what):
                if r is None:
                    raise ServerDied("EOF after %s" % what)
                if r.code != code:
                    raise AssertionError("message %d: %s got %r (want %d)"
                                         % (seq, what, r.text, code))
            need(c.cmd("MAIL FROM:<%s>" % SENDER), 250, "MAIL")
            for r in rcpts[seq]:
                need(c.cmd("RCPT TO:<%s>" % r), 250, "RCPT")
            need(c.cmd("DATA"), 354, "DATA")
            payload = dot_stuff(msgs[seq])
            half = len(payload) // 2
            c.sock.sendall(payload[:half])
            if phase == "mid":
                fired[0] = True
                srv.kill_and_restart()
            with lock:
                inflight[seq] += 1      # from here on ternd may store it
            c.sock.sendall(payload[half:])
            if phase == "eod":
                fired[0] = True
                srv.kill_and_restart()
            r = c.reply()
            if r is None:
                raise ServerDied("EOF after the end of data")
            if r.code != 250:
                with lock:
                    inflight[seq] -= 1  # a refusal: nothing was kept
                raise AssertionError("message %d: end of data got %r" % (seq, r.text))
            with lock:
                inflight[seq] -= 1
                acked[seq] = acked.get(seq, 0) + 1
            if phase == "ack":
                fired[0] = True
                srv.kill_and_restart()

        def worker():
            c = None
            gen = -1
            try:
                while not done.is_set():
                    seq, phase = take()
                    if seq is None:
                        return
                    fired = [False]
                    try:
                        if c is None:
                            gen, restarting = srv.current()
                            if restarting and not srv.wait_newer(gen):
                                raise AssertionError("ternd did not come back")
                            gen, _ = srv.current()
                            c = RawClient(srv.t.port)
                            if c.greeting is None or c.greeting.code != 220:
                                raise ServerDied("no greeting")
                            r = c.cmd("EHLO dur.example")
                            if r is None or r.code != 250:
                                raise ServerDied("EHLO: %r" % r)
                        send_one(c, seq, phase, fired)
                    except (OSError, ServerDied) as e:
                        if phase is not None and not fired[0]:
                            with lock:
                                carry.append(phase)   # the next attempt makes it
                        if c is not None:
                            c.close()
                            c = None
                        give_back(seq)
                        now_gen, now_restarting = srv.current()
                        if now_gen == gen and not now_restarting and \
                                srv.t.proc.poll() is not None:
                            # Not one of our kills: the server died.
                            raise AssertionError("ternd exited by itself (%s) during "
                                                 "message %d: %s" % (srv.t.proc.returncode,
                                                                     seq, e))
                        if not srv.wait_newer(gen):
                            raise AssertionError("connection lost (%s) but ternd was not "
                                                 "restarted: message %d" % (e, seq))
            except Exception as e:  # noqa: BLE001 - reported to the main thread
                log_error("worker: %s: %s" % (type(e).__name__, e))
            finally:
                if c is not None:
                    c.close()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.C)]
        started = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=max(1.0, 100 - (time.monotonic() - started)))
        hung = [th for th in threads if th.is_alive()]
        done.set()

        problems = list(errors)
        if hung:
            problems.append("%d client thread(s) still running after 100 s" % len(hung))
        problems += srv.unexpected
        if srv.kills != self.KILLS and not problems:
            problems.append("planned %d kills, made %d" % (self.KILLS, srv.kills))

        # Final state: stop ternd cleanly (exit 0, no sanitizer report);
        # tmp/ may hold what the kills left.
        stop = [p for p in srv.t.stop() if not p.startswith("files left in tmp/")]
        for path in srv.logs:
            with open(path, "rb") as f:
                log = f.read()
            for marker in ternlib.SANITIZER_MARKERS:
                if marker in log:
                    stop.append("sanitizer report in %s" % path)
        problems += ["ternd at the end: " + p for p in stop]

        # Every file in new/ is whole: its size is in its name, its added
        # headers are there, its message is byte for byte one we sent to
        # that recipient.
        copies = {}                 # (seq, rcpt) -> number of files
        maildir = srv.t.maildir
        for box in srv.t.mailboxes():
            for sub in ("new", "cur"):
                d = os.path.join(maildir, box, sub)
                names = sorted(os.listdir(d)) if os.path.isdir(d) else []
                if sub == "cur" and names:
                    problems.append("files in %s (ternd never writes cur/): %s" % (d, names[:5]))
                    continue
                for name in names:
                    path = os.path.join(d, name)
                    try:
                        rcpt, msg = parse_stored(path)
                    except AssertionError as e:
                        problems.append("PARTIAL/BROKEN file in new/: %s" % e)
                        continue
                    h = sha(msg)
                    seq = by_hash.get(h)
                    if seq is None:
                        problems.append("PARTIAL file in new/: %s (%d bytes, X-Seq %s, "
                                        "matches no message sent)" % (path, len(msg), seq_of(msg)))
                        continue
                    if mailbox_name(rcpt) != box or rcpt not in rcpts[seq]:
                        problems.append("%s: Delivered-To <%s> in mailbox %s for message %d"
                                        % (path, rcpt, box, seq))
                        continue
                    copies[(seq, rcpt)] = copies.get((seq, rcpt), 0) + 1

        lost, dups = [], []
        for seq in range(self.N):
            for r in rcpts[seq]:
                n = copies.get((seq, r), 0)
                if acked.get(seq) and n == 0:
                    lost.append((seq, r))
                allowed = (1 if acked.get(seq) else 0) + inflight[seq]
                if n > allowed:
                    dups.append((seq, r, n, allowed))
            if acked.get(seq, 0) > 1:
                problems.append("message %d acknowledged %d times" % (seq, acked[seq]))
        if lost:
            problems.append("ACKED BUT LOST (seq, rcpt): %s" % lost[:20])
        if dups:
            problems.append("more copies than acks + replies lost in flight "
                            "(seq, rcpt, copies, allowed): %s" % dups[:20])
        if not errors and len(acked) != self.N:
            problems.append("only %d of %d messages acknowledged" % (len(acked), self.N))

        summary = ("seed %d: %d messages, %d acked, %d attempts, %d kills at attempts %s, "
                   "%d retried with the reply lost, %d duplicate files, %d files left in "
                   "tmp/, %.1f s"
                   % (SEED, self.N, len(acked), counter[0], srv.kills, sorted(plan.items()),
                      sum(1 for s in inflight if inflight[s]),
                      sum(n - 1 for n in copies.values()), len(srv.t.tmp_files()),
                      time.monotonic() - started))
        if VERBOSE:
            print("\n  " + summary)
        if problems:
            self.fail("%s\nmaildir kept at %s\n%s\n--- last ternd log ---\n%s"
                      % (summary, srv.t.dir, "\n".join(problems), srv.t.log_text()))
        srv.t.cleanup()


# ---------------------------------------------------------------------------
# 2. A crash at every fsync / rename / write of one delivery.
# ---------------------------------------------------------------------------

RCPTS3 = ["one@example.com", "two@example.com", "three@example.com"]


def smtp_send(tc, c, rcpts, msg, lmtp=False):
    """MAIL, RCPT..., DATA, message; returns the reply(ies) to the message
    (a list in LMTP), or None when the connection closed (at any step)."""
    for line, code in [("MAIL FROM:<%s>" % SENDER, 250)] + \
            [("RCPT TO:<%s>" % r, 250) for r in rcpts] + [("DATA", 354)]:
        try:
            r = c.cmd(line)
        except ConnectionError:
            return None
        if r is None:
            return None
        tc.assertEqual(r.code, code, "reply to %r\n%s" % (line, c.dump()))
    try:
        c.send(dot_stuff(msg))
        if not lmtp:
            return c.reply()
    except ConnectionError:
        return None
    out = []
    for _ in rcpts:
        try:
            r = c.reply()
        except ConnectionError:
            return None
        if r is None:
            return None
        out.append(r)
    return out


class FaultCase(TerndTestCase):
    """Helpers for tests that preload faultfs."""

    def setUp(self):
        super().setUp()
        self.asan = is_asan(ternlib.TERND)

    def fault_server(self, *args, lmtp=False, **faults):
        """A ternd preloading faultfs, restricted to its own maildir, with
        faults armed by an arm file (self.arm(...)). Returns the server."""
        t = Ternd(*args, lmtp=lmtp)
        armfile = os.path.join(t.dir, "faultfs.arm")
        logfile = os.path.join(t.dir, "faultfs.log")
        faults.setdefault("path", t.maildir)
        t.env = shim_env(self, arm=armfile, log=logfile, **faults)
        t.armfile, t.faultlog = armfile, logfile
        self.servers.append(t)
        return t.start()

    def arm(self, t, after=0, count=-1):
        tmp = t.armfile + ".new"
        with open(tmp, "w") as f:
            f.write("%d %d\n" % (after, count))
        os.replace(tmp, t.armfile)   # a new inode: the shim restarts its counters

    def disarm(self, t):
        try:
            os.unlink(t.armfile)
        except FileNotFoundError:
            pass

    def injected(self, t):
        try:
            with open(t.faultlog) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def require_injected(self, t, what):
        """The shim must have fired; under ASan a preload problem is a skip."""
        if self.injected(t):
            return
        if self.asan:
            self.skipTest("faultfs did not intercept %s in this ASan build of ternd "
                          "(LD_PRELOAD after the sanitizer runtime)" % what)
        self.fail("faultfs injected nothing for %s: is the shim loaded?\n%s"
                  % (what, t.log_text()))


class CrashPointTest(FaultCase):
    """faultfs SIGKILLs ternd at the k-th matching call of one delivery to
    three recipients, for k = 0, 1, ... until the delivery completes. After
    each crash: restart on the same maildir, every file in new/ must be a
    whole copy, and resending the message must get 250."""

    def sweep(self, kind, mode):
        msg = make_message(7, max_size=150 * 1024, min_size=100 * 1024)
        finished = False
        crashes = 0
        for k in range(60):
            t = Ternd()
            armfile = os.path.join(t.dir, "faultfs.arm")
            with open(armfile, "w") as f:
                f.write("%d 1\n" % k)
            logfile = os.path.join(t.dir, "faultfs.log")
            t.env = shim_env(self, path=t.maildir, arm=armfile, log=logfile,
                             **{kind: mode})
            t.env["ASAN_OPTIONS"] = "abort_on_error=0:detect_leaks=0:verify_asan_link_order=0"
            self.servers.append(t)
            t.start()
            c = self.client(t)
            c.expect(self, "EHLO crash.example", 250)
            r = smtp_send(self, c, RCPTS3, msg)
            c.close()
            if r is not None:
                # No crash at call k: the delivery needed fewer calls.
                self.assertEqual(r.code, 250, "k=%d: %r\n%s" % (k, r.text, t.log_text()))
                for rc in RCPTS3:
                    self.assertStored(t, rc, msg)
                if k == 0:
                    t.faultlog = logfile
                    self.require_injected(t, kind)
                    self.fail("%s=%s: no crash at all" % (kind, mode))
                finished = True
                break
            crashes += 1
            # The process must have died of the shim's SIGKILL.
            self.assertEqual(t.wait(timeout=WAIT), -signal.SIGKILL,
                             "k=%d: ternd did not die of SIGKILL\n%s" % (k, t.log_text()))
            t.log.close()
            # After the crash: whatever is in new/ is whole (a kill after
            # the rename may leave a delivered copy: the client got no 250,
            # so that is an allowed duplicate, never a partial file).
            before = {}
            for rc in RCPTS3:
                for path in t.files(rc):
                    _, stored = parse_stored(path)
                    self.assertBytesEqual(stored, msg)
                    before[rc] = before.get(rc, 0) + 1
            # Restart without faults and resend: must work (a crash in the
            # middle of creating a mailbox must not break the next start).
            os.unlink(armfile)
            t.env = {}
            t.signalled = False
            t.start()
            c = self.client(t)
            c.expect(self, "EHLO crash.example", 250)
            r = smtp_send(self, c, RCPTS3, msg)
            self.assertIsNotNone(r, "k=%d: resend after restart: connection closed\n%s"
                                 % (k, t.log_text()))
            self.assertEqual(r.code, 250, "k=%d: resend after restart: %r" % (k, r.text))
            c.expect(self, "QUIT", 221)
            for rc in RCPTS3:
                self.assertStored(t, rc, msg, count=before.get(rc, 0) + 1)
            problems = [p for p in t.stop() if not p.startswith("files left in tmp/")]
            self.assertEqual(problems, [], "k=%d\n%s" % (k, t.log_text()))
            self.servers.remove(t)
            t.cleanup()
        if VERBOSE:
            print("\n  %s=%s: crashed at each of %d calls, then delivered" % (kind, mode, crashes))
        self.assertTrue(finished, "%s=%s: still crashing after 60 calls" % (kind, mode))
        self.assertGreater(crashes, 0)

    def test_kill_before_each_fsync(self):
        self.sweep("fsync", "KILL")

    def test_kill_after_each_rename(self):
        self.sweep("rename", "KILL_AFTER")

    def test_kill_before_each_rename(self):
        self.sweep("rename", "KILL")

    def test_kill_at_each_write(self):
        self.sweep("write", "KILL")


# ---------------------------------------------------------------------------
# 3. fsync / write / rename failing with EIO or ENOSPC.
# ---------------------------------------------------------------------------

class FaultTest(FaultCase):
    MSG = make_message(11, min_size=150 * 1024, max_size=200 * 1024)

    def assertNoNewFiles(self, t, why):
        self.assertEqual(t.all_stored(), [], "%s: files in new/\n%s" % (why, t.log_text()))
        self.assertEqual(t.tmp_files(), [], "%s: files left in tmp/" % why)

    def refused_then_usable(self, kind, err, code, enhanced, rcpts=("b@example.com",)):
        """Faults armed after DATA's 354 (so they hit the delivery, not the
        mailbox creation): the message is refused with code/enhanced, new/
        stays empty, NOOP still works, and once disarmed the same message
        goes through."""
        t = self.fault_server(**{kind: err})
        c = self.client(t)
        c.expect(self, "EHLO fault.example", 250)
        c.expect(self, "MAIL FROM:<%s>" % SENDER, 250)
        for r in rcpts:
            c.expect(self, "RCPT TO:<%s>" % r, 250)
        c.expect(self, "DATA", 354)
        self.arm(t)
        c.send(dot_stuff(self.MSG))
        r = c.reply()
        self.assertIsNotNone(r, "connection closed after the message\n%s" % t.log_text())
        self.require_injected(t, kind)
        self.assertEqual((r.code, r.enhanced), (code, enhanced),
                         "%s=%s: reply %r" % (kind, err, r.text))
        self.assertNoNewFiles(t, "%s=%s" % (kind, err))
        c.expect(self, "NOOP", 250)
        self.disarm(t)
        r = smtp_send(self, c, rcpts, self.MSG)
        self.assertEqual(r.code, 250, r.text)
        for rc in rcpts:
            self.assertStored(t, rc, self.MSG)
        c.expect(self, "QUIT", 221)

    def test_fsync_eio_gives_451(self):
        self.refused_then_usable("fsync", "EIO", 451, "4.3.0")

    def test_fsync_enospc_gives_452(self):
        self.refused_then_usable("fsync", "ENOSPC", 452, "4.3.1")

    def test_fsync_eio_three_recipients(self):
        self.refused_then_usable("fsync", "EIO", 451, "4.3.0", rcpts=RCPTS3)

    def test_write_enospc_gives_452(self):
        self.refused_then_usable("write", "ENOSPC", 452, "4.3.1")

    def test_write_eio_three_recipients(self):
        self.refused_then_usable("write", "EIO", 451, "4.3.0", rcpts=RCPTS3)

    def test_rename_eio_gives_451(self):
        self.refused_then_usable("rename", "EIO", 451, "4.3.0", rcpts=RCPTS3)

    def test_fsync_edquot_gives_452_422(self):
        self.refused_then_usable("fsync", "EDQUOT", 452, "4.2.2")

    def test_fsync_eio_from_the_start(self):
        """Faults from the first call on, mailbox creation included: never
        a 250, nothing stored, NOOP still answered."""
        t = self.fault_server(fsync="EIO")
        self.arm(t)
        c = self.client(t)
        c.expect(self, "EHLO fault.example", 250)
        c.expect(self, "MAIL FROM:<%s>" % SENDER, 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        r = c.cmd("DATA")
        self.assertIsNotNone(r)
        if r.code == 354:
            c.send(dot_stuff(self.MSG))
            r = c.reply()
            self.assertIsNotNone(r)
        self.require_injected(t, "fsync")
        self.assertEqual((r.code, r.enhanced), (451, "4.3.0"), r.text)
        self.assertNoNewFiles(t, "fsync=EIO from the start")
        c.expect(self, "RSET", 250)
        c.expect(self, "NOOP", 250)

    def test_each_single_fsync_failure(self):
        """Fail only the k-th fsync of a delivery to three recipients, for
        every k: each one must turn the 250 into 451 with nothing in any
        new/ (SMTP gives one reply, so it is all or nothing)."""
        t = self.fault_server(fsync="EIO")
        c = self.client(t)
        c.expect(self, "EHLO fault.example", 250)
        # Create the mailboxes first: the sweep is about the delivery.
        r = smtp_send(self, c, RCPTS3, self.MSG)
        self.assertEqual(r.code, 250, r.text)
        stored = {rc: 1 for rc in RCPTS3}
        failed = 0
        for k in range(40):
            self.arm(t, after=k, count=1)
            r = smtp_send(self, c, RCPTS3, self.MSG)
            self.assertIsNotNone(r, "k=%d: connection closed\n%s" % (k, t.log_text()))
            hit = len(self.injected(t)) > failed
            if not hit:
                self.assertEqual(r.code, 250, "k=%d: %r" % (k, r.text))
                for rc in RCPTS3:
                    stored[rc] += 1
                    self.assertStored(t, rc, self.MSG, count=stored[rc])
                break
            failed += 1
            self.assertEqual((r.code, r.enhanced), (451, "4.3.0"),
                             "k=%d (fsync #%d failed): %r" % (k, k, r.text))
            for rc in RCPTS3:
                self.assertEqual(len(t.files(rc)), stored[rc],
                                 "k=%d: a copy stayed in new/ of %s after a 451"
                                 % (k, rc))
            self.assertEqual(t.tmp_files(), [], "k=%d: files left in tmp/" % k)
            c.expect(self, "NOOP", 250)
        else:
            self.fail("more than 40 fsyncs per message?")
        if VERBOSE:
            print("\n  failed each of %d fsyncs of one delivery" % failed)
        self.assertGreaterEqual(failed, 4, "fewer fsyncs than files + directories")

    def test_each_single_rename_failure(self):
        t = self.fault_server(rename="EIO")
        c = self.client(t)
        c.expect(self, "EHLO fault.example", 250)
        r = smtp_send(self, c, RCPTS3, self.MSG)
        self.assertEqual(r.code, 250, r.text)
        stored = {rc: 1 for rc in RCPTS3}
        failed = 0
        for k in range(10):
            self.arm(t, after=k, count=1)
            r = smtp_send(self, c, RCPTS3, self.MSG)
            self.assertIsNotNone(r)
            if len(self.injected(t)) == failed:
                self.assertEqual(r.code, 250, r.text)
                break
            failed += 1
            self.assertEqual(r.code, 451, "k=%d: %r" % (k, r.text))
            for rc in RCPTS3:
                self.assertEqual(len(t.files(rc)), stored[rc],
                                 "k=%d: a copy stayed in new/ of %s after a 451" % (k, rc))
            self.assertEqual(t.tmp_files(), [], "k=%d: files left in tmp/" % k)
        self.assertEqual(failed, 3, "want one rename per recipient")

    def lmtp_one_failing(self, bad_index):
        rcpts = list(RCPTS3)
        bad = rcpts[bad_index]
        t = Ternd(lmtp=True)
        t.env = {}
        path = os.path.join(t.maildir, mailbox_name(bad))
        armfile = os.path.join(t.dir, "faultfs.arm")
        t.armfile, t.faultlog = armfile, os.path.join(t.dir, "faultfs.log")
        t.env = shim_env(self, fsync="EIO", path=path, arm=armfile, log=t.faultlog)
        self.servers.append(t)
        t.start()
        c = self.client(t)
        c.expect(self, "LHLO fault.example", 250)
        c.expect(self, "MAIL FROM:<%s>" % SENDER, 250)
        for r in rcpts:
            c.expect(self, "RCPT TO:<%s>" % r, 250)
        c.expect(self, "DATA", 354)
        self.arm(t)
        c.send(dot_stuff(self.MSG))
        replies = []
        for _ in rcpts:
            r = c.reply()
            self.assertIsNotNone(r, "connection closed after %r\n%s" % (replies, t.log_text()))
            replies.append(r)
        self.require_injected(t, "fsync")
        for rc, r in zip(rcpts, replies):
            if rc == bad:
                self.assertEqual((r.code, r.enhanced), (451, "4.3.0"), "%s: %r" % (rc, r.text))
                self.assertEqual(t.files(rc), [], "%s failed but has a file" % rc)
            else:
                self.assertEqual(r.code, 250, "%s: %r" % (rc, r.text))
                self.assertStored(t, rc, self.MSG)
        self.assertEqual(t.tmp_files(), [], "files left in tmp/")
        c.expect(self, "NOOP", 250)
        self.disarm(t)
        replies = smtp_send(self, c, [bad], self.MSG, lmtp=True)
        self.assertEqual(replies[0].code, 250, replies[0].text)
        self.assertStored(t, bad, self.MSG)
        c.expect(self, "QUIT", 221)

    def test_lmtp_failing_first_recipient(self):
        """The first recipient's mailbox holds the file the message streams
        into: its fsync failing fails only that recipient."""
        self.lmtp_one_failing(0)

    def test_lmtp_failing_middle_recipient(self):
        self.lmtp_one_failing(1)

    def test_lmtp_enospc_all(self):
        t = self.fault_server(lmtp=True, fsync="ENOSPC")
        c = self.client(t)
        c.expect(self, "LHLO fault.example", 250)
        c.expect(self, "MAIL FROM:<%s>" % SENDER, 250)
        for r in RCPTS3:
            c.expect(self, "RCPT TO:<%s>" % r, 250)
        c.expect(self, "DATA", 354)
        self.arm(t)
        c.send(dot_stuff(self.MSG))
        for rc in RCPTS3:
            r = c.reply()
            self.assertIsNotNone(r)
            self.assertEqual((r.code, r.enhanced), (452, "4.3.1"), "%s: %r" % (rc, r.text))
        self.require_injected(t, "fsync")
        self.assertNoNewFiles(t, "LMTP fsync=ENOSPC")
        c.expect(self, "NOOP", 250)

    def test_file_size_limit_gives_552(self):
        """RLIMIT_FSIZE with SIGXFSZ ignored: write fails with EFBIG, which
        is permanent for this message: 552 5.3.4 (docs/ternd.md), nothing
        stored, the session goes on and a small message still fits."""
        prlimit = ternlib.tool("prlimit")
        if prlimit is None:
            self.skipTest("prlimit (util-linux) not installed")
        limit = 64 * 1024
        # An ignored signal stays ignored across exec; Popen would reset it.
        wrapper = ["/bin/sh", "-c", 'trap "" XFSZ; exec "$@"', "sh",
                   prlimit, "--fsize=%d" % limit, "--"]
        t = self.start_ternd("--log-level", "warning", wrapper=wrapper)
        c = self.client(t)
        c.expect(self, "EHLO fault.example", 250)
        r = smtp_send(self, c, RCPTS3, self.MSG)
        self.assertIsNotNone(r, "connection closed\n%s" % t.log_text())
        self.assertEqual((r.code, r.enhanced), (552, "5.3.4"), r.text)
        self.assertEqual(t.all_stored(), [], "files in new/")
        self.assertEqual(t.tmp_files(), [], "files left in tmp/")
        c.expect(self, "NOOP", 250)
        small = make_message(12, min_size=1000, max_size=2000)
        r = smtp_send(self, c, RCPTS3, small)
        self.assertEqual(r.code, 250, r.text)
        for rc in RCPTS3:
            self.assertStored(t, rc, small)
        c.expect(self, "QUIT", 221)
