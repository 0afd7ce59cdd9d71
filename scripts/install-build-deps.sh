#!/usr/bin/env bash
# Installs what building Herald needs (Debian 12) and creates the
# unprivileged `herald` user. Idempotent; quiet when all is there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
apt_install make gcc pkg-config libssl-dev libevent-dev libunbound-dev \
	libsqlite3-dev libmariadb-dev libsodium-dev libcrypt-dev libjansson-dev \
	libinih-dev zlib1g-dev libcmocka-dev openssl ca-certificates
# run time too: DMARC's organisational domains ([mailauth] psl_file)
apt_install publicsuffix
ensure_herald_user
