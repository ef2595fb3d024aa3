// --precision on CUDA against the CPU's f32: every op in bf16 (inputs rounded to bf16
// on both sides, so only the GPU's bf16 outputs and intermediate gradients differ),
// TF32 convolutions and products, and the whole model's per-loss gradients under bf16
// autocast (cosine with f32's per encoder).
#include <catch2/catch.hpp>
#include <cmath>
#include <sstream>
#include <string>

#include "engine/autograd.h"
#include "engine/cuda/batch_norm_choice.h"
#include "engine/cuda/batch_norm_graph.h"
#include "engine/cuda/batch_norm_kernels.h"
#include "engine/device_graph.h"
#include "engine/ops.h"
#include "engine/precision.h"
#include "engine/profiler.h"
#include "layers/resnet.h"
#include "mmpareto/objectives.h"
#include "tests/support/compare.h"
#include "tests/support/fixtures.h"
#include "tests/support/op_cases.h"

using namespace mmp;
using namespace mmp::testing;

namespace {

const Device kCuda = Device::cuda(0);

// One bf16 rounding of each output and each gradient (relative 2^-9 = 2e-3), a few in a
// chain for the composed ops; the inputs are rounded alike on both sides.
constexpr double kBf16Tolerance = 1e-2;
// TF32 rounds the products' inputs to 10 mantissa bits (2^-11 = 5e-4 each), summed over
// the reduction.
constexpr double kTf32Tolerance = 5e-3;

// f64 inputs rounded to bf16 and back, so both sides start from the same values.
std::vector<Tensor> bf16_representable(const std::vector<Tensor>& inputs64) {
  std::vector<Tensor> out;
  for (const Tensor& t : inputs64) out.push_back(t.to(DType::BF16).to(DType::F64));
  return out;
}

Tensor as_cpu_f32(const Tensor& t) { return t.to(Device::cpu()).to(DType::F32); }

// A new leaf holding t's values on `device` that requires grad. t itself stays unmarked,
// also when it is there already (to() then returns t): a CPU run that marked the shared
// input would make the CUDA run's copy an op's output, which cannot be marked.
Tensor leaf_on(const Tensor& t, Device device) {
  Tensor leaf = t.detach().to(device);
  leaf.set_requires_grad(true);
  return leaf;
}

double cosine(const Tensor& a, const Tensor& b) {
  const auto x = a.to(Device::cpu()).to_vector<double>(), y = b.to(Device::cpu()).to_vector<double>();
  double xy = 0, xx = 0, yy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    xy += x[i] * y[i];
    xx += x[i] * x[i];
    yy += y[i] * y[i];
  }
  return xy / std::sqrt(xx * yy);
}

// A copy of t (on the CPU) on the GPU in `dtype`, laid out NHWC `offset` elements into
// its buffer (an offset of 1 puts it off 16-byte alignment).
Tensor nhwc_on_gpu(const Tensor& t, DType dtype, int64_t offset = 0) {
  const Shape& s = t.shape();
  const Tensor buffer = Tensor::empty({offset + t.numel()}, dtype, kCuda);
  Tensor view = buffer.as_strided(s, {s[1] * s[2] * s[3], 1, s[3] * s[1], s[1]}, offset);
  view.copy_(t.to(dtype).to(kCuda));
  return view;
}

// Where a packed ReLU mask (bit k of byte j: element 8j + k in memory order) disagrees
// with y > 0, y NHWC; also counted in the opposite bit order, with the first mismatches,
// so that one run tells a wrong order from a wrong mask.
struct MaskMismatches {
  int64_t count = 0, reversed = 0;
  std::string first;
};

MaskMismatches mask_mismatches(const Tensor& mask, const Tensor& y) {
  const auto bits = mask.to(Device::cpu()).to_vector<uint8_t>();
  const auto values = permute(y, {0, 2, 3, 1}).contiguous().to(Device::cpu()).to(DType::F32).to_vector<float>();
  MaskMismatches m;
  std::ostringstream first;
  for (size_t i = 0; i < values.size(); ++i) {
    const bool positive = values[i] > 0.0f;
    const bool bit = (bits[i / 8] >> (i % 8)) & 1, reversed = (bits[i / 8] >> (7 - i % 8)) & 1;
    if (bit != positive && ++m.count <= 4)
      first << " element " << i << " (y " << values[i] << ", byte " << int(bits[i / 8]) << ")";
    m.reversed += reversed != positive;
  }
  m.first = first.str();
  return m;
}

}  // namespace

TEST_CASE("every op in bf16 on CUDA is the CPU's f32 result to bf16 rounding", "[cuda][ops][precision]") {
  for (const OpCase& c : op_cases()) {
    DYNAMIC_SECTION(c.name) {
      const auto inputs = bf16_representable(make_inputs(c, 21));
      const OpRun cpu = run_op_case(c, inputs, Device::cpu(), DType::F32);
      const OpRun gpu = run_op_case(c, inputs, kCuda, DType::BF16);
      INFO(c.name << " forward, " << gpu.out.str());
      CHECK(relative_error(as_cpu_f32(gpu.out), cpu.out) < kBf16Tolerance);
      for (size_t i = 0; i < cpu.grads.size(); ++i) {
        INFO(c.name << " gradient of input " << i);
        REQUIRE(gpu.grads[i].defined() == cpu.grads[i].defined());
        if (!cpu.grads[i].defined()) continue;
        CHECK(gpu.grads[i].dtype() == DType::BF16);  // a gradient has its input's dtype
        CHECK(relative_error(as_cpu_f32(gpu.grads[i]), cpu.grads[i]) < kBf16Tolerance);
      }
    }
  }
}

