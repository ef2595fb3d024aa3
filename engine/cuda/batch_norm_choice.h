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
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mmp::cuda {

enum class BatchNormEngine : uint8_t { own, cudnn_graph };
enum class BatchNormPass : uint8_t { forward, backward };

const char* batch_norm_engine_name(BatchNormEngine e);  // "own" or "cudnn-graph"

// What a pass's choice is made for: the shape and what else selects a cuDNN graph.
struct BatchNormCall {
  BatchNormPass pass = BatchNormPass::forward;
  bool residual = false;  // with the residual's add (forward) or its gradient (backward)
  bool running = false;   // forward: updates running statistics, with these:
  double momentum = 0, eps = 0;
};

struct BatchNormChoice {
  int device = 0;
  BatchNormCall call;
  DType dtype = DType::F32;
  Shape shape;
  BatchNormEngine engine = BatchNormEngine::own;
  // One call of each, the mean of the timed calls, host launch gaps included (as an eager
  // step sees them); graph_ms is infinite when cuDNN's run failed, with its error.
  float own_ms = 0, graph_ms = 0;
  std::string graph_error;
};

// The engine for this pass on x's shape: the choice made before, or, at the first call,
// the faster of the two timed through `run` (which queues one call of the engine it is
// given; the caller then runs the chosen one for the result). `graph_supported` says
// whether cuDNN runs the pass on the shape (building its plans): where it does not, the
// own kernels run, nothing recorded. While the compute stream is captured into a CUDA
// graph nothing is timed or built (either would wait for the device): a shape without a
// choice takes the own kernels then, and is timed at its next eager call.
// A failure of cuDNN's run while timing is recorded, and the own kernels take the shape.
BatchNormEngine choose_batch_norm_engine(int device, const BatchNormCall& call, const Tensor& x,
                                         const std::function<bool()>& graph_supported,
                                         const std::function<void(BatchNormEngine)>& run);

// Every choice made so far, in the order they were made.
std::vector<BatchNormChoice> batch_norm_choices();

}  // namespace mmp::cuda
