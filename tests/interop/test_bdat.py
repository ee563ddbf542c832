"""BDAT (RFC 3030 CHUNKING) over a raw socket: no client library here speaks
it. Chunks are stored exactly, with no dot handling."""

from ternlib import TerndTestCase


def bdat_chunks(c, tc, chunks, last_code=250):
    """Sends chunks as BDAT n ... BDAT n LAST, checking each reply."""
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        c.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk)
        r = c.reply()
        tc.assertIsNotNone(r, c.dump())
        tc.assertEqual(r.code, last_code if last else 250, c.dump())
    return r


class BdatTest(TerndTestCase):
    def test_chunks(self):
        t = self.start_ternd()
        c = self.client(t)
        ehlo = c.expect(self, "EHLO client.example", 250)
        self.assertIn("CHUNKING", ehlo.text.upper())
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        body = (b"Subject: bdat\r\n\r\n.leading dot stays\r\n..two dots stay\r\n"
                b".\r\nnot the end\r\n" + b"z" * 5000 + b"\r\nend\r\n")
        chunks = [body[:10], body[10:11], body[11:4000], body[4000:]]
        r = bdat_chunks(c, self, chunks)
        self.assertEqual(r.enhanced[:2], "2.", c.dump())
        c.expect(self, "NOOP", 250)
        c.expect(self, "QUIT", 221)
        self.assertStored(t, "b@example.com", body)

    def test_zero_length_last(self):
        t = self.start_ternd()
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        body = b"Subject: zero\r\n\r\nbody\r\n"
        bdat_chunks(c, self, [body, b""])
        c.expect(self, "QUIT", 221)
        self.assertStored(t, "b@example.com", body)

    def test_binarymime(self):
        t = self.start_ternd()
        c = self.client(t)
        ehlo = c.expect(self, "EHLO client.example", 250)
        self.assertIn("BINARYMIME", ehlo.text.upper())
        c.expect(self, "MAIL FROM:<a@example.com> BODY=BINARYMIME", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        body = (b"Subject: binary\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: application/octet-stream\r\n"
                b"Content-Transfer-Encoding: binary\r\n\r\n" + bytes(range(256)) * 8)
        bdat_chunks(c, self, [body[:700], body[700:]])
        c.expect(self, "QUIT", 221)
        self.assertStored(t, "b@example.com", body)

    def test_bdat_pipelined(self):
        # Several BDAT commands with their data in one write; one reply each.
        t = self.start_ternd()
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        body = b"Subject: pipelined bdat\r\n\r\nhello\r\n"
        c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
               b"BDAT 10\r\n" + body[:10] + b"BDAT %d LAST\r\n" % (len(body) - 10) + body[10:]
               + b"NOOP\r\n")
        codes = [c.reply().code for _ in range(5)]
        self.assertEqual(codes, [250] * 5, c.dump())
        c.expect(self, "QUIT", 221)
        self.assertStored(t, "b@example.com", body)

    def test_bdat_over_max_size(self):
        t = self.start_ternd("--max-size", "1000")
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<b@example.com>", 250)
        c.send(b"BDAT 600\r\n" + b"a" * 600)
        c.expect(self, None, 250)
        c.send(b"BDAT 600 LAST\r\n" + b"b" * 600)
        c.expect(self, None, 552, "5.3.4")
        c.expect(self, "RSET", 250)
        c.expect(self, "NOOP", 250)
        c.expect(self, "QUIT", 221)
        self.assertNothingStored(t)

    def test_bdat_without_rcpt(self):
        t = self.start_ternd()
        c = self.client(t)
        c.expect(self, "EHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.send(b"BDAT 5 LAST\r\nhello")
        r = c.reply()
        self.assertIsNotNone(r, c.dump())
        self.assertIn(r.code, (503, 554), c.dump())
        c.expect(self, "RSET", 250)
        c.expect(self, "NOOP", 250)
        c.expect(self, "QUIT", 221)
        self.assertNothingStored(t)

    def test_lmtp_bdat(self):
        # RFC 2033 4.2 with RFC 3030: one reply per recipient after BDAT LAST.
        t = self.start_ternd(lmtp=True)
        c = self.client(t)
        c.expect(self, "LHLO client.example", 250)
        c.expect(self, "MAIL FROM:<a@example.com>", 250)
        c.expect(self, "RCPT TO:<one@example.com>", 250)
        c.expect(self, "RCPT TO:<two@example.com>", 250)
        body = b"Subject: lmtp bdat\r\n\r\nhi\r\n"
        c.send(b"BDAT %d LAST\r\n" % len(body) + body)
        c.expect(self, None, 250)
        c.expect(self, None, 250)
        c.expect(self, "NOOP", 250)
        c.expect(self, "QUIT", 221)
        self.assertStored(t, "one@example.com", body)
        self.assertStored(t, "two@example.com", body)
