// Every op of tests/support/op_cases.cpp on CUDA against the CPU, forward and
// backward, in f32; the optimizers; and the CUDA runtime pieces (transfers, allocator,
// RNG).
#include <catch2/catch.hpp>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/cuda/device_blocks.h"
#include "engine/ops.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"
#include "tests/support/optimizer_cases.h"

using namespace mmp;
using namespace mmp::testing;

namespace {

const Device kCuda = Device::cuda(0);

// f32 elementwise results agree to rounding; reductions and GEMMs sum in another
// order, which costs up to about sqrt(n) ulps.
constexpr double kTolerance = 1e-5;

}  // namespace

TEST_CASE("every op on CUDA equals the CPU, forward and backward", "[cuda][ops]") {
  for (const OpCase& c : op_cases()) {
    DYNAMIC_SECTION(c.name) {
      const auto inputs = make_inputs(c, 21);
      const OpRun cpu = run_op_case(c, inputs, Device::cpu(), DType::F32);
      const OpRun gpu = run_op_case(c, inputs, kCuda, DType::F32);
      REQUIRE(gpu.out.device() == kCuda);
      INFO(c.name << " forward");
      CHECK(relative_error(gpu.out.to(Device::cpu()), cpu.out) < kTolerance);
      for (size_t i = 0; i < cpu.grads.size(); ++i) {
        INFO(c.name << " gradient of input " << i);
        REQUIRE(gpu.grads[i].defined() == cpu.grads[i].defined());
        if (cpu.grads[i].defined())
          CHECK(relative_error(gpu.grads[i].to(Device::cpu()), cpu.grads[i]) < kTolerance);
      }
    }
  }
}

TEST_CASE("CUDA max pooling equals the CPU over kernels, strides and paddings, NCHW and NHWC", "[cuda][ops]") {
  // The kernels split positions with multiply-and-shift dividers (engine/fast_divider.h)
  // and bound each input's windows by divisions by the stride: kernels smaller, equal to
  // and larger than the stride, odd sizes, both layouts, and the 64-bit path's twin.
  Generator gen(9);
  struct Window {
    int64_t kernel, stride, padding;
  };
  for (const Window w : {Window{3, 2, 1}, Window{2, 2, 0}, Window{1, 3, 0}, Window{2, 3, 1}, Window{5, 1, 2},
                         Window{3, 1, 0}, Window{4, 4, 2}, Window{5, 3, 1}}) {
    for (const bool channels_last : {false, true}) {
      DYNAMIC_SECTION("kernel " << w.kernel << " stride " << w.stride << " padding " << w.padding
                                << (channels_last ? " NHWC" : " NCHW")) {
        const Tensor x = randn({3, 5, 17, 13}, gen);
        const Tensor xc = x.to(kCuda);
        Tensor xd = (channels_last ? to_channels_last(xc) : xc).detach(), xh = x.detach();
        xd.set_requires_grad(true);
        xh.set_requires_grad(true);
        const Tensor y = max_pool2d(xd, w.kernel, w.stride, w.padding), yh = max_pool2d(xh, w.kernel, w.stride, w.padding);
        CHECK(y.is_channels_last() == channels_last);
        CHECK(max_abs_difference(y.to(Device::cpu()), yh) == 0);  // a maximum is exact
        const Tensor probe = randn(yh.shape(), gen);
        const Tensor g = grad({sum(mul(y, probe.to(kCuda)))}, {xd})[0], gh = grad({sum(mul(yh, probe))}, {xh})[0];
        CHECK(relative_error(g.to(Device::cpu()), gh) < kTolerance);  // overlapping windows sum in another order
      }
    }
  }
}

TEST_CASE("CUDA GEMM at large and odd sizes, plain and with a transposed operand", "[cuda][ops]") {
  Generator gen(5);
  for (int64_t n : {128, 257, 1024}) {
    const Tensor a = randn({n, n}, gen), b = randn({n, n}, gen);
    const Tensor ref = matmul(a.to(DType::F64), b.to(DType::F64));
    // b stored transposed on the device and viewed back: cuBLAS gets it as op(B) = Bᵀ.
    const Tensor b_view = transpose(transpose(b, 0, 1).contiguous().to(kCuda), 0, 1);
    INFO("n = " << n);
    CHECK(relative_error(matmul(a.to(kCuda), b.to(kCuda)).to(Device::cpu()), ref) < kTolerance);
    CHECK(relative_error(matmul(a.to(kCuda), b_view).to(Device::cpu()), ref) < kTolerance);
  }
}

