#!/usr/bin/env bash
# IMAP benchmark (issue 11 targets): Herald against a private Dovecot
# (Debian's dovecot-imapd) on the same machine in the same run, both on
# 127.0.0.1 high ports, both holding the same 10,000-message INBOX (Herald
# gets it over SMTP, Dovecot gets Herald's stored bytes as a Maildir), both
# checking the same {SHA512-CRYPT} hashes. Prints each figure and the ratio
# Herald/Dovecot. Not part of `make check`.
#
# Usage: bench/imap/run.sh [-n 10000] [-r 3] [-a 500] [-l 10] [-i 10000]
#                          [-d 1000] [-p "ops resync append login idle"]
#                          [-s "herald dovecot"]
#   -n  messages in the INBOX           -r  best of how many rounds (ops)
#   -a  APPENDs per client (10 clients; the append phase runs the C load,
#       append-load.c, untimed, then the Python load, then the C load)
#                                       -l  seconds of the login phase
#   -i  IDLE sessions on Herald         -d  IDLE sessions on Dovecot (a
#       process each: 10,000 would take several GB)
#   -p  phases (resync, issue 13: QRESYNC against a full refetch after
#       1% of the INBOX changed; it expunges 1 in 500 messages a round)
#                                       -s  servers to run
# HERALD_AUTH_EXTRA: more [auth] lines for Herald (an A/B of one build,
# e.g. "login_cache_ttl = 0").
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
. scripts/lib.sh
. bench/imap/dovecot.sh

COUNT=10000 ROUNDS=3 APPENDS=500 LOGIN_SECS=10 IDLE=10000 DIDLE=1000
PHASES="ops resync append login idle" SIDES="herald dovecot"
while getopts "n:r:a:l:i:d:p:s:" o; do
	case $o in
	n) COUNT=$OPTARG ;; r) ROUNDS=$OPTARG ;; a) APPENDS=$OPTARG ;;
	l) LOGIN_SECS=$OPTARG ;; i) IDLE=$OPTARG ;; d) DIDLE=$OPTARG ;;
	p) PHASES=$OPTARG ;; s) SIDES=$OPTARG ;;
	*) sed -n '2,23p' "$0" >&2; exit 2 ;;
	esac
done
has() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

[ "$(id -u)" -eq 0 ] || bench_die "run as root (private Dovecot, herald user)"
bench_init imap
T=$BENCH_TMP
# the whole run is bounded: a hung server cannot keep it going
(
	for _ in $(seq "${BENCH_TIMEOUT:-2400}"); do
		sleep 1
		kill -0 $$ 2>/dev/null || exit 0
	done
	echo "bench: timed out" >&2
	kill -TERM $$
) >/dev/null 2>&1 &

apt_install dovecot-imapd openssl
ensure_herald_user
make -s -j2 all >/dev/null
# 10,000 sessions: file descriptors for the servers and the client
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((IDLE + 1000)) ] || echo "bench: only $(ulimit -n) file descriptors for $IDLE sessions" >&2

PASS=bench-password
USER=bench@example.test
IDLE_USER=idle@example.test
APP_USERS=$(for k in 0 1 2 3 4 5 6 7 8 9; do printf 'app%s@example.test ' $k; done)
HSMTP=$(bench_free_port) HIMAP=$(bench_free_port) HIMAPS=$(bench_free_port)
DIMAP=$(bench_free_port) DIMAPS=$(bench_free_port)
HUID=$(id -u herald) HGID=$(id -g herald)
CLIENT="$PY bench/imap/client.py"
if has append "$PHASES"; then
	# the APPEND load in C (append-load.c): the Python client took as
	# much CPU per APPEND as the server it measured
	cc -O2 -Wall -Wextra -Werror -o "$T/append-load" bench/imap/append-load.c ||
		bench_die "cannot build bench/imap/append-load.c"
	$CLIENT corpus-file "$APPENDS" 3 "$T/append-corpus"
fi

# ---- Herald: the mailboxes arrive over SMTP -----------------------------
# (with -s dovecot Herald only fills the mailboxes Dovecot gets)
listen="smtp = 127.0.0.1:$HSMTP"
if has herald "$SIDES"; then
	herald_has_protocol imap || bench_die "this build serves no IMAP"
	listen="$listen
