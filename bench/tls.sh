#!/usr/bin/env bash
# bench/tls.sh: ternd's TLS against Node's smtp-server, side by side, one run.
#
#  1. memory per idle session (PSS from /proc/PID/smaps_rollup, before and
#     after N sessions that did greeting + EHLO; TLS ones the handshake first):
#     ternd --listen, ternd --tls-listen, smtp-server plain, smtp-server secure
#  2. full TLS 1.3 handshakes per second on one server core (server pinned to
#     CPU 0, the load client to CPU 1): connect, handshake, 220, QUIT, 221,
#     close; server CPU per handshake from /proc/PID/stat; ECDSA P-256 and
#     RSA 2048, the same certificate for both servers
#  3. server CPU per 1 KiB message over one kept session, TLS and plain
#
# Everything on 127.0.0.1; every load bounded in count and time; every
# process started here is stopped by its PID. Prints; never fails on figures.
# Load client: bench/tls_client.c (built here); Node server: bench/tls_sink.js.
#
# Knobs (environment): IDLE_NS ("2000 10000"), INFLIGHT (64 sessions being
# opened at a time), SETTLE_MS (2000), HS_N (5000 handshakes per run),
# HS_CONC (256 connections in flight: smtp-server holds each greeting 100 ms),
# HS_SEC (30 s cap per run), MSG_N (5000 messages per run), REPS (3: the
# median of REPS runs is printed for 2 and 3).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
IDLE_NS=${IDLE_NS:-"2000 10000"}
INFLIGHT=${INFLIGHT:-64}
SETTLE_MS=${SETTLE_MS:-2000}
HS_N=${HS_N:-5000}
HS_CONC=${HS_CONC:-256}
HS_SEC=${HS_SEC:-30}
MSG_N=${MSG_N:-5000}
REPS=${REPS:-3}
OUT=$(mktemp -d /tmp/tern-tls.XXXXXX)
log() { printf '%s\n' "$*" >&2; }

# --- prerequisites -------------------------------------------------------------
command -v node >/dev/null || { log "node is required"; exit 1; }
if [ ! -d bench/node/node_modules/smtp-server ]; then
	(cd bench/node && npm ci --no-audit --no-fund >"$OUT/npm.log" 2>&1) ||
		{ log "npm ci failed (see $OUT/npm.log)"; exit 1; }
fi
log "building ternd (build-bench, Release) and bench/tls_client.c"
if ! { cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERN_TESTS=OFF &&
       cmake --build build-bench -j2 --target ternd; } >"$OUT/build.log" 2>&1; then
	log "build failed:"; tail -20 "$OUT/build.log" >&2; exit 1
fi
TERND=$ROOT/build-bench/ternd
CLIENT=$OUT/tls_client
cc -O2 -Wall -o "$CLIENT" bench/tls_client.c -lssl -lcrypto >>"$OUT/build.log" 2>&1 ||
	{ log "cannot build bench/tls_client.c:"; tail -20 "$OUT/build.log" >&2; exit 1; }

# One certificate of each kind, used by both servers.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj /CN=bench.test -keyout "$OUT/ec.key" -out "$OUT/ec.crt" 2>>"$OUT/build.log"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
	-subj /CN=bench.test -keyout "$OUT/rsa.key" -out "$OUT/rsa.crt" 2>>"$OUT/build.log"
printf 'pw\n' | "$TERND" passwd u@example.com >"$OUT/users" && chmod 600 "$OUT/users"

# Descriptors: the server and the client each hold one per session.
maxn=0
for n in $IDLE_NS; do [ "$n" -gt "$maxn" ] && maxn=$n; done
want=$((maxn + 1000))
[ "$(ulimit -n)" -lt "$want" ] && ulimit -n "$want" 2>/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null
FDS=$(ulimit -n)

