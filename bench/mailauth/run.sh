#!/bin/bash
# Inbound SMTP throughput with the mail authentication checks on, as a
# ratio to the same run with them off (issue 14 target: at least 0.8).
# The same load both times: smtp-source (SESSIONS parallel sessions, each
# keeping its connection) sends MESSAGES copies of one 5 KB message,
# DKIM-signed (by `herald dkim sign`) with an RSA 2048 key of source.test
# (-k rsa, the default: what most mail carries), an Ed25519 key (-k
# ed25519) or both (-k both), from a client address that source.test's SPF
# record allows, to one local user of a fresh Herald. DNS: a private
# unbound on 127.0.9.54:53 serving source.test's SPF, DKIM key and DMARC
# records (nothing else resolves); Herald forwards to it and answers
# repeats from its own cache, so after the first message a check costs no
# query. "off": [mailauth] spf, dkim_verify (and dmarc, arc when this
# build has them) off; "on": all on. Rounds alternate off/on (every
# other round on first, so that a drift of the machine's speed falls on
# both); the ratio is of the medians, and each round's own ratio is
# printed too, so that the noise shows. See bench/README.md.
#
# usage: bench/mailauth/run.sh [-m MESSAGES] [-s SESSIONS] [-l BYTES] [-r ROUNDS]
#                              [-k rsa|ed25519|both]
#   -r: rounds of off and on (default 5, or $ROUNDS: about a minute in
#   all on a quiet machine)
#   Each run also prints the CPU and task switches per message of Herald's
#   threads by kind (loop, store writer, pool, search indexer, dns:
#   libunbound's thread; from /proc, read the moment the load ends).
#   PERF=1: perf record every run's Herald into perf-LABEL.data (repo root)
#   (PERF=dwarf: with DWARF call graphs); PERF=stat: perf stat instead:
#   Herald's task-clock, context switches and system calls per message
#   (no hardware counters in our VMs: count instructions with callgrind)
# Needs root (port 53 of 127.0.9.54) and scripts/install-bench-deps.sh.
set -u
cd "$(dirname "$0")/../.."
. bench/lib.sh

MESSAGES=10000 SESSIONS=20 LENGTH=5120 ROUNDS=${ROUNDS:-5} KEYS=rsa
while getopts "m:s:l:r:k:h" o; do
	case $o in
	m) MESSAGES=$OPTARG ;;
	s) SESSIONS=$OPTARG ;;
	l) LENGTH=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	k) KEYS=$OPTARG ;;
	*) sed -n '2,31p' "$0"; exit 2 ;;
	esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || bench_die "-r: a number of rounds, at least 1"
PHASE_TIMEOUT=${PHASE_TIMEOUT:-$((120 + MESSAGES / 25))}
DNS_ADDR=127.0.9.54
RCPT=bench@example.test
[ "$(id -u)" -eq 0 ] || bench_die "needs root (port 53 of $DNS_ADDR)"
for t in smtp-source unbound unbound-checkconf; do
	command -v "$t" >/dev/null || bench_die "no $t: run scripts/install-bench-deps.sh"
done
[ -x "$HERALD_BIN" ] || bench_die "no $HERALD_BIN: run make first"
herald_has_protocol smtp || bench_die "this build does not serve smtp"
bench_init mailauth
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%d MB", $2/1024 }' /proc/meminfo), $(uname -r)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# ------------------------------------------------ the signed message
# A signer's own data_dir: `herald dkim keygen` makes source.test's keys
# (and prints their records), `herald dkim sign` signs the message once.
SIGNER=$BENCH_TMP/signer
herald_setup "$SIGNER" ""
case $KEYS in
rsa|ed25519) keygen_opts=(--algorithm "$KEYS" --selector "bench-$KEYS"); NSIG=1 ;;
both) keygen_opts=(--selector bench); NSIG=2 ;;
*) bench_die "-k: rsa, ed25519 or both" ;;
esac
herald_cli "$SIGNER" dkim keygen "${keygen_opts[@]}" source.test \
	>"$BENCH_TMP/keygen.out" 2>&1 || { cat "$BENCH_TMP/keygen.out" >&2; bench_die "dkim keygen"; }
$PY - "$LENGTH" "$RCPT" >"$BENCH_TMP/plain.eml" <<'PYEOF'
import sys
size, rcpt = int(sys.argv[1]), sys.argv[2]
head = ("From: Newsletter <news@source.test>\r\n"
        f"To: <{rcpt}>\r\n"
        "Subject: The weekly bench report\r\n"
        "Date: Mon, 07 Dec 2026 04:00:00 +0000\r\n"
        "Message-ID: <bench.1@source.test>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n")