imap = 127.0.0.1:$HIMAP
imaps = 127.0.0.1:$HIMAPS"
fi
herald_setup "$T/herald" "$listen" "workers = 1
max_connections = 18000
max_connections_per_ip = 0" "[auth]
password_scheme = SHA512-CRYPT
${HERALD_AUTH_EXTRA:-}
[imap]
max_sessions_per_user = 0"
herald_cli "$T/herald" domain add example.test >/dev/null
for u in $USER $IDLE_USER $APP_USERS; do
	echo "$PASS" | herald_cli "$T/herald" user add "$u" >/dev/null
done
herald_start "$T/herald"
bench_wait_port "$HSMTP" 30 || bench_die "herald did not start: $(tail -5 "$T/herald/herald.log")"
if has herald "$SIDES"; then
	bench_wait_port "$HIMAP" 10 || bench_die "herald serves no imap"
fi
t0=$(bench_now)
$PY bench/imap/corpus.py fill "$HSMTP" "$USER" "$COUNT"
$PY bench/imap/corpus.py fill "$HSMTP" "$IDLE_USER" 10 2
echo "filled: $COUNT messages over SMTP in $(bench_secs "$t0" "$(bench_now)") s"

# ---- Dovecot: the same bytes, the same hashes ---------------------------
sqlite3_hashes() {
	$PY - "$T/herald/data/herald.db" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for user, dom, h in db.execute(
        "SELECT a.localpart, d.name, a.password_hash FROM accounts a"
        " JOIN domains d ON d.id = a.domain_id"):
    assert h.startswith("$6$") or h.upper().startswith("{SHA512-CRYPT}"), h
    if not h.startswith("{"):
        h = "{SHA512-CRYPT}" + h
    print(f"{user}@{dom}:{h}")
PYEOF
}
if has dovecot "$SIDES"; then
	mkdir -p "$T/dovecot"
	sqlite3_hashes > "$T/dovecot/passwd"
	chmod 644 "$T/dovecot/passwd"
	dovecot_setup "$T/dovecot" "$DIMAP" "$DIMAPS" "$T/dovecot/passwd" "$HUID" "$HGID"
	for u in $USER $IDLE_USER; do
		n=$($PY bench/imap/corpus.py export "$T/herald/data" "$u" \
			"$T/dovecot/mail/$u" "$HUID" "$HGID")
		echo "exported to Dovecot's Maildir: $n messages of $u"
	done
	dovecot_start "$T/dovecot"
	bench_on_exit "dovecot_stop $DOVECOT_PID"
	bench_wait_port "$DIMAP" 30 || bench_die "dovecot did not start: $(tail -5 "$T/dovecot/dovecot.log")"
fi

# CPU ticks used so far by the process trees under the given pids
server_ticks() {
	local p
	for p in $(ps -e -o pid=,ppid= | awk -v roots="$*" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) t[r[i]] = 1 }
		{ par[$1] = $2 }
		END {
			do {
				more = 0
				for (p in par)
					if (!(p in t) && (par[p] in t)) { t[p] = 1; more = 1 }
			} while (more)
			for (p in t) print p
		}'); do
		awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null
	done | awk '{ s += $1 } END { print s + 0 }'
}
# Between phases: wait (at most 2 minutes) until both servers are idle, at
# most 2 ticks of CPU in half a second, so that work a phase left behind
# (Herald's search indexer after an APPEND burst, Dovecot's indexer-worker)
# does not run during the other server's next phase.
settle() {
	local a b i
	sync
	for i in $(seq 240); do
		a=$(server_ticks ${HERALD_PID:-} ${DOVECOT_PID:-})
		sleep 0.5
		b=$(server_ticks ${HERALD_PID:-} ${DOVECOT_PID:-})
		[ $((b - a)) -le 2 ] && break
	done
	sleep 1
}
# The IDLE phase starts each run (plain, TLS) on a fresh Herald, so what
# earlier phases left in its heap is not counted, with as many workers as
# the open-file limit needs: a worker takes at most (limit - reserve) / 2
# connections (src/daemon/worker.c), under 10,000 where the hard limit is
# 20,000. The memory is the whole server's either way.
herald_idle_restart() {
	local nofile workers
	nofile=$(ulimit -n)
	workers=$(( (2 * IDLE + 200 + nofile - 1) / nofile ))
	[ "$workers" -ge 1 ] || workers=1
	herald_stop "$HERALD_PID"
	sed -i "s/^workers = .*/workers = $workers/" "$T/herald/herald.conf"
	herald_start "$T/herald"
	bench_wait_port "$HIMAP" 30 || bench_die "herald did not restart"
	bench_wait_port "$HIMAPS" 10 || bench_die "herald did not restart"
	echo "herald restarted for the IDLE phase with $workers worker(s)"
	sleep 1
}
port_of() { [ "$1" = herald ] && echo "$HIMAP" || echo "$DIMAP"; }
tls_port_of() { [ "$1" = herald ] && echo "$HIMAPS" || echo "$DIMAPS"; }
pid_of() { [ "$1" = herald ] && echo "$HERALD_PID" || echo "$DOVECOT_PID"; }
R="$T/results"
mkdir -p "$R"

