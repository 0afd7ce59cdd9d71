#!/bin/bash
# Outbound relay throughput and the queue runner's memory (issue 12
# targets). See bench/README.md.
#
# relay: MESSAGES messages of LENGTH bytes, each to bench@dNNN.bench.test
# for DOMAINS domains whose MX (mx.sink.bench.test) is Postfix's smtp-sink
# on 127.0.9.25:25, handed in over SMTP by bench/outbound/smtp-load.c
# (LOAD=smtp-source: by smtp-source, restarted per domain) in SESSIONS
# parallel sessions (relaying allowed for 127.0.0.0/8 on both MTAs, a 250 durable
# on both). Timed from the first connection to the sink's MESSAGESth 250,
# for a private Postfix from Debian and for Herald, in the same run. DNS
# comes from a local unbound on 127.0.9.53:53 (a zone bench.test, nothing
# else resolved); Herald is pointed at it with [dns] forward, Postfix
# (whose resolver reads /etc/resolv.conf) runs in a mount namespace where
# /etc/resolv.conf names it.
# memory: QUEUED messages to dead.bench.test, whose MX is an address where
# nothing listens, so every one is deferred; the queue runner's resident
# memory (VmRSS, and VmHWM, its peak) once they all are, and again once
# `herald queue flush` has had it try all of them a second time.
#
# usage: bench/outbound/run.sh [-m MESSAGES] [-d DOMAINS] [-l BYTES]
#                              [-s SESSIONS] [-q QUEUED] [-p PHASES]
#   -p   any of "ceiling postfix herald memory" (default all)
# ceiling: the same load straight into the sink, no MTA
# between: the most any relay could reach here, since the load tools
# share the machine's cores with it (a relay's ratio to Postfix cannot
# exceed the ceiling's).
# Herald's phase prints CPU and task switches per message of each
# process's threads; with PERF=stat also perf stat's counts per process,
# (PERF_EVENTS=a,b counts those events too, e.g. perf probes), PERF=1
# (PERF=dwarf) records perf-outbound.data, STRACE=1 prints
# strace -c's system calls per message of each process.
# Needs root (private Postfix, ports 25 and 53 on 127.0.9.x, a mount
# namespace) and scripts/install-bench-deps.sh.
set -u
cd "$(dirname "$0")/../.."
. bench/lib.sh

MESSAGES=10000 DOMAINS=100 LENGTH=5120 SESSIONS=20 QUEUED=100000
PHASES="ceiling postfix herald memory"
while getopts "m:d:l:s:q:p:h" o; do
	case $o in
	m) MESSAGES=$OPTARG ;;
	d) DOMAINS=$OPTARG ;;
	l) LENGTH=$OPTARG ;;
	s) SESSIONS=$OPTARG ;;
	q) QUEUED=$OPTARG ;;
	p) PHASES=$OPTARG ;;
	*) sed -n '2,33p' "$0"; exit 2 ;;
	esac
done
LOAD=${LOAD:-smtp-load}
[ "$LOAD" = smtp-load ] || [ "$LOAD" = smtp-source ] || bench_die "LOAD is smtp-load or smtp-source"
PHASE_TIMEOUT=${PHASE_TIMEOUT:-$((120 + MESSAGES / 20))}
DNS_ADDR=127.0.9.53 SINK_ADDR=127.0.9.25 DEAD_ADDR=127.0.9.26
[ $((MESSAGES % DOMAINS)) -eq 0 ] || bench_die "-m must be a multiple of -d"
[ "$SESSIONS" -le "$DOMAINS" ] || bench_die "-s must not exceed -d"
[ "$(id -u)" -eq 0 ] || bench_die "needs root (ports 25 and 53, mount namespace)"
for t in smtp-source smtp-sink unbound unshare; do
	command -v "$t" >/dev/null || bench_die "no $t: run scripts/install-bench-deps.sh"
done
want() { [[ " $PHASES " == *" $1 "* ]]; }
bench_init outbound
if [ "$LOAD" = smtp-load ]; then
	cc -O2 -Wall -Wextra -Werror -o "$BENCH_TMP/smtp-load" bench/outbound/smtp-load.c ||
		bench_die "cannot build bench/outbound/smtp-load.c"
fi
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%d MB", $2/1024 }' /proc/meminfo), $(uname -r)"

