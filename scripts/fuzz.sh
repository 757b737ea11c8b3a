#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time.
# Usage: scripts/fuzz.sh [seconds per target, default 20]
# Longer runs: scripts/fuzz.sh 3600 (new inputs go to build/fuzz/corpus/).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"

bash scripts/install-deps.sh
build=build/fuzz
CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHEARTH_FUZZ=ON >/dev/null
cmake --build "$build" -j2

for target in canonical_json_fuzz inbound_txn_fuzz directory_document_fuzz \
    http_request_fuzz; do
  name="${target%_fuzz}"
  corpus="$build/corpus/$name"
  mkdir -p "$corpus"
  echo "fuzzing $name for ${seconds}s"
  log="$build/$name.log"
  if ! "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=5 \
      -rss_limit_mb=2048 -print_final_stats=1 "$corpus" \
      "tests/fuzz/corpus/$name" >"$log" 2>&1; then
    tail -60 "$log"
    echo "fuzzer $target found a failure (crash input saved in the current directory)"
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$log" || true
done
