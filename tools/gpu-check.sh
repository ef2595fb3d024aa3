#!/usr/bin/env bash
# The one check to run on a GPU machine (x86-64, CUDA 13 driver, PyTorch with its
# cuDNN/cuBLAS as Python packages, no network). It uses binaries built on a CPU
# machine by tools/gpu-build.sh (build-gpu/bin/), runs every CUDA test against the
# CPU, then the GPU benchmarks next to PyTorch on the same card, and prints a
# short table last. Finishes in a few minutes.
#   tools/gpu-check.sh [BIN_DIR]        (default build-gpu/bin)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export MMP_FIXTURE_DIR="$root/tests/fixtures"  # the tree may sit elsewhere than where it was built
bin="${1:-$root/build-gpu/bin}"
out="${OUT:-$root/build-gpu/check}"
mkdir -p "$out"
py="${MMP_TORCH_PYTHON:-}"
for candidate in /opt/torch/.venv/bin/python3 python3; do
  [ -n "$py" ] && break
  command -v "$candidate" >/dev/null && "$candidate" -c "import torch" 2>/dev/null && py="$candidate"
done

# cuDNN, cuBLAS and the CUDA runtime come from the PyTorch environment's wheels.
if [ -n "$py" ]; then
  site="$("$py" -c 'import site; print(site.getsitepackages()[0])')"
  for lib in "$site"/nvidia/*/lib "$site"/nvidia/cu13/lib; do
    [ -d "$lib" ] && LD_LIBRARY_PATH="$lib:${LD_LIBRARY_PATH:-}"
  done
  export LD_LIBRARY_PATH
fi

if [ ! -x "$bin/mmp_cuda_tests" ]; then
  echo "no prebuilt binaries in $bin: building here (needs the project's build dependencies)"
  "$root/tools/gpu-build.sh" || { echo "FAILED: cannot build on this machine"; exit 1; }
fi
for exe in mmp_cuda_tests mmp-gpu-bench; do
  missing=$(ldd "$bin/$exe" | grep "not found")
  [ -n "$missing" ] && { echo "FAILED: $exe: libraries not found:"; echo "$missing"; exit 1; }
done

nvidia-smi -L 2>/dev/null | head -1
[ -n "$py" ] && "$py" -c 'import torch; print("torch", torch.__version__, "cuDNN", torch.backends.cudnn.version())'
status=0

echo "== CUDA tests (every op's CUDA forward/backward against the CPU)"
"$bin/mmp_cuda_tests" --reporter compact --durations no 2>&1 | tee "$out/cuda_tests.log" | tail -25
tests_rc=${PIPESTATUS[0]}
[ "$tests_rc" -ne 0 ] && status=1
tests_line=$(grep -E "^(Passed|Failed|All tests)" "$out/cuda_tests.log" | tail -1)

echo "== SGEMM: mmp (cuBLAS) vs PyTorch on the same card"
"$bin/mmp-gpu-bench" gemm --device cuda | tee "$out/gemm_mmp.txt"
if [ -n "$py" ]; then "$py" "$root/tools/bench/gemm_torch.py" | tee "$out/gemm_torch.txt"; fi

echo "== AVClassifier training step at CREMA-D shapes: mmp (cuDNN) vs PyTorch on the same card"
"$bin/mmp-gpu-bench" model --device cuda --repeats 5 | tee "$out/model_mmp.txt"
if [ -n "$py" ]; then "$py" "$root/tools/bench/model.py" --device cuda --repeats 5 | tee "$out/model_torch.txt"; fi

echo "== Whole training steps, uniform and MMPareto: mmp vs the official PyTorch step on the same card"
for method in uniform mmpareto; do
  "$bin/mmp-gpu-bench" step --method "$method" --device cuda --repeats 5 | tee "$out/step_${method}_mmp.txt"
  if [ -n "$py" ]; then
    "$py" "$root/tools/bench/step.py" --method "$method" --device cuda --repeats 5 | tee "$out/step_${method}_torch.txt"
  fi
done

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
exit $status
