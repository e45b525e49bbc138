"""Builds the segcache package: the compiled speedups and libsegcache.so.

`pip install ./bindings/python` (or `pip wheel`, `python -m build --wheel`)
needs nothing done first:

- libsegcache.so is built from the repository's Go source with the Go
  toolchain, as the Makefile builds it (its GOTOOLCHAIN, -buildmode=c-shared,
  capi/segcache.map as version script, soname libsegcache.so), and bundled
  next to the package. SEGCACHE_BUNDLE_LIBRARY=/path/libsegcache.so bundles
  that file instead. Without Go (or the source) a library already copied to
  segcache/libsegcache.so is bundled, else none: the package then finds one
  through SEGCACHE_LIBRARY at run time.
- segcache._speedups (C, no dependency but the Python headers) is built when
  a C compiler works; without one the install still succeeds and
  segcache.Cache is the ctypes implementation (segcache.FAST is False).

Both outcomes are printed (`pip install -v` shows them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
LIBRARY = "libsegcache.so"


def say(msg: str) -> None:
    print(f"segcache: {msg}", file=sys.stderr, flush=True)


def go_source() -> Path | None:
    """The repository root holding the Go library's source, if reachable:
    SEGCACHE_SOURCE, else the tree this package sits in."""
    env = os.environ.get("SEGCACHE_SOURCE")
    for root in ([Path(env)] if env else []) + [HERE.parent.parent]:
        if (root / "go.mod").is_file() and (root / "capi" / "segcache.map").is_file():
            return root.resolve()
    return None


def go_toolchain(root: Path) -> str | None:
    """The Go toolchain the Makefile pins (its `export GOTOOLCHAIN := ...`)."""
    try:
        text = (root / "Makefile").read_text()
    except OSError:
        return None
    m = re.search(r"^export\s+GOTOOLCHAIN\s*:?=\s*(\S+)", text, re.M)
    return m.group(1) if m else None


def build_library(out: Path) -> bool:
    """Puts libsegcache.so at out; False (and says why) when it cannot."""
    given = os.environ.get("SEGCACHE_BUNDLE_LIBRARY")
    if given:
        shutil.copyfile(given, out)
        say(f"bundled {given} (SEGCACHE_BUNDLE_LIBRARY)")
        return True
    root = go_source()
    go = shutil.which("go")
    if root is not None and go is not None:
        env = dict(os.environ)
        pinned = go_toolchain(root)
        # An empty GOTOOLCHAIN is unset to the go command too, which then
        # runs its configured default ("local" can be older than go.mod
        # asks for: the build failed and no library was bundled): the pin
        # applies.
        if pinned and not env.get("GOTOOLCHAIN"):
            env["GOTOOLCHAIN"] = pinned
        env["CGO_ENABLED"] = "1"
        ldflags = (
            f"-extldflags '-Wl,--version-script={root / 'capi' / 'segcache.map'} "
            f"-Wl,-soname,{LIBRARY}'"
        )
        cmd = [go, "build", "-buildmode=c-shared", "-trimpath", "-ldflags", ldflags,
               "-o", str(out), "./capi"]
        say(f"building {LIBRARY} with Go ({env.get('GOTOOLCHAIN', 'default toolchain')}) "
            f"from {root}")
        r = subprocess.run(cmd, cwd=root, env=env)
        if r.returncode == 0:
            out.with_suffix(".h").unlink(missing_ok=True)  # cgo's raw header
            return True
        say(f"building {LIBRARY} failed (exit {r.returncode})")
    elif root is None:
        say(f"no Go source found (set SEGCACHE_SOURCE to the repository) to build {LIBRARY}")
    else:
        say(f"no Go toolchain on PATH to build {LIBRARY}")
    copied = HERE / "segcache" / LIBRARY
    if copied.is_file():
        shutil.copyfile(copied, out)
        say(f"bundled the copy at {copied}")
        return True
    say(f"no {LIBRARY} bundled: set SEGCACHE_LIBRARY to one at run time")
    return False


class BuildPy(build_py):
    """Copies the Python files, then adds libsegcache.so beside them."""

    def run(self):
        super().run()
        if self.dry_run:
            return
        # Absolute: the Go build runs in the repository root.
        out = Path(self.build_lib).resolve() / "segcache" / LIBRARY
        out.parent.mkdir(parents=True, exist_ok=True)
        build_library(out)


class BuildExt(build_ext):
    """Builds the speedups when a C compiler works; never fails the
    install over them (the ctypes path serves instead)."""

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as e:  # compiler missing or failing: any kind
            say(f"segcache._speedups NOT built ({type(e).__name__}: {e}); "
                "segcache.Cache will be the ctypes implementation (segcache.FAST is False)")
            return
        say("segcache._speedups built: segcache.Cache is the compiled implementation")


class BinaryDistribution(Distribution):
    """The wheel holds native code (libsegcache.so) even when the extension
    was not built, so it must be tagged for this platform."""

    def has_ext_modules(self):
        return True


setup(
    ext_modules=[
        Extension(
            "segcache._speedups",
            sources=["segcache/_speedups.c"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
            libraries=["dl"],
        )
    ],
    cmdclass={"build_py": BuildPy, "build_ext": BuildExt},
    distclass=BinaryDistribution,
)