line = "The quick brown fox jumps over the lazy dog, again  and again.\r\n"
body = ""
while len(head) + len(body) + len(line) <= size:
    body += line
sys.stdout.write(head + body)
PYEOF
herald_cli "$SIGNER" dkim sign <"$BENCH_TMP/plain.eml" >"$BENCH_TMP/signed.eml" \
	2>"$BENCH_TMP/sign.err" || { cat "$BENCH_TMP/sign.err" >&2; bench_die "dkim sign"; }
[ "$(grep -c '^DKIM-Signature:' "$BENCH_TMP/signed.eml")" = "$NSIG" ] || bench_die "the message did not get $NSIG signature(s)"
# smtp-source -F ends every line of the file with CRLF itself
tr -d '\r' <"$BENCH_TMP/signed.eml" >"$BENCH_TMP/signed-lf.eml"
echo "message: $(wc -c <"$BENCH_TMP/signed.eml") octets signed by source.test: $(grep -o '^DKIM-Signature: v=1; a=[a-z0-9-]*' "$BENCH_TMP/signed.eml" | sed 's/.*a=//' | paste -sd+ -)"

# ------------------------------------------------------------------ DNS
dns_start() {
	local d=$BENCH_TMP/unbound
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
  local-zone: "source.test." static
  local-data: "source.test. 3600 IN SOA ns.source.test. h.source.test. 1 3600 600 86400 60"
  local-data: "source.test. 3600 IN MX 10 mx.source.test."
  local-data: "mx.source.test. 3600 IN A 192.0.2.25"
  local-data: 'source.test. 3600 IN TXT "v=spf1 mx ip4:127.0.0.0/8 -all"'
  local-data: '_dmarc.source.test. 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@source.test"'
EOF
		# keygen prints NAME. IN TXT ( "..." "..." ): one local-data each
		sed -n 's/^\([^;][^ ]*\) IN TXT ( \(.*\) )$/  local-data: '"'"'\1 3600 IN TXT \2'"'"'/p' \
			"$BENCH_TMP/keygen.out"
	} > "$d/unbound.conf"
	[ "$(grep -c '_domainkey' "$d/unbound.conf")" = "$NSIG" ] || bench_die "no DKIM records from keygen"
	unbound-checkconf "$d/unbound.conf" >/dev/null || bench_die "unbound config"
	unbound -d -c "$d/unbound.conf" >"$d/stderr" 2>&1 &
	bench_on_exit "kill $!"
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
dns_start

# ------------------------------------------------ which checks exist
# The checks of this build: spf and dkim_verify always; DMARC and ARC
# keys when `herald config check` takes them (MAILAUTH_ON overrides).
key_ok() {
	local d=$BENCH_TMP/probe
	herald_setup "$d" "smtp = 127.0.0.1:2525" "" "[mailauth]
$1"
	herald_cli "$d" config check >/dev/null 2>&1
}
if [ -z "${MAILAUTH_ON:-}" ]; then
	MAILAUTH_ON="spf = on
dkim_verify = on"
	MAILAUTH_OFF="spf = off
dkim_verify = off"
	for kv in "dmarc = enforce" "dmarc = on"; do
		if key_ok "$kv"; then
			MAILAUTH_ON="$MAILAUTH_ON
$kv"
			MAILAUTH_OFF="$MAILAUTH_OFF
dmarc = off"
			break
		fi
	done
	for kv in "arc = on" "arc_verify = on"; do
		if key_ok "$kv"; then
			MAILAUTH_ON="$MAILAUTH_ON
$kv"
			MAILAUTH_OFF="$MAILAUTH_OFF
${kv%% =*} = off"
			break
		fi
	done
fi
MAILAUTH_OFF=${MAILAUTH_OFF:-}
echo "checks on: $(echo "$MAILAUTH_ON" | paste -sd, -)"
echo "load: smtp-source -s $SESSIONS -m $MESSAGES -d -F (the signed message), $ROUNDS round(s) of off and on"

