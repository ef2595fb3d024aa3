#!/usr/bin/env bash
# A rank killed without warning (SIGKILL) in the middle of data-parallel training ends
# the whole job, with an error naming the rank, within 60 s: no rank is left waiting in
# a collective.
#   tests/mpi/killed_rank.sh MMP_BINARY
set -u
mmp="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpirun --allow-run-as-root --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none -np 2 "$mmp" train --method uniform --epochs 200 \
  --samples 400 --test-samples 32 --batch 16 --width 4 --quiet --loader-workers 1 --out "$work/run" >"$work/log" 2>&1 &
launcher=$!
# Both ranks training: their metrics log (rank 0's) has step lines.
for _ in $(seq 600); do
  [ -s "$work/run/uniform/metrics.jsonl" ] && break
  sleep 0.1
done
[ -s "$work/run/uniform/metrics.jsonl" ] || { echo "FAILED: the job never started training"; cat "$work/log"; exit 1; }
ranks=$(pgrep -P "$launcher" | sort -n)
victim=$(echo "$ranks" | tail -1)
[ -n "$victim" ] || { echo "FAILED: no rank processes under mpirun"; cat "$work/log"; exit 1; }
kill -9 "$victim"
killed_at=$SECONDS
while kill -0 "$launcher" 2>/dev/null; do
  if (( SECONDS - killed_at > 60 )); then
    echo "FAILED: the job still runs 60 s after a rank was killed"
    kill -9 "$launcher" $(pgrep -P "$launcher") 2>/dev/null
    exit 1
  fi
  sleep 0.2
done
wait "$launcher"
status=$?
cat "$work/log"
[ "$status" -ne 0 ] || { echo "FAILED: the job exited 0 after a rank was killed"; exit 1; }
grep -qiE "rank [0-9]+.*(signal 9|killed)|exited on signal" "$work/log" ||
  { echo "FAILED: the error does not name the killed rank"; exit 1; }
echo "PASSED: the job ended $(( SECONDS - killed_at )) s after rank $victim was killed, exit status $status"
