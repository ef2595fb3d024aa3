#!/usr/bin/env bash
# `mmp bench step` (uniform and mmpareto) against the official PyTorch steps
# (tools/bench/step.py), alternating in one run on one machine, ROUNDS times (default
# 3), then the medians. Prints each
# time and the ratios: mmpareto/uniform for both, and mmp's MMPareto step over the
# official one (below 1: mmp is faster).
#   tools/bench/compare-step.sh [--batch 8] [--repeats 3]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${MMP_BUILD_DIR:-$root/build}"
threads="${OMP_NUM_THREADS:-$(nproc)}"
/usr/bin/python3 -c "import torch" 2>/dev/null || {
  echo "PyTorch for /usr/bin/python3 is missing: apt-get install python3-torch"; exit 1; }
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $threads threads"
seconds() { awk -v m="$1" '$1==m{print $2}'; }
rounds="${ROUNDS:-3}"
all=""
for round in $(seq "$rounds"); do
  mu=$(OMP_NUM_THREADS=$threads "$build/bin/mmp" bench step --method uniform "$@" | seconds uniform)
  pu=$(/usr/bin/python3 "$root/tools/bench/step.py" --method uniform --threads "$threads" "$@" | seconds uniform)
  mm=$(OMP_NUM_THREADS=$threads "$build/bin/mmp" bench step --method mmpareto "$@" | seconds mmpareto)
  pm=$(/usr/bin/python3 "$root/tools/bench/step.py" --method mmpareto --threads "$threads" "$@" | seconds mmpareto)
  echo "## round $round: seconds per step"
  echo "uniform   mmp $mu   official PyTorch $pu"
  echo "mmpareto  mmp $mm   official PyTorch $pm"
  awk -v mu="$mu" -v mm="$mm" -v pu="$pu" -v pm="$pm" 'BEGIN {
    printf "ratio mmpareto/uniform: mmp %.2f, official PyTorch %.2f\n", mm / mu, pm / pu;
    printf "ratio mmp mmpareto / official mmpareto: %.2f\n", mm / pm }'
  all+="$mu $pu $mm $pm"$'\n'
done
# The machine is shared: each column's median over the rounds is the figure to quote.
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
column() { echo "$all" | awk -v c="$1" 'NF==4{print $c}' | median; }
awk -v n="$rounds" -v mu="$(column 1)" -v pu="$(column 2)" -v mm="$(column 3)" -v pm="$(column 4)" 'BEGIN {
  printf "## median over %d rounds (seconds per step)\n", n;
  printf "uniform   mmp %.3f   official PyTorch %.3f\n", mu, pu;
  printf "mmpareto  mmp %.3f   official PyTorch %.3f\n", mm, pm;
  printf "ratio mmpareto/uniform: mmp %.2f, official PyTorch %.2f\n", mm / mu, pm / pu;
  printf "ratio mmp mmpareto / official mmpareto: %.2f\n", mm / pm }'
