#include "mmpareto/graph_schedule.h"

namespace mmp {

GraphSchedule::Action GraphSchedule::next(const StepSignature& step) {
  if (has_graph_) return step == graph_ ? Action::replay : Action::eager;
  const int64_t size = step.batch_size();
  const bool seen = eager_sizes_.count(size) == 1;
  eager_sizes_.insert(size);
  return seen && size == *eager_sizes_.rbegin() ? Action::capture : Action::eager;
}

void GraphSchedule::captured(const StepSignature& step) {
  has_graph_ = true;
  graph_ = step;
}

}  // namespace mmp
