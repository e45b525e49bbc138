#!/usr/bin/env bash
# check_exports.sh LIB HEADER: the dynamic symbols LIB defines must be
# exactly the functions HEADER declares (each at version SEGCACHE_0), and
# nothing else: no cgo or runtime internals, no undeclared export, no
# declared function missing from the library.
set -euo pipefail
lib=$1 header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Functions declared in the header: "SEGCACHE_API <type> <name>(".
grep -oE '^SEGCACHE_API [^(]*\b(segcache_[a-z0-9_]+)\(' "$header" |
	sed -E 's/.*\b(segcache_[a-z0-9_]+)\($/\1/' | sort >"$tmp/header"
# Defined dynamic symbols of the library, as "type name@version".
nm -D --defined-only "$lib" | awk '{print $2, $3}' | sort >"$tmp/nm"

status=0
# Everything but the version node must be a text symbol segcache_*@@SEGCACHE_0.
if grep -vE '^T segcache_[a-z0-9_]+@@SEGCACHE_0$|^A SEGCACHE_0$' "$tmp/nm" >"$tmp/extra"; then
	echo "check_exports: $lib exports symbols outside the C API:" >&2
	sed 's/^/  /' "$tmp/extra" >&2
	status=1
fi
grep -E '^T ' "$tmp/nm" | sed -E 's/^T //; s/@.*//' | sort >"$tmp/lib"
if ! diff -u --label "declared in $header" --label "exported by $lib" "$tmp/header" "$tmp/lib" >&2; then
	echo "check_exports: header and library disagree (run make header?)" >&2
	status=1
fi
[ "$status" = 0 ] && echo "check_exports: $(wc -l <"$tmp/lib") functions, header and library agree"
exit $status
