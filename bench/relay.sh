#!/usr/bin/env bash
# bench/relay.sh: the relay benchmark. An MTA receives on one side and
# delivers to Postfix's smtp-sink on the other: ternd (its durable queue and
# delivery thread) and Postfix (run from a configuration in a temporary
# directory, never the system's instance), the same load for both.
# Prints one table: messages per second end to end (first message sent to
# last message received by the sink) and the MTA's CPU per message (its whole
# process tree). It only prints: timing never fails it. Method: bench/README.md
# ("relay"); results: docs/PERFORMANCE.md.
#
# Knobs (environment): N messages per run (5000), S smtp-source sessions (20),
# SIZE payload bytes (1024), WARM warm-up messages (200), REPS runs per MTA
# whose median is printed (3), WAIT seconds a run may take end to end before
# it is reported incomplete (300), CONC the MTAs' connections to the sink
# (20: ternd's --dest-concurrency default), BUILD_DIR (build-relay),
# QUEUE_FS: where both MTAs keep their queues: "tmp" (default: the run's
# directory under /tmp) or "ext4-journal" (a 4 GiB ext4 image with a
# journal, loop-mounted in the run's directory for the run; needs root).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
N=${N:-5000}
S=${S:-20}
SIZE=${SIZE:-1024}
WARM=${WARM:-200}
REPS=${REPS:-3}
WAIT=${WAIT:-300}
CONC=${CONC:-20}
QUEUE_FS=${QUEUE_FS:-tmp}
BUILD_DIR=${BUILD_DIR:-build-relay}
OUT=$(mktemp -d /tmp/tern-relay.XXXXXX)
# Postfix's daemons run as the postfix user and must reach the queue below.
chmod 755 "$OUT"
log() { printf '%s\n' "$*" >&2; }
# QROOT: both MTAs' queues (ternd's state directory, Postfix's queue and
# data directories). See QUEUE_FS above and bench/README.md ("relay") for
# why the file system matters.
QROOT=$OUT
MOUNTED=
unmount_queue_fs() {
	[ -n "$MOUNTED" ] || return 0
	umount "$MOUNTED" || log "cannot unmount $MOUNTED"
	rm -f "$OUT/queue.img"
	MOUNTED=
}
trap unmount_queue_fs EXIT # until cleanup (below) takes over
case $QUEUE_FS in
tmp) ;;
ext4-journal)
	truncate -s 4G "$OUT/queue.img" &&
	mkfs.ext4 -q -F -O has_journal "$OUT/queue.img" >>"$OUT/mkfs.log" 2>&1 &&
	mkdir -p "$OUT/fs" && mount -o loop "$OUT/queue.img" "$OUT/fs" 2>>"$OUT/mkfs.log" ||
		{ log "cannot make or mount an ext4 image (see $OUT/mkfs.log)"; rm -f "$OUT/queue.img"; exit 1; }
	MOUNTED=$OUT/fs QROOT=$OUT/fs
	chmod 755 "$QROOT" ;;
*) log "QUEUE_FS: tmp or ext4-journal"; exit 64 ;;
esac
QFS=$(findmnt -n -o SOURCE,FSTYPE -T "$QROOT" 2>/dev/null | tr -s ' ')
export PATH="$PATH:/usr/sbin"

