#!/usr/bin/python3
"""A DNS server for the interop tests, on loopback only (dnslib).

    dns_server.py --port N --zone FILE [--servfail NAME]... [--drop NAME]...
                  [--log FILE]

Answers from the zone file (master-file syntax, what dnslib's RR.fromZone
reads): the records of the name and type asked; NOERROR with no answer for
a name that has records of other types only; NXDOMAIN otherwise. A name
given with --servfail is answered SERVFAIL, one given with --drop never
(the client times out). Every query is appended to --log as "NAME TYPE",
so a test can tell whether ternd asked at all. Prints "ready PORT" once it
listens.
"""
import argparse
import sys
import time

from dnslib import QTYPE, RCODE, RR, DNSError, DNSLabel
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class TestResolver(BaseResolver):
    def __init__(self, zone, servfail, drop, log):
        self.rrs = RR.fromZone(zone)
        self.servfail = {DNSLabel(n) for n in servfail}
        self.drop = {DNSLabel(n) for n in drop}
        self.log = log

    def resolve(self, request, handler):
        q = request.q
        if self.log:
            with open(self.log, "a") as f:
                f.write("%s %s\n" % (str(q.qname).rstrip("."), QTYPE[q.qtype]))
        reply = request.reply()
        if q.qname in self.drop:
            raise DNSError("dropped")  # dnslib's handler sends nothing
        if q.qname in self.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        known = False
        for rr in self.rrs:
            if rr.rname != q.qname:
                continue
            known = True
            if rr.rtype == q.qtype or q.qtype == QTYPE.ANY:
                reply.add_answer(rr)
        if not known:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class QuietLogger(DNSLogger):
    def __init__(self):
        super().__init__(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--servfail", action="append", default=[])
    ap.add_argument("--drop", action="append", default=[])
    ap.add_argument("--log")
    a = ap.parse_args()
    with open(a.zone) as f:
        zone = f.read()
    resolver = TestResolver(zone, a.servfail, a.drop, a.log)
    logger = QuietLogger()
    udp = DNSServer(resolver, port=a.port, address="127.0.0.1", logger=logger)
    tcp = DNSServer(resolver, port=a.port, address="127.0.0.1", tcp=True, logger=logger)
    udp.start_thread()
    tcp.start_thread()
    print("ready %d" % a.port, flush=True)
    # Until the test kills us; bounded so a lost server does not linger.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and udp.isAlive():
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