TEST_CASE("CUDA optimizer steps equal the CPU's: SGD (momentum, dampening, nesterov), Adam, AdamW", "[cuda][ops]") {
  // 300 parameters of odd sizes: more than one multi-tensor launch (256 per launch).
  // The first has no gradient at the first step, so its momentum buffer starts a step
  // later than the others' and SGD runs a first-step list and a momentum list at once.
  Generator gen(8);
  constexpr int kParameters = 300, kSteps = 3;
  std::vector<Tensor> starts;
  std::vector<std::vector<Tensor>> grads(kSteps);
  for (int k = 0; k < kParameters; ++k) {
    const Shape shape{1 + (k * 37) % 101, 1 + k % 7};
    starts.push_back(randn(shape, gen));
    for (int i = 0; i < kSteps; ++i) grads[i].push_back(randn(shape, gen));
  }
  for (const OptimizerCase& c : optimizer_cases()) {
    DYNAMIC_SECTION(c.name) {
      const OptimizerOptions& o = c.options;
      NamedTensors on_cpu_params, on_gpu_params;
      for (int k = 0; k < kParameters; ++k) {
        Tensor p_cpu = starts[k].clone(), p_gpu = starts[k].to(kCuda);
        p_cpu.set_requires_grad(true);
        p_gpu.set_requires_grad(true);
        on_cpu_params.emplace_back(std::to_string(k), p_cpu);
        on_gpu_params.emplace_back(std::to_string(k), p_gpu);
      }
      auto on_cpu = make_optimizer(on_cpu_params, o), on_gpu = make_optimizer(on_gpu_params, o);
      for (int i = 0; i < kSteps; ++i) {
        for (int k = i == 0 ? 1 : 0; k < kParameters; ++k) {
          on_cpu_params[k].second.set_grad(grads[i][k]);
          on_gpu_params[k].second.set_grad(grads[i][k].to(kCuda));
        }
        on_cpu->step(o.lr);
        on_gpu->step(o.lr);
        for (int k = 0; k < kParameters; ++k) {
          INFO("step " << i << ", parameter " << k);
          REQUIRE(relative_error(on_gpu_params[k].second.to(Device::cpu()), on_cpu_params[k].second) < kTolerance);
        }
      }
    }
  }
}

TEST_CASE("CUDA per-segment scaling equals the CPU's over more segments than one launch takes", "[cuda][ops]") {
  // 700 segments (512 per launch) of odd sizes, some empty, with gaps left untouched.
  Generator gen(12);
  std::vector<int64_t> offsets, counts;
  std::vector<double> factors;
  int64_t at = 0;
  for (int s = 0; s < 700; ++s) {
    at += s % 3;  // a gap
    offsets.push_back(at);
    counts.push_back((s * 13) % 29);
    factors.push_back(0.5 + 0.01 * s);
    at += counts.back();
  }
  const Tensor flat = randn({at + 5}, gen);
  const Tensor on_cpu = flat.clone(), on_gpu = flat.to(kCuda);
  backend(Device::cpu()).scale_segments(on_cpu, offsets, counts, factors);
  backend(kCuda).scale_segments(on_gpu, offsets, counts, factors);
  CHECK(relative_error(on_gpu.to(Device::cpu()), on_cpu) < kTolerance);
  // And the CPU's own result is the plain loop's.
  std::vector<float> expected = flat.to_vector<float>();
  for (size_t s = 0; s < offsets.size(); ++s)
    for (int64_t i = 0; i < counts[s]; ++i) expected[offsets[s] + i] *= static_cast<float>(factors[s]);
  CHECK(on_cpu.to_vector<float>() == expected);
}

