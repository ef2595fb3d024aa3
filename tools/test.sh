#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the whole test suite
# through CTest. CUDA tests are reported as skipped where no GPU is visible.
#   tools/test.sh                               every test (unit, slow, cuda)
#   tools/test.sh -L unit                       any ctest arguments narrow the run
#   tools/test.sh --sanitize address,undefined  the CPU build under AddressSanitizer and
#       UndefinedBehaviorSanitizer, in build-sanitize/ (no CUDA; unit tests unless
#       ctest arguments say otherwise): any report fails its test
#   tools/test.sh --sanitize thread             ThreadSanitizer (clang), in
#       build-sanitize-thread/, over the tests labelled threads
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MMP_BUILD_DIR:-$root/build}"
sanitize=""
if [ "${1:-}" = "--sanitize" ]; then
  sanitize="$2"
  shift 2
fi
"$root/tools/install-deps.sh"
if [ "$sanitize" = thread ]; then
  # ThreadSanitizer sees OpenMP's synchronisation only through LLVM's OpenMP runtime and
  # its Archer tool: built with clang, and run over the loader's and the threaded
  # kernels' tests (label threads).
  build="$root/build-sanitize-thread"
  CC=clang CXX=clang++ MMP_BUILD_DIR="$build" "$root/tools/build.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMMP_WITH_CUDA=OFF -DMMP_SANITIZE=thread
  export OMP_TOOL_LIBRARIES="$(realpath "$(clang -print-resource-dir)/../../libarcher.so")"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1"
  [ $# -eq 0 ] && set -- -L threads
elif [ -n "$sanitize" ]; then
  build="$root/build-sanitize"
  MMP_BUILD_DIR="$build" "$root/tools/build.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMP_WITH_CUDA=OFF \
    -DMMP_SANITIZE="$sanitize"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  [ $# -eq 0 ] && set -- -L unit
else
  "$root/tools/build.sh"
fi
cd "$build"
# CTest runs one test per core at once. OpenMP threads that spin while waiting (libgomp's
# default) then take the cores the other tests need: two small training runs side by side
# took 23.8 s each instead of 1.2 s on a 2-core machine. Passive waiting keeps them at 1.2 s.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
exec ctest --output-on-failure -j "$(nproc)" "$@"