TEST_CASE("under bf16 autocast, convolutions and products run in bf16 and the rest follows PyTorch", "[cuda][precision]") {
  Generator gen(5);
  const Tensor x = randn({2, 3, 8, 8}, gen).to(kCuda).set_requires_grad(true);
  const Tensor w = randn({4, 3, 3, 3}, gen).to(kCuda).set_requires_grad(true);
  const Tensor bn_w = ones({4}, DType::F32, kCuda).set_requires_grad(true), bn_b = zeros({4}, DType::F32, kCuda);
  const Tensor rm = zeros({4}, DType::F32, kCuda), rv = ones({4}, DType::F32, kCuda);
  const PrecisionScope bf16(Precision::bf16);
  const Tensor y = conv2d(x, w, Tensor(), 1, 1);
  CHECK(y.dtype() == DType::BF16);
  const Tensor z = relu(batch_norm(y, bn_w, bn_b, rm, rv, true, 0.1, 1e-5));
  CHECK(z.dtype() == DType::BF16);  // f32 parameters, bf16 activations
  CHECK(rm.dtype() == DType::F32);
  const Tensor loss = cross_entropy(reshape(mean(z, {2, 3}), {2, 4}), from_vector<int64_t>({1, 3}, {2}, kCuda));
  CHECK(loss.dtype() == DType::F32);  // losses in f32
  const auto g = grad({loss}, {x, w, bn_w});
  CHECK(g[0].dtype() == DType::F32);  // the master tensors' gradients in their own dtype
  CHECK(g[1].dtype() == DType::F32);
  CHECK(g[2].dtype() == DType::F32);
}

TEST_CASE("TF32 convolutions and products on CUDA are f32 to TF32 rounding, and fp32 stays exact", "[cuda][precision]") {
  // A convolution large enough that tensor-core kernels win cuDNN's timing under tf32
  // (on a tiny one a full-f32 kernel may be the fastest, and is allowed).
  Generator gen(8);
  const Tensor x = randn({16, 64, 32, 32}, gen), w = randn({64, 64, 3, 3}, gen);
  const Tensor a = randn({64, 256}, gen), b = randn({256, 48}, gen);
  const Tensor conv_cpu = conv2d(x, w, Tensor(), 1, 1), mm_cpu = matmul(a, b);
  double conv_error[2], mm_error[2];
  for (const Precision p : {Precision::fp32, Precision::tf32}) {
    const PrecisionScope scope(p);
    const int i = p == Precision::tf32;
    conv_error[i] = relative_error(conv2d(x.to(kCuda), w.to(kCuda), Tensor(), 1, 1).to(Device::cpu()), conv_cpu);
    mm_error[i] = relative_error(matmul(a.to(kCuda), b.to(kCuda)).to(Device::cpu()), mm_cpu);
  }
  CAPTURE(conv_error[0], conv_error[1], mm_error[0], mm_error[1]);
  CHECK(conv_error[0] < 1e-5);
  CHECK(mm_error[0] < 1e-5);
  CHECK(conv_error[1] < kTf32Tolerance);
  CHECK(mm_error[1] < kTf32Tolerance);
  // TF32 really engaged: its error is that of 10-bit mantissas, far above f32's.
  CHECK(conv_error[1] > 1e-5);
  CHECK(mm_error[1] > 1e-5);
}

TEST_CASE("bf16 batch norm over many slices per channel, with its running statistics", "[cuda][precision]") {
  // 8 x 64 x 63 = 32256 values per channel: the kernels split each channel into slices
  // of unequal lengths (15 on an H200: 2150 or 2151 values).
  Generator gen(12);
  const Tensor x = add_scalar(mul_scalar(randn({8, 3, 64, 63}, gen), 2.0), 0.5).to(DType::BF16).to(DType::F32);
  const Tensor w = randn({3}, gen), b = randn({3}, gen), gy = randn({8, 3, 64, 63}, gen).to(DType::BF16).to(DType::F32);
  auto run = [&](Device device, DType dtype) {
    const Tensor xd = leaf_on(x.to(dtype), device);
    const Tensor wd = leaf_on(w, device), bd = leaf_on(b, device);
    const Tensor rm = zeros({3}, DType::F32, device), rv = ones({3}, DType::F32, device);
    const Tensor y = batch_norm(xd, wd, bd, rm, rv, true, 0.1, 1e-5);
    const auto g = grad({sum(mul(y, gy.to(dtype).to(device)))}, {xd, wd, bd});
    return std::vector<Tensor>{y, g[0], g[1], g[2], rm, rv};
  };
  const auto cpu = run(Device::cpu(), DType::F32), gpu = run(kCuda, DType::BF16);
  const char* names[] = {"y", "grad x", "grad weight", "grad bias", "running mean", "running var"};
  for (size_t i = 0; i < cpu.size(); ++i) {
    INFO(names[i]);
    CHECK(relative_error(as_cpu_f32(gpu[i]), cpu[i]) < kBf16Tolerance);
  }
  CHECK(gpu[4].dtype() == DType::F32);
}