# ------------------------------------------------------------- a run
# thread_times PID...: "TID KIND RUN_NS VOLUNTARY INVOLUNTARY" for every
# thread of the processes (schedstat run time, context switch counts).
# Shell builtins only, so that it is read the moment the load ends: the
# search indexer starts its rounds once deliveries pause, and a slower
# reading counted them. KIND: loop (a process's main thread: the
# worker's event loop, or the idle supervisor), dns (an unnamed thread of
# a worker: libunbound's), writer, pool, index (the search indexer),
# other.
thread_times() {
	local p t comm run rest k v vol inv kind
	for p in "$@"; do
		for t in /proc/"$p"/task/*; do
			{ read -r comm <"$t/comm" && read -r run rest <"$t/schedstat"; } 2>/dev/null || continue
			vol=0 inv=0
			while read -r k v; do
				case $k in
				voluntary_ctxt_switches:) vol=$v ;;
				nonvoluntary_ctxt_switches:) inv=$v ;;
				esac
			done <"$t/status" 2>/dev/null
			case $comm in
			herald) [ "${t##*/}" = "$p" ] && kind=loop || kind=dns ;;
			herald-writer) kind=writer ;;
			herald-pool) kind=pool ;;
			herald-index) kind=index ;;
			*) kind=other ;;
			esac
			echo "${t##*/} $kind $run $vol $inv"
		done
	done
}

inbox_count() {
	$PY - "$1/data/herald.db" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=30)
print(db.execute(
    "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
    " JOIN accounts a ON a.id = b.account_id JOIN domains d ON d.id = a.domain_id"
    " WHERE b.name = 'INBOX' AND a.localpart = 'bench' AND d.name = 'example.test'"
).fetchone()[0])
PYEOF
}

# run LABEL MAILAUTH-LINES: a fresh Herald, the load, one result line;
# sets RATE (empty on failure)
run() {
	local label=$1 checks=$2 d port rc t0 t1 cpu0 cpu1 n tree
	RATE="" CPU=""
	d=$BENCH_TMP/herald-$label
	port=$(bench_free_port)
	herald_setup "$d" "smtp = 127.0.0.1:$port" "" "
[dns]
forward = $DNS_ADDR
resolv_conf =

[mailauth]
$checks"
	herald_cli "$d" domain add example.test >/dev/null || return 1
	echo "bench-password" | herald_cli "$d" user add "$RCPT" >/dev/null || return 1
	herald_start "$d"
	bench_wait_port "$port" 20 || { tail -20 "$d/herald.log" >&2; return 1; }
	sync
	sleep 2
	cpu0=$(bench_proc_cpu $(bench_tree "$HERALD_PID"))
	thread_times $(bench_tree "$HERALD_PID") >"$d/threads0"
	if [ "${PERF:-}" = stat ]; then
		# CPU time to the microsecond, and the task switches
		perf stat -x, -e task-clock,context-switches,raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait \
			-o "$d/perf-stat.csv" \
			-p "$(bench_tree "$HERALD_PID" | paste -sd, -)" \
			>/dev/null 2>&1 &
		perf_pid=$!
		sleep 0.5
	elif [ -n "${PERF:-}" ]; then
		# PERF=1: a profile of every Herald process of the run
		perf record $([ "$PERF" = dwarf ] && echo --call-graph dwarf || echo -g) \
			-o "$BENCH_ROOT/perf-$label.data" \
			-p "$(bench_tree "$HERALD_PID" | paste -sd, -)" \
			>/dev/null 2>&1 &
		perf_pid=$!
		sleep 0.5
	fi
	t0=$(bench_now)
	timeout "$PHASE_TIMEOUT" smtp-source -s "$SESSIONS" -m "$MESSAGES" -d \
		-F "$BENCH_TMP/signed-lf.eml" -f bounce@source.test -t "$RCPT" \
		-M client.source.test "127.0.0.1:$port" >"$d/source.log" 2>&1
	rc=$?
	t1=$(bench_now)
	tree=$(bench_tree "$HERALD_PID")
	thread_times $tree >"$d/threads1"
	cpu1=$(bench_proc_cpu $tree)
	if [ -n "${PERF:-}" ]; then
		kill -INT "$perf_pid"
		wait "$perf_pid"
	fi
	herald_stop "$HERALD_PID"
	if [ $rc -ne 0 ]; then
		echo "$label: smtp-source failed (rc=$rc):" >&2
		tail -5 "$d/source.log" >&2
		return 1
	fi
	n=$(inbox_count "$d")
	RATE=$(bench_rate "$MESSAGES" "$t0" "$t1")
	CPU=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$MESSAGES" 'BEGIN { printf "%.0f", (b - a) / n * 1e6 }')
	echo "$label: $MESSAGES messages in $(bench_secs "$t0" "$t1") s: $RATE msg/s (herald CPU $CPU us/msg; load $(cut -d' ' -f1 /proc/loadavg))"
	# the threads' shares (a thread started during the run counts from 0)
	awk -v n="$MESSAGES" -v l="$label" 'NR == FNR { t[$1] = $3; v[$1] = $4; x[$1] = $5; next }
		{ k = $2; c[k] += $3 - t[$1]; s[k] += $4 - v[$1]; i[k] += $5 - x[$1] }
		END { printf "%s: threads:", l
			split("loop writer pool index dns other", ks, " ")
			for (j = 1; j <= 6; j++) { k = ks[j]; if (c[k] / n >= 500)
				printf " %s %.0f us (%.2f+%.2f switches)", k, c[k] / n / 1000, s[k] / n, i[k] / n }
			printf " a message (switches voluntary+involuntary)\n" }' "$d/threads0" "$d/threads1"
	if [ "${PERF:-}" = stat ]; then
		awk -F, -v n="$MESSAGES" -v l="$label" '$3 ~ /^(task-clock|context-switches|raw_syscalls|syscalls)/ {
			v[$3] = $1 } END { printf "%s: perf stat: task-clock %.1f us/msg, %.2f context switches/msg, %.2f system calls/msg (%.2f epoll_wait)\n", l,
			v["task-clock"] * 1000 / n, v["context-switches"] / n,
			v["raw_syscalls:sys_enter"] / n, v["syscalls:sys_enter_epoll_wait"] / n }' "$d/perf-stat.csv"
	fi
	[ "$n" = "$MESSAGES" ] || echo "$label: WARNING: INBOX holds $n messages, expected $MESSAGES" >&2
	if [ "$label" != "${label#on}" ]; then
		# what the checks said about the last message
		grep -m1 -o 'mailauth verdicts .*' "$d/herald.log" | sed "s/^/$label: /"
		want="dkim=pass:source.test"
		[ "$NSIG" = 2 ] && want="$want,pass:source.test"
		grep -q "mailauth verdicts spf=pass .*$want " \
			"$d/herald.log" || echo "$label: WARNING: the checks did not pass" >&2
	fi
	rm -rf "$d/data"
}

