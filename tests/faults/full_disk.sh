#!/usr/bin/env bash
# A full disk and a read-only folder under `mmp train` and `mmp prepare`: each fails with
# an error naming the file and the cause and a non-zero exit code, the files already
# there stay whole (checkpoints byte for byte), and once there is room again the run or
# the preparation goes on to exactly what an untroubled one gives.
#   full_disk.sh MMP
# The disks are small tmpfs mounts in a mount namespace of the test's own, so nothing
# outlives it; where mounting is not allowed the test says skipped (exit 77).
set -euo pipefail
mmp="$1"
if [ -z "${MMP_FULL_DISK_NAMESPACE:-}" ]; then
  unshare --mount --propagation private true 2> /dev/null ||
    { echo "SKIPPED: no mount namespace here (unshare --mount needs root or user namespaces)"; exit 77; }
  MMP_FULL_DISK_NAMESPACE=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
work="$(mktemp -d)"
trap 'umount "$work"/disk-* 2> /dev/null; rm -rf "$work"' EXIT
fail() { echo "FAILED: $*"; exit 1; }
# small_disk DIR SIZE: a tmpfs of SIZE at DIR.
small_disk() {
  mkdir -p "$1"
  mount -t tmpfs -o size="$2" tmpfs "$1" || { echo "SKIPPED: cannot mount a tmpfs"; exit 77; }
}
# fill DIR BYTES: leaves about BYTES free on DIR's disk.
fill() {
  local free
  free=$(df --output=avail -B1 "$1" | tail -1)
  head -c $((free - $2)) /dev/zero > "$1/filler"
}
# expect_failure LOG WHAT PATTERN COMMAND...: the command fails, and its message matches
# PATTERN (the file and the cause).
expect_failure() {
  local log="$1" what="$2" pattern="$3"
  shift 3
  if "$@" > "$log" 2>&1; then cat "$log"; fail "$what: succeeded"; fi
  grep -Eq "$pattern" "$log" || { cat "$log"; fail "$what: the message does not match '$pattern'"; }
  echo "ok: $what: $(grep -E "$pattern" "$log" | head -1)"
}
# same_files A B NAME...: each NAME is byte for byte the same in folders A and B.
same_files() {
  local a="$1" b="$2"
  shift 2
  for name in "$@"; do cmp -s "$a/$name" "$b/$name" || fail "$b/$name differs from $a/$name"; done
}
no_temporaries() {
  local left
  left=$(find "$1" -name '*.tmp*' | head -3)
  [ -z "$left" ] || fail "half-written temporaries left: $left"
}

# ---- mmp train ----------------------------------------------------------------------
run=(train --method mmpareto --samples 128 --test-samples 64 --width 2 --batch 16 --quiet --loader-workers 2)
checkpoints=(best.safetensors last.safetensors resume.safetensors)
"$mmp" "${run[@]}" --epochs 3 --out "$work/reference" > /dev/null 2>&1
# The same run stopped after its first epoch: what the folder holds then.
"$mmp" "${run[@]}" --epochs 1 --out "$work/epoch-1" > /dev/null 2>&1
footprint=$(du -s -B1 "$work/epoch-1/mmpareto" | cut -f1)  # the report comes at the end

# Room for the first epoch's files and the next epoch's metrics (~7 KB), not for the
# next checkpoint (119 KB, written beside the one it replaces).
small_disk "$work/disk-train" 16m
fill "$work/disk-train" $((footprint + 48 * 1024))
expect_failure "$work/train-full.log" "a checkpoint on a full disk" \
  'mmpareto/(best|last|resume)\.safetensors: write failed \(No space left on device\)' \
  "$mmp" "${run[@]}" --epochs 3 --out "$work/disk-train/run"
same_files "$work/epoch-1/mmpareto" "$work/disk-train/run/mmpareto" best.safetensors last.safetensors
[ -e "$work/disk-train/run/mmpareto/resume.safetensors" ] || fail "the first epoch's resume point is missing"
no_temporaries "$work/disk-train/run"
"$mmp" eval --weights "$work/disk-train/run/mmpareto/last.safetensors" --samples 128 --test-samples 64 --quiet \
  > /dev/null 2>&1 || fail "the checkpoint before the full disk does not load"
