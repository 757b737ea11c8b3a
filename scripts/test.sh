#!/usr/bin/env bash
# Installs what is missing, builds with AddressSanitizer and UBSan (warnings
# are errors), and runs every test. Usage: scripts/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build=build/test
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DHEARTH_SANITIZE=ON \
  -DHEARTH_BENCH=OFF >/dev/null
cmake --build "$build" -j2

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$build" -j2 --output-on-failure --timeout 300 "$@"

# The libFuzzer targets, for a bounded time each (longer runs: scripts/fuzz.sh).
bash scripts/fuzz.sh 15
