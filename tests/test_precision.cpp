// The precision plumbing on the CPU: bf16 rounding against a reference computed
// another way, conversions through tensors, the precision policy and its scope, and
// PyTorch's promotion of a bf16 operand meeting an f32 one.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/precision.h"

using namespace mmp;
using Catch::Matchers::Contains;

namespace {

float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// The nearest bf16 to x by comparing distances in double: the two bf16 values that
// bracket x (truncation and the next one up in magnitude), ties to the even mantissa.
float reference_bf16(float x) {
  if (std::isnan(x)) return x;
  const uint32_t u = float_to_bits(x);
  const float down = bits_to_float(u & 0xffff0000u);
  const float up = bits_to_float((u & 0xffff0000u) + 0x10000u);
  // Past the largest bf16 the next step is infinity, which stands for 2^128 when
  // measuring (IEEE rounds to it from half an ulp above the largest finite value).
  const double up_value = std::isinf(up) && !std::isinf(x) ? std::copysign(std::ldexp(1.0, 128), x) : up;
  const double d_down = std::fabs(static_cast<double>(x) - down), d_up = std::fabs(up_value - x);
  if (d_down < d_up) return down;
  if (d_up < d_down) return up;
  return ((u >> 16) & 1u) == 0 ? down : up;
}

}  // namespace

