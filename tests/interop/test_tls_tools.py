"""TLS in ternd through real clients nobody here wrote: openssl s_client,
gnutls-cli (a second TLS stack), swaks (Net::SSLeay), nodemailer (Node's
TLS), curl, and one testssl.sh scan. A missing tool is a skip with the
reason. Listeners as in test_tls.py: t.port (--listen, STARTTLS offered),
t.sub_port (--submission), t.tls_port (--tls-listen, implicit TLS); on the
last two ternd wants AUTH before MAIL, so the clients log in there (PLAIN)."""

import json
import os
import queue
import re
import signal
import ssl
import subprocess
import threading
import time

from ternlib import HERE, cert_der, tool
from test_tls import MESSAGE, PASSWORD, USER, TlsTestCase, auth_plain

CMD_TIMEOUT = 60


class Piped:
    """A TLS client program driven through its stdin/stdout like a socket:
    write a command line, read the server's reply. Lines that are not SMTP
    replies (the tool's own chatter) are kept in `noise` and skipped."""

    def __init__(self, testcase, args):
        self.tc = testcase
        self.args = args
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.noise = []
        self.err = []
        self.transcript = []
        threading.Thread(target=self._read, args=(self.p.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._read, args=(self.p.stderr, None), daemon=True).start()

    def _read(self, stream, q):
        for line in iter(stream.readline, b""):
            if q is None:
                self.err.append(line)
            else:
                q.put(line.rstrip(b"\r\n"))
        if q is not None:
            q.put(None)

    def dump(self):
        return ("%s\ntranscript:\n  %s\ntool output:\n  %s\nstderr:\n  %s"
                % (" ".join(self.args), "\n  ".join(self.transcript[-30:]),
                   "\n  ".join(l.decode(errors="replace") for l in self.noise[-30:]),
                   "  ".join(l.decode(errors="replace") for l in self.err[-30:])))

    def reply(self, timeout=15):
        """(code, last line) of the next SMTP reply."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.tc.fail("no reply within %d s\n%s" % (timeout, self.dump()))
            if line is None:
                self.tc.fail("%s ended before a reply\n%s" % (self.args[0], self.dump()))
            if re.match(rb"^[2-5]\d\d[ -]", line):
                self.transcript.append("S: %r" % line)
                if line[3:4] == b" ":
                    return int(line[:3]), line
            else:
                self.noise.append(line)

    def send(self, data):
        self.transcript.append("C: %r" % data[:200])
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def expect(self, line, code, enhanced=None):
        if line is not None:
            self.send(line.encode() + b"\r\n")
        got, last = self.reply()
        self.tc.assertEqual(got, code, "reply to %r\n%s" % (line, self.dump()))
        if enhanced:
            self.tc.assertTrue(last[4:].startswith(enhanced.encode()), self.dump())
        return last

    def message(self, rcpt="b@example.com", body=MESSAGE, auth=False):
        self.expect("EHLO client.example", 250)
        if auth:
            self.expect(auth_plain(), 235)
        self.expect("MAIL FROM:<a@example.com>", 250, "2.1.0")
        self.expect("RCPT TO:<%s>" % rcpt, 250, "2.1.5")
        self.expect("DATA", 354)
        self.send(body + b".\r\n")
        self.expect(None, 250, "2.6.0")
        self.expect("QUIT", 221, "2.0.0")

    def finish(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            return self.p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            self.tc.fail("%s did not exit\n%s" % (self.args[0], self.dump()))


class ToolTlsTest(TlsTestCase):
    def need(self, name):
        path = tool(name)
        if path is None:
            self.skipTest("%s not installed (scripts/install-deps.sh installs it)" % name)
        return path

    def piped(self, args):
        d = Piped(self, args)
        self.addCleanup(lambda: d.p.poll() is None and (d.p.kill(), d.p.wait()))
        return d

    def run_tool(self, args, input=None, ok=True, timeout=CMD_TIMEOUT, env=None, cwd=None):
        p = subprocess.run(args, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=env, cwd=cwd)
        if ok:
            self.assertEqual(p.returncode, 0, "%s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (args[0], p.returncode, p.stdout.decode(errors="replace")[-3000:],
                                p.stderr.decode(errors="replace")[-3000:]))
        return p

    def msgfile(self, body=MESSAGE):
        path = os.path.join(self.certdir, "message.eml")
        with open(path, "wb") as f:
            f.write(body)
        return path


class OpensslClientTest(ToolTlsTest):
    def s_client(self, port, *extra):
        return self.piped([self.need("openssl"), "s_client", "-connect", "127.0.0.1:%d" % port,
                           "-quiet", "-ign_eof"] + list(extra))

    def test_starttls_message(self):
        t = self.start_tls()
        for port, rcpt, auth in ((t.port, "b@example.com", False),
                                 (t.sub_port, "sub@example.com", True)):
            # s_client reads the greeting, sends EHLO and STARTTLS itself.
            d = self.s_client(port, "-starttls", "smtp", "-name", "s-client.example")
            d.message(rcpt, auth=auth)
            self.assertEqual(d.finish(), 0, d.dump())
            self.assertSecureReceived(t, rcpt, auth=auth)

    def test_implicit_message(self):
        t = self.start_tls()
        d = self.s_client(t.tls_port)
        d.expect(None, 220)
        d.message(auth=True)
        self.assertEqual(d.finish(), 0, d.dump())
        self.assertSecureReceived(t, "b@example.com", auth=True)

    def test_tls12_and_13(self):
        t = self.start_tls("--tls-min-version", "1.3")
        d = self.s_client(t.tls_port, "-tls1_3")
        d.expect(None, 220)
        d.expect("QUIT", 221)
        d.finish()
        p = self.run_tool([self.need("openssl"), "s_client", "-connect",
                           "127.0.0.1:%d" % t.tls_port, "-tls1_2"], input=b"", ok=False)
        self.assertNotEqual(p.returncode, 0, p.stdout.decode(errors="replace"))
        self.assertNotIn(b"220 tern.test", p.stdout)

    def presented(self, port, *extra):
        """PEM of the leaf certificate and the subject line s_client shows."""
        p = self.run_tool([self.need("openssl"), "s_client", "-connect", "127.0.0.1:%d" % port,
                           "-showcerts"] + list(extra), input=b"")
        out = p.stdout.decode(errors="replace")
        pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", out, re.S)
        self.assertIsNotNone(pem, out)
        subject = re.search(r"^subject=(.*)$", out, re.M)
        self.assertIsNotNone(subject, out)
        return pem.group(0), subject.group(1)

    def test_sni(self):
        a = self.cert("a", ["tern.test"], "rsa")
        b = self.cert("b", ["mx2.test"], "ec")
        t = self.start_tls("--tls-cert", a[0], "--tls-key", a[1],
                           "--tls-cert", b[0], "--tls-key", b[1])
        for port, extra in ((t.tls_port, []), (t.port, ["-starttls", "smtp"])):
            for name, want, cn in (("mx2.test", b, "mx2.test"), ("tern.test", a, "tern.test"),
                                   ("nowhere.test", a, "tern.test")):
                with self.subTest(port=port, servername=name):
                    pem, subject = self.presented(port, "-servername", name, *extra)
                    self.assertEqual(ssl.PEM_cert_to_DER_cert(pem), cert_der(want[0]))
                    self.assertRegex(subject, r"CN ?= ?%s$" % re.escape(cn))
            # No SNI at all: the first (default) certificate.
            pem, _ = self.presented(port, "-noservername", *extra)
            self.assertEqual(ssl.PEM_cert_to_DER_cert(pem), cert_der(a[0]))
        # The subject as openssl x509 reads it from the presented PEM.
        pem, _ = self.presented(t.tls_port, "-servername", "mx2.test")
        p = self.run_tool([self.need("openssl"), "x509", "-noout", "-subject"], input=pem.encode())
        self.assertRegex(p.stdout.decode(), r"subject=CN ?= ?mx2\.test")


class GnutlsTest(ToolTlsTest):
    def cli(self, port, *extra):
        return self.piped([self.need("gnutls-cli"), "--insecure", "-p", str(port)] +
                          list(extra) + ["127.0.0.1"])

    def test_starttls_message(self):
        t = self.start_tls()
        # gnutls-cli reads the greeting, sends EHLO and STARTTLS itself.
        d = self.cli(t.port, "--starttls-proto=smtp")
        d.message()
        d.finish()
        self.assertTrue(any(b"Handshake was completed" in l for l in d.noise), d.dump())
        self.assertSecureReceived(t, "b@example.com")

    def test_submission_tls12(self):
        t = self.start_tls()
        d = self.cli(t.sub_port, "--starttls-proto=smtp",
                     "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.2")
        d.message(auth=True)
        d.finish()
        self.assertTrue(any(b"(TLS1.2" in l for l in d.noise), d.dump())
        self.assertSecureReceived(t, "b@example.com", auth=True)

    def test_implicit_message(self):
        t = self.start_tls()
        d = self.cli(t.tls_port)
        d.expect(None, 220)
        d.message(auth=True)
        d.finish()
        self.assertTrue(any(b"(TLS1.3" in l for l in d.noise), d.dump())
        self.assertSecureReceived(t, "b@example.com", auth=True)


class SwaksTlsTest(ToolTlsTest):
    def swaks(self, port, *args):
        return self.run_tool([self.need("swaks"), "--server", "127.0.0.1:%d" % port,
                              "--helo", "swaks.example", "--timeout", "10",
                              "--from", "a@example.com", "--to", "b@example.com",
                              "--data", "@" + self.msgfile()] + list(args))

    login = ("--auth", "PLAIN", "--auth-user", USER, "--auth-password", PASSWORD)

    def check(self, p):
        out = p.stdout.decode(errors="replace")
        self.assertRegex(out, r"TLS started with cipher TLSv1\.3", out)
        self.assertRegex(out, r"<~  250 2\.6\.0", out)

    def test_starttls(self):
        t = self.start_tls()
        self.check(self.swaks(t.port, "-tls"))
        # swaks sends the file, then CRLF . CRLF: stored is the file + CRLF
        self.assertSecureReceived(t, "b@example.com", MESSAGE + b"\r\n")

    def test_submission(self):
        t = self.start_tls()
        self.check(self.swaks(t.sub_port, "-tls", *self.login))
        self.assertSecureReceived(t, "b@example.com", MESSAGE + b"\r\n", auth=True)

    def test_tls_on_connect(self):
        t = self.start_tls()
        self.check(self.swaks(t.tls_port, "--tls-on-connect", *self.login))
        self.assertSecureReceived(t, "b@example.com", MESSAGE + b"\r\n", auth=True)


NODE_SCRIPT = r"""
'use strict';
const nodemailer = require('nodemailer');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const transport = nodemailer.createTransport(Object.assign({
	host: '127.0.0.1', name: 'nodemailer.example', tls: {rejectUnauthorized: false},
	connectionTimeout: 10000, greetingTimeout: 10000, socketTimeout: 10000,
}, input.options));
transport.sendMail({envelope: {from: 'a@example.com', to: ['b@example.com']},
		    raw: Buffer.from(input.raw, 'base64')}).then((info) => {
	transport.close();
	process.stdout.write(JSON.stringify({accepted: info.accepted, response: info.response}));
}).catch((err) => {
	process.stderr.write(String(err && err.stack || err) + '\n');
	process.exit(1);
});
"""


class NodemailerTlsTest(ToolTlsTest):
    def send(self, t, options, auth=False):
        node = self.need("node")
        if not os.path.isdir(os.path.join(HERE, "node_modules", "nodemailer")):
            self.skipTest("nodemailer not installed (run scripts/install-deps.sh)")
        if auth:
            options = dict(options, auth={"user": USER, "pass": PASSWORD})
        req = {"options": options, "raw": __import__("base64").b64encode(MESSAGE).decode()}
        p = self.run_tool([node, "-e", NODE_SCRIPT], input=json.dumps(req).encode(), cwd=HERE)
        out = json.loads(p.stdout)
        self.assertEqual(out["accepted"], ["b@example.com"], out)
        self.assertTrue(out["response"].startswith("250 2.6.0"), out)
        self.assertSecureReceived(t, "b@example.com", auth=auth)

    def test_secure_implicit(self):
        t = self.start_tls()
        self.send(t, {"port": t.tls_port, "secure": True}, auth=True)

    def test_require_tls_submission(self):
        t = self.start_tls()
        self.send(t, {"port": t.sub_port, "secure": False, "requireTLS": True}, auth=True)

    def test_opportunistic_starttls(self):
        # nodemailer's default: STARTTLS whenever the server offers it.
        t = self.start_tls()
        self.send(t, {"port": t.port, "secure": False})


class CurlTlsTest(ToolTlsTest):
    login = ("--user", "%s:%s" % (USER, PASSWORD), "--login-options", "AUTH=PLAIN")

    def curl(self, url, *extra):
        return self.run_tool([self.need("curl"), "-sS", "-k", "--max-time", "20", url,
                              "--mail-from", "a@example.com", "--mail-rcpt", "b@example.com",
                              "-T", self.msgfile()] + list(extra))

    def test_smtps(self):
        t = self.start_tls()
        self.curl("smtps://127.0.0.1:%d/curl.example" % t.tls_port, *self.login)
        self.assertSecureReceived(t, "b@example.com", auth=True)

    def test_starttls_ssl_reqd(self):
        t = self.start_tls()
        self.curl("smtp://127.0.0.1:%d/curl.example" % t.port, "--ssl-reqd")
        self.assertSecureReceived(t, "b@example.com")

    def test_submission_ssl_reqd(self):
        t = self.start_tls()
        self.curl("smtp://127.0.0.1:%d/curl.example" % t.sub_port, "--ssl-reqd", "--tlsv1.2",
                  "--tls-max", "1.2", *self.login)
        self.assertSecureReceived(t, "b@example.com", auth=True)


# testssl.sh findings that only say the test certificate is not a real one.
TESTSSL_EXPECTED = {
    "cert_revocation": "a test CA publishes no CRL or OCSP responder",
    "cert_ocspURL": "no OCSP", "cert_crlDistributionPoints": "no CRL",
}


class TestsslTest(ToolTlsTest):
    def test_scan_implicit(self):
        testssl = self.need("testssl")
        signal.alarm(300)  # this one test may take longer than TEST_TIMEOUT
        ca = self.cert("ca", ["Tern Test CA"], "ec", is_ca=True)
        leaf = self.cert("leaf", ["tern.test", "127.0.0.1"], "rsa", ca=ca, days=365)
        t = self.start_tls("--tls-cert", leaf[0], "--tls-key", leaf[1])
        out = os.path.join(self.certdir, "testssl.json")
        # Protocols, cipher categories, forward secrecy, server defaults
        # (certificate) and the vulnerability checks: about a minute.
        p = self.run_tool([testssl, "--quiet", "--warnings", "off", "--color", "0",
                           "--openssl-timeout", "5", "--connect-timeout", "5",
                           "--add-ca", ca[0], "--jsonfile", out,
                           "-p", "-s", "-f", "-S", "-U", "127.0.0.1:%d" % t.tls_port],
                          ok=False, timeout=240)
        text = p.stdout.decode(errors="replace")
        self.assertTrue(os.path.exists(out), "testssl wrote no JSON (exit %d):\n%s"
                        % (p.returncode, text[-3000:]))
        with open(out) as f:
            findings = json.load(f)
        ids = {f["id"] for f in findings}
        for needed in ("SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3", "cert_chain_of_trust"):
            self.assertIn(needed, ids, "testssl did not run its %s check:\n%s"
                          % (needed, text[-3000:]))
        bad = [f for f in findings if f["severity"] in ("HIGH", "CRITICAL")
               and f["id"] not in TESTSSL_EXPECTED]
        self.assertEqual(bad, [], "testssl findings of severity HIGH or CRITICAL:\n%s" %
                         "\n".join("%s %s: %s" % (f["severity"], f["id"], f["finding"])
                                   for f in bad))
        by_id = {f["id"]: f for f in findings}
        for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
            self.assertRegex(by_id[old]["finding"], r"not offered", by_id[old])
        self.assertRegex(by_id["TLS1_3"]["finding"], r"offered", by_id["TLS1_3"])
