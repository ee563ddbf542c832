#!/usr/bin/env bash
# Installs what building needs (Debian 12, as root), builds, and runs ternd
# receiving SMTP on 127.0.0.1:2525 into ./mail. Extra arguments go to ternd
# (e.g. --lmtp, --listen [::1]:2525); see docs/ternd.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh build
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
[ -f build/CMakeCache.txt ] || cmake -S . -B build "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
mkdir -p mail
exec build/ternd --listen 127.0.0.1:2525 --maildir ./mail "$@"
