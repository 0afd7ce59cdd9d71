#!/usr/bin/env bash
# Forbidden functions (STYLE.md "Memory") and other cheap checks.
set -u
cd "$(dirname "$0")/.."
rc=0
pat='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|alloca)\('
if grep -rnE "$pat" src tests/unit tests/fuzz --include='*.c' --include='*.h' | grep -v 'snprintf\|vsnprintf\|asprintf'; then
	echo "lint: forbidden function (see STYLE.md)" >&2; rc=1
fi
if grep -rnE '#include <(event2/|openssl/ssl\.h)' src --include='*.c' --include='*.h' \
	| grep -vE '^src/(lib/ioev|lib/threadpool|tls/|daemon/)' ; then
	echo "lint: protocol code must use lib/ioev.h and tls/tls.h" >&2; rc=1
fi
if grep -rn 'sqlite3' src --include='*.c' --include='*.h' -l | grep -v '^src/store/' ; then
	echo "lint: only src/store/ talks to SQLite" >&2; rc=1
fi
for f in $(find src -name '*.c' -o -name '*.h'); do
	head -1 "$f" | grep -q SPDX || { echo "lint: $f: no SPDX line" >&2; rc=1; }
done
exit $rc
