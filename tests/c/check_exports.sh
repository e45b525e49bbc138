#!/usr/bin/env bash
# check_exports.sh LIB ABI: the dynamic symbols LIB defines must be exactly
# the functions of the ABI description (include/segcache.abi.json, which
# make check-header proves equal to the header), each at version
# SEGCACHE_0, and nothing else: no cgo or runtime internals, no undeclared
# export, no declared function missing from the library.
set -euo pipefail
lib=$1 abi=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Functions of the description, read by the generator's own JSON reader.
(cd "$(dirname "$0")/../.." && ${GO:-go} run ./capi/internal/genheader -functions "$abi") | sort >"$tmp/header"
[ -s "$tmp/header" ] || { echo "check_exports: no function in $abi" >&2; exit 1; }
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
if ! diff -u --label "declared in $abi" --label "exported by $lib" "$tmp/header" "$tmp/lib" >&2; then
	echo "check_exports: header and library disagree (run make header?)" >&2
	status=1
fi
[ "$status" = 0 ] && echo "check_exports: $(wc -l <"$tmp/lib") functions, header and library agree"
exit $status
