#!/usr/bin/env bash
# Installs the Debian packages Hearth builds and tests with, only when missing,
# so a second run costs a few dpkg queries. Debian 12 (bookworm).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libcpp-httplib-dev   # HTTP server and client
  libssl-dev           # SHA-256, randomness, TLS
  libsodium-dev        # Ed25519 signatures (2.5x OpenSSL's speed)
  liblmdb-dev          # storage
  libcereal-dev        # record encoding inside LMDB
  libspdlog-dev        # logging
  libgtest-dev libgmock-dev  # tests
  nlohmann-json3-dev   # wire JSON
  libtomlplusplus-dev  # config file
  libcli11-dev         # command line
  libargon2-dev        # password hashing
  libbenchmark-dev     # micro benchmarks
  curl                 # smoke checks in scripts
  clang libclang-rt-14-dev  # libFuzzer targets (scripts/fuzz.sh)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
