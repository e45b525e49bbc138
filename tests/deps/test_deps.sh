#!/usr/bin/env bash
# Tests of .ci/deps (what make test runs first) against fake install
# scripts, with fake `id` and `apt-get` first on PATH: no package is
# installed and the real user does not matter. Each case checks the exit
# status, the skip file and which scripts and apt-get calls ran.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

mkdir -p "$tmp/bin" "$tmp/d"
cat >"$tmp/bin/id" <<'S'
#!/bin/sh
echo "${FAKE_UID:-0}"
S
cat >"$tmp/bin/apt-get" <<'S'
#!/bin/sh
echo "apt-get $*" >>"$LOG"
S
chmod +x "$tmp/bin/id" "$tmp/bin/apt-get"

# suite NAME TARGETS: an install script whose check is "the file
# $tmp/have/NAME exists" and whose install creates it (unless BROKEN_NAME).
suite() {
	cat >"$tmp/d/$1.sh" <<S
#!/usr/bin/env bash
# deps-check: test -e "$tmp/have/$1"
# deps-skip: $2
echo "ran $1" >>"\$LOG"
[ -n "\${BROKEN_$1:-}" ] || touch "$tmp/have/$1"
S
}
suite alpha "test-alpha"
suite beta "test-beta test-beta-more"

# run ENV...: runs .ci/deps with a fresh state; sets rc, log, skip, err.
run() {
	rm -rf "$tmp/have" && mkdir -p "$tmp/have"
	: >"$tmp/log"
	for h in ${HAVE:-}; do touch "$tmp/have/$h"; done
	env -u SEGCACHE_DEPS_INSTALL -u FAKE_UID PATH="$tmp/bin:$PATH" LOG="$tmp/log" SEGCACHE_DEPS_DIR="$tmp/d" CI= "$@" \
		"$root/.ci/deps" "$tmp/skip" 2>"$tmp/err" >/dev/null
	rc=$?
	log=$(tr '\n' ';' <"$tmp/log")
	skip=$(tr '\n' ' ' <"$tmp/skip")
	err=$(cat "$tmp/err")
}

expect() { # NAME GOT WANT
	if [ "$2" != "$3" ]; then
		echo "FAIL $case: $1 = [$2], want [$3]" >&2
		echo "  stderr: $err" >&2
		fails=$((fails + 1))
	fi
}

case="everything present: nothing runs"
HAVE="alpha beta" run
expect rc "$rc" 0; expect log "$log" ""; expect skip "$skip" ""

case="root, two suites missing: one apt-get update, both scripts, nothing skipped"
HAVE="" run
expect rc "$rc" 0; expect log "$log" "apt-get update -qq;ran alpha;ran beta;"; expect skip "$skip" ""

case="root, one missing: only its script runs"
HAVE="alpha" run
expect rc "$rc" 0; expect log "$log" "apt-get update -qq;ran beta;"; expect skip "$skip" ""

case="not root: missing suites are skipped, loudly, nothing installed"
HAVE="alpha" run FAKE_UID=1000
expect rc "$rc" 0; expect log "$log" ""; expect skip "$skip" "test-beta test-beta-more "
case "$err" in *"missing: beta"*"sudo .ci/deps"*"SKIPS"*) ;; *) expect notice "$err" "a skip notice" ;; esac

case="install disabled: same as not root"
HAVE="beta" run SEGCACHE_DEPS_INSTALL=no
expect rc "$rc" 0; expect log "$log" ""; expect skip "$skip" "test-alpha "

case="CI=true and a tool missing: fails, even though it reports the skip"
HAVE="beta" run FAKE_UID=1000 CI=true
expect rc "$rc" 1
case "$err" in *"CI=true"*) ;; *) expect notice "$err" "a CI failure notice" ;; esac

case="root, install does not provide the tool: fails"
HAVE="beta" run BROKEN_alpha=1
expect rc "$rc" 1; expect skip "$skip" ""

# A script without a deps-check line: run every time as root, reported as
# unverified otherwise (and a failure under CI).
cat >"$tmp/d/gamma.sh" <<'S'
#!/usr/bin/env bash
echo "ran gamma" >>"$LOG"
S
case="root, script without check: run without apt-get update"
HAVE="alpha beta" run
expect rc "$rc" 0; expect log "$log" "ran gamma;"
case="not root, script without check: unverified"
HAVE="alpha beta" run FAKE_UID=1000
expect rc "$rc" 0; expect log "$log" ""
case "$err" in *"cannot verify gamma"*) ;; *) expect notice "$err" "unverified gamma" ;; esac
case="CI, not root, script without check: fails"
HAVE="alpha beta" run FAKE_UID=1000 CI=true
expect rc "$rc" 1

# The real install scripts all declare what they check and skip.
for s in "$root"/.ci/install.d/*.sh; do
	case="$(basename "$s") headers"
	grep -q '^# deps-check: .' "$s" || expect deps-check "missing" "present"
	grep -q '^# deps-skip: test-' "$s" || expect deps-skip "missing" "present"
done

[ $fails = 0 ] && echo "test_deps: all cases passed" && exit 0
echo "test_deps: $fails failures" >&2
exit 1
