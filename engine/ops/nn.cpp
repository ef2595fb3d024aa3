// Layers' functional forms: conv2d, batch_norm, max_pool2d (NCHW, PyTorch semantics).
#include "engine/ops.h"
#include "engine/distributed.h"
#include "engine/flop_counter.h"
#include "engine/ops/op_util.h"
#include "engine/profiler.h"

namespace mmp {
namespace {

using detail::saved;
using detail::should_record;

// 0 when the padded input is smaller than the window (C++'s division truncates a
// negative span towards 0, which would give a window that does not fit).
int64_t window_output_size(int64_t in, int64_t k, int64_t stride, int64_t pad) {
  const int64_t span = in + 2 * pad - k;
  return span < 0 ? 0 : span / stride + 1;
}

// Channel vector [C] viewed as [1, C, 1, 1] (or [1, C] for 2-d inputs) for broadcasting.
Tensor per_channel(const Tensor& v, int ndim) {
  Shape shape(ndim, 1);
  shape[1] = v.shape()[0];
  return reshape(v, shape);
}

// Training-mode batch norm over every rank's samples (SyncBatchNormScope): each
// channel's sums of x and x^2 and the sample count, in f64, summed over the ranks by the
// differentiable all-reduce, and the normalisation composed of ops, so that its backward
// sums the ranks' gradients of those sums alike. Slower than the fused kernels; only
// --sync-bn runs it.
Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, double momentum, double eps, Communicator& group) {
  const int64_t c = x.shape()[1];
  const int nd = x.ndim();
  const std::vector<int64_t> dims = nd == 4 ? std::vector<int64_t>{0, 2, 3} : std::vector<int64_t>{0};
  const Tensor x64 = to_dtype(x, DType::F64);
  const double local_count = static_cast<double>(x.numel() / std::max<int64_t>(c, 1));
  const Tensor local = cat({sum(x64, dims), sum(square(x64), dims), full({1}, local_count, DType::F64, x.device())}, 0);
  const Tensor global = all_reduce_sum(local, group);
  const double count = slice(global.detach(), 0, 2 * c, 2 * c + 1).item();
  MMP_CHECK(count > 1, "batch_norm in training needs more than one value per channel over the ranks, got ", count);
  const Tensor mean = mul_scalar(slice(global, 0, 0, c), 1.0 / count);
  const Tensor var = sub(mul_scalar(slice(global, 0, c, 2 * c), 1.0 / count), square(mean));  // biased
  const Tensor invstd = pow(add_scalar(var, eps), -0.5);
  if (running_mean.defined()) {  // as the kernels: the unbiased variance for the running estimate
    NoGradGuard no_grad;
    const DType s = running_mean.dtype();
    running_mean.copy_(add(mul_scalar(running_mean, 1 - momentum), to_dtype(mul_scalar(mean, momentum), s)));
    running_var.copy_(
        add(mul_scalar(running_var, 1 - momentum), to_dtype(mul_scalar(var, momentum * count / (count - 1)), s)));
  }
  const Tensor scale = mul(invstd, to_dtype(weight, DType::F64));
  const Tensor y = add(mul(sub(x64, per_channel(mean, nd)), per_channel(scale, nd)),
                       per_channel(to_dtype(bias, DType::F64), nd));
  return to_dtype(y, x.dtype());
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias, int64_t stride, int64_t padding) {
  const Tensor x = detail::autocast(x_in), weight = detail::autocast(weight_in);
  detail::check_same_device_and_dtype("conv2d", {x, weight});
  detail::check_floating("conv2d", x);
  MMP_CHECK(x.ndim() == 4, "conv2d: input must be [N, C, H, W], got ", x.str());
  MMP_CHECK(weight.ndim() == 4, "conv2d: weight must be [C_out, C_in, kH, kW], got ", weight.str());
  MMP_CHECK(weight.shape()[1] == x.shape()[1], "conv2d: input ", x.str(), " has ", x.shape()[1],
            " channels, the weight ", weight.str(), " expects ", weight.shape()[1]);
  MMP_CHECK(stride >= 1 && padding >= 0, "conv2d: bad stride ", stride, " or padding ", padding);
  ConvGeometry g;
  g.n = x.shape()[0];
  g.c = x.shape()[1];
  g.h = x.shape()[2];
  g.w = x.shape()[3];
  g.co = weight.shape()[0];
  g.kh = weight.shape()[2];
  g.kw = weight.shape()[3];
  g.stride = stride;
  g.pad = padding;
  g.ho = window_output_size(g.h, g.kh, stride, padding);
  g.wo = window_output_size(g.w, g.kw, stride, padding);
  g.allow_tf32 = detail::tf32_allowed(x);
  g.channels_last = detail::wants_channels_last(x);
  MMP_CHECK(g.ho > 0 && g.wo > 0, "conv2d: input ", x.str(), " is smaller than the ", g.kh, "x", g.kw,
            " kernel with padding ", padding);

  // Profiles tell the layers apart by their shapes.
  const std::string name = profiling_enabled() ? str("conv2d ", g.c, "->", g.co, " ", g.kh, "x", g.kw, " s", g.stride,
                                                     " out ", g.ho, "x", g.wo, " n", g.n)
                                               : std::string("conv2d");
  ProfileScope profile(name, x.device());
  // NHWC activations and KRSC filters under the tensor-core precisions: an NCHW input
  // (the network's first) is laid out once here, and everything after stays NHWC.
  auto allocate = [](const Shape& s, DType dt, Device d, bool cl) {
    return cl ? empty_channels_last(s, dt, d) : Tensor::empty(s, dt, d);
  };
  const Tensor xc = g.channels_last ? to_channels_last(x.detach()) : x.detach().contiguous();
  Tensor wc = weight.detach().contiguous();
  if (g.channels_last && !wc.is_channels_last()) {  // filters KRSC: a copy of the (small) weights, not of activations
    Tensor krsc = allocate(wc.shape(), wc.dtype(), wc.device(), true);
    krsc.copy_(wc);
    wc = krsc;
  }
  Tensor out = allocate({g.n, g.co, g.ho, g.wo}, x.dtype(), x.device(), g.channels_last);
  auto state = std::make_shared<ConvState>();
  // Multiply-adds of each of the three passes (forward, input gradient, weight gradient).
  const double pass_flops = 2.0 * static_cast<double>(g.n * g.co * g.ho * g.wo) * static_cast<double>(g.c * g.kh * g.kw);
  count_flops(pass_flops);
  if (out.numel() > 0) backend(x.device()).conv2d_forward(xc, wc, out, g, *state);
  if (should_record({x, weight})) {
    const Tensor keep_x = weight.requires_grad() ? xc : Tensor();
    const Tensor keep_w = x.requires_grad() ? wc : Tensor();
    if (!x.requires_grad()) state.reset();  // only the input gradient reads it
    out = record(name, {x, weight}, out, [keep_x, keep_w, g, state, allocate, pass_flops](const Tensor& gy,
                                                                                      const std::vector<bool>& needs) {
      count_flops(pass_flops * ((needs[0] ? 1 : 0) + (needs[1] ? 1 : 0)));
      const Tensor gyc = g.channels_last ? to_channels_last(gy) : gy.contiguous();
      const bool empty = gyc.numel() == 0;  // an empty batch: nothing flows back (the kernels need a sample)
      Tensor gx, gw;
      if (needs[0]) {
        gx = allocate({g.n, g.c, g.h, g.w}, gy.dtype(), gy.device(), g.channels_last);
        if (empty) {
          gx.fill_(0);
        } else {
          backend(gy.device()).conv2d_backward_input(gyc, keep_w, gx, g, *state);
        }
      }
      if (needs[1]) {
        gw = allocate({g.co, g.c, g.kh, g.kw}, gy.dtype(), gy.device(), g.channels_last);
        if (empty) {
          gw.fill_(0);
        } else {
          backend(gy.device()).conv2d_backward_weight(keep_x, gyc, gw, g);
        }
      }
      return std::vector<Tensor>{gx, gw};
    }, {keep_x, keep_w});
  }
  if (!bias.defined()) return out;
  MMP_CHECK(bias.shape() == Shape{g.co}, "conv2d: bias ", bias.str(), " for ", g.co, " output channels");
  return add(out, per_channel(detail::autocast(bias), 4));
}

namespace {

// batch_norm's inputs checked, with bf16 activations' parameters taken as f32 (as
// PyTorch's autocast normalises bf16 activations with f32 parameters and statistics).
struct BatchNormInputs {
  Tensor weight, bias;
  bool has_running = false;
};

BatchNormInputs check_batch_norm(const Tensor& x, const Tensor& weight_in, const Tensor& bias_in,
                                 const Tensor& running_mean, const Tensor& running_var) {
  const bool bf16_input = x.defined() && x.dtype() == DType::BF16;
  auto param = [&](const Tensor& p) { return bf16_input && p.defined() ? to_dtype(p, DType::F32) : p; };
  BatchNormInputs in{param(weight_in), param(bias_in)};
  detail::check_same_device_and_dtype("batch_norm", {in.weight, in.bias});
  detail::check_floating("batch_norm", x);
  const DType param_dtype = in.weight.dtype();
  MMP_CHECK(in.weight.device() == x.device() &&
                (param_dtype == x.dtype() || (x.dtype() == DType::BF16 && param_dtype == DType::F32)),
            "batch_norm: input ", x.str(), " with parameters ", in.weight.str());
  MMP_CHECK(x.ndim() == 4 || x.ndim() == 2, "batch_norm: input must be [N, C, H, W] or [N, C], got ", x.str());
  const int64_t c = x.shape()[1];
  for (const Tensor* v : {&in.weight, &in.bias})
    MMP_CHECK(v->shape() == Shape{c}, "batch_norm: parameter ", v->str(), " for ", c, " channels");
  in.has_running = running_mean.defined() && running_var.defined();
  if (in.has_running)
    for (const Tensor* v : {&running_mean, &running_var}) {
      MMP_CHECK(v->shape() == Shape{c} && v->dtype() == param_dtype && v->device() == x.device(),
                "batch_norm: running statistic ", v->str(), " for input ", x.str());
      MMP_CHECK(v->is_contiguous(), "batch_norm: running statistics must be contiguous");
    }
  return in;
}

// Training-mode batch norm by the backend's kernels, relu(bn(x) + residual) when the
// epilogue asks (residual may be undefined). The caller checked that the backend fuses
// it and that the residual is x's shape and dtype.
Tensor batch_norm_kernels(const Tensor& x, const BatchNormInputs& in, const Tensor& running_mean,
                          const Tensor& running_var, double momentum, double eps, const Tensor& residual, bool relu) {
  const int64_t c = x.shape()[1];
  const int64_t per_channel_count = x.numel() / std::max<int64_t>(c, 1);
  MMP_CHECK(per_channel_count > 1, "batch_norm in training needs more than one value per channel, got input ",
            x.str());
  // Kernels see NCHW, or NHWC when a CUDA activation is laid out so (it stays so); a
  // [N, C] input is [N, C, 1, 1]. The residual is laid out as x.
  const bool channels_last = x.device().is_cuda() && x.is_channels_last() && !x.is_contiguous() &&
                             (x.dtype() == DType::F32 || x.dtype() == DType::BF16);
  const Shape shape4 = x.ndim() == 4 ? x.shape() : Shape{x.shape()[0], c, 1, 1};
  auto as_kernel_input = [&](const Tensor& t) {
    return channels_last ? to_channels_last(t.detach()) : reshape(t.detach(), shape4).contiguous();
  };
  auto allocate = [channels_last, shape4](DType dtype, Device device) {  // kept by the backward
    return channels_last ? empty_channels_last(shape4, dtype, device) : Tensor::empty(shape4, dtype, device);
  };
  const Tensor x4 = as_kernel_input(x);
  BatchNormEpilogue epilogue;
  epilogue.relu = relu;
  if (residual.defined()) epilogue.residual = as_kernel_input(residual);
  Tensor y4 = allocate(x.dtype(), x.device());
  const DType param_dtype = in.weight.dtype();
  const Tensor save_mean = Tensor::empty({c}, param_dtype, x.device());
  const Tensor save_invstd = Tensor::empty({c}, param_dtype, x.device());
  const bool has_running = in.has_running;
  backend(x.device()).batch_norm_train(x4, in.weight.detach().contiguous(), in.bias.detach().contiguous(),
                                       has_running ? running_mean : Tensor(), has_running ? running_var : Tensor(),
                                       y4, save_mean, save_invstd, momentum, eps, epilogue);
  if (has_running) {  // written in place by the kernel: a backward that kept them must know
    running_mean.storage()->bump_version();
    running_var.storage()->bump_version();
  }
  Tensor y = x.ndim() == 4 ? y4 : reshape(y4, x.shape());
  if (!should_record({x, in.weight, in.bias, residual})) return y;
  const Tensor keep_w = saved(in.weight).contiguous();
  // The ReLU's verdicts: the forward's packed mask, else the sign of y.
  const Tensor keep_y = relu && !epilogue.relu_mask.defined() ? saved(y4) : Tensor();
  return record(
      relu ? (residual.defined() ? "batch_norm_add_relu" : "batch_norm_relu") : "batch_norm",
      {x, in.weight, in.bias, residual}, y,
      [x4, keep_w, keep_y, save_mean, save_invstd, eps, channels_last, relu, allocate, relu_mask = epilogue.relu_mask,
       xs = x.shape()](const Tensor& gy, const std::vector<bool>& needs) {
        const Tensor gy4 = channels_last ? to_channels_last(gy) : reshape(gy, x4.shape()).contiguous();
        const Tensor gx = needs[0] ? allocate(gy.dtype(), gy.device()) : Tensor();
        const Tensor gw = needs[1] ? Tensor::empty(keep_w.shape(), keep_w.dtype(), gy.device()) : Tensor();
        const Tensor gb = needs[2] ? Tensor::empty(keep_w.shape(), keep_w.dtype(), gy.device()) : Tensor();
        BatchNormEpilogue epilogue;
        epilogue.relu = relu;
        epilogue.output = keep_y;
        epilogue.relu_mask = relu_mask;
        if (needs[3]) epilogue.grad_residual = allocate(gy.dtype(), gy.device());
        backend(gy.device()).batch_norm_backward(x4, gy4, keep_w, save_mean, save_invstd, gx, gw, gb, eps, epilogue);
        auto as_input = [&](const Tensor& t) { return t.defined() ? reshape(t, xs) : Tensor(); };
        return std::vector<Tensor>{as_input(gx), gw, gb, as_input(epilogue.grad_residual)};
      },
      {x4, keep_w, keep_y});
}

// Eval-mode batch norm: y = x * scale + shift per channel, composed of differentiable ops.
Tensor batch_norm_eval(const Tensor& x, const BatchNormInputs& in, const Tensor& running_mean,
                       const Tensor& running_var, double eps) {
  MMP_CHECK(in.has_running, "batch_norm in eval mode needs running statistics");
  const Tensor scale = mul(in.weight, pow(add_scalar(running_var.detach(), eps), -0.5));
  const Tensor shift = sub(in.bias, mul(running_mean.detach(), scale));
  // bf16 activations: computed in f32 and rounded once, as PyTorch's kernel.
  const Tensor xp = to_dtype(x, in.weight.dtype());
  return to_dtype(add(mul(xp, per_channel(scale, x.ndim())), per_channel(shift, x.ndim())), x.dtype());
}

// The group of ranks whose batches a training-mode batch norm normalises over
// (--sync-bn), or null.
Communicator* synchronised_group() {
  Communicator* group = sync_batch_norm_group();
  return group != nullptr && group->size() > 1 ? group : nullptr;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  ProfileScope profile("batch_norm", x.device());
  const BatchNormInputs in = check_batch_norm(x, weight, bias, running_mean, running_var);
  if (!training) return batch_norm_eval(x, in, running_mean, running_var, eps);
  if (Communicator* group = synchronised_group())
    return sync_batch_norm(x, in.weight, in.bias, in.has_running ? running_mean : Tensor(),
                           in.has_running ? running_var : Tensor(), momentum, eps, *group);
  return batch_norm_kernels(x, in, running_mean, running_var, momentum, eps, Tensor(), false);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, const Tensor& residual, bool training, double momentum,
                       double eps) {
  {
    ProfileScope profile(residual.defined() ? "batch_norm_add_relu" : "batch_norm_relu", x.device());
    const BatchNormInputs in = check_batch_norm(x, weight, bias, running_mean, running_var);
    const bool fusable = training && synchronised_group() == nullptr &&
                         backend(x.device()).fuses_batch_norm_epilogue(x) &&
                         (!residual.defined() || (residual.shape() == x.shape() && residual.dtype() == x.dtype() &&
                                                  residual.device() == x.device()));
    if (fusable) return batch_norm_kernels(x, in, running_mean, running_var, momentum, eps, residual, true);
  }
  const Tensor normalised = batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps);
  return relu(residual.defined() ? add(normalised, residual) : normalised);
}

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  ProfileScope profile("max_pool2d", x.device());
  detail::check_floating("max_pool2d", x);
  MMP_CHECK(x.ndim() == 4, "max_pool2d: input must be [N, C, H, W], got ", x.str());
  MMP_CHECK(kernel >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernel,
            "max_pool2d: bad kernel ", kernel, ", stride ", stride, " or padding ", padding,
            " (padding at most half the kernel)");
  ConvGeometry g;
  g.n = x.shape()[0];
  g.c = g.co = x.shape()[1];
  g.h = x.shape()[2];
  g.w = x.shape()[3];
  g.kh = g.kw = kernel;
  g.stride = stride;
  g.pad = padding;
  g.ho = window_output_size(g.h, kernel, stride, padding);
  g.wo = window_output_size(g.w, kernel, stride, padding);
  MMP_CHECK(g.ho > 0 && g.wo > 0, "max_pool2d: input ", x.str(), " is smaller than the window");
  // An NHWC activation on CUDA is pooled as it lies, into NHWC (indices too).
  g.channels_last = x.device().is_cuda() && x.is_channels_last() && !x.is_contiguous();
  auto allocate = [](const Shape& s, DType dt, Device d, bool cl) {
    return cl ? empty_channels_last(s, dt, d) : Tensor::empty(s, dt, d);
  };
  const Tensor xc = g.channels_last ? x.detach() : x.detach().contiguous();
  Tensor y = allocate({g.n, g.c, g.ho, g.wo}, x.dtype(), x.device(), g.channels_last);
  const Tensor indices = allocate({g.n, g.c, g.ho, g.wo}, DType::I32, x.device(), g.channels_last);
  if (y.numel() > 0) backend(x.device()).max_pool2d_forward(xc, y, indices, g);
  if (!should_record({x})) return y;
  return record("max_pool2d", {x}, y, [indices, g, allocate](const Tensor& gy, const std::vector<bool>&) {
    Tensor gx = allocate({g.n, g.c, g.h, g.w}, gy.dtype(), gy.device(), g.channels_last);
    backend(gy.device()).max_pool2d_backward(g.channels_last ? to_channels_last(gy) : gy.contiguous(), indices, gx, g);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace mmp
