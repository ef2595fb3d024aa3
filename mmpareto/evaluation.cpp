#include "mmpareto/evaluation.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/progress.h"

namespace mmp {

HeadScores score_predictions(const std::vector<int64_t>& labels, const std::vector<int64_t>& predictions,
                             int64_t classes) {
  MMP_CHECK(labels.size() == predictions.size(), "scores: ", labels.size(), " labels, ", predictions.size(),
            " predictions");
  HeadScores s;
  s.confusion.assign(static_cast<size_t>(classes), std::vector<int64_t>(static_cast<size_t>(classes), 0));
  s.recall.assign(static_cast<size_t>(classes), std::numeric_limits<double>::quiet_NaN());
  if (labels.empty()) return s;
  std::vector<int64_t> tp(classes, 0), fp(classes, 0), fn(classes, 0);
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    MMP_CHECK(labels[i] >= 0 && labels[i] < classes && predictions[i] >= 0 && predictions[i] < classes, "scores: label ",
              labels[i], " or prediction ", predictions[i], " outside the ", classes, " classes");
    ++s.confusion[labels[i]][predictions[i]];
    if (labels[i] == predictions[i]) {
      ++correct;
      ++tp[labels[i]];
    } else {
      ++fn[labels[i]];
      ++fp[predictions[i]];
    }
  }
  s.accuracy = static_cast<double>(correct) / static_cast<double>(labels.size());
  double f1_total = 0;
  int64_t present = 0;
  for (int64_t c = 0; c < classes; ++c) {
    if (tp[c] + fn[c] > 0) s.recall[c] = static_cast<double>(tp[c]) / static_cast<double>(tp[c] + fn[c]);
    if (tp[c] + fp[c] + fn[c] == 0) continue;  // neither a label nor a prediction
    ++present;
    f1_total += 2.0 * tp[c] / static_cast<double>(2 * tp[c] + fp[c] + fn[c]);
  }
  s.macro_f1 = present ? f1_total / static_cast<double>(present) : 0.0;
  return s;
}

Evaluation evaluate(AVClassifier& model, const Dataset& data, int64_t batch_size, Device device, int loader_workers,
                    bool progress) {
  MMP_CHECK(data.classes() == model.config().classes, "evaluate: ", data.name(), " has ", data.classes(),
            " classes, the model ", model.config().classes);
  // Back to the caller's mode however this returns.
  struct ModeRestorer {
    AVClassifier& model;
    bool training;
    ~ModeRestorer() { model.train(training); }
  } restore{model, model.is_training()};
  model.eval();
  NoGradGuard no_grad;
  std::vector<int64_t> labels, pred_mm, pred_a, pred_v;
  double loss_total = 0;
  LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.shuffle = false;
  lo.workers = loader_workers;
  lo.device = device;
  DataLoader loader(data, lo);
  loader.start_epoch(0);
  // Inputs in the model's dtype (f64 in the exact mode).
  const NamedTensors params = model.named_parameters();
  const DType dtype = params.empty() ? DType::F32 : params.front().second.dtype();
  ProgressDisplay display(progress);
  const auto start = std::chrono::steady_clock::now();
  const auto status = [&] {
    const auto done = static_cast<int64_t>(labels.size());
    return "eval " + progress_bar(data.size() ? static_cast<double>(done) / static_cast<double>(data.size()) : 1.0) +
           " " + progress_counts(done, data.size(), "samples", start);
  };
  for (Batch batch; loader.next(batch);) {
    if (display.due()) display.show(status());
    if (batch.audio.dtype() != dtype) batch = Batch{batch.audio.to(dtype), batch.visual.to(dtype), batch.label};
    const AVOutputs out = model.forward(batch.audio, batch.visual);
    loss_total += cross_entropy(out.out, batch.label).item() * static_cast<double>(batch.size());
    auto append = [](std::vector<int64_t>& dst, const Tensor& logits) {
      const auto p = argmax(logits, 1).to_vector<int64_t>();
      dst.insert(dst.end(), p.begin(), p.end());
    };
    append(pred_mm, out.out);
    append(pred_a, out.out_audio);
    append(pred_v, out.out_visual);
    const auto y = batch.label.to_vector<int64_t>();
    labels.insert(labels.end(), y.begin(), y.end());
  }
  if (progress) display.finish(status());
  Evaluation e;
  e.samples = static_cast<int64_t>(labels.size());
  e.multimodal = score_predictions(labels, pred_mm, data.classes());
  e.audio = score_predictions(labels, pred_a, data.classes());
  e.visual = score_predictions(labels, pred_v, data.classes());
  e.loss_mm = e.samples ? loss_total / static_cast<double>(e.samples) : 0.0;
  return e;
}

}  // namespace mmp
