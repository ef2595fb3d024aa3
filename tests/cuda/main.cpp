// The CUDA tests' entry point: without a CUDA device they cannot run, and say so with
// exit code 77, which CTest reports as skipped (never as passed).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstring>
#include <iostream>

#include "engine/device.h"

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) listing = listing || std::strncmp(argv[i], "--list", 6) == 0;
  if (!listing && !mmp::cuda_available()) {
    std::cout << "SKIPPED: no CUDA device visible; the CUDA tests run on a GPU machine "
                 "(tools/gpu-check.sh)\n";
    return 77;
  }
  const int status = Catch::Session().run(argc, argv);
  // Cached blocks and handles handed back: a leak check sees only what tests leaked.
  mmp::release_device_resources();
  return status;
}
