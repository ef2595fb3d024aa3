#pragma once
// A device's work recorded once and replayed with one launch (a CUDA graph), so that a
// training step of hundreds of kernels costs the host one call.
//
// capture() runs `work` on the host with the device's compute queue recording instead of
// executing: nothing is computed until replay(). The memory `work` allocates comes from a
// private pool of the caching allocator (engine/caching_allocator.h), so the addresses the
// graph reads and writes stay its own while it lives; tensors `work` leaves alive keep
// their addresses, and each replay rewrites them (static outputs, as in PyTorch's CUDA
// graphs). The work must be the same on every replay: it may not wait for the device
// (item(), a copy to the host), upload host memory, or take decisions from device values.
// A capture that breaks these rules fails with an error and leaves nothing behind.
#include <functional>
#include <memory>

#include "engine/device.h"

namespace mmp {

class DeviceGraph {
 public:
  // Whether this build can capture graphs on `device` (CUDA devices of a CUDA build).
  static bool supported(Device device);

  explicit DeviceGraph(Device device);
  ~DeviceGraph();
  DeviceGraph(const DeviceGraph&) = delete;
  DeviceGraph& operator=(const DeviceGraph&) = delete;

  void capture(const std::function<void()>& work);
  bool captured() const;
  void replay();
  Device device() const { return device_; }

 private:
  struct Recording;
  Device device_;
  std::unique_ptr<Recording> recording_;
};

}  // namespace mmp
