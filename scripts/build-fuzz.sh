#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz-*.c as a libFuzzer target (clang, with ASan
# and UBSan) into build-fuzz/. Run one: build-fuzz/fuzz-sasl -max_total_time=60
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang)" >&2; exit 1; }
OUT=build-fuzz
mkdir -p "$OUT/obj"
PKGS="openssl libevent libevent_openssl libevent_pthreads sqlite3 libsodium libxcrypt jansson inih zlib libunbound libmariadb"
CFLAGS="-std=c17 -D_GNU_SOURCE -Isrc -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lm -pthread"
objs=()
for src in $(find src -name '*.c' ! -name main.c | sort); do
	obj="$OUT/obj/$(echo "$src" | tr / _).o"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
		$CC $CFLAGS -c -o "$obj" "$src"
	fi
	objs+=("$obj")
done
for f in tests/fuzz/fuzz-*.c; do
	[ -e "$f" ] || continue
	name=$(basename "$f" .c)
	$CC $CFLAGS -fsanitize=fuzzer -o "$OUT/$name" "$f" "${objs[@]}" $LIBS
	echo "built $OUT/$name"
done
