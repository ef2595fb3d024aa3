#include "data/media_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "engine/error.h"

namespace mmp {

std::string media_plugin_path() {
  if (const char* path = std::getenv("MMP_MEDIA_LIBRARY"); path && *path) return path;
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return ((error ? std::filesystem::path(".") : self.parent_path()) / "libmmp-media.so").string();
}

const MmpMediaPlugin& media_plugin(const std::string& what) {
  static std::once_flag once;
  static const MmpMediaPlugin* plugin = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    const std::string path = media_plugin_path();
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept open for the process
    if (handle == nullptr) {
      const char* reason = dlerror();
      failure = str("cannot load ", path, " (", reason ? reason : "unknown reason",
                    "). mmp reads and writes audio and video with FFmpeg through that plugin, loaded only by the "
                    "commands that decode media (prepare, synth, features, bench data --root); install FFmpeg's "
                    "libraries (Debian: libavformat59 libavcodec59 libswresample4 libswscale6) and keep "
                    "libmmp-media.so beside mmp or name it in MMP_MEDIA_LIBRARY, or prepare the cache on a machine "
                    "that has them: training from a cache needs neither");
      return;
    }
    const auto entry = reinterpret_cast<MmpMediaPluginEntry>(dlsym(handle, MMP_MEDIA_PLUGIN_ENTRY));
    const MmpMediaPlugin* table = entry ? entry() : nullptr;
    if (table == nullptr) {
      failure = str(path, " is not mmp's media plugin (no ", MMP_MEDIA_PLUGIN_ENTRY, ")");
    } else if (table->abi != MMP_MEDIA_PLUGIN_ABI) {
      failure = str(path, " is a media plugin of another mmp (interface ", table->abi, ", this mmp needs ",
                    MMP_MEDIA_PLUGIN_ABI, "): use the one built with it");
    } else {
      plugin = table;
    }
  });
  MMP_CHECK(plugin != nullptr, what, ": ", failure);
  return *plugin;
}

}  // namespace mmp