# ------------------------------------------------------------------ DNS
dom() { printf "d%03d.bench.test" "$1"; }
dns_start() {
	local d=$BENCH_TMP/unbound i
	mkdir -p "$d"
	{
		cat <<EOF
server:
  do-daemonize: no
  interface: $DNS_ADDR@53
  do-ip6: no
  username: ""
  chroot: ""
  directory: "$d"
  pidfile: "$d/unbound.pid"
  use-syslog: no
  logfile: "$d/unbound.log"
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  do-not-query-localhost: no
  local-zone: "." static
  local-zone: "bench.test." static
  local-data: "bench.test. 3600 IN SOA ns.bench.test. h.bench.test. 1 3600 600 86400 60"
  local-data: "mx.sink.bench.test. 3600 IN A $SINK_ADDR"
  local-data: "dead.bench.test. 3600 IN MX 10 mx.dead.bench.test."
  local-data: "mx.dead.bench.test. 3600 IN A $DEAD_ADDR"
EOF
		for ((i = 1; i <= DOMAINS; i++)); do
			echo "  local-data: \"$(dom $i). 3600 IN MX 10 mx.sink.bench.test.\""
		done
	} > "$d/unbound.conf"
	unbound-checkconf "$d/unbound.conf" >/dev/null || bench_die "unbound config"
	unbound -d -c "$d/unbound.conf" >"$d/stderr" 2>&1 &
	bench_on_exit "kill $!"
	echo "nameserver $DNS_ADDR" > "$BENCH_TMP/resolv.conf"
	echo "options attempts:2 timeout:1" >> "$BENCH_TMP/resolv.conf"
	$PY - "$DNS_ADDR" <<'PYEOF' || bench_die "unbound does not answer on $DNS_ADDR:53"
import socket, sys, time
q = bytes.fromhex("424201000001000000000000") + b"\x00\x00\x06\x00\x01"
end = time.monotonic() + 10
while time.monotonic() < end:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(q, (sys.argv[1], 53)); s.recv(512); sys.exit(0)
        except OSError:
            time.sleep(0.05)
sys.exit(1)
PYEOF
}

# ------------------------------------------------------------ the sink
# sink_start: a fresh smtp-sink on $SINK_ADDR:25 (its counters from 0)
sink_start() {
	smtp-sink -c -u nobody "$SINK_ADDR:25" 1024 >"$BENCH_TMP/sink.out" 2>&1 &
	SINK_PID=$!
	bench_on_exit "kill $SINK_PID"
	$PY - "$SINK_ADDR" <<'PYEOF' || bench_die "smtp-sink does not listen"
import socket, sys, time
end = time.monotonic() + 10
while time.monotonic() < end:
    try:
        socket.create_connection((sys.argv[1], 25), 0.5).close(); sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
PYEOF
}
sink_stop() { kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; }

# sink_wait COUNT: until the sink has answered 250 to COUNT messages;
# prints the time then (or fails with the count reached)
sink_wait() {
	$PY - "$BENCH_TMP/sink.out" "$1" "$PHASE_TIMEOUT" <<'PYEOF'
import re, sys, time
path, n, end = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
got = 0
while True:
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 200))
        m = re.findall(rb"mesg=(\d+)", f.read())
    got = int(m[-1]) if m else 0
    if got >= n:
        print(f"{time.time():.6f}"); sys.exit(0)
    if time.monotonic() > end:
        print(f"the sink got {got} of {n}", file=sys.stderr); sys.exit(1)
    time.sleep(0.01)
PYEOF
}

# self_children_cpu: user+system seconds of this script's reaped children
# (the load's subshells and every smtp-source they ran)
self_children_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($14 + $15) / hz }' "/proc/$$/stat"
}

