#!/usr/bin/env bash
# `mmp bench data` against the same work in Python (tools/bench/data.py: librosa,
# PIL, torchvision), both on one core, in one run, on a synthesized CREMA-D-sized set.
#   tools/bench/compare-data.sh [clips per class, default 20]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${MMP_BUILD_DIR:-$root/build}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
py="$("$root/tools/reference/setup-venv.sh")"
"$build/tools/mmp" synth --out "$work/raw" --clips-per-class "${1:-20}" --width 480 --height 360 >/dev/null
"$build/tools/mmp" prepare --root "$work/raw" --out "$work/cache" --visual frames --no-progress >/dev/null
"$build/tools/mmp" prepare --root "$work/raw" --out "$work/cache-raw" --visual frames --frame-format raw \
  --no-progress >/dev/null
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), one core each"
ours=$(OMP_NUM_THREADS=1 "$build/tools/mmp" bench data --root "$work/raw" --cache "$work/cache" --threads 1)
ours_raw=$(OMP_NUM_THREADS=1 "$build/tools/mmp" bench data --root "$work/raw" --cache "$work/cache-raw" --threads 1)
theirs=$(OMP_NUM_THREADS=1 "$py" "$root/tools/bench/data.py" --root "$work/raw")
echo "$ours"
echo "# the same with a cache of raw frames (--frame-format raw)"
echo "$ours_raw" | tail -2
echo "$theirs"
echo
echo "# ratio mmp / Python (above 1: mmp is faster); the official loader reads JPEG frames"
ratios() {
  paste <(echo "$1" | awk 'NR>2{print $NF, $(NF-1)}') <(echo "$theirs" | awk 'NR>2{print $(NF-1)}') |
    awk -v tag="$2" '{printf "%-8s %-10s mmp %8.1f  python %8.1f  ratio %.1f\n", $1, tag, $2, $3, $2/$3}'
}
ratios "$ours" "jpeg-cache"
ratios "$ours_raw" "raw-cache" | tail -2
