#!/usr/bin/env bash
# Runs on the CPU of the build machine the `mmp train` commands tools/gpu-check.sh runs
# on the card, and writes their output to tools/gpu-check-cpu-results.txt, which the
# GPU check's summary puts beside its own. Run after tools/gpu-build.sh (it trains on
# build-gpu/cache); takes about 15 minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mmp="$root/build-gpu/bin/mmp"
cache="$root/build-gpu/cache"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
result="$root/tools/gpu-check-cpu-results.txt"
{
  echo "# mmp train on the CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(date -u +%F)"
  echo "# (tools/gpu-check-cpu-reference.sh; tools/gpu-check.sh runs the same commands with --device cuda)"
  echo "# Compare the accuracies; the timings are of a shared 2-core VM, not a benchmark."
  for seed in 0 1 2; do
    echo "### synthetic seed $seed"
    "$mmp" train --compare one-joint,uniform,mmpareto --seed "$seed" --quiet --out "$work/runs_$seed"
  done
  echo "### cache"
  "$mmp" train --data "$cache" --compare one-joint,uniform,mmpareto --epochs 3 --quiet --out "$work/runs_cache"
} >"$result.tmp"
mv "$result.tmp" "$result"
echo "wrote $result"
