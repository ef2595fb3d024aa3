#!/usr/bin/env bash
# The one check to run on a GPU machine (x86-64, a CUDA 13 driver, cuDNN/cuBLAS from
# the system or a PyTorch environment's wheels, no network). It uses what
# tools/gpu-build.sh made on a CPU machine (build-gpu/bin: mmp and the CUDA tests;
# build-gpu/cache: a small prepared cache), runs every CUDA test against the CPU, the
# engine benchmarks next to PyTorch on the same card, `mmp train` on the card (the
# built-in set with three seeds, and the cache at CREMA-D's shapes), the loader alone,
# and compute-sanitizer's memcheck (with leak check) and racecheck; a summary last.
#   tools/gpu-check.sh [BIN_DIR]   (default build-gpu/bin; MMP_CHECK_SANITIZERS=0 skips the sanitizers)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export MMP_FIXTURE_DIR="$root/tests/fixtures"  # the tree may sit elsewhere than where it was built
bin="${1:-$root/build-gpu/bin}"
cache="${MMP_CHECK_CACHE:-$root/build-gpu/cache}"
out="${OUT:-$root/build-gpu/check}"
reference="$root/tools/gpu-check-cpu-results.txt"
mkdir -p "$out"
py="${MMP_TORCH_PYTHON:-}"
for candidate in /opt/torch/.venv/bin/python3 python3; do
  [ -n "$py" ] && break
  command -v "$candidate" >/dev/null && "$candidate" -c "import torch" 2>/dev/null && py="$candidate"
done

# cuDNN and cuBLAS from the PyTorch environment's wheels, when there is one.
if [ -n "$py" ] && libs="$("$root/tools/torch-cuda-libs.sh" "$py")"; then
  export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

if [ ! -x "$bin/mmp" ] || [ ! -x "$bin/mmp_cuda_tests" ]; then
  echo "no prebuilt binaries in $bin: building here (needs the project's build dependencies)"
  "$root/tools/gpu-build.sh" || { echo "FAILED: cannot build on this machine"; exit 1; }
fi
for exe in mmp mmp_cuda_tests; do
  missing=$(ldd "$bin/$exe" | grep "not found")
  [ -n "$missing" ] && { echo "FAILED: $exe: libraries not found:"; echo "$missing"; exit 1; }
done
echo "mmp needs: $(ldd "$bin/mmp" | awk '{print $1}' | xargs)"

nvidia-smi -L 2>/dev/null | head -1
[ -n "$py" ] && "$py" -c 'import torch; print("torch", torch.__version__, "cuDNN", torch.backends.cudnn.version())'
cores=$(nproc)
status=0

echo "== CUDA tests (every op's CUDA forward/backward against the CPU; training on the card against the CPU)"
"$bin/mmp_cuda_tests" --reporter compact --durations no 2>&1 | tee "$out/cuda_tests.log" | tail -25
tests_rc=${PIPESTATUS[0]}
[ "$tests_rc" -ne 0 ] && status=1
tests_line=$(grep -E "^(Passed|Failed|All tests)" "$out/cuda_tests.log" | tail -1)

echo "== SGEMM: mmp (cuBLAS) vs PyTorch on the same card"
"$bin/mmp" bench gemm --device cuda | tee "$out/gemm_mmp.txt"
if [ -n "$py" ]; then "$py" "$root/tools/bench/gemm_torch.py" | tee "$out/gemm_torch.txt"; fi

echo "== AVClassifier training step at CREMA-D shapes: mmp (cuDNN) vs PyTorch on the same card"
"$bin/mmp" bench model --device cuda --repeats 5 | tee "$out/model_mmp.txt"
if [ -n "$py" ]; then "$py" "$root/tools/bench/model.py" --device cuda --repeats 5 | tee "$out/model_torch.txt"; fi

echo "== Whole training steps, uniform and MMPareto: mmp vs the official PyTorch step on the same card"
for method in uniform mmpareto; do
  "$bin/mmp" bench step --method "$method" --device cuda --repeats 5 | tee "$out/step_${method}_mmp.txt"
  if [ -n "$py" ]; then
    "$py" "$root/tools/bench/step.py" --method "$method" --device cuda --repeats 5 | tee "$out/step_${method}_torch.txt"
  fi
done

# The same commands ran on the CPU of the build machine: tools/gpu-check-cpu-results.txt
# (tools/gpu-check-cpu-reference.sh writes it).
echo "== mmp train --device cuda on the built-in synthetic set, seeds 0 1 2"
for seed in 0 1 2; do
  "$bin/mmp" train --device cuda --compare one-joint,uniform,mmpareto --seed "$seed" --quiet --out "$out/runs_$seed" \
    2>&1 | tee "$out/train_synthetic_$seed.txt"
  [ "${PIPESTATUS[0]}" -ne 0 ] && status=1
done
if [ -f "$cache/manifest.json" ]; then
  echo "== mmp train --device cuda on a prepared cache (CREMA-D shapes, JPEG frames, batch 64, width 64)"
  "$bin/mmp" train --device cuda --data "$cache" --compare one-joint,uniform,mmpareto --epochs 3 --quiet \
    --out "$out/runs_cache" 2>&1 | tee "$out/train_cache.txt"
  [ "${PIPESTATUS[0]}" -ne 0 ] && status=1
  echo "== the loader alone: the cache's JPEG frames -> augmented batches of 64 on the card, $cores threads"
  "$bin/mmp" bench data --cache "$cache" --samples 2048 --threads "$cores" --batch 64 --device cuda | tee "$out/loader.txt"
