# bx: thin wrapper around CMake. `make demo` and `make test` do all set-up on a fresh Debian 12
# machine (packages, configure, build) before they run.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
CTEST_ARGS ?=

.PHONY: all deps configure build test demo bench test-asan fuzz fuzz-build fuzz-smoke format format-check install deb clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) $(CTEST_ARGS)

demo: build
	@./examples/demo.sh $(BUILD)

# Benchmarks: a Release build of their own (timings are reported, never asserted).
BENCH_BUILD ?= build-bench
BENCH_ARGS  ?=
bench: deps
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release -DBX_BUILD_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(BENCH_BUILD) -j $(JOBS) --target bx-bench bxd calc_server
	$(BENCH_BUILD)/bin/bx-bench $(BENCH_ARGS)

$(ASAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBX_SANITIZE=ON $(CMAKE_ARGS)

test-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# libFuzzer targets (clang), each run for FUZZ_SECONDS on a scratch copy of its seed corpus
# (fuzz_stream takes longer inputs: a stream of several frames). `make fuzz-smoke` is the same
# for FUZZ_SMOKE_SECONDS each, failing on the first crash, leak or failed check.
FUZZ_BUILD         ?= build-fuzz
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_TARGETS       ?= decode args lob msgbox stream th_handshake th_channel th_box mlang
FUZZ_RUN = for t in $(FUZZ_TARGETS); do \
	  ml=4096; [ $$t = stream ] && ml=16384; \
	  rm -rf $(FUZZ_BUILD)/corpus-$$t && cp -r tests/fuzz/corpus/$$t $(FUZZ_BUILD)/corpus-$$t && \
	  $(FUZZ_BUILD)/bin/fuzz_$$t -max_total_time=$(1) -max_len=$$ml \
	    -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- $(FUZZ_BUILD)/corpus-$$t || exit 1; \
	done

fuzz-build: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBX_FUZZ=ON \
	  -DBX_BUILD_EXAMPLES=OFF -DBX_WERROR=OFF $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))

fuzz: fuzz-build
	$(call FUZZ_RUN,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build
	$(call FUZZ_RUN,$(FUZZ_SMOKE_SECONDS))

# tests/codegen holds generator inputs whose exact layout the golden diagnostics depend on.
FORMAT_FILES = $(shell git ls-files '*.c' '*.h' ':!tests/codegen' 2>/dev/null)

format-check: deps
	clang-format --dry-run --Werror $(FORMAT_FILES)

format: deps
	clang-format -i $(FORMAT_FILES)

# The library, headers, bxgen and the tools, from a Release build of their own without tests,
# examples or benchmarks (and only the packages those need). PREFIX is read on every run.
INSTALL_BUILD ?= build-install
PREFIX        ?= /usr/local
install:
	@./scripts/install-deps.sh --build-only
	cmake -S . -B $(INSTALL_BUILD) -DCMAKE_BUILD_TYPE=Release -DBX_BUILD_TESTS=OFF \
	  -DBX_BUILD_EXAMPLES=OFF -DBX_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS)
	cmake --build $(INSTALL_BUILD) -j $(JOBS)
	cmake --install $(INSTALL_BUILD)

# Debian packages libbx, libbx-dev and bx-tools (CPack) from a Release build for /usr, in
# $(DEB_BUILD)/.
DEB_BUILD ?= build-deb
deb:
	@./scripts/install-deps.sh --build-only
	cmake -S . -B $(DEB_BUILD) -DCMAKE_BUILD_TYPE=Release -DBX_BUILD_TESTS=OFF \
	  -DBX_BUILD_EXAMPLES=OFF -DBX_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=/usr $(CMAKE_ARGS)
	cmake --build $(DEB_BUILD) -j $(JOBS)
	cd $(DEB_BUILD) && cpack
	@ls $(DEB_BUILD)/*.deb

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(INSTALL_BUILD) $(DEB_BUILD)
