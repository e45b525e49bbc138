# The Python binding (bindings/python): pytest suite, example, benchmark.
#
#   make test-python    the binding's tests (pytest; every Cache test runs on
#                       both the compiled and the ctypes implementation)
#                       + the example
#   make python-ext     build segcache._speedups in place (the compiled path)
#   make demo-python    run examples/python/demo.py
#   make bench-python   bench/python/bench.py: both paths against an empty ctypes call
#   make python-package copy libsegcache.so next to the package (optional:
#                       `pip install bindings/python` builds it itself)
#
# Everything runs against the freshly built $(BUILD)/libsegcache.so (the
# capi fragment's `lib` target) through SEGCACHE_LIBRARY, and imports the
# package from the source tree.

PYTHON ?= python3
PY_ENV := SEGCACHE_LIBRARY=$(BUILD)/libsegcache.so PYTHONPATH=$(CURDIR)/bindings/python \
          PYTHONDONTWRITEBYTECODE=1
PY_EXT := bindings/python/segcache/_speedups$(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null)

ALL_TARGETS   += demo-python
TEST_TARGETS  += test-python
BENCH_TARGETS += bench-python

.PHONY: test-python demo-python bench-python python-package python-ext

# The compiled path, built in place by the same setup.py that pip runs. The
# import check fails the build if the extension did not come out (setup.py
# itself tolerates that, for users without a compiler).
python-ext: $(PY_EXT)

$(PY_EXT): bindings/python/segcache/_speedups.c bindings/python/setup.py
	cd bindings/python && $(PYTHON) setup.py -q build_ext --inplace --build-temp $(BUILD)/python-ext
	$(PY_ENV) SEGCACHE_SPEEDUPS=1 $(PYTHON) -c 'import segcache; assert segcache.FAST'

# pytest exits 5 when it collected no test; make stops on it like on any
# failure, and the message says why. The suite's conftest also fails a run
# that skipped tests.
test-python: lib python-ext
	@cd bindings/python && $(PY_ENV) $(PYTHON) -m pytest -q -p no:cacheprovider tests; \
	  rc=$$?; [ $$rc -ne 5 ] || echo "test-python: pytest collected no tests" >&2; exit $$rc
	$(PY_ENV) $(PYTHON) examples/python/demo.py
	$(PY_ENV) SEGCACHE_SPEEDUPS=0 $(PYTHON) examples/python/demo.py

demo-python: lib python-ext
	$(PY_ENV) $(PYTHON) examples/python/demo.py

bench-python: lib python-ext
	@mkdir -p $(BUILD)
	$(PY_ENV) $(PYTHON) bench/python/bench.py | tee $(BUILD)/bench-python.txt

python-package: lib
	cp $(BUILD)/libsegcache.so bindings/python/segcache/libsegcache.so
