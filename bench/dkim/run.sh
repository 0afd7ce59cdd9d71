#!/usr/bin/env bash
# DKIM sign and verify cost per message (issue 14 targets): builds
# bench/dkim/dkim-cost.c against the release build's libherald.a and runs
# it. Argument: rounds for the 5 KB messages (1 MB: a twentieth).
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s build/libherald.a
PKGS="openssl libevent libevent_openssl libevent_pthreads sqlite3 libsodium libxcrypt jansson inih zlib libunbound libmariadb"
out=$(mktemp -d /tmp/herald-bench-dkim-XXXXXX)
trap 'rm -rf "$out"' EXIT
cc -std=c17 -D_GNU_SOURCE -O2 -Isrc $(pkg-config --cflags $PKGS) \
	-o "$out/dkim-cost" bench/dkim/dkim-cost.c build/libherald.a \
	$(pkg-config --libs $PKGS) -lm -pthread
"$out/dkim-cost" "${1:-2000}"
