// The division cursor the CUDA kernels follow their elements' channels with: along any
// grid-stride loop it must give exactly i / d (wrapped) and i % d, as the divisions would.
#include <catch2/catch.hpp>

#include "engine/division_cursor.h"

using namespace mmp;

TEST_CASE("a division cursor follows i / d and i % d along a strided loop, with additions only", "[unit][tensor]") {
  struct Case {
    int64_t first, step, divisor, wrap;
  };
  // NCHW channels ((i / hw) % c), NHWC channels (divisor 1: i % c), samples (no wrap);
  // steps shorter and longer than a plane and than a whole channel cycle.
  const Case cases[] = {{0, 1, 1, 3},         {5, 7, 1, 64},       {3, 1081344, 1, 64}, {0, 256, 3136, 64},
                        {255, 1081344, 49, 512}, {17, 3, 5, 0},     {1000, 1, 12544, 0}, {12, 40, 4, 10},
                        {9, 2, 1, 1},         {0, 4096, 1, 4096}, {4095, 4097, 1, 4096}};
  for (const Case& c : cases) {
    DivisionCursor cursor(c.first, c.step, c.divisor, c.wrap);
    int64_t i = c.first;
    for (int k = 0; k < 20000; ++k, i += c.step, cursor.advance()) {
      const int64_t quotient = c.wrap > 0 ? (i / c.divisor) % c.wrap : i / c.divisor;
      if (cursor.quotient() != quotient || cursor.remainder() != i % c.divisor) {
        INFO("first " << c.first << " step " << c.step << " divisor " << c.divisor << " wrap " << c.wrap << " at i "
                      << i);
        CHECK(cursor.quotient() == quotient);
        CHECK(cursor.remainder() == i % c.divisor);
        break;
      }
    }
    CHECK(i == c.first + 20000 * c.step);  // every step was checked
  }
}
