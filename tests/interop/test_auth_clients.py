"""SMTP AUTH in ternd through real clients nobody here wrote: swaks
(Authen::SASL), Python smtplib, msmtp (GnuTLS + GNU SASL), nodemailer and
curl. Each sends a message, and the stored file's Received header must say
ESMTPSA; ternd's log names the mechanism each client chose. A missing tool
is a skip with its reason. Fixtures and the log check: test_auth.py."""

import re
import shutil
import tempfile
import smtplib

from ternlib import client_context, make_cert
from test_auth import ALICE, BOB, MESSAGE, AuthTestCase, nodemailer_send


# ---- real clients ---------------------------------------------------------

class SwaksAuthTest(AuthTestCase):
    def swaks(self, port, *args):
        return self.run_tool([self.need("swaks"), "--server", "127.0.0.1:%d" % port,
                              "--helo", "swaks.example", "--timeout", "10",
                              "--from", "alice@example.org", "--to", "b@example.com",
                              "--auth-user", ALICE[0], "--auth-password", ALICE[1],
                              "--data", "@" + self.msgfile()] + list(args))

    def check(self, p, mechanism):
        out = p.stdout.decode(errors="replace")
        self.assertRegex(out, r"~> AUTH %s" % mechanism, out)
        self.assertRegex(out, r"<~  235 2\.7\.0", out)
        self.assertRegex(out, r"<~  250 2\.6\.0", out)

    def test_submission_starttls_plain(self):
        t = self.start_auth()
        self.check(self.swaks(t.sub_port, "-tls", "--auth", "PLAIN"), "PLAIN")
        # swaks sends the file, then CRLF . CRLF: stored is the file + CRLF
        self.assertAuthReceived(t, body=MESSAGE + b"\r\n")
        self.assertAuthenticatedAs(t, ALICE[0], "PLAIN")

    def test_tls_on_connect_login(self):
        t = self.start_auth()
        self.check(self.swaks(t.tls_port, "--tls-on-connect", "--auth", "LOGIN"), "LOGIN")
        self.assertAuthReceived(t, body=MESSAGE + b"\r\n")
        self.assertAuthenticatedAs(t, ALICE[0], "LOGIN")

    def test_cram_md5(self):
        # CRAM-MD5 needs the cram-md5= secret (ternd passwd --cram-md5) and
        # is opt-in in --auth-methods.
        t = self.start_auth("--auth-methods", "CRAM-MD5,PLAIN")
        self.check(self.swaks(t.sub_port, "-tls", "--auth", "CRAM-MD5"), "CRAM-MD5")
        self.assertAuthReceived(t, body=MESSAGE + b"\r\n")
        self.assertAuthenticatedAs(t, ALICE[0], "CRAM-MD5")

    def test_wrong_password_fails(self):
        t = self.start_auth()
        p = self.run_tool([self.need("swaks"), "--server", "127.0.0.1:%d" % t.tls_port,
                           "--tls-on-connect", "--timeout", "10", "--auth", "PLAIN",
                           "--from", "alice@example.org", "--to", "b@example.com",
                           "--auth-user", ALICE[0],
                           "--auth-password", self.secret("Not-Alice-Pw-55")], ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(errors="replace"), r"<~\*?\s+535 5\.7\.8")
        self.assertEqual(t.all_stored(), [])


class SmtplibAuthTest(AuthTestCase):
    def test_starttls_login_picks_cram_md5(self):
        # smtplib.login() tries CRAM-MD5, PLAIN, LOGIN in that order among
        # what the server offers.
        t = self.start_auth("--auth-methods", "PLAIN,LOGIN,CRAM-MD5")
        with smtplib.SMTP("127.0.0.1", t.sub_port, "smtplib.example", timeout=10) as s:
            s.starttls(context=client_context())
            s.ehlo()
            self.assertIn("CRAM-MD5", s.esmtp_features["auth"].split())
            code, _ = s.login(ALICE[0], ALICE[1])
            self.assertEqual(code, 235)
            s.sendmail("alice@example.org", ["b@example.com"], MESSAGE)
        self.assertAuthReceived(t)
        self.assertAuthenticatedAs(t, ALICE[0], "CRAM-MD5")

    def test_starttls_login_plain(self):
        t = self.start_auth()  # default methods: smtplib picks PLAIN
        with smtplib.SMTP("127.0.0.1", t.sub_port, "smtplib.example", timeout=10) as s:
            s.starttls(context=client_context())
            s.login(ALICE[0], ALICE[1])
            s.sendmail("alice@example.org", ["b@example.com"], MESSAGE)
        self.assertAuthReceived(t)
        self.assertAuthenticatedAs(t, ALICE[0], "PLAIN")

    def test_smtp_ssl_login(self):
        t = self.start_auth("--auth-methods", "LOGIN")
        with smtplib.SMTP_SSL("127.0.0.1", t.tls_port, "smtplib.example", timeout=10,
                              context=client_context()) as s:
            s.login(BOB[0], BOB[1])
            s.sendmail("bob@example.org", ["b@example.com"], MESSAGE)
        self.assertAuthReceived(t)
        self.assertAuthenticatedAs(t, BOB[0], "LOGIN")

    def test_smtplib_wrong_password(self):
        # PLAIN only: login() would go on to try LOGIN after a failure.
        t = self.start_auth("--auth-methods", "PLAIN")
        with smtplib.SMTP_SSL("127.0.0.1", t.tls_port, "smtplib.example", timeout=10,
                              context=client_context()) as s:
            with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                s.login(ALICE[0], self.secret("Wrong-Alice-Pw-81"))
            self.assertEqual(cm.exception.smtp_code, 535)