# load ADDR:PORT LABEL: MESSAGES messages over SESSIONS parallel sessions,
# each session working through its share of the domains: smtp-load.c
# (one connection per session for all its domains) or, with
# LOAD=smtp-source, one smtp-source per domain (it keeps its connection
# for all messages of one domain); sets LOAD_START LOAD_END
load() {
	local addr=$1 label=$2 per=$((MESSAGES / DOMAINS)) s pids=() rc=0
	sync
	sleep 2
	CPU0=$(bench_cpu_ticks)
	SRC_CPU0=$(self_children_cpu)
	SINK_CPU0=$(bench_proc_cpu "$SINK_PID")
	LOAD_START=$(bench_now)
	if [ "$LOAD" = smtp-load ]; then
		"$BENCH_TMP/smtp-load" "${addr%:*}" "${addr##*:}" "$SESSIONS" \
			"$DOMAINS" "$per" "$LENGTH" >>"$BENCH_TMP/source-$label.log" 2>&1 || rc=1
	else
		for ((s = 0; s < SESSIONS; s++)); do
			(
				for ((i = s + 1; i <= DOMAINS; i += SESSIONS)); do
					smtp-source -s 1 -d -l "$LENGTH" -m "$per" \
						-f sender@source.test -M source.test \
						-t "bench@$(dom $i)" "$addr" || exit 1
				done
			) >>"$BENCH_TMP/source-$label.log" 2>&1 &
			pids+=($!)
		done
		for p in "${pids[@]}"; do
			wait "$p" || rc=1
		done
	fi
	LOAD_END=$(bench_now)
	SRC_CPU=$(awk -v a="$SRC_CPU0" -v b="$(self_children_cpu)" 'BEGIN { printf "%.2f", b - a }')
	if [ $rc -ne 0 ]; then
		echo "$label: $LOAD failed:" >&2
		tail -5 "$BENCH_TMP/source-$label.log" >&2
		return 1
	fi
}

# relay_phase LABEL ADDR:PORT: load, then wait for the sink; prints the line
# and sets RATE
relay_phase() {
	local label=$1 port=$2 done_at busy
	RATE=""
	load "$port" "$label" || return 1
	if done_at=$(sink_wait "$MESSAGES"); then
		CPU1=$(bench_cpu_ticks)
		busy=$(bench_cpu_busy "$CPU0" "$CPU1")
		RATE=$(bench_rate "$MESSAGES" "$LOAD_START" "$done_at")
		echo "$label: $MESSAGES messages accepted in $(bench_secs "$LOAD_START" "$LOAD_END") s ($(bench_rate "$MESSAGES" "$LOAD_START" "$LOAD_END") msg/s), all at the sink after $(bench_secs "$LOAD_START" "$done_at") s: $RATE msg/s (machine CPU busy ${busy}%)"
		sink_cpu=$(awk -v a="$SINK_CPU0" -v b="$(bench_proc_cpu "$SINK_PID")" 'BEGIN { printf "%.2f", b - a }')
		echo "$label: load tools' CPU: $LOAD $SRC_CPU s, $(awk -v c="$SRC_CPU" -v n="$MESSAGES" 'BEGIN { printf "%.0f", c / n * 1e6 }') us/msg; smtp-sink $sink_cpu s, $(awk -v c="$sink_cpu" -v n="$MESSAGES" 'BEGIN { printf "%.0f", c / n * 1e6 }') us/msg"
	else
		echo "$label: $MESSAGES messages accepted in $(bench_secs "$LOAD_START" "$LOAD_END") s ($(bench_rate "$MESSAGES" "$LOAD_START" "$LOAD_END") msg/s), but not every one reached the sink within ${PHASE_TIMEOUT}s" >&2
		return 1
	fi
}

dns_start
if want ceiling || want postfix || want herald; then
	echo "load: $MESSAGES messages of $LENGTH bytes to $DOMAINS domains (MX: smtp-sink on $SINK_ADDR:25), $SESSIONS $LOAD sessions"
fi
PF_RATE="" HERALD_RATE="" CEIL_RATE=""

# -------------------------------------------------------------- ceiling
if want ceiling; then
	sink_start
	relay_phase ceiling "$SINK_ADDR:25" && CEIL_RATE=$RATE
	sink_stop
fi

# -------------------------------------------------------------- Postfix
if want postfix; then
	pf=$BENCH_TMP/postfix
	port=$(bench_free_port)
	pf_setup "$pf" "$port"
	# relay for mynetworks (pf_setup: 127.0.0.0/8); defaults otherwise
	pf_conf "$pf" "smtpd_relay_restrictions=permit_mynetworks,reject"
	sink_start
	if postfix -c "$pf/etc" check >"$pf/check.log" 2>&1 &&
	   unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && exec postfix -c "$2" start' \
		sh "$BENCH_TMP/resolv.conf" "$pf/etc" >"$pf/start.log" 2>&1; then
		bench_on_exit "pf_stop '$pf'"
		if bench_wait_port "$port" 20; then
			mpid=$(tr -d ' ' < "$pf/spool/pid/master.pid")
			pcpu0=$(bench_proc_cpu $(bench_tree "$mpid"))
			if relay_phase postfix "127.0.0.1:$port"; then
				PF_RATE=$RATE
				# the master's tree, and the children it reaped
				pcpu=$(awk -v a="$pcpu0" -v b="$(bench_proc_cpu $(bench_tree "$mpid"))" 'BEGIN { printf "%.2f", b - a }')
				echo "postfix: CPU $pcpu s, $(awk -v c="$pcpu" -v n="$MESSAGES" 'BEGIN { printf "%.0f", c / n * 1e6 }') us/msg (master and its children)"
			fi
		fi
	else
		echo "postfix: the private instance did not start" >&2
		cat "$pf/check.log" "$pf/start.log" >&2
	fi
	pf_stop "$pf"
	sink_stop