TEST_CASE("the model's per-loss gradients under bf16 autocast point where f32's do", "[cuda][precision]") {
  const SafetensorsFile fx = load_fixture("av_model_concat.safetensors");
  auto run = [&](Precision p) {
    const PrecisionScope scope(p);
    return fixture_objective_gradients(fx, kCuda);
  };
  const ObjectiveGradients f32 = run(Precision::fp32), bf16 = run(Precision::bf16);
  for (int k = 0; k < kObjectives; ++k) {
    INFO(kObjectiveNames[k]);
    CHECK(bf16.losses[k].item() == Approx(f32.losses[k].item()).epsilon(2e-2));
    // Per encoder, all its tensors' gradients as one vector (as MMPareto's cosine).
    for (const char* encoder : {"audio_net.", "visual_net."}) {
      std::vector<Tensor> a, b;
      for (size_t j = 0; j < f32.parameters.size(); ++j)
        if (f32.parameters[j].first.rfind(encoder, 0) == 0 && f32.grads[k][j].defined()) {
          REQUIRE(bf16.grads[k][j].dtype() == DType::F32);
          a.push_back(reshape(bf16.grads[k][j], {-1}));
          b.push_back(reshape(f32.grads[k][j], {-1}));
        }
      if (a.empty()) continue;  // this loss does not reach this encoder
      const double c = cosine(cat(a, 0), cat(b, 0));
      CAPTURE(encoder, c);
      CHECK(c >= 0.999);
    }
  }
}

TEST_CASE("under tf32 and bf16, activations are NHWC from the first convolution on, values unchanged", "[cuda][precision]") {
  Generator gen(14);
  const Tensor x = randn({4, 3, 20, 20}, gen), w1 = randn({8, 3, 3, 3}, gen), w2 = randn({8, 8, 3, 3}, gen);
  const Tensor bn_w = ones({8}), bn_b = zeros({8}), probe = randn({4, 8, 10, 10}, gen);
  auto block = [&](const std::vector<Tensor>& in, bool check_layout) {
    // conv -> BN -> ReLU -> max pool -> conv -> + residual path -> ReLU
    const Tensor h = conv2d(in[0], in[1], Tensor(), 1, 1);
    const Tensor rm = zeros({8}, DType::F32, h.device()), rv = ones({8}, DType::F32, h.device());
    const Tensor a = max_pool2d(relu(batch_norm(h, in[3], in[4], rm, rv, true, 0.1, 1e-5)), 3, 2, 1);
    const Tensor out = relu(add(conv2d(a, in[2], Tensor(), 1, 1), a));
    if (check_layout) {
      CHECK(h.is_channels_last());
      CHECK(a.is_channels_last());
      CHECK(out.is_channels_last());
    }
    return out;
  };
  std::vector<Tensor> cpu_in;
  for (const Tensor& t : {x, w1, w2, bn_w, bn_b}) cpu_in.push_back(t.to(DType::BF16).to(DType::F32).set_requires_grad(true));
  const Tensor cpu_out = block(cpu_in, false);
  const auto cpu_grads = grad({sum(mul(cpu_out, probe))}, cpu_in);
  for (const Precision p : {Precision::tf32, Precision::bf16}) {
    INFO(precision_name(p));
    const PrecisionScope scope(p);
    std::vector<Tensor> in;
    for (const Tensor& t : cpu_in) in.push_back(leaf_on(t, kCuda));
    const Tensor out = block(in, true);
    const auto grads = grad({sum(mul(out, probe.to(kCuda)))}, in);
    const double tolerance = p == Precision::bf16 ? 3 * kBf16Tolerance : kTf32Tolerance;
    CHECK(relative_error(as_cpu_f32(out), cpu_out) < tolerance);
    // The gradients pass a 3x3 max pool and two ReLUs: where rounding (bf16 activations,
    // TF32 products) breaks a near-tie or flips a sign, a whole gradient value moves to
    // another place, a few in a thousand, which a norm-wise tolerance cannot absorb. Their
    // direction can: a wrong layout or index would leave them nearly orthogonal.
    for (size_t i = 0; i < grads.size(); ++i) {
      INFO("gradient of input " << i);
      CHECK(cosine(grads[i], cpu_grads[i]) > (p == Precision::bf16 ? 0.99 : 0.999));
    }
  }
}

TEST_CASE("NHWC batch norm and convolution against the CPU: 40 channels, many rows, rectangles, NCHW gradients", "[cuda][precision]") {
  // 40 channels: two channel groups of the NHWC batch-norm kernel, the second partial;
  // 8 x 70 x 61 rows: hundreds of slices of unequal lengths; a 3x1 kernel on a 72x61
  // map; the probe's gradient arrives NCHW at batch norm, which lays it out itself.
  Generator gen(16);
  const Tensor x = randn({8, 6, 72, 61}, gen).to(DType::BF16).to(DType::F32);
  const Tensor w = randn({40, 6, 3, 1}, gen).to(DType::BF16).to(DType::F32);
  const Tensor bn_w = randn({40}, gen), bn_b = randn({40}, gen);
  const Tensor probe = randn({8, 40, 70, 61}, gen);
  auto run = [&](Device device) {
    const Tensor xd = leaf_on(x, device), wd = leaf_on(w, device);
    const Tensor gw = leaf_on(bn_w, device), gb = leaf_on(bn_b, device);
    const Tensor rm = zeros({40}, DType::F32, device), rv = ones({40}, DType::F32, device);
    const Tensor h = conv2d(xd, wd, Tensor(), 1, 0);  // [8, 40, 70, 61]
    const Tensor y = batch_norm(h, gw, gb, rm, rv, true, 0.1, 1e-5);
    const auto g = grad({sum(mul(y, probe.to(device)))}, {xd, wd, gw, gb});
    return std::vector<Tensor>{y, g[0], g[1], g[2], g[3], rm, rv};
  };
  const auto cpu = run(Device::cpu());
  for (const Precision p : {Precision::tf32, Precision::bf16}) {
    const PrecisionScope scope(p);
    const auto gpu = run(kCuda);
    CHECK(gpu[0].is_channels_last());
    const double tolerance = p == Precision::bf16 ? 3 * kBf16Tolerance : kTf32Tolerance;
    const char* names[] = {"y", "grad x", "grad w", "grad bn weight", "grad bn bias", "running mean", "running var"};
    for (size_t i = 0; i < cpu.size(); ++i) {
      INFO(precision_name(p) << " " << names[i]);
      CHECK(relative_error(as_cpu_f32(gpu[i]), cpu[i]) < tolerance);
    }
  }
}

