"""MTA-STS (RFC 8461) in libtern's outbound delivery (examples/deliver --mta-sts):
the TXT record from the loopback DNS server (dnslib), the policy from a
loopback HTTPS server (Python's http.server over ssl, certificate from a test
CA that openssl made), receiving servers aiosmtpd with and without STARTTLS.

What it proves: enforce with a matching MX (also through a "*." pattern)
delivers over verified TLS; enforce with a non-matching MX, or with a server
without STARTTLS, or with a certificate for another name, defers and sends
nothing; testing mode delivers and reports the failure; a policy server
whose certificate does not verify, one that redirects or serves the wrong
media type means no policy (reported as sts-webpki-invalid /
sts-policy-fetch-error); the same id is not fetched again, a changed id is,
and a failed fetch keeps the cached policy in force."""

import http.server
import os
import ssl
import threading
import unittest

from mtalib import MtaTestCase
from ternlib import free_port, make_cert
from test_dane import deliver_tool, run_deliver
from test_dns import DnsServer, have_dnslib

MSG = b"From: a@client.test\r\nTo: b@enforce.test\r\nSubject: sts\r\n\r\nHello.\r\n"

DOMAINS = ["enforce", "nomatch", "testing", "wild", "badcert", "redirect", "texthtml",
           "changed", "nopolicy", "invalid", "dual"]


def policy(mode, *mx, max_age=86400):
    lines = ["version: STSv1", "mode: " + mode] + ["mx: " + m for m in mx]
    lines.append("max_age: %d" % max_age)
    return "\r\n".join(lines) + "\r\n"


