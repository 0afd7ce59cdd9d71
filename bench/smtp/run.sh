#!/bin/bash
# Inbound SMTP throughput with durable delivery, measured with Postfix's
# smtp-source (20 sessions, 5 KB messages), against (c) smtp-sink, the
# load generator's ceiling, (b) a private Postfix instance delivering to
# Maildir with its virtual(8) agent, counted until every message is in
# new/, and (a) Herald delivering to one user's INBOX; then the resident
# memory 1,000 idle SMTP sessions add to Herald. See bench/README.md.
#
# usage: bench/smtp/run.sh [-m MESSAGES] [-s SESSIONS] [-l BYTES] [-C]
#                          [-i IDLE_SESSIONS] [-p PHASES]
#   -C      one connection per message; default: each of the sessions
#           keeps its connection for many messages (smtp-source -d)
#   -p      which phases, any of "sink postfix herald idle" (default all)
# Needs root (private Postfix instance) and scripts/install-bench-deps.sh.
set -u
cd "$(dirname "$0")/../.."
. bench/lib.sh

MESSAGES=20000 SESSIONS=20 LENGTH=5120 REUSE=-d IDLE=1000
PHASES="sink postfix herald idle"
while getopts "m:s:l:Ci:p:h" o; do
	case $o in
	m) MESSAGES=$OPTARG ;;
	s) SESSIONS=$OPTARG ;;
	l) LENGTH=$OPTARG ;;
	C) REUSE="" ;;
	i) IDLE=$OPTARG ;;
	p) PHASES=$OPTARG ;;
	*) sed -n '2,15p' "$0"; exit 2 ;;
	esac
done
# each phase is bounded: a generous floor plus 40 ms per message
PHASE_TIMEOUT=${PHASE_TIMEOUT:-$((120 + MESSAGES / 25))}
RCPT=bench@example.test
SOURCE_OPTS=(-s "$SESSIONS" -l "$LENGTH" -m "$MESSAGES" $REUSE
	-f sender@source.test -t "$RCPT" -M source.test)

command -v smtp-source >/dev/null || bench_die "no smtp-source: run scripts/install-bench-deps.sh"
want() { [[ " $PHASES " == *" $1 "* ]]; }
bench_init smtp
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%d MB", $2/1024 }' /proc/meminfo), $(uname -r)"
echo "load: smtp-source ${SOURCE_OPTS[*]}"

# run_source PORT LABEL: smtp-source against PORT, bounded; sets SRC_START SRC_END
# Every phase starts with the previous phase's dirty data written back
# (sync, then a pause), so no phase pays for another's writeback: after
# Postfix's phase 20,000 Maildir files were still being flushed and the
# next phase's fsyncs waited behind them.
run_source() {
	local port=$1 label=$2 rc
	sync
	sleep 2
	CPU0=$(bench_cpu_ticks)
	SRC_START=$(bench_now)
	timeout "$PHASE_TIMEOUT" smtp-source "${SOURCE_OPTS[@]}" "127.0.0.1:$port" \
		>"$BENCH_TMP/source-$label.log" 2>&1
	rc=$?
	SRC_END=$(bench_now)
	CPU1=$(bench_cpu_ticks)
	if [ $rc -ne 0 ]; then
		echo "$label: smtp-source failed (rc=$rc):" >&2
		tail -5 "$BENCH_TMP/source-$label.log" >&2
		return 1
	fi
}

# wait_files DIR COUNT: until DIR holds COUNT files; prints the time then
wait_files() {
	$PY - "$1" "$2" "$PHASE_TIMEOUT" <<'PYEOF'
import os, sys, time
d, n, end = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
while True:
    try:
        c = sum(1 for e in os.scandir(d) if e.name[0] != ".")
    except OSError:
        c = 0
    if c >= n:
        print(f"{time.time():.6f}"); sys.exit(0)
    if time.monotonic() > end:
        print(f"only {c} of {n} delivered", file=sys.stderr); sys.exit(1)
    time.sleep(0.02)
PYEOF
}

SINK_RATE="" PF_RATE="" HERALD_RATE=""

# ------------------------------------------------------- (c) smtp-sink
if want sink; then
	port=$(bench_free_port)
	smtp-sink $( [ "$(id -u)" -eq 0 ] && echo -u nobody ) "127.0.0.1:$port" 256 >"$BENCH_TMP/sink.log" 2>&1 &
	sink_pid=$!
	bench_on_exit "kill $sink_pid"
	bench_wait_port "$port" 10 || bench_die "smtp-sink did not listen"
	if run_source "$port" sink; then
		SINK_RATE=$(bench_rate "$MESSAGES" "$SRC_START" "$SRC_END")
		echo "smtp-sink: $MESSAGES messages in $(bench_secs "$SRC_START" "$SRC_END") s: $SINK_RATE msg/s (machine CPU busy $(bench_cpu_busy "$CPU0" "$CPU1")%)"
	fi
	kill "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null
fi

