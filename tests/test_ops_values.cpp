// Forward values of the ops against direct computations.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "tests/support/compare.h"

using namespace mmp;
using namespace mmp::testing;
using Catch::Matchers::Contains;

TEST_CASE("matmul equals a naive triple loop, with every transpose", "[unit][threads][ops]") {
  Generator gen(1);
  for (auto [m, k, n] : {std::tuple{1, 1, 1}, {7, 5, 3}, {64, 33, 17}, {3, 130, 70}}) {
    const Tensor a = randn({m, k}, gen, DType::F64), b = randn({k, n}, gen, DType::F64);
    std::vector<double> ref(m * n, 0.0);
    const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j)
        for (int p = 0; p < k; ++p) ref[i * n + j] += va[i * k + p] * vb[p * n + j];
    const Tensor expected = from_vector(ref, {m, n});
    // Transposed views of transposed copies: the same matrices, stored the other way.
    const Tensor a_view = transpose(transpose(a, 0, 1).contiguous(), 0, 1);
    const Tensor b_view = transpose(transpose(b, 0, 1).contiguous(), 0, 1);
    INFO(m << "x" << k << "x" << n);
    CHECK(relative_error(matmul(a, b), expected) < 1e-13);
    CHECK(relative_error(matmul(a_view, b), expected) < 1e-13);
    CHECK(relative_error(matmul(a, b_view), expected) < 1e-13);
    CHECK(relative_error(matmul(a_view, b_view), expected) < 1e-13);
    CHECK(relative_error(matmul(a.to(DType::F32), b.to(DType::F32)), expected) < 1e-6);
  }
  // One-row operands whose elements are spaced (a row of a transposed matrix), on
  // either side.
  const Tensor t = randn({6, 3}, gen, DType::F64), b = randn({6, 4}, gen, DType::F64);
  const Tensor row = slice(transpose(t, 0, 1), 0, 1, 2);  // [1, 6], strides (1, 3)
  CHECK(relative_error(matmul(row, b), matmul(row.contiguous(), b)) < 1e-14);
  const Tensor column = slice(t, 1, 2, 3);  // [6, 1], strides (3, 1)
  const Tensor lhs = randn({5, 1}, gen, DType::F64);
  CHECK(relative_error(matmul(lhs, transpose(column, 0, 1)), matmul(lhs, transpose(column, 0, 1).contiguous())) <
        1e-14);
}

TEST_CASE("3x3 convolution at feature-map sizes equals direct loops, forward and backward", "[unit][threads][ops]") {
  // Maps large enough that the Winograd kernels split the images among the threads
  // (on up to 16 threads for the first), sides that are not multiples of the 4x4
  // output tile, an odd image count, and paddings 0, 1 and 2. In f64 the transforms
  // are exact up to rounding; in f32, F(4x4, 3x3) rounds to a few 1e-6 (direct
  // summation: about 1e-7).
  Generator gen(4);
  for (auto [n, c, co, h, w, pad] : {std::tuple{16, 3, 4, 64, 64, 1}, {4, 8, 6, 32, 32, 1}, {5, 3, 4, 30, 29, 1},
                                     {3, 3, 5, 20, 22, 0}, {4, 2, 3, 33, 31, 2}}) {
    INFO(n << "x" << c << "x" << h << "x" << w << " -> " << co << ", padding " << pad);
    const int ho = h + 2 * pad - 2, wo = w + 2 * pad - 2;
    const Tensor x = randn({n, c, h, w}, gen, DType::F64), wt = randn({co, c, 3, 3}, gen, DType::F64);
    const Tensor gy = randn({n, co, ho, wo}, gen, DType::F64);
    const auto vx = x.to_vector<double>(), vw = wt.to_vector<double>(), vg = gy.to_vector<double>();
    std::vector<double> y(vg.size(), 0.0), gx(vx.size(), 0.0), gw(vw.size(), 0.0);
    for (int b = 0; b < n; ++b)
      for (int o = 0; o < co; ++o)
        for (int i = 0; i < c; ++i)
          for (int r = 0; r < ho; ++r)
            for (int q = 0; q < wo; ++q)
              for (int a = 0; a < 3; ++a)
                for (int e = 0; e < 3; ++e) {
                  const int yy = r + a - pad, xx = q + e - pad;
                  if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                  const size_t xi = ((b * c + i) * h + yy) * w + xx, wi = ((o * c + i) * 3 + a) * 3 + e;
                  const size_t yi = ((b * co + o) * ho + r) * wo + q;
                  y[yi] += vx[xi] * vw[wi];
                  gx[xi] += vg[yi] * vw[wi];
                  gw[wi] += vg[yi] * vx[xi];
                }
    for (const auto& [dtype, tolerance] : {std::pair{DType::F64, 1e-12}, {DType::F32, 5e-6}}) {
      const Tensor xd = x.to(dtype).detach(), wd = wt.to(dtype).detach();
      xd.set_requires_grad(true);
      wd.set_requires_grad(true);
      const Tensor out = conv2d(xd, wd, Tensor(), 1, pad);
      backward({out}, {gy.to(dtype)});
      INFO(dtype_name(dtype));
      CHECK(relative_error(out, from_vector(y, {n, co, ho, wo})) < tolerance);
      CHECK(relative_error(xd.grad(), from_vector(gx, {n, c, h, w})) < tolerance);
      CHECK(relative_error(wd.grad(), from_vector(gw, {co, c, 3, 3})) < tolerance);
    }
  }
}