for phase in $PHASES; do
	for side in $SIDES; do
		settle
		case $phase in
		ops)
			$CLIENT ops "$(port_of "$side")" "$USER" "$PASS" "$ROUNDS" \
				quizzaciously > "$R/ops.$side"
			;;
		resync)
			$CLIENT resync "$(port_of "$side")" "$USER" "$PASS" \
				"$ROUNDS" 10 > "$R/resync.$side"
			;;
		append)
			# an untimed round of the C load first: a server's first
			# burst of APPENDs into fresh mailboxes ran slower (Dovecot
			# 800-850/s, then 1,200-1,400/s whichever load came
			# next); then the Python load and the C load, each after
			# settling. The same messages each time: each account ends
			# with 3 x APPENDS and the C load's 2 untimed first APPENDs
			# shellcheck disable=SC2086
			"$T/append-load" "$(port_of "$side")" "$PASS" \
				"$T/append-corpus" $APP_USERS > /dev/null
			settle
			# shellcheck disable=SC2086
			$CLIENT append "$(port_of "$side")" "$PASS" "$APPENDS" 3 \
				$APP_USERS > "$R/appendpy.$side"
			settle
			# shellcheck disable=SC2086
			"$T/append-load" "$(port_of "$side")" "$PASS" \
				"$T/append-corpus" $APP_USERS > "$R/append.$side"
			;;
		login)
			# shellcheck disable=SC2086
			$CLIENT logins "$(port_of "$side")" "$PASS" "$LOGIN_SECS" \
				$APP_USERS > "$R/login.$side"
			;;
		idle)
			n=$IDLE
			[ "$side" = dovecot ] && n=$DIDLE
			[ "$side" = herald ] && herald_idle_restart
			$CLIENT idle "$(pid_of "$side")" "$(port_of "$side")" \
				"$IDLE_USER" "$PASS" "$n" 0 > "$R/idle-plain.$side"
			settle
			[ "$side" = herald ] && herald_idle_restart
			$CLIENT idle "$(pid_of "$side")" "$(tls_port_of "$side")" \
				"$IDLE_USER" "$PASS" "$n" 1 > "$R/idle-tls.$side"
			;;
		*) bench_die "unknown phase $phase" ;;
		esac
		echo "$phase $side: $(cat "$R/"*"$phase"*".$side" | tr '\n' ' ')"
	done
done

# every APPEND that got OK is there (counted in the stores themselves)
if has append "$PHASES"; then
	for side in $SIDES; do
		for u in $APP_USERS; do
			if [ "$side" = herald ]; then
				n=$($PY - "$T/herald/data/herald.db" "$u" <<'PYEOF'
import sqlite3, sys
l, d = sys.argv[2].split("@")
print(sqlite3.connect(sys.argv[1]).execute(
    "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
    " JOIN accounts a ON a.id = m.account_id JOIN domains x ON x.id = a.domain_id"
    " WHERE a.localpart = ? AND x.name = ? AND b.name = 'INBOX'", (l, d)).fetchone()[0])
PYEOF
)
			else
				n=$(find "$T/dovecot/mail/$u/cur" "$T/dovecot/mail/$u/new" -type f | wc -l)
			fi
			[ "$n" -eq $((3 * APPENDS + 2)) ] || echo "CHECK FAILED: $side $u holds $n messages, $((3 * APPENDS + 2)) APPENDs got OK"
		done
	done
fi

$PY - "$R" "$COUNT" "$SIDES" "$(git rev-parse --short HEAD)" \
	"$(dovecot --version | cut -d' ' -f1)" <<'PYEOF'
