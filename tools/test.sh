#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the whole test suite
# through CTest. CUDA tests are reported as skipped where no GPU is visible.
#   tools/test.sh            every test (unit, slow, cuda)
#   tools/test.sh -L unit    any ctest arguments narrow the run
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MMP_BUILD_DIR:-$root/build}"
"$root/tools/install-deps.sh"
"$root/tools/build.sh"
cd "$build"
exec ctest --output-on-failure -j "$(nproc)" "$@"
