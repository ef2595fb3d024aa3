// Elementwise ops with broadcasting and their backward rules.
#include "engine/ops.h"
#include "engine/ops/op_util.h"
#include "engine/profiler.h"

namespace mmp {
namespace {

using detail::saved;
using detail::should_record;

Tensor run_binary(const char* name, BinaryKind kind, ScalarParams p, const Tensor& a, const Tensor& b) {
  ProfileScope profile(name, a.device());
  detail::check_same_device_and_dtype(name, {a, b});
  detail::check_floating(name, a);
  const std::optional<Shape> broadcast = broadcast_shapes(a.shape(), b.shape());
  MMP_CHECK(broadcast, name, ": ", a.str(), " and ", b.str(), " do not broadcast");
  const Shape& shape = *broadcast;
  Tensor out = detail::empty_in_layout_of(shape, a.dtype(), a.device(), {a, b});
  if (out.numel() > 0)
    backend(a.device()).binary(kind, p, detail::broadcast_view(a, shape), detail::broadcast_view(b, shape), out);
  return out;
}

Tensor run_unary(const char* name, UnaryKind kind, ScalarParams p, const Tensor& x) {
  MMP_CHECK(x.defined(), name, ": undefined input");
  ProfileScope profile(name, x.device());
  detail::check_floating(name, x);
  Tensor out = detail::empty_in_layout_of(x.shape(), x.dtype(), x.device(), {x});
  if (out.numel() > 0) backend(x.device()).unary(kind, p, x, out);
  return out;
}

// A unary op whose gradient is f(grad, saved) for a binary backward functor.
Tensor unary_with_backward(const char* name, UnaryKind kind, ScalarParams p, const Tensor& x,
                           BinaryKind backward_kind, bool save_output) {
  Tensor out = run_unary(name, kind, p, x);
  if (!should_record({x})) return out;
  Tensor keep = save_output ? saved(out) : saved(x);
  return record(
      name, {x}, out,
      [=](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{run_binary(name, backward_kind, p, g, keep)};
      },
      {keep});
}

}  // namespace

Tensor add(const Tensor& a_in, const Tensor& b_in) {
  const auto [a, b] = detail::promote(a_in, b_in);
  Tensor out = run_binary("add", BinaryKind::Add, {}, a, b);
  if (!should_record({a, b})) return out;
  return record("add", {a, b}, out, [sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& needs) {
    return std::vector<Tensor>{needs[0] ? sum_to(g, sa) : Tensor(), needs[1] ? sum_to(g, sb) : Tensor()};
  });
}

Tensor sub(const Tensor& a_in, const Tensor& b_in) {
  const auto [a, b] = detail::promote(a_in, b_in);
  Tensor out = run_binary("sub", BinaryKind::Sub, {}, a, b);
  if (!should_record({a, b})) return out;
  return record("sub", {a, b}, out, [sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& needs) {
    return std::vector<Tensor>{needs[0] ? sum_to(g, sa) : Tensor(), needs[1] ? sum_to(neg(g), sb) : Tensor()};
  });
}

Tensor add_scaled(const Tensor& a_in, const Tensor& b_in, double alpha) {
  const auto [a, b] = detail::promote(a_in, b_in);
  Tensor out = run_binary("add_scaled", BinaryKind::AddScaled, {alpha, 0}, a, b);
  if (!should_record({a, b})) return out;
  return record("add_scaled", {a, b}, out,
                [sa = a.shape(), sb = b.shape(), alpha](const Tensor& g, const std::vector<bool>& needs) {
                  return std::vector<Tensor>{needs[0] ? sum_to(g, sa) : Tensor(),
                                             needs[1] ? sum_to(mul_scalar(g, alpha), sb) : Tensor()};
                });
}

Tensor mul(const Tensor& a_in, const Tensor& b_in) {
  const auto [a, b] = detail::promote(a_in, b_in);
  Tensor out = run_binary("mul", BinaryKind::Mul, {}, a, b);
  if (!should_record({a, b})) return out;
  // Each input's gradient needs the other input only.
  Tensor keep_a = b.requires_grad() ? saved(a) : Tensor();
  Tensor keep_b = a.requires_grad() ? saved(b) : Tensor();
  return record("mul", {a, b}, out,
                [keep_a, keep_b, sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& needs) {
                  return std::vector<Tensor>{needs[0] ? sum_to(mul(g, keep_b), sa) : Tensor(),
                                             needs[1] ? sum_to(mul(g, keep_a), sb) : Tensor()};
                },
                {keep_a, keep_b});
}

Tensor div(const Tensor& a_in, const Tensor& b_in) {
  const auto [a, b] = detail::promote(a_in, b_in);
  Tensor out = run_binary("div", BinaryKind::Div, {}, a, b);
  if (!should_record({a, b})) return out;
  Tensor keep_b = saved(b);
  Tensor keep_y = b.requires_grad() ? saved(out) : Tensor();
  return record("div", {a, b}, out,
                [keep_b, keep_y, sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& needs) {
                  Tensor ga, gb;
                  if (needs[0]) ga = sum_to(div(g, keep_b), sa);
                  // d(a/b)/db = -a/b² = -y/b
                  if (needs[1])
                    gb = sum_to(run_binary("div", BinaryKind::DivBackwardB, {}, mul(g, keep_y), keep_b), sb);
                  return std::vector<Tensor>{ga, gb};
                },
                {keep_b, keep_y});
}

Tensor neg(const Tensor& x) {
  Tensor out = run_unary("neg", UnaryKind::Neg, {}, x);
  if (!should_record({x})) return out;
  return record("neg", {x}, out, [](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{neg(g)};
  });
}

Tensor add_scalar(const Tensor& x, double s) {
  Tensor out = run_unary("add_scalar", UnaryKind::AddScalar, {s, 0}, x);
  if (!should_record({x})) return out;
  return record("add_scalar", {x}, out, [](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g};
  });
}

