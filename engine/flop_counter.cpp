#include "engine/flop_counter.h"

namespace mmp {
namespace {

thread_local FlopCounter* current = nullptr;

}  // namespace

FlopCounter::FlopCounter() : previous_(current) { current = this; }
FlopCounter::~FlopCounter() { current = previous_; }

void count_flops(double flops) {
  if (current) current->flops_ += flops;
}

}  // namespace mmp
