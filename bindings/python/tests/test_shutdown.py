"""Interpreter exit with caches still open: no hang, no crash, no noise."""

from __future__ import annotations

from conftest import run_python

SCRIPT = r"""
import gc, threading
import segcache

# Open caches in every state a program can leave them in at exit.
GLOBAL = segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10)
GLOBAL.set(b"k", b"v")

class Holder:
    pass
h = Holder()
h.self = h                      # a reference cycle, collected at shutdown
h.cache = segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10)
h.cache.set(b"k", b"v")

closed = segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10)
closed.close()

busy = segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10)
started = threading.Event()

def hammer():
    # A daemon thread still calling when the interpreter exits: the cache is
    # closed under it (Closed), or the thread is frozen by the interpreter.
    try:
        while True:
            busy.set(b"x", b"y")
            busy.get(b"x")
            started.set()
    except segcache.Closed:
        pass

threading.Thread(target=hammer, daemon=True).start()
started.wait()
print("exiting", flush=True)
"""


def test_exit_with_open_caches():
    for _ in range(3):  # shutdown races differ from run to run
        r = run_python(SCRIPT, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout == "exiting\n"
        assert r.stderr == "", r.stderr


def test_cache_dropped_during_finalization():
    # A cache whose last reference goes away while modules are torn down.
    code = (
        "import segcache\n"
        "class Late:\n"
        "    def __init__(self):\n"
        "        self.c = segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10)\n"
        "    def __del__(self):\n"
        "        self.c.close()\n"
        "late = Late()\n"
        "late.c.set(b'k', b'v')\n"
    )
    r = run_python(code, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr
