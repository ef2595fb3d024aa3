#include "engine/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

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

void remove_interrupted_writes(const std::string& dir) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || !entry.is_regular_file(error)) continue;
    const std::string pid = name.substr(at + 5);
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    // A writer still running keeps its file.
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) == 0 || errno != ESRCH) continue;
    std::filesystem::remove(entry.path(), error);
  }
}

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  const std::string described = what.empty() ? "" : " " + what;
  MMP_CHECK(in.good(), path, ": cannot read", described, " (", std::strerror(errno), ")");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  MMP_CHECK(!in.bad(), path, ": cannot read", described, " (", std::strerror(errno), ")");
  return bytes;
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
