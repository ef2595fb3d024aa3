#include "data/batch_stager.h"

#include "engine/ops.h"

namespace mmp {
namespace {

// The first `b` samples of a batch-major tensor (a contiguous view).
Tensor front(const Tensor& t, int64_t b) {
  Shape shape = t.shape();
  shape[0] = b;
  return t.as_strided(shape, t.strides(), t.offset());
}

bool fits(const Batch& slot, const Batch& host) {
  if (!slot.label.defined() || slot.size() < host.size()) return false;
  auto same_sample = [](const Tensor& a, const Tensor& b) {
    return a.dtype() == b.dtype() && Shape(a.shape().begin() + 1, a.shape().end()) ==
                                         Shape(b.shape().begin() + 1, b.shape().end());
  };
  return same_sample(slot.audio, host.audio) && same_sample(slot.visual, host.visual) &&
         same_sample(slot.label, host.label);
}

}  // namespace

BatchStager::BatchStager(Device device) : device_(device) {
  for (Slot& s : slots_) {
    s.uploaded = std::make_unique<QueueEvent>(device);
    s.released = std::make_unique<QueueEvent>(device);
  }
}

BatchStager::~BatchStager() {
  // The slots' memory goes back to the caching allocator, which expects no pending
  // work but the compute queue's; the host batches go back to the page-locked pool.
  // Never throws: this may run while an error (a failed kernel) unwinds the trainer.
  for (Slot& s : slots_) {
    try {
      s.uploaded->synchronize();
    } catch (const Error&) {
    }
  }
}

int BatchStager::upload(Batch host) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int index = next_slot_;
  MMP_CHECK(index != taken_slot_, "batch stager: upload into the slot in use (take the previous batch first)");
  Slot& s = slots_[index];
  // The copy that filled the slot last has finished before its host memory is reused.
  s.uploaded->synchronize();
  s.host = std::move(host);
  if (!fits(s.device, s.host)) {
    auto allocate = [&](const Tensor& like) { return Tensor::empty(like.shape(), like.dtype(), device_); };
    s.device = Batch{allocate(s.host.audio), allocate(s.host.visual), allocate(s.host.label)};
    // The caching allocator may hand out memory that work queued on the compute queue
    // still reads: the copy queue starts after that work.
    QueueEvent fresh(device_);
    fresh.record(Queue::compute);
    fresh.wait_on(Queue::copy);
  }
  // The compute queue has finished with the batch the slot held before.
  s.released->wait_on(Queue::copy);
  const int64_t b = s.host.size();
  s.staged = Batch{front(s.device.audio, b), front(s.device.visual, b), front(s.device.label, b)};
  try {
    copy_to_device_async(s.host.audio, s.staged.audio, Queue::copy);
    copy_to_device_async(s.host.visual, s.staged.visual, Queue::copy);
    copy_to_device_async(s.host.label, s.staged.label, Queue::copy);
    s.uploaded->record(Queue::copy);
  } catch (const Error&) {
    // Copies queued before the failure must not outlive the memory they use.
    try {
      s.uploaded->record(Queue::copy);
      s.uploaded->synchronize();
    } catch (const Error&) {
    }
    throw;
  }
  // A graph that kept the batch this slot held before fails on backward, as after any
  // in-place write, instead of reading the new samples.
  for (const Tensor* t : {&s.device.audio, &s.device.visual, &s.device.label}) t->storage()->bump_version();
  next_slot_ = 1 - index;
  return index;
}

Batch BatchStager::take(int slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  MMP_CHECK(slot == 0 || slot == 1, "batch stager: no slot ", slot);
  Slot& s = slots_[slot];
  s.uploaded->wait_on(Queue::compute);
  // Work queued from now on does not read the batch taken before: its slot may be refilled.
  if (taken_slot_ >= 0) slots_[taken_slot_].released->record(Queue::compute);
  taken_slot_ = slot;
  return s.staged;
}

void BatchStager::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Slot& s : slots_) {
    s.uploaded->synchronize();
    s.released->record(Queue::compute);
  }
  next_slot_ = 0;
  taken_slot_ = -1;
}

}  // namespace mmp
