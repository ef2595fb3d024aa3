#!/usr/bin/env bash
# `mmp bench model` against the same model in PyTorch (Debian's python3-torch, CPU),
# alternating the two in one run on one machine; prints each round and the
# ratio of step times (below 1: mmp is faster); ROUNDS (default 3) rounds, then the
# medians.
#   tools/bench/compare-model.sh [--batch 8] [--repeats 3]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${MMP_BUILD_DIR:-$root/build}"
threads="${OMP_NUM_THREADS:-$(nproc)}"
args=("$@")
/usr/bin/python3 -c "import torch" 2>/dev/null || {
  echo "PyTorch for /usr/bin/python3 is missing: apt-get install python3-torch"; exit 1; }
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $threads threads"
rounds="${ROUNDS:-3}"
summary=""
for round in $(seq "$rounds"); do
  ours=$(OMP_NUM_THREADS=$threads "$build/bin/mmp" bench model "${args[@]}")
  theirs=$(/usr/bin/python3 "$root/tools/bench/model.py" --threads "$threads" "${args[@]}")
  echo "## round $round"
  echo "$ours"
  echo "$theirs"
  rows=$(paste <(echo "$ours" | awk '$1=="forward"||$1=="step"{print $1, $2}') \
               <(echo "$theirs" | awk '$1=="forward"||$1=="step"{print $2}'))
  echo "$rows" | awk '{printf "ratio %-8s mmp %.3f s / torch %.3f s = %.2f\n", $1, $2, $3, $2/$3}'
  summary+="$rows"$'\n'
done
# The machine is shared: each side's median over the rounds is the figure to quote.
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "## median over $rounds rounds"
for phase in forward step; do
  ours_median=$(echo "$summary" | awk -v p="$phase" '$1==p{print $2}' | median)
  theirs_median=$(echo "$summary" | awk -v p="$phase" '$1==p{print $3}' | median)
  awk -v p="$phase" -v a="$ours_median" -v b="$theirs_median" \
    'BEGIN {printf "median %-8s mmp %.3f s / torch %.3f s = %.2f\n", p, a, b, a / b}'
done