# --- what is needed ----------------------------------------------------------
# Postfix ships smtp-sink, smtp-source and the MTA itself. Installing it must
# not start the system's mail service: policy-rc.d answering 101 forbids that
# (as bench/run.sh does).
if ! command -v smtp-sink >/dev/null || ! command -v postfix >/dev/null; then
	[ "$(id -u)" = 0 ] || { log "Postfix is missing and we are not root: cannot install it"; exit 1; }
	made_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
	fi
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix ||
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix; }; } >"$OUT/apt.log" 2>&1
	[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
	command -v smtp-sink >/dev/null || { log "cannot install Postfix (see $OUT/apt.log)"; exit 1; }
fi

log "building ternd ($BUILD_DIR, Release)"
if ! { cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERN_TESTS=OFF &&
       cmake --build "$BUILD_DIR" --target ternd; } >"$OUT/build.log" 2>&1; then
	log "build failed:"; tail -20 "$OUT/build.log" >&2; exit 1
fi
TERND=$ROOT/$BUILD_DIR/ternd

# MTAs on CPU 0; load generator, sink and the measuring script on CPU 1.
PIN=() LPIN=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	PIN=(taskset -c 0); LPIN=(taskset -c 1)
else
	log "fewer than 2 cores or no taskset: running unpinned"
fi

# --- the measuring helper ------------------------------------------------------
# tree: CPU of a process and all its descendants, from /proc. Each process
# counts utime+stime+cutime+cstime: a child that exits (Postfix's daemons do,
# after max_use clients or max_idle seconds) is added to its parent's
# cutime/cstime when it is reaped, so the sum over the tree stays complete.
# run: CPU of the tree before, the load, the sink's counter until it has every
# message, the queue until it is empty, CPU after.
cat >"$OUT/relay_measure.py" <<'EOF'
import os, re, subprocess, sys, time

HZ = os.sysconf("SC_CLK_TCK")

def tree_cpu(root):
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        f = s[s.rindex(")") + 2:].split()
        procs[int(d)] = (int(f[1]), sum(int(x) for x in f[11:15]))
    if root not in procs:
        raise SystemExit(f"process {root} is gone")
    kids = {}
    for pid, (ppid, _) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    total, n, todo = 0, 0, [root]
    while todo:
        p = todo.pop()
        total += procs[p][1]
        n += 1
        todo += kids.get(p, [])
    return total / HZ, n

def sink_count(path):
    # smtp-sink -c rewrites "sess=.. quit=.. mesg=N\r" on every event.
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 256))
            m = re.findall(rb"mesg=(\d+)", f.read())
    except OSError:
        return 0
    return int(m[-1]) if m else 0

def queued(dirs):
    n = 0
    for d in dirs:
        for _, _, files in os.walk(d):
            n += len(files)
    return n

def main():
    # run ROOT SINK_OUT N WAIT QDIR[,QDIR...] -- LOAD...
    root, sink, n, wait, qdirs = int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), \
        float(sys.argv[5]), sys.argv[6].split(",")
    load = sys.argv[8:]
    base = sink_count(sink)
    cpu0, procs0 = tree_cpu(root)
    t0 = time.monotonic()
    rc = subprocess.call(load, stdout=subprocess.DEVNULL)
    t_load = time.monotonic() - t0
    deadline = t0 + wait
    while sink_count(sink) < base + n and time.monotonic() < deadline:
        time.sleep(0.002)
    t_sink = time.monotonic() - t0
    got = sink_count(sink) - base
    # The MTA's work after the last delivery (recording the outcome,
    # removing the queue file) belongs to the message too.
    while queued(qdirs) and time.monotonic() < deadline:
        time.sleep(0.01)
    left = queued(qdirs)
    time.sleep(0.5)
    cpu1, procs1 = tree_cpu(root)
    print(f"sent={n} received={got} load_rc={rc} load_secs={t_load:.3f} secs={t_sink:.3f} "
          f"msgs_per_sec={got / t_sink:.0f} cpu_ms={(cpu1 - cpu0) * 1000:.0f} "
          f"us_per_msg={(cpu1 - cpu0) * 1e6 / max(got, 1):.0f} queue_left={left} "
          f"procs={procs0}/{procs1}")

if sys.argv[1] == "tree":
    print("%.2f %d" % tree_cpu(int(sys.argv[2])))
elif sys.argv[1] == "count":
    print(sink_count(sys.argv[2]))
elif sys.argv[1] == "run" and sys.argv[7] == "--":
    main()
else:
    raise SystemExit("usage: relay_measure.py run ROOT SINK_OUT N WAIT QDIRS -- LOAD... | tree PID | count SINK_OUT")
EOF
MEASURE=("${LPIN[@]}" python3 "$OUT/relay_measure.py")

