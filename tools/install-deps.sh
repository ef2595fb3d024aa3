#!/usr/bin/env bash
# Installs the Debian packages mmpareto.cpp builds with, if any is missing.
# Runs as root (or with sudo available). The CUDA toolkit is not a Debian package:
# it is used when found under /usr/local/cuda (see CMakeLists.txt, MMP_WITH_CUDA).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libeigen3-dev        # CPU GEMM and vector kernels
  catch2               # tests (Catch2 v2)
  nlohmann-json3-dev   # safetensors headers, metrics logs
  libcli11-dev         # the mmp command line
  libavformat-dev libavcodec-dev libswresample-dev libswscale-dev libavutil-dev  # media decoding (FFmpeg)
  libjpeg62-turbo-dev  # JPEG frames, decoded as PIL does (libjpeg-turbo's libjpeg API)
  libopenmpi-dev openmpi-bin  # multi-process training (the libmmp-mpi.so plugin), mpirun for its tests
  libstb-dev           # PNG frames, JPEG writing
  libtomlplusplus-dev  # --config files (TOML)
  gnuplot-nox          # the plots of mmp report (run as a program, not linked)
  chromium             # the test that renders a report in a real browser
  clang libclang-rt-dev libomp-dev  # the fuzzers (libFuzzer and clang's OpenMP; tools/fuzz.sh)
  python3-pip          # pip download: the cudnn-frontend headers below, gpu-build's Open MPI wheel
)

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# cuDNN's graph API through NVIDIA's header-only cudnn-frontend, which Debian does not
# package: PyPI's nvidia-cudnn-frontend wheel carries the headers, unpacked from it (no
# Python needed at build or run time). Optional: without it (no network) the CUDA build
# runs batch norm on its own kernels only.
frontend_version=1.32.0
frontend_dir=/opt/cudnn-frontend-$frontend_version
if [ ! -f "$frontend_dir/include/cudnn_frontend.h" ]; then
  wheel_dir="$(mktemp -d)"
  if python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 --implementation cp \
      --platform manylinux_2_28_x86_64 -d "$wheel_dir" "nvidia-cudnn-frontend==$frontend_version"; then
    "${sudo_cmd[@]}" mkdir -p "$frontend_dir"
    "${sudo_cmd[@]}" python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("include/")])' "$wheel_dir"/*.whl "$frontend_dir"
  else
    echo "install-deps: no cudnn-frontend headers (pip download failed): CUDA batch norm keeps its own kernels only"
  fi
  rm -rf "$wheel_dir"
fi