TEST_CASE("a ResNet-18 step in bf16 lays out its activations once: no transposes inside the network", "[cuda][precision]") {
  Generator gen(15);
  ResNet18 net(3, gen, /*width=*/8);
  net.to(kCuda);
  net.train();
  const Tensor x = randn({2, 3, 64, 64}, gen).to(kCuda);
  const PrecisionScope bf16(Precision::bf16);
  ProfileSession session;
  const Tensor out = net.forward(x);
  CHECK(out.is_channels_last());
  // The loss's gradient arrives NHWC, as a head's would through its pooling; a plain
  // sum's would be a broadcast (all strides 0), which the last batch norm lays out.
  Tensor probe = empty_channels_last(out.shape(), DType::F32, kCuda);
  probe.copy_(randn(out.shape(), gen).to(kCuda));
  backward(sum(mul(out, probe)));
  const auto totals = session.totals();
  auto count = [&](const char* op) {
    const auto it = totals.find(op);
    return it == totals.end() ? 0LL : it->second.calls + it->second.nested;
  };
  CHECK(count("to_channels_last") == 1);  // the input, once
  CHECK(count("contiguous") <= 1);        // at most the final sum's read of the last maps
  // Every batch norm followed by a ReLU is fused with it (and with the block's residual
  // add): the stem's and each block's first (9), each block's second (8); only the three
  // downsampling batch norms run alone.
  CHECK(count("batch_norm_relu") == 9);
  CHECK(count("batch_norm_add_relu") == 8);
  CHECK(count("batch_norm") == 3);
  CHECK(count("relu") == 0);
}

TEST_CASE("fused NHWC batch norm + add + ReLU against the CPU's three ops, with every gradient", "[cuda][precision]") {
  // The residual comes from a second convolution, NHWC like the first's output; the
  // probe's gradient arrives NCHW. 40 channels and 8 x 70 x 61 rows as the NHWC test above.
  Generator gen(17);
  const Tensor x = randn({8, 6, 72, 61}, gen).to(DType::BF16).to(DType::F32);
  const Tensor w = randn({40, 6, 3, 1}, gen).to(DType::BF16).to(DType::F32);
  const Tensor w_residual = randn({40, 6, 3, 1}, gen).to(DType::BF16).to(DType::F32);
  const Tensor bn_w = randn({40}, gen), bn_b = randn({40}, gen);
  const Tensor probe = randn({8, 40, 70, 61}, gen);
  auto run = [&](Device device) {
    const Tensor xd = leaf_on(x, device), wd = leaf_on(w, device);
    const Tensor wr = leaf_on(w_residual, device);
    const Tensor gw = leaf_on(bn_w, device), gb = leaf_on(bn_b, device);
    const Tensor rm = zeros({40}, DType::F32, device), rv = ones({40}, DType::F32, device);
    const Tensor h = conv2d(xd, wd, Tensor(), 1, 0), r = conv2d(xd, wr, Tensor(), 1, 0);
    const Tensor y = device.is_cpu() ? relu(add(batch_norm(h, gw, gb, rm, rv, true, 0.1, 1e-5), r))
                                     : batch_norm_relu(h, gw, gb, rm, rv, r, true, 0.1, 1e-5);
    const auto g = grad({sum(mul(y, probe.to(device)))}, {xd, wd, wr, gw, gb});
    return std::vector<Tensor>{y, g[0], g[1], g[2], g[3], g[4], rm, rv};
  };
  const auto cpu = run(Device::cpu());
  for (const Precision p : {Precision::tf32, Precision::bf16}) {
    const PrecisionScope scope(p);
    ProfileSession session;
    const auto gpu = run(kCuda);
    CHECK(gpu[0].is_channels_last());
    CHECK(session.totals().count("batch_norm") == 0);  // fused, not composed
    const double tolerance = p == Precision::bf16 ? 3 * kBf16Tolerance : kTf32Tolerance;
    const char* names[] = {"y",          "grad x",         "grad w",       "grad residual w",
                           "grad bn weight", "grad bn bias", "running mean", "running var"};
    for (size_t i = 0; i < cpu.size(); ++i) {
      INFO(precision_name(p) << " " << names[i]);
      const bool gradient = i >= 1 && i <= 5;
      if (p == Precision::bf16 && gradient) {
        // Behind the ReLU: the bf16 convolutions' outputs change the sign of about 0.015%
        // of the pre-ReLU values, each moving a whole gradient value (a CPU emulation of
        // this test's rounding gave norm-wise errors of 0.017-0.033 over four seeds). Their
        // direction and size still hold; a wrong index or layout would break both.
        CHECK(cosine(gpu[i], cpu[i]) > 0.99);
        CHECK(relative_error(as_cpu_f32(gpu[i]), cpu[i]) < 0.1);
      } else {
        CHECK(relative_error(as_cpu_f32(gpu[i]), cpu[i]) < tolerance);
      }
    }
  }
}

