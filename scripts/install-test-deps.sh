#!/usr/bin/env bash
# Installs what `make check` needs on top of the build: the test runners and
# the real, independent clients and peers the tests drive. Idempotent.
# apt_install runs with --no-install-recommends, so every package a test
# uses is named here, Recommends included (swaks without libnet-ssleay-perl
# has no TLS).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bash "$(dirname "$0")/install-build-deps.sh"
# the runners: tests/run-tests.py and pytest
apt_install python3 python3-pytest procps iproute2
# the real clients and peers: swaks and its TLS (test_smtp_inbound,
# test_smtp_submission), postfix (test_lmtp_postfix), fetchmail and
# getmail6 (test_pop3_clients), fail2ban-regex (test_fail2ban); openssl
# (test_serve) comes with the build dependencies
apt_install swaks libnet-ssleay-perl postfix fetchmail getmail6 fail2ban
# DNS (issue 12): the unbound daemon serves test zones on a loopback high
# port (tests/integration/dns_util.py; apt_install's policy-rc.d keeps the
# package from starting a system instance on port 53), ldnsutils signs a
# DNSSEC test zone (ldns-keygen, ldns-signzone) and queries it (drill)
apt_install unbound ldnsutils
# a second zone parser for the zone file `herald dns DOMAIN` prints
# (test_dns_cmd: named-checkzone)
apt_install bind9-utils
# the outbound SMTP client (issue 12) against another implementation:
# aiosmtpd, Python's asyncio SMTP server (test_smtp_client); Postfix's
# smtp-sink comes with postfix above
apt_install python3-aiosmtpd
# Postfix as the relayhost that requires AUTH (test_outbound_e2e): Cyrus
# SASL's sasldb (saslpasswd2) and its PLAIN/LOGIN and sasldb plugins
apt_install sasl2-bin libsasl2-modules libsasl2-modules-db
# IMAP clients (issue 11): mbsync (isync) and offlineimap3 sync both ways
# (test_imap_mbsync, test_imap_offlineimap), mutt reads and files mail in
# tmux (test_imap_mutt)
apt_install isync offlineimap3 mutt tmux
# Node's imapflow (test_imap_imapflow), from the npm registry into
# tests/integration/imapflow/node_modules, never globally. The machine's
# Node.js is used when it has one; otherwise Debian's (18 on Debian 12).
# imapflow 2 (imapflow/package-lock.json) declares Node >= 20; on Node 18
# and 19 the last 1.x (imapflow/node18/package-lock.json: 1.7.8, which
# declares no engines; its dependencies take Node 18) is installed in its
# place: both pass test_imap_imapflow (1.7.8 tried with Debian 12's
# nodejs 18.20.4).
command -v node >/dev/null 2>&1 || apt_install nodejs
command -v npm >/dev/null 2>&1 || apt_install npm
imapflow_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/integration/imapflow"
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
lock_dir="$imapflow_dir"
[ "$node_major" -ge 20 ] || lock_dir="$imapflow_dir/node18"
want=$(sed -n 's/.*"imapflow": "\(.*\)".*/\1/p' "$lock_dir/package.json")
have=$(node -p 'require(process.argv[1]).version' \
	"$imapflow_dir/node_modules/imapflow/package.json" 2>/dev/null || true)
# When imapflow cannot be had, the reason goes into not-installed.txt and
# test_imap_imapflow skips with it; the other tests still run: a Node.js
# older than 18, or a registry reached through a TLS-intercepting proxy
# whose CA this root does not have (npm refuses it).
rm -f "$imapflow_dir/not-installed.txt"
if [ "$node_major" -lt 18 ]; then
	echo "imapflow needs Node.js >= 18; this machine has" \
		"$(node --version 2>/dev/null || echo none)" \
		> "$imapflow_dir/not-installed.txt"
elif [ "$have" != "$want" ]; then
	echo "installing: imapflow $want (npm, $lock_dir)" >&2
	if (cd "$lock_dir" &&
	    npm ci --no-audit --no-fund --loglevel=error >&2); then
		if [ "$lock_dir" != "$imapflow_dir" ]; then
			rm -rf "$imapflow_dir/node_modules"
			mv "$lock_dir/node_modules" "$imapflow_dir/node_modules"
		fi
	else
		echo "npm ci of imapflow $want failed (registry unreachable" \
			"or its certificate not trusted here): see the install" \
			"output" > "$imapflow_dir/not-installed.txt"
	fi
fi
[ ! -f "$imapflow_dir/not-installed.txt" ] ||
	echo "warning: $(cat "$imapflow_dir/not-installed.txt"); test_imap_imapflow will be skipped" >&2
# DKIM (issue 14): independent signers and verifiers for the interop tests
# (test_dkim): dkimpy's dkimsign/dkimverify (python3-dkim; ed25519 through
# python3-nacl); OpenDKIM: opendkim-testmsg verifies, the opendkim milter
# (never started by the package: policy-rc.d) signs through miltertest,
# opendkim-genkey makes its key
apt_install python3-dkim python3-nacl python3-dnspython opendkim opendkim-tools \
	miltertest
# SPF (issue 14): the RFC 7208 test suite ships in python3-spf
# (rfc7208-tests.yml, read in place by test_spf_suite); python3-yaml reads it
apt_install python3-spf python3-yaml
