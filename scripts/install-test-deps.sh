#!/usr/bin/env bash
# Installs what `make check` needs on top of the build: the test runners and
# the real, independent clients and peers the tests drive. Idempotent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bash "$(dirname "$0")/install-build-deps.sh"
apt_install python3 python3-pytest swaks postfix procps iproute2 \
	fetchmail getmail6 fail2ban
