# Thin wrapper over CMake. `make` installs dependencies (Debian, as root) and
# builds into build/; `make test` runs every test (scripts/test.sh).
.PHONY: all build deps run test asan clean

GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@[ -f build/CMakeCache.txt ] || cmake -S . -B build $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

asan: deps
	@[ -f build-asan/CMakeCache.txt ] || cmake -S . -B build-asan $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug -DTERN_SANITIZE=ON >/dev/null
	cmake --build build-asan
	cd build-asan && ctest --output-on-failure

clean:
	rm -rf build build-asan
