// log_softmax, softmax, nll_loss and cross_entropy with PyTorch's semantics.
#include "engine/ops.h"
#include "engine/ops/op_util.h"
#include "engine/profiler.h"

namespace mmp {

using detail::saved;
using detail::should_record;

Tensor log_softmax(const Tensor& x_in, int64_t dim_in) {
  ProfileScope profile("log_softmax", x_in.device());
  detail::check_floating("log_softmax", x_in);
  // Losses are computed in f32 whatever the activations' precision (autocast's rule).
  const Tensor x = x_in.dtype() == DType::BF16 ? to_dtype(x_in, DType::F32) : x_in;
  MMP_CHECK(x.ndim() >= 1, "log_softmax of a scalar");
  const int dim = normalize_dim(dim_in, x.ndim(), "log_softmax");
  const int last = x.ndim() - 1;
  // The kernel works on rows: bring `dim` last, then put it back.
  Tensor moved = dim == last ? x.detach() : transpose(x.detach(), dim, last);
  Tensor rows = moved.contiguous();
  Tensor out_rows = Tensor::empty(rows.shape(), rows.dtype(), rows.device());
  if (rows.numel() > 0) {
    const int64_t cols = rows.shape()[last];
    backend(x.device()).log_softmax(rows.as_strided({rows.numel() / cols, cols}, {cols, 1}, rows.offset()),
                                    out_rows.as_strided({rows.numel() / cols, cols}, {cols, 1}, 0));
  }
  Tensor out = dim == last ? out_rows : transpose(out_rows, dim, last);
  if (!should_record({x})) return out;
  Tensor keep_y = saved(out);
  // d/dx: g - softmax(x) * sum(g) along dim
  return record(
      "log_softmax", {x}, out,
      [keep_y, dim](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{sub(g, mul(exp(keep_y), sum(g, {dim}, /*keepdim=*/true)))};
      },
      {keep_y});
}

Tensor softmax(const Tensor& x, int64_t dim) { return exp(log_softmax(x, dim)); }

Tensor nll_loss(const Tensor& log_probs_in, const Tensor& labels_in) {
  detail::check_floating("nll_loss", log_probs_in);
  const Tensor log_probs = log_probs_in.dtype() == DType::BF16 ? to_dtype(log_probs_in, DType::F32) : log_probs_in;
  MMP_CHECK(log_probs.ndim() == 2, "nll_loss: log-probs must be [N, C], got ", log_probs.str());
  MMP_CHECK(labels_in.ndim() == 1 && labels_in.shape()[0] == log_probs.shape()[0],
            "nll_loss: labels ", labels_in.str(), " for log-probs ", log_probs.str());
  MMP_CHECK(labels_in.dtype() == DType::I64 || labels_in.dtype() == DType::I32,
            "nll_loss: labels must be i64 or i32, got ", labels_in.str());
  MMP_CHECK(labels_in.device() == log_probs.device(), "nll_loss: labels on ", labels_in.device().str(),
            ", log-probs on ", log_probs.device().str());
  MMP_CHECK(log_probs.shape()[0] > 0, "nll_loss of an empty batch");
  Tensor labels = to_dtype(labels_in, DType::I64).contiguous();
  Tensor lp = log_probs.detach().contiguous();
  Tensor out = Tensor::empty({}, log_probs.dtype(), log_probs.device());
  backend(lp.device()).nll_loss(lp, labels, out);
  if (!should_record({log_probs})) return out;
  return record("nll_loss", {log_probs}, out,
                [labels, shape = log_probs.shape()](const Tensor& g, const std::vector<bool>&) {
                  Tensor grad = Tensor::empty(shape, g.dtype(), g.device());
                  backend(g.device()).nll_loss_backward(g, labels, grad);
                  return std::vector<Tensor>{grad};
                },
                {labels});
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  MMP_CHECK(logits.ndim() == 2, "cross_entropy: logits must be [N, C], got ", logits.str());
  return nll_loss(log_softmax(logits, 1), labels);
}

}  // namespace mmp
