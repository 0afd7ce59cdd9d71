#!/bin/bash
# Foundation targets (issue 2): how fast `herald serve` starts listening,
# the idle server's resident memory, and 10,000 sequential `herald user
# add` with the cost of one password hash on its own. See bench/README.md.
#
# usage: bench/foundation/run.sh [-n USERS] [-r STARTS] [-p PHASES]
#   -n   users added per run (default 10000); two runs: the default
#        argon2id parameters, then the cheapest ones (8 KiB, 1 pass)
#   -d   users added in the default-argon2id run only (default: -n); the
#        default hash costs ~0.3 s, so -n 10000 -d 1000 measures the whole
#        10,000 with the cheap hash and the default hash on 1,000
#   -r   measured starts (default 20; one first start is reported apart)
#   -p   any of "start memory users hash" (default all)
set -u
cd "$(dirname "$0")/../.."
. bench/lib.sh

USERS=10000 STARTS=20 PHASES="start memory users hash" DEFAULT_USERS=
while getopts "n:d:r:p:h" o; do
	case $o in
	n) USERS=$OPTARG ;;
	d) DEFAULT_USERS=$OPTARG ;;
	r) STARTS=$OPTARG ;;
	p) PHASES=$OPTARG ;;
	*) sed -n '2,14p' "$0"; exit 2 ;;
	esac
done
want() { [[ " $PHASES " == *" $1 "* ]]; }
[ -x "$HERALD_BIN" ] || bench_die "no $HERALD_BIN: run make first"
if [ "$(id -u)" -eq 0 ] && ! id herald >/dev/null 2>&1; then
	. scripts/lib.sh
	ensure_herald_user
fi
bench_init foundation
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%d MB", $2/1024 }' /proc/meminfo), $(uname -r)"
echo "herald: $("$HERALD_BIN" version 2>/dev/null | head -1)"

# The listener: the first protocol this build serves that listens on TCP
# in plain text; none yet: readiness is the supervisor's "ready" line.
PROTO=""
for p in $("$HERALD_BIN" serve --protocols 2>/dev/null); do
	case $p in smtp|submission|imap|pop3|lmtp) PROTO=$p; break ;; esac
done
PORT=$(bench_free_port)
if [ -n "$PROTO" ]; then
	herald_setup "$BENCH_TMP/h" "$PROTO = 127.0.0.1:$PORT"
	echo "readiness: a connection to the $PROTO listener is accepted"
else
	herald_setup "$BENCH_TMP/h" ""
	echo "readiness: this build serves no protocol; the 'daemon ready' log line (no listener)"
fi
herald_cli "$BENCH_TMP/h" domain add example.test >/dev/null || bench_die "domain add failed"

# ------------------------------------------------------- start + memory
if want start || want memory; then
	BENCH_ROOT=$BENCH_ROOT timeout $((60 + STARTS * 15)) $PY - "$HERALD_BIN" "$BENCH_TMP/h/herald.conf" \
		"$BENCH_TMP/h/serve.log" "$PORT" "$STARTS" "$PROTO" \
		"$(want memory && echo 1 || echo 0)" <<'PYEOF'
import os, signal, socket, statistics, subprocess, sys, time
sys.path.insert(0, os.environ["BENCH_ROOT"] + "/bench")
from procstat import pss_kb, rss_kb, tree
binary, conf, logpath, port, starts, proto, memory = sys.argv[1:8]
port, starts, memory = int(port), int(starts), memory == "1"

def ready(proc, logf, pos):
    if proto:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            return False
    logf.seek(pos)
    return " daemon ready " in logf.read()

def one_start(measure_memory):
    with open(logpath, "ab") as lf:
        pos = lf.tell()
        t0 = time.perf_counter()
        proc = subprocess.Popen([binary, "serve", "-c", conf], stdout=lf,
                                stderr=lf, start_new_session=True)
    try:
        with open(logpath, "r", errors="replace") as logf:
            end = t0 + 10
            while not ready(proc, logf, pos):
                if proc.poll() is not None or time.perf_counter() > end:
                    sys.exit(f"herald serve did not become ready:\n{open(logpath).read()[-2000:]}")
                time.sleep(0.0005)
        ms = (time.perf_counter() - t0) * 1000
        if measure_memory:
            time.sleep(1.5)
            pids = tree(proc.pid)
            workers = pids[1:]
            sup = rss_kb(proc.pid)
            rss = sum(rss_kb(p) for p in pids)
            pss = sum(pss_kb(p) for p in pids)
            wrss = [rss_kb(p) for p in workers]
            print(f"idle memory: {len(workers)} workers; RSS supervisor {sup} kB, "
                  f"workers {' + '.join(map(str, wrss))} kB")
            print(f"idle memory: total RSS {rss} kB ({rss / 1024:.1f} MB), "
                  f"total PSS {pss} kB ({pss / 1024:.1f} MB) (target: under 20 MB)")
        return ms
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

