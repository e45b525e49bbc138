#!/usr/bin/env bash
# segcached's client tests (make test-server) and benchmark (make
# bench-server): memcached itself (the benchmark's baseline),
# libmemcached's tools (memccapable, the conformance test), nutcracker
# (twemproxy, the cluster test) and pymemcache for the python3 that make
# runs. gomemcache comes from the Go module proxy.
# deps-check: command -v memccapable && command -v nutcracker && command -v memcached && ${PYTHON:-python3} -c 'import pymemcache, pytest'
# deps-skip: test-server
set -euo pipefail
PYTHON=${PYTHON:-python3}

apt-get install -y -qq memcached libmemcached-tools nutcracker >/dev/null
# The Debian package starts a memcached on 11211; the tests use their own.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now memcached >/dev/null 2>&1 || true; fi

if ! "$PYTHON" -c 'import pymemcache' 2>/dev/null; then
	# A Debian-managed interpreter refuses pip installs (PEP 668); take the
	# Debian package there instead.
	"$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore pymemcache ||
		apt-get install -y -qq python3-pymemcache >/dev/null
fi
"$PYTHON" -c 'import pymemcache, pytest; print("server test deps: pymemcache", pymemcache.__version__)'
command -v memccapable nutcracker memcached
