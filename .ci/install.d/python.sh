#!/usr/bin/env bash
# Test requirements of the Python binding (bindings/python): pytest and
# hypothesis, for the python3 that `make test` runs. The package itself
# needs nothing beyond the standard library.
# deps-check: ${PYTHON:-python3} -c 'import pytest, hypothesis, wheel, ensurepip, venv'
# deps-skip: test-python
set -euo pipefail
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
	apt-get install -y -qq python3-pip python3-venv >/dev/null
fi
# A Debian-managed interpreter refuses pip installs into it (PEP 668);
# take the Debian packages there instead.
if ! "$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore pytest hypothesis wheel; then
	apt-get install -y -qq python3-pytest python3-hypothesis python3-wheel python3-venv >/dev/null
fi
# The install test builds a venv; Debian splits venv support out.
"$PYTHON" -c 'import ensurepip' 2>/dev/null || apt-get install -y -qq python3-venv >/dev/null
"$PYTHON" -c 'import pytest, hypothesis; print("python test deps:", "pytest", pytest.__version__, "hypothesis", hypothesis.__version__)'