# --- servers ---------------------------------------------------------------------
SPID=
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_listen() { # port seconds
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		kill -0 "$SPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
stop_server() {
	[ -n "$SPID" ] || return 0
	kill -TERM "$SPID" 2>/dev/null
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$SPID" 2>/dev/null && { log "server $SPID did not stop on SIGTERM; killing it"; kill -KILL "$SPID"; }
	wait "$SPID" 2>/dev/null
	SPID=
}
trap stop_server EXIT

# start_server NAME PORT KEYTYPE: server pinned to CPU 0 (taskset execs it,
# so $! is the server; its threads inherit the mask).
start_server() {
	local name=$1 port=$2 k=$3
	local tls=(--tls-cert "$OUT/$k.crt" --tls-key "$OUT/$k.key")
	local common=(--discard --hostname bench.test --log-level warning --greeting-delay 0
		      --idle-timeout 3600 --close-timeout 2 --state-dir "$OUT/state")
	case $name in
	ternd-plain)
		taskset -c 0 "$TERND" --listen "127.0.0.1:$port" "${tls[@]}" "${common[@]}" \
			>>"$OUT/$name.log" 2>&1 & ;;
	ternd-tls)
		taskset -c 0 "$TERND" --tls-listen "127.0.0.1:$port" --users "$OUT/users" "${tls[@]}" \
			"${common[@]}" >>"$OUT/$name.log" 2>&1 & ;;
	node-plain)
		taskset -c 0 node "$ROOT/bench/tls_sink.js" "$port" plain "$OUT/$k.crt" "$OUT/$k.key" \
			>>"$OUT/$name.log" 2>&1 & ;;
	node-tls)
		taskset -c 0 node "$ROOT/bench/tls_sink.js" "$port" tls "$OUT/$k.crt" "$OUT/$k.key" \
			>>"$OUT/$name.log" 2>&1 & ;;
	esac
	SPID=$!
	wait_listen "$port" 15 || { log "$name did not start (see $OUT/$name.log)"; stop_server; return 1; }
}
mode_of() { case $1 in *-tls) echo tls ;; *) echo plain ;; esac; }
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'; }
client() { timeout 400 taskset -c 1 "$CLIENT" "$@"; }

SERVERS=(ternd-plain ternd-tls node-plain node-tls)
TLS_SERVERS=(ternd-tls node-tls)
declare -A IDLE HS_RATE HS_US HS_SB HS_CB HS_SW HS_CW MSG_US MSG_RATE
START=$(date +%s)

# --- 1. idle sessions ------------------------------------------------------------
for n in $IDLE_NS; do
	if [ "$FDS" -lt $((n + 200)) ]; then
		log "skipping $n idle sessions: ulimit -n is $FDS"
		continue
	fi
	for s in "${SERVERS[@]}"; do
		port=$(free_port)
		start_server "$s" "$port" ec || continue
		r=$(client idle "$SPID" "$port" "$(mode_of "$s")" "$n" "$INFLIGHT" "$SETTLE_MS" 2>>"$OUT/client.err")
		log "idle $s N=$n: $r"
		IDLE[$s,$n]=$(kv per_session "$r")
		[ "$(kv alive "$r")" = "$n" ] || IDLE[$s,$n]="${IDLE[$s,$n]:-n/a}(alive=$(kv alive "$r"))"
		stop_server
	done
done

# --- 2. handshakes on one core --------------------------------------------------
for k in ec rsa; do
	for s in "${TLS_SERVERS[@]}"; do
		port=$(free_port)
		start_server "$s" "$port" "$k" || continue
		client hs "$SPID" "$port" 16 200 20 >/dev/null 2>>"$OUT/client.err" # warm-up
		rates= us= sb= cb= sw= cw=
		for ((i = 1; i <= REPS; i++)); do
			r=$(client hs "$SPID" "$port" "$HS_CONC" "$HS_N" "$HS_SEC" 2>>"$OUT/client.err")
			log "handshakes $s $k: $r"
			rates+="$(kv per_second "$r")"$'\n'
			us+="$(kv server_us_per_hs "$r")"$'\n'
			sb+="$(kv server_busy "$r")"$'\n'
			cb+="$(kv client_busy "$r")"$'\n'
			sw+="$(kv server_runq "$r")"$'\n'
			cw+="$(kv client_runq "$r")"$'\n'
		done
		HS_RATE[$s,$k]=$(printf '%s' "$rates" | median)
		HS_US[$s,$k]=$(printf '%s' "$us" | median)
		HS_SB[$s,$k]=$(printf '%s' "$sb" | median)
		HS_CB[$s,$k]=$(printf '%s' "$cb" | median)
		HS_SW[$s,$k]=$(printf '%s' "$sw" | median)
		HS_CW[$s,$k]=$(printf '%s' "$cw" | median)
		stop_server
	done
done