OFF_RATES=() ON_RATES=() OFF_CPU=() ON_CPU=() ROUND_RATIOS=()
for ((r = 1; r <= ROUNDS; r++)); do
	off_rate="" on_rate=""
	# odd rounds off first, even rounds on first
	for which in $([ $((r % 2)) = 1 ] && echo "off on" || echo "on off"); do
		if [ "$which" = off ]; then
			run "off$r" "$MAILAUTH_OFF" || continue
			OFF_RATES+=("$RATE") OFF_CPU+=("$CPU") off_rate=$RATE
		else
			run "on$r" "$MAILAUTH_ON" || continue
			ON_RATES+=("$RATE") ON_CPU+=("$CPU") on_rate=$RATE
		fi
	done
	if [ -n "$off_rate" ] && [ -n "$on_rate" ]; then
		ROUND_RATIOS+=("$(awk -v a="$on_rate" -v b="$off_rate" 'BEGIN { printf "%.2f", a / b }')")
		echo "round $r: ratio on/off ${ROUND_RATIOS[-1]}"
	fi
done
# median VALUE...: printed with $MFMT (default one decimal)
median() { [ $# -gt 0 ] || return 0; printf '%s\n' "$@" | sort -g | awk -v f="${MFMT:-%.1f}" '{ a[NR] = $1 } END {
	if (NR == 0) exit; printf f, NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
off=$(median "${OFF_RATES[@]}") on=$(median "${ON_RATES[@]}")
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -z "$off" ] || [ -z "$on" ]; then
	echo "no ratio: a run failed" >&2
	exit 1
fi
off_cpu=$(MFMT=%.0f median "${OFF_CPU[@]}") on_cpu=$(MFMT=%.0f median "${ON_CPU[@]}")
echo "median: checks off $off msg/s, checks on $on msg/s"
echo "median CPU: checks off $off_cpu us/msg, checks on $on_cpu us/msg (off/on $(awk -v a="$off_cpu" -v b="$on_cpu" 'BEGIN { printf "%.2f", a / b }'))"
if [ ${#ROUND_RATIOS[@]} -gt 0 ]; then
	sorted=($(printf '%s\n' "${ROUND_RATIOS[@]}" | sort -g))
	echo "round ratios on/off: ${ROUND_RATIOS[*]} (median $(MFMT=%.2f median "${ROUND_RATIOS[@]}"); lowest ${sorted[0]}, highest ${sorted[-1]})"
fi
echo "ratio on/off: $(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a / b }') (target: at least 0.8)"
