#!/usr/bin/env bash
# bench/run.sh: ternd side by side with its peers (Node's smtp-server, Postfix's
# smtp-sink). Installs what it needs, builds ternd in build-bench/, runs every
# measurement and prints two tables (smtp-source; tern-load, pipelined, the
# server on one core). It only prints: timing never fails it.
# Method and targets: bench/README.md.
#
# Knobs (environment): N messages per throughput run (20000), C parallel
# sessions (8), NCONN messages for the connection-per-message run (2000),
# IDLE idle sessions (1000), CG_N messages under callgrind (2000), REPS runs
# of each load whose median is printed (3; the Maildir case runs once).
# The tern-load section (server on CPU 0, bench/tern-load.c on CPU 1, because
# smtp-source saturates its own core before a fast server does): LT_SECS
# seconds per run (4), LT_SESS kept sessions (32), LT_REPS runs (3).
# BUILD_DIR: where ternd is built (build-bench).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
N=${N:-20000}
C=${C:-8}
NCONN=${NCONN:-2000}
IDLE=${IDLE:-1000}
CG_N=${CG_N:-2000}
REPS=${REPS:-3}
BUILD_DIR=${BUILD_DIR:-build-bench}
SIZE=1024
LT_SECS=${LT_SECS:-4}
LT_SESS=${LT_SESS:-32}
LT_REPS=${LT_REPS:-3}
OUT=$(mktemp -d /tmp/tern-bench.XXXXXX)
MEASURE=(python3 "$ROOT/bench/measure.py")
log() { printf '%s\n' "$*" >&2; }

# --- install -----------------------------------------------------------------
# Postfix ships smtp-sink and smtp-source. Installing it must not start a
# mail service on this machine: policy-rc.d answering 101 forbids that.
apt_install() {
	[ "$(id -u)" = 0 ] || { log "not root: cannot apt-get install $*"; return 1; }
	local made_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$OUT/apt.log" 2>&1 ||
		{ apt-get update -q >>"$OUT/apt.log" 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$OUT/apt.log" 2>&1; }
	local rc=$?
	[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
	return $rc
}
need_pkgs=()
command -v smtp-source >/dev/null || [ -x /usr/sbin/smtp-source ] || need_pkgs+=(postfix)
command -v valgrind >/dev/null || need_pkgs+=(valgrind)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	log "installing ${need_pkgs[*]}"
	apt_install "${need_pkgs[@]}" || log "apt-get install failed (see $OUT/apt.log)"
fi
export PATH="$PATH:/usr/sbin"
HAVE_POSTFIX=0
command -v smtp-source >/dev/null && command -v smtp-sink >/dev/null && HAVE_POSTFIX=1
HAVE_VALGRIND=0
command -v valgrind >/dev/null && HAVE_VALGRIND=1

HAVE_NODE=0
if command -v node >/dev/null && command -v npm >/dev/null; then
	if [ -d bench/node/node_modules/smtp-server ] ||
	   (cd bench/node && npm ci --no-audit --no-fund >"$OUT/npm.log" 2>&1); then
		HAVE_NODE=1
	else
		log "npm ci failed (see $OUT/npm.log)"
	fi
fi

# --- build -------------------------------------------------------------------
log "building ternd ($BUILD_DIR, Release)"
if ! { cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERN_TESTS=OFF &&
       cmake --build "$BUILD_DIR" --target ternd; } >"$OUT/build.log" 2>&1; then
	log "build failed:"; tail -20 "$OUT/build.log" >&2; exit 1
fi
TERND=$ROOT/$BUILD_DIR/ternd
# tern-load needs libevent and OpenSSL, not libtern: built here with cc, as
# bench/tls.sh builds its client, so the library's build carries no
# benchmark tool; the flags are the project's warning set.
TLOAD=$OUT/tern-load
HAVE_TLOAD=1
cc -std=c17 -O2 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-o "$TLOAD" bench/tern-load.c $(pkg-config --cflags --libs libevent_openssl libssl libcrypto) \
	-lpthread >>"$OUT/build.log" 2>&1 || { log "cannot build bench/tern-load.c (see $OUT/build.log)"; HAVE_TLOAD=0; }
# ternd's abuse defaults are for the Internet, not for one benchmark client on
# loopback: the 1 s greeting delay of --listen, 1000 messages and 10000
# recipients per connection, 100 connections per address, and reverse DNS
# (smtp-server runs with disableReverseLookup). Off, as when the earlier
# tables were measured (before these defaults existed). --state-dir: its
# queue and self-signed certificate go to the run's directory, not ./.
TERND_BENCH=(--greeting-delay 0 --max-messages-per-conn 0 --max-rcpts-per-conn 0 --max-per-ip 0
	     --no-reverse-dns --state-dir "$OUT/state")

# 1000 idle sessions need more than the usual 1024 descriptors.
[ "$(ulimit -n)" -lt $((IDLE + 200)) ] && ulimit -n $((IDLE + 200)) 2>/dev/null

# --- servers -----------------------------------------------------------------
SPID=
PIN=() # the tern-load section runs every server through taskset
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_listen() { # port, seconds
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

# start_server NAME PORT: the command line for server NAME, started in the
# background as a plain child (no subshell, so $! is the server itself;
# taskset, when PIN holds it, execs the server: the same PID).
start_server() {
	local name=$1 port=$2
	case $name in
	ternd-discard)
		"${PIN[@]}" "$TERND" --listen "127.0.0.1:$port" --discard --hostname bench.test \
			--log-level warning --close-timeout 2 "${TERND_BENCH[@]}" >>"$OUT/$name.log" 2>&1 & ;;
	ternd-discard-info)
		"${PIN[@]}" "$TERND" --listen "127.0.0.1:$port" --discard --hostname bench.test \
			--log-level info --close-timeout 2 "${TERND_BENCH[@]}" >>"$OUT/$name.log" 2>&1 & ;;
	ternd-maildir)
		rm -rf "$OUT/mail"
		"${PIN[@]}" "$TERND" --listen "127.0.0.1:$port" --maildir "$OUT/mail" --hostname bench.test \
			--log-level warning --close-timeout 2 "${TERND_BENCH[@]}" >>"$OUT/$name.log" 2>&1 & ;;
	smtp-server)
		"${PIN[@]}" node "$ROOT/bench/node/sink.js" "$port" >>"$OUT/$name.log" 2>&1 & ;;
	smtp-sink)
		# -m: room for the idle sessions (default 256); -u: required as root.
		local user=()
		[ "$(id -u)" = 0 ] && user=(-u nobody)
		"${PIN[@]}" smtp-sink "${user[@]}" -m $((IDLE + 100)) "127.0.0.1:$port" 1024 >>"$OUT/$name.log" 2>&1 & ;;
	esac
	SPID=$!
	wait_listen "$port" 15 || { log "$name did not start (see $OUT/$name.log)"; stop_server; return 1; }
}

