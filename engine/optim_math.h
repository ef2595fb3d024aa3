#pragma once
// The per-element update rules of the optimizers, written once for both backends
// (as PyTorch's torch.optim.SGD and Adam/AdamW define them).
#include <cstdint>

#include "engine/functors.h"

namespace mmp {

struct SgdParams {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool first_step = true;  // the momentum buffer starts as a copy of the first update
};

struct AdamParams {
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;  // AdamW
  int64_t step = 1;        // after increment
};

template <class T>
MMP_HD void sgd_update(T& p, T g, T& buf, const SgdParams& o) {
  T d = g;
  if (o.weight_decay != 0) d += T(o.weight_decay) * p;
  if (o.momentum != 0) {
    buf = o.first_step ? d : T(o.momentum) * buf + T(1 - o.dampening) * d;
    d = o.nesterov ? d + T(o.momentum) * buf : buf;
  }
  p -= T(o.lr) * d;
}

// bias1 = 1 - beta1^step, bias2_sqrt = sqrt(1 - beta2^step), computed once per step.
template <class T>
MMP_HD void adam_update(T& p, T g, T& m, T& v, const AdamParams& o, double bias1, double bias2_sqrt) {
  if (o.weight_decay != 0) {
    if (o.decoupled) {
      p *= T(1 - o.lr * o.weight_decay);
    } else {
      g += T(o.weight_decay) * p;
    }
  }
  m = T(o.beta1) * m + T(1 - o.beta1) * g;
  v = T(o.beta2) * v + T(1 - o.beta2) * g * g;
  const T denom = fn::sqrt_(v) / T(bias2_sqrt) + T(o.eps);
  p -= T(o.lr / bias1) * m / denom;
}

}  // namespace mmp
