#!/usr/bin/env bash
# Installs the Debian 12 packages Kontor needs (only those missing), then configures and
# builds everything into ./build. Idempotent; run as root on a fresh machine.
#   tools/setup.sh            install + configure + build everything
#   tools/setup.sh T1 T2      ... but build only these CMake targets (e.g. kontord kontor)
#   KONTOR_BUILD_DIR=dir      build somewhere else
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config ccache git
  libsecp256k1-dev libleveldb-dev libsnappy-dev libcrypto++-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  catch2 librapidcheck-dev libcli11-dev nlohmann-json3-dev libtomlplusplus-dev
  libjemalloc-dev libspdlog-dev libcpp-httplib-dev prometheus-cpp-dev
  python3 python3-grpcio python3-protobuf python3-pytest protobuf-compiler curl procps patch
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: packages are missing and this is not root; run as root or install them: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build_dir=${KONTOR_BUILD_DIR:-build}
jobs=$(nproc)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release
fi
if (($#)); then
  cmake --build "$build_dir" -j "$jobs" --target "$@"
else
  cmake --build "$build_dir" -j "$jobs"
fi
