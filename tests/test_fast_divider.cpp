// The multiply-and-shift division the CUDA pooling kernels split indices with, against
// the division it replaces: every divisor up to 1024 with every numerator up to 2^16 and
// near the multiples, and random pairs over the whole range it is meant for (< 2^31).
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>

#include "engine/fast_divider.h"

using mmp::FastDivider;

TEST_CASE("fast division by a fixed divisor equals the division, up to 2^31", "[unit][engine]") {
  int64_t wrong = 0, checked = 0;
  auto check = [&](const FastDivider& d, uint32_t n) {
    ++checked;
    if (d.divide(n) != n / d.divisor()) {
      ++wrong;
      if (wrong < 5) FAIL_CHECK(n << " / " << d.divisor() << " gave " << d.divide(n));
    }
  };
  for (uint32_t divisor = 1; divisor <= 1024; ++divisor) {
    const FastDivider d(divisor);
    for (uint32_t n = 0; n < (1u << 16); ++n) check(d, n);
    // Around multiples of the divisor near the top of the range, where rounding of the
    // multiplier would show first.
    for (uint32_t k = 1; k <= 64; ++k) {
      const uint32_t top = ((1u << 31) - 1) / divisor * divisor;
      for (const uint32_t base : {top - (k - 1) * divisor, top / k}) {
        const uint32_t m = base / divisor * divisor;
        for (const uint32_t n : {m, m - 1, m + 1, m + divisor - 1})
          if (n < (1u << 31)) check(d, n);
      }
    }
  }
  std::mt19937_64 gen(7);
  std::uniform_int_distribution<uint32_t> any(0, (1u << 31) - 1);
  for (int i = 0; i < 2000000; ++i) {
    const uint32_t divisor = std::max<uint32_t>(1, any(gen) >> (gen() % 31));
    check(FastDivider(divisor), any(gen));
  }
  for (const uint32_t divisor : {(1u << 31) - 1, 1u << 30, (1u << 30) + 1, 3u, 7u, 1000003u})
    for (const uint32_t n : {0u, 1u, divisor - 1, divisor, (1u << 31) - 1}) check(FastDivider(divisor), n);
  CHECK(wrong == 0);
  CHECK(checked > 69000000);
}