# load_cmd PORT SESSIONS MESSAGES [-d]: sets LOAD to the load generator's
# command line: smtp-source, or our own client without it.
load_cmd() {
	local port=$1 s=$2 m=$3 reuse=${4:-}
	if [ "$HAVE_POSTFIX" = 1 ]; then
		LOAD=(timeout 300 smtp-source -s "$s" -m "$m" -l "$SIZE" $reuse -M localhost
		      -f sender@localhost -t bench@localhost "127.0.0.1:$port")
	else
		LOAD=(timeout 300 "${MEASURE[@]}" load "$port" "$s" "$m" "$SIZE" ${reuse:+--reuse})
	fi
}
load() { load_cmd "$@"; "${LOAD[@]}"; }
# Field from a key=value line.
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

declare -A CPU_D RATE_D CPU_C RATE_C IDLE_B NOTE

# run_cpu NAME PORT MESSAGES REUSE REPS WHAT: REPS load runs against the
# running server; RES_CPU and RES_RATE get the medians (us CPU per message,
# messages per second), RES_RSS the server's RSS after the last run.
median() { sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'; }
run_cpu() {
	local name=$1 port=$2 m=$3 reuse=$4 reps=$5 what=$6 i r cpus= rates=
	RES_CPU= RES_RATE= RES_RSS=
	for ((i = 1; i <= reps; i++)); do
		load_cmd "$port" "$C" "$m" $reuse
		r=$("${MEASURE[@]}" cpu "$SPID" -- "${LOAD[@]}" 2>>"$OUT/$name.load.err")
		log "   $C sessions, $m messages, $what: $r"
		if [ "$(kv rc "$r")" != 0 ] || [ -n "$(kv server "$r")" ]; then
			NOTE[$name]+=" load-error($what: $r)"
			return
		fi
		cpus+="$(awk -v c="$(kv cpu "$r")" -v n="$m" 'BEGIN{printf "%.1f", c*1e6/n}')"$'\n'
		rates+="$(awk -v w="$(kv wall "$r")" -v n="$m" 'BEGIN{printf "%.0f", n/w}')"$'\n'
		RES_RSS=$(kv rss "$r")
	done
	RES_CPU=$(printf '%s' "$cpus" | median)
	RES_RATE=$(printf '%s' "$rates" | median)
}
measure_server() {
	local name=$1 port r
	port=$(free_port)
	log "== $name"
	if start_server "$name" "$port"; then
		local rss0 rss1 reps=$REPS
		[ "$name" = ternd-maildir ] && reps=1 # fsync-bound; one run is enough
		load "$port" 2 200 -d >/dev/null 2>>"$OUT/$name.load.err" # warm-up
		rss0=$("${MEASURE[@]}" rss "$SPID")
		run_cpu "$name" "$port" "$N" -d "$reps" "connections reused"
		CPU_D[$name]=$RES_CPU RATE_D[$name]=$RES_RATE
		rss1=$RES_RSS
		run_cpu "$name" "$port" "$NCONN" "" "$reps" "one connection each"
		CPU_C[$name]=$RES_CPU RATE_C[$name]=$RES_RATE
		log "   RSS after warm-up $rss0, after the reused-connection runs $rss1, after all $RES_RSS"
		if [ "$name" = ternd-maildir ]; then
			local stored
			stored=$(find "$OUT/mail" -path '*/new/*' -type f | wc -l)
			log "   stored $stored messages (sent $((200 + N + NCONN)))"
			[ "$stored" = $((200 + N + NCONN)) ] || NOTE[$name]+=" stored=$stored"
			rm -rf "$OUT/mail"
		fi
		stop_server
	fi
	# Idle sessions on a fresh server, so the load runs' heap is not reused.
	port=$(free_port)
	if start_server "$name" "$port"; then
		r=$(timeout 180 "${MEASURE[@]}" idle "$SPID" "$port" "$IDLE" 2>>"$OUT/$name.load.err")
		log "   $IDLE idle sessions after EHLO: $r"
		if [ -n "$(kv per_session "$r")" ]; then
			IDLE_B[$name]=$(kv per_session "$r")
			[ "$(kv alive "$r")" = "$IDLE" ] || NOTE[$name]+=" only $(kv alive "$r")/$IDLE sessions alive"
		else
			NOTE[$name]+=" idle-test-failed"
		fi
		stop_server
	fi
	if [ -s "$OUT/$name.load.err" ]; then
		log "   load generator errors:"; tail -5 "$OUT/$name.load.err" >&2
	fi
	if grep -qiE 'error|warning' "$OUT/$name.log" 2>/dev/null; then
		log "   server log errors/warnings:"; grep -iE 'error|warning' "$OUT/$name.log" | head -5 >&2
	fi
}

START=$(date +%s)
SERVERS=(ternd-discard ternd-maildir ternd-discard-info)
[ "$HAVE_NODE" = 1 ] && SERVERS+=(smtp-server) || log "skipping smtp-server: node/npm unavailable"
[ "$HAVE_POSTFIX" = 1 ] && SERVERS+=(smtp-sink) || log "skipping smtp-sink: postfix unavailable (load from bench/measure.py)"
for s in "${SERVERS[@]}"; do measure_server "$s"; done

# --- callgrind: instructions per message, repeatable ---------------------------
# Two runs, CG_N/10 and CG_N messages; the difference cancels start-up and
# shutdown, leaving the per-message cost.
CG_IR=; CG_IR_C=
callgrind_ir() { # messages reuse-flag -> total Ir
	local port f
	port=$(free_port)
	rm -f "$OUT"/cg.out.*
	valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.out.%p" \
		"$TERND" --listen "127.0.0.1:$port" --discard --hostname bench.test \
		--log-level warning --close-timeout 2 "${TERND_BENCH[@]}" >>"$OUT/callgrind.log" 2>&1 &
	SPID=$!
	wait_listen "$port" 60 || { stop_server; return 1; }
	load "$port" "$C" "$1" $2 >/dev/null 2>>"$OUT/callgrind.log" || { stop_server; return 1; }
	stop_server
	f=$(ls "$OUT"/cg.out.* 2>/dev/null | head -1)
	[ -n "$f" ] && sed -n 's/^totals: *//p' "$f"
}
if [ "$HAVE_VALGRIND" = 1 ]; then
	log "== callgrind (ternd --discard)"
	small=$((CG_N / 10))
	a=$(callgrind_ir "$small" -d); b=$(callgrind_ir "$CG_N" -d)
	[ -n "$a" ] && [ -n "$b" ] && CG_IR=$(( (b - a) / (CG_N - small) ))
	log "   reused connections: Ir $small msgs=$a, $CG_N msgs=$b"
	a=$(callgrind_ir "$small" ""); b=$(callgrind_ir "$CG_N" "")
	[ -n "$a" ] && [ -n "$b" ] && CG_IR_C=$(( (b - a) / (CG_N - small) ))
	log "   one connection each: Ir $small msgs=$a, $CG_N msgs=$b"
else
	log "skipping callgrind: valgrind unavailable"
fi

# --- tern-load: pipelined load, server on one core ---------------------------
# smtp-source makes every command a round trip and runs all its sessions in
# one process, so it saturates its own core before a fast server does. Here
# the server is pinned to CPU 0 and tern-load (one thread, LT_SESS kept
# sessions, MAIL+RCPT+DATA in one write, the body after the 354) to CPU 1,
# so the server's figures are one core's. tern-load reads the server's CPU
# (utime+stime, all threads) and both processes' run-queue wait itself, over
# its own run. Each run is bounded: LT_SECS of new messages, at most 2M
# messages, a hard cap of 60 s.
declare -A LT
lt_run() { # name port reps extra-args... -> medians into LT[name,<field>,<kind>]
	local name=$1 port=$2 reps=$3 kind=$4 i r f vals
	shift 4
	declare -A acc=()
	for ((i = 1; i <= reps; i++)); do
		r=$(timeout 90 "${LPIN[@]}" "$TLOAD" --duration "$LT_SECS" --messages 2000000 --max-seconds 60 \
			--sessions "$LT_SESS" --timeout 10 --server-pid "$SPID" "$@" "127.0.0.1:$port" \
			2>>"$OUT/${name%%:*}.tern-load.err")
		log "   tern-load $kind: $r"
		if [ -z "$r" ] || [ "$(kv errors "$r")" != 0 ]; then
			NOTE_LT[$name]+=" $kind: errors=$(kv errors "$r") (see $OUT/${name%%:*}.tern-load.err)"
		fi
		for f in msgs_per_sec mb_per_sec server_us_per_msg server_busy server_runq client_busy p99_us; do
			acc[$f]+="$(kv $f "$r")"$'\n'
		done
	done
	for f in msgs_per_sec mb_per_sec server_us_per_msg server_busy server_runq client_busy p99_us; do
		LT[$name,$f,$kind]=$(printf '%s' "${acc[$f]}" | median)
	done
}
declare -A NOTE_LT
# A row is a server, or server:bdat for BDAT n LAST (RFC 3030) in the same
# write as MAIL and RCPT: one write and one reply per message, the cheapest
# traffic for the generator (only ternd offers CHUNKING here).
LT_SERVERS=(ternd-discard ternd-discard:bdat)
[ "$HAVE_NODE" = 1 ] && LT_SERVERS+=(smtp-server)
[ "$HAVE_POSTFIX" = 1 ] && LT_SERVERS+=(smtp-sink)
LPIN=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	PIN=(taskset -c 0); LPIN=(taskset -c 1)
else
	log "fewer than 2 cores or no taskset: the tern-load section runs unpinned"
fi
if [ "$HAVE_TLOAD" = 1 ]; then
	for row in "${LT_SERVERS[@]}"; do
		s=${row%%:*} extra=()
		[ "$row" != "$s" ] && extra=(--"${row#*:}")
		port=$(free_port)
		log "== tern-load against $row"
		start_server "$s" "$port" || continue
		"${LPIN[@]}" "$TLOAD" --messages 2000 --sessions "$LT_SESS" --timeout 10 --max-seconds 30 \
			"${extra[@]}" "127.0.0.1:$port" >/dev/null 2>>"$OUT/$s.tern-load.err" # warm-up
		lt_run "$row" "$port" "$LT_REPS" 1k --size 1024 "${extra[@]}"
		lt_run "$row" "$port" "$LT_REPS" 100k --size 100k "${extra[@]}"
		stop_server
	done
fi
PIN=()

# --- table -------------------------------------------------------------------
echo
echo "ternd benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m); load: $([ "$HAVE_POSTFIX" = 1 ] && echo smtp-source || echo bench/measure.py)"
echo "throughput: $N msgs of $SIZE B over $C reused connections; conn/msg: $NCONN msgs, a new connection each; idle: $IDLE sessions after EHLO"
echo
printf '| %-36s | %12s | %8s | %12s | %8s | %15s |\n' server "us CPU/msg" "msgs/s" "us CPU/msg" "msgs/s" "bytes/idle"
printf '| %-36s | %12s | %8s | %12s | %8s | %15s |\n' "" "(reused)" "(reused)" "(conn/msg)" "(conn/msg)" "session"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..38})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..17})"
label() {
	case $1 in
	ternd-discard) echo "ternd --discard" ;;
	ternd-maildir) echo "ternd --maildir (fsync)" ;;
	ternd-discard-info) echo "ternd --discard, log info" ;;
	smtp-server) echo "smtp-server $(node -p 'require("./bench/node/node_modules/smtp-server/package.json").version' 2>/dev/null) (node $(node --version 2>/dev/null))" ;;
	smtp-sink) echo "postfix smtp-sink $(dpkg-query -W -f '${Version}' postfix 2>/dev/null | cut -d- -f1)" ;;
	esac
}
for s in "${SERVERS[@]}"; do
	printf '| %-36s | %12s | %8s | %12s | %8s | %15s |%s\n' "$(label "$s")" "${CPU_D[$s]:-n/a}" \
		"${RATE_D[$s]:-n/a}" "${CPU_C[$s]:-n/a}" "${RATE_C[$s]:-n/a}" "${IDLE_B[$s]:-n/a}" "${NOTE[$s]:-}"
