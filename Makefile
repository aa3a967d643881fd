# bx: thin wrapper around CMake. `make demo` and `make test` do all set-up on a fresh Debian 12
# machine (packages, configure, build) before they run.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
CTEST_ARGS ?=

.PHONY: all deps configure build test demo bench stress test-asan fuzz fuzz-build fuzz-smoke format format-check install deb clean

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

# Load through bxd, the long form of the bxd_flood test: STRESS_CLIENTS x STRESS_CALLS over Unix
# and WebSocket, every call checked exactly once, then the same beside a flooding client
# (figures printed: p50/p99, peak RSS; docs/reliability.md).
STRESS_CLIENTS ?= 200
STRESS_CALLS   ?= 5000
stress: build
	LOAD_LIMIT_S=900 tests/load/flood.sh $(BUILD)/bin/bxd $(BUILD)/bin/calc_server \
	  $(BUILD)/bin/bx_load $(STRESS_CLIENTS) $(STRESS_CALLS)

$(ASAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBX_SANITIZE=ON $(CMAKE_ARGS)

test-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# libFuzzer targets (clang), each run for FUZZ_SECONDS on a scratch copy of its seed corpus
# tests/fuzz/corpus/NAME. `make fuzz-smoke` (run by .ci/run) is the same for FUZZ_SMOKE_SECONDS
# each, failing on the first crash, leak or failed check. Both print, per target, libFuzzer's
# final figures: executions, coverage (cov: edges, ft: features) and corpus size.
# A new target: one line below (its program is tests/fuzz/fuzz_NAME.c, its seeds
# tests/fuzz/corpus/NAME); a target taking longer inputs sets FUZZ_MAXLEN_NAME.
FUZZ_BUILD         ?= build-fuzz
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 12
FUZZ_TARGETS       ?=
FUZZ_TARGETS       += decode
FUZZ_TARGETS       += args
FUZZ_TARGETS       += lob
FUZZ_TARGETS       += msgbox
FUZZ_TARGETS       += stream
FUZZ_TARGETS       += ws
FUZZ_TARGETS       += th_handshake
FUZZ_TARGETS       += th_channel
FUZZ_TARGETS       += th_box
FUZZ_TARGETS       += mlang
FUZZ_MAXLEN        ?= 4096
FUZZ_MAXLEN_stream ?= 16384
FUZZ_RUN = for t in $(FUZZ_TARGETS); do \
	  ml=$(FUZZ_MAXLEN); $(foreach f,$(FUZZ_TARGETS),$(if $(FUZZ_MAXLEN_$(f)),[ $$t = $(f) ] && ml=$(FUZZ_MAXLEN_$(f));)) \
	  rm -rf $(FUZZ_BUILD)/corpus-$$t && cp -r tests/fuzz/corpus/$$t $(FUZZ_BUILD)/corpus-$$t && \
	  $(FUZZ_BUILD)/bin/fuzz_$$t -max_total_time=$(1) -max_len=$$ml -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- $(FUZZ_BUILD)/corpus-$$t \
	    >$(FUZZ_BUILD)/fuzz-$$t.log 2>&1 || { tail -40 $(FUZZ_BUILD)/fuzz-$$t.log; exit 1; }; \
	  printf 'fuzz_%-8s %s execs=%s %s\n' $$t \
	    "$$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[^ ]+' $(FUZZ_BUILD)/fuzz-$$t.log | tail -1)" \
	    "$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_BUILD)/fuzz-$$t.log)" \
	    "$$(grep -Eo 'exec/s: [0-9]+' $(FUZZ_BUILD)/fuzz-$$t.log | tail -1)"; \
	done

fuzz-build: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBX_FUZZ=ON \
	  -DBX_BUILD_EXAMPLES=OFF -DBX_WERROR=OFF $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))

fuzz: fuzz-build
	@$(call FUZZ_RUN,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build
	@$(call FUZZ_RUN,$(FUZZ_SMOKE_SECONDS))

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