fi

# --------------------------------------------------------------- Herald
# herald_instance NAME: configured (relay for 127.0.0.0/8, DNS from the
# local unbound), started; sets H_DIR H_PORT HERALD_PID
herald_instance() {
	H_DIR=$BENCH_TMP/$1
	H_PORT=$(bench_free_port)
	herald_setup "$H_DIR" "smtp = 127.0.0.1:$H_PORT" "${HERALD_EXTRA:-}" "
[smtp]
relay_networks = 127.0.0.0/8

[dns]
forward = $DNS_ADDR@53
resolv_conf =

[queue]
${QUEUE_EXTRA:-}"
	herald_cli "$H_DIR" domain add example.test >/dev/null || return 1
	herald_start "$H_DIR"
	bench_wait_port "$H_PORT" 20 || { tail -20 "$H_DIR/herald.log" >&2; return 1; }
}

# herald_threads PID...: "PID TID NAME RUN_NS VOLUNTARY INVOLUNTARY" for
# every thread of the processes (schedstat run time, task switch counts)
herald_threads() {
	local p t
	for p in "$@"; do
		for t in /proc/"$p"/task/*; do
			[ -r "$t/schedstat" ] || continue
			echo "$p ${t##*/} $(tr -d ' ' <"$t/comm") $(cut -d' ' -f1 "$t/schedstat") $(awk '
				/^voluntary_ctxt/ { v = $2 } /^nonvoluntary_ctxt/ { n = $2 }
				END { print v, n }' "$t/status")"
		done 2>/dev/null
	done
}

# herald_threads_report RUNNER_PID: each process's threads' CPU and task
# switches per message between threads0 and threads1 of $H_DIR
herald_threads_report() {
	awk -v n="$MESSAGES" -v r="$1" 'NR == FNR { t[$2] = $4; v[$2] = $5; x[$2] = $6; next }
		($2 in t) && $4 - t[$2] > 0 { p = $1 == r ? "runner" : "worker"
			k = p " " ($3 ~ /writer/ ? "writer" : $3 ~ /pool/ ? "pool" : "loop")
			c[k] += $4 - t[$2]; s[k] += $5 - v[$2]; i[k] += $6 - x[$2] }
		END { printf "herald: threads:"
			split("worker loop,worker writer,worker pool,runner loop,runner writer,runner pool", ks, ",")
			for (j = 1; j <= 6; j++) { k = ks[j]; if (k in c)
				printf " %s %.1f us (%.2f+%.2f sw);", k, c[k] / n / 1000, s[k] / n, i[k] / n }
			printf " a message (switches voluntary+involuntary)\n" }' "$H_DIR/threads0" "$H_DIR/threads1"
}

