#!/usr/bin/env bash
# Test requirements of the Python binding (bindings/python), for the python3
# that `make test` runs: pytest and hypothesis (the suite), setuptools and
# the Python headers (`make python-ext` builds the compiled speedups in
# place), venv support (the install test builds a fresh venv and lets pip
# fetch the build requirements from PyPI into its cache). The package itself
# needs nothing beyond the standard library at run time.
# deps-check: ${PYTHON:-python3} -c 'import pytest, hypothesis, setuptools, wheel, ensurepip, venv, sysconfig, os; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))'
# deps-skip: test-python
set -euo pipefail
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
	apt-get install -y -qq python3-pip python3-venv >/dev/null
fi
# A Debian-managed interpreter refuses pip installs into it (PEP 668);
# take the Debian packages there instead.
if ! "$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore pytest hypothesis setuptools wheel; then
	apt-get install -y -qq python3-pytest python3-hypothesis python3-setuptools python3-wheel python3-venv >/dev/null
fi
# Python.h: Debian splits the headers out of the interpreter.
inc=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$inc/Python.h" ] || apt-get install -y -qq python3-dev >/dev/null
# The install test builds a venv; Debian splits venv support out.
"$PYTHON" -c 'import ensurepip' 2>/dev/null || apt-get install -y -qq python3-venv >/dev/null
"$PYTHON" -c 'import pytest, hypothesis, setuptools; print("python test deps:", "pytest", pytest.__version__, "hypothesis", hypothesis.__version__, "setuptools", setuptools.__version__)'