TEST_CASE("CUDA reductions over large and odd shapes", "[cuda][ops]") {
  Generator gen(6);
  for (Shape shape : {Shape{1 << 20}, Shape{3, 100003}, Shape{1000, 7, 33}}) {
    const Tensor x = randn(shape, gen);
    const Tensor ref = x.to(DType::F64);
    const Tensor xg = x.to(kCuda);
    CHECK(relative_error(sum(xg).to(Device::cpu()), sum(ref)) < 1e-6);
    CHECK(relative_error(sum(xg, {0}).to(Device::cpu()), sum(ref, {0})) < 1e-6);
    CHECK(argmax(xg, -1).to_vector<int64_t>() == argmax(x, -1).to_vector<int64_t>());
    CHECK(dots({xg, xg}, {xg, xg}).to_vector<double>()[1] ==
          Approx(dots({x}, {x}).to_vector<double>()[0]).epsilon(1e-10));
  }
  // More pairs than one launch takes (512), of odd sizes, as the per-tensor Gram matrices ask.
  std::vector<Tensor> a, b, a_gpu, b_gpu;
  for (int k = 0; k < 1100; ++k) {
    a.push_back(randn({1 + (k * 53) % 997}, gen));
    b.push_back(randn({1 + (k * 53) % 997}, gen));
    a_gpu.push_back(a.back().to(kCuda));
    b_gpu.push_back(b.back().to(kCuda));
  }
  const std::vector<double> on_cpu = dots(a, b).to_vector<double>(), on_gpu = dots(a_gpu, b_gpu).to_vector<double>();
  REQUIRE(on_gpu.size() == on_cpu.size());
  for (size_t k = 0; k < on_cpu.size(); ++k) {
    INFO("pair " << k);
    CHECK(on_gpu[k] == Approx(on_cpu[k]).epsilon(1e-10).margin(1e-10));
  }
}

TEST_CASE("host and device copies round-trip every dtype", "[cuda][ops]") {
  const Tensor f = from_vector<float>({1.5f, -2, 3}, {3});
  CHECK(f.to(kCuda).to(Device::cpu()).to_vector<float>() == f.to_vector<float>());
  const Tensor i = from_vector<int64_t>({7, -8}, {2});
  CHECK(i.to(kCuda).to(Device::cpu()).to_vector<int64_t>() == i.to_vector<int64_t>());
  const Tensor u = from_vector<uint8_t>({0, 255}, {2});
  CHECK(u.to(kCuda).to(DType::F32).to_vector<float>() == std::vector<float>{0, 255});
  // Strided device copies.
  const Tensor m = reshape(arange(12), {3, 4});
  CHECK(transpose(m.to(kCuda), 0, 1).contiguous().to_vector<float>() ==
        transpose(m, 0, 1).contiguous().to_vector<float>());
}

TEST_CASE("the same seed gives the same values on CPU and CUDA", "[cuda][ops]") {
  Generator g_cpu(77), g_gpu(77);
  const Tensor a = rand({10000}, g_cpu), b = rand({10000}, g_gpu, DType::F32, kCuda);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  const Tensor n1 = randn({10000}, g_cpu), n2 = randn({10000}, g_gpu, DType::F32, kCuda);
  CHECK(max_abs_difference(n1, n2.to(Device::cpu())) < 1e-6);
}

TEST_CASE("out of device memory: the cache is given back, and the error says what to do", "[cuda][ops]") {
  auto& allocator = cuda::device_allocator(0);
  {
    const Tensor cached = Tensor::empty({64, 1024, 1024}, DType::F32, kCuda);  // 256 MiB, freed into the cache below
  }
  const size_t cached = allocator.stats().bytes_cached;
  REQUIRE(cached >= (size_t{256} << 20));
  std::string message;
  try {
    const Tensor huge = Tensor::empty({int64_t{1} << 40}, DType::F32, kCuda);  // 4 TiB
  } catch (const Error& e) {
    message = e.what();
  }
  INFO(message);
  CHECK_THAT(message, Catch::Contains("out of memory on cuda:0 allocating 4096 GiB") &&
                          Catch::Contains(" free of ") && Catch::Contains("a smaller --batch"));
  // The 256 MiB segment, wholly free, went back before the second try (segments that
  // still hold a live tensor stay, with their free rest).
  CHECK(allocator.stats().bytes_cached + (size_t{256} << 20) <= cached);
  const Tensor after = ones({1024}, DType::F32, kCuda);  // the device still works
  CHECK(after.to(Device::cpu()).to_vector<float>()[1023] == 1.0f);
}

TEST_CASE("the caching allocator stops calling cudaMalloc once warm", "[cuda][ops]") {
  auto& allocator = cuda::device_allocator(0);
  Generator gen(1);
  auto step = [&] {
    Tensor w = randn({256, 256}, gen, DType::F32, kCuda);
    w.set_requires_grad(true);
    const Tensor x = randn({64, 256}, gen, DType::F32, kCuda);
    const Tensor loss = cross_entropy(relu(linear(x, w, Tensor())), zeros({64}, DType::I64, kCuda));
    backward(loss);
  };
  step();
  const size_t warm = allocator.stats().device_allocations;
  for (int i = 0; i < 5; ++i) step();
  CHECK(allocator.stats().device_allocations == warm);
}
