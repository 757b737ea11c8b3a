#!/usr/bin/env bash
# Builds an optimized hearth and runs the benchmarks, printing figures next
# to the previous ones in bench/baseline/. Usage: scripts/bench.sh [--save]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build=build/release
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DHEARTH_TESTS=OFF \
  -DHEARTH_BENCH=ON >/dev/null
cmake --build "$build" -j2
"$build/bench/accounts_bench" "$@"
"$build/bench/federation_bench" "$@"
"$build/bench/groups_bench" "$@"
"$build/bench/muc_bench" "$@"
"$build/bench/directory_bench" "$@"