class PolicyServer:
    """HTTPS on 127.0.0.1: policies[host] = (status, content type, body or
    Location); fetches[host] counts the GETs."""

    def __init__(self, cert, key):
        self.policies, self.fetches = {}, {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host = (self.headers.get("Host") or "").split(":")[0]
                outer.fetches[host] = outer.fetches.get(host, 0) + 1
                status, ctype, body = outer.policies.get(host, (404, "text/plain", "no"))
                if self.path != "/.well-known/mta-sts.txt":
                    status, ctype, body = 404, "text/plain", "wrong path"
                data = body.encode()
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", body)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class MtaStsTest(MtaTestCase):
    @classmethod
    def setUpClass(cls):
        cls.deliver_bin = deliver_tool()
        if not have_dnslib():
            raise AssertionError("python3-dnslib is needed (scripts/install-deps.sh)")

    def setUp(self):
        super().setUp()
        d = self.dir = self.tmpdir()
        self.ca = make_cert(d, "ca", ["Test STS CA"], is_ca=True, key_type="ec")
        # The policy host names the CA vouches for (not mta-sts.badcert.test).
        names = ["mta-sts.%s.test" % n for n in DOMAINS if n != "badcert"]
        web = make_cert(d, "web", names, key_type="ec", ca=self.ca)
        mx = make_cert(d, "mx", ["mx.%s.test" % n for n in DOMAINS] + ["a.mx.wild.test"],
                       key_type="ec", ca=self.ca)
        self.web = PolicyServer(*web)
        self.addCleanup(self.web.stop)
        self.s_tls = self.aiosmtpd("--tls-cert", mx[0], "--tls-key", mx[1])
        self.s_plain = self.aiosmtpd()
        p = self.web.policies
        p["mta-sts.enforce.test"] = (200, "text/plain", policy("enforce", "mx.enforce.test"))
        p["mta-sts.nomatch.test"] = (200, "text/plain", policy("enforce", "other.nomatch.test"))
        p["mta-sts.testing.test"] = (200, "text/plain; charset=utf-8",
                                     policy("testing", "other.testing.test"))
        p["mta-sts.wild.test"] = (200, "text/plain", policy("enforce", "*.mx.wild.test"))
        p["mta-sts.badcert.test"] = (200, "text/plain", policy("enforce", "nothing.test"))
        p["mta-sts.redirect.test"] = (301, "text/plain", "https://mta-sts.enforce.test/")
        p["mta-sts.texthtml.test"] = (200, "text/html", policy("enforce", "nothing.test"))
        p["mta-sts.dual.test"] = (200, "text/plain", policy("enforce", "mx.dual.test"))
        p["mta-sts.invalid.test"] = (200, "text/plain", "version: STSv2\r\nmode: enforce\r\n")
        self.zone_ids = {n: "1" for n in DOMAINS if n != "nopolicy"}
        self.dns_server = None
        self.start_dns()

    def start_dns(self):
        if self.dns_server is not None:
            self.dns_server.stop()
        lines = []
        for n in DOMAINS:
            host = "a.mx.wild.test" if n == "wild" else "mx.%s.test" % n
            lines += ["%s.test. 300 IN MX 10 %s." % (n, host), "%s. 300 IN A 127.0.0.1" % host,
                      "mta-sts.%s.test. 300 IN A 127.0.0.1" % n]
            if n == "dual":
                # Nothing listens on ::1 for the policy: the IPv4
                # address is tried next.
                lines.append("mta-sts.dual.test. 300 IN AAAA ::1")
            if n in self.zone_ids:
                lines.append('_mta-sts.%s.test. 300 IN TXT "v=STSv1; id=%s;"'
                             % (n, self.zone_ids[n]))
        self.dns_server = DnsServer(self.tmpdir(), "\n".join(lines) + "\n")
        self.addCleanup(lambda s=self.dns_server: s.stop())

    def deliver(self, domain, server, *extra):
        cmd = [self.deliver_bin, "--from", "a@client.test", "--to", "b@%s.test" % domain,
               "--port", str(server.port), "--dns-server",
               "127.0.0.1@%d" % self.dns_server.port, "--mta-sts", "--mta-sts-port",
               str(self.web.port), "--ca", self.ca[0], "--timeout", "10000"] + list(extra)
        r, outcomes, err, _ = run_deliver(self, cmd, MSG)
        return r, outcomes, err

    def assertDelivered(self, sink, r, err):
        self.assertEqual(r["class"], "sent", err)
        self.wait_messages(sink, 1)
        self.assertEqual(sink.messages()[0][1], MSG)

    def assertNothing(self, r, err):
        self.assertEqual(r["class"], "deferred", err)
        self.assertEqual(self.s_tls.messages() + self.s_plain.messages(), [], err)

    def has(self, outcomes, prefix):
        return any(o.startswith(prefix) for o in outcomes)

    # ---- enforce -------------------------------------------------------------

    def test_enforce_matching_mx_delivers(self):
        r, outcomes, err = self.deliver("enforce", self.s_tls)
        self.assertDelivered(self.s_tls, r, err)
        self.assertIn("(verified)", err)
        self.assertTrue(self.has(outcomes, "enforce.test sts mx.enforce.test 127.0.0.1 success"),
                        outcomes)
        self.assertIn("tls-outcome-policy: mode: enforce", err)
        self.assertEqual(self.web.fetches.get("mta-sts.enforce.test"), 1)

    def test_policy_host_second_address(self):
        r, outcomes, err = self.deliver("dual", self.s_tls)
        self.assertDelivered(self.s_tls, r, err)
        self.assertTrue(self.has(outcomes, "dual.test sts mx.dual.test 127.0.0.1 success"),
                        outcomes)
        self.assertEqual(self.web.fetches.get("mta-sts.dual.test"), 1)

    def test_enforce_wildcard_mx_delivers(self):
        r, outcomes, err = self.deliver("wild", self.s_tls)
        self.assertDelivered(self.s_tls, r, err)

    def test_enforce_nonmatching_mx_defers(self):
        r, outcomes, err = self.deliver("nomatch", self.s_tls)
        self.assertNothing(r, err)
        self.assertEqual(r["enhanced"], "4.7.5", err)
        self.assertIn("not in the MTA-STS policy", err)
        self.assertTrue(self.has(outcomes, "nomatch.test sts mx.nomatch.test - validation-failure"),
                        outcomes)

    def test_enforce_without_starttls_defers(self):
        r, outcomes, err = self.deliver("enforce", self.s_plain)
        self.assertNothing(r, err)
        self.assertTrue(any("starttls-not-supported" in o for o in outcomes), outcomes)
        self.assertNotIn("trying again without TLS", err)

    def test_enforce_untrusted_certificate_defers(self):
        # The MX presents a certificate the CA file does not vouch for.
        own = make_cert(self.dir, "selfsigned", ["mx.enforce.test"], key_type="ec")
        s = self.aiosmtpd("--tls-cert", own[0], "--tls-key", own[1])
        r, outcomes, err = self.deliver("enforce", s)
        self.assertEqual(r["class"], "deferred", err)
        self.assertEqual(s.messages(), [])
        self.assertTrue(any("certificate-not-trusted" in o for o in outcomes), outcomes)

    # ---- testing -------------------------------------------------------------

    def test_testing_mode_delivers_and_reports(self):
        r, outcomes, err = self.deliver("testing", self.s_plain)
        self.assertDelivered(self.s_plain, r, err)
        self.assertTrue(self.has(outcomes, "testing.test sts/testing mx.testing.test - "
                                           "validation-failure delivered-anyway"), outcomes)
        self.assertTrue(self.has(outcomes, "testing.test sts/testing mx.testing.test 127.0.0.1 "
                                           "starttls-not-supported delivered-anyway"), outcomes)

    # ---- no usable policy: ordinary opportunistic TLS --------------------------

    def test_policy_host_certificate_not_verified(self):
        r, outcomes, err = self.deliver("badcert", self.s_plain)
        self.assertDelivered(self.s_plain, r, err)
        self.assertTrue(self.has(outcomes, "badcert.test sts - - sts-webpki-invalid"), outcomes)

    def test_redirect_not_followed(self):
        r, outcomes, err = self.deliver("redirect", self.s_plain)
        self.assertDelivered(self.s_plain, r, err)
        self.assertTrue(self.has(outcomes, "redirect.test sts - - sts-policy-fetch-error"),
                        outcomes)
        self.assertNotIn("mta-sts.enforce.test", self.web.fetches)

    def test_wrong_media_type(self):
        r, outcomes, err = self.deliver("texthtml", self.s_plain)
        self.assertDelivered(self.s_plain, r, err)
        self.assertTrue(self.has(outcomes, "texthtml.test sts - - sts-policy-fetch-error"),
                        outcomes)

    def test_invalid_policy(self):
        r, outcomes, err = self.deliver("invalid", self.s_plain)
        self.assertDelivered(self.s_plain, r, err)
        self.assertTrue(self.has(outcomes, "invalid.test sts - - sts-policy-invalid"), outcomes)

    def test_no_txt_no_fetch(self):
        r, outcomes, err = self.deliver("nopolicy", self.s_plain)
        self.assertDelivered(self.s_plain, r, err)
        self.assertNotIn("mta-sts.nopolicy.test", self.web.fetches)
        self.assertTrue(self.has(outcomes, "nopolicy.test no-policy-found "), outcomes)

    # ---- the cache -------------------------------------------------------------

    def test_cache_and_changed_id(self):
        cache = os.path.join(self.dir, "sts-cache")
        os.mkdir(cache)
        host = "mta-sts.changed.test"
        self.web.policies[host] = (200, "text/plain", policy("enforce", "mx.changed.test"))
        r, _, err = self.deliver("changed", self.s_tls, "--sts-cache", cache)
        self.assertEqual(r["class"], "sent", err)
        self.assertEqual(self.web.fetches.get(host), 1)
        # The same id: the stored policy, no fetch.
        r, _, err = self.deliver("changed", self.s_tls, "--sts-cache", cache)
        self.assertEqual(r["class"], "sent", err)
        self.assertEqual(self.web.fetches.get(host), 1, err)
        # A new id: fetched again; the new policy names another MX.
        self.zone_ids["changed"] = "2"
        self.start_dns()
        self.web.policies[host] = (200, "text/plain", policy("enforce", "other.changed.test"))
        r, _, err = self.deliver("changed", self.s_tls, "--sts-cache", cache)
        self.assertEqual(self.web.fetches.get(host), 2, err)
        self.assertEqual(r["class"], "deferred", err)
        # Another id, and the fetch fails: the cached policy still holds.
        self.zone_ids["changed"] = "3"
        self.start_dns()
        self.web.policies[host] = (500, "text/plain", "broken")
        r, outcomes, err = self.deliver("changed", self.s_tls, "--sts-cache", cache)
        self.assertEqual(self.web.fetches.get(host), 3, err)
        self.assertIn("the cached policy applies", err)
        self.assertEqual(r["class"], "deferred", err)
        self.assertTrue(self.has(outcomes, "changed.test sts - - sts-policy-fetch-error"),
                        outcomes)
        self.assertEqual(len(self.s_tls.messages()), 2)


if __name__ == "__main__":
    unittest.main()
