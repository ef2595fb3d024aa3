#!/usr/bin/env bash
# Builds, on this (CPU) machine, what tools/gpu-check.sh runs on a GPU machine:
# CPU code for x86-64-v3 (any current server), CUDA code for sm_90 (H100/H200) by
# default, the CUDA tests and the engine benchmarks copied to build-gpu/bin/ (small
# enough to carry over).
#   tools/gpu-build.sh [CUDA archs, default 90]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
archs="${1:-90}"
"$root/tools/install-deps.sh"
MMP_BUILD_DIR="$root/build-gpu" "$root/tools/build.sh" -DMMP_WITH_CUDA=ON -DMMP_CPU_ARCH=x86-64-v3 \
  "-DMMP_CUDA_ARCHS=$archs"
mkdir -p "$root/build-gpu/bin"
# mmp-gpu-bench, not mmp: it links no media library, whose versions the GPU machine's
# system may not have.
cp "$root/build-gpu/tools/mmp-gpu-bench" "$root/build-gpu/tests/mmp_cuda_tests" "$root/build-gpu/bin/"
du -sh "$root/build-gpu/bin"
