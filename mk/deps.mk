# The test-tool installer that make test runs first (.ci/deps, driven by
# the headers of .ci/install.d/*.sh): its own tests, with fake apt-get/id.
TEST_TARGETS += test-deps

.PHONY: test-deps
test-deps:
	tests/deps/test_deps.sh
