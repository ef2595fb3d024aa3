#include "tests/support/hashed_values.h"

#include <cmath>
#include <string>
#include <vector>

namespace mmp::testing {
namespace {

uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t key(uint64_t seed, uint64_t stream) { return (seed << 44) | (stream << 26); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Tensor hashed_uniform(uint64_t seed, uint64_t stream, const Shape& shape) {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[i] = 2 * (static_cast<double>(splitmix64(key(seed, stream) + static_cast<uint64_t>(i)) >> 11) * 0x1p-53) - 1;
  return from_vector<double>(v, shape);
}

void fill_model(AVClassifier& model, uint64_t seed) {
  NamedTensors state = model.state_dict();
  NamedTensors filled;
  for (size_t number = 0; number < state.size(); ++number) {
    const auto& [name, t] = state[number];
    const Shape& shape = t.shape();
    if (ends_with(name, "running_mean") || ends_with(name, "num_batches_tracked")) {
      filled.emplace_back(name, zeros(shape, t.dtype()));
      continue;
    }
    if (ends_with(name, "running_var")) {
      filled.emplace_back(name, ones(shape, t.dtype()));
      continue;
    }
    const Tensor u = hashed_uniform(seed, number, shape);
    Tensor value;
    if (ends_with(name, "weight") && shape.size() >= 2) {
      int64_t fan_in = 1;
      for (size_t d = 1; d < shape.size(); ++d) fan_in *= shape[d];
      value = mul_scalar(u, std::sqrt(6.0 / static_cast<double>(fan_in)));
    } else if (ends_with(name, "weight")) {
      value = add_scalar(mul_scalar(u, 0.1), 1.0);
    } else {
      const std::string weight = name.substr(0, name.size() - 4) + "weight";
      const Tensor* w = nullptr;
      for (const auto& [n, s] : state)
        if (n == weight) w = &s;
      value = w && w->ndim() == 2 ? mul_scalar(u, 1.0 / std::sqrt(static_cast<double>(w->shape()[1])))
                                  : mul_scalar(u, 0.1);
    }
    filled.emplace_back(name, value.to(DType::F32));
  }
  model.load_state_dict(filled, "hashed values");
}

Batch hashed_batch(uint64_t seed, const Shape& audio, const Shape& visual, int64_t classes) {
  Batch b;
  b.audio = mul_scalar(hashed_uniform(seed, 1000, audio), std::sqrt(3.0)).to(DType::F32);
  b.visual = mul_scalar(hashed_uniform(seed, 1001, visual), std::sqrt(3.0)).to(DType::F32);
  std::vector<int64_t> labels(static_cast<size_t>(audio[0]));
  for (size_t i = 0; i < labels.size(); ++i)
    labels[i] = static_cast<int64_t>(splitmix64(key(seed, 1002) + i) % static_cast<uint64_t>(classes));
  b.label = from_vector<int64_t>(labels, {audio[0]});
  return b;
}

}  // namespace mmp::testing
