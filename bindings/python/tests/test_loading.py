"""Finding and loading libsegcache.so; each case in a fresh interpreter,
since a process loads the library once."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import segcache
from segcache import _lib
from conftest import run_python

# Not about the hot methods: run once, with the default implementation.
IMPL_INDEPENDENT = True

LIB = segcache.library_path()


def test_import_does_not_need_the_library(tmp_path):
    r = run_python(
        "import segcache; print(segcache.__version__, segcache.EVICTIONS[6])",
        env={"SEGCACHE_LIBRARY": str(tmp_path / "nowhere.so")},
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [segcache.__version__, "merge"]


def test_missing_library_lists_the_paths_tried(tmp_path):
    missing = tmp_path / "nowhere" / "libsegcache.so"
    r = run_python(
        "import segcache\n"
        "try:\n"
        "    segcache.Cache()\n"
        "except segcache.LibraryError as e:\n"
        "    assert isinstance(e, OSError)\n"
        "    print('ERR', e)\n",
        env={"SEGCACHE_LIBRARY": str(missing)},
    )
    assert r.returncode == 0, r.stderr
    assert "ERR libsegcache.so not found" in r.stdout
    assert str(missing) in r.stdout
    assert "SEGCACHE_LIBRARY" in r.stdout


def test_default_search_order_is_package_then_build(tmp_path):
    r = run_python(
        "import segcache; print('\\n'.join(segcache.library_candidates()))",
        env={"SEGCACHE_LIBRARY": None},
    )
    assert r.returncode == 0, r.stderr
    pkg, build = r.stdout.split()
    assert Path(pkg).parent.name == "segcache" and Path(pkg).name == "libsegcache.so"
    assert Path(build).parent.name == "build"
    assert Path(build).parent.parent == Path(pkg).parents[3]  # the repo root


def test_env_var_overrides(tmp_path):
    copy = tmp_path / "elsewhere.so"
    shutil.copy(LIB, copy)
    r = run_python(
        "import segcache; c = segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10);"
        "c.set(b'k', b'v'); assert c.get(b'k') == b'v'; print(segcache.library_path())",
        env={"SEGCACHE_LIBRARY": str(copy)},
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(copy)


def test_env_var_relative_path_is_the_file_it_names(tmp_path):
    # SEGCACHE_LIBRARY is a path, so a bare file name is a file in the
    # current directory. dlopen() takes a name without a slash as a library
    # to search for (LD_LIBRARY_PATH, the system directories), not as that
    # file: the binding failed with "cannot open shared object file" beside
    # the file, or loaded another libsegcache.so found on the search path.
    here = tmp_path / "here"
    other = tmp_path / "other"
    here.mkdir()
    other.mkdir()
    shutil.copy(LIB, here / "libsegcache.so")
    shutil.copy(LIB, other / "libsegcache.so")
    r = run_python(
        "import segcache; c = segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10);"
        "c.set(b'k', b'v'); assert c.get(b'k') == b'v'; print(segcache.library_path());"
        "print(*sorted({l.split()[-1] for l in open('/proc/self/maps') if 'libsegcache' in l}))",
        env={"SEGCACHE_LIBRARY": "libsegcache.so", "LD_LIBRARY_PATH": str(other)},
        cwd=str(here),
    )
    assert r.returncode == 0, r.stderr
    path, mapped = r.stdout.splitlines()
    assert path == str(here / "libsegcache.so")
    assert mapped == str(here / "libsegcache.so")


def test_library_next_to_the_package_is_found(tmp_path):
    # A copy of the package with the library beside it, as pip installs it.
    pkg = tmp_path / "segcache"
    shutil.copytree(Path(segcache.__file__).parent, pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy(LIB, pkg / "libsegcache.so")
    env = dict(os.environ)
    env.pop("SEGCACHE_LIBRARY", None)
    env["PYTHONPATH"] = str(tmp_path)
    r = subprocess.run(
        [os.sys.executable, "-c",
         "import segcache; c = segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10);"
         "c[b'k'] = b'v'; print(segcache.library_path())"],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(pkg / "libsegcache.so")


def _cc():
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed to build the fake libraries"
    return cc


def _fake_library(tmp_path, version: int, extra: str = "") -> Path:
    src = tmp_path / "fake.c"
    src.write_text(
        "#include <stdint.h>\n"
        f"uint32_t segcache_version(void) {{ return {version}u; }}\n"
        "const char *segcache_strerror(int s) { (void)s; return \"fake\"; }\n" + extra
    )
    out = tmp_path / "libfake.so"
    subprocess.run([_cc(), "-shared", "-fPIC", "-o", str(out), str(src)], check=True)
    return out


# The functions the binding requires, other than version and strerror.
STUBS = "".join(
    f"int {name}(void) {{ return 0; }}\n"
    for name in _lib._SIGNATURES
    if name not in ("segcache_version", "segcache_strerror")
)


@pytest.mark.parametrize("version", [10000, 20100])
def test_major_version_mismatch_is_refused(tmp_path, version):
    lib = _fake_library(tmp_path, version, STUBS)
    r = run_python(
        "import segcache\n"
        "try:\n"
        "    segcache.Cache()\n"
        "except segcache.LibraryError as e:\n"
        "    print('ERR', e)\n",
        env={"SEGCACHE_LIBRARY": str(lib)},
    )
    assert r.returncode == 0, r.stderr
    major = version // 10000
    assert "ERR" in r.stdout and f"libsegcache {major}." in r.stdout, r.stdout
    assert "major version 0" in r.stdout


def test_minor_version_difference_is_accepted(tmp_path):
    lib = _fake_library(tmp_path, 905, STUBS)  # 0.9.5
    r = run_python(
        "import segcache; print(segcache.library_version())",
        env={"SEGCACHE_LIBRARY": str(lib)},
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(0, 9, 5)"


def test_not_a_segcache_library(tmp_path):
    lib = _fake_library(tmp_path, 100)  # only version and strerror
    r = run_python(
        "import segcache\n"
        "try:\n"
        "    segcache.Cache()\n"
        "except segcache.LibraryError as e:\n"
        "    print('ERR', e)\n",
        env={"SEGCACHE_LIBRARY": str(lib)},
    )
    assert r.returncode == 0, r.stderr
    assert "does not export segcache_" in r.stdout


def test_not_a_shared_library(tmp_path):
    bogus = tmp_path / "libsegcache.so"
    bogus.write_text("not an ELF file")
    r = run_python(
        "import segcache\n"
        "try:\n"
        "    segcache.Cache()\n"
        "except segcache.LibraryError as e:\n"
        "    print('ERR', e)\n",
        env={"SEGCACHE_LIBRARY": str(bogus)},
    )
    assert r.returncode == 0, r.stderr
    assert "ERR" in r.stdout and str(bogus) in r.stdout
