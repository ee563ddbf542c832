#!/usr/bin/python3
"""aiosmtpd as a delivery target for the interop tests, on loopback only.

    sink_aiosmtpd.py --port N --dir DIR [--host 127.0.0.1] [--tls-cert F --tls-key F]
                     [--require-tls] [--no-smtputf8] [--reject-rcpt ADDR]...
                     [--defer-rcpt ADDR]... [--lmtp] [--unix PATH]

--lmtp speaks LMTP (RFC 2033); --unix listens on that socket instead of a
port (LMTP to a local socket, as Dovecot's).

Every message is written to DIR as NNNN.json (mail_from, rcpt_tos, mail and
rcpt options, the session's TLS and peer) and NNNN.eml (the data as
received). DIR/sessions counts sessions (one line each). Prints "ready PORT"
once it listens.
"""
import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller, UnixSocketController
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, directory, reject, defer):
        self.dir = directory
        self.n = 0
        self.reject = {a.lower() for a in reject}
        self.defer = {a.lower() for a in defer}

    async def handle_LHLO(self, server, session, envelope, hostname):
        with open(os.path.join(self.dir, "sessions"), "a") as f:
            f.write("%s\n" % hostname)
        session.host_name = hostname
        return "250 sink.test"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with open(os.path.join(self.dir, "sessions"), "a") as f:
            f.write("%s\n" % hostname)
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 No such user here"
        if address.lower() in self.defer:
            return "450 4.2.1 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.dir, "%04d" % self.n)
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "mail_options": envelope.mail_options,
                       "rcpt_options": envelope.rcpt_options,
                       "tls": session.ssl is not None, "helo": session.host_name}, f)
        return "250 2.0.0 Stored as %04d" % self.n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--require-tls", action="store_true")
    ap.add_argument("--no-smtputf8", action="store_true")
    ap.add_argument("--reject-rcpt", action="append", default=[])
    ap.add_argument("--defer-rcpt", action="append", default=[])
    ap.add_argument("--lmtp", action="store_true")
    ap.add_argument("--unix")
    a = ap.parse_args()
    ctx = None
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
    handler = Handler(a.dir, a.reject_rcpt, a.defer_rcpt)
    if a.lmtp:
        class LmtpController(UnixSocketController if a.unix else Controller):
            def factory(self):
                return LMTP(self.handler, decode_data=False, ident="sink.test LMTP aiosmtpd")
        if a.unix:
            c = LmtpController(handler, unix_socket=a.unix)
        else:
            c = LmtpController(handler, hostname=a.host, port=a.port)
    else:
        c = Controller(handler, hostname=a.host, port=a.port, tls_context=ctx,
                       require_starttls=a.require_tls, enable_SMTPUTF8=not a.no_smtputf8,
                       decode_data=False, ident="sink.test ESMTP aiosmtpd")
    c.start()
    print("ready %d" % a.port, flush=True)
    try:
        sys.stdin.read()  # until the test closes our stdin or kills us
    finally:
        c.stop()


if __name__ == "__main__":
    main()