TEST_CASE("a convolution of an empty batch has zero gradients", "[unit][ops]") {
  Generator gen(5);
  const Tensor x = Tensor::empty({0, 2, 6, 6}, DType::F64), w = randn({3, 2, 3, 3}, gen, DType::F64);
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  const Tensor y = conv2d(x, w, Tensor(), 1, 1);
  CHECK(y.shape() == Shape{0, 3, 6, 6});
  backward({y}, {Tensor::empty({0, 3, 6, 6}, DType::F64)});
  CHECK(w.grad().shape() == w.shape());
  CHECK(max_abs_difference(w.grad(), zeros({3, 2, 3, 3}, DType::F64)) == 0.0);
}

TEST_CASE("batched matmul multiplies each pair", "[unit][ops]") {
  Generator gen(2);
  const Tensor a = randn({3, 4, 5}, gen, DType::F64), b = randn({3, 5, 2}, gen, DType::F64);
  const Tensor out = matmul(a, b);
  for (int i = 0; i < 3; ++i)
    CHECK(relative_error(select(out, 0, i), matmul(select(a, 0, i), select(b, 0, i))) < 1e-14);
}

TEST_CASE("sums over any set of dims equal direct loops", "[unit][threads][ops]") {
  Generator gen(3);
  const Tensor x = randn({2, 3, 4, 5}, gen, DType::F64);
  const auto v = x.to_vector<double>();
  auto at = [&](int a, int b, int c, int d) { return v[((a * 3 + b) * 4 + c) * 5 + d]; };
  std::vector<double> ref(3 * 5, 0.0);  // sum over dims 0 and 2
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c)
        for (int d = 0; d < 5; ++d) ref[b * 5 + d] += at(a, b, c, d);
  CHECK(relative_error(sum(x, {0, 2}), from_vector(ref, {3, 5})) < 1e-15);
  CHECK(sum(x, {0, 2}, true).shape() == Shape{1, 3, 1, 5});
  double total = 0;
  for (double e : v) total += e;
  CHECK(sum(x).item() == Approx(total).epsilon(1e-14));
  CHECK(mean(x).item() == Approx(total / 120).epsilon(1e-14));
  // A big f32 sum is accurate: the kernels accumulate in double.
  const Tensor ones_big = ones({1 << 22});
  CHECK(sum(ones_big).item() == double(1 << 22));
}

TEST_CASE("broadcasting arithmetic", "[unit][ops]") {
  const Tensor col = from_vector<float>({1, 2}, {2, 1});
  const Tensor row = from_vector<float>({10, 20, 30}, {3});
  CHECK(add(col, row).to_vector<float>() == std::vector<float>{11, 21, 31, 12, 22, 32});
  CHECK(mul(row, scalar_tensor(2)).to_vector<float>() == std::vector<float>{20, 40, 60});
  CHECK(div(row, col).to_vector<float>() == std::vector<float>{10, 20, 30, 5, 10, 15});
  CHECK(clamp(row, 15, 25).to_vector<float>() == std::vector<float>{15, 20, 25});
  CHECK(relu(from_vector<float>({-1, 0, 2}, {3})).to_vector<float>() == std::vector<float>{0, 0, 2});
  CHECK(pow(from_vector<float>({2, 3}, {2}), 3).to_vector<float>() == std::vector<float>{8, 27});
}

TEST_CASE("log_softmax and cross_entropy follow PyTorch", "[unit][ops]") {
  const Tensor logits = from_vector<double>({1, 2, 3, 1, 1, 1}, {2, 3});
  const Tensor labels = from_vector<int64_t>({2, 0}, {2});
  // By hand: loss_i = logsumexp(row_i) - row_i[label_i]
  const double l0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  const double l1 = std::log(3.0 * std::exp(1.0)) - 1.0;
  CHECK(cross_entropy(logits, labels).item() == Approx((l0 + l1) / 2).epsilon(1e-15));
  const auto ls = exp(log_softmax(logits, 1)).to_vector<double>();
  CHECK(ls[0] + ls[1] + ls[2] == Approx(1.0).epsilon(1e-15));
  CHECK(ls[3] == Approx(1.0 / 3).epsilon(1e-15));
  // Large logits do not overflow.
  const Tensor big = from_vector<float>({1000, 0, -1000}, {1, 3});
  CHECK(log_softmax(big, 1).to_vector<float>()[0] == 0.0f);
  CHECK_THROWS_WITH(cross_entropy(logits, from_vector<int64_t>({3, 0}, {2})),
                    Contains("label 3 of sample 0 is outside [0, 3)"));
  CHECK_THROWS_WITH(cross_entropy(logits, from_vector<float>({1, 0}, {2})), Contains("i64 or i32"));
}