Tensor mul_scalar(const Tensor& x, double s) {
  Tensor out = run_unary("mul_scalar", UnaryKind::MulScalar, {s, 0}, x);
  if (!should_record({x})) return out;
  return record("mul_scalar", {x}, out, [s](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{mul_scalar(g, s)};
  });
}

Tensor exp(const Tensor& x) {
  return unary_with_backward("exp", UnaryKind::Exp, {}, x, BinaryKind::Mul, /*save_output=*/true);
}

Tensor log(const Tensor& x) {
  return unary_with_backward("log", UnaryKind::Log, {}, x, BinaryKind::Div, /*save_output=*/false);
}

Tensor sqrt(const Tensor& x) {
  return unary_with_backward("sqrt", UnaryKind::Sqrt, {}, x, BinaryKind::SqrtBackward, /*save_output=*/true);
}

Tensor relu(const Tensor& x) {
  return unary_with_backward("relu", UnaryKind::Relu, {}, x, BinaryKind::ReluBackward, /*save_output=*/true);
}

Tensor sigmoid(const Tensor& x) {
  return unary_with_backward("sigmoid", UnaryKind::Sigmoid, {}, x, BinaryKind::SigmoidBackward, /*save_output=*/true);
}

Tensor pow(const Tensor& x, double exponent) {
  Tensor out = run_unary("pow", UnaryKind::Pow, {exponent, 0}, x);
  if (!should_record({x})) return out;
  Tensor keep = saved(x);
  return record(
      "pow", {x}, out,
      [keep, exponent](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{run_binary("pow", BinaryKind::PowBackward, {exponent, 0}, g, keep)};
      },
      {keep});
}

Tensor square(const Tensor& x) {
  Tensor out = run_unary("square", UnaryKind::Square, {}, x);
  if (!should_record({x})) return out;
  Tensor keep = saved(x);
  return record(
      "square", {x}, out,
      [keep](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{run_binary("square", BinaryKind::PowBackward, {2.0, 0}, g, keep)};
      },
      {keep});
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  MMP_CHECK(lo <= hi, "clamp: lower bound ", lo, " above upper bound ", hi);
  return unary_with_backward("clamp", UnaryKind::Clamp, {lo, hi}, x, BinaryKind::ClampBackward,
                             /*save_output=*/false);
}

}  // namespace mmp
