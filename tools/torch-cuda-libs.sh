#!/usr/bin/env bash
# Prints the folders of a PyTorch installation's CUDA libraries (cuDNN, cuBLAS, NCCL:
# its site-packages/nvidia/*/lib), joined with ':', for LD_LIBRARY_PATH: where a GPU
# node without a system cuDNN finds what mmp links.
#   export LD_LIBRARY_PATH="$(tools/torch-cuda-libs.sh [PYTHON])${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# PYTHON defaults to /opt/torch/.venv/bin/python3, then python3 (one that imports torch).
set -euo pipefail
py="${1:-}"
for candidate in /opt/torch/.venv/bin/python3 python3; do
  [ -n "$py" ] && break
  command -v "$candidate" >/dev/null && "$candidate" -c "import torch" 2>/dev/null && py="$candidate"
done
[ -n "$py" ] || { echo "torch-cuda-libs: no python with torch found (give its path)" >&2; exit 1; }
site="$("$py" -c 'import site; print(site.getsitepackages()[0])')"
dirs=()
for lib in "$site"/nvidia/*/lib "$site"/nvidia/cu*/lib; do
  [ -d "$lib" ] && dirs+=("$lib")
done
[ ${#dirs[@]} -gt 0 ] || { echo "torch-cuda-libs: no $site/nvidia/*/lib" >&2; exit 1; }
(IFS=:; echo "${dirs[*]}")
