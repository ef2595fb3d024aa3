#pragma once
// Where a tensor lives: the CPU or one CUDA device.
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
  bool operator==(const Device&) const = default;
  std::string str() const;  // "cpu", "cuda:0"
};

// Parses "cpu", "cuda" or "cuda:N"; throws mmp::Error on anything else.
Device parse_device(const std::string& text);

// True when this build has the CUDA backend and the process sees a device.
bool cuda_available();
int cuda_device_count();
bool cuda_compiled();

}  // namespace mmp