done
echo
echo "callgrind, ternd --discard: ${CG_IR:-n/a} instructions/msg (reused connections), ${CG_IR_C:-n/a} instructions/msg (connection per message)"
echo "targets (issue 2): <= 40 us server CPU per 1 KiB message, <= 4096 bytes per idle session"
if [ "$HAVE_TLOAD" = 1 ]; then
	echo
	echo "tern-load (bench/tern-load.c): server on CPU 0, tern-load on CPU 1 (taskset; unpinned if fewer than 2 cores);"
	echo "$LT_SESS kept sessions, PIPELINING (MAIL, RCPT, DATA in one write, the body after the 354; (bdat): MAIL, RCPT, BDAT n LAST and the message in one write); $LT_SECS s per run, median of $LT_REPS"
	echo "busy: CPU time / wall time (1.00 = a whole core); runq: share of the wall time runnable but waiting for a core (other work)"
	printf '| %-36s | %8s | %7s | %6s | %6s | %6s | %7s | %8s | %7s | %6s | %6s |\n' "" "1 KiB" "us CPU" "server" "server" "load" "p99" "100 KiB" "us CPU" "server" "load"
	printf '| %-36s | %8s | %7s | %6s | %6s | %6s | %7s | %8s | %7s | %6s | %6s |\n' server "msgs/s" "/msg" busy runq busy "us" "MB/s" "/msg" busy busy
	printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..38})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..9})" "$(printf -- '-%.0s' {1..8})" "$(printf -- '-%.0s' {1..8})" "$(printf -- '-%.0s' {1..8})" "$(printf -- '-%.0s' {1..9})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..9})" "$(printf -- '-%.0s' {1..8})" "$(printf -- '-%.0s' {1..8})"
	for s in "${LT_SERVERS[@]}"; do
		printf '| %-36s | %8s | %7s | %6s | %6s | %6s | %7s | %8s | %7s | %6s | %6s |%s\n' \
			"$(label "${s%%:*}")$([ "$s" != "${s%%:*}" ] && echo " (${s#*:})")" \
			"${LT[$s,msgs_per_sec,1k]:-n/a}" "${LT[$s,server_us_per_msg,1k]:-n/a}" \
			"${LT[$s,server_busy,1k]:-n/a}" "${LT[$s,server_runq,1k]:-n/a}" "${LT[$s,client_busy,1k]:-n/a}" \
			"${LT[$s,p99_us,1k]:-n/a}" "${LT[$s,mb_per_sec,100k]:-n/a}" "${LT[$s,server_us_per_msg,100k]:-n/a}" \
			"${LT[$s,server_busy,100k]:-n/a}" "${LT[$s,client_busy,100k]:-n/a}" "${NOTE_LT[$s]:-}"
	done
fi
echo
echo "total time $(( $(date +%s) - START ))s; logs in $OUT"
