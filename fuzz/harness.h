#pragma once
// What every harness holds a reader to: given any bytes it returns, or refuses them with
// mmp::Error (a file-system error, for the readers that walk folders). Anything else is a
// finding for libFuzzer: another exception (it aborts), a crash, a sanitizer report, an
// input that takes longer than -timeout, or an allocation over -malloc_limit_mb.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "engine/error.h"

namespace mmp::fuzz {

template <class Body>
void read_or_refuse(Body&& body) {
  try {
    body();
  } catch (const mmp::Error&) {
  } catch (const std::filesystem::filesystem_error&) {
  }
}

// A folder of this process's own for the readers that take files (in memory, /dev/shm,
// where there is one).
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::filesystem::path d = base / ("mmp-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline void write_bytes(const std::filesystem::path& path, const void* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

}  // namespace mmp::fuzz
