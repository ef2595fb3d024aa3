#!/usr/bin/env bash
# `mmp bench data` against the same work in Python (tools/bench/data.py: librosa,
# PIL, torchvision), both on one core, on a synthesized CREMA-D-sized set: ROUNDS
# rounds (default 3) alternating the two in one run, then each figure's median over
# the rounds and the ratios (the machine is shared: single runs vary by ~10%).
#   tools/bench/compare-data.sh [clips per class, default 20]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${MMP_BUILD_DIR:-$root/build}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
py="$("$root/tools/reference/setup-venv.sh")"
"$build/bin/mmp" synth --out "$work/raw" --clips-per-class "${1:-20}" --width 480 --height 360 >/dev/null
"$build/bin/mmp" prepare --root "$work/raw" --out "$work/cache" --visual frames --no-progress >/dev/null
"$build/bin/mmp" prepare --root "$work/raw" --out "$work/cache-raw" --visual frames --frame-format raw \
  --no-progress >/dev/null
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), one core each"
# The figures of a bench's output: clips/s, batches/s, samples/s.
figures() { awk '$1 !~ /^#/ && ($NF=="clips" || $NF=="batches" || $NF=="samples") {printf "%s ", $(NF-1)} END {print ""}'; }
rounds="${ROUNDS:-3}"
all=""
for round in $(seq "$rounds"); do
  ours=$(OMP_NUM_THREADS=1 "$build/bin/mmp" bench data --root "$work/raw" --cache "$work/cache" --threads 1)
  ours_raw=$(OMP_NUM_THREADS=1 "$build/bin/mmp" bench data --root "$work/raw" --cache "$work/cache-raw" --threads 1)
  theirs=$(OMP_NUM_THREADS=1 "$py" "$root/tools/bench/data.py" --root "$work/raw")
  if [ "$round" = 1 ]; then
    echo "$ours" | grep "^#"
    echo "$theirs" | head -1
  fi
  line="$(echo "$ours" | figures)$(echo "$ours_raw" | figures | cut -d' ' -f2-3) $(echo "$theirs" | figures)"
  echo "round $round: mmp clips/s batches/s samples/s, raw-cache batches/s samples/s; python clips/s batches/s samples/s:"
  echo "  $line"
  all+="$line"$'\n'
done
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
column() { echo "$all" | awk -v c="$1" 'NF==8{print $c}' | median; }
echo
echo "# medians over $rounds rounds; ratio mmp / Python (above 1: mmp is faster); the official loader reads JPEG frames"
row() {
  awk -v s="$1" -v t="$2" -v m="$3" -v p="$4" \
    'BEGIN {printf "%-34s %-10s mmp %8.1f  python %8.1f  ratio %.1f\n", s, t, m, p, m / p}'
}
row "decode + spectrogram + frames" clips "$(column 1)" "$(column 6)"
row "cache (JPEG) -> augmented batches" samples "$(column 3)" "$(column 8)"
row "cache (raw) -> augmented batches" samples "$(column 5)" "$(column 8)"
