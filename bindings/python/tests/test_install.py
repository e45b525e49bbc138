"""`pip install ./bindings/python` installs a working package.

From a clean copy of the tree (the files git tracks, plus new ones it does
not ignore: no build outputs) into a fresh virtual environment, with
nothing done first: pip fetches the build requirements (setuptools) from
PyPI into its cache (a later run takes them from the cache), and setup.py
builds libsegcache.so with the Go toolchain and the compiled speedups, and
bundles both. The tree is copied and the Go library built once per run of
this module; `pip wheel` then reuses Go's build cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import segcache
from conftest import PACKAGE_ROOT, REPO

# Not about the hot methods: run once, with the default implementation.
IMPL_INDEPENDENT = True

LIB = segcache.library_path()
TIMEOUT = 900  # a cold Go build on a loaded machine


def _env(extra: dict | None = None) -> dict:
    """The environment of a user's shell: no variable of the test setup."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "SEGCACHE_LIBRARY", "SEGCACHE_SPEEDUPS", "GOTOOLCHAIN")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra or {})
    return env


def _check(cmd, env=None, cwd=None) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], env=env or _env(), cwd=cwd,
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A clean copy of the repository."""
    dst = tmp_path_factory.mktemp("tree") / "segcache"
    r = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, timeout=120,
    ) if shutil.which("git") else None
    if r is None or r.returncode != 0:  # not a checkout: the tree minus build outputs
        shutil.copytree(REPO, dst, ignore=shutil.ignore_patterns(
            ".git", "build", "target", "__pycache__", "*.so", "*.egg-info"))
        return dst
    for f in filter(None, r.stdout.decode().split("\0")):
        src = REPO / f
        if src.is_file():  # a deleted file still listed by --cached
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f)
    return dst


@pytest.fixture(scope="module")
def installed(tree, tmp_path_factory) -> Path:
    """A fresh venv (with pip) into which `pip install ./bindings/python`
    ran; returns its python."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    _check([sys.executable, "-m", "venv", venv])
    py = venv / "bin" / "python"
    r = _check([py, "-m", "pip", "install", "-v", "./bindings/python"], cwd=tree)
    assert "segcache._speedups built" in r.stderr + r.stdout
    return py


USE = """
import os, sys, segcache
with segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10) as c:
    c[b'k'] = b'v'; assert c[b'k'] == b'v'
    c.set_many({b'a': b'1'}); assert c.get_many([b'a', b'b']) == {b'a': b'1'}
print(segcache.FAST, os.path.dirname(segcache.__file__), segcache.library_path())
"""


def _use(py, cwd, env=None):
    r = _check([py, "-c", USE], env=env, cwd=cwd)
    fast, pkg, lib = r.stdout.split()
    return fast == "True", Path(pkg), Path(lib)


def test_pip_install_in_a_fresh_venv_builds_and_bundles_both(installed, tree, tmp_path):
    # From a directory that is neither the tree nor the package's.
    fast, pkg, lib = _use(installed, tmp_path)
    assert fast, "the compiled path is not the default after pip install"
    assert "site-packages" in pkg.parts and str(tree) not in str(pkg)
    assert lib == pkg / "libsegcache.so"
    assert list(pkg.glob("_speedups*.so")), list(pkg.iterdir())
    # The bundled library is the library: it exports the C ABI, versioned.
    out = _check(["nm", "-D", "--defined-only", lib]).stdout
    assert "segcache_get_multi@@SEGCACHE_0" in out


def test_pip_wheel_holds_the_library_and_the_extension(installed, tree, tmp_path):
    _check([installed, "-m", "pip", "wheel", "--no-deps", "-w", tmp_path / "dist",
            "./bindings/python"], cwd=tree)
    (whl,) = (tmp_path / "dist").glob("segcache-*.whl")
    assert "linux" in whl.name, whl.name  # a platform wheel: it holds native code
    names = zipfile.ZipFile(whl).namelist()
    assert "segcache/libsegcache.so" in names, names
    assert any(n.startswith("segcache/_speedups") and n.endswith(".so") for n in names), names


def _package_only(tmp_path) -> Path:
    """The package alone, away from the Go source (as an sdist unpacks)."""
    src = tmp_path / "src"
    shutil.copytree(PACKAGE_ROOT, src, ignore=shutil.ignore_patterns(
        "__pycache__", "tests", "*.egg-info", "build", "*.so"))
    return src


def _venv_without_pip(tmp_path):
    # ensurepip is slow: the base interpreter's pip installs into this venv
    # with --python.
    venv = tmp_path / "venv"
    _check([sys.executable, "-m", "venv", "--without-pip", venv])
    return venv / "bin" / "python"


def test_without_a_c_compiler_the_install_succeeds_on_the_ctypes_path(tmp_path):
    src = _package_only(tmp_path)
    py = _venv_without_pip(tmp_path)
    env = _env({"CC": "/bin/false", "SEGCACHE_BUNDLE_LIBRARY": LIB})
    r = _check([sys.executable, "-m", "pip", "--python", py, "install", "-v", src], env=env)
    assert "segcache._speedups NOT built" in r.stderr + r.stdout, r.stderr
    fast, pkg, lib = _use(py, tmp_path)
    assert not fast
    assert lib == pkg / "libsegcache.so"
    r = _check([py, "-c", "import segcache; print(segcache.SPEEDUPS_ERROR)"], cwd=tmp_path)
    assert "not built" in r.stdout


def test_without_go_source_the_library_comes_from_the_environment(tmp_path):
    src = _package_only(tmp_path)
    py = _venv_without_pip(tmp_path)
    r = _check([sys.executable, "-m", "pip", "--python", py, "install", "-v", src])
    assert "no libsegcache.so bundled" in r.stderr + r.stdout, r.stderr
    fast, _, lib = _use(py, tmp_path, env=_env({"SEGCACHE_LIBRARY": LIB}))
    assert fast and lib == Path(LIB)
    # Without the variable the installed package finds no library and says
    # where it looked.
    r = subprocess.run([py, "-c", "import segcache; segcache.Cache()"], env=_env(),
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "libsegcache.so not found" in r.stderr and "SEGCACHE_LIBRARY" in r.stderr