cp -a "$work/disk-train/run/mmpareto" "$work/before-read-only"

mount -o remount,ro "$work/disk-train"
expect_failure "$work/train-ro.log" "training into a read-only folder" \
  'mmpareto/[a-z.]+: (cannot write|write failed) \(Read-only file system\)' \
  "$mmp" "${run[@]}" --epochs 3 --out "$work/disk-train/run" --resume
mount -o remount,rw "$work/disk-train"
same_files "$work/before-read-only" "$work/disk-train/run/mmpareto" "${checkpoints[@]}"

rm "$work/disk-train/filler"
"$mmp" "${run[@]}" --epochs 3 --out "$work/disk-train/run" --resume > "$work/train-resumed.log" 2>&1 ||
  { cat "$work/train-resumed.log"; fail "the run does not resume once there is room"; }
same_files "$work/reference/mmpareto" "$work/disk-train/run/mmpareto" last.safetensors
echo "ok: with room again the run resumed to the uninterrupted run's weights, bit for bit"

# The metrics log on a disk that is full (/dev/full answers every write with ENOSPC).
mkdir -p "$work/metrics/mmpareto"
ln -s /dev/full "$work/metrics/mmpareto/metrics.jsonl"
expect_failure "$work/metrics.log" "the metrics log on a full disk" \
  'mmpareto/metrics\.jsonl: write failed \(No space left on device\)' \
  "$mmp" "${run[@]}" --epochs 1 --out "$work/metrics"

# ---- mmp prepare --------------------------------------------------------------------
"$mmp" synth --out "$work/raw" --clips-per-class 6 > /dev/null
"$mmp" prepare --root "$work/raw" --out "$work/reference-cache" --no-progress > /dev/null
cache_files=(audio.f32 frames.bin manifest.json)

# The samples' records do not fit (the cache is 7.2 MB).
small_disk "$work/disk-cache" 3m
expect_failure "$work/prepare-full.log" "preparing onto a full disk" \
  'cache/\.partial/[a-z]+_[0-9]+\.rec: write failed \(No space left on device\)' \
  "$mmp" prepare --root "$work/raw" --out "$work/disk-cache/cache" --no-progress
no_temporaries "$work/disk-cache/cache"
records=$(find "$work/disk-cache/cache/.partial" -name '*.rec' | wc -l)
# Room for the records (7.2 MB), not for the cache's files as well.
mount -o remount,size=10m "$work/disk-cache"
expect_failure "$work/consolidate-full.log" "writing the cache's files onto a full disk" \
  'cache/(audio\.f32|frames\.bin)\.tmp: write failed \(No space left on device\).*are kept' \
  "$mmp" prepare --root "$work/raw" --out "$work/disk-cache/cache" --no-progress
no_temporaries "$work/disk-cache/cache"
mount -o remount,size=32m "$work/disk-cache"
"$mmp" prepare --root "$work/raw" --out "$work/disk-cache/cache" --no-progress > "$work/prepare-resumed.log" 2>&1 ||
  { cat "$work/prepare-resumed.log"; fail "the preparation does not finish once there is room"; }
grep -q "0 prepared now, 36 from an earlier run" "$work/prepare-resumed.log" ||
  { cat "$work/prepare-resumed.log"; fail "the last rerun prepared samples again"; }
same_files "$work/reference-cache" "$work/disk-cache/cache" "${cache_files[@]}"
[ ! -e "$work/disk-cache/cache/.partial" ] || fail "the finished cache keeps its .partial folder"
echo "ok: with room again the preparation ended with the same cache, byte for byte ($records records survived the first full disk)"

small_disk "$work/disk-ro" 1m
mount -o remount,ro "$work/disk-ro"
expect_failure "$work/prepare-ro.log" "preparing into a read-only folder" \
  'Read-only file system.*disk-ro/cache|disk-ro/cache.*Read-only file system' \
  "$mmp" prepare --root "$work/raw" --out "$work/disk-ro/cache" --no-progress
echo "PASSED"
