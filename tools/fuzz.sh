#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/: clang, AddressSanitizer and UndefinedBehavior-
# Sanitizer) in build-fuzz/ and runs each over its committed corpus, fuzz/corpus/<reader>/.
#   tools/fuzz.sh                      every harness for 20 s (what CI runs)
#   tools/fuzz.sh --runs 1000000 jpeg  one harness for a number of executions
#   tools/fuzz.sh --seconds 600 cache  ... or for a time
#   tools/fuzz.sh --no-build ...       the harnesses as built (for runs side by side)
# New inputs that reach new code go to build-fuzz/corpus/<reader>/ (not committed). A
# crash, sanitizer report, input slower than 2 s or allocation over 512 MB fails the run;
# the input is kept in build-fuzz/findings/ and, once fixed, belongs in the corpus.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"
limit=(-max_total_time=20)
build_first=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) limit=(-runs="$2"); shift 2 ;;
    --seconds) limit=(-max_total_time="$2"); shift 2 ;;
    --no-build) build_first=0; shift ;;
    *) break ;;
  esac
done
readers=("$@")
[ ${#readers[@]} -eq 0 ] && readers=(safetensors cache_record split_list jpeg cache config media)

if [ "$build_first" = 1 ]; then
  "$root/tools/install-deps.sh"
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMP_WITH_CUDA=OFF \
    -DMMP_BUILD_TESTS=OFF -DMMP_FUZZ=ON -DMMP_SANITIZE=address,undefined > /dev/null
  cmake --build "$build" -j "$(nproc)" --target fuzzers
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
mkdir -p "$build/findings"
status=0
for reader in "${readers[@]}"; do
  mkdir -p "$build/corpus/$reader"
  # Media and safetensors inputs are cut at 8 KB (their seeds are longer: a WAV, a
  # checkpoint), which keeps them at hundreds of runs a second under the sanitizers.
  max_len=262144
  case "$reader" in media | safetensors) max_len=8192 ;; esac
  echo "== $reader"
  options=(-timeout=2 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len="$max_len")
  if ! "$build/bin/${reader}_fuzzer" "${limit[@]}" "${options[@]}" -print_final_stats=1 \
      -artifact_prefix="$build/findings/$reader-" "$build/corpus/$reader" "$root/fuzz/corpus/$reader" \
      > "$build/$reader.log" 2>&1; then
    tail -40 "$build/$reader.log"
    finding=$(ls -t "$build/findings/$reader-"* 2> /dev/null | head -1)
    # A timeout is checked again with the input alone: on a loaded machine the
    # sanitizer's allocator can stall one run past the limit.
    if [[ "$finding" == *"/$reader-timeout-"* ]] && "$build/bin/${reader}_fuzzer" "${options[@]}" "$finding" \
        > "$build/$reader.recheck.log" 2>&1; then
      echo "WARNING: $reader: $finding timed out under load but runs in time alone (not counted)"
    else
      echo "FAILED: $reader (the input is $finding)"
      status=1
    fi
  fi
  grep -E "stat::number_of_executed_units|cov: " "$build/$reader.log" | tail -2 | sed 's/^/  /'
done
exit $status
