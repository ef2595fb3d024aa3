#!/usr/bin/env bash
# Configures and builds mmpareto.cpp (Release) into build/. Extra arguments go to
# CMake's configure step, e.g. -DMMP_WITH_CUDA=OFF.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MMP_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