first = one_start(False)
times = [one_start(memory and i == 0) for i in range(starts)]
print(f"first start (creates state in data_dir): {first:.1f} ms")
print(f"start to ready over {starts} starts: median {statistics.median(times):.1f} ms, "
      f"max {max(times):.1f} ms, min {min(times):.1f} ms (target: 200 ms)")
PYEOF
	[ $? -eq 0 ] || echo "start/memory: failed" >&2
	grep -o 'start_ms=[0-9]*' "$BENCH_TMP/h/serve.log" | tail -n +2 | sort -t= -k2 -n | \
		awk -F= '{ v[NR] = $2 } END { if (NR) printf "supervisor-reported start_ms: median %d, max %d\n", v[int((NR + 1) / 2)], v[NR] }'
fi

# ------------------------------------------------------- user add
# add_users DIR LABEL [N]: N (default USERS) sequential adds; prints totals
add_users() {
	local d=$1 label=$2 USERS=${3:-$USERS}
	herald_cli "$d" domain add example.test >/dev/null || bench_die "domain add failed"
	timeout $((120 + USERS * 2)) $PY - "$HERALD_BIN" "$d/herald.conf" "$USERS" "$label" <<'PYEOF'
import statistics, subprocess, sys, time
binary, conf, n, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
per = []
t0 = time.perf_counter()
for i in range(n):
    a = time.perf_counter()
    p = subprocess.run([binary, "user", "add", f"user{i}@example.test", "-c", conf],
                       input=b"bench-password-%d\n" % i, capture_output=True)
    per.append(time.perf_counter() - a)
    if p.returncode != 0:
        sys.exit(f"user add {i} failed: {p.stderr.decode(errors='replace')}")
total = time.perf_counter() - t0
per.sort()
print(f"user add ({label}): {n} in {total:.1f} s; per add: mean {total / n * 1000:.1f} ms, "
      f"median {statistics.median(per) * 1000:.1f} ms, p99 {per[int(n * 0.99) - 1 if n >= 100 else -1] * 1000:.1f} ms")
print(f"USERADD_MEAN_MS {total / n * 1000:.3f}")
PYEOF
}

if want users; then
	herald_setup "$BENCH_TMP/u-default" ""
	add_users "$BENCH_TMP/u-default" "default argon2id: opslimit 2, memlimit 64M" "${DEFAULT_USERS:-$USERS}" | tee "$BENCH_TMP/u-default.out" | grep -v '^USERADD'
	herald_setup "$BENCH_TMP/u-cheap" "" "" "[auth]
argon2_opslimit = 1
argon2_memlimit = 8k"
	add_users "$BENCH_TMP/u-cheap" "cheapest argon2id: opslimit 1, memlimit 8k" | tee "$BENCH_TMP/u-cheap.out" | grep -v '^USERADD'
	a=$(awk '/^USERADD_MEAN_MS/ { print $2 }' "$BENCH_TMP/u-default.out")
	b=$(awk '/^USERADD_MEAN_MS/ { print $2 }' "$BENCH_TMP/u-cheap.out")
	[ -n "$a" ] && [ -n "$b" ] && \
		echo "password hash cost by difference (default - cheapest, per add): $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", a - b }') ms"
	[ -n "$a" ] && \
		echo "10,000 adds with the default hash: $(awk -v a="$a" 'BEGIN { printf "%.0f", a * 10 }') s (extrapolated from ${DEFAULT_USERS:-$USERS})"
fi

# ------------------------------------------------------- hash alone
# libsodium's crypto_pwhash_str_alg with Herald's default parameters, as
# src/sasl/password.c calls it, without the process and the store.
if want hash; then
	timeout 300 $PY - <<'PYEOF'
import ctypes, ctypes.util, statistics, time
name = ctypes.util.find_library("sodium") or "libsodium.so.23"
so = ctypes.CDLL(name)
so.sodium_init()
so.crypto_pwhash_str_alg.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
    ctypes.c_ulonglong, ctypes.c_ulonglong, ctypes.c_size_t, ctypes.c_int]
ALG_ARGON2ID13 = so.crypto_pwhash_alg_argon2id13()
out = ctypes.create_string_buffer(so.crypto_pwhash_strbytes())
for label, ops, mem in (("default: opslimit 2, memlimit 64M", 2, 64 << 20),
                        ("cheapest: opslimit 1, memlimit 8k", 1, 8192)):
    ts = []
    for i in range(20):
        t = time.perf_counter()
        if so.crypto_pwhash_str_alg(out, b"bench-password", 14, ops, mem, ALG_ARGON2ID13) != 0:
            raise SystemExit("crypto_pwhash_str_alg failed")
        ts.append((time.perf_counter() - t) * 1000)
    print(f"argon2id hash alone ({label}): median {statistics.median(ts):.1f} ms, "
          f"max {max(ts):.1f} ms over 20")
PYEOF
fi
