#!/usr/bin/env bash
# Runs every test: unit tests (normal build, ASan/UBSan build, valgrind) and the
# interop suite against build/ternd and build-asan/ternd. Ends with one line
# "N passed, N failed" counting test cases of all steps; exits 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
jobs=$(nproc 2>/dev/null || echo 2)

say() { printf '\n=== %s\n' "$*"; }
fail_step() { failed=$((failed + 1)); failures+=("$1"); }

# Adds the counts of a ctest run (its "N% tests passed, F tests failed out of T"
# line) to the totals; a run without that line counts as one failure.
count_ctest() {
	local log=$1 name=$2 line total bad
	line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
	if [ -z "$line" ]; then
		if grep -q 'No tests were found' "$log"; then
			echo "(no unit tests found)"
			return
		fi
		fail_step "$name"
		return
	fi
	bad=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
	total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
	passed=$((passed + total - bad))
	failed=$((failed + bad))
	[ "$bad" -eq 0 ] || failures+=("$name ($bad failed)")
}

build() { # dir, extra cmake args...
	local dir=$1
	shift
	if [ ! -f "$dir/CMakeCache.txt" ]; then
		mkdir -p "$dir"
		cmake -S . -B "$dir" "${gen[@]}" "$@" >"$dir/configure.log" 2>&1 ||
			{ cat "$dir/configure.log"; return 1; }
	fi
	cmake --build "$dir" -j "$jobs"
}

say "dependencies"
if ! bash scripts/install-deps.sh; then
	echo "install-deps failed"
	fail_step "install-deps"
fi

say "build (build/)"
build_ok=1
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTERN_WERROR=ON || { build_ok=0; fail_step "build"; }

say "build (build-asan/, clang, ASan+UBSan)"
asan_ok=1
# The sanitizer build uses clang (the normal one gcc), so both compilers
# build with -Werror on every run, and clang's UBSan checks a little more.
asan_cc=()
command -v clang >/dev/null 2>&1 && asan_cc=(-DCMAKE_C_COMPILER=clang)
build build-asan -DCMAKE_BUILD_TYPE=Debug -DTERN_SANITIZE=ON -DTERN_WERROR=ON "${asan_cc[@]}" ||
	{ asan_ok=0; fail_step "build-asan"; }

# What an embedder does with an installed libtern: examples/embed.c built with
# nothing but pkg-config (tern.pc's Requires: libevent), against the shared
# library and against libtern.a with the --static flags.
if [ $build_ok -eq 1 ]; then
	say "install and pkg-config (examples/embed.c)"
	inst=$(mktemp -d)
	pc_ok=1
	if cmake --install build --prefix "$inst" >"$inst/install.log" 2>&1; then
		pc=$(dirname "$(find "$inst" -name tern.pc | head -1)")
		cc -o "$inst/embed" examples/embed.c \
			$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs tern) || pc_ok=0
		cc -o "$inst/embed-static" examples/embed.c \
			$(PKG_CONFIG_PATH=$pc pkg-config --static --cflags --libs tern |
				sed 's/-ltern\b/-l:libtern.a/') || pc_ok=0
	else
		cat "$inst/install.log"
		pc_ok=0
	fi
	rm -rf "$inst"
	if [ $pc_ok -eq 1 ]; then
		echo "pkg-config embed (shared and static): ok"
		passed=$((passed + 1))
	else
		fail_step "install + pkg-config embed"
	fi
fi

if [ $build_ok -eq 1 ]; then
	say "unit tests (build/)"
	(cd build && ctest --output-on-failure -j "$jobs") 2>&1 | tee build/ctest.log
	count_ctest build/ctest.log "unit tests"

	say "unit tests under valgrind (build/)"
	# The exact commands ctest would run, so arguments and working directories match.
	mapfile -t cmds < <(cd build && ctest --show-only=json-v1 2>/dev/null | python3 -c '
import json, shlex, sys
for t in json.load(sys.stdin).get("tests", []):
    wd = next((p["value"] for p in t.get("properties", []) if p["name"] == "WORKING_DIRECTORY"), ".")
    print(t["name"] + "\t" + wd + "\t" + shlex.join(t.get("command", [])))
')
	for entry in "${cmds[@]}"; do
		IFS=$'\t' read -r name wd cmd <<<"$entry"
		[ -n "$cmd" ] || continue
		log="build/valgrind.$name.log"
		if (cd "$wd" && eval "timeout 600 valgrind -q --error-exitcode=1 --leak-check=full \
				--errors-for-leak-kinds=definite,indirect $cmd") >"$log" 2>&1; then
			echo "valgrind $name: ok"
			passed=$((passed + 1))
		else
			echo "valgrind $name: FAILED"
			tail -60 "$log"
			fail_step "valgrind $name"
		fi
	done
fi

if [ $asan_ok -eq 1 ]; then
	say "unit tests (build-asan/)"
	(cd build-asan && ctest --output-on-failure -j "$jobs") 2>&1 | tee build-asan/ctest.log
	count_ctest build-asan/ctest.log "unit tests (asan)"
fi

# Every fuzz target, built with clang's libFuzzer and run briefly from its
# seeds (tests/fuzz/corpus/NAME/, when there are some): the harnesses keep
# compiling and keep agreeing with the engines they drive, and a shallow bug
# shows up here rather than in a long campaign. Bounded: FUZZ_SECONDS each.
if command -v clang >/dev/null 2>&1; then
	say "fuzz targets (build-fuzz/, ${FUZZ_SECONDS:=12} s each)"
	if build build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTERN_FUZZ=ON -DTERN_TESTS=OFF \
		-DCMAKE_C_COMPILER=clang -DTERN_WERROR=ON; then
		for target in build-fuzz/fuzz_*; do
			[ -x "$target" ] || continue
			name=$(basename "$target")
			work=$(mktemp -d)
			[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
			if (cd "$work" && timeout $((FUZZ_SECONDS + 60)) "$OLDPWD/$target" \
				-max_total_time="$FUZZ_SECONDS" -max_len=4096 -print_final_stats=1 . \
				>fuzz.log 2>&1); then
				echo "fuzz $name: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' \
					"$work/fuzz.log" | grep -o '[0-9]*$') runs)"
				passed=$((passed + 1))
			else
				echo "fuzz $name: FAILED"
				tail -40 "$work/fuzz.log"
				fail_step "fuzz $name"
			fi
			rm -rf "$work"
		done
	else
		fail_step "build-fuzz"
	fi
fi

# run.py prints "N passed, N failed[, N skipped]" as its last line.
interop() { # label, ternd path
	local label=$1 ternd=$2 log line
	log=$(dirname "$ternd")/interop.log
	say "interop tests ($label: $ternd)"
	if [ ! -x "$ternd" ]; then
		echo "$ternd not built"
		fail_step "interop $label"
		return
	fi
	TERND="$ternd" python3 tests/interop/run.py 2>&1 | tee "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -z "$line" ]; then
		fail_step "interop $label (no summary)"
		return
	fi
	local p f
	p=$(sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/' <<<"$line")
	f=$(sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || failures+=("interop $label ($f failed)")
}

[ $build_ok -eq 1 ] && interop normal build/ternd
[ $asan_ok -eq 1 ] && interop asan build-asan/ternd

say "summary"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
