#!/usr/bin/env bash
# Quick start: installs what the build needs, builds Herald, and starts it
# for the demo domain example.test on 127.0.0.1 with the embedded store and
# a demo user. Run as root on Debian 12. Stop it with: scripts/demo.sh stop
# Ports: HERALD_DEMO_PORTS overrides any of them by name, for example
#   HERALD_DEMO_PORTS="smtp=2526,pop3=1101" scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${HERALD_DEMO_DIR:-/var/lib/herald-demo}
CONF=$DIR/herald.conf
BIN=$PWD/build/herald

if [ "${1:-}" = stop ]; then
	[ -f "$DIR/herald.pid" ] && kill "$(cat "$DIR/herald.pid")" 2>/dev/null || true
	rm -f "$DIR/herald.pid"
	echo "Herald demo stopped."
	exit 0
fi

declare -A PORT=([smtp]=2525 [submission]=5870 [submissions]=4650
	[imap]=1430 [imaps]=9930 [pop3]=1100 [pop3s]=9950)
IFS=', ' read -r -a kvs <<< "${HERALD_DEMO_PORTS:-}"
for kv in ${kvs[@]+"${kvs[@]}"}; do
	[ -n "$kv" ] || continue
	name=${kv%%=*} port=${kv#*=}
	if [ -z "$name" ] || [ -z "${PORT[$name]+set}" ] || [ "$kv" = "$name" ] ||
	   ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
		echo "demo: HERALD_DEMO_PORTS: '$kv' is not NAME=PORT with NAME one of:" \
			"${!PORT[*]}" >&2
		exit 2
	fi
	PORT[$name]=$port
done

bash scripts/install-build-deps.sh
make -j"$(nproc)" >/dev/null

if [ -f "$DIR/herald.pid" ] && kill -0 "$(cat "$DIR/herald.pid")" 2>/dev/null; then
	kill "$(cat "$DIR/herald.pid")"; sleep 1
fi
mkdir -p "$DIR"
chmod 755 "$DIR"
cat > "$CONF" <<CONF
# Herald demo: example.test on loopback, embedded SQLite store.
hostname = mail.example.test
data_dir = $DIR/data

[listen]
smtp        = 127.0.0.1:${PORT[smtp]}
submission  = 127.0.0.1:${PORT[submission]}
submissions = 127.0.0.1:${PORT[submissions]}
imap        = 127.0.0.1:${PORT[imap]}
imaps       = 127.0.0.1:${PORT[imaps]}
pop3        = 127.0.0.1:${PORT[pop3]}
pop3s       = 127.0.0.1:${PORT[pop3s]}
sendmail    = unix:$DIR/run/sendmail.sock
CONF
# keep only the listeners this build serves
for p in smtp submission submissions imap imaps pop3 pop3s sendmail; do
	if ! "$BIN" serve --protocols | grep -qx "$p"; then
		sed -i "/^$p /d" "$CONF"
	fi
done
# a port something else listens on: say which, before the server fails
for p in smtp submission submissions imap imaps pop3 pop3s; do
	grep -q "^$p " "$CONF" || continue
	if (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$p]}") 2>/dev/null; then
		echo "demo: port ${PORT[$p]} ($p) on 127.0.0.1 is taken by another" \
			"program; choose another with HERALD_DEMO_PORTS=\"$p=PORT\"" >&2
		exit 1
	fi
done
"$BIN" config check -c "$CONF" >/dev/null

"$BIN" domain list -c "$CONF" | grep -qx example.test || "$BIN" domain add example.test -c "$CONF"
PASS=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 12)
if "$BIN" user list example.test -c "$CONF" | grep -q '^demo@example.test'; then
	echo "$PASS" | "$BIN" user passwd demo@example.test -c "$CONF"
else
	echo "$PASS" | "$BIN" user add demo@example.test -c "$CONF"
fi

nohup "$BIN" serve -c "$CONF" >"$DIR/herald.log" 2>&1 &
echo $! > "$DIR/herald.pid"
for _ in $(seq 50); do grep -q ' ready ' "$DIR/herald.log" 2>/dev/null && break; sleep 0.1; done
if ! grep -q ' ready ' "$DIR/herald.log"; then
	cat "$DIR/herald.log" >&2
	taken=$(grep -o '127\.0\.0\.1:[0-9]*: cannot listen: Address already in use' \
		"$DIR/herald.log" | head -1 | cut -d: -f2)
	[ -z "$taken" ] || echo "demo: port $taken on 127.0.0.1 is taken; choose" \
		"another with HERALD_DEMO_PORTS (see README.md)" >&2
	exit 1
fi

cat <<MSG

Herald is running for example.test on 127.0.0.1 (pid $(cat "$DIR/herald.pid")).
  user:      demo@example.test
  password:  $PASS
  config:    $CONF
  log:       $DIR/herald.log
  listening: $(grep -E '^(smtp|submission|submissions|imap|imaps|pop3|pop3s) ' "$CONF" | awk '{printf "%s=%s ", $1, $3}')

Try it:
  swaks --server 127.0.0.1:${PORT[smtp]} --to demo@example.test --from you@example.org
  echo "Subject: hi" | $BIN sendmail -C $CONF demo@example.test   (as any user)
  In a mail client: account demo@example.test, the password above,
  server 127.0.0.1, self-signed certificate (accept it).
Stop it with: scripts/demo.sh stop
MSG
