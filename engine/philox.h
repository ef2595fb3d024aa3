#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11):
// a counter-based generator. Element i of a fill uses counter offset + i under the
// key `seed`, so any device computes any element independently and every device
// computes the same values.
#include <cstdint>

#include "engine/functors.h"

namespace mmp {

struct Philox4x32 {
  uint32_t out[4];

  MMP_HD Philox4x32(uint64_t seed, uint64_t counter) {
    uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
    uint32_t c2 = 0, c3 = 0;
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
      const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
      const uint32_t n1 = static_cast<uint32_t>(p1);
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
      const uint32_t n3 = static_cast<uint32_t>(p0);
      c0 = n0; c1 = n1; c2 = n2; c3 = n3;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
  }

  // Two doubles in [0, 1) with 53 random bits each.
  MMP_HD double uniform0() const { return to_unit(out[0], out[1]); }
  MMP_HD double uniform1() const { return to_unit(out[2], out[3]); }

  static MMP_HD double to_unit(uint32_t hi, uint32_t lo) {
    const uint64_t bits = ((static_cast<uint64_t>(hi) << 32) | lo) >> 11;
    return static_cast<double>(bits) * (1.0 / 9007199254740992.0);
  }
};

// The value of element `i` of a uniform or normal fill.
MMP_HD double philox_uniform(uint64_t seed, uint64_t counter, double lo, double hi) {
  return lo + (hi - lo) * Philox4x32(seed, counter).uniform0();
}
MMP_HD double philox_normal(uint64_t seed, uint64_t counter, double mean, double std) {
  const Philox4x32 r(seed, counter);
  const double u1 = 1.0 - r.uniform0();  // (0, 1]: log() stays finite
  const double u2 = r.uniform1();
  return mean + std * ::sqrt(-2.0 * ::log(u1)) * ::cos(6.283185307179586 * u2);
}

}  // namespace mmp