TEST_CASE("fused batch norm on 1x1 maps: an NCHW input with an NHWC-strided residual is one layout", "[cuda][precision]") {
  // A ResNet's last stage on a small input: [N, C, 1, 1], where NCHW and NHWC strides
  // differ but place every element alike. The epilogue's tensors come in either. In bf16
  // the fused kernels take them (their sums read such maps as rows of C); an f32 map is
  // dense NCHW, so f32 checks the composed path (cuDNN's batch norm, add, ReLU) with the
  // NHWC-strided residual.
  Generator gen(18);
  const Tensor x = randn({8, 16, 1, 1}, gen).to(DType::BF16).to(DType::F32);
  const Tensor residual = randn({8, 16, 1, 1}, gen).to(DType::BF16).to(DType::F32);
  const Tensor bn_w = randn({16}, gen), bn_b = randn({16}, gen), probe = randn({8, 16, 1, 1}, gen);
  auto run = [&](Device device, DType dtype) {
    const Tensor xd = leaf_on(x.to(dtype), device);
    Tensor r = empty_channels_last({8, 16, 1, 1}, dtype, device);  // strides [16, 1, 16, 16]
    r.copy_(residual.to(dtype).to(device));
    const Tensor rd = leaf_on(r, device);
    const Tensor gw = leaf_on(bn_w, device), gb = leaf_on(bn_b, device);
    const Tensor rm = zeros({16}, DType::F32, device), rv = ones({16}, DType::F32, device);
    const Tensor y = device.is_cpu() ? relu(add(batch_norm(xd, gw, gb, rm, rv, true, 0.1, 1e-5), rd))
                                     : batch_norm_relu(xd, gw, gb, rm, rv, rd, true, 0.1, 1e-5);
    const auto g = grad({sum(mul(y, probe.to(dtype).to(device)))}, {xd, rd, gw, gb});
    return std::vector<Tensor>{y, g[0], g[1], g[2], g[3], rm, rv};
  };
  const auto cpu = run(Device::cpu(), DType::F32);
  for (const DType dtype : {DType::F32, DType::BF16}) {
    const PrecisionScope scope(dtype == DType::BF16 ? Precision::bf16 : Precision::tf32);
    ProfileSession session;
    const auto gpu = run(kCuda, dtype);
    CHECK((session.totals().count("batch_norm") == 0) == (dtype == DType::BF16));  // fused in bf16 only
    const char* names[] = {"y", "grad x", "grad residual", "grad bn weight", "grad bn bias", "running mean",
                           "running var"};
    for (size_t i = 0; i < cpu.size(); ++i) {
      INFO(dtype_name(dtype) << " " << names[i]);
      CHECK(relative_error(as_cpu_f32(gpu[i]), cpu[i]) < (dtype == DType::BF16 ? 3 * kBf16Tolerance : 1e-5));
    }
  }
}