TEST_CASE("argmax takes the first maximum", "[unit][ops]") {
  const Tensor x = from_vector<float>({1, 5, 5, 2, 9, 0, 9, 1}, {2, 4});
  CHECK(argmax(x, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 0});
  CHECK(argmax(x, 0).to_vector<int64_t>() == std::vector<int64_t>{1, 0, 1, 0});
  CHECK(argmax(x, 1, true).shape() == Shape{2, 1});
}

TEST_CASE("many dot products and norms in one call", "[unit][ops]") {
  Generator gen(9);
  const Tensor a = randn({100}, gen), b = randn({3, 7}, gen), c = randn({3, 7}, gen);
  const auto d = dots({a, b, b}, {a, c, b}).to_vector<double>();
  CHECK(d[0] == Approx(dot(a.to(DType::F64), a.to(DType::F64)).item()).epsilon(1e-12));
  CHECK(d[1] == Approx(dot(b.to(DType::F64), c.to(DType::F64)).item()).epsilon(1e-12));
  CHECK(squared_norms({b}).to_vector<double>()[0] == Approx(d[2]).epsilon(1e-15));
  CHECK(norm(a).item() == Approx(std::sqrt(d[0])).epsilon(1e-6));
  // The norm's gradient at zero is zero, not NaN.
  Tensor z = zeros({3}, DType::F64);
  z.set_requires_grad(true);
  const auto gz = grad({norm(z)}, {z})[0].to_vector<double>();
  CHECK(gz == std::vector<double>{0, 0, 0});
}

TEST_CASE("fused batch norm + add + ReLU is bit for bit the three ops, forward and backward", "[unit][threads][ops]") {
  // The fused kernel rounds where the separate ops do, so the CPU's training results do
  // not depend on which one a block runs.
  Generator gen(31);
  const Tensor x = randn({4, 6, 9, 11}, gen), residual = randn({4, 6, 9, 11}, gen);
  const Tensor w = randn({6}, gen), b = randn({6}, gen), probe = randn({4, 6, 9, 11}, gen);
  for (const bool with_residual : {false, true}) {
    auto run = [&](bool fused) {
      const Tensor xs = x.clone().set_requires_grad(true), rs = residual.clone().set_requires_grad(true);
      const Tensor ws = w.clone().set_requires_grad(true), bs = b.clone().set_requires_grad(true);
      const Tensor rm = zeros({6}), rv = ones({6});
      const Tensor r = with_residual ? rs : Tensor();
      const Tensor y = fused ? batch_norm_relu(xs, ws, bs, rm, rv, r, true)
                             : relu(with_residual ? add(batch_norm(xs, ws, bs, rm, rv, true), rs)
                                                  : batch_norm(xs, ws, bs, rm, rv, true));
      std::vector<Tensor> inputs{xs, ws, bs};
      if (with_residual) inputs.push_back(rs);
      std::vector<Tensor> out = grad({sum(mul(y, probe))}, inputs);
      out.insert(out.end(), {y, rm, rv});
      return out;
    };
    const auto fused = run(true), composed = run(false);
    REQUIRE(fused.size() == composed.size());
    for (size_t i = 0; i < fused.size(); ++i) {
      INFO((with_residual ? "with" : "without") << " residual, result " << i);
      CHECK(fused[i].to_vector<float>() == composed[i].to_vector<float>());
    }
    // And the ReLU did cut: some outputs are 0, some gradients of x too.
    const auto y = fused[fused.size() - 3].to_vector<float>();
    CHECK(std::count(y.begin(), y.end(), 0.0f) > static_cast<long>(y.size() / 4));
  }
}

TEST_CASE("edge cases as PyTorch treats them, or a clear error", "[unit][ops]") {
  // A dim of a 0-d tensor: an error naming the op, not a read past the shape.
  CHECK_THROWS_WITH(sum(scalar_tensor(3.0), {0}), Contains("0-d tensor"));
  CHECK_THROWS_WITH(squeeze(scalar_tensor(2.0), 0), Contains("0-d tensor"));
  // A window larger than the padded input, even with a stride that would round it away.
  CHECK_THROWS_WITH(conv2d(ones({1, 1, 1, 1}), ones({1, 1, 3, 3}), Tensor(), 3, 0), Contains("smaller than"));
  CHECK_THROWS_WITH(max_pool2d(full({1, 1, 2, 2}, 5.0), 3, 2, 0), Contains("smaller than"));
  // d(x^0)/dx = 0, at x = 0 too.
  const Tensor x = zeros({3}, DType::F64);
  x.set_requires_grad(true);
  backward(sum(pow(x, 0.0)));
  CHECK(max_abs_difference(x.grad(), zeros({3}, DType::F64)) == 0.0);
  // NaN is the maximum.
  const Tensor v = from_vector<double>({1.0, std::nan(""), 3.0, std::nan("")}, {4});
  CHECK(argmax(v, 0).to_vector<int64_t>() == std::vector<int64_t>{1});
  // An empty tensor is contiguous whatever its strides.
  CHECK(Tensor::empty({2, 0, 3}).is_contiguous());
}
