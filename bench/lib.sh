# Shared by the benchmarks in bench/: sourced, not run.
#
# Private Postfix instances (never the system one, never port 25), Herald
# started from a temporary config, resident-memory sums from /proc, and a
# cleanup list that an EXIT trap runs. Everything lives under $BENCH_TMP,
# which bench_init creates and the trap removes.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERALD_BIN=${HERALD_BIN:-$BENCH_ROOT/build/herald}
PY=${PY:-/usr/bin/python3}
BENCH_CLEANUP=()

bench_die() { echo "bench: $*" >&2; exit 1; }

# bench_init NAME: temp dir, EXIT trap that runs the cleanup list.
bench_init() {
	BENCH_TMP=$(mktemp -d "/tmp/herald-bench-$1.XXXXXX")
	chmod 755 "$BENCH_TMP"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# bench_on_exit CMD...: run CMD (as one string, eval'd) at exit, last first.
bench_on_exit() { BENCH_CLEANUP+=("$*"); }

bench_cleanup() {
	local i
	for ((i = ${#BENCH_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${BENCH_CLEANUP[$i]}" >/dev/null 2>&1 || true
	done
	BENCH_CLEANUP=()
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$BENCH_TMP"
}

bench_free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_wait_port PORT SECONDS: until 127.0.0.1:PORT accepts.
bench_wait_port() {
	$PY - "$1" "$2" <<'PYEOF'
import socket, sys, time
port, end = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close(); sys.exit(0)
    except OSError:
        time.sleep(0.01)
sys.exit(1)
PYEOF
}

bench_now() { date +%s.%N; }
# bench_rate COUNT START END -> messages per second, one decimal
bench_rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / (b - a) }'; }
bench_secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# bench_cpu_ticks: "busy total" jiffies of the whole machine (/proc/stat)
bench_cpu_ticks() {
	awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i;
		print t - $5 - $6, t }' /proc/stat
}
# bench_cpu_busy "BUSY0 TOTAL0" "BUSY1 TOTAL1": percent of all cores busy
bench_cpu_busy() {
	echo "$1 $2" | awk '{ printf "%.0f", 100 * ($3 - $1) / ($4 - $2) }'
}
# bench_proc_cpu PID...: user+system seconds of the processes and their
# reaped children
bench_proc_cpu() {
	local p sum=0 v
	for p in "$@"; do
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null)
		sum=$((sum + ${v:-0}))
	done
	awk -v t="$sum" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

# bench_tree PID: PID and all its descendants, one a line.
bench_tree() {
	local p=$1 c
	echo "$p"
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
		bench_tree "$c"
	done
}

# ---------------------------------------------------------------- Postfix

# pf_setup DIR PORT: a private Postfix instance under DIR (config in
# DIR/etc, queue in DIR/spool, data in DIR/data, log in DIR/maillog),
# smtpd on 127.0.0.1:PORT only, no local delivery, nothing chrooted.
# Add settings afterwards with pf_conf DIR key=value...
pf_setup() {
	local d=$1 port=$2
	[ "$(id -u)" -eq 0 ] || bench_die "a private Postfix instance needs root"
	getent passwd postfix >/dev/null || bench_die "no postfix user: run scripts/install-bench-deps.sh"
	mkdir -p "$d/etc" "$d/spool" "$d/data"
	chown postfix:postfix "$d/data"
	chmod 755 "$d" "$d/etc"
	: > "$d/etc/main.cf"
	: > "$d/maillog"
	{
		echo "127.0.0.1:$port inet n - n - - smtpd"
		cat "$(dirname "${BASH_SOURCE[0]}")/../tests/data/postfix-master.cf"
	} > "$d/etc/master.cf"
	pf_conf "$d" \
		"compatibility_level=3.6" \
		"config_directory=$d/etc" \
		"queue_directory=$d/spool" \
		"data_directory=$d/data" \
		"maillog_file=$d/maillog" \
		"maillog_file_prefixes=$d" \
		"mail_owner=postfix" \
		"setgid_group=postdrop" \
		"myhostname=postfix.bench.test" \
		"mydomain=bench.test" \
		"myorigin=postfix.bench.test" \
		"mydestination=" \
		"local_transport=error:no local delivery" \
		"alias_maps=" "alias_database=" \
		"inet_interfaces=127.0.0.1" \
		"inet_protocols=ipv4" \
		"mynetworks=127.0.0.0/8" \
		"relayhost=" \
		"smtputf8_enable=no" \
		"biff=no" \
		"smtpd_banner=\$myhostname ESMTP" \
		"master_service_disable=" \
		"import_environment=MAIL_CONFIG MAIL_DEBUG TZ LANG=C"
}

# pf_conf DIR key=value...: set main.cf parameters of the instance.
pf_conf() {
	local d=$1; shift
	postconf -c "$d/etc" -e "$@"
}

# pf_start DIR: check (creates queue dirs, fixes permissions) and start.
pf_start() {
	local d=$1
	postfix -c "$d/etc" check >"$d/check.log" 2>&1 || {
		cat "$d/check.log" >&2; return 1; }
	postfix -c "$d/etc" start >"$d/start.log" 2>&1 || {
		cat "$d/start.log" "$d/maillog" >&2; return 1; }
	bench_on_exit "pf_stop '$d'"
}

# pf_stop DIR: stop the instance if it runs; kill its master if stop hangs.
pf_stop() {
	local d=$1 pid
	[ -f "$d/spool/pid/master.pid" ] || return 0
	pid=$(tr -d ' ' < "$d/spool/pid/master.pid")
	timeout 20 postfix -c "$d/etc" stop >/dev/null 2>&1
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
}

# ---------------------------------------------------------------- Herald

# herald_setup DIR LISTEN-LINES [EXTRA-TOP-LEVEL [SECTIONS]]: write DIR/herald.conf
herald_setup() {
	local d=$1 listen=$2 extra=${3:-} sections=${4:-}
	mkdir -p "$d"
	chmod 755 "$d"
	cat > "$d/herald.conf" <<CONF
hostname = mail.example.test
data_dir = $d/data
shutdown_timeout = 4s
$extra

[listen]
$listen
$sections
CONF
}

herald_cli() {
	local d=$1; shift
	"$HERALD_BIN" "$@" -c "$d/herald.conf"
}

# herald_start DIR: start `herald serve` in the background, its own
# process group; sets HERALD_PID. The EXIT trap stops it.
herald_start() {
	local d=$1
	setsid "$HERALD_BIN" serve -c "$d/herald.conf" >>"$d/herald.log" 2>&1 &
	HERALD_PID=$!
	bench_on_exit "herald_stop $HERALD_PID"
}

# herald_stop PID: SIGTERM, then SIGKILL to the group after 8 s.
herald_stop() {
	local pid=$1
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 80); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# herald_has_protocol NAME: true if this build serves NAME.
herald_has_protocol() {
	"$HERALD_BIN" serve --protocols 2>/dev/null | grep -qx "$1"
}
