// `mmp bench ...`: throughput measurements. Each prints a table; the PyTorch/numpy
// side of each comparison is in tools/bench/.
#include <omp.h>

#include <cstdio>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/ops.h"
#include "tools/commands.h"
#include "tools/timing.h"

namespace mmp::cli {
namespace {

std::vector<Device> bench_devices(const std::string& choice) {
  if (choice == "all") {
    std::vector<Device> devices{Device::cpu()};
    if (cuda_available()) devices.push_back(Device::cuda(0));
    return devices;
  }
  return {parse_device(choice)};
}

void bench_gemm(const std::vector<int64_t>& sizes, const std::string& device_choice) {
  std::printf("# SGEMM, C = A·B, f32, median of repeats; %d CPU threads\n", omp_get_max_threads());
  std::printf("%-8s %6s %12s %10s\n", "device", "n", "time_ms", "GFLOP/s");
  for (const Device device : bench_devices(device_choice)) {
    for (const int64_t n : sizes) {
      Generator gen(1);
      const Tensor a = randn({n, n}, gen, DType::F32, device), b = randn({n, n}, gen, DType::F32, device);
      Tensor c;
      const Timing t = time_median(
          [&] {
            c = matmul(a, b);
            backend(device).synchronize();
          },
          /*warmup=*/2, /*min_repeats=*/5, /*min_seconds=*/device.is_cpu() ? 1.0 : 0.3);
      const double gflops = 2.0 * n * n * n / t.median_s * 1e-9;
      std::printf("%-8s %6lld %12.3f %10.1f\n", device.str().c_str(), static_cast<long long>(n),
                  t.median_s * 1e3, gflops);
    }
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Measure throughput (see docs/benchmarks.md)");
  bench->require_subcommand(1);

  CLI::App* gemm = bench->add_subcommand("gemm", "SGEMM GFLOP/s at square sizes");
  static std::vector<int64_t> sizes{512, 1024, 2048};
  static std::string device = "all";
  gemm->add_option("--sizes", sizes, "matrix sizes")->capture_default_str();
  gemm->add_option("--device", device, "cpu, cuda[:N] or all")->capture_default_str();
  gemm->callback([] { bench_gemm(sizes, device); });
}

}  // namespace mmp::cli
