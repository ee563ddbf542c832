"""TLS in ternd through Python's own TLS stack (OpenSSL via the ssl module):
smtplib over STARTTLS and implicit TLS, versions, key types, SNI, the
STARTTLS command's replies, STARTTLS injection (RFC 3207 5, CVE-2011-0411),
certificate reload on SIGHUP and ALPN. Other clients: test_tls_tools.py.

Every test starts its own ternd with three listeners: --listen (t.port,
STARTTLS offered), --submission (t.sub_port, TLS before mail) and
--tls-listen (t.tls_port, implicit TLS). ternd wants --users with the last
two, and AUTH before MAIL there: the tests give it a users file with one
user (made by `ternd passwd`) and authenticate with PLAIN only to be able to
send mail on those ports; AUTH itself is tested elsewhere."""

import base64
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time

from ternlib import (TERND, RawClient, TerndTestCase, cert_der, client_context, free_port,
                     make_cert)

MESSAGE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: tls\r\n\r\nsent over TLS\r\n"

# The one user of the users file (test credentials, loopback only). MAIL
# FROM:<a@example.com> is allowed after AUTH since the name is that address.
USER, PASSWORD = "a@example.com", "tern-interop-password"
_users_line = []


def users_line():
    """The users-file line for USER, made once per run by `ternd passwd`."""
    if not _users_line:
        p = subprocess.run([TERND, "passwd", USER], input=(PASSWORD + "\n").encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            raise AssertionError("ternd passwd failed (%d): %s" % (p.returncode, p.stderr))
        _users_line.append(p.stdout.decode().strip())
    return _users_line[0]


def auth_plain():
    return "AUTH PLAIN " + base64.b64encode(("\0%s\0%s" % (USER, PASSWORD)).encode()).decode()


class TlsTestCase(TerndTestCase):
    """Starts ternd with the three kinds of listener; certificates in a
    temp dir of the test's own."""

    def setUp(self):
        super().setUp()
        self.certdir = tempfile.mkdtemp(prefix="tern-tls-")
        self.addCleanup(shutil.rmtree, self.certdir, True)

    def start_tls(self, *args):
        sub, tls = free_port(), free_port()
        users = os.path.join(self.certdir, "users")
        with open(os.open(users, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(users_line() + "\n")
        t = self.start_ternd("--submission", "127.0.0.1:%d" % sub,
                             "--tls-listen", "127.0.0.1:%d" % tls, "--users", users, *args)
        t.sub_port, t.tls_port = sub, tls
        return t

    def cert(self, name, hosts, key_type="rsa", **kw):
        return make_cert(self.certdir, name, hosts, key_type, **kw)

    def tls_client(self, port, ctx=None, server_hostname=None):
        c = RawClient(port, tls=ctx or client_context(), server_hostname=server_hostname)
        self.clients.append(c)
        return c

    def assertSecureReceived(self, t, rcpt, body=MESSAGE, auth=False):
        """One message stored for rcpt, equal to body, whose Received header
        says it came over TLS (RFC 3848: "with ESMTPS", or "ESMTPSA" after
        AUTH)."""
        (added, stored), = t.read(rcpt)
        self.assertBytesEqual(stored, body)
        received = re.search(rb"^Received:.*?(?=\r\n(?![ \t])|\Z)", added, re.S | re.M)
        self.assertIsNotNone(received, added)
        self.assertRegex(received.group(0), rb"\swith ESMTPSA\s" if auth else rb"\swith ESMTPS\s",
                         added)

    def wait_log(self, t, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in t.log_text(tail=1 << 20):
                return
            time.sleep(0.05)
        self.fail("ternd never logged %r:\n%s" % (text, t.log_text()))

    def send_message(self, c, rcpt="b@example.com", body=MESSAGE, ehlo=False, auth=False):
        if ehlo:
            c.expect(self, "EHLO client.example", 250)
        if auth:
            c.expect(self, auth_plain(), 235)
        c.expect(self, "MAIL FROM:<a@example.com>", 250, "2.1.0")
        c.expect(self, "RCPT TO:<%s>" % rcpt, 250, "2.1.5")
        c.expect(self, "DATA", 354)
        c.send(body + b".\r\n")
        c.expect(self, None, 250, "2.6.0")


def ehlo_keywords(reply):
    return [l[4:].split(b" ")[0].upper().decode() for l in reply.lines[1:]]


class SmtplibTlsTest(TlsTestCase):
    def smtplib_starttls(self, port, ctx=None, login=False):
        ctx = ctx or client_context()
        with smtplib.SMTP("127.0.0.1", port, local_hostname="py.example", timeout=10) as s:
            s.ehlo()
            self.assertTrue(s.has_extn("starttls"), s.esmtp_features)
            self.assertFalse(s.has_extn("requiretls"), s.esmtp_features)
            code, msg = s.starttls(context=ctx)
            self.assertEqual(code, 220)
            self.assertTrue(msg.startswith(b"2.0.0"), msg)
            s.ehlo()
            # RFC 3207 4.2: the EHLO after TLS must not offer STARTTLS;
            # RFC 8689 4: REQUIRETLS is offered only over TLS.
            self.assertFalse(s.has_extn("starttls"), s.esmtp_features)
            self.assertTrue(s.has_extn("requiretls"), s.esmtp_features)
            version = s.sock.version()
            if login:
                s.login(USER, PASSWORD)
            s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        return version

    def test_starttls_then_mail(self):
        t = self.start_tls()
        self.assertEqual(self.smtplib_starttls(t.port), "TLSv1.3")
        self.assertSecureReceived(t, "b@example.com")

    def test_starttls_on_submission(self):
        t = self.start_tls()
        self.assertEqual(self.smtplib_starttls(t.sub_port, login=True), "TLSv1.3")
        self.assertSecureReceived(t, "b@example.com", auth=True)

    def test_smtp_ssl_implicit(self):
        t = self.start_tls()
        with smtplib.SMTP_SSL("127.0.0.1", t.tls_port, local_hostname="py.example",
                              timeout=10, context=client_context()) as s:
            self.assertEqual(s.sock.version(), "TLSv1.3")
            s.ehlo()
            self.assertFalse(s.has_extn("starttls"), s.esmtp_features)
            self.assertTrue(s.has_extn("requiretls"), s.esmtp_features)
            s.login(USER, PASSWORD)
            s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        self.assertSecureReceived(t, "b@example.com", auth=True)

    def test_default_accepts_tls12(self):
        t = self.start_tls()
        ctx = client_context(maximum=ssl.TLSVersion.TLSv1_2)
        self.assertEqual(self.smtplib_starttls(t.port, ctx), "TLSv1.2")
        with smtplib.SMTP_SSL("127.0.0.1", t.tls_port, timeout=10, context=ctx) as s:
            self.assertEqual(s.sock.version(), "TLSv1.2")
            s.login(USER, PASSWORD)
            s.sendmail("a@example.com", ["c@example.com"], MESSAGE)
        self.assertSecureReceived(t, "b@example.com")
        self.assertSecureReceived(t, "c@example.com", auth=True)

    def test_min_version_13_refuses_tls12(self):
        t = self.start_tls("--tls-min-version", "1.3")
        old = client_context(maximum=ssl.TLSVersion.TLSv1_2)
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            smtplib.SMTP_SSL("127.0.0.1", t.tls_port, timeout=10, context=old)
        with smtplib.SMTP("127.0.0.1", t.port, timeout=10) as s:
            s.ehlo()
            with self.assertRaises((ssl.SSLError, ConnectionError, smtplib.SMTPException)):
                s.starttls(context=old)
        # A TLS 1.3 client still gets through, on both kinds of listener.
        self.assertEqual(self.smtplib_starttls(t.port), "TLSv1.3")
        self.assertSecureReceived(t, "b@example.com")
        c = self.tls_client(t.tls_port)
        self.assertEqual(c.sock.version(), "TLSv1.3")
        c.expect(self, "NOOP", 250, "2.0.0")

    def test_no_tls_below_12(self):
        # RFC 8996: TLS 1.0 and 1.1 are gone whatever the minimum says.
        t = self.start_tls()
        ctx = client_context(maximum=ssl.TLSVersion.TLSv1_1)
        try:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            self.tls_client(t.tls_port, ctx)

    def test_require_tls_on_listen(self):
        t = self.start_tls("--require-tls")
        c = self.client(t)
        c.expect(self, "EHLO x", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 530, "5.7.0")
        c.expect(self, "STARTTLS", 220, "2.0.0")
        c.starttls(client_context())
        c.expect(self, "EHLO x", 250)
        self.send_message(c)
        self.assertSecureReceived(t, "b@example.com")


class CertificateTest(TlsTestCase):
    """Which certificate the server presents: key types, SNI, the
    self-signed fallback, cipher options."""

    def peer_der(self, port, server_hostname=None, starttls=False, ctx=None):
        ctx = ctx or client_context()
        if starttls:
            c = RawClient(port)
            self.clients.append(c)
            c.expect(self, "EHLO x", 250)
            c.expect(self, "STARTTLS", 220, "2.0.0")
            c.starttls(ctx, server_hostname=server_hostname)
            c.expect(self, "EHLO x", 250)
        else:
            c = self.tls_client(port, ctx, server_hostname)
            c.expect(self, "NOOP", 250, "2.0.0")
        return c.sock.getpeercert(binary_form=True), c

    def test_rsa_and_ecdsa_certificates(self):
        tls12 = client_context(maximum=ssl.TLSVersion.TLSv1_2)
        for key_type, kx in (("rsa", "-RSA-"), ("ec", "-ECDSA-")):
            with self.subTest(key_type=key_type):
                cert, key = self.cert("host-" + key_type, ["tern.test"], key_type)
                t = self.start_tls("--tls-cert", cert, "--tls-key", key)
                der, c = self.peer_der(t.tls_port)
                self.assertEqual(der, cert_der(cert))
                # The TLS 1.2 suite names the certificate's key type.
                der, c = self.peer_der(t.tls_port, ctx=tls12)
                self.assertIn(kx, c.sock.cipher()[0])
                self.send_message(c, ehlo=True, auth=True)
                self.assertSecureReceived(t, "b@example.com", auth=True)

    def test_sni_picks_certificate(self):
        a = self.cert("a", ["tern.test"], "rsa")
        b = self.cert("b", ["mx2.test", "*.wild.test"], "ec")
        t = self.start_tls("--tls-cert", a[0], "--tls-key", a[1],
                           "--tls-cert", b[0], "--tls-key", b[1])
        cases = [(None, a), ("tern.test", a), ("mx2.test", b), ("MX2.Test", b),
                 ("x.wild.test", b), ("unknown.test", a)]
        for name, want in cases:
            for starttls in (False, True):
                with self.subTest(name=name, starttls=starttls):
                    port = t.port if starttls else t.tls_port
                    der, _ = self.peer_der(port, name, starttls)
                    self.assertEqual(der, cert_der(want[0]),
                                     "SNI %r got the wrong certificate" % name)

    def test_chain_verifies_against_ca(self):
        ca = self.cert("ca", ["Tern Test CA"], "ec", is_ca=True)
        leaf = self.cert("leaf", ["tern.test"], "rsa", ca=ca)
        t = self.start_tls("--tls-cert", leaf[0], "--tls-key", leaf[1])
        strict = client_context(cafile=ca[0])
        with _verified(t.tls_port, strict, "tern.test") as s:
            s.login(USER, PASSWORD)
            s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        self.assertSecureReceived(t, "b@example.com", auth=True)
        # The wrong name fails verification: the check is real.
        with self.assertRaises(ssl.SSLCertVerificationError):
            RawClient(t.tls_port, tls=strict, server_hostname="other.test")

    def test_self_signed_fallback(self):
        t = self.start_tls()
        made = os.path.join(t.state_dir, "tls", "self-signed.crt")
        self.assertIn("made a self-signed certificate for tern.test", t.log_text())
        self.assertTrue(os.path.exists(made), os.listdir(t.state_dir))
        der, c = self.peer_der(t.tls_port, ctx=client_context(maximum=ssl.TLSVersion.TLSv1_2))
        self.assertEqual(der, cert_der(made))
        self.assertIn("-ECDSA-", c.sock.cipher()[0])
        # It verifies as itself for the host name.
        c = self.tls_client(t.tls_port, client_context(cafile=made), "tern.test")
        c.expect(self, "NOOP", 250, "2.0.0")

    def test_cipher_options(self):
        t = self.start_tls("--tls-ciphers", "ECDHE+AESGCM:!aNULL",
                           "--tls-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256")
        c = self.tls_client(t.tls_port)
        self.assertEqual(c.sock.cipher()[0], "TLS_CHACHA20_POLY1305_SHA256")
        ctx = client_context(maximum=ssl.TLSVersion.TLSv1_2)
        ctx.set_ciphers("ECDHE+AES128+SHA")  # CBC only: not in the server's list
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            self.tls_client(t.tls_port, ctx)
        ctx = client_context(maximum=ssl.TLSVersion.TLSv1_2)
        c = self.tls_client(t.tls_port, ctx)
        self.assertRegex(c.sock.cipher()[0], r"^ECDHE-.*-GCM-")


def _verified(port, ctx, name):
    """SMTP_SSL to 127.0.0.1 that verifies the certificate for `name`."""
    class Named(smtplib.SMTP_SSL):
        def _get_socket(self, host, port, timeout):
            sock = socket.create_connection(("127.0.0.1", port), timeout)
            return self.context.wrap_socket(sock, server_hostname=name)
    return Named("127.0.0.1", port, timeout=10, context=ctx)


def reply_lines(c, wait=1.0):
    """Every reply line the server sends within `wait` seconds of silence
    (after what is already buffered)."""
    data = c.pending(wait)
    c.buf = b""
    return [l for l in data.split(b"\r\n") if l]


class StartTlsCommandTest(TlsTestCase):
    """The STARTTLS command itself (RFC 3207) and STARTTLS injection
    (RFC 3207 5; CVE-2011-0411): plaintext the client sent behind the
    STARTTLS line must never be executed as if it came over TLS."""

    def open_tls_session(self, t, port=None):
        c = self.client(t) if port is None else RawClient(port)
        if port is not None:
            self.clients.append(c)
        c.expect(self, "EHLO x", 250)
        c.expect(self, "STARTTLS", 220, "2.0.0")
        c.starttls(client_context())
        return c

    def test_ehlo_before_and_after(self):
        t = self.start_tls()
        c = self.client(t)
        before = ehlo_keywords(c.expect(self, "EHLO x", 250))
        self.assertIn("STARTTLS", before)
        self.assertNotIn("REQUIRETLS", before)
        c.expect(self, "STARTTLS", 220, "2.0.0")
        c.starttls(client_context())
        after = ehlo_keywords(c.expect(self, "EHLO x", 250))
        self.assertNotIn("STARTTLS", after)
        self.assertIn("REQUIRETLS", after)

    def test_pipelined_noop_dropped(self):
        # (a) STARTTLS and NOOP in one write: the NOOP is dropped.
        t = self.start_tls()
        c = self.client(t)
        c.expect(self, "EHLO x", 250)
        c.send("STARTTLS\r\nNOOP\r\n")
        c.expect(self, None, 220, "2.0.0")
        c.starttls(client_context())
        c.send("EHLO x\r\nNOOP\r\n")
        c.expect(self, None, 250)  # EHLO
        c.expect(self, None, 250, "2.0.0")  # NOOP
        lines = [l for l in c.transcript if l.startswith("S:")]
        rest = reply_lines(c)
        noops = [l for l in lines if "250 2.0.0" in l] + [l for l in rest if b"250 2.0.0" in l]
        self.assertEqual(len(noops), 1, "want one 250 2.0.0 (the encrypted NOOP)\n%s\n"
                         "then: %r" % (c.dump(), rest))
        self.assertEqual(rest, [], c.dump())
        # Dropped by the net layer, which says so (docs/tls.md).
        self.assertIn("dropped 6 octets sent after STARTTLS", t.log_text(tail=1 << 20))

    def test_pipelined_transaction_dropped(self):
        # (a') A whole transaction behind STARTTLS: nothing of it is kept,
        # so RCPT after TLS has no MAIL to belong to, and nothing is stored.
        t = self.start_tls()
        c = self.client(t)
        c.expect(self, "EHLO x", 250)
        c.send("STARTTLS\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\n"
               "DATA\r\nSubject: injected\r\n\r\nx\r\n.\r\n")
        c.expect(self, None, 220, "2.0.0")
        c.starttls(client_context())
        c.expect(self, "EHLO x", 250)
        c.expect(self, "RCPT TO:<victim@example.com>", 503, "5.5.1")
        c.expect(self, "NOOP", 250, "2.0.0")
        self.assertEqual(reply_lines(c), [], c.dump())
        self.assertNothingStored(t)
        self.assertNotIn("evil@example.com", t.log_text(tail=1 << 20))

    def test_partial_line_not_joined(self):
        # (b) "NOO" behind STARTTLS must not become the start of the first
        # encrypted line: "NOO" + "NOOP" would be an unknown command (500).
        t = self.start_tls()
        c = self.client(t)
        c.expect(self, "EHLO x", 250)
        c.send("STARTTLS\r\nNOO")
        c.expect(self, None, 220, "2.0.0")
        c.starttls(client_context())
        c.expect(self, "NOOP", 250, "2.0.0")
        self.assertEqual(reply_lines(c), [], c.dump())
        c.expect(self, "EHLO x", 250)
        self.assertIn("dropped 3 octets sent after STARTTLS", t.log_text(tail=1 << 20))

    def test_plaintext_before_client_hello(self):
        # (c) Bytes after the 220 but before the ClientHello are no TLS
        # record: the handshake fails (or the server closes), never a 250.
        t = self.start_tls()
        c = self.client(t)
        c.expect(self, "EHLO x", 250)
        c.expect(self, "STARTTLS", 220, "2.0.0")
        c.send("NOOP\r\n")
        seen = b""
        try:
            c.starttls(client_context())
        except (ssl.SSLError, OSError) as e:
            c.transcript.append("-- handshake failed: %r" % e)
        else:
            try:
                c.send("NOOP\r\n")
                seen = c.pending(2.0)
            except (ssl.SSLError, OSError):
                pass
        self.assertNotIn(b"250", seen, c.dump())
        # The server lives on.
        c2 = self.open_tls_session(t)
        c2.expect(self, "NOOP", 250, "2.0.0")

    def test_second_starttls_and_argument(self):
        # (d) RFC 3207 4: STARTTLS takes no argument (501 5.5.4); once TLS
        # is on, another STARTTLS is out of sequence (503 5.5.1).
        t = self.start_tls()
        c = self.client(t)
        c.expect(self, "EHLO x", 250)
        c.expect(self, "STARTTLS foo", 501, "5.5.4")
        c.expect(self, "NOOP", 250, "2.0.0")  # still plaintext, still usable
        c.expect(self, "STARTTLS", 220, "2.0.0")
        c.starttls(client_context())
        c.expect(self, "EHLO x", 250)
        c.expect(self, "STARTTLS", 503, "5.5.1")
        c.expect(self, "STARTTLS foo", 503, "5.5.1")
        self.send_message(c)
        self.assertSecureReceived(t, "b@example.com")
        # Implicit TLS: never STARTTLS.
        c = self.tls_client(t.tls_port)
        c.expect(self, "EHLO x", 250)
        c.expect(self, "STARTTLS", 503, "5.5.1")
        c.expect(self, "NOOP", 250, "2.0.0")

    def test_submission_requires_tls(self):
        # (e) --submission: RFC 3207 4: 530 5.7.0 before STARTTLS.
        t = self.start_tls()
        c = RawClient(t.sub_port)
        self.clients.append(c)
        self.assertIn("STARTTLS", ehlo_keywords(c.expect(self, "EHLO x", 250)))
        r = c.expect(self, "MAIL FROM:<a@example.com>", 530, "5.7.0")
        # The TLS refusal, not the AUTH one (both are 530 5.7.0).
        self.assertIn("Must issue a STARTTLS command first", r.text)
        c.expect(self, "NOOP", 250, "2.0.0")
        c.expect(self, "STARTTLS", 220, "2.0.0")
        c.starttls(client_context())
        c.expect(self, "EHLO x", 250)
        self.send_message(c, auth=True)
        self.assertSecureReceived(t, "b@example.com", auth=True)

    def test_session_reset_after_tls(self):
        # (f) RFC 3207 4.2: after the handshake the client knows nothing,
        # and neither does the server: MAIL without a new EHLO is 503.
        t = self.start_tls()
        c = self.open_tls_session(t)
        c.expect(self, "MAIL FROM:<a@example.com>", 503, "5.5.1")
        c.expect(self, "EHLO x", 250)
        self.send_message(c)
        self.assertSecureReceived(t, "b@example.com")

    def test_transaction_before_starttls_forgotten(self):
        # RFC 3207 4.2 also discards a MAIL given before STARTTLS.
        t = self.start_tls()
        c = self.client(t)
        c.expect(self, "EHLO x", 250)
        c.expect(self, "MAIL FROM:<early@example.com>", 250, "2.1.0")
        c.expect(self, "STARTTLS", 220, "2.0.0")
        c.starttls(client_context())
        c.expect(self, "EHLO x", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 503, "5.5.1")
        self.send_message(c)


class ReloadTest(TlsTestCase):
    """SIGHUP re-reads the certificate files: new connections get the new
    certificate, open sessions keep theirs and go on working."""

    def install(self, live, src):
        for l, s in zip(live, src):
            shutil.copyfile(s, l + ".new")
            os.replace(l + ".new", l)

    def hup(self, t):
        # Not Ternd.signal(): that marks the server as already stopping.
        os.kill(t.pid(), signal.SIGHUP)

    def start_live(self, src):
        live = (os.path.join(self.certdir, "live.crt"), os.path.join(self.certdir, "live.key"))
        self.install(live, src)
        return live, self.start_tls("--tls-cert", live[0], "--tls-key", live[1])

    def test_sighup_new_certificate(self):
        a = self.cert("a", ["tern.test"], "rsa")
        b = self.cert("b", ["tern.test"], "ec")
        live, t = self.start_live(a)
        old = self.tls_client(t.tls_port)
        old_st = StartTlsCommandTest.open_tls_session(self, t)
        old.expect(self, "EHLO old.example", 250)
        self.assertEqual(old.sock.getpeercert(True), cert_der(a[0]))
        self.install(live, b)
        self.hup(t)
        self.wait_log(t, "certificates reloaded")
        for c in (self.tls_client(t.tls_port), StartTlsCommandTest.open_tls_session(self, t)):
            self.assertEqual(c.sock.getpeercert(True), cert_der(b[0]))
            c.expect(self, "NOOP", 250, "2.0.0")
        # The sessions opened before the reload keep A and keep working.
        for c, rcpt in ((old, "old@example.com"), (old_st, "oldst@example.com")):
            self.assertEqual(c.sock.getpeercert(True), cert_der(a[0]))
            c.expect(self, "NOOP", 250, "2.0.0")
            self.send_message(c, rcpt, ehlo=c is old_st, auth=c is old)
            self.assertSecureReceived(t, rcpt, auth=c is old)

    def test_sighup_broken_file_keeps_old(self):
        a = self.cert("a", ["tern.test"], "rsa")
        live, t = self.start_live(a)
        old = self.tls_client(t.tls_port)
        with open(live[0] + ".new", "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
        os.replace(live[0] + ".new", live[0])
        self.hup(t)
        self.wait_log(t, "reload failed")
        self.assertRegex(t.log_text(tail=1 << 20), r" error \[-\] .*reload failed")
        c = self.tls_client(t.tls_port)
        self.assertEqual(c.sock.getpeercert(True), cert_der(a[0]))
        c.expect(self, "EHLO x", 250)
        self.send_message(c, auth=True)
        self.assertSecureReceived(t, "b@example.com", auth=True)
        old.expect(self, "NOOP", 250, "2.0.0")
        # A key that does not match the certificate is refused too.
        other = self.cert("other", ["tern.test"], "rsa")
        self.install(live, (a[0], other[1]))
        self.hup(t)
        deadline = time.monotonic() + 10
        while t.log_text(tail=1 << 20).count("reload failed") < 2:
            self.assertLess(time.monotonic(), deadline, t.log_text())
            time.sleep(0.05)
        c = self.tls_client(t.tls_port)
        self.assertEqual(c.sock.getpeercert(True), cert_der(a[0]))
        c.expect(self, "NOOP", 250, "2.0.0")


class AlpnTest(TlsTestCase):
    """ALPACA (2021): a web protocol offered over ALPN is refused
    (RFC 7301 3.2); an unknown one is ignored."""

    def test_http_refused(self):
        t = self.start_tls()
        for protos in (["http/1.1"], ["h2"], ["foo", "http/1.1"]):
            with self.subTest(protos=protos):
                with self.assertRaises((ssl.SSLError, ConnectionError)):
                    self.tls_client(t.tls_port, client_context(alpn=protos))
                c = self.client(t)
                c.expect(self, "EHLO x", 250)
                c.expect(self, "STARTTLS", 220, "2.0.0")
                with self.assertRaises((ssl.SSLError, ConnectionError)):
                    c.starttls(client_context(alpn=protos))
        # The server is fine afterwards.
        c = self.tls_client(t.tls_port)
        c.expect(self, "NOOP", 250, "2.0.0")

    def test_unknown_ignored(self):
        t = self.start_tls()
        c = self.tls_client(t.tls_port, client_context(alpn=["foo"]))
        self.assertIsNone(c.sock.selected_alpn_protocol())
        c.expect(self, "EHLO x", 250)
        self.send_message(c, auth=True)
        self.assertSecureReceived(t, "b@example.com", auth=True)
        c = self.client(t)
        c.expect(self, "EHLO x", 250)
        c.expect(self, "STARTTLS", 220, "2.0.0")
        c.starttls(client_context(alpn=["foo", "smtp"]))
        self.assertIsNone(c.sock.selected_alpn_protocol())
        c.expect(self, "EHLO x", 250)
        c.expect(self, "NOOP", 250, "2.0.0")
