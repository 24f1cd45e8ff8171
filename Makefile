# vecgraph — the two commands a newcomer needs:
#   make demo   install what is missing, build (Release), run sql/demo.sql in the sqlite3 shell
#   make test   install what is missing, build, run the whole suite (Release + ASan/UBSan) with ctest
# Like DuckDB's Makefile, this only wraps CMake; `cmake -S . -B build` works as well.

BUILD_DIR     ?= build/release
ASAN_DIR      ?= build/asan
TSAN_DIR      ?= build/tsan
JOBS          ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS   ?=
VECGRAPH_CUDA ?= AUTO

# Debian packages the build and tests need (checked one by one; only the missing are installed).
DEB_PACKAGES := cmake make g++ pkg-config sqlite3 libsqlite3-dev libtbb-dev libxsimd-dev libgtest-dev libbenchmark-dev

.PHONY: all deps release asan tsan demo test test-release test-asan test-tsan bench clean

all: release

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "vecgraph: installing missing packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

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

test: test-release test-asan test-tsan

bench: release
	$(BUILD_DIR)/bench/vecgraph_kernels_bench --benchmark_min_time=0.2

clean:
	rm -rf build
