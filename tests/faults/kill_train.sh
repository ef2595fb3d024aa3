#!/usr/bin/env bash
# kill -9 at random moments of `mmp train` (steps, evaluations, checkpoint writes), then
# --resume, again and again until the run finishes: it must end with weights bit for bit
# those of an uninterrupted run, and after every kill each checkpoint in the run folder
# must load whole.
#   kill_train.sh MMP
set -euo pipefail
mmp="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run=(train --method mmpareto --epochs 4 --samples 128 --test-samples 64 --width 2 --batch 16 --quiet
     --loader-workers 2)

start=$(date +%s%N)
"$mmp" "${run[@]}" --out "$work/reference" > "$work/reference.log" 2>&1
duration_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "an uninterrupted run takes ${duration_ms} ms"

kills=0
for attempt in $(seq 1 60); do
  "$mmp" "${run[@]}" --out "$work/run" --resume > "$work/attempt.log" 2>&1 &
  pid=$!
  # A moment anywhere in a whole run: early attempts die often, later ones finish.
  sleep "$(awk -v r="$RANDOM" -v d="$duration_ms" 'BEGIN { printf "%.3f", (r / 32767) * d / 1000 }')"
  if kill -9 "$pid" 2> /dev/null; then
    wait "$pid" 2> /dev/null || true
    kills=$((kills + 1))
    # Whatever was on disk at the kill is whole: each weights file loads.
    for f in "$work"/run/mmpareto/best.safetensors "$work"/run/mmpareto/last.safetensors; do
      [ -e "$f" ] || continue
      "$mmp" eval --weights "$f" --samples 128 --test-samples 64 --quiet > "$work/eval.log" 2>&1 ||
        { echo "FAILED: $f does not load after kill $kills"; cat "$work/eval.log"; exit 1; }
    done
  else
    wait "$pid" || { echo "FAILED: a resumed run failed"; cat "$work/attempt.log"; exit 1; }
    [ "$kills" -ge 10 ] && break
    rm -rf "$work/run"  # finished before 10 kills: start over for more
  fi
done
[ "$kills" -ge 10 ] || { echo "FAILED: only $kills kills landed"; exit 1; }
[ -e "$work/run/mmpareto/last.safetensors" ] || "$mmp" "${run[@]}" --out "$work/run" --resume > /dev/null 2>&1
cmp "$work/reference/mmpareto/last.safetensors" "$work/run/mmpareto/last.safetensors" ||
  { echo "FAILED: the resumed run's weights differ from the uninterrupted run's"; exit 1; }
# Temporary files of writes a kill interrupted are cleared when the run goes on, the
# report's beside the methods' folders too (a kill there is rare enough to plant one:
# 4194305 is above Linux's largest possible process id, 2^22).
touch "$work/run/report.html.tmp.4194305" "$work/run/mmpareto/last.safetensors.tmp.4194305"
"$mmp" "${run[@]}" --out "$work/run" --resume > /dev/null 2>&1
leftovers=$(find "$work/run" -name '*.tmp.*')
[ -z "$leftovers" ] || { echo "FAILED: half-written temporary files left in the run folder: $leftovers"; exit 1; }
echo "PASSED: $kills kills, the run resumed to the same weights bit for bit"
