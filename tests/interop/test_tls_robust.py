"""TLS under stress and at the edges: stalled and aborted handshakes,
timeouts and shutdown over TLS, large and trickled input through the TLS
filter, reload while handshakes run, client certificates, renegotiation,
session resumption, the log line of a failed handshake. Listeners as in
test_tls.py (AUTH PLAIN before MAIL on the implicit-TLS port)."""

import os
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import unittest

from ternlib import RawClient, cert_der, client_context, tool
from test_tls import MESSAGE, PASSWORD, USER, TlsTestCase, auth_plain


def on_socket(sock):
    """A RawClient over a socket made elsewhere (greeting not read)."""
    c = RawClient.__new__(RawClient)
    c.sock, c.buf, c.transcript = sock, b"", []
    return c


class TlsEdgeTest(TlsTestCase):
    def test_stalled_handshakes_closed(self):
        # A client that never sends its ClientHello (implicit TLS, or after
        # the 220 to STARTTLS) is cut off by the handshake timer
        # (--tls-handshake-timeout; 60 s by default). The log line, not the
        # clock, shows which timer closed them.
        signal.alarm(60)
        t = self.start_tls("--tls-handshake-timeout", "2")
        silent = socket.create_connection(("127.0.0.1", t.tls_port), timeout=40)
        st = self.client(t)
        st.expect(self, "EHLO x", 250)
        st.expect(self, "STARTTLS", 220, "2.0.0")
        self.assertTrue(st.closed(wait=40), st.dump())
        try:
            self.assertEqual(silent.recv(100), b"")
        except ConnectionResetError:
            pass
        silent.close()
        self.assertGreaterEqual(t.log_text(tail=1 << 20).count("TLS handshake timed out"), 2,
                                t.log_text())
        c = self.tls_client(t.tls_port)
        c.expect(self, "NOOP", 250, "2.0.0")

    def test_aborted_handshakes(self):
        # Half a ClientHello, garbage, an immediate close, a reset: the server
        # lives on and (under ASan) frees everything.
        t = self.start_tls()
        ctx = client_context()
        for kind in ("half", "garbage", "close", "reset", "http"):
            for port in (t.tls_port, t.port):
                if port == t.port:
                    c = RawClient(port)
                    c.expect(self, "STARTTLS", 220, "2.0.0")
                    s = c.sock
                else:
                    s = socket.create_connection(("127.0.0.1", port), timeout=10)
                if kind == "half":
                    obj = ssl.MemoryBIO(), ssl.MemoryBIO()
                    tls = ctx.wrap_bio(obj[0], obj[1])
                    try:
                        tls.do_handshake()
                    except ssl.SSLWantReadError:
                        pass
                    hello = obj[1].read()
                    s.sendall(hello[:len(hello) // 2])
                elif kind == "garbage":
                    s.sendall(os.urandom(4096))
                elif kind == "http":
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                elif kind == "reset":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                time.sleep(0.05)
                s.close()
        c = self.tls_client(t.tls_port)
        c.expect(self, "EHLO x", 250)
        self.send_message(c, auth=True)
        self.assertSecureReceived(t, "b@example.com", auth=True)

    def test_idle_timeout_over_tls(self):
        t = self.start_tls("--idle-timeout", "1")
        c = self.tls_client(t.tls_port)
        c.expect(self, "EHLO x", 250)
        c.expect(self, None, 421, "4.4.2")
        self.assertTrue(c.closed(), c.dump())

    def test_shutdown_with_open_tls_sessions(self):
        # SIGTERM: open TLS sessions get 421 4.3.2 (encrypted) after
        # --close-timeout, and ternd exits 0 (checked in tearDown).
        t = self.start_tls("--close-timeout", "1")
        a = self.tls_client(t.tls_port)
        a.expect(self, "EHLO x", 250)
        b = self.client(t)
        b.expect(self, "EHLO x", 250)
        b.expect(self, "STARTTLS", 220, "2.0.0")
        b.starttls(client_context())
        b.expect(self, "EHLO x", 250)
        b.expect(self, "MAIL FROM:<a@example.com>", 250)
        t.signal(signal.SIGTERM)
        for c in (a, b):
            c.expect(self, None, 421, "4.3.2")
            self.assertTrue(c.closed(), c.dump())
        self.assertEqual(t.wait(), 0, t.log_text())

    def test_large_message_over_tls(self):
        t = self.start_tls()
        line = b"0123456789abcdef" * 6 + b"\r\n"
        body = b"Subject: large\r\n\r\n" + line * 60000  # about 5.9 MB
        with smtplib.SMTP_SSL("127.0.0.1", t.tls_port, timeout=30,
                              context=client_context()) as s:
            s.login(USER, PASSWORD)
            s.sendmail("a@example.com", ["big@example.com"], body)
        self.assertSecureReceived(t, "big@example.com", body, auth=True)

    def test_bdat_over_tls(self):
        t = self.start_tls()
        c = self.client(t)
        c.expect(self, "EHLO x", 250)
        c.expect(self, "STARTTLS", 220, "2.0.0")
        c.starttls(client_context())
        c.expect(self, "EHLO x", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        chunk = b"x" * 200000 + b"\r\n"
        c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
        c.expect(self, None, 250)
        c.send(b"BDAT %d LAST\r\n" % len(MESSAGE) + MESSAGE)
        c.expect(self, None, 250, "2.6.0")
        self.assertSecureReceived(t, "b@example.com", chunk + MESSAGE)

    def test_pipelined_bdat_over_tls_concurrently(self):
        # MAIL, RCPT and a 100 KiB BDAT LAST in one write, over TLS, from
        # several sessions at once (what tern-load does): the TLS filter's
        # input may then begin with an empty chain, which once made the
        # loop spin at 100% CPU and stop answering anyone.
        t = self.start_tls("--discard")
        body = b"Subject: pipelined\r\n\r\n" + (b"y" * 78 + b"\r\n") * 1300
        errors = []

        def session(k):
            try:
                c = RawClient(t.port, timeout=30)
                self.assertEqual(c.greeting.code, 220)
                c.expect(self, "EHLO x%d" % k, 250)
                c.expect(self, "STARTTLS", 220, "2.0.0")
                c.starttls(client_context())
                c.expect(self, "EHLO x%d" % k, 250)
                for _ in range(15):
                    c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                           b"BDAT %d LAST\r\n" % len(body) + body)
                    codes = [c.reply().code for _ in range(3)]
                    self.assertEqual(codes, [250, 250, 250], c.dump())
                c.expect(self, "QUIT", 221)
                c.close()
            except Exception as e:  # reported below, from the main thread
                errors.append("session %d: %r" % (k, e))

        threads = [threading.Thread(target=session, args=(k,)) for k in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
        self.assertEqual(errors, [])
        self.assertFalse(any(th.is_alive() for th in threads), "a session got no reply")

    def test_trickle_one_byte_records(self):
        # Every octet in a TLS record of its own: the line reader must join them.
        t = self.start_tls()
        c = self.tls_client(t.tls_port)
        for line in (b"EHLO trickle.example\r\n", auth_plain().encode() + b"\r\n",
                     b"MAIL FROM:<a@example.com>\r\n",
                     b"RCPT TO:<b@example.com>\r\n", b"DATA\r\n"):
            for i in range(len(line)):
                c.sock.sendall(line[i:i + 1])
            c.expect(self, None, {b"D": 354, b"A": 235}.get(line[:1], 250))
        for i in range(len(MESSAGE)):
            c.sock.sendall(MESSAGE[i:i + 1])
        for b in b".\r\n":
            c.sock.sendall(bytes([b]))
        c.expect(self, None, 250, "2.6.0")
        self.assertSecureReceived(t, "b@example.com", auth=True)

    def test_many_concurrent_handshakes(self):
        t = self.start_tls("--workers", "2")
        errors, done = [], []

        def one(i):
            try:
                if i % 2:
                    c = RawClient(t.tls_port, tls=client_context())
                else:
                    c = RawClient(t.port)
                    c.cmd("EHLO x")
                    c.cmd("STARTTLS")
                    c.starttls(client_context())
                r = c.cmd("EHLO x")
                if r is None or r.code != 250:
                    errors.append((i, r))
                c.close()
                done.append(i)
            except Exception as e:  # noqa: BLE001 (collected and reported)
                errors.append((i, repr(e)))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(60)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(done), 60)


class TlsReloadStressTest(TlsTestCase):
    def test_reload_while_handshaking(self):
        # SIGHUP flips the files between A and B twenty times while clients
        # shake hands on two worker threads: every handshake sees A or B.
        a = self.cert("a", ["tern.test"], "rsa")
        b = self.cert("b", ["tern.test"], "ec")
        live = (os.path.join(self.certdir, "live.crt"), os.path.join(self.certdir, "live.key"))
        for l, s in zip(live, a):
            with open(s, "rb") as f, open(l, "wb") as g:
                g.write(f.read())
        t = self.start_tls("--workers", "2", "--tls-cert", live[0], "--tls-key", live[1])
        wanted = {cert_der(a[0]), cert_der(b[0])}
        stop, errors, count = threading.Event(), [], [0]

        def client():
            while not stop.is_set():
                try:
                    c = RawClient(t.tls_port, tls=client_context())
                    if c.sock.getpeercert(True) not in wanted:
                        errors.append("unknown certificate")
                    r = c.cmd("NOOP")
                    if r is None or r.code != 250:
                        errors.append(repr(r))
                    c.close()
                    count[0] += 1
                except Exception as e:  # noqa: BLE001 (collected and reported)
                    errors.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for th in threads:
            th.start()
        try:
            for i in range(20):
                src = b if i % 2 == 0 else a
                for l, s in zip(live, src):
                    with open(s, "rb") as f, open(l + ".new", "wb") as g:
                        g.write(f.read())
                    os.replace(l + ".new", l)
                os.kill(t.pid(), signal.SIGHUP)
                time.sleep(0.1)
        finally:
            stop.set()
            for th in threads:
                th.join(30)
        self.assertEqual(errors, [])
        self.assertGreater(count[0], 20)
        self.wait_log(t, "certificates reloaded")
        self.assertNotIn("reload failed", t.log_text(tail=1 << 20))


class ClientCertificateTest(TlsTestCase):
    """--tls-client-ca: a client certificate is asked for, never required;
    the result is reported (log line "client-cert=verified|unverified")."""

    def test_client_certificates(self):
        ca = self.cert("ca", ["Tern Client CA"], "ec", is_ca=True)
        other_ca = self.cert("other-ca", ["Other CA"], "ec", is_ca=True)
        good = self.cert("good", ["good-client.test"], "rsa", ca=ca)
        stranger = self.cert("stranger", ["stranger.test"], "ec", ca=other_ca)
        t = self.start_tls("--tls-client-ca", ca[0])
        for name, pair, mark in (("good", good, "client-cert=verified /CN=good-client.test"),
                                 ("stranger", stranger, "client-cert=unverified"),
                                 ("none", None, None)):
            with self.subTest(client=name):
                ctx = client_context()
                if pair:
                    ctx.load_cert_chain(pair[0], pair[1])
                c = self.tls_client(t.tls_port, ctx)
                c.expect(self, "EHLO x", 250)
                self.send_message(c, "%s@example.com" % name, auth=True)
                self.assertSecureReceived(t, "%s@example.com" % name, auth=True)
                if mark:
                    self.wait_log(t, mark)
        log = t.log_text(tail=1 << 20)
        self.assertNotIn("stranger.test", log.split("client-cert=verified")[-1].split("\n")[0])
        self.assertEqual(log.count("client-cert="), 2, log)


class RenegotiationResumptionTest(TlsTestCase):
    def test_renegotiation_refused(self):
        # TLS 1.2 client-initiated renegotiation is refused
        # (SSL_OP_NO_RENEGOTIATION: a CPU-exhaustion vector, no use in mail).
        openssl = tool("openssl")
        if openssl is None:
            self.skipTest("openssl not installed")
        t = self.start_tls()
        # Without -quiet/-ign_eof, s_client takes a line "R" as "renegotiate".
        p = subprocess.Popen([openssl, "s_client", "-connect", "127.0.0.1:%d" % t.tls_port,
                              "-tls1_2", "-no_ign_eof"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        time.sleep(1.0)
        try:
            p.stdin.write(b"R\n")
            p.stdin.flush()
            time.sleep(1.0)
            p.stdin.write(b"NOOP\r\n")  # refused renegotiation may have ended s_client
            p.stdin.flush()
            time.sleep(0.5)
        except BrokenPipeError:
            pass
        try:
            out, _ = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        text = out.decode(errors="replace")
        self.assertIn("RENEGOTIATING", text)
        self.assertIn("no renegotiation", text)
        # Either the renegotiation alert ends the connection, or the
        # server goes on without it; never a second handshake.
        self.assertNotRegex(text, r"RENEGOTIATING\s*\n(depth=|verify)", text)
        self.assertEqual(t.log_text(tail=1 << 20).count("TLS established"), 1, t.log_text())
        c = self.tls_client(t.tls_port)
        c.expect(self, "NOOP", 250, "2.0.0")

    def test_session_resumption(self):
        t = self.start_tls()
        ctx = client_context()
        first = self.tls_client(t.tls_port, ctx)
        first.expect(self, "NOOP", 250, "2.0.0")  # TLS 1.3 tickets come after the handshake
        session = first.sock.session
        first.expect(self, "QUIT", 221)
        s = socket.create_connection(("127.0.0.1", t.tls_port), timeout=10)
        again = ctx.wrap_socket(s, session=session)
        self.assertTrue(again.session_reused, "the server did not resume the session")
        c = on_socket(again)
        self.clients.append(c)
        c.expect(self, None, 220)
        c.expect(self, "EHLO x", 250)
        self.send_message(c, auth=True)
        self.assertSecureReceived(t, "b@example.com", auth=True)


class HandshakeLogTest(TlsTestCase):
    # BUG (ternd/libtern, src/net/connection.c tls_error_text): docs/tls.md
    # says a failed handshake "is logged with OpenSSL's reason", but every
    # such line reads "TLS handshake failed: error:00000001:lib(0)::reason(1)"
    # (also "connection lost: ..." after a refused renegotiation): the loop
    # keeps the last value bufferevent_get_openssl_error() returns, and
    # libevent hands its errors back last-in first-out, so the last one is
    # the SSL_get_error() code (1 = SSL_ERROR_SSL) it pushed first.
    def test_failed_handshake_logs_reason(self):
        t = self.start_tls("--tls-min-version", "1.3")
        cases = ((client_context(maximum=ssl.TLSVersion.TLSv1_2), "unsupported protocol"),
                 (client_context(alpn=["http/1.1"]), "no application protocol"))
        for ctx, _ in cases:
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                RawClient(t.tls_port, tls=ctx)
        self.wait_log(t, "TLS handshake failed")
        time.sleep(0.3)
        lines = [l for l in t.log_text(tail=1 << 20).splitlines()
                 if "TLS handshake failed" in l]
        self.assertEqual(len(lines), 2, lines)
        for line, (_, reason) in zip(lines, cases):
            self.assertNotIn("lib(0)", line)
            self.assertRegex(line, r"TLS handshake failed: error:[0-9A-F]{8}:SSL routines:")
