"""Differential test of libtern's MIME engine (src/mime, through
cmd/tern-mime) against Dovecot's lib-imap, on the messages of
tests/interop/mime_corpus/.

Each message goes into a Maildir folder of its own; a Dovecot started on a
temporary configuration (no protocols, only its auth service so that
doveadm can look up the user) answers `doveadm fetch imap.envelope
imap.bodystructure imap.body`, which Dovecot builds with the same code its
IMAP server uses for FETCH ENVELOPE / BODYSTRUCTURE / BODY. tern-mime must
print the same strings, except for the differences listed in KNOWN with the
RFC text that justifies ours.

Dovecot 2.3's doveadm cannot fetch BODY[n]; sections are checked against
Python's email package (an independent parser) and against the sizes in
Dovecot's BODYSTRUCTURE.
"""

import email
import email.policy
import os
import re
import shutil
import subprocess
import time
import unittest

import ternlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "mime_corpus")
TOOL = os.path.join(os.path.dirname(ternlib.TERND), "tern-mime")

# (message, field) -> why our answer differs from Dovecot's and stands.
KNOWN = {
    ("11-bad-ctype.eml", "bodystructure"):
        "RFC 2045 5.2: the default text/plain; charset=us-ascii 'is also used if a "
        "syntactically invalid Content-Type header field is encountered'; Dovecot "
        "reports the broken value as type \"garbage\" subtype \"\".",
    ("11-bad-ctype.eml", "body"): "the same as its BODYSTRUCTURE",
    ("39-message-global.eml", "bodystructure"):
        "RFC 9051 7.5.2: 'A body type of type MESSAGE and subtype RFC822 or GLOBAL "
        "contains, immediately after the basic fields, the envelope structure, body "
        "structure, and size in text lines of the encapsulated message.' Dovecot 2.3 "
        "follows RFC 3501, which names only RFC822 (RFC 6532 3.5 says message/global "
        "is otherwise handled like message/rfc822).",
    ("39-message-global.eml", "body"): "the same as its BODYSTRUCTURE",
}

# Messages whose sections Python's email package reads differently, and why
# ours stand.
SECTION_SKIP = {
    "40-boundary-prefix.eml":
        "'--abc' is taken as a delimiter of boundary 'ab' (a prefix match), as "
        "Dovecot takes it (its BODYSTRUCTURE above agrees with ours); Python wants "
        "the boundary then only whitespace. RFC 2046 5.1.1 forbids the ambiguity "
        "('the boundary delimiter MUST NOT appear inside any of the encapsulated parts').",
}


