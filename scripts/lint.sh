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
# Layers (DESIGN.md section 4): a file in src/<dir>/ includes headers of
# its own dir or of a lower layer, never of a higher one. Dirs on the same
# layer are peers and do not include each other unless an exception below
# names the pair. A new dir gets a row here before it can be included.
#   queue sits above the protocols: its runner drives the SMTP client
#   (smtp/smtp-client.h); nothing below it includes queue/.
layers='
8 cli
7 daemon
6 queue
5 smtp pop3 imap http jmap
4 delivery mailauth sieve
3 store sasl dns tls
2 mail conf
1 lib
'
# "from>to" pairs of peers that may include each other, each with its
# reason. An upward include has no exception: invert it instead.
#   conf>mail: hostname is checked with mail/address.h's domain syntax
#   sasl>store: the login service (sasl/login.c) looks credentials up in
#              the store for every protocol; store/ never includes sasl/
layer_exceptions='conf>mail sasl>store'
if ! out=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[a-z0-9_]+/' \
	src --include='*.c' --include='*.h' | awk -v layers="$layers" \
	-v exceptions="$layer_exceptions" '
	BEGIN {
		n = split(layers, rows, "\n")
		for (i = 1; i <= n; i++) {
			m = split(rows[i], w, " ")
			for (j = 2; j <= m; j++)
				level[w[j]] = w[1] + 0
		}
		m = split(exceptions, w, " ")
		for (j = 1; j <= m; j++)
			allowed[w[j]] = 1
	}
	{
		# src/DIR/file.c:LINE:#include "TO/x.h"
		split($0, f, ":")
		split(f[1], path, "/")
		if (path[3] == "")
			next	# src/main.c sits above every layer
		from = path[2]
		match($0, /"[a-z0-9_]+\//)
		to = substr($0, RSTART + 1, RLENGTH - 2)
		if (from == to)
			next
		where = f[1] ":" f[2]
		if (!(from in level)) {
			printf "%s: src/%s/ is in no layer of scripts/lint.sh\n", where, from
			bad = 1
		} else if (!(to in level)) {
			printf "%s: includes %s/, which is in no layer of scripts/lint.sh\n", where, to
			bad = 1
		} else if (allowed[from ">" to]) {
			next
		} else if (level[to] > level[from]) {
			printf "%s: %s/ includes %s/, a higher layer\n", where, from, to
			bad = 1
		} else if (level[to] == level[from]) {
			printf "%s: %s/ includes its peer %s/ (same layer)\n", where, from, to
			bad = 1
		}
	}
	END { exit bad }'); then
	printf '%s\n' "$out" >&2
	echo "lint: include against the layers (DESIGN.md section 4)" >&2; rc=1
fi
for f in $(find src -name '*.c' -o -name '*.h'); do
	head -1 "$f" | grep -q SPDX || { echo "lint: $f: no SPDX line" >&2; rc=1; }
done
exit $rc
