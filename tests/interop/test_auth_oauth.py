"""OAuth in SMTP AUTH (XOAUTH2 and OAUTHBEARER, RFC 7628) through an
embedder: examples/submission.c, which checks bearer tokens from a static
table (ternd refuses these mechanisms: it has no token verifier). Clients:
nodemailer (auth type OAuth2, which speaks XOAUTH2) and curl
(--oauth2-bearer: OAUTHBEARER when offered, else XOAUTH2), and a raw client
for the JSON error challenge of a wrong token. The example's PLAIN/LOGIN
answers come from a timer (a PENDING decision resumed later); those are
tested here too, including a client that leaves before the answer.

The example is found next to TERND (ternlib.example_path)."""

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from ternlib import (SANITIZER_MARKERS, RawClient, ToolsMixin, client_context, example_path,
                     free_port, make_cert, wait_listening)
from test_auth import MESSAGE, b64, nodemailer_send, plain

EXAMPLE = example_path("example_submission")
USER, PASSWORD = "alice@example.org", "Example-Pw-0b5e"
TOKEN = "ya29.Example-Token_8c1f~x+y/z="
OTHER_USER, OTHER_TOKEN = "bob@example.org", "Bob-Token-77aa"


class Submission:
    """One example_submission process with a STARTTLS port and an
    implicit-TLS port."""

    def __init__(self, directory, *extra):
        self.port, self.tls_port = free_port(), free_port()
        cert, key = make_cert(directory, "server", ["submission.example", "127.0.0.1"], "ec")
        self.out_path = os.path.join(directory, "stdout")
        self.err_path = os.path.join(directory, "stderr")
        self.cmd = [EXAMPLE, "--cert", cert, "--key", key,
                    "--listen", "127.0.0.1:%d" % self.port,
                    "--tls-listen", "127.0.0.1:%d" % self.tls_port,
                    "--user", "%s:%s" % (USER, PASSWORD),
                    "--token", "%s:%s" % (USER, TOKEN),
                    "--token", "%s:%s" % (OTHER_USER, OTHER_TOKEN)] + list(extra)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=self.err, env=env)
        wait_listening(self.port, self.proc)
        wait_listening(self.tls_port, self.proc)

    def messages(self):
        """The envelope lines printed so far."""
        with open(self.out_path, "rb") as f:
            return [l.decode() for l in f.read().splitlines() if l.startswith(b"message ")]

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read()

    def stop(self):
        """SIGTERM; returns a list of problems."""
        problems = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=15)
            if rc != 0:
                problems.append("example_submission exited with %d" % rc)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            problems.append("example_submission did not exit on SIGTERM")
        self.out.close()
        self.err.close()
        err = self.stderr()
        for m in SANITIZER_MARKERS:
            if m in err:
                problems.append("sanitizer report (%s)" % m.decode())
                break
        return problems


