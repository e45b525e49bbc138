"""Shared fixtures of the segcache binding tests.

The tests use the library that `import segcache` finds (SEGCACHE_LIBRARY,
next to the package, or the repository's build/ directory); `make
test-python` sets SEGCACHE_LIBRARY to the freshly built one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

import segcache

# No example database in the source tree; a failure prints its reproducer.
settings.register_profile("segcache", database=None, print_blob=True)
settings.load_profile("segcache")

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent  # bindings/python
REPO = PACKAGE_ROOT.parents[1]

# A whole test run must not silently pass with tests skipped: the suite has
# no optional parts (hypothesis is a test requirement, installed by
# .ci/install.d/python.sh). SEGCACHE_ALLOW_SKIPS=1 lifts that for local runs.
_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if session.testscollected == 0:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
    elif _skipped and not os.environ.get("SEGCACHE_ALLOW_SKIPS"):
        print(f"\nsegcache: {len(_skipped)} test(s) skipped; failing the run "
              "(set SEGCACHE_ALLOW_SKIPS=1 to allow): " + ", ".join(_skipped))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Both implementations of segcache.Cache run every test of the modules that
# do not opt out (IMPL_INDEPENDENT = True): the compiled one must be built
# (a test of it fails, never skips, when it is not) and the ctypes one.
# Subprocesses the tests start inherit the choice through SEGCACHE_SPEEDUPS.
IMPLS = ("compiled", "ctypes")


def pytest_generate_tests(metafunc):
    if "impl" not in metafunc.fixturenames or getattr(metafunc.module, "IMPL_INDEPENDENT", False):
        return
    # A test about one implementation's internals names it itself:
    # @pytest.mark.parametrize("impl", ["ctypes"], indirect=True).
    if any(m.args and m.args[0] == "impl" for m in metafunc.definition.iter_markers("parametrize")):
        return
    metafunc.parametrize("impl", IMPLS, indirect=True)


def impl_class(name: str):
    if name == "ctypes":
        return segcache.CtypesCache
    if segcache.FastCache is None:
        pytest.fail(f"the compiled path is not built: {segcache.SPEEDUPS_ERROR}")
    return segcache.FastCache


@pytest.fixture(autouse=True)
def impl(request, monkeypatch):
    """The implementation under test: segcache.Cache is it for the test."""
    name = getattr(request, "param", None)
    if name is None:  # an implementation-independent module
        return None
    monkeypatch.setattr(segcache, "Cache", impl_class(name))
    monkeypatch.setenv("SEGCACHE_SPEEDUPS", "1" if name == "compiled" else "0")
    return name


@pytest.fixture
def cache():
    # Big enough that no test item is ever evicted; no eviction so that a
    # bug that loses items shows up as a failure, not as an eviction.
    c = segcache.Cache(heap_bytes=32 << 20, segment_bytes=1 << 20, eviction="none")
    try:
        yield c
    finally:
        c.close()


def run_python(code: str, *, env: dict | None = None, timeout: float = 120,
               cwd: str | None = None) -> subprocess.CompletedProcess:
    """Runs code in a fresh interpreter that imports this source tree's
    package, with a timeout so that a hang fails the test instead of
    wedging the suite."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(PACKAGE_ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    if env:
        for k, v in env.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
    return subprocess.run(
        [sys.executable, "-c", code],
        env=e,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
