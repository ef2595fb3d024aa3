#pragma once
// Three queues of work per device: `compute`, where every op runs, `copy`, where
// host-to-device uploads run beside it (the next batch while a step computes), and
// `communication`, where all-reduces between ranks run beside it (one objective's
// gradients while the next backward sweep computes); events order them without the
// host waiting. On the CPU work is done when it is issued:
// a copy happens at once and events are complete from the start, so code written
// against this runs unchanged (and is tested) there.
#include "engine/tensor.h"

namespace mmp {

enum class Queue { compute = 0, copy = 1, communication = 2 };

class QueueEvent {
 public:
  explicit QueueEvent(Device device);
  ~QueueEvent();
  QueueEvent(const QueueEvent&) = delete;
  QueueEvent& operator=(const QueueEvent&) = delete;

  // Marks the work queued on `queue` so far.
  void record(Queue queue);
  // Work queued on `queue` after this call starts after the marked work; the host goes on.
  void wait_on(Queue queue) const;
  // The host waits for the marked work.
  void synchronize() const;

 private:
  Device device_;
  void* event_ = nullptr;  // cudaEvent_t on CUDA devices
};

// dst = src on `queue`: src a contiguous host tensor (page-locked, or the copy is not
// asynchronous), dst a contiguous tensor of the same dtype and size on a device. The
// caller keeps src alive and unchanged until an event recorded after it has passed.
void copy_to_device_async(const Tensor& src, const Tensor& dst, Queue queue);

}  // namespace mmp