class MsmtpTest(AuthTestCase):
    def msmtp(self, port, auth, *extra, ok=True):
        return self.run_tool([self.need("msmtp"), "--host=127.0.0.1", "--port=%d" % port,
                              "--tls=on", "--tls-certcheck=off", "--auth=" + auth,
                              "--user=" + ALICE[0], "--passwordeval=echo '%s'" % ALICE[1],
                              "--from=alice@example.org", "--domain=msmtp.example",
                              "--timeout=10"] + list(extra) + ["b@example.com"],
                             input=MESSAGE, ok=ok)

    def test_scram_sha_256_starttls(self):
        t = self.start_auth()
        self.msmtp(t.sub_port, "scram-sha-256", "--tls-starttls=on")
        self.assertIn(b"sent after AUTH", self.assertAuthReceived(t, body=None))
        self.assertAuthenticatedAs(t, ALICE[0], "SCRAM-SHA-256")

    def test_scram_sha_256_implicit_tls(self):
        t = self.start_auth()
        self.msmtp(t.tls_port, "scram-sha-256", "--tls-starttls=off")
        self.assertIn(b"sent after AUTH", self.assertAuthReceived(t, body=None))
        self.assertAuthenticatedAs(t, ALICE[0], "SCRAM-SHA-256")

    def test_scram_wrong_password(self):
        t = self.start_auth()
        p = self.run_tool([self.need("msmtp"), "--host=127.0.0.1", "--port=%d" % t.tls_port,
                           "--tls=on", "--tls-starttls=off", "--tls-certcheck=off",
                           "--auth=scram-sha-256", "--user=" + ALICE[0],
                           "--passwordeval=echo '%s'" % self.secret("Scram-Wrong-Pw-12"),
                           "--from=alice@example.org", "--timeout=10", "b@example.com"],
                          input=MESSAGE, ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"535", p.stdout + p.stderr)
        self.assertEqual(t.all_stored(), [])

    def test_scram_sha_256_plus(self):
        # What msmtp 1.8.23 (Debian 12) offers: its --auth list has
        # scram-sha-1 and scram-sha-256 but no -PLUS variant, although
        # libgsasl 2.2 implements SCRAM-SHA-256-PLUS. Skip with what it says
        # unless a newer msmtp accepts the name.
        msmtp = self.need("msmtp")
        p = self.run_tool([msmtp, "--version"])
        methods = re.search(rb"Supported authentication methods:\s*\n(.*)\n", p.stdout)
        if methods is None or b"scram-sha-256-plus" not in methods.group(1):
            self.skipTest("msmtp offers no scram-sha-256-plus (its methods: %s)"
                          % (methods.group(1).decode().strip() if methods else "?"))
        t = self.start_auth()
        self.msmtp(t.tls_port, "scram-sha-256-plus", "--tls-starttls=off")
        self.assertIn(b"sent after AUTH", self.assertAuthReceived(t, body=None))
        self.assertAuthenticatedAs(t, ALICE[0], "SCRAM-SHA-256-PLUS")