TEST_CASE("NHWC batch norm reads 16-byte vectors of channels where it can, single values elsewhere, alike", "[cuda][precision]") {
  // Every walk of the rows-of-C kernels against the CPU, fused with add + ReLU and alone,
  // forward and backward: whole vectors (bf16: 8 channels, f32: 4) from one lane of rows
  // per block (a 1024-channel f32 row is 256 vectors, one per thread) to 32; channels that
  // are not whole vectors, more vectors than a block has threads, and an input one
  // element off 16-byte alignment, all of which read one value at a time.
  struct Case {
    DType dtype;
    int64_t c, n, h, w, offset;
    const char* walk;
  };
  const Case cases[] = {
      {DType::BF16, 64, 8, 17, 13, 0, "row vectors"}, {DType::BF16, 512, 4, 5, 7, 0, "row vectors"},
      {DType::BF16, 36, 4, 9, 7, 0, "rows"},          {DType::BF16, 2056, 2, 3, 3, 0, "rows"},
      {DType::BF16, 64, 8, 17, 13, 1, "rows"},        {DType::F32, 36, 4, 9, 7, 0, "row vectors"},
      {DType::F32, 1024, 2, 3, 5, 0, "row vectors"},  {DType::F32, 30, 4, 9, 7, 0, "rows"},
  };
  for (const Case& k : cases) {
    const Shape shape{k.n, k.c, k.h, k.w};
    Generator gen(19 + static_cast<uint64_t>(k.c));
    const Tensor x = add_scalar(randn(shape, gen), 0.3).to(DType::BF16).to(DType::F32);
    const Tensor residual = randn(shape, gen).to(DType::BF16).to(DType::F32);
    const Tensor bn_w = randn({k.c}, gen), bn_b = randn({k.c}, gen), probe = randn(shape, gen);
    for (const bool fused : {true, false}) {
      auto run = [&](Device device) {
        const Tensor xd = device.is_cpu() ? leaf_on(x, device) : nhwc_on_gpu(x, k.dtype, k.offset);
        xd.set_requires_grad(true);
        const Tensor rd = leaf_on(device.is_cpu() ? residual : nhwc_on_gpu(residual, k.dtype, k.offset), device);
        const Tensor gw = leaf_on(bn_w, device), gb = leaf_on(bn_b, device);
        const Tensor rm = zeros({k.c}, DType::F32, device), rv = ones({k.c}, DType::F32, device);
        Tensor y;
        if (!fused) y = batch_norm(xd, gw, gb, rm, rv, true, 0.1, 1e-5);
        else if (device.is_cpu()) y = relu(add(batch_norm(xd, gw, gb, rm, rv, true, 0.1, 1e-5), rd));
        else y = batch_norm_relu(xd, gw, gb, rm, rv, rd, true, 0.1, 1e-5);
        const auto g = grad({sum(mul(y, probe.to(device)))}, {xd, rd, gw, gb});
        return std::vector<Tensor>{y, g[0], g[1], g[2], g[3], rm, rv};  // g[1] undefined unless fused
      };
      const auto cpu = run(Device::cpu());
      const PrecisionScope scope(k.dtype == DType::BF16 ? Precision::bf16 : Precision::tf32);
      const auto gpu = run(kCuda);
      const char* names[] = {"y", "grad x", "grad residual", "grad bn weight", "grad bn bias", "running mean",
                             "running var"};
      for (size_t i = 0; i < cpu.size(); ++i) {
        if (i == 2 && !fused) continue;
        INFO(dtype_name(k.dtype) << " " << k.c << " channels, offset " << k.offset << (fused ? ", fused: " : ": ")
                                 << names[i]);
        CHECK(relative_error(as_cpu_f32(gpu[i]), cpu[i]) < (k.dtype == DType::BF16 ? 3 * kBf16Tolerance : 1e-5));
      }
    }
    INFO(dtype_name(k.dtype) << " " << k.c << " channels, offset " << k.offset);
    CHECK(std::string(cuda::batch_norm_walk(nhwc_on_gpu(x, k.dtype, k.offset))) == k.walk);
  }
}

TEST_CASE("cuDNN's graph-API batch norm + (add +) ReLU equals the CPU, its packed mask is y > 0", "[cuda][precision][cudnn-graph]") {
  // The NormAddRelu engine forward and DReluForkDNorm backward, asked for by the policy,
  // on NHWC bf16 (channels a multiple of 8) and f32 (of 4), with and without the residual:
  // outputs, every gradient and the running statistics against the CPU's composed ops
  // (f32 checks cuDNN's running variance is the unbiased one), and the forward's mask
  // (one bit per element, lowest index in the lowest bit) against y > 0.
  REQUIRE(cuda::batch_norm_graph_built());  // the GPU build has the cudnn-frontend headers
  const Shape shape{8, 64, 17, 13};
  const int64_t c = 64;
  Generator gen(23);
  const Tensor x = add_scalar(randn(shape, gen), 0.3).to(DType::BF16).to(DType::F32);
  const Tensor residual = randn(shape, gen).to(DType::BF16).to(DType::F32);
  const Tensor bn_w = randn({c}, gen), bn_b = randn({c}, gen), probe = randn(shape, gen);
  const CudaBatchNormScope graph(CudaBatchNorm::cudnn_graph);
  for (const DType dtype : {DType::BF16, DType::F32}) {
    for (const bool add_residual : {true, false}) {
      INFO(dtype_name(dtype) << (add_residual ? ", with the residual" : ", without a residual"));
      std::string refusal;
      const bool supported =
          cuda::batch_norm_graph_supported(0, nhwc_on_gpu(x, dtype), add_residual, true, 0.1, 1e-5, &refusal);
      INFO("cuDNN: " << refusal);
      REQUIRE(supported);
      auto run = [&](Device device) {
        const Tensor xd = leaf_on(device.is_cpu() ? x : nhwc_on_gpu(x, dtype), device);
        const Tensor rd = leaf_on(device.is_cpu() ? residual : nhwc_on_gpu(residual, dtype), device);
        const Tensor gw = leaf_on(bn_w, device), gb = leaf_on(bn_b, device);
        const Tensor rm = zeros({c}, DType::F32, device), rv = ones({c}, DType::F32, device);
        const Tensor bn = device.is_cpu() ? batch_norm(xd, gw, gb, rm, rv, true, 0.1, 1e-5) : Tensor();
        Tensor y;
        if (device.is_cpu()) y = relu(add_residual ? add(bn, rd) : bn);
        else y = batch_norm_relu(xd, gw, gb, rm, rv, add_residual ? rd : Tensor(), true, 0.1, 1e-5);
        const auto g = grad({sum(mul(y, probe.to(device)))}, {xd, rd, gw, gb});
        return std::vector<Tensor>{y, g[0], g[1], g[2], g[3], rm, rv};
      };
      const auto cpu = run(Device::cpu());
      const PrecisionScope scope(dtype == DType::BF16 ? Precision::bf16 : Precision::tf32);
      const auto gpu = run(kCuda);
      const char* names[] = {"y", "grad x", "grad residual", "grad bn weight", "grad bn bias", "running mean",
                             "running var"};
      for (size_t i = 0; i < cpu.size(); ++i) {
        if (i == 2 && !add_residual) continue;
        INFO(names[i]);
        CHECK(relative_error(as_cpu_f32(gpu[i]), cpu[i]) < (dtype == DType::BF16 ? 3 * kBf16Tolerance : 1e-5));
      }
      // The backend's own call: the mask it keeps for the backward, and for bf16 the own
      // kernels' mask of the same batch norm, each against its own y (the two engines may
      // round a value next to 0 differently): one format, so that either backward can
      // follow either forward.
      const Tensor xg = nhwc_on_gpu(x, dtype), y = empty_channels_last(shape, dtype, kCuda);
      const Tensor mean = Tensor::empty({c}, DType::F32, kCuda), invstd = Tensor::empty({c}, DType::F32, kCuda);
      for (const CudaBatchNorm engine : {CudaBatchNorm::cudnn_graph, CudaBatchNorm::own}) {
        if (engine == CudaBatchNorm::own && dtype != DType::BF16) continue;  // f32 keeps y, packs nothing
        const CudaBatchNormScope scope(engine);
        BatchNormEpilogue epilogue;
        epilogue.relu = true;
        if (add_residual) epilogue.residual = nhwc_on_gpu(residual, dtype);
        backend(kCuda).batch_norm_train(xg, bn_w.to(kCuda), bn_b.to(kCuda), Tensor(), Tensor(), y, mean, invstd, 0.1,
                                        1e-5, epilogue);
        INFO(cuda_batch_norm_name(engine) << "'s mask");
        REQUIRE(epilogue.relu_mask.defined());
        const MaskMismatches m = mask_mismatches(epilogue.relu_mask, y);
        INFO(m.reversed << " mismatches in the reversed bit order; first mismatches:" << m.first);
        CHECK(m.count == 0);
      }
    }
  }
}