class OAuthTest(ToolsMixin, unittest.TestCase):
    def setUp(self):
        if not os.access(EXAMPLE, os.X_OK):
            self.fail("example_submission not found at %s (build it, or set "
                      "TERN_EXAMPLES_DIR)" % EXAMPLE)
        self.dir = tempfile.mkdtemp(prefix="tern-oauth-")
        self.servers = []
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        problems = []
        for s in self.servers:
            p = s.stop()
            if p:
                problems.append("%s\n--- stderr ---\n%s"
                                % ("; ".join(p), s.stderr()[-4000:].decode(errors="replace")))
            # Neither tokens nor passwords in what the library logged.
            err = s.stderr()
            for secret in (PASSWORD, TOKEN, OTHER_TOKEN, "Wrong-Token-123", "Wrong-Pw-9"):
                if secret.encode() in err:
                    problems.append("%r in the example's log" % secret)
        if problems:
            self.fail("\n".join(problems))
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, *extra):
        s = Submission(self.dir, *extra)
        self.servers.append(s)
        return s

    def tls_client(self, s):
        c = RawClient(s.tls_port, tls=client_context())
        self.clients.append(c)
        c.expect(self, "EHLO client.example", 250)
        return c

    def assertMessage(self, s, user, mechanism, sender=USER, rcpts=("b@example.com",)):
        want = "message from=<%s> auth=%s (%s) rcpt=%s" % (
            sender, user, mechanism, ",".join("<%s>" % r for r in rcpts))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the line is flushed before the 250
            msgs = s.messages()
            if msgs:
                break
            time.sleep(0.05)
        self.assertEqual(len(msgs), 1, msgs)
        self.assertTrue(msgs[0].startswith(want + " size="), "%r\nwant %r" % (msgs, want))

    # ---- curl: OAUTHBEARER or XOAUTH2, whichever is offered --------------

    def curl(self, url, *extra, ok=True):
        msg = os.path.join(self.dir, "message.eml")
        with open(msg, "wb") as f:
            f.write(MESSAGE)
        return self.run_tool([self.need("curl"), "-sS", "-k", "--max-time", "20", url,
                              "--mail-from", USER, "--mail-rcpt", "b@example.com",
                              "-T", msg] + list(extra), ok=ok)

    def test_curl_oauthbearer(self):
        s = self.start("--auth-methods", "OAUTHBEARER")
        self.curl("smtps://127.0.0.1:%d/curl.example" % s.tls_port,
                  "--user", USER + ":", "--oauth2-bearer", TOKEN)
        # The token named the user (tern_smtp_session_set_auth_user).
        self.assertMessage(s, USER, "OAUTHBEARER")

    def test_curl_xoauth2(self):
        s = self.start("--auth-methods", "XOAUTH2")
        self.curl("smtp://127.0.0.1:%d/curl.example" % s.port, "--ssl-reqd",
                  "--user", USER + ":", "--oauth2-bearer", TOKEN)
        self.assertMessage(s, USER, "XOAUTH2")

    def test_curl_prefers_oauthbearer(self):
        # Both offered: curl picks OAUTHBEARER (RFC 7628) over XOAUTH2.
        s = self.start()
        self.curl("smtps://127.0.0.1:%d/curl.example" % s.tls_port,
                  "--user", USER + ":", "--oauth2-bearer", TOKEN)
        self.assertMessage(s, USER, "OAUTHBEARER")

    def test_curl_wrong_token(self):
        for methods in ("OAUTHBEARER", "XOAUTH2"):
            with self.subTest(methods=methods):
                s = self.start("--auth-methods", methods)
                p = self.curl("smtps://127.0.0.1:%d/curl.example" % s.tls_port,
                              "--user", USER + ":", "--oauth2-bearer", "Wrong-Token-123",
                              ok=False)
                self.assertEqual(p.returncode, 67, p.stderr)  # CURLE_LOGIN_DENIED
                self.assertEqual(s.messages(), [])

    def test_curl_plain_pending(self):
        # PLAIN answered from a timer (on_auth returned PENDING).
        s = self.start()
        self.curl("smtps://127.0.0.1:%d/curl.example" % s.tls_port,
                  "--user", "%s:%s" % (USER, PASSWORD), "--login-options", "AUTH=PLAIN")
        self.assertMessage(s, USER, "PLAIN")

    # ---- nodemailer: auth type OAuth2 (XOAUTH2) ----------------------------

    def test_nodemailer_oauth2_secure(self):
        s = self.start()
        out = nodemailer_send(self, {"port": s.tls_port, "secure": True,
                                     "auth": {"type": "OAuth2", "user": USER,
                                              "accessToken": TOKEN}},
                              {"from": USER, "to": ["b@example.com"]})
        self.assertEqual(out.get("accepted"), ["b@example.com"], out)
        self.assertMessage(s, USER, "XOAUTH2")

    def test_nodemailer_oauth2_starttls(self):
        s = self.start()
        out = nodemailer_send(self, {"port": s.port, "secure": False, "requireTLS": True,
                                     "auth": {"type": "OAuth2", "user": USER,
                                              "accessToken": TOKEN}},
                              {"from": USER, "to": ["b@example.com"]})
        self.assertEqual(out.get("accepted"), ["b@example.com"], out)
        self.assertMessage(s, USER, "XOAUTH2")

    def test_nodemailer_oauth2_wrong_token(self):
        s = self.start()
        out = nodemailer_send(self, {"port": s.tls_port, "secure": True,
                                     "auth": {"type": "OAuth2", "user": USER,
                                              "accessToken": "Wrong-Token-123"}},
                              {"from": USER, "to": ["b@example.com"]}, ok=False)
        # nodemailer takes the failure as an expired token and, having no
        # refresh token, gives up: "Can't create new access token for user".
        self.assertEqual(out.get("code"), "EAUTH", out)
        self.assertIn(b"535 5.7.8", s.stderr())
        self.assertEqual(s.messages(), [])

    def test_nodemailer_login(self):
        # LOGIN, answered from the timer.
        s = self.start("--auth-methods", "LOGIN,XOAUTH2")
        out = nodemailer_send(self, {"port": s.tls_port, "secure": True,
                                     "auth": {"user": USER, "pass": PASSWORD}},
                              {"from": USER, "to": ["b@example.com"]})
        self.assertEqual(out.get("accepted"), ["b@example.com"], out)
        self.assertMessage(s, USER, "LOGIN")

    # ---- the exchange itself ----------------------------------------------

    def json_challenge(self, reply):
        self.assertEqual(reply.code, 334, reply)
        return json.loads(base64.b64decode(reply.lines[-1][4:]))

    def test_wrong_token_json_challenge(self):
        s = self.start()
        c = self.tls_client(s)
        # XOAUTH2: a JSON error challenge, an empty answer, then 535.
        r = c.cmd("AUTH XOAUTH2 " + b64("user=%s\x01auth=Bearer Wrong-Token-123\x01\x01" % USER))
        self.assertEqual(self.json_challenge(r).get("status"), "401", r)
        c.expect(self, "", 535, "5.7.8")
        # Another user's valid token is wrong for this user too.
        r = c.cmd("AUTH XOAUTH2 " + b64("user=%s\x01auth=Bearer %s\x01\x01" % (USER, OTHER_TOKEN)))
        self.json_challenge(r)
        c.expect(self, "", 535, "5.7.8")
        # OAUTHBEARER (RFC 7628 3.2.2): {"status":"invalid_token"}; the
        # client answers %x01 and gets the failure.
        d = self.tls_client(s)
        r = d.cmd("AUTH OAUTHBEARER " + b64("n,a=%s,\x01auth=Bearer Wrong-Token-123\x01\x01"
                                            % USER))
        self.assertEqual(self.json_challenge(r).get("status"), "invalid_token", r)
        d.expect(self, b64("\x01"), 535, "5.7.8")
        # Then the right token works in the same session.
        d.expect(self, "AUTH OAUTHBEARER " + b64("n,a=%s,\x01auth=Bearer %s\x01\x01"
                                                 % (USER, TOKEN)), 235, "2.7.0")

    def test_oauthbearer_identity_from_token(self):
        s = self.start()
        c = self.tls_client(s)
        # No a=: the token alone names bob.
        c.expect(self, "AUTH OAUTHBEARER " + b64("n,,\x01auth=Bearer %s\x01\x01" % OTHER_TOKEN),
                 235, "2.7.0")
        c.expect(self, "MAIL FROM:<%s>" % USER, 550, "5.7.1")
        c.expect(self, "MAIL FROM:<%s>" % OTHER_USER, 250)
        # a= naming someone other than the token's owner: refused.
        d = self.tls_client(s)
        r = d.cmd("AUTH OAUTHBEARER " + b64("n,a=%s,\x01auth=Bearer %s\x01\x01"
                                            % (USER, OTHER_TOKEN)))
        self.json_challenge(r)
        d.expect(self, b64("\x01"), 535, "5.7.8")

    def test_oauth_not_without_tls(self):
        # The example's --listen requires TLS (require_tls): AUTH is not
        # offered before STARTTLS and is refused like MAIL (530 5.7.0).
        s = self.start()
        c = RawClient(s.port)
        self.clients.append(c)
        r = c.expect(self, "EHLO client.example", 250)
        self.assertNotIn(b"AUTH", b"".join(r.lines))
        c.expect(self, "AUTH XOAUTH2 " + b64("user=%s\x01auth=Bearer %s\x01\x01"
                                             % (USER, TOKEN)), 530, "5.7.0")
        c.expect(self, "STARTTLS", 220)
        c.starttls(client_context())
        r = c.expect(self, "EHLO client.example", 250)
        self.assertIn(b"XOAUTH2", b"".join(r.lines))
        c.expect(self, "AUTH XOAUTH2 " + b64("user=%s\x01auth=Bearer %s\x01\x01"
                                             % (USER, TOKEN)), 235, "2.7.0")

    def test_plain_wrong_then_right(self):
        s = self.start()
        c = self.tls_client(s)
        c.expect(self, "AUTH PLAIN " + plain(USER, "Wrong-Pw-9"), 535, "5.7.8")
        c.expect(self, "AUTH PLAIN " + plain(USER, PASSWORD), 235, "2.7.0")
        c.expect(self, "MAIL FROM:<%s>" % USER, 250)

    def test_client_leaves_before_the_answer(self):
        # The timer fires after the session ended: resume gets TERN_ECLOSED,
        # the reference taken in on_auth keeps the object until the unref
        # (an ASan build reports a use after free or a leak otherwise).
        s = self.start("--delay-ms", "300")
        for _ in range(5):
            c = self.tls_client(s)
            c.send("AUTH PLAIN " + plain(USER, PASSWORD) + "\r\n")
            c.close()
        time.sleep(0.5)
        c = self.tls_client(s)
        c.expect(self, "AUTH PLAIN " + plain(USER, PASSWORD), 235, "2.7.0")
        self.assertEqual(s.proc.poll(), None)


if __name__ == "__main__":
    unittest.main()
