// The f32 GEMM of the convolution kernels against an f64 product, at sizes that hit
// every edge of its blocking (partial micro-tiles, several depth blocks, threads).
#include <catch2/catch.hpp>

#include "engine/cpu/sgemm.h"
#include "engine/ops.h"
#include "tests/support/compare.h"

using namespace mmp;
using namespace mmp::testing;

TEST_CASE("sgemm equals an f64 product for every transpose, size edge and accumulate", "[unit][threads][ops]") {
  Generator gen(17);
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {7, 5, 3}, {8, 48, 256}, {9, 49, 257},
                         {64, 100, 300}, {130, 70, 513}, {3, 1000, 40},
                         {16, 64, 33}, {24, 80, 65}, {64, 147, 70}}) {  // narrow last panels, full and partial
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (bool accumulate : {false, true}) {
          const Tensor a = randn(ta ? Shape{k, m} : Shape{m, k}, gen), b = randn(tb ? Shape{n, k} : Shape{k, n}, gen);
          const Tensor c0 = randn({m, n}, gen);
          Tensor c = c0.clone();
          cpu::sgemm_dense(ta, tb, m, n, k, a.data<float>(), b.data<float>(), c.data<float>(), accumulate);
          const Tensor a64 = ta ? transpose(a.to(DType::F64), 0, 1) : a.to(DType::F64);
          const Tensor b64 = tb ? transpose(b.to(DType::F64), 0, 1) : b.to(DType::F64);
          Tensor expected = matmul(a64, b64);
          if (accumulate) expected = add(expected, c0.to(DType::F64));
          INFO(m << "x" << n << "x" << k << " trans_a " << ta << " trans_b " << tb << " accumulate " << accumulate);
          CHECK(relative_error(c, expected) < 1e-6);
        }
  }
}
