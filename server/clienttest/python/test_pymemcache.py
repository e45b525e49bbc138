"""segcached driven by pymemcache: every command pymemcache has.

Run through `make test-server` (it builds segcached and sets SEGCACHED);
pymemcache comes from .ci/install.d/server.sh.
"""

import os
import signal
import subprocess
import tempfile
import time

import pytest
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheClientError, MemcacheServerError

START_TIMEOUT = 60  # seconds: a bound on a loaded machine, not a measurement


@pytest.fixture
def node():
    binary = os.environ.get("SEGCACHED")
    if not binary:
        pytest.fail("SEGCACHED is not set: run these tests with `make test-server`")
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "port")
        log = open(os.path.join(tmp, "log"), "w+")
        proc = subprocess.Popen(
            [binary, "-l", "127.0.0.1", "-p", "0", "-port-file", port_file],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(port_file):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.seek(0)
                pytest.fail("segcached did not start:\n" + log.read())
            time.sleep(0.02)
        with open(port_file) as f:
            port = int(f.read())
        try:
            yield port
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=START_TIMEOUT) == 0, "segcached did not exit cleanly on SIGTERM"
            log.close()


@pytest.fixture
def mc(node):
    c = Client(("127.0.0.1", node), connect_timeout=START_TIMEOUT, timeout=START_TIMEOUT)
    yield c
    c.close()


def test_set_get_flags_and_multi_get(mc):
    assert mc.set(b"a", b"hello")
    assert mc.get(b"a") == b"hello"
    assert mc.get(b"missing") is None
    # pymemcache's raw interface exposes the flags memcached keeps with a value.
    assert mc.raw_command(b"set f 12345 0 1\r\nx", b"\r\n") == b"STORED"
    assert mc.raw_command(b"get f", b"END\r\n") == b"VALUE f 12345 1\r\nx\r\n"
    many = {b"k%d" % i: b"v%d" % i for i in range(100)}
    assert mc.set_many(many) == []
    got = mc.get_many(list(many) + [b"missing"])
    assert got == many


def test_add_replace_append_prepend(mc):
    assert mc.add(b"a", b"1", noreply=False)
    assert not mc.add(b"a", b"2", noreply=False)
    assert not mc.replace(b"b", b"x", noreply=False)
    assert mc.replace(b"a", b"3", noreply=False)
    assert mc.append(b"a", b"4", noreply=False)
    assert mc.prepend(b"a", b"2", noreply=False)
    assert mc.get(b"a") == b"234"
    assert not mc.append(b"nope", b"x", noreply=False)
    # noreply forms: the next request's answer proves nothing was sent back.
    mc.set(b"q", b"1", noreply=True)
    mc.append(b"q", b"2", noreply=True)
    assert mc.get(b"q") == b"12"


def test_cas_gets(mc):
    mc.set(b"c", b"v1")
    value, token = mc.gets(b"c")
    assert value == b"v1"
    assert mc.cas(b"c", b"v2", token, noreply=False) is True
    assert mc.cas(b"c", b"v3", token, noreply=False) is False  # EXISTS
    assert mc.cas(b"missing", b"v", token, noreply=False) is None  # NOT_FOUND
    assert mc.get(b"c") == b"v2"
    got = mc.gets_many([b"c", b"missing"])
    assert list(got) == [b"c"] and got[b"c"][0] == b"v2"


def test_incr_decr(mc):
    mc.set(b"n", b"10")
    assert mc.incr(b"n", 5, noreply=False) == 15
    assert mc.decr(b"n", 100, noreply=False) == 0
    assert mc.incr(b"missing", 1, noreply=False) is None
    mc.set(b"s", b"abc")
    with pytest.raises(MemcacheClientError):
        mc.incr(b"s", 1, noreply=False)


def test_delete_touch_expiry(mc):
    mc.set(b"d", b"x")
    assert mc.delete(b"d", noreply=False)
    assert not mc.delete(b"d", noreply=False)
    mc.set(b"t", b"x")
    assert mc.touch(b"t", 3600, noreply=False)
    assert not mc.touch(b"missing", 10, noreply=False)
    assert mc.get(b"t") == b"x"
    mc.set(b"e", b"x", expire=1)
    time.sleep(2.1)  # the engine never returns an item after its TTL
    assert mc.get(b"e") is None
    mc.set(b"gone", b"x", expire=-1)
    assert mc.get(b"gone") is None


def test_flush_stats_version(mc):
    mc.set(b"a", b"1")
    assert mc.flush_all(noreply=False)
    assert mc.get(b"a") is None
    stats = mc.stats()
    assert stats[b"cmd_get"] >= 1
    assert b"segcache_heap_bytes" in stats
    assert mc.version().startswith(b"1.6")
    settings = mc.stats("settings")
    assert settings[b"maxconns"] == 1024
    mc.quit()  # the server closes; the client reconnects on the next call
    assert mc.get(b"a") is None


def test_too_large_value(mc):
    with pytest.raises(MemcacheServerError):
        mc.set(b"big", b"x" * (2 << 20), noreply=False)
    assert mc.set(b"ok", b"x" * 1000, noreply=False)
