#pragma once
// Elementwise arithmetic, written once for both backends. The CPU kernels and the
// CUDA kernels instantiate the same functors, so the CPU tests check the math the
// GPU runs; only the loops differ.
#include <cmath>
#include <cstdint>

#include "engine/error.h"

#if defined(__CUDACC__)
#define MMP_HD __host__ __device__ __forceinline__
#else
#define MMP_HD inline
#endif

namespace mmp {

enum class UnaryKind : uint8_t {
  Neg, Exp, Log, Sqrt, Pow, Clamp, Relu, AddScalar, MulScalar, Square, Sigmoid
};
enum class BinaryKind : uint8_t {
  Add, Sub, Mul, Div,
  // Backward rules, grad first: f(grad, saved)
  ReluBackward,   // g * (y > 0)
  PowBackward,    // g * p * x^(p-1)
  ClampBackward,  // g * (lo <= x <= hi)
  SqrtBackward,   // g * 0.5 / y
  SigmoidBackward,  // g * y * (1 - y)
  DivBackwardB,   // -g * y / b, applied as f(g*y, b) = -(g*y) / b
  // a + alpha * b, for accumulations
  AddScaled,
};

// The scalar parameters an elementwise op may carry (exponent, clamp bounds, alpha).
struct ScalarParams {
  double a = 0;
  double b = 0;
};

namespace fn {

// Float and double overloads that resolve to the same C functions on host and device.
MMP_HD float exp_(float x) { return expf(x); }
MMP_HD double exp_(double x) { return ::exp(x); }
MMP_HD float log_(float x) { return logf(x); }
MMP_HD double log_(double x) { return ::log(x); }
MMP_HD float sqrt_(float x) { return sqrtf(x); }
MMP_HD double sqrt_(double x) { return ::sqrt(x); }
MMP_HD float pow_(float x, float p) { return powf(x, p); }
MMP_HD double pow_(double x, double p) { return ::pow(x, p); }

template <class T> struct Neg { MMP_HD T operator()(T x) const { return -x; } };
template <class T> struct Exp { MMP_HD T operator()(T x) const { return exp_(x); } };
template <class T> struct Log { MMP_HD T operator()(T x) const { return log_(x); } };
template <class T> struct Sqrt { MMP_HD T operator()(T x) const { return sqrt_(x); } };
template <class T> struct Square { MMP_HD T operator()(T x) const { return x * x; } };
template <class T> struct Relu { MMP_HD T operator()(T x) const { return x > T(0) ? x : T(0); } };
template <class T> struct Sigmoid {
  MMP_HD T operator()(T x) const { return T(1) / (T(1) + exp_(-x)); }
};
template <class T> struct Pow {
  T p;
  MMP_HD T operator()(T x) const {
    // Exact and fast for the exponents that matter; pow() for the rest.
    if (p == T(2)) return x * x;
    if (p == T(1)) return x;
    if (p == T(0.5)) return sqrt_(x);
    return pow_(x, p);
  }
};
template <class T> struct Clamp {
  T lo, hi;
  MMP_HD T operator()(T x) const { return x < lo ? lo : (x > hi ? hi : x); }
};
template <class T> struct AddScalar { T s; MMP_HD T operator()(T x) const { return x + s; } };
template <class T> struct MulScalar { T s; MMP_HD T operator()(T x) const { return x * s; } };

template <class T> struct Add { MMP_HD T operator()(T a, T b) const { return a + b; } };
template <class T> struct Sub { MMP_HD T operator()(T a, T b) const { return a - b; } };
template <class T> struct Mul { MMP_HD T operator()(T a, T b) const { return a * b; } };
template <class T> struct Div { MMP_HD T operator()(T a, T b) const { return a / b; } };
template <class T> struct AddScaled {
  T alpha;
  MMP_HD T operator()(T a, T b) const { return a + alpha * b; }
};
template <class T> struct ReluBackward {
  MMP_HD T operator()(T g, T y) const { return y > T(0) ? g : T(0); }
};
template <class T> struct PowBackward {
  T p;
  MMP_HD T operator()(T g, T x) const {
    if (p == T(0)) return T(0);  // x^0 is constant (at x = 0 too, as PyTorch)
    if (p == T(2)) return g * T(2) * x;
    if (p == T(1)) return g;
    return g * p * pow_(x, p - T(1));
  }
};
template <class T> struct ClampBackward {
  T lo, hi;
  MMP_HD T operator()(T g, T x) const { return (x >= lo && x <= hi) ? g : T(0); }
};
template <class T> struct SqrtBackward {
  MMP_HD T operator()(T g, T y) const { return g * T(0.5) / y; }
};
template <class T> struct SigmoidBackward {
  MMP_HD T operator()(T g, T y) const { return g * y * (T(1) - y); }
};
template <class T> struct DivBackwardB {
  MMP_HD T operator()(T gy, T b) const { return -gy / b; }
};

}  // namespace fn

// Calls visit(functor) with the functor for `kind`; both backends use this, so a new
// elementwise op is added here once.
template <class T, class Visit>
void visit_unary(UnaryKind kind, ScalarParams p, Visit&& visit) {
  switch (kind) {
    case UnaryKind::Neg: return visit(fn::Neg<T>{});
    case UnaryKind::Exp: return visit(fn::Exp<T>{});
    case UnaryKind::Log: return visit(fn::Log<T>{});
    case UnaryKind::Sqrt: return visit(fn::Sqrt<T>{});
    case UnaryKind::Pow: return visit(fn::Pow<T>{T(p.a)});
    case UnaryKind::Clamp: return visit(fn::Clamp<T>{T(p.a), T(p.b)});
    case UnaryKind::Relu: return visit(fn::Relu<T>{});
    case UnaryKind::AddScalar: return visit(fn::AddScalar<T>{T(p.a)});
    case UnaryKind::MulScalar: return visit(fn::MulScalar<T>{T(p.a)});
    case UnaryKind::Square: return visit(fn::Square<T>{});
    case UnaryKind::Sigmoid: return visit(fn::Sigmoid<T>{});
  }
  MMP_THROW("unknown unary op");
}

template <class T, class Visit>
void visit_binary(BinaryKind kind, ScalarParams p, Visit&& visit) {
  switch (kind) {
    case BinaryKind::Add: return visit(fn::Add<T>{});
    case BinaryKind::Sub: return visit(fn::Sub<T>{});
    case BinaryKind::Mul: return visit(fn::Mul<T>{});
    case BinaryKind::Div: return visit(fn::Div<T>{});
    case BinaryKind::ReluBackward: return visit(fn::ReluBackward<T>{});
    case BinaryKind::PowBackward: return visit(fn::PowBackward<T>{T(p.a)});
    case BinaryKind::ClampBackward: return visit(fn::ClampBackward<T>{T(p.a), T(p.b)});
    case BinaryKind::SqrtBackward: return visit(fn::SqrtBackward<T>{});
    case BinaryKind::SigmoidBackward: return visit(fn::SigmoidBackward<T>{});
    case BinaryKind::DivBackwardB: return visit(fn::DivBackwardB<T>{});
    case BinaryKind::AddScaled: return visit(fn::AddScaled<T>{T(p.a)});
  }
  MMP_THROW("unknown binary op");
}

}  // namespace mmp
