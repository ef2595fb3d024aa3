#pragma once
// The `timed` CudaBatchNorm policy (engine/precision.h): which engine runs a pass of
// fused batch norm + ReLU on a shape where both the own kernels and cuDNN's graph run it.
// The pass's first call on the shape runs both engines on that call's buffers (a warm-up
// each, then three calls timed on the compute stream), and the pass and shape keep the
// faster from then on, as cudnn.benchmark keeps a convolution's fastest algorithm. The two
// engines round alike but for the order of their sums, so a choice that differs between
// runs changes results by rounding only.
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/tensor.h"

namespace mmp::cuda {

enum class BatchNormEngine : uint8_t { own, cudnn_graph };
enum class BatchNormPass : uint8_t { forward, backward };

const char* batch_norm_engine_name(BatchNormEngine e);  // "own" or "cudnn-graph"

struct BatchNormChoice {
  int device = 0;
  BatchNormPass pass = BatchNormPass::forward;
  DType dtype = DType::F32;
  Shape shape;
  bool residual = false;  // with the residual's add (forward) or its gradient (backward)
  BatchNormEngine engine = BatchNormEngine::own;
  float own_ms = 0, graph_ms = 0;  // one call of each, the mean of the timed calls
};

// The engine for this pass on x's shape: the choice made before, or, at the first call,
// the faster of the two timed through `run` (which queues one call of the engine it is
// given; the caller then runs the chosen one for the result). `graph_supported` says
// whether cuDNN runs the pass on the shape (building its plans): where it does not, the
// own kernels run, nothing recorded. While the compute stream is captured into a CUDA
// graph nothing is timed or built (either would wait for the device): a shape without a
// choice takes the own kernels then, and is timed at its next eager call.
BatchNormEngine choose_batch_norm_engine(int device, BatchNormPass pass, const Tensor& x, bool residual,
                                         const std::function<bool()>& graph_supported,
                                         const std::function<void(BatchNormEngine)>& run);

// Every choice made so far, in the order they were made.
std::vector<BatchNormChoice> batch_norm_choices();

}  // namespace mmp::cuda
