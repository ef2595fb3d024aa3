// Philox: the published known answer, reproducibility, and the distributions.
#include <catch2/catch.hpp>
#include <cmath>

#include "engine/ops.h"
#include "engine/philox.h"

using namespace mmp;

TEST_CASE("Philox4x32-10 matches the Random123 known answer", "[unit][random]") {
  // Random123's kat_vectors: philox4x32 10 rounds, counter 0, key 0.
  const Philox4x32 r(0, 0);
  CHECK(r.out[0] == 0x6627e8d5u);
  CHECK(r.out[1] == 0xe169c58du);
  CHECK(r.out[2] == 0xbc57ac4cu);
  CHECK(r.out[3] == 0x9b00dbd8u);
}

TEST_CASE("the same seed gives the same values and the stream moves on", "[unit][random]") {
  Generator g1(42), g2(42);
  const Tensor a = randn({1000}, g1), b = randn({1000}, g2);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  const Tensor c = randn({1000}, g1);
  CHECK(a.to_vector<float>() != c.to_vector<float>());
  Generator g3(43);
  CHECK(randn({1000}, g3).to_vector<float>() != a.to_vector<float>());
}

TEST_CASE("uniform and normal have the right moments", "[unit][random]") {
  Generator gen(7);
  const auto u = rand({200000}, gen, DType::F64).to_vector<double>();
  double mean = 0, lo = 1, hi = 0;
  for (double v : u) {
    mean += v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  mean /= u.size();
  CHECK(lo >= 0.0);
  CHECK(hi < 1.0);
  CHECK(std::fabs(mean - 0.5) < 0.005);
  const auto n = randn({200000}, gen, DType::F64).to_vector<double>();
  double m = 0, s = 0;
  for (double v : n) m += v;
  m /= n.size();
  for (double v : n) s += (v - m) * (v - m);
  s = std::sqrt(s / n.size());
  CHECK(std::fabs(m) < 0.01);
  CHECK(std::fabs(s - 1.0) < 0.01);
  Tensor t = Tensor::empty({1000});
  normal_(t, gen, 3.0, 0.5);
  double tm = 0;
  for (float v : t.to_vector<float>()) tm += v;
  CHECK(std::fabs(tm / 1000 - 3.0) < 0.1);
}
