"""tern-spf as a command-line tool: fixed records given with --record and
--records, --offline (a name without records is NXDOMAIN, nothing is asked
of DNS), both identities, the exit status by result, and what it prints
(result, explanation, Received-SPF, Authentication-Results)."""

import os
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TERN_SPF = os.path.abspath(os.environ.get("TERN_SPF", os.path.join(ROOT, "build", "tern-spf")))

EXIT = {"pass": 0, "fail": 1, "softfail": 2, "neutral": 3, "none": 4, "temperror": 5,
        "permerror": 6}


class SpfToolTest(unittest.TestCase):
    def run_tool(self, *args):
        proc = subprocess.run([TERN_SPF, "--offline", "--receiver", "mx.test", "--now", "1000"]
                              + list(args), capture_output=True, timeout=30)
        out = proc.stdout.decode()
        fields = dict(l.split(": ", 1) for l in out.splitlines() if ": " in l)
        return proc.returncode, fields, out

    def test_results_and_exit_status(self):
        recs = ["--record", "a.test TXT v=spf1 ip4:192.0.2.0/24 ~all exp=e.a.test",
                "--record", "b.test TXT v=spf1 -all exp=e.a.test",
                "--record", "e.a.test TXT %{i} is not %{d} at %{t}",
                "--record", "c.test TXT v=spf1 ?all",
                "--record", "d.test TXT v=spf1 bogus",
                "--record", "t.test TEMPFAIL x",
                "--record", "h.test TXT v=spf1 a -all",
                "--record", "h.test A 192.0.2.1"]
        for frm, ip, want in [("x@a.test", "192.0.2.1", "pass"), ("x@a.test", "10.0.0.1", "softfail"),
                              ("x@b.test", "10.0.0.1", "fail"), ("x@c.test", "10.0.0.1", "neutral"),
                              ("x@nowhere.test", "10.0.0.1", "none"),
                              ("x@d.test", "10.0.0.1", "permerror"),
                              ("x@t.test", "10.0.0.1", "temperror")]:
            rc, f, out = self.run_tool("--ip", ip, "--helo", "h.test", "--from", frm, *recs)
            self.assertEqual(f.get("mailfrom"), want, out)
            self.assertEqual(rc, EXIT[want], out)
            self.assertIn("Received-SPF: %s (mx.test: " % want, out)
            self.assertIn("Authentication-Results: spf=%s smtp.mailfrom=%s" % (want, frm[2:]), out)
        rc, f, out = self.run_tool("--ip", "10.0.0.1", "--helo", "h.test", "--from", "x@b.test", *recs)
        self.assertEqual(f["mailfrom.explanation"], "10.0.0.1 is not b.test at 1000")
        # both identities; the null sender is postmaster@HELO
        rc, f, out = self.run_tool("--ip", "192.0.2.1", "--helo", "h.test", "--identity", "both",
                                   *recs)
        self.assertEqual((f["helo"], f["mailfrom"]), ("pass", "pass"), out)
        self.assertIn('envelope-from="postmaster@h.test"', out)

    def test_records_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".zone") as z:
            z.write('# a comment\nexample.test TXT "v=spf1 mx -all"\n'
                    "example.test MX 10 mx.example.test\nmx.example.test AAAA 2001:db8::25\n")
            z.flush()
            rc, f, out = self.run_tool("--ip", "2001:db8::25", "--helo", "mx.example.test",
                                       "--from", "u@example.test", "--records", z.name)
            self.assertEqual((rc, f.get("mailfrom"), f.get("mailfrom.mechanism")), (0, "pass", "mx"),
                             out)

    def test_usage(self):
        proc = subprocess.run([TERN_SPF, "--ip", "192.0.2.1"], capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 64)
        proc = subprocess.run([TERN_SPF, "--ip", "nonsense", "--helo", "h.test", "--offline"],
                              capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 64)


if __name__ == "__main__":
    unittest.main()