TEST_CASE("timed batch norm times both engines once per pass and shape, keeps the faster, equals the CPU", "[cuda][precision][cudnn-graph]") {
  // MMP_CUDA_BATCH_NORM=timed: the first forward and backward of a shape time the own
  // kernels and cuDNN's graph on the call's buffers and record the faster; the result is
  // the chosen engine's alone (the running statistics moved once, as on the CPU); later
  // calls reuse the choice. Inside a CUDA graph capture a new shape takes the own
  // kernels, untimed and without building cuDNN's plans (either would wait for the
  // device), and is timed at its next eager call.
  REQUIRE(cuda::batch_norm_graph_built());
  const CudaBatchNormScope timed(CudaBatchNorm::timed);
  const PrecisionScope bf16(Precision::bf16);
  auto choices_for = [](const Shape& shape) {
    std::vector<cuda::BatchNormChoice> found;
    for (const cuda::BatchNormChoice& c : cuda::batch_norm_choices())
      if (c.shape == shape && c.dtype == DType::BF16) found.push_back(c);
    return found;
  };
  const Shape shape{6, 72, 11, 9};  // 72 channels: 9 vectors of 8; a shape no other test times
  const int64_t c = shape[1];
  Generator gen(31);
  const Tensor x = add_scalar(randn(shape, gen), 0.3).to(DType::BF16).to(DType::F32);
  const Tensor residual = randn(shape, gen).to(DType::BF16).to(DType::F32);
  const Tensor bn_w = randn({c}, gen), bn_b = randn({c}, gen), probe = randn(shape, gen);
  auto run = [&](Device device) {
    const Tensor xd = leaf_on(device.is_cpu() ? x : nhwc_on_gpu(x, DType::BF16), device);
    const Tensor rd = leaf_on(device.is_cpu() ? residual : nhwc_on_gpu(residual, DType::BF16), device);
    const Tensor gw = leaf_on(bn_w, device), gb = leaf_on(bn_b, device);
    const Tensor rm = zeros({c}, DType::F32, device), rv = ones({c}, DType::F32, device);
    const Tensor y = device.is_cpu() ? relu(add(batch_norm(xd, gw, gb, rm, rv, true, 0.1, 1e-5), rd))
                                     : batch_norm_relu(xd, gw, gb, rm, rv, rd, true, 0.1, 1e-5);
    const auto g = grad({sum(mul(y, probe.to(device)))}, {xd, rd, gw, gb});
    return std::vector<Tensor>{y, g[0], g[1], g[2], g[3], rm, rv};
  };
  // Both shapes of this test run on cuDNN's graphs, else there is nothing to choose.
  auto require_graph = [](const Tensor& xg) {
    std::string refusal;
    const bool supported = cuda::batch_norm_graph_supported(0, xg, true, true, 0.1, 1e-5, &refusal);
    INFO(shape_str(xg.shape()) << ": cuDNN: " << refusal);
    REQUIRE(supported);
  };
  require_graph(nhwc_on_gpu(x, DType::BF16));
  const auto cpu = run(Device::cpu());
  REQUIRE(choices_for(shape).empty());
  for (int call = 0; call < 2; ++call) {
    const auto gpu = run(kCuda);
    const char* names[] = {"y", "grad x", "grad residual", "grad bn weight", "grad bn bias", "running mean",
                           "running var"};
    for (size_t i = 0; i < cpu.size(); ++i) {
      INFO("call " << call << ": " << names[i]);
      CHECK(relative_error(as_cpu_f32(gpu[i]), cpu[i]) < 3 * kBf16Tolerance);
    }
    const auto made = choices_for(shape);
    REQUIRE(made.size() == 2);  // timed at the first call only
    for (const cuda::BatchNormChoice& choice : made) {
      INFO((choice.call.pass == cuda::BatchNormPass::forward ? "forward" : "backward")
           << ": own " << choice.own_ms << " ms, cudnn-graph " << choice.graph_ms << " ms " << choice.graph_error);
      CHECK(choice.call.residual);
      CHECK(choice.graph_error.empty());
      CHECK(choice.own_ms > 0);
      CHECK(choice.graph_ms > 0);
      CHECK(choice.engine == (choice.graph_ms < choice.own_ms ? cuda::BatchNormEngine::cudnn_graph
                                                                : cuda::BatchNormEngine::own));
    }
    CHECK(made[0].call.pass == cuda::BatchNormPass::forward);
    CHECK(made[1].call.pass == cuda::BatchNormPass::backward);
  }

  const Shape captured{4, 40, 7, 5};
  const Tensor xc = nhwc_on_gpu(randn(captured, gen), DType::BF16), rc = nhwc_on_gpu(randn(captured, gen), DType::BF16);
  const Tensor wc = randn({40}, gen).to(kCuda), bc = randn({40}, gen).to(kCuda);
  const Tensor rm = zeros({40}, DType::F32, kCuda), rv = ones({40}, DType::F32, kCuda);
  require_graph(xc);  // its plans built now: the capture below must not take them even so
  Tensor replayed;
  DeviceGraph graph(kCuda);
  graph.capture([&] { replayed = batch_norm_relu(xc, wc, bc, rm, rv, rc, true, 0.1, 1e-5); });
  REQUIRE(graph.captured());
  CHECK(choices_for(captured).empty());
  graph.replay();
  Tensor own;
  {
    const CudaBatchNormScope own_kernels(CudaBatchNorm::own);
    own = batch_norm_relu(xc, wc, bc, rm, rv, rc, true, 0.1, 1e-5);
  }
  CHECK(relative_error(as_cpu_f32(replayed), as_cpu_f32(own)) == 0);  // the own kernels ran in the graph
  (void)batch_norm_relu(xc, wc, bc, rm, rv, rc, true, 0.1, 1e-5);  // eager: now timed
  CHECK(choices_for(captured).size() == 1);
}

