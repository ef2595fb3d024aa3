#!/usr/bin/env bash
# `mmp bench model` against the same model in PyTorch (Debian's python3-torch, CPU),
# alternating the two twice in one run on one machine; prints each round and the
# ratio of step times (below 1: mmp is faster).
#   tools/bench/compare-model.sh [--batch 8] [--repeats 3]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${MMP_BUILD_DIR:-$root/build}"
threads="${OMP_NUM_THREADS:-$(nproc)}"
args=("$@")
/usr/bin/python3 -c "import torch" 2>/dev/null || {
  echo "PyTorch for /usr/bin/python3 is missing: apt-get install python3-torch"; exit 1; }
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $threads threads"
for round in 1 2; do
  ours=$(OMP_NUM_THREADS=$threads "$build/tools/mmp" bench model "${args[@]}")
  theirs=$(/usr/bin/python3 "$root/tools/bench/model.py" --threads "$threads" "${args[@]}")
  echo "## round $round"
  echo "$ours"
  echo "$theirs"
  paste <(echo "$ours" | awk '$1=="forward"||$1=="step"{print $1, $2}') <(echo "$theirs" | awk '$1=="forward"||$1=="step"{print $2}') |
    awk '{printf "ratio %-8s mmp %.3f s / torch %.3f s = %.2f\n", $1, $2, $3, $2/$3}'
done
