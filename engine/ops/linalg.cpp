// matmul (plain and batched) on the backends' GEMM, and linear.
#include "engine/ops.h"
#include "engine/flop_counter.h"
#include "engine/ops/op_util.h"
#include "engine/profiler.h"

namespace mmp {
namespace {

using detail::saved;
using detail::should_record;

// How a [rows, cols] matrix view reaches the GEMM: row-major with leading dimension
// `ld`, or as the transpose of a row-major [cols, rows] matrix. A view that is
// neither is copied.
struct GemmOperand {
  Tensor holder;  // keeps a copy alive when one was needed
  const void* data = nullptr;
  int64_t ld = 0;
  bool trans = false;
};

GemmOperand gemm_operand(const Tensor& m, int64_t row_stride, int64_t col_stride, int64_t rows, int64_t cols) {
  // Size-1 dims have meaningless strides: give them the ones a dense layout would.
  if (rows == 1) row_stride = cols;
  if (cols == 1) col_stride = 1;
  if (col_stride == 1 && row_stride >= std::max<int64_t>(cols, 1)) return {m, m.raw_data(), row_stride, false};
  // One row with spaced elements: the transpose of a column of a row-major matrix.
  if (rows == 1 && col_stride >= 1) return {m, m.raw_data(), col_stride, true};
  if (row_stride == 1 && col_stride >= std::max<int64_t>(rows, 1)) return {m, m.raw_data(), col_stride, true};
  return {};
}

// a [.., m, k] · b [.., k, n] for 2-d or 3-d (batched) operands.
Tensor matmul_forward(const Tensor& a_in, const Tensor& b_in) {
  const bool batched = a_in.ndim() == 3;
  Tensor a = a_in, b = b_in;
  const int ra = a.ndim() - 2, rb = b.ndim() - 2;
  const int64_t m = a.shape()[ra], k = a.shape()[ra + 1], n = b.shape()[rb + 1];
  const int64_t batch = batched ? a.shape()[0] : 1;

  GemmOperand oa = gemm_operand(a, a.strides()[ra], a.strides()[ra + 1], m, k);
  if (!oa.data) {
    a = a.detach().contiguous();
    oa = gemm_operand(a, a.strides()[ra], a.strides()[ra + 1], m, k);
  }
  GemmOperand ob = gemm_operand(b, b.strides()[rb], b.strides()[rb + 1], k, n);
  if (!ob.data) {
    b = b.detach().contiguous();
    ob = gemm_operand(b, b.strides()[rb], b.strides()[rb + 1], k, n);
  }
  Shape shape = batched ? Shape{batch, m, n} : Shape{m, n};
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  if (k == 0) {
    out.fill_(0);
    return out;
  }
  GemmArgs args;
  args.trans_a = oa.trans;
  args.trans_b = ob.trans;
  args.m = m;
  args.n = n;
  args.k = k;
  args.a = oa.data;
  args.lda = oa.ld;
  args.b = ob.data;
  args.ldb = ob.ld;
  args.c = out.raw_data();
  args.ldc = n;
  args.batch = batch;
  args.stride_a = batched ? a.strides()[0] : 0;
  args.stride_b = batched ? b.strides()[0] : 0;
  args.stride_c = m * n;
  args.dtype = a.dtype();
  args.allow_tf32 = detail::tf32_allowed(a);
  count_flops(2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) * static_cast<double>(batch));
  backend(a.device()).gemm(args);
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  ProfileScope profile("matmul", a_in.device());
  const Tensor a = detail::autocast(a_in), b = detail::autocast(b_in);
  detail::check_same_device_and_dtype("matmul", {a, b});
  detail::check_floating("matmul", a);
  MMP_CHECK((a.ndim() == 2 && b.ndim() == 2) || (a.ndim() == 3 && b.ndim() == 3),
            "matmul: expected two 2-d or two 3-d tensors, got ", a.str(), " and ", b.str());
  MMP_CHECK(a.shape()[a.ndim() - 1] == b.shape()[b.ndim() - 2], "matmul: inner sizes differ: ", a.str(), " · ",
            b.str());
  MMP_CHECK(a.ndim() == 2 || a.shape()[0] == b.shape()[0], "matmul: batch sizes differ: ", a.str(), " · ", b.str());
  Tensor out = matmul_forward(a, b);
  if (!should_record({a, b})) return out;
  Tensor keep_a = b.requires_grad() ? saved(a) : Tensor();
  Tensor keep_b = a.requires_grad() ? saved(b) : Tensor();
  return record(
      "matmul", {a, b}, out,
      [keep_a, keep_b](const Tensor& g, const std::vector<bool>& needs) {
        const int nd = g.ndim();
        Tensor ga, gb;
        if (needs[0]) ga = matmul(g, transpose(keep_b, nd - 2, nd - 1));  // g · bᵀ
        if (needs[1]) gb = matmul(transpose(keep_a, nd - 2, nd - 1), g);  // aᵀ · g
        return std::vector<Tensor>{ga, gb};
      },
      {keep_a, keep_b});
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  MMP_CHECK(weight.ndim() == 2, "linear: weight must be [out, in], got ", weight.str());
  MMP_CHECK(x.ndim() >= 1 && x.shape().back() == weight.shape()[1], "linear: input ", x.str(),
            " does not end in in_features ", weight.shape()[1]);
  const int64_t in = weight.shape()[1], outf = weight.shape()[0];
  Shape out_shape = x.shape();
  out_shape.back() = outf;
  Tensor y = matmul(reshape(x, {-1, in}), transpose(weight, 0, 1));
  if (bias.defined()) {
    MMP_CHECK(bias.shape() == Shape{outf}, "linear: bias ", bias.str(), " for ", outf, " outputs");
    y = add(y, detail::autocast(bias));  // a bf16 product takes a bf16 bias, as under PyTorch's autocast
  }
  return reshape(y, out_shape);
}

}  // namespace mmp
