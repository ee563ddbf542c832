#!/usr/bin/python3
"""Reference implementations for the mail-authentication interop tests, run
with Debian's Python (dkimpy, pyspf, authres, dnspython):

    auth_oracle.py sign KEY.pem DOMAIN SELECTOR < message > signed
    auth_oracle.py dkim-verify DNSPORT < message        -> "pass"/"fail" per signature, or "none"
    auth_oracle.py spf DNSPORT IP HELO SENDER           -> pyspf's result word
    auth_oracle.py arc-seal KEY.pem DOMAIN SELECTOR AUTHSERV < message > sealed
    auth_oracle.py parse-ar < field                     -> JSON of the parsed field

DNS goes to the test server on 127.0.0.1:DNSPORT, never the machine's
resolver."""
import json
import sys


def resolver(port):
    import dns.resolver
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.lifetime = 5
    dns.resolver.default_resolver = r
    return r


def txt_lookup(port):
    r = resolver(port)

    def dnsfunc(name, timeout=5):
        try:
            ans = r.resolve(name.decode() if isinstance(name, bytes) else name, "TXT")
        except Exception:
            return None
        return b"".join(b"".join(rr.strings) for rr in ans)
    return dnsfunc


def main():
    cmd = sys.argv[1]
    if cmd == "sign":
        import dkim
        key = open(sys.argv[2], "rb").read()
        msg = sys.stdin.buffer.read()
        sig = dkim.sign(msg, sys.argv[4].encode(), sys.argv[3].encode(), key,
                        include_headers=[b"from", b"to", b"subject", b"date"])
        sys.stdout.buffer.write(sig + msg)
    elif cmd == "arc-seal":
        # One ARC set on top of the message, as a forwarder that checked
        # SPF would add it (the chain it saw: none).
        import dkim
        key = open(sys.argv[2], "rb").read()
        domain, selector, srv = (a.encode() for a in sys.argv[3:6])
        msg = sys.stdin.buffer.read()
        msg = (b"Authentication-Results: " + srv + b"; spf=pass smtp.mailfrom=" + domain +
               b"\r\n" + msg)
        sealed = dkim.arc_sign(msg, selector, domain, key, srv)
        if not sealed:
            sys.exit("dkimpy made no ARC set")
        sys.stdout.buffer.write(b"".join(sealed) + msg)
    elif cmd == "dkim-verify":
        # One word per DKIM-Signature field, top first.
        import dkim
        msg = sys.stdin.buffer.read()
        d = dkim.DKIM(msg)
        count = sum(1 for name, _ in d.headers if name.lower() == b"dkim-signature")
        words = []
        for idx in range(max(count, 1)):
            try:
                ok = d.verify(idx=idx, dnsfunc=txt_lookup(int(sys.argv[2])))
            except dkim.DKIMException:
                ok = False
            words.append("pass" if ok else "fail")
        print(" ".join(words) if count else "none")
    elif cmd == "spf":
        import spf
        resolver(int(sys.argv[2]))
        result, _explanation = spf.check2(i=sys.argv[3], h=sys.argv[4], s=sys.argv[5])
        print(result)
    elif cmd == "parse-ar":
        import authres
        field = sys.stdin.read().replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ")
        h = authres.AuthenticationResultsHeader.parse(field.strip())
        out = {"authserv_id": h.authserv_id, "results": []}
        for r in h.results:
            out["results"].append({"method": r.method, "result": r.result,
                                   "props": {"%s.%s" % (p.type, p.name): p.value
                                             for p in r.properties}})
        print(json.dumps(out))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
