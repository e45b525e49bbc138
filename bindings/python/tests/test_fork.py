"""fork() and multiprocessing.

The Go runtime inside libsegcache does not survive fork(): the child's
first garbage collection hangs. The binding must refuse use in a forked
child with a clear error, and "spawn"/"forkserver" workers must work. Every
child runs in a fresh interpreter under a timeout, so a hang fails the test
instead of wedging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import PACKAGE_ROOT, run_python

FORK_CHILD = r"""
import os, sys
import segcache

c = segcache.Cache(heap_bytes=4 << 20, segment_bytes=256 << 10)
c.set(b"k", b"parent")

pid = os.fork()
if pid == 0:
    # In the child: every use must raise ForkError at once, never call into
    # the runtime (which would hang), and the process must exit cleanly.
    failures = []
    for name, op in [
        ("get", lambda: c.get(b"k")),
        ("set", lambda: c.set(b"k", b"child")),
        ("get_many", lambda: c.get_many([b"k"])),
        # Empty batches too: they still name a cache of the parent.
        ("get_many([])", lambda: c.get_many([])),
        ("set_many({})", lambda: c.set_many({})),
        ("delete_many([])", lambda: c.delete_many([])),
        ("incr", lambda: c.incr(b"k")),
        ("stats", lambda: c.stats()),
        ("open", lambda: segcache.Cache()),
        ("version", lambda: segcache.library_version()),
    ]:
        try:
            op()
            failures.append(name + ": no error")
        except segcache.ForkError as e:
            if "spawn" not in str(e) or "fork" not in str(e):
                failures.append(name + ": unclear message " + str(e))
        except BaseException as e:
            failures.append(name + ": " + repr(e))
    c.close()  # must not call into the runtime either
    print("child:", failures or "ok", flush=True)
    del c
    sys.exit(1 if failures else 0)  # runs atexit + finalizers: must not hang

_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status), status
assert os.WEXITSTATUS(status) == 0, os.WEXITSTATUS(status)
# The parent is unaffected.
assert c.get(b"k") == b"parent"
c.set(b"k2", b"v")
assert c.get(b"k2") == b"v"
c.close()
print("parent: ok")
"""


def test_forked_child_gets_a_clear_error():
    r = run_python(FORK_CHILD, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "child: ok" in r.stdout and "parent: ok" in r.stdout, r.stdout + r.stderr


MP_WORKER = r"""
import multiprocessing as mp
import segcache


def worker(n):
    # A spawn/forkserver worker is a fresh interpreter: it loads the library
    # itself and uses its own cache.
    with segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10) as c:
        c.set(b"n", b"%d" % n)
        for _ in range(n):
            c.incr(b"n")
        return int(c.get(b"n"))


def forked_worker(_):
    try:
        PARENT_CACHE.get(b"k")
    except segcache.ForkError as e:
        return "ForkError: " + str(e)
    return "no error"


if __name__ == "__main__":
    method = __import__("sys").argv[1]
    PARENT_CACHE = segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10)
    PARENT_CACHE.set(b"k", b"v")
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:
        if method == "fork":
            out = pool.map(forked_worker, range(2))
            assert all(o.startswith("ForkError") for o in out), out
        else:
            assert pool.map(worker, [1, 5, 10]) == [2, 10, 20]
    assert PARENT_CACHE.get(b"k") == b"v"
    print(method, "ok")
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_multiprocessing(tmp_path, method):
    # The script must be a file: spawn workers re-import __main__.
    script = tmp_path / "mp_worker.py"
    script.write_text(MP_WORKER)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PACKAGE_ROOT)
    r = subprocess.run(
        [sys.executable, str(script), method],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{method} ok" in r.stdout


def test_fork_before_loading_is_fine():
    # A child forked before the library was ever loaded loads its own copy.
    code = r"""
import os, sys
import segcache  # imports, but does not load the library
pid = os.fork()
if pid == 0:
    with segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10) as c:
        c.set(b"k", b"v")
        ok = c.get(b"k") == b"v"
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
print("ok")
"""
    r = run_python(code, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr



# A fork(2) through ctypes runs the C library's at-fork handlers but none of
# Python's (os.register_at_fork), so the binding's Python-level guard never
# hears of it: the refusal must come from C (the library's own fork check,
# and the compiled path's at-fork handler). The child reports through its
# exit status; the parent waits with a deadline and kills a child that
# hangs, so a hang fails the test instead of blocking the suite.
RAW_FORK_CHILD = r"""
import ctypes, os, signal, sys, time
import segcache

c = segcache.Cache(heap_bytes=4 << 20, segment_bytes=256 << 10)
c.set(b"k", b"parent")
libc = ctypes.CDLL(None, use_errno=True)
pid = libc.fork()
if pid < 0:
    print("fork failed", ctypes.get_errno()); sys.exit(3)
if pid == 0:
    bad = 0
    for op in (lambda: c.get(b"k"), lambda: c.set(b"k", b"child"),
               lambda: c.get_many([b"k"]), lambda: c.set_many({b"k": b"v"}),
               lambda: b"k" in c, lambda: c.delete(b"x"), lambda: c.stats()):
        try:
            op()
            bad |= 1  # answered: the guard missed the fork
        except segcache.ForkError:
            pass
        except BaseException:
            bad |= 2
    os._exit(bad)
deadline = time.monotonic() + 60
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        print("child hung"); sys.exit(4)
    time.sleep(0.05)
assert os.WIFEXITED(status), status
print("child exit", os.WEXITSTATUS(status))
assert c.get(b"k") == b"parent"
c.close()
print("parent: ok")
"""


def test_raw_fork_child_gets_fork_error(impl):
    r = run_python(RAW_FORK_CHILD, timeout=180)
    assert r.returncode == 0 and "child exit 0" in r.stdout and "parent: ok" in r.stdout, (
        r.stdout + r.stderr)
