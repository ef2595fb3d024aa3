#pragma once
// Where a tensor lives: the CPU or one CUDA device.
#include <compare>
#include <cstdint>
#include <string>

namespace mmp {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  auto operator<=>(const Device&) const = default;  // also ==; ordered, so usable as a map key
  std::string str() const;  // "cpu", "cuda:0"
};

// Parses "cpu", "cuda" or "cuda:N"; throws mmp::Error on anything else.
Device parse_device(const std::string& text);

// True when this build has the CUDA backend and the process sees a device.
bool cuda_available();
int cuda_device_count();
bool cuda_compiled();

// Device memory held by tensors (allocated) and by the process in all (reserved:
// allocated plus the caching allocator's free blocks), now and at the peak since the
// last reset_peak_memory. Zeros on the CPU.
struct DeviceMemory {
  size_t allocated = 0, reserved = 0, peak_allocated = 0, peak_reserved = 0;
};
DeviceMemory device_memory(Device device);
// The device's name ("NVIDIA H200", "cpu").
std::string device_name(Device device);
void reset_peak_memory(Device device);

// Hands back the CUDA devices' cached memory, page-locked buffers and library handles
// and resets them, so that a leak check at exit sees only real leaks. main() calls it
// last; nothing may use a CUDA device after it. A no-op without CUDA.
void release_device_resources();

}  // namespace mmp
