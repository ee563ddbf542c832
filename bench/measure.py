#!/usr/bin/env python3
"""Measurement helpers for bench/run.sh.

  measure.py cpu  PID -- COMMAND...   run COMMAND (the load), print the server's
                                      CPU seconds (utime+stime from /proc/PID/stat)
                                      and the wall-clock seconds it took
  measure.py idle PID PORT COUNT      open COUNT sessions (greeting + EHLO each),
                                      print the server's VmRSS growth per session
  measure.py rss  PID                 print VmRSS in bytes
  measure.py load PORT SESSIONS MESSAGES LENGTH [--reuse]
                                      fallback load generator when Postfix's
                                      smtp-source is missing (same shape of traffic)

Everything talks to 127.0.0.1 only, and every wait is bounded in time.
Output is one line of key=value pairs, for the shell to pick up.
"""

import os
import socket
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_times(pid):
    """(utime, stime) of the whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # Field 2 (comm) may contain blanks; the fields after it start past ')'.
    rest = text[text.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(rest[11]) / TICK, int(rest[12]) / TICK


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def read_reply(sock, deadline):
    """Read one (possibly multi-line) SMTP reply; return its code."""
    buf = b""
    while True:
        lines = buf.split(b"\r\n")
        for line in lines[:-1]:
            if len(line) >= 4 and line[3:4] == b" ":
                return int(line[:3])
        if time.monotonic() > deadline:
            raise TimeoutError("no reply")
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed by server")
        buf += chunk


def cmd_cpu(pid, command):
    u0, s0 = cpu_times(pid)
    t0 = time.monotonic()
    rc = subprocess.call(command, stdout=subprocess.DEVNULL)
    t1 = time.monotonic()
    try:
        u1, s1 = cpu_times(pid)
        rss = rss_bytes(pid)
    except OSError:  # the server died under load: say so, do not guess
        print(f"cpu=0 wall={t1 - t0:.3f} rc={rc} server=gone")
        return
    print(f"cpu={u1 - u0 + s1 - s0:.3f} user={u1 - u0:.3f} sys={s1 - s0:.3f} "
          f"wall={t1 - t0:.3f} rc={rc} rss={rss}")


def cmd_idle(pid, port, count):
    # One session first, so lazy start-up allocations are not charged to
    # the idle sessions.
    warm = socket.create_connection((HOST, port), timeout=10)
    read_reply(warm, time.monotonic() + 10)
    warm.sendall(b"EHLO bench.example\r\n")
    read_reply(warm, time.monotonic() + 10)
    warm.sendall(b"QUIT\r\n")
    read_reply(warm, time.monotonic() + 10)
    warm.close()
    time.sleep(0.5)

    before = rss_bytes(pid)
    socks = []
    deadline = time.monotonic() + 120
    try:
        # Connect all first, then read the greetings: a server that holds
        # the greeting back (smtp-server waits 100 ms for early talkers)
        # then costs 100 ms in all, not per session.
        for _ in range(count):
            socks.append(socket.create_connection((HOST, port), timeout=10))
        for s in socks:
            if read_reply(s, deadline) != 220:
                raise RuntimeError("no 220 greeting")
        for s in socks:
            s.sendall(b"EHLO bench.example\r\n")
        for s in socks:
            if read_reply(s, deadline) != 250:
                raise RuntimeError("EHLO refused")
        time.sleep(1.0)  # let the server settle (Node's GC, lazy frees)
        after = rss_bytes(pid)
        # Every session must still be alive, or the figure means nothing.
        alive = 0
        for s in socks:
            s.sendall(b"NOOP\r\n")
        for s in socks:
            try:
                if read_reply(s, deadline) == 250:
                    alive += 1
            except (OSError, ConnectionError, TimeoutError):
                pass
    finally:
        for s in socks:
            s.close()
    per = (after - before) / count
    print(f"before={before} after={after} per_session={per:.0f} alive={alive}")


def cmd_load(port, sessions, messages, length, reuse):
    """Fallback for smtp-source: SESSIONS threads share MESSAGES messages."""
    body = (b"From: <sender@localhost>\r\nTo: <bench@localhost>\r\n"
            b"Subject: bench\r\n\r\n")
    line = b"x" * 78 + b"\r\n"
    payload = (line * (length // len(line) + 1))[:length]
    if not payload.endswith(b"\r\n"):
        payload = payload[:-2] + b"\r\n"
    message = body + payload + b".\r\n"
    lock = threading.Lock()
    left = [messages]
    errors = []

    def take():
        with lock:
            if left[0] <= 0:
                return False
            left[0] -= 1
            return True

    def transaction(s, deadline):
        s.sendall(b"MAIL FROM:<sender@localhost>\r\n")
        if read_reply(s, deadline) != 250:
            raise RuntimeError("MAIL refused")
        s.sendall(b"RCPT TO:<bench@localhost>\r\n")
        if read_reply(s, deadline) != 250:
            raise RuntimeError("RCPT refused")
        s.sendall(b"DATA\r\n")
        if read_reply(s, deadline) != 354:
            raise RuntimeError("DATA refused")
        s.sendall(message)
        if read_reply(s, deadline) != 250:
            raise RuntimeError("message refused")

    def session(deadline):
        s = socket.create_connection((HOST, port), timeout=10)
        try:
            read_reply(s, deadline)
            s.sendall(b"EHLO bench.example\r\n")
            read_reply(s, deadline)
            yield s
            s.sendall(b"QUIT\r\n")
            read_reply(s, deadline)
        finally:
            s.close()

    def worker():
        deadline = time.monotonic() + 300
        try:
            if reuse:
                for s in session(deadline):
                    while take():
                        transaction(s, deadline)
            else:
                while take():
                    for s in session(deadline):
                        transaction(s, deadline)
        except Exception as e:  # report, do not hang the others
            errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(310)
    if errors:
        print("load errors:", errors[:5], file=sys.stderr)
        sys.exit(1)


def main(argv):
    if len(argv) >= 4 and argv[1] == "cpu" and argv[3] == "--":
        cmd_cpu(int(argv[2]), argv[4:])
    elif len(argv) == 5 and argv[1] == "idle":
        cmd_idle(int(argv[2]), int(argv[3]), int(argv[4]))
    elif len(argv) == 3 and argv[1] == "rss":
        print(rss_bytes(int(argv[2])))
    elif len(argv) in (6, 7) and argv[1] == "load":
        cmd_load(int(argv[2]), int(argv[3]), int(argv[4]), int(argv[5]),
                 len(argv) == 7 and argv[6] == "--reuse")
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(64)


if __name__ == "__main__":
    main(sys.argv)
