#include "engine/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/error.h"

namespace mmp {

void write_file_atomically(const std::string& path, const std::function<bool(std::FILE*)>& write) {
  // The process id keeps two writers of one path (two runs) off each other's temporary.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  MMP_CHECK(f != nullptr, path, ": cannot write (", std::strerror(errno), ")");
  bool ok = write(f);
  ok = ok && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    MMP_THROW(path, ": write failed (", std::strerror(err), "); the previous file, if any, is untouched");
  }
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  write_file_atomically(path, [&](std::FILE* f) {
    return bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  });
}

void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  MMP_CHECK(fd >= 0, path, ": cannot open to flush (", std::strerror(errno), ")");
  const bool ok = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  MMP_CHECK(ok, path, ": flushing to disk failed (", std::strerror(err), ")");
}

}  // namespace mmp