TEST_CASE("bf16 rounds to nearest, ties to even, as a reference computed in double", "[unit][precision]") {
  std::vector<float> values = {0.0f, -0.0f, 1.0f, -1.0f, 3.14159265f, 1e-40f, -1e-45f, 65504.0f,
                               std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min()};
  // Exact ties: a bf16 value plus half a bf16 ulp, with even and odd mantissas.
  for (const uint32_t base : {0x3f800000u, 0x3f810000u, 0x40490000u, 0x00010000u, 0x7f7e0000u, 0x7f7f0000u})
    values.push_back(bits_to_float(base | 0x8000u));
  Generator gen(3);
  const auto draws = randn({20000}, gen, DType::F64).to_vector<double>();
  for (size_t i = 0; i < draws.size(); ++i)
    values.push_back(static_cast<float>(draws[i] * std::pow(10.0, static_cast<double>(i % 61) - 30)));
  for (const float v : values) {
    INFO(v << " (bits " << std::hex << float_to_bits(v) << ")");
    const float rounded = static_cast<float>(bf16(v));
    const float expected = reference_bf16(v);
    CHECK(float_to_bits(rounded) == float_to_bits(expected));
  }
  CHECK(std::isnan(static_cast<float>(bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isnan(static_cast<float>(bf16(bits_to_float(0x7f800001u)))));  // a NaN whose payload would round to inf
}

TEST_CASE("bf16 from a double rounds once, not through a float rounded first", "[unit][precision]") {
  // Just above the halfway point between 1 and the next bf16, by less than a float ulp:
  // through a float it would be an exact tie (rounded to even, 1); it is not a tie.
  const double above_half = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30);
  CHECK(static_cast<float>(bf16(above_half)) == 1.0f + std::ldexp(1.0f, -7));
  CHECK(static_cast<float>(bf16(static_cast<float>(above_half))) == 1.0f);  // the float is a tie
  const double below_half = 1.0 + std::ldexp(1.0, -8) - std::ldexp(1.0, -30);
  CHECK(static_cast<float>(bf16(below_half)) == 1.0f);
  CHECK(static_cast<float>(bf16(-above_half)) == -(1.0f + std::ldexp(1.0f, -7)));
  CHECK(std::isinf(static_cast<float>(bf16(1e300))));
  CHECK(static_cast<float>(bf16(1e-300)) == 0.0f);
  CHECK(static_cast<float>(bf16(int64_t{16777217})) == 16777216.0f);  // integers through double
  // Doubles whose value lies within a float ulp of a bf16 halfway point agree with the
  // nearest bf16 computed in double.
  Generator gen(6);
  const auto draws = rand({5000}, gen, DType::F64).to_vector<double>();
  for (const double d : draws) {
    const float base = static_cast<float>(bf16(static_cast<float>(1.0 + d)));  // a bf16 in [1, 2]
    if (base >= 2.0f) continue;  // the spacing doubles there
    const double half = static_cast<double>(base) + std::ldexp(1.0, -8);        // halfway to the next
    for (const double offset : {-1e-9, 1e-9}) {
      const double v = half + offset;
      const double lower = base, upper = static_cast<double>(base) + std::ldexp(1.0, -7);
      const float expected = static_cast<float>(v - lower < upper - v ? lower : upper);
      INFO(v);
      CHECK(static_cast<float>(bf16(v)) == expected);
    }
  }
}

TEST_CASE("tensors convert to bf16 and back on the CPU", "[unit][precision]") {
  Generator gen(1);
  const Tensor x = randn({7, 5}, gen);
  const Tensor b = x.to(DType::BF16);
  CHECK(b.dtype() == DType::BF16);
  CHECK(dtype_size(DType::BF16) == 2);
  const auto back = b.to(DType::F32).to_vector<float>(), original = x.to_vector<float>();
  for (size_t i = 0; i < back.size(); ++i) CHECK(back[i] == reference_bf16(original[i]));
  CHECK(b.to(DType::F64).to(DType::BF16).to(DType::F32).to_vector<float>() == back);  // exact through f64
  CHECK(full({3}, 2.5, DType::BF16).to(DType::F32).to_vector<float>() == std::vector<float>{2.5f, 2.5f, 2.5f});
}

TEST_CASE("the precision policy: names, scopes, and CUDA only for tf32 and bf16", "[unit][precision]") {
  CHECK(parse_precision("bf16") == Precision::bf16);
  CHECK(std::string(precision_name(Precision::tf32)) == "tf32");
  CHECK_THROWS_WITH(parse_precision("fp16"), Contains("fp32, tf32 or bf16"));
  CHECK(current_precision() == Precision::fp32);
  {
    const PrecisionScope outer(Precision::bf16);
    CHECK(current_precision() == Precision::bf16);
    {
      const PrecisionScope inner(Precision::tf32);
      CHECK(current_precision() == Precision::tf32);
    }
    CHECK(current_precision() == Precision::bf16);
    // The CPU computes in its tensors' dtype whatever the policy: autocast is CUDA's.
    Generator gen(2);
    const Tensor x = randn({1, 2, 5, 5}, gen), w = randn({3, 2, 3, 3}, gen);
    CHECK(conv2d(x, w, Tensor(), 1, 1).dtype() == DType::F32);
    CHECK(matmul(randn({2, 3}, gen), randn({3, 4}, gen)).dtype() == DType::F32);
  }
  CHECK(current_precision() == Precision::fp32);
}

TEST_CASE("the CUDA batch-norm policy: names, the process's choice, scopes", "[unit][precision]") {
  for (const CudaBatchNorm b : {CudaBatchNorm::own, CudaBatchNorm::cudnn_graph, CudaBatchNorm::timed})
    CHECK(parse_cuda_batch_norm(cuda_batch_norm_name(b)) == b);
  CHECK(std::string(cuda_batch_norm_name(CudaBatchNorm::timed)) == "timed");
  CHECK_THROWS_WITH(parse_cuda_batch_norm("cudnn"), Contains("own, cudnn-graph or timed"));
  // The tests run without MMP_CUDA_BATCH_NORM (tools/test.sh): the own kernels.
  REQUIRE(std::getenv("MMP_CUDA_BATCH_NORM") == nullptr);
  CHECK(current_cuda_batch_norm() == CudaBatchNorm::own);
  {
    const CudaBatchNormScope graph(CudaBatchNorm::cudnn_graph);
    CHECK(current_cuda_batch_norm() == CudaBatchNorm::cudnn_graph);
    {
      const CudaBatchNormScope timed(CudaBatchNorm::timed);
      CHECK(current_cuda_batch_norm() == CudaBatchNorm::timed);
    }
    CHECK(current_cuda_batch_norm() == CudaBatchNorm::cudnn_graph);
  }
  CHECK(current_cuda_batch_norm() == CudaBatchNorm::own);
}

TEST_CASE("a bf16 operand meets an f32 one by becoming f32; its gradient comes back in bf16", "[unit][precision]") {
  Generator gen(4);
  const Tensor a = randn({3, 4}, gen).to(DType::BF16).set_requires_grad(true);
  const Tensor b = randn({4}, gen).set_requires_grad(true);
  for (const Tensor& y : {add(a, b), mul(b, a), sub(a, b), div(a, add_scalar(square(b), 1.0))}) {
    CHECK(y.dtype() == DType::F32);
    const auto g = grad({sum(y)}, {a, b});
    CHECK(g[0].dtype() == DType::BF16);
    CHECK(g[1].dtype() == DType::F32);
  }
  // The values are those of the bf16 operand as f32.
  const Tensor a32 = a.to(DType::F32);
  CHECK(add(a, b).to_vector<float>() == add(a32, b).to_vector<float>());
  // Integers are not promoted: a mix with them is refused as before.
  CHECK_THROWS_WITH(add(a, zeros({4}, DType::I64)), Contains("different dtypes"));
}

TEST_CASE("channels-last tensors: layout, copies, and elementwise ops that keep it", "[unit][precision]") {
  Generator gen(9);
  const Tensor x = randn({2, 3, 4, 5}, gen).set_requires_grad(true);
  CHECK(x.is_contiguous());
  CHECK_FALSE(x.is_channels_last());
  const Tensor cl = to_channels_last(x);
  CHECK(cl.is_channels_last());
  CHECK_FALSE(cl.is_contiguous());
  CHECK(cl.strides() == Strides{60, 1, 15, 3});
  CHECK(cl.to_vector<float>() == x.to_vector<float>());  // the same values, another order in memory
  CHECK(to_channels_last(cl).storage() == cl.storage());  // already so: no copy
  CHECK(zeros({2, 1, 4, 5}).is_channels_last());  // one channel: both layouts at once
  // Elementwise results keep the layout of a channels-last operand of their shape.
  const Tensor y = relu(add(cl, x));
  CHECK(y.is_channels_last());
  CHECK(y.to_vector<float>() == relu(add(x, x)).to_vector<float>());
  CHECK(to_dtype(cl, DType::F64).is_channels_last());
  CHECK(contiguous(cl).is_contiguous());
  // Gradients flow through the layout copy unchanged.
  const auto g = grad({sum(mul(y, y))}, {x});
  CHECK(g[0].to_vector<float>() == mul_scalar(relu(add(x, x)), 4.0).to_vector<float>());  // d(y^2)/dx = 2y * 2
}
