#pragma once
// What the cards gpu-check meets can do at most, for the benchmarks' utilisation columns:
// dense tensor-core TFLOP/s by precision (model FLOP utilisation) and memory bandwidth
// (the memory-bound kernels' share of it). The first entry whose name the device's
// contains applies; 0 where the card is unknown (or a CPU).
#include <string>

#include "engine/precision.h"

namespace mmp::cli {

struct CardPeak {
  const char* name;
  double bf16_tflops, tf32_tflops, fp32_tflops;
  double memory_gbps;  // GB/s (10^9 bytes)
};

inline constexpr CardPeak kCardPeaks[] = {
    {"H100 PCIe", 756.0, 378.0, 51.2, 2000.0},
    {"H100", 989.4, 494.7, 66.9, 3350.0},
    {"H200", 989.4, 494.7, 66.9, 4800.0},
    {"A100", 312.0, 156.0, 19.5, 2039.0},  // the 80 GB SXM card
};

inline const CardPeak* card_peak(const std::string& device) {
  for (const CardPeak& c : kCardPeaks)
    if (device.find(c.name) != std::string::npos) return &c;
  return nullptr;
}

// The card's dense peak at `p` in TFLOP/s, or 0 where unknown.
inline double peak_tflops(const std::string& device, Precision p) {
  const CardPeak* c = card_peak(device);
  if (!c) return 0;
  return p == Precision::bf16 ? c->bf16_tflops : p == Precision::tf32 ? c->tf32_tflops : c->fp32_tflops;
}

// The card's memory bandwidth in GB/s, or 0 where unknown.
inline double peak_memory_gbps(const std::string& device) {
  const CardPeak* c = card_peak(device);
  return c ? c->memory_gbps : 0;
}

}  // namespace mmp::cli
