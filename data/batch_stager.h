#pragma once
// Batches moved to the training device ahead of the step that uses them. A ring of two
// device slots: upload() copies a host batch (built in page-locked memory) into the next
// slot on the device's copy queue, after the compute queue is done with the batch the
// slot held before; take() makes the compute queue wait for that copy and marks the
// previous batch done with. The host waits for neither: the copy of batch k+1 runs
// while step k computes. On the CPU a slot is plain memory and a copy a memcpy, so the
// same code runs, and is tested, there (the loader itself hands CPU batches over as
// they are).
//
// Protocol (the DataLoader keeps it): upload(k) only after take(k-1); batches are
// taken in the order they were uploaded; a taken batch is valid until the next take()
// or reset(). Upload and take may be called from two threads.
#include <array>
#include <memory>
#include <mutex>

#include "data/batch.h"
#include "engine/device_queue.h"

namespace mmp {

class BatchStager {
 public:
  explicit BatchStager(Device device);
  ~BatchStager();  // waits for the copies in flight
  BatchStager(const BatchStager&) = delete;
  BatchStager& operator=(const BatchStager&) = delete;

  Device device() const { return device_; }
  // Queues the copy of `host` into the next slot; returns the slot's index for take().
  int upload(Batch host);
  // The batch of `slot` on the device, ready for work queued on the compute queue.
  Batch take(int slot);
  // Forgets the batches uploaded and not taken (an epoch abandoned): waits for the
  // copies in flight, and the next upload goes to slot 0.
  void reset();

 private:
  struct Slot {
    Batch device;      // full-size buffers; a smaller batch is a view of their front
    Batch host;        // kept until its copy has finished
    Batch staged;      // what take() hands over: `device` cut to the batch size
    std::unique_ptr<QueueEvent> uploaded, released;
  };

  Device device_;
  std::mutex mutex_;
  std::array<Slot, 2> slots_;
  int next_slot_ = 0;
  int taken_slot_ = -1;  // the slot of the batch in use on the compute queue
};

}  // namespace mmp