# ------------------------------------------------------- (b) Postfix
if want postfix; then
	pf=$BENCH_TMP/postfix
	port=$(bench_free_port)
	pf_setup "$pf" "$port"
	mkdir -p "$pf/vmail"
	chown nobody:nogroup "$pf/vmail"
	echo "$RCPT example.test/bench/" > "$pf/etc/vmailbox"
	pf_conf "$pf" "virtual_mailbox_domains=example.test" \
		"virtual_mailbox_maps=texthash:$pf/etc/vmailbox" \
		"virtual_mailbox_base=$pf/vmail" \
		"virtual_uid_maps=static:$(id -u nobody)" \
		"virtual_gid_maps=static:$(getent group nogroup | cut -d: -f3)"
	if pf_start "$pf" && bench_wait_port "$port" 20; then
		if run_source "$port" postfix; then
			accepted=$SRC_END
			busy=$(bench_cpu_busy "$CPU0" "$CPU1")
			if done_at=$(wait_files "$pf/vmail/example.test/bench/new" "$MESSAGES"); then
				PF_RATE=$(bench_rate "$MESSAGES" "$SRC_START" "$done_at")
				echo "postfix: $MESSAGES messages accepted in $(bench_secs "$SRC_START" "$accepted") s ($(bench_rate "$MESSAGES" "$SRC_START" "$accepted") msg/s), all in Maildir after $(bench_secs "$SRC_START" "$done_at") s: $PF_RATE msg/s (machine CPU busy ${busy}% while accepting)"
			else
				echo "postfix: not every message reached the Maildir within ${PHASE_TIMEOUT}s" >&2
			fi
		fi
	else
		echo "postfix: the private instance did not start" >&2
		tail -5 "$pf/maillog" >&2
	fi
	pf_stop "$pf"
fi

# ------------------------------------------------------- (a) Herald
# herald_instance NAME: configured, domain and user added, started; sets
# H_DIR H_PORT HERALD_PID. Returns 1 when it does not come up.
herald_instance() {
	H_DIR=$BENCH_TMP/$1
	H_PORT=$(bench_free_port)
	herald_setup "$H_DIR" "smtp = 127.0.0.1:$H_PORT" "${HERALD_EXTRA:-}"
	herald_cli "$H_DIR" domain add example.test >/dev/null || return 1
	echo "bench-password" | herald_cli "$H_DIR" user add "$RCPT" >/dev/null || return 1
	herald_start "$H_DIR"
	bench_wait_port "$H_PORT" 20 || { tail -20 "$H_DIR/herald.log" >&2; return 1; }
}

# inbox_count DIR: messages in the INBOX of $RCPT in DIR's store
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

if want herald || want idle; then
	[ -x "$HERALD_BIN" ] || bench_die "no $HERALD_BIN: run make first"
	if ! herald_has_protocol smtp; then
		echo "herald: this build does not serve smtp (herald serve --protocols); skipped"
		PHASES=${PHASES//herald/} PHASES=${PHASES//idle/}
	fi
fi
if want herald; then
	if herald_instance herald; then
		hcpu0=$(bench_proc_cpu $(bench_tree "$HERALD_PID"))
		if run_source "$H_PORT" herald; then
			hcpu=$(awk -v a="$hcpu0" -v b="$(bench_proc_cpu $(bench_tree "$HERALD_PID"))" 'BEGIN { printf "%.2f", b - a }')
			# a 250 means durable: the run ends when smtp-source returns
			HERALD_RATE=$(bench_rate "$MESSAGES" "$SRC_START" "$SRC_END")
			n=$(inbox_count "$H_DIR")
			echo "herald: $MESSAGES messages in $(bench_secs "$SRC_START" "$SRC_END") s: $HERALD_RATE msg/s ($n in the INBOX; herald CPU $hcpu s, $(awk -v c="$hcpu" -v n="$MESSAGES" 'BEGIN { printf "%.0f", c / n * 1e6 }') us/msg; machine CPU busy $(bench_cpu_busy "$CPU0" "$CPU1")%)"
			[ "$n" = "$MESSAGES" ] || echo "herald: WARNING: INBOX holds $n messages, expected $MESSAGES" >&2
		fi
		herald_stop "$HERALD_PID"
	else
		echo "herald: did not start" >&2
	fi
fi
if [ -n "$HERALD_RATE" ] && [ -n "$PF_RATE" ]; then
	echo "ratio herald/postfix: $(awk -v a="$HERALD_RATE" -v b="$PF_RATE" 'BEGIN { printf "%.1f", a / b }') (target: 10)"
fi
if [ -n "$HERALD_RATE" ] && [ -n "$SINK_RATE" ]; then
	echo "ratio herald/smtp-sink: $(awk -v a="$HERALD_RATE" -v b="$SINK_RATE" 'BEGIN { printf "%.2f", a / b }')"
fi

# ------------------------------------------------------- idle sessions
if want idle; then
	if herald_instance herald-idle; then
		timeout 120 $PY bench/smtp/idle.py "$HERALD_PID" "$H_PORT" "$IDLE" >"$BENCH_TMP/idle.out"
		rc=$?
		sed 's/^/herald /' "$BENCH_TMP/idle.out"
		added=$(awk '/^idle_rss_added_kb/ { print $2 }' "$BENCH_TMP/idle.out")
		[ -n "$added" ] && echo "herald: $IDLE idle SMTP sessions add $(awk -v k="$added" 'BEGIN { printf "%.1f", k / 1024 }') MB resident (target: under 64 MB)"
		[ $rc -eq 0 ] || echo "herald: idle sessions: rc=$rc" >&2
		herald_stop "$HERALD_PID"
	else
		echo "herald: did not start" >&2
	fi
fi