TEST_CASE("the own kernels pack bf16's ReLU mask into bits, and a backward reading them equals one reading y", "[cuda][precision]") {
  // Backend calls, the own kernels: a bf16 NHWC batch norm + add + ReLU whose channels
  // are whole vectors packs the ReLU's verdicts (bit k of byte j: element 8j + k in
  // memory order); f32 and partial vectors keep y alone. The backward from the bits
  // (vector walk, and one-value walk when a gradient is off alignment) gives the same
  // gradients, bit for bit, as from y.
  const CudaBatchNormScope own(CudaBatchNorm::own);
  Generator gen(29);
  for (const int64_t c : {64, 36}) {
    const Shape shape{4, c, 9, 7};
    auto nhwc = [&](DType dtype, int64_t offset) { return nhwc_on_gpu(randn(shape, gen), dtype, offset); };
    for (const DType dtype : {DType::BF16, DType::F32}) {
      INFO(dtype_name(dtype) << ", " << c << " channels");
      const Tensor x = nhwc(dtype, 0), residual = nhwc(dtype, 0), y = nhwc(dtype, 0);
      const Tensor w = randn({c}, gen).to(kCuda), b = randn({c}, gen).to(kCuda);
      const Tensor mean = Tensor::empty({c}, DType::F32, kCuda), invstd = Tensor::empty({c}, DType::F32, kCuda);
      BatchNormEpilogue forward;
      forward.relu = true;
      forward.residual = residual;
      backend(kCuda).batch_norm_train(x, w, b, Tensor(), Tensor(), y, mean, invstd, 0.1, 1e-5, forward);
      const bool packs = dtype == DType::BF16 && c % 8 == 0;
      REQUIRE(forward.relu_mask.defined() == packs);
      if (!packs) continue;
      const MaskMismatches m = mask_mismatches(forward.relu_mask, y);
      INFO(m.reversed << " mismatches in the reversed bit order; first mismatches:" << m.first);
      CHECK(m.count == 0);
      for (const int64_t gy_offset : {0, 1}) {
        const Tensor gy = nhwc(dtype, gy_offset);
        CHECK(std::string(cuda::batch_norm_walk(gy)) == (gy_offset == 0 ? "row vectors" : "rows"));
        auto backward = [&](const Tensor& mask) {
          BatchNormEpilogue e;
          e.relu = true;
          e.output = y;
          e.relu_mask = mask;
          e.grad_residual = nhwc(dtype, 0);
          const Tensor gx = nhwc(dtype, 0);
          const Tensor gw = Tensor::empty({c}, DType::F32, kCuda), gb = Tensor::empty({c}, DType::F32, kCuda);
          backend(kCuda).batch_norm_backward(x, gy, w, mean, invstd, gx, gw, gb, 1e-5, e);
          return std::vector<Tensor>{gx, gw, gb, e.grad_residual};
        };
        const auto from_bits = backward(forward.relu_mask), from_y = backward(Tensor());
        for (size_t i = 0; i < from_y.size(); ++i) {
          INFO("gradient " << i << ", gy off alignment by " << gy_offset);
          CHECK(max_abs_difference(as_cpu_f32(from_bits[i]), as_cpu_f32(from_y[i])) == 0.0);
        }
      }
    }
  }
}
