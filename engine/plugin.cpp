#include "engine/plugin.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>

namespace mmp {

std::string plugin_path(const std::string& file_name, const char* override_variable) {
  if (const char* path = std::getenv(override_variable); path && *path) return path;
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return ((error ? std::filesystem::path(".") : self.parent_path()) / file_name).string();
}

const void* open_plugin(const std::string& path, const char* entry_point, std::string& error) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept open for the process
  if (handle == nullptr) {
    const char* reason = dlerror();
    error = reason ? reason : "unknown reason";
    return nullptr;
  }
  using Entry = const void* (*)();
  const auto entry = reinterpret_cast<Entry>(dlsym(handle, entry_point));
  if (entry == nullptr) {
    error = path + " is not the expected plugin (no " + entry_point + ")";
    return nullptr;
  }
  return entry();
}

}  // namespace mmp
