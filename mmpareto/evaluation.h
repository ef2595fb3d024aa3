#pragma once
// Evaluation of the three heads: accuracy and macro-F1 (as sklearn's f1_score with
// average="macro" over the classes that occur in the labels or the predictions), each
// class's recall and the confusion matrix.
#include <cstdint>
#include <vector>

#include "data/dataset.h"
#include "layers/av_classifier.h"

namespace mmp {

struct HeadScores {
  double accuracy = 0;
  double macro_f1 = 0;
  // confusion[label][prediction]: how many samples of class `label` the head called
  // `prediction`; recall[c] = confusion[c][c] / samples of class c (NaN for a class
  // without samples).
  std::vector<std::vector<int64_t>> confusion;
  std::vector<double> recall;
};

HeadScores score_predictions(const std::vector<int64_t>& labels, const std::vector<int64_t>& predictions,
                             int64_t classes);

struct Evaluation {
  HeadScores multimodal, audio, visual;
  double loss_mm = 0;  // mean cross-entropy of the multimodal head
  int64_t samples = 0;
};

// Runs the model in eval mode without gradients over the whole dataset, then restores
// its training mode; `progress` shows how far it is on stderr (engine/progress.h).
Evaluation evaluate(AVClassifier& model, const Dataset& data, int64_t batch_size, Device device,
                    int loader_workers = -1, bool progress = false);

}  // namespace mmp
