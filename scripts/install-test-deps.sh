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