class GsaslTest(AuthTestCase):
    """GNU SASL's own client (gsasl 2.2, GnuTLS): SCRAM-SHA-256-PLUS with a
    real channel binding (tls-exporter over TLS 1.3), which msmtp cannot
    ask for. gsasl checks the server certificate by name, so ternd gets one
    made here for 127.0.0.1."""

    def start_gsasl_ternd(self):
        d = tempfile.mkdtemp(prefix="tern-gsasl-")
        self.addCleanup(shutil.rmtree, d, True)
        cert, key = make_cert(d, "server", ["127.0.0.1"], "ec")
        t = self.start_auth("--tls-cert", cert, "--tls-key", key)
        return t, cert

    def gsasl(self, t, cert, mech, password, *extra, ok=True):
        return self.run_tool([self.need("gsasl"), "--smtp", "--connect",
                              "127.0.0.1:%d" % t.sub_port, "--starttls",
                              "--x509-ca-file=" + cert, "--mechanism", mech,
                              "-a", ALICE[0], "-p", password, "--verbose"] + list(extra),
                             input=b"", ok=ok)

    def test_scram_sha_256_plus_channel_binding(self):
        t, cert = self.start_gsasl_ternd()
        self.gsasl(t, cert, "SCRAM-SHA-256-PLUS", ALICE[1])
        self.assertAuthenticatedAs(t, ALICE[0], "SCRAM-SHA-256-PLUS")

    def test_scram_sha_256_without_binding(self):
        t, cert = self.start_gsasl_ternd()
        self.gsasl(t, cert, "SCRAM-SHA-256", ALICE[1], "--no-cb")
        self.assertAuthenticatedAs(t, ALICE[0], "SCRAM-SHA-256")

    def test_scram_plus_wrong_password(self):
        t, cert = self.start_gsasl_ternd()
        p = self.gsasl(t, cert, "SCRAM-SHA-256-PLUS", self.secret("Plus-Wrong-Pw-55"), ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"535", p.stdout + p.stderr)


class NodemailerAuthTest(AuthTestCase):
    ENVELOPE = {"from": "alice@example.org", "to": ["b@example.com"]}

    def test_secure_login(self):
        t = self.start_auth()
        out = nodemailer_send(self, {"port": t.tls_port, "secure": True,
                                     "auth": {"user": ALICE[0], "pass": ALICE[1]}},
                              self.ENVELOPE)
        self.assertEqual(out["accepted"], ["b@example.com"], out)
        self.assertAuthReceived(t)

    def test_starttls_login(self):
        t = self.start_auth()
        out = nodemailer_send(self, {"port": t.sub_port, "secure": False, "requireTLS": True,
                                     "auth": {"user": ALICE[0], "pass": ALICE[1]}},
                              self.ENVELOPE)
        self.assertTrue(out["response"].startswith("250 2.6.0"), out)
        self.assertAuthReceived(t)

    def test_wrong_password(self):
        t = self.start_auth()
        out = nodemailer_send(self, {"port": t.tls_port, "secure": True,
                                     "auth": {"user": ALICE[0],
                                              "pass": self.secret("Node-Wrong-Pw-33")}},
                              self.ENVELOPE, ok=False)
        self.assertEqual(out.get("code"), "EAUTH", out)
        self.assertEqual(out.get("responseCode"), 535, out)
        self.assertEqual(t.all_stored(), [])


class CurlAuthTest(AuthTestCase):
    def curl(self, url, user, *extra, ok=True):
        return self.run_tool([self.need("curl"), "-sS", "-k", "--max-time", "20", url,
                              "--user", user, "--mail-from", "alice@example.org",
                              "--mail-rcpt", "b@example.com", "-T", self.msgfile()] +
                             list(extra), ok=ok)

    def test_smtps_user(self):
        t = self.start_auth()
        self.curl("smtps://127.0.0.1:%d/curl.example" % t.tls_port, "%s:%s" % ALICE[:2])
        self.assertAuthReceived(t)

    def test_starttls_login_option(self):
        t = self.start_auth()
        self.curl("smtp://127.0.0.1:%d/curl.example" % t.sub_port, "%s:%s" % ALICE[:2],
                  "--ssl-reqd", "--login-options", "AUTH=LOGIN")
        self.assertAuthReceived(t)
        self.assertAuthenticatedAs(t, ALICE[0], "LOGIN")

    def test_smtps_wrong_password(self):
        t = self.start_auth()
        p = self.curl("smtps://127.0.0.1:%d/curl.example" % t.tls_port,
                      "%s:%s" % (ALICE[0], self.secret("Curl-Wrong-Pw-64")), ok=False)
        self.assertEqual(p.returncode, 67, p.stderr)  # CURLE_LOGIN_DENIED
        self.assertEqual(t.all_stored(), [])
