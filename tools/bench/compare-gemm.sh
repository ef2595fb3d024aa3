#!/usr/bin/env bash
# `mmp bench gemm` on the CPU against numpy's matmul (OpenBLAS), in one run on one
# machine, with the ratio per size. numpy comes from PyPI into a venv under build/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${MMP_BUILD_DIR:-$root/build}"
venv="$build/bench-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import numpy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy
fi
threads="${OMP_NUM_THREADS:-$(nproc)}"
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $threads threads"
ours=$(OMP_NUM_THREADS=$threads "$build/bin/mmp" bench gemm --device cpu)
theirs=$(OPENBLAS_NUM_THREADS=$threads "$venv/bin/python" "$root/tools/bench/gemm.py")
echo "$ours"
echo "$theirs"
echo
echo "# ratio mmp / numpy (GFLOP/s; above 1 is faster)"
paste <(echo "$ours" | awk '$1=="cpu"{print $2, $4}') <(echo "$theirs" | awk 'NR>2{print $3}') |
  awk '{printf "n=%-6s mmp %7.1f  numpy %7.1f  ratio %.2f\n", $1, $2, $3, $2/$3}'
