# The Python binding (bindings/python): pytest suite, example, benchmark.
#
#   make test-python    the binding's tests (pytest) + the example
#   make demo-python    run examples/python/demo.py
#   make bench-python   bench/python/bench.py (BENCHMARKS.md section 4)
#   make python-package copy libsegcache.so next to the package, so that
#                       `pip install bindings/python` ships it
#
# Everything runs against the freshly built $(BUILD)/libsegcache.so (the
# capi fragment's `lib` target) through SEGCACHE_LIBRARY, and imports the
# package from the source tree.

PYTHON ?= python3
PY_ENV := SEGCACHE_LIBRARY=$(BUILD)/libsegcache.so PYTHONPATH=$(CURDIR)/bindings/python \
          PYTHONDONTWRITEBYTECODE=1

ALL_TARGETS   += demo-python
TEST_TARGETS  += test-python
BENCH_TARGETS += bench-python

.PHONY: test-python demo-python bench-python python-package

# pytest exits 5 when it collected no test; make stops on it like on any
# failure, and the message says why. The suite's conftest also fails a run
# that skipped tests.
test-python: lib
	@cd bindings/python && $(PY_ENV) $(PYTHON) -m pytest -q -p no:cacheprovider tests; \
	  rc=$$?; [ $$rc -ne 5 ] || echo "test-python: pytest collected no tests" >&2; exit $$rc
	$(PY_ENV) $(PYTHON) examples/python/demo.py

demo-python: lib
	$(PY_ENV) $(PYTHON) examples/python/demo.py

bench-python: lib
	@mkdir -p $(BUILD)
	$(PY_ENV) $(PYTHON) bench/python/bench.py | tee $(BUILD)/bench-python.txt

python-package: lib
	cp $(BUILD)/libsegcache.so bindings/python/segcache/libsegcache.so
