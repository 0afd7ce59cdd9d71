#!/usr/bin/env bash
# POP3 download benchmark: Herald vs Dovecot (Debian's dovecot-pop3d) on the
# same 10,000 messages of 10 KB, each served on loopback high ports from a
# private temporary setup. A client logs in and pipelines RETR 1..N; prints
# messages/second for both, the ratio, and memory per session.
# Usage: bench/pop3/run.sh [COUNT] [SIZE]      (not part of make check)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
COUNT=${1:-10000}
SIZE=${2:-10240}
ROUNDS=${ROUNDS:-3}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/herald-bench-pop3-XXXXXX)
chmod 755 "$T"
HPID= DPID=

cleanup() {
	[ -n "$HPID" ] && kill -TERM "$HPID" 2>/dev/null && wait "$HPID" 2>/dev/null || true
	[ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
# the whole run is bounded: a hung server cannot keep it going; the
# watchdog ends by itself within a second of this script
(
	for _ in $(seq "${BENCH_TIMEOUT:-900}"); do
		sleep 1
		kill -0 $$ 2>/dev/null || exit 0
	done
	echo "bench: timed out" >&2
	kill -TERM $$
) >/dev/null 2>&1 &

. scripts/lib.sh
apt_install dovecot-pop3d
ensure_herald_user

make -s -j2 all >/dev/null
LIBS=$(pkg-config --libs openssl libevent libevent_openssl libevent_pthreads \
	sqlite3 libsodium libxcrypt jansson inih zlib libunbound libmariadb)
cc -std=c17 -D_GNU_SOURCE -Isrc -O2 bench/pop3/pop3-fill.c build/libherald.a \
	$LIBS -lm -pthread -o "$T/pop3-fill"

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HPORT=$(free_port)
DPORT=$(free_port)
USER_ADDR=bench@example.test
PASS=bench-password

cat > "$T/herald.conf" <<CONF
hostname = bench.example.test
data_dir = $T/data
workers = 1
[listen]
pop3 = 127.0.0.1:$HPORT
[auth]
argon2_memlimit = 8M
argon2_opslimit = 1
CONF
build/herald domain add example.test -c "$T/herald.conf" >/dev/null
echo "$PASS" | build/herald user add "$USER_ADDR" -c "$T/herald.conf" >/dev/null
mkdir -p "$T/maildir/new" "$T/maildir/cur" "$T/maildir/tmp" "$T/dhome"
chown -R herald:herald "$T/maildir" "$T/dhome"
echo "filling $COUNT messages of $SIZE bytes (Herald store and a Maildir)..."
"$T/pop3-fill" "$T/herald.conf" "$USER_ADDR" "$COUNT" "$SIZE" "$T/maildir"

# --- Dovecot: private instance, pop3 only, no TLS, static user ---------
HUID=$(id -u herald)
HGID=$(id -g herald)
mkdir -p "$T/dovecot-run" "$T/dovecot-state"
cat > "$T/dovecot.conf" <<CONF
base_dir = $T/dovecot-run
state_dir = $T/dovecot-state
log_path = $T/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:$T/maildir
first_valid_uid = $HUID
first_valid_gid = $HGID
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = static
  args = password=$PASS
}
userdb {
  driver = static
  args = uid=$HUID gid=$HGID home=$T/dhome
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DPORT
  }
  inet_listener pop3s {
    port = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
CONF
/usr/sbin/dovecot -c "$T/dovecot.conf" -F &
DPID=$!
build/herald serve -c "$T/herald.conf" > "$T/herald.log" 2>&1 &
HPID=$!

wait_port() {
	for _ in $(seq 200); do
		$PY -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench: nothing listens on port $1" >&2; return 1
}
wait_port "$HPORT"
wait_port "$DPORT"

# warm up both (Dovecot builds its index, both fill the page cache)
warm() {
	$PY - "$1" "$2" "$3" <<'PYW'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=300)
p.user(sys.argv[2]); p.pass_(sys.argv[3]); p.list(); p.quit()
PYW
}
warm "$HPORT" "$USER_ADDR" "$PASS"
warm "$DPORT" "$USER_ADDR" "$PASS"

# run_one PORT WHO -> JSON line; WHO picks the processes whose memory
# is sampled: the Herald worker, or Dovecot's per-session pop3 process.
run_one() {
	local port=$1 who=$2 pf="$T/pids.$2.$RANDOM"
	$PY bench/pop3/client.py "$port" "$USER_ADDR" "$PASS" "$COUNT" "$pf" > "$T/out.json" &
	local cpid=$!
	for _ in $(seq 500); do [ -e "$pf.ready" ] && break; sleep 0.01; done
	if [ "$who" = herald ]; then
		pgrep -P "$HPID" > "$pf" || true
	else
		pgrep -P "$DPID" -x pop3 > "$pf" || true
	fi
	wait "$cpid"
	cat "$T/out.json"
}

# Herald's worker before any session: the baseline of its per-session cost
HWORKER=$(pgrep -P "$HPID" | head -1)
HBASE=$(awk '/^Rss:/ {print $2}' /proc/"$HWORKER"/smaps_rollup)

best() { $PY -c 'import json,sys; r=[json.loads(l) for l in sys.stdin if l.strip()]; b=max(r,key=lambda x:x["msgs_per_s"]); b["rss_peak_kb"]=max(x["rss_peak_kb"] for x in r); b["pss_peak_kb"]=max(x["pss_peak_kb"] for x in r); print(json.dumps(b))'; }
: > "$T/h.jsonl"; : > "$T/d.jsonl"
for r in $(seq "$ROUNDS"); do
	run_one "$HPORT" herald >> "$T/h.jsonl"
	run_one "$DPORT" dovecot >> "$T/d.jsonl"
done
H=$(best < "$T/h.jsonl")
D=$(best < "$T/d.jsonl")
$PY - "$H" "$D" "$HBASE" "$COUNT" "$SIZE" "$ROUNDS" <<'PYR'
import json, sys
h, d = json.loads(sys.argv[1]), json.loads(sys.argv[2])
hbase, count, size, rounds = int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
print(f"POP3 pipelined RETR of {count} messages of {size} bytes, best of {rounds}:")
print(f"  herald : {h['msgs_per_s']:>10.1f} msg/s  ({h['seconds']:.3f} s, {h['bytes']/h['seconds']/1e6:.1f} MB/s)")
print(f"  dovecot: {d['msgs_per_s']:>10.1f} msg/s  ({d['seconds']:.3f} s, {d['bytes']/d['seconds']/1e6:.1f} MB/s)")
print(f"  ratio herald/dovecot: {h['msgs_per_s']/d['msgs_per_s']:.2f}")
print("memory per session:")
print(f"  herald : +{h['rss_peak_kb']-hbase} KiB RSS over the idle worker "
      f"({hbase} KiB idle, {h['rss_peak_kb']} KiB peak, one event-loop process for all sessions)")
print(f"  dovecot: {d['rss_peak_kb']} KiB RSS / {d['pss_peak_kb']} KiB PSS "
      f"(its pop3 process, one per session, plus shared login/auth processes)")
PYR
