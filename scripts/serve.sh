#!/usr/bin/env bash
# Installs what is missing, builds an optimized hearth and starts a node.
# With no arguments it serves ./hearth-data, creating it on first start.
# Usage: scripts/serve.sh [hearth serve args...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build=build/release
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DHEARTH_TESTS=OFF \
  -DHEARTH_BENCH=OFF >/dev/null
cmake --build "$build" -j2 --target hearth hearthctl
exec "$build/hearth" serve "$@"
