#include "tests/support/optimizer_cases.h"

namespace mmp::testing {

const std::vector<OptimizerCase>& optimizer_cases() {
  static const std::vector<OptimizerCase> cases = [] {
    auto make = [](std::string kind, double lr, double momentum, double dampening, double weight_decay,
                   bool nesterov, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8) {
      OptimizerOptions o;
      o.kind = std::move(kind);
      o.lr = lr;
      o.momentum = momentum;
      o.dampening = dampening;
      o.weight_decay = weight_decay;
      o.nesterov = nesterov;
      o.beta1 = beta1;
      o.beta2 = beta2;
      o.eps = eps;
      return o;
    };
    return std::vector<OptimizerCase>{{"sgd", make("sgd", 0.1, 0.9, 0, 1e-2, false)},
                                      {"sgd_dampening", make("sgd", 0.1, 0.9, 0.3, 0, false)},
                                      {"sgd_nesterov", make("sgd", 0.1, 0.8, 0, 1e-3, true)},
                                      {"sgd_plain", make("sgd", 0.05, 0, 0, 0, false)},
                                      {"adam", make("adam", 0.01, 0, 0, 1e-2, false, 0.9, 0.99, 1e-6)},
                                      {"adamw", make("adamw", 0.01, 0, 0, 0.1, false, 0.8, 0.999, 1e-8)}};
  }();
  return cases;
}

}  // namespace mmp::testing