def run_tool(*args):
    r = subprocess.run([TOOL] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    if r.returncode != 0:
        raise AssertionError("tern-mime %s: exit %d: %s" % (args, r.returncode, r.stderr))
    return r.stdout


class Dovecot:
    def __init__(self, d):
        self.d = d
        self.conf = os.path.join(d, "dovecot.conf")
        self.mail = os.path.join(d, "mail")
        for sub in ("run", "state", "mail", "home"):
            os.mkdir(os.path.join(d, sub))
        with open(self.conf, "w") as f:
            f.write("""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols =
ssl = no
mail_location = maildir:{d}/mail
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home
}}
passdb {{
  driver = static
  args = nopassword=y
}}
""".format(d=d))

    def add(self, folder, data):
        box = os.path.join(self.mail, "." + folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(box, sub))
        with open(os.path.join(box, "cur", "1.msg:2,S"), "wb") as f:
            f.write(data)

    def start(self):
        for root, dirs, files in os.walk(self.d):
            for n in dirs + files:
                shutil.chown(os.path.join(root, n), "nobody", "nogroup")
        shutil.chown(self.d, "nobody", "nogroup")
        self.p = subprocess.Popen(["dovecot", "-F", "-c", self.conf], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock = os.path.join(self.d, "run", "auth-userdb")
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            if self.p.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("dovecot did not start")
            time.sleep(0.05)

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=10)

    def fetch_raw(self, folder, field):
        """One field of the folder's only message, as doveadm prints it
        after "field:\n"."""
        r = subprocess.run(["doveadm", "-c", self.conf, "fetch", "-u", "nobody", field,
                            "mailbox", folder, "all"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0 or not r.stdout.startswith(field.encode() + b":"):
            raise AssertionError("doveadm fetch %s %s: %r" % (folder, field, r.stderr))
        out = r.stdout[len(field) + 1:]
        return out[1:] if out.startswith(b"\n") else out.lstrip(b" ")

    def fetch(self, folder):
        r = subprocess.run(["doveadm", "-c", self.conf, "fetch", "-u", "nobody",
                            "imap.envelope imap.bodystructure imap.body", "mailbox", folder,
                            "all"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise AssertionError("doveadm fetch %s: %s" % (folder, r.stderr))
        out = r.stdout
        m = re.match(rb"imap\.envelope: (.*)\nimap\.bodystructure: (.*)\nimap\.body: (.*)\n\f?\n?$",
                     out, re.S)
        if not m:
            raise AssertionError("doveadm output not understood: %r" % out)
        return {"envelope": m.group(1), "bodystructure": m.group(2), "body": m.group(3)}


class MimeDovecotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("dovecot") or not shutil.which("doveadm"):
            raise unittest.SkipTest("dovecot not installed")
        if not os.path.exists(TOOL):
            raise unittest.SkipTest("tern-mime not built")
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="tern-mime-dovecot-")
        os.chmod(cls.tmp, 0o755)
        cls.dc = Dovecot(cls.tmp)
        cls.names = sorted(n for n in os.listdir(CORPUS) if n.endswith(".eml"))
        for i, n in enumerate(cls.names):
            with open(os.path.join(CORPUS, n), "rb") as f:
                cls.dc.add("m%02d" % i, f.read())
        cls.dc.start()

    @classmethod
    def tearDownClass(cls):
        cls.dc.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_corpus_size(self):
        self.assertGreaterEqual(len(self.names), 30)

    def test_envelope_bodystructure_body(self):
        diffs = []
        for i, n in enumerate(self.names):
            theirs = self.dc.fetch("m%02d" % i)
            path = os.path.join(CORPUS, n)
            for what in ("envelope", "bodystructure", "body"):
                ours = run_tool(what, path).rstrip(b"\n")
                # doveadm prints the list without its outer parentheses.
                want = b"(" + theirs[what] + b")"
                if (n, what) in KNOWN:
                    continue
                if ours != want:
                    diffs.append("%s %s\n  dovecot: %r\n  tern:    %r" % (n, what, want, ours))
        if os.environ.get("MIME_DIFF_OUT"):
            with open(os.environ["MIME_DIFF_OUT"], "w") as f:
                f.write("\n".join(diffs))
        self.assertEqual(diffs, [], "\n" + "\n".join(diffs))

    def test_header_text_size(self):
        """BODY[HEADER], BODY[TEXT] and RFC822.SIZE against doveadm's hdr,
        body and size.virtual (the ranges of the top level, and the size
        with every bare LF counted as CRLF)."""
        diffs = []
        for i, n in enumerate(self.names):
            path = os.path.join(CORPUS, n)
            folder = "m%02d" % i
            for spec, field in (("HEADER", "hdr"), ("TEXT", "body")):
                ours = run_tool("section", spec, path)
                theirs = self.dc.fetch_raw(folder, field)
                if ours != theirs:
                    diffs.append("%s BODY[%s]: dovecot %r, tern %r" % (n, spec, theirs[:200], ours[:200]))
            size = run_tool("size", path).split()[1]
            theirs = self.dc.fetch_raw(folder, "size.virtual").strip()
            if size != theirs:
                diffs.append("%s RFC822.SIZE: dovecot %r, tern %r" % (n, theirs, size))
        self.assertEqual(diffs, [], "\n" + "\n".join(diffs))

    def test_sections_against_python_email(self):
        """BODY[n] of each leaf of the well-formed multiparts equals the raw
        payload Python's email package finds for it."""
        checked = 0
        for n in self.names:
            with open(os.path.join(CORPUS, n), "rb") as f:
                data = f.read()
            msg = email.message_from_bytes(data, policy=email.policy.compat32)
            if msg.get_content_maintype() != "multipart" or msg.defects or n in SECTION_SKIP:
                continue

            def walk(part, prefix):
                nonlocal checked
                for k, sub in enumerate(part.get_payload(), 1):
                    num = "%s%d" % (prefix, k)
                    if sub.get_content_type() == "message/rfc822":
                        # RFC 9051 6.4.5: the parts of the enclosed message.
                        inner = sub.get_payload()[0]
                        if inner.is_multipart():
                            walk(inner, num + ".")
                            continue
                        sub, num = inner, num + ".1"
                    elif sub.is_multipart():
                        walk(sub, num + ".")
                        continue
                    want = sub.get_payload(decode=False).encode("utf-8", "surrogateescape")
                    ours = run_tool("section", num, os.path.join(CORPUS, n))
                    self.assertEqual(ours, want, "%s BODY[%s]" % (n, num))
                    checked += 1
            walk(msg, "")
        self.assertGreater(checked, 20)


if __name__ == "__main__":
    unittest.main()