import json, os, sys
r, count, sides, rev, dv = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4], sys.argv[5]
def load(name, side):
    p = os.path.join(r, f"{name}.{side}")
    return json.load(open(p)) if os.path.exists(p) and os.path.getsize(p) else None
print(f"\nIMAP, {count}-message INBOX, same run: Herald {rev} / Dovecot {dv}")
print(f"{'measure':44} {'herald':>12} {'dovecot':>12} {'herald/dovecot':>15}")
def row(label, h, d, unit, faster_is_higher):
    hs = f"{h:.4g}" if h is not None else "-"
    ds = f"{d:.4g}" if d is not None else "-"
    ratio = "-"
    if h and d:
        x = h / d if faster_is_higher else d / h
        ratio = f"{x:.2f}x"
    print(f"{label + ' (' + unit + ')':44} {hs:>12} {ds:>12} {ratio:>15}")
o = {s: load("ops", s) for s in sides}
if any(o.values()):
    for k, label in (("select", "SELECT INBOX"),
                     ("fetch_meta", "FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)"),
                     ("fetch_body", "FETCH 1:* BODY.PEEK[]"),
                     ("search", "SEARCH TEXT <rare word>")):
        row(label, o.get("herald") and o["herald"][k],
            o.get("dovecot") and o["dovecot"][k], "s", False)
    for s in sides:
        if o.get(s):
            x = o[s]
            print(f"  {s}: EXISTS {x['exists']}, FETCH responses "
                  f"{x['fetch_meta_responses']}/{x['fetch_body_responses']}, "
                  f"BODY[] {x['fetch_body_bytes'] / 1e6:.1f} MB, SEARCH found "
                  f"{x['search_found']}")
q = {s: load("resync", s) for s in sides}
if any(q.values()):
    def g(s, k):
        return q.get(s) and q[s][k]
    for k, label, unit in (
            ("qresync_s", "resync 1%: EXAMINE (QRESYNC ...)", "s"),
            ("refetch_s", "resync 1%: EXAMINE + FETCH 1:* (UID FLAGS)", "s"),
            ("qresync_bytes", "resync 1%: QRESYNC on the wire", "octets"),
            ("refetch_bytes", "resync 1%: refetch on the wire", "octets")):
        row(label, g("herald", k), g("dovecot", k), unit, False)
    for s in sides:
        x = q.get(s)
        if x:
            print(f"  {s}: {x['changed']} flag changes, {x['expunged']} "
                  f"expunged -> {x['fetches']} FETCH, {x['vanished']} UIDs "
                  f"VANISHED; refetch {x['refetch_responses']} FETCH; "
                  f"QRESYNC/refetch: time "
                  f"{x['qresync_s'] / x['refetch_s']:.3f}, octets "
                  f"{x['qresync_bytes'] / x['refetch_bytes']:.4f}")
for ph, label in (("append", "APPEND, 10 clients, C load"),
                  ("appendpy", "APPEND, 10 clients, Python load")):
    a = {s: load(ph, s) for s in sides}
    if any(a.values()):
        row(label, a.get("herald") and a["herald"]["rate"],
            a.get("dovecot") and a["dovecot"]["rate"], "msg/s", True)
l = {s: load("login", s) for s in sides}
if any(l.values()):
    row("LOGIN+SELECT+LOGOUT, 10 clients", l.get("herald") and l["herald"]["rate"],
        l.get("dovecot") and l["dovecot"]["rate"], "logins/s", True)
for kind in ("plain", "tls"):
    for s in sides:
        x = load(f"idle-{kind}", s)
        if x:
            print(f"IDLE {kind:5} {s:7}: {x['sessions']} sessions "
                  f"({x['errors']} failed{', ' + x['first_error'] if x['errors'] else ''}), "
                  f"whole server RSS {x['rss_kb'] / 1024:.1f} MB "
                  f"(PSS {x['pss_kb'] / 1024:.1f} MB; before "
                  f"{x['rss_before_kb'] / 1024:.1f} MB), per session "
                  f"+{x['rss_per_session_kb']:.1f} kB RSS / "
                  f"+{x['pss_per_session_kb']:.1f} kB PSS, "
                  f"{x['processes'][1]} processes, set up in {x['setup_s']} s")
PYEOF