# --- 3. messages over one kept session -------------------------------------------
for s in "${SERVERS[@]}"; do
	port=$(free_port)
	start_server "$s" "$port" ec || continue
	us= rates=
	for ((i = 1; i <= REPS; i++)); do
		r=$(client msg "$SPID" "$port" "$(mode_of "$s")" "$MSG_N" 60 u@example.com pw 2>>"$OUT/client.err")
		log "messages $s: $r"
		us+="$(kv server_us_per_msg "$r")"$'\n'
		rates+="$(kv per_second "$r")"$'\n'
	done
	MSG_US[$s]=$(printf '%s' "$us" | median)
	MSG_RATE[$s]=$(printf '%s' "$rates" | median)
	stop_server
done

# --- reference: the primitives one handshake needs, on CPU 0 --------------------------
# A TLS 1.3 full handshake costs the server one signature and one X25519
# key generation + derivation (two X25519 operations).
SPEED=$(taskset -c 0 timeout 60 openssl speed -seconds 1 ecdsap256 rsa2048 ecdhx25519 2>/dev/null |
	awk '/^ *256 bits ecdsa/ {printf "ecdsa-p256 sign %.1f us, verify %.1f us; ", 1e6/$7, 1e6/$8}
	     /^rsa 2048 bits/ {printf "rsa-2048 sign %.1f us, verify %.1f us; ", 1e6/$6, 1e6/$7}
	     /^ *253 bits ecdh \(X25519\)/ {printf "x25519 op %.1f us", 1e6/$6}')

# --- table -------------------------------------------------------------------------
label() {
	case $1 in
	ternd-plain) echo "ternd --listen" ;;
	ternd-tls) echo "ternd --tls-listen" ;;
	node-plain) echo "smtp-server $SMTPV" ;;
	node-tls) echo "smtp-server $SMTPV secure" ;;
	esac
}
SMTPV=$(node -p 'require("./bench/node/node_modules/smtp-server/package.json").version' 2>/dev/null)
echo
echo "ternd TLS benchmark, $(date -u +%Y-%m-%d)"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r), $(openssl version | cut -d' ' -f1-2), node $(node --version)"
echo "server on CPU 0, client on CPU 1 (taskset); TLS 1.3, X25519, client never resumes"
echo "openssl speed on CPU 0: $SPEED"
echo
echo "1. bytes of PSS per idle session (greeting + EHLO; TLS: handshake first), ECDSA P-256"
printf '| %-28s |' server; for n in $IDLE_NS; do printf ' %12s |' "N=$n"; done; echo
printf '|%s|' "$(printf -- '-%.0s' {1..30})"; for n in $IDLE_NS; do printf '%s|' "$(printf -- '-%.0s' {1..14})"; done; echo
for s in "${SERVERS[@]}"; do
	printf '| %-28s |' "$(label "$s")"
	for n in $IDLE_NS; do printf ' %12s |' "${IDLE[$s,$n]:-n/a}"; done; echo
done
echo
echo "2. full handshakes (connect, TLS 1.3, 220, QUIT, 221, close), $HS_N per run, $HS_CONC in flight, median of $REPS"
echo "busy: CPU time / wall time; runq: share of the wall time spent runnable but waiting for the core (other work on the machine)"
printf '| %-28s | %-9s | %10s | %12s | %11s | %11s | %11s | %11s |\n' server key "hs/s" "server us/hs" "server busy" "server runq" "client busy" "client runq"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..30})" "$(printf -- '-%.0s' {1..11})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..13})" "$(printf -- '-%.0s' {1..13})" "$(printf -- '-%.0s' {1..13})" "$(printf -- '-%.0s' {1..13})"
for k in ec rsa; do
	for s in "${TLS_SERVERS[@]}"; do
		printf '| %-28s | %-9s | %10s | %12s | %11s | %11s | %11s | %11s |\n' "$(label "$s")" \
			"$([ $k = ec ] && echo P-256 || echo RSA-2048)" "${HS_RATE[$s,$k]:-n/a}" \
			"${HS_US[$s,$k]:-n/a}" "${HS_SB[$s,$k]:-n/a}" "${HS_SW[$s,$k]:-n/a}" \
			"${HS_CB[$s,$k]:-n/a}" "${HS_CW[$s,$k]:-n/a}"
	done
done
echo
echo "3. server CPU per 1 KiB message, one kept session, $MSG_N messages, median of $REPS"
printf '| %-28s | %12s | %8s |\n' server "us CPU/msg" "msgs/s"
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..30})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..10})"
for s in "${SERVERS[@]}"; do
	printf '| %-28s | %12s | %8s |\n' "$(label "$s")" "${MSG_US[$s]:-n/a}" "${MSG_RATE[$s]:-n/a}"
done
echo
echo "total time $(( $(date +%s) - START ))s; logs in $OUT"
