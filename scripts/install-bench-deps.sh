#!/bin/bash
# Installs from Debian what the benchmarks in bench/ need: Postfix (its
# smtp-source load generator, smtp-sink, and the MTA compared against),
# dovecot-pop3d and dovecot-imapd (compared against by the POP3 and IMAP
# benchmarks), unbound (bench/outbound's DNS), procps and python3. No
# service is started: policy-rc.d forbids it, Postfix is set to "No
# configuration", and its system instance is disabled afterwards so nothing
# ever takes port 25. The benchmarks run private Postfix, Dovecot and
# unbound instances (bench/lib.sh, bench/*/run.sh).
set -e
cd "$(dirname "$0")/.."
. scripts/lib.sh

apt_install postfix dovecot-pop3d dovecot-imapd procps python3 tcpdump unbound

# The package may have left a system instance configured; keep it stopped.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl disable --now postfix >/dev/null 2>&1 || true
fi
if [ -x /usr/sbin/postfix ] && /usr/sbin/postfix status >/dev/null 2>&1; then
	/usr/sbin/postfix stop >/dev/null 2>&1 || true
fi
for t in smtp-source smtp-sink postconf postfix; do
	command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || {
		echo "install-bench-deps: $t missing after install" >&2; exit 1; }
done
getent passwd postfix >/dev/null && getent group postdrop >/dev/null || {
	echo "install-bench-deps: the postfix user or postdrop group is missing" >&2
	exit 1; }
