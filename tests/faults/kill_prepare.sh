#!/usr/bin/env bash
# kill -9 at random moments of `mmp prepare` (while samples are decoded and written, and
# while the cache's files are put together), then the same command again, until it
# finishes: a rerun redoes no sample that was finished, and the cache ends byte for
# byte the cache of an uninterrupted preparation, with nothing half-written left.
#   kill_prepare.sh MMP
set -euo pipefail
mmp="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAILED: $*"; exit 1; }
"$mmp" synth --out "$work/raw" --clips-per-class 20 > /dev/null  # 120 clips
prepare=(prepare --root "$work/raw" --no-progress --workers 2)
cache_files=(audio.f32 frames.bin manifest.json)

start=$(date +%s%N)
"$mmp" "${prepare[@]}" --out "$work/reference" > /dev/null
duration_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "an uninterrupted preparation takes ${duration_ms} ms"

kills=0
finished_runs=0
for attempt in $(seq 1 100); do
  finished=0
  [ -d "$work/cache/.partial" ] && finished=$(find "$work/cache/.partial" \( -name '*.rec' -o -name '*.skip' \) | wc -l)
  "$mmp" "${prepare[@]}" --out "$work/cache" > "$work/attempt.log" 2>&1 &
  pid=$!
  sleep "$(awk -v r="$RANDOM" -v d="$duration_ms" 'BEGIN { printf "%.3f", (r / 32767) * d / 1000 }')"
  if kill -9 "$pid" 2> /dev/null; then
    wait "$pid" 2> /dev/null || true
    kills=$((kills + 1))
    continue
  fi
  wait "$pid" || { cat "$work/attempt.log"; fail "a rerun after a kill failed"; }
  finished_runs=$((finished_runs + 1))
  # The samples finished before this run were taken as they were; only the others were done.
  if ! grep -q "already prepared" "$work/attempt.log"; then
    grep -q "$((120 - finished)) prepared now, ${finished} from an earlier run" "$work/attempt.log" ||
      { cat "$work/attempt.log"; fail "$finished samples were finished before this rerun, which says otherwise"; }
  fi
  for name in "${cache_files[@]}"; do
    cmp -s "$work/reference/$name" "$work/cache/$name" || fail "$name differs from an uninterrupted preparation's"
  done
  left=$(find "$work/cache" -name '*.tmp*' -o -name .partial | head -3)
  [ -z "$left" ] || fail "left behind in the finished cache: $left"
  [ "$kills" -ge 10 ] && break
  rm -rf "$work/cache"  # finished before 10 kills: start over for more
done
[ "$kills" -ge 10 ] || fail "only $kills kills landed"
# A kill while the manifest was written is rare enough to plant its temporary (4194305
# is above Linux's largest possible process id, 2^22): the next run removes it, and a
# finished cache's leftover records.
rm "$work/cache/manifest.json"
touch "$work/cache/manifest.json.tmp.4194305"
"$mmp" "${prepare[@]}" --out "$work/cache" > /dev/null
mkdir "$work/cache/.partial"
"$mmp" "${prepare[@]}" --out "$work/cache" > /dev/null
left=$(find "$work/cache" -name '*.tmp*' -o -name .partial)
[ -z "$left" ] || fail "left behind: $left"
echo "PASSED: $kills kills over $finished_runs preparations, each ended with the uninterrupted cache, byte for byte"