# herald_probe_start / herald_probe_stop: PERF=stat counts each process's
# CPU, task switches and system calls (perf stat --per-thread); PERF=1 (or
# dwarf) records a profile of every Herald process into
# perf-outbound.data (repo root); STRACE=1 counts system calls per
# process (strace -c; it slows the processes and changes how commits
# batch: counts, not the effect)
herald_probe_start() {
	PROBE_PIDS=()
	if [ "${PERF:-}" = stat ]; then
		perf stat --per-thread -x, -e task-clock,context-switches,page-faults,raw_syscalls:sys_enter$(
			for c in pread64 pwrite64 fcntl futex sendto recvfrom epoll_ctl \
				epoll_wait write read mprotect fdatasync newfstat newfstatat; do
				printf ",syscalls:sys_enter_%s" $c; done)${PERF_EVENTS:+,$PERF_EVENTS} \
			-o "$H_DIR/perf-stat.csv" -p "$htids" >/dev/null 2>&1 &
		PROBE_PIDS+=($!)
	elif [ -n "${PERF:-}" ]; then
		perf record $([ "$PERF" = dwarf ] && echo --call-graph dwarf || echo -g) \
			-o "$BENCH_ROOT/perf-outbound.data" -p "$htids" >/dev/null 2>&1 &
		PROBE_PIDS+=($!)
	fi
	if [ -n "${STRACE:-}" ]; then
		local p
		for p in ${htids//,/ }; do
			strace -c -f -o "$H_DIR/strace-$p.txt" -p "$p" 2>/dev/null &
			PROBE_PIDS+=($!)
		done
	fi
	[ ${#PROBE_PIDS[@]} -eq 0 ] || sleep 0.5
}
herald_probe_stop() {
	local p
	for p in "${PROBE_PIDS[@]}"; do
		kill -INT "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${PERF:-}" = stat ] && [ -s "$H_DIR/perf-stat.csv" ]; then
		# --per-thread names each thread "comm-tid"; sum per process
		awk -F, -v n="$MESSAGES" -v r="$rpid" -v tids="$(for p in ${htids//,/ }; do
				ls /proc/"$p"/task 2>/dev/null | sed "s/$/:$p/"; done | paste -sd' ')" '
			BEGIN { m = split(tids, a, " "); for (i = 1; i <= m; i++) { split(a[i], b, ":"); pid[b[1]] = b[2] } }
			$4 ~ /^(task-clock|context-switches|page-faults|raw_syscalls|syscalls|probe)/ { t = $1; sub(/.*-/, "", t)
				p = pid[t] == r ? "runner" : "worker"; v[p, $4] += $2 }
			END { for (k = 1; k <= 2; k++) { p = k == 1 ? "worker" : "runner"
				printf "herald: perf stat: %s task-clock %.1f us/msg, %.2f task switches/msg, %.2f page faults/msg, %.2f system calls/msg:", p,
					v[p, "task-clock"] * 1000 / n, v[p, "context-switches"] / n, v[p, "page-faults"] / n, v[p, "raw_syscalls:sys_enter"] / n
				for (pk in v) { split(pk, q, SUBSEP); if (q[1] == p && q[2] ~ /^(syscalls|probe)/ && v[pk] / n >= 0.01) {
					c = q[2]; sub(/^syscalls:sys_enter_/, "", c); printf " %s %.2f", c, v[pk] / n } }
				printf "\n" } }' \
			"$H_DIR/perf-stat.csv"
	fi
	if [ -n "${STRACE:-}" ]; then
		for p in ${htids//,/ }; do
			[ -s "$H_DIR/strace-$p.txt" ] || continue
			awk -v n="$MESSAGES" -v who="$([ "$p" = "$rpid" ] && echo runner || echo "pid $p")" '
				$NF == "total" { t = $4 }
				$1 ~ /^[0-9.]+$/ && $NF != "total" && $4 / n >= 0.05 { l = l sprintf(" %s %.2f", $NF, $4 / n) }
				END { if (t > 0) printf "herald: strace %s: %.2f system calls/msg:%s\n", who, t / n, l }' \
				"$H_DIR/strace-$p.txt"
		done
	fi
}

# runner_pid DIR: the queue runner's pid from the log of the Herald in DIR
runner_pid() {
	local i p
	for ((i = 0; i < 100; i++)); do
		p=$(sed -n 's/.* daemon runner-start pid=\([0-9]*\).*/\1/p' "$1/herald.log" | tail -1)
		[ -n "$p" ] && break
		sleep 0.1
	done
	echo "$p"
}

if want herald || want memory; then
	[ -x "$HERALD_BIN" ] || bench_die "no $HERALD_BIN: run make first"
fi
if want herald; then
	sink_start
	if herald_instance herald; then
		rpid=$(runner_pid "$H_DIR")
		hcpu0=$(bench_proc_cpu $(bench_tree "$HERALD_PID"))
		rcpu0=$(bench_proc_cpu $rpid)
		htids=$(bench_tree "$HERALD_PID" | paste -sd, -)
		herald_threads $(bench_tree "$HERALD_PID") >"$H_DIR/threads0"
		herald_probe_start
		if relay_phase herald "127.0.0.1:$H_PORT"; then
			HERALD_RATE=$RATE
			hcpu=$(awk -v a="$hcpu0" -v b="$(bench_proc_cpu $(bench_tree "$HERALD_PID"))" 'BEGIN { printf "%.2f", b - a }')
			rcpu=$(awk -v a="$rcpu0" -v b="$(bench_proc_cpu $rpid)" 'BEGIN { printf "%.2f", b - a }')
			us() { awk -v c="$1" -v n="$MESSAGES" 'BEGIN { printf "%.0f", c / n * 1e6 }'; }
			echo "herald: CPU $hcpu s, $(us "$hcpu") us/msg (of which the queue runner $rcpu s, $(us "$rcpu") us/msg)"
			herald_threads $(bench_tree "$HERALD_PID") >"$H_DIR/threads1"
			herald_probe_stop
			herald_threads_report "$rpid"
		else
			herald_probe_stop
		fi
		herald_stop "$HERALD_PID"
	else
		echo "herald: did not start" >&2
	fi
	sink_stop
fi
if [ -n "$HERALD_RATE" ] && [ -n "$PF_RATE" ]; then
	echo "ratio herald/postfix: $(awk -v a="$HERALD_RATE" -v b="$PF_RATE" 'BEGIN { printf "%.1f", a / b }') (target: 10)"
fi
if [ -n "$CEIL_RATE" ] && [ -n "$PF_RATE" ]; then
	echo "ratio ceiling/postfix: $(awk -v a="$CEIL_RATE" -v b="$PF_RATE" 'BEGIN { printf "%.1f", a / b }') (no relay can beat this here)"
fi

# ----------------------------------------------------- runner memory
if want memory; then
	if herald_instance herald-memory; then
		rpid=$(runner_pid "$H_DIR")
		[ -n "$rpid" ] || bench_die "no runner-start line in the log"
		rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$rpid/status")
		t0=$(bench_now)
		timeout $((300 + QUEUED / 50)) smtp-source -s "$SESSIONS" -d -l 1024 \
			-m "$QUEUED" -f sender@source.test -M source.test \
			-t bench@dead.bench.test "127.0.0.1:$H_PORT" \
			>"$BENCH_TMP/source-memory.log" 2>&1 ||
			echo "memory: smtp-source failed: $(tail -1 "$BENCH_TMP/source-memory.log")" >&2
		t1=$(bench_now)
		echo "memory: $QUEUED messages of 1024 bytes queued in $(bench_secs "$t0" "$t1") s"
		# until every recipient has been tried and deferred; then once
		# more after `herald queue flush`, which makes all of them due at
		# once (the runner reads them in batches of [queue] batch)
		runner_mem() {
			$PY - "$H_DIR/data/herald.db" "$QUEUED" "$rpid" "$((120 + QUEUED / 200))" "$1" "$2" <<'PYEOF'
import sqlite3, sys, time
db, n, pid, end = sys.argv[1], int(sys.argv[2]), sys.argv[3], time.monotonic() + float(sys.argv[4])
attempts, label = int(sys.argv[5]), sys.argv[6]
c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
t0 = time.monotonic()
while True:
    d = c.execute("SELECT count(*) FROM queue_rcpts WHERE status = 'deferred'"
                  " AND attempts >= ?", (attempts,)).fetchone()[0]
    with open(f"/proc/{pid}/status") as f:
        st = {l.split(":")[0]: l.split()[1] for l in f if l.startswith(("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"))}
    if d >= n or time.monotonic() > end:
        break
    time.sleep(0.5)
print(f"memory: {label}: {d} of {n} recipients deferred ({attempts} attempt(s) each) after {time.monotonic() - t0:.1f} s; runner pid {pid}: VmRSS {int(st['VmRSS']) / 1024:.1f} MB (heap and stacks, RssAnon, {int(st['RssAnon']) / 1024:.1f} MB; mapped files {(int(st['RssFile']) + int(st['RssShmem'])) / 1024:.1f} MB), peak (VmHWM) {int(st['VmHWM']) / 1024:.1f} MB (target: under 100 MB)")
PYEOF
		}
		runner_mem 1 "queued"
		herald_cli "$H_DIR" queue flush >/dev/null
		runner_mem 2 "after queue flush"
		echo "memory: runner RSS before the load: $(awk -v k="$rss0" 'BEGIN { printf "%.1f", k / 1024 }') MB"
		herald_stop "$HERALD_PID"
	else
		echo "herald: did not start" >&2
	fi
fi
