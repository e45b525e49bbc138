"""`pip install bindings/python` installs a working package.

Builds in a fresh virtual environment without the network (no index, no
build isolation: setuptools comes from the base interpreter), from a copy
of the source so that the tree stays clean.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import segcache
from conftest import PACKAGE_ROOT

# Not about the hot methods: run once, with the default implementation.
IMPL_INDEPENDENT = True

LIB = segcache.library_path()


def _venv(tmp_path):
    venv = tmp_path / "venv"
    # No pip inside (ensurepip is slow): the base interpreter's pip installs
    # into the venv with --python.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                    "--system-site-packages", str(venv)], check=True, timeout=300)
    return venv / "bin" / "python"


def _pip_install(py, src):
    r = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-index", "--no-deps",
         "--no-build-isolation", "--disable-pip-version-check",
         "--root-user-action=ignore", str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def _run(py, code, env_extra, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SEGCACHE_LIBRARY")}
    env.update(env_extra)
    return subprocess.run([str(py), "-c", code], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


USE = (
    "import segcache, sys\n"
    "with segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10) as c:\n"
    "    c[b'k'] = b'v'; assert c[b'k'] == b'v'\n"
    "print(segcache.__file__); print(segcache.library_path())\n"
)


def test_pip_install_with_library_copied_next_to_the_package(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(PACKAGE_ROOT, src, ignore=shutil.ignore_patterns(
        "__pycache__", "tests", "*.egg-info", "build", "libsegcache.so"))
    shutil.copy(LIB, src / "segcache" / "libsegcache.so")
    py = _venv(tmp_path)
    _pip_install(py, src)
    r = _run(py, USE, {}, tmp_path)
    assert r.returncode == 0, r.stderr
    module, lib = r.stdout.split()
    assert "site-packages" in module and str(src) not in module
    assert lib == os.path.join(os.path.dirname(module), "libsegcache.so")


def test_pip_install_with_library_from_env(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(PACKAGE_ROOT, src, ignore=shutil.ignore_patterns(
        "__pycache__", "tests", "*.egg-info", "build", "libsegcache.so"))
    py = _venv(tmp_path)
    _pip_install(py, src)
    r = _run(py, USE, {"SEGCACHE_LIBRARY": LIB}, tmp_path)
    assert r.returncode == 0, r.stderr
    module, lib = r.stdout.split()
    assert "site-packages" in module
    assert lib == LIB
    # Without the variable the installed package finds no library and says
    # where it looked.
    r = _run(py, "import segcache; segcache.Cache()", {}, tmp_path)
    assert r.returncode != 0
    assert "libsegcache.so not found" in r.stderr and "SEGCACHE_LIBRARY" in r.stderr