else
  echo "no prepared cache in $cache (tools/gpu-build.sh makes one): the cache run is skipped"
fi

if [ "${MMP_CHECK_SANITIZERS:-1}" = 1 ] && command -v compute-sanitizer >/dev/null; then
  echo "== compute-sanitizer: memcheck with leak check over the CUDA tests, racecheck over the op tests"
  timeout 180 compute-sanitizer --tool memcheck --leak-check full "$bin/mmp_cuda_tests" --reporter compact \
    >"$out/memcheck.log" 2>&1
  memcheck_rc=$?
  timeout 90 compute-sanitizer --tool racecheck "$bin/mmp_cuda_tests" "[ops]" --reporter compact \
    >"$out/racecheck.log" 2>&1
  racecheck_rc=$?
  tail -4 "$out/memcheck.log" "$out/racecheck.log"
fi

# ---- summary ---------------------------------------------------------------------------
# The rows of mmp train's tables: "method acc_mm/acc_audio/acc_visual" (last epoch) and
# "method s/epoch samples/s wait peak".
accuracies() { awk -F'|' 'NF==7 {m=$1; gsub(/ /,"",m); if (m=="" || m=="method") next;
  split($2,a," "); split($3,b," "); split($4,c," "); print m, a[2] "/" b[2] "/" c[2]}'; }
throughput() { awk -F'|' 'NF==5 {m=$1; gsub(/ /,"",m); if (m=="method") next; print m "|" $2 "|" $3 "|" $4 "|" $5}'; }
reference_section() { [ -f "$reference" ] && awk -v k="### $1" '/^### /{on=($0==k); next} on' "$reference"; }
train_summary() {  # name, the CUDA run's output file
  local cpu
  cpu=$(reference_section "$1" | accuracies)
  echo "  $1 (last accuracy mm/audio/visual; CPU from $(basename "$reference")):"
  paste -d'|' <(throughput <"$2") <(accuracies <"$2" | awk '{print $2}') |
    while IFS='|' read -r m epoch rate wait peak acc; do
      printf "    %-10s s/epoch %6.2f  samples/s %8.1f  data wait %6s  peak %-20s cuda %s  cpu %s\n" \
        "$m" "$epoch" "$rate" "$(echo "$wait" | xargs)" "$(echo "$peak" | xargs)" "$acc" \
        "$(echo "$cpu" | awk -v m="$m" '$1==m{print $2}')"
    done
}

echo
echo "==================== gpu-check summary ===================="
echo "device: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
echo "cuda tests: ${tests_line:-no result} (exit $tests_rc)"
if [ -f "$out/gemm_torch.txt" ]; then
  echo "SGEMM GFLOP/s (f32, no TF32):"
  paste <(awk '$1 ~ /^cuda/{print $2, $4}' "$out/gemm_mmp.txt") <(awk 'NR>2{print $3}' "$out/gemm_torch.txt") |
    awk '{printf "  n=%-5s mmp %8.1f  torch %8.1f  ratio %.2f\n", $1, $2, $3, $2/$3}'
fi
if [ -f "$out/model_torch.txt" ]; then
  echo "AVClassifier, batch 8 (seconds; f32, TF32 off):"
  paste <(awk '$1=="forward"||$1=="step"{print $1, $2}' "$out/model_mmp.txt") \
        <(awk '$1=="forward"||$1=="step"{print $2}' "$out/model_torch.txt") |
    awk '{printf "  %-8s mmp %8.4f  torch %8.4f  ratio %.2f\n", $1, $2, $3, $2/$3}'
fi
if [ -f "$out/step_mmpareto_torch.txt" ]; then
  echo "Training step, batch 8 (seconds; mmp vs the official PyTorch step):"
  for method in uniform mmpareto; do
    paste <(awk -v m="$method" '$1==m{print $1, $2}' "$out/step_${method}_mmp.txt") \
          <(awk -v m="$method" '$1==m{print $2}' "$out/step_${method}_torch.txt") |
      awk '{printf "  %-8s mmp %8.4f  torch %8.4f  ratio %.2f\n", $1, $2, $3, $2/$3}'
  done
fi
echo "mmp train --device cuda:"
for seed in 0 1 2; do train_summary "synthetic seed $seed" "$out/train_synthetic_$seed.txt"; done
[ -f "$out/train_cache.txt" ] && train_summary "cache" "$out/train_cache.txt"
[ -f "$out/loader.txt" ] && awk '$NF=="samples"{printf "loader alone (%d threads, batches of 64 to the card): %s samples/s\n", '"$cores"', $(NF-1)}' "$out/loader.txt"
if [ -f "$out/memcheck.log" ]; then
  echo "memcheck (exit $memcheck_rc; 124: timed out): $(grep -E "LEAK SUMMARY|ERROR SUMMARY" "$out/memcheck.log" | sed 's/=* *//' | xargs)"
  echo "racecheck (exit $racecheck_rc): $(grep -E "RACECHECK SUMMARY|ERROR SUMMARY" "$out/racecheck.log" | sed 's/=* *//' | xargs)"
fi
exit $status