# --- processes we start, stopped at the end whatever happens -------------------
PIDS=()      # sinks and ternd, stopped by PID
PF_DIR=      # the Postfix instance's directory, stopped with postfix -c
PF_MASTER=
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && { log "process $pid did not stop on SIGTERM; killing it"; kill -KILL "$pid"; }
	wait "$pid" 2>/dev/null
}
stop_postfix() {
	[ -n "$PF_DIR" ] || return 0
	timeout 30 postfix -c "$PF_DIR/etc" stop >>"$OUT/postfix.log" 2>&1
	local i
	for ((i = 0; i < 100; i++)); do
		[ -n "$PF_MASTER" ] && kill -0 "$PF_MASTER" 2>/dev/null || break
		sleep 0.1
	done
	timeout 30 postfix -c "$PF_DIR/etc" abort >>"$OUT/postfix.log" 2>&1
	# Last resort, by PID: the master of this instance only.
	[ -n "$PF_MASTER" ] && kill -0 "$PF_MASTER" 2>/dev/null && kill -KILL "$PF_MASTER"
	PF_DIR= PF_MASTER=
}
cleanup() {
	stop_postfix
	local p
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	PIDS=()
	unmount_queue_fs
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_listen() { # port seconds pid
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		[ -z "${3:-}" ] || kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# start_sink NAME: smtp-sink on a free port (SINK_PORT), its counters (-c)
# in OUT/NAME.sink.out. -u: required as root.
start_sink() {
	local user=()
	[ "$(id -u)" = 0 ] && user=(-u nobody)
	SINK_PORT=$(free_port)
	"${LPIN[@]}" smtp-sink "${user[@]}" -c "127.0.0.1:$SINK_PORT" 256 >"$OUT/$1.sink.out" 2>"$OUT/$1.sink.err" &
	local pid=$!
	PIDS+=("$pid")
	wait_listen "$SINK_PORT" 10 "$pid" || { log "smtp-sink did not start (see $OUT/$1.sink.err)"; return 1; }
}

# --- ternd ---------------------------------------------------------------------
# The queue fsyncs each message file and its directory before the 250
# (docs/queue.md). The abuse limits (messages and recipients per connection,
# connections per address) are off, as in bench/run.sh: Postfix's smtpd has
# none by default.
declare -A MTA_PORT MTA_ROOT MTA_QDIRS
TERND_PID=
start_ternd() {
	start_sink ternd || return 1
	TERND_PORT=$(free_port)
	mkdir -p "$QROOT/ternd"
	"${PIN[@]}" "$TERND" --listen "127.0.0.1:$TERND_PORT" --domain bench.local --relay-from 127.0.0.1 \
		--relayhost "[127.0.0.1]:$SINK_PORT" --dest-concurrency "$CONC" \
		--state-dir "$QROOT/ternd/state" --maildir "$QROOT/ternd/mail" --hostname ternd.bench.local \
		--log-level warning --greeting-delay 0 --no-reverse-dns --close-timeout 2 \
		--max-messages-per-conn 0 --max-rcpts-per-conn 0 --max-per-ip 0 >>"$OUT/ternd.log" 2>&1 &
	TERND_PID=$!
	PIDS+=("$TERND_PID")
	wait_listen "$TERND_PORT" 15 "$TERND_PID" || { log "ternd did not start (see $OUT/ternd.log)"; return 1; }
	MTA_PORT[ternd]=$TERND_PORT MTA_ROOT[ternd]=$TERND_PID
	MTA_QDIRS[ternd]=$QROOT/ternd/state/queue/tmp,$QROOT/ternd/state/queue/incoming,$QROOT/ternd/state/queue/msg
}

# --- Postfix from a temporary configuration ------------------------------------
# Its own config_directory (OUT), queue_directory and data_directory (QROOT);
# smtpd on 127.0.0.1:PORT (not 25); everything relayed to the sink; no local
# delivery; log to a file through postlogd (there may be no syslog). No
# daemon chrooted (the chroot would need copies of /etc files). The system's
# /etc/postfix is only read (postfix-files, dynamicmaps.cf); the system's
# instance is never started or changed.
PF_WHY=
start_postfix() {
	start_sink postfix || return 1
	local d=$OUT/postfix q=$QROOT/postfix # configuration and log; queue and data
	PF_PORT=$(free_port)
	mkdir -p "$d/etc" "$q/queue" "$q/data"
	chown postfix "$q/data" || { PF_WHY="cannot chown $q/data to postfix"; return 1; }
	: >"$d/etc/main.cf"
	cat >"$d/etc/master.cf" <<EOF
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	# smtpd_peername_lookup=no: as ternd's --no-reverse-dns.
	# maillog_file_prefixes: Postfix refuses a log file outside it.
	postconf -c "$d/etc" -e compatibility_level=3.6 \
		"queue_directory=$q/queue" "data_directory=$q/data" mail_owner=postfix \
		inet_interfaces=127.0.0.1 inet_protocols=ipv4 myhostname=postfix.bench.local mydomain=bench.local \
		mydestination= local_recipient_maps= alias_maps= alias_database= \
		"relayhost=[127.0.0.1]:$SINK_PORT" mynetworks=127.0.0.0/8 \
		smtp_tls_security_level=none smtpd_tls_security_level=none \
		"default_destination_concurrency_limit=$CONC" smtpd_peername_lookup=no \
		"maillog_file=$d/maillog" "maillog_file_prefixes=$d" >>"$OUT/postfix.log" 2>&1 ||
		{ PF_WHY="postconf -c $d/etc -e failed (see $OUT/postfix.log)"; return 1; }
	# postfix check creates the queue's directories (post-install
	# create-missing) with their owners. The postfix command writes its
	# errors to the log file, or syslog, not to a stderr that is no tty.
	if ! timeout 60 postfix -c "$d/etc" check >>"$OUT/postfix.log" 2>&1; then
		PF_WHY="postfix -c $d/etc check failed: $(tail -3 "$d/maillog" 2>/dev/null)"; return 1
	fi
	PF_DIR=$d
	if ! timeout 60 "${PIN[@]}" postfix -c "$d/etc" start >>"$OUT/postfix.log" 2>&1; then
		PF_WHY="postfix -c $d/etc start failed: $(tail -3 "$d/maillog" 2>/dev/null)"; return 1
	fi
	local i
	for ((i = 0; i < 100; i++)); do
		PF_MASTER=$(tr -dc 0-9 <"$q/queue/pid/master.pid" 2>/dev/null)
		[ -n "$PF_MASTER" ] && break
		sleep 0.1
	done
	[ -n "$PF_MASTER" ] || { PF_WHY="no $q/queue/pid/master.pid after start"; return 1; }
	wait_listen "$PF_PORT" 15 "$PF_MASTER" || { PF_WHY="Postfix's smtpd does not listen on $PF_PORT"; return 1; }
	MTA_PORT[postfix]=$PF_PORT MTA_ROOT[postfix]=$PF_MASTER
	MTA_QDIRS[postfix]=$q/queue/maildrop,$q/queue/incoming,$q/queue/active,$q/queue/deferred,$q/queue/hold
}

# --- the runs ---------------------------------------------------------------------
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'; }
declare -A RES NOTE
load_cmd() { # port messages
	LOAD=(timeout "$WAIT" "${LPIN[@]}" smtp-source -s "$S" -m "$2" -l "$SIZE" -d -M client.bench.local
	      -f sender@bench.local -t rcpt@remote.example "127.0.0.1:$1")
}
# run_mta NAME MESSAGES: one load against MTA NAME, its result line in R.
run_mta() {
	load_cmd "${MTA_PORT[$1]}" "$2"
	R=$("${MEASURE[@]}" run "${MTA_ROOT[$1]}" "$OUT/$1.sink.out" "$2" "$WAIT" "${MTA_QDIRS[$1]}" -- "${LOAD[@]}")
}
declare -A ACC # every complete run's result line, per MTA
START=$(date +%s)
MTAS=()
# Both MTAs run at once, each with its own sink, and the runs alternate
# (ternd, Postfix, ternd, ...): whatever else loads the machine meanwhile
# falls on both alike. The idle one costs a timer tick now and then.
if start_ternd; then MTAS+=(ternd); else NOTE[ternd]+=" did not start"; fi
if start_postfix; then
	MTAS+=(postfix)
else
	log "Postfix not measured: $PF_WHY"
	NOTE[postfix]+=" not run: $PF_WHY"
fi
for m in "${MTAS[@]}"; do
	run_mta "$m" "$WARM"
	log "== $m warm-up: $R"
done
for ((i = 1; i <= REPS; i++)); do
	for m in "${MTAS[@]}"; do
		run_mta "$m" "$N"
		log "== $m run $i: $R"
		echo "$m run $i: $R" >>"$OUT/runs.log"
		if [ "$(kv received "$R")" != "$N" ] || [ "$(kv load_rc "$R")" != 0 ]; then
			NOTE[$m]+=" run $i incomplete: received=$(kv received "$R") load_rc=$(kv load_rc "$R")"
			continue
		fi
		[ "$(kv queue_left "$R")" = 0 ] || NOTE[$m]+=" run $i: queue_left=$(kv queue_left "$R")"
		ACC[$m]+="$R"$'\n'
	done
done
# The end-to-end columns come from the run with the median msgs/s, the CPU
# columns from the run with the median CPU per message (with REPS=3 they may
# be two different runs; every run is in the log and in OUT/runs.log).
pick() { # name field -> the line of the median run by that field
	printf '%s' "${ACC[$1]:-}" | awk -v f="$2" '{for (i = 1; i <= NF; i++) if ($i ~ "^" f "=") {split($i, kv, "="); print kv[2], $0}}' |
		sort -g | awk '{l[NR] = $0} END {if (NR) print l[int((NR + 1) / 2)]}'
}
for m in "${MTAS[@]}"; do
	r=$(pick "$m" msgs_per_sec)
	for f in secs msgs_per_sec load_secs; do RES[$m,$f]=$(kv $f "$r"); done
	r=$(pick "$m" us_per_msg)
	for f in cpu_ms us_per_msg; do RES[$m,$f]=$(kv $f "$r"); done
done
grep -iE 'error|warning' "$OUT/ternd.log" | grep -v -e 'running as root' -e 'self-signed' | head -5 >&2
[ -n "$PF_DIR" ] && grep -E 'warning|fatal|panic|status=(deferred|bounced)' "$PF_DIR/maillog" | head -5 >&2
cleanup

# --- table ---------------------------------------------------------------------
label() {
	case $1 in
	ternd) echo "ternd $("$TERND" --version 2>/dev/null | awk '{print $2; exit}')" ;;
	postfix) echo "Postfix $(postconf -d -h mail_version 2>/dev/null)" ;;
	esac
}
echo
echo "relay benchmark, $(date -u +%Y-%m-%d), $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), $(uname -m), kernel $(uname -r); queues: QUEUE_FS=$QUEUE_FS ($QFS)"
echo "load: smtp-source -s $S -m $N -l $SIZE -d (kept sessions) -> MTA on CPU 0 -> smtp-sink on CPU 1, $CONC connections to the sink; median of $REPS runs after $WARM warm-up"
echo "end to end: first message sent to last message counted by the sink; CPU: the MTA's process tree, until its queue is empty"
echo
printf '| %-22s | %8s | %8s | %8s | %8s | %10s | %10s |\n' MTA messages "s e2e" "msgs/s" "s load" "CPU ms" "CPU us/msg"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..10})" \
	"$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..12})"
for m in ternd postfix; do
	printf '| %-22s | %8s | %8s | %8s | %8s | %10s | %10s |%s\n' "$(label "$m")" "$N" "${RES[$m,secs]:-n/a}" \
		"${RES[$m,msgs_per_sec]:-n/a}" "${RES[$m,load_secs]:-n/a}" "${RES[$m,cpu_ms]:-n/a}" "${RES[$m,us_per_msg]:-n/a}" "${NOTE[$m]:-}"
done
echo
if [ -n "${RES[ternd,msgs_per_sec]:-}" ] && [ -n "${RES[postfix,msgs_per_sec]:-}" ]; then
	awk -v tr="${RES[ternd,msgs_per_sec]}" -v pr="${RES[postfix,msgs_per_sec]}" -v tu="${RES[ternd,us_per_msg]}" -v pu="${RES[postfix,us_per_msg]}" 'BEGIN {
		printf "target: ternd msgs/s >= Postfix (%.2fx: %s), ternd CPU/msg <= half of Postfix (%.2fx: %s)\n",
			tr / pr, (tr >= pr ? "met" : "not met"), tu / pu, (tu <= pu / 2 ? "met" : "not met") }'
fi
echo "total time $(( $(date +%s) - START ))s; logs in $OUT"
