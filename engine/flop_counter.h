#pragma once
// Counting the arithmetic of the big ops (convolutions and matrix products, forward and
// backward, 2 FLOPs per multiply-add) while a FlopCounter lives on this thread: `mmp
// bench step` reports model FLOP utilisation from it. Elementwise ops and reductions
// are not counted (as MFU figures usually leave them out).
namespace mmp {

class FlopCounter {
 public:
  FlopCounter();
  ~FlopCounter();
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;
  double flops() const { return flops_; }

 private:
  friend void count_flops(double flops);
  double flops_ = 0;
  FlopCounter* previous_;
};

// Adds to the innermost live counter of this thread; nothing when there is none.
void count_flops(double flops);

}  // namespace mmp
