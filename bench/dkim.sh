#!/usr/bin/env bash
# bench/dkim.sh: DKIM signatures and verifications per second on one core
# (one thread), libtern (bench/dkim_bench.c) next to dkimpy (Debian's
# /usr/bin/python3), RSA-2048 and Ed25519, on the same 4 KiB message signed
# relaxed/relaxed with the same keys. Prints one table; timing never fails it.
#
# Knobs: SECS seconds per measurement (3); BUILD_DIR with libtern.a and
# tern-dkim (build; built there with cmake when missing); CPU to pin to (0).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
SECS=${SECS:-3}
BUILD_DIR=${BUILD_DIR:-build}
CPU=${CPU:-0}
OUT=$(mktemp -d /tmp/tern-dkim-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

if [ ! -f "$BUILD_DIR/libtern.a" ] || [ ! -x "$BUILD_DIR/tern-dkim" ]; then
	cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
		cmake --build "$BUILD_DIR" --target tern_static tern-dkim >/dev/null || exit 1
fi
cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Iinclude -o "$OUT/dkim_bench" bench/dkim_bench.c "$BUILD_DIR/libtern.a" \
	$(pkg-config --libs libcrypto libssl libevent libevent_openssl libevent_pthreads libunbound \
		libidn2 libpsl) -lpthread || exit 1

"$BUILD_DIR/tern-dkim" keygen -a rsa -b 2048 -o "$OUT/rsa.pem" >"$OUT/rsa.txt"
"$BUILD_DIR/tern-dkim" keygen -a ed25519 -o "$OUT/ed.pem" >"$OUT/ed.txt"

# A 4 KiB message: the usual header fields and 4 KiB of text lines.
{
	printf 'From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\n'
	printf 'Subject: benchmark message\r\nDate: Tue, 02 Dec 2025 17:00:00 +0000\r\n'
	printf 'Message-ID: <bench@example.org>\r\nMIME-Version: 1.0\r\n'
	printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
	for i in $(seq 1 53); do
		printf 'Line %02d of the body, some words to hash and canonicalize here.\r\n' "$i"
	done
} >"$OUT/msg.eml"

PIN=()
command -v taskset >/dev/null && PIN=(taskset -c "$CPU")

"${PIN[@]}" "$OUT/dkim_bench" "$SECS" "$OUT" "$OUT/msg.eml" >"$OUT/tern.out" || exit 1

"${PIN[@]}" /usr/bin/python3 - "$SECS" "$OUT" >"$OUT/py.out" <<'PY'
import base64, sys, time
import dkim
from cryptography.hazmat.primitives import serialization as s

secs, d = float(sys.argv[1]), sys.argv[2]
msg = open(d + "/msg.eml", "rb").read()
for sel, alg in (("rsa", b"rsa-sha256"), ("ed", b"ed25519-sha256")):
    key = open("%s/%s.pem" % (d, sel), "rb").read()
    if sel == "ed":
        k = s.load_pem_private_key(key, None)
        key = base64.b64encode(k.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw,
                                               s.NoEncryption()))
    txt = open("%s/%s.txt" % (d, sel), "rb").read().strip()
    def sign():
        return dkim.sign(msg, sel.encode(), b"example.org", key,
                         canonicalize=(b"relaxed", b"relaxed"), signature_algorithm=alg)
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < secs:
        sig = sign(); n += 1
    print("sign %s %.0f" % (sel, n / (time.monotonic() - t0)))
    signed = sign() + msg
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < secs:
        assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: txt); n += 1
    print("verify %s %.0f" % (sel, n / (time.monotonic() - t0)))
PY

printf '%-22s %14s %14s %8s\n' "DKIM, 4 KiB, 1 core" "tern (ops/s)" "dkimpy (ops/s)" "ratio"
for op in "sign rsa" "verify rsa" "sign ed" "verify ed"; do
	t=$(grep "^$op " "$OUT/tern.out" | awk '{print $3}')
	p=$(grep "^$op " "$OUT/py.out" | awk '{print $3}')
	name=${op/rsa/RSA-2048}
	name=${name/ed/Ed25519}
	ratio=$(awk -v a="$t" -v b="$p" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')
	printf '%-22s %14s %14s %8s\n' "$name" "${t:--}" "${p:--}" "$ratio"
done
